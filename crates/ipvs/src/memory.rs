//! [`MemTable`]: an in-memory IPVS table with the kernel's rules and errnos,
//! for unit tests of code generic over [`IpvsTable`].

use std::sync::{Mutex, MutexGuard};

use crate::error::{Error, Operation};
use crate::model::*;
use crate::table::IpvsTable;

/// The kernel's default timeouts (tcp 900 s, tcp-fin 120 s, udp 300 s).
const DEFAULT_TIMEOUTS: Timeouts = Timeouts {
    tcp: 900,
    tcp_fin: 120,
    udp: 300,
};

/// Schedulers a stock kernel has.
const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
    "none",
];

#[derive(Debug)]
struct State {
    services: Vec<(ServiceEntry, Vec<DestEntry>)>,
    timeouts: Timeouts,
    daemons: Vec<SyncDaemon>,
    log: Vec<Op>,
}

/// An in-memory IPVS table that follows the kernel's rules: the same
/// errnos for duplicates and missing objects, unknown schedulers, bad
/// persistence masks, and insertion order in listings.
///
/// Every applied [`Op`] is recorded; see [`MemTable::log`].
#[derive(Debug)]
pub struct MemTable {
    state: Mutex<State>,
}

impl Default for MemTable {
    fn default() -> Self {
        MemTable::new()
    }
}

fn kernel(op: Operation, object: String, errno: i32) -> Error {
    Error::Kernel { op, object, errno }
}

impl MemTable {
    /// An empty table with the kernel's default timeouts.
    pub fn new() -> MemTable {
        MemTable {
            state: Mutex::new(State {
                services: Vec::new(),
                timeouts: DEFAULT_TIMEOUTS,
                daemons: Vec::new(),
                log: Vec::new(),
            }),
        }
    }

    /// A table holding `services`.
    pub fn with(services: &[VirtualService]) -> MemTable {
        let t = MemTable::new();
        {
            let mut st = t.lock();
            for vs in services {
                let dests = vs
                    .dests
                    .iter()
                    .map(|d| DestEntry {
                        dest: *d,
                        active_conns: 0,
                        inact_conns: 0,
                        persist_conns: 0,
                        stats: Stats::default(),
                    })
                    .collect();
                st.services.push((
                    ServiceEntry {
                        service: vs.service.clone(),
                        stats: Stats::default(),
                    },
                    dests,
                ));
            }
        }
        t
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the table half-changed
        // (each op is applied whole), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The ops applied so far, in order (successful or not).
    pub fn log(&self) -> Vec<Op> {
        self.lock().log.clone()
    }

    /// The table without counters.
    pub fn table(&self) -> Vec<VirtualService> {
        self.lock()
            .services
            .iter()
            .map(|(s, d)| VirtualService {
                service: s.service.clone(),
                dests: d.iter().map(|e| e.dest).collect(),
            })
            .collect()
    }

    /// Applies one op with the kernel's checks.
    pub fn apply_one(&self, op: &Op) -> Result<(), Error> {
        let mut st = self.lock();
        st.log.push(op.clone());
        let o = op.operation();
        let obj = op.object();
        let find =
            |st: &State, k: &ServiceKey| st.services.iter().position(|(s, _)| s.service.key == *k);
        match op {
            Op::AddService(s) | Op::EditService(s) => {
                check_service(s).map_err(|e| kernel(o, obj.clone(), e))?;
                match (matches!(op, Op::AddService(_)), find(&st, &s.key)) {
                    (true, Some(_)) => return Err(kernel(o, obj, libc::EEXIST)),
                    (false, None) => return Err(kernel(o, obj, libc::ESRCH)),
                    (true, None) => st.services.push((
                        ServiceEntry {
                            service: s.clone(),
                            stats: Stats::default(),
                        },
                        Vec::new(),
                    )),
                    (false, Some(i)) => st.services[i].0.service = s.clone(),
                }
            }
            Op::DelService(k) => match find(&st, k) {
                None => return Err(kernel(o, obj, libc::ESRCH)),
                Some(i) => {
                    st.services.remove(i);
                }
            },
            Op::AddDest(k, d) | Op::EditDest(k, d) => {
                let Some(i) = find(&st, k) else {
                    return Err(kernel(o, obj, libc::ESRCH));
                };
                check_dest(k, d).map_err(|e| kernel(o, obj.clone(), e))?;
                let dests = &mut st.services[i].1;
                let pos = dests.iter().position(|e| e.dest.key() == d.key());
                match (matches!(op, Op::AddDest(..)), pos) {
                    (true, Some(_)) => return Err(kernel(o, obj, libc::EEXIST)),
                    (false, None) => return Err(kernel(o, obj, libc::ENOENT)),
                    (true, None) => dests.push(DestEntry {
                        dest: *d,
                        active_conns: 0,
                        inact_conns: 0,
                        persist_conns: 0,
                        stats: Stats::default(),
                    }),
                    (false, Some(j)) => dests[j].dest = *d,
                }
            }
            Op::DelDest(k, dk) => {
                let Some(i) = find(&st, k) else {
                    return Err(kernel(o, obj, libc::ESRCH));
                };
                let dests = &mut st.services[i].1;
                match dests.iter().position(|e| e.dest.key() == *dk) {
                    None => return Err(kernel(o, obj, libc::ENOENT)),
                    Some(j) => {
                        dests.remove(j);
                    }
                }
            }
        }
        Ok(())
    }
}

/// The kernel's checks on a full service spec (errno on failure).
fn check_service(s: &Service) -> Result<(), i32> {
    if !SCHEDULERS.contains(&s.scheduler.as_str()) {
        return Err(libc::ENOENT);
    }
    if let Some(pe) = &s.pe_name
        && pe != "sip"
    {
        return Err(libc::ENOENT);
    }
    match (s.key.family(), s.netmask) {
        (Family::V6, Netmask::V6(p)) if (1..=128).contains(&p) => {}
        (Family::V4, Netmask::V4(_)) => {}
        _ => return Err(libc::EINVAL),
    }
    if let ServiceKey::Fwmark { mark: 0, .. } = s.key {
        return Err(libc::EINVAL);
    }
    Ok(())
}

/// The kernel's checks on a destination (errno on failure).
fn check_dest(k: &ServiceKey, d: &Dest) -> Result<(), i32> {
    if d.l_threshold > d.u_threshold {
        return Err(libc::ERANGE);
    }
    if d.weight > i32::MAX as u32 {
        return Err(libc::ERANGE);
    }
    if Family::of(&d.addr) != k.family() && d.forward != Forward::Tunnel {
        return Err(libc::EINVAL);
    }
    Ok(())
}

impl IpvsTable for MemTable {
    async fn apply(&self, ops: &[Op]) -> Result<(), Error> {
        let mut first = None;
        for op in ops {
            if let Err(e) = self.apply_one(op) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    async fn services(&self) -> Result<Vec<ServiceEntry>, Error> {
        Ok(self
            .lock()
            .services
            .iter()
            .map(|(s, _)| s.clone())
            .collect())
    }

    async fn dests(&self, key: &ServiceKey) -> Result<Vec<DestEntry>, Error> {
        Ok(self
            .lock()
            .services
            .iter()
            .find(|(s, _)| s.service.key == *key)
            .map(|(_, d)| d.clone())
            .unwrap_or_default())
    }

    async fn flush(&self) -> Result<(), Error> {
        self.lock().services.clear();
        Ok(())
    }

    async fn zero(&self, key: Option<&ServiceKey>) -> Result<(), Error> {
        let mut st = self.lock();
        let mut hit = false;
        for (s, d) in st.services.iter_mut() {
            if key.is_none_or(|k| *k == s.service.key) {
                hit = true;
                s.stats = Stats::default();
                d.iter_mut().for_each(|e| e.stats = Stats::default());
            }
        }
        match key {
            Some(k) if !hit => Err(kernel(Operation::Zero, k.to_string(), libc::ESRCH)),
            _ => Ok(()),
        }
    }

    async fn timeouts(&self) -> Result<Timeouts, Error> {
        Ok(self.lock().timeouts)
    }

    async fn set_timeouts(&self, t: &Timeouts) -> Result<(), Error> {
        let mut st = self.lock();
        if t.tcp != 0 {
            st.timeouts.tcp = t.tcp;
        }
        if t.tcp_fin != 0 {
            st.timeouts.tcp_fin = t.tcp_fin;
        }
        if t.udp != 0 {
            st.timeouts.udp = t.udp;
        }
        Ok(())
    }

    async fn start_daemon(&self, d: &SyncDaemon) -> Result<(), Error> {
        let mut st = self.lock();
        if st.daemons.iter().any(|x| x.state == d.state) {
            return Err(kernel(
                Operation::StartDaemon,
                d.state.name().into(),
                libc::EEXIST,
            ));
        }
        st.daemons.push(d.clone());
        st.daemons.sort_by_key(|d| d.state);
        Ok(())
    }

    async fn stop_daemon(&self, state: DaemonState) -> Result<(), Error> {
        let mut st = self.lock();
        match st.daemons.iter().position(|x| x.state == state) {
            None => Err(kernel(
                Operation::StopDaemon,
                state.name().into(),
                libc::ESRCH,
            )),
            Some(i) => {
                st.daemons.remove(i);
                Ok(())
            }
        }
    }

    async fn daemons(&self) -> Result<Vec<SyncDaemon>, Error> {
        Ok(self.lock().daemons.clone())
    }

    /// What a 6.x kernel reports: version 1.2.1, 4096 buckets.
    async fn info(&self) -> Result<Info, Error> {
        Ok(Info {
            version: 0x010201,
            conn_tab_size: 4096,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn run<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    use std::future::Future;

    #[test]
    fn kernel_errnos_for_duplicates_and_missing_objects() {
        let t = MemTable::new();
        let k = ServiceKey::tcp(Ipv4Addr::new(192, 0, 2, 1), 80);
        let s = Service::new(k, "wlc");
        let d = Dest::new(Ipv4Addr::new(10, 0, 0, 1), 80, Forward::Masq);
        run(async {
            assert_eq!(
                t.apply(&[Op::AddDest(k, d)])
                    .await
                    .unwrap_err()
                    .plain_message(),
                "Service not defined"
            );
            t.apply(&[Op::AddService(s.clone())]).await.unwrap();
            assert!(
                t.apply(&[Op::AddService(s.clone())])
                    .await
                    .unwrap_err()
                    .is_exists()
            );
            t.apply(&[Op::AddDest(k, d)]).await.unwrap();
            assert_eq!(
                t.apply(&[Op::AddDest(k, d)])
                    .await
                    .unwrap_err()
                    .plain_message(),
                "Destination already exists"
            );
            let e = t
                .apply(&[Op::DelDest(
                    k,
                    DestKey {
                        addr: d.addr,
                        port: 81,
                    },
                )])
                .await
                .unwrap_err();
            assert_eq!(e.plain_message(), "No such destination");
            assert!(e.is_not_found());
            let mut bad = s.clone();
            bad.scheduler = "nope".into();
            assert_eq!(
                t.apply(&[Op::EditService(bad)])
                    .await
                    .unwrap_err()
                    .plain_message(),
                "Scheduler or persistence engine not found"
            );
            assert_eq!(t.dests(&k).await.unwrap().len(), 1);
            t.apply(&[Op::DelService(k)]).await.unwrap();
            assert!(t.services().await.unwrap().is_empty());
            assert_eq!(t.log().len(), 8);
        });
    }

    #[test]
    fn daemons_and_timeouts() {
        let t = MemTable::new();
        run(async {
            let d = SyncDaemon::new(DaemonState::Master, "eth0", 3);
            t.start_daemon(&d).await.unwrap();
            assert!(t.start_daemon(&d).await.unwrap_err().is_exists());
            assert_eq!(t.daemons().await.unwrap(), vec![d]);
            t.stop_daemon(DaemonState::Master).await.unwrap();
            assert_eq!(
                t.stop_daemon(DaemonState::Master)
                    .await
                    .unwrap_err()
                    .plain_message(),
                "No daemon is running"
            );
            t.set_timeouts(&Timeouts {
                tcp: 10,
                tcp_fin: 0,
                udp: 5,
            })
            .await
            .unwrap();
            assert_eq!(
                t.timeouts().await.unwrap(),
                Timeouts {
                    tcp: 10,
                    tcp_fin: 120,
                    udp: 5
                }
            );
        });
    }
}
