//! What lvsd wants, computed from a parsed lvs.cf: the IPVS service of
//! every virtual block and the nanny command line of every real server
//! (lvsd.md §3, §4). Pure: no I/O.

use std::net::IpAddr;
use std::time::Duration;

use ipvs::{DestKey, Forward, Netmask, Service, ServiceFlags, ServiceKey};
use lvscf::{Config, Mask, Network, Protocol};

/// lvsd's own flags that shape nanny command lines.
pub use lvscf::NannyFlags as Flags;

/// Everything lvsd takes from one version of lvs.cf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// `tcp_timeout`, `tcpfin_timeout`, `udp_timeout` (0 = unchanged).
    pub timeouts: [i32; 3],
    /// `hard_shutdown`.
    pub hard_shutdown: bool,
    /// `ipvsadm` (only named in messages and passed to nanny as `-I`).
    pub ipvsadm: String,
    /// Every `virtual` block, in file order.
    pub virtuals: Vec<VsSpec>,
    /// `scale_out = 1`: pulse hears which VIPs the table serves
    /// ([`crate::serving`]).
    pub scale_out: bool,
}

/// One `virtual` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VsSpec {
    /// Block name (messages only).
    pub name: String,
    /// `active = 1`.
    pub active: bool,
    /// Its identity: the IPVS service key (`fwmark`, or protocol, VIP and
    /// port).
    pub key: ServiceKey,
    /// The IPVS service (scheduler, persistence).
    pub service: Service,
    /// Forwarding method of its destinations (the global `network`).
    pub forward: Forward,
    /// Virtual port (`port`).
    pub vport: u16,
    /// The VIP (`address`; for a fwmark service too): what pulse announces
    /// in scale-out mode.
    pub vip: IpAddr,
    /// `sorry_server` (the VIP's family).
    pub sorry: Option<IpAddr>,
    /// Every `server` block, in file order.
    pub reals: Vec<RsSpec>,
}

/// What identifies a real server within its virtual server: address and
/// port (lvsd.md §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RsId {
    /// Real server address (the VIP's family).
    pub addr: IpAddr,
    /// Real server port.
    pub port: u16,
}

impl std::fmt::Display for RsId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        ipvs::AddrPort(self.addr, self.port).fmt(f)
    }
}

/// One `server` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsSpec {
    /// Block name (messages only).
    pub name: String,
    /// `active = 1`.
    pub active: bool,
    /// Address and port.
    pub id: RsId,
    /// Its destination in the table. For direct routing and tunnelling
    /// without a firewall mark the port is the virtual port, as nanny
    /// reports it (gaps.md E7).
    pub dest: DestKey,
    /// Configured weight (`weight`).
    pub weight: i32,
    /// `quiesce_server`.
    pub quiesce: bool,
    /// The nanny command line, `client_monitor` first (lvsd.md §4).
    pub argv: Argv,
    /// How long its first verdict may take: two check timeouts plus two
    /// seconds to start (a check is a connect and a read, each bounded by
    /// `timeout`).
    pub first_verdict: Duration,
}

/// A command line kept in one allocation (arguments separated by NUL,
/// which lvs.cf values cannot contain): a table of 20,000 real servers
/// builds, compares and frees these on every reload.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Argv(String);

impl Argv {
    /// Appends one argument.
    pub fn push(&mut self, arg: &str) {
        if !self.0.is_empty() {
            self.0.push('\0');
        }
        self.0.push_str(arg);
    }

    /// The arguments.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.split('\0')
    }

    /// The arguments as strings.
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(String::from).collect()
    }
}

impl RsSpec {
    /// The weight nanny settles on without load feedback: the configured
    /// weight, at least 1 (nanny.md §6, gaps.md E15).
    pub fn settled_weight(&self) -> u32 {
        u32::try_from(self.weight.max(1)).unwrap_or(1)
    }
}

impl VsSpec {
    /// The sorry server's destination (`SORRY:VPORT`).
    pub fn sorry_dest(&self) -> Option<DestKey> {
        self.sorry.map(|a| DestKey {
            addr: a,
            port: self.vport,
        })
    }
}

/// The forwarding method of `network`.
pub fn forward(n: Network) -> Forward {
    match n {
        Network::Nat => Forward::Masq,
        Network::Direct => Forward::Route,
        Network::Tunnel => Forward::Tunnel,
    }
}

/// Builds the spec of `config` (the `service` key is ignored: lvsd always
/// works on the `virtual` blocks).
pub fn build(config: &Config, flags: Flags) -> Spec {
    let g = &config.global;
    let fwd = forward(g.network);
    let virtuals = config
        .virtuals
        .iter()
        .map(|v| {
            let vip = v.vip();
            // A fwmark service has its VIP's family (lvs.cf(5), IPV6).
            let key = if v.fwmark != 0 && v.is_ipv6() {
                ServiceKey::fwmark6(v.fwmark)
            } else if v.fwmark != 0 {
                ServiceKey::fwmark(v.fwmark)
            } else {
                match v.protocol {
                    Protocol::Tcp => ServiceKey::tcp(vip, v.port),
                    Protocol::Udp => ServiceKey::udp(vip, v.port),
                }
            };
            let mut service = Service::new(key, v.scheduler.as_str());
            // scheduler_flags (ipvs-genl.md: SCHED1 is mh's fallback,
            // SCHED2 its port hashing)
            // scale-out mode quiesces a failed real server in place (the
            // mh tables stay alike, see the engine's `fresh`), and mh sends
            // nothing to a weight-0 destination only with its fallback:
            // scale-out implies mh-fallback
            if v.scheduler_flags.fallback || g.scale_out {
                service.flags = service.flags | ServiceFlags::SCHED1;
            }
            if v.scheduler_flags.port {
                service.flags = service.flags | ServiceFlags::SCHED2;
            }
            if v.persistent > 0 {
                let mask = match v.persistence_mask() {
                    None => Netmask::host(key.family()),
                    Some(Mask::Dotted(m)) => Netmask::V4(m),
                    Some(Mask::Prefix(n)) => Netmask::V6(u32::from(n)),
                };
                service = service.persistent(v.persistent as u32, mask);
            }
            let reals = v
                .servers
                .iter()
                .map(|s| {
                    let id = RsId {
                        addr: s.address.addr,
                        port: s.port,
                    };
                    let dest_port = if fwd != Forward::Masq && v.fwmark == 0 {
                        v.port
                    } else {
                        s.port
                    };
                    let timeout = u64::try_from(v.timeout.max(1)).unwrap_or(1);
                    RsSpec {
                        name: s.name.clone(),
                        active: s.active,
                        id,
                        dest: DestKey {
                            addr: id.addr,
                            port: dest_port,
                        },
                        weight: s.weight,
                        // scale-out: a failed real server stays in the
                        // table at weight 0 (see `fresh` in the engine)
                        quiesce: v.quiesce_server || g.scale_out,
                        argv: nanny_argv(config, v, s, flags),
                        first_verdict: Duration::from_secs(2 * timeout + 2),
                    }
                })
                .collect();
            VsSpec {
                name: v.name.clone(),
                active: v.active,
                key,
                service,
                forward: fwd,
                vport: v.port,
                vip,
                sorry: v.sorry(),
                reals,
            }
        })
        .collect();
    Spec {
        timeouts: [g.tcp_timeout, g.tcpfin_timeout, g.udp_timeout],
        hard_shutdown: g.hard_shutdown,
        ipvsadm: g.ipvsadm.clone(),
        virtuals,
        scale_out: g.scale_out,
    }
}

/// The nanny command line of lvsd.md §4, in its exact order:
///
/// ```text
/// CLIENT_MONITOR -c -h RIP -p VPORT -r RPORT [-f FWMARK] [-u] [-e PROG] [-s SEND]
///   [-x EXPECT] [-q] [--regex] [-v] -a REENTRY -I IPVSADM -t TIMEOUT -w WEIGHT
///   -V VIP -M m|g|i [-U LOADCMD] [--nodaemon] --lvs
/// ```
pub fn nanny_argv(
    config: &Config,
    v: &lvscf::Service,
    s: &lvscf::RealServer,
    flags: Flags,
) -> Argv {
    let g = &config.global;
    let mut a = Argv::default();
    a.push(&v.client_monitor);
    a.push("-c");
    let opt = |a: &mut Argv, k: &str, val: &str| {
        a.push(k);
        a.push(val);
    };
    opt(&mut a, "-h", &s.address.addr.to_string());
    opt(&mut a, "-p", &v.port.to_string());
    opt(&mut a, "-r", &s.port.to_string());
    if v.fwmark != 0 {
        opt(&mut a, "-f", &v.fwmark.to_string());
    }
    if v.protocol == Protocol::Udp {
        a.push("-u");
    }
    for (k, val) in v.check_args(flags.quotes) {
        if let Some(val) = val {
            opt(&mut a, k, val);
        }
    }
    for (set, flag) in [
        (v.quiesce_server || g.scale_out, "-q"),
        (v.use_regex, "--regex"),
        (flags.verbose, "-v"),
    ] {
        if set {
            a.push(flag);
        }
    }
    opt(&mut a, "-a", &v.reentry.to_string());
    opt(&mut a, "-I", &g.ipvsadm);
    opt(&mut a, "-t", &v.timeout.to_string());
    opt(&mut a, "-w", &s.weight.to_string());
    opt(&mut a, "-V", &v.vip().to_string());
    opt(
        &mut a,
        "-M",
        g.network.method_letter().encode_utf8(&mut [0; 4]),
    );
    if let Some(l) = &v.load_monitor {
        let cmd = if l == "uptime" { &g.rsh_command } else { l };
        opt(&mut a, "-U", cmd);
    }
    if flags.nodaemon || v.sorry().is_some() {
        a.push("--nodaemon");
    }
    a.push("--lvs");
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvscf::QuoteMode;
    use std::net::Ipv4Addr;

    fn parse(text: &str) -> Config {
        lvscf::parse_str(text, "lvs.cf").expect("parses").config
    }

    /// lvs-cf.md §14.1, the virtual blocks.
    const EXAMPLE: &str = r#"
network = nat
ipvsadm = /sbin/ipvsadm
virtual www {
     active = 1
     address = 203.0.113.100 eth0:1
     port = 80
     protocol = tcp
     scheduler = wlc
     persistent = 300
     pmask = 255.255.255.0
     send = "GET /health HTTP/1.0\r\n\r\n"
     expect = "HTTP/1.1 200"
     load_monitor = none
     timeout = 6
     reentry = 30
     quiesce_server = 1
     sorry_server = 192.168.50.200
     server web1 {
         address = 192.168.50.11
         active = 1
         weight = 10
     }
}
virtual smtp {
     active = 1
     address = 203.0.113.101 eth0:2
     port = 25
     expect = "220"
     scheduler = rr
     timeout = 10
     reentry = 60
     server mx1 {
         address = 192.168.50.21
         active = 1
     }
     server mx2 {
         address = 192.168.50.22
         active = 0
     }
}
"#;

    #[test]
    fn spec_example_argv_is_exact() {
        let spec = build(&parse(EXAMPLE), Flags::default());
        let www = &spec.virtuals[0];
        assert_eq!(
            www.reals[0].argv.to_vec().join(" "),
            "/usr/sbin/nanny -c -h 192.168.50.11 -p 80 -r 80 -s GET /health HTTP/1.0\\r\\n\\r\\n \
             -x HTTP/1.1 200 -q -a 30 -I /sbin/ipvsadm -t 6 -w 10 -V 203.0.113.100 -M m -U none \
             --nodaemon --lvs"
        );
        // the -s value is one argv element
        assert_eq!(
            www.reals[0].argv.to_vec()[9],
            "GET /health HTTP/1.0\\r\\n\\r\\n"
        );
        let smtp = &spec.virtuals[1];
        assert_eq!(
            smtp.reals[0].argv.to_vec().join(" "),
            "/usr/sbin/nanny -c -h 192.168.50.21 -p 25 -r 25 -x 220 -a 60 -I /sbin/ipvsadm \
             -t 10 -w 1 -V 203.0.113.101 -M m --lvs"
        );
        assert!(!smtp.reals[1].active);
    }

    #[test]
    fn services_as_ipvsadm_would_create_them() {
        let spec = build(&parse(EXAMPLE), Flags::default());
        let www = &spec.virtuals[0];
        assert_eq!(www.key, ServiceKey::tcp([203, 0, 113, 100], 80));
        assert_eq!(
            www.service,
            Service::new(www.key, "wlc").persistent(300, Netmask::V4([255, 255, 255, 0].into()))
        );
        assert_eq!(www.sorry, Some(Ipv4Addr::new(192, 168, 50, 200).into()));
        assert_eq!(
            www.sorry_dest(),
            Some(DestKey {
                addr: Ipv4Addr::new(192, 168, 50, 200).into(),
                port: 80
            })
        );
        assert_eq!(www.forward, Forward::Masq);
        assert_eq!(
            spec.virtuals[1].service,
            Service::new(spec.virtuals[1].key, "rr")
        );
        assert_eq!(spec.ipvsadm, "/sbin/ipvsadm");
        assert!(spec.hard_shutdown);
        assert_eq!(spec.timeouts, [0, 0, 0]);
    }

    #[test]
    fn flags_fwmark_udp_program_regex_verbose_uptime() {
        let cfg = parse(
            r#"
network = direct
rsh_command = ssh
tcp_timeout = 900
virtual a {
  active = 1
  address = 10.0.0.1 eth0:1
  fwmark = 7
  port = 443
  persistent = 60
  send_program = "/bin/check %h %p"
  expect = 'OK'
  use_regex = 1
  load_monitor = uptime
  client_monitor = /usr/local/bin/wrap
  server s { address = 10.1.0.1
    active = 1
    port = 8443
    weight = 3
  }
}
virtual b {
  active = 1
  address = 10.0.0.2 eth0:2
  protocol = udp
  port = 53
  server s {
    address = 10.1.0.2
    active = 1
  }
}
"#
            .replace("{ address", "{\n address")
            .as_str(),
        );
        let flags = Flags {
            nodaemon: true,
            verbose: true,
            quotes: QuoteMode::StripSingle,
        };
        let spec = build(&cfg, flags);
        assert_eq!(spec.timeouts, [900, 0, 0]);
        let a = &spec.virtuals[0];
        assert_eq!(a.key, ServiceKey::fwmark(7));
        assert_eq!(
            a.service,
            Service::new(a.key, "wlc").persistent(60, Netmask::host(ipvs::Family::V4))
        );
        assert_eq!(a.forward, Forward::Route);
        // fwmark: the destination keeps the real port even with direct routing
        assert_eq!(a.reals[0].dest.port, 8443);
        assert_eq!(
            a.reals[0].argv.to_vec(),
            [
                "/usr/local/bin/wrap",
                "-c",
                "-h",
                "10.1.0.1",
                "-p",
                "443",
                "-r",
                "8443",
                "-f",
                "7",
                "-e",
                "/bin/check %h %p",
                "-x",
                "OK",
                "--regex",
                "-v",
                "-a",
                "180",
                "-I",
                "/sbin/ipvsadm",
                "-t",
                "10",
                "-w",
                "3",
                "-V",
                "10.0.0.1",
                "-M",
                "g",
                "-U",
                "ssh",
                "--nodaemon",
                "--lvs"
            ]
        );
        let b = &spec.virtuals[1];
        assert_eq!(b.key, ServiceKey::udp([10, 0, 0, 2], 53));
        assert!(b.reals[0].argv.to_vec().contains(&"-u".to_string()));
        // direct routing without fwmark: destinations use the virtual port
        assert_eq!(b.reals[0].dest.port, 53);
        // the original keeps single quotes (compat flag)
        let spec = build(
            &cfg,
            Flags {
                quotes: QuoteMode::KeepSingle,
                ..flags
            },
        );
        assert!(
            spec.virtuals[0].reals[0]
                .argv
                .to_vec()
                .contains(&"'OK'".to_string())
        );
    }

    #[test]
    fn quote_stripping_is_independent_at_each_end() {
        // REVIEW.md item 16: a leading and a trailing double quote are
        // dropped independently.
        let mut cfg = parse(
            "virtual a {\n active = 1\n address = 10.0.0.1 eth0:1\n server s {\n address = 10.1.0.1\n active = 1\n }\n}\n",
        );
        cfg.virtuals[0].send = Some("\"abc".into());
        cfg.virtuals[0].expect = Some("xyz\"".into());
        let argv = build(&cfg, Flags::default()).virtuals[0].reals[0]
            .argv
            .to_vec();
        let at = |k: &str| argv[argv.iter().position(|a| a == k).unwrap() + 1].clone();
        assert_eq!(at("-s"), "abc");
        assert_eq!(at("-x"), "xyz");
    }

    #[test]
    fn settled_weight_is_at_least_one() {
        let spec = build(&parse(EXAMPLE), Flags::default());
        let mut rs = spec.virtuals[0].reals[0].clone();
        assert_eq!(rs.settled_weight(), 10);
        rs.weight = 0;
        assert_eq!(rs.settled_weight(), 1);
        rs.weight = -4;
        assert_eq!(rs.settled_weight(), 1);
        assert_eq!(rs.first_verdict, Duration::from_secs(14));
    }

    #[test]
    fn ipv6_services_destinations_and_nanny_arguments() {
        let cfg = parse(
            "network = direct\nvirtual w6 {\n active = 1\n address = 2001:db8::10 eth0\n port = 443\n \
             persistent = 60\n pmask = /48\n sorry_server = 2001:db8::99\n \
             server a {\n address = 2001:db8::11\n active = 1\n }\n}\n\
             virtual m6 {\n active = 1\n address = 2001:db8::20 eth0\n fwmark = 7\n persistent = 5\n}\n",
        );
        let spec = build(&cfg, Flags::default());
        let w6 = &spec.virtuals[0];
        let vip: IpAddr = "2001:db8::10".parse().unwrap();
        assert_eq!(w6.key, ServiceKey::tcp(vip, 443));
        assert_eq!(w6.service.netmask, Netmask::V6(48));
        let rs: IpAddr = "2001:db8::11".parse().unwrap();
        assert_eq!(
            w6.reals[0].dest,
            DestKey {
                addr: rs,
                port: 443
            }
        );
        assert_eq!(w6.reals[0].id.to_string(), "[2001:db8::11]:443");
        assert_eq!(
            w6.sorry_dest(),
            Some(DestKey {
                addr: "2001:db8::99".parse().unwrap(),
                port: 443
            })
        );
        let argv = w6.reals[0].argv.to_vec();
        let at = |k: &str| argv[argv.iter().position(|a| a == k).unwrap() + 1].clone();
        assert_eq!(
            (at("-h"), at("-V")),
            ("2001:db8::11".into(), "2001:db8::10".into())
        );
        // a fwmark service has its VIP's family; no pmask: /128
        let m6 = &spec.virtuals[1];
        assert_eq!(m6.key, ServiceKey::fwmark6(7));
        assert_eq!(m6.service.netmask, Netmask::V6(128));
    }

    #[test]
    fn scheduler_flags_and_scale_out() {
        let text = "network = direct\nscale_out = 1\nscale_out_members = 192.0.2.1\n\
                    virtual w {\n active = 1\n address = 10.0.0.1 eth0:1\n scheduler = mh\n\
                    scheduler_flags = mh-port,mh-fallback\n}\n\
                    virtual v {\n active = 1\n address = 10.0.0.2 eth0:2\n scheduler = mh\n\
                    scheduler_flags = mh-port\n}\n";
        let cfg = lvscf::parse_str(text, "lvs.cf").unwrap().config;
        let spec = build(&cfg, Flags::default());
        assert!(spec.scale_out);
        let w = &spec.virtuals[0];
        assert_eq!(w.service.scheduler, "mh");
        assert_eq!(w.service.flags, ServiceFlags::SCHED1 | ServiceFlags::SCHED2);
        assert_eq!(w.vip, "10.0.0.1".parse::<IpAddr>().unwrap());
        // scale-out implies mh-fallback
        assert_eq!(
            spec.virtuals[1].service.flags,
            ServiceFlags::SCHED1 | ServiceFlags::SCHED2
        );
        let plain = lvscf::parse_str("virtual w {\n scheduler = mh\n}\n", "lvs.cf")
            .unwrap()
            .config;
        let spec = build(&plain, Flags::default());
        assert!(!spec.scale_out);
        assert_eq!(spec.virtuals[0].service.flags, ServiceFlags::empty());
    }
}
