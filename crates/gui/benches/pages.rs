//! `cargo bench -p piranha-gui`: the web tool with a large lvs.cf.
//!
//! Generates an lvs.cf with V virtual servers x R real servers (default
//! 2,000 x 10), a password file written by the release `piranha-passwd`
//! (bcrypt), stand-in pulse and lvsd status sockets whose documents describe
//! the same table (lvsd's `text`, `json` and `stats` for V x R real servers,
//! built from `piranha_status`'s types) and a fixture procfs with
//! `/proc/net/ip_vs`; starts the release `piranha_gui` on a loopback port
//! with `PIRANHA_GUI_SAMPLE_MS=20`, so that its chart sampler takes an
//! hour of samples (121, dated 30 s apart) in seconds, and waits until
//! CHARTS shows the full hour. Then, over HTTP with Basic authentication,
//! one connection per request, it times N requests of each page after one
//! warm-up (median, min, max, to the last byte): VIRTUAL SERVERS, VIRTUAL
//! SERVER and REAL SERVER of one server, CHARTS (a page of virtual
//! services, and the real servers of one), N saves of a changed weight
//! (POST `/server/edit` with the CSRF token: lvscf's checks, history,
//! atomic write), CONTROL/MONITORING, its live update
//! (`/control?fragment=1`) and a filtered one (`?q=`). After each step it
//! reads the server's peak resident memory (`VmHWM`). In the same run the
//! same is measured with V / 10 virtual servers (a fresh server), so the
//! scaling shows. The original PHP tool (Apache + mod_php) cannot run
//! here, so there is no baseline from it.
//!
//! Without `--bench` (`cargo test --benches`) it runs a tiny table as a
//! smoke test. `LVS_BENCH_VIRTUALS`, `LVS_BENCH_REALS`, `LVS_BENCH_REQUESTS`
//! change the sizes.

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use piranha_status::{lvsd, pulse};

const PASSWORD: &str = "bench-pass-1";

const PAGE_TARGET: Duration = Duration::from_millis(200);
const SAVE_TARGET: Duration = Duration::from_millis(300);
const RSS_TARGET_KIB: u64 = 30 * 1024;
/// Points of a virtual service's chart (an hour), as
/// `piranha_gui::charts::KEEP`.
const KEEP: usize = piranha_gui::charts::KEEP;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// V virtual servers `webV` (172.16.V/250.V%250:80, direct routing) with R
/// real servers `rsV_R` (10.V/250.V%250.R) each.
struct Table {
    virtuals: usize,
    reals: usize,
}

impl Table {
    fn vip(&self, v: usize) -> Ipv4Addr {
        Ipv4Addr::new(172, 16, (v / 250) as u8, (v % 250) as u8)
    }

    fn rip(&self, v: usize, r: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, (v / 250) as u8, (v % 250) as u8, r as u8)
    }

    /// lvs.cf as an admin would keep it (the layout of lvscf's benchmark).
    fn lvs_cf(&self) -> String {
        let mut t = String::from(
            "serial_no = 1\nprimary = 10.0.0.1\nservice = lvs\nbackup_active = 1\nbackup = 10.0.0.2\n\
             heartbeat = 1\nheartbeat_port = 539\nkeepalive = 2\ndeadtime = 10\nnetwork = direct\n",
        );
        for v in 0..self.virtuals {
            let _ = write!(
                t,
                "\nvirtual web{v} {{\n     active = 1\n     address = {} eth0:{v}\n     \
                 vip_nmask = 255.255.255.255\n     port = 80\n     persistent = 300\n     \
                 pmask = 255.255.255.0\n     send = \"GET / HTTP/1.0\\r\\n\\r\\n\"\n     \
                 expect = \"HTTP\"\n     load_monitor = none\n     scheduler = wlc\n     \
                 protocol = tcp\n     timeout = 6\n     reentry = 15\n     quiesce_server = 0\n",
                self.vip(v)
            );
            for r in 0..self.reals {
                let _ = write!(
                    t,
                    "     server rs{v}_{r} {{\n         address = {}\n         \
                     active = 1\n         weight = {}\n     }}\n",
                    self.rip(v, r),
                    r + 1
                );
            }
            t.push_str("}\n");
        }
        t
    }

    /// `/proc/net/ip_vs` as the kernel prints it.
    fn ip_vs(&self) -> String {
        let mut s = String::from(
            "IP Virtual Server version 1.2.1 (size=4096)\n\
             Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n",
        );
        for v in 0..self.virtuals {
            let _ = writeln!(
                s,
                "TCP  {:08X}:0050 wlc persistent 300 mask 255.255.255.0",
                u32::from(self.vip(v))
            );
            for r in 0..self.reals {
                let _ = writeln!(
                    s,
                    "  -> {:08X}:0050      Route   {:<6} {:<10} {:<10}",
                    u32::from(self.rip(v, r)),
                    r + 1,
                    v % 7,
                    r
                );
            }
        }
        s
    }

    /// lvsd's `json` answer: every real server up but the second of each
    /// virtual server.
    fn lvsd_json(&self) -> lvsd::Status {
        lvsd::Status {
            version: 1,
            time: 1764086461.2,
            pid: 1235,
            config: lvsd::Config {
                file: "/etc/sysconfig/ha/lvs.cf".into(),
                serial_no: Some(1),
                sha256: "ab".repeat(32),
            },
            reloads: lvsd::Reloads {
                total: 3,
                refused: 1,
                last_duration_seconds: Some(0.02),
                duration_seconds: lvsd::Histogram {
                    buckets: vec![(0.01, 1), (0.1, 3), (1.0, 3)],
                    sum: 0.05,
                    count: 3,
                },
            },
            virtuals: (0..self.virtuals)
                .map(|v| lvsd::VsStatus {
                    name: format!("web{v}"),
                    service: format!("TCP {}:80", self.vip(v)),
                    state: lvsd::Phase::Up,
                    scheduler: "wlc".into(),
                    persistent: Some(300),
                    reals: (0..self.reals)
                        .map(|r| lvsd::RsStatus {
                            name: format!("rs{v}_{r}"),
                            address: format!("{}:80", self.rip(v, r)),
                            monitor: "running".into(),
                            pid: Some(2000 + (v * self.reals + r) as u32),
                            health: if r == 1 { "down" } else { "up" }.into(),
                            weight: if r == 1 { None } else { Some(r as u32 + 1) },
                            configured_weight: r as i32 + 1,
                            last_result: Some(if r == 1 { "fail" } else { "pass" }.into()),
                            last_result_since: Some(1764086400.0),
                            last_change_at: Some(1764086000.0 + v as f64),
                            check_failures: r as u64 * 3,
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    /// lvsd's `stats` answer; every request sees the counters grown.
    fn lvsd_stats(&self, n: u64) -> lvsd::TableStats {
        let c = |x: u64| lvsd::Counters {
            conns: x,
            inpkts: x * 10,
            outpkts: x * 9,
            inbytes: x * 1000,
            outbytes: x * 5000,
        };
        lvsd::TableStats {
            version: 1,
            time: 1764086461.2 + n as f64,
            error: None,
            services: (0..self.virtuals)
                .map(|v| lvsd::ServiceStats {
                    proto: "TCP".into(),
                    address: self.vip(v).to_string(),
                    port: 80,
                    fwmark: 0,
                    virtual_name: Some(format!("web{v}")),
                    stats: c(1_000_000 + v as u64 + 100 * n),
                    dests: (0..self.reals)
                        .filter(|&r| r != 1)
                        .map(|r| lvsd::DestStats {
                            address: self.rip(v, r).to_string(),
                            port: 80,
                            weight: r as u32 + 1,
                            active_conns: (v % 7) as u32,
                            inactive_conns: r as u32,
                            stats: c(100 * v as u64 + r as u64 + 10 * n),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// lvsd's `text` answer, laid out as lvsd's `status::text` does.
    fn lvsd_text(&self, s: &lvsd::Status) -> String {
        let mut out = format!(
            "lvsd pid {}, config {} serial_no 1 sha256 {}, reloads 3 applied, 1 refused, last took 20 ms\n",
            s.pid,
            s.config.file,
            &s.config.sha256[..12]
        );
        for v in &s.virtuals {
            let _ = writeln!(
                out,
                "virtual {}: {} up, scheduler {}, persistent 300 s",
                v.name, v.service, v.scheduler
            );
            let _ = writeln!(
                out,
                "  {:<9}  {:<16}  {:<7}  {:<5}  {:<6}  {:<6}  {:<8}  {:<18}  LAST CHANGE",
                "SERVER",
                "ADDRESS",
                "MONITOR",
                "PID",
                "HEALTH",
                "WEIGHT",
                "FAILURES",
                "LAST RESULT"
            );
            for r in &v.reals {
                let _ = writeln!(
                    out,
                    "  {:<9}  {:<16}  {:<7}  {:<5}  {:<6}  {:<6}  {:<8}  {:<18}  17 h ago",
                    r.name,
                    r.address,
                    r.monitor,
                    r.pid.unwrap_or(0),
                    r.health,
                    r.weight.map_or("-".into(), |w| w.to_string()),
                    r.check_failures,
                    format!("{} since 1 min", r.last_result.as_deref().unwrap_or("-"))
                );
            }
        }
        out
    }

    /// pulse's `json` answer: active, partner alive, one VIP per virtual
    /// server, two failovers.
    fn pulse_json(&self) -> pulse::Status {
        pulse::Status {
            version: 1,
            time: 1764086461.2,
            pid: 1234,
            node: "primary".into(),
            service: "lvs".into(),
            role: "active".into(),
            role_since: 1764086400.5,
            partner: pulse::Partner {
                public: "10.0.0.2".into(),
                alive: true,
                last_heartbeat: Some(1764086460.1),
                last_heartbeat_age_seconds: Some(1.25),
                last_magic: Some("0x98b6a15e".into()),
                last_state: Some("running".into()),
                ..Default::default()
            },
            vips: (0..self.virtuals)
                .map(|v| pulse::Vip {
                    address: self.vip(v).to_string(),
                    device: format!("eth0:{v}"),
                    netmask: Some("255.255.255.255".into()),
                    held: true,
                })
                .collect(),
            daemon: pulse::Daemon {
                name: "lvsd".into(),
                pid: Some(1235),
                ..Default::default()
            },
            config: pulse::Config {
                file: "/etc/sysconfig/ha/lvs.cf".into(),
                serial_no: Some(1),
                sha256: Some("ab".repeat(32)),
                loaded_serial_no: Some(1),
                loaded_sha256: "ab".repeat(32),
            },
            history: vec![
                pulse::RoleChange {
                    time: 1764080000.0,
                    from: "standby".into(),
                    to: "active".into(),
                    reason: "partner dead".into(),
                },
                pulse::RoleChange {
                    time: 1764086400.5,
                    from: "standby".into(),
                    to: "active".into(),
                    reason: "partner dead".into(),
                },
            ],
            ..Default::default()
        }
    }
}

/// The answer to a request line, given how many requests came so far.
type Answer = Arc<dyn Fn(&str, u64) -> Arc<str> + Send + Sync>;

/// A stand-in daemon on the UNIX socket `path`: answers each request line
/// with `answer(line, requests so far)`, one thread per connection (the
/// page and the chart sampler may ask at the same time).
fn stand_in(path: &Path, answer: Answer) {
    let l = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        let mut n = 0u64;
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            n += 1;
            let answer = answer.clone();
            std::thread::spawn(move || {
                let mut line = String::new();
                if BufReader::new(&mut s).read_line(&mut line).is_err() {
                    return;
                }
                let _ = s.write_all(answer(line.trim(), n).as_bytes());
            });
        }
    });
}

/// A running piranha_gui; killed when dropped.
struct Gui {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
    /// The largest peak resident size (KiB) a save worker reported.
    worker_kib: Arc<Mutex<u64>>,
}

impl Drop for Gui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gui {
    /// Starts piranha_gui on the files in `dir`; `sample_ms` makes the
    /// chart sampler ask lvsd that often instead of every 10 s.
    fn start(dir: &Path, sample_ms: Option<u64>) -> Gui {
        let p = |n: &str| dir.join(n).to_str().unwrap().to_string();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_piranha_gui"));
        if let Some(ms) = sample_ms {
            cmd.env("PIRANHA_GUI_SAMPLE_MS", ms.to_string());
        }
        let mut child = cmd
            .args(["--nodaemon", "--listen", "127.0.0.1", "--port", "0"])
            .args(["-c", &p("lvs.cf"), "--passwd-file", &p("piranha.passwd")])
            .args(["--htaccess", &p("no.htaccess")])
            .args(["--pulse-socket", &p("pulse.sock")])
            .args(["--lvsd-socket", &p("lvsd.sock")])
            .args(["--procfs", &p("proc")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (err, log) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                let mut l = log.lock().unwrap();
                if l.len() < 64 << 10 {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        let worker_kib = Arc::new(Mutex::new(0u64));
        let peak = worker_kib.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("piranha_gui: serving ") {
                    let _ = tx.send(rest.to_string());
                }
                // each save's child (piranha_gui --save-worker) says its peak
                if let Some(kib) = line
                    .split_once("save worker's peak resident size ")
                    .and_then(|(_, r)| r.split(' ').next())
                    .and_then(|k| k.parse::<u64>().ok())
                {
                    let mut p = peak.lock().unwrap();
                    *p = (*p).max(kib);
                }
            }
        });
        let Ok(url) = rx.recv_timeout(Duration::from_secs(20)) else {
            let _ = child.kill();
            panic!(
                "piranha_gui did not start: {}",
                stderr.lock().unwrap().as_str()
            );
        };
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap();
        Gui {
            child,
            addr,
            stderr,
            worker_kib,
        }
    }

    fn status(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// One request on a new connection, read to the end: (status, head,
    /// body, bytes on the wire).
    fn request(&self, method: &str, path: &str, form: &[(&str, &str)]) -> Resp {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("piranha:{PASSWORD}"));
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Basic {auth}\r\n",
            self.addr
        );
        if method == "POST" {
            let _ = write!(
                req,
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            );
        }
        req.push_str("\r\n");
        req.push_str(&body);
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        Resp::parse(&raw)
    }
}

struct Resp {
    status: u16,
    head: String,
    body: String,
    wire: usize,
}

impl Resp {
    fn parse(raw: &[u8]) -> Resp {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a response head");
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut body = raw[split + 4..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            body = dechunk(&body);
        }
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Resp {
            status,
            head,
            body: String::from_utf8_lossy(&body).into_owned(),
            wire: raw.len(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The value of hidden input `name`.
    fn hidden(&self, name: &str) -> Option<String> {
        let key = format!("name=\"{name}\" value=\"");
        let at = self.body.find(&key)? + key.len();
        let end = self.body[at..].find('"')?;
        Some(self.body[at..at + end].to_string())
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = b.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&b[..nl])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || b.len() < nl + 2 + size {
            break;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + size]);
        b = &b[(nl + 4 + size).min(b.len())..];
    }
    out
}

/// A page to time: what, path, a text its answer has, its target.
type Page = (&'static str, String, &'static str, Option<Duration>);

/// Timings of one kind of request.
struct Timing {
    what: &'static str,
    median: Duration,
    min: Duration,
    max: Duration,
    bytes: usize,
    target: Option<Duration>,
    /// The server's peak resident size (KiB) after this step.
    hwm_kib: u64,
}

fn timing(
    what: &'static str,
    mut t: Vec<Duration>,
    bytes: usize,
    target: Option<Duration>,
    hwm_kib: u64,
) -> Timing {
    t.sort();
    Timing {
        what,
        median: t[t.len() / 2],
        min: t[0],
        max: t[t.len() - 1],
        bytes,
        target,
        hwm_kib,
    }
}

/// What one size gave.
struct Run {
    virtuals: usize,
    reals: usize,
    timings: Vec<Timing>,
    hwm_kib: u64,
    rss_kib: u64,
    /// The save worker's largest peak (KiB).
    worker_kib: u64,
    /// How long the hour of chart samples took, and the peak and
    /// resident sizes (KiB) with it, before any page.
    hour: (Duration, u64, u64),
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// Runs the server on a V x R table and measures it.
fn run(table: &Table, requests: usize) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cf = table.lvs_cf();
    std::fs::write(d.join("lvs.cf"), &cf).unwrap();
    // the password file as an admin makes it (bcrypt)
    let st = Command::new(env!("CARGO_BIN_EXE_piranha-passwd"))
        .arg("--file")
        .arg(d.join("piranha.passwd"))
        .arg(PASSWORD)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "piranha-passwd: {st:?}");
    std::fs::create_dir_all(d.join("proc/net")).unwrap();
    let ip_vs = table.ip_vs();
    std::fs::write(d.join("proc/net/ip_vs"), &ip_vs).unwrap();
    let status = table.lvsd_json();
    let text: Arc<str> = table.lvsd_text(&status).into();
    let json: Arc<str> = serde_json::to_string_pretty(&status).unwrap().into();
    drop(status);
    // stats documents for a few request counts, reused in turn (counters grow)
    let stats: Arc<Vec<Arc<str>>> = Arc::new(
        (0..4)
            .map(|n| serde_json::to_string(&table.lvsd_stats(n)).unwrap().into())
            .collect(),
    );
    let pulse_doc: Arc<str> = serde_json::to_string_pretty(&table.pulse_json())
        .unwrap()
        .into();
    println!(
        "  fixture: lvs.cf {:.1} MB ({} lines), /proc/net/ip_vs {:.1} MB, lvsd text {:.1} MB, json {:.1} MB, stats {:.1} MB, pulse json {:.2} MB",
        cf.len() as f64 / 1e6,
        cf.lines().count(),
        ip_vs.len() as f64 / 1e6,
        text.len() as f64 / 1e6,
        json.len() as f64 / 1e6,
        stats[0].len() as f64 / 1e6,
        pulse_doc.len() as f64 / 1e6
    );
    drop((cf, ip_vs));
    stand_in(
        &d.join("pulse.sock"),
        Arc::new(move |req: &str, _| {
            if req == "json" {
                pulse_doc.clone()
            } else {
                "".into()
            }
        }),
    );
    let empty: Arc<str> = "".into();
    stand_in(
        &d.join("lvsd.sock"),
        Arc::new(move |req: &str, n| match req {
            "text" | "" => text.clone(),
            "json" => json.clone(),
            "stats" => stats[n as usize % stats.len()].clone(),
            _ => empty.clone(),
        }),
    );

    let gui = Gui::start(d, Some(20));
    // an hour of chart samples, dated 30 s apart, taken every 20 ms
    let full = format!("{KEEP} points");
    let begin = Instant::now();
    let mut filled = false;
    while begin.elapsed() < Duration::from_secs(240) {
        let r = gui.request("GET", "/charts", &[]);
        assert_eq!(r.status, 200, "/charts: {}", r.head);
        if r.body.contains(&full) {
            filled = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(filled, "no {full} after 240 s");
    let fill = begin.elapsed();
    let hour_hwm = gui.status("VmHWM:");
    let hour_rss = gui.status("VmRSS:");
    let v = table.virtuals / 2;
    let (vname, sname) = (
        format!("web{v}"),
        format!("rs{v}_{}", 3.min(table.reals - 1)),
    );
    let last = format!("web{}", table.virtuals - 1);
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let page = Some(PAGE_TARGET);
    // the configuration pages, then the saves, then the monitoring pages
    // (the peak resident size after each step shows which one raises it)
    let config_pages: [Page; 5] = [
        ("VIRTUAL SERVERS (list)", "/virtual".into(), "web0", page),
        (
            "VIRTUAL SERVER (edit)",
            format!("/virtual/edit?name={}", enc(&vname)),
            "rs",
            page,
        ),
        (
            "REAL SERVER (edit)",
            format!("/server/edit?virtual={}&name={}", enc(&vname), enc(&sname)),
            "weight",
            None,
        ),
        ("CHARTS (25 virtuals, 1 h)", "/charts".into(), "web0", None),
        (
            "CHARTS (reals of one, 1 h)",
            format!("/charts?virtual={}", enc(&vname)),
            "30 points",
            None,
        ),
    ];
    let monitor_pages: [Page; 3] = [
        ("CONTROL/MONITORING", "/control".into(), "rs0_0", page),
        (
            "  live update (fragment)",
            "/control?fragment=1".into(),
            "rs0_0",
            page,
        ),
        (
            "  filtered (?q=, last VS)",
            format!("/control?q={}", enc(&last)),
            "rs",
            page,
        ),
    ];
    let mut timings = Vec::new();
    // the first request checks the password (bcrypt), once
    let first = gui.request("GET", "/virtual", &[]);
    assert_eq!(first.status, 200, "{}", first.head);
    let measure = |(what, path, needle, target): &Page| {
        let mut t = Vec::with_capacity(requests);
        let mut bytes = 0;
        for i in 0..=requests {
            let begin = Instant::now();
            let r = gui.request("GET", path, &[]);
            let took = begin.elapsed();
            assert_eq!(
                r.status,
                200,
                "{path}: {}\n{}",
                r.head,
                gui.stderr.lock().unwrap()
            );
            assert!(r.body.contains(needle), "{path}: no {needle:?}");
            if path.starts_with("/control") {
                // lvsd's whole table counted, not an error about the daemons
                assert!(
                    r.body.contains(&format!(
                        "lvsd: {} virtual servers, {} real servers",
                        table.virtuals,
                        table.virtuals * table.reals
                    )),
                    "{path}: not lvsd's table"
                );
            }
            if path.contains("?q=") {
                assert!(
                    r.body.contains(&format!("<td>{last}</td>")),
                    "{path}: not {last}"
                );
            }
            if i > 0 {
                t.push(took);
            }
            bytes = r.wire;
        }
        timing(what, t, bytes, *target, gui.status("VmHWM:"))
    };
    for p in &config_pages {
        timings.push(measure(p));
    }

    // saves: a changed weight, as REAL SERVER's form sends it
    let page = gui.request("GET", &config_pages[2].1, &[]);
    let csrf = page.hidden("csrf").expect("a CSRF token");
    let mut serial = page.hidden("serial_no").expect("serial_no in the form");
    let mut t = Vec::with_capacity(requests);
    let mut weight = String::new();
    for i in 0..=requests {
        weight = (50 + i % 2).to_string();
        let form = [
            ("csrf", csrf.as_str()),
            ("serial_no", serial.as_str()),
            ("virtual", vname.as_str()),
            ("server", sname.as_str()),
            ("weight", weight.as_str()),
        ];
        let begin = Instant::now();
        let r = gui.request("POST", "/server/edit", &form);
        let took = begin.elapsed();
        assert_eq!(r.status, 303, "save: {}\n{}", r.head, r.body);
        let loc = r.header("location").unwrap_or_default().to_string();
        serial = loc
            .split_once("saved=")
            .map(|(_, s)| s.to_string())
            .unwrap_or_else(|| panic!("not saved: {loc}"));
        if i > 0 {
            t.push(took);
        }
    }
    timings.push(timing(
        "save (weight)",
        t,
        0,
        Some(SAVE_TARGET),
        gui.status("VmHWM:"),
    ));
    for p in &monitor_pages {
        timings.push(measure(p));
    }
    // what was written: the new weight, the serial, the daemons' checks
    let now = std::fs::read_to_string(d.join("lvs.cf")).unwrap();
    assert_eq!(
        lvscf::store::serial_of(&now).map(|s| s.to_string()),
        Some(serial.clone())
    );
    if let Err(p) = lvscf::check(&now, "lvs.cf") {
        panic!("lvscf check refuses the saved file: {p:?}");
    }
    let block = now
        .find(&format!("server {sname} {{"))
        .map(|at| &now[at..])
        .and_then(|b| b.split_once('}'))
        .map(|(b, _)| b.to_string())
        .unwrap_or_default();
    assert!(
        block.contains(&format!("weight = {weight}")),
        "{sname}: {block}"
    );
    let (hwm_kib, rss_kib) = (gui.status("VmHWM:"), gui.status("VmRSS:"));
    let worker_kib = *gui.worker_kib.lock().unwrap();
    drop(gui);
    Run {
        virtuals: table.virtuals,
        reals: table.reals,
        timings,
        hwm_kib,
        rss_kib,
        worker_kib,
        hour: (fill, hour_hwm, hour_rss),
    }
}

fn main() {
    // `cargo bench` passes --bench; without it (`cargo test --benches`) a
    // tiny table, as a smoke test
    let full = std::env::args().any(|a| a == "--bench");
    let virtuals = env("LVS_BENCH_VIRTUALS", if full { 2000 } else { 4 });
    let reals = env("LVS_BENCH_REALS", if full { 10 } else { 2 });
    let requests = env("LVS_BENCH_REQUESTS", if full { 15 } else { 1 }).max(1);
    println!(
        "piranha_gui ({}) on loopback, Basic auth, one connection per request, median of {requests} after a warm-up",
        if cfg!(debug_assertions) {
            "debug build: smoke test"
        } else {
            "release build"
        }
    );
    let mut runs = Vec::new();
    let small = virtuals / 10;
    if full && small > 0 {
        let t = Table {
            virtuals: small,
            reals,
        };
        println!("baseline: {small} x {reals} (the same pages, a fresh server)");
        runs.push(run(&t, requests));
    }
    println!("{virtuals} x {reals}");
    runs.push(run(&Table { virtuals, reals }, requests));

    let big = runs.last().unwrap();
    let base = (runs.len() > 1).then(|| &runs[0]);
    println!();
    println!(
        "{:<26} {:>10} {:>10} {:>10} {:>9} {:>11}  {:>20}  target (issue 13)",
        "what",
        "median",
        "min",
        "max",
        "size",
        "peak after",
        base.map_or(String::new(), |b| format!(
            "{} x {} median (x)",
            b.virtuals, b.reals
        )),
    );
    for (i, t) in big.timings.iter().enumerate() {
        let b = base.map_or(String::new(), |b| {
            let bt = &b.timings[i];
            format!(
                "{} (x{:.1})",
                ms(bt.median),
                t.median.as_secs_f64() / bt.median.as_secs_f64()
            )
        });
        let target = match t.target {
            Some(g) if full => format!(
                "< {} ms: {}",
                g.as_millis(),
                if t.median < g { "met" } else { "NOT met" }
            ),
            Some(g) => format!("< {} ms (smoke size)", g.as_millis()),
            None => String::new(),
        };
        println!(
            "{:<26} {:>10} {:>10} {:>10} {:>9} {:>11}  {:>20}  {}",
            t.what,
            ms(t.median),
            ms(t.min),
            ms(t.max),
            if t.bytes > 0 {
                format!("{:.2} MB", t.bytes as f64 / 1e6)
            } else {
                String::new()
            },
            format!("{:.1} MiB", t.hwm_kib as f64 / 1024.0),
            b,
            target
        );
    }
    let mib = |k: u64| k as f64 / 1024.0;
    println!(
        "{:<26} {:>10} {:>32} {:>11}  {:>20}  < 30 MiB: {}",
        "peak resident (VmHWM)",
        format!("{:.1} MiB", mib(big.hwm_kib)),
        format!("(VmRSS at the end {:.1} MiB)", mib(big.rss_kib)),
        "",
        base.map_or(String::new(), |b| format!("{:.1} MiB", mib(b.hwm_kib))),
        if !full {
            "smoke size"
        } else if big.hwm_kib < RSS_TARGET_KIB {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "{:<26} {:>10} {:>32} {:>11}  {:>20}  (a child process for each save, not the server)",
        "save worker's peak",
        format!("{:.1} MiB", mib(big.worker_kib)),
        "",
        "",
        base.map_or(String::new(), |b| format!("{:.1} MiB", mib(b.worker_kib))),
    );
    let (fill, hwm, rss) = big.hour;
    println!(
        "chart history: {} samples (an hour) in {:.1} s; with it, before any page: VmHWM {:.1} MiB, VmRSS {:.1} MiB{}",
        KEEP + 1,
        fill.as_secs_f64(),
        mib(hwm),
        mib(rss),
        base.map_or(String::new(), |b| format!(
            " ({} x {}: {:.1} MiB, {:.1} MiB)",
            b.virtuals,
            b.reals,
            mib(b.hour.1),
            mib(b.hour.2)
        ))
    );
    println!(
        "no baseline from the original: it is PHP under Apache with mod_php (port 3636), which cannot run here"
    );
}
