//! The real piranha_gui on a loopback port, and a small HTTP/1.1 client
//! that can choose its source address (127.0.0.2 and so on).

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;

/// `pir4nha!` as `openssl passwd -apr1 -salt saltsalt` writes it (quick to
/// check, unlike bcrypt in a debug build).
pub const APR1: &str = "$apr1$saltsalt$Golc7VZFCY/J9iYNrpYdW1";
/// Its password.
pub const PASSWORD: &str = "pir4nha!";

/// A small lvs.cf.
pub const LVS_CF: &str = "serial_no = 3
primary = 10.0.0.1
service = lvs
backup_active = 0
heartbeat = 1
heartbeat_port = 539
keepalive = 2
deadtime = 6
network = nat
nat_router = 192.168.1.254 eth1:1
virtual <script>alert(1)</script> {
     active = 1
     address = 10.0.0.100 eth0:1
     port = 80
     send = \"GET / HTTP/1.0\\r\\n\\r\\n\"
     expect = \"HTTP\"
     scheduler = wlc
     protocol = tcp
     timeout = 6
     reentry = 15
     server web1 {
         address = 192.168.1.10
         active = 1
         weight = 1
     }
}
";

/// A running piranha_gui.
pub struct Gui {
    pub dir: tempfile::TempDir,
    pub child: Child,
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Gui {
    /// lvs.cf and the password file in a temporary directory.
    pub fn files() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("lvs.cf"), LVS_CF).unwrap();
        std::fs::write(
            dir.path().join("piranha.passwd"),
            format!("piranha:{APR1}\n"),
        )
        .unwrap();
        dir
    }

    /// Starts piranha_gui on 127.0.0.1 with files from `dir` and `extra`
    /// arguments.
    pub fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Gui {
        Gui::start_env(dir, extra, &[])
    }

    /// [`Gui::start_in`] with environment variables.
    pub fn start_env(dir: tempfile::TempDir, extra: &[&str], env: &[(&str, String)]) -> Gui {
        let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_piranha_gui"))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .args(["--nodaemon", "--listen", "127.0.0.1", "--port", "0"])
            .args(["-c", &p("lvs.cf"), "--passwd-file", &p("piranha.passwd")])
            .args(["--htaccess", &p(".htaccess")])
            .args([
                "--pulse-socket",
                &p("pulse.sock"),
                "--lvsd-socket",
                &p("lvsd.sock"),
            ])
            .args(["--procfs", &p("proc")])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("piranha_gui: serving ") {
                    let _ = tx.send(rest.to_string());
                }
                l.lock().unwrap().push(line);
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("piranha_gui says where it serves");
        let hostport = url
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_end_matches('/');
        Gui {
            dir,
            child,
            addr: hostport.parse().unwrap(),
            log,
        }
    }

    /// Starts piranha_gui with the default files.
    pub fn start(extra: &[&str]) -> Gui {
        Gui::start_in(Gui::files(), extra)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Sends a request from 127.0.0.1.
    pub fn req(&self, r: Req) -> Resp {
        self.req_from("127.0.0.1", r)
    }

    /// Sends a request from `source`.
    pub fn req_from(&self, source: &str, r: Req) -> Resp {
        send(self.addr, source.parse().unwrap(), &r)
    }

    /// The log lines so far.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Gui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A request.
#[derive(Debug, Clone, Default)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn new(method: &str, path: &str) -> Req {
        Req {
            method: method.into(),
            path: path.into(),
            ..Req::default()
        }
    }
    pub fn get(path: &str) -> Req {
        Req::new("GET", path)
    }
    pub fn post(path: &str, form: &[(&str, &str)]) -> Req {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        Req::new("POST", path)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.into_bytes())
    }
    pub fn header(mut self, k: &str, v: &str) -> Req {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn body(mut self, b: Vec<u8>) -> Req {
        self.body = b;
        self
    }
    pub fn basic(self, user: &str, pass: &str) -> Req {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        self.header("Authorization", &format!("Basic {b}"))
    }
    pub fn auth(self) -> Req {
        self.basic("piranha", PASSWORD)
    }
    pub fn cookie(self, c: &str) -> Req {
        self.header("Cookie", c)
    }
}

/// A response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, k: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    /// The value of hidden input `name` in the body.
    pub fn hidden(&self, name: &str) -> Option<String> {
        let key = format!("name=\"{name}\" value=\"");
        let at = self.body.find(&key)? + key.len();
        let end = self.body[at..].find('"')?;
        Some(self.body[at..at + end].to_string())
    }
    /// `NAME=VALUE` of Set-Cookie `name`.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.all("set-cookie")
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(|c| c.to_string())
    }
}

fn connect_from(addr: SocketAddr, source: IpAddr) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&SocketAddr::new(source, 0).into()).unwrap();
    s.connect_timeout(&addr.into(), Duration::from_secs(5))
        .unwrap();
    s.into()
}

/// Sends one request on a new connection and reads the whole answer.
pub fn send(addr: SocketAddr, source: IpAddr, r: &Req) -> Resp {
    let mut s = connect_from(addr, source);
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n",
        r.method, r.path
    );
    let has_len = r.headers.iter().any(|(k, _)| {
        k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding")
    });
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !has_len && (!r.body.is_empty() || r.method == "POST" || r.method == "PUT") {
        head.push_str(&format!("Content-Length: {}\r\n", r.body.len()));
    }
    head.push_str("\r\n");
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(&r.body);
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 << 10];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    parse(&raw)
}

fn parse(raw: &[u8]) -> Resp {
    let text = String::from_utf8_lossy(raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body: body.to_string(),
    }
}

/// Logs in through the form from 127.0.0.1: the session cookie
/// (`piranha_session=...`) and the CSRF token of the next page.
pub fn login(gui: &Gui) -> (String, String) {
    let form = gui.req(Req::get("/login"));
    assert_eq!(form.status, 200, "{form:?}");
    let token = form.hidden("csrf").expect("login form token");
    let lc = form.set_cookie("piranha_login").unwrap();
    let lc = lc.split(';').next().unwrap().to_string();
    let r = gui.req(
        Req::post(
            "/login",
            &[
                ("csrf", &token),
                ("username", "piranha"),
                ("password", PASSWORD),
                ("next", "/global"),
            ],
        )
        .cookie(&lc),
    );
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.header("location"), Some("/global"));
    let sc = r.set_cookie("piranha_session").expect("session cookie");
    let cookie = sc.split(';').next().unwrap().to_string();
    let page = gui.req(Req::get("/global").cookie(&cookie));
    assert_eq!(page.status, 200, "{page:?}");
    let csrf = page.hidden("csrf").expect("csrf token on the page");
    (cookie, csrf)
}

/// Waits until `f` holds.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// The file's bytes.
pub fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

/// A stand-in daemon on the UNIX socket `path`: answers each request line
/// with `answer(request, how many requests so far)`.
pub fn fake_daemon(path: &Path, answer: fn(&str, u64) -> String) {
    let l = std::os::unix::net::UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        let mut n = 0;
        for s in l.incoming() {
            let Ok(mut s) = s else { break };
            n += 1;
            let mut line = String::new();
            let _ = BufReader::new(&s).read_line(&mut line);
            let _ = s.write_all(answer(line.trim(), n).as_bytes());
        }
    });
}

/// The workspace's `lvscf` binary, built now (up to date with this tree).
pub fn lvscf_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap();
    let dir = if dir.ends_with("deps") {
        dir.parent().unwrap()
    } else {
        dir
    };
    let mut c = Command::new(std::env::var("CARGO").unwrap_or("cargo".into()));
    c.args(["build", "-q", "-p", "lvscf", "--bin", "lvscf"]);
    if dir.ends_with("release") {
        c.arg("--release");
    }
    assert!(c.status().unwrap().success(), "cargo build -p lvscf");
    dir.join("lvscf")
}
