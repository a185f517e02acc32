//! The Piranha Configuration Tool (`piranha_gui`) in a real browser: the
//! real binary on a loopback port with a temporary lvs.cf and password file
//! (`piranha-passwd`), driven by headless Chromium (`lvs_tests::browser`).
//! Logs in through the login form, sees the screens, checks that a name
//! from lvs.cf is shown as text, uses HTTP Basic authentication after
//! logging out, and saves a screenshot of each screen in
//! `target/screenshots/gui_browser-*.png`.

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
fn start_gui(dir: &Path) -> Gui {
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
    let gui = start_gui(dir.path());
    (dir, gui)
}

/// Every screen, with HTTP Basic authentication (as admins' scripts use
/// it), and a screenshot of each.
#[test]
fn gui_screens_in_chromium() {
    let t0 = Instant::now();
    let Some(b) = Browser::start("gui_browser") else {
        return;
    };
    let (_dir, gui) = setup();
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
    b.assert_no_console_errors();
    b.screenshot_full("control");

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
