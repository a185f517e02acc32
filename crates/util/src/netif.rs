//! Interface addresses through `getifaddrs`, and Piranha's role test:
//! a node is the master when one of its interfaces' primary IPv4 address
//! equals `primary` (pulse.md §3, fos.md §2); for an IPv6 `primary`, when
//! any interface carries that address (IPv6 has no labels and no primary
//! address per interface).

use std::net::{IpAddr, Ipv4Addr};

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

/// Every IPv4 and IPv6 address with the label (IPv6: the interface) that
/// carries it and the interface's flags, in kernel order.
pub fn addresses() -> std::io::Result<Vec<(String, IpAddr, InterfaceFlags)>> {
    let addrs = getifaddrs().map_err(std::io::Error::from)?;
    Ok(addrs
        .filter_map(|a| {
            let sa = a.address.as_ref()?;
            let ip = match (sa.as_sockaddr_in(), sa.as_sockaddr_in6()) {
                (Some(v4), _) => IpAddr::V4(v4.ip()),
                (None, Some(v6)) => IpAddr::V6(v6.ip()),
                (None, None) => return None,
            };
            Some((a.interface_name, ip, a.flags))
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
pub fn is_master(primary: impl Into<IpAddr>) -> bool {
    try_is_master(primary).unwrap_or(true)
}

/// Whether this node is the master, or why the address list could not be
/// read (the `/proc/net/dev` failure of the original).
pub fn try_is_master(primary: impl Into<IpAddr>) -> std::io::Result<bool> {
    match primary.into() {
        IpAddr::V4(v4) => Ok(primary_matches(&ipv4_addresses()?, v4)),
        IpAddr::V6(v6) => Ok(carried(&addresses()?, IpAddr::V6(v6))),
    }
}

/// Whether any interface carries `ip` (the IPv6 role test).
fn carried(addrs: &[(String, IpAddr, InterfaceFlags)], ip: IpAddr) -> bool {
    addrs.iter().any(|(_, a, _)| *a == ip)
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
    fn an_ipv6_primary_counts_on_any_interface() {
        let v6 = |label: &str, ip: &str| {
            (
                label.to_string(),
                ip.parse().unwrap(),
                InterfaceFlags::empty(),
            )
        };
        let addrs = vec![
            v6("lo", "::1"),
            v6("eth0", "fe80::1"),
            v6("eth0", "2001:db8::1"),
            v6("eth1", "192.0.2.1"),
        ];
        assert!(carried(&addrs, "2001:db8::1".parse().unwrap()));
        assert!(!carried(&addrs, "2001:db8::2".parse().unwrap()));
        // the families stay apart
        assert!(!carried(&addrs, "::ffff:192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn this_machine_has_a_loopback_address() {
        let addrs = ipv4_addresses().expect("getifaddrs");
        assert!(addrs.iter().any(|(_, ip, _)| ip.is_loopback()), "{addrs:?}");
        let all = addresses().expect("getifaddrs");
        assert!(
            all.iter().any(|(_, ip, _)| *ip == Ipv4Addr::LOCALHOST),
            "{all:?}"
        );
        assert_eq!(
            all.iter().filter(|(_, ip, _)| ip.is_ipv4()).count(),
            addrs.len(),
            "the IPv4 part is ipv4_addresses()"
        );
    }
}
