//! man/piranha-exporter.8 renders with groff without a warning, has the
//! sections the other pages have, and names every long option that
//! `piranha-exporter --help` lists.

use std::path::PathBuf;
use std::process::Command;

fn page() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../man/piranha-exporter.8")
}

#[test]
fn page_renders_without_warnings() {
    let groff = Command::new("groff").arg("--version").output();
    if !groff.is_ok_and(|o| o.status.success()) {
        lvs_tests::skip(
            "page_renders_without_warnings",
            "needs groff (Debian package groff-base, see .ci/install-deps)",
        );
        return;
    }
    let out = Command::new("groff")
        .args(["-b", "-ww", "-man", "-Tutf8", "-P", "-cbou"])
        .arg(page())
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap();
    assert!(out.status.success());
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(warnings.is_empty(), "groff says:\n{warnings}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("PIRANHA-EXPORTER(8)"));
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "WEB CONFIGURATION",
        "SECURITY",
        "METRICS",
        "EXIT STATUS",
        "FILES",
        "DIFFERENCES FROM PIRANHA",
        "SEE ALSO",
    ] {
        assert!(text.lines().any(|l| l == section), "no {section} section");
    }
}

#[test]
fn page_names_every_long_option() {
    let help = Command::new(env!("CARGO_BIN_EXE_piranha-exporter"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let source = std::fs::read_to_string(page()).unwrap().replace("\\-", "-");
    let mut n = 0;
    for word in help.split_whitespace() {
        let Some(name) = word.strip_prefix("--") else {
            continue;
        };
        let name: String = name
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        n += 1;
        assert!(
            source.contains(&format!("--{name}")),
            "--{name} is not in the page"
        );
    }
    assert!(n >= 8, "{help}");
}
