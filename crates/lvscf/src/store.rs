//! Saving lvs.cf safely: the file adapter the web tool writes through.
//!
//! [`save`] refuses a text that [`crate::check`] refuses, and a text edited
//! from an older version than the file now holds (its `serial_no` is not
//! the one the editor started from: two browsers at once); otherwise it
//! replaces the file atomically (a temporary file in the same directory,
//! fsync, rename, fsync of the directory; owner, group and mode kept) and
//! keeps the version it replaced.
//!
//! History: the previous versions, the last [`KEEP`], are kept in the
//! directory `FILE.history/` next to the file (`lvs.cf.history/`, owner
//! of the file, readable by whoever may read the file: [`history_mode`],
//! 0755 for lvs.cf's 0644; each version keeps the file's mode, owner and
//! group), so an unprivileged reader such as the web tool can list and
//! show versions it may not write; one file each named
//! `YYYYMMDDTHHMMSS.NNNNNNNNNZ-serial-N.cf`: the UTC time it was replaced
//! (so names sort by time) and its `serial_no`. [`list_versions`] lists
//! them, newest first; [`restore`] saves one again, as a new version with a
//! new `serial_no` (so the version it replaces is kept too).
//!
//! Saves are serialized with an exclusive lock (`flock`) on the history
//! directory, so the serial comparison and the rename are one step for
//! every writer that goes through here.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::check::{Problem, check_with};

/// How many previous versions are kept.
pub const KEEP: usize = 20;

/// Why a save did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The file changed since the editor read it: its `serial_no` is
    /// `current_serial`, not the expected one. `current` is its text, to
    /// show a diff ([`crate::unified_diff`]) against the refused one.
    #[error("{file}: serial_no is {current_serial}, not {expected}: changed by someone else")]
    Conflict {
        /// The file.
        file: String,
        /// The serial the editor started from.
        expected: i32,
        /// The file's serial now.
        current_serial: i32,
        /// The file's text now.
        current: String,
    },
    /// The text does not pass the daemons' checks; the file is unchanged.
    #[error("{}", .0.iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
    /// The `serial_no` could not be set (see the message).
    #[error(transparent)]
    Edit(#[from] crate::EditError),
    /// No such version in the history.
    #[error("{0}: no such version in the history")]
    NoSuchVersion(String),
    /// Reading or writing failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The OS error.
        source: io::Error,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> SaveError {
    let what = what.into();
    move |source| SaveError::Io { what, source }
}

/// What a save wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The text now in the file (the given text with its new `serial_no`).
    pub text: String,
    /// Its `serial_no`.
    pub serial: i32,
    /// The history entry of the version it replaced (`None` when there was
    /// no file).
    pub previous: Option<Version>,
}

/// A kept previous version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Its file name in the history directory (what [`restore`] takes).
    pub name: String,
    /// Its `serial_no`.
    pub serial: i32,
    /// When it was replaced (from its name).
    pub replaced: SystemTime,
}

/// The `serial_no` of a text as the parser reads it (0 when absent), found
/// without parsing the rest; `None` when the value is not an integer.
pub fn serial_of(text: &str) -> Option<i32> {
    crate::edit::Index::new(text).serial_no()
}

/// The history directory of `path`: `PATH.history`.
pub fn history_dir(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".history");
    PathBuf::from(s)
}

fn read_current(path: &Path) -> Result<Option<String>, SaveError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(format!("reading {}", path.display()))(e)),
    }
}

/// Saves `new_text` to `path` if the file's `serial_no` is still
/// `expected_serial` (0 for a file without one, or no file) and the text
/// passes [`crate::check_with`]. The saved text's `serial_no` is one more than the
/// file's, unless `new_text` already has a higher one. Keeps the replaced
/// version in the history (module documentation).
pub fn save(path: &Path, new_text: &str, expected_serial: i32) -> Result<Saved, SaveError> {
    save_with(
        path,
        new_text,
        expected_serial,
        &crate::SystemResolver::default(),
    )
}

/// [`save`], checking with `resolver` (host and service names) instead of
/// the system's.
pub fn save_with(
    path: &Path,
    new_text: &str,
    expected_serial: i32,
    resolver: &dyn crate::Resolver,
) -> Result<Saved, SaveError> {
    let file = path.display().to_string();
    let hist = history_dir(path);
    let lock = lock_history(path, &hist)?;
    let current = read_current(path)?;
    let current_serial = current.as_deref().map_or(Some(0), serial_of).unwrap_or(0);
    if current_serial != expected_serial {
        return Err(SaveError::Conflict {
            file,
            expected: expected_serial,
            current_serial,
            current: current.unwrap_or_default(),
        });
    }
    let serial = current_serial
        .checked_add(1)
        .ok_or_else(|| SaveError::Edit(serial_error(&file, current_serial)))?;
    let (text, serial) = crate::edit::with_serial_at_least(new_text, &file, serial)?;
    check_with(&text, &file, resolver).map_err(SaveError::Invalid)?;
    let meta = fs::metadata(path).ok();
    let previous = match &current {
        Some(old) => {
            let v = keep_version(&hist, old, current_serial, meta.as_ref())?;
            prune(&hist)?;
            Some(v)
        }
        None => None,
    };
    write_atomically(path, text.as_bytes(), meta.as_ref())?;
    drop(lock);
    Ok(Saved {
        text,
        serial,
        previous,
    })
}

fn serial_error(file: &str, s: i32) -> crate::EditError {
    crate::EditError {
        file: file.to_string(),
        kind: crate::EditErrorKind::BadSerial(format!("{s} cannot be incremented")),
    }
}

/// The kept versions of `path`, newest first.
pub fn list_versions(path: &Path) -> Result<Vec<Version>, SaveError> {
    let hist = history_dir(path);
    let dir = match fs::read_dir(&hist) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(format!("reading {}", hist.display()))(e)),
    };
    let mut out: Vec<Version> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| parse_name(&e.file_name().to_string_lossy()))
        .collect();
    out.sort_by(|a, b| b.name.cmp(&a.name));
    Ok(out)
}

/// The text of a kept version.
pub fn read_version(path: &Path, name: &str) -> Result<String, SaveError> {
    if parse_name(name).is_none() {
        return Err(SaveError::NoSuchVersion(name.to_string()));
    }
    let p = history_dir(path).join(name);
    match fs::read(&p) {
        Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Err(SaveError::NoSuchVersion(name.to_string()))
        }
        Err(e) => Err(io_err(format!("reading {}", p.display()))(e)),
    }
}

/// Saves kept version `name` again (a save: checked, new `serial_no`, the
/// version it replaces kept), if the file's `serial_no` is still
/// `expected_serial`.
pub fn restore(path: &Path, name: &str, expected_serial: i32) -> Result<Saved, SaveError> {
    let text = read_version(path, name)?;
    save(path, &text, expected_serial)
}

/// `YYYYMMDDTHHMMSS.NNNNNNNNNZ-serial-N.cf` → its version.
fn parse_name(name: &str) -> Option<Version> {
    let (stamp, rest) = name.split_once("Z-serial-")?;
    let serial: i32 = rest.strip_suffix(".cf")?.parse().ok()?;
    let b = stamp.as_bytes();
    if b.len() != 25 || b[8] != b'T' || b[15] != b'.' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = &stamp[r];
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (digits(0..4)?, digits(4..6)?, digits(6..8)?);
    let (h, mi, s, ns) = (
        digits(9..11)?,
        digits(11..13)?,
        digits(13..15)?,
        digits(16..25)?,
    );
    let days = days_from_civil(y, mo, d);
    let secs = days * 86400 + h * 3600 + mi * 60 + s;
    Some(Version {
        name: name.to_string(),
        serial,
        replaced: UNIX_EPOCH
            + std::time::Duration::new(u64::try_from(secs).ok()?, u32::try_from(ns).ok()?),
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn stamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (y, m, day) = civil_from_days(secs.div_euclid(86400));
    let r = secs.rem_euclid(86400);
    format!(
        "{y:04}{m:02}{day:02}T{:02}{:02}{:02}.{:09}",
        r / 3600,
        r / 60 % 60,
        r % 60,
        d.subsec_nanos()
    )
}

fn lock_history(path: &Path, hist: &Path) -> Result<File, SaveError> {
    let file_meta = fs::metadata(path).ok();
    let mode = history_mode(file_meta.as_ref().map_or(0o644, |m| m.mode()));
    match fs::create_dir(hist) {
        Ok(()) => {
            fs::set_permissions(hist, fs::Permissions::from_mode(mode))
                .map_err(io_err(format!("chmod {}", hist.display())))?;
            if let Some(m) = &file_meta {
                std::os::unix::fs::chown(hist, Some(m.uid()), Some(m.gid()))
                    .map_err(io_err(format!("chown {}", hist.display())))?;
            }
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            // a directory made before (0700 by older versions) follows the
            // file's read bits too; best effort: a reader that may not
            // chmod it still saves
            if let Ok(m) = fs::symlink_metadata(hist)
                && m.is_dir()
                && m.mode() & 0o7777 != mode
            {
                let _ = fs::set_permissions(hist, fs::Permissions::from_mode(mode));
            }
        }
        Err(e) => return Err(io_err(format!("creating {}", hist.display()))(e)),
    }
    let d = File::open(hist).map_err(io_err(format!("opening {}", hist.display())))?;
    d.lock()
        .map_err(io_err(format!("locking {}", hist.display())))?;
    Ok(d)
}

/// The history directory's mode for a file of mode `file_mode`: the
/// owner's `rwx`, and `r-x` for group and others who may read the file
/// (lvs.cf 0644: 0755; 0640: 0750; 0600: 0700).
pub fn history_mode(file_mode: u32) -> u32 {
    let mut mode = 0o700;
    if file_mode & 0o040 != 0 {
        mode |= 0o050;
    }
    if file_mode & 0o004 != 0 {
        mode |= 0o005;
    }
    mode
}

fn keep_version(
    hist: &Path,
    text: &str,
    serial: i32,
    meta: Option<&fs::Metadata>,
) -> Result<Version, SaveError> {
    let mut now = SystemTime::now();
    // Names must sort in the order of saves, also when the clock steps
    // back or two saves fall in one tick.
    if let Some(newest) = list_versions_in(hist)?.first()
        && now <= newest.replaced
    {
        now = newest.replaced + std::time::Duration::from_nanos(1);
    }
    let name = format!("{}Z-serial-{serial}.cf", stamp(now));
    write_atomically(&hist.join(&name), text.as_bytes(), meta)?;
    Ok(parse_name(&name).expect("a name we made parses"))
}

fn list_versions_in(hist: &Path) -> Result<Vec<Version>, SaveError> {
    let mut out: Vec<Version> = fs::read_dir(hist)
        .map_err(io_err(format!("reading {}", hist.display())))?
        .filter_map(|e| e.ok())
        .filter_map(|e| parse_name(&e.file_name().to_string_lossy()))
        .collect();
    out.sort_by(|a, b| b.name.cmp(&a.name));
    Ok(out)
}

fn prune(hist: &Path) -> Result<(), SaveError> {
    for v in list_versions_in(hist)?.iter().skip(KEEP) {
        let p = hist.join(&v.name);
        fs::remove_file(&p).map_err(io_err(format!("removing {}", p.display())))?;
    }
    Ok(())
}

/// Replaces `path` with `bytes`: a temporary file in the same directory
/// with the old file's mode, owner and group (`like`; else mode 0644),
/// written and fsynced, renamed over `path`, then the directory fsynced.
pub fn write_atomically(
    path: &Path,
    bytes: &[u8],
    like: Option<&fs::Metadata>,
) -> Result<(), SaveError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mode = like.map_or(0o644, |m| m.mode() & 0o7777);
    let mut n = 0u32;
    let (tmp, mut f) = loop {
        let tmp = dir.join(format!(".{base}.tmp.{}.{n}", std::process::id()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 100 => n += 1,
            Err(e) => return Err(io_err(format!("creating {}", tmp.display()))(e)),
        }
    };
    let result = (|| {
        let what = |s: &str| format!("{s} {}", tmp.display());
        f.write_all(bytes).map_err(io_err(what("writing")))?;
        if let Some(m) = like {
            let own = f.metadata().map_err(io_err(what("stat")))?;
            if own.uid() != m.uid() || own.gid() != m.gid() {
                std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()))
                    .map_err(io_err(what("keeping the owner of")))?;
            }
        }
        f.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(io_err(what("chmod")))?;
        f.sync_all().map_err(io_err(what("fsync")))?;
        fs::rename(&tmp, path).map_err(io_err(format!(
            "renaming {} to {}",
            tmp.display(),
            path.display()
        )))?;
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(format!("fsync {}", dir.display())))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# pair\nserial_no = 4\nservice = lvs\nprimary = 10.0.0.1\n\n\
                        virtual www {\n    active = 1\n    address = 192.0.2.1 eth0:1\n}\n";

    fn setup() -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("lvs.cf");
        fs::write(&p, TEXT).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        (d, p)
    }

    #[test]
    fn save_bumps_the_serial_keeps_mode_and_history() {
        let (_d, p) = setup();
        let new = TEXT.replace("active = 1", "active = 1\n    port = 8080");
        let s = save(&p, &new, 4).unwrap();
        assert_eq!(s.serial, 5);
        assert_eq!(s.text, new.replace("serial_no = 4", "serial_no = 5"));
        assert_eq!(fs::read_to_string(&p).unwrap(), s.text);
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o640);
        let h = fs::metadata(history_dir(&p)).unwrap();
        assert_eq!(h.mode() & 0o7777, 0o750, "readable like the file");
        let v = list_versions(&p).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].serial, 4);
        assert_eq!(read_version(&p, &v[0].name).unwrap(), TEXT);
        let age = SystemTime::now().duration_since(v[0].replaced).unwrap();
        assert!(age.as_secs() < 60, "{age:?}");
        let dir = fs::read_dir(p.parent().unwrap()).unwrap().count();
        assert_eq!(dir, 2, "no temporary file left");
    }

    #[test]
    fn an_older_serial_is_refused_with_the_current_text() {
        let (_d, p) = setup();
        save(&p, TEXT, 4).unwrap();
        match save(&p, TEXT, 4) {
            Err(SaveError::Conflict {
                current_serial,
                current,
                ..
            }) => {
                assert_eq!(current_serial, 5);
                assert!(current.contains("serial_no = 5"));
                let d = crate::unified_diff(&current, TEXT, "now", "yours");
                assert!(d.contains("-serial_no = 5\n+serial_no = 4\n"), "{d}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_invalid_text_is_refused_and_the_file_unchanged() {
        let (_d, p) = setup();
        let bad = TEXT.replace("192.0.2.1", "10.1.2.300");
        match save(&p, &bad, 4) {
            Err(SaveError::Invalid(p)) => assert_eq!(p[0].key.as_deref(), Some("address")),
            other => panic!("{other:?}"),
        }
        assert_eq!(fs::read_to_string(&p).unwrap(), TEXT);
        assert!(list_versions(&p).unwrap().is_empty());
    }

    #[test]
    fn history_keeps_twenty_and_restore_is_a_save() {
        let (_d, p) = setup();
        let mut serial = 4;
        for _ in 0..25 {
            let t = fs::read_to_string(&p).unwrap();
            serial = save(&p, &t, serial).unwrap().serial;
        }
        assert_eq!(serial, 29);
        let v = list_versions(&p).unwrap();
        assert_eq!(v.len(), KEEP);
        assert_eq!(v[0].serial, 28);
        assert_eq!(v[KEEP - 1].serial, 9);
        assert!(v.windows(2).all(|w| w[0].replaced > w[1].replaced));
        let oldest = v[KEEP - 1].name.clone();
        let r = restore(&p, &oldest, 29).unwrap();
        assert_eq!(r.serial, 30);
        assert_eq!(list_versions(&p).unwrap()[0].serial, 29);
        assert!(matches!(
            restore(&p, "nope", 30),
            Err(SaveError::NoSuchVersion(_))
        ));
        assert!(matches!(
            restore(&p, "../lvs.cf", 30),
            Err(SaveError::NoSuchVersion(_))
        ));
    }

    #[test]
    fn names_and_dates_round_trip() {
        let t = UNIX_EPOCH + std::time::Duration::new(1_796_467_230, 5);
        let n = format!("{}Z-serial-7.cf", stamp(t));
        assert_eq!(n, "20261205T104030.000000005Z-serial-7.cf");
        let v = parse_name(&n).unwrap();
        assert_eq!((v.serial, v.replaced), (7, t));
        assert!(parse_name("20261205T104030.000000005Z-serial-x.cf").is_none());
        assert_eq!(serial_of("service = lvs\n"), Some(0));
        assert_eq!(serial_of("serial_no = x\n"), None);
    }
}
