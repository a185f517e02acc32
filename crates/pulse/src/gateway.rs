//! The gateway connectivity check of fos mode (fos.md §6): is the default
//! gateway of the main routing table reachable? The original ran
//! `/sbin/ip route show` and up to three `/bin/ping -n -c 1 -w 1 GATEWAY`;
//! here the route comes from rtnetlink and the pings are ICMP echo
//! requests on a raw socket (`lvs_util::ping`), with the same count and
//! one-second deadlines. Without an IPv4 default gateway (an IPv6-only
//! router) the IPv6 default gateway is pinged with ICMPv6 echo.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use futures::TryStreamExt as _;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteType,
};

use crate::vip::Netlink;

/// Pings before the gateway counts as unreachable.
pub const TRIES: u16 = 3;
/// Deadline of each ping (`ping -w 1`).
pub const DEADLINE: Duration = Duration::from_secs(1);

/// Whether the default gateway answers (a missing default route counts as
/// unreachable). The IPv4 default route comes first, as in the original;
/// the IPv6 one is looked up only when there is none.
pub async fn reachable(netlink: &Netlink) -> bool {
    let routes = match netlink.routes().await {
        Ok(r) => r,
        Err(e) => {
            tracing::info!("cannot read the routing table: {e}");
            return false;
        }
    };
    let (gw, scope) = match default_gateway(&routes) {
        Some(gw) => (IpAddr::V4(gw), 0),
        None => match ipv6_routes().await {
            Ok(r) => match default_gateway6(&r) {
                Some((gw, scope)) => (IpAddr::V6(gw), scope),
                None => return false,
            },
            Err(e) => {
                tracing::info!("cannot read the routing table: {e}");
                return false;
            }
        },
    };
    let id = (std::process::id() & 0xffff) as u16;
    for seq in 1..=TRIES {
        match ping(gw, scope, id, seq, DEADLINE).await {
            Ok(true) => return true,
            Ok(false) => {}
            Err(e) => {
                tracing::info!("cannot ping {gw}: {}", lvs_util::errtext(&e));
                return false;
            }
        }
    }
    false
}

/// The IPv6 routes of every table (`ip -6 route show table all`), on a
/// route-netlink socket of their own.
async fn ipv6_routes() -> std::io::Result<Vec<RouteMessage>> {
    let (conn, handle, _) = rtnetlink::new_connection()?;
    let task = tokio::spawn(conn);
    let msg = rtnetlink::RouteMessageBuilder::<Ipv6Addr>::new().build();
    let routes = handle
        .route()
        .get(msg)
        .execute()
        .try_collect()
        .await
        .map_err(std::io::Error::other);
    task.abort();
    routes
}

/// The main table's default routes (`default …` of `ip route show`), in
/// the order the kernel listed them.
fn main_defaults(routes: &[RouteMessage]) -> impl Iterator<Item = &RouteMessage> {
    routes.iter().filter(|r| {
        let table = r
            .attributes
            .iter()
            .find_map(|a| match a {
                RouteAttribute::Table(t) => Some(*t),
                _ => None,
            })
            .unwrap_or(u32::from(r.header.table));
        table == u32::from(RouteHeader::RT_TABLE_MAIN)
            && r.header.destination_prefix_length == 0
            && r.header.kind == RouteType::Unicast
    })
}

/// The gateway of the first IPv4 default route with a gateway in the main
/// table (`default via GATEWAY …`, the first such line of `ip route show`).
pub fn default_gateway(routes: &[RouteMessage]) -> Option<Ipv4Addr> {
    main_defaults(routes).find_map(|r| {
        r.attributes.iter().find_map(|a| match a {
            RouteAttribute::Gateway(RouteAddress::Inet(gw)) => Some(*gw),
            _ => None,
        })
    })
}

/// The gateway of the first IPv6 default route with a gateway in the main
/// table (`default via GATEWAY dev DEV …` of `ip -6 route show`), with the
/// index of its interface (a link-local gateway, the usual one, needs it).
pub fn default_gateway6(routes: &[RouteMessage]) -> Option<(Ipv6Addr, u32)> {
    main_defaults(routes).find_map(|r| {
        let gw = r.attributes.iter().find_map(|a| match a {
            RouteAttribute::Gateway(RouteAddress::Inet6(gw)) => Some(*gw),
            _ => None,
        })?;
        let dev = r.attributes.iter().find_map(|a| match a {
            RouteAttribute::Oif(i) => Some(*i),
            _ => None,
        });
        Some((gw, dev.unwrap_or(0)))
    })
}

/// The payload of pulse's echo requests: 56 bytes counting up from 0x10.
fn payload() -> [u8; 56] {
    std::array::from_fn(|i| (i as u8).wrapping_add(0x10))
}

/// Sends one echo request to `to` and waits up to `deadline` for its reply
/// (`scope`: the interface of an IPv6 link-local address, else 0).
pub async fn ping(
    to: IpAddr,
    scope: u32,
    id: u16,
    seq: u16,
    deadline: Duration,
) -> std::io::Result<bool> {
    lvs_util::ping::ping(to, scope, id, seq, &payload(), deadline).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_request_checksums_to_zero() {
        // pulse's request; the reply match is tested with lvs_util::ping
        use lvs_util::ping::{checksum, echo_request};
        let p = echo_request(false, 0x1234, 2, &payload());
        assert_eq!(p.len(), 64);
        assert_eq!(&p[..2], &[8, 0]);
        assert_eq!(&p[4..8], &[0x12, 0x34, 0, 2]);
        assert_eq!(&p[8..10], &[0x10, 0x11]);
        assert_eq!(checksum(&p), 0);
        assert_eq!(checksum(&[0xff]), !0xff00);
    }

    fn route(table: u8, len: u8, kind: RouteType, gw: Option<[u8; 4]>) -> RouteMessage {
        let mut r = RouteMessage::default();
        r.header.table = table;
        r.header.destination_prefix_length = len;
        r.header.kind = kind;
        if let Some(g) = gw {
            r.attributes
                .push(RouteAttribute::Gateway(RouteAddress::Inet(Ipv4Addr::from(
                    g,
                ))));
        }
        r
    }

    #[test]
    fn the_first_main_table_default_route_with_a_gateway() {
        let main = RouteHeader::RT_TABLE_MAIN;
        let routes = [
            route(255, 0, RouteType::Local, Some([127, 0, 0, 1])),
            route(main, 24, RouteType::Unicast, Some([192, 0, 2, 9])),
            route(main, 0, RouteType::Unreachable, None),
            route(main, 0, RouteType::Unicast, None),
            route(main, 0, RouteType::Unicast, Some([192, 0, 2, 254])),
            route(main, 0, RouteType::Unicast, Some([192, 0, 2, 253])),
        ];
        assert_eq!(
            default_gateway(&routes),
            Some(Ipv4Addr::new(192, 0, 2, 254))
        );
        assert_eq!(default_gateway(&routes[..4]), None);
        let mut big = route(
            RouteHeader::RT_TABLE_UNSPEC,
            0,
            RouteType::Unicast,
            Some([10, 0, 0, 1]),
        );
        big.attributes.push(RouteAttribute::Table(1000));
        assert_eq!(default_gateway(&[big]), None);
    }

    fn route6(len: u8, gw: Option<Ipv6Addr>, oif: Option<u32>) -> RouteMessage {
        let mut r = RouteMessage::default();
        r.header.table = RouteHeader::RT_TABLE_MAIN;
        r.header.destination_prefix_length = len;
        r.header.kind = RouteType::Unicast;
        if let Some(g) = gw {
            r.attributes
                .push(RouteAttribute::Gateway(RouteAddress::Inet6(g)));
        }
        if let Some(i) = oif {
            r.attributes.push(RouteAttribute::Oif(i));
        }
        r
    }

    #[test]
    fn the_ipv6_default_gateway_comes_with_its_interface() {
        let ll: Ipv6Addr = "fe80::1".parse().unwrap();
        let global: Ipv6Addr = "2001:db8::fe".parse().unwrap();
        let routes = [
            route6(64, Some(global), Some(2)),
            route6(0, None, Some(2)),
            route6(0, Some(ll), Some(3)),
            route6(0, Some(global), Some(2)),
        ];
        assert_eq!(default_gateway6(&routes), Some((ll, 3)));
        assert_eq!(default_gateway6(&routes[3..]), Some((global, 2)));
        assert_eq!(
            default_gateway6(&[route6(0, Some(global), None)]),
            Some((global, 0))
        );
        assert_eq!(default_gateway6(&routes[..2]), None);
        // the families do not mix
        assert_eq!(default_gateway(&routes), None);
        let v4 = route(
            RouteHeader::RT_TABLE_MAIN,
            0,
            RouteType::Unicast,
            Some([192, 0, 2, 254]),
        );
        assert_eq!(default_gateway6(&[v4]), None);
    }
}
