//! A two-router lab in network namespaces: a switch namespace with a
//! bridge, routers `r1` (primary, 192.0.2.1) and `r2` (backup, 192.0.2.2)
//! and a client `c` (192.0.2.10) on it, optionally a private link
//! (198.51.100.1/.2) straight between the routers. Each router runs the
//! real pulse binary with its own lvs.cf and `--lvsd=` pointing at
//! `pulse-test-lvsd`, which records starts, stops and hooks. The
//! namespaces, links and network helpers are `lvs_tests::lab`'s; this
//! module adds pulse, its lvs.cf and the recorder's records.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

pub use lvs_tests::lab::{Host, Log, Switch, read_lines};
pub use lvs_tests::netns::{Netns, wait_for};

pub const PULSE: &str = env!("CARGO_BIN_EXE_pulse");
pub const RECORDER: &str = env!("CARGO_BIN_EXE_pulse-test-lvsd");
pub const VIP: &str = "192.0.2.100";
pub const VIP_B: &str = "172.16.0.100";

/// Timing and options written into lvs.cf.
#[derive(Clone)]
pub struct Cf {
    pub keepalive: &'static str,
    pub deadtime: &'static str,
    pub monitor_links: bool,
    pub private: bool,
    pub backup_active: bool,
    pub syncdaemon: bool,
    /// `vip_nmask` of the `web` virtual server (none: classful /24).
    pub web_nmask: Option<&'static str>,
    /// `inactive_cmd` instead of the recorder's hook.
    pub inactive_cmd: Option<&'static str>,
    /// `heartbeat_port` (two routers with different ports never hear
    /// each other).
    pub heartbeat_port: u16,
}

impl Default for Cf {
    fn default() -> Self {
        Cf {
            keepalive: "1",
            deadtime: "3",
            monitor_links: false,
            private: false,
            backup_active: true,
            syncdaemon: false,
            web_nmask: None,
            inactive_cmd: None,
            heartbeat_port: 539,
        }
    }
}

impl Cf {
    /// A router on its own: no active backup, 1 s keepalive and deadtime.
    pub fn standalone() -> Cf {
        Cf {
            backup_active: false,
            keepalive: "1",
            deadtime: "1",
            ..Cf::default()
        }
    }

    pub fn text(&self) -> String {
        let private = if self.private {
            "primary_private = 198.51.100.1\nbackup_private = 198.51.100.2\n"
        } else {
            ""
        };
        let nmask = match self.web_nmask {
            Some(m) => format!("\n    vip_nmask = {m}"),
            None => String::new(),
        };
        format!(
            r#"serial_no = 1
primary = 192.0.2.1
{private}service = lvs
backup_active = {ba}
backup = 192.0.2.2
heartbeat = 1
heartbeat_port = {port}
keepalive = {k}
deadtime = {d}
network = direct
monitor_links = {m}
syncdaemon = {sd}
syncd_iface = eth0
syncd_id = 263
active_cmd = "{rec} hook active"
inactive_cmd = "{inactive}"

virtual web {{
    active = 1
    address = {VIP} eth0:1{nmask}
    port = 80
    server rs1 {{
        address = 192.0.2.50
        active = 1
    }}
}}

virtual other {{
    active = 1
    address = {VIP_B} eth0:2
    port = 80
}}
"#,
            ba = u8::from(self.backup_active),
            k = self.keepalive,
            d = self.deadtime,
            m = u8::from(self.monitor_links),
            sd = u8::from(self.syncdaemon),
            port = self.heartbeat_port,
            rec = RECORDER,
            inactive = match self.inactive_cmd {
                Some(c) => c.to_string(),
                None => format!("{RECORDER} hook inactive"),
            },
        )
    }
}

/// One router: its namespace and, while running, its pulse.
pub struct Router {
    pub ns: Host,
    pub name: &'static str,
    pub dir: PathBuf,
    pub pulse: Option<Child>,
    pub runs: usize,
}

impl Router {
    pub fn log_path(&self) -> PathBuf {
        self.dir.join(format!("{}.log", self.name))
    }
    /// The log (pulse's standard output and error).
    pub fn log_file(&self) -> Log {
        Log::new(self.log_path())
    }
    pub fn record_path(&self) -> PathBuf {
        self.dir.join(format!("{}.rec", self.name))
    }
    pub fn cf_path(&self) -> PathBuf {
        self.dir.join(format!("{}.cf", self.name))
    }
    /// The router's pulse status socket (`--status-socket`).
    pub fn status_socket(&self) -> PathBuf {
        self.dir.join(format!("{}.sock", self.name))
    }

    /// `pulse --status [--json]` against this router's pulse: (exit code,
    /// stdout, stderr).
    pub fn status_cli(&self, json: bool) -> (i32, String, String) {
        let mut cmd = std::process::Command::new(PULSE);
        cmd.arg("--status").arg(format!(
            "--status-socket={}",
            self.status_socket().display()
        ));
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().expect("run pulse --status");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The status document of this router's pulse (through `pulse
    /// --status --json`), if it answers.
    pub fn status(&self) -> Option<piranha_status::pulse::Status> {
        let (code, out, _) = self.status_cli(true);
        if code != 0 {
            return None;
        }
        Some(serde_json::from_str(&out).expect("pulse --status --json is a status document"))
    }

    /// The role pulse reports (`starting`, `standby`, `active`), if it answers.
    pub fn role(&self) -> Option<String> {
        self.status().map(|s| s.role)
    }

    /// Starts pulse in the foreground (`-n`) with `extra` options; stdout
    /// (the log) goes to `NAME.log`.
    pub fn start(&mut self, cf: &Cf, extra: &[&str]) {
        self.start_env(cf, extra, &[]);
    }

    pub fn start_env(&mut self, cf: &Cf, extra: &[&str], env: &[(&str, &str)]) {
        self.start_with(cf, extra, env, |_| {});
    }

    /// Starts pulse without CAP_NET_RAW (dropped from the capability
    /// bounding set before exec, so root's pulse cannot gain it): no packet
    /// socket, while rtnetlink (CAP_NET_ADMIN) still works.
    pub fn start_without_net_raw(&mut self, cf: &Cf, extra: &[&str]) {
        use std::os::unix::process::CommandExt as _;
        self.start_with(cf, extra, &[], |cmd| {
            // SAFETY: prctl is async-signal-safe; nothing else runs here.
            unsafe {
                cmd.pre_exec(|| {
                    let cap_net_raw: libc::c_ulong = 13;
                    if libc::prctl(libc::PR_CAPBSET_DROP, cap_net_raw, 0, 0, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        });
    }

    pub fn start_with(
        &mut self,
        cf: &Cf,
        extra: &[&str],
        env: &[(&str, &str)],
        customize: impl FnOnce(&mut std::process::Command),
    ) {
        assert!(self.pulse.is_none(), "{} already running", self.name);
        std::fs::write(self.cf_path(), cf.text()).expect("write lvs.cf");
        let mut cmd = self.ns.command_logged(PULSE, &self.log_file());
        cmd.arg("-n")
            .arg("-c")
            .arg(self.cf_path())
            .arg(format!("--lvsd={RECORDER}"))
            .arg(format!(
                "--status-socket={}",
                self.status_socket().display()
            ))
            .args(extra)
            .env("LP_RECORD", self.record_path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        customize(&mut cmd);
        self.pulse = Some(cmd.spawn().expect("start pulse"));
        self.runs += 1;
    }

    pub fn pid(&self) -> i32 {
        self.pulse.as_ref().expect("pulse running").id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// kill -9: no clean-up happens (VIPs stay, lvsd is orphaned).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.pulse.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for exit; returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut c = self.pulse.take()?;
        lvs_tests::child::terminate(&mut c, Duration::from_secs(15))
            .unwrap_or_else(|e| panic!("{} pulse: {e}", self.name))
    }

    pub fn log(&self) -> String {
        self.log_file().text()
    }

    pub fn log_lines(&self) -> Vec<String> {
        self.log().lines().map(String::from).collect()
    }

    /// Whether the log has exactly this line (`pulse: TEXT`).
    pub fn logged(&self, text: &str) -> bool {
        self.log_file().has(&format!("pulse: {text}"))
    }

    pub fn count_logged(&self, text: &str) -> usize {
        self.log_file().count(&format!("pulse: {text}"))
    }

    pub fn wait_logged(&self, text: &str, timeout: Duration) -> bool {
        wait_for(timeout, || self.logged(text))
    }

    pub fn records(&self) -> Vec<String> {
        read_lines(&self.record_path())
    }

    pub fn count_records(&self, prefix: &str) -> usize {
        self.records()
            .iter()
            .filter(|l| l.starts_with(prefix))
            .count()
    }

    /// Pid of the n-th lvsd started (from the `start PID …` records).
    pub fn lvsd_pid(&self, n: usize) -> i32 {
        self.records()
            .iter()
            .filter_map(|l| l.strip_prefix("start "))
            .nth(n)
            .and_then(|l| l.split(' ').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no lvsd start #{n}\n{}", self.dump()))
    }

    /// `ip -o -4 addr show dev eth0` lines.
    pub fn addrs(&self) -> String {
        self.ns.addrs(Some("eth0"))
    }

    /// The VIP line, if the VIP is configured.
    pub fn vip_line(&self, vip: &str) -> Option<String> {
        self.addrs()
            .lines()
            .find(|l| l.contains(&format!("inet {vip}/")))
            .map(String::from)
    }

    pub fn has_vip(&self) -> bool {
        self.vip_line(VIP).is_some()
    }

    /// Both VIPs of the default lvs.cf are up with the labels, masks and
    /// broadcasts `ifconfig` gave them (classful /24 and /16).
    pub fn has_vips_as_configured(&self) -> bool {
        let a = self.addrs();
        a.contains(&format!(
            "inet {VIP}/24 brd 192.0.2.255 scope global secondary eth0:1"
        )) && a.contains(&format!(
            "inet {VIP_B}/16 brd 172.16.255.255 scope global eth0:2"
        ))
    }

    /// Neither VIP is on the router.
    pub fn has_no_vip(&self) -> bool {
        self.vip_line(VIP).is_none() && self.vip_line(VIP_B).is_none()
    }

    /// How many records are exactly `line`.
    /// Whether this router has run `active_cmd` once and started lvsd
    /// once (one activation).
    pub fn activated_once(&self) -> bool {
        self.count_record("hook active") == 1 && self.count_records("start ") == 1
    }

    pub fn count_record(&self, line: &str) -> usize {
        self.records().iter().filter(|l| *l == line).count()
    }

    pub fn mac(&self) -> String {
        self.ns.mac("eth0")
    }

    pub fn dump(&self) -> String {
        // Who holds which UDP port, and which processes run here: a
        // heartbeat bind that fails is explained by these.
        let sockets = self.ns.udp_sockets();
        let pids = self.ns.processes();
        format!(
            "--- {} log ---\n{}\n--- {} records ---\n{}\n--- {} addrs ---\n{}\n\
             --- {} UDP sockets ---\n{sockets}--- {} processes ---\n{}",
            self.name,
            self.log(),
            self.name,
            self.records().join("\n"),
            self.name,
            self.addrs(),
            self.name,
            self.name,
            pids
        )
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The whole lab. Fields drop in declaration order: routers (killing
/// pulse) before the namespaces they live in.
pub struct Lab {
    pub r1: Router,
    pub r2: Router,
    pub c: Host,
    pub sw: Switch,
    pub _dir: tempfile::TempDir,
}

impl Lab {
    /// Builds the topology ([`lvs_tests::lab::Lab`]); `tag` (≤ 3 chars)
    /// keeps names unique per test.
    pub fn new(tag: &str, private: bool) -> Lab {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut b = lvs_tests::lab::Lab::builder(&format!("lp{tag}"))
            .router("r1", "192.0.2.1")
            .router("r2", "192.0.2.2")
            .client("c", "192.0.2.10")
            .ready_timeout(Duration::from_secs(5));
        if private {
            b = b.private_link("198.51.100.1", "198.51.100.2");
        }
        let lab = b.build();
        let path = dir.path().to_path_buf();
        let [r1, r2]: [Host; 2] = lab.routers.try_into().expect("two routers");
        let router = |ns, name| Router {
            ns,
            name,
            dir: path.clone(),
            pulse: None,
            runs: 0,
        };
        Lab {
            r1: router(r1, "r1"),
            r2: router(r2, "r2"),
            c: lab.client,
            sw: lab.switch,
            _dir: dir,
        }
    }

    /// The client's neighbour entry for `ip` (`ip neigh show`), if any.
    pub fn client_neigh(&self, ip: &str) -> String {
        self.c.neigh(ip)
    }

    /// Makes the client resolve `ip` (fills its neighbour table).
    pub fn client_resolve(&self, ip: &str) -> bool {
        resolve(&self.c, ip)
    }

    /// Cuts (`false`) or restores (`true`) r2's port on the public switch.
    pub fn r2_public(&self, connected: bool) {
        self.sw.connect("r2", connected);
    }

    pub fn dump(&self) -> String {
        format!("{}\n{}", self.r1.dump(), self.r2.dump())
    }

    /// Asserts that r2 has taken over completely: its VIPs as configured
    /// (within 2 s), `active_cmd` run and lvsd started once each (2 s), and
    /// the client's neighbour entry for the VIP on `r2_mac` (3 s).
    pub fn assert_r2_took_over(&self, vip: &str, r2_mac: &str) {
        assert!(
            wait_for(Duration::from_secs(2), || self.r2.has_vips_as_configured()),
            "{}",
            self.dump()
        );
        assert!(
            wait_for(Duration::from_secs(2), || self.r2.activated_once()),
            "{}",
            self.dump()
        );
        // r2's gratuitous ARPs move the client's neighbour entry to r2.
        assert!(
            wait_for(Duration::from_secs(3), || self
                .client_neigh(vip)
                .contains(r2_mac)),
            "client neighbour entry still {}; r2 is {r2_mac}",
            self.client_neigh(vip)
        );
    }
}

/// Sends UDP datagrams from `ns` to `ip` until `ns` has a neighbour entry
/// with a MAC for it (at most 5 s).
pub fn resolve(ns: &Netns, ip: &str) -> bool {
    lvs_tests::lab::resolve(ns, ip, Duration::from_secs(5))
}

/// Standard cold start: the backup first, the primary a moment later, so
/// the primary hears the backup's *stopped* and becomes the active node
/// ("the node that starts second ends up active", pulse.md §6.3).
pub fn cold_start(lab: &mut Lab, cf: &Cf) {
    cold_start_with(lab, cf, &[]);
}

/// [`cold_start`] with `extra` pulse options on both routers.
pub fn cold_start_with(lab: &mut Lab, cf: &Cf, extra: &[&str]) {
    // Page pulse and the recorder in first: the VM's 9p share has no page
    // cache, and a first exec that reads 80 MB over it can make r1 bind
    // its socket after r2's first heartbeat, so that r2 hears r1 first and
    // takes the service (the first test of a VM boot saw that).
    // (the recorder returns at once as a hook)
    for (exe, arg) in [(PULSE, "--version"), (RECORDER, "hook")] {
        let _ = std::process::Command::new(exe)
            .arg(arg)
            .env_remove("LP_RECORD")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
    lab.r2.start(cf, extra);
    // r2 must be up (its socket bound, its timers running) before r1
    // starts: a first start that pages pulse in over the VM's 9p share can
    // take longer than r1's, and then r1 would be heard first.
    assert!(
        lab.r2
            .wait_logged("STARTING PULSE AS BACKUP", Duration::from_secs(10)),
        "r2 did not start\n{}",
        lab.dump()
    );
    std::thread::sleep(Duration::from_millis(200));
    lab.r1.start(cf, extra);
    let settle = secs(cf.deadtime) + Duration::from_secs(2);
    assert!(
        lab.r1
            .wait_logged("backup inactive: activating lvs", settle),
        "r1 did not activate\n{}",
        lab.dump()
    );
    assert!(
        wait_for(Duration::from_secs(3), || lab.r1.has_vip()),
        "VIP not on r1\n{}",
        lab.dump()
    );
    // lvsd (the recorder) is up and handling its signals.
    assert!(
        wait_for(Duration::from_secs(3), || lab.r1.count_records("start ")
            >= 1),
        "lvsd not started on r1\n{}",
        lab.dump()
    );
}

pub fn secs(s: &str) -> Duration {
    Duration::from_secs_f64(s.parse().expect("seconds"))
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}
