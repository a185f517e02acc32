//! Helpers shared by the state-machine tests of both modes.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::{Action, Event, Machine, Mode, Settings};
use crate::heartbeat::Partner;

/// The partner's public address.
pub const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

/// `n` milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Settings with keepalive 1 s and deadtime 3 s, a backup, no test mode.
pub fn settings(mode: Mode, master: bool, private: Option<Ipv4Addr>) -> Settings {
    Settings {
        mode,
        master,
        keepalive: ms(1000),
        deadtime: ms(3000),
        backup_active: true,
        norun: false,
        norun_side_effects: false,
        partner: Partner {
            public: PEER.into(),
            private: private.map(Into::into),
            port: 539,
        },
        warm_standby: false,
        ready_wait: Duration::ZERO,
        auth: None,
    }
}

/// A heartbeat datagram with `magic` from `ip`'s heartbeat port.
pub fn beat_from(ip: Ipv4Addr, magic: u32) -> Event {
    Event::Datagram {
        from: SocketAddr::from((ip, 539)),
        data: magic.to_le_bytes().to_vec(),
    }
}

/// The info-level log lines among `actions`.
pub fn logs(actions: &[Action]) -> Vec<&str> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Log(s) => Some(s.as_str()),
            _ => None,
        })
        .collect()
}

/// The actions that are not logging.
pub fn effects(actions: &[Action]) -> Vec<Action> {
    actions
        .iter()
        .filter(|a| !matches!(a, Action::Log(_) | Action::Debug(_)))
        .cloned()
        .collect()
}

/// Checks one step: the machine before, the event, the time, the actions
/// and the machine after.
pub type Check = fn(&Machine, &Event, Duration, &[Action], &Machine);

/// Steps a copy of `m` with `ev` at each of `times_ms` and checks every
/// step; the number of steps.
pub fn check_steps(m: &Machine, ev: &Event, times_ms: &[u64], check: Check) -> usize {
    for &t in times_ms {
        let mut after = m.clone();
        let now = ms(t);
        let a = after.step(ev.clone(), now);
        check(m, ev, now, &a, &after);
    }
    times_ms.len()
}

/// The settings of an exhaustive test's case `bits`: bit 0 master, bit 1
/// test mode, bit 2 its side effects, bit 3 an active backup (`base`
/// gives the mode and partner).
pub fn flagged(base: fn(bool) -> Settings, bits: u32) -> Settings {
    let flag = |i: u32| bits & (1 << i) != 0;
    let mut s = base(flag(0));
    s.norun = flag(1);
    s.norun_side_effects = flag(2);
    s.backup_active = flag(3);
    s
}
