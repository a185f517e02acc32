//! The shell around [`Fos`]: start-up (fos.md §2), daemon mode, the wait
//! for signals and child exits (§4), and carrying out the steps.

use std::ffi::OsString;
use std::path::PathBuf;

use lvs_util::log::Sink;
use nix::sys::signal::{SigSet, Signal};

use crate::cli::{self, Options};
use crate::core::{FAREWELL, Fos, Role, Step, monitor_started};
use crate::exec;
use crate::plan::{self, Flags};

/// Default pid file.
pub const PID_FILE: &str = "/var/run/fos.pid";

/// The pid file: [`PID_FILE`], or `$FOS_PID_FILE` (for tests that run
/// several fos on one machine).
pub fn pid_file() -> PathBuf {
    lvs_util::daemon::pid_file(PID_FILE, "FOS_PID_FILE")
}

/// Runs fos with `argv`; returns the exit status.
pub fn main(argv: Vec<OsString>) -> i32 {
    let opts = match cli::parse(argv).or_exit() {
        Ok(o) => o,
        Err(code) => return code.into(),
    };
    let file = opts.configfile.clone();
    let loaded = match lvscf::load_file(&file) {
        Ok(l) => l,
        Err(e) => {
            let r = lvscf::startup::load_refusal("fos", &file, &e);
            if let Some(whole) = &r.syslog {
                lvs_util::log::syslog_info(whole);
            }
            eprintln!("{}", r.stderr);
            return 1;
        }
    };
    let parsed = loaded.parsed;
    // What lvs.cf means, and every message about it, is lvscf's.
    let verdict = lvscf::startup::fos(&parsed.config, &file);
    if verdict.refused() {
        eprint!("{}", verdict.report("fos"));
        return 1;
    }
    // Signals wait for the main loop (sigwait); children start with an
    // empty mask.
    let mut signals = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGCHLD,
    ] {
        signals.add(s);
    }
    if let Err(e) = signals.thread_block() {
        eprintln!("fos: cannot block signals: {e}");
        return 1;
    }
    if opts.nodaemon {
        lvs_util::log::init("fos", Sink::Stdout, opts.verbose);
    } else if let Err(e) =
        lvs_util::daemon::daemonize(opts.nofork, &pid_file(), "fos", opts.verbose)
    {
        eprintln!("fos: fork failed: {}", lvs_util::errtext(&e));
        return 1;
    }
    for w in &parsed.warnings {
        tracing::info!("{w}");
    }
    for f in &verdict.warnings {
        tracing::info!("{f}");
    }
    // lvscf::startup::fos refuses IPv6 (fos mode is IPv4 only, lvs.cf(5)).
    let primary = match parsed.config.global.primary_addr() {
        std::net::IpAddr::V4(a) => a,
        std::net::IpAddr::V6(a) => {
            tracing::error!("primary {a}: fos does not support IPv6");
            return 1;
        }
    };
    let master = lvs_util::netif::is_master(primary);
    let partner = plan::partner(&parsed.config, master);
    let blocks = plan::blocks(&parsed.config, partner, flags(&opts));
    let role = if opts.active {
        Role::Services
    } else {
        Role::Monitor
    };
    let mut fos = Fos::new(role, blocks);
    let steps = fos.startup();
    let mut ended = perform(&mut fos, steps, &opts);
    while ended.is_none() {
        ended = wait(&mut fos, &signals);
    }
    let steps = fos.shutdown();
    perform(&mut fos, steps, &opts);
    if !opts.nodaemon {
        let _ = std::fs::remove_file(pid_file());
    }
    tracing::info!("{FAREWELL}");
    0
}

fn flags(opts: &Options) -> Flags {
    Flags {
        nodaemon: opts.nodaemon,
        verbose: opts.verbose,
        quotes: lvscf::QuoteMode::from_flag(opts.keep_single_quotes),
    }
}

/// Carries out `steps`. Returns `Some` when fos must end: a monitor that
/// cannot be started counts as one that exited at once.
fn perform(fos: &mut Fos, steps: Vec<Step>, opts: &Options) -> Option<()> {
    for step in steps {
        match step {
            Step::Log(line) => tracing::info!("{line}"),
            Step::Run { argv, failure } => {
                if !exec::run_and_wait(&argv, opts.test_start) {
                    tracing::info!("{failure}");
                }
            }
            Step::StartMonitor(i) => {
                if opts.test_start {
                    continue; // test mode starts no monitors
                }
                let b = &fos.blocks[i];
                match exec::spawn_monitor(&b.monitor) {
                    Ok(pid) => {
                        tracing::info!("{}", monitor_started(b, pid));
                        fos.started(i, pid);
                    }
                    Err(e) => {
                        tracing::info!(
                            "failed to execute {}: {}",
                            b.monitor.first().map_or("", String::as_str),
                            lvs_util::errtext(&e)
                        );
                        tracing::info!(
                            "Monitor for service {} exited. This is a failover condition!",
                            b.service()
                        );
                        return Some(());
                    }
                }
            }
            Step::StopMonitor(pid) => exec::stop_monitor(pid, exec::MONITOR_GRACE),
        }
    }
    None
}

/// Waits for the next signal; `Some` when fos must end.
fn wait(fos: &mut Fos, signals: &SigSet) -> Option<()> {
    match signals.wait() {
        Ok(Signal::SIGCHLD) => {
            let exited = lvs_util::process::reap_all();
            for (pid, status) in &exited {
                tracing::info!("{}", fos.child_exited(*pid, *status));
            }
            (!exited.is_empty()).then_some(())
        }
        Ok(sig) => {
            tracing::info!("{}", Fos::signalled(sig as i32));
            Some(())
        }
        Err(_) => None,
    }
}
