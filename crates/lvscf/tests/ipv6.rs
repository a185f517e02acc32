//! IPv6 in lvs.cf (our extension, lvs.cf(5) IPV6): every address key,
//! prefix lengths, bad literals with line and message, the family rules,
//! the one warning, the writer and the start-up verdicts.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::{assert_error, error, parse, resolver, warning_kinds};
use lvscf::{ErrorCode, Mask, Network, Severity, WarningKind};

fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
}

/// A dual-stack NAT file: IPv6 routers, one IPv4 and one IPv6 virtual
/// server, both NAT routers.
const DUAL: &str = "\
serial_no = 4
primary = 2001:db8::1
primary_private = fd00::1
service = lvs
backup_active = 1
backup = 2001:db8::2
backup_private = fd00::2
network = nat
nat_router = 10.0.0.254 eth1:1
nat_nmask = 255.255.255.0
nat_router6 = 2001:db8:1::fffe eth1
nat_nmask6 = /64

virtual web4 {
    active = 1
    address = 192.0.2.10 eth0:1
    vip_nmask = /24
    sorry_server = 10.0.0.99
    port = 80
    server a {
        address = 10.0.0.11
        active = 1
        weight = 1
    }
}

virtual web6 {
    active = 1
    address = 2001:db8::10 eth0:2
    vip_nmask = /64
    sorry_server = 2001:db8:1::99
    port = 80
    persistent = 300
    pmask = /48
    master = 2001:db8::1
    server a {
        address = 2001:db8:1::11
        active = 1
        weight = 1
    }
}
";

#[test]
fn every_address_key_takes_an_ipv6_literal() {
    let p = parse(DUAL);
    let c = &p.config;
    let g = &c.global;
    assert_eq!(g.primary_addr(), v6("2001:db8::1"));
    assert_eq!(g.backup_addr(), v6("2001:db8::2"));
    assert_eq!(g.primary_private_addr(), v6("fd00::1"));
    assert_eq!(g.backup_private_addr(), v6("fd00::2"));
    let (n4, m4) = g.ipv4_nat_router().expect("IPv4 NAT router");
    assert_eq!(
        (n4.host.addr, m4),
        (
            IpAddr::from([10, 0, 0, 254]),
            Ipv4Addr::new(255, 255, 255, 0)
        )
    );
    let (n6, p6) = g.ipv6_nat_router().expect("IPv6 NAT router");
    assert_eq!(
        (n6.host.addr, n6.device.as_str(), p6),
        (v6("2001:db8:1::fffe"), "eth1", 64)
    );
    let [w4, w6] = &c.virtuals[..] else { panic!() };
    assert!(!w4.is_ipv6());
    assert_eq!(w4.vip_mask4(), Some(Ipv4Addr::new(255, 255, 255, 0)));
    assert_eq!(w4.vip_prefix6(), None);
    assert!(w6.is_ipv6());
    assert_eq!(w6.vip(), v6("2001:db8::10"));
    // the :2 of the device is kept as written (pulse ignores it for IPv6)
    assert_eq!(w6.device(), Some("eth0:2"));
    assert_eq!(w6.vip_prefix6(), Some(64));
    assert_eq!(w6.vip_mask4(), None);
    assert_eq!(w6.sorry(), Some(v6("2001:db8:1::99")));
    assert_eq!(w6.servers[0].address.addr, v6("2001:db8:1::11"));
    assert_eq!(w6.master.as_ref().map(|h| h.addr), Some(v6("2001:db8::1")));
    assert_eq!(w6.persistence_mask(), Some(Mask::Prefix(48)));
    // one warning, at the first IPv6 address
    assert_eq!(warning_kinds(&p), [WarningKind::Ipv6]);
    let w = &p.warnings[0];
    assert_eq!((w.line, w.key.as_deref()), (2, Some("primary")));
    assert_eq!(
        w.to_string(),
        "lvs.cf:2: primary: warning: IPv6 address: Piranha's pulse and lvsd cannot read this file"
    );
}

#[test]
fn ipv6_defaults_and_prefixes() {
    let t = "network = direct\nvirtual v {\naddress = 2001:db8::10 eth0\npersistent = 60\n\
             server a {\naddress = 2001:db8::11\n}\n}\n";
    let c = parse(t).config;
    let v = &c.virtuals[0];
    assert_eq!(v.vip_nmask, Mask::NONE);
    assert_eq!(v.vip_prefix6(), Some(64), "default /64");
    assert_eq!(v.persistence_mask(), None, "default /128 (host)");
    // an IPv4 VIP takes /N too, the same as its dotted mask
    let c = parse("virtual v {\naddress = 192.0.2.1 eth0:1\nvip_nmask = /26\npmask = /16\npersistent = 5\n}\n").config;
    let v = &c.virtuals[0];
    assert_eq!(v.vip_nmask, Mask::Prefix(26));
    assert_eq!(v.vip_mask4(), Some(Ipv4Addr::new(255, 255, 255, 192)));
    assert_eq!(
        v.persistence_mask(),
        Some(Mask::Dotted(Ipv4Addr::new(255, 255, 0, 0)))
    );
    // /0 is 0.0.0.0: no mask
    let c = parse("virtual v {\naddress = 192.0.2.1 eth0:1\nvip_nmask = /0\n}\n").config;
    assert_eq!(c.virtuals[0].vip_mask4(), None);
    // nat_router alone may be the IPv6 one (default /64)
    let c =
        parse("nat_router = 2001:db8::fffe eth1\nvirtual v {\naddress = 2001:db8::10 eth0\n}\n")
            .config;
    assert_eq!(c.global.ipv6_nat_router().map(|(_, p)| p), Some(64));
    assert!(c.global.ipv4_nat_router().is_none());
    // host names still resolve to IPv4, as before
    let c = parse("primary = lb1.example\n").config;
    assert_eq!(c.global.primary_addr(), IpAddr::from([192, 0, 2, 1]));
}

#[test]
fn bad_literals_say_line_key_and_what_was_expected() {
    let e = assert_error(
        "serial_no = 1\nprimary = 2001:db8::1::2\n",
        ErrorCode::BadHostname,
        2,
    );
    assert_eq!(e.key.as_deref(), Some("primary"));
    assert_eq!(
        e.to_string(),
        "lvs.cf:2: primary: expected an IPv6 address such as 2001:db8::1, found \"2001:db8::1::2\" \
         (invalid host name or ip address)"
    );
    let e = assert_error(
        "virtual v {\naddress = fe80::1%eth0 eth0\n}\n",
        ErrorCode::BadHostname,
        2,
    );
    assert_eq!(e.key.as_deref(), Some("address"));
    assert!(e.detail.contains("zone ids are not allowed"), "{e}");
    let e = error("virtual v {\nserver s {\naddress = [2001:db8::1]\n}\n}\n");
    assert_eq!((e.line, e.key.as_deref()), (3, Some("address")));
    assert!(e.detail.contains("without brackets"), "{e}");
    let e = error("backup = ::ffff:192.0.2.1\n");
    assert!(e.detail.contains("write 192.0.2.1"), "{e}");
    let e = error("virtual v {\nsorry_server = 2001:db8::g\n}\n");
    assert_eq!((e.line, e.key.as_deref()), (2, Some("sorry_server")));
    let e = assert_error("primary = ::\n", ErrorCode::BadHostname, 1);
    assert!(e.detail.contains("other than ::"), "{e}");
    // prefix lengths
    let e = assert_error(
        "virtual v {\naddress = 2001:db8::1 eth0\nvip_nmask = /129\n}\n",
        ErrorCode::BadNetmask,
        3,
    );
    assert_eq!(e.key.as_deref(), Some("vip_nmask"));
    assert!(e.detail.contains("found \"/129\""), "{e}");
    let e = assert_error(
        "virtual v {\nvip_nmask = /33\naddress = 192.0.2.1 eth0:1\n}\n",
        ErrorCode::BadNetmask,
        2,
    );
    assert_eq!(
        e.to_string(),
        "lvs.cf:2: vip_nmask: expected a prefix length from /0 to /32 for the IPv4 address \
         192.0.2.1, found /33 (Bad subnet mask specified)"
    );
    let e = assert_error(
        "virtual v {\naddress = 2001:db8::1 eth0\nvip_nmask = 255.255.255.0\n}\n",
        ErrorCode::BadNetmask,
        3,
    );
    assert!(e.detail.contains("no dotted mask"), "{e}");
    let e = assert_error(
        "virtual v {\naddress = 2001:db8::1 eth0\npmask = 255.255.0.0\n}\n",
        ErrorCode::BadNetmask,
        3,
    );
    assert_eq!(e.key.as_deref(), Some("pmask"));
    let e = assert_error(
        "nat_router = 2001:db8::fffe eth1\nnat_nmask = 255.255.255.0\n",
        ErrorCode::BadNetmask,
        2,
    );
    assert_eq!(e.key.as_deref(), Some("nat_nmask"));
    let e = assert_error("nat_nmask6 = 255.255.255.0\n", ErrorCode::BadNetmask, 1);
    assert!(
        e.detail.contains("expected a prefix length like /64"),
        "{e}"
    );
    let e = assert_error("nat_router6 = 10.0.0.1 eth1\n", ErrorCode::BadHostname, 1);
    assert!(
        e.detail.contains("nat_router6 is the IPv6 NAT router"),
        "{e}"
    );
}

#[test]
fn families_must_match() {
    // a real server of the other family, at its address line
    let t = "virtual web6 {\naddress = 192.0.2.1 eth0:1\nserver a {\naddress = 2001:db8::5\n}\n}\n";
    let e = assert_error(t, ErrorCode::BadHostname, 4);
    assert_eq!(e.key.as_deref(), Some("address"));
    assert_eq!(
        e.detail,
        "real server 2001:db8::5 is IPv6 but virtual server web6's address is IPv4"
    );
    // the VIP may come after the servers
    let t = "virtual v {\nserver a {\naddress = 10.0.0.1\n}\naddress = 2001:db8::1 eth0\n}\n";
    assert_error(t, ErrorCode::BadHostname, 3);
    let t = "virtual v {\naddress = 2001:db8::1 eth0\nserver a {\nactive = 1\n}\n}\n";
    let e = assert_error(t, ErrorCode::BadHostname, 3);
    assert!(e.detail.contains("real server a has no address"), "{e}");
    let t = "virtual v {\naddress = 2001:db8::1 eth0\nsorry_server = 10.0.0.9\n}\n";
    let e = assert_error(t, ErrorCode::BadHostname, 3);
    assert_eq!(e.key.as_deref(), Some("sorry_server"));
    // the director pairs
    let e = assert_error(
        "primary = 2001:db8::1\nbackup = 192.0.2.2\n",
        ErrorCode::BadHostname,
        2,
    );
    assert_eq!(e.key.as_deref(), Some("backup"));
    let e = error("primary = 192.0.2.1\nprimary_private = 10.0.0.1\nbackup_private = fd00::2\n");
    assert_eq!((e.line, e.key.as_deref()), (3, Some("backup_private")));
    // backup = 0.0.0.0 is "no backup" in either family
    parse("primary = 2001:db8::1\nbackup = 0.0.0.0\n");
    // NAT: each NAT virtual server needs a router of its family
    let t = "network = nat\nnat_router = 10.0.0.254 eth1:1\nvirtual web6 {\naddress = 2001:db8::1 eth0\n}\n";
    let e = assert_error(t, ErrorCode::BadHostname, 4);
    assert!(e.detail.contains("expected an IPv6 NAT router"), "{e}");
    let t = "network = nat\nnat_router6 = 2001:db8::fffe eth1\nvirtual w {\naddress = 192.0.2.1 eth0:1\n}\n";
    let e = assert_error(t, ErrorCode::BadHostname, 4);
    assert!(e.detail.contains("expected an IPv4 NAT router"), "{e}");
    // ... an IPv4 file without a NAT router is read as before
    parse("network = nat\nvirtual w {\naddress = 192.0.2.1 eth0:1\n}\n");
    // ... and with direct routing no NAT router is needed
    parse("network = direct\nvirtual w {\naddress = 2001:db8::1 eth0\n}\n");
    let t = "nat_router = 2001:db8::fffe eth1\nnat_router6 = 2001:db8::fffd eth1\n";
    let e = assert_error(t, ErrorCode::BadHostname, 1);
    assert_eq!(e.key.as_deref(), Some("nat_router"));
}

#[test]
fn ipv4_files_get_no_ipv6_warning() {
    let p = parse(&common::fixture("nat-two-directors.cf"));
    assert!(!warning_kinds(&p).contains(&WarningKind::Ipv6));
    // a prefix length is our extension too: the same warning, once
    let p = parse("virtual v {\naddress = 192.0.2.1 eth0:1\nvip_nmask = /24\npmask = /16\n}\n");
    assert_eq!(warning_kinds(&p), [WarningKind::Ipv6]);
    assert_eq!(
        (p.warnings[0].line, p.warnings[0].key.as_deref()),
        (3, Some("vip_nmask"))
    );
}

#[test]
fn check_warns_but_accepts() {
    let c = lvscf::check_with(DUAL, "lvs.cf", &resolver()).expect("valid");
    let w: Vec<_> = c
        .warnings
        .iter()
        .filter(|p| p.message.contains("Piranha"))
        .collect();
    assert_eq!(w.len(), 1, "{:?}", c.warnings);
    assert_eq!(
        (w[0].severity, w[0].line, w[0].key.as_deref()),
        (Severity::Warning, 2, Some("primary"))
    );
}

#[test]
fn the_writer_round_trips_ipv6() {
    let p = parse(DUAL);
    let text = lvscf::write(&p.config).unwrap();
    for want in [
        "primary = 2001:db8::1\n",
        "nat_router6 = 2001:db8:1::fffe eth1\n",
        "nat_nmask6 = /64\n",
        "    address = 2001:db8::10 eth0:2\n",
        "    vip_nmask = /64\n",
        "    vip_nmask = /24\n",
        "    sorry_server = 2001:db8:1::99\n",
        "    pmask = /48\n",
        "        address = 2001:db8:1::11\n",
    ] {
        assert!(text.contains(want), "{want:?} not in\n{text}");
    }
    let again = parse(&text);
    assert_eq!(again.config, p.config);
    assert_eq!(lvscf::write(&again.config).unwrap(), text);
    // non-canonical spellings are written canonically
    let c = parse("primary = 2001:DB8:0:0::1\n").config;
    assert!(
        lvscf::write(&c)
            .unwrap()
            .contains("primary = 2001:db8::1\n")
    );
}

#[test]
fn json_shows_ipv6_as_text() {
    let c = parse(DUAL).config;
    let j: serde_json::Value =
        serde_json::from_str(&lvscf::to_json(&c, lvscf::QuoteMode::default())).unwrap();
    assert_eq!(j["global"]["primary"], "2001:db8::1");
    assert_eq!(j["global"]["nat_router6"], "2001:db8:1::fffe eth1");
    assert_eq!(j["global"]["nat_nmask6"], "/64");
    assert_eq!(j["global"]["nat_nmask"], "255.255.255.0");
    let w6 = &j["virtual"][1];
    assert_eq!(w6["address"], "2001:db8::10 eth0:2");
    assert_eq!(w6["vip_nmask"], "/64");
    assert_eq!(w6["pmask"], "/48");
    assert_eq!(w6["server"][0]["address"], "2001:db8:1::11");
    assert_eq!(j["virtual"][0]["vip_nmask"], "/24");
    // IPv4 dumps have no new keys
    let c = parse(&common::fixture("nat-two-directors.cf")).config;
    let j = lvscf::to_json(&c, lvscf::QuoteMode::default());
    assert!(
        !j.contains("nat_router6") && !j.contains("nat_nmask6"),
        "{j}"
    );
}

#[test]
fn lvs_mode_daemons_accept_ipv6_fos_mode_refuses_it() {
    let c = parse(DUAL).config;
    assert!(!lvscf::startup::pulse(&c, "lvs.cf").refused());
    assert!(!lvscf::startup::lvsd(&c, "lvs.cf").refused());
    assert_eq!(c.global.network, Network::Nat);
    // IPv6 VIPs get no alias-label warnings (IPv6 addresses have none)
    let t = "primary = 2001:db8::1\nnetwork = direct\nvirtual a {\nactive = 1\naddress = 2001:db8::10 eth0\n}\n\
             virtual b {\nactive = 1\naddress = 2001:db8::11 eth0\n}\n";
    let v = lvscf::startup::pulse(&parse(t).config, "lvs.cf");
    assert_eq!(v, lvscf::Verdict::default());
    // fos mode: IPv4 only for now
    let fos = "service = fos\nprimary = 192.0.2.1\nfailover f {\nactive = 1\naddress = 2001:db8::10 eth0\n\
               start_cmd = /bin/true\nstop_cmd = /bin/true\n}\n";
    let c = parse(fos).config;
    let want = "fos: lvs.cf:3: failover f: address: expected an IPv4 address with service = fos, \
                found 2001:db8::10 (IPv6 is supported with service = lvs only)\n";
    assert_eq!(lvscf::startup::fos(&c, "lvs.cf").report("fos"), want);
    assert_eq!(
        lvscf::startup::pulse(&c, "lvs.cf").report("pulse"),
        want.replacen("fos: ", "pulse: ", 1)
    );
    let c = parse(
        &fos.replace("primary = 192.0.2.1", "primary = 2001:db8::1")
            .replace("2001:db8::10 eth0", "192.0.2.10 eth0:1"),
    )
    .config;
    let r = lvscf::startup::fos(&c, "lvs.cf");
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].key, Some("primary"));
    let p = lvscf::check_with(
        &fos.replace("primary = 192.0.2.1\n", ""),
        "lvs.cf",
        &resolver(),
    )
    .unwrap_err();
    let e: Vec<_> = p.iter().filter(|p| p.severity == Severity::Error).collect();
    assert_eq!(
        (e.len(), e[0].line, e[0].key.as_deref()),
        (1, 4, Some("address"))
    );
}

/// A usable IPv6 address from any 128 bits (not `::`, not IPv4-mapped).
fn any_v6() -> impl proptest::strategy::Strategy<Value = Ipv6Addr> {
    use proptest::prelude::*;
    any::<u128>()
        .prop_map(Ipv6Addr::from)
        .prop_filter("usable", |a| {
            !a.is_unspecified() && a.to_ipv4_mapped().is_none()
        })
}

proptest::proptest! {
    #[test]
    fn random_ipv6_models_round_trip(
        routers in (any_v6(), any_v6()),
        vip in any_v6(),
        servers in proptest::collection::vec(any_v6(), 0..4),
        sorry in proptest::option::of(any_v6()),
        nmask in proptest::option::of(0u8..=128),
        pmask in proptest::option::of(0u8..=128),
        nat in proptest::option::of((any_v6(), 0u8..=128)),
    ) {
        let mut c = parse("network = nat\nvirtual v {\nactive = 1\n}\n").config;
        let g = &mut c.global;
        g.primary = Some(lvscf::Host::addr(routers.0));
        g.backup = Some(lvscf::Host::addr(routers.1));
        g.primary_private = g.primary.clone();
        g.backup_private = g.backup.clone();
        g.private_defaulted = true;
        // a NAT virtual server needs its IPv6 NAT router: without one, direct
        match nat {
            Some((a, n)) => {
                g.nat_router6 = Some(lvscf::AddrDev { host: lvscf::Host::addr(a), device: "eth1".into() });
                g.nat_nmask6 = Mask::Prefix(n);
            }
            None => g.network = Network::Direct,
        }
        let v = &mut c.virtuals[0];
        v.address = Some(lvscf::AddrDev { host: lvscf::Host::addr(vip), device: "eth0".into() });
        v.vip_nmask = nmask.map_or(Mask::NONE, Mask::Prefix);
        v.pmask = pmask.map_or(Mask::NONE, Mask::Prefix);
        v.persistent = 30;
        if let Some(s) = sorry {
            v.sorry_server = s.into();
        }
        for (i, a) in servers.iter().enumerate() {
            let mut r = lvscf::RealServer::new(format!("s{i}"), 80);
            r.address = lvscf::Host::addr(*a);
            v.servers.push(r);
        }
        let text = lvscf::write(&c).unwrap();
        let back = parse(&text);
        proptest::prop_assert_eq!(&back.config, &c, "{}", text);
        proptest::prop_assert_eq!(warning_kinds(&back), [WarningKind::Ipv6]);
    }
}
