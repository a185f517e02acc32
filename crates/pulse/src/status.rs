//! What `pulse --status` reports, as a pure record: the loop feeds
//! [`Tracker::observe`] every event with the machine before and after the
//! step and the actions it returned; [`Tracker::snapshot`] turns the record
//! and the facts the shell gathers at query time into the status document
//! (`piranha_status::pulse::Status`, docs/status.md). [`text`] renders it
//! for people.

use std::collections::VecDeque;
use std::time::Duration;

use piranha_status::pulse::{self as doc, HISTORY};

use crate::auth::Reject;
use crate::heartbeat::{Beat, Mode, Verdict};
use crate::machine::{Action, Event, Machine, Settings};

/// pulse's role as the status shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// From start-up until the partner is first heard, the first dead
    /// timer runs out, or the router becomes active.
    Starting,
    /// Not active.
    Standby,
    /// Owns the VIPs and runs lvsd (fos --active).
    Active,
}

impl Role {
    /// `starting`, `standby` or `active`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Starting => "starting",
            Role::Standby => "standby",
            Role::Active => "active",
        }
    }
}

/// One role change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// When (monotonic).
    pub at: Duration,
    /// Before.
    pub from: Role,
    /// After.
    pub to: Role,
    /// Why.
    pub reason: &'static str,
}

/// The machine's state before a step, as far as the tracker needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Before {
    /// It was active.
    pub active: bool,
    /// Its dead timer.
    pub next_need: Duration,
}

impl Before {
    /// Of `m`.
    pub fn of(m: &Machine) -> Before {
        Before {
            active: m.active,
            next_need: m.next_need,
        }
    }
}

/// The record behind `pulse --status`.
#[derive(Debug, Clone)]
pub struct Tracker {
    settings: Settings,
    role: Role,
    since: Duration,
    heard: Option<Duration>,
    last_magic: Option<u32>,
    last_beat: Option<Beat>,
    links: Option<(bool, bool)>,
    counters: doc::Counters,
    history: VecDeque<Change>,
    last_rejected: Option<&'static str>,
}

impl Tracker {
    /// A fresh record for a machine with `settings`, started at `now`.
    pub fn new(settings: Settings, now: Duration) -> Tracker {
        Tracker {
            settings,
            role: Role::Starting,
            since: now,
            heard: None,
            last_magic: None,
            last_beat: None,
            links: None,
            counters: doc::Counters::default(),
            history: VecDeque::new(),
            last_rejected: None,
        }
    }

    /// The current role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The role changes kept, oldest first.
    pub fn history(&self) -> impl Iterator<Item = &Change> {
        self.history.iter()
    }

    /// The counters.
    pub fn counters(&self) -> &doc::Counters {
        &self.counters
    }

    /// Records one step: `event` at `now` turned the machine from `before`
    /// into `after` with `actions`.
    pub fn observe(
        &mut self,
        event: &Event,
        before: Before,
        after: &Machine,
        actions: &[Action],
        now: Duration,
    ) {
        self.counters.heartbeats_sent += actions
            .iter()
            .filter(|a| matches!(a, Action::Send(_)))
            .count() as u64;
        let mut accepted = None;
        match event {
            Event::Datagram { data, .. } => {
                // The machine judged it (with a key, against its replay
                // window, which the step has moved on since).
                let r = &mut self.counters.heartbeats_rejected;
                let mut rejected = |reason: &'static str| self.last_rejected = Some(reason);
                match after.verdict.clone() {
                    Some(Verdict::Accept(beat) | Verdict::Unsigned(beat)) => {
                        self.counters.heartbeats_received += 1;
                        if matches!(after.verdict, Some(Verdict::Unsigned(_))) {
                            self.counters.heartbeats_unsigned += 1;
                        }
                        self.heard = Some(now);
                        self.last_magic = data
                            .get(..4)
                            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                        self.last_beat = Some(beat);
                        accepted = Some(beat);
                    }
                    Some(Verdict::Unexpected(_)) => r.unexpected_source += 1,
                    Some(Verdict::Short) => {
                        r.short += 1;
                        rejected("short");
                    }
                    Some(Verdict::Incompatible) => {
                        r.incompatible += 1;
                        rejected("incompatible");
                    }
                    Some(Verdict::Rejected(why)) => {
                        *match why {
                            Reject::Unsigned => &mut r.unsigned,
                            Reject::Malformed => &mut r.malformed,
                            Reject::BadMac => &mut r.bad_mac,
                            Reject::WrongIdentity(_) => &mut r.wrong_identity,
                            Reject::Replayed { .. } => &mut r.replayed,
                        } += 1;
                        rejected(why.name());
                    }
                    None => {}
                }
            }
            Event::Links {
                primary_up,
                private_up,
            } => self.links = Some((*primary_up, *private_up)),
            _ => {}
        }
        let dead_timer_ran = matches!(event, Event::Timer) && after.next_need != before.next_need;
        let to = if after.active {
            Role::Active
        } else if self.role == Role::Starting && accepted.is_none() && !dead_timer_ran {
            Role::Starting
        } else {
            Role::Standby
        };
        if to == self.role {
            return;
        }
        if to == Role::Active {
            self.counters.failovers += 1;
        }
        let reason = reason(event, accepted, to, self.settings.mode);
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(Change {
            at: now,
            from: self.role,
            to,
            reason,
        });
        self.role = to;
        self.since = now;
    }

    /// The status document at `now` (monotonic) = `wall` (seconds since
    /// the epoch), completed with what the shell gathered.
    pub fn snapshot(&self, facts: Facts, now: Duration, wall: f64) -> doc::Status {
        let at = |t: Duration| wall - now.saturating_sub(t).as_secs_f64();
        let s = &self.settings;
        let age = self.heard.map(|t| now.saturating_sub(t));
        let links = match (&facts.links, self.links) {
            (links, Some((primary, private))) => links
                .iter()
                .map(|l| doc::Link {
                    up: if l.name == "private" {
                        private
                    } else {
                        primary
                    },
                    ..l.clone()
                })
                .collect(),
            (links, None) => links.clone(),
        };
        doc::Status {
            version: piranha_status::VERSION,
            time: wall,
            pid: facts.pid,
            node: if s.master { "primary" } else { "backup" }.into(),
            service: mode_name(s.mode).into(),
            role: self.role.name().into(),
            role_since: at(self.since),
            partner: doc::Partner {
                public: s.partner.public.to_string(),
                private: s.partner.private.map(|p| p.to_string()),
                alive: age.is_some_and(|a| a < s.deadtime),
                last_heartbeat: self.heard.map(at),
                last_heartbeat_age_seconds: age.map(|a| a.as_secs_f64()),
                last_magic: self.last_magic.map(|m| format!("{m:#010x}")),
                last_state: self.last_beat.map(|b| beat_name(b).into()),
                last_rejected: self.last_rejected.map(String::from),
            },
            links,
            vips: facts.vips,
            daemon: doc::Daemon {
                name: match s.mode {
                    Mode::Lvs => "lvsd",
                    Mode::Fos => "fos",
                }
                .into(),
                pid: facts.daemon_pid,
                warm_standby: s.warm(),
            },
            heartbeat_auth: s.auth.as_ref().map_or("off", |a| a.mode.name()).into(),
            config: facts.config,
            counters: self.counters.clone(),
            history: self
                .history
                .iter()
                .map(|c| doc::RoleChange {
                    time: at(c.at),
                    from: c.from.name().into(),
                    to: c.to.name().into(),
                    reason: c.reason.into(),
                })
                .collect(),
            scale_out: None,
        }
    }
}

/// What the shell knows and the machine does not.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// pulse's pid.
    pub pid: u32,
    /// The running lvsd's (fos's) pid.
    pub daemon_pid: Option<u32>,
    /// The monitored links with their devices (`up` is filled from the
    /// last link check the machine saw).
    pub links: Vec<doc::Link>,
    /// The VIPs and whether this router holds them now.
    pub vips: Vec<doc::Vip>,
    /// The configuration file.
    pub config: doc::Config,
}

/// Why the role changed from what `event` did.
fn reason(event: &Event, beat: Option<Beat>, to: Role, mode: Mode) -> &'static str {
    match event {
        Event::Start { forced: true } => "forced active",
        // fos: a primary without a backup activates at once (nothing else
        // changes the role at start-up).
        Event::Start { forced: false } => "no backup",
        Event::Timer => "partner dead",
        Event::Datagram { .. } => match beat {
            Some(Beat::Stopped) => "partner inactive",
            Some(Beat::Running) => "partner is active",
            Some(Beat::StopMe) => "partner took over",
            Some(Beat::Hold) | None => "partner heard",
        },
        Event::Links { .. } => {
            if to == Role::Active {
                "links restored"
            } else {
                "link down"
            }
        }
        Event::ChildExited { .. } => match (mode, to) {
            (Mode::Lvs, _) => "lvsd exited",
            (Mode::Fos, Role::Active) => "fos restarted",
            (Mode::Fos, _) => "fos exited",
        },
        Event::Gateway { reachable: true } => "partner's service failed",
        Event::Gateway { reachable: false } => "gateway unreachable",
        Event::Terminate(_) => "terminating",
        Event::Hangup => "reload",
        Event::LvsdReady => "lvsd ready",
        Event::UserSignal(_) => "signal",
    }
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Lvs => "lvs",
        Mode::Fos => "fos",
    }
}

fn beat_name(b: Beat) -> &'static str {
    match b {
        Beat::Running => "running",
        Beat::Stopped => "stopped",
        Beat::StopMe => "stop-me",
        Beat::Hold => "hold",
    }
}

/// The text form of a status document, for people.
pub fn text(s: &doc::Status) -> String {
    use lvs_util::timefmt::{age, when};
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<12}{v}\n"));
    line(
        "pulse",
        format!("pid {}, {} router, service {}", s.pid, s.node, s.service),
    );
    line(
        "role",
        format!("{} since {}", s.role, when(s.time, Some(s.role_since))),
    );
    let p = &s.partner;
    let mut partner = p.public.clone();
    if let Some(q) = &p.private {
        partner.push_str(&format!(" (private {q})"));
    }
    match (p.last_heartbeat_age_seconds, &p.last_magic, &p.last_state) {
        (Some(a), magic, state) => partner.push_str(&format!(
            ": {}, last heartbeat {} ({}, {})",
            if p.alive { "alive" } else { "dead" },
            age(a),
            magic.as_deref().unwrap_or("-"),
            state.as_deref().unwrap_or("-"),
        )),
        (None, _, _) => partner.push_str(": never heard"),
    }
    line("partner", partner);
    if !s.links.is_empty() {
        let links: Vec<String> = s
            .links
            .iter()
            .map(|l| {
                format!(
                    "{} {} on {} {}",
                    l.name,
                    l.address,
                    l.device.as_deref().unwrap_or("?"),
                    if l.up { "up" } else { "DOWN" }
                )
            })
            .collect();
        line("links", links.join("; "));
    }
    let vips: Vec<String> = s
        .vips
        .iter()
        .map(|v| {
            format!(
                "{} on {} {}",
                v.address,
                v.device,
                if v.held { "held" } else { "not held" }
            )
        })
        .collect();
    line(
        "VIPs",
        if vips.is_empty() {
            "-".into()
        } else {
            vips.join("; ")
        },
    );
    let warm = if s.daemon.warm_standby {
        " (warm standby: lvsd runs on both routers)"
    } else {
        ""
    };
    line(
        &s.daemon.name,
        s.daemon
            .pid
            .map_or(format!("not running{warm}"), |p| format!("pid {p}{warm}")),
    );
    let c = &s.config;
    let serial = |n: Option<i64>| n.map_or("?".into(), |n| n.to_string());
    let short = |h: &str| h.chars().take(12).collect::<String>();
    let mut config = format!(
        "{} serial_no {}, sha256 {}",
        c.file,
        serial(c.serial_no),
        c.sha256.as_deref().map_or("(unreadable)".into(), short)
    );
    if c.sha256.as_deref() != Some(c.loaded_sha256.as_str()) {
        config.push_str(&format!(
            " (changed since start-up: was serial_no {}, sha256 {})",
            serial(c.loaded_serial_no),
            short(&c.loaded_sha256)
        ));
    }
    line("config", config);
    let n = &s.counters;
    let r = &n.heartbeats_rejected;
    let keyed = s.heartbeat_auth != "off" && !s.heartbeat_auth.is_empty();
    let reasons: Vec<String> = r
        .by_reason()
        .iter()
        .take(if keyed { 8 } else { 3 })
        .map(|(name, v)| format!("{} {v}", name.replace('_', " ")))
        .collect();
    let mut beats = format!(
        "sent {}, received {}",
        n.heartbeats_sent, n.heartbeats_received
    );
    if n.heartbeats_unsigned > 0 {
        beats.push_str(&format!(" ({} unsigned)", n.heartbeats_unsigned));
    }
    beats.push_str(&format!(", rejected {}", r.total()));
    if !reasons.is_empty() {
        beats.push_str(&format!(" ({})", reasons.join(", ")));
    }
    line("heartbeats", beats);
    if keyed {
        let mut auth = format!("{} (signed heartbeats)", s.heartbeat_auth);
        if let Some(why) = &s.partner.last_rejected {
            auth.push_str(&format!("; last rejection: {}", why.replace('_', " ")));
        }
        line("auth", auth);
    } else if !s.heartbeat_auth.is_empty() {
        line("auth", "off: heartbeats are not authenticated".into());
    }
    line("failovers", n.failovers.to_string());
    out.push_str("role changes (oldest first):\n");
    if s.history.is_empty() {
        out.push_str("  none\n");
    }
    for h in &s.history {
        out.push_str(&format!(
            "  {} UTC  {} -> {}: {}\n",
            lvs_util::timefmt::utc(h.time),
            h.from,
            h.to,
            h.reason
        ));
    }
    out
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
