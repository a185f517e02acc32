//! Checking lvs.cf text the way the daemons will: the parser, then the
//! start-up checks of pulse and of lvsd or fos ([`daemon_findings`], which
//! `lvscf check` prints too). Each [`Problem`] says which line, block and
//! key it is about, so that a form can show it next to its field.

use std::fmt;

use crate::edit::{Index, Section};
use crate::error::ConfigError;
use crate::model::{Config, ServiceType};
use crate::parse::{Parsed, parse_bytes_with};
use crate::validate::{Finding, FindingKind, Severity};
use crate::value::{Resolver, SystemResolver};

/// The findings of the start-up checks of pulse, and of lvsd or fos (by
/// `service`): each daemon's [`crate::startup`] verdict, errors then
/// warnings, pulse's first, without repeating a message (pulse in fos mode
/// refuses with fos's messages). Exactly what the daemons print when they
/// refuse the file. `timeout ≤ 0` is left out: the parser already warns
/// about it.
pub fn daemon_findings(config: &Config, file: &str) -> Vec<Finding> {
    let other = match config.global.service {
        ServiceType::Lvs => crate::startup::lvsd(config, file),
        ServiceType::Fos => crate::startup::fos(config, file),
    };
    let pulse = crate::startup::pulse(config, file);
    let mut findings: Vec<Finding> = Vec::new();
    for f in pulse
        .errors
        .into_iter()
        .chain(other.errors)
        .chain(pulse.warnings)
        .chain(other.warnings)
    {
        if f.kind != FindingKind::TimeoutNotPositive
            && !findings.iter().any(|g| g.message == f.message)
        {
            findings.push(f);
        }
    }
    findings
}

/// One reason a text is refused (an error) or worth a look (a warning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Error (a daemon would not start with it) or warning.
    pub severity: Severity,
    /// 1-based line; 0 when it is about the file as a whole (e.g. no
    /// active virtual server).
    pub line: usize,
    /// The block it is in or about ([`Section::Global`] for the top level).
    pub section: Section,
    /// The key it is about, when known.
    pub key: Option<String>,
    /// The whole message, `FILE:LINE: KEY: …` as `lvscf check` prints it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A text that passed: what it says, and its warnings.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The parse result.
    pub parsed: Parsed,
    /// Warnings (parser's and daemons'), in order.
    pub warnings: Vec<Problem>,
}

/// [`check_with`] with the system resolver.
pub fn check(text: &str, file: &str) -> Result<Checked, Vec<Problem>> {
    check_with(text, file, &SystemResolver::default())
}

/// Checks `text` (named `file` in messages) as the daemons will read it:
/// `Ok` when it parses and no start-up check refuses it, else every
/// problem found (the parser stops at its first error; the daemons'
/// checks run only on a file that parses), warnings included.
pub fn check_with(
    text: &str,
    file: &str,
    resolver: &dyn Resolver,
) -> Result<Checked, Vec<Problem>> {
    let ix = Index::new(text);
    let parsed = match parse_bytes_with(text.as_bytes(), file, resolver) {
        Ok(p) => p,
        Err(e) => return Err(vec![parse_problem(&ix, &e)]),
    };
    let mut problems: Vec<Problem> = parsed
        .warnings
        .iter()
        .map(|w| Problem {
            severity: Severity::Warning,
            line: w.line,
            section: section_at(&ix, w.line),
            key: w.key.clone(),
            message: w.to_string(),
        })
        .collect();
    for f in daemon_findings(&parsed.config, file) {
        problems.push(finding_problem(&ix, f, file));
    }
    if problems.iter().any(|p| p.severity == Severity::Error) {
        Err(problems)
    } else {
        Ok(Checked {
            parsed,
            warnings: problems,
        })
    }
}

fn section_at(ix: &Index<'_>, line: usize) -> Section {
    if line == 0 {
        Section::Global
    } else {
        ix.section_of(line - 1)
    }
}

fn parse_problem(ix: &Index<'_>, e: &ConfigError) -> Problem {
    Problem {
        severity: Severity::Error,
        line: e.line,
        section: section_at(ix, e.line),
        key: e.key.clone(),
        message: e.to_string(),
    }
}

/// A finding with the line of its key (or block) looked up in the text.
fn finding_problem(ix: &Index<'_>, f: Finding, file: &str) -> Problem {
    let section = f.block.clone().unwrap_or(Section::Global);
    let line = f
        .key
        .and_then(|k| ix.key_line(&section, k))
        .or_else(|| f.block.as_ref().and_then(|b| ix.block_line(b)))
        .unwrap_or(f.line);
    let message = if f.message.starts_with(file) {
        f.message
    } else {
        format!("{file}: {}", f.message)
    };
    Problem {
        severity: f.severity,
        line,
        section,
        key: f.key.map(str::to_string),
        message,
    }
}

fn global_commands(cfg: &Config) -> [(&'static str, Option<String>); 4] {
    let g = &cfg.global;
    [
        ("active_cmd", g.active_cmd.clone()),
        ("inactive_cmd", g.inactive_cmd.clone()),
        ("ipvsadm", Some(g.ipvsadm.clone())),
        ("rsh_command", Some(g.rsh_command.clone())),
    ]
}

fn block_commands(s: &crate::model::Service) -> [(&'static str, Option<String>); 5] {
    [
        ("send_program", s.send_program.clone()),
        ("load_monitor", s.load_monitor.clone()),
        ("client_monitor", Some(s.client_monitor.clone())),
        ("start_cmd", s.start_cmd.clone()),
        ("stop_cmd", s.stop_cmd.clone()),
    ]
}

/// The command keys (those whose values lvs.cf's daemons run as root:
/// `active_cmd`, `inactive_cmd`, `ipvsadm`, `rsh_command` at the top level;
/// `send_program`, `load_monitor`, `client_monitor`, `start_cmd`,
/// `stop_cmd` per block) that `new` changes from `old`, as `BLOCK: KEY`
/// (`global: KEY` at the top level). Compared per block: a block of the
/// same kind and name must have the same ones; a new block must have the
/// defaults, or those of an old block that is gone (a rename). Empty when
/// the command keys are as they were.
pub fn command_changes(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for ((k, a), (_, b)) in global_commands(old).iter().zip(global_commands(new).iter()) {
        if a != b {
            out.push(format!("global: {k}"));
        }
    }
    let olds: Vec<&crate::model::Service> = old.virtuals.iter().chain(&old.failovers).collect();
    let news: Vec<&crate::model::Service> = new.virtuals.iter().chain(&new.failovers).collect();
    for n in &news {
        let mine = block_commands(n);
        let against = match olds.iter().find(|o| o.kind == n.kind && o.name == n.name) {
            Some(o) => block_commands(o),
            None => {
                let renamed = olds.iter().find(|o| {
                    o.kind == n.kind
                        && !news.iter().any(|m| m.kind == o.kind && m.name == o.name)
                        && block_commands(o) == mine
                });
                match renamed {
                    Some(o) => block_commands(o),
                    None => block_commands(&crate::model::Service::new(n.name.clone(), n.kind)),
                }
            }
        };
        for ((k, a), (_, b)) in against.iter().zip(mine.iter()) {
            if a != b {
                out.push(format!("{}: {k}", n.name));
            }
        }
    }
    out
}

/// Whether the command keys of `new` are those of `old`
/// ([`command_changes`] is empty).
pub fn commands_unchanged(old: &Config, new: &Config) -> bool {
    command_changes(old, new).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StaticResolver;

    fn problems(text: &str) -> Vec<Problem> {
        check_with(text, "lvs.cf", &StaticResolver::default()).unwrap_err()
    }

    const OK: &str = "service = lvs\nprimary = 10.0.0.1\n\nvirtual www {\n    active = 1\n    \
                      address = 192.0.2.1 eth0:1\n    server a {\n        address = 10.0.0.5\n        \
                      active = 1\n    }\n}\n";

    #[test]
    fn a_good_file_passes() {
        let c = check_with(OK, "lvs.cf", &StaticResolver::default()).unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(c.parsed.config.virtuals.len(), 1);
    }

    #[test]
    fn parse_errors_carry_line_block_and_key() {
        let p = problems(&OK.replace("10.0.0.5", "10.1.2.300"));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].line, 8);
        assert_eq!(p[0].section, Section::server("www", "a"));
        assert_eq!(p[0].key.as_deref(), Some("address"));
        assert!(
            p[0].message
                .starts_with("lvs.cf:8: address: expected an IPv4 address")
        );
        let p = problems(&OK.replace("primary = 10.0.0.1", "primary = 10.0.0.1\nport = 70000"));
        assert_eq!((p[0].line, &p[0].section), (3, &Section::Global));
    }

    #[test]
    fn daemon_checks_point_at_their_key() {
        // pulse: no active service (the file as a whole).
        let p = problems(&OK.replace("    active = 1\n    address", "    active = 0\n    address"));
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].line, p[0].key.as_deref()), (0, None));
        assert_eq!(
            p[0].message,
            "lvs.cf: no active lvs services defined in lvs.cf"
        );
        // pulse: a device name over 15 bytes, on the virtual's address line.
        let p = problems(&OK.replace("eth0:1", "averyveryverylongname:1"));
        let e: Vec<_> = p.iter().filter(|p| p.severity == Severity::Error).collect();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, 6);
        assert_eq!(e[0].section, Section::virtual_("www"));
        assert_eq!(e[0].key.as_deref(), Some("address"));
        // fos: missing stop_cmd in an active failover block: its opening line.
        let fos = "service = fos\nprimary = 10.0.0.1\nfailover f {\n  active = 1\n  \
                   address = 192.0.2.1 eth0:1\n  start_cmd = /bin/true\n}\n";
        let p = problems(fos);
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].line, p[0].key.as_deref()), (3, Some("stop_cmd")));
        assert_eq!(p[0].section, Section::failover("f"));
    }

    #[test]
    fn shared_scsi_is_refused_in_fos_mode_only() {
        let fos = "service = fos\nprimary = 10.0.0.1\nprimary_shared = /dev/sda\n\
                   backup_shared = /dev/sdb\nreservation_conflict_action = preempt\n\
                   failover f {\n  active = 1\n  address = 192.0.2.1 eth0:1\n  \
                   start_cmd = /bin/true\n  stop_cmd = /bin/true\n}\n";
        let p = problems(fos);
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].line, p[0].key.as_deref()),
            (3, Some("primary_shared"))
        );
        assert!(p[0].message.contains("expected no shared SCSI device"));
        let lvs = fos
            .replace("service = fos", "service = lvs")
            .replace("failover f", "virtual f");
        assert!(check_with(&lvs, "lvs.cf", &StaticResolver::default()).is_ok());
    }

    #[test]
    fn device_names_are_checked_as_pulse_does() {
        // pulse refuses a long device on an active block of the other type
        // too, and nat_router's in fos mode.
        let t = format!(
            "{OK}failover f {{\n  active = 1\n  address = 192.0.2.9 averyveryverylong:1\n}}\n"
        );
        let p = problems(&t);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!((p[0].line, &p[0].section), (14, &Section::failover("f")));
        let t = "service = fos\nnetwork = nat\nnat_router = 10.0.0.254 averyveryverylong:1\n\
                 failover f {\n  active = 1\n  address = 192.0.2.1 eth0:1\n  start_cmd = /bin/true\n  \
                 stop_cmd = /bin/true\n}\n";
        let p = problems(t);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!((p[0].line, p[0].key.as_deref()), (3, Some("nat_router")));
    }

    #[test]
    fn backup_private_is_needed_when_pulse_needs_it() {
        let pair = "serial_no = 1\nprimary = 10.0.0.1\nbackup_active = 1\nbackup = 10.0.0.2\n\
                    keepalive = 2\ndeadtime = 10\n";
        let t = format!(
            "{pair}primary_private = 10.9.0.1\n{}",
            OK.replace("primary = 10.0.0.1\n", "")
        );
        let p = problems(&t);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(
            (p[0].line, p[0].key.as_deref()),
            (0, Some("backup_private"))
        );
        // primary_private equal to primary: no private heartbeat, pulse starts.
        let t = t.replace("primary_private = 10.9.0.1", "primary_private = 10.0.0.1");
        assert!(check_with(&t, "lvs.cf", &StaticResolver::default()).is_ok());
    }

    #[test]
    fn warnings_do_not_refuse() {
        let t = OK.replace("eth0:1", "eth0");
        let c = check_with(&t, "lvs.cf", &StaticResolver::default()).unwrap();
        assert_eq!(c.warnings.len(), 1);
        assert_eq!(c.warnings[0].key.as_deref(), Some("address"));
        assert_eq!(c.warnings[0].line, 6);
    }

    #[test]
    fn command_guard() {
        let cf = "serial_no = 3\nprimary = 10.0.0.1\nservice = lvs\nnetwork = nat\n\
                  nat_router = 192.168.1.254 eth1:1\n\nvirtual www {\n    active = 1\n    \
                  address = 192.0.2.1 eth0:1\n}\n";
        let a = crate::parse_bytes_with(cf.as_bytes(), "lvs.cf", &crate::StaticResolver::default())
            .unwrap()
            .config;
        let mut b = a.clone();
        assert!(commands_unchanged(&a, &b));
        b.global.active_cmd = Some("/bin/sh".into());
        assert_eq!(command_changes(&a, &b), ["global: active_cmd"]);
        let mut c = a.clone();
        c.virtuals
            .push(crate::Service::new("new", crate::BlockKind::Virtual));
        assert!(commands_unchanged(&a, &c), "a new block with defaults");
        c.virtuals[1].send_program = Some("/bin/sh".into());
        assert_eq!(command_changes(&a, &c), ["new: send_program"]);
        let mut r = a.clone();
        r.virtuals[0].name = "renamed".into();
        assert!(commands_unchanged(&a, &r), "a rename keeps them");
        let mut w = a.clone();
        w.virtuals[0].stop_cmd = Some("/bin/true".into());
        assert_eq!(command_changes(&a, &w), ["www: stop_cmd"]);
    }
}
