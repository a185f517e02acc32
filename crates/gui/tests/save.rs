//! Saving GLOBAL SETTINGS and REDUNDANCY through lvscf::store, against the
//! real piranha_gui.

mod common;

use common::{Gui, LVS_CF, Req, bytes, login};

fn token(gui: &Gui, page: &str) -> String {
    let r = gui.req(Req::get(page).auth());
    assert_eq!(r.status, 200, "{r:?}");
    r.hidden("csrf").unwrap()
}

#[test]
fn a_changed_field_is_saved_and_nothing_else_moves() {
    let gui = Gui::start(&[]);
    let csrf = token(&gui, "/global");
    let r = gui.req(
        Req::post(
            "/global",
            &[
                ("csrf", &csrf),
                ("serial_no", "3"),
                ("primary", "10.0.0.9"),
                ("network", "nat"),
                ("hard_shutdown", "0"),
                ("hard_shutdown", "1"),
                ("active_cmd", "/bin/sh -c id"),
                ("ipvsadm", "/tmp/evil"),
            ],
        )
        .auth(),
    );
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.header("location"), Some("/global?saved=4"));
    let now = String::from_utf8(bytes(&gui.path("lvs.cf"))).unwrap();
    let expected = LVS_CF
        .replace("serial_no = 3", "serial_no = 4")
        .replace("primary = 10.0.0.1", "primary = 10.0.0.9");
    assert_eq!(now, expected, "only primary and serial_no change");
    assert!(!now.contains("active_cmd") && !now.contains("/tmp/evil"));
    let history: Vec<_> = std::fs::read_dir(gui.path("lvs.cf.history"))
        .unwrap()
        .collect();
    assert_eq!(history.len(), 1);
    let page = gui.req(Req::get("/global?saved=4").auth());
    assert!(page.body.contains("serial_no 4"), "{}", page.body);
    assert!(page.body.contains("10.0.0.9"));

    // a form loaded before that save is refused, with a diff
    let r = gui.req(
        Req::post(
            "/global",
            &[("csrf", &csrf), ("serial_no", "3"), ("primary", "10.0.0.7")],
        )
        .auth(),
    );
    assert_eq!(r.status, 409, "{r:?}");
    assert!(r.body.contains("changed by someone else"), "{}", r.body);
    assert!(r.body.contains("-primary = 10.0.0.9"), "{}", r.body);
    assert!(r.body.contains("+primary = 10.0.0.7"), "{}", r.body);
    assert_eq!(
        String::from_utf8(bytes(&gui.path("lvs.cf"))).unwrap(),
        expected
    );
}

#[test]
fn ipv6_values_go_through_lvscf() {
    let gui = Gui::start(&[]);
    let before = bytes(&gui.path("lvs.cf"));
    let csrf = token(&gui, "/redundancy");
    for bad in ["2001:db8::1::2", "fe80::1%eth0"] {
        let r = gui.req(
            Req::post(
                "/redundancy",
                &[("csrf", &csrf), ("serial_no", "3"), ("backup", bad)],
            )
            .auth(),
        );
        assert_eq!(r.status, 422, "{bad}: {r:?}");
        assert!(r.body.contains("id=\"err_backup\""), "{}", r.body);
        assert_eq!(bytes(&gui.path("lvs.cf")), before, "{bad}");
    }
    // an IPv6 primary (no backup set): saved as written
    let csrf = token(&gui, "/global");
    let r = gui.req(
        Req::post(
            "/global",
            &[
                ("csrf", &csrf),
                ("serial_no", "3"),
                ("primary", "2001:db8::9"),
            ],
        )
        .auth(),
    );
    assert_eq!(r.status, 303, "{r:?}");
    let now = String::from_utf8(bytes(&gui.path("lvs.cf"))).unwrap();
    assert!(now.contains("\nprimary = 2001:db8::9\n"), "{now}");
}

#[test]
fn a_bad_value_is_shown_at_its_field_and_the_file_stays() {
    let gui = Gui::start(&[]);
    let before = bytes(&gui.path("lvs.cf"));
    let csrf = token(&gui, "/redundancy");
    for (key, value) in [
        ("heartbeat_port", "70000"),
        ("backup", "10.1.2.300"),
        ("keepalive", "soon"),
    ] {
        let r = gui.req(
            Req::post(
                "/redundancy",
                &[("csrf", &csrf), ("serial_no", "3"), (key, value)],
            )
            .auth(),
        );
        assert_eq!(r.status, 422, "{key}={value}: {r:?}");
        assert!(
            r.body.contains(&format!("id=\"err_{key}\"")),
            "{key}: {}",
            r.body
        );
        assert!(r.body.contains(value), "the submitted value is shown again");
        assert_eq!(bytes(&gui.path("lvs.cf")), before, "{key}");
    }
    let csrf = token(&gui, "/global");
    let r = gui.req(
        Req::post(
            "/global",
            &[
                ("csrf", &csrf),
                ("serial_no", "3"),
                ("debug_level", "NONE\nactive_cmd = /bin/sh"),
            ],
        )
        .auth(),
    );
    assert_eq!(r.status, 422, "{r:?}");
    assert!(r.body.contains("id=\"err_debug_level\""), "{}", r.body);
    assert_eq!(bytes(&gui.path("lvs.cf")), before);
    assert!(!gui.path("lvs.cf.history").exists());
}

#[test]
fn a_browser_session_saves_redundancy() {
    let gui = Gui::start(&[]);
    let (cookie, _) = login(&gui);
    let page = gui.req(Req::get("/redundancy").cookie(&cookie));
    let csrf = page.hidden("csrf").unwrap();
    let r = gui.req(
        Req::post(
            "/redundancy",
            &[
                ("csrf", &csrf),
                ("serial_no", "3"),
                ("backup_active", "0"),
                ("backup_active", "1"),
                ("backup", "10.0.0.2"),
                ("deadtime", "10"),
            ],
        )
        .cookie(&cookie),
    );
    assert_eq!(r.status, 303, "{r:?}");
    let now = String::from_utf8(bytes(&gui.path("lvs.cf"))).unwrap();
    assert!(now.contains("backup_active = 1\n"), "{now}");
    assert!(now.contains("deadtime = 10\n"), "{now}");
    assert!(now.contains("backup = 10.0.0.2\n"), "{now}");
    assert!(now.contains("serial_no = 4\n"), "{now}");
    // the same form again changes nothing
    let r = gui.req(
        Req::post(
            "/redundancy",
            &[("csrf", &csrf), ("serial_no", "4"), ("deadtime", "10")],
        )
        .cookie(&cookie),
    );
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.header("location"), Some("/redundancy?unchanged=1"));
}

#[test]
fn history_lists_diffs_and_restores_versions() {
    let gui = Gui::start(&[]);
    let csrf = token(&gui, "/global");
    let r = gui.req(
        Req::post(
            "/global",
            &[("csrf", &csrf), ("serial_no", "3"), ("primary", "10.0.0.9")],
        )
        .auth(),
    );
    assert_eq!(r.status, 303, "{r:?}");
    let page = gui.req(Req::get("/history").auth());
    assert_eq!(page.status, 200, "{page:?}");
    let name = page.hidden("name").expect("a version to restore");
    assert!(name.ends_with("-serial-3.cf"), "{name}");
    let diff = gui.req(Req::get(&format!("/history?view={name}")).auth());
    assert!(diff.body.contains("-primary = 10.0.0.9"), "{}", diff.body);
    assert!(diff.body.contains("+primary = 10.0.0.1"), "{}", diff.body);
    // a stale form is refused
    let r = gui.req(
        Req::post(
            "/history/restore",
            &[("csrf", &csrf), ("serial_no", "3"), ("name", &name)],
        )
        .auth(),
    );
    assert_eq!(r.status, 422, "{r:?}");
    let r = gui.req(
        Req::post(
            "/history/restore",
            &[("csrf", &csrf), ("serial_no", "4"), ("name", &name)],
        )
        .auth(),
    );
    assert_eq!(r.status, 303, "{r:?}");
    let now = String::from_utf8(bytes(&gui.path("lvs.cf"))).unwrap();
    assert_eq!(now, LVS_CF.replace("serial_no = 3", "serial_no = 5"));
    // a name outside the history is not read
    let r = gui.req(
        Req::post(
            "/history/restore",
            &[
                ("csrf", &csrf),
                ("serial_no", "5"),
                ("name", "../piranha.passwd"),
            ],
        )
        .auth(),
    );
    assert_eq!(r.status, 422, "{r:?}");
    let r = gui.req(Req::get("/history?view=..%2Fpiranha.passwd").auth());
    assert_eq!(r.status, 404, "{r:?}");
    assert!(!r.body.contains("apr1"), "{}", r.body);
}

#[test]
fn restoring_a_version_with_other_commands_is_refused() {
    let gui = Gui::start(&[]);
    let cf = gui.path("lvs.cf");
    // root edits the file by hand: a version with an active_cmd...
    std::fs::write(&cf, format!("active_cmd = /usr/local/bin/up\n{LVS_CF}")).unwrap();
    let csrf = token(&gui, "/global");
    let r = gui.req(
        Req::post(
            "/global",
            &[("csrf", &csrf), ("serial_no", "3"), ("primary", "10.0.0.9")],
        )
        .auth(),
    );
    assert_eq!(r.status, 303, "{r:?}");
    // ... then removes it
    let text = std::fs::read_to_string(&cf).unwrap();
    std::fs::write(&cf, text.replace("active_cmd = /usr/local/bin/up\n", "")).unwrap();
    let page = gui.req(Req::get("/history").auth());
    let name = page.hidden("name").unwrap();
    let before = bytes(&cf);
    let r = gui.req(
        Req::post(
            "/history/restore",
            &[("csrf", &csrf), ("serial_no", "4"), ("name", &name)],
        )
        .auth(),
    );
    assert_eq!(r.status, 422, "{r:?}");
    assert!(r.body.contains("restore it as root"), "{}", r.body);
    assert_eq!(bytes(&cf), before);
}
