//! Process plumbing: daemonizing with the pid file (§11.2) and systemd's
//! readiness protocol (`Type=notify`).

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

/// Default pid file.
pub const PID_FILE: &str = "/var/run/pulse.pid";

/// The pid file to use: `/var/run/pulse.pid`, or `$PULSE_PID_FILE` (used
/// by tests that run several pulses on one machine).
pub fn pid_file() -> PathBuf {
    lvs_util::daemon::pid_file(PID_FILE, "PULSE_PID_FILE")
}

/// Forks twice; the original process exits 0 once the first child has,
/// the grandchild returns (`lvs_util::daemon::fork_twice`).
pub use lvs_util::daemon::{detach as detach_stdio, fork_twice as daemonize};

/// Writes `PID\n` to `path`; failures are logged, not fatal.
pub fn write_pid_file(path: &Path) {
    if let Err(e) = lvs_util::daemon::write_pid_file(path) {
        // Logging is not set up yet here; daemon mode logs to syslog.
        lvs_util::log::syslog_info(&format!(
            "failed to open {}: {}",
            path.display(),
            lvs_util::errtext(&e)
        ));
    }
}

/// systemd's notification socket, if pulse runs under `Type=notify`.
pub struct Notifier {
    sock: UnixDatagram,
    addr: std::os::unix::net::SocketAddr,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET` (a path or `@abstract` name).
    pub fn from_env() -> Option<Notifier> {
        let path = std::env::var("NOTIFY_SOCKET").ok()?;
        let addr = if let Some(name) = path.strip_prefix('@') {
            use std::os::linux::net::SocketAddrExt as _;
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).ok()?
        } else {
            std::os::unix::net::SocketAddr::from_pathname(&path).ok()?
        };
        let sock = UnixDatagram::unbound().ok()?;
        Some(Notifier { sock, addr })
    }

    /// Sends one state string, e.g. `READY=1`.
    pub fn notify(&self, state: &str) {
        let _ = self.sock.send_to_addr(state.as_bytes(), &self.addr);
    }

    /// `READY=1` with our pid.
    pub fn ready(&self) {
        self.notify(&format!("READY=1\nMAINPID={}", std::process::id()));
    }

    /// `RELOADING=1` with the monotonic timestamp systemd asks for.
    pub fn reloading(&self) {
        let usec = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map(|t| t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1000)
            .unwrap_or(0);
        self.notify(&format!("RELOADING=1\nMONOTONIC_USEC={usec}"));
    }

    /// `STOPPING=1`.
    pub fn stopping(&self) {
        self.notify("STOPPING=1");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_reach_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        // SAFETY: test-local environment change; no other test reads NOTIFY_SOCKET.
        unsafe { std::env::set_var("NOTIFY_SOCKET", &path) };
        let n = Notifier::from_env().expect("notifier");
        unsafe { std::env::remove_var("NOTIFY_SOCKET") };
        n.ready();
        n.reloading();
        n.stopping();
        let mut buf = [0u8; 256];
        let got: Vec<String> = (0..3)
            .map(|_| {
                let len = server.recv(&mut buf).unwrap();
                String::from_utf8_lossy(&buf[..len]).into_owned()
            })
            .collect();
        assert_eq!(got[0], format!("READY=1\nMAINPID={}", std::process::id()));
        assert!(got[1].starts_with("RELOADING=1\nMONOTONIC_USEC="));
        assert_eq!(got[2], "STOPPING=1");
    }
}
