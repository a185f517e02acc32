//! The start-up verdict of each daemon on a parsed lvs.cf: what pulse,
//! lvsd and fos refuse to start with (the lines they print, without the
//! `PROGRAM: ` prefix, in their order) and what they log and carry on with.
//! The daemons print these and nothing else about the file's meaning;
//! `lvscf check` prints the same ([`crate::daemon_findings`]). Checks that
//! need the host (which router this is, whether an address can be bound)
//! stay in the daemons.

use crate::error::LoadError;
use crate::model::{Config, ServiceType};
use crate::strings::QuoteMode;
use crate::validate::{Finding, FindingKind, Severity};

/// What a daemon makes of a file at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Why it does not start, one message per line it prints (empty: it
    /// starts).
    pub errors: Vec<Finding>,
    /// What it logs once started, in order.
    pub warnings: Vec<Finding>,
}

impl Verdict {
    /// Whether the daemon refuses the file.
    pub fn refused(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The text a refusing daemon prints on stderr: `PROGRAM: MESSAGE`, a
    /// line per error.
    pub fn report(&self, program: &str) -> String {
        self.errors
            .iter()
            .map(|f| format!("{program}: {}\n", f.message))
            .collect()
    }

    fn split(findings: Vec<Finding>) -> Verdict {
        let (errors, warnings) = findings
            .into_iter()
            .partition(|f| f.severity == Severity::Error);
        Verdict { errors, warnings }
    }
}

/// pulse (pulse.md §2 steps 6–8): it stops at the first of these that
/// fails: no active service of the selected type; a device name the kernel
/// cannot have (the first one); in fos mode, fos's own refusals
/// ([`fos`]); `primary_private` without `backup_private` while a backup is
/// active. Its warnings are [`crate::validate_for_pulse`]'s (the cleared
/// undefined active backup first); it logs the parser's warnings
/// ([`crate::Parsed::warnings`], e.g. `keepalive = 0`) too, as lvsd and fos
/// do.
pub fn pulse(config: &Config, file: &str) -> Verdict {
    let all = Verdict::split(crate::validate_for_pulse(config, file));
    let first = |kind: FindingKind| all.errors.iter().find(|f| f.kind == kind).cloned();
    let errors = if let Some(f) = first(FindingKind::NoActiveServices) {
        vec![f]
    } else if let Some(f) = first(FindingKind::DeviceNameTooLong) {
        vec![f]
    } else if config.global.service == ServiceType::Fos && fos(config, file).refused() {
        fos(config, file).errors
    } else {
        first(FindingKind::BackupPrivateMissing)
            .into_iter()
            .collect()
    };
    Verdict {
        errors,
        warnings: all.warnings,
    }
}

/// pulse in scale-out mode (docs/scale-out.md): this host must be one of
/// `scale_out_members`, as the role test finds `primary` today. `own` says
/// whether an address is configured on this host (the daemon asks the
/// interfaces; this crate does no I/O). `None`: not scale-out mode, or a
/// member; else the refusal.
pub fn scale_out_member(
    config: &Config,
    file: &str,
    own: impl Fn(std::net::IpAddr) -> bool,
) -> Option<Finding> {
    let g = &config.global;
    if !g.scale_out || g.scale_out_members.iter().any(|&a| own(a)) {
        return None;
    }
    let list: Vec<String> = g.scale_out_members.iter().map(|a| a.to_string()).collect();
    Some(Finding {
        severity: Severity::Error,
        kind: FindingKind::NotAScaleOutMember,
        line: 0,
        message: format!(
            "{file}: scale_out_members: expected an address of this host among them, found {} \
             (none is configured here)",
            list.join(" ")
        ),
        key: Some("scale_out_members"),
        block: None,
    })
}

/// fos (fos.md §1–§2): `service` not `fos` or no failover block (the
/// original's checks: only the first is reported), else every missing
/// `start_cmd`/`stop_cmd` of an active block, a missing
/// `reservation_conflict_action` and shared SCSI (gaps.md F2, F3, F6), and
/// an IPv6 address (fos mode is IPv4 only, lvs.cf(5) IPV6).
/// Its warnings: `timeout` ≤ 0 on an active block.
pub fn fos(config: &Config, file: &str) -> Verdict {
    let mut all = Verdict::split(crate::validate_for_fos(config, file));
    all.errors.extend(crate::shared_scsi_refusal(config, file));
    all.errors
        .extend(crate::validate::fos_ipv6_refusal(config, file));
    if let Some(stop) = all.errors.iter().position(|f| {
        matches!(
            f.kind,
            FindingKind::NotFosService | FindingKind::NoFailoverServices
        )
    }) {
        all.errors.truncate(stop + 1);
    }
    all
}

/// lvsd: the original has no checks; it warns about an active virtual
/// server whose `timeout` nanny would refuse (gaps.md E5).
pub fn lvsd(config: &Config, file: &str) -> Verdict {
    Verdict::split(crate::validate_for_lvsd(config, file))
}

/// How a daemon reports a file that does not load: one line for stderr
/// and, for a parse error, the whole error for syslog. The daemon prints
/// and logs them (this crate does no daemon I/O) and exits with status 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadRefusal {
    /// The line for stderr, `PROGRAM: ` included, no newline.
    pub stderr: String,
    /// The whole parse error, for syslog.
    pub syslog: Option<String>,
}

/// lvsd's and fos's report of a file that does not load: `PROGRAM: failed
/// to open FILE`, or `PROGRAM: error parsing FILE on line N.` (lvsd.md §2,
/// fos.md §1).
pub fn load_refusal(program: &str, file: &str, e: &LoadError) -> LoadRefusal {
    match e {
        LoadError::Open { .. } => LoadRefusal {
            stderr: format!("{program}: failed to open {file}"),
            syslog: None,
        },
        LoadError::Parse(e) => LoadRefusal {
            stderr: format!("{program}: error parsing {file} on line {}.", e.line()),
            syslog: Some(e.to_string()),
        },
    }
}

/// pulse's report of a file that does not load: `pulse: failed to open
/// FILE`, or `pulse: error parsing FILE at line N: MESSAGE` (pulse.md §2).
pub fn pulse_load_refusal(file: &str, e: &LoadError) -> LoadRefusal {
    match e {
        LoadError::Open { .. } => LoadRefusal {
            stderr: format!("pulse: failed to open {file}"),
            syslog: None,
        },
        LoadError::Parse(e) => LoadRefusal {
            stderr: format!(
                "pulse: error parsing {file} at line {}: {}",
                e.line(),
                e.message()
            ),
            syslog: Some(e.to_string()),
        },
    }
}

/// The programs lvs.cf makes a daemon run as root in fos mode, first
/// words of the commands as fos splits them (at every space), in file
/// order without repeats: each active failover block's `start_cmd`,
/// `stop_cmd` and `client_monitor` (gaps.md A2: pulse warns when one of
/// them can be replaced by another user).
pub fn fos_programs(config: &Config, quotes: QuoteMode) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in config.failovers.iter().filter(|s| s.active) {
        let words = [
            s.start_cmd_arg(quotes).unwrap_or_default(),
            s.stop_cmd_arg(quotes).unwrap_or_default(),
            s.client_monitor.as_str(),
        ];
        for w in words {
            if w.is_empty() {
                continue;
            }
            let first = w.split(' ').next().unwrap_or_default().to_string();
            if !out.contains(&first) {
                out.push(first);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Config {
        crate::parse_bytes_with(text.as_bytes(), "lvs.cf", &crate::StaticResolver::default())
            .expect("parses")
            .config
    }

    const LVS: &str = "primary = 192.0.2.1\nbackup = 192.0.2.2\nbackup_active = 1\n\
        keepalive = 2\ndeadtime = 6\nvirtual web {\n active = 1\n address = 192.0.2.100 eth0:1\n}\n";

    const FOS: &str = "service = fos\nprimary = 192.0.2.1\n\
        failover web {\nactive = 1\naddress = 192.0.2.100 eth0:1\n\
        start_cmd = \"/bin/web start\"\nstop_cmd = \"/bin/web stop\"\n}\n";

    #[test]
    fn pulse_stops_at_its_first_failing_check() {
        let v = pulse(&parse(LVS), "lvs.cf");
        assert_eq!(v, Verdict::default());
        let t = LVS.replace("eth0:1", "averyverylongname:1") + "virtual b {\n active = 0\n}\n";
        assert_eq!(
            pulse(&parse(&t), "lvs.cf").report("pulse"),
            "pulse: lvs.cf:6: address: expected a device name of at most 15 characters, found \"averyverylongname:1\" (virtual server web)\n"
        );
        let t = LVS.replace(" active = 1", " active = 0");
        assert_eq!(
            pulse(&parse(&t), "lvs.cf").report("pulse"),
            "pulse: no active lvs services defined in lvs.cf\n"
        );
        let t = LVS.replace("keepalive = 2", "keepalive = 2\nprimary_private = 10.0.0.1");
        let v = pulse(&parse(&t), "lvs.cf");
        assert_eq!(v.errors[0].kind, FindingKind::BackupPrivateMissing);
        // fos mode: fos's refusals, after pulse's own
        let t = FOS.replace("stop_cmd = \"/bin/web stop\"\n", "");
        assert_eq!(pulse(&parse(&t), "lvs.cf"), fos(&parse(&t), "lvs.cf"));
    }

    #[test]
    fn pulse_warnings_for_risky_configs() {
        let t = LVS
            .replace("keepalive = 2", "keepalive = 0")
            .replace("deadtime = 6", "deadtime = 0")
            + "virtual e {\n active = 1\n address = 192.0.2.9 eth0\n}\n\
               virtual f {\n active = 1\n address = 192.0.2.10 eth0:1\n}\n";
        let v = pulse(&parse(&t), "lvs.cf");
        assert!(!v.refused());
        let kinds: Vec<_> = v.warnings.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            [
                FindingKind::BaseDevice,
                FindingKind::SharedAlias,
                FindingKind::DeadtimeNotAboveKeepalive
            ]
        );
        // the NAT router's label counts too
        let n = LVS.replace("service = lvs\n", "").replace(
            "keepalive = 2",
            "network = nat\nnat_router = 10.0.0.254 eth0:1\nkeepalive = 2",
        );
        let v = pulse(&parse(&n), "lvs.cf");
        assert_eq!(v.warnings.len(), 1, "{:?}", v.warnings);
        assert!(
            v.warnings[0]
                .message
                .contains("also used by nat_router for 10.0.0.254")
        );
        // without an active backup no heartbeat is awaited: deadtime does
        // not matter (piranha-rs decision, lvs-cf.md §10)
        let t = t.replace("backup_active = 1", "backup_active = 0");
        assert!(
            pulse(&parse(&t), "lvs.cf")
                .warnings
                .iter()
                .all(|f| f.kind != FindingKind::DeadtimeNotAboveKeepalive)
        );
    }

    #[test]
    fn fos_stops_after_an_original_check() {
        let v = fos(&parse("service = lvs\n"), "lvs.cf");
        assert_eq!(
            v.report("fos"),
            "fos: Service type is not \"fos\" in lvs.cf\n"
        );
        assert!(!fos(&parse(FOS), "lvs.cf").refused());
    }

    #[test]
    fn programs_fos_runs() {
        let t = FOS.to_string()
            + "failover b {\nactive = 1\nstart_cmd = \"/bin/web  x\"\nstop_cmd = /bin/other\n}\n\
               failover c {\nactive = 0\nstart_cmd = /bin/off\n}\n";
        assert_eq!(
            fos_programs(&parse(&t), QuoteMode::default()),
            ["/bin/web", "/usr/sbin/nanny", "/bin/other"]
        );
    }

    // Moved from fos's config.rs (fos and pulse in fos mode print these).
    const GOOD: &str = "service = fos\nprimary = 192.0.2.1\n\
        failover web {\nactive = 1\naddress = 192.0.2.100 eth0:1\n\
        start_cmd = \"/bin/web start\"\nstop_cmd = \"/bin/web stop\"\n}\n";

    #[test]
    fn a_complete_file_has_no_refusal() {
        assert!(fos(&parse(GOOD), "lvs.cf").errors.is_empty());
    }

    #[test]
    fn original_checks_stop_at_the_first() {
        let r = fos(&parse("service = lvs\n"), "lvs.cf");
        assert_eq!(
            r.report("fos"),
            "fos: Service type is not \"fos\" in lvs.cf\n"
        );
        let r = fos(&parse("service = fos\n"), "lvs.cf");
        assert_eq!(
            r.report("fos"),
            "fos: No Failover Services defined in lvs.cf.\n"
        );
    }

    #[test]
    fn missing_commands_are_errors_f2() {
        let text = GOOD.replace("stop_cmd = \"/bin/web stop\"\n", "");
        let r = fos(&parse(&text), "lvs.cf");
        assert_eq!(
            r.report("pulse"),
            "pulse: lvs.cf:3: failover web: stop_cmd: expected a stop_cmd command in an active failover block, found none\n"
        );
        // inactive blocks need none
        let text = GOOD
            .replace("active = 1", "active = 0")
            .replace("start_cmd = \"/bin/web start\"\n", "");
        assert!(fos(&parse(&text), "lvs.cf").errors.is_empty());
    }

    #[test]
    fn shared_scsi_is_refused_f3_and_f6() {
        let with = GOOD.replace(
            "primary = 192.0.2.1\n",
            "primary = 192.0.2.1\nprimary_shared = /dev/sdb\nbackup_shared = /dev/sdc\n",
        );
        let r = fos(&parse(&with), "lvs.cf");
        assert_eq!(
            r.report("fos"),
            "fos: lvs.cf: reservation_conflict_action: expected nothing or preempt because primary_shared and backup_shared are set, found none\n\
             fos: lvs.cf: primary_shared, backup_shared: expected no shared SCSI device, found \"/dev/sdb\" and \"/dev/sdc\" (shared SCSI reservation with /usr/sbin/scsi_reserve is not supported; remove both keys and fence the shared disk by other means)\n"
        );
        let with_action = with.replace(
            "service = fos\n",
            "service = fos\nreservation_conflict_action = preempt\n",
        );
        let r = fos(&parse(&with_action), "lvs.cf").errors;
        assert_eq!(r.len(), 1);
        assert!(r[0].message.contains("expected no shared SCSI device"));
        // only one of the two devices: shared SCSI is off, as in the original
        let one = GOOD.replace(
            "primary = 192.0.2.1\n",
            "primary = 192.0.2.1\nprimary_shared = /dev/sdb\n",
        );
        assert!(fos(&parse(&one), "lvs.cf").errors.is_empty());
    }
}
