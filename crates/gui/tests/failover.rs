//! FAILOVER (`service = fos`): list, add, edit, (de)activate, delete, with
//! the start and stop commands shown and never changed.

mod common;

use common::{Gui, Req};

const FOS_CF: &str = "serial_no = 1
primary = 203.0.113.1
service = fos
failover web {
    active = 1
    address = 203.0.113.100 eth0:1
    port = 80
    start_cmd = \"/etc/init.d/httpd start\"
    stop_cmd = \"/etc/init.d/httpd stop\"
}
";

fn cf(gui: &Gui) -> String {
    std::fs::read_to_string(gui.path("lvs.cf")).unwrap()
}

fn post(gui: &Gui, path: &str, form: &[(&str, &str)]) -> common::Resp {
    let csrf = gui
        .req(Req::get("/failover").auth())
        .hidden("csrf")
        .unwrap();
    let s = lvscf::store::serial_of(&cf(gui)).unwrap().to_string();
    let mut all = vec![("csrf", csrf.as_str()), ("serial_no", s.as_str())];
    all.extend_from_slice(form);
    gui.req(Req::post(path, &all).auth())
}

#[test]
fn failover_services_are_listed_and_edited_without_their_commands() {
    let dir = Gui::files();
    std::fs::write(dir.path().join("lvs.cf"), FOS_CF).unwrap();
    let gui = Gui::start_in(dir, &[]);
    let list = gui.req(Req::get("/failover").auth());
    assert_eq!(list.status, 200, "{list:?}");
    assert!(list.body.contains(">web</a>"), "{}", list.body);
    assert!(list.body.contains("httpd start"), "{}", list.body);
    let page = gui.req(Req::get("/failover/edit?name=web").auth());
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("203.0.113.100"));
    let r = post(
        &gui,
        "/failover/edit",
        &[
            ("failover", "web"),
            ("port", "8080"),
            ("timeout", "20"),
            ("start_cmd", "/bin/sh -c id"),
            ("stop_cmd", "/bin/sh -c id"),
        ],
    );
    assert_eq!(r.status, 303, "{r:?}");
    let now = cf(&gui);
    assert!(
        now.contains("port = 8080") && now.contains("timeout = 20"),
        "{now}"
    );
    assert!(
        now.contains("start_cmd = \"/etc/init.d/httpd start\""),
        "{now}"
    );
    assert!(!now.contains("/bin/sh"), "{now}");
    // a bad port stays out
    let r = post(
        &gui,
        "/failover/edit",
        &[("failover", "web"), ("port", "70000")],
    );
    assert_eq!(r.status, 422, "{r:?}");
    assert!(r.body.contains("id=\"err_port\""), "{}", r.body);
    // a new service cannot be activated from here without its commands...
    let r = post(
        &gui,
        "/failover/add",
        &[
            ("name", "ftp"),
            ("vip", "203.0.113.101"),
            ("device", "eth0:2"),
            ("port", "21"),
        ],
    );
    assert_eq!(r.status, 303, "{r:?}");
    assert!(cf(&gui).contains("failover ftp {"));
    let before = cf(&gui);
    let r = post(
        &gui,
        "/failover/activate",
        &[("name", "ftp"), ("active", "1")],
    );
    assert_eq!(
        r.status, 422,
        "fos refuses an active service without stop_cmd: {r:?}"
    );
    assert_eq!(cf(&gui), before);
    // ... and goes again
    let r = post(&gui, "/failover/delete", &[("name", "ftp")]);
    assert_eq!(r.status, 303, "{r:?}");
    assert!(!cf(&gui).contains("ftp"));
    lvscf::check(&cf(&gui), "lvs.cf").unwrap();
}
