//! The fos binary on this host, with `fos-test-service` as the services'
//! init script (a real TCP server it starts and stops) and as the monitor:
//! start-up and shutdown in both modes with their exact log lines, a
//! monitor's exit as the failover condition, signals, failing commands,
//! test mode and daemon mode (fos.md §2–§4, gaps.md F5/F7).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const FOS: &str = env!("CARGO_BIN_EXE_fos");
const HELPER: &str = env!("CARGO_BIN_EXE_fos-test-service");

/// A directory with lvs.cf, the record and the log; servers whose pid
/// files are left in it are killed on drop.
struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        Lab {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn dir(&self) -> String {
        self.dir.path().display().to_string()
    }
    fn write_cf(&self, text: &str) -> String {
        let p = self.path("lvs.cf");
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(FOS);
        c.args(args)
            .env("LF_RECORD", self.path("record"))
            .env("LF_NODE", "n1")
            .env("FOS_PID_FILE", self.path("fos.pid"))
            .stdin(Stdio::null());
        c
    }
    /// Starts fos in the foreground; its stdout goes to `log`.
    fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> Child {
        let log = std::fs::File::create(self.path("log")).unwrap();
        let mut c = self.command(args);
        c.stdout(log).stderr(Stdio::inherit());
        for (k, v) in env {
            c.env(k, v);
        }
        c.spawn().expect("start fos")
    }
    fn log(&self) -> Vec<String> {
        read_lines(&self.path("log"))
    }
    fn records(&self) -> Vec<String> {
        read_lines(&self.path("record"))
    }
    fn wait_log(&self, line: &str) -> bool {
        wait(|| self.log().iter().any(|l| l == line))
    }
    fn wait_record(&self, line: &str) -> bool {
        wait(|| self.records().iter().any(|l| l == line))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for e in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".pid")
                && let Some(pid) = std::fs::read_to_string(e.path())
                    .ok()
                    .and_then(|s| s.trim().parse::<i32>().ok())
            {
                // SAFETY: kill has no memory-safety preconditions; these are
                // processes this test started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

fn read_lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn wait(mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: signalling a process this test started.
    unsafe { libc::kill(pid as i32, sig) };
}

fn exit_code(child: &mut Child) -> Option<i32> {
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code();
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("fos did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn ask(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.write_all(b"ping\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Two active blocks (and an inactive one) whose commands are the helper.
fn services_cf(lab: &Lab, web: u16, ftp: u16) -> String {
    let d = lab.dir();
    format!(
        "primary = 203.0.113.1\nbackup = 203.0.113.2\nbackup_active = 1\nservice = fos\n\
         failover web {{\n active = 1\n address = 203.0.113.100 eth0:1\n port = {web}\n\
          start_cmd = \"{HELPER} start web {web} {d}\"\n stop_cmd = \"{HELPER} stop web {d}\"\n}}\n\
         failover off {{\n active = 0\n address = 203.0.113.102 eth0:3\n}}\n\
         failover ftp {{\n active = 1\n address = 203.0.113.101 eth0:2\n port = {ftp}\n\
          start_cmd = \"{HELPER} start ftp {ftp} {d}\"\n stop_cmd = \"{HELPER} stop ftp {d}\"\n}}\n"
    )
}

#[test]
fn services_mode_stops_and_starts_each_service_and_stops_them_on_sigterm() {
    let lab = Lab::new();
    let (web, ftp) = (free_port(), free_port());
    let cf = lab.write_cf(&services_cf(&lab, web, ftp));
    let mut fos = lab.spawn(&["-n", "-F", "-c", &cf], &[]);
    assert!(lab.wait_record("start ftp"), "{:?}", lab.log());
    assert_eq!(ask(web).as_deref(), Some("pong n1 web\n"));
    assert_eq!(ask(ftp).as_deref(), Some("pong n1 ftp\n"));
    signal(fos.id(), libc::SIGTERM);
    assert_eq!(exit_code(&mut fos), Some(0));
    let (w, f) = (
        format!("203.0.113.100:{web}"),
        format!("203.0.113.101:{ftp}"),
    );
    assert_eq!(
        lab.log(),
        [
            "fos: Stopping local services (if any)".to_string(),
            format!("fos: Shutting down local service {w} "),
            format!("fos: Starting local service {w} ..."),
            "fos: Stopping local services (if any)".to_string(),
            format!("fos: Shutting down local service {f} "),
            format!("fos: Starting local service {f} ..."),
            "fos: Shutting down due to signal 15".to_string(),
            format!("fos: Shutting down local service {w} "),
            format!("fos: Shutting down local service {f} "),
            "fos: will now exit to notify pulse...".to_string(),
        ]
    );
    assert_eq!(
        lab.records(),
        [
            "stop web",
            "start web",
            "stop ftp",
            "start ftp",
            "stop web",
            "stop ftp"
        ]
    );
    assert_eq!(ask(web), None, "the service was stopped");
}

#[test]
fn sighup_ends_fos_like_sigterm_f7() {
    let lab = Lab::new();
    let (web, ftp) = (free_port(), free_port());
    let cf = lab.write_cf(&services_cf(&lab, web, ftp));
    let mut fos = lab.spawn(&["-n", "-F", "-c", &cf], &[]);
    assert!(lab.wait_record("start ftp"), "{:?}", lab.log());
    signal(fos.id(), libc::SIGHUP);
    assert_eq!(exit_code(&mut fos), Some(0));
    let log = lab.log();
    assert!(
        log.contains(&"fos: Shutting down due to signal 1".to_string()),
        "{log:?}"
    );
    assert_eq!(
        log.last().map(String::as_str),
        Some("fos: will now exit to notify pulse...")
    );
    assert_eq!(lab.records().iter().filter(|r| *r == "stop web").count(), 2);
}

#[test]
fn failing_commands_are_logged_and_not_fatal() {
    let lab = Lab::new();
    let cf = lab.write_cf(&format!(
        "primary = 203.0.113.1\nservice = fos\n\
         failover web {{\n active = 1\n address = 203.0.113.100 eth0:1\n\
          start_cmd = \"/nonexistent/httpd start\"\n stop_cmd = \"{HELPER} fail\"\n}}\n"
    ));
    let mut fos = lab.spawn(&["-n", "-F", "-c", &cf], &[]);
    assert!(
        lab.wait_log("fos: Failed to start service 203.0.113.100:80!"),
        "{:?}",
        lab.log()
    );
    // Still running: it waits for a signal.
    std::thread::sleep(Duration::from_millis(200));
    assert!(fos.try_wait().unwrap().is_none());
    signal(fos.id(), libc::SIGINT);
    assert_eq!(exit_code(&mut fos), Some(0));
    assert_eq!(
        lab.log(),
        [
            "fos: Stopping local services (if any)",
            "fos: Shutting down local service 203.0.113.100:80 ",
            "fos: Warning; shutdown of local service 203.0.113.100:80 returned error 1",
            "fos: Starting local service 203.0.113.100:80 ...",
            "fos: failed to execute /nonexistent/httpd: No such file or directory",
            "fos: Failed to start service 203.0.113.100:80!",
            "fos: Shutting down due to signal 2",
            "fos: Shutting down local service 203.0.113.100:80 ",
            "fos: Warning; shutdown of local service 203.0.113.100:80 returned error 1",
            "fos: will now exit to notify pulse...",
        ]
    );
    assert_eq!(lab.records(), ["fail", "fail"]);
}

/// Two blocks watched by the helper as monitor (client_monitor).
fn monitor_cf(lab: &Lab) -> String {
    let d = lab.dir();
    format!(
        "primary = 203.0.113.1\nbackup = 203.0.113.2\nbackup_active = 1\nservice = fos\n\
         failover web {{\n active = 1\n address = 203.0.113.100 eth0:1\n port = 80\n\
          send = \"GET / HTTP/1.0\\r\\n\\r\\n\"\n expect = \"HTTP\"\n timeout = 3\n\
          client_monitor = {HELPER}\n\
          start_cmd = \"{HELPER} start web 80 {d}\"\n stop_cmd = \"{HELPER} stop web {d}\"\n}}\n\
         failover dns {{\n active = 1\n address = 203.0.113.101 eth0:2\n port = 53\n protocol = udp\n\
          client_monitor = {HELPER}\n\
          start_cmd = \"{HELPER} start dns 53 {d}\"\n stop_cmd = \"{HELPER} stop dns {d}\"\n}}\n"
    )
}

fn monitor_pid(records: &[String], port: &str) -> String {
    records
        .iter()
        .filter_map(|r| r.strip_prefix("monitor "))
        .find(|r| r.contains(&format!(" -p {port} ")))
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("no monitor for {port}: {records:?}"))
        .to_string()
}

#[test]
fn monitor_mode_watches_each_service_and_a_monitor_exit_ends_fos() {
    let lab = Lab::new();
    let cf = lab.write_cf(&monitor_cf(&lab));
    let mut fos = lab.spawn(&["-n", "-f", "-c", &cf], &[("LF_MONITOR_EXIT", "53:0:700")]);
    assert_eq!(exit_code(&mut fos), Some(0), "{:?}", lab.log());
    let rec = lab.records();
    let (web, dns) = (monitor_pid(&rec, "80"), monitor_pid(&rec, "53"));
    // The exact nanny command line (fos.md §3); -V is the partner (this
    // host is not 203.0.113.1, so it is the backup and the partner is the
    // primary).
    assert!(
        rec.contains(&format!(
            "monitor {web} -c -h 203.0.113.100 -V 203.0.113.1 -p 80 -s GET / HTTP/1.0\\r\\n\\r\\n -x HTTP -t 3 --nodaemon --fos"
        )),
        "{rec:?}"
    );
    assert!(
        rec.contains(&format!(
            "monitor {dns} -c -h 203.0.113.101 -V 203.0.113.1 -p 53 -u -t 10 --nodaemon --fos"
        )),
        "{rec:?}"
    );
    assert_eq!(
        lab.log(),
        [
            "fos: Stopping local services (if any)".to_string(),
            "fos: Shutting down local service 203.0.113.100:80 ".to_string(),
            format!("fos: Starting monitor for 203.0.113.100:80 running as pid {web}"),
            "fos: Stopping local services (if any)".to_string(),
            "fos: Shutting down local service 203.0.113.101:53 ".to_string(),
            format!("fos: Starting monitor for 203.0.113.101:53 running as pid {dns}"),
            "fos: Monitor for service 203.0.113.101:53 exited. This is a failover condition!"
                .to_string(),
            format!("fos: Shutting down monitor for web 203.0.113.100:80 running as pid {web}"),
            "fos: will now exit to notify pulse...".to_string(),
        ]
    );
    assert!(rec.contains(&format!("monitor-stopped {web}")), "{rec:?}");
    assert!(rec.contains(&format!("monitor-exit {dns}")), "{rec:?}");
    // No service was started in monitor mode.
    assert!(!rec.iter().any(|r| r.starts_with("start ")), "{rec:?}");
}

#[test]
fn monitor_mode_passes_verbose_and_stops_every_monitor_on_sigterm() {
    let lab = Lab::new();
    let cf = lab.write_cf(&monitor_cf(&lab));
    let mut fos = lab.spawn(&["-n", "-f", "-v", "-c", &cf], &[]);
    assert!(
        wait(|| lab
            .records()
            .iter()
            .filter(|r| r.starts_with("monitor "))
            .count()
            == 2),
        "{:?}",
        lab.records()
    );
    signal(fos.id(), libc::SIGTERM);
    assert_eq!(exit_code(&mut fos), Some(0));
    let rec = lab.records();
    assert_eq!(
        rec.iter()
            .filter(|r| r.starts_with("monitor-stopped "))
            .count(),
        2,
        "{rec:?}"
    );
    assert!(rec.iter().any(|r| r.contains(" -p 80 -v -s ")), "{rec:?}");
}

#[test]
fn test_mode_runs_no_command_and_no_monitor() {
    for mode in ["-F", "-f"] {
        let lab = Lab::new();
        let cf = lab.write_cf(&monitor_cf(&lab));
        let mut fos = lab.spawn(&["-n", "-t", mode, "-c", &cf], &[]);
        assert!(
            lab.wait_log("fos: Shutting down local service 203.0.113.101:53 "),
            "{:?}",
            lab.log()
        );
        std::thread::sleep(Duration::from_millis(200));
        signal(fos.id(), libc::SIGTERM);
        assert_eq!(exit_code(&mut fos), Some(0));
        assert!(lab.records().is_empty(), "{mode}: {:?}", lab.records());
        let log = lab.log();
        assert!(
            !log.iter().any(|l| l.contains("Starting monitor")),
            "{log:?}"
        );
        assert_eq!(
            log.last().map(String::as_str),
            Some("fos: will now exit to notify pulse...")
        );
    }
}

#[test]
fn daemon_mode_forks_writes_the_pid_file_and_removes_it() {
    let lab = Lab::new();
    let web = free_port();
    let cf = lab.write_cf(&services_cf(&lab, web, free_port()));
    let out = lab.command(&["-F", "-c", &cf]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "the foreground process exits 0");
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    assert!(lab.wait_record("start ftp"));
    let pid_file = lab.path("fos.pid");
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(ask(web).as_deref(), Some("pong n1 web\n"));
    signal(pid, libc::SIGTERM);
    assert!(wait(|| !pid_file.exists()), "pid file not removed");
    assert!(lab.wait_record("stop ftp"));
    assert_eq!(ask(web), None);
}

#[test]
fn nofork_detaches_without_forking() {
    let lab = Lab::new();
    let cf = lab.write_cf(&services_cf(&lab, free_port(), free_port()));
    let mut c = lab.command(&["-F", "--nofork", "-c", &cf]);
    let mut fos = c.stdout(Stdio::piped()).spawn().unwrap();
    assert!(lab.wait_record("start ftp"));
    let pid_file = lab.path("fos.pid");
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap(),
        format!("{}\n", fos.id())
    );
    signal(fos.id(), libc::SIGTERM);
    assert_eq!(exit_code(&mut fos), Some(0));
    assert!(!pid_file.exists());
    // Logs went to syslog, not to stdout.
    let mut out = String::new();
    fos.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(out.is_empty(), "{out}");
}
