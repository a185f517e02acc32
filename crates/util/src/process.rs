//! Child processes the way Piranha's daemons run them: `execv` path rules
//! (no PATH search), children that die with their parent, pipes to them,
//! signals, and reaping every exited child with its raw wait status.

use std::io;
use std::os::fd::{FromRawFd as _, OwnedFd, RawFd};
use std::os::unix::process::CommandExt as _;
use std::process::Command;

/// The path `execv` would run for a command's first word: a word without
/// a `/` is relative to the working directory, never searched in PATH.
pub fn exec_path(word: &str) -> String {
    if word.contains('/') {
        word.to_string()
    } else {
        format!("./{word}")
    }
}

/// A new pipe, both ends closed on exec: `(read end, write end)`.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 returned two new descriptors we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The child of `cmd` gets SIGTERM when this process dies; if this process
/// is already gone when the child starts, the spawn fails (ESRCH) instead of
/// leaving an orphan.
pub fn die_with_parent(cmd: &mut Command) {
    // SAFETY: the closure only calls async-signal-safe functions (prctl,
    // getppid).
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() == 1 {
                // the parent died before the prctl
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// Descriptor `fd` (close-on-exec in this process) stays open across the
/// exec of `cmd`'s child, under the same number.
pub fn inherit_fd(cmd: &mut Command, fd: RawFd) {
    // SAFETY: the closure only calls fcntl, which is async-signal-safe, on
    // a descriptor the child inherited from the fork.
    unsafe {
        cmd.pre_exec(move || {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Whether child `pid` has ended: reaps it if it has, without blocking.
/// Also true when `pid` is not (or no longer) a child of this process.
pub fn try_reap(pid: u32) -> bool {
    match libc::pid_t::try_from(pid) {
        Ok(p) if p > 0 => {
            let mut status = 0;
            // SAFETY: waitpid with a valid status pointer.
            unsafe { libc::waitpid(p, &mut status, libc::WNOHANG) != 0 }
        }
        _ => true,
    }
}

/// Sends SIGKILL to child `pid` and waits for it.
pub fn kill_and_reap(pid: u32) {
    signal(pid, libc::SIGKILL);
    if let Ok(p) = libc::pid_t::try_from(pid)
        && p > 0
    {
        // SAFETY: waitpid on one pid; a null status pointer is allowed.
        unsafe { libc::waitpid(p, std::ptr::null_mut(), 0) };
    }
}

/// Reaps every exited child without blocking: `(pid, raw wait status)`.
pub fn reap_all() -> Vec<(u32, i32)> {
    let mut out = Vec::new();
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid status pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return out;
        }
        out.push((pid as u32, status));
    }
}

/// How a raw wait status ended: `Ok(exit code)` or `Err(signal)`.
pub fn decode_status(status: i32) -> Result<i32, i32> {
    if libc::WIFSIGNALED(status) {
        Err(libc::WTERMSIG(status))
    } else {
        Ok(libc::WEXITSTATUS(status))
    }
}

/// Sends `signal` to `pid`; false if it could not be delivered.
pub fn signal(pid: u32, signal: i32) -> bool {
    match libc::pid_t::try_from(pid) {
        // SAFETY: kill has no memory-safety preconditions.
        Ok(p) if p > 0 => unsafe { libc::kill(p, signal) == 0 },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn bare_names_are_not_searched_in_path() {
        assert_eq!(exec_path("/bin/true"), "/bin/true");
        assert_eq!(exec_path("bin/x"), "bin/x");
        assert_eq!(exec_path("true"), "./true");
    }

    #[test]
    #[allow(clippy::zombie_processes)] // try_reap and kill_and_reap wait for them
    fn try_reap_and_kill_and_reap() {
        let c = Command::new("sleep").arg("30").spawn().unwrap();
        assert!(!try_reap(c.id()), "a running child has not ended");
        kill_and_reap(c.id());
        assert!(!signal(c.id(), 0), "killed and reaped");
        assert!(try_reap(c.id()), "no longer our child");
        assert!(try_reap(0), "pid 0 is never waited for");
        assert!(try_reap(u32::MAX), "no such pid");
        let d = Command::new("true").spawn().unwrap();
        let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !try_reap(d.id()) {
            assert!(std::time::Instant::now() < end, "true did not end");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Runs `sh -c "echo hello >&FD"` for a pipe's write end `FD` and
    /// returns what arrives at the read end; `inherit` applies
    /// [`inherit_fd`]. Waits with [`try_reap`], as another test's
    /// [`reap_all`] may reap the child first.
    fn echo_through_pipe(inherit: bool) -> String {
        use std::io::Read as _;
        use std::os::fd::AsRawFd as _;
        let (r, w) = pipe().unwrap();
        let mut c = Command::new("/bin/sh");
        c.args(["-c", &format!("echo hello >&{}", w.as_raw_fd())])
            .stderr(std::process::Stdio::null());
        if inherit {
            inherit_fd(&mut c, w.as_raw_fd());
        }
        die_with_parent(&mut c);
        let pid = c.spawn().unwrap().id();
        drop(c);
        drop(w);
        let mut got = String::new();
        std::fs::File::from(r).read_to_string(&mut got).unwrap();
        while !try_reap(pid) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        got
    }

    #[test]
    fn a_pipe_end_is_inherited_under_its_number() {
        assert_eq!(echo_through_pipe(true), "hello\n");
        assert_eq!(echo_through_pipe(false), "", "closed on exec by default");
    }

    #[test]
    #[allow(clippy::zombie_processes)] // reap_all is what waits for them
    fn reaps_children_with_their_status() {
        let a = Command::new("false").spawn().unwrap();
        let b = Command::new("sleep").arg("30").spawn().unwrap();
        assert!(signal(b.id(), libc::SIGKILL));
        let want = [a.id(), b.id()];
        let mut got = Vec::new();
        let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while got.len() < 2 && std::time::Instant::now() < end {
            got.extend(reap_all().into_iter().filter(|(p, _)| want.contains(p)));
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        got.sort();
        let mut decoded: Vec<(u32, Result<i32, i32>)> =
            got.iter().map(|&(p, s)| (p, decode_status(s))).collect();
        decoded.sort();
        let mut expect = vec![(a.id(), Ok(1)), (b.id(), Err(9))];
        expect.sort();
        assert_eq!(decoded, expect);
        assert!(!signal(0, 0), "pid 0 is never signalled");
    }
}
