//! The machine with `--heartbeat-key`, with injected time: signed
//! heartbeats drive it as unsigned ones did, forged, replayed, reflected
//! and unsigned ones are ignored (and logged, rate-limited), in both modes
//! and both authentication modes.

use std::net::{Ipv4Addr, SocketAddr};

use super::test_support::{PEER, effects, logs, ms};
use super::*;
use crate::auth::{AuthMode, Key, Keys, Reject, Signer, Stamp};
use crate::heartbeat::{FOS_RUNNING, LVS_RUNNING, LVS_STOPPED, STOP_ME};

const ME: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PEER_PRIVATE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);

fn key(b: u8) -> Key {
    Key::new(vec![b; 32]).unwrap()
}

fn keyed(mode: Mode, master: bool, auth: AuthMode) -> Settings {
    let mut s = super::test_support::settings(mode, master, Some(PEER_PRIVATE));
    s.auth = Some(Auth {
        keys: Keys::new(vec![key(1)]).unwrap(),
        mode: auth,
    });
    s
}

fn from(ip: Ipv4Addr, data: Vec<u8>) -> Event {
    Event::Datagram {
        from: SocketAddr::from((ip, 539)),
        data,
    }
}

/// The partner: signs as `PEER` with key 1 in epoch 100.
fn partner() -> Signer {
    Signer::new(key(1), 100)
}

fn started(s: Settings) -> Machine {
    let mut m = Machine::new(s, ms(0));
    m.step(Event::Start { forced: false }, ms(0));
    m
}

#[test]
fn signed_heartbeats_work_as_unsigned_ones_did() {
    let mut m = started(keyed(Mode::Lvs, false, AuthMode::Required));
    let mut p = partner();
    let a = m.step(from(PEER, p.seal(LVS_STOPPED.to_le_bytes(), PEER)), ms(500));
    assert_eq!(logs(&a), ["primary inactive: activating lvs"]);
    assert!(m.active);
    let a = m.step(
        from(PEER, p.seal(LVS_RUNNING.to_le_bytes(), PEER)),
        ms(1500),
    );
    assert!(logs(&a).contains(&"partner active: deactivating LVS"));
    assert!(!m.active);
    assert_eq!(m.next_need, ms(4500));
    // The private channel is signed with the private address.
    let a = m.step(
        from(
            PEER_PRIVATE,
            p.seal(LVS_RUNNING.to_le_bytes(), PEER_PRIVATE),
        ),
        ms(2000),
    );
    assert!(logs(&a).is_empty(), "{a:?}");
    assert_eq!(m.next_need, ms(5000));
    assert_eq!(m.verdict, Some(Verdict::Accept(Beat::Running)));
}

/// The attack of issue 15: the primary is gone and a forger sends the
/// 4-byte "running" from its address every 0.5 s. Without a key the backup
/// never takes over; with one it does, on time, and logs why (once per
/// 10 s).
#[test]
fn forged_unsigned_running_no_longer_denies_failover() {
    let run = |s: Settings| {
        let mut m = started(s);
        let mut lines = Vec::new();
        for t in (500..=8000).step_by(500) {
            let a = m.step(from(PEER, LVS_RUNNING.to_le_bytes().to_vec()), ms(t));
            lines.extend(logs(&a).iter().map(|l| l.to_string()));
            while m.deadline() <= ms(t) {
                let a = m.step(Event::Timer, ms(t));
                lines.extend(logs(&a).iter().map(|l| l.to_string()));
            }
        }
        (m, lines)
    };
    let (m, _) = run(super::test_support::settings(Mode::Lvs, false, None));
    assert!(!m.active, "the hole: no key, no takeover");
    let (m, lines) = run(keyed(Mode::Lvs, false, AuthMode::Required));
    assert!(m.active);
    let rejected = "heartbeat from 192.0.2.2 rejected: unsigned (--heartbeat-auth=required)";
    assert_eq!(lines[0], rejected);
    assert_eq!(lines[1], "partner dead: activating lvs");
    // One line per 10 s: at 0.5 s, then at 10.5 s with a count.
    assert_eq!(lines.iter().filter(|l| l.starts_with(rejected)).count(), 1);
}

#[test]
fn replays_reflections_and_other_keys_are_ignored() {
    let mut m = started(keyed(Mode::Lvs, false, AuthMode::Required));
    let mut p = partner();
    let captured = p.seal(LVS_RUNNING.to_le_bytes(), PEER);
    m.step(from(PEER, captured.clone()), ms(500));
    assert_eq!(m.next_need, ms(3500));
    // The same datagram again, and an older one.
    let a = m.step(from(PEER, captured.clone()), ms(1000));
    assert_eq!(
        logs(&a),
        [
            "heartbeat from 192.0.2.2 rejected: replayed or old (epoch 100 sequence 1, \
          last accepted epoch 100 sequence 1)"
        ]
    );
    assert!(matches!(
        m.verdict,
        Some(Verdict::Rejected(Reject::Replayed { .. }))
    ));
    assert_eq!(m.next_need, ms(3500), "a replay does not keep it alive");
    // Our own heartbeat sent back to us with the partner's address.
    let mut me = Signer::new(key(1), 100);
    m.step(from(PEER, me.seal(LVS_RUNNING.to_le_bytes(), ME)), ms(1100));
    assert_eq!(
        m.verdict,
        Some(Verdict::Rejected(Reject::WrongIdentity(ME.into())))
    );
    // A public-channel datagram sent again from the private address.
    let public = p.seal(LVS_RUNNING.to_le_bytes(), PEER);
    m.step(from(PEER_PRIVATE, public), ms(1200));
    assert_eq!(
        m.verdict,
        Some(Verdict::Rejected(Reject::WrongIdentity(PEER.into())))
    );
    // Another key.
    let mut other = Signer::new(key(2), 100);
    let a = m.step(
        from(PEER, other.seal(LVS_STOPPED.to_le_bytes(), PEER)),
        ms(1300),
    );
    assert_eq!(
        logs(&a),
        ["heartbeat from 192.0.2.2 rejected: bad MAC (not signed with our key)"]
    );
    assert!(!m.active);
    // The partner dies; its captured heartbeats replayed do not stop the
    // takeover.
    for t in [2000, 3000] {
        m.step(from(PEER, captured.clone()), ms(t));
    }
    while m.deadline() <= ms(3500) {
        m.step(Event::Timer, ms(3500));
    }
    assert!(m.active);
    // A restarted partner (later epoch) is heard at once, from sequence 1.
    let mut again = Signer::new(key(1), 200);
    let a = m.step(
        from(PEER, again.seal(LVS_RUNNING.to_le_bytes(), PEER)),
        ms(4000),
    );
    assert!(logs(&a).contains(&"partner active: deactivating LVS"));
    assert_eq!(m.window.last(PEER), Some(Stamp { epoch: 200, seq: 1 }));
}

#[test]
fn rejection_lines_are_rate_limited_per_reason() {
    let mut m = started(keyed(Mode::Lvs, true, AuthMode::Required));
    let mut n = 0;
    for t in (0..25_000).step_by(100) {
        let a = m.step(from(PEER, LVS_RUNNING.to_le_bytes().to_vec()), ms(t));
        for l in logs(&a) {
            if l.starts_with("heartbeat from") {
                n += 1;
                match n {
                    1 => assert!(!l.contains("more"), "{l}"),
                    _ => assert!(l.ends_with("(99 more since the last report)"), "{l}"),
                }
            }
        }
    }
    assert_eq!(n, 3, "at 0, 10 and 20 s");
}

#[test]
fn permissive_accepts_unsigned_and_still_checks_signed() {
    let mut m = started(keyed(Mode::Lvs, false, AuthMode::Permissive));
    let a = m.step(from(PEER, LVS_STOPPED.to_le_bytes().to_vec()), ms(500));
    assert_eq!(
        logs(&a),
        [
            "accepting unsigned heartbeat from 192.0.2.2 (--heartbeat-auth=permissive)",
            "primary inactive: activating lvs"
        ]
    );
    assert_eq!(m.verdict, Some(Verdict::Unsigned(Beat::Stopped)));
    // Signed ones are checked as in required mode.
    let mut other = Signer::new(key(2), 1);
    m.step(
        from(PEER, other.seal(LVS_RUNNING.to_le_bytes(), PEER)),
        ms(600),
    );
    assert_eq!(m.verdict, Some(Verdict::Rejected(Reject::BadMac)));
    assert!(m.active);
    // A Piranha pulse, or ours without a key, reads the first 4 bytes of
    // a signed heartbeat: the datagram starts with the plain magic.
    let mut p = partner();
    let d = p.seal(LVS_RUNNING.to_le_bytes(), PEER);
    assert_eq!(d[..4], LVS_RUNNING.to_le_bytes());
    let mut plain = started(super::test_support::settings(Mode::Lvs, true, None));
    plain.step(from(PEER, d), ms(100));
    assert_eq!(plain.verdict, Some(Verdict::Accept(Beat::Running)));
}

#[test]
fn fos_mode_signs_its_magics_and_stop_me() {
    let mut m = Machine::new(keyed(Mode::Fos, true, AuthMode::Required), ms(0));
    let mut p = partner();
    m.step(Event::Start { forced: true }, ms(0));
    assert!(m.active);
    // A forged STOP-ME is ignored; a signed one is obeyed.
    let a = m.step(from(PEER, STOP_ME.to_le_bytes().to_vec()), ms(100));
    assert_eq!(
        logs(&a),
        ["heartbeat from 192.0.2.2 rejected: unsigned (--heartbeat-auth=required)"]
    );
    assert!(effects(&a).is_empty());
    assert!(m.active);
    let a = m.step(from(PEER, p.seal(STOP_ME.to_le_bytes(), PEER)), ms(200));
    assert!(logs(&a).contains(&"PARTNER HAS TOLD US TO GO INACTIVE!"));
    assert!(!m.active);
    let a = m.step(from(PEER, p.seal(FOS_RUNNING.to_le_bytes(), PEER)), ms(300));
    assert_eq!(m.verdict, Some(Verdict::Accept(Beat::Running)), "{a:?}");
    // Authenticated but of the other service type: still incompatible.
    m.step(from(PEER, p.seal(LVS_RUNNING.to_le_bytes(), PEER)), ms(400));
    assert_eq!(m.verdict, Some(Verdict::Incompatible));
}
