//! `keepalive` / `deadtime` accept decimals (extension for sub-second
//! failover); integer values behave exactly as before.

use lvscf::{ErrorCode, Seconds, parse_str};

fn global(text: &str) -> lvscf::Global {
    parse_str(text, "lvs.cf").expect("parses").config.global
}

#[test]
fn integers_are_unchanged() {
    let g = global("keepalive = 6\ndeadtime = 0x12\n");
    assert_eq!(g.keepalive, Seconds::from_secs(6));
    assert_eq!(g.deadtime, Seconds::from_secs(18));
    assert_eq!(g.keepalive.to_string(), "6");
    let d = global("primary = 10.0.0.1\n");
    assert_eq!(
        (d.keepalive, d.deadtime),
        (Seconds::from_secs(2), Seconds::from_secs(5))
    );
    assert_eq!(global("keepalive = -1\n").keepalive, Seconds::from_secs(-1));
}

#[test]
fn decimals_are_accepted_for_exactly_these_two_keys() {
    let g = global("keepalive = 0.1\ndeadtime = 0.3\n");
    assert_eq!(g.keepalive, Seconds::from_millis(100));
    assert_eq!(g.deadtime, Seconds::from_millis(300));
    assert_eq!(g.deadtime.duration(), std::time::Duration::from_millis(300));
    assert_eq!(g.keepalive.to_string(), "0.1");
    assert_eq!(global("deadtime = 2.25\n").deadtime.to_string(), "2.25");
    let e = parse_str("monitor_links = 0.5\n", "lvs.cf").unwrap_err();
    assert_eq!(e.code(), ErrorCode::IntExpected);
}

#[test]
fn malformed_decimals_are_integer_expected() {
    for bad in ["0.1234", ".5", "1.", "-0.5", "0,5", "1e3"] {
        let e = parse_str(&format!("keepalive = {bad}\n"), "lvs.cf").unwrap_err();
        assert_eq!(e.code(), ErrorCode::IntExpected, "{bad}");
        assert_eq!(e.line(), 1);
        assert!(e.to_string().contains("keepalive"), "{e}");
    }
}

#[test]
fn writer_round_trips_decimals() {
    let parsed = parse_str("keepalive = 0.1\ndeadtime = 0.3\n", "lvs.cf").unwrap();
    let text = lvscf::write(&parsed.config).expect("writes");
    assert!(text.contains("keepalive = 0.1"), "{text}");
    assert!(text.contains("deadtime = 0.3"), "{text}");
    let again = parse_str(&text, "lvs.cf").unwrap();
    assert_eq!(again.config.global.keepalive, Seconds::from_millis(100));
}
