//! Becoming a daemon the way Piranha's daemons do: fork twice (unless told
//! not to), write `PID\n` to a pid file (whose path tests may override),
//! point stdio at /dev/null and start a new session.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::log::Sink;

/// The pid file: `default`, or the path in the environment variable `var`
/// (for tests that run several daemons on one machine).
pub fn pid_file(default: &str, var: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

/// Becomes a daemon the way lvsd and fos do: forks twice (unless
/// `nofork`), writes the pid file, points stdio at /dev/null in a new
/// session and logs to syslog as `ident`; a pid file that cannot be written
/// is logged (`failed to open PATH: ERROR`). The error is the fork's, and
/// nothing else has been done then. Must run while the process has one
/// thread.
pub fn daemonize(
    nofork: bool,
    pid_file: &Path,
    ident: &'static str,
    verbose: bool,
) -> std::io::Result<()> {
    if !nofork {
        fork_twice()?;
    }
    let pid_err = write_pid_file(pid_file).err();
    detach();
    crate::log::init(ident, Sink::Syslog, verbose);
    if let Some(e) = pid_err {
        tracing::info!(
            "failed to open {}: {}",
            pid_file.display(),
            crate::errtext(&e)
        );
    }
    Ok(())
}

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

    #[test]
    fn pid_file_from_the_environment() {
        let var = "LVS_UTIL_TEST_PID_FILE";
        assert_eq!(pid_file("/var/run/x.pid", var), Path::new("/var/run/x.pid"));
        // SAFETY: no other test reads or writes this variable.
        unsafe { std::env::set_var(var, "/tmp/y.pid") };
        assert_eq!(pid_file("/var/run/x.pid", var), Path::new("/tmp/y.pid"));
        // SAFETY: as above.
        unsafe { std::env::remove_var(var) };
    }
}
