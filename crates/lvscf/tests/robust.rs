//! The parser never panics or hangs, whatever the bytes: non-UTF-8, NUL,
//! a 1 MB line, unterminated quotes, missing braces, 100,000 blocks; and
//! anything it accepts can be written and read back unchanged.

mod common;

use common::resolver;
use lvscf::{ErrorCode, Parsed, WarningKind};
use proptest::prelude::*;

fn parse_bytes(b: &[u8]) -> Result<Parsed, lvscf::ConfigError> {
    lvscf::parse_bytes_with(b, "f.cf", &resolver())
}

/// Parse, and if it parses: write, re-parse, compare.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    match parse_bytes(bytes) {
        Err(e) => {
            prop_assert!(!e.to_string().is_empty());
            // The reported line exists (0 only for an empty file).
            let lines = bytes.split(|&b| b == b'\n' || b == b'\r').count();
            prop_assert!(e.line <= lines, "line {} of {}", e.line, lines);
            prop_assert!(e.line > 0 || bytes.is_empty());
        }
        Ok(p) => {
            let text = lvscf::write(&p.config)
                .map_err(|e| TestCaseError::fail(format!("parsed but not writable: {e}")))?;
            let back = parse_bytes(text.as_bytes())
                .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(&back.config, &p.config);
            let _ = lvscf::to_json(&back.config, lvscf::QuoteMode::default());
        }
    }
    Ok(())
}

/// Lines made of lvs.cf-ish tokens, so the parser gets past line 1.
fn soup_line() -> impl Strategy<Value = Vec<u8>> {
    let tok = prop_oneof![
        prop::sample::select(vec![
            "virtual",
            "failover",
            "server",
            "{",
            "}",
            "=",
            "[",
            "]",
            "#",
            "\"",
            "'",
            "active",
            "address",
            "port",
            "send",
            "expect",
            "weight",
            "primary",
            "backup",
            "backup_private",
            "primary_private",
            "keepalive",
            "pmask",
            "dirs",
            "service",
            "lvs",
            "fos",
            "1",
            "0",
            "-1",
            "0x10",
            "080",
            "10.0.0.1",
            "10.1",
            "0.0.0.0",
            "255.255.255.255",
            "eth0:1",
            "http",
            "lb1.example",
            "\"a b\"",
            "'x y'",
            "\"\"",
            "\"q\"",
            "\\x",
            "\r",
            "\t",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..4),
    ];
    prop::collection::vec(tok, 0..6).prop_map(|ts| ts.join(&b' '))
}

const INT: &[&str] = &["0", "1", "6", "0x10", "010", "-3", "\"\"", "99999999999"];
const BOOL: &[&str] = &["0", "1", "0x1"];
const HOST: &[&str] = &["10.0.0.1", "10.1", "lb1.example", "0x0a000001", "0.0.0.0"];
const MASK: &[&str] = &["255.255.255.0", "0xffffff00", "255.255.255.255", "x"];
const STR: &[&str] = &[
    "x",
    "\"a b\"",
    "'c d'",
    "\"\"",
    "/bin/x",
    "\"say\"hi\"",
    "'GET / \\r\\n'",
];
const PORT: &[&str] = &["80", "http", "0x50", "65535"];

fn pool(kind: char) -> &'static [&'static str] {
    match kind {
        'i' => INT,
        'b' => BOOL,
        'h' => HOST,
        'm' => MASK,
        'p' => PORT,
        'n' => &["nat", "direct", "tunnel"],
        'v' => &["lvs", "fos"],
        'r' => &["nothing", "preempt"],
        'P' => &["tcp", "udp"],
        'S' => &["wlc", "rr", "lblcr", "sh"],
        'd' => &["10.0.0.1 eth0:1", "lb1.example \"eth0 1\""],
        'l' => &["[ a b ]", "[ ]", "[ \"x y\" ] tail"],
        _ => STR,
    }
}

fn key_line(keys: &'static [(&'static str, char)]) -> impl Strategy<Value = String> {
    let any_value = prop::sample::select([INT, BOOL, HOST, MASK, STR, PORT].concat());
    (
        prop::sample::select(keys),
        0..100u32,
        prop::sample::Index::arbitrary(),
        any_value,
    )
        .prop_map(|((k, t), dice, i, other)| {
            let v = if dice < 8 { other } else { *i.get(pool(t)) };
            format!("{k} = {v}")
        })
}

const GLOBAL: &[(&str, char)] = &[
    ("serial_no", 'i'),
    ("service", 'v'),
    ("primary", 'h'),
    ("primary_private", 'h'),
    ("primary_shared", 's'),
    ("backup", 'h'),
    ("backup_private", 'h'),
    ("backup_shared", 's'),
    ("backup_active", 'b'),
    ("heartbeat", 'b'),
    ("heartbeat_port", 'p'),
    ("keepalive", 'i'),
    ("deadtime", 'i'),
    ("network", 'n'),
    ("nat_router", 'd'),
    ("nat_nmask", 'm'),
    ("reservation_conflict_action", 'r'),
    ("debug_level", 's'),
    ("monitor_links", 'i'),
    ("syncdaemon", 'b'),
    ("syncd_iface", 's'),
    ("syncd_id", 'i'),
    ("tcp_timeout", 'i'),
    ("hard_shutdown", 'b'),
    ("active_cmd", 's'),
    ("rsh_command", 's'),
    ("ipvsadm", 's'),
    ("sync", 'b'),
];
const BLOCK: &[(&str, char)] = &[
    ("active", 'b'),
    ("address", 'd'),
    ("vip_nmask", 'm'),
    ("sorry_server", 'h'),
    ("fwmark", 'i'),
    ("port", 'p'),
    ("protocol", 'P'),
    ("scheduler", 'S'),
    ("persistent", 'i'),
    ("pmask", 'm'),
    ("send", 's'),
    ("expect", 's'),
    ("use_regex", 'b'),
    ("send_program", 's'),
    ("load_monitor", 's'),
    ("timeout", 'i'),
    ("reentry", 'i'),
    ("quiesce_server", 'b'),
    ("client_monitor", 's'),
    ("start_cmd", 's'),
    ("stop_cmd", 's'),
    ("master", 'h'),
    ("dirs", 'l'),
];
const SERVER: &[(&str, char)] = &[
    ("address", 'h'),
    ("active", 'b'),
    ("weight", 'i'),
    ("port", 'i'),
];

/// Structured lvs.cf text with mostly well-typed values, the odd wrong
/// value, and occasional garbage lines and missing braces.
fn soup() -> impl Strategy<Value = Vec<u8>> {
    let server = (prop::collection::vec(key_line(SERVER), 0..4), any::<bool>()).prop_map(
        |(lines, close)| {
            let mut s = format!("server s {{\n{}\n", lines.join("\n"));
            if close {
                s.push_str("}\n");
            }
            s
        },
    );
    let block = (
        prop::sample::select(vec!["virtual", "failover"]),
        prop::collection::vec(key_line(BLOCK), 0..8),
        prop::collection::vec(server, 0..3),
        0..20u32,
    )
        .prop_map(|(kw, lines, servers, close)| {
            let mut s = format!(
                "{kw} \"b c\" {{\n{}\n{}",
                lines.join("\n"),
                servers.concat()
            );
            if close > 0 {
                s.push_str("} x\n");
            }
            s
        });
    let garbage = prop::collection::vec(soup_line(), 0..2);
    (
        prop::collection::vec(key_line(GLOBAL), 0..10),
        prop::collection::vec(block, 0..3),
        garbage,
        0..4u32,
        any::<bool>(),
    )
        .prop_map(|(globals, blocks, garbage, where_, crlf)| {
            let mut parts: Vec<Vec<u8>> = globals.iter().map(|l| l.as_bytes().to_vec()).collect();
            parts.extend(blocks.iter().map(|b| b.as_bytes().to_vec()));
            let at = (where_ as usize).min(parts.len());
            for g in garbage {
                parts.insert(at, g);
            }
            let text = parts.join(&b'\n');
            if crlf {
                text.iter()
                    .flat_map(|&b| {
                        if b == b'\n' {
                            vec![b'\r', b'\n']
                        } else {
                            vec![b]
                        }
                    })
                    .collect()
            } else {
                text
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        check(&bytes)?;
    }

    #[test]
    fn token_soup_never_panics(bytes in prop::collection::vec(soup_line(), 0..30)) {
        check(&bytes.join(&b'\n'))?;
    }

    #[test]
    fn structured_input_never_panics_and_what_parses_round_trips(bytes in soup()) {
        check(&bytes)?;
    }
}

#[test]
fn a_one_megabyte_line() {
    let mut line = b"debug_level = ".to_vec();
    line.extend(std::iter::repeat_n(b'x', 1 << 20));
    let p = parse_bytes(&line).unwrap();
    assert_eq!(p.config.global.debug_level.len(), 1 << 20);
    // One megabyte of tokens, and of blanks.
    let many = b"a ".repeat(1 << 19);
    let e = parse_bytes(&[b"keepalive = 1 ".as_slice(), &many].concat()).unwrap_err();
    assert_eq!((e.code, e.line), (ErrorCode::ExtraArgs, 1));
    let blanks = [b"keepalive = 1".as_slice(), &b" ".repeat(1 << 20)].concat();
    assert_eq!(
        parse_bytes(&blanks).unwrap().config.global.keepalive,
        lvscf::Seconds::from_secs(1)
    );
    // One megabyte of quote characters in various arrangements.
    for body in [
        b"\" ".repeat(1 << 19),
        b"\"".repeat(1 << 20),
        b" '".repeat(1 << 19),
    ] {
        let text = [b"send = ".as_slice(), &body].concat();
        let _ = parse_bytes(&text);
    }
}

#[test]
fn unterminated_quote_and_missing_brace() {
    let e = parse_bytes(b"virtual v {\nsend = \"GET / HTTP/1.0\n}\n").unwrap_err();
    assert_eq!((e.code, e.line), (ErrorCode::BadQuoting, 2));
    let p = parse_bytes(b"virtual v {\nactive = 1\n").unwrap();
    assert!(p.config.virtuals[0].active);
    assert_eq!(p.warnings[0].kind, WarningKind::MissingCloseBrace);
}

#[test]
fn nul_bytes_and_invalid_utf8() {
    let e = parse_bytes(b"\0").unwrap_err();
    assert_eq!((e.code, e.line), (ErrorCode::BadArgument, 1));
    let e = parse_bytes(b"# ok\n# \0 in a comment\n").unwrap_err();
    assert_eq!(e.line, 2);
    let e = parse_bytes(b"\xff\xfe = 1\n").unwrap_err();
    assert_eq!((e.code, e.line), (ErrorCode::BadCommand, 1));
    let p = parse_bytes(b"# \xff\xfe\n").unwrap();
    assert!(p.config.virtuals.is_empty());
}

#[test]
fn one_hundred_thousand_blocks() {
    let mut text = String::from("service = lvs\n");
    for i in 0..100_000 {
        text.push_str(&format!("virtual v{i} {{\nactive = 1\n}}\n"));
    }
    let p = parse_bytes(text.as_bytes()).unwrap();
    assert_eq!(p.config.virtuals.len(), 100_000);
    assert_eq!(p.config.virtuals[99_999].line.0, 1 + 3 * 99_999 + 1);
    // Blocks do not nest: the second opener is an unknown command.
    let open = "server s {\n".repeat(100_000);
    let e = parse_bytes(format!("virtual v {{\n{open}").as_bytes()).unwrap_err();
    assert_eq!((e.code, e.line), (ErrorCode::BadCommand, 3));
    let open = "virtual v {\n".repeat(100_000);
    let e = parse_bytes(open.as_bytes()).unwrap_err();
    assert_eq!((e.code, e.line), (ErrorCode::BadCommand, 2));
}
