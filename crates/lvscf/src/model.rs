//! The typed lvs.cf model: what every daemon reads after parsing.
//!
//! Field names follow the lvs.cf key spelling. Defaults are the original
//! parser's (lvs-cf.md §6–§8). Where the original uses the address 0.0.0.0
//! for "none" (`sorry_server`, and the masks: [`Mask::NONE`]) the field is a
//! plain value and 0.0.0.0 means "none"; where absence is a different state
//! from any value (`primary`, commands, `send`, …) the field is an `Option`.
//!
//! Addresses are [`IpAddr`]: IPv6 literals are our extension (lvs.cf(5),
//! IPV6); IPv4 is read exactly as the original reads it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

/// Source line number (1-based) of an item, for messages.
///
/// Line numbers are not part of a model's identity: two models that differ
/// only in where things were written compare equal (this is what makes
/// `parse(write(model)) == model` hold and lets a reload diff ignore moves).
#[derive(Debug, Clone, Copy, Default, PartialOrd, Ord)]
pub struct Line(pub usize);

impl PartialEq for Line {
    fn eq(&self, _: &Line) -> bool {
        true
    }
}
impl Eq for Line {}
impl std::hash::Hash for Line {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}
impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A parsed file: global settings, `virtual` blocks and `failover` blocks
/// (each list in file order, as the original's `lvsRelocateFS` leaves them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// Top-level keys.
    pub global: Global,
    /// `virtual NAME { … }` blocks, used by lvsd (and pulse for VIPs).
    pub virtuals: Vec<Service>,
    /// `failover NAME { … }` blocks, used by fos (and pulse for VIPs).
    pub failovers: Vec<Service>,
}

impl Config {
    /// The blocks of the type `service` selects (`virtual` for lvs,
    /// `failover` for fos).
    pub fn selected_services(&self) -> &[Service] {
        match self.global.service {
            ServiceType::Lvs => &self.virtuals,
            ServiceType::Fos => &self.failovers,
        }
    }
}

/// A host value: the address, plus the name when the file gave a host
/// name rather than an address literal (gaps.md B10: names are resolved once,
/// at parse time, to IPv4 only).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Host {
    /// The address (first IPv4 address for a name; IPv6 only as a literal).
    pub addr: IpAddr,
    /// The host name as written, `None` for an address literal.
    pub name: Option<String>,
}

impl Host {
    /// A host given as an address literal.
    pub fn addr(addr: impl Into<IpAddr>) -> Host {
        Host {
            addr: addr.into(),
            name: None,
        }
    }
}

/// A netmask value (`vip_nmask`, `nat_nmask`, `nat_nmask6`, `pmask`): the
/// original's dotted form, or a prefix length `/N` (our extension, the only
/// form for IPv6). The dotted 0.0.0.0 ([`Mask::NONE`]) means "none".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mask {
    /// `255.255.255.0` (any `inet_aton` form).
    Dotted(Ipv4Addr),
    /// `/24`, `/64`: 0..=32 for IPv4, 0..=128 for IPv6.
    Prefix(u8),
}

impl Default for Mask {
    fn default() -> Mask {
        Mask::NONE
    }
}

impl Mask {
    /// No mask: the dotted 0.0.0.0 (the original's "unset").
    pub const NONE: Mask = Mask::Dotted(Ipv4Addr::UNSPECIFIED);

    /// Whether this is [`Mask::NONE`].
    pub fn is_none(self) -> bool {
        self == Mask::NONE
    }

    /// As an IPv4 netmask: the dotted value, or `/N` as N leading ones
    /// (`/0` is 0.0.0.0: none; a prefix over 32 counts as 32).
    pub fn v4(self) -> Ipv4Addr {
        match self {
            Mask::Dotted(m) => m,
            Mask::Prefix(0) => Ipv4Addr::UNSPECIFIED,
            Mask::Prefix(n) => Ipv4Addr::from(u32::MAX << (32 - u32::from(n.min(32)))),
        }
    }

    /// The prefix length of a `/N` value (`None` for the dotted form).
    pub fn prefix(self) -> Option<u8> {
        match self {
            Mask::Dotted(_) => None,
            Mask::Prefix(n) => Some(n),
        }
    }
}

/// `255.255.255.0` or `/64`, as lvs.cf writes it.
impl fmt::Display for Mask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mask::Dotted(m) => m.fmt(f),
            Mask::Prefix(n) => write!(f, "/{n}"),
        }
    }
}

/// Default prefix length of an IPv6 VIP or NAT router without a mask.
pub const DEFAULT_PREFIX6: u8 = 64;

/// A `keepalive`/`deadtime` value: whole seconds as in the original
/// (any C integer, negative included), or, as an extension for sub-second
/// failover, a decimal with at most three places (`0.1`). Kept in
/// milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seconds {
    /// The value in milliseconds.
    pub millis: i64,
}

impl Seconds {
    /// Whole seconds.
    pub const fn from_secs(secs: i32) -> Seconds {
        Seconds {
            millis: secs as i64 * 1000,
        }
    }

    /// Milliseconds.
    pub const fn from_millis(millis: i64) -> Seconds {
        Seconds { millis }
    }

    /// As a duration; negative values count as zero.
    pub fn duration(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.millis.max(0) as u64)
    }

    /// Parses the decimal extension `D.D` (no sign, 1–3 places).
    pub fn parse_decimal(text: &str) -> Option<Seconds> {
        let (int, frac) = text.split_once('.')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || !digits(frac) || frac.len() > 3 {
            return None;
        }
        let whole: i64 = int.parse().ok().filter(|&v: &i64| v <= i32::MAX as i64)?;
        let frac_ms: i64 = format!("{frac:0<3}").parse().ok()?;
        Some(Seconds::from_millis(whole * 1000 + frac_ms))
    }
}

impl std::fmt::Display for Seconds {
    /// `6` for whole seconds, `0.3` otherwise (as the file would say it).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.millis % 1000 == 0 {
            return write!(f, "{}", self.millis / 1000);
        }
        let sign = if self.millis < 0 { "-" } else { "" };
        let abs = self.millis.unsigned_abs();
        let frac = format!("{:03}", abs % 1000);
        write!(f, "{sign}{}.{}", abs / 1000, frac.trim_end_matches('0'))
    }
}

/// An address with the interface label it lives on: virtual/failover
/// `address = VIP DEV` and global `nat_router = IP DEV`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AddrDev {
    /// The address (a host value: names allowed).
    pub host: Host,
    /// Interface label pulse configures, normally an alias like `eth0:1`.
    pub device: String,
}

/// `service = lvs | fos`: which block type pulse operates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ServiceType {
    /// `lvs`: pulse runs lvsd for the `virtual` blocks.
    #[default]
    Lvs,
    /// `fos`: pulse runs fos for the `failover` blocks.
    Fos,
}

impl ServiceType {
    /// The lvs.cf spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::Lvs => "lvs",
            ServiceType::Fos => "fos",
        }
    }
}

/// `network = nat | direct | tunnel`: the IPVS forwarding method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Network {
    /// `nat` (ipvsadm `-m`), the default.
    #[default]
    Nat,
    /// `direct` (ipvsadm `-g`).
    Direct,
    /// `tunnel` (ipvsadm `-i`).
    Tunnel,
}

impl Network {
    /// The lvs.cf spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Nat => "nat",
            Network::Direct => "direct",
            Network::Tunnel => "tunnel",
        }
    }
    /// The single-letter method nanny gets with `-M` (`m`, `g`, `i`).
    pub fn method_letter(self) -> char {
        match self {
            Network::Nat => 'm',
            Network::Direct => 'g',
            Network::Tunnel => 'i',
        }
    }
}

/// `reservation_conflict_action = nothing | preempt` (shared SCSI, fos).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConflictAction {
    /// `nothing`.
    Nothing,
    /// `preempt`.
    Preempt,
}

impl ConflictAction {
    /// The lvs.cf spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictAction::Nothing => "nothing",
            ConflictAction::Preempt => "preempt",
        }
    }
}

/// `protocol = tcp | udp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// `tcp`, the default.
    #[default]
    Tcp,
    /// `udp`.
    Udp,
}

impl Protocol {
    /// The lvs.cf spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// `scheduler = …`: the IPVS scheduler name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scheduler {
    /// `lc`
    Lc,
    /// `rr`
    Rr,
    /// `wlc`, the default.
    #[default]
    Wlc,
    /// `wrr`
    Wrr,
    /// `lblc`
    Lblc,
    /// `lblcr`
    Lblcr,
    /// `dh`
    Dh,
    /// `sh`
    Sh,
    /// `mh` (Maglev hashing, kernel 4.18+; not in Piranha): required in
    /// scale-out mode.
    Mh,
}

impl Scheduler {
    /// The schedulers Piranha does not know (extensions): `mh`.
    pub const EXTENSIONS: [Scheduler; 1] = [Scheduler::Mh];

    /// Every scheduler Piranha knows, in the order the original tests them.
    pub const ALL: [Scheduler; 8] = [
        Scheduler::Lc,
        Scheduler::Rr,
        Scheduler::Wlc,
        Scheduler::Wrr,
        Scheduler::Lblc,
        Scheduler::Lblcr,
        Scheduler::Dh,
        Scheduler::Sh,
    ];

    /// The lvs.cf (and IPVS) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheduler::Lc => "lc",
            Scheduler::Rr => "rr",
            Scheduler::Wlc => "wlc",
            Scheduler::Wrr => "wrr",
            Scheduler::Lblc => "lblc",
            Scheduler::Lblcr => "lblcr",
            Scheduler::Dh => "dh",
            Scheduler::Sh => "sh",
            Scheduler::Mh => "mh",
        }
    }
}

/// `scheduler_flags` (extension): `mh`'s two IPVS service flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SchedulerFlags {
    /// `mh-port`: hash the source port too (IP_VS_SVC_F_SCHED2).
    pub port: bool,
    /// `mh-fallback`: skip an unavailable destination without rebuilding
    /// the table (IP_VS_SVC_F_SCHED1).
    pub fallback: bool,
}

impl SchedulerFlags {
    /// No flag set.
    pub fn is_empty(self) -> bool {
        !self.port && !self.fallback
    }

    /// The lvs.cf spelling: `mh-port`, `mh-fallback`, `mh-port,mh-fallback`.
    pub fn as_text(self) -> String {
        let mut v = Vec::new();
        if self.port {
            v.push("mh-port");
        }
        if self.fallback {
            v.push("mh-fallback");
        }
        v.join(",")
    }
}

/// Every top-level key (lvs-cf.md §6), defaults as the original sets them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    /// `serial_no` (GUI revision counter; no daemon reads it). Default 0.
    pub serial_no: i32,
    /// `service`. Default `lvs`.
    pub service: ServiceType,
    /// `primary`: the primary director's public address (never 0.0.0.0).
    pub primary: Option<Host>,
    /// `primary_private`, effective value: after §9 defaulting it equals
    /// `primary` when the file gave `primary` but no `primary_private`.
    pub primary_private: Option<Host>,
    /// `primary_shared` (shared-SCSI device on the primary).
    pub primary_shared: Option<String>,
    /// `backup`: the backup director's public address; `Some(0.0.0.0)`
    /// is allowed and means "no backup", like absence.
    pub backup: Option<Host>,
    /// `backup_private`, effective value: after §9 defaulting it equals
    /// `backup` (even if the file set it) when `primary_private` was absent.
    pub backup_private: Option<Host>,
    /// True when §9 defaulting filled in `primary_private` and
    /// `backup_private` (the file had `primary` but no `primary_private`).
    pub private_defaulted: bool,
    /// `backup_shared` (shared-SCSI device on the backup).
    pub backup_shared: Option<String>,
    /// `backup_active`. Default 0.
    pub backup_active: bool,
    /// `heartbeat` (parsed, ignored by every daemon). Default 0.
    pub heartbeat: bool,
    /// `heartbeat_port`. Default 539.
    pub heartbeat_port: u16,
    /// `keepalive` seconds. Default 2. Decimals (`0.1`) are an extension.
    pub keepalive: Seconds,
    /// `deadtime` seconds. Default 5. Decimals (`0.3`) are an extension.
    pub deadtime: Seconds,
    /// `network`. Default `nat`.
    pub network: Network,
    /// `nat_router = IP DEV` (IPv4, or IPv6 when `nat_router6` is absent).
    pub nat_router: Option<AddrDev>,
    /// `nat_nmask`; [`Mask::NONE`] = none.
    pub nat_nmask: Mask,
    /// `nat_router6 = IPV6 DEV` (extension): the IPv6 NAT router of a
    /// dual-stack NAT setup; `nat_router` is then the IPv4 one.
    pub nat_router6: Option<AddrDev>,
    /// `nat_nmask6 = /N` (extension): `nat_router6`'s prefix;
    /// [`Mask::NONE`] = the default /64.
    pub nat_nmask6: Mask,
    /// `reservation_conflict_action`; no default.
    pub reservation_conflict_action: Option<ConflictAction>,
    /// `debug_level` (ignored). Default `NONE`.
    pub debug_level: String,
    /// `monitor_links`; non-zero = on. Default 0.
    pub monitor_links: i32,
    /// `syncdaemon`. Default 0.
    pub syncdaemon: bool,
    /// `syncd_iface`. Default `eth0`.
    pub syncd_iface: String,
    /// `syncd_id` (pulse uses `value & 0xff`). Default 0.
    pub syncd_id: i32,
    /// `tcp_timeout` seconds; 0 = leave the kernel value. Default 0.
    pub tcp_timeout: i32,
    /// `tcpfin_timeout` seconds. Default 0.
    pub tcpfin_timeout: i32,
    /// `udp_timeout` seconds. Default 0.
    pub udp_timeout: i32,
    /// `hard_shutdown`. Default 1.
    pub hard_shutdown: bool,
    /// `active_cmd`, quotes removed.
    pub active_cmd: Option<String>,
    /// `inactive_cmd`, quotes removed.
    pub inactive_cmd: Option<String>,
    /// `rsh_command`. Default `rsh`.
    pub rsh_command: String,
    /// `ipvsadm`. Default `/sbin/ipvsadm`.
    pub ipvsadm: String,
    /// `sync` (legacy, ignored). Default 0.
    pub sync: bool,
    /// `scale_out` (extension, docs/scale-out.md): N active directors
    /// behind ECMP, no partner. Default 0.
    pub scale_out: bool,
    /// `scale_out_members = ADDR …` (extension): every director's own
    /// address, in file order.
    pub scale_out_members: Vec<IpAddr>,
    /// `announce_device` (extension); `None`: [`DEFAULT_ANNOUNCE_DEVICE`].
    pub announce_device: Option<String>,
    /// `announce_hold` seconds (extension); `None`:
    /// [`DEFAULT_ANNOUNCE_HOLD`].
    pub announce_hold: Option<u32>,
}

/// The interface the VIPs go on in scale-out mode when lvs.cf does not
/// name one.
pub const DEFAULT_ANNOUNCE_DEVICE: &str = "lvs0";
/// Seconds a withdrawn VIP stays withdrawn in scale-out mode when lvs.cf
/// does not say.
pub const DEFAULT_ANNOUNCE_HOLD: u32 = 5;

impl Default for Global {
    fn default() -> Global {
        Global {
            serial_no: 0,
            service: ServiceType::Lvs,
            primary: None,
            primary_private: None,
            primary_shared: None,
            backup: None,
            backup_private: None,
            private_defaulted: false,
            backup_shared: None,
            backup_active: false,
            heartbeat: false,
            heartbeat_port: 539,
            keepalive: Seconds::from_secs(2),
            deadtime: Seconds::from_secs(5),
            network: Network::Nat,
            nat_router: None,
            nat_nmask: Mask::NONE,
            nat_router6: None,
            nat_nmask6: Mask::NONE,
            reservation_conflict_action: None,
            debug_level: "NONE".into(),
            monitor_links: 0,
            syncdaemon: false,
            syncd_iface: "eth0".into(),
            syncd_id: 0,
            tcp_timeout: 0,
            tcpfin_timeout: 0,
            udp_timeout: 0,
            hard_shutdown: true,
            active_cmd: None,
            inactive_cmd: None,
            rsh_command: "rsh".into(),
            ipvsadm: DEFAULT_IPVSADM.into(),
            sync: false,
            scale_out: false,
            scale_out_members: Vec::new(),
            announce_device: None,
            announce_hold: None,
        }
    }
}

impl Global {
    /// `announce_device`, or its default.
    pub fn announce_device(&self) -> &str {
        self.announce_device
            .as_deref()
            .unwrap_or(DEFAULT_ANNOUNCE_DEVICE)
    }

    /// `announce_hold`, or its default.
    pub fn announce_hold(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(
            self.announce_hold.unwrap_or(DEFAULT_ANNOUNCE_HOLD),
        ))
    }

    /// Whether a scale-out key is set (the file is ours, not Piranha's).
    pub fn has_scale_out_keys(&self) -> bool {
        self.scale_out
            || !self.scale_out_members.is_empty()
            || self.announce_device.is_some()
            || self.announce_hold.is_some()
    }

    /// `primary` as an address, 0.0.0.0 when unset.
    pub fn primary_addr(&self) -> IpAddr {
        host_addr(&self.primary)
    }
    /// `backup` as an address, 0.0.0.0 when unset.
    pub fn backup_addr(&self) -> IpAddr {
        host_addr(&self.backup)
    }
    /// Effective `primary_private`, 0.0.0.0 when unset.
    pub fn primary_private_addr(&self) -> IpAddr {
        host_addr(&self.primary_private)
    }
    /// Effective `backup_private`, 0.0.0.0 when unset.
    pub fn backup_private_addr(&self) -> IpAddr {
        host_addr(&self.backup_private)
    }
    /// The IPv4 NAT router: `nat_router` when it is IPv4, with `nat_nmask`
    /// as an IPv4 mask (0.0.0.0 = none).
    pub fn ipv4_nat_router(&self) -> Option<(&AddrDev, Ipv4Addr)> {
        let a = self.nat_router.as_ref().filter(|a| a.host.addr.is_ipv4())?;
        Some((a, self.nat_nmask.v4()))
    }
    /// The IPv6 NAT router: `nat_router6`, else `nat_router` when it is
    /// IPv6, with its prefix length (`nat_nmask6`/`nat_nmask`, default
    /// [`DEFAULT_PREFIX6`]).
    pub fn ipv6_nat_router(&self) -> Option<(&AddrDev, u8)> {
        let (a, m) = match &self.nat_router6 {
            Some(a) => (a, self.nat_nmask6),
            None => (
                self.nat_router.as_ref().filter(|a| a.host.addr.is_ipv6())?,
                self.nat_nmask,
            ),
        };
        Some((a, m.prefix().unwrap_or(DEFAULT_PREFIX6)))
    }
    /// Shared-SCSI mode: both `primary_shared` and `backup_shared` non-empty.
    pub fn shared_scsi(&self) -> bool {
        let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
        set(&self.primary_shared) && set(&self.backup_shared)
    }
}

fn host_addr(h: &Option<Host>) -> IpAddr {
    h.as_ref()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |h| h.addr)
}

/// Default `ipvsadm` path.
pub const DEFAULT_IPVSADM: &str = "/sbin/ipvsadm";
/// Default `client_monitor` path.
pub const DEFAULT_CLIENT_MONITOR: &str = "/usr/sbin/nanny";
/// Default lvs.cf path (`CFGFILE`).
pub const DEFAULT_CONFIG_FILE: &str = "/etc/sysconfig/ha/lvs.cf";

/// Which keyword opened a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BlockKind {
    /// `virtual NAME {`
    #[default]
    Virtual,
    /// `failover NAME {`
    Failover,
}

impl BlockKind {
    /// The lvs.cf keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            BlockKind::Virtual => "virtual",
            BlockKind::Failover => "failover",
        }
    }
}

/// A `virtual` or `failover` block (lvs-cf.md §7; both accept the same keys).
///
/// `send`, `expect`, `send_program`, `start_cmd` and `stop_cmd` are stored as
/// the original stores them: a quoted value gets its quote characters put
/// back (§3.2). Use the `*_arg` methods for the value a daemon passes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Block name (used in log messages only; need not be unique).
    pub name: String,
    /// `virtual` or `failover`.
    pub kind: BlockKind,
    /// Line of the `virtual NAME {` / `failover NAME {` line.
    pub line: Line,
    /// `active`. Default 0.
    pub active: bool,
    /// `address = VIP DEV`; unset when absent.
    pub address: Option<AddrDev>,
    /// `vip_nmask`; [`Mask::NONE`] = none (for an IPv6 VIP: /64).
    pub vip_nmask: Mask,
    /// `sorry_server`; 0.0.0.0 (or `::`) = none.
    pub sorry_server: IpAddr,
    /// `fwmark`; 0 = none.
    pub fwmark: u32,
    /// `port`. Default 80.
    pub port: u16,
    /// `protocol`. Default `tcp`.
    pub protocol: Protocol,
    /// `scheduler`. Default `wlc`.
    pub scheduler: Scheduler,
    /// `scheduler_flags = mh-port[,mh-fallback]` (extension): the IPVS
    /// service's scheduler flags. Default none.
    pub scheduler_flags: SchedulerFlags,
    /// `persistent` seconds; > 0 enables persistence. Default 0.
    pub persistent: i32,
    /// `pmask`; [`Mask::NONE`] = none (the literal `255.255.255.255` is
    /// stored as none, like the original; for an IPv6 service: /128).
    pub pmask: Mask,
    /// `send`, as stored (quotes re-added).
    pub send: Option<String>,
    /// `expect`, as stored (quotes re-added).
    pub expect: Option<String>,
    /// `use_regex`. Default 0.
    pub use_regex: bool,
    /// `send_program`, as stored (quotes re-added).
    pub send_program: Option<String>,
    /// `load_monitor`; `None` = no load monitoring.
    pub load_monitor: Option<String>,
    /// `timeout` seconds. Default 10.
    pub timeout: i32,
    /// `reentry` seconds. Default 180.
    pub reentry: i32,
    /// `quiesce_server`. Default 0.
    pub quiesce_server: bool,
    /// `client_monitor`. Default `/usr/sbin/nanny`.
    pub client_monitor: String,
    /// `start_cmd` (failover), as stored (quotes re-added).
    pub start_cmd: Option<String>,
    /// `stop_cmd` (failover), as stored (quotes re-added).
    pub stop_cmd: Option<String>,
    /// `master` (legacy, ignored).
    pub master: Option<Host>,
    /// `dirs = [ … ]` (legacy, ignored).
    pub dirs: Option<Vec<String>>,
    /// `server NAME { … }` blocks in file order.
    pub servers: Vec<RealServer>,
}

impl Service {
    /// A block with every key at its default.
    pub fn new(name: impl Into<String>, kind: BlockKind) -> Service {
        Service {
            name: name.into(),
            kind,
            line: Line(0),
            active: false,
            address: None,
            vip_nmask: Mask::NONE,
            sorry_server: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            fwmark: 0,
            port: 80,
            protocol: Protocol::Tcp,
            scheduler: Scheduler::Wlc,
            scheduler_flags: SchedulerFlags::default(),
            persistent: 0,
            pmask: Mask::NONE,
            send: None,
            expect: None,
            use_regex: false,
            send_program: None,
            load_monitor: None,
            timeout: 10,
            reentry: 180,
            quiesce_server: false,
            client_monitor: DEFAULT_CLIENT_MONITOR.into(),
            start_cmd: None,
            stop_cmd: None,
            master: None,
            dirs: None,
            servers: Vec::new(),
        }
    }

    /// The VIP, 0.0.0.0 when `address` is unset.
    pub fn vip(&self) -> IpAddr {
        self.address
            .as_ref()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.host.addr)
    }

    /// Whether the VIP is IPv6 (then the servers, the sorry server and a
    /// fwmark service are IPv6 too).
    pub fn is_ipv6(&self) -> bool {
        self.vip().is_ipv6()
    }

    /// The VIP's IPv4 mask (`vip_nmask`), `None` when unset (or for an IPv6
    /// VIP).
    pub fn vip_mask4(&self) -> Option<Ipv4Addr> {
        let m = self.vip_nmask.v4();
        (!self.is_ipv6() && !m.is_unspecified()).then_some(m)
    }

    /// An IPv6 VIP's prefix length (`vip_nmask = /N`, default
    /// [`DEFAULT_PREFIX6`]); `None` for an IPv4 VIP.
    pub fn vip_prefix6(&self) -> Option<u8> {
        self.is_ipv6()
            .then(|| self.vip_nmask.prefix().unwrap_or(DEFAULT_PREFIX6))
    }

    /// The VIP's device label, `None` when `address` is unset.
    pub fn device(&self) -> Option<&str> {
        self.address.as_ref().map(|a| a.device.as_str())
    }

    /// `send` as lvsd/fos pass it to nanny `-s` (quotes stripped per `mode`;
    /// escapes still literal, see [`crate::translate_escapes`]).
    pub fn send_arg(&self, mode: crate::QuoteMode) -> Option<&str> {
        self.send.as_deref().map(|s| crate::strip_quotes(s, mode))
    }
    /// `expect` as passed to nanny `-x`.
    pub fn expect_arg(&self, mode: crate::QuoteMode) -> Option<&str> {
        self.expect.as_deref().map(|s| crate::strip_quotes(s, mode))
    }
    /// `send_program` as passed to nanny `-e`.
    pub fn send_program_arg(&self, mode: crate::QuoteMode) -> Option<&str> {
        self.send_program
            .as_deref()
            .map(|s| crate::strip_quotes(s, mode))
    }
    /// nanny's check options of this block as lvsd and fos pass them, in
    /// their order: `-e send_program`, `-s send`, `-x expect` (each only
    /// when set).
    pub fn check_args(&self, mode: crate::QuoteMode) -> [(&'static str, Option<&str>); 3] {
        [
            ("-e", self.send_program_arg(mode)),
            ("-s", self.send_arg(mode)),
            ("-x", self.expect_arg(mode)),
        ]
    }
    /// `start_cmd` as fos runs it (before splitting on spaces).
    pub fn start_cmd_arg(&self, mode: crate::QuoteMode) -> Option<&str> {
        self.start_cmd
            .as_deref()
            .map(|s| crate::strip_quotes(s, mode))
    }
    /// `stop_cmd` as fos runs it (before splitting on spaces).
    pub fn stop_cmd_arg(&self, mode: crate::QuoteMode) -> Option<&str> {
        self.stop_cmd
            .as_deref()
            .map(|s| crate::strip_quotes(s, mode))
    }
    /// `pmask` when persistence applies: `Some` only if `persistent > 0`
    /// and the mask is not none. For an IPv4 service always
    /// [`Mask::Dotted`] (a `/N` converted), for an IPv6 one always
    /// [`Mask::Prefix`] (`None` = /128, like ipvsadm).
    pub fn persistence_mask(&self) -> Option<Mask> {
        if self.persistent <= 0 {
            return None;
        }
        if self.is_ipv6() {
            return self.pmask.prefix().map(Mask::Prefix);
        }
        let m = self.pmask.v4();
        (!m.is_unspecified()).then_some(Mask::Dotted(m))
    }
    /// The sorry server, if configured.
    pub fn sorry(&self) -> Option<IpAddr> {
        (!self.sorry_server.is_unspecified()).then_some(self.sorry_server)
    }
}

/// A `server NAME { … }` block inside a `virtual` block (lvs-cf.md §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServer {
    /// Server name (log messages only).
    pub name: String,
    /// Line of the `server NAME {` line.
    pub line: Line,
    /// `address` (host names allowed). Default 0.0.0.0.
    pub address: Host,
    /// `active`. Default 0.
    pub active: bool,
    /// `weight`; negative values are accepted (with a warning). Default 1.
    pub weight: i32,
    /// `port`: the enclosing block's `port` as of the `server` line, unless
    /// set here (no service names).
    pub port: u16,
}

impl RealServer {
    /// A server with defaults; `port` is the enclosing block's current port.
    pub fn new(name: impl Into<String>, port: u16) -> RealServer {
        RealServer {
            name: name.into(),
            line: Line(0),
            address: Host::addr(Ipv4Addr::UNSPECIFIED),
            active: false,
            weight: 1,
            port,
        }
    }
}
