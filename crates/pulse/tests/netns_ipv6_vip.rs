//! The rtnetlink VIP adapter with IPv6 addresses against a real kernel: the
//! address comes up with its prefix length and without duplicate address
//! detection (never `tentative`), deprecated (never a source address of
//! the router's own connections), re-announcing is a no-op, a tentative
//! copy is replaced, an alias label is ignored, and down removes only the
//! VIP.

use lvs_tests::netns::{Netns, veth};
use pulse::config::{Mask, Target};
use pulse::vip::Netlink;

fn target(ip: &str, dev: &str, prefix: Option<u8>) -> Target {
    Target {
        ip: ip.parse().unwrap(),
        dev: dev.into(),
        mask: prefix.map(Mask::Prefix),
    }
}

/// `ip -6 addr show` lines of eth0 with global scope, without lifetimes.
fn addrs(ns: &Netns) -> Vec<String> {
    let mut v: Vec<String> = ns
        .ip(&["-o", "-6", "addr", "show", "dev", "eth0", "scope", "global"])
        .lines()
        .map(|l| {
            let l = l.split('\\').next().unwrap_or(l);
            l.split_whitespace().skip(2).collect::<Vec<_>>().join(" ")
        })
        .collect();
    v.sort();
    v
}

fn with_netlink<T: Send>(ns: &Netns, f: impl AsyncFnOnce(Netlink) -> T + Send) -> T {
    ns.block_on(async || f(Netlink::connect().expect("rtnetlink")).await)
}

#[test]
fn ipv6_vips_come_up_without_dad_and_go_down() {
    if !lvs_tests::require(
        lvs_tests::Need::Netns,
        "ipv6_vips_come_up_without_dad_and_go_down",
    ) {
        return;
    }
    let ns = Netns::new("lp6vipa");
    let peer = Netns::new("lp6vipb");
    veth(&ns, "eth0", &peer, "eth0");
    ns.ip(&[
        "-6",
        "addr",
        "add",
        "2001:db8::1/64",
        "dev",
        "eth0",
        "nodad",
    ]);
    let base = "inet6 2001:db8::1/64 scope global nodad".to_string();
    assert_eq!(addrs(&ns), vec![base.clone()]);

    with_netlink(&ns, async |n: Netlink| {
        n.up(&target("2001:db8::100", "eth0:1", None))
            .await
            .unwrap();
        n.up(&target("2001:db8:1::7", "eth0", Some(120)))
            .await
            .unwrap();
    });
    let want = vec![
        base.clone(),
        // deprecated: never the source of the router's own connections
        "inet6 2001:db8:1::7/120 scope global nodad deprecated".to_string(),
        "inet6 2001:db8::100/64 scope global nodad deprecated".to_string(),
    ];
    let mut want = want;
    want.sort();
    assert_eq!(addrs(&ns), want);
    let global = ns.ip(&["-6", "addr", "show", "scope", "global"]);
    assert!(!global.contains("tentative"), "{global}");

    // Re-announcing changes nothing.
    with_netlink(&ns, async |n: Netlink| {
        n.up(&target("2001:db8::100", "eth0:1", None))
            .await
            .unwrap();
    });
    assert_eq!(addrs(&ns), want);

    // Down removes the VIPs only (the alias label means nothing for IPv6).
    with_netlink(&ns, async |n: Netlink| {
        n.down(&target("2001:db8::100", "eth0:1", None))
            .await
            .unwrap();
        n.down(&target("2001:db8:1::7", "eth0", Some(120)))
            .await
            .unwrap();
        // already down: nothing to do
        n.down(&target("2001:db8:1::7", "eth0", Some(120)))
            .await
            .unwrap();
    });
    assert_eq!(addrs(&ns), vec![base.clone()]);

    // A copy of the VIP still in duplicate address detection (someone ran
    // `ip addr add` with DAD on a slow link) is replaced by a usable one.
    ns.command("sysctl")
        .args(["-qw", "net.ipv6.conf.eth0.dad_transmits=5"])
        .status()
        .expect("sysctl");
    ns.ip(&["-6", "addr", "add", "2001:db8::100/64", "dev", "eth0"]);
    let global = ns.ip(&["-6", "addr", "show", "scope", "global"]);
    assert!(global.contains("tentative"), "{global}");
    with_netlink(&ns, async |n: Netlink| {
        n.up(&target("2001:db8::100", "eth0", None)).await.unwrap();
    });
    let now = addrs(&ns);
    assert!(
        now.contains(&"inet6 2001:db8::100/64 scope global nodad deprecated".to_string()),
        "{now:?}"
    );
    assert!(!now.iter().any(|l| l.contains("tentative")), "{now:?}");
}
