//! The VIP bring-up and gratuitous ARPs (§8): for every target in
//! parallel, bring the address up, then announce it five times, one second
//! apart, from the base device's MAC. In fos mode the addresses come up
//! first (awaited) and only the announcements run in the background.

use std::sync::Arc;
use std::time::Duration;

use send_arp::PacketSocket;

use crate::config::Target;
use crate::vip::Netlink;

/// How many announcements per address, and the pause after each.
pub const COUNT: usize = 5;
/// Pause after each announcement.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Brings every target up and announces it, all targets in parallel
/// (lvs mode); logs `gratuitous lvs arps finished` when all are done.
pub async fn bring_up_and_announce(
    netlink: Netlink,
    sock: Arc<PacketSocket>,
    targets: Vec<Target>,
) {
    let jobs = targets.into_iter().map(|t| {
        let (netlink, sock) = (netlink.clone(), sock.clone());
        async move {
            up(&netlink, &t).await;
            announce(&sock, &t).await;
        }
    });
    futures::future::join_all(jobs).await;
    tracing::info!("gratuitous lvs arps finished");
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
pub async fn announce_all(sock: Arc<PacketSocket>, targets: Vec<Target>) {
    futures::future::join_all(targets.iter().map(|t| announce(&sock, t))).await;
    tracing::info!("gratuitous fos arps finished");
}

async fn up(netlink: &Netlink, t: &Target) {
    match t.mask {
        Some(m) => {
            let (_, b) = t.prefix_and_broadcast();
            let b = b.map(|b| b.to_string()).unwrap_or_default();
            tracing::debug!(
                "DEBUG -- Executing '/sbin/ifconfig {} {} netmask {m} broadcast {b} up'",
                t.dev,
                t.ip
            );
        }
        None => tracing::debug!("DEBUG -- Executing '/sbin/ifconfig {} {} up'", t.dev, t.ip),
    }
    if let Err(e) = netlink.up(t).await {
        tracing::info!("failed to bring up {} on {}: {e}", t.ip, t.dev);
    }
}

async fn announce(sock: &PacketSocket, t: &Target) {
    let base = t.base_dev();
    let mac = match send_arp::interface_mac(base) {
        Ok(m) => m,
        Err(e) => {
            tracing::info!("SIOCGIFHWADDR failed: {}", lvs_util::errtext(&e));
            return;
        }
    };
    for _ in 0..COUNT {
        tracing::debug!("DEBUG -- Executing '/usr/sbin/send_arp'");
        if let Err(e) = send_arp::announce(sock, base, t.ip, mac) {
            tracing::debug!(
                "send_arp -i {base} {}: sendto: {}",
                t.ip,
                lvs_util::errtext(&e)
            );
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
