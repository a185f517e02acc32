//! Gratuitous ARP: the 60-byte frame Piranha's `send_arp` builds, its
//! argument parsers, and a packet socket that sends it. pulse links this
//! library and announces VIPs in-process; the `send_arp` binary is a thin
//! command-line shell around it (send-arp.md).
//!
//! The frame is an ARP *reply* whose sender and target fields both carry the
//! announced (IP, MAC) pair. Linux treats such a reply as gratuitous
//! (`arp_is_garp`: TPA == SPA and THA == SHA) and overrides an existing
//! neighbour entry for that IP, so the documented frame alone moves a
//! neighbour's entry to the new router (see docs/PERFORMANCE.md, "pulse").
//!
//! For an IPv6 address the announcement is an unsolicited neighbour
//! advertisement ([`na_frame`], RFC 4861 section 7.2.6): to all nodes, Override
//! set, so a neighbour's existing entry moves to the new MAC at once.

use std::ffi::CString;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Length of the frame on the wire (Ethernet minimum, padded with zeros).
pub const FRAME_LEN: usize = 60;

/// The Ethernet broadcast address.
pub const BROADCAST: [u8; 6] = [0xff; 6];

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;

/// Length of a neighbour advertisement frame: Ethernet (14), IPv6 (40),
/// ICMPv6 NA (24) and the target link-layer address option (8).
pub const NA_FRAME_LEN: usize = 86;

/// The Ethernet address of the IPv6 all-nodes group ff02::1.
pub const ALL_NODES_MAC: [u8; 6] = [0x33, 0x33, 0, 0, 0, 1];

/// The link-local all-nodes multicast address.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// ICMPv6 type of a neighbour advertisement.
const ND_NEIGHBOR_ADVERT: u8 = 136;
/// The NA's Override flag (first byte of the flags word; Router is 0x80,
/// Solicited 0x40).
const NA_OVERRIDE: u8 = 0x20;
/// IPv6 next header: ICMPv6.
const IPPROTO_ICMPV6: u8 = 58;

/// Builds send_arp's frame: Ethernet destination `eth_dest`, source `mac`,
/// an ARP reply (op 2) with SHA = THA = `mac` and SPA = TPA = `ip`, then 18
/// zero bytes of padding.
pub fn frame(ip: Ipv4Addr, mac: [u8; 6], eth_dest: [u8; 6]) -> [u8; FRAME_LEN] {
    let mut f = [0u8; FRAME_LEN];
    f[0..6].copy_from_slice(&eth_dest);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // hardware type: Ethernet
    f[16..18].copy_from_slice(&0x0800u16.to_be_bytes()); // protocol type: IPv4
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&2u16.to_be_bytes()); // operation: reply
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&ip.octets());
    f[32..38].copy_from_slice(&mac);
    f[38..42].copy_from_slice(&ip.octets());
    f
}

/// Builds an unsolicited neighbour advertisement for `ip` at `mac`:
/// Ethernet destination `eth_dest` (normally [`ALL_NODES_MAC`]), source
/// `mac`; IPv6 from `ip` to ff02::1, hop limit 255; ICMPv6 type 136 with
/// only the Override flag, target `ip`, and the target link-layer address
/// option carrying `mac`.
pub fn na_frame(ip: Ipv6Addr, mac: [u8; 6], eth_dest: [u8; 6]) -> [u8; NA_FRAME_LEN] {
    let mut f = [0u8; NA_FRAME_LEN];
    f[0..6].copy_from_slice(&eth_dest);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_IPV6.to_be_bytes());
    // IPv6 header: version 6, no traffic class or flow label
    f[14] = 0x60;
    f[18..20].copy_from_slice(&32u16.to_be_bytes()); // payload length
    f[20] = IPPROTO_ICMPV6;
    f[21] = 255; // hop limit: receivers drop ND messages with less
    f[22..38].copy_from_slice(&ip.octets());
    f[38..54].copy_from_slice(&ALL_NODES.octets());
    // ICMPv6 neighbour advertisement
    f[54] = ND_NEIGHBOR_ADVERT;
    f[58] = NA_OVERRIDE;
    f[62..78].copy_from_slice(&ip.octets());
    f[78] = 2; // option: target link-layer address
    f[79] = 1; // its length in units of 8 bytes
    f[80..86].copy_from_slice(&mac);
    let sum = icmpv6_checksum(ip, ALL_NODES, &f[54..]);
    f[56..58].copy_from_slice(&sum.to_be_bytes());
    f
}

/// The ICMPv6 checksum (RFC 4443 section 2.3) of `msg` (its checksum field zero)
/// sent from `src` to `dst`: the one's complement of the one's complement
/// sum over the IPv6 pseudo-header and the message.
pub fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            let hi = u32::from(pair[0]) << 8;
            let lo = pair.get(1).copied().map_or(0, u32::from);
            sum += hi | lo;
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&(msg.len() as u32).to_be_bytes());
    add(&[0, 0, 0, IPPROTO_ICMPV6]);
    add(msg);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The announcement frame for `ip`: a gratuitous ARP for IPv4, an
/// unsolicited neighbour advertisement for IPv6. `eth_dest` is the
/// Ethernet destination; for IPv6 the broadcast address stands for
/// [`ALL_NODES_MAC`] (what send_arp's callers pass for "everyone").
pub fn announcement(ip: IpAddr, mac: [u8; 6], eth_dest: [u8; 6]) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => frame(v4, mac, eth_dest).to_vec(),
        IpAddr::V6(v6) => {
            let dest = if eth_dest == BROADCAST {
                ALL_NODES_MAC
            } else {
                eth_dest
            };
            na_frame(v6, mac, dest).to_vec()
        }
    }
}

/// Parses a MAC the way send_arp does: six pairs of hex digits (either
/// case), each pair optionally followed by one `:`. Characters after the
/// sixth pair are ignored. `None` means "Invalid hardware address".
pub fn parse_hw_addr(s: &str) -> Option<[u8; 6]> {
    let mut bytes = s.bytes();
    let mut out = [0u8; 6];
    let mut peek: Option<u8> = bytes.next();
    for byte in &mut out {
        let hi = hex_digit(peek?)?;
        let lo = hex_digit(bytes.next()?)?;
        *byte = (hi << 4) | lo;
        peek = bytes.next();
        if peek == Some(b':') {
            peek = bytes.next();
        }
    }
    Some(out)
}

fn hex_digit(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Parses an IPv4 address in the classic `inet_addr` forms (`a.b.c.d`,
/// `a.b.c`, `a.b`, `a`; each part decimal, `0x` hex or leading-`0` octal).
/// Returns `None` on failure and, like `inet_addr`, for 255.255.255.255.
pub fn parse_inet_addr(s: &str) -> Option<Ipv4Addr> {
    lvs_util::inet::inet_addr(s)
}

/// Resolves send_arp's SRC_IP: `inet_addr` forms first, then an IPv6
/// address, then a host name lookup (its first IPv4 address, else its
/// first IPv6 one).
pub fn resolve_ip(s: &str) -> Option<IpAddr> {
    if let Some(ip) = parse_inet_addr(s) {
        return Some(IpAddr::V4(ip));
    }
    if let Ok(v6) = s.parse::<Ipv6Addr>() {
        return Some(IpAddr::V6(v6));
    }
    use std::net::ToSocketAddrs as _;
    let all: Vec<IpAddr> = (s, 0).to_socket_addrs().ok()?.map(|a| a.ip()).collect();
    all.iter()
        .find(|a| a.is_ipv4())
        .or_else(|| all.first())
        .copied()
}

/// An `AF_PACKET` raw socket used only for sending frames.
pub struct PacketSocket {
    fd: OwnedFd,
}

impl PacketSocket {
    /// Opens the socket (needs root or CAP_NET_RAW).
    pub fn open() -> io::Result<Self> {
        // SAFETY: plain socket(2) call; the result is checked below.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                0, // send only: receive nothing
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a freshly created descriptor that we own.
        Ok(PacketSocket {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Sends `frame` once on interface `ifname`. An unknown interface gives
    /// `ENODEV` ("No such device"), as send_arp's `sendto` did.
    pub fn send(&self, ifname: &str, frame: &[u8]) -> io::Result<()> {
        let ifindex = ifindex(ifname)?;
        self.send_ifindex(ifindex, frame)
    }

    /// Sends `frame` once on the interface with index `ifindex`.
    pub fn send_ifindex(&self, ifindex: u32, frame: &[u8]) -> io::Result<()> {
        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        // the frame's own EtherType (ARP or IPv6)
        let proto = match frame.get(12..14) {
            Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
            _ => ETH_P_ARP,
        };
        sll.sll_protocol = proto.to_be();
        sll.sll_ifindex = ifindex as i32;
        sll.sll_halen = 6;
        if frame.len() >= 6 {
            sll.sll_addr[..6].copy_from_slice(&frame[..6]);
        }
        // SAFETY: frame and sll are valid for the lengths passed.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Interface index of `ifname`; `ENODEV` if there is none (also for names
/// longer than the kernel's 15-byte limit).
pub fn ifindex(ifname: &str) -> io::Result<u32> {
    let nodev = || io::Error::from_raw_os_error(libc::ENODEV);
    if ifname.is_empty() || ifname.len() > 15 {
        return Err(nodev());
    }
    let c = CString::new(ifname).map_err(|_| nodev())?;
    // SAFETY: c is a valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 { Err(nodev()) } else { Ok(idx) }
}

/// The hardware (MAC) address of `ifname`, via `SIOCGIFHWADDR`.
pub fn interface_mac(ifname: &str) -> io::Result<[u8; 6]> {
    if ifname.is_empty() || ifname.len() > 15 {
        return Err(io::Error::from_raw_os_error(libc::ENODEV));
    }
    // SAFETY: a datagram socket just for the ioctl; checked below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data; all-zero is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(ifname.bytes()) {
        *dst = src as libc::c_char;
    }
    // SAFETY: req is a valid ifreq for SIOCGIFHWADDR.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: SIOCGIFHWADDR fills ifru_hwaddr.
    let sa = unsafe { req.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (m, b) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *m = *b as u8;
    }
    Ok(mac)
}

/// Formats a MAC as send_arp's pulse caller does: 12 upper-case hex digits.
pub fn mac_hex(mac: [u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02X}")).collect()
}

/// Announces (`ip`, `mac`) once on `ifname`: exactly what `send_arp -i
/// IFNAME IP MAC x ffffffffffff` sends (a gratuitous ARP, Ethernet
/// broadcast, for IPv4; an unsolicited neighbour advertisement to all
/// nodes for IPv6).
pub fn announce(sock: &PacketSocket, ifname: &str, ip: IpAddr, mac: [u8; 6]) -> io::Result<()> {
    sock.send(ifname, &announcement(ip, mac, BROADCAST))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_is_byte_exact() {
        let mac = [0x00, 0x16, 0x3e, 0x5a, 0x1b, 0x2c];
        let f = frame(Ipv4Addr::new(10, 0, 0, 5), mac, BROADCAST);
        let mut want = Vec::new();
        want.extend([0xff; 6]);
        want.extend(mac);
        want.extend([0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02]);
        want.extend(mac);
        want.extend([10, 0, 0, 5]);
        want.extend(mac);
        want.extend([10, 0, 0, 5]);
        want.extend([0u8; 18]);
        assert_eq!(want.len(), 60);
        assert_eq!(&f[..], &want[..]);
    }

    #[test]
    fn frame_uses_target_mac_only_for_ethernet_destination() {
        let mac = [1, 2, 3, 4, 5, 6];
        let dst = [0xa, 0xb, 0xc, 0xd, 0xe, 0xf];
        let f = frame(Ipv4Addr::new(192, 0, 2, 1), mac, dst);
        assert_eq!(&f[0..6], &dst);
        assert_eq!(&f[32..38], &mac, "THA is the sender's MAC");
    }

    const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);

    /// RFC 1071 from scratch: 16-bit big-endian words summed in 64 bits,
    /// folded once at the end; a message with its checksum in place sums to
    /// 0xffff.
    fn ones_sum(parts: &[&[u8]]) -> u16 {
        let bytes: Vec<u8> = parts.concat();
        let mut total: u64 = 0;
        for i in (0..bytes.len()).step_by(2) {
            let lo = bytes.get(i + 1).copied().unwrap_or(0);
            total += u64::from(u16::from_be_bytes([bytes[i], lo]));
        }
        while total >> 16 != 0 {
            total = (total & 0xffff) + (total >> 16);
        }
        total as u16
    }

    #[test]
    fn na_frame_is_byte_exact() {
        let mac = [0x00, 0x16, 0x3e, 0x5a, 0x1b, 0x2c];
        let f = na_frame(VIP6, mac, ALL_NODES_MAC);
        let vip = VIP6.octets();
        let mut want = Vec::new();
        want.extend([0x33, 0x33, 0, 0, 0, 1]);
        want.extend(mac);
        want.extend([0x86, 0xdd]);
        want.extend([0x60, 0, 0, 0, 0, 32, 58, 255]);
        want.extend(vip);
        want.extend([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        want.extend([136, 0]);
        want.extend([0x9f, 0x91]); // the checksum (computed with Python)
        want.extend([0x20, 0, 0, 0]); // Override only
        want.extend(vip);
        want.extend([2, 1]);
        want.extend(mac);
        assert_eq!(want.len(), NA_FRAME_LEN);
        assert_eq!(&f[..], &want[..]);
        // the checksum: pseudo-header (source, destination, length 32,
        // next header 58) plus the message sums to all ones
        let pseudo = [0, 0, 0, 32, 0, 0, 0, 58];
        assert_eq!(
            ones_sum(&[&vip, &ALL_NODES.octets(), &pseudo, &f[54..]]),
            0xffff
        );
    }

    #[test]
    fn checksum_matches_an_independent_sum() {
        for (ip, mac) in [
            (VIP6, [0x02, 0, 0, 0, 0, 1]),
            ("fe80::1".parse().unwrap(), [0xff; 6]),
            ("2001:db8:ffff::ffff".parse().unwrap(), [0; 6]),
        ] {
            let f = na_frame(ip, mac, ALL_NODES_MAC);
            let pseudo = [0, 0, 0, 32, 0, 0, 0, 58];
            let mut msg = f[54..].to_vec();
            msg[2] = 0;
            msg[3] = 0;
            let want = !ones_sum(&[&ip.octets(), &ALL_NODES.octets(), &pseudo, &msg]);
            assert_eq!(u16::from_be_bytes([f[56], f[57]]), want, "{ip}");
        }
    }

    #[test]
    fn announcement_picks_the_frame_by_family() {
        let mac = [1, 2, 3, 4, 5, 6];
        let v4 = announcement(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)), mac, BROADCAST);
        assert_eq!(
            v4,
            frame(Ipv4Addr::new(10, 0, 0, 5), mac, BROADCAST).to_vec()
        );
        let v6 = announcement(IpAddr::V6(VIP6), mac, BROADCAST);
        assert_eq!(v6, na_frame(VIP6, mac, ALL_NODES_MAC).to_vec());
        let unicast = [0xa, 0xb, 0xc, 0xd, 0xe, 0xf];
        let v6 = announcement(IpAddr::V6(VIP6), mac, unicast);
        assert_eq!(&v6[0..6], &unicast);
        assert_eq!(&v6[38..54], &ALL_NODES.octets(), "still to all nodes");
    }

    #[test]
    fn resolve_ip_takes_both_families() {
        assert_eq!(
            resolve_ip("10.1"),
            Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
        );
        assert_eq!(resolve_ip("2001:db8::100"), Some(IpAddr::V6(VIP6)));
        assert_eq!(resolve_ip("2001:db8::zz"), None);
    }

    #[test]
    fn hw_addr_forms() {
        let want = Some([0x00, 0x11, 0x22, 0xaa, 0xbb, 0xcc]);
        assert_eq!(parse_hw_addr("001122AABBCC"), want);
        assert_eq!(parse_hw_addr("00:11:22:aa:bb:cc"), want);
        assert_eq!(parse_hw_addr("00:1122:aa:bbcc"), want);
        assert_eq!(parse_hw_addr("001122aabbccEXTRA"), want);
        assert_eq!(parse_hw_addr("00:11:22:aa:bb:cc:"), want);
        assert_eq!(parse_hw_addr("ffffffffffff"), Some(BROADCAST));
        assert_eq!(parse_hw_addr("00-11-22-aa-bb-cc"), None);
        assert_eq!(parse_hw_addr("0011"), None);
        assert_eq!(parse_hw_addr("0:11:22:aa:bb:cc"), None);
        assert_eq!(parse_hw_addr("00::11:22:aa:bb"), None);
        assert_eq!(parse_hw_addr("gg1122aabbcc"), None);
        assert_eq!(parse_hw_addr(""), None);
    }

    #[test]
    fn inet_addr_is_the_shared_one() {
        // the cases live with lvs_util::inet
        assert_eq!(parse_inet_addr("10.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(parse_inet_addr("255.255.255.255"), None);
    }

    #[test]
    fn mac_hex_is_upper_case_without_separators() {
        assert_eq!(
            mac_hex([0x00, 0x25, 0xb5, 0x00, 0x00, 0x1f]),
            "0025B500001F"
        );
    }
}
