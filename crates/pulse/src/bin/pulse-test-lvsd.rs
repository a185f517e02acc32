//! Test stand-in for lvsd and for the active/inactive hooks, used by the
//! namespace tests. It appends one line per event to the file named by
//! `$LP_RECORD`:
//!
//! * `pulse-test-lvsd hook NAME`: records `hook NAME` and exits 0;
//! * otherwise (started as lvsd): records `start PID ARGS…`, then waits for
//!   signals: SIGTERM records `stop PID` and exits 0 (ignored and recorded
//!   as `term-ignored PID` when `$LP_IGNORE_TERM` is set); SIGHUP records
//!   `hup PID`; SIGUSR1 records `die PID` and exits 7 (lvsd dying on its own).
//!   With `--pulse-fd=FD` (pulse's socket) it says `ready` on FD at once
//!   (never with `$LP_NOT_READY` set, after `$LP_READY_DELAY_MS` if set),
//!   records each line read from FD as `role PID LINE`, and its end as
//!   `pulse-gone PID`. With `$LP_SAY=FILE` it also passes every line
//!   appended to FILE after its start on to pulse (`serving VIP`, `idle VIP`: scale-out
//!   mode), recording each as `said PID LINE`.

use std::io::Write as _;

use nix::sys::signal::{SigSet, Signal};

fn record(line: &str) {
    let Ok(path) = std::env::var("LP_RECORD") else {
        return;
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        // one write: processes that append at once never split a line
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
}

/// Says `ready` on `fd` (unless told not to), then records every line
/// pulse writes on it, then its end.
fn read_roles(fd: i32, pid: u32) {
    use std::io::BufRead as _;
    use std::os::fd::FromRawFd as _;
    // SAFETY: pulse passed this descriptor to us; nothing else uses it.
    let f = unsafe { std::fs::File::from_raw_fd(fd) };
    if std::env::var_os("LP_NOT_READY").is_none()
        && let Ok(mut w) = f.try_clone()
    {
        std::thread::spawn(move || {
            if let Some(ms) = std::env::var("LP_READY_DELAY_MS")
                .ok()
                .and_then(|v| v.parse().ok())
            {
                std::thread::sleep(std::time::Duration::from_millis(ms));
            }
            if w.write_all(b"ready\n").is_ok() {
                record(&format!("ready {pid}"));
            }
        });
    }
    if let Some(path) = std::env::var_os("LP_SAY")
        && let Ok(w) = f.try_clone()
    {
        std::thread::spawn(move || say(path.into(), w, pid));
    }
    for line in std::io::BufReader::new(f).lines().map_while(Result::ok) {
        record(&format!("role {pid} {line}"));
    }
    record(&format!("pulse-gone {pid}"));
}

/// Passes each line appended to `path` on to pulse on `w`.
fn say(path: std::path::PathBuf, mut w: std::fs::File, pid: u32) {
    // only what is appended after the start
    let mut done = std::fs::read_to_string(&path)
        .map(|t| t.lines().count())
        .unwrap_or(0);
    loop {
        if let Ok(text) = std::fs::read_to_string(&path) {
            let lines: Vec<&str> = text.lines().collect();
            // only whole lines
            let complete = if text.ends_with('\n') {
                lines.len()
            } else {
                lines.len().saturating_sub(1)
            };
            for line in &lines[done.min(complete)..complete] {
                if w.write_all(format!("{line}\n").as_bytes()).is_err() {
                    return;
                }
                record(&format!("said {pid} {line}"));
            }
            done = done.max(complete);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Waits (at most half a second) until the reader thread has taken
/// every byte pulse wrote on `fd`, and a moment for it to record them.
fn drained(fd: i32) {
    let end = std::time::Instant::now() + std::time::Duration::from_millis(500);
    loop {
        let mut pending: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int to the pointer given.
        let r = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut pending) };
        if r != 0 || pending == 0 || std::time::Instant::now() >= end {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pid = std::process::id();
    if args.first().map(String::as_str) == Some("hook") {
        record(&format!("hook {}", args[1..].join(" ")));
        return;
    }
    let mut set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGHUP, Signal::SIGUSR1] {
        set.add(s);
    }
    if set.thread_block().is_err() {
        std::process::exit(2);
    }
    record(&format!("start {pid} {}", args.join(" ")));
    // Started after the signals were blocked: the reader inherits the mask
    // and every signal stays with the main thread's sigwait.
    let pulse_fd = args
        .iter()
        .find_map(|a| a.strip_prefix("--pulse-fd="))
        .and_then(|f| f.parse::<i32>().ok());
    if let Some(fd) = pulse_fd {
        std::thread::spawn(move || read_roles(fd, pid));
    }
    loop {
        match set.wait() {
            Ok(Signal::SIGTERM) if std::env::var_os("LP_IGNORE_TERM").is_some() => {
                record(&format!("term-ignored {pid}"));
            }
            Ok(Signal::SIGTERM) => {
                // what pulse said before the signal (`standby` on giving
                // up) is recorded before the stop
                if let Some(fd) = pulse_fd {
                    drained(fd);
                }
                record(&format!("stop {pid}"));
                return;
            }
            Ok(Signal::SIGHUP) => record(&format!("hup {pid}")),
            Ok(Signal::SIGUSR1) => {
                record(&format!("die {pid}"));
                std::process::exit(7);
            }
            _ => {}
        }
    }
}
