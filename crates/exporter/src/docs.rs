//! The daemons' answers, parsed with `piranha_status`'s types and reduced
//! to [`crate::model`] (pure).
//!
//! Every type reads with `#[serde(default)]`, so `{}` would parse as an
//! empty document: an answer counts only when its `version` is the one
//! these types describe ([`piranha_status::VERSION`]).

use piranha_status::{VERSION, lvsd, pulse};

use crate::model::{LvsdStatus, TableStats};

/// Why an answer was not used.
pub type Error = String;

fn check_version(what: &str, v: u32) -> Result<(), Error> {
    if v == VERSION {
        Ok(())
    } else {
        Err(format!(
            "{what}: document version {v}, this exporter reads version {VERSION}"
        ))
    }
}

fn json<'a, T: serde::Deserialize<'a>>(what: &str, text: &'a str) -> Result<T, Error> {
    // serde would also read a struct from an array (`[1, 2]`)
    if !text.trim_start().starts_with('{') {
        return Err(format!("{what}: not a status document (no JSON object)"));
    }
    serde_json::from_str(text).map_err(|e| format!("{what}: not a status document: {e}"))
}

/// pulse's answer to `json`.
pub fn pulse_status(text: &str) -> Result<pulse::Status, Error> {
    let s: pulse::Status = json("pulse json", text)?;
    check_version("pulse json", s.version)?;
    Ok(s)
}

/// lvsd's answer to `json`, reduced.
pub fn lvsd_status(text: &str) -> Result<LvsdStatus, Error> {
    let s: lvsd::Status = json("lvsd json", text)?;
    check_version("lvsd json", s.version)?;
    Ok(LvsdStatus::from_doc(&s))
}

/// lvsd's answer to `stats`, reduced.
pub fn lvsd_stats(text: &str) -> Result<TableStats, Error> {
    let s: lvsd::TableStats = json("lvsd stats", text)?;
    check_version("lvsd stats", s.version)?;
    Ok(TableStats::from_doc(&s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_other_versions_are_refused() {
        assert!(pulse_status("hello").unwrap_err().contains("not a status"));
        assert!(pulse_status("{}").unwrap_err().contains("version 0"));
        assert!(
            lvsd_status(r#"{"version":2}"#)
                .unwrap_err()
                .contains("version 2")
        );
        assert!(lvsd_stats("[1,2]").is_err());
        assert!(lvsd_stats("").is_err());
        let p = pulse_status(r#"{"version":1,"role":"active","future":[1]}"#).unwrap();
        assert_eq!(p.role, "active");
        let t = lvsd_stats(r#"{"version":1,"error":"EPERM","services":[]}"#).unwrap();
        assert_eq!(t.error.as_deref(), Some("EPERM"));
    }
}
