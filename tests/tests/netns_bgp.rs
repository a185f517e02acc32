//! The scale-out routing plumbing in namespaces (docs/scale-out.md), with
//! the shipped `etc/scale-out` configurations: FRR on an upstream router,
//! BIRD on three directors announcing what is on their `lvs0`. The
//! upstream router installs one ECMP route over every director that holds
//! the VIP; a director that removes it is withdrawn at once, one whose link
//! dies is dropped by BFD, well before the 3 s hold time.

use std::time::{Duration, Instant};

use lvs_tests::Need;
use lvs_tests::bgp::{self, Speaker, Upstream};
use lvs_tests::lab::Lab;
use lvs_tests::scaleout::add_lvs0;

const VIP: &str = "10.50.0.100";
const UPSTREAM: &str = "10.30.0.254";
const DIRECTORS: [&str; 3] = ["10.30.0.1", "10.30.0.2", "10.30.0.3"];

fn ready(test: &str) -> bool {
    if !lvs_tests::require(Need::Netns, test) {
        return false;
    }
    if !bgp::available() {
        lvs_tests::skip(
            test,
            "needs FRR and BIRD 2 (.ci/install-deps installs them)",
        );
        return false;
    }
    true
}

#[test]
fn vips_on_lvs0_become_ecmp_routes_and_go_with_bfd() {
    let test = "vips_on_lvs0_become_ecmp_routes_and_go_with_bfd";
    if !ready(test) {
        return;
    }
    let mut b = Lab::builder("lbg").client("gw", UPSTREAM);
    for (i, a) in DIRECTORS.iter().enumerate() {
        b = b.router(&format!("d{}", i + 1), a);
    }
    let lab = b.build();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let up = Upstream::start(&lab.client, dir.path(), UPSTREAM, "10.30.0.0/24");
    let mut speakers: Vec<Speaker> = Vec::new();
    for (r, a) in lab.routers.iter().zip(DIRECTORS) {
        add_lvs0(r);
        r.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "lvs0"]);
        speakers.push(Speaker::start(r, dir.path(), a, UPSTREAM));
    }
    let diag = |speakers: &[Speaker]| {
        let logs: Vec<String> = speakers.iter().map(|s| s.log()).collect();
        format!(
            "routes:\n{}\n{}\n{}",
            lab.client.ip(&["route", "show"]),
            up.logs(),
            logs.join("\n")
        )
    };
    assert!(
        bgp::wait_next_hops(&lab.client, VIP, &DIRECTORS, Duration::from_secs(30)),
        "no ECMP route over the three directors\n{}",
        diag(&speakers)
    );

    assert!(
        lvs_tests::netns::wait_for(Duration::from_secs(30), || up.bfd_up(&lab.client) == 3),
        "BFD sessions not up: {}\n{}",
        up.vtysh(&lab.client, "show bfd peers brief"),
        diag(&speakers)
    );

    // d1 stops serving the VIP: pulse takes it off lvs0.
    let t = Instant::now();
    lab.routers[0].ip(&["addr", "del", &format!("{VIP}/32"), "dev", "lvs0"]);
    assert!(
        bgp::wait_next_hops(&lab.client, VIP, &DIRECTORS[1..], Duration::from_secs(5)),
        "d1's route not withdrawn\n{}",
        diag(&speakers)
    );
    eprintln!(
        "withdrawn {:.3} s after the address went",
        t.elapsed().as_secs_f64()
    );

    // d2's link dies: BFD (3 x 100 ms) drops it, not the 3 s hold time.
    let t = Instant::now();
    lab.switch.link("d2", false);
    assert!(
        bgp::wait_next_hops(&lab.client, VIP, &DIRECTORS[2..], Duration::from_secs(10)),
        "d2's route not withdrawn\n{}",
        diag(&speakers)
    );
    let bfd = t.elapsed();
    eprintln!("link down: withdrawn after {:.3} s", bfd.as_secs_f64());
    assert!(
        bfd < Duration::from_millis(2500),
        "withdrawn after {bfd:?}: BFD did not act (hold time is 3 s)\n{}",
        diag(&speakers)
    );

    // d1 serves again: announced again.
    lab.routers[0].ip(&["addr", "add", &format!("{VIP}/32"), "dev", "lvs0"]);
    assert!(
        bgp::wait_next_hops(
            &lab.client,
            VIP,
            &[DIRECTORS[0], DIRECTORS[2]],
            Duration::from_secs(10)
        ),
        "d1 not announced again\n{}",
        diag(&speakers)
    );
    drop(speakers);
    drop(up);
}
