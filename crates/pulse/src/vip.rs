//! VIPs over rtnetlink: what `ifconfig DEV IP [netmask M broadcast B] up`
//! and `ifconfig DEV down` did in the original (§7.2, §8), with the same
//! label, prefix length and broadcast; and, on the same socket, the route
//! dump of fos mode's gateway check and the deletion of the partner's
//! neighbour entries when a monitored link goes down.
//!
//! An IPv6 VIP is added with `IFA_F_NODAD`: duplicate address detection
//! would keep it `tentative` (unusable) for a second or more after a
//! takeover. It is also deprecated from the start (preferred lifetime 0,
//! valid forever): it receives and answers as before, but the kernel never
//! picks it as the source of a connection the router opens itself, which
//! is what an IPv4 VIP on an alias label gives. Otherwise a nanny's check
//! of a direct-routing real server could leave from the VIP (the real
//! server, which has the VIP on lo, would answer itself), and the router's
//! neighbour solicitations could come from the NAT router address and pull
//! the real servers' gateway back to a router that lost it. IPv6 has no
//! labels and no broadcast; the address itself is what comes up and goes
//! down.

use std::net::{IpAddr, Ipv4Addr};

use futures::TryStreamExt as _;
use netlink_packet_route::AddressFamily;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, CacheInfo,
};
use netlink_packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage};
use netlink_packet_route::route::RouteMessage;
use rtnetlink::Handle;

use crate::config::Target;

/// An rtnetlink handle. Cheap to clone.
#[derive(Clone)]
pub struct Netlink {
    handle: Handle,
    /// Held through each bring-up and take-down and each route dump: a
    /// bring-up lists the addresses, then changes them, and an activation,
    /// a re-ARP and fos mode's gateway check may run at once (two dumps at
    /// once on one socket fail with EBUSY, and two adds of one address with
    /// EEXIST).
    exclusive: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// A netlink failure, as text for the log.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NetlinkError(String);

fn err(e: impl std::fmt::Display) -> NetlinkError {
    NetlinkError(e.to_string())
}

impl Netlink {
    /// Opens the route-netlink socket; must be called inside the runtime.
    pub fn connect() -> std::io::Result<Netlink> {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        Ok(Netlink {
            handle,
            exclusive: Default::default(),
        })
    }

    /// The IPv4 routes of every table (`ip route show table all`), read
    /// while no bring-up or take-down lists the addresses.
    pub async fn routes(&self) -> Result<Vec<RouteMessage>, NetlinkError> {
        let _exclusive = self.exclusive.lock().await;
        let msg = rtnetlink::RouteMessageBuilder::<Ipv4Addr>::new().build();
        self.handle
            .route()
            .get(msg)
            .execute()
            .try_collect()
            .await
            .map_err(err)
    }

    /// Deletes the neighbour entry of `ip` on interface `index` (`ip neigh
    /// del IP dev DEV`, either family). An entry still resolving drops the packets queued
    /// on it; no entry gives ENOENT.
    pub async fn forget_neighbour(&self, index: u32, ip: IpAddr) -> Result<(), NetlinkError> {
        let mut msg = NeighbourMessage::default();
        msg.header.ifindex = index;
        let (family, dest) = match ip {
            IpAddr::V4(v4) => (AddressFamily::Inet, NeighbourAddress::Inet(v4)),
            IpAddr::V6(v6) => (AddressFamily::Inet6, NeighbourAddress::Inet6(v6)),
        };
        msg.header.family = family;
        msg.attributes.push(NeighbourAttribute::Destination(dest));
        self.handle
            .neighbours()
            .del(msg)
            .execute()
            .await
            .map_err(err)
    }

    async fn addresses(
        &self,
        index: u32,
        family: AddressFamily,
    ) -> Result<Vec<AddressMessage>, NetlinkError> {
        let mut req = self.handle.address().get().set_link_index_filter(index);
        req.message_mut().header.family = family;
        req.execute().try_collect().await.map_err(err)
    }

    async fn delete(&self, msg: AddressMessage) -> Result<(), NetlinkError> {
        self.handle.address().del(msg).execute().await.map_err(err)
    }

    /// Brings `t` up: the address with its label, prefix and broadcast. An
    /// alias label that holds another address gets the new one instead (as
    /// `ifconfig` replaced it). Already up: nothing to do.
    pub async fn up(&self, t: &Target) -> Result<(), NetlinkError> {
        let _exclusive = self.exclusive.lock().await;
        let index = send_arp::ifindex(t.base_dev()).map_err(|e| err(lvs_util::errtext(&e)))?;
        if t.ip.is_ipv6() {
            return self.up6(index, t).await;
        }
        let (prefix, bcast) = t.prefix_and_broadcast();
        let alias = t.dev.contains(':');
        for msg in self.addresses(index, AddressFamily::Inet).await? {
            let (ip, label) = describe(&msg);
            let our_label = label.as_deref() == Some(t.dev.as_str());
            if our_label && ip == Some(t.ip) && msg.header.prefix_len == prefix {
                return Ok(()); // already up
            }
            // Our alias label holding another address (ifconfig replaced
            // it), or our address under another label or prefix: remove.
            if (alias && our_label) || ip == Some(t.ip) {
                self.delete(msg).await?;
            }
        }
        let mut req = self.handle.address().add(index, t.ip, prefix);
        let attrs = &mut req.message_mut().attributes;
        attrs.retain(|a| !matches!(a, AddressAttribute::Broadcast(_)));
        if let Some(b) = bcast {
            attrs.push(AddressAttribute::Broadcast(b));
        }
        attrs.push(AddressAttribute::Label(t.dev.clone()));
        req.execute().await.map_err(err)
    }

    /// Brings the IPv6 target `t` up on interface `index`: the address with
    /// its prefix length, without duplicate address detection. Up already
    /// (and usable): nothing to do; under another prefix length, or still
    /// tentative or failed by an earlier detection: replaced.
    async fn up6(&self, index: u32, t: &Target) -> Result<(), NetlinkError> {
        let (prefix, _) = t.prefix_and_broadcast();
        for msg in self.addresses(index, AddressFamily::Inet6).await? {
            if describe(&msg).0 != Some(t.ip) {
                continue;
            }
            if msg.header.prefix_len == prefix && usable(&msg) {
                return Ok(());
            }
            self.delete(msg).await?;
        }
        let mut req = self.handle.address().add(index, t.ip, prefix);
        let msg = req.message_mut();
        msg.header.flags |= AddressHeaderFlags::Nodad;
        msg.attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
        // deprecated at once, valid forever (`preferred_lft 0`)
        let mut lifetimes = CacheInfo::default();
        lifetimes.ifa_preferred = 0;
        lifetimes.ifa_valid = u32::MAX;
        msg.attributes.push(AddressAttribute::CacheInfo(lifetimes));
        req.execute().await.map_err(err)
    }

    /// Takes `t` down: on an alias, every address carrying that label (what
    /// `ifconfig eth0:1 down` removed); on a base device only the address
    /// itself (gaps.md C11: the NIC is never taken down).
    pub async fn down(&self, t: &Target) -> Result<(), NetlinkError> {
        let _exclusive = self.exclusive.lock().await;
        let index = send_arp::ifindex(t.base_dev()).map_err(|e| err(lvs_util::errtext(&e)))?;
        let (family, alias) = match t.ip {
            IpAddr::V4(_) => (AddressFamily::Inet, t.dev.contains(':')),
            IpAddr::V6(_) => (AddressFamily::Inet6, false),
        };
        for msg in self.addresses(index, family).await? {
            let (ip, label) = describe(&msg);
            let hit = if alias {
                label.as_deref() == Some(t.dev.as_str())
            } else {
                ip == Some(t.ip)
            };
            if hit {
                self.delete(msg).await?;
            }
        }
        Ok(())
    }
}

/// The address (IFA_LOCAL, else IFA_ADDRESS) and label of `msg`.
fn describe(msg: &AddressMessage) -> (Option<IpAddr>, Option<String>) {
    let mut ip = None;
    let mut label = None;
    for a in &msg.attributes {
        match a {
            AddressAttribute::Local(a) => ip = Some(*a),
            AddressAttribute::Address(a) if ip.is_none() => ip = Some(*a),
            AddressAttribute::Label(l) => label = Some(l.clone()),
            _ => {}
        }
    }
    (ip, label)
}

/// Whether an IPv6 address can be used: neither tentative (duplicate
/// address detection still running) nor failed by it.
fn usable(msg: &AddressMessage) -> bool {
    let bad = AddressFlags::Tentative | AddressFlags::Dadfailed;
    let flags = msg.attributes.iter().find_map(|a| match a {
        AddressAttribute::Flags(f) => Some(*f),
        _ => None,
    });
    match flags {
        Some(f) => !f.intersects(bad),
        None => {
            let bad = AddressHeaderFlags::Tentative | AddressHeaderFlags::Dadfailed;
            !msg.header.flags.intersects(bad)
        }
    }
}
