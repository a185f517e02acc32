//! Failover services in network namespaces, with the real pulse, fos and
//! nanny binaries: two routers `r1` (primary, 192.0.2.1) and `r2` (backup,
//! 192.0.2.2) and a client `c` (192.0.2.10, also the routers' default
//! gateway) on a bridge. Each router runs pulse with `service = fos`; the
//! service is `fos-test-service`, a TCP server on port 8080 that answers
//! `pong NODE web`, started and stopped by `start_cmd`/`stop_cmd`. The
//! standby's nanny watches it through the VIP 192.0.2.100. The namespaces
//! and links are an `lvs_tests::lab`.
//!
//! Build the other binaries first (`cargo build -p pulse -p nanny`, or
//! `cargo xtask test`, which builds the workspace).

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

use lvs_tests::lab::{Host, Log, Switch, read_lines};
use lvs_tests::netns::{Netns, wait_for};

const FOS: &str = env!("CARGO_BIN_EXE_fos");
const HELPER: &str = env!("CARGO_BIN_EXE_fos-test-service");
const VIP: &str = "192.0.2.100";
const PORT: u16 = 8080;

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn need(test: &str) -> bool {
    lvs_tests::require(lvs_tests::Need::Netns, test)
}

/// lvs.cf settings.
#[derive(Clone)]
struct Cf {
    deadtime: u32,
    timeout: u32,
}

impl Default for Cf {
    fn default() -> Cf {
        Cf {
            deadtime: 3,
            timeout: 3,
        }
    }
}

impl Cf {
    fn fos(&self, dir: &str) -> String {
        let nanny = lvs_tests::bin("nanny").display().to_string();
        format!(
            "serial_no = 1\nprimary = 192.0.2.1\nservice = fos\nbackup_active = 1\n\
             backup = 192.0.2.2\nheartbeat = 1\nheartbeat_port = 539\nkeepalive = 1\n\
             deadtime = {d}\n\n\
             failover web {{\n    active = 1\n    address = {VIP} eth0:1\n    \
             vip_nmask = 255.255.255.0\n    port = {PORT}\n    send = \"ping\\n\"\n    \
             expect = \"pong\"\n    timeout = {t}\n    client_monitor = {nanny}\n    \
             start_cmd = \"{HELPER} start web {PORT} {dir}\"\n    \
             stop_cmd = \"{HELPER} stop web {dir}\"\n}}\n",
            d = self.deadtime,
            t = self.timeout,
        )
    }

    fn lvs(&self) -> String {
        format!(
            "primary = 192.0.2.1\nservice = lvs\nbackup_active = 1\nbackup = 192.0.2.2\n\
             keepalive = 1\ndeadtime = {d}\nnetwork = direct\n\n\
             virtual web {{\n    active = 1\n    address = 192.0.2.101 eth0:1\n    port = 80\n}}\n",
            d = self.deadtime
        )
    }
}

/// One router: its namespace and, while running, its pulse.
struct Router {
    ns: Host,
    name: &'static str,
    dir: PathBuf,
    pulse: Option<Child>,
}

impl Router {
    fn path(&self, ext: &str) -> PathBuf {
        self.dir.join(format!("{}.{ext}", self.name))
    }

    /// Starts pulse in the foreground with lvs.cf `text`; pulse, fos and
    /// nanny all log to `NAME.log`.
    fn start(&mut self, text: &str, extra: &[&str]) {
        assert!(self.pulse.is_none());
        std::fs::write(self.path("cf"), text).unwrap();
        let mut cmd = self
            .ns
            .command_logged(lvs_tests::bin("pulse"), &self.log_file());
        cmd.arg("-n")
            .arg("-c")
            .arg(self.path("cf"))
            .arg(format!("--fos={FOS}"))
            .args(extra)
            .env("LF_NODE", self.name)
            .env("LF_RECORD", self.path("rec"))
            .env("LP_RECORD", self.path("rec"));
        self.pulse = Some(cmd.spawn().expect("start pulse"));
    }

    /// SIGTERM and wait; returns pulse's exit code.
    fn stop(&mut self) -> Option<i32> {
        let mut c = self.pulse.take()?;
        // SAFETY: signalling our own child.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        for _ in 0..1500 {
            if let Ok(Some(st)) = c.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        panic!("{} pulse did not exit after SIGTERM", self.name);
    }

    fn signal(&self, sig: i32) {
        let pid = self.pulse.as_ref().expect("running").id();
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid as i32, sig) };
    }

    /// The log of pulse, fos and nanny.
    fn log_file(&self) -> Log {
        Log::new(self.path("log"))
    }

    fn log(&self) -> String {
        self.log_file().text()
    }

    fn logged(&self, line: &str) -> bool {
        self.log_file().has(line)
    }

    fn count(&self, line: &str) -> usize {
        self.log_file().count(line)
    }

    fn wait_logged(&self, line: &str, timeout: Duration) -> bool {
        self.log_file().wait(line, timeout)
    }

    fn records(&self) -> Vec<String> {
        read_lines(&self.path("rec"))
    }

    fn has_vip(&self) -> bool {
        self.ns
            .addrs(Some("eth0"))
            .contains(&format!("inet {VIP}/24"))
    }

    /// Pid of the running service, from its pid file.
    fn service_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.join(format!("{}-web.pid", self.name)))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn dump(&self) -> String {
        format!(
            "--- {} log ---\n{}--- {} records ---\n{}\n",
            self.name,
            self.log(),
            self.name,
            self.records().join("\n")
        )
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        if let Some(mut c) = self.pulse.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The lab; fields drop in order: routers (pulse), then namespaces.
struct Lab {
    r1: Router,
    r2: Router,
    c: Host,
    sw: Switch,
    dir: tempfile::TempDir,
}

impl Lab {
    /// The routers' default gateway is the client.
    fn new(tag: &str) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let lab = lvs_tests::lab::Lab::builder(&format!("lf{tag}"))
            .router("r1", "192.0.2.1")
            .router("r2", "192.0.2.2")
            .router_gateway("192.0.2.10")
            .client("c", "192.0.2.10")
            .ready_timeout(s(5))
            .build();
        let path = dir.path().to_path_buf();
        let [r1, r2]: [Host; 2] = lab.routers.try_into().expect("two routers");
        let router = |ns, name| Router {
            ns,
            name,
            dir: path.clone(),
            pulse: None,
        };
        Lab {
            r1: router(r1, "r1"),
            r2: router(r2, "r2"),
            c: lab.client,
            sw: lab.switch,
            dir,
        }
    }

    fn dirname(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// The answer of the service behind the VIP, as the client sees it.
    fn ask(&self) -> Option<String> {
        self.c.enter(|| {
            let addr = format!("{VIP}:{PORT}").parse().unwrap();
            let mut t = std::net::TcpStream::connect_timeout(&addr, s(1)).ok()?;
            t.set_read_timeout(Some(s(2))).ok()?;
            t.write_all(b"ping\n").ok()?;
            let mut out = String::new();
            t.read_to_string(&mut out).ok()?;
            Some(out)
        })
    }

    fn served_by(&self, node: &str, timeout: Duration) -> bool {
        let want = format!("pong {node} web\n");
        wait_for(timeout, || self.ask().as_deref() == Some(want.as_str()))
    }

    /// Cuts (`false`) or restores (`true`) r2's port on the switch.
    fn r2_connected(&self, connected: bool) {
        self.sw.connect("r2", connected);
    }

    fn dump(&self) -> String {
        format!("{}{}", self.r1.dump(), self.r2.dump())
    }

    /// Fails the test unless `r` logs `line` within `timeout`.
    fn expect(&self, r: &Router, line: &str, timeout: Duration) {
        assert!(
            r.wait_logged(line, timeout),
            "{}: {line}\n{}",
            r.name,
            self.dump()
        );
    }

    /// Both routers with the fos lvs.cf: r2 first, r1 a moment later, so
    /// r1 hears r2's *stopped* and becomes the active node; then r2's
    /// monitor sees r1's service.
    fn cold_start(&mut self, cf: &Cf) {
        self.cold_start_with(cf, &[]);
    }

    /// [`Lab::cold_start`] with more pulse options on both routers.
    fn cold_start_with(&mut self, cf: &Cf, extra: &[&str]) {
        let text = cf.fos(&self.dirname());
        self.r2.start(&text, extra);
        std::thread::sleep(Duration::from_millis(200));
        self.r1.start(&text, extra);
        self.expect(&self.r1, "pulse: backup inactive: activating fos", s(5));
        assert!(self.served_by("r1", s(10)), "{}", self.dump());
        let available = format!("nanny: Remote service {VIP}:{PORT} is available");
        self.expect(&self.r2, &available, s(15));
    }
}

#[test]
fn failover_when_the_active_nodes_service_dies_and_no_fail_back() {
    let test = "failover_when_the_active_nodes_service_dies_and_no_fail_back";
    if !need(test) {
        return;
    }
    let mut lab = Lab::new("01");
    let cf = Cf::default();
    lab.cold_start(&cf);
    let (r1, r2) = (&lab.r1, &lab.r2);
    assert!(
        r1.logged("pulse: STARTING PULSE AS MASTER"),
        "{}",
        lab.dump()
    );
    assert!(
        r2.logged("pulse: Starting Failover Service Monitors"),
        "{}",
        lab.dump()
    );
    assert!(r1.has_vip() && !r2.has_vip(), "{}", lab.dump());
    // The standby ran its stop command and watches through the VIP; the
    // active node stopped, then started the service (F4: VIP already up).
    assert!(r2.records().contains(&"stop web".to_string()));
    assert!(
        !r2.records().contains(&"start web".to_string()),
        "{}",
        lab.dump()
    );
    let rec = r1.records();
    let first_start = rec.iter().position(|r| r == "start web").expect("started");
    assert_eq!(rec[first_start - 1], "stop web", "{rec:?}");
    lab.expect(r1, "pulse: gratuitous fos arps finished", s(8));

    // The service dies on the active node; r1 itself does not notice (F1).
    let pid = lab.r1.service_pid().expect("service pid");
    // SAFETY: the test's own service process.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let (r1, r2) = (&lab.r1, &lab.r2);
    for line in [
        format!("nanny: Exiting due to connection failure of {VIP}:{PORT}"),
        format!("fos: Monitor for service {VIP}:{PORT} exited. This is a failover condition!"),
        "fos: will now exit to notify pulse...".into(),
        "pulse: fos process exited -- checking network connectivity".into(),
        "pulse: remote service unavailable but we can see the gateway".into(),
        "pulse: seems like a remote network fault; performing service failover".into(),
        "pulse: Notifying partner WE are taking control!".into(),
    ] {
        lab.expect(r2, &line, s(15));
    }
    // r1 (the active master) is told to stand down with STOP-ME.
    lab.expect(r1, "pulse: PARTNER HAS TOLD US TO GO INACTIVE!", s(5));
    assert!(lab.served_by("r2", s(10)), "{}", lab.dump());
    assert!(wait_for(s(5), || !lab.r1.has_vip()), "{}", lab.dump());
    assert!(lab.r2.has_vip());
    // r1 now watches r2's service.
    let available = format!("nanny: Remote service {VIP}:{PORT} is available");
    assert!(
        wait_for(s(15), || lab.r1.count(&available) >= 1),
        "{}",
        lab.dump()
    );

    // No fail-back: r1 stays standby while r2 serves.
    r2_keeps_the_service(&lab, &cf);
    // Not even when pulse on r1 restarts: it hears r2 running and stays
    // standby.
    assert_eq!(lab.r1.stop(), Some(0));
    let text = cf.fos(&lab.dirname());
    lab.r1.start(&text, &[]);
    assert!(
        wait_for(s(10), || lab
            .r1
            .count("pulse: Starting Failover Service Monitors")
            == 2),
        "{}",
        lab.dump()
    );
    r2_keeps_the_service(&lab, &cf);
    assert!(
        wait_for(s(10), || lab.r1.count(&available) >= 2),
        "{}",
        lab.dump()
    );
}

/// For two dead times r2 serves and r1 stays standby (its only activation
/// was at cold start).
fn r2_keeps_the_service(lab: &Lab, cf: &Cf) {
    std::thread::sleep(s(2 * u64::from(cf.deadtime)));
    assert!(lab.served_by("r2", s(1)), "{}", lab.dump());
    assert!(!lab.r1.has_vip(), "{}", lab.dump());
    let activations = lab.r1.log().matches("activating").count();
    assert_eq!(activations, 1, "{}", lab.dump());
}

#[test]
fn failover_when_the_active_node_dies() {
    if !need("failover_when_the_active_node_dies") {
        return;
    }
    let mut lab = Lab::new("02");
    lab.cold_start(&Cf::default());
    // r1 loses power: every process in it dies and its link goes down.
    lab.r1.pulse.take().map(|mut c| {
        let _ = c.kill();
        c.wait()
    });
    for pid in lab.r1.ns.pids() {
        // SAFETY: processes inside the test's own namespace.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    lab.r1.ns.ip(&["link", "set", "eth0", "down"]);
    assert!(lab.served_by("r2", s(20)), "{}", lab.dump());
    assert!(lab.r2.has_vip(), "{}", lab.dump());
    // Either path takes over: the dead timer, or the monitor seeing the
    // service vanish while the gateway still answers.
    let log = lab.r2.log();
    assert!(
        log.contains("pulse: partner dead: activating failover services")
            || log
                .contains("pulse: seems like a remote network fault; performing service failover"),
        "{}",
        lab.dump()
    );
    lab.expect(&lab.r2, "pulse: gratuitous fos arps finished", s(8));
}

#[test]
fn lvs_mode_and_fos_mode_nodes_refuse_to_pair() {
    if !need("lvs_mode_and_fos_mode_nodes_refuse_to_pair") {
        return;
    }
    let mut lab = Lab::new("03");
    let cf = Cf::default();
    let lvsd = lvs_tests::bin("pulse-test-lvsd").display().to_string();
    lab.r1.start(&cf.lvs(), &[&format!("--lvsd={lvsd}")]);
    lab.r2.start(&cf.fos(&lab.dirname()), &[]);
    let incompatible =
        "pulse: Incompatible heartbeat received -- other system not using identical services";
    for r in [&lab.r1, &lab.r2] {
        lab.expect(r, incompatible, s(5));
    }
    // Rejected heartbeats do not count: each declares the other dead.
    lab.expect(&lab.r1, "pulse: partner dead: activating lvs", s(8));
    lab.expect(
        &lab.r2,
        "pulse: partner dead: activating failover services",
        s(8),
    );
    assert!(lab.served_by("r2", s(10)), "{}", lab.dump());
    assert!(!lab.r1.log().contains("partner active"), "{}", lab.dump());
    assert!(!lab.r2.log().contains("partner active"), "{}", lab.dump());
}

#[test]
fn sighup_on_the_standby_restarts_its_monitors_without_failover() {
    if !need("sighup_on_the_standby_restarts_its_monitors_without_failover") {
        return;
    }
    let mut lab = Lab::new("04");
    lab.cold_start(&Cf::default());
    lab.r2.signal(libc::SIGHUP);
    lab.expect(&lab.r2, "pulse: SIGHUP received: restarting fos", s(5));
    let started = format!("fos: Starting monitor for {VIP}:{PORT} running as pid ");
    assert!(
        wait_for(s(10), || lab.r2.log().matches(&started).count() == 2),
        "{}",
        lab.dump()
    );
    std::thread::sleep(s(3));
    assert!(
        !lab.r2.log().contains("checking network connectivity"),
        "{}",
        lab.dump()
    );
    assert!(lab.served_by("r1", s(1)), "{}", lab.dump());
    assert!(!lab.r2.has_vip());
    // SIGTERM: pulse stops fos (which stops its monitors) and exits 0.
    assert_eq!(lab.r2.stop(), Some(0));
    assert!(
        lab.r2.logged("pulse: Terminating due to signal 15"),
        "{}",
        lab.dump()
    );
    let stopped = lab
        .r2
        .log()
        .matches("fos: will now exit to notify pulse...")
        .count();
    assert_eq!(stopped, 2, "{}", lab.dump());
}

#[test]
fn a_standby_that_loses_its_network_waits_for_the_partner() {
    if !need("a_standby_that_loses_its_network_waits_for_the_partner") {
        return;
    }
    let mut lab = Lab::new("05");
    // A long dead time, so the gateway check decides before it fires.
    let cf = Cf {
        deadtime: 15,
        timeout: 2,
    };
    lab.cold_start(&cf);
    lab.r2_connected(false);
    for line in [
        format!("nanny: Exiting due to connection failure of {VIP}:{PORT}"),
        "pulse: fos process exited -- checking network connectivity".into(),
        "pulse: remote service unavailable; gateway unavailable".into(),
        "pulse: I SEEM TO HAVE A NETWORK FAULT!".into(),
    ] {
        lab.expect(&lab.r2, &line, s(12));
    }
    assert!(!lab.r2.has_vip(), "{}", lab.dump());
    lab.r2_connected(true);
    lab.expect(&lab.r2, "pulse: Network fault seems to be fixed", s(5));
    let available = format!("nanny: Remote service {VIP}:{PORT} is available");
    assert!(
        wait_for(s(15), || lab.r2.count(&available) == 2),
        "{}",
        lab.dump()
    );
    assert!(!lab.r2.has_vip());
    assert!(lab.served_by("r1", s(1)), "{}", lab.dump());
    assert!(!lab.r2.log().contains("activating"), "{}", lab.dump());
}

#[test]
fn daemon_mode_primary_without_backup_runs_the_services() {
    if !need("daemon_mode_primary_without_backup_runs_the_services") {
        return;
    }
    let lab = Lab::new("06");
    let d = lab.dirname();
    let text = Cf::default().fos(&d).replace(
        "backup_active = 1\nbackup = 192.0.2.2\n",
        "backup_active = 0\n",
    );
    let r1 = &lab.r1;
    std::fs::write(r1.path("cf"), text).unwrap();
    let (pulse_pid, fos_pid) = (r1.path("pulse.pid"), r1.path("fos.pid"));
    let out = r1
        .ns
        .command(lvs_tests::bin("pulse"))
        .arg("-c")
        .arg(r1.path("cf"))
        .arg(format!("--fos={FOS}"))
        .env("LF_NODE", "r1")
        .env("LF_RECORD", r1.path("rec"))
        .env("PULSE_PID_FILE", &pulse_pid)
        .env("FOS_PID_FILE", &fos_pid)
        .env_remove("NOTIFY_SOCKET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "the foreground process exits 0");
    // Forced active (no backup): the services run without a partner.
    assert!(lab.served_by("r1", s(10)), "{:?}", r1.records());
    let read_pid =
        |p: &PathBuf| -> i32 { std::fs::read_to_string(p).unwrap().trim().parse().unwrap() };
    let (pulse, fos) = (read_pid(&pulse_pid), read_pid(&fos_pid));
    // fos is pulse's child, started with --active and --nofork.
    let cmdline = std::fs::read(format!("/proc/{fos}/cmdline")).unwrap();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert!(
        args.contains(&"--active".into()) && args.contains(&"--nofork".into()),
        "{args:?}"
    );
    let stat = std::fs::read_to_string(format!("/proc/{fos}/stat")).unwrap();
    let ppid: i32 = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ppid, pulse);
    assert!(r1.has_vip());
    // SIGTERM: pulse stops fos, which stops the service; the VIP goes and
    // both pid files are removed.
    // SAFETY: the test's own daemon.
    unsafe { libc::kill(pulse, libc::SIGTERM) };
    assert!(
        wait_for(s(10), || !pulse_pid.exists() && !fos_pid.exists()),
        "{:?}",
        r1.records()
    );
    assert_eq!(lab.ask(), None);
    assert!(!r1.has_vip());
    assert_eq!(r1.records(), ["stop web", "start web", "stop web"]);
}

/// A UDP socket in `ns` bound to `from` whether or not `ns` has that
/// address (IP_FREEBIND, and IP_TRANSPARENT to send from it): a host
/// forging another's source address.
fn forger(ns: &Netns, from: std::net::SocketAddrV4) -> std::net::UdpSocket {
    use std::os::fd::FromRawFd as _;
    ns.enter(|| {
        // SAFETY: plain socket(2); checked below.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        assert!(fd >= 0, "{}", std::io::Error::last_os_error());
        // SAFETY: a new descriptor we own.
        let sock = unsafe { std::net::UdpSocket::from_raw_fd(fd) };
        let one: libc::c_int = 1;
        for opt in [libc::IP_FREEBIND, libc::IP_TRANSPARENT] {
            // SAFETY: a valid int option of the right size.
            let rc = unsafe {
                libc::setsockopt(
                    fd,
                    libc::IPPROTO_IP,
                    opt,
                    (&one as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
        }
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: from.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*from.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: a valid sockaddr_in of the right size.
        let rc = unsafe {
            libc::bind(
                fd,
                (&addr as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
        sock
    })
}

/// With `--heartbeat-key` (issue 15) in fos mode: a STOP-ME forged from
/// the standby's address by another host is ignored (the active primary
/// logs why and keeps the service); the signed STOP-ME of a standby that
/// takes over from a failed service is obeyed as before.
#[test]
fn keyed_pair_ignores_a_forged_stop_me_and_obeys_a_signed_one() {
    let test = "keyed_pair_ignores_a_forged_stop_me_and_obeys_a_signed_one";
    if !need(test) {
        return;
    }
    let mut lab = Lab::new("07");
    let cf = Cf::default();
    let key = lab.dir.path().join("heartbeat.key");
    std::fs::write(
        &key,
        "8d3f0c4e5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f\n",
    )
    .unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let opt = format!("--heartbeat-key={}", key.display());
    lab.cold_start_with(&cf, &[&opt]);
    lab.expect(&lab.r1, "pulse: gratuitous fos arps finished", s(8));

    // The client sends STOP-ME (DA DA AD DE) as 192.0.2.2:539.
    let sock = forger(&lab.c, "192.0.2.2:539".parse().unwrap());
    for _ in 0..5 {
        sock.send_to(&[0xDA, 0xDA, 0xAD, 0xDE], "192.0.2.1:539")
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
    }
    lab.expect(
        &lab.r1,
        "pulse: heartbeat from 192.0.2.2 rejected: unsigned (--heartbeat-auth=required)",
        s(3),
    );
    std::thread::sleep(s(1));
    assert!(
        !lab.r1.logged("pulse: PARTNER HAS TOLD US TO GO INACTIVE!"),
        "{}",
        lab.dump()
    );
    assert!(lab.r1.has_vip(), "{}", lab.dump());
    assert!(lab.served_by("r1", s(2)), "{}", lab.dump());

    // The service dies on r1: r2 takes over and its signed STOP-ME works.
    let pid = lab.r1.service_pid().expect("service pid");
    // SAFETY: the test's own service process.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    lab.expect(
        &lab.r2,
        "pulse: Notifying partner WE are taking control!",
        s(15),
    );
    lab.expect(&lab.r1, "pulse: PARTNER HAS TOLD US TO GO INACTIVE!", s(5));
    assert!(lab.served_by("r2", s(10)), "{}", lab.dump());
    assert!(wait_for(s(5), || !lab.r1.has_vip()), "{}", lab.dump());
}
