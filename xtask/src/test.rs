//! `cargo xtask test`: the test tiers.
//!
//! Test targets are sorted into tiers by name:
//! * `netns_*`: need root and network namespaces (run natively);
//! * `vm_*`: need kernel IPVS (run inside the QEMU VM);
//! * everything else (unit tests, CLI tests, doc tests): the `unit` tier.
//!
//! Tests that cannot run record a skip in `$LVS_SKIP_FILE`; the summary lists
//! them, and under `CI=true` they fail instead (see `lvs_tests::require`).

use std::process::{Command, ExitCode};

use crate::workspace_root;

/// A tier and the outcome of running it.
struct Outcome {
    tier: &'static str,
    ok: bool,
    detail: String,
}

/// Test targets of the workspace, as (package, target name).
fn test_targets() -> Result<Vec<(String, String)>, String> {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(workspace_root())
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    let mut targets = Vec::new();
    for pkg in meta["packages"].as_array().into_iter().flatten() {
        let pname = pkg["name"].as_str().unwrap_or_default().to_string();
        for t in pkg["targets"].as_array().into_iter().flatten() {
            let is_test = t["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "test"));
            if is_test {
                targets.push((pname.clone(), t["name"].as_str().unwrap_or_default().into()));
            }
        }
    }
    Ok(targets)
}

fn cargo(args: &[&str], skip_file: &std::path::Path) -> bool {
    println!("\n==> cargo {}", args.join(" "));
    Command::new(env!("CARGO"))
        .args(args)
        .current_dir(workspace_root())
        .env("LVS_SKIP_FILE", skip_file)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn tier_unit(targets: &[(String, String)], skip_file: &std::path::Path) -> Outcome {
    let mut args: Vec<String> = ["test", "--workspace", "--lib", "--bins"]
        .map(String::from)
        .to_vec();
    for (_, name) in targets {
        if !name.starts_with("netns_") && !name.starts_with("vm_") {
            args.extend(["--test".into(), name.clone()]);
        }
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut ok = cargo(&argv, skip_file);
    ok &= cargo(&["test", "--workspace", "--doc"], skip_file);
    Outcome {
        tier: "unit",
        ok,
        detail: "unit, CLI and doc tests".into(),
    }
}

fn tier_netns(targets: &[(String, String)], skip_file: &std::path::Path) -> Outcome {
    let names: Vec<&String> = targets
        .iter()
        .map(|(_, n)| n)
        .filter(|n| n.starts_with("netns_"))
        .collect();
    if names.is_empty() {
        return Outcome {
            tier: "netns",
            ok: true,
            detail: "no netns_* test targets yet".into(),
        };
    }
    let mut args = vec!["test", "--workspace"];
    for n in &names {
        args.extend(["--test", n.as_str()]);
    }
    Outcome {
        tier: "netns",
        ok: cargo(&args, skip_file),
        detail: format!("{} targets", names.len()),
    }
}

/// Runs the tiers named in `args` (`--tier NAME`, repeatable; default all).
pub fn run(args: &[String]) -> ExitCode {
    let mut tiers: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--tier" => match it.next() {
                Some(t) => tiers.push(t.clone()),
                None => {
                    eprintln!("xtask test: --tier needs a value");
                    return ExitCode::from(2);
                }
            },
            other => {
                eprintln!("xtask test: unexpected argument {other}");
                return ExitCode::from(2);
            }
        }
    }
    if tiers.is_empty() {
        tiers = vec!["unit".into(), "netns".into()];
    }
    let targets = match test_targets() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("xtask test: {e}");
            return ExitCode::FAILURE;
        }
    };
    let skip_file = std::env::temp_dir().join(format!("lvs-skips-{}", std::process::id()));
    let _ = std::fs::remove_file(&skip_file);

    let mut outcomes = Vec::new();
    for t in &tiers {
        let o = match t.as_str() {
            "unit" => tier_unit(&targets, &skip_file),
            "netns" => tier_netns(&targets, &skip_file),
            other => {
                eprintln!("xtask test: unknown tier {other}");
                return ExitCode::from(2);
            }
        };
        outcomes.push(o);
    }

    let skips = std::fs::read_to_string(&skip_file).unwrap_or_default();
    let _ = std::fs::remove_file(&skip_file);
    println!("\n==> summary");
    let mut all_ok = true;
    for o in &outcomes {
        all_ok &= o.ok;
        let verdict = if o.ok { "ok" } else { "FAILED" };
        println!("  {:<6} {verdict:<7} {}", o.tier, o.detail);
    }
    let skipped: Vec<&str> = skips.lines().collect();
    if !skipped.is_empty() {
        println!("  {} test(s) could not run here:", skipped.len());
        for s in &skipped {
            println!("    {s}");
        }
    }
    if all_ok {
        println!("test result: ok");
        ExitCode::SUCCESS
    } else {
        println!("test result: FAILED");
        ExitCode::FAILURE
    }
}
