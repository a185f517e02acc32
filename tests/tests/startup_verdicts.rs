//! lvscf is the one owner of what lvs.cf means at start-up (issue 16,
//! part 1): every lvs.cf under `crates/lvscf/tests/` goes through
//! `lvscf check` and through the `--test-start` of pulse, lvsd and fos, and
//! each daemon must reach the verdict of `lvscf::startup` (accepted or
//! refused) with the very lines it predicts; `lvscf check` must refuse
//! exactly when pulse, or the daemon `service` selects, refuses, and print
//! their lines.
//!
//! Needs the workspace's binaries (`cargo build -p lvscf -p pulse -p lvsd
//! -p fos`). No root, no network: run as root, the daemons run as nobody
//! (uid 65534), so that a daemon that gets past its checks cannot touch the
//! host (pulse cannot bind its heartbeat port, lvsd's and fos's
//! `--test-start` change nothing anyway); each gets its own temporary
//! directory for the file and its status socket, and is killed once it runs.

use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lvs_tests::bin;
use lvscf::ServiceType;

/// How long a daemon that got past its start-up checks is left running.
const RUNS: Duration = Duration::from_millis(1500);

/// Every `*.cf` under `crates/lvscf/tests/`, recursively, sorted.
fn files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "cf") {
                out.push(p);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/lvscf/tests");
    let mut out = Vec::new();
    walk(&root, &mut out);
    out.sort();
    out
}

/// Runs `cmd` (as nobody when we are root) until it exits or has run for
/// [`RUNS`]: its exit code (`None`: still running, killed) and stderr.
fn run(cmd: &mut Command) -> (Option<i32>, String) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        cmd.uid(65534).gid(65534);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {:?}: {e}", cmd.get_program()));
    let end = Instant::now() + RUNS;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (code, err)
}

/// Host-dependent refusals, not about lvs.cf's meaning, which lvscf cannot
/// predict: pulse binding its heartbeat socket (whether this host has the
/// address, whether the port is privileged: here it runs unprivileged).
const HOST_DEPENDENT: &[&str] = &["pulse: cannot create heartbeat socket. running as root?"];

/// The daemon's verdict: the lines it refused with (empty: accepted).
fn refusal(code: Option<i32>, err: &str) -> String {
    let lines: String = err
        .lines()
        .filter(|l| !HOST_DEPENDENT.contains(l))
        .map(|l| format!("{l}\n"))
        .collect();
    match code {
        // pulse: the backup with an inactive backup exits 255 (which
        // router this is: host-dependent); still running: accepted.
        Some(1) => lines,
        _ => {
            assert!(lines.is_empty(), "exit {code:?} with {err:?}");
            String::new()
        }
    }
}

#[test]
fn daemons_reach_lvscf_startup_verdicts() {
    let files = files();
    assert!(files.len() >= 10, "{files:?}");
    let mut refused = 0;
    for src in &files {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let cf = dir.path().join("lvs.cf");
        std::fs::copy(src, &cf).unwrap();
        std::fs::set_permissions(&cf, std::fs::Permissions::from_mode(0o644)).unwrap();
        let file = cf.display().to_string();
        let sock = |n: &str| dir.path().join(n).display().to_string();
        let what = src.display().to_string();

        // What lvscf predicts: the parse result, then each daemon's verdict.
        let (want_pulse, want_lvsd, want_fos, refuses, check_lines) = match lvscf::load_file(&cf) {
            Err(e) => {
                let pulse = lvscf::startup::pulse_load_refusal(&file, &e).stderr + "\n";
                let lvsd = lvscf::startup::load_refusal("lvs", &file, &e).stderr + "\n";
                let fos = lvscf::startup::load_refusal("fos", &file, &e).stderr + "\n";
                let whole = match &e {
                    lvscf::LoadError::Parse(p) => p.to_string(),
                    lvscf::LoadError::Open { .. } => unreachable!("{what}"),
                };
                (pulse, lvsd, fos, true, vec![whole])
            }
            Ok(l) => {
                let c = &l.parsed.config;
                let p = lvscf::startup::pulse(c, &file);
                let v = lvscf::startup::lvsd(c, &file);
                let f = lvscf::startup::fos(c, &file);
                let selected = match c.global.service {
                    ServiceType::Lvs => &v,
                    ServiceType::Fos => &f,
                };
                let refuses = p.refused() || selected.refused();
                // their warnings too (timeout <= 0 is left to the parser's)
                let warnings = p
                    .warnings
                    .iter()
                    .chain(&selected.warnings)
                    .filter(|f| f.kind != lvscf::FindingKind::TimeoutNotPositive);
                let lines = p
                    .errors
                    .iter()
                    .chain(&selected.errors)
                    .chain(warnings)
                    .map(|f| {
                        if f.message.starts_with(&file) {
                            f.message.clone()
                        } else {
                            format!("{file}: {}", f.message)
                        }
                    })
                    .collect();
                (
                    p.report("pulse"),
                    v.report("lvs"),
                    f.report("fos"),
                    refuses,
                    lines,
                )
            }
        };

        // lvscf check: refuses when pulse or the selected daemon does, and
        // prints their lines and warnings.
        let out = Command::new(bin("lvscf"))
            .args(["check", &file])
            .output()
            .unwrap();
        let check_err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(if refuses { 1 } else { 0 }),
            "{what}: lvscf check: {check_err}"
        );
        for l in &check_lines {
            assert!(
                check_err.lines().any(|c| c == l),
                "{what}: lvscf check does not print {l:?}: {check_err}"
            );
        }

        // pulse --test-start -n
        let (code, err) = run(Command::new(bin("pulse")).args([
            "--test-start",
            "-n",
            "-c",
            &file,
            "--status-socket",
            &sock("pulse.sock"),
        ]));
        assert_eq!(refusal(code, &err), want_pulse, "{what}: pulse");
        // lvsd -t -n: the selected daemon in lvs mode; in fos mode pulse
        // would not run it, but it must still do what lvscf says.
        let (code, err) = run(Command::new(bin("lvsd")).args([
            "-t",
            "-n",
            "-c",
            &file,
            "--status-socket",
            &sock("lvsd.sock"),
        ]));
        assert_eq!(refusal(code, &err), want_lvsd, "{what}: lvsd");
        // fos -t -n --monitor (the standby's fos: starts no command)
        let (code, err) =
            run(Command::new(bin("fos")).args(["-t", "-n", "--monitor", "-c", &file]));
        assert_eq!(refusal(code, &err), want_fos, "{what}: fos");

        if refuses {
            refused += 1;
        }
    }
    // the fixtures under crates/lvscf/tests/data/startup/ exercise refusals
    assert!(refused >= 7, "only {refused} refused files");
}
