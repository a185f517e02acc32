//! The files under `etc/`: every example `lvs.cf.*` passes `lvscf check`
//! without a warning and without a finding of the daemons' own checks; the
//! systemd unit and `sysconfig/pulse` are what the packages install.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use lvscf::{Network, ServiceType};

fn etc() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../etc")
}

/// `etc/lvs.cf.*`, sorted.
fn examples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(etc())
        .expect("etc/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("lvs.cf."))
        })
        .collect();
    v.sort();
    v
}

fn parse(path: &Path) -> lvscf::Config {
    lvscf::parse_file(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .config
}

#[test]
fn every_example_passes_lvscf_check_without_warnings() {
    let files = examples();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "lvs.cf.demo",
        "lvs.cf.dr-fwmark",
        "lvs.cf.ipv6",
        "lvs.cf.nat",
        "lvs.cf.scale-out",
    ] {
        assert!(names.iter().any(|n| n == want), "etc/{want} missing");
    }
    for f in &files {
        let out = Command::new(lvs_tests::bin("lvscf"))
            .arg("check")
            .arg(f)
            .output()
            .expect("run lvscf");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "lvscf check {}: {:?}\n{stderr}",
            f.display(),
            out.status
        );
        // the IPv6 example: only the warning that Piranha cannot read it;
        // the scale-out example: that one only
        let ipv6 = f.ends_with("lvs.cf.ipv6");
        let scale_out = f.ends_with("lvs.cf.scale-out");
        let expected: &[&str] = if ipv6 {
            &[IPV6_WARNING]
        } else if scale_out {
            &SCALE_OUT_WARNINGS
        } else {
            &[]
        };
        let rest: Vec<&str> = stderr
            .lines()
            .filter(|l| !expected.iter().any(|w| l.contains(w)))
            .collect();
        assert!(rest.is_empty(), "lvscf check {}:\n{stderr}", f.display());
        assert_eq!(
            stderr.lines().count(),
            rest.len() + expected.len(),
            "lvscf check {}:\n{stderr}",
            f.display()
        );
    }
}

/// The one warning lvscf gives a file with IPv6 addresses.
const IPV6_WARNING: &str = "warning: IPv6 address: Piranha's pulse and lvsd cannot read this file";

/// The warning lvscf gives the scale-out example: Piranha cannot read it
/// (its VIP names `announce_device`, so no "device ignored" warning).
const SCALE_OUT_WARNINGS: [&str; 1] =
    ["warning: key scale_out: Piranha's pulse and lvsd cannot read this file"];

#[test]
fn examples_pass_the_daemons_checks() {
    for f in examples() {
        let name = f.to_string_lossy().into_owned();
        let parsed = lvscf::parse_file(&f).expect("parses");
        let c = &parsed.config;
        let scale_out = c.global.scale_out;
        let warnings: Vec<_> = parsed
            .warnings
            .iter()
            .filter(|w| w.kind != lvscf::WarningKind::Ipv6)
            // scale-out mode ignores the VIP's device, and says so
            .filter(|w| {
                !(scale_out
                    && w.kind == lvscf::WarningKind::ScaleOutIgnored
                    && w.key.as_deref() == Some("address"))
            })
            .collect();
        assert!(warnings.is_empty(), "{name}: {warnings:?}");
        assert_eq!(c.global.service, ServiceType::Lvs, "{name}");
        if scale_out {
            assert!(
                c.global.scale_out_members.len() >= 2,
                "{name}: several directors"
            );
        } else {
            assert!(c.global.backup_active, "{name}: two routers");
        }
        let pulse = lvscf::validate_for_pulse(c, &name);
        assert!(pulse.is_empty(), "{name}: pulse would say {pulse:?}");
        let lvsd = lvscf::validate_for_lvsd(c, &name);
        assert!(lvsd.is_empty(), "{name}: lvsd would say {lvsd:?}");
        for v in c.virtuals.iter().filter(|v| v.active) {
            let dev = &v.address.as_ref().expect("VIP").device;
            // IPv6 addresses have no alias labels; scale-out mode puts the
            // VIPs on announce_device
            assert!(
                v.is_ipv6() || scale_out || dev.contains(':'),
                "{name}: VIP of {} on alias",
                v.name
            );
            assert!(v.servers.iter().any(|s| s.active), "{name}: {}", v.name);
        }
    }
}

#[test]
fn nat_example_is_nat_and_dr_example_uses_a_firewall_mark() {
    let nat = parse(&etc().join("lvs.cf.nat"));
    assert_eq!(nat.global.network, Network::Nat);
    assert!(nat.global.nat_router.is_some());
    let dr = parse(&etc().join("lvs.cf.dr-fwmark"));
    assert_eq!(dr.global.network, Network::Direct);
    assert!(dr.virtuals.iter().all(|v| v.fwmark != 0));
}

#[test]
fn ipv6_example_is_dual_stack_direct_routing() {
    let c = parse(&etc().join("lvs.cf.ipv6"));
    let g = &c.global;
    assert_eq!(g.network, Network::Direct);
    assert!(g.primary_addr().is_ipv6() && g.backup_addr().is_ipv6());
    let families: Vec<bool> = c.virtuals.iter().map(|v| v.is_ipv6()).collect();
    assert_eq!(
        families,
        [false, true],
        "one IPv4 and one IPv6 virtual server"
    );
    for v in &c.virtuals {
        assert!(
            v.servers
                .iter()
                .all(|s| s.address.addr.is_ipv6() == v.is_ipv6()),
            "{}",
            v.name
        );
    }
    // lvsd and pulse (lvs mode) accept it; it round-trips through the writer
    assert!(!lvscf::startup::pulse(&c, "lvs.cf.ipv6").refused());
    assert!(!lvscf::startup::lvsd(&c, "lvs.cf.ipv6").refused());
    let text = lvscf::write(&c).expect("writes");
    assert_eq!(lvscf::parse_str(&text, "w").expect("parses").config, c);
}

#[test]
fn scale_out_example_is_direct_routing_with_mh_and_members() {
    let name = "lvs.cf.scale-out";
    let c = parse(&etc().join(name));
    let g = &c.global;
    assert!(g.scale_out);
    assert_eq!(g.network, Network::Direct);
    assert_eq!(g.scale_out_members.len(), 3);
    assert_eq!(g.announce_device(), "lvs0");
    assert!(!c.virtuals.is_empty());
    for v in &c.virtuals {
        assert_eq!(v.scheduler, lvscf::Scheduler::Mh, "{}", v.name);
        assert!(v.scheduler_flags.port, "{}: mh-port", v.name);
        assert!(v.servers.len() >= 2, "{}", v.name);
    }
    // both daemons accept it; it round-trips through the writer
    assert!(!lvscf::startup::pulse(&c, name).refused());
    assert!(!lvscf::startup::lvsd(&c, name).refused());
    let text = lvscf::write(&c).expect("writes");
    assert_eq!(lvscf::parse_str(&text, "w").expect("parses").config, c);
}

#[test]
fn demo_example_has_the_documented_layout() {
    let c = parse(&etc().join("lvs.cf.demo"));
    let g = &c.global;
    let ip = |h: &Option<lvscf::Host>| h.as_ref().map(|h| h.addr);
    let v4 = |a: [u8; 4]| Some(IpAddr::from(a));
    assert_eq!(ip(&g.primary), v4([10, 10, 0, 1]));
    assert_eq!(ip(&g.backup), v4([10, 10, 0, 2]));
    assert_eq!(g.network, Network::Nat);
    let nat = g.nat_router.as_ref().expect("nat_router");
    assert_eq!(nat.host.addr, Ipv4Addr::new(10, 20, 0, 254));
    assert_eq!(g.keepalive.to_string(), "1");
    assert_eq!(g.deadtime.to_string(), "3");
    let [v] = &c.virtuals[..] else {
        panic!("one virtual service: {:?}", c.virtuals.len())
    };
    assert_eq!(
        v.address.as_ref().map(|a| a.host.addr),
        v4([10, 10, 0, 100])
    );
    let reals: Vec<IpAddr> = v.servers.iter().map(|s| s.address.addr).collect();
    assert_eq!(
        reals,
        [11, 12, 13].map(|h| IpAddr::from([10, 20, 0, h])).to_vec()
    );
}

#[test]
fn pulse_unit_is_type_notify_with_the_original_paths() {
    let unit = std::fs::read_to_string(etc().join("pulse.service")).expect("unit");
    let lines: Vec<&str> = unit
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    for want in [
        "[Service]",
        "Type=notify",
        "EnvironmentFile=-/etc/sysconfig/pulse",
        "ExecStart=/usr/sbin/pulse $OPTIONS",
        "ExecStopPost=-/usr/sbin/pulse --withdraw $OPTIONS",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "ConditionPathExists=/etc/sysconfig/ha/lvs.cf",
        "WantedBy=multi-user.target",
    ] {
        assert!(lines.contains(&want), "pulse.service lacks {want:?}");
    }
    // pulse stays in the foreground by itself when NOTIFY_SOCKET is set;
    // --nodaemon would also switch logging to stdout and lvsd to
    // --nodaemon.
    let exec = lines.iter().find(|l| l.starts_with("ExecStart=")).unwrap();
    assert!(!exec.contains("-n") && !exec.contains("nodaemon"));
    // The comments tell how to go back to Type=forking.
    assert!(unit.contains("#   Type=forking") && unit.contains("PIDFile=/var/run/pulse.pid"));
}

#[test]
fn installed_lvs_cf_placeholder_parses_and_defines_nothing() {
    let path = etc().join("sysconfig/ha/lvs.cf");
    let parsed = lvscf::parse_file(&path).expect("parses");
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    assert!(parsed.config.virtuals.is_empty() && parsed.config.failovers.is_empty());
    // pulse refuses it with the original message until the admin fills it in.
    let findings = lvscf::validate_for_pulse(&parsed.config, "lvs.cf");
    assert!(
        findings
            .iter()
            .any(|f| f.message == "no active lvs services defined in lvs.cf"),
        "{findings:?}"
    );
}

#[test]
fn sysconfig_pulse_sets_options() {
    let text = std::fs::read_to_string(etc().join("sysconfig/pulse")).expect("sysconfig");
    let assignments: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(assignments, ["OPTIONS=", "LVSD_OPTIONS=", "FOS_OPTIONS="]);
}
