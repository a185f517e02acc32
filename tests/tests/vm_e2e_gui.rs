//! piranha_gui against the real cluster (VM tier): two directors running
//! pulse → lvsd → nanny with NAT, three real servers, and the web tool in
//! the active director's namespace on 127.0.0.1, reading that director's
//! lvs.cf, pulse's status socket, lvsd's socket and the namespace's
//! /proc/net/ip_vs. Chromium does not run in the VM guest: a plain HTTP/1.1
//! client stands in for the browser, with HTTP Basic authentication (user
//! `piranha`) and the forms' CSRF tokens read from the pages.
//!
//! APPLY runs `systemctl reload pulse.service`; here a stand-in
//! `systemctl` first on `PATH` records its arguments and sends SIGHUP to
//! d1's pulse, as systemd's `ExecReload` does.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use lvs_tests::Need;
use lvs_tests::cluster::{self, Cluster, Config, Method, VIP, program};
use lvs_tests::netns::Netns;

const PASSWORD: &str = "vm gui secret";

/// piranha_gui, killed (and reaped) on drop.
struct Gui {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Gui {
    fn drop(&mut self) {
        let _ = lvs_tests::child::terminate(&mut self.child, Duration::from_secs(10));
    }
}

impl Gui {
    /// `piranha_gui --nodaemon` in `ns` on 127.0.0.1, a port of its choice.
    fn start(
        ns: &Netns,
        cf: &Path,
        (pulse_socket, lvsd_socket): (&Path, &Path),
        dir: &Path,
        path: &str,
    ) -> Gui {
        let mut child = ns
            .command(program("piranha_gui"))
            .args(["--nodaemon", "--listen", "127.0.0.1", "--port", "0"])
            .arg("-c")
            .arg(cf)
            .arg("--passwd-file")
            .arg(dir.join("piranha.passwd"))
            .arg("--htaccess")
            .arg(dir.join(".htaccess"))
            .arg("--pulse-socket")
            .arg(pulse_socket)
            .arg("--lvsd-socket")
            .arg(lvsd_socket)
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start piranha_gui");
        let stdout = child.stdout.take().expect("stdout");
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("piranha_gui: serving ") {
                    let _ = tx.send(rest.to_string());
                }
                l.lock().unwrap().push(line);
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("piranha_gui says where it serves");
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        Gui { child, addr, log }
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

/// An answer: status and body.
#[derive(Debug)]
struct Resp {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Resp {
    /// The value of the first hidden input `name`.
    fn hidden(&self, name: &str) -> Option<String> {
        let key = format!("name=\"{name}\" value=\"");
        let at = self.body.find(&key)? + key.len();
        let end = self.body[at..].find('"')?;
        Some(lvs_tests::browser::unescape(&self.body[at..at + end]))
    }
}

/// One HTTP/1.1 request on a new connection from inside `ns`, with Basic
/// authentication; reads the whole answer.
fn send(ns: &Netns, addr: SocketAddr, method: &str, path: &str, form: &[(&str, &str)]) -> Resp {
    let mut s = ns
        .enter(|| TcpStream::connect_timeout(&addr, Duration::from_secs(10)))
        .unwrap_or_else(|e| panic!("connect to piranha_gui at {addr}: {e}"));
    // The first request checks the bcrypt hash, slow in a debug build
    // under emulation.
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("piranha:{PASSWORD}"));
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Basic {auth}\r\n"
    );
    if method == "POST" {
        head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).expect("send the request");
    s.write_all(body.as_bytes()).expect("send the body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("{method} {path}: read the answer: {e}"));
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {path}: no answer: {text:?}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{method} {path}: no status line: {head:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let header = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        dechunk(body)
    } else {
        body.to_string()
    };
    Resp {
        status,
        location: header("location"),
        body,
    }
}

/// A chunked body, decoded.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `s` without its tags, entities decoded, trimmed.
fn text_of(s: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in s.chars() {
        match c {
            '<' => inside = true,
            '>' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    lvs_tests::browser::unescape(out.trim())
}

/// The text between `start` (included) and the next `end` after it.
fn section<'a>(body: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let at = body.find(start)?;
    let len = body[at..].find(end)?;
    Some(&body[at..at + len])
}

/// REAL SERVERS on CONTROL/MONITORING: real server name → its cells
/// (virtual server, service, state, real server, address, health, weight,
/// active, inactive, ...).
fn reals(body: &str) -> BTreeMap<String, Vec<String>> {
    let Some(table) = section(body, "<table id=\"reals\">", "</table>") else {
        return BTreeMap::new();
    };
    table
        .split("<tr")
        .skip(2)
        .filter_map(|row| {
            let cells: Vec<String> = row
                .split("<td")
                .skip(1)
                .map(|c| text_of(&format!("<td{c}")))
                .collect();
            (cells.len() >= 7).then(|| (cells[3].clone(), cells))
        })
        .collect()
}

/// The kernel table on CONTROL/MONITORING (`/proc/net/ip_vs` as read by
/// piranha_gui), decoded.
fn ipvs_on_page(body: &str) -> Option<String> {
    section(body, "<pre id=\"ipvs\">", "</pre>")
        .map(|s| lvs_tests::browser::unescape(&s["<pre id=\"ipvs\">".len()..]))
}

/// The weight of each destination of `VIP:80` in a `/proc/net/ip_vs` text
/// (`ADDR:PORT` → weight).
fn proc_weights(text: &str) -> BTreeMap<String, String> {
    cluster::proc_weights(text, &format!("{VIP}:{}", cluster::PORT))
        .into_iter()
        .map(|(a, w)| (a, w.to_string()))
        .collect()
}

/// The weight of `dest` in `ipvsadm -Ln` output.
fn ipvsadm_weight(table: &str, dest: &str) -> Option<String> {
    table.lines().find_map(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        match w.as_slice() {
            ["->", d, _fwd, weight, ..] if *d == dest => Some(weight.to_string()),
            _ => None,
        }
    })
}

/// The inputs of form `id` as a browser submits them: hidden and text
/// inputs, selects' selected options, checkboxes only when checked.
fn form_values(body: &str, id: &str) -> Vec<(String, String)> {
    let form = section(body, &format!(" id=\"{id}\">"), "</form>")
        .unwrap_or_else(|| panic!("no form {id}: {body}"));
    let attr = |tag: &str, name: &str| {
        let key = format!(" {name}=\"");
        let at = tag.find(&key)? + key.len();
        let end = tag[at..].find('"')?;
        Some(lvs_tests::browser::unescape(&tag[at..at + end]))
    };
    let mut out = Vec::new();
    for part in form.split('<').skip(1) {
        let tag = format!(" {}", part.split('>').next().unwrap_or(""));
        let Some(name) = attr(&tag, "name") else {
            continue;
        };
        if tag.starts_with(" input ") {
            if attr(&tag, "type").as_deref() == Some("checkbox") && !tag.contains(" checked") {
                continue;
            }
            out.push((name, attr(&tag, "value").unwrap_or_default()));
        } else if tag.starts_with(" select ") {
            let select = section(form, &format!("name=\"{name}\""), "</select>").unwrap_or("");
            let value = select
                .split("<option ")
                .skip(1)
                .find(|o| o.contains(" selected"))
                .and_then(|o| attr(&format!(" {o}"), "value"))
                .unwrap_or_default();
            out.push((name, value));
        }
    }
    out
}

/// Failure context: the page, piranha_gui's output, both directors.
fn dump(c: &Cluster, gui: &Gui, page: &str) -> String {
    format!(
        "{page}\n--- piranha_gui ---\n{}\n{}",
        gui.log_text(),
        c.dump()
    )
}

#[test]
fn vm_gui_monitors_applies_and_sees_a_real_server_go_down() {
    let test = "vm_gui_monitors_applies_and_sees_a_real_server_go_down";
    if !(lvs_tests::require(Need::Ipvs, test) && lvs_tests::require(Need::Netns, test)) {
        return;
    }
    let t0 = Instant::now();
    let _serial = cluster::serial();
    let mut c = Cluster::new("gu", Method::Nat);
    let cf = Config::new(Method::Nat);
    c.cold_start(&cf);
    let interval = Duration::from_secs(cf.timeout.into());

    // the password file, and systemctl
    let dir = tempfile::tempdir().expect("temporary directory");
    let d = dir.path();
    let out = std::process::Command::new(program("piranha-passwd"))
        .arg("--file")
        .arg(d.join("piranha.passwd"))
        .arg(PASSWORD)
        .output()
        .expect("run piranha-passwd");
    assert!(out.status.success(), "{out:?}");
    let bin = d.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let calls = d.join("systemctl.log");
    std::fs::write(
        bin.join("systemctl"),
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\n[ \"$*\" = 'reload pulse.service' ] && exec kill -HUP {}\nexit 1\n",
            calls.display(),
            c.d[0].pid()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        bin.join("systemctl"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let d1 = &c.d[0];
    let gui = Gui::start(
        &d1.ns,
        &d1.cf_path(),
        (&d1.status_socket(), &d1.lvsd_socket()),
        d,
        &path,
    );
    let get = |p: &str| send(&d1.ns, gui.addr, "GET", p, &[]);
    let post = |p: &str, form: &[(&str, &str)]| send(&d1.ns, gui.addr, "POST", p, form);
    // Polls the monitoring page (its refreshed part) every 250 ms.
    let watch = |timeout: Duration, cond: &dyn Fn(&str) -> bool| -> (bool, String) {
        let end = Instant::now() + timeout;
        loop {
            let r = get("/control?fragment=1");
            if r.status == 200 && cond(&r.body) {
                return (true, r.body);
            }
            if Instant::now() >= end {
                return (false, r.body);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    };

    // 1. CONTROL/MONITORING: pulse active, the three real servers up with
    // weight 1, the kernel table as the namespace's /proc/net/ip_vs has it.
    let r = get("/control");
    assert_eq!(r.status, 200, "{}", dump(&c, &gui, &r.body));
    assert!(
        r.body.contains("<td id=\"role\">active</td>"),
        "{}",
        dump(&c, &gui, &r.body)
    );
    let all_up = |body: &str| {
        let rows = reals(body);
        c.rs.iter().all(|s| {
            rows.get(&s.name).is_some_and(|cells| {
                cells[4] == s.dest() && cells[5] == "up" && cells[6] == "1 (lvs.cf 1)"
            })
        })
    };
    let (ok, body) = watch(Duration::from_secs(10), &all_up);
    assert!(
        ok,
        "rs1..rs3 up with weight 1: {:?}\n{}",
        reals(&body),
        dump(&c, &gui, &body)
    );
    let kernel = d1.ns.enter(|| {
        std::fs::read_to_string("/proc/thread-self/net/ip_vs").expect("read /proc/net/ip_vs")
    });
    let page_table =
        ipvs_on_page(&body).unwrap_or_else(|| panic!("no kernel table: {}", dump(&c, &gui, &body)));
    let want: BTreeMap<String, String> = c.rs.iter().map(|s| (s.dest(), "1".to_string())).collect();
    assert_eq!(proc_weights(&kernel), want, "{kernel}");
    assert_eq!(proc_weights(&page_table), want, "{page_table}\n{kernel}");
    eprintln!("{test}: monitoring page checked at {:.1?}", t0.elapsed());

    // 2. rs1's weight on REAL SERVER, then APPLY.
    let v = get("/virtual/edit?name=web");
    assert_eq!(v.status, 200, "{}", v.body);
    assert!(
        v.body
            .contains("href=\"/server/edit?virtual=web&amp;name=rs1\""),
        "{}",
        v.body
    );
    let page = get("/server/edit?virtual=web&name=rs1");
    assert_eq!(page.status, 200, "{}", page.body);
    let mut form = form_values(&page.body, "edit");
    let names: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "csrf",
            "serial_no",
            "virtual",
            "server",
            "name",
            "address",
            "port",
            "weight",
            "active",
            "active"
        ],
        "{form:?}"
    );
    for (k, v) in form.iter_mut() {
        if k == "weight" {
            assert_eq!(v, "1");
            *v = "5".into();
        }
    }
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let before = d1.table();
    let r = post("/server/edit", &pairs);
    assert_eq!(r.status, 303, "{}", r.body);
    let saved = get(r.location.as_deref().expect("a redirect after saving"));
    assert_eq!(saved.status, 200, "{}", saved.body);
    let text = std::fs::read_to_string(d1.cf_path()).unwrap();
    assert!(text.contains("serial_no = 2\n"), "{text}");
    assert!(
        text.contains("    server rs1 {\n        address = 10.20.0.11\n        active = 1\n        weight = 5\n    }"),
        "{text}"
    );
    // saving does not reload pulse
    assert!(!calls.exists());
    assert_eq!(
        ipvsadm_weight(&before, &c.rs[0].dest()).as_deref(),
        Some("1"),
        "{before}"
    );

    let control = get("/control");
    let csrf = control.hidden("csrf").expect("the APPLY form's token");
    let lvsd_pid = |body: &str| {
        section(body, "<pre id=\"processes\">", "</pre>")
            .and_then(|p| p.lines().nth(1).map(String::from))
    };
    let lvsd_before = lvsd_pid(&control.body);
    assert!(
        lvsd_before.as_deref().is_some_and(|l| l.contains("lvsd (")),
        "{}",
        control.body
    );
    let mark = d1.mark();
    let applied = Instant::now();
    let r = post("/apply", &[("csrf", &csrf)]);
    assert_eq!(r.status, 200, "{}", dump(&c, &gui, &r.body));
    assert!(
        r.body.contains("pulse reloads lvs.cf (serial_no 2)"),
        "{}",
        r.body
    );
    assert_eq!(
        std::fs::read_to_string(&calls).unwrap_or_default(),
        "reload pulse.service\n"
    );
    // pulse passed the SIGHUP on to lvsd, which reread lvs.cf
    assert!(
        d1.wait_line(
            mark,
            "lvs: rereading configuration file",
            Duration::from_secs(10)
        )
        .is_some(),
        "{}",
        dump(&c, &gui, "")
    );
    let ipvsadm = || {
        let o = d1
            .ns
            .command("ipvsadm")
            .arg("-Ln")
            .output()
            .expect("run ipvsadm");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let end = applied + Duration::from_secs(5);
    let mut table = ipvsadm();
    while ipvsadm_weight(&table, &c.rs[0].dest()).as_deref() != Some("5") && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(200));
        table = ipvsadm();
    }
    let took = applied.elapsed();
    assert_eq!(
        ipvsadm_weight(&table, &c.rs[0].dest()).as_deref(),
        Some("5"),
        "{took:.1?} after APPLY:\n{table}\n{}",
        dump(&c, &gui, "")
    );
    eprintln!("{test}: APPLY to weight 5 in the kernel table: {took:.2?}");
    for s in &c.rs[1..] {
        assert_eq!(
            ipvsadm_weight(&table, &s.dest()).as_deref(),
            Some("1"),
            "{table}"
        );
    }
    let (ok, body) = watch(Duration::from_secs(10), &|b| {
        reals(b)
            .get("rs1")
            .is_some_and(|cells| cells[6] == "5 (lvs.cf 5)")
            && ipvs_on_page(b).is_some_and(|t| {
                proc_weights(&t).get(&c.rs[0].dest()).map(String::as_str) == Some("5")
            })
    });
    assert!(
        ok,
        "rs1 with weight 5: {:?}\n{}",
        reals(&body),
        dump(&c, &gui, &body)
    );
    eprintln!(
        "{test}: monitoring page shows weight 5: {:.2?} after APPLY",
        applied.elapsed()
    );
    // the same lvsd, still running; no second reload
    let control = get("/control");
    assert_eq!(lvsd_pid(&control.body), lvsd_before, "{}", control.body);
    assert_eq!(
        std::fs::read_to_string(&calls).unwrap_or_default(),
        "reload pulse.service\n"
    );

    // 3. rs2's HTTP server stops: down on the monitoring page within two
    // check intervals (plus a margin for emulation).
    let margin = Duration::from_secs(3);
    let bound = interval * 2 + margin;
    let stopped = Instant::now();
    c.rs[1].stop();
    let (ok, body) = watch(bound + Duration::from_secs(10), &|b| {
        reals(b).get("rs2").is_some_and(|cells| cells[5] == "down")
    });
    let took = stopped.elapsed();
    eprintln!(
        "{test}: rs2 down on the monitoring page after {took:.2?} (check interval {interval:?}, bound {bound:?})"
    );
    assert!(
        ok,
        "rs2 not down: {:?}\n{}",
        reals(&body),
        dump(&c, &gui, &body)
    );
    assert!(
        took <= bound,
        "rs2 down after {took:.2?}, more than {bound:?}: {:?}",
        reals(&body)
    );
    let rows = reals(&body);
    assert_eq!(rows["rs2"][6], "- (lvs.cf 1)", "out of the table: {rows:?}");
    assert_eq!(rows["rs1"][5], "up", "{rows:?}");
    assert_eq!(rows["rs3"][5], "up", "{rows:?}");
    let t = ipvs_on_page(&body).unwrap_or_default();
    assert!(!proc_weights(&t).contains_key(&c.rs[1].dest()), "{t}");
    let events = section(&body, "<table id=\"real_events\">", "</table>").unwrap_or_default();
    assert!(
        events.contains("<td>web</td><td>rs2</td><td>down</td><td>-</td></tr>"),
        "the change is listed: {body}"
    );

    // rs2 back: up again, in the table with its weight, once its re-entry
    // time has passed.
    let restarted = Instant::now();
    c.rs[1].start();
    let (ok, body) = watch(Duration::from_secs(20), &|b| {
        reals(b)
            .get("rs2")
            .is_some_and(|cells| cells[5] == "up" && cells[6] == "1 (lvs.cf 1)")
    });
    eprintln!(
        "{test}: rs2 up again on the monitoring page after {:.2?} (reentry {} s)",
        restarted.elapsed(),
        cf.reentry
    );
    assert!(
        ok,
        "rs2 not back: {:?}\n{}",
        reals(&body),
        dump(&c, &gui, &body)
    );
    let events = section(&body, "<table id=\"real_events\">", "</table>").unwrap_or_default();
    assert!(
        events.contains("<td>web</td><td>rs2</td><td>up</td><td>1</td></tr>"),
        "the change is listed: {body}"
    );

    drop(gui);
    eprintln!("{test}: {:.1?}", t0.elapsed());
}
