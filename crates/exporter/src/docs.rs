//! The daemons' answers, parsed with `piranha_status`'s types and reduced
//! to [`crate::model`] (pure).
//!
//! Every type reads with `#[serde(default)]`, so `{}` would parse as an
//! empty document: an answer counts only when its `version` is the one
//! these types describe ([`piranha_status::VERSION`]).

use std::fmt;

use piranha_status::{VERSION, lvsd, pulse};
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

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
    lvsd_status_from(text.as_bytes()).map_err(|e| format!("lvsd json: {}", describe(&e)))
}

/// lvsd's answer to `stats`, reduced.
pub fn lvsd_stats(text: &str) -> Result<TableStats, Error> {
    lvsd_stats_from(text.as_bytes()).map_err(|e| format!("lvsd stats: {}", describe(&e)))
}

/// What went wrong with a document, in words.
pub fn describe(e: &ReadError) -> String {
    match e {
        ReadError::Json(e) => format!("not a status document: {e}"),
        ReadError::Version(v) => {
            format!("document version {v}, this exporter reads version {VERSION}")
        }
    }
}

/// Why a streamed document was not used.
#[derive(Debug)]
pub enum ReadError {
    /// Not JSON of the right shape, or the reader failed.
    Json(serde_json::Error),
    /// Another document version.
    Version(u32),
}

impl From<serde_json::Error> for ReadError {
    fn from(e: serde_json::Error) -> Self {
        ReadError::Json(e)
    }
}

/// lvsd's answer to `json`, read from `r` as it arrives: each virtual
/// block (`piranha_status::lvsd::VsStatus`) is reduced as soon as it is
/// parsed, so the whole document is never held.
pub fn lvsd_status_from(r: impl std::io::Read) -> Result<LvsdStatus, ReadError> {
    let mut de = serde_json::Deserializer::from_reader(r);
    let (version, s) = de.deserialize_map(StatusVisitor)?;
    de.end()?;
    if version != VERSION {
        return Err(ReadError::Version(version));
    }
    Ok(s)
}

/// lvsd's answer to `stats`, read from `r` as it arrives, one service
/// (`piranha_status::lvsd::ServiceStats`) at a time.
pub fn lvsd_stats_from(r: impl std::io::Read) -> Result<TableStats, ReadError> {
    let mut de = serde_json::Deserializer::from_reader(r);
    let (version, t) = de.deserialize_map(StatsVisitor)?;
    de.end()?;
    if version != VERSION {
        return Err(ReadError::Version(version));
    }
    Ok(t)
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum StatusField {
    Version,
    Role,
    Config,
    Reloads,
    Virtuals,
    #[serde(other)]
    Other,
}

struct StatusVisitor;

impl<'de> Visitor<'de> for StatusVisitor {
    type Value = (u32, LvsdStatus);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("lvsd's status document (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut s = LvsdStatus::default();
        let mut version = 0;
        while let Some(k) = map.next_key::<StatusField>()? {
            match k {
                StatusField::Version => version = map.next_value()?,
                StatusField::Role => s.standby = map.next_value::<String>()? == "standby",
                StatusField::Config => s.config = map.next_value()?,
                StatusField::Reloads => s.reloads = map.next_value()?,
                StatusField::Virtuals => {
                    map.next_value_seed(each(|v: lvsd::VsStatus| s.add_virtual(&v)))?
                }
                StatusField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        s.finish();
        Ok((version, s))
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum StatsField {
    Version,
    Error,
    Services,
    #[serde(other)]
    Other,
}

struct StatsVisitor;

impl<'de> Visitor<'de> for StatsVisitor {
    type Value = (u32, TableStats);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("lvsd's stats document (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut t = TableStats::default();
        let mut version = 0;
        while let Some(k) = map.next_key::<StatsField>()? {
            match k {
                StatsField::Version => version = map.next_value()?,
                StatsField::Error => t.error = map.next_value()?,
                StatsField::Services => {
                    map.next_value_seed(each(|s: lvsd::ServiceStats| t.add_service(&s)))?
                }
                StatsField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        t.finish();
        Ok((version, t))
    }
}

/// A JSON array whose elements are handed to a closure one at a time.
struct Each<T, F>(F, std::marker::PhantomData<fn(T)>);

fn each<T, F: FnMut(T)>(f: F) -> Each<T, F> {
    Each(f, std::marker::PhantomData)
}

impl<'de, T: Deserialize<'de>, F: FnMut(T)> DeserializeSeed<'de> for Each<T, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>, F: FnMut(T)> Visitor<'de> for Each<T, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<T>()? {
            (self.0)(v);
        }
        Ok(())
    }
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

    #[test]
    fn lvsd_role_standby_is_read() {
        let s = lvsd_status(r#"{"version":1,"role":"standby","virtuals":[]}"#).unwrap();
        assert!(s.standby);
        let s = lvsd_status(r#"{"version":1,"role":"active","virtuals":[]}"#).unwrap();
        assert!(!s.standby);
        // an lvsd from before warm standby says nothing: active
        let s = lvsd_status(r#"{"version":1,"virtuals":[]}"#).unwrap();
        assert!(!s.standby);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Garbage is refused, never a panic.
        #[test]
        fn any_text_is_refused_or_read(text in "\\PC{0,200}", n in 0usize..200) {
            let _ = pulse_status(&text);
            let _ = lvsd_status(&text);
            let _ = lvsd_stats(&text);
            // a real document cut anywhere
            let doc = r#"{"version":1,"virtuals":[{"name":"a","reals":[{"name":"r","address":"10.0.0.1:80","health":"up","weight":1}]}],"services":[{"proto":"FWM","fwmark":3,"dests":[{"address":"10.0.0.1","port":0}]}]}"#;
            let cut = &doc[..n.min(doc.len())];
            let _ = lvsd_status(cut);
            let _ = lvsd_stats(cut);
        }
    }
}
