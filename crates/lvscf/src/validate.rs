//! Post-parse checks the daemons run (lvs-cf.md §10, plus the gaps.md fixes
//! that turn crashes and silent breakage into clear messages).
//!
//! Each function returns findings in the order the original program meets
//! them. For behaviour the original has, [`Finding::message`] is the
//! original's exact text without the program prefix (the daemon prints
//! `pulse: ` / `fos: ` before it, or logs it); for the new checks it is a
//! `FILE:LINE: KEY: expected …, found …` sentence.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use crate::edit::Section;
use crate::model::{BlockKind, Config, Network, Service, ServiceType};

/// Whether a finding stops the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The program must not start with this configuration.
    Error,
    /// Log it and carry on.
    Warning,
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindingKind {
    /// pulse: `backup_active = 1` with `backup` unset/0.0.0.0; pulse clears
    /// `backup_active` and logs the message (original behaviour).
    UndefinedBackupActive,
    /// pulse: no `active = 1` block of the selected type; exit 1
    /// (original behaviour).
    NoActiveServices,
    /// pulse: `primary_private` given without `backup_private` while a
    /// backup is active (gaps.md B7: the original fails to bind on the
    /// backup with `Address already in use`).
    BackupPrivateMissing,
    /// pulse: an interface name longer than 15 bytes (gaps.md A5).
    DeviceNameTooLong,
    /// pulse: a VIP on a base device, not an alias (gaps.md C11).
    BaseDevice,
    /// pulse: two VIPs on the same alias label (gaps.md C12).
    SharedAlias,
    /// pulse: `deadtime` not above `keepalive` (gaps.md C15), with an
    /// active backup (without one no heartbeat is awaited).
    DeadtimeNotAboveKeepalive,
    /// fos: `service` is not `fos` (original behaviour).
    NotFosService,
    /// fos: no `failover` block (original behaviour).
    NoFailoverServices,
    /// fos: an active failover block without `start_cmd` or `stop_cmd`
    /// (gaps.md F2).
    MissingStartStopCmd,
    /// fos: shared SCSI enabled without `reservation_conflict_action`
    /// (gaps.md F3).
    MissingConflictAction,
    /// lvsd/fos: `timeout` ≤ 0 on an active block (nanny rejects it,
    /// gaps.md E5).
    TimeoutNotPositive,
    /// fos and pulse in fos mode: shared SCSI reservation is enabled
    /// (`primary_shared` and `backup_shared`), which is not supported
    /// (gaps.md F6); [`shared_scsi_refusal`].
    SharedScsiUnsupported,
    /// fos and pulse in fos mode: an IPv6 address where fos mode uses one
    /// (`primary`, `backup`, the private pair, a failover block's
    /// `address`); IPv6 is for `service = lvs` only ([`fos_ipv6_refusal`]).
    FosIpv6,
    /// pulse in scale-out mode: none of `scale_out_members` is an address
    /// of this host ([`crate::startup::scale_out_member`]).
    NotAScaleOutMember,
}

/// One result of a `validate_for_*` function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// What it is about.
    pub kind: FindingKind,
    /// Line of the block concerned; 0 for global settings.
    pub line: usize,
    /// The message (see the module documentation).
    pub message: String,
    /// The key it is about, when there is one (`deadtime`, `address`, …).
    pub key: Option<&'static str>,
    /// The block it is about; `None` for global settings.
    pub block: Option<Section>,
}

impl Finding {
    fn key(mut self, key: &'static str) -> Finding {
        self.key = Some(key);
        self
    }

    fn of(mut self, s: &Service) -> Finding {
        self.block = Some(match s.kind {
            BlockKind::Virtual => Section::Virtual(s.name.clone()),
            BlockKind::Failover => Section::Failover(s.name.clone()),
        });
        self
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Kernel limit on interface names (IFNAMSIZ - 1).
const IFNAME_MAX: usize = 15;

fn err(kind: FindingKind, line: usize, message: String) -> Finding {
    Finding {
        severity: Severity::Error,
        kind,
        line,
        message,
        key: None,
        block: None,
    }
}

fn warn(kind: FindingKind, line: usize, message: String) -> Finding {
    Finding {
        severity: Severity::Warning,
        kind,
        line,
        message,
        key: None,
        block: None,
    }
}

fn at(file: &str, line: usize, key: &str) -> String {
    if line == 0 {
        format!("{file}: {key}")
    } else {
        format!("{file}:{line}: {key}")
    }
}

/// pulse's checks, in pulse's start-up order (pulse.md §2 steps 6–8).
pub fn validate_for_pulse(config: &Config, file: &str) -> Vec<Finding> {
    let g = &config.global;
    let mut out = Vec::new();
    // Scale-out mode has no partner: the pair's checks do not apply (the
    // parser warns that their keys are ignored).
    let mut backup_active = g.backup_active && !g.scale_out;
    if backup_active && g.backup_addr().is_unspecified() {
        backup_active = false;
        out.push(
            warn(
                FindingKind::UndefinedBackupActive,
                0,
                "Undefined backup node marked as active? -- clearing that!".into(),
            )
            .key("backup_active"),
        );
    }
    let selected = config.selected_services();
    if !selected.iter().any(|s| s.active) {
        out.push(err(
            FindingKind::NoActiveServices,
            0,
            format!(
                "no active {} services defined in {file}",
                g.service.as_str()
            ),
        ));
    }
    // As pulse decides it: private heartbeats are on when primary_private
    // differs from primary, and then both ends need a private address.
    if backup_active
        && g.primary_private_addr() != g.primary_addr()
        && (g.primary_private_addr().is_unspecified() || g.backup_private_addr().is_unspecified())
    {
        out.push(
            err(
                FindingKind::BackupPrivateMissing,
                0,
                format!(
                    "{}: expected backup_private because primary_private is set, found none \
                 (the backup could not bind its private heartbeat socket)",
                    at(file, 0, "backup_private")
                ),
            )
            .key("backup_private"),
        );
    }
    // gaps.md A5: pulse refuses a device name that is too long on any
    // active block (virtual, then failover, also of the type `service`
    // does not select), then on nat_router with network = nat (in fos
    // mode too), with pulse's own text.
    for s in config
        .virtuals
        .iter()
        .chain(&config.failovers)
        .filter(|s| s.active && !g.scale_out)
    {
        let Some(a) = &s.address else { continue };
        if a.device.len() > IFNAME_MAX {
            let what = match s.kind {
                BlockKind::Virtual => "virtual server",
                BlockKind::Failover => "failover service",
            };
            out.push(
                err(
                    FindingKind::DeviceNameTooLong,
                    s.line.0,
                    format!(
                        "{}: expected a device name of at most {IFNAME_MAX} characters, found {:?} ({what} {})",
                        at(file, s.line.0, "address"),
                        a.device,
                        s.name
                    ),
                )
                .key("address")
                .of(s),
            );
        }
    }
    if g.network == Network::Nat
        && let Some(nat) = &g.nat_router
    {
        if nat.device.len() > IFNAME_MAX {
            out.push(
                err(
                    FindingKind::DeviceNameTooLong,
                    0,
                    format!(
                        "{}: expected a device name of at most {IFNAME_MAX} characters, found {:?}",
                        at(file, 0, "nat_router"),
                        nat.device
                    ),
                )
                .key("nat_router"),
            );
        } else if g.service == ServiceType::Lvs
            && nat.host.addr.is_ipv4()
            && !nat.device.contains(':')
        {
            out.push(
                warn(
                    FindingKind::BaseDevice,
                    0,
                    format!(
                        "{}: expected an alias device such as {}:1, found the base device {:?} \
                     (pulse replaces its address and takes it down on deactivation)",
                        at(file, 0, "nat_router"),
                        nat.device,
                        nat.device
                    ),
                )
                .key("nat_router"),
            );
        }
    }
    if g.network == Network::Nat
        && let Some(nat) = &g.nat_router6
        && nat.device.len() > IFNAME_MAX
    {
        out.push(
            err(
                FindingKind::DeviceNameTooLong,
                0,
                format!(
                    "{}: expected a device name of at most {IFNAME_MAX} characters, found {:?}",
                    at(file, 0, "nat_router6"),
                    nat.device
                ),
            )
            .key("nat_router6"),
        );
    }
    // Who uses each device label first: the NAT router (lvs mode, network
    // = nat: pulse brings it up first), then the VIPs in file order. IPv6
    // addresses have no labels (lvs.cf(5), IPV6): neither check applies.
    let mut labels: HashMap<&str, (IpAddr, String)> = HashMap::new();
    if g.service == ServiceType::Lvs
        && g.network == Network::Nat
        && let Some((nat, _)) = g.ipv4_nat_router()
    {
        labels.insert(nat.device.as_str(), (nat.host.addr, "nat_router".into()));
    }
    // Scale-out mode puts the VIPs on announce_device: no labels either.
    for s in selected.iter().filter(|s| s.active && !g.scale_out) {
        let Some(a) = &s.address else { continue };
        if a.host.addr.is_ipv6() {
            continue;
        }
        let line = s.line.0;
        let key = format!("{} {}: address", s.kind.as_str(), s.name);
        if !a.device.contains(':') {
            out.push(
                warn(
                    FindingKind::BaseDevice,
                    line,
                    format!(
                        "{}: expected an alias device such as {}:1, found the base device {:?} \
                     (pulse replaces its address and takes it down on deactivation)",
                        at(file, line, &key),
                        a.device,
                        a.device
                    ),
                )
                .key("address")
                .of(s),
            );
        }
        match labels.get(a.device.as_str()) {
            Some((addr, other)) if *addr != a.host.addr => out.push(warn(
                FindingKind::SharedAlias,
                line,
                format!(
                    "{}: expected a device label of its own, found {:?} also used by {other} for {addr} \
                     (the addresses overwrite each other)",
                    at(file, line, &key),
                    a.device,
                ),
            ).key("address").of(s)),
            Some(_) => {}
            None => {
                labels.insert(
                    a.device.as_str(),
                    (a.host.addr, format!("{} {}", s.kind.as_str(), s.name)),
                );
            }
        }
    }
    if backup_active && g.deadtime <= g.keepalive {
        out.push(
            warn(
                FindingKind::DeadtimeNotAboveKeepalive,
                0,
                format!(
                    "{}: expected a deadtime above keepalive ({}), found {} (the partner will flap \
                 between dead and alive)",
                    at(file, 0, "deadtime"),
                    g.keepalive,
                    g.deadtime
                ),
            )
            .key("deadtime"),
        );
    }
    out
}

fn timeouts(list: &[Service], file: &str, out: &mut Vec<Finding>) {
    for s in list.iter().filter(|s| s.active && s.timeout <= 0) {
        let key = format!("{} {}: timeout", s.kind.as_str(), s.name);
        out.push(
            warn(
                FindingKind::TimeoutNotPositive,
                s.line.0,
                format!(
                    "{}: expected a timeout > 0, found {} (nanny refuses to run)",
                    at(file, s.line.0, &key),
                    s.timeout
                ),
            )
            .key("timeout")
            .of(s),
        );
    }
}

/// fos's checks (fos.md §1–§2, gaps.md F2/F3).
pub fn validate_for_fos(config: &Config, file: &str) -> Vec<Finding> {
    let g = &config.global;
    let mut out = Vec::new();
    if g.service != ServiceType::Fos {
        out.push(
            err(
                FindingKind::NotFosService,
                0,
                format!("Service type is not \"fos\" in {file}"),
            )
            .key("service"),
        );
    }
    if config.failovers.is_empty() {
        out.push(err(
            FindingKind::NoFailoverServices,
            0,
            format!("No Failover Services defined in {file}."),
        ));
    }
    for s in config.failovers.iter().filter(|s| s.active) {
        for (key, v) in [("start_cmd", &s.start_cmd), ("stop_cmd", &s.stop_cmd)] {
            if v.is_none() {
                let k = format!("failover {}: {key}", s.name);
                out.push(
                    err(
                        FindingKind::MissingStartStopCmd,
                        s.line.0,
                        format!(
                            "{}: expected a {key} command in an active failover block, found none",
                            at(file, s.line.0, &k)
                        ),
                    )
                    .key(key)
                    .of(s),
                );
            }
        }
    }
    if g.shared_scsi() && g.reservation_conflict_action.is_none() {
        out.push(
            err(
                FindingKind::MissingConflictAction,
                0,
                format!(
                    "{}: expected nothing or preempt because primary_shared and backup_shared are \
                 set, found none",
                    at(file, 0, "reservation_conflict_action")
                ),
            )
            .key("reservation_conflict_action"),
        );
    }
    timeouts(&config.failovers, file, &mut out);
    out
}

/// lvsd's checks: the original has none; the only finding is a warning for
/// active virtual blocks whose `timeout` nanny would refuse (gaps.md E5).
pub fn validate_for_lvsd(config: &Config, file: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    timeouts(&config.virtuals, file, &mut out);
    out
}

/// gaps.md F6: shared SCSI reservation (fos.md §7) is on when both
/// `primary_shared` and `backup_shared` are set; it is not supported, so fos
/// and pulse in fos mode refuse to start ([`crate::startup::fos`]). Not
/// part of [`validate_for_fos`], whose findings fos also logs; the checks
/// of a whole file ([`crate::daemon_findings`]) include it.
pub fn shared_scsi_refusal(config: &Config, file: &str) -> Option<Finding> {
    let g = &config.global;
    if !g.shared_scsi() {
        return None;
    }
    let message = format!(
        "{file}: primary_shared, backup_shared: expected no shared SCSI device, found {:?} and {:?} \
         (shared SCSI reservation with /usr/sbin/scsi_reserve is not supported; remove both keys \
         and fence the shared disk by other means)",
        g.primary_shared.as_deref().unwrap_or_default(),
        g.backup_shared.as_deref().unwrap_or_default()
    );
    Some(err(FindingKind::SharedScsiUnsupported, 0, message).key("primary_shared"))
}

/// fos mode does not do IPv6 yet (lvs.cf(5), IPV6): the first IPv6 address
/// among `primary`, `primary_private`, `backup`, `backup_private` and the
/// failover blocks' `address`, as the refusal of fos and of pulse in fos
/// mode ([`crate::startup::fos`]).
pub fn fos_ipv6_refusal(config: &Config, file: &str) -> Option<Finding> {
    let g = &config.global;
    let text = |key: &str, addr: IpAddr| {
        format!(
            "{}: expected an IPv4 address with service = fos, found {addr} (IPv6 is \
             supported with service = lvs only)",
            at(file, 0, key)
        )
    };
    for (key, h) in [
        ("primary", &g.primary),
        ("primary_private", &g.primary_private),
        ("backup", &g.backup),
        ("backup_private", &g.backup_private),
    ] {
        if let Some(h) = h
            && h.addr.is_ipv6()
        {
            return Some(err(FindingKind::FosIpv6, 0, text(key, h.addr)).key(key));
        }
    }
    let s = config.failovers.iter().find(|s| s.is_ipv6())?;
    let key = format!("failover {}: address", s.name);
    let message = format!(
        "{}: expected an IPv4 address with service = fos, found {} (IPv6 is supported with \
         service = lvs only)",
        at(file, s.line.0, &key),
        s.vip()
    );
    Some(
        err(FindingKind::FosIpv6, s.line.0, message)
            .key("address")
            .of(s),
    )
}
