//! What CONTROL/MONITORING shows, read from pulse's and lvsd's status
//! sockets and `/proc/net/ip_vs` (blocking: call it off the async threads).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use lvs_util::status_socket::query;
use piranha_status::lvsd;
use piranha_status::pulse::Status;
use serde::Serialize;

/// How long a daemon may take to answer.
pub const TIMEOUT: Duration = Duration::from_millis(900);

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

/// One look at the router.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// pulse's answer, or why there is none.
    pub pulse: Result<Status, String>,
    /// lvsd's text answer, or why there is none.
    pub lvsd: Result<String, String>,
    /// lvsd's `json` answer (health and weights), if it gave one.
    pub lvsd_status: Option<lvsd::Status>,
    /// lvsd's `stats` answer (the kernel table's counters), if it gave one.
    pub lvsd_stats: Option<lvsd::TableStats>,
    /// `/proc/net/ip_vs`, or why it cannot be read.
    pub ipvs: Result<String, String>,
}

impl Sources {
    /// Reads all three.
    pub fn snapshot(&self) -> Snapshot {
        let pulse = query(&self.pulse_socket, "json", TIMEOUT)
            .map_err(|e| e.to_string())
            .and_then(|t| {
                serde_json::from_str::<Status>(&t)
                    .map_err(|e| format!("{}: {e}", self.pulse_socket))
            });
        let lvsd = query(&self.lvsd_socket, "text", TIMEOUT).map_err(|e| e.to_string());
        let (lvsd_status, lvsd_stats) = if lvsd.is_ok() {
            (
                query(&self.lvsd_socket, "json", TIMEOUT)
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok()),
                query(&self.lvsd_socket, "stats", TIMEOUT)
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok()),
            )
        } else {
            (None, None)
        };
        let path = self.procfs.join("net/ip_vs");
        let ipvs = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()));
        Snapshot {
            pulse,
            lvsd,
            lvsd_status,
            lvsd_stats,
            ipvs,
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

/// A destination's counters by `VIRTUAL_NAME ADDRESS:PORT`.
pub type Sample = HashMap<String, lvsd::Counters>;

/// The counters of every destination of a named service in `stats`.
pub fn sample(stats: &lvsd::TableStats) -> Sample {
    let mut m = HashMap::new();
    for s in &stats.services {
        let Some(v) = &s.virtual_name else { continue };
        for d in &s.dests {
            m.insert(format!("{v} {}:{}", d.address, d.port), d.stats);
        }
    }
    m
}

/// Per second rates between two samples `secs` apart: (connections, bytes
/// in, bytes out). A counter that went down (a reset) gives no rate.
pub fn rates(prev: &Sample, cur: &Sample, secs: f64) -> HashMap<String, (f64, f64, f64)> {
    let mut out = HashMap::new();
    if secs <= 0.0 {
        return out;
    }
    for (k, c) in cur {
        let Some(p) = prev.get(k) else { continue };
        if c.conns < p.conns || c.inbytes < p.inbytes || c.outbytes < p.outbytes {
            continue;
        }
        out.insert(
            k.clone(),
            (
                (c.conns - p.conns) as f64 / secs,
                (c.inbytes - p.inbytes) as f64 / secs,
                (c.outbytes - p.outbytes) as f64 / secs,
            ),
        );
    }
    out
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

/// The real servers as lvsd sees them, with the kernel's connection
/// counts where its `stats` answer has the destination.
pub fn real_rows(
    status: &lvsd::Status,
    stats: Option<&lvsd::TableStats>,
    rates: &HashMap<String, (f64, f64, f64)>,
) -> Vec<RealRow> {
    let mut rows = Vec::new();
    for v in &status.virtuals {
        let svc = stats.and_then(|t| {
            t.services
                .iter()
                .find(|s| s.virtual_name.as_deref() == Some(v.name.as_str()))
        });
        for r in &v.reals {
            let dest = svc.and_then(|s| {
                s.dests
                    .iter()
                    .find(|d| format!("{}:{}", d.address, d.port) == r.address)
            });
            let state = serde_json::to_value(v.state)
                .ok()
                .and_then(|x| x.as_str().map(String::from))
                .unwrap_or_default();
            let rate = rates.get(&format!("{} {}", v.name, r.address));
            rows.push(RealRow {
                virtual_name: v.name.clone(),
                service: v.service.clone(),
                state,
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

/// lvsd's nannies (those with a pid).
pub fn nannies(status: &lvsd::Status) -> Vec<Nanny> {
    status
        .virtuals
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

/// A real server's last change of health or weight, for the event list.
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

/// The real servers' last changes, newest first, at most `max`.
pub fn real_events(status: &lvsd::Status, max: usize) -> Vec<RealEvent> {
    let mut v: Vec<RealEvent> = status
        .virtuals
        .iter()
        .flat_map(|v| {
            v.reals.iter().filter_map(|r| {
                r.last_change_at.map(|time| RealEvent {
                    time,
                    virtual_name: v.name.clone(),
                    server: r.name.clone(),
                    health: r.health.clone(),
                    weight: r.weight.map_or("-".into(), |w| w.to_string()),
                })
            })
        })
        .collect();
    v.sort_by(|a, b| b.time.total_cmp(&a.time));
    v.truncate(max);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_join_health_and_connections() {
        let status = lvsd::Status {
            virtuals: vec![lvsd::VsStatus {
                name: "www".into(),
                service: "TCP 10.0.0.100:80".into(),
                state: lvsd::Phase::Up,
                reals: vec![
                    lvsd::RsStatus {
                        name: "a".into(),
                        address: "192.168.1.10:80".into(),
                        health: "up".into(),
                        weight: Some(2),
                        configured_weight: 2,
                        ..Default::default()
                    },
                    lvsd::RsStatus {
                        name: "b".into(),
                        address: "192.168.1.11:80".into(),
                        health: "down".into(),
                        weight: None,
                        configured_weight: 1,
                        check_failures: 3,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        let stats = lvsd::TableStats {
            services: vec![lvsd::ServiceStats {
                virtual_name: Some("www".into()),
                dests: vec![lvsd::DestStats {
                    address: "192.168.1.10".into(),
                    port: 80,
                    weight: 2,
                    active_conns: 5,
                    inactive_conns: 7,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut later = stats.clone();
        later.services[0].dests[0].stats = lvsd::Counters {
            conns: 20,
            inbytes: 40_000,
            outbytes: 100,
            ..Default::default()
        };
        let r = rates(&sample(&stats), &sample(&later), 10.0);
        assert_eq!(r["www 192.168.1.10:80"], (2.0, 4000.0, 10.0));
        assert!(
            rates(&sample(&later), &sample(&stats), 10.0).is_empty(),
            "a reset"
        );
        let rows = real_rows(&status, Some(&later), &r);
        assert_eq!(rows[0].conn_rate, "2.0 conn/s");
        assert_eq!(rows[0].in_rate, "4000.0 B/s");
        assert_eq!(rows[1].conn_rate, "-");
        let rows = real_rows(&status, Some(&stats), &HashMap::new());
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].state, "up");
        assert_eq!(
            (rows[0].active.as_str(), rows[0].inactive.as_str()),
            ("5", "7")
        );
        assert_eq!(rows[1].health, "down");
        assert_eq!(rows[1].weight, "-");
        assert_eq!(rows[1].active, "-");
        assert_eq!(real_rows(&status, None, &HashMap::new())[0].active, "-");
        let mut st = status.clone();
        st.virtuals[0].reals[0].pid = Some(77);
        st.virtuals[0].reals[0].last_change_at = Some(10.0);
        st.virtuals[0].reals[1].last_change_at = Some(20.0);
        assert_eq!(nannies(&st).len(), 1);
        assert_eq!(nannies(&st)[0].pid, 77);
        let ev = real_events(&st, 10);
        assert_eq!(
            (ev[0].server.as_str(), ev[0].health.as_str()),
            ("b", "down")
        );
        assert_eq!(real_events(&st, 1).len(), 1);
    }
}
