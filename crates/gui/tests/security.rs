//! piranha_gui's security, against the real binary on a loopback port:
//! authentication on every path and method, the login form and its
//! session cookie, CSRF tokens, the body limit, the failed-login limit,
//! --allow and .htaccess, HTML escaping, and CVE-2013-6492.

mod common;

use common::{Gui, PASSWORD, Req, bytes, eventually, login};

const PATHS: [&str; 17] = [
    "/",
    "/password",
    "/virtual/edit?name=x",
    "/virtual/add",
    "/virtual/delete",
    "/server/edit?virtual=x&name=y",
    "/server/add",
    "/failover/edit?name=x",
    "/charts",
    "/control",
    "/global",
    "/redundancy",
    "/virtual",
    "/logout",
    "/no/such/page",
    "/secure/control.php",
    "/static/monitor.js",
];
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

#[test]
fn every_path_and_method_needs_the_password() {
    let gui = Gui::start(&[]);
    for path in PATHS {
        for m in METHODS {
            let r = gui.req(Req::new(m, path).body(b"primary=6.6.6.6".to_vec()));
            assert_eq!(r.status, 401, "{m} {path} without credentials: {r:?}");
            assert!(
                r.header("www-authenticate")
                    .is_some_and(|v| v.starts_with("Basic ")),
                "{m} {path}: {r:?}"
            );
            let r = gui.req(Req::new(m, path).basic("piranha", "wrong"));
            assert!(
                matches!(r.status, 401 | 429),
                "{m} {path} wrong password: {r:?}"
            );
            let r = gui.req(Req::new(m, path).basic("root", PASSWORD));
            assert!(
                matches!(r.status, 401 | 429),
                "{m} {path} other user: {r:?}"
            );
            let r = gui.req(Req::new(m, path).cookie("piranha_session=forged"));
            assert_eq!(r.status, 401, "{m} {path} forged session: {r:?}");
        }
        // a browser is sent to the login form instead
        let r = gui.req(Req::get(path).header("Accept", "text/html"));
        assert_eq!(r.status, 303, "{path}: {r:?}");
        assert!(
            r.header("location").unwrap().starts_with("/login?next="),
            "{r:?}"
        );
    }
}

#[test]
fn basic_authentication_is_accepted_on_every_page() {
    let gui = Gui::start(&[]);
    for (path, status) in [
        ("/", 303),
        ("/control", 200),
        ("/global", 200),
        ("/redundancy", 200),
        ("/virtual", 200),
        ("/no/such/page", 404),
    ] {
        let r = gui.req(Req::get(path).auth());
        assert_eq!(r.status, status, "GET {path}: {r:?}");
    }
    for m in ["PUT", "DELETE", "PATCH"] {
        let r = gui.req(Req::new(m, "/global").auth());
        assert_eq!(r.status, 405, "{m}: {r:?}");
    }
    let r = gui.req(Req::get("/global").auth());
    for k in [
        "content-security-policy",
        "x-frame-options",
        "cache-control",
    ] {
        assert!(r.header(k).is_some(), "{k}: {r:?}");
    }
    assert!(r.body.contains("GLOBAL SETTINGS") && r.body.contains("10.0.0.1"));
    for tab in [
        "CONTROL/MONITORING",
        "GLOBAL SETTINGS",
        "REDUNDANCY",
        "VIRTUAL SERVERS",
    ] {
        assert!(r.body.contains(tab), "{tab}");
    }
}

/// CVE-2013-6492: the original protected only GET, so a POST without a
/// password could rewrite lvs.cf.
#[test]
fn cve_2013_6492_unauthenticated_post_leaves_lvs_cf_alone() {
    let gui = Gui::start(&[]);
    let cf = gui.path("lvs.cf");
    let before = bytes(&cf);
    let form = [
        ("primary", "6.6.6.6"),
        ("network", "direct"),
        ("serial_no", "3"),
        ("active_cmd", "/bin/sh -c id"),
    ];
    for path in [
        "/global",
        "/redundancy",
        "/virtual",
        "/secure/global_settings.php",
    ] {
        let r = gui.req(Req::post(path, &form));
        assert_eq!(r.status, 401, "POST {path}: {r:?}");
        // nor with credentials but without the form's CSRF token
        let r = gui.req(Req::post(path, &form).auth());
        assert_eq!(r.status, 403, "POST {path} without token: {r:?}");
        let r = gui.req(Req::post(path, &[("csrf", "guess"), ("primary", "6.6.6.6")]).auth());
        assert_eq!(r.status, 403, "POST {path} wrong token: {r:?}");
    }
    assert_eq!(bytes(&cf), before, "lvs.cf changed");
}

#[test]
fn login_form_session_cookie_csrf_and_logout() {
    let gui = Gui::start(&[]);
    let form = gui.req(Req::get("/login"));
    let lc = form.set_cookie("piranha_login").unwrap();
    assert!(
        lc.contains("HttpOnly") && lc.contains("SameSite=Strict"),
        "{lc}"
    );
    // a login without the form's token is refused
    let r = gui.req(Req::post(
        "/login",
        &[("username", "piranha"), ("password", PASSWORD)],
    ));
    assert_eq!(r.status, 403, "{r:?}");
    assert!(r.set_cookie("piranha_session").is_none());
    // a wrong password
    let token = form.hidden("csrf").unwrap();
    let lcv = lc.split(';').next().unwrap();
    let r = gui.req(
        Req::post(
            "/login",
            &[
                ("csrf", &token),
                ("username", "piranha"),
                ("password", "no"),
            ],
        )
        .cookie(lcv),
    );
    assert_eq!(r.status, 401, "{r:?}");
    assert!(r.set_cookie("piranha_session").is_none());
    // the real thing
    let (cookie, csrf) = login(&gui);
    let r = gui.req(Req::get("/login"));
    assert_eq!(r.status, 200);
    let form = gui.req(Req::post("/login", &[]));
    assert_eq!(form.status, 403);
    let page = gui.req(Req::get("/virtual").cookie(&cookie));
    assert_eq!(page.status, 200);
    // cookie attributes
    let r = gui.req(Req::get("/login"));
    let t = r.hidden("csrf").unwrap();
    let l = r.set_cookie("piranha_login").unwrap();
    let r = gui.req(
        Req::post(
            "/login",
            &[
                ("csrf", &t),
                ("username", "piranha"),
                ("password", PASSWORD),
            ],
        )
        .cookie(l.split(';').next().unwrap()),
    );
    let sc = r.set_cookie("piranha_session").unwrap();
    assert!(
        sc.contains("HttpOnly") && sc.contains("SameSite=Strict"),
        "{sc}"
    );
    assert!(!sc.contains("Secure"), "plain HTTP: {sc}");
    // POSTs need the token
    let r = gui.req(Req::post("/logout", &[]).cookie(&cookie));
    assert_eq!(r.status, 403, "{r:?}");
    let r = gui.req(Req::post("/logout", &[("csrf", "x")]).cookie(&cookie));
    assert_eq!(r.status, 403, "{r:?}");
    // and a same-site Origin
    let r = gui.req(
        Req::post("/logout", &[("csrf", &csrf)])
            .cookie(&cookie)
            .header("Origin", "http://evil.example"),
    );
    assert_eq!(r.status, 403, "{r:?}");
    // the session's token is not a Basic client's and the other way round
    let basic_csrf = gui.req(Req::get("/global").auth()).hidden("csrf").unwrap();
    assert_ne!(basic_csrf, csrf);
    let r = gui.req(Req::post("/logout", &[("csrf", &basic_csrf)]).cookie(&cookie));
    assert_eq!(r.status, 403, "{r:?}");
    let r = gui.req(Req::post("/logout", &[("csrf", &csrf)]).cookie(&cookie));
    assert_eq!(r.status, 303, "{r:?}");
    let r = gui.req(Req::get("/global").cookie(&cookie));
    assert_eq!(r.status, 401, "session ended: {r:?}");
}

#[test]
fn a_new_password_ends_sessions() {
    let gui = Gui::start(&[]);
    let (cookie, _) = login(&gui);
    std::fs::write(
        gui.path("piranha.passwd"),
        "piranha:{SHA}d25IzV/evjfy+HmPLunCdVze84c=\n",
    )
    .unwrap();
    let r = gui.req(Req::get("/global").cookie(&cookie));
    assert_eq!(r.status, 401, "{r:?}");
    // the same password in another format still works with Basic
    assert_eq!(gui.req(Req::get("/global").auth()).status, 200);
}

#[test]
fn request_bodies_are_limited() {
    let gui = Gui::start(&[]);
    // declared too large: refused before anything else, body unsent
    let big = || Req::new("POST", "/global").header("Content-Length", "204800");
    let r = gui.req(big());
    assert_eq!(r.status, 413, "unauthenticated: {r:?}");
    let r = gui.req(big().auth());
    assert_eq!(r.status, 413, "authenticated: {r:?}");
    let r = gui.req(Req::new("POST", "/login").header("Content-Length", "204800"));
    assert_eq!(r.status, 413, "{r:?}");
    // chunked, no length declared
    let mut chunked = Vec::new();
    for _ in 0..3 {
        chunked.extend_from_slice(format!("{:x}\r\n", 32 << 10).as_bytes());
        chunked.extend_from_slice(&vec![b'a'; 32 << 10]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let r = gui.req(
        Req::new("POST", "/global")
            .auth()
            .header("Transfer-Encoding", "chunked")
            .body(chunked),
    );
    assert!(matches!(r.status, 413 | 400), "{r:?}");
    let r = gui.req(Req::get("/global").auth());
    assert_eq!(r.status, 200);
}

#[test]
fn failed_logins_are_limited_per_address_and_logged() {
    let gui = Gui::start(&[]);
    for i in 0..5 {
        let r = gui.req(Req::get("/global").basic("piranha", &format!("guess{i}")));
        assert_eq!(r.status, 401, "{r:?}");
    }
    // now even the right password is refused from this address...
    let r = gui.req(Req::get("/global").auth());
    assert_eq!(r.status, 429, "{r:?}");
    assert!(r.header("retry-after").is_some());
    let form = gui.req(Req::get("/login"));
    let t = form.hidden("csrf").unwrap();
    let l = form.set_cookie("piranha_login").unwrap();
    let r = gui.req(
        Req::post(
            "/login",
            &[
                ("csrf", &t),
                ("username", "piranha"),
                ("password", PASSWORD),
            ],
        )
        .cookie(l.split(';').next().unwrap()),
    );
    assert_eq!(r.status, 429, "{r:?}");
    // ... but not from another one
    let r = gui.req_from("127.0.0.2", Req::get("/global").auth());
    assert_eq!(r.status, 200, "{r:?}");
    eventually("the failures in the log", || {
        let log = gui.log_text();
        log.matches("failed login").count() >= 5 && log.contains("127.0.0.1")
    });
}

#[test]
fn allow_option_limits_addresses() {
    let gui = Gui::start(&["--allow", "127.0.0.2/32", "--allow", "10.0.0.0/8"]);
    let r = gui.req(Req::get("/global").auth());
    assert_eq!(r.status, 403, "{r:?}");
    let r = gui.req(Req::new("POST", "/global"));
    assert_eq!(r.status, 403, "{r:?}");
    let r = gui.req_from("127.0.0.2", Req::get("/global").auth());
    assert_eq!(r.status, 200, "{r:?}");
    let r = gui.req_from("127.0.0.2", Req::get("/global"));
    assert_eq!(r.status, 401, "still needs the password: {r:?}");
}

#[test]
fn htaccess_is_honoured_and_reread() {
    let gui = Gui::start(&[]);
    let ht = gui.path(".htaccess");
    assert_eq!(
        gui.req_from("127.0.0.3", Req::get("/global").auth()).status,
        200
    );
    std::fs::write(
        &ht,
        "Order deny,allow\nDeny from all\nAllow from 127.0.0.1\n",
    )
    .unwrap();
    assert_eq!(
        gui.req_from("127.0.0.3", Req::get("/global").auth()).status,
        403
    );
    assert_eq!(gui.req_from("127.0.0.3", Req::get("/login")).status, 403);
    assert_eq!(gui.req(Req::get("/global").auth()).status, 200);
    std::fs::write(
        &ht,
        "Order allow,deny\nAllow from 127.0.0.0/255.255.255.0\nDeny from 127.0.0.1\n",
    )
    .unwrap();
    assert_eq!(gui.req(Req::get("/global").auth()).status, 403);
    assert_eq!(
        gui.req_from("127.0.0.3", Req::get("/global").auth()).status,
        200
    );
    std::fs::remove_file(&ht).unwrap();
    assert_eq!(gui.req(Req::get("/global").auth()).status, 200);
}

#[test]
fn names_from_lvs_cf_are_shown_as_text() {
    let gui = Gui::start(&[]);
    let r = gui.req(Req::get("/virtual").auth());
    assert_eq!(r.status, 200);
    assert!(!r.body.contains("<script>alert(1)</script>"), "{}", r.body);
    assert!(
        r.body
            .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("<script"), "no script element at all");
}
