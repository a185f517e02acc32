//! The metric families (pure): what [`crate::model`] holds, encoded with
//! `prometheus-client`'s Prometheus text encoder one family at a time.
//!
//! A scrape encodes in two parts, [`Kernel`] (`/proc`, read while the
//! daemons are asked) and [`Daemons`]; each part is a
//! `prometheus_client` collector in a registry of its own, and the encoder
//! hands its output to the writer in 4 KiB pieces as it goes, so nothing
//! holds the whole exposition. A family without series is left out
//! (no `# HELP`/`# TYPE` either).

use std::fmt::Write as _;
use std::net::IpAddr;

use piranha_status::{lvsd, pulse};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, EncodeLabelValue, EncodeMetric,
    LabelValueEncoder, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::registry::Registry;

use crate::model::{LvsdStatus, Snapshot, Svc, TableStats};
use crate::procfs::{IpvsTable, IpvsTotals};

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// A label value.
#[derive(Debug, Clone, Copy)]
pub enum Val<'a> {
    /// A string (escaped as the format needs).
    S(&'a str),
    /// An IP address in canonical form.
    Ip(IpAddr),
    /// A decimal number.
    N(u64),
    /// A firewall mark, as `/proc/net/ip_vs` prints it (8 hex digits).
    Mark(u32),
}

impl EncodeLabelValue for Val<'_> {
    fn encode(&self, e: &mut LabelValueEncoder) -> std::fmt::Result {
        match *self {
            Val::S(s) => e.write_str(s),
            Val::Ip(IpAddr::V4(a)) => e.write_str(Ipv4Text::new(a).as_str()),
            Val::Ip(ip) => write!(e, "{ip}"),
            Val::N(n) => EncodeLabelValue::encode(&n, e),
            Val::Mark(m) => write!(e, "{m:08X}"),
        }
    }
}

/// An IPv4 address as text, on the stack (`core::fmt`'s padding-aware
/// integer formatting was a sixth of a large scrape's time).
struct Ipv4Text {
    buf: [u8; 15],
    len: usize,
}

impl Ipv4Text {
    fn new(a: std::net::Ipv4Addr) -> Ipv4Text {
        let mut t = Ipv4Text {
            buf: [0; 15],
            len: 0,
        };
        for (i, o) in a.octets().into_iter().enumerate() {
            if i > 0 {
                t.push(b'.');
            }
            if o >= 100 {
                t.push(b'0' + o / 100);
            }
            if o >= 10 {
                t.push(b'0' + o / 10 % 10);
            }
            t.push(b'0' + o % 10);
        }
        t
    }

    fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

/// A label set: `(name, value)` pairs.
type Labels<'a, const N: usize> = [(&'static str, Val<'a>); N];

fn svc_labels(s: &Svc) -> Labels<'_, 4> {
    [
        ("local_address", s.addr.map_or(Val::S(""), Val::Ip)),
        ("local_port", Val::N(s.port.into())),
        ("proto", Val::S(s.proto.name())),
        ("local_mark", s.mark.map_or(Val::S(""), Val::Mark)),
    ]
}

fn backend_labels(s: &Svc, addr: IpAddr, port: u16) -> Labels<'_, 6> {
    [
        ("local_address", s.addr.map_or(Val::S(""), Val::Ip)),
        ("local_port", Val::N(s.port.into())),
        ("remote_address", Val::Ip(addr)),
        ("remote_port", Val::N(port.into())),
        ("proto", Val::S(s.proto.name())),
        ("local_mark", s.mark.map_or(Val::S(""), Val::Mark)),
    ]
}

/// Writes one family: its descriptor, then a series per item of
/// `series` (`write` encodes one). Nothing at all when `series` is empty.
fn family<T>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    ty: MetricType,
    series: impl IntoIterator<Item = T>,
    mut write: impl FnMut(&mut MetricEncoder, T) -> std::fmt::Result,
) -> std::fmt::Result {
    let mut it = series.into_iter().peekable();
    if it.peek().is_none() {
        return Ok(());
    }
    let mut m = enc.encode_descriptor(name, help, None, ty)?;
    for s in it {
        write(&mut m, s)?;
    }
    Ok(())
}

/// A gauge family; `name` is the whole series name.
fn gauges<L: EncodeLabelSet, V: EncodeGaugeValue>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (L, V)>,
) -> std::fmt::Result {
    family(enc, name, help, MetricType::Gauge, series, |m, (l, v)| {
        m.encode_family(&l)?.encode_gauge(&v)
    })
}

/// A counter family; `name` is the series name without `_total` (the
/// encoder appends it).
fn counters<L: EncodeLabelSet>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (L, u64)>,
) -> std::fmt::Result {
    family(enc, name, help, MetricType::Counter, series, |m, (l, v)| {
        ConstCounter::new(v).encode(m.encode_family(&l)?)
    })
}

/// No labels.
const NONE: Labels<'static, 0> = [];

fn no_labels<V>(v: V) -> [(Labels<'static, 0>, V); 1] {
    [(NONE, v)]
}

/// The families read from `/proc`: `piranha_ipvs_up`, the table's totals
/// and the backends' connections and weights.
#[derive(Debug, Default)]
pub struct Kernel {
    /// `/proc/net/ip_vs` (`None`: unreadable).
    pub ipvs: Option<IpvsTable>,
    /// `/proc/net/ip_vs_stats`.
    pub totals: Option<IpvsTotals>,
}

impl Collector for Kernel {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        gauges(
            &mut enc,
            "piranha_ipvs_up",
            "1 if /proc/net/ip_vs could be read (the IPVS module is loaded).",
            no_labels(i64::from(self.ipvs.is_some())),
        )?;
        if let Some(t) = &self.totals {
            for (name, help, v) in [
                (
                    "piranha_ipvs_connections",
                    "Connections scheduled by IPVS (/proc/net/ip_vs_stats).",
                    t.connections,
                ),
                (
                    "piranha_ipvs_incoming_packets",
                    "Incoming packets through IPVS (/proc/net/ip_vs_stats).",
                    t.incoming_packets,
                ),
                (
                    "piranha_ipvs_outgoing_packets",
                    "Outgoing packets through IPVS (/proc/net/ip_vs_stats).",
                    t.outgoing_packets,
                ),
                (
                    "piranha_ipvs_incoming_bytes",
                    "Incoming bytes through IPVS (/proc/net/ip_vs_stats).",
                    t.incoming_bytes,
                ),
                (
                    "piranha_ipvs_outgoing_bytes",
                    "Outgoing bytes through IPVS (/proc/net/ip_vs_stats).",
                    t.outgoing_bytes,
                ),
            ] {
                counters(&mut enc, name, help, no_labels(v))?;
            }
        }
        let Some(t) = &self.ipvs else {
            return Ok(());
        };
        let labels = |b: &crate::procfs::Backend| {
            backend_labels(&t.services[b.svc as usize], b.addr, b.port)
        };
        gauges(
            &mut enc,
            "piranha_ipvs_backend_connections_active",
            "Active connections of an IPVS backend (/proc/net/ip_vs).",
            t.backends.iter().map(|b| (labels(b), b.active)),
        )?;
        gauges(
            &mut enc,
            "piranha_ipvs_backend_connections_inactive",
            "Inactive connections of an IPVS backend (/proc/net/ip_vs).",
            t.backends.iter().map(|b| (labels(b), b.inactive)),
        )?;
        gauges(
            &mut enc,
            "piranha_ipvs_backend_weight",
            "Weight of an IPVS backend (/proc/net/ip_vs).",
            t.backends.iter().map(|b| (labels(b), b.weight)),
        )
    }
}

/// The families from pulse's and lvsd's answers, and the exporter's own.
#[derive(Debug, Default)]
pub struct Daemons {
    /// pulse's `json` (`None`: no valid answer).
    pub pulse: Option<pulse::Status>,
    /// lvsd's `json` and `stats` (`None`: no valid answer).
    pub lvsd: Option<(LvsdStatus, TableStats)>,
}

impl Collector for Daemons {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        if let Some(p) = &self.pulse {
            encode_pulse(&mut enc, p)?;
        }
        if let Some((s, t)) = &self.lvsd {
            encode_lvsd(&mut enc, s)?;
            encode_stats(&mut enc, t)?;
        }
        gauges(
            &mut enc,
            "piranha_up",
            "1 if the daemon's status socket gave a valid answer within the time limit.",
            [
                (
                    [("component", Val::S("pulse"))],
                    i64::from(self.pulse.is_some()),
                ),
                (
                    [("component", Val::S("lvsd"))],
                    i64::from(self.lvsd.is_some()),
                ),
            ],
        )?;
        gauges(
            &mut enc,
            "piranha_exporter_build_info",
            "The exporter's version.",
            [([("version", Val::S(env!("CARGO_PKG_VERSION")))], 1i64)],
        )
    }
}

/// The values of `piranha_pulse_role`'s `state` label: the pair's roles,
/// and `scale-out`, pulse's one role in scale-out mode.
pub const ROLES: [&str; 4] = ["starting", "standby", "active", "scale-out"];

fn encode_pulse(enc: &mut DescriptorEncoder, p: &pulse::Status) -> std::fmt::Result {
    gauges(
        enc,
        "piranha_pulse_role",
        "1 for pulse's current role (starting, standby, active; scale-out in scale-out mode), 0 for the others.",
        ROLES.map(|s| ([("state", Val::S(s))], i64::from(p.role == s))),
    )?;
    gauges(
        enc,
        "piranha_pulse_role_changed_timestamp_seconds",
        "When pulse took its current role (seconds since the epoch).",
        no_labels(p.role_since),
    )?;
    match &p.scale_out {
        // no partner, no heartbeat, no failover: the pair's families
        // would only say "partner dead"
        Some(so) => encode_scale_out(enc, p, so)?,
        None => encode_pair(enc, p)?,
    }
    let mut vips: Vec<&pulse::Vip> = p.vips.iter().collect();
    crate::model::dedup_by_key(&mut vips, |v| (&v.address, &v.device));
    gauges(
        enc,
        "piranha_pulse_vip_held",
        "1 if a virtual IP address pulse manages is present on this router.",
        vips.iter().map(|v| {
            (
                [
                    ("address", Val::S(&v.address)),
                    ("device", Val::S(&v.device)),
                ],
                i64::from(v.held),
            )
        }),
    )?;
    let cfg = &p.config;
    // a scale-out pulse without the hash of the file on disk (it cannot
    // read it, or it predates config_on_disk): its config families would
    // say "unreadable, stale"; lvsd's config_info is what the scale-out
    // alerts count
    if p.scale_out.is_some() && cfg.sha256.is_none() {
        return Ok(());
    }
    gauges(
        enc,
        "piranha_pulse_config_serial_no",
        "serial_no of lvs.cf as it is on disk.",
        cfg.serial_no.map(|n| (NONE, n)),
    )?;
    let serial = cfg.serial_no.map(|n| n.to_string()).unwrap_or_default();
    gauges(
        enc,
        "piranha_pulse_config_info",
        "lvs.cf as it is on disk (file, SHA-256, serial_no); always 1.",
        [(
            [
                ("file", Val::S(&cfg.file)),
                ("sha256", Val::S(cfg.sha256.as_deref().unwrap_or(""))),
                ("serial_no", Val::S(&serial)),
            ],
            1i64,
        )],
    )?;
    gauges(
        enc,
        "piranha_pulse_config_stale",
        "1 if lvs.cf changed on disk since pulse read it at start-up.",
        no_labels(i64::from(config_stale(cfg))),
    )
}

/// Scale-out mode's families (docs/scale-out.md): the members, and per
/// VIP whether it is announced or held back.
fn encode_scale_out(
    enc: &mut DescriptorEncoder,
    p: &pulse::Status,
    so: &pulse::ScaleOut,
) -> std::fmt::Result {
    gauges(
        enc,
        "piranha_pulse_scale_out_members",
        "Directors in scale_out_members (present only in scale-out mode).",
        no_labels(so.members.len() as i64),
    )?;
    // every VIP of lvs.cf, and any announced one lvs.cf no longer has
    let mut addrs: Vec<&str> = p
        .vips
        .iter()
        .map(|v| v.address.as_str())
        .chain(so.announced.iter().map(String::as_str))
        .chain(so.held_back.iter().map(String::as_str))
        .collect();
    crate::model::dedup_by_key(&mut addrs, |a| *a);
    let has = |list: &[String], a: &str| i64::from(list.iter().any(|x| x == a));
    gauges(
        enc,
        "piranha_pulse_scale_out_announced",
        "1 while a VIP is on announce_device (announced through the BGP daemon), 0 otherwise.",
        addrs
            .iter()
            .map(|a| ([("address", Val::S(a))], has(&so.announced, a))),
    )?;
    gauges(
        enc,
        "piranha_pulse_scale_out_held_back",
        "1 while lvsd serves a VIP that waits for announce_hold before it is announced.",
        addrs
            .iter()
            .map(|a| ([("address", Val::S(a))], has(&so.held_back, a))),
    )
}

/// The pair's families: partner, heartbeats, failovers, links.
fn encode_pair(enc: &mut DescriptorEncoder, p: &pulse::Status) -> std::fmt::Result {
    gauges(
        enc,
        "piranha_pulse_partner_alive",
        "1 if a valid heartbeat from the partner arrived within the dead time.",
        no_labels(i64::from(p.partner.alive)),
    )?;
    gauges(
        enc,
        "piranha_pulse_last_heartbeat_age_seconds",
        "Seconds since the partner's last valid heartbeat.",
        p.partner.last_heartbeat_age_seconds.map(|a| (NONE, a)),
    )?;
    let c = &p.counters;
    counters(
        enc,
        "piranha_pulse_heartbeats_sent",
        "Heartbeats pulse sent.",
        no_labels(c.heartbeats_sent),
    )?;
    counters(
        enc,
        "piranha_pulse_heartbeats_received",
        "Valid heartbeats pulse received.",
        no_labels(c.heartbeats_received),
    )?;
    let r = &c.heartbeats_rejected;
    counters(
        enc,
        "piranha_pulse_heartbeats_rejected",
        "Heartbeat datagrams pulse rejected, by reason.",
        r.by_reason()
            .map(|(reason, v)| ([("reason", Val::S(reason))], v)),
    )?;
    counters(
        enc,
        "piranha_pulse_heartbeats_unsigned",
        "Valid heartbeats pulse accepted without a signature (--heartbeat-auth=permissive).",
        no_labels(c.heartbeats_unsigned),
    )?;
    // A pulse older than the field reports nothing: no series then.
    if !p.heartbeat_auth.is_empty() {
        gauges(
            enc,
            "piranha_pulse_heartbeat_auth",
            "1 for pulse's heartbeat authentication mode (off: no --heartbeat-key).",
            ["off", "permissive", "required"]
                .map(|m| ([("mode", Val::S(m))], i64::from(p.heartbeat_auth == m))),
        )?;
    }
    counters(
        enc,
        "piranha_pulse_failovers",
        "Times this router became active.",
        no_labels(c.failovers),
    )?;
    let mut links: Vec<&pulse::Link> = p.links.iter().collect();
    crate::model::dedup_by_key(&mut links, |l| (&l.name, &l.address, &l.device));
    gauges(
        enc,
        "piranha_pulse_link_up",
        "1 if a link pulse monitors is up.",
        links.iter().map(|l| {
            (
                [
                    ("link", Val::S(&l.name)),
                    ("address", Val::S(&l.address)),
                    ("device", Val::S(l.device.as_deref().unwrap_or(""))),
                ],
                i64::from(l.up),
            )
        }),
    )
}

/// The file on disk differs from the one pulse read at start-up (or can
/// no longer be read).
pub fn config_stale(c: &pulse::Config) -> bool {
    match &c.sha256 {
        Some(now) => *now != c.loaded_sha256,
        None => true,
    }
}

fn encode_lvsd(enc: &mut DescriptorEncoder, s: &LvsdStatus) -> std::fmt::Result {
    let st = &s.strings;
    let labels = |r: &crate::model::Real| {
        [
            ("virtual", Val::S(st.get(r.virt))),
            ("server", Val::S(st.get(r.name))),
            ("remote_address", Val::S(st.get(r.addr))),
            ("remote_port", Val::S(st.get(r.port))),
        ]
    };
    gauges(
        enc,
        "piranha_real_server_up",
        "1 if the real server is healthy, 0 if down, pending or unknown (absent when not monitored).",
        s.reals
            .iter()
            .filter_map(|r| r.up.map(|u| (labels(r), i64::from(u)))),
    )?;
    gauges(
        enc,
        "piranha_real_server_weight",
        "Weight of the real server in the IPVS table (0 when not in it).",
        s.reals.iter().map(|r| (labels(r), r.weight)),
    )?;
    gauges(
        enc,
        "piranha_real_server_check_result",
        "1 if the latest check of the real server passed, 0 if it failed (absent before the first).",
        s.reals
            .iter()
            .filter_map(|r| r.result.map(|p| (labels(r), i64::from(p)))),
    )?;
    counters(
        enc,
        "piranha_real_server_check_failures",
        "Checks of the real server that failed since lvsd started its nanny.",
        s.reals.iter().map(|r| (labels(r), r.check_failures)),
    )?;
    encode_histogram(
        enc,
        "piranha_lvsd_reload_duration_seconds",
        "How long lvsd took to apply a reload.",
        &s.reloads.duration_seconds,
    )?;
    counters(
        enc,
        "piranha_lvsd_reloads_refused",
        "Reloads lvsd refused (the file did not load; the running configuration stayed).",
        no_labels(s.reloads.refused),
    )?;
    gauges(
        enc,
        "piranha_lvsd_standby",
        "1 if lvsd runs as pulse's warm standby (table ready, the partner holds the VIPs).",
        no_labels(i64::from(s.standby)),
    )?;
    let serial = s
        .config
        .serial_no
        .map(|n| n.to_string())
        .unwrap_or_default();
    gauges(
        enc,
        "piranha_lvsd_config_info",
        "The configuration lvsd has in force (file, SHA-256, serial_no); always 1.",
        [(
            [
                ("file", Val::S(&s.config.file)),
                ("sha256", Val::S(&s.config.sha256)),
                ("serial_no", Val::S(&serial)),
            ],
            1i64,
        )],
    )
}

/// A histogram from lvsd's cumulative buckets (bounds that do not increase
/// and the count's `+Inf` are dropped; the encoder adds `+Inf`).
fn encode_histogram(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    h: &lvsd::Histogram,
) -> std::fmt::Result {
    let (buckets, count) = histogram_buckets(h);
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Histogram)?;
    m.encode_histogram::<NoLabelSet>(h.sum, count, &buckets, None)
}

/// lvsd's cumulative buckets as prometheus-client takes them (a count per
/// bucket) and the total: bounds that are not finite or do not increase
/// are dropped, and counts never decrease nor exceed the total, so even a
/// damaged document gives a valid histogram.
fn histogram_buckets(h: &lvsd::Histogram) -> (Vec<(f64, u64)>, u64) {
    let count = h.buckets.iter().map(|b| b.1).fold(h.count, u64::max);
    let mut buckets = Vec::with_capacity(h.buckets.len());
    let (mut last_bound, mut last_count) = (f64::NEG_INFINITY, 0u64);
    for &(bound, cum) in &h.buckets {
        if !bound.is_finite() || bound <= last_bound {
            continue;
        }
        let cum = cum.max(last_count);
        buckets.push((bound, cum - last_count));
        (last_bound, last_count) = (bound, cum);
    }
    (buckets, count)
}

fn encode_stats(enc: &mut DescriptorEncoder, t: &TableStats) -> std::fmt::Result {
    type Get = fn(&lvsd::Counters) -> u64;
    let fields: [(&str, &str, Get); 5] = [
        ("connections", "Connections scheduled", |c| c.conns),
        ("incoming_packets", "Incoming packets", |c| c.inpkts),
        ("outgoing_packets", "Outgoing packets", |c| c.outpkts),
        ("incoming_bytes", "Incoming bytes", |c| c.inbytes),
        ("outgoing_bytes", "Outgoing bytes", |c| c.outbytes),
    ];
    let unique = t.unique_services();
    let mut name = String::new();
    let mut help = String::new();
    for (field, what, get) in fields {
        name.clear();
        help.clear();
        write!(name, "piranha_ipvs_service_{field}")?;
        write!(help, "{what} of an IPVS virtual service (lvsd's stats).")?;
        counters(
            enc,
            &name,
            &help,
            unique.iter().map(|&i| {
                let s = &t.services[i as usize];
                (svc_labels(&s.svc), get(&s.stats))
            }),
        )?;
    }
    for (field, what, get) in fields {
        name.clear();
        help.clear();
        write!(name, "piranha_ipvs_backend_{field}")?;
        write!(help, "{what} of an IPVS backend (lvsd's stats).")?;
        counters(
            enc,
            &name,
            &help,
            t.dests.iter().map(|d| {
                (
                    backend_labels(&t.services[d.svc as usize].svc, d.addr, d.port),
                    get(&d.stats),
                )
            }),
        )?;
    }
    gauges(
        enc,
        "piranha_virtual_server_info",
        "The lvs.cf virtual block that defines an IPVS service; always 1.",
        unique.iter().filter_map(|&i| {
            let s = &t.services[i as usize];
            let v = s.virtual_name.as_deref()?;
            let [a, p, proto, m] = svc_labels(&s.svc);
            Some(([("virtual", Val::S(v)), proto, a, p, m], 1i64))
        }),
    )
}

/// Encodes `c` (a collector) to `w` in the Prometheus text format.
pub fn encode(w: &mut impl std::fmt::Write, c: impl Collector) -> std::fmt::Result {
    let mut reg = Registry::default();
    reg.register_collector(Box::new(c));
    prometheus_client::encoding::prometheus_text::encode(w, &reg)
}

/// Encodes a whole snapshot (the kernel part, then the daemons').
pub fn encode_snapshot(w: &mut impl std::fmt::Write, s: Snapshot) -> std::fmt::Result {
    encode(
        w,
        Kernel {
            ipvs: s.ipvs,
            totals: s.totals,
        },
    )?;
    encode(
        w,
        Daemons {
            pulse: s.pulse,
            lvsd: s.lvsd,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_from_cumulative_even_when_damaged() {
        let h = |buckets: Vec<(f64, u64)>, count| lvsd::Histogram {
            buckets,
            sum: 1.0,
            count,
        };
        assert_eq!(
            histogram_buckets(&h(vec![(0.1, 1), (1.0, 3)], 4)),
            (vec![(0.1, 1), (1.0, 2)], 4)
        );
        // decreasing counts, a bound out of order, NaN, +Inf, count too small
        assert_eq!(
            histogram_buckets(&h(
                vec![
                    (0.1, 5),
                    (0.05, 9),
                    (0.5, 2),
                    (f64::NAN, 1),
                    (1.0, 7),
                    (f64::INFINITY, 8)
                ],
                3
            )),
            (vec![(0.1, 5), (0.5, 0), (1.0, 2)], 9)
        );
        assert_eq!(histogram_buckets(&h(vec![], 0)), (vec![], 0));
    }

    /// pulse's document in scale-out mode, as `pulse --status` gives it.
    fn scale_out_pulse() -> pulse::Status {
        let vip = |a: &str, held| pulse::Vip {
            address: a.into(),
            device: "lvs0".into(),
            netmask: Some("/32".into()),
            held,
        };
        pulse::Status {
            version: piranha_status::VERSION,
            node: "member".into(),
            service: "lvs".into(),
            role: "scale-out".into(),
            role_since: 1_764_086_400.0,
            vips: vec![
                vip("192.0.2.10", true),
                vip("192.0.2.11", false),
                vip("192.0.2.12", false),
            ],
            heartbeat_auth: "off".into(),
            config: pulse::Config {
                file: "/etc/sysconfig/ha/lvs.cf".into(),
                loaded_sha256: "a".repeat(64),
                ..Default::default()
            },
            scale_out: Some(pulse::ScaleOut {
                members: vec!["10.0.0.1".into(), "10.0.0.2".into(), "10.0.0.3".into()],
                announce_device: "lvs0".into(),
                announce_hold_seconds: 5.0,
                announced: vec!["192.0.2.10".into()],
                held_back: vec!["192.0.2.11".into()],
            }),
            ..Default::default()
        }
    }

    fn daemons_text(pulse: pulse::Status) -> String {
        let mut out = String::new();
        encode(
            &mut out,
            Daemons {
                pulse: Some(pulse),
                lvsd: None,
            },
        )
        .unwrap();
        out
    }

    #[test]
    fn scale_out_director_has_its_role_members_and_announced_vips() {
        let out = daemons_text(scale_out_pulse());
        let lines: Vec<&str> = out.lines().collect();
        for want in [
            r#"piranha_pulse_role{state="scale-out"} 1"#,
            r#"piranha_pulse_role{state="active"} 0"#,
            r#"piranha_pulse_role{state="standby"} 0"#,
            r#"piranha_pulse_role{state="starting"} 0"#,
            "piranha_pulse_scale_out_members 3",
            r#"piranha_pulse_scale_out_announced{address="192.0.2.10"} 1"#,
            r#"piranha_pulse_scale_out_announced{address="192.0.2.11"} 0"#,
            r#"piranha_pulse_scale_out_announced{address="192.0.2.12"} 0"#,
            r#"piranha_pulse_scale_out_held_back{address="192.0.2.10"} 0"#,
            r#"piranha_pulse_scale_out_held_back{address="192.0.2.11"} 1"#,
            r#"piranha_pulse_vip_held{address="192.0.2.10",device="lvs0"} 1"#,
        ] {
            assert!(lines.contains(&want), "no {want:?} in\n{out}");
        }
        // nothing of the pair (no partner, no heartbeat), and no config
        // family saying "unreadable, stale" for the hash pulse does not take
        for absent in [
            "piranha_pulse_partner_alive",
            "piranha_pulse_heartbeat",
            "piranha_pulse_failovers",
            "piranha_pulse_link_up",
            "piranha_pulse_config",
        ] {
            assert!(!out.contains(absent), "{absent} in\n{out}");
        }
    }

    #[test]
    fn scale_out_families_keep_a_vip_gone_from_lvs_cf_and_a_hash_once_given() {
        let mut p = scale_out_pulse();
        p.vips.clear();
        p.config.sha256 = Some("a".repeat(64));
        let out = daemons_text(p);
        assert!(
            out.contains(r#"piranha_pulse_scale_out_announced{address="192.0.2.10"} 1"#),
            "{out}"
        );
        assert!(out.contains("piranha_pulse_config_stale 0"), "{out}");
        // no announced VIP at all: every series 0, the members still there
        let mut p = scale_out_pulse();
        let so = p.scale_out.as_mut().unwrap();
        so.announced.clear();
        so.members.truncate(1);
        let out = daemons_text(p);
        assert!(out.contains("piranha_pulse_scale_out_members 1"), "{out}");
        assert!(!out.contains("piranha_pulse_scale_out_announced{address=\"192.0.2.10\"} 1"));
    }

    #[test]
    fn a_pair_router_has_no_scale_out_families() {
        let mut p = scale_out_pulse();
        p.scale_out = None;
        p.role = "active".into();
        let out = daemons_text(p);
        assert!(out.contains(r#"piranha_pulse_role{state="active"} 1"#));
        assert!(out.contains(r#"piranha_pulse_role{state="scale-out"} 0"#));
        assert!(out.contains("piranha_pulse_partner_alive 0"), "{out}");
        assert!(out.contains("piranha_pulse_config_stale 1"), "{out}");
        assert!(!out.contains("scale_out"), "{out}");
    }

    #[test]
    fn ipv4_text_is_display() {
        for a in [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.100.9",
            "192.168.1.10",
            "1.22.103.4",
        ] {
            let ip: std::net::Ipv4Addr = a.parse().unwrap();
            assert_eq!(Ipv4Text::new(ip).as_str(), a);
        }
    }
}
