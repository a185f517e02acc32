//! Test support shared by every crate's integration tests.
//!
//! Tests that need something this machine may lack (root, network
//! namespaces, a kernel with IPVS) call [`require`]. When the requirement is
//! missing the test is skipped loudly, and under `CI=true` it fails instead:
//! a test that cannot run never passes quietly.

use std::io::Write as _;

pub mod arpwatch;
pub mod bgp;
pub mod browser;
pub mod child;
pub mod cli;
pub mod cluster;
pub mod keepalived;
pub mod lab;
pub mod ndwatch;
pub mod netns;
pub mod scaleout;

/// True when running under CI (`CI=true`).
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// Records that `test` could not run because of `reason`.
///
/// Under CI this panics. Otherwise it prints a `SKIPPED` line on stderr and
/// appends it to `$LVS_SKIP_FILE` (set by `cargo xtask test`, which lists
/// the skips in its summary).
pub fn skip(test: &str, reason: &str) {
    let line = format!("SKIPPED {test}: {reason}");
    if in_ci() {
        panic!("{line} (a test that cannot run fails under CI=true)");
    }
    eprintln!("{line}");
    if let Ok(path) = std::env::var("LVS_SKIP_FILE")
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        // one write: test processes that append at once never split a line
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
}

/// Whether `program` runs here (`--version`, else `version`, exits 0);
/// if not, records that `test` could not run and why (a failure under CI):
/// `package` names the Debian package that brings it (see `.ci/install-deps`).
pub fn have(test: &str, program: &str, package: &str) -> bool {
    let runs = |arg: &str| {
        std::process::Command::new(program)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let ok = runs("--version") || runs("version");
    if !ok {
        skip(
            test,
            &format!("needs {program} (Debian package {package}, see .ci/install-deps)"),
        );
    }
    ok
}

/// What a test may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Effective uid 0.
    Root,
    /// Root plus `ip netns` (iproute2) to build namespaces.
    Netns,
    /// The kernel's IPVS generic-netlink family (the VM tier).
    Ipvs,
    /// A kernel without IPVS (the development machines' and CI's host), for
    /// tests of what the programs say when it is missing.
    NoIpvs,
}

/// Returns true if `need` is met; otherwise calls [`skip`] and returns false.
/// Use as `if !require(Need::Root, "my_test") { return; }`.
pub fn require(need: Need, test: &str) -> bool {
    match missing(need) {
        None => true,
        Some(reason) => {
            skip(test, &reason);
            false
        }
    }
}

fn missing(need: Need) -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    match need {
        Need::Root if !root => Some("needs root".into()),
        Need::Root => None,
        Need::Netns if !root => Some("needs root for network namespaces".into()),
        Need::Netns => {
            let ok = std::process::Command::new("ip")
                .args(["netns", "list"])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            (!ok).then(|| "needs iproute2 `ip netns`".into())
        }
        Need::Ipvs => {
            let ok = std::path::Path::new("/proc/net/ip_vs").exists();
            (!ok).then(|| "needs a kernel with IPVS (run it through `cargo xtask vm`)".into())
        }
        Need::NoIpvs => {
            let has = std::path::Path::new("/proc/net/ip_vs").exists();
            has.then(|| "needs a kernel without IPVS (this one has it)".into())
        }
    }
}

/// A new single-threaded tokio runtime with I/O and timers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Path of a workspace binary in the same target directory as the running
/// test (`target/<profile>/NAME`). `cargo test --workspace` builds them all.
pub fn bin(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test-binary> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(|d| {
            if d.ends_with("deps") {
                d.parent()
            } else {
                Some(d)
            }
        })
        .expect("test binary has a parent directory");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} not built; run `cargo test --workspace` or `cargo build --workspace` first",
        path.display()
    );
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_detection_matches_euid() {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        assert_eq!(missing(Need::Root).is_none(), root);
    }
}
