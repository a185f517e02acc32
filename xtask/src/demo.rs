//! `cargo xtask demo`: the whole suite at work. Builds every program, then
//! sets up a client, two directors and three real servers in network
//! namespaces, runs the real pulse on both directors with `etc/lvs.cf.demo`
//! (each its own copy, with the workspace's nanny as `client_monitor` and
//! `--lvsd=` naming the workspace's lvsd), and shows requests spread over
//! the real servers, a real server leaving rotation and coming back, and
//! the backup taking over when the active director's pulse is killed
//! (kill -9), with a timeline at the end. Both directors run pulse with
//! `--warm-standby` (the recommended setup): the standby's table is ready
//! before the takeover, and the kill -9 step loses no request but, at
//! most, the one in flight when the client's ARP entry moved.
//!
//! Where this kernel has IPVS (and we are root) the demo runs natively;
//! otherwise xtask runs itself (`demo --here`) in the QEMU VM of
//! `cargo xtask vm`.

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use lvs_tests::arpwatch::ArpWatch;
use lvs_tests::cluster::{self, Cluster, Method, Request, Traffic, requests, tally};
use lvs_tests::netns::wait_for;

use crate::{vm, workspace_root};

/// The pulse options both directors run with: the recommended setup.
const WARM: &[&str] = &["--warm-standby"];

/// `cargo xtask demo [--scale-out] [--here]`.
pub fn main(args: &[String]) -> ExitCode {
    let scale_out = args.first().is_some_and(|a| a == "--scale-out");
    let rest = if scale_out { &args[1..] } else { args };
    match rest {
        [] => outer(scale_out),
        [here] if here == "--here" => inner(scale_out),
        _ => {
            eprintln!("usage: cargo xtask demo [--scale-out]");
            ExitCode::from(2)
        }
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Whether the demo can run on this kernel: root, `ip netns`, and IPVS
/// (loaded on demand when the module exists).
fn native() -> bool {
    let ipvs = || std::path::Path::new("/proc/net/ip_vs").exists();
    if !is_root() {
        return false;
    }
    if !ipvs() {
        let _ = Command::new("modprobe").args(["-q", "ip_vs"]).status();
    }
    ipvs()
        && Command::new("ip")
            .args(["netns", "list"])
            .output()
            .is_ok_and(|o| o.status.success())
}

/// Builds every program the demo runs.
pub(crate) fn build() -> bool {
    // Not xtask itself: this very binary would be replaced under us.
    println!("==> cargo build --workspace --exclude xtask --bins");
    Command::new(env!("CARGO"))
        .args(["build", "--workspace", "--exclude", "xtask", "--bins"])
        .current_dir(workspace_root())
        .status()
        .is_ok_and(|s| s.success())
}

/// Builds, then runs [`inner`] here or in the VM.
fn outer(scale_out: bool) -> ExitCode {
    if !build() {
        eprintln!("xtask demo: the build failed");
        return ExitCode::FAILURE;
    }
    if native() {
        println!("==> this kernel has IPVS: running the demo here");
        return inner(scale_out);
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("xtask demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "==> no IPVS in this kernel (or not root): running the demo in a QEMU VM \
         with Debian's kernel (cargo xtask vm)"
    );
    let mut shares = crate::test::vm_shares();
    // The binaries sit next to xtask itself.
    if let Some(dir) = exe.parent().and_then(|d| d.parent())
        && !shares.iter().any(|s| dir.starts_with(s))
    {
        shares.push(dir.to_path_buf());
    }
    let job = vm::Job {
        shares,
        cwd: workspace_root(),
        argv: [exe.to_string_lossy().as_ref(), "demo"]
            .into_iter()
            .chain(scale_out.then_some("--scale-out"))
            .chain(["--here"])
            .map(String::from)
            .collect(),
        env: Vec::new(),
        timeout: Duration::from_secs(600),
        stdout_copy: None,
    };
    match vm::run_job(&job) {
        Ok(rc) => ExitCode::from(u8::try_from(rc).unwrap_or(1)),
        Err(vm::BootError(e)) => {
            eprintln!("xtask demo: the VM could not run: {e}");
            ExitCode::from(vm::BOOT_FAILED as u8)
        }
    }
}

/// Runs the demo (or the scale-out demo) in this kernel.
fn inner(scale_out: bool) -> ExitCode {
    if !native() {
        eprintln!("xtask demo --here: needs root and a kernel with IPVS");
        return ExitCode::FAILURE;
    }
    let demo = if scale_out {
        crate::demo_scaleout::run
    } else {
        run
    };
    match std::panic::catch_unwind(demo) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("\ndemo failed: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("\ndemo failed (see the message above)");
            ExitCode::FAILURE
        }
    }
}

/// What happened when, for the timeline.
struct Story {
    t0: Instant,
    events: Vec<(Instant, String)>,
}

impl Story {
    fn secs(&self, t: Instant) -> f64 {
        t.saturating_duration_since(self.t0).as_secs_f64()
    }

    /// Prints and records an event that happened at `at`.
    fn event(&mut self, at: Instant, what: impl Into<String>) {
        let what = what.into();
        println!("[{:6.2}s] {what}", self.secs(at));
        self.events.push((at, what));
    }

    /// An event happening now.
    fn now(&mut self, what: impl Into<String>) {
        self.event(Instant::now(), what);
    }
}

/// The value of `key = VALUE` in an lvs.cf text.
fn key<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim())
    })
}

/// Who answered each request (`rs1 rs2 rs3 …`, failures as `FAIL`), 16
/// to a line.
fn show(reqs: &[Request]) -> String {
    let words: Vec<String> = reqs
        .iter()
        .map(|r| r.result.clone().unwrap_or_else(|_| "FAIL".into()))
        .collect();
    words
        .chunks(16)
        .map(|c| c.join(" "))
        .collect::<Vec<_>>()
        .join("\n    ")
}

/// How many requests each real server answered, and how many failed.
pub(crate) fn counts(reqs: &[Request]) -> String {
    tally(reqs)
        .into_iter()
        .map(|(k, v)| {
            if k.is_empty() {
                format!("failed: {v}")
            } else {
                format!("{k}: {v}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `rs1 rs2 rs3` for the destinations in director `i`'s table.
fn table(c: &Cluster, i: usize) -> String {
    let dests = c.d[i].destinations();
    let names: Vec<&str> =
        c.rs.iter()
            .filter(|r| dests.contains(&r.dest()))
            .map(|r| r.name.as_str())
            .collect();
    if names.is_empty() {
        "(empty)".into()
    } else {
        names.join(" ")
    }
}

/// Waits for `line` in director `i`'s output after `mark`; records it.
fn expect(
    c: &Cluster,
    s: &mut Story,
    i: usize,
    mark: usize,
    line: &str,
    patience: u64,
) -> Result<(), String> {
    match c.d[i].wait_line(mark, line, Duration::from_secs(patience)) {
        Some(at) => {
            s.event(at, format!("{}: {line}", c.d[i].name));
            Ok(())
        }
        None => Err(format!(
            "{} never logged {line:?}\n{}",
            c.d[i].name,
            c.dump()
        )),
    }
}

fn run() -> Result<(), String> {
    let demo_cf = workspace_root().join("etc/lvs.cf.demo");
    let text =
        std::fs::read_to_string(&demo_cf).map_err(|e| format!("{}: {e}", demo_cf.display()))?;
    let deadtime: f64 = key(&text, "deadtime")
        .and_then(|v| v.parse().ok())
        .unwrap_or(2.0);
    let keepalive: f64 = key(&text, "keepalive")
        .and_then(|v| v.parse().ok())
        .unwrap_or(2.0);
    let text = cluster::with_workspace_nanny(&text);

    let rs = |i| cluster::real_address(Method::Nat, i);
    println!(
        "\npiranha-rs demo: a client, two directors and three real servers in network namespaces\n\n\
         \x20 client {client}\n\
         \x20    |      public network 10.10.0.0/24, VIP {vip}:{port} on the active director's eth0:1\n\
         \x20    +-- d1 eth0 {d1} (primary)    eth1 {p1} --+\n\
         \x20    +-- d2 eth0 {d2} (backup)     eth1 {p2} --+  real network 10.20.0.0/24,\n\
         \x20                                                        |  NAT router {nat} on eth1:1\n\
         \x20                                                        +-- rs1 {r1}\n\
         \x20                                                        +-- rs2 {r2}\n\
         \x20                                                        +-- rs3 {r3}\n\n\
         \x20 lvs.cf: {cf} (NAT, round robin, keepalive {keepalive} s, deadtime {deadtime} s)\n\
         \x20 each director: pulse -n -c <its own copy> --lvsd={lvsd}\n\
         \x20 real servers: lvs-test-httpd, which answers with its own name",
        client = cluster::CLIENT,
        d1 = cluster::DIRECTORS[0],
        d2 = cluster::DIRECTORS[1],
        p1 = cluster::DIRECTORS_PRIVATE[0],
        p2 = cluster::DIRECTORS_PRIVATE[1],
        r1 = rs(0),
        r2 = rs(1),
        r3 = rs(2),
        vip = cluster::VIP,
        port = cluster::PORT,
        nat = cluster::NAT_ROUTER,
        cf = demo_cf.display(),
        lvsd = lvs_tests::bin("lvsd").display(),
    );
    if std::path::Path::new("/run/lvsvm").exists() {
        println!(
            "  (in the VM the CPU is emulated: programs start slowly, the first time most of all)"
        );
    }
    println!();
    let t0 = Instant::now();
    let mut s = Story {
        t0,
        events: Vec::new(),
    };
    let mut c = Cluster::new("dm", Method::Nat);
    s.now("namespaces up; lvs-test-httpd running on rs1, rs2, rs3");

    // Cold start: d1 alone activates after deadtime, then d2 stands by,
    // warm: its lvsd programs the table and runs the nannies too.
    c.d[0].start(&text, WARM);
    s.now("d1: pulse started");
    expect(
        &c,
        &mut s,
        0,
        0,
        "pulse: partner dead: activating lvs",
        deadtime as u64 + 10,
    )?;
    let all: Vec<String> = c.rs.iter().map(|r| r.dest()).collect();
    if !wait_for(Duration::from_secs(20), || c.d[0].destinations() == all) {
        return Err(format!(
            "d1's table never got every real server\n{}",
            c.dump()
        ));
    }
    s.now(format!("d1 holds the VIP; IPVS table: {}", table(&c, 0)));
    c.d[1].start(&text, WARM);
    s.now("d2: pulse --warm-standby started");
    expect(&c, &mut s, 1, 0, "pulse: STARTING PULSE AS BACKUP", 10)?;
    std::thread::sleep(Duration::from_secs_f64(keepalive * 2.0));
    if c.d[1].has_vip() {
        return Err(format!("d2 took the VIP as well\n{}", c.dump()));
    }
    if !wait_for(Duration::from_secs(20), || c.d[1].destinations() == all) {
        return Err(format!(
            "d2's standby table never got every real server\n{}",
            c.dump()
        ));
    }
    s.now(format!(
        "d2 hears d1's heartbeats and stands by, warm (lvsd role {}); IPVS table: {}",
        c.d[1].lvsd_role().unwrap_or_else(|| "?".into()),
        table(&c, 1)
    ));

    println!(
        "\n--- 12 requests from the client to http://{}/",
        cluster::VIP
    );
    let r = requests(&c.client, 12);
    println!("    {}\n    {}\n", show(&r), counts(&r));

    println!("--- rs2's HTTP server stops (a request every 100 ms meanwhile)");
    let traffic = Traffic::start(&c.client, Duration::from_millis(100), 100_000);
    std::thread::sleep(Duration::from_millis(500));
    let mark = c.d[0].mark();
    let stopped = Instant::now();
    c.rs[1].stop();
    s.event(stopped, "rs2's HTTP server stopped");
    let down = format!(
        "nanny: [inactive] shutting down {} due to connection failure",
        c.rs[1].dest()
    );
    expect(&c, &mut s, 0, mark, &down, 15)?;
    let rest = vec![c.rs[0].dest(), c.rs[2].dest()];
    if !wait_for(Duration::from_secs(5), || c.d[0].destinations() == rest) {
        return Err(format!("rs2 is still in d1's table\n{}", c.dump()));
    }
    s.now(format!("d1's IPVS table: {}", table(&c, 0)));
    if !wait_for(Duration::from_secs(5), || c.d[1].destinations() == rest) {
        return Err(format!("rs2 is still in d2's standby table\n{}", c.dump()));
    }
    s.now(format!("d2's standby table too: {}", table(&c, 1)));
    std::thread::sleep(Duration::from_secs(2));
    let during = traffic.since(stopped);
    println!("    {}\n    {}\n", show(&during), counts(&during));

    println!("--- rs2's HTTP server starts again");
    let mark = c.d[0].mark();
    c.rs[1].start();
    let started = Instant::now();
    s.event(started, "rs2's HTTP server started");
    let up = format!("nanny: [ active ] making {} available", c.rs[1].dest());
    expect(&c, &mut s, 0, mark, &up, 15)?;
    if !wait_for(Duration::from_secs(5), || c.d[0].destinations() == all) {
        return Err(format!("rs2 is not back in d1's table\n{}", c.dump()));
    }
    s.now(format!("d1's IPVS table: {}", table(&c, 0)));
    std::thread::sleep(Duration::from_secs(2));
    let back = traffic.since(started);
    println!("    {}\n    {}\n", show(&back), counts(&back));

    println!("--- kill -9 of pulse on the active director d1");
    let d1_mac = c.d[0].mac();
    let d2_mac = c.d[1].mac();
    let mark = c.d[1].mark();
    let arps = ArpWatch::start(&c.client, cluster::VIP);
    let killed = c.d[0].kill9();
    s.event(killed, "d1: pulse killed (kill -9)");
    expect(
        &c,
        &mut s,
        1,
        mark,
        "pulse: partner dead: activating lvs",
        deadtime as u64 + 10,
    )?;
    if !wait_for(Duration::from_secs(10), || {
        c.client_vip_mac().as_deref() == Some(d2_mac.as_str())
    }) {
        return Err(format!(
            "the client still sends to {:?} (d1 {d1_mac}, d2 {d2_mac})",
            c.client_vip_mac()
        ));
    }
    s.now(format!(
        "the client's ARP entry for the VIP moved to d2 ({d2_mac})"
    ));
    if !wait_for(Duration::from_secs(20), || c.d[1].destinations() == all) {
        return Err(format!(
            "d2's table never got every real server\n{}",
            c.dump()
        ));
    }
    s.now(format!("d2's IPVS table: {}", table(&c, 1)));
    std::thread::sleep(Duration::from_secs(2));
    let reqs = traffic.finish();
    let Some(moved) = arps.first_gratuitous_from(killed, &d2_mac).map(|a| a.at) else {
        return Err(format!(
            "the client saw no gratuitous ARP from d2\n{}",
            c.dump()
        ));
    };
    s.event(moved, "d2's first gratuitous ARP reaches the client");
    let failover: Vec<Request> = reqs.iter().filter(|r| r.start >= killed).cloned().collect();
    println!("    {}\n    {}", show(&failover), counts(&failover));
    let failed: Vec<&Request> = failover.iter().filter(|r| r.result.is_err()).collect();
    match (failed.first(), failed.last()) {
        (Some(first), Some(last)) => {
            let rel = |t: Instant| t.saturating_duration_since(killed).as_secs_f64();
            println!(
                "    {} requests failed, started between +{:.2}s and +{:.2}s after the kill \
                 (deadtime {deadtime} s)",
                failed.len(),
                rel(first.start),
                rel(last.start)
            );
            s.event(first.start, "first failed request");
            s.event(last.start, "last failed request");
        }
        _ => println!("    no request failed"),
    }
    let (across, _) = cluster::failed_across_move(&reqs, killed, moved);
    if !across.is_empty() {
        println!(
            "    the request in flight when the client's ARP entry moved failed: its \
             connection opened through d1 and went on through d2, which has no record of it"
        );
    }
    if !cluster::failed_beyond_the_move(&reqs, killed, moved).is_empty() {
        return Err(format!(
            "with warm standby the kill -9 of pulse should cost no request but the one in \
             flight when the client moved; {} failed\n{}",
            failed.len(),
            c.dump()
        ));
    }
    if let Some(ok) = failover
        .iter()
        .rev()
        .take_while(|r| r.result.is_ok())
        .last()
    {
        s.event(ok.start, "every request succeeds from here on");
    }
    println!(
        "    (d1 still holds the VIP and its lvsd still runs: kill -9 leaves them; the \
         gratuitous ARPs of d2 moved the clients and the real servers over)"
    );

    println!("\n--- timeline (seconds since the namespaces were built)");
    s.events.sort_by_key(|(t, _)| *t);
    for (t, what) in &s.events {
        println!("  {:7.3}  {what}", s.secs(*t));
    }
    println!("\ndemo finished: every step happened as expected");
    Ok(())
}
