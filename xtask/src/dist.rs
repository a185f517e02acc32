//! `cargo xtask dist`: builds the `piranha-rs` .deb (cargo-deb) and .rpm
//! (cargo-generate-rpm) from the packaging metadata in
//! `crates/pulse/Cargo.toml`, into `<target>/dist/`.
//!
//! * The two tools are installed with `cargo install --locked` (pinned
//!   versions) when missing.
//! * The programs packaged are the `target/release/NAME` assets of the .deb
//!   metadata; they are built once, in release mode, before both tools run
//!   with their own build step switched off.
//! * Both packages create the system user and group `piranha` with one
//!   script, `crates/pulse/debian/postinst` (the .deb's postinst, the
//!   .rpm's pre-install script).
//! * [`rootfs`] debootstraps a minimal Debian (the host's release, from the
//!   host's apt mirror) into the cache, for the package install test
//!   (`tests/tests/dist_packages.rs`, run by the `dist` test tier).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use crate::workspace_root;

/// The package carrying the packaging metadata.
const PACKAGE: &str = "pulse";
/// Its directory, for cargo-generate-rpm.
const PACKAGE_DIR: &str = "crates/pulse";
/// (cargo subcommand, crate, pinned version) of the packaging tools.
const TOOLS: [(&str, &str, &str); 2] = [
    ("deb", "cargo-deb", "3.8.0"),
    ("generate-rpm", "cargo-generate-rpm", "0.21.1"),
];

/// The packages built.
#[derive(Debug, Clone)]
pub struct Packages {
    /// The .deb file.
    pub deb: PathBuf,
    /// The .rpm file.
    pub rpm: PathBuf,
}

fn cargo() -> Command {
    let mut c = Command::new(env!("CARGO"));
    c.current_dir(workspace_root());
    c
}

fn run(what: &str, cmd: &mut Command) -> Result<(), String> {
    println!("==> {what}");
    let status = cmd.status().map_err(|e| format!("{what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what}: {status}"))
    }
}

/// `cargo metadata` of the workspace (no dependencies).
fn metadata() -> Result<serde_json::Value, String> {
    let out = cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))
}

/// Names of the programs the .deb packages (`target/release/NAME` assets).
fn programs(meta: &serde_json::Value) -> Result<Vec<String>, String> {
    let pkg = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == PACKAGE)
        .ok_or_else(|| format!("no package {PACKAGE} in the workspace"))?;
    let assets = pkg["metadata"]["deb"]["assets"]
        .as_array()
        .ok_or_else(|| format!("{PACKAGE_DIR}/Cargo.toml has no [package.metadata.deb] assets"))?;
    let names: Vec<String> = assets
        .iter()
        .filter_map(|a| a[0].as_str().or_else(|| a["source"].as_str()))
        .filter_map(|s| s.strip_prefix("target/release/"))
        .map(String::from)
        .collect();
    if names.is_empty() {
        return Err("no target/release/ asset in the .deb metadata".into());
    }
    Ok(names)
}

/// The .rpm's scripts that name a file (`pre_install_script = "debian/postinst"`)
/// must name one that exists: cargo-generate-rpm takes a value that is no
/// file as the script itself, so a moved file would silently become a
/// one-line script.
fn check_rpm_scripts(meta: &serde_json::Value) -> Result<(), String> {
    let pkg = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == PACKAGE)
        .ok_or_else(|| format!("no package {PACKAGE} in the workspace"))?;
    let rpm = &pkg["metadata"]["generate-rpm"];
    for key in [
        "pre_install_script",
        "post_install_script",
        "pre_uninstall_script",
        "post_uninstall_script",
    ] {
        let Some(v) = rpm[key].as_str() else {
            continue;
        };
        if v.contains('\n') {
            continue; // the script itself
        }
        let path = workspace_root().join(PACKAGE_DIR).join(v);
        if !path.is_file() {
            return Err(format!(
                "{PACKAGE_DIR}/Cargo.toml: {key} = {v:?}: no such file {}",
                path.display()
            ));
        }
    }
    Ok(())
}

/// Installs the packaging tools that are missing.
fn ensure_tools() -> Result<(), String> {
    for (sub, krate, version) in TOOLS {
        let present = cargo()
            .args([sub, "--version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !present {
            run(
                &format!("cargo install --locked {krate}@{version}"),
                cargo().args(["install", "--locked", &format!("{krate}@{version}")]),
            )?;
        }
    }
    Ok(())
}

/// Builds both packages into `<target>/dist/`.
pub fn build() -> Result<Packages, String> {
    ensure_tools()?;
    let meta = metadata()?;
    check_rpm_scripts(&meta)?;
    let target = PathBuf::from(
        meta["target_directory"]
            .as_str()
            .ok_or("cargo metadata: no target_directory")?,
    );
    let mut args = vec!["build".to_string(), "--release".into()];
    for p in programs(&meta)? {
        args.extend(["--bin".into(), p]);
    }
    run(&format!("cargo {}", args.join(" ")), cargo().args(&args))?;

    let out = target.join("dist");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    run(
        "cargo deb",
        cargo()
            .args(["deb", "--no-build", "-p", PACKAGE, "-o"])
            .arg(&out),
    )?;
    run(
        "cargo generate-rpm",
        cargo()
            .args(["generate-rpm", "-p", PACKAGE_DIR, "--target-dir"])
            .arg(&target)
            .arg("-o")
            .arg(&out),
    )?;
    Ok(Packages {
        deb: only_file(&out, "deb")?,
        rpm: only_file(&out, "rpm")?,
    })
}

/// The one file in `dir` whose name ends in `.ext`.
fn only_file(dir: &Path, ext: &str) -> Result<PathBuf, String> {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    match &found[..] {
        [one] => Ok(one.clone()),
        _ => Err(format!(
            "expected one .{ext} in {}, found {found:?}",
            dir.display()
        )),
    }
}

/// `/etc/os-release`'s `VERSION_CODENAME` (the Debian release to bootstrap).
fn codename() -> Result<String, String> {
    let text =
        std::fs::read_to_string("/etc/os-release").map_err(|e| format!("os-release: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| "no VERSION_CODENAME in /etc/os-release".into())
}

/// The Debian mirror apt uses (`URIs:` or `deb URI` ending in `/debian`),
/// else deb.debian.org.
fn mirror() -> String {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(d) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = d.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(more);
    }
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let uri = match words.first() {
                Some(&"URIs:") | Some(&"deb") => words.get(1),
                _ => None,
            };
            if let Some(uri) = uri
                && uri.starts_with("http")
                && uri.trim_end_matches('/').ends_with("/debian")
            {
                return uri.to_string();
            }
        }
    }
    "http://deb.debian.org/debian".into()
}

/// A minimal Debian (`debootstrap --variant=minbase`, the host's release)
/// in the cache, made once: `<cache>/debian-CODENAME-minbase`. Needs root,
/// debootstrap and the Debian mirror.
pub fn rootfs() -> Result<PathBuf, String> {
    let cache = crate::vm::cache_dir().with_file_name("dist");
    let codename = codename()?;
    let dir = cache.join(format!("debian-{codename}-minbase"));
    if dir.join("var/lib/dpkg/status").exists() {
        return Ok(dir);
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("debootstrap needs root".into());
    }
    if Command::new("debootstrap")
        .arg("--version")
        .output()
        .is_err()
    {
        return Err("debootstrap is not installed (run .ci/install-deps)".into());
    }
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let tmp = cache.join(format!(
        "debian-{codename}-minbase.tmp{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    let mirror = mirror();
    let result = run(
        &format!(
            "debootstrap --variant=minbase {codename} {} {mirror}",
            tmp.display()
        ),
        Command::new("debootstrap")
            .args(["--variant=minbase", &codename])
            .arg(&tmp)
            .arg(&mirror)
            .stdout(Stdio::null()),
    )
    .and_then(|()| {
        // Keep the image small: the test needs no package lists or archives.
        let _ = std::fs::remove_dir_all(tmp.join("var/cache/apt/archives"));
        std::fs::rename(&tmp, &dir).map_err(|e| format!("{}: {e}", dir.display()))
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    if dir.join("var/lib/dpkg/status").exists() {
        Ok(dir)
    } else {
        result.and(Err(format!("{}: incomplete", dir.display())))
    }
}

/// `cargo xtask dist`.
pub fn main(args: &[String]) -> ExitCode {
    if !args.is_empty() {
        eprintln!("usage: cargo xtask dist  (builds the .deb and the .rpm into <target>/dist/)");
        return ExitCode::from(2);
    }
    match build() {
        Ok(p) => {
            println!("{}\n{}", p.deb.display(), p.rpm.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask dist: {e}");
            ExitCode::FAILURE
        }
    }
}
