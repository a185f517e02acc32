//! Network namespaces for tests: create, configure with `ip`, run programs
//! or closures inside, and tear down (also on panic) through a guard.
//!
//! Namespace names are global on the machine: give each test its own
//! prefix. Dropping a [`Netns`] kills every process still inside it and
//! deletes it. A switch with routers, a client and real servers on it is
//! built by [`crate::lab`].

use std::fs::File;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Runs `ip ARGS…` and returns stdout; panics with stderr on failure.
pub fn ip(args: &[&str]) -> String {
    let out = run("ip", args);
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn run(prog: &str, args: &[&str]) -> Output {
    Command::new(prog)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {prog}: {e}"))
}

/// A network namespace that is deleted (with everything running in it)
/// when dropped.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates namespace `name` (deleting a stale one first) and sets its
    /// loopback up.
    pub fn new(name: &str) -> Netns {
        assert!(name.len() <= 15, "namespace name {name:?} too long");
        if std::path::Path::new("/run/netns").join(name).exists() {
            drop(Netns { name: name.into() });
        }
        ip(&["netns", "add", name]);
        let ns = Netns { name: name.into() };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME ARGS…`; returns stdout, panics on failure.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// Like [`Netns::ip`] but returns the raw output instead of panicking.
    pub fn ip_output(&self, args: &[&str]) -> Output {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// A command that runs `prog` inside the namespace.
    pub fn command(&self, prog: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(prog);
        c
    }

    /// Runs `f` on a thread that has entered the namespace. Sockets created
    /// inside `f` stay in the namespace and may be returned.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
                // SAFETY: setns on a valid namespace fd affects only this thread.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .expect("thread in namespace panicked")
        })
    }

    /// Runs `f` on a new thread that has entered the namespace, without
    /// waiting for it (see [`Netns::enter`] for one that is joined).
    pub fn spawn<F: FnOnce() + Send + 'static>(&self, f: F) -> std::thread::JoinHandle<()> {
        let path = format!("/run/netns/{}", self.name);
        let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        std::thread::spawn(move || {
            // SAFETY: setns on a valid namespace fd affects only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
            f()
        })
    }

    /// Runs `f` to completion on a new single-threaded runtime, on a thread
    /// that has entered the namespace (sockets `f` opens, netlink ones too,
    /// belong to the namespace).
    pub fn block_on<T: Send>(&self, f: impl AsyncFnOnce() -> T + Send) -> T {
        self.enter(|| crate::runtime().block_on(f()))
    }

    /// The MAC address of `dev` inside the namespace (lower case, `:`).
    pub fn mac(&self, dev: &str) -> String {
        let out = self.ip(&["-o", "link", "show", dev]);
        let after = out
            .split("link/ether ")
            .nth(1)
            .unwrap_or_else(|| panic!("no MAC in {out:?}"));
        after
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string()
    }

    /// Pids of the processes inside the namespace.
    pub fn pids(&self) -> Vec<i32> {
        let out = run("ip", &["netns", "pids", &self.name]);
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for pid in self.pids() {
            // SAFETY: kill has no memory-safety preconditions; these pids
            // are processes inside our own test namespace.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = run("ip", &["netns", "del", &self.name]);
    }
}

/// An `AF_PACKET` socket in a namespace that receives every frame of one
/// EtherType there (ARP for the IPv4 tests, IPv6 for the neighbour
/// advertisements).
#[derive(Debug)]
pub struct PacketCapture(OwnedFd);

impl PacketCapture {
    /// EtherType ARP.
    pub const ARP: u16 = 0x0806;
    /// EtherType IPv6.
    pub const IPV6: u16 = 0x86dd;

    /// Opens the socket inside `ns` for frames of `ethertype`.
    pub fn open(ns: &Netns, ethertype: u16) -> PacketCapture {
        ns.enter(|| {
            // SAFETY: plain socket(2); checked below.
            let fd = unsafe {
                libc::socket(
                    libc::AF_PACKET,
                    libc::SOCK_RAW,
                    i32::from(ethertype.to_be()),
                )
            };
            assert!(
                fd >= 0,
                "packet socket: {}",
                std::io::Error::last_os_error()
            );
            // SAFETY: fd is a new descriptor we own.
            PacketCapture(unsafe { OwnedFd::from_raw_fd(fd) })
        })
    }

    /// Every ARP frame in `ns`.
    pub fn arp(ns: &Netns) -> PacketCapture {
        PacketCapture::open(ns, PacketCapture::ARP)
    }

    /// Every IPv6 frame in `ns`.
    pub fn ipv6(ns: &Netns) -> PacketCapture {
        PacketCapture::open(ns, PacketCapture::IPV6)
    }

    /// The next frame, or `None` if none arrives within `timeout`.
    pub fn recv(&self, timeout: Duration) -> Option<Vec<u8>> {
        let mut pfd = libc::pollfd {
            fd: self.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: pfd is valid for one entry.
        if unsafe { libc::poll(&mut pfd, 1, ms) } <= 0 {
            return None;
        }
        let mut buf = [0u8; 1600];
        // SAFETY: buf is valid for its length.
        let n = unsafe { libc::recv(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let n = usize::try_from(n).ok().filter(|&n| n > 0)?;
        Some(buf[..n].to_vec())
    }
}

/// A background thread recording, with when it read them, the frames of a
/// [`PacketCapture`] that `pick` keeps (as what it returns). Stops when
/// dropped.
pub struct FrameWatch<T> {
    seen: Arc<Mutex<Vec<(Instant, T)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl<T: Clone + Send + 'static> FrameWatch<T> {
    /// Starts reading `cap`.
    pub fn start(
        cap: PacketCapture,
        pick: impl Fn(&[u8]) -> Option<T> + Send + 'static,
    ) -> FrameWatch<T> {
        let seen: Arc<Mutex<Vec<(Instant, T)>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, st2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !st2.load(Ordering::Relaxed) {
                let Some(frame) = cap.recv(Duration::from_millis(50)) else {
                    continue;
                };
                let at = Instant::now();
                if let Some(t) = pick(&frame) {
                    s2.lock().unwrap().push((at, t));
                }
            }
        });
        FrameWatch {
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// Everything recorded so far.
    pub fn seen(&self) -> Vec<(Instant, T)> {
        self.seen.lock().unwrap().clone()
    }
}

impl<T> Drop for FrameWatch<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Moves the calling thread into a new, unnamed network namespace with `lo`
/// up (it goes away with its last thread and process). Child processes
/// spawned from this thread inherit the namespace.
pub fn enter_new() {
    // SAFETY: unshare has no memory-safety preconditions; it affects only
    // the calling thread.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(
        rc,
        0,
        "unshare(CLONE_NEWNET): {}",
        std::io::Error::last_os_error()
    );
    let st = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .expect("run ip");
    assert!(st.success(), "ip link set lo up: {st}");
}

/// Connects `a` (interface `a_if`) and `b` (`b_if`) with a veth pair.
pub fn veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str) {
    a.ip(&[
        "link",
        "add",
        a_if,
        "type",
        "veth",
        "peer",
        "name",
        b_if,
        "netns",
        b.name(),
    ]);
    a.ip(&["link", "set", a_if, "up"]);
    b.ip(&["link", "set", b_if, "up"]);
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes; returns
/// whether it held.
pub fn wait_for(timeout: std::time::Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if std::time::Instant::now() >= end {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
