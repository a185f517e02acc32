//! The external check program (`-e`, nanny.md §4.3) and the load probe
//! (`-U`, §7): what they run and how their results are judged.

use std::ffi::{OsStr, OsString};
use std::net::{IpAddr, SocketAddr};
use std::process::Child;
use std::time::Duration;

use crate::check::{LogSink, text};
use crate::core::Level;
use crate::exec::{Ran, chop, run, split_command};
use crate::load::parse_load;
use crate::sys::SignalFd;

/// What a finished program produced: `None` means "no output" (abnormal
/// exit or timeout); `Some` is the chopped output (possibly empty).
pub type Output = Option<Vec<u8>>;

/// Either a result, or termination with the still-running child.
#[derive(Debug)]
pub enum Finished<T> {
    Done(T),
    Terminated(i32, Child),
}

/// Runs `argv` and logs the generic outcome lines (`The following exited
/// abnormally:`, `timeout running the following:`).
fn capture(
    argv: &[OsString],
    timeout: Duration,
    newline_only: bool,
    term: &SignalFd,
    log: LogSink<'_>,
) -> Finished<Output> {
    match run(argv, timeout, term) {
        Ran::Output(out) => Finished::Done(Some(chop(out, newline_only))),
        Ran::Abnormal => {
            log(Level::Info, "The following exited abnormally:".into());
            Finished::Done(None)
        }
        Ran::TimedOut => {
            log(Level::Info, "timeout running the following:".into());
            Finished::Done(None)
        }
        Ran::Terminated(sig, child) => Finished::Terminated(sig, child),
    }
}

/// A byte string as C sees it: up to its first NUL.
fn c_str(x: &[u8]) -> &[u8] {
    x.split(|&c| c == 0).next().unwrap_or_default()
}

/// C `strcmp` equality: both compared up to their first NUL.
fn c_eq(a: &[u8], b: &[u8]) -> bool {
    c_str(a) == c_str(b)
}

/// The verbose lines logged before the `-e` program runs (pure):
/// `Found N argument(s)` with N the number of words after the program name
/// (-1 for a blank command), and `Invoking:  CMD` followed by a newline,
/// where CMD is what the original prints of its command buffer after
/// `strtok` cut it: the command up to the end of its first word (leading
/// blanks included, before `%h`/`%p` substitution).
pub fn invoking_lines(command: &OsStr, argv: &[OsString]) -> [String; 2] {
    use std::os::unix::ffi::OsStrExt as _;
    let b = command.as_bytes();
    let start = b.iter().position(|&c| c != b' ').unwrap_or(b.len());
    let end = b[start..]
        .iter()
        .position(|&c| c == b' ')
        .map_or(b.len(), |e| start + e);
    [
        format!("Found {} argument(s)", argv.len() as i64 - 1),
        format!("Invoking:  {}\n", text(c_str(&b[..end]))),
    ]
}

/// Judges an external program's result (pure). `dest` is `HOST:RPORT`.
/// With `failure_passes` (compat, gaps.md E1) "no output" with an expect
/// string passes as in the original; by default it fails.
pub fn judge_external(
    out: &Output,
    expect: Option<&[u8]>,
    dest: &str,
    failure_passes: bool,
    log: LogSink<'_>,
) -> bool {
    // `%s` of a null pointer prints `(null)` (glibc)
    let shown = out.as_deref().map_or("(null)".into(), |o| text(c_str(o)));
    log(
        Level::Verbose,
        format!("Got result ({shown}) from command sent to ({dest})\n"),
    );
    match (out, expect) {
        (None, None) => {
            log(
                Level::Info,
                "Ran the external sending program. The result and expected response are both NULL! You may wish to revise your settings\n".into(),
            );
            false
        }
        (None, Some(_)) => {
            log(
                Level::Info,
                format!(
                    "Ran the external sending program to ({dest}) but didn't get anything back\n"
                ),
            );
            failure_passes
        }
        (Some(o), Some(e)) => {
            let ok = c_eq(o, e);
            if !ok {
                log(
                    Level::Info,
                    format!("Trouble. Received results are not what we expected from ({dest})\n"),
                );
            }
            ok
        }
        (Some(_), None) => {
            log(
                Level::Info,
                "Expect string is NULL, but the external sending program returned a non-NULL result\n".into(),
            );
            false
        }
    }
}

/// The `-e` check.
#[derive(Debug)]
pub struct ExternalCheck {
    pub command: OsString,
    /// `%h`: the address as given (`2001:db8::5` for IPv6).
    pub host: IpAddr,
    pub port: u16,
    pub expect: Option<Vec<u8>>,
    pub timeout: Duration,
    pub failure_passes: bool,
    pub newline_only: bool,
}

impl ExternalCheck {
    /// Runs the program and judges it; `Done(true)` = pass.
    pub fn run(&self, term: &SignalFd, log: LogSink<'_>) -> Finished<bool> {
        let argv = split_command(&self.command, &self.host.to_string(), self.port);
        for line in invoking_lines(&self.command, &argv) {
            log(Level::Verbose, line);
        }
        match capture(&argv, self.timeout, self.newline_only, term, log) {
            Finished::Done(out) => {
                let dest = SocketAddr::new(self.host, self.port).to_string();
                Finished::Done(judge_external(
                    &out,
                    self.expect.as_deref(),
                    &dest,
                    self.failure_passes,
                    log,
                ))
            }
            Finished::Terminated(s, c) => Finished::Terminated(s, c),
        }
    }
}

/// The `-U` load probe.
#[derive(Debug)]
pub struct LoadProbe {
    pub command: OsString,
    /// Passed as given (`2001:db8::5` for IPv6).
    pub host: IpAddr,
    pub timeout: Duration,
    pub newline_only: bool,
}

/// The probe's argv: `LOADCMD HOST`, plus `uptime` when LOADCMD is exactly
/// `rsh` or `ssh`.
pub fn load_argv(command: &OsStr, host: IpAddr) -> Vec<OsString> {
    let mut v = vec![command.to_os_string(), OsString::from(host.to_string())];
    if command == "rsh" || command == "ssh" {
        v.push("uptime".into());
    }
    v
}

/// Interprets the probe's output (pure): the load, or `None` with the log
/// line of the original.
pub fn judge_load(out: &Output, host: IpAddr, log: LogSink<'_>) -> Option<f64> {
    let Some(o) = out else {
        log(Level::Info, "failed to read remote load".into());
        return None;
    };
    match parse_load(o) {
        Some(l) => {
            log(Level::Verbose, format!("Loadavg of {host} is {l:.6}"));
            Some(l)
        }
        None => {
            log(
                Level::Info,
                format!("bad load average returned: {}", text(o)),
            );
            None
        }
    }
}

impl LoadProbe {
    /// Runs the probe; `Done(None)` = no usable load.
    pub fn run(&self, term: &SignalFd, log: LogSink<'_>) -> Finished<Option<f64>> {
        let argv = load_argv(&self.command, self.host);
        match capture(&argv, self.timeout, self.newline_only, term, log) {
            Finished::Done(out) => Finished::Done(judge_load(&out, self.host, log)),
            Finished::Terminated(s, c) => Finished::Terminated(s, c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(out: Output, expect: Option<&[u8]>, compat: bool) -> (bool, Vec<String>) {
        let mut logs = Vec::new();
        let ok = judge_external(&out, expect, "192.0.2.5:443", compat, &mut |l, s| {
            if l == Level::Info {
                logs.push(s)
            }
        });
        (ok, logs)
    }

    #[test]
    fn external_decisions() {
        assert_eq!(j(Some(b"OK".to_vec()), Some(b"OK"), false), (true, vec![]));
        assert_eq!(
            j(Some(b"O".to_vec()), Some(b"OK"), false),
            (
                false,
                vec![
                    "Trouble. Received results are not what we expected from (192.0.2.5:443)\n"
                        .into()
                ]
            )
        );
        // whole-string equality, not a prefix
        assert!(!j(Some(b"OK!".to_vec()), Some(b"OK"), false).0);
        // C string comparison stops at NUL
        assert!(j(Some(b"OK\0junk".to_vec()), Some(b"OK"), false).0);
        assert_eq!(
            j(None, Some(b"OK"), false),
            (
                false,
                vec!["Ran the external sending program to (192.0.2.5:443) but didn't get anything back\n".into()]
            )
        );
        assert!(j(None, Some(b"OK"), true).0, "compat E1");
        assert_eq!(
            j(None, None, true),
            (false, vec!["Ran the external sending program. The result and expected response are both NULL! You may wish to revise your settings\n".into()])
        );
        assert_eq!(
            j(Some(Vec::new()), None, false),
            (false, vec!["Expect string is NULL, but the external sending program returned a non-NULL result\n".into()])
        );
        // an empty output is output: it fails against a non-empty expect
        assert!(!j(Some(Vec::new()), Some(b"OK"), false).0);
    }

    #[test]
    fn got_result_is_always_logged() {
        let verbose = |out: Output, expect: Option<&[u8]>| {
            let mut logs = Vec::new();
            judge_external(&out, expect, "192.0.2.5:443", false, &mut |l, s| {
                if l == Level::Verbose {
                    logs.push(s)
                }
            });
            logs
        };
        assert_eq!(
            verbose(None, Some(b"OK")),
            ["Got result ((null)) from command sent to (192.0.2.5:443)\n"]
        );
        assert_eq!(
            verbose(None, None),
            ["Got result ((null)) from command sent to (192.0.2.5:443)\n"]
        );
        // `%s` stops at a NUL
        assert_eq!(
            verbose(Some(b"OK\0junk".to_vec()), Some(b"OK")),
            ["Got result (OK) from command sent to (192.0.2.5:443)\n"]
        );
        assert_eq!(
            verbose(Some(Vec::new()), None),
            ["Got result () from command sent to (192.0.2.5:443)\n"]
        );
    }

    #[test]
    fn found_and_invoking_lines() {
        let lines = |cmd: &str| {
            let argv = split_command(OsStr::new(cmd), "192.0.2.5", 443);
            invoking_lines(OsStr::new(cmd), &argv)
        };
        assert_eq!(
            lines("/usr/local/bin/check %h %p --fast"),
            ["Found 3 argument(s)", "Invoking:  /usr/local/bin/check\n"]
        );
        assert_eq!(
            lines("check"),
            ["Found 0 argument(s)", "Invoking:  check\n"]
        );
        assert_eq!(
            lines("  %h  x"),
            ["Found 1 argument(s)", "Invoking:    %h\n"]
        );
        assert_eq!(lines(""), ["Found -1 argument(s)", "Invoking:  \n"]);
        assert_eq!(lines("   "), ["Found -1 argument(s)", "Invoking:     \n"]);
    }

    #[test]
    fn load_args_and_judgement() {
        let h = IpAddr::from([192, 0, 2, 5]);
        let a = |c: &str| -> Vec<String> {
            load_argv(OsStr::new(c), h)
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(a("rsh"), ["rsh", "192.0.2.5", "uptime"]);
        assert_eq!(a("ssh"), ["ssh", "192.0.2.5", "uptime"]);
        assert_eq!(a("/usr/bin/ssh"), ["/usr/bin/ssh", "192.0.2.5"]);
        assert_eq!(a("rup"), ["rup", "192.0.2.5"]);
        let mut logs = Vec::new();
        let mut sink = |_l: Level, s: String| logs.push(s);
        assert_eq!(
            judge_load(&Some(b"load average: 0.50, 1".to_vec()), h, &mut sink),
            Some(0.5)
        );
        assert_eq!(judge_load(&None, h, &mut sink), None);
        assert_eq!(judge_load(&Some(b"%n%s%x".to_vec()), h, &mut sink), None);
        assert_eq!(
            logs,
            [
                "Loadavg of 192.0.2.5 is 0.500000",
                "failed to read remote load",
                "bad load average returned: %n%s%x"
            ]
        );
    }

    #[test]
    fn ipv6_hosts_go_as_given() {
        let h: IpAddr = "2001:db8::5".parse().unwrap();
        let args = |v: Vec<OsString>| -> Vec<String> {
            v.iter().map(|s| s.to_string_lossy().into_owned()).collect()
        };
        assert_eq!(
            args(load_argv(OsStr::new("ssh"), h)),
            ["ssh", "2001:db8::5", "uptime"]
        );
        let mut logs = Vec::new();
        let mut sink = |_l: Level, s: String| logs.push(s);
        judge_load(&Some(b"load average: 0.50, 1".to_vec()), h, &mut sink);
        assert_eq!(logs, ["Loadavg of 2001:db8::5 is 0.500000"]);
    }

    #[test]
    fn the_external_check_gets_an_ipv6_address_as_given() {
        let term = crate::sys::SignalFd::new(&[libc::SIGTERM]).unwrap();
        let check = ExternalCheck {
            command: "echo %h %p".into(),
            host: "2001:db8::5".parse().unwrap(),
            port: 443,
            expect: Some(b"2001:db8::5 443".to_vec()),
            timeout: Duration::from_secs(5),
            failure_passes: false,
            newline_only: true,
        };
        let mut logs = Vec::new();
        let mut sink = |_l: Level, s: String| logs.push(s);
        assert!(matches!(check.run(&term, &mut sink), Finished::Done(true)));
        assert!(
            logs.contains(
                &"Got result (2001:db8::5 443) from command sent to ([2001:db8::5]:443)\n"
                    .to_string()
            ),
            "{logs:?}"
        );
    }
}
