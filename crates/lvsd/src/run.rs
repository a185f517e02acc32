//! The shell around [`Engine`]: the start-up sequence (lvsd.md §2), daemon
//! mode, signals (§8), nanny processes and their pipes, the status socket,
//! and carrying out the engine's actions.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lvs_util::errtext;
use lvs_util::log::{Sink, syslog_info};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot};

use crate::cli::{self, Options, Parsed};
use crate::engine::{Action, Engine, NannyId};
use crate::kernel::Backend;
use crate::spec::{self, Flags, Spec};
use crate::status::{self, Format};
use crate::{ipvsadm, procs};

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
    let Some(parsed) = lvscf::load_for_daemon("lvs", &file) else {
        return 1;
    };
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
    for f in lvscf::validate_for_lvsd(&parsed.config, &file) {
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
    let code = rt.block_on(serve(opts.clone(), spec));
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
        Backend::Print {
            ipvsadm: spec.ipvsadm.clone(),
            log,
        }
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

fn status_main(opts: &Options) -> i32 {
    let format = if opts.json {
        Format::Json
    } else {
        Format::Text
    };
    match status::query(&opts.status_socket, format) {
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

/// What reaches the loop besides signals.
enum Event {
    /// A line from nanny `id`'s pipe.
    Line(NannyId, String),
    /// A status request.
    Status(Format, oneshot::Sender<String>),
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
}

impl Shell {
    fn now(&self) -> Duration {
        self.start.elapsed()
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
    /// everything stays as it is.
    async fn reload(&mut self) -> Option<i32> {
        tracing::info!("rereading configuration file");
        let file = &self.opts.configfile;
        let begin = Instant::now();
        let parsed = match lvscf::parse_file(file) {
            Ok(p) => p,
            Err(lvscf::LoadError::Open { source, .. }) => {
                tracing::info!("lvs: failed to open {file}");
                tracing::info!(
                    "reload refused: {file}: {}; keeping the running configuration",
                    errtext(&source)
                );
                return None;
            }
            Err(lvscf::LoadError::Parse(e)) => {
                tracing::info!("lvs: error parsing {file} on line {}.\n", e.line());
                tracing::info!("reload refused: {e}; keeping the running configuration");
                return None;
            }
        };
        for w in &parsed.warnings {
            tracing::info!("{w}");
        }
        for f in lvscf::validate_for_lvsd(&parsed.config, file) {
            tracing::info!("{f}");
        }
        let spec = spec::build(&parsed.config, flags(&self.opts));
        (self.ops, self.started, self.stopped) = (0, 0, 0);
        let actions = self.engine.reload(spec, self.now());
        let code = self.perform(actions).await;
        tracing::info!(
            "configuration reloaded: {} IPVS changes, {} nannies started, {} stopped ({} ms)",
            self.ops,
            self.started,
            self.stopped,
            begin.elapsed().as_millis()
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

/// The status socket: binds `path` (replacing a stale socket file, never
/// one a live lvsd answers on) with mode 0600.
fn bind_status(path: &str) -> std::io::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt as _;
    if std::path::Path::new(path).exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "another lvsd answers on it",
            ));
        }
        std::fs::remove_file(path)?;
    }
    let l = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

async fn status_client(stream: tokio::net::UnixStream, tx: mpsc::UnboundedSender<Event>) {
    let (r, mut w) = stream.into_split();
    let mut line = String::new();
    let mut r = tokio::io::BufReader::new(r);
    let read = tokio::time::timeout(Duration::from_secs(5), r.read_line(&mut line)).await;
    let answer = match read {
        Ok(Ok(_)) => match Format::from_request(&line) {
            Some(f) => {
                let (otx, orx) = oneshot::channel();
                if tx.send(Event::Status(f, otx)).is_err() {
                    return;
                }
                orx.await.unwrap_or_default()
            }
            None => "unknown request: expected text or json\n".to_string(),
        },
        _ => return,
    };
    let _ = w.write_all(answer.as_bytes()).await;
    let _ = w.shutdown().await;
}

fn wall() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Steps 5–7: signals, the virtual servers, the loop.
async fn serve(opts: Options, spec: Spec) -> i32 {
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
    let status_path = opts.status_socket.clone();
    let listener = match bind_status(&status_path) {
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
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                tokio::spawn(status_client(s, tx.clone()));
            }
        });
    }
    let engine = Engine::new(
        spec.clone(),
        crate::engine::Options {
            test_start: opts.test_start,
            nodaemon: opts.nodaemon,
        },
    );
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
    };
    let first = sh.engine.start(sh.now());
    let mut code = sh.perform(first).await;
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
                Event::Line(id, line) => sh.engine.nanny_line(id, &line, sh.now()),
                Event::Status(f, reply) => {
                    let st = sh.engine.status(sh.now(), wall());
                    let _ = reply.send(status::render(&st, f));
                    Vec::new()
                }
            },
            _ = sleep => sh.engine.tick(sh.now()),
        };
        code = sh.perform(actions).await;
    }
    if bound {
        let _ = std::fs::remove_file(&status_path);
    }
    code.unwrap_or(0)
}
