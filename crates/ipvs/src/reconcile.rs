//! The pure reconcile function: desired table + current table + owned
//! services → the minimal ordered list of changes.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::*;

/// The changes that turn `current` into `desired` for the services in
/// `owned`, and leave every other service alone.
///
/// * A service in `owned` that is in `desired` but not in `current` is added
///   with its destinations.
/// * One in both is edited if its settings differ; its destinations are
///   deleted, edited and added as needed (deletions first).
/// * One in `current` only is deleted (which deletes its destinations).
/// * A service not in `owned` is never touched, whether it appears in
///   `desired` or in `current`.
///
/// The plan is minimal: every op changes something, and nothing that already
/// matches is re-sent. Order: service deletions, then per service (in
/// `desired` order) destination deletions, service edit, destination edits,
/// destination additions; new services come with their destinations right
/// after them.
pub fn plan(
    desired: &[VirtualService],
    current: &[VirtualService],
    owned: &BTreeSet<ServiceKey>,
) -> Vec<Op> {
    let cur: BTreeMap<ServiceKey, &VirtualService> =
        current.iter().map(|v| (v.service.key, v)).collect();
    let want: BTreeMap<ServiceKey, &VirtualService> = desired
        .iter()
        .filter(|v| owned.contains(&v.service.key))
        .map(|v| (v.service.key, v))
        .collect();
    let mut ops = Vec::new();

    for v in current {
        let k = v.service.key;
        if owned.contains(&k) && !want.contains_key(&k) {
            ops.push(Op::DelService(k));
        }
    }

    let mut seen = BTreeSet::new();
    for v in desired {
        let k = v.service.key;
        if !owned.contains(&k) || !seen.insert(k) {
            continue;
        }
        // With duplicate keys in `desired`, the last one wins.
        let v = want[&k];
        match cur.get(&k) {
            None => {
                ops.push(Op::AddService(v.service.clone()));
                dest_changes(&mut ops, k, &v.service, &v.service, &v.dests, &[]);
            }
            Some(c) => dest_changes(&mut ops, k, &v.service, &c.service, &v.dests, &c.dests),
        }
    }
    ops
}

fn dest_changes(
    ops: &mut Vec<Op>,
    k: ServiceKey,
    want_svc: &Service,
    cur_svc: &Service,
    want: &[Dest],
    cur: &[Dest],
) {
    let cur_by: BTreeMap<DestKey, &Dest> = cur.iter().map(|d| (d.key(), d)).collect();
    let want_by: BTreeMap<DestKey, &Dest> = want.iter().map(|d| (d.key(), d)).collect();
    for d in cur {
        if !want_by.contains_key(&d.key()) {
            ops.push(Op::DelDest(k, d.key()));
        }
    }
    if want_svc != cur_svc {
        ops.push(Op::EditService(want_svc.clone()));
    }
    let mut adds = Vec::new();
    let mut seen = BTreeSet::new();
    for d in want {
        if !seen.insert(d.key()) {
            continue;
        }
        let d = want_by[&d.key()];
        match cur_by.get(&d.key()) {
            Some(c) if *c == d => {}
            Some(_) => ops.push(Op::EditDest(k, *d)),
            None => adds.push(Op::AddDest(k, *d)),
        }
    }
    ops.extend(adds);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemTable;
    use proptest::prelude::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    fn key_strategy() -> impl Strategy<Value = ServiceKey> {
        prop_oneof![
            (0u8..4, 0u16..3)
                .prop_map(|(a, p)| ServiceKey::tcp(Ipv4Addr::new(192, 0, 2, a), 80 + p)),
            (0u8..3).prop_map(|a| ServiceKey::udp(Ipv4Addr::new(192, 0, 2, a), 53)),
            (0u16..2)
                .prop_map(|a| ServiceKey::sctp(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, a), 9)),
            (1u32..4).prop_map(ServiceKey::fwmark),
        ]
    }

    fn service_strategy() -> impl Strategy<Value = Service> {
        (
            key_strategy(),
            prop::sample::select(vec!["rr", "wlc", "sh"]),
            any::<bool>(),
            0u32..3,
        )
            .prop_map(|(k, sched, pers, t)| {
                let s = Service::new(k, sched);
                if pers {
                    let m = match k.family() {
                        Family::V4 => Netmask::V4(Ipv4Addr::new(255, 255, 255, 0)),
                        Family::V6 => Netmask::V6(64),
                    };
                    s.persistent(300 + t, m)
                } else {
                    s
                }
            })
    }

    fn dest_strategy(fam: Family) -> impl Strategy<Value = Dest> {
        (0u8..4, 0u16..2, 0u32..3, 0usize..3).prop_map(move |(a, p, w, f)| {
            let addr: IpAddr = match fam {
                Family::V4 => Ipv4Addr::new(10, 0, 0, a).into(),
                Family::V6 => Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, a as u16).into(),
            };
            let fwd = [Forward::Masq, Forward::Route, Forward::Tunnel][f];
            Dest::new(addr, 80 + p, fwd).weight(w)
        })
    }

    fn vs_strategy() -> impl Strategy<Value = VirtualService> {
        service_strategy().prop_flat_map(|s| {
            let fam = s.key.family();
            prop::collection::vec(dest_strategy(fam), 0..4).prop_map(move |dests| {
                // one destination per key, as a kernel table has
                let mut seen = BTreeSet::new();
                let dests = dests.into_iter().filter(|d| seen.insert(d.key())).collect();
                VirtualService {
                    service: s.clone(),
                    dests,
                }
            })
        })
    }

    fn table_strategy() -> impl Strategy<Value = Vec<VirtualService>> {
        prop::collection::vec(vs_strategy(), 0..5).prop_map(|v| {
            let mut seen = BTreeSet::new();
            v.into_iter()
                .filter(|s| seen.insert(s.service.key))
                .collect()
        })
    }

    /// A table as a comparable map (order of services and dests is not part
    /// of the table's content).
    fn canon(t: &[VirtualService]) -> BTreeMap<ServiceKey, (Service, BTreeMap<DestKey, Dest>)> {
        t.iter()
            .map(|v| {
                (
                    v.service.key,
                    (
                        v.service.clone(),
                        v.dests.iter().map(|d| (d.key(), *d)).collect(),
                    ),
                )
            })
            .collect()
    }

    proptest! {
        #[test]
        fn applying_the_plan_gives_the_desired_table(
            current in table_strategy(),
            desired in table_strategy(),
            extra_owned in prop::collection::btree_set(key_strategy(), 0..4),
            owned_bits in prop::collection::vec(any::<bool>(), 10),
        ) {
            // owned: some of desired, some of current, and a few others
            let mut owned = extra_owned;
            for (i, v) in desired.iter().chain(current.iter()).enumerate() {
                if owned_bits[i % owned_bits.len()] {
                    owned.insert(v.service.key);
                }
            }
            let ops = plan(&desired, &current, &owned);
            let t = MemTable::with(&current);
            for op in &ops {
                t.apply_one(op).map_err(|e| TestCaseError::fail(format!("{op:?}: {e}")))?;
            }
            let got = canon(&t.table());
            // expected: desired for owned keys, current for the rest
            let mut want = canon(&current);
            want.retain(|k, _| !owned.contains(k));
            for (k, v) in canon(&desired) {
                if owned.contains(&k) {
                    want.insert(k, v);
                }
            }
            prop_assert_eq!(&got, &want);

            // minimal: re-planning from the result changes nothing, and no op
            // touches a service outside `owned`
            prop_assert!(plan(&desired, &t.table(), &owned).is_empty());
            for op in &ops {
                let k = match op {
                    Op::AddService(s) | Op::EditService(s) => s.key,
                    Op::DelService(k) | Op::AddDest(k, _) | Op::EditDest(k, _) | Op::DelDest(k, _) => *k,
                };
                prop_assert!(owned.contains(&k));
            }
        }
    }

    #[test]
    fn only_changed_destinations_are_sent() {
        let k = ServiceKey::tcp(Ipv4Addr::new(192, 0, 2, 1), 80);
        let s = Service::new(k, "wlc");
        let a = Dest::new(Ipv4Addr::new(10, 0, 0, 1), 80, Forward::Masq);
        let b = Dest::new(Ipv4Addr::new(10, 0, 0, 2), 80, Forward::Masq);
        let c = Dest::new(Ipv4Addr::new(10, 0, 0, 3), 80, Forward::Masq);
        let current = vec![VirtualService {
            service: s.clone(),
            dests: vec![a, b],
        }];
        let desired = vec![VirtualService {
            service: s.clone(),
            dests: vec![a.weight(0), c],
        }];
        let owned = BTreeSet::from([k]);
        assert_eq!(
            plan(&desired, &current, &owned),
            vec![
                Op::DelDest(k, b.key()),
                Op::EditDest(k, a.weight(0)),
                Op::AddDest(k, c)
            ]
        );
        assert!(plan(&desired, &current, &BTreeSet::new()).is_empty());
    }
}
