//! nanny's checks against an IPv6 real server across a veth link between
//! two network namespaces: TCP with send/expect, UDP, the ICMPv6 echo on
//! the wire, and a server whose address goes away. nanny's command line
//! takes IPv4 addresses only for now, so the checks run through the
//! library (`nanny::check`), in the client namespace; their log lines are
//! checked.

mod support;

use std::net::{IpAddr, TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use lvs_util::ping::EchoSocket;
use nanny::check::{Expect, NetCheck, Outcome, Pinger};
use nanny::sys::SignalFd;
use support::*;

const CLIENT: &str = "2001:db8::1";
const SERVER: &str = "2001:db8::2";

/// Client 2001:db8::1/64, server 2001:db8::2/64.
fn pair(tag: &str) -> Option<Pair> {
    Pair::with(
        &format!("netns_nanny_ipv6_{tag}"),
        &format!("l6{tag}"),
        &format!("{CLIENT}/64"),
        &format!("{SERVER}/64"),
    )
}

impl Pair {
    /// Runs one TCP or UDP check from the client namespace (timeout 1 s);
    /// its outcome and every log line.
    fn check(
        &self,
        port: u16,
        udp: bool,
        send: Option<&[u8]>,
        expect: Option<&[u8]>,
    ) -> (Outcome, Vec<String>) {
        let send = send.map(<[u8]>::to_vec);
        let expect = expect.map(<[u8]>::to_vec);
        self.client.enter(move || {
            let term = SignalFd::new(&[libc::SIGTERM]).unwrap();
            let check = NetCheck {
                host: SERVER.parse().unwrap(),
                port,
                udp,
                send,
                expect: Expect::new(expect.as_deref(), false),
                timeout: Duration::from_secs(1),
            };
            let mut logs = Vec::new();
            let out = check.run(&term, &mut |_, s| logs.push(s));
            (out, logs)
        })
    }

    /// One ICMPv6 echo from the client that waits for the reply (1 s).
    fn ping(&self, seq: u16) -> bool {
        self.client.block_on(async move || {
            let to: IpAddr = SERVER.parse().unwrap();
            lvs_util::ping::ping(to, 0, 0x4242, seq, &[0; 8], Duration::from_secs(1))
                .await
                .unwrap()
        })
    }
}

#[test]
fn tcp_send_expect_over_ipv6() {
    let Some(pair) = pair("t") else { return };
    let listener = pair
        .server
        .enter(|| TcpListener::bind(format!("[{SERVER}]:0")).unwrap());
    let srv = TcpServer::on(listener, answer(b"HTTP/1.0 200 OK\r\n\r\n"));
    let p = srv.addr.port();
    let get = b"GET / HTTP/1.0\r\n\r\n".as_slice();

    let (out, logs) = pair.check(p, false, Some(get), Some(b"HTTP"));
    assert_eq!(out, Outcome::Pass, "{logs:?}");
    assert!(
        logs.contains(&"READ got len=4, text=HTTP".to_string()),
        "{logs:?}"
    );

    let (out, logs) = pair.check(p, false, Some(get), Some(b"SMTP"));
    assert_eq!(out, Outcome::Fail, "{logs:?}");
    assert!(
        logs.contains(&"READ reply did not match".to_string()),
        "{logs:?}"
    );

    // nothing listens on port 9: refused
    let (out, logs) = pair.check(9, false, Some(get), Some(b"HTTP"));
    assert_eq!(out, Outcome::Fail);
    assert!(
        logs.contains(&format!(
            "Failed to connect [{SERVER}]:9 ping socket: Connection refused"
        )),
        "{logs:?}"
    );
}

#[test]
fn udp_over_ipv6() {
    let Some(pair) = pair("u") else { return };
    let sock = pair
        .server
        .enter(|| UdpSocket::bind(format!("[{SERVER}]:0")).unwrap());
    let srv = UdpServer::on(sock, |req| {
        (req == b"status").then(|| b"OK running".to_vec())
    });
    let p = srv.addr.port();
    let (out, logs) = pair.check(p, true, Some(b"status"), Some(b"OK"));
    assert_eq!(out, Outcome::Pass, "{logs:?}");
    // a reply that does not start with the expect string
    let (out, _) = pair.check(p, true, Some(b"status"), Some(b"KO"));
    assert_eq!(out, Outcome::Fail);
    // a port with nothing behind it: ICMPv6 port unreachable → ECONNREFUSED
    let (out, logs) = pair.check(9, true, Some(b"x"), Some(b"y"));
    assert_eq!(out, Outcome::Fail);
    assert!(
        logs.contains(&"READ returned error 111:Connection refused".to_string()),
        "{logs:?}"
    );
}

/// The first ICMPv6 echo request from the client that `raw` (in the server
/// namespace) queued within 5 s.
fn echo_request_seen(raw: &EchoSocket) -> Option<Vec<u8>> {
    let end = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 2048];
    while Instant::now() < end {
        match raw.recv(&mut buf) {
            Ok((n, Some(from))) if from == CLIENT.parse::<IpAddr>().unwrap() && buf[0] == 128 => {
                return Some(buf[..n].to_vec());
            }
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    None
}

#[test]
fn icmpv6_echo_up_then_down_when_the_address_goes_away() {
    let Some(pair) = pair("i") else { return };
    let listener = pair
        .server
        .enter(|| TcpListener::bind(format!("[{SERVER}]:0")).unwrap());
    let srv = TcpServer::on(listener, banner(b"220 ready\r\n"));
    let p = srv.addr.port();
    let raw = pair.server.enter(|| EchoSocket::open(true).unwrap());

    // nanny's echo: sent, never awaited (gaps.md E12), on the wire as the
    // IPv4 one but ICMPv6 type 128
    let sent = pair.client.enter(|| {
        let mut pinger = Pinger::new(SERVER.parse().unwrap()).unwrap();
        pinger.ping()
    });
    assert!(sent);
    let req = echo_request_seen(&raw).expect("no echo request from nanny seen");
    assert_eq!(req.len(), 64);
    assert_eq!(req[1], 0);
    let ident = (std::process::id() & 0x0fff) as u16;
    assert_eq!(req[4..6], ident.to_ne_bytes(), "identifier in host order");
    assert_eq!(req[6..8], 0u16.to_ne_bytes(), "first sequence number");
    assert!(req[8..].iter().all(|&b| b == 0));

    // the server answers: the echo and the check pass
    assert!(pair.ping(1), "no ICMPv6 echo reply");
    let (out, logs) = pair.check(p, false, None, Some(b"220"));
    assert_eq!(out, Outcome::Pass, "{logs:?}");

    // the server's address goes away: no reply, and the check fails
    pair.server
        .ip(&["addr", "del", "2001:db8::2/64", "dev", &pair.server_if]);
    assert!(!pair.ping(2), "an echo reply from a removed address");
    let (out, logs) = pair.check(p, false, None, Some(b"220"));
    assert_eq!(out, Outcome::Fail);
    assert!(
        logs.contains(&format!("CONNECT to [{SERVER}]:{p} timed out"))
            || logs
                .iter()
                .any(|l| l.starts_with(&format!("Failed to connect [{SERVER}]:{p} ping socket: "))),
        "{logs:?}"
    );
    // nanny's own echo is still sent: only a failed send fails a check
    let sent = pair.client.enter(|| {
        let mut pinger = Pinger::new(SERVER.parse().unwrap()).unwrap();
        pinger.ping()
    });
    assert!(sent);
}
