use std::net::{Ipv4Addr, SocketAddr};

use super::*;
use crate::heartbeat::{Mode, encode};
use crate::machine::test_support::{PEER, beat_from, ms, settings};

/// A machine and its tracker stepped together.
struct Pair {
    m: Machine,
    t: Tracker,
}

impl Pair {
    fn new(mode: Mode, master: bool) -> Pair {
        let s = settings(mode, master, None);
        Pair {
            m: Machine::new(s.clone(), ms(0)),
            t: Tracker::new(s, ms(0)),
        }
    }

    fn step(&mut self, ev: Event, at: u64) {
        let before = Before::of(&self.m);
        let actions = self.m.step(ev.clone(), ms(at));
        self.t.observe(&ev, before, &self.m, &actions, ms(at));
    }

    fn beat(&mut self, mode: Mode, b: Beat, at: u64) {
        let magic = u32::from_le_bytes(encode(mode, b));
        self.step(beat_from(PEER, magic), at);
    }

    fn changes(&self) -> Vec<(Role, Role, &'static str)> {
        self.t.history().map(|c| (c.from, c.to, c.reason)).collect()
    }
}

#[test]
fn backup_takes_over_when_the_partner_dies_and_yields_when_it_returns() {
    let mut p = Pair::new(Mode::Lvs, false);
    p.step(Event::Start { forced: false }, 0);
    assert_eq!(p.t.role(), Role::Starting);
    p.beat(Mode::Lvs, Beat::Running, 500);
    assert_eq!(p.t.role(), Role::Standby);
    // Heartbeats go out every keepalive.
    for t in [1000, 2000, 3000] {
        p.step(Event::Timer, t);
    }
    // Silence: dead after 3 s.
    p.step(Event::Timer, 3500);
    assert_eq!(p.t.role(), Role::Active);
    p.beat(Mode::Lvs, Beat::Running, 9000);
    assert_eq!(p.t.role(), Role::Standby);
    assert_eq!(
        p.changes(),
        vec![
            (Role::Starting, Role::Standby, "partner is active"),
            (Role::Standby, Role::Active, "partner dead"),
            (Role::Active, Role::Standby, "partner is active"),
        ]
    );
    let c = p.t.counters();
    assert_eq!(c.failovers, 1);
    assert_eq!(c.heartbeats_received, 2);
    assert!(c.heartbeats_sent >= 3, "{c:?}");
}

#[test]
fn first_dead_timer_ends_starting_and_forced_active_is_a_reason() {
    let mut p = Pair::new(Mode::Lvs, true);
    p.step(Event::Start { forced: false }, 0);
    p.step(Event::Timer, 1000);
    assert_eq!(
        p.t.role(),
        Role::Starting,
        "a send timer is not the dead timer"
    );
    // At 3 s the send timer (due at 2 s... then 3 s) runs before the dead timer.
    for t in [2000, 3000, 3000] {
        p.step(Event::Timer, t);
    }
    assert_eq!(p.t.role(), Role::Active);
    assert_eq!(
        p.changes(),
        vec![(Role::Starting, Role::Active, "partner dead")]
    );

    let mut f = Pair::new(Mode::Lvs, true);
    f.step(Event::Start { forced: true }, 0);
    assert_eq!(
        f.changes(),
        vec![(Role::Starting, Role::Active, "forced active")]
    );
}

#[test]
fn partner_inactive_link_down_lvsd_exit_and_termination() {
    let mut p = Pair::new(Mode::Lvs, true);
    p.step(Event::Start { forced: false }, 0);
    p.beat(Mode::Lvs, Beat::Stopped, 100);
    assert_eq!(p.t.role(), Role::Active);
    p.step(
        Event::Links {
            primary_up: false,
            private_up: true,
        },
        200,
    );
    assert_eq!(p.t.role(), Role::Standby);
    p.step(
        Event::Links {
            primary_up: true,
            private_up: true,
        },
        300,
    );
    p.beat(Mode::Lvs, Beat::Stopped, 400);
    assert_eq!(p.t.role(), Role::Active);
    p.step(
        Event::ChildExited {
            pid: 7,
            end: crate::machine::ChildEnd::Exited(1),
            daemon: true,
        },
        500,
    );
    assert_eq!(p.t.role(), Role::Standby);
    // childfail holds it standby until the partner runs; then inactive again.
    p.beat(Mode::Lvs, Beat::Running, 600);
    p.beat(Mode::Lvs, Beat::Stopped, 700);
    p.step(Event::Terminate(15), 800);
    assert_eq!(
        p.changes(),
        vec![
            (Role::Starting, Role::Active, "partner inactive"),
            (Role::Active, Role::Standby, "link down"),
            (Role::Standby, Role::Active, "partner inactive"),
            (Role::Active, Role::Standby, "lvsd exited"),
            (Role::Standby, Role::Active, "partner inactive"),
            (Role::Active, Role::Standby, "terminating"),
        ]
    );
    assert_eq!(p.t.counters().failovers, 3);
}

#[test]
fn rejected_datagrams_are_counted_by_reason() {
    let mut p = Pair::new(Mode::Lvs, true);
    p.step(Event::Start { forced: false }, 0);
    let from = SocketAddr::from((PEER, 539));
    p.step(
        Event::Datagram {
            from: SocketAddr::from((Ipv4Addr::new(198, 51, 100, 9), 539)),
            data: encode(Mode::Lvs, Beat::Running).to_vec(),
        },
        10,
    );
    p.step(
        Event::Datagram {
            from,
            data: vec![1, 2],
        },
        20,
    );
    p.step(
        Event::Datagram {
            from,
            data: encode(Mode::Fos, Beat::Running).to_vec(),
        },
        30,
    );
    let r = &p.t.counters().heartbeats_rejected;
    assert_eq!((r.unexpected_source, r.short, r.incompatible), (1, 1, 1));
    assert_eq!(p.t.counters().heartbeats_received, 0);
    assert_eq!(
        p.t.role(),
        Role::Starting,
        "rejected datagrams are not the partner"
    );
}

#[test]
fn fos_reasons() {
    let mut p = Pair::new(Mode::Fos, false);
    p.step(Event::Start { forced: false }, 0);
    p.beat(Mode::Fos, Beat::Running, 100);
    // The partner's service failed: fos --monitor exits, the gateway answers.
    p.step(
        Event::ChildExited {
            pid: 9,
            end: crate::machine::ChildEnd::Exited(0),
            daemon: true,
        },
        200,
    );
    assert_eq!(p.t.role(), Role::Standby);
    p.step(Event::Gateway { reachable: true }, 300);
    assert_eq!(p.t.role(), Role::Active);
    assert_eq!(
        p.changes(),
        vec![
            (Role::Starting, Role::Standby, "partner is active"),
            (Role::Standby, Role::Active, "partner's service failed"),
        ]
    );
}

#[test]
fn history_keeps_the_last_twenty() {
    let mut p = Pair::new(Mode::Lvs, true);
    p.step(Event::Start { forced: false }, 0);
    let mut t = 0;
    for _ in 0..30 {
        t += 10;
        p.beat(Mode::Lvs, Beat::Stopped, t);
        t += 10;
        p.step(
            Event::Links {
                primary_up: false,
                private_up: true,
            },
            t,
        );
        t += 10;
        p.step(
            Event::Links {
                primary_up: true,
                private_up: true,
            },
            t,
        );
    }
    assert_eq!(p.t.history().count(), HISTORY);
    assert_eq!(p.t.counters().failovers, 30);
    let last = p.t.history().last().unwrap();
    assert_eq!((last.to, last.reason), (Role::Standby, "link down"));
}

#[test]
fn snapshot_times_ages_and_text() {
    let mut p = Pair::new(Mode::Lvs, true);
    p.step(Event::Start { forced: false }, 0);
    p.beat(Mode::Lvs, Beat::Stopped, 1000);
    let facts = Facts {
        pid: 42,
        daemon_pid: Some(43),
        links: vec![doc::Link {
            name: "primary".into(),
            address: "192.0.2.1".into(),
            device: Some("eth0".into()),
            up: false,
        }],
        vips: vec![doc::Vip {
            address: "192.0.2.100".into(),
            device: "eth0:1".into(),
            netmask: None,
            held: true,
        }],
        config: doc::Config {
            file: "/etc/sysconfig/ha/lvs.cf".into(),
            serial_no: Some(4),
            sha256: Some("ab".repeat(32)),
            loaded_serial_no: Some(3),
            loaded_sha256: "cd".repeat(32),
        },
    };
    // 2.5 s after the heartbeat; wall clock 1_764_086_461.0.
    let s = p.t.snapshot(facts, ms(3500), 1_764_086_461.0);
    assert_eq!(s.version, 1);
    assert_eq!(s.role, "active");
    assert_eq!(s.node, "primary");
    assert!((s.role_since - 1_764_086_458.5).abs() < 1e-6);
    assert!(s.partner.alive);
    assert_eq!(s.partner.last_heartbeat_age_seconds, Some(2.5));
    assert_eq!(s.partner.last_state.as_deref(), Some("stopped"));
    let magic = u32::from_le_bytes(encode(Mode::Lvs, Beat::Stopped));
    assert_eq!(s.partner.last_magic, Some(format!("{magic:#010x}")));
    assert_eq!(s.daemon.name, "lvsd");
    assert_eq!(s.history.len(), 1);
    // The link state is the machine's last check: none yet, so as given.
    assert!(!s.links[0].up);
    let dead = p.t.snapshot(Facts::default(), ms(4100), 1_764_086_461.6);
    assert!(
        !dead.partner.alive,
        "more than deadtime since the last heartbeat"
    );
    let txt = text(&s);
    assert!(
        txt.contains("role        active since 2025-11-25 16:00:58 UTC (3 s ago)\n"),
        "{txt}"
    );
    assert!(
        txt.contains("partner     192.0.2.2: alive, last heartbeat 3 s ago"),
        "{txt}"
    );
    assert!(
        txt.contains("VIPs        192.0.2.100 on eth0:1 held\n"),
        "{txt}"
    );
    assert!(txt.contains("lvsd        pid 43\n"), "{txt}");
    assert!(
        txt.contains("changed since start-up: was serial_no 3"),
        "{txt}"
    );
    assert!(
        txt.contains("starting -> active: partner inactive\n"),
        "{txt}"
    );
    // JSON round trip through the shared document type.
    let j = serde_json::to_string(&s).unwrap();
    let back: doc::Status = serde_json::from_str(&j).unwrap();
    assert_eq!(back, s);
}

#[test]
fn authentication_rejections_are_counted_by_reason_and_shown() {
    use crate::auth::{Auth, AuthMode, Key, Keys, Signer};
    let key = |b: u8| Key::new(vec![b; 32]).unwrap();
    let mut s = settings(Mode::Lvs, true, None);
    s.auth = Some(Auth {
        keys: Keys::new(vec![key(1)]).unwrap(),
        mode: AuthMode::Required,
    });
    let mut p = Pair {
        m: Machine::new(s.clone(), ms(0)),
        t: Tracker::new(s, ms(0)),
    };
    p.step(Event::Start { forced: false }, 0);
    let from = SocketAddr::from((PEER, 539));
    let running = encode(Mode::Lvs, Beat::Running);
    let dg = |data: Vec<u8>| Event::Datagram { from, data };
    let mut good = Signer::new(key(1), 1);
    let captured = good.seal(running, PEER);
    p.step(dg(captured.clone()), 10);
    p.step(dg(captured), 20);
    p.step(dg(running.to_vec()), 30);
    p.step(dg(Signer::new(key(2), 1).seal(running, PEER)), 40);
    p.step(dg(good.seal(running, Ipv4Addr::new(192, 0, 2, 1))), 50);
    p.step(dg(vec![0xDA; 9]), 60);
    let c = p.t.counters();
    assert_eq!(c.heartbeats_received, 1);
    let r = &c.heartbeats_rejected;
    assert_eq!(
        (
            r.replayed,
            r.unsigned,
            r.bad_mac,
            r.wrong_identity,
            r.malformed
        ),
        (1, 1, 1, 1, 1)
    );
    assert_eq!(r.total(), 5);
    let doc = p.t.snapshot(Facts::default(), ms(100), 1000.0);
    assert_eq!(doc.heartbeat_auth, "required");
    assert_eq!(doc.partner.last_rejected.as_deref(), Some("malformed"));
    let t = text(&doc);
    assert!(
        t.contains(
            "heartbeats  sent 0, received 1, rejected 5 (unexpected source 0, short 0, \
             incompatible 0, unsigned 1, malformed 1, bad mac 1, wrong identity 1, replayed 1)\n"
        ),
        "{t}"
    );
    assert!(
        t.contains("auth        required (signed heartbeats); last rejection: malformed\n"),
        "{t}"
    );
}

#[test]
fn unsigned_heartbeats_accepted_in_permissive_mode_are_counted() {
    use crate::auth::{Auth, AuthMode, Key, Keys};
    let mut s = settings(Mode::Lvs, true, None);
    s.auth = Some(Auth {
        keys: Keys::new(vec![Key::new(vec![1; 16]).unwrap()]).unwrap(),
        mode: AuthMode::Permissive,
    });
    let mut p = Pair {
        m: Machine::new(s.clone(), ms(0)),
        t: Tracker::new(s, ms(0)),
    };
    p.step(Event::Start { forced: false }, 0);
    p.beat(Mode::Lvs, Beat::Stopped, 100);
    assert_eq!(p.t.role(), Role::Active);
    let c = p.t.counters();
    assert_eq!((c.heartbeats_received, c.heartbeats_unsigned), (1, 1));
    let doc = p.t.snapshot(Facts::default(), ms(200), 1000.0);
    assert_eq!(doc.heartbeat_auth, "permissive");
    assert!(text(&doc).contains("received 1 (1 unsigned), rejected 0"));
}

#[test]
fn without_a_key_the_status_says_heartbeats_are_not_authenticated() {
    let mut p = Pair::new(Mode::Lvs, true);
    p.step(Event::Start { forced: false }, 0);
    let doc = p.t.snapshot(Facts::default(), ms(200), 1000.0);
    assert_eq!(doc.heartbeat_auth, "off");
    assert!(text(&doc).contains("auth        off: heartbeats are not authenticated\n"));
}
