//! `lvsd --status`: the running lvsd answers on a unix stream socket
//! (default `/run/lvsd.sock`, mode 0600). A client writes one line, `text`
//! or `json`, and reads the answer until end of file.

use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::engine::{Phase, Status};

/// How a client asks.
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

    /// From a request line.
    pub fn from_request(line: &str) -> Option<Format> {
        match line.trim() {
            "text" | "" => Some(Format::Text),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// Asks the lvsd listening on `socket`.
pub fn query(socket: &str, format: Format) -> Result<String, String> {
    let mut s = UnixStream::connect(socket).map_err(|e| format!("{socket}: {e}"))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    s.write_all(format.request().as_bytes())
        .map_err(|e| format!("{socket}: {e}"))?;
    let mut out = String::new();
    s.read_to_string(&mut out)
        .map_err(|e| format!("{socket}: {e}"))?;
    Ok(out)
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

/// `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn utc(secs: f64) -> String {
    let t = secs.floor() as libc::time_t;
    // SAFETY: gmtime_r fills the zeroed tm we pass.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::gmtime_r(&t, &mut tm) }.is_null() {
        return "?".into();
    }
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

fn ago(now: f64, t: f64) -> String {
    let s = (now - t).max(0.0);
    if s < 120.0 {
        format!("{} s ago", s.round() as u64)
    } else if s < 7200.0 {
        format!("{} min ago", (s / 60.0).round() as u64)
    } else {
        format!("{} h ago", (s / 3600.0).round() as u64)
    }
}

fn when(now: f64, t: Option<f64>) -> String {
    t.map_or("-".into(), |t| format!("{} UTC ({})", utc(t), ago(now, t)))
}

fn phase(p: Phase) -> &'static str {
    match p {
        Phase::Inactive => "inactive",
        Phase::Duplicate => "duplicate (not started)",
        Phase::Creating => "starting",
        Phase::Up => "up",
        Phase::Failed => "failed (ipvsadm failed)",
    }
}

/// The text form: one paragraph per virtual server with a table of its
/// real servers.
pub fn text(s: &Status) -> String {
    let mut out = String::new();
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
            "LAST RESULT",
            "LAST CHANGE",
        ];
        let mut rows: Vec<[String; 8]> = vec![header.map(String::from)];
        for r in &v.reals {
            rows.push([
                r.name.clone(),
                r.address.clone(),
                r.monitor.clone(),
                r.pid.map_or("-".into(), |p| p.to_string()),
                r.health.clone(),
                r.weight.map_or("-".into(), |w| w.to_string()),
                match (&r.last_result, r.last_result_since) {
                    (Some(res), Some(t)) => format!("{res} since {}", when(s.time, Some(t))),
                    _ => "-".into(),
                },
                when(s.time, r.last_change_at),
            ]);
        }
        let mut width = [0usize; 8];
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

    #[test]
    fn utc_and_ages() {
        assert_eq!(utc(0.0), "1970-01-01 00:00:00");
        assert_eq!(utc(1_764_086_461.7), "2025-11-25 16:01:01");
        assert_eq!(ago(100.0, 90.0), "10 s ago");
        assert_eq!(ago(1000.0, 100.0), "15 min ago");
        assert_eq!(ago(100_000.0, 0.0), "28 h ago");
        assert_eq!(Format::from_request("json\n"), Some(Format::Json));
        assert_eq!(Format::from_request("text"), Some(Format::Text));
        assert_eq!(Format::from_request("bogus"), None);
    }

    #[test]
    fn text_shows_health_and_raw_result() {
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
        };
        let s = Status {
            time: 1_764_086_461.0,
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
            "virtual www: TCP 10.0.0.1:80 up, scheduler wlc\n\
             \x20 SERVER  ADDRESS      MONITOR  PID  HEALTH   WEIGHT  \
             LAST RESULT                                    LAST CHANGE\n\
             \x20 web1    10.1.0.1:80  running  42   down     -       \
             pass since 2025-11-25 16:00:51 UTC (10 s ago)  2025-11-25 16:00:00 UTC (61 s ago)\n\
             \x20 web2    10.1.0.1:80  running  42   pending  -       \
             -                                              2025-11-25 16:00:00 UTC (61 s ago)\n"
        );
    }
}
