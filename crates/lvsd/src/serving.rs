//! Which VIPs this lvsd can serve, as pulse hears it in scale-out mode
//! (docs/scale-out.md): a VIP is served while a started virtual server on
//! it has a real server with a weight above 0 in the installed table (the
//! sorry server does not count) and, before it is first served, every real
//! server has settled (a verdict, a down one confirmed by a second failed
//! check; at most twice the first-verdict window). lvsd says `serving VIP`
//! and `idle VIP` on pulse's socket when that changes, nothing otherwise.
//! Pure.

use crate::engine::Engine;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// The VIPs the table serves, given what was `said` before
/// ([`Engine::serving_vips`]).
pub fn vips(engine: &Engine, now: std::time::Duration, said: &Said) -> BTreeSet<IpAddr> {
    engine.serving_vips(now, &said.0)
}

/// What lvsd has told pulse so far.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Said(BTreeSet<IpAddr>);

impl Said {
    /// The lines that bring pulse from what it was told to `now_serving`
    /// (`idle VIP` first, then `serving VIP`, each in address order), and
    /// remembers them as said.
    pub fn update(&mut self, now_serving: BTreeSet<IpAddr>) -> Vec<String> {
        let mut out: Vec<String> = self
            .0
            .difference(&now_serving)
            .map(|ip| format!("idle {ip}"))
            .collect();
        out.extend(
            now_serving
                .difference(&self.0)
                .map(|ip| format!("serving {ip}")),
        );
        self.0 = now_serving;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ips: &[&str]) -> BTreeSet<IpAddr> {
        ips.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn lines_only_on_change() {
        let mut said = Said::default();
        assert!(said.update(set(&[])).is_empty());
        assert_eq!(
            said.update(set(&["10.0.0.2", "10.0.0.1"])),
            ["serving 10.0.0.1", "serving 10.0.0.2"]
        );
        assert!(said.update(set(&["10.0.0.1", "10.0.0.2"])).is_empty());
        assert_eq!(
            said.update(set(&["10.0.0.2", "2001:db8::1"])),
            ["idle 10.0.0.1", "serving 2001:db8::1"]
        );
        assert_eq!(said.update(set(&[])), ["idle 10.0.0.2", "idle 2001:db8::1"]);
    }
}
