//! Every error code (lvs-cf.md §11) with the line it is reported on, and the
//! message format `FILE:LINE: KEY: expected …, found … (ORIGINAL TEXT)`.

mod common;

use common::{assert_error, error, in_virtual};
use lvscf::{ErrorCode, LoadError};

#[test]
fn codes_values_and_texts_match_lvsconfig_h() {
    let table = [
        (ErrorCode::Stat, 0x4000_0001, "Empty configuration"),
        (
            ErrorCode::Read,
            0x4000_0002,
            "I/O error while reading configuration",
        ),
        (ErrorCode::BadQuoting, 1_073_741_827, "quotation mismatch"),
        (ErrorCode::Eof, 4, "unexpected end of file"),
        (ErrorCode::ExtraArgs, 5, "unexpected arguments"),
        (
            ErrorCode::EqualExpected,
            6,
            "equal (=) expected after command",
        ),
        (ErrorCode::MissingArgs, 7, "missing arguments"),
        (ErrorCode::BadHostname, 8, "invalid host name or ip address"),
        (ErrorCode::BadArgument, 9, "invalid argument"),
        (ErrorCode::IntExpected, 10, "integer expected"),
        (ErrorCode::BoolExpected, 11, "boolean expected"),
        (ErrorCode::BadCommand, 12, "unknown command"),
        (ErrorCode::ListExpected, 13, "list expected"),
        (ErrorCode::TooManyArgs, 14, "unknown error"),
        (
            ErrorCode::OnlyOneService,
            15,
            "Cannot use both virtual AND failover services",
        ),
        (ErrorCode::BadNetmask, 16, "Bad subnet mask specified"),
    ];
    assert_eq!(table.len(), ErrorCode::ALL.len());
    for ((code, value, text), all) in table.iter().zip(ErrorCode::ALL) {
        assert_eq!(*code, all);
        assert_eq!(code.value(), *value, "{code:?}");
        assert_eq!(code.message(), *text, "{code:?}");
        assert!(code.symbol().starts_with("LVS_ERROR_"));
    }
}

#[test]
fn empty_file_is_stat_on_line_0() {
    let e = assert_error("", ErrorCode::Stat, 0);
    assert_eq!(e.message(), "Empty configuration");
    assert_eq!(e.code_value(), 1_073_741_825);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lvs.cf");
    std::fs::write(&path, "").unwrap();
    match lvscf::parse_file(&path) {
        Err(LoadError::Parse(e)) => assert_eq!((e.code, e.line), (ErrorCode::Stat, 0)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unreadable_file_is_read_on_line_0() {
    // A directory opens but cannot be read.
    let dir = tempfile::tempdir().unwrap();
    match lvscf::parse_file(dir.path()) {
        Err(LoadError::Parse(e)) => {
            assert_eq!((e.code, e.line), (ErrorCode::Read, 0));
            assert_eq!(e.message(), "I/O error while reading configuration");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_file_is_an_open_error() {
    match lvscf::parse_file("/nonexistent/lvs.cf") {
        Err(LoadError::Open { file, source }) => {
            assert_eq!(file, "/nonexistent/lvs.cf");
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_quoting_is_code_3_at_top_level_in_blocks_and_in_servers() {
    assert_error("serial_no = 1\nsend = \"abc\n", ErrorCode::BadQuoting, 2);
    // Inside a virtual block the original swallowed this (B2/B14); not here.
    assert_error(
        &in_virtual("active = 1\nport = 8080 \"junk"),
        ErrorCode::BadQuoting,
        4,
    );
    assert_error(
        &in_virtual("server s {\naddress = \"10.0.0.1\n}"),
        ErrorCode::BadQuoting,
        4,
    );
    // A quoted word without blanks must end the line.
    let e = assert_error("virtual \"web\" {\n}\n", ErrorCode::BadQuoting, 1);
    assert_eq!(e.key.as_deref(), Some("virtual"));
    assert!(e.detail.contains("\"\\\"web\\\"\""), "{e}");
}

#[test]
fn extra_arguments_are_code_5() {
    assert_error("\n\nkeepalive = 6  # seconds\n", ErrorCode::ExtraArgs, 3);
    assert_error("virtual a b {\n}\n", ErrorCode::ExtraArgs, 1);
    assert_error(&in_virtual("server a b {\n}"), ErrorCode::ExtraArgs, 3);
    assert_error(
        &in_virtual("address = 10.0.0.1 eth0:1 x"),
        ErrorCode::ExtraArgs,
        3,
    );
    assert_error(
        "service = lvs\nvirtual v {\nserver s {\nweight = 1 2\n}\n}\n",
        ErrorCode::ExtraArgs,
        4,
    );
}

#[test]
fn equal_expected_is_code_6() {
    assert_error("keepalive =6\n", ErrorCode::EqualExpected, 1);
    assert_error("serial_no = 1\nkeepalive\n", ErrorCode::EqualExpected, 2);
    assert_error(&in_virtual("port : 80"), ErrorCode::EqualExpected, 3);
    assert_error(
        &in_virtual("server s {\nweight 1\n}"),
        ErrorCode::EqualExpected,
        4,
    );
    assert_error(&in_virtual("dirs [ a ]"), ErrorCode::EqualExpected, 3);
}

#[test]
fn missing_arguments_are_code_7() {
    assert_error("primary =\n", ErrorCode::MissingArgs, 1);
    // The virtual address needs a device.
    let e = assert_error(
        &in_virtual("active = 1\naddress = 10.0.0.1"),
        ErrorCode::MissingArgs,
        4,
    );
    assert_eq!(e.key.as_deref(), Some("address"));
    assert_error("nat_router = 10.0.0.1\n", ErrorCode::MissingArgs, 1);
    // The brace must be on the opener's line.
    assert_error("virtual a\n{\n}\n", ErrorCode::MissingArgs, 1);
    assert_error("failover a x\n", ErrorCode::MissingArgs, 1);
    assert_error(&in_virtual("server s"), ErrorCode::MissingArgs, 3);
}

#[test]
fn bad_hostname_is_code_8() {
    assert_error(
        "serial_no = 1\nprimary = 0.0.0.0\n",
        ErrorCode::BadHostname,
        2,
    );
    assert_error("primary_private = 0\n", ErrorCode::BadHostname, 1);
    assert_error("backup_private = 0.0.0.0\n", ErrorCode::BadHostname, 1);
    // sorry_server takes no host names.
    assert_error(
        &in_virtual("sorry_server = lb1.example"),
        ErrorCode::BadHostname,
        3,
    );
}

#[test]
fn bad_argument_is_code_9() {
    assert_error("service = both\n", ErrorCode::BadArgument, 1);
    assert_error("network = bridge\n", ErrorCode::BadArgument, 1);
    assert_error(
        "reservation_conflict_action = maybe\n",
        ErrorCode::BadArgument,
        1,
    );
    assert_error("primary = no.such.host\n", ErrorCode::BadArgument, 1);
    assert_error(
        "heartbeat_port = nosuchservice\n",
        ErrorCode::BadArgument,
        1,
    );
    assert_error(&in_virtual("protocol = sctp"), ErrorCode::BadArgument, 3);
    assert_error(&in_virtual("scheduler = sed"), ErrorCode::BadArgument, 3);
    // `080` is octal-invalid and no service name.
    assert_error(&in_virtual("port = 080"), ErrorCode::BadArgument, 3);
    assert_error(
        &in_virtual("server s {\naddress = 10.0.0.300\n}"),
        ErrorCode::BadArgument,
        4,
    );
    // NUL bytes are refused on their line.
    assert_error(
        "serial_no = 1\nkeepalive = 6\0\n",
        ErrorCode::BadArgument,
        2,
    );
}

#[test]
fn integer_expected_is_code_10() {
    let e = assert_error("keepalive = six\n", ErrorCode::IntExpected, 1);
    assert_eq!(
        e.to_string(),
        "lvs.cf:1: keepalive: expected an integer, found \"six\" (integer expected)"
    );
    assert_error("backup_active = yes\n", ErrorCode::IntExpected, 1);
    assert_error(&in_virtual("timeout = 5s"), ErrorCode::IntExpected, 3);
    // Server ports take no service names.
    assert_error(
        &in_virtual("server s {\nport = http\n}"),
        ErrorCode::IntExpected,
        4,
    );
    // B12: out of range instead of silent truncation.
    let e = assert_error("keepalive = 99999999999\n", ErrorCode::IntExpected, 1);
    assert!(e.detail.contains("from -2147483648 to 2147483647"), "{e}");
    assert_error(&in_virtual("fwmark = -1"), ErrorCode::IntExpected, 3);
    assert_error(&in_virtual("port = 65536"), ErrorCode::IntExpected, 3);
    assert_error("heartbeat_port = 70000\n", ErrorCode::IntExpected, 1);
}

#[test]
fn boolean_expected_is_code_11() {
    assert_error("backup_active = 2\n", ErrorCode::BoolExpected, 1);
    assert_error(&in_virtual("active = -1"), ErrorCode::BoolExpected, 3);
    assert_error(
        &in_virtual("server s {\nactive = 0x2\n}"),
        ErrorCode::BoolExpected,
        4,
    );
}

#[test]
fn unknown_command_is_code_12_and_names_the_key() {
    let e = assert_error(
        "serial_no = 1\nheartbeat_dev = eth1\n",
        ErrorCode::BadCommand,
        2,
    );
    assert_eq!(e.key.as_deref(), Some("heartbeat_dev"));
    assert!(e.detail.contains("unknown key \"heartbeat_dev\""), "{e}");
    assert_error("keepalive=6\n", ErrorCode::BadCommand, 1);
    assert_error("}\n", ErrorCode::BadCommand, 1);
    assert_error("Keepalive = 6\n", ErrorCode::BadCommand, 1);
    assert_error(&in_virtual("virtual w {"), ErrorCode::BadCommand, 3);
    assert_error(
        &in_virtual("server s {\nserver t {\n}\n}"),
        ErrorCode::BadCommand,
        4,
    );
    assert_error(
        &in_virtual("server s {\nlog_file = /tmp/x\n}"),
        ErrorCode::BadCommand,
        4,
    );
}

#[test]
fn list_expected_is_code_13() {
    assert_error(&in_virtual("dirs = a b"), ErrorCode::ListExpected, 3);
    assert_error(&in_virtual("dirs = [ a b"), ErrorCode::ListExpected, 3);
    assert_error(&in_virtual("dirs ="), ErrorCode::ListExpected, 3);
}

#[test]
fn bad_netmask_is_code_16() {
    assert_error("nat_nmask = 255.255.255.x\n", ErrorCode::BadNetmask, 1);
    // `/N` is our extension: /0–/32 for IPv4, up to /128 for IPv6.
    assert_error(&in_virtual("vip_nmask = /33"), ErrorCode::BadNetmask, 3);
    assert_error(&in_virtual("vip_nmask = /129"), ErrorCode::BadNetmask, 3);
    assert_error(&in_virtual("vip_nmask = /"), ErrorCode::BadNetmask, 3);
}

#[test]
fn first_error_wins_and_the_line_counts_comments_and_blank_lines() {
    let text = "# header\n\n   \nserial_no = 1\n# x\nkeepalive = a\ndeadtime = b\n";
    let e = assert_error(text, ErrorCode::IntExpected, 6);
    assert_eq!(e.key.as_deref(), Some("keepalive"));
    // CRLF lines count once each.
    let e = error("serial_no = 1\r\n\r\nkeepalive = a\r\n");
    assert_eq!(e.line, 3);
}

#[test]
fn display_is_file_line_key_detail_and_original_text() {
    let e = error("serial_no = 1\nvirtual web {\nport = 8o\n}\n");
    assert_eq!(
        e.to_string(),
        "lvs.cf:3: port: expected a port number or a tcp service name, found \"8o\" \
         (invalid argument)"
    );
    assert_eq!(e.message(), "invalid argument");
    assert_eq!(e.line(), 3);
    assert_eq!(e.code(), ErrorCode::BadArgument);
    let e = error("");
    assert_eq!(
        e.to_string(),
        "lvs.cf:0: expected lvs.cf text, found an empty file (Empty configuration)"
    );
}
