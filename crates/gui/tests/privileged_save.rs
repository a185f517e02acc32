//! Saving through the privileged path (piranha_gui(8), SAVING AS AN
//! UNPRIVILEGED USER): the new text goes to STATE_DIR/pending.cf and the
//! save command runs; here `--save-command` names a stand-in for
//! `systemctl start piranha-gui-save.service` (the tests run as root, who
//! can write lvs.cf directly), which runs the real `lvscf save
//! --keep-commands`, or refuses as that would.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use common::{Gui, LVS_CF, Req, bytes};

fn token(gui: &Gui, page: &str) -> String {
    let r = gui.req(Req::get(page).auth());
    assert_eq!(r.status, 200, "{r:?}");
    r.hidden("csrf").unwrap()
}

/// The workspace's `lvscf` binary, built if this test run did not.
fn lvscf_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap();
    let dir = if dir.ends_with("deps") {
        dir.parent().unwrap()
    } else {
        dir
    };
    let bin = dir.join("lvscf");
    if !bin.exists() {
        let mut c = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()));
        c.args(["build", "-p", "lvscf", "--bin", "lvscf"]);
        if dir.ends_with("release") {
            c.arg("--release");
        }
        assert!(c.status().unwrap().success(), "cargo build -p lvscf");
    }
    bin
}

/// A stand-in save command: records its arguments and the pending text,
/// then runs `body` (a shell fragment).
fn stand_in(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join("save-stand-in");
    let log = dir.join("stand-in.log");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\necho \"$@\" >> {log}\ncp \"$PIRANHA_GUI_PENDING\" {seen}\n{body}\n",
            log = log.display(),
            seen = dir.join("seen.cf").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn start(body: &str) -> (Gui, PathBuf) {
    let files = Gui::files();
    let dir = files.path().to_path_buf();
    let cmd = stand_in(&dir, body);
    let state = dir.join("state");
    let gui = Gui::start_in(
        files,
        &[
            "--state-dir",
            state.to_str().unwrap(),
            "--save-command",
            &format!("{} one two", cmd.display()),
        ],
    );
    (gui, dir)
}

#[test]
fn the_command_runs_with_the_pending_file_and_lvscf_save_saves() {
    let lvscf = lvscf_bin();
    let (gui, dir) = start(&format!(
        "exec {} save --keep-commands --from \"$PIRANHA_GUI_PENDING\" \"$PIRANHA_GUI_CONFIGFILE\"",
        lvscf.display()
    ));
    let csrf = token(&gui, "/global");
    let r = gui.req(
        Req::post(
            "/global",
            &[("csrf", &csrf), ("serial_no", "3"), ("primary", "10.0.0.9")],
        )
        .auth(),
    );
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.header("location"), Some("/global?saved=4"));
    let now = String::from_utf8(bytes(&gui.path("lvs.cf"))).unwrap();
    assert_eq!(
        now,
        LVS_CF
            .replace("serial_no = 3", "serial_no = 4")
            .replace("primary = 10.0.0.1", "primary = 10.0.0.9")
    );
    // the command ran once, without a shell splitting anything else in,
    // with the pending text at the serial the form was for
    let log = std::fs::read_to_string(dir.join("stand-in.log")).unwrap();
    assert_eq!(log, "one two\n");
    let seen = std::fs::read_to_string(dir.join("seen.cf")).unwrap();
    assert!(seen.contains("serial_no = 3") && seen.contains("primary = 10.0.0.9"));
    let state = dir.join("state");
    let pending = state.join("pending.cf");
    assert_eq!(
        std::fs::metadata(&pending).unwrap().permissions().mode() & 0o7777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&state).unwrap().permissions().mode() & 0o7777,
        0o700
    );
    assert_eq!(
        lvscf::store::list_versions(&gui.path("lvs.cf"))
            .unwrap()
            .len(),
        1
    );
    let page = gui.req(Req::get("/global?saved=4").auth());
    assert!(page.body.contains("serial_no 4"), "{}", page.body);

    // a pending.cf replaced by a symbolic link is not followed: the GUI
    // writes a new file and renames it over the link
    let target = dir.join("elsewhere");
    std::fs::write(&target, "untouched").unwrap();
    std::fs::remove_file(&pending).unwrap();
    std::os::unix::fs::symlink(&target, &pending).unwrap();
    let r = gui.req(
        Req::post(
            "/global",
            &[("csrf", &csrf), ("serial_no", "4"), ("primary", "10.0.0.8")],
        )
        .auth(),
    );
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
    assert!(!std::fs::symlink_metadata(&pending).unwrap().is_symlink());

    // restoring a version goes the same way
    let page = gui.req(Req::get("/history").auth());
    let name = page.hidden("name").unwrap();
    let r = gui.req(
        Req::post(
            "/history/restore",
            &[("csrf", &csrf), ("serial_no", "5"), ("name", &name)],
        )
        .auth(),
    );
    assert!(r.status == 303 || r.status == 200, "{r:?}");
    let now = String::from_utf8(bytes(&gui.path("lvs.cf"))).unwrap();
    assert!(now.contains("serial_no = 6"), "{now}");
}

#[test]
fn a_refused_save_is_shown_as_refused_and_the_file_stays() {
    let (gui, _dir) = start("echo 'lvs.cf: global: active_cmd: a command key differs' >&2\nexit 4");
    let before = bytes(&gui.path("lvs.cf"));
    let csrf = token(&gui, "/global");
    let r = gui.req(
        Req::post(
            "/global",
            &[("csrf", &csrf), ("serial_no", "3"), ("primary", "10.0.0.9")],
        )
        .auth(),
    );
    assert_eq!(r.status, 422, "{r:?}");
    assert!(r.body.contains("Refused"), "{}", r.body);
    assert!(
        r.body.contains("journalctl -u piranha-gui-save"),
        "{}",
        r.body
    );
    assert_eq!(bytes(&gui.path("lvs.cf")), before);
}

#[test]
fn a_conflict_after_the_command_shows_the_diff() {
    // someone saved first: the command fails and lvs.cf has another serial
    let (gui, dir) =
        start("sed -i 's/serial_no = 3/serial_no = 7/' \"$PIRANHA_GUI_CONFIGFILE\"\nexit 1");
    let csrf = token(&gui, "/global");
    let r = gui.req(
        Req::post(
            "/global",
            &[("csrf", &csrf), ("serial_no", "3"), ("primary", "10.0.0.9")],
        )
        .auth(),
    );
    assert_eq!(r.status, 409, "{r:?}");
    assert!(r.body.contains("changed by someone else"), "{}", r.body);
    assert!(dir.join("seen.cf").exists());
}
