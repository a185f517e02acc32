//! What pulse takes from lvs.cf, and the pure derivations on it: which
//! addresses to bring up or down (§7.2, §8), the classful default mask,
//! broadcast addresses. The start-up checks and warnings on lvs.cf
//! (gaps.md A5, B7, C11, C12, C15) are lvscf's ([`lvscf::startup::pulse`]).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::heartbeat::Mode;

/// A VIP or NAT-router address as pulse configures it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The address.
    pub ip: IpAddr,
    /// The device string from lvs.cf, usually an alias label (`eth0:1`);
    /// for IPv6 (which has no labels) only the base device counts.
    pub dev: String,
    /// `vip_nmask` / `nat_nmask`; `None` when unset (0.0.0.0).
    pub mask: Option<Mask>,
}

/// The netmask of a [`Target`]: dotted for IPv4, a prefix length for IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mask {
    /// An IPv4 netmask (`255.255.255.0`).
    V4(Ipv4Addr),
    /// An IPv6 prefix length (`64`).
    Prefix(u8),
}

impl std::fmt::Display for Mask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mask::V4(m) => m.fmt(f),
            Mask::Prefix(p) => p.fmt(f),
        }
    }
}

/// The prefix length of an IPv6 target without a mask.
pub const DEFAULT_PREFIX6: u8 = 64;

impl Target {
    /// The base device (`eth0` for `eth0:1`).
    pub fn base_dev(&self) -> &str {
        base_dev(&self.dev)
    }

    /// Prefix length and broadcast the original's `ifconfig` produced; for
    /// IPv6 the prefix length (default /64) and no broadcast.
    pub fn prefix_and_broadcast(&self) -> (u8, Option<Ipv4Addr>) {
        let ip = match self.ip {
            IpAddr::V4(v4) => v4,
            IpAddr::V6(_) => {
                let len = match self.mask {
                    Some(Mask::Prefix(p)) => p.min(128),
                    Some(Mask::V4(_)) | None => DEFAULT_PREFIX6,
                };
                return (len, None);
            }
        };
        match self.mask {
            Some(Mask::V4(mask)) => {
                let m = u32::from(mask);
                let bcast = (u32::from(ip) & m) | !m;
                (m.leading_ones() as u8, Some(Ipv4Addr::from(bcast)))
            }
            Some(Mask::Prefix(len)) if len <= 32 => {
                let m = prefix_mask(len);
                let bcast = (len < 31).then(|| Ipv4Addr::from((u32::from(ip) & m) | !m));
                (len, bcast)
            }
            Some(Mask::Prefix(_)) | None => {
                let len = classful_prefix(ip);
                let bcast = (len < 31).then(|| {
                    let m = prefix_mask(len);
                    Ipv4Addr::from(u32::from(ip) | !m)
                });
                (len, bcast)
            }
        }
    }
}

/// The device with any `:alias` suffix removed.
pub fn base_dev(dev: &str) -> &str {
    dev.split(':').next().unwrap_or(dev)
}

/// The prefix length the kernel gives an address set without a netmask
/// (`inet_abc_len`): class A /8, B /16, C /24, E /32.
pub fn classful_prefix(ip: Ipv4Addr) -> u8 {
    match ip.octets()[0] {
        0..=127 => 8,
        128..=191 => 16,
        192..=223 => 24,
        _ => 32,
    }
}

fn prefix_mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

/// One `virtual` (or `failover`) block, as far as pulse cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualServer {
    /// Block name.
    pub name: String,
    /// `active = 1`.
    pub active: bool,
    /// The VIP.
    pub ip: Ipv4Addr,
    /// Its device string.
    pub dev: String,
    /// `vip_nmask`, if set.
    pub mask: Option<Ipv4Addr>,
    /// Line of the block in lvs.cf (for messages).
    pub line: usize,
}

/// pulse's view of lvs.cf.
#[derive(Debug, Clone, PartialEq)]
pub struct PulseConfig {
    /// The longest check interval (`timeout`) of an active virtual server
    /// (zero without one): how long an activation waits at most for lvsd's
    /// table before the VIPs come up.
    pub check_interval: Duration,
    /// `service`.
    pub service: Mode,
    /// `primary`.
    pub primary: Ipv4Addr,
    /// `primary_private` (already defaulted as lvs-cf.md §9 says).
    pub primary_private: Ipv4Addr,
    /// `backup`.
    pub backup: Ipv4Addr,
    /// `backup_private` (already defaulted).
    pub backup_private: Ipv4Addr,
    /// `backup_active`.
    pub backup_active: bool,
    /// `heartbeat_port`.
    pub heartbeat_port: u16,
    /// `keepalive`.
    pub keepalive: Duration,
    /// `deadtime`.
    pub deadtime: Duration,
    /// `network = nat`.
    pub nat: bool,
    /// `nat_router`, if set.
    pub nat_router: Option<(Ipv4Addr, String)>,
    /// `nat_nmask`, if set.
    pub nat_nmask: Option<Ipv4Addr>,
    /// `monitor_links` non-zero.
    pub monitor_links: bool,
    /// `syncdaemon = 1`.
    pub syncdaemon: bool,
    /// `syncd_iface`.
    pub syncd_iface: String,
    /// `syncd_id` (full value; only the low 8 bits are used).
    pub syncd_id: u32,
    /// `active_cmd`.
    pub active_cmd: Option<String>,
    /// `inactive_cmd`.
    pub inactive_cmd: Option<String>,
    /// `virtual` blocks, file order.
    pub virtuals: Vec<VirtualServer>,
    /// `failover` blocks, file order.
    pub failovers: Vec<VirtualServer>,
}

impl PulseConfig {
    /// Whether a private heartbeat channel exists (`primary_private` ≠ `primary`).
    pub fn has_private(&self) -> bool {
        self.primary_private != self.primary
    }

    /// Number of active blocks of the selected service type (§2 step 7).
    pub fn active_services(&self) -> usize {
        self.selected().iter().filter(|v| v.active).count()
    }

    /// The blocks of the selected type: `virtual` (lvs) or `failover` (fos).
    pub fn selected(&self) -> &[VirtualServer] {
        match self.service {
            Mode::Lvs => &self.virtuals,
            Mode::Fos => &self.failovers,
        }
    }

    /// Addresses brought up on activation, in order: the NAT router (when
    /// `network = nat` and set; lvs mode only), then one per unique VIP of
    /// an active block of the selected type (the first such block supplies
    /// device and mask).
    pub fn up_targets(&self) -> Vec<Target> {
        let mut out = Vec::new();
        if let Some(nat) = self.nat_target() {
            out.push(nat);
        }
        let mut seen = Vec::new();
        for v in self.selected().iter().filter(|v| v.active) {
            if seen.contains(&v.ip) {
                continue;
            }
            seen.push(v.ip);
            out.push(Target {
                ip: v.ip.into(),
                dev: v.dev.clone(),
                mask: v.mask.map(Mask::V4),
            });
        }
        out
    }

    /// The addresses of [`PulseConfig::up_targets`] in the order of their
    /// first gratuitous ARP: the VIPs, then the NAT router, so clients and
    /// real servers switch to this router as close together as possible
    /// (with the NAT router first, a request the old router forwarded in
    /// between would have its answer sent to us).
    pub fn announce_targets(&self) -> Vec<Target> {
        let mut out = self.up_targets();
        if self.nat_target().is_some() && !out.is_empty() {
            out.rotate_left(1);
        }
        out
    }

    /// Addresses taken down on deactivation, in order: one per unique VIP
    /// of an active block (deduplicated by address), then the NAT router.
    pub fn down_targets(&self) -> Vec<Target> {
        let mut out: Vec<Target> = self
            .up_targets()
            .into_iter()
            .filter(|t| !self.is_nat(t))
            .collect();
        if let Some(nat) = self.nat_target() {
            out.push(nat);
        }
        out
    }

    fn nat_target(&self) -> Option<Target> {
        if !self.nat || self.service == Mode::Fos {
            return None;
        }
        let (ip, dev) = self.nat_router.clone()?;
        Some(Target {
            ip: ip.into(),
            dev,
            mask: self.nat_nmask.map(Mask::V4),
        })
    }

    fn is_nat(&self, t: &Target) -> bool {
        self.nat_target().as_ref() == Some(t)
    }
}

/// Seconds as lvs.cf writes them: `3` or `0.3`.
pub fn secs(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        d.as_secs().to_string()
    } else {
        format!("{}", d.as_secs_f64())
    }
}

/// An address pulse's IPv4 code paths take. IPv6 is valid lvs.cf
/// (lvs.cf(5), IPV6) but pulse does not handle it yet: a clear error names
/// the key (to be replaced when pulse learns IPv6).
fn ipv4_only(addr: IpAddr, key: &str) -> Result<Ipv4Addr, String> {
    match addr {
        IpAddr::V4(a) => Ok(a),
        IpAddr::V6(a) => Err(format!(
            "{key}: IPv6 address {a}: this pulse cannot configure IPv6 yet"
        )),
    }
}

/// Builds pulse's view from the parsed lvs.cf model; an error for an IPv6
/// address pulse cannot handle yet ([`ipv4_only`]).
pub fn from_lvscf(c: &lvscf::Config) -> Result<PulseConfig, String> {
    let g = &c.global;
    let mask = |m: Ipv4Addr| (!m.is_unspecified()).then_some(m);
    let block = |s: &lvscf::Service| -> Result<VirtualServer, String> {
        Ok(VirtualServer {
            name: s.name.clone(),
            active: s.active,
            ip: ipv4_only(s.vip(), &format!("{} {}: address", s.kind.as_str(), s.name))?,
            dev: s.device().unwrap_or_default().to_string(),
            mask: s.vip_mask4(),
            line: s.line.0,
        })
    };
    let nat_router = match &g.nat_router {
        Some(a) => Some((ipv4_only(a.host.addr, "nat_router")?, a.device.clone())),
        None => None,
    };
    if let Some(a) = &g.nat_router6
        && g.network == lvscf::Network::Nat
    {
        ipv4_only(a.host.addr, "nat_router6")?;
    }
    Ok(PulseConfig {
        service: match g.service {
            lvscf::ServiceType::Lvs => Mode::Lvs,
            lvscf::ServiceType::Fos => Mode::Fos,
        },
        primary: ipv4_only(g.primary_addr(), "primary")?,
        primary_private: ipv4_only(g.primary_private_addr(), "primary_private")?,
        backup: ipv4_only(g.backup_addr(), "backup")?,
        backup_private: ipv4_only(g.backup_private_addr(), "backup_private")?,
        backup_active: g.backup_active,
        heartbeat_port: g.heartbeat_port,
        keepalive: g.keepalive.duration(),
        deadtime: g.deadtime.duration(),
        nat: g.network == lvscf::Network::Nat,
        nat_router,
        nat_nmask: mask(g.nat_nmask.v4()),
        monitor_links: g.monitor_links != 0,
        syncdaemon: g.syncdaemon,
        syncd_iface: g.syncd_iface.clone(),
        syncd_id: g.syncd_id as u32,
        active_cmd: g.active_cmd.clone().filter(|s| !s.is_empty()),
        inactive_cmd: g.inactive_cmd.clone().filter(|s| !s.is_empty()),
        virtuals: c.virtuals.iter().map(block).collect::<Result<_, _>>()?,
        failovers: c.failovers.iter().map(block).collect::<Result<_, _>>()?,
        check_interval: Duration::from_secs(
            c.virtuals
                .iter()
                .filter(|v| v.active)
                .map(|v| u64::try_from(v.timeout.max(1)).unwrap_or(1))
                .max()
                .unwrap_or(0),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn vs(name: &str, active: bool, addr: &str, dev: &str, mask: Option<&str>) -> VirtualServer {
        VirtualServer {
            name: name.into(),
            active,
            ip: ip(addr),
            dev: dev.into(),
            mask: mask.map(ip),
            line: 7,
        }
    }

    fn config() -> PulseConfig {
        PulseConfig {
            check_interval: Duration::from_secs(10),
            service: Mode::Lvs,
            primary: ip("192.0.2.1"),
            primary_private: ip("192.0.2.1"),
            backup: ip("192.0.2.2"),
            backup_private: ip("192.0.2.2"),
            backup_active: true,
            heartbeat_port: 539,
            keepalive: Duration::from_secs(2),
            deadtime: Duration::from_secs(5),
            nat: true,
            nat_router: Some((ip("10.1.0.254"), "eth1:1".into())),
            nat_nmask: Some(ip("255.255.255.0")),
            monitor_links: false,
            syncdaemon: false,
            syncd_iface: "eth0".into(),
            syncd_id: 0,
            active_cmd: None,
            inactive_cmd: None,
            virtuals: vec![
                vs("a", true, "192.0.2.100", "eth0:1", Some("255.255.255.0")),
                vs("b", false, "192.0.2.101", "eth0:2", None),
                vs("c", true, "192.0.2.100", "eth0:3", None),
                vs("d", true, "172.16.5.5", "eth0:4", None),
            ],
            failovers: vec![],
        }
    }

    #[test]
    fn classful_masks() {
        assert_eq!(classful_prefix(ip("10.1.2.3")), 8);
        assert_eq!(classful_prefix(ip("127.0.0.1")), 8);
        assert_eq!(classful_prefix(ip("128.0.0.1")), 16);
        assert_eq!(classful_prefix(ip("172.16.5.5")), 16);
        assert_eq!(classful_prefix(ip("192.0.2.100")), 24);
        assert_eq!(classful_prefix(ip("223.1.1.1")), 24);
        assert_eq!(classful_prefix(ip("240.0.0.1")), 32);
    }

    #[test]
    fn prefix_and_broadcast_like_ifconfig() {
        let t = |a: &str, m: Option<&str>| Target {
            ip: a.parse().unwrap(),
            dev: "eth0:1".into(),
            mask: m.map(|m| Mask::V4(ip(m))),
        };
        assert_eq!(
            t("10.0.0.5", Some("255.255.255.0")).prefix_and_broadcast(),
            (24, Some(ip("10.0.0.255")))
        );
        assert_eq!(
            t("10.0.0.5", Some("255.255.255.255")).prefix_and_broadcast(),
            (32, Some(ip("10.0.0.5")))
        );
        assert_eq!(
            t("10.0.0.5", None).prefix_and_broadcast(),
            (8, Some(ip("10.255.255.255")))
        );
        assert_eq!(
            t("172.16.5.5", None).prefix_and_broadcast(),
            (16, Some(ip("172.16.255.255")))
        );
        assert_eq!(
            t("192.0.2.100", None).prefix_and_broadcast(),
            (24, Some(ip("192.0.2.255")))
        );
        // IPv6: the prefix length (default /64), never a broadcast
        let v6 = |a: &str, m: Option<Mask>| Target {
            ip: a.parse().unwrap(),
            dev: "eth0".into(),
            mask: m,
        };
        assert_eq!(v6("2001:db8::100", None).prefix_and_broadcast(), (64, None));
        assert_eq!(
            v6("2001:db8::100", Some(Mask::Prefix(120))).prefix_and_broadcast(),
            (120, None)
        );
        assert_eq!(Mask::Prefix(64).to_string(), "64");
        assert_eq!(Mask::V4(ip("255.255.0.0")).to_string(), "255.255.0.0");
    }

    #[test]
    fn targets_in_original_order_deduplicated_by_address() {
        let c = config();
        let up: Vec<(String, String)> = c
            .up_targets()
            .iter()
            .map(|t| (t.ip.to_string(), t.dev.clone()))
            .collect();
        assert_eq!(
            up,
            vec![
                ("10.1.0.254".into(), "eth1:1".into()),
                ("192.0.2.100".into(), "eth0:1".into()),
                ("172.16.5.5".into(), "eth0:4".into()),
            ]
        );
        let down: Vec<String> = c.down_targets().iter().map(|t| t.dev.clone()).collect();
        assert_eq!(down, vec!["eth0:1", "eth0:4", "eth1:1"]);
        // the first gratuitous ARPs: the VIPs, then the NAT router
        let first: Vec<String> = c.announce_targets().iter().map(|t| t.dev.clone()).collect();
        assert_eq!(first, vec!["eth0:1", "eth0:4", "eth1:1"]);
        assert_eq!(c.active_services(), 3);
    }

    #[test]
    fn fos_mode_uses_the_failover_vips_and_no_nat_router() {
        let mut c = config();
        c.service = Mode::Fos;
        c.failovers = vec![
            vs("web", true, "192.0.2.200", "eth0:5", None),
            vs("off", false, "192.0.2.201", "eth0:6", None),
            vs("ftp", true, "192.0.2.200", "eth0:7", None),
            vs("dns", true, "192.0.2.202", "eth0:8", None),
        ];
        let devs = |t: Vec<Target>| t.into_iter().map(|t| t.dev).collect::<Vec<_>>();
        assert_eq!(devs(c.up_targets()), ["eth0:5", "eth0:8"]);
        assert_eq!(devs(c.down_targets()), ["eth0:5", "eth0:8"]);
        assert_eq!(c.active_services(), 3);
    }

    #[test]
    fn nat_router_only_with_network_nat() {
        let mut c = config();
        c.nat = false;
        assert!(c.up_targets().iter().all(|t| t.dev != "eth1:1"));
        assert!(c.down_targets().iter().all(|t| t.dev != "eth1:1"));
    }

    #[test]
    fn seconds_format() {
        assert_eq!(secs(Duration::from_secs(3)), "3");
        assert_eq!(secs(Duration::from_millis(300)), "0.3");
    }
}
