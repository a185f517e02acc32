//! Scale-out mode's pure core (docs/scale-out.md): which VIPs this director
//! announces, and when lvsd runs. A VIP goes on `announce_device` while
//! lvsd says it can serve it (`serving VIP`) and comes off when lvsd says
//! `idle VIP`, when lvsd dies and when pulse stops; a withdrawn VIP is not
//! announced again before `announce_hold` has passed (damping). lvsd is
//! started at once and restarted at most once a second after it ends.
//!
//! `(state, event, now) → actions`; no I/O, no clock.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

/// Least time between two lvsd starts.
pub const LVSD_RESPAWN: Duration = Duration::from_secs(1);

/// What happens to the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// pulse has started.
    Start,
    /// lvsd says a virtual server on this VIP has a real server with a
    /// weight above 0.
    Serving(IpAddr),
    /// lvsd says no virtual server on this VIP has one any more.
    Idle(IpAddr),
    /// lvsd ended (or could not be started).
    LvsdExited,
    /// The deadline of [`Machine::deadline`] has come.
    Timer,
    /// SIGTERM or SIGINT.
    Stop,
    /// lvs.cf was re-read (SIGHUP): these are the VIPs of its active
    /// virtual servers now.
    Configured(Vec<IpAddr>),
}

/// What the shell does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start lvsd as the active lvsd.
    StartLvsd,
    /// Stop lvsd (SIGTERM, wait).
    StopLvsd,
    /// Add the VIP to `announce_device`.
    Announce(IpAddr),
    /// Remove the VIP from `announce_device`.
    Withdraw(IpAddr),
    /// A log line.
    Log(String),
    /// Exit with this status.
    Exit(u8),
}

/// Why a VIP is withdrawn (for the log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    NoRealServer,
    LvsdDied,
    Stopping,
    Unconfigured,
}

impl Why {
    fn text(self) -> &'static str {
        match self {
            Why::NoRealServer => "no real server",
            Why::LvsdDied => "lvsd died",
            Why::Stopping => "pulse stopping",
            Why::Unconfigured => "no longer in lvs.cf",
        }
    }
}

/// One VIP's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Vip {
    /// lvsd's latest word: it can serve this VIP.
    pub serving: bool,
    /// The VIP is on `announce_device`.
    pub announced: bool,
    /// When it was last withdrawn.
    pub withdrawn_at: Option<Duration>,
}

/// The scale-out machine.
#[derive(Debug, Clone)]
pub struct Machine {
    hold: Duration,
    vips: BTreeMap<IpAddr, Vip>,
    lvsd_running: bool,
    lvsd_started: Option<Duration>,
    /// An lvsd start is due (lvsd ended; restarts are spaced).
    restart_due: bool,
    stopping: bool,
}

impl Machine {
    /// A machine for the VIPs of lvs.cf's active virtual servers, with
    /// damping `hold` (`announce_hold`).
    pub fn new(hold: Duration, vips: impl IntoIterator<Item = IpAddr>) -> Machine {
        Machine {
            hold,
            vips: vips.into_iter().map(|ip| (ip, Vip::default())).collect(),
            lvsd_running: false,
            lvsd_started: None,
            restart_due: false,
            stopping: false,
        }
    }

    /// Every configured VIP and its state, in address order.
    pub fn vips(&self) -> impl Iterator<Item = (IpAddr, Vip)> + '_ {
        self.vips.iter().map(|(ip, v)| (*ip, *v))
    }

    /// The VIPs on `announce_device`.
    pub fn announced(&self) -> Vec<IpAddr> {
        self.vips()
            .filter(|(_, v)| v.announced)
            .map(|(ip, _)| ip)
            .collect()
    }

    /// Whether lvsd runs (as far as the machine knows).
    pub fn lvsd_running(&self) -> bool {
        self.lvsd_running
    }

    /// When the machine next wants a [`Event::Timer`]: a serving VIP whose
    /// hold ends, or an lvsd restart. `None`: nothing to wait for.
    pub fn deadline(&self) -> Option<Duration> {
        if self.stopping {
            return None;
        }
        let holds = self
            .vips
            .values()
            .filter(|v| v.serving && !v.announced)
            .filter_map(|v| v.withdrawn_at.map(|t| t + self.hold));
        let restart = self.restart_due.then(|| {
            self.lvsd_started
                .map_or(Duration::ZERO, |t| t + LVSD_RESPAWN)
        });
        holds.chain(restart).min()
    }

    /// Feeds one event at `now`; returns what to do, in order.
    pub fn step(&mut self, ev: Event, now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        if self.stopping {
            return out;
        }
        match ev {
            Event::Start => self.start_lvsd(now, &mut out),
            Event::Serving(ip) => match self.vips.get_mut(&ip) {
                Some(v) => {
                    let was = v.serving;
                    v.serving = true;
                    self.due(now, &mut out);
                    let v = self.vips[&ip];
                    if !was && !v.announced {
                        let left = v
                            .withdrawn_at
                            .map_or(Duration::ZERO, |t| (t + self.hold).saturating_sub(now));
                        out.push(Action::Log(format!(
                            "scale-out: {ip} can be served again: announcing it in {} s (announce_hold)",
                            crate::config::secs(left)
                        )));
                    }
                }
                None => out.push(Action::Log(format!(
                    "scale-out: lvsd serves {ip}, which is no active virtual server's VIP: not announced"
                ))),
            },
            Event::Idle(ip) => {
                if let Some(v) = self.vips.get_mut(&ip) {
                    v.serving = false;
                    if v.announced {
                        withdraw(ip, v, Why::NoRealServer, now, &mut out);
                    }
                }
            }
            Event::LvsdExited => {
                self.lvsd_running = false;
                out.push(Action::Log(
                    "scale-out: lvsd ended: withdrawing its VIPs, restarting it".into(),
                ));
                for (ip, v) in self.vips.iter_mut() {
                    v.serving = false;
                    if v.announced {
                        withdraw(*ip, v, Why::LvsdDied, now, &mut out);
                    }
                }
                self.restart_due = true;
                self.due(now, &mut out);
            }
            Event::Timer => self.due(now, &mut out),
            Event::Configured(vips) => {
                let gone: Vec<IpAddr> = self
                    .vips
                    .keys()
                    .filter(|ip| !vips.contains(ip))
                    .copied()
                    .collect();
                for ip in gone {
                    if let Some(mut v) = self.vips.remove(&ip)
                        && v.announced
                    {
                        withdraw(ip, &mut v, Why::Unconfigured, now, &mut out);
                    }
                }
                for ip in vips {
                    self.vips.entry(ip).or_default();
                }
            }
            Event::Stop => {
                self.stopping = true;
                for (ip, v) in self.vips.iter_mut() {
                    if v.announced {
                        withdraw(*ip, v, Why::Stopping, now, &mut out);
                    }
                }
                if self.lvsd_running {
                    self.lvsd_running = false;
                    out.push(Action::StopLvsd);
                }
                out.push(Action::Exit(0));
            }
        }
        out
    }

    /// Everything that is due at `now`: announcements whose hold has
    /// passed, an lvsd restart.
    fn due(&mut self, now: Duration, out: &mut Vec<Action>) {
        if self.restart_due && self.lvsd_started.is_none_or(|t| now >= t + LVSD_RESPAWN) {
            self.start_lvsd(now, out);
        }
        for (ip, v) in self.vips.iter_mut() {
            if !v.serving || v.announced {
                continue;
            }
            match v.withdrawn_at {
                Some(t) if now < t + self.hold => {}
                _ => {
                    v.announced = true;
                    out.push(Action::Log(format!("scale-out: announcing {ip}")));
                    out.push(Action::Announce(*ip));
                }
            }
        }
    }

    fn start_lvsd(&mut self, now: Duration, out: &mut Vec<Action>) {
        self.restart_due = false;
        self.lvsd_running = true;
        self.lvsd_started = Some(now);
        out.push(Action::StartLvsd);
    }
}

fn withdraw(ip: IpAddr, v: &mut Vip, why: Why, now: Duration, out: &mut Vec<Action>) {
    v.announced = false;
    v.withdrawn_at = Some(now);
    out.push(Action::Log(format!(
        "scale-out: withdrawing {ip} ({})",
        why.text()
    )));
    out.push(Action::Withdraw(ip));
}

#[cfg(test)]
#[path = "announce_tests.rs"]
mod tests;
