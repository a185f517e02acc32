//! `cargo bench -p piranha-exporter`: scrapes of a large router.
//!
//! Builds a fixture procfs with V x R backends (default 2,000 x 10) and
//! fake pulse and lvsd sockets serving documents of that size, runs the
//! release exporter on a loopback port, scrapes it N times over HTTP
//! (default 20) and reports the median scrape time and the exporter's peak
//! resident memory (VmHWM). In the same run it measures Debian's
//! node_exporter with only its ipvs collector on the same procfs (it reads
//! only the two /proc files, a quarter of our series) and prints the
//! ratios. `LVS_BENCH_VIRTUALS`, `LVS_BENCH_REALS`, `LVS_BENCH_SCRAPES`
//! change the sizes; `LVS_BENCH_FIXTURE=DIR` only writes the fixture's
//! files there (for profiling by hand).

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::*;

const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Kills the server when done.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Result {
    cpu_per_scrape: Duration,
    median: Duration,
    min: Duration,
    max: Duration,
    series: usize,
    bytes: usize,
    hwm_kib: u64,
}

fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// User and system CPU time of a process so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // after the command name in parentheses: state is field 3, utime 14, stime 15
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Duration::from_secs_f64(f.iter().sum::<u64>() as f64 / hz)
}

fn measure(server: &Server, port: u16, scrapes: usize) -> Result {
    // one warm-up scrape, which also gives the sizes
    let (st, head, body) = get(port, "/metrics", None);
    assert_eq!(st, 200, "{head}");
    let text = String::from_utf8(body).unwrap();
    let series = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count();
    let bytes = text.len();
    drop(text);
    let cpu0 = cpu_time(server.0.id());
    let mut times = Vec::with_capacity(scrapes);
    for _ in 0..scrapes {
        let begin = Instant::now();
        let (head, len) = scrape_discarding(port);
        times.push(begin.elapsed());
        assert!(head.starts_with(b"HTTP/1.1 200 "));
        assert!(len > bytes, "{len} bytes");
    }
    let cpu_per_scrape = (cpu_time(server.0.id()) - cpu0) / scrapes as u32;
    times.sort();
    Result {
        cpu_per_scrape,
        median: times[times.len() / 2],
        min: times[0],
        max: times[times.len() - 1],
        series,
        bytes,
        hwm_kib: vm_hwm_kib(server.0.id()),
    }
}

/// One scrape whose answer is read into a small buffer and dropped (the
/// client should not compete for the CPU more than it must): the first
/// bytes of the answer and its length.
fn scrape_discarding(port: u16) -> (Vec<u8>, usize) {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut buf = vec![0u8; 256 << 10];
    let mut head = Vec::new();
    let mut len = 0;
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            return (head, len);
        }
        if head.len() < 64 {
            head.extend_from_slice(&buf[..n.min(64)]);
        }
        len += n;
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn print(name: &str, r: &Result) {
    println!(
        "{name:<16} median {:>9}  min {:>9}  max {:>9}  CPU/scrape {:>9}  {:>7} series  {:>5.1} MB  peak RSS {:>6.1} MiB",
        ms(r.median),
        ms(r.min),
        ms(r.max),
        ms(r.cpu_per_scrape),
        r.series,
        r.bytes as f64 / 1e6,
        r.hwm_kib as f64 / 1024.0
    );
}

fn main() {
    // `cargo bench` passes --bench; without it (`cargo test --benches`)
    // a small table, as a smoke test
    let full = std::env::args().any(|a| a == "--bench");
    let virtuals = env("LVS_BENCH_VIRTUALS", if full { 2000 } else { 20 });
    let reals = env("LVS_BENCH_REALS", if full { 10 } else { 2 });
    let scrapes = env("LVS_BENCH_SCRAPES", if full { 20 } else { 2 }).max(1);
    let table = Table { virtuals, reals };
    let dir = tempfile::tempdir().unwrap();
    let proc = procfs(dir.path(), Some(&table.ip_vs()));
    let pulse = dir.path().join("pulse.sock");
    let lvsd = dir.path().join("lvsd.sock");
    let json = serde_json::to_string(&table.lvsd_json()).unwrap();
    let stats = serde_json::to_string(&table.lvsd_stats()).unwrap();
    println!(
        "fixture: {virtuals} x {reals} backends; /proc/net/ip_vs {:.1} MB, lvsd json {:.1} MB, stats {:.1} MB; {scrapes} scrapes each",
        std::fs::metadata(proc.join("net/ip_vs")).unwrap().len() as f64 / 1e6,
        json.len() as f64 / 1e6,
        stats.len() as f64 / 1e6
    );
    if let Ok(out) = std::env::var("LVS_BENCH_FIXTURE") {
        // for profiling by hand: the fixture's files, then stop
        let out = std::path::Path::new(&out);
        let _ = std::fs::create_dir_all(out.join("proc/net"));
        for f in ["ip_vs", "ip_vs_stats"] {
            std::fs::copy(proc.join("net").join(f), out.join("proc/net").join(f)).unwrap();
        }
        std::fs::write(out.join("lvsd.json"), &json).unwrap();
        std::fs::write(out.join("lvsd.stats"), &stats).unwrap();
        std::fs::write(
            out.join("pulse.json"),
            serde_json::to_string(&pulse_json()).unwrap(),
        )
        .unwrap();
        println!("fixture written to {}", out.display());
        return;
    }
    fake_pulse(&pulse, &serde_json::to_string(&pulse_json()).unwrap());
    fake_lvsd(&lvsd, &json, &stats);
    drop((json, stats));

    // an empty web config: no users, loopback
    let web = dir.path().join("web.yml");
    std::fs::write(&web, "").unwrap();
    let port = free_port();
    let ours = Server(start_server(
        Command::new(exporter())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--web-config")
            .arg(&web)
            .arg("--procfs")
            .arg(&proc)
            .arg("--pulse-socket")
            .arg(&pulse)
            .arg("--lvsd-socket")
            .arg(&lvsd),
        port,
    ));
    let r = measure(&ours, port, scrapes);
    let (_, _, body) = get(port, "/metrics", None);
    let body = String::from_utf8(body).unwrap();
    assert_eq!(
        value(&body, "piranha_up{component=\"lvsd\"}"),
        Some(1.0),
        "lvsd did not answer in time"
    );
    assert_eq!(value(&body, "piranha_up{component=\"pulse\"}"), Some(1.0));
    drop(body);
    print("piranha-exporter", &r);
    if full {
        println!(
            "targets ({virtuals} x {reals}; set for 2,000 x 10): scrape under 100 ms: {}; peak RSS under 10 MiB: {}",
            if r.median < Duration::from_millis(100) {
                "met"
            } else {
                "NOT met"
            },
            if r.hwm_kib < 10 * 1024 {
                "met"
            } else {
                "NOT met"
            }
        );
    }
    drop(ours);

    // the same /proc files alone (no daemons): node_exporter's series
    let port = free_port();
    let alone = Server(start_server(
        Command::new(exporter())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--web-config")
            .arg(&web)
            .arg("--procfs")
            .arg(&proc)
            .arg("--pulse-socket")
            .arg(dir.path().join("none.sock"))
            .arg("--lvsd-socket")
            .arg(dir.path().join("none.sock")),
        port,
    ));
    let a = measure(&alone, port, scrapes);
    print("  /proc only", &a);
    drop(alone);

    if !std::path::Path::new(NODE_EXPORTER).exists() {
        println!("no {NODE_EXPORTER} (package prometheus-node-exporter): no baseline");
        return;
    }
    let port = free_port();
    let node = Server(start_server(
        Command::new(NODE_EXPORTER)
            .arg(format!("--path.procfs={}", proc.display()))
            .args([
                "--collector.disable-defaults",
                "--collector.ipvs",
                &format!("--web.listen-address=127.0.0.1:{port}"),
            ]),
        port,
    ));
    let n = measure(&node, port, scrapes);
    print("node_exporter", &n);
    drop(node);
    let per = |r: &Result| r.median.as_secs_f64() / r.series as f64;
    println!(
        "ratios (node_exporter / piranha-exporter): scrape time {:.2}x, time per series {:.2}x, peak RSS {:.2}x",
        n.median.as_secs_f64() / r.median.as_secs_f64(),
        per(&n) / per(&r),
        n.hwm_kib as f64 / r.hwm_kib as f64
    );
    println!(
        "ratios on the same /proc series (node_exporter / piranha-exporter /proc only): scrape time {:.2}x, peak RSS {:.2}x",
        n.median.as_secs_f64() / a.median.as_secs_f64(),
        n.hwm_kib as f64 / a.hwm_kib as f64
    );
}
