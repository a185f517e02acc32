//! The `lvscf` command: check, dump --json, fmt, --version.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn lvscf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lvscf"))
        .args(args)
        .output()
        .expect("run lvscf")
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn version_banner() {
    let out = lvscf(&["--version"]);
    assert!(out.status.success());
    let t = text(&out.stdout);
    assert!(t.starts_with("Program Version:\tlvscf "), "{t:?}");
    assert_eq!(t.lines().count(), 3);
}

#[test]
fn check_valid_file_exits_0_silently() {
    let f = example("nat-two-directors.cf");
    let out = lvscf(&["check", &f]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stderr), "");
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn check_prints_warnings_on_stderr_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "lvs.cf",
        "virtual v {\nactive = 1\naddress = 10.0.0.1 eth0:1\ntimeout = 0\n} x\n",
    );
    let out = lvscf(&["check", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let name = f.display();
    assert_eq!(
        text(&out.stderr),
        format!(
            "{name}:4: timeout: warning: value 0: timeout must be > 0 (the original nanny crashes)\n\
             {name}:5: warning: text after the closing brace ignored, starting at \"x\"\n"
        )
    );
}

/// `lvscf check` on a file `name` holding `content` in `dir`: its exit
/// code, its stderr and the file's path.
fn check(dir: &Path, name: &str, content: &str) -> (Option<i32>, String, String) {
    let f = write(dir, name, content);
    let out = lvscf(&["check", f.to_str().unwrap()]);
    (
        out.status.code(),
        text(&out.stderr),
        f.display().to_string(),
    )
}

#[test]
fn check_runs_the_daemons_checks() {
    let dir = tempfile::tempdir().unwrap();
    // Parses, but pulse would exit: no active virtual server.
    let (code, err, name) = check(
        dir.path(),
        "lvs.cf",
        "virtual v {\naddress = 10.0.0.1 eth0:1\n}\n",
    );
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        format!("{name}: no active lvs services defined in {name}\n")
    );
    // gaps.md B7: primary_private without backup_private.
    let (code, err, name) = check(
        dir.path(),
        "b7.cf",
        "backup_active = 1\nbackup = 10.0.0.3\nprimary_private = 192.168.0.2\n\
         virtual v {\nactive = 1\naddress = 10.0.0.1 eth0:1\n}\n",
    );
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        format!(
            "{name}: backup_private: expected backup_private because primary_private is set, \
             found none (the backup could not bind its private heartbeat socket)\n"
        )
    );
    // A warning pulse logs and carries on with: exit 0.
    let (code, err, name) = check(
        dir.path(),
        "warn.cf",
        "virtual v {\nactive = 1\naddress = 10.0.0.1 eth0\n}\n",
    );
    assert_eq!(code, Some(0));
    assert!(
        err.starts_with(&format!(
            "{name}:1: virtual v: address: expected an alias device such as eth0:1"
        )),
        "{err}"
    );
    // fos mode: fos's checks.
    let (code, err, name) = check(
        dir.path(),
        "fos.cf",
        "service = fos\nfailover f {\nactive = 1\naddress = 10.0.0.1 eth0:1\nstart_cmd = /bin/true\n}\n",
    );
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        format!(
            "{name}:2: failover f: stop_cmd: expected a stop_cmd command in an active \
             failover block, found none\n"
        )
    );
    // fos mode: shared SCSI, which fos and pulse refuse (gaps.md F6).
    let (code, err, name) = check(
        dir.path(),
        "scsi.cf",
        "service = fos\nprimary_shared = /dev/sda\nbackup_shared = /dev/sdb\n\
         reservation_conflict_action = nothing\nfailover f {\nactive = 1\n\
         address = 10.0.0.1 eth0:1\nstart_cmd = /bin/true\nstop_cmd = /bin/true\n}\n",
    );
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with(&format!(
            "{name}: primary_shared, backup_shared: expected no shared SCSI device"
        )),
        "{err}"
    );
}

#[test]
fn check_error_exits_1_with_file_line_message() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "lvs.cf",
        "serial_no = 1\n\nvirtual v {\n  address = 10.0.0.1\n}\n",
    );
    let out = lvscf(&["check", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "{}:4: address: expected an address and a device (ADDRESS DEVICE) after \"=\", \
             found 1 value(s) (missing arguments)\n",
            f.display()
        )
    );
    assert_eq!(text(&out.stdout), "");
    // An empty file: line 0.
    let f = write(dir.path(), "empty.cf", "");
    let out = lvscf(&["check", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with(&format!("{}:0: ", f.display())));
    assert!(text(&out.stderr).ends_with("(Empty configuration)\n"));
}

#[test]
fn check_missing_file_exits_1() {
    let out = lvscf(&["check", "/nonexistent/lvs.cf"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("/nonexistent/lvs.cf: failed to open: "),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn default_file_is_etc_sysconfig_ha_lvs_cf() {
    let out = lvscf(&["check"]);
    let err = text(&out.stderr);
    if Path::new("/etc/sysconfig/ha/lvs.cf").exists() {
        assert!(
            err.is_empty() || err.contains("/etc/sysconfig/ha/lvs.cf"),
            "{err}"
        );
    } else {
        assert_eq!(out.status.code(), Some(1));
        assert!(
            err.starts_with("/etc/sysconfig/ha/lvs.cf: failed to open: "),
            "{err}"
        );
    }
}

#[test]
fn no_command_is_a_usage_error() {
    assert_eq!(lvscf(&[]).status.code(), Some(2));
    assert_eq!(lvscf(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn dump_json_shape() {
    let out = lvscf(&["dump", "--json", &example("nat-two-directors.cf")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let raw = text(&out.stdout);
    let v: Value = serde_json::from_str(&raw).unwrap();
    assert!(raw.find("\"global\"") < raw.find("\"virtual\""));
    assert!(raw.find("\"virtual\"") < raw.find("\"failover\""));

    let g = &v["global"];
    assert_eq!(g["serial_no"], 12);
    assert_eq!(g["service"], "lvs");
    assert_eq!(g["primary"], "203.0.113.10");
    assert_eq!(g["primary_private"], "10.99.0.1");
    assert_eq!(g["backup_active"], 1);
    assert_eq!(g["heartbeat_port"], 539);
    assert_eq!(g["network"], "nat");
    assert_eq!(g["nat_router"], "192.168.50.254 eth1:1");
    assert_eq!(g["hard_shutdown"], 1);
    assert_eq!(g["ipvsadm"], "/sbin/ipvsadm");
    assert_eq!(g["active_cmd"], "/etc/sysconfig/ha/active.sh");
    assert!(g.get("reservation_conflict_action").is_none());

    let vs = v["virtual"].as_array().unwrap();
    assert_eq!(vs.len(), 2);
    let www = &vs[0];
    let keys: Vec<&String> = www.as_object().unwrap().keys().collect();
    assert!(keys.iter().all(|k| !k.contains('-')));
    assert_eq!(www["name"], "www");
    assert_eq!(www["active"], 1);
    assert_eq!(www["address"], "203.0.113.100 eth0:1");
    assert_eq!(www["port"], 80);
    assert_eq!(www["persistent"], 300);
    assert_eq!(www["quiesce_server"], 1);
    // After quote stripping and escape processing.
    assert_eq!(www["send"], "GET /health HTTP/1.0\r\n\r\n");
    assert_eq!(www["expect"], "HTTP/1.1 200");
    let servers = www["server"].as_array().unwrap();
    assert_eq!(
        servers[0],
        serde_json::json!({"name": "web1", "address": "192.168.50.11", "active": 1, "weight": 10, "port": 80})
    );
    // Server keys in the order.
    let s0 = raw.find("\"web1\"").unwrap();
    let order: Vec<usize> = ["\"address\"", "\"active\"", "\"weight\"", "\"port\""]
        .iter()
        .map(|k| s0 + raw[s0..].find(k).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert_eq!(vs[1]["server"][1]["active"], 0);
    assert_eq!(v["failover"], serde_json::json!([]));
}

#[test]
fn dump_failover_blocks_and_quote_compat_flag() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "lvs.cf",
        "service = fos\nfailover ftp {\nactive = 1\nsend = 'QUIT\\r\\n'\nstart_cmd = '/bin/ftpd start'\n}\n",
    );
    let out = lvscf(&["dump", "--json", f.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ftp = &v["failover"][0];
    assert_eq!(ftp["name"], "ftp");
    assert_eq!(ftp["send"], "QUIT\r\n");
    assert_eq!(ftp["start_cmd"], "/bin/ftpd start");
    assert!(ftp.get("server").is_none());
    let out = lvscf(&[
        "dump",
        "--json",
        "--keep-single-quotes",
        f.to_str().unwrap(),
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["failover"][0]["send"], "'QUIT\r\n'");
    assert_eq!(v["failover"][0]["start_cmd"], "'/bin/ftpd start'");
}

#[test]
fn dump_error_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "lvs.cf", "keepalive = x\n");
    let out = lvscf(&["dump", "--json", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert!(text(&out.stderr).contains(":1: keepalive: "));
}

#[test]
fn fmt_keeps_comments_order_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let messy = "# comment\r\n  keepalive   =\t0x6\r\n\r\n\r\nvirtual \"web farm\" {\r\n\r\n server a {\r\n # inner\r\n }\r\n port = http \r\n send = 'GET /'\r\n";
    let f = write(dir.path(), "lvs.cf", messy);
    let out = lvscf(&["fmt", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let formatted = text(&out.stdout);
    assert_eq!(
        formatted,
        "# comment\nkeepalive = 0x6\n\nvirtual \"web farm\" {\n    server a {\n        # inner\n    \
         }\n    port = http\n    send = 'GET /'\n}\n"
    );
    let g = write(dir.path(), "fmt.cf", &formatted);
    assert_eq!(
        text(&lvscf(&["fmt", g.to_str().unwrap()]).stdout),
        formatted
    );
    let a = lvscf(&["dump", "--json", f.to_str().unwrap()]);
    let b = lvscf(&["dump", "--json", g.to_str().unwrap()]);
    assert_eq!(a.stdout, b.stdout);
    // An invalid file is not formatted.
    let bad = write(dir.path(), "bad.cf", "# c\nkeepalive = x\n");
    let out = lvscf(&["fmt", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert!(
        text(&out.stderr).contains(":2: keepalive: "),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn fmt_regenerate_prints_the_model_form_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let messy = "# comment\r\n  keepalive   =\t0x6\r\nvirtual \"web farm\" {\r\n server a {\r\n }\r\n port = http \r\n send = 'GET /'\r\n}\r\n";
    let f = write(dir.path(), "lvs.cf", messy);
    let out = lvscf(&["fmt", "--regenerate", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let formatted = text(&out.stdout);
    assert_eq!(
        formatted,
        "service = lvs\nkeepalive = 6\n\nvirtual \"web farm\" {\n    active = 0\n    port = 80\n    \
         send = 'GET /'\n    server a {\n        address = 0.0.0.0\n        active = 0\n        \
         weight = 1\n    }\n}\n"
    );
    let g = write(dir.path(), "fmt.cf", &formatted);
    let again = lvscf(&["fmt", "--regenerate", g.to_str().unwrap()]);
    assert_eq!(text(&again.stdout), formatted);
    // The same effective configuration.
    let a = lvscf(&["dump", "--json", f.to_str().unwrap()]);
    let b = lvscf(&["dump", "--json", g.to_str().unwrap()]);
    assert_eq!(a.stdout, b.stdout);
}
