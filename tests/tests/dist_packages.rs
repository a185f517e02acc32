//! The packages of `cargo xtask dist` (run by the `dist` tier of `cargo
//! xtask test`, which passes their paths in `LVS_DIST_DEB`/`LVS_DIST_RPM`
//! and a cached minimal Debian in `LVS_DIST_ROOTFS`):
//!
//! * the .deb installs with `dpkg -i` into a fresh Debian over an installed
//!   `piranha` package, takes its place and keeps the admin's lvs.cf; every
//!   program runs, `lvscf check` accepts the example configurations; it
//!   creates the system group and user `piranha` (again and again without
//!   harm), and piranha-exporter run as that user reads a status socket of
//!   group piranha; piranha_gui and piranha-passwd run, the password
//!   directory is 0750 root:piranha and piranha-passwd gives the password
//!   file to piranha;
//! * the .rpm holds the same files, declares that it replaces piranha, and
//!   `rpm -U` over an installed piranha .rpm obsoletes it and keeps lvs.cf;
//!   its pre-install script creates the same user and group.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The programs at Piranha's paths (plus our tools), and what `--version`
/// prints first.
const PROGRAMS: [(&str, &str); 8] = [
    ("pulse", "Program Version:\tpulse 1.56"),
    ("lvsd", "Program Version:\tlvs 1.38"),
    ("nanny", "Program Version:\tnanny 1.46"),
    ("fos", "Program Version:\tfos 1.13"),
    ("send_arp", "Program Version:\tsend_arp"),
    ("lvscf", "Program Version:\tlvscf"),
    ("ipvsadm-rs", "ipvsadm-rs "),
    ("piranha-exporter", "piranha-exporter "),
];

/// Files both packages must install (the man pages without `.gz`).
const REQUIRED: [&str; 41] = [
    "/usr/sbin/pulse",
    "/usr/sbin/lvsd",
    "/usr/sbin/nanny",
    "/usr/sbin/fos",
    "/usr/sbin/send_arp",
    "/usr/sbin/lvscf",
    "/usr/sbin/ipvsadm-rs",
    "/usr/sbin/piranha-exporter",
    "/usr/lib/systemd/system/pulse.service",
    "/usr/lib/systemd/system/piranha-exporter.service",
    "/etc/sysconfig/pulse",
    "/etc/sysconfig/piranha-exporter",
    "/usr/share/piranha-rs/prometheus/piranha-rules.yml",
    "/usr/share/piranha-rs/grafana/piranha.json",
    "/etc/sysconfig/ha/lvs.cf",
    "/usr/share/doc/piranha-rs/examples/lvs.cf.nat",
    "/usr/share/doc/piranha-rs/examples/lvs.cf.dr-fwmark",
    "/usr/share/doc/piranha-rs/examples/lvs.cf.demo",
    "/usr/share/doc/piranha-rs/examples/lvs.cf.ipv6",
    "/usr/share/doc/piranha-rs/examples/lvs.cf.scale-out",
    "/usr/share/doc/piranha-rs/examples/scale-out/bird.conf",
    "/usr/share/doc/piranha-rs/examples/scale-out/frr-upstream.conf",
    "/usr/share/doc/piranha-rs/status.md",
    "/usr/share/man/man8/pulse.8",
    "/usr/share/man/man8/lvsd.8",
    "/usr/share/man/man8/nanny.8",
    "/usr/share/man/man8/fos.8",
    "/usr/share/man/man8/send_arp.8",
    "/usr/share/man/man8/piranha-exporter.8",
    "/usr/share/man/man5/lvs.cf.5",
    "/usr/share/man/man1/lvscf.1",
    "/usr/share/man/man8/ipvsadm-rs.8",
    "/usr/sbin/piranha_gui",
    "/usr/sbin/piranha-passwd",
    "/usr/lib/systemd/system/piranha-gui.service",
    "/usr/lib/systemd/system/piranha-gui-save.service",
    "/usr/lib/systemd/system/piranha-gui-sync.service",
    "/etc/sysconfig/piranha-gui",
    "/usr/share/polkit-1/rules.d/60-piranha-gui.rules",
    "/usr/share/man/man8/piranha_gui.8",
    "/usr/share/man/man8/piranha-passwd.8",
];

/// `$name` as a path, or a skip (recorded; a failure under CI) and `None`.
fn env_path(name: &str, test: &str) -> Option<PathBuf> {
    match std::env::var_os(name) {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            let why = std::env::var(format!("{name}_ERROR")).unwrap_or_else(|_| {
                format!("${name} is not set: run it with `cargo xtask test --tier dist`")
            });
            lvs_tests::skip(test, &why);
            None
        }
    }
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8_lossy(&run(cmd).stdout).into_owned()
}

/// A copy of the cached Debian, removed on drop.
struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    fn copy_of(image: &Path) -> Root {
        let dir = tempfile::Builder::new()
            .prefix("lo-dist-root.")
            .tempdir()
            .expect("tempdir");
        run(Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", image.display()))
            .arg(dir.path()));
        Root { dir }
    }

    fn path(&self, inside: &str) -> PathBuf {
        self.dir.path().join(inside.trim_start_matches('/'))
    }

    /// `chroot ROOT argv...`, with a plain environment.
    fn chroot(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("chroot");
        c.arg(self.dir.path())
            .args(argv)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LC_ALL", "C");
        c
    }
}

/// A stand-in for Red Hat's piranha package: the daemons at their paths
/// and lvs.cf as a conffile.
fn fake_piranha(dir: &Path) -> PathBuf {
    let tree = dir.join("piranha");
    std::fs::create_dir_all(tree.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(tree.join("usr/sbin")).unwrap();
    std::fs::create_dir_all(tree.join("etc/sysconfig/ha")).unwrap();
    std::fs::write(
        tree.join("DEBIAN/control"),
        "Package: piranha\nVersion: 0.8.6-1\nArchitecture: all\n\
         Maintainer: test <test@example.invalid>\nDescription: old Piranha (test stand-in)\n",
    )
    .unwrap();
    std::fs::write(tree.join("DEBIAN/conffiles"), "/etc/sysconfig/ha/lvs.cf\n").unwrap();
    std::fs::write(tree.join("etc/sysconfig/ha/lvs.cf"), "serial_no = 0\n").unwrap();
    for p in ["pulse", "lvsd", "nanny", "fos", "send_arp"] {
        let f = tree.join("usr/sbin").join(p);
        std::fs::write(&f, "#!/bin/sh\necho old piranha\n").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let deb = dir.join("piranha_0.8.6-1_all.deb");
    run(Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&tree)
        .arg(&deb));
    deb
}

fn dpkg_status(root: &Root, pkg: &str) -> String {
    let out = root
        .chroot(&["dpkg-query", "-W", "-f=${Status}", pkg])
        .output()
        .expect("dpkg-query");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn deb_replaces_piranha_in_a_fresh_debian_and_every_program_runs() {
    let test = "deb_replaces_piranha_in_a_fresh_debian_and_every_program_runs";
    if !lvs_tests::require(lvs_tests::Need::Root, test) {
        return;
    }
    let Some(deb) = env_path("LVS_DIST_DEB", test) else {
        return;
    };
    let Some(image) = env_path("LVS_DIST_ROOTFS", test) else {
        return;
    };
    let root = Root::copy_of(&image);
    let work = root.path("root");

    // An installed piranha whose lvs.cf the admin has edited.
    fake_piranha(&work);
    run(&mut root.chroot(&["dpkg", "-i", "/root/piranha_0.8.6-1_all.deb"]));
    let nat =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../etc/lvs.cf.nat")).unwrap();
    std::fs::write(root.path("/etc/sysconfig/ha/lvs.cf"), &nat).unwrap();
    assert_eq!(dpkg_status(&root, "piranha"), "install ok installed");

    // dpkg -i the new package: Conflicts + Replaces remove piranha; the
    // admin's lvs.cf stays (the answer to dpkg's conffile question is
    // "keep", as with --force-confold).
    std::fs::copy(&deb, work.join("piranha-rs.deb")).unwrap();
    run(&mut root.chroot(&["dpkg", "--force-confold", "-i", "/root/piranha-rs.deb"]));
    assert_eq!(dpkg_status(&root, "piranha-rs"), "install ok installed");
    let old_status = dpkg_status(&root, "piranha");
    assert!(
        !old_status.ends_with(" installed"),
        "piranha still installed: {old_status:?}"
    );
    assert_eq!(
        std::fs::read(root.path("/etc/sysconfig/ha/lvs.cf")).unwrap(),
        nat
    );

    for (program, first) in PROGRAMS {
        let path = format!("/usr/sbin/{program}");
        let text = stdout(&mut root.chroot(&[&path, "--version"]));
        assert!(text.starts_with(first), "{path} --version: {text:?}");
    }
    for f in REQUIRED {
        let inside = if f.starts_with("/usr/share/man/") {
            format!("{f}.gz")
        } else {
            f.to_string()
        };
        assert!(root.path(&inside).is_file(), "{inside} not installed");
    }

    // The system group and user piranha; running the postinst again (as
    // dpkg does on every upgrade) changes nothing.
    let (uid, gid) = assert_piranha_user(&root);
    run(&mut root.chroot(&[
        "/var/lib/dpkg/info/piranha-rs.postinst",
        "configure",
        "0.1.0",
    ]));
    assert_eq!(assert_piranha_user(&root), (uid, gid), "postinst again");
    exporter_reads_a_socket_of_group_piranha(&root, uid, gid);
    web_tool_runs_and_its_password_is_piranhas(&root, uid, gid);

    // lvscf check on the installed example configurations (the files
    // directly in examples/; scale-out/ holds the BGP daemons') and on the
    // kept lvs.cf. The IPv6 and scale-out examples give only the warnings
    // that say Piranha cannot read them: tests/tests/etc_files.rs checks
    // their wording.
    let examples = root.path("/usr/share/doc/piranha-rs/examples");
    let mut checked = 0;
    for e in std::fs::read_dir(examples).unwrap() {
        let e = e.unwrap();
        if !e.file_type().unwrap().is_file() {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        let inside = format!("/usr/share/doc/piranha-rs/examples/{name}");
        let out = run(&mut root.chroot(&["/usr/sbin/lvscf", "check", &inside]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let warnings = match name.as_str() {
            "lvs.cf.ipv6" => 1,
            "lvs.cf.scale-out" => 1,
            _ => 0,
        };
        assert_eq!(
            stderr.lines().filter(|l| l.contains(": warning: ")).count(),
            warnings,
            "{inside}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), warnings, "{inside}: {stderr}");
        checked += 1;
    }
    assert_eq!(checked, 5, "five example configurations");
    run(&mut root.chroot(&["/usr/sbin/lvscf", "check", "/etc/sysconfig/ha/lvs.cf"]));

    // Conffiles: /etc/sysconfig/pulse and lvs.cf survive removal.
    let conffiles =
        stdout(&mut root.chroot(&["dpkg-query", "-W", "-f=${Conffiles}", "piranha-rs"]));
    for c in [
        "/etc/sysconfig/pulse",
        "/etc/sysconfig/piranha-exporter",
        "/etc/sysconfig/piranha-gui",
        "/etc/sysconfig/ha/lvs.cf",
    ] {
        assert!(conffiles.contains(c), "{c} is not a conffile: {conffiles}");
    }
    // Installing the same package again (an upgrade's path through
    // postinst) keeps the user as it is.
    run(&mut root.chroot(&["dpkg", "--force-confold", "-i", "/root/piranha-rs.deb"]));
    assert_eq!(assert_piranha_user(&root), (uid, gid), "reinstall");
    run(&mut root.chroot(&["dpkg", "-r", "piranha-rs"]));
    assert!(!root.path("/usr/sbin/pulse").exists());
    assert!(root.path("/etc/sysconfig/pulse").is_file());
    assert_eq!(
        std::fs::read(root.path("/etc/sysconfig/ha/lvs.cf")).unwrap(),
        nat
    );
}

/// Files (not directories) of the .deb, absolute, man pages without `.gz`.
fn deb_files(deb: &Path) -> BTreeSet<String> {
    let listing = stdout(Command::new("dpkg-deb").arg("-c").arg(deb));
    listing
        .lines()
        .filter(|l| !l.starts_with('d'))
        .filter_map(|l| l.split_whitespace().nth(5))
        .map(|p| {
            let p = p.trim_start_matches('.').to_string();
            match p.strip_suffix(".gz") {
                Some(s) if p.starts_with("/usr/share/man/") => s.to_string(),
                _ => p,
            }
        })
        .collect()
}

fn rpm_query(rpm: &Path, what: &str) -> String {
    stdout(Command::new("rpm").args(["-qp", what]).arg(rpm))
}

#[test]
fn rpm_has_the_files_of_the_deb_and_replaces_piranha() {
    let test = "rpm_has_the_files_of_the_deb_and_replaces_piranha";
    let Some(deb) = env_path("LVS_DIST_DEB", test) else {
        return;
    };
    let Some(rpm) = env_path("LVS_DIST_RPM", test) else {
        return;
    };
    if Command::new("rpm").arg("--version").output().is_err() {
        lvs_tests::skip(test, "needs rpm (Debian package rpm, see .ci/install-deps)");
        return;
    }
    let rpm_files: BTreeSet<String> = rpm_query(&rpm, "-l").lines().map(String::from).collect();
    let mut deb_files = deb_files(&deb);
    // cargo-deb adds the Debian copyright file; rpm has no such convention.
    assert!(deb_files.remove("/usr/share/doc/piranha-rs/copyright"));
    assert_eq!(
        rpm_files, deb_files,
        "the .rpm and the .deb install different files"
    );
    for f in REQUIRED {
        assert!(rpm_files.contains(f), "{f} missing from the packages");
    }

    let provides = rpm_query(&rpm, "--provides");
    assert!(
        provides.lines().any(|l| l == "piranha = 0.8.7"),
        "{provides}"
    );
    let obsoletes = rpm_query(&rpm, "--obsoletes");
    assert!(
        obsoletes.lines().any(|l| l == "piranha < 0.8.7"),
        "{obsoletes}"
    );
    let conflicts = rpm_query(&rpm, "--conflicts");
    assert!(
        conflicts.lines().any(|l| l == "piranha < 0.8.7"),
        "{conflicts}"
    );
    let config = rpm_query(&rpm, "--configfiles");
    for c in [
        "/etc/sysconfig/pulse",
        "/etc/sysconfig/piranha-exporter",
        "/etc/sysconfig/piranha-gui",
        "/etc/sysconfig/ha/lvs.cf",
    ] {
        assert!(
            config.lines().any(|l| l == c),
            "{c} is not a config file: {config}"
        );
    }

    // The pre-install script is the user-creating script (not its path,
    // which cargo-generate-rpm would take as the script if the file were
    // missing), and what it runs is required.
    let scripts = rpm_query(&rpm, "--scripts");
    assert!(
        scripts.contains("preinstall scriptlet")
            && scripts.contains("groupadd --system piranha")
            && scripts.contains("useradd --system"),
        "{scripts}"
    );
    let requires = rpm_query(&rpm, "--requires");
    assert!(
        requires.lines().any(|l| l.trim() == "shadow-utils"),
        "{requires}"
    );

    let field = |f: &str| stdout(Command::new("dpkg-deb").args(["-f"]).arg(&deb).arg(f));
    assert_eq!(field("Package").trim(), "piranha-rs");
    let depends = field("Depends");
    assert!(
        depends.split(',').any(|d| d.trim() == "passwd"),
        "{depends}"
    );
    // the .deb's postinst is the same script as the .rpm's pre-install one
    let control = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb")
        .arg("-e")
        .arg(&deb)
        .arg(control.path()));
    let postinst = std::fs::read_to_string(control.path().join("postinst")).expect("postinst");
    let script = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/pulse/debian/postinst"),
    )
    .unwrap();
    assert_eq!(postinst, script);
    assert_eq!(field("Provides").trim(), "piranha (= 0.8.7)");
    assert_eq!(field("Conflicts").trim(), "piranha (<< 0.8.7)");
    assert_eq!(field("Replaces").trim(), "piranha (<< 0.8.7)");
}

/// A stand-in piranha .rpm (rpmbuild): the daemons and lvs.cf as
/// `%config(noreplace)`, as Piranha's spec file has it.
fn fake_piranha_rpm(dir: &Path) -> PathBuf {
    let spec = dir.join("piranha.spec");
    std::fs::write(
        &spec,
        "Name: piranha\nVersion: 0.8.6\nRelease: 1\nSummary: old Piranha (test stand-in)\n\
         License: GPL\nBuildArch: noarch\n%description\nstand-in\n%install\n\
         mkdir -p %{buildroot}/usr/sbin %{buildroot}/etc/sysconfig/ha\n\
         for p in pulse lvsd nanny fos send_arp; do printf '#!/bin/sh\\necho old\\n' \
         > %{buildroot}/usr/sbin/$p; chmod 755 %{buildroot}/usr/sbin/$p; done\n\
         echo 'serial_no = 0' > %{buildroot}/etc/sysconfig/ha/lvs.cf\n\
         %files\n/usr/sbin/pulse\n/usr/sbin/lvsd\n/usr/sbin/nanny\n/usr/sbin/fos\n/usr/sbin/send_arp\n\
         %config(noreplace) /etc/sysconfig/ha/lvs.cf\n",
    )
    .unwrap();
    let top = dir.join("top");
    run(Command::new("rpmbuild")
        .args(["-bb", "--quiet", "--define"])
        .arg(format!("_topdir {}", top.display()))
        .args(["--define", "__os_install_post %{nil}"])
        .arg(&spec));
    top.join("RPMS/noarch/piranha-0.8.6-1.noarch.rpm")
}

#[test]
fn rpm_upgrade_obsoletes_piranha_and_keeps_lvs_cf() {
    let test = "rpm_upgrade_obsoletes_piranha_and_keeps_lvs_cf";
    if !lvs_tests::require(lvs_tests::Need::Root, test) {
        return;
    }
    let Some(rpm) = env_path("LVS_DIST_RPM", test) else {
        return;
    };
    if Command::new("rpmbuild").arg("--version").output().is_err() {
        lvs_tests::skip(
            test,
            "needs rpmbuild (Debian package rpm, see .ci/install-deps)",
        );
        return;
    }
    let work = tempfile::Builder::new()
        .prefix("lo-dist-rpm.")
        .tempdir()
        .expect("tempdir");
    let old = fake_piranha_rpm(work.path());
    let root = work.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let rpm_in = |args: &[&str]| {
        let mut c = Command::new("rpm");
        c.arg("--root").arg(&root).args(args);
        c
    };
    run(&mut rpm_in(&["--initdb"]));
    run(rpm_in(&["-i", "--nodeps", "--noscripts"]).arg(&old));
    let nat =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../etc/lvs.cf.nat")).unwrap();
    let cf = root.join("etc/sysconfig/ha/lvs.cf");
    std::fs::write(&cf, &nat).unwrap();

    // rpm -U: Obsoletes takes piranha out in the same transaction.
    run(rpm_in(&["-U", "--nodeps", "--noscripts"]).arg(&rpm));
    let installed = stdout(&mut rpm_in(&["-qa", "--qf", "%{NAME}\\n"]));
    let names: Vec<&str> = installed.lines().collect();
    assert_eq!(names, ["piranha-rs"], "installed: {installed}");
    assert_eq!(
        std::fs::read(&cf).unwrap(),
        nat,
        "the admin's lvs.cf is kept"
    );
    assert!(root.join("etc/sysconfig/ha/lvs.cf.rpmnew").is_file());
    let version = stdout(Command::new(root.join("usr/sbin/pulse")).arg("--version"));
    assert!(
        version.starts_with("Program Version:\tpulse 1.56"),
        "{version}"
    );
}

/// `getent passwd piranha` and `getent group piranha` in the chroot: a
/// system user (uid below 1000) in its own system group, no login shell,
/// no home. Returns (uid, gid).
/// piranha_gui and piranha-passwd run from the installed package; the
/// postinst made /etc/sysconfig/ha/conf (0770 root:piranha: CHANGE PASSWORD
/// may replace the file) and leaves an
/// admin's one as it is; piranha-passwd run as root gives the password
/// file to user piranha (0600), so the web tool, which runs as piranha,
/// can read it.
fn web_tool_runs_and_its_password_is_piranhas(root: &Root, uid: u32, gid: u32) {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    for program in ["/usr/sbin/piranha_gui", "/usr/sbin/piranha-passwd"] {
        let help = stdout(&mut root.chroot(&[program, "--help"]));
        assert!(help.contains("Usage:"), "{program} --help: {help:?}");
    }
    let help = stdout(&mut root.chroot(&["/usr/sbin/piranha_gui", "--help"]));
    assert!(
        help.contains("--state-dir") && help.contains("--save-command"),
        "{help}"
    );
    let help = stdout(&mut root.chroot(&["/usr/sbin/lvscf", "save", "--help"]));
    assert!(help.contains("--keep-commands"), "{help}");
    let conf = std::fs::metadata(root.path("/etc/sysconfig/ha/conf")).unwrap();
    assert!(conf.is_dir());
    assert_eq!(
        (conf.uid(), conf.gid(), conf.mode() & 0o7777),
        (0, gid, 0o770),
        "/etc/sysconfig/ha/conf"
    );
    let file = "/etc/sysconfig/ha/conf/piranha.passwd";
    run(&mut root.chroot(&["/usr/sbin/piranha-passwd", "--file", file, "s3cret pass"]));
    let m = std::fs::metadata(root.path(file)).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (uid, gid, 0o600));
    assert!(
        std::fs::read_to_string(root.path(file))
            .unwrap()
            .starts_with("piranha:$2y$")
    );
    // an admin's own mode of the directory survives the postinst
    std::fs::set_permissions(
        root.path("/etc/sysconfig/ha/conf"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    run(&mut root.chroot(&[
        "/var/lib/dpkg/info/piranha-rs.postinst",
        "configure",
        "0.1.0",
    ]));
    let conf = std::fs::metadata(root.path("/etc/sysconfig/ha/conf")).unwrap();
    assert_eq!(conf.mode() & 0o7777, 0o700, "postinst again");
    std::fs::set_permissions(
        root.path("/etc/sysconfig/ha/conf"),
        std::fs::Permissions::from_mode(0o770),
    )
    .unwrap();
}

fn assert_piranha_user(root: &Root) -> (u32, u32) {
    let passwd = stdout(&mut root.chroot(&["getent", "passwd", "piranha"]));
    let f: Vec<&str> = passwd.trim().split(':').collect();
    let [name, _, uid, gid, _, home, shell] = f[..] else {
        panic!("getent passwd piranha: {passwd:?}");
    };
    assert_eq!(name, "piranha");
    let uid: u32 = uid.parse().unwrap();
    let gid: u32 = gid.parse().unwrap();
    assert!(uid > 0 && uid < 1000, "not a system uid: {passwd}");
    assert!(
        shell.ends_with("/nologin") || shell.ends_with("/false"),
        "login shell: {passwd}"
    );
    assert!(
        !root.path(home).exists() || home == "/",
        "home {home} exists"
    );
    let group = stdout(&mut root.chroot(&["getent", "group", "piranha"]));
    let g: Vec<&str> = group.trim().split(':').collect();
    assert_eq!(g.first(), Some(&"piranha"), "{group}");
    assert_eq!(g.get(2).and_then(|v| v.parse().ok()), Some(gid), "{group}");
    assert!(gid > 0 && gid < 1000, "not a system gid: {group}");
    // exactly one of each
    let count = |file: &str| {
        std::fs::read_to_string(root.path(file))
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("piranha:"))
            .count()
    };
    assert_eq!((count("/etc/passwd"), count("/etc/group")), (1, 1));
    (uid, gid)
}

/// The installed piranha-exporter, run as piranha:piranha with no
/// capability (`setpriv`), gets pulse's answer from a socket of mode 0660,
/// owner root, group piranha (the daemons' status sockets when the group
/// exists), and none from one of mode 0600.
fn exporter_reads_a_socket_of_group_piranha(root: &Root, uid: u32, gid: u32) {
    use std::io::{BufRead as _, Write as _};
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(root.path("/run")).unwrap();
    let scrape = |mode: u32| {
        let sock = root.path("/run/pulse.sock");
        let _ = std::fs::remove_file(&sock);
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        std::os::unix::fs::chown(&sock, Some(0), Some(gid)).unwrap();
        std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(mode)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let server = std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while std::time::Instant::now() < deadline {
                match listener.accept() {
                    Ok((mut c, _)) => {
                        c.set_nonblocking(false).unwrap();
                        let mut line = String::new();
                        let _ = std::io::BufReader::new(&c).read_line(&mut line);
                        let _ = c.write_all(br#"{"version":1,"role":"active"}"#);
                        return true;
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
                }
            }
            false
        });
        let out = stdout(&mut root.chroot(&[
            "setpriv",
            &format!("--reuid={uid}"),
            &format!("--regid={gid}"),
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "/usr/sbin/piranha-exporter",
            "--once",
            "--procfs",
            "/nonexistent",
            "--pulse-socket",
            "/run/pulse.sock",
            "--lvsd-socket",
            "/run/lvsd.sock",
        ]));
        let _ = std::fs::remove_file(&sock);
        // the server gives up after 5 s when nobody connected
        let _ = server.join();
        out
    };
    let has = |out: &str, line: &str| out.lines().any(|l| l == line);
    let out = scrape(0o660);
    assert!(has(&out, r#"piranha_up{component="pulse"} 1"#), "{out}");
    assert!(
        has(&out, r#"piranha_pulse_role{state="active"} 1"#),
        "{out}"
    );
    assert!(has(&out, r#"piranha_up{component="lvsd"} 0"#), "{out}");
    let out = scrape(0o600);
    assert!(has(&out, r#"piranha_up{component="pulse"} 0"#), "{out}");
}

#[test]
fn rpm_pre_install_script_creates_the_piranha_user_once() {
    let test = "rpm_pre_install_script_creates_the_piranha_user_once";
    if !lvs_tests::require(lvs_tests::Need::Root, test) {
        return;
    }
    let Some(rpm) = env_path("LVS_DIST_RPM", test) else {
        return;
    };
    let Some(image) = env_path("LVS_DIST_ROOTFS", test) else {
        return;
    };
    if Command::new("rpm").arg("--version").output().is_err() {
        lvs_tests::skip(test, "needs rpm (Debian package rpm, see .ci/install-deps)");
        return;
    }
    // The scriptlet as rpm would run it (with /bin/sh, argument 1: first
    // install, 2: upgrade), in a fresh Debian: useradd and groupadd are
    // shadow-utils' there too.
    let script = stdout(
        Command::new("rpm")
            .args(["-qp", "--qf", "%{PREIN}"])
            .arg(&rpm),
    );
    assert!(script.contains("useradd"), "{script}");
    let root = Root::copy_of(&image);
    std::fs::write(root.path("/root/prein.sh"), &script).unwrap();
    run(&mut root.chroot(&["/bin/sh", "/root/prein.sh", "1"]));
    let ids = assert_piranha_user(&root);
    run(&mut root.chroot(&["/bin/sh", "/root/prein.sh", "2"]));
    assert_eq!(assert_piranha_user(&root), ids, "second run");
}
