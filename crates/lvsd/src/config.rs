//! Reading lvs.cf once: the same bytes are parsed and fingerprinted
//! (SHA-256 and `serial_no`, [`lvscf::Fingerprint`]), so that `--status`
//! names exactly the file lvsd runs, even when it changes while being read.

use std::io::Read as _;

use lvscf::{ConfigError, ErrorCode, Fingerprint, LoadError, Parsed};

/// A configuration file that loaded.
#[derive(Debug)]
pub struct Loaded {
    /// What it says.
    pub parsed: Parsed,
    /// What identifies it.
    pub fingerprint: Fingerprint,
}

impl Loaded {
    /// The `config` of `--status` for this file, read from `file`.
    pub fn status_config(&self, file: &str) -> crate::engine::Config {
        crate::engine::Config {
            file: file.to_string(),
            serial_no: self.fingerprint.serial_no.map(i64::from),
            sha256: self.fingerprint.sha256.clone(),
        }
    }
}

/// Reads and parses `file`, with the errors of [`lvscf::parse_file`]: a
/// file that does not open is [`LoadError::Open`]; an empty one `Empty
/// configuration` and one that cannot be read `I/O error while reading
/// configuration`, both on line 0.
pub fn read(file: &str) -> Result<Loaded, LoadError> {
    let mut f = std::fs::File::open(file).map_err(|source| LoadError::Open {
        file: file.to_string(),
        source,
    })?;
    let read_error = |e: std::io::Error| ConfigError {
        file: file.to_string(),
        line: 0,
        code: ErrorCode::Read,
        key: None,
        detail: format!("expected a readable file, found a read error: {e}"),
    };
    let size = f.metadata().map_err(read_error)?.len();
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    if size > 0 {
        f.read_to_end(&mut bytes).map_err(read_error)?;
        if (bytes.len() as u64) < size {
            return Err(read_error(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("read {} of {size} bytes", bytes.len()),
            ))
            .into());
        }
    }
    let parsed = lvscf::parse_bytes(&bytes, file)?;
    let fingerprint = Fingerprint::of_parsed(&bytes, &parsed.config);
    Ok(Loaded {
        parsed,
        fingerprint,
    })
}

/// [`read`] for start-up, reporting a file that does not load as
/// [`lvscf::load_for_daemon`] does (`lvs: failed to open FILE`, or the
/// whole error to syslog and `lvs: error parsing FILE on line N.`, on
/// stderr); `None` then, and lvsd exits with status 1.
pub fn load_for_daemon(file: &str) -> Option<Loaded> {
    match read(file) {
        Ok(l) => Some(l),
        Err(LoadError::Open { .. }) => {
            eprintln!("lvs: failed to open {file}");
            None
        }
        Err(LoadError::Parse(e)) => {
            lvs_util::log::syslog_info(&e.to_string());
            eprintln!("lvs: error parsing {file} on line {}.", e.line());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_of_the_bytes_parsed_and_the_errors_of_parse_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lvs.cf");
        let file = path.to_str().unwrap();
        let text = "serial_no = 42\nvirtual www {\n  active = 0\n}\n";
        std::fs::write(&path, text).unwrap();
        let l = read(file).unwrap();
        assert_eq!(l.parsed.config.virtuals[0].name, "www");
        assert_eq!(l.fingerprint.sha256, lvscf::sha256_hex(text.as_bytes()));
        assert_eq!(l.fingerprint.serial_no, Some(42));
        let c = l.status_config(file);
        assert_eq!(
            (c.file.as_str(), c.serial_no, c.sha256.len()),
            (file, Some(42), 64)
        );

        // the same errors as lvscf::parse_file
        for (text, what) in [
            ("", "empty"),
            ("serial_no = 1\nvirtual a {\n  port = x80\n}\n", "bad"),
        ] {
            std::fs::write(&path, text).unwrap();
            let (ours, theirs) = (
                read(file).unwrap_err(),
                lvscf::parse_file(file).unwrap_err(),
            );
            assert_eq!(ours.to_string(), theirs.to_string(), "{what}");
        }
        let missing = dir.path().join("missing.cf");
        let e = read(missing.to_str().unwrap()).unwrap_err();
        assert!(matches!(e, LoadError::Open { .. }), "{e}");
        // a directory opens but does not read
        let e = read(dir.path().to_str().unwrap()).unwrap_err();
        let theirs = lvscf::parse_file(dir.path()).unwrap_err();
        assert_eq!(e.to_string(), theirs.to_string());
    }
}
