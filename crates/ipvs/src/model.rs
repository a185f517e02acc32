//! The typed IPVS table: services, destinations, statistics, sync daemons.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use crate::consts::*;

/// Address family of a service or destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// IPv4 (`AF_INET`).
    V4,
    /// IPv6 (`AF_INET6`).
    V6,
}

impl Family {
    /// The family of `addr`.
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The `AF_*` number.
    pub fn af(self) -> u16 {
        match self {
            Family::V4 => AF_INET,
            Family::V6 => AF_INET6,
        }
    }

    /// From an `AF_*` number.
    pub fn from_af(af: u16) -> Option<Family> {
        match af {
            AF_INET => Some(Family::V4),
            AF_INET6 => Some(Family::V6),
            _ => None,
        }
    }
}

/// Transport protocol of an address:port service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// SCTP (132).
    Sctp,
}

impl Protocol {
    /// The `IPPROTO_*` number.
    pub fn number(self) -> u16 {
        match self {
            Protocol::Tcp => IPPROTO_TCP,
            Protocol::Udp => IPPROTO_UDP,
            Protocol::Sctp => IPPROTO_SCTP,
        }
    }

    /// From an `IPPROTO_*` number.
    pub fn from_number(n: u16) -> Option<Protocol> {
        match n {
            IPPROTO_TCP => Some(Protocol::Tcp),
            IPPROTO_UDP => Some(Protocol::Udp),
            IPPROTO_SCTP => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// ipvsadm's name: `TCP`, `UDP`, `SCTP`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// What identifies a virtual service in the kernel table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceKey {
    /// A protocol, address and port (port 0 = all ports, persistent only).
    Inet {
        /// Transport protocol.
        protocol: Protocol,
        /// Virtual address.
        addr: IpAddr,
        /// Virtual port.
        port: u16,
    },
    /// A firewall-mark service.
    Fwmark {
        /// Address family the mark applies to.
        family: Family,
        /// The mark (> 0).
        mark: u32,
    },
}

impl ServiceKey {
    /// A TCP service.
    pub fn tcp(addr: impl Into<IpAddr>, port: u16) -> ServiceKey {
        ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: addr.into(),
            port,
        }
    }

    /// A UDP service.
    pub fn udp(addr: impl Into<IpAddr>, port: u16) -> ServiceKey {
        ServiceKey::Inet {
            protocol: Protocol::Udp,
            addr: addr.into(),
            port,
        }
    }

    /// An SCTP service.
    pub fn sctp(addr: impl Into<IpAddr>, port: u16) -> ServiceKey {
        ServiceKey::Inet {
            protocol: Protocol::Sctp,
            addr: addr.into(),
            port,
        }
    }

    /// An IPv4 firewall-mark service.
    pub fn fwmark(mark: u32) -> ServiceKey {
        ServiceKey::Fwmark {
            family: Family::V4,
            mark,
        }
    }

    /// An IPv6 firewall-mark service.
    pub fn fwmark6(mark: u32) -> ServiceKey {
        ServiceKey::Fwmark {
            family: Family::V6,
            mark,
        }
    }

    /// The service's address family.
    pub fn family(&self) -> Family {
        match self {
            ServiceKey::Inet { addr, .. } => Family::of(addr),
            ServiceKey::Fwmark { family, .. } => *family,
        }
    }

    /// The virtual port (0 for fwmark services).
    pub fn port(&self) -> u16 {
        match self {
            ServiceKey::Inet { port, .. } => *port,
            ServiceKey::Fwmark { .. } => 0,
        }
    }
}

/// `TCP 192.0.2.1:80`, `UDP [2001:db8::1]:53`, `FWM 7`, `FWM 7 IPv6`.
impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Inet {
                protocol,
                addr,
                port,
            } => write!(f, "{} {}", protocol.name(), AddrPort(*addr, *port)),
            ServiceKey::Fwmark {
                family: Family::V4,
                mark,
            } => write!(f, "FWM {mark}"),
            ServiceKey::Fwmark {
                family: Family::V6,
                mark,
            } => write!(f, "FWM {mark} IPv6"),
        }
    }
}

/// `a.b.c.d:port` or `[v6]:port`, the way ipvsadm prints addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrPort(pub IpAddr, pub u16);

impl fmt::Display for AddrPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.1),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.1),
        }
    }
}

/// Service flags (`IP_VS_SVC_F_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceFlags(pub u32);

impl ServiceFlags {
    /// Persistent service: uses the timeout and netmask.
    pub const PERSISTENT: ServiceFlags = ServiceFlags(0x0001);
    /// Kernel-internal "hashed" bit; never sent, removed when decoding.
    pub const HASHED: ServiceFlags = ServiceFlags(0x0002);
    /// One-packet scheduling (UDP).
    pub const ONEPACKET: ServiceFlags = ServiceFlags(0x0004);
    /// Scheduler flag 1 (`sh-fallback`, `mh-fallback`).
    pub const SCHED1: ServiceFlags = ServiceFlags(0x0008);
    /// Scheduler flag 2 (`sh-port`, `mh-port`).
    pub const SCHED2: ServiceFlags = ServiceFlags(0x0010);
    /// Scheduler flag 3.
    pub const SCHED3: ServiceFlags = ServiceFlags(0x0020);

    /// No flags.
    pub const fn empty() -> ServiceFlags {
        ServiceFlags(0)
    }

    /// True if every bit of `other` is set.
    pub const fn contains(self, other: ServiceFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Bits of `self` and `other`.
    pub const fn union(self, other: ServiceFlags) -> ServiceFlags {
        ServiceFlags(self.0 | other.0)
    }

    /// Bits of `self` without those of `other`.
    pub const fn without(self, other: ServiceFlags) -> ServiceFlags {
        ServiceFlags(self.0 & !other.0)
    }
}

impl std::ops::BitOr for ServiceFlags {
    type Output = ServiceFlags;
    fn bitor(self, rhs: ServiceFlags) -> ServiceFlags {
        self.union(rhs)
    }
}

/// Persistence granularity, as the kernel stores it.
///
/// IPv4 services carry a dotted mask (`255.255.255.0`; "none" is
/// `255.255.255.255`); IPv6 services carry a prefix length (1..=128; "none"
/// is 128).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Netmask {
    /// An IPv4 mask.
    V4(Ipv4Addr),
    /// An IPv6 prefix length.
    V6(u32),
}

impl Netmask {
    /// The "no granularity" value for `family` (`/32` or `/128`).
    pub fn host(family: Family) -> Netmask {
        match family {
            Family::V4 => Netmask::V4(Ipv4Addr::BROADCAST),
            Family::V6 => Netmask::V6(128),
        }
    }
}

/// A virtual service and its settings (everything NEW/SET_SERVICE sends).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Service {
    /// Identity.
    pub key: ServiceKey,
    /// Scheduler name (`wlc`, `rr`, ...; at most 15 bytes).
    pub scheduler: String,
    /// Flags (never [`ServiceFlags::HASHED`]).
    pub flags: ServiceFlags,
    /// Persistence timeout in seconds.
    pub timeout: u32,
    /// Persistence granularity.
    pub netmask: Netmask,
    /// Persistence engine (`sip`), if any.
    pub pe_name: Option<String>,
}

impl Service {
    /// A non-persistent service with scheduler `scheduler`.
    pub fn new(key: ServiceKey, scheduler: &str) -> Service {
        Service {
            key,
            scheduler: scheduler.to_string(),
            flags: ServiceFlags::empty(),
            timeout: 0,
            netmask: Netmask::host(key.family()),
            pe_name: None,
        }
    }

    /// The same service made persistent for `timeout` seconds with `netmask`.
    pub fn persistent(mut self, timeout: u32, netmask: Netmask) -> Service {
        self.flags = self.flags | ServiceFlags::PERSISTENT;
        self.timeout = timeout;
        self.netmask = netmask;
        self
    }
}

/// Forwarding method of a destination (`IP_VS_CONN_F_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Forward {
    /// NAT (`-m`, lvs.cf `nat`).
    Masq,
    /// Local node (the kernel picks this for local addresses).
    Local,
    /// IP tunnelling (`-i`, lvs.cf `tunnel`).
    Tunnel,
    /// Direct routing (`-g`, lvs.cf `direct`).
    Route,
}

impl Forward {
    /// The wire value.
    pub fn value(self) -> u32 {
        match self {
            Forward::Masq => 0,
            Forward::Local => 1,
            Forward::Tunnel => 2,
            Forward::Route => 3,
        }
    }

    /// From the wire value (masked with `IP_VS_CONN_F_FWD_MASK`).
    pub fn from_value(v: u32) -> Option<Forward> {
        match v & CONN_F_FWD_MASK {
            0 => Some(Forward::Masq),
            1 => Some(Forward::Local),
            2 => Some(Forward::Tunnel),
            3 => Some(Forward::Route),
            _ => None,
        }
    }
}

/// Tunnel encapsulation of a tunnelled destination (kernel 5.2+).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TunnelType {
    /// IP-in-IP (the default).
    #[default]
    Ipip,
    /// Generic UDP encapsulation (needs a port).
    Gue,
    /// GRE (kernel 5.3+).
    Gre,
}

impl TunnelType {
    /// The wire value.
    pub fn value(self) -> u8 {
        match self {
            TunnelType::Ipip => 0,
            TunnelType::Gue => 1,
            TunnelType::Gre => 2,
        }
    }

    /// From the wire value.
    pub fn from_value(v: u8) -> Option<TunnelType> {
        match v {
            0 => Some(TunnelType::Ipip),
            1 => Some(TunnelType::Gue),
            2 => Some(TunnelType::Gre),
            _ => None,
        }
    }
}

/// Tunnel checksum mode (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TunnelCsum {
    /// No checksum (the default).
    #[default]
    NoCsum,
    /// Checksum.
    Csum,
    /// Remote checksum offload.
    RemCsum,
}

impl TunnelCsum {
    /// The wire value.
    pub fn value(self) -> u16 {
        match self {
            TunnelCsum::NoCsum => 0,
            TunnelCsum::Csum => 1,
            TunnelCsum::RemCsum => 2,
        }
    }

    /// From the wire value.
    pub fn from_value(v: u16) -> Option<TunnelCsum> {
        match v {
            0 => Some(TunnelCsum::NoCsum),
            1 => Some(TunnelCsum::Csum),
            2 => Some(TunnelCsum::RemCsum),
            _ => None,
        }
    }
}

/// Tunnel settings; all zero (IPIP, port 0, no checksum) unless set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tunnel {
    /// Encapsulation.
    pub kind: TunnelType,
    /// Destination UDP port (GUE only).
    pub port: u16,
    /// Checksum mode (GUE, GRE).
    pub csum: TunnelCsum,
}

/// What identifies a destination within its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DestKey {
    /// Real server address.
    pub addr: IpAddr,
    /// Real server port.
    pub port: u16,
}

impl fmt::Display for DestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        AddrPort(self.addr, self.port).fmt(f)
    }
}

/// A real server of a virtual service (everything NEW/SET_DEST sends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dest {
    /// Real server address (may differ in family from the service only
    /// when tunnelling).
    pub addr: IpAddr,
    /// Real server port.
    pub port: u16,
    /// Forwarding method.
    pub forward: Forward,
    /// Weight; 0 quiesces the server.
    pub weight: u32,
    /// Upper connection threshold (0 = none).
    pub u_threshold: u32,
    /// Lower connection threshold.
    pub l_threshold: u32,
    /// Tunnel settings (used with [`Forward::Tunnel`]).
    pub tunnel: Tunnel,
}

impl Dest {
    /// A destination with weight 1 and no thresholds.
    pub fn new(addr: impl Into<IpAddr>, port: u16, forward: Forward) -> Dest {
        Dest {
            addr: addr.into(),
            port,
            forward,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
            tunnel: Tunnel::default(),
        }
    }

    /// The same destination with weight `weight`.
    pub fn weight(mut self, weight: u32) -> Dest {
        self.weight = weight;
        self
    }

    /// Its identity within the service.
    pub fn key(&self) -> DestKey {
        DestKey {
            addr: self.addr,
            port: self.port,
        }
    }
}

/// Traffic counters and rates of a service or destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections scheduled.
    pub conns: u64,
    /// Incoming packets.
    pub inpkts: u64,
    /// Outgoing packets.
    pub outpkts: u64,
    /// Incoming bytes.
    pub inbytes: u64,
    /// Outgoing bytes.
    pub outbytes: u64,
    /// Connections per second.
    pub cps: u64,
    /// Incoming packets per second.
    pub inpps: u64,
    /// Outgoing packets per second.
    pub outpps: u64,
    /// Incoming bytes per second.
    pub inbps: u64,
    /// Outgoing bytes per second.
    pub outbps: u64,
}

/// A service as listed by the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEntry {
    /// The service.
    pub service: Service,
    /// Its counters.
    pub stats: Stats,
}

/// A destination as listed by the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestEntry {
    /// The destination.
    pub dest: Dest,
    /// Active connections.
    pub active_conns: u32,
    /// Inactive connections.
    pub inact_conns: u32,
    /// Persistence templates.
    pub persist_conns: u32,
    /// Its counters.
    pub stats: Stats,
}

/// A listed service with its listed destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDump {
    /// The service.
    pub entry: ServiceEntry,
    /// Its destinations.
    pub dests: Vec<DestEntry>,
}

/// A service with its destinations, without counters: the unit of desired
/// state for [`crate::reconcile::plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualService {
    /// The service.
    pub service: Service,
    /// Its destinations.
    pub dests: Vec<Dest>,
}

impl From<&ServiceDump> for VirtualService {
    fn from(d: &ServiceDump) -> VirtualService {
        VirtualService {
            service: d.entry.service.clone(),
            dests: d.dests.iter().map(|e| e.dest).collect(),
        }
    }
}

/// Connection timeouts in seconds (0 in a set = leave unchanged).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    /// Established TCP.
    pub tcp: u32,
    /// TCP after FIN.
    pub tcp_fin: u32,
    /// UDP.
    pub udp: u32,
}

/// Role of a connection-sync daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DaemonState {
    /// Sends connection state.
    Master,
    /// Receives connection state.
    Backup,
}

impl DaemonState {
    /// The wire value.
    pub fn value(self) -> u32 {
        match self {
            DaemonState::Master => 1,
            DaemonState::Backup => 2,
        }
    }

    /// ipvsadm's word: `master`, `backup`.
    pub fn name(self) -> &'static str {
        match self {
            DaemonState::Master => "master",
            DaemonState::Backup => "backup",
        }
    }
}

/// A connection-sync daemon's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncDaemon {
    /// Master or backup.
    pub state: DaemonState,
    /// Multicast interface (at most 15 bytes).
    pub mcast_ifn: String,
    /// Sync id (0..=255).
    pub sync_id: u32,
    /// UDP payload size (0 = kernel default).
    pub sync_maxlen: u16,
    /// Multicast group (None = kernel default 224.0.0.81).
    pub mcast_group: Option<IpAddr>,
    /// UDP port (0 = kernel default 8848).
    pub mcast_port: u16,
    /// Multicast TTL (0 = kernel default 1).
    pub mcast_ttl: u8,
}

impl SyncDaemon {
    /// A daemon with kernel defaults for everything but role, interface and id.
    pub fn new(state: DaemonState, mcast_ifn: &str, sync_id: u32) -> SyncDaemon {
        SyncDaemon {
            state,
            mcast_ifn: mcast_ifn.to_string(),
            sync_id,
            sync_maxlen: 0,
            mcast_group: None,
            mcast_port: 0,
            mcast_ttl: 0,
        }
    }
}

/// General IPVS information.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// `IP_VS_VERSION_CODE`, e.g. `0x010201` for 1.2.1.
    pub version: u32,
    /// Size of the connection hash table.
    pub conn_tab_size: u32,
}

impl Info {
    /// `(major, minor, patch)` of [`Info::version`].
    pub fn version_triple(&self) -> (u32, u32, u32) {
        (
            (self.version >> 16) & 0xff,
            (self.version >> 8) & 0xff,
            self.version & 0xff,
        )
    }
}

/// One change to the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// NEW_SERVICE.
    AddService(Service),
    /// SET_SERVICE.
    EditService(Service),
    /// DEL_SERVICE (also removes its destinations).
    DelService(ServiceKey),
    /// NEW_DEST.
    AddDest(ServiceKey, Dest),
    /// SET_DEST.
    EditDest(ServiceKey, Dest),
    /// DEL_DEST.
    DelDest(ServiceKey, DestKey),
}

impl Op {
    /// The operation, for error messages.
    pub fn operation(&self) -> crate::error::Operation {
        use crate::error::Operation as O;
        match self {
            Op::AddService(_) => O::AddService,
            Op::EditService(_) => O::EditService,
            Op::DelService(_) => O::DelService,
            Op::AddDest(..) => O::AddDest,
            Op::EditDest(..) => O::EditDest,
            Op::DelDest(..) => O::DelDest,
        }
    }

    /// The object it acts on, for error messages (`TCP 1.2.3.4:80` or
    /// `TCP 1.2.3.4:80 -> 10.0.0.1:80`).
    pub fn object(&self) -> String {
        match self {
            Op::AddService(s) | Op::EditService(s) => s.key.to_string(),
            Op::DelService(k) => k.to_string(),
            Op::AddDest(k, d) | Op::EditDest(k, d) => format!("{k} -> {}", d.key()),
            Op::DelDest(k, d) => format!("{k} -> {d}"),
        }
    }
}
