//! The gateway connectivity check of fos mode (fos.md §6): is the default
//! gateway of the main routing table reachable? The original ran
//! `/sbin/ip route show` and up to three `/bin/ping -n -c 1 -w 1 GATEWAY`;
//! here the route comes from rtnetlink and the pings are ICMP echo
//! requests on a raw socket, with the same count and one-second deadlines.

use std::io::Read as _;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteType,
};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use crate::vip::Netlink;

/// Pings before the gateway counts as unreachable.
pub const TRIES: u16 = 3;
/// Deadline of each ping (`ping -w 1`).
pub const DEADLINE: Duration = Duration::from_secs(1);

/// Whether the default gateway answers (a missing default route counts as
/// unreachable).
pub async fn reachable(netlink: &Netlink) -> bool {
    let routes = match netlink.routes().await {
        Ok(r) => r,
        Err(e) => {
            tracing::info!("cannot read the routing table: {e}");
            return false;
        }
    };
    let Some(gw) = default_gateway(&routes) else {
        return false;
    };
    let id = (std::process::id() & 0xffff) as u16;
    for seq in 1..=TRIES {
        match ping(gw, id, seq, DEADLINE).await {
            Ok(true) => return true,
            Ok(false) => {}
            Err(e) => {
                tracing::info!("cannot ping {gw}: {}", lvs_util::errtext(&e));
                return false;
            }
        }
    }
    false
}

/// The gateway of the first IPv4 default route with a gateway in the main
/// table (`default via GATEWAY …`, the first such line of `ip route show`).
pub fn default_gateway(routes: &[RouteMessage]) -> Option<Ipv4Addr> {
    routes.iter().find_map(|r| {
        let table = r
            .attributes
            .iter()
            .find_map(|a| match a {
                RouteAttribute::Table(t) => Some(*t),
                _ => None,
            })
            .unwrap_or(u32::from(r.header.table));
        if table != u32::from(RouteHeader::RT_TABLE_MAIN)
            || r.header.destination_prefix_length != 0
            || r.header.kind != RouteType::Unicast
        {
            return None;
        }
        r.attributes.iter().find_map(|a| match a {
            RouteAttribute::Gateway(RouteAddress::Inet(gw)) => Some(*gw),
            _ => None,
        })
    })
}

/// An ICMP echo request (type 8) with `id` and `seq` in network byte order
/// and 56 bytes of payload, like ping's.
pub fn echo_request(id: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![8, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend((0..56u8).map(|i| i.wrapping_add(0x10)));
    let sum = checksum(&p);
    p[2..4].copy_from_slice(&sum.to_be_bytes());
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

/// Whether `packet` (an IPv4 datagram as a raw socket returns it) is the
/// echo reply from `from` to our request `id`/`seq`.
pub fn is_echo_reply(packet: &[u8], from: Ipv4Addr, id: u16, seq: u16) -> bool {
    let Some(&first) = packet.first() else {
        return false;
    };
    let ihl = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || ihl < 20 || packet.len() < ihl + 8 {
        return false;
    }
    let src = Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]);
    let icmp = &packet[ihl..];
    src == from
        && icmp[0] == 0
        && icmp[1] == 0
        && icmp[4..6] == id.to_be_bytes()
        && icmp[6..8] == seq.to_be_bytes()
}

/// Sends one echo request to `to` and waits up to `deadline` for its reply.
pub async fn ping(to: Ipv4Addr, id: u16, seq: u16, deadline: Duration) -> std::io::Result<bool> {
    let sock = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))?;
    sock.set_nonblocking(true)?;
    sock.set_cloexec(true)?;
    sock.send_to(
        &echo_request(id, seq),
        &SockAddr::from(SocketAddrV4::new(to, 0)),
    )?;
    // SAFETY: the Socket owns its descriptor, keeps it open until the
    // AsyncFd drops it and always returns the same one.
    let fd = unsafe { AsyncFd::register_with_interest(sock, tokio::io::Interest::READABLE) }?;
    let wait = async {
        let mut buf = [0u8; 1500];
        loop {
            let mut guard = fd.readable().await?;
            match guard.try_io(|s| s.get_ref().read(&mut buf)) {
                Ok(Ok(n)) if is_echo_reply(&buf[..n], to, id, seq) => return Ok(true),
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

    #[test]
    fn echo_request_checksums_to_zero() {
        let p = echo_request(0x1234, 2);
        assert_eq!(p.len(), 64);
        assert_eq!(&p[..2], &[8, 0]);
        assert_eq!(&p[4..8], &[0x12, 0x34, 0, 2]);
        assert_eq!(checksum(&p), 0);
        assert_eq!(checksum(&[0xff]), !0xff00);
    }

    fn reply(src: [u8; 4], typ: u8, id: u16, seq: u16) -> Vec<u8> {
        let mut ip = vec![0x45, 0, 0, 84, 0, 0, 0, 0, 64, 1, 0, 0];
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&[192, 0, 2, 1]);
        let mut icmp = echo_request(id, seq);
        icmp[0] = typ;
        ip.extend(icmp);
        ip
    }

    #[test]
    fn only_the_matching_reply_counts() {
        let gw = Ipv4Addr::new(192, 0, 2, 254);
        assert!(is_echo_reply(&reply([192, 0, 2, 254], 0, 7, 1), gw, 7, 1));
        assert!(!is_echo_reply(&reply([192, 0, 2, 253], 0, 7, 1), gw, 7, 1));
        assert!(!is_echo_reply(&reply([192, 0, 2, 254], 8, 7, 1), gw, 7, 1));
        assert!(!is_echo_reply(&reply([192, 0, 2, 254], 0, 8, 1), gw, 7, 1));
        assert!(!is_echo_reply(&reply([192, 0, 2, 254], 0, 7, 2), gw, 7, 1));
        assert!(!is_echo_reply(
            &reply([192, 0, 2, 254], 0, 7, 1)[..27],
            gw,
            7,
            1
        ));
        assert!(!is_echo_reply(&[], gw, 7, 1));
    }

    fn route(table: u8, len: u8, kind: RouteType, gw: Option<[u8; 4]>) -> RouteMessage {
        let mut r = RouteMessage::default();
        r.header.table = table;
        r.header.destination_prefix_length = len;
        r.header.kind = kind;
        if let Some(g) = gw {
            r.attributes
                .push(RouteAttribute::Gateway(RouteAddress::Inet(Ipv4Addr::from(
                    g,
                ))));
        }
        r
    }

    #[test]
    fn the_first_main_table_default_route_with_a_gateway() {
        let main = RouteHeader::RT_TABLE_MAIN;
        let routes = [
            route(255, 0, RouteType::Local, Some([127, 0, 0, 1])),
            route(main, 24, RouteType::Unicast, Some([192, 0, 2, 9])),
            route(main, 0, RouteType::Unreachable, None),
            route(main, 0, RouteType::Unicast, None),
            route(main, 0, RouteType::Unicast, Some([192, 0, 2, 254])),
            route(main, 0, RouteType::Unicast, Some([192, 0, 2, 253])),
        ];
        assert_eq!(
            default_gateway(&routes),
            Some(Ipv4Addr::new(192, 0, 2, 254))
        );
        assert_eq!(default_gateway(&routes[..4]), None);
        let mut big = route(
            RouteHeader::RT_TABLE_UNSPEC,
            0,
            RouteType::Unicast,
            Some([10, 0, 0, 1]),
        );
        big.attributes.push(RouteAttribute::Table(1000));
        assert_eq!(default_gateway(&[big]), None);
    }
}
