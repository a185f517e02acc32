//! APPLY in `piranha_gui` against a real pulse: pulse runs in a network
//! namespace (`eth0`, a veth to a peer namespace, with the primary's address, no backup) with
//! `pulse-test-lvsd` as its lvsd, which records the signals it gets. The
//! gui edits the lvs.cf that pulse reads, in headless Chromium, logged in
//! through the login form; APPLY runs `systemctl reload pulse.service`,
//! here a stand-in `systemctl` first on `PATH` that records its arguments
//! and sends SIGHUP to that pulse, as systemd's `ExecReload` does. pulse
//! forwards the SIGHUP to lvsd: the recorder's `hup PID` shows the reload.
//! Needs root (the netns tier).

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lvs_tests::browser::Browser;
use lvs_tests::netns::{Netns, veth, wait_for};

const PASSWORD: &str = "apply secret";

/// A standalone primary (no active backup), pulse's lab settings.
fn lvs_cf(recorder: &str) -> String {
    format!(
        r#"serial_no = 1
primary = 192.0.2.1
service = lvs
backup_active = 0
backup = 192.0.2.2
heartbeat = 1
heartbeat_port = 539
keepalive = 1
deadtime = 1
network = direct
active_cmd = "{recorder} hook active"
inactive_cmd = "{recorder} hook inactive"

virtual web {{
    active = 1
    address = 192.0.2.100 eth0:1
    port = 80
    server rs1 {{
        address = 192.0.2.50
        active = 1
        weight = 1
    }}
}}
"#
    )
}

/// A child process stopped (and reaped) on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = lvs_tests::child::terminate(&mut self.0, Duration::from_secs(10));
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// `piranha_gui --nodaemon` on a free loopback port (this namespace) with
/// the files in `dir` and `PATH` set to `path`; returns it and its URL.
fn start_gui(dir: &Path, path: &str) -> (Running, String) {
    let port = free_port();
    let log = std::fs::File::create(dir.join("piranha_gui.log")).unwrap();
    let child = Command::new(lvs_tests::bin("piranha_gui"))
        .args(["--nodaemon", "--listen", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .arg("-c")
        .arg(dir.join("lvs.cf"))
        .arg("--passwd-file")
        .arg(dir.join("piranha.passwd"))
        .arg("--htaccess")
        .arg(dir.join(".htaccess"))
        .arg("--pulse-socket")
        .arg(dir.join("pulse.sock"))
        .arg("--lvsd-socket")
        .arg(dir.join("lvsd.sock"))
        .arg("--procfs")
        .arg(dir.join("proc"))
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start piranha_gui");
    let gui = Running(child);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    assert!(
        wait_for(Duration::from_secs(10), || {
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        }),
        "piranha_gui not listening: {}",
        std::fs::read_to_string(dir.join("piranha_gui.log")).unwrap_or_default()
    );
    (gui, format!("http://127.0.0.1:{port}"))
}

#[test]
fn netns_gui_apply_reloads_pulse() {
    let t0 = Instant::now();
    if !lvs_tests::require(lvs_tests::Need::Netns, "netns_gui_apply_reloads_pulse") {
        return;
    }
    let Some(b) = Browser::start("netns_gui_apply") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let d = dir.path();
    let recorder = lvs_tests::bin("pulse-test-lvsd");
    let cf = d.join("lvs.cf");
    std::fs::write(&cf, lvs_cf(&recorder.display().to_string())).unwrap();
    let out = Command::new(lvs_tests::bin("piranha-passwd"))
        .arg("--file")
        .arg(d.join("piranha.passwd"))
        .arg(PASSWORD)
        .output()
        .expect("run piranha-passwd");
    assert!(out.status.success(), "{out:?}");

    // the router: a namespace with eth0 = 192.0.2.1, and pulse in it
    let ns = Netns::new("lgapr1");
    let peer = Netns::new("lgappeer");
    veth(&ns, "eth0", &peer, "eth0");
    ns.ip(&["addr", "add", "192.0.2.1/24", "dev", "eth0"]);
    let record = d.join("record");
    let pulse_log = d.join("pulse.log");
    let log = std::fs::File::create(&pulse_log).unwrap();
    let pulse = Running(
        ns.command(lvs_tests::bin("pulse"))
            .arg("-n")
            .arg("-c")
            .arg(&cf)
            .arg(format!("--lvsd={}", recorder.display()))
            .arg(format!(
                "--status-socket={}",
                d.join("pulse.sock").display()
            ))
            .env("LP_RECORD", &record)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start pulse"),
    );
    let records = || std::fs::read_to_string(&record).unwrap_or_default();
    let dump = || {
        format!(
            "pulse log:\n{}\nrecords:\n{}",
            std::fs::read_to_string(&pulse_log).unwrap_or_default(),
            records()
        )
    };
    assert!(
        wait_for(Duration::from_secs(10), || records()
            .lines()
            .any(|l| l.starts_with("start "))),
        "pulse started no lvsd\n{}",
        dump()
    );
    let lvsd: String = records()
        .lines()
        .find_map(|l| l.strip_prefix("start "))
        .and_then(|l| l.split(' ').next())
        .unwrap()
        .to_string();

    // systemctl: records its arguments, then `reload pulse.service` as
    // ExecReload does (kill -HUP $MAINPID)
    let bin = d.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let calls = d.join("systemctl.log");
    std::fs::write(
        bin.join("systemctl"),
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\n[ \"$*\" = 'reload pulse.service' ] && exec kill -HUP {}\nexit 1\n",
            calls.display(),
            pulse.0.id()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        bin.join("systemctl"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (gui, base) = start_gui(d, &path);

    b.goto(&format!("{base}/control"));
    b.wait_for("input[type=password]");
    b.login("piranha", PASSWORD);
    b.wait_for_url("/control");
    // CONTROL/MONITORING reads this pulse's status socket: the active
    // router (once its deadtime has passed)
    let active = wait_for(Duration::from_secs(10), || {
        b.goto(&format!("{base}/control"));
        b.has("#role") && b.text("#role") == "active"
    });
    assert!(active, "{}\n{}", b.page_text(), dump());

    // the weight of rs1, on its REAL SERVER screen
    assert_eq!(b.follow("VIRTUAL SERVERS"), Some(200));
    assert_eq!(b.follow("web"), Some(200));
    assert_eq!(b.follow("rs1"), Some(200));
    b.wait_for("#f_weight");
    b.fill("weight", "7");
    assert_eq!(b.submit("ACCEPT"), Some(200), "{}", b.page_text());
    let text = std::fs::read_to_string(&cf).unwrap();
    assert!(text.contains("weight = 7"), "{text}");
    assert!(text.contains("serial_no = 2"), "{text}");
    assert!(
        !records().contains("hup "),
        "lvsd reloaded before APPLY\n{}",
        dump()
    );

    assert_eq!(b.follow("CONTROL/MONITORING"), Some(200));
    b.wait_for("#apply");
    assert_eq!(b.submit("APPLY"), Some(200), "{}", b.page_text());
    assert!(
        b.page_text().contains("pulse reloads lvs.cf (serial_no 2)"),
        "{}",
        b.page_text()
    );
    b.screenshot_full("applied");
    assert_eq!(
        std::fs::read_to_string(&calls).unwrap_or_default(),
        "reload pulse.service\n"
    );
    // pulse got the SIGHUP and passed it on to its lvsd
    let want = format!("hup {lvsd}");
    assert!(
        wait_for(Duration::from_secs(5), || records()
            .lines()
            .any(|l| l == want)),
        "no {want:?}\n{}",
        dump()
    );
    // ... and is still running, the same lvsd
    assert_eq!(
        records()
            .lines()
            .filter(|l| l.starts_with("start "))
            .count(),
        1,
        "{}",
        dump()
    );
    b.assert_no_console_errors();

    drop(gui);
    drop(pulse);
    drop(ns);
    drop(peer);
    eprintln!("netns_gui_apply_reloads_pulse: {:.2?}", t0.elapsed());
}
