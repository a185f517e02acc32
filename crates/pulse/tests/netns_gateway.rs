//! fos mode's gateway check against a real kernel on an IPv6-only router:
//! the IPv6 default gateway (link-local, with its interface, or global)
//! answers ICMPv6 echo, and stops counting once its address goes away.

use lvs_tests::netns::{Netns, veth};
use pulse::vip::Netlink;

fn reachable(ns: &Netns) -> bool {
    ns.block_on(async || pulse::gateway::reachable(&Netlink::connect().expect("rtnetlink")).await)
}

#[test]
fn the_ipv6_default_gateway_answers_until_its_address_goes_away() {
    if !lvs_tests::require(
        lvs_tests::Need::Netns,
        "the_ipv6_default_gateway_answers_until_its_address_goes_away",
    ) {
        return;
    }
    let ns = Netns::new("lpgw6a");
    let gw = Netns::new("lpgw6b");
    veth(&ns, "eth0", &gw, "eth0");
    // no IPv4 at all; addresses without duplicate address detection
    for (n, addrs) in [
        (&ns, ["fe80::1/64", "2001:db8::1/64"]),
        (&gw, ["fe80::fe/64", "2001:db8::fe/64"]),
    ] {
        for a in addrs {
            n.ip(&["-6", "addr", "add", a, "dev", "eth0", "nodad"]);
        }
    }
    assert!(!reachable(&ns), "no default route: unreachable");

    // the usual one: a link-local gateway, reached through its interface
    ns.ip(&[
        "-6", "route", "add", "default", "via", "fe80::fe", "dev", "eth0",
    ]);
    assert!(reachable(&ns), "link-local gateway");
    gw.ip(&["-6", "addr", "del", "fe80::fe/64", "dev", "eth0"]);
    assert!(!reachable(&ns), "the gateway's address went away");

    ns.ip(&["-6", "route", "replace", "default", "via", "2001:db8::fe"]);
    assert!(reachable(&ns), "global gateway");
}
