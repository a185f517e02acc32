//! Helpers shared by the lvscf integration tests.
#![allow(dead_code)]

use std::net::Ipv4Addr;

use lvscf::{ConfigError, ErrorCode, Parsed, StaticResolver, WarningKind};

/// A resolver with a few fixed names and services and no I/O.
pub fn resolver() -> StaticResolver {
    let mut r = StaticResolver::default();
    r.hosts
        .insert("lb1.example".into(), Ipv4Addr::new(192, 0, 2, 1));
    r.hosts
        .insert("lb2.example".into(), Ipv4Addr::new(192, 0, 2, 2));
    r.hosts
        .insert("rs1.example".into(), Ipv4Addr::new(192, 0, 2, 21));
    r.services.insert("http".into(), 80);
    r.services.insert("smtp".into(), 25);
    r.services.insert("https".into(), 443);
    r
}

/// Parses `text` named `lvs.cf`; panics with the error if it fails.
pub fn parse(text: &str) -> Parsed {
    match lvscf::parse_bytes_with(text.as_bytes(), "lvs.cf", &resolver()) {
        Ok(p) => p,
        Err(e) => panic!("unexpected error: {e}\n--- input ---\n{text}"),
    }
}

/// Parses `text`, expecting an error.
pub fn error(text: &str) -> ConfigError {
    match lvscf::parse_bytes_with(text.as_bytes(), "lvs.cf", &resolver()) {
        Ok(p) => panic!(
            "expected an error, parsed {:#?}\n--- input ---\n{text}",
            p.config
        ),
        Err(e) => e,
    }
}

/// Asserts `text` fails with `code` on `line`.
pub fn assert_error(text: &str, code: ErrorCode, line: usize) -> ConfigError {
    let e = error(text);
    assert_eq!((e.code, e.line), (code, line), "{e}\n--- input ---\n{text}");
    e
}

/// The kinds of the warnings of a parse.
pub fn warning_kinds(p: &Parsed) -> Vec<WarningKind> {
    p.warnings.iter().map(|w| w.kind).collect()
}

/// The file of a fixture in `tests/data`.
pub fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Shorthand for an address.
pub fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// Wraps block lines into `virtual v {` … `}` after a minimal global part.
pub fn in_virtual(lines: &str) -> String {
    format!("service = lvs\nvirtual v {{\n{lines}\n}}\n")
}
