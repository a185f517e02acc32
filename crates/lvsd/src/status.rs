//! lvsd's status socket (default `/run/lvsd.sock`; mode 0660 and group
//! `piranha` when that group exists, else 0600: `lvs_util::status_socket`).
//! A client writes one line and reads the answer until end of file:
//!
//! * `text` (or an empty line): [`text`], for people (`lvsd --status`);
//! * `json`: the [`Status`] (`lvsd --status --json`);
//! * `stats`: the kernel table with its counters as
//!   [`piranha_status::lvsd::TableStats`] ([`table_stats`]).
//!
//! The documents are `docs/status.md`'s, version 1.

use std::collections::HashMap;
use std::time::Duration;

use ipvs::{ServiceDump, ServiceKey};
use piranha_status::lvsd::{Counters, DestStats, ServiceStats, TableStats};

use crate::engine::{Phase, Status};

/// How long `lvsd --status` waits for the whole answer.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// How a client asks for the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A table for people.
    Text,
    /// The [`Status`] as JSON.
    Json,
}

impl Format {
    /// The request line.
    pub fn request(self) -> &'static str {
        match self {
            Format::Text => "text\n",
            Format::Json => "json\n",
        }
    }
}

/// A request on the status socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// The status, in this form.
    Status(Format),
    /// The kernel table's counters.
    Stats,
}

impl Request {
    /// From a request line.
    pub fn parse(line: &str) -> Option<Request> {
        match line.trim() {
            "text" | "" => Some(Request::Status(Format::Text)),
            "json" => Some(Request::Status(Format::Json)),
            "stats" => Some(Request::Stats),
            _ => None,
        }
    }
}

/// The answer to a request that is none of the above.
pub const UNKNOWN_REQUEST: &str = "unknown request: expected text, json or stats\n";

/// Asks the lvsd listening on `socket`.
pub fn query(socket: &str, format: Format) -> Result<String, String> {
    lvs_util::status_socket::query(socket, format.request(), QUERY_TIMEOUT)
        .map_err(|e| e.to_string())
}

/// The answer in `format`.
pub fn render(s: &Status, format: Format) -> String {
    match format {
        Format::Json => {
            let mut j = serde_json::to_string_pretty(s)
                .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
            j.push('\n');
            j
        }
        Format::Text => text(s),
    }
}

fn counters(s: &ipvs::Stats) -> Counters {
    Counters {
        conns: s.conns,
        inpkts: s.inpkts,
        outpkts: s.outpkts,
        inbytes: s.inbytes,
        outbytes: s.outbytes,
    }
}

/// The `stats` document: the table `dump` read at `time` (seconds since
/// the epoch), each service tagged with its lvs.cf name from `names`; a
/// table that could not be read gives `error` and no services.
pub fn table_stats(
    dump: Result<Vec<ServiceDump>, String>,
    names: &HashMap<ServiceKey, String>,
    time: f64,
) -> TableStats {
    let mut out = TableStats {
        version: piranha_status::VERSION,
        time,
        ..TableStats::default()
    };
    let dump = match dump {
        Ok(d) => d,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    out.services = dump
        .iter()
        .map(|d| {
            let key = d.entry.service.key;
            let (proto, address, port, fwmark) = match key {
                ServiceKey::Inet {
                    protocol,
                    addr,
                    port,
                } => (protocol.name().to_string(), addr.to_string(), port, 0),
                ServiceKey::Fwmark { mark, .. } => ("FWM".to_string(), String::new(), 0, mark),
            };
            ServiceStats {
                proto,
                address,
                port,
                fwmark,
                virtual_name: names.get(&key).cloned(),
                stats: counters(&d.entry.stats),
                dests: d
                    .dests
                    .iter()
                    .map(|e| DestStats {
                        address: e.dest.addr.to_string(),
                        port: e.dest.port,
                        weight: e.dest.weight,
                        active_conns: e.active_conns,
                        inactive_conns: e.inact_conns,
                        stats: counters(&e.stats),
                    })
                    .collect(),
            }
        })
        .collect();
    out
}

/// The `stats` answer: [`TableStats`] as one line of JSON.
pub fn render_stats(t: &TableStats) -> String {
    let mut j = serde_json::to_string(t).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    j.push('\n');
    j
}

use lvs_util::timefmt::when;

fn phase(p: Phase) -> &'static str {
    match p {
        Phase::Inactive => "inactive",
        Phase::Duplicate => "duplicate (not started)",
        Phase::Creating => "starting",
        Phase::Up => "up",
        Phase::Failed => "failed (ipvsadm failed)",
    }
}

/// The first line of the text form: the process, the configuration in
/// force and the reloads.
fn header(s: &Status) -> String {
    let c = &s.config;
    let serial = c.serial_no.map_or("-".into(), |n| n.to_string());
    let hash = if c.sha256.is_empty() {
        "-"
    } else {
        c.sha256.get(..12).unwrap_or(&c.sha256)
    };
    let r = &s.reloads;
    let mut line = format!(
        "lvsd pid {}, config {} serial_no {serial} sha256 {hash}, reloads {} applied, {} refused",
        s.pid, c.file, r.total, r.refused
    );
    if let Some(d) = r.last_duration_seconds {
        line.push_str(&format!(", last took {} ms", (d * 1000.0).round() as u64));
    }
    if s.role == "standby" {
        line.push_str(", role standby (warm: table and checks ready, the partner holds the VIPs)");
    }
    if s.pulse_gone {
        line.push_str(", pulse gone (table kept as it is)");
    }
    line.push('\n');
    line
}

/// The text form: a [`header`] line, then one paragraph per virtual server
/// with a table of its real servers.
pub fn text(s: &Status) -> String {
    let mut out = header(s);
    if s.virtuals.is_empty() {
        out.push_str("no virtual servers\n");
    }
    for v in &s.virtuals {
        out.push_str(&format!(
            "virtual {}: {} {}, scheduler {}",
            v.name,
            v.service,
            phase(v.state),
            v.scheduler
        ));
        if let Some(p) = v.persistent {
            out.push_str(&format!(", persistent {p} s"));
        }
        if let Some(sorry) = &v.sorry_server {
            out.push_str(&format!(
                ", sorry server {sorry} {}",
                if v.sorry_active {
                    "in use"
                } else {
                    "not in use"
                }
            ));
        }
        out.push('\n');
        if v.reals.is_empty() {
            out.push_str("  (no real servers)\n");
            continue;
        }
        let header = [
            "SERVER",
            "ADDRESS",
            "MONITOR",
            "PID",
            "HEALTH",
            "WEIGHT",
            "FAILURES",
            "LAST RESULT",
            "LAST CHANGE",
        ];
        let mut rows: Vec<[String; 9]> = vec![header.map(String::from)];
        for r in &v.reals {
            rows.push([
                r.name.clone(),
                r.address.clone(),
                r.monitor.clone(),
                r.pid.map_or("-".into(), |p| p.to_string()),
                r.health.clone(),
                r.weight.map_or("-".into(), |w| w.to_string()),
                r.check_failures.to_string(),
                match (&r.last_result, r.last_result_since) {
                    (Some(res), Some(t)) => format!("{res} since {}", when(s.time, Some(t))),
                    _ => "-".into(),
                },
                when(s.time, r.last_change_at),
            ]);
        }
        let mut width = [0usize; 9];
        for row in &rows {
            for (w, c) in width.iter_mut().zip(row) {
                *w = (*w).max(c.len());
            }
        }
        for row in &rows {
            let cells: Vec<String> = row
                .iter()
                .zip(width)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            out.push_str("  ");
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use piranha_status::lvsd::{Config, Reloads};

    #[test]
    fn requests() {
        assert_eq!(
            Request::parse("json\n"),
            Some(Request::Status(Format::Json))
        );
        assert_eq!(Request::parse("text"), Some(Request::Status(Format::Text)));
        assert_eq!(Request::parse(""), Some(Request::Status(Format::Text)));
        assert_eq!(Request::parse(" stats\r\n"), Some(Request::Stats));
        assert_eq!(Request::parse("bogus"), None);
        for f in [Format::Text, Format::Json] {
            assert_eq!(Request::parse(f.request()), Some(Request::Status(f)));
        }
    }

    #[test]
    fn text_shows_header_health_failures_and_raw_result() {
        use crate::engine::{RsStatus, VsStatus};
        let real = |name: &str, health: &str, result: Option<(&str, f64)>| RsStatus {
            name: name.into(),
            address: "10.1.0.1:80".into(),
            monitor: "running".into(),
            pid: Some(42),
            health: health.into(),
            weight: None,
            configured_weight: 1,
            last_result: result.map(|r| r.0.to_string()),
            last_result_since: result.map(|r| r.1),
            last_change_at: Some(1_764_086_400.0),
            check_failures: if health == "down" { 12 } else { 0 },
        };
        let mut s = Status {
            version: 1,
            time: 1_764_086_461.0,
            pid: 1234,
            role: "active".into(),
            pulse_gone: false,
            config: Config {
                file: "/etc/sysconfig/ha/lvs.cf".into(),
                serial_no: Some(7),
                sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
            },
            reloads: Reloads {
                total: 2,
                refused: 1,
                last_duration_seconds: Some(0.0123),
                ..Reloads::default()
            },
            virtuals: vec![VsStatus {
                name: "www".into(),
                service: "TCP 10.0.0.1:80".into(),
                state: Phase::Up,
                scheduler: "wlc".into(),
                persistent: None,
                sorry_server: None,
                sorry_active: false,
                reals: vec![
                    real("web1", "down", Some(("pass", 1_764_086_451.0))),
                    real("web2", "pending", None),
                ],
            }],
        };
        assert_eq!(
            text(&s),
            "lvsd pid 1234, config /etc/sysconfig/ha/lvs.cf serial_no 7 sha256 ba7816bf8f01, \
             reloads 2 applied, 1 refused, last took 12 ms\n\
             virtual www: TCP 10.0.0.1:80 up, scheduler wlc\n\
             \x20 SERVER  ADDRESS      MONITOR  PID  HEALTH   WEIGHT  FAILURES  \
             LAST RESULT                                    LAST CHANGE\n\
             \x20 web1    10.1.0.1:80  running  42   down     -       12        \
             pass since 2025-11-25 16:00:51 UTC (10 s ago)  2025-11-25 16:00:00 UTC (61 s ago)\n\
             \x20 web2    10.1.0.1:80  running  42   pending  -       0         \
             -                                              2025-11-25 16:00:00 UTC (61 s ago)\n"
        );
        // a warm standby whose pulse has gone
        let mut w = s.clone();
        w.role = "standby".into();
        w.pulse_gone = true;
        assert!(text(&w).starts_with(
            "lvsd pid 1234, config /etc/sysconfig/ha/lvs.cf serial_no 7 sha256 ba7816bf8f01, \
             reloads 2 applied, 1 refused, last took 12 ms, role standby (warm: table and \
             checks ready, the partner holds the VIPs), pulse gone (table kept as it is)\n"
        ));
        // nothing known yet: dashes, no duration
        s.config = Config::default();
        s.reloads = Reloads::default();
        s.virtuals.clear();
        assert_eq!(
            text(&s),
            "lvsd pid 1234, config  serial_no - sha256 -, reloads 0 applied, 0 refused\n\
             no virtual servers\n"
        );
    }

    #[test]
    fn table_stats_tags_services_and_reports_errors() {
        use ipvs::{Dest, DestEntry, Forward, Service, ServiceEntry, Stats};
        let st = |n: u64| Stats {
            conns: n,
            inpkts: 8 * n,
            outpkts: 7 * n,
            inbytes: 600 * n,
            outbytes: 1800 * n,
            cps: 99,
            ..Stats::default()
        };
        let www = ServiceKey::tcp([10, 0, 0, 1], 80);
        let dump = vec![
            ServiceDump {
                entry: ServiceEntry {
                    service: Service::new(www, "wlc"),
                    stats: st(5),
                },
                dests: vec![DestEntry {
                    dest: Dest::new([10, 1, 0, 1], 80, Forward::Masq).weight(3),
                    active_conns: 1,
                    inact_conns: 2,
                    persist_conns: 0,
                    stats: st(3),
                }],
            },
            ServiceDump {
                entry: ServiceEntry {
                    service: Service::new(ServiceKey::fwmark(7), "rr"),
                    stats: Stats::default(),
                },
                dests: Vec::new(),
            },
            ServiceDump {
                entry: ServiceEntry {
                    service: Service::new(ServiceKey::udp([10, 0, 0, 2], 53), "rr"),
                    stats: Stats::default(),
                },
                dests: Vec::new(),
            },
        ];
        let names = HashMap::from([
            (www, "www".to_string()),
            (ServiceKey::fwmark(7), "mark".to_string()),
        ]);
        let t = table_stats(Ok(dump), &names, 1_764_086_461.2);
        let json: serde_json::Value = serde_json::from_str(&render_stats(&t)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "version": 1, "time": 1_764_086_461.2, "error": null,
                "services": [
                    {"proto": "TCP", "address": "10.0.0.1", "port": 80, "fwmark": 0,
                     "virtual_name": "www",
                     "stats": {"conns": 5, "inpkts": 40, "outpkts": 35, "inbytes": 3000,
                               "outbytes": 9000},
                     "dests": [{"address": "10.1.0.1", "port": 80, "weight": 3,
                                "active_conns": 1, "inactive_conns": 2,
                                "stats": {"conns": 3, "inpkts": 24, "outpkts": 21,
                                          "inbytes": 1800, "outbytes": 5400}}]},
                    {"proto": "FWM", "address": "", "port": 0, "fwmark": 7,
                     "virtual_name": "mark",
                     "stats": {"conns": 0, "inpkts": 0, "outpkts": 0, "inbytes": 0,
                               "outbytes": 0},
                     "dests": []},
                    {"proto": "UDP", "address": "10.0.0.2", "port": 53, "fwmark": 0,
                     "virtual_name": null,
                     "stats": {"conns": 0, "inpkts": 0, "outpkts": 0, "inbytes": 0,
                               "outbytes": 0},
                     "dests": []}
                ]
            })
        );
        assert!(render_stats(&t).ends_with("}\n"));
        let t = table_stats(Err("IPVS is not available".into()), &names, 1.0);
        assert_eq!(t.error.as_deref(), Some("IPVS is not available"));
        assert!(t.services.is_empty());
        assert_eq!(t.version, 1);
    }
}
