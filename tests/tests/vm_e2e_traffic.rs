//! The whole suite under client traffic (VM tier): two directors running
//! the real pulse → lvsd → nanny, three real servers, a client sending
//! requests through the VIP. NAT and direct routing; failover by kill -9
//! of the active pulse and by pulling the active director's public link,
//! with the client's outage measured against `deadtime`.

use std::time::{Duration, Instant};

use lvs_tests::Need;
use lvs_tests::cluster::{
    self, Cluster, Config, Method, Outage, Request, Traffic, outage, requests, tally,
};
use lvs_tests::netns::wait_for;

/// The client sends one request every this often during a failover.
const PERIOD: Duration = Duration::from_millis(100);

/// How long after `deadtime` a new request may still find the service
/// down. Detection takes at most `deadtime`: the backup's dead timer runs
/// from the last heartbeat it heard, which left before the fault. Then the
/// backup activates: the VIP (and the NAT router address) come up with the
/// first gratuitous ARP at once, lvsd starts and creates the service, and
/// each nanny adds its real server on its first good check. That took 0.5
/// to 1.1 s under QEMU TCG with debug builds (about 0.1 s natively), hence
/// 1.5 s. (Requests are judged by when they start: one already waiting on
/// the old path when the takeover happens fails only at its timeout.)
const MARGIN: Duration = Duration::from_millis(1500);

fn ready(test: &str) -> bool {
    lvs_tests::require(Need::Ipvs, test) && lvs_tests::require(Need::Netns, test)
}

/// A bounded loop of 30 requests: every one answered, round robin over
/// the three real servers.
fn assert_spread(c: &Cluster) {
    let r = requests(&c.client, 30);
    assert!(
        r.iter().all(|r| r.result.is_ok()),
        "failed requests: {:?}\n{}",
        r.iter().filter(|r| r.result.is_err()).collect::<Vec<_>>(),
        c.dump()
    );
    let t = tally(&r);
    let want: std::collections::BTreeMap<String, usize> = [("rs1", 10), ("rs2", 10), ("rs3", 10)]
        .map(|(k, v)| (k.to_string(), v))
        .into();
    assert_eq!(t, want, "round robin over the three real servers");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// kill -9 of the active pulse (lvsd, the nannies and the VIP stay).
    Kill9,
    /// The active director's public cable pulled (`monitor_links = 1`).
    LinkDown,
}

/// Prints the failover timeline (stderr, shown on failure or with
/// `--nocapture`) and checks the outage bound.
fn check_outage(c: &Cluster, cf: &Config, reqs: &[Request], fault: Instant, took: Instant) {
    let o: Option<Outage> = outage(reqs, fault);
    let bound = cf.deadtime() + MARGIN;
    let rel = |t: Instant| t.saturating_duration_since(fault).as_secs_f64();
    eprintln!(
        "fault at {:.3}s; backup active +{:.3}s; failed requests: {}",
        c.secs(fault),
        rel(took),
        o.as_ref().map_or("none".to_string(), |o| format!(
            "{} started from +{:.3}s to +{:.3}s, first success after them +{}",
            o.failed,
            rel(o.first_failure),
            rel(o.last_failure),
            o.recovered
                .map_or("never".into(), |t| format!("{:.3}s", rel(t)))
        ))
    );
    for r in reqs.iter().filter(|r| r.result.is_err()) {
        eprintln!(
            "  failed: +{:.3}s .. +{:.3}s {:?}",
            rel(r.start),
            rel(r.end),
            r.result
        );
    }
    for d in &c.d {
        for l in d.lines().iter().filter(|l| l.at >= fault) {
            eprintln!("  {} +{:.3}s {}", d.name, rel(l.at), l.text);
        }
    }
    // Nothing failed before the fault.
    let early: Vec<&Request> = reqs
        .iter()
        .filter(|r| r.end < fault && r.result.is_err())
        .collect();
    assert!(
        early.is_empty(),
        "requests failed before the fault: {early:?}"
    );
    assert!(
        took - fault <= cf.deadtime() + Duration::from_millis(500),
        "takeover {:.3}s after the fault, deadtime {:?}",
        (took - fault).as_secs_f64(),
        cf.deadtime()
    );
    if let Some(o) = o {
        let last = o.last_failure.saturating_duration_since(fault);
        eprintln!(
            "{} requests failed, the last one started {:.3}s after the fault (bound {:.3}s)",
            o.failed,
            last.as_secs_f64(),
            bound.as_secs_f64()
        );
        assert!(
            last <= bound,
            "a request failed {:.3}s after the fault, later than deadtime {:?} + {:?}",
            last.as_secs_f64(),
            cf.deadtime(),
            MARGIN
        );
        assert!(
            o.recovered.is_some(),
            "no request succeeded after the outage"
        );
    }
}

fn failover(tag: &str, method: Method, fault: Fault, test: &str) {
    if !ready(test) {
        return;
    }
    let _serial = cluster::serial();
    let mut c = Cluster::new(tag, method);
    let mut cf = Config::new(method);
    cf.monitor_links = fault == Fault::LinkDown;
    c.cold_start(&cf);
    assert!(
        !c.d[1].has_vip(),
        "both directors hold the VIP\n{}",
        c.dump()
    );
    assert_spread(&c);

    let traffic = Traffic::start(&c.client, PERIOD, 100_000);
    let warm = traffic.wait_since(c.t0, 5, Duration::from_secs(10));
    assert!(warm.iter().all(|r| r.result.is_ok()), "{warm:?}");
    let mark = c.d[1].mark();
    let at = match fault {
        Fault::Kill9 => c.d[0].kill9(),
        Fault::LinkDown => {
            let t = Instant::now();
            c.public_link(0, false);
            t
        }
    };
    let took = c.d[1]
        .wait_line(
            mark,
            "pulse: partner dead: activating lvs",
            cf.deadtime() + Duration::from_secs(10),
        )
        .unwrap_or_else(|| panic!("the backup did not take over\n{}", c.dump()));
    assert!(wait_for(Duration::from_secs(5), || c.d[1].has_vip()));
    let all: Vec<String> = c.rs.iter().map(|r| r.dest()).collect();
    c.wait_destinations(1, &all, Duration::from_secs(10));
    // The client now talks to the backup, and every real server answers.
    let d2_mac = c.d[1].mac();
    assert!(
        wait_for(Duration::from_secs(10), || c.client_vip_mac().as_deref()
            == Some(d2_mac.as_str())),
        "the client still sends to {:?}, not d2 {d2_mac}",
        c.client_vip_mac()
    );
    let settled = Instant::now();
    let after = traffic.wait_since(settled, 15, Duration::from_secs(20));
    let reqs = traffic.finish();
    assert!(
        after.iter().all(|r| r.result.is_ok()),
        "requests fail after the takeover: {after:?}\n{}",
        c.dump()
    );
    assert_eq!(tally(&after).len(), 3, "{:?}", tally(&after));
    check_outage(&c, &cf, &reqs, at, took);

    match fault {
        Fault::Kill9 => {
            // kill -9 leaves the old director's VIP up (no clean-up).
            assert!(c.d[0].has_vip());
        }
        Fault::LinkDown => {
            let d1 = &c.d[0];
            assert!(
                d1.wait_line(
                    0,
                    "pulse: Local NIC link failure: Pulse disabled",
                    Duration::ZERO
                )
                .is_some()
                    && d1
                        .wait_line(
                            0,
                            "pulse: local link failure: deactivating LVS",
                            Duration::ZERO
                        )
                        .is_some(),
                "{}",
                d1.dump()
            );
            assert!(!d1.has_vip(), "{}", d1.dump());
            // The cable back: d1 is enabled again but stays standby (no
            // fail-back); the service stays on d2.
            let mark = d1.mark();
            c.public_link(0, true);
            assert!(
                d1.wait_line(
                    mark,
                    "pulse: Local NIC link(s) restored: Pulse enabled",
                    Duration::from_secs(10)
                )
                .is_some(),
                "{}",
                d1.dump()
            );
            std::thread::sleep(cf.deadtime());
            assert!(!c.d[0].has_vip() && c.d[1].has_vip(), "{}", c.dump());
            assert_spread(&c);
        }
    }
}

#[test]
fn nat_failover_by_kill9_of_pulse() {
    failover(
        "nk",
        Method::Nat,
        Fault::Kill9,
        "nat_failover_by_kill9_of_pulse",
    );
}

#[test]
fn nat_failover_by_link_down() {
    failover(
        "nl",
        Method::Nat,
        Fault::LinkDown,
        "nat_failover_by_link_down",
    );
}

#[test]
fn direct_routing_failover_by_kill9_of_pulse() {
    failover(
        "dk",
        Method::Direct,
        Fault::Kill9,
        "direct_routing_failover_by_kill9_of_pulse",
    );
}

#[test]
fn direct_routing_failover_by_link_down() {
    failover(
        "dl",
        Method::Direct,
        Fault::LinkDown,
        "direct_routing_failover_by_link_down",
    );
}
