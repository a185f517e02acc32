//! A whole LVS cluster in network namespaces, for the end-to-end tests (VM
//! tier) and `cargo xtask demo`: a client, two directors running the real
//! `pulse` (which starts the real `lvsd`, which starts the real `nanny`s),
//! and three real servers running `lvs-test-httpd`.
//!
//! ```text
//!            public network 10.10.0.0/24 (bridge br0 in the switch namespace)
//!   client 10.10.0.10    d1 eth0 10.10.0.1    d2 eth0 10.10.0.2    VIP 10.10.0.100 (eth0:1)
//!   NAT:   real network 10.20.0.0/24 (bridge br1): d1 eth1 10.20.0.1, d2 eth1 10.20.0.2,
//!          rs1..rs3 10.20.0.11-13, default gateway = NAT router 10.20.0.254 (eth1:1)
//!   direct routing: rs1..rs3 10.10.0.11-13 on br0, the VIP on their loopback
//! ```
//!
//! These are the addresses of `etc/lvs.cf.demo`. An IPv6 cluster
//! ([`Family::V6`]) adds the same plan in IPv6 to every node (public
//! 2001:db8:10::/64, real network 2001:db8:20::/64, the same host numbers,
//! VIP 2001:db8:10::100) and its lvs.cf uses only those; the IPv4 addresses
//! stay underneath. Namespace names are `le<tag><node>`; everything is torn
//! down on drop.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::lab::{Host, Lab, Switch};
use crate::netns::{Netns, wait_for};

/// The virtual IP.
pub const VIP: &str = "10.10.0.100";
/// The virtual service's port.
pub const PORT: u16 = 80;
/// The client's address.
pub const CLIENT: &str = "10.10.0.10";
/// The directors' public addresses: `primary`, `backup`.
pub const DIRECTORS: [&str; 2] = ["10.10.0.1", "10.10.0.2"];
/// The directors' addresses on the real network (NAT).
pub const DIRECTORS_PRIVATE: [&str; 2] = ["10.20.0.1", "10.20.0.2"];
/// The NAT router address, the real servers' default gateway (NAT).
pub const NAT_ROUTER: &str = "10.20.0.254";
/// Number of real servers.
pub const SERVERS: usize = 3;

/// How long a client request may take before it counts as failed: the
/// connect and each read.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// See [`CONNECT_TIMEOUT`].
pub const READ_TIMEOUT: Duration = Duration::from_secs(1);

/// The forwarding method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `network = nat`: real servers on their own network behind the
    /// directors.
    Nat,
    /// `network = direct`: real servers on the public network, the VIP on
    /// their loopback, replies straight to the client.
    Direct,
}

/// Address of real server `i` (0-based) for `method`.
pub fn real_address(method: Method, i: usize) -> String {
    Family::V4.real_address(method, i)
}

/// The address family of a cluster's lvs.cf: which of the two address
/// plans its directors, VIP and real servers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    /// The IPv4 plan (the module's constants).
    #[default]
    V4,
    /// The IPv6 plan: 2001:db8:10::/64 public, 2001:db8:20::/64 real.
    V6,
}

impl Family {
    /// The virtual IP.
    pub fn vip(self) -> &'static str {
        match self {
            Family::V4 => VIP,
            Family::V6 => "2001:db8:10::100",
        }
    }

    /// The VIP and port as a socket address.
    pub fn vip_addr(self) -> SocketAddr {
        SocketAddr::new(self.vip().parse().expect("VIP"), PORT)
    }

    /// The client's address.
    pub fn client(self) -> &'static str {
        match self {
            Family::V4 => CLIENT,
            Family::V6 => "2001:db8:10::10",
        }
    }

    /// The directors' public addresses: `primary`, `backup`.
    pub fn directors(self) -> [&'static str; 2] {
        match self {
            Family::V4 => DIRECTORS,
            Family::V6 => ["2001:db8:10::1", "2001:db8:10::2"],
        }
    }

    /// The directors' addresses on the real network (NAT).
    pub fn directors_private(self) -> [&'static str; 2] {
        match self {
            Family::V4 => DIRECTORS_PRIVATE,
            Family::V6 => ["2001:db8:20::1", "2001:db8:20::2"],
        }
    }

    /// The NAT router address.
    pub fn nat_router(self) -> &'static str {
        match self {
            Family::V4 => NAT_ROUTER,
            Family::V6 => "2001:db8:20::254",
        }
    }

    /// Address of real server `i` (0-based) for `method`.
    pub fn real_address(self, method: Method, i: usize) -> String {
        match (self, method) {
            (Family::V4, Method::Nat) => format!("10.20.0.{}", 11 + i),
            (Family::V4, Method::Direct) => format!("10.10.0.{}", 11 + i),
            (Family::V6, Method::Nat) => format!("2001:db8:20::{}", 11 + i),
            (Family::V6, Method::Direct) => format!("2001:db8:10::{}", 11 + i),
        }
    }

    /// `ADDR:PORT` as the IPVS table shows a service or a real server
    /// (IPv6 in brackets).
    pub fn endpoint(self, addr: &str) -> String {
        match self {
            Family::V4 => format!("{addr}:{PORT}"),
            Family::V6 => format!("[{addr}]:{PORT}"),
        }
    }

    /// A VIP's or NAT router's mask in lvs.cf.
    fn mask(self) -> &'static str {
        match self {
            Family::V4 => "255.255.255.0",
            Family::V6 => "/64",
        }
    }
}

/// The VIP and port as a socket address.
pub fn vip_addr() -> SocketAddr {
    SocketAddr::new(VIP.parse().expect("VIP"), PORT)
}

/// The workspace binary `name` (see [`crate::bin`]), kept open for the
/// life of the process. Under `cargo xtask vm` the binaries come over 9p
/// with `cache=none`, where a file nobody holds open is looked up afresh
/// and its pages read again: a director taking over would spend a second
/// or more of emulated CPU paging in lvsd and nanny, which a real machine
/// with a page cache does not.
pub fn program(name: &str) -> PathBuf {
    static OPEN: Mutex<Vec<(String, std::fs::File)>> = Mutex::new(Vec::new());
    let path = crate::bin(name);
    let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
    if !open.iter().any(|(n, _)| n == name)
        && let Ok(f) = std::fs::File::open(&path)
    {
        open.push((name.to_string(), f));
    }
    path
}

/// An lvs.cf for the cluster, with the workspace's nanny as
/// `client_monitor`.
#[derive(Debug, Clone)]
pub struct Config {
    pub method: Method,
    /// The address plan (IPv4 unless set).
    pub family: Family,
    pub keepalive: String,
    pub deadtime: String,
    pub monitor_links: bool,
    pub syncdaemon: bool,
    /// The real servers (0-based indices) the virtual service lists.
    pub servers: Vec<usize>,
    /// nanny's `timeout` (seconds between checks) and `reentry`.
    pub timeout: u32,
    pub reentry: u32,
}

impl Config {
    /// Keepalive 1 s, deadtime 3 s, no link monitoring, no sync daemon,
    /// every real server, checks every second, re-entry after 2.
    pub fn new(method: Method) -> Config {
        Config {
            method,
            family: Family::V4,
            keepalive: "1".into(),
            deadtime: "3".into(),
            monitor_links: false,
            syncdaemon: false,
            servers: (0..SERVERS).collect(),
            timeout: 1,
            reentry: 2,
        }
    }

    /// `deadtime` as a duration.
    pub fn deadtime(&self) -> Duration {
        Duration::from_secs_f64(self.deadtime.parse().expect("deadtime is a number"))
    }

    /// `keepalive` as a duration.
    pub fn keepalive(&self) -> Duration {
        Duration::from_secs_f64(self.keepalive.parse().expect("keepalive is a number"))
    }

    /// The same, with the IPv6 address plan.
    pub fn v6(method: Method) -> Config {
        Config {
            family: Family::V6,
            ..Config::new(method)
        }
    }

    /// The lvs.cf text.
    pub fn text(&self) -> String {
        let f = self.family;
        let network = match self.method {
            Method::Nat => format!(
                "network = nat\nnat_router = {} eth1:1\nnat_nmask = {}\n",
                f.nat_router(),
                f.mask()
            ),
            Method::Direct => "network = direct\n".into(),
        };
        let mut servers = String::new();
        for &i in &self.servers {
            servers.push_str(&format!(
                "    server rs{n} {{\n        address = {a}\n        active = 1\n        weight = 1\n    }}\n",
                n = i + 1,
                a = f.real_address(self.method, i)
            ));
        }
        format!(
            "serial_no = 1\n\
             primary = {p}\n\
             service = lvs\n\
             backup_active = 1\n\
             backup = {b}\n\
             heartbeat = 1\n\
             heartbeat_port = 539\n\
             keepalive = {ka}\n\
             deadtime = {dt}\n\
             {network}\
             monitor_links = {ml}\n\
             syncdaemon = {sd}\n\
             syncd_iface = eth0\n\
             syncd_id = 1\n\
             hard_shutdown = 0\n\
             \n\
             virtual web {{\n    \
                 active = 1\n    \
                 address = {vip} eth0:1\n    \
                 vip_nmask = {mask}\n    \
                 port = {PORT}\n    \
                 protocol = tcp\n    \
                 scheduler = rr\n    \
                 send = \"GET / HTTP/1.0\\r\\n\\r\\n\"\n    \
                 expect = \"HTTP\"\n    \
                 load_monitor = none\n    \
                 timeout = {to}\n    \
                 reentry = {re}\n    \
                 client_monitor = {nanny}\n\
             {servers}}}\n",
            p = f.directors()[0],
            b = f.directors()[1],
            vip = f.vip(),
            mask = f.mask(),
            ka = self.keepalive,
            dt = self.deadtime,
            ml = u8::from(self.monitor_links),
            sd = u8::from(self.syncdaemon),
            to = self.timeout,
            re = self.reentry,
            nanny = program("nanny").display(),
        )
    }
}

/// `text` (an lvs.cf such as `etc/lvs.cf.demo`) with a `client_monitor`
/// line naming the workspace's nanny added to every `virtual` block, so it
/// runs without an installed suite.
pub fn with_workspace_nanny(text: &str) -> String {
    with_client_monitor(text, &program("nanny"))
}

/// `text` with `client_monitor = MONITOR` added to every `virtual` block.
pub fn with_client_monitor(text: &str, monitor: &Path) -> String {
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(line);
        out.push('\n');
        let t = line.trim();
        if t.starts_with("virtual ") && t.ends_with('{') {
            out.push_str(&format!("    client_monitor = {}\n", monitor.display()));
        }
    }
    out
}

/// A line of a director's output (pulse, and the lvsd and nannies it
/// starts) and when it was read.
#[derive(Debug, Clone)]
pub struct Line {
    pub at: Instant,
    pub text: String,
}

/// One director: its namespace and, while running, its pulse.
pub struct Director {
    pub ns: Host,
    /// `d1` (the primary) or `d2` (the backup).
    pub name: String,
    /// Its public address.
    pub address: String,
    /// The address plan of its lvs.cf.
    pub family: Family,
    dir: PathBuf,
    pulse: Option<Child>,
    lines: Arc<Mutex<Vec<Line>>>,
    /// The mark at the last start.
    started_at: usize,
}

impl Director {
    /// A director on `ns` (nothing started) whose files (lvs.cf, status
    /// sockets) go in `dir`.
    pub fn new(ns: Host, name: &str, family: Family, dir: &Path) -> Director {
        Director {
            address: ns.address.clone(),
            ns,
            name: name.into(),
            family,
            dir: dir.to_path_buf(),
            pulse: None,
            lines: Arc::default(),
            started_at: 0,
        }
    }

    /// The lvs.cf this director runs with.
    pub fn cf_path(&self) -> PathBuf {
        self.dir.join(format!("{}.cf", self.name))
    }

    /// This director's pulse status socket.
    pub fn status_socket(&self) -> PathBuf {
        self.dir.join(format!("{}.sock", self.name))
    }

    /// This director's lvsd status socket (`$LVS_STATUS_SOCKET`).
    pub fn lvsd_socket(&self) -> PathBuf {
        self.dir.join(format!("{}-lvsd.sock", self.name))
    }

    /// `lvsd --status --json` of this director's lvsd, if one answers.
    pub fn lvsd_status(&self) -> Option<piranha_status::lvsd::Status> {
        let out = std::process::Command::new(program("lvsd"))
            .arg("--json")
            .arg(format!("--status-socket={}", self.lvsd_socket().display()))
            .output()
            .ok()?;
        serde_json::from_slice(&out.stdout).ok()
    }

    /// The role this director's lvsd reports (`active`, `standby`).
    pub fn lvsd_role(&self) -> Option<String> {
        self.lvsd_status().map(|s| s.role)
    }

    /// Writes `cf` as this director's lvs.cf and starts `pulse -n` on it
    /// with the workspace's lvsd (`--lvsd=`) and `extra` options. Output
    /// lines (pulse's, lvsd's, the nannies') are collected.
    pub fn start(&mut self, cf: &str, extra: &[&str]) {
        assert!(self.pulse.is_none(), "{}: pulse already running", self.name);
        std::fs::write(self.cf_path(), cf).expect("write lvs.cf");
        self.start_program(&program("pulse"), extra);
    }

    /// Starts `program ARGS` in the namespace as this director's heartbeat
    /// process (pulse with `-n -c CF --lvsd=LVSD` first, or anything else
    /// when `exe` is not pulse), collecting its output.
    pub fn start_program(&mut self, exe: &Path, args: &[&str]) {
        assert!(self.pulse.is_none(), "{}: already running", self.name);
        let (reader, writer) = std::io::pipe().expect("pipe");
        let mut cmd = self.ns.command(exe);
        if exe.file_name().is_some_and(|n| n == "pulse") {
            cmd.arg("-n")
                .arg("-c")
                .arg(self.cf_path())
                .arg(format!("--lvsd={}", program("lvsd").display()))
                .arg(format!(
                    "--status-socket={}",
                    self.status_socket().display()
                ))
                // its lvsd's own socket: with warm standby both directors
                // run lvsd at once
                .env("LVS_STATUS_SOCKET", self.lvsd_socket());
        }
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(writer.try_clone().expect("pipe"))
            .stderr(writer);
        self.started_at = self.mark();
        let child = cmd.spawn().expect("start the director's program");
        drop(cmd);
        let lines = self.lines.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(reader).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(Line {
                    at: Instant::now(),
                    text: l,
                });
            }
        });
        self.pulse = Some(child);
    }

    /// Whether a heartbeat process was started and not stopped or killed
    /// since (by [`Director::stop`], [`Director::kill9`]).
    pub fn started(&self) -> bool {
        self.pulse.is_some()
    }

    /// The output lines since the heartbeat process was last started.
    pub fn lines_since_start(&self) -> Vec<Line> {
        self.lines().into_iter().skip(self.started_at).collect()
    }

    /// Whether the heartbeat process started last is still running.
    pub fn running(&mut self) -> bool {
        self.pulse
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The pid of the heartbeat process.
    pub fn pid(&self) -> i32 {
        self.pulse.as_ref().expect("running").id() as i32
    }

    /// Sends `sig` to the heartbeat process.
    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// kill -9 of pulse: nothing is cleaned up (the VIP stays, lvsd and the
    /// nannies keep running). Returns when it happened.
    pub fn kill9(&mut self) -> Instant {
        let at = Instant::now();
        if let Some(mut c) = self.pulse.take()
            && let Err(e) = crate::child::kill(&mut c, Duration::from_secs(20))
        {
            eprintln!("{}: pulse: {e}", self.name);
        }
        at
    }

    /// SIGTERM; waits (at most 20 s) for the exit and returns its code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut c = self.pulse.take()?;
        crate::child::terminate(&mut c, Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", self.name, self.dump()))
    }

    /// Every output line so far.
    pub fn lines(&self) -> Vec<Line> {
        self.lines.lock().unwrap().clone()
    }

    /// The number of lines so far (a mark for [`Director::wait_line`]).
    pub fn mark(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    /// When the first line equal to `text` at or after mark `from` was
    /// read, if there is one.
    pub fn line_at(&self, from: usize, text: &str) -> Option<Instant> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .skip(from)
            .find(|l| l.text == text)
            .map(|l| l.at)
    }

    /// Waits up to `timeout` for a line equal to `text` at or after mark
    /// `from`; returns when it was read.
    pub fn wait_line(&self, from: usize, text: &str, timeout: Duration) -> Option<Instant> {
        let mut at = None;
        wait_for(timeout, || {
            at = self.line_at(from, text);
            at.is_some()
        });
        at
    }

    /// Whether the VIP is configured on eth0.
    pub fn has_vip(&self) -> bool {
        match self.family {
            Family::V4 => self
                .ns
                .addrs(Some("eth0"))
                .contains(&format!("inet {VIP}/")),
            Family::V6 => self
                .ns
                .ip(&["-o", "-6", "addr", "show", "dev", "eth0"])
                .contains(&format!("inet6 {}/", Family::V6.vip())),
        }
    }

    /// The MAC address of eth0.
    pub fn mac(&self) -> String {
        self.ns.mac("eth0")
    }

    /// `ipvsadm-rs -Ln` in the namespace.
    pub fn table(&self) -> String {
        let o = self
            .ns
            .command(program("ipvsadm-rs"))
            .arg("-Ln")
            .output()
            .expect("run ipvsadm-rs");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The real servers (`ADDR:PORT`) of the VIP's service in the kernel
    /// table, sorted. Read from `/proc/net/ip_vs` in this process: polling
    /// with a program would cost emulated CPU the daemons need.
    pub fn destinations(&self) -> Vec<String> {
        self.destinations_of(&self.family.endpoint(self.family.vip()))
    }

    /// The real servers (`ADDR:PORT`, sorted) of TCP service `service`
    /// (`ADDR:PORT`) in the kernel table.
    pub fn destinations_of(&self, service: &str) -> Vec<String> {
        self.weights_of(service)
            .into_iter()
            .map(|(a, _)| a)
            .collect()
    }

    /// The real servers of TCP service `service` with their weights in the
    /// kernel table (`/proc/net/ip_vs` of the namespace), sorted.
    pub fn weights_of(&self, service: &str) -> Vec<(String, u32)> {
        let text = self
            .ns
            .enter(|| std::fs::read_to_string("/proc/thread-self/net/ip_vs").unwrap_or_default());
        let mut v = proc_weights(&text, service);
        v.sort();
        v
    }

    /// The kernel's IPVS connection table (`/proc/net/ip_vs_conn` of the
    /// namespace).
    pub fn connections(&self) -> String {
        self.ns.enter(|| {
            std::fs::read_to_string("/proc/thread-self/net/ip_vs_conn").unwrap_or_default()
        })
    }

    /// Whether the kernel's IPVS connection table has the client's TCP
    /// connection from `port` to the VIP (IPv4 clusters).
    pub fn has_connection(&self, port: u16) -> bool {
        assert_eq!(self.family, Family::V4, "has_connection reads IPv4 entries");
        let from = format!("{} {port:04X} ", hex_addr(CLIENT));
        let to = format!(" {} {PORT:04X} ", hex_addr(VIP));
        self.connections()
            .lines()
            .any(|l| l.starts_with("TCP ") && l.contains(&from) && l.contains(&to))
    }

    /// Output, addresses and table, for failure messages.
    pub fn dump(&self) -> String {
        let out: Vec<String> = self.lines().into_iter().map(|l| l.text).collect();
        let addrs = match self.family {
            Family::V4 => self.ns.addrs(None),
            Family::V6 => self.ns.ip(&["-o", "addr", "show"]),
        };
        format!(
            "--- {} output ---\n{}\n--- {} addresses ---\n{}--- {} table ---\n{}",
            self.name,
            out.join("\n"),
            self.name,
            addrs,
            self.name,
            self.table()
        )
    }
}

impl Drop for Director {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A real server: its namespace and, while running, its HTTP server.
pub struct RealServer {
    pub ns: Host,
    /// `rs1`, `rs2`, `rs3`: the body of every reply.
    pub name: String,
    pub address: String,
    /// The address plan: an IPv6 cluster's servers listen on `[::]`.
    pub family: Family,
    httpd: Option<Child>,
}

impl RealServer {
    /// `ADDR:PORT`, as the IPVS table shows it.
    pub fn dest(&self) -> String {
        self.family.endpoint(&self.address)
    }

    /// A real server on `ns` named `name` (the body of every reply); its
    /// HTTP server is not started.
    pub fn new(ns: Host, name: &str, family: Family) -> RealServer {
        RealServer {
            address: ns.address.clone(),
            ns,
            name: name.into(),
            family,
            httpd: None,
        }
    }

    /// Starts the HTTP server and waits until it accepts connections.
    pub fn start(&mut self) {
        assert!(self.httpd.is_none(), "{} already running", self.name);
        let child = self
            .ns
            .command(program("lvs-test-httpd"))
            .args([
                self.name.as_str(),
                &match self.family {
                    Family::V4 => format!("0.0.0.0:{PORT}"),
                    // both families (bindv6only is 0)
                    Family::V6 => format!("[::]:{PORT}"),
                },
            ])
            .stdin(Stdio::null())
            .spawn()
            .expect("start lvs-test-httpd");
        self.httpd = Some(child);
        let addr: SocketAddr = format!("127.0.0.1:{PORT}").parse().unwrap();
        let up = wait_for(Duration::from_secs(10), || {
            self.ns
                .enter(|| TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).is_ok())
        });
        assert!(up, "{}: the HTTP server does not come up", self.name);
    }

    /// Kills the HTTP server (its port is then closed).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.httpd.take()
            && let Err(e) = crate::child::kill(&mut c, Duration::from_secs(20))
        {
            eprintln!("{}: lvs-test-httpd: {e}", self.name);
        }
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The cluster. Fields drop in declaration order: the directors (and their
/// daemons) first, the switch last.
pub struct Cluster {
    /// `d[0]` is the primary (`d1`), `d[1]` the backup (`d2`).
    pub d: [Director; 2],
    pub rs: Vec<RealServer>,
    pub client: Host,
    pub sw: Switch,
    pub method: Method,
    /// The address plan of its lvs.cf.
    pub family: Family,
    /// When the cluster was built.
    pub t0: Instant,
    pub dir: tempfile::TempDir,
}

pub use crate::lab::sysctl;

impl Cluster {
    /// Builds the namespaces and links (a [`Lab`]) and starts the real
    /// servers' HTTP servers; pulse is not started. `tag` (at most 6
    /// characters) keeps the namespace names apart.
    pub fn new(tag: &str, method: Method) -> Cluster {
        Cluster::with_family(tag, method, Family::V4)
    }

    /// [`Cluster::new`] with the address plan `family`: an IPv6 cluster
    /// gets the IPv6 plan on top of the IPv4 one (addresses without
    /// duplicate address detection, the bridges without multicast snooping
    /// so neighbour discovery reaches every port, IPv6 forwarding on the
    /// directors, the real servers' default route through the NAT router
    /// or the VIP on their loopback).
    pub fn with_family(tag: &str, method: Method, family: Family) -> Cluster {
        assert!(tag.len() <= 6, "tag {tag:?} too long");
        let mut b = Lab::builder(&format!("le{tag}"))
            .router("d1", DIRECTORS[0])
            .router("d2", DIRECTORS[1])
            .client("c", CLIENT);
        if method == Method::Nat {
            b = b
                .real_network(&DIRECTORS_PRIVATE)
                .server_gateway(NAT_ROUTER);
        }
        for i in 0..SERVERS {
            b = b.server(&format!("r{}", i + 1), &real_address(method, i));
        }
        let lab = b.build();
        if family == Family::V6 {
            add_v6_plan(&lab, method);
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let mut ds = Vec::new();
        for (i, ns) in lab.routers.into_iter().enumerate() {
            ns.sysctl("net.ipv4.ip_forward", "1");
            ds.push(Director {
                ns,
                name: format!("d{}", i + 1),
                address: family.directors()[i].into(),
                family,
                dir: dir.path().to_path_buf(),
                pulse: None,
                lines: Arc::default(),
                started_at: 0,
            });
        }
        let mut rs = Vec::new();
        for (i, ns) in lab.servers.into_iter().enumerate() {
            if method == Method::Direct {
                // Accept packets for the VIP, never answer ARP for it.
                ns.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "lo"]);
                ns.sysctl("net.ipv4.conf.all.arp_ignore", "1");
                ns.sysctl("net.ipv4.conf.all.arp_announce", "2");
                // IPv6 neighbour discovery answers only for the addresses
                // of the interface asked on: the VIP on lo stays silent.
                if family == Family::V6 {
                    ns.ip(&[
                        "-6",
                        "addr",
                        "add",
                        &format!("{}/128", family.vip()),
                        "dev",
                        "lo",
                    ]);
                }
            }
            rs.push(RealServer {
                address: family.real_address(method, i),
                family,
                ns,
                name: format!("rs{}", i + 1),
                httpd: None,
            });
        }
        let d: [Director; 2] = ds.try_into().ok().expect("two directors");
        let mut c = Cluster {
            d,
            rs,
            client: lab.client,
            sw: lab.switch,
            method,
            family,
            t0: Instant::now(),
            dir,
        };
        for r in c.rs.iter_mut() {
            r.start();
        }
        c
    }

    /// Both directors' lvs.cf from `cf`, then a cold start that always
    /// ends with d1 active (see [`Cluster::cold_start_with`]).
    pub fn cold_start(&mut self, cf: &Config) {
        self.cold_start_with(cf, &[]);
    }

    /// Waits until director `i`'s table lists exactly `want` (sorted
    /// `ADDR:PORT`).
    pub fn wait_destinations(&self, i: usize, want: &[String], timeout: Duration) {
        let mut want = want.to_vec();
        want.sort();
        let ok = wait_for(timeout, || self.d[i].destinations() == want);
        assert!(
            ok,
            "{}: destinations {:?}, want {want:?}\n{}",
            self.d[i].name,
            self.d[i].destinations(),
            self.dump()
        );
    }

    /// Takes director `i`'s public link down or up at the switch (the
    /// cable, not the director's own interface).
    pub fn public_link(&self, i: usize, up: bool) {
        self.sw.link(&self.d[i].name, up);
    }

    /// The MAC address the client uses for the VIP, if it has one.
    pub fn client_vip_mac(&self) -> Option<String> {
        self.client.neigh_mac(self.family.vip())
    }

    /// The VIP and port as a socket address.
    pub fn vip_addr(&self) -> SocketAddr {
        self.family.vip_addr()
    }

    /// Seconds since the cluster was built.
    pub fn secs(&self, t: Instant) -> f64 {
        t.saturating_duration_since(self.t0).as_secs_f64()
    }

    /// Both directors' dumps.
    pub fn dump(&self) -> String {
        format!("{}\n{}", self.d[0].dump(), self.d[1].dump())
    }
}

/// `A.B.C.D` as `/proc/net/ip_vs*` write it: eight hex digits.
fn hex_addr(ip: &str) -> String {
    let ip: std::net::Ipv4Addr = ip.parse().expect("IPv4 address");
    format!("{:08X}", u32::from(ip))
}

/// `A.B.C.D:PORT` from `/proc/net/ip_vs`'s `HHHHHHHH:PPPP`, or
/// `[V6]:PORT` from its `[2001:0db8:…]:PPPP` (the kernel's `%pI6`).
fn proc_addr(hex: &str) -> Option<String> {
    let (a, p) = hex.rsplit_once(':')?;
    let p = u16::from_str_radix(p, 16).ok()?;
    if let Some(v6) = a.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
        let a: std::net::Ipv6Addr = v6.parse().ok()?;
        return Some(format!("[{a}]:{p}"));
    }
    let a = u32::from_str_radix(a, 16).ok()?;
    Some(format!("{}:{p}", std::net::Ipv4Addr::from(a)))
}

/// Adds the IPv6 address plan ([`Family::V6`]) to a built cluster lab.
fn add_v6_plan(lab: &Lab, method: Method) {
    let f = Family::V6;
    let add = |h: &Host, a: &str, dev: &str| {
        h.ip(&["-6", "addr", "add", &format!("{a}/64"), "dev", dev, "nodad"]);
    };
    for br in ["br0", "br1"] {
        if lab.switch.ip_output(&["link", "show", br]).status.success() {
            lab.switch
                .ip(&["link", "set", br, "type", "bridge", "mcast_snooping", "0"]);
        }
    }
    for (i, r) in lab.routers.iter().enumerate() {
        r.sysctl("net.ipv6.conf.all.forwarding", "1");
        add(r, f.directors()[i], "eth0");
        if method == Method::Nat {
            add(r, f.directors_private()[i], "eth1");
        }
    }
    add(&lab.client, f.client(), "eth0");
    for (i, s) in lab.servers.iter().enumerate() {
        add(s, &f.real_address(method, i), "eth0");
        if method == Method::Nat {
            s.ip(&["-6", "route", "add", "default", "via", f.nat_router()]);
        }
    }
    for r in f.directors() {
        assert!(
            crate::lab::resolve(&lab.client, r, Duration::from_secs(10)),
            "IPv6 plan does not come up: the client cannot reach {r}"
        );
    }
}

/// The destinations of service `TCP service` in a `/proc/net/ip_vs` text.
pub fn proc_destinations(text: &str, service: &str) -> Vec<String> {
    proc_weights(text, service)
        .into_iter()
        .map(|(a, _)| a)
        .collect()
}

/// The destinations of service `TCP service` in a `/proc/net/ip_vs` text
/// with their weights.
pub fn proc_weights(text: &str, service: &str) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    let mut inside = false;
    for l in text.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        match w.as_slice() {
            ["->", a, _, weight, ..] if inside => {
                if let (Some(a), Ok(weight)) = (proc_addr(a), weight.parse()) {
                    out.push((a, weight));
                }
            }
            ["TCP", a, ..] => inside = proc_addr(a).as_deref() == Some(service),
            _ if !l.starts_with(' ') => inside = false,
            _ => {}
        }
    }
    out
}

/// Sends UDP probes from `ns` to `ip` until `ns` has its MAC (at most 10 s).
pub fn resolve(ns: &Netns, ip: &str) -> bool {
    crate::lab::resolve(ns, ip, Duration::from_secs(10))
}

/// One HTTP/1.0 GET of `/` on a new connection (the calling thread must be
/// in the client's namespace); returns the reply body, trimmed: the name
/// of the real server that answered.
pub fn get(addr: SocketAddr) -> Result<String, String> {
    let mut s = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(READ_TIMEOUT))
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return Err(format!("no reply ({} bytes)", buf.len()));
    };
    if !head.starts_with("HTTP/1.0 200 ") {
        return Err(format!("reply {head:?}"));
    }
    Ok(body.trim().to_string())
}

/// A kept-open HTTP/1.1 connection to the VIP.
pub struct Session {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    /// The client's port (to find the connection in IPVS tables).
    pub local_port: u16,
}

impl Session {
    /// Connects from namespace `ns` to `addr`.
    pub fn open(ns: &Netns, addr: SocketAddr) -> Result<Session, String> {
        let s = ns
            .enter(|| TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT))
            .map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(READ_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let local_port = s.local_addr().map_err(|e| e.to_string())?.port();
        let writer = s.try_clone().map_err(|e| e.to_string())?;
        Ok(Session {
            reader: BufReader::new(s),
            writer,
            local_port,
        })
    }

    /// One GET on the connection; returns the body, trimmed.
    pub fn get(&mut self) -> Result<String, String> {
        self.writer
            .write_all(b"GET / HTTP/1.1\r\nHost: vip\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let mut status = String::new();
        self.reader
            .read_line(&mut status)
            .map_err(|e| e.to_string())?;
        if !status.starts_with("HTTP/1.1 200 ") {
            return Err(format!("status line {status:?}"));
        }
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if self.reader.read_line(&mut h).map_err(|e| e.to_string())? == 0 {
                return Err("connection closed in the headers".into());
            }
            let h = h.trim_end().to_ascii_lowercase();
            if h.is_empty() {
                break;
            }
            if let Some(v) = h.strip_prefix("content-length:") {
                len = v.trim().parse().map_err(|_| format!("bad header {h:?}"))?;
            }
        }
        let mut body = vec![0u8; len];
        self.reader
            .read_exact(&mut body)
            .map_err(|e| e.to_string())?;
        Ok(String::from_utf8_lossy(&body).trim().to_string())
    }
}

/// One client request and its outcome.
#[derive(Debug, Clone)]
pub struct Request {
    pub start: Instant,
    pub end: Instant,
    /// The real server that answered, or why the request failed.
    pub result: Result<String, String>,
}

/// A client loop in the background: one request to the VIP every
/// `period`, each on a new connection, until stopped.
pub struct Traffic {
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Request>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Traffic {
    /// Starts the loop in `client` (at most `limit` requests).
    pub fn start(client: &Netns, period: Duration, limit: usize) -> Traffic {
        Traffic::start_to(client, vip_addr(), period, limit)
    }

    /// The same, to `addr` (e.g. [`Cluster::vip_addr`]).
    pub fn start_to(client: &Netns, addr: SocketAddr, period: Duration, limit: usize) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let log: Arc<Mutex<Vec<Request>>> = Arc::default();
        let (s2, l2) = (stop.clone(), log.clone());
        let thread = client.spawn(move || {
            for _ in 0..limit {
                if s2.load(Ordering::Relaxed) {
                    break;
                }
                let start = Instant::now();
                let result = get(addr);
                let end = Instant::now();
                l2.lock().unwrap().push(Request { start, end, result });
                if let Some(rest) = period.checked_sub(end - start) {
                    std::thread::sleep(rest);
                }
            }
        });
        Traffic {
            stop,
            log,
            thread: Some(thread),
        }
    }

    /// The requests so far.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    /// Requests started at or after `t`.
    pub fn since(&self, t: Instant) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.start >= t)
            .collect()
    }

    /// Waits until `n` requests started at or after `t` have finished (at
    /// most `timeout`); returns them.
    pub fn wait_since(&self, t: Instant, n: usize, timeout: Duration) -> Vec<Request> {
        wait_for(timeout, || self.since(t).len() >= n);
        self.since(t)
    }

    /// Stops the loop; returns every request.
    pub fn finish(mut self) -> Vec<Request> {
        self.halt();
        self.requests()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.halt();
    }
}

/// `n` requests one after the other from `client` (a bounded loop).
pub fn requests(client: &Netns, n: usize) -> Vec<Request> {
    requests_to(client, vip_addr(), n)
}

/// `n` requests one after the other from `client` to `addr`.
pub fn requests_to(client: &Netns, addr: SocketAddr, n: usize) -> Vec<Request> {
    let mut t = Traffic::start_to(client, addr, Duration::ZERO, n);
    if let Some(h) = t.thread.take() {
        let _ = h.join();
    }
    t.requests()
}

/// How many requests each real server answered (failures under `""`).
pub fn tally(requests: &[Request]) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for r in requests {
        let k = r.result.clone().unwrap_or_default();
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

/// The failures after a fault.
#[derive(Debug, Clone)]
pub struct Outage {
    /// How many requests failed.
    pub failed: usize,
    /// When the first failed request started.
    pub first_failure: Instant,
    /// When the last failed request started: the last time a new request
    /// found the service down.
    pub last_failure: Instant,
    /// When the first successful request after that one started (`None`:
    /// none yet).
    pub recovered: Option<Instant>,
}

/// The failed requests among those that ended at or after `fault`
/// (`None`: nothing failed).
pub fn outage(requests: &[Request], fault: Instant) -> Option<Outage> {
    let after: Vec<&Request> = requests.iter().filter(|r| r.end >= fault).collect();
    let failed: Vec<&&Request> = after.iter().filter(|r| r.result.is_err()).collect();
    let first = failed.first()?;
    let last = failed.last()?;
    let recovered = after
        .iter()
        .find(|r| r.start > last.start && r.result.is_ok())
        .map(|r| r.start);
    Some(Outage {
        failed: failed.len(),
        first_failure: first.start,
        last_failure: last.start,
        recovered,
    })
}

/// How near the moment the client was moved a request still counts as in
/// flight across the move: the ARP watcher reads the frame a little after
/// the kernel used it, and in NAT mode the real servers' gateway moves a
/// few milliseconds after the VIP.
pub const MOVE_SLACK: Duration = Duration::from_millis(100);

/// The failed requests that ended at or after `fault`, split into those in
/// flight when the client's ARP entry for the VIP moved to the new
/// director at `moved` (within [`MOVE_SLACK`]) and the others.
///
/// A connection in flight across the move opened through the old director
/// and goes on through the new one, which has no record of it (IPVS's
/// connection sync, when on, may hold an update up to two seconds): it
/// fails whatever the heartbeat does. Any other failure is the failover's.
pub fn failed_across_move(
    requests: &[Request],
    fault: Instant,
    moved: Instant,
) -> (Vec<&Request>, Vec<&Request>) {
    requests
        .iter()
        .filter(|r| r.end >= fault && r.result.is_err())
        .partition(|r| r.start <= moved + MOVE_SLACK && r.end + MOVE_SLACK >= moved)
}

/// The failed requests a takeover is to blame for: every failure that
/// ended at or after `fault` but (at most) one in flight across the move
/// at `moved` ([`failed_across_move`]).
pub fn failed_beyond_the_move(
    requests: &[Request],
    fault: Instant,
    moved: Instant,
) -> Vec<&Request> {
    let (across, mut other) = failed_across_move(requests, fault, moved);
    other.extend(across.into_iter().skip(1));
    other
}

/// Serializes the end-to-end tests of one test binary: several clusters
/// at once on the VM's two emulated CPUs would blur the timings the tests
/// measure.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The pids of the processes in network namespace `ns` (by the inode of
/// `/proc/PID/ns/net`, read without starting a program), this process
/// excluded: its threads enter namespaces, but its own entry shows the main
/// thread's.
pub fn netns_pids(ns: &Netns) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(want) = std::fs::metadata(format!("/run/netns/{}", ns.name())) else {
        return Vec::new();
    };
    let me = std::process::id() as i32;
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid != me
            && let Ok(m) = std::fs::metadata(e.path().join("ns/net"))
            && (m.dev(), m.ino()) == (want.dev(), want.ino())
        {
            pids.push(pid);
        }
    }
    pids
}

/// The parent pid of `pid` (from `/proc/PID/stat`), if it still exists.
pub fn parent_pid(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The command name of `pid` (`/proc/PID/comm`), if it still exists.
pub fn process_name(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_string())
}

/// `root` and every process descending from it.
pub fn process_tree(root: i32) -> Vec<i32> {
    let all: Vec<(i32, i32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|p| Some((p, parent_pid(p)?)))
        .collect();
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        for &(p, pp) in &all {
            if pp == parent && !tree.contains(&p) {
                tree.push(p);
            }
        }
        i += 1;
    }
    tree
}

impl Director {
    /// The directory this director's files are in (its lvs.cf, its status
    /// socket; other daemons' configuration and pid files).
    pub fn work_dir(&self) -> &Path {
        &self.dir
    }

    /// Every process of this director: the heartbeat process started last
    /// and its descendants (pulse, lvsd, the nannies; keepalived and its
    /// children), and whatever else runs in its namespace.
    pub fn processes(&self) -> Vec<i32> {
        let mut pids = self
            .pulse
            .as_ref()
            .map(|c| process_tree(c.id() as i32))
            .unwrap_or_default();
        for p in netns_pids(&self.ns) {
            if !pids.contains(&p) {
                pids.push(p);
            }
        }
        pids.retain(|&p| std::path::Path::new(&format!("/proc/{p}")).exists());
        pids
    }

    /// The pids of this director's processes named `comm`.
    pub fn processes_named(&self, comm: &str) -> Vec<i32> {
        self.processes()
            .into_iter()
            .filter(|&p| process_name(p).as_deref() == Some(comm))
            .collect()
    }

    /// A crash of the whole director: SIGSTOP to every one of its
    /// processes (until no new one shows up), so that none can react (no
    /// clean-up, no resignation, no child noticing its parent go), then
    /// SIGKILL to all of them. The addresses they configured stay. Returns
    /// when it began (before the first SIGSTOP); the heartbeat process is
    /// reaped, [`Director::started`] is false afterwards.
    pub fn crash_all(&mut self) -> Instant {
        let at = Instant::now();
        let mut stopped: Vec<i32> = Vec::new();
        loop {
            let new: Vec<i32> = self
                .processes()
                .into_iter()
                .filter(|p| !stopped.contains(p))
                .collect();
            if new.is_empty() {
                break;
            }
            for p in new {
                // SAFETY: kill has no memory-safety preconditions; these
                // are processes of our own test namespace.
                unsafe { libc::kill(p, libc::SIGSTOP) };
                stopped.push(p);
            }
        }
        for &p in &stopped {
            // SAFETY: as above.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        self.kill9();
        at
    }
}

impl Cluster {
    /// Director `i` crashes: every process of it (pulse, lvsd, every
    /// nanny; or whatever else it runs) stopped, then killed; see
    /// [`Director::crash_all`]. Returns when.
    pub fn crash_all(&mut self, i: usize) -> Instant {
        self.d[i].crash_all()
    }

    /// kill -9 of director `i`'s lvsd only (pulse and the nannies stay).
    /// Returns when; panics if it runs no lvsd.
    pub fn kill_lvsd(&self, i: usize) -> Instant {
        let pids = self.d[i].processes_named("lvsd");
        assert!(!pids.is_empty(), "{}: no lvsd", self.d[i].name);
        let at = Instant::now();
        for p in pids {
            // SAFETY: kill has no memory-safety preconditions; lvsd of our
            // own test namespace.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        at
    }
}

impl Cluster {
    /// [`Cluster::cold_start`] with `extra` options for pulse on both
    /// directors (e.g. `--warm-standby`): d1 first until it is active with
    /// every listed real server in its table, then d2, which stays standby.
    pub fn cold_start_with(&mut self, cf: &Config, extra: &[&str]) {
        let text = cf.text();
        self.d[0].start(&text, extra);
        let up = self.d[0]
            .wait_line(
                0,
                "pulse: partner dead: activating lvs",
                cf.deadtime() + Duration::from_secs(10),
            )
            .is_some()
            && wait_for(Duration::from_secs(5), || self.d[0].has_vip());
        assert!(up, "d1 did not become active\n{}", self.dump());
        assert_eq!(cf.family, self.family, "the lvs.cf's address plan");
        let want: Vec<String> = cf
            .servers
            .iter()
            .map(|&i| {
                self.family
                    .endpoint(&self.family.real_address(self.method, i))
            })
            .collect();
        self.wait_destinations(0, &want, Duration::from_secs(20));
        self.d[1].start(&text, extra);
        let standby = self.d[1]
            .wait_line(
                0,
                "pulse: STARTING PULSE AS BACKUP",
                Duration::from_secs(10),
            )
            .is_some();
        assert!(standby, "d2 did not start\n{}", self.dump());
        std::thread::sleep(cf.keepalive() * 2);
        assert!(
            !self.d[1].has_vip()
                && self.d[1]
                    .line_at(0, "pulse: primary inactive: activating lvs")
                    .is_none(),
            "d2 became active too\n{}",
            self.dump()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_request_in_flight_across_the_move_is_set_apart() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let req = |a: u64, b: u64, ok: bool| Request {
            start: ms(a),
            end: ms(b),
            result: if ok {
                Ok("rs1".into())
            } else {
                Err("reset".into())
            },
        };
        let reqs = [
            req(0, 10, false),      // before the fault: not counted
            req(100, 110, true),    // fault at 100
            req(200, 215, false),   // long before the move at 2000
            req(1990, 2010, false), // across the move
            req(2005, 2020, true),
            req(2080, 2095, false), // within the slack after it
            req(2300, 2310, false), // after it
        ];
        let (across, other) = failed_across_move(&reqs, ms(100), ms(2000));
        let starts = |v: &[&Request]| v.iter().map(|r| r.start - t0).collect::<Vec<_>>();
        assert_eq!(
            starts(&across),
            [Duration::from_millis(1990), Duration::from_millis(2080)]
        );
        assert_eq!(
            starts(&other),
            [Duration::from_millis(200), Duration::from_millis(2300)]
        );
        // what the takeover is blamed for: the others, and any request
        // across the move after the first
        assert_eq!(
            starts(&failed_beyond_the_move(&reqs, ms(100), ms(2000))),
            [
                Duration::from_millis(200),
                Duration::from_millis(2300),
                Duration::from_millis(2080)
            ]
        );
        // A request that ended just before the watcher saw the frame (the
        // kernel had used it already) is in flight across it too.
        let just_before = [req(1880, 1950, false)];
        let (across, other) = failed_across_move(&just_before, ms(0), ms(2000));
        assert_eq!((across.len(), other.len()), (1, 0));
        let too_early = [req(1700, 1850, false)];
        let (across, other) = failed_across_move(&too_early, ms(0), ms(2000));
        assert_eq!((across.len(), other.len()), (0, 1));
    }

    #[test]
    fn destinations_from_proc_net_ip_vs() {
        let text = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  0A0A0064:0050 rr
  -> 0A14000D:0050      Masq    1      0          0
  -> 0A14000B:0050      Masq    1      0          3
TCP  0A0A0065:0050 rr
  -> 0A14000C:0050      Masq    1      0          0
";
        assert_eq!(
            proc_destinations(text, "10.10.0.100:80"),
            ["10.20.0.13:80", "10.20.0.11:80"]
        );
        assert_eq!(proc_destinations(text, "10.10.0.101:80"), ["10.20.0.12:80"]);
        assert!(proc_destinations(text, "10.10.0.102:80").is_empty());
        assert_eq!(
            proc_weights(text, "10.10.0.100:80"),
            [
                ("10.20.0.13:80".to_string(), 1),
                ("10.20.0.11:80".to_string(), 1)
            ]
        );
        let v6 = "TCP  [2001:0db8:0010:0000:0000:0000:0000:0100]:0050 rr
  -> [2001:0db8:0020:0000:0000:0000:0000:0011]:0050      Masq    1      0          0
";
        assert_eq!(
            proc_destinations(v6, "[2001:db8:10::100]:80"),
            ["[2001:db8:20::11]:80"]
        );
        assert_eq!(hex_addr(CLIENT), "0A0A000A");
    }

    #[test]
    fn the_outage_is_judged_by_when_requests_start() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let req = |start: u64, end: u64, ok: bool| Request {
            start: at(start),
            end: at(end),
            result: if ok {
                Ok("rs1".into())
            } else {
                Err("refused".into())
            },
        };
        let reqs = vec![
            req(0, 10, true),
            req(100, 600, false),
            req(600, 610, false),
            req(700, 1700, false),
            req(1800, 1810, true),
        ];
        assert!(outage(&reqs, at(1800)).is_none());
        let o = outage(&reqs, at(50)).unwrap();
        assert_eq!(o.failed, 3);
        assert_eq!(o.first_failure, at(100));
        assert_eq!(o.last_failure, at(700));
        assert_eq!(o.recovered, Some(at(1800)));
    }

    #[test]
    fn every_virtual_block_gets_the_client_monitor() {
        let text = "serial_no = 1\nvirtual web {\n    active = 1\n}\nvirtual  ftp   {\n}\n";
        assert_eq!(
            with_client_monitor(text, Path::new("/x/nanny")),
            "serial_no = 1\nvirtual web {\n    client_monitor = /x/nanny\n    active = 1\n}\n\
             virtual  ftp   {\n    client_monitor = /x/nanny\n}\n"
        );
    }
}
