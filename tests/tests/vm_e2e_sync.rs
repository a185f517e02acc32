//! The IPVS connection-sync daemon end to end (VM tier): with
//! `syncdaemon = 1` the standby's kernel learns the active router's
//! connections, still holds them after it takes over (through lvsd's
//! start-up, which clears the service table), and an established
//! connection carries on through the new router. With warm standby
//! (`pulse --warm-standby`) too: the standby's lvsd has the table ready,
//! the established connection carries on and new ones are served at once.

use std::time::Duration;

use lvs_tests::Need;
use lvs_tests::cluster::{self, Cluster, Config, Method, Session, vip_addr};
use lvs_tests::netns::wait_for;

#[test]
fn the_backup_holds_the_connections_after_takeover() {
    takeover_keeps_connections("the_backup_holds_the_connections_after_takeover", false);
}

#[test]
fn the_warm_standby_holds_the_connections_and_serves_new_ones_at_once() {
    takeover_keeps_connections(
        "the_warm_standby_holds_the_connections_and_serves_new_ones_at_once",
        true,
    );
}

fn takeover_keeps_connections(test: &str, warm: bool) {
    if !lvs_tests::require(Need::Ipvs, test) || !lvs_tests::require(Need::Netns, test) {
        return;
    }
    let _serial = cluster::serial();
    let mut c = Cluster::new(if warm { "sw" } else { "sy" }, Method::Nat);
    let mut cf = Config::new(Method::Nat);
    cf.syncdaemon = true;
    let extra: &[&str] = if warm { &["--warm-standby"] } else { &[] };
    c.cold_start_with(&cf, extra);
    let all: Vec<String> = c.rs.iter().map(|r| r.dest()).collect();

    let mut session = Session::open(&c.client, vip_addr()).expect("connect to the VIP");
    let server = session.get().expect("first request");
    let port = session.local_port;
    assert!(c.d[0].has_connection(port), "{}", c.d[0].connections());
    // The master daemon sends it (after a few packets, batched every
    // couple of seconds); the backup daemon enters it in d2's table.
    assert!(
        wait_for(Duration::from_secs(15), || c.d[1].has_connection(port)),
        "the backup never learned the connection\nd1:\n{}\nd2:\n{}",
        c.d[0].connections(),
        c.d[1].connections()
    );
    if warm {
        c.wait_destinations(1, &all, Duration::from_secs(20));
    } else {
        assert!(
            c.d[1].destinations().is_empty(),
            "the standby runs no lvsd\n{}",
            c.dump()
        );
    }

    let mark = c.d[1].mark();
    c.d[0].kill9();
    assert!(
        c.d[1]
            .wait_line(
                mark,
                "pulse: partner dead: activating lvs",
                cf.deadtime() + Duration::from_secs(10)
            )
            .is_some(),
        "{}",
        c.dump()
    );
    c.wait_destinations(1, &all, Duration::from_secs(15));
    let d2_mac = c.d[1].mac();
    assert!(wait_for(Duration::from_secs(10), || c
        .client_vip_mac()
        .as_deref()
        == Some(d2_mac.as_str())));
    // After the takeover (and lvsd's table flush at start-up) the new
    // active router still has the connection ...
    assert!(c.d[1].has_connection(port), "{}", c.d[1].connections());
    // ... and carries it: the same real server answers on it.
    let again = session.get().unwrap_or_else(|e| {
        panic!(
            "the connection did not survive the takeover: {e}\n{}",
            c.dump()
        )
    });
    assert_eq!(again, server);
    // New connections are served by the new router too.
    let fresh = lvs_tests::cluster::requests(&c.client, 6);
    assert!(
        fresh.iter().all(|r| r.result.is_ok()),
        "{fresh:?}\n{}",
        c.dump()
    );
}
