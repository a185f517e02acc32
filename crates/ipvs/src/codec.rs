//! Wire format: building IPVS requests and decoding kernel replies.
//!
//! Encoding follows `docs/spec/ipvs-genl.md` byte for byte (the same
//! attributes, order and byte orders ipvsadm sends). Decoding is tolerant:
//! unknown attributes are skipped, nests are read with or without
//! `NLA_F_NESTED`, and malformed input gives a [`DecodeError`], never a panic.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{
    DecodeError as CoreDecodeError, Emitable, Nla, NlasIterator, ParseableParametrized,
};
use netlink_packet_generic::{GenlFamily, GenlHeader};

use crate::consts::*;
use crate::model::*;

/// A reply the decoder could not make sense of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

fn err<T>(msg: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError(msg.into()))
}

// ---------------------------------------------------------------- encoding

/// One netlink attribute to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attr {
    /// u8.
    U8(u16, u8),
    /// u16 in host order.
    U16(u16, u16),
    /// u16 in network order.
    Be16(u16, u16),
    /// u32 in host order.
    U32(u16, u32),
    /// Raw bytes.
    Bytes(u16, Vec<u8>),
    /// NUL-terminated string.
    Str(u16, String),
    /// A nest (sent without `NLA_F_NESTED`, as ipvsadm does).
    Nest(u16, Vec<Attr>),
}

impl Nla for Attr {
    fn value_len(&self) -> usize {
        match self {
            Attr::U8(..) => 1,
            Attr::U16(..) | Attr::Be16(..) => 2,
            Attr::U32(..) => 4,
            Attr::Bytes(_, b) => b.len(),
            Attr::Str(_, s) => s.len() + 1,
            Attr::Nest(_, v) => v.as_slice().buffer_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            Attr::U8(k, _)
            | Attr::U16(k, _)
            | Attr::Be16(k, _)
            | Attr::U32(k, _)
            | Attr::Bytes(k, _)
            | Attr::Str(k, _)
            | Attr::Nest(k, _) => *k,
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        match self {
            Attr::U8(_, v) => buf[0] = *v,
            Attr::U16(_, v) => buf[..2].copy_from_slice(&v.to_ne_bytes()),
            Attr::Be16(_, v) => buf[..2].copy_from_slice(&v.to_be_bytes()),
            Attr::U32(_, v) => buf[..4].copy_from_slice(&v.to_ne_bytes()),
            Attr::Bytes(_, b) => buf[..b.len()].copy_from_slice(b),
            Attr::Str(_, s) => {
                buf[..s.len()].copy_from_slice(s.as_bytes());
                buf[s.len()] = 0;
            }
            Attr::Nest(_, v) => v.as_slice().emit(buf),
        }
    }
}

/// Serializes `attrs` back to back (each padded to 4 bytes).
pub fn emit_attrs(attrs: &[Attr]) -> Vec<u8> {
    let mut buf = vec![0u8; attrs.buffer_len()];
    attrs.emit(&mut buf);
    buf
}

/// 16 bytes of `union nf_inet_addr`: IPv4 zero-padded.
fn addr16(addr: &IpAddr) -> Vec<u8> {
    let mut b = vec![0u8; 16];
    match addr {
        IpAddr::V4(a) => b[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => b.copy_from_slice(&a.octets()),
    }
    b
}

/// The identity attributes of a service (enough for GET/DEL and dest ops).
pub fn service_key_attrs(key: &ServiceKey) -> Vec<Attr> {
    let mut v = vec![Attr::U16(SVC_ATTR_AF, key.family().af())];
    match key {
        ServiceKey::Fwmark { mark, .. } => v.push(Attr::U32(SVC_ATTR_FWMARK, *mark)),
        ServiceKey::Inet {
            protocol,
            addr,
            port,
        } => {
            v.push(Attr::U16(SVC_ATTR_PROTOCOL, protocol.number()));
            v.push(Attr::Bytes(SVC_ATTR_ADDR, addr16(addr)));
            v.push(Attr::Be16(SVC_ATTR_PORT, *port));
        }
    }
    v
}

/// `CMD_ATTR_SERVICE` with the identity only.
pub fn service_key_nest(key: &ServiceKey) -> Attr {
    Attr::Nest(CMD_ATTR_SERVICE, service_key_attrs(key))
}

fn netmask_attr(n: &Netmask) -> Attr {
    match n {
        Netmask::V4(m) => Attr::Bytes(SVC_ATTR_NETMASK, m.octets().to_vec()),
        Netmask::V6(p) => Attr::U32(SVC_ATTR_NETMASK, *p),
    }
}

fn check_name(what: &str, s: &str) -> Result<(), String> {
    if s.len() > NAME_MAXLEN {
        Err(format!("{what} `{s}` is longer than {NAME_MAXLEN} bytes"))
    } else if s.contains('\0') {
        Err(format!("{what} contains a NUL byte"))
    } else {
        Ok(())
    }
}

/// `CMD_ATTR_SERVICE` with every setting (NEW/SET_SERVICE).
pub fn service_nest(s: &Service) -> Result<Attr, String> {
    check_name("scheduler", &s.scheduler)?;
    let mut v = service_key_attrs(&s.key);
    v.push(Attr::Str(SVC_ATTR_SCHED_NAME, s.scheduler.clone()));
    if let Some(pe) = &s.pe_name {
        check_name("persistence engine", pe)?;
        v.push(Attr::Str(SVC_ATTR_PE_NAME, pe.clone()));
    }
    let flags = s.flags.without(ServiceFlags::HASHED).0;
    let mut fb = flags.to_ne_bytes().to_vec();
    fb.extend_from_slice(&u32::MAX.to_ne_bytes());
    v.push(Attr::Bytes(SVC_ATTR_FLAGS, fb));
    v.push(Attr::U32(SVC_ATTR_TIMEOUT, s.timeout));
    v.push(netmask_attr(&s.netmask));
    Ok(Attr::Nest(CMD_ATTR_SERVICE, v))
}

/// `CMD_ATTR_DEST` with every setting (NEW/SET_DEST).
pub fn dest_nest(d: &Dest) -> Attr {
    let mut v = vec![
        Attr::U16(DEST_ATTR_ADDR_FAMILY, Family::of(&d.addr).af()),
        Attr::Bytes(DEST_ATTR_ADDR, addr16(&d.addr)),
        Attr::Be16(DEST_ATTR_PORT, d.port),
        Attr::U32(DEST_ATTR_FWD_METHOD, d.forward.value()),
        Attr::U32(DEST_ATTR_WEIGHT, d.weight),
    ];
    if d.forward == Forward::Tunnel {
        v.push(Attr::U8(DEST_ATTR_TUN_TYPE, d.tunnel.kind.value()));
        v.push(Attr::Be16(DEST_ATTR_TUN_PORT, d.tunnel.port));
        v.push(Attr::U16(DEST_ATTR_TUN_FLAGS, d.tunnel.csum.value()));
    }
    v.push(Attr::U32(DEST_ATTR_U_THRESH, d.u_threshold));
    v.push(Attr::U32(DEST_ATTR_L_THRESH, d.l_threshold));
    Attr::Nest(CMD_ATTR_DEST, v)
}

/// `CMD_ATTR_DEST` with the identity only (DEL_DEST).
pub fn dest_key_nest(k: &DestKey) -> Attr {
    Attr::Nest(
        CMD_ATTR_DEST,
        vec![
            Attr::U16(DEST_ATTR_ADDR_FAMILY, Family::of(&k.addr).af()),
            Attr::Bytes(DEST_ATTR_ADDR, addr16(&k.addr)),
            Attr::Be16(DEST_ATTR_PORT, k.port),
        ],
    )
}

/// `CMD_ATTR_DAEMON` for NEW_DAEMON.
pub fn daemon_nest(d: &SyncDaemon) -> Result<Attr, String> {
    check_name("interface", &d.mcast_ifn)?;
    let mut v = vec![
        Attr::U32(DAEMON_ATTR_STATE, d.state.value()),
        Attr::Str(DAEMON_ATTR_MCAST_IFN, d.mcast_ifn.clone()),
        Attr::U32(DAEMON_ATTR_SYNC_ID, d.sync_id),
    ];
    if d.sync_maxlen != 0 {
        v.push(Attr::U16(DAEMON_ATTR_SYNC_MAXLEN, d.sync_maxlen));
    }
    if d.mcast_port != 0 {
        v.push(Attr::U16(DAEMON_ATTR_MCAST_PORT, d.mcast_port));
    }
    if d.mcast_ttl != 0 {
        v.push(Attr::U8(DAEMON_ATTR_MCAST_TTL, d.mcast_ttl));
    }
    match d.mcast_group {
        Some(IpAddr::V6(g)) => v.push(Attr::Bytes(DAEMON_ATTR_MCAST_GROUP6, g.octets().to_vec())),
        Some(IpAddr::V4(g)) => v.push(Attr::Bytes(DAEMON_ATTR_MCAST_GROUP, g.octets().to_vec())),
        None => {}
    }
    Ok(Attr::Nest(CMD_ATTR_DAEMON, v))
}

/// `CMD_ATTR_DAEMON` for DEL_DAEMON.
pub fn daemon_state_nest(state: DaemonState) -> Attr {
    Attr::Nest(
        CMD_ATTR_DAEMON,
        vec![Attr::U32(DAEMON_ATTR_STATE, state.value())],
    )
}

/// Top-level attributes of SET_CONFIG.
pub fn timeout_attrs(t: &Timeouts) -> Vec<Attr> {
    vec![
        Attr::U32(CMD_ATTR_TIMEOUT_TCP, t.tcp),
        Attr::U32(CMD_ATTR_TIMEOUT_TCP_FIN, t.tcp_fin),
        Attr::U32(CMD_ATTR_TIMEOUT_UDP, t.udp),
    ]
}

/// The command and attributes of a table change.
pub fn op_request(op: &Op) -> Result<(u8, Vec<Attr>), String> {
    Ok(match op {
        Op::AddService(s) => (CMD_NEW_SERVICE, vec![service_nest(s)?]),
        Op::EditService(s) => (CMD_SET_SERVICE, vec![service_nest(s)?]),
        Op::DelService(k) => (CMD_DEL_SERVICE, vec![service_key_nest(k)]),
        Op::AddDest(k, d) => (CMD_NEW_DEST, vec![service_key_nest(k), dest_nest(d)]),
        Op::EditDest(k, d) => (CMD_SET_DEST, vec![service_key_nest(k), dest_nest(d)]),
        Op::DelDest(k, d) => (CMD_DEL_DEST, vec![service_key_nest(k), dest_key_nest(d)]),
    })
}

// ---------------------------------------------------------------- genl payload

/// A generic-netlink payload as it travels: command, version and the
/// attribute bytes. Parsing it never fails; the attributes are decoded by the
/// functions below once the caller knows what it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenlPayload {
    /// True for a request to the generic-netlink controller (GETFAMILY).
    pub ctrl: bool,
    /// Command.
    pub cmd: u8,
    /// Version.
    pub version: u8,
    /// Attribute bytes.
    pub body: Vec<u8>,
}

impl GenlPayload {
    /// An IPVS request.
    pub fn ipvs(cmd: u8, attrs: &[Attr]) -> GenlPayload {
        GenlPayload {
            ctrl: false,
            cmd,
            version: IPVS_GENL_VERSION,
            body: emit_attrs(attrs),
        }
    }

    /// CTRL_CMD_GETFAMILY for `name`.
    pub fn get_family(name: &str) -> GenlPayload {
        let attrs =
            [netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs::FamilyName(name.to_string())];
        let mut body = vec![0u8; attrs.as_slice().buffer_len()];
        attrs.as_slice().emit(&mut body);
        GenlPayload {
            ctrl: true,
            cmd: CTRL_CMD_GETFAMILY,
            version: 1,
            body,
        }
    }
}

impl GenlFamily for GenlPayload {
    fn family_name() -> &'static str {
        IPVS_GENL_NAME
    }

    fn family_id(&self) -> u16 {
        if self.ctrl { GENL_ID_CTRL } else { 0 }
    }

    fn command(&self) -> u8 {
        self.cmd
    }

    fn version(&self) -> u8 {
        self.version
    }
}

impl Emitable for GenlPayload {
    fn buffer_len(&self) -> usize {
        self.body.len()
    }

    fn emit(&self, buffer: &mut [u8]) {
        buffer[..self.body.len()].copy_from_slice(&self.body);
    }
}

impl ParseableParametrized<[u8], GenlHeader> for GenlPayload {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, CoreDecodeError> {
        Ok(GenlPayload {
            ctrl: false,
            cmd: header.cmd,
            version: header.version,
            body: buf.to_vec(),
        })
    }
}

// ---------------------------------------------------------------- decoding

/// The attributes in `buf` as (type without flags, value). Stops with an
/// error at the first malformed header.
pub fn attrs(buf: &[u8]) -> Result<Vec<(u16, &[u8])>, DecodeError> {
    let mut out = Vec::new();
    for a in NlasIterator::new(buf) {
        match a {
            Ok(a) => {
                let (kind, len) = (a.kind(), a.length() as usize);
                // new_checked guarantees 4 <= len <= buffer length
                let inner: &[u8] = a.into_inner();
                out.push((kind, &inner[4..len]));
            }
            Err(e) => return err(format!("bad attribute: {e}")),
        }
    }
    Ok(out)
}

fn find<'a>(attrs: &[(u16, &'a [u8])], kind: u16) -> Option<&'a [u8]> {
    attrs.iter().find(|(k, _)| *k == kind).map(|(_, v)| *v)
}

fn need<'a>(attrs: &[(u16, &'a [u8])], kind: u16, what: &str) -> Result<&'a [u8], DecodeError> {
    match find(attrs, kind) {
        Some(v) => Ok(v),
        None => err(format!("missing {what}")),
    }
}

fn get_u8(v: &[u8], what: &str) -> Result<u8, DecodeError> {
    match v.first() {
        Some(b) => Ok(*b),
        None => err(format!("{what}: empty")),
    }
}

fn get_u16(v: &[u8], what: &str) -> Result<u16, DecodeError> {
    match v.get(..2) {
        Some(b) => Ok(u16::from_ne_bytes([b[0], b[1]])),
        None => err(format!("{what}: {} bytes, expected 2", v.len())),
    }
}

fn get_be16(v: &[u8], what: &str) -> Result<u16, DecodeError> {
    get_u16(v, what).map(u16::from_be)
}

fn get_u32(v: &[u8], what: &str) -> Result<u32, DecodeError> {
    match v.get(..4) {
        Some(b) => Ok(u32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
        None => err(format!("{what}: {} bytes, expected 4", v.len())),
    }
}

/// A counter: u32 or u64 depending on the attribute's length.
fn get_counter(v: &[u8], what: &str) -> Result<u64, DecodeError> {
    if v.len() >= 8 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&v[..8]);
        Ok(u64::from_ne_bytes(b))
    } else {
        get_u32(v, what).map(u64::from)
    }
}

fn get_string(v: &[u8], what: &str) -> Result<String, DecodeError> {
    let end = v.iter().position(|b| *b == 0).unwrap_or(v.len());
    match std::str::from_utf8(&v[..end]) {
        Ok(s) => Ok(s.to_string()),
        Err(_) => err(format!("{what}: not UTF-8")),
    }
}

fn get_addr(v: &[u8], family: Family, what: &str) -> Result<IpAddr, DecodeError> {
    match family {
        Family::V4 => match v.get(..4) {
            Some(b) => Ok(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
            None => err(format!("{what}: {} bytes, expected 4", v.len())),
        },
        Family::V6 => match v.get(..16) {
            Some(b) => {
                let mut o = [0u8; 16];
                o.copy_from_slice(b);
                Ok(IpAddr::V6(Ipv6Addr::from(o)))
            }
            None => err(format!("{what}: {} bytes, expected 16", v.len())),
        },
    }
}

fn get_family(v: &[u8], what: &str) -> Result<Family, DecodeError> {
    let af = get_u16(v, what)?;
    match Family::from_af(af) {
        Some(f) => Ok(f),
        None => err(format!("{what}: unknown address family {af}")),
    }
}

/// Decodes a `STATS`/`STATS64` nest; absent counters stay 0.
pub fn decode_stats(buf: &[u8]) -> Result<Stats, DecodeError> {
    let mut s = Stats::default();
    for (k, v) in attrs(buf)? {
        let field = match k {
            STATS_ATTR_CONNS => &mut s.conns,
            STATS_ATTR_INPKTS => &mut s.inpkts,
            STATS_ATTR_OUTPKTS => &mut s.outpkts,
            STATS_ATTR_INBYTES => &mut s.inbytes,
            STATS_ATTR_OUTBYTES => &mut s.outbytes,
            STATS_ATTR_CPS => &mut s.cps,
            STATS_ATTR_INPPS => &mut s.inpps,
            STATS_ATTR_OUTPPS => &mut s.outpps,
            STATS_ATTR_INBPS => &mut s.inbps,
            STATS_ATTR_OUTBPS => &mut s.outbps,
            _ => continue,
        };
        *field = get_counter(v, "statistics counter")?;
    }
    Ok(s)
}

fn decode_stats_pair(a: &[(u16, &[u8])], k64: u16, k32: u16) -> Result<Stats, DecodeError> {
    if let Some(v) = find(a, k64) {
        decode_stats(v)
    } else if let Some(v) = find(a, k32) {
        decode_stats(v)
    } else {
        Ok(Stats::default())
    }
}

/// Decodes the inside of a `CMD_ATTR_SERVICE` nest from a dump.
pub fn decode_service(buf: &[u8]) -> Result<ServiceEntry, DecodeError> {
    let a = attrs(buf)?;
    let family = get_family(
        need(&a, SVC_ATTR_AF, "service address family")?,
        "service af",
    )?;
    let key = if let Some(m) = find(&a, SVC_ATTR_FWMARK) {
        ServiceKey::Fwmark {
            family,
            mark: get_u32(m, "fwmark")?,
        }
    } else {
        let p = get_u16(need(&a, SVC_ATTR_PROTOCOL, "service protocol")?, "protocol")?;
        let protocol = match Protocol::from_number(p) {
            Some(p) => p,
            None => return err(format!("unknown protocol {p}")),
        };
        ServiceKey::Inet {
            protocol,
            addr: get_addr(
                need(&a, SVC_ATTR_ADDR, "service address")?,
                family,
                "address",
            )?,
            port: get_be16(need(&a, SVC_ATTR_PORT, "service port")?, "port")?,
        }
    };
    let scheduler = get_string(need(&a, SVC_ATTR_SCHED_NAME, "scheduler")?, "scheduler")?;
    let fv = need(&a, SVC_ATTR_FLAGS, "service flags")?;
    let flags = get_u32(fv, "flags")?;
    let mask = fv.get(4..).map(|m| get_u32(m, "flags mask")).transpose()?;
    let flags = ServiceFlags(flags & mask.unwrap_or(u32::MAX)).without(ServiceFlags::HASHED);
    let timeout = get_u32(need(&a, SVC_ATTR_TIMEOUT, "timeout")?, "timeout")?;
    let nm = need(&a, SVC_ATTR_NETMASK, "netmask")?;
    let netmask = match family {
        Family::V4 => match nm.get(..4) {
            Some(b) => Netmask::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])),
            None => return err("netmask: too short"),
        },
        Family::V6 => Netmask::V6(get_u32(nm, "netmask")?),
    };
    let pe_name = match find(&a, SVC_ATTR_PE_NAME) {
        Some(v) => Some(get_string(v, "persistence engine")?).filter(|s| !s.is_empty()),
        None => None,
    };
    Ok(ServiceEntry {
        service: Service {
            key,
            scheduler,
            flags,
            timeout,
            netmask,
            pe_name,
        },
        stats: decode_stats_pair(&a, SVC_ATTR_STATS64, SVC_ATTR_STATS)?,
    })
}

/// Decodes the inside of a `CMD_ATTR_DEST` nest; `svc_family` is used when
/// the kernel sends no `ADDR_FAMILY`.
pub fn decode_dest(buf: &[u8], svc_family: Family) -> Result<DestEntry, DecodeError> {
    let a = attrs(buf)?;
    let family = match find(&a, DEST_ATTR_ADDR_FAMILY) {
        Some(v) => get_family(v, "destination af")?,
        None => svc_family,
    };
    let addr = get_addr(
        need(&a, DEST_ATTR_ADDR, "destination address")?,
        family,
        "address",
    )?;
    let port = get_be16(need(&a, DEST_ATTR_PORT, "destination port")?, "port")?;
    let fwd = get_u32(need(&a, DEST_ATTR_FWD_METHOD, "forwarding method")?, "fwd")?;
    let forward = match Forward::from_value(fwd) {
        Some(f) => f,
        None => return err(format!("unknown forwarding method {fwd}")),
    };
    let opt_u32 = |k, what| find(&a, k).map(|v| get_u32(v, what)).transpose();
    let tunnel = Tunnel {
        kind: match find(&a, DEST_ATTR_TUN_TYPE) {
            Some(v) => {
                let t = get_u8(v, "tunnel type")?;
                match TunnelType::from_value(t) {
                    Some(t) => t,
                    None => return err(format!("unknown tunnel type {t}")),
                }
            }
            None => TunnelType::Ipip,
        },
        port: find(&a, DEST_ATTR_TUN_PORT)
            .map(|v| get_be16(v, "tunnel port"))
            .transpose()?
            .unwrap_or(0),
        csum: match find(&a, DEST_ATTR_TUN_FLAGS) {
            Some(v) => {
                let f = get_u16(v, "tunnel flags")?;
                match TunnelCsum::from_value(f) {
                    Some(f) => f,
                    None => return err(format!("unknown tunnel flags {f}")),
                }
            }
            None => TunnelCsum::NoCsum,
        },
    };
    Ok(DestEntry {
        dest: Dest {
            addr,
            port,
            forward,
            weight: get_u32(need(&a, DEST_ATTR_WEIGHT, "weight")?, "weight")?,
            u_threshold: opt_u32(DEST_ATTR_U_THRESH, "upper threshold")?.unwrap_or(0),
            l_threshold: opt_u32(DEST_ATTR_L_THRESH, "lower threshold")?.unwrap_or(0),
            tunnel,
        },
        active_conns: opt_u32(DEST_ATTR_ACTIVE_CONNS, "active conns")?.unwrap_or(0),
        inact_conns: opt_u32(DEST_ATTR_INACT_CONNS, "inactive conns")?.unwrap_or(0),
        persist_conns: opt_u32(DEST_ATTR_PERSIST_CONNS, "persistent conns")?.unwrap_or(0),
        stats: decode_stats_pair(&a, DEST_ATTR_STATS64, DEST_ATTR_STATS)?,
    })
}

/// Decodes the inside of a `CMD_ATTR_DAEMON` nest.
pub fn decode_daemon(buf: &[u8]) -> Result<SyncDaemon, DecodeError> {
    let a = attrs(buf)?;
    let state = match get_u32(need(&a, DAEMON_ATTR_STATE, "daemon state")?, "state")? {
        1 => DaemonState::Master,
        2 => DaemonState::Backup,
        s => return err(format!("unknown daemon state {s}")),
    };
    let mcast_group = if let Some(v) = find(&a, DAEMON_ATTR_MCAST_GROUP) {
        Some(get_addr(v, Family::V4, "mcast group")?)
    } else if let Some(v) = find(&a, DAEMON_ATTR_MCAST_GROUP6) {
        Some(get_addr(v, Family::V6, "mcast group6")?)
    } else {
        None
    };
    Ok(SyncDaemon {
        state,
        mcast_ifn: get_string(need(&a, DAEMON_ATTR_MCAST_IFN, "interface")?, "interface")?,
        sync_id: get_u32(need(&a, DAEMON_ATTR_SYNC_ID, "sync id")?, "sync id")?,
        sync_maxlen: find(&a, DAEMON_ATTR_SYNC_MAXLEN)
            .map(|v| get_u16(v, "maxlen"))
            .transpose()?
            .unwrap_or(0),
        mcast_group,
        mcast_port: find(&a, DAEMON_ATTR_MCAST_PORT)
            .map(|v| get_u16(v, "port"))
            .transpose()?
            .unwrap_or(0),
        mcast_ttl: find(&a, DAEMON_ATTR_MCAST_TTL)
            .map(|v| get_u8(v, "ttl"))
            .transpose()?
            .unwrap_or(0),
    })
}

/// The nest `kind` of a top-level message body, checking the reply command.
pub fn nest_of(body: &[u8], cmd: u8, want_cmd: u8, kind: u16) -> Result<&[u8], DecodeError> {
    if cmd != want_cmd {
        return err(format!("reply command {cmd}, expected {want_cmd}"));
    }
    let a = attrs(body)?;
    need(&a, kind, "nested attribute")
}

/// Decodes a GET_SERVICE reply message (command NEW_SERVICE).
pub fn decode_service_msg(cmd: u8, body: &[u8]) -> Result<ServiceEntry, DecodeError> {
    decode_service(nest_of(body, cmd, CMD_NEW_SERVICE, CMD_ATTR_SERVICE)?)
}

/// Decodes a GET_DEST reply message (command NEW_DEST).
pub fn decode_dest_msg(cmd: u8, body: &[u8], svc_family: Family) -> Result<DestEntry, DecodeError> {
    decode_dest(nest_of(body, cmd, CMD_NEW_DEST, CMD_ATTR_DEST)?, svc_family)
}

/// Decodes a GET_DAEMON reply message (command NEW_DAEMON).
pub fn decode_daemon_msg(cmd: u8, body: &[u8]) -> Result<SyncDaemon, DecodeError> {
    decode_daemon(nest_of(body, cmd, CMD_NEW_DAEMON, CMD_ATTR_DAEMON)?)
}

/// Decodes a GET_INFO reply (command SET_INFO).
pub fn decode_info_msg(cmd: u8, body: &[u8]) -> Result<Info, DecodeError> {
    if cmd != CMD_SET_INFO {
        return err(format!("reply command {cmd}, expected {CMD_SET_INFO}"));
    }
    let a = attrs(body)?;
    Ok(Info {
        version: get_u32(need(&a, INFO_ATTR_VERSION, "version")?, "version")?,
        conn_tab_size: get_u32(need(&a, INFO_ATTR_CONN_TAB_SIZE, "table size")?, "size")?,
    })
}

/// Decodes a GET_CONFIG reply (command SET_CONFIG).
pub fn decode_timeouts_msg(cmd: u8, body: &[u8]) -> Result<Timeouts, DecodeError> {
    if cmd != CMD_SET_CONFIG {
        return err(format!("reply command {cmd}, expected {CMD_SET_CONFIG}"));
    }
    let a = attrs(body)?;
    let get = |k, what| -> Result<u32, DecodeError> {
        find(&a, k)
            .map(|v| get_u32(v, what))
            .transpose()
            .map(|v| v.unwrap_or(0))
    };
    Ok(Timeouts {
        tcp: get(CMD_ATTR_TIMEOUT_TCP, "tcp timeout")?,
        tcp_fin: get(CMD_ATTR_TIMEOUT_TCP_FIN, "tcp fin timeout")?,
        udp: get(CMD_ATTR_TIMEOUT_UDP, "udp timeout")?,
    })
}

/// Decodes a CTRL_CMD_NEWFAMILY reply: the family id.
pub fn decode_family_id(body: &[u8]) -> Result<u16, DecodeError> {
    let a = attrs(body)?;
    get_u16(need(&a, CTRL_ATTR_FAMILY_ID, "family id")?, "family id")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of ipvs-genl.md §9: NEW_SERVICE TCP 192.0.2.10:80
    /// wlc, persistent 300 s, pmask /24.
    #[test]
    fn new_service_golden_bytes() {
        let s = Service::new(ServiceKey::tcp(Ipv4Addr::new(192, 0, 2, 10), 80), "wlc")
            .persistent(300, Netmask::V4(Ipv4Addr::new(255, 255, 255, 0)));
        let body = emit_attrs(&[service_nest(&s).unwrap()]);
        #[rustfmt::skip]
        let inner: Vec<u8> = [
            &[6u8, 0, 1, 0, 2, 0, 0, 0][..],              // AF
            &[6, 0, 2, 0, 6, 0, 0, 0],                     // PROTOCOL
            &[20, 0, 3, 0, 192, 0, 2, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], // ADDR
            &[6, 0, 4, 0, 0, 80, 0, 0],                    // PORT (network order)
            &[8, 0, 6, 0, b'w', b'l', b'c', 0],            // SCHED
            &[12, 0, 7, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff], // FLAGS
            &[8, 0, 8, 0, 0x2c, 1, 0, 0],                  // TIMEOUT 300
            &[8, 0, 9, 0, 0xff, 0xff, 0xff, 0],            // NETMASK
        ]
        .concat();
        let mut want = vec![(inner.len() + 4) as u8, 0, 1, 0];
        want.extend_from_slice(&inner);
        assert_eq!(body, want);
    }

    #[test]
    fn ipv6_netmask_is_a_host_order_prefix() {
        let s = Service::new(
            ServiceKey::udp("2001:db8::1".parse::<IpAddr>().unwrap(), 53),
            "rr",
        )
        .persistent(60, Netmask::V6(64));
        let Attr::Nest(_, v) = service_nest(&s).unwrap() else {
            panic!("not a nest")
        };
        assert!(v.contains(&Attr::U32(SVC_ATTR_NETMASK, 64)));
        let bytes = emit_attrs(&[Attr::U32(SVC_ATTR_NETMASK, 64)]);
        assert_eq!(&bytes[4..], &64u32.to_ne_bytes());
    }

    #[test]
    fn service_round_trip_through_the_decoder() {
        let keys = [
            ServiceKey::tcp(Ipv4Addr::new(10, 1, 2, 3), 443),
            ServiceKey::sctp("2001:db8::5".parse::<IpAddr>().unwrap(), 9),
            ServiceKey::fwmark(7),
            ServiceKey::fwmark6(8),
        ];
        for key in keys {
            let mut s = Service::new(key, "sh");
            s.flags = ServiceFlags::SCHED1 | ServiceFlags::SCHED2;
            s.pe_name = Some("sip".into());
            let Attr::Nest(_, inner) = service_nest(&s).unwrap() else {
                panic!()
            };
            let got = decode_service(&emit_attrs(&inner)).unwrap();
            assert_eq!(got.service, s);
        }
    }

    #[test]
    fn dest_round_trip_and_tunnel_attrs() {
        let mut d = Dest::new(
            "2001:db8::9".parse::<IpAddr>().unwrap(),
            80,
            Forward::Tunnel,
        );
        d.tunnel = Tunnel {
            kind: TunnelType::Gue,
            port: 6080,
            csum: TunnelCsum::RemCsum,
        };
        d.u_threshold = 100;
        d.l_threshold = 10;
        let Attr::Nest(_, inner) = dest_nest(&d) else {
            panic!()
        };
        assert!(inner.contains(&Attr::Be16(DEST_ATTR_TUN_PORT, 6080)));
        let got = decode_dest(&emit_attrs(&inner), Family::V4).unwrap();
        assert_eq!(got.dest, d);
    }

    #[test]
    fn unknown_attributes_and_nested_flag_are_tolerated() {
        let s = Service::new(ServiceKey::tcp(Ipv4Addr::new(1, 2, 3, 4), 80), "rr");
        let Attr::Nest(_, mut inner) = service_nest(&s).unwrap() else {
            panic!()
        };
        inner.push(Attr::Bytes(99, vec![1, 2, 3]));
        let mut bytes = emit_attrs(&[Attr::Nest(CMD_ATTR_SERVICE, inner)]);
        bytes[3] |= 0x80; // NLA_F_NESTED on the outer nest
        let got = decode_service_msg(CMD_NEW_SERVICE, &bytes).unwrap();
        assert_eq!(got.service, s);
    }

    /// A stats nest with counter `k` set to `base + k`: 8-byte values for
    /// `STATS64`, 4-byte ones for `STATS`.
    fn stats_nest(kind: u16, base: u64, wide: bool) -> Attr {
        let keys = [
            STATS_ATTR_CONNS,
            STATS_ATTR_INPKTS,
            STATS_ATTR_OUTPKTS,
            STATS_ATTR_INBYTES,
            STATS_ATTR_OUTBYTES,
            STATS_ATTR_CPS,
            STATS_ATTR_INPPS,
            STATS_ATTR_OUTPPS,
            STATS_ATTR_INBPS,
            STATS_ATTR_OUTBPS,
        ];
        let attrs = keys
            .iter()
            .map(|&k| {
                let v = base + u64::from(k);
                if wide {
                    Attr::Bytes(k, v.to_ne_bytes().to_vec())
                } else {
                    Attr::U32(k, u32::try_from(v).unwrap())
                }
            })
            .collect();
        Attr::Nest(kind, attrs)
    }

    fn expected_stats(base: u64) -> Stats {
        Stats {
            conns: base + u64::from(STATS_ATTR_CONNS),
            inpkts: base + u64::from(STATS_ATTR_INPKTS),
            outpkts: base + u64::from(STATS_ATTR_OUTPKTS),
            inbytes: base + u64::from(STATS_ATTR_INBYTES),
            outbytes: base + u64::from(STATS_ATTR_OUTBYTES),
            cps: base + u64::from(STATS_ATTR_CPS),
            inpps: base + u64::from(STATS_ATTR_INPPS),
            outpps: base + u64::from(STATS_ATTR_OUTPPS),
            inbps: base + u64::from(STATS_ATTR_INBPS),
            outbps: base + u64::from(STATS_ATTR_OUTBPS),
        }
    }

    #[test]
    fn stats_and_connection_counts_are_decoded() {
        // A destination with both nests: the 64-bit one wins, values above
        // 32 bits survive; the connection counts come through.
        let d = Dest::new(Ipv4Addr::new(10, 0, 0, 2), 80, Forward::Masq);
        let Attr::Nest(_, mut inner) = dest_nest(&d) else {
            panic!()
        };
        inner.push(Attr::U32(DEST_ATTR_ACTIVE_CONNS, 7));
        inner.push(Attr::U32(DEST_ATTR_INACT_CONNS, 11));
        inner.push(Attr::U32(DEST_ATTR_PERSIST_CONNS, 13));
        inner.push(stats_nest(DEST_ATTR_STATS, 100, false));
        inner.push(stats_nest(DEST_ATTR_STATS64, 5 << 32, true));
        let got = decode_dest(&emit_attrs(&inner), Family::V4).unwrap();
        assert_eq!(got.dest, d);
        assert_eq!(
            (got.active_conns, got.inact_conns, got.persist_conns),
            (7, 11, 13)
        );
        assert_eq!(got.stats, expected_stats(5 << 32));
        // A service from an older kernel: only the 32-bit nest.
        let s = Service::new(ServiceKey::tcp(Ipv4Addr::new(1, 2, 3, 4), 80), "rr");
        let Attr::Nest(_, mut inner) = service_nest(&s).unwrap() else {
            panic!()
        };
        inner.push(stats_nest(SVC_ATTR_STATS, 1000, false));
        let got = decode_service(&emit_attrs(&inner)).unwrap();
        assert_eq!(got.service, s);
        assert_eq!(got.stats, expected_stats(1000));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode_service(&[5, 0, 1]).is_err());
        assert!(decode_service(&[0xff, 0xff, 1, 0]).is_err());
        assert!(decode_service(&[]).is_err());
        assert!(decode_dest(&[4, 0, 1, 0], Family::V4).is_err());
    }
}
