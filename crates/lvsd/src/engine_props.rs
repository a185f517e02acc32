//! Property tests of the reload diff: random lvs.cf files, random nanny
//! reports, random edits of every kind, applied to an in-memory table with
//! the kernel's rules.

use std::collections::{BTreeMap, BTreeSet};

use ipvs::{MemTable, Service};
use proptest::prelude::*;

use super::tests::{Sim, spec_of};
use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rs {
    id: u8,
    addr: u8,
    port: Option<u16>,
    active: bool,
    weight: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Vs {
    id: u8,
    active: bool,
    vip: u8,
    udp: bool,
    port: u16,
    fwmark: u32,
    scheduler: &'static str,
    persistent: i32,
    pmask: bool,
    sorry: Option<u8>,
    timeout: i32,
    quiesce: bool,
    expect: Option<&'static str>,
    reals: Vec<Rs>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cf {
    direct: bool,
    tcp_timeout: i32,
    virtuals: Vec<Vs>,
}

impl Cf {
    fn text(&self) -> String {
        let mut t = format!(
            "network = {}\nhard_shutdown = 0\ntcp_timeout = {}\n",
            if self.direct { "direct" } else { "nat" },
            self.tcp_timeout
        );
        for v in &self.virtuals {
            t += &format!(
                "virtual v{} {{\n active = {}\n address = 10.0.0.{} eth0:1\n protocol = {}\n port = {}\n",
                v.id,
                u8::from(v.active),
                v.vip,
                if v.udp { "udp" } else { "tcp" },
                v.port
            );
            if v.fwmark != 0 {
                t += &format!(" fwmark = {}\n", v.fwmark);
            }
            t += &format!(" scheduler = {}\n", v.scheduler);
            if v.persistent > 0 {
                t += &format!(" persistent = {}\n", v.persistent);
                if v.pmask {
                    t += " pmask = 255.255.255.0\n";
                }
            }
            if let Some(s) = v.sorry {
                t += &format!(" sorry_server = 10.9.0.{s}\n");
            }
            if let Some(x) = v.expect {
                t += &format!(" expect = \"{x}\"\n");
            }
            t += &format!(
                " timeout = {}\n quiesce_server = {}\n",
                v.timeout,
                u8::from(v.quiesce)
            );
            for r in &v.reals {
                t += &format!(
                    " server r{} {{\n  address = 10.1.0.{}\n  active = {}\n  weight = {}\n",
                    r.id,
                    r.addr,
                    u8::from(r.active),
                    r.weight
                );
                if let Some(p) = r.port {
                    t += &format!("  port = {p}\n");
                }
                t += " }\n";
            }
            t += "}\n";
        }
        t
    }

    /// The same content up to the order of blocks.
    fn canonical(&self) -> Cf {
        let mut c = self.clone();
        for v in c.virtuals.iter_mut() {
            v.reals.sort_by_key(|r| r.id);
        }
        c.virtuals.sort_by_key(|v| v.id);
        c
    }
}

fn rs_strategy() -> impl Strategy<Value = Rs> {
    (
        1u8..6,
        prop_oneof![3 => Just(None), 1 => Just(Some(8080u16))],
        prop::bool::weighted(0.85),
        1i32..5,
    )
        .prop_map(|(addr, port, active, weight)| Rs {
            id: 0,
            addr,
            port,
            active,
            weight,
        })
}

fn vs_strategy() -> impl Strategy<Value = Vs> {
    (
        (
            prop::bool::weighted(0.85),
            1u8..4,
            prop::bool::weighted(0.2),
            prop::sample::select(vec![80u16, 443]),
            prop_oneof![4 => Just(0u32), 1 => Just(7u32)],
            prop::sample::select(vec!["wlc", "rr", "sh"]),
        ),
        (
            prop::sample::select(vec![0, 60]),
            any::<bool>(),
            prop_oneof![2 => Just(None), 1 => (1u8..3).prop_map(Some)],
            prop::sample::select(vec![3, 5]),
            any::<bool>(),
            prop_oneof![Just(None), Just(Some("HTTP"))],
        ),
        prop::collection::vec(rs_strategy(), 0..4),
    )
        .prop_map(
            |(
                (active, vip, udp, port, fwmark, scheduler),
                (persistent, pmask, sorry, timeout, quiesce, expect),
                mut reals,
            )| {
                for (i, r) in reals.iter_mut().enumerate() {
                    r.id = i as u8;
                }
                Vs {
                    id: 0,
                    active,
                    vip,
                    udp,
                    port,
                    fwmark,
                    scheduler,
                    persistent,
                    pmask,
                    sorry,
                    timeout,
                    quiesce,
                    expect,
                    reals,
                }
            },
        )
}

fn cf_strategy() -> impl Strategy<Value = Cf> {
    (
        prop::bool::weighted(0.2),
        prop::sample::select(vec![0, 900]),
        prop::collection::vec(vs_strategy(), 0..5),
    )
        .prop_map(|(direct, tcp_timeout, mut virtuals)| {
            for (i, v) in virtuals.iter_mut().enumerate() {
                v.id = i as u8;
            }
            Cf {
                direct,
                tcp_timeout,
                virtuals,
            }
        })
}

/// One edit: (kind, which block, which server, a value).
type Edit = (u8, u8, u8, u8);

const EDIT_KINDS: u8 = 22;

fn apply_edit(cf: &mut Cf, (kind, a, b, val): Edit) {
    let nv = cf.virtuals.len();
    let next_vs = cf.virtuals.iter().map(|v| v.id).max().map_or(0, |m| m + 1);
    match kind {
        0 => cf.direct = !cf.direct,
        1 => cf.tcp_timeout = if cf.tcp_timeout == 0 { 900 } else { 0 },
        2 => {
            // add a virtual server
            cf.virtuals.insert(
                usize::from(a) % (nv + 1),
                Vs {
                    id: next_vs,
                    active: true,
                    vip: 4 + val % 3,
                    udp: false,
                    port: 80,
                    fwmark: 0,
                    scheduler: "wlc",
                    persistent: 0,
                    pmask: false,
                    sorry: None,
                    timeout: 3,
                    quiesce: false,
                    expect: None,
                    reals: vec![Rs {
                        id: 0,
                        addr: 1 + val % 5,
                        port: None,
                        active: true,
                        weight: 1,
                    }],
                },
            );
        }
        3 if nv > 0 => {
            cf.virtuals.remove(usize::from(a) % nv);
        }
        4 if nv > 1 => cf.virtuals.rotate_left(1 + usize::from(a) % (nv - 1)),
        _ if nv == 0 => {}
        _ => {
            let v = &mut cf.virtuals[usize::from(a) % nv];
            let nr = v.reals.len();
            let next_rs = v.reals.iter().map(|r| r.id).max().map_or(0, |m| m + 1);
            match kind {
                5 => v.active = !v.active,
                6 => v.scheduler = ["wlc", "rr", "sh", "lc"][usize::from(val) % 4],
                7 => v.persistent = if v.persistent > 0 { 0 } else { 30 },
                8 => v.pmask = !v.pmask,
                9 => v.port = if v.port == 80 { 8000 } else { 80 },
                10 => v.fwmark = if v.fwmark == 0 { 9 } else { 0 },
                11 => {
                    v.sorry = if v.sorry.is_some() && val % 2 == 0 {
                        None
                    } else {
                        Some(1 + val % 3)
                    }
                }
                12 => v.timeout = if v.timeout == 3 { 4 } else { 3 },
                13 => v.quiesce = !v.quiesce,
                14 => v.expect = if v.expect.is_some() { None } else { Some("OK") },
                15 => v.udp = !v.udp,
                16 => v.reals.insert(
                    usize::from(b) % (nr + 1),
                    Rs {
                        id: next_rs,
                        addr: 1 + val % 6,
                        port: None,
                        active: true,
                        weight: 1 + i32::from(val % 3),
                    },
                ),
                17 if nr > 0 => {
                    v.reals.remove(usize::from(b) % nr);
                }
                18 if nr > 0 => {
                    let r = &mut v.reals[usize::from(b) % nr];
                    r.active = !r.active;
                }
                19 if nr > 0 => v.reals[usize::from(b) % nr].weight = 1 + i32::from(val % 6),
                20 if nr > 0 => {
                    let r = &mut v.reals[usize::from(b) % nr];
                    r.port = if r.port.is_some() { None } else { Some(8080) };
                }
                21 if nr > 1 => v.reals.rotate_left(1 + usize::from(b) % (nr - 1)),
                _ => {}
            }
        }
    }
}

/// Drives every nanny of `s` through a scripted history.
fn script(s: &mut Sim, choices: &[u8]) {
    let targets: Vec<(String, String, bool)> =
        s.e.spec
            .virtuals
            .iter()
            .zip(&s.e.vss)
            .flat_map(|(v, st)| {
                v.reals
                    .iter()
                    .zip(&st.reals)
                    .filter(|(_, r)| r.nanny.is_some())
                    .map(|(r, _)| (v.name.clone(), r.name.clone(), r.quiesce))
                    .collect::<Vec<_>>()
            })
            .collect();
    for (k, (vs, rs, quiesce)) in targets.into_iter().enumerate() {
        let c = choices.get(k).copied().unwrap_or(0);
        match c % 5 {
            0 => {}
            1 | 4 => s.up(&vs, &rs, 1 + u32::from(c % 7)),
            2 => s.first_down(&vs, &rs),
            _ => {
                s.up(&vs, &rs, 2);
                s.down(&vs, &rs, quiesce);
            }
        }
    }
}

fn foreign() -> (Service, ipvs::Dest) {
    (
        Service::new(ServiceKey::tcp([192, 0, 2, 250], 1), "rr"),
        ipvs::Dest::new([192, 0, 2, 251], 1, ipvs::Forward::Masq).weight(5),
    )
}

type Table = BTreeMap<ServiceKey, (Service, BTreeMap<DestKey, Dest>)>;

fn table(t: &MemTable) -> Table {
    t.table()
        .into_iter()
        .map(|v| {
            (
                v.service.key,
                (v.service, v.dests.iter().map(|d| (d.key(), *d)).collect()),
            )
        })
        .collect()
}

/// The number of changes between two tables (a deleted service counts
/// once, with its destinations).
fn differences(before: &Table, after: &Table) -> usize {
    let mut n = 0;
    for (k, (s, d)) in before {
        match after.get(k) {
            None => n += 1,
            Some((s2, d2)) => {
                n += usize::from(s != s2);
                for (dk, x) in d {
                    match d2.get(dk) {
                        None => n += 1,
                        Some(y) => n += usize::from(x != y),
                    }
                }
                n += d2.keys().filter(|dk| !d.contains_key(dk)).count();
            }
        }
    }
    for (k, (_, d)) in after {
        if !before.contains_key(k) {
            n += 1 + d.len();
        }
    }
    n
}

/// Monitored real servers of owners that are up: (key, id) → (argv, dest, pid).
type Monitored = BTreeMap<(ServiceKey, RsId), (Vec<String>, DestKey, Option<u32>)>;

fn monitored(s: &Sim) -> Monitored {
    let mut out = BTreeMap::new();
    for (v, st) in s.e.spec.virtuals.iter().zip(&s.e.vss) {
        if st.phase != Phase::Up {
            continue;
        }
        for (r, rs) in v.reals.iter().zip(&st.reals) {
            if rs.role == Role::Monitored {
                let pid = rs.nanny.and_then(|id| s.e.nannies[&id].pid);
                out.insert((v.key, r.id), (r.argv.to_vec(), r.dest, pid));
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn reload_diff_is_exact_minimal_and_keeps_what_did_not_change(
        cf in cf_strategy(),
        choices in prop::collection::vec(0u8..255, 0..24),
        edits in prop::collection::vec((0..EDIT_KINDS, any::<u8>(), any::<u8>(), any::<u8>()), 0..4),
        after in prop::collection::vec(0u8..255, 0..24),
    ) {
        let (fs, fd) = foreign();
        let t = MemTable::new();
        t.apply_one(&Op::AddService(fs.clone())).unwrap();
        t.apply_one(&Op::AddDest(fs.key, fd)).unwrap();
        let mut s = Sim::with(spec_of(&cf.text()), Options::default(), t);
        s.start();
        script(&mut s, &choices);
        s.consistent();

        let mut new = cf.clone();
        for e in &edits {
            apply_edit(&mut new, *e);
        }
        let before = table(&s.table);
        let old_mon = monitored(&s);
        let old_spec = s.e.spec.clone();
        let old_weight = |k: ServiceKey, id: RsId| -> i32 {
            old_spec.virtuals.iter().find(|v| v.key == k && v.active)
                .and_then(|v| v.reals.iter().find(|r| r.id == id && r.active))
                .map_or(0, |r| r.weight)
        };
        s.clear();
        s.reload(&new.text());
        let after_t = table(&s.table);
        let new_mon = monitored(&s);

        // the kernel holds exactly what the engine wants, and nothing else
        // of ours
        s.consistent();
        prop_assert_eq!(after_t.get(&fs.key), before.get(&fs.key), "foreign service touched");
        let owners: BTreeSet<ServiceKey> = s.e.by_key.iter()
            .filter(|(_, i)| s.e.vss[**i].phase == Phase::Up)
            .map(|(k, _)| *k).collect();
        let ours: BTreeSet<ServiceKey> = after_t.keys().copied().filter(|k| *k != fs.key).collect();
        prop_assert_eq!(&ours, &owners);
        for k in &owners {
            let vi = s.e.by_key[k];
            prop_assert_eq!(&after_t[k].0, &s.e.spec.virtuals[vi].service);
        }
        for op in &s.ops {
            let k = match op {
                Op::AddService(x) | Op::EditService(x) => x.key,
                Op::DelService(k) | Op::AddDest(k, _) | Op::EditDest(k, _) | Op::DelDest(k, _) => *k,
            };
            prop_assert_ne!(k, fs.key);
        }

        // O(changes): one kernel operation per difference
        prop_assert_eq!(s.ops.len(), differences(&before, &after_t), "ops {:?}", s.ops);

        // nannies: started for new servers and changed command lines,
        // stopped for removed servers and changed command lines, the rest
        // untouched
        let spawned: BTreeSet<Vec<String>> = s.spawned.iter().map(|x| x.2.clone()).collect();
        let signalled: BTreeSet<u32> = s.signals.iter().map(|x| x.0).collect();
        for (key, (argv, dk, pid)) in &new_mon {
            match old_mon.get(key) {
                Some((old_argv, old_dk, old_pid)) => {
                    let restarted = old_argv != argv;
                    prop_assert_eq!(restarted, old_pid.is_some_and(|p| signalled.contains(&p)));
                    prop_assert_eq!(restarted, spawned.contains(argv));
                    if !restarted {
                        prop_assert_eq!(pid, old_pid);
                    }
                    // an untouched destination keeps its identity (never
                    // deleted and re-added) and its weight unless the
                    // configured weight changed
                    let shared = |m: &Monitored, d: &DestKey| {
                        m.iter().filter(|((k, _), (_, x, _))| *k == key.0 && x == d).count() > 1
                    };
                    let unique = !shared(&old_mon, old_dk) && !shared(&new_mon, dk);
                    if unique && old_dk == dk && let Some(d) = before.get(&key.0).and_then(|(_, d)| d.get(dk)) {
                        let now = after_t[&key.0].1.get(dk);
                        let vi = s.e.by_key[&key.0];
                        let r = s.e.spec.virtuals[vi].reals.iter().find(|r| r.id == key.1 && r.active).unwrap();
                        if d.weight > 0 || r.quiesce {
                            prop_assert!(!s.ops.iter().any(|op| matches!(op,
                                Op::DelDest(k, x) if k == &key.0 && x == dk)));
                            prop_assert!(!s.ops.iter().any(|op| matches!(op,
                                Op::AddDest(k, x) if k == &key.0 && x.key() == *dk)));
                        }
                        if d.weight > 0 {
                            let want = if old_weight(key.0, key.1) != r.weight {
                                r.settled_weight()
                            } else {
                                d.weight
                            };
                            prop_assert_eq!(now.map(|x| x.weight), Some(want));
                        } else if r.quiesce {
                            prop_assert_eq!(now.map(|x| x.weight), Some(0));
                        } else {
                            prop_assert_eq!(now, None);
                        }
                    }
                    // a failed server stays failed: not added by a reload
                    if unique && before.get(&key.0).is_some_and(|(_, d)| !d.contains_key(old_dk)) {
                        prop_assert!(!after_t[&key.0].1.contains_key(dk));
                    }
                }
                None => prop_assert!(spawned.contains(argv)),
            }
        }
        for (key, (_, _, pid)) in &old_mon {
            if !new_mon.contains_key(key) {
                prop_assert!(pid.is_none_or(|p| signalled.contains(&p)));
            }
        }
        prop_assert_eq!(s.spawned.len(), spawned.len(), "a nanny started twice");

        // a pure reordering changes nothing at all (unless it changes which
        // of two duplicate blocks wins)
        let no_dups = |spec: &Spec| {
            let mut keys = BTreeSet::new();
            spec.virtuals.iter().filter(|v| v.active).all(|v| {
                let mut ids = BTreeSet::new();
                keys.insert(v.key) && v.reals.iter().filter(|r| r.active).all(|r| ids.insert(r.id))
            })
        };
        if new.canonical() == cf.canonical() && no_dups(&old_spec) {
            prop_assert!(s.ops.is_empty() && s.spawned.is_empty() && s.signals.is_empty());
        }

        // every nanny is attached where it belongs: their reports still count
        script(&mut s, &after);
        s.consistent();
        let end = table(&s.table);
        prop_assert_eq!(end.get(&fs.key), before.get(&fs.key));
    }
}
