//! `lvsd --status --json` and lvsd's `stats` answer.

use serde::{Deserialize, Serialize};

/// lvsd's answer to `json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Status {
    /// Document version ([`crate::VERSION`]).
    pub version: u32,
    /// When the snapshot was taken (seconds since the epoch).
    pub time: f64,
    /// lvsd's pid.
    pub pid: u32,
    /// `active` (the default, and always without pulse's warm standby) or
    /// `standby` (warm standby: the table and the nannies run, the partner
    /// holds the VIPs).
    pub role: String,
    /// With warm standby: pulse's socket has closed (pulse ended without
    /// stopping lvsd, e.g. kill -9); lvsd keeps the table as it is.
    pub pulse_gone: bool,
    /// The configuration in force.
    pub config: Config,
    /// Reloads since lvsd started.
    pub reloads: Reloads,
    /// Every virtual block, in file order.
    pub virtuals: Vec<VsStatus>,
}

/// The configuration in force.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Its path.
    pub file: String,
    /// Its `serial_no`.
    pub serial_no: Option<i64>,
    /// SHA-256 of the file as read (hex).
    pub sha256: String,
}

/// Reloads (SIGHUP) since lvsd started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Reloads {
    /// Reloads applied.
    pub total: u64,
    /// Reloads refused (the file did not load; the running configuration stayed).
    pub refused: u64,
    /// How long the last applied reload took.
    pub last_duration_seconds: Option<f64>,
    /// How long applied reloads took.
    pub duration_seconds: Histogram,
}

/// A Prometheus-style histogram.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Histogram {
    /// `[upper bound, cumulative count]`, bounds increasing (no `+Inf`:
    /// that is `count`).
    pub buckets: Vec<(f64, u64)>,
    /// Sum of the observations.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

impl Histogram {
    /// Empty, with these upper bounds.
    pub fn with_bounds(bounds: &[f64]) -> Histogram {
        Histogram {
            buckets: bounds.iter().map(|&b| (b, 0)).collect(),
            sum: 0.0,
            count: 0,
        }
    }

    /// Records one observation.
    pub fn observe(&mut self, v: f64) {
        for (bound, n) in &mut self.buckets {
            if v <= *bound {
                *n += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }
}

/// Lifecycle of a virtual server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// `active = 0`.
    #[default]
    Inactive,
    /// An earlier active block has the same service: never started.
    Duplicate,
    /// Its service is being added.
    Creating,
    /// Its service exists; its nannies run.
    Up,
    /// Adding its service failed: no nannies.
    Failed,
}

/// One virtual server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VsStatus {
    /// Block name.
    pub name: String,
    /// `TCP VIP:PORT`, `UDP VIP:PORT` or `FWM MARK`.
    pub service: String,
    /// Lifecycle.
    pub state: Phase,
    /// Scheduler.
    pub scheduler: String,
    /// Persistence timeout, if persistent.
    pub persistent: Option<u32>,
    /// `sorry_server`, if set.
    pub sorry_server: Option<String>,
    /// The sorry server is in the table.
    pub sorry_active: bool,
    /// Every `server` block, in file order.
    pub reals: Vec<RsStatus>,
}

/// One real server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RsStatus {
    /// Block name.
    pub name: String,
    /// `RIP:PORT`.
    pub address: String,
    /// `inactive`, `duplicate`, or its nanny: `off`, `starting`,
    /// `running`, `dead`, `shown` (test mode).
    pub monitor: String,
    /// Nanny pid.
    pub pid: Option<u32>,
    /// `up`, `down`, `pending` (first check not reported yet), `unknown`,
    /// `-` when not monitored.
    pub health: String,
    /// Weight in the table; `None` when not in the table.
    pub weight: Option<u32>,
    /// `weight` in lvs.cf.
    pub configured_weight: i32,
    /// Raw result of the latest check, `pass` or `fail` (nanny's `result`
    /// reports; `None` before the first one, and for a monitor that does
    /// not speak the report protocol). Unlike `health` it turns `pass` as
    /// soon as a failed server's checks pass again, while `health` stays
    /// `down` for the re-entry time.
    pub last_result: Option<String>,
    /// When the raw result last changed (seconds since the epoch).
    pub last_result_since: Option<f64>,
    /// Last change of health or weight (seconds since the epoch).
    pub last_change_at: Option<f64>,
    /// Checks that failed since lvsd started monitoring this server.
    pub check_failures: u64,
}

/// lvsd's answer to `stats`: the kernel table with its counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TableStats {
    /// Document version ([`crate::VERSION`]).
    pub version: u32,
    /// When the table was read (seconds since the epoch).
    pub time: f64,
    /// Why the table could not be read, if it could not.
    pub error: Option<String>,
    /// Every service in the table.
    pub services: Vec<ServiceStats>,
}

/// Traffic counters of a service or destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    /// Connections scheduled.
    pub conns: u64,
    /// Packets in.
    pub inpkts: u64,
    /// Packets out.
    pub outpkts: u64,
    /// Bytes in.
    pub inbytes: u64,
    /// Bytes out.
    pub outbytes: u64,
}

/// One service of the kernel table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceStats {
    /// `TCP`, `UDP`, `SCTP` or `FWM`.
    pub proto: String,
    /// Virtual address (empty for a firewall-mark service).
    pub address: String,
    /// Virtual port (0 for a firewall-mark service).
    pub port: u16,
    /// Firewall mark (0 unless `proto` is `FWM`).
    pub fwmark: u32,
    /// The lvs.cf virtual block defining it, if one does.
    pub virtual_name: Option<String>,
    /// Its counters.
    pub stats: Counters,
    /// Its destinations.
    pub dests: Vec<DestStats>,
}

/// One destination of a service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DestStats {
    /// Real server address.
    pub address: String,
    /// Real server port.
    pub port: u16,
    /// Weight.
    pub weight: u32,
    /// Active connections.
    pub active_conns: u32,
    /// Inactive connections.
    pub inactive_conns: u32,
    /// Its counters.
    pub stats: Counters,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let mut h = Histogram::with_bounds(&[0.1, 1.0]);
        h.observe(0.05);
        h.observe(0.5);
        h.observe(5.0);
        assert_eq!(h.buckets, vec![(0.1, 1), (1.0, 2)]);
        assert_eq!(h.count, 3);
        assert!((h.sum - 5.55).abs() < 1e-9);
    }

    #[test]
    fn unknown_and_missing_fields_are_fine() {
        let s: Status =
            serde_json::from_str(r#"{"virtuals":[{"name":"www","future":1,"reals":[{}]}]}"#)
                .unwrap();
        assert_eq!(s.virtuals[0].name, "www");
        assert_eq!(s.virtuals[0].reals[0].check_failures, 0);
        assert_eq!(s.virtuals[0].state, Phase::Inactive);
    }
}
