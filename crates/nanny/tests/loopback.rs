//! nanny against real TCP and UDP servers on 127.0.0.1 (needs root for the
//! raw ICMP socket). Checks the exact log lines (`--nodaemon` stdout) and
//! the exact IPVS actions through `--test-start` lines and the report fd.

mod support;

use std::io::Write as _;
use std::net::TcpStream;
use std::os::unix::ffi::OsStrExt as _;
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

/// A `--lvs` nanny ([`lvs`]) whose report descriptor is read.
fn lvs_nanny(port: &str, extra: &[&str]) -> Nanny {
    Nanny::with_report(nanny(&strs(&lvs(port, extra))))
}

/// Runs a check until the first verdict, which must be "up", and
/// terminates it (exit status 0); the ended nanny, for its lines and
/// report.
fn first_success(port: &str, extra: &[&str]) -> Nanny {
    let mut n = lvs_nanny(port, extra);
    n.report.wait("nanny1 state up");
    assert_eq!(n.terminate(), 0);
    n
}

/// Runs a check until the first verdict, which must be "down"; returns
/// the lines logged before the termination line.
fn first_failure(port: &str, extra: &[&str]) -> Vec<String> {
    let mut n = lvs_nanny(port, extra);
    n.report.wait("nanny1 state down");
    assert_eq!(n.terminate(), 0);
    assert_eq!(
        n.report.all(),
        ["nanny1 result fail", "nanny1 failed", "nanny1 state down"]
    );
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
            "nanny1 result pass".to_string(),
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
    let mut n = lvs_nanny(&p, &["-v"]);
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
    let n = first_success(&p, &["-x", "HTTP/1.0 200"]);
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
    first_success(&p, &["-x", "+OK"]);

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
fn star_needs_one_successful_read() {
    if !root("star_needs_one_successful_read") {
        return;
    }
    // `-x '*'` reads once (1 byte): a reset right after the accept fails
    // the check (the pause only makes sure nanny is already waiting to read)
    let srv = TcpServer::local(|c: TcpStream| {
        std::thread::sleep(Duration::from_millis(100));
        reset(c);
    });
    let p = srv.port();
    assert_eq!(
        first_failure(&p, &["-x", "*"]),
        [
            start_line(&p),
            "READ returned error 104:Connection reset by peer".into()
        ]
    );
    // anything read passes
    let srv = TcpServer::local(banner(b"x"));
    let p = srv.port();
    let n = first_success(&p, &["-x", "*"]);
    assert_eq!(n.lines()[..2], [start_line(&p), up(&p)]);
    // and so does an orderly close (the read returns 0)
    let srv = TcpServer::local(drop);
    let p = srv.port();
    first_success(&p, &["-x", "*"]);
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
    let mut n = lvs_nanny(&p, &["-x", "HTTP/1.0 200"]);
    n.report.wait("nanny1 state up");
    // and with a regex over the first 254 bytes
    let mut m = lvs_nanny(&p, &["--regex", "-x", "^HTTP/1.[01] 200 OK"]);
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
    let n = first_success(&p, &["-v", "--regex", "-x", r"HTTP/1\.[01] 200"]);
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

#[test]
fn bad_regex_is_logged_at_the_start_of_every_check() {
    if !root("bad_regex_is_logged_at_the_start_of_every_check") {
        return;
    }
    let error = "Error 'Unmatched ( or \\(' processing expected regular expression";
    // also when the connection is refused
    let p = closed_port().to_string();
    assert_eq!(
        first_failure(&p, &["--regex", "-x", "HTTP(1"]),
        [start_line(&p), error.into()]
    );
    // the check still waits for the reply
    let srv = TcpServer::local(|c: TcpStream| {
        std::thread::sleep(Duration::from_secs(5));
        drop(c);
    });
    let p = srv.port();
    assert_eq!(
        first_failure(&p, &["--regex", "-x", "HTTP(1"]),
        [
            start_line(&p),
            error.into(),
            format!("READ to 127.0.0.1:{p} timed out")
        ]
    );
    // every check
    let p = closed_port().to_string();
    let mut n = lvs_nanny(&p, &["--regex", "-x", "HTTP(1"]);
    n.out.wait_count(2, |l| l == format!("nanny: {error}"));
    assert_eq!(n.terminate(), 0);
}

#[test]
fn flapping_server_reentry_counting() {
    if !root("flapping_server_reentry_counting") {
        return;
    }
    // ok, fail, ok, ok, fail (inside the re-entry window), ok, ok, ok, …
    let srv = scripted(|i| ![2, 5].contains(&i));
    let p = srv.port();
    let mut n = lvs_nanny(&p, &["-x", "HTTP", "-a", "3", "-v"]);
    n.report.wait_count(2, |l| l == "nanny1 state up");
    assert_eq!(n.terminate(), 0);
    assert_eq!(
        n.report.all(),
        [
            "nanny1 result pass".to_string(),
            r_add(&p, 1),
            "nanny1 state up".into(),
            "nanny1 result fail".into(),
            "nanny1 failed".into(),
            r_del(&p),
            "nanny1 state down".into(),
            // the raw results of the re-entry: ok, ok, fail, ok, ok, ok
            "nanny1 result pass".into(),
            "nanny1 result fail".into(),
            "nanny1 failed".into(),
            "nanny1 result pass".into(),
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
    let mut q = lvs_nanny(&p, &["-x", "HTTP", "-a", "1", "-w", "64", "-q"]);
    q.report.wait_count(2, |l| l == "nanny1 state up");
    assert_eq!(q.terminate(), 0);
    assert_eq!(
        q.report.all(),
        [
            "nanny1 result pass".to_string(),
            r_add(&p, 2),
            "nanny1 state up".into(),
            "nanny1 result fail".into(),
            "nanny1 failed".into(),
            r_edit(&p, 0),
            "nanny1 state down".into(),
            "nanny1 result pass".into(),
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
    let mut q = lvs_nanny(&p, &["-x", "HTTP", "-q", "--test-start"]);
    q.report.wait("nanny1 state down");
    assert_eq!(q.terminate(), 0);
    assert_eq!(
        q.report.all(),
        [
            "nanny1 result pass".to_string(),
            r_add(&p, 1),
            "nanny1 state up".into(),
            "nanny1 result fail".into(),
            "nanny1 failed".into(),
            r_edit(&p, 0),
            "nanny1 state down".into()
        ]
    );
}

#[test]
fn resume_from_lvsd_state() {
    if !root("resume_from_lvsd_state") {
        return;
    }
    // up 5: already in the table and healthy, so no add; a failure deletes
    let srv = scripted(|i| i == 1);
    let p = srv.port();
    let mut cmd = nanny(&strs(&lvs(&p, &["-x", "HTTP", "-w", "5"])));
    cmd.env("NANNY_REPORT_RESUME", "up 5");
    let mut n = Nanny::with_report(cmd);
    n.report.wait("nanny1 state down");
    assert_eq!(n.terminate(), 0);
    assert_eq!(
        n.report.all(),
        [
            "nanny1 result pass".to_string(),
            "nanny1 state up".into(),
            "nanny1 result fail".into(),
            "nanny1 failed".into(),
            r_del(&p),
            "nanny1 state down".into()
        ]
    );
    // quiesced: recovery edits the weight back instead of adding
    let srv = scripted(|_| true);
    let p = srv.port();
    let mut cmd = nanny(&strs(&lvs(&p, &["-x", "HTTP", "-q", "-a", "1"])));
    cmd.env("NANNY_REPORT_RESUME", "quiesced");
    let mut n = Nanny::with_report(cmd);
    n.report.wait("nanny1 state up");
    assert_eq!(n.terminate(), 0);
    assert_eq!(
        n.report.all()[..2],
        ["nanny1 result pass".to_string(), r_edit(&p, 1)]
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

    #[test]
    fn request_reply() {
        if !root("udp_request_reply") {
            return;
        }
        let srv = UdpServer::local(|req| (req == b"PING\n").then(|| b"PONG 1".to_vec()));
        let p = srv.port();
        let n = first_success(&p, &["-u", "-s", r"PING\n", "-x", "PONG"]);
        assert_eq!(
            n.report.all(),
            [
                "nanny1 result pass".to_string(),
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
        first_success(&p, &["-u", "-s", "hello"]);
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
    #[test]
    fn star_and_port_unreachable() {
        if !root("udp_star_and_port_unreachable") {
            return;
        }
        // the ICMP port unreachable makes the one read fail: `*` fails too
        let p = closed_port().to_string();
        assert_eq!(
            first_failure(&p, &["-u", "-s", "hello", "-x", "*"]),
            [
                start_line(&p),
                "READ returned error 111:Connection refused".into()
            ]
        );
        let srv = UdpServer::local(|_| Some(b"!".to_vec()));
        let p = srv.port();
        first_success(&p, &["-u", "-s", "hello", "-x", "*"]);
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

/// Writes an executable `/bin/sh` script `name` into `dir`.
fn script(dir: &std::path::Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_string_lossy().into_owned()
}

mod signals {
    use super::*;

    fn verbose_sync(n: &Nanny, count: &str) {
        n.out
            .wait(&format!("nanny: avail: 0 active: 0: count: {count}"));
    }

    #[test]
    fn usr2_usr1_hup_and_term() {
        if !root("signals_usr2_usr1_hup_and_term") {
            return;
        }
        let p = closed_port().to_string();
        let mut n = Nanny::spawn(nanny(&strs(&lvs(
            &p,
            &["-a", "3", "-w", "40", "--test-start", "-v"],
        ))));
        verbose_sync(&n, "3");
        n.signal(libc::SIGUSR2);
        n.out.wait(&format!("nanny: {}", ts_add(&p, 40)));
        n.signal(libc::SIGUSR1);
        n.out.wait(&format!("nanny: {}", ts_del(&p)));
        n.signal(libc::SIGUSR2);
        n.out
            .wait_count(2, |l| l == format!("nanny: {}", ts_add(&p, 40)));
        n.signal(libc::SIGHUP);
        n.out
            .wait_count(2, |l| l == format!("nanny: {}", ts_del(&p)));
        assert_eq!(n.terminate(), 0);
        let lines: Vec<String> = n
            .lines()
            .into_iter()
            .filter(|l| {
                !l.starts_with("avail:")
                    && !l.starts_with("Opening")
                    && !l.starts_with("Connecting")
                    && !l.starts_with("DEBUG -- Posting")
                    && !l.starts_with("Failed to connect")
                    && !l.starts_with("No service")
            })
            .collect();
        // nanny.h: STATE_UP 2, STATE_DOWN 3; SERV_LVS 2
        assert_eq!(
            lines,
            [
                start_line(&p),
                "Send_program is NULL".into(),
                "Send_string is NULL".into(),
                "Expect_string is NULL".into(),
                "Service_type value=2".into(),
                "rose-colored glasses on".into(),
                ts_add(&p, 40),
                "DEBUG -- In nextState = 2".into(),
                "opaque glasses on".into(),
                ts_del(&p),
                "DEBUG -- In nextState = 3".into(),
                "rose-colored glasses on".into(),
                ts_add(&p, 40),
                "DEBUG -- In nextState = 2".into(),
                "DEBUG -- removing glasses".into(),
                down(&p),
                ts_del(&p),
                "Terminating due to signal 15".into(),
            ]
        );
    }

    #[test]
    fn usr2_on_quiesced_server_edits_e10() {
        if !root("signals_usr2_on_quiesced_server_edits_e10") {
            return;
        }
        let srv = scripted(|i| i == 1);
        let p = srv.port();
        let mut n = Nanny::spawn(nanny(&strs(&lvs(
            &p,
            &["-x", "HTTP", "-q", "-w", "40", "--test-start"],
        ))));
        n.out.wait(&format!("nanny: {}", ts_edit(&p, 0)));
        n.signal(libc::SIGUSR2);
        n.out.wait(&format!("nanny: {}", ts_edit(&p, 40)));
        // SIGINT terminates too, deleting the (forced up) server
        n.signal(libc::SIGINT);
        assert_eq!(n.wait_exit(), 0);
        let lines = n.lines();
        assert!(lines.ends_with(&[
            "rose-colored glasses on".to_string(),
            ts_edit(&p, 40),
            "Terminating due to signal 2".into(),
            ts_del(&p),
        ]));
    }

    #[test]
    fn term_during_a_network_wait() {
        if !root("signals_term_during_a_network_wait") {
            return;
        }
        let srv = TcpServer::local(|c: TcpStream| {
            std::thread::sleep(Duration::from_secs(60));
            drop(c);
        });
        let p = srv.port();
        let mut n = Nanny::spawn(nanny(&strs(&lvs(&p, &["-x", "HTTP", "-t", "60"]))));
        assert!(lvs_tests::netns::wait_for(LONG, || srv
            .accepted
            .load(std::sync::atomic::Ordering::SeqCst)
            == 1));
        assert_eq!(n.terminate(), 0);
        assert_eq!(
            n.lines(),
            [start_line(&p), "Terminating due to signal 15".into()]
        );
    }

    #[test]
    fn term_kills_a_hung_check_program() {
        if !root("signals_term_kills_a_hung_check_program") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let prog = script(
            dir.path(),
            "hang",
            &format!("echo $$ > {}\nexec sleep 60", pidfile.display()),
        );
        let mut n = Nanny::spawn(nanny(&strs(&lvs(
            "1",
            &["-e", &prog, "-x", "OK", "-t", "30"],
        ))));
        assert!(lvs_tests::netns::wait_for(LONG, || {
            std::fs::read_to_string(&pidfile).is_ok_and(|s| s.ends_with('\n'))
        }));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(n.terminate(), 0);
        assert_eq!(
            n.lines(),
            [
                "starting LVS client monitor for 10.0.0.1:8080 -> 127.0.0.1:1".to_string(),
                "Terminating due to signal 15".into(),
                format!("Killing child {pid}"),
            ]
        );
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "child still running"
        );
    }
}

mod external {
    use super::*;

    /// Runs `-e PROG %h %p` until the first verdict; returns (up?, lines
    /// before the termination line).
    fn verdict(prog: &str, extra: &[&str]) -> (bool, Vec<String>) {
        let cmd = format!("{prog} %h %p");
        let mut args = vec!["-e", cmd.as_str()];
        args.extend_from_slice(extra);
        let mut n = lvs_nanny("4242", &args);
        n.report.wait_count(1, |l| l.starts_with("nanny1 state"));
        assert_eq!(n.terminate(), 0);
        let up = n.report.all().contains(&"nanny1 state up".to_string());
        let mut lines = n.lines();
        assert_eq!(lines.pop().as_deref(), Some("Terminating due to signal 15"));
        assert_eq!(lines.remove(0), start("4242"));
        (up, lines)
    }

    fn start(p: &str) -> String {
        start_line(p)
    }

    #[test]
    fn succeeds_with_host_and_port_substituted() {
        if !root("external_succeeds") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let args = dir.path().join("args");
        let prog = script(
            dir.path(),
            "ok",
            &format!("echo \"$@\" > {}\necho OK", args.display()),
        );
        assert_eq!(verdict(&prog, &["-x", "OK"]), (true, vec![up("4242")]));
        assert_eq!(std::fs::read_to_string(args).unwrap(), "127.0.0.1 4242\n");
    }

    #[test]
    fn fails_e1_and_compat_flag() {
        if !root("external_fails_e1_and_compat_flag") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let prog = script(dir.path(), "fail", "echo OK; exit 1");
        let lines = vec![
            "The following exited abnormally:".to_string(),
            "Ran the external sending program to (127.0.0.1:4242) but didn't get anything back"
                .into(),
            // the original's format string ends with a newline
            String::new(),
        ];
        assert_eq!(verdict(&prog, &["-x", "OK"]), (false, lines.clone()));
        let mut with_up = lines;
        with_up.push(up("4242"));
        assert_eq!(
            verdict(&prog, &["-x", "OK", "--external-failure-passes"]),
            (true, with_up)
        );
        // no expect string: both NULL
        assert_eq!(
            verdict(&prog, &[]),
            (
                false,
                vec![
                    "The following exited abnormally:".into(),
                    "Ran the external sending program. The result and expected response are both NULL! You may wish to revise your settings".into(),
                    String::new(),
                ]
            )
        );
        // not found on PATH: also "exited abnormally"
        assert_eq!(
            verdict("no-such-program-xyz", &["-x", "OK"]).1[0],
            "The following exited abnormally:"
        );
    }

    #[test]
    fn hangs_and_is_killed_at_the_interval_e2() {
        if !root("external_hangs_e2") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let prog = script(
            dir.path(),
            "hang",
            &format!("echo $$ > {}\nexec sleep 60", pidfile.display()),
        );
        assert_eq!(
            verdict(&prog, &["-x", "OK"]),
            (
                false,
                vec![
                    "timeout running the following:".to_string(),
                    "Ran the external sending program to (127.0.0.1:4242) but didn't get anything back".into(),
                    String::new(),
                ]
            )
        );
        let pid = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .to_string();
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "hung program not killed"
        );
    }

    #[test]
    fn output_without_newline_e3() {
        if !root("external_output_without_newline_e3") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let prog = script(dir.path(), "printf", "printf OK");
        assert_eq!(
            verdict(&prog, &["-x", "OK"]),
            (
                false,
                vec![
                    "Trouble. Received results are not what we expected from (127.0.0.1:4242)"
                        .into(),
                    String::new(),
                ]
            )
        );
        // the original's chop turns OK into O
        assert_eq!(verdict(&prog, &["-x", "O"]), (true, vec![up("4242")]));
        assert_eq!(
            verdict(&prog, &["-x", "OK", "--chop-newline-only"]),
            (true, vec![up("4242")])
        );
        let empty = script(dir.path(), "empty", "exit 0");
        assert_eq!(
            verdict(&empty, &[]),
            (false, vec!["Expect string is NULL, but the external sending program returned a non-NULL result".into(), String::new()])
        );
    }

    #[test]
    fn large_output_does_not_block() {
        if !root("external_large_output_does_not_block") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let prog = script(
            dir.path(),
            "big",
            "head -c 300000 /dev/zero | tr '\\0' x; echo",
        );
        assert_eq!(
            verdict(&prog, &["-x", "OK", "-t", "5"]),
            (
                false,
                vec![
                    "Trouble. Received results are not what we expected from (127.0.0.1:4242)"
                        .into(),
                    String::new(),
                ]
            )
        );
    }

    #[test]
    fn verbose_lines() {
        if !root("external_verbose_lines") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let prog = script(dir.path(), "fail", "exit 1");
        let cmd = format!("{prog} %h  %p");
        let (up, lines) = verdict(&cmd, &["-x", "OK", "-v"]);
        assert!(!up);
        assert_eq!(
            lines,
            [
                format!("Send_program len={}, text=\"{cmd} %h %p\"", cmd.len() + 6),
                "Send_string is NULL".into(),
                "Expect_string len=2, text=\"OK\"".into(),
                "Service_type value=2".into(),
                // the words after the program; the command up to its
                // first word, with the original's newline
                "Found 4 argument(s)".into(),
                format!("Invoking:  {prog}"),
                String::new(),
                "The following exited abnormally:".into(),
                "Got result ((null)) from command sent to (127.0.0.1:4242)".into(),
                String::new(),
                "Ran the external sending program to (127.0.0.1:4242) but didn't get anything back"
                    .into(),
                String::new(),
                "avail: 0 active: 0: count: 180".into(),
                "No service active & available...".into(),
            ]
        );
    }

    #[test]
    fn send_string_is_ignored_with_a_program() {
        if !root("external_send_string_is_ignored") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let prog = script(dir.path(), "ok", "echo OK");
        let mut n = lvs_nanny("4242", &["-e", &prog, "-s", "x", "-x", "OK"]);
        n.report.wait("nanny1 state up");
        assert_eq!(n.terminate(), 0);
        assert_eq!(
            n.lines()[..3],
            [
                format!(
                    "External program use requested: ({prog}), IGNORING send string option ((null))"
                ),
                String::new(),
                start_line("4242"),
            ]
        );
    }
}

mod load {
    use super::*;

    /// First check fails; SIGUSR2 forces the server up with weight 10; SIGHUP
    /// checks at once with count = threshold (19) → 20 → weight adjustment →
    /// the load probe runs. Returns the lines after SIGHUP.
    fn probe(loadcmd: &str, path: Option<&std::path::Path>) -> Vec<String> {
        let srv = scripted(|i| i != 1);
        let p = srv.port();
        let mut cmd = nanny(&strs(&lvs(
            &p,
            &[
                "-x",
                "HTTP",
                "-w",
                "10",
                "-a",
                "19",
                "-U",
                loadcmd,
                "--test-start",
                "-v",
            ],
        )));
        if let Some(dir) = path {
            let old = std::env::var("PATH").unwrap_or_default();
            cmd.env("PATH", format!("{}:{old}", dir.display()));
        }
        let mut n = Nanny::spawn(cmd);
        n.out.wait("nanny: avail: 0 active: 0: count: 19");
        n.signal(libc::SIGUSR2);
        n.out.wait(&format!("nanny: {}", ts_add(&p, 10)));
        n.signal(libc::SIGHUP);
        n.out.wait("nanny: avail: 1 active: 1: count: 20");
        n.out.wait_count(3, |l| l.starts_with("nanny: Opening TCP"));
        assert_eq!(n.terminate(), 0);
        let lines = n.lines();
        let i = lines
            .iter()
            .position(|l| l == "avail: 1 active: 1: count: 20")
            .unwrap();
        lines[i + 1..]
            .iter()
            .filter(|l| {
                !l.starts_with("Opening")
                    && !l.starts_with("Connecting")
                    && !l.starts_with("DEBUG --")
                    && !l.starts_with("Posting")
                    && !l.starts_with("READ ")
                    && !l.starts_with("Terminating")
                    && !l.starts_with("test-start: /sbin/ipvsadm -d")
            })
            .map(|l| l.replace(&p, "P"))
            .collect()
    }

    #[test]
    fn good_output_raises_the_weight() {
        if !root("load_good_output") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let args = dir.path().join("args");
        let prog = script(
            dir.path(),
            "probe",
            &format!(
                "echo \"$@\" > {}\necho ' 12:00:01 up 1 day,  1 user,  load average: 0.00, 0.01, 0.05'",
                args.display()
            ),
        );
        let l = probe(&prog, None);
        // no Found/Invoking lines: those belong to the -e program only
        assert_eq!(
            l[3],
            "test-start: /sbin/ipvsadm -e -t 10.0.0.1:8080 -r 127.0.0.1:P -m -w 15"
        );
        assert_eq!(
            l[..3],
            [
                "Loadavg of 127.0.0.1 is 0.000000".to_string(),
                "Computing new weight 15 based on last weight 10 and load 0.000000".into(),
                "Adjusting weight of 127.0.0.1:8080 to 15".into(),
            ]
        );
        assert_eq!(std::fs::read_to_string(args).unwrap(), "127.0.0.1\n");
    }

    #[test]
    fn rsh_gets_uptime_argument_and_high_load_lowers_nothing_below_weight() {
        if !root("load_rsh_uptime") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let args = dir.path().join("args");
        script(
            dir.path(),
            "rsh",
            &format!(
                "echo \"$@\" > {}\necho 'load average: 9.00, 1, 1'",
                args.display()
            ),
        );
        let l = probe("rsh", Some(dir.path()));
        // load 9: 10 - 5 * 2 = 0, floored at the weight (10): no change
        assert_eq!(l, ["Loadavg of 127.0.0.1 is 9.000000"]);
        assert_eq!(std::fs::read_to_string(args).unwrap(), "127.0.0.1 uptime\n");
    }

    #[test]
    fn bad_output_and_failure() {
        if !root("load_bad_output_and_failure") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let bad = script(dir.path(), "bad", "echo '%n%s%x load 0.5, 1'");
        assert_eq!(
            probe(&bad, None)[0],
            "bad load average returned: %n%s%x load 0.5, 1"
        );
        // the stdout copy is cut at 255 bytes, as the original's buffer
        // does (syslog gets it whole: syslog_gets_whole_messages_stdout_cuts_them)
        let long = script(dir.path(), "long", &format!("echo {}", "y".repeat(400)));
        let line = probe(&long, None)[0].clone();
        assert_eq!(line.len(), 255);
        assert_eq!(
            line,
            format!("bad load average returned: {}", "y".repeat(255 - 27))
        );
        let fail = script(dir.path(), "fail", "exit 3");
        assert_eq!(
            probe(&fail, None)[..2],
            [
                "The following exited abnormally:".to_string(),
                "failed to read remote load".into()
            ]
        );
    }
}

/// A private /dev with our own log socket, for nanny started by
/// [`PrivateLog::command`] in a private mount namespace.
struct PrivateLog {
    dir: tempfile::TempDir,
    sock: std::os::unix::net::UnixDatagram,
}

impl PrivateLog {
    fn new() -> PrivateLog {
        let dir = tempfile::tempdir().unwrap();
        let sock = std::os::unix::net::UnixDatagram::bind(dir.path().join("log")).unwrap();
        sock.set_read_timeout(Some(LONG)).unwrap();
        let null =
            std::ffi::CString::new(dir.path().join("null").to_string_lossy().as_bytes()).unwrap();
        // SAFETY: mknod of /dev/null's character device in our temp dir.
        assert_eq!(
            unsafe { libc::mknod(null.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) },
            0
        );
        PrivateLog { dir, sock }
    }

    /// `nanny ARGS` (words without blanks) with /dev replaced; the process
    /// becomes nanny itself (exec).
    fn command(&self, args: &[String]) -> std::process::Command {
        let script = format!(
            "mount --make-rprivate / && mount --bind {} /dev && exec {} {}",
            self.dir.path().display(),
            Nanny::bin().display(),
            args.join(" ")
        );
        let mut c = std::process::Command::new("unshare");
        c.args(["-m", "sh", "-c", &script]);
        c
    }

    /// The next datagram as (pid, message): checks `<30>` (facility daemon
    /// (3) * 8 + info (6)) and the `nanny[PID]: ` ident.
    fn next(&self) -> (i32, String) {
        let mut buf = vec![0u8; 65536];
        let n = self.sock.recv(&mut buf).expect("syslog datagram");
        let d = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(d.starts_with("<30>"), "{d}");
        let at = d.find(" nanny[").expect("ident");
        let rest = &d[at + 7..];
        let (p, msg) = rest.split_once("]: ").expect("pid");
        (p.parse::<i32>().expect("pid number"), msg.to_string())
    }
}

#[test]
fn syslog_in_daemon_mode() {
    if !root("syslog_in_daemon_mode") {
        return;
    }
    let log = PrivateLog::new();
    let srv = TcpServer::local(banner(b"HTTP"));
    let p = srv.port();
    let status = log
        .command(&lvs(&p, &["-x", "HTTP", "--test-start"]))
        .status()
        .unwrap();
    assert!(status.success());
    let mut pid = 0;
    let mut msgs = Vec::new();
    while msgs.len() < 3 {
        let (p, m) = log.next();
        pid = p;
        msgs.push(m);
    }
    // SAFETY: the detached nanny we started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(msgs, [start_line(&p), up(&p), ts_add(&p, 1)]);
    assert_eq!(log.next().1, "Terminating due to signal 15");
}

#[test]
fn syslog_gets_whole_messages_stdout_cuts_them() {
    if !root("syslog_gets_whole_messages_stdout_cuts_them") {
        return;
    }
    let log = PrivateLog::new();
    let prog = format!("/nonexistent/{}", "z".repeat(300));
    let mut args = lvs("4242", &["-e", &prog, "-s", "x", "-x", "OK"]);
    args.push("--nodaemon".into());
    let mut n = Nanny::spawn(log.command(&args));
    let whole =
        format!("External program use requested: ({prog}), IGNORING send string option ((null))\n");
    let (pid, msg) = log.next();
    assert_eq!(pid, n.pid());
    assert_eq!(msg, whole);
    assert_eq!(log.next().1, start_line("4242"));
    // stdout: `nanny: ` and the first 255 bytes (so without the newline)
    n.out.wait(&format!("nanny: {}", start_line("4242")));
    assert_eq!(n.terminate(), 0);
    assert_eq!(
        n.lines()[..2],
        [whole[..255].to_string(), start_line("4242")]
    );
}
