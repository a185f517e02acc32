//! `cargo xtask vm -- CMD...`: runs CMD as root inside a throw-away QEMU VM
//! that boots Debian's stock kernel (which has `ip_vs`), with the workspace
//! shared over 9p at the same absolute path.
//!
//! * Host packages (qemu, busybox-static, ipvsadm, ...) are installed with
//!   apt when missing and we are root.
//! * The kernel is pinned ([`KERNEL_PIN`]: a Debian package and its exact
//!   version; the comment there says how to move it). Its .deb is
//!   downloaded (not installed) and unpacked once into the cache
//!   (`$LVS_VM_CACHE`, else `$XDG_CACHE_HOME/piranha-rs/vm`, else
//!   `~/.cache/piranha-rs/vm`), keyed on package and version. The ELF
//!   `vmlinux` is extracted from the bzImage so QEMU boots it through PVH.
//!   Every run prints the kernel it boots.
//! * A busybox initramfs with the IPVS modules, iproute2, ipvsadm, bash and
//!   the glibc runtime is built once per content hash and cached too.
//! * The guest command's stdout and stderr come back on two serial ports,
//!   live; the exit status comes back through the control share.
//!
//! Environment: `LVS_VM_ACCEL` (`tcg`, the default, or `kvm`), `LVS_VM_MEM`
//! (MiB, 1024), `LVS_VM_SMP` (2), `LVS_VM_TIMEOUT` (s, 1800),
//! `LVS_VM_VERBOSE=1` (copy the guest console to stderr),
//! `LVS_VM_KERNEL` (`latest`: the newest kernel apt offers instead of the
//! pinned one; `PACKAGE=VERSION`: that one), `LVS_VM_NO_APT=1`.
//! Exit status: the command's; 124 on timeout; 125 if the VM could not run.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// Exit status when the VM itself could not run.
pub const BOOT_FAILED: i32 = 125;
/// Exit status when the VM ran out of time.
pub const TIMED_OUT: i32 = 124;

/// Host packages the VM needs (also listed in `.ci/install-deps`).
pub const HOST_PACKAGES: &[&str] = &[
    "qemu-system-x86",
    "busybox-static",
    "ipvsadm",
    "iproute2",
    "cpio",
    "kmod",
    "xz-utils",
    "dash",
    "bash",
];

/// Kernel modules loaded at boot (dependencies are added automatically).
const MODULES: &[&str] = &[
    "nf_conntrack",
    "ip_vs",
    "ip_vs_rr",
    "ip_vs_wrr",
    "ip_vs_lc",
    "ip_vs_wlc",
    "ip_vs_lblc",
    "ip_vs_lblcr",
    "ip_vs_dh",
    "ip_vs_sh",
    "ip_vs_sed",
    "ip_vs_nq",
    "ip_vs_fo",
    "ip_vs_ovf",
    "ip_vs_mh",
    "ip_vs_twos",
    "ip_vs_pe_sip",
    "veth",
    "bridge",
    "dummy",
    "macvlan",
    "virtio_pci",
    "9pnet_virtio",
    "9p",
];

/// Host executables packed into the guest, with their shared libraries.
const BINARIES: &[&str] = &["/usr/sbin/ipvsadm", "/usr/bin/ip", "/usr/bin/bash"];

/// Host executables packed like [`BINARIES`] when the host has them: the
/// baselines some VM tests compare against (keepalived: `vm_failover_compare`)
/// and the routing daemons of the scale-out tests (FRR on the upstream
/// router, BIRD on the directors: `lvs_tests::bgp`). A test that needs one
/// and cannot find it in the guest fails under CI.
const OPTIONAL_BINARIES: &[&str] = &[
    "/usr/sbin/keepalived",
    "/usr/lib/frr/zebra",
    "/usr/lib/frr/bgpd",
    "/usr/lib/frr/bfdd",
    "/usr/bin/vtysh",
    "/usr/sbin/bird",
];

/// The guest's users.
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                      nobody:x:65534:65534:nobody:/:/bin/false\n\
                      frr:x:100:101:FRR:/tmp:/bin/false\n";

/// The guest's groups: FRR's daemons run as frr, which must be in its vty
/// group.
const GROUP: &str = "root:x:0:\nnogroup:x:65534:\nfrr:x:101:\nfrrvty:x:102:frr\n";

/// glibc runtime for host-built Rust test binaries.
const LIBS: &[&str] = &[
    "libc.so.6",
    "libm.so.6",
    "libgcc_s.so.1",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "libutil.so.1",
];

/// The guest's PID 1 (run by dash). ttyS0 = console, ttyS1 = command stdout,
/// ttyS2 = command stderr; `/run/lvsvm` is the control share.
const INIT: &str = r#"#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp; mount -t tmpfs tmpfs /run; mkdir -p /run/netns
ln -sf /proc/self/fd /dev/fd
KVER=$(cat /etc/lvsvm/kver)
while read -r m; do
    insmod "/lib/modules/$KVER/$m" 2>/dev/null || echo "lvsvm: insmod $m failed"
done < /etc/lvsvm/modules
O=trans=virtio,version=9p2000.L,msize=262144
mkdir -p /run/lvsvm
mount -t 9p -o $O lvsctl /run/lvsvm || { echo "lvsvm: cannot mount the control share"; poweroff -f; }
fail() { echo "lvsvm: $*"; echo 125 > /run/lvsvm/rc; echo "LVSVM-EXIT rc=125"; poweroff -f; }
share() { mkdir -p "$2" && mount -t 9p -o $O,cache=none "$1" "$2" || fail "cannot mount $2"; }
. /run/lvsvm/config
ip link set lo up
stty -F /dev/ttyS1 raw -echo; stty -F /dev/ttyS2 raw -echo
echo "LVSVM-READY uptime=$(cut -d' ' -f1 /proc/uptime)"
cd "$LVSVM_CWD" || fail "no directory $LVSVM_CWD"
/bin/sh /run/lvsvm/cmd.sh </dev/null >/dev/ttyS1 2>/dev/ttyS2
rc=$?
echo "$rc" > /run/lvsvm/rc
sync
echo "LVSVM-EXIT rc=$rc uptime=$(cut -d' ' -f1 /proc/uptime)"
poweroff -f
"#;

/// Environment variables passed from the host to the guest command.
const PASS_ENV: &[&str] = &[
    "CI",
    "RUST_BACKTRACE",
    "RUST_LOG",
    "RUST_TEST_THREADS",
    "LVS_SKIP_FILE",
    "LVS_BENCH_SERVICES",
    "LVS_BENCH_RULES",
];

/// Why the VM could not run.
#[derive(Debug)]
pub struct BootError(pub String);

fn fail<T>(msg: impl Into<String>) -> Result<T, BootError> {
    Err(BootError(msg.into()))
}

fn log(msg: &str) {
    eprintln!("xtask vm: {msg}");
}

/// Runs `cmd`, returning its stdout; an error names the command.
fn output(cmd: &mut Command) -> Result<String, BootError> {
    let o = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| BootError(format!("{cmd:?}: {e}")))?;
    if !o.status.success() {
        return fail(format!(
            "{cmd:?} failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn apt_allowed() -> bool {
    std::env::var("LVS_VM_NO_APT").as_deref() != Ok("1") && is_root()
}

fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

/// Runs `f`; if it fails, runs `apt-get update` and tries once more.
fn with_apt_update(f: impl Fn() -> bool) -> bool {
    f() || {
        apt_update();
        f()
    }
}

/// Installs missing host packages (root only).
fn ensure_packages() -> Result<(), BootError> {
    let missing: Vec<&str> = HOST_PACKAGES
        .iter()
        .copied()
        .filter(|p| !installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !apt_allowed() {
        return fail(format!(
            "missing host packages {} (run .ci/install-deps as root)",
            missing.join(" ")
        ));
    }
    log(&format!("installing {}", missing.join(" ")));
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if !with_apt_update(install) {
        return fail(format!("apt-get install {} failed", missing.join(" ")));
    }
    Ok(())
}

/// The cache directory.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("LVS_VM_CACHE") {
        return PathBuf::from(d);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| crate::workspace_root().join("target"));
    base.join("piranha-rs").join("vm")
}

/// An exclusive lock on the cache while it is being filled.
struct CacheLock {
    _file: fs::File,
}

impl CacheLock {
    fn take(dir: &Path) -> Result<CacheLock, BootError> {
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(".lock"))
            .map_err(|e| BootError(format!("cache lock: {e}")))?;
        use std::os::fd::AsRawFd;
        // SAFETY: flock on an open file descriptor.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return fail(format!("cache lock: {}", io::Error::last_os_error()));
        }
        Ok(CacheLock { _file: f })
    }
}

/// The kernel the VM boots: one Debian package at one exact version, so
/// that every run tests against the same kernel. It is downloaded once
/// (`apt-get download PACKAGE=VERSION`, about 70 MB) and unpacked into the
/// cache (about 450 MB), where it stays until removed.
///
/// To move it forward: `apt-get update`; `apt-cache depends
/// linux-image-amd64` names the newest package and `apt-cache policy
/// PACKAGE` its version (`Candidate:`). Try it first with
/// `LVS_VM_KERNEL=PACKAGE=VERSION cargo xtask test --tier vm` (or
/// `LVS_VM_KERNEL=latest`, which resolves the same two commands), then put
/// both here. The old kernel's directory can then be removed from the cache.
pub const KERNEL_PIN: (&str, &str) = ("linux-image-6.1.0-57-amd64", "6.1.192-3");

/// The meta-package whose dependency is Debian's newest kernel.
const KERNEL_META: &str = "linux-image-amd64";

/// Start of the message of a pinned kernel that is neither cached nor
/// offered by apt (see [`BootError::is_stale_pin`]).
const STALE_PIN: &str = "the pinned VM kernel";

impl BootError {
    /// The pinned kernel is gone from apt and not cached: the pin must move
    /// (the project's fault, not this machine's).
    pub fn is_stale_pin(&self) -> bool {
        self.0.starts_with(STALE_PIN)
    }
}

/// A Debian kernel package at an exact version.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KernelPkg {
    package: String,
    version: String,
}

impl KernelPkg {
    fn new(package: &str, version: &str) -> KernelPkg {
        KernelPkg {
            package: package.into(),
            version: version.into(),
        }
    }

    /// The kernel release (`uname -r`), e.g. `6.1.0-57-amd64`.
    fn release(&self) -> &str {
        self.package
            .strip_prefix("linux-image-")
            .unwrap_or(&self.package)
    }

    /// The cache directory name: the .deb's file stem as `apt-get
    /// download` writes it (an epoch's `:` is `%3a`).
    fn cache_name(&self) -> String {
        format!(
            "{}_{}_amd64",
            self.package,
            self.version.replace(':', "%3a")
        )
    }
}

/// Which kernel `$LVS_VM_KERNEL` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KernelChoice {
    /// Unset, empty or `pinned`: [`KERNEL_PIN`].
    Pinned,
    /// `latest`: what `linux-image-amd64` depends on today.
    Latest,
    /// `PACKAGE=VERSION`.
    Exact(KernelPkg),
}

fn kernel_choice(var: Option<&str>) -> Result<KernelChoice, String> {
    match var.map(str::trim) {
        None | Some("") | Some("pinned") => Ok(KernelChoice::Pinned),
        Some("latest") => Ok(KernelChoice::Latest),
        Some(v) => match v.split_once('=') {
            Some((p, ver)) if p.starts_with("linux-image-") && !ver.is_empty() => {
                Ok(KernelChoice::Exact(KernelPkg::new(p, ver)))
            }
            _ => Err(format!(
                "LVS_VM_KERNEL={v}: expected `latest`, `pinned` or PACKAGE=VERSION \
                 (e.g. {}={})",
                KERNEL_PIN.0, KERNEL_PIN.1
            )),
        },
    }
}

/// The versioned kernel package in `apt-cache depends linux-image-amd64`.
fn newest_from_depends(depends: &str) -> Option<String> {
    depends.lines().find_map(|l| {
        let dep = l.trim().strip_prefix("Depends: ")?;
        let dep = dep.split_whitespace().next()?;
        dep.strip_prefix("linux-image-")?
            .starts_with(|c: char| c.is_ascii_digit())
            .then(|| dep.to_string())
    })
}

/// The `Candidate:` version in `apt-cache policy PACKAGE`.
fn candidate_from_policy(policy: &str) -> Option<String> {
    policy.lines().find_map(|l| {
        let v = l.trim().strip_prefix("Candidate: ")?.trim();
        (!v.is_empty() && v != "(none)").then(|| v.to_string())
    })
}

/// The versions of `package` in `apt-cache madison PACKAGE`
/// (`PACKAGE | VERSION | SOURCE` lines).
fn offered_versions(madison: &str, package: &str) -> Vec<String> {
    let mut versions: Vec<String> = madison
        .lines()
        .filter_map(|l| {
            let mut f = l.split('|').map(str::trim);
            (f.next()? == package).then(|| f.next().map(String::from))?
        })
        .collect();
    versions.dedup();
    versions
}

/// The unpacked kernel `k` in `cache`, if it is complete. Never another
/// version: a pin is exact.
fn cached_kernel(cache: &Path, k: &KernelPkg) -> Option<PathBuf> {
    let dir = cache.join(k.cache_name());
    dir.join(".done").exists().then_some(dir)
}

/// The other kernels unpacked in `cache` (names), e.g. left by an old pin.
fn other_cached_kernels(cache: &Path, k: &KernelPkg) -> Vec<String> {
    let keep = k.cache_name();
    let mut names: Vec<String> = fs::read_dir(cache)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(".done").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("linux-image-") && *n != keep)
        .collect();
    names.sort();
    names
}

/// Why a kernel cannot be had: `k` is not cached and apt offers only
/// `offered` of its package.
fn not_offered_message(k: &KernelPkg, pinned: bool, offered: &[String], cache: &Path) -> String {
    let offers = if offered.is_empty() {
        "no version of it".to_string()
    } else {
        format!("only {}", offered.join(", "))
    };
    let what = if pinned { STALE_PIN } else { "the VM kernel" };
    let mut msg = format!(
        "{what} {} {} is not in the cache ({}) and apt offers {offers} (after apt-get update). ",
        k.package,
        k.version,
        cache.display()
    );
    if pinned {
        msg.push_str(
            "Move the pin: KERNEL_PIN in xtask/src/vm.rs; `apt-cache depends linux-image-amd64` \
             names the newest package and `apt-cache policy PACKAGE` its version. \
             LVS_VM_KERNEL=latest runs on the newest kernel without moving the pin.",
        );
    } else {
        msg.push_str("Choose one apt offers, or unset LVS_VM_KERNEL to use the pinned kernel.");
    }
    msg
}

/// `apt-cache ARGS` in the C locale; its stdout (empty if it failed).
fn apt_cache(args: &[&str]) -> String {
    Command::new("apt-cache")
        .args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn apt_update() {
    let _ = Command::new("apt-get")
        .args(["update", "-qq"])
        .stdout(Stdio::null())
        .status();
}

/// The newest kernel apt offers (`LVS_VM_KERNEL=latest`).
fn latest_kernel() -> Result<KernelPkg, BootError> {
    if apt_allowed() {
        apt_update();
    }
    let Some(package) = newest_from_depends(&apt_cache(&["depends", KERNEL_META])) else {
        return fail(format!(
            "LVS_VM_KERNEL=latest: `apt-cache depends {KERNEL_META}` names no kernel \
             (run apt-get update as root)"
        ));
    };
    let Some(version) = candidate_from_policy(&apt_cache(&["policy", &package])) else {
        return fail(format!(
            "LVS_VM_KERNEL=latest: `apt-cache policy {package}` gives no candidate version"
        ));
    };
    Ok(KernelPkg { package, version })
}

/// A kernel unpacked in the cache.
struct Kernel {
    /// `<cache>/<pkg>_<version>_amd64`.
    dir: PathBuf,
    /// e.g. `6.1.0-57-amd64`.
    version: String,
    /// The ELF vmlinux, or the bzImage if extraction failed.
    image: PathBuf,
}

/// The kernel `$LVS_VM_KERNEL` asks for (by default [`KERNEL_PIN`]), from
/// the cache or downloaded into it.
fn kernel(cache: &Path) -> Result<Kernel, BootError> {
    let choice =
        kernel_choice(std::env::var("LVS_VM_KERNEL").ok().as_deref()).map_err(BootError)?;
    let (want, why) = match &choice {
        KernelChoice::Pinned => (
            KernelPkg::new(KERNEL_PIN.0, KERNEL_PIN.1),
            "pinned in xtask/src/vm.rs",
        ),
        KernelChoice::Latest => (latest_kernel()?, "LVS_VM_KERNEL=latest"),
        KernelChoice::Exact(k) => (k.clone(), "LVS_VM_KERNEL"),
    };
    log(&format!(
        "kernel {} ({} {}, {why})",
        want.release(),
        want.package,
        want.version
    ));
    let dir = match cached_kernel(cache, &want) {
        Some(d) => d,
        None => {
            if !apt_allowed() {
                return fail(format!(
                    "kernel {} {} is not in {} and apt is not usable (needs root, \
                     and LVS_VM_NO_APT unset)",
                    want.package,
                    want.version,
                    cache.display()
                ));
            }
            let offered =
                || offered_versions(&apt_cache(&["madison", &want.package]), &want.package);
            let mut versions = offered();
            if !versions.contains(&want.version) {
                apt_update();
                versions = offered();
            }
            if !versions.contains(&want.version)
                && candidate_from_policy(&apt_cache(&["policy", KERNEL_META])).is_none()
            {
                // Not a stale pin: this apt has no Debian kernels at all.
                return fail(format!(
                    "kernel {} {} is not in {} and apt offers no Debian kernel ({KERNEL_META}): \
                     the VM boots a Debian kernel package, so apt needs Debian's archive \
                     (as on Debian 12)",
                    want.package,
                    want.version,
                    cache.display()
                ));
            }
            if !versions.contains(&want.version) {
                return fail(not_offered_message(
                    &want,
                    choice == KernelChoice::Pinned,
                    &versions,
                    cache,
                ));
            }
            unpack_kernel(cache, &want)?
        }
    };
    let others = other_cached_kernels(cache, &want);
    if !others.is_empty() {
        log(&format!(
            "other kernels in {} (remove them to free space): {}",
            cache.display(),
            others.join(", ")
        ));
    }
    let version = want.release().to_string();
    let vmlinux = dir.join("vmlinux");
    let image = if vmlinux.exists() {
        vmlinux
    } else {
        dir.join("root/boot").join(format!("vmlinuz-{version}"))
    };
    Ok(Kernel {
        dir,
        version,
        image,
    })
}

fn unpack_kernel(cache: &Path, k: &KernelPkg) -> Result<PathBuf, BootError> {
    let spec = format!("{}={}", k.package, k.version);
    let dl = cache.join(format!("download.{}", std::process::id()));
    let _ = fs::remove_dir_all(&dl);
    fs::create_dir_all(&dl).map_err(|e| BootError(format!("{}: {e}", dl.display())))?;
    log(&format!("downloading {spec} (about 70 MB, once)"));
    let download = || {
        Command::new("apt-get")
            .args(["download", "-qq", &spec])
            .current_dir(&dl)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if !with_apt_update(download) {
        let _ = fs::remove_dir_all(&dl);
        return fail(format!("apt-get download {spec} failed"));
    }
    let deb = dl.join(format!("{}.deb", k.cache_name()));
    if !deb.exists() {
        let _ = fs::remove_dir_all(&dl);
        return fail(format!(
            "apt-get download {spec} left no {}",
            deb.file_name().unwrap_or_default().to_string_lossy()
        ));
    }
    let dir = cache.join(k.cache_name());
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| BootError(format!("{}: {e}", dir.display())))?;
    output(
        Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(dir.join("root")),
    )?;
    let _ = fs::remove_dir_all(&dl);
    let version = k.release();
    // The .deb has no modules.dep (its postinst makes it).
    output(
        Command::new("depmod")
            .arg("-b")
            .arg(dir.join("root"))
            .arg(version),
    )?;
    let vmlinuz = dir.join("root/boot").join(format!("vmlinuz-{version}"));
    match extract_vmlinux(&vmlinuz, &dir.join("vmlinux")) {
        Ok(()) => {}
        Err(e) => log(&format!(
            "vmlinux extraction failed ({}); booting the bzImage",
            e.0
        )),
    }
    fs::write(dir.join(".done"), b"").map_err(|e| BootError(e.to_string()))?;
    Ok(dir)
}

/// Extracts the uncompressed ELF kernel from an xz bzImage: QEMU boots it
/// through the PVH entry point, which skips the slow in-guest decompression.
fn extract_vmlinux(vmlinuz: &Path, out: &Path) -> Result<(), BootError> {
    let data = fs::read(vmlinuz).map_err(|e| BootError(format!("{}: {e}", vmlinuz.display())))?;
    const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0];
    let Some(off) = data.windows(XZ_MAGIC.len()).position(|w| w == XZ_MAGIC) else {
        return fail("no xz stream in the bzImage");
    };
    let mut child = Command::new("xz")
        .args(["-dc", "--single-stream"])
        .stdin(Stdio::piped())
        .stdout(fs::File::create(out).map_err(|e| BootError(e.to_string()))?)
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| BootError(format!("xz: {e}")))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let payload = data[off..].to_vec();
    let writer = std::thread::spawn(move || {
        // xz stops reading after the first stream: a broken pipe is expected.
        let _ = stdin.write_all(&payload);
    });
    let _ = child.wait();
    let _ = writer.join();
    let mut head = [0u8; 4];
    let ok = fs::File::open(out)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && head == *b"\x7fELF";
    if !ok {
        let _ = fs::remove_file(out);
        return fail("xz did not produce an ELF image");
    }
    Ok(())
}

/// FNV-1a, for cache keys.
fn fnv(data: &[u8], mut h: u64) -> u64 {
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

fn file_identity(path: &Path) -> String {
    match fs::metadata(path) {
        Ok(m) => {
            use std::os::unix::fs::MetadataExt;
            format!("{}:{}:{}", path.display(), m.len(), m.mtime())
        }
        Err(_) => format!("{}:missing", path.display()),
    }
}

fn copy_file(src: &Path, dst: &Path) -> Result<(), BootError> {
    if dst.exists() {
        return Ok(());
    }
    if let Some(p) = dst.parent() {
        fs::create_dir_all(p).map_err(|e| BootError(format!("{}: {e}", p.display())))?;
    }
    fs::copy(src, dst).map_err(|e| BootError(format!("copy {}: {e}", src.display())))?;
    Ok(())
}

/// Copies `bin` to `root/dest` with every library `ldd` lists.
fn copy_with_libs(root: &Path, bin: &str, dest: &str) -> Result<(), BootError> {
    copy_file(Path::new(bin), &root.join(dest.trim_start_matches('/')))?;
    let ldd = Command::new("ldd")
        .arg(bin)
        .output()
        .map_err(|e| BootError(format!("ldd: {e}")))?;
    for word in String::from_utf8_lossy(&ldd.stdout).split_whitespace() {
        if word.starts_with('/') {
            copy_file(Path::new(word), &root.join(word.trim_start_matches('/')))?;
        }
    }
    Ok(())
}

/// Builds (or reuses) the initramfs for `k`.
fn initramfs(k: &Kernel) -> Result<PathBuf, BootError> {
    let moddir = k.dir.join("root/lib/modules").join(&k.version);
    let mut key = fnv(INIT.as_bytes(), 0xcbf2_9ce4_8422_2325);
    key = fnv(MODULES.join(" ").as_bytes(), key);
    key = fnv(PASSWD.as_bytes(), key);
    key = fnv(GROUP.as_bytes(), key);
    key = fnv(k.version.as_bytes(), key);
    for b in BINARIES
        .iter()
        .chain(OPTIONAL_BINARIES)
        .chain(["/bin/busybox", "/usr/bin/dash"].iter())
    {
        key = fnv(file_identity(Path::new(b)).as_bytes(), key);
    }
    for l in LIBS {
        key = fnv(
            file_identity(&Path::new("/lib/x86_64-linux-gnu").join(l)).as_bytes(),
            key,
        );
    }
    let out = k.dir.join(format!("initramfs-{key:016x}.cpio.gz"));
    if out.exists() {
        return Ok(out);
    }
    log("building initramfs");
    // drop stale images
    if let Ok(d) = fs::read_dir(&k.dir) {
        for e in d.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("initramfs-") {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    let st = k.dir.join(format!("staging.{}", std::process::id()));
    let _ = fs::remove_dir_all(&st);
    let mk = |p: &str| fs::create_dir_all(st.join(p)).map_err(|e| BootError(e.to_string()));
    for d in [
        "bin",
        "sbin",
        "etc/lvsvm",
        "proc",
        "sys",
        "dev",
        "run",
        "tmp",
        "root",
        "mnt",
        "var",
        "lib/x86_64-linux-gnu",
        "lib64",
        "usr/bin",
        "usr/sbin",
    ] {
        mk(d)?;
    }
    symlink("../run", st.join("var/run")).map_err(|e| BootError(e.to_string()))?;

    // Kernel modules in dependency order, resolved on the host.
    let mut order: Vec<String> = Vec::new();
    for m in MODULES {
        // Modules this kernel lacks (e.g. ip_vs_twos before 6.7) are skipped.
        let Ok(deps) = output(
            Command::new("modprobe")
                .arg("-d")
                .arg(k.dir.join("root"))
                .args(["-S", &k.version, "--show-depends", m]),
        ) else {
            log(&format!("kernel {} has no module {m}", k.version));
            continue;
        };
        for line in deps.lines() {
            let mut w = line.split_whitespace();
            if w.next() == Some("insmod")
                && let Some(ko) = w.next()
                && !order.iter().any(|o| o == ko)
            {
                order.push(ko.to_string());
            }
        }
    }
    let mut list = String::new();
    for ko in &order {
        let rel = Path::new(ko)
            .strip_prefix(&moddir)
            .map_err(|_| BootError(format!("module {ko} outside {}", moddir.display())))?;
        copy_file(
            Path::new(ko),
            &st.join("lib/modules").join(&k.version).join(rel),
        )?;
        list.push_str(&format!("{}\n", rel.display()));
    }
    for f in [
        "modules.order",
        "modules.builtin",
        "modules.builtin.modinfo",
    ] {
        copy_file(
            &moddir.join(f),
            &st.join("lib/modules").join(&k.version).join(f),
        )?;
    }
    output(Command::new("depmod").arg("-b").arg(&st).arg(&k.version))?;
    let w = |p: &str, s: &str| fs::write(st.join(p), s).map_err(|e| BootError(e.to_string()));
    w("etc/lvsvm/modules", &list)?;
    w("etc/lvsvm/kver", &k.version)?;
    w("etc/passwd", PASSWD)?;
    w("etc/group", GROUP)?;
    w("etc/hosts", "127.0.0.1 localhost\n::1 localhost\n")?;

    // Userland: real binaries first, busybox applets for the rest. /bin/sh is
    // dash: Debian's busybox sh prefers its own (limited) `ip` applet.
    for b in BINARIES {
        copy_with_libs(&st, b, b)?;
    }
    for b in OPTIONAL_BINARIES {
        if Path::new(b).exists() {
            copy_with_libs(&st, b, b)?;
        }
    }
    copy_with_libs(&st, "/usr/bin/dash", "/bin/sh")?;
    symlink("/usr/sbin/ipvsadm", st.join("sbin/ipvsadm")).map_err(|e| BootError(e.to_string()))?;
    copy_file(Path::new("/bin/busybox"), &st.join("bin/busybox"))?;
    let applets = output(Command::new("/bin/busybox").arg("--list"))?;
    for a in applets.split_whitespace() {
        let taken = ["bin", "usr/bin", "usr/sbin", "sbin"]
            .iter()
            .any(|d| st.join(d).join(a).exists());
        if !taken {
            symlink("busybox", st.join("bin").join(a)).map_err(|e| BootError(e.to_string()))?;
        }
    }
    for a in ["modprobe", "insmod", "rmmod", "lsmod", "sysctl", "poweroff"] {
        let p = st.join("sbin").join(a);
        if !p.exists() {
            symlink("../bin/busybox", p).map_err(|e| BootError(e.to_string()))?;
        }
    }
    for l in LIBS {
        let src = Path::new("/lib/x86_64-linux-gnu").join(l);
        if src.exists() {
            copy_file(&src, &st.join("lib/x86_64-linux-gnu").join(l))?;
        }
    }
    copy_file(
        Path::new("/lib64/ld-linux-x86-64.so.2"),
        &st.join("lib64/ld-linux-x86-64.so.2"),
    )?;
    w("init", INIT)?;
    fs::set_permissions(st.join("init"), fs::Permissions::from_mode(0o755))
        .map_err(|e| BootError(e.to_string()))?;

    let tmp = out.with_extension("tmp");
    let script =
        "find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0 | gzip -1";
    let status = Command::new("sh")
        .args(["-c", script])
        .current_dir(&st)
        .stdout(fs::File::create(&tmp).map_err(|e| BootError(e.to_string()))?)
        .status()
        .map_err(|e| BootError(format!("cpio: {e}")))?;
    let _ = fs::remove_dir_all(&st);
    if !status.success() {
        return fail("packing the initramfs failed");
    }
    fs::rename(&tmp, &out).map_err(|e| BootError(e.to_string()))?;
    Ok(out)
}

/// POSIX shell single-quoting.
fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// What to run in the VM.
pub struct Job {
    /// Host directories shared at the same path in the guest.
    pub shares: Vec<PathBuf>,
    /// Working directory in the guest.
    pub cwd: PathBuf,
    /// The command (argv; a single element is run as a shell script line).
    pub argv: Vec<String>,
    /// Extra environment for the command.
    pub env: Vec<(String, String)>,
    /// Give up after this long.
    pub timeout: Duration,
    /// Also write the command's stdout to this file (the test tier counts
    /// the test results in it).
    pub stdout_copy: Option<PathBuf>,
}

/// Boots the VM and runs `job`; returns the command's exit status (or
/// [`TIMED_OUT`]), or why the VM could not run.
pub fn run_job(job: &Job) -> Result<i32, BootError> {
    let t0 = Instant::now();
    ensure_packages()?;
    let cache = cache_dir();
    fs::create_dir_all(&cache).map_err(|e| BootError(format!("{}: {e}", cache.display())))?;
    let (k, initrd) = {
        let _lock = CacheLock::take(&cache)?;
        let k = kernel(&cache)?;
        let initrd = initramfs(&k)?;
        (k, initrd)
    };

    let run = TempDir(std::env::temp_dir().join(format!(
        "lvs-vm.{}.{}",
        std::process::id(),
        t0.elapsed().as_nanos()
    )));
    let ctl = run.0.join("ctl");
    fs::create_dir_all(&ctl).map_err(|e| BootError(e.to_string()))?;
    let mut config = String::new();
    for (i, s) in job.shares.iter().enumerate() {
        config.push_str(&format!("share share{i} {}\n", sq(&s.to_string_lossy())));
    }
    config.push_str(&format!("LVSVM_CWD={}\n", sq(&job.cwd.to_string_lossy())));
    fs::write(ctl.join("config"), config).map_err(|e| BootError(e.to_string()))?;
    let mut cmd = String::new();
    for name in PASS_ENV {
        if let Ok(v) = std::env::var(name) {
            cmd.push_str(&format!("export {name}={}\n", sq(&v)));
        }
    }
    for (k, v) in &job.env {
        cmd.push_str(&format!("export {k}={}\n", sq(v)));
    }
    if job.argv.len() == 1 {
        cmd.push_str(&job.argv[0]);
        cmd.push('\n');
    } else {
        cmd.push_str("exec");
        for a in &job.argv {
            cmd.push(' ');
            cmd.push_str(&sq(a));
        }
        cmd.push('\n');
    }
    fs::write(ctl.join("cmd.sh"), cmd).map_err(|e| BootError(e.to_string()))?;

    let fifo_out = run.0.join("out");
    let fifo_err = run.0.join("err");
    for f in [&fifo_out, &fifo_err] {
        let c = std::ffi::CString::new(f.to_string_lossy().as_bytes()).expect("no NUL in path");
        // SAFETY: valid NUL-terminated path.
        if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
            return fail(format!("mkfifo: {}", io::Error::last_os_error()));
        }
    }
    let copy = match &job.stdout_copy {
        Some(p) => {
            Some(fs::File::create(p).map_err(|e| BootError(format!("{}: {e}", p.display())))?)
        }
        None => None,
    };
    // A plain read/write loop, not io::copy: its splice fast path loses
    // output when stdout and stderr share one file (`> log 2>&1`).
    let pump = |path: PathBuf, to_stdout: bool, mut copy: Option<fs::File>| {
        std::thread::spawn(move || {
            let Ok(mut f) = fs::File::open(&path) else {
                return;
            };
            let mut buf = [0u8; 8192];
            while let Ok(n) = f.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Some(c) = copy.as_mut()
                    && c.write_all(&buf[..n]).is_err()
                {
                    copy = None;
                }
                let written = if to_stdout {
                    let mut out = io::stdout().lock();
                    out.write_all(&buf[..n]).and_then(|_| out.flush())
                } else {
                    io::stderr().lock().write_all(&buf[..n])
                };
                if written.is_err() {
                    break;
                }
            }
        })
    };
    let t_out = pump(fifo_out.clone(), true, copy);
    let t_err = pump(fifo_err.clone(), false, None);

    let accel = std::env::var("LVS_VM_ACCEL").unwrap_or_else(|_| "tcg".into());
    let mut q = Command::new("qemu-system-x86_64");
    match accel.as_str() {
        "kvm" => q.args(["-enable-kvm", "-cpu", "host,-arch-capabilities"]),
        _ => q.args(["-accel", "tcg"]),
    };
    let console = run.0.join("console.log");
    let esc = |p: &Path| p.to_string_lossy().replace(',', ",,");
    q.args(["-m", &env_num("LVS_VM_MEM", 1024).to_string()])
        .args(["-smp", &env_num("LVS_VM_SMP", 2).to_string()])
        .args([
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-no-reboot",
        ])
        .arg("-kernel")
        .arg(&k.image)
        .arg("-initrd")
        .arg(&initrd)
        .args(["-append", "console=ttyS0 quiet panic=-1"])
        .arg("-serial")
        .arg(format!("file:{}", esc(&console)))
        .arg("-chardev")
        .arg(format!("file,id=out,path={}", esc(&fifo_out)))
        .args(["-serial", "chardev:out"])
        .arg("-chardev")
        .arg(format!("file,id=err,path={}", esc(&fifo_err)))
        .args(["-serial", "chardev:err"])
        .arg("-virtfs")
        .arg(format!(
            "local,path={},mount_tag=lvsctl,security_model=none,id=lvsctl",
            esc(&ctl)
        ));
    for (i, s) in job.shares.iter().enumerate() {
        q.arg("-virtfs").arg(format!(
            "local,path={},mount_tag=share{i},security_model=none,id=share{i}",
            esc(s)
        ));
    }
    let qlog = run.0.join("qemu.log");
    q.stdin(Stdio::null())
        .stdout(fs::File::create(&qlog).map_err(|e| BootError(e.to_string()))?)
        .stderr(fs::File::create(run.0.join("qemu.err")).map_err(|e| BootError(e.to_string()))?);
    let boot_start = Instant::now();
    let mut child = q
        .spawn()
        .map_err(|e| BootError(format!("qemu-system-x86_64: {e}")))?;
    let deadline = boot_start + job.timeout;
    let mut timed_out = false;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return fail(format!("waiting for qemu: {e}")),
        }
    }
    // If qemu never opened a FIFO, its reader still blocks in open(): a
    // read-write open gives it a writer, and closing that gives it EOF.
    for f in [&fifo_out, &fifo_err] {
        let _ = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(f);
    }
    let _ = t_out.join();
    let _ = t_err.join();
    let console_text = fs::read_to_string(&console)
        .unwrap_or_default()
        .replace('\r', "");
    if std::env::var("LVS_VM_VERBOSE").as_deref() == Ok("1") {
        for l in console_text.lines() {
            eprintln!("[guest] {l}");
        }
    }
    let marks: Vec<&str> = console_text
        .lines()
        .filter_map(|l| l.find("LVSVM-").map(|i| &l[i..]))
        .collect();
    log(&format!(
        "kernel {}, VM wall time {:.2}s; {}",
        k.version,
        boot_start.elapsed().as_secs_f64(),
        marks.join("; ")
    ));
    let tail = || {
        let lines: Vec<&str> = console_text.lines().collect();
        let from = lines.len().saturating_sub(30);
        let qerr = fs::read_to_string(run.0.join("qemu.err")).unwrap_or_default();
        format!(
            "console tail:\n{}\n{}",
            lines[from..].join("\n"),
            qerr.trim()
        )
    };
    if timed_out {
        eprintln!(
            "xtask vm: timed out after {}s; {}",
            job.timeout.as_secs(),
            tail()
        );
        return Ok(TIMED_OUT);
    }
    let rc = fs::read_to_string(ctl.join("rc")).ok();
    match rc.and_then(|r| r.trim().parse::<i32>().ok()) {
        Some(BOOT_FAILED) => fail(format!("the guest could not start the command; {}", tail())),
        Some(rc) if console_text.contains("LVSVM-EXIT") => Ok(rc),
        _ => fail(format!("the guest gave no exit status; {}", tail())),
    }
}

/// The directories to share: the workspace and, when it lies outside it, the
/// cargo target directory.
pub fn default_shares() -> Vec<PathBuf> {
    let root = crate::workspace_root();
    let mut shares = vec![root.clone()];
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        let t = PathBuf::from(t);
        let t = if t.is_absolute() { t } else { root.join(t) };
        if !t.starts_with(&root) {
            let _ = fs::create_dir_all(&t);
            shares.push(t);
        }
    }
    shares
}

/// `cargo xtask vm [--timeout SECS] -- CMD...`
pub fn main(args: &[String]) -> ExitCode {
    let mut it = args.iter();
    let mut timeout = env_num("LVS_VM_TIMEOUT", 1800);
    let mut argv: Vec<String> = Vec::new();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--" => {
                argv.extend(it.by_ref().cloned());
                break;
            }
            "--timeout" => match it.next().and_then(|v| v.parse().ok()) {
                Some(t) => timeout = t,
                None => {
                    eprintln!("xtask vm: --timeout needs a number of seconds");
                    return ExitCode::from(2);
                }
            },
            _ => {
                argv.push(a.clone());
                argv.extend(it.by_ref().cloned());
                break;
            }
        }
    }
    if argv.is_empty() {
        eprintln!("usage: cargo xtask vm [--timeout SECS] -- CMD [ARG...]");
        return ExitCode::from(2);
    }
    let cwd: PathBuf = std::env::current_dir()
        .ok()
        .filter(|d| default_shares().iter().any(|s| d.starts_with(s)))
        .unwrap_or_else(crate::workspace_root);
    let job = Job {
        shares: default_shares(),
        cwd,
        argv,
        env: Vec::new(),
        timeout: Duration::from_secs(timeout),
        stdout_copy: None,
    };
    match run_job(&job) {
        Ok(rc) => ExitCode::from(u8::try_from(rc).unwrap_or(1)),
        Err(BootError(e)) => {
            eprintln!("xtask vm: {e}");
            ExitCode::from(BOOT_FAILED as u8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_choice_from_the_environment() {
        assert_eq!(kernel_choice(None), Ok(KernelChoice::Pinned));
        assert_eq!(kernel_choice(Some("")), Ok(KernelChoice::Pinned));
        assert_eq!(kernel_choice(Some("pinned")), Ok(KernelChoice::Pinned));
        assert_eq!(kernel_choice(Some("latest")), Ok(KernelChoice::Latest));
        assert_eq!(
            kernel_choice(Some("linux-image-6.1.0-56-amd64=6.1.192-2")),
            Ok(KernelChoice::Exact(KernelPkg::new(
                "linux-image-6.1.0-56-amd64",
                "6.1.192-2"
            )))
        );
        for bad in [
            "newest",
            "linux-image-6.1.0-56-amd64",
            "foo=1",
            "linux-image-x=",
        ] {
            let e = kernel_choice(Some(bad)).unwrap_err();
            assert!(e.contains("PACKAGE=VERSION"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_pin_is_one_exact_kernel_package() {
        let k = KernelPkg::new(KERNEL_PIN.0, KERNEL_PIN.1);
        assert!(k.package.starts_with("linux-image-") && k.package.ends_with("-amd64"));
        assert!(k.release().starts_with(|c: char| c.is_ascii_digit()));
        assert!(k.version.starts_with(|c: char| c.is_ascii_digit()));
        assert_eq!(
            KernelPkg::new("linux-image-6.1.0-57-amd64", "6.1.192-3").cache_name(),
            "linux-image-6.1.0-57-amd64_6.1.192-3_amd64"
        );
        assert_eq!(
            KernelPkg::new("linux-image-6.1.0-57-amd64", "6.1.192-3").release(),
            "6.1.0-57-amd64"
        );
        // apt-get download writes an epoch's colon as %3a
        assert_eq!(
            KernelPkg::new("linux-image-x", "1:2-3").cache_name(),
            "linux-image-x_1%3a2-3_amd64"
        );
    }

    #[test]
    fn newest_kernel_from_apt_cache_output() {
        let depends = "linux-image-amd64\n  Depends: linux-image-6.1.0-57-amd64\n";
        assert_eq!(
            newest_from_depends(depends).as_deref(),
            Some("linux-image-6.1.0-57-amd64")
        );
        // a versioned dependency, other dependencies first
        let depends = "linux-image-amd64\n  Depends: initramfs-tools\n  \
                       Depends: linux-image-6.12.9-amd64 (= 6.12.9-1)\n";
        assert_eq!(
            newest_from_depends(depends).as_deref(),
            Some("linux-image-6.12.9-amd64")
        );
        assert_eq!(
            newest_from_depends("linux-image-amd64\n  Depends: linux-image-amd64-signed\n"),
            None
        );
        assert_eq!(newest_from_depends(""), None);

        let policy = "linux-image-6.1.0-57-amd64:\n  Installed: (none)\n  Candidate: 6.1.192-3\n  \
                      Version table:\n     6.1.192-3 500\n";
        assert_eq!(candidate_from_policy(policy).as_deref(), Some("6.1.192-3"));
        assert_eq!(
            candidate_from_policy("x:\n  Installed: (none)\n  Candidate: (none)\n"),
            None
        );
        assert_eq!(candidate_from_policy(""), None);

        let madison = "linux-image-6.1.0-57-amd64 |  6.1.192-3 | http://deb.debian.org/debian-security \
                       bookworm-security/main amd64 Packages\n\
                       linux-image-6.1.0-57-amd64 |  6.1.192-2 | http://deb.debian.org/debian \
                       bookworm/main amd64 Packages\n\
                       linux-signed-amd64 | 6.1.192+3 | http://deb.debian.org/debian-security \
                       bookworm-security/main Sources\n";
        assert_eq!(
            offered_versions(madison, "linux-image-6.1.0-57-amd64"),
            ["6.1.192-3", "6.1.192-2"]
        );
        assert!(offered_versions("", "linux-image-6.1.0-57-amd64").is_empty());
    }

    /// A directory under the system's temporary directory, removed on drop.
    fn scratch(name: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("xtask-vm-test.{name}.{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }

    #[test]
    fn the_cache_gives_exactly_the_pinned_kernel() {
        let cache = scratch("cache");
        let unpacked = |name: &str, done: bool| {
            let d = cache.0.join(name);
            fs::create_dir_all(d.join("root")).unwrap();
            if done {
                fs::write(d.join(".done"), b"").unwrap();
            }
        };
        unpacked("linux-image-6.1.0-56-amd64_6.1.192-2_amd64", true);
        unpacked("linux-image-6.1.0-57-amd64_6.1.192-3_amd64", true);
        unpacked("linux-image-6.1.0-58-amd64_6.1.193-1_amd64", false);
        fs::write(cache.0.join("initramfs-0.cpio.gz"), b"").unwrap();

        let k57 = KernelPkg::new("linux-image-6.1.0-57-amd64", "6.1.192-3");
        assert_eq!(
            cached_kernel(&cache.0, &k57),
            Some(cache.0.join("linux-image-6.1.0-57-amd64_6.1.192-3_amd64"))
        );
        // another version of the same package is not the pin
        let other_version = KernelPkg::new("linux-image-6.1.0-57-amd64", "6.1.192-4");
        assert_eq!(cached_kernel(&cache.0, &other_version), None);
        // an interrupted unpack (no .done) is not a cached kernel
        let k58 = KernelPkg::new("linux-image-6.1.0-58-amd64", "6.1.193-1");
        assert_eq!(cached_kernel(&cache.0, &k58), None);
        // a pin never falls back to another cached kernel
        let k55 = KernelPkg::new("linux-image-6.1.0-55-amd64", "6.1.192-1");
        assert_eq!(cached_kernel(&cache.0, &k55), None);
        assert_eq!(cached_kernel(&cache.0.join("missing"), &k57), None);

        assert_eq!(
            other_cached_kernels(&cache.0, &k57),
            ["linux-image-6.1.0-56-amd64_6.1.192-2_amd64"]
        );
    }

    #[test]
    fn a_stale_pin_says_how_to_move_it() {
        let k = KernelPkg::new(KERNEL_PIN.0, KERNEL_PIN.1);
        let cache = Path::new("/var/cache/x");
        let e = BootError(not_offered_message(&k, true, &["9.9-1".into()], cache));
        assert!(e.is_stale_pin(), "{}", e.0);
        for part in [
            KERNEL_PIN.0,
            KERNEL_PIN.1,
            "/var/cache/x",
            "only 9.9-1",
            "KERNEL_PIN in xtask/src/vm.rs",
            "apt-cache depends linux-image-amd64",
            "apt-cache policy",
            "LVS_VM_KERNEL=latest",
        ] {
            assert!(e.0.contains(part), "no {part:?} in {}", e.0);
        }
        let e = BootError(not_offered_message(&k, true, &[], cache));
        assert!(e.0.contains("apt offers no version of it"), "{}", e.0);
        // a kernel asked for with LVS_VM_KERNEL is the user's choice, not the pin
        let e = BootError(not_offered_message(&k, false, &[], cache));
        assert!(
            !e.is_stale_pin() && e.0.contains("unset LVS_VM_KERNEL"),
            "{}",
            e.0
        );
        assert!(!BootError("cannot mount".into()).is_stale_pin());
    }
}
