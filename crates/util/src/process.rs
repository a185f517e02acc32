//! Child processes the way Piranha's daemons run them: `execv` path rules
//! (no PATH search) and reaping every exited child with its raw wait status.

/// The path `execv` would run for a command's first word: a word without
/// a `/` is relative to the working directory, never searched in PATH.
pub fn exec_path(word: &str) -> String {
    if word.contains('/') {
        word.to_string()
    } else {
        format!("./{word}")
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
