//! IPVS programming benchmark. Needs a kernel with IPVS and root: run it with
//! `cargo xtask bench-ipvs` (it boots the VM and runs this there).
//!
//! 1. N services × 4 destinations (N = `LVS_BENCH_SERVICES`, default 10,000)
//!    into an empty table with this crate (one socket, pipelined), against
//!    `ipvsadm -R` loading the same rules in the same boot.
//! 2. M rules (`LVS_BENCH_RULES`, default 1,000: M/5 services with 4
//!    destinations each) with this crate, against one `ipvsadm` process per
//!    rule, as Piranha's lvsd and nanny do.
//!
//! Every run starts from an empty table in a fresh network namespace, and
//! every result is checked against the kernel's table. Prints times and
//! ratios.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ipvs::{Client, Dest, Forward, Op, Service, ServiceKey};

const IPVSADM: &str = "/sbin/ipvsadm";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `services` services with 4 destinations each, as ops and as ipvsadm lines.
fn rules(services: usize) -> (Vec<Op>, Vec<String>) {
    let mut ops = Vec::with_capacity(services * 5);
    let mut lines = Vec::with_capacity(services * 5);
    for i in 0..services {
        let vip = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 0, 1)) + i as u32);
        let key = ServiceKey::tcp(vip, 80);
        ops.push(Op::AddService(Service::new(key, "wlc")));
        lines.push(format!("-A -t {vip}:80 -s wlc"));
        for j in 1..=4u8 {
            let rip = Ipv4Addr::new(172, 16, (i % 250) as u8, j);
            ops.push(Op::AddDest(
                key,
                Dest::new(rip, 80, Forward::Masq).weight(u32::from(j)),
            ));
            lines.push(format!("-a -t {vip}:80 -r {rip}:80 -m -w {j}"));
        }
    }
    (ops, lines)
}

/// Runs `f` on a thread in a new, empty network namespace.
fn in_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        // SAFETY: unshare affects only the calling thread.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "unshare: {}", std::io::Error::last_os_error());
        // With no address at all the namespace has no local routing table,
        // and the kernel refuses IPv4 real servers (EINVAL): bring lo up.
        let st = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status()
            .expect("run ip");
        assert!(st.success(), "ip link set lo up: {st}");
        f()
    })
    .join()
    .expect("benchmark thread")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Services and destinations in the current namespace's table (by GET of
/// each service: a single dump is exact here, but this needs no trust in it).
async fn count(c: &Client) -> (usize, usize) {
    let services = c.services().await.expect("list services");
    let mut dests = 0;
    for s in &services {
        dests += c.dests(&s.service.key).await.expect("list dests").len();
    }
    (services.len(), dests)
}

/// This crate: one client, all ops pipelined.
fn crate_apply(ops: Vec<Op>, want: (usize, usize)) -> Duration {
    in_netns(move || {
        runtime().block_on(async move {
            let t = Instant::now();
            let c = Client::connect().await.expect("connect");
            c.apply(&ops).await.expect("apply");
            let el = t.elapsed();
            assert_eq!(count(&c).await, want, "crate run: wrong table");
            el
        })
    })
}

/// This crate, one op per request (no pipelining).
fn crate_one_by_one(ops: Vec<Op>, want: (usize, usize)) -> Duration {
    in_netns(move || {
        runtime().block_on(async move {
            let t = Instant::now();
            let c = Client::connect().await.expect("connect");
            for op in &ops {
                c.apply(std::slice::from_ref(op)).await.expect("apply");
            }
            let el = t.elapsed();
            assert_eq!(count(&c).await, want, "crate run: wrong table");
            el
        })
    })
}

/// `tool -R` fed `lines` on stdin.
fn restore(tool: String, lines: Vec<String>, want: (usize, usize)) -> Duration {
    in_netns(move || {
        let input = lines.join("\n") + "\n";
        let t = Instant::now();
        let mut child = Command::new(&tool)
            .arg("-R")
            .stdin(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write rules");
        let st = child.wait().expect("wait");
        let el = t.elapsed();
        assert!(st.success(), "{tool} -R: {st}");
        let got = runtime().block_on(async {
            let c = Client::connect().await.expect("connect");
            count(&c).await
        });
        assert_eq!(got, want, "{tool} -R: wrong table");
        el
    })
}

/// One `ipvsadm` process per rule.
fn per_process(lines: Vec<String>, want: (usize, usize)) -> Duration {
    in_netns(move || {
        let t = Instant::now();
        for l in &lines {
            let st = Command::new(IPVSADM)
                .args(l.split_whitespace())
                .status()
                .expect("run ipvsadm");
            assert!(st.success(), "ipvsadm {l}: {st}");
        }
        let el = t.elapsed();
        let got = runtime().block_on(async {
            let c = Client::connect().await.expect("connect");
            count(&c).await
        });
        assert_eq!(got, want, "ipvsadm per rule: wrong table");
        el
    })
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn main() {
    if !std::path::Path::new("/proc/net/ip_vs").exists() {
        eprintln!("ipvs_bench: this kernel has no IPVS; run `cargo xtask bench-ipvs`");
        std::process::exit(1);
    }
    let n = env_usize("LVS_BENCH_SERVICES", 10_000);
    let m = env_usize("LVS_BENCH_RULES", 1_000);
    // target/release/examples/ipvs_bench -> target/release/ipvsadm-rs (of
    // crates/ipvsadm; `cargo xtask bench-ipvs` builds both)
    let rs = std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.parent()?.parent()?.join("ipvsadm-rs")))
        .filter(|p| p.exists());

    println!("IPVS programming benchmark ({n} services x 4 destinations; {m} rules)");
    let (ops, lines) = rules(n);
    let want = (n, 4 * n);
    let t_crate = crate_apply(ops.clone(), want);
    println!(
        "  ipvs crate, pipelined, {} ops:      {:8.3} s",
        ops.len(),
        secs(t_crate)
    );
    let t_restore = restore(IPVSADM.into(), lines.clone(), want);
    println!(
        "  ipvsadm -R, same rules:              {:8.3} s",
        secs(t_restore)
    );
    let t_rs = rs.map(|rs| {
        let t = restore(rs.to_string_lossy().into_owned(), lines.clone(), want);
        println!("  ipvsadm-rs -R, same rules:           {:8.3} s", secs(t));
        t
    });
    let t_one = crate_one_by_one(ops, want);
    println!(
        "  ipvs crate, one op per request:      {:8.3} s",
        secs(t_one)
    );

    let svcs = (m / 5).max(1);
    let (ops_m, lines_m) = rules(svcs);
    let want_m = (svcs, 4 * svcs);
    let t_crate_m = crate_apply(ops_m, want_m);
    println!(
        "  ipvs crate, pipelined, {} rules:     {:8.3} s",
        lines_m.len(),
        secs(t_crate_m)
    );
    let t_proc = per_process(lines_m.clone(), want_m);
    println!(
        "  ipvsadm, one process per rule, {} rules: {:8.3} s",
        lines_m.len(),
        secs(t_proc)
    );

    println!("ratios (higher = the crate is faster):");
    println!(
        "  ipvsadm -R / ipvs crate ({n}x4):          {:8.1}x",
        secs(t_restore) / secs(t_crate)
    );
    if let Some(t) = t_rs {
        println!(
            "  ipvsadm -R / ipvsadm-rs -R ({n}x4):       {:8.1}x",
            secs(t_restore) / secs(t)
        );
    }
    println!(
        "  ipvsadm -R / ipvs crate one-by-one:       {:8.1}x",
        secs(t_restore) / secs(t_one)
    );
    println!(
        "  ipvsadm per rule / ipvs crate ({} rules): {:8.1}x",
        lines_m.len(),
        secs(t_proc) / secs(t_crate_m)
    );
}
