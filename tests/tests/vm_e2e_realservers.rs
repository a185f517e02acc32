//! Real servers coming and going under client traffic (VM tier): a real
//! server dies and comes back (its nanny takes it out of rotation and puts
//! it back), and a reload that adds a real server leaves an established
//! connection alone.

use std::time::{Duration, Instant};

use lvs_tests::Need;
use lvs_tests::arpwatch::ArpWatch;
use lvs_tests::cluster::{
    self, Cluster, Config, Method, Session, Traffic, requests, tally, vip_addr,
};

fn ready(test: &str) -> bool {
    lvs_tests::require(Need::Ipvs, test) && lvs_tests::require(Need::Netns, test)
}

fn names(t: &std::collections::BTreeMap<String, usize>) -> Vec<&str> {
    t.keys().map(String::as_str).collect()
}

#[test]
fn a_dead_real_server_leaves_rotation_and_comes_back() {
    if !ready("a_dead_real_server_leaves_rotation_and_comes_back") {
        return;
    }
    let _serial = cluster::serial();
    let mut c = Cluster::new("rs", Method::Nat);
    let cf = Config::new(Method::Nat);
    c.cold_start(&cf);
    let traffic = Traffic::start(&c.client, Duration::from_millis(100), 100_000);
    let warm = traffic.wait_since(c.t0, 6, Duration::from_secs(10));
    assert_eq!(names(&tally(&warm)), ["rs1", "rs2", "rs3"], "{warm:?}");

    // rs2 dies: its nanny's next check fails (one failed check is enough,
    // nanny.md §3) and it leaves the table.
    let mark = c.d[0].mark();
    let died = Instant::now();
    c.rs[1].stop();
    let gone = c.d[0]
        .wait_line(
            mark,
            "nanny: [inactive] shutting down 10.20.0.12:80 due to connection failure",
            Duration::from_secs(15),
        )
        .unwrap_or_else(|| panic!("rs2 not taken out\n{}", c.dump()));
    let rest = vec![c.rs[0].dest(), c.rs[2].dest()];
    c.wait_destinations(0, &rest, Duration::from_secs(5));
    // The check interval is `timeout` = 1 s; the check itself is quick
    // (connection refused): out within two intervals.
    assert!(gone - died < Duration::from_secs(3), "{:?}", gone - died);
    let out = Instant::now();
    let without = traffic.wait_since(out, 12, Duration::from_secs(20));
    assert!(without.iter().all(|r| r.result.is_ok()), "{without:?}");
    assert_eq!(names(&tally(&without)), ["rs1", "rs3"]);

    // Only requests scheduled to rs2 before it was taken out failed.
    let reqs = traffic.requests();
    for r in reqs.iter().filter(|r| r.result.is_err()) {
        assert!(
            r.start >= died - Duration::from_millis(100) && r.start <= out,
            "a request failed outside rs2's death window: {r:?}"
        );
    }

    // rs2 is back: two good checks (reentry = 2, timeout = 1) put it back.
    let mark = c.d[0].mark();
    let back = Instant::now();
    c.rs[1].start();
    let readded = c.d[0]
        .wait_line(
            mark,
            "nanny: [ active ] making 10.20.0.12:80 available",
            Duration::from_secs(15),
        )
        .unwrap_or_else(|| panic!("rs2 not back\n{}", c.dump()));
    assert!(
        readded - back < Duration::from_secs(6),
        "{:?}",
        readded - back
    );
    let all: Vec<String> = c.rs.iter().map(|r| r.dest()).collect();
    c.wait_destinations(0, &all, Duration::from_secs(5));
    let again = traffic.wait_since(Instant::now(), 12, Duration::from_secs(20));
    let reqs = traffic.finish();
    assert!(again.iter().all(|r| r.result.is_ok()), "{again:?}");
    assert_eq!(names(&tally(&again)), ["rs1", "rs2", "rs3"]);
    assert!(
        reqs.iter()
            .filter(|r| r.start > out)
            .all(|r| r.result.is_ok()),
        "requests failed while rs2 was out of rotation or coming back"
    );
}

#[test]
fn a_reload_that_adds_a_real_server_keeps_established_connections() {
    let test = "a_reload_that_adds_a_real_server_keeps_established_connections";
    if !ready(test) {
        return;
    }
    let _serial = cluster::serial();
    let mut c = Cluster::new("rl", Method::Nat);
    let mut cf = Config::new(Method::Nat);
    cf.servers = vec![0, 1];
    c.cold_start(&cf);

    // A kept-open connection through the VIP, used once.
    let mut session = Session::open(&c.client, vip_addr()).expect("connect to the VIP");
    let first = session.get().expect("first request on the kept connection");
    assert!(first == "rs1" || first == "rs2", "{first}");
    let port = session.local_port;
    assert!(c.d[0].has_connection(port), "{}", c.d[0].connections());

    // rs3 joins: both routers' lvs.cf change, pulse forwards SIGHUP to lvsd.
    cf.servers = vec![0, 1, 2];
    for d in &c.d {
        std::fs::write(d.cf_path(), cf.text()).unwrap();
    }
    let mark = c.d[0].mark();
    c.d[0].signal(libc::SIGHUP);
    assert!(
        c.d[0]
            .wait_line(
                mark,
                "lvs: rereading configuration file",
                Duration::from_secs(10)
            )
            .is_some(),
        "{}",
        c.dump()
    );
    let all: Vec<String> = c.rs.iter().map(|r| r.dest()).collect();
    c.wait_destinations(0, &all, Duration::from_secs(15));
    let reload: Vec<String> = c.d[0]
        .lines()
        .into_iter()
        .skip(mark)
        .map(|l| l.text)
        .filter(|l| l.starts_with("lvs: "))
        .collect();
    assert!(
        reload
            .iter()
            .any(|l| l.starts_with("lvs: configuration reloaded: ")
                && l.contains(", 1 nannies started, 0 stopped")),
        "{reload:?}"
    );
    assert!(
        !reload.iter().any(|l| l.contains("shutting down")),
        "{reload:?}"
    );

    // The connection is still there, in the kernel and end to end, and
    // still goes to the same real server.
    assert!(c.d[0].has_connection(port), "{}", c.d[0].connections());
    let second = session
        .get()
        .expect("request on the kept connection after the reload");
    assert_eq!(second, first);
    // New connections are spread over all three.
    let r = requests(&c.client, 30);
    assert!(r.iter().all(|r| r.result.is_ok()), "{r:?}");
    assert_eq!(names(&tally(&r)), ["rs1", "rs2", "rs3"]);
    let third = session.get().expect("the kept connection once more");
    assert_eq!(third, first);
}

/// Warm standby: the standby's nanny sees a real server die while the
/// partner is active, takes it out of the standby's table, and after a
/// takeover the dead server gets no request; nothing fails.
#[test]
fn a_warm_standby_knows_a_dead_real_server_before_it_takes_over() {
    let test = "a_warm_standby_knows_a_dead_real_server_before_it_takes_over";
    if !ready(test) {
        return;
    }
    let _serial = cluster::serial();
    let mut c = Cluster::new("rw", Method::Nat);
    let cf = Config::new(Method::Nat);
    c.cold_start_with(&cf, &["--warm-standby"]);
    let all: Vec<String> = c.rs.iter().map(|r| r.dest()).collect();
    c.wait_destinations(1, &all, Duration::from_secs(20));

    let mark = c.d[1].mark();
    c.rs[1].stop();
    c.d[1]
        .wait_line(
            mark,
            "nanny: [inactive] shutting down 10.20.0.12:80 due to connection failure",
            Duration::from_secs(15),
        )
        .unwrap_or_else(|| panic!("the standby's nanny did not see rs2 die\n{}", c.dump()));
    let rest = vec![c.rs[0].dest(), c.rs[2].dest()];
    c.wait_destinations(1, &rest, Duration::from_secs(5));
    c.wait_destinations(0, &rest, Duration::from_secs(5));
    // The standby's lvsd reports it down.
    let st = c.d[1].lvsd_status().expect("d2's lvsd answers");
    assert_eq!(st.role, "standby");
    let rs2 = st.virtuals[0]
        .reals
        .iter()
        .find(|r| r.name == "rs2")
        .expect("rs2 in d2's status");
    assert_eq!(rs2.health, "down", "{st:?}");

    let traffic = Traffic::start(&c.client, Duration::from_millis(100), 100_000);
    let before = traffic.wait_since(c.t0, 6, Duration::from_secs(10));
    assert!(before.iter().all(|r| r.result.is_ok()), "{before:?}");
    let mark = c.d[1].mark();
    let arps = ArpWatch::start(&c.client, cluster::VIP);
    let at = c.d[0].kill9();
    c.d[1]
        .wait_line(
            mark,
            "pulse: partner dead: activating lvs",
            cf.deadtime() + Duration::from_secs(10),
        )
        .unwrap_or_else(|| panic!("no takeover\n{}", c.dump()));
    let d2_mac = c.d[1].mac();
    assert!(lvs_tests::netns::wait_for(Duration::from_secs(10), || c
        .client_vip_mac()
        .as_deref()
        == Some(d2_mac.as_str())));
    let after = traffic.wait_since(Instant::now(), 12, Duration::from_secs(20));
    let reqs = traffic.finish();
    // Nothing fails but, at most, the request in flight when d2 moved the
    // client and the real servers' gateway (see cluster::failed_across_move).
    let moved = arps
        .first_gratuitous_from(at, &d2_mac)
        .map(|a| a.at)
        .unwrap_or_else(|| panic!("no gratuitous ARP from d2\n{}", c.dump()));
    let beyond = cluster::failed_beyond_the_move(&reqs, at, moved);
    assert!(beyond.is_empty(), "{beyond:?}\n{}", c.dump());
    assert_eq!(names(&tally(&after)), ["rs1", "rs3"], "{after:?}");
    // rs2 never came back into d2's table on the way.
    assert_eq!(
        c.d[1].destinations(),
        {
            let mut r = rest.clone();
            r.sort();
            r
        },
        "{}",
        c.dump()
    );
}
