//! The post-parse checks of lvs-cf.md §10 (validate_for_pulse/fos/lvsd).

mod common;

use common::parse;
use lvscf::{
    Finding, FindingKind, Severity, validate_for_fos, validate_for_lvsd, validate_for_pulse,
};

fn kinds(f: &[Finding]) -> Vec<(FindingKind, Severity)> {
    f.iter().map(|f| (f.kind, f.severity)).collect()
}

const GOOD_LVS: &str = "primary = 10.0.0.1\nbackup = 10.0.0.2\nbackup_active = 1\nkeepalive = 2\n\
                        deadtime = 6\nvirtual v {\nactive = 1\naddress = 10.0.0.100 eth0:1\n}\n";

#[test]
fn pulse_accepts_a_good_file() {
    assert!(validate_for_pulse(&parse(GOOD_LVS).config, "lvs.cf").is_empty());
}

#[test]
fn pulse_no_active_services_uses_the_original_text() {
    let c = parse("virtual v {\nactive = 0\n}\nfailover f {\nactive = 1\n}\n").config;
    let f = validate_for_pulse(&c, "/etc/sysconfig/ha/lvs.cf");
    assert_eq!(
        kinds(&f),
        [(FindingKind::NoActiveServices, Severity::Error)]
    );
    assert_eq!(
        f[0].message,
        "no active lvs services defined in /etc/sysconfig/ha/lvs.cf"
    );
    let c = parse("service = fos\nvirtual v {\nactive = 1\n}\n").config;
    let f = validate_for_pulse(&c, "x.cf");
    assert_eq!(f[0].message, "no active fos services defined in x.cf");
    // A CRLF file the original reduced to its first line now just works.
    let crlf = GOOD_LVS.replace('\n', "\r\n");
    assert!(validate_for_pulse(&parse(&crlf).config, "lvs.cf").is_empty());
}

#[test]
fn pulse_clears_an_undefined_active_backup_first() {
    let c = parse("backup_active = 1\nvirtual v {\n}\n").config;
    let f = validate_for_pulse(&c, "lvs.cf");
    assert_eq!(
        kinds(&f),
        [
            (FindingKind::UndefinedBackupActive, Severity::Warning),
            (FindingKind::NoActiveServices, Severity::Error)
        ]
    );
    assert_eq!(
        f[0].message,
        "Undefined backup node marked as active? -- clearing that!"
    );
}

#[test]
fn pulse_refuses_primary_private_without_backup_private() {
    // gaps.md B7, second case.
    let text = GOOD_LVS.replace("deadtime = 6", "deadtime = 6\nprimary_private = 10.1.0.1");
    let f = validate_for_pulse(&parse(&text).config, "lvs.cf");
    assert_eq!(
        kinds(&f),
        [(FindingKind::BackupPrivateMissing, Severity::Error)]
    );
    assert!(
        f[0].message
            .starts_with("lvs.cf: backup_private: expected backup_private"),
        "{}",
        f[0]
    );
    // Fine with backup_private, or without an active backup.
    let ok = text.replace(
        "primary_private = 10.1.0.1",
        "primary_private = 10.1.0.1\nbackup_private = 10.1.0.2",
    );
    assert!(validate_for_pulse(&parse(&ok).config, "lvs.cf").is_empty());
    let solo = text.replace("backup_active = 1", "backup_active = 0");
    assert!(validate_for_pulse(&parse(&solo).config, "lvs.cf").is_empty());
}

#[test]
fn pulse_device_checks() {
    let text = "network = nat\nnat_router = 10.0.0.254 a-very-long-device:1\n\
                virtual a {\nactive = 1\naddress = 10.0.0.100 eth0\n}\n\
                virtual b {\nactive = 1\naddress = 10.0.0.101 eth1:1\n}\n\
                virtual c {\nactive = 1\naddress = 10.0.0.102 eth1:1\n}\n\
                virtual d {\nactive = 1\naddress = 10.0.0.101 eth1:1\n}\n\
                virtual e {\nactive = 0\naddress = 10.0.0.103 eth1:1\n}\n";
    let f = validate_for_pulse(&parse(text).config, "lvs.cf");
    assert_eq!(
        kinds(&f),
        [
            (FindingKind::DeviceNameTooLong, Severity::Error),
            (FindingKind::BaseDevice, Severity::Warning),
            (FindingKind::SharedAlias, Severity::Warning),
        ]
    );
    assert_eq!((f[1].line, f[2].line), (3, 11));
    assert!(f[2].message.contains("virtual b"), "{}", f[2]);
}

#[test]
fn pulse_warns_when_deadtime_is_not_above_keepalive() {
    let text = GOOD_LVS.replace("deadtime = 6", "deadtime = 2");
    let f = validate_for_pulse(&parse(&text).config, "lvs.cf");
    assert_eq!(
        kinds(&f),
        [(FindingKind::DeadtimeNotAboveKeepalive, Severity::Warning)]
    );
}

#[test]
fn fos_checks_in_the_original_order_with_the_original_texts() {
    let f = validate_for_fos(&parse("service = lvs\n").config, "lvs.cf");
    assert_eq!(
        f.iter().map(|f| f.message.as_str()).collect::<Vec<_>>(),
        [
            "Service type is not \"fos\" in lvs.cf",
            "No Failover Services defined in lvs.cf."
        ]
    );
}

#[test]
fn fos_requires_start_and_stop_commands_and_the_conflict_action() {
    let text = "service = fos\nprimary_shared = /dev/sdb\nbackup_shared = /dev/sdb\n\
                failover web {\nactive = 1\nstart_cmd = /bin/start\ntimeout = 0\n}\n\
                failover off {\nactive = 0\n}\n";
    let f = validate_for_fos(&parse(text).config, "lvs.cf");
    assert_eq!(
        kinds(&f),
        [
            (FindingKind::MissingStartStopCmd, Severity::Error),
            (FindingKind::MissingConflictAction, Severity::Error),
            (FindingKind::TimeoutNotPositive, Severity::Warning),
        ]
    );
    assert_eq!(f[0].line, 4);
    assert!(
        f[0].message
            .starts_with("lvs.cf:4: failover web: stop_cmd: expected"),
        "{}",
        f[0]
    );
    let fixed = text.replace("timeout = 0", "stop_cmd = /bin/stop").replace(
        "service = fos",
        "service = fos\nreservation_conflict_action = nothing",
    );
    assert!(validate_for_fos(&parse(&fixed).config, "lvs.cf").is_empty());
}

#[test]
fn lvsd_has_no_fatal_checks_and_warns_on_timeout_0() {
    assert!(validate_for_lvsd(&parse("# empty\n").config, "lvs.cf").is_empty());
    let c = parse("virtual v {\nactive = 1\ntimeout = 0\n}\nvirtual w {\ntimeout = 0\n}\n").config;
    let f = validate_for_lvsd(&c, "lvs.cf");
    assert_eq!(
        kinds(&f),
        [(FindingKind::TimeoutNotPositive, Severity::Warning)]
    );
    assert_eq!(
        f[0].to_string(),
        "lvs.cf:1: virtual v: timeout: expected a timeout > 0, found 0 (nanny refuses to run)"
    );
}
