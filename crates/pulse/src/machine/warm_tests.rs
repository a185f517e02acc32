//! Warm standby (`pulse --warm-standby`): lvsd runs on both routers; a
//! takeover tells it its new role instead of starting it, giving up tells
//! it instead of stopping it. Every transition with injected time, and
//! invariants over every combination of flags × event.

use std::net::SocketAddr;

use super::test_support::{PEER, beat_from, check_steps, effects, flagged, logs, ms};
use super::*;
use crate::heartbeat::{HELD, HOLD, LVS_RUNNING, LVS_STOPPED, STOP_ME};

fn settings(master: bool) -> Settings {
    let mut s = super::test_support::settings(Mode::Lvs, master, None);
    s.warm_standby = true;
    s
}

fn beat(magic: u32) -> Event {
    beat_from(PEER, magic)
}

fn exited(pid: u32) -> Event {
    Event::ChildExited {
        pid,
        end: ChildEnd::Signaled(9),
        daemon: true,
    }
}

const TAKEOVER: [Action; 4] = [
    Action::RunHook(Hook::Active),
    Action::TellLvsd(LvsdRole::Active),
    Action::Sync(SyncRole::Master),
    Action::VipsUp,
];

const GIVE_UP: [Action; 4] = [
    Action::RunHook(Hook::Inactive),
    Action::Sync(SyncRole::Backup),
    Action::VipsDown,
    Action::TellLvsd(LvsdRole::Standby),
];

/// Steps the timer at `now` until the partner is declared dead (a
/// heartbeat due at the same time goes first); the takeover's actions.
fn partner_dead(m: &mut Machine, now: Duration) -> Vec<Action> {
    for _ in 0..4 {
        let a = m.step(Event::Timer, now);
        if m.active {
            return a;
        }
    }
    panic!("no takeover at {now:?}: {m:?}");
}

/// A started warm standby at 0 ms.
fn standby(master: bool) -> Machine {
    let mut m = Machine::new(settings(master), ms(0));
    let a = m.step(Event::Start { forced: false }, ms(0));
    assert_eq!(
        effects(&a),
        [
            Action::RunHook(Hook::Inactive),
            Action::Sync(SyncRole::Backup),
            Action::StartStandbyLvsd
        ]
    );
    assert!(m.lvsd_running && !m.active);
    m
}

#[test]
fn start_runs_lvsd_as_the_standby() {
    standby(true);
    standby(false);
}

#[test]
fn forced_start_starts_the_standby_lvsd_then_tells_it_it_is_active() {
    let mut m = Machine::new(settings(true), ms(0));
    let a = m.step(Event::Start { forced: true }, ms(0));
    let mut want = vec![
        Action::RunHook(Hook::Inactive),
        Action::Sync(SyncRole::Backup),
        Action::StartStandbyLvsd,
    ];
    want.extend(TAKEOVER);
    assert_eq!(effects(&a), want);
    assert!(m.active && m.lvsd_running);
}

#[test]
fn takeover_on_partner_dead_only_moves_the_addresses() {
    let mut m = standby(false);
    let a = partner_dead(&mut m, ms(3000));
    assert_eq!(logs(&a), ["partner dead: activating lvs"]);
    assert_eq!(effects(&a), TAKEOVER);
    assert!(m.active && m.lvsd_running);
    assert_eq!(m.beat(), Beat::Running);
}

#[test]
fn takeover_on_partner_stopped_only_moves_the_addresses() {
    let mut m = standby(true);
    let a = m.step(beat(LVS_STOPPED), ms(500));
    assert_eq!(logs(&a), ["backup inactive: activating lvs"]);
    assert_eq!(effects(&a), TAKEOVER);
}

#[test]
fn yielding_keeps_lvsd_and_tells_it_it_is_the_standby() {
    let mut m = standby(false);
    partner_dead(&mut m, ms(3000));
    let a = m.step(beat(LVS_RUNNING), ms(3100));
    let mut want = vec![Action::Send(Beat::Running)];
    want.extend(GIVE_UP);
    assert_eq!(effects(&a), want);
    assert!(!m.active && m.lvsd_running);
    // and the next takeover is warm again
    let a = partner_dead(&mut m, ms(6100));
    assert_eq!(effects(&a), TAKEOVER);
}

#[test]
fn link_failure_gives_up_the_addresses_and_keeps_the_table() {
    let mut m = standby(true);
    partner_dead(&mut m, ms(3000));
    let a = m.step(
        Event::Links {
            primary_up: false,
            private_up: true,
        },
        ms(3100),
    );
    let e = effects(&a);
    assert_eq!(
        e[0],
        Action::ForgetPartnerNeighbours {
            primary: true,
            private: false
        }
    );
    assert_eq!(e[1..], GIVE_UP);
    assert!(m.linkfail && !m.active && m.lvsd_running);
}

#[test]
fn a_standby_lvsd_that_dies_is_started_again_without_a_failover() {
    let mut m = standby(false);
    // no heartbeat or dead timer in the way until the takeover below
    m.next_send = ms(100_000);
    m.next_need = ms(100_000);
    // long after its start: at once
    let a = m.step(exited(40), ms(5000));
    assert_eq!(
        logs(&a),
        [
            "Child process 40 terminated with signal 9",
            "warm standby: starting lvsd again"
        ]
    );
    assert_eq!(effects(&a), [Action::StartStandbyLvsd]);
    assert!(!m.childfail && !m.active && m.lvsd_running);
    // dying again within LVSD_RESPAWN of that start: later
    let a = m.step(exited(41), ms(5400));
    assert_eq!(effects(&a), []);
    assert_eq!(
        logs(&a)[1],
        "warm standby: starting lvsd again in 0.6 s",
        "{a:?}"
    );
    assert_eq!(m.restart_lvsd, Some(ms(6000)));
    assert_eq!(m.deadline(), ms(6000));
    assert!(!m.lvsd_running);
    // nothing before it is due
    assert!(effects(&m.step(Event::Timer, ms(5999))).is_empty());
    let a = m.step(Event::Timer, ms(6000));
    assert_eq!(effects(&a), [Action::StartStandbyLvsd]);
    assert!(m.lvsd_running && m.restart_lvsd.is_none());
    // the standby's lost lvsd never blocks a takeover
    let a = m.step(exited(42), ms(6500));
    assert!(effects(&a).is_empty());
    assert_eq!(m.restart_lvsd, Some(ms(7000)));
    m.next_need = ms(6700);
    let a = m.step(Event::Timer, ms(6700));
    assert_eq!(m.restart_lvsd, None, "{a:?}");
    assert_eq!(
        effects(&a),
        [
            Action::RunHook(Hook::Active),
            Action::StartLvsd,
            Action::Sync(SyncRole::Master),
            Action::VipsUp
        ],
        "a takeover while the restart is pending starts lvsd cold"
    );
}

#[test]
fn the_active_lvsd_dying_fails_over_then_the_standby_is_warm_again() {
    let mut m = standby(false);
    partner_dead(&mut m, ms(3000));
    let a = m.step(exited(50), ms(3500));
    assert_eq!(
        effects(&a),
        [
            Action::RunHook(Hook::Inactive),
            Action::Sync(SyncRole::Backup),
            Action::VipsDown
        ]
    );
    assert!(m.childfail && !m.active && !m.lvsd_running);
    assert_eq!(m.beat(), Beat::Stopped);
    // no restart while childfail holds
    assert_eq!(m.restart_lvsd, None);
    // the partner took over: childfail clears and lvsd comes back as the standby
    let a = m.step(beat(LVS_RUNNING), ms(4000));
    assert_eq!(effects(&a), [Action::StartStandbyLvsd]);
    assert!(!m.childfail && m.lvsd_running && !m.active);
}

#[test]
fn terminate_stops_the_standby_lvsd_too() {
    let mut m = standby(true);
    let a = m.step(Event::Terminate(15), ms(100));
    assert_eq!(
        effects(&a),
        [
            Action::RunHook(Hook::Inactive),
            Action::Sync(SyncRole::Backup),
            Action::StopLvsd,
            Action::Exit(0)
        ]
    );
    let mut m = standby(true);
    partner_dead(&mut m, ms(3000));
    let a = m.step(Event::Terminate(15), ms(3100));
    let mut want = GIVE_UP.to_vec();
    want.push(Action::StopLvsd);
    want.push(Action::Exit(0));
    assert_eq!(effects(&a), want);
}

#[test]
fn a_pending_restart_is_dropped_on_terminate() {
    let mut m = standby(true);
    m.step(exited(7), ms(100));
    assert!(m.restart_lvsd.is_some());
    let a = m.step(Event::Terminate(15), ms(200));
    assert!(!a.contains(&Action::StopLvsd), "{a:?}");
    assert_eq!(m.restart_lvsd, None);
}

#[test]
fn sighup_reloads_the_standby_lvsd() {
    let mut m = standby(false);
    assert_eq!(
        effects(&m.step(Event::Hangup, ms(10))),
        [Action::ForwardHup]
    );
}

#[test]
fn the_flag_does_nothing_in_test_mode_or_fos_mode() {
    let mut s = settings(true);
    s.norun = true;
    let mut m = Machine::new(s, ms(0));
    let a = m.step(Event::Start { forced: false }, ms(0));
    assert!(effects(&a).is_empty(), "{a:?}");
    let mut s = super::test_support::settings(Mode::Fos, true, None);
    s.warm_standby = true;
    let mut plain = s.clone();
    plain.warm_standby = false;
    for ev in [Event::Start { forced: true }, Event::Timer, exited(3)] {
        let mut a = Machine::new(s.clone(), ms(0));
        let mut b = Machine::new(plain.clone(), ms(0));
        assert_eq!(a.step(ev.clone(), ms(0)), b.step(ev, ms(0)));
    }
}

/// Every combination of flags and state × every event, with warm standby.
#[test]
fn warm_invariants_hold_for_every_state_and_event() {
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
        Event::Links {
            primary_up: false,
            private_up: true,
        },
        Event::Links {
            primary_up: true,
            private_up: true,
        },
        exited(5),
        Event::ChildExited {
            pid: 6,
            end: ChildEnd::Exited(0),
            daemon: false,
        },
        Event::Terminate(15),
        Event::Hangup,
        Event::Start { forced: false },
        Event::Start { forced: true },
    ];
    let mut checked = 0;
    for bits in 0..(1u32 << 10) {
        let flag = |i: u32| bits & (1 << i) != 0;
        let mut s = flagged(settings, bits);
        s.warm_standby = true;
        let (active, linkfail, childfail, lvsd, pending) =
            (flag(4), flag(5), flag(6), flag(7), flag(8));
        let started_long_ago = flag(9);
        if s.norun && (lvsd || pending) {
            continue; // no lvsd in test mode
        }
        if active && (linkfail || childfail || !lvsd) {
            continue; // an active warm node runs lvsd and has no failure flag
        }
        if pending && (lvsd || active || childfail) {
            continue; // a restart is pending only for a missing standby lvsd
        }
        for ev in &events {
            let fresh = !active && !linkfail && !childfail && !lvsd && !pending;
            if matches!(ev, Event::Start { .. }) && !fresh {
                continue;
            }
            let mut m = Machine::new(s.clone(), ms(0));
            m.active = active;
            m.linkfail = linkfail;
            m.childfail = childfail;
            m.lvsd_running = lvsd;
            m.lvsd_started =
                (lvsd || pending).then(|| if started_long_ago { ms(0) } else { ms(900) });
            m.restart_lvsd = pending.then(|| ms(1900));
            checked += check_steps(&m, ev, &[0, 999, 1000, 1900, 3000, 5000], check);
        }
    }
    assert!(checked > 5000, "{checked}");
}

fn check(before: &Machine, ev: &Event, now: Duration, a: &[Action], after: &Machine) {
    let ctx = || format!("{before:?} {ev:?} at {now:?} -> {a:?}");
    // Walk the actions with lvsd's life: never two at once, told only while
    // it runs, and the machine's record matches at the end.
    let mut running = before.lvsd_running && !matches!(ev, Event::ChildExited { daemon: true, .. });
    for x in a {
        match x {
            Action::StartLvsd | Action::StartStandbyLvsd => {
                assert!(!running, "{}", ctx());
                running = true;
            }
            Action::TellLvsd(_) | Action::ForwardHup => assert!(running, "{}", ctx()),
            Action::StopLvsd => {
                assert!(running, "{}", ctx());
                running = false;
            }
            _ => {}
        }
    }
    assert_eq!(running, after.lvsd_running, "{}", ctx());
    // A standby lvsd is started only when no failure holds (childfail) and
    // not sooner than LVSD_RESPAWN after the last start.
    if a.contains(&Action::StartStandbyLvsd) {
        assert!(!after.childfail, "{}", ctx());
        if let Some(t) = before.lvsd_started {
            assert!(now >= t + LVSD_RESPAWN, "{}", ctx());
        }
    }
    // lvsd is stopped only when pulse terminates.
    if a.contains(&Action::StopLvsd) {
        assert!(matches!(ev, Event::Terminate(_)), "{}", ctx());
        assert!(before.lvsd_running, "{}", ctx());
    }
    // After any event but termination, an active node runs lvsd (outside
    // test mode), and a node that runs none either waits for a restart or
    // is blocked by childfail.
    if !before.settings().norun && !matches!(ev, Event::Terminate(_)) {
        assert!(!after.active || after.lvsd_running, "{}", ctx());
        if !after.lvsd_running
            && !matches!(ev, Event::Start { .. })
            && (before.lvsd_running || before.restart_lvsd.is_some())
        {
            assert!(after.restart_lvsd.is_some() || after.childfail, "{}", ctx());
        }
    }
    if let Event::Terminate(_) = ev {
        assert!(
            !after.lvsd_running && after.restart_lvsd.is_none(),
            "{}",
            ctx()
        );
        assert_eq!(a.last(), Some(&Action::Exit(0)), "{}", ctx());
    }
    // The VIPs move only with the role.
    if a.contains(&Action::VipsUp) && !before.active {
        assert!(after.active, "{}", ctx());
    }
    if a.contains(&Action::VipsDown) {
        assert!(before.active && !after.active, "{}", ctx());
    }
    // The deadline never lies in the past of a pending restart.
    if let Some(r) = after.restart_lvsd {
        assert!(after.deadline() <= r, "{}", ctx());
    }
    assert_eq!(after.beat() == Beat::Running, after.active, "{}", ctx());
}
