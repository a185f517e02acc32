//! Processes: running `start_cmd`/`stop_cmd` and waiting for them, and
//! starting and stopping the monitors (nanny).

use std::io;
use std::os::unix::process::CommandExt as _;
use std::process::Command;
use std::time::{Duration, Instant};

use lvs_util::errtext;
use lvs_util::process::{self, exec_path};

/// How long a monitor may take to exit after SIGTERM before it is killed.
pub const MONITOR_GRACE: Duration = Duration::from_secs(10);

/// A command for `argv` whose process starts with no blocked signals and
/// the default SIGPIPE action, as after the original's fork and exec (fos
/// itself blocks the signals it waits for, and a blocked mask is
/// inherited across exec).
fn command(argv: &[String]) -> Option<Command> {
    let (first, rest) = argv.split_first()?;
    let mut c = Command::new(exec_path(first));
    c.args(rest);
    // SAFETY: the closure only calls async-signal-safe functions
    // (sigemptyset, sigprocmask, signal).
    unsafe {
        c.pre_exec(|| {
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            if libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            Ok(())
        });
    }
    Some(c)
}

/// Runs `argv` (program first, `execv` rules: no shell, no PATH search) and
/// waits for it; true if it exited 0. With `test` nothing is executed and
/// the command counts as successful, as the original's child exited 0.
pub fn run_and_wait(argv: &[String], test: bool) -> bool {
    if test {
        return true;
    }
    let Some(mut c) = command(argv) else {
        tracing::info!("failed to execute an empty command");
        return false;
    };
    match c.status() {
        Ok(s) => s.code() == Some(0),
        Err(e) => {
            // `command` gave a command, so `argv` has a first word
            tracing::info!("failed to execute {}: {}", argv[0], errtext(&e));
            false
        }
    }
}

/// Starts a monitor; returns its pid. It gets SIGTERM if fos dies.
pub fn spawn_monitor(argv: &[String]) -> io::Result<u32> {
    let mut c = command(argv)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command line"))?;
    process::die_with_parent(&mut c);
    Ok(c.spawn()?.id())
}

/// Sends SIGTERM to a monitor and waits for it; after `grace` it is killed.
pub fn stop_monitor(pid: u32, grace: Duration) {
    if !process::signal(pid, libc::SIGTERM) {
        return;
    }
    let end = Instant::now() + grace;
    while !process::try_reap(pid) {
        if Instant::now() >= end {
            tracing::info!(
                "monitor (pid {pid}) did not exit within {} s after SIGTERM: sending SIGKILL",
                grace.as_secs()
            );
            process::kill_and_reap(pid);
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn success_is_exit_status_0() {
        assert!(run_and_wait(&argv(&["/bin/true"]), false));
        assert!(!run_and_wait(&argv(&["/bin/false"]), false));
        assert!(!run_and_wait(&argv(&["/nonexistent/x"]), false));
        assert!(!run_and_wait(&[], false));
        // no PATH search: a bare name is relative to the working directory
        assert!(!run_and_wait(&argv(&["true"]), false));
    }

    #[test]
    fn test_mode_executes_nothing() {
        assert!(run_and_wait(&argv(&["/nonexistent/x"]), true));
    }

    #[test]
    fn monitors_are_stopped_with_sigterm() {
        let pid = spawn_monitor(&argv(&["/bin/sleep", "30"])).unwrap();
        let t = Instant::now();
        stop_monitor(pid, MONITOR_GRACE);
        assert!(t.elapsed() < MONITOR_GRACE);
        assert!(!process::signal(pid, 0), "{pid} still exists");
    }
}
