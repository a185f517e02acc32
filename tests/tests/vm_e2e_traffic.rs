//! The whole suite under client traffic (VM tier): two directors running
//! the real pulse → lvsd → nanny, three real servers, a client sending
//! requests through the VIP. NAT and direct routing; failover by kill -9
//! of the active pulse and by pulling the active director's public link,
//! with the client's outage measured against `deadtime`.

use std::time::{Duration, Instant};

use lvs_tests::Need;
use lvs_tests::arpwatch::ArpWatch;
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
    /// kill -9 of the active director's lvsd (pulse gives the VIPs up and
    /// tells the partner it is inactive).
    LvsdKilled,
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
    print_failures(c, reqs, fault);
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

/// One failover case.
#[derive(Debug, Clone, Copy)]
struct Case {
    tag: &'static str,
    method: Method,
    fault: Fault,
    /// `pulse --warm-standby` on both directors.
    warm: bool,
    /// keepalive 0.1, deadtime 0.3 instead of 1 and 3.
    fast: bool,
}

/// The line the backup logs when it takes over after `fault`.
fn takeover_line(fault: Fault) -> &'static str {
    match fault {
        Fault::Kill9 | Fault::LinkDown => "pulse: partner dead: activating lvs",
        Fault::LvsdKilled => "pulse: primary inactive: activating lvs",
    }
}

/// Warm standby's goal, asserted: with kill -9 of pulse no request fails
/// but, at most, the one in flight when d2's first gratuitous ARP moved the
/// client (the old director serves until the ARPs move the client, the new
/// one at once; a connection opened through d1 and going on through d2 is
/// unknown to d2); otherwise no request that started after the new
/// director's first gratuitous ARP reached the client fails, and with the
/// 0.1/0.3 timers fewer than 0.5 s worth of requests fail.
fn check_warm(c: &Cluster, case: Case, reqs: &[Request], fault: Instant, arp: Option<Instant>) {
    let rel = |t: Instant| t.saturating_duration_since(fault).as_secs_f64();
    let failed: Vec<&Request> = reqs
        .iter()
        .filter(|r| r.end >= fault && r.result.is_err())
        .collect();
    eprintln!(
        "warm standby, {:?} {:?}{}: {} failed; first gratuitous ARP from d2 at the client {}",
        case.method,
        case.fault,
        if case.fast { " (0.1/0.3)" } else { "" },
        failed.len(),
        arp.map_or("never".into(), |t| format!("+{:.3}s", rel(t)))
    );
    match case.fault {
        Fault::Kill9 => {
            let arp = arp.unwrap_or_else(|| panic!("no gratuitous ARP from d2\n{}", c.dump()));
            let (across, _) = cluster::failed_across_move(reqs, fault, arp);
            if let Some(r) = across.first() {
                eprintln!(
                    "  in flight when the client moved (+{:.3}s .. +{:.3}s): {:?}",
                    rel(r.start),
                    rel(r.end),
                    r.result
                );
            }
            let beyond = cluster::failed_beyond_the_move(reqs, fault, arp);
            assert!(
                beyond.is_empty(),
                "kill -9 of pulse with warm standby: requests failed apart from the one in \
                 flight when the client moved at +{:.3}s: {beyond:?}\n{}",
                rel(arp),
                c.dump()
            );
        }
        Fault::LinkDown | Fault::LvsdKilled => {
            let arp = arp.unwrap_or_else(|| panic!("no gratuitous ARP from d2\n{}", c.dump()));
            let late: Vec<&&Request> = failed.iter().filter(|r| r.start > arp).collect();
            assert!(
                late.is_empty(),
                "requests started after d2's first gratuitous ARP (+{:.3}s) failed: {late:?}\n{}",
                rel(arp),
                c.dump()
            );
            if case.fast {
                // Requests go out every PERIOD: the failed ones stand for
                // that much time each (counted, not timed: the moment the
                // cable goes is only known to the test within a few
                // hundred ms under emulation).
                let cost = PERIOD * failed.len() as u32;
                assert!(
                    cost < Duration::from_millis(500),
                    "0.1/0.3: {} requests failed ({:.1} s of requests)",
                    failed.len(),
                    cost.as_secs_f64()
                );
            }
        }
    }
}

fn failover(case: Case, test: &str) {
    if !ready(test) {
        return;
    }
    let _serial = cluster::serial();
    let Case {
        tag,
        method,
        fault,
        warm,
        fast,
    } = case;
    let mut c = Cluster::new(tag, method);
    let mut cf = Config::new(method);
    cf.monitor_links = fault == Fault::LinkDown;
    if fast {
        cf.keepalive = "0.1".into();
        cf.deadtime = "0.3".into();
    }
    let extra: &[&str] = if warm { &["--warm-standby"] } else { &[] };
    c.cold_start_with(&cf, extra);
    assert!(
        !c.d[1].has_vip(),
        "both directors hold the VIP\n{}",
        c.dump()
    );
    let all: Vec<String> = c.rs.iter().map(|r| r.dest()).collect();
    let mut standby_lvsd = None;
    if warm {
        // The standby's table is ready before any fault, its lvsd says so.
        c.wait_destinations(1, &all, Duration::from_secs(20));
        assert!(
            wait_for(Duration::from_secs(10), || c.d[1].lvsd_role().as_deref()
                == Some("standby")
                && c.d[0].lvsd_role().as_deref() == Some("active")),
            "lvsd roles d1 {:?} d2 {:?}\n{}",
            c.d[0].lvsd_role(),
            c.d[1].lvsd_role(),
            c.dump()
        );
        standby_lvsd = c.d[1].lvsd_status().map(|s| s.pid);
    } else {
        assert!(c.d[1].destinations().is_empty(), "{}", c.dump());
    }
    assert_spread(&c);

    let arps = ArpWatch::start(&c.client, cluster::VIP);
    let traffic = Traffic::start(&c.client, PERIOD, 100_000);
    let settle = traffic.wait_since(c.t0, 5, Duration::from_secs(10));
    assert!(settle.iter().all(|r| r.result.is_ok()), "{settle:?}");
    let mark = c.d[1].mark();
    let at = match fault {
        Fault::Kill9 => c.d[0].kill9(),
        Fault::LinkDown => {
            let t = Instant::now();
            c.public_link(0, false);
            t
        }
        Fault::LvsdKilled => c.kill_lvsd(0),
    };
    let took = c.d[1]
        .wait_line(
            mark,
            takeover_line(fault),
            cf.deadtime() + Duration::from_secs(10),
        )
        .unwrap_or_else(|| panic!("the backup did not take over\n{}", c.dump()));
    assert!(wait_for(Duration::from_secs(5), || c.d[1].has_vip()));
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
    let arp = arps.first_gratuitous_from(at, &d2_mac).map(|s| s.at);
    if warm {
        // The takeover told the running lvsd; none was started.
        assert!(
            wait_for(Duration::from_secs(5), || c.d[1].lvsd_role().as_deref()
                == Some("active")),
            "{}",
            c.dump()
        );
        assert_eq!(
            c.d[1].lvsd_status().map(|s| s.pid),
            standby_lvsd,
            "d2's lvsd was restarted\n{}",
            c.dump()
        );
        print_timeline(&c, &reqs, at, took);
        check_warm(&c, case, &reqs, at, arp);
    } else {
        check_outage(&c, &cf, &reqs, at, took);
        // Cold too: the VIPs come up once the new lvsd's table can serve,
        // so nothing fails once the client has been moved.
        let arp = arp.unwrap_or_else(|| panic!("no gratuitous ARP from d2\n{}", c.dump()));
        let late: Vec<&Request> = reqs
            .iter()
            .filter(|r| r.start > arp && r.result.is_err())
            .collect();
        assert!(
            late.is_empty(),
            "cold: requests started after d2's first gratuitous ARP (+{:.3}s) failed: {late:?}",
            arp.saturating_duration_since(at).as_secs_f64()
        );
    }

    match fault {
        Fault::Kill9 => {
            // kill -9 leaves the old director's VIP up (no clean-up).
            assert!(c.d[0].has_vip());
            if warm {
                // Its lvsd saw pulse go and keeps the table.
                assert!(
                    wait_for(Duration::from_secs(5), || c.d[0]
                        .lvsd_status()
                        .is_some_and(|s| s.pulse_gone)),
                    "{}",
                    c.dump()
                );
            }
        }
        Fault::LvsdKilled => {
            assert!(!c.d[0].has_vip(), "{}", c.dump());
            if warm {
                // d1 hears d2 running and becomes a warm standby again.
                assert!(
                    wait_for(Duration::from_secs(10), || c.d[0].lvsd_role().as_deref()
                        == Some("standby")),
                    "{}",
                    c.dump()
                );
                c.wait_destinations(0, &all, Duration::from_secs(20));
            }
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
            if warm {
                // d1 gave up the VIPs and kept lvsd (with NAT its table
                // too; with direct routing its nannies lost the real
                // servers with the cable).
                assert_eq!(d1.lvsd_role().as_deref(), Some("standby"), "{}", c.dump());
                if method == Method::Nat {
                    assert!(!d1.destinations().is_empty(), "{}", c.dump());
                }
            }
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
            std::thread::sleep(cf.deadtime().max(Duration::from_secs(1)));
            assert!(!c.d[0].has_vip() && c.d[1].has_vip(), "{}", c.dump());
            assert_spread(&c);
        }
    }
}

/// Prints the failover timeline (stderr, shown on failure or with
/// `--nocapture`).
fn print_timeline(c: &Cluster, reqs: &[Request], fault: Instant, took: Instant) {
    eprintln!(
        "fault at {:.3}s; backup active +{:.3}s",
        c.secs(fault),
        took.saturating_duration_since(fault).as_secs_f64()
    );
    print_failures(c, reqs, fault);
}

/// Prints each failed request and every director's lines since the fault.
fn print_failures(c: &Cluster, reqs: &[Request], fault: Instant) {
    let rel = |t: Instant| t.saturating_duration_since(fault).as_secs_f64();
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
}

fn case(tag: &'static str, method: Method, fault: Fault, warm: bool) -> Case {
    Case {
        tag,
        method,
        fault,
        warm,
        fast: false,
    }
}

#[test]
fn nat_failover_by_kill9_of_pulse() {
    let t = "nat_failover_by_kill9_of_pulse";
    failover(case("nk", Method::Nat, Fault::Kill9, false), t);
}

#[test]
fn nat_failover_by_link_down() {
    let t = "nat_failover_by_link_down";
    failover(case("nl", Method::Nat, Fault::LinkDown, false), t);
}

#[test]
fn direct_routing_failover_by_kill9_of_pulse() {
    let t = "direct_routing_failover_by_kill9_of_pulse";
    failover(case("dk", Method::Direct, Fault::Kill9, false), t);
}

#[test]
fn direct_routing_failover_by_link_down() {
    let t = "direct_routing_failover_by_link_down";
    failover(case("dl", Method::Direct, Fault::LinkDown, false), t);
}

#[test]
fn nat_failover_by_lvsd_killed() {
    let t = "nat_failover_by_lvsd_killed";
    failover(case("nx", Method::Nat, Fault::LvsdKilled, false), t);
}

#[test]
fn warm_nat_kill9_of_pulse_fails_nothing_but_a_request_across_the_arp() {
    let t = "warm_nat_kill9_of_pulse_fails_nothing_but_a_request_across_the_arp";
    failover(case("wnk", Method::Nat, Fault::Kill9, true), t);
}

#[test]
fn warm_direct_routing_kill9_of_pulse_fails_nothing_but_a_request_across_the_arp() {
    let t = "warm_direct_routing_kill9_of_pulse_fails_nothing_but_a_request_across_the_arp";
    failover(case("wdk", Method::Direct, Fault::Kill9, true), t);
}

#[test]
fn warm_nat_link_down_fails_nothing_after_the_arp() {
    let t = "warm_nat_link_down_fails_nothing_after_the_arp";
    failover(case("wnl", Method::Nat, Fault::LinkDown, true), t);
}

#[test]
fn warm_direct_routing_link_down_fails_nothing_after_the_arp() {
    let t = "warm_direct_routing_link_down_fails_nothing_after_the_arp";
    failover(case("wdl", Method::Direct, Fault::LinkDown, true), t);
}

#[test]
fn warm_nat_lvsd_killed_fails_nothing_after_the_arp() {
    let t = "warm_nat_lvsd_killed_fails_nothing_after_the_arp";
    failover(case("wnx", Method::Nat, Fault::LvsdKilled, true), t);
}

#[test]
fn warm_direct_routing_lvsd_killed_fails_nothing_after_the_arp() {
    let t = "warm_direct_routing_lvsd_killed_fails_nothing_after_the_arp";
    failover(case("wdx", Method::Direct, Fault::LvsdKilled, true), t);
}

#[test]
fn warm_nat_link_down_with_fast_timers_costs_under_half_a_second() {
    let t = "warm_nat_link_down_with_fast_timers_costs_under_half_a_second";
    let mut c = case("wnf", Method::Nat, Fault::LinkDown, true);
    c.fast = true;
    failover(c, t);
}
