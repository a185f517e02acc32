//! End to end over IPv6 (VM tier): an IPv6-only lvs.cf (IPv6 primary and
//! backup, so the heartbeat runs over IPv6; an IPv6 VIP; IPv6 real
//! servers) with client traffic, for direct routing and NAT, through kill
//! -9 of the active pulse and a real server's death; the table lvsd
//! programs read back with the real `ipvsadm -Sn`.

use std::time::{Duration, Instant};

use lvs_tests::Need;
use lvs_tests::cluster::{self, Cluster, Config, Family, Method, Request, Traffic, tally};
use lvs_tests::netns::wait_for;

fn ready(test: &str) -> bool {
    lvs_tests::require(Need::Ipvs, test) && lvs_tests::require(Need::Netns, test)
}

fn names(t: &std::collections::BTreeMap<String, usize>) -> Vec<&str> {
    t.keys().map(String::as_str).collect()
}

/// The lines of `ipvsadm -Sn` (Debian's) in director `i`'s namespace.
fn ipvsadm_save(c: &Cluster, i: usize) -> Vec<String> {
    let out = c.d[i]
        .ns
        .command("/sbin/ipvsadm")
        .arg("-Sn")
        .output()
        .expect("run ipvsadm -Sn");
    assert!(out.status.success(), "ipvsadm -Sn: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// Whether `ip -6 addr` shows the VIP on director `i` without the
/// `tentative` flag (usable at once: no duplicate address detection).
fn vip_usable(c: &Cluster, i: usize) -> bool {
    let out = c.d[i].ns.ip(&["-o", "-6", "addr", "show", "dev", "eth0"]);
    out.lines()
        .any(|l| l.contains(&format!("inet6 {}/64", c.family.vip())) && !l.contains("tentative"))
}

/// kill -9 of d1's pulse under traffic: d2 takes over, the client's
/// neighbour entry for the VIP moves to d2, and every request started
/// after it moved is answered.
fn kill9_takeover(c: &mut Cluster, cf: &Config) {
    let traffic = Traffic::start_to(&c.client, c.vip_addr(), Duration::from_millis(100), 100_000);
    let warm = traffic.wait_since(c.t0, 6, Duration::from_secs(10));
    assert_eq!(
        names(&tally(&warm)),
        ["rs1", "rs2", "rs3"],
        "{warm:?}\n{}",
        c.dump()
    );
    assert_eq!(c.client_vip_mac(), Some(c.d[0].mac()), "{}", c.dump());
    assert!(vip_usable(c, 0), "{}", c.dump());

    let mark = c.d[1].mark();
    let fault = c.d[0].kill9();
    let active = c.d[1]
        .wait_line(
            mark,
            "pulse: partner dead: activating lvs",
            cf.deadtime() + Duration::from_secs(10),
        )
        .unwrap_or_else(|| panic!("d2 did not take over\n{}", c.dump()));
    assert!(
        wait_for(Duration::from_secs(5), || c.d[1].has_vip()),
        "{}",
        c.dump()
    );
    assert!(
        vip_usable(c, 1),
        "the VIP is tentative on d2\n{}",
        c.d[1].ns.ip(&["-6", "addr", "show", "dev", "eth0"])
    );
    let d2 = c.d[1].mac();
    let mut moved = None;
    wait_for(Duration::from_secs(10), || {
        if c.client_vip_mac().as_deref() == Some(d2.as_str()) {
            moved = Some(Instant::now());
        }
        moved.is_some()
    });
    let moved = moved.unwrap_or_else(|| {
        panic!(
            "the client's neighbour entry for the VIP did not move to d2 ({d2}): {}\n{}",
            c.client.neigh(c.family.vip()),
            c.dump()
        )
    });
    let after = traffic.wait_since(moved, 12, Duration::from_secs(20));
    let reqs = traffic.finish();
    let late: Vec<&Request> = reqs
        .iter()
        .filter(|r| r.start >= moved + Duration::from_millis(100) && r.result.is_err())
        .collect();
    eprintln!(
        "IPv6 {:?}: d2 active {:.2} s after the kill, the client's entry moved {:.2} s after; \
         {} requests failed in all",
        c.method,
        (active - fault).as_secs_f64(),
        (moved - fault).as_secs_f64(),
        reqs.iter().filter(|r| r.result.is_err()).count()
    );
    assert!(
        late.is_empty(),
        "requests failed after the neighbour entry moved: {late:?}\n{}",
        c.dump()
    );
    assert!(
        after.iter().all(|r| r.result.is_ok()),
        "{after:?}\n{}",
        c.dump()
    );
}

#[test]
fn ipv6_direct_routing_takes_over_after_kill9() {
    let test = "ipv6_direct_routing_takes_over_after_kill9";
    if !ready(test) {
        return;
    }
    let _serial = cluster::serial();
    let mut c = Cluster::with_family("v6dr", Method::Direct, Family::V6);
    let cf = Config::v6(Method::Direct);
    c.cold_start(&cf);
    let save = ipvsadm_save(&c, 0);
    let want = [
        "-A -t [2001:db8:10::100]:80 -s rr",
        "-a -t [2001:db8:10::100]:80 -r [2001:db8:10::11]:80 -g -w 1",
        "-a -t [2001:db8:10::100]:80 -r [2001:db8:10::12]:80 -g -w 1",
        "-a -t [2001:db8:10::100]:80 -r [2001:db8:10::13]:80 -g -w 1",
    ];
    assert_eq!(save, want, "{}", c.dump());
    kill9_takeover(&mut c, &cf);
}

#[test]
fn ipv6_nat_survives_a_real_server_death_and_a_takeover() {
    let test = "ipv6_nat_survives_a_real_server_death_and_a_takeover";
    if !ready(test) {
        return;
    }
    let _serial = cluster::serial();
    let mut c = Cluster::with_family("v6nat", Method::Nat, Family::V6);
    let cf = Config::v6(Method::Nat);
    c.cold_start(&cf);
    let save = ipvsadm_save(&c, 0);
    let want = [
        "-A -t [2001:db8:10::100]:80 -s rr",
        "-a -t [2001:db8:10::100]:80 -r [2001:db8:20::11]:80 -m -w 1",
        "-a -t [2001:db8:10::100]:80 -r [2001:db8:20::12]:80 -m -w 1",
        "-a -t [2001:db8:10::100]:80 -r [2001:db8:20::13]:80 -m -w 1",
    ];
    assert_eq!(save, want, "{}", c.dump());
    // the NAT router address is on the active director, not tentative
    let eth1 = c.d[0].ns.ip(&["-o", "-6", "addr", "show", "dev", "eth1"]);
    assert!(
        eth1.lines()
            .any(|l| l.contains("inet6 2001:db8:20::254/64") && !l.contains("tentative")),
        "{eth1}"
    );

    // rs2 dies: its nanny takes it out over IPv6.
    let traffic = Traffic::start_to(&c.client, c.vip_addr(), Duration::from_millis(100), 100_000);
    let warm = traffic.wait_since(c.t0, 6, Duration::from_secs(10));
    assert_eq!(names(&tally(&warm)), ["rs1", "rs2", "rs3"], "{warm:?}");
    let died = Instant::now();
    c.rs[1].stop();
    let rest = vec![c.rs[0].dest(), c.rs[2].dest()];
    c.wait_destinations(0, &rest, Duration::from_secs(5));
    // the standby's nanny sees it too (warm or not, it checks nothing
    // when cold: only the active table is asserted)
    let out = Instant::now();
    eprintln!(
        "IPv6 NAT: rs2 out of d1's table {:.2} s after it died",
        (out - died).as_secs_f64()
    );
    let without = traffic.wait_since(out, 12, Duration::from_secs(20));
    drop(traffic);
    assert!(without.iter().all(|r| r.result.is_ok()), "{without:?}");
    assert_eq!(names(&tally(&without)), ["rs1", "rs3"]);

    // rs2 back, then the takeover.
    c.rs[1].start();
    let all: Vec<String> = c.rs.iter().map(|r| r.dest()).collect();
    c.wait_destinations(0, &all, Duration::from_secs(15));
    kill9_takeover(&mut c, &cf);
    // the real servers' gateway moved with it (d2's real-network side)
    let d2 = c.d[1].ns.mac("eth1");
    assert!(
        wait_for(Duration::from_secs(5), || {
            c.rs[0].ns.neigh_mac(cf.family.nat_router()).as_deref() == Some(d2.as_str())
        }),
        "rs1's neighbour entry for the NAT router: {} (d2's eth1 {d2})\n{}",
        c.rs[0].ns.neigh(cf.family.nat_router()),
        c.dump()
    );
}
