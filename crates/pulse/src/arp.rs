//! The VIP bring-up and gratuitous ARPs (§8): for every target in
//! parallel, bring the address up, then announce it five times, one second
//! apart, from the base device's MAC. In fos mode the addresses come up
//! first (awaited) and only the announcements run in the background. An
//! IPv6 address gets unsolicited neighbour advertisements (Override set,
//! to all nodes) on the same schedule instead of ARPs.

use std::sync::Arc;
use std::time::Duration;

use send_arp::PacketSocket;

use crate::config::Target;
use crate::vip::Netlink;

/// How many announcements per address, and the pause after each.
pub const COUNT: usize = 5;
/// Pause after each announcement.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// The packet socket the announcements go out on, or why it could not be
/// opened (the text of the error, as send_arp's `socket: ERR`).
pub type Packets = Result<Arc<PacketSocket>, String>;

/// Brings every target up (in `targets` order), then announces them: the
/// first announcement of every address back to back in `announce` order
/// (the VIPs before the NAT router: a real server's gateway moves at
/// almost the same instant as the clients), then the rest one second
/// apart, all addresses in parallel (lvs mode); logs `gratuitous lvs arps
/// finished` when all are done. Without a packet socket the addresses
/// still come up (the original ran `ifconfig` whether or not its
/// `send_arp` could work) and each target's missing announcement is
/// logged.
pub async fn bring_up_and_announce(
    netlink: Netlink,
    sock: Packets,
    targets: Vec<Target>,
    announce: Vec<Target>,
) {
    for t in &targets {
        up(&netlink, t).await;
    }
    let macs: Vec<Option<[u8; 6]>> = announce.iter().map(|t| announce_once(&sock, t)).collect();
    let rest = announce.iter().zip(macs).map(|(t, mac)| {
        let sock = sock.clone();
        async move {
            if let (Some(mac), Ok(sock)) = (mac, &sock) {
                for _ in 1..COUNT {
                    tokio::time::sleep(INTERVAL).await;
                    send_one(sock, t, mac);
                }
                tokio::time::sleep(INTERVAL).await;
            }
        }
    });
    futures::future::join_all(rest).await;
    tracing::info!("gratuitous lvs arps finished");
}

/// The first announcement of `t`; its device's MAC when the rest can
/// follow (the failures are logged).
fn announce_once(sock: &Packets, t: &Target) -> Option<[u8; 6]> {
    let mac = match send_arp::interface_mac(t.base_dev()) {
        Ok(m) => m,
        Err(e) => {
            tracing::info!("SIOCGIFHWADDR failed: {}", lvs_util::errtext(&e));
            return None;
        }
    };
    match sock {
        Ok(s) => {
            send_one(s, t, mac);
            Some(mac)
        }
        Err(e) => {
            tracing::info!("{}", no_arp_message(t, e));
            None
        }
    }
}

fn send_one(sock: &PacketSocket, t: &Target, mac: [u8; 6]) {
    let base = t.base_dev();
    tracing::debug!("DEBUG -- Executing '/usr/sbin/send_arp'");
    if let Err(e) = send_arp::announce(sock, base, t.ip, mac) {
        tracing::debug!(
            "send_arp -i {base} {}: sendto: {}",
            t.ip,
            lvs_util::errtext(&e)
        );
    }
}

/// Brings every target up, in order, and returns when all are up (fos
/// mode: the services start only then, gaps.md F4).
pub async fn bring_up(netlink: &Netlink, targets: &[Target]) {
    for t in targets {
        up(netlink, t).await;
    }
}

/// Announces every target in parallel; logs
/// `gratuitous fos arps finished` when all are done (fos mode).
pub async fn announce_all(sock: Packets, targets: Vec<Target>) {
    futures::future::join_all(targets.iter().map(|t| announce(&sock, t))).await;
    tracing::info!("gratuitous fos arps finished");
}

/// The verbose line the original logged before its `ifconfig … up`
/// (pulse.md §14). It names no broadcast even though the command it ran
/// had one (§8): the text is the original's, byte for byte.
pub fn ifconfig_up_debug(t: &Target) -> String {
    if t.ip.is_ipv6() {
        let (prefix, _) = t.prefix_and_broadcast();
        return format!(
            "DEBUG -- Executing '/sbin/ip -6 addr add {}/{prefix} dev {} nodad'",
            t.ip,
            t.base_dev()
        );
    }
    match t.mask {
        Some(m) => format!(
            "DEBUG -- Executing '/sbin/ifconfig {} {} netmask {m} up'",
            t.dev, t.ip
        ),
        None => format!("DEBUG -- Executing '/sbin/ifconfig {} {} up'", t.dev, t.ip),
    }
}

async fn up(netlink: &Netlink, t: &Target) {
    tracing::debug!("{}", ifconfig_up_debug(t));
    if let Err(e) = netlink.up(t).await {
        tracing::info!("failed to bring up {} on {}: {e}", t.ip, t.dev);
    }
}

/// The line logged for a target whose announcements cannot be sent because
/// the packet socket could not be opened (`err` is its error text).
pub fn no_arp_message(t: &Target, err: &str) -> String {
    let what = if t.ip.is_ipv6() {
        "neighbour advertisements"
    } else {
        "gratuitous ARPs"
    };
    format!(
        "cannot send {what} for {} on {}: socket: {err}",
        t.ip,
        t.base_dev()
    )
}

/// Announces `t` [`COUNT`] times, [`INTERVAL`] apart (fos mode).
async fn announce(sock: &Packets, t: &Target) {
    if let (Some(mac), Ok(sock)) = (announce_once(sock, t), sock) {
        for _ in 1..COUNT {
            tokio::time::sleep(INTERVAL).await;
            send_one(sock, t, mac);
        }
        tokio::time::sleep(INTERVAL).await;
    }
}

/// Takes every target down, in order.
pub async fn take_down(netlink: &Netlink, targets: &[Target]) {
    for t in targets {
        tracing::debug!("DEBUG -- Executing '/sbin/ifconfig {} down'", t.dev);
        if let Err(e) = netlink.down(t).await {
            tracing::info!("failed to take down {} on {}: {e}", t.ip, t.dev);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(ip: &str, dev: &str, mask: Option<&str>) -> Target {
        Target {
            ip: ip.parse().unwrap(),
            dev: dev.into(),
            mask: mask.map(|m| crate::config::Mask::V4(m.parse().unwrap())),
        }
    }

    #[test]
    fn ifconfig_up_debug_line_is_the_originals() {
        assert_eq!(
            ifconfig_up_debug(&target("10.0.0.5", "eth0:1", Some("255.255.255.0"))),
            "DEBUG -- Executing '/sbin/ifconfig eth0:1 10.0.0.5 netmask 255.255.255.0 up'"
        );
        assert_eq!(
            ifconfig_up_debug(&target("10.0.0.5", "eth0:1", Some("255.255.255.255"))),
            "DEBUG -- Executing '/sbin/ifconfig eth0:1 10.0.0.5 netmask 255.255.255.255 up'"
        );
        assert_eq!(
            ifconfig_up_debug(&target("172.16.0.100", "eth1:3", None)),
            "DEBUG -- Executing '/sbin/ifconfig eth1:3 172.16.0.100 up'"
        );
        assert_eq!(
            ifconfig_up_debug(&target("2001:db8::100", "eth0", None)),
            "DEBUG -- Executing '/sbin/ip -6 addr add 2001:db8::100/64 dev eth0 nodad'"
        );
    }
}
