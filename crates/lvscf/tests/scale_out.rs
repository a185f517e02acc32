//! Scale-out mode's keys (docs/scale-out.md, lvs.cf(5) SCALE-OUT): syntax,
//! defaults, the rules with file, line and key, the warnings, the writer and
//! the start-up verdict.

use std::net::IpAddr;
use std::time::Duration;

use lvscf::{Network, Scheduler, SchedulerFlags, WarningKind};

const BASE: &str = "\
service = lvs
network = direct
scale_out = 1
scale_out_members = 192.0.2.1 192.0.2.2 2001:db8::3
virtual web {
    active = 1
    address = 198.51.100.10 eth0:1
    port = 80
    scheduler = mh
    scheduler_flags = mh-port,mh-fallback
    server a {
        address = 10.0.0.1
        active = 1
        weight = 1
    }
}
";

fn parse(text: &str) -> lvscf::Parsed {
    lvscf::parse_str(text, "lvs.cf").unwrap_or_else(|e| panic!("{e}"))
}

fn error(text: &str) -> String {
    lvscf::parse_str(text, "lvs.cf")
        .expect_err("refused")
        .to_string()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn keys_and_defaults() {
    let p = parse(BASE);
    let g = &p.config.global;
    assert!(g.scale_out);
    assert_eq!(g.network, Network::Direct);
    assert_eq!(
        g.scale_out_members,
        [ip("192.0.2.1"), ip("192.0.2.2"), ip("2001:db8::3")]
    );
    assert_eq!(g.announce_device(), "lvs0");
    assert_eq!(g.announce_hold(), Duration::from_secs(5));
    let v = &p.config.virtuals[0];
    assert_eq!(v.scheduler, Scheduler::Mh);
    assert_eq!(
        v.scheduler_flags,
        SchedulerFlags {
            port: true,
            fallback: true
        }
    );
    let p = parse(&format!(
        "{BASE}announce_device = bgp0\nannounce_hold = 0\n"
    ));
    assert_eq!(p.config.global.announce_device(), "bgp0");
    assert_eq!(p.config.global.announce_hold(), Duration::ZERO);
    // absent: not scale-out, nothing set
    let g = lvscf::Global::default();
    assert!(!g.scale_out && !g.has_scale_out_keys());
}

#[test]
fn one_warning_that_piranha_cannot_read_the_file() {
    let p = parse(BASE);
    let not_piranha: Vec<String> = p
        .warnings
        .iter()
        .filter(|w| w.kind == WarningKind::Ipv6)
        .map(|w| w.to_string())
        .collect();
    assert_eq!(
        not_piranha,
        [
            "lvs.cf:3: scale_out: warning: key scale_out: Piranha's pulse and lvsd cannot read this file"
        ]
    );
    // scheduler = mh alone, or scheduler_flags alone, also warns
    let p = parse(
        "network = direct\nvirtual w {\n active = 1\n address = 10.0.0.1 eth0:1\n scheduler = mh\n}\n",
    );
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert!(
        p.warnings[0]
            .to_string()
            .starts_with("lvs.cf:5: scheduler: warning: scheduler mh:")
    );
}

#[test]
fn the_rules_name_file_line_and_key() {
    // NAT, written
    let t = BASE.replace("network = direct", "network = nat");
    let e = error(&t);
    assert!(
        e.starts_with("lvs.cf:2: network: expected network = direct or tunnel with scale_out = 1, found nat (NAT real servers send their replies through their default gateway, one director"),
        "{e}"
    );
    // NAT by default: the scale_out line
    let t = BASE.replace("network = direct\n", "");
    let e = error(&t);
    assert!(
        e.starts_with("lvs.cf:2: scale_out: expected network = direct or tunnel with scale_out = 1, found nat (the default network)"),
        "{e}"
    );
    // tunnelling is fine
    parse(&BASE.replace("network = direct", "network = tunnel"));
    // a scheduler other than mh: its line
    let t = BASE
        .replace("    scheduler = mh\n", "    scheduler = wlc\n")
        .replace("    scheduler_flags = mh-port,mh-fallback\n", "");
    let e = error(&t);
    assert!(
        e.starts_with("lvs.cf:9: scheduler: expected scheduler = mh with scale_out = 1, found wlc in virtual web"),
        "{e}"
    );
    // no scheduler at all (wlc): the block's line
    let t = BASE
        .replace("    scheduler = mh\n", "")
        .replace("    scheduler_flags = mh-port,mh-fallback\n", "");
    let e = error(&t);
    assert!(
        e.starts_with("lvs.cf:5: scheduler: expected scheduler = mh"),
        "{e}"
    );
    // no members
    let t = BASE.replace("scale_out_members = 192.0.2.1 192.0.2.2 2001:db8::3\n", "");
    let e = error(&t);
    assert!(
        e.starts_with("lvs.cf:3: scale_out_members: expected scale_out_members = ADDR"),
        "{e}"
    );
    // fos
    let e = error(&format!("{BASE}service = fos\n"));
    assert!(
        e.starts_with("lvs.cf:3: scale_out: expected service = lvs"),
        "{e}"
    );
    // scale_out = 0: none of it applies
    parse(
        &BASE
            .replace("scale_out = 1", "scale_out = 0")
            .replace("network = direct", "network = nat"),
    );
}

#[test]
fn bad_values() {
    let cases = [
        (
            "scale_out = 2",
            "lvs.cf:1: scale_out: expected 0 or 1, found \"2\"",
        ),
        (
            "scale_out_members =",
            "lvs.cf:1: scale_out_members: expected one or more director addresses",
        ),
        (
            "scale_out_members = dir1",
            "lvs.cf:1: scale_out_members: expected an IPv4 or IPv6 address (no host names), found \"dir1\"",
        ),
        (
            "scale_out_members = 192.0.2.1 192.0.2.1",
            "lvs.cf:1: scale_out_members: expected each director's own address, found a repeated address: 192.0.2.1",
        ),
        (
            "scale_out_members = 0.0.0.0",
            "lvs.cf:1: scale_out_members: expected each director's own address, found an unspecified address",
        ),
        (
            "announce_device = a_name_too_long0",
            "lvs.cf:1: announce_device: expected an interface name of 1 to 15 characters",
        ),
        (
            "announce_device = eth0:1",
            "lvs.cf:1: announce_device: expected an interface name",
        ),
        (
            "announce_device = a/b",
            "lvs.cf:1: announce_device: expected an interface name",
        ),
        (
            "announce_hold = -1",
            "lvs.cf:1: announce_hold: expected an integer from 0 to 86400, found \"-1\"",
        ),
        (
            "announce_hold = x",
            "lvs.cf:1: announce_hold: expected an integer",
        ),
    ];
    for (line, want) in cases {
        let e = error(&format!("{line}\n"));
        assert!(e.starts_with(want), "{line}: {e}");
    }
    let e = error("virtual w {\n scheduler = mh\n scheduler_flags = mh-port,sh-port\n}\n");
    assert!(
        e.starts_with("lvs.cf:3: scheduler_flags: expected mh-port, mh-fallback or mh-port,mh-fallback, found \"mh-port,sh-port\""),
        "{e}"
    );
    // the flags are mh's
    let e = error("virtual w {\n scheduler_flags = mh-port\n scheduler = sh\n}\n");
    assert!(
        e.starts_with("lvs.cf:2: scheduler_flags: expected scheduler = mh with scheduler_flags mh-port, found scheduler = sh"),
        "{e}"
    );
    // outside scale-out mode, with mh: fine
    let p = parse("virtual w {\n scheduler = mh\n scheduler_flags = mh-fallback\n}\n");
    assert_eq!(
        p.config.virtuals[0].scheduler_flags,
        SchedulerFlags {
            port: false,
            fallback: true
        }
    );
}

#[test]
fn the_pairs_keys_are_ignored_with_a_warning() {
    let t = format!(
        "primary = 192.0.2.1\nbackup = 192.0.2.2\nbackup_active = 1\nkeepalive = 1\ndeadtime = 3\n\
         heartbeat_port = 600\n{BASE}"
    );
    let p = parse(&t);
    let ignored: Vec<String> = p
        .warnings
        .iter()
        .filter(|w| w.kind == WarningKind::ScaleOutIgnored)
        .map(|w| w.to_string())
        .collect();
    assert_eq!(
        ignored,
        [
            "lvs.cf:1: primary: warning: ignored with scale_out = 1 (no partner, no heartbeat)",
            "lvs.cf:2: backup: warning: ignored with scale_out = 1 (no partner, no heartbeat)",
            "lvs.cf:3: backup_active: warning: ignored with scale_out = 1 (no partner, no heartbeat)",
            "lvs.cf:4: keepalive: warning: ignored with scale_out = 1 (no partner, no heartbeat)",
            "lvs.cf:5: deadtime: warning: ignored with scale_out = 1 (no partner, no heartbeat)",
            "lvs.cf:6: heartbeat_port: warning: ignored with scale_out = 1 (no partner, no heartbeat)",
            "lvs.cf:11: address: warning: the device of each virtual server's address is ignored \
             with scale_out = 1 (the VIPs go on announce_device lvs0)",
        ]
    );
    // a VIP on announce_device itself is not "ignored"
    let on_lvs0 = parse(&t.replace("198.51.100.10 eth0:1", "198.51.100.10 lvs0:1"));
    assert!(
        !on_lvs0
            .warnings
            .iter()
            .any(|w| w.to_string().contains("device of each virtual server")),
        "{:?}",
        on_lvs0.warnings
    );
    // pulse's pair checks are off: no deadtime or backup findings
    let v = lvscf::startup::pulse(&p.config, "lvs.cf");
    assert!(!v.refused(), "{v:?}");
    assert!(v.warnings.is_empty(), "{:?}", v.warnings);
}

#[test]
fn writer_round_trips_the_keys() {
    let t = format!("{BASE}announce_device = bgp0\nannounce_hold = 7\n");
    let c = parse(&t).config;
    let text = lvscf::write(&c).unwrap();
    assert!(text.contains("scale_out = 1\n"), "{text}");
    assert!(
        text.contains("scale_out_members = 192.0.2.1 192.0.2.2 2001:db8::3\n"),
        "{text}"
    );
    assert!(
        text.contains("announce_device = bgp0\nannounce_hold = 7\n"),
        "{text}"
    );
    assert!(
        text.contains("    scheduler = mh\n    scheduler_flags = mh-port,mh-fallback\n"),
        "{text}"
    );
    assert_eq!(parse(&text).config, c);
    // JSON names them
    let j = lvscf::to_json(&c, lvscf::QuoteMode::default());
    for k in [
        "\"scale_out\": 1",
        "\"scale_out_members\": \"192.0.2.1 192.0.2.2 2001:db8::3\"",
        "\"announce_device\": \"bgp0\"",
        "\"announce_hold\": 7",
        "\"scheduler_flags\": \"mh-port,mh-fallback\"",
    ] {
        assert!(j.contains(k), "{k}: {j}");
    }
    // a file without them: none of them written
    let plain =
        parse("network = direct\nvirtual w {\n active = 1\n address = 10.0.0.1 eth0:1\n}\n");
    let text = lvscf::write(&plain.config).unwrap();
    assert!(
        !text.contains("scale_out") && !text.contains("announce"),
        "{text}"
    );
    let j = lvscf::to_json(&plain.config, lvscf::QuoteMode::default());
    assert!(
        !j.contains("scale_out") && !j.contains("scheduler_flags"),
        "{j}"
    );
}

#[test]
fn pulse_starts_only_on_a_member() {
    let c = parse(BASE).config;
    let mine = |a: IpAddr| a == ip("2001:db8::3");
    assert_eq!(lvscf::startup::scale_out_member(&c, "lvs.cf", mine), None);
    let f = lvscf::startup::scale_out_member(&c, "lvs.cf", |_| false).expect("refused");
    assert_eq!(
        f.message,
        "lvs.cf: scale_out_members: expected an address of this host among them, found \
         192.0.2.1 192.0.2.2 2001:db8::3 (none is configured here)"
    );
    // not scale-out: no verdict
    let c = parse(&BASE.replace("scale_out = 1", "scale_out = 0")).config;
    assert_eq!(
        lvscf::startup::scale_out_member(&c, "lvs.cf", |_| false),
        None
    );
}

#[test]
fn lvscf_check_shows_the_warning() {
    let checked = lvscf::check(BASE, "lvs.cf").expect("passes");
    assert!(
        checked.warnings.iter().any(|w| w
            .message
            .contains("Piranha's pulse and lvsd cannot read this file")),
        "{:?}",
        checked.warnings
    );
}
