//! Interface queries: role determination (§3, shared with fos in
//! `lvs_util::netif`) and link monitoring (§9, with the C14 fix).

use std::net::Ipv4Addr;

use nix::net::if_::InterfaceFlags;

pub use lvs_util::netif::is_master;

/// Whether the interface carrying `addr` (aliases included) is up with a
/// carrier. An address no interface carries counts as up (§9).
pub fn link_up_for(addr: Ipv4Addr) -> bool {
    let Ok(addrs) = lvs_util::netif::ipv4_addresses() else {
        return true;
    };
    match addrs.iter().find(|(_, ip, _)| *ip == addr) {
        Some((_, _, flags)) => {
            flags.contains(InterfaceFlags::IFF_UP) && flags.contains(InterfaceFlags::IFF_RUNNING)
        }
        None => true,
    }
}
