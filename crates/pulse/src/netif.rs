//! Interface queries: role determination (§3, shared with fos in
//! `lvs_util::netif`) and link monitoring (§9, with the C14 fix), with the
//! device that carries an address. IPv4 and IPv6 addresses alike.

use std::net::IpAddr;

use nix::net::if_::InterfaceFlags;

/// What the original logged when it could not open `/proc/net/dev` (pulse.md
/// §3, §14), trailing newline included; the node is then the master.
pub const PROC_NET_DEV_FAILED: &str = "failed to open /proc/net/dev!\n";

/// The role (§3): whether this node is the master, and the line to log
/// when the interface list cannot be read (our equivalent of the original
/// failing to open `/proc/net/dev`: the node is then the master).
pub fn role(primary: impl Into<IpAddr>) -> (bool, Option<&'static str>) {
    role_from(lvs_util::netif::try_is_master(primary))
}

fn role_from(listed: std::io::Result<bool>) -> (bool, Option<&'static str>) {
    match listed {
        Ok(master) => (master, None),
        Err(_) => (true, Some(PROC_NET_DEV_FAILED)),
    }
}

/// Whether the interface carrying `addr` (aliases included) is up with a
/// carrier. An address no interface carries counts as up (§9).
pub fn link_up_for(addr: IpAddr) -> bool {
    let Ok(addrs) = lvs_util::netif::addresses() else {
        return true;
    };
    match addrs.iter().find(|(_, ip, _)| *ip == addr) {
        Some((_, _, flags)) => {
            flags.contains(InterfaceFlags::IFF_UP) && flags.contains(InterfaceFlags::IFF_RUNNING)
        }
        None => true,
    }
}

/// The device carrying `addr` (the base device of an alias label), if
/// any interface carries it.
pub fn device_for(addr: IpAddr) -> Option<String> {
    let addrs = lvs_util::netif::addresses().ok()?;
    device_in(&addrs, addr)
}

fn device_in(addrs: &[(String, IpAddr, InterfaceFlags)], addr: IpAddr) -> Option<String> {
    let (label, _, _) = addrs.iter().find(|(_, ip, _)| *ip == addr)?;
    Some(label.split(':').next().unwrap_or(label).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn an_unreadable_interface_list_makes_a_master_and_logs_the_originals_line() {
        let err = std::io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(
            role_from(Err(err)),
            (true, Some("failed to open /proc/net/dev!\n"))
        );
        assert_eq!(role_from(Ok(false)), (false, None));
        assert_eq!(role_from(Ok(true)), (true, None));
    }

    #[test]
    fn the_device_of_an_address_is_its_labels_base_device() {
        let a = |label: &str, ip: &str| {
            (
                label.to_string(),
                ip.parse::<IpAddr>().unwrap(),
                InterfaceFlags::empty(),
            )
        };
        let addrs = vec![
            a("lo", "127.0.0.1"),
            a("eth0", "192.0.2.1"),
            a("eth0:1", "192.0.2.100"),
            a("eth1", "10.0.0.1"),
            a("eth1", "2001:db8::1"),
        ];
        let dev = |ip: &str| device_in(&addrs, ip.parse().unwrap());
        assert_eq!(dev("192.0.2.1").as_deref(), Some("eth0"));
        assert_eq!(dev("192.0.2.100").as_deref(), Some("eth0"));
        assert_eq!(dev("10.0.0.1").as_deref(), Some("eth1"));
        assert_eq!(dev("10.0.0.2"), None);
        assert_eq!(dev("2001:db8::1").as_deref(), Some("eth1"));
        assert_eq!(dev("2001:db8::2"), None);
        assert_eq!(
            device_for(Ipv4Addr::LOCALHOST.into()).as_deref(),
            Some("lo")
        );
    }

    #[test]
    fn role_of_this_machine_is_read_without_a_log_line() {
        // The interface list is readable here: no message, and the loopback
        // address is some interface's primary address.
        assert_eq!(role(Ipv4Addr::LOCALHOST), (true, None));
        assert_eq!(role(Ipv4Addr::new(192, 0, 2, 254)), (false, None));
        assert_eq!(
            role(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xfe)),
            (false, None)
        );
    }
}
