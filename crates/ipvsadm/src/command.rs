//! An ipvsadm command line → a checked command and its table change:
//! popt's scanning (clustered short options, attached or separate
//! arguments, `--long=value`) over ipvsadm's option table, then the options
//! in order with ipvsadm's checks and messages. Used for ipvsadm-rs's argv
//! and its `-R` lines, and by anyone reading ipvsadm text back into
//! [`Op`]s.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipvs::{
    DaemonState, Dest, Forward, Netmask, Op, Protocol, Service, ServiceFlags, ServiceKey,
    SyncDaemon, Timeouts, Tunnel, TunnelCsum, TunnelType,
};

use lvs_util::popt::{self, ArgKind, OptSpec};

use crate::names;

/// Address families as ipvsadm stores them (`AF_INET`, `AF_INET6`).
pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;

/// IP protocol numbers of the service kinds (`IPPROTO_*`).
pub const IPPROTO_TCP: u16 = 6;
pub const IPPROTO_UDP: u16 = 17;
pub const IPPROTO_SCTP: u16 = 132;

/// A command-line failure: the message, and the exit status ipvsadm uses.
#[derive(Debug, PartialEq, Eq)]
pub enum Fail {
    /// `fail(2, ...)`: the message, exit 2.
    Msg(String),
    /// `Try ... --help` (exit 255).
    TryHelp,
    /// A popt error: `option: reason` (exit 255).
    Popt(String),
    /// `-h`.
    Help,
    /// `-v`.
    Version,
}

fn fail<T>(msg: impl Into<String>) -> Result<T, Fail> {
    Err(Fail::Msg(msg.into()))
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmdKind {
    Add,
    Edit,
    Del,
    Flush,
    List,
    AddDest,
    DelDest,
    EditDest,
    Timeout,
    StartDaemon,
    StopDaemon,
    Restore,
    Save,
    Zero,
}

const CMD_NAMES: [&str; 14] = [
    "add-service",
    "edit-service",
    "delete-service",
    "flush",
    "list",
    "add-server",
    "delete-server",
    "edit-server",
    "set",
    "start-daemon",
    "stop-daemon",
    "restore",
    "save",
    "zero",
];

impl CmdKind {
    fn index(self) -> usize {
        self as usize
    }
}

// Option numbers (ipvsadm's OPTC_*), used for the legality table.
pub const O_NUMERIC: usize = 0;
pub const O_CONNECTION: usize = 1;
pub const O_SERVICE: usize = 2;
const O_SCHEDULER: usize = 3;
const O_PERSISTENT: usize = 4;
const O_NETMASK: usize = 5;
const O_SERVER: usize = 6;
const O_FORWARD: usize = 7;
const O_WEIGHT: usize = 8;
const O_UTHRESHOLD: usize = 9;
const O_LTHRESHOLD: usize = 10;
const O_MCAST: usize = 11;
pub const O_TIMEOUT: usize = 12;
pub const O_DAEMON: usize = 13;
pub const O_STATS: usize = 14;
pub const O_RATE: usize = 15;
pub const O_THRESHOLDS: usize = 16;
pub const O_PERSISTENTCONN: usize = 17;
pub const O_NOSORT: usize = 18;
const O_SYNCID: usize = 19;
pub const O_EXACT: usize = 20;
const O_ONEPACKET: usize = 21;
const O_PE: usize = 22;
const O_SCHED_FLAGS: usize = 23;
const O_MCAST_GROUP: usize = 24;
const O_MCAST_PORT: usize = 25;
const O_MCAST_TTL: usize = 26;
const O_SYNC_MAXLEN: usize = 27;
pub const O_TUN_INFO: usize = 28;
const O_TUN_TYPE: usize = 29;
const O_TUN_PORT: usize = 30;
const O_TUN_NOCSUM: usize = 31;
const O_TUN_CSUM: usize = 32;
const O_TUN_REMCSUM: usize = 33;
const N_OPT: usize = 34;

const OPT_NAMES: [&str; N_OPT] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
];

/// Legal option/command combinations: `+` compulsory, `x` illegal, `1`
/// exclusive, space optional (one row per command, one column per option).
const LEGAL: [&[u8; N_OPT]; 14] = [
    b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", // add-service
    b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", // edit-service
    b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // delete-service
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // flush
    b" 11xxxxxxxxx11       xxxxxxx xxxxx", // list
    b"xx+xxx+    xxxxxxxxxxxxxxxxxx     ", // add-server
    b"xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx", // delete-server
    b"xx+xxx+    xxxxxxxxxxxxxxxxxx     ", // edit-server
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // set
    b"xxxxxxxxxxx xxxxxxx xxxx    xxxxxx", // start-daemon
    b"xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx", // stop-daemon
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // restore
    b" xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // save
    b"xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // zero
];

const TUN_NAMES: [&str; 3] = ["ipip", "gue", "gre"];
const TUN_OPTS: [usize; 4] = [O_TUN_PORT, O_TUN_NOCSUM, O_TUN_CSUM, O_TUN_REMCSUM];
const TUN_LEGAL: [&[u8; 4]; 3] = [b"xxxx", b"+111", b"x11x"];

/// The service as ipvsadm builds it (`ipvs_service_t`).
#[derive(Debug, Clone)]
pub struct SvcArgs {
    /// 0 until an address or `-f` sets it.
    pub af: u16,
    pub protocol: u16,
    pub addr: Option<IpAddr>,
    pub port: u16,
    pub fwmark: u32,
    pub sched: String,
    pub flags: u32,
    pub timeout: u32,
    /// Raw: an IPv4 mask as its network-order bytes, or an IPv6 prefix.
    pub netmask_v4: Ipv4Addr,
    pub netmask_v6: u32,
    pub pe_name: String,
}

impl Default for SvcArgs {
    fn default() -> SvcArgs {
        SvcArgs::new()
    }
}

impl SvcArgs {
    /// Nothing given yet: no address, mask /32 (ipvsadm's defaults).
    pub fn new() -> SvcArgs {
        SvcArgs {
            af: 0,
            protocol: 0,
            addr: None,
            port: 0,
            fwmark: 0,
            sched: String::new(),
            flags: 0,
            timeout: 0,
            netmask_v4: Ipv4Addr::BROADCAST,
            netmask_v6: 0,
            pe_name: String::new(),
        }
    }

    /// The key, if enough was given.
    pub fn key(&self) -> Option<ServiceKey> {
        if self.fwmark != 0 {
            return Some(if self.af == AF_INET6 {
                ServiceKey::fwmark6(self.fwmark)
            } else {
                ServiceKey::fwmark(self.fwmark)
            });
        }
        let protocol = Protocol::from_number(self.protocol)?;
        Some(ServiceKey::Inet {
            protocol,
            addr: self.addr?,
            port: self.port,
        })
    }

    /// The full service spec.
    pub fn service(&self) -> Option<Service> {
        let key = self.key()?;
        Some(Service {
            key,
            scheduler: self.sched.clone(),
            flags: ServiceFlags(self.flags),
            timeout: self.timeout,
            netmask: if self.af == AF_INET6 {
                Netmask::V6(self.netmask_v6)
            } else {
                Netmask::V4(self.netmask_v4)
            },
            pe_name: (!self.pe_name.is_empty()).then(|| self.pe_name.clone()),
        })
    }
}

/// A parsed command line.
#[derive(Debug, Clone)]
pub struct Cmd {
    pub kind: CmdKind,
    pub options: u64,
    pub svc: SvcArgs,
    pub dest: Dest,
    pub timeouts: Timeouts,
    pub daemon: SyncDaemon,
}

impl Cmd {
    /// Whether option `opt` (an `O_*` number) was given.
    pub fn has(&self, opt: usize) -> bool {
        self.options & (1 << opt) != 0
    }

    /// The table change the command makes, if it is one (`-A -E -D -a -e
    /// -d`).
    pub fn op(&self) -> Option<Op> {
        let key = self.svc.key()?;
        Some(match self.kind {
            CmdKind::Add => Op::AddService(self.svc.service()?),
            CmdKind::Edit => Op::EditService(self.svc.service()?),
            CmdKind::Del => Op::DelService(key),
            CmdKind::AddDest => Op::AddDest(key, self.dest),
            CmdKind::EditDest => Op::EditDest(key, self.dest),
            CmdKind::DelDest => Op::DelDest(key, self.dest.key()),
            _ => return None,
        })
    }
}

/// What an option of ipvsadm's table does.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Sets {
    /// Names the command (first on the line only).
    Command(CmdKind),
    /// `--start-daemon STATE` / `--stop-daemon STATE`.
    Daemon(CmdKind),
    /// `-h`.
    Help,
    /// `-v`.
    Version,
    /// Sets only its option bit (listing formats, `--tun-nocsum`).
    Flag(usize),
    /// Accepted and ignored (`--sort`).
    Nothing,
    /// A value of the service, the real server or the sync daemon.
    Value,
}

/// ipvsadm's option table (its `popt` table): short letter, long name,
/// whether it takes an argument, and what it sets.
const TABLE: &[OptSpec<Sets>] = &{
    use ArgKind::{None as N, Optional as O, Required as R};
    use CmdKind::*;
    use Sets::*;
    const fn o(short: char, long: &'static str, arg: ArgKind, sets: Sets) -> OptSpec<Sets> {
        OptSpec {
            short: Some(short),
            long,
            arg,
            sets,
        }
    }
    const fn l(long: &'static str, arg: ArgKind, sets: Sets) -> OptSpec<Sets> {
        OptSpec {
            short: None,
            long,
            arg,
            sets,
        }
    }
    [
        o('A', "add-service", N, Command(Add)),
        o('E', "edit-service", N, Command(Edit)),
        o('D', "delete-service", N, Command(Del)),
        o('C', "clear", N, Command(Flush)),
        o('L', "list", N, Command(List)),
        o('l', "list", N, Command(List)),
        o('Z', "zero", N, Command(Zero)),
        o('a', "add-server", N, Command(AddDest)),
        o('e', "edit-server", N, Command(EditDest)),
        o('d', "delete-server", N, Command(DelDest)),
        l("set", N, Command(Timeout)),
        o('h', "help", N, Help),
        o('v', "version", N, Version),
        o('R', "restore", N, Command(Restore)),
        o('S', "save", N, Command(Save)),
        l("start-daemon", R, Daemon(StartDaemon)),
        l("stop-daemon", R, Daemon(StopDaemon)),
        o('t', "tcp-service", R, Value),
        o('u', "udp-service", R, Value),
        l("sctp-service", R, Value),
        o('f', "fwmark-service", R, Value),
        o('s', "scheduler", R, Value),
        o('p', "persistent", O, Value),
        o('M', "netmask", R, Value),
        o('r', "real-server", R, Value),
        o('m', "masquerading", N, Value),
        o('i', "ipip", N, Value),
        o('g', "gatewaying", N, Value),
        o('w', "weight", R, Value),
        o('x', "u-threshold", R, Value),
        o('y', "l-threshold", R, Value),
        o('n', "numeric", N, Flag(O_NUMERIC)),
        o('c', "connection", N, Flag(O_CONNECTION)),
        l("mcast-interface", R, Value),
        l("syncid", R, Value),
        l("timeout", N, Flag(O_TIMEOUT)),
        l("daemon", N, Flag(O_DAEMON)),
        l("stats", N, Flag(O_STATS)),
        l("rate", N, Flag(O_RATE)),
        l("thresholds", N, Flag(O_THRESHOLDS)),
        l("persistent-conn", N, Flag(O_PERSISTENTCONN)),
        l("nosort", N, Flag(O_NOSORT)),
        l("sort", N, Nothing),
        o('X', "exact", N, Flag(O_EXACT)),
        o('6', "ipv6", N, Value),
        o('o', "ops", N, Value),
        l("pe", R, Value),
        o('b', "sched-flags", R, Value),
        l("mcast-group", R, Value),
        l("mcast-port", R, Value),
        l("mcast-ttl", R, Value),
        l("sync-maxlen", R, Value),
        l("tun-info", N, Flag(O_TUN_INFO)),
        l("tun-type", R, Value),
        l("tun-port", R, Value),
        l("tun-nocsum", N, Flag(O_TUN_NOCSUM)),
        l("tun-csum", N, Value),
        l("tun-remcsum", N, Value),
    ]
};

/// One scanned option: its table row, its argument, and how it was
/// spelled (for `invalid option` messages).
type Found = popt::Found<'static, Sets>;

/// strtol-like: the whole string a decimal number within [min, max].
fn number(s: &str, min: i64, max: i64) -> Option<i64> {
    let t = s.trim_start();
    let n: i64 = t.parse().ok()?;
    (min..=max).contains(&n).then_some(n)
}

const MAX_TIMEOUT: i64 = 86400 * 31;

fn parse_timeout(s: Option<&str>, min: i64, max: i64) -> Result<u32, Fail> {
    match s {
        None => Ok(300),
        Some(s) => match number(s, min, max) {
            Some(n) => Ok(n as u32),
            None => fail(format!("invalid timeout value `{s}' specified")),
        },
    }
}

const SERVICE_ADDR: u8 = 1;
const SERVICE_PORT: u8 = 2;

/// ipvsadm's `parse_service`: `host[:port]`, `[v6]:port` or a bare v6
/// address. Sets af/addr/port (and netmask 128 for v6) on `svc`.
fn parse_service(buf: &str, svc: &mut SvcArgs) -> u8 {
    if buf.is_empty() || buf.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    let mut host = buf;
    let mut port: Option<&str> = None;
    if let Some(b) = buf.strip_prefix('[') {
        let Some((h, p)) = b.split_once(']') else {
            return 0;
        };
        let Some(p) = p.strip_prefix(':') else {
            return 0;
        };
        host = h;
        port = Some(p);
    }
    if let Ok(a) = host.parse::<Ipv6Addr>() {
        svc.addr = Some(IpAddr::V6(a));
        svc.af = AF_INET6;
        svc.netmask_v6 = 128;
    } else {
        if port.is_none()
            && let Some((h, p)) = host.rsplit_once(':')
        {
            host = h;
            port = Some(p);
        }
        let a = names::parse_inet_aton(host).or_else(|| names::host_to_addr(host));
        match a {
            Some(a) => {
                svc.addr = Some(IpAddr::V4(a));
                svc.af = AF_INET;
            }
            None => return 0,
        }
    }
    let mut result = SERVICE_ADDR;
    if let Some(p) = port {
        result |= SERVICE_PORT;
        match number(p, 0, 65535) {
            Some(n) => svc.port = n as u16,
            None => match names::service_to_port(p, svc.protocol) {
                Some(n) => svc.port = n,
                None => return 0,
            },
        }
    }
    result
}

fn parse_sched_flags(sched: &str, arg: &str) -> Result<u32, Fail> {
    let sched = if sched.is_empty() { "wlc" } else { sched };
    let mut flags = 0;
    for flag in arg.split(',').filter(|f| !f.is_empty()) {
        let (bit, only) = match flag {
            "flag-1" => (ServiceFlags::SCHED1.0, None),
            "flag-2" => (ServiceFlags::SCHED2.0, None),
            "flag-3" => (ServiceFlags::SCHED3.0, None),
            "sh-fallback" => (ServiceFlags::SCHED1.0, Some("sh")),
            "sh-port" => (ServiceFlags::SCHED2.0, Some("sh")),
            "mh-fallback" => (ServiceFlags::SCHED1.0, Some("mh")),
            "mh-port" => (ServiceFlags::SCHED2.0, Some("mh")),
            _ => return fail(format!("invalid scheduler flag `{flag}'")),
        };
        if let Some(s) = only
            && s != sched
        {
            return fail(format!("incompatible scheduler flag `{flag}'"));
        }
        flags |= bit;
    }
    Ok(flags)
}

fn set_option(options: &mut u64, opt: usize) -> Result<(), Fail> {
    let bit = 1u64 << opt;
    if *options & bit != 0 {
        return fail(format!("multiple '{}' options specified", OPT_NAMES[opt]));
    }
    *options |= bit;
    Ok(())
}

fn generic_opt_check(cmd: CmdKind, options: u64) -> Result<(), Fail> {
    let row = LEGAL[cmd.index()];
    let mut last = None;
    for (j, rule) in row.iter().enumerate() {
        let set = options & (1u64 << j) != 0;
        match (set, rule) {
            (false, b'+') => {
                return fail(format!(
                    "You need to supply the '{}' option for the '{}' command",
                    OPT_NAMES[j],
                    CMD_NAMES[cmd.index()]
                ));
            }
            (true, b'x') => {
                return fail(format!(
                    "Illegal '{}' option with the '{}' command",
                    OPT_NAMES[j],
                    CMD_NAMES[cmd.index()]
                ));
            }
            (true, b'1') => match last {
                None => last = Some(j),
                Some(l) => {
                    return fail(format!(
                        "The option '{}' conflicts with the '{}' option in the '{}' command",
                        OPT_NAMES[j],
                        OPT_NAMES[l],
                        CMD_NAMES[cmd.index()]
                    ));
                }
            },
            _ => {}
        }
    }
    Ok(())
}

fn tunnel_opt_check(tun: usize, options: u64) -> Result<(), Fail> {
    let mut last = None;
    for (j, &k) in TUN_OPTS.iter().enumerate() {
        let set = options & (1u64 << k) != 0;
        match (set, TUN_LEGAL[tun][j]) {
            (false, b'+') => {
                return fail(format!(
                    "You need to supply the '{}' option for the '{}' tunnel type",
                    OPT_NAMES[k], TUN_NAMES[tun]
                ));
            }
            (true, b'x') => {
                return fail(format!(
                    "Illegal '{}' option with the '{}' tunnel type",
                    OPT_NAMES[k], TUN_NAMES[tun]
                ));
            }
            (true, b'1') => match last {
                None => last = Some(k),
                Some(l) => {
                    return fail(format!(
                        "The option '{}' conflicts with the '{}' option in the '{}' tunnel type",
                        OPT_NAMES[k], OPT_NAMES[l], TUN_NAMES[tun]
                    ));
                }
            },
            _ => {}
        }
    }
    Ok(())
}

/// Parses one command line (without `argv[0]`) with ipvsadm's rules.
pub fn parse(args: &[String]) -> Result<Cmd, Fail> {
    let scanned = popt::scan(TABLE, args).map_err(|e| Fail::Popt(e.to_string()))?;
    let mut it = scanned.opts.into_iter();
    let Some(first) = it.next() else {
        return Err(Fail::TryHelp);
    };
    let cmd = match first.spec.sets {
        Sets::Command(kind) => new_cmd(kind),
        Sets::Help => return Err(Fail::Help),
        Sets::Version => return Err(Fail::Version),
        Sets::Daemon(kind) => {
            let state = match first.value.as_deref().unwrap_or_default() {
                "master" => DaemonState::Master,
                "backup" => DaemonState::Backup,
                _ if kind == CmdKind::StartDaemon => {
                    return fail("illegal start-daemon parameter specified");
                }
                _ => return fail("illegal start_daemon specified"),
            };
            let mut cmd = new_cmd(kind);
            cmd.daemon.state = state;
            cmd
        }
        Sets::Flag(_) | Sets::Nothing | Sets::Value => return Err(Fail::TryHelp),
    };
    finish(cmd, it, scanned.rest)
}

fn new_cmd(kind: CmdKind) -> Cmd {
    Cmd {
        kind,
        options: 0,
        svc: SvcArgs::new(),
        // weight 1, direct routing, tunnel defaults
        dest: Dest::new(Ipv4Addr::UNSPECIFIED, 0, Forward::Route),
        timeouts: Timeouts::default(),
        daemon: SyncDaemon::new(DaemonState::Master, "", 0),
    }
}

/// What option processing keeps besides the command: the real server's
/// address family (checked against the service's at the end) and the `-b`
/// argument (read once the scheduler is known).
#[derive(Default)]
struct Pending {
    dest_af: u16,
    sched_flags: Option<String>,
}

/// ipvsadm's option loop, leftover arguments and `process_options` checks.
fn finish(mut ce: Cmd, opts: impl Iterator<Item = Found>, rest: Vec<String>) -> Result<Cmd, Fail> {
    let mut pending = Pending::default();
    for f in opts {
        option(&mut ce, &mut pending, &f)?;
    }
    arguments(&mut ce, rest)?;
    if let Some(arg) = pending.sched_flags {
        ce.svc.flags &= !(ServiceFlags::SCHED1.0 | ServiceFlags::SCHED2.0 | ServiceFlags::SCHED3.0);
        ce.svc.flags |= parse_sched_flags(&ce.svc.sched, &arg)?;
    }

    // process_options
    generic_opt_check(ce.kind, ce.options)?;
    if matches!(ce.kind, CmdKind::Add | CmdKind::Edit) {
        check_service(&mut ce.svc)?;
    }
    if ce.kind == CmdKind::StartDaemon && ce.daemon.mcast_ifn.is_empty() {
        ce.daemon.mcast_ifn = "eth0".into();
    }
    if matches!(ce.kind, CmdKind::AddDest | CmdKind::EditDest) {
        check_dest(&mut ce, pending.dest_af)?;
    }
    if ce.dest.forward != Forward::Tunnel {
        ce.dest.tunnel = Tunnel::default();
    }
    Ok(ce)
}

/// One option after the command, in command-line order.
fn option(ce: &mut Cmd, pending: &mut Pending, f: &Found) -> Result<(), Fail> {
    let (name, val) = (f.spec.long, &f.value);
    let handled = match f.spec.sets {
        Sets::Flag(opt) => return set_option(&mut ce.options, opt),
        Sets::Nothing => return Ok(()),
        Sets::Value => {
            service_option(ce, pending, name, val)?
                || dest_option(ce, pending, name, val)?
                || daemon_option(ce, name, val)?
        }
        // a second command, -h or -v after the command
        Sets::Command(_) | Sets::Daemon(_) | Sets::Help | Sets::Version => false,
    };
    if handled {
        Ok(())
    } else {
        fail(format!("invalid option `{}'", f.text))
    }
}

/// The virtual service's options; `Ok(false)` if `name` is none of them.
fn service_option(
    ce: &mut Cmd,
    pending: &mut Pending,
    name: &str,
    val: &Option<String>,
) -> Result<bool, Fail> {
    let o = &mut ce.options;
    let v = val.clone().unwrap_or_default();
    match name {
        "tcp-service" | "udp-service" | "sctp-service" => {
            set_option(o, O_SERVICE)?;
            ce.svc.protocol = match name {
                "tcp-service" => IPPROTO_TCP,
                "udp-service" => IPPROTO_UDP,
                _ => IPPROTO_SCTP,
            };
            if parse_service(&v, &mut ce.svc) & SERVICE_ADDR == 0 {
                return fail("illegal virtual server address[:port] specified");
            }
        }
        "fwmark-service" => {
            set_option(o, O_SERVICE)?;
            ce.svc.af = AF_INET;
            ce.svc.protocol = IPPROTO_TCP;
            ce.svc.fwmark = match number(&v, 1, u32::MAX as i64) {
                Some(n) => n as u32,
                None => return fail(format!("invalid fwmark value `{v}' specified")),
            };
        }
        "scheduler" => {
            set_option(o, O_SCHEDULER)?;
            ce.svc.sched = v.chars().take(15).collect();
        }
        "persistent" => {
            set_option(o, O_PERSISTENT)?;
            ce.svc.flags |= ServiceFlags::PERSISTENT.0;
            ce.svc.timeout = parse_timeout(val.as_deref(), 1, MAX_TIMEOUT)?;
        }
        "netmask" => {
            set_option(o, O_NETMASK)?;
            if ce.svc.af != AF_INET6 {
                match names::parse_inet_aton(&v).or_else(|| names::host_to_addr(&v)) {
                    Some(m) => ce.svc.netmask_v4 = m,
                    None => return fail("illegal virtual server persistent mask specified"),
                }
            } else {
                let n = atoi(&v);
                if !(1..=128).contains(&n) {
                    return fail("illegal ipv6 netmask specified");
                }
                ce.svc.netmask_v6 = n as u32;
            }
        }
        "ipv6" => {
            if ce.svc.fwmark != 0 {
                ce.svc.af = AF_INET6;
                ce.svc.netmask_v6 = 128;
            } else {
                return fail("-6 used before -f\n");
            }
        }
        "ops" => {
            set_option(o, O_ONEPACKET)?;
            ce.svc.flags |= ServiceFlags::ONEPACKET.0;
        }
        "pe" => {
            set_option(o, O_PE)?;
            ce.svc.pe_name = v.chars().take(16).collect();
        }
        "sched-flags" => {
            set_option(o, O_SCHED_FLAGS)?;
            pending.sched_flags = Some(v);
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// `strtoul` within `[0, INT_MAX]` for a weight or threshold.
fn dest_number(v: &str, what: &str) -> Result<u32, Fail> {
    match number(v, 0, i32::MAX as i64) {
        Some(n) => Ok(n as u32),
        None => fail(format!("illegal {what} specified")),
    }
}

/// The real server's options; `Ok(false)` if `name` is none of them.
fn dest_option(
    ce: &mut Cmd,
    pending: &mut Pending,
    name: &str,
    val: &Option<String>,
) -> Result<bool, Fail> {
    let o = &mut ce.options;
    let v = val.clone().unwrap_or_default();
    match name {
        "real-server" => {
            set_option(o, O_SERVER)?;
            let mut t = ce.svc.clone();
            let parse = parse_service(&v, &mut t);
            pending.dest_af = t.af;
            ce.dest.addr = t.addr.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            ce.dest.port = t.port;
            if parse & SERVICE_ADDR == 0 {
                return fail("illegal real server address[:port] specified");
            }
            if parse == SERVICE_ADDR {
                ce.dest.port = ce.svc.port;
            }
        }
        "ipip" | "gatewaying" | "masquerading" => {
            set_option(o, O_FORWARD)?;
            ce.dest.forward = match name {
                "ipip" => Forward::Tunnel,
                "gatewaying" => Forward::Route,
                _ => Forward::Masq,
            };
        }
        "weight" => {
            set_option(o, O_WEIGHT)?;
            ce.dest.weight = dest_number(&v, "weight")?;
        }
        "u-threshold" => {
            set_option(o, O_UTHRESHOLD)?;
            ce.dest.u_threshold = dest_number(&v, "u_threshold")?;
        }
        "l-threshold" => {
            set_option(o, O_LTHRESHOLD)?;
            ce.dest.l_threshold = dest_number(&v, "l_threshold")?;
        }
        "tun-type" => {
            set_option(o, O_TUN_TYPE)?;
            ce.dest.tunnel.kind = match v.as_str() {
                "ipip" => TunnelType::Ipip,
                "gue" => TunnelType::Gue,
                "gre" => TunnelType::Gre,
                _ => return fail("illegal tunnel type specified"),
            };
        }
        "tun-port" => {
            set_option(o, O_TUN_PORT)?;
            match number(&v, 1, 65535) {
                Some(n) => ce.dest.tunnel.port = n as u16,
                None => return fail("illegal tunnel port specified"),
            }
        }
        "tun-csum" => {
            set_option(o, O_TUN_CSUM)?;
            ce.dest.tunnel.csum = TunnelCsum::Csum;
        }
        "tun-remcsum" => {
            set_option(o, O_TUN_REMCSUM)?;
            ce.dest.tunnel.csum = TunnelCsum::RemCsum;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// The sync daemon's options; `Ok(false)` if `name` is none of them.
fn daemon_option(ce: &mut Cmd, name: &str, val: &Option<String>) -> Result<bool, Fail> {
    let o = &mut ce.options;
    let v = val.clone().unwrap_or_default();
    match name {
        "mcast-interface" => {
            set_option(o, O_MCAST)?;
            ce.daemon.mcast_ifn = v.chars().take(15).collect();
        }
        "syncid" => {
            set_option(o, O_SYNCID)?;
            match number(&v, 0, 255) {
                Some(n) => ce.daemon.sync_id = n as u32,
                None => return fail("illegal syncid specified"),
            }
        }
        "mcast-group" => {
            set_option(o, O_MCAST_GROUP)?;
            if v.contains(':') {
                match v.parse::<Ipv6Addr>() {
                    Ok(a) if a.is_multicast() => ce.daemon.mcast_group = Some(a.into()),
                    _ => return fail(format!("invalid IPv6 mcast-group `{v}'")),
                }
            } else {
                match v.parse::<Ipv4Addr>() {
                    Ok(a) if a.is_multicast() => ce.daemon.mcast_group = Some(a.into()),
                    _ => return fail(format!("invalid IPv4 mcast-group `{v}'")),
                }
            }
        }
        "mcast-port" => {
            set_option(o, O_MCAST_PORT)?;
            match number(&v, 1, 65535) {
                Some(n) => ce.daemon.mcast_port = n as u16,
                None => return fail("illegal mcast-port specified"),
            }
        }
        "mcast-ttl" => {
            set_option(o, O_MCAST_TTL)?;
            match number(&v, 1, 255) {
                Some(n) => ce.daemon.mcast_ttl = n as u8,
                None => return fail("illegal mcast-ttl specified"),
            }
        }
        "sync-maxlen" => {
            set_option(o, O_SYNC_MAXLEN)?;
            // the largest UDP payload in one IPv4 packet
            match number(&v, 1, 65535 - 20 - 8) {
                Some(n) => ce.daemon.sync_maxlen = n as u16,
                None => return fail("illegal sync-maxlen specified"),
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// The arguments left after the options: `--set`'s three timeouts, and
/// nothing else.
fn arguments(ce: &mut Cmd, rest: Vec<String>) -> Result<(), Fail> {
    let mut rest = rest.into_iter();
    if ce.kind == CmdKind::Timeout {
        let (Some(a), Some(b), Some(c)) = (rest.next(), rest.next(), rest.next()) else {
            return fail("--set option requires 3 timeout values");
        };
        ce.timeouts = Timeouts {
            tcp: parse_timeout(Some(&a), 0, MAX_TIMEOUT)?,
            tcp_fin: parse_timeout(Some(&b), 0, MAX_TIMEOUT)?,
            udp: parse_timeout(Some(&c), 0, MAX_TIMEOUT)?,
        };
    }
    match rest.next() {
        Some(a) => fail(format!("unexpected argument {a}")),
        None => Ok(()),
    }
}

/// `-A`/`-E`: a port unless persistent, one-packet scheduling only for UDP,
/// `wlc` by default.
fn check_service(svc: &mut SvcArgs) -> Result<(), Fail> {
    if svc.fwmark == 0 && svc.port == 0 && svc.flags & ServiceFlags::PERSISTENT.0 == 0 {
        return fail("Zero port specified for non-persistent service");
    }
    if svc.flags & ServiceFlags::ONEPACKET.0 != 0 && svc.fwmark == 0 && svc.protocol != IPPROTO_UDP
    {
        return fail("One-Packet Scheduling is only for UDP virtual services");
    }
    if svc.sched.is_empty() {
        svc.sched = "wlc".into();
    }
    Ok(())
}

/// `-a`/`-e`: direct routing and tunnelling take the service's port, one
/// address family but for tunnels, tunnel options only for tunnels.
fn check_dest(ce: &mut Cmd, dest_af: u16) -> Result<(), Fail> {
    let fwd = ce.dest.forward;
    if ce.svc.fwmark == 0 && matches!(fwd, Forward::Tunnel | Forward::Route) {
        ce.dest.port = ce.svc.port;
    }
    if dest_af != ce.svc.af && fwd != Forward::Tunnel {
        return fail("Different address family is allowed only for tunneling servers");
    }
    let tun_opts = (1u64 << O_TUN_TYPE)
        | (1 << O_TUN_PORT)
        | (1 << O_TUN_NOCSUM)
        | (1 << O_TUN_CSUM)
        | (1 << O_TUN_REMCSUM);
    if ce.options & tun_opts != 0 && fwd != Forward::Tunnel {
        return fail("Tunnel options conflict with forward method");
    }
    tunnel_opt_check(ce.dest.tunnel.kind.value() as usize, ce.options)
}

/// C `atoi`: leading decimal digits, 0 if none.
fn atoi(s: &str) -> i64 {
    let t = s.trim_start();
    let (sign, t) = match t.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    let digits: String = t
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .take(18)
        .collect();
    sign * digits.parse::<i64>().unwrap_or(0)
}

/// Splits a `-R` input line into arguments the way ipvsadm does: on spaces,
/// tabs and CRs, dropping `ipvsadm` words; a `#` starts a comment.
pub fn restore_words(line: &str) -> Vec<String> {
    let line = match line.find('#') {
        Some(i) => &line[..i],
        None => line,
    };
    line.split([' ', '\t', '\r'])
        .filter(|w| !w.is_empty() && *w != "ipvsadm")
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Cmd, Fail> {
        parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn clustered_and_attached_options() {
        let c = p("-At 10.0.0.1:80 -s rr -p").unwrap();
        assert_eq!(c.kind, CmdKind::Add);
        let s = c.svc.service().unwrap();
        assert_eq!(s.key, ServiceKey::tcp(Ipv4Addr::new(10, 0, 0, 1), 80));
        assert_eq!((s.scheduler.as_str(), s.timeout), ("rr", 300));
        let c = p("-a -t10.0.0.1:80 -r 10.0.0.2 -m -w 3").unwrap();
        assert_eq!(c.dest.port, 80);
        assert_eq!(c.dest.forward, Forward::Masq);
        assert_eq!(c.dest.weight, 3);
        let c = p("-A --udp-service=[2001:db8::1]:53 -p 60 -M 64").unwrap();
        assert_eq!(c.svc.service().unwrap().netmask, Netmask::V6(64));
        assert!(p("-Ln").unwrap().has(O_NUMERIC));
    }

    #[test]
    fn ipvsadm_checks_and_messages() {
        assert_eq!(
            p("-A -t 10.0.0.1:0").unwrap_err(),
            Fail::Msg("Zero port specified for non-persistent service".into())
        );
        assert_eq!(
            p("-a -t 10.0.0.1:80").unwrap_err(),
            Fail::Msg(
                "You need to supply the 'real-server' option for the 'add-server' command".into()
            )
        );
        assert_eq!(
            p("-D -t 10.0.0.1:80 -s rr").unwrap_err(),
            Fail::Msg("Illegal 'scheduler' option with the 'delete-service' command".into())
        );
        assert_eq!(
            p("-L -c --timeout").unwrap_err(),
            Fail::Msg(
                "The option 'timeout' conflicts with the 'connection' option in the 'list' command"
                    .into()
            )
        );
        assert_eq!(
            p("-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type gue").unwrap_err(),
            Fail::Msg("You need to supply the 'tun-port' option for the 'gue' tunnel type".into())
        );
        assert_eq!(
            p("-a -t 10.0.0.1:80 -r 10.0.0.2 -m --tun-type gre").unwrap_err(),
            Fail::Msg("Tunnel options conflict with forward method".into())
        );
        assert_eq!(p("-t 10.0.0.1:80 -A").unwrap_err(), Fail::TryHelp);
        assert_eq!(
            p("-A -t 10.0.0.1:80 -s rr -s wlc").unwrap_err(),
            Fail::Msg("multiple 'scheduler' options specified".into())
        );
        assert_eq!(
            p("--set 1 2").unwrap_err(),
            Fail::Msg("--set option requires 3 timeout values".into())
        );
        assert!(matches!(p("-A -q").unwrap_err(), Fail::Popt(_)));
    }

    #[test]
    fn dr_and_tunnel_take_the_service_port() {
        let c = p("-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -g").unwrap();
        assert_eq!(c.dest.port, 80);
        let c = p("-a -f 5 -r 10.0.0.2:8080 -g").unwrap();
        assert_eq!(c.dest.port, 8080);
    }

    #[test]
    fn every_option_has_a_handler() {
        // commands, -h and -v are refused after the command; every other
        // option of the table is handled by one of option()'s groups
        for spec in TABLE {
            let mut ce = new_cmd(CmdKind::List);
            let found = Found {
                spec,
                value: Some("1".into()),
                text: spec.long.into(),
            };
            let r = option(&mut ce, &mut Pending::default(), &found);
            let refused = r == Err(Fail::Msg(format!("invalid option `{}'", spec.long)));
            let command = matches!(
                spec.sets,
                Sets::Command(_) | Sets::Daemon(_) | Sets::Help | Sets::Version
            );
            assert_eq!(refused, command, "{}: {r:?}", spec.long);
        }
    }

    #[test]
    fn restore_lines_split_like_ipvsadm() {
        assert_eq!(
            restore_words("ipvsadm -A -t 1.2.3.4:80\t-s rr # note\r"),
            vec!["-A", "-t", "1.2.3.4:80", "-s", "rr"]
        );
        assert!(restore_words("   ").is_empty());
    }
}
