//! The configuration checks fos and pulse (in fos mode) run before they
//! start: lvscf's fos checks (fos.md §1, gaps.md F2 and F3) and the
//! refusal of shared SCSI reservation (gaps.md F6: not implemented, so a
//! file that enables it is an error rather than a cluster without fencing).

use lvscf::{Config, FindingKind, Severity};

/// A reason not to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The message, without a program prefix.
    pub message: String,
    /// One of the original's own checks (service type, no failover
    /// blocks): the original stops at the first of these, so nothing after
    /// it is reported.
    pub stops: bool,
}

/// Every reason `config` (read from `file`) cannot be run in fos mode, in
/// the order they are reported.
pub fn refusals(config: &Config, file: &str) -> Vec<Refusal> {
    let mut out: Vec<Refusal> = lvscf::validate_for_fos(config, file)
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| Refusal {
            stops: matches!(
                f.kind,
                FindingKind::NotFosService | FindingKind::NoFailoverServices
            ),
            message: f.message,
        })
        .collect();
    if let Some(message) = shared_scsi(config, file) {
        out.push(Refusal {
            message,
            stops: false,
        });
    }
    out
}

/// gaps.md F6: shared SCSI reservation (fos.md §7) is on when both
/// `primary_shared` and `backup_shared` are set; it is not supported
/// (the message of [`lvscf::shared_scsi_refusal`], which `lvscf check`
/// applies too).
pub fn shared_scsi(config: &Config, file: &str) -> Option<String> {
    lvscf::shared_scsi_refusal(config, file).map(|f| f.message)
}

/// The text to print for `refusals`, one line each (with `program: `
/// before it), stopping after an original check.
pub fn report(program: &str, refusals: &[Refusal]) -> String {
    let mut out = String::new();
    for r in refusals {
        out.push_str(program);
        out.push_str(": ");
        out.push_str(&r.message);
        out.push('\n');
        if r.stops {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Config {
        lvscf::parse_str(text, "lvs.cf").expect("parses").config
    }

    const GOOD: &str = "service = fos\nprimary = 192.0.2.1\n\
        failover web {\nactive = 1\naddress = 192.0.2.100 eth0:1\n\
        start_cmd = \"/bin/web start\"\nstop_cmd = \"/bin/web stop\"\n}\n";

    #[test]
    fn a_complete_file_has_no_refusal() {
        assert!(refusals(&parse(GOOD), "lvs.cf").is_empty());
    }

    #[test]
    fn original_checks_stop_at_the_first() {
        let r = refusals(&parse("service = lvs\n"), "lvs.cf");
        assert_eq!(
            report("fos", &r),
            "fos: Service type is not \"fos\" in lvs.cf\n"
        );
        let r = refusals(&parse("service = fos\n"), "lvs.cf");
        assert_eq!(
            report("fos", &r),
            "fos: No Failover Services defined in lvs.cf.\n"
        );
    }

    #[test]
    fn missing_commands_are_errors_f2() {
        let text = GOOD.replace("stop_cmd = \"/bin/web stop\"\n", "");
        let r = refusals(&parse(&text), "lvs.cf");
        assert_eq!(
            report("pulse", &r),
            "pulse: lvs.cf:3: failover web: stop_cmd: expected a stop_cmd command in an active failover block, found none\n"
        );
        // inactive blocks need none
        let text = GOOD
            .replace("active = 1", "active = 0")
            .replace("start_cmd = \"/bin/web start\"\n", "");
        assert!(refusals(&parse(&text), "lvs.cf").is_empty());
    }

    #[test]
    fn shared_scsi_is_refused_f3_and_f6() {
        let with = GOOD.replace(
            "primary = 192.0.2.1\n",
            "primary = 192.0.2.1\nprimary_shared = /dev/sdb\nbackup_shared = /dev/sdc\n",
        );
        let r = refusals(&parse(&with), "lvs.cf");
        assert_eq!(
            report("fos", &r),
            "fos: lvs.cf: reservation_conflict_action: expected nothing or preempt because primary_shared and backup_shared are set, found none\n\
             fos: lvs.cf: primary_shared, backup_shared: expected no shared SCSI device, found \"/dev/sdb\" and \"/dev/sdc\" (shared SCSI reservation with /usr/sbin/scsi_reserve is not supported; remove both keys and fence the shared disk by other means)\n"
        );
        let with_action = with.replace(
            "service = fos\n",
            "service = fos\nreservation_conflict_action = preempt\n",
        );
        let r = refusals(&parse(&with_action), "lvs.cf");
        assert_eq!(r.len(), 1);
        assert!(r[0].message.contains("expected no shared SCSI device"));
        // only one of the two devices: shared SCSI is off, as in the original
        let one = GOOD.replace(
            "primary = 192.0.2.1\n",
            "primary = 192.0.2.1\nprimary_shared = /dev/sdb\n",
        );
        assert!(refusals(&parse(&one), "lvs.cf").is_empty());
    }
}
