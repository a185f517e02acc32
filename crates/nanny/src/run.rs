//! The shell: start-up (nanny.md §2), then the loop that waits for the next
//! check or a signal, feeds the core and carries out its actions.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::process::Child;
use std::time::{Duration, Instant};

use crate::apply::{Apply, ReportFd, Target, TestStart};
use crate::check::{Expect, NetCheck, Outcome, Pinger};
use crate::cli::{Parsed, parse};
use crate::config::{Config, Mode};
use crate::core::{Action, Control, Input, Level, Monitor, Params};
use crate::program::{ExternalCheck, Finished, LoadProbe};
use crate::report;
use crate::sys::{SignalFd, block_signals, errno_text, poll_ms, set_cloexec};

/// Logs one message at `level`; always as data.
pub fn emit(level: Level, msg: &str) {
    match level {
        Level::Info => tracing::info!("{msg}"),
        Level::Verbose => tracing::debug!("{msg}"),
    }
}

fn log_sink(level: Level, msg: String) {
    emit(level, &msg);
}

/// Installs syslog (ident `nanny`, facility daemon; whole messages) and,
/// with `--nodaemon`, stdout as well (messages cut to 255 bytes).
fn init_logging(nodaemon: bool, verbose: bool) {
    use lvs_util::log::{PiranhaLayer, Sink};
    use tracing_subscriber::prelude::*;
    let level = if verbose {
        tracing::level_filters::LevelFilter::DEBUG
    } else {
        tracing::level_filters::LevelFilter::INFO
    };
    let stdout = nodaemon.then(|| {
        PiranhaLayer::new("nanny", Sink::Stdout)
            .stdout_max(lvs_util::log::STDOUT_MESSAGE_MAX)
            .with_filter(level)
    });
    let _ = tracing_subscriber::registry()
        .with(PiranhaLayer::new("nanny", Sink::Syslog).with_filter(level))
        .with(stdout)
        .try_init();
}

/// Detaches from the terminal (nanny.md §2 step 3): fork twice unless
/// `nofork`, then stdio to /dev/null and a new session.
fn detach(nofork: bool) {
    if !nofork {
        // On failure nanny carries on in the foreground process.
        let _ = lvs_util::daemon::fork_twice();
    }
    lvs_util::daemon::detach();
}

/// The descriptor named by `NANNY_REPORT_FD`, if set. Errors are start-up
/// errors.
fn report_fd() -> Result<Option<i32>, String> {
    let Some(v) = std::env::var_os(report::ENV) else {
        return Ok(None);
    };
    let fd: i32 = v
        .to_str()
        .and_then(|s| s.parse().ok())
        .filter(|&fd| fd >= 0)
        .ok_or_else(|| format!("nanny: bad {}: {}", report::ENV, v.to_string_lossy()))?;
    set_cloexec(fd).map_err(|e| format!("nanny: bad {}: {fd}: {e}", report::ENV))?;
    // SAFETY: removing an environment variable while single-threaded.
    unsafe { std::env::remove_var(report::ENV) };
    Ok(Some(fd))
}

/// The state named by `NANNY_REPORT_RESUME` (only read together with the
/// report descriptor). Errors are start-up errors.
fn resume_state() -> Result<Option<report::Resume>, String> {
    let Some(v) = std::env::var_os(report::RESUME_ENV) else {
        return Ok(None);
    };
    // SAFETY: removing an environment variable while single-threaded.
    unsafe { std::env::remove_var(report::RESUME_ENV) };
    v.to_str()
        .and_then(|s| report::parse_resume(s).ok())
        .map(Some)
        .ok_or_else(|| format!("nanny: bad {}: {}", report::RESUME_ENV, v.to_string_lossy()))
}

/// The check nanny runs.
enum Checker {
    Net(NetCheck, Option<Pinger>),
    External(ExternalCheck),
}

/// Start-up steps 7–9: the send/expect strings actually used.
fn strings(c: &mut Config) {
    if let Some(p) = &c.program
        && c.send.is_some()
    {
        c.send = None;
        emit(
            Level::Info,
            &format!(
                "External program use requested: ({}), IGNORING send string option ((null))\n",
                p.to_string_lossy()
            ),
        );
    }
    if c.port == 80 && c.send.is_none() && c.expect.is_none() && c.program.is_none() {
        emit(
            Level::Info,
            "nanny: no monitor configured, assuming web service on port 80",
        );
        c.send = Some(b"GET / HTTP/1.0\r\n\r\n".to_vec());
        c.expect = Some(b"HTTP".to_vec());
    } else if !c.suppress {
        let mut unknown = false;
        for s in [&mut c.send, &mut c.expect].into_iter().flatten() {
            let t = lvscf::translate_escapes(s);
            unknown |= t.has_unknown();
            *s = t.bytes;
        }
        if unknown {
            emit(
                Level::Info,
                "warning: unknown backslash escape in send/expect string left unchanged",
            );
        }
    }
}

/// The verbose settings lines the original logs when its monitor loop
/// starts, after the start-up line: the strings, then `Service_type value=N`
/// with nanny.h's `SERV_FOS` 1 / `SERV_LVS` 2.
fn settings_lines(c: &Config) -> Vec<String> {
    let shown = |name: &str, v: &Option<Vec<u8>>| match v {
        Some(b) => format!(
            "{name} len={}, text=\"{}\"",
            b.len(),
            String::from_utf8_lossy(b)
        ),
        None => format!("{name} is NULL"),
    };
    let prog = c.program.as_ref().map(|p| p.as_encoded_bytes().to_vec());
    let service_type = match c.mode {
        Mode::Fos => 1,
        Mode::Lvs => 2,
    };
    vec![
        shown("Send_program", &prog),
        shown("Send_string", &c.send),
        shown("Expect_string", &c.expect),
        format!("Service_type value={service_type}"),
    ]
}

/// Runs nanny with `argv`; returns the exit status.
pub fn main(argv: Vec<OsString>) -> i32 {
    let mut c = match parse(argv) {
        Ok(Parsed::Print(text)) => {
            print!("{text}");
            return 0;
        }
        Ok(Parsed::Run(c)) => *c,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let report = match report_fd() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let resume = match report.map(|_| resume_state()).transpose() {
        Ok(r) => r.flatten(),
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let signals = [
        libc::SIGTERM,
        libc::SIGINT,
        libc::SIGHUP,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ];
    if let Err(e) = block_signals(&signals) {
        eprintln!("nanny: cannot block signals: {e}");
        return 1;
    }
    if !c.nodaemon {
        detach(c.nofork);
    }
    init_logging(c.nodaemon, c.verbose);
    let (term, ctl) = match (
        SignalFd::new(&[libc::SIGTERM, libc::SIGINT]),
        SignalFd::new(&[libc::SIGHUP, libc::SIGUSR1, libc::SIGUSR2]),
    ) {
        (Ok(t), Ok(c)) => (t, c),
        (Err(e), _) | (_, Err(e)) => {
            emit(Level::Info, &format!("cannot create signalfd: {e}"));
            return 1;
        }
    };

    strings(&mut c);
    let dest = c.host_endpoint(c.rport);
    match c.mode {
        Mode::Lvs => emit(
            Level::Info,
            &format!(
                "starting LVS client monitor for {} -> {dest}",
                c.vip_endpoint()
            ),
        ),
        Mode::Fos => emit(
            Level::Info,
            &format!("Failover service monitor for {} started", c.vip_endpoint()),
        ),
    }
    for line in settings_lines(&c) {
        emit(Level::Verbose, &line);
    }
    let timeout = Duration::from_secs(u64::from(c.interval));
    // Step 11: the raw socket is opened whatever the check (as the
    // original), unless --no-icmp (gaps.md E12); only TCP/UDP checks use it.
    let pinger = if c.icmp {
        match Pinger::new(c.host) {
            Ok(p) => Some(p),
            Err(e) => {
                emit(
                    Level::Info,
                    &format!(
                        "failed to create ping socket: {}",
                        errno_text(e.raw_os_error().unwrap_or(0))
                    ),
                );
                return 1;
            }
        }
    } else {
        None
    };
    let checker = match &c.program {
        Some(p) => Checker::External(ExternalCheck {
            command: p.clone(),
            host: c.host,
            port: c.rport,
            expect: c.expect.clone(),
            timeout,
            failure_passes: c.external_failure_passes,
            newline_only: c.chop_newline_only,
        }),
        None => Checker::Net(
            NetCheck {
                host: c.host,
                port: c.rport,
                udp: c.udp,
                send: c.send.clone(),
                expect: Expect::new(c.expect.as_deref(), c.regex),
                timeout,
            },
            pinger,
        ),
    };
    let probe = c.loadcmd.as_ref().map(|l| LoadProbe {
        command: l.clone(),
        host: c.host,
        timeout,
        newline_only: c.chop_newline_only,
    });
    let target = Target::new(&c);
    let applier: Box<dyn Apply> = match report {
        // SAFETY: the descriptor was inherited for this purpose and nothing
        // else in this process owns it.
        Some(fd) => Box::new(unsafe { ReportFd::from_raw(fd, target) }),
        None if c.test_start => Box::new(TestStart {
            target,
            ipvsadm: c.ipvsadm.clone(),
            log: |l: String| emit(Level::Info, &l),
        }),
        None => Box::new(crate::kernel::Kernel::new(target)),
    };
    let params = Params {
        mode: c.mode,
        threshold: c.threshold(),
        interval: c.interval,
        weight: c.weight,
        scale: c.scale,
        quiesce: c.quiesce,
        load_monitor: probe.is_some(),
        ipvsadm: c.ipvsadm.clone(),
        dest,
        dest_vport: c.host_endpoint(c.port),
    };
    let mut shell = Shell {
        start: Instant::now(),
        term,
        ctl,
        checker,
        probe,
        applier,
        child: None,
    };
    shell.run(params, resume)
}

struct Shell {
    start: Instant,
    term: SignalFd,
    ctl: SignalFd,
    checker: Checker,
    probe: Option<LoadProbe>,
    applier: Box<dyn Apply>,
    /// A check or probe program interrupted by SIGTERM, to be killed.
    child: Option<Child>,
}

impl Shell {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn run(&mut self, params: Params, resume: Option<report::Resume>) -> i32 {
        let mut m = match resume {
            Some(r) => Monitor::resume(params, self.now(), r),
            None => Monitor::new(params, self.now()),
        };
        loop {
            let input = self.wait(&m);
            let actions = m.step(input, self.now());
            if let Some(code) = self.perform(&mut m, actions) {
                return code;
            }
        }
    }

    /// Sleeps until the next check is due or a signal arrives.
    fn wait(&self, m: &Monitor) -> Input {
        loop {
            let deadline = m.next_due().map(|d| self.start + d);
            if let Some(d) = deadline
                && Instant::now() >= d
            {
                return Input::Due;
            }
            let mut fds = [
                libc::pollfd {
                    fd: std::os::fd::AsRawFd::as_raw_fd(&self.term),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: std::os::fd::AsRawFd::as_raw_fd(&self.ctl),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: two valid pollfd entries.
            unsafe { libc::poll(fds.as_mut_ptr(), 2, poll_ms(deadline)) };
            if fds[0].revents != 0
                && let Some(sig) = self.term.take()
            {
                return Input::Terminate(sig);
            }
            if fds[1].revents != 0
                && m.accepts_controls()
                && let Some(sig) = self.ctl.take()
            {
                match sig {
                    libc::SIGUSR2 => return Input::Control(Control::Up),
                    libc::SIGUSR1 => return Input::Control(Control::Down),
                    libc::SIGHUP => return Input::Control(Control::Resume),
                    _ => {}
                }
            }
        }
    }

    /// Carries out actions in order, feeding results back into the core.
    fn perform(&mut self, m: &mut Monitor, actions: Vec<Action>) -> Option<i32> {
        let mut queue: VecDeque<Action> = actions.into();
        while let Some(a) = queue.pop_front() {
            let more = match a {
                Action::Log(level, msg) => {
                    emit(level, &msg);
                    continue;
                }
                Action::Exit(code) => return Some(code),
                Action::RunCheck => {
                    let input = self.check();
                    m.step(input, self.now())
                }
                Action::ProbeLoad => {
                    let input = self.probe_load();
                    m.step(input, self.now())
                }
                Action::Ipvs(op) => match self.applier.apply(op) {
                    Ok(()) => continue,
                    Err(e) => {
                        emit(Level::Verbose, &format!("IPVS change failed: {e}"));
                        queue.clear();
                        m.step(Input::IpvsFailed, self.now())
                    }
                },
                Action::Health(up) => match self.applier.health(up) {
                    Ok(()) => continue,
                    Err(e) => {
                        emit(Level::Verbose, &format!("report failed: {e}"));
                        queue.clear();
                        m.step(Input::IpvsFailed, self.now())
                    }
                },
                Action::Result(pass) => match self.applier.result(pass) {
                    Ok(()) => continue,
                    Err(e) => {
                        emit(Level::Verbose, &format!("report failed: {e}"));
                        queue.clear();
                        m.step(Input::IpvsFailed, self.now())
                    }
                },
                Action::Failed => match self.applier.failed() {
                    Ok(()) => continue,
                    Err(e) => {
                        emit(Level::Verbose, &format!("report failed: {e}"));
                        queue.clear();
                        m.step(Input::IpvsFailed, self.now())
                    }
                },
                Action::KillChild => {
                    if let Some(mut child) = self.child.take() {
                        emit(Level::Info, &format!("Killing child {}", child.id()));
                        let _ = child.kill();
                        let _ = child.wait();
                    }
                    continue;
                }
            };
            for (i, a) in more.into_iter().enumerate() {
                queue.insert(i, a);
            }
        }
        None
    }

    fn check(&mut self) -> Input {
        let mut sink = log_sink;
        match &mut self.checker {
            Checker::Net(check, pinger) => {
                // As the original, every check starts by (failing to)
                // compile the regex; the check goes on and fails at the end.
                if let Expect::Regex(Err(reason)) = &check.expect {
                    sink(
                        Level::Info,
                        format!("Error '{reason}' processing expected regular expression"),
                    );
                }
                if let Some(p) = pinger
                    && !p.ping()
                {
                    return Input::Checked(false);
                }
                match check.run(&self.term, &mut sink) {
                    Outcome::Pass => Input::Checked(true),
                    Outcome::Fail => Input::Checked(false),
                    Outcome::Terminated(s) => Input::Terminate(s),
                }
            }
            Checker::External(ext) => match ext.run(&self.term, &mut sink) {
                Finished::Done(ok) => Input::Checked(ok),
                Finished::Terminated(s, child) => {
                    self.child = Some(child);
                    Input::Terminate(s)
                }
            },
        }
    }

    fn probe_load(&mut self) -> Input {
        let mut sink = log_sink;
        let Some(probe) = &self.probe else {
            return Input::Load(None);
        };
        match probe.run(&self.term, &mut sink) {
            Finished::Done(l) => Input::Load(l),
            Finished::Terminated(s, child) => {
                self.child = Some(child);
                Input::Terminate(s)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_lines_name_the_mode() {
        let mut c = crate::cli::test_config(&["-u", "-e", "prog %h", "-x", "OK"]);
        assert_eq!(
            settings_lines(&c),
            [
                "Send_program len=7, text=\"prog %h\"",
                "Send_string is NULL",
                "Expect_string len=2, text=\"OK\"",
                "Service_type value=2",
            ]
        );
        c.mode = Mode::Fos;
        assert_eq!(settings_lines(&c)[3], "Service_type value=1");
    }
}
