use super::*;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn at(service: Service, dest: &str) -> Target {
    Target {
        service,
        dest: sa(dest),
    }
}

#[test]
fn round_trip_of_every_message() {
    let rs = "192.168.50.11:8080";
    let cases = [
        (Report::State { up: true }, "nanny1 state up"),
        (Report::State { up: false }, "nanny1 state down"),
        (Report::Result { pass: true }, "nanny1 result pass"),
        (Report::Result { pass: false }, "nanny1 result fail"),
        (Report::Failed, "nanny1 failed"),
        (
            Report::Weight {
                target: at(Service::Tcp(sa("203.0.113.100:80")), rs),
                forward: Forward::Masq,
                weight: 3,
                added: true,
            },
            "nanny1 add tcp 203.0.113.100:80 192.168.50.11:8080 masq 3",
        ),
        (
            Report::Weight {
                target: at(Service::Fwmark(80), rs),
                forward: Forward::Route,
                weight: 0,
                added: false,
            },
            "nanny1 edit fwmark 80 192.168.50.11:8080 droute 0",
        ),
        (
            Report::Weight {
                target: at(Service::Udp(sa("10.0.0.1:53")), rs),
                forward: Forward::Tunnel,
                weight: 7,
                added: false,
            },
            "nanny1 edit udp 10.0.0.1:53 192.168.50.11:8080 tunnel 7",
        ),
        (
            Report::Weight {
                target: at(Service::Sctp(sa("[2001:db8::1]:443")), "[2001:db8::2]:443"),
                forward: Forward::Local,
                weight: 1,
                added: true,
            },
            "nanny1 add sctp [2001:db8::1]:443 [2001:db8::2]:443 local 1",
        ),
        (
            Report::Removed {
                target: at(Service::Udp(sa("10.0.0.1:53")), rs),
            },
            "nanny1 del udp 10.0.0.1:53 192.168.50.11:8080",
        ),
        (
            Report::Removed {
                target: at(Service::Fwmark6(9), "[::1]:80"),
            },
            "nanny1 del fwmark6 9 [::1]:80",
        ),
    ];
    for (r, line) in cases {
        assert_eq!(r.to_string(), line);
        assert_eq!(parse(line), Ok(r));
        assert_eq!(parse(&format!("{line}\n")), Ok(r));
    }
}

#[test]
fn weight_lines_give_weight_or_absence() {
    let t = at(Service::Fwmark(1), "10.0.0.2:80");
    let w = Report::Weight {
        target: t,
        forward: Forward::Masq,
        weight: 4,
        added: false,
    };
    assert_eq!(w.weight(), Some((t, Some(4))));
    assert_eq!(Report::Removed { target: t }.weight(), Some((t, None)));
    assert_eq!(Report::State { up: true }.weight(), None);
    assert_eq!(Report::Failed.weight(), None);
}

#[test]
fn resume_values() {
    for (r, text) in [
        (Resume::Up(7), "up 7"),
        (Resume::Quiesced, "quiesced"),
        (Resume::Down, "down"),
    ] {
        assert_eq!(r.to_string(), text);
        assert_eq!(parse_resume(text), Ok(r));
    }
    for bad in ["", "up", "up -1", "up 1 2", "sideways", "down now"] {
        assert!(parse_resume(bad).is_err(), "{bad}");
    }
}

#[test]
fn bad_lines() {
    assert_eq!(parse("nanny2 state up"), Err(ParseError::Version));
    assert_eq!(parse("nanny: [ active ] x"), Err(ParseError::Version));
    assert_eq!(parse(""), Err(ParseError::Version));
    assert_eq!(parse("nanny1x state up"), Err(ParseError::Version));
    assert_eq!(parse("nanny1 frob"), Err(ParseError::Verb("frob".into())));
    assert_eq!(parse("nanny1"), Err(ParseError::Verb(String::new())));
    assert_eq!(parse("nanny1 state up now"), Err(ParseError::Arity));
    assert_eq!(parse("nanny1 result pass 1"), Err(ParseError::Arity));
    assert_eq!(parse("nanny1 failed 1"), Err(ParseError::Arity));
    assert_eq!(
        parse("nanny1 result maybe"),
        Err(ParseError::Field("maybe".into(), "pass or fail"))
    );
    for bad in [
        "nanny1 state sideways",
        "nanny1 state",
        "nanny1 result up",
        "nanny1 result",
        "nanny1 add tcp 1.2.3.4:80 5.6.7.8:80 masq",
        "nanny1 add tcp 1.2.3.4 5.6.7.8:80 masq 1",
        "nanny1 add quic 1.2.3.4:80 5.6.7.8:80 masq 1",
        "nanny1 add tcp 1.2.3.4:80 5.6.7.8:80 nat 1",
        "nanny1 add tcp 1.2.3.4:80 5.6.7.8:80 masq -1",
        "nanny1 add tcp 1.2.3.4:80 5.6.7.8:80 masq 4294967296",
        "nanny1 add tcp 1.2.3.4:80 5.6.7.8:80 masq 1 2",
        "nanny1 del fwmark x 5.6.7.8:80",
        "nanny1 del fwmark 1",
        "nanny1 del tcp 1.2.3.4:80 5.6.7.8:80 masq",
        "nanny1 add tcp 1.2.3.4:80 5.6.7.8:99999 masq 1",
        "nanny1  state up",
    ] {
        let e = parse(bad).expect_err(bad);
        assert!(!matches!(e, ParseError::Version), "{bad}");
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn error_texts() {
    assert_eq!(ParseError::Version.to_string(), "not a nanny1 line");
    assert_eq!(
        ParseError::Verb("frob".into()).to_string(),
        "unknown verb \"frob\""
    );
    assert_eq!(
        ParseError::Field("maybe".into(), "pass or fail").to_string(),
        "\"maybe\": expected pass or fail"
    );
    assert_eq!(ParseError::Arity.to_string(), "too many fields");
}

fn addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<u32>(), any::<u16>())
            .prop_map(|(a, p)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), p)),
        (any::<u128>(), any::<u16>())
            .prop_map(|(a, p)| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a)), p)),
    ]
}

fn service() -> impl Strategy<Value = Service> {
    prop_oneof![
        addr().prop_map(Service::Tcp),
        addr().prop_map(Service::Udp),
        addr().prop_map(Service::Sctp),
        any::<u32>().prop_map(Service::Fwmark),
        any::<u32>().prop_map(Service::Fwmark6),
    ]
}

fn target() -> impl Strategy<Value = Target> {
    (service(), addr()).prop_map(|(service, dest)| Target { service, dest })
}

fn report() -> impl Strategy<Value = Report> {
    let forward = prop_oneof![
        Just(Forward::Masq),
        Just(Forward::Route),
        Just(Forward::Tunnel),
        Just(Forward::Local),
    ];
    prop_oneof![
        any::<bool>().prop_map(|up| Report::State { up }),
        any::<bool>().prop_map(|pass| Report::Result { pass }),
        Just(Report::Failed),
        (target(), forward, any::<u32>(), any::<bool>()).prop_map(
            |(target, forward, weight, added)| Report::Weight {
                target,
                forward,
                weight,
                added,
            }
        ),
        target().prop_map(|target| Report::Removed { target }),
    ]
}

proptest! {
    #[test]
    fn every_message_round_trips(r in report()) {
        let line = r.to_string();
        prop_assert!(line.starts_with("nanny1 "));
        prop_assert!(!line.contains('\n'));
        prop_assert_eq!(parse(&line), Ok(r));
    }

    #[test]
    fn garbage_never_panics(line in ".{0,80}") {
        let _ = parse(&line);
        let _ = parse_resume(&line);
    }

    #[test]
    fn near_misses_never_panic(r in report(), cut in 0usize..80, junk in "[ -~]{0,8}") {
        let line = r.to_string();
        let mut cut = cut.min(line.len());
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        let mangled = format!("{}{junk}", &line[..cut]);
        if let Ok(back) = parse(&mangled) {
            // whatever parses says what it prints
            prop_assert_eq!(parse(&back.to_string()), Ok(back));
        }
    }
}
