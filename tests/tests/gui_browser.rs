//! The Piranha Configuration Tool (`piranha_gui`) in a real browser: the
//! real binary on a loopback port with a temporary lvs.cf and password file
//! (`piranha-passwd`), driven by headless Chromium (`lvs_tests::browser`).
//! Logs in through the login form, sees the screens, checks that a name
//! from lvs.cf is shown as text, uses HTTP Basic authentication after
//! logging out, adds a virtual server with two real servers (lvs.cf keeps
//! its lines and passes `lvscf check`), sees bad values refused by their
//! fields with lvs.cf untouched, edits a weight and presses APPLY (a
//! stand-in `systemctl`), and saves a screenshot of each screen in
//! `target/screenshots/gui_browser*-*.png`.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lvs_tests::browser::Browser;
use serde_json::json;

const PASSWORD: &str = "pir@nha secret";
/// A virtual server name that must be shown as text, never run.
const EVIL: &str = "<script>document.title='pwned'</script>";

/// The NAT example with a second virtual server named [`EVIL`].
fn lvs_cf() -> String {
    format!(
        "serial_no = 7
primary = 203.0.113.10
service = lvs
backup_active = 1
backup = 203.0.113.11
heartbeat = 1
heartbeat_port = 539
keepalive = 6
deadtime = 18
network = nat
nat_router = 192.168.50.254 eth1:1
nat_nmask = 255.255.255.0
debug_level = NONE

# web farm
virtual www {{
    active = 1
    address = 203.0.113.100 eth0:1
    vip_nmask = 255.255.255.0
    port = 80
    protocol = tcp
    scheduler = wlc
    send = \"GET / HTTP/1.0\\r\\n\\r\\n\"
    expect = \"HTTP\"
    timeout = 6
    reentry = 30

    server web1 {{
        address = 192.168.50.11
        active = 1
        weight = 10
    }}
    server web2 {{
        address = 192.168.50.12
        active = 1
        weight = 20
    }}
}}

virtual {EVIL} {{
    active = 1
    address = 203.0.113.101 eth0:2
    vip_nmask = 255.255.255.0
    port = 25
    scheduler = rr
    server mx1 {{
        address = 192.168.50.21
        active = 1
    }}
}}
"
    )
}

/// A running `piranha_gui`; stopped (and reaped) on drop.
struct Gui {
    child: Child,
    base: String,
    log: std::path::PathBuf,
}

impl Drop for Gui {
    fn drop(&mut self) {
        let _ = lvs_tests::child::terminate(&mut self.child, Duration::from_secs(5));
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// Starts `piranha_gui --nodaemon` on 127.0.0.1 (a free port) with the
/// files in `dir`; returns once it accepts connections.
fn start_gui(dir: &Path, env: &[(&str, String)]) -> Gui {
    let cf = dir.join("lvs.cf");
    let passwd = dir.join("piranha.passwd");
    let mut last = String::new();
    // the port was free a moment ago: on a race, try another
    for attempt in 0..3 {
        let port = free_port();
        let log = dir.join(format!("piranha_gui.{attempt}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(lvs_tests::bin("piranha_gui"))
            .args(["--nodaemon", "--listen", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .arg("-c")
            .arg(&cf)
            .arg("--passwd-file")
            .arg(&passwd)
            // this machine's daemons and kernel table are not the test's
            .arg("--htaccess")
            .arg(dir.join(".htaccess"))
            .arg("--pulse-socket")
            .arg(dir.join("pulse.sock"))
            .arg("--lvsd-socket")
            .arg(dir.join("lvsd.sock"))
            .arg("--procfs")
            .arg(dir.join("proc"))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start piranha_gui");
        let mut gui = Gui {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return gui;
            }
            if let Ok(Some(st)) = gui.child.try_wait() {
                last = format!(
                    "piranha_gui exited ({st}): {}",
                    std::fs::read_to_string(&gui.log).unwrap_or_default()
                );
                break;
            }
            assert!(
                Instant::now() < end,
                "piranha_gui not listening on {addr} after 10 s: {}",
                std::fs::read_to_string(&gui.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("{last}");
}

/// Whether some table cell of the page shows exactly `text`.
fn cell_shows(b: &Browser, text: &str) -> bool {
    b.execute(
        "return [...document.querySelectorAll('td')].some(td => td.textContent === arguments[0]);",
        vec![json!(text)],
    ) == json!(true)
}

/// What the field with id `f_KEY` holds (an input's value, else its text).
fn field(b: &Browser, key: &str) -> Option<String> {
    let v = b.execute(
        "const e = document.getElementById('f_' + arguments[0]); \
         return e ? (e.value ?? e.textContent) : null;",
        vec![json!(key)],
    );
    v.as_str().map(str::to_string)
}

/// The temporary lvs.cf and password file, and `piranha_gui` on them.
fn setup() -> (tempfile::TempDir, Gui) {
    setup_env(&[])
}

/// [`setup`], with `piranha_gui` started with the variables `env` set.
fn setup_env(env: &[(&str, String)]) -> (tempfile::TempDir, Gui) {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("lvs.cf"), lvs_cf()).unwrap();
    let passwd = dir.path().join("piranha.passwd");
    let out = Command::new(lvs_tests::bin("piranha-passwd"))
        .arg("--file")
        .arg(&passwd)
        .arg(PASSWORD)
        .output()
        .expect("run piranha-passwd");
    assert!(
        out.status.success(),
        "piranha-passwd: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gui = start_gui(dir.path(), env);
    (dir, gui)
}

/// Answers each request line on the UNIX socket `path` with `answer`.
fn stand_in(path: &Path, answer: impl Fn(&str) -> String + Send + 'static) {
    use std::io::{BufRead as _, Write as _};
    let l = std::os::unix::net::UnixListener::bind(path).expect("bind a stand-in socket");
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { break };
            let mut line = String::new();
            let _ = std::io::BufReader::new(&s).read_line(&mut line);
            let _ = s.write_all(answer(line.trim()).as_bytes());
        }
    });
}

/// What CONTROL/MONITORING reads, for [`lvs_cf`]'s pair: a stand-in pulse
/// (the active primary) and lvsd (every real server up) on the sockets in
/// `dir`, and `dir/proc/net/ip_vs`.
fn stand_in_daemons(dir: &Path) {
    use piranha_status::{lvsd, pulse};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let mut st = pulse::Status {
        version: 1,
        pid: 4242,
        node: "primary".into(),
        service: "lvs".into(),
        role: "active".into(),
        ..Default::default()
    };
    st.partner.public = "203.0.113.11".into();
    st.partner.alive = true;
    st.partner.last_state = Some("running".into());
    st.daemon.name = "lvsd".into();
    st.daemon.pid = Some(4243);
    st.config.file = dir.join("lvs.cf").display().to_string();
    st.config.serial_no = Some(7);
    st.config.loaded_serial_no = Some(7);
    st.history.push(pulse::RoleChange {
        time: now - 3600.0,
        from: "standby".into(),
        to: "active".into(),
        reason: "partner dead".into(),
    });
    let doc = serde_json::to_string(&st).unwrap();
    stand_in(&dir.join("pulse.sock"), move |_| doc.clone());

    let real = |name: &str, addr: &str, pid: u32, w: u32| lvsd::RsStatus {
        name: name.into(),
        address: addr.into(),
        monitor: "running".into(),
        pid: Some(pid),
        health: "up".into(),
        weight: Some(w),
        configured_weight: w as i32,
        last_result: Some("pass".into()),
        last_change_at: Some(now - 1800.0),
        ..Default::default()
    };
    let status = lvsd::Status {
        version: 1,
        virtuals: vec![
            lvsd::VsStatus {
                name: "www".into(),
                service: "TCP 203.0.113.100:80".into(),
                state: lvsd::Phase::Up,
                reals: vec![
                    real("web1", "192.168.50.11:80", 4301, 10),
                    real("web2", "192.168.50.12:80", 4302, 20),
                ],
                ..Default::default()
            },
            lvsd::VsStatus {
                name: EVIL.into(),
                service: "TCP 203.0.113.101:25".into(),
                state: lvsd::Phase::Up,
                reals: vec![real("mx1", "192.168.50.21:25", 4303, 1)],
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let json = serde_json::to_string(&status).unwrap();
    // counters that grow with each request (for CHARTS); the traffic of
    // the first second, then some more per sample
    let evil = serde_json::to_string(EVIL).unwrap();
    let asked = std::sync::atomic::AtomicU64::new(0);
    let stats = move || {
        let n = asked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let w = |c: u64| c * (10 + n * (3 + n % 4));
        format!(
            "{{\"version\": 1, \"services\": [\
         {{\"proto\": \"TCP\", \"address\": \"203.0.113.100\", \"port\": 80, \"virtual_name\": \"www\", \"stats\": {{\"conns\": {cw}, \"inbytes\": {iw}, \"outbytes\": {ow}}}, \"dests\": [\
         {{\"address\": \"192.168.50.11\", \"port\": 80, \"weight\": 10, \"active_conns\": 12, \"inactive_conns\": 40, \"stats\": {{\"conns\": {c1}, \"inbytes\": {i1}, \"outbytes\": {o1}}}}},\
         {{\"address\": \"192.168.50.12\", \"port\": 80, \"weight\": 20, \"active_conns\": 25, \"inactive_conns\": 81, \"stats\": {{\"conns\": {c2}, \"inbytes\": {i2}, \"outbytes\": {o2}}}}}]}},\
         {{\"proto\": \"TCP\", \"address\": \"203.0.113.101\", \"port\": 25, \"virtual_name\": {evil}, \"stats\": {{\"conns\": {c3}, \"inbytes\": {i3}, \"outbytes\": {o3}}}, \"dests\": [\
         {{\"address\": \"192.168.50.21\", \"port\": 25, \"weight\": 1, \"active_conns\": 2, \"inactive_conns\": 5, \"stats\": {{\"conns\": {c3}, \"inbytes\": {i3}, \"outbytes\": {o3}}}}}]}}]}}",
            c1 = w(52),
            i1 = w(9_000),
            o1 = w(520_000),
            c2 = w(104),
            i2 = w(18_000),
            o2 = w(1_040_000),
            cw = w(52) + w(104),
            iw = w(9_000) + w(18_000),
            ow = w(520_000) + w(1_040_000),
            c3 = w(3),
            i3 = w(40_000),
            o3 = w(1_000),
        )
    };
    stand_in(&dir.join("lvsd.sock"), move |req| match req {
        "json" => json.clone(),
        "stats" => stats(),
        _ => "lvsd: 2 virtual servers up, 3 real servers up\n".to_string(),
    });
    std::fs::create_dir_all(dir.join("proc/net")).unwrap();
    std::fs::write(
        dir.join("proc/net/ip_vs"),
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port Scheduler Flags\n  \
         -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n\
         TCP  CB007164:0050 wlc\n  \
         -> C0A8320B:0050      Masq    10     12         40\n  \
         -> C0A8320C:0050      Masq    20     25         81\n\
         TCP  CB007165:0019 rr\n  \
         -> C0A83215:0019      Masq    1      2          5\n",
    )
    .unwrap();
}

/// Every screen, with HTTP Basic authentication (as admins' scripts use
/// it), and a screenshot of each.
#[test]
fn gui_screens_in_chromium() {
    let t0 = Instant::now();
    let Some(b) = Browser::start("gui_browser") else {
        return;
    };
    let (dir, gui) = setup_env(&[("PIRANHA_GUI_SAMPLE_MS", "100".into())]);
    stand_in_daemons(dir.path());
    let base = &gui.base;

    // no credentials: the login form
    b.goto(&format!("{base}/virtual"));
    b.wait_for("input[type=password]");
    assert!(b.url().contains("/login"), "{}", b.url());
    b.screenshot("login");

    b.set_basic_auth("piranha", PASSWORD);
    b.goto(&format!("{base}/virtual"));
    b.wait_for_text("203.0.113.100");
    assert_eq!(b.status(), Some(200));
    let page = b.page_text();
    for want in ["VIRTUAL SERVERS", "www", "203.0.113.101", "wlc"] {
        assert!(page.contains(want), "{want:?} not on the page:\n{page}");
    }
    // the name from lvs.cf is text on the page, not a script that ran
    assert!(cell_shows(&b, EVIL), "{EVIL:?} not shown as text:\n{page}");
    assert_eq!(
        b.execute(
            "return document.querySelectorAll('main script').length;",
            vec![]
        ),
        json!(0)
    );
    let title = b.block_on(b.client().title()).unwrap();
    assert!(
        !title.contains("pwned"),
        "the name ran as a script: {title}"
    );
    b.assert_no_console_errors();
    b.screenshot_full("virtual-servers");

    assert_eq!(b.follow("GLOBAL SETTINGS"), Some(200));
    b.wait_for_url("/global");
    b.wait_for("#f_primary");
    assert_eq!(field(&b, "primary").as_deref(), Some("203.0.113.10"));
    b.assert_no_console_errors();
    b.screenshot_full("global-settings");

    assert_eq!(b.follow("REDUNDANCY"), Some(200));
    b.wait_for_url("/redundancy");
    b.wait_for("#f_backup");
    assert_eq!(field(&b, "backup").as_deref(), Some("203.0.113.11"));
    b.assert_no_console_errors();
    b.screenshot_full("redundancy");

    assert_eq!(b.follow("CONTROL/MONITORING"), Some(200));
    b.wait_for_url("/control");
    b.wait_for_text("192.168.50.12");
    let page = b.page_text();
    for want in [
        "active",
        "203.0.113.11",
        "serial_no 7",
        "lvsd (4243)",
        "pulse (4242)",
        "nanny (4302) www/web2",
    ] {
        assert!(page.contains(want), "{want:?} not on the page:\n{page}");
    }
    b.assert_no_console_errors();
    b.screenshot_full("control");

    assert_eq!(b.follow("CHARTS"), Some(200));
    b.wait_for_url("/charts");
    // a few samples (one every 100 ms here) drawn
    let drawn = lvs_tests::netns::wait_for(Duration::from_secs(10), || {
        b.goto(&format!("{base}/charts"));
        b.execute(
            "const m = document.body.innerText.match(/(\\d+) points/); \
             return document.querySelectorAll('polyline').length > 0 \
               && m !== null && Number(m[1]) >= 5;",
            vec![],
        ) == json!(true)
    });
    assert!(drawn, "no charts:\n{}", b.page_text());
    b.assert_no_console_errors();
    b.screenshot_full("charts");

    b.goto(&format!("{base}/control"));
    assert_eq!(b.follow("CHANGE PASSWORD"), Some(200));
    b.wait_for_url("/password");
    b.wait_for("input[type=password]");
    b.assert_no_console_errors();
    b.screenshot_full("change-password");

    assert_eq!(b.follow("HISTORY"), Some(200));
    b.wait_for_url("/history");
    b.assert_no_console_errors();
    b.screenshot_full("history");

    assert_eq!(b.follow("FAILOVER"), Some(200));
    b.wait_for_url("/failover");
    b.assert_no_console_errors();
    b.screenshot_full("failover");

    assert_eq!(b.follow("VIRTUAL SERVERS"), Some(200));
    assert_eq!(b.follow("www"), Some(200));
    b.wait_for_url("/virtual/edit");
    b.wait_for("#servers");
    assert_eq!(field(&b, "scheduler").as_deref(), Some("wlc"));
    b.assert_no_console_errors();
    b.screenshot_full("virtual-server");

    assert_eq!(b.follow("web1"), Some(200));
    b.wait_for_url("/server/edit");
    assert_eq!(field(&b, "address").as_deref(), Some("192.168.50.11"));
    b.assert_no_console_errors();
    b.screenshot_full("real-server");

    eprintln!("gui_screens_in_chromium: {:.2?}", t0.elapsed());
    drop(gui);
}

/// The login form: a wrong password, the right one (back to the page
/// asked for), logging out. (Chromium sends `Origin: null` with a form POST
/// from a page served with `Referrer-Policy: no-referrer`, which a
/// same-origin check refuses: this test is what catches that.)
#[test]
fn gui_login_form_in_chromium() {
    let t0 = Instant::now();
    let Some(b) = Browser::start("gui_browser_login") else {
        return;
    };
    let (_dir, gui) = setup();
    let base = &gui.base;

    b.goto(&format!("{base}/virtual"));
    b.wait_for("input[type=password]");
    assert!(b.url().contains("/login"), "{}", b.url());

    // a wrong password: still the login form
    b.fill("password", "wrong");
    assert_eq!(b.submit("LOGIN"), Some(401));
    b.wait_for("input[type=password]");
    assert!(b.url().contains("/login"), "{}", b.url());
    assert!(!b.page_text().contains("203.0.113.100"));
    b.screenshot("wrong-password");

    b.login("piranha", PASSWORD);
    b.wait_for_url("/virtual");
    b.wait_for_text("203.0.113.100");
    b.click_link("GLOBAL SETTINGS");
    b.wait_for("#f_primary");

    // logged out: the login form again, on every page
    b.submit("LOGOUT");
    b.wait_for("input[type=password]");
    b.goto(&format!("{base}/global"));
    b.wait_for("input[type=password]");
    assert!(!b.has("#f_primary"));

    eprintln!("gui_login_form_in_chromium: {:.2?}", t0.elapsed());
    drop(gui);
}

/// Types `value` into the input with CSS `selector` (cleared first), as a
/// user would; for forms whose field names repeat on the page.
#[track_caller]
fn type_into(b: &Browser, selector: &str, value: &str) {
    let el = b
        .block_on(b.client().find(fantoccini::Locator::Css(selector)))
        .unwrap_or_else(|e| panic!("{selector} not on {}: {e}", b.url()));
    b.block_on(async {
        el.clear().await?;
        el.send_keys(value).await
    })
    .unwrap_or_else(|e| panic!("typing into {selector}: {e}"));
}

/// The value of the input with id `id` ("" when there is none).
fn value_by_id(b: &Browser, id: &str) -> String {
    b.execute(
        "const e = document.getElementById(arguments[0]); return e ? e.value : '';",
        vec![json!(id)],
    )
    .as_str()
    .unwrap_or_default()
    .to_string()
}

/// The text of the element with id `id`, if the page has one.
fn text_of(b: &Browser, id: &str) -> Option<String> {
    b.execute(
        "const e = document.getElementById(arguments[0]); return e ? e.textContent : null;",
        vec![json!(id)],
    )
    .as_str()
    .map(str::to_string)
}

/// The field error shown next to field `key` of an edit form (`#err_KEY`,
/// in the same row as the field `#f_KEY`, covering neither the field nor
/// its label).
#[track_caller]
fn field_error(b: &Browser, key: &str) -> String {
    error_by(b, &format!("f_{key}"), &format!("err_{key}"))
}

/// The error `#ERROR_ID` shown next to the field `#FIELD_ID` (see
/// [`field_error`]).
#[track_caller]
fn error_by(b: &Browser, field_id: &str, error_id: &str) -> String {
    let v = b.execute(
        "const e = document.getElementById(arguments[1]); \
         const f = document.getElementById(arguments[0]); \
         if (!e || !f) return null; \
         if (e.parentElement !== f.parentElement) return 'not next to the field'; \
         const l = document.querySelector('label[for=' + arguments[0] + ']'); \
         const over = (a, b) => [...a.getClientRects()].some(r => \
           r.left < b.right && b.left < r.right && r.top < b.bottom && b.top < r.bottom); \
         if (l && over(e, l.getBoundingClientRect())) return 'the error covers the label'; \
         if (over(e, f.getBoundingClientRect())) return 'the error covers the field'; \
         return e.textContent;",
        vec![json!(field_id), json!(error_id)],
    );
    match v.as_str() {
        Some(s) => s.to_string(),
        None => panic!(
            "no #{error_id} next to #{field_id} on {}:\n{}",
            b.url(),
            b.page_text()
        ),
    }
}

/// `lvscf check FILE`: its exit status and what it printed.
fn lvscf_check(cf: &Path) -> (bool, String) {
    let out = Command::new(lvs_tests::bin("lvscf"))
        .arg("check")
        .arg(cf)
        .output()
        .expect("run lvscf check");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Logs in through the login form, landing on VIRTUAL SERVERS.
fn login_to_virtuals(b: &Browser, gui: &Gui) {
    b.goto(&format!("{}/virtual", gui.base));
    b.wait_for("input[type=password]");
    b.login("piranha", PASSWORD);
    b.wait_for_url("/virtual");
    b.wait_for_text("203.0.113.100");
}

/// Adds a virtual server with two real servers through the VIRTUAL
/// SERVERS, VIRTUAL SERVER and REAL SERVER screens, activates it: lvs.cf
/// has the new blocks, keeps every line it had, and `lvscf check` passes.
#[test]
fn gui_add_virtual_server_in_chromium() {
    let t0 = Instant::now();
    let Some(b) = Browser::start("gui_browser_add") else {
        return;
    };
    let (dir, gui) = setup();
    let cf = dir.path().join("lvs.cf");
    let before = std::fs::read_to_string(&cf).unwrap();
    login_to_virtuals(&b, &gui);

    // VIRTUAL SERVERS: ADD
    type_into(&b, "#add_name", "shop");
    type_into(&b, "#add_vip", "203.0.113.102");
    type_into(&b, "#add_device", "eth0:3");
    type_into(&b, "#add_port", "443");
    let st = b.submit("ADD");
    assert_eq!(st, Some(200), "{}", b.page_text());
    assert!(cell_shows(&b, "shop"), "{}", b.page_text());
    b.screenshot_full("added");

    // VIRTUAL SERVER shop: its settings
    assert_eq!(b.follow("shop"), Some(200));
    b.wait_for_url("/virtual/edit");
    b.wait_for("#f_scheduler");
    b.fill("scheduler", "rr");
    type_into(&b, "#f_timeout", "12");
    assert_eq!(b.submit("ACCEPT"), Some(200), "{}", b.page_text());
    assert_eq!(text_of(&b, "error"), None, "{}", b.page_text());

    // REAL SERVER: ADD two
    for (name, addr, weight) in [
        ("shop1", "192.168.50.31", "3"),
        ("shop2", "192.168.50.32", "5"),
    ] {
        b.wait_for("#srv_name");
        type_into(&b, "#srv_name", name);
        type_into(&b, "#srv_address", addr);
        type_into(&b, "#srv_port", "443");
        type_into(&b, "#srv_weight", weight);
        assert_eq!(b.submit("ADD"), Some(200), "{}", b.page_text());
        assert_eq!(text_of(&b, "error"), None, "{}", b.page_text());
        assert!(
            cell_shows(&b, addr),
            "{addr} not listed:\n{}",
            b.page_text()
        );
    }
    b.assert_no_console_errors();
    b.screenshot_full("virtual-server");

    // REAL SERVER shop2's screen
    assert_eq!(b.follow("shop2"), Some(200));
    b.wait_for_url("/server/edit");
    assert_eq!(field(&b, "address").as_deref(), Some("192.168.50.32"));
    b.screenshot_full("real-server");

    // activate it
    assert_eq!(b.follow("VIRTUAL SERVERS"), Some(200));
    b.wait_for("#virtuals");
    assert_eq!(b.submit("ACTIVATE"), Some(200), "{}", b.page_text());
    assert_eq!(text_of(&b, "error"), None, "{}", b.page_text());
    // every virtual server active now: no ACTIVATE button left
    assert_eq!(
        b.execute(
            "return [...document.querySelectorAll('button')].some(b => b.textContent.trim() === 'ACTIVATE');",
            vec![]
        ),
        json!(false),
        "{}",
        b.page_text()
    );
    b.screenshot_full("activated");

    let after = std::fs::read_to_string(&cf).unwrap();
    // every line that was there is still there (serial_no counts saves)
    for line in before.lines().filter(|l| !l.starts_with("serial_no")) {
        assert!(
            after.lines().any(|a| a == line),
            "line {line:?} lost:\n{after}"
        );
    }
    let serial = lvscf::store::serial_of(&after).unwrap();
    assert!(serial > 7, "serial_no {serial}:\n{after}");
    // the new blocks
    let shop = after
        .find("virtual shop {")
        .map(|i| &after[i..])
        .unwrap_or_else(|| panic!("no virtual shop:\n{after}"));
    for want in [
        "active = 1",
        "address = 203.0.113.102 eth0:3",
        "port = 443",
        "scheduler = rr",
        "timeout = 12",
        "server shop1 {",
        "address = 192.168.50.31",
        "weight = 3",
        "server shop2 {",
        "address = 192.168.50.32",
        "weight = 5",
    ] {
        assert!(shop.contains(want), "{want:?} not in:\n{after}");
    }
    assert!(
        !shop.contains("active = 0"),
        "shop or a server inactive:\n{after}"
    );
    let (ok, out) = lvscf_check(&cf);
    assert!(ok, "lvscf check {}: {out}\n{after}", cf.display());

    eprintln!("gui_add_virtual_server_in_chromium: {:.2?}", t0.elapsed());
    drop(gui);
}

/// Bad values (an empty virtual server name, a port of 70000, a real
/// server address 10.1.2.300) are refused with the error shown by the
/// field, and lvs.cf stays byte for byte what it was.
#[test]
fn gui_refuses_bad_values_in_chromium() {
    let t0 = Instant::now();
    let Some(b) = Browser::start("gui_browser_bad") else {
        return;
    };
    let (dir, gui) = setup();
    let cf = dir.path().join("lvs.cf");
    let before = std::fs::read(&cf).unwrap();
    login_to_virtuals(&b, &gui);
    let unchanged = |what: &str| {
        assert!(
            std::fs::read(&cf).unwrap() == before,
            "{what}: lvs.cf changed:\n{}",
            std::fs::read_to_string(&cf).unwrap()
        );
    };

    // an empty name: the add form's error, the values typed kept
    type_into(&b, "#add_name", "");
    type_into(&b, "#add_vip", "203.0.113.102");
    assert_eq!(b.submit("ADD"), Some(422));
    let e = text_of(&b, "error").unwrap_or_else(|| panic!("no error:\n{}", b.page_text()));
    assert!(e.contains("Not added"), "{e}");
    let e = error_by(&b, "add_name", "err_add_name");
    assert!(e.contains("a name is needed"), "{e}");
    assert_eq!(b.value("vip"), "203.0.113.102");
    b.screenshot_full("empty-name");
    unchanged("an empty name");

    // a port of 70000, adding a virtual server
    type_into(&b, "#add_name", "shop");
    type_into(&b, "#add_device", "eth0:3");
    type_into(&b, "#add_port", "70000");
    assert_eq!(b.submit("ADD"), Some(422));
    let e = error_by(&b, "add_port", "err_add_port");
    assert!(e.contains("70000"), "{e}");
    assert_eq!(value_by_id(&b, "add_name"), "shop");
    assert_eq!(value_by_id(&b, "add_vip"), "203.0.113.102");
    b.screenshot_full("bad-port-add");
    unchanged("adding port 70000");

    // a port of 70000 on VIRTUAL SERVER www
    assert_eq!(b.follow("www"), Some(200));
    b.wait_for("#f_port");
    b.fill("port", "70000");
    assert_eq!(b.submit("ACCEPT"), Some(422));
    let e = field_error(&b, "port");
    assert!(e.contains("70000"), "{e}");
    b.screenshot_full("bad-port");
    unchanged("port 70000");

    // a real server address 10.1.2.300, adding one
    b.goto(&format!("{}/virtual/edit?name=www", gui.base));
    b.wait_for("#srv_name");
    type_into(&b, "#srv_name", "web3");
    type_into(&b, "#srv_address", "10.1.2.300");
    assert_eq!(b.submit("ADD"), Some(422));
    let e = error_by(&b, "srv_address", "err_srv_address");
    assert!(e.contains("10.1.2.300"), "{e}");
    // what was typed stays in the ADD form; the virtual server's own form
    // still shows the file's values
    assert_eq!(field(&b, "vip").as_deref(), Some("203.0.113.100"));
    assert_eq!(value_by_id(&b, "srv_name"), "web3");
    assert_eq!(value_by_id(&b, "srv_address"), "10.1.2.300");
    assert_eq!(field(&b, "name").as_deref(), Some("www"));
    assert_eq!(field(&b, "port").as_deref(), Some("80"));
    b.screenshot_full("bad-address-add");
    unchanged("adding 10.1.2.300");

    // ... and editing one (REAL SERVER web1)
    b.goto(&format!("{}/virtual/edit?name=www", gui.base));
    assert_eq!(b.follow("web1"), Some(200));
    b.wait_for("#f_address");
    b.fill("address", "10.1.2.300");
    assert_eq!(b.submit("ACCEPT"), Some(422));
    let e = field_error(&b, "address");
    assert!(e.contains("10.1.2.300"), "{e}");
    b.screenshot_full("bad-address");
    unchanged("editing to 10.1.2.300");
    // (the console logs the 422 answers and the missing /favicon.ico;
    // nothing else may fail)
    let console: Vec<String> = b
        .console_messages()
        .into_iter()
        .filter(|m| {
            m.starts_with("SEVERE") && !m.contains("status of 422") && !m.contains("/favicon.ico")
        })
        .collect();
    assert!(console.is_empty(), "{console:?}");

    eprintln!("gui_refuses_bad_values_in_chromium: {:.2?}", t0.elapsed());
    drop(gui);
}

/// A real server's weight edited on REAL SERVER, then APPLY on
/// CONTROL/MONITORING: `systemctl reload pulse.service` runs (a stand-in
/// `systemctl` first on `PATH` records its arguments).
#[test]
fn gui_edit_weight_and_apply_in_chromium() {
    use std::os::unix::fs::PermissionsExt as _;
    let t0 = Instant::now();
    let Some(b) = Browser::start("gui_browser_apply") else {
        return;
    };
    let bin = tempfile::tempdir().expect("temporary directory");
    let log = bin.path().join("systemctl.log");
    let stand_in = bin.path().join("systemctl");
    std::fs::write(
        &stand_in,
        format!("#!/bin/sh\necho \"$*\" >> '{}'\nexit 0\n", log.display()),
    )
    .unwrap();
    std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (dir, gui) = setup_env(&[("PATH", path)]);
    let cf = dir.path().join("lvs.cf");
    login_to_virtuals(&b, &gui);

    assert_eq!(b.follow("www"), Some(200));
    assert_eq!(b.follow("web2"), Some(200));
    b.wait_for("#f_weight");
    assert_eq!(field(&b, "weight").as_deref(), Some("20"));
    b.fill("weight", "35");
    assert_eq!(b.submit("ACCEPT"), Some(200), "{}", b.page_text());
    assert_eq!(text_of(&b, "error"), None, "{}", b.page_text());
    let text = std::fs::read_to_string(&cf).unwrap();
    let web2 = &text[text.find("server web2 {").expect("web2")..];
    assert!(web2.contains("weight = 35"), "{text}");
    assert!(!log.exists(), "systemctl ran before APPLY");

    assert_eq!(b.follow("CONTROL/MONITORING"), Some(200));
    b.wait_for("#apply");
    assert_eq!(b.submit("APPLY"), Some(200), "{}", b.page_text());
    let page = b.page_text();
    assert!(page.contains("pulse reloads lvs.cf"), "{page}");
    b.screenshot_full("applied");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap_or_default(),
        "reload pulse.service\n"
    );
    b.assert_no_console_errors();

    eprintln!(
        "gui_edit_weight_and_apply_in_chromium: {:.2?}",
        t0.elapsed()
    );
    drop(gui);
}
