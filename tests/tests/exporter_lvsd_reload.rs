//! A scrape while lvsd reloads a large lvs.cf: the real lvsd (test mode:
//! no kernel table, the same engine and status socket) with 400 virtual
//! servers of 10 real servers each, reloaded over and over with changed
//! weights, while the real piranha-exporter scrapes it. Every scrape ends
//! within the exporter's one-second budget with a whole exposition (lvsd
//! answered, or is reported down), and lvsd carries on.

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Virtual servers in the file (10 real servers each): enough that a reload
/// keeps lvsd busy for a while, few enough that the debug builds the tests
/// run answer within the exporter's 500 ms.
const VIRTUALS: u32 = 400;

fn config(weight: u32) -> String {
    let mut s = String::from(
        "serial_no = 1\nprimary = 192.0.2.1\nservice = lvs\nbackup_active = 0\n\
         heartbeat = 1\nheartbeat_port = 539\nkeepalive = 2\ndeadtime = 6\nnetwork = nat\n\
         nat_router = 10.1.255.254 eth1:1\n",
    );
    for v in 0..VIRTUALS {
        let _ = write!(
            s,
            "virtual v{v} {{\n active = 1\n address = 10.0.{}.{} eth0:1\n port = 80\n \
             scheduler = wlc\n protocol = tcp\n",
            v / 250,
            v % 250 + 1
        );
        for r in 0..10u32 {
            let _ = write!(
                s,
                " server r{r} {{\n  address = 10.{}.{}.{}\n  active = 1\n  weight = {weight}\n }}\n",
                2 + v / 1000,
                v % 250,
                r + 1
            );
        }
        s.push_str("}\n");
    }
    s
}

#[test]
fn scrapes_during_lvsd_reloads_stay_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let cf = dir.path().join("lvs.cf");
    let sock = dir.path().join("lvsd.sock");
    std::fs::write(&cf, config(1)).unwrap();
    let log = dir.path().join("lvsd.log");
    let mut lvsd = Command::new(lvs_tests::bin("lvsd"))
        .args(["--nodaemon", "--test-start", "-c"])
        .arg(&cf)
        .arg("--status-socket")
        .arg(&sock)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lvsd");
    let pid = lvsd.id() as i32;
    // lvsd is up once its socket answers.
    let up =
        lvs_tests::netns::wait_for(Duration::from_secs(30), || lvs_util_query(&sock).is_some());
    assert!(up, "lvsd did not answer on its status socket");
    let exporter = lvs_tests::bin("piranha-exporter");
    let stop = AtomicBool::new(false);
    let (mut answered, mut down) = (0, 0);
    std::thread::scope(|s| {
        // Reloads, one after the other, each changing every weight.
        s.spawn(|| {
            let mut w = 1;
            while !stop.load(Ordering::Relaxed) {
                w = 3 - w;
                std::fs::write(&cf, config(w)).unwrap();
                // SAFETY: signalling our own child.
                unsafe { libc::kill(pid, libc::SIGHUP) };
                std::thread::sleep(Duration::from_millis(150));
            }
        });
        for _ in 0..12 {
            let begin = Instant::now();
            let out = Command::new(&exporter)
                .args(["--once", "--pulse-socket=/nonexistent/pulse.sock"])
                .arg(format!("--lvsd-socket={}", sock.display()))
                .arg(format!("--procfs={}", dir.path().display()))
                .output()
                .expect("run piranha-exporter --once");
            let took = begin.elapsed();
            assert!(out.status.success(), "{out:?}");
            // One second for the scrape, plus the process's own start.
            assert!(took < Duration::from_millis(1500), "a scrape took {took:?}");
            let text = String::from_utf8(out.stdout).unwrap();
            assert!(text.contains("piranha_up{component=\"pulse\"} 0"), "{text}");
            if text.contains("piranha_up{component=\"lvsd\"} 1") {
                answered += 1;
                assert!(
                    text.contains("piranha_real_server_up{"),
                    "whole lvsd families"
                );
            } else {
                assert!(text.contains("piranha_up{component=\"lvsd\"} 0"), "{text}");
                down += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    let reloads = std::fs::read_to_string(&log)
        .unwrap()
        .matches("configuration reloaded")
        .count();
    eprintln!("scrapes during {reloads} reloads: lvsd answered {answered}, reported down {down}");
    assert!(reloads >= 3, "lvsd reloaded {reloads} times");
    assert!(answered > 0, "lvsd never answered within the scrape budget");
    assert!(
        lvsd.try_wait().unwrap().is_none(),
        "lvsd died during the reloads"
    );
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let _ = lvsd.wait();
}

/// lvsd's `json` answer, if it gives one within 10 s.
fn lvs_util_query(sock: &std::path::Path) -> Option<String> {
    lvs_util::status_socket::query(sock.to_str()?, "json", Duration::from_secs(10)).ok()
}
