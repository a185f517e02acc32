//! Rolling upgrade (VM tier): one router runs our pulse (with lvsd, the
//! nannies and real traffic), the other a stand-in for an unmodified
//! Piranha pulse (`lvs-test-peer`: the byte-exact heartbeat of pulse.md §4
//! and the original's failover rules, written independently of our pulse).
//! Whichever side is master, the two always agree on who is active: at
//! start-up, when either one stops, when it comes back (no fail-back), and
//! when a master is forced active.

use std::time::Duration;

use lvs_tests::Need;
use lvs_tests::cluster::{self, Cluster, Config, DIRECTORS, Director, Method, program, requests};
use lvs_tests::netns::wait_for;

const KEEPALIVE: &str = "1";
const DEADTIME: &str = "3";
const PATIENCE: Duration = Duration::from_secs(10);

fn ready(test: &str) -> bool {
    lvs_tests::require(Need::Ipvs, test) && lvs_tests::require(Need::Netns, test)
}

/// Starts the Piranha stand-in on director `i` (`master` or `backup`).
fn start_peer(c: &mut Cluster, i: usize, role: &str, extra: &[&str]) {
    let mut args = vec![DIRECTORS[i], DIRECTORS[1 - i], role, KEEPALIVE, DEADTIME];
    args.extend_from_slice(extra);
    c.d[i].start_program(&program("lvs-test-peer"), &args);
}

/// Whether the stand-in on `d` runs and says it is active.
fn peer_active(d: &Director) -> bool {
    let mut active = false;
    if !d.started() {
        return false;
    }
    for l in d.lines_since_start() {
        if l.text.starts_with("peer: ") && l.text.ends_with(": activating lvs") {
            active = true;
        } else if l.text == "peer: partner active: deactivating LVS" {
            active = false;
        }
    }
    active
}

/// Over a deadtime plus a keepalive (time for either side to declare the
/// other dead, had it missed its heartbeats), exactly one side is active all the
/// time: ours (holding the VIP) if `ours_active`, else the stand-in.
fn agree(c: &Cluster, ours: usize, ours_active: bool) {
    let peer = 1 - ours;
    let end = std::time::Instant::now() + Duration::from_secs(4);
    while std::time::Instant::now() < end {
        let (o, p) = (c.d[ours].has_vip(), peer_active(&c.d[peer]));
        assert!(
            o == ours_active && p != ours_active,
            "ours active: {o}, stand-in active: {p}, expected ours active: {ours_active}\n{}",
            c.dump()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Neither side rejected anything the other sent.
fn clean_wire(c: &Cluster) {
    for d in &c.d {
        for l in d.lines() {
            assert!(
                !l.text.contains("Incompatible heartbeat")
                    && !l.text.contains("bad heartbeat packet")
                    && !l.text.contains("Unexpected heartbeat"),
                "{}: {}",
                d.name,
                l.text
            );
        }
    }
}

/// Waits for `line` from `d` after `mark`; when it is our pulse
/// activating, also for the VIP to be up.
fn wait(d: &Director, mark: usize, line: &str, c: &Cluster) {
    assert!(
        d.wait_line(mark, line, PATIENCE).is_some(),
        "{}: no {line:?}\n{}",
        d.name,
        c.dump()
    );
    if line.starts_with("pulse: ") && line.ends_with(": activating lvs") {
        assert!(
            wait_for(PATIENCE, || d.has_vip()),
            "{}: no VIP\n{}",
            d.name,
            c.dump()
        );
    }
}

fn config() -> Config {
    let mut cf = Config::new(Method::Nat);
    cf.keepalive = KEEPALIVE.into();
    cf.deadtime = DEADTIME.into();
    cf
}

/// Traffic flows through our router while it is active.
fn serves(c: &Cluster, ours: usize) {
    let all: Vec<String> = c.rs.iter().map(|r| r.dest()).collect();
    c.wait_destinations(ours, &all, Duration::from_secs(15));
    let r = requests(&c.client, 6);
    assert!(r.iter().all(|r| r.result.is_ok()), "{r:?}\n{}", c.dump());
}

#[test]
fn our_pulse_as_master_with_a_piranha_backup() {
    if !ready("our_pulse_as_master_with_a_piranha_backup") {
        return;
    }
    let _serial = cluster::serial();
    let mut c = Cluster::new("um", Method::Nat);
    let text = config().text();

    // Ours alone becomes active; the stand-in joins as standby.
    c.d[0].start(&text, &[]);
    wait(&c.d[0], 0, "pulse: partner dead: activating lvs", &c);
    start_peer(&mut c, 1, "backup", &[]);
    wait(&c.d[1], 0, "peer: STARTING PULSE AS BACKUP", &c);
    agree(&c, 0, true);
    serves(&c, 0);

    // Ours stops: the stand-in takes over.
    let mark = c.d[1].mark();
    assert_eq!(c.d[0].stop(), Some(0));
    wait(&c.d[1], mark, "peer: partner dead: activating lvs", &c);
    agree(&c, 0, false);

    // Ours comes back: it hears the active stand-in and stays standby.
    let mark = c.d[0].mark();
    c.d[0].start(&text, &[]);
    wait(&c.d[0], mark, "pulse: STARTING PULSE AS MASTER", &c);
    agree(&c, 0, false);
    assert!(
        c.d[0]
            .line_at(mark, "pulse: partner dead: activating lvs")
            .is_none()
    );

    // Ours forced active: the stand-in, a backup, yields to the master.
    assert_eq!(c.d[0].stop(), Some(0));
    let (m0, m1) = (c.d[0].mark(), c.d[1].mark());
    c.d[0].start(&text, &["--forceactive"]);
    wait(
        &c.d[0],
        m0,
        "pulse: Forced active on startup: activating lvs",
        &c,
    );
    wait(&c.d[1], m1, "peer: partner active: deactivating LVS", &c);
    wait(&c.d[0], m0, "pulse: partner active: resending arps", &c);
    agree(&c, 0, true);
    serves(&c, 0);
    clean_wire(&c);
}

#[test]
fn our_pulse_as_backup_with_a_piranha_master() {
    if !ready("our_pulse_as_backup_with_a_piranha_master") {
        return;
    }
    let _serial = cluster::serial();
    let mut c = Cluster::new("ub", Method::Nat);
    let text = config().text();

    // The stand-in alone becomes active; ours joins as standby.
    start_peer(&mut c, 0, "master", &[]);
    wait(&c.d[0], 0, "peer: partner dead: activating lvs", &c);
    c.d[1].start(&text, &[]);
    wait(&c.d[1], 0, "pulse: STARTING PULSE AS BACKUP", &c);
    agree(&c, 1, false);

    // The stand-in dies: ours takes over and serves.
    let mark = c.d[1].mark();
    c.d[0].kill9();
    wait(&c.d[1], mark, "pulse: partner dead: activating lvs", &c);
    agree(&c, 1, true);
    serves(&c, 1);

    // The stand-in comes back: no fail-back, both agree ours stays active.
    let m0 = c.d[0].mark();
    start_peer(&mut c, 0, "master", &[]);
    wait(&c.d[0], m0, "peer: STARTING PULSE AS MASTER", &c);
    agree(&c, 1, true);
    assert!(
        !c.d[0].lines()[m0..]
            .iter()
            .any(|l| l.text.ends_with("activating lvs"))
    );

    // The stand-in forced active: ours, the backup, yields.
    c.d[0].kill9();
    let (m0, m1) = (c.d[0].mark(), c.d[1].mark());
    start_peer(&mut c, 0, "master", &["--forceactive"]);
    wait(
        &c.d[0],
        m0,
        "peer: Forced active on startup: activating lvs",
        &c,
    );
    wait(&c.d[1], m1, "pulse: partner active: deactivating LVS", &c);
    assert!(
        wait_for(PATIENCE, || !c.d[1].has_vip()),
        "ours kept the VIP\n{}",
        c.dump()
    );
    agree(&c, 1, false);
    clean_wire(&c);
}

/// Our router warm (`--warm-standby`), the Piranha one cold: ours keeps
/// its table ready as the standby, takes over by telling its lvsd, and
/// yields to a forced-active Piranha master without stopping lvsd.
#[test]
fn our_warm_pulse_as_backup_with_a_piranha_master() {
    if !ready("our_warm_pulse_as_backup_with_a_piranha_master") {
        return;
    }
    let _serial = cluster::serial();
    let mut c = Cluster::new("uw", Method::Nat);
    let text = config().text();
    start_peer(&mut c, 0, "master", &[]);
    wait(&c.d[0], 0, "peer: partner dead: activating lvs", &c);
    c.d[1].start(&text, &["--warm-standby"]);
    wait(&c.d[1], 0, "pulse: STARTING PULSE AS BACKUP", &c);
    agree(&c, 1, false);
    // Warm: our standby's table is ready and its lvsd knows its role.
    let all: Vec<String> = c.rs.iter().map(|r| r.dest()).collect();
    c.wait_destinations(1, &all, Duration::from_secs(20));
    assert_eq!(
        c.d[1].lvsd_role().as_deref(),
        Some("standby"),
        "{}",
        c.dump()
    );
    let lvsd = c.d[1].lvsd_status().map(|s| s.pid);

    // The stand-in dies: ours takes over with the lvsd it has.
    let mark = c.d[1].mark();
    c.d[0].kill9();
    wait(&c.d[1], mark, "pulse: partner dead: activating lvs", &c);
    agree(&c, 1, true);
    serves(&c, 1);
    assert_eq!(
        c.d[1].lvsd_role().as_deref(),
        Some("active"),
        "{}",
        c.dump()
    );
    assert_eq!(c.d[1].lvsd_status().map(|s| s.pid), lvsd, "{}", c.dump());

    // The stand-in forced active: ours yields and keeps lvsd as the standby.
    let (m0, m1) = (c.d[0].mark(), c.d[1].mark());
    start_peer(&mut c, 0, "master", &["--forceactive"]);
    wait(
        &c.d[0],
        m0,
        "peer: Forced active on startup: activating lvs",
        &c,
    );
    wait(&c.d[1], m1, "pulse: partner active: deactivating LVS", &c);
    assert!(
        wait_for(PATIENCE, || !c.d[1].has_vip()),
        "ours kept the VIP\n{}",
        c.dump()
    );
    agree(&c, 1, false);
    assert!(
        wait_for(PATIENCE, || c.d[1].lvsd_role().as_deref()
            == Some("standby")),
        "{}",
        c.dump()
    );
    assert_eq!(c.d[1].lvsd_status().map(|s| s.pid), lvsd, "{}", c.dump());
    c.wait_destinations(1, &all, Duration::from_secs(10));
    clean_wire(&c);
}
