//! piranha-passwd, HTTPS, and CONTROL/MONITORING, with the real binaries.

mod common;

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::process::Command;

use common::{Gui, Req};

fn passwd(file: &std::path::Path, pw: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_piranha-passwd"))
        .arg("--file")
        .arg(file)
        .arg(pw)
        .output()
        .unwrap()
}

#[test]
fn piranha_passwd_writes_bcrypt_0600_and_keeps_owner_and_other_users() {
    let dir = Gui::files();
    let file = dir.path().join("piranha.passwd");
    std::fs::write(
        &file,
        "admin:{SHA}x\npiranha:$apr1$saltsalt$Golc7VZFCY/J9iYNrpYdW1\n",
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    // as root: the file belongs to another user, who must keep it
    let root = nix_is_root();
    if root {
        std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
    }
    let out = passwd(&file, "n3w pass");
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0], "admin:{SHA}x");
    let hash = lines[1].strip_prefix("piranha:$2y$10$").expect("bcrypt");
    assert_eq!(hash.len(), 53);
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600);
    if root {
        assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
    }
    // a new file
    let new = dir.path().join("new.passwd");
    assert!(passwd(&new, "abc").status.success());
    assert_eq!(std::fs::metadata(&new).unwrap().mode() & 0o777, 0o600);
    // an empty password is refused and changes nothing
    let before = std::fs::read(&file).unwrap();
    let out = passwd(&file, "");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(std::fs::read(&file).unwrap(), before);
    // piranha_gui takes the new password (bcrypt), not the old one
    let gui = Gui::start_in(dir, &[]);
    assert_eq!(
        gui.req(Req::get("/global").basic("piranha", "n3w pass"))
            .status,
        200
    );
    assert_eq!(gui.req(Req::get("/global").auth()).status, 401);
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn https_with_secure_cookies() {
    let test = "https_with_secure_cookies";
    if !lvs_tests::have(test, "openssl", "openssl") || !lvs_tests::have(test, "curl", "curl") {
        return;
    }
    let dir = Gui::files();
    let (crt, key) = (dir.path().join("gui.crt"), dir.path().join("gui.key"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let gui = Gui::start_in(
        dir,
        &[
            "--cert",
            crt.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    );
    let curl = |args: &[&str], path: &str| {
        let out = Command::new("curl")
            .args(["-sk", "-i", "--max-time", "10"])
            .args(args)
            .arg(format!("https://{}{path}", gui.addr))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let login = curl(&[], "/login");
    assert!(login.starts_with("HTTP/1.1 200"), "{login}");
    let cookie = login
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: piranha_login=")
        })
        .expect("login cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
    let page = curl(&["-u", &format!("piranha:{}", common::PASSWORD)], "/global");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(curl(&[], "/global").starts_with("HTTP/1.1 401"));
    // no plain HTTP on the TLS port
    let r = std::panic::catch_unwind(|| gui.req(Req::get("/global").auth()));
    assert!(r.is_err() || r.unwrap().status != 200);
}

#[test]
fn control_monitoring_shows_pulse_and_the_ipvs_table() {
    let dir = Gui::files();
    let sock = dir.path().join("pulse.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let mut status = piranha_status::pulse::Status {
        version: 1,
        pid: 4242,
        node: "primary".into(),
        service: "lvs".into(),
        role: "active".into(),
        ..Default::default()
    };
    status.partner.public = "10.0.0.2".into();
    status.partner.alive = true;
    status.partner.last_state = Some("<b>running</b>".into());
    status.daemon.name = "lvsd".into();
    status.daemon.pid = Some(4243);
    status.history.push(piranha_status::pulse::RoleChange {
        time: 1764086400.0,
        from: "standby".into(),
        to: "active".into(),
        reason: "partner dead".into(),
    });
    let doc = serde_json::to_string(&status).unwrap();
    std::thread::spawn(move || {
        use std::io::{BufRead as _, Write as _};
        for s in listener.incoming() {
            let Ok(mut s) = s else { break };
            let mut line = String::new();
            let _ = std::io::BufReader::new(&s).read_line(&mut line);
            let _ = s.write_all(doc.as_bytes());
        }
    });
    // a stand-in lvsd: text, json and stats
    let lvsd = std::os::unix::net::UnixListener::bind(dir.path().join("lvsd.sock")).unwrap();
    let json = serde_json::to_string(&piranha_status::lvsd::Status {
        version: 1,
        virtuals: vec![piranha_status::lvsd::VsStatus {
            name: "www".into(),
            service: "TCP 10.0.0.100:80".into(),
            state: piranha_status::lvsd::Phase::Up,
            reals: vec![piranha_status::lvsd::RsStatus {
                name: "web1".into(),
                address: "192.168.1.10:80".into(),
                pid: Some(4300),
                last_change_at: Some(1764086460.0),
                health: "down".into(),
                weight: None,
                configured_weight: 1,
                check_failures: 4,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
    .unwrap();
    std::thread::spawn(move || {
        use std::io::{BufRead as _, Write as _};
        let mut n = 0u64;
        for s in lvsd.incoming() {
            let Ok(mut s) = s else { break };
            let mut line = String::new();
            let _ = std::io::BufReader::new(&s).read_line(&mut line);
            let answer = match line.trim() {
                "json" => json.clone(),
                "stats" => {
                    n += 1;
                    format!(
                        "{{\"version\": 1, \"services\": [{{\"proto\": \"TCP\", \"address\": \"10.0.0.100\", \"port\": 80, \"virtual_name\": \"www\", \"dests\": [{{\"address\": \"192.168.1.10\", \"port\": 80, \"weight\": 0, \"active_conns\": 3, \"inactive_conns\": 9, \"stats\": {{\"conns\": {}, \"inbytes\": {}, \"outbytes\": 0}}}}]}}]}}",
                        n * 100,
                        n * 1_000_000
                    )
                }
                _ => "lvsd text answer\n".to_string(),
            };
            let _ = s.write_all(answer.as_bytes());
        }
    });
    std::fs::create_dir_all(dir.path().join("proc/net")).unwrap();
    std::fs::write(
        dir.path().join("proc/net/ip_vs"),
        "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\nTCP  0A000064:0050 wlc\n  -> C0A8010A:0050      Masq    1      0          0\n",
    )
    .unwrap();
    let gui = Gui::start_in(dir, &[]);
    let r = gui.req(Req::get("/control").auth());
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("<td id=\"role\">active</td>"), "{}", r.body);
    assert!(r.body.contains("10.0.0.2"), "{}", r.body);
    assert!(
        r.body.contains("pid 4242") && r.body.contains("pid 4243"),
        "{}",
        r.body
    );
    assert!(r.body.contains("&lt;b&gt;running"), "escaped: {}", r.body);
    assert!(r.body.contains("0A000064:0050 wlc"), "{}", r.body);
    assert!(r.body.contains("<td>partner dead</td>"), "{}", r.body);
    assert!(r.body.contains("lvsd text answer"), "{}", r.body);
    assert!(
        r.body.contains("<tr class=\"health-down\"><td>www</td>"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("<td>4</td></tr>"),
        "failed checks: {}",
        r.body
    );
    // the process tree from the status documents, and the real server's change
    assert!(r.body.contains("pulse (4242)"), "{}", r.body);
    assert!(r.body.contains("lvsd (4243)"), "{}", r.body);
    assert!(
        r.body.contains("nanny (4300) www/web1 192.168.1.10:80"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("<td>web1</td><td>down</td><td>-</td>"),
        "{}",
        r.body
    );
    // refreshed without reloading the page: the script and the fragment it fetches
    assert!(
        r.body
            .contains("<script src=\"/static/monitor.js\"></script>")
    );
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let js = gui.req(Req::get("/static/monitor.js").auth());
    assert_eq!(js.status, 200);
    assert!(
        js.header("content-type")
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(js.body.contains("/control?fragment=1"));
    let f = gui.req(Req::get("/control?fragment=1").auth());
    assert_eq!(f.status, 200);
    assert!(f.body.contains("<td id=\"role\">active</td>"), "{}", f.body);
    assert!(f.body.contains("health-down"), "{}", f.body);
    // rates from two samples at least a second apart
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let f = gui.req(Req::get("/control?fragment=1").auth());
    assert!(f.body.contains("<td>3</td><td>9</td>"), "{}", f.body);
    assert!(f.body.contains(" conn&#x2f;s</td>"), "{}", f.body);
    assert!(
        f.body.contains(" kB&#x2f;s</td>") || f.body.contains(" MB&#x2f;s</td>"),
        "{}",
        f.body
    );
    assert!(!f.body.contains("<html"), "{}", f.body);
}

#[test]
fn change_password_in_the_browser() {
    let gui = Gui::start(&[]);
    let before = std::fs::read(gui.path("piranha.passwd")).unwrap();
    let (cookie, _) = common::login(&gui);
    let page = gui.req(Req::get("/password").cookie(&cookie));
    assert_eq!(page.status, 200, "{page:?}");
    let csrf = page.hidden("csrf").unwrap();
    let post = |form: &[(&str, &str)]| {
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(form);
        gui.req(Req::post("/password", &all).cookie(&cookie))
    };
    let r = post(&[("current", "wrong"), ("new", "n3w"), ("again", "n3w")]);
    assert_eq!(r.status, 403, "{r:?}");
    let r = post(&[
        ("current", common::PASSWORD),
        ("new", "n3w"),
        ("again", "n3x"),
    ]);
    assert_eq!(r.status, 422, "{r:?}");
    let r = post(&[("current", common::PASSWORD), ("new", ""), ("again", "")]);
    assert_eq!(r.status, 422, "{r:?}");
    assert_eq!(std::fs::read(gui.path("piranha.passwd")).unwrap(), before);
    // without the token: refused
    let r = gui.req(
        Req::post(
            "/password",
            &[("current", common::PASSWORD), ("new", "x"), ("again", "x")],
        )
        .cookie(&cookie),
    );
    assert_eq!(r.status, 403, "{r:?}");
    let r = post(&[
        ("current", common::PASSWORD),
        ("new", "n3w pw"),
        ("again", "n3w pw"),
    ]);
    assert_eq!(r.status, 303, "{r:?}");
    let text = std::fs::read_to_string(gui.path("piranha.passwd")).unwrap();
    assert!(text.starts_with("piranha:$2y$10$"), "{text}");
    let new_cookie = r.set_cookie("piranha_session").expect("a new session");
    let new_cookie = new_cookie.split(';').next().unwrap().to_string();
    assert_eq!(gui.req(Req::get("/global").cookie(&cookie)).status, 401);
    assert_eq!(gui.req(Req::get("/global").cookie(&new_cookie)).status, 200);
    assert_eq!(
        gui.req(Req::get("/global").basic("piranha", "n3w pw"))
            .status,
        200
    );
    assert_eq!(gui.req(Req::get("/global").auth()).status, 401);
    assert!(gui.log_text().contains("failed login (change password)"));
}

/// SYNCHRONIZE TO BACKUP through the sync command (piranha_gui(8)): here
/// `--sync-command` runs the real `lvscf sync` directly, as
/// piranha-gui-sync.service does as root, with stand-ins for scp and ssh
/// (the "backup" is a file); the page shows the result it left.
#[test]
fn synchronize_to_backup_runs_the_sync_command_and_shows_its_result() {
    let dir = Gui::files();
    let cf = dir.path().join("lvs.cf");
    let text = std::fs::read_to_string(&cf).unwrap().replace(
        "backup_active = 0\n",
        "backup_active = 1\nbackup = 10.0.0.2\nrsh_command = ssh\n",
    );
    std::fs::write(&cf, &text).unwrap();
    // stand-ins for scp and ssh: the "backup" is a directory
    let bin = dir.path().join("bin");
    let remote = dir.path().join("remote.cf");
    let log = dir.path().join("argv.log");
    std::fs::create_dir(&bin).unwrap();
    let script = |name: &str, body: &str| {
        let p = bin.join(name);
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\necho \"{name} $*\" >> {}\n{body}\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    script(
        "scp",
        &format!(
            "[ -e {d}/unreachable ] && {{ echo 'ssh: connect to host 10.0.0.2: No route to host' >&2; exit 1; }}\ncp \"$3\" {r}",
            d = dir.path().display(),
            r = remote.display()
        ),
    );
    script("ssh", &format!("cat {}", remote.display()));
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let result = state.join("sync.result");
    let command = format!(
        "{} sync --result {} {}",
        common::lvscf_bin().display(),
        result.display(),
        cf.display()
    );
    let gui = Gui::start_env(
        dir,
        &[
            "--state-dir",
            state.to_str().unwrap(),
            "--sync-command",
            &command,
        ],
        &[("PATH", path)],
    );
    let csrf = gui.req(Req::get("/control").auth()).hidden("csrf").unwrap();
    // the token is needed
    let r = gui.req(Req::post("/sync", &[]).auth());
    assert_eq!(r.status, 403, "{r:?}");
    assert!(!remote.exists());
    let r = gui.req(Req::post("/sync", &[("csrf", &csrf)]).auth());
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("serial_no 3"), "{}", r.body);
    assert!(r.body.contains("the same file as here"), "{}", r.body);
    assert!(r.body.contains("10.0.0.2 with scp"), "{}", r.body);
    assert_eq!(std::fs::read_to_string(&remote).unwrap(), text);
    let argv = std::fs::read_to_string(&log).unwrap();
    let cfp = gui.path("lvs.cf").display().to_string();
    assert!(
        argv.contains(&format!("scp -B -q {cfp} 10.0.0.2:{cfp}")),
        "{argv}"
    );
    assert!(
        argv.contains(&format!("ssh -o BatchMode=yes 10.0.0.2 cat {cfp}")),
        "{argv}"
    );
    let res = std::fs::read_to_string(&result).unwrap();
    assert!(res.starts_with("status=ok\n"), "{res}");
    // the backup cannot be reached: the message, 422, a result that says so
    std::fs::write(gui.path("unreachable"), "").unwrap();
    let r = gui.req(Req::post("/sync", &[("csrf", &csrf)]).auth());
    assert_eq!(r.status, 422, "{r:?}");
    assert!(r.body.contains("Not copied"), "{}", r.body);
    assert!(r.body.contains("No route to host"), "{}", r.body);
    assert!(
        std::fs::read_to_string(&result)
            .unwrap()
            .starts_with("status=failed\n")
    );
}

/// The sync command's failures: no result left, or a result saying what
/// went wrong (here: lvs.cf has no backup router), escaped.
#[test]
fn synchronize_without_a_result_or_a_backup_says_why() {
    let dir = Gui::files();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    // an old result must not be shown again
    std::fs::write(state.join("sync.result"), "status=ok\nserial_no=99\n").unwrap();
    let gui = Gui::start_in(
        dir,
        &[
            "--state-dir",
            state.to_str().unwrap(),
            "--sync-command",
            "/bin/true",
        ],
    );
    let csrf = gui.req(Req::get("/control").auth()).hidden("csrf").unwrap();
    let r = gui.req(Req::post("/sync", &[("csrf", &csrf)]).auth());
    assert_eq!(r.status, 422, "{r:?}");
    assert!(r.body.contains("left no result"), "{}", r.body);
    assert!(!r.body.contains("serial_no 99"), "{}", r.body);
    drop(gui);
    let dir = Gui::files();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let command = format!(
        "{} sync --result {} {}",
        common::lvscf_bin().display(),
        state.join("sync.result").display(),
        dir.path().join("lvs.cf").display()
    );
    let gui = Gui::start_in(
        dir,
        &[
            "--state-dir",
            state.to_str().unwrap(),
            "--sync-command",
            &command,
        ],
    );
    let csrf = gui.req(Req::get("/control").auth()).hidden("csrf").unwrap();
    let r = gui.req(Req::post("/sync", &[("csrf", &csrf)]).auth());
    assert_eq!(r.status, 422, "{r:?}");
    assert!(r.body.contains("has no backup router"), "{}", r.body);
}

#[test]
fn charts_of_the_last_hour_are_svg_drawn_by_the_server() {
    let dir = Gui::files();
    common::fake_daemon(&dir.path().join("lvsd.sock"), |req, n| match req {
        "stats" => format!(
            "{{\"version\": 1, \"services\": [{{\"proto\": \"TCP\", \"address\": \"10.0.0.100\", \"port\": 80, \"virtual_name\": \"<script>alert(1)</script>\", \"stats\": {{\"conns\": {}}}, \"dests\": [{{\"address\": \"192.168.1.10\", \"port\": 80, \"stats\": {{\"conns\": {}}}}}]}}]}}",
            n * 10,
            n * 5
        ),
        _ => String::new(),
    });
    let gui = Gui::start_env(dir, &[], &[("PIRANHA_GUI_SAMPLE_MS", "100".into())]);
    common::eventually("three points", || {
        gui.req(Req::get("/charts").auth())
            .body
            .contains("3 points")
            || gui
                .req(Req::get("/charts").auth())
                .body
                .contains("4 points")
    });
    let r = gui.req(Req::get("/charts").auth());
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<polyline"), "{}", r.body);
    assert!(!r.body.contains("<script>alert"), "{}", r.body);
    assert!(r.body.contains("&lt;script&gt;"), "{}", r.body);
    // a page of virtual services, filtered like CONTROL/MONITORING
    let r = gui.req(Req::get("/charts?q=nothing-like-it").auth());
    assert!(!r.body.contains("<polyline"), "{}", r.body);
    assert!(r.body.contains("No virtual server matches"), "{}", r.body);
    let r = gui.req(Req::get("/charts?q=SCRIPT").auth());
    assert!(r.body.contains("<polyline"), "{}", r.body);
    let r = gui.req(Req::get("/charts?virtual=%3Cscript%3Ealert(1)%3C%2Fscript%3E").auth());
    assert!(r.body.contains("web1 (192.168.1.10:80)"), "{}", r.body);
    assert!(r.body.contains("<polyline"), "{}", r.body);
}

#[test]
fn apply_checks_the_file_then_reloads_pulse_with_systemctl() {
    let dir = Gui::files();
    let bin = dir.path().join("bin");
    let log = dir.path().join("systemctl.log");
    std::fs::create_dir(&bin).unwrap();
    let stand_in = bin.join("systemctl");
    std::fs::write(
        &stand_in,
        format!(
            "#!/bin/sh\necho \"$*\" >> {}\n[ -e {}/fail ] && {{ echo 'Access denied' >&2; exit 1; }}\nexit 0\n",
            log.display(),
            dir.path().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let gui = Gui::start_env(dir, &[], &[("PATH", path)]);
    let csrf = gui.req(Req::get("/control").auth()).hidden("csrf").unwrap();
    let r = gui.req(Req::post("/apply", &[]).auth());
    assert_eq!(r.status, 403, "no token: {r:?}");
    assert!(!log.exists());
    let r = gui.req(Req::post("/apply", &[("csrf", &csrf)]).auth());
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("serial_no 3"), "{}", r.body);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "reload pulse.service\n"
    );
    // systemctl refuses (no polkit rule): said, 502
    std::fs::write(gui.path("fail"), "").unwrap();
    let r = gui.req(Req::post("/apply", &[("csrf", &csrf)]).auth());
    assert_eq!(r.status, 502, "{r:?}");
    assert!(r.body.contains("Access denied"), "{}", r.body);
    std::fs::remove_file(gui.path("fail")).unwrap();
    // a file the daemons refuse is not applied
    let cf = gui.path("lvs.cf");
    let text = std::fs::read_to_string(&cf).unwrap();
    std::fs::write(
        &cf,
        text.replace(
            "     active = 1\n     address",
            "     active = 0\n     address",
        ),
    )
    .unwrap();
    let r = gui.req(Req::post("/apply", &[("csrf", &csrf)]).auth());
    assert_eq!(r.status, 422, "{r:?}");
    assert!(r.body.contains("no active lvs services"), "{}", r.body);
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 2);
}

/// lvsd's json answer for 60 virtual servers `webN` (TCP 172.16.0.N:80),
/// each with one real server `rsN` (10.0.0.N:80, nanny pid 5000+N).
fn sixty_virtuals(req: &str, _: u64) -> String {
    use piranha_status::lvsd;
    match req {
        "json" => serde_json::to_string_pretty(&lvsd::Status {
            version: 1,
            virtuals: (0..60)
                .map(|i| lvsd::VsStatus {
                    name: format!("web{i}"),
                    service: format!("TCP 172.16.0.{i}:80"),
                    state: lvsd::Phase::Up,
                    reals: vec![lvsd::RsStatus {
                        name: format!("rs{i}"),
                        address: format!("10.0.0.{i}:80"),
                        health: "up".into(),
                        weight: Some(1),
                        configured_weight: 1,
                        pid: Some(5000 + i),
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .unwrap(),
        _ => String::new(),
    }
}

/// The real servers' names in the REAL SERVERS table of a monitoring page.
fn real_names(body: &str) -> Vec<String> {
    let Some(at) = body.find("<table id=\"reals\">") else {
        return Vec::new();
    };
    let table = &body[at..at + body[at..].find("</table>").unwrap()];
    table
        .split("<tr")
        .skip(2)
        .filter_map(|row| row.split("<td>").nth(4))
        .map(|c| c.split('<').next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn control_monitoring_shows_a_page_of_virtual_servers_with_a_filter() {
    let dir = Gui::files();
    common::fake_daemon(&dir.path().join("lvsd.sock"), sixty_virtuals);
    common::fake_daemon(&dir.path().join("pulse.sock"), |_, _| {
        "{\"pid\": 4242, \"role\": \"active\", \"daemon\": {\"name\": \"lvsd\", \"pid\": 4243}}"
            .into()
    });
    let gui = Gui::start_in(dir, &[]);
    let get = |p: &str| {
        let r = gui.req(Req::get(p).auth());
        assert_eq!(r.status, 200, "{p}: {r:?}");
        r
    };
    // the first page: 25 of 60, counted over all of lvsd's table
    let r = get("/control");
    let names = real_names(&r.body);
    assert_eq!(names.len(), 25, "{}", r.body);
    assert_eq!((names[0].as_str(), names[24].as_str()), ("rs0", "rs24"));
    assert!(
        r.body
            .contains("lvsd: 60 virtual servers, 60 real servers (60 up), 60 nannies."),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("Virtual servers 1&ndash;25 of 60"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("href=\"&#x2f;control?page=2\""),
        "{}",
        r.body
    );
    assert!(r.body.contains("nanny (5024) web24/rs24"), "{}", r.body);
    assert!(!r.body.contains("nanny (5025)"), "{}", r.body);
    assert!(r.body.contains("and 35 more nannies"), "{}", r.body);
    // the filter form, outside the part the script replaces
    assert!(
        r.body
            .contains("<form method=\"get\" action=\"/control\" id=\"filter\"")
    );
    // the last page, and a page past the end shows the last
    for p in ["/control?page=3", "/control?page=9"] {
        let r = get(p);
        assert_eq!(
            real_names(&r.body).first().map(String::as_str),
            Some("rs50"),
            "{p}"
        );
        assert!(r.body.contains("page 3 of 3"), "{}", r.body);
        assert!(r.body.contains("rel=\"prev\""), "{}", r.body);
        assert!(!r.body.contains("rel=\"next\""), "{}", r.body);
    }
    // per page, and the live update keeps the page's query
    let r = get("/control?fragment=1&page=2&per=10");
    assert!(!r.body.contains("<html"));
    assert_eq!(real_names(&r.body)[0], "rs10");
    assert_eq!(real_names(&r.body).len(), 10);
    assert!(
        r.body.contains("&#x2f;control?page=3&amp;per=10"),
        "{}",
        r.body
    );
    // by name, VIP or real server address, any case; shown escaped
    assert_eq!(
        real_names(&get("/control?q=WEB4").body),
        [
            "rs4", "rs40", "rs41", "rs42", "rs43", "rs44", "rs45", "rs46", "rs47", "rs48", "rs49"
        ]
    );
    assert_eq!(real_names(&get("/control?q=172.16.0.7%3A").body), ["rs7"]);
    assert_eq!(real_names(&get("/control?q=10.0.0.33").body), ["rs33"]);
    let r = get("/control?q=%3Cscript%3E");
    assert!(real_names(&r.body).is_empty());
    assert!(r.body.contains("No virtual server matches"), "{}", r.body);
    assert!(r.body.contains("&lt;script&gt;"), "{}", r.body);
    assert!(!r.body.contains("<script>"), "{}", r.body);
}

/// The save worker refuses what is not a save job, without a panic.
#[test]
fn the_save_worker_refuses_junk() {
    use std::io::Write as _;
    for input in [&b"junk"[..], b"{}", b"{\"post\": 5}"] {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_piranha_gui"))
            .arg("--save-worker")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(input).unwrap();
        let out = c.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
}
