//! The rtnetlink VIP adapter against a real kernel: labels, masks and
//! broadcasts as `ifconfig` produced them, alias replacement, idempotent
//! re-announcement, and removal (gaps.md C11: never the NIC's own address);
//! the neighbour deletion of a monitored link's failure.

use lvs_tests::netns::{Netns, veth};
use pulse::config::Target;
use pulse::vip::Netlink;

fn target(ip: &str, dev: &str, mask: Option<&str>) -> Target {
    Target {
        ip: ip.parse().unwrap(),
        dev: dev.into(),
        mask: mask.map(|m| pulse::config::Mask::V4(m.parse().unwrap())),
    }
}

fn addrs(ns: &Netns) -> Vec<String> {
    ns.ip(&["-o", "-4", "addr", "show", "dev", "eth0"])
        .lines()
        .map(|l| {
            let l = l.split("\\").next().unwrap_or(l);
            l.split_whitespace().skip(2).collect::<Vec<_>>().join(" ")
        })
        .collect::<std::collections::BTreeSet<String>>()
        .into_iter()
        .collect()
}

fn sorted(v: Vec<String>) -> Vec<String> {
    let mut v = v;
    v.sort();
    v
}

/// Runs `f` with a netlink handle inside `ns`.
fn with_netlink<T: Send>(ns: &Netns, f: impl AsyncFnOnce(Netlink) -> T + Send) -> T {
    ns.block_on(async || f(Netlink::connect().expect("rtnetlink")).await)
}

#[test]
fn vips_get_ifconfigs_labels_masks_and_broadcasts() {
    if !lvs_tests::require(
        lvs_tests::Need::Netns,
        "vips_get_ifconfigs_labels_masks_and_broadcasts",
    ) {
        return;
    }
    let ns = Netns::new("lpvipa");
    let peer = Netns::new("lpvipb");
    veth(&ns, "eth0", &peer, "eth0");
    ns.ip(&["addr", "add", "192.0.2.1/24", "dev", "eth0"]);
    let base = "inet 192.0.2.1/24 scope global eth0".to_string();

    with_netlink(&ns, async |n: Netlink| {
        n.up(&target("192.0.2.100", "eth0:1", Some("255.255.255.0")))
            .await
            .unwrap();
        n.up(&target("10.9.8.7", "eth0:2", None)).await.unwrap();
        n.up(&target("192.0.2.101", "eth0:3", Some("255.255.255.255")))
            .await
            .unwrap();
    });
    assert_eq!(
        addrs(&ns),
        sorted(vec![
            base.clone(),
            "inet 192.0.2.100/24 brd 192.0.2.255 scope global secondary eth0:1".into(),
            "inet 10.9.8.7/8 brd 10.255.255.255 scope global eth0:2".into(),
            "inet 192.0.2.101/32 brd 192.0.2.101 scope global eth0:3".into(),
        ])
    );

    // Re-announcing changes nothing; a new address on a used alias label
    // replaces the old one, as ifconfig did.
    with_netlink(&ns, async |n: Netlink| {
        n.up(&target("192.0.2.100", "eth0:1", Some("255.255.255.0")))
            .await
            .unwrap();
        n.up(&target("192.0.2.102", "eth0:3", Some("255.255.255.255")))
            .await
            .unwrap();
    });
    let now = addrs(&ns);
    assert_eq!(now.len(), 4, "{now:?}");
    assert!(
        now.iter()
            .any(|l| l.starts_with("inet 192.0.2.102/32") && l.ends_with("eth0:3")),
        "{now:?}"
    );
    assert!(!now.iter().any(|l| l.contains("192.0.2.101")), "{now:?}");

    // Down removes exactly the labelled addresses; the NIC keeps its own.
    with_netlink(&ns, async |n: Netlink| {
        for t in [
            target("192.0.2.100", "eth0:1", None),
            target("10.9.8.7", "eth0:2", None),
            target("192.0.2.102", "eth0:3", None),
        ] {
            n.down(&t).await.unwrap();
        }
    });
    assert_eq!(addrs(&ns), vec![base.clone()]);

    // A VIP on the base device (C11): added and removed alone.
    with_netlink(&ns, async |n: Netlink| {
        n.up(&target("192.0.2.200", "eth0", None)).await.unwrap();
    });
    assert_eq!(
        addrs(&ns),
        sorted(vec![
            base.clone(),
            "inet 192.0.2.200/24 brd 192.0.2.255 scope global secondary eth0".into()
        ])
    );
    with_netlink(&ns, async |n: Netlink| {
        n.down(&target("192.0.2.200", "eth0", None)).await.unwrap();
    });
    assert_eq!(addrs(&ns), vec![base]);
    let up = ns.ip(&["-o", "link", "show", "eth0"]);
    assert!(up.contains("state UP"), "{up}");

    // An unknown device is an error, not a panic.
    let e = with_netlink(&ns, async |n: Netlink| {
        n.up(&target("192.0.2.9", "nosuch0:1", None)).await
    });
    assert_eq!(e.unwrap_err().to_string(), "No such device");
}

/// Two bring-ups of the same VIP at once (an activation and the re-ARP of
/// a master that hears its partner, each in its own task, as the
/// original's ifconfig processes ran side by side) both succeed.
#[test]
fn concurrent_bring_ups_of_one_vip_both_succeed() {
    if !lvs_tests::require(
        lvs_tests::Need::Netns,
        "concurrent_bring_ups_of_one_vip_both_succeed",
    ) {
        return;
    }
    let ns = Netns::new("lpvipc");
    let peer = Netns::new("lpvipd");
    veth(&ns, "eth0", &peer, "eth0");
    ns.ip(&["addr", "add", "192.0.2.1/24", "dev", "eth0"]);
    let t = target("192.0.2.100", "eth0:1", Some("255.255.255.0"));
    for _ in 0..5 {
        let (a, b) = with_netlink(&ns, async |n: Netlink| tokio::join!(n.up(&t), n.up(&t)));
        assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
        assert_eq!(
            addrs(&ns),
            vec![
                "inet 192.0.2.1/24 scope global eth0".to_string(),
                "inet 192.0.2.100/24 brd 192.0.2.255 scope global secondary eth0:1".into()
            ]
        );
        with_netlink(&ns, async |n: Netlink| n.down(&t).await.unwrap());
    }
}

/// fos mode's gateway check reads the routing table on the same rtnetlink
/// socket while VIPs go up and down (a takeover brings them up as the
/// check of the next failure may run): the route dump and the address
/// dumps must not meet (two dumps at once on one socket fail with EBUSY).
/// Large tables make every dump take several reads.
#[test]
fn gateway_check_and_bring_ups_at_once_both_succeed() {
    if !lvs_tests::require(
        lvs_tests::Need::Netns,
        "gateway_check_and_bring_ups_at_once_both_succeed",
    ) {
        return;
    }
    let ns = Netns::new("lpvipe");
    let gw = Netns::new("lpvipf");
    veth(&ns, "eth0", &gw, "eth0");
    ns.ip(&["addr", "add", "192.0.2.1/24", "dev", "eth0"]);
    gw.ip(&["addr", "add", "192.0.2.254/24", "dev", "eth0"]);
    let mut batch = String::from("route add default via 192.0.2.254\n");
    for i in 0..2000 {
        batch += &format!(
            "route add 10.{}.{}.0/24 via 192.0.2.254\n",
            i / 256,
            i % 256
        );
    }
    for i in 0..200 {
        batch += &format!("addr add 198.18.{}.{}/32 dev eth0\n", i / 250, i % 250 + 1);
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), batch).unwrap();
    ns.ip(&["-batch", &file.path().display().to_string()]);
    let t = target("192.0.2.100", "eth0:1", Some("255.255.255.0"));
    let absent = target("192.0.2.101", "eth0:2", None);
    for round in 0..10 {
        let (up, reachable, down) = with_netlink(&ns, async |n: Netlink| {
            tokio::join!(n.up(&t), pulse::gateway::reachable(&n), n.down(&absent))
        });
        assert!(up.is_ok() && down.is_ok(), "round {round}: {up:?} {down:?}");
        assert!(
            reachable,
            "round {round}: the gateway counts as unreachable"
        );
        with_netlink(&ns, async |n: Netlink| n.down(&t).await.unwrap());
    }
}

/// What pulse relies on when a monitored link goes down: a datagram sent
/// without carrier waits in the neighbour entry of its destination while
/// the kernel tries to resolve it, and arrives late if the link comes back
/// within those seconds; `forget_neighbour` deletes the entry and drops the
/// datagram with it. Forgetting an entry that is not there fails (ENOENT).
#[test]
fn forgetting_a_resolving_neighbour_drops_the_datagram_queued_on_it() {
    if !lvs_tests::require(
        lvs_tests::Need::Netns,
        "forgetting_a_resolving_neighbour_drops_the_datagram_queued_on_it",
    ) {
        return;
    }
    let ns = Netns::new("lpvipg");
    let peer = Netns::new("lpviph");
    veth(&ns, "eth0", &peer, "eth0");
    ns.ip(&["addr", "add", "192.0.2.1/24", "dev", "eth0"]);
    peer.ip(&["addr", "add", "192.0.2.2/24", "dev", "eth0"]);
    // The kernel gives up on an unresolved entry (and drops what waits on
    // it) after mcast_solicit probes a second apart: ten, so that a slow,
    // loaded machine still brings the cable back in time.
    ns.enter(|| std::fs::write("/proc/sys/net/ipv4/neigh/eth0/mcast_solicit", "10"))
        .unwrap();
    let rx = peer.enter(|| std::net::UdpSocket::bind("192.0.2.2:5390").unwrap());
    let tx = ns.enter(|| std::net::UdpSocket::bind("192.0.2.1:0").unwrap());
    let index = ns.enter(|| send_arp::ifindex("eth0")).unwrap();
    let partner = "192.0.2.2".parse().unwrap();
    let entry = || ns.ip(&["neigh", "show", "192.0.2.2", "dev", "eth0"]);
    for forget in [false, true] {
        // Cable out: the kernel has seen the carrier go (and flushed the
        // entries it had) before the datagram goes out.
        peer.ip(&["link", "set", "eth0", "down"]);
        assert!(lvs_tests::netns::wait_for(
            std::time::Duration::from_secs(3),
            || ns.ip(&["link", "show", "eth0"]).contains("NO-CARRIER")
        ));
        std::thread::sleep(std::time::Duration::from_millis(100));
        tx.send_to(&[u8::from(forget)], "192.0.2.2:5390").unwrap();
        assert!(entry().contains("INCOMPLETE"), "{}", entry());
        if forget {
            with_netlink(&ns, async |n: Netlink| {
                n.forget_neighbour(index, partner).await.unwrap();
                assert!(n.forget_neighbour(index, partner).await.is_err());
            });
            assert_eq!(entry().trim(), "", "entry left");
        }
        // Cable back.
        peer.ip(&["link", "set", "eth0", "up"]);
        let wait = if forget { 2500 } else { 8000 };
        rx.set_read_timeout(Some(std::time::Duration::from_millis(wait)))
            .unwrap();
        let mut buf = [0u8; 4];
        let got = rx.recv_from(&mut buf).map(|(len, _)| buf[..len].to_vec());
        if forget {
            assert!(got.is_err(), "a forgotten datagram arrived: {got:?}");
        } else {
            assert_eq!(got.unwrap(), [0], "the queued datagram arrives late");
        }
        assert!(lvs_tests::netns::wait_for(
            std::time::Duration::from_secs(3),
            || !ns.ip(&["link", "show", "eth0"]).contains("NO-CARRIER")
        ));
    }
}
