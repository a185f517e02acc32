//! The three complete examples of lvs-cf.md §14, parsed into full models.

mod common;

use common::{fixture, ip, parse};
use lvscf::{
    AddrDev, BlockKind, Config, Global, Host, Network, QuoteMode, RealServer, Scheduler, Service,
    ServiceType,
};

fn host(s: &str) -> Host {
    Host::addr(ip(s))
}

fn vip(s: &str, dev: &str) -> Option<AddrDev> {
    Some(AddrDev {
        host: host(s),
        device: dev.into(),
    })
}

fn server(name: &str, addr: &str, active: bool, weight: i32, port: u16) -> RealServer {
    RealServer {
        address: host(addr),
        active,
        weight,
        ..RealServer::new(name, port)
    }
}

#[test]
fn nat_two_directors_private_link_sync_daemon_sorry_server() {
    let p = parse(&fixture("nat-two-directors.cf"));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let global = Global {
        serial_no: 12,
        primary: Some(host("203.0.113.10")),
        primary_private: Some(host("10.99.0.1")),
        service: ServiceType::Lvs,
        backup_active: true,
        backup: Some(host("203.0.113.11")),
        backup_private: Some(host("10.99.0.2")),
        heartbeat: true,
        heartbeat_port: 539,
        keepalive: lvscf::Seconds::from_secs(6),
        deadtime: lvscf::Seconds::from_secs(18),
        network: Network::Nat,
        nat_router: vip("192.168.50.254", "eth1:1"),
        nat_nmask: lvscf::Mask::Dotted(ip("255.255.255.0")),
        debug_level: "NONE".into(),
        monitor_links: 0,
        syncdaemon: true,
        syncd_iface: "eth1".into(),
        syncd_id: 7,
        tcp_timeout: 900,
        tcpfin_timeout: 120,
        udp_timeout: 300,
        hard_shutdown: true,
        active_cmd: Some("/etc/sysconfig/ha/active.sh".into()),
        inactive_cmd: Some("/etc/sysconfig/ha/inactive.sh".into()),
        ..Global::default()
    };
    let www = Service {
        active: true,
        address: vip("203.0.113.100", "eth0:1"),
        vip_nmask: lvscf::Mask::Dotted(ip("255.255.255.0")),
        port: 80,
        scheduler: Scheduler::Wlc,
        scheduler_flags: lvscf::SchedulerFlags::default(),
        persistent: 300,
        pmask: lvscf::Mask::Dotted(ip("255.255.255.0")),
        send: Some(r#""GET /health HTTP/1.0\r\n\r\n""#.into()),
        expect: Some(r#""HTTP/1.1 200""#.into()),
        load_monitor: Some("none".into()),
        timeout: 6,
        reentry: 30,
        quiesce_server: true,
        sorry_server: ip("192.168.50.200").into(),
        servers: vec![
            server("web1", "192.168.50.11", true, 10, 80),
            server("web2", "192.168.50.12", true, 20, 80),
        ],
        ..Service::new("www", BlockKind::Virtual)
    };
    let smtp = Service {
        active: true,
        address: vip("203.0.113.101", "eth0:2"),
        vip_nmask: lvscf::Mask::Dotted(ip("255.255.255.0")),
        port: 25,
        expect: Some(r#""220""#.into()),
        scheduler: Scheduler::Rr,
        scheduler_flags: lvscf::SchedulerFlags::default(),
        timeout: 10,
        reentry: 60,
        servers: vec![
            server("mx1", "192.168.50.21", true, 1, 25),
            server("mx2", "192.168.50.22", false, 1, 25),
        ],
        ..Service::new("smtp", BlockKind::Virtual)
    };
    let want = Config {
        global,
        virtuals: vec![www, smtp],
        failovers: vec![],
    };
    assert_eq!(p.config, want);
    let c = &p.config;
    // Line numbers (not part of equality) point at the openers.
    assert_eq!(c.virtuals[0].line.0, 28);
    assert_eq!(c.virtuals[0].servers[0].line.0, 45);
    assert_eq!(c.virtuals[1].line.0, 57);
    assert!(!c.global.private_defaulted);
    // What lvsd passes to nanny (lvs-cf.md §14.1).
    let www = &c.virtuals[0];
    assert_eq!(
        www.send_arg(QuoteMode::KeepSingle),
        Some(r"GET /health HTTP/1.0\r\n\r\n")
    );
    assert_eq!(www.expect_arg(QuoteMode::default()), Some("HTTP/1.1 200"));
    assert_eq!(
        www.persistence_mask(),
        Some(lvscf::Mask::Dotted(ip("255.255.255.0")))
    );
    assert_eq!(www.sorry(), Some(ip("192.168.50.200").into()));
    assert_eq!(c.global.network.method_letter(), 'm');
    assert_eq!(c.selected_services().len(), 2);
}

#[test]
fn direct_routing_fwmark_external_check() {
    let p = parse(&fixture("direct-routing-fwmark.cf"));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let global = Global {
        serial_no: 3,
        primary: Some(host("198.51.100.2")),
        // §9: no primary_private → both private addresses derived.
        primary_private: Some(host("198.51.100.2")),
        backup: Some(host("198.51.100.3")),
        backup_private: Some(host("198.51.100.3")),
        private_defaulted: true,
        service: ServiceType::Lvs,
        backup_active: true,
        heartbeat: true,
        keepalive: lvscf::Seconds::from_secs(2),
        deadtime: lvscf::Seconds::from_secs(10),
        network: Network::Direct,
        monitor_links: 1,
        syncdaemon: false,
        ..Global::default()
    };
    let bundle = Service {
        active: true,
        address: vip("198.51.100.50", "eth0:1"),
        vip_nmask: lvscf::Mask::Dotted(ip("255.255.255.255")),
        fwmark: 80,
        port: 443,
        persistent: 600,
        send_program: Some(r#""/usr/local/sbin/check_https %h %p""#.into()),
        expect: Some(r#""OK""#.into()),
        load_monitor: Some("none".into()),
        timeout: 10,
        reentry: 60,
        servers: vec![
            server("rs1", "198.51.100.21", true, 1, 443),
            server("rs2", "198.51.100.22", true, 1, 443),
        ],
        ..Service::new("web-bundle", BlockKind::Virtual)
    };
    assert_eq!(
        p.config,
        Config {
            global,
            virtuals: vec![bundle],
            failovers: vec![],
        }
    );
    let b = &p.config.virtuals[0];
    assert_eq!(
        b.send_program_arg(QuoteMode::default()),
        Some("/usr/local/sbin/check_https %h %p")
    );
    // persistent > 0 but no pmask: no -M.
    assert_eq!(b.persistence_mask(), None);
    assert_eq!(p.config.global.network.method_letter(), 'g');
}

#[test]
fn failover_services() {
    let p = parse(&fixture("failover-services.cf"));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let global = Global {
        serial_no: 1,
        primary: Some(host("192.0.2.10")),
        primary_private: Some(host("192.0.2.10")),
        backup: Some(host("192.0.2.11")),
        backup_private: Some(host("192.0.2.11")),
        private_defaulted: true,
        service: ServiceType::Fos,
        backup_active: true,
        heartbeat: true,
        heartbeat_port: 539,
        keepalive: lvscf::Seconds::from_secs(2),
        deadtime: lvscf::Seconds::from_secs(6),
        ..Global::default()
    };
    let web = Service {
        active: true,
        address: vip("192.0.2.100", "eth0:1"),
        vip_nmask: lvscf::Mask::Dotted(ip("255.255.255.0")),
        port: 80,
        send: Some(r#""GET / HTTP/1.0\r\n\r\n""#.into()),
        expect: Some(r#""HTTP""#.into()),
        timeout: 5,
        start_cmd: Some(r#""/etc/rc.d/init.d/httpd start""#.into()),
        stop_cmd: Some(r#""/etc/rc.d/init.d/httpd stop""#.into()),
        ..Service::new("web", BlockKind::Failover)
    };
    let ftp = Service {
        active: true,
        address: vip("192.0.2.101", "eth0:2"),
        vip_nmask: lvscf::Mask::Dotted(ip("255.255.255.0")),
        port: 21,
        expect: Some(r#""220""#.into()),
        timeout: 10,
        start_cmd: Some(r#""/etc/rc.d/init.d/vsftpd start""#.into()),
        stop_cmd: Some(r#""/etc/rc.d/init.d/vsftpd stop""#.into()),
        ..Service::new("ftp", BlockKind::Failover)
    };
    assert_eq!(
        p.config,
        Config {
            global,
            virtuals: vec![],
            failovers: vec![web, ftp],
        }
    );
    let c = &p.config;
    assert_eq!(c.selected_services().len(), 2);
    assert_eq!(
        c.failovers[0].start_cmd_arg(QuoteMode::default()),
        Some("/etc/rc.d/init.d/httpd start")
    );
    assert_eq!(
        c.failovers[1].stop_cmd_arg(QuoteMode::KeepSingle),
        Some("/etc/rc.d/init.d/vsftpd stop")
    );
    assert!(lvscf::validate_for_fos(c, "lvs.cf").is_empty());
    assert!(lvscf::validate_for_pulse(c, "lvs.cf").is_empty());
}

#[test]
fn examples_survive_a_write_round_trip() {
    for f in [
        "nat-two-directors.cf",
        "direct-routing-fwmark.cf",
        "failover-services.cf",
    ] {
        let p = parse(&fixture(f));
        let text = lvscf::write(&p.config).unwrap();
        assert_eq!(parse(&text).config, p.config, "{f}:\n{text}");
    }
}
