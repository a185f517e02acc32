//! VIRTUAL SERVERS, VIRTUAL SERVER and REAL SERVER: add, edit, (de)activate
//! and delete through lvscf, against the real piranha_gui.

mod common;

use common::{Gui, Req, Resp};

fn cf(gui: &Gui) -> String {
    std::fs::read_to_string(gui.path("lvs.cf")).unwrap()
}

fn serial(gui: &Gui) -> String {
    lvscf::store::serial_of(&cf(gui)).unwrap().to_string()
}

fn post(gui: &Gui, path: &str, form: &[(&str, &str)]) -> Resp {
    let csrf = gui.req(Req::get("/virtual").auth()).hidden("csrf").unwrap();
    let s = serial(gui);
    let mut all = vec![("csrf", csrf.as_str()), ("serial_no", s.as_str())];
    all.extend_from_slice(form);
    gui.req(Req::post(path, &all).auth())
}

fn check_passes(gui: &Gui) {
    let text = cf(gui);
    if let Err(p) = lvscf::check(&text, "lvs.cf") {
        panic!("lvscf check refuses:\n{p:?}\n{text}");
    }
}

#[test]
fn add_a_virtual_server_with_two_real_servers_then_activate_it() {
    let gui = Gui::start(&[]);
    let r = post(
        &gui,
        "/virtual/add",
        &[
            ("name", "www"),
            ("vip", "10.0.0.101"),
            ("device", "eth0:2"),
            ("port", "443"),
        ],
    );
    assert_eq!(r.status, 303, "{r:?}");
    assert!(cf(&gui).contains("virtual www {"), "{}", cf(&gui));
    check_passes(&gui);
    for (n, a) in [("a", "192.168.1.21"), ("b", "192.168.1.22")] {
        let r = post(
            &gui,
            "/server/add",
            &[
                ("virtual", "www"),
                ("name", n),
                ("address", a),
                ("weight", "2"),
                ("active", "0"),
                ("active", "1"),
            ],
        );
        assert_eq!(r.status, 303, "{r:?}");
        assert!(
            r.header("location")
                .unwrap()
                .starts_with("/virtual/edit?name=www&saved=")
        );
    }
    let r = post(
        &gui,
        "/virtual/activate",
        &[("name", "www"), ("active", "1")],
    );
    assert_eq!(r.status, 303, "{r:?}");
    check_passes(&gui);
    let c = lvscf::parse_str(&cf(&gui), "lvs.cf").unwrap().config;
    let www = c.virtuals.iter().find(|v| v.name == "www").unwrap();
    assert!(www.active);
    assert_eq!(www.port, 443);
    assert_eq!(www.servers.len(), 2);
    assert!(www.servers.iter().all(|s| s.active && s.weight == 2));
    // everything that was there is still there, byte for byte
    let old = common::LVS_CF.replace("serial_no = 3", "");
    let now = cf(&gui);
    let now_without_serial: String = now
        .lines()
        .filter(|l| !l.starts_with("serial_no"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        now_without_serial.starts_with(old.trim_start_matches('\n')),
        "{now}"
    );
    let page = gui.req(Req::get("/virtual/edit?name=www").auth());
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("192.168.1.22"), "{}", page.body);
}

#[test]
fn edit_a_virtual_server_and_a_weight_with_field_errors() {
    let gui = Gui::start(&[]);
    let name = "<script>alert(1)</script>";
    let before = cf(&gui);
    // a bad port is shown at its field, the file stays
    let r = post(
        &gui,
        "/virtual/edit",
        &[("virtual", name), ("port", "70000")],
    );
    assert_eq!(r.status, 422, "{r:?}");
    assert!(r.body.contains("id=\"err_port\""), "{}", r.body);
    assert_eq!(cf(&gui), before);
    // an empty name
    let r = post(&gui, "/virtual/edit", &[("virtual", name), ("name", "")]);
    assert_eq!(r.status, 422, "{r:?}");
    assert!(r.body.contains("id=\"err_name\""), "{}", r.body);
    // a command key is not taken from the form
    let r = post(
        &gui,
        "/virtual/edit",
        &[
            ("virtual", name),
            ("scheduler", "rr"),
            ("send_program", "/bin/sh -c id"),
        ],
    );
    assert_eq!(r.status, 303, "{r:?}");
    let now = cf(&gui);
    assert!(now.contains("scheduler = rr"), "{now}");
    assert!(!now.contains("send_program"), "{now}");
    // a weight
    let r = post(
        &gui,
        "/server/edit",
        &[("virtual", name), ("server", "web1"), ("weight", "5")],
    );
    assert_eq!(r.status, 303, "{r:?}");
    assert!(cf(&gui).contains("weight = 5"), "{}", cf(&gui));
    let r = post(
        &gui,
        "/server/edit",
        &[
            ("virtual", name),
            ("server", "web1"),
            ("address", "10.1.2.300"),
        ],
    );
    assert_eq!(r.status, 422, "{r:?}");
    assert!(r.body.contains("id=\"err_address\""), "{}", r.body);
    check_passes(&gui);
    // the page shows the name as text
    let page = gui.req(Req::get("/virtual/edit?name=%3Cscript%3Ealert(1)%3C%2Fscript%3E").auth());
    assert_eq!(page.status, 200, "{page:?}");
    assert!(!page.body.contains("<script>"), "{}", page.body);
}

#[test]
fn delete_and_deactivate_keep_the_rest() {
    let gui = Gui::start(&[]);
    let name = "<script>alert(1)</script>";
    let r = post(
        &gui,
        "/server/activate",
        &[("virtual", name), ("name", "web1"), ("active", "0")],
    );
    // pulse would refuse a file whose only virtual server has no active real server?
    assert!(matches!(r.status, 303 | 422), "{r:?}");
    let r = post(
        &gui,
        "/virtual/add",
        &[
            ("name", "spare"),
            ("vip", "10.0.0.102"),
            ("device", "eth0:3"),
        ],
    );
    assert_eq!(r.status, 303, "{r:?}");
    let r = post(&gui, "/virtual/delete", &[("name", "spare")]);
    assert_eq!(r.status, 303, "{r:?}");
    assert!(!cf(&gui).contains("spare"));
    let r = post(&gui, "/virtual/delete", &[("name", "nonexistent")]);
    assert_eq!(r.status, 422, "{r:?}");
    let r = post(&gui, "/virtual/add", &[("name", "two words")]);
    assert_eq!(r.status, 422, "{r:?}");
    check_passes(&gui);
}

/// ADD with a bad VIP: the error is next to the VIP field (the form's
/// `vip` and `device` make lvs.cf's `address`), and the file is unchanged.
#[test]
fn a_bad_vip_in_the_add_form_is_marked_at_its_field() {
    let gui = Gui::start(&[]);
    let before = cf(&gui);
    let r = post(
        &gui,
        "/virtual/add",
        &[
            ("name", "www2"),
            ("vip", "10.1.2.300"),
            ("device", "eth0:2"),
            ("port", "80"),
        ],
    );
    assert_eq!(r.status, 422, "{r:?}");
    assert!(r.body.contains("id=\"err_add_vip\""), "{}", r.body);
    assert!(r.body.contains("value=\"10.1.2.300\""), "{}", r.body);
    assert_eq!(cf(&gui), before);
}

/// send and expect are shown without the quotes lvs.cf keeps, and quoted
/// again when a changed one is saved.
#[test]
fn send_and_expect_are_edited_without_quotes() {
    let gui = Gui::start(&[]);
    let r = post(
        &gui,
        "/virtual/add",
        &[
            ("name", "www"),
            ("vip", "10.0.0.101"),
            ("device", "eth0:2"),
            ("port", "80"),
        ],
    );
    assert_eq!(r.status, 303, "{r:?}");
    let r = post(
        &gui,
        "/virtual/edit",
        &[
            ("virtual", "www"),
            ("send", "GET / HTTP/1.0\\r\\n\\r\\n"),
            ("expect", "HTTP"),
        ],
    );
    assert_eq!(r.status, 303, "{r:?}");
    let text = cf(&gui);
    assert!(
        text.contains("send = \"GET / HTTP/1.0\\r\\n\\r\\n\""),
        "{text}"
    );
    assert!(text.contains("expect = HTTP\n"), "{text}");
    check_passes(&gui);
    // saved by the save worker, a child process (piranha_gui --save-worker)
    assert!(
        gui.log_text().contains("save worker's peak resident size"),
        "{}",
        gui.log_text()
    );
    let page = gui.req(Req::get("/virtual/edit?name=www").auth());
    assert!(
        page.body
            .contains("value=\"GET &#x2f; HTTP&#x2f;1.0\\r\\n\\r\\n\""),
        "{}",
        page.body
    );
    // unchanged, it is not rewritten
    let r = post(
        &gui,
        "/virtual/edit",
        &[("virtual", "www"), ("send", "GET / HTTP/1.0\\r\\n\\r\\n")],
    );
    assert_eq!(r.status, 303, "{r:?}");
    assert!(
        r.header("location").unwrap().contains("unchanged=1"),
        "{r:?}"
    );
}

/// VIRTUAL SERVERS shows a page of them with a filter; a button on page 2
/// leads back to page 2.
#[test]
fn the_virtual_server_list_is_paged_and_filtered() {
    let dir = Gui::files();
    let file = dir.path().join("lvs.cf");
    let mut text = std::fs::read_to_string(&file).unwrap();
    for i in 0..30 {
        text.push_str(&format!(
            "\nvirtual v{i} {{\n     active = 0\n     address = 10.9.0.{} eth0:{i}\n     port = 80\n}}\n",
            i + 1
        ));
    }
    std::fs::write(&file, &text).unwrap();
    let gui = Gui::start_in(dir, &[]);
    let total = text.matches("\nvirtual ").count();
    let get = |p: &str| {
        let r = gui.req(Req::get(p).auth());
        assert_eq!(r.status, 200, "{p}: {r:?}");
        r
    };
    let rows = |body: &str| body.matches("<a href=\"/virtual/edit?name=").count();
    let r = get("/virtual");
    assert_eq!(rows(&r.body), 25, "{}", r.body);
    assert!(
        r.body
            .contains(&format!("Virtual servers 1&ndash;25 of {total}")),
        "{}",
        r.body
    );
    let r = get("/virtual?page=2");
    assert_eq!(rows(&r.body), total - 25);
    assert!(r.body.contains(">v29</a>"), "{}", r.body);
    // by name, VIP or device
    let r = get("/virtual?q=10.9.0.12");
    assert_eq!(rows(&r.body), 1, "{}", r.body);
    assert!(r.body.contains(">v11</a>"), "{}", r.body);
    assert_eq!(rows(&get("/virtual?q=V2").body), 11, "v2, v20..v29");
    // a button on page 2 keeps it
    let r = get("/virtual?page=2");
    assert!(
        r.body.contains("name=\"list\" value=\"page=2\""),
        "{}",
        r.body
    );
    let csrf = r.hidden("csrf").unwrap();
    let serial = lvscf::store::serial_of(&cf(&gui)).unwrap().to_string();
    let r = gui.req(
        Req::post(
            "/virtual/delete",
            &[
                ("csrf", &csrf),
                ("serial_no", &serial),
                ("name", "v29"),
                ("list", "page=2&x=<b>"),
            ],
        )
        .auth(),
    );
    assert_eq!(r.status, 303, "{r:?}");
    let to = r.header("location").unwrap();
    assert!(to.starts_with("/virtual?page=2&saved="), "{to}");
    assert!(!cf(&gui).contains("virtual v29 {"));
}

/// A scale-out lvs.cf (docs/scale-out.md): `scheduler = mh`, which is not
/// among Piranha's schedulers, and `scheduler_flags`.
const SCALE_OUT_CF: &str = "serial_no = 3
service = lvs
network = direct
scale_out = 1
scale_out_members = 192.0.2.1 192.0.2.2 192.0.2.3
announce_device = lvs0
virtual web {
     active = 1
     address = 198.51.100.10 eth0:1
     port = 80
     scheduler = mh
     scheduler_flags = mh-port
     protocol = tcp
     timeout = 6
     reentry = 15
     server rs1 {
         address = 10.0.0.11
         active = 1
         weight = 1
     }
}
";

/// The value of attribute `name` in tag text `tag`.
fn attr(tag: &str, name: &str) -> Option<String> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[at..].find('"')?;
    Some(lvs_tests::browser::unescape(&tag[at..at + end]))
}

/// What a browser submits for the form `id` of `html` untouched: every
/// named input (a check box only when checked), and for each select its
/// selected option, or the first when none is selected.
fn browser_form(html: &str, id: &str) -> Vec<(String, String)> {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no form {id}"));
    let form = &html[start..start + html[start..].find("</form>").expect("</form>")];
    let mut out = Vec::new();
    let mut rest = form;
    while let Some(open) = rest.find('<') {
        rest = &rest[open..];
        let close = rest.find('>').expect("tag end");
        let tag = &rest[..close];
        if tag.starts_with("<input") {
            let checkbox = attr(tag, "type").as_deref() == Some("checkbox");
            if let (Some(n), Some(v)) = (attr(tag, "name"), attr(tag, "value"))
                && (!checkbox || tag.contains(" checked"))
            {
                out.push((n, v));
            }
        } else if tag.starts_with("<select") {
            let name = attr(tag, "name").expect("select name");
            let body = &rest[..rest.find("</select>").expect("</select>")];
            let options: Vec<&str> = body.split("<option").skip(1).collect();
            let chosen = options
                .iter()
                .find(|o| o[..o.find('>').unwrap()].contains(" selected"))
                .or(options.first())
                .expect("an option");
            out.push((name, attr(chosen, "value").expect("option value")));
        }
        rest = &rest[close..];
    }
    out
}

#[test]
fn a_scale_out_file_saved_through_the_form_keeps_mh_and_its_flags() {
    let dir = Gui::files();
    std::fs::write(dir.path().join("lvs.cf"), SCALE_OUT_CF).unwrap();
    let gui = Gui::start_in(dir, &[]);
    let page = gui.req(Req::get("/virtual/edit?name=web").auth());
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        page.body.contains(r#"<option value="mh" selected>"#),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(r#"<option value="mh-port" selected>"#),
        "{}",
        page.body
    );
    // the form as a browser sends it, with one field changed
    let mut form = browser_form(&page.body, "edit");
    assert!(
        form.contains(&("scheduler".into(), "mh".into())),
        "{form:?}"
    );
    for (k, v) in &mut form {
        if k == "timeout" {
            *v = "9".into();
        }
    }
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = gui.req(Req::post("/virtual/edit", &pairs).auth());
    assert_eq!(r.status, 303, "{r:?}");
    let now = cf(&gui);
    assert_eq!(
        now,
        SCALE_OUT_CF
            .replace("serial_no = 3", "serial_no = 4")
            .replace("timeout = 6", "timeout = 9"),
        "only timeout and serial_no change"
    );
    check_passes(&gui);
    // the flags are a choice of the form too
    let r = post(
        &gui,
        "/virtual/edit",
        &[
            ("virtual", "web"),
            ("scheduler_flags", "mh-port,mh-fallback"),
        ],
    );
    assert_eq!(r.status, 303, "{r:?}");
    assert!(
        cf(&gui).contains("scheduler_flags = mh-port,mh-fallback"),
        "{}",
        cf(&gui)
    );
    // flags without mh are refused at their field, the file stays
    let before = cf(&gui);
    let r = post(
        &gui,
        "/virtual/edit",
        &[("virtual", "web"), ("scheduler", "wlc")],
    );
    assert_eq!(r.status, 422, "{r:?}");
    assert_eq!(cf(&gui), before);
    let r = post(
        &gui,
        "/virtual/edit",
        &[("virtual", "web"), ("scheduler_flags", "mh-port,sh-port")],
    );
    assert_eq!(r.status, 422, "{r:?}");
    assert!(r.body.contains("id=\"err_scheduler_flags\""), "{}", r.body);
    assert_eq!(cf(&gui), before);
}
