//! Test stand-in for a failover service's init script and for nanny, used
//! by fos's and pulse's tests. Every event is appended as one line to the
//! file named by `$LF_RECORD`; `$LF_NODE` names the node (default `node`).
//!
//! * `fos-test-service start NAME PORT DIR`: starts `serve` in the
//!   background (own session, stdio on /dev/null), waits until it listens,
//!   records `start NAME`, exits 0 (1 if it did not come up).
//! * `fos-test-service serve NAME PORT DIR`: listens on TCP PORT (all
//!   addresses), writes `DIR/NODE-NAME.pid`, and answers each connection
//!   with `pong NODE NAME\n` after reading a line (or 2 s).
//! * `fos-test-service stop NAME DIR`: records `stop NAME`, SIGTERMs the
//!   server from its pid file and waits for it; exits 0.
//! * `fos-test-service fail`: records `fail`, exits 1.
//! * As a monitor (first argument `-c`, how fos runs nanny): records
//!   `monitor PID ARGS…`; exits with status N after MS milliseconds when
//!   `$LF_MONITOR_EXIT` is `PORT:N:MS` and `-p PORT` matches, otherwise
//!   waits for SIGTERM and records `monitor-stopped PID`.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal};

fn record(line: &str) {
    let Ok(path) = std::env::var("LF_RECORD") else {
        return;
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        // one write: processes that append at once never split a line
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
}

fn node() -> String {
    std::env::var("LF_NODE").unwrap_or_else(|_| "node".into())
}

fn pid_file(dir: &str, name: &str) -> PathBuf {
    Path::new(dir).join(format!("{}-{name}.pid", node()))
}

fn start(name: &str, port: &str, dir: &str) -> ExitCode {
    let pid = pid_file(dir, name);
    let _ = std::fs::remove_file(&pid);
    let exe = std::env::current_exe().expect("current_exe");
    let mut c = Command::new(exe);
    c.args(["serve", name, port, dir])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    if c.spawn().is_err() {
        return ExitCode::from(1);
    }
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if pid.exists() {
            record(&format!("start {name}"));
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    ExitCode::from(1)
}

fn serve(name: &str, port: &str, dir: &str) -> ExitCode {
    let Ok(listener) = TcpListener::bind(format!("0.0.0.0:{port}")) else {
        return ExitCode::from(1);
    };
    let pid = pid_file(dir, name);
    let tmp = pid.with_extension("tmp");
    if std::fs::write(&tmp, format!("{}\n", std::process::id())).is_err()
        || std::fs::rename(&tmp, &pid).is_err()
    {
        return ExitCode::from(1);
    }
    let reply = format!("pong {} {name}\n", node());
    for stream in listener.incoming().flatten() {
        let reply = reply.clone();
        std::thread::spawn(move || answer(stream, &reply));
    }
    ExitCode::SUCCESS
}

fn answer(stream: TcpStream, reply: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut line = String::new();
    let _ = BufReader::new(&stream).read_line(&mut line);
    let _ = (&stream).write_all(reply.as_bytes());
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn stop(name: &str, dir: &str) -> ExitCode {
    record(&format!("stop {name}"));
    let path = pid_file(dir, name);
    let Some(pid) = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    else {
        return ExitCode::SUCCESS; // not running
    };
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let end = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = std::fs::remove_file(&path);
    ExitCode::SUCCESS
}

fn monitor(args: &[String]) -> ExitCode {
    let pid = std::process::id();
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    if set.thread_block().is_err() {
        return ExitCode::from(2);
    }
    record(&format!("monitor {pid} {}", args.join(" ")));
    let port = args
        .iter()
        .position(|a| a == "-p")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_default();
    if let Ok(spec) = std::env::var("LF_MONITOR_EXIT") {
        let parts: Vec<&str> = spec.split(':').collect();
        if let [p, code, wait] = parts[..]
            && p == port
        {
            std::thread::sleep(Duration::from_millis(wait.parse().unwrap_or(0)));
            record(&format!("monitor-exit {pid}"));
            return ExitCode::from(code.parse::<u8>().unwrap_or(0));
        }
    }
    let _ = set.wait();
    record(&format!("monitor-stopped {pid}"));
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a[..] {
        ["start", name, port, dir] => start(name, port, dir),
        ["serve", name, port, dir] => serve(name, port, dir),
        ["stop", name, dir] => stop(name, dir),
        ["fail"] => {
            record("fail");
            ExitCode::from(1)
        }
        ["-c", ..] => monitor(&args),
        _ => {
            eprintln!("fos-test-service: unknown arguments {args:?}");
            ExitCode::from(2)
        }
    }
}
