//! Interface queries through `getifaddrs`: role determination (§3) and
//! link monitoring (§9, with the C14 fix).

use std::net::Ipv4Addr;

use nix::ifaddrs::getifaddrs;
use nix::net::if_::InterfaceFlags;

/// IPv4 addresses with the interface label that carries them, in kernel
/// order (each device's primary address first).
fn ipv4_addresses() -> std::io::Result<Vec<(String, Ipv4Addr, InterfaceFlags)>> {
    let addrs = getifaddrs().map_err(std::io::Error::from)?;
    Ok(addrs
        .filter_map(|a| {
            let sin = a.address.as_ref()?.as_sockaddr_in()?.ip();
            Some((a.interface_name, sin, a.flags))
        })
        .collect())
}

/// Whether this node is the master: some interface's primary IPv4 address
/// (the first address whose label is the interface's own name, which is
/// what `SIOCGIFADDR` on that name returns) equals `primary`.
///
/// If the address list cannot be read the node is master, as when the
/// original could not open `/proc/net/dev`.
pub fn is_master(primary: Ipv4Addr) -> bool {
    let Ok(addrs) = ipv4_addresses() else {
        return true;
    };
    let mut seen: Vec<&str> = Vec::new();
    for (label, ip, _) in &addrs {
        if label.contains(':') || seen.contains(&label.as_str()) {
            continue; // aliases and secondary addresses are not examined
        }
        seen.push(label);
        if *ip == primary {
            return true;
        }
    }
    false
}

/// Whether the interface carrying `addr` (aliases included) is up with a
/// carrier. An address no interface carries counts as up (§9).
pub fn link_up_for(addr: Ipv4Addr) -> bool {
    let Ok(addrs) = ipv4_addresses() else {
        return true;
    };
    match addrs.iter().find(|(_, ip, _)| *ip == addr) {
        Some((_, _, flags)) => {
            flags.contains(InterfaceFlags::IFF_UP) && flags.contains(InterfaceFlags::IFF_RUNNING)
        }
        None => true,
    }
}
