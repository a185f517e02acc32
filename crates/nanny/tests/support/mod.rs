//! Test support for nanny: real TCP/UDP servers with scripted behaviour, and
//! a handle on a running nanny that collects its stdout and report lines.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Generous bound for anything a test waits for (a check takes ≤ 1 s here).
pub const LONG: Duration = Duration::from_secs(20);

/// Lines collected from a stream, with a condition variable.
#[derive(Clone, Default)]
pub struct Lines {
    inner: Arc<(Mutex<Vec<String>>, Condvar)>,
    eof: Arc<AtomicBool>,
}

impl Lines {
    fn push(&self, l: String) {
        let (m, c) = &*self.inner;
        m.lock().unwrap().push(l);
        c.notify_all();
    }

    /// A copy of the lines so far.
    pub fn all(&self) -> Vec<String> {
        self.inner.0.lock().unwrap().clone()
    }

    /// Waits until at least `n` lines satisfy `pred`; returns all lines.
    pub fn wait_count(&self, n: usize, pred: impl Fn(&str) -> bool) -> Vec<String> {
        let (m, c) = &*self.inner;
        let end = Instant::now() + LONG;
        let mut g = m.lock().unwrap();
        loop {
            if g.iter().filter(|l| pred(l)).count() >= n {
                return g.clone();
            }
            let now = Instant::now();
            assert!(now < end, "timed out waiting; lines so far: {:#?}", *g);
            g = c.wait_timeout(g, end - now).unwrap().0;
        }
    }

    /// Waits for a line equal to `line`.
    pub fn wait(&self, line: &str) -> Vec<String> {
        self.wait_count(1, |l| l == line)
    }

    /// Waits for a line starting with `prefix`.
    pub fn wait_prefix(&self, prefix: &str) -> Vec<String> {
        self.wait_count(1, |l| l.starts_with(prefix))
    }

    /// Waits until the writer closed the stream.
    pub fn wait_eof(&self) {
        let end = Instant::now() + LONG;
        while !self.eof.load(Ordering::SeqCst) {
            assert!(Instant::now() < end, "stream not closed: {:#?}", self.all());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn collect(self, r: impl Read + Send + 'static) {
        std::thread::spawn(move || {
            let mut r = BufReader::new(r);
            let mut buf = Vec::new();
            while let Ok(n) = r.read_until(b'\n', &mut buf) {
                if n == 0 {
                    break;
                }
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                self.push(String::from_utf8_lossy(&buf).into_owned());
                buf.clear();
            }
            self.eof.store(true, Ordering::SeqCst);
            self.inner.1.notify_all();
        });
    }
}

/// A running nanny (`--nodaemon`), killed when dropped.
pub struct Nanny {
    pub child: Child,
    /// stdout lines (`nanny: …`).
    pub out: Lines,
    /// Lines on the report descriptor (empty unless [`Nanny::with_report`]).
    pub report: Lines,
    pub stderr: Lines,
}

impl Nanny {
    /// The nanny binary.
    pub fn bin() -> std::path::PathBuf {
        lvs_tests::bin("nanny")
    }

    /// Starts `cmd` (a nanny command line, without the report descriptor).
    pub fn spawn(cmd: Command) -> Nanny {
        Self::start(cmd, false)
    }

    /// Starts `cmd` with `NANNY_REPORT_FD` on a pipe read by the test.
    pub fn with_report(cmd: Command) -> Nanny {
        Self::start(cmd, true)
    }

    fn start(mut cmd: Command, report: bool) -> Nanny {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut reader = None;
        if report {
            let (r, w) = lvs_util::process::pipe().expect("pipe");
            // The pipe's own number: a dup2 onto a fixed number is a no-op
            // that keeps close-on-exec when the pipe already has that number.
            let wfd = w.as_raw_fd();
            cmd.env("NANNY_REPORT_FD", wfd.to_string());
            lvs_util::process::inherit_fd(&mut cmd, wfd);
            reader = Some((r, w));
        }
        let mut child = cmd.spawn().expect("spawn nanny");
        let out = Lines::default();
        let err = Lines::default();
        out.clone().collect(child.stdout.take().unwrap());
        err.clone().collect(child.stderr.take().unwrap());
        Nanny::finish(child, out, err, reader)
    }

    fn finish(child: Child, out: Lines, err: Lines, reader: Option<(OwnedFd, OwnedFd)>) -> Nanny {
        let report = Lines::default();
        if let Some((r, w)) = reader {
            drop(w);
            report.clone().collect(std::fs::File::from(r));
        } else {
            // nothing to read: already complete
            report.eof.store(true, Ordering::SeqCst);
        }
        Nanny {
            child,
            out,
            report,
            stderr: err,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `sig`.
    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Waits for the exit status (panics after [`LONG`]), then for the end
    /// of its stdout and report, so [`Nanny::lines`] and the report lines
    /// are complete.
    pub fn wait_exit(&mut self) -> i32 {
        let end = Instant::now() + LONG;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                use std::os::unix::process::ExitStatusExt as _;
                self.out.wait_eof();
                // the report lines of its last moments (the removal at
                // termination, say) may still be in the pipe
                self.report.wait_eof();
                return s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0));
            }
            assert!(
                Instant::now() < end,
                "nanny did not exit: {:#?}",
                self.out.all()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(&mut self) -> i32 {
        self.signal(libc::SIGTERM);
        self.wait_exit()
    }

    /// Non-verbose stdout lines seen so far, without the `nanny: ` prefix.
    pub fn lines(&self) -> Vec<String> {
        self.out
            .all()
            .into_iter()
            .map(|l| l.strip_prefix("nanny: ").map(str::to_string).unwrap_or(l))
            .collect()
    }
}

impl Drop for Nanny {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A nanny command: `nanny ARGS --nodaemon` with the given arguments.
pub fn nanny(args: &[&str]) -> Command {
    let mut c = Command::new(Nanny::bin());
    c.args(args).arg("--nodaemon");
    c
}

/// Same, from an argument list with non-UTF-8 items.
pub fn nanny_os<S: AsRef<OsStr>>(args: &[S]) -> Command {
    let mut c = Command::new(Nanny::bin());
    c.args(args).arg("--nodaemon");
    c
}

/// A TCP server running `handler` for each connection on its own thread.
pub struct TcpServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicUsize>,
}

impl TcpServer {
    /// Listens on `listener` (already bound, possibly inside a namespace).
    pub fn on(
        listener: TcpListener,
        handler: impl Fn(TcpStream) + Send + Sync + 'static,
    ) -> TcpServer {
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let handler = Arc::new(handler);
        let (s, a) = (stop.clone(), accepted.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        conn.set_nonblocking(false).unwrap();
                        a.fetch_add(1, Ordering::Relaxed);
                        let h = handler.clone();
                        std::thread::spawn(move || h(conn));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        TcpServer {
            addr,
            stop,
            accepted,
        }
    }

    /// On 127.0.0.1, an ephemeral port.
    pub fn local(handler: impl Fn(TcpStream) + Send + Sync + 'static) -> TcpServer {
        Self::on(TcpListener::bind("127.0.0.1:0").unwrap(), handler)
    }

    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }
}

impl Drop for TcpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A server on 127.0.0.1 whose connection `i` (from 1) answers
/// `HTTP/1.0 200 OK` when `plan(i)` and otherwise closes at once.
pub fn scripted(plan: fn(usize) -> bool) -> TcpServer {
    let count = Arc::new(AtomicUsize::new(0));
    TcpServer::local(move |mut c: TcpStream| {
        let i = count.fetch_add(1, Ordering::SeqCst) + 1;
        if plan(i) {
            let _ = c.write_all(b"HTTP/1.0 200 OK\r\n");
        }
    })
}

/// Reads what the client sent (up to a blank line or 200 ms of quiet).
pub fn read_request(c: &mut TcpStream) -> Vec<u8> {
    c.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while let Ok(n) = c.read(&mut chunk) {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.ends_with(b"\r\n\r\n") || buf.ends_with(b"\n") {
            break;
        }
    }
    buf
}

/// Handler: reads the request, answers `reply`, closes.
pub fn answer(reply: &'static [u8]) -> impl Fn(TcpStream) + Send + Sync + 'static {
    move |mut c| {
        read_request(&mut c);
        let _ = c.write_all(reply);
    }
}

/// Handler: sends `banner` at once (without reading), keeps the connection
/// a moment, closes.
pub fn banner(b: &'static [u8]) -> impl Fn(TcpStream) + Send + Sync + 'static {
    move |mut c| {
        let _ = c.write_all(b);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Closes with an RST (SO_LINGER 0).
pub fn reset(c: TcpStream) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt with a linger struct of the stated size.
    unsafe {
        libc::setsockopt(
            c.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const l).cast(),
            std::mem::size_of::<libc::linger>() as u32,
        )
    };
    drop(c);
}

/// A port on 127.0.0.1 where nothing listens.
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    drop(l);
    p
}

/// A UDP server answering each datagram with `reply(request)` (None: no answer).
pub struct UdpServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl UdpServer {
    pub fn on(
        sock: UdpSocket,
        reply: impl Fn(&[u8]) -> Option<Vec<u8>> + Send + 'static,
    ) -> UdpServer {
        let addr = sock.local_addr().unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !s.load(Ordering::Relaxed) {
                if let Ok((n, from)) = sock.recv_from(&mut buf)
                    && let Some(r) = reply(&buf[..n])
                {
                    let _ = sock.send_to(&r, from);
                }
            }
        });
        UdpServer { addr, stop }
    }

    pub fn local(reply: impl Fn(&[u8]) -> Option<Vec<u8>> + Send + 'static) -> UdpServer {
        Self::on(UdpSocket::bind("127.0.0.1:0").unwrap(), reply)
    }

    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }
}

impl Drop for UdpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A client and a server namespace joined by a veth pair, one address
/// each (IPv6 ones without duplicate address detection, so both are usable
/// at once).
pub struct Pair {
    pub client: lvs_tests::netns::Netns,
    pub server: lvs_tests::netns::Netns,
    /// The server's end of the veth pair.
    pub server_if: String,
}

impl Pair {
    /// For test `test`: namespaces named after `id`, addresses `client`
    /// and `server` (`ADDR/LEN`); `None` where namespaces are not
    /// available (the test said so).
    pub fn with(test: &str, id: &str, client: &str, server: &str) -> Option<Pair> {
        use lvs_tests::netns::{Netns, veth};
        if !lvs_tests::require(lvs_tests::Need::Netns, test) {
            return None;
        }
        let id = format!("{id}{}", std::process::id() % 1000);
        let c = Netns::new(&format!("{id}c"));
        let s = Netns::new(&format!("{id}s"));
        let (ci, si) = (format!("{id}a"), format!("{id}b"));
        veth(&c, &ci, &s, &si);
        for (ns, addr, dev) in [(&c, client, &ci), (&s, server, &si)] {
            let mut a = vec!["addr", "add", addr, "dev", dev];
            if addr.contains(':') {
                a.push("nodad");
            }
            ns.ip(&a);
        }
        Some(Pair {
            client: c,
            server: s,
            server_if: si,
        })
    }

    /// nanny inside the client namespace.
    pub fn nanny(&self, args: &[&str]) -> Command {
        let mut c = self.client.command(Nanny::bin());
        c.args(args).arg("--nodaemon");
        c
    }
}
