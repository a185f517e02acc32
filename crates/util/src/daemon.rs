//! Becoming a daemon the way Piranha's daemons do: fork twice (unless told
//! not to), write `PID\n` to a pid file, point stdio at /dev/null and start
//! a new session.

use std::io::Write as _;
use std::path::Path;

/// Forks twice; the original process waits for the first child and exits
/// 0, the grandchild returns. Must run while the process has one thread.
pub fn fork_twice() -> std::io::Result<()> {
    // SAFETY: called while the process is single-threaded; the child only
    // continues with ordinary code.
    match unsafe { libc::fork() } {
        -1 => return Err(std::io::Error::last_os_error()),
        0 => {}
        child => {
            let mut status = 0;
            // SAFETY: waiting for our own child.
            unsafe { libc::waitpid(child, &mut status, 0) };
            std::process::exit(0);
        }
    }
    // SAFETY: as above.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error()),
        0 => Ok(()),
        _ => std::process::exit(0),
    }
}

/// Writes `PID\n` (this process) to `path`.
pub fn write_pid_file(path: &Path) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    writeln!(f, "{}", std::process::id())
}

/// Points stdin, stdout and stderr at /dev/null and starts a new session.
pub fn detach() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        use std::os::fd::AsRawFd as _;
        for fd in 0..3 {
            // SAFETY: dup2 onto the standard descriptors.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
    // SAFETY: setsid has no memory-safety preconditions.
    unsafe { libc::setsid() };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_file_holds_our_pid() {
        let dir = std::env::temp_dir().join(format!("lvs-util-pid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.pid");
        write_pid_file(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(write_pid_file(&dir.join("missing/x.pid")).is_err());
    }
}
