//! The lvsd binary on this machine (no IPVS needed): command line, start-up
//! errors, and `--test-start`, which prints what it would do and touches
//! nothing: start-up, reload (good and bad files), status, shutdown.

mod common;

use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::Collected;

fn lvsd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lvsd"))
}

fn run(args: &[&str]) -> (i32, String, String) {
    let (code, out, err) = lvs_tests::cli::output(lvsd().args(args));
    (code.unwrap_or(-1), out, err)
}

#[test]
fn version_help_and_usage() {
    let (code, out, err) = run(&["--version"]);
    assert_eq!((code, err.as_str()), (0, ""));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], "Program Version:\tlvs 1.38");
    assert!(lines[1].starts_with("Built:\t\t\t"));
    assert_eq!(lines[2], "A component of:\t\tpiranha-0.8.6-1");
    for a in ["-?", "--help"] {
        let (code, out, _) = run(&[a]);
        assert_eq!(code, 0);
        assert!(out.starts_with("Usage: lvsd [OPTION...]\n"), "{out}");
        assert!(out.contains("  -c, --configfile=STRING     Configuration file\n"));
    }
    let (code, out, _) = run(&["--usage"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Usage: lvsd [-?ntv]"));
}

#[test]
fn command_line_and_config_errors() {
    assert_eq!(
        run(&["--bogus"]),
        (
            1,
            String::new(),
            "lvs: bad argument --bogus: unknown option\n".into()
        )
    );
    assert_eq!(
        run(&["-c"]),
        (
            1,
            String::new(),
            "lvs: bad argument -c: missing argument\n".into()
        )
    );
    assert_eq!(
        run(&["-n", "extra"]),
        (1, String::new(), "lvs: unexpected arguments\n".into())
    );
    assert_eq!(
        run(&["-n", "-c", "/nonexistent/lvs.cf"]),
        (
            1,
            String::new(),
            "lvs: failed to open /nonexistent/lvs.cf\n".into()
        )
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.cf");
    std::fs::write(&bad, "serial_no = 1\nvirtual a {\n  port = x80\n}\n").unwrap();
    let f = bad.to_str().unwrap();
    assert_eq!(
        run(&["-n", "-c", f]),
        (
            1,
            String::new(),
            format!("lvs: error parsing {f} on line 3.\n")
        )
    );
    let empty = dir.path().join("empty.cf");
    std::fs::write(&empty, "").unwrap();
    let f = empty.to_str().unwrap();
    assert_eq!(
        run(&["-t", "-n", "-c", f]).2,
        format!("lvs: error parsing {f} on line 0.\n")
    );
    // no lvsd to ask
    let sock = dir.path().join("none.sock");
    let (code, out, err) = run(&["--status", "--status-socket", sock.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.starts_with("lvs: cannot get the status of lvsd: "),
        "{err}"
    );
}

/// A running lvsd with its stdout collected line by line.
struct Running(Collected);

impl Running {
    fn start(args: &[&str]) -> Running {
        Running(Collected::spawn(lvsd().args(args)))
    }

    fn lines(&self) -> Vec<String> {
        self.0.lines()
    }

    /// Waits until a line equal to `last` arrived; returns the lines since
    /// line `from`.
    fn until(&self, from: usize, last: &str) -> Vec<String> {
        self.until_match(from, last, |x| x == last)
    }

    /// Waits until a line for which `is_last` holds arrived; returns the
    /// lines since line `from`.
    fn until_match(&self, from: usize, what: &str, is_last: impl Fn(&str) -> bool) -> Vec<String> {
        let i = self
            .0
            .wait_line(from, what, is_last, Duration::from_secs(20));
        self.lines()[from..=i].to_vec()
    }

    fn signal(&self, sig: i32) {
        self.0.signal(sig);
    }

    fn wait(&mut self) -> i32 {
        self.0.wait_exit(Duration::from_secs(20))
    }
}

const CF: &str = r#"
network = direct
tcp_timeout = 900
virtual www {
     active = 1
     address = 203.0.113.100 eth0:1
     port = 80
     persistent = 300
     pmask = 255.255.255.0
     send = "GET / HTTP/1.0\r\n\r\n"
     expect = 'HTTP/1.1 200'
     timeout = 6
     reentry = 30
     sorry_server = 192.168.50.200
     server web1 {
         address = 192.168.50.11
         active = 1
         weight = 10
     }
     server web2 {
         address = 192.168.50.12
         active = 0
     }
}
virtual mark {
     active = 1
     address = 203.0.113.101 eth0:2
     fwmark = 7
     port = 443
     scheduler = rr
     send_program = "/usr/local/bin/check %h %p"
     server s1 {
         address = 192.168.50.21
         active = 1
     }
}
"#;

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn status(sock: &Path, json: bool) -> String {
    let mut args = vec!["--status", "--status-socket", sock.to_str().unwrap()];
    if json {
        args.push("--json");
    }
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    out
}

#[test]
fn test_start_prints_everything_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cf = dir.path().join("lvs.cf");
    let sock: PathBuf = dir.path().join("lvsd.sock");
    write(&cf, CF);
    let mut lvs = Running::start(&[
        "--nodaemon",
        "--test-start",
        "-c",
        cf.to_str().unwrap(),
        "--status-socket",
        sock.to_str().unwrap(),
    ]);
    let start = lvs.until(0, "lvs: test-start: /usr/sbin/nanny -c -h 192.168.50.21 -p 443 -r 443 -f 7 -e '/usr/local/bin/check %h %p' -a 180 -I /sbin/ipvsadm -t 10 -w 1 -V 203.0.113.101 -M g --nodaemon --lvs");
    assert_eq!(
        start,
        [
            "lvs: test-start: /sbin/ipvsadm --set 900 0 0",
            "lvs: test-start: /sbin/ipvsadm -C",
            "lvs: starting virtual service www active: 80",
            "lvs: test-start: /sbin/ipvsadm -A -t 203.0.113.100:80 -s wlc -p 300 -M 255.255.255.0",
            "lvs: test-start: /usr/sbin/nanny -c -h 192.168.50.11 -p 80 -r 80 -s 'GET / HTTP/1.0\\r\\n\\r\\n' -x 'HTTP/1.1 200' -a 30 -I /sbin/ipvsadm -t 6 -w 10 -V 203.0.113.100 -M g --nodaemon --lvs",
            "lvs: starting virtual service mark active: 443",
            "lvs: test-start: /sbin/ipvsadm -A -f 7 -s rr",
            "lvs: test-start: /usr/sbin/nanny -c -h 192.168.50.21 -p 443 -r 443 -f 7 -e '/usr/local/bin/check %h %p' -a 180 -I /sbin/ipvsadm -t 10 -w 1 -V 203.0.113.101 -M g --nodaemon --lvs",
        ]
    );

    // status, both forms
    while !sock.exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = status(&sock, false);
    let header = format!(
        "lvsd pid {}, config {} serial_no 0 sha256 {}, reloads 0 applied, 0 refused\n",
        lvs.0.child.id(),
        cf.display(),
        &lvscf::sha256_hex(CF.as_bytes())[..12]
    );
    assert!(
        text.starts_with(&(header + "virtual www: TCP 203.0.113.100:80 up, scheduler wlc, persistent 300 s, sorry server 192.168.50.200 not in use\n")),
        "{text}"
    );
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        rows.contains(&vec![
            "web1",
            "192.168.50.11:80",
            "shown",
            "-",
            "unknown",
            "-",
            "0",
            "-",
            "-"
        ]),
        "{text}"
    );
    assert!(
        rows.contains(&vec![
            "web2",
            "192.168.50.12:80",
            "inactive",
            "-",
            "-",
            "-",
            "0",
            "-",
            "-"
        ]),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&status(&sock, true)).unwrap();
    assert_eq!(json["virtuals"][1]["service"], "FWM 7");
    assert_eq!(json["virtuals"][0]["reals"][0]["monitor"], "shown");
    assert_eq!(json["virtuals"][0]["reals"][0]["configured_weight"], 10);

    // a reload as a diff: new scheduler, a new server, one removed, the
    // fwmark service gone
    let n = lvs.lines().len();
    let edited = CF
        .replace(
            "     persistent = 300\n",
            "     persistent = 300\n     scheduler = rr\n",
        )
        .replace(
            "address = 192.168.50.12\n         active = 0",
            "address = 192.168.50.12\n         active = 1",
        )
        .replace(
            "virtual mark {\n     active = 1",
            "virtual mark {\n     active = 0",
        );
    write(&cf, &edited);
    lvs.signal(libc::SIGHUP);
    let reload = lvs.until(n, "lvs: test-start: /usr/sbin/nanny -c -h 192.168.50.12 -p 80 -r 80 -s 'GET / HTTP/1.0\\r\\n\\r\\n' -x 'HTTP/1.1 200' -a 30 -I /sbin/ipvsadm -t 6 -w 1 -V 203.0.113.100 -M g --nodaemon --lvs");
    assert_eq!(
        reload[..4],
        [
            "lvs: rereading configuration file",
            "lvs: shutting down virtual service mark",
            "lvs: test-start: /sbin/ipvsadm -D -f 7",
            "lvs: test-start: /sbin/ipvsadm -E -t 203.0.113.100:80 -s rr -p 300 -M 255.255.255.0",
        ]
    );
    let summary = "lvs: configuration reloaded: 2 IPVS changes, 0 nannies started, 0 stopped (";
    let done = lvs.until_match(n, summary, |l| {
        l.starts_with(summary) && l.ends_with(" ms)")
    });
    assert_eq!(done.len(), reload.len() + 1);

    // a bad file is refused; everything stays
    let n = lvs.lines().len();
    write(&cf, "virtual x {\n active = maybe\n}\n");
    lvs.signal(libc::SIGHUP);
    let head = format!("lvs: reload refused: {}:2: active: ", cf.display());
    let refused = lvs.until_match(n, &head, |l| {
        l.starts_with(&head) && l.ends_with("; keeping the running configuration")
    });
    assert_eq!(
        refused,
        [
            "lvs: rereading configuration file".to_string(),
            format!("lvs: lvs: error parsing {} on line 2.", cf.display()),
            String::new(),
            refused[3].clone(),
        ]
    );
    let text = status(&sock, false);
    assert!(
        text.contains("virtual www: TCP 203.0.113.100:80 up, scheduler rr"),
        "{text}"
    );
    std::fs::remove_file(&cf).unwrap();
    let n = lvs.lines().len();
    lvs.signal(libc::SIGHUP);
    lvs.until(n, &format!("lvs: lvs: failed to open {}", cf.display()));

    // shutdown
    let n = lvs.lines().len();
    lvs.signal(libc::SIGTERM);
    let end = lvs.until(n, "lvs: test-start: /sbin/ipvsadm -D -t 203.0.113.100:80");
    assert_eq!(
        end,
        [
            "lvs: shutting down due to signal 15",
            "lvs: shutting down virtual service www",
            "lvs: test-start: /sbin/ipvsadm -D -t 203.0.113.100:80",
        ]
    );
    assert_eq!(lvs.wait(), 0);
    assert!(!sock.exists(), "status socket removed");
}

#[test]
fn daemon_mode_without_fork_writes_and_removes_the_pid_file() {
    let dir = tempfile::tempdir().unwrap();
    let cf = dir.path().join("lvs.cf");
    let sock = dir.path().join("lvsd.sock");
    let pidf = dir.path().join("lvs.pid");
    write(&cf, CF);
    let mut child = lvsd()
        .args([
            "--nofork",
            "-t",
            "-c",
            cf.to_str().unwrap(),
            "--status-socket",
            sock.to_str().unwrap(),
        ])
        .env("LVS_PID_FILE", &pidf)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    while !(pidf.exists() && sock.exists()) {
        assert!(Instant::now() < end, "no pid file");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        std::fs::read_to_string(&pidf).unwrap(),
        format!("{}\n", child.id())
    );
    assert!(status(&sock, false).contains("virtual mark: FWM 7 up"));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(!pidf.exists());
    // stdout was detached: nothing printed there
    let mut out = String::new();
    use std::io::Read as _;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "");
}

/// One request on the status socket, as the exporter sends it.
fn ask(sock: &Path, request: &str) -> String {
    lvs_util::status_socket::query(sock.to_str().unwrap(), request, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{request}: {e}"))
}

fn ask_json(sock: &Path, request: &str) -> Value {
    let answer = ask(sock, request);
    serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{request}: {e}: {answer}"))
}

/// `(proto, address, port, fwmark, virtual_name)` of each service in a
/// `stats` answer, and its destinations' addresses.
fn services(stats: &Value) -> Vec<(String, Vec<String>)> {
    stats["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                format!(
                    "{} {} {} {} {}",
                    s["proto"].as_str().unwrap(),
                    s["address"].as_str().unwrap(),
                    s["port"],
                    s["fwmark"],
                    s["virtual_name"]
                ),
                s["dests"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| {
                        format!(
                            "{}:{} w{}",
                            d["address"].as_str().unwrap(),
                            d["port"],
                            d["weight"]
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

/// Waits for a line of lvsd after line `from` starting with `prefix`.
fn wait_prefix(lvs: &Running, from: usize, prefix: &str) {
    lvs.until_match(from, prefix, |l| l.starts_with(prefix));
}

#[test]
fn status_socket_json_stats_and_reload_accounting() {
    let dir = tempfile::tempdir().unwrap();
    let cf = dir.path().join("lvs.cf");
    let sock = dir.path().join("lvsd.sock");
    let first = format!("serial_no = 41\n{CF}");
    write(&cf, &first);
    let lvs = Running::start(&[
        "--nodaemon",
        "--test-start",
        "-c",
        cf.to_str().unwrap(),
        "--status-socket",
        sock.to_str().unwrap(),
    ]);
    lvs.until(0, "lvs: test-start: /sbin/ipvsadm -A -f 7 -s rr");
    let end = Instant::now() + Duration::from_secs(20);
    while !sock.exists() {
        assert!(Instant::now() < end, "no status socket");
        std::thread::sleep(Duration::from_millis(20));
    }

    // the socket: 0660 with group piranha when it exists, else 0600
    let meta = std::fs::metadata(&sock).unwrap();
    assert!(meta.file_type().is_socket());
    let piranha = Command::new("getent")
        .args(["group", "piranha"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|l| {
            l.split(':')
                .nth(2)
                .and_then(|g| g.trim().parse::<u32>().ok())
        });
    match piranha {
        Some(gid) => {
            assert_eq!(meta.permissions().mode() & 0o777, 0o660);
            assert_eq!(meta.gid(), gid);
        }
        None => assert_eq!(meta.permissions().mode() & 0o777, 0o600),
    }

    // json: the new top-level fields and the per-server failures
    let j = ask_json(&sock, "json");
    let pid = lvs.0.child.id();
    assert_eq!(j["version"], 1);
    assert_eq!(j["pid"], pid);
    assert!(j["time"].as_f64().unwrap() > 1.7e9);
    assert_eq!(
        j["config"],
        json!({"file": cf.to_str().unwrap(), "serial_no": 41,
               "sha256": lvscf::sha256_hex(first.as_bytes())})
    );
    let buckets: Vec<Value> = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]
        .iter()
        .map(|b| json!([b, 0]))
        .collect();
    assert_eq!(
        j["reloads"],
        json!({"total": 0, "refused": 0, "last_duration_seconds": null,
               "duration_seconds": {"buckets": buckets, "sum": 0.0, "count": 0}})
    );
    assert_eq!(j["virtuals"][0]["reals"][0]["check_failures"], 0);
    assert_eq!(j["virtuals"][0]["reals"][1]["check_failures"], 0);
    // the same document through lvsd --status --json
    let cli: Value = serde_json::from_str(&status(&sock, true)).unwrap();
    assert_eq!(cli["config"], j["config"]);
    assert_eq!(cli["pid"], pid);

    // stats: the table --test-start made (no nanny runs: no real servers)
    let st = ask_json(&sock, "stats");
    assert_eq!((&st["version"], &st["error"]), (&json!(1), &Value::Null));
    assert!(st["time"].as_f64().unwrap() > 1.7e9);
    assert_eq!(
        services(&st),
        [
            ("TCP 203.0.113.100 80 0 \"www\"".to_string(), vec![]),
            ("FWM  0 7 \"mark\"".to_string(), vec![]),
        ]
    );
    assert_eq!(
        st["services"][0]["stats"],
        json!({"conns": 0, "inpkts": 0, "outpkts": 0, "inbytes": 0, "outbytes": 0})
    );
    // an unknown request is answered, and lvsd carries on
    assert_eq!(
        ask(&sock, "bogus"),
        "unknown request: expected text, json or stats\n"
    );

    // a refused reload: counted, the configuration in force stays
    let n = lvs.lines().len();
    write(&cf, "virtual x {\n active = maybe\n}\n");
    lvs.signal(libc::SIGHUP);
    wait_prefix(&lvs, n, "lvs: reload refused: ");
    let j = ask_json(&sock, "json");
    assert_eq!(
        (&j["reloads"]["total"], &j["reloads"]["refused"]),
        (&json!(0), &json!(1))
    );
    assert_eq!(j["config"]["serial_no"], 41);
    assert_eq!(j["config"]["sha256"], lvscf::sha256_hex(first.as_bytes()));
    assert_eq!(j["reloads"]["last_duration_seconds"], Value::Null);
    // and one whose file cannot be opened
    std::fs::remove_file(&cf).unwrap();
    let n = lvs.lines().len();
    lvs.signal(libc::SIGHUP);
    wait_prefix(&lvs, n, "lvs: reload refused: ");
    assert_eq!(ask_json(&sock, "json")["reloads"]["refused"], 2);

    // an applied reload: counted and timed, the new file's identity, the
    // new table (the fwmark service gone, a sorry-server-free UDP service)
    let second = first.replace("serial_no = 41", "serial_no = 42").replace(
        "virtual mark {\n     active = 1",
        "virtual mark {\n     active = 0",
    ) + "virtual dns {\n active = 1\n address = 203.0.113.102 eth0:3\n protocol = udp\n port = 53\n server ns {\n  address = 192.168.50.31\n  active = 1\n }\n}\n";
    write(&cf, &second);
    let n = lvs.lines().len();
    lvs.signal(libc::SIGHUP);
    wait_prefix(&lvs, n, "lvs: configuration reloaded: ");
    let j = ask_json(&sock, "json");
    assert_eq!(
        j["config"],
        json!({"file": cf.to_str().unwrap(), "serial_no": 42,
               "sha256": lvscf::sha256_hex(second.as_bytes())})
    );
    let r = &j["reloads"];
    assert_eq!((&r["total"], &r["refused"]), (&json!(1), &json!(2)));
    let took = r["last_duration_seconds"].as_f64().unwrap();
    assert!((0.0..20.0).contains(&took), "{r}");
    let h = &r["duration_seconds"];
    assert_eq!(h["count"], 1);
    assert_eq!(h["sum"].as_f64(), Some(took));
    // cumulative: 0 below the duration, 1 from the first bound above it on
    for b in h["buckets"].as_array().unwrap() {
        let (bound, n) = (b[0].as_f64().unwrap(), b[1].as_u64().unwrap());
        assert_eq!(n, u64::from(took <= bound), "{h}");
    }
    let st = ask_json(&sock, "stats");
    assert_eq!(
        services(&st),
        [
            ("TCP 203.0.113.100 80 0 \"www\"".to_string(), vec![]),
            ("UDP 203.0.113.102 53 0 \"dns\"".to_string(), vec![]),
        ]
    );
    let text = status(&sock, false);
    assert!(
        text.starts_with(&format!(
            "lvsd pid {pid}, config {} serial_no 42 sha256 {}, reloads 1 applied, 2 refused, last took ",
            cf.display(),
            &lvscf::sha256_hex(second.as_bytes())[..12]
        )),
        "{text}"
    );
}

/// pulse's socket (`--pulse-fd`): lvsd says `ready` once its table can
/// serve (at once under `--test-start`, where no nanny runs), takes role
/// lines (`standby`, `active`) into its status, and notices when pulse's
/// end closes.
#[test]
fn pulse_socket_ready_roles_and_pulse_gone() {
    use std::io::{BufRead as _, Write as _};
    use std::os::fd::AsRawFd as _;
    let dir = tempfile::tempdir().unwrap();
    let cf = dir.path().join("lvs.cf");
    let sock: PathBuf = dir.path().join("lvsd.sock");
    write(&cf, CF);
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = theirs.as_raw_fd();
    let mut cmd = lvsd();
    cmd.args([
        "--nodaemon",
        "--test-start",
        "--standby",
        &format!("--pulse-fd={fd}"),
        "-c",
        cf.to_str().unwrap(),
        "--status-socket",
        sock.to_str().unwrap(),
    ]);
    lvs_util::process::inherit_fd(&mut cmd, fd);
    let mut lvs = Running(Collected::spawn(&mut cmd));
    drop(theirs);
    ours.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reader = std::io::BufReader::new(ours.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).expect("lvsd says ready");
    assert_eq!(line, "ready\n");
    lvs.until(
        0,
        "lvs: starting as the warm standby: the partner holds the VIPs",
    );
    let st: Value = serde_json::from_str(&status(&sock, true)).unwrap();
    assert_eq!(st["role"], "standby", "{st}");
    assert!(
        status(&sock, false)
            .lines()
            .next()
            .unwrap()
            .contains(", role standby (warm:")
    );
    (&ours).write_all(b"active\n").unwrap();
    let n = lvs.lines().len();
    lvs.until(
        n.saturating_sub(1),
        "lvs: now active: this router holds the VIPs",
    );
    let st: Value = serde_json::from_str(&status(&sock, true)).unwrap();
    assert_eq!(st["role"], "active", "{st}");
    assert_eq!(st["pulse_gone"], false, "{st}");
    drop(reader);
    drop(ours);
    lvs.until(
        0,
        "lvs: pulse has gone without stopping lvsd: keeping the table as it is",
    );
    let st: Value = serde_json::from_str(&status(&sock, true)).unwrap();
    assert_eq!(st["pulse_gone"], true, "{st}");
    lvs.signal(libc::SIGTERM);
    assert_eq!(lvs.wait(), 0);
}
