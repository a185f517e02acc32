//! What CONTROL/MONITORING shows, read from pulse's and lvsd's status
//! sockets and `/proc/net/ip_vs` (blocking: call it off the async threads).
//!
//! A page of virtual servers at a time ([`Query`]: a filter and a page):
//! lvsd's documents are parsed as they arrive, one virtual server at a
//! time ([`for_each_in`]), and only the page's are kept, so a table of
//! 20,000 real servers is never held whole; the same for its text answer
//! and `/proc/net/ip_vs`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::marker::PhantomData;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lvs_util::status_socket::{Answer, QueryError};
use piranha_status::lvsd;
use piranha_status::pulse;
use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// How long a daemon may take to answer.
pub const TIMEOUT: Duration = Duration::from_millis(900);
/// Virtual servers on a page unless the query says.
pub const PER_PAGE: usize = 25;
/// Virtual servers on a page at most.
pub const PER_PAGE_MAX: usize = 200;
/// Real server changes kept for the event list.
pub const EVENTS: usize = 20;
/// lvsd's text answer shown at most (bytes).
const TEXT_MAX: usize = 256 << 10;

/// Which virtual servers to show: those whose name, service (`TCP
/// VIP:PORT`) or one of whose real servers' names or addresses contain
/// `filter` (any case), page `page` (from 0) of `per`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// What to look for; empty: everything.
    pub filter: String,
    /// The page, from 0.
    pub page: usize,
    /// Virtual servers on a page.
    pub per: usize,
}

impl Default for Query {
    fn default() -> Query {
        Query {
            filter: String::new(),
            page: 0,
            per: PER_PAGE,
        }
    }
}

impl Query {
    /// From a query string's `q`, `page` (from 1) and `per`.
    pub fn from_form(qs: &BTreeMap<String, String>) -> Query {
        let num = |k: &str| qs.get(k).and_then(|v| v.trim().parse::<usize>().ok());
        Query {
            filter: qs
                .get("q")
                .map(|s| s.trim().chars().take(100).collect())
                .unwrap_or_default(),
            page: num("page").unwrap_or(1).saturating_sub(1),
            per: num("per").unwrap_or(PER_PAGE).clamp(1, PER_PAGE_MAX),
        }
    }

    /// Whether any of `texts` contains the filter.
    pub fn matches<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        let f = self.filter.to_lowercase();
        texts.into_iter().any(|t| t.to_lowercase().contains(&f))
    }

    /// Whether the `i`th match (from 0) is on the page.
    pub fn on_page(&self, i: usize) -> bool {
        i / self.per == self.page
    }

    /// This view as a query string (`q`, `page`, `per`; empty for the
    /// first page of everything).
    pub fn query_string(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        if !self.filter.is_empty() {
            s.append_pair("q", &self.filter);
        }
        if self.page > 0 {
            s.append_pair("page", &(self.page + 1).to_string());
        }
        if self.per != PER_PAGE {
            s.append_pair("per", &self.per.to_string());
        }
        s.finish()
    }

    /// The page's navigation for `matched` matches of `total`, with links
    /// to `path`.
    pub fn pager(&self, path: &str, matched: usize, total: usize) -> Pager {
        let pages = matched.div_ceil(self.per).max(1);
        let page = self.page.min(pages - 1);
        let link = |p: usize| {
            let mut s = form_urlencoded::Serializer::new(String::new());
            if !self.filter.is_empty() {
                s.append_pair("q", &self.filter);
            }
            s.append_pair("page", &(p + 1).to_string());
            if self.per != PER_PAGE {
                s.append_pair("per", &self.per.to_string());
            }
            format!("{path}?{}", s.finish())
        };
        let first = (page * self.per).min(matched);
        Pager {
            filter: self.filter.clone(),
            page: page + 1,
            pages,
            per: self.per,
            matched,
            total,
            first: if matched == 0 { 0 } else { first + 1 },
            last: (first + self.per).min(matched),
            prev: (page > 0).then(|| link(page - 1)),
            next: (page + 1 < pages).then(|| link(page + 1)),
            first_link: (page > 1).then(|| link(0)),
            last_link: (page + 2 < pages).then(|| link(pages - 1)),
        }
    }
}

/// A page's place among the matches, for the navigation links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pager {
    /// The filter.
    pub filter: String,
    /// This page (from 1).
    pub page: usize,
    /// Pages.
    pub pages: usize,
    /// Per page.
    pub per: usize,
    /// Virtual servers matching the filter.
    pub matched: usize,
    /// Virtual servers in all.
    pub total: usize,
    /// The first shown (from 1; 0 when none).
    pub first: usize,
    /// The last shown.
    pub last: usize,
    /// Link to the previous page.
    pub prev: Option<String>,
    /// Link to the next page.
    pub next: Option<String>,
    /// Link to the first page (when not next to it).
    pub first_link: Option<String>,
    /// Link to the last page (when not next to it).
    pub last_link: Option<String>,
}

struct Each<T, F> {
    field: &'static str,
    f: F,
    _t: PhantomData<T>,
}

struct Elements<'a, T, F> {
    f: &'a mut F,
    _t: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>, F: FnMut(T)> Visitor<'de> for Elements<'_, T, F> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(x) = seq.next_element::<T>()? {
            (self.f)(x);
        }
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

impl<'de, T: Deserialize<'de>, F: FnMut(T)> DeserializeSeed<'de> for Elements<'_, T, F> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: Deserialize<'de>, F: FnMut(T)> Visitor<'de> for Each<T, F> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(k) = map.next_key::<String>()? {
            if k == self.field {
                map.next_value_seed(Elements {
                    f: &mut self.f,
                    _t: PhantomData::<T>,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// Reads the JSON object from `r` and calls `f` with each element of its
/// list `field`, one at a time (the rest is skipped): the whole document
/// is never in memory.
pub fn for_each_in<T: DeserializeOwned, R: Read>(
    r: R,
    field: &'static str,
    f: impl FnMut(T),
) -> Result<(), String> {
    use serde::Deserializer as _;
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(64 << 10, r));
    de.deserialize_map(Each {
        field,
        f,
        _t: PhantomData,
    })
    .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())
}

/// Opens a daemon's answer to `request` as a reader.
pub fn ask(socket: &str, request: &str) -> Result<Answer, QueryError> {
    Answer::open(socket, request, Instant::now() + TIMEOUT, TIMEOUT)
}

/// pulse's answer, the parts the page shows (the VIP list and counters
/// are skipped while parsing).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PulseView {
    /// pulse's pid.
    pub pid: u32,
    /// `primary` or `backup`.
    pub node: String,
    /// `lvs` or `fos`.
    pub service: String,
    /// `starting`, `standby` or `active`.
    pub role: String,
    /// The partner router.
    pub partner: pulse::Partner,
    /// lvsd or fos.
    pub daemon: pulse::Daemon,
    /// lvs.cf.
    pub config: pulse::Config,
    /// The last role changes, oldest first.
    pub history: Vec<pulse::RoleChange>,
}

/// A real server's change of health or weight, for the event list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RealEvent {
    /// When (seconds since the epoch).
    pub time: f64,
    /// The virtual server.
    pub virtual_name: String,
    /// The real server.
    pub server: String,
    /// Its health since then.
    pub health: String,
    /// Its weight in the table since then (`-`: not in it).
    pub weight: String,
}

/// lvsd's `json` answer as the page needs it: the page's virtual servers
/// and counts over all of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LvsdPage {
    /// The page's virtual servers, in lvsd's order.
    pub virtuals: Vec<lvsd::VsStatus>,
    /// Virtual servers lvsd has.
    pub total: usize,
    /// Those matching the filter.
    pub matched: usize,
    /// Real servers, and those up.
    pub reals: usize,
    /// Real servers up.
    pub reals_up: usize,
    /// nannies running (real servers with a pid).
    pub nannies: usize,
    /// The real servers' last changes, newest first, at most [`EVENTS`].
    pub events: Vec<RealEvent>,
    /// The latest page's worth of matches before the page asked for, in
    /// case that page is past the end.
    tail: Vec<lvsd::VsStatus>,
}

fn newest_first(v: &mut Vec<RealEvent>, max: usize) {
    v.sort_by(|a, b| b.time.total_cmp(&a.time));
    v.truncate(max);
}

impl LvsdPage {
    /// Takes in one virtual server of lvsd's answer.
    pub fn add(&mut self, q: &Query, v: lvsd::VsStatus) {
        self.total += 1;
        for r in &v.reals {
            self.reals += 1;
            self.reals_up += usize::from(r.health == "up");
            self.nannies += usize::from(r.pid.is_some());
            if let Some(time) = r.last_change_at
                && (self.events.len() < EVENTS || self.events.last().is_some_and(|e| e.time < time))
            {
                self.events.push(RealEvent {
                    time,
                    virtual_name: v.name.clone(),
                    server: r.name.clone(),
                    health: r.health.clone(),
                    weight: r.weight.map_or("-".into(), |w| w.to_string()),
                });
                newest_first(&mut self.events, EVENTS);
            }
        }
        let texts = [v.name.as_str(), v.service.as_str()].into_iter().chain(
            v.reals
                .iter()
                .flat_map(|r| [r.name.as_str(), r.address.as_str()]),
        );
        if q.matches(texts) {
            if q.on_page(self.matched) {
                self.virtuals.push(v);
            } else if self.matched / q.per < q.page {
                if self.matched.is_multiple_of(q.per) {
                    self.tail.clear();
                }
                self.tail.push(v);
            }
            self.matched += 1;
        }
    }

    /// Ends the answer: a page past the end shows the last one.
    pub fn finish(&mut self) {
        if self.virtuals.is_empty() {
            self.virtuals = std::mem::take(&mut self.tail);
        }
        self.tail = Vec::new();
    }

    /// The page's services (`TCP VIP:PORT`, ...) and names.
    pub fn services(&self) -> (HashSet<String>, HashSet<String>) {
        (
            self.virtuals.iter().map(|v| v.service.clone()).collect(),
            self.virtuals.iter().map(|v| v.name.clone()).collect(),
        )
    }
}

/// One service of `/proc/net/ip_vs`, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpvsService {
    /// `TCP 10.0.0.1:80`, `FWM 7`, as lvsd names services.
    pub service: String,
    /// The rest of the line: scheduler and flags.
    pub flags: String,
    /// Its destinations.
    pub dests: Vec<IpvsDest>,
}

/// A destination of an [`IpvsService`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpvsDest {
    /// `10.0.1.1:80`.
    pub address: String,
    /// `Route`, `Masq`, `Tunnel`.
    pub forward: String,
    /// Weight.
    pub weight: String,
    /// Active connections.
    pub active: String,
    /// Inactive connections.
    pub inactive: String,
}

/// `A.B.C.D:PORT` or `[V6]:PORT` from the kernel's `HHHHHHHH:PPPP` or
/// `[HHHH:...:HHHH]:PPPP`.
pub fn proc_address(hex: &str) -> Option<String> {
    let (a, p) = hex.rsplit_once(':')?;
    let port = u16::from_str_radix(p, 16).ok()?;
    if let Some(v6) = a.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
        let mut g = [0u16; 8];
        let parts: Vec<&str> = v6.split(':').collect();
        if parts.len() != 8 {
            return None;
        }
        for (x, p) in g.iter_mut().zip(parts) {
            *x = u16::from_str_radix(p, 16).ok()?;
        }
        return Some(format!("[{}]:{port}", std::net::Ipv6Addr::from(g)));
    }
    if a.len() != 8 {
        return None;
    }
    let a = u32::from_str_radix(a, 16).ok()?;
    Some(format!("{}:{port}", std::net::Ipv4Addr::from(a)))
}

/// A service line of `/proc/net/ip_vs`: its name as lvsd gives it and
/// the scheduler and flags.
fn proc_service(line: &str) -> Option<(String, String)> {
    let mut w = line.split_whitespace();
    let proto = w.next()?;
    let addr = w.next()?;
    let rest: Vec<&str> = w.collect();
    let name = if proto == "FWM" {
        format!("FWM {}", u32::from_str_radix(addr, 16).ok()?)
    } else {
        format!("{proto} {}", proc_address(addr)?)
    };
    Some((name, rest.join(" ")))
}

/// `/proc/net/ip_vs` for the page: the header lines and the blocks of the
/// services `want` accepts (called once per service, in order), raw and
/// decoded; and how many services the file has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpvsPage {
    /// The lines kept, as the kernel wrote them.
    pub raw: String,
    /// The services kept, decoded.
    pub services: Vec<IpvsService>,
    /// Services in the file.
    pub total: usize,
}

/// Reads `/proc/net/ip_vs` from `r` line by line, keeping what
/// [`IpvsPage`] says.
pub fn ipvs_page(r: impl BufRead, mut want: impl FnMut(&str) -> bool) -> std::io::Result<IpvsPage> {
    let mut out = IpvsPage::default();
    let mut keep = true;
    let mut header = true;
    for line in r.lines() {
        let line = line?;
        if line.starts_with(|c: char| c.is_ascii_uppercase())
            && !line.starts_with("IP Virtual")
            && !line.starts_with("Prot ")
        {
            header = false;
            out.total += 1;
            keep = match proc_service(&line) {
                Some((name, flags)) => {
                    let k = want(&name);
                    if k {
                        out.services.push(IpvsService {
                            service: name,
                            flags,
                            dests: Vec::new(),
                        });
                    }
                    k
                }
                None => false,
            };
        } else if !header {
            let w: Vec<&str> = line.split_whitespace().collect();
            if keep
                && let ["->", a, fwd, weight, active, inactive, ..] = w.as_slice()
                && let Some(s) = out.services.last_mut()
            {
                s.dests.push(IpvsDest {
                    address: proc_address(a).unwrap_or_else(|| a.to_string()),
                    forward: fwd.to_string(),
                    weight: weight.to_string(),
                    active: active.to_string(),
                    inactive: inactive.to_string(),
                });
            }
        }
        if keep || header {
            out.raw.push_str(&line);
            out.raw.push('\n');
        }
    }
    Ok(out)
}

/// lvsd's text answer for the page: the lines before the first `virtual`
/// block and the blocks of virtual servers in `names`, at most
/// [`TEXT_MAX`] bytes.
pub fn lvsd_text_page(r: impl BufRead, names: Option<&HashSet<String>>) -> std::io::Result<String> {
    let mut out = String::new();
    let mut keep = true;
    for line in r.lines() {
        let line = line?;
        if let Some(rest) = line.strip_prefix("virtual ") {
            let name = rest.split(':').next().unwrap_or("");
            keep = names.is_some_and(|n| n.contains(name));
        }
        if keep && out.len() + line.len() < TEXT_MAX {
            out.push_str(&line);
            out.push('\n');
        }
    }
    Ok(out)
}

/// Where to look.
#[derive(Debug, Clone)]
pub struct Sources {
    /// pulse's status socket.
    pub pulse_socket: String,
    /// lvsd's status socket.
    pub lvsd_socket: String,
    /// Where procfs is mounted.
    pub procfs: PathBuf,
}

/// One look at the router, for one page.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// pulse's answer, or why there is none.
    pub pulse: Result<PulseView, String>,
    /// lvsd's text answer for the page, or why there is none.
    pub lvsd: Result<String, String>,
    /// lvsd's `json` answer for the page, if it gave one.
    pub lvsd_page: Option<LvsdPage>,
    /// lvsd's `stats` for the page's virtual servers (by name).
    pub lvsd_stats: Option<HashMap<String, lvsd::ServiceStats>>,
    /// `/proc/net/ip_vs` for the page, or why it cannot be read.
    pub ipvs: Result<IpvsPage, String>,
    /// The page's place.
    pub pager: Pager,
}

impl Sources {
    /// Reads all of them for page `q` (links to `path`).
    pub fn snapshot(&self, q: &Query, path: &str) -> Snapshot {
        let pulse = ask(&self.pulse_socket, "json")
            .map_err(|e| e.to_string())
            .and_then(|a| {
                serde_json::from_reader::<_, PulseView>(BufReader::new(a))
                    .map_err(|e| format!("{}: {e}", self.pulse_socket))
            });
        let mut page = LvsdPage::default();
        let lvsd_page = ask(&self.lvsd_socket, "json")
            .ok()
            .and_then(|a| for_each_in(a, "virtuals", |v| page.add(q, v)).ok())
            .map(|()| {
                page.finish();
                page
            });
        let sets = lvsd_page.as_ref().map(LvsdPage::services);
        let lvsd = ask(&self.lvsd_socket, "text")
            .map_err(|e| e.to_string())
            .and_then(|a| {
                lvsd_text_page(BufReader::new(a), sets.as_ref().map(|s| &s.1))
                    .map_err(|e| format!("{}: {e}", self.lvsd_socket))
            });
        let lvsd_stats = sets.as_ref().and_then(|(_, names)| {
            let mut m = HashMap::new();
            ask(&self.lvsd_socket, "stats")
                .ok()
                .and_then(|a| {
                    for_each_in(a, "services", |s: lvsd::ServiceStats| {
                        if let Some(n) = s.virtual_name.as_ref().filter(|n| names.contains(*n)) {
                            m.insert(n.clone(), s);
                        }
                    })
                    .ok()
                })
                .map(|()| m)
        });
        let file = self.procfs.join("net/ip_vs");
        let mut matched = 0;
        let ipvs = std::fs::File::open(&file)
            .and_then(|f| {
                ipvs_page(BufReader::new(f), |name| match &sets {
                    Some((services, _)) => services.contains(name),
                    None if q.matches([name]) => {
                        matched += 1;
                        q.on_page(matched - 1)
                    }
                    None => false,
                })
            })
            .map_err(|e| format!("{}: {e}", file.display()));
        let pager = match (&lvsd_page, &ipvs) {
            (Some(p), _) => q.pager(path, p.matched, p.total),
            (None, Ok(i)) => q.pager(path, matched, i.total),
            (None, Err(_)) => q.pager(path, 0, 0),
        };
        Snapshot {
            pulse,
            lvsd,
            lvsd_page,
            lvsd_stats,
            ipvs,
            pager,
        }
    }
}

/// One real server on the monitoring page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RealRow {
    /// Its virtual server's block name.
    pub virtual_name: String,
    /// The virtual service (`TCP VIP:PORT`, ...).
    pub service: String,
    /// The virtual server's state in lvsd.
    pub state: String,
    /// Block name.
    pub name: String,
    /// `RIP:PORT`.
    pub address: String,
    /// `up`, `down`, `pending`, `unknown` or `-`.
    pub health: String,
    /// Weight in the table (`-` when not in it).
    pub weight: String,
    /// Weight in lvs.cf.
    pub configured_weight: i32,
    /// Active connections (`-` without lvsd's stats).
    pub active: String,
    /// Inactive connections.
    pub inactive: String,
    /// Failed checks so far.
    pub check_failures: u64,
    /// New connections per second since the previous sample (`-` without one).
    pub conn_rate: String,
    /// Bytes per second in (client to real server) since the previous sample.
    pub in_rate: String,
    /// Bytes per second out.
    pub out_rate: String,
}

/// The key of a destination's counters: `VIRTUAL_NAME ADDRESS:PORT`.
pub fn dest_key(virtual_name: &str, address: &str) -> String {
    format!("{virtual_name} {address}")
}

/// The previous counters of the destinations shown, for rates: when they
/// were read and what they were, by [`dest_key`]; at most `max` kept.
#[derive(Debug, Default)]
pub struct Samples {
    map: HashMap<String, (Instant, lvsd::Counters)>,
}

impl Samples {
    /// Destinations remembered at most.
    pub const MAX: usize = 4096;

    /// The rates (connections, bytes in, bytes out per second) of the
    /// destinations in `stats` since their previous counters at least a
    /// second old (then `now` replaces them); a counter that went down (a
    /// reset) gives none.
    pub fn rates(
        &mut self,
        stats: &HashMap<String, lvsd::ServiceStats>,
        now: Instant,
    ) -> HashMap<String, (f64, f64, f64)> {
        let mut out = HashMap::new();
        for (v, s) in stats {
            for d in &s.dests {
                let key = dest_key(v, &format!("{}:{}", d.address, d.port));
                let c = d.stats;
                match self.map.get(&key) {
                    Some((t, p)) if now.duration_since(*t) >= Duration::from_secs(1) => {
                        let secs = now.duration_since(*t).as_secs_f64();
                        if c.conns >= p.conns && c.inbytes >= p.inbytes && c.outbytes >= p.outbytes
                        {
                            out.insert(
                                key.clone(),
                                (
                                    (c.conns - p.conns) as f64 / secs,
                                    (c.inbytes - p.inbytes) as f64 / secs,
                                    (c.outbytes - p.outbytes) as f64 / secs,
                                ),
                            );
                        }
                        self.map.insert(key, (now, c));
                    }
                    Some(_) => {}
                    None => {
                        if self.map.len() >= Self::MAX {
                            self.map.clear();
                        }
                        self.map.insert(key, (now, c));
                    }
                }
            }
        }
        out
    }
}

fn per_sec(x: f64, unit: &str) -> String {
    if x >= 10_000_000.0 {
        format!("{:.1} M{unit}/s", x / 1_000_000.0)
    } else if x >= 10_000.0 {
        format!("{:.1} k{unit}/s", x / 1_000.0)
    } else {
        format!("{x:.1} {unit}/s")
    }
}

/// The real servers of `virtuals` as lvsd sees them, with the kernel's
/// connection counts where `stats` (by virtual name) has the destination.
pub fn real_rows(
    virtuals: &[lvsd::VsStatus],
    stats: Option<&HashMap<String, lvsd::ServiceStats>>,
    rates: &HashMap<String, (f64, f64, f64)>,
) -> Vec<RealRow> {
    let mut rows = Vec::new();
    for v in virtuals {
        let svc = stats.and_then(|t| t.get(&v.name));
        let state = serde_json::to_value(v.state)
            .ok()
            .and_then(|x| x.as_str().map(String::from))
            .unwrap_or_default();
        for r in &v.reals {
            let dest = svc.and_then(|s| {
                s.dests
                    .iter()
                    .find(|d| format!("{}:{}", d.address, d.port) == r.address)
            });
            let rate = rates.get(&dest_key(&v.name, &r.address));
            rows.push(RealRow {
                virtual_name: v.name.clone(),
                service: v.service.clone(),
                state: state.clone(),
                name: r.name.clone(),
                address: r.address.clone(),
                health: r.health.clone(),
                weight: r.weight.map_or("-".into(), |w| w.to_string()),
                configured_weight: r.configured_weight,
                active: dest.map_or("-".into(), |d| d.active_conns.to_string()),
                inactive: dest.map_or("-".into(), |d| d.inactive_conns.to_string()),
                check_failures: r.check_failures,
                conn_rate: rate.map_or("-".into(), |x| per_sec(x.0, "conn")),
                in_rate: rate.map_or("-".into(), |x| per_sec(x.1, "B")),
                out_rate: rate.map_or("-".into(), |x| per_sec(x.2, "B")),
            });
        }
    }
    rows
}

/// A nanny as lvsd reports it, for CURRENT LVS PROCESSES.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Nanny {
    /// Its pid.
    pub pid: u32,
    /// The virtual server.
    pub virtual_name: String,
    /// The real server.
    pub server: String,
    /// `RIP:PORT`.
    pub address: String,
}

/// The nannies of `virtuals` (those with a pid).
pub fn nannies(virtuals: &[lvsd::VsStatus]) -> Vec<Nanny> {
    virtuals
        .iter()
        .flat_map(|v| {
            v.reals.iter().filter_map(|r| {
                r.pid.map(|pid| Nanny {
                    pid,
                    virtual_name: v.name.clone(),
                    server: r.name.clone(),
                    address: r.address.clone(),
                })
            })
        })
        .collect()
}

/// The event list: the last `max` changes of real servers seen, newest
/// first. lvsd reports each real server's last change; a server that
/// changes twice between two looks shows its last change only.
#[derive(Debug, Default)]
pub struct Events {
    kept: Vec<RealEvent>,
}

impl Events {
    /// Changes kept.
    pub const MAX: usize = 100;

    /// Takes in the changes of a look (any order); the list, newest first.
    pub fn merge(&mut self, seen: &[RealEvent]) -> &[RealEvent] {
        for e in seen {
            if !self.kept.contains(e) {
                self.kept.push(e.clone());
            }
        }
        newest_first(&mut self.kept, Self::MAX);
        &self.kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vs(name: &str, service: &str, reals: &[(&str, &str, &str, Option<f64>)]) -> lvsd::VsStatus {
        lvsd::VsStatus {
            name: name.into(),
            service: service.into(),
            state: lvsd::Phase::Up,
            reals: reals
                .iter()
                .map(|(n, a, h, t)| lvsd::RsStatus {
                    name: n.to_string(),
                    address: a.to_string(),
                    health: h.to_string(),
                    weight: (*h == "up").then_some(2),
                    configured_weight: 2,
                    pid: Some(7),
                    last_change_at: *t,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn table(n: usize) -> lvsd::Status {
        lvsd::Status {
            virtuals: (0..n)
                .map(|i| {
                    vs(
                        &format!("web{i}"),
                        &format!("TCP 172.16.0.{i}:80"),
                        &[(
                            &format!("rs{i}"),
                            &format!("10.0.0.{i}:80"),
                            "up",
                            Some(i as f64),
                        )],
                    )
                })
                .collect(),
            ..Default::default()
        }
    }

    fn page_of(doc: &str, q: &Query) -> LvsdPage {
        let mut p = LvsdPage::default();
        for_each_in(doc.as_bytes(), "virtuals", |v| p.add(q, v)).unwrap();
        p
    }

    #[test]
    fn pages_and_filters_of_lvsds_answer() {
        let doc = serde_json::to_string_pretty(&table(60)).unwrap();
        let all = page_of(&doc, &Query::default());
        assert_eq!((all.total, all.matched, all.reals), (60, 60, 60));
        assert_eq!(all.virtuals.len(), PER_PAGE);
        assert_eq!(all.virtuals[0].name, "web0");
        assert_eq!(all.events.len(), EVENTS);
        assert_eq!(all.events[0].server, "rs59", "newest first");
        let q = Query {
            page: 2,
            ..Query::default()
        };
        let p = page_of(&doc, &q);
        assert_eq!(p.virtuals.len(), 10);
        assert_eq!(p.virtuals[0].name, "web50");
        let pager = q.pager("/control", p.matched, p.total);
        assert_eq!(
            (pager.page, pager.pages, pager.first, pager.last),
            (3, 3, 51, 60)
        );
        assert_eq!(pager.prev.as_deref(), Some("/control?page=2"));
        assert_eq!(pager.next, None);
        assert_eq!(pager.first_link.as_deref(), Some("/control?page=1"));
        // by name, VIP or real server, any case
        let q = Query::from_form(&BTreeMap::from([
            ("q".to_string(), "WEB1".to_string()),
            ("per".to_string(), "5".to_string()),
        ]));
        let p = page_of(&doc, &q);
        assert_eq!(p.matched, 11, "web1, web10..web19");
        assert_eq!(p.virtuals.len(), 5);
        let pager = q.pager("/control", p.matched, p.total);
        assert_eq!(pager.next.as_deref(), Some("/control?q=WEB1&page=2&per=5"));
        let by_vip = Query {
            filter: "172.16.0.42:".into(),
            ..Query::default()
        };
        assert_eq!(page_of(&doc, &by_vip).virtuals[0].name, "web42");
        let by_rip = Query {
            filter: "10.0.0.7:".into(),
            ..Query::default()
        };
        assert_eq!(page_of(&doc, &by_rip).virtuals[0].name, "web7");
        // nothing matches: an empty page, not an error
        let none = Query {
            filter: "nothing".into(),
            ..Query::default()
        };
        let p = page_of(&doc, &none);
        assert!(p.virtuals.is_empty());
        let pager = none.pager("/control", 0, 60);
        assert_eq!((pager.first, pager.last, pager.pages), (0, 0, 1));
        // bad numbers fall back; a page past the end shows the last
        let q = Query::from_form(&BTreeMap::from([
            ("page".to_string(), "x".to_string()),
            ("per".to_string(), "0".to_string()),
        ]));
        assert_eq!((q.page, q.per), (0, 1));
        let far = Query {
            page: 99,
            ..Query::default()
        };
        assert_eq!(far.pager("/c", 60, 60).page, 3);
        let mut p = page_of(&doc, &far);
        p.finish();
        assert_eq!(p.virtuals.len(), 10, "the last page");
        assert_eq!(p.virtuals[0].name, "web50");
        // not JSON: an error, no panic
        let mut p = LvsdPage::default();
        assert!(for_each_in(&b"{\"virtuals\": [1"[..], "virtuals", |v| p.add(&far, v)).is_err());
    }

    #[test]
    fn ipvs_is_decoded_and_paged() {
        let text = "IP Virtual Server version 1.2.1 (size=4096)\n\
                    Prot LocalAddress:Port Scheduler Flags\n  \
                    -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n\
                    TCP  0A000064:0050 wlc persistent 300\n  \
                    -> C0A8010A:0050      Masq    1      2          3\n\
                    FWM  00000007 rr\n  \
                    -> C0A8010B:0000      Route   2      0          0\n\
                    UDP  [2001:0db8:0000:0000:0000:0000:0000:0001]:0035 rr\n";
        let p = ipvs_page(text.as_bytes(), |s| s == "TCP 10.0.0.100:80").unwrap();
        assert_eq!(p.total, 3);
        assert_eq!(p.services.len(), 1);
        assert_eq!(p.services[0].flags, "wlc persistent 300");
        assert_eq!(
            p.services[0].dests,
            vec![IpvsDest {
                address: "192.168.1.10:80".into(),
                forward: "Masq".into(),
                weight: "1".into(),
                active: "2".into(),
                inactive: "3".into(),
            }]
        );
        assert!(p.raw.contains("0A000064:0050 wlc"), "{}", p.raw);
        assert!(p.raw.contains("RemoteAddress"), "{}", p.raw);
        assert!(!p.raw.contains("C0A8010B"), "{}", p.raw);
        let p = ipvs_page(text.as_bytes(), |_| true).unwrap();
        assert_eq!(p.services[1].service, "FWM 7");
        assert_eq!(p.services[1].dests[0].address, "192.168.1.11:0");
        assert_eq!(p.services[2].service, "UDP [2001:db8::1]:53");
        assert_eq!(proc_address("zz"), None);
        assert_eq!(proc_address("0A00006:0050"), None);
    }

    #[test]
    fn lvsd_text_keeps_the_pages_blocks() {
        let text = "lvsd pid 1\nvirtual web0: TCP 1.2.3.4:80 up\n  a\nvirtual web1: TCP 1.2.3.5:80 up\n  b\n";
        let names = HashSet::from(["web1".to_string()]);
        assert_eq!(
            lvsd_text_page(text.as_bytes(), Some(&names)).unwrap(),
            "lvsd pid 1\nvirtual web1: TCP 1.2.3.5:80 up\n  b\n"
        );
        assert_eq!(
            lvsd_text_page(text.as_bytes(), None).unwrap(),
            "lvsd pid 1\n"
        );
    }

    #[test]
    fn rows_join_health_and_connections() {
        let virtuals = vec![vs(
            "www",
            "TCP 10.0.0.100:80",
            &[
                ("a", "192.168.1.10:80", "up", None),
                ("b", "192.168.1.11:80", "down", Some(20.0)),
            ],
        )];
        let svc = |conns: u64| lvsd::ServiceStats {
            virtual_name: Some("www".into()),
            dests: vec![lvsd::DestStats {
                address: "192.168.1.10".into(),
                port: 80,
                weight: 2,
                active_conns: 5,
                inactive_conns: 7,
                stats: lvsd::Counters {
                    conns,
                    inbytes: conns * 2000,
                    outbytes: conns * 5,
                    ..Default::default()
                },
            }],
            ..Default::default()
        };
        let stats = HashMap::from([("www".to_string(), svc(0))]);
        let later = HashMap::from([("www".to_string(), svc(20))]);
        let mut s = Samples::default();
        let t0 = Instant::now();
        assert!(s.rates(&stats, t0).is_empty(), "no previous sample");
        assert!(
            s.rates(&later, t0 + Duration::from_millis(500)).is_empty(),
            "too soon"
        );
        let r = s.rates(&later, t0 + Duration::from_secs(10));
        assert_eq!(r["www 192.168.1.10:80"], (2.0, 4000.0, 10.0));
        assert!(
            s.rates(&stats, t0 + Duration::from_secs(20)).is_empty(),
            "a reset"
        );
        let rows = real_rows(&virtuals, Some(&later), &r);
        assert_eq!(rows[0].conn_rate, "2.0 conn/s");
        assert_eq!(rows[0].in_rate, "4000.0 B/s");
        assert_eq!(rows[1].conn_rate, "-");
        assert_eq!(rows[0].state, "up");
        assert_eq!(
            (rows[0].active.as_str(), rows[0].inactive.as_str()),
            ("5", "7")
        );
        assert_eq!(
            (rows[1].health.as_str(), rows[1].weight.as_str()),
            ("down", "-")
        );
        assert_eq!(rows[1].active, "-");
        assert_eq!(real_rows(&virtuals, None, &HashMap::new())[0].active, "-");
        assert_eq!(nannies(&virtuals).len(), 2);
    }

    #[test]
    fn the_event_list_keeps_the_last_changes() {
        let ev = |t: f64, h: &str| RealEvent {
            time: t,
            virtual_name: "www".into(),
            server: "a".into(),
            health: h.into(),
            weight: "-".into(),
        };
        let mut e = Events::default();
        assert_eq!(e.merge(&[ev(10.0, "down")]).len(), 1);
        assert_eq!(e.merge(&[ev(10.0, "down")]).len(), 1, "seen once");
        let l = e.merge(&[ev(20.0, "up")]);
        assert_eq!((l[0].health.as_str(), l[1].health.as_str()), ("up", "down"));
        for i in 0..200 {
            e.merge(&[ev(100.0 + i as f64, "up")]);
        }
        let l = e.merge(&[]);
        assert_eq!(l.len(), Events::MAX);
        assert_eq!(l[0].time, 299.0);
    }
}
