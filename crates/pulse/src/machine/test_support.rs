//! Helpers shared by the state-machine tests of both modes.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use super::{Action, Event, Mode, Settings};
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
            public: PEER,
            private,
            port: 539,
        },
    }
}

/// A heartbeat datagram with `magic` from `ip`'s heartbeat port.
pub fn beat_from(ip: Ipv4Addr, magic: u32) -> Event {
    Event::Datagram {
        from: SocketAddrV4::new(ip, 539),
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
