//! The configuration lvsd runs, as `--status` names it: lvs.cf is read once
//! ([`lvscf::load_file`]) and the same bytes parsed and fingerprinted, so the
//! SHA-256 and `serial_no` shown are those of the file in force, even when
//! it changes while being read.

use lvscf::Loaded;

/// The `config` of `--status` for `loaded`, read from `file`.
pub fn status_config(loaded: &Loaded, file: &str) -> crate::engine::Config {
    crate::engine::Config {
        file: file.to_string(),
        serial_no: loaded.fingerprint.serial_no.map(i64::from),
        sha256: loaded.fingerprint.sha256.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_of_the_bytes_parsed_and_the_errors_of_parse_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lvs.cf");
        let file = path.to_str().unwrap();
        let text = "serial_no = 42\nvirtual www {\n  active = 0\n}\n";
        std::fs::write(&path, text).unwrap();
        let l = lvscf::load_file(file).unwrap();
        assert_eq!(l.parsed.config.virtuals[0].name, "www");
        assert_eq!(l.fingerprint.sha256, lvscf::sha256_hex(text.as_bytes()));
        assert_eq!(l.fingerprint.serial_no, Some(42));
        let c = status_config(&l, file);
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
                lvscf::load_file(file).unwrap_err(),
                lvscf::parse_file(file).unwrap_err(),
            );
            assert_eq!(ours.to_string(), theirs.to_string(), "{what}");
        }
        let missing = dir.path().join("missing.cf");
        let e = lvscf::load_file(missing.to_str().unwrap()).unwrap_err();
        assert!(matches!(e, lvscf::LoadError::Open { .. }), "{e}");
        // a directory opens but does not read
        let e = lvscf::load_file(dir.path()).unwrap_err();
        let theirs = lvscf::parse_file(dir.path()).unwrap_err();
        assert_eq!(e.to_string(), theirs.to_string());
    }
}
