//! pulse's command line and start-up errors (no root needed: each case
//! fails before any socket is opened).

use std::process::Command;

use lvs_tests::cli::lvs_cf as cf;

const PULSE: &str = env!("CARGO_BIN_EXE_pulse");

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    lvs_tests::cli::output(Command::new(PULSE).args(args))
}

#[test]
fn version_banner() {
    let (code, out, err) = run(&["--version"]);
    assert_eq!(code, Some(0));
    assert!(err.is_empty());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Program Version:\tpulse 1.56");
    assert!(lines[1].starts_with("Built:\t\t\t"));
    assert_eq!(lines[2], "A component of:\t\tpiranha-0.8.6-1");
}

#[test]
fn option_errors() {
    assert_eq!(
        run(&["--bogus"]),
        (
            Some(1),
            String::new(),
            "pulse: bad argument --bogus: unknown option\n".into()
        )
    );
    assert_eq!(
        run(&["extra"]),
        (
            Some(1),
            String::new(),
            "pulse: unexpected arguments\n".into()
        )
    );
    let (code, out, _) = run(&["-?"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("Usage: pulse [OPTION...]"));
}

#[test]
fn missing_config_file() {
    assert_eq!(
        run(&["-n", "-c", "/nonexistent/lvs.cf"]),
        (
            Some(1),
            String::new(),
            "pulse: failed to open /nonexistent/lvs.cf\n".into()
        )
    );
}

#[test]
fn parse_error_uses_the_original_wording() {
    let (_d, p) = cf("primary = 192.0.2.1\nkeepalive = 6 # seconds\n");
    let (code, out, err) = run(&["-n", "-c", &p]);
    assert_eq!(code, Some(1));
    assert!(out.is_empty());
    assert_eq!(
        err,
        format!("pulse: error parsing {p} at line 2: unexpected arguments\n")
    );
    let (_d, p) = cf("");
    let (_, _, err) = run(&["-n", "--configfile", &p]);
    assert_eq!(
        err,
        format!("pulse: error parsing {p} at line 0: Empty configuration\n")
    );
}

#[test]
fn no_active_services() {
    let (_d, p) = cf(
        "primary = 192.0.2.1\nservice = lvs\nvirtual web {\n active = 0\n address = 192.0.2.100 eth0:1\n}\n",
    );
    assert_eq!(
        run(&["-n", "-c", &p]),
        (
            Some(1),
            String::new(),
            format!("pulse: no active lvs services defined in {p}\n")
        )
    );
    let (_d, p) = cf("primary = 192.0.2.1\nservice = fos\n");
    assert_eq!(
        run(&["-n", "-c", &p]).2,
        format!("pulse: no active fos services defined in {p}\n")
    );
}

/// A fos-mode lvs.cf with one active failover block.
const FOS: &str = "primary = 192.0.2.1\nservice = fos\nfailover web {\n active = 1\n address = 192.0.2.100 eth0:1\n start_cmd = \"/bin/true\"\n stop_cmd = \"/bin/true\"\n}\n";

#[test]
fn fos_mode_refuses_missing_commands_f2() {
    let (_d, p) = cf(&FOS.replace(" stop_cmd = \"/bin/true\"\n", ""));
    assert_eq!(
        run(&["-n", "-c", &p]),
        (
            Some(1),
            String::new(),
            format!(
                "pulse: {p}:3: failover web: stop_cmd: expected a stop_cmd command in an active failover block, found none\n"
            )
        )
    );
}

#[test]
fn fos_mode_refuses_shared_scsi_f3_f6() {
    let scsi = FOS.replace(
        "service = fos\n",
        "service = fos\nprimary_shared = /dev/sdb\nbackup_shared = /dev/sdb\n",
    );
    let (_d, p) = cf(&scsi);
    let f6 = format!(
        "pulse: {p}: primary_shared, backup_shared: expected no shared SCSI device, found \"/dev/sdb\" and \"/dev/sdb\" (shared SCSI reservation with /usr/sbin/scsi_reserve is not supported; remove both keys and fence the shared disk by other means)\n"
    );
    assert_eq!(
        run(&["-n", "-c", &p]),
        (
            Some(1),
            String::new(),
            format!(
                "pulse: {p}: reservation_conflict_action: expected nothing or preempt because primary_shared and backup_shared are set, found none\n{f6}"
            )
        )
    );
    let (_d, p2) = cf(&scsi.replace(
        "service = fos\n",
        "service = fos\nreservation_conflict_action = nothing\n",
    ));
    assert_eq!(
        run(&["-n", "-c", &p2]),
        (Some(1), String::new(), f6.replace(&p, &p2))
    );
}

#[test]
fn lvs_mode_ignores_the_fos_only_shared_scsi_keys() {
    // The original read them only in fos mode; an lvs-mode file with them
    // gets past the checks (and here fails later, binding the heartbeat
    // socket to a backup address this machine does not have).
    let (_d, p) = cf(
        "primary = 203.0.113.1\nbackup = 203.0.113.2\nbackup_active = 1\nprimary_shared = /dev/sdb\nbackup_shared = /dev/sdb\nvirtual web {\n active = 1\n address = 192.0.2.100 eth0:1\n}\n",
    );
    let (code, _, err) = run(&["-n", "-c", &p]);
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        "pulse: cannot create heartbeat socket. running as root?\n"
    );
}

#[test]
fn overlong_device_name_is_a_config_error() {
    let (_d, p) = cf(
        "primary = 192.0.2.1\nvirtual web {\n active = 1\n address = 192.0.2.100 averyverylongname:1\n}\n",
    );
    let (code, _, err) = run(&["-n", "-c", &p]);
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        format!(
            "pulse: {p}:2: address: expected a device name of at most 15 characters, found \"averyverylongname:1\" (virtual server web)\n"
        )
    );
}

/// `--heartbeat-key`: a key file pulse would not trust, or a bad
/// `--heartbeat-auth`, stops it with one clear line and exit 1 before it
/// reads lvs.cf or opens a socket.
#[test]
fn bad_heartbeat_key_files_are_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n).display().to_string();
    let write = |n: &str, text: &str, mode: u32| {
        let p = path(n);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    };
    const KEY: &str = "00112233445566778899aabbccddeeff\n";
    let refuse = |args: &[&str], want: String| {
        let mut v = vec!["-n", "-c", "/nonexistent/lvs.cf"];
        v.extend_from_slice(args);
        assert_eq!(run(&v), (Some(1), String::new(), want), "{args:?}");
    };
    let missing = path("missing");
    refuse(
        &["--heartbeat-key", &missing],
        format!("pulse: heartbeat key file {missing}: cannot open: No such file or directory\n"),
    );
    let d = path("dir");
    std::fs::create_dir(&d).unwrap();
    refuse(
        &["--heartbeat-key", &d],
        format!("pulse: heartbeat key file {d}: expected a regular file, found a directory\n"),
    );
    let good = write("good", KEY, 0o600);
    let link = path("link");
    std::os::unix::fs::symlink(&good, &link).unwrap();
    refuse(
        &["--heartbeat-key", &link],
        format!("pulse: heartbeat key file {link}: cannot open: it is a symbolic link\n"),
    );
    refuse(
        &["--heartbeat-key", &good, "--heartbeat-auth=strict"],
        "pulse: bad argument --heartbeat-auth=strict: expected required or permissive\n".into(),
    );
    refuse(
        &["--heartbeat-auth=permissive"],
        "pulse: --heartbeat-auth needs --heartbeat-key=FILE\n".into(),
    );
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // Not root: our files are not root's.
        let (code, _, err) = run(&["-n", "--heartbeat-key", &good]);
        assert_eq!(code, Some(1));
        assert!(err.contains("expected owner root (uid 0)"), "{err}");
        return;
    }
    let open = write("open", KEY, 0o640);
    refuse(
        &["--heartbeat-key", &open],
        format!("pulse: heartbeat key file {open}: expected mode 0600 or stricter, found 0640\n"),
    );
    let short = write("short", "00112233445566778899aabbccddee\n", 0o600);
    refuse(
        &["--heartbeat-key", &short],
        format!(
            "pulse: heartbeat key file {short}:1: expected a key of at least 16 bytes as \
             hexadecimal digits (32 or more), found 30 digits (15 bytes)\n"
        ),
    );
    let empty = write("empty", "# no key yet\n", 0o600);
    refuse(
        &["--heartbeat-key", &empty],
        format!("pulse: heartbeat key file {empty}: expected one or two keys, found 0\n"),
    );
    let three = write("three", &KEY.repeat(3), 0o400);
    refuse(
        &["--heartbeat-key", &three],
        format!("pulse: heartbeat key file {three}: expected one or two keys, found 3\n"),
    );
    let other = write("other", KEY, 0o600);
    std::os::unix::fs::chown(&other, Some(1), None).unwrap();
    refuse(
        &["--heartbeat-key", &other],
        format!("pulse: heartbeat key file {other}: expected owner root (uid 0), found uid 1\n"),
    );
    // A good key gets past the key checks to the next error.
    refuse(
        &["--heartbeat-key", &good],
        "pulse: failed to open /nonexistent/lvs.cf\n".into(),
    );
}
