//! fos's command line and configuration errors: exact texts on stderr,
//! exit status 1, nothing started (fos.md §1, gaps.md F2/F3/F6).

use std::process::Command;

use lvs_tests::cli::lvs_cf as cf;

const FOS: &str = env!("CARGO_BIN_EXE_fos");

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    lvs_tests::cli::output(Command::new(FOS).args(args))
}

fn failure(args: &[&str]) -> String {
    let (code, out, err) = run(args);
    assert_eq!(code, Some(1), "{args:?}: {out}{err}");
    assert!(out.is_empty(), "{args:?}: {out}");
    err
}

const GOOD: &str = "primary = 203.0.113.1\nservice = fos\n\
    failover web {\n active = 1\n address = 203.0.113.100 eth0:1\n\
    start_cmd = \"/bin/true\"\n stop_cmd = \"/bin/true\"\n}\n";

#[test]
fn version_banner() {
    let (code, out, err) = run(&["--version"]);
    assert_eq!(code, Some(0));
    assert!(err.is_empty());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], "Program Version:\tfos 1.13");
    assert!(lines[1].starts_with("Built:\t\t\t"));
    assert_eq!(lines[2], "A component of:\t\tpiranha-0.8.6-1");
}

#[test]
fn help_lists_the_options() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, Some(0));
    for o in [
        "--configfile",
        "--monitor",
        "--active",
        "--nodaemon",
        "--nofork",
        "--test-start",
    ] {
        assert!(out.contains(o), "{o}: {out}");
    }
}

#[test]
fn option_errors_have_the_original_texts() {
    assert_eq!(
        failure(&["-f", "-F"]),
        "fos: Cannot specifiy both -f and -F!\n"
    );
    assert_eq!(
        failure(&[]),
        "fos: Either --monitor (-f) or --active (-F) required!\n"
    );
    assert_eq!(failure(&["-F", "extra"]), "fos: unexpected arguments\n");
    assert_eq!(
        failure(&["--bogus"]),
        "fos: bad argument --bogus: unknown option\n"
    );
    assert_eq!(
        failure(&["-F", "-c"]),
        "fos: bad argument -c: missing argument\n"
    );
}

#[test]
fn file_errors_have_the_original_texts() {
    assert_eq!(
        failure(&["-F", "-c", "/nonexistent/lvs.cf"]),
        "fos: failed to open /nonexistent/lvs.cf\n"
    );
    let (_d, p) = cf("service = fos\nkeepalive = six\n");
    assert_eq!(
        failure(&["-F", "-c", &p]),
        format!("fos: error parsing {p} on line 2.\n")
    );
    let (_d, p) = cf("service = lvs\nvirtual web {\n active = 1\n}\n");
    assert_eq!(
        failure(&["-F", "-c", &p]),
        format!("fos: Service type is not \"fos\" in {p}\n")
    );
    let (_d, p) = cf("service = fos\n");
    assert_eq!(
        failure(&["-f", "-c", &p]),
        format!("fos: No Failover Services defined in {p}.\n")
    );
}

#[test]
fn missing_start_or_stop_command_is_a_config_error_f2() {
    let (_d, p) = cf(&GOOD.replace("start_cmd = \"/bin/true\"\n", ""));
    assert_eq!(
        failure(&["-F", "-c", &p]),
        format!(
            "fos: {p}:3: failover web: start_cmd: expected a start_cmd command in an active failover block, found none\n"
        )
    );
}

#[test]
fn shared_scsi_is_a_config_error_f3_f6() {
    let scsi = GOOD.replace(
        "service = fos\n",
        "service = fos\nprimary_shared = /dev/sdb\nbackup_shared = /dev/sdc\n",
    );
    let (_d, p) = cf(&scsi);
    let f6 = format!(
        "fos: {p}: primary_shared, backup_shared: expected no shared SCSI device, found \"/dev/sdb\" and \"/dev/sdc\" (shared SCSI reservation with /usr/sbin/scsi_reserve is not supported; remove both keys and fence the shared disk by other means)\n"
    );
    assert_eq!(
        failure(&["-f", "-c", &p]),
        format!(
            "fos: {p}: reservation_conflict_action: expected nothing or preempt because primary_shared and backup_shared are set, found none\n{f6}"
        )
    );
    let (_d, q) = cf(&scsi.replace(
        "service = fos\n",
        "service = fos\nreservation_conflict_action = preempt\n",
    ));
    assert_eq!(failure(&["-F", "-c", &q]), f6.replace(&p, &q));
}
