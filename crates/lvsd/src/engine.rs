//! The pure core of lvsd: (state, event, now) → (state, actions).
//!
//! [`Engine`] holds the running configuration ([`Spec`]), the state of
//! every virtual and real server (health, weight and raw check results as
//! their nannies report them, the sorry server) and a model of the IPVS services lvsd
//! created (what it installed; lvsd is the only writer of those). Every
//! event returns the [`Action`]s the shell carries out, in order. IPVS
//! changes are always computed as a diff between the wanted table and the
//! installed one ([`ipvs::reconcile::plan`]), so a report or a reload costs
//! kernel operations only for what changed.
//!
//! Events: [`Engine::start`], [`Engine::ipvs_done`] (results of an
//! [`Action::Ipvs`]), [`Engine::nanny_spawned`], what a nanny's pipe
//! carries, parsed by the shell ([`Engine::nanny_report`]: a typed
//! [`nanny_report::Report`]; [`Engine::nanny_bad_report`]: a report line
//! that did not parse; [`Engine::nanny_output`]: its stdout),
//! [`Engine::child_exited`], [`Engine::tick`], [`Engine::reload`] and
//! [`Engine::terminate`]. A nanny's weight reports carry only the weight
//! it wants for its real server (or its absence); every IPVS change is
//! composed here from the configuration. The `--status` document is built
//! from [`Engine::view`] by [`crate::status_view`].
//!
//! Deliberate fixes (gaps.md D1–D3, D6, lvsd.md §5, §6, §9):
//!
//! * `hard_shutdown = 0` is honoured when a nanny dies;
//! * the sorry server uses `SORRY:VPORT` with the global method and weight
//!   1, is decided on reported results only (no flash at start-up or after
//!   a reload: a nanny without a verdict is waited for, at most its
//!   [`RsSpec::first_verdict`]), and its two status lines are also logged;
//! * nanny stdout is read line by line;
//! * a reload reconciles per virtual and per real server: changed service
//!   settings are edited in place, a nanny is restarted only when its
//!   command line changed (and resumes the server's state), removed real
//!   servers leave alone, and services lvsd did not create are never
//!   touched.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use ipvs::reconcile::plan;
use ipvs::{Dest, DestKey, Op, ServiceKey, VirtualService};
use nanny_report::{ParseError, Report, Resume, Service, Target};
use serde::Serialize;

use crate::spec::{RsId, RsSpec, Spec, VsSpec};

/// The status documents (`docs/status.md`), shared with the exporter.
pub use piranha_status::lvsd::{Config, Histogram, Phase, Reloads, RsStatus, Status, VsStatus};

/// Upper bounds (seconds) of the reload-duration histogram.
pub const RELOAD_BUCKETS: [f64; 11] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Identifies one nanny process lvsd started (never reused).
pub type NannyId = u64;

/// Why an IPVS change failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    /// The kernel's errno, if the kernel answered.
    pub errno: Option<i32>,
    /// A readable description.
    pub message: String,
}

/// What the shell must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Log a line (syslog, or `lvs: LINE` on stdout with `--nodaemon`).
    Log(String),
    /// Print a line on stdout; in daemon mode also log it (the sorry-server
    /// lines, gaps.md D3).
    Notice(String),
    /// Pass a nanny's stdout line through to lvsd's stdout (`--nodaemon`).
    Echo(String),
    /// Set the IPVS connection timeouts (tcp, tcpfin, udp; 0 = unchanged).
    SetTimeouts([i32; 3]),
    /// Apply these changes in order, then report every result to
    /// [`Engine::ipvs_done`].
    Ipvs(Vec<Op>),
    /// Start a nanny, then report to [`Engine::nanny_spawned`].
    Spawn {
        /// Its id (for its pipe's lines and the spawn result).
        id: NannyId,
        /// Command line, program first.
        argv: Vec<String>,
        /// State it takes over (`NANNY_REPORT_RESUME`).
        resume: Option<Resume>,
    },
    /// `--test-start`: show the nanny command line instead of running it.
    ShowNanny(Vec<String>),
    /// Send `signal` to process `pid`.
    Signal {
        /// Process.
        pid: u32,
        /// Signal number.
        signal: i32,
    },
    /// Wait until these processes have exited (reaping them; the shell
    /// gives up after a grace period and kills what is left).
    AwaitExit(Vec<u32>),
    /// Exit with this status.
    Exit(i32),
}

/// Engine settings that do not come from lvs.cf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    /// `--test-start`: nannies are shown, not started.
    pub test_start: bool,
    /// `--nodaemon`: nanny stdout lines are passed through (when the
    /// original would have shown them: no sorry server).
    pub nodaemon: bool,
}

/// Role of a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `active = 0`.
    Inactive,
    /// Same address as an earlier real server of the block.
    Duplicate,
    /// Has a nanny.
    Monitored,
}

/// The monitor process of a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Monitor {
    /// None (inactive, duplicate, or its virtual server is not up).
    Off,
    /// Spawn requested.
    Starting,
    /// Running.
    Running,
    /// Died; never restarted automatically (gaps.md D5), a reload does.
    Dead,
    /// `--test-start`: only shown.
    Shown,
}

#[derive(Debug, Clone)]
struct RsState {
    role: Role,
    monitor: Monitor,
    nanny: Option<NannyId>,
    /// The current nanny speaks the report protocol.
    protocol: bool,
    /// Last `state` report.
    health: Option<bool>,
    /// Last `[ active ]`/`[inactive]` marker.
    marker: Option<bool>,
    /// The weight that should be in the table; `None` = absent.
    wanted: Option<u32>,
    /// When the current nanny was started.
    since: Duration,
    /// Last change of health or weight.
    changed: Option<Duration>,
    /// Raw result of the latest check (`result` reports: true = pass),
    /// which differs from the health while a failed server re-enters.
    result: Option<bool>,
    /// When that raw result last changed.
    result_since: Option<Duration>,
    /// Checks that failed (`failed` reports), kept across nanny restarts
    /// while the real server stays in the configuration.
    failures: u64,
    /// `failures` when the current nanny was started.
    failures_at_spawn: u64,
}

impl RsState {
    fn new(role: Role, now: Duration) -> RsState {
        RsState {
            role,
            monitor: Monitor::Off,
            nanny: None,
            protocol: false,
            health: None,
            marker: None,
            wanted: None,
            since: now,
            changed: None,
            result: None,
            result_since: None,
            failures: 0,
            failures_at_spawn: 0,
        }
    }

    fn watched(&self) -> bool {
        matches!(self.monitor, Monitor::Starting | Monitor::Running)
    }

    /// The health lvsd goes by: `state` reports from a nanny that speaks
    /// the protocol; otherwise markers, once the first-verdict window has
    /// passed (a real nanny prints its marker just before its report).
    fn effective_health(&self, spec: &RsSpec, now: Duration) -> Option<bool> {
        if self.protocol {
            self.health
        } else if !self.watched() || now >= self.since + spec.first_verdict {
            self.marker
        } else {
            None
        }
    }

    /// Counts for the sorry server as a working real server.
    fn available(&self, spec: &RsSpec, now: Duration) -> bool {
        self.effective_health(spec, now) == Some(true)
            && (!self.protocol || self.wanted.is_some_and(|w| w > 0))
    }

    /// Still waiting for a first verdict.
    fn pending(&self, spec: &RsSpec, now: Duration) -> bool {
        self.watched()
            && self.effective_health(spec, now).is_none()
            && now < self.since + spec.first_verdict
    }

    /// Not yet settled enough for a joining scale-out director to announce
    /// its table, within [`RsState::settle_deadline`]: no verdict yet, or
    /// down on a single failed check (a slow first check on a director
    /// that has just started is not a verdict its peers share), or down
    /// while its checks pass again (re-entering). A down verdict with no
    /// check behind it (forced by a signal) is settled.
    fn settling(&self, spec: &RsSpec, now: Duration) -> bool {
        self.watched()
            && now < self.settle_deadline(spec)
            && match self.effective_health(spec, now) {
                None => true,
                Some(true) => false,
                Some(false) => match self.result {
                    None => false,
                    Some(true) => true,
                    Some(false) => self.failures - self.failures_at_spawn < 2,
                },
            }
    }

    /// When [`RsState::settling`] gives up waiting: twice the first-verdict
    /// window after the nanny started.
    fn settle_deadline(&self, spec: &RsSpec) -> Duration {
        self.since + 2 * spec.first_verdict
    }

    /// What a restarted nanny takes over.
    fn resume(&self) -> Option<Resume> {
        if !self.protocol {
            return None;
        }
        match (self.health, self.wanted) {
            (Some(true), Some(w)) if w > 0 => Some(Resume::Up(w)),
            (Some(false), Some(0)) => Some(Resume::Quiesced),
            (Some(false), None) => Some(Resume::Down),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct VsState {
    phase: Phase,
    /// The service settings wanted (the installed ones after a failed edit).
    service: ipvs::Service,
    sorry_in: bool,
    reals: Vec<RsState>,
}

#[derive(Debug, Clone)]
struct Nanny {
    pid: Option<u32>,
    /// `None` once lvsd stopped it or let it go: its lines and its exit are
    /// then ignored.
    owner: Option<(ServiceKey, RsId)>,
}

/// The lvsd core. See the module documentation.
#[derive(Debug)]
pub struct Engine {
    opts: Options,
    spec: Spec,
    vss: Vec<VsState>,
    /// Key → index of the virtual server owning it (Creating, Up, Failed).
    by_key: HashMap<ServiceKey, usize>,
    /// The services lvsd created, as it believes they are in the kernel.
    installed: HashMap<ServiceKey, VirtualService>,
    /// Names of services being deleted (for failure messages).
    removing: HashMap<ServiceKey, String>,
    nannies: HashMap<NannyId, Nanny>,
    pids: HashMap<u32, NannyId>,
    next_id: NannyId,
    stopping: bool,
    /// Time of the last [`Engine::tick`]: deadlines up to it are decided.
    last_tick: Duration,
    /// The configuration in force, as the shell read it (for `--status`).
    config: Config,
    /// Reloads so far (for `--status`).
    reloads: Reloads,
}

fn label(vs: &VsSpec, rs: &RsSpec) -> String {
    format!("{}/{}", vs.name, rs.name)
}

/// The service and destination a report line names.
fn place(t: Target) -> (ServiceKey, DestKey) {
    let key = match t.service {
        Service::Tcp(a) => ServiceKey::tcp(a.ip(), a.port()),
        Service::Udp(a) => ServiceKey::udp(a.ip(), a.port()),
        Service::Sctp(a) => ServiceKey::sctp(a.ip(), a.port()),
        Service::Fwmark(m) => ServiceKey::fwmark(m),
        Service::Fwmark6(m) => ServiceKey::fwmark6(m),
    };
    let dest = DestKey {
        addr: t.dest.ip(),
        port: t.dest.port(),
    };
    (key, dest)
}

fn roles(vs: &VsSpec) -> Vec<Role> {
    let mut seen = HashSet::new();
    vs.reals
        .iter()
        .map(|r| {
            if !r.active {
                Role::Inactive
            } else if seen.insert(r.id) {
                Role::Monitored
            } else {
                Role::Duplicate
            }
        })
        .collect()
}

/// Whether `test` holds for a real server of `v` whose nanny runs (or is
/// being started or has died).
fn any_monitored(v: &VsSpec, s: &VsState, test: impl Fn(&RsSpec, &RsState) -> bool) -> bool {
    v.reals.iter().zip(&s.reals).any(|(r, st)| {
        st.role == Role::Monitored
            && !matches!(st.monitor, Monitor::Off | Monitor::Shown)
            && test(r, st)
    })
}

/// The state of every block of `spec` before anything started. In
/// scale-out mode every monitored real server goes into the table at once
/// at weight 0, in lvs.cf order, and stays there (failures quiesce it):
/// IPVS's `mh` scheduler builds its lookup table from the destinations in
/// list order, so only one order on every director gives every director
/// the same table (docs/scale-out.md).
fn fresh(spec: &Spec, now: Duration) -> Vec<VsState> {
    spec.virtuals
        .iter()
        .map(|v| VsState {
            phase: Phase::Inactive,
            service: v.service.clone(),
            sorry_in: false,
            reals: roles(v)
                .into_iter()
                .map(|r| {
                    let mut st = RsState::new(r, now);
                    if spec.scale_out && r == Role::Monitored {
                        st.wanted = Some(0);
                    }
                    st
                })
                .collect(),
        })
        .collect()
}

impl Engine {
    /// An engine for `spec`; nothing happens until [`Engine::start`].
    pub fn new(spec: Spec, opts: Options) -> Engine {
        Engine {
            opts,
            vss: fresh(&spec, Duration::ZERO),
            spec,
            by_key: HashMap::new(),
            installed: HashMap::new(),
            removing: HashMap::new(),
            nannies: HashMap::new(),
            pids: HashMap::new(),
            next_id: 1,
            stopping: false,
            last_tick: Duration::ZERO,
            config: Config::default(),
            reloads: Reloads {
                duration_seconds: Histogram::with_bounds(&RELOAD_BUCKETS),
                ..Reloads::default()
            },
        }
    }

    /// Records the configuration in force (file, `serial_no`, SHA-256), as
    /// read at start-up; [`Engine::reload_applied`] replaces it.
    pub fn set_config(&mut self, config: Config) {
        self.config = config;
    }

    /// A reload that was refused (the file did not load): the running
    /// configuration stays.
    pub fn reload_refused(&mut self) {
        self.reloads.refused += 1;
    }

    /// A reload was applied ([`Engine::reload`] and its actions carried
    /// out); `took` is how long it took from reading the file on (monotonic
    /// clock), `config` what was read.
    pub fn reload_applied(&mut self, config: Config, took: Duration) {
        let secs = took.as_secs_f64();
        self.config = config;
        self.reloads.total += 1;
        self.reloads.last_duration_seconds = Some(secs);
        self.reloads.duration_seconds.observe(secs);
    }

    /// The lvs.cf name of every service the configuration defines: the
    /// virtual block that owns it (created it), else the first block that
    /// names it (inactive or duplicate).
    pub fn service_names(&self) -> HashMap<ServiceKey, String> {
        let mut names = HashMap::new();
        for v in &self.spec.virtuals {
            names.entry(v.key).or_insert_with(|| v.name.clone());
        }
        for (key, &vi) in &self.by_key {
            names.insert(*key, self.spec.virtuals[vi].name.clone());
        }
        names
    }

    /// The running configuration.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// True once a shutdown has begun.
    pub fn stopping(&self) -> bool {
        self.stopping
    }

    /// The services lvsd created, as it believes they are in the kernel:
    /// those of the configuration in its order, then any others (being
    /// deleted) by key.
    pub fn installed(&self) -> Vec<VirtualService> {
        let mut seen = HashSet::new();
        let mut out: Vec<VirtualService> = self
            .spec
            .virtuals
            .iter()
            .filter(|v| seen.insert(v.key))
            .filter_map(|v| self.installed.get(&v.key).cloned())
            .collect();
        let mut rest: Vec<&VirtualService> = self
            .installed
            .values()
            .filter(|v| !seen.contains(&v.service.key))
            .collect();
        rest.sort_by_key(|v| v.service.key);
        out.extend(rest.into_iter().cloned());
        out
    }

    /// The table lvsd wants now: every virtual server that is up, with the
    /// real servers its nannies put in and the sorry server.
    pub fn wanted(&self) -> Vec<VirtualService> {
        (0..self.vss.len())
            .filter(|&i| self.vss[i].phase == Phase::Up)
            .map(|i| self.desired(i))
            .collect()
    }

    /// Start-up, after the timeouts and the table clearing (lvsd.md §2
    /// step 6): every active virtual server in file order, one service at a
    /// time so that its nannies start right after it (the original's order
    /// of log lines).
    pub fn start(&mut self, now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        for vi in 0..self.spec.virtuals.len() {
            for r in self.vss[vi].reals.iter_mut() {
                r.since = now;
            }
            if let Some(op) = self.begin_virtual(vi, &mut out) {
                out.push(Action::Ipvs(vec![op]));
            }
        }
        out
    }

    /// Classifies virtual server `vi` of the current spec (owner, duplicate
    /// or inactive); for a new owner logs its start and returns the change
    /// that creates its service.
    fn begin_virtual(&mut self, vi: usize, out: &mut Vec<Action>) -> Option<Op> {
        let v = &self.spec.virtuals[vi];
        if !v.active {
            self.vss[vi].phase = Phase::Inactive;
            return None;
        }
        out.push(Action::Log(format!(
            "starting virtual service {} active: {}",
            v.name, v.vport
        )));
        if self.by_key.contains_key(&v.key) {
            // ipvsadm -A would fail with "File exists".
            self.vss[vi].phase = Phase::Duplicate;
            out.push(Action::Log(format!(
                "ipvsadm failed for virtual server {}!",
                v.name
            )));
            out.push(Action::Log(format!(
                "virtual server {}: {} is already defined by an earlier virtual block",
                v.name, v.key
            )));
            return None;
        }
        self.by_key.insert(v.key, vi);
        self.vss[vi].phase = Phase::Creating;
        Some(Op::AddService(self.vss[vi].service.clone()))
    }

    /// Results of an [`Action::Ipvs`], one per op.
    pub fn ipvs_done(
        &mut self,
        ops: &[Op],
        results: &[Result<(), OpError>],
        now: Duration,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        let mut created = Vec::new();
        for (op, res) in ops.iter().zip(results) {
            let gone = |e: &OpError, errno: i32| e.errno == Some(errno);
            match (op, res) {
                (Op::AddService(s), Ok(())) => {
                    self.installed.insert(
                        s.key,
                        VirtualService {
                            service: s.clone(),
                            dests: Vec::new(),
                        },
                    );
                    if let Some(&vi) = self.by_key.get(&s.key)
                        && self.vss[vi].phase == Phase::Creating
                    {
                        self.vss[vi].phase = Phase::Up;
                        created.push(vi);
                    }
                }
                (Op::AddService(s), Err(e)) => {
                    if let Some(&vi) = self.by_key.get(&s.key) {
                        self.vss[vi].phase = Phase::Failed;
                        let name = self.spec.virtuals[vi].name.clone();
                        self.service_failed(&name, op, e, &mut out);
                    }
                }
                (Op::EditService(s), Ok(())) => {
                    if let Some(v) = self.installed.get_mut(&s.key) {
                        v.service = s.clone();
                    }
                }
                (Op::EditService(s), Err(e)) => {
                    if let Some(&vi) = self.by_key.get(&s.key) {
                        if let Some(v) = self.installed.get(&s.key) {
                            self.vss[vi].service = v.service.clone();
                        }
                        let name = self.spec.virtuals[vi].name.clone();
                        self.service_failed(&name, op, e, &mut out);
                    }
                }
                (Op::DelService(k), res) => {
                    let name = self.removing.remove(k);
                    if let Err(e) = res
                        && !gone(e, libc::ESRCH)
                    {
                        let name = name.unwrap_or_else(|| k.to_string());
                        self.service_failed(&name, op, e, &mut out);
                    }
                    self.installed.remove(k);
                }
                (Op::AddDest(k, d) | Op::EditDest(k, d), Ok(())) => {
                    if let Some(v) = self.installed.get_mut(k) {
                        match v.dests.iter_mut().find(|x| x.key() == d.key()) {
                            Some(x) => *x = *d,
                            None => v.dests.push(*d),
                        }
                    }
                }
                (Op::DelDest(k, dk), res) => match res {
                    Err(e) if !gone(e, libc::ENOENT) => {
                        self.dest_failed(*k, *dk, op, e, now, &mut out)
                    }
                    _ => {
                        if let Some(v) = self.installed.get_mut(k) {
                            v.dests.retain(|x| x.key() != *dk);
                        }
                    }
                },
                (Op::AddDest(k, d) | Op::EditDest(k, d), Err(e)) => {
                    self.dest_failed(*k, d.key(), op, e, now, &mut out);
                }
            }
        }
        for vi in created {
            if self.stopping {
                break;
            }
            if self.spec.scale_out {
                // every real server at weight 0, in lvs.cf order (`fresh`)
                self.sync(vi, now, &mut out);
            }
            for ri in 0..self.vss[vi].reals.len() {
                if self.vss[vi].reals[ri].role == Role::Monitored {
                    self.vss[vi].reals[ri].since = now;
                    out.push(self.spawn(vi, ri, None, now));
                }
            }
        }
        out
    }

    fn service_failed(&self, name: &str, op: &Op, e: &OpError, out: &mut Vec<Action>) {
        out.push(Action::Log(format!(
            "ipvsadm failed for virtual server {name}!"
        )));
        out.push(Action::Log(format!(
            "{} {}: {}",
            self.spec.ipvsadm,
            crate::ipvsadm::op_args(op),
            e.message
        )));
    }

    /// A destination change failed. For a real server this is what made
    /// the original nanny exit 255 (gaps.md E6): its nanny is stopped and
    /// treated as dead (`hard_shutdown` decides what follows).
    fn dest_failed(
        &mut self,
        k: ServiceKey,
        dk: DestKey,
        op: &Op,
        e: &OpError,
        now: Duration,
        out: &mut Vec<Action>,
    ) {
        out.push(Action::Log(format!(
            "{} command failed!",
            self.spec.ipvsadm
        )));
        out.push(Action::Log(format!(
            "{} {}: {}",
            self.spec.ipvsadm,
            crate::ipvsadm::op_args(op),
            e.message
        )));
        let Some(&vi) = self.by_key.get(&k) else {
            return;
        };
        let installed_weight = self
            .installed
            .get(&k)
            .and_then(|v| v.dests.iter().find(|d| d.key() == dk))
            .map(|d| d.weight);
        let spec = &self.spec.virtuals[vi];
        if let Some(ri) = spec
            .reals
            .iter()
            .enumerate()
            .position(|(i, r)| self.vss[vi].reals[i].role == Role::Monitored && r.dest == dk)
        {
            // give up on this change (no retry), and fail the nanny
            self.vss[vi].reals[ri].wanted = installed_weight;
            if let Some(id) = self.vss[vi].reals[ri].nanny.take() {
                out.extend(self.let_go(id, libc::SIGTERM));
            }
            self.vss[vi].reals[ri].monitor = Monitor::Dead;
            self.died(vi, ri, now, out);
        } else if spec.sorry_dest() == Some(dk) {
            self.vss[vi].sorry_in = installed_weight.is_some();
        }
    }

    /// Detaches nanny `id` (its lines and exit are ignored from now on)
    /// and returns the signal that stops it.
    fn let_go(&mut self, id: NannyId, signal: i32) -> Option<Action> {
        let n = self.nannies.get_mut(&id)?;
        n.owner = None;
        n.pid.map(|pid| Action::Signal { pid, signal })
    }

    /// Starts (or, in test mode, shows) the nanny of real server `ri`.
    fn spawn(&mut self, vi: usize, ri: usize, resume: Option<Resume>, now: Duration) -> Action {
        let v = &self.spec.virtuals[vi];
        let r = &v.reals[ri];
        let st = &mut self.vss[vi].reals[ri];
        st.since = now;
        st.failures_at_spawn = st.failures;
        if self.opts.test_start {
            st.monitor = Monitor::Shown;
            return Action::ShowNanny(r.argv.to_vec());
        }
        let id = self.next_id;
        self.next_id += 1;
        st.monitor = Monitor::Starting;
        st.nanny = Some(id);
        self.nannies.insert(
            id,
            Nanny {
                pid: None,
                owner: Some((v.key, r.id)),
            },
        );
        Action::Spawn {
            id,
            argv: r.argv.to_vec(),
            resume,
        }
    }

    fn locate(&self, id: NannyId) -> Option<(usize, usize)> {
        let (key, rsid) = self.nannies.get(&id)?.owner?;
        let &vi = self.by_key.get(&key)?;
        let ri = self.spec.virtuals[vi]
            .reals
            .iter()
            .zip(&self.vss[vi].reals)
            .position(|(r, s)| r.id == rsid && s.role == Role::Monitored)?;
        (self.vss[vi].reals[ri].nanny == Some(id)).then_some((vi, ri))
    }

    /// The outcome of an [`Action::Spawn`].
    pub fn nanny_spawned(
        &mut self,
        id: NannyId,
        result: Result<u32, String>,
        now: Duration,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        let place = self.locate(id);
        match result {
            Ok(pid) => {
                self.pids.insert(pid, id);
                if let Some(n) = self.nannies.get_mut(&id) {
                    n.pid = Some(pid);
                }
                if let Some((vi, ri)) = place {
                    self.vss[vi].reals[ri].monitor = Monitor::Running;
                    let v = &self.spec.virtuals[vi];
                    out.push(Action::Log(format!(
                        "create_monitor for {} running as pid {pid}",
                        label(v, &v.reals[ri])
                    )));
                } else if let Some(sig) = self.let_go(id, libc::SIGTERM) {
                    out.push(sig);
                }
            }
            Err(e) => {
                self.nannies.remove(&id);
                if let Some((vi, ri)) = place {
                    let v = &self.spec.virtuals[vi];
                    out.push(Action::Log(format!(
                        "create_monitor for {} failed: {e}",
                        label(v, &v.reals[ri])
                    )));
                    let st = &mut self.vss[vi].reals[ri];
                    st.nanny = None;
                    st.monitor = Monitor::Dead;
                    self.died(vi, ri, now, &mut out);
                }
            }
        }
        out
    }

    /// The nanny of real server `ri` is gone without lvsd asking (gaps.md
    /// D1: `hard_shutdown` decides).
    fn died(&mut self, vi: usize, ri: usize, now: Duration, out: &mut Vec<Action>) {
        let v = &self.spec.virtuals[vi];
        let who = label(v, &v.reals[ri]);
        if self.spec.hard_shutdown {
            out.push(Action::Log(format!(
                "nanny for child {who} died! shutting down lvs"
            )));
            out.extend(self.shutdown());
        } else {
            out.push(Action::Log(format!(
                "nanny for child {who} died! manual action needed!"
            )));
            self.sync(vi, now, out);
        }
    }

    /// A child process exited (`pid` was reaped).
    pub fn child_exited(&mut self, pid: u32, now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        let Some(id) = self.pids.remove(&pid) else {
            return out; // not a nanny: reaped silently
        };
        let place = self.locate(id);
        let Some(n) = self.nannies.remove(&id) else {
            return out;
        };
        if n.owner.is_none() || self.stopping {
            return out; // stopped by lvsd
        }
        match place {
            Some((vi, ri)) => {
                let st = &mut self.vss[vi].reals[ri];
                st.nanny = None;
                st.monitor = Monitor::Dead;
                self.died(vi, ri, now, &mut out);
            }
            None => {
                out.push(Action::Log("nanny died! shutting down lvs".into()));
                out.extend(self.shutdown());
            }
        }
        out
    }

    /// A message from a nanny's report descriptor (parsed by the shell:
    /// [`nanny_report::parse`]). A weight message (`add`/`edit`/`del` on
    /// the wire) gives only the weight the nanny wants for its own real
    /// server, or its absence; the IPVS changes are composed from the
    /// configuration ([`Engine::wanted`]), quiesce included.
    pub fn nanny_report(&mut self, id: NannyId, report: Report, now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        let Some((vi, ri)) = self.listening(id) else {
            return out;
        };
        let v = &self.spec.virtuals[vi];
        let r = &v.reals[ri];
        let quiesce = r.quiesce;
        let own = (v.key, r.dest);
        let st = &mut self.vss[vi].reals[ri];
        match report {
            Report::State { up } => {
                st.protocol = true;
                if st.health != Some(up) {
                    st.changed = Some(now);
                }
                st.health = Some(up);
                if !up && st.wanted.is_some_and(|w| w > 0) {
                    // a failed server never keeps taking traffic
                    st.wanted = quiesce.then_some(0);
                }
            }
            Report::Result { pass } => {
                // for --status only: nothing to decide
                st.protocol = true;
                if st.result != Some(pass) {
                    st.result = Some(pass);
                    st.result_since = Some(now);
                }
                return out;
            }
            Report::Failed => {
                // for --status only: nothing to decide
                st.protocol = true;
                st.failures += 1;
                return out;
            }
            Report::Weight { target, .. } | Report::Removed { target } => {
                if place(target) != own {
                    out.push(Action::Log(format!(
                        "ignoring report from {} for another destination: {report}",
                        label(v, r)
                    )));
                    return out;
                }
                let w = report.weight().and_then(|(_, w)| w);
                st.protocol = true;
                if st.wanted != w {
                    st.changed = Some(now);
                }
                st.wanted = w;
            }
        }
        self.sync(vi, now, &mut out);
        out
    }

    /// A report line from a nanny that did not parse (a verb added to the
    /// protocol later is not one: the shell drops those).
    pub fn nanny_bad_report(&mut self, id: NannyId, error: &ParseError, line: &str) -> Vec<Action> {
        let Some((vi, ri)) = self.listening(id) else {
            return Vec::new();
        };
        let v = &self.spec.virtuals[vi];
        vec![Action::Log(format!(
            "ignoring report from {}: {error}: {line}",
            label(v, &v.reals[ri])
        ))]
    }

    /// A line of a nanny's stdout (not a report): passed through with
    /// `--nodaemon`; its `[ active ]`/`[inactive]` marker is the health of
    /// a nanny that does not speak the report protocol.
    pub fn nanny_output(&mut self, id: NannyId, line: &str, now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        let Some((vi, ri)) = self.listening(id) else {
            return out;
        };
        let v = &self.spec.virtuals[vi];
        let marker = if line.contains("[ active ]") {
            Some(true)
        } else if line.contains("[inactive]") {
            Some(false)
        } else {
            None
        };
        if self.opts.nodaemon && v.sorry.is_none() {
            out.push(Action::Echo(line.to_string()));
        }
        let Some(m) = marker else {
            return out;
        };
        let st = &mut self.vss[vi].reals[ri];
        if !st.protocol && st.marker != Some(m) {
            st.changed = Some(now);
        }
        st.marker = Some(m);
        self.sync(vi, now, &mut out);
        out
    }

    /// The real server whose nanny `id` is, unless lvsd is stopping or
    /// let that nanny go (its lines are then ignored).
    fn listening(&self, id: NannyId) -> Option<(usize, usize)> {
        if self.stopping {
            return None;
        }
        self.locate(id)
    }

    /// Whether the table can serve (what pulse waits for before it brings
    /// up the VIPs): no service is still being added, and every started
    /// virtual server has a destination with a weight in the kernel table
    /// or has had the first verdict of every monitored real server (one
    /// unreachable server does not hold the others back).
    pub fn ready(&self, now: Duration) -> bool {
        self.spec
            .virtuals
            .iter()
            .zip(&self.vss)
            .all(|(v, s)| match s.phase {
                Phase::Creating => false,
                Phase::Up => {
                    let serving = self
                        .installed
                        .get(&v.key)
                        .is_some_and(|i| i.dests.iter().any(|d| d.weight > 0));
                    serving || !self.first_verdicts_pending(v, s, now)
                }
                Phase::Inactive | Phase::Duplicate | Phase::Failed => true,
            })
    }

    /// The next time [`Engine::tick`] has something to decide (a first
    /// verdict that is due on a virtual server with a sorry server) or, in
    /// scale-out mode, the VIPs served may change without a report (a
    /// real server stops settling: [`Engine::serving_vips`]).
    pub fn next_wakeup(&self) -> Option<Duration> {
        let mut next: Option<Duration> = None;
        let mut due_at = |due: Duration| {
            if due > self.last_tick {
                next = Some(next.map_or(due, |n: Duration| n.min(due)));
            }
        };
        for (v, s) in self.spec.virtuals.iter().zip(&self.vss) {
            if s.phase != Phase::Up {
                continue;
            }
            for (r, st) in v.reals.iter().zip(&s.reals) {
                if st.role != Role::Monitored || !st.watched() {
                    continue;
                }
                if v.sorry.is_some() && st.health.is_none() {
                    due_at(st.since + r.first_verdict);
                }
                if self.spec.scale_out {
                    due_at(st.settle_deadline(r));
                }
            }
        }
        next
    }

    /// Time passed: sorry-server decisions whose first verdicts are due.
    pub fn tick(&mut self, now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        self.last_tick = self.last_tick.max(now);
        if self.stopping {
            return out;
        }
        for vi in 0..self.vss.len() {
            if self.spec.virtuals[vi].sorry.is_some() && self.vss[vi].phase == Phase::Up {
                self.sync(vi, now, &mut out);
            }
        }
        out
    }

    /// Decides the sorry server of `vi` (lvsd.md §6 with the D3 and
    /// start-up fixes).
    fn decide_sorry(&mut self, vi: usize, now: Duration, out: &mut Vec<Action>) {
        let v = &self.spec.virtuals[vi];
        let s = &self.vss[vi];
        let Some(sorry) = v.sorry else {
            return;
        };
        let watched: Vec<(&RsSpec, &RsState)> = v
            .reals
            .iter()
            .zip(&s.reals)
            .filter(|(_, st)| {
                st.role == Role::Monitored && !matches!(st.monitor, Monitor::Off | Monitor::Shown)
            })
            .collect();
        let available = watched
            .iter()
            .filter(|(r, st)| st.available(r, now))
            .count();
        let want = if watched.is_empty() || available > 0 {
            false
        } else if watched.iter().any(|(r, st)| st.pending(r, now)) {
            return; // decide on reported results only
        } else {
            true
        };
        if want == s.sorry_in {
            return;
        }
        let line = if want {
            format!(
                "Virtual Server {}: No real servers; activate sorry_server {sorry}",
                v.name
            )
        } else {
            format!(
                "Virtual Server {}: {available} real servers; deactivate sorry_server {sorry}",
                v.name
            )
        };
        out.push(Action::Notice(line));
        self.vss[vi].sorry_in = want;
    }

    /// The wanted content of virtual server `vi`'s service.
    fn desired(&self, vi: usize) -> VirtualService {
        let v = &self.spec.virtuals[vi];
        let s = &self.vss[vi];
        let mut seen = HashSet::new();
        let mut dests: Vec<Dest> = v
            .reals
            .iter()
            .zip(&s.reals)
            .filter(|(_, st)| st.role == Role::Monitored)
            .filter_map(|(r, st)| {
                let w = st.wanted?;
                seen.insert(r.dest)
                    .then(|| Dest::new(r.dest.addr, r.dest.port, v.forward).weight(w))
            })
            .collect();
        if s.sorry_in
            && let Some(dk) = v.sorry_dest()
            && seen.insert(dk)
        {
            dests.push(Dest::new(dk.addr, dk.port, v.forward).weight(1));
        }
        VirtualService {
            service: s.service.clone(),
            dests,
        }
    }

    /// The changes that bring virtual server `vi`'s service from what is
    /// installed to what is wanted.
    fn changes(&self, vi: usize) -> Vec<Op> {
        let key = self.spec.virtuals[vi].key;
        let Some(cur) = self.installed.get(&key) else {
            return Vec::new();
        };
        plan(
            std::slice::from_ref(&self.desired(vi)),
            std::slice::from_ref(cur),
            &BTreeSet::from([key]),
        )
    }

    /// Re-decides the sorry server of `vi` and queues the changes its
    /// service needs.
    fn sync(&mut self, vi: usize, now: Duration, out: &mut Vec<Action>) {
        if self.stopping || self.vss[vi].phase != Phase::Up {
            return;
        }
        self.decide_sorry(vi, now, out);
        let ops = self.changes(vi);
        if !ops.is_empty() {
            out.push(Action::Ipvs(ops));
        }
    }

    /// SIGTERM/SIGINT (lvsd.md §7, §8).
    pub fn terminate(&mut self, signal: i32) -> Vec<Action> {
        if self.stopping {
            return Vec::new();
        }
        let mut out = vec![Action::Log(format!("shutting down due to signal {signal}"))];
        out.extend(self.shutdown());
        out
    }

    /// Orderly shutdown: every active virtual server in file order, its
    /// nannies stopped (all at once) before its service is deleted; exit 0.
    fn shutdown(&mut self) -> Vec<Action> {
        if self.stopping {
            return Vec::new();
        }
        self.stopping = true;
        let mut out = Vec::new();
        let mut dels = Vec::new();
        for vi in 0..self.vss.len() {
            let v = &self.spec.virtuals[vi];
            if !matches!(self.vss[vi].phase, Phase::Up | Phase::Creating) {
                continue;
            }
            out.push(Action::Log(format!(
                "shutting down virtual service {}",
                v.name
            )));
            if self.installed.contains_key(&v.key) {
                self.removing.insert(v.key, v.name.clone());
                dels.push(Op::DelService(v.key));
            }
        }
        let ids: Vec<NannyId> = self.nannies.keys().copied().collect();
        let mut pids = Vec::new();
        for id in ids {
            if let Some(Action::Signal { pid, signal }) = self.let_go(id, libc::SIGTERM) {
                out.push(Action::Signal { pid, signal });
                pids.push(pid);
            }
        }
        pids.sort_unstable();
        if !pids.is_empty() {
            out.push(Action::AwaitExit(pids));
        }
        if !dels.is_empty() {
            out.push(Action::Ipvs(dels));
        }
        out.push(Action::Exit(0));
        out
    }

    /// SIGHUP with a configuration that parsed (lvsd.md §9, reconciled as
    /// a diff; see the module documentation).
    pub fn reload(&mut self, new: Spec, now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        if self.stopping {
            return out;
        }
        if new.timeouts != self.spec.timeouts {
            out.push(Action::SetTimeouts(new.timeouts));
        }
        let old_spec = std::mem::replace(&mut self.spec, new);
        let mut old_vss: Vec<Option<VsState>> = std::mem::take(&mut self.vss)
            .into_iter()
            .map(Some)
            .collect();
        let mut old_owner = std::mem::take(&mut self.by_key);

        // new virtual servers: carried over (same key, was up) or created
        let mut starts = Vec::new();
        let mut adds = Vec::new();
        let mut carried = Vec::new();
        let mut spawns: Vec<(usize, usize, Option<Resume>)> = Vec::new();
        let mut stops = Vec::new();
        self.vss = fresh(&self.spec, now);
        for vi in 0..self.spec.virtuals.len() {
            let key = self.spec.virtuals[vi].key;
            let old = if self.spec.virtuals[vi].active && !self.by_key.contains_key(&key) {
                old_owner
                    .get(&key)
                    .copied()
                    .filter(|&oi| old_vss[oi].as_ref().is_some_and(|s| s.phase == Phase::Up))
            } else {
                None
            };
            match old.and_then(|oi| Some((oi, old_vss[oi].take()?))) {
                Some((oi, st)) => {
                    old_owner.remove(&key);
                    self.by_key.insert(key, vi);
                    let changed =
                        self.carry(&old_spec.virtuals[oi], st, vi, now, &mut spawns, &mut stops);
                    carried.push((vi, changed));
                }
                None => adds.extend(self.begin_virtual(vi, &mut starts)),
            }
        }

        // old virtual servers that are gone
        let mut gone: Vec<usize> = old_owner.into_values().collect();
        gone.sort_unstable();
        let mut dels = Vec::new();
        for oi in gone {
            let Some(st) = old_vss[oi].take() else {
                continue;
            };
            if st.phase != Phase::Up {
                continue;
            }
            let v = &old_spec.virtuals[oi];
            out.push(Action::Log(format!(
                "shutting down virtual service {}",
                v.name
            )));
            stops.extend(st.reals.iter().filter_map(|r| r.nanny));
            if self.installed.contains_key(&v.key) {
                self.removing.insert(v.key, v.name.clone());
                dels.push(Op::DelService(v.key));
            }
        }
        out.extend(starts);
        for id in stops {
            out.extend(self.let_go(id, libc::SIGTERM));
        }

        let mut ops = dels;
        for &(vi, changed) in &carried {
            let mut notes = Vec::new();
            self.decide_sorry(vi, now, &mut notes);
            // an unchanged block with an unchanged sorry server needs
            // nothing: between events the installed table is the wanted one
            if changed || !notes.is_empty() {
                ops.extend(self.changes(vi));
            }
            out.extend(notes);
        }
        ops.extend(adds);
        if !ops.is_empty() {
            out.push(Action::Ipvs(ops));
        }
        for (vi, ri, resume) in spawns {
            let a = self.spawn(vi, ri, resume, now);
            out.push(a);
        }
        out
    }

    /// Carries the state of an old virtual server that is still up into
    /// slot `vi` of the new configuration; queues nanny starts and stops.
    /// Returns whether its block changed.
    fn carry(
        &mut self,
        old: &VsSpec,
        mut st: VsState,
        vi: usize,
        now: Duration,
        spawns: &mut Vec<(usize, usize, Option<Resume>)>,
        stops: &mut Vec<NannyId>,
    ) -> bool {
        let v = &self.spec.virtuals[vi];
        if old == v {
            // the same block: everything stays; only dead nannies restart
            for (ri, r) in st.reals.iter_mut().enumerate() {
                if r.role == Role::Monitored && r.monitor == Monitor::Dead {
                    spawns.push((vi, ri, r.resume()));
                }
            }
            self.vss[vi] = st;
            return false;
        }
        let mut old_rs: HashMap<RsId, (&RsSpec, RsState)> = old
            .reals
            .iter()
            .zip(st.reals)
            .filter(|(_, s)| s.role == Role::Monitored)
            .map(|(r, s)| (r.id, (r, s)))
            .collect();
        let new = &mut self.vss[vi];
        new.phase = Phase::Up;
        new.sorry_in = st.sorry_in && old.sorry == v.sorry;
        for (ri, r) in v.reals.iter().enumerate() {
            if new.reals[ri].role != Role::Monitored {
                continue;
            }
            let Some((o, mut s)) = old_rs.remove(&r.id) else {
                spawns.push((vi, ri, None));
                continue;
            };
            if o.weight != r.weight && s.wanted.is_some_and(|w| w > 0) {
                // a changed weight takes effect at once (SET_DEST)
                s.wanted = Some(r.settled_weight());
                s.changed = Some(now);
            }
            if !r.quiesce && s.wanted == Some(0) {
                // quiesce turned off: a failed server leaves the table
                s.wanted = None;
                s.changed = Some(now);
            }
            let restart = o.argv != r.argv || s.monitor == Monitor::Dead;
            if restart && s.monitor != Monitor::Off {
                if let Some(id) = s.nanny.take() {
                    stops.push(id);
                }
                spawns.push((vi, ri, s.resume()));
            } else if let Some(id) = s.nanny
                && let Some(n) = self.nannies.get_mut(&id)
            {
                n.owner = Some((v.key, r.id));
            }
            new.reals[ri] = s;
        }
        stops.extend(old_rs.into_values().filter_map(|(_, s)| s.nanny));
        true
    }

    /// What the status view ([`crate::status_view`]) reads: every
    /// virtual server of the configuration, in file order, as it stands at
    /// `now`.
    pub fn view(&self, now: Duration) -> impl Iterator<Item = VsView<'_>> {
        self.spec.virtuals.iter().zip(&self.vss).map(move |(v, s)| {
            let inst = self.installed.get(&v.key);
            VsView {
                spec: v,
                phase: s.phase,
                service: &s.service,
                sorry_active: s.sorry_in,
                reals: v
                    .reals
                    .iter()
                    .zip(&s.reals)
                    .map(|(r, st)| RsView {
                        spec: r,
                        role: st.role,
                        monitor: st.monitor,
                        pid: st
                            .nanny
                            .and_then(|id| self.nannies.get(&id))
                            .and_then(|n| n.pid),
                        health: st.effective_health(r, now),
                        pending: st.pending(r, now),
                        installed_weight: inst
                            .and_then(|i| i.dests.iter().find(|d| d.key() == r.dest))
                            .map(|d| d.weight),
                        result: st.result,
                        result_since: st.result_since,
                        changed: st.changed,
                        failures: st.failures,
                    })
                    .collect(),
            }
        })
    }

    /// The VIPs of the started virtual servers that have a real server
    /// with a weight above 0 in the installed table (the sorry server does
    /// not count) and, unless the VIP is in `served` (what was said
    /// before), no real server still settling ([`RsState::settling`]):
    /// what scale-out mode announces ([`crate::serving`]). Waiting for
    /// every real server to settle keeps a director that joins from
    /// announcing a table with fewer real servers than its peers', whose
    /// `mh` hashing would send moved flows elsewhere; a VIP once served
    /// stays served while it has a weighted real server.
    pub fn serving_vips(&self, now: Duration, served: &BTreeSet<IpAddr>) -> BTreeSet<IpAddr> {
        self.spec
            .virtuals
            .iter()
            .zip(&self.vss)
            .filter(|(_, s)| s.phase == Phase::Up)
            .filter(|(v, s)| {
                let sorry = v.sorry_dest();
                let weighted = self.installed.get(&v.key).is_some_and(|i| {
                    i.dests
                        .iter()
                        .any(|d| d.weight > 0 && Some(d.key()) != sorry)
                });
                weighted && (served.contains(&v.vip) || !self.settling(v, s, now))
            })
            .map(|(v, _)| v.vip)
            .collect()
    }

    /// Whether a monitored real server of `v` is still settling.
    fn settling(&self, v: &VsSpec, s: &VsState, now: Duration) -> bool {
        any_monitored(v, s, |r, st| st.settling(r, now))
    }

    /// Whether a monitored real server of `v` still waits for its first
    /// verdict.
    fn first_verdicts_pending(&self, v: &VsSpec, s: &VsState, now: Duration) -> bool {
        any_monitored(v, s, |r, st| st.pending(r, now))
    }

    /// The configuration in force, as the shell read it.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Reloads so far.
    pub fn reloads(&self) -> &Reloads {
        &self.reloads
    }
}

/// A virtual server as [`Engine::view`] shows it.
#[derive(Debug)]
pub struct VsView<'a> {
    /// Its configuration.
    pub spec: &'a VsSpec,
    /// Its phase.
    pub phase: Phase,
    /// The service settings wanted.
    pub service: &'a ipvs::Service,
    /// The sorry server is in the table.
    pub sorry_active: bool,
    /// Its real servers, in file order.
    pub reals: Vec<RsView<'a>>,
}

/// A real server as [`Engine::view`] shows it.
#[derive(Debug)]
pub struct RsView<'a> {
    /// Its configuration.
    pub spec: &'a RsSpec,
    /// Inactive, a duplicate, or monitored.
    pub role: Role,
    /// Its nanny.
    pub monitor: Monitor,
    /// The nanny's process.
    pub pid: Option<u32>,
    /// The health lvsd goes by (`None`: no verdict yet).
    pub health: Option<bool>,
    /// Still waiting for a first verdict.
    pub pending: bool,
    /// Its weight in the installed table (`None`: not in it).
    pub installed_weight: Option<u32>,
    /// Raw result of the latest check (true = pass).
    pub result: Option<bool>,
    /// When that raw result last changed (engine clock).
    pub result_since: Option<Duration>,
    /// Last change of health or weight (engine clock).
    pub changed: Option<Duration>,
    /// Checks that failed.
    pub failures: u64,
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "engine_props.rs"]
mod props;
