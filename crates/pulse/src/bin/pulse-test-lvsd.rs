//! Test stand-in for lvsd and for the active/inactive hooks, used by the
//! namespace tests. It appends one line per event to the file named by
//! `$LP_RECORD`:
//!
//! * `pulse-test-lvsd hook NAME`: records `hook NAME` and exits 0;
//! * otherwise (started as lvsd): records `start PID ARGS…`, then waits for
//!   signals: SIGTERM records `stop PID` and exits 0 (ignored and recorded
//!   as `term-ignored PID` when `$LP_IGNORE_TERM` is set); SIGHUP records
//!   `hup PID`; SIGUSR1 records `die PID` and exits 7 (lvsd dying on its own).

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
    loop {
        match set.wait() {
            Ok(Signal::SIGTERM) if std::env::var_os("LP_IGNORE_TERM").is_some() => {
                record(&format!("term-ignored {pid}"));
            }
            Ok(Signal::SIGTERM) => {
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
