//! Child processes: the active/inactive hooks (§12, no shell), lvsd (§7),
//! fos (fos.md §5), and reaping (§10 SIGCHLD, with the C8 fix: every
//! exited child is reaped at once).

use std::process::{Command, Stdio};
use std::time::Duration;

use lvs_util::process;

use crate::machine::{ChildEnd, FosRole, LvsdRole};

/// Splits a hook command on single spaces; consecutive spaces make no
/// empty words; no quoting.
pub fn split_command(cmd: &str) -> Vec<&str> {
    cmd.split(' ').filter(|w| !w.is_empty()).collect()
}

/// Starts `cmd` (not waited for here; the reaper logs its end). Returns
/// its pid, or `None` if it could not be started.
pub fn run_hook(cmd: &str) -> Option<u32> {
    let words = split_command(cmd);
    let (first, rest) = words.split_first()?;
    tracing::debug!("DEBUG -- Executing '{cmd}'");
    match Command::new(process::exec_path(first)).args(rest).spawn() {
        Ok(child) => Some(child.id()),
        Err(e) => {
            tracing::info!("failed to execute {first}: {}", lvs_util::errtext(&e));
            None
        }
    }
}

/// How pulse runs lvsd.
#[derive(Debug, Clone)]
pub struct LvsdCommand {
    /// `--lvsd=PATH`.
    pub path: String,
    /// The config file pulse was given.
    pub config: String,
    /// pulse runs with `-n`.
    pub nodaemon: bool,
    /// pulse runs with `-v`.
    pub verbose: bool,
    /// `$LVSD_OPTIONS`, split on blanks: added after pulse's own.
    pub extra: Vec<String>,
}

/// The words of an `…_OPTIONS` variable (`LVSD_OPTIONS`, `FOS_OPTIONS`):
/// split on blanks, no quoting.
pub fn option_words(value: &str) -> Vec<String> {
    value.split_whitespace().map(String::from).collect()
}

/// A started lvsd.
#[derive(Debug)]
pub struct Lvsd {
    /// Its pid.
    pub pid: u32,
    /// Our end of its socket (`--pulse-fd`): its role goes out on it,
    /// `ready` comes back.
    pub socket: Option<std::os::unix::net::UnixStream>,
}

impl LvsdCommand {
    /// The argument vector after the program name (§7.1 step 2).
    pub fn args(&self) -> Vec<String> {
        let mut a = vec![
            if self.nodaemon {
                "--nodaemon"
            } else {
                "--nofork"
            }
            .to_string(),
            "-c".to_string(),
            self.config.clone(),
        ];
        if self.verbose {
            a.push("-v".into());
        }
        a.extend(self.extra.iter().cloned());
        a
    }

    /// The argument vector with lvsd's socket on descriptor `fd`:
    /// [`LvsdCommand::args`], then `--standby` when it starts as the warm
    /// standby, and `--pulse-fd=FD`.
    pub fn socket_args(&self, standby: bool, fd: i32) -> Vec<String> {
        let mut a = self.args();
        if standby {
            a.push("--standby".into());
        }
        a.push(format!("--pulse-fd={fd}"));
        a
    }

    /// Starts lvsd (in the standby role if `standby`) with a socket to us;
    /// without one if the socket cannot be made.
    pub fn start(&self, standby: bool) -> Option<Lvsd> {
        let (ours, theirs) = match std::os::unix::net::UnixStream::pair() {
            Ok(p) => p,
            Err(e) => {
                tracing::info!(
                    "cannot make a socket for lvsd: {}; starting it without one",
                    lvs_util::errtext(&e)
                );
                return spawn(&self.path, &self.args()).map(|pid| Lvsd { pid, socket: None });
            }
        };
        let fd = std::os::fd::AsRawFd::as_raw_fd(&theirs);
        let mut cmd = Command::new(&self.path);
        cmd.args(self.socket_args(standby, fd))
            .stdin(Stdio::inherit());
        process::inherit_fd(&mut cmd, fd);
        let pid = match cmd.spawn() {
            Ok(child) => child.id(),
            Err(e) => {
                tracing::info!("failed to execute {}: {}", self.path, lvs_util::errtext(&e));
                return None;
            }
        };
        drop(theirs);
        // A write never waits for lvsd: the lines are tiny and a full
        // socket means lvsd is not reading anyway.
        let _ = ours.set_nonblocking(true);
        Some(Lvsd {
            pid,
            socket: Some(ours),
        })
    }
}

/// Tells lvsd its role through its socket (warm standby); a closed socket
/// (lvsd gone) or a full one is only logged with `-v`.
pub fn tell(socket: &mut std::os::unix::net::UnixStream, role: LvsdRole) {
    use std::io::Write as _;
    let line: &[u8] = match role {
        LvsdRole::Standby => b"standby\n",
        LvsdRole::Active => b"active\n",
    };
    if let Err(e) = socket.write_all(line) {
        tracing::debug!("cannot tell lvsd its role: {}", lvs_util::errtext(&e));
    }
}

/// How pulse runs fos.
#[derive(Debug, Clone)]
pub struct FosCommand {
    /// `--fos=PATH`.
    pub path: String,
    /// The config file pulse was given.
    pub config: String,
    /// pulse runs with `-n`.
    pub nodaemon: bool,
    /// pulse runs with `-v`.
    pub verbose: bool,
    /// `$FOS_OPTIONS`, split on blanks: added after pulse's own.
    pub extra: Vec<String>,
}

impl FosCommand {
    /// The argument vector after the program name (fos.md §5):
    /// `--active|--monitor -c CONFIG --nofork|--nodaemon [-v]`.
    pub fn args(&self, role: FosRole) -> Vec<String> {
        let mut a = vec![
            match role {
                FosRole::Active => "--active",
                FosRole::Monitor => "--monitor",
            }
            .to_string(),
            "-c".to_string(),
            self.config.clone(),
            if self.nodaemon {
                "--nodaemon"
            } else {
                "--nofork"
            }
            .to_string(),
        ];
        if self.verbose {
            a.push("-v".into());
        }
        a.extend(self.extra.iter().cloned());
        a
    }

    /// Starts fos in `role`; returns its pid.
    pub fn start(&self, role: FosRole) -> Option<u32> {
        spawn(&self.path, &self.args(role))
    }
}

fn spawn(path: &str, args: &[String]) -> Option<u32> {
    match Command::new(path)
        .args(args)
        .stdin(Stdio::inherit())
        .spawn()
    {
        Ok(child) => Some(child.id()),
        Err(e) => {
            tracing::info!("failed to execute {path}: {}", lvs_util::errtext(&e));
            None
        }
    }
}

/// Sends SIGTERM to the daemon child `name` (lvsd or fos) and waits for
/// it; after `timeout` it is killed (gaps.md C19). Other children are left
/// to the reaper.
pub async fn stop(name: &str, pid: u32, timeout: Duration) {
    if !process::signal(pid, libc::SIGTERM) {
        process::try_reap(pid);
        return;
    }
    let end = tokio::time::Instant::now() + timeout;
    while !process::try_reap(pid) {
        if tokio::time::Instant::now() >= end {
            tracing::info!(
                "{name} (pid {pid}) did not exit within {} after SIGTERM: sending SIGKILL",
                crate::config::secs(timeout)
            );
            process::kill_and_reap(pid);
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sends SIGHUP to `pid`.
pub fn hangup(pid: u32) {
    process::signal(pid, libc::SIGHUP);
}

/// Reaps every exited child without blocking.
pub fn reap_all() -> Vec<(u32, ChildEnd)> {
    process::reap_all()
        .into_iter()
        .map(|(pid, status)| {
            let end = match process::decode_status(status) {
                Ok(code) => ChildEnd::Exited(code),
                Err(sig) => ChildEnd::Signaled(sig),
            };
            (pid, end)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_words_split_on_spaces_without_empty_words() {
        assert_eq!(
            split_command("/usr/local/bin/hook  a b   c"),
            vec!["/usr/local/bin/hook", "a", "b", "c"]
        );
        assert_eq!(split_command("  /x \"a b\""), vec!["/x", "\"a", "b\""]);
        assert!(split_command("   ").is_empty());
    }

    #[test]
    fn fos_arguments() {
        let mut c = FosCommand {
            path: "/usr/sbin/fos".into(),
            config: "/etc/sysconfig/ha/lvs.cf".into(),
            nodaemon: false,
            verbose: false,
            extra: Vec::new(),
        };
        assert_eq!(
            c.args(FosRole::Active),
            ["--active", "-c", "/etc/sysconfig/ha/lvs.cf", "--nofork"]
        );
        c.nodaemon = true;
        c.verbose = true;
        assert_eq!(
            c.args(FosRole::Monitor),
            [
                "--monitor",
                "-c",
                "/etc/sysconfig/ha/lvs.cf",
                "--nodaemon",
                "-v"
            ]
        );
    }

    #[test]
    fn lvsd_arguments() {
        let mut c = LvsdCommand {
            path: "/usr/sbin/lvsd".into(),
            config: "/etc/sysconfig/ha/lvs.cf".into(),
            nodaemon: false,
            verbose: false,
            extra: Vec::new(),
        };
        assert_eq!(c.args(), vec!["--nofork", "-c", "/etc/sysconfig/ha/lvs.cf"]);
        assert_eq!(
            c.socket_args(true, 5),
            [
                "--nofork",
                "-c",
                "/etc/sysconfig/ha/lvs.cf",
                "--standby",
                "--pulse-fd=5"
            ]
        );
        assert_eq!(
            c.socket_args(false, 6),
            ["--nofork", "-c", "/etc/sysconfig/ha/lvs.cf", "--pulse-fd=6"]
        );
        c.nodaemon = true;
        c.verbose = true;
        assert_eq!(
            c.args(),
            vec!["--nodaemon", "-c", "/etc/sysconfig/ha/lvs.cf", "-v"]
        );
        // $LVSD_OPTIONS after pulse's own, before the socket
        c.extra = option_words("  --owned-only\t--keep-single-quotes ");
        assert_eq!(
            c.socket_args(true, 7),
            [
                "--nodaemon",
                "-c",
                "/etc/sysconfig/ha/lvs.cf",
                "-v",
                "--owned-only",
                "--keep-single-quotes",
                "--standby",
                "--pulse-fd=7"
            ]
        );
    }

    #[test]
    fn fos_options_come_after_pulses_own() {
        let c = FosCommand {
            path: "/usr/sbin/fos".into(),
            config: "/etc/sysconfig/ha/lvs.cf".into(),
            nodaemon: false,
            verbose: false,
            extra: option_words("--keep-single-quotes"),
        };
        assert_eq!(
            c.args(FosRole::Monitor),
            [
                "--monitor",
                "-c",
                "/etc/sysconfig/ha/lvs.cf",
                "--nofork",
                "--keep-single-quotes"
            ]
        );
        assert!(option_words("").is_empty() && option_words("  ").is_empty());
    }
}
