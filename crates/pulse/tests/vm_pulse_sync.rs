//! The IPVS connection-sync daemon under pulse (pulse.md §13), against a
//! real kernel (VM tier: `cargo xtask test --tier vm`): the active router
//! runs the master daemon, the standby the backup daemon, and a takeover
//! switches them.

mod lab;

use std::time::Duration;

use ipvs::{DaemonState, SyncDaemon};
use lab::{Cf, Lab, Netns, cold_start, wait_for};

/// (role, interface, sync id) of each running daemon; the kernel fills in
/// the other fields with its defaults.
fn daemons(ns: &Netns) -> Vec<(DaemonState, String, u32)> {
    ns.block_on(async || {
        let c = ipvs::Client::connect().await.expect("IPVS");
        let d: Vec<SyncDaemon> = c.daemons().await.expect("list daemons");
        d.into_iter()
            .map(|d| (d.state, d.mcast_ifn, d.sync_id))
            .collect()
    })
}

fn one(state: DaemonState) -> Vec<(DaemonState, String, u32)> {
    // syncd_id = 263: only the low 8 bits are used.
    vec![(state, "eth0".to_string(), 7)]
}

#[test]
fn sync_daemon_follows_the_active_role() {
    if !lvs_tests::require(lvs_tests::Need::Ipvs, "sync_daemon_follows_the_active_role")
        || !lvs_tests::require(
            lvs_tests::Need::Netns,
            "sync_daemon_follows_the_active_role",
        )
    {
        return;
    }
    let mut lab = Lab::new("vs", false);
    let cf = Cf {
        syncdaemon: true,
        ..Cf::default()
    };
    cold_start(&mut lab, &cf);
    let s = Duration::from_secs(5);
    assert!(
        wait_for(s, || daemons(&lab.r1.ns) == one(DaemonState::Master)),
        "r1: {:?}\n{}",
        daemons(&lab.r1.ns),
        lab.dump()
    );
    assert!(
        wait_for(s, || daemons(&lab.r2.ns) == one(DaemonState::Backup)),
        "r2: {:?}",
        daemons(&lab.r2.ns)
    );
    lab.r1.kill9();
    assert!(
        lab.r2
            .wait_logged("partner dead: activating lvs", Duration::from_secs(6))
    );
    assert!(
        wait_for(s, || daemons(&lab.r2.ns) == one(DaemonState::Master)),
        "r2: {:?}",
        daemons(&lab.r2.ns)
    );
    // A clean stop leaves the backup daemon running, as deactivation does.
    assert_eq!(lab.r2.stop(), Some(0));
    assert_eq!(daemons(&lab.r2.ns), one(DaemonState::Backup));
}
