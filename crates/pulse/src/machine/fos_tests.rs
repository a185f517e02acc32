//! The fos-mode state machine with injected time: every row of fos.md
//! §5.1, start-up and termination (§5), the fail-partner (STOP-ME) episode,
//! and invariants over every reachable combination of flags × event.

use std::net::Ipv4Addr;

use super::test_support::{PEER, beat_from, check_steps, effects, flagged, logs, ms};
use super::*;
use crate::heartbeat::{FOS_RUNNING, FOS_STOPPED, HOLD, LVS_RUNNING, LVS_STOPPED, STOP_ME};

const PEER_PRIVATE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);

fn settings(master: bool) -> Settings {
    super::test_support::settings(Mode::Fos, master, Some(PEER_PRIVATE))
}

fn beat(magic: u32) -> Event {
    beat_from(PEER, magic)
}

/// Standby → active: the monitors stop, the VIPs come up, then the services.
const TAKE_OVER: [Action; 3] = [
    Action::StopFos,
    Action::VipsUp,
    Action::StartFos(FosRole::Active),
];

/// Active → standby: the services stop, the VIPs go, the monitors start.
const STAND_DOWN: [Action; 3] = [
    Action::StopFos,
    Action::VipsDown,
    Action::StartFos(FosRole::Monitor),
];

fn standby(master: bool) -> Machine {
    let mut m = Machine::new(settings(master), ms(0));
    m.step(Event::Start { forced: false }, ms(0));
    assert!(!m.active && m.fos_running);
    m
}

fn active(master: bool) -> Machine {
    let mut m = Machine::new(settings(master), ms(0));
    m.step(Event::Start { forced: true }, ms(0));
    assert!(m.active && m.fos_running);
    m
}

fn fos_exit() -> Event {
    Event::ChildExited {
        pid: 42,
        end: ChildEnd::Exited(0),
        daemon: true,
    }
}

#[test]
fn start_goes_standby_with_monitors() {
    let mut m = Machine::new(settings(true), ms(0));
    let a = m.step(Event::Start { forced: false }, ms(0));
    assert_eq!(logs(&a), ["Starting Failover Service Monitors"]);
    // No hooks and no sync daemon in fos mode.
    assert_eq!(
        effects(&a),
        [Action::VipsDown, Action::StartFos(FosRole::Monitor)]
    );
    assert!(!m.active);
}

#[test]
fn forced_start_activates_vips_before_services() {
    let mut m = Machine::new(settings(false), ms(0));
    let a = m.step(Event::Start { forced: true }, ms(0));
    assert_eq!(logs(&a), ["Forced active on startup: activating fos"]);
    assert_eq!(
        effects(&a),
        [Action::VipsUp, Action::StartFos(FosRole::Active)]
    );
    assert!(m.active);
}

#[test]
fn a_master_without_backup_starts_active_and_sends_nothing() {
    let mut s = settings(true);
    s.backup_active = false;
    let mut m = Machine::new(s, ms(0));
    let a = m.step(Event::Start { forced: false }, ms(0));
    assert_eq!(
        logs(&a),
        [
            "Warning: FOS backup node not defined -- skipping checks",
            "Forced active on startup: activating fos"
        ]
    );
    assert!(m.active);
    let a = m.step(Event::Timer, ms(1000));
    assert!(!a.iter().any(|x| matches!(x, Action::Send(_))), "{a:?}");
}

#[test]
fn heartbeats_say_stopped_or_running() {
    let mut m = standby(true);
    assert_eq!(
        effects(&m.step(Event::Timer, ms(1000))),
        [Action::Send(Beat::Stopped)]
    );
    let mut m = active(true);
    assert_eq!(
        effects(&m.step(Event::Timer, ms(1000))),
        [Action::Send(Beat::Running)]
    );
}

#[test]
fn lvs_magics_are_incompatible_and_do_not_rearm_the_dead_timer() {
    for magic in [LVS_RUNNING, LVS_STOPPED] {
        let mut m = standby(true);
        let a = m.step(beat(magic), ms(500));
        assert_eq!(
            logs(&a),
            ["Incompatible heartbeat received -- other system not using identical services"]
        );
        assert!(effects(&a).is_empty());
        assert_eq!(m.next_need, ms(3000));
    }
}

#[test]
fn stopped_partner_activates_with_role_specific_reason() {
    for (master, reason) in [
        (true, "backup inactive: activating fos"),
        (false, "primary inactive: activating fos"),
    ] {
        let mut m = standby(master);
        let a = m.step(beat(FOS_STOPPED), ms(100));
        assert_eq!(logs(&a), [reason]);
        assert_eq!(effects(&a), TAKE_OVER);
        assert!(m.active);
        assert_eq!(m.next_need, ms(3100));
        assert!(effects(&m.step(beat(FOS_STOPPED), ms(200))).is_empty());
    }
}

#[test]
fn partner_dead_activates_failover_services() {
    let mut m = standby(false);
    m.step(Event::Timer, ms(1000));
    m.step(Event::Timer, ms(2000));
    // A tie between the deadlines sends first.
    assert_eq!(
        effects(&m.step(Event::Timer, ms(3000))),
        [Action::Send(Beat::Stopped)]
    );
    let a = m.step(Event::Timer, ms(3000));
    assert_eq!(logs(&a), ["partner dead: activating failover services"]);
    assert_eq!(effects(&a), TAKE_OVER);
    // Once active, silence changes nothing but the heartbeat sent.
    for _ in 0..2 {
        let a = m.step(Event::Timer, ms(6000));
        assert!(
            effects(&a)
                .iter()
                .all(|x| *x == Action::Send(Beat::Running)),
            "{a:?}"
        );
    }
}

#[test]
fn running_partner_master_keeps_control_without_re_arping() {
    let mut m = active(true);
    let a = m.step(beat(FOS_RUNNING), ms(100));
    assert_eq!(logs(&a), ["partner active"]);
    assert!(effects(&a).is_empty());
    assert!(m.active);
}

#[test]
fn running_partner_backup_yields_after_one_last_heartbeat() {
    let mut m = active(false);
    let a = m.step(beat(FOS_RUNNING), ms(100));
    assert_eq!(logs(&a), ["partner active: deactivating FOS"]);
    let mut want = vec![Action::Send(Beat::Running)];
    want.extend(STAND_DOWN);
    assert_eq!(effects(&a), want);
    assert!(!m.active);
}

#[test]
fn running_partner_on_a_standby_changes_nothing() {
    for master in [true, false] {
        let mut m = standby(master);
        for magic in [FOS_RUNNING, STOP_ME, HOLD] {
            let a = m.step(beat(magic), ms(100));
            assert!(effects(&a).is_empty(), "{a:?}");
            assert!(!m.active);
        }
        assert_eq!(m.next_need, ms(3100));
    }
}

#[test]
fn stop_me_makes_an_active_master_stand_down() {
    let mut m = active(true);
    let a = m.step(beat(STOP_ME), ms(100));
    assert_eq!(logs(&a), ["PARTNER HAS TOLD US TO GO INACTIVE!"]);
    assert_eq!(effects(&a), STAND_DOWN);
    assert!(!m.active);
    // An active backup treats STOP-ME as running.
    let mut m = active(false);
    let a = m.step(beat(STOP_ME), ms(100));
    assert_eq!(logs(&a), ["partner active: deactivating FOS"]);
    assert!(!m.active);
}

#[test]
fn a_failing_active_fos_is_restarted() {
    let mut m = active(true);
    let a = m.step(fos_exit(), ms(100));
    assert_eq!(logs(&a), ["fos process exited -- restarting it"]);
    // Already reaped: not stopped again; the VIPs are announced again.
    assert_eq!(
        effects(&a),
        [Action::VipsUp, Action::StartFos(FosRole::Active)]
    );
    assert!(m.active && m.fos_running);
}

#[test]
fn unknown_children_are_skipped() {
    let mut m = standby(true);
    let a = m.step(
        Event::ChildExited {
            pid: 9,
            end: ChildEnd::Signaled(9),
            daemon: false,
        },
        ms(100),
    );
    assert_eq!(logs(&a), ["Skipping death of unknown child 9"]);
    assert!(effects(&a).is_empty());
    assert!(m.fos_running);
}

#[test]
fn partner_service_failure_with_gateway_takes_over_with_stop_me() {
    let mut m = standby(false);
    let a = m.step(fos_exit(), ms(100));
    assert_eq!(
        logs(&a),
        ["fos process exited -- checking network connectivity"]
    );
    assert_eq!(effects(&a), [Action::CheckGateway]);
    assert!(!m.fos_running);
    // Heartbeats keep going while the check runs.
    assert_eq!(
        effects(&m.step(Event::Timer, ms(1000))),
        [Action::Send(Beat::Stopped)]
    );
    let a = m.step(Event::Gateway { reachable: true }, ms(1500));
    assert_eq!(
        logs(&a),
        [
            "remote service unavailable but we can see the gateway",
            "seems like a remote network fault; performing service failover"
        ]
    );
    assert_eq!(
        effects(&a),
        [Action::VipsUp, Action::StartFos(FosRole::Active)]
    );
    assert!(m.active && m.failpartner);
    // Every heartbeat is STOP-ME; the first one is announced.
    let a = m.step(Event::Timer, ms(2000));
    assert_eq!(logs(&a), ["Notifying partner WE are taking control!"]);
    assert_eq!(effects(&a), [Action::Send(Beat::StopMe)]);
    let a = m.step(Event::Timer, ms(3000));
    assert!(logs(&a).is_empty());
    assert_eq!(effects(&a), [Action::Send(Beat::StopMe)]);
    // The still-active partner does not make us (a backup) yield.
    let a = m.step(beat(FOS_RUNNING), ms(3100));
    assert_eq!(logs(&a), ["partner active: we want control!"]);
    assert_eq!(effects(&a), [Action::Send(Beat::StopMe)]);
    assert!(m.active);
    // Once the partner reports stopped, the episode is over.
    m.step(beat(FOS_STOPPED), ms(3500));
    assert!(!m.failpartner && m.active);
    assert_eq!(
        effects(&m.step(Event::Timer, ms(4000))),
        [Action::Send(Beat::Running)]
    );
}

#[test]
fn partner_dead_ends_a_fail_partner_episode() {
    let mut m = standby(true);
    m.step(fos_exit(), ms(100));
    m.step(Event::Gateway { reachable: true }, ms(200));
    assert!(m.failpartner);
    let a = m.step(Event::Timer, ms(1000));
    assert_eq!(effects(&a), [Action::Send(Beat::StopMe)]);
    m.step(Event::Timer, ms(2000));
    m.step(Event::Timer, ms(3000));
    let a = m.step(Event::Timer, ms(3000));
    assert!(effects(&a).is_empty(), "already active: {a:?}");
    assert!(!m.failpartner && !m.notified);
}

#[test]
fn a_local_link_failure_with_fail_partner_keeps_control() {
    let mut m = standby(true);
    m.step(fos_exit(), ms(100));
    m.step(Event::Gateway { reachable: true }, ms(200));
    let down = Event::Links {
        primary_up: false,
        private_up: true,
    };
    let a = m.step(down.clone(), ms(300));
    assert_eq!(
        logs(&a),
        [
            "Primary NIC: link down",
            "Local NIC link failure: Pulse disabled",
            "local link failure: we want control!"
        ]
    );
    let forget = Action::ForgetPartnerNeighbours {
        primary: true,
        private: false,
    };
    assert_eq!(effects(&a), std::slice::from_ref(&forget));
    assert!(m.active && m.linkfail);
    // Without fail-partner the node stands down.
    let mut m = active(true);
    let a = m.step(down, ms(300));
    assert_eq!(logs(&a)[2], "local link failure: deactivating FOS");
    let mut want = vec![forget];
    want.extend(STAND_DOWN);
    assert_eq!(effects(&a), want);
    assert!(!m.active);
    // linkfail blocks activation by a stopped or dead partner.
    assert!(effects(&m.step(beat(FOS_STOPPED), ms(400))).is_empty());
    let a = m.step(Event::Timer, ms(3400));
    assert!(!a.iter().any(|x| matches!(x, Action::StartFos(_))), "{a:?}");
    assert!(!m.active);
}

#[test]
fn no_gateway_is_a_network_fault_until_the_partner_is_heard() {
    let mut m = standby(true);
    m.step(fos_exit(), ms(100));
    let a = m.step(Event::Gateway { reachable: false }, ms(3000));
    assert_eq!(
        logs(&a),
        [
            "remote service unavailable; gateway unavailable",
            "I SEEM TO HAVE A NETWORK FAULT!"
        ]
    );
    assert!(effects(&a).is_empty(), "no fos runs: {a:?}");
    assert!(m.network_fault && !m.active && !m.fos_running);
    // A heartbeat on the private channel does not count …
    let a = m.step(beat_from(PEER_PRIVATE, FOS_RUNNING), ms(3100));
    assert!(effects(&a).is_empty());
    assert!(m.network_fault);
    // … one on the public channel does: the monitors come back.
    let a = m.step(beat(FOS_RUNNING), ms(3200));
    assert_eq!(logs(&a), ["Network fault seems to be fixed"]);
    assert_eq!(
        effects(&a),
        [Action::VipsDown, Action::StartFos(FosRole::Monitor)]
    );
    assert!(!m.network_fault && m.fos_running);
}

#[test]
fn a_late_gateway_answer_is_ignored() {
    let mut m = standby(true);
    m.step(fos_exit(), ms(100));
    m.step(beat(FOS_STOPPED), ms(200)); // activates meanwhile
    assert!(m.active);
    let a = m.step(Event::Gateway { reachable: true }, ms(300));
    assert!(a.is_empty(), "{a:?}");
    assert!(!m.failpartner);
}

#[test]
fn termination_stops_fos_and_takes_the_vips_down() {
    for mut m in [active(true), standby(false)] {
        let a = m.step(Event::Terminate(15), ms(100));
        assert_eq!(logs(&a), ["Terminating due to signal 15"]);
        assert_eq!(
            effects(&a),
            [Action::StopFos, Action::VipsDown, Action::Exit(0)]
        );
        assert!(!m.active);
    }
}

#[test]
fn sighup_restarts_fos_in_its_role() {
    let mut m = active(true);
    let a = m.step(Event::Hangup, ms(100));
    assert_eq!(logs(&a), ["SIGHUP received: restarting fos"]);
    assert_eq!(
        effects(&a),
        [Action::StopFos, Action::StartFos(FosRole::Active)]
    );
    let mut m = standby(true);
    let a = m.step(Event::Hangup, ms(100));
    assert_eq!(
        effects(&a),
        [Action::StopFos, Action::StartFos(FosRole::Monitor)]
    );
    assert!(!m.active);
    // No fos (network fault): nothing to restart.
    m.step(fos_exit(), ms(200));
    let a = m.step(Event::Hangup, ms(300));
    assert_eq!(
        logs(&a),
        ["SIGHUP received but no fos is running: nothing to reload"]
    );
    assert!(effects(&a).is_empty());
}

#[test]
fn test_mode_starts_and_stops_nothing() {
    let mut s = settings(true);
    s.norun = true;
    let mut m = Machine::new(s.clone(), ms(0));
    let a = m.step(Event::Start { forced: true }, ms(0));
    assert_eq!(logs(&a), ["Forced active on startup: activating fos"]);
    assert!(effects(&a).is_empty());
    assert!(m.active && !m.fos_running);
    let a = m.step(Event::Terminate(2), ms(10));
    assert_eq!(effects(&a), [Action::Exit(0)]);
    // PULSE_TEST_START_COMPAT: the VIPs still move.
    s.norun_side_effects = true;
    let mut m = Machine::new(s, ms(0));
    let a = m.step(Event::Start { forced: true }, ms(0));
    assert_eq!(effects(&a), [Action::VipsUp]);
}

/// Every event on every reachable combination of flags.
#[test]
fn invariants_hold_for_every_flag_combination_and_event() {
    let events = [
        Event::Timer,
        beat(FOS_RUNNING),
        beat(FOS_STOPPED),
        beat(STOP_ME),
        beat(HOLD),
        beat(LVS_RUNNING),
        beat_from(PEER_PRIVATE, FOS_STOPPED),
        Event::Links {
            primary_up: false,
            private_up: true,
        },
        Event::Links {
            primary_up: true,
            private_up: true,
        },
        fos_exit(),
        Event::ChildExited {
            pid: 6,
            end: ChildEnd::Exited(0),
            daemon: false,
        },
        Event::Gateway { reachable: true },
        Event::Gateway { reachable: false },
        Event::Terminate(15),
        Event::Hangup,
        Event::UserSignal(10),
        Event::Start { forced: false },
        Event::Start { forced: true },
    ];
    let mut checked = 0;
    for bits in 0..(1u32 << 10) {
        let flag = |i: u32| bits & (1 << i) != 0;
        let s = flagged(settings, bits);
        let (active, linkfail, failpartner, fault, running, notified) =
            (flag(4), flag(5), flag(6), flag(7), flag(8), flag(9));
        if running && s.norun
            || fault && (active || running)
            || failpartner && !active
            || notified && !failpartner
        {
            continue; // unreachable combinations
        }
        for ev in &events {
            let fresh = !active && !linkfail && !failpartner && !fault && !running;
            if matches!(ev, Event::Start { .. }) != fresh && matches!(ev, Event::Start { .. }) {
                continue; // Start only happens on a fresh machine
            }
            if matches!(ev, Event::ChildExited { daemon: true, .. }) && !running {
                continue; // only a running fos can exit
            }
            let mut m = Machine::new(s.clone(), ms(0));
            m.active = active;
            m.linkfail = linkfail;
            m.failpartner = failpartner;
            m.notified = notified;
            m.network_fault = fault;
            m.fos_running = running;
            checked += check_steps(&m, ev, &[0, 1000, 3000], check);
        }
    }
    assert!(checked > 3000, "{checked}");
}

fn check(before: &Machine, ev: &Event, now: Duration, a: &[Action], after: &Machine) {
    let ctx = || format!("{before:?} {ev:?} at {now:?} -> {a:?}");
    let s = before.settings();
    // fos mode never runs lvs-mode machinery.
    assert!(
        !a.iter().any(|x| matches!(
            x,
            Action::StartLvsd
                | Action::StopLvsd
                | Action::RunHook(_)
                | Action::Sync(_)
                | Action::ForwardHup
        )),
        "{}",
        ctx()
    );
    // A fos is stopped only while one runs (never a reaped one), and at
    // most one runs at a time: a start follows a stop of the old one.
    let reaped = matches!(ev, Event::ChildExited { daemon: true, .. });
    let mut running = before.fos_running && !reaped;
    for x in a {
        match x {
            Action::StopFos => {
                assert!(running, "{}", ctx());
                running = false;
            }
            Action::StartFos(_) => {
                assert!(!running, "{}", ctx());
                running = true;
            }
            _ => {}
        }
    }
    assert_eq!(running, after.fos_running, "{}", ctx());
    // The role started matches the state it leaves the node in.
    if let Some(Action::StartFos(role)) = a.iter().rev().find(|x| matches!(x, Action::StartFos(_)))
    {
        assert_eq!(*role == FosRole::Active, after.active, "{}", ctx());
    }
    // Outside test mode and a network fault, a running fos goes with every
    // state (except while the node exits or checks the gateway).
    let exiting = matches!(ev, Event::Terminate(_));
    let checking = a.contains(&Action::CheckGateway);
    if !s.norun && !exiting && !checking && !after.network_fault && before.fos_running {
        assert!(after.fos_running, "{}", ctx());
    }
    if s.norun {
        assert!(
            !a.iter()
                .any(|x| matches!(x, Action::StartFos(_) | Action::StopFos)),
            "{}",
            ctx()
        );
    }
    if s.norun && !s.norun_side_effects {
        assert!(
            !a.iter()
                .any(|x| matches!(x, Action::VipsUp | Action::VipsDown)),
            "{}",
            ctx()
        );
    }
    // The VIPs are up before the services start.
    if let Some(i) = a
        .iter()
        .position(|x| *x == Action::StartFos(FosRole::Active))
        && !before.active
    {
        assert!(a[..i].contains(&Action::VipsUp), "{}", ctx());
    }
    // Activation never happens with a link failure, except forced at start.
    if !before.active && after.active {
        assert!(
            !before.linkfail
                || matches!(ev, Event::Start { .. })
                || matches!(ev, Event::Gateway { .. }),
            "{}",
            ctx()
        );
    }
    // Exit only on termination, and then as the last action.
    if exiting {
        assert_eq!(a.last(), Some(&Action::Exit(0)), "{}", ctx());
        assert!(!after.active, "{}", ctx());
    } else {
        assert!(!a.iter().any(|x| matches!(x, Action::Exit(_))), "{}", ctx());
    }
    // STOP-ME is sent exactly while fail-partner is set; a standby never
    // claims to be running.
    match after.beat() {
        Beat::StopMe => assert!(after.failpartner, "{}", ctx()),
        Beat::Running => assert!(after.active && !after.failpartner, "{}", ctx()),
        Beat::Stopped => assert!(!after.active, "{}", ctx()),
        Beat::Hold => panic!("never sent: {}", ctx()),
    }
    assert!(!after.failpartner || after.active, "{}", ctx());
    // Deadlines never move backwards.
    assert!(after.next_send >= before.next_send, "{}", ctx());
    assert!(after.next_need >= before.next_need.min(now), "{}", ctx());
}
