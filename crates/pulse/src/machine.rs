//! pulse's failover state machine (pulse.md §5–§7, §9, §10; for
//! `service = fos` fos.md §5, in [`fos`]) as a pure function:
//! [`Machine::step`] takes an event and the current monotonic time and
//! returns the actions to perform, in order. Nothing here touches a
//! socket, a process or the clock.

use std::net::SocketAddr;
use std::time::Duration;

use crate::auth::{self, Auth};
use crate::heartbeat::{self, Beat, Mode, Partner, Verdict};

/// Fixed settings, decided at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `service = lvs` or `fos`: which daemon pulse runs and which
    /// heartbeat magics it speaks.
    pub mode: Mode,
    /// This node is the primary (§3).
    pub master: bool,
    /// Interval between heartbeats sent.
    pub keepalive: Duration,
    /// Silence after which the partner is declared dead.
    pub deadtime: Duration,
    /// A backup exists: heartbeats are sent only then.
    pub backup_active: bool,
    /// `--test-start` / `--norun`: no lvsd/fos, no hooks, no killing.
    pub norun: bool,
    /// With `norun`, still bring VIPs up, ARP and switch the sync daemon,
    /// as the original did (gaps.md C10; off by default).
    pub norun_side_effects: bool,
    /// Who may send us heartbeats.
    pub partner: Partner,
    /// `--warm-standby` (lvs mode, outside test mode): lvsd runs on the
    /// standby too, programming the IPVS table and running the nannies;
    /// taking over only brings up the VIPs and tells lvsd its new role,
    /// giving up takes them down and keeps the table.
    pub warm_standby: bool,
    /// On activation, wait at most this long for lvsd to report its table
    /// ready (every real server's first check done) before bringing up the
    /// VIPs and sending the ARPs (zero: bring them up at once, as the
    /// original did).
    pub ready_wait: Duration,
    /// `--heartbeat-key`: heartbeats are signed and checked.
    pub auth: Option<Auth>,
}

impl Settings {
    /// Warm standby applies: asked for, in lvs mode, outside test mode
    /// (no lvsd runs then).
    pub fn warm(&self) -> bool {
        self.warm_standby && self.mode == Mode::Lvs && !self.norun
    }
}

/// lvsd's role, as pulse tells it (warm standby only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LvsdRole {
    /// This router holds the VIPs.
    Active,
    /// The partner holds them; the table is kept ready.
    Standby,
}

/// Least time between two starts of a standby lvsd, so one that cannot run
/// is not restarted in a tight loop.
pub const LVSD_RESPAWN: Duration = Duration::from_secs(1);

/// A lifecycle hook from lvs.cf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// `active_cmd`.
    Active,
    /// `inactive_cmd`.
    Inactive,
}

/// The IPVS sync-daemon role to (re)start in (§13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncRole {
    /// On activation.
    Master,
    /// At start-up and on deactivation.
    Backup,
}

/// The mode pulse starts fos in (fos.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FosRole {
    /// `fos --active`: run the services (active node).
    Active,
    /// `fos --monitor`: watch the partner's services (standby node).
    Monitor,
}

/// How a child process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildEnd {
    /// Exited with this status.
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Entering the main loop; `forced` = `--forceactive`.
    Start {
        /// Activate at once.
        forced: bool,
    },
    /// The earlier of the two deadlines ([`Machine::deadline`]) has passed.
    Timer,
    /// A datagram arrived on a heartbeat socket.
    Datagram {
        /// Sender.
        from: SocketAddr,
        /// Payload (possibly truncated to the receive buffer).
        data: Vec<u8>,
    },
    /// Result of a link check (§9): is each monitored NIC up?
    Links {
        /// NIC carrying our public address.
        primary_up: bool,
        /// NIC carrying our private address (= public without a private pair).
        private_up: bool,
    },
    /// A child was reaped; `daemon` says whether it was the tracked
    /// daemon (lvsd, or fos in fos mode).
    ChildExited {
        /// Its pid.
        pid: u32,
        /// How it ended.
        end: ChildEnd,
        /// It was lvsd (fos).
        daemon: bool,
    },
    /// lvsd reported its table ready: every real server has had its first
    /// check.
    LvsdReady,
    /// fos mode: the result of the gateway check ([`Action::CheckGateway`],
    /// fos.md §6): the default gateway answered a ping.
    Gateway {
        /// It answered within three tries.
        reachable: bool,
    },
    /// SIGTERM or SIGINT (the number).
    Terminate(i32),
    /// SIGHUP.
    Hangup,
    /// SIGUSR1 / SIGUSR2 (the number).
    UserSignal(i32),
}

/// Something to do, in the order returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Log at info.
    Log(String),
    /// Log only with `-v`.
    Debug(String),
    /// Send this heartbeat on every channel.
    Send(Beat),
    /// Run a hook (never waited for).
    RunHook(Hook),
    /// Start lvsd and remember it (as the active router's with
    /// warm standby).
    StartLvsd,
    /// Warm standby: start lvsd in the standby role and remember it.
    StartStandbyLvsd,
    /// Warm standby: tell the running lvsd its new role.
    TellLvsd(LvsdRole),
    /// SIGTERM lvsd and wait for it (with the C19 timeout).
    StopLvsd,
    /// Restart the IPVS sync daemon in this role.
    Sync(SyncRole),
    /// Bring the VIPs (and NAT router) up and send the gratuitous ARPs in the
    /// background (§8).
    VipsUp,
    /// Stop pending ARPs and take the VIPs (and NAT router) down (§7.2).
    VipsDown,
    /// A monitored NIC went down (§9): delete the kernel's neighbour entries
    /// for the partner's heartbeat addresses on the NICs that did (the one
    /// carrying our public address, our private one). The heartbeats sent
    /// since the carrier went, queued while the kernel tries to resolve the
    /// partner, are dropped with them instead of reaching the partner, out
    /// of date, if the link comes back within those few seconds.
    ForgetPartnerNeighbours {
        /// On the NIC carrying our public address.
        primary: bool,
        /// On the NIC carrying our private address.
        private: bool,
    },
    /// Forward SIGHUP to lvsd.
    ForwardHup,
    /// fos mode: start fos in this role and remember it.
    StartFos(FosRole),
    /// fos mode: SIGTERM fos and wait for it.
    StopFos,
    /// fos mode: check in the background whether the default gateway
    /// answers a ping; the answer comes back as [`Event::Gateway`].
    CheckGateway,
    /// Leave the main loop with this status.
    Exit(u8),
}

/// The machine's state. Times are monotonic offsets from an arbitrary origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    settings: Settings,
    /// We own the VIPs and run lvsd.
    pub active: bool,
    /// A monitored NIC is down.
    pub linkfail: bool,
    /// lvsd exited on its own; cleared by the partner's *running*.
    pub childfail: bool,
    /// A started lvsd has not been reaped yet.
    pub lvsd_running: bool,
    /// fos mode: a started fos has not been reaped yet.
    pub fos_running: bool,
    /// fos mode: we took over from a partner whose service failed; every
    /// heartbeat is STOP-ME until the partner stops or is declared dead.
    pub failpartner: bool,
    /// fos mode: `Notifying partner WE are taking control!` was logged for
    /// this fail-partner episode.
    pub notified: bool,
    /// fos mode: the gateway check failed; no fos runs until the partner
    /// is heard again.
    pub network_fault: bool,
    /// When the next heartbeat is due.
    pub next_send: Duration,
    /// When the partner is declared dead unless heard from.
    pub next_need: Duration,
    /// Warm standby: when the last lvsd was started.
    pub lvsd_started: Option<Duration>,
    /// Warm standby: when to start the standby lvsd again after it ended.
    pub restart_lvsd: Option<Duration>,
    /// The running lvsd has reported its table ready.
    pub lvsd_ready: bool,
    /// Active, the VIPs not up yet: waiting for lvsd's table until then.
    pub vips_wait: Option<Duration>,
    /// With a key: the last stamp accepted from each partner address.
    pub window: auth::Window,
    /// What the last datagram was judged (for the status record).
    pub verdict: Option<Verdict>,
    /// Rate limit of the authentication log lines.
    auth_log: auth::LogLimit,
}

impl Machine {
    /// A fresh machine at time `now` (§5: first heartbeat after
    /// `keepalive`, partner dead after `deadtime`).
    pub fn new(settings: Settings, now: Duration) -> Machine {
        Machine {
            next_send: now + settings.keepalive,
            next_need: now + settings.deadtime,
            settings,
            active: false,
            linkfail: false,
            childfail: false,
            lvsd_running: false,
            fos_running: false,
            failpartner: false,
            notified: false,
            network_fault: false,
            lvsd_started: None,
            restart_lvsd: None,
            lvsd_ready: false,
            vips_wait: None,
            window: auth::Window::default(),
            verdict: None,
            auth_log: auth::LogLimit::default(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The earliest deadline: the next heartbeat, the dead timer, and with
    /// warm standby a pending lvsd restart.
    pub fn deadline(&self) -> Duration {
        let d = self.next_send.min(self.next_need);
        let d = self.restart_lvsd.map_or(d, |r| r.min(d));
        self.vips_wait.map_or(d, |w| w.min(d))
    }

    /// Warm standby applies (see [`Settings::warm`]).
    fn warm(&self) -> bool {
        self.settings.warm()
    }

    /// The heartbeat this node sends now.
    pub fn beat(&self) -> Beat {
        if self.failpartner {
            Beat::StopMe
        } else if self.active {
            Beat::Running
        } else {
            Beat::Stopped
        }
    }

    /// Handles `event` at time `now`, returning the actions in order.
    pub fn step(&mut self, event: Event, now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        if self.settings.mode == Mode::Fos {
            self.fos_step(event, now, &mut out);
            return out;
        }
        match event {
            Event::Start { forced } => self.start(forced, now, &mut out),
            Event::LvsdReady => self.lvsd_ready(&mut out),
            Event::Timer => self.timer(now, &mut out),
            Event::Datagram { from, data } => self.datagram(from, &data, now, &mut out),
            Event::Links {
                primary_up,
                private_up,
            } => self.links(primary_up, private_up, now, &mut out),
            Event::ChildExited { pid, end, daemon } => self.child(pid, end, daemon, now, &mut out),
            // Only fos mode asks for a gateway check.
            Event::Gateway { .. } => {}
            Event::Terminate(sig) => {
                out.push(log(format!("Terminating due to signal {sig}")));
                self.deactivate(&mut out);
                if self.lvsd_running {
                    // Warm standby: the standby's lvsd stops with pulse.
                    out.push(Action::StopLvsd);
                    self.lvsd_running = false;
                }
                self.restart_lvsd = None;
                out.push(Action::Exit(0));
            }
            Event::Hangup => {
                if self.lvsd_running {
                    out.push(Action::ForwardHup);
                } else {
                    // gaps.md C1: the original signalled its own process group.
                    out.push(log(
                        "SIGHUP received but no lvsd is running: nothing to reload".into(),
                    ));
                }
            }
            Event::UserSignal(sig) => {
                // gaps.md C3: the original died without cleanup.
                out.push(log(format!("Ignoring signal {sig}")));
            }
        }
        out
    }

    fn start(&mut self, forced: bool, now: Duration, out: &mut Vec<Action>) {
        if !self.settings.norun {
            out.push(Action::RunHook(Hook::Inactive));
        }
        if self.side_effects() {
            out.push(Action::Sync(SyncRole::Backup));
        }
        if self.warm() {
            self.start_standby_lvsd(now, out);
        }
        if forced {
            out.push(log("Forced active on startup: activating lvs".into()));
            self.activate(now, out);
        }
    }

    fn timer(&mut self, now: Duration, out: &mut Vec<Action>) {
        if let Some(at) = self.vips_wait
            && at <= now
            && at <= self.next_send.min(self.next_need)
        {
            self.vips_wait = None;
            out.push(log(format!(
                "lvsd's table not ready after {:.1} s: bringing up the VIPs anyway",
                self.settings.ready_wait.as_secs_f64()
            )));
            out.push(Action::VipsUp);
            return;
        }
        if let Some(at) = self.restart_lvsd
            && at <= now
            && at <= self.next_send.min(self.next_need)
        {
            self.restart_lvsd = None;
            if !self.lvsd_running && !self.childfail && self.warm() {
                self.start_standby_lvsd(now, out);
            }
            return;
        }
        if self.next_send <= self.next_need {
            if self.next_send > now {
                return;
            }
            if self.settings.backup_active {
                out.push(Action::Debug("DEBUG -- Sending heartbeat...".into()));
                let beat = self.outgoing(out);
                out.push(Action::Send(beat));
            }
            out.push(Action::Debug(
                "DEBUG -- setting SEND_heartbeat timer".into(),
            ));
            self.next_send = now + self.settings.keepalive;
        } else {
            if self.next_need > now {
                return;
            }
            match self.settings.mode {
                Mode::Lvs => {
                    if !self.active && !self.linkfail && !self.childfail {
                        out.push(log("partner dead: activating lvs".into()));
                        self.activate(now, out);
                    }
                }
                Mode::Fos => self.fos_partner_dead(out),
            }
            out.push(Action::Debug(
                "DEBUG -- setting NEED_heartbeat timer".into(),
            ));
            self.next_need = now + self.settings.deadtime;
        }
    }

    /// The heartbeat to send now (§4.3): with *fail-partner* set it is
    /// STOP-ME, announced once per episode.
    fn outgoing(&mut self, out: &mut Vec<Action>) -> Beat {
        if self.failpartner && !self.notified {
            out.push(log("Notifying partner WE are taking control!".into()));
            self.notified = true;
        }
        self.beat()
    }

    fn datagram(&mut self, from: SocketAddr, data: &[u8], now: Duration, out: &mut Vec<Action>) {
        let Some(beat) = self.judge(from, data, now, out) else {
            return;
        };
        match beat {
            // gaps.md A1/C18: no genuine lvs peer sends STOP-ME; treat it as running.
            Beat::Running | Beat::StopMe => self.partner_running(now, out),
            Beat::Stopped => {
                if !self.active && !self.linkfail && !self.childfail {
                    out.push(log(format!(
                        "{} inactive: activating lvs",
                        self.partner_role()
                    )));
                    self.activate(now, out);
                }
            }
            Beat::Hold => {}
        }
        self.heard(now, out);
    }

    /// §4.4: the heartbeat in a datagram, if it is a valid one (the
    /// rejections are logged).
    fn judge(
        &mut self,
        from: SocketAddr,
        data: &[u8],
        now: Duration,
        out: &mut Vec<Action>,
    ) -> Option<Beat> {
        let s = &self.settings;
        let verdict = match &s.auth {
            None => heartbeat::judge(s.mode, &s.partner, from, data),
            Some(a) => {
                let last = self.window.last(from.ip().to_canonical());
                let (v, stamp) = heartbeat::judge_signed(s.mode, &s.partner, a, last, from, data);
                if let Some(stamp) = stamp {
                    self.window.accept(from.ip().to_canonical(), stamp);
                }
                v
            }
        };
        self.verdict = Some(verdict.clone());
        let beat = match verdict {
            Verdict::Accept(beat) => beat,
            Verdict::Unsigned(beat) => {
                if let Some(n) = self.auth_log.admit("unsigned", now) {
                    out.push(log(format!(
                        "accepting unsigned heartbeat from {} (--heartbeat-auth=permissive){}",
                        from.ip(),
                        suppressed(n)
                    )));
                }
                beat
            }
            Verdict::Rejected(r) => {
                if let Some(n) = self.auth_log.admit(r.name(), now) {
                    out.push(log(format!(
                        "heartbeat from {} rejected: {}{}",
                        from.ip(),
                        r.text(),
                        suppressed(n)
                    )));
                }
                return None;
            }
            Verdict::Unexpected(ip) => {
                out.push(Action::Debug(format!("Unexpected heartbeat from {ip}")));
                return None;
            }
            Verdict::Short => {
                out.push(log("bad heartbeat packet".into()));
                return None;
            }
            Verdict::Incompatible => {
                out.push(log(
                    "Incompatible heartbeat received -- other system not using identical services"
                        .into(),
                ));
                return None;
            }
        };
        out.push(Action::Debug(
            "DEBUG -- Received Heartbeat from partner".into(),
        ));
        Some(beat)
    }

    /// The partner as named in `… inactive: activating …`.
    fn partner_role(&self) -> &'static str {
        if self.settings.master {
            "backup"
        } else {
            "primary"
        }
    }

    /// A valid heartbeat re-arms the dead timer.
    fn heard(&mut self, now: Duration, out: &mut Vec<Action>) {
        out.push(Action::Debug(
            "DEBUG -- setting NEED_heartbeat timer".into(),
        ));
        self.next_need = now + self.settings.deadtime;
    }

    fn partner_running(&mut self, now: Duration, out: &mut Vec<Action>) {
        let cleared = std::mem::replace(&mut self.childfail, false);
        if !self.active {
            if cleared && !self.lvsd_running && self.warm() {
                // Warm again after our lvsd failed while active.
                self.schedule_lvsd(now, out);
            }
            return;
        }
        if self.settings.master {
            out.push(log("partner active: resending arps".into()));
            if !self.settings.norun {
                out.push(Action::RunHook(Hook::Active));
            }
            // (still waiting for lvsd's table: the VIPs come with it)
            if self.side_effects() && self.vips_wait.is_none() {
                out.push(Action::VipsUp);
            }
        } else {
            out.push(Action::Send(Beat::Running));
            out.push(log("partner active: deactivating LVS".into()));
            self.deactivate(out);
        }
    }

    fn links(&mut self, primary_up: bool, private_up: bool, now: Duration, out: &mut Vec<Action>) {
        if primary_up && private_up {
            if self.linkfail {
                out.push(log("Local NIC link(s) restored: Pulse enabled".into()));
                self.linkfail = false;
                // Nothing could be heard while the link was down: the
                // partner gets a full deadtime to be heard before it is
                // declared dead. The original kept the old timer, so a
                // restored router could take the service from a healthy
                // partner it had not heard yet.
                self.next_need = now + self.settings.deadtime;
            }
            return;
        }
        if self.linkfail {
            return;
        }
        if !primary_up {
            out.push(log("Primary NIC: link down".into()));
        }
        if !private_up {
            out.push(log("Private NIC: link down".into()));
        }
        out.push(log("Local NIC link failure: Pulse disabled".into()));
        // The last heartbeat may have gone out after the carrier and before
        // this check, saying *running*: it waits in the kernel for the
        // partner's MAC, and delivered late it would make a partner that
        // has taken over since yield at once.
        out.push(Action::ForgetPartnerNeighbours {
            primary: !primary_up,
            private: !private_up,
        });
        self.linkfail = true;
        if self.active {
            match self.settings.mode {
                Mode::Lvs => {
                    out.push(log("local link failure: deactivating LVS".into()));
                    self.deactivate(out);
                }
                Mode::Fos => self.fos_link_failure(out),
            }
        }
    }

    fn child(
        &mut self,
        pid: u32,
        end: ChildEnd,
        daemon: bool,
        now: Duration,
        out: &mut Vec<Action>,
    ) {
        if !daemon {
            out.push(log(format!("Skipping death of unknown child {pid}")));
            return;
        }
        out.push(log(match end {
            ChildEnd::Exited(n) => format!("Child process {pid} exited with status {n}"),
            ChildEnd::Signaled(n) => format!("Child process {pid} terminated with signal {n}"),
        }));
        // Already reaped: the deactivation must not signal it again.
        self.lvsd_running = false;
        self.lvsd_ready = false;
        if self.warm() && !self.active {
            // A standby's lvsd served nothing: no failover, no childfail;
            // start it again (not sooner than LVSD_RESPAWN after the last
            // start).
            if !self.childfail {
                self.schedule_lvsd(now, out);
            }
            return;
        }
        self.deactivate(out);
        self.childfail = true;
    }

    /// Warm standby: start the standby lvsd now.
    fn start_standby_lvsd(&mut self, now: Duration, out: &mut Vec<Action>) {
        out.push(Action::StartStandbyLvsd);
        self.lvsd_running = true;
        self.lvsd_ready = false;
        self.lvsd_started = Some(now);
        self.restart_lvsd = None;
    }

    /// Warm standby: start the standby lvsd again, at once or when
    /// [`LVSD_RESPAWN`] has passed since the last start.
    fn schedule_lvsd(&mut self, now: Duration, out: &mut Vec<Action>) {
        let due = self
            .lvsd_started
            .map_or(now, |t| (t + LVSD_RESPAWN).max(now));
        if due <= now {
            out.push(log("warm standby: starting lvsd again".into()));
            self.start_standby_lvsd(now, out);
        } else {
            out.push(log(format!(
                "warm standby: starting lvsd again in {:.1} s",
                (due - now).as_secs_f64()
            )));
            self.restart_lvsd = Some(due);
        }
    }

    fn side_effects(&self) -> bool {
        !self.settings.norun || self.settings.norun_side_effects
    }

    /// §7.1, in order; with warm standby a running lvsd is told its new
    /// role instead of being started. The VIPs come up once lvsd's table is
    /// ready (at most [`Settings::ready_wait`] later; at once when it
    /// already is, or without a wait).
    fn activate(&mut self, now: Duration, out: &mut Vec<Action>) {
        if !self.settings.norun {
            out.push(Action::RunHook(Hook::Active));
            if self.lvsd_running && self.warm() {
                out.push(Action::TellLvsd(LvsdRole::Active));
            } else {
                out.push(Action::StartLvsd);
                self.lvsd_running = true;
                self.lvsd_ready = false;
                self.lvsd_started = Some(now);
            }
            self.restart_lvsd = None;
        }
        if self.side_effects() {
            out.push(Action::Sync(SyncRole::Master));
            if self.settings.norun || self.lvsd_ready || self.settings.ready_wait.is_zero() {
                out.push(Action::VipsUp);
            } else {
                out.push(Action::Debug(format!(
                    "DEBUG -- waiting up to {:.1} s for lvsd's table before the VIPs",
                    self.settings.ready_wait.as_secs_f64()
                )));
                self.vips_wait = Some(now + self.settings.ready_wait);
            }
        }
        self.active = true;
    }

    /// lvsd says its table is ready: the VIPs come up if they wait for it.
    fn lvsd_ready(&mut self, out: &mut Vec<Action>) {
        if !self.lvsd_running {
            return; // from an lvsd already reaped
        }
        self.lvsd_ready = true;
        if self.vips_wait.take().is_some() {
            out.push(Action::Debug(
                "DEBUG -- lvsd's table is ready: bringing up the VIPs".into(),
            ));
            out.push(Action::VipsUp);
        }
    }

    /// §7.2, in order.
    fn deactivate(&mut self, out: &mut Vec<Action>) {
        if !self.settings.norun {
            out.push(Action::RunHook(Hook::Inactive));
        }
        if self.side_effects() {
            out.push(Action::Sync(SyncRole::Backup));
        }
        let was_active = self.active;
        self.active = false;
        self.vips_wait = None;
        if !was_active {
            return;
        }
        if self.settings.norun {
            // Test mode stops here (in compat mode the VIPs stay up, as in the original).
            return;
        }
        if self.warm() {
            // The VIPs go; lvsd and its table stay, ready for the next
            // takeover.
            out.push(Action::VipsDown);
            if self.lvsd_running {
                out.push(Action::TellLvsd(LvsdRole::Standby));
            }
            return;
        }
        if self.lvsd_running {
            out.push(Action::StopLvsd);
            self.lvsd_running = false;
        }
        out.push(Action::VipsDown);
    }
}

fn log(text: String) -> Action {
    Action::Log(text)
}

/// The tail of a rate-limited log line: how many were not logged.
fn suppressed(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({n} more since the last report)")
    }
}

mod fos;

#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod fos_tests;
#[cfg(test)]
mod ready_tests;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod warm_tests;
