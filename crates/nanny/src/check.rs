//! The TCP/UDP check with send/expect (nanny.md §4.1, §4.2) and the ICMP
//! echo sent before it (gaps.md E12), over IPv4 or IPv6 (ICMPv6 echo).
//!
//! Blocking system calls with poll(2); SIGTERM/SIGINT interrupt any wait.
//! Log lines go through a caller-supplied sink so tests can see them.
//!
//! Deliberate fixes: a reply split over several segments is read until the
//! expected length, a regex match, EOF or the timeout (E8); a UDP reply
//! without an expect string passes (E4); writes use `MSG_NOSIGNAL` (E17).

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use lvs_util::ping::{EchoSocket, echo_request};

use crate::core::Level;
use crate::regex::PosixRegex;
use crate::sys::{SignalFd, Wait, errno, errno_text, wait_fd};

/// Where check code writes its log lines.
pub type LogSink<'a> = &'a mut dyn FnMut(Level, String);

/// The most a reply is read (the original's buffer minus the NUL).
pub const MAX_READ: usize = 254;

/// How the reply is judged.
#[derive(Debug)]
pub enum Expect {
    /// No expect string.
    Nothing,
    /// Exactly `*`: passes once one read (of 1 byte) succeeded, whatever
    /// it returned (even EOF); a read error still fails.
    Anything,
    /// The reply must start with these bytes.
    Prefix(Vec<u8>),
    /// `--regex`: a compiled expression, or its compile error.
    Regex(Result<PosixRegex, String>),
}

impl Expect {
    /// Builds the matcher for an (escape-translated) expect string.
    pub fn new(expect: Option<&[u8]>, regex: bool) -> Expect {
        match expect {
            None => Expect::Nothing,
            Some(e) if regex => Expect::Regex(PosixRegex::new(e)),
            Some(b"*") => Expect::Anything,
            Some(e) => Expect::Prefix(e.to_vec()),
        }
    }

    /// Bytes requested from the socket.
    fn wanted(&self) -> usize {
        match self {
            Expect::Nothing | Expect::Anything => 1,
            Expect::Prefix(p) => p.len().min(MAX_READ),
            Expect::Regex(_) => MAX_READ,
        }
    }
}

/// Result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    /// SIGTERM/SIGINT arrived during the check.
    Terminated(i32),
}

/// Renders bytes for a log line: lossy UTF-8, logged as data.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Judges the bytes read (pure). `got` is what was read before EOF or the
/// deadline.
pub fn judge(expect: &Expect, got: &[u8], dest: &str, log: LogSink<'_>) -> bool {
    match expect {
        Expect::Nothing | Expect::Anything => true,
        Expect::Regex(Ok(re)) => {
            let ok = re.is_match(got);
            if !ok {
                log(Level::Verbose, "READ reply did not match".into());
            }
            ok
        }
        Expect::Regex(Err(_)) => false,
        Expect::Prefix(p) => {
            let want = p.len().min(MAX_READ);
            if got.len() < want {
                log(
                    Level::Info,
                    format!("READ from {dest} was too short[{}>={want}]", got.len()),
                );
                return false;
            }
            let ok = got[..want] == p[..want];
            if !ok {
                log(Level::Verbose, "READ reply did not match".into());
            }
            ok
        }
    }
}

/// Sends one ICMP (IPv4) or ICMPv6 (IPv6) echo request per check through
/// a raw socket (`lvs_util::ping`); the reply is never read.
#[derive(Debug)]
pub struct Pinger {
    sock: EchoSocket,
    host: IpAddr,
    ident: u16,
    seq: u16,
}

/// The 64-byte echo request to `host`'s family: identifier and sequence in
/// host byte order, as the original stores them; 56 zero data bytes. (The
/// kernel fills in an ICMPv6 checksum.)
pub fn echo_packet(host: IpAddr, ident: u16, seq: u16) -> Vec<u8> {
    // echo_request writes network byte order: hand it the host-order bytes
    let host_order = |x: u16| u16::from_be_bytes(x.to_ne_bytes());
    echo_request(host.is_ipv6(), host_order(ident), host_order(seq), &[0; 56])
}

impl Pinger {
    /// Opens the raw socket of `host`'s family. Incoming ICMP is filtered
    /// out (the reply is never read) so that many nannies do not queue each
    /// other's replies.
    pub fn new(host: IpAddr) -> std::io::Result<Pinger> {
        let sock = EchoSocket::open(host.is_ipv6())?;
        sock.deaf();
        Ok(Pinger {
            sock,
            host,
            ident: (std::process::id() & 0x0FFF) as u16,
            seq: 0,
        })
    }

    /// Sends one echo request; false if the send failed.
    pub fn ping(&mut self) -> bool {
        let pkt = echo_packet(self.host, self.ident, self.seq);
        self.seq = self.seq.wrapping_add(1);
        matches!(self.sock.send(self.host, 0, &pkt), Ok(n) if n == pkt.len())
    }
}

/// `host:port` as the C library's socket address (`sockaddr_in` or
/// `sockaddr_in6`) and its length.
fn sockaddr(host: IpAddr, port: u16) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all zeroes is a valid sockaddr_storage.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match host {
        IpAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: port.to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(a).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is large and aligned enough for any
            // socket address.
            unsafe { std::ptr::write((&raw mut ss).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        IpAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: port.to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: as above.
            unsafe { std::ptr::write((&raw mut ss).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

/// A TCP or UDP check against one host and port.
#[derive(Debug)]
pub struct NetCheck {
    pub host: IpAddr,
    pub port: u16,
    pub udp: bool,
    pub send: Option<Vec<u8>>,
    pub expect: Expect,
    /// Connect and read timeout (the check interval).
    pub timeout: Duration,
}

impl NetCheck {
    /// `HOST:PORT` for log lines (`[HOST]:PORT` for IPv6).
    pub fn dest(&self) -> String {
        SocketAddr::new(self.host, self.port).to_string()
    }

    /// Runs the check (§4.1 steps 2–8).
    pub fn run(&self, term: &SignalFd, log: LogSink<'_>) -> Outcome {
        let dest = self.dest();
        let proto = if self.udp { "UDP" } else { "TCP" };
        log(
            Level::Verbose,
            format!(
                "Opening {proto} socket to remote service port {}...",
                self.port
            ),
        );
        let kind = if self.udp {
            libc::SOCK_DGRAM
        } else {
            libc::SOCK_STREAM
        };
        let family = if self.host.is_ipv6() {
            libc::AF_INET6
        } else {
            libc::AF_INET
        };
        // SAFETY: plain socket(2).
        let fd =
            unsafe { libc::socket(family, kind | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            log(
                Level::Verbose,
                format!("Failed to create socket: {}", errno_text(errno())),
            );
            return Outcome::Fail;
        }
        // SAFETY: fd just created.
        let sock = unsafe { OwnedFd::from_raw_fd(fd) };
        let fd = sock.as_raw_fd();

        log(
            Level::Verbose,
            "Connecting socket to remote address...".into(),
        );
        let (sa, len) = sockaddr(self.host, self.port);
        // SAFETY: a socket address of the given length.
        let rc = unsafe { libc::connect(fd, (&raw const sa).cast(), len) };
        if rc < 0 && errno() != libc::EINPROGRESS {
            log(
                Level::Verbose,
                format!(
                    "Failed to connect {dest} ping socket: {}",
                    errno_text(errno())
                ),
            );
            return Outcome::Fail;
        }
        if rc < 0 {
            log(Level::Verbose, "DEBUG -- Posting CONNECT poll()".into());
            match wait_fd(fd, libc::POLLOUT, term, Instant::now() + self.timeout) {
                Wait::Term(s) => return Outcome::Terminated(s),
                Wait::Timeout => {
                    log(Level::Info, format!("CONNECT to {dest} timed out"));
                    return Outcome::Fail;
                }
                Wait::Error(e) => {
                    log(
                        Level::Verbose,
                        format!("CONNECT poll() call to {dest} failed: {}", errno_text(e)),
                    );
                    return Outcome::Fail;
                }
                Wait::Ready(..) => {}
            }
            let err = so_error(fd);
            if err != 0 {
                log(
                    Level::Verbose,
                    format!("Failed to connect {dest} ping socket: {}", errno_text(err)),
                );
                return Outcome::Fail;
            }
        }

        if let Some(send) = &self.send {
            log(
                Level::Verbose,
                format!("Sending len={}, text=\"{}\"", send.len(), text(send)),
            );
            match self.write_all(fd, send, term) {
                Ok(()) => {}
                Err(Err(s)) => return Outcome::Terminated(s),
                Err(Ok(e)) => {
                    log(
                        Level::Info,
                        format!(
                            "WRITE operation for {dest} returned error: {}",
                            errno_text(e)
                        ),
                    );
                    return Outcome::Fail;
                }
            }
        }

        if matches!(self.expect, Expect::Nothing) && !self.udp {
            return Outcome::Pass;
        }
        // A regex that did not compile (its error is logged at the start of
        // every check by the caller) still waits for and reads the reply,
        // then fails in `judge`, as the original does.
        self.read_reply(fd, &dest, term, log)
    }

    /// Writes everything (`MSG_NOSIGNAL`), waiting for writability as needed.
    /// `Err(Ok(errno))` on error, `Err(Err(signal))` on termination.
    fn write_all(&self, fd: i32, data: &[u8], term: &SignalFd) -> Result<(), Result<i32, i32>> {
        let deadline = Instant::now() + self.timeout;
        let mut off = 0;
        while off < data.len() || data.is_empty() {
            // SAFETY: buffer slice within bounds.
            let n = unsafe {
                libc::send(
                    fd,
                    data[off..].as_ptr().cast(),
                    data.len() - off,
                    libc::MSG_NOSIGNAL,
                )
            };
            if n >= 0 {
                off += n as usize;
                if data.is_empty() {
                    break;
                }
                continue;
            }
            let e = errno();
            if e != libc::EAGAIN {
                return Err(Ok(e));
            }
            match wait_fd(fd, libc::POLLOUT, term, deadline) {
                Wait::Ready(..) => {}
                Wait::Term(s) => return Err(Err(s)),
                Wait::Timeout => return Err(Ok(libc::ETIMEDOUT)),
                Wait::Error(e) => return Err(Ok(e)),
            }
        }
        Ok(())
    }

    fn read_reply(&self, fd: i32, dest: &str, term: &SignalFd, log: LogSink<'_>) -> Outcome {
        let want = self.expect.wanted();
        let deadline = Instant::now() + self.timeout;
        let mut buf = [0u8; MAX_READ];
        let mut got = 0usize;
        loop {
            log(Level::Verbose, "DEBUG -- Posting READ poll()".into());
            match wait_fd(fd, libc::POLLIN, term, deadline) {
                Wait::Term(s) => return Outcome::Terminated(s),
                Wait::Timeout if got == 0 => {
                    log(Level::Info, format!("READ to {dest} timed out"));
                    return Outcome::Fail;
                }
                Wait::Timeout => break,
                Wait::Error(e) => {
                    log(
                        Level::Info,
                        format!(
                            "READ poll() call to {dest} failed with err#{e}: {}",
                            errno_text(e)
                        ),
                    );
                    return Outcome::Fail;
                }
                Wait::Ready(rc, rev) => log(
                    Level::Verbose,
                    format!("DEBUG -- READ poll() completed ({rc},{rev})"),
                ),
            }
            log(
                Level::Verbose,
                format!("Posting READ I/O; expecting {} character(s)...", want - got),
            );
            // SAFETY: reads into the unused tail of `buf`.
            let n = unsafe { libc::recv(fd, buf[got..want].as_mut_ptr().cast(), want - got, 0) };
            if n < 0 {
                let e = errno();
                if e == libc::EAGAIN {
                    continue;
                }
                log(
                    Level::Info,
                    format!("READ returned error {e}:{}", errno_text(e)),
                );
                return Outcome::Fail;
            }
            log(Level::Verbose, format!("DEBUG -- READ returned {n}"));
            got += n as usize;
            if self.udp && matches!(self.expect, Expect::Nothing) {
                // gaps.md E4: any reply (even an empty datagram) passes.
                return Outcome::Pass;
            }
            // `*`: the one read succeeded (even at EOF), which is enough;
            // with a regex that did not compile there is nothing to wait for.
            let done = n == 0
                || self.udp
                || matches!(self.expect, Expect::Anything | Expect::Regex(Err(_)))
                || got >= want
                || matches!(&self.expect, Expect::Regex(Ok(re)) if re.is_match(&buf[..got]));
            if done {
                break;
            }
        }
        if let Expect::Prefix(p) = &self.expect {
            log(
                Level::Verbose,
                format!("READ expected len={}, text=\"{}\"", p.len(), text(p)),
            );
        }
        log(
            Level::Verbose,
            format!("READ got len={got}, text={}", text(&buf[..got])),
        );
        if judge(&self.expect, &buf[..got], dest, log) {
            Outcome::Pass
        } else {
            Outcome::Fail
        }
    }
}

fn so_error(fd: i32) -> i32 {
    let mut err: i32 = 0;
    let mut len = std::mem::size_of::<i32>() as u32;
    // SAFETY: int-sized option buffer.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&raw mut err).cast(),
            &mut len,
        )
    };
    if rc < 0 { errno() } else { err }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(expect: &Expect, got: &[u8]) -> (bool, Vec<String>) {
        let mut logs = Vec::new();
        let ok = judge(expect, got, "192.0.2.5:80", &mut |l, s| {
            if l == Level::Info {
                logs.push(s)
            }
        });
        (ok, logs)
    }

    #[test]
    fn prefix_rules() {
        let e = Expect::new(Some(b"HTTP"), false);
        assert_eq!(j(&e, b"HTTP"), (true, vec![]));
        assert_eq!(j(&e, b"HTTX"), (false, vec![]));
        assert_eq!(
            j(&e, b"HTT"),
            (
                false,
                vec!["READ from 192.0.2.5:80 was too short[3>=4]".into()]
            )
        );
        assert_eq!(
            j(&e, b""),
            (
                false,
                vec!["READ from 192.0.2.5:80 was too short[0>=4]".into()]
            )
        );
        // only the first 254 bytes of a long expect string are compared
        let long = vec![b'a'; 300];
        let e = Expect::new(Some(&long), false);
        assert!(j(&e, &long[..254]).0);
    }

    #[test]
    fn star_regex_and_nothing() {
        assert!(matches!(Expect::new(Some(b"*"), false), Expect::Anything));
        assert!(matches!(Expect::new(Some(b"*"), true), Expect::Regex(_)));
        assert!(matches!(Expect::new(None, true), Expect::Nothing));
        let e = Expect::new(Some(br"^HTTP/1\.[01] 200"), true);
        assert!(j(&e, b"HTTP/1.0 200 OK").0);
        assert_eq!(j(&e, b"HTTP/1.0 500 Oops"), (false, vec![]));
        let e = Expect::new(Some(b"a(b"), true);
        assert!(!j(&e, b"ab").0);
        assert!(j(&Expect::Nothing, b"x").0);
    }

    #[test]
    fn echo_request_layout() {
        use lvs_util::ping::checksum;
        let p = echo_packet(IpAddr::from([192, 0, 2, 5]), 0x0123, 1);
        assert_eq!(p.len(), 64);
        assert_eq!(&p[0..2], &[8, 0]);
        assert_eq!(&p[4..8], &[0x23, 0x01, 0x01, 0x00]); // host order (x86)
        assert!(p[8..].iter().all(|&b| b == 0));
        assert_eq!(checksum(&p), 0, "checksum verifies");
    }

    #[test]
    fn icmpv6_echo_request_layout() {
        let p = echo_packet("2001:db8::5".parse().unwrap(), 0x0123, 1);
        assert_eq!(p.len(), 64);
        assert_eq!(&p[0..4], &[128, 0, 0, 0]); // the kernel sums ICMPv6
        assert_eq!(&p[4..8], &[0x23, 0x01, 0x01, 0x00]); // host order (x86)
        assert!(p[8..].iter().all(|&b| b == 0));
    }

    #[test]
    fn socket_addresses_of_both_families() {
        let (sa, len) = sockaddr("192.0.2.5".parse().unwrap(), 80);
        assert_eq!(len as usize, std::mem::size_of::<libc::sockaddr_in>());
        // SAFETY: sockaddr_storage holds the sockaddr_in just written.
        let sin: libc::sockaddr_in = unsafe { std::ptr::read((&raw const sa).cast()) };
        assert_eq!(i32::from(sin.sin_family), libc::AF_INET);
        assert_eq!(u16::from_be(sin.sin_port), 80);
        assert_eq!(u32::from_be(sin.sin_addr.s_addr), 0xc000_0205);
        let (sa, len) = sockaddr("2001:db8::5".parse().unwrap(), 443);
        assert_eq!(len as usize, std::mem::size_of::<libc::sockaddr_in6>());
        // SAFETY: sockaddr_storage holds the sockaddr_in6 just written.
        let sin6: libc::sockaddr_in6 = unsafe { std::ptr::read((&raw const sa).cast()) };
        assert_eq!(i32::from(sin6.sin6_family), libc::AF_INET6);
        assert_eq!(u16::from_be(sin6.sin6_port), 443);
        assert_eq!(
            sin6.sin6_addr.s6_addr,
            "2001:db8::5"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets()
        );
    }

    #[test]
    fn ipv6_destinations_are_bracketed() {
        let check = |host: &str| NetCheck {
            host: host.parse().unwrap(),
            port: 80,
            udp: false,
            send: None,
            expect: Expect::Nothing,
            timeout: Duration::from_secs(1),
        };
        assert_eq!(check("192.0.2.5").dest(), "192.0.2.5:80");
        assert_eq!(check("2001:db8::5").dest(), "[2001:db8::5]:80");
    }
}
