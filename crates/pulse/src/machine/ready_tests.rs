//! The VIPs wait for lvsd's table: on activation pulse brings up the VIPs
//! (and sends the ARPs) once lvsd says `ready`, at most
//! [`Settings::ready_wait`] (one check interval) later, cold or warm.

use super::test_support::{PEER, beat_from, effects, flagged, logs, ms};
use super::*;
use crate::heartbeat::{LVS_RUNNING, LVS_STOPPED};

const WAIT: Duration = Duration::from_secs(10);

fn settings(master: bool) -> Settings {
    let mut s = super::test_support::settings(Mode::Lvs, master, None);
    s.ready_wait = WAIT;
    s
}

fn warm(master: bool) -> Settings {
    let mut s = settings(master);
    s.warm_standby = true;
    s
}

fn beat(magic: u32) -> Event {
    beat_from(PEER, magic)
}

#[test]
fn a_cold_takeover_brings_up_the_vips_when_lvsd_is_ready() {
    let mut m = Machine::new(settings(true), ms(0));
    m.step(Event::Start { forced: false }, ms(0));
    let a = m.step(beat(LVS_STOPPED), ms(500));
    assert_eq!(
        effects(&a),
        [
            Action::RunHook(Hook::Active),
            Action::StartLvsd,
            Action::Sync(SyncRole::Master)
        ]
    );
    assert!(m.active && m.lvsd_running && !m.lvsd_ready);
    assert_eq!(m.vips_wait, Some(ms(10_500)));
    assert_eq!(m.beat(), Beat::Running, "active (and saying so) meanwhile");
    // the partner says running meanwhile: no ARPs yet, they come with the VIPs
    let a = m.step(beat(LVS_RUNNING), ms(700));
    assert!(!a.contains(&Action::VipsUp), "{a:?}");
    let a = m.step(Event::LvsdReady, ms(1200));
    assert_eq!(effects(&a), [Action::VipsUp]);
    assert_eq!(m.vips_wait, None);
    assert!(m.lvsd_ready);
    // a second ready changes nothing
    assert!(effects(&m.step(Event::LvsdReady, ms(1300))).is_empty());
}

#[test]
fn without_ready_the_vips_come_up_after_one_check_interval() {
    let mut m = Machine::new(settings(false), ms(0));
    m.step(Event::Start { forced: false }, ms(0));
    m.next_send = ms(100_000);
    let a = m.step(Event::Timer, ms(3000));
    assert_eq!(logs(&a), ["partner dead: activating lvs"]);
    assert!(!a.contains(&Action::VipsUp));
    m.next_need = ms(100_000);
    assert_eq!(m.deadline(), ms(13_000));
    assert!(effects(&m.step(Event::Timer, ms(12_999))).is_empty());
    let a = m.step(Event::Timer, ms(13_000));
    assert_eq!(
        logs(&a),
        ["lvsd's table not ready after 10.0 s: bringing up the VIPs anyway"]
    );
    assert_eq!(effects(&a), [Action::VipsUp]);
    // a late ready changes nothing
    assert!(effects(&m.step(Event::LvsdReady, ms(14_000))).is_empty());
}

#[test]
fn a_ready_from_an_lvsd_that_is_gone_is_ignored() {
    let mut m = Machine::new(settings(true), ms(0));
    m.step(Event::Start { forced: true }, ms(0));
    assert!(m.vips_wait.is_some());
    m.step(
        Event::ChildExited {
            pid: 5,
            end: ChildEnd::Exited(1),
            daemon: true,
        },
        ms(100),
    );
    assert!(!m.active && m.vips_wait.is_none());
    assert!(effects(&m.step(Event::LvsdReady, ms(200))).is_empty());
    assert!(!m.lvsd_ready);
}

#[test]
fn giving_up_while_waiting_drops_the_wait() {
    let mut m = Machine::new(settings(false), ms(0));
    m.step(Event::Start { forced: false }, ms(0));
    m.step(beat(LVS_STOPPED), ms(100));
    assert!(m.active && m.vips_wait.is_some());
    let a = m.step(beat(LVS_RUNNING), ms(200));
    assert!(a.contains(&Action::StopLvsd) && a.contains(&Action::VipsDown));
    assert!(!m.active && m.vips_wait.is_none());
    assert!(
        effects(&m.step(Event::Timer, ms(10_100)))
            .iter()
            .all(|x| *x != Action::VipsUp)
    );
}

#[test]
fn a_warm_standby_that_is_ready_takes_over_at_once() {
    let mut m = Machine::new(warm(false), ms(0));
    m.step(Event::Start { forced: false }, ms(0));
    m.step(Event::LvsdReady, ms(800));
    let a = m.step(beat(LVS_STOPPED), ms(2000));
    assert_eq!(
        effects(&a),
        [
            Action::RunHook(Hook::Active),
            Action::TellLvsd(LvsdRole::Active),
            Action::Sync(SyncRole::Master),
            Action::VipsUp
        ]
    );
    assert!(m.vips_wait.is_none());
}

#[test]
fn a_warm_standby_not_ready_yet_waits_for_its_table() {
    let mut m = Machine::new(warm(false), ms(0));
    m.step(Event::Start { forced: false }, ms(0));
    let a = m.step(beat(LVS_STOPPED), ms(200));
    assert!(a.contains(&Action::TellLvsd(LvsdRole::Active)), "{a:?}");
    assert!(!a.contains(&Action::VipsUp), "{a:?}");
    assert_eq!(
        effects(&m.step(Event::LvsdReady, ms(900))),
        [Action::VipsUp]
    );
}

#[test]
fn without_a_wait_the_vips_come_up_at_once() {
    let mut s = settings(true);
    s.ready_wait = Duration::ZERO;
    let mut m = Machine::new(s, ms(0));
    let a = m.step(Event::Start { forced: true }, ms(0));
    assert_eq!(effects(&a).last(), Some(&Action::VipsUp));
}

/// Every combination of flags and state × every event: the VIPs come up
/// only on an active router and at most once a step, a wait exists only
/// while active, and it never lies beyond one check interval.
#[test]
fn waiting_invariants_hold_for_every_state_and_event() {
    let events = [
        Event::Timer,
        beat(LVS_RUNNING),
        beat(LVS_STOPPED),
        Event::LvsdReady,
        Event::Links {
            primary_up: false,
            private_up: true,
        },
        Event::ChildExited {
            pid: 5,
            end: ChildEnd::Exited(1),
            daemon: true,
        },
        Event::Terminate(15),
        Event::Hangup,
        Event::Start { forced: true },
        Event::Start { forced: false },
    ];
    let mut checked = 0;
    for bits in 0..(1u32 << 9) {
        let flag = |i: u32| bits & (1 << i) != 0;
        let mut s = flagged(settings, bits);
        s.warm_standby = flag(4);
        let (active, lvsd, ready, waiting) = (flag(5), flag(6), flag(7), flag(8));
        if (lvsd && s.norun) || (active && !lvsd && !s.norun) || (ready && !lvsd) {
            continue;
        }
        if waiting && (!active || ready || s.norun) {
            continue;
        }
        if !s.warm_standby && lvsd && !active {
            continue;
        }
        for ev in &events {
            if matches!(ev, Event::Start { .. }) && (active || lvsd) {
                continue;
            }
            for t in [0, 999, 3000, 9000, 20_000] {
                let mut m = Machine::new(s.clone(), ms(0));
                m.active = active;
                m.lvsd_running = lvsd;
                m.lvsd_ready = ready;
                m.vips_wait = waiting.then(|| ms(9000));
                let before = m.clone();
                let now = ms(t);
                let a = m.step(ev.clone(), now);
                let ctx = || format!("{before:?} {ev:?} at {now:?} -> {a:?}");
                let ups = a.iter().filter(|x| **x == Action::VipsUp).count();
                assert!(ups <= 1, "{}", ctx());
                if ups == 1 {
                    assert!(m.active, "{}", ctx());
                    assert!(m.vips_wait.is_none(), "{}", ctx());
                }
                if let Some(w) = m.vips_wait {
                    assert!(m.active && !m.lvsd_ready, "{}", ctx());
                    assert!(w <= now.max(ms(9000)) + WAIT, "{}", ctx());
                    assert!(m.deadline() <= w, "{}", ctx());
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 2000, "{checked}");
}
