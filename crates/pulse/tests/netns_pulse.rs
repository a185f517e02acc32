//! pulse in network namespaces: two routers running the real binary, a
//! client, and a recorder standing in for lvsd. Each test builds its own
//! lab (namespace names `lpNN…`) and tears it down on drop.

mod lab;

use std::time::Duration;

use lab::{Cf, Lab, VIP, VIP_B, cold_start, wait_for};

const S: fn(u64) -> Duration = Duration::from_secs;

fn need(test: &str) -> bool {
    lvs_tests::require(lvs_tests::Need::Netns, test)
}

#[test]
fn cold_start_of_both_routers() {
    if !need("cold_start_of_both_routers") {
        return;
    }
    let mut lab = Lab::new("01", false);
    let cf = Cf::default();
    cold_start(&mut lab, &cf);
    let (r1, r2) = (&lab.r1, &lab.r2);
    assert!(r1.logged("STARTING PULSE AS MASTER"), "{}", lab.dump());
    assert!(r2.logged("STARTING PULSE AS BACKUP"), "{}", lab.dump());
    // Addresses, labels and masks: configured /24 … classful defaults.
    let v = r1.vip_line(VIP).expect("VIP on r1");
    assert!(
        v.contains(&format!(
            "inet {VIP}/24 brd 192.0.2.255 scope global secondary eth0:1"
        )),
        "{v}"
    );
    let b = r1.vip_line(VIP_B).expect("second VIP on r1");
    assert!(
        b.contains(&format!(
            "inet {VIP_B}/16 brd 172.16.255.255 scope global eth0:2"
        )),
        "classful /16: {b}"
    );
    // Hooks and lvsd in order on r1.
    assert!(
        wait_for(S(2), || r1.count_records("start ") == 1),
        "{}",
        lab.dump()
    );
    // Hooks run unwaited, so only their presence is checked, not their order.
    let rec = r1.records();
    assert!(
        wait_for(S(2), || r1.records().contains(&"hook active".to_string())),
        "{rec:?}"
    );
    assert!(rec.contains(&"hook inactive".to_string()), "{rec:?}");
    let start = rec.iter().find(|l| l.starts_with("start ")).unwrap();
    // Piranha's arguments, then the socket lvsd says `ready` on.
    let args = format!("--nodaemon -c {} --pulse-fd=", r1.cf_path().display());
    assert!(
        start
            .split_once(&args)
            .is_some_and(|(_, fd)| fd.parse::<u32>().is_ok()),
        "{start}"
    );
    assert!(
        wait_for(S(2), || r1.count_records("ready ") == 1),
        "{}",
        lab.dump()
    );
    // The backup stays standby: no VIP, no lvsd, only its start-up hook.
    std::thread::sleep(S(4));
    assert!(!r2.has_vip(), "{}", lab.dump());
    assert_eq!(r2.records(), vec!["hook inactive"], "{}", lab.dump());
    assert!(!r2.log().contains("activating"), "{}", lab.dump());
    // Five gratuitous ARPs were sent and the job finished.
    assert!(
        r1.wait_logged("gratuitous lvs arps finished", S(6)),
        "{}",
        lab.dump()
    );
    check_status_after_cold_start(&lab);
}

/// `pulse --status` on both routers after a cold start (r1 active, r2
/// standby).
fn check_status_after_cold_start(lab: &Lab) {
    use std::os::unix::fs::PermissionsExt as _;
    let (r1, r2) = (&lab.r1, &lab.r2);
    let a = r1
        .status()
        .unwrap_or_else(|| panic!("r1 answers\n{}", lab.dump()));
    let b = r2
        .status()
        .unwrap_or_else(|| panic!("r2 answers\n{}", lab.dump()));
    assert_eq!(
        (a.version, a.role.as_str(), a.node.as_str()),
        (1, "active", "primary")
    );
    assert_eq!((b.role.as_str(), b.node.as_str()), ("standby", "backup"));
    let reasons = |s: &piranha_status::pulse::Status| {
        s.history
            .iter()
            .map(|h| format!("{} -> {}: {}", h.from, h.to, h.reason))
            .collect::<Vec<_>>()
    };
    assert_eq!(reasons(&a), vec!["starting -> active: partner inactive"]);
    assert_eq!(reasons(&b), vec!["starting -> standby: partner is active"]);
    assert!(a.partner.alive && b.partner.alive, "{a:?}\n{b:?}");
    assert_eq!(a.partner.public, "192.0.2.2");
    assert_eq!(b.partner.last_state.as_deref(), Some("running"));
    assert_eq!(a.partner.last_state.as_deref(), Some("stopped"));
    // Both VIPs held by r1 only; r1 runs lvsd (the recorder) and r2 none.
    let held = |s: &piranha_status::pulse::Status| {
        s.vips
            .iter()
            .map(|v| (v.address.clone(), v.held))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        held(&a),
        vec![(VIP.to_string(), true), (VIP_B.to_string(), true)]
    );
    assert_eq!(
        held(&b),
        vec![(VIP.to_string(), false), (VIP_B.to_string(), false)]
    );
    assert_eq!(a.daemon.pid, Some(r1.lvsd_pid(0) as u32));
    assert_eq!(b.daemon.pid, None);
    assert_eq!(a.pid, r1.pid() as u32);
    assert!(
        a.counters.heartbeats_sent > 0 && a.counters.heartbeats_received > 0,
        "{a:?}"
    );
    assert_eq!(a.counters.failovers, 1);
    assert_eq!(b.counters.failovers, 0);
    assert_eq!(a.config.serial_no, Some(1));
    assert_eq!(
        a.config.sha256.as_deref(),
        Some(a.config.loaded_sha256.as_str())
    );
    assert_eq!(a.config.sha256, b.config.sha256, "same lvs.cf text on both");
    // An edit on disk shows at once, and as a change since start-up.
    let edited = std::fs::read_to_string(r2.cf_path())
        .unwrap()
        .replace("serial_no = 1", "serial_no = 2");
    std::fs::write(r2.cf_path(), edited).unwrap();
    let b = r2.status().expect("r2 answers");
    assert_eq!(
        (b.config.serial_no, b.config.loaded_serial_no),
        (Some(2), Some(1))
    );
    assert_ne!(
        b.config.sha256.as_deref(),
        Some(b.config.loaded_sha256.as_str())
    );
    // The text form, and the socket is not for everyone.
    let (code, text, _) = r1.status_cli(false);
    assert_eq!(code, 0);
    assert!(text.contains("role        active since "), "{text}");
    assert!(
        text.contains("starting -> active: partner inactive"),
        "{text}"
    );
    let mode = std::fs::metadata(r1.status_socket())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert!(mode == 0o600 || mode == 0o660, "socket mode {mode:o}");
}

#[test]
fn kill_9_of_the_active_pulse_moves_the_vip_to_the_backup() {
    if !need("kill_9_of_the_active_pulse_moves_the_vip_to_the_backup") {
        return;
    }
    let mut lab = Lab::new("02", false);
    let cf = Cf::default();
    cold_start(&mut lab, &cf);
    assert!(lab.client_resolve(VIP), "client cannot resolve the VIP");
    let r1_mac = lab.r1.mac();
    let r2_mac = lab.r2.mac();
    assert!(
        lab.client_neigh(VIP).contains(&r1_mac),
        "{}",
        lab.client_neigh(VIP)
    );
    lab.r1.kill9();
    let killed = std::time::Instant::now();
    assert!(
        lab.r2.wait_logged("partner dead: activating lvs", S(5)),
        "{}",
        lab.dump()
    );
    let took = killed.elapsed();
    assert!(took <= S(3) + Duration::from_millis(1500), "took {took:?}");
    assert!(wait_for(S(2), || lab.r2.has_vip()), "{}", lab.dump());
    assert!(
        lab.r2.vip_line(VIP).unwrap().ends_with("eth0:1")
            || lab.r2.vip_line(VIP).unwrap().contains(" eth0:1"),
        "{}",
        lab.dump()
    );
    assert!(
        wait_for(S(3), || lab.client_neigh(VIP).contains(&r2_mac)),
        "client neighbour entry still {}; r2 is {r2_mac}",
        lab.client_neigh(VIP)
    );
    assert!(
        wait_for(S(2), || lab.r2.count_records("start ") == 1),
        "{}",
        lab.dump()
    );
    assert!(lab.r2.records().contains(&"hook active".to_string()));
    // pulse --status tells why: r2 active since the partner died, and the
    // partner is dead. r1's pulse is gone: its socket does not answer.
    let s = lab.r2.status().expect("r2 answers");
    assert_eq!(s.role, "active");
    // (From starting when r1 died before its first heartbeat reached r2.)
    let last = s.history.last().expect("a role change");
    assert_eq!(
        (last.to.as_str(), last.reason.as_str()),
        ("active", "partner dead"),
        "{s:?}"
    );
    assert!(!s.partner.alive);
    if let Some(age) = s.partner.last_heartbeat_age_seconds {
        assert!(age >= 3.0, "{s:?}");
    }
    assert_eq!(s.counters.failovers, 1);
    assert!(s.vips.iter().all(|v| v.held), "{s:?}");
    let (code, _, err) = lab.r1.status_cli(false);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("pulse: cannot get the status of pulse: "),
        "{err}"
    );
}

#[test]
fn primary_link_down_with_monitor_links() {
    if !need("primary_link_down_with_monitor_links") {
        return;
    }
    let mut lab = Lab::new("03", false);
    let cf = Cf {
        monitor_links: true,
        ..Cf::default()
    };
    cold_start(&mut lab, &cf);
    assert!(wait_for(S(2), || lab.r1.count_records("start ") == 1));
    // The client reaches the VIP through r1.
    assert!(lab.client_resolve(VIP), "client cannot resolve the VIP");
    let r1_mac = lab.r1.mac();
    let r2_mac = lab.r2.mac();
    assert!(
        lab.client_neigh(VIP).contains(&r1_mac),
        "{}",
        lab.client_neigh(VIP)
    );
    // Pull r1's cable: its eth0 loses carrier.
    lab.sw.link("r1", false);
    let pulled = std::time::Instant::now();
    assert!(
        lab.r1
            .wait_logged("local link failure: deactivating LVS", S(3)),
        "{}",
        lab.dump()
    );
    let lines = lab.r1.log_lines();
    let at = lines
        .iter()
        .position(|l| l == "pulse: Primary NIC: link down")
        .expect("Primary NIC line");
    assert_eq!(
        &lines[at..at + 4],
        &[
            "pulse: Primary NIC: link down",
            "pulse: Private NIC: link down",
            "pulse: Local NIC link failure: Pulse disabled",
            "pulse: local link failure: deactivating LVS",
        ],
        "{}",
        lab.dump()
    );
    assert!(wait_for(S(3), || !lab.r1.has_vip()), "{}", lab.dump());
    // pulse --status says why, and shows the link down.
    let st = lab.r1.status().expect("r1 answers");
    assert_eq!(st.role, "standby");
    let last = st.history.last().expect("role changes");
    assert_eq!(
        (last.from.as_str(), last.reason.as_str()),
        ("active", "link down")
    );
    let links: Vec<_> = st
        .links
        .iter()
        .map(|l| {
            (
                l.name.as_str(),
                l.address.as_str(),
                l.device.as_deref(),
                l.up,
            )
        })
        .collect();
    assert_eq!(links, vec![("primary", "192.0.2.1", Some("eth0"), false)]);
    assert!(st.vips.iter().all(|v| !v.held), "{st:?}");
    assert!(
        wait_for(S(3), || lab.r1.count_records("stop ") == 1),
        "{}",
        lab.dump()
    );
    let pid = lab.r1.lvsd_pid(0);
    assert!(
        lab.r1.records().contains(&format!("stop {pid}")),
        "{}",
        lab.dump()
    );
    assert!(lab.r1.records().contains(&"hook inactive".to_string()));
    // Both VIPs are gone and inactive_cmd ran again (after start-up's).
    assert!(wait_for(S(3), || lab.r1.has_no_vip()), "{}", lab.dump());
    assert!(
        wait_for(S(2), || lab.r1.count_record("hook inactive") == 2),
        "{}",
        lab.dump()
    );
    // The backup no longer hears r1 and takes over.
    assert!(
        lab.r2.wait_logged("partner dead: activating lvs", S(5)),
        "{}",
        lab.dump()
    );
    // Cable back as soon as r2 has taken over (about 2 s after the pull: a
    // deadtime after r2 last heard r1). The heartbeat r1 sent after the
    // carrier went and before it noticed still said *running*; the kernel
    // queued it on r1's neighbour entry for r2 while trying to resolve r2's
    // MAC (3 probes 1 s apart from that send, so until about a second after
    // r2's takeover) and would deliver it now, making r2 yield and take
    // over again at once. pulse deletes the partner's neighbour entries on
    // the device when it sees the link go down, which drops that heartbeat.
    lab.sw.link("r1", true);
    let plugged = pulled.elapsed();
    eprintln!("cable back {plugged:?} after the pull");
    assert!(wait_for(S(2), || lab.r2.has_vip()));
    lab.assert_r2_took_over(VIP, &r2_mac);
    assert!(
        lab.r1
            .wait_logged("Local NIC link(s) restored: Pulse enabled", S(5)),
        "{}",
        lab.dump()
    );
    std::thread::sleep(S(4));
    assert!(!lab.r1.has_vip() && lab.r2.has_vip(), "{}", lab.dump());
    assert_eq!(lab.r1.count_records("start "), 1, "{}", lab.dump());
    assert!(
        lab.r1.has_no_vip() && lab.r2.has_vips_as_configured(),
        "{}",
        lab.dump()
    );
    assert_eq!(lab.r1.count_record("hook active"), 1, "{}", lab.dump());
    // r2 kept the service throughout: one activation, one lvsd.
    assert_eq!(lab.r2.count_records("start "), 1, "{}", lab.dump());
    assert_eq!(lab.r2.count_record("hook active"), 1, "{}", lab.dump());
    assert!(
        !lab.r2.logged("partner active: deactivating LVS"),
        "cable back {plugged:?} after the pull\n{}",
        lab.dump()
    );
    assert!(!lab.r2.log().contains("deactivating"), "{}", lab.dump());
    assert_eq!(
        lab.r2.log().matches("activating lvs").count(),
        1,
        "{}",
        lab.dump()
    );
    assert!(
        lab.client_neigh(VIP).contains(&r2_mac),
        "{}",
        lab.client_neigh(VIP)
    );
}

#[test]
fn returning_primary_stays_standby_unless_forceactive() {
    if !need("returning_primary_stays_standby_unless_forceactive") {
        return;
    }
    let mut lab = Lab::new("04", false);
    let cf = Cf::default();
    cold_start(&mut lab, &cf);
    assert!(
        wait_for(S(2), || lab.r1.count_records("start ") == 1),
        "{}",
        lab.dump()
    );
    // Clean stop of the primary: deactivation in order, VIPs removed.
    assert_eq!(lab.r1.stop(), Some(0));
    assert!(
        lab.r1.logged("Terminating due to signal 15"),
        "{}",
        lab.dump()
    );
    assert!(!lab.r1.has_vip(), "{}", lab.dump());
    assert!(lab.r1.vip_line(VIP_B).is_none(), "{}", lab.dump());
    let rec = lab.r1.records();
    assert_eq!(
        rec.iter().filter(|l| *l == "hook inactive").count(),
        2,
        "{rec:?}"
    );
    assert!(
        rec.contains(&format!("stop {}", lab.r1.lvsd_pid(0))),
        "{rec:?}"
    );
    assert!(
        lab.r2.wait_logged("partner dead: activating lvs", S(5)),
        "{}",
        lab.dump()
    );
    assert!(wait_for(S(2), || lab.r2.has_vip()));
    assert!(lab.client_resolve(VIP));
    assert!(
        lab.client_neigh(VIP).contains(&lab.r2.mac()),
        "{}",
        lab.client_neigh(VIP)
    );
    // The primary comes back without --forceactive: it hears the backup's
    // running heartbeat and stays standby.
    lab.r1.start(&cf, &[]);
    std::thread::sleep(S(5));
    assert_eq!(
        lab.r1.count_logged("backup inactive: activating lvs"),
        1,
        "{}",
        lab.dump()
    );
    assert!(
        !lab.r1.log().contains("partner dead: activating lvs"),
        "{}",
        lab.dump()
    );
    assert!(!lab.r1.has_vip() && lab.r2.has_vip(), "{}", lab.dump());
    // With --forceactive it takes the service back; the backup yields.
    assert_eq!(lab.r1.stop(), Some(0));
    lab.r1.start(&cf, &["--forceactive"]);
    assert!(
        lab.r1
            .wait_logged("Forced active on startup: activating lvs", S(3)),
        "{}",
        lab.dump()
    );
    assert!(
        lab.r2.wait_logged("partner active: deactivating LVS", S(4)),
        "{}",
        lab.dump()
    );
    assert!(
        lab.r1.wait_logged("partner active: resending arps", S(4)),
        "{}",
        lab.dump()
    );
    assert!(wait_for(S(3), || !lab.r2.has_vip()), "{}", lab.dump());
    assert!(lab.r1.has_vip());
    let r1_mac = lab.r1.mac();
    assert!(
        wait_for(S(3), || lab.client_neigh(VIP).contains(&r1_mac)),
        "{}",
        lab.client_neigh(VIP)
    );
}

#[test]
fn heartbeat_over_the_private_link_only() {
    if !need("heartbeat_over_the_private_link_only") {
        return;
    }
    let mut lab = Lab::new("05", true);
    let cf = Cf {
        private: true,
        ..Cf::default()
    };
    cold_start(&mut lab, &cf);
    assert!(lab.client_resolve(VIP), "client cannot resolve the VIP");
    let r1_mac = lab.r1.mac();
    assert!(
        lab.client_neigh(VIP).contains(&r1_mac),
        "{}",
        lab.client_neigh(VIP)
    );
    // The public path between the routers breaks; the private one carries on.
    lab.r2_public(false);
    std::thread::sleep(S(7));
    assert!(!lab.r2.log().contains("activating"), "{}", lab.dump());
    assert!(!lab.r2.has_vip(), "{}", lab.dump());
    // Nothing changed: r1 keeps its VIPs, its one lvsd and its one
    // active_cmd; r2 ran only its start-up inactive_cmd.
    assert!(lab.r2.has_no_vip(), "{}", lab.dump());
    assert!(lab.r1.has_vips_as_configured(), "{}", lab.dump());
    assert!(!lab.r1.log().contains("deactivating"), "{}", lab.dump());
    assert_eq!(lab.r1.count_records("start "), 1, "{}", lab.dump());
    assert_eq!(lab.r1.count_record("hook active"), 1, "{}", lab.dump());
    assert_eq!(lab.r2.records(), vec!["hook inactive"], "{}", lab.dump());
    // Without the private link as well, the backup takes over.
    lab.r1.ns.ip(&["link", "set", "eth1", "down"]);
    assert!(
        lab.r2.wait_logged("partner dead: activating lvs", S(5)),
        "{}",
        lab.dump()
    );
    assert!(
        wait_for(S(3), || lab.r2.has_vips_as_configured()),
        "{}",
        lab.dump()
    );
    assert!(wait_for(S(2), || lab.r2.activated_once()), "{}", lab.dump());
    // r2's ARPs cannot reach the client (its public port is cut): once
    // they are done the client still reaches the VIP through r1, which
    // hears no partner either and stays active (split brain, gaps.md C6).
    assert!(
        lab.r2.wait_logged("gratuitous lvs arps finished", S(8)),
        "{}",
        lab.dump()
    );
    assert!(
        lab.client_neigh(VIP).contains(&r1_mac),
        "{}",
        lab.client_neigh(VIP)
    );
    assert!(lab.r1.has_vips_as_configured(), "{}", lab.dump());
    assert!(!lab.r1.log().contains("deactivating"), "{}", lab.dump());
    assert_eq!(lab.r1.count_records("start "), 1, "{}", lab.dump());
}

#[test]
fn sighup_on_the_inactive_node_does_not_livelock() {
    if !need("sighup_on_the_inactive_node_does_not_livelock") {
        return;
    }
    let mut lab = Lab::new("06", false);
    let cf = Cf::default();
    cold_start(&mut lab, &cf);
    lab.r2.signal(libc::SIGHUP);
    assert!(
        lab.r2.wait_logged(
            "SIGHUP received but no lvsd is running: nothing to reload",
            S(2)
        ),
        "{}",
        lab.dump()
    );
    // On the active node SIGHUP goes to lvsd.
    lab.r1.signal(libc::SIGHUP);
    assert!(
        wait_for(S(2), || lab.r1.count_records("hup ") == 1),
        "{}",
        lab.dump()
    );
    // SIGUSR1/2 are ignored (logged), not fatal.
    lab.r2.signal(libc::SIGUSR1);
    assert!(
        lab.r2.wait_logged("Ignoring signal 10", S(2)),
        "{}",
        lab.dump()
    );
    // r2 is still alive and working: it takes over when r1 dies.
    lab.r1.kill9();
    assert!(
        lab.r2.wait_logged("partner dead: activating lvs", S(5)),
        "{}",
        lab.dump()
    );
    assert!(wait_for(S(2), || lab.r2.has_vip()));
}

#[test]
fn partition_then_heal() {
    if !need("partition_then_heal") {
        return;
    }
    let mut lab = Lab::new("07", false);
    let cf = Cf::default();
    cold_start(&mut lab, &cf);
    lab.r2_public(false);
    // Split brain: the backup declares r1 dead and activates too.
    assert!(
        lab.r2.wait_logged("partner dead: activating lvs", S(5)),
        "{}",
        lab.dump()
    );
    assert!(wait_for(S(2), || lab.r2.has_vip() && lab.r1.has_vip()));
    assert!(
        wait_for(S(2), || lab.r2.has_vips_as_configured()
            && lab.r1.has_vips_as_configured()),
        "{}",
        lab.dump()
    );
    assert!(wait_for(S(2), || lab.r2.activated_once()), "{}", lab.dump());
    // Heal: the backup yields, the master re-announces.
    lab.r2_public(true);
    assert!(
        lab.r2.wait_logged("partner active: deactivating LVS", S(5)),
        "{}",
        lab.dump()
    );
    assert!(
        lab.r1.wait_logged("partner active: resending arps", S(5)),
        "{}",
        lab.dump()
    );
    assert!(wait_for(S(3), || !lab.r2.has_vip()), "{}", lab.dump());
    assert!(lab.r1.has_vip());
    assert!(
        wait_for(S(2), || lab.r2.count_records("stop ") == 1),
        "{}",
        lab.dump()
    );
    assert!(
        wait_for(S(3), || lab.r2.has_no_vip()
            && lab.r1.has_vips_as_configured()),
        "{}",
        lab.dump()
    );
    // Hooks: r2 ran inactive_cmd when it yielded (after start-up's); r1
    // re-ran active_cmd with each re-announcement (gaps.md C17) and kept
    // its lvsd.
    assert!(
        wait_for(S(2), || lab.r2.count_record("hook inactive") == 2),
        "{}",
        lab.dump()
    );
    assert_eq!(lab.r2.count_record("hook active"), 1, "{}", lab.dump());
    assert!(
        wait_for(S(2), || {
            let resent = lab.r1.count_logged("partner active: resending arps");
            resent >= 1 && lab.r1.count_record("hook active") == 1 + resent
        }),
        "{}",
        lab.dump()
    );
    assert_eq!(lab.r1.count_record("hook inactive"), 1, "{}", lab.dump());
    assert_eq!(lab.r1.count_records("start "), 1, "{}", lab.dump());
    assert_eq!(lab.r1.count_records("stop "), 0, "{}", lab.dump());
    let r1_mac = lab.r1.mac();
    assert!(
        wait_for(S(6), || {
            lab.client_resolve(VIP);
            lab.client_neigh(VIP).contains(&r1_mac)
        }),
        "{}",
        lab.client_neigh(VIP)
    );
}

#[test]
fn lvsd_death_hands_over_to_the_backup() {
    if !need("lvsd_death_hands_over_to_the_backup") {
        return;
    }
    let mut lab = Lab::new("08", false);
    let cf = Cf::default();
    cold_start(&mut lab, &cf);
    assert!(wait_for(S(2), || lab.r1.count_records("start ") == 1));
    assert!(lab.client_resolve(VIP), "client cannot resolve the VIP");
    let r1_mac = lab.r1.mac();
    let r2_mac = lab.r2.mac();
    assert!(
        lab.client_neigh(VIP).contains(&r1_mac),
        "{}",
        lab.client_neigh(VIP)
    );
    let lvsd = lab.r1.lvsd_pid(0);
    // SAFETY: the recorder is our own grandchild.
    unsafe { libc::kill(lvsd, libc::SIGUSR1) };
    assert!(
        lab.r1
            .wait_logged(&format!("Child process {lvsd} exited with status 7"), S(3)),
        "{}",
        lab.dump()
    );
    assert!(wait_for(S(3), || !lab.r1.has_vip()), "{}", lab.dump());
    assert!(wait_for(S(3), || lab.r1.has_no_vip()), "{}", lab.dump());
    // r1 ran inactive_cmd on the deactivation (after start-up's).
    assert!(
        wait_for(S(2), || lab.r1.count_record("hook inactive") == 2),
        "{}",
        lab.dump()
    );
    assert!(
        lab.r2.wait_logged("primary inactive: activating lvs", S(4)),
        "{}",
        lab.dump()
    );
    assert!(wait_for(S(2), || lab.r2.has_vip()));
    lab.assert_r2_took_over(VIP, &r2_mac);
    // r1 is a healthy standby afterwards (childfail cleared by r2's running).
    std::thread::sleep(S(4));
    assert!(!lab.r1.has_vip(), "{}", lab.dump());
    assert_eq!(lab.r1.count_records("start "), 1, "{}", lab.dump());
    assert_eq!(lab.r1.count_record("hook active"), 1, "{}", lab.dump());
    assert_eq!(lab.r1.count_record("hook inactive"), 2, "{}", lab.dump());
    assert!(lab.r1.has_no_vip(), "{}", lab.dump());
    assert!(lab.r2.has_vips_as_configured(), "{}", lab.dump());
    let rec = lab.r1.records();
    assert!(rec.contains(&format!("die {lvsd}")), "{rec:?}");
    assert!(
        !rec.contains(&format!("stop {lvsd}")),
        "reaped lvsd was not signalled: {rec:?}"
    );
}

#[test]
fn lvsd_ignoring_sigterm_is_killed_after_the_timeout() {
    if !need("lvsd_ignoring_sigterm_is_killed_after_the_timeout") {
        return;
    }
    let mut lab = Lab::new("09", false);
    let cf = Cf::standalone();
    // A stand-alone primary activates after deadtime.
    lab.r1.start_env(&cf, &[], &[("LP_IGNORE_TERM", "1")]);
    assert!(
        lab.r1.wait_logged("partner dead: activating lvs", S(4)),
        "{}",
        lab.dump()
    );
    assert!(wait_for(S(2), || lab.r1.count_records("start ") == 1));
    let t0 = std::time::Instant::now();
    assert_eq!(lab.r1.stop(), Some(0));
    let took = t0.elapsed();
    assert!(took >= S(2), "waited {took:?} (2 x deadtime)");
    assert!(lab.r1.count_records("term-ignored ") == 1, "{}", lab.dump());
    assert!(
        lab.r1
            .log()
            .contains("did not exit within 2 after SIGTERM: sending SIGKILL"),
        "{}",
        lab.dump()
    );
    assert!(!lab.r1.has_vip());
}

#[test]
fn sub_second_timers_fail_over_within_deadtime() {
    if !need("sub_second_timers_fail_over_within_deadtime") {
        return;
    }
    let mut lab = Lab::new("15", false);
    let cf = Cf {
        keepalive: "0.1",
        deadtime: "0.3",
        ..Cf::default()
    };
    // r1 alone becomes active after deadtime; r2 starting later stays standby.
    lab.r1.start(&cf, &[]);
    assert!(
        lab.r1.wait_logged("partner dead: activating lvs", S(3)),
        "{}",
        lab.dump()
    );
    assert!(wait_for(S(2), || lab.r1.has_vip()));
    lab.r2.start(&cf, &[]);
    assert!(lab.client_resolve(VIP));
    std::thread::sleep(Duration::from_millis(800));
    assert!(!lab.r2.log().contains("activating"), "{}", lab.dump());
    lab.r1.kill9();
    let t0 = std::time::Instant::now();
    assert!(
        lab.r2
            .wait_logged("partner dead: activating lvs", Duration::from_secs(2)),
        "{}",
        lab.dump()
    );
    let took = t0.elapsed();
    assert!(
        took < Duration::from_millis(1000),
        "took {took:?} with deadtime 0.3"
    );
    let r2_mac = lab.r2.mac();
    assert!(
        wait_for(S(2), || lab.client_neigh(VIP).contains(&r2_mac)),
        "{}",
        lab.client_neigh(VIP)
    );
}

/// A stand-alone primary: it activates `deadtime` after start-up.
#[test]
fn verbose_vip_bring_up_logs_the_originals_ifconfig_and_send_arp_lines() {
    if !need("verbose_vip_bring_up_logs_the_originals_ifconfig_and_send_arp_lines") {
        return;
    }
    let mut lab = Lab::new("17", false);
    let cf = Cf {
        web_nmask: Some("255.255.255.128"),
        ..Cf::standalone()
    };
    lab.r1.start(&cf, &["-v"]);
    assert!(
        lab.r1.wait_logged("gratuitous lvs arps finished", S(10)),
        "{}",
        lab.dump()
    );
    let lines = lab.r1.log_lines();
    let finished = lines
        .iter()
        .position(|l| l == "pulse: gratuitous lvs arps finished")
        .unwrap();
    // pulse.md §14: the ifconfig line names the netmask but no broadcast
    // (although the command it stood for had one), and a VIP without
    // vip_nmask has neither.
    let mut ifconfig: Vec<&str> = lines[..finished]
        .iter()
        .filter(|l| l.starts_with("pulse: DEBUG -- Executing '/sbin/ifconfig"))
        .map(String::as_str)
        .collect();
    ifconfig.sort();
    assert_eq!(
        ifconfig,
        [
            "pulse: DEBUG -- Executing '/sbin/ifconfig eth0:1 192.0.2.100 netmask 255.255.255.128 up'",
            "pulse: DEBUG -- Executing '/sbin/ifconfig eth0:2 172.16.0.100 up'",
        ],
        "{}",
        lab.dump()
    );
    // Five announcements per address.
    let send_arp = lines[..finished]
        .iter()
        .filter(|l| *l == "pulse: DEBUG -- Executing '/usr/sbin/send_arp'")
        .count();
    assert_eq!(send_arp, 10, "{}", lab.dump());
    assert!(!lab.r1.log().contains("broadcast"), "{}", lab.dump());
    // The address itself has the broadcast ifconfig gave it.
    let v = lab.r1.vip_line(VIP).expect("VIP on r1");
    assert!(
        v.contains(&format!(
            "inet {VIP}/25 brd 192.0.2.127 scope global eth0:1"
        )),
        "{v}"
    );
    assert_eq!(lab.r1.stop(), Some(0));
    assert!(
        lab.r1
            .logged("DEBUG -- Executing '/sbin/ifconfig eth0:1 down'"),
        "{}",
        lab.dump()
    );
    assert!(lab.r1.vip_line(VIP).is_none(), "{}", lab.dump());
}

#[test]
fn vips_come_up_without_a_packet_socket() {
    if !need("vips_come_up_without_a_packet_socket") {
        return;
    }
    let mut lab = Lab::new("18", false);
    let cf = Cf::standalone();
    lab.r1.start_without_net_raw(&cf, &[]);
    assert!(
        lab.r1.wait_logged("partner dead: activating lvs", S(5)),
        "{}",
        lab.dump()
    );
    assert!(
        lab.r1.logged(
            "cannot open a packet socket: socket: Operation not permitted: \
             VIPs will come up without gratuitous ARPs"
        ),
        "{}",
        lab.dump()
    );
    // Both addresses are up, with their labels, and lvsd and the hook ran.
    assert!(wait_for(S(3), || lab.r1.has_vip()), "{}", lab.dump());
    let v = lab.r1.vip_line(VIP).unwrap();
    assert!(
        v.contains(&format!(
            "inet {VIP}/24 brd 192.0.2.255 scope global secondary eth0:1"
        )),
        "{v}"
    );
    let b = lab.r1.vip_line(VIP_B).expect("second VIP on r1");
    assert!(
        b.contains(&format!(
            "inet {VIP_B}/16 brd 172.16.255.255 scope global eth0:2"
        )),
        "{b}"
    );
    assert!(
        wait_for(S(2), || lab.r1.count_records("start ") == 1
            && lab.r1.records().contains(&"hook active".to_string())),
        "{}",
        lab.dump()
    );
    // The missing announcements are logged, once per address, and the job
    // still ends.
    for ip in [VIP, VIP_B] {
        let line = format!(
            "cannot send gratuitous ARPs for {ip} on eth0: socket: Operation not permitted"
        );
        assert!(
            wait_for(S(2), || lab.r1.count_logged(&line) == 1),
            "{line}\n{}",
            lab.dump()
        );
    }
    assert!(
        lab.r1.wait_logged("gratuitous lvs arps finished", S(2)),
        "{}",
        lab.dump()
    );
    // The kernel answers ARP for the VIP: the client reaches r1.
    assert!(lab.client_resolve(VIP), "{}", lab.dump());
    assert!(
        lab.client_neigh(VIP).contains(&lab.r1.mac()),
        "{}",
        lab.client_neigh(VIP)
    );
    assert_eq!(lab.r1.stop(), Some(0));
    assert!(!lab.r1.has_vip(), "{}", lab.dump());
    assert!(lab.r1.vip_line(VIP_B).is_none(), "{}", lab.dump());
}

#[test]
fn nodaemon_messages_are_cut_at_255_bytes_on_stdout() {
    if !need("nodaemon_messages_are_cut_at_255_bytes_on_stdout") {
        return;
    }
    let mut lab = Lab::new("19", false);
    // inactive_cmd runs at start-up; a missing program longer than 255
    // bytes gives a longer `failed to execute` line.
    let missing = format!("/nonexistent/{}", "x".repeat(300));
    let cf = Cf {
        inactive_cmd: Some(Box::leak(missing.clone().into_boxed_str())),
        ..Cf::standalone()
    };
    lab.r1.start(&cf, &[]);
    let whole = format!("failed to execute {missing}: No such file or directory");
    let want = format!("pulse: {}", &whole[..255]);
    assert!(
        wait_for(S(3), || lab.r1.log_lines().contains(&want)),
        "{}",
        lab.dump()
    );
    // Every line is at most "pulse: " and 255 bytes.
    assert!(
        lab.r1.log_lines().iter().all(|l| l.len() <= 7 + 255),
        "{}",
        lab.dump()
    );
    assert_eq!(lab.r1.stop(), Some(0));
}
