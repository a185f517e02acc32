//! Property tests for `lvscf::edit`: random edit sequences on the example
//! files in etc/ and the test corpus (also with CRLF line ends). After every
//! operation, each line it did not touch is unchanged, the result parses,
//! and the typed model shows the edit.

mod common;

use common::resolver;
use lvscf::{Config, Op, QuoteMode, Section, apply};
use proptest::prelude::*;

fn corpus() -> Vec<(String, String)> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut out = Vec::new();
    for f in [
        "etc/lvs.cf.nat",
        "etc/lvs.cf.dr-fwmark",
        "etc/lvs.cf.demo",
        "etc/lvs.cf.ipv6",
        "crates/lvscf/tests/data/nat-two-directors.cf",
        "crates/lvscf/tests/data/direct-routing-fwmark.cf",
        "crates/lvscf/tests/data/failover-services.cf",
    ] {
        let t = std::fs::read_to_string(format!("{root}/{f}")).expect(f);
        out.push((format!("{f} (CRLF)"), t.replace('\n', "\r\n")));
        out.push((f.to_string(), t));
    }
    out
}

fn parse(text: &str) -> Config {
    match lvscf::parse_bytes_with(text.as_bytes(), "lvs.cf", &resolver()) {
        Ok(p) => p.config,
        Err(e) => panic!("{e}\n--- text ---\n{text}"),
    }
}

/// Lines with their line ends.
fn lines(t: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = t.as_bytes();
    let mut s = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\n' || b[i] == b'\r' {
            let e = if b[i] == b'\r' && b.get(i + 1) == Some(&b'\n') {
                i + 2
            } else {
                i + 1
            };
            out.push(&t[s..e]);
            s = e;
            i = e;
        } else {
            i += 1;
        }
    }
    if s < b.len() {
        out.push(&t[s..]);
    }
    out
}

/// What the model must show after an operation.
enum Expect {
    ServerWeight(String, String, i32),
    ServerActive(String, String, bool),
    VirtualPort(String, u16),
    VirtualSend(String, String),
    VirtualTimeout(String, i32),
    VirtualActive(String, bool),
    GlobalDebug(String),
    NoVirtual(String),
    HasServer(String, String, i32),
    HasVirtual(String),
    Renamed(String, String),
    ReentryDefault(String),
    FailoverActive(String, bool),
}

fn word(seed: u32) -> String {
    const W: [&str; 6] = ["alpha", "web farm", "b-2", "x.y", "tab\tname", "q'uote"];
    format!("{}{}", W[seed as usize % W.len()], seed % 97)
}

/// An operation from numbers, on the blocks `c` has; `None` when the
/// chosen kind does not apply (e.g. no virtual servers).
fn op_for(c: &Config, kind: u8, a: u32, b: u32) -> Option<(Op, Expect)> {
    let v = (!c.virtuals.is_empty()).then(|| &c.virtuals[a as usize % c.virtuals.len()]);
    let vn = v.map(|v| v.name.clone());
    let server = v.and_then(|v| {
        (!v.servers.is_empty()).then(|| v.servers[b as usize % v.servers.len()].name.clone())
    });
    Some(match kind % 13 {
        0 => {
            let (vn, sn) = (vn?, server?);
            let w = (b % 1000) as i32 + 1;
            (
                Op::set(Section::server(&vn, &sn), "weight", w.to_string()),
                Expect::ServerWeight(vn, sn, w),
            )
        }
        1 => {
            let (vn, sn) = (vn?, server?);
            let on = b.is_multiple_of(2);
            (
                Op::SetActive {
                    block: Section::server(&vn, &sn),
                    active: on,
                },
                Expect::ServerActive(vn, sn, on),
            )
        }
        2 => {
            let vn = vn?;
            let p = (b % 65535) as u16 + 1;
            (
                Op::set(Section::virtual_(&vn), "port", p.to_string()),
                Expect::VirtualPort(vn, p),
            )
        }
        3 => {
            let vn = vn?;
            let s = format!("GET /{} HTTP/1.0\\r\\n\\r\\n", b % 50);
            (
                Op::set(Section::virtual_(&vn), "send", &s),
                Expect::VirtualSend(vn, s),
            )
        }
        4 => {
            let vn = vn?;
            let t = (b % 60) as i32 + 1;
            (
                Op::set(Section::virtual_(&vn), "timeout", t.to_string()),
                Expect::VirtualTimeout(vn, t),
            )
        }
        5 => {
            let vn = vn?;
            let on = b % 2 == 1;
            (
                Op::SetActive {
                    block: Section::virtual_(&vn),
                    active: on,
                },
                Expect::VirtualActive(vn, on),
            )
        }
        6 => {
            let d = format!("level {}", b % 10);
            (
                Op::set(Section::Global, "debug_level", &d),
                Expect::GlobalDebug(d),
            )
        }
        7 => {
            let vn = vn?;
            (
                Op::DeleteBlock {
                    block: Section::virtual_(&vn),
                },
                Expect::NoVirtual(vn),
            )
        }
        8 => {
            let vn = vn?;
            let sn = word(b);
            if c.virtuals
                .iter()
                .any(|x| x.name == vn && x.servers.iter().any(|s| s.name == sn))
            {
                return None;
            }
            let w = (b % 9) as i32 + 1;
            // a real server of the VIP's family
            let address = if v.is_some_and(|v| v.is_ipv6()) {
                format!("2001:db8:9::{:x}:{:x}", a % 250, b % 250)
            } else {
                format!("10.9.{}.{}", a % 250, b % 250)
            };
            (
                Op::AddBlock {
                    block: Section::server(&vn, &sn),
                    keys: vec![
                        ("address".into(), address),
                        ("active".into(), "1".into()),
                        ("weight".into(), w.to_string()),
                    ],
                },
                Expect::HasServer(vn, sn, w),
            )
        }
        9 => {
            let n = word(a ^ b);
            if c.virtuals.iter().any(|x| x.name == n) {
                return None;
            }
            (
                Op::AddBlock {
                    block: Section::virtual_(&n),
                    keys: vec![
                        ("active".into(), "0".into()),
                        (
                            "address".into(),
                            format!("192.0.2.{} eth0:{}", b % 250, a % 9),
                        ),
                        ("port".into(), "443".into()),
                    ],
                },
                Expect::HasVirtual(n),
            )
        }
        10 => {
            let vn = vn?;
            let n = word(b);
            if c.virtuals.iter().any(|x| x.name == n) {
                return None;
            }
            (
                Op::Rename {
                    block: Section::virtual_(&vn),
                    name: n.clone(),
                },
                Expect::Renamed(vn, n),
            )
        }
        11 => {
            let vn = vn?;
            let has = c.virtuals.iter().find(|x| x.name == vn)?;
            if has.reentry == lvscf::Service::new("", lvscf::BlockKind::Virtual).reentry {
                return None;
            }
            (
                Op::remove(Section::virtual_(&vn), "reentry"),
                Expect::ReentryDefault(vn),
            )
        }
        _ => {
            let f = c.failovers.get(a as usize % c.failovers.len().max(1))?;
            let on = b.is_multiple_of(2);
            (
                Op::SetActive {
                    block: Section::failover(&f.name),
                    active: on,
                },
                Expect::FailoverActive(f.name.clone(), on),
            )
        }
    })
}

fn holds(c: &Config, e: &Expect) -> bool {
    let v = |n: &str| c.virtuals.iter().find(|v| v.name == n);
    let s = |vn: &str, sn: &str| v(vn).and_then(|v| v.servers.iter().find(|s| s.name == sn));
    match e {
        Expect::ServerWeight(vn, sn, w) => s(vn, sn).is_some_and(|s| s.weight == *w),
        Expect::ServerActive(vn, sn, a) => s(vn, sn).is_some_and(|s| s.active == *a),
        Expect::VirtualPort(vn, p) => v(vn).is_some_and(|v| v.port == *p),
        Expect::VirtualSend(vn, t) => {
            v(vn).is_some_and(|v| v.send_arg(QuoteMode::default()) == Some(t.as_str()))
        }
        Expect::VirtualTimeout(vn, t) => v(vn).is_some_and(|v| v.timeout == *t),
        Expect::VirtualActive(vn, a) => v(vn).is_some_and(|v| v.active == *a),
        Expect::GlobalDebug(d) => c.global.debug_level == *d,
        Expect::NoVirtual(vn) => v(vn).is_none(),
        Expect::HasServer(vn, sn, w) => s(vn, sn).is_some_and(|s| s.weight == *w && s.active),
        Expect::HasVirtual(n) => v(n).is_some_and(|v| v.port == 443 && !v.active),
        Expect::Renamed(old, new) => v(old).is_none() && v(new).is_some(),
        Expect::ReentryDefault(vn) => v(vn).is_some_and(|v| {
            v.reentry == lvscf::Service::new("", lvscf::BlockKind::Virtual).reentry
        }),
        Expect::FailoverActive(n, a) => c
            .failovers
            .iter()
            .find(|f| &f.name == n)
            .is_some_and(|f| f.active == *a),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_edits_touch_only_their_lines(
        file in 0usize..12,
        steps in proptest::collection::vec((any::<u8>(), any::<u32>(), any::<u32>()), 1..12),
    ) {
        let files = corpus();
        let (name, mut text) = files[file % files.len()].clone();
        let crlf = text.contains("\r\n");
        for (kind, a, b) in steps {
            let config = parse(&text);
            let Some((op, expect)) = op_for(&config, kind, a, b) else { continue };
            let e = apply(&text, "lvs.cf", &op).map_err(|e| TestCaseError::fail(format!("{name}: {op:?}: {e}")))?;
            // Every line outside the changes is unchanged, in order.
            let (old, new) = (lines(&text), lines(&e.text));
            let (mut i, mut j) = (0usize, 0usize);
            for ch in &e.changes {
                while i + 1 < ch.line {
                    prop_assert_eq!(old[i], new[j], "{}: {:?}: line {} changed", &name, &op, i + 1);
                    i += 1;
                    j += 1;
                }
                i += ch.removed;
                j += ch.inserted;
            }
            prop_assert_eq!(old.len() - i, new.len() - j, "{}: {:?}", &name, &op);
            for k in 0..old.len() - i {
                // The last old line may gain a line end when lines are appended after it.
                let (o, n) = (old[i + k], new[j + k]);
                prop_assert!(o == n, "{}: {:?}: old line {} {:?} became {:?}", &name, &op, i + k + 1, o, n);
            }
            // New lines use the file's line end.
            if crlf {
                prop_assert!(!e.text.replace("\r\n", "").contains('\n'), "{}: {:?}: LF in a CRLF file", &name, &op);
            }
            let after = parse(&e.text);
            prop_assert!(holds(&after, &expect), "{}: {:?} not reflected:\n{}", &name, &op, e.text);
            text = e.text;
        }
        // The result still passes or fails the daemons' checks only for
        // what the edits changed: it always parses.
        lvscf::check_with(&text, "lvs.cf", &resolver()).map(|_| ()).unwrap_or(());
        let bumped = lvscf::bump_serial(&text, "lvs.cf").unwrap().text;
        let (before, after) = (parse(&text).global.serial_no, parse(&bumped).global.serial_no);
        prop_assert_eq!(after, before + 1);
    }
}

#[test]
fn the_corpus_parses() {
    for (name, t) in corpus() {
        let c = parse(&t);
        assert!(!c.virtuals.is_empty() || !c.failovers.is_empty(), "{name}");
    }
}

/// Text made of lvs.cf pieces: keys, braces, quotes, comments, line ends.
fn scrambled() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("virtual a {".to_string()),
        Just("virtual \"b c\" {".to_string()),
        Just("failover f {".to_string()),
        Just("server s {".to_string()),
        Just("}".to_string()),
        Just("active = 1".to_string()),
        Just("serial_no = 7".to_string()),
        Just("serial_no = x".to_string()),
        Just("port = 80".to_string()),
        Just("# comment".to_string()),
        Just("send = \"GET /".to_string()),
        Just(String::new()),
        Just("  ".to_string()),
        "[ a-z={}\"'#]{0,12}",
    ];
    let end = prop_oneof![Just("\n"), Just("\r\n"), Just("\r"), Just("")];
    proptest::collection::vec((piece, end), 0..16).prop_map(|v| {
        v.into_iter()
            .map(|(p, e)| format!("{p}{e}"))
            .collect::<String>()
    })
}

fn any_op() -> impl Strategy<Value = Op> {
    let section = prop_oneof![
        Just(Section::Global),
        Just(Section::virtual_("a")),
        Just(Section::virtual_("b c")),
        Just(Section::failover("f")),
        Just(Section::server("a", "s")),
        Just(Section::server("a", "t")),
    ];
    let key = prop_oneof![
        Just("active"),
        Just("port"),
        Just("send"),
        Just("serial_no")
    ];
    (section, key, 0u8..7, "[ a-z\"']{0,6}").prop_map(|(section, key, k, v)| match k {
        0 => Op::set(section, key, v),
        1 => Op::remove(section, key),
        2 => Op::AddBlock {
            block: section,
            keys: vec![(key.into(), v)],
        },
        3 => Op::DeleteBlock { block: section },
        4 => Op::Rename {
            block: section,
            name: v,
        },
        _ => Op::SetActive {
            block: section,
            active: k == 5,
        },
    })
}

proptest! {
    /// Any text, even one that does not parse, and any operation: no
    /// panic, and an edit that succeeds keeps every line it does not touch.
    #[test]
    fn any_text_any_op(text in scrambled(), op in any_op()) {
        let _ = lvscf::bump_serial(&text, "lvs.cf");
        let _ = lvscf::check_with(&text, "lvs.cf", &resolver());
        if let Ok(e) = apply(&text, "lvs.cf", &op) {
            let (old, new) = (lines(&text), lines(&e.text));
            let (mut i, mut j) = (0usize, 0usize);
            for ch in &e.changes {
                while i + 1 < ch.line {
                    let (o, n) = (old[i], new[j]);
                    // A last line without a line end gains one when lines follow it.
                    // A last line without a line end gains one when lines follow
                    // it; a lone CR before deleted lines may become CRLF.
                    let ok = o == n
                        || (i + 1 == old.len() && n.starts_with(o))
                        || (o.ends_with('\r') && n == format!("{o}\n"));
                    prop_assert!(ok, "{:?}: line {} {:?} became {:?}", &op, i + 1, o, n);
                    i += 1;
                    j += 1;
                }
                i += ch.removed;
                j += ch.inserted;
            }
            prop_assert_eq!(old.len() - i, new.len() - j, "{:?}\n{:?}\n{:?}", &op, &text, &e.text);
            for k in 0..old.len() - i {
                prop_assert_eq!(old[i + k], new[j + k]);
            }
            // Nothing else merged or split: the new text has the lines counted.
            let inserted: usize = e.changes.iter().map(|c| c.inserted).sum();
            let removed: usize = e.changes.iter().map(|c| c.removed).sum();
            prop_assert_eq!(new.len() + removed, old.len() + inserted);
        }
    }
}
