//! Interface addresses through `getifaddrs`, and Piranha's role test:
//! a node is the master when one of its interfaces' primary IPv4 address
//! equals `primary` (pulse.md §3, fos.md §2).

use std::net::Ipv4Addr;

use nix::ifaddrs::getifaddrs;
use nix::net::if_::InterfaceFlags;

/// Every IPv4 address with the label that carries it and the interface's
/// flags, in kernel order (each device's primary address first).
pub fn ipv4_addresses() -> std::io::Result<Vec<(String, Ipv4Addr, InterfaceFlags)>> {
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
/// original could not open `/proc/net/dev`; [`try_is_master`] tells that
/// case apart (pulse logs it).
pub fn is_master(primary: Ipv4Addr) -> bool {
    try_is_master(primary).unwrap_or(true)
}

/// Whether this node is the master, or why the address list could not be
/// read (the `/proc/net/dev` failure of the original).
pub fn try_is_master(primary: Ipv4Addr) -> std::io::Result<bool> {
    Ok(primary_matches(&ipv4_addresses()?, primary))
}

fn primary_matches(addrs: &[(String, Ipv4Addr, InterfaceFlags)], primary: Ipv4Addr) -> bool {
    let mut seen: Vec<&str> = Vec::new();
    for (label, ip, _) in addrs {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn a(label: &str, ip: [u8; 4]) -> (String, Ipv4Addr, InterfaceFlags) {
        (label.into(), Ipv4Addr::from(ip), InterfaceFlags::empty())
    }

    #[test]
    fn only_each_interfaces_primary_address_counts() {
        let addrs = vec![
            a("lo", [127, 0, 0, 1]),
            a("eth0", [192, 0, 2, 2]),
            a("eth0", [192, 0, 2, 1]),   // secondary
            a("eth0:1", [192, 0, 2, 9]), // alias
            a("eth1", [198, 51, 100, 1]),
        ];
        assert!(primary_matches(&addrs, Ipv4Addr::new(192, 0, 2, 2)));
        assert!(primary_matches(&addrs, Ipv4Addr::new(198, 51, 100, 1)));
        assert!(!primary_matches(&addrs, Ipv4Addr::new(192, 0, 2, 1)));
        assert!(!primary_matches(&addrs, Ipv4Addr::new(192, 0, 2, 9)));
    }

    #[test]
    fn this_machine_has_a_loopback_address() {
        let addrs = ipv4_addresses().expect("getifaddrs");
        assert!(addrs.iter().any(|(_, ip, _)| ip.is_loopback()), "{addrs:?}");
    }
}
