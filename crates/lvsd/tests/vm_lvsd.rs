//! lvsd with real nannies against the kernel's IPVS (VM tier: run with
//! `cargo xtask test --tier vm`). Each test builds its own lab: a director
//! namespace running lvsd, and a namespace with the real servers (TCP and
//! UDP servers of this test process) behind a veth pair.
//!
//! Nannies check every second (`timeout = 1`) and need two good checks to
//! re-enter (`reentry = 2`).

mod common;

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::Collected;

use lvs_tests::Need;
use lvs_tests::netns::{Netns, veth};

/// How long anything may take under TCG.
const PATIENCE: Duration = Duration::from_secs(40);

fn ready(test: &str) -> bool {
    lvs_tests::require(Need::Ipvs, test) && lvs_tests::require(Need::Netns, test)
}

/// A director namespace and a real-server namespace on 10.70.1.0/24; the
/// director reaches the VIPs (10.70.0.0/24) through the veth, so local
/// connections to a VIP go through IPVS.
struct Lab {
    d: Netns,
    r: Netns,
    dir: tempfile::TempDir,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let d = Netns::new(&format!("{tag}d"));
        let r = Netns::new(&format!("{tag}r"));
        veth(&d, &format!("{tag}a"), &r, &format!("{tag}b"));
        d.ip(&["addr", "add", "10.70.1.1/24", "dev", &format!("{tag}a")]);
        for host in 2..=5 {
            r.ip(&[
                "addr",
                "add",
                &format!("10.70.1.{host}/24"),
                "dev",
                &format!("{tag}b"),
            ]);
        }
        r.ip(&["route", "add", "default", "via", "10.70.1.1"]);
        d.ip(&["route", "add", "10.70.0.0/24", "dev", &format!("{tag}a")]);
        Lab {
            d,
            r,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// `ipvsadm ARGS` in the director namespace.
    fn ipvsadm(&self, args: &[&str]) -> String {
        let o = self
            .d
            .command("ipvsadm")
            .args(args)
            .output()
            .expect("run ipvsadm");
        assert!(
            o.status.success(),
            "ipvsadm {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `ipvsadm -Sn`, normalized: each service line followed by its sorted
    /// destination lines, services sorted.
    fn table(&self) -> Vec<String> {
        normalize(&self.ipvsadm(&["-Sn"]))
    }

    /// Waits until the table is `want` (same normalization).
    fn wait_table(&self, want: &[&str], lvsd: &Lvsd) {
        let want = normalize(&want.join("\n"));
        let end = Instant::now() + PATIENCE;
        loop {
            let got = self.table();
            if got == want {
                return;
            }
            if Instant::now() >= end {
                panic!(
                    "table\n{}\nexpected\n{}\nlvsd said:\n{}",
                    got.join("\n"),
                    want.join("\n"),
                    lvsd.lines().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Connections scheduled to each destination: (service, dest) → conns.
    fn conns(&self) -> BTreeMap<(String, String), u64> {
        let mut out = BTreeMap::new();
        let mut svc = String::new();
        for l in self.ipvsadm(&["-Ln", "--stats"]).lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                ["->", dest, conns, ..] if dest.contains(':') => {
                    out.insert((svc.clone(), dest.to_string()), conns.parse().unwrap_or(0));
                }
                [proto @ ("TCP" | "UDP" | "FWM"), addr, ..] => svc = format!("{proto} {addr}"),
                _ => {}
            }
        }
        out
    }

    /// `ipvsadm -Ln --stats --exact` as (service, destination) → [conns,
    /// inpkts, outpkts, inbytes, outbytes]; a service's own counters have
    /// the destination "".
    fn exact_counters(&self) -> Counters {
        let mut out = BTreeMap::new();
        let mut svc = String::new();
        for l in self.ipvsadm(&["-Ln", "--stats", "--exact"]).lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            // the header lines ("-> RemoteAddress:Port") have no numbers
            let (dest, nums) = match w.as_slice() {
                ["->", dest, rest @ ..] if rest.len() == 5 => (dest.to_string(), rest),
                [proto @ ("TCP" | "UDP" | "SCTP" | "FWM"), addr, rest @ ..] if rest.len() == 5 => {
                    svc = format!("{proto} {addr}");
                    (String::new(), rest)
                }
                _ => continue,
            };
            let n: Vec<u64> = nums
                .iter()
                .map(|x| x.parse().unwrap_or_else(|_| panic!("{l}")))
                .collect();
            out.insert((svc.clone(), dest), [n[0], n[1], n[2], n[3], n[4]]);
        }
        out
    }

    /// One TCP connection from the director to `vip:port` (through IPVS).
    fn connect(&self, vip: &str, port: u16) {
        let addr: SocketAddr = format!("{vip}:{port}").parse().unwrap();
        self.d.enter(|| {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
            let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            assert!(buf.starts_with(b"HTTP/1.0 200"), "reply {buf:?}");
        });
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// (service, destination) → the five counters, as ipvsadm names them:
/// `TCP 10.70.0.100:80`, `FWM 5`, destination `10.70.1.2:80` ("" for the
/// service itself).
type Counters = BTreeMap<(String, String), [u64; 5]>;

/// The counters of lvsd's `stats` answer, keyed as [`Lab::exact_counters`].
fn stats_counters(stats: &serde_json::Value) -> Counters {
    let five = |c: &serde_json::Value| {
        ["conns", "inpkts", "outpkts", "inbytes", "outbytes"]
            .map(|k| c[k].as_u64().unwrap_or_else(|| panic!("{k} in {c}")))
    };
    let mut out = BTreeMap::new();
    for s in stats["services"].as_array().unwrap() {
        let svc = match s["proto"].as_str().unwrap() {
            "FWM" => format!("FWM {}", s["fwmark"]),
            p => format!("{p} {}:{}", s["address"].as_str().unwrap(), s["port"]),
        };
        out.insert((svc.clone(), String::new()), five(&s["stats"]));
        for d in s["dests"].as_array().unwrap() {
            let dest = format!("{}:{}", d["address"].as_str().unwrap(), d["port"]);
            out.insert((svc.clone(), dest), five(&d["stats"]));
        }
    }
    out
}

/// lvsd's own lines (`lvs: …`, and the empty line that ends a message
/// with a newline), without the nannies' `nanny: …` lines.
fn own(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| !l.starts_with("nanny: "))
        .cloned()
        .collect()
}

fn normalize(text: &str) -> Vec<String> {
    let mut blocks: Vec<Vec<String>> = Vec::new();
    for l in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if l.starts_with("-A") || blocks.is_empty() {
            blocks.push(vec![l.to_string()]);
        } else {
            blocks.last_mut().unwrap().push(l.to_string());
        }
    }
    for b in blocks.iter_mut() {
        b[1..].sort();
    }
    blocks.sort();
    blocks.concat()
}

/// A TCP server in the real-server namespace answering `HTTP/1.0 200 OK`.
struct Server {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn tcp(lab: &Lab, addr: &str) -> Server {
        let addr: SocketAddr = addr.parse().unwrap();
        let l = lab
            .r
            .enter(|| TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}")));
        l.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let thread = std::thread::spawn(move || {
            while !s2.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((mut c, _)) => {
                        let _ = c.set_nonblocking(false);
                        let _ = c.set_read_timeout(Some(Duration::from_millis(300)));
                        let mut buf = [0u8; 512];
                        let _ = c.read(&mut buf);
                        let _ = c.write_all(b"HTTP/1.0 200 OK\r\n\r\n");
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Server {
            stop,
            thread: Some(thread),
        }
    }

    /// A UDP server answering `pong` to `ping`.
    fn udp(lab: &Lab, addr: &str) -> Server {
        let addr: SocketAddr = addr.parse().unwrap();
        let s = lab.r.enter(|| UdpSocket::bind(addr).unwrap());
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while !s2.load(Ordering::Relaxed) {
                if let Ok((n, from)) = s.recv_from(&mut buf)
                    && &buf[..n] == b"ping"
                {
                    let _ = s.send_to(b"pong", from);
                }
            }
        });
        Server {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops answering (the port is closed: connections are refused).
    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// lvsd running in the director namespace with `--nodaemon`; its stdout is
/// collected.
struct Lvsd {
    run: Collected,
    sock: PathBuf,
    cf: PathBuf,
}

fn nanny() -> String {
    lvs_tests::bin("nanny").to_string_lossy().into_owned()
}

impl Lvsd {
    fn start(lab: &Lab, cf: &str, extra: &[&str]) -> Lvsd {
        let path = lab.path("lvs.cf");
        std::fs::write(&path, cf).unwrap();
        let sock = lab.path("lvsd.sock");
        let run = Collected::spawn(
            lab.d
                .command(env!("CARGO_BIN_EXE_lvsd"))
                .args(["--nodaemon", "-c"])
                .arg(&path)
                .arg("--status-socket")
                .arg(&sock)
                .args(extra),
        );
        Lvsd {
            run,
            sock,
            cf: path,
        }
    }

    fn lines(&self) -> Vec<String> {
        self.run.lines()
    }

    fn has(&self, line: &str) -> bool {
        self.lines().iter().any(|l| l == line)
    }

    /// Waits for a line starting with `prefix` after line `from`; returns
    /// its index.
    fn wait_line(&self, from: usize, prefix: &str) -> usize {
        self.run
            .wait_line(from, prefix, |l| l.starts_with(prefix), PATIENCE)
    }

    fn signal(&self, sig: i32) {
        self.run.signal(sig);
    }

    /// Rewrites lvs.cf, sends SIGHUP and waits for the reload to finish;
    /// returns lvsd's own log lines of the reload (not the nannies').
    fn reload(&self, cf: &str) -> Vec<String> {
        std::fs::write(&self.cf, cf).unwrap();
        let from = self.lines().len();
        self.signal(libc::SIGHUP);
        let i = self.wait_line(from, "lvs: configuration reloaded: ");
        own(&self.lines()[from..=i])
    }

    fn status(&self) -> serde_json::Value {
        let o = Command::new(env!("CARGO_BIN_EXE_lvsd"))
            .args(["--status", "--json", "--status-socket"])
            .arg(&self.sock)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// lvsd's `stats` answer (the kernel table with its counters).
    fn stats(&self) -> serde_json::Value {
        let answer = lvs_util::status_socket::query(self.sock.to_str().unwrap(), "stats", PATIENCE)
            .unwrap_or_else(|e| panic!("stats: {e}"));
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("stats: {e}: {answer}"))
    }

    /// The status entry of server `rs` of virtual server `vs`.
    fn real(&self, vs: &str, rs: &str) -> serde_json::Value {
        let st = self.status();
        let v = st["virtuals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == vs)
            .unwrap_or_else(|| panic!("no {vs} in {st}"))
            .clone();
        v["reals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == rs)
            .unwrap_or_else(|| panic!("no {rs} in {v}"))
            .clone()
    }

    fn wait_exit(&mut self) -> i32 {
        self.run.wait_exit(PATIENCE)
    }

    fn stop(&mut self) -> i32 {
        self.signal(libc::SIGTERM);
        self.wait_exit()
    }
}

fn server_block(name: &str, host: u8, extra: &str) -> String {
    format!(
        "  server {name} {{\n    address = 10.70.1.{host}\n    active = 1\n    weight = 1\n{extra}  }}\n"
    )
}

/// A virtual block checked every second, re-entry after two checks.
fn virtual_block(name: &str, head: &str, servers: &str) -> String {
    format!(
        "virtual {name} {{\n  active = 1\n{head}  timeout = 1\n  reentry = 2\n  client_monitor = {}\n{servers}}}\n",
        nanny()
    )
}

fn global(hard_shutdown: u8) -> String {
    format!("ipvsadm = /usr/sbin/ipvsadm\nnetwork = nat\nhard_shutdown = {hard_shutdown}\n")
}

#[test]
fn vm_startup_table_health_and_shutdown() {
    if !ready("vm_startup_table_health_and_shutdown") {
        return;
    }
    let lab = Lab::new("lvA");
    let _s2 = Server::tcp(&lab, "10.70.1.2:80");
    let mut s3 = Server::tcp(&lab, "10.70.1.3:80");
    let _u2 = Server::udp(&lab, "10.70.1.2:5353");
    // a service lvsd does not know: the default start-up clears the table
    lab.ipvsadm(&["-A", "-t", "10.70.0.200:1", "-s", "rr"]);
    let cf = global(1)
        + &virtual_block(
            "web",
            "  address = 10.70.0.100 eth0:1\n  port = 80\n  persistent = 300\n  pmask = 255.255.255.0\n",
            &(server_block("rs2", 2, "")
                + &server_block("rs3", 3, "")
                + "  server rs4 {\n    address = 10.70.1.4\n    active = 0\n  }\n"),
        )
        + &virtual_block(
            "mark",
            "  address = 10.70.0.100 eth0:1\n  fwmark = 5\n  port = 80\n  scheduler = rr\n",
            &server_block("rs2", 2, ""),
        )
        + &virtual_block(
            "dns",
            "  address = 10.70.0.101 eth0:2\n  protocol = udp\n  port = 53\n  scheduler = rr\n  send = \"ping\"\n  expect = \"pong\"\n",
            &server_block("ns2", 2, "    port = 5353\n"),
        );
    let mut lvsd = Lvsd::start(&lab, &cf, &[]);
    lab.wait_table(
        &[
            "-A -t 10.70.0.100:80 -s wlc -p 300 -M 255.255.255.0",
            "-a -t 10.70.0.100:80 -r 10.70.1.2:80 -m -w 1",
            "-a -t 10.70.0.100:80 -r 10.70.1.3:80 -m -w 1",
            "-A -f 5 -s rr",
            "-a -f 5 -r 10.70.1.2:80 -m -w 1",
            "-A -u 10.70.0.101:53 -s rr",
            "-a -u 10.70.0.101:53 -r 10.70.1.2:5353 -m -w 1",
        ],
        &lvsd,
    );
    let lines = lvsd.lines();
    assert_eq!(lines[0], "lvs: starting virtual service web active: 80");
    assert!(lines[1].starts_with("lvs: create_monitor for web/rs2 running as pid "));
    assert!(lines[2].starts_with("lvs: create_monitor for web/rs3 running as pid "));
    assert_eq!(lines[3], "lvs: starting virtual service mark active: 80");
    // nanny's own lines come through (lvsd and its nannies run --nodaemon)
    assert!(lvsd.has("nanny: [ active ] making 10.70.1.3:80 available"));
    let rs3 = lvsd.real("web", "rs3");
    assert_eq!(rs3["health"], "up");
    // nanny reports the raw result before the changes it causes
    assert_eq!(rs3["last_result"], "pass");
    assert_eq!(rs3["monitor"], "running");
    assert_eq!(rs3["weight"], 1);
    assert!(rs3["pid"].as_u64().unwrap() > 1);
    assert_eq!(lvsd.real("web", "rs4")["monitor"], "inactive");

    // a real server that stops answering leaves the table...
    s3.stop();
    lab.wait_table(
        &[
            "-A -t 10.70.0.100:80 -s wlc -p 300 -M 255.255.255.0",
            "-a -t 10.70.0.100:80 -r 10.70.1.2:80 -m -w 1",
            "-A -f 5 -s rr",
            "-a -f 5 -r 10.70.1.2:80 -m -w 1",
            "-A -u 10.70.0.101:53 -s rr",
            "-a -u 10.70.0.101:53 -r 10.70.1.2:5353 -m -w 1",
        ],
        &lvsd,
    );
    assert!(lvsd.has("nanny: [inactive] shutting down 10.70.1.3:80 due to connection failure"));
    let rs3 = lvsd.real("web", "rs3");
    assert_eq!(
        (&rs3["health"], &rs3["last_result"]),
        (&"down".into(), &"fail".into())
    );
    // every failed check is counted (one per second while it is down)
    assert!(rs3["check_failures"].as_u64().unwrap() >= 1, "{rs3}");
    assert_eq!(lvsd.real("web", "rs2")["check_failures"], 0);
    // ...and comes back after re-entry
    let _s3 = Server::tcp(&lab, "10.70.1.3:80");
    lab.wait_table(
        &[
            "-A -t 10.70.0.100:80 -s wlc -p 300 -M 255.255.255.0",
            "-a -t 10.70.0.100:80 -r 10.70.1.2:80 -m -w 1",
            "-a -t 10.70.0.100:80 -r 10.70.1.3:80 -m -w 1",
            "-A -f 5 -s rr",
            "-a -f 5 -r 10.70.1.2:80 -m -w 1",
            "-A -u 10.70.0.101:53 -s rr",
            "-a -u 10.70.0.101:53 -r 10.70.1.2:5353 -m -w 1",
        ],
        &lvsd,
    );

    // the failures stay counted once the server is back
    let failed = lvsd.real("web", "rs3")["check_failures"].as_u64().unwrap();
    assert!(failed >= 1);

    // `stats`: the kernel table with its counters, as ipvsadm reads them,
    // each service tagged with its virtual block
    for _ in 0..5 {
        lab.connect("10.70.0.100", 80);
    }
    let st = lvsd.stats();
    assert_eq!(
        (&st["version"], &st["error"]),
        (&1.into(), &serde_json::Value::Null)
    );
    let tags: BTreeMap<String, String> = st["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                format!(
                    "{} {} {} {}",
                    s["proto"], s["address"], s["port"], s["fwmark"]
                ),
                s["virtual_name"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    assert_eq!(
        tags,
        BTreeMap::from([
            ("\"FWM\" \"\" 0 5".to_string(), "mark".to_string()),
            (
                "\"TCP\" \"10.70.0.100\" 80 0".to_string(),
                "web".to_string()
            ),
            (
                "\"UDP\" \"10.70.0.101\" 53 0".to_string(),
                "dns".to_string()
            ),
        ])
    );
    let web = st["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["virtual_name"] == "web")
        .unwrap();
    let mut dests: Vec<(String, u64)> = web["dests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                format!("{}:{}", d["address"].as_str().unwrap(), d["port"]),
                d["weight"].as_u64().unwrap(),
            )
        })
        .collect();
    dests.sort();
    assert_eq!(
        dests,
        [
            ("10.70.1.2:80".to_string(), 1),
            ("10.70.1.3:80".to_string(), 1)
        ]
    );
    // The counters move on the kernel's 2 s estimator tick: compare with
    // ipvsadm once the connections show and two ipvsadm readings around
    // lvsd's agree.
    let key = ("TCP 10.70.0.100:80".to_string(), String::new());
    let end = Instant::now() + PATIENCE;
    loop {
        let before = lab.exact_counters();
        let ours = stats_counters(&lvsd.stats());
        let after = lab.exact_counters();
        if before == after && before.get(&key).is_some_and(|c| c[0] >= 5) {
            assert_eq!(
                ours, before,
                "lvsd's stats against ipvsadm -Ln --stats --exact"
            );
            break;
        }
        assert!(
            Instant::now() < end,
            "the counters never settled: {before:?} {after:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    let from = lvsd.lines().len();
    assert_eq!(lvsd.stop(), 0);
    let end: Vec<String> = lvsd.lines()[from..]
        .iter()
        .filter(|l| l.starts_with("lvs: "))
        .cloned()
        .collect();
    assert_eq!(
        end,
        [
            "lvs: shutting down due to signal 15",
            "lvs: shutting down virtual service web",
            "lvs: shutting down virtual service mark",
            "lvs: shutting down virtual service dns",
        ]
    );
    assert_eq!(lab.table(), Vec::<String>::new());
    assert!(lab.d.pids().is_empty(), "nannies left behind");
}

#[test]
fn vm_quiesce_and_owned_only() {
    if !ready("vm_quiesce_and_owned_only") {
        return;
    }
    let lab = Lab::new("lvB");
    let _s2 = Server::tcp(&lab, "10.70.1.2:80");
    let mut s3 = Server::tcp(&lab, "10.70.1.3:80");
    // a foreign service, and a stale one with lvs.cf's key
    lab.ipvsadm(&["-A", "-t", "10.70.0.200:1", "-s", "rr"]);
    lab.ipvsadm(&[
        "-a",
        "-t",
        "10.70.0.200:1",
        "-r",
        "10.70.1.5:1",
        "-m",
        "-w",
        "3",
    ]);
    lab.ipvsadm(&["-A", "-t", "10.70.0.100:80", "-s", "sh"]);
    lab.ipvsadm(&["-a", "-t", "10.70.0.100:80", "-r", "10.70.1.4:80", "-m"]);
    let cf = global(1)
        + &virtual_block(
            "web",
            "  address = 10.70.0.100 eth0:1\n  port = 80\n  quiesce_server = 1\n",
            &(server_block("rs2", 2, "") + &server_block("rs3", 3, "")),
        );
    let foreign = [
        "-A -t 10.70.0.200:1 -s rr",
        "-a -t 10.70.0.200:1 -r 10.70.1.5:1 -m -w 3",
    ];
    let with = |rs3: u8| -> Vec<String> {
        let mut v: Vec<String> = foreign.iter().map(|s| s.to_string()).collect();
        v.push("-A -t 10.70.0.100:80 -s wlc".into());
        v.push("-a -t 10.70.0.100:80 -r 10.70.1.2:80 -m -w 1".into());
        v.push(format!("-a -t 10.70.0.100:80 -r 10.70.1.3:80 -m -w {rs3}"));
        v
    };
    let refs = |v: &[String]| v.iter().map(String::as_str).collect::<Vec<_>>().join("\n");
    let mut lvsd = Lvsd::start(&lab, &cf, &["--owned-only"]);
    lab.wait_table(&[&refs(&with(1))], &lvsd);
    // quiesce: a failed server stays with weight 0, and gets its weight back
    s3.stop();
    lab.wait_table(&[&refs(&with(0))], &lvsd);
    let _s3 = Server::tcp(&lab, "10.70.1.3:80");
    lab.wait_table(&[&refs(&with(1))], &lvsd);
    assert_eq!(lvsd.stop(), 0);
    lab.wait_table(&foreign, &lvsd);
}

#[test]
fn vm_reload_scenarios() {
    if !ready("vm_reload_scenarios") {
        return;
    }
    let lab = Lab::new("lvC");
    let _servers: Vec<Server> = (2..=5)
        .map(|h| Server::tcp(&lab, &format!("10.70.1.{h}:80")))
        .collect();
    let web = |sched: &str, extra: &str, servers: &str| {
        virtual_block(
            "web",
            &format!("  address = 10.70.0.100 eth0:1\n  port = 80\n  scheduler = {sched}\n{extra}"),
            servers,
        )
    };
    let api = |servers: &str| {
        virtual_block(
            "api",
            "  address = 10.70.0.100 eth0:1\n  port = 8080\n  scheduler = rr\n",
            servers,
        )
    };
    let rs = |name: &str, host: u8| server_block(name, host, "");
    let rs_w = |name: &str, host: u8, w: u8| {
        format!(
            "  server {name} {{\n    address = 10.70.1.{host}\n    active = 1\n    weight = {w}\n  }}\n"
        )
    };
    let api_rs = |name: &str, host: u8| server_block(name, host, "    port = 80\n");

    let c0 = global(1) + &web("wlc", "", &(rs("rs2", 2) + &rs("rs3", 3))) + &api(&api_rs("a2", 2));
    let mut lvsd = Lvsd::start(&lab, &c0, &[]);
    let t0 = [
        "-A -t 10.70.0.100:80 -s wlc",
        "-a -t 10.70.0.100:80 -r 10.70.1.2:80 -m -w 1",
        "-a -t 10.70.0.100:80 -r 10.70.1.3:80 -m -w 1",
        "-A -t 10.70.0.100:8080 -s rr",
        "-a -t 10.70.0.100:8080 -r 10.70.1.2:80 -m -w 1",
    ];
    lab.wait_table(&t0, &lvsd);
    // traffic, so that the destinations have counters to keep
    for _ in 0..4 {
        lab.connect("10.70.0.100", 80);
    }
    lab.connect("10.70.0.100", 8080);
    let key = |s: &str, d: &str| (s.to_string(), d.to_string());
    let web_rs2 = key("TCP 10.70.0.100:80", "10.70.1.2:80");
    let web_rs3 = key("TCP 10.70.0.100:80", "10.70.1.3:80");
    let api_a2 = key("TCP 10.70.0.100:8080", "10.70.1.2:80");
    // the kernel folds per-CPU counters into what it lists every 2 s
    let end = Instant::now() + PATIENCE;
    let before = loop {
        let c = lab.conns();
        if c[&web_rs2] + c[&web_rs3] == 4 && c[&api_a2] == 1 {
            break c;
        }
        assert!(Instant::now() < end, "counters {c:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(before[&web_rs2] > 0, "{before:?}");

    // add a real server
    let c1 = global(1)
        + &web("wlc", "", &(rs("rs2", 2) + &rs("rs3", 3) + &rs("rs4", 4)))
        + &api(&api_rs("a2", 2));
    let log = lvsd.reload(&c1);
    assert!(
        log.iter()
            .any(|l| l.starts_with("lvs: create_monitor for web/rs4 running as pid "))
    );
    assert!(log.last().unwrap().starts_with(
        "lvs: configuration reloaded: 0 IPVS changes, 1 nannies started, 0 stopped ("
    ));
    let mut t1 = t0.to_vec();
    t1.insert(3, "-a -t 10.70.0.100:80 -r 10.70.1.4:80 -m -w 1");
    lab.wait_table(&t1, &lvsd);

    // remove a real server: only that destination goes
    let c2 = global(1) + &web("wlc", "", &(rs("rs2", 2) + &rs("rs4", 4))) + &api(&api_rs("a2", 2));
    let log = lvsd.reload(&c2);
    assert!(log.last().unwrap().starts_with(
        "lvs: configuration reloaded: 1 IPVS changes, 0 nannies started, 1 stopped ("
    ));
    let t2 = [
        "-A -t 10.70.0.100:80 -s wlc",
        "-a -t 10.70.0.100:80 -r 10.70.1.2:80 -m -w 1",
        "-a -t 10.70.0.100:80 -r 10.70.1.4:80 -m -w 1",
        "-A -t 10.70.0.100:8080 -s rr",
        "-a -t 10.70.0.100:8080 -r 10.70.1.2:80 -m -w 1",
    ];
    lab.wait_table(&t2, &lvsd);

    // change the scheduler: SET_SERVICE, nothing else
    let c3 = global(1) + &web("rr", "", &(rs("rs2", 2) + &rs("rs4", 4))) + &api(&api_rs("a2", 2));
    let log = lvsd.reload(&c3);
    assert!(log.last().unwrap().starts_with(
        "lvs: configuration reloaded: 1 IPVS changes, 0 nannies started, 0 stopped ("
    ));
    let mut t3 = t2.to_vec();
    t3[0] = "-A -t 10.70.0.100:80 -s rr";
    lab.wait_table(&t3, &lvsd);

    // change a weight: SET_DEST at once; the restarted nanny resumes at it
    let c4 =
        global(1) + &web("rr", "", &(rs_w("rs2", 2, 4) + &rs("rs4", 4))) + &api(&api_rs("a2", 2));
    let log = lvsd.reload(&c4);
    assert!(log.last().unwrap().starts_with(
        "lvs: configuration reloaded: 1 IPVS changes, 1 nannies started, 1 stopped ("
    ));
    let mut t4 = t3.to_vec();
    t4[1] = "-a -t 10.70.0.100:80 -r 10.70.1.2:80 -m -w 4";
    lab.wait_table(&t4, &lvsd);
    std::thread::sleep(Duration::from_secs(3));
    lab.wait_table(&t4, &lvsd);
    assert_eq!(lvsd.real("web", "rs2")["health"], "up");

    // persistence
    let c5 = global(1)
        + &web(
            "rr",
            "  persistent = 120\n",
            &(rs_w("rs2", 2, 4) + &rs("rs4", 4)),
        )
        + &api(&api_rs("a2", 2));
    lvsd.reload(&c5);
    let mut t5 = t4.to_vec();
    t5[0] = "-A -t 10.70.0.100:80 -s rr -p 120";
    lab.wait_table(&t5, &lvsd);

    // add a virtual server, remove another
    let extra = virtual_block(
        "extra",
        "  address = 10.70.0.102 eth0:3\n  port = 80\n  scheduler = lc\n",
        &rs("e5", 5),
    );
    let c6 = global(1)
        + &web(
            "rr",
            "  persistent = 120\n",
            &(rs_w("rs2", 2, 4) + &rs("rs4", 4)),
        )
        + &extra;
    let log = lvsd.reload(&c6);
    assert!(log.contains(&"lvs: shutting down virtual service api".to_string()));
    assert!(log.contains(&"lvs: starting virtual service extra active: 80".to_string()));
    let t6 = [
        "-A -t 10.70.0.100:80 -s rr -p 120",
        "-a -t 10.70.0.100:80 -r 10.70.1.2:80 -m -w 4",
        "-a -t 10.70.0.100:80 -r 10.70.1.4:80 -m -w 1",
        "-A -t 10.70.0.102:80 -s lc",
        "-a -t 10.70.0.102:80 -r 10.70.1.5:80 -m -w 1",
    ];
    lab.wait_table(&t6, &lvsd);

    // reorder blocks and servers: nothing at all happens
    let c7 = global(1)
        + &extra
        + &web(
            "rr",
            "  persistent = 120\n",
            &(rs("rs4", 4) + &rs_w("rs2", 2, 4)),
        );
    let log = lvsd.reload(&c7);
    assert_eq!(
        log,
        [
            "lvs: rereading configuration file".to_string(),
            log.last().unwrap().clone()
        ]
    );
    assert!(log[1].starts_with(
        "lvs: configuration reloaded: 0 IPVS changes, 0 nannies started, 0 stopped ("
    ));

    // a bad file is refused and the table stays
    let bad = c7.replace("scheduler = lc", "scheduler = fastest");
    std::fs::write(&lvsd.cf, &bad).unwrap();
    let from = lvsd.lines().len();
    lvsd.signal(libc::SIGHUP);
    let i = lvsd.wait_line(from, "lvs: reload refused: ");
    let lines = own(&lvsd.lines()[from..=i]);
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert_eq!(lines[0], "lvs: rereading configuration file");
    assert_eq!(
        lines[1],
        format!("lvs: lvs: error parsing {} on line 8.", lvsd.cf.display())
    );
    assert_eq!(lines[2], "", "the original message ends with a newline");
    assert!(
        lines[3].ends_with("; keeping the running configuration"),
        "{}",
        lines[3]
    );
    std::thread::sleep(Duration::from_secs(2));
    lab.wait_table(&t6, &lvsd);

    // the destination that was never touched kept its identity: its
    // connection counter survived every reload
    let after = lab.conns();
    assert_eq!(after[&web_rs2], before[&web_rs2], "{before:?} {after:?}");
    assert_eq!(lvsd.stop(), 0);
}

#[test]
fn vm_nanny_killed_with_hard_shutdown_0_and_1() {
    if !ready("vm_nanny_killed_with_hard_shutdown_0_and_1") {
        return;
    }
    let lab = Lab::new("lvD");
    let _s2 = Server::tcp(&lab, "10.70.1.2:80");
    let _s3 = Server::tcp(&lab, "10.70.1.3:80");
    let table = [
        "-A -t 10.70.0.100:80 -s wlc",
        "-a -t 10.70.0.100:80 -r 10.70.1.2:80 -m -w 1",
        "-a -t 10.70.0.100:80 -r 10.70.1.3:80 -m -w 1",
    ];
    let cf = |hs: u8| {
        global(hs)
            + &virtual_block(
                "web",
                "  address = 10.70.0.100 eth0:1\n  port = 80\n",
                &(server_block("rs2", 2, "") + &server_block("rs3", 3, "")),
            )
    };
    let kill9 = |lvsd: &Lvsd| {
        let pid = lvsd.real("web", "rs2")["pid"].as_u64().expect("nanny pid") as i32;
        // SAFETY: kill -9 of the nanny this test started (through lvsd).
        unsafe { libc::kill(pid, libc::SIGKILL) };
    };

    // hard_shutdown = 0: the server is left unmonitored, lvsd carries on
    let mut lvsd = Lvsd::start(&lab, &cf(0), &[]);
    lab.wait_table(&table, &lvsd);
    kill9(&lvsd);
    lvsd.wait_line(
        0,
        "lvs: nanny for child web/rs2 died! manual action needed!",
    );
    assert!(
        lvsd.run.child.try_wait().unwrap().is_none(),
        "lvsd must keep running"
    );
    assert_eq!(lvsd.real("web", "rs2")["monitor"], "dead");
    std::thread::sleep(Duration::from_secs(2));
    lab.wait_table(&table, &lvsd);
    assert_eq!(lvsd.stop(), 0);
    assert_eq!(lab.table(), Vec::<String>::new());

    // hard_shutdown = 1: all of LVS goes down, exit 0
    let mut lvsd = Lvsd::start(&lab, &cf(1), &[]);
    lab.wait_table(&table, &lvsd);
    kill9(&lvsd);
    assert_eq!(lvsd.wait_exit(), 0);
    let lines: Vec<String> = lvsd
        .lines()
        .into_iter()
        .filter(|l| {
            l.starts_with("lvs: ")
                && !l.starts_with("lvs: create_monitor")
                && !l.starts_with("lvs: starting")
        })
        .collect();
    assert_eq!(
        lines,
        [
            "lvs: nanny for child web/rs2 died! shutting down lvs",
            "lvs: shutting down virtual service web",
        ]
    );
    assert_eq!(lab.table(), Vec::<String>::new());
    assert!(lab.d.pids().is_empty(), "nannies left behind");
}

#[test]
fn vm_sorry_server_comes_in_and_goes_out() {
    if !ready("vm_sorry_server_comes_in_and_goes_out") {
        return;
    }
    let lab = Lab::new("lvE");
    let mut s2 = Server::tcp(&lab, "10.70.1.2:80");
    let cf = global(1)
        + &virtual_block(
            "web",
            "  address = 10.70.0.100 eth0:1\n  port = 80\n  sorry_server = 10.70.1.9\n",
            &server_block("rs2", 2, ""),
        );
    let normal = [
        "-A -t 10.70.0.100:80 -s wlc",
        "-a -t 10.70.0.100:80 -r 10.70.1.2:80 -m -w 1",
    ];
    let sorry = [
        "-A -t 10.70.0.100:80 -s wlc",
        "-a -t 10.70.0.100:80 -r 10.70.1.9:80 -m -w 1",
    ];
    let mut lvsd = Lvsd::start(&lab, &cf, &[]);
    lab.wait_table(&normal, &lvsd);
    std::thread::sleep(Duration::from_secs(2));
    // no sorry-server flash at start-up
    assert!(
        !lvsd.lines().iter().any(|l| l.contains("sorry_server")),
        "{:#?}",
        lvsd.lines()
    );
    s2.stop();
    lab.wait_table(&sorry, &lvsd);
    lvsd.wait_line(
        0,
        "Virtual Server web: No real servers; activate sorry_server 10.70.1.9",
    );
    let _s2 = Server::tcp(&lab, "10.70.1.2:80");
    lab.wait_table(&normal, &lvsd);
    lvsd.wait_line(
        0,
        "Virtual Server web: 1 real servers; deactivate sorry_server 10.70.1.9",
    );
    // a reload of the same file keeps all of it (no flash either)
    let log = lvsd.reload(&cf);
    assert!(log.last().unwrap().starts_with(
        "lvs: configuration reloaded: 0 IPVS changes, 0 nannies started, 0 stopped ("
    ));
    assert_eq!(lvsd.stop(), 0);
    assert_eq!(lab.table(), Vec::<String>::new());
}
