//! What a host on the LAN sees of an address moving: every ARP frame whose
//! sender is a given IPv4 address, recorded with when it arrived, from an
//! `AF_PACKET` socket in that host's namespace (the client's, in the
//! failover tests). "Time to the first gratuitous ARP" measured here is the
//! same for every implementation: pulse's `send_arp` (ARP replies with
//! sender = target) and keepalived's (ARP requests with sender = target)
//! alike.

use std::net::Ipv4Addr;
use std::time::Instant;

use crate::netns::{FrameWatch, Netns, PacketCapture};

/// An ARP request (`op` 1).
pub const REQUEST: u16 = 1;
/// An ARP reply (`op` 2).
pub const REPLY: u16 = 2;

/// The fields of an Ethernet/IPv4 ARP frame the tests look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arp {
    /// 1 request, 2 reply.
    pub op: u16,
    /// Sender hardware address.
    pub sha: [u8; 6],
    /// Sender protocol address.
    pub spa: Ipv4Addr,
    /// Target hardware address.
    pub tha: [u8; 6],
    /// Target protocol address.
    pub tpa: Ipv4Addr,
}

impl Arp {
    /// A gratuitous ARP (request or reply): the sender announces its own
    /// address (sender IP = target IP).
    pub fn is_gratuitous(&self) -> bool {
        self.spa == self.tpa
    }

    /// The sender MAC as `ip link` prints it (lower case, `:`).
    pub fn sender_mac(&self) -> String {
        mac_text(self.sha)
    }
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses an Ethernet frame (as an `AF_PACKET`/`SOCK_RAW` socket returns
/// it: destination, source, EtherType, payload) carrying an Ethernet/IPv4
/// ARP packet; `None` for anything else (other EtherTypes, other hardware
/// or protocol types, a short frame, an unknown op).
pub fn parse(frame: &[u8]) -> Option<Arp> {
    if frame.len() < 14 + 28 || frame[12..14] != [0x08, 0x06] {
        return None;
    }
    let a = &frame[14..14 + 28];
    let be16 = |i: usize| u16::from_be_bytes([a[i], a[i + 1]]);
    // hardware Ethernet (1), protocol IPv4, lengths 6 and 4
    if be16(0) != 1 || be16(2) != 0x0800 || a[4] != 6 || a[5] != 4 {
        return None;
    }
    let op = be16(6);
    if op != REQUEST && op != REPLY {
        return None;
    }
    let mac = |i: usize| -> [u8; 6] { a[i..i + 6].try_into().expect("six bytes") };
    let ip = |i: usize| Ipv4Addr::new(a[i], a[i + 1], a[i + 2], a[i + 3]);
    Some(Arp {
        op,
        sha: mac(8),
        spa: ip(14),
        tha: mac(18),
        tpa: ip(24),
    })
}

/// One ARP frame from the watched address.
#[derive(Debug, Clone)]
pub struct Seen {
    /// When the watcher read it.
    pub at: Instant,
    pub arp: Arp,
}

/// A background thread recording the ARP frames sent by one address, as
/// one namespace receives them. Stops when dropped.
pub struct ArpWatch(FrameWatch<Arp>);

impl ArpWatch {
    /// Starts watching, in `ns`, for ARP frames whose sender IP is `ip`.
    pub fn start(ns: &Netns, ip: &str) -> ArpWatch {
        let ip: Ipv4Addr = ip.parse().expect("an IPv4 address");
        ArpWatch(FrameWatch::start(PacketCapture::arp(ns), move |f| {
            parse(f).filter(|a| a.spa == ip)
        }))
    }

    /// Everything recorded so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.0
            .seen()
            .into_iter()
            .map(|(at, arp)| Seen { at, arp })
            .collect()
    }

    /// The first gratuitous ARP read at or after `t`.
    pub fn first_gratuitous_after(&self, t: Instant) -> Option<Seen> {
        self.seen()
            .into_iter()
            .find(|s| s.at >= t && s.arp.is_gratuitous())
    }

    /// The first ARP frame of any kind (a gratuitous one or an answer to
    /// someone's request) read at or after `t`.
    pub fn first_after(&self, t: Instant) -> Option<Seen> {
        self.seen().into_iter().find(|s| s.at >= t)
    }

    /// The first gratuitous ARP read at or after `t` from sender MAC `mac`.
    pub fn first_gratuitous_from(&self, t: Instant, mac: &str) -> Option<Seen> {
        self.seen()
            .into_iter()
            .find(|s| s.at >= t && s.arp.is_gratuitous() && s.arp.sender_mac() == mac)
    }

    /// How many gratuitous ARPs were read at or after `t`.
    pub fn gratuitous_since(&self, t: Instant) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.at >= t && s.arp.is_gratuitous())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet frame with an ARP packet, padded to 60 bytes as on the
    /// wire.
    fn frame(op: u16, sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&[0xff; 6]);
        f.extend_from_slice(&sha);
        f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4]);
        f.extend_from_slice(&op.to_be_bytes());
        f.extend_from_slice(&sha);
        f.extend_from_slice(&spa);
        f.extend_from_slice(&tha);
        f.extend_from_slice(&tpa);
        f.resize(60, 0);
        f
    }

    const MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0xab, 0xcd];
    const VIP: [u8; 4] = [10, 10, 0, 100];

    #[test]
    fn gratuitous_requests_and_replies() {
        // keepalived: a request announcing the VIP (target MAC zero)
        let a = parse(&frame(1, MAC, VIP, [0; 6], VIP)).unwrap();
        assert_eq!(a.op, REQUEST);
        assert_eq!(a.spa, Ipv4Addr::new(10, 10, 0, 100));
        assert!(a.is_gratuitous());
        assert_eq!(a.sender_mac(), "02:00:5e:10:ab:cd");
        // pulse's send_arp: a reply with sender = target
        let a = parse(&frame(2, MAC, VIP, MAC, VIP)).unwrap();
        assert_eq!(a.op, REPLY);
        assert!(a.is_gratuitous());
        assert_eq!(a.tha, MAC);
    }

    #[test]
    fn an_answer_to_a_question_is_not_gratuitous() {
        let a = parse(&frame(2, MAC, VIP, [0x02, 1, 2, 3, 4, 5], [10, 10, 0, 10])).unwrap();
        assert!(!a.is_gratuitous());
        assert_eq!(a.tpa, Ipv4Addr::new(10, 10, 0, 10));
        // the unpadded 42-byte frame parses too
        let f = frame(1, MAC, [10, 10, 0, 10], [0; 6], VIP);
        let a = parse(&f[..42]).unwrap();
        assert_eq!((a.spa, a.tpa), (Ipv4Addr::new(10, 10, 0, 10), a.tpa));
        assert!(!a.is_gratuitous());
    }

    #[test]
    fn other_frames_are_refused() {
        let good = frame(1, MAC, VIP, [0; 6], VIP);
        assert!(parse(&good[..41]).is_none(), "short");
        let mut ipv4 = good.clone();
        ipv4[12..14].copy_from_slice(&[0x08, 0x00]);
        assert!(parse(&ipv4).is_none(), "EtherType IPv4");
        let mut hw = good.clone();
        hw[15] = 6; // IEEE 802 hardware type
        assert!(parse(&hw).is_none(), "hardware type");
        let mut ptype = good.clone();
        ptype[16..18].copy_from_slice(&[0x86, 0xdd]);
        assert!(parse(&ptype).is_none(), "protocol type");
        let mut plen = good.clone();
        plen[19] = 16;
        assert!(parse(&plen).is_none(), "protocol length");
        let mut rarp = good;
        rarp[20..22].copy_from_slice(&3u16.to_be_bytes());
        assert!(parse(&rarp).is_none(), "RARP op");
    }
}
