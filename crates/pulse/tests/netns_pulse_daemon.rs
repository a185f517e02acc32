//! pulse as a service: daemon mode with the pid file (`Type=forking`),
//! systemd readiness (`Type=notify`), and the backup that refuses to run.

mod lab;

use std::os::unix::net::UnixDatagram;
use std::process::Stdio;
use std::time::Duration;

use lab::{Cf, Lab, PULSE, RECORDER, wait_for};

const S: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn daemon_mode_writes_and_removes_the_pid_file() {
    if !lvs_tests::require(
        lvs_tests::Need::Netns,
        "daemon_mode_writes_and_removes_the_pid_file",
    ) {
        return;
    }
    let lab = Lab::new("11", false);
    let cf = Cf::standalone();
    std::fs::write(lab.r1.cf_path(), cf.text()).unwrap();
    let pid_file = lab.r1.dir.join("pulse.pid");
    let status = lab
        .r1
        .ns
        .command(PULSE)
        .arg("-c")
        .arg(lab.r1.cf_path())
        .arg(format!("--lvs={RECORDER}"))
        .env("PULSE_PID_FILE", &pid_file)
        .env("LP_RECORD", lab.r1.record_path())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0), "the foreground process exits 0");
    assert!(wait_for(S(2), || pid_file.exists()));
    let text = std::fs::read_to_string(&pid_file).unwrap();
    assert!(text.ends_with('\n'), "{text:?}");
    let pid: i32 = text.trim().parse().unwrap();
    // SAFETY: probing our own daemon with signal 0.
    assert_eq!(unsafe { libc::kill(pid, 0) }, 0, "daemon {pid} alive");
    // It runs: a stand-alone primary activates after deadtime; lvsd gets --nofork.
    assert!(wait_for(S(4), || lab.r1.has_vip()), "{}", lab.dump());
    assert!(
        wait_for(S(3), || lab.r1.count_records("start ") >= 1),
        "{}",
        lab.dump()
    );
    assert_eq!(lab.r1.count_records("start "), 1, "{}", lab.dump());
    let start = lab
        .r1
        .records()
        .into_iter()
        .find(|l| l.starts_with("start "))
        .unwrap();
    assert!(start.contains(" --nofork -c "), "{start}");
    // SAFETY: terminating our own daemon.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    assert!(
        wait_for(S(5), || !pid_file.exists()),
        "pid file removed on exit"
    );
    assert!(!lab.r1.has_vip(), "{}", lab.dump());
    assert!(
        lab.r1
            .records()
            .contains(&format!("stop {}", lab.r1.lvsd_pid(0)))
    );
}

#[test]
fn type_notify_reports_ready_reloading_and_stopping() {
    if !lvs_tests::require(
        lvs_tests::Need::Netns,
        "type_notify_reports_ready_reloading_and_stopping",
    ) {
        return;
    }
    let mut lab = Lab::new("12", false);
    let sock_path = lab.r1.dir.join("notify");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(S(5))).unwrap();
    let next = || {
        let mut buf = [0u8; 256];
        let n = sock.recv(&mut buf).expect("notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let cf = Cf::standalone();
    let pid_file = lab.r1.dir.join("pulse.pid");
    // No -n: under Type=notify pulse does not fork, and logs to syslog.
    std::fs::write(lab.r1.cf_path(), cf.text()).unwrap();
    let mut child = lab
        .r1
        .ns
        .command(PULSE)
        .arg("-c")
        .arg(lab.r1.cf_path())
        .arg(format!("--lvsd={RECORDER}"))
        .env("NOTIFY_SOCKET", &sock_path)
        .env("PULSE_PID_FILE", &pid_file)
        .env("LP_RECORD", lab.r1.record_path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    assert_eq!(next(), format!("READY=1\nMAINPID={pid}"));
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap(),
        format!("{pid}\n")
    );
    assert!(
        wait_for(S(4), || lab.r1.count_records("start ") == 1),
        "{}",
        lab.dump()
    );
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGHUP) };
    assert!(next().starts_with("RELOADING=1\nMONOTONIC_USEC="));
    assert_eq!(next(), format!("READY=1\nMAINPID={pid}"));
    assert!(wait_for(S(2), || lab.r1.count_records("hup ") == 1));
    // SAFETY: as above.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    assert_eq!(next(), "STOPPING=1");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(!pid_file.exists());
    lab.r1.pulse = None;
}

#[test]
fn backup_marked_inactive_exits_255() {
    if !lvs_tests::require(lvs_tests::Need::Netns, "backup_marked_inactive_exits_255") {
        return;
    }
    let mut lab = Lab::new("13", false);
    let cf = Cf {
        backup_active: false,
        ..Cf::default()
    };
    lab.r2.start(&cf, &[]);
    let mut child = lab.r2.pulse.take().unwrap();
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(255), "{}", lab.dump());
    assert_eq!(
        lab.r2.log_lines(),
        vec!["pulse: We are backup node and backup is marked inactive -- exiting pulse"]
    );
    assert!(lab.r2.records().is_empty());
}

/// A restart right after a pulse exited may find the old socket still
/// bound for some milliseconds (its last hook holds a copy until its exec
/// has closed it): pulse waits for the address instead of failing.
#[test]
fn a_heartbeat_address_freed_soon_after_start_is_waited_for() {
    if !lvs_tests::require(
        lvs_tests::Need::Netns,
        "a_heartbeat_address_freed_soon_after_start_is_waited_for",
    ) {
        return;
    }
    let mut lab = Lab::new("20", false);
    let busy = lab
        .r1
        .ns
        .enter(|| std::net::UdpSocket::bind("192.0.2.1:539").unwrap());
    lab.r1.start(&Cf::default(), &[]);
    std::thread::sleep(Duration::from_millis(300));
    drop(busy);
    assert!(
        lab.r1
            .wait_logged("STARTING PULSE AS MASTER", Duration::from_secs(5)),
        "{}",
        lab.dump()
    );
    assert!(!lab.r1.log().contains("failed to bind"), "{}", lab.dump());
    assert_eq!(lab.r1.stop(), Some(0), "{}", lab.dump());
}

#[test]
fn bind_failure_is_fatal() {
    if !lvs_tests::require(lvs_tests::Need::Netns, "bind_failure_is_fatal") {
        return;
    }
    let mut lab = Lab::new("14", false);
    let _busy = lab
        .r1
        .ns
        .enter(|| std::net::UdpSocket::bind("192.0.2.1:539").unwrap());
    lab.r1.start(&Cf::default(), &[]);
    let mut child = lab.r1.pulse.take().unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(1));
    assert_eq!(
        lab.r1.log_lines(),
        vec![
            "pulse: failed to bind to heartbeat address: Address already in use",
            "pulse: cannot create heartbeat socket. running as root?"
        ]
    );
}
