//! pulse --warm-standby in network namespaces: two routers running the
//! real binary with the recorder standing in for lvsd (it records its
//! starts, stops, signals and every role line pulse writes on its pipe).
//! lvsd runs on both routers; a takeover tells it `active` instead of
//! starting it, giving up tells it `standby` instead of stopping it.

mod lab;

use std::time::Duration;

use lab::{Cf, Lab, VIP, cold_start_with, wait_for};

const S: fn(u64) -> Duration = Duration::from_secs;
const WARM: &[&str] = &["--warm-standby"];

fn need(test: &str) -> bool {
    lvs_tests::require(lvs_tests::Need::Netns, test)
}

/// The records of lvsd number `n` on router `r`: its pid and its role
/// lines (`active`, `standby`) in order.
fn roles(r: &lab::Router, n: usize) -> (i32, Vec<String>) {
    let pid = r.lvsd_pid(n);
    let prefix = format!("role {pid} ");
    let lines = r
        .records()
        .iter()
        .filter_map(|l| l.strip_prefix(&prefix).map(String::from))
        .collect();
    (pid, lines)
}

/// Waits (3 s) until lvsd number `n` of `r` has been told exactly `want`.
fn told(lab: &Lab, r: &lab::Router, n: usize, want: &[&str]) {
    assert!(
        wait_for(S(3), || roles(r, n).1 == want),
        "{} told {:?}, want {want:?}\n{}",
        r.name,
        roles(r, n).1,
        lab.dump()
    );
}

/// Waits `secs` for `r` to log `text`.
fn logs(lab: &Lab, r: &lab::Router, text: &str, secs: u64) {
    assert!(
        r.wait_logged(text, S(secs)),
        "{} never logged {text:?}\n{}",
        r.name,
        lab.dump()
    );
}

/// Both routers warm: r1 active, r2 standby, each running one lvsd that
/// was started with `--standby` and a pipe.
fn warm_pair(tag: &str, cf: &Cf) -> Lab {
    let mut lab = Lab::new(tag, false);
    cold_start_with(&mut lab, cf, WARM);
    for r in [&lab.r1, &lab.r2] {
        assert!(
            wait_for(S(3), || r.count_records("start ") == 1),
            "{}",
            lab.dump()
        );
        let start = r
            .records()
            .into_iter()
            .find(|l| l.starts_with("start "))
            .unwrap();
        assert!(
            start.contains(" --standby --pulse-fd="),
            "lvsd started without the standby role and pipe: {start}"
        );
    }
    // r1 told its lvsd it took over; r2's still stands by.
    told(&lab, &lab.r1, 0, &["active"]);
    assert!(roles(&lab.r2, 0).1.is_empty(), "{}", lab.dump());
    assert!(lab.r1.has_vip() && lab.r2.has_no_vip(), "{}", lab.dump());
    lab
}

#[test]
fn both_routers_run_lvsd_and_a_kill9_takeover_only_tells_it() {
    if !need("both_routers_run_lvsd_and_a_kill9_takeover_only_tells_it") {
        return;
    }
    let cf = Cf::default();
    let mut lab = warm_pair("w1", &cf);
    // The status shows it on the standby: lvsd runs, warm standby.
    assert!(
        wait_for(S(3), || lab.r2.role().as_deref() == Some("standby")),
        "{}",
        lab.dump()
    );
    let st = lab.r2.status().expect("r2 answers");
    assert_eq!(st.role, "standby");
    assert!(st.daemon.warm_standby, "{st:?}");
    assert_eq!(st.daemon.pid, Some(lab.r2.lvsd_pid(0) as u32));
    let (code, text, _) = lab.r2.status_cli(false);
    assert_eq!(code, 0);
    assert!(
        text.contains("(warm standby: lvsd runs on both routers)"),
        "{text}"
    );

    lab.r1.kill9();
    logs(&lab, &lab.r2, "partner dead: activating lvs", 5);
    told(&lab, &lab.r2, 0, &["active"]);
    assert!(wait_for(S(2), || lab.r2.has_vip()), "{}", lab.dump());
    // No second lvsd on r2; active_cmd ran once.
    assert_eq!(lab.r2.count_records("start "), 1, "{}", lab.dump());
    assert_eq!(lab.r2.count_record("hook active"), 1, "{}", lab.dump());
    // r1's orphaned lvsd saw pulse go (and keeps running).
    let pid = lab.r1.lvsd_pid(0);
    assert!(
        wait_for(S(3), || lab.r1.count_record(&format!("pulse-gone {pid}"))
            == 1),
        "{}",
        lab.dump()
    );
    assert_eq!(lab.r1.count_records("stop "), 0, "{}", lab.dump());
    // SAFETY: the orphaned recorder of this test.
    unsafe { libc::kill(pid, libc::SIGTERM) };
}

#[test]
fn split_brain_and_healing_keep_lvsd_on_both_routers() {
    if !need("split_brain_and_healing_keep_lvsd_on_both_routers") {
        return;
    }
    let cf = Cf::default();
    let lab = warm_pair("w2", &cf);
    lab.r2_public(false);
    logs(&lab, &lab.r2, "partner dead: activating lvs", 5);
    told(&lab, &lab.r2, 0, &["active"]);
    lab.r2_public(true);
    logs(&lab, &lab.r2, "partner active: deactivating LVS", 5);
    // r2 gave the VIPs back and told its lvsd, which keeps running.
    told(&lab, &lab.r2, 0, &["active", "standby"]);
    assert!(wait_for(S(3), || lab.r2.has_no_vip()), "{}", lab.dump());
    assert_eq!(lab.r2.count_records("stop "), 0, "{}", lab.dump());
    assert_eq!(lab.r2.count_records("start "), 1, "{}", lab.dump());
    // r1 stayed active all along with its one lvsd.
    assert!(lab.r1.has_vip(), "{}", lab.dump());
    assert_eq!(roles(&lab.r1, 0).1, ["active"], "{}", lab.dump());
    assert_eq!(lab.r1.count_records("start "), 1, "{}", lab.dump());
    assert_eq!(lab.r2.role().as_deref(), Some("standby"));
}

#[test]
fn a_standby_lvsd_that_dies_is_restarted_without_a_failover() {
    if !need("a_standby_lvsd_that_dies_is_restarted_without_a_failover") {
        return;
    }
    let cf = Cf::default();
    let lab = warm_pair("w3", &cf);
    let old = lab.r2.lvsd_pid(0);
    // SAFETY: the recorder of this test exits 7 on SIGUSR1.
    unsafe { libc::kill(old, libc::SIGUSR1) };
    logs(
        &lab,
        &lab.r2,
        &format!("Child process {old} exited with status 7"),
        3,
    );
    logs(&lab, &lab.r2, "warm standby: starting lvsd again", 3);
    assert!(
        wait_for(S(3), || lab.r2.count_records("start ") == 2),
        "{}",
        lab.dump()
    );
    let (_, r) = roles(&lab.r2, 1);
    assert!(r.is_empty(), "the new lvsd is the standby: {r:?}");
    // No failover: r1 keeps the VIPs, nobody ran a hook.
    std::thread::sleep(S(4));
    assert!(lab.r1.has_vip() && lab.r2.has_no_vip(), "{}", lab.dump());
    assert!(!lab.r2.logged("partner dead: activating lvs"));
    assert!(!lab.r1.log().contains("activating lvs\npulse: partner"));
    assert_eq!(lab.r2.count_record("hook active"), 0, "{}", lab.dump());
    assert_eq!(lab.r2.count_record("hook inactive"), 1, "{}", lab.dump());
    assert_eq!(lab.r2.role().as_deref(), Some("standby"));
}

#[test]
fn the_active_lvsd_dying_hands_over_and_comes_back_as_the_standby() {
    if !need("the_active_lvsd_dying_hands_over_and_comes_back_as_the_standby") {
        return;
    }
    let cf = Cf::default();
    let lab = warm_pair("w4", &cf);
    let r2_mac = lab.r2.mac();
    let old = lab.r1.lvsd_pid(0);
    // SAFETY: the recorder of this test exits 7 on SIGUSR1.
    unsafe { libc::kill(old, libc::SIGUSR1) };
    logs(
        &lab,
        &lab.r1,
        &format!("Child process {old} exited with status 7"),
        3,
    );
    assert!(wait_for(S(3), || lab.r1.has_no_vip()), "{}", lab.dump());
    logs(&lab, &lab.r2, "primary inactive: activating lvs", 4);
    // r2's running lvsd was told, not a new one started.
    told(&lab, &lab.r2, 0, &["active"]);
    assert_eq!(lab.r2.count_records("start "), 1, "{}", lab.dump());
    assert!(
        wait_for(S(3), || {
            lab.client_resolve(VIP);
            lab.client_neigh(VIP).contains(&r2_mac)
        }),
        "{}",
        lab.client_neigh(VIP)
    );
    // r1 hears r2 running: childfail clears and lvsd comes back as the
    // standby (not sooner than a second after the last start).
    assert!(
        wait_for(S(5), || lab.r1.count_records("start ") == 2),
        "{}",
        lab.dump()
    );
    let start = lab
        .r1
        .records()
        .into_iter()
        .filter(|l| l.starts_with("start "))
        .nth(1)
        .unwrap();
    assert!(start.contains(" --standby "), "{start}");
    std::thread::sleep(S(2));
    assert!(lab.r1.has_no_vip() && lab.r2.has_vip(), "{}", lab.dump());
    assert_eq!(lab.r1.role().as_deref(), Some("standby"));
}

#[test]
fn sighup_on_the_standby_reloads_its_lvsd_and_sigterm_stops_it() {
    if !need("sighup_on_the_standby_reloads_its_lvsd_and_sigterm_stops_it") {
        return;
    }
    let cf = Cf::default();
    let mut lab = warm_pair("w5", &cf);
    let pid = lab.r2.lvsd_pid(0);
    lab.r2.signal(libc::SIGHUP);
    assert!(
        wait_for(S(3), || lab.r2.count_record(&format!("hup {pid}")) == 1),
        "{}",
        lab.dump()
    );
    // Still the standby, still the same lvsd.
    assert!(lab.r2.has_no_vip() && lab.r1.has_vip(), "{}", lab.dump());
    assert_eq!(lab.r2.count_records("start "), 1);
    // Stopping the standby's pulse stops its lvsd.
    assert_eq!(lab.r2.stop(), Some(0));
    assert_eq!(
        lab.r2.count_record(&format!("stop {pid}")),
        1,
        "{}",
        lab.dump()
    );
    // And the active one's too, after giving up the VIPs.
    let pid1 = lab.r1.lvsd_pid(0);
    assert_eq!(lab.r1.stop(), Some(0));
    assert_eq!(
        lab.r1.count_record(&format!("stop {pid1}")),
        1,
        "{}",
        lab.dump()
    );
    assert_eq!(roles(&lab.r1, 0).1, ["active", "standby"], "{}", lab.dump());
    assert!(lab.r1.has_no_vip(), "{}", lab.dump());
}

#[test]
fn a_cold_partner_and_a_warm_one_agree() {
    if !need("a_cold_partner_and_a_warm_one_agree") {
        return;
    }
    // r1 cold (a plain drop-in, or Piranha), r2 warm.
    let cf = Cf::default();
    let mut lab = Lab::new("w6", false);
    lab.r2.start(&cf, WARM);
    logs(&lab, &lab.r2, "STARTING PULSE AS BACKUP", 10);
    std::thread::sleep(Duration::from_millis(200));
    lab.r1.start(&cf, &[]);
    logs(&lab, &lab.r1, "backup inactive: activating lvs", 5);
    assert!(wait_for(S(3), || lab.r1.has_vip()), "{}", lab.dump());
    // r1 started its lvsd cold (no role pipe); r2 runs its standby lvsd.
    assert!(wait_for(S(3), || lab.r1.count_records("start ") == 1));
    let start = lab
        .r1
        .records()
        .into_iter()
        .find(|l| l.starts_with("start "))
        .unwrap();
    assert!(!start.contains("--standby"), "{start}");
    assert!(wait_for(S(3), || lab.r2.count_records("start ") == 1));
    assert!(lab.r2.has_no_vip(), "{}", lab.dump());
    // r1 goes: r2 takes over warm.
    lab.r1.kill9();
    logs(&lab, &lab.r2, "partner dead: activating lvs", 5);
    told(&lab, &lab.r2, 0, &["active"]);
    assert_eq!(lab.r2.count_records("start "), 1, "{}", lab.dump());
    // SAFETY: r1's orphaned recorder.
    unsafe { libc::kill(lab.r1.lvsd_pid(0), libc::SIGTERM) };
}
