//! nanny across a veth link between two network namespaces: the checks, the
//! ICMP echo on the wire, unreachable hosts and ports, and a link that
//! flaps. nanny runs in the client namespace, the servers in the server
//! namespace; exact log lines and report-fd actions are checked.

mod support;

use std::io::Write as _;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use support::*;

/// Client 192.0.2.1/24, server 192.0.2.2/24.
fn pair(tag: &str) -> Option<Pair> {
    Pair::with(
        &format!("netns_nanny_{tag}"),
        &format!("ln{tag}"),
        "192.0.2.1/24",
        "192.0.2.2/24",
    )
}

fn args<'a>(host: &'a str, port: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "-h",
        host,
        "-p",
        "80",
        "-r",
        port,
        "-V",
        "198.51.100.1",
        "-t",
        "1",
        "--lvs",
    ];
    v.extend_from_slice(extra);
    v
}

#[test]
fn tcp_check_and_icmp_echo_on_the_wire() {
    let Some(pair) = pair("i") else { return };
    let listener = pair
        .server
        .enter(|| TcpListener::bind("192.0.2.2:0").unwrap());
    let srv = TcpServer::on(listener, answer(b"HTTP/1.0 200 OK\r\n\r\n"));
    let p = srv.port();
    // a raw ICMP socket in the server namespace sees the echo request
    let raw = pair.server.enter(|| {
        // SAFETY: plain socket(2).
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) };
        assert!(fd >= 0);
        // SAFETY: just created.
        unsafe { OwnedFd::from_raw_fd(fd) }
    });
    let mut n = Nanny::with_report(pair.nanny(&args("192.0.2.2", &p, &[])));
    n.report.wait("nanny1 state up");
    let pid = n.pid();
    assert_eq!(n.terminate(), 0);
    assert_eq!(
        n.report.all(),
        [
            "nanny1 result pass".to_string(),
            format!("nanny1 add tcp 198.51.100.1:80 192.0.2.2:{p} masq 1"),
            "nanny1 state up".into(),
            format!("nanny1 del tcp 198.51.100.1:80 192.0.2.2:{p}"),
        ]
    );
    assert_eq!(
        n.lines(),
        [
            "nanny: no monitor configured, assuming web service on port 80".to_string(),
            format!("starting LVS client monitor for 198.51.100.1:80 -> 192.0.2.2:{p}"),
            format!("[ active ] making 192.0.2.2:{p} available"),
            "Terminating due to signal 15".into(),
        ]
    );
    // find nanny's first echo request among what the raw socket queued
    let mut buf = [0u8; 2048];
    let mut found = false;
    for _ in 0..50 {
        // SAFETY: buffer of the given size.
        let got = unsafe {
            libc::recv(
                raw.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if got <= 0 {
            break;
        }
        let pkt = &buf[..got as usize];
        let ihl = usize::from(pkt[0] & 0x0f) * 4;
        let icmp = &pkt[ihl..];
        if pkt[12..16] == [192, 0, 2, 1] && icmp[0] == 8 {
            assert_eq!(icmp.len(), 64);
            assert_eq!(icmp[1], 0);
            let ident = (pid as u32 & 0x0fff) as u16;
            assert_eq!(icmp[4..6], ident.to_ne_bytes(), "identifier in host order");
            assert_eq!(icmp[6..8], 0u16.to_ne_bytes(), "first sequence number");
            assert!(icmp[8..].iter().all(|&b| b == 0));
            found = true;
            break;
        }
    }
    assert!(found, "no echo request from nanny seen");
}

#[test]
fn connect_timeout_to_a_silent_host() {
    let Some(pair) = pair("t") else { return };
    // 192.0.2.3 does not exist: no ARP answer, the connect never completes
    let mut n = Nanny::with_report(pair.nanny(&args("192.0.2.3", "80", &["-x", "HTTP"])));
    n.report.wait("nanny1 state down");
    assert_eq!(n.terminate(), 0);
    assert_eq!(
        n.lines(),
        [
            "starting LVS client monitor for 198.51.100.1:80 -> 192.0.2.3:80".to_string(),
            "CONNECT to 192.0.2.3:80 timed out".into(),
            "Terminating due to signal 15".into(),
        ]
    );
}

#[test]
fn udp_port_unreachable_and_reply() {
    let Some(pair) = pair("u") else { return };
    let sock = pair
        .server
        .enter(|| UdpSocket::bind("192.0.2.2:0").unwrap());
    let srv = UdpServer::on(sock, |req| {
        (req == b"status").then(|| b"OK running".to_vec())
    });
    let p = srv.port();
    let mut n =
        Nanny::with_report(pair.nanny(&args("192.0.2.2", &p, &["-u", "-s", "status", "-x", "OK"])));
    n.report.wait("nanny1 state up");
    assert_eq!(n.terminate(), 0);
    assert_eq!(
        n.report.all()[..2],
        [
            "nanny1 result pass".to_string(),
            format!("nanny1 add udp 198.51.100.1:80 192.0.2.2:{p} masq 1")
        ]
    );
    drop(srv);
    // a port with nothing behind it: ICMP port unreachable → ECONNREFUSED
    let mut n =
        Nanny::with_report(pair.nanny(&args("192.0.2.2", "9", &["-u", "-s", "x", "-x", "y"])));
    n.report.wait("nanny1 state down");
    assert_eq!(n.terminate(), 0);
    assert_eq!(n.lines()[1], "READ returned error 111:Connection refused");
}

#[test]
fn link_flap_removes_and_readds_after_reentry() {
    let Some(pair) = pair("f") else { return };
    let listener = pair
        .server
        .enter(|| TcpListener::bind("192.0.2.2:0").unwrap());
    let srv = TcpServer::on(listener, |mut c: TcpStream| {
        let _ = c.write_all(b"220 ready\r\n");
        std::thread::sleep(Duration::from_millis(50));
    });
    let p = srv.port();
    let mut n =
        Nanny::with_report(pair.nanny(&args("192.0.2.2", &p, &["-x", "220", "-a", "2", "-q"])));
    n.report.wait("nanny1 state up");
    pair.server.ip(&["link", "set", &pair.server_if, "down"]);
    n.report.wait("nanny1 state down");
    pair.server.ip(&["link", "set", &pair.server_if, "up"]);
    n.report.wait_count(2, |l| l == "nanny1 state up");
    assert_eq!(n.terminate(), 0);
    // raw results: reported on every change, so they alternate; every
    // failed check while the link was down is reported too
    let (failed, report): (Vec<String>, Vec<String>) = n
        .report
        .all()
        .into_iter()
        .partition(|l| l == "nanny1 failed");
    assert!(!failed.is_empty());
    let (results, report): (Vec<String>, Vec<String>) = report
        .into_iter()
        .partition(|l| l.starts_with("nanny1 result "));
    assert_eq!(results[0], "nanny1 result pass");
    assert!(results.len() >= 3, "{results:?}");
    assert!(results.windows(2).all(|w| w[0] != w[1]), "{results:?}");
    assert_eq!(
        report,
        [
            format!("nanny1 add tcp 198.51.100.1:80 192.0.2.2:{p} masq 1"),
            "nanny1 state up".to_string(),
            format!("nanny1 edit tcp 198.51.100.1:80 192.0.2.2:{p} masq 0"),
            "nanny1 state down".into(),
            format!("nanny1 edit tcp 198.51.100.1:80 192.0.2.2:{p} masq 1"),
            "nanny1 state up".into(),
            format!("nanny1 del tcp 198.51.100.1:80 192.0.2.2:{p}"),
        ]
    );
    let lines = n.lines();
    assert!(lines.contains(&format!(
        "[inactive] shutting down 192.0.2.2:{p} due to connection failure"
    )));
}
