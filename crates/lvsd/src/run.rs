//! The shell around [`Engine`]: the start-up sequence (lvsd.md §2), daemon
//! mode, signals (§8), nanny processes and their pipes, the status socket,
//! and carrying out the engine's actions.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ipvs::ServiceKey;
use lvs_util::errtext;
use lvs_util::log::{Sink, syslog_info};
use lvs_util::status_socket;
use nanny_report::ParseError;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot};

use crate::cli::{self, Options, Parsed};
use crate::engine::{Action, Engine, NannyId, Status};
use crate::kernel::{Backend, TableSource};
use crate::spec::{self, Flags, Spec};
use crate::status::{self, Format, Request};
use crate::{config, ipvsadm, procs, status_view};

/// Default pid file (note: `lvs`, not `lvsd`).
pub const PID_FILE: &str = "/var/run/lvs.pid";

/// How long shutdown waits for nannies before killing them.
const NANNY_GRACE: Duration = Duration::from_secs(10);

/// The pid file: [`PID_FILE`], or `$LVS_PID_FILE` (for tests that run
/// several lvsd on one machine).
pub fn pid_file() -> PathBuf {
    lvs_util::daemon::pid_file(PID_FILE, "LVS_PID_FILE")
}

/// Runs lvsd with `argv`; returns the exit status.
pub fn main(argv: Vec<OsString>) -> i32 {
    let opts = match cli::parse(argv) {
        Parsed::Run(o) => o,
        Parsed::Status(o) => return status_main(&o),
        Parsed::Print(text) => {
            print!("{text}");
            return 0;
        }
        Parsed::Fail(line) => {
            eprintln!("{line}");
            return 1;
        }
    };
    let file = opts.configfile.clone();
    let loaded = match lvscf::load_file(&file) {
        Ok(l) => l,
        Err(e) => {
            let r = lvscf::startup::load_refusal("lvs", &file, &e);
            if let Some(whole) = &r.syslog {
                lvs_util::log::syslog_info(whole);
            }
            eprintln!("{}", r.stderr);
            return 1;
        }
    };
    let in_force = config::status_config(&loaded, &file);
    let parsed = loaded.parsed;
    if opts.nodaemon {
        lvs_util::log::init("lvs", Sink::Stdout, false);
    }
    let flags = flags(&opts);
    let spec = spec::build(&parsed.config, flags);

    // Steps 2 and 3 happen before daemonizing, with a runtime of their own
    // (a process must not fork with a runtime running).
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(prepare_table(&opts, &spec)),
        Err(e) => early_log(&opts, &format!("cannot start the runtime: {e}")),
    }

    if !opts.nodaemon
        && let Err(e) = lvs_util::daemon::daemonize(opts.nofork, &pid_file(), "lvsd", false)
    {
        eprintln!("lvs: fork failed: {e}");
        return 1;
    }
    for w in &parsed.warnings {
        tracing::info!("{w}");
    }
    for f in lvscf::startup::lvsd(&parsed.config, &file).warnings {
        tracing::info!("{f}");
    }
    raise_fd_limit();

    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::info!("cannot start the runtime: {e}");
            return 1;
        }
    };
    let code = rt.block_on(serve(opts.clone(), spec, in_force));
    if !opts.nodaemon {
        let _ = std::fs::remove_file(pid_file());
    }
    code
}

fn flags(opts: &Options) -> Flags {
    Flags {
        nodaemon: opts.nodaemon,
        verbose: opts.verbose,
        quotes: lvscf::QuoteMode::from_flag(opts.keep_single_quotes),
    }
}

/// Before daemonizing and `openlog`, messages go to stdout with
/// `--nodaemon` and otherwise to syslog with the default identity
/// (lvsd.md §2 step 4).
fn early_log(opts: &Options, msg: &str) {
    if opts.nodaemon {
        log_info(msg);
    } else {
        syslog_info(msg);
    }
}

/// Logs through the installed `tracing` subscriber.
fn log_info(msg: &str) {
    tracing::info!("{msg}");
}

/// The IPVS backend; `log` takes the `--test-start` lines.
async fn backend(opts: &Options, spec: &Spec, log: fn(&str)) -> Backend {
    if opts.test_start {
        Backend::print(&spec.ipvsadm, log)
    } else {
        Backend::connect().await
    }
}

/// lvsd.md §2 steps 2–3: the timeouts (always), then `ipvsadm -C`, or with
/// `--owned-only` only the services lvs.cf defines (gaps.md D4).
async fn prepare_table(opts: &Options, spec: &Spec) {
    let log: fn(&str) = if opts.nodaemon { log_info } else { syslog_info };
    let b = backend(opts, spec, log).await;
    if let Err(e) = b.set_timeouts(spec.timeouts).await {
        let [t, f, u] = spec.timeouts;
        early_log(
            opts,
            &format!("ipvsadm failed to set timeouts ({t} {f} {u})"),
        );
        early_log(opts, &e.message);
    }
    if opts.owned_only {
        let mut keys: Vec<ipvs::ServiceKey> = spec.virtuals.iter().map(|v| v.key).collect();
        keys.sort();
        keys.dedup();
        if let Err(e) = b.delete_services(&keys).await {
            early_log(
                opts,
                &format!("removing the services of lvs.cf failed: {}", e.message),
            );
        }
    } else {
        // the exit status of `ipvsadm -C` is ignored
        let _ = b.flush().await;
    }
}

fn raise_fd_limit() {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 && l.rlim_cur < l.rlim_max {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

/// The status socket: `--status-socket`, or when that is left at its
/// default `$LVS_STATUS_SOCKET` (for tests that run several lvsd on one
/// machine, as `$LVS_PID_FILE`).
fn status_path(opts: &Options) -> String {
    match std::env::var("LVS_STATUS_SOCKET") {
        Ok(p) if opts.status_socket == cli::STATUS_SOCKET && !p.is_empty() => p,
        _ => opts.status_socket.clone(),
    }
}

fn status_main(opts: &Options) -> i32 {
    let format = if opts.json {
        Format::Json
    } else {
        Format::Text
    };
    match status::query(&status_path(opts), format) {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(e) => {
            eprintln!("lvs: cannot get the status of lvsd: {e}");
            1
        }
    }
}

/// One line from nanny `id`'s pipe (its report descriptor and its
/// stdout), parsed here into what the engine takes: a report, a broken
/// report line (logged), the nanny's ordinary output, or nothing (a verb
/// added to the protocol later).
pub(crate) fn nanny_line(
    engine: &mut Engine,
    id: NannyId,
    line: &str,
    now: Duration,
) -> Vec<Action> {
    match nanny_report::parse(line) {
        Ok(report) => engine.nanny_report(id, report, now),
        Err(ParseError::Version) => engine.nanny_output(id, line, now),
        Err(ParseError::Verb(_)) => Vec::new(),
        Err(e) => engine.nanny_bad_report(id, &e, line),
    }
}

/// What reaches the loop besides signals.
enum Event {
    /// A line from nanny `id`'s pipe (see [`nanny_line`]).
    Line(NannyId, String),
    /// A status request: a snapshot, please.
    Status(oneshot::Sender<Status>),
    /// A `stats` request: the lvs.cf names of the services and where to
    /// read the table, please (the reading happens outside the loop).
    Stats(oneshot::Sender<(HashMap<ServiceKey, String>, TableSource)>),
    /// pulse (warm standby) says we are now the standby (`true`) or the
    /// active router (`false`).
    Standby(bool),
    /// pulse's socket closed: pulse ended without stopping us.
    PulseGone,
}

/// Carries out the engine's actions.
struct Shell {
    engine: Engine,
    backend: Backend,
    opts: Options,
    tx: mpsc::UnboundedSender<Event>,
    start: Instant,
    /// IPVS changes applied (for the reload summary).
    ops: usize,
    started: usize,
    stopped: usize,
    /// Warm standby: the partner holds the VIPs.
    standby: bool,
    /// pulse's socket closed.
    pulse_gone: bool,
    /// Lines to pulse's socket (written in order by [`write_pulse`]).
    to_pulse: Option<mpsc::UnboundedSender<String>>,
    /// `ready` has been said.
    ready_said: bool,
    /// The `serving`/`idle` state pulse has been told.
    said: crate::serving::Said,
}

impl Shell {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Says `ready` to pulse once the table can serve (see
    /// [`Engine::ready`]); pulse brings up the VIPs then. In scale-out mode
    /// also `serving VIP` / `idle VIP` whenever the VIPs the table serves
    /// change ([`crate::serving`]).
    fn tell_pulse(&mut self) {
        let Some(tx) = &self.to_pulse else {
            return;
        };
        if !self.ready_said && self.engine.ready(self.now()) {
            self.ready_said = true;
            let _ = tx.send("ready".into());
        }
        if self.engine.spec().scale_out {
            let now_serving = crate::serving::vips(&self.engine, self.now(), &self.said);
            for line in self.said.update(now_serving) {
                tracing::debug!("telling pulse: {line}");
                let _ = tx.send(line);
            }
        }
    }

    /// Performs `actions` in order; the results of IPVS changes and spawns
    /// go back to the engine and their follow-ups run first. Returns the
    /// exit status once the engine asks to exit.
    async fn perform(&mut self, actions: Vec<Action>) -> Option<i32> {
        let mut queue: VecDeque<Action> = actions.into();
        while let Some(a) = queue.pop_front() {
            let more = match a {
                Action::Log(m) => {
                    tracing::info!("{m}");
                    continue;
                }
                Action::Notice(m) => {
                    print_line(&m);
                    if !self.opts.nodaemon {
                        tracing::info!("{m}");
                    }
                    continue;
                }
                Action::Echo(line) => {
                    print_line(&line);
                    continue;
                }
                Action::SetTimeouts(t) => {
                    if let Err(e) = self.backend.set_timeouts(t).await {
                        let [a, b, c] = t;
                        tracing::info!("ipvsadm failed to set timeouts ({a} {b} {c})");
                        tracing::info!("{}", e.message);
                    }
                    continue;
                }
                Action::Ipvs(ops) => {
                    let results = self.backend.apply(&ops).await;
                    self.ops += ops.len();
                    self.engine.ipvs_done(&ops, &results, self.now())
                }
                Action::Spawn { id, argv, resume } => {
                    let result = match procs::spawn(&argv, resume) {
                        Ok(s) => {
                            let tx = self.tx.clone();
                            tokio::spawn(procs::read_lines(s.pipe, move |l| {
                                let _ = tx.send(Event::Line(id, l));
                            }));
                            self.started += 1;
                            Ok(s.pid)
                        }
                        Err(e) => Err(format!(
                            "{}: {}",
                            argv.first().map_or("", String::as_str),
                            errtext(&e)
                        )),
                    };
                    self.engine.nanny_spawned(id, result, self.now())
                }
                Action::ShowNanny(argv) => {
                    tracing::info!("test-start: {}", ipvsadm::command_line(&argv));
                    continue;
                }
                Action::Signal { pid, signal } => {
                    lvs_util::process::signal(pid, signal);
                    self.stopped += 1;
                    continue;
                }
                Action::AwaitExit(pids) => {
                    await_exit(pids).await;
                    continue;
                }
                Action::Exit(code) => return Some(code),
            };
            for (i, a) in more.into_iter().enumerate() {
                queue.insert(i, a);
            }
        }
        None
    }

    /// SIGHUP: re-read lvs.cf; a file that does not load is refused and
    /// everything stays as it is. Both count in the status's `reloads`;
    /// an applied reload's duration runs from reading the file to the end
    /// of its changes.
    async fn reload(&mut self) -> Option<i32> {
        tracing::info!("rereading configuration file");
        let file = self.opts.configfile.clone();
        let begin = Instant::now();
        let loaded = match lvscf::load_file(&file) {
            Ok(l) => l,
            Err(lvscf::LoadError::Open { source, .. }) => {
                tracing::info!("lvs: failed to open {file}");
                tracing::info!(
                    "reload refused: {file}: {}; keeping the running configuration",
                    errtext(&source)
                );
                self.engine.reload_refused();
                return None;
            }
            Err(lvscf::LoadError::Parse(e)) => {
                tracing::info!("lvs: error parsing {file} on line {}.\n", e.line());
                tracing::info!("reload refused: {e}; keeping the running configuration");
                self.engine.reload_refused();
                return None;
            }
        };
        let parsed = &loaded.parsed;
        for w in &parsed.warnings {
            tracing::info!("{w}");
        }
        for f in lvscf::startup::lvsd(&parsed.config, &file).warnings {
            tracing::info!("{f}");
        }
        let spec = spec::build(&parsed.config, flags(&self.opts));
        (self.ops, self.started, self.stopped) = (0, 0, 0);
        let actions = self.engine.reload(spec, self.now());
        let code = self.perform(actions).await;
        let took = begin.elapsed();
        self.engine
            .reload_applied(config::status_config(&loaded, &file), took);
        tracing::info!(
            "configuration reloaded: {} IPVS changes, {} nannies started, {} stopped ({} ms)",
            self.ops,
            self.started,
            self.stopped,
            took.as_millis()
        );
        code
    }
}

/// Writes one line to stdout at once.
fn print_line(line: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Waits until every process in `pids` has been reaped; after
/// [`NANNY_GRACE`] the rest are killed.
async fn await_exit(pids: Vec<u32>) {
    let mut left: std::collections::HashSet<u32> = pids.into_iter().collect();
    let end = Instant::now() + NANNY_GRACE;
    let mut killed = false;
    while !left.is_empty() {
        for pid in procs::reap() {
            left.remove(&pid);
        }
        if left.is_empty() {
            break;
        }
        if Instant::now() >= end && !killed {
            for &pid in &left {
                lvs_util::process::signal(pid, libc::SIGKILL);
            }
            killed = true;
        } else if Instant::now() >= end + Duration::from_secs(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Answers one request on the status socket. The loop only takes a
/// snapshot (or, for `stats`, hands out the service names and where to
/// read the table); rendering and reading the table happen here, in the
/// connection's own task. `None` (nothing is written) once the loop is
/// gone.
async fn answer(request: String, tx: mpsc::UnboundedSender<Event>) -> Option<String> {
    match Request::parse(&request) {
        Some(Request::Status(format)) => {
            let (otx, orx) = oneshot::channel();
            tx.send(Event::Status(otx)).ok()?;
            Some(status::render(&orx.await.ok()?, format))
        }
        Some(Request::Stats) => {
            let (otx, orx) = oneshot::channel();
            tx.send(Event::Stats(otx)).ok()?;
            let (names, source) = orx.await.ok()?;
            let dump = source.dump().await;
            Some(status::render_stats(&status::table_stats(
                dump,
                &names,
                wall(),
            )))
        }
        None => Some(status::UNKNOWN_REQUEST.to_string()),
    }
}

/// What a line from pulse's socket says: `active` or `standby`.
pub fn role_line(line: &str) -> Option<bool> {
    match line.trim() {
        "active" => Some(false),
        "standby" => Some(true),
        _ => None,
    }
}

/// pulse's socket (`--pulse-fd`), made close-on-exec so that the
/// nannies do not inherit it.
fn pulse_socket(fd: i32) -> std::io::Result<tokio::net::UnixStream> {
    use std::os::fd::FromRawFd as _;
    // SAFETY: fcntl on a descriptor number; a bad one only fails.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pulse passed this descriptor for us alone (it is open, the
    // fcntl above says so); nothing else in this process uses it.
    let s = unsafe { std::os::unix::net::UnixStream::from_raw_fd(fd) };
    s.set_nonblocking(true)?;
    tokio::net::UnixStream::from_std(s)
}

/// Writes the lines for pulse, in order, each in one write; stops when
/// the socket fails (pulse gone: the reader says so).
async fn write_pulse(
    mut w: tokio::net::unix::OwnedWriteHalf,
    mut lines: mpsc::UnboundedReceiver<String>,
) {
    use tokio::io::AsyncWriteExt as _;
    while let Some(line) = lines.recv().await {
        if let Err(e) = w.write_all(format!("{line}\n").as_bytes()).await {
            tracing::debug!("cannot tell pulse {line:?}: {}", errtext(&e));
            return;
        }
    }
}

/// Reads role changes from pulse's socket until it closes.
async fn read_pulse(r: tokio::net::unix::OwnedReadHalf, tx: mpsc::UnboundedSender<Event>) {
    use tokio::io::AsyncBufReadExt as _;
    let mut lines = tokio::io::BufReader::new(r).lines();
    loop {
        match lines.next_line().await {
            Ok(Some(line)) => match role_line(&line) {
                Some(standby) => {
                    let _ = tx.send(Event::Standby(standby));
                }
                None => tracing::info!("ignoring {line:?} from pulse"),
            },
            Ok(None) | Err(_) => {
                let _ = tx.send(Event::PulseGone);
                return;
            }
        }
    }
}

/// Accepts status clients for as long as lvsd runs, one task each.
async fn accept_status(l: tokio::net::UnixListener, tx: mpsc::UnboundedSender<Event>) {
    loop {
        match l.accept().await {
            Ok((s, _)) => {
                let tx = tx.clone();
                tokio::spawn(status_socket::serve(s, move |req| answer(req, tx)));
            }
            // out of descriptors, say: try again a little later
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn wall() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Steps 5–7: signals, the virtual servers, the loop.
async fn serve(opts: Options, spec: Spec, in_force: crate::engine::Config) -> i32 {
    let signals = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
        signal(SignalKind::child()),
    );
    let (Ok(mut term), Ok(mut int), Ok(mut hup), Ok(mut chld)) = signals else {
        tracing::info!("cannot install signal handlers");
        return 1;
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let status_path = status_path(&opts);
    let listener = match status_socket::bind(&status_path, "lvsd") {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::info!(
                "status socket {status_path}: {}; --status will not work",
                errtext(&e)
            );
            None
        }
    };
    let bound = listener.is_some();
    if let Some(l) = listener {
        tokio::spawn(accept_status(l, tx.clone()));
    }
    let mut to_pulse = None;
    if let Some(fd) = opts.pulse_fd {
        match pulse_socket(fd) {
            Ok(sock) => {
                let (r, w) = sock.into_split();
                tokio::spawn(read_pulse(r, tx.clone()));
                let (lines, rx) = mpsc::unbounded_channel();
                tokio::spawn(write_pulse(w, rx));
                to_pulse = Some(lines);
            }
            Err(e) => tracing::info!(
                "--pulse-fd={fd}: {}; pulse will not hear from lvsd",
                errtext(&e)
            ),
        }
    }
    let standby = opts.standby;
    if standby {
        tracing::info!("starting as the warm standby: the partner holds the VIPs");
    }
    let mut engine = Engine::new(
        spec.clone(),
        crate::engine::Options {
            test_start: opts.test_start,
            nodaemon: opts.nodaemon,
        },
    );
    engine.set_config(in_force);
    let backend = backend(&opts, &spec, log_info).await;
    let mut sh = Shell {
        engine,
        backend,
        opts,
        tx,
        start: Instant::now(),
        ops: 0,
        started: 0,
        stopped: 0,
        standby,
        pulse_gone: false,
        to_pulse,
        ready_said: false,
        said: Default::default(),
    };
    let first = sh.engine.start(sh.now());
    let mut code = sh.perform(first).await;
    sh.tell_pulse();
    while code.is_none() {
        let wake = sh.engine.next_wakeup().map(|d| sh.start + d);
        let sleep = async move {
            match wake {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        let actions = tokio::select! {
            _ = term.recv() => sh.engine.terminate(libc::SIGTERM),
            _ = int.recv() => sh.engine.terminate(libc::SIGINT),
            _ = hup.recv() => {
                code = sh.reload().await;
                continue;
            }
            _ = chld.recv() => {
                let now = sh.now();
                let mut acts = Vec::new();
                for pid in procs::reap() {
                    acts.extend(sh.engine.child_exited(pid, now));
                }
                acts
            }
            Some(ev) = rx.recv() => match ev {
                Event::Line(id, line) => {
                    let now = sh.now();
                    nanny_line(&mut sh.engine, id, &line, now)
                }
                Event::Status(reply) => {
                    let mut st = status_view::status(&sh.engine, sh.now(), wall());
                    st.pid = std::process::id();
                    st.role = if sh.standby { "standby" } else { "active" }.into();
                    st.pulse_gone = sh.pulse_gone;
                    let _ = reply.send(st);
                    Vec::new()
                }
                Event::Standby(standby) => {
                    if standby != sh.standby {
                        sh.standby = standby;
                        tracing::info!(
                            "{}",
                            if standby {
                                "now the warm standby: the partner holds the VIPs"
                            } else {
                                "now active: this router holds the VIPs"
                            }
                        );
                    }
                    Vec::new()
                }
                Event::PulseGone => {
                    sh.pulse_gone = true;
                    tracing::info!("pulse has gone without stopping lvsd: keeping the table as it is");
                    Vec::new()
                }
                Event::Stats(reply) => {
                    let _ = reply.send((sh.engine.service_names(), sh.backend.table_source()));
                    Vec::new()
                }
            },
            _ = sleep => sh.engine.tick(sh.now()),
        };
        code = sh.perform(actions).await;
        sh.tell_pulse();
    }
    if bound {
        let _ = std::fs::remove_file(&status_path);
    }
    code.unwrap_or(0)
}
