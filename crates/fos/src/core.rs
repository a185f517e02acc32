//! fos's behaviour as plain data (fos.md §2, §4): the start-up and
//! shutdown steps for each mode, and what a child's exit or a signal means.
//! The shell (`run`) carries the steps out; nothing here runs a process.

use crate::plan::Block;

/// The mode fos runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `--monitor` (`-f`): standby node, one nanny per service.
    Monitor,
    /// `--active` (`-F`): active node, the services run here.
    Services,
}

/// One thing to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Log this line.
    Log(String),
    /// Run this command and wait for it; log `failure` unless it exits 0.
    Run {
        /// Program and arguments.
        argv: Vec<String>,
        /// What to log when it fails.
        failure: String,
    },
    /// Start the monitor (nanny) of this block and log its pid.
    StartMonitor(usize),
    /// SIGTERM this monitor and wait for it.
    StopMonitor(u32),
}

/// A running monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Monitor {
    /// The nanny's pid.
    pub pid: u32,
    /// Index of its block.
    pub block: usize,
}

/// fos's state after start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fos {
    /// The mode.
    pub role: Role,
    /// The active failover blocks, file order.
    pub blocks: Vec<Block>,
    /// Monitors started and not yet reaped, in start order.
    pub monitors: Vec<Monitor>,
}

/// `Starting monitor for VIP:PORT running as pid PID` (with the nanny's
/// pid, gaps.md F5; the original printed its own).
pub fn monitor_started(block: &Block, pid: u32) -> String {
    format!(
        "Starting monitor for {} running as pid {pid}",
        block.service()
    )
}

/// The last line fos logs.
pub const FAREWELL: &str = "will now exit to notify pulse...";

impl Fos {
    /// A fos with no monitors yet.
    pub fn new(role: Role, blocks: Vec<Block>) -> Fos {
        Fos {
            role,
            blocks,
            monitors: Vec::new(),
        }
    }

    /// §2 step 3: for each block, stop the local service, then start it
    /// (services) or start its monitor (monitor mode).
    pub fn startup(&self) -> Vec<Step> {
        let mut out = Vec::new();
        for (i, b) in self.blocks.iter().enumerate() {
            out.push(Step::Log("Stopping local services (if any)".into()));
            self.stop_service(b, &mut out);
            match self.role {
                Role::Services => {
                    out.push(Step::Log(format!(
                        "Starting local service {} ...",
                        b.service()
                    )));
                    out.push(Step::Run {
                        argv: b.start.clone(),
                        failure: format!("Failed to start service {}!", b.service()),
                    });
                }
                Role::Monitor => out.push(Step::StartMonitor(i)),
            }
        }
        out
    }

    fn stop_service(&self, b: &Block, out: &mut Vec<Step>) {
        out.push(Step::Log(format!(
            "Shutting down local service {} ",
            b.service()
        )));
        out.push(Step::Run {
            argv: b.stop.clone(),
            failure: format!(
                "Warning; shutdown of local service {} returned error 1",
                b.service()
            ),
        });
    }

    /// Records a started monitor.
    pub fn started(&mut self, block: usize, pid: u32) {
        self.monitors.push(Monitor { pid, block });
    }

    /// §4: a child was reaped (raw wait status). Returns the line to log;
    /// any child's exit ends fos.
    pub fn child_exited(&mut self, pid: u32, status: i32) -> String {
        match self.monitors.iter().position(|m| m.pid == pid) {
            Some(i) => {
                let m = self.monitors.remove(i);
                format!(
                    "Monitor for service {} exited. This is a failover condition!",
                    self.blocks[m.block].service()
                )
            }
            // Services mode has no long-running children: the start and
            // stop commands are waited for (gaps.md F1).
            None => format!("Child with pid {pid} died with status {status} -- exiting..."),
        }
    }

    /// §4: SIGTERM, SIGINT and SIGHUP (gaps.md F7) end fos.
    pub fn signalled(sig: i32) -> String {
        format!("Shutting down due to signal {sig}")
    }

    /// §4 shutdown: stop each remaining monitor, or run every block's
    /// `stop_cmd`. The shell then logs [`FAREWELL`] and exits 0.
    pub fn shutdown(&self) -> Vec<Step> {
        let mut out = Vec::new();
        match self.role {
            Role::Monitor => {
                for m in &self.monitors {
                    let b = &self.blocks[m.block];
                    out.push(Step::Log(format!(
                        "Shutting down monitor for {} {} running as pid {}",
                        b.name,
                        b.service(),
                        m.pid
                    )));
                    out.push(Step::StopMonitor(m.pid));
                }
            }
            Role::Services => {
                for b in &self.blocks {
                    self.stop_service(b, &mut out);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn block(name: &str, last: u8, port: u16) -> Block {
        Block {
            name: name.into(),
            vip: Ipv4Addr::new(192, 0, 2, last).into(),
            port,
            start: vec![format!("/bin/{name}"), "start".into()],
            stop: vec![format!("/bin/{name}"), "stop".into()],
            monitor: vec!["/usr/sbin/nanny".into()],
        }
    }

    fn fos(role: Role) -> Fos {
        Fos::new(role, vec![block("web", 100, 80), block("ftp", 101, 21)])
    }

    fn log(s: &str) -> Step {
        Step::Log(s.into())
    }

    fn run(name: &str, verb: &str, failure: &str) -> Step {
        Step::Run {
            argv: vec![format!("/bin/{name}"), verb.into()],
            failure: failure.into(),
        }
    }

    #[test]
    fn services_mode_stops_then_starts_each_block_in_order() {
        assert_eq!(
            fos(Role::Services).startup(),
            [
                log("Stopping local services (if any)"),
                log("Shutting down local service 192.0.2.100:80 "),
                run(
                    "web",
                    "stop",
                    "Warning; shutdown of local service 192.0.2.100:80 returned error 1"
                ),
                log("Starting local service 192.0.2.100:80 ..."),
                run("web", "start", "Failed to start service 192.0.2.100:80!"),
                log("Stopping local services (if any)"),
                log("Shutting down local service 192.0.2.101:21 "),
                run(
                    "ftp",
                    "stop",
                    "Warning; shutdown of local service 192.0.2.101:21 returned error 1"
                ),
                log("Starting local service 192.0.2.101:21 ..."),
                run("ftp", "start", "Failed to start service 192.0.2.101:21!"),
            ]
        );
    }

    #[test]
    fn monitor_mode_stops_each_service_and_starts_its_monitor() {
        let f = fos(Role::Monitor);
        let s = f.startup();
        assert_eq!(s.len(), 8);
        assert_eq!(s[3], Step::StartMonitor(0));
        assert_eq!(s[7], Step::StartMonitor(1));
        assert_eq!(
            monitor_started(&f.blocks[1], 4242),
            "Starting monitor for 192.0.2.101:21 running as pid 4242"
        );
    }

    #[test]
    fn a_monitor_exit_is_a_failover_and_the_others_are_stopped() {
        let mut f = fos(Role::Monitor);
        f.started(0, 10);
        f.started(1, 11);
        assert_eq!(
            f.child_exited(10, 0),
            "Monitor for service 192.0.2.100:80 exited. This is a failover condition!"
        );
        assert_eq!(
            f.shutdown(),
            [
                log("Shutting down monitor for ftp 192.0.2.101:21 running as pid 11"),
                Step::StopMonitor(11)
            ]
        );
    }

    #[test]
    fn an_unknown_child_is_logged_with_its_raw_status() {
        let mut f = fos(Role::Services);
        assert_eq!(
            f.child_exited(77, 256),
            "Child with pid 77 died with status 256 -- exiting..."
        );
        assert_eq!(Fos::signalled(1), "Shutting down due to signal 1");
    }

    #[test]
    fn services_shutdown_runs_every_stop_command() {
        let s = fos(Role::Services).shutdown();
        assert_eq!(
            s,
            [
                log("Shutting down local service 192.0.2.100:80 "),
                run(
                    "web",
                    "stop",
                    "Warning; shutdown of local service 192.0.2.100:80 returned error 1"
                ),
                log("Shutting down local service 192.0.2.101:21 "),
                run(
                    "ftp",
                    "stop",
                    "Warning; shutdown of local service 192.0.2.101:21 returned error 1"
                ),
            ]
        );
    }
}
