//! Times as the status texts show them: `YYYY-MM-DD HH:MM:SS` in UTC and
//! a rough age (`10 s ago`, `15 min ago`, `28 h ago`).

/// `YYYY-MM-DD HH:MM:SS` in UTC for `secs` since the epoch.
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

/// How long ago `t` was at `now` (both seconds), rounded for people.
pub fn ago(now: f64, t: f64) -> String {
    age(now - t)
}

/// A duration in seconds, rounded for people.
pub fn age(secs: f64) -> String {
    let s = secs.max(0.0);
    if s < 120.0 {
        format!("{} s ago", s.round() as u64)
    } else if s < 7200.0 {
        format!("{} min ago", (s / 60.0).round() as u64)
    } else {
        format!("{} h ago", (s / 3600.0).round() as u64)
    }
}

/// `TIME UTC (AGE)`, or `-` without a time.
pub fn when(now: f64, t: Option<f64>) -> String {
    t.map_or("-".into(), |t| format!("{} UTC ({})", utc(t), ago(now, t)))
}

/// Seconds since the epoch now (wall clock; for display only).
pub fn wall_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
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
        assert_eq!(when(100.0, None), "-");
        assert_eq!(when(70.0, Some(60.0)), "1970-01-01 00:01:00 UTC (10 s ago)");
    }
}
