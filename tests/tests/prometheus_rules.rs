//! `etc/prometheus/piranha-rules.yml`: `promtool check rules` accepts it,
//! and `promtool test rules etc/prometheus/piranha-rules.test.yml` passes,
//! with, for every alert of the rules file, at least one test case where it
//! fires and one where it must not.
//!
//! promtool is Debian's `prometheus` package (.ci/install-deps); without it
//! the test is skipped, which fails under `CI=true`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../etc/prometheus")
}

/// True when promtool runs; otherwise records the skip.
fn promtool_present(test: &str) -> bool {
    lvs_tests::have(test, "promtool", "prometheus")
}

fn promtool(args: &[&str]) -> Output {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir())
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool {}: {}\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The `- alert: NAME` names of the rules file.
fn alerts() -> BTreeSet<String> {
    let text = std::fs::read_to_string(dir().join("piranha-rules.yml")).expect("rules");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("- alert:"))
        .map(|n| n.trim().to_string())
        .collect()
}

#[test]
fn promtool_check_rules_accepts_the_rules() {
    let test = "promtool_check_rules_accepts_the_rules";
    if !promtool_present(test) {
        return;
    }
    let out = promtool(&["check", "rules", "piranha-rules.yml"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let want = format!("SUCCESS: {} rules found", alerts().len());
    assert!(text.contains(&want), "{text}");
}

#[test]
fn promtool_test_rules_passes() {
    let test = "promtool_test_rules_passes";
    if !promtool_present(test) {
        return;
    }
    let out = promtool(&["test", "rules", "piranha-rules.test.yml"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SUCCESS"), "{text}");
}

/// Every alert of the rules file has a test case where it fires (a
/// non-empty `exp_alerts:` list) and one where it does not
/// (`exp_alerts: []`).
#[test]
fn every_alert_has_firing_and_quiet_cases() {
    let text = std::fs::read_to_string(dir().join("piranha-rules.test.yml")).expect("tests");
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut firing = BTreeSet::new();
    let mut quiet = BTreeSet::new();
    for (i, l) in lines.iter().enumerate() {
        let Some(name) = l.strip_prefix("alertname:") else {
            continue;
        };
        let name = name.trim().to_string();
        match lines.get(i + 1) {
            Some(&"exp_alerts: []") => {
                quiet.insert(name);
            }
            Some(&"exp_alerts:") if lines.get(i + 2).is_some_and(|n| n.starts_with("- ")) => {
                firing.insert(name);
            }
            other => panic!("alertname: {name} followed by {other:?}"),
        }
    }
    let all = alerts();
    assert!(all.len() >= 7, "{all:?}");
    for a in &all {
        assert!(firing.contains(a), "no test case where {a} fires");
        assert!(quiet.contains(a), "no test case where {a} must not fire");
    }
    let unknown: Vec<_> = firing.union(&quiet).filter(|a| !all.contains(*a)).collect();
    assert!(unknown.is_empty(), "tests of unknown alerts: {unknown:?}");
}
