//! `etc/piranha-exporter.service` and `etc/sysconfig/piranha-exporter`:
//! the unit runs the exporter as piranha:piranha without any capability in
//! a read-only sandbox that still lets it read /proc/net/ip_vs and connect
//! to the status sockets; `systemd-analyze verify` accepts it without a
//! warning and `systemd-analyze security --offline` rates it 2.0 or better.
//!
//! No systemd runs here as PID 1: both systemd-analyze commands run on a
//! temporary root (`--root`) holding the unit, a stand-in executable at
//! `/usr/sbin/piranha-exporter` and a copy of the host's unit directory
//! (for the targets the unit is ordered against). systemd-analyze is
//! Debian's `systemd` package (.ci/install-deps); without it those tests
//! are skipped, which fails under `CI=true`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn etc() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../etc")
}

fn unit_text() -> String {
    std::fs::read_to_string(etc().join("piranha-exporter.service")).expect("unit")
}

/// `(section, key, value)` of every setting, in order.
fn settings(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for l in text.lines().map(str::trim) {
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if let Some(s) = l.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = s.to_string();
            continue;
        }
        let (k, v) = l
            .split_once('=')
            .unwrap_or_else(|| panic!("not a setting: {l}"));
        out.push((section.clone(), k.trim().into(), v.trim().into()));
    }
    out
}

/// Every value of `section`'s `key`.
fn values(all: &[(String, String, String)], section: &str, key: &str) -> Vec<String> {
    all.iter()
        .filter(|(s, k, _)| s == section && k == key)
        .map(|(_, _, v)| v.clone())
        .collect()
}

#[test]
fn unit_runs_unprivileged_in_a_read_only_sandbox() {
    let all = settings(&unit_text());
    let one = |section: &str, key: &str| {
        let v = values(&all, section, key);
        assert_eq!(v.len(), 1, "[{section}] {key}: {v:?}");
        v[0].clone()
    };
    assert_eq!(
        one("Service", "ExecStart"),
        "/usr/sbin/piranha-exporter $OPTIONS"
    );
    assert_eq!(
        one("Service", "EnvironmentFile"),
        "-/etc/sysconfig/piranha-exporter"
    );
    assert_eq!(one("Service", "User"), "piranha");
    assert_eq!(one("Service", "Group"), "piranha");
    // no capability: empty bounding and ambient sets
    assert_eq!(one("Service", "CapabilityBoundingSet"), "");
    assert_eq!(one("Service", "AmbientCapabilities"), "");
    for (key, want) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectControlGroups", "yes"),
        ("RestrictNamespaces", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
    ] {
        assert_eq!(one("Service", key), want, "{key}");
    }
    // UNIX sockets (pulse, lvsd) and TCP (Prometheus), nothing else
    let mut families: Vec<String> = one("Service", "RestrictAddressFamilies")
        .split_whitespace()
        .map(String::from)
        .collect();
    families.sort();
    assert_eq!(families, ["AF_INET", "AF_INET6", "AF_UNIX"]);
    // nothing that would hide the IPVS table or the status sockets, and
    // nothing writable
    for key in [
        "PrivateNetwork",
        "ProcSubset",
        "InaccessiblePaths",
        "ReadWritePaths",
        "StateDirectory",
        "RuntimeDirectory",
        "NetworkNamespacePath",
    ] {
        assert!(values(&all, "Service", key).is_empty(), "{key} is set");
    }
    // started after pulse (its socket), not bound to it: with pulse stopped
    // it keeps serving piranha_up{component="pulse"} 0
    let after = values(&all, "Unit", "After").join(" ");
    assert!(
        after.split_whitespace().any(|u| u == "pulse.service"),
        "{after}"
    );
    for key in ["Requires", "BindsTo", "PartOf", "Requisite"] {
        assert!(values(&all, "Unit", key).is_empty(), "{key} is set");
    }
    assert_eq!(one("Install", "WantedBy"), "multi-user.target");
}

#[test]
fn sysconfig_piranha_exporter_sets_options_only() {
    let text =
        std::fs::read_to_string(etc().join("sysconfig/piranha-exporter")).expect("sysconfig");
    let assignments: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(assignments, ["OPTIONS="]);
    // the comments document the options of the exporter's command line
    for opt in [
        "--listen",
        "--pulse-socket",
        "--lvsd-socket",
        "--web-config",
    ] {
        assert!(text.contains(opt), "{opt} not described");
    }
}

fn systemd_analyze_present(test: &str) -> bool {
    lvs_tests::have(test, "systemd-analyze", "systemd")
}

/// A root holding the unit, its EnvironmentFile, a stand-in executable and
/// the host's units (`sysinit.target` and the others the unit's
/// dependencies name).
fn unit_root() -> tempfile::TempDir {
    let root = tempfile::Builder::new()
        .prefix("lo-unit-root.")
        .tempdir()
        .expect("tempdir");
    let p = |rel: &str| root.path().join(rel);
    for d in [
        "usr/sbin",
        "usr/lib/systemd",
        "etc/systemd/system",
        "etc/sysconfig",
    ] {
        std::fs::create_dir_all(p(d)).unwrap();
    }
    let host_units = ["/usr/lib/systemd/system", "/lib/systemd/system"]
        .into_iter()
        .find(|d| Path::new(d).join("sysinit.target").exists())
        .expect("the host's systemd units (sysinit.target)");
    let out = Command::new("cp")
        .args(["-a", host_units])
        .arg(p("usr/lib/systemd/system"))
        .output()
        .expect("cp");
    assert!(out.status.success(), "cp: {:?}", out);
    std::fs::copy(
        etc().join("piranha-exporter.service"),
        p("etc/systemd/system/piranha-exporter.service"),
    )
    .unwrap();
    std::fs::copy(
        etc().join("sysconfig/piranha-exporter"),
        p("etc/sysconfig/piranha-exporter"),
    )
    .unwrap();
    let exe = p("usr/sbin/piranha-exporter");
    std::fs::write(&exe, "#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    root
}

fn analyze(root: &Path, args: &[&str]) -> Output {
    Command::new("systemd-analyze")
        .arg(format!("--root={}", root.display()))
        .args(args)
        .env("SYSTEMD_LOG_COLOR", "0")
        .env("SYSTEMD_PAGER", "")
        .output()
        .expect("run systemd-analyze")
}

#[test]
fn systemd_analyze_verify_accepts_the_unit() {
    let test = "systemd_analyze_verify_accepts_the_unit";
    if !systemd_analyze_present(test) {
        return;
    }
    let root = unit_root();
    let out = analyze(
        root.path(),
        &["--man=no", "verify", "piranha-exporter.service"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stderr}", out.status);
    // unknown keys and bad values are only warnings: there must be none
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("piranha-exporter"))
        .collect();
    assert!(ours.is_empty(), "systemd-analyze verify:\n{stderr}");

    // and it does notice a mistake in this set-up
    let unit = root
        .path()
        .join("etc/systemd/system/piranha-exporter.service");
    let bad = unit_text().replace("ProtectSystem=strict", "ProtectSystem=bogus");
    std::fs::write(&unit, bad).unwrap();
    let out = analyze(
        root.path(),
        &["--man=no", "verify", "piranha-exporter.service"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bogus"), "no complaint: {stderr}");
}

#[test]
fn systemd_analyze_security_rates_the_unit_ok() {
    let test = "systemd_analyze_security_rates_the_unit_ok";
    if !systemd_analyze_present(test) {
        return;
    }
    let root = unit_root();
    // exposure on systemd's 0..10 scale, threshold in tenths
    let out = analyze(
        root.path(),
        &[
            "--offline=true",
            "--threshold=20",
            "--no-pager",
            "security",
            "piranha-exporter.service",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exposure above 2.0:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Overall exposure level"), "{stdout}");
}
