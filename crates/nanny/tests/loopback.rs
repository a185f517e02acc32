//! nanny against real TCP and UDP servers on 127.0.0.1 (needs root for the
//! raw ICMP socket). Checks the exact log lines (`--nodaemon` stdout) and
//! the exact IPVS actions through `--test-start` lines and the report fd.

mod support;

use std::io::Write as _;
use std::net::TcpStream;
use std::os::unix::ffi::OsStrExt as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::*;

fn root(test: &str) -> bool {
    lvs_tests::require(lvs_tests::Need::Root, test)
}

/// `-h 127.0.0.1 -p 8080 -r PORT -V 10.0.0.1 -t 1 --lvs` plus `extra`.
fn lvs(port: &str, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "-h",
        "127.0.0.1",
        "-p",
        "8080",
        "-r",
        port,
        "-V",
        "10.0.0.1",
        "-t",
        "1",
        "--lvs",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn start_line(port: &str) -> String {
    format!("starting LVS client monitor for 10.0.0.1:8080 -> 127.0.0.1:{port}")
}
fn up(port: &str) -> String {
    format!("[ active ] making 127.0.0.1:{port} available")
}
fn down(port: &str) -> String {
    format!("[inactive] shutting down 127.0.0.1:{port} due to connection failure")
}
fn ts_add(port: &str, w: i32) -> String {
    format!("test-start: /sbin/ipvsadm -a -t 10.0.0.1:8080 -r 127.0.0.1:{port} -m -w {w}")
}
fn ts_edit(port: &str, w: i32) -> String {
    format!("test-start: /sbin/ipvsadm -e -t 10.0.0.1:8080 -r 127.0.0.1:{port} -m -w {w}")
}
fn ts_del(port: &str) -> String {
    format!("test-start: /sbin/ipvsadm -d -t 10.0.0.1:8080 -r 127.0.0.1:{port}")
}
fn r_add(port: &str, w: i32) -> String {
    format!("nanny1 add tcp 10.0.0.1:8080 127.0.0.1:{port} masq {w}")
}
fn r_edit(port: &str, w: i32) -> String {
    format!("nanny1 edit tcp 10.0.0.1:8080 127.0.0.1:{port} masq {w}")
}
fn r_del(port: &str) -> String {
    format!("nanny1 del tcp 10.0.0.1:8080 127.0.0.1:{port}")
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Runs a check until the first verdict, which must be "down"; returns
/// the lines logged before the termination line.
fn first_failure(port: &str, extra: &[&str]) -> Vec<String> {
    let mut n = Nanny::with_report(nanny(&strs(&lvs(port, extra))));
    n.report.wait("nanny1 state down");
    assert_eq!(n.terminate(), 0);
    assert_eq!(n.report.all(), ["nanny1 state down"]);
    let mut lines = n.lines();
    assert_eq!(lines.pop().as_deref(), Some("Terminating due to signal 15"));
    lines
}

#[test]
fn healthy_send_expect_with_escapes_test_start() {
    if !root("healthy_send_expect_with_escapes_test_start") {
        return;
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let srv = TcpServer::local(move |mut c: TcpStream| {
        let req = read_request(&mut c);
        s2.lock().unwrap().push(req);
        let _ = c.write_all(b"HTTP/1.0 200 OK\r\n\r\nhello");
    });
    let p = srv.port();
    let mut n = Nanny::spawn(nanny(&strs(&lvs(
        &p,
        &[
            "-s",
            r"GET /health HTTP/1.0\r\n\r\n",
            "-x",
            "HTTP/1.0 200",
            "--test-start",
        ],
    ))));
    n.out.wait(&format!("nanny: {}", ts_add(&p, 1)));
    assert_eq!(n.terminate(), 0);
    assert_eq!(
        n.lines(),
        [
            start_line(&p),
            up(&p),
            ts_add(&p, 1),
            "Terminating due to signal 15".into(),
            ts_del(&p)
        ]
    );
    assert_eq!(seen.lock().unwrap()[0], b"GET /health HTTP/1.0\r\n\r\n");
}

#[test]
fn default_web_check_on_port_80() {
    if !root("default_web_check_on_port_80") {
        return;
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let srv = TcpServer::local(move |mut c: TcpStream| {
        s2.lock().unwrap().push(read_request(&mut c));
        let _ = c.write_all(b"HTTP/1.1 404 Not Found\r\n\r\n");
    });
    let p = srv.port();
    let mut n = Nanny::with_report(nanny(&[
        "-h",
        "127.0.0.1",
        "-p",
        "80",
        "-r",
        &p,
        "-V",
        "10.0.0.1",
        "-t",
        "1",
        "--lvs",
    ]));
    n.report.wait("nanny1 state up");
    assert_eq!(n.terminate(), 0);
    assert_eq!(
        n.lines(),
        [
            "nanny: no monitor configured, assuming web service on port 80".to_string(),
            format!("starting LVS client monitor for 10.0.0.1:80 -> 127.0.0.1:{p}"),
            up(&p),
            "Terminating due to signal 15".into(),
        ]
    );
    assert_eq!(seen.lock().unwrap()[0], b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(
        n.report.all(),
        [
            format!("nanny1 add tcp 10.0.0.1:80 127.0.0.1:{p} masq 1"),
            "nanny1 state up".to_string(),
            format!("nanny1 del tcp 10.0.0.1:80 127.0.0.1:{p}"),
        ]
    );
}

#[test]
fn refused_connection_is_silent() {
    if !root("refused_connection_is_silent") {
        return;
    }
    let p = closed_port().to_string();
    assert_eq!(first_failure(&p, &["-x", "HTTP"]), [start_line(&p)]);
    // verbose mode names the error
    let mut n = Nanny::with_report(nanny(&strs(&lvs(&p, &["-v"]))));
    n.report.wait("nanny1 state down");
    assert_eq!(n.terminate(), 0);
    let lines = n.lines();
    assert!(
        lines.contains(&format!(
            "Failed to connect 127.0.0.1:{p} ping socket: Connection refused"
        )),
        "{lines:#?}"
    );
}

#[test]
fn accept_then_silence_times_out() {
    if !root("accept_then_silence_times_out") {
        return;
    }
    let srv = TcpServer::local(|c: TcpStream| {
        std::thread::sleep(Duration::from_secs(5));
        drop(c);
    });
    let p = srv.port();
    assert_eq!(
        first_failure(&p, &["-s", "hello", "-x", "HTTP"]),
        [start_line(&p), format!("READ to 127.0.0.1:{p} timed out")]
    );
}

#[test]
fn wrong_banner_fails_silently() {
    if !root("wrong_banner_fails_silently") {
        return;
    }
    let srv = TcpServer::local(banner(b"SSH-2.0-OpenSSH\r\n"));
    let p = srv.port();
    assert_eq!(first_failure(&p, &["-x", "220 "]), [start_line(&p)]);
}

#[test]
fn short_reply_and_eof() {
    if !root("short_reply_and_eof") {
        return;
    }
    let srv = TcpServer::local(banner(b"22"));
    let p = srv.port();
    assert_eq!(
        first_failure(&p, &["-x", "220 "]),
        [
            start_line(&p),
            format!("READ from 127.0.0.1:{p} was too short[2>=4]")
        ]
    );
}

#[test]
fn reply_split_across_segments_passes() {
    if !root("reply_split_across_segments_passes") {
        return;
    }
    let srv = TcpServer::local(|mut c: TcpStream| {
        c.set_nodelay(true).unwrap();
        for part in [&b"HT"[..], b"TP/1", b".0 200 OK\r\n"] {
            let _ = c.write_all(part);
            std::thread::sleep(Duration::from_millis(150));
        }
    });
    let p = srv.port();
    let mut n = Nanny::with_report(nanny(&strs(&lvs(&p, &["-x", "HTTP/1.0 200"]))));
    n.report.wait("nanny1 state up");
    assert_eq!(n.terminate(), 0);
    assert_eq!(n.lines()[..2], [start_line(&p), up(&p)]);
}

#[test]
fn slow_reply_inside_and_outside_the_interval() {
    if !root("slow_reply_inside_and_outside_the_interval") {
        return;
    }
    let slow = |ms: u64| {
        move |mut c: TcpStream| {
            std::thread::sleep(Duration::from_millis(ms));
            let _ = c.write_all(b"+OK ready\r\n");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let srv = TcpServer::local(slow(400));
    let p = srv.port();
    let mut n = Nanny::with_report(nanny(&strs(&lvs(&p, &["-x", "+OK"]))));
    n.report.wait("nanny1 state up");
    assert_eq!(n.terminate(), 0);

    let srv = TcpServer::local(slow(3000));
    let p = srv.port();
    assert_eq!(
        first_failure(&p, &["-x", "+OK"]),
        [start_line(&p), format!("READ to 127.0.0.1:{p} timed out")]
    );
}

#[test]
fn rst_in_mid_read() {
    if !root("rst_in_mid_read") {
        return;
    }
    let srv = TcpServer::local(|mut c: TcpStream| {
        let _ = c.write_all(b"HT");
        std::thread::sleep(Duration::from_millis(200));
        reset(c);
    });
    let p = srv.port();
    assert_eq!(
        first_failure(&p, &["-x", "HTTP"]),
        [
            start_line(&p),
            "READ returned error 104:Connection reset by peer".into()
        ]
    );
}

#[test]
fn binary_replies_compare_bytes() {
    if !root("binary_replies_compare_bytes") {
        return;
    }
    let srv = TcpServer::local(banner(&[0xff, 0xfe, 0x01, b'O', b'K', 0x00, 0x80]));
    let p = srv.port();
    let mut args: Vec<std::ffi::OsString> = lvs(&p, &["-x"]).into_iter().map(Into::into).collect();
    args.push(std::ffi::OsStr::from_bytes(&[0xff, 0xfe, 0x01, b'O', b'K']).into());
    let mut n = Nanny::with_report(nanny_os(&args));
    n.report.wait("nanny1 state up");
    assert_eq!(n.terminate(), 0);

    // one byte different: a silent mismatch
    let mut args: Vec<std::ffi::OsString> = lvs(&p, &["-x"]).into_iter().map(Into::into).collect();
    args.push(std::ffi::OsStr::from_bytes(&[0xff, 0xfe, 0x02]).into());
    let mut n = Nanny::with_report(nanny_os(&args));
    n.report.wait("nanny1 state down");
    assert_eq!(n.terminate(), 0);
    assert_eq!(
        n.lines(),
        [start_line(&p), "Terminating due to signal 15".into()]
    );
}

#[test]
fn huge_reply_is_read_only_as_far_as_needed() {
    if !root("huge_reply_is_read_only_as_far_as_needed") {
        return;
    }
    let srv = TcpServer::local(|mut c: TcpStream| {
        let mut big = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
        big.resize(4 << 20, b'x');
        let _ = c.write_all(&big);
    });
    let p = srv.port();
    let mut n = Nanny::with_report(nanny(&strs(&lvs(&p, &["-x", "HTTP/1.0 200"]))));
    n.report.wait("nanny1 state up");
    // and with a regex over the first 254 bytes
    let mut m = Nanny::with_report(nanny(&strs(&lvs(
        &p,
        &["--regex", "-x", "^HTTP/1.[01] 200 OK"],
    ))));
    m.report.wait("nanny1 state up");
    assert_eq!(n.terminate(), 0);
    assert_eq!(m.terminate(), 0);
}

#[test]
fn percent_n_in_replies_is_data() {
    if !root("percent_n_in_replies_is_data") {
        return;
    }
    let srv = TcpServer::local(banner(b"%n%n%s%s%x HTTP/1.1 200 OK"));
    let p = srv.port();
    let mut n = Nanny::with_report(nanny(&strs(&lvs(
        &p,
        &["-v", "--regex", "-x", r"HTTP/1\.[01] 200"],
    ))));
    n.report.wait("nanny1 state up");
    assert_eq!(n.terminate(), 0);
    let lines = n.lines();
    // `\.` is not a known escape: kept for the regex, with a warning (B4)
    assert!(lines.contains(
        &"warning: unknown backslash escape in send/expect string left unchanged".to_string()
    ));
    assert!(
        lines.contains(&"READ got len=26, text=%n%n%s%s%x HTTP/1.1 200 OK".to_string()),
        "{lines:#?}"
    );
    // a bad regex fails every check with the regerror text
    assert_eq!(
        first_failure(&p, &["--regex", "-x", "HTTP(1"]),
        [
            start_line(&p),
            "Error 'Unmatched ( or \\(' processing expected regular expression".into()
        ]
    );
}

/// Connection `i` (from 1) is healthy when `plan(i)`.
fn scripted(plan: fn(usize) -> bool) -> TcpServer {
    let count = Arc::new(AtomicUsize::new(0));
    TcpServer::local(move |mut c: TcpStream| {
        let i = count.fetch_add(1, Ordering::SeqCst) + 1;
        if plan(i) {
            let _ = c.write_all(b"HTTP/1.0 200 OK\r\n");
        }
    })
}

#[test]
fn flapping_server_reentry_counting() {
    if !root("flapping_server_reentry_counting") {
        return;
    }
    // ok, fail, ok, ok, fail (inside the re-entry window), ok, ok, ok, …
    let srv = scripted(|i| ![2, 5].contains(&i));
    let p = srv.port();
    let mut n = Nanny::with_report(nanny(&strs(&lvs(&p, &["-x", "HTTP", "-a", "3", "-v"]))));
    n.report.wait_count(2, |l| l == "nanny1 state up");
    assert_eq!(n.terminate(), 0);
    assert_eq!(
        n.report.all(),
        [
            r_add(&p, 1),
            "nanny1 state up".into(),
            r_del(&p),
            "nanny1 state down".into(),
            r_add(&p, 1),
            "nanny1 state up".into(),
            r_del(&p),
        ]
    );
    // the verbose counters show the re-entry count: 3 consecutive successes
    let avail: Vec<String> = n
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("avail:") || l.starts_with('['))
        .collect();
    assert_eq!(
        avail[..10],
        [
            "avail: 1 active: 0: count: 4".to_string(),
            up(&p),
            "avail: 0 active: 1: count: 4".into(),
            down(&p),
            "avail: 1 active: 0: count: 1".into(),
            "avail: 1 active: 0: count: 2".into(),
            "avail: 0 active: 0: count: 2".into(),
            "avail: 1 active: 0: count: 1".into(),
            "avail: 1 active: 0: count: 2".into(),
            "avail: 1 active: 0: count: 3".into(),
        ]
    );
    assert_eq!(avail[10], up(&p));
}

#[test]
fn quiesce_versus_delete() {
    if !root("quiesce_versus_delete") {
        return;
    }
    // ok, fail, ok with re-entry 1 s (threshold 1), weight 64 (W0 = 2)
    let srv = scripted(|i| i != 2);
    let p = srv.port();
    let mut q = Nanny::with_report(nanny(&strs(&lvs(
        &p,
        &["-x", "HTTP", "-a", "1", "-w", "64", "-q"],
    ))));
    q.report.wait_count(2, |l| l == "nanny1 state up");
    assert_eq!(q.terminate(), 0);
    assert_eq!(
        q.report.all(),
        [
            r_add(&p, 2),
            "nanny1 state up".into(),
            r_edit(&p, 0),
            "nanny1 state down".into(),
            r_edit(&p, 2),
            "nanny1 state up".into(),
            r_del(&p),
        ]
    );
    assert_eq!(
        q.lines(),
        [
            start_line(&p),
            up(&p),
            format!("READ from 127.0.0.1:{p} was too short[0>=4]"),
            down(&p),
            up(&p),
            "Terminating due to signal 15".into()
        ]
    );

    let srv = scripted(|i| i != 2);
    let p = srv.port();
    let mut d = Nanny::spawn(nanny(&strs(&lvs(
        &p,
        &["-x", "HTTP", "-a", "1", "-w", "64", "--test-start"],
    ))));
    d.out.wait_count(2, |l| l.contains("[ active ]"));
    assert_eq!(d.terminate(), 0);
    assert_eq!(
        d.lines(),
        [
            start_line(&p),
            up(&p),
            ts_add(&p, 2),
            format!("READ from 127.0.0.1:{p} was too short[0>=4]"),
            down(&p),
            ts_del(&p),
            up(&p),
            ts_add(&p, 2),
            "Terminating due to signal 15".into(),
            ts_del(&p),
        ]
    );
}

#[test]
fn quiesced_server_stays_at_termination() {
    if !root("quiesced_server_stays_at_termination") {
        return;
    }
    let srv = scripted(|i| i == 1);
    let p = srv.port();
    let mut q = Nanny::with_report(nanny(&strs(&lvs(
        &p,
        &["-x", "HTTP", "-q", "--test-start"],
    ))));
    q.report.wait("nanny1 state down");
    assert_eq!(q.terminate(), 0);
    assert_eq!(
        q.report.all(),
        [
            r_add(&p, 1),
            "nanny1 state up".into(),
            r_edit(&p, 0),
            "nanny1 state down".into()
        ]
    );
}

#[test]
fn ipvs_failure_exits_255() {
    if !root("ipvs_failure_exits_255") {
        return;
    }
    let srv = TcpServer::local(banner(b"HTTP"));
    let p = srv.port();
    // no -V: the change cannot be made (ipvsadm would get "(null)")
    let mut n = Nanny::with_report(nanny(&[
        "-h",
        "127.0.0.1",
        "-p",
        "8080",
        "-r",
        &p,
        "-t",
        "1",
        "-x",
        "HTTP",
        "-I",
        "/usr/sbin/ipvsadm",
        "--lvs",
    ]));
    assert_eq!(n.wait_exit(), 255);
    assert_eq!(
        n.lines(),
        [
            format!("starting LVS client monitor for (null):8080 -> 127.0.0.1:{p}"),
            up(&p),
            "/usr/sbin/ipvsadm command failed!".into(),
        ]
    );
}

#[test]
fn no_raw_socket_exits_1() {
    if !root("no_raw_socket_exits_1") {
        return;
    }
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--inh-caps=-net_raw", "--bounding-set=-net_raw"])
        .arg(Nanny::bin())
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            "8080",
            "-V",
            "10.0.0.1",
            "--lvs",
            "--nodaemon",
        ]);
    let mut n = Nanny::spawn(cmd);
    assert_eq!(n.wait_exit(), 1);
    n.out.wait_prefix("nanny: failed to create ping socket");
    assert_eq!(
        n.lines(),
        [
            "starting LVS client monitor for 10.0.0.1:8080 -> 127.0.0.1:8080".to_string(),
            "failed to create ping socket: Operation not permitted".into()
        ]
    );
    // --no-icmp (E12) needs no raw socket
    let srv = TcpServer::local(banner(b"HTTP"));
    let p = srv.port();
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--inh-caps=-net_raw", "--bounding-set=-net_raw"])
        .arg(Nanny::bin())
        .args(strs(&lvs(
            &p,
            &["-x", "HTTP", "--no-icmp", "--nodaemon", "--test-start"],
        )));
    let mut n = Nanny::spawn(cmd);
    n.out.wait(&format!("nanny: {}", ts_add(&p, 1)));
    assert_eq!(n.terminate(), 0);
}

mod udp {
    use super::*;

    fn udp(port: &str, extra: &[&str]) -> Vec<String> {
        let mut v = lvs(port, &["-u"]);
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }

    #[test]
    fn request_reply() {
        if !root("udp_request_reply") {
            return;
        }
        let srv = UdpServer::local(|req| (req == b"PING\n").then(|| b"PONG 1".to_vec()));
        let p = srv.port();
        let mut n = Nanny::with_report(nanny(&strs(&udp(&p, &["-s", r"PING\n", "-x", "PONG"]))));
        n.report.wait("nanny1 state up");
        assert_eq!(n.terminate(), 0);
        assert_eq!(
            n.report.all(),
            [
                format!("nanny1 add udp 10.0.0.1:8080 127.0.0.1:{p} masq 1"),
                "nanny1 state up".into(),
                format!("nanny1 del udp 10.0.0.1:8080 127.0.0.1:{p}"),
            ]
        );
    }

    #[test]
    fn reply_without_expect_passes() {
        if !root("udp_reply_without_expect_passes") {
            return;
        }
        // gaps.md E4: the original crashes here
        let srv = UdpServer::local(|_| Some(b"anything".to_vec()));
        let p = srv.port();
        let mut n = Nanny::with_report(nanny(&strs(&udp(&p, &["-s", "hello"]))));
        n.report.wait("nanny1 state up");
        assert_eq!(n.terminate(), 0);
    }

    #[test]
    fn silence_and_port_unreachable() {
        if !root("udp_silence_and_port_unreachable") {
            return;
        }
        let srv = UdpServer::local(|_| None);
        let p = srv.port();
        assert_eq!(
            first_failure(&p, &["-u", "-s", "x", "-x", "y"]),
            [start_line(&p), format!("READ to 127.0.0.1:{p} timed out")]
        );
        let p = closed_port().to_string();
        assert_eq!(
            first_failure(&p, &["-u", "-s", "x", "-x", "y"]),
            [
                start_line(&p),
                "READ returned error 111:Connection refused".into()
            ]
        );
    }
}

mod fos {
    use super::*;

    #[test]
    fn service_goes_away_exits_0() {
        if !root("fos_service_goes_away_exits_0") {
            return;
        }
        let srv = scripted(|i| i <= 2);
        let p = srv.port();
        let mut n = Nanny::spawn(nanny(&[
            "-c",
            "-h",
            "127.0.0.1",
            "-V",
            "192.0.2.10",
            "-p",
            &p,
            "-x",
            "HTTP",
            "-t",
            "1",
            "--fos",
        ]));
        assert_eq!(n.wait_exit(), 0);
        assert_eq!(
            n.lines(),
            [
                format!("Failover service monitor for 192.0.2.10:{p} started"),
                format!("Remote service 127.0.0.1:{p} is available"),
                format!("READ from 127.0.0.1:{p} was too short[0>=4]"),
                format!("Exiting due to connection failure of 127.0.0.1:{p}"),
            ]
        );
    }

    #[test]
    fn never_up_exits_1() {
        if !root("fos_never_up_exits_1") {
            return;
        }
        let p = closed_port().to_string();
        let mut n = Nanny::spawn(nanny(&[
            "-c",
            "-h",
            "127.0.0.1",
            "-V",
            "192.0.2.10",
            "-p",
            &p,
            "-t",
            "1",
            "--fos",
        ]));
        assert_eq!(n.wait_exit(), 1);
        assert_eq!(
            n.lines(),
            [
                format!("Failover service monitor for 192.0.2.10:{p} started"),
                "No service active & available...".into(),
                "Timeout waiting for remote service -- triggering failover!".into(),
            ]
        );
    }
}
