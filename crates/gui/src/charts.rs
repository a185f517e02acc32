//! The last hour of traffic, for the charts: lvsd's `stats` sampled every
//! [`INTERVAL`] and turned into per second rates (new connections, bytes
//! in, bytes out), kept per virtual service (a point per [`INTERVAL`],
//! [`KEEP`] of them) and per real server (a point per [`DEST_RES`],
//! [`DEST_KEEP`] of them); and the SVG the server draws from them.
//!
//! Memory is fixed per series: a ring of points, each 3 rates in 2 bytes
//! ([`encode`]: a log scale, 0.07% steps), plus the previous counters.
//! 2,000 virtual services and 20,000 real servers take about 6 MiB.
//! Samples are fed one service at a time ([`History::begin`],
//! [`History::service`], [`History::end`]), so a sample never has to be
//! held whole.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use piranha_status::lvsd::Counters;

/// Time between samples, and between two points of a virtual service.
pub const INTERVAL: Duration = Duration::from_secs(30);
/// Points kept per virtual service (an hour).
pub const KEEP: usize = 120;
/// Time between two points of a real server.
pub const DEST_RES: Duration = Duration::from_secs(120);
/// Points kept per real server (an hour).
pub const DEST_KEEP: usize = 30;

/// A slot without a sample.
const EMPTY: u16 = u16::MAX;

/// A rate (per second) as 2 bytes: 0 for less than 2^-10, else a step of
/// 2^(1/1024) on a log scale up to 2^54; [`EMPTY`] is never produced.
pub fn encode(v: f64) -> u16 {
    if v.is_nan() || v < 0.0009765625 {
        return 0;
    }
    let c = ((v.log2() + 10.0) * 1024.0).round() + 1.0;
    c.clamp(1.0, (EMPTY - 1) as f64) as u16
}

/// The rate [`encode`] stored.
pub fn decode(c: u16) -> f64 {
    if c == 0 || c == EMPTY {
        0.0
    } else {
        ((c - 1) as f64 / 1024.0 - 10.0).exp2()
    }
}

/// A time axis shared by the series of one resolution: the newest slot
/// (`t / res`) and how many seconds of samples it holds so far.
#[derive(Debug, Clone, Copy)]
struct Axis {
    res: f64,
    keep: usize,
    head: Option<u64>,
    /// Seconds of sampling averaged into the head slot.
    acc: f64,
    /// Slots to clear in every series at this sample (the head moved).
    clear: Option<(u64, u64)>,
}

impl Axis {
    fn new(res: Duration, keep: usize) -> Axis {
        Axis {
            res: res.as_secs_f64(),
            keep,
            head: None,
            acc: 0.0,
            clear: None,
        }
    }

    /// Moves to the slot of `t`; false when `t` is before the head (a clock
    /// step back: the sample is not recorded on this axis).
    fn advance(&mut self, t: f64) -> bool {
        let slot = (t.max(0.0) / self.res) as u64;
        self.clear = None;
        match self.head {
            Some(h) if slot < h => false,
            Some(h) if slot == h => true,
            h => {
                self.clear = Some((h.map_or(slot, |h| h + 1), slot));
                self.head = Some(slot);
                self.acc = 0.0;
                true
            }
        }
    }
}

/// One series: its previous counters and its ring of points.
#[derive(Debug, Clone)]
struct Series {
    last: [u64; 3],
    /// `keep` points x 3 rates; slot `s` at `(s % keep) * 3`.
    ring: Box<[u16]>,
    /// The sample that last saw it.
    seen: u64,
}

impl Series {
    fn new(c: &Counters, keep: usize, seen: u64) -> Series {
        Series {
            last: [c.conns, c.inbytes, c.outbytes],
            ring: vec![EMPTY; keep * 3].into_boxed_slice(),
            seen,
        }
    }

    /// Empties the slots the axis moved over at this sample.
    fn clear(&mut self, axis: &Axis) {
        let keep = axis.keep as u64;
        if let Some((from, to)) = axis.clear {
            let from = from.max(to.saturating_sub(keep - 1));
            for s in from..=to {
                let at = (s % keep) as usize * 3;
                self.ring[at..at + 3].fill(EMPTY);
            }
        }
    }

    /// Records counters `c` taken `dt` seconds after the previous ones.
    fn add(&mut self, c: &Counters, dt: f64, axis: &Axis, on_axis: bool, seen: u64) {
        let cur = [c.conns, c.inbytes, c.outbytes];
        let keep = axis.keep as u64;
        self.clear(axis);
        if on_axis
            && dt > 0.0
            && self.seen + 1 == seen
            && let Some(h) = axis.head
        {
            let at = (h % keep) as usize * 3;
            for (i, (c, l)) in cur.iter().zip(self.last).enumerate() {
                let rate = c.saturating_sub(l) as f64 / dt;
                let old = self.ring[at + i];
                let v = if old == EMPTY || axis.acc <= 0.0 {
                    rate
                } else {
                    (decode(old) * axis.acc + rate * dt) / (axis.acc + dt)
                };
                self.ring[at + i] = encode(v);
            }
        }
        self.last = cur;
        self.seen = seen;
    }

    /// The points, oldest first: (slot, conns, in, out).
    fn points(&self, axis: &Axis) -> Vec<(u64, f32, f32, f32)> {
        let Some(h) = axis.head else {
            return Vec::new();
        };
        let keep = axis.keep as u64;
        (h.saturating_sub(keep - 1)..=h)
            .filter_map(|s| {
                let at = (s % keep) as usize * 3;
                let r = &self.ring[at..at + 3];
                (r[0] != EMPTY).then(|| {
                    (
                        s,
                        decode(r[0]) as f32,
                        decode(r[1]) as f32,
                        decode(r[2]) as f32,
                    )
                })
            })
            .collect()
    }
}

/// A virtual service's series and its real servers' (`ADDRESS:PORT`).
#[derive(Debug, Clone)]
struct Service {
    series: Series,
    dests: Vec<(Box<str>, Series)>,
}

/// The series of every named virtual service and its real servers.
#[derive(Debug)]
pub struct History {
    services: BTreeMap<Box<str>, Service>,
    svc_axis: Axis,
    dest_axis: Axis,
    /// The current sample: its number, time, seconds since the previous
    /// one, and whether it lands on each axis.
    n: u64,
    t: f64,
    dt: f64,
    on: (bool, bool),
}

impl Default for History {
    fn default() -> History {
        History {
            services: BTreeMap::new(),
            svc_axis: Axis::new(INTERVAL, KEEP),
            dest_axis: Axis::new(DEST_RES, DEST_KEEP),
            n: 0,
            t: f64::NAN,
            dt: 0.0,
            on: (false, false),
        }
    }
}

/// One chart's points: times (seconds since the epoch, the slot's end) and
/// the three rates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Points {
    /// Slot ends.
    pub t: Vec<f64>,
    /// New connections per second.
    pub conns: Vec<f32>,
    /// Bytes in per second.
    pub inbytes: Vec<f32>,
    /// Bytes out per second.
    pub outbytes: Vec<f32>,
}

impl Points {
    fn from(p: Vec<(u64, f32, f32, f32)>, res: f64) -> Points {
        let mut out = Points::default();
        for (s, c, i, o) in p {
            out.t.push((s + 1) as f64 * res);
            out.conns.push(c);
            out.inbytes.push(i);
            out.outbytes.push(o);
        }
        out
    }

    /// How many points.
    pub fn len(&self) -> usize {
        self.t.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }
}

impl History {
    /// Starts a sample taken at `t` (seconds since the epoch).
    pub fn begin(&mut self, t: f64) {
        self.dt = if self.t.is_nan() { 0.0 } else { t - self.t };
        self.n += 1;
        self.t = t;
        self.on = (self.svc_axis.advance(t), self.dest_axis.advance(t));
    }

    /// Feeds one service of the sample begun: its name, its counters and
    /// its destinations' (`ADDRESS:PORT`, counters).
    pub fn service<'a>(
        &mut self,
        name: &str,
        stats: &Counters,
        dests: impl IntoIterator<Item = (String, &'a Counters)>,
    ) {
        let (n, dt) = (self.n, self.dt);
        let (sa, da, on) = (self.svc_axis, self.dest_axis, self.on);
        let svc = match self.services.get_mut(name) {
            Some(s) => {
                s.series.add(stats, dt, &sa, on.0, n);
                s
            }
            None => self.services.entry(name.into()).or_insert_with(|| Service {
                series: Series::new(stats, KEEP, n),
                dests: Vec::new(),
            }),
        };
        for (addr, c) in dests {
            match svc.dests.iter_mut().find(|(a, _)| **a == *addr) {
                Some((_, s)) => s.add(c, dt, &da, on.1, n),
                None => svc.dests.push((addr.into(), Series::new(c, DEST_KEEP, n))),
            }
        }
    }

    /// Ends the sample: when it was `complete`, series it did not have are
    /// dropped (a sample cut short keeps them: they resume at the next).
    pub fn end(&mut self, complete: bool) {
        let n = self.n;
        let dt = self.dt;
        let (sa, da) = (self.svc_axis, self.dest_axis);
        if !complete {
            // the series not reached: their moved-over slots emptied too
            for s in self.services.values_mut() {
                if s.series.seen != n {
                    s.series.clear(&sa);
                }
                for (_, d) in s.dests.iter_mut().filter(|(_, d)| d.seen != n) {
                    d.clear(&da);
                }
            }
        }
        if complete {
            self.services.retain(|_, s| {
                if s.series.seen != n {
                    return false;
                }
                s.dests.retain(|(_, d)| d.seen == n);
                s.dests.shrink_to_fit();
                true
            });
        }
        if dt > 0.0 {
            if self.on.0 {
                self.svc_axis.acc += dt;
            }
            if self.on.1 {
                self.dest_axis.acc += dt;
            }
        }
        self.svc_axis.clear = None;
        self.dest_axis.clear = None;
    }

    /// Adds a whole sample (tests, and small tables).
    pub fn add(&mut self, t: f64, stats: &piranha_status::lvsd::TableStats) {
        self.begin(t);
        for s in &stats.services {
            let Some(v) = &s.virtual_name else { continue };
            self.service(
                v,
                &s.stats,
                s.dests
                    .iter()
                    .map(|d| (format!("{}:{}", d.address, d.port), &d.stats)),
            );
        }
        self.end(true);
    }

    /// A virtual service's points, oldest first.
    pub fn service_points(&self, name: &str) -> Points {
        self.services
            .get(name)
            .map(|s| Points::from(s.series.points(&self.svc_axis), self.svc_axis.res))
            .unwrap_or_default()
    }

    /// A real server's points (`ADDRESS:PORT` of virtual service `name`).
    pub fn dest_points(&self, name: &str, address: &str) -> Points {
        self.services
            .get(name)
            .and_then(|s| s.dests.iter().find(|(a, _)| **a == *address))
            .map(|(_, d)| Points::from(d.points(&self.dest_axis), self.dest_axis.res))
            .unwrap_or_default()
    }

    /// The end of the newest virtual-service slot (seconds since the
    /// epoch), if there is one.
    pub fn latest(&self) -> Option<f64> {
        self.svc_axis
            .head
            .map(|h| (h + 1) as f64 * self.svc_axis.res)
    }

    /// Virtual services and real servers with series.
    pub fn len(&self) -> (usize, usize) {
        (
            self.services.len(),
            self.services.values().map(|s| s.dests.len()).sum(),
        )
    }

    /// Whether no series is kept.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }
}

/// An SVG line chart (numbers only: nothing from lvs.cf or the kernel goes
/// into it as text) of `values` at times `ts` over the hour up to `now`;
/// a gap of more than `gap` seconds between two points breaks the line.
pub fn svg(ts: &[f64], values: &[f32], now: f64, gap: f64, unit: &str) -> String {
    const W: f64 = 360.0;
    const H: f64 = 80.0;
    let max = values.iter().copied().fold(0.0f32, f32::max).max(1e-9) as f64;
    let mut s = String::with_capacity(200 + ts.len() * 12);
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {W} {}\" width=\"{W}\" height=\"{}\">",
        H + 14.0,
        H + 14.0
    );
    let _ = write!(
        s,
        "<rect x=\"0\" y=\"0\" width=\"{W}\" height=\"{H}\" fill=\"#fff\" stroke=\"#ccc\"/>"
    );
    let mut prev: Option<f64> = None;
    let mut open = false;
    for (t, v) in ts.iter().zip(values) {
        let x = (W - (now - t) / 3600.0 * W).clamp(0.0, W);
        let y = H - (*v as f64 / max) * (H - 4.0);
        if prev.is_some_and(|p| t - p > gap) && open {
            s.push_str("\"/>");
            open = false;
        }
        if open {
            s.push(' ');
        } else {
            s.push_str("<polyline fill=\"none\" stroke=\"#7a0000\" stroke-width=\"1.5\" points=\"");
            open = true;
        }
        let _ = write!(s, "{x:.1},{y:.1}");
        prev = Some(*t);
    }
    if open {
        s.push_str("\"/>");
    }
    let unit: String = unit
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '/')
        .collect();
    let _ = write!(
        s,
        "<text x=\"2\" y=\"{}\" font-size=\"10\">max {max:.1} {unit}, last hour</text></svg>",
        H + 12.0
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use piranha_status::lvsd::{DestStats, ServiceStats, TableStats};

    fn stats(n: u64) -> TableStats {
        TableStats {
            services: vec![ServiceStats {
                virtual_name: Some("www".into()),
                stats: Counters {
                    conns: n * 30,
                    inbytes: n * 3000,
                    ..Default::default()
                },
                dests: vec![DestStats {
                    address: "10.1.0.1".into(),
                    port: 80,
                    stats: Counters {
                        conns: n * 15,
                        ..Default::default()
                    },
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn encoding_keeps_rates_within_a_step() {
        assert_eq!(encode(0.0), 0);
        assert_eq!(encode(-3.0), 0);
        assert_eq!(encode(f64::NAN), 0);
        assert_ne!(encode(1e300), EMPTY);
        for v in [0.001, 0.5, 1.0, 3.0, 1234.5, 1.25e9, 4e15] {
            let back = decode(encode(v));
            assert!((back - v).abs() / v < 0.0004, "{v} -> {back}");
        }
    }

    #[test]
    fn rates_per_series_and_an_hour_kept() {
        let mut h = History::default();
        let t0 = 3600.0 * 1000.0;
        h.add(t0, &stats(0));
        assert!(h.service_points("www").is_empty());
        h.add(t0 + 30.0, &stats(1));
        let p = h.service_points("www");
        assert_eq!(p.len(), 1);
        let near = |a: f32, b: f32| (a - b).abs() <= b * 0.0004;
        assert!(near(p.conns[0], 1.0) && near(p.inbytes[0], 100.0), "{p:?}");
        assert_eq!(p.t[0], t0 + 60.0, "the slot's end");
        assert!(near(h.dest_points("www", "10.1.0.1:80").conns[0], 0.5));
        for i in 2..(KEEP as u64 + 10) {
            h.add(t0 + i as f64 * 30.0, &stats(i));
        }
        assert_eq!(h.service_points("www").len(), KEEP);
        assert_eq!(h.dest_points("www", "10.1.0.1:80").len(), DEST_KEEP);
        assert!(h.service_points("www").conns.iter().all(|&c| near(c, 1.0)));
        // a gap of ten minutes (lvsd down): those slots are empty
        let t1 = t0 + (KEEP as f64 + 30.0) * 30.0;
        h.add(t1, &stats(200));
        h.add(t1 + 30.0, &stats(201));
        let p = h.service_points("www");
        assert!(p.len() < KEEP - 15, "{}", p.len());
        assert!(near(*p.conns.last().unwrap(), 1.0));
        // a sample cut short keeps the series it did not reach
        h.begin(t1 + 60.0);
        h.end(false);
        assert!(!h.service_points("www").is_empty());
        // a service that is gone loses its series
        h.add(t1 + 90.0, &TableStats::default());
        assert!(h.service_points("www").is_empty());
        assert!(h.is_empty());
    }

    #[test]
    fn samples_within_one_slot_are_averaged() {
        let mut h = History::default();
        let t0 = 30.0 * 1000.0;
        h.add(t0, &stats(0));
        h.add(t0 + 10.0, &stats(1)); // 3 conn/s
        let mut s = stats(1);
        s.services[0].stats.conns = 30 + 10; // 1 conn/s for 10 s
        h.add(t0 + 20.0, &s);
        let p = h.service_points("www");
        assert_eq!(p.len(), 1);
        assert!((p.conns[0] - 2.0).abs() < 0.01, "{:?}", p.conns);
        // a counter reset gives 0, not a huge rate
        h.add(t0 + 30.0, &stats(0));
        assert_eq!(*h.service_points("www").conns.last().unwrap(), 0.0);
    }

    #[test]
    fn svg_is_numbers_only() {
        let s = svg(
            &[3000.0, 3600.0],
            &[1.0, 2.0],
            3600.0,
            1000.0,
            "conn/s<script>",
        );
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"), "{s}");
        assert!(s.contains("points=\"300.0,42.0 360.0,4.0\""), "{s}");
        assert!(!s.contains("<script"), "{s}");
        assert!(!svg(&[], &[], 0.0, 30.0, "x").contains("polyline"));
        // a gap breaks the line
        let s = svg(&[3000.0, 3600.0], &[1.0, 2.0], 3600.0, 30.0, "x");
        assert_eq!(s.matches("<polyline").count(), 2, "{s}");
    }
}
