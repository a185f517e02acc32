//! `lvscf::store` on real files: owner, group and mode kept (as root),
//! concurrent saves from the same serial (one wins, the others are refused
//! with the winner's text), and a restore shown as a diff.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;

use lvs_tests::{Need, require};
use lvscf::store::{self, SaveError};

const TEXT: &str = "serial_no = 1\nservice = lvs\nprimary = 10.0.0.1\n\nvirtual www {\n    \
                    active = 1\n    address = 192.0.2.1 eth0:1\n    server a {\n        \
                    address = 10.0.0.5\n        active = 1\n        weight = 1\n    }\n}\n";

fn weight(text: &str, w: u32) -> String {
    lvscf::apply(
        text,
        "lvs.cf",
        &lvscf::Op::set(lvscf::Section::server("www", "a"), "weight", w.to_string()),
    )
    .unwrap()
    .text
}

#[test]
fn owner_group_and_mode_are_kept() {
    if !require(Need::Root, "owner_group_and_mode_are_kept") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("lvs.cf");
    std::fs::write(&p, TEXT).unwrap();
    std::os::unix::fs::chown(&p, Some(65534), Some(65533)).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
    store::save(&p, &weight(TEXT, 5), 1).unwrap();
    let m = std::fs::metadata(&p).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (65534, 65533, 0o640));
    let h = store::history_dir(&p);
    let hm = std::fs::metadata(&h).unwrap();
    assert_eq!((hm.uid(), hm.mode() & 0o7777), (65534, 0o750));
    let v = &store::list_versions(&p).unwrap()[0];
    let vm = std::fs::metadata(h.join(&v.name)).unwrap();
    assert_eq!(
        (vm.uid(), vm.gid(), vm.mode() & 0o7777),
        (65534, 65533, 0o640)
    );
}

#[test]
fn concurrent_saves_from_one_serial_one_wins() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("lvs.cf");
    std::fs::write(&p, TEXT).unwrap();
    let results: Vec<Result<store::Saved, SaveError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let p: &Path = &p;
                s.spawn(move || store::save(p, &weight(TEXT, 10 + i), 1))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    assert_eq!(won[0].serial, 2);
    for r in &results {
        if let Err(e) = r {
            match e {
                SaveError::Conflict {
                    current_serial,
                    current,
                    ..
                } => {
                    assert_eq!(*current_serial, 2);
                    assert_eq!(current, &won[0].text);
                }
                other => panic!("{other}"),
            }
        }
    }
    assert_eq!(std::fs::read_to_string(&p).unwrap(), won[0].text);
    assert_eq!(store::list_versions(&p).unwrap().len(), 1);
}

#[test]
fn restore_shows_and_saves_the_old_version() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("lvs.cf");
    std::fs::write(&p, TEXT).unwrap();
    let s = store::save(&p, &weight(TEXT, 7), 1).unwrap();
    let v = store::list_versions(&p).unwrap();
    let old = store::read_version(&p, &v[0].name).unwrap();
    let diff = lvscf::unified_diff(&s.text, &old, "lvs.cf", &v[0].name);
    assert!(diff.contains("-serial_no = 2\n+serial_no = 1\n"), "{diff}");
    assert!(
        diff.contains("-        weight = 7\n+        weight = 1\n"),
        "{diff}"
    );
    let r = store::restore(&p, &v[0].name, 2).unwrap();
    assert_eq!(r.serial, 3);
    assert_eq!(r.text, TEXT.replace("serial_no = 1", "serial_no = 3"));
    let serials: Vec<i32> = store::list_versions(&p)
        .unwrap()
        .iter()
        .map(|v| v.serial)
        .collect();
    assert_eq!(serials, [2, 1]);
}

#[test]
fn history_follows_the_files_read_bits() {
    assert_eq!(store::history_mode(0o644), 0o755);
    assert_eq!(store::history_mode(0o640), 0o750);
    assert_eq!(store::history_mode(0o600), 0o700);
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("lvs.cf");
    std::fs::write(&p, TEXT).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    // a history directory made 0700 by an older version is opened up too
    std::fs::create_dir(store::history_dir(&p)).unwrap();
    std::fs::set_permissions(
        store::history_dir(&p),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    store::save(&p, &weight(TEXT, 5), 1).unwrap();
    let h = store::history_dir(&p);
    assert_eq!(std::fs::metadata(&h).unwrap().mode() & 0o7777, 0o755);
    let v = &store::list_versions(&p).unwrap()[0];
    let vm = std::fs::metadata(h.join(&v.name)).unwrap();
    assert_eq!(vm.mode() & 0o7777, 0o644);
}
