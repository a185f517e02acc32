//! The state machine with injected time: every table row of pulse.md §6.2,
//! the timer rules of §5, and invariants checked over every reachable
//! combination of state flags × event.

use std::net::{Ipv4Addr, SocketAddr};

use super::test_support::{PEER, beat_from, check_steps, effects, flagged, logs, ms};
use super::*;
use crate::heartbeat::{HELD, HOLD, LVS_RUNNING, LVS_STOPPED, STOP_ME};

fn settings(master: bool) -> Settings {
    super::test_support::settings(Mode::Lvs, master, None)
}

fn beat(magic: u32) -> Event {
    beat_from(PEER, magic)
}

const ACTIVATE: [Action; 4] = [
    Action::RunHook(Hook::Active),
    Action::StartLvsd,
    Action::Sync(SyncRole::Master),
    Action::VipsUp,
];

const DEACTIVATE: [Action; 4] = [
    Action::RunHook(Hook::Inactive),
    Action::Sync(SyncRole::Backup),
    Action::StopLvsd,
    Action::VipsDown,
];

fn active_machine(master: bool) -> Machine {
    let mut m = Machine::new(settings(master), ms(0));
    m.step(Event::Start { forced: true }, ms(0));
    assert!(m.active);
    m
}

#[test]
fn start_runs_inactive_hook_and_sync_backup_then_waits() {
    let mut m = Machine::new(settings(true), ms(0));
    let a = m.step(Event::Start { forced: false }, ms(0));
    assert_eq!(
        a,
        vec![
            Action::RunHook(Hook::Inactive),
            Action::Sync(SyncRole::Backup)
        ]
    );
    assert!(!m.active);
    assert_eq!(m.next_send, ms(1000));
    assert_eq!(m.next_need, ms(3000));
}

#[test]
fn forced_start_activates_in_exact_order() {
    let mut m = Machine::new(settings(false), ms(0));
    let a = m.step(Event::Start { forced: true }, ms(0));
    let mut want = vec![
        Action::RunHook(Hook::Inactive),
        Action::Sync(SyncRole::Backup),
        Action::Log("Forced active on startup: activating lvs".into()),
    ];
    want.extend(ACTIVATE);
    assert_eq!(a, want);
    assert!(m.active && m.lvsd_running);
}

#[test]
fn heartbeats_go_out_every_keepalive_with_the_current_state() {
    let mut m = Machine::new(settings(true), ms(0));
    m.step(Event::Start { forced: false }, ms(0));
    assert_eq!(m.deadline(), ms(1000));
    assert!(
        effects(&m.step(Event::Timer, ms(999))).is_empty(),
        "not due yet"
    );
    assert_eq!(
        effects(&m.step(Event::Timer, ms(1000))),
        vec![Action::Send(Beat::Stopped)]
    );
    assert_eq!(m.next_send, ms(2000));
    // A late timer reschedules from the actual time.
    m.step(Event::Timer, ms(2010));
    assert_eq!(m.next_send, ms(3010));
}

#[test]
fn tie_between_deadlines_sends_first() {
    let mut s = settings(true);
    s.deadtime = ms(1000);
    let mut m = Machine::new(s, ms(0));
    m.step(Event::Start { forced: false }, ms(0));
    let first = m.step(Event::Timer, ms(1000));
    assert_eq!(effects(&first), vec![Action::Send(Beat::Stopped)]);
    assert!(!m.active);
    let second = m.step(Event::Timer, ms(1000));
    assert_eq!(logs(&second), vec!["partner dead: activating lvs"]);
    assert!(m.active);
}

#[test]
fn no_heartbeats_without_a_backup() {
    let mut s = settings(true);
    s.backup_active = false;
    let mut m = Machine::new(s, ms(0));
    m.step(Event::Start { forced: false }, ms(0));
    for t in 1..=10 {
        let a = m.step(Event::Timer, ms(t * 1000));
        assert!(!a.iter().any(|x| matches!(x, Action::Send(_))), "{a:?}");
    }
    assert!(m.active, "a stand-alone primary activates after deadtime");
}

#[test]
fn partner_silence_for_exactly_deadtime_activates() {
    let mut m = Machine::new(settings(false), ms(0));
    m.step(Event::Start { forced: false }, ms(0));
    m.step(beat(LVS_RUNNING), ms(500));
    assert_eq!(m.next_need, ms(3500));
    for t in [1000, 2000, 3000] {
        m.step(Event::Timer, ms(t));
        assert!(!m.active, "at {t} ms");
    }
    assert!(effects(&m.step(Event::Timer, ms(3499))).is_empty());
    let a = m.step(Event::Timer, ms(3500));
    assert_eq!(logs(&a), vec!["partner dead: activating lvs"]);
    assert_eq!(effects(&a), ACTIVATE.to_vec());
    assert_eq!(m.next_need, ms(6500), "re-armed every deadtime");
}

#[test]
fn stopped_partner_activates_with_role_specific_reason() {
    for (master, reason) in [
        (true, "backup inactive: activating lvs"),
        (false, "primary inactive: activating lvs"),
    ] {
        let mut m = Machine::new(settings(master), ms(0));
        m.step(Event::Start { forced: false }, ms(0));
        let a = m.step(beat(LVS_STOPPED), ms(100));
        assert_eq!(logs(&a), vec![reason]);
        assert_eq!(effects(&a), ACTIVATE.to_vec());
        assert!(m.active);
        // Once active, further stopped heartbeats change nothing.
        assert!(effects(&m.step(beat(LVS_STOPPED), ms(200))).is_empty());
    }
}

#[test]
fn active_backup_yields_to_a_running_partner_after_one_last_heartbeat() {
    let mut m = active_machine(false);
    let a = m.step(beat(LVS_RUNNING), ms(100));
    let mut want = vec![
        Action::Send(Beat::Running),
        Action::Log("partner active: deactivating LVS".into()),
    ];
    want.extend(DEACTIVATE);
    assert_eq!(
        a.into_iter()
            .filter(|x| !matches!(x, Action::Debug(_)))
            .collect::<Vec<_>>(),
        want
    );
    assert!(!m.active && !m.lvsd_running);
}

#[test]
fn active_master_resends_arps_and_reruns_active_cmd() {
    let mut m = active_machine(true);
    let a = m.step(beat(LVS_RUNNING), ms(100));
    assert_eq!(logs(&a), vec!["partner active: resending arps"]);
    assert_eq!(
        effects(&a),
        vec![Action::RunHook(Hook::Active), Action::VipsUp]
    );
    assert!(m.active);
}

#[test]
fn inactive_node_hearing_running_stays_inactive() {
    for master in [true, false] {
        let mut m = Machine::new(settings(master), ms(0));
        m.step(Event::Start { forced: false }, ms(0));
        for t in 1..20 {
            m.step(beat(LVS_RUNNING), ms(t * 900));
            m.step(Event::Timer, ms(t * 900));
        }
        assert!(!m.active, "no automatic fail-back (C4)");
    }
}

#[test]
fn stop_me_in_lvs_mode_is_plain_running() {
    let mut m = active_machine(true);
    let a = m.step(beat(STOP_ME), ms(100));
    assert_eq!(logs(&a), vec!["partner active: resending arps"]);
    assert!(m.active, "STOP-ME never deactivates an lvs master (A1)");
    let mut b = active_machine(false);
    b.step(beat(STOP_ME), ms(100));
    assert!(!b.active);
}

#[test]
fn hold_and_held_only_reset_the_dead_timer() {
    for magic in [HOLD, HELD] {
        let mut m = Machine::new(settings(true), ms(0));
        m.step(Event::Start { forced: false }, ms(0));
        let a = m.step(beat(magic), ms(2000));
        assert!(effects(&a).is_empty() && logs(&a).is_empty());
        assert_eq!(m.next_need, ms(5000));
    }
}

#[test]
fn rejected_datagrams_do_not_reset_the_dead_timer() {
    let mut m = Machine::new(settings(true), ms(0));
    m.step(Event::Start { forced: false }, ms(0));
    let cases: Vec<(SocketAddr, Vec<u8>, Option<&str>)> = vec![
        (
            SocketAddr::from((Ipv4Addr::new(192, 0, 2, 66), 539)),
            LVS_RUNNING.to_le_bytes().to_vec(),
            None,
        ),
        (
            SocketAddr::from((PEER, 1539)),
            LVS_RUNNING.to_le_bytes().to_vec(),
            None,
        ),
        (
            SocketAddr::from((PEER, 539)),
            vec![0xDA, 0xDB],
            Some("bad heartbeat packet"),
        ),
        (
            SocketAddr::from((PEER, 539)),
            0xBEEF_BABEu32.to_le_bytes().to_vec(),
            Some("Incompatible heartbeat received -- other system not using identical services"),
        ),
    ];
    for (from, data, logged) in cases {
        let a = m.step(Event::Datagram { from, data }, ms(2000));
        assert_eq!(logs(&a), logged.into_iter().collect::<Vec<_>>());
        assert!(effects(&a).is_empty());
        assert_eq!(m.next_need, ms(3000));
    }
    // The spoofed/short packets changed nothing: the dead timer still fires.
    m.step(Event::Timer, ms(3000)); // send (tie → send)
    let a = m.step(Event::Timer, ms(3000));
    assert_eq!(logs(&a), vec!["partner dead: activating lvs"]);
}

#[test]
fn unexpected_sender_is_logged_only_in_verbose() {
    let mut m = Machine::new(settings(true), ms(0));
    let a = m.step(
        Event::Datagram {
            from: SocketAddr::from((Ipv4Addr::new(192, 0, 2, 66), 539)),
            data: vec![0; 4],
        },
        ms(1),
    );
    assert_eq!(
        a,
        vec![Action::Debug("Unexpected heartbeat from 192.0.2.66".into())]
    );
}

#[test]
fn link_failure_deactivates_and_blocks_activation_until_restored() {
    let mut m = active_machine(true);
    let a = m.step(
        Event::Links {
            primary_up: false,
            private_up: false,
        },
        ms(100),
    );
    assert_eq!(
        logs(&a),
        vec![
            "Primary NIC: link down",
            "Private NIC: link down",
            "Local NIC link failure: Pulse disabled",
            "local link failure: deactivating LVS",
        ]
    );
    let mut want = vec![Action::ForgetPartnerNeighbours {
        primary: true,
        private: true,
    }];
    want.extend(DEACTIVATE);
    assert_eq!(effects(&a), want);
    assert!(m.linkfail && !m.active);
    // Still failing: silent.
    assert!(
        m.step(
            Event::Links {
                primary_up: false,
                private_up: false
            },
            ms(200)
        )
        .is_empty()
    );
    // No activation while the link is down, however the partner behaves.
    assert!(effects(&m.step(beat(LVS_STOPPED), ms(300))).is_empty());
    let mut t = 300;
    while t < 10_000 {
        t += 500;
        let a = m.step(Event::Timer, ms(t));
        assert!(!a.contains(&Action::StartLvsd));
    }
    // Heartbeats keep going out as stopped.
    assert!(!m.active);
    assert_eq!(m.beat(), Beat::Stopped);
    let a = m.step(
        Event::Links {
            primary_up: true,
            private_up: true,
        },
        ms(t),
    );
    assert_eq!(logs(&a), vec!["Local NIC link(s) restored: Pulse enabled"]);
    assert!(
        !m.linkfail && !m.active,
        "activation only via normal events"
    );
    let a = m.step(beat(LVS_STOPPED), ms(t + 1));
    assert_eq!(logs(&a), vec!["backup inactive: activating lvs"]);
}

/// The dead timer restarts when the links come back: a partner that was
/// alive all along (but could not be heard) is not declared dead before a
/// full deadtime has passed without hearing it.
#[test]
fn restored_link_gives_the_partner_a_full_deadtime() {
    let mut m = active_machine(true);
    m.step(
        Event::Links {
            primary_up: false,
            private_up: false,
        },
        ms(100),
    );
    // The dead timer fires, silently, while the link is down.
    while m.next_need <= ms(5000) {
        let now = m.deadline();
        assert!(
            effects(&m.step(Event::Timer, now))
                .iter()
                .all(|e| matches!(e, Action::Send(_)))
        );
    }
    let due = m.next_need;
    let restore = due - ms(200);
    let a = m.step(
        Event::Links {
            primary_up: true,
            private_up: true,
        },
        restore,
    );
    assert_eq!(logs(&a), vec!["Local NIC link(s) restored: Pulse enabled"]);
    assert_eq!(m.next_need, restore + ms(3000));
    // Where the old timer would have fired: nothing happens.
    let a = m.step(Event::Timer, due);
    assert!(!a.contains(&Action::StartLvsd), "{a:?}");
    // The partner is heard: it stays the active one.
    let a = m.step(beat(LVS_RUNNING), restore + ms(900));
    assert!(effects(&a).is_empty() && !m.active, "{a:?}");
    // Without another heartbeat for a deadtime, it is dead after all.
    let mut now = restore + ms(900);
    let mut activated = false;
    while now < restore + ms(900) + ms(3000) {
        now = m.deadline();
        activated |= logs(&m.step(Event::Timer, now)).contains(&"partner dead: activating lvs");
    }
    assert!(activated && m.active);
}

#[test]
fn only_the_failing_nic_is_named() {
    let mut m = Machine::new(settings(true), ms(0));
    let a = m.step(
        Event::Links {
            primary_up: true,
            private_up: false,
        },
        ms(1),
    );
    assert_eq!(
        logs(&a),
        vec![
            "Private NIC: link down",
            "Local NIC link failure: Pulse disabled"
        ]
    );
    assert_eq!(
        effects(&a),
        [Action::ForgetPartnerNeighbours {
            primary: false,
            private: true,
        }],
        "inactive node: nothing to deactivate"
    );
}

/// The neighbour entries go on the NICs that went down, once per failure,
/// before the deactivation (while its lvsd stop waits, the queued
/// heartbeat is already gone), in every role and mode, test mode included
/// (its heartbeats say *running* too).
#[test]
fn a_link_failure_forgets_the_partners_neighbours_on_the_failed_nics_once() {
    let down = |primary_up, private_up| Event::Links {
        primary_up,
        private_up,
    };
    for bits in 0..(1u32 << 4) {
        for mode in [Mode::Lvs, Mode::Fos] {
            let mut s = flagged(settings, bits);
            s.mode = mode;
            for (p, q) in [(false, true), (true, false), (false, false)] {
                let mut m = Machine::new(s.clone(), ms(0));
                m.step(Event::Start { forced: true }, ms(0));
                let a = m.step(down(p, q), ms(100));
                let forget = Action::ForgetPartnerNeighbours {
                    primary: !p,
                    private: !q,
                };
                let at = a.iter().position(|x| *x == forget);
                let ctx = format!("{s:?} {p} {q} {a:?}");
                assert_eq!(
                    a.iter()
                        .filter(|x| matches!(x, Action::ForgetPartnerNeighbours { .. }))
                        .count(),
                    1,
                    "{ctx}"
                );
                let at = at.expect(&ctx);
                // Right after the link lines, before anything else.
                assert_eq!(
                    a[at - 1],
                    Action::Log("Local NIC link failure: Pulse disabled".into()),
                    "{ctx}"
                );
                assert!(
                    a[..at]
                        .iter()
                        .all(|x| matches!(x, Action::Log(_) | Action::Debug(_))),
                    "{ctx}"
                );
                // Still down, or the other NIC going too: nothing more.
                for again in [down(p, q), down(false, false)] {
                    let a = m.step(again, ms(200));
                    assert!(
                        !a.iter()
                            .any(|x| matches!(x, Action::ForgetPartnerNeighbours { .. })),
                        "{ctx} {a:?}"
                    );
                }
                // Restored, then down again: forgotten again.
                m.step(down(true, true), ms(300));
                let a = m.step(down(p, q), ms(400));
                assert!(a.contains(&forget), "{ctx} {a:?}");
            }
        }
    }
}

#[test]
fn links_that_stay_up_forget_nothing() {
    let mut m = active_machine(false);
    let a = m.step(
        Event::Links {
            primary_up: true,
            private_up: true,
        },
        ms(100),
    );
    assert!(a.is_empty(), "{a:?}");
    assert!(m.active);
}

#[test]
fn lvsd_death_deactivates_without_signalling_it_and_sets_childfail() {
    let mut m = active_machine(true);
    let a = m.step(
        Event::ChildExited {
            pid: 42,
            end: ChildEnd::Exited(7),
            daemon: true,
        },
        ms(100),
    );
    assert_eq!(logs(&a), vec!["Child process 42 exited with status 7"]);
    assert_eq!(
        effects(&a),
        vec![
            Action::RunHook(Hook::Inactive),
            Action::Sync(SyncRole::Backup),
            Action::VipsDown
        ]
    );
    assert!(m.childfail && !m.active && !m.lvsd_running);
    // childfail blocks activation on stopped and on partner-dead …
    assert!(effects(&m.step(beat(LVS_STOPPED), ms(200))).is_empty());
    for t in 1..10 {
        assert!(
            !m.step(Event::Timer, ms(200 + t * 1000))
                .contains(&Action::StartLvsd)
        );
    }
    // … until the partner's running heartbeat clears it.
    m.step(beat(LVS_RUNNING), ms(11_000));
    assert!(!m.childfail && !m.active);
    let a = m.step(beat(LVS_STOPPED), ms(12_000));
    assert_eq!(logs(&a), vec!["backup inactive: activating lvs"]);
}

#[test]
fn lvsd_killed_by_signal_is_logged_as_such() {
    let mut m = active_machine(false);
    let a = m.step(
        Event::ChildExited {
            pid: 9,
            end: ChildEnd::Signaled(9),
            daemon: true,
        },
        ms(1),
    );
    assert_eq!(logs(&a), vec!["Child process 9 terminated with signal 9"]);
}

#[test]
fn other_children_are_skipped() {
    let mut m = active_machine(true);
    let a = m.step(
        Event::ChildExited {
            pid: 77,
            end: ChildEnd::Exited(0),
            daemon: false,
        },
        ms(1),
    );
    assert_eq!(
        a,
        vec![Action::Log("Skipping death of unknown child 77".into())]
    );
    assert!(m.active);
}

#[test]
fn terminate_deactivates_then_exits() {
    let mut m = active_machine(true);
    let a = m.step(Event::Terminate(15), ms(1));
    let mut want = vec![Action::Log("Terminating due to signal 15".into())];
    want.extend(DEACTIVATE);
    want.push(Action::Exit(0));
    assert_eq!(a, want);
    // Inactive: hook and sync only.
    let mut m = Machine::new(settings(true), ms(0));
    let a = m.step(Event::Terminate(2), ms(1));
    assert_eq!(
        effects(&a),
        vec![
            Action::RunHook(Hook::Inactive),
            Action::Sync(SyncRole::Backup),
            Action::Exit(0)
        ]
    );
}

#[test]
fn sighup_is_forwarded_only_to_a_live_lvsd() {
    let mut m = Machine::new(settings(false), ms(0));
    let a = m.step(Event::Hangup, ms(1));
    assert!(!a.contains(&Action::ForwardHup), "C1: no livelock");
    assert_eq!(logs(&a).len(), 1);
    let mut m = active_machine(false);
    assert_eq!(m.step(Event::Hangup, ms(1)), vec![Action::ForwardHup]);
}

#[test]
fn user_signals_are_ignored_and_logged() {
    let mut m = active_machine(true);
    let a = m.step(Event::UserSignal(10), ms(1));
    assert_eq!(a, vec![Action::Log("Ignoring signal 10".into())]);
    assert!(m.active);
}

#[test]
fn test_mode_has_no_side_effects_by_default() {
    let mut s = settings(true);
    s.norun = true;
    let mut m = Machine::new(s.clone(), ms(0));
    assert!(effects(&m.step(Event::Start { forced: true }, ms(0))).is_empty());
    assert!(m.active);
    assert!(effects(&m.step(beat(LVS_RUNNING), ms(1))).is_empty());
    assert!(effects(&m.step(Event::Terminate(15), ms(2))) == vec![Action::Exit(0)]);
    // Compat: the original still switched the sync daemon and brought VIPs up.
    s.norun_side_effects = true;
    let mut m = Machine::new(s, ms(0));
    let a = m.step(Event::Start { forced: true }, ms(0));
    assert_eq!(
        effects(&a),
        vec![
            Action::Sync(SyncRole::Backup),
            Action::Sync(SyncRole::Master),
            Action::VipsUp
        ]
    );
    let a = m.step(Event::Terminate(15), ms(1));
    assert_eq!(
        effects(&a),
        vec![Action::Sync(SyncRole::Backup), Action::Exit(0)]
    );
}

#[test]
fn cold_start_of_both_nodes_ends_with_the_master_active() {
    // Two machines wired together: each one's Send is delivered to the other
    // at the same instant (heartbeats crossing in flight).
    let mut master = Machine::new(settings(true), ms(0));
    let mut backup = Machine::new(settings(false), ms(0));
    master.step(Event::Start { forced: false }, ms(0));
    backup.step(Event::Start { forced: false }, ms(0));
    let mut log_m = Vec::new();
    let mut log_b = Vec::new();
    let deliver = |to: &mut Machine, beat_: Beat, now: Duration, log: &mut Vec<String>| {
        let magic = if beat_ == Beat::Running {
            LVS_RUNNING
        } else {
            LVS_STOPPED
        };
        let a = to.step(super::tests::beat(magic), now);
        log.extend(logs(&a).into_iter().map(String::from));
        a.iter()
            .filter_map(|x| match x {
                Action::Send(b) => Some(*b),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    for tick in 1..=6u64 {
        let now = ms(tick * 1000);
        let sm: Vec<Beat> = sends(master.step(Event::Timer, now));
        let sb: Vec<Beat> = sends(backup.step(Event::Timer, now));
        for b in sm {
            let back = deliver(&mut backup, b, now, &mut log_b);
            for bb in back {
                deliver(&mut master, bb, now, &mut log_m);
            }
        }
        for b in sb {
            let back = deliver(&mut master, b, now, &mut log_m);
            for bb in back {
                deliver(&mut backup, bb, now, &mut log_b);
            }
        }
    }
    assert!(master.active, "master log: {log_m:?}");
    assert!(!backup.active, "backup log: {log_b:?}");
    assert!(log_b.contains(&"primary inactive: activating lvs".to_string()));
    assert!(log_b.contains(&"partner active: deactivating LVS".to_string()));
    assert!(log_m.contains(&"partner active: resending arps".to_string()));
}

fn sends(a: Vec<Action>) -> Vec<Beat> {
    a.into_iter()
        .filter_map(|x| match x {
            Action::Send(b) => Some(b),
            _ => None,
        })
        .collect()
}

/// Every combination of flags, role and mode × every event: the invariants
/// that must hold whatever the history.
#[test]
fn invariants_hold_for_every_state_and_event() {
    let events = vec![
        Event::Timer,
        beat(LVS_RUNNING),
        beat(LVS_STOPPED),
        beat(STOP_ME),
        beat(HOLD),
        beat(HELD),
        Event::Datagram {
            from: SocketAddr::from((PEER, 539)),
            data: vec![1],
        },
        Event::Datagram {
            from: SocketAddr::from((PEER, 9)),
            data: LVS_STOPPED.to_le_bytes().to_vec(),
        },
        Event::Links {
            primary_up: false,
            private_up: true,
        },
        Event::Links {
            primary_up: true,
            private_up: false,
        },
        Event::Links {
            primary_up: false,
            private_up: false,
        },
        Event::Links {
            primary_up: true,
            private_up: true,
        },
        Event::ChildExited {
            pid: 5,
            end: ChildEnd::Exited(1),
            daemon: true,
        },
        Event::ChildExited {
            pid: 6,
            end: ChildEnd::Exited(0),
            daemon: false,
        },
        Event::Terminate(15),
        Event::Hangup,
        Event::UserSignal(12),
        Event::Start { forced: false },
        Event::Start { forced: true },
    ];
    let mut checked = 0;
    for bits in 0..(1u32 << 8) {
        let flag = |i: u32| bits & (1 << i) != 0;
        let s = flagged(settings, bits);
        let (active, linkfail, childfail, lvsd) = (flag(4), flag(5), flag(6), flag(7));
        if lvsd && (!active || s.norun) {
            continue; // lvsd runs only on an active node outside test mode
        }
        if active && (linkfail || childfail) {
            continue; // unreachable: both flags deactivate and block activation
        }
        for ev in &events {
            let fresh = !active && !linkfail && !childfail;
            if matches!(ev, Event::Start { .. }) && !fresh {
                continue; // Start only happens on a fresh machine
            }
            let mut m = Machine::new(s.clone(), ms(0));
            m.active = active;
            m.linkfail = linkfail;
            m.childfail = childfail;
            m.lvsd_running = lvsd;
            checked += check_steps(&m, ev, &[0, 999, 1000, 3000, 5000], check);
        }
    }
    assert!(checked > 5000, "{checked}");
}

fn check(before: &Machine, ev: &Event, now: Duration, a: &[Action], after: &Machine) {
    let ctx = || format!("{before:?} {ev:?} at {now:?} -> {a:?}");
    let s = before.settings();
    // Activation happens only from inactive and never with a failure flag.
    if a.contains(&Action::StartLvsd) || a.contains(&Action::Sync(SyncRole::Master)) {
        assert!(!before.active, "{}", ctx());
        assert!(
            matches!(ev, Event::Start { forced: true }) || (!before.linkfail && !before.childfail),
            "{}",
            ctx()
        );
        assert!(after.active, "{}", ctx());
    }
    // Never signal an lvsd that is not running (or was just reaped).
    if a.contains(&Action::StopLvsd) {
        assert!(before.lvsd_running, "{}", ctx());
    }
    if let Event::ChildExited { daemon: true, .. } = ev {
        assert!(!a.contains(&Action::StopLvsd), "{}", ctx());
    }
    // Test mode: no process is started or stopped, no hook runs.
    if s.norun {
        assert!(
            !a.iter()
                .any(|x| matches!(x, Action::StartLvsd | Action::StopLvsd | Action::RunHook(_))),
            "{}",
            ctx()
        );
    }
    if s.norun && !s.norun_side_effects {
        assert!(
            !a.iter()
                .any(|x| matches!(x, Action::Sync(_) | Action::VipsUp | Action::VipsDown)),
            "{}",
            ctx()
        );
    }
    // Heartbeats are sent only when a backup exists, except the backup's
    // yield heartbeat (a backup node always has backup_active).
    let sent: Vec<&Action> = a.iter().filter(|x| matches!(x, Action::Send(_))).collect();
    if !s.backup_active && !matches!(ev, Event::Datagram { .. }) {
        assert!(sent.is_empty(), "{}", ctx());
    }
    // Exit only on termination, and then as the last action.
    if let Event::Terminate(_) = ev {
        assert_eq!(a.last(), Some(&Action::Exit(0)), "{}", ctx());
        assert!(!after.active, "{}", ctx());
    } else {
        assert!(!a.iter().any(|x| matches!(x, Action::Exit(_))), "{}", ctx());
    }
    // VIPs come down only from an active node, and only after lvsd stopped.
    if let Some(i) = a.iter().position(|x| *x == Action::VipsDown) {
        assert!(before.active, "{}", ctx());
        if let Some(j) = a.iter().position(|x| *x == Action::StopLvsd) {
            assert!(j < i, "{}", ctx());
        }
    }
    // Deadlines never move backwards and a valid heartbeat re-arms the dead timer.
    assert!(after.next_send >= before.next_send, "{}", ctx());
    assert!(after.next_need >= before.next_need.min(now), "{}", ctx());
    // The node's beat always matches its state.
    assert_eq!(after.beat() == Beat::Running, after.active, "{}", ctx());
    // The partner's neighbour entries are forgotten exactly when a link
    // failure begins, and only on the NICs that are down.
    let forgets: Vec<&Action> = a
        .iter()
        .filter(|x| matches!(x, Action::ForgetPartnerNeighbours { .. }))
        .collect();
    match ev {
        Event::Links {
            primary_up,
            private_up,
        } if !before.linkfail && (!*primary_up || !*private_up) => assert_eq!(
            forgets,
            [&Action::ForgetPartnerNeighbours {
                primary: !primary_up,
                private: !private_up,
            }],
            "{}",
            ctx()
        ),
        _ => assert!(forgets.is_empty(), "{}", ctx()),
    }
    // A failure flag never leaves a node active after a link or child event.
    if matches!(
        ev,
        Event::Links {
            primary_up: false,
            ..
        } | Event::Links {
            private_up: false,
            ..
        } | Event::ChildExited { daemon: true, .. }
    ) {
        assert!(!after.active, "{}", ctx());
    }
}
