//! `cargo xtask demo --scale-out`: several active directors behind ECMP
//! (docs/scale-out.md). A client behind an upstream router running FRR
//! (BGP multipath, BFD), three directors running this suite (pulse in
//! scale-out mode, lvsd, the nannies) and BIRD, four direct-routing real
//! servers answering with their name. It shows new flows spread over the
//! three directors, long-lived connections opened, one director killed
//! (every process, and its link), its route withdrawn, and the long-lived
//! connections that went through it carrying on through the others, to
//! the same real servers.
//!
//! Runs where [`crate::demo`] runs (natively with IPVS, else in the VM).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use lvs_tests::cluster::requests_to;

use crate::demo::counts;
use lvs_tests::scaleout::{self, ScaleOut, VIP, vip_addr};

/// The directors started (d4 exists but stays off).
const STARTED: usize = 3;
/// Long-lived connections opened before the fault.
const SESSIONS: usize = 30;

fn per_director(holders: &[Option<usize>]) -> String {
    let mut m: BTreeMap<String, usize> = BTreeMap::new();
    for h in holders {
        let k = h.map_or("none".to_string(), |i| format!("d{}", i + 1));
        *m.entry(k).or_default() += 1;
    }
    m.into_iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The demo; `Err` says what did not happen.
pub fn run() -> Result<(), String> {
    println!(
        "\npiranha-rs scale-out demo: three active directors behind ECMP\n\n\
         \x20 client {client} -- upstream router (FRR: BGP multipath + BFD, ECMP hashing on ports)\n\
         \x20                        |  director network 10.30.0.0/24\n\
         \x20    d1 {d1}, d2 {d2}, d3 {d3}: pulse (scale-out) + lvsd + nannies + BIRD,\n\
         \x20    VIP {VIP} on lvs0 while serving (BIRD announces it), IPVS mh + mh-port\n\
         \x20    rs1..rs4 {r1}..{r4}: direct routing, lvs-test-httpd answers with its name\n",
        client = scaleout::CLIENT,
        d1 = scaleout::director_address(0),
        d2 = scaleout::director_address(1),
        d3 = scaleout::director_address(2),
        r1 = scaleout::server_address(0),
        r4 = scaleout::server_address(3),
    );
    let t0 = Instant::now();
    let at = |t: Instant| t.saturating_duration_since(t0).as_secs_f64();
    let mut c = ScaleOut::new("dm");
    println!(
        "[{:6.2}s] namespaces up; FRR, BIRD and the real servers running",
        at(Instant::now())
    );
    for i in 0..STARTED {
        c.start(i, scaleout::DIRECTORS);
    }
    println!("[{:6.2}s] pulse started on d1, d2, d3", at(Instant::now()));
    let all: Vec<usize> = (0..STARTED).collect();
    if !c.wait_next_hops(&all, Duration::from_secs(60)) {
        return Err(format!(
            "the upstream router never routed the VIP over d1-d3\n{}",
            c.dump()
        ));
    }
    println!(
        "[{:6.2}s] the upstream router routes {VIP} over {}",
        at(Instant::now()),
        c.next_hops().join(", ")
    );
    if !c.wait_bfd(STARTED, Duration::from_secs(30)) {
        return Err(format!("BFD sessions never came up\n{}", c.dump()));
    }
    println!("[{:6.2}s] BFD up with every director", at(Instant::now()));

    println!("\n--- 24 new connections from the client");
    let r = requests_to(&c.client, vip_addr(), 24);
    println!("    real servers: {}", counts(&r));
    let per: Vec<String> = c
        .members
        .iter()
        .take(STARTED)
        .map(|m| {
            let n =
                m.d.connections()
                    .lines()
                    .filter(|l| l.starts_with("TCP "))
                    .count();
            format!("{}: {n}", m.d.name)
        })
        .collect();
    println!("    connections per director: {}", per.join(", "));
    if r.iter().any(|x| x.result.is_err()) {
        return Err(format!("requests failed before any fault\n{}", c.dump()));
    }

    println!("\n--- {SESSIONS} long-lived connections, one request each");
    let (mut sessions, first) =
        scaleout::open_sessions(&c.client, SESSIONS).map_err(|e| format!("{e}\n{}", c.dump()))?;
    let ports: Vec<u16> = sessions.iter().map(|s| s.local_port).collect();
    let before = c.holders(&ports);
    println!("    held by {}", per_director(&before));
    let through_d1 = before.iter().filter(|h| **h == Some(0)).count();

    println!("\n--- d1 crashes: every process killed, its link down");
    let crashed = c.crash_with_link(0);
    println!("[{:6.2}s] d1 crashed", at(crashed));
    if !c.wait_next_hops(&[1, 2], Duration::from_secs(10)) {
        return Err(format!("d1's route was never withdrawn\n{}", c.dump()));
    }
    let withdrawn = Instant::now();
    println!(
        "[{:6.2}s] the upstream router dropped d1 ({:.2} s after the crash): routes over {}",
        at(withdrawn),
        (withdrawn - crashed).as_secs_f64(),
        c.next_hops().join(", ")
    );
    let (same, failed) = scaleout::survivors(&mut sessions, &first);
    let after = c.holders(&ports);
    println!(
        "    {same} of {SESSIONS} long-lived connections answered by the same real server \
         ({through_d1} of them went through d1); now held by {}",
        per_director(&after)
    );
    let r = requests_to(&c.client, vip_addr(), 12);
    println!("    12 new connections: {}", counts(&r));
    if !failed.is_empty() {
        return Err(format!(
            "long-lived connections broke: {failed:?}\n{}",
            c.dump()
        ));
    }
    if r.iter().any(|x| x.result.is_err()) {
        return Err(format!(
            "new requests failed after the withdrawal\n{}",
            c.dump()
        ));
    }
    println!("\nscale-out demo finished: every step happened as expected");
    Ok(())
}
