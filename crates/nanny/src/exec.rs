//! Running the external check program and the load probe (nanny.md §4.3,
//! §7): split on spaces, PATH search, no shell, stdin and stderr on
//! /dev/null, stdout captured.
//!
//! Deliberate fixes: the program is killed (SIGKILL) when the interval runs
//! out (gaps.md E2), and its output is drained while it runs, so a program
//! writing more than a pipe's capacity cannot block nanny.

use std::ffi::{OsStr, OsString};
use std::io::Read as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::sys::{SignalFd, errno, poll_ms, set_nonblocking};

/// The most output kept (the original's single 4095-byte read).
pub const MAX_OUTPUT: usize = 4095;

/// How a program run ended.
#[derive(Debug)]
pub enum Ran {
    /// Exited with status 0; its first [`MAX_OUTPUT`] bytes of output.
    Output(Vec<u8>),
    /// Could not be started, was killed by a signal, or exited non-zero.
    Abnormal,
    /// Still running at the deadline; it was killed.
    TimedOut,
    /// SIGTERM/SIGINT arrived; the child is still running and must be
    /// killed by the caller (`Killing child PID`).
    Terminated(i32, Child),
}

/// Splits a command on spaces (runs collapse), replacing words that are
/// exactly `%h` by `host` and exactly `%p` by `port`.
pub fn split_command(cmd: &OsStr, host: &str, port: u16) -> Vec<OsString> {
    cmd.as_bytes()
        .split(|&b| b == b' ')
        .filter(|w| !w.is_empty())
        .map(|w| match w {
            b"%h" => OsString::from(host),
            b"%p" => OsString::from(port.to_string()),
            _ => OsString::from_vec(w.to_vec()),
        })
        .collect()
}

/// The original's chop: the last byte read is dropped (E3), or with
/// `newline_only` only a trailing newline.
pub fn chop(mut out: Vec<u8>, newline_only: bool) -> Vec<u8> {
    if !newline_only || out.last() == Some(&b'\n') {
        out.pop();
    }
    out
}

fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: plain syscall; returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    // SAFETY: fd was just created.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Runs `argv` with a deadline of `timeout`, collecting stdout.
pub fn run(argv: &[OsString], timeout: Duration, term: &SignalFd) -> Ran {
    let Some((prog, args)) = argv.split_first() else {
        return Ran::Abnormal;
    };
    let spawned = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .stdout(Stdio::piped())
        .env_remove(crate::report::ENV)
        .env_remove(crate::report::RESUME_ENV)
        .spawn();
    let Ok(mut child) = spawned else {
        return Ran::Abnormal;
    };
    let deadline = Instant::now() + timeout;
    let mut stdout = child.stdout.take();
    if let Some(s) = &stdout {
        let _ = set_nonblocking(s.as_raw_fd());
    }
    let pidfd = pidfd_open(child.id());
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let mut fds = [
            libc::pollfd {
                fd: pidfd.as_ref().map_or(-1, |f| f.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: stdout.as_ref().map_or(-1, |s| s.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: term.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // Without a pidfd (old kernel) poll in short steps for the exit.
        let mut ms = poll_ms(Some(deadline));
        if pidfd.is_none() {
            ms = ms.min(50);
        }
        // SAFETY: three valid pollfd entries (fd -1 entries are ignored).
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), 3, ms) };
        if rc < 0 && errno() != libc::EINTR {
            break;
        }
        if fds[2].revents != 0
            && let Some(sig) = term.take()
        {
            return Ran::Terminated(sig, child);
        }
        if fds[1].revents != 0 {
            drain(&mut stdout, &mut out, &mut chunk);
        }
        if let Ok(Some(status)) = child.try_wait() {
            drain(&mut stdout, &mut out, &mut chunk);
            out.truncate(MAX_OUTPUT);
            return if status.success() {
                Ran::Output(out)
            } else {
                Ran::Abnormal
            };
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ran::TimedOut;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    Ran::Abnormal
}

/// Reads what is available; keeps at most [`MAX_OUTPUT`] bytes, discards the
/// rest; closes the pipe at EOF.
fn drain(
    stdout: &mut Option<std::process::ChildStdout>,
    out: &mut Vec<u8>,
    chunk: &mut [u8; 4096],
) {
    let Some(s) = stdout else { return };
    loop {
        match s.read(chunk) {
            Ok(0) => {
                *stdout = None;
                return;
            }
            Ok(n) => {
                let room = MAX_OUTPUT.saturating_sub(out.len());
                out.extend_from_slice(&chunk[..n.min(room)]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_and_substitution() {
        let v = split_command(
            OsStr::new("  /bin/check  %h %p --host=%h  x%p "),
            "192.0.2.1",
            443,
        );
        let v: Vec<&str> = v.iter().map(|s| s.to_str().unwrap()).collect();
        assert_eq!(v, ["/bin/check", "192.0.2.1", "443", "--host=%h", "x%p"]);
        assert!(split_command(OsStr::new("   "), "h", 1).is_empty());
    }

    #[test]
    fn chopping() {
        assert_eq!(chop(b"OK\n".to_vec(), false), b"OK");
        assert_eq!(chop(b"OK".to_vec(), false), b"O");
        assert_eq!(chop(b"".to_vec(), false), b"");
        assert_eq!(chop(b"OK".to_vec(), true), b"OK");
        assert_eq!(chop(b"OK\n".to_vec(), true), b"OK");
    }
}
