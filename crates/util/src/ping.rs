//! ICMP echo over IPv4 and ICMPv6 echo over IPv6 on raw sockets: the
//! request, the reply match, and one ping with a deadline. pulse's gateway
//! check (fos mode) waits for the reply; nanny only sends (gaps.md E12).

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

/// ICMP echo request and reply types of IPv4 and of ICMPv6.
const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;

/// `setsockopt` levels and names of the ICMP type filters (linux/icmp.h,
/// linux/icmpv6.h): a set bit drops that type.
const SOL_RAW: i32 = 255;
const ICMP_FILTER: i32 = 1;
const ICMP6_FILTER: i32 = 1;

/// The echo request: ICMP type 8 (IPv4) or ICMPv6 type 128 (IPv6), code 0,
/// `id` and `seq` in network byte order, then `payload`. The IPv4 checksum
/// is computed here; a raw ICMPv6 socket has the kernel fill in its
/// checksum (it covers the IPv6 pseudo-header), so it stays 0.
pub fn echo_request(v6: bool, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let kind = if v6 { ECHO_REQUEST_V6 } else { ECHO_REQUEST_V4 };
    let mut p = vec![kind, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(payload);
    if !v6 {
        let sum = checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

/// The Internet checksum (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Whether `packet`, read from the raw socket of `to`'s family with sender
/// `from`, is `to`'s echo reply to our request `id`/`seq`. An IPv4 raw
/// socket returns the whole datagram, whose header names the source; an
/// ICMPv6 one returns only the ICMPv6 message, so the sender is `from`.
pub fn is_echo_reply(packet: &[u8], from: IpAddr, to: IpAddr, id: u16, seq: u16) -> bool {
    let (icmp, src, kind) = match to {
        IpAddr::V4(_) => {
            let Some(&first) = packet.first() else {
                return false;
            };
            let ihl = usize::from(first & 0x0f) * 4;
            if first >> 4 != 4 || ihl < 20 || packet.len() < ihl + 8 {
                return false;
            }
            let src = Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]);
            (&packet[ihl..], IpAddr::V4(src), ECHO_REPLY_V4)
        }
        IpAddr::V6(_) => {
            if packet.len() < 8 {
                return false;
            }
            (packet, from, ECHO_REPLY_V6)
        }
    };
    src == to
        && icmp[0] == kind
        && icmp[1] == 0
        && icmp[4..6] == id.to_be_bytes()
        && icmp[6..8] == seq.to_be_bytes()
}

/// A raw ICMP (IPv4) or ICMPv6 (IPv6) socket, non-blocking and
/// close-on-exec. Needs CAP_NET_RAW.
#[derive(Debug)]
pub struct EchoSocket {
    sock: Socket,
    v6: bool,
}

impl EchoSocket {
    /// Opens the raw socket of one family.
    pub fn open(v6: bool) -> io::Result<EchoSocket> {
        let sock = if v6 {
            Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?
        } else {
            Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))?
        };
        sock.set_nonblocking(true)?;
        sock.set_cloexec(true)?;
        Ok(EchoSocket { sock, v6 })
    }

    /// Whether this is the ICMPv6 socket.
    pub fn is_v6(&self) -> bool {
        self.v6
    }

    /// Lets no ICMP in (every type filtered, the smallest receive buffer):
    /// for a sender that never reads, so that many of them do not queue
    /// each other's replies. Failure is harmless and ignored.
    pub fn deaf(&self) {
        self.filter(None);
        let _ = self.sock.set_recv_buffer_size(1);
    }

    /// Lets in echo replies only. Failure is harmless and ignored.
    pub fn replies_only(&self) {
        self.filter(Some(if self.v6 {
            ECHO_REPLY_V6
        } else {
            ECHO_REPLY_V4
        }));
    }

    /// Sets the type filter: everything blocked but `pass`.
    fn filter(&self, pass: Option<u8>) {
        use std::os::fd::AsRawFd as _;
        let fd = self.sock.as_raw_fd();
        if self.v6 {
            let mut bits = [!0u32; 8];
            if let Some(t) = pass {
                bits[usize::from(t >> 5)] &= !(1 << (t & 31));
            }
            // SAFETY: struct icmp6_filter is eight u32s, the size given.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::IPPROTO_ICMPV6,
                    ICMP6_FILTER,
                    bits.as_ptr().cast(),
                    std::mem::size_of_val(&bits) as libc::socklen_t,
                )
            };
        } else {
            let mut bits = !0u32;
            if let Some(t) = pass {
                bits &= !(1 << (t & 31));
            }
            // SAFETY: the option value is a u32 of the size given.
            unsafe { libc::setsockopt(fd, SOL_RAW, ICMP_FILTER, (&raw const bits).cast(), 4) };
        }
    }

    /// Sends `packet` to `to`; `scope` is the interface index an IPv6
    /// link-local address needs (0 otherwise).
    pub fn send(&self, to: IpAddr, scope: u32, packet: &[u8]) -> io::Result<usize> {
        let addr = match to {
            IpAddr::V4(a) => SocketAddr::new(IpAddr::V4(a), 0),
            IpAddr::V6(a) => SocketAddr::V6(SocketAddrV6::new(a, 0, 0, scope)),
        };
        self.sock.send_to(packet, &SockAddr::from(addr))
    }

    /// Reads one packet: its length and sender.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, Option<IpAddr>)> {
        // SAFETY: initialised bytes viewed as possibly uninitialised; recv
        // only writes to them.
        let raw = unsafe { &mut *(std::ptr::from_mut(buf) as *mut [MaybeUninit<u8>]) };
        let (n, from) = self.sock.recv_from(raw)?;
        Ok((n, from.as_socket().map(|s| s.ip())))
    }
}

impl std::os::fd::AsRawFd for EchoSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.sock.as_raw_fd()
    }
}

/// Sends one echo request with `payload` to `to` (`scope`: see
/// [`EchoSocket::send`]) and waits up to `deadline` for its reply:
/// `Ok(false)` when none came in time, `Err` when the socket could not be
/// opened or the request not sent.
pub async fn ping(
    to: IpAddr,
    scope: u32,
    id: u16,
    seq: u16,
    payload: &[u8],
    deadline: Duration,
) -> io::Result<bool> {
    let sock = EchoSocket::open(to.is_ipv6())?;
    sock.replies_only();
    sock.send(to, scope, &echo_request(to.is_ipv6(), id, seq, payload))?;
    // SAFETY: the Socket owns its descriptor, keeps it open until the
    // AsyncFd drops it and always returns the same one.
    let fd = unsafe { AsyncFd::register_with_interest(sock, tokio::io::Interest::READABLE) }?;
    let wait = async {
        let mut buf = [0u8; 1500];
        loop {
            let mut guard = fd.readable().await?;
            match guard.try_io(|s| s.get_ref().recv(&mut buf)) {
                Ok(Ok((n, Some(from)))) if is_echo_reply(&buf[..n], from, to, id, seq) => {
                    return Ok(true);
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => {}
            }
        }
    };
    match tokio::time::timeout(deadline, wait).await {
        Ok(r) => r,
        Err(_) => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    const PAYLOAD: [u8; 4] = [1, 2, 3, 4];

    #[test]
    fn the_ipv4_request_checksums_to_zero() {
        let p = echo_request(false, 0x1234, 2, &[0x10; 56]);
        assert_eq!(p.len(), 64);
        assert_eq!(&p[..2], &[8, 0]);
        assert_eq!(&p[4..8], &[0x12, 0x34, 0, 2]);
        assert_eq!(checksum(&p), 0);
        assert_eq!(checksum(&[0xff]), !0xff00);
        assert_eq!(checksum(&[]), 0xffff);
    }

    #[test]
    fn the_ipv6_request_leaves_the_checksum_to_the_kernel() {
        let p = echo_request(true, 0x1234, 0x0102, &PAYLOAD);
        assert_eq!(p, [128, 0, 0, 0, 0x12, 0x34, 1, 2, 1, 2, 3, 4]);
    }

    fn reply4(src: [u8; 4], kind: u8, id: u16, seq: u16) -> Vec<u8> {
        let mut ip = vec![0x45, 0, 0, 84, 0, 0, 0, 0, 64, 1, 0, 0];
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&[192, 0, 2, 1]);
        let mut icmp = echo_request(false, id, seq, &PAYLOAD);
        icmp[0] = kind;
        ip.extend(icmp);
        ip
    }

    #[test]
    fn only_the_matching_ipv4_reply_counts() {
        let gw = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 254));
        let other = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 253));
        let ok = |p: &[u8]| is_echo_reply(p, gw, gw, 7, 1);
        assert!(ok(&reply4([192, 0, 2, 254], 0, 7, 1)));
        // the header's source decides, not the socket's sender
        assert!(is_echo_reply(
            &reply4([192, 0, 2, 254], 0, 7, 1),
            other,
            gw,
            7,
            1
        ));
        assert!(!ok(&reply4([192, 0, 2, 253], 0, 7, 1)));
        assert!(!ok(&reply4([192, 0, 2, 254], 8, 7, 1)));
        assert!(!ok(&reply4([192, 0, 2, 254], 0, 8, 1)));
        assert!(!ok(&reply4([192, 0, 2, 254], 0, 7, 2)));
        assert!(!ok(&reply4([192, 0, 2, 254], 0, 7, 1)[..27]));
        assert!(!ok(&[]));
        let mut v6 = reply4([192, 0, 2, 254], 0, 7, 1);
        v6[0] = 0x65;
        assert!(!ok(&v6));
    }

    #[test]
    fn only_the_matching_ipv6_reply_counts() {
        let gw = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
        let other = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));
        let reply = |kind: u8, id: u16, seq: u16| {
            let mut p = echo_request(true, id, seq, &PAYLOAD);
            p[0] = kind;
            p
        };
        assert!(is_echo_reply(&reply(129, 7, 1), gw, gw, 7, 1));
        assert!(!is_echo_reply(&reply(129, 7, 1), other, gw, 7, 1));
        assert!(!is_echo_reply(&reply(128, 7, 1), gw, gw, 7, 1));
        assert!(!is_echo_reply(&reply(0, 7, 1), gw, gw, 7, 1));
        assert!(!is_echo_reply(&reply(129, 8, 1), gw, gw, 7, 1));
        assert!(!is_echo_reply(&reply(129, 7, 2), gw, gw, 7, 1));
        assert!(!is_echo_reply(&reply(129, 7, 1)[..7], gw, gw, 7, 1));
        let mut code = reply(129, 7, 1);
        code[1] = 1;
        assert!(!is_echo_reply(&code, gw, gw, 7, 1));
    }
}
