//! BGP for the scale-out tests (docs/scale-out.md): FRR (Debian's) as the
//! upstream router that spreads flows over the directors with ECMP, and
//! BIRD 2 on each director announcing the VIPs on its `lvs0` interface.
//! Both run from the shipped examples, `etc/scale-out/frr-upstream.conf`
//! and `etc/scale-out/bird.conf`, with the example addresses replaced, so
//! the files admins copy are the ones the tests run.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::netns::{Netns, wait_for};

/// FRR's daemons, as Debian installs them.
pub const FRR_DIR: &str = "/usr/lib/frr";
/// BIRD 2, as Debian installs it.
pub const BIRD: &str = "/usr/sbin/bird";

/// The example's addresses, replaced in the shipped configurations.
const EXAMPLE_DIRECTOR: &str = "192.0.2.1";
const EXAMPLE_UPSTREAM: &str = "192.0.2.254";
const EXAMPLE_RANGE: &str = "192.0.2.0/24";

/// Whether FRR's bgpd, bfdd and zebra and BIRD are installed.
pub fn available() -> bool {
    ["zebra", "bgpd", "bfdd"]
        .iter()
        .all(|d| Path::new(FRR_DIR).join(d).exists())
        && Path::new(BIRD).exists()
}

/// A shipped file under `etc/`.
fn shipped(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../etc/scale-out")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `etc/scale-out/frr-upstream.conf` for a router at `address` accepting
/// directors from `range` (CIDR).
pub fn upstream_conf(address: &str, range: &str) -> String {
    shipped("frr-upstream.conf")
        .replace(EXAMPLE_RANGE, range)
        .replace(EXAMPLE_UPSTREAM, address)
}

/// `etc/scale-out/bird.conf` for a director at `address` peering with the
/// upstream router at `upstream`.
pub fn director_conf(address: &str, upstream: &str) -> String {
    shipped("bird.conf")
        .replace(EXAMPLE_UPSTREAM, upstream)
        .replace(EXAMPLE_DIRECTOR, address)
}

/// Kills and reaps `c`.
fn end(c: &mut Child) {
    let _ = c.kill();
    let _ = c.wait();
}

/// FRR (zebra, bfdd, bgpd) in a namespace, in the foreground, as the `frr`
/// user (FRR refuses root unless root is in its vty group).
pub struct Upstream {
    dir: PathBuf,
    daemons: Vec<Child>,
}

impl Upstream {
    /// Starts FRR in `ns` with [`upstream_conf`]; its files go under `dir`.
    pub fn start(ns: &Netns, dir: &Path, address: &str, range: &str) -> Upstream {
        let dir = dir.join(format!("frr-{}", ns.name()));
        std::fs::create_dir_all(&dir).expect("frr directory");
        let conf = dir.join("frr.conf");
        std::fs::write(&conf, upstream_conf(address, range)).expect("frr.conf");
        // vtysh (see [`Upstream::vtysh`]) without PAM, which a test VM has not
        std::fs::write(dir.join("vtysh.conf"), "username root nopassword\n").expect("vtysh.conf");
        // frr must read its configuration and write its sockets and logs
        let status = std::process::Command::new("chown")
            .args(["-R", "frr:frr"])
            .arg(&dir)
            .status()
            .expect("chown");
        assert!(status.success(), "chown frr {}", dir.display());
        let mut up = Upstream {
            dir: dir.clone(),
            daemons: Vec::new(),
        };
        for daemon in ["zebra", "bfdd", "bgpd"] {
            let mut cmd = ns.command(Path::new(FRR_DIR).join(daemon));
            cmd.args(["-u", "frr", "-g", "frr", "-f"])
                .arg(&conf)
                .arg("-z")
                .arg(dir.join("zserv.api"))
                .arg("-i")
                .arg(dir.join(format!("{daemon}.pid")))
                .arg("--vty_socket")
                .arg(&dir)
                .arg("--log")
                .arg(format!(
                    "file:{}",
                    dir.join(format!("{daemon}.log")).display()
                ));
            if daemon == "bfdd" {
                cmd.arg("--bfdctl").arg(dir.join("bfdd.sock"));
            }
            let child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("start {daemon}: {e}"));
            up.daemons.push(child);
            if daemon == "zebra" {
                // bfdd and bgpd connect to zebra's socket at start
                let sock = dir.join("zserv.api");
                assert!(
                    wait_for(Duration::from_secs(10), || sock.exists()),
                    "zebra does not come up\n{}",
                    up.logs()
                );
            }
        }
        up
    }

    /// `vtysh -c COMMAND` against these daemons.
    pub fn vtysh(&self, ns: &Netns, command: &str) -> String {
        let out = ns
            .command("vtysh")
            .arg("--vty_socket")
            .arg(&self.dir)
            .arg("--config_dir")
            .arg(&self.dir)
            .args(["-c", command])
            .output()
            .expect("run vtysh");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// How many BFD sessions are up.
    pub fn bfd_up(&self, ns: &Netns) -> usize {
        self.vtysh(ns, "show bfd peers brief")
            .lines()
            .filter(|l| l.split_whitespace().last() == Some("up"))
            .count()
    }

    /// FRR's logs, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for d in ["zebra", "bfdd", "bgpd"] {
            let text =
                std::fs::read_to_string(self.dir.join(format!("{d}.log"))).unwrap_or_default();
            out.push_str(&format!("--- {d} ---\n{text}"));
        }
        out
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        for c in self.daemons.iter_mut().rev() {
            end(c);
        }
    }
}

/// BIRD on a director, in the foreground.
pub struct Speaker {
    child: Option<Child>,
    log: PathBuf,
}

impl Speaker {
    /// Starts BIRD in `ns` with [`director_conf`]; its files go under
    /// `dir`.
    pub fn start(ns: &Netns, dir: &Path, address: &str, upstream: &str) -> Speaker {
        let base = dir.join(format!("bird-{}", ns.name()));
        let conf = base.with_extension("conf");
        let log = base.with_extension("log");
        std::fs::write(&conf, director_conf(address, upstream)).expect("bird.conf");
        let child = ns
            .command(BIRD)
            .arg("-f")
            .arg("-c")
            .arg(&conf)
            .arg("-s")
            .arg(base.with_extension("ctl"))
            .arg("-D")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bird");
        Speaker {
            child: Some(child),
            log,
        }
    }

    /// kill -9 of BIRD (its sessions end by hold time or BFD).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            end(&mut c);
        }
    }

    /// BIRD's debug log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Speaker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The next hops of the route to `prefix` in `ns`'s main table, sorted
/// (empty: no route).
pub fn next_hops(ns: &Netns, prefix: &str) -> Vec<String> {
    let out = ns.ip(&["route", "show", prefix]);
    let mut hops: Vec<String> = out
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0] == "via")
        .map(|w| w[1].to_string())
        .collect();
    hops.sort();
    hops.dedup();
    hops
}

/// Waits up to `timeout` until the route to `prefix` in `ns` goes through
/// exactly `want` (any order).
pub fn wait_next_hops(ns: &Netns, prefix: &str, want: &[&str], timeout: Duration) -> bool {
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want.sort();
    wait_for(timeout, || next_hops(ns, prefix) == want)
}
