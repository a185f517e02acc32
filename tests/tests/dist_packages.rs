//! The packages of `cargo xtask dist` (run by the `dist` tier of `cargo
//! xtask test`, which passes their paths in `LVS_DIST_DEB`/`LVS_DIST_RPM`
//! and a cached minimal Debian in `LVS_DIST_ROOTFS`):
//!
//! * the .deb installs with `dpkg -i` into a fresh Debian over an installed
//!   `piranha` package, takes its place and keeps the admin's lvs.cf; every
//!   program runs, `lvscf check` accepts the example configurations;
//! * the .rpm holds the same files, declares that it replaces piranha, and
//!   `rpm -U` over an installed piranha .rpm obsoletes it and keeps lvs.cf.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The programs at Piranha's paths (plus our tools), and what `--version`
/// prints first.
const PROGRAMS: [(&str, &str); 7] = [
    ("pulse", "Program Version:\tpulse 1.56"),
    ("lvsd", "Program Version:\tlvs 1.38"),
    ("nanny", "Program Version:\tnanny 1.46"),
    ("fos", "Program Version:\tfos 1.13"),
    ("send_arp", "Program Version:\tsend_arp"),
    ("lvscf", "Program Version:\tlvscf"),
    ("ipvsadm-rs", "ipvsadm-rs "),
];

/// Files both packages must install (the man pages without `.gz`).
const REQUIRED: [&str; 21] = [
    "/usr/sbin/pulse",
    "/usr/sbin/lvsd",
    "/usr/sbin/nanny",
    "/usr/sbin/fos",
    "/usr/sbin/send_arp",
    "/usr/sbin/lvscf",
    "/usr/sbin/ipvsadm-rs",
    "/usr/lib/systemd/system/pulse.service",
    "/etc/sysconfig/pulse",
    "/etc/sysconfig/ha/lvs.cf",
    "/usr/share/doc/piranha-rs/examples/lvs.cf.nat",
    "/usr/share/doc/piranha-rs/examples/lvs.cf.dr-fwmark",
    "/usr/share/doc/piranha-rs/examples/lvs.cf.demo",
    "/usr/share/man/man8/pulse.8",
    "/usr/share/man/man8/lvsd.8",
    "/usr/share/man/man8/nanny.8",
    "/usr/share/man/man8/fos.8",
    "/usr/share/man/man8/send_arp.8",
    "/usr/share/man/man5/lvs.cf.5",
    "/usr/share/man/man1/lvscf.1",
    "/usr/share/man/man8/ipvsadm-rs.8",
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

    // lvscf check on the installed examples and on the kept lvs.cf.
    let examples = root.path("/usr/share/doc/piranha-rs/examples");
    let mut checked = 0;
    for e in std::fs::read_dir(examples).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        let inside = format!("/usr/share/doc/piranha-rs/examples/{name}");
        let out = run(&mut root.chroot(&["/usr/sbin/lvscf", "check", &inside]));
        assert!(
            out.stderr.is_empty(),
            "{inside}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert_eq!(checked, 3, "three example configurations");
    run(&mut root.chroot(&["/usr/sbin/lvscf", "check", "/etc/sysconfig/ha/lvs.cf"]));

    // Conffiles: /etc/sysconfig/pulse and lvs.cf survive removal.
    let conffiles =
        stdout(&mut root.chroot(&["dpkg-query", "-W", "-f=${Conffiles}", "piranha-rs"]));
    for c in ["/etc/sysconfig/pulse", "/etc/sysconfig/ha/lvs.cf"] {
        assert!(conffiles.contains(c), "{c} is not a conffile: {conffiles}");
    }
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
    for c in ["/etc/sysconfig/pulse", "/etc/sysconfig/ha/lvs.cf"] {
        assert!(
            config.lines().any(|l| l == c),
            "{c} is not a config file: {config}"
        );
    }

    let field = |f: &str| stdout(Command::new("dpkg-deb").args(["-f"]).arg(&deb).arg(f));
    assert_eq!(field("Package").trim(), "piranha-rs");
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
