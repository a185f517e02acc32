//! The browser harness (`lvs_tests::browser`) against a tiny HTTP server of
//! the test's own on 127.0.0.1: a form filled and submitted in headless
//! Chromium, what the server received and what the page shows; a login
//! form; Basic authentication through an extra header; HTML-escaped text
//! shown as text (the pattern the web tool's tests use); a PNG screenshot;
//! and no process left behind.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lvs_tests::browser::Browser;

/// One request the server received.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

type Log = Arc<Mutex<Vec<Request>>>;

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `application/x-www-form-urlencoded` → name, value pairs.
fn parse_form(body: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                    match u8::from_str_radix(hex, 16) {
                        Ok(v) => {
                            out.push(v);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Stored text that must be shown as text, never run.
const STORED: &str = "<script>document.title='pwned'</script>";
/// The session cookie the login form sets.
const COOKIE: &str = "session=s3cr3t";
/// `piranha:secret` in base64.
const BASIC: &str = "Basic cGlyYW5oYTpzZWNyZXQ=";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><meta charset=utf-8><title>{title}</title></head>\
         <body style=\"font-family: sans-serif\">{body}</body></html>"
    )
}

/// The answer to `req`: status line, extra headers, body.
fn route(req: &Request) -> (&'static str, Vec<String>, String) {
    let ok = "200 OK";
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/") => (
            ok,
            vec![],
            page(
                "Form",
                &format!(
                    "<h1>VIRTUAL SERVER</h1>\
                     <p>Stored name: <span id=stored>{}</span></p>\
                     <form method=post action=/save>\
                     <label>Name <input name=name></label>\
                     <label>Port <input name=port value=80></label>\
                     <label>Protocol <select name=protocol>\
                     <option value=tcp>TCP</option><option value=udp>UDP</option></select></label>\
                     <label><input type=checkbox name=active> Active</label>\
                     <textarea name=send></textarea>\
                     <button type=submit>ACCEPT</button></form>",
                    html_escape(STORED)
                ),
            ),
        ),
        ("POST", "/save") => {
            let form = parse_form(&req.body);
            let rows: String = form
                .iter()
                .map(|(k, v)| {
                    format!(
                        "<tr><td>{}</td><td class=v>{}</td></tr>",
                        html_escape(k),
                        html_escape(v)
                    )
                })
                .collect();
            (
                ok,
                vec![],
                page(
                    "Saved",
                    &format!("<h1>Saved</h1><table id=saved>{rows}</table>"),
                ),
            )
        }
        ("GET", "/login") => (
            ok,
            vec![],
            page(
                "Login",
                "<form method=post action=/login>\
                 <input name=username><input type=password name=password>\
                 <input type=submit value=\"Log in\"></form>",
            ),
        ),
        ("POST", "/login") => {
            let form = parse_form(&req.body);
            let good = form.contains(&("username".into(), "piranha".into()))
                && form.contains(&("password".into(), "secret".into()));
            if good {
                (
                    "303 See Other",
                    vec![
                        format!("Set-Cookie: {COOKIE}; Path=/; HttpOnly"),
                        "Location: /home".into(),
                    ],
                    String::new(),
                )
            } else {
                ("403 Forbidden", vec![], page("No", "<p>wrong password</p>"))
            }
        }
        ("GET", "/home") => {
            let cookie = req.headers.get("cookie").map(String::as_str);
            if cookie == Some(COOKIE) {
                (ok, vec![], page("Home", "<h1>GLOBAL SETTINGS</h1>"))
            } else {
                ("403 Forbidden", vec![], page("No", "<p>not logged in</p>"))
            }
        }
        ("GET", "/basic") => {
            if req.headers.get("authorization").map(String::as_str) == Some(BASIC) {
                (ok, vec![], page("Basic", "<p id=who>hello piranha</p>"))
            } else {
                // no WWW-Authenticate: no browser prompt
                ("403 Forbidden", vec![], page("No", "<p>no credentials</p>"))
            }
        }
        ("GET", "/long") => (
            ok,
            vec![],
            page(
                "Long",
                "<div style=\"height: 2000px; background: linear-gradient(#fff, #7a0000)\">top</div>\
                 <p id=bottom>bottom</p>",
            ),
        ),
        ("GET", "/console") => (
            ok,
            vec![],
            page(
                "Console",
                "<p>console</p><script>console.error('boom ' + 6 * 7)</script>",
            ),
        ),
        _ => ("404 Not Found", vec![], page("404", "<p>not found</p>")),
    }
}

fn handle(stream: TcpStream, log: &Log) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(()); // a preconnect that sent nothing
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let req = Request {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let (status, extra, body) = route(&req);
    log.lock().unwrap().push(req);
    let mut out = stream;
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for h in extra {
        head.push_str(&h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(body.as_bytes())?;
    out.flush()
}

/// Serves [`route`] on 127.0.0.1 (a free port) from a thread; returns the
/// base URL and the log of requests.
fn serve() -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let l = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let l = l.clone();
            std::thread::spawn(move || {
                let _ = handle(stream, &l);
            });
        }
    });
    (base, log)
}

fn last(log: &Log, method: &str, path: &str) -> Request {
    log.lock()
        .unwrap()
        .iter()
        .rev()
        .find(|r| r.method == method && r.path == path)
        .cloned()
        .unwrap_or_else(|| panic!("the server received no {method} {path}"))
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        // state is the field after the parenthesised command name
        .is_ok_and(|s| !s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
}

#[test]
fn browser_fills_a_form_logs_in_and_takes_screenshots() {
    let t0 = Instant::now();
    let Some(b) = Browser::start("browser_smoke") else {
        return;
    };
    let started = t0.elapsed();
    let (base, log) = serve();

    // HTML-escaped stored text is shown as text, and nothing ran
    b.goto(&format!("{base}/"));
    b.wait_for_text("VIRTUAL SERVER");
    assert_eq!(b.text("#stored"), STORED);
    assert!(!b.has("#stored script"), "escaped text became an element");
    assert_eq!(b.block_on(b.client().title()).unwrap(), "Form");
    assert_eq!(b.status(), Some(200));

    // a form filled and submitted
    let name = "<b>web</b> & \"friends\"";
    b.fill("name", name);
    b.fill("port", "8080");
    b.fill("protocol", "UDP"); // by visible text
    b.set_checked("active", true);
    b.fill("send", "GET / HTTP/1.0\\r\\n\\r\\n");
    assert_eq!(b.value("port"), "8080");
    let form_shot = b.screenshot("form");
    assert_eq!(b.submit("ACCEPT"), Some(200));
    assert!(b.page_text().contains("Saved"), "{}", b.page_text());
    assert!(b.url().ends_with("/save"), "{}", b.url());

    let got = parse_form(&last(&log, "POST", "/save").body);
    let want: Vec<(String, String)> = [
        ("name", name),
        ("port", "8080"),
        ("protocol", "udp"),
        ("active", "on"),
        ("send", "GET / HTTP/1.0\\r\\n\\r\\n"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(got, want, "what the server received");
    // the page echoes the name escaped: shown as text, no <b> element
    assert_eq!(b.text("#saved tr:first-child td.v"), name);
    assert!(!b.has("#saved b"));
    let saved_shot = b.screenshot("saved");

    // logging in through a form: a wrong password fails the step, the
    // right one sets a cookie that is sent afterwards
    b.goto(&format!("{base}/login"));
    let wrong = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        b.login("piranha", "wrong");
    }));
    assert!(wrong.is_err(), "a refused login passed");
    assert_eq!(b.status(), Some(403));
    b.goto(&format!("{base}/login"));
    b.login("piranha", "secret");
    b.wait_for_text("GLOBAL SETTINGS");
    b.wait_for_url("/home");
    assert_eq!(b.status(), Some(200), "after the 303");
    assert_eq!(
        last(&log, "GET", "/home")
            .headers
            .get("cookie")
            .map(String::as_str),
        Some(COOKIE)
    );

    // Basic authentication through an extra header
    b.goto(&format!("{base}/basic"));
    b.wait_for_text("no credentials");
    assert_eq!(b.status(), Some(403));
    b.set_basic_auth("piranha", "secret");
    b.goto(&format!("{base}/basic"));
    assert_eq!(b.text("#who"), "hello piranha");
    b.set_extra_headers(serde_json::json!({}));
    b.goto(&format!("{base}/basic"));
    b.wait_for_text("no credentials");

    // the console: the 403s above are errors there; a good page has none
    // (a missing favicon aside); a script's error is one
    let console = b.console_messages();
    assert!(console.iter().any(|m| m.contains("403")), "{console:?}");
    b.goto(&format!("{base}/"));
    b.assert_no_console_errors();
    b.goto(&format!("{base}/console"));
    let console = b.console_messages();
    assert!(
        console
            .iter()
            .any(|m| m.starts_with("SEVERE") && m.contains("boom 42")),
        "{console:?}"
    );

    // a whole long page
    b.goto(&format!("{base}/long"));
    let full_shot = b.screenshot_full("long-page");
    let full = std::fs::read(&full_shot).expect("full-page screenshot file");
    assert_eq!(&full[..8], b"\x89PNG\r\n\x1a\n");
    let full_h = u32::from_be_bytes(full[20..24].try_into().unwrap());
    assert!(full_h >= 2000, "full page only {full_h} px high");
    // the window stays as it was
    let window = b.screenshot_png();
    let window_h = u32::from_be_bytes(window[20..24].try_into().unwrap());
    assert!(
        window_h < 1100,
        "window {window_h} px high after a full-page shot"
    );

    // screenshots are PNGs of the window
    for shot in [&form_shot, &saved_shot] {
        let png = std::fs::read(shot).expect("screenshot file");
        assert!(png.len() > 1000, "{}: {} bytes", shot.display(), png.len());
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{}", shot.display());
        // IHDR: width and height, big-endian, at bytes 16..24
        let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert!(w >= 1000 && h >= 700, "{}: {w}x{h}", shot.display());
    }
    assert!(form_shot.starts_with(lvs_tests::browser::screenshot_dir()));

    // nothing outlives the browser
    let pids = b.pids();
    assert!(pids.len() >= 2, "chromedriver and Chromium: {pids:?}");
    let used = t0.elapsed();
    drop(b);
    let left: Vec<i32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    assert!(left.is_empty(), "still running after drop: {left:?}");
    eprintln!(
        "browser_smoke: browser up in {:.2?}, steps done at {:.2?}, shut down at {:.2?}",
        started,
        used,
        t0.elapsed()
    );
}
