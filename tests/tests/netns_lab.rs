//! The namespace lab (`lvs_tests::lab`) and the cluster built on it come
//! up as the pulse, fos and end-to-end tests expect (no daemons, no IPVS).

use std::time::Duration;

use lvs_tests::cluster::{self, Cluster, Method};
use lvs_tests::lab::Lab;
use lvs_tests::netns::wait_for;
use lvs_tests::{Need, require};

const S: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn routers_client_private_link_and_cutting_at_the_switch() {
    if !require(
        Need::Netns,
        "routers_client_private_link_and_cutting_at_the_switch",
    ) {
        return;
    }
    let lab = Lab::builder("ltl1")
        .router("r1", "192.0.2.1")
        .router("r2", "192.0.2.2")
        .private_link("198.51.100.1", "198.51.100.2")
        .client("c", "192.0.2.10")
        .build();
    let (r1, r2, c) = (&lab.routers[0], &lab.routers[1], &lab.client);
    assert_eq!(c.name(), "ltl1c");
    assert_eq!(lab.switch.port("r2"), "r2p");
    assert_eq!(c.neigh_mac("192.0.2.1"), Some(r1.mac("eth0")));
    assert!(r1.resolve_within("198.51.100.2", S(5)));
    assert!(r1.addrs(Some("eth1")).contains("inet 198.51.100.1/24"));

    // Off the bridge: r2 keeps its carrier but the client cannot reach it.
    lab.switch.connect("r2", false);
    c.ip(&["neigh", "flush", "dev", "eth0"]);
    assert!(!c.resolve_within("192.0.2.2", Duration::from_millis(500)));
    assert!(!r2.ip(&["link", "show", "eth0"]).contains("NO-CARRIER"));
    lab.switch.connect("r2", true);
    assert!(c.resolve_within("192.0.2.2", S(5)));

    // The port down: r1 loses its carrier.
    lab.switch.link("r1", false);
    assert!(wait_for(S(2), || r1
        .ip(&["link", "show", "eth0"])
        .contains("NO-CARRIER")));
    lab.switch.link("r1", true);
    assert!(wait_for(S(2), || !r1
        .ip(&["link", "show", "eth0"])
        .contains("NO-CARRIER")));

    // A capture in the client sees r1's ARP.
    let watch = c.arp_watch("192.0.2.1");
    let t = std::time::Instant::now();
    c.ip(&["neigh", "flush", "dev", "eth0"]);
    assert!(c.resolve_within("192.0.2.1", S(5)));
    assert!(
        wait_for(S(2), || watch.first_after(t).is_some()),
        "no ARP from r1 seen"
    );
}

#[test]
fn the_clusters_nat_and_direct_networks_come_up() {
    if !require(Need::Netns, "the_clusters_nat_and_direct_networks_come_up") {
        return;
    }
    for (tag, method) in [("ltn", Method::Nat), ("ltd", Method::Direct)] {
        let c = Cluster::new(tag, method);
        assert_eq!(c.d[1].ns.name(), format!("le{tag}d2"));
        for (i, r) in c.rs.iter().enumerate() {
            assert_eq!(r.address, cluster::real_address(method, i));
            let reach = match method {
                Method::Nat => &c.d[0].ns,
                Method::Direct => &c.client,
            };
            assert!(reach.resolve_within(&r.address, S(5)), "{}", r.name);
        }
        if method == Method::Nat {
            assert!(
                c.rs[0]
                    .ns
                    .ip(&["route", "show", "default"])
                    .contains(cluster::NAT_ROUTER)
            );
            assert!(c.d[0].ns.addrs(Some("eth1")).contains("10.20.0.1/24"));
        } else {
            assert!(c.rs[0].ns.addrs(Some("lo")).contains(cluster::VIP));
        }
        c.public_link(1, false);
        assert!(wait_for(S(2), || c.d[1]
            .ns
            .ip(&["link", "show", "eth0"])
            .contains("NO-CARRIER")));
        c.public_link(1, true);
        assert!(cluster::resolve(&c.client, cluster::DIRECTORS[1]));
    }
}
