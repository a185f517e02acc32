//! Test and benchmark fixtures: a procfs directory with `net/ip_vs` and
//! `net/ip_vs_stats`, fake status sockets, the documents pulse and lvsd
//! would serve for a given table, and a small HTTP client.

#![allow(dead_code)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::Ipv4Addr;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use piranha_status::{lvsd, pulse};

/// The exporter binary of this build.
pub fn exporter() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_piranha-exporter"))
}

/// A table of `virtuals` TCP services with `reals` NAT destinations each:
/// service `v` is 10.0.x.y:80, its destinations 10.(128+r).x.y:80.
pub struct Table {
    pub virtuals: usize,
    pub reals: usize,
}

impl Table {
    pub fn vip(&self, v: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, (v >> 8) as u8, v as u8)
    }

    pub fn rip(&self, v: usize, r: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 128 + r as u8, (v >> 8) as u8, v as u8)
    }

    /// `/proc/net/ip_vs` as the kernel prints it; weight r+1, active v%7,
    /// inactive r.
    pub fn ip_vs(&self) -> String {
        let mut s = String::from(
            "IP Virtual Server version 1.2.1 (size=4096)\n\
             Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n",
        );
        for v in 0..self.virtuals {
            writeln!(s, "TCP  {:08X}:0050 wlc ", u32::from(self.vip(v))).unwrap();
            for r in 0..self.reals {
                writeln!(
                    s,
                    "  -> {:08X}:0050      Masq    {:<6} {:<10} {:<10}",
                    u32::from(self.rip(v, r)),
                    r + 1,
                    v % 7,
                    r
                )
                .unwrap();
            }
        }
        s
    }

    /// lvsd's `json` answer for the table: virtual `vsV`, servers `rsV_R`.
    pub fn lvsd_json(&self) -> lvsd::Status {
        lvsd::Status {
            version: 1,
            time: 1764086461.2,
            pid: 1235,
            role: "active".into(),
            pulse_gone: false,
            config: lvsd::Config {
                file: "/etc/sysconfig/ha/lvs.cf".into(),
                serial_no: Some(7),
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
                    name: format!("vs{v}"),
                    service: format!("TCP {}:80", self.vip(v)),
                    state: lvsd::Phase::Up,
                    scheduler: "wlc".into(),
                    reals: (0..self.reals)
                        .map(|r| lvsd::RsStatus {
                            name: format!("rs{v}_{r}"),
                            address: format!("{}:80", self.rip(v, r)),
                            monitor: "running".into(),
                            pid: Some(2000 + r as u32),
                            health: if r == 1 { "down" } else { "up" }.into(),
                            weight: if r == 1 { None } else { Some(r as u32 + 1) },
                            configured_weight: r as i32 + 1,
                            last_result: Some(if r == 1 { "fail" } else { "pass" }.into()),
                            last_result_since: Some(1764086400.0),
                            last_change_at: Some(1764086400.0),
                            check_failures: r as u64 * 3,
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
        }
    }

    /// lvsd's `stats` answer: conns 100*v+r, packets and bytes from it.
    pub fn lvsd_stats(&self) -> lvsd::TableStats {
        let c = |n: u64| lvsd::Counters {
            conns: n,
            inpkts: n * 10,
            outpkts: n * 9,
            inbytes: n * 1000,
            outbytes: n * 5000,
        };
        lvsd::TableStats {
            version: 1,
            time: 1764086461.2,
            error: None,
            services: (0..self.virtuals)
                .map(|v| lvsd::ServiceStats {
                    proto: "TCP".into(),
                    address: self.vip(v).to_string(),
                    port: 80,
                    fwmark: 0,
                    virtual_name: Some(format!("vs{v}")),
                    stats: c(1_000_000 + v as u64),
                    dests: (0..self.reals)
                        .map(|r| lvsd::DestStats {
                            address: self.rip(v, r).to_string(),
                            port: 80,
                            weight: r as u32 + 1,
                            active_conns: (v % 7) as u32,
                            inactive_conns: r as u32,
                            stats: c(100 * v as u64 + r as u64),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// A pulse document: active, partner alive, two VIPs (one twice).
pub fn pulse_json() -> pulse::Status {
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
            private: None,
            alive: true,
            last_heartbeat: Some(1764086460.1),
            last_heartbeat_age_seconds: Some(1.25),
            last_magic: Some("0x98b6a15e".into()),
            last_state: Some("running".into()),
            last_rejected: Some("bad_mac".into()),
        },
        links: vec![pulse::Link {
            name: "primary".into(),
            address: "10.0.0.1".into(),
            device: Some("eth0".into()),
            up: true,
        }],
        vips: vec![
            pulse::Vip {
                address: "10.0.0.100".into(),
                device: "eth0:1".into(),
                netmask: None,
                held: true,
            },
            pulse::Vip {
                address: "10.0.0.101".into(),
                device: "eth0:2".into(),
                netmask: None,
                held: false,
            },
            pulse::Vip {
                address: "10.0.0.100".into(),
                device: "eth0:1".into(),
                netmask: None,
                held: true,
            },
        ],
        daemon: pulse::Daemon {
            name: "lvsd".into(),
            pid: Some(1235),
            warm_standby: false,
        },
        config: pulse::Config {
            file: "/etc/sysconfig/ha/lvs.cf".into(),
            serial_no: Some(8),
            sha256: Some("cd".repeat(32)),
            loaded_serial_no: Some(7),
            loaded_sha256: "ab".repeat(32),
        },
        counters: pulse::Counters {
            heartbeats_sent: 10,
            heartbeats_received: 9,
            heartbeats_rejected: pulse::Rejected {
                unexpected_source: 1,
                short: 2,
                incompatible: 3,
                unsigned: 4,
                malformed: 5,
                bad_mac: 6,
                wrong_identity: 7,
                replayed: 8,
            },
            heartbeats_unsigned: 2,
            failovers: 1,
        },
        heartbeat_auth: "permissive".into(),
        history: vec![],
        scale_out: None,
    }
}

/// How a fake daemon answers.
#[derive(Clone)]
pub enum Answer {
    /// This text.
    Text(std::sync::Arc<str>),
    /// Reads the request, then nothing until `Duration` has passed.
    Silent(Duration),
}

impl Answer {
    /// Answers with `t`.
    pub fn text(t: &str) -> Answer {
        Answer::Text(t.into())
    }
}

/// Serves `answers` (request line to answer) on a UNIX socket at `path`
/// from a thread, until the process ends. An unknown request gets no
/// answer.
pub fn fake_daemon(path: &Path, answers: HashMap<&'static str, Answer>) {
    let l = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let answers = answers.clone();
            std::thread::spawn(move || {
                let mut line = String::new();
                if BufReader::new(&mut s).read_line(&mut line).is_err() {
                    return;
                }
                match answers.get(line.trim()) {
                    Some(Answer::Text(t)) => {
                        let _ = s.write_all(t.as_bytes());
                    }
                    Some(Answer::Silent(d)) => std::thread::sleep(*d),
                    None => {}
                }
            });
        }
    });
}

/// A fake pulse answering `json` with `doc`.
pub fn fake_pulse(path: &Path, doc: &str) {
    fake_daemon(path, HashMap::from([("json", Answer::text(doc))]));
}

/// A fake lvsd answering `json` and `stats`.
pub fn fake_lvsd(path: &Path, json: &str, stats: &str) {
    fake_daemon(
        path,
        HashMap::from([("json", Answer::text(json)), ("stats", Answer::text(stats))]),
    );
}

/// A procfs directory with `net/ip_vs` (if given) and `net/ip_vs_stats`.
pub fn procfs(dir: &Path, ip_vs: Option<&str>) -> PathBuf {
    let p = dir.join("proc");
    std::fs::create_dir_all(p.join("net")).unwrap();
    if let Some(t) = ip_vs {
        std::fs::write(p.join("net/ip_vs"), t).unwrap();
        std::fs::write(
            p.join("net/ip_vs_stats"),
            "   Total Incoming Outgoing         Incoming         Outgoing\n   \
             Conns  Packets  Packets            Bytes            Bytes\n      \
             2A      12C        0         1000002E0                0\n\n \
             Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n       \
             0        0        0                0                0\n",
        )
        .unwrap();
    }
    p
}

/// Runs `--once` with these arguments; (stdout, stderr, exit status).
pub fn once(args: &[&str]) -> (String, String, std::process::ExitStatus) {
    let out = Command::new(exporter())
        .arg("--once")
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status,
    )
}

/// The value of the series `name{labels}` (labels as printed, without
/// braces; "" for none) in an exposition.
pub fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (s, v) = l.rsplit_once(' ')?;
        (s == series).then(|| v.parse().unwrap())
    })
}

/// Every series (name and labels) that occurs more than once.
pub fn duplicates(text: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' ').map(|(s, _)| s))
        .filter(|s| !seen.insert(*s))
        .map(String::from)
        .collect()
}

/// `promtool check metrics` on `text`: None when fine, else what it said.
/// Skips (and fails under CI) without promtool.
pub fn promtool(text: &str, test: &str) -> Option<String> {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        lvs_tests::skip(
            test,
            "needs promtool (Debian package prometheus, see .ci/install-deps)",
        );
        return None;
    };
    let mut stdin = child.stdin.take().unwrap();
    let text = text.to_string();
    let w = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child.wait_with_output().unwrap();
    w.join().unwrap().unwrap();
    (!out.status.success() || !out.stdout.is_empty() || !out.stderr.is_empty()).then(|| {
        format!(
            "{:?}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A free loopback port (bind to 0, read it, close).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts a server process and waits until `port` accepts connections
/// (or the process exits).
pub fn start_server(cmd: &mut Command, port: u16) -> Child {
    let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    let begin = Instant::now();
    while begin.elapsed() < Duration::from_secs(10) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        if let Ok(Some(st)) = child.try_wait() {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("server exited {st:?}: {err}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not listen on {port}");
}

/// One HTTP/1.1 GET over a fresh connection; (status, head, body).
pub fn get(port: u16, path: &str, auth: Option<&str>) -> (u16, String, Vec<u8>) {
    request(port, &format!("GET {path} HTTP/1.1"), auth, "")
}

/// One HTTP/1.1 request with `first` as its request line.
pub fn request(port: u16, first: &str, auth: Option<&str>, extra: &str) -> (u16, String, Vec<u8>) {
    parse_response(&request_raw(port, first, auth, extra))
}

/// One HTTP/1.1 request; the raw response, read until the server closes.
pub fn request_raw(port: u16, first: &str, auth: Option<&str>, extra: &str) -> Vec<u8> {
    use base64::Engine as _;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{first}\r\nHost: localhost\r\nConnection: close\r\n{extra}");
    if let Some(a) = auth {
        let b = base64::engine::general_purpose::STANDARD.encode(a);
        write!(req, "Authorization: Basic {b}\r\n").unwrap();
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    all
}

/// (status, head, body) of a raw response.
pub fn parse_response(all: &[u8]) -> (u16, String, Vec<u8>) {
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no response head");
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    let mut body = all[split + 4..].to_vec();
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
    (status, head, body)
}

/// Decodes a chunked body.
pub fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&b[..nl]).unwrap().trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + size]);
        b = &b[nl + 2 + size + 2..];
    }
}
