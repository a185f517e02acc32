//! `--heartbeat-key` in the namespace lab (issue 15): a host on the LAN
//! that takes the dead primary's address and sends the 4-byte "running"
//! keeps an unkeyed backup from taking over (the hole, shown) but not a
//! keyed one; captured signed heartbeats replayed do not either;
//! mismatched keys are reported on both sides; a permissive rollout keeps
//! exactly one router active; and a permissive router pairs with the
//! byte-level stand-in for Piranha's pulse.

mod lab;

use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lab::{Cf, Lab, Router, secs, wait_for};

const S: fn(u64) -> Duration = Duration::from_secs;
const RUNNING: [u8; 4] = [0xDA, 0xDB, 0xAD, 0xBD];
const KEY_A: &str = "8d3f0c4e5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f\n";
const KEY_B: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0\n";

fn require(test: &str) -> bool {
    lvs_tests::require(lvs_tests::Need::Netns, test)
}

/// Writes a key file (root's, mode 0600) in the lab's directory.
fn key_file(lab: &Lab, name: &str, text: &str) -> String {
    let p = lab.r1.dir.join(name);
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p.display().to_string()
}

fn keyed<'a>(file: &'a str, mode: &'a str) -> Vec<String> {
    vec![
        format!("--heartbeat-key={file}"),
        format!("--heartbeat-auth={mode}"),
    ]
}

fn start(r: &mut Router, cf: &Cf, args: &[String]) {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    r.start(cf, &a);
}

/// `lab::cold_start` with options: the backup first, then the primary,
/// which activates on the backup's *stopped*.
fn cold_start(lab: &mut Lab, cf: &Cf, r1: &[String], r2: &[String]) {
    start(&mut lab.r2, cf, r2);
    assert!(
        lab.r2.wait_logged("STARTING PULSE AS BACKUP", S(10)),
        "r2 did not start\n{}",
        lab.dump()
    );
    std::thread::sleep(Duration::from_millis(200));
    start(&mut lab.r1, cf, r1);
    assert!(
        lab.r1
            .wait_logged("backup inactive: activating lvs", secs(cf.deadtime) + S(2)),
        "r1 did not activate\n{}",
        lab.dump()
    );
    assert!(
        wait_for(S(3), || lab.r2.role().as_deref() == Some("standby")),
        "r2 not standby\n{}",
        lab.dump()
    );
}

/// The primary's pulse dies (kill -9) and its link goes down.
fn primary_dies(lab: &mut Lab) -> Instant {
    lab.r1.kill9();
    let t = Instant::now();
    lab.r1.ns.ip(&["link", "set", "eth0", "down"]);
    t
}

/// The client takes the primary's address and sends each of `datagrams`
/// in turn (the last one again and again), from 192.0.2.1:539 to the
/// backup every 0.5 s, until stopped.
struct Forger {
    stop: Arc<AtomicBool>,
    sent: Arc<std::sync::atomic::AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Forger {
    fn start(lab: &Lab, datagrams: Vec<Vec<u8>>) -> Forger {
        lab.c.ip(&["addr", "add", "192.0.2.1/24", "dev", "eth0"]);
        let sock = lab.c.enter(|| UdpSocket::bind("192.0.2.1:539").unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let thread = {
            let (stop, sent) = (stop.clone(), sent.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let d = &datagrams[i.min(datagrams.len() - 1)];
                    if sock.send_to(d, "192.0.2.2:539").is_ok() {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    i += 1;
                    std::thread::sleep(Duration::from_millis(500));
                }
            })
        };
        Forger {
            stop,
            sent,
            thread: Some(thread),
        }
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

impl Drop for Forger {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The measured attack of issue 15, without a key: the backup never takes
/// over while the forger sends "running" as the dead primary.
#[test]
fn forged_running_keeps_an_unkeyed_backup_from_taking_over() {
    if !require("forged_running_keeps_an_unkeyed_backup_from_taking_over") {
        return;
    }
    let mut lab = Lab::new("a1", false);
    let cf = Cf::default();
    cold_start(&mut lab, &cf, &[], &[]);
    let forger = Forger::start(&lab, vec![RUNNING.to_vec()]);
    primary_dies(&mut lab);
    std::thread::sleep(secs(cf.deadtime) + S(3));
    assert!(forger.sent() >= 10);
    assert!(
        !lab.r2.log().contains("partner dead"),
        "the hole is closed without a key?\n{}",
        lab.dump()
    );
    let s = lab.r2.status().expect("r2 status");
    assert_eq!(s.role, "standby");
    assert!(s.partner.alive, "the forger passes for the partner");
    assert_eq!(s.heartbeat_auth, "off");
    let (_, text, _) = lab.r2.status_cli(false);
    assert!(
        text.contains("auth        off: heartbeats are not authenticated"),
        "{text}"
    );
}

/// The same attack with a key on both routers: the forger's 4 bytes are
/// rejected, and the backup takes over within deadtime + 1 s of the
/// primary's death while the forger keeps sending.
#[test]
fn forged_running_cannot_stop_a_keyed_backup() {
    if !require("forged_running_cannot_stop_a_keyed_backup") {
        return;
    }
    let mut lab = Lab::new("a2", false);
    let cf = Cf::default();
    let k = key_file(&lab, "key", KEY_A);
    let args = keyed(&k, "required");
    cold_start(&mut lab, &cf, &args, &args);
    assert!(
        lab.r1.log().contains(&format!(
            "heartbeat authentication required with 1 key(s) from {k}"
        )),
        "{}",
        lab.dump()
    );
    let forger = Forger::start(&lab, vec![RUNNING.to_vec()]);
    let died = primary_dies(&mut lab);
    assert!(
        lab.r2
            .wait_logged("partner dead: activating lvs", secs(cf.deadtime) + S(1)),
        "no takeover within deadtime + 1 s\n{}",
        lab.dump()
    );
    let took = died.elapsed();
    assert!(took <= secs(cf.deadtime) + S(1), "{took:?}");
    assert!(forger.sent() >= 3, "the forger kept sending");
    assert!(
        lab.r2.log().contains(
            "pulse: heartbeat from 192.0.2.1 rejected: unsigned (--heartbeat-auth=required)"
        ),
        "{}",
        lab.dump()
    );
    let s = lab.r2.status().expect("r2 status");
    assert_eq!(s.role, "active");
    assert_eq!(s.heartbeat_auth, "required");
    assert!(
        s.counters.heartbeats_rejected.unsigned >= 3,
        "{:?}",
        s.counters
    );
    assert_eq!(s.partner.last_rejected.as_deref(), Some("unsigned"));
    assert!(lab.r2.has_vip(), "{}", lab.dump());
}

/// An `AF_PACKET` socket in r2's namespace that sees the UDP datagrams
/// 192.0.2.1:539 → 192.0.2.2:539 arrive (the attacker's capture).
struct Sniffer(OwnedFd);

impl Sniffer {
    fn open(r: &Router) -> Sniffer {
        r.ns.enter(|| {
            // SAFETY: plain socket(2); checked below.
            let fd = unsafe {
                libc::socket(
                    libc::AF_PACKET,
                    libc::SOCK_DGRAM,
                    i32::from((libc::ETH_P_IP as u16).to_be()),
                )
            };
            assert!(fd >= 0, "{}", std::io::Error::last_os_error());
            // SAFETY: a new descriptor we own.
            Sniffer(unsafe { OwnedFd::from_raw_fd(fd) })
        })
    }

    /// The heartbeat payloads from the primary seen within `time`.
    fn heartbeats(&self, time: Duration) -> Vec<Vec<u8>> {
        let end = Instant::now() + time;
        let mut out = Vec::new();
        while Instant::now() < end {
            let mut pfd = libc::pollfd {
                fd: self.0.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut pfd, 1, 100) } <= 0 {
                continue;
            }
            let mut buf = [0u8; 256];
            // SAFETY: buf is valid for its length.
            let n =
                unsafe { libc::recv(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            let Ok(n) = usize::try_from(n) else { continue };
            let p = &buf[..n];
            if n < 28 || p[9] != 17 {
                continue;
            }
            let ihl = usize::from(p[0] & 0x0f) * 4;
            let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
            let udp = &p[ihl..];
            let sport = u16::from_be_bytes([udp[0], udp[1]]);
            let dport = u16::from_be_bytes([udp[2], udp[3]]);
            if src == Ipv4Addr::new(192, 0, 2, 1) && sport == 539 && dport == 539 {
                out.push(udp[8..].to_vec());
            }
        }
        out
    }
}

/// Real signed heartbeats captured on the wire and replayed from the dead
/// primary's address are rejected as replays: the backup takes over on
/// time.
#[test]
fn captured_signed_heartbeats_replayed_after_the_primary_dies_are_rejected() {
    if !require("captured_signed_heartbeats_replayed_after_the_primary_dies_are_rejected") {
        return;
    }
    let mut lab = Lab::new("a3", false);
    let cf = Cf::default();
    let k = key_file(&lab, "key", KEY_A);
    let args = keyed(&k, "required");
    cold_start(&mut lab, &cf, &args, &args);
    let sniffer = Sniffer::open(&lab.r2);
    let captured = sniffer.heartbeats(S(3));
    assert!(captured.len() >= 2, "{captured:?}");
    for d in &captured {
        assert_eq!(d.len(), 57, "signed heartbeats are 57 bytes");
        assert_eq!(d[..4], RUNNING, "the magic comes first");
    }
    let forger = Forger::start(&lab, captured);
    let died = primary_dies(&mut lab);
    assert!(
        lab.r2
            .wait_logged("partner dead: activating lvs", secs(cf.deadtime) + S(1)),
        "no takeover within deadtime + 1 s\n{}",
        lab.dump()
    );
    assert!(died.elapsed() <= secs(cf.deadtime) + S(1));
    assert!(forger.sent() >= 3);
    assert!(
        lab.r2
            .log()
            .contains("pulse: heartbeat from 192.0.2.1 rejected: replayed or old (epoch "),
        "{}",
        lab.dump()
    );
    let s = lab.r2.status().expect("r2 status");
    assert_eq!(s.role, "active");
    assert!(
        s.counters.heartbeats_rejected.replayed >= 3,
        "{:?}",
        s.counters
    );
    assert_eq!(s.counters.heartbeats_rejected.unsigned, 0);
}

/// Different keys: each router rejects the other's heartbeats, logs it and
/// its status says why.
#[test]
fn mismatched_keys_are_reported_on_both_sides() {
    if !require("mismatched_keys_are_reported_on_both_sides") {
        return;
    }
    let mut lab = Lab::new("a4", false);
    let cf = Cf::default();
    let a = key_file(&lab, "a", KEY_A);
    let b = key_file(&lab, "b", KEY_B);
    start(&mut lab.r2, &cf, &keyed(&b, "required"));
    start(&mut lab.r1, &cf, &keyed(&a, "required"));
    let line = "pulse: heartbeat from 192.0.2.2 rejected: bad MAC (not signed with our key)";
    assert!(
        wait_for(S(4), || lab.r1.log().contains(line)),
        "{}",
        lab.dump()
    );
    let line = "pulse: heartbeat from 192.0.2.1 rejected: bad MAC (not signed with our key)";
    assert!(
        wait_for(S(4), || lab.r2.log().contains(line)),
        "{}",
        lab.dump()
    );
    for r in [&lab.r1, &lab.r2] {
        let s = r.status().expect("status");
        assert!(
            s.counters.heartbeats_rejected.bad_mac >= 1,
            "{:?}",
            s.counters
        );
        assert_eq!(s.counters.heartbeats_received, 0);
        assert_eq!(s.partner.last_rejected.as_deref(), Some("bad_mac"));
        let (_, text, _) = r.status_cli(false);
        assert!(
            text.contains("auth        required (signed heartbeats); last rejection: bad mac"),
            "{text}"
        );
    }
}

/// The roles both routers report now (None when one does not answer).
fn roles(lab: &Lab) -> (Option<String>, Option<String>) {
    (lab.r1.role(), lab.r2.role())
}

/// Samples both roles for `time`: never two active at once. Returns the
/// last sample.
fn never_both_active(lab: &Lab, time: Duration) -> (Option<String>, Option<String>) {
    let end = Instant::now() + time;
    let mut last = roles(lab);
    while Instant::now() < end {
        last = roles(lab);
        assert!(
            !(last.0.as_deref() == Some("active") && last.1.as_deref() == Some("active")),
            "both active\n{}",
            lab.dump()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    last
}

/// Exactly one of the two is active.
fn exactly_one_active(lab: &Lab) {
    let (a, b) = never_both_active(lab, S(2));
    let n = [a, b]
        .iter()
        .filter(|r| r.as_deref() == Some("active"))
        .count();
    assert_eq!(n, 1, "{}", lab.dump());
}

/// Restarts a standby router's pulse with `args` and lets it settle.
fn restart(lab: &mut Lab, which: u8, cf: &Cf, args: &[String]) {
    let r = if which == 1 { &mut lab.r1 } else { &mut lab.r2 };
    assert_eq!(r.stop(), Some(0));
    start(r, cf, args);
    let r = if which == 1 { &lab.r1 } else { &lab.r2 };
    assert!(
        wait_for(S(5), || r.role().is_some_and(|x| x != "starting")),
        "{}",
        lab.dump()
    );
}

/// The rollout of pulse(8): both unkeyed; the standby permissive (signs,
/// accepts the unsigned partner); the active one permissive; then each
/// required. Exactly one router is active after every step, never two.
#[test]
fn permissive_rollout_keeps_exactly_one_router_active() {
    if !require("permissive_rollout_keeps_exactly_one_router_active") {
        return;
    }
    let mut lab = Lab::new("a5", false);
    let cf = Cf::default();
    let k = key_file(&lab, "key", KEY_A);
    cold_start(&mut lab, &cf, &[], &[]);
    exactly_one_active(&lab);

    // 1. the standby signs and accepts the unsigned primary
    restart(&mut lab, 2, &cf, &keyed(&k, "permissive"));
    exactly_one_active(&lab);
    assert_eq!(lab.r2.role().as_deref(), Some("standby"));
    let s = lab.r2.status().unwrap();
    assert_eq!(s.heartbeat_auth, "permissive");
    assert!(s.counters.heartbeats_unsigned >= 1, "{:?}", s.counters);
    assert!(
        lab.r2
            .log()
            .contains("accepting unsigned heartbeat from 192.0.2.1 (--heartbeat-auth=permissive)")
    );
    // The unkeyed primary reads the signed heartbeats' first 4 bytes.
    let s = lab.r1.status().unwrap();
    assert_eq!(
        s.counters.heartbeats_rejected.total(),
        0,
        "{:?}",
        s.counters
    );

    // 2. the primary too: it comes back active on the backup's *stopped*
    restart(&mut lab, 1, &cf, &keyed(&k, "permissive"));
    exactly_one_active(&lab);
    let unsigned = lab.r2.status().unwrap().counters.heartbeats_unsigned;
    std::thread::sleep(S(2));
    assert_eq!(
        lab.r2.status().unwrap().counters.heartbeats_unsigned,
        unsigned,
        "both sign now: no more unsigned heartbeats"
    );

    // 3. and 4. required on each, the standby first
    restart(&mut lab, 2, &cf, &keyed(&k, "required"));
    exactly_one_active(&lab);
    assert_eq!(lab.r2.role().as_deref(), Some("standby"));
    restart(&mut lab, 1, &cf, &keyed(&k, "required"));
    exactly_one_active(&lab);
    for r in [&lab.r1, &lab.r2] {
        let s = r.status().unwrap();
        assert_eq!(s.heartbeat_auth, "required");
        assert_eq!(s.counters.heartbeats_unsigned, 0);
        assert_eq!(
            s.counters.heartbeats_rejected.total(),
            0,
            "{:?}",
            s.counters
        );
        assert!(s.partner.alive);
    }
}

/// A keyed permissive pulse pairs with the byte-level stand-in for
/// Piranha's pulse (`lvs-test-peer`, which like the original reads a
/// heartbeat into a 4-byte buffer): each takes the other's heartbeats, and
/// the stand-in takes over when ours dies. With `required` ours ignores
/// the stand-in.
#[test]
fn permissive_pulse_pairs_with_piranhas_pulse() {
    if !require("permissive_pulse_pairs_with_piranhas_pulse") {
        return;
    }
    let peer_bin = lvs_tests::bin("lvs-test-peer");
    let mut lab = Lab::new("a6", false);
    let cf = Cf::default();
    let k = key_file(&lab, "key", KEY_A);
    let peer_log = lab.r2.dir.join("peer.log");
    let log = std::fs::File::create(&peer_log).unwrap();
    let mut peer = lab
        .r2
        .ns
        .command(&peer_bin)
        .args(["192.0.2.2", "192.0.2.1", "backup", "1", "3"])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("lvs-test-peer");
    let peer_says = |t: &str| {
        std::fs::read_to_string(&peer_log)
            .unwrap_or_default()
            .lines()
            .any(|l| l == format!("peer: {t}"))
    };
    assert!(wait_for(S(5), || peer_says("STARTING PULSE AS BACKUP")));
    std::thread::sleep(Duration::from_millis(200));
    start(&mut lab.r1, &cf, &keyed(&k, "permissive"));
    assert!(
        lab.r1.wait_logged("backup inactive: activating lvs", S(5)),
        "{}",
        lab.dump()
    );
    // The stand-in hears our signed "running" as "running": it stays
    // standby (it activated on nothing, complained about nothing).
    std::thread::sleep(S(4));
    let text = std::fs::read_to_string(&peer_log).unwrap();
    assert!(!text.contains("activating"), "{text}");
    assert!(
        !text.contains("bad heartbeat") && !text.contains("Incompatible"),
        "{text}"
    );
    let s = lab.r1.status().unwrap();
    assert_eq!(s.role, "active");
    assert!(s.partner.alive);
    assert!(s.counters.heartbeats_unsigned >= 3, "{:?}", s.counters);
    // Ours dies: the stand-in takes over.
    lab.r1.kill9();
    assert!(
        wait_for(S(5), || peer_says("partner dead: activating lvs")),
        "{}",
        std::fs::read_to_string(&peer_log).unwrap()
    );
    // Required: the stand-in's unsigned heartbeats are rejected.
    start(&mut lab.r1, &cf, &keyed(&k, "required"));
    assert!(
        lab.r1.wait_logged(
            "heartbeat from 192.0.2.2 rejected: unsigned (--heartbeat-auth=required)",
            S(5)
        ),
        "{}",
        lab.dump()
    );
    let _ = peer.kill();
    let _ = peer.wait();
}
