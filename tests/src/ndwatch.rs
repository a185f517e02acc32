//! The IPv6 counterpart of [`crate::arpwatch`]: every neighbour
//! advertisement for a given target address that one namespace receives,
//! with when it arrived, from an `AF_PACKET` socket for IPv6 frames.

use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use crate::arpwatch::mac_text;
use crate::netns::{FrameWatch, Netns, PacketCapture};

/// The fields of a neighbour advertisement the tests look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Na {
    /// Ethernet destination.
    pub eth_dst: [u8; 6],
    /// Ethernet source.
    pub eth_src: [u8; 6],
    /// IPv6 source.
    pub src: Ipv6Addr,
    /// IPv6 destination.
    pub dst: Ipv6Addr,
    /// Hop limit.
    pub hop_limit: u8,
    /// Router flag.
    pub router: bool,
    /// Solicited flag.
    pub solicited: bool,
    /// Override flag.
    pub override_: bool,
    /// The advertised address.
    pub target: Ipv6Addr,
    /// The target link-layer address option, if present.
    pub lladdr: Option<[u8; 6]>,
}

impl Na {
    /// Unsolicited, to all nodes, with Override: what pulse and send_arp
    /// send for a VIP.
    pub fn is_unsolicited_override(&self) -> bool {
        !self.solicited && self.override_ && self.dst == "ff02::1".parse::<Ipv6Addr>().unwrap()
    }

    /// The advertised MAC as `ip link` prints it.
    pub fn mac(&self) -> Option<String> {
        self.lladdr.map(mac_text)
    }
}

/// Parses an Ethernet frame carrying an IPv6 ICMPv6 neighbour
/// advertisement (no extension headers); `None` for anything else.
pub fn parse(frame: &[u8]) -> Option<Na> {
    if frame.len() < 14 + 40 + 24 || frame[12..14] != PacketCapture::IPV6.to_be_bytes() {
        return None;
    }
    let ip = &frame[14..];
    if ip[0] >> 4 != 6 || ip[6] != 58 {
        return None;
    }
    let icmp = &ip[40..];
    if icmp[0] != 136 || icmp[1] != 0 {
        return None;
    }
    let addr = |b: &[u8]| Ipv6Addr::from(<[u8; 16]>::try_from(&b[..16]).expect("16 bytes"));
    let mac = |b: &[u8]| <[u8; 6]>::try_from(&b[..6]).expect("six bytes");
    let mut lladdr = None;
    let mut opts = &icmp[24..];
    while opts.len() >= 8 && opts[1] != 0 {
        let len = usize::from(opts[1]) * 8;
        if opts.len() < len {
            break;
        }
        if opts[0] == 2 {
            lladdr = Some(mac(&opts[2..]));
        }
        opts = &opts[len..];
    }
    Some(Na {
        eth_dst: mac(&frame[0..]),
        eth_src: mac(&frame[6..]),
        src: addr(&ip[8..]),
        dst: addr(&ip[24..]),
        hop_limit: ip[7],
        router: icmp[4] & 0x80 != 0,
        solicited: icmp[4] & 0x40 != 0,
        override_: icmp[4] & 0x20 != 0,
        target: addr(&icmp[8..]),
        lladdr,
    })
}

/// The next neighbour advertisement for `target` that `cap` (an IPv6
/// capture) reads within `timeout`, with its frame.
pub fn recv_na(cap: &PacketCapture, target: Ipv6Addr, timeout: Duration) -> Option<(Vec<u8>, Na)> {
    let end = Instant::now() + timeout;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        let frame = cap.recv(left)?;
        if let Some(na) = parse(&frame).filter(|n| n.target == target) {
            return Some((frame, na));
        }
    }
    None
}

/// One advertisement for the watched address.
#[derive(Debug, Clone)]
pub struct Seen {
    /// When the watcher read it.
    pub at: Instant,
    pub na: Na,
}

/// A background thread recording the neighbour advertisements for one
/// address, as one namespace receives them. Stops when dropped.
pub struct NdWatch(FrameWatch<Na>);

impl NdWatch {
    /// Starts watching, in `ns`, for advertisements whose target is `ip`.
    pub fn start(ns: &Netns, ip: &str) -> NdWatch {
        let ip: Ipv6Addr = ip.parse().expect("an IPv6 address");
        NdWatch(FrameWatch::start(PacketCapture::ipv6(ns), move |f| {
            parse(f).filter(|n| n.target == ip)
        }))
    }

    /// Everything recorded so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.0
            .seen()
            .into_iter()
            .map(|(at, na)| Seen { at, na })
            .collect()
    }

    /// How many unsolicited advertisements with Override from MAC `mac`
    /// were read at or after `t`.
    pub fn unsolicited_from(&self, t: Instant, mac: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| {
                s.at >= t && s.na.is_unsolicited_override() && s.na.mac().as_deref() == Some(mac)
            })
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An unsolicited NA as send_arp builds it (checksum not checked here).
    fn na(flags: u8, opt: bool) -> Vec<u8> {
        let vip: Ipv6Addr = "2001:db8::100".parse().unwrap();
        let mut f = vec![0x33, 0x33, 0, 0, 0, 1, 2, 0, 0, 0, 0, 7, 0x86, 0xdd];
        f.extend([0x60, 0, 0, 0, 0, if opt { 32 } else { 24 }, 58, 255]);
        f.extend(vip.octets());
        f.extend("ff02::1".parse::<Ipv6Addr>().unwrap().octets());
        f.extend([136, 0, 0, 0, flags, 0, 0, 0]);
        f.extend(vip.octets());
        if opt {
            f.extend([2, 1, 2, 0, 0, 0, 0, 7]);
        }
        f
    }

    #[test]
    fn parses_an_unsolicited_override_na() {
        let n = parse(&na(0x20, true)).unwrap();
        assert!(n.is_unsolicited_override());
        assert_eq!(n.target, "2001:db8::100".parse::<Ipv6Addr>().unwrap());
        assert_eq!(n.mac().as_deref(), Some("02:00:00:00:00:07"));
        assert_eq!(n.hop_limit, 255);
        assert!(!n.router);
        let n = parse(&na(0x60, false)).unwrap();
        assert!(n.solicited && !n.is_unsolicited_override());
        assert_eq!(n.lladdr, None);
    }

    #[test]
    fn other_frames_are_refused() {
        let good = na(0x20, true);
        assert!(parse(&good[..60]).is_none(), "short");
        let mut ns = good.clone();
        ns[54] = 135;
        assert!(parse(&ns).is_none(), "a solicitation");
        let mut udp = good.clone();
        udp[20] = 17;
        assert!(parse(&udp).is_none(), "not ICMPv6");
        let mut arp = good;
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert!(parse(&arp).is_none(), "EtherType");
    }
}
