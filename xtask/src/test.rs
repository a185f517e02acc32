//! `cargo xtask test`: the test tiers.
//!
//! Test targets are sorted into tiers by name:
//! * `netns_*`: need root and network namespaces (run natively);
//! * `vm_*`: need kernel IPVS (run inside the QEMU VM, followed there by
//!   the demo);
//! * `dist_*`: check the .deb and .rpm of `cargo xtask dist` (the `dist`
//!   tier builds them, and a cached minimal Debian to install into);
//! * everything else (unit tests, CLI tests, doc tests): the `unit` tier.
//!
//! Tests that cannot run record a skip in `$LVS_SKIP_FILE`; the summary lists
//! them, and under `CI=true` they fail instead (see `lvs_tests::require`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use crate::vm;
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
        if !["netns_", "vm_", "dist_"]
            .iter()
            .any(|p| name.starts_with(p))
        {
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

/// The test target names starting with `prefix`.
fn named<'a>(targets: &'a [(String, String)], prefix: &str) -> Vec<&'a String> {
    targets
        .iter()
        .map(|(_, n)| n)
        .filter(|n| n.starts_with(prefix))
        .collect()
}

fn tier_netns(targets: &[(String, String)], skip_file: &std::path::Path) -> Outcome {
    let names = named(targets, "netns_");
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

/// The cargo target directory of the workspace.
fn target_dir() -> PathBuf {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(workspace_root())
        .output();
    out.ok()
        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
        .and_then(|m| m["target_directory"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Builds with `cargo <args> --message-format=json` and returns the
/// executables of the artifacts `keep` accepts (by target name and kind).
fn build_executables(
    args: &[&str],
    keep: impl Fn(&str, &str) -> bool,
) -> Result<Vec<PathBuf>, String> {
    println!("\n==> cargo {} --message-format=json", args.join(" "));
    let out = Command::new(env!("CARGO"))
        .args(args)
        .arg("--message-format=json")
        .current_dir(workspace_root())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cargo: {e}"))?;
    if !out.status.success() {
        return Err("build failed".into());
    }
    let mut exes = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["reason"] != "compiler-artifact" {
            continue;
        }
        let name = v["target"]["name"].as_str().unwrap_or_default();
        let kind = v["target"]["kind"][0].as_str().unwrap_or_default();
        if let Some(exe) = v["executable"].as_str()
            && keep(name, kind)
        {
            exes.push(PathBuf::from(exe));
        }
    }
    Ok(exes)
}

/// The VM's shares: the workspace, plus the target directory when it lies
/// outside it.
pub(crate) fn vm_shares() -> Vec<PathBuf> {
    let mut shares = vm::default_shares();
    let td = target_dir();
    if !shares.iter().any(|s| td.starts_with(s)) {
        shares.push(td);
    }
    shares
}

/// Records a skip line the way `lvs_tests::skip` does.
fn record_skip(skip_file: &Path, line: &str) {
    use std::io::Write as _;
    eprintln!("{line}");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(skip_file)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// Seconds one VM test binary may run before the guest dumps every
/// process and kills it (the longest takes about 60 s under TCG).
const VM_BINARY_LIMIT: u64 = 420;
/// Seconds the whole VM tier may take.
const VM_TIER_LIMIT: u64 = 1500;

/// Shell functions for the guest script. `guarded CMD...` runs CMD; if it
/// outlives `$limit` seconds, it prints each process (pid, parent, state,
/// kernel wait channel, command line), the kernel stack of each thread of
/// CMD (Rust names test threads after their test) and of each process in
/// uninterruptible sleep, and the kernel log's tail, then kills CMD and its
/// children and returns 124. `run_test CMD...` runs CMD guarded and, after
/// a hang, once more, naming it in `$hung` (the host reports it).
const VM_WATCHDOG: &str = r#"stacks() {
  for t in /proc/$1/task/*; do
    echo "  thread $1/${t##*/} $(cat "$t/comm" 2>/dev/null):"
    sed 's/^/    /' "$t/stack" 2>/dev/null
  done
}
dump() {
  top=$1
  for d in /proc/[0-9]*; do
    [ -r "$d/stat" ] || continue
    cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)
    [ -n "$cmd" ] || continue
    set -- $(cat "$d/stat" 2>/dev/null)
    echo "  pid $1 ppid $4 state $3 wchan $(cat "$d/wchan" 2>/dev/null) : $cmd"
    [ "$3" = D ] && stacks "$1"
  done
  stacks "$top"
  echo "  kernel log:"
  dmesg 2>/dev/null | tail -n 40 | sed 's/^/    /'
}
guarded() {
  "$@" &
  pid=$!
  ( sleep "$limit"
    echo "==> TIMED OUT after ${limit}s: $1; processes:"
    dump "$pid"
    : >/tmp/guard-fired
    pkill -9 -P "$pid" 2>/dev/null
    kill -9 "$pid" ) &
  dog=$!
  wait "$pid"
  rc=$?
  [ -e /tmp/guard-fired ] && rc=124 && rm -f /tmp/guard-fired
  pkill -P "$dog" 2>/dev/null
  kill "$dog" 2>/dev/null
  return $rc
}
run_test() {
  guarded "$@"
  rc=$?
  [ $rc -eq 124 ] || return $rc
  echo "$1" >>"$hung"
  echo "==> RERUN after the hang: $1"
  guarded "$@"
}
"#;

/// The VM tier: builds the `vm_*` test binaries and the programs, boots one
/// VM and runs the binaries, then the demo, inside it.
fn tier_vm(targets: &[(String, String)], skip_file: &Path) -> Outcome {
    let names = named(targets, "vm_");
    if names.is_empty() {
        return Outcome {
            tier: "vm",
            ok: true,
            detail: "no vm_* test targets yet".into(),
        };
    }
    let mut args = vec!["test", "--workspace", "--no-run"];
    for n in &names {
        args.extend(["--test", n.as_str()]);
    }
    let exes = match build_executables(&args, |name, kind| {
        kind == "test" && name.starts_with("vm_")
    }) {
        Ok(e) => e,
        Err(e) => {
            return Outcome {
                tier: "vm",
                ok: false,
                detail: e,
            };
        }
    };
    let dir = target_dir().join("vm-tier");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    // The README's demo runs last in the same boot (`demo --here`), so CI
    // keeps the first command working. It runs a copy of this xtask (the
    // workspace build may have replaced the file we run from) in `deps/`
    // beside it, where `lvs_tests::bin` finds the programs.
    let demo = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("deps/xtask-vm-demo")))
        .unwrap_or_else(|| target_dir().join("debug/deps/xtask-vm-demo"));
    if !crate::demo::build() {
        return Outcome {
            tier: "vm",
            ok: false,
            detail: "building the programs for the demo failed".into(),
        };
    }
    if let Err(e) = std::fs::copy("/proc/self/exe", &demo) {
        return Outcome {
            tier: "vm",
            ok: false,
            detail: format!("{}: {e}", demo.display()),
        };
    }
    let guest_skips = dir.join("skips");
    let hung = dir.join("hung");
    let mut script = format!(
        "fail=0\nlimit={VM_BINARY_LIMIT}\nhung='{}'\n{VM_WATCHDOG}",
        hung.display()
    );
    for exe in &exes {
        let e = exe.to_string_lossy();
        script.push_str(&format!(
            "echo; echo \"==> {e}\"; run_test '{e}' --color never || fail=1\n"
        ));
    }
    script.push_str(&format!(
        "echo; echo '==> cargo xtask demo (demo --here)'; run_test '{}' demo --here || fail=1\n",
        demo.display()
    ));
    script.push_str("exit $fail\n");
    let script_path = dir.join("run.sh");
    if let Err(e) = std::fs::write(&script_path, script) {
        return Outcome {
            tier: "vm",
            ok: false,
            detail: format!("{}: {e}", script_path.display()),
        };
    }
    println!("\n==> {} test binaries in one VM", exes.len());
    let shares = vm_shares();
    let job = vm::Job {
        shares,
        cwd: workspace_root(),
        argv: vec!["sh".into(), script_path.to_string_lossy().into_owned()],
        env: vec![(
            "LVS_SKIP_FILE".into(),
            guest_skips.to_string_lossy().into_owned(),
        )],
        timeout: Duration::from_secs(VM_TIER_LIMIT),
    };
    let result = vm::run_job(&job);
    if let Ok(s) = std::fs::read_to_string(&guest_skips) {
        for l in s.lines() {
            record_skip(skip_file, l);
        }
    }
    // Binaries the guest's watchdog killed once (and ran again).
    let hung: Vec<String> = std::fs::read_to_string(&hung)
        .unwrap_or_default()
        .lines()
        .map(|l| l.rsplit('/').next().unwrap_or(l).to_string())
        .collect();
    let hung = if hung.is_empty() {
        String::new()
    } else {
        format!(
            "; HUNG and rerun (see the TIMED OUT dump above): {}",
            hung.join(", ")
        )
    };
    match result {
        Ok(0) => Outcome {
            tier: "vm",
            ok: true,
            detail: format!("{} targets and the demo in one VM{hung}", exes.len()),
        },
        Ok(rc) => Outcome {
            tier: "vm",
            ok: false,
            detail: format!("guest exit status {rc}{hung}"),
        },
        Err(vm::BootError(e)) => {
            let line = format!(
                "SKIPPED vm tier ({} targets): the VM could not run: {e}",
                exes.len()
            );
            if lvs_in_ci() {
                Outcome {
                    tier: "vm",
                    ok: false,
                    detail: format!("{line} (fails under CI=true)"),
                }
            } else {
                record_skip(skip_file, &line);
                Outcome {
                    tier: "vm",
                    ok: true,
                    detail: "SKIPPED: the VM could not run (see below)".into(),
                }
            }
        }
    }
}

/// The dist tier: builds the packages (release build, cargo-deb,
/// cargo-generate-rpm) and a cached minimal Debian, then runs the `dist_*`
/// test targets with `LVS_DIST_DEB`, `LVS_DIST_RPM` and `LVS_DIST_ROOTFS`
/// (or `LVS_DIST_ROOTFS_ERROR`: why there is none; the tests then skip).
fn tier_dist(targets: &[(String, String)], skip_file: &Path) -> Outcome {
    let names = named(targets, "dist_");
    if names.is_empty() {
        return Outcome {
            tier: "dist",
            ok: true,
            detail: "no dist_* test targets yet".into(),
        };
    }
    let packages = match crate::dist::build() {
        Ok(p) => p,
        Err(e) => {
            return Outcome {
                tier: "dist",
                ok: false,
                detail: format!("building the packages failed: {e}"),
            };
        }
    };
    let rootfs = crate::dist::rootfs();
    let mut args = vec!["test".to_string(), "--workspace".into()];
    for n in &names {
        args.extend(["--test".into(), n.to_string()]);
    }
    println!("\n==> cargo {}", args.join(" "));
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(&args)
        .current_dir(workspace_root())
        .env("LVS_SKIP_FILE", skip_file)
        .env("LVS_DIST_DEB", &packages.deb)
        .env("LVS_DIST_RPM", &packages.rpm);
    match &rootfs {
        Ok(dir) => cmd.env("LVS_DIST_ROOTFS", dir),
        Err(e) => cmd.env("LVS_DIST_ROOTFS_ERROR", e),
    };
    let ok = cmd.status().is_ok_and(|s| s.success());
    Outcome {
        tier: "dist",
        ok,
        detail: format!("{} targets on {}", names.len(), packages.deb.display()),
    }
}

/// Same rule as `lvs_tests::in_ci`.
fn lvs_in_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// `cargo xtask bench-ipvs`: builds the benchmark and ipvsadm-rs in release
/// mode and runs the benchmark in the VM.
pub fn bench_ipvs(args: &[String]) -> ExitCode {
    if !args.is_empty() {
        eprintln!(
            "usage: cargo xtask bench-ipvs  (LVS_BENCH_SERVICES, LVS_BENCH_RULES tune the sizes)"
        );
        return ExitCode::from(2);
    }
    let exes = match build_executables(
        &[
            "build",
            "--release",
            "-p",
            "ipvs",
            "--example",
            "ipvs_bench",
            "--bin",
            "ipvsadm-rs",
        ],
        |name, _| name == "ipvs_bench",
    ) {
        Ok(e) if !e.is_empty() => e,
        Ok(_) => {
            eprintln!("xtask bench-ipvs: no benchmark executable built");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("xtask bench-ipvs: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shares = vm_shares();
    let job = vm::Job {
        shares,
        cwd: workspace_root(),
        argv: vec![format!("'{}'", exes[0].to_string_lossy())],
        env: Vec::new(),
        timeout: Duration::from_secs(3600),
    };
    match vm::run_job(&job) {
        Ok(rc) => ExitCode::from(u8::try_from(rc).unwrap_or(1)),
        Err(vm::BootError(e)) => {
            eprintln!("xtask bench-ipvs: the VM could not run: {e}");
            ExitCode::from(vm::BOOT_FAILED as u8)
        }
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
        tiers = vec!["unit".into(), "netns".into(), "vm".into(), "dist".into()];
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

    // Every tier runs other packages' binaries (`lvs_tests::bin`, nannies
    // under lvsd, pulse in the VM), which `cargo test` only builds for the
    // packages whose own tests it runs.
    if !cargo(&["build", "--workspace", "--bins"], &skip_file) {
        println!("test result: FAILED (cargo build --workspace --bins)");
        return ExitCode::FAILURE;
    }
    let mut outcomes = Vec::new();
    for t in &tiers {
        let o = match t.as_str() {
            "unit" => tier_unit(&targets, &skip_file),
            "netns" => tier_netns(&targets, &skip_file),
            "vm" => tier_vm(&targets, &skip_file),
            "dist" => tier_dist(&targets, &skip_file),
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
