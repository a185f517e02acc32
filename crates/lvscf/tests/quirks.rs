//! gaps.md section B, one test per item (B1–B14), plus the lexical rules of
//! lvs-cf.md §2–§4 that the items refer to.

mod common;

use common::{assert_error, error, in_virtual, parse, warning_kinds};
use lvscf::{ErrorCode, QuoteMode, WarningKind, translate_escapes};

const SAMPLE: &str = "serial_no = 1\nkeepalive = 4\nvirtual v {\nactive = 1\nport = 81\n}\n";

#[test]
fn b1_crlf_and_cr_files_parse_like_lf_files() {
    let lf = parse(SAMPLE).config;
    assert_eq!(parse(&SAMPLE.replace('\n', "\r\n")).config, lf);
    assert_eq!(parse(&SAMPLE.replace('\n', "\r")).config, lf);
    // Mixed line ends too.
    let mixed = "serial_no = 1\r\nkeepalive = 4\nvirtual v {\ractive = 1\r\nport = 81\n}";
    assert_eq!(parse(mixed).config, lf);
    // A final line without a line end is fine.
    assert_eq!(parse(SAMPLE.trim_end()).config, lf);
}

#[test]
fn b2_trailing_blanks_are_dropped_before_the_quote_rule() {
    let p = parse("active_cmd = \"/bin/x\" \t \nvirtual v {\nsend = \"abc\"  \n}\n");
    assert_eq!(p.config.global.active_cmd.as_deref(), Some("/bin/x"));
    assert_eq!(p.config.virtuals[0].send.as_deref(), Some("\"abc\""));
    // Quoted names with blanks are fine; blank-free quoted tokens must end
    // the line (the original rule, unchanged).
    assert_eq!(
        parse("virtual \"web farm\" {\n}\n").config.virtuals[0].name,
        "web farm"
    );
    assert_error("virtual \"web\" {\n}\n", ErrorCode::BadQuoting, 1);
    assert_error("debug_level = \"abc\" x\n", ErrorCode::BadQuoting, 1);
    // Inside a virtual block the quoting error is code 3, not code 7.
    assert_error(&in_virtual("send = \"abc"), ErrorCode::BadQuoting, 3);
    // `""` is the empty string, and a blank-free value may hold its quote.
    let p = parse(&in_virtual("expect = \"\"\nsend = \"say\"hi\""));
    assert_eq!(
        p.config.virtuals[0].expect_arg(QuoteMode::default()),
        Some("")
    );
    assert_eq!(
        p.config.virtuals[0].send_arg(QuoteMode::default()),
        Some("say\"hi")
    );
    // With inner blanks the first quote after the first blank ends it, and
    // tokenising goes on after the quote.
    let e = error(&in_virtual("send = \"a b\" c\""));
    assert_eq!(e.code, ErrorCode::ExtraArgs);
}

#[test]
fn b3_single_quotes_are_stripped_by_default_and_kept_in_compat_mode() {
    let v = &parse(&in_virtual("send = 'GET /'\nexpect = 'HTTP'"))
        .config
        .virtuals[0];
    assert_eq!(v.send_arg(QuoteMode::StripSingle), Some("GET /"));
    assert_eq!(v.expect_arg(QuoteMode::StripSingle), Some("HTTP"));
    assert_eq!(v.send_arg(QuoteMode::KeepSingle), Some("'GET /'"));
    assert_eq!(v.expect_arg(QuoteMode::KeepSingle), Some("'HTTP'"));
}

#[test]
fn b4_unknown_escapes_are_kept_with_a_warning_and_never_hang() {
    let p = parse(&in_virtual("expect = \"HTTP/1\\.1 200\"\nuse_regex = 1"));
    assert_eq!(warning_kinds(&p), [WarningKind::UnknownEscape]);
    assert_eq!(
        p.warnings[0].to_string(),
        "lvs.cf:3: expect: warning: unknown escape sequence \\. at offset 6 left unchanged; \
         the original nanny hangs on it"
    );
    // One warning per value, however many sequences; known ones are quiet.
    let p = parse(&in_virtual(
        "send = \"a\\xb\\yc\\r\\n\\\"\nexpect = \"ok\\r\\n\"",
    ));
    assert_eq!(warning_kinds(&p), [WarningKind::UnknownEscape]);
    assert_eq!(
        p.warnings[0].to_string(),
        "lvs.cf:3: send: warning: unknown escape sequence \\x at offset 1 left unchanged \
         (and 2 more); the original nanny hangs on it"
    );
    let v = &p.config.virtuals[0];
    assert_eq!(v.send_arg(QuoteMode::default()), Some("a\\xb\\yc\\r\\n\\"));
    let v = &parse(&in_virtual("expect = \"HTTP/1\\.1 200\"\nuse_regex = 1"))
        .config
        .virtuals[0];
    let x = v.expect_arg(QuoteMode::default()).unwrap();
    let t = translate_escapes(x.as_bytes());
    assert_eq!(t.bytes, b"HTTP/1\\.1 200");
    assert_eq!(t.warnings.len(), 1);
    // A trailing lone backslash.
    let t = translate_escapes(b"abc\\");
    assert_eq!(t.bytes, b"abc\\");
    assert!(t.has_unknown());
    // Long runs of unknown sequences stay linear (no hang).
    let big = b"\\x".repeat(500_000);
    let t = translate_escapes(&big);
    assert_eq!(t.bytes, big);
    assert_eq!(t.warnings.len(), 500_000);
}

#[test]
fn b5_silently_accepted_input_is_accepted_with_warnings() {
    // Missing closing brace at end of file.
    let p = parse("virtual v {\nactive = 1\nserver s {\nactive = 1\n");
    assert_eq!(
        warning_kinds(&p),
        [
            WarningKind::MissingCloseBrace,
            WarningKind::MissingCloseBrace
        ]
    );
    assert_eq!(p.warnings[0].line, 3, "the server opened on line 3");
    assert_eq!(p.warnings[1].line, 1, "the virtual opened on line 1");
    assert!(p.config.virtuals[0].servers[0].active);
    // Text after `}`.
    let p = parse("virtual v {\nserver s {\n} junk\n} more junk\n");
    assert_eq!(
        warning_kinds(&p),
        [
            WarningKind::IgnoredTrailingText,
            WarningKind::IgnoredTrailingText
        ]
    );
    assert_eq!((p.warnings[0].line, p.warnings[1].line), (3, 4));
    // Unknown pmask value.
    let p = parse(&in_virtual("pmask = 255.255.255.x"));
    assert_eq!(warning_kinds(&p), [WarningKind::IgnoredPmask]);
    // Zero and negative numbers.
    let p = parse(&in_virtual(
        "timeout = 0\nreentry = -1\nserver s {\nweight = -3\n}\nserver t {\nweight = 0\n}",
    ));
    assert_eq!(
        warning_kinds(&p),
        [WarningKind::SuspiciousNumber; 4],
        "{:?}",
        p.warnings
    );
    assert_eq!(p.config.virtuals[0].servers[0].weight, -3);
    let p = parse("keepalive = 0\ndeadtime = -1\nheartbeat_port = 0\n");
    assert_eq!(warning_kinds(&p), [WarningKind::SuspiciousNumber; 3]);
    assert_eq!(
        p.warnings[0].to_string(),
        "lvs.cf:1: keepalive: warning: value 0: pulse sends heartbeats without pause"
    );
}

#[test]
fn b6_server_port_default_is_order_dependent() {
    let v = &parse(&in_virtual("server a {\n}\nport = 443\nserver b {\n}"))
        .config
        .virtuals[0];
    assert_eq!((v.servers[0].port, v.servers[1].port), (80, 443));
}

#[test]
fn b7_private_address_defaulting_is_kept() {
    let g = parse("primary = 1.1.1.1\nbackup = 2.2.2.2\nbackup_private = 3.3.3.3\n")
        .config
        .global;
    assert_eq!(
        g.backup_private_addr(),
        "2.2.2.2".parse::<std::net::Ipv4Addr>().unwrap()
    );
    // The second case is a pulse check (see validate.rs tests).
}

#[test]
fn b8_ignored_keys_are_parsed_and_never_rejected() {
    let p = parse(
        "heartbeat = 1\ndebug_level = whatever\nserial_no = 9\nsync = 1\n\
         virtual v {\nmaster = 10.0.0.1\ndirs = [ a b ]\n}\n",
    );
    assert!(p.warnings.is_empty());
    assert!(p.config.global.heartbeat && p.config.global.sync);
    assert_eq!(p.config.virtuals[0].dirs.as_ref().unwrap().len(), 2);
}

#[test]
fn b9_documented_but_unknown_keys_stay_fatal_with_the_key_named() {
    for (text, line) in [
        ("debug = NONE\n".to_string(), 1),
        ("nmask = 255.0.0.0\n".to_string(), 1),
        ("mode = x\n".to_string(), 1),
        (in_virtual("expect_program = /x"), 3),
        (in_virtual("heartbeat = 1"), 3),
        (in_virtual("deadtime = 5"), 3),
        (in_virtual("method = nat"), 3),
        (in_virtual("retry = 1"), 3),
        (in_virtual("server s {\nlog_file = /x\n}"), 4),
    ] {
        let e = assert_error(&text, ErrorCode::BadCommand, line);
        let key = e.key.clone().unwrap();
        assert!(e.detail.contains(&format!("unknown key \"{key}\"")), "{e}");
    }
}

#[test]
fn b10_host_names_are_resolved_once_with_a_warning() {
    let p = parse("primary = lb1.example\n");
    assert_eq!(warning_kinds(&p), [WarningKind::HostName]);
    assert!(p.warnings[0].text.contains("lb1.example"));
    assert!(p.warnings[0].text.contains("192.0.2.1"));
    // Literals give no warning.
    assert!(parse("primary = 192.0.2.1\n").warnings.is_empty());
}

#[test]
fn b11_there_is_no_token_limit() {
    let items: Vec<String> = (0..500).map(|i| format!("d{i}")).collect();
    let p = parse(&in_virtual(&format!("dirs = [ {} ]", items.join(" "))));
    assert_eq!(p.config.virtuals[0].dirs.as_ref().unwrap().len(), 500);
    // 120 tokens on a line: the 100th is not dropped (the original stopped at
    // 99 tokens and would have accepted this line).
    let many = vec!["x"; 118].join(" ");
    assert_error(&format!("keepalive = {many}\n"), ErrorCode::ExtraArgs, 1);
    // The writer writes only what the original reads back: 95 items fill
    // its 99 tokens; 96 are refused, not written past the limit.
    let mut c = p.config.clone();
    c.virtuals[0].dirs = Some(items[..95].to_vec());
    let text = lvscf::write(&c).unwrap();
    let line = text.lines().find(|l| l.contains("dirs")).unwrap();
    assert_eq!(line.split_whitespace().count(), 99);
    assert_eq!(parse(&text).config, c);
    c.virtuals[0].dirs = Some(items[..96].to_vec());
    let e = lvscf::write(&c).unwrap_err();
    assert_eq!(e.what, "virtual v: dirs");
    assert!(e.reason.contains("99 tokens"), "{}", e.reason);
}

#[test]
fn b12_out_of_range_integers_are_rejected() {
    let e = assert_error("keepalive = 99999999999\n", ErrorCode::IntExpected, 1);
    assert!(e.detail.contains("from -2147483648 to 2147483647"));
    let e = assert_error(&in_virtual("fwmark = -1"), ErrorCode::IntExpected, 3);
    assert!(e.detail.contains("from 0 to 4294967295"), "{e}");
    assert_error(
        &in_virtual("server s {\nport = 65536\n}"),
        ErrorCode::IntExpected,
        4,
    );
    // In range: accepted, negative weights included (B5).
    assert_eq!(
        parse(&in_virtual("fwmark = 0xffffffff")).config.virtuals[0].fwmark,
        u32::MAX
    );
    assert_eq!(
        parse("keepalive = -2147483648\n").config.global.keepalive,
        lvscf::Seconds::from_secs(i32::MIN)
    );
}

#[test]
fn b13_opener_on_the_last_line_is_an_empty_block_with_a_warning() {
    for text in ["virtual v {", "virtual v {\n", "virtual v {\n\n# c\n"] {
        let p = parse(text);
        assert_eq!(
            warning_kinds(&p),
            [WarningKind::EmptyBlockAtEof],
            "{text:?}"
        );
        assert_eq!(
            p.config.virtuals[0],
            lvscf::Service::new("v", lvscf::BlockKind::Virtual)
        );
    }
    let p = parse("virtual v {\nserver s {");
    assert_eq!(
        warning_kinds(&p),
        [WarningKind::EmptyBlockAtEof, WarningKind::MissingCloseBrace]
    );
    assert_eq!(p.config.virtuals[0].servers.len(), 1);
}

#[test]
fn b14_quote_errors_inside_blocks_are_reported_not_swallowed() {
    // The original parsed `port = 8080 "junk` as `port = 8080`.
    assert_error(&in_virtual("port = 8080 \"junk"), ErrorCode::BadQuoting, 3);
    // ... and a line starting with a bad quote ended the block.
    assert_error(
        &in_virtual("\"send = x\nkeepalive = 2"),
        ErrorCode::BadQuoting,
        3,
    );
}

#[test]
fn lexical_rules() {
    // Comments only at line start; `#` elsewhere is a token character.
    assert_error("keepalive = 6 # six\n", ErrorCode::ExtraArgs, 1);
    let p = parse("  # comment\n\t# comment\ndebug_level = a#b\n");
    assert_eq!(p.config.global.debug_level, "a#b");
    // Only space and tab separate tokens; other control bytes are text.
    assert_error("keepalive = 6\x0c\n", ErrorCode::IntExpected, 1);
    // Tokens after a closing brace are ignored (with a warning).
    assert_eq!(parse("virtual v {\n} x y\n").config.virtuals.len(), 1);
    // Keys are case-sensitive.
    assert_error(&in_virtual("Active = 1"), ErrorCode::BadCommand, 3);
    // A quoted `}` closes a block like the plain one.
    assert_eq!(
        parse("virtual v {\n\"}\"\nkeepalive = 3\n")
            .config
            .global
            .keepalive,
        lvscf::Seconds::from_secs(3)
    );
    // Non-UTF-8 bytes: fine in comments, replaced (with a warning) in
    // names, refused in values.
    let p = lvscf::parse_bytes_with(
        b"# caf\xe9\nvirtual caf\xe9 {\n}\n",
        "x",
        &common::resolver(),
    )
    .unwrap();
    assert_eq!(p.config.virtuals[0].name, "caf\u{fffd}");
    assert_eq!(warning_kinds(&p), [WarningKind::NonUtf8Name]);
    let e =
        lvscf::parse_bytes_with(b"debug_level = caf\xe9\n", "x", &common::resolver()).unwrap_err();
    assert_eq!((e.code, e.line), (ErrorCode::BadArgument, 1));
}
