//! Property tests for the writer: a model written out parses back to an
//! equal model, the text is in the form the original parser accepts, and
//! anything that parses can be written and re-read unchanged.

mod common;

use std::net::Ipv4Addr;

use common::resolver;
use lvscf::{
    AddrDev, BlockKind, Config, ConflictAction, Global, Host, Network, Protocol, RealServer,
    Scheduler, Service, ServiceType,
};
use proptest::prelude::*;

/// A word without blanks that does not start with a quote (written raw).
fn word() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9/._:%#={}\\[-][a-zA-Z0-9/._:%#=\"'{}\\\\-]{0,10}"
}

/// Text with blanks whose quotes, if any, come before the first blank.
fn phrase() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9/\"._-]{0,6}( {1,2}[a-zA-Z0-9/._\\\\']{0,6}){1,3}",
        "[a-zA-Z0-9/'._-]{0,6}(\t[a-zA-Z0-9/._\\\\\"]{0,6}){1,3}",
        " [a-z]{1,4}",
        "[a-z]{1,4} ",
    ]
}

/// Any string a value position can hold (it ends its line).
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => word(),
        2 => phrase(),
        1 => Just(String::new()),
        1 => "[\"'][a-z\"']{0,5}",
    ]
}

/// A block or server name (not at the end of its line).
fn name() -> impl Strategy<Value = String> {
    prop_oneof![3 => word(), 1 => phrase()]
}

/// A value stored with its quotes put back (§3.2).
fn requoted() -> impl Strategy<Value = String> {
    prop_oneof![
        word(),
        (
            "[a-zA-Z0-9/._\"'%-]{0,8}",
            "( [a-zA-Z0-9/._%\\\\-]{0,6}){0,3}"
        )
            .prop_map(|(a, b)| format!("\"{a}{b}\"")),
        (
            "[a-zA-Z0-9/._\"'%-]{0,8}",
            "( [a-zA-Z0-9/._%\\\\-]{0,6}){0,3}"
        )
            .prop_map(|(a, b)| format!("'{a}{b}'")),
    ]
}

fn addr() -> impl Strategy<Value = Ipv4Addr> {
    prop_oneof![
        any::<u32>().prop_map(Ipv4Addr::from),
        Just(Ipv4Addr::UNSPECIFIED),
        Just(Ipv4Addr::BROADCAST),
    ]
}

fn nonzero_addr() -> impl Strategy<Value = Ipv4Addr> {
    (1u32..).prop_map(Ipv4Addr::from)
}

/// A host: a literal, or one of the names the test resolver knows.
fn host_from(a: impl Strategy<Value = Ipv4Addr>) -> impl Strategy<Value = Host> {
    prop_oneof![
        4 => a.prop_map(Host::addr),
        1 => prop::sample::select(vec![("lb1.example", [192, 0, 2, 1]), ("rs1.example", [192, 0, 2, 21])])
            .prop_map(|(n, a)| Host { addr: Ipv4Addr::from(a).into(), name: Some(n.into()) }),
    ]
}

fn addr_dev() -> impl Strategy<Value = AddrDev> {
    (host_from(addr()), value()).prop_map(|(host, device)| AddrDev { host, device })
}

fn global() -> impl Strategy<Value = Global> {
    let hosts = (
        prop::option::of(host_from(nonzero_addr())),
        prop::option::of(host_from(nonzero_addr())),
        prop::option::of(host_from(addr())),
        prop::option::of(host_from(nonzero_addr())),
    );
    let misc = (
        any::<i32>(),
        prop::sample::select(vec![ServiceType::Lvs, ServiceType::Fos]),
        prop::option::of(value()),
        prop::option::of(value()),
        any::<bool>(),
        any::<bool>(),
        any::<u16>(),
        any::<i32>(),
        any::<i32>(),
        prop::sample::select(vec![Network::Nat, Network::Direct, Network::Tunnel]),
        prop::option::of(addr_dev()),
        addr(),
    );
    let rest = (
        prop::option::of(prop::sample::select(vec![
            ConflictAction::Nothing,
            ConflictAction::Preempt,
        ])),
        value(),
        any::<i32>(),
        any::<bool>(),
        value(),
        any::<i32>(),
        (any::<i32>(), any::<i32>(), any::<i32>()),
        any::<bool>(),
        prop::option::of(value()),
        prop::option::of(value()),
        (value(), value()),
        any::<bool>(),
    );
    (hosts, misc, rest).prop_map(|(h, m, r)| {
        let (primary, primary_private, backup, backup_private) = h;
        let mut g = Global {
            serial_no: m.0,
            service: m.1,
            primary,
            primary_private,
            primary_shared: m.2,
            backup,
            backup_private,
            private_defaulted: false,
            backup_shared: m.3,
            backup_active: m.4,
            heartbeat: m.5,
            heartbeat_port: m.6,
            keepalive: lvscf::Seconds::from_secs(m.7),
            deadtime: lvscf::Seconds::from_secs(m.8),
            network: m.9,
            nat_router: m.10,
            nat_nmask: lvscf::Mask::Dotted(m.11),
            nat_router6: None,
            nat_nmask6: lvscf::Mask::NONE,
            reservation_conflict_action: r.0,
            debug_level: r.1,
            monitor_links: r.2,
            syncdaemon: r.3,
            syncd_iface: r.4,
            syncd_id: r.5,
            tcp_timeout: r.6.0,
            tcpfin_timeout: r.6.1,
            udp_timeout: r.6.2,
            hard_shutdown: r.7,
            active_cmd: r.8,
            inactive_cmd: r.9,
            rsh_command: r.10.0,
            ipvsadm: r.10.1,
            sync: r.11,
            scale_out: false,
            scale_out_members: Vec::new(),
            announce_device: None,
            announce_hold: None,
        };
        // §9: a primary without primary_private derives both.
        if g.primary.is_some() && g.primary_private.is_none() {
            g.private_defaulted = true;
            g.primary_private = g.primary.clone();
            g.backup_private = g.backup.clone();
        }
        g
    })
}

fn server() -> impl Strategy<Value = RealServer> {
    (
        name(),
        host_from(addr()),
        any::<bool>(),
        any::<i32>(),
        any::<u16>(),
    )
        .prop_map(|(name, address, active, weight, port)| RealServer {
            address,
            active,
            weight,
            ..RealServer::new(name, port)
        })
}

fn service(kind: BlockKind) -> impl Strategy<Value = Service> {
    let a = (
        name(),
        any::<bool>(),
        prop::option::of(addr_dev()),
        addr(),
        addr(),
        any::<u32>(),
        any::<u16>(),
        prop::sample::select(vec![Protocol::Tcp, Protocol::Udp]),
        prop::sample::select(Scheduler::ALL.to_vec()),
        any::<i32>(),
        addr(),
    );
    let b = (
        prop::option::of(requoted()),
        prop::option::of(requoted()),
        any::<bool>(),
        prop::option::of(requoted()),
        prop::option::of(value()),
        any::<i32>(),
        any::<i32>(),
        any::<bool>(),
        value(),
        (prop::option::of(requoted()), prop::option::of(requoted())),
        prop::option::of(host_from(addr())),
        prop::option::of(prop::collection::vec(
            name().prop_filter("] ends a list", |s| s != "]"),
            0..4,
        )),
    );
    (a, b, prop::collection::vec(server(), 0..4)).prop_map(move |(a, b, servers)| Service {
        name: a.0,
        kind,
        line: lvscf::Line(0),
        active: a.1,
        address: a.2,
        vip_nmask: lvscf::Mask::Dotted(a.3),
        sorry_server: a.4.into(),
        fwmark: a.5,
        port: a.6,
        protocol: a.7,
        scheduler: a.8,
        scheduler_flags: lvscf::SchedulerFlags::default(),
        persistent: a.9,
        pmask: lvscf::Mask::Dotted(a.10),
        send: b.0,
        expect: b.1,
        use_regex: b.2,
        send_program: b.3,
        load_monitor: b.4,
        timeout: b.5,
        reentry: b.6,
        quiesce_server: b.7,
        client_monitor: b.8,
        start_cmd: b.9.0,
        stop_cmd: b.9.1,
        master: b.10,
        dirs: b.11,
        servers,
    })
}

fn config() -> impl Strategy<Value = Config> {
    (
        global(),
        prop::collection::vec(service(BlockKind::Virtual), 0..3),
        prop::collection::vec(service(BlockKind::Failover), 0..2),
    )
        .prop_map(|(global, virtuals, failovers)| Config {
            global,
            virtuals,
            failovers,
        })
}

/// What the original parser needs from the text beyond parsing back: LF
/// line ends only, no trailing blanks, nothing after a quoted word without
/// blanks, `port` before the `server` blocks of its block.
fn assert_original_form(text: &str) {
    assert!(!text.contains('\r'));
    for line in text.lines() {
        assert!(!line.ends_with([' ', '\t']), "trailing blank: {line:?}");
    }
    let mut seen_server = false;
    for line in text.lines() {
        if !line.starts_with(' ') {
            seen_server = false;
        } else if line.starts_with("    server ") {
            seen_server = true;
        } else if line.starts_with("    port = ") {
            assert!(!seen_server, "block port after a server block:\n{text}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn written_models_parse_back_equal(cfg in config()) {
        let text = lvscf::write(&cfg).map_err(|e| TestCaseError::fail(e.to_string()))?;
        assert_original_form(&text);
        let back = lvscf::parse_bytes_with(text.as_bytes(), "w.cf", &resolver())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&back.config, &cfg, "text:\n{}", text);
        // The canonical form is a fixed point.
        prop_assert_eq!(lvscf::write(&back.config).unwrap(), text);
    }
}

/// One way to mess up a line's layout without changing its meaning.
#[derive(Debug, Clone)]
struct Mess {
    indent: String,
    around_eq: (String, String),
    comment_before: bool,
    blank_before: bool,
    crlf: bool,
}

fn blanks(min: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof![Just(' '), Just('\t')], min..4)
        .prop_map(|v| v.into_iter().collect())
}

fn mess() -> impl Strategy<Value = Mess> {
    (
        blanks(0),
        blanks(1),
        blanks(1),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(indent, l, r, comment_before, blank_before, crlf)| Mess {
            indent,
            around_eq: (l, r),
            comment_before,
            blank_before,
            crlf,
        })
}

/// `text` with every line re-laid-out by `messes` (cycled) and numbered
/// comments (`# cN`) put in; returns the text and the comments.
fn messed_up(text: &str, messes: &[Mess]) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut comments = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let m = &messes[i % messes.len()];
        let eol = if m.crlf { "\r\n" } else { "\n" };
        if m.blank_before {
            out.push_str(eol);
        }
        if m.comment_before {
            let c = format!("# c{i}");
            out.push_str(&format!("{}{c}{eol}", m.indent));
            comments.push(c);
        }
        let body = line.trim_start();
        let body = match body.split_once(" = ") {
            Some((k, v)) => format!("{k}{}={}{v}", m.around_eq.0, m.around_eq.1),
            None => body.to_string(),
        };
        out.push_str(&format!("{}{body}{eol}", m.indent));
    }
    (out, comments)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// `lvscf fmt` keeps the meaning and the comments of any valid file,
    /// gives canonical text, and is idempotent.
    #[test]
    fn format_keeps_meaning_and_comments(
        cfg in config(),
        messes in proptest::collection::vec(mess(), 1..8),
    ) {
        let text = lvscf::write(&cfg).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let (messy, comments) = messed_up(&text, &messes);
        let parse = |t: &[u8]| lvscf::parse_bytes_with(t, "f.cf", &resolver());
        let before = parse(messy.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{messy}")))?;
        prop_assert_eq!(&before.config, &cfg);
        let formatted = lvscf::format(messy.as_bytes());
        let formatted_text = String::from_utf8(formatted.clone()).unwrap();
        let after = parse(&formatted)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{formatted_text}")))?;
        prop_assert_eq!(&after.config, &cfg, "formatted:\n{}", formatted_text);
        assert_original_form(&formatted_text);
        for c in &comments {
            prop_assert!(formatted_text.contains(c.as_str()), "{} lost:\n{}", c, formatted_text);
        }
        prop_assert_eq!(lvscf::format(&formatted), formatted);
    }
}

#[test]
fn port_comes_before_the_servers_of_its_block() {
    let mut s = Service::new("v", BlockKind::Virtual);
    s.port = 8080;
    s.servers.push(RealServer::new("a", 8080));
    s.servers.push(RealServer::new("b", 80));
    let cfg = Config {
        virtuals: vec![s],
        ..Config::default()
    };
    let text = lvscf::write(&cfg).unwrap();
    let port_at = text.find("    port = 8080").unwrap();
    let server_at = text.find("server a {").unwrap();
    assert!(port_at < server_at, "{text}");
    assert!(text.contains("server b {\n        address = 0.0.0.0\n        active = 0\n        weight = 1\n        port = 80\n    }"), "{text}");
    let back = common::parse(&text).config;
    assert_eq!(back, cfg);
}

#[test]
fn unwritable_models_are_refused_with_the_field_named() {
    let mut cfg = Config::default();
    cfg.global.primary = Some(Host::addr(Ipv4Addr::UNSPECIFIED));
    cfg.global.primary_private = Some(Host::addr(Ipv4Addr::LOCALHOST));
    let e = lvscf::write(&cfg).unwrap_err();
    assert_eq!(e.what, "primary");
    let mut cfg = Config::default();
    cfg.global.debug_level = "a\nb".into();
    assert_eq!(lvscf::write(&cfg).unwrap_err().what, "debug_level");
    let mut s = Service::new("web", BlockKind::Virtual);
    s.send = Some("\"unbalanced".into());
    let cfg = Config {
        virtuals: vec![s],
        ..Config::default()
    };
    let e = lvscf::write(&cfg).unwrap_err();
    assert_eq!(e.what, "virtual web: send");
    let mut s = Service::new("", BlockKind::Virtual);
    s.active = true;
    let cfg = Config {
        virtuals: vec![s],
        ..Config::default()
    };
    assert_eq!(lvscf::write(&cfg).unwrap_err().what, "virtual : name");
    let mut cfg = Config::default();
    cfg.global.primary = Some(Host::addr(Ipv4Addr::LOCALHOST));
    assert_eq!(lvscf::write(&cfg).unwrap_err().what, "primary_private");
}
