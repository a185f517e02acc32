//! Reload benchmark (run inside the IPVS VM, as root):
//!
//! ```text
//! cargo build --release -p lvsd --example lvsd_bench
//! cargo xtask vm -- target/release/examples/lvsd_bench [VIRTUALS...]
//! ```
//!
//! For each size (default 200 and 2,000 virtual servers with 10 real
//! servers each) it builds the table the way lvsd does (one service per
//! virtual server, then one destination per nanny report), then reloads
//! lvs.cf with one changed weight and one added real server through the
//! real code path: read and parse the file, build the spec, the engine's
//! diff, the kernel changes over netlink. Nanny processes are simulated
//! (20,000 processes do not fit in the VM): their spawns get fake pids and
//! their reports are fed as the lines a nanny writes, parsed as lvsd's
//! shell parses them.
//!
//! Baselines from the same run: a reconciler that dumps the kernel table
//! and diffs against it (one GET_SERVICE dump plus one GET_DEST dump per
//! service), and a full rewrite (flush, then every service and destination
//! again).

use std::collections::{BTreeSet, VecDeque};
use std::path::Path;
use std::time::{Duration, Instant};

use ipvs::{Client, IpvsTable as _, Op};
use lvsd::engine::{Action, Engine, NannyId, OpError, Options};
use lvsd::spec::{self, Flags};

const REALS: usize = 10;

fn config(virtuals: usize, changed: bool) -> String {
    let mut t = String::from("network = nat\nhard_shutdown = 0\n");
    for i in 0..virtuals {
        t += &format!(
            "virtual v{i} {{\n active = 1\n address = 10.{}.{}.1 eth0:1\n port = 80\n scheduler = wlc\n timeout = 10\n",
            100 + i / 250,
            i % 250
        );
        let reals = if changed && i == virtuals * 3 / 4 {
            REALS + 1
        } else {
            REALS
        };
        for j in 0..reals {
            let n = i * (REALS + 1) + j;
            let weight = if changed && i == virtuals / 2 && j == 5 {
                2
            } else {
                1
            };
            t += &format!(
                " server r{j} {{\n  address = 172.16.{}.{}\n  active = 1\n  weight = {weight}\n }}\n",
                n / 250,
                n % 250 + 1
            );
        }
        t += "}\n";
    }
    t
}

/// The value after `flag` in a nanny command line.
fn arg<'a>(argv: &'a [String], flag: &str) -> &'a str {
    let i = argv.iter().position(|a| a == flag).expect("flag present");
    &argv[i + 1]
}

/// Drives the engine like lvsd's shell, against the kernel; nannies are
/// simulated. Counts the IPVS changes.
struct Driver {
    engine: Engine,
    client: Client,
    now: Instant,
    ops: usize,
    /// Nannies started and not yet reported: (id, argv).
    fresh: Vec<(NannyId, Vec<String>)>,
}

impl Driver {
    fn t(&self) -> Duration {
        self.now.elapsed()
    }

    async fn perform(&mut self, actions: Vec<Action>) {
        let mut q: VecDeque<Action> = actions.into();
        while let Some(a) = q.pop_front() {
            let more = match a {
                Action::Ipvs(ops) => {
                    let res: Vec<Result<(), OpError>> = self
                        .client
                        .apply_each(&ops)
                        .await
                        .expect("netlink")
                        .into_iter()
                        .map(|r| {
                            r.map_err(|e| OpError {
                                errno: e.errno(),
                                message: e.to_string(),
                            })
                        })
                        .collect();
                    if let Some(Err(e)) = res.iter().find(|r| r.is_err()) {
                        panic!("IPVS change failed: {}", e.message);
                    }
                    self.ops += ops.len();
                    self.engine.ipvs_done(&ops, &res, self.t())
                }
                Action::Spawn { id, argv, .. } => {
                    self.fresh.push((id, argv));
                    self.engine
                        .nanny_spawned(id, Ok(4_000_000 + id as u32), self.t())
                }
                Action::Exit(_) => panic!("the engine shut down"),
                _ => continue,
            };
            for (i, a) in more.into_iter().enumerate() {
                q.insert(i, a);
            }
        }
    }

    /// Every fresh nanny reports its server up with its configured weight.
    async fn report_all(&mut self) {
        for (id, argv) in std::mem::take(&mut self.fresh) {
            let line = format!(
                "nanny1 add tcp {}:{} {}:{} masq {}",
                arg(&argv, "-V"),
                arg(&argv, "-p"),
                arg(&argv, "-h"),
                arg(&argv, "-r"),
                arg(&argv, "-w")
            );
            let t = self.t();
            for line in [line.as_str(), "nanny1 state up"] {
                let report = nanny_report::parse(line).expect("a report line");
                let a = self.engine.nanny_report(id, report, t);
                self.perform(a).await;
            }
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Row {
    virtuals: usize,
    build: Duration,
    reload: Duration,
    reload_ops: usize,
    report_ops: usize,
    parse: Duration,
    spec: Duration,
    diff: Duration,
    apply: Duration,
    dump_diff: Duration,
    dump_requests: usize,
    rewrite: Duration,
    rewrite_ops: usize,
}

async fn run(virtuals: usize, dir: &Path) -> Row {
    let client = Client::connect().await.expect("IPVS");
    client.flush().await.expect("flush");
    let base = config(virtuals, false);
    let changed = config(virtuals, true);
    let file = dir.join(format!("lvs-{virtuals}.cf"));
    std::fs::write(&file, &base).unwrap();
    let spec0 = spec::build(&lvscf::parse_file(&file).unwrap().config, Flags::default());
    let mut d = Driver {
        engine: Engine::new(spec0, Options::default()),
        client: client.clone(),
        now: Instant::now(),
        ops: 0,
        fresh: Vec::new(),
    };
    let t0 = Instant::now();
    let a = d.engine.start(d.t());
    d.perform(a).await;
    d.report_all().await;
    let build = t0.elapsed();
    assert_eq!(d.ops, virtuals * (REALS + 1));

    // reloads: changed, back, changed, ... (each one weight and one server)
    let mut times = Vec::new();
    let mut parses = Vec::new();
    let mut builds = Vec::new();
    let mut diffs = Vec::new();
    let mut applies = Vec::new();
    let mut reload_ops = 0;
    let mut report_ops = 0;
    for round in 0..5 {
        let text = if round % 2 == 0 { &changed } else { &base };
        std::fs::write(&file, text).unwrap();
        d.ops = 0;
        let t = Instant::now();
        let parsed = lvscf::parse_file(&file).unwrap();
        parses.push(t.elapsed());
        let t1 = Instant::now();
        let new = spec::build(&parsed.config, Flags::default());
        builds.push(t1.elapsed());
        let t2 = Instant::now();
        let a = d.engine.reload(new, d.t());
        diffs.push(t2.elapsed());
        let t3 = Instant::now();
        d.perform(a).await;
        applies.push(t3.elapsed());
        times.push(t.elapsed());
        reload_ops = reload_ops.max(d.ops);
        // the added server's nanny reports: its destination goes in
        d.ops = 0;
        d.report_all().await;
        report_ops = report_ops.max(d.ops);
    }

    // baseline 1: dump the kernel table and diff against it
    let wanted = d.engine.wanted();
    let owned: BTreeSet<_> = wanted.iter().map(|v| v.service.key).collect();
    let t = Instant::now();
    let current = client.snapshot().await.expect("dump");
    let plan = ipvs::reconcile::plan(&wanted, &current, &owned);
    let dump_diff = t.elapsed();
    assert!(plan.is_empty(), "the engine's table is the kernel's");
    let dump_requests = 1 + current.len();

    // baseline 2: a full rewrite
    let mut all = Vec::new();
    for v in &wanted {
        all.push(Op::AddService(v.service.clone()));
        all.extend(v.dests.iter().map(|x| Op::AddDest(v.service.key, *x)));
    }
    let t = Instant::now();
    client.flush().await.expect("flush");
    client.apply(&all).await.expect("rewrite");
    let rewrite = t.elapsed();
    client.flush().await.expect("flush");

    Row {
        virtuals,
        build,
        reload: median(times),
        reload_ops,
        report_ops,
        parse: median(parses),
        spec: median(builds),
        diff: median(diffs),
        apply: median(applies),
        dump_diff,
        dump_requests,
        rewrite,
        rewrite_ops: all.len() + 1,
    }
}

fn main() {
    let sizes: Vec<usize> = {
        let v: Vec<usize> = std::env::args()
            .skip(1)
            .filter_map(|a| a.parse().ok())
            .collect();
        if v.is_empty() { vec![200, 2000] } else { v }
    };
    // SAFETY: unshare before any thread exists; IPVS tables are per
    // network namespace, so the benchmark has its own.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        eprintln!(
            "unshare: {} (run as root, in the VM)",
            std::io::Error::last_os_error()
        );
        std::process::exit(1);
    }
    // IPVS takes only destinations it can route to
    for args in [
        &["link", "set", "lo", "up"][..],
        &["link", "add", "lvbench", "type", "dummy"],
        &["link", "set", "lvbench", "up"],
        &["route", "add", "172.16.0.0/16", "dev", "lvbench"],
    ] {
        let ok = std::process::Command::new("ip")
            .args(args)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "ip {args:?}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let rows: Vec<Row> = sizes
        .iter()
        .map(|&n| rt.block_on(run(n, dir.path())))
        .collect();
    println!(
        "| virtual x real | build (start + reports) | reload total | parse | spec | diff | kernel | reload ops | + report ops | dump + diff (baseline) | full rewrite (baseline) | reload / dump | reload / rewrite |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} x {REALS} | {:.0} ms ({} ops) | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.2} ms | {} | {} | {:.0} ms ({} dump requests) | {:.0} ms ({} ops) | {:.3} | {:.3} |",
            r.virtuals,
            ms(r.build),
            r.virtuals * (REALS + 1),
            ms(r.reload),
            ms(r.parse),
            ms(r.spec),
            ms(r.diff),
            ms(r.apply),
            r.reload_ops,
            r.report_ops,
            ms(r.dump_diff),
            r.dump_requests,
            ms(r.rewrite),
            r.rewrite_ops,
            r.reload.as_secs_f64() / r.dump_diff.as_secs_f64(),
            r.reload.as_secs_f64() / r.rewrite.as_secs_f64(),
        );
    }
    if let [first, .., last] = rows.as_slice() {
        let size = last.virtuals as f64 / first.virtuals as f64;
        println!(
            "\ntable {size:.0}x larger: reload time x{:.2} (parse x{:.2}), reload ops {} -> {}",
            last.reload.as_secs_f64() / first.reload.as_secs_f64(),
            last.parse.as_secs_f64() / first.parse.as_secs_f64(),
            first.reload_ops,
            last.reload_ops
        );
    }
}
