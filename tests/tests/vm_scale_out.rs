//! Scale-out (VM tier, docs/scale-out.md): three directors running pulse
//! in scale-out mode (lvsd, nannies) and BIRD behind an upstream router
//! running FRR (BGP multipath, BFD, ECMP hashing on ports), four
//! direct-routing real servers. New flows spread over every director; a
//! director that dies (link, then every process) is withdrawn by BFD and
//! no new request fails after; long-lived connections through it carry on
//! to the same real servers; a dead real server leaves every director's
//! table; a fourth director joins (the share of established connections
//! that survive is reported). The figures go to docs/PERFORMANCE.md.

use std::time::{Duration, Instant};

use lvs_tests::Need;
use lvs_tests::cluster::{Session, Traffic, requests_to, tally};
use lvs_tests::netns::wait_for;
use lvs_tests::scaleout::{self, DIRECTORS, ScaleOut, vip_addr};

/// Long-lived connections opened before a fault.
const SESSIONS: usize = 50;

fn ready(test: &str) -> bool {
    if !(lvs_tests::require(Need::Ipvs, test) && lvs_tests::require(Need::Netns, test)) {
        return false;
    }
    if !lvs_tests::bgp::available() {
        lvs_tests::skip(test, "needs FRR and BIRD 2 in the VM (.ci/install-deps)");
        return false;
    }
    true
}

/// Directors 0..n running, routed and BFD up.
fn started(tag: &str, n: usize) -> ScaleOut {
    let mut c = ScaleOut::new(tag);
    for i in 0..n {
        c.start(i, DIRECTORS);
    }
    let all: Vec<usize> = (0..n).collect();
    assert!(
        c.wait_next_hops(&all, Duration::from_secs(60)),
        "the upstream router never routed the VIP over {n} directors\n{}",
        c.dump()
    );
    assert!(
        c.wait_bfd(n, Duration::from_secs(30)),
        "BFD not up\n{}",
        c.dump()
    );
    c
}

/// `SESSIONS` kept-open connections, one request each; their first
/// answers.
fn open_sessions(c: &ScaleOut) -> (Vec<Session>, Vec<String>) {
    scaleout::open_sessions(&c.client, SESSIONS).unwrap_or_else(|e| panic!("{e}\n{}", c.dump()))
}

#[test]
fn flows_spread_and_survive_a_director_crash() {
    let test = "flows_spread_and_survive_a_director_crash";
    if !ready(test) {
        return;
    }
    let mut c = started("sc", 3);

    // New flows spread over every director (ECMP hashing on ports).
    let r = requests_to(&c.client, vip_addr(), 60);
    assert!(r.iter().all(|x| x.result.is_ok()), "{r:?}\n{}", c.dump());
    let per: Vec<usize> = (0..3)
        .map(|i| {
            c.members[i]
                .d
                .connections()
                .lines()
                .filter(|l| l.starts_with("TCP "))
                .count()
        })
        .collect();
    eprintln!(
        "60 new connections: real servers {:?}, directors {per:?}",
        tally(&r)
    );
    assert!(per.iter().all(|&n| n > 0), "{per:?}\n{}", c.dump());
    assert_eq!(tally(&r).len(), scaleout::SERVERS, "{:?}", tally(&r));

    // Long-lived connections, and new ones every 100 ms.
    let (mut sessions, first) = open_sessions(&c);
    let ports: Vec<u16> = sessions.iter().map(|s| s.local_port).collect();
    let holders = c.holders(&ports);
    let through_d1 = holders.iter().filter(|h| **h == Some(0)).count();
    assert!(through_d1 > 0, "no connection through d1: {holders:?}");
    let traffic = Traffic::start_to(&c.client, vip_addr(), Duration::from_millis(100), 100_000);
    std::thread::sleep(Duration::from_millis(500));

    // d1 dies: link down first, then every process.
    let crashed = c.crash_with_link(0);
    assert!(
        c.wait_next_hops(&[1, 2], Duration::from_secs(10)),
        "d1's route not withdrawn\n{}",
        c.dump()
    );
    let withdrawn = Instant::now();
    let detection = withdrawn - crashed;
    eprintln!(
        "d1 withdrawn {:.2} s after its link went down",
        detection.as_secs_f64()
    );
    // BFD (3 x 300 ms, FRR's interval), not the BGP hold time (3 s)
    assert!(
        detection < Duration::from_millis(2800),
        "withdrawn after {detection:?}: not by BFD\n{}",
        c.dump()
    );

    // Every long-lived connection carries on, to the same real server.
    let (same, failed) = scaleout::survivors(&mut sessions, &first);
    eprintln!(
        "{same} of {SESSIONS} long-lived connections survived ({through_d1} went through d1)"
    );
    assert!(failed.is_empty(), "{failed:?}\n{}", c.dump());

    // No new request fails once the route is withdrawn.
    let after = traffic.wait_since(withdrawn, 10, Duration::from_secs(20));
    let reqs = traffic.finish();
    let late: Vec<_> = reqs
        .iter()
        .filter(|r| r.start >= withdrawn && r.result.is_err())
        .collect();
    let during = reqs
        .iter()
        .filter(|r| r.start >= crashed && r.start < withdrawn && r.result.is_err())
        .count();
    eprintln!("requests failed between the crash and the withdrawal: {during}");
    assert!(late.is_empty(), "{late:?}\n{}", c.dump());
    assert!(after.iter().all(|r| r.result.is_ok()), "{after:?}");

    // A real server dies: every live director quiesces it (weight 0, its
    // place in the list kept: the mh tables stay alike).
    let died = Instant::now();
    c.rs[1].stop();
    let want: Vec<(String, u32)> = (0..scaleout::SERVERS)
        .map(|i| (c.rs[i].dest(), u32::from(i != 1)))
        .collect();
    for i in [1, 2] {
        let ok = wait_for(Duration::from_secs(10), || c.members[i].weights() == want);
        assert!(
            ok,
            "{}: {:?}\n{}",
            c.members[i].d.name,
            c.members[i].weights(),
            c.dump()
        );
        eprintln!(
            "{}: rs2 out {:.2} s after it died (check interval 1 s)",
            c.members[i].d.name,
            died.elapsed().as_secs_f64()
        );
    }
    let r = requests_to(&c.client, vip_addr(), 20);
    assert!(r.iter().all(|x| x.result.is_ok()), "{r:?}");
    assert!(!tally(&r).contains_key("rs2"), "{:?}", tally(&r));
}

#[test]
fn a_fourth_director_joins_and_established_connections_are_counted() {
    let test = "a_fourth_director_joins_and_established_connections_are_counted";
    if !ready(test) {
        return;
    }
    let mut c = started("sj", 3);
    let (mut sessions, first) = open_sessions(&c);
    c.start(3, DIRECTORS);
    assert!(
        c.wait_next_hops(&[0, 1, 2, 3], Duration::from_secs(60)),
        "d4 never announced\n{}",
        c.dump()
    );
    let (same, failed) = scaleout::survivors(&mut sessions, &first);
    let ports: Vec<u16> = sessions.iter().map(|s| s.local_port).collect();
    let on_d4 = c.holders(&ports).iter().filter(|h| **h == Some(3)).count();
    eprintln!(
        "d4 joined: {same} of {SESSIONS} established connections survived \
         ({:.0} %); {on_d4} now go through d4",
        100.0 * same as f64 / SESSIONS as f64
    );
    // The share is reported, not required (issue 18 asks for the figure):
    // a flow that ECMP moves meets the same table on every director (d4
    // announces only once each real server has settled: a down verdict
    // needs two failed checks), but a real server that really flaps while
    // d4 joins can still leave d4's table unlike its peers' for a while.
    if !failed.is_empty() {
        eprintln!("broken by the join: {failed:?}\n{}", c.dump());
    }
    assert!(same > 0, "no connection survived the join\n{}", c.dump());
    let r = requests_to(&c.client, vip_addr(), 40);
    assert!(r.iter().all(|x| x.result.is_ok()), "{r:?}");
}
