//! The pure monitor: (state, input, now) → (state, actions).
//!
//! It holds the counters and flags of nanny.md §3 (`active`, `present`,
//! `count`, `lastWeight`), the re-entry threshold, quiesce, slow start and
//! load feedback (§5–§7), the manual control signals (§8) and termination
//! (§9). It performs no I/O: the shell runs checks and load probes when asked
//! ([`Action::RunCheck`], [`Action::ProbeLoad`]), applies IPVS operations,
//! writes the log lines and feeds the results back.
//!
//! Deliberate fixes (gaps.md): a forced add sets `lastWeight` to the weight
//! installed and uses an edit when the destination is still present (E10,
//! §8); a forced delete clears `present` (§8).

use std::time::Duration;

use crate::config::Mode;
use crate::load::{load_feedback, slow_start};
use crate::report::Resume;

/// Fixed parameters of one monitor.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub mode: Mode,
    /// Consecutive successes needed for (re-)entry.
    pub threshold: u32,
    /// Seconds between checks (> 0).
    pub interval: u32,
    /// Configured weight.
    pub weight: i32,
    /// Upper bound factor for load feedback.
    pub scale: i32,
    pub quiesce: bool,
    /// A load probe is configured (`-U` other than `none`).
    pub load_monitor: bool,
    /// ipvsadm path, for `PATH command failed!`.
    pub ipvsadm: String,
    /// `RIP:RPORT` (fos: `HOST:PORT`).
    pub dest: String,
    /// `RIP:VPORT`, printed by the load-feedback message.
    pub dest_vport: String,
}

/// Inputs fed by the shell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Input {
    /// Timer: the next check may be due.
    Due,
    /// Result of the check started by [`Action::RunCheck`].
    Checked(bool),
    /// Result of the probe started by [`Action::ProbeLoad`] (`None`: no data).
    Load(Option<f64>),
    /// A manual control signal (only delivered while waiting or frozen).
    Control(Control),
    /// SIGTERM/SIGINT with its number.
    Terminate(i32),
    /// The last [`Action::Ipvs`] failed; the remaining actions were dropped.
    IpvsFailed,
}

/// Manual control signals (nanny.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// SIGUSR2: force up and freeze.
    Up,
    /// SIGUSR1: force down and freeze.
    Down,
    /// SIGHUP: unfreeze and check at once with the counter at the threshold.
    Resume,
}

impl Control {
    /// The original's state number (nanny.h: `STATE_NORMAL` 1, `STATE_UP`
    /// 2, `STATE_DOWN` 3), printed by `DEBUG -- In nextState = N` after
    /// SIGUSR2 and SIGUSR1 (not after SIGHUP).
    pub fn code(self) -> i32 {
        match self {
            Control::Resume => 1,
            Control::Up => 2,
            Control::Down => 3,
        }
    }
}

/// Log level of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Always logged.
    Info,
    /// Only with `-v`.
    Verbose,
}

/// A change to the real server's IPVS destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpvsOp {
    /// Add the destination with this weight.
    Add(i32),
    /// Change the weight of the existing destination.
    Edit(i32),
    /// Remove the destination.
    Delete,
}

/// What the shell must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Log(Level, String),
    /// Run one health check and feed [`Input::Checked`].
    RunCheck,
    /// Run the load probe and feed [`Input::Load`].
    ProbeLoad,
    /// Apply an IPVS change; on failure feed [`Input::IpvsFailed`] and drop
    /// the actions after it.
    Ipvs(IpvsOp),
    /// The health verdict changed (first verdict included).
    Health(bool),
    /// The raw result of a check changed, pass (true) or fail (first
    /// result included). Unlike the verdict it follows every check, e.g.
    /// the passing checks of a re-entry while the verdict is still down.
    Result(bool),
    /// A check failed: sent after every failed check (after its
    /// [`Action::Result`], if any, and before what the failure causes), so
    /// lvsd can count failed checks.
    Failed,
    /// Kill the running check or probe program, if any (logs `Killing child PID`).
    KillChild,
    /// Exit with this status.
    Exit(i32),
}

/// What the monitor is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Sleeping until the next check.
    Waiting,
    /// A check is running.
    Checking,
    /// A load probe is running.
    Probing,
    /// Forced up or down by USR2/USR1; no checks until SIGHUP.
    Frozen,
    /// An exit was requested.
    Exited,
}

/// The monitor state.
#[derive(Debug, Clone, PartialEq)]
pub struct Monitor {
    p: Params,
    /// Counted as up.
    pub active: bool,
    /// In the IPVS table.
    pub present: bool,
    /// Consecutive-success counter.
    pub count: u64,
    pub last_weight: i32,
    pub phase: Phase,
    due: Duration,
    reported: Option<bool>,
    /// Last raw check result sent with [`Action::Result`].
    last_result: Option<bool>,
    terminating: bool,
}

fn info(s: String) -> Action {
    Action::Log(Level::Info, s)
}

fn verbose(s: String) -> Action {
    Action::Log(Level::Verbose, s)
}

impl Monitor {
    /// A monitor whose first check is due at `now`.
    pub fn new(p: Params, now: Duration) -> Monitor {
        Monitor {
            count: u64::from(p.threshold),
            p,
            active: false,
            present: false,
            last_weight: 0,
            phase: Phase::Waiting,
            due: now,
            reported: None,
            last_result: None,
            terminating: false,
        }
    }

    /// A monitor that takes over a real server whose state lvsd knows (a
    /// nanny restarted because its arguments changed, see
    /// [`crate::report::Resume`]): `Up(w)` is active and present with
    /// `lastWeight` w; `Quiesced` is present but failed and `Down` absent
    /// and failed, both with the re-entry count at 0.
    pub fn resume(p: Params, now: Duration, r: Resume) -> Monitor {
        let mut m = Monitor::new(p, now);
        match r {
            Resume::Up(w) => {
                m.active = true;
                m.present = true;
                m.last_weight = i32::try_from(w).unwrap_or(i32::MAX);
            }
            Resume::Quiesced => {
                m.present = true;
                m.count = 0;
            }
            Resume::Down => m.count = 0,
        }
        m
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.p
    }

    /// When the next check is due (only while waiting).
    pub fn next_due(&self) -> Option<Duration> {
        (self.phase == Phase::Waiting).then_some(self.due)
    }

    /// Control signals are handled only while sleeping (or frozen); during a
    /// check or probe they stay pending.
    pub fn accepts_controls(&self) -> bool {
        matches!(self.phase, Phase::Waiting | Phase::Frozen)
    }

    fn lvs(&self) -> bool {
        self.p.mode == Mode::Lvs
    }

    /// Feeds one input; returns the actions to perform in order.
    pub fn step(&mut self, input: Input, now: Duration) -> Vec<Action> {
        if self.phase == Phase::Exited {
            return Vec::new();
        }
        let mut out = Vec::new();
        match input {
            Input::Due => {
                if self.phase == Phase::Waiting && now >= self.due {
                    self.phase = Phase::Checking;
                    out.push(Action::RunCheck);
                }
            }
            Input::Checked(ok) if self.phase == Phase::Checking => self.checked(ok, now, &mut out),
            Input::Load(load) if self.phase == Phase::Probing => {
                if let Some(l) = load {
                    self.apply_load(l, &mut out);
                }
                self.finish_iteration(now, &mut out);
            }
            Input::Control(c) if self.accepts_controls() => self.control(c, now, &mut out),
            Input::Terminate(sig) => self.terminate(sig, &mut out),
            Input::IpvsFailed => {
                out.push(info(format!("{} command failed!", self.p.ipvsadm)));
                out.push(self.exit(if self.terminating { 1 } else { 255 }));
            }
            Input::Checked(_) | Input::Load(_) | Input::Control(_) => {}
        }
        out
    }

    fn exit(&mut self, code: i32) -> Action {
        self.phase = Phase::Exited;
        Action::Exit(code)
    }

    fn report_health(&mut self, out: &mut Vec<Action>) {
        if self.reported != Some(self.active) {
            self.reported = Some(self.active);
            out.push(Action::Health(self.active));
        }
    }

    fn checked(&mut self, ok: bool, now: Duration, out: &mut Vec<Action>) {
        if self.last_result != Some(ok) {
            self.last_result = Some(ok);
            out.push(Action::Result(ok));
        }
        if !ok {
            out.push(Action::Failed);
        }
        if ok {
            self.count += 1;
        }
        out.push(verbose(format!(
            "avail: {} active: {}: count: {}",
            i32::from(ok),
            i32::from(self.active),
            self.count
        )));
        if ok && !self.active && self.count >= u64::from(self.p.threshold) {
            self.activate(out);
        } else if !ok && self.active {
            self.count = 0;
            if !self.lvs() {
                out.push(info(format!(
                    "Exiting due to connection failure of {}",
                    self.p.dest
                )));
                out.push(self.exit(0));
                return;
            }
            self.deactivate(out);
        } else if !ok && !self.active && self.count != 0 {
            self.count = 0;
            let msg = "No service active & available...".to_string();
            out.push(if self.lvs() { verbose(msg) } else { info(msg) });
        } else if !ok && !self.active && !self.lvs() {
            out.push(info(
                "Timeout waiting for remote service -- triggering failover!".into(),
            ));
            out.push(self.exit(1));
            return;
        }
        if self.lvs() && self.active && self.weight_due() {
            if let Some(n) = slow_start(self.last_weight, self.p.weight) {
                self.set_weight(n, &self.p.dest.clone(), out);
            } else if self.p.load_monitor {
                self.report_health(out);
                self.phase = Phase::Probing;
                out.push(Action::ProbeLoad);
                return;
            }
        }
        self.finish_iteration(now, out);
    }

    /// Weight adjustment cadence: every check when interval > 20, else when
    /// `count mod (20 div interval) = 0`.
    fn weight_due(&self) -> bool {
        let i = u64::from(self.p.interval);
        i > 20 || self.count.is_multiple_of(20 / i)
    }

    fn set_weight(&mut self, n: i32, shown: &str, out: &mut Vec<Action>) {
        out.push(verbose(format!("Adjusting weight of {shown} to {n}")));
        out.push(Action::Ipvs(IpvsOp::Edit(n)));
        self.last_weight = n;
    }

    fn apply_load(&mut self, load: f64, out: &mut Vec<Action>) {
        if let Some(n) = load_feedback(self.last_weight, self.p.weight, self.p.scale, load) {
            out.push(verbose(format!(
                "Computing new weight {n} based on last weight {} and load {load:.6}",
                self.last_weight
            )));
            let shown = self.p.dest_vport.clone();
            self.set_weight(n, &shown, out);
        }
    }

    fn finish_iteration(&mut self, now: Duration, out: &mut Vec<Action>) {
        self.report_health(out);
        self.phase = Phase::Waiting;
        self.due = now + Duration::from_secs(u64::from(self.p.interval));
    }

    fn activate(&mut self, out: &mut Vec<Action>) {
        self.active = true;
        if !self.lvs() {
            out.push(info(format!("Remote service {} is available", self.p.dest)));
            return;
        }
        out.push(info(format!("[ active ] making {} available", self.p.dest)));
        let w0 = (self.p.weight >> 5).max(1);
        self.install(w0, out);
    }

    /// Adds the destination, or edits its weight if it is still present.
    fn install(&mut self, w: i32, out: &mut Vec<Action>) {
        out.push(Action::Ipvs(if self.present {
            IpvsOp::Edit(w)
        } else {
            IpvsOp::Add(w)
        }));
        self.present = true;
        self.last_weight = w;
    }

    fn deactivate(&mut self, out: &mut Vec<Action>) {
        self.active = false;
        out.push(info(format!(
            "[inactive] shutting down {} due to connection failure",
            self.p.dest
        )));
        if self.p.quiesce && self.present {
            out.push(Action::Ipvs(IpvsOp::Edit(0)));
        } else {
            out.push(Action::Ipvs(IpvsOp::Delete));
            self.present = false;
        }
    }

    fn control(&mut self, c: Control, now: Duration, out: &mut Vec<Action>) {
        match c {
            Control::Up => {
                out.push(info("rose-colored glasses on".into()));
                if !self.active {
                    self.active = true;
                    if self.lvs() {
                        self.install(self.p.weight, out);
                    }
                }
                self.phase = Phase::Frozen;
            }
            Control::Down => {
                out.push(info("opaque glasses on".into()));
                if self.active {
                    self.active = false;
                    if self.lvs() {
                        out.push(Action::Ipvs(IpvsOp::Delete));
                        self.present = false;
                    }
                }
                self.phase = Phase::Frozen;
            }
            Control::Resume => {
                out.push(info("DEBUG -- removing glasses".into()));
                self.count = u64::from(self.p.threshold);
                self.phase = Phase::Waiting;
                self.due = now;
            }
        }
        if c != Control::Resume {
            out.push(verbose(format!("DEBUG -- In nextState = {}", c.code())));
        }
        self.report_health(out);
    }

    fn terminate(&mut self, sig: i32, out: &mut Vec<Action>) {
        self.terminating = true;
        out.push(info(format!("Terminating due to signal {sig}")));
        out.push(Action::KillChild);
        if self.lvs() && self.active {
            out.push(Action::Ipvs(IpvsOp::Delete));
            self.present = false;
            self.active = false;
        }
        out.push(self.exit(0));
    }
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
