//! Every `ipvs` crate operation against the real kernel (VM tier: run with
//! `cargo xtask test --tier vm`). Each test has its own network namespace.

mod common;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::in_netns;
use ipvs::*;
use lvs_tests::Need;
use lvs_tests::netns::{Netns, veth};

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    Ipv4Addr::new(a, b, c, d).into()
}

fn v6(last: u16) -> IpAddr {
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last).into()
}

/// One service of every kind the crate supports.
fn all_services() -> Vec<Service> {
    let mut out = vec![
        Service::new(ServiceKey::tcp(v4(192, 0, 2, 1), 80), "wlc"),
        Service::new(ServiceKey::udp(v4(192, 0, 2, 1), 53), "rr"),
        Service::new(ServiceKey::sctp(v4(192, 0, 2, 1), 9), "lc"),
        Service::new(ServiceKey::tcp(v6(1), 443), "sed"),
        Service::new(ServiceKey::udp(v6(1), 53), "nq"),
        Service::new(ServiceKey::fwmark(7), "wrr"),
        Service::new(ServiceKey::fwmark6(8), "dh"),
        Service::new(ServiceKey::tcp(v4(192, 0, 2, 2), 8080), "lblc")
            .persistent(300, Netmask::V4(Ipv4Addr::new(255, 255, 255, 0))),
        Service::new(ServiceKey::tcp(v6(2), 8080), "lblcr").persistent(60, Netmask::V6(64)),
        // port 0 = all ports (needs persistence)
        Service::new(ServiceKey::tcp(v4(192, 0, 2, 3), 0), "fo")
            .persistent(1800, Netmask::host(Family::V4)),
        Service::new(ServiceKey::fwmark(9), "ovf").persistent(10, Netmask::host(Family::V4)),
    ];
    let mut ops = Service::new(ServiceKey::udp(v4(192, 0, 2, 4), 5060), "rr");
    ops.flags = ServiceFlags::ONEPACKET;
    out.push(ops);
    let mut sh = Service::new(ServiceKey::tcp(v4(192, 0, 2, 5), 80), "sh");
    sh.flags = ServiceFlags::SCHED1 | ServiceFlags::SCHED2;
    out.push(sh);
    let mut mh = Service::new(ServiceKey::tcp(v4(192, 0, 2, 6), 80), "mh");
    mh.flags = ServiceFlags::SCHED1;
    out.push(mh);
    let mut sip = Service::new(ServiceKey::udp(v4(192, 0, 2, 7), 5060), "rr")
        .persistent(120, Netmask::host(Family::V4));
    sip.pe_name = Some("sip".into());
    out.push(sip);
    out
}

fn listed(entries: &[ServiceEntry]) -> Vec<Service> {
    entries.iter().map(|e| e.service.clone()).collect()
}

fn sorted(mut v: Vec<Service>) -> Vec<Service> {
    v.sort_by_key(|s| s.key);
    v
}

#[test]
fn info_reports_version_and_table_size() {
    in_netns("info_reports_version_and_table_size", |c| async move {
        assert!(c.family_id() >= 16, "family id {}", c.family_id());
        let info = c.info().await.unwrap();
        assert!(info.version >= 0x010200, "version {:#x}", info.version);
        assert_eq!(info.version_triple().0, 1);
        assert!(info.conn_tab_size >= 4096, "size {}", info.conn_tab_size);
    });
}

#[test]
fn every_service_kind_round_trips() {
    in_netns("every_service_kind_round_trips", |c| async move {
        let all = all_services();
        for s in &all {
            c.add_service(s)
                .await
                .unwrap_or_else(|e| panic!("{s:?}: {e}"));
        }
        assert_eq!(
            sorted(listed(&c.services().await.unwrap())),
            sorted(all.clone())
        );
        for s in &all {
            assert_eq!(c.service(&s.key).await.unwrap().service, *s);
        }
        // edit: new scheduler, persistence on/off
        let mut edited = all.clone();
        for s in edited.iter_mut() {
            s.scheduler = "rr".into();
            if s.pe_name.is_none()
                && s.key.port() != 0
                && !s.flags.contains(ServiceFlags::PERSISTENT)
            {
                let fam = s.key.family();
                *s = s.clone().persistent(77, Netmask::host(fam));
            }
            s.flags = s
                .flags
                .without(ServiceFlags::SCHED1)
                .without(ServiceFlags::SCHED2);
            c.edit_service(s)
                .await
                .unwrap_or_else(|e| panic!("{s:?}: {e}"));
        }
        assert_eq!(
            sorted(listed(&c.services().await.unwrap())),
            sorted(edited.clone())
        );
        for s in &edited {
            c.del_service(&s.key).await.unwrap();
        }
        assert!(c.services().await.unwrap().is_empty());
    });
}

/// Destinations of every kind, on an IPv4 and an IPv6 service.
fn all_dests(fam: Family) -> Vec<Dest> {
    let a = |n: u8| match fam {
        Family::V4 => v4(10, 0, 0, n),
        Family::V6 => v6(0x100 + u16::from(n)),
    };
    let mut out = vec![
        Dest::new(a(1), 80, Forward::Masq).weight(3),
        Dest::new(a(2), 8080, Forward::Masq).weight(0),
        Dest::new(a(3), 80, Forward::Route).weight(65535),
        Dest::new(a(4), 80, Forward::Tunnel),
    ];
    let mut th = Dest::new(a(5), 80, Forward::Masq);
    th.u_threshold = 100;
    th.l_threshold = 10;
    out.push(th);
    let mut gue = Dest::new(a(6), 80, Forward::Tunnel);
    gue.tunnel = Tunnel {
        kind: TunnelType::Gue,
        port: 6080,
        csum: TunnelCsum::Csum,
    };
    out.push(gue);
    let mut gre = Dest::new(a(7), 80, Forward::Tunnel);
    gre.tunnel = Tunnel {
        kind: TunnelType::Gre,
        port: 0,
        csum: TunnelCsum::NoCsum,
    };
    out.push(gre);
    let mut rem = Dest::new(a(8), 80, Forward::Tunnel);
    rem.tunnel = Tunnel {
        kind: TunnelType::Gue,
        port: 7000,
        csum: TunnelCsum::RemCsum,
    };
    out.push(rem);
    // the other family: allowed with tunnelling only
    let other = match fam {
        Family::V4 => v6(0x200),
        Family::V6 => v4(10, 0, 1, 1),
    };
    out.push(Dest::new(other, 80, Forward::Tunnel));
    out
}

#[test]
fn every_destination_kind_round_trips() {
    in_netns("every_destination_kind_round_trips", |c| async move {
        for (key, fam) in [
            (ServiceKey::tcp(v4(192, 0, 2, 1), 80), Family::V4),
            (ServiceKey::tcp(v6(1), 80), Family::V6),
            (ServiceKey::fwmark(5), Family::V4),
        ] {
            c.add_service(&Service::new(key, "wlc")).await.unwrap();
            let dests = all_dests(fam);
            for d in &dests {
                c.add_dest(&key, d)
                    .await
                    .unwrap_or_else(|e| panic!("{d:?}: {e}"));
            }
            let mut got: Vec<Dest> = c
                .dests(&key)
                .await
                .unwrap()
                .iter()
                .map(|e| e.dest)
                .collect();
            let mut want = dests.clone();
            got.sort_by_key(|d| d.key());
            want.sort_by_key(|d| d.key());
            assert_eq!(got, want, "service {key}");
            // edit weights, thresholds and methods
            for d in &dests {
                let mut e = *d;
                e.weight += 1;
                if e.forward == Forward::Masq && Family::of(&e.addr) == fam {
                    e.forward = Forward::Route;
                }
                e.u_threshold = 50;
                e.l_threshold = 5;
                c.edit_dest(&key, &e)
                    .await
                    .unwrap_or_else(|err| panic!("{e:?}: {err}"));
                let now = c.dests(&key).await.unwrap();
                assert!(now.iter().any(|x| x.dest == e), "{e:?} not in {now:?}");
            }
            for d in &dests {
                c.del_dest(&key, &d.key()).await.unwrap();
            }
            assert!(c.dests(&key).await.unwrap().is_empty());
        }
        // an unknown service has no destinations (an empty dump)
        assert!(c.dests(&ServiceKey::fwmark(999)).await.unwrap().is_empty());
    });
}

#[test]
fn kernel_errors_are_typed_with_ipvsadm_messages() {
    in_netns(
        "kernel_errors_are_typed_with_ipvsadm_messages",
        |c| async move {
            let key = ServiceKey::tcp(v4(192, 0, 2, 1), 80);
            let s = Service::new(key, "wlc");
            let d = Dest::new(v4(10, 0, 0, 1), 80, Forward::Masq);

            let e = c.edit_service(&s).await.unwrap_err();
            assert!(e.is_not_found());
            assert_eq!(
                e.to_string(),
                "edit service TCP 192.0.2.1:80: No such service"
            );
            let e = c.add_dest(&key, &d).await.unwrap_err();
            assert_eq!(e.plain_message(), "Service not defined");

            c.add_service(&s).await.unwrap();
            let e = c.add_service(&s).await.unwrap_err();
            assert!(e.is_exists());
            assert_eq!(e.operation(), Operation::AddService);
            assert_eq!(e.plain_message(), "Service already exists");

            c.add_dest(&key, &d).await.unwrap();
            let e = c.add_dest(&key, &d).await.unwrap_err();
            assert_eq!(
                e.to_string(),
                "add destination TCP 192.0.2.1:80 -> 10.0.0.1:80: Destination already exists"
            );
            let missing = DestKey {
                addr: v4(10, 0, 0, 9),
                port: 80,
            };
            let e = c.del_dest(&key, &missing).await.unwrap_err();
            assert!(e.is_not_found());
            assert_eq!(e.plain_message(), "No such destination");
            let mut moved = d;
            moved.port = 81;
            assert_eq!(
                c.edit_dest(&key, &moved).await.unwrap_err().plain_message(),
                "No such destination"
            );

            let mut bad = Service::new(ServiceKey::tcp(v4(192, 0, 2, 9), 80), "nosuchsched");
            let e = c.add_service(&bad).await.unwrap_err();
            assert_eq!(
                e.plain_message(),
                "Scheduler or persistence engine not found"
            );
            bad.scheduler = "rr".into();
            bad.pe_name = Some("nope".into());
            assert_eq!(
                c.add_service(&bad).await.unwrap_err().plain_message(),
                "Scheduler or persistence engine not found"
            );
            // an IPv6 service with an IPv4-style mask: EINVAL
            let mut v6bad = Service::new(ServiceKey::tcp(v6(9), 80), "rr");
            v6bad.netmask = Netmask::V6(0);
            let e = c.add_service(&v6bad).await.unwrap_err();
            assert_eq!(e.errno(), Some(libc::EINVAL));
            // lower threshold above upper: ERANGE
            let mut th = Dest::new(v4(10, 0, 0, 2), 80, Forward::Masq);
            th.u_threshold = 1;
            th.l_threshold = 2;
            assert_eq!(
                c.add_dest(&key, &th).await.unwrap_err().errno(),
                Some(libc::ERANGE)
            );
            // mixed families need tunnelling
            let mixed = Dest::new(v6(5), 80, Forward::Masq);
            assert_eq!(
                c.add_dest(&key, &mixed).await.unwrap_err().errno(),
                Some(libc::EINVAL)
            );
            // a name too long for the kernel is refused before sending
            bad.scheduler = "x".repeat(16);
            bad.pe_name = None;
            assert!(matches!(
                c.add_service(&bad).await.unwrap_err(),
                Error::Invalid { .. }
            ));
        },
    );
}

#[test]
fn pipelined_batches_report_each_result_in_order() {
    in_netns(
        "pipelined_batches_report_each_result_in_order",
        |c| async move {
            // more ops than one batch, with failures in the middle
            let mut ops = Vec::new();
            for i in 0..300u32 {
                let key = ServiceKey::fwmark(i + 1);
                ops.push(Op::AddService(Service::new(key, "rr")));
                ops.push(Op::AddDest(
                    key,
                    Dest::new(v4(10, 1, (i >> 8) as u8, i as u8), 0, Forward::Route),
                ));
            }
            ops.insert(
                100,
                Op::AddService(Service::new(ServiceKey::fwmark(3), "rr")),
            ); // duplicate
            ops.insert(400, Op::DelService(ServiceKey::fwmark(5000))); // missing
            let results = c.apply_each(&ops).await.unwrap();
            assert_eq!(results.len(), ops.len());
            for (i, r) in results.iter().enumerate() {
                match i {
                    100 => assert!(r.as_ref().unwrap_err().is_exists()),
                    400 => assert!(r.as_ref().unwrap_err().is_not_found()),
                    _ => assert!(r.is_ok(), "op {i} {:?}: {:?}", ops[i], r),
                }
            }
            let first = c.apply(&ops[99..101]).await.unwrap_err();
            assert!(first.is_exists(), "{first}");
            // (Checked per service: a multi-part service dump is not
            // consistent while other namespaces change their tables, and the
            // other tests run in parallel.)
            for i in 0..300u32 {
                let key = ServiceKey::fwmark(i + 1);
                assert_eq!(c.service(&key).await.unwrap().service.key, key);
                assert_eq!(c.dests(&key).await.unwrap().len(), 1, "{key}");
            }
            c.flush().await.unwrap();
            assert!(c.services().await.unwrap().is_empty());
        },
    );
}

#[test]
fn reconcile_plans_converge_on_the_kernel() {
    in_netns("reconcile_plans_converge_on_the_kernel", |c| async move {
        let foreign = Service::new(ServiceKey::tcp(v4(198, 51, 100, 1), 80), "rr");
        c.add_service(&foreign).await.unwrap();
        let mut desired: Vec<VirtualService> = all_services()
            .into_iter()
            .map(|service| {
                let fam = service.key.family();
                VirtualService {
                    service,
                    dests: all_dests(fam)[..3].to_vec(),
                }
            })
            .collect();
        let owned: BTreeSet<ServiceKey> = desired.iter().map(|v| v.service.key).collect();
        for round in 0..3 {
            let current = c.snapshot().await.unwrap();
            let ops = reconcile::plan(&desired, &current, &owned);
            c.apply(&ops)
                .await
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            let after = c.snapshot().await.unwrap();
            assert!(
                reconcile::plan(&desired, &after, &owned).is_empty(),
                "round {round} did not converge"
            );
            assert!(
                after.iter().any(|v| v.service == foreign),
                "foreign service touched"
            );
            // change the desired table for the next round
            desired.pop();
            for v in desired.iter_mut() {
                v.service.scheduler = ["rr", "wlc", "lc"][round].into();
                if let Some(d) = v.dests.first_mut() {
                    d.weight += 1;
                }
                v.dests.rotate_left(1);
                v.dests.pop();
            }
        }
    });
}

/// The in-memory table answers like the kernel: the same ops give the same
/// results and the same table.
#[test]
fn memtable_matches_the_kernel() {
    in_netns("memtable_matches_the_kernel", |c| async move {
        let mem = MemTable::new();
        let k1 = ServiceKey::tcp(v4(192, 0, 2, 1), 80);
        let k2 = ServiceKey::fwmark6(4);
        let d1 = Dest::new(v4(10, 0, 0, 1), 80, Forward::Masq);
        let d6 = Dest::new(v6(7), 80, Forward::Route);
        let mut bad_sched = Service::new(k1, "nope");
        bad_sched.timeout = 1;
        let ops = vec![
            Op::AddDest(k1, d1),
            Op::AddService(Service::new(k1, "wlc")),
            Op::AddService(Service::new(k1, "wlc")),
            Op::EditService(bad_sched),
            Op::AddDest(k1, d1),
            Op::AddDest(k1, d1),
            Op::EditDest(k1, d1.weight(9)),
            Op::DelDest(k1, d6.key()),
            Op::AddService(Service::new(k2, "rr")),
            Op::AddDest(k2, d6),
            Op::AddDest(k2, Dest::new(v4(10, 0, 0, 1), 80, Forward::Masq)),
            Op::EditService(Service::new(k2, "sh")),
            Op::DelService(ServiceKey::fwmark(1)),
            Op::DelDest(k2, d6.key()),
            Op::DelService(k1),
        ];
        for op in &ops {
            let real = c.apply(std::slice::from_ref(op)).await;
            let fake = mem.apply(std::slice::from_ref(op)).await;
            assert_eq!(
                real.as_ref().err().and_then(|e| e.errno()),
                fake.as_ref().err().and_then(|e| e.errno()),
                "{op:?}: kernel {real:?}, memtable {fake:?}"
            );
            assert_eq!(
                c.snapshot().await.unwrap(),
                mem.snapshot().await.unwrap(),
                "after {op:?}"
            );
        }
    });
}

#[test]
fn timeouts_get_and_set() {
    in_netns("timeouts_get_and_set", |c| async move {
        let t = c.timeouts().await.unwrap();
        assert_eq!(
            t,
            Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300
            }
        );
        c.set_timeouts(&Timeouts {
            tcp: 600,
            tcp_fin: 0,
            udp: 30,
        })
        .await
        .unwrap();
        assert_eq!(
            c.timeouts().await.unwrap(),
            Timeouts {
                tcp: 600,
                tcp_fin: 120,
                udp: 30
            }
        );
    });
}

#[test]
fn sync_daemons_start_list_stop() {
    in_netns("sync_daemons_start_list_stop", |c| async move {
        assert!(c.daemons().await.unwrap().is_empty());
        let mut master = SyncDaemon::new(DaemonState::Master, "lo", 7);
        master.mcast_group = Some(Ipv4Addr::new(224, 0, 0, 81).into());
        master.mcast_port = 8848;
        master.mcast_ttl = 2;
        master.sync_maxlen = 1400;
        c.start_daemon(&master).await.unwrap();
        let e = c.start_daemon(&master).await.unwrap_err();
        assert_eq!(e.plain_message(), "Daemon has already run");
        let backup = SyncDaemon::new(DaemonState::Backup, "lo", 7);
        c.start_daemon(&backup).await.unwrap();
        let list = c.daemons().await.unwrap();
        assert_eq!(list.len(), 2, "{list:?}");
        let m = list
            .iter()
            .find(|d| d.state == DaemonState::Master)
            .unwrap();
        assert_eq!(m.mcast_ifn, "lo");
        assert_eq!(m.sync_id, 7);
        assert_eq!(m.mcast_group, master.mcast_group);
        assert_eq!(m.mcast_port, 8848);
        assert_eq!(m.mcast_ttl, 2);
        assert_eq!(m.sync_maxlen, 1400);
        c.stop_daemon(DaemonState::Master).await.unwrap();
        c.stop_daemon(DaemonState::Backup).await.unwrap();
        assert_eq!(
            c.stop_daemon(DaemonState::Backup)
                .await
                .unwrap_err()
                .plain_message(),
            "No daemon is running"
        );
        assert!(c.daemons().await.unwrap().is_empty());
    });
}

#[test]
fn sync_daemons_with_an_ipv6_group() {
    in_netns("sync_daemons_with_an_ipv6_group", |c| async move {
        for args in [
            &["link", "add", "sync6", "type", "dummy"][..],
            &["link", "set", "sync6", "multicast", "on", "up"],
            &["addr", "add", "2001:db8::1/64", "dev", "sync6", "nodad"],
        ] {
            let ok = std::process::Command::new("ip").args(args).status();
            assert!(ok.is_ok_and(|s| s.success()), "ip {args:?}");
        }
        let group: IpAddr = "ff02::1:81".parse().unwrap();
        for state in [DaemonState::Master, DaemonState::Backup] {
            let mut d = SyncDaemon::new(state, "sync6", 3);
            d.mcast_group = Some(group);
            d.mcast_port = 8850;
            c.start_daemon(&d)
                .await
                .unwrap_or_else(|e| panic!("{state:?}: {e}"));
        }
        let list = c.daemons().await.unwrap();
        assert_eq!(list.len(), 2, "{list:?}");
        for d in &list {
            assert_eq!(d.mcast_group, Some(group), "{d:?}");
            assert_eq!(
                (d.mcast_ifn.as_str(), d.sync_id, d.mcast_port),
                ("sync6", 3, 8850)
            );
        }
        c.stop_daemon(DaemonState::Master).await.unwrap();
        c.stop_daemon(DaemonState::Backup).await.unwrap();
        assert!(c.daemons().await.unwrap().is_empty());
    });
}

/// A stop that comes before the kernel's sync thread first ran gets no
/// answer at all from the kernel (kthread_stop's -EINTR, for which netlink
/// sends no ACK); under emulation that happens now and then, and the
/// client once waited for the answer forever.
#[test]
fn a_stop_right_after_the_start_returns() {
    in_netns("a_stop_right_after_the_start_returns", |c| async move {
        for state in [DaemonState::Master, DaemonState::Backup] {
            for i in 0..40 {
                c.start_daemon(&SyncDaemon::new(state, "lo", 9))
                    .await
                    .unwrap_or_else(|e| panic!("start {i}: {e}"));
                c.stop_daemon(state)
                    .await
                    .unwrap_or_else(|e| panic!("stop {i}: {e}"));
                assert!(c.daemons().await.unwrap().is_empty(), "round {i}");
            }
        }
    });
}

#[test]
fn zero_and_flush() {
    in_netns("zero_and_flush", |c| async move {
        let key = ServiceKey::udp(v4(192, 0, 2, 1), 53);
        c.add_service(&Service::new(key, "rr")).await.unwrap();
        c.add_dest(&key, &Dest::new(v4(10, 0, 0, 1), 53, Forward::Masq))
            .await
            .unwrap();
        c.zero(Some(&key)).await.unwrap();
        c.zero(None).await.unwrap();
        let e = c.zero(Some(&ServiceKey::fwmark(77))).await.unwrap_err();
        assert_eq!(e.plain_message(), "No such service");
        let dump = c.dump().await.unwrap();
        assert_eq!(dump[0].entry.stats, Stats::default());
        assert_eq!(dump[0].dests[0].stats, Stats::default());
        c.flush().await.unwrap();
        assert!(c.dump().await.unwrap().is_empty());
    });
}

/// `ipvsadm ARGS` in namespace `ns`.
fn ipvsadm(ns: &Netns, args: &[&str]) -> String {
    let out = ns
        .command("ipvsadm")
        .args(args)
        .output()
        .expect("run ipvsadm");
    assert!(out.status.success(), "ipvsadm {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The numbers on the line of `ipvsadm ARGS` that names `what`.
fn ipvsadm_numbers(ns: &Netns, args: &[&str], what: &str) -> Vec<u64> {
    let text = ipvsadm(ns, args);
    let line = text
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == what))
        .unwrap_or_else(|| panic!("no {what} in\n{text}"));
    line.split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

/// Real connections through a service: the counters and connection counts
/// the crate reads are non-zero and equal to what ipvsadm reads.
#[test]
fn traffic_shows_in_stats_and_connection_counts() {
    let test = "traffic_shows_in_stats_and_connection_counts";
    if !lvs_tests::require(Need::Ipvs, test) || !lvs_tests::require(Need::Netns, test) {
        return;
    }
    // A director reaching the VIP through a veth (so its own connections
    // pass IPVS), and a real server behind it.
    let d = Netns::new("ipvsstd");
    let r = Netns::new("ipvsstr");
    veth(&d, "ipvssta", &r, "ipvsstb");
    d.ip(&["addr", "add", "10.71.1.1/24", "dev", "ipvssta"]);
    d.ip(&["route", "add", "10.71.0.0/24", "dev", "ipvssta"]);
    r.ip(&["addr", "add", "10.71.1.2/24", "dev", "ipvsstb"]);
    r.ip(&["route", "add", "default", "via", "10.71.1.1"]);
    let vip = Ipv4Addr::new(10, 71, 0, 1);
    let rip = Ipv4Addr::new(10, 71, 1, 2);
    let rounds: u64 = 5;
    let server = r.enter(|| std::net::TcpListener::bind((rip, 8080)).unwrap());
    let accepting = std::thread::spawn(move || {
        use std::io::{Read as _, Write as _};
        for _ in 0..rounds {
            let (mut s, _) = server.accept().unwrap();
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).unwrap();
            s.write_all(b"hello from the real server").unwrap();
        }
    });
    let key = ServiceKey::tcp(vip, 80);
    d.block_on(async || {
        let c = Client::connect().await.unwrap();
        c.add_service(&Service::new(key, "rr")).await.unwrap();
        c.add_dest(&key, &Dest::new(rip, 8080, Forward::Masq))
            .await
            .unwrap();
    });
    d.enter(|| {
        use std::io::{Read as _, Write as _};
        for _ in 0..rounds {
            let mut s = std::net::TcpStream::connect((vip, 80)).unwrap();
            s.write_all(b"ping").unwrap();
            let mut reply = Vec::new();
            s.read_to_end(&mut reply).unwrap();
            assert_eq!(reply, b"hello from the real server");
        }
    });
    accepting.join().unwrap();
    // The kernel sums its per-CPU counters into what a dump reports on its
    // 2 s estimator tick: wait for the traffic to show, then for a further
    // tick, so that the last FIN/ACKs are in and both readings agree.
    let read = || d.block_on(async || Client::connect().await.unwrap().dump().await.unwrap());
    let shown = lvs_tests::netns::wait_for(std::time::Duration::from_secs(20), || {
        read()[0].entry.stats.conns == rounds
    });
    assert!(shown, "no connections counted after 20 s: {:?}", read());
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let dump = read();
    let (svc, dest) = (&dump[0].entry.stats, &dump[0].dests[0]);
    assert_eq!(svc.conns, rounds);
    assert_eq!(dest.stats.conns, rounds);
    assert!(
        svc.inpkts >= 4 * rounds && svc.outpkts >= 3 * rounds,
        "{svc:?}"
    );
    assert!(svc.inbytes > 0 && svc.outbytes > svc.inbytes, "{svc:?}");
    assert_eq!(
        dest.active_conns + dest.inact_conns,
        rounds as u32,
        "{dest:?}"
    );
    // The same numbers as ipvsadm (libnl) reads from the kernel.
    let exact = ["-Ln", "--stats", "--exact"];
    let counters = |s: &Stats| vec![s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes];
    let tail = |mut v: Vec<u64>| v.split_off(v.len() - 5);
    assert_eq!(
        tail(ipvsadm_numbers(&d, &exact, "10.71.0.1:80")),
        counters(svc)
    );
    assert_eq!(
        tail(ipvsadm_numbers(&d, &exact, "10.71.1.2:8080")),
        counters(&dest.stats)
    );
    let listed = ipvsadm_numbers(&d, &["-Ln"], "10.71.1.2:8080");
    assert_eq!(
        listed[listed.len() - 3..],
        [
            u64::from(dest.dest.weight),
            u64::from(dest.active_conns),
            u64::from(dest.inact_conns)
        ]
    );
}

#[test]
fn namespaces_have_separate_tables() {
    in_netns("namespaces_have_separate_tables", |c| async move {
        c.add_service(&Service::new(ServiceKey::fwmark(1), "rr"))
            .await
            .unwrap();
        // a second namespace, from another thread, sees an empty table
        let other = std::thread::spawn(|| {
            lvs_tests::netns::enter_new();
            lvs_tests::runtime().block_on(async {
                let c2 = Client::connect().await.unwrap();
                c2.services().await.unwrap().len()
            })
        })
        .join()
        .unwrap();
        assert_eq!(other, 0);
        assert_eq!(c.services().await.unwrap().len(), 1);
    });
}
