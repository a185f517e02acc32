//! `pulse`: heartbeat and failover daemon for a pair of LVS routers
//! (pulse.md). This file is the start-up sequence of §2; the loop lives in
//! `pulse::run`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

use lvs_util::log::Sink;
use pulse::auth::{self, Auth, AuthMode, Signer};
use pulse::cli::{self, Options};
use pulse::config::{self, PulseConfig};
use pulse::daemon::{self, Notifier};
use pulse::heartbeat::{Mode, Partner};
use pulse::machine::{Machine, Settings};
use pulse::procs::{FosCommand, LvsdCommand};
use pulse::run::{self, Shell};

fn fail(text: &str) -> ExitCode {
    eprintln!("{text}");
    ExitCode::from(1)
}

/// The pid file of a daemonized pulse, removed when dropped.
struct PidFile(Option<std::path::PathBuf>);

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Daemon mode (unless `-n`, or under systemd's notify protocol): fork,
/// the pid file, stdio detached; then Piranha-style logging to syslog
/// (daemon) or stdout. Gives the notifier and the pid file (removed when
/// dropped).
fn detach(opts: &Options) -> Result<(Option<Notifier>, PidFile), ExitCode> {
    let notifier = Notifier::from_env();
    let daemon_mode = !opts.nodaemon;
    let pid_file = daemon::pid_file();
    if daemon_mode
        && notifier.is_none()
        && let Err(e) = daemon::daemonize()
    {
        return Err(fail(&format!(
            "pulse: cannot fork: {}",
            lvs_util::errtext(&e)
        )));
    }
    if daemon_mode {
        daemon::write_pid_file(&pid_file);
        daemon::detach_stdio();
    }
    let sink = if daemon_mode {
        Sink::Syslog
    } else {
        Sink::Stdout
    };
    lvs_util::log::init_stdout_max(
        "pulse",
        sink,
        opts.verbose,
        lvs_util::log::STDOUT_MESSAGE_MAX,
    );
    Ok((notifier, PidFile(daemon_mode.then_some(pid_file))))
}

/// Runs the daemon's loop on a single-threaded runtime; its exit status.
fn block_on<F: std::future::Future<Output = u8>>(run: impl FnOnce() -> F) -> u8 {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(run()),
        Err(e) => {
            tracing::info!("cannot start the runtime: {}", lvs_util::errtext(&e));
            255
        }
    }
}

/// How pulse runs lvsd (either mode).
fn lvsd_command(opts: &Options) -> LvsdCommand {
    LvsdCommand {
        path: opts.lvsd.clone(),
        config: opts.configfile.clone(),
        nodaemon: opts.nodaemon,
        verbose: opts.verbose,
        extra: env_options("LVSD_OPTIONS"),
    }
}

/// Logs a message before logging is set up (the original logged these
/// before `openlog`): to stdout with `-n`, else to syslog with the default
/// identity and facility.
fn early_log(nodaemon: bool, msg: &str) {
    if nodaemon {
        print!(
            "{}",
            lvs_util::log::stdout_line("pulse", msg, Some(lvs_util::log::STDOUT_MESSAGE_MAX))
        );
    } else {
        lvs_util::log::syslog_info(msg);
    }
}

/// How long a busy heartbeat address is retried at start-up.
const BIND_PATIENCE: std::time::Duration = std::time::Duration::from_secs(1);

/// Binds a heartbeat socket. A pulse that has just exited can leave its
/// socket bound for some milliseconds (a hook it started last holds a copy
/// until the hook's exec has closed it), so a restart retries a busy
/// address for up to [`BIND_PATIENCE`]; another pulse that really holds it
/// still fails, a second later.
fn bind_heartbeat(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let end = std::time::Instant::now() + BIND_PATIENCE;
    loop {
        match UdpSocket::bind(addr) {
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse && std::time::Instant::now() < end =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            r => return r,
        }
    }
}

fn main() -> ExitCode {
    let opts = match cli::parse(std::env::args_os()).or_exit() {
        Ok(o) => o,
        Err(code) => return ExitCode::from(code),
    };
    if opts.asks_status() {
        use pulse::status_server::{Format, query_main};
        let format = if opts.json {
            Format::Json
        } else {
            Format::Text
        };
        return ExitCode::from(query_main(&opts.status_socket, format));
    }
    if opts.withdraw {
        // ExecStopPost: only lvs.cf matters (any other option is ignored).
        return match lvscf::load_file(&opts.configfile) {
            Ok(l) => ExitCode::from(pulse::scale_out::withdraw_main(&l.parsed.config)),
            Err(e) => fail(&lvscf::startup::pulse_load_refusal(&opts.configfile, &e).stderr),
        };
    }
    let (auth, signer) = match heartbeat_auth(&opts) {
        Ok(a) => a,
        Err(text) => return fail(&text),
    };
    let file = opts.configfile.clone();
    let lvscf::Loaded {
        parsed,
        fingerprint: loaded,
    } = match lvscf::load_file(&file) {
        Ok(l) => l,
        Err(e) => {
            let r = lvscf::startup::pulse_load_refusal(&file, &e);
            if let Some(whole) = &r.syslog {
                lvs_util::log::syslog_info(whole);
            }
            return fail(&r.stderr);
        }
    };
    // What lvs.cf means, and every message about it, is lvscf's.
    let verdict = lvscf::startup::pulse(&parsed.config, &file);
    if verdict.refused() {
        eprint!("{}", verdict.report("pulse"));
        return ExitCode::from(1);
    }
    if parsed.config.global.scale_out {
        return scale_out_main(opts, parsed, loaded, verdict);
    }
    let mut cfg = match config::from_lvscf(&parsed.config) {
        Ok(c) => c,
        Err(text) => return fail(&format!("pulse: {file}: {text}")),
    };
    let (master, unreadable) = pulse::netif::role(cfg.primary);
    if let Some(msg) = unreadable {
        early_log(opts.nodaemon, msg);
    }
    if cfg.backup_active && cfg.backup.is_unspecified() {
        // logged below (lvscf's UndefinedBackupActive warning)
        cfg.backup_active = false;
    }
    let (early_logs, warnings): (Vec<_>, Vec<_>) = verdict
        .warnings
        .into_iter()
        .partition(|f| f.kind == lvscf::FindingKind::UndefinedBackupActive);
    let (own, own_private, peer, peer_private) = if master {
        (
            cfg.primary,
            cfg.primary_private,
            cfg.backup,
            cfg.backup_private,
        )
    } else {
        (
            cfg.backup,
            cfg.backup_private,
            cfg.primary,
            cfg.primary_private,
        )
    };
    let bind = |ip: IpAddr| bind_heartbeat(SocketAddr::new(ip, cfg.heartbeat_port));
    let sockets = bind(own).and_then(|p| {
        let q = if cfg.has_private() {
            Some(bind(own_private)?)
        } else {
            None
        };
        p.set_nonblocking(true)?;
        if let Some(q) = &q {
            q.set_nonblocking(true)?;
        }
        Ok((p, q))
    });
    let (public, private) = match sockets {
        Ok(s) => s,
        Err(e) => {
            let msg = format!(
                "failed to bind to heartbeat address: {}",
                lvs_util::errtext(&e)
            );
            early_log(opts.nodaemon, &msg);
            return fail("pulse: cannot create heartbeat socket. running as root?");
        }
    };

    let (notifier, _pid_file) = match detach(&opts) {
        Ok(d) => d,
        Err(code) => return code,
    };
    for l in early_logs {
        tracing::info!("{l}");
    }
    if !master && !cfg.backup_active {
        tracing::info!("We are backup node and backup is marked inactive -- exiting pulse");
        return ExitCode::from(255);
    }
    tracing::info!(
        "STARTING PULSE AS {}",
        if master { "MASTER" } else { "BACKUP" }
    );
    for w in &parsed.warnings {
        tracing::info!("{w}");
    }
    for w in warnings {
        tracing::info!("{w}");
    }
    let watched = watched_files(&opts, &cfg, &parsed.config);
    for w in pulse::files::warnings(watched.iter().map(String::as_str)) {
        tracing::info!("{w}");
    }
    match &auth {
        Some(a) => tracing::info!(
            "heartbeat authentication {} with {} key(s) from {}",
            a.mode.name(),
            a.keys.len(),
            opts.heartbeat_key.as_deref().unwrap_or("?")
        ),
        None => tracing::debug!("heartbeats are not authenticated (no --heartbeat-key)"),
    }
    let code = start(
        opts,
        (auth, signer),
        loaded,
        cfg,
        master,
        public,
        private,
        (peer, peer_private),
        notifier,
    );
    ExitCode::from(code)
}

/// Scale-out mode (`scale_out = 1`, docs/scale-out.md): lvscf's verdict,
/// this host among `scale_out_members`, then daemon set-up as below and
/// [`pulse::scale_out::run`] instead of the heartbeat loop.
fn scale_out_main(
    opts: Options,
    parsed: lvscf::Parsed,
    loaded: lvscf::Fingerprint,
    verdict: lvscf::startup::Verdict,
) -> ExitCode {
    let file = opts.configfile.clone();
    let own = pulse::scale_out::own_addresses();
    if let Some(f) = lvscf::startup::scale_out_member(&parsed.config, &file, |a| own.contains(&a)) {
        return fail(&format!("pulse: {}", f.message));
    }
    if opts.heartbeat_key.is_some() || opts.warm_standby || opts.forceactive {
        early_log(
            opts.nodaemon,
            "scale-out mode: --heartbeat-key, --warm-standby and --forceactive do not apply: ignored",
        );
    }
    let (notifier, _pid_file) = match detach(&opts) {
        Ok(d) => d,
        Err(code) => return code,
    };
    tracing::info!("STARTING PULSE IN SCALE-OUT MODE");
    for w in &parsed.warnings {
        tracing::info!("{w}");
    }
    for w in &verdict.warnings {
        tracing::info!("{w}");
    }
    let settings = pulse::scale_out::Settings::of(
        &parsed.config,
        lvsd_command(&opts),
        opts.status_socket.clone(),
        loaded,
        opts.norun(),
    );
    ExitCode::from(block_on(|| pulse::scale_out::run(settings, notifier)))
}

/// `--heartbeat-key` and `--heartbeat-auth`: the checking settings and the
/// signer, or the message pulse refuses to start with.
fn heartbeat_auth(opts: &Options) -> Result<(Option<Auth>, Option<Signer>), String> {
    let mode = match opts.heartbeat_auth.as_deref() {
        None => AuthMode::Required,
        Some(m) => AuthMode::parse(m).ok_or_else(|| {
            format!("pulse: bad argument --heartbeat-auth={m}: expected required or permissive")
        })?,
    };
    let Some(file) = &opts.heartbeat_key else {
        return match opts.heartbeat_auth {
            Some(_) => Err("pulse: --heartbeat-auth needs --heartbeat-key=FILE".into()),
            None => Ok((None, None)),
        };
    };
    let keys = auth::load_keys(file).map_err(|e| format!("pulse: heartbeat key file {e}"))?;
    let signer = Signer::new(keys.signing().clone(), auth::boot_epoch());
    Ok((Some(Auth { keys, mode }), Some(signer)))
}

/// gaps.md A2: the files whose owner can run commands as root through
/// pulse: lvs.cf, the daemon pulse runs, and the programs lvs.cf names for
/// it (lvs: the hooks; fos: start/stop commands and monitors).
fn watched_files(opts: &Options, cfg: &PulseConfig, parsed: &lvscf::Config) -> Vec<String> {
    let mut files = vec![opts.configfile.clone()];
    match cfg.service {
        Mode::Lvs => {
            files.push(opts.lvsd.clone());
            let hooks = [&cfg.active_cmd, &cfg.inactive_cmd];
            files.extend(hooks.into_iter().flatten().filter_map(|c| {
                pulse::procs::split_command(c)
                    .first()
                    .map(|w| w.to_string())
            }));
        }
        Mode::Fos => {
            files.push(opts.fos.clone());
            for p in lvscf::startup::fos_programs(parsed, lvscf::QuoteMode::default()) {
                if !files.contains(&p) {
                    files.push(p);
                }
            }
        }
    }
    files
}

/// The words of environment variable `name` (`LVSD_OPTIONS`,
/// `FOS_OPTIONS`; pulse.service reads them from /etc/sysconfig/pulse).
fn env_options(name: &str) -> Vec<String> {
    let words = std::env::var(name)
        .map(|v| pulse::procs::option_words(&v))
        .unwrap_or_default();
    if !words.is_empty() {
        tracing::debug!("{name}: {}", words.join(" "));
    }
    words
}

#[allow(clippy::too_many_arguments)]
fn start(
    opts: Options,
    (auth, signer): (Option<Auth>, Option<Signer>),
    loaded: lvscf::Fingerprint,
    cfg: PulseConfig,
    master: bool,
    public: UdpSocket,
    private: Option<UdpSocket>,
    (peer, peer_private): (IpAddr, IpAddr),
    notifier: Option<Notifier>,
) -> u8 {
    let own_public = public.local_addr().ok();
    let own_private = private.as_ref().and_then(|p| p.local_addr().ok());
    let ip_of = |a: Option<SocketAddr>| a.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    let monitor = (cfg.monitor_links && cfg.backup_active).then(|| {
        let p = ip_of(own_public);
        let q = if cfg.has_private() {
            ip_of(own_private)
        } else {
            p
        };
        (p, q)
    });
    if opts.warm_standby && cfg.service != Mode::Lvs {
        tracing::info!("--warm-standby applies to service = lvs only: ignored");
    }
    let settings = Settings {
        mode: cfg.service,
        master,
        keepalive: cfg.keepalive,
        deadtime: cfg.deadtime,
        backup_active: cfg.backup_active,
        norun: opts.norun(),
        norun_side_effects: std::env::var_os("PULSE_TEST_START_COMPAT").is_some(),
        partner: Partner {
            public: peer,
            private: cfg.has_private().then_some(peer_private),
            port: cfg.heartbeat_port,
        },
        warm_standby: opts.warm_standby,
        ready_wait: if cfg.service == Mode::Lvs {
            cfg.check_interval
        } else {
            Duration::ZERO
        },
        auth,
    };
    let shell = Shell {
        to_public: SocketAddr::new(peer, cfg.heartbeat_port),
        to_private: cfg
            .has_private()
            .then(|| SocketAddr::new(peer_private, cfg.heartbeat_port)),
        lvsd: lvsd_command(&opts),
        fos: FosCommand {
            path: opts.fos.clone(),
            config: opts.configfile.clone(),
            nodaemon: opts.nodaemon,
            verbose: opts.verbose,
            extra: env_options("FOS_OPTIONS"),
        },
        monitor,
        notifier,
        status_socket: opts.status_socket.clone(),
        config_file: opts.configfile.clone(),
        loaded,
        cfg,
        public,
        private,
        signer,
    };
    let machine = Machine::new(settings, Duration::ZERO);
    block_on(|| run::run(shell, machine, opts.forceactive))
}
