//! What identifies a configuration's content across the two routers: the
//! SHA-256 of the file's bytes and its `serial_no`. pulse and lvsd report
//! them on their status sockets, so that a monitor can tell when the two
//! routers' files differ.

use sha2::{Digest as _, Sha256};

/// The identity of one version of an lvs.cf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// SHA-256 of the file's bytes, 64 lowercase hex digits.
    pub sha256: String,
    /// Its `serial_no` (0 when the file does not set it); `None` when the
    /// file does not parse.
    pub serial_no: Option<i32>,
}

/// A configuration file that loaded, with the identity of the bytes parsed.
#[derive(Debug)]
pub struct Loaded {
    /// What it says.
    pub parsed: crate::Parsed,
    /// What identifies it.
    pub fingerprint: Fingerprint,
}

/// SHA-256 of `bytes` as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Fingerprint {
    /// The fingerprint of file contents; `file` names it for the parser.
    /// Parsing uses the system resolver (a host name is looked up): call
    /// it off any latency-sensitive thread.
    pub fn of_bytes(bytes: &[u8], file: &str) -> Fingerprint {
        Fingerprint {
            sha256: sha256_hex(bytes),
            serial_no: crate::parse_bytes(bytes, file)
                .ok()
                .map(|p| p.config.global.serial_no),
        }
    }

    /// The fingerprint of a parsed configuration read from `bytes`.
    pub fn of_parsed(bytes: &[u8], config: &crate::Config) -> Fingerprint {
        Fingerprint {
            sha256: sha256_hex(bytes),
            serial_no: Some(config.global.serial_no),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest_and_serial() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let f = Fingerprint::of_bytes(b"serial_no = 42\n", "x");
        assert_eq!(f.serial_no, Some(42));
        assert_eq!(f.sha256, sha256_hex(b"serial_no = 42\n"));
        assert_eq!(
            Fingerprint::of_bytes(b"serial_no = 1\nbogus_key = 1\n", "x").serial_no,
            None
        );
        assert_eq!(Fingerprint::of_bytes(b"\n", "x").serial_no, Some(0));
    }
}
