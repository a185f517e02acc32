//! VIPs over rtnetlink: what `ifconfig DEV IP [netmask M broadcast B] up`
//! and `ifconfig DEV down` did in the original (§7.2, §8), with the same
//! label, prefix length and broadcast; and, on the same socket, the route
//! dump of fos mode's gateway check and the deletion of the partner's
//! neighbour entries when a monitored link goes down.

use std::net::Ipv4Addr;

use futures::TryStreamExt as _;
use netlink_packet_route::AddressFamily;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
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
    /// del IP dev DEV`). An entry still resolving drops the packets queued
    /// on it; no entry gives ENOENT.
    pub async fn forget_neighbour(&self, index: u32, ip: Ipv4Addr) -> Result<(), NetlinkError> {
        let mut msg = NeighbourMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.ifindex = index;
        msg.attributes
            .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)));
        self.handle
            .neighbours()
            .del(msg)
            .execute()
            .await
            .map_err(err)
    }

    async fn addresses(&self, index: u32) -> Result<Vec<AddressMessage>, NetlinkError> {
        let mut req = self.handle.address().get().set_link_index_filter(index);
        req.message_mut().header.family = AddressFamily::Inet;
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
        let (prefix, bcast) = t.prefix_and_broadcast();
        let alias = t.dev.contains(':');
        for msg in self.addresses(index).await? {
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
        let mut req = self
            .handle
            .address()
            .add(index, std::net::IpAddr::V4(t.ip), prefix);
        let attrs = &mut req.message_mut().attributes;
        attrs.retain(|a| !matches!(a, AddressAttribute::Broadcast(_)));
        if let Some(b) = bcast {
            attrs.push(AddressAttribute::Broadcast(b));
        }
        attrs.push(AddressAttribute::Label(t.dev.clone()));
        req.execute().await.map_err(err)
    }

    /// Takes `t` down: on an alias, every address carrying that label (what
    /// `ifconfig eth0:1 down` removed); on a base device only the address
    /// itself (gaps.md C11: the NIC is never taken down).
    pub async fn down(&self, t: &Target) -> Result<(), NetlinkError> {
        let _exclusive = self.exclusive.lock().await;
        let index = send_arp::ifindex(t.base_dev()).map_err(|e| err(lvs_util::errtext(&e)))?;
        let alias = t.dev.contains(':');
        for msg in self.addresses(index).await? {
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

fn describe(msg: &AddressMessage) -> (Option<Ipv4Addr>, Option<String>) {
    let mut ip = None;
    let mut label = None;
    for a in &msg.attributes {
        match a {
            AddressAttribute::Local(std::net::IpAddr::V4(v4)) => ip = Some(*v4),
            AddressAttribute::Address(std::net::IpAddr::V4(v4)) if ip.is_none() => ip = Some(*v4),
            AddressAttribute::Label(l) => label = Some(l.clone()),
            _ => {}
        }
    }
    (ip, label)
}
