//! `cargo xtask vm -- CMD...`: runs CMD as root inside a throw-away QEMU VM
//! that boots Debian's stock kernel (which has `ip_vs`), with the workspace
//! shared over 9p at the same absolute path.
//!
//! * Host packages (qemu, busybox-static, ipvsadm, ...) are installed with
//!   apt when missing and we are root.
//! * The kernel .deb is downloaded (not installed) and unpacked once into the
//!   cache (`$LVS_VM_CACHE`, else `$XDG_CACHE_HOME/piranha-rs/vm`, else
//!   `~/.cache/piranha-rs/vm`), keyed on package and version. The ELF
//!   `vmlinux` is extracted from the bzImage so QEMU boots it through PVH.
//! * A busybox initramfs with the IPVS modules, iproute2, ipvsadm, bash and
//!   the glibc runtime is built once per content hash and cached too.
//! * The guest command's stdout and stderr come back on two serial ports,
//!   live; the exit status comes back through the control share.
//!
//! Environment: `LVS_VM_ACCEL` (`tcg`, the default, or `kvm`), `LVS_VM_MEM`
//! (MiB, 1024), `LVS_VM_SMP` (2), `LVS_VM_TIMEOUT` (s, 1800),
//! `LVS_VM_VERBOSE=1` (copy the guest console to stderr),
//! `LVS_VM_KERNEL_PKG` (pin the kernel package), `LVS_VM_NO_APT=1`.
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
        let _ = Command::new("apt-get")
            .args(["update", "-qq"])
            .stdout(Stdio::null())
            .status();
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

/// The Debian kernel package to boot (what `linux-image-amd64` depends on).
fn kernel_package() -> Option<String> {
    if let Ok(p) = std::env::var("LVS_VM_KERNEL_PKG") {
        return Some(p);
    }
    let o = Command::new("apt-cache")
        .args(["depends", "linux-image-amd64"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&o.stdout).lines().find_map(|l| {
        let dep = l.trim().strip_prefix("Depends: ")?;
        (dep.starts_with("linux-image-") && dep.as_bytes().get(12).is_some_and(u8::is_ascii_digit))
            .then(|| dep.to_string())
    })
}

/// A kernel unpacked in the cache.
struct Kernel {
    /// `<cache>/<pkg>_<version>_amd64`.
    dir: PathBuf,
    /// e.g. `6.1.0-56-amd64`.
    version: String,
    /// The ELF vmlinux, or the bzImage if extraction failed.
    image: PathBuf,
}

fn cached_kernel(cache: &Path, pkg: Option<&str>) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(cache)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(".done").exists())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            match (pkg, name) {
                (Some(pkg), Some(n)) => n.starts_with(&format!("{pkg}_")),
                (None, Some(n)) => n.starts_with("linux-image-"),
                _ => false,
            }
        })
        .collect();
    dirs.sort();
    dirs.pop()
}

fn kernel(cache: &Path) -> Result<Kernel, BootError> {
    let mut pkg = kernel_package();
    if pkg.is_none() && apt_allowed() {
        let _ = Command::new("apt-get")
            .args(["update", "-qq"])
            .stdout(Stdio::null())
            .status();
        pkg = kernel_package();
    }
    let dir = match cached_kernel(cache, pkg.as_deref()) {
        Some(d) => d,
        None => {
            let Some(pkg) = pkg else {
                return fail("cannot tell which kernel package to use (apt-get update needed?)");
            };
            unpack_kernel(cache, &pkg)?
        }
    };
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let pkg = name.split('_').next().unwrap_or_default();
    let version = pkg.trim_start_matches("linux-image-").to_string();
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

fn unpack_kernel(cache: &Path, pkg: &str) -> Result<PathBuf, BootError> {
    if !apt_allowed() {
        return fail(format!(
            "kernel {pkg} is not in {} and apt is not usable",
            cache.display()
        ));
    }
    let dl = cache.join(format!("download.{}", std::process::id()));
    let _ = fs::remove_dir_all(&dl);
    fs::create_dir_all(&dl).map_err(|e| BootError(format!("{}: {e}", dl.display())))?;
    log(&format!("downloading {pkg}"));
    let download = || {
        Command::new("apt-get")
            .args(["download", "-qq", pkg])
            .current_dir(&dl)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if !with_apt_update(download) {
        let _ = fs::remove_dir_all(&dl);
        return fail(format!("apt-get download {pkg} failed"));
    }
    let deb = fs::read_dir(&dl)
        .ok()
        .and_then(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.extension().is_some_and(|x| x == "deb"))
        })
        .ok_or_else(|| BootError("apt-get download left no .deb".into()))?;
    let stem = deb
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = cache.join(&stem);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| BootError(format!("{}: {e}", dir.display())))?;
    output(
        Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(dir.join("root")),
    )?;
    let _ = fs::remove_dir_all(&dl);
    let version = pkg.trim_start_matches("linux-image-");
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
    key = fnv(k.version.as_bytes(), key);
    for b in BINARIES
        .iter()
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
    w(
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )?;
    w("etc/group", "root:x:0:\nnogroup:x:65534:\n")?;
    w("etc/hosts", "127.0.0.1 localhost\n::1 localhost\n")?;

    // Userland: real binaries first, busybox applets for the rest. /bin/sh is
    // dash: Debian's busybox sh prefers its own (limited) `ip` applet.
    for b in BINARIES {
        copy_with_libs(&st, b, b)?;
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
    // A plain read/write loop, not io::copy: its splice fast path loses
    // output when stdout and stderr share one file (`> log 2>&1`).
    let pump = |path: PathBuf, to_stdout: bool| {
        std::thread::spawn(move || {
            let Ok(mut f) = fs::File::open(&path) else {
                return;
            };
            let mut buf = [0u8; 8192];
            while let Ok(n) = f.read(&mut buf) {
                if n == 0 {
                    break;
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
    let t_out = pump(fifo_out.clone(), true);
    let t_err = pump(fifo_err.clone(), false);

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
    };
    match run_job(&job) {
        Ok(rc) => ExitCode::from(u8::try_from(rc).unwrap_or(1)),
        Err(BootError(e)) => {
            eprintln!("xtask vm: {e}");
            ExitCode::from(BOOT_FAILED as u8)
        }
    }
}
