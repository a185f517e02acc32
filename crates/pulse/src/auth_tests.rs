use std::os::unix::fs::PermissionsExt as _;

use proptest::prelude::*;

use super::*;

const ME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
const PEER6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));
const ME6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
const RUNNING: [u8; 4] = [0xDA, 0xDB, 0xAD, 0xBD];

fn key(b: u8) -> Key {
    Key::new(vec![b; 32]).unwrap()
}

fn keys(k: &[Key]) -> Keys {
    Keys::new(k.to_vec()).unwrap()
}

fn st(epoch: u64, seq: u64) -> Stamp {
    Stamp { epoch, seq }
}

#[test]
fn layout_is_magic_version_identity_epoch_seq_mac() {
    let d = seal(RUNNING, PEER, st(0x0102, 7), &key(1));
    assert_eq!(d.len(), SIGNED_LEN);
    assert_eq!(d.len(), 57);
    assert_eq!(d[..4], RUNNING, "the magic comes first, unchanged");
    assert_eq!(d[4], 1);
    assert_eq!(d[5..9], [192, 0, 2, 2]);
    assert_eq!(d[9..17], [0, 0, 0, 0, 0, 0, 1, 2]);
    assert_eq!(d[17..25], [0, 0, 0, 0, 0, 0, 0, 7]);
    // HMAC-SHA256 of the first 25 bytes.
    let mut m = HmacSha256::new_from_slice(&[1; 32]).unwrap();
    m.update(&d[..25]);
    assert_eq!(d[25..], m.finalize().into_bytes()[..]);
}

#[test]
fn ipv6_layout_is_version_2_with_a_16_byte_identity() {
    let d = seal(RUNNING, PEER6, st(0x0102, 7), &key(1));
    assert_eq!(d.len(), SIGNED_LEN_V6);
    assert_eq!(d.len(), 69);
    assert_eq!(d[..4], RUNNING, "the magic comes first, unchanged");
    assert_eq!(d[4], 2);
    assert_eq!(
        d[5..21],
        [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]
    );
    assert_eq!(d[21..29], [0, 0, 0, 0, 0, 0, 1, 2]);
    assert_eq!(d[29..37], [0, 0, 0, 0, 0, 0, 0, 7]);
    // HMAC-SHA256 of the first 37 bytes.
    let mut m = HmacSha256::new_from_slice(&[1; 32]).unwrap();
    m.update(&d[..37]);
    assert_eq!(d[37..], m.finalize().into_bytes()[..]);
}

#[test]
fn ipv6_trailer_opens_and_rejects_like_the_ipv4_one() {
    let k = keys(&[key(1)]);
    let d = seal(RUNNING, PEER6, st(5, 9), &key(1));
    assert_eq!(open(&d, &k, PEER6, None), Ok((RUNNING, st(5, 9))));
    assert_eq!(open(&d[..68], &k, PEER6, None), Err(Reject::Malformed));
    let mut longer = d.clone();
    longer.push(0);
    assert_eq!(open(&longer, &k, PEER6, None), Err(Reject::Malformed));
    // a version 1 trailer of version 2's length, and the other way round
    let mut v1 = d.clone();
    v1[4] = 1;
    assert_eq!(open(&v1, &k, PEER6, None), Err(Reject::Malformed));
    // another sender, in either family
    let mine = seal(RUNNING, ME6, st(5, 9), &key(1));
    assert_eq!(
        open(&mine, &k, PEER6, None),
        Err(Reject::WrongIdentity(ME6))
    );
    let v4 = seal(RUNNING, PEER, st(5, 9), &key(1));
    assert_eq!(open(&v4, &k, PEER6, None), Err(Reject::WrongIdentity(PEER)));
    assert_eq!(open(&d, &k, PEER, None), Err(Reject::WrongIdentity(PEER6)));
    assert_eq!(
        open(&d, &k, PEER6, Some(st(5, 9))),
        Err(Reject::Replayed {
            got: st(5, 9),
            last: st(5, 9)
        })
    );
    for i in 0..d.len() {
        for bit in 0..8 {
            let mut e = d.clone();
            e[i] ^= 1 << bit;
            let r = open(&e, &k, PEER6, None);
            assert!(
                r == Err(Reject::BadMac) || (i == 4 && r == Err(Reject::Malformed)),
                "byte {i} bit {bit}: {r:?}"
            );
        }
    }
    // the window keeps the families apart
    let mut w = Window::default();
    w.accept(PEER6, st(1, 1));
    assert_eq!(w.last(PEER), None);
    assert_eq!(w.last(PEER6), Some(st(1, 1)));
}

#[test]
fn hmac_sha256_known_answer() {
    // RFC 4231 test case 2 through the same types.
    let mut m = HmacSha256::new_from_slice(b"Jefe").unwrap();
    m.update(b"what do ya want for nothing?");
    let hex: String = m
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        hex,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn open_accepts_its_own_seal_and_gives_magic_and_stamp() {
    let d = seal(RUNNING, PEER, st(5, 9), &key(1));
    assert_eq!(
        open(&d, &keys(&[key(1)]), PEER, None),
        Ok((RUNNING, st(5, 9)))
    );
    // Newer stamps: a later sequence, or a later epoch with any sequence.
    assert!(open(&d, &keys(&[key(1)]), PEER, Some(st(5, 8))).is_ok());
    assert!(open(&d, &keys(&[key(1)]), PEER, Some(st(4, 1000))).is_ok());
}

#[test]
fn rejections_by_reason() {
    let k = keys(&[key(1)]);
    let d = seal(RUNNING, PEER, st(5, 9), &key(1));
    assert_eq!(open(&RUNNING, &k, PEER, None), Err(Reject::Unsigned));
    assert_eq!(open(&d[..56], &k, PEER, None), Err(Reject::Malformed));
    let mut longer = d.clone();
    longer.push(0);
    assert_eq!(open(&longer, &k, PEER, None), Err(Reject::Malformed));
    let mut v2 = d.clone();
    v2[4] = 2;
    assert_eq!(open(&v2, &k, PEER, None), Err(Reject::Malformed));
    // Another key.
    assert_eq!(open(&d, &keys(&[key(2)]), PEER, None), Err(Reject::BadMac));
    // Any flipped bit.
    for i in 0..d.len() {
        for bit in 0..8 {
            let mut e = d.clone();
            e[i] ^= 1 << bit;
            let r = open(&e, &k, PEER, None);
            assert!(
                r == Err(Reject::BadMac) || (i == 4 && r == Err(Reject::Malformed)),
                "byte {i} bit {bit}: {r:?}"
            );
        }
    }
    // Another sender's heartbeat, or our own reflected back.
    let mine = seal(RUNNING, ME, st(5, 9), &key(1));
    assert_eq!(open(&mine, &k, PEER, None), Err(Reject::WrongIdentity(ME)));
    // Replays and older stamps.
    for last in [st(5, 9), st(5, 10), st(6, 1)] {
        assert_eq!(
            open(&d, &k, PEER, Some(last)),
            Err(Reject::Replayed {
                got: st(5, 9),
                last
            })
        );
    }
}

#[test]
fn rotation_signs_with_the_first_key_and_accepts_either() {
    let (old, new) = (key(1), key(2));
    let both = keys(&[new.clone(), old.clone()]);
    assert_eq!(both.signing(), &new);
    let by_old = seal(RUNNING, PEER, st(1, 1), &old);
    let by_new = seal(RUNNING, PEER, st(1, 2), &new);
    assert!(open(&by_old, &both, PEER, None).is_ok());
    assert!(open(&by_new, &both, PEER, None).is_ok());
    assert_eq!(
        open(&by_new, &keys(&[old]), PEER, None),
        Err(Reject::BadMac)
    );
}

#[test]
fn signer_counts_up_in_its_epoch() {
    let mut s = Signer::new(key(3), 77);
    let k = keys(&[key(3)]);
    let mut w = Window::default();
    for n in 1..=3 {
        let d = s.seal(RUNNING, PEER);
        let (_, stamp) = open(&d, &k, PEER, w.last(PEER)).unwrap();
        assert_eq!(stamp, st(77, n));
        w.accept(PEER, stamp);
    }
    // A restarted partner (later epoch) starts again at 1.
    let mut s2 = Signer::new(key(3), 78);
    let d = s2.seal(RUNNING, PEER);
    assert_eq!(open(&d, &k, PEER, w.last(PEER)).unwrap().1, st(78, 1));
}

#[test]
fn window_is_per_address() {
    let mut w = Window::default();
    w.accept(PEER, st(1, 5));
    w.accept(ME, st(1, 6));
    w.accept(PEER, st(1, 7));
    assert_eq!(w.last(PEER), Some(st(1, 7)));
    assert_eq!(w.last(ME), Some(st(1, 6)));
    assert_eq!(w.last(Ipv4Addr::LOCALHOST), None);
}

#[test]
fn log_limit_one_line_per_kind_per_ten_seconds() {
    let s = Duration::from_secs;
    let mut l = LogLimit::default();
    assert_eq!(l.admit("bad_mac", s(0)), Some(0));
    assert_eq!(l.admit("bad_mac", s(1)), None);
    assert_eq!(l.admit("replayed", s(1)), Some(0));
    assert_eq!(l.admit("bad_mac", s(9)), None);
    assert_eq!(l.admit("bad_mac", s(10)), Some(2));
    assert_eq!(l.admit("bad_mac", s(11)), None);
    assert_eq!(l.admit("bad_mac", s(25)), Some(1));
}

#[test]
fn key_file_text() {
    let hex32 = "00112233445566778899aabbccddeeff";
    let k = parse_keys("k", &format!("# comment\n\n  {hex32}  \n")).unwrap();
    assert_eq!(k.len(), 1);
    assert_eq!(
        k.signing(),
        &Key::new((0..16).map(|i| i * 0x11).collect()).unwrap()
    );
    let upper = hex32.to_uppercase();
    assert_eq!(parse_keys("k", &upper).unwrap().signing(), k.signing());
    let two = parse_keys("k", &format!("{}\n{hex32}\n", "ab".repeat(32))).unwrap();
    assert_eq!(two.len(), 2);
    assert_eq!(two.signing(), &Key::new(vec![0xab; 32]).unwrap());

    let err = |t: &str| parse_keys("/etc/k", t).unwrap_err().to_string();
    assert_eq!(err(""), "/etc/k: expected one or two keys, found 0");
    assert_eq!(
        err(&format!("{hex32}\n{hex32}\n{hex32}\n")),
        "/etc/k: expected one or two keys, found 3"
    );
    assert_eq!(
        err("# x\n00112233445566778899aabbccddee\n"),
        "/etc/k:2: expected a key of at least 16 bytes as hexadecimal digits \
         (32 or more), found 30 digits (15 bytes)"
    );
    assert_eq!(
        err("0011223344556677889\n"),
        "/etc/k:1: expected a key of at least 16 bytes as hexadecimal digits \
         (32 or more), found an odd number of digits (19)"
    );
    // The key is never echoed.
    let e = err("correct horse battery staple, secret!\n");
    assert!(!e.contains("horse"), "{e}");
}

#[test]
fn owner_and_mode() {
    assert!(check_owner_mode("k", 0, 0o100600).is_ok());
    assert!(check_owner_mode("k", 0, 0o100400).is_ok());
    assert!(check_owner_mode("k", 0, 0o100000).is_ok());
    assert_eq!(
        check_owner_mode("/k", 0, 0o100640).unwrap_err().to_string(),
        "/k: expected mode 0600 or stricter, found 0640"
    );
    assert_eq!(
        check_owner_mode("/k", 0, 0o100604).unwrap_err().to_string(),
        "/k: expected mode 0600 or stricter, found 0604"
    );
    assert_eq!(
        check_owner_mode("/k", 1000, 0o100600)
            .unwrap_err()
            .to_string(),
        "/k: expected owner root (uid 0), found uid 1000"
    );
}

/// The file checks that need no particular owner: type, symbolic link,
/// missing file, mode (the owner is checked above; run as root these
/// files are root's).
#[test]
fn key_files_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    let good = p("good");
    std::fs::write(&good, "00112233445566778899aabbccddeeff\n").unwrap();
    std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o600)).unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        assert_eq!(load_keys(&good).unwrap().len(), 1);
    } else {
        assert!(matches!(load_keys(&good), Err(KeyFileError::Owner { .. })));
    }
    let missing = p("missing");
    let e = load_keys(&missing).unwrap_err().to_string();
    assert_eq!(
        e,
        format!("{missing}: cannot open: No such file or directory")
    );
    let link = p("link");
    std::os::unix::fs::symlink(&good, &link).unwrap();
    assert_eq!(
        load_keys(&link).unwrap_err().to_string(),
        format!("{link}: cannot open: it is a symbolic link")
    );
    let d = p("dir");
    std::fs::create_dir(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(
        load_keys(&d).unwrap_err().to_string(),
        format!("{d}: expected a regular file, found a directory")
    );
    if root {
        let open = p("open");
        std::fs::write(&open, "00112233445566778899aabbccddeeff\n").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            load_keys(&open).unwrap_err().to_string(),
            format!("{open}: expected mode 0600 or stricter, found 0644")
        );
        let short = p("short");
        std::fs::write(&short, "0011223344\n").unwrap();
        std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(
            load_keys(&short)
                .unwrap_err()
                .to_string()
                .ends_with("found 10 digits (5 bytes)")
        );
    }
}

#[test]
fn debug_never_shows_a_key() {
    let k = keys(&[Key::new(vec![0x5a; 20]).unwrap()]);
    let s = format!("{k:?}");
    assert!(s.contains("20 bytes") && !s.contains("90"), "{s}");
}

proptest! {
    /// Arbitrary datagrams never panic the decoder and are never accepted
    /// without the key.
    #[test]
    fn arbitrary_datagrams_are_never_accepted(data in proptest::collection::vec(any::<u8>(), 0..80),
                                              last in proptest::option::of((any::<u64>(), any::<u64>()))) {
        let last = last.map(|(epoch, seq)| Stamp { epoch, seq });
        prop_assert!(open(&data, &keys(&[key(1)]), PEER, last).is_err());
    }

    /// A genuine heartbeat with any change is rejected; untouched it is
    /// accepted exactly when its stamp is newer.
    #[test]
    fn tampered_heartbeats_are_rejected(magic in any::<[u8; 4]>(), epoch in any::<u64>(), seq in any::<u64>(),
                                        at in 0usize..SIGNED_LEN, flip in 1u8..=255,
                                        last in proptest::option::of((any::<u64>(), any::<u64>()))) {
        let k = keys(&[key(1)]);
        let stamp = Stamp { epoch, seq };
        let last = last.map(|(epoch, seq)| Stamp { epoch, seq });
        let d = seal(magic, PEER, stamp, &key(1));
        let mut e = d.clone();
        e[at] ^= flip;
        prop_assert!(open(&e, &k, PEER, last).is_err());
        let r = open(&d, &k, PEER, last);
        if last.is_none_or(|l| stamp > l) {
            prop_assert_eq!(r, Ok((magic, stamp)));
        } else {
            prop_assert!(matches!(r, Err(Reject::Replayed { .. })), "replay accepted");
        }
    }

    /// The same for the IPv6 trailer (version 2).
    #[test]
    fn tampered_ipv6_heartbeats_are_rejected(magic in any::<[u8; 4]>(), seq in any::<u64>(),
                                             at in 0usize..SIGNED_LEN_V6, flip in 1u8..=255) {
        let k = keys(&[key(1)]);
        let d = seal(magic, PEER6, Stamp { epoch: 3, seq }, &key(1));
        let mut e = d.clone();
        e[at] ^= flip;
        prop_assert!(open(&e, &k, PEER6, None).is_err());
        prop_assert_eq!(open(&d, &k, PEER6, None), Ok((magic, Stamp { epoch: 3, seq })));
    }
}
