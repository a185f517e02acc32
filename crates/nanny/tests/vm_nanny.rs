//! nanny run by hand (no report fd, no `--test-start`) changes the real
//! kernel IPVS table through `crates/ipvs` (VM tier: `cargo xtask test
//! --tier vm`). Each test runs in its own network namespace with its own
//! server; the table is read back after every state change.

mod support;

use std::net::{IpAddr, Ipv4Addr};

use ipvs::{Client, DestEntry, Op, Service, ServiceKey};
use support::*;

const VIP: [u8; 4] = [192, 0, 2, 100];

/// Runs `body` on a thread inside a new network namespace (with `lo` up),
/// with a tokio runtime and a connected client. nanny and the servers
/// started from that thread live in the namespace.
fn in_netns(test: &str, body: impl FnOnce(&tokio::runtime::Runtime, Client) + Send + 'static) {
    if !lvs_tests::require(lvs_tests::Need::Ipvs, test) {
        return;
    }
    let h = std::thread::spawn(move || {
        lvs_tests::netns::enter_new();
        let rt = lvs_tests::runtime();
        let c = rt.block_on(Client::connect()).expect("IPVS");
        body(&rt, c);
    });
    if let Err(p) = h.join() {
        std::panic::resume_unwind(p);
    }
}

fn dests(rt: &tokio::runtime::Runtime, c: &Client, key: &ServiceKey) -> Vec<(u16, u32)> {
    let d: Vec<DestEntry> = rt.block_on(c.dests(key)).unwrap();
    d.iter()
        .map(|e| {
            assert_eq!(e.dest.addr, IpAddr::V4(Ipv4Addr::LOCALHOST));
            (e.dest.port, e.dest.weight)
        })
        .collect()
}

/// Waits until the service's destinations are `want` (the log line comes
/// just before the change is made).
fn expect_dests(rt: &tokio::runtime::Runtime, c: &Client, key: &ServiceKey, want: &[(u16, u32)]) {
    let mut last = Vec::new();
    let ok = lvs_tests::netns::wait_for(LONG, || {
        last = dests(rt, c, key);
        last == want
    });
    assert!(ok, "destinations {last:?}, want {want:?}");
}

/// nanny run by hand for the real server 127.0.0.1:`port` of
/// 192.0.2.100:80 with a 1 s timeout: `-h 127.0.0.1 -p 80 -r PORT -V
/// 192.0.2.100 -t 1 EXTRA… --lvs`.
fn by_hand(port: &str, extra: &[&str]) -> Nanny {
    let mut args = vec![
        "-h",
        "127.0.0.1",
        "-p",
        "80",
        "-r",
        port,
        "-V",
        "192.0.2.100",
        "-t",
        "1",
    ];
    args.extend_from_slice(extra);
    args.push("--lvs");
    Nanny::spawn(nanny(&args))
}

fn add_service(rt: &tokio::runtime::Runtime, c: &Client) -> ServiceKey {
    let key = ServiceKey::tcp(VIP, 80);
    rt.block_on(c.apply(&[Op::AddService(Service::new(key, "wlc"))]))
        .unwrap();
    key
}

#[test]
fn quiesce_and_restore_in_the_kernel_table() {
    in_netns("vm_nanny_quiesce", |rt, c| {
        let key = add_service(rt, &c);
        let srv = scripted(|i| i != 2);
        let p = srv.port();
        let mut n = by_hand(&p, &["-a", "1", "-w", "64", "-q", "-x", "HTTP"]);
        let port: u16 = p.parse().unwrap();
        n.out
            .wait(&format!("nanny: [ active ] making 127.0.0.1:{p} available"));
        expect_dests(rt, &c, &key, &[(port, 2)]);
        n.out.wait_prefix("nanny: [inactive] shutting down");
        expect_dests(rt, &c, &key, &[(port, 0)]); // quiesced, not deleted
        n.out
            .wait_count(2, |l| l.starts_with("nanny: [ active ] making"));
        expect_dests(rt, &c, &key, &[(port, 2)]);
        assert_eq!(n.terminate(), 0);
        expect_dests(rt, &c, &key, &[]); // removed at termination
    });
}

#[test]
fn direct_routing_uses_the_virtual_port_e7() {
    in_netns("vm_nanny_e7", |rt, c| {
        let key = add_service(rt, &c);
        // healthy, then failing: the delete must find the destination
        let srv = scripted(|i| i == 1);
        let p = srv.port();
        let mut n = by_hand(&p, &["-M", "g", "-x", "HTTP"]);
        n.out.wait_prefix("nanny: [ active ] making");
        expect_dests(rt, &c, &key, &[(80, 1)]);
        n.out.wait_prefix("nanny: [inactive] shutting down");
        expect_dests(rt, &c, &key, &[]);
        assert_eq!(n.terminate(), 0, "{:#?}", n.lines());
        assert!(!n.lines().iter().any(|l| l.contains("command failed")));
    });
}

#[test]
fn kernel_error_exits_255() {
    in_netns("vm_nanny_kernel_error", |_rt, _c| {
        // no virtual service in this namespace: the add fails
        let srv = scripted(|_| true);
        let p = srv.port();
        let mut n = by_hand(&p, &["-x", "HTTP"]);
        assert_eq!(n.wait_exit(), 255);
        assert_eq!(
            n.lines(),
            [
                format!("starting LVS client monitor for 192.0.2.100:80 -> 127.0.0.1:{p}"),
                format!("[ active ] making 127.0.0.1:{p} available"),
                "/sbin/ipvsadm command failed!".into(),
            ]
        );
    });
}
