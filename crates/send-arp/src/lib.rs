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

use std::ffi::CString;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Length of the frame on the wire (Ethernet minimum, padded with zeros).
pub const FRAME_LEN: usize = 60;

/// The Ethernet broadcast address.
pub const BROADCAST: [u8; 6] = [0xff; 6];

const ETH_P_ARP: u16 = 0x0806;

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

/// Resolves send_arp's SRC_IP: `inet_addr` forms first, then a host name
/// lookup (first IPv4 address).
pub fn resolve_ip(s: &str) -> Option<Ipv4Addr> {
    if let Some(ip) = parse_inet_addr(s) {
        return Some(ip);
    }
    use std::net::ToSocketAddrs as _;
    (s, 0).to_socket_addrs().ok()?.find_map(|a| match a.ip() {
        std::net::IpAddr::V4(v4) => Some(v4),
        std::net::IpAddr::V6(_) => None,
    })
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
        sll.sll_protocol = ETH_P_ARP.to_be();
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

/// Sends one gratuitous ARP for (`ip`, `mac`) on `ifname`, Ethernet
/// broadcast: exactly what `send_arp -i IFNAME IP MAC x ffffffffffff` sends.
pub fn announce(sock: &PacketSocket, ifname: &str, ip: Ipv4Addr, mac: [u8; 6]) -> io::Result<()> {
    sock.send(ifname, &frame(ip, mac, BROADCAST))
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
