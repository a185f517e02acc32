//! `lvscf save [--keep-commands] --from PENDING FILE`: each exit status,
//! and PENDING read safely (no symbolic link, no oversized file).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TEXT: &str = "serial_no = 1\nservice = lvs\nprimary = 10.0.0.1\n\nvirtual www {\n    \
                    active = 1\n    address = 192.0.2.1 eth0:1\n    server a {\n        \
                    address = 10.0.0.5\n        active = 1\n        weight = 1\n    }\n}\n";

fn lvscf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lvscf"))
        .args(args)
        .output()
        .expect("run lvscf")
}

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("lvs.cf");
    std::fs::write(&file, TEXT).unwrap();
    let pending = d.path().join("pending.cf");
    (d, file, pending)
}

fn save(keep: bool, pending: &Path, file: &Path) -> Output {
    let (p, f) = (pending.display().to_string(), file.display().to_string());
    let mut args = vec!["save"];
    if keep {
        args.push("--keep-commands");
    }
    args.extend(["--from", &p, &f]);
    lvscf(&args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn saves_and_prints_the_new_serial() {
    let (_d, file, pending) = setup();
    std::fs::write(&pending, TEXT.replace("weight = 1", "weight = 5")).unwrap();
    let o = save(true, &pending, &file);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "2\n");
    let now = std::fs::read_to_string(&file).unwrap();
    assert!(
        now.contains("weight = 5") && now.contains("serial_no = 2"),
        "{now}"
    );
    assert_eq!(lvscf::store::list_versions(&file).unwrap().len(), 1);
    // the pending file is left as it was
    assert!(
        std::fs::read_to_string(&pending)
            .unwrap()
            .contains("serial_no = 1")
    );
}

#[test]
fn refused_by_the_checks_is_2_with_line_and_key() {
    let (_d, file, pending) = setup();
    std::fs::write(
        &pending,
        TEXT.replace("address = 10.0.0.5", "address = 10.1.2.300"),
    )
    .unwrap();
    let o = save(false, &pending, &file);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains(":9:") && e.contains("address"), "{e}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), TEXT);
}

#[test]
fn an_older_serial_is_a_conflict_3() {
    let (_d, file, pending) = setup();
    std::fs::write(&file, TEXT.replace("serial_no = 1", "serial_no = 7")).unwrap();
    std::fs::write(&pending, TEXT.replace("weight = 1", "weight = 5")).unwrap();
    let o = save(true, &pending, &file);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("serial_no is 7, not 1"),
        "{}",
        stderr(&o)
    );
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("weight = 1")
    );
}

#[test]
fn keep_commands_refuses_a_changed_command_with_4() {
    let (_d, file, pending) = setup();
    let changed = TEXT.replace(
        "primary = 10.0.0.1\n",
        "primary = 10.0.0.1\nactive_cmd = /bin/sh\n",
    );
    std::fs::write(&pending, &changed).unwrap();
    let o = save(true, &pending, &file);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("global: active_cmd"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), TEXT);
    let per_block = TEXT.replace(
        "weight = 1\n    }",
        "weight = 1\n    }\n    send_program = \"/bin/sh\"",
    );
    std::fs::write(&pending, &per_block).unwrap();
    let o = save(true, &pending, &file);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("www: send_program"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), TEXT);
    // without --keep-commands the same text is saved
    std::fs::write(&pending, &changed).unwrap();
    let o = save(false, &pending, &file);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_symlink_as_pending_is_refused() {
    let (d, file, pending) = setup();
    let real = d.path().join("real.cf");
    std::fs::write(&real, TEXT.replace("weight = 1", "weight = 5")).unwrap();
    std::os::unix::fs::symlink(&real, &pending).unwrap();
    let o = save(true, &pending, &file);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), TEXT);
    // nor a directory or a FIFO
    let o = save(true, d.path(), &file);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
}

#[test]
fn an_oversized_pending_is_refused() {
    let (_d, file, pending) = setup();
    let mut big = TEXT.to_string();
    big.push_str(&"#".repeat(16 << 20));
    std::fs::write(&pending, big).unwrap();
    let o = save(true, &pending, &file);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("more than"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), TEXT);
}

#[test]
fn a_missing_pending_is_1() {
    let (d, file, _) = setup();
    let o = save(false, &d.path().join("nope"), &file);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}
