//! piranha-exporter against the real kernel table (VM tier): two
//! directors running pulse → lvsd → nanny with NAT, client traffic through
//! the VIP, then the exporter's IPVS series (from /proc/net/ip_vs,
//! /proc/net/ip_vs_stats and lvsd's `stats` answer) are compared with
//! `ipvsadm -Ln --stats --exact` and `ipvsadm -Ln` in the active
//! director's namespace; and pulse's series say which director is active.

use std::collections::BTreeMap;
use std::time::Duration;

use lvs_tests::Need;
use lvs_tests::cluster::{self, Cluster, Config, Method, program, requests};
use lvs_tests::netns::Netns;

/// Series of an exposition: `name{labels}` → value.
fn series(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// The value of the one series named `name` whose labels include every
/// `key="value"` of `labels`.
fn value(s: &BTreeMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let hits: Vec<f64> = s
        .iter()
        .filter(|(k, _)| {
            k.split('{').next() == Some(name)
                && labels
                    .iter()
                    .all(|(l, v)| k.contains(&format!("{l}=\"{v}\"")))
        })
        .map(|(_, v)| *v)
        .collect();
    assert!(hits.len() <= 1, "{name} {labels:?}: {hits:?}");
    hits.first().copied()
}

fn run(ns: &Netns, prog: &std::path::Path, args: &[&str]) -> String {
    let out = ns.command(prog).args(args).output().expect("run");
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        prog.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ipvsadm -Ln --stats --exact` rows: (service or `-> dest`, [conns,
/// inpkts, outpkts, inbytes, outbytes]).
fn ipvsadm_stats(text: &str) -> Vec<(String, [u64; 5])> {
    text.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let (key, nums) = match w.as_slice() {
                ["->", addr, rest @ ..] if rest.len() == 5 => (format!("-> {addr}"), rest),
                [proto, addr, rest @ ..] if rest.len() == 5 && ["TCP", "UDP"].contains(proto) => {
                    (format!("{proto} {addr}"), rest)
                }
                _ => return None,
            };
            let n: Vec<u64> = nums.iter().filter_map(|x| x.parse().ok()).collect();
            (n.len() == 5).then(|| (key, [n[0], n[1], n[2], n[3], n[4]]))
        })
        .collect()
}

#[test]
fn exporter_ipvs_series_match_ipvsadm() {
    let test = "exporter_ipvs_series_match_ipvsadm";
    if !(lvs_tests::require(Need::Ipvs, test) && lvs_tests::require(Need::Netns, test)) {
        return;
    }
    let _serial = cluster::serial();
    let mut c = Cluster::new("mx", Method::Nat);
    let cf = Config::new(Method::Nat);
    c.cold_start(&cf);
    let r = requests(&c.client, 30);
    assert!(r.iter().all(|r| r.result.is_ok()), "{r:?}\n{}", c.dump());
    // The kernel moves a dump's counters at its 2 s estimator tick.
    std::thread::sleep(Duration::from_secs(3));
    let d1 = &c.d[0];
    let exporter = program("piranha-exporter");
    let pulse_socket = d1.status_socket().display().to_string();
    let lvsd_socket = format!("--lvsd-socket={}", d1.lvsd_socket().display());
    let once = |ns: &Netns| {
        series(&run(
            ns,
            &exporter,
            &[
                "--once",
                &format!("--pulse-socket={pulse_socket}"),
                &lvsd_socket,
                // Under emulation (TCG) lvsd's netlink dump is slow.
                "--timeout=900ms",
            ],
        ))
    };
    // Both daemons answered within the exporter's limit (a scrape under
    // emulation can miss it; the next one is taken).
    let answered = |s: &BTreeMap<String, f64>| {
        value(s, "piranha_up", &[("component", "lvsd")]) == Some(1.0)
            && value(s, "piranha_up", &[("component", "pulse")]) == Some(1.0)
    };
    let s = (0..10)
        .map(|_| once(&d1.ns))
        .find(answered)
        .expect("lvsd and pulse answer the exporter");
    let stats = run(
        &d1.ns,
        std::path::Path::new("ipvsadm"),
        &["-Ln", "--stats", "--exact"],
    );
    let rows = ipvsadm_stats(&stats);
    assert!(
        rows.len() >= 4,
        "a service and three real servers:\n{stats}"
    );
    assert_eq!(
        value(&s, "piranha_up", &[("component", "lvsd")]),
        Some(1.0),
        "{s:?}"
    );
    assert_eq!(
        value(&s, "piranha_up", &[("component", "pulse")]),
        Some(1.0)
    );
    assert_eq!(value(&s, "piranha_ipvs_up", &[]), Some(1.0));
    let names = [
        "connections_total",
        "incoming_packets_total",
        "outgoing_packets_total",
        "incoming_bytes_total",
        "outgoing_bytes_total",
    ];
    let mut service_conns = 0;
    let mut service = ("", "");
    for (key, nums) in &rows {
        if let Some(dest) = key.strip_prefix("-> ") {
            let (addr, port) = dest.rsplit_once(':').unwrap();
            for (n, want) in names.iter().zip(nums) {
                let got = value(
                    &s,
                    &format!("piranha_ipvs_backend_{n}"),
                    &[
                        ("local_address", service.0),
                        ("local_port", service.1),
                        ("remote_address", addr),
                        ("remote_port", port),
                        ("proto", "TCP"),
                    ],
                );
                assert_eq!(
                    got,
                    Some(*want as f64),
                    "backend {dest} {n}\n{stats}\n{s:#?}"
                );
            }
        } else {
            let (_, addr) = key.split_once(' ').unwrap();
            let (vip, port) = addr.rsplit_once(':').unwrap();
            service = (vip, port);
            service_conns += nums[0];
            for (n, want) in names.iter().zip(nums) {
                let got = value(
                    &s,
                    &format!("piranha_ipvs_service_{n}"),
                    &[
                        ("local_address", vip),
                        ("local_port", port),
                        ("proto", "TCP"),
                    ],
                );
                assert_eq!(
                    got,
                    Some(*want as f64),
                    "service {addr} {n}\n{stats}\n{s:#?}"
                );
            }
        }
    }
    assert!(service_conns >= 30, "{stats}");
    // Whole-table counters (/proc/net/ip_vs_stats): only this service had traffic.
    assert_eq!(
        value(&s, "piranha_ipvs_connections_total", &[]),
        Some(service_conns as f64)
    );
    // Backend gauges (/proc/net/ip_vs) against ipvsadm -Ln; the inactive
    // counts may move between the two reads, so a few tries.
    let table_matches = || {
        let s = once(&d1.ns);
        let table = run(&d1.ns, std::path::Path::new("ipvsadm"), &["-Ln"]);
        table
            .lines()
            .filter_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                match w.as_slice() {
                    ["->", dest, _fwd, weight, active, inactive]
                        if weight.parse::<u32>().is_ok() =>
                    {
                        Some((*dest, [*weight, *active, *inactive]))
                    }
                    _ => None,
                }
            })
            .all(|(dest, [weight, active, inactive])| {
                let (addr, port) = dest.rsplit_once(':').unwrap();
                let l = [("remote_address", addr), ("remote_port", port)];
                let v = |n: &str| value(&s, n, &l).map(|v| v.to_string());
                v("piranha_ipvs_backend_weight").as_deref() == Some(weight)
                    && v("piranha_ipvs_backend_connections_active").as_deref() == Some(active)
                    && v("piranha_ipvs_backend_connections_inactive").as_deref() == Some(inactive)
            })
    };
    assert!(
        (0..5).any(|_| table_matches()),
        "backend gauges differ from ipvsadm -Ln\n{}\n{:#?}",
        run(&d1.ns, std::path::Path::new("ipvsadm"), &["-Ln"]),
        once(&d1.ns)
            .into_iter()
            .filter(|(k, _)| k.starts_with("piranha_ipvs_backend_"))
            .collect::<Vec<_>>()
    );
    // pulse's view: d1 active, and on d2 (no lvsd, empty table) standby
    // with lvsd reported down and no IPVS backends.
    assert_eq!(
        value(&s, "piranha_pulse_role", &[("state", "active")]),
        Some(1.0)
    );
    let d2 = &c.d[1];
    let s2 = series(&run(
        &d2.ns,
        &exporter,
        &[
            "--once",
            &format!("--pulse-socket={}", d2.status_socket().display()),
            "--lvsd-socket=/run/no-lvsd-here.sock",
        ],
    ));
    assert_eq!(
        value(&s2, "piranha_pulse_role", &[("state", "standby")]),
        Some(1.0)
    );
    assert_eq!(
        value(&s2, "piranha_up", &[("component", "lvsd")]),
        Some(0.0)
    );
    assert!(
        !s2.keys().any(|k| k.starts_with("piranha_ipvs_backend_")),
        "{s2:#?}"
    );
}
