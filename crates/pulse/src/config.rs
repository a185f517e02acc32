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

/// The netmask of a [`Target`]: dotted for IPv4, a prefix length for IPv6
/// (shown as lvs.cf writes it: `255.255.255.0`, `/64`).
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
            Mask::Prefix(p) => write!(f, "/{p}"),
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
    /// The VIP (IPv4 or IPv6).
    pub ip: IpAddr,
    /// Its device string.
    pub dev: String,
    /// `vip_nmask`, if set (an IPv6 VIP always has its prefix length).
    pub mask: Option<Mask>,
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
    /// `primary` (IPv4 or IPv6; lvscf checks that the heartbeat
    /// addresses share one family).
    pub primary: IpAddr,
    /// `primary_private` (already defaulted as lvs-cf.md §9 says).
    pub primary_private: IpAddr,
    /// `backup`.
    pub backup: IpAddr,
    /// `backup_private` (already defaulted).
    pub backup_private: IpAddr,
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
    /// The NAT routers, with their masks: `nat_router` (`nat_nmask`),
    /// then an IPv6 one (`nat_router6`, `nat_nmask6`), when set. Brought
    /// up only with `network = nat` in lvs mode.
    pub nat_routers: Vec<Target>,
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

    /// Addresses brought up on activation, in order: the NAT routers (when
    /// `network = nat` and set; lvs mode only), then one per unique VIP of
    /// an active block of the selected type (the first such block supplies
    /// device and mask).
    pub fn up_targets(&self) -> Vec<Target> {
        let mut out = self.nat_targets();
        let mut seen = Vec::new();
        for v in self.selected().iter().filter(|v| v.active) {
            if seen.contains(&v.ip) {
                continue;
            }
            seen.push(v.ip);
            out.push(Target {
                ip: v.ip,
                dev: v.dev.clone(),
                mask: v.mask,
            });
        }
        out
    }

    /// The addresses of [`PulseConfig::up_targets`] in the order of their
    /// first gratuitous ARP: the VIPs, then the NAT routers, so clients and
    /// real servers switch to this router as close together as possible
    /// (with the NAT router first, a request the old router forwarded in
    /// between would have its answer sent to us).
    pub fn announce_targets(&self) -> Vec<Target> {
        let mut out = self.up_targets();
        let nat = self.nat_targets().len().min(out.len());
        out.rotate_left(nat);
        out
    }

    /// Addresses taken down on deactivation, in order: one per unique VIP
    /// of an active block (deduplicated by address), then the NAT routers.
    pub fn down_targets(&self) -> Vec<Target> {
        let nat = self.nat_targets();
        let mut out: Vec<Target> = self
            .up_targets()
            .into_iter()
            .filter(|t| !nat.contains(t))
            .collect();
        out.extend(nat);
        out
    }

    fn nat_targets(&self) -> Vec<Target> {
        if !self.nat || self.service == Mode::Fos {
            return Vec::new();
        }
        self.nat_routers.clone()
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

/// Builds pulse's view from the parsed lvs.cf model. lvscf has checked
/// the families already (one family for the heartbeat addresses, IPv6 in
/// lvs mode only); the `Result` is for what pulse itself cannot do.
pub fn from_lvscf(c: &lvscf::Config) -> Result<PulseConfig, String> {
    let g = &c.global;
    let mask4 = |m: Ipv4Addr| (!m.is_unspecified()).then_some(Mask::V4(m));
    let block = |s: &lvscf::Service| VirtualServer {
        name: s.name.clone(),
        active: s.active,
        ip: s.vip(),
        dev: s.device().unwrap_or_default().to_string(),
        mask: match s.vip_prefix6() {
            Some(p) => Some(Mask::Prefix(p)),
            None => s.vip_mask4().map(Mask::V4),
        },
        line: s.line.0,
    };
    let mut nat_routers = Vec::new();
    if let Some((a, m)) = g.ipv4_nat_router() {
        nat_routers.push(Target {
            ip: a.host.addr,
            dev: a.device.clone(),
            mask: mask4(m),
        });
    }
    if let Some((a, prefix)) = g.ipv6_nat_router() {
        nat_routers.push(Target {
            ip: a.host.addr,
            dev: a.device.clone(),
            mask: Some(Mask::Prefix(prefix)),
        });
    }
    Ok(PulseConfig {
        service: match g.service {
            lvscf::ServiceType::Lvs => Mode::Lvs,
            lvscf::ServiceType::Fos => Mode::Fos,
        },
        primary: g.primary_addr(),
        primary_private: g.primary_private_addr(),
        backup: g.backup_addr(),
        backup_private: g.backup_private_addr(),
        backup_active: g.backup_active,
        heartbeat_port: g.heartbeat_port,
        keepalive: g.keepalive.duration(),
        deadtime: g.deadtime.duration(),
        nat: g.network == lvscf::Network::Nat,
        nat_routers,
        monitor_links: g.monitor_links != 0,
        syncdaemon: g.syncdaemon,
        syncd_iface: g.syncd_iface.clone(),
        syncd_id: g.syncd_id as u32,
        active_cmd: g.active_cmd.clone().filter(|s| !s.is_empty()),
        inactive_cmd: g.inactive_cmd.clone().filter(|s| !s.is_empty()),
        virtuals: c.virtuals.iter().map(block).collect(),
        failovers: c.failovers.iter().map(block).collect(),
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
            ip: addr.parse().unwrap(),
            dev: dev.into(),
            mask: mask.map(|m| match m.strip_prefix('/') {
                Some(p) => Mask::Prefix(p.parse().unwrap()),
                None => Mask::V4(ip(m)),
            }),
            line: 7,
        }
    }

    fn config() -> PulseConfig {
        PulseConfig {
            check_interval: Duration::from_secs(10),
            service: Mode::Lvs,
            primary: ip("192.0.2.1").into(),
            primary_private: ip("192.0.2.1").into(),
            backup: ip("192.0.2.2").into(),
            backup_private: ip("192.0.2.2").into(),
            backup_active: true,
            heartbeat_port: 539,
            keepalive: Duration::from_secs(2),
            deadtime: Duration::from_secs(5),
            nat: true,
            nat_routers: vec![Target {
                ip: "10.1.0.254".parse().unwrap(),
                dev: "eth1:1".into(),
                mask: Some(Mask::V4(ip("255.255.255.0"))),
            }],
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
        assert_eq!(Mask::Prefix(64).to_string(), "/64");
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
    fn a_dual_stack_pair_brings_up_both_families_and_both_nat_routers() {
        let mut c = config();
        c.nat_routers.push(Target {
            ip: "2001:db8:1::fe".parse().unwrap(),
            dev: "eth1".into(),
            mask: Some(Mask::Prefix(64)),
        });
        c.virtuals = vec![
            vs("v4", true, "192.0.2.100", "eth0:1", None),
            vs("v6", true, "2001:db8::100", "eth0", Some("/64")),
            vs("v6b", true, "2001:db8::100", "eth0:9", Some("/64")),
        ];
        let ips = |t: Vec<Target>| t.iter().map(|t| t.ip.to_string()).collect::<Vec<_>>();
        assert_eq!(
            ips(c.up_targets()),
            [
                "10.1.0.254",
                "2001:db8:1::fe",
                "192.0.2.100",
                "2001:db8::100"
            ]
        );
        assert_eq!(
            ips(c.announce_targets()),
            [
                "192.0.2.100",
                "2001:db8::100",
                "10.1.0.254",
                "2001:db8:1::fe"
            ]
        );
        assert_eq!(
            ips(c.down_targets()),
            [
                "192.0.2.100",
                "2001:db8::100",
                "10.1.0.254",
                "2001:db8:1::fe"
            ]
        );
    }

    #[test]
    fn from_lvscf_takes_ipv6_addresses_and_prefixes() {
        let text = "serial_no = 1\nprimary = 2001:db8::1\nservice = lvs\n\
                    backup_active = 1\nbackup = 2001:db8::2\nheartbeat = 1\n\
                    heartbeat_port = 539\nkeepalive = 2\ndeadtime = 5\nnetwork = direct\n\
                    virtual web6 {\n active = 1\n address = 2001:db8::100 eth0\n \
                    port = 80\n}\nvirtual web4 {\n active = 1\n \
                    address = 192.0.2.100 eth0:1\n vip_nmask = 255.255.255.0\n port = 80\n}\n\
                    virtual web6b {\n active = 1\n address = 2001:db8:5::1 eth0\n \
                    vip_nmask = /120\n port = 80\n}\n";
        let parsed = match lvscf::parse_str(text, "lvs.cf") {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        let c = from_lvscf(&parsed.config).unwrap();
        assert_eq!(c.primary, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(c.backup, "2001:db8::2".parse::<IpAddr>().unwrap());
        assert!(!c.has_private());
        let t = c.up_targets();
        assert_eq!(t[0].ip, "2001:db8::100".parse::<IpAddr>().unwrap());
        assert_eq!(t[0].mask, Some(Mask::Prefix(64)));
        assert_eq!(t[1].mask, Some(Mask::V4(ip("255.255.255.0"))));
        assert_eq!(t[2].mask, Some(Mask::Prefix(120)));
        assert_eq!(t[2].prefix_and_broadcast(), (120, None));
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
