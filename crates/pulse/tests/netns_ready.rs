//! The VIPs wait for lvsd's table (namespace tier): on activation pulse
//! brings up the VIPs and sends the ARPs once lvsd says `ready` on its
//! socket (the recorder standing in for lvsd says it after
//! `$LP_READY_DELAY_MS`), so a router never announces an empty table.

mod lab;

use std::time::{Duration, Instant};

use lab::{Cf, Lab, wait_for};

const S: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn the_vips_come_up_when_lvsd_says_its_table_is_ready() {
    if !lvs_tests::require(
        lvs_tests::Need::Netns,
        "the_vips_come_up_when_lvsd_says_its_table_is_ready",
    ) {
        return;
    }
    let mut lab = Lab::new("r1", false);
    let cf = Cf::standalone();
    let t0 = Instant::now();
    lab.r1.start_env(&cf, &[], &[("LP_READY_DELAY_MS", "2000")]);
    assert!(
        lab.r1.wait_logged("partner dead: activating lvs", S(5)),
        "{}",
        lab.dump()
    );
    let activated = Instant::now();
    assert!(
        wait_for(S(2), || lab.r1.count_records("start ") == 1),
        "{}",
        lab.dump()
    );
    // lvsd runs, the VIPs wait for its table.
    std::thread::sleep(Duration::from_millis(1000));
    assert!(lab.r1.has_no_vip(), "{}", lab.dump());
    assert_eq!(lab.r1.count_records("ready "), 0, "{}", lab.dump());
    assert!(
        wait_for(S(5), || lab.r1.count_records("ready ") == 1),
        "{}",
        lab.dump()
    );
    assert!(
        wait_for(S(2), || lab.r1.has_vips_as_configured()),
        "{}",
        lab.dump()
    );
    let up = Instant::now();
    assert!(
        up - activated >= Duration::from_millis(1500),
        "the VIPs came up {:?} after the activation, before lvsd was ready",
        up - activated
    );
    eprintln!(
        "activated +{:.3}s, VIPs up +{:.3}s",
        (activated - t0).as_secs_f64(),
        (up - t0).as_secs_f64()
    );
}

/// `LVSD_OPTIONS` (from /etc/sysconfig/pulse under systemd) reaches every
/// lvsd pulse starts, after pulse's own options.
#[test]
fn lvsd_options_from_the_environment_reach_lvsd() {
    if !lvs_tests::require(
        lvs_tests::Need::Netns,
        "lvsd_options_from_the_environment_reach_lvsd",
    ) {
        return;
    }
    let mut lab = Lab::new("r2", false);
    let cf = Cf::standalone();
    lab.r1.start_env(
        &cf,
        &[],
        &[("LVSD_OPTIONS", " --owned-only  --keep-single-quotes ")],
    );
    assert!(
        wait_for(S(5), || lab.r1.count_records("start ") == 1),
        "{}",
        lab.dump()
    );
    let start = lab
        .r1
        .records()
        .into_iter()
        .find(|l| l.starts_with("start "))
        .unwrap();
    let want = format!(
        "--nodaemon -c {} --owned-only --keep-single-quotes --pulse-fd=",
        lab.r1.cf_path().display()
    );
    assert!(start.contains(&want), "{start}");
}
