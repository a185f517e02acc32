//! The status plane end to end: two routers running the real pulse, a
//! piranha-exporter beside each (basic auth, listening on the router's
//! address), and a real Prometheus (Debian's) in the client namespace
//! scraping both with the shipped alert rules. Asserts on Prometheus's
//! query API: exactly one router reports active, the other after kill -9
//! of the active pulse (the dead pulse's exporter keeps serving
//! `piranha_up{component="pulse"} 0`), and the split-brain alert fires
//! when both are forced active without hearing each other.

mod lab;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use lab::{Cf, Lab, Netns, Router, cold_start, wait_for};

const S: fn(u64) -> Duration = Duration::from_secs;
const USER: &str = "prometheus";
const PASSWORD: &str = "scrape-secret";
const PROMETHEUS: &str = "/usr/bin/prometheus";

fn need(test: &str) -> bool {
    if !lvs_tests::require(lvs_tests::Need::Netns, test) {
        return false;
    }
    if !Path::new(PROMETHEUS).exists() {
        lvs_tests::skip(
            test,
            "needs Prometheus (Debian package prometheus, see .ci/install-deps)",
        );
        return false;
    }
    true
}

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// piranha-exporter beside `r`'s pulse, on `ADDR:9847` with basic auth.
fn exporter(r: &Router, addr: &str, web: &Path, dir: &Path) -> Proc {
    let log = std::fs::File::create(dir.join(format!("{}-exporter.log", r.name))).unwrap();
    let child =
        r.ns.command(lvs_tests::bin("piranha-exporter"))
            .arg(format!("--listen={addr}:9847"))
            .arg(format!("--pulse-socket={}", r.status_socket().display()))
            .arg(format!(
                "--lvsd-socket={}",
                dir.join("no-lvsd.sock").display()
            ))
            .arg(format!("--web-config={}", web.display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start piranha-exporter");
    Proc(child)
}

/// Prometheus in `ns`, scraping both routers every second with the rules.
fn prometheus(ns: &Netns, dir: &Path) -> Proc {
    let rules =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../etc/prometheus/piranha-rules.yml");
    let config = format!(
        r#"global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
rule_files:
  - {rules}
scrape_configs:
  - job_name: piranha
    basic_auth:
      username: {USER}
      password: {PASSWORD}
    static_configs:
      - targets: ["192.0.2.1:9847"]
        labels: {{router: r1}}
      - targets: ["192.0.2.2:9847"]
        labels: {{router: r2}}
"#,
        rules = rules.display()
    );
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, config).unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = ns
        .command(PROMETHEUS)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg("--web.listen-address=127.0.0.1:9090")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    Proc(child)
}

/// GET `path` from Prometheus in `ns`; the body, if it answered.
fn get(ns: &Netns, path: &str) -> Option<String> {
    ns.enter(|| {
        let mut s = std::net::TcpStream::connect("127.0.0.1:9090").ok()?;
        s.set_read_timeout(Some(S(5))).ok()?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
    })
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An instant query: (labels, value) of each series.
fn query(ns: &Netns, q: &str) -> Vec<(serde_json::Value, f64)> {
    let Some(body) = get(ns, &format!("/api/v1/query?query={}", encode(q))) else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let value = r["value"][1]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(f64::NAN);
            (r["metric"].clone(), value)
        })
        .collect()
}

/// The routers (`router` label) whose pulse reports active, sorted.
fn active(ns: &Netns) -> Vec<String> {
    let mut v: Vec<String> = query(ns, r#"piranha_pulse_role{state="active"} == 1"#)
        .iter()
        .filter_map(|(m, _)| m["router"].as_str().map(String::from))
        .collect();
    v.sort();
    v
}

struct Setup {
    lab: Lab,
    dir: PathBuf,
    _prom: Proc,
    exporters: Vec<Proc>,
}

impl Setup {
    fn dump(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.dir.join(n)).unwrap_or_default();
        let targets = get(&self.lab.c, "/api/v1/targets").unwrap_or_default();
        format!(
            "{}\n--- r1 exporter ---\n{}\n--- r2 exporter ---\n{}\n--- prometheus ---\n{}\n--- targets ---\n{targets}",
            self.lab.dump(),
            read("r1-exporter.log"),
            read("r2-exporter.log"),
            read("prometheus.log"),
        )
    }
}

fn setup(tag: &str) -> Setup {
    let lab = Lab::new(tag, false);
    let dir = lab._dir.path().join("metrics");
    std::fs::create_dir_all(&dir).unwrap();
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let web = dir.join("web.yml");
    std::fs::write(&web, format!("basic_auth_users:\n  {USER}: '{hash}'\n")).unwrap();
    let exporters = vec![
        exporter(&lab.r1, "192.0.2.1", &web, &dir),
        exporter(&lab.r2, "192.0.2.2", &web, &dir),
    ];
    let prom = prometheus(&lab.c, &dir);
    Setup {
        lab,
        dir,
        _prom: prom,
        exporters,
    }
}

#[test]
fn prometheus_sees_one_active_router_through_a_failover_and_a_split_brain() {
    if !need("prometheus_sees_one_active_router_through_a_failover_and_a_split_brain") {
        return;
    }
    let mut s = setup("m1");
    let cf = Cf::default();
    cold_start(&mut s.lab, &cf);
    // Prometheus is up and scrapes both exporters (with the password)...
    let both_up = || {
        let up = query(&s.lab.c, r#"up{job="piranha"} == 1"#);
        up.len() == 2
    };
    assert!(wait_for(S(30), both_up), "{}", s.dump());
    // ... and sees exactly one active router: r1.
    assert!(
        wait_for(S(10), || active(&s.lab.c) == ["r1"]),
        "active: {:?}\n{}",
        active(&s.lab.c),
        s.dump()
    );
    let standby = query(&s.lab.c, r#"piranha_pulse_role{state="standby"} == 1"#);
    assert_eq!(standby.len(), 1, "{standby:?}");
    assert_eq!(standby[0].0["router"], "r2");

    // kill -9 of the active pulse: r2 takes over, r1's exporter keeps
    // serving and says its pulse is gone.
    s.lab.r1.kill9();
    assert!(
        wait_for(S(20), || active(&s.lab.c) == ["r2"]),
        "active: {:?}\n{}",
        active(&s.lab.c),
        s.dump()
    );
    assert!(
        wait_for(S(10), || {
            query(&s.lab.c, r#"piranha_up{component="pulse", router="r1"}"#)
                .first()
                .is_some_and(|(_, v)| *v == 0.0)
        }),
        "{}",
        s.dump()
    );
    let failovers = query(&s.lab.c, r#"piranha_pulse_failovers_total{router="r2"}"#);
    assert_eq!(failovers.first().map(|f| f.1), Some(1.0), "{failovers:?}");

    // Split brain: both forced active on heartbeat ports that never meet.
    s.lab.r2.stop();
    let cf1 = Cf::default();
    let cf2 = Cf {
        heartbeat_port: 540,
        ..Cf::default()
    };
    s.lab.r1.start(&cf1, &["--forceactive"]);
    s.lab.r2.start(&cf2, &["--forceactive"]);
    assert!(
        wait_for(S(20), || active(&s.lab.c) == ["r1", "r2"]),
        "active: {:?}\n{}",
        active(&s.lab.c),
        s.dump()
    );
    let firing = || {
        query(
            &s.lab.c,
            r#"ALERTS{alertname="PiranhaSplitBrain", alertstate="firing"}"#,
        )
        .len()
            == 1
    };
    // for: 20s at a 15 s rule interval: firing within about 50 s.
    assert!(
        wait_for(S(70), firing),
        "split brain not firing\n{}",
        s.dump()
    );
    // The exporters were never restarted.
    for e in &mut s.exporters {
        assert!(e.0.try_wait().unwrap().is_none(), "an exporter exited");
    }
}
