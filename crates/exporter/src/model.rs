//! What one scrape knows, in a compact form (pure): the kernel table from
//! `/proc`, and what pulse's and lvsd's documents say, reduced to what the
//! series need. A table of 20,000 real servers stays around a megabyte per
//! source, and each family is encoded from it without copying.

use std::net::IpAddr;

use piranha_status::{lvsd, pulse};

use crate::procfs::{IpvsTable, IpvsTotals};

/// An IPVS protocol as `/proc/net/ip_vs` and lvsd's `stats` name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    /// `TCP`.
    Tcp,
    /// `UDP`.
    Udp,
    /// `SCTP`.
    Sctp,
    /// `FWM`: a firewall-mark service.
    Fwm,
    /// Anything else the kernel prints (`AH`, `ESP`, ...).
    Other(Box<str>),
}

impl Proto {
    /// From its name.
    pub fn from_name(s: &str) -> Proto {
        match s {
            "TCP" => Proto::Tcp,
            "UDP" => Proto::Udp,
            "SCTP" => Proto::Sctp,
            "FWM" => Proto::Fwm,
            o => Proto::Other(o.into()),
        }
    }

    /// Its name, the `proto` label.
    pub fn name(&self) -> &str {
        match self {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
            Proto::Sctp => "SCTP",
            Proto::Fwm => "FWM",
            Proto::Other(s) => s,
        }
    }
}

/// A virtual service: what the labels `local_address`, `local_port`,
/// `proto` and `local_mark` say.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Svc {
    /// Protocol (`FWM` for a firewall-mark service).
    pub proto: Proto,
    /// Virtual address (`None` for a firewall-mark service).
    pub addr: Option<IpAddr>,
    /// Virtual port (0 for a firewall-mark service).
    pub port: u16,
    /// Firewall mark (`Some` only for `FWM`).
    pub mark: Option<u32>,
}

impl Svc {
    /// An address/port service.
    pub fn inet(proto: Proto, addr: IpAddr, port: u16) -> Svc {
        Svc {
            proto,
            addr: Some(addr),
            port,
            mark: None,
        }
    }

    /// A firewall-mark service.
    pub fn fwmark(mark: u32) -> Svc {
        Svc {
            proto: Proto::Fwm,
            addr: None,
            port: 0,
            mark: Some(mark),
        }
    }
}

/// Removes from `v` every element whose key equals that of an earlier
/// element, keeping the first (and the order). Exact: sorts indices by
/// key, no hashing.
pub fn dedup_by_key<T, K: Ord>(v: &mut Vec<T>, key: impl Fn(&T) -> K) -> usize {
    if v.len() < 2 {
        return 0;
    }
    let mut idx: Vec<u32> = (0..v.len() as u32).collect();
    // stable: the first of equal keys stays first
    idx.sort_by(|&a, &b| key(&v[a as usize]).cmp(&key(&v[b as usize])));
    let mut drop = vec![false; v.len()];
    let mut dropped = 0;
    for w in idx.windows(2) {
        if key(&v[w[0] as usize]) == key(&v[w[1] as usize]) {
            drop[w[1] as usize] = true;
            dropped += 1;
        }
    }
    if dropped > 0 {
        let mut i = 0;
        v.retain(|_| {
            i += 1;
            !drop[i - 1]
        });
    }
    dropped
}

/// Deduplicates the kernel table's backends by their labels (a read of
/// `/proc/net/ip_vs` while the table changes can see an entry twice).
pub fn dedup_ipvs(t: &mut IpvsTable) {
    let services = std::mem::take(&mut t.services);
    dedup_by_key(&mut t.backends, |b| {
        (&services[b.svc as usize], b.addr, b.port)
    });
    t.services = services;
}

/// Interned strings: one buffer, `(start, len)` ranges into it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Strings {
    buf: String,
}

/// A string in [`Strings`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Str {
    start: u32,
    len: u32,
}

impl Strings {
    /// Stores `s`.
    pub fn add(&mut self, s: &str) -> Str {
        let start = self.buf.len() as u32;
        self.buf.push_str(s);
        Str {
            start,
            len: s.len() as u32,
        }
    }

    /// The string `s` names.
    pub fn get(&self, s: Str) -> &str {
        &self.buf[s.start as usize..(s.start + s.len) as usize]
    }

    fn shrink(&mut self) {
        self.buf.shrink_to_fit();
    }
}

/// One real server as lvsd reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Real {
    /// The `virtual` block's name.
    pub virt: Str,
    /// The `server` block's name.
    pub name: Str,
    /// Its address (canonical form when it is an IP address).
    pub addr: Str,
    /// Its port (empty when lvsd's address has none).
    pub port: Str,
    /// `Some(true)` healthy, `Some(false)` down, pending or unknown,
    /// `None` when not monitored.
    pub up: Option<bool>,
    /// Weight in the IPVS table (0 when not in it).
    pub weight: u32,
    /// Latest check passed; `None` before the first check.
    pub result: Option<bool>,
    /// Checks failed since lvsd started its nanny.
    pub check_failures: u64,
}

/// lvsd's `json` answer, reduced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LvsdStatus {
    /// lvsd runs as pulse's warm standby (`role` = `standby`).
    pub standby: bool,
    /// The configuration in force.
    pub config: lvsd::Config,
    /// Reloads since lvsd started.
    pub reloads: lvsd::Reloads,
    /// Strings the reals refer to.
    pub strings: Strings,
    /// Every real server of every virtual block (deduplicated by labels).
    pub reals: Vec<Real>,
}

/// Splits lvsd's `RIP:PORT` (or `[RIP6]:PORT`) into address and port.
fn split_address(s: &str) -> (String, &str) {
    let (a, p) = match s.rsplit_once(':') {
        Some((a, p)) if !a.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => (a, p),
        _ => (s, ""),
    };
    let a = a
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(a);
    match a.parse::<IpAddr>() {
        Ok(ip) => (ip.to_string(), p),
        // an IPv6 address without port or brackets: keep it whole
        Err(_) if s.parse::<IpAddr>().is_ok() => (s.parse::<IpAddr>().unwrap().to_string(), ""),
        Err(_) => (a.to_string(), p),
    }
}

impl LvsdStatus {
    /// Starts an empty status from the document's small parts.
    pub fn new(config: lvsd::Config, reloads: lvsd::Reloads) -> LvsdStatus {
        LvsdStatus {
            config,
            reloads,
            ..Default::default()
        }
    }

    /// Adds the real servers of one virtual block.
    pub fn add_virtual(&mut self, v: &lvsd::VsStatus) {
        let virt = self.strings.add(&v.name);
        for r in &v.reals {
            let name = self.strings.add(&r.name);
            let (a, p) = split_address(&r.address);
            let addr = self.strings.add(&a);
            let port = self.strings.add(p);
            let up = match r.health.as_str() {
                "-" | "" => None,
                h => Some(h == "up"),
            };
            let result = match r.last_result.as_deref() {
                Some("pass") => Some(true),
                Some("fail") => Some(false),
                _ => None,
            };
            self.reals.push(Real {
                virt,
                name,
                addr,
                port,
                up,
                weight: r.weight.unwrap_or(0),
                result,
                check_failures: r.check_failures,
            });
        }
    }

    /// Deduplicates the real servers by their labels and trims memory.
    pub fn finish(&mut self) {
        let strings = std::mem::take(&mut self.strings);
        dedup_by_key(&mut self.reals, |r| {
            (
                strings.get(r.virt),
                strings.get(r.name),
                strings.get(r.addr),
                strings.get(r.port),
            )
        });
        self.strings = strings;
        self.strings.shrink();
        self.reals.shrink_to_fit();
    }

    /// The whole document, reduced.
    pub fn from_doc(doc: &lvsd::Status) -> LvsdStatus {
        let mut s = LvsdStatus::new(doc.config.clone(), doc.reloads.clone());
        s.standby = doc.role == "standby";
        for v in &doc.virtuals {
            s.add_virtual(v);
        }
        s.finish();
        s
    }
}

/// One service of lvsd's `stats` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct StatSvc {
    /// The service.
    pub svc: Svc,
    /// The lvs.cf virtual block defining it.
    pub virtual_name: Option<Box<str>>,
    /// Its counters.
    pub stats: lvsd::Counters,
}

/// One destination of lvsd's `stats` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct StatDest {
    /// Index of its service in [`TableStats::services`].
    pub svc: u32,
    /// Real server address.
    pub addr: IpAddr,
    /// Real server port.
    pub port: u16,
    /// Its counters.
    pub stats: lvsd::Counters,
}

/// lvsd's `stats` answer, reduced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableStats {
    /// Why lvsd could not read the table.
    pub error: Option<String>,
    /// Services (deduplicated).
    pub services: Vec<StatSvc>,
    /// Destinations (deduplicated).
    pub dests: Vec<StatDest>,
    /// Entries whose address did not parse (skipped).
    pub bad_entries: usize,
}

impl TableStats {
    /// Starts an empty table.
    pub fn new(error: Option<String>) -> TableStats {
        TableStats {
            error,
            ..Default::default()
        }
    }

    /// Adds one service with its destinations.
    pub fn add_service(&mut self, s: &lvsd::ServiceStats) {
        let proto = Proto::from_name(&s.proto);
        let svc = if proto == Proto::Fwm {
            Svc::fwmark(s.fwmark)
        } else {
            match s.address.parse::<IpAddr>() {
                Ok(a) => Svc::inet(proto, a, s.port),
                Err(_) => {
                    self.bad_entries += 1 + s.dests.len();
                    return;
                }
            }
        };
        let idx = self.services.len() as u32;
        self.services.push(StatSvc {
            svc,
            virtual_name: s.virtual_name.as_deref().map(Into::into),
            stats: s.stats,
        });
        for d in &s.dests {
            match d.address.parse::<IpAddr>() {
                Ok(addr) => self.dests.push(StatDest {
                    svc: idx,
                    addr,
                    port: d.port,
                    stats: d.stats,
                }),
                Err(_) => self.bad_entries += 1,
            }
        }
    }

    /// Deduplicates services and destinations by their labels.
    pub fn finish(&mut self) {
        let services = std::mem::take(&mut self.services);
        dedup_by_key(&mut self.dests, |d| {
            (&services[d.svc as usize].svc, d.addr, d.port)
        });
        self.services = services;
        // Services: a duplicate keeps its index (its destinations refer to
        // it) but is never encoded; see `unique_services`.
        self.dests.shrink_to_fit();
    }

    /// Indices of the services to encode: the first of each label set.
    pub fn unique_services(&self) -> Vec<u32> {
        let mut idx: Vec<u32> = (0..self.services.len() as u32).collect();
        dedup_by_key(&mut idx, |&i| &self.services[i as usize].svc);
        idx
    }

    /// The whole document, reduced.
    pub fn from_doc(doc: &lvsd::TableStats) -> TableStats {
        let mut t = TableStats::new(doc.error.clone());
        for s in &doc.services {
            t.add_service(s);
        }
        t.finish();
        t
    }
}

/// Everything one scrape gathered.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// `/proc/net/ip_vs` (`None`: unreadable, `piranha_ipvs_up 0`).
    pub ipvs: Option<IpvsTable>,
    /// `/proc/net/ip_vs_stats`.
    pub totals: Option<IpvsTotals>,
    /// pulse's `json` (`None`: no valid answer in time).
    pub pulse: Option<pulse::Status>,
    /// lvsd's `json` and `stats` (`None`: no valid answer in time).
    pub lvsd: Option<(LvsdStatus, TableStats)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_keeps_the_first_and_the_order() {
        let mut v = vec![(1, 'a'), (2, 'b'), (1, 'c'), (3, 'd'), (2, 'e'), (1, 'f')];
        assert_eq!(dedup_by_key(&mut v, |x| x.0), 3);
        assert_eq!(v, vec![(1, 'a'), (2, 'b'), (3, 'd')]);
        let mut e: Vec<u8> = vec![];
        assert_eq!(dedup_by_key(&mut e, |x| *x), 0);
    }

    #[test]
    fn addresses_split_and_canonical() {
        assert_eq!(split_address("10.1.0.1:80"), ("10.1.0.1".into(), "80"));
        assert_eq!(
            split_address("[2001:0db8::0001]:443"),
            ("2001:db8::1".into(), "443")
        );
        assert_eq!(split_address("2001:db8::1"), ("2001:db8::1".into(), ""));
        assert_eq!(split_address("10.1.0.1"), ("10.1.0.1".into(), ""));
        assert_eq!(split_address("host:x"), ("host:x".into(), ""));
        assert_eq!(split_address(""), ("".into(), ""));
    }

    fn rs(name: &str, address: &str, health: &str) -> lvsd::RsStatus {
        lvsd::RsStatus {
            name: name.into(),
            address: address.into(),
            health: health.into(),
            ..Default::default()
        }
    }

    #[test]
    fn lvsd_status_reduces_and_dedups() {
        let mut r1 = rs("web1", "10.1.0.1:80", "up");
        r1.weight = Some(3);
        r1.last_result = Some("pass".into());
        r1.check_failures = 4;
        let doc = lvsd::Status {
            virtuals: vec![
                lvsd::VsStatus {
                    name: "www".into(),
                    reals: vec![
                        r1,
                        rs("web2", "10.1.0.2:80", "down"),
                        rs("web3", "10.1.0.3:80", "-"),
                        rs("web1", "10.1.0.1:80", "down"),
                    ],
                    ..Default::default()
                },
                lvsd::VsStatus {
                    name: "www".into(),
                    reals: vec![rs("web1", "10.1.0.1:80", "pending")],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let s = LvsdStatus::from_doc(&doc);
        assert_eq!(s.reals.len(), 3);
        let r = &s.reals[0];
        assert_eq!(s.strings.get(r.virt), "www");
        assert_eq!(s.strings.get(r.name), "web1");
        assert_eq!(s.strings.get(r.addr), "10.1.0.1");
        assert_eq!(s.strings.get(r.port), "80");
        assert_eq!(
            (r.up, r.weight, r.result, r.check_failures),
            (Some(true), 3, Some(true), 4)
        );
        assert_eq!((s.reals[1].up, s.reals[1].weight), (Some(false), 0));
        assert_eq!((s.reals[2].up, s.reals[2].result), (None, None));
    }

    #[test]
    fn table_stats_reduce_and_dedup() {
        let dest = |a: &str| lvsd::DestStats {
            address: a.into(),
            port: 80,
            ..Default::default()
        };
        let svc = |proto: &str, addr: &str, mark, dests| lvsd::ServiceStats {
            proto: proto.into(),
            address: addr.into(),
            port: if mark == 0 { 80 } else { 0 },
            fwmark: mark,
            virtual_name: Some("www".into()),
            stats: Default::default(),
            dests,
        };
        let doc = lvsd::TableStats {
            services: vec![
                svc(
                    "TCP",
                    "10.0.0.1",
                    0,
                    vec![dest("10.1.0.1"), dest("10.1.0.1")],
                ),
                svc("FWM", "", 7, vec![dest("10.1.0.1")]),
                svc(
                    "TCP",
                    "10.0.0.1",
                    0,
                    vec![dest("10.1.0.2"), dest("10.1.0.1")],
                ),
                svc("TCP", "bogus", 0, vec![dest("10.1.0.1")]),
                svc("UDP", "10.0.0.1", 0, vec![dest("nope")]),
            ],
            ..Default::default()
        };
        let t = TableStats::from_doc(&doc);
        assert_eq!(t.bad_entries, 3);
        assert_eq!(t.services.len(), 4);
        assert_eq!(t.unique_services(), vec![0, 1, 3]);
        assert_eq!(t.services[1].svc, Svc::fwmark(7));
        let d: Vec<(u32, String)> = t
            .dests
            .iter()
            .map(|d| (d.svc, d.addr.to_string()))
            .collect();
        assert_eq!(
            d,
            vec![
                (0, "10.1.0.1".into()),
                (1, "10.1.0.1".into()),
                (2, "10.1.0.2".into())
            ]
        );
    }
}
