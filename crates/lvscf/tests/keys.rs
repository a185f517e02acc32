//! Every global, virtual/failover and server key (lvs-cf.md §5–§9): syntax,
//! defaults and stored value.

mod common;

use std::net::Ipv4Addr;

use common::{in_virtual, ip, parse};
use lvscf::{
    AddrDev, BlockKind, ConflictAction, Global, Host, Mask, Network, Protocol, RealServer,
    Scheduler, Service, ServiceType, WarningKind,
};

#[test]
fn defaults_when_absent() {
    let p = parse("# nothing but a comment\n");
    let g = &p.config.global;
    assert_eq!(*g, Global::default());
    assert_eq!(g.serial_no, 0);
    assert_eq!(g.service, ServiceType::Lvs);
    assert_eq!(g.primary, None);
    assert_eq!(g.primary_addr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(g.backup_addr(), Ipv4Addr::UNSPECIFIED);
    assert!(!g.backup_active && !g.heartbeat && !g.syncdaemon && !g.sync);
    assert_eq!(g.heartbeat_port, 539);
    assert_eq!(
        (g.keepalive, g.deadtime),
        (lvscf::Seconds::from_secs(2), lvscf::Seconds::from_secs(5))
    );
    assert_eq!(g.network, Network::Nat);
    assert_eq!(g.nat_router, None);
    assert_eq!(g.nat_nmask, Mask::NONE);
    assert_eq!(g.reservation_conflict_action, None);
    assert_eq!(g.debug_level, "NONE");
    assert_eq!(g.monitor_links, 0);
    assert_eq!(g.syncd_iface, "eth0");
    assert_eq!(g.syncd_id, 0);
    assert_eq!((g.tcp_timeout, g.tcpfin_timeout, g.udp_timeout), (0, 0, 0));
    assert!(g.hard_shutdown);
    assert_eq!((g.active_cmd.clone(), g.inactive_cmd.clone()), (None, None));
    assert_eq!(g.rsh_command, "rsh");
    assert_eq!(g.ipvsadm, "/sbin/ipvsadm");
    assert!(!g.private_defaulted);

    let p = parse("virtual v {\nserver s {\n}\n}\n");
    let v = &p.config.virtuals[0];
    assert_eq!(*v, {
        let mut s = Service::new("v", BlockKind::Virtual);
        s.servers.push(RealServer::new("s", 80));
        s
    });
    assert!(!v.active);
    assert_eq!(v.address, None);
    assert_eq!(v.vip(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(v.device(), None);
    assert_eq!(v.port, 80);
    assert_eq!(v.protocol, Protocol::Tcp);
    assert_eq!(v.scheduler, Scheduler::Wlc);
    assert_eq!(
        (v.timeout, v.reentry, v.persistent, v.fwmark),
        (10, 180, 0, 0)
    );
    assert_eq!(v.client_monitor, "/usr/sbin/nanny");
    assert_eq!(v.load_monitor, None);
    assert_eq!(v.sorry(), None);
    let s = &v.servers[0];
    assert_eq!(s.address, Host::addr(Ipv4Addr::UNSPECIFIED));
    assert!(!s.active);
    assert_eq!((s.weight, s.port), (1, 80));
}

#[test]
fn every_global_key() {
    let text = "\
serial_no = 0x10
service = fos
primary = 10.0.0.1
primary_private = 10.1.0.1
primary_shared = /dev/sdb
backup = 10.0.0.2
backup_private = 10.1.0.2
backup_shared = /dev/sdc
backup_active = 1
heartbeat = 1
heartbeat_port = http
keepalive = 3
deadtime = 010
network = tunnel
nat_router = 192.168.1.254 eth1:1
nat_nmask = 255.255.255.0
reservation_conflict_action = preempt
debug_level = HIGH
monitor_links = 7
syncdaemon = 1
syncd_iface = eth2
syncd_id = 300
tcp_timeout = 900
tcpfin_timeout = 120
udp_timeout = 300
hard_shutdown = 0
active_cmd = \"/usr/local/bin/hook a b\"
inactive_cmd = /usr/local/bin/down
rsh_command = ssh
ipvsadm = /usr/sbin/ipvsadm
sync = 1
";
    let p = parse(text);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let want = Global {
        serial_no: 16,
        service: ServiceType::Fos,
        primary: Some(Host::addr(ip("10.0.0.1"))),
        primary_private: Some(Host::addr(ip("10.1.0.1"))),
        primary_shared: Some("/dev/sdb".into()),
        backup: Some(Host::addr(ip("10.0.0.2"))),
        backup_private: Some(Host::addr(ip("10.1.0.2"))),
        private_defaulted: false,
        backup_shared: Some("/dev/sdc".into()),
        backup_active: true,
        heartbeat: true,
        heartbeat_port: 80,
        keepalive: lvscf::Seconds::from_secs(3),
        deadtime: lvscf::Seconds::from_secs(8),
        network: Network::Tunnel,
        nat_router: Some(AddrDev {
            host: Host::addr(ip("192.168.1.254")),
            device: "eth1:1".into(),
        }),
        nat_nmask: Mask::Dotted(ip("255.255.255.0")),
        nat_router6: None,
        nat_nmask6: Mask::NONE,
        reservation_conflict_action: Some(ConflictAction::Preempt),
        debug_level: "HIGH".into(),
        monitor_links: 7,
        syncdaemon: true,
        syncd_iface: "eth2".into(),
        syncd_id: 300,
        tcp_timeout: 900,
        tcpfin_timeout: 120,
        udp_timeout: 300,
        hard_shutdown: false,
        // Quotes are simply removed for keys other than the five of §3.2.
        active_cmd: Some("/usr/local/bin/hook a b".into()),
        inactive_cmd: Some("/usr/local/bin/down".into()),
        rsh_command: "ssh".into(),
        ipvsadm: "/usr/sbin/ipvsadm".into(),
        sync: true,
        scale_out: false,
        scale_out_members: Vec::new(),
        announce_device: None,
        announce_hold: None,
    };
    assert_eq!(p.config.global, want);
    assert!(p.config.global.shared_scsi());
    assert_eq!(p.config.global.network.method_letter(), 'i');
}

#[test]
fn enumerated_values() {
    for (v, want) in [
        ("nat", Network::Nat),
        ("direct", Network::Direct),
        ("tunnel", Network::Tunnel),
    ] {
        assert_eq!(
            parse(&format!("network = {v}\n")).config.global.network,
            want
        );
        assert_eq!(want.as_str(), v);
    }
    for (v, want) in [
        ("nothing", ConflictAction::Nothing),
        ("preempt", ConflictAction::Preempt),
    ] {
        let g = parse(&format!("reservation_conflict_action = {v}\n"))
            .config
            .global;
        assert_eq!(g.reservation_conflict_action, Some(want));
    }
    for s in Scheduler::ALL {
        let p = parse(&in_virtual(&format!("scheduler = {}", s.as_str())));
        assert_eq!(p.config.virtuals[0].scheduler, s);
    }
    assert_eq!(
        Scheduler::ALL.map(|s| s.as_str()),
        ["lc", "rr", "wlc", "wrr", "lblc", "lblcr", "dh", "sh"]
    );
    for (v, want) in [("tcp", Protocol::Tcp), ("udp", Protocol::Udp)] {
        assert_eq!(
            parse(&in_virtual(&format!("protocol = {v}")))
                .config
                .virtuals[0]
                .protocol,
            want
        );
    }
}

#[test]
fn every_virtual_key() {
    let text = in_virtual(
        "\
active = 1
address = 10.0.0.100 eth0:1
vip_nmask = 255.255.255.0
sorry_server = 10.0.0.200
fwmark = 4294967295
port = smtp
protocol = udp
scheduler = lblcr
persistent = 600
pmask = 255.255.0.0
send = \"HELO x\\r\\n\"
expect = '220 ok'
use_regex = 1
send_program = \"/bin/check %h %p\"
load_monitor = uptime
timeout = 7
reentry = 70
quiesce_server = 1
client_monitor = /usr/local/sbin/nanny
start_cmd = \"/etc/init.d/x start\"
stop_cmd = /etc/init.d/x-stop
master = 10.0.0.9
dirs = [ /a \"/b c\" ]
server rs {
address = 10.0.0.11
active = 1
weight = 5
port = 2525
}",
    );
    let p = parse(&text);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let want = Service {
        active: true,
        address: Some(AddrDev {
            host: Host::addr(ip("10.0.0.100")),
            device: "eth0:1".into(),
        }),
        vip_nmask: Mask::Dotted(ip("255.255.255.0")),
        sorry_server: ip("10.0.0.200").into(),
        fwmark: u32::MAX,
        port: 25,
        protocol: Protocol::Udp,
        scheduler: Scheduler::Lblcr,
        scheduler_flags: lvscf::SchedulerFlags::default(),
        persistent: 600,
        pmask: Mask::Dotted(ip("255.255.0.0")),
        send: Some("\"HELO x\\r\\n\"".into()),
        expect: Some("'220 ok'".into()),
        use_regex: true,
        send_program: Some("\"/bin/check %h %p\"".into()),
        load_monitor: Some("uptime".into()),
        timeout: 7,
        reentry: 70,
        quiesce_server: true,
        client_monitor: "/usr/local/sbin/nanny".into(),
        start_cmd: Some("\"/etc/init.d/x start\"".into()),
        stop_cmd: Some("/etc/init.d/x-stop".into()),
        master: Some(Host::addr(ip("10.0.0.9"))),
        dirs: Some(vec!["/a".into(), "/b c".into()]),
        servers: vec![RealServer {
            address: Host::addr(ip("10.0.0.11")),
            active: true,
            weight: 5,
            port: 2525,
            ..RealServer::new("rs", 25)
        }],
        ..Service::new("v", BlockKind::Virtual)
    };
    assert_eq!(p.config.virtuals[0], want);
    let v = &p.config.virtuals[0];
    assert_eq!(v.vip(), ip("10.0.0.100"));
    assert_eq!(v.device(), Some("eth0:1"));
    assert_eq!(v.persistence_mask(), Some(Mask::Dotted(ip("255.255.0.0"))));
}

#[test]
fn failover_blocks_accept_the_same_keys_and_go_to_their_own_list() {
    let text = "failover f {\nactive = 1\nport = 21\nscheduler = rr\nserver ignored {\nweight = 3\n}\n}\n\
                virtual v {\n}\nfailover g {\n}\n";
    let c = parse(text).config;
    assert_eq!(c.failovers.len(), 2);
    assert_eq!(c.virtuals.len(), 1);
    assert_eq!(c.failovers[0].kind, BlockKind::Failover);
    assert_eq!(c.failovers[0].scheduler, Scheduler::Rr);
    assert_eq!(c.failovers[0].servers[0].weight, 3);
    assert_eq!(c.failovers[0].servers[0].port, 21);
    assert_eq!(c.virtuals[0].kind, BlockKind::Virtual);
    assert_eq!(c.failovers[1].name, "g");
    // `service` picks the list.
    assert_eq!(c.selected_services()[0].name, "v");
}

#[test]
fn integer_syntax_is_strtol_base_0() {
    for (v, want) in [
        ("10", 10),
        ("0x1e", 30),
        ("017", 15),
        ("-5", -5),
        ("+4", 4),
        ("\"\"", 0),
        ("\"12\"", 12),
    ] {
        let p = parse(&format!("serial_no = {v}\n"));
        assert_eq!(p.config.global.serial_no, want, "{v}");
    }
    // A boolean is an integer equal to 0 or 1.
    assert!(parse("backup_active = 0x1\n").config.global.backup_active);
    assert!(!parse("backup_active = 00\n").config.global.backup_active);
}

#[test]
fn hosts_accept_inet_aton_forms_and_resolved_names() {
    for (v, want) in [
        ("10.1", "10.0.0.1"),
        ("0x0a000002", "10.0.0.2"),
        ("012.0.0.3", "10.0.0.3"),
        ("167772164", "10.0.0.4"),
    ] {
        let p = parse(&format!("primary = {v}\n"));
        assert_eq!(p.config.global.primary, Some(Host::addr(ip(want))), "{v}");
        assert!(p.warnings.is_empty());
    }
    let p = parse("primary = lb1.example\nbackup = lb2.example\n");
    let g = &p.config.global;
    assert_eq!(
        g.primary,
        Some(Host {
            addr: ip("192.0.2.1").into(),
            name: Some("lb1.example".into())
        })
    );
    assert_eq!(g.backup_addr(), ip("192.0.2.2"));
    // B10: each name is reported.
    assert_eq!(
        common::warning_kinds(&p),
        [WarningKind::HostName, WarningKind::HostName]
    );
    assert_eq!(p.warnings[0].line, 1);
    assert_eq!(p.warnings[1].line, 2);
    let p = parse(&in_virtual(
        "address = lb1.example eth0:1\nserver s {\naddress = rs1.example\n}",
    ));
    assert_eq!(p.config.virtuals[0].vip(), ip("192.0.2.1"));
    assert_eq!(
        p.config.virtuals[0].servers[0].address.addr,
        ip("192.0.2.21")
    );
    // Masks and sorry_server take inet_aton forms too.
    let p = parse(&in_virtual("vip_nmask = 0xffffff00\nsorry_server = 10.9"));
    assert_eq!(
        p.config.virtuals[0].vip_nmask,
        Mask::Dotted(ip("255.255.255.0"))
    );
    assert_eq!(p.config.virtuals[0].sorry_server, ip("10.0.0.9"));
}

#[test]
fn system_resolver_uses_the_services_database_and_the_host_resolver() {
    // Service names resolve through /etc/services with protocol tcp.
    let p = lvscf::parse_str(
        "heartbeat_port = http\nvirtual v {\nport = smtp\n}\n",
        "x.cf",
    )
    .unwrap();
    assert_eq!(p.config.global.heartbeat_port, 80);
    assert_eq!(p.config.virtuals[0].port, 25);
    // Host names through the system resolver (localhost is in /etc/hosts).
    let p = lvscf::parse_str("primary = localhost\n", "x.cf").unwrap();
    assert_eq!(p.config.global.primary_addr(), Ipv4Addr::LOCALHOST);
    assert_eq!(p.warnings[0].kind, WarningKind::HostName);
    // A services file of our own.
    let dir = tempfile::tempdir().unwrap();
    let services = dir.path().join("services");
    std::fs::write(&services, "weird 4242/tcp alias\nudponly 99/udp\n").unwrap();
    let r = lvscf::SystemResolver::with_services_file(&services);
    let p = lvscf::parse_bytes_with(b"heartbeat_port = alias\n", "x.cf", &r).unwrap();
    assert_eq!(p.config.global.heartbeat_port, 4242);
    assert!(lvscf::parse_bytes_with(b"heartbeat_port = udponly\n", "x.cf", &r).is_err());
}

#[test]
fn last_occurrence_of_a_scalar_key_wins_and_blocks_repeat() {
    let p =
        parse("keepalive = 3\nkeepalive = 4\nvirtual a {\nport = 1\nport = 2\n}\nvirtual a {\n}\n");
    assert_eq!(p.config.global.keepalive, lvscf::Seconds::from_secs(4));
    assert_eq!(p.config.virtuals[0].port, 2);
    assert_eq!(p.config.virtuals.len(), 2);
    assert_eq!(p.config.virtuals[1].name, "a");
}

#[test]
fn server_port_is_the_block_port_at_the_server_line() {
    // B6: order-dependent, kept.
    let p = parse(&in_virtual(
        "server early {\n}\nport = 8080\nserver late {\n}\nserver own {\nport = 9\n}\nport = https",
    ));
    let v = &p.config.virtuals[0];
    assert_eq!(v.port, 443);
    let ports: Vec<(&str, u16)> = v
        .servers
        .iter()
        .map(|s| (s.name.as_str(), s.port))
        .collect();
    assert_eq!(ports, [("early", 80), ("late", 8080), ("own", 9)]);
}

#[test]
fn private_addresses_follow_section_9() {
    // primary without primary_private: both derived, an explicit
    // backup_private is overwritten with backup (B7: keep), with a warning.
    let p = parse("primary = 10.0.0.1\nbackup = 10.0.0.2\nbackup_private = 10.1.0.2\n");
    let g = &p.config.global;
    assert!(g.private_defaulted);
    assert_eq!(g.primary_private_addr(), ip("10.0.0.1"));
    assert_eq!(g.backup_private_addr(), ip("10.0.0.2"));
    assert_eq!(
        common::warning_kinds(&p),
        [WarningKind::OverwrittenBackupPrivate]
    );
    assert_eq!(p.warnings[0].line, 3);
    // ... also to "none" when there is no backup.
    let g = parse("primary = 10.0.0.1\nbackup_private = 10.1.0.2\n")
        .config
        .global;
    assert_eq!(g.backup_private, None);
    // primary_private given: nothing derived; backup_private stays unset.
    let g = parse("primary = 10.0.0.1\nprimary_private = 10.1.0.1\nbackup = 10.0.0.2\n")
        .config
        .global;
    assert!(!g.private_defaulted);
    assert_eq!(g.backup_private, None);
    assert_eq!(g.backup_private_addr(), Ipv4Addr::UNSPECIFIED);
    // Without primary nothing is derived.
    let g = parse("backup = 10.0.0.2\n").config.global;
    assert!(!g.private_defaulted);
    assert_eq!(g.primary_private, None);
    // The order of the keys does not matter.
    let g = parse("backup_private = 10.1.0.2\nbackup = 10.0.0.2\nprimary = 10.0.0.1\n")
        .config
        .global;
    assert_eq!(g.backup_private_addr(), ip("10.0.0.2"));
    // backup = 0.0.0.0 is accepted and means no backup.
    let g = parse("backup = 0.0.0.0\n").config.global;
    assert_eq!(g.backup, Some(Host::addr(Ipv4Addr::UNSPECIFIED)));
}

#[test]
fn pmask_quirks() {
    let pm = |lines: &str| parse(&in_virtual(lines));
    // The literal 255.255.255.255 means none; other spellings of it do not.
    assert_eq!(
        pm("pmask = 255.255.255.255").config.virtuals[0].pmask,
        Mask::NONE
    );
    assert_eq!(
        pm("pmask = 0xffffffff").config.virtuals[0].pmask,
        Mask::Dotted(Ipv4Addr::BROADCAST)
    );
    // An unparsable value is ignored (keeps the previous one), with a warning.
    let p = pm("pmask = 255.255.0.0\npmask = junk");
    assert_eq!(p.config.virtuals[0].pmask, Mask::Dotted(ip("255.255.0.0")));
    assert_eq!(common::warning_kinds(&p), [WarningKind::IgnoredPmask]);
    assert_eq!(p.warnings[0].line, 4);
    // Used only with persistent > 0.
    assert_eq!(
        pm("pmask = 255.255.0.0").config.virtuals[0].persistence_mask(),
        None
    );
}

#[test]
fn requoted_keys_store_their_quotes_and_others_do_not() {
    let p = parse(&in_virtual(
        "send = 'GET /'\nexpect = \"say\"hi\"\nsend_program = '/usr/bin/chk %h'\nstart_cmd = \"\"\n\
         stop_cmd = plain\nload_monitor = \"rup\"\nclient_monitor = '/x y'",
    ));
    let v = &p.config.virtuals[0];
    assert_eq!(v.send.as_deref(), Some("'GET /'"));
    assert_eq!(v.expect.as_deref(), Some("\"say\"hi\""));
    assert_eq!(v.send_program.as_deref(), Some("'/usr/bin/chk %h'"));
    assert_eq!(v.start_cmd.as_deref(), Some("\"\""));
    assert_eq!(v.stop_cmd.as_deref(), Some("plain"));
    assert_eq!(v.load_monitor.as_deref(), Some("rup"));
    assert_eq!(v.client_monitor, "/x y");
    use lvscf::QuoteMode::{KeepSingle, StripSingle};
    // B3: the original keeps single quotes; the fix strips them.
    assert_eq!(v.send_arg(KeepSingle), Some("'GET /'"));
    assert_eq!(v.send_arg(StripSingle), Some("GET /"));
    assert_eq!(v.send_program_arg(KeepSingle), Some("'/usr/bin/chk %h'"));
    assert_eq!(v.send_program_arg(StripSingle), Some("/usr/bin/chk %h"));
    assert_eq!(v.expect_arg(KeepSingle), Some("say\"hi"));
    assert_eq!(v.start_cmd_arg(StripSingle), Some(""));
    assert_eq!(v.stop_cmd_arg(StripSingle), Some("plain"));
}
