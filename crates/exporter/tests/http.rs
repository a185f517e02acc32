//! The HTTP server: basic authentication, the refusal to serve beyond
//! loopback without it, the routes and limits, TLS. Loopback only.

mod common;

use std::process::{Child, Command};

use common::*;

/// Kills the server when the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Setup {
    dir: tempfile::TempDir,
    web: String,
    proc: String,
}

/// A procfs with a small table, no daemons, and a web config with `web`.
fn setup(web: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let proc = procfs(
        dir.path(),
        Some(
            &Table {
                virtuals: 2,
                reals: 2,
            }
            .ip_vs(),
        ),
    );
    let path = dir.path().join("web.yml");
    std::fs::write(&path, web).unwrap();
    Setup {
        web: path.to_str().unwrap().into(),
        proc: proc.to_str().unwrap().into(),
        dir,
    }
}

impl Setup {
    fn command(&self, listen: &str) -> Command {
        let mut c = Command::new(exporter());
        c.args([
            "--listen",
            listen,
            "--web-config",
            &self.web,
            "--procfs",
            &self.proc,
        ]);
        let d = self.dir.path();
        c.arg("--pulse-socket").arg(d.join("none1.sock"));
        c.arg("--lvsd-socket").arg(d.join("none2.sock"));
        c
    }

    fn start(&self) -> (Server, u16) {
        let port = free_port();
        let child = start_server(&mut self.command(&format!("127.0.0.1:{port}")), port);
        (Server(child), port)
    }
}

fn users_config() -> String {
    let h = bcrypt::hash("s3cret", 4).unwrap();
    format!("basic_auth_users:\n  prometheus: '{h}'\n")
}

#[test]
fn without_users_serves_loopback_without_authentication() {
    let s = setup("");
    let (_srv, port) = s.start();
    let (st, head, body) = get(port, "/metrics", None);
    assert_eq!(st, 200, "{head}");
    assert!(
        head.contains("text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    let body = String::from_utf8(body).unwrap();
    assert_eq!(value(&body, "piranha_ipvs_up"), Some(1.0));
    assert_eq!(value(&body, "piranha_up{component=\"pulse\"}"), Some(0.0));
    assert_eq!(
        body.lines()
            .filter(|l| l.starts_with("piranha_ipvs_backend_weight{"))
            .count(),
        4
    );
    let (st, head, body) = get(port, "/", None);
    assert_eq!(st, 200);
    assert!(head.contains("text/html"), "{head}");
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("href=\"metrics\"")
    );
    assert_eq!(get(port, "/metrics/x", None).0, 404);
    let (st, head, _) = request(port, "POST /metrics HTTP/1.1", None, "");
    assert_eq!(st, 405);
    assert!(head.contains("allow: GET"), "{head}");
    let (st, _, _) = request(
        port,
        "GET /metrics HTTP/1.1",
        None,
        "Content-Length: 5\r\n\r\nhello",
    );
    assert_eq!(st, 413);
    // a request head over the 16 KiB limit
    let big = format!("X-Big: {}\r\n", "a".repeat(20 << 10));
    let (st, _, _) = request(port, "GET /metrics HTTP/1.1", None, &big);
    assert_eq!(st, 431);
}

#[test]
fn refuses_non_loopback_without_users() {
    let s = setup("# no users\n");
    for listen in ["0.0.0.0:1", ":1", "[::]:1", "192.0.2.1:1"] {
        let out = s.command(listen).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{listen}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("not a loopback address"), "{listen}: {err}");
        assert!(
            err.contains(&format!("{} defines no basic_auth_users", s.web)),
            "{err}"
        );
        assert!(
            err.contains("basic_auth_users:\n    prometheus: BCRYPT-HASH"),
            "{err}"
        );
    }
    // a web config that names something we do not support is refused too
    let s = setup("http_server_config:\n  http2: true\n");
    let out = s.command("127.0.0.1:1").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("http_server_config")
    );
    // as is a --web-config that does not exist
    let mut c = Command::new(exporter());
    let out = c
        .args(["--web-config", "/nonexistent/web.yml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn with_users_every_request_needs_valid_credentials() {
    let s = setup(&users_config());
    let (_srv, port) = s.start();
    for (path, auth) in [
        ("/metrics", None),
        ("/metrics", Some("prometheus:wrong")),
        ("/metrics", Some("nobody:s3cret")),
        ("/metrics", Some("prometheus")),
        ("/", None),
        ("/nothing", None),
    ] {
        let (st, head, _) = get(port, path, auth);
        assert_eq!(st, 401, "{path} {auth:?}");
        assert!(
            head.contains("www-authenticate: Basic realm=\"piranha-exporter\""),
            "{head}"
        );
    }
    // the right ones, twice (the second from the cache)
    for _ in 0..2 {
        let (st, _, body) = get(port, "/metrics", Some("prometheus:s3cret"));
        assert_eq!(st, 200);
        assert!(
            String::from_utf8(body)
                .unwrap()
                .contains("piranha_ipvs_up 1")
        );
    }
    assert_eq!(get(port, "/metrics", Some("prometheus:s3cret ")).0, 401);
}

#[test]
fn with_users_all_addresses_are_allowed() {
    let s = setup(&users_config());
    let port = free_port();
    let _srv = Server(start_server(&mut s.command(&format!(":{port}")), port));
    assert_eq!(get(port, "/metrics", None).0, 401);
    assert_eq!(get(port, "/metrics", Some("prometheus:s3cret")).0, 200);
}

#[test]
fn tls() {
    if !(lvs_tests::have("tls", "openssl", "openssl") && lvs_tests::have("tls", "curl", "curl")) {
        return;
    }
    let s = setup("");
    let d = s.dir.path();
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
        ])
        .arg(d.join("k.pem"))
        .arg("-out")
        .arg(d.join("c.pem"))
        .output()
        .unwrap();
    assert!(ok.status.success(), "{ok:?}");
    std::fs::write(
        &s.web,
        format!(
            "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n{}",
            users_config()
        ),
    )
    .unwrap();
    let (_srv, port) = s.start();
    let curl = |user: &str| {
        let o = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(d.join("c.pem"))
            .args(["-u", user, &format!("https://127.0.0.1:{port}/metrics")])
            .output()
            .unwrap();
        String::from_utf8(o.stdout).unwrap()
    };
    assert_eq!(curl("prometheus:s3cret"), "200");
    assert_eq!(curl("prometheus:nope"), "401");
    // plain HTTP on the TLS port gets nothing useful
    let (st, _, _) = std::panic::catch_unwind(|| get(port, "/metrics", None)).unwrap_or((
        0,
        String::new(),
        vec![],
    ));
    assert_ne!(st, 200);
}
