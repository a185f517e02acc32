//! The last hour of traffic, for the charts: a sample of lvsd's `stats`
//! every [`INTERVAL`] turned into per second rates, per virtual service and
//! (while there are at most [`MAX_DESTS`] of them) per real server, kept
//! for [`KEEP`] samples; and the SVG the server draws from them.
//!
//! Memory: 12 bytes a point, 360 points, so about 4 KiB per series: 2,000
//! virtual services take 8.6 MiB; real servers are left out past
//! [`MAX_DESTS`].

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::time::Duration;

use piranha_status::lvsd::{Counters, TableStats};

/// Time between samples.
pub const INTERVAL: Duration = Duration::from_secs(10);
/// Samples kept (an hour at [`INTERVAL`]).
pub const KEEP: usize = 360;
/// Real servers with series of their own at most.
pub const MAX_DESTS: usize = 1000;

/// One point: when (seconds since the epoch) and the rates since the
/// previous sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Seconds since the epoch.
    pub t: f64,
    /// New connections per second.
    pub conns: f32,
    /// Bytes in per second.
    pub inbytes: f32,
    /// Bytes out per second.
    pub outbytes: f32,
}

/// The series and the previous sample.
#[derive(Debug, Default)]
pub struct History {
    series: HashMap<String, VecDeque<Point>>,
    last: Option<(f64, HashMap<String, Counters>)>,
}

/// The key of a virtual service's series.
pub fn service_key(virtual_name: &str) -> String {
    format!("v {virtual_name}")
}

/// The key of a real server's series (`ADDRESS:PORT` of its virtual).
pub fn dest_key(virtual_name: &str, address: &str) -> String {
    format!("d {virtual_name} {address}")
}

fn counters(stats: &TableStats) -> HashMap<String, Counters> {
    let ndest: usize = stats.services.iter().map(|s| s.dests.len()).sum();
    let mut m = HashMap::new();
    for s in &stats.services {
        let Some(v) = &s.virtual_name else { continue };
        m.insert(service_key(v), s.stats);
        if ndest <= MAX_DESTS {
            for d in &s.dests {
                m.insert(dest_key(v, &format!("{}:{}", d.address, d.port)), d.stats);
            }
        }
    }
    m
}

impl History {
    /// Adds a sample taken at `t` (seconds since the epoch).
    pub fn add(&mut self, t: f64, stats: &TableStats) {
        let cur = counters(stats);
        if let Some((t0, prev)) = &self.last {
            let dt = t - t0;
            if dt > 0.0 {
                for (k, c) in &cur {
                    let Some(p) = prev.get(k) else { continue };
                    let rate = |a: u64, b: u64| a.saturating_sub(b) as f64 / dt;
                    let q = self.series.entry(k.clone()).or_default();
                    if q.len() >= KEEP {
                        q.pop_front();
                    }
                    q.push_back(Point {
                        t,
                        conns: rate(c.conns, p.conns) as f32,
                        inbytes: rate(c.inbytes, p.inbytes) as f32,
                        outbytes: rate(c.outbytes, p.outbytes) as f32,
                    });
                }
            }
        }
        self.series.retain(|k, _| cur.contains_key(k));
        self.last = Some((t, cur));
    }

    /// The points of series `key`, oldest first.
    pub fn points(&self, key: &str) -> Vec<Point> {
        self.series
            .get(key)
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default()
    }
}

/// An SVG line chart (numbers only: nothing from lvs.cf or the kernel goes
/// into it as text) of `values` at times `ts` over the hour up to `now`.
pub fn svg(ts: &[f64], values: &[f32], now: f64, unit: &str) -> String {
    const W: f64 = 360.0;
    const H: f64 = 80.0;
    let max = values.iter().copied().fold(0.0f32, f32::max).max(1e-9) as f64;
    let mut s = String::new();
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
    let pts: Vec<String> = ts
        .iter()
        .zip(values)
        .map(|(t, v)| {
            let x = (W - (now - t) / 3600.0 * W).clamp(0.0, W);
            let y = H - (*v as f64 / max) * (H - 4.0);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    if !pts.is_empty() {
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"#7a0000\" stroke-width=\"1.5\" points=\"{}\"/>",
            pts.join(" ")
        );
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
    use piranha_status::lvsd::{DestStats, ServiceStats};

    fn stats(n: u64) -> TableStats {
        TableStats {
            services: vec![ServiceStats {
                virtual_name: Some("www".into()),
                stats: Counters {
                    conns: n * 10,
                    inbytes: n * 1000,
                    ..Default::default()
                },
                dests: vec![DestStats {
                    address: "10.1.0.1".into(),
                    port: 80,
                    stats: Counters {
                        conns: n * 5,
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
    fn rates_per_series_and_an_hour_kept() {
        let mut h = History::default();
        h.add(0.0, &stats(0));
        assert!(h.points(&service_key("www")).is_empty());
        h.add(10.0, &stats(1));
        let p = h.points(&service_key("www"));
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].conns, p[0].inbytes), (1.0, 100.0));
        assert_eq!(h.points(&dest_key("www", "10.1.0.1:80"))[0].conns, 0.5);
        for i in 2..(KEEP as u64 + 10) {
            h.add(i as f64 * 10.0, &stats(i));
        }
        assert_eq!(h.points(&service_key("www")).len(), KEEP);
        // a service that is gone loses its series
        h.add(99_999.0, &TableStats::default());
        assert!(h.points(&service_key("www")).is_empty());
    }

    #[test]
    fn svg_is_numbers_only() {
        let s = svg(&[3000.0, 3600.0], &[1.0, 2.0], 3600.0, "conn/s<script>");
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"), "{s}");
        assert!(s.contains("points=\"300.0,42.0 360.0,4.0\""), "{s}");
        assert!(!s.contains("<script"), "{s}");
        assert!(!svg(&[], &[], 0.0, "x").contains("polyline"));
    }
}
