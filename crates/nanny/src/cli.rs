//! Parsing nanny's command line (nanny.md §1, gaps.md E5/E12/E13/E14 and
//! the compat flags): argv → the validated [`Config`], and `--help`/
//! `--usage` built from the same option table.
//!
//! Parsing uses clap with popt's conventions from [`lvs_util::popt`]
//! (integers, `nanny: bad argument OPT: REASON`); nanny's own start-up
//! errors: `nanny: unexpected arguments`, `nanny: No address supplied. Use
//! '--help' for help. `, `nanny: bad IP address -- ADDR`, `nanny: unknown
//! service type`, `nanny: timeout must be > 0`.

use std::ffi::{OsStr, OsString};
use std::net::{IpAddr, Ipv4Addr};

use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};
use lvs_util::popt::{self, popt_int};

use crate::config::{Config, Forward, Mode};

/// The raw options, spelled as the original's popt table (plus the man-page
/// aliases of gaps.md E14 and the compat flags).
#[derive(Parser, Debug, Default)]
#[command(
    name = "nanny",
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true
)]
pub struct Args {
    /// Host (real server, or VIP in fos mode) to check; dotted IPv4
    #[arg(short = 'h', long = "server", value_name = "STRING", allow_hyphen_values = true, value_parser = clap::value_parser!(OsString))]
    pub server: Option<OsString>,
    /// Virtual service port (fos: port to check)
    #[arg(short = 'p', long = "port", value_name = "INT", allow_hyphen_values = true, value_parser = popt_int)]
    pub port: Option<i32>,
    /// Real server port to check (default: --port)
    #[arg(short = 'r', long = "rport", value_name = "INT", allow_hyphen_values = true, value_parser = popt_int)]
    pub rport: Option<i32>,
    /// Virtual address (fos: partner's address, for the log only)
    #[arg(short = 'V', long = "virtaddress", value_name = "STRING", allow_hyphen_values = true, value_parser = clap::value_parser!(OsString))]
    pub virtaddress: Option<OsString>,
    /// Firewall mark of the virtual service (0: none)
    #[arg(short = 'f', long = "fwmark", value_name = "INT", allow_hyphen_values = true, value_parser = popt_int)]
    pub fwmark: Option<i32>,
    /// Seconds between checks and timeout of each check (default 10, must be > 0)
    #[arg(short = 't', long = "interval", value_name = "INT", allow_hyphen_values = true, value_parser = popt_int)]
    pub interval: Option<i32>,
    /// Seconds a failed server must be up before re-entry (0: 180, fos: --interval)
    #[arg(short = 'a', long = "reentrytime", value_name = "INT", allow_hyphen_values = true, value_parser = popt_int)]
    pub reentrytime: Option<i32>,
    /// Configured weight (default 1)
    #[arg(short = 'w', long = "weight", value_name = "INT", allow_hyphen_values = true, value_parser = popt_int)]
    pub weight: Option<i32>,
    /// Upper bound factor for load-based weights (default 10)
    #[arg(short = 'S', long = "scale", value_name = "INT", allow_hyphen_values = true, value_parser = popt_int)]
    pub scale: Option<i32>,
    /// Forwarding method: m (NAT), g (direct routing), i (tunnel)
    #[arg(short = 'M', long = "method", value_name = "STRING", allow_hyphen_values = true, value_parser = clap::value_parser!(OsString))]
    pub method: Option<OsString>,
    /// ipvsadm path; only named in the `... command failed!` message (IPVS is changed over netlink)
    #[arg(short = 'I', long = "ipvsadm", value_name = "STRING", allow_hyphen_values = true, value_parser = clap::value_parser!(OsString))]
    pub ipvsadm: Option<OsString>,
    /// Load probe command: none, rup, rsh, ssh or any program (default none)
    #[arg(short = 'U', long = "loadcmd", value_name = "STRING", allow_hyphen_values = true, value_parser = clap::value_parser!(OsString))]
    pub loadcmd: Option<OsString>,
    /// String to send after connecting
    #[arg(short = 's', long = "send_string", visible_alias = "send_str", value_name = "STRING", allow_hyphen_values = true, value_parser = clap::value_parser!(OsString))]
    pub send_string: Option<OsString>,
    /// Expected reply (`*`: any reply)
    #[arg(short = 'x', long = "expect_string", visible_alias = "expect_str", value_name = "STRING", allow_hyphen_values = true, value_parser = clap::value_parser!(OsString))]
    pub expect_string: Option<OsString>,
    /// External check program (`%h` host, `%p` port); overrides --send_string
    #[arg(short = 'e', long = "send_program", value_name = "STRING", allow_hyphen_values = true, value_parser = clap::value_parser!(OsString))]
    pub send_program: Option<OsString>,
    /// The expect string is a POSIX extended regular expression
    #[arg(long = "regex", action = ArgAction::SetTrue)]
    pub regex: bool,
    /// Do not translate backslash escapes in send/expect strings
    #[arg(short = 'T', long = "suppress", action = ArgAction::SetTrue)]
    pub suppress: bool,
    /// On failure set the weight to 0 instead of removing the server
    #[arg(short = 'q', long = "quiesce_server", visible_alias = "quiesce-server", action = ArgAction::SetTrue)]
    pub quiesce: bool,
    /// Check over UDP (and use a UDP virtual service)
    #[arg(short = 'u', long = "udp", visible_alias = "UDP", action = ArgAction::SetTrue)]
    pub udp: bool,
    /// Verbose logging
    #[arg(short = 'v', long = "verbose", action = ArgAction::SetTrue)]
    pub verbose: bool,
    /// Stay in the foreground; log to stdout and syslog
    #[arg(short = 'n', long = "nodaemon", action = ArgAction::SetTrue)]
    pub nodaemon: bool,
    /// Detach without forking
    #[arg(short = 'c', long = "nofork", action = ArgAction::SetTrue)]
    pub nofork: bool,
    /// Do not change IPVS; only log what would be done
    #[arg(long = "test-start", visible_alias = "norun", action = ArgAction::SetTrue)]
    pub test_start: bool,
    /// LVS mode: add/remove the real server in IPVS
    #[arg(long = "lvs", action = ArgAction::SetTrue)]
    pub lvs: bool,
    /// Failover-service mode: exit when the monitored service fails
    #[arg(long = "fos", action = ArgAction::SetTrue)]
    pub fos: bool,
    /// Fix option (gaps.md E12): do not send the ICMP echo, so no raw socket is needed
    #[arg(long = "no-icmp", action = ArgAction::SetTrue)]
    pub no_icmp: bool,
    /// Compat (gaps.md E1): a failed --send_program counts as healthy when an expect string is set
    #[arg(long = "external-failure-passes", action = ArgAction::SetTrue)]
    pub external_failure_passes: bool,
    /// Option (gaps.md E3): strip only a trailing newline from program output, not the last byte
    #[arg(long = "chop-newline-only", action = ArgAction::SetTrue)]
    pub chop_newline_only: bool,
    /// Option (gaps.md E13): `-M t` selects tunnelling instead of NAT
    #[arg(long = "t-is-tunnel", action = ArgAction::SetTrue)]
    pub t_is_tunnel: bool,
    /// Print the version and exit
    #[arg(long = "version", action = ArgAction::SetTrue)]
    pub version: bool,
    /// Show this help message
    #[arg(short = '?', long = "help", action = ArgAction::SetTrue)]
    pub help: bool,
    /// Display brief usage message
    #[arg(long = "usage", action = ArgAction::SetTrue)]
    pub usage: bool,
    /// Leftover arguments (an error).
    #[arg(hide = true, num_args = 0.., trailing_var_arg = false)]
    pub rest: Vec<OsString>,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    /// Run with this configuration.
    Run(Box<Config>),
    /// Print this text to stdout and exit 0 (`--version`, `--help`, `--usage`).
    Print(String),
}

/// A start-up error: the full stderr line (without newline); exit status 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Parses and validates `argv` (including `argv[0]`).
pub fn parse<I, T>(argv: I) -> Result<Parsed, UsageError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    let matches = Args::command()
        .try_get_matches_from(&argv)
        .map_err(|e| popt_error(&e, &argv))?;
    let args = Args::from_arg_matches(&matches).map_err(|e| popt_error(&e, &argv))?;
    validate(args)
}

/// popt's `nanny: bad argument OPT: REASON` for a clap error.
fn popt_error(e: &clap::Error, argv: &[OsString]) -> UsageError {
    UsageError(popt::bad_argument("nanny", e, argv))
}

fn lossy(s: &OsStr) -> String {
    s.to_string_lossy().into_owned()
}

/// `inet_aton`: dotted quad and the short/hex/octal forms.
pub fn inet_aton(s: &OsStr) -> Option<Ipv4Addr> {
    use std::os::unix::ffi::OsStrExt as _;
    lvs_util::inet::inet_aton(s.as_bytes())
}

/// An address as `-h` and `-V` take it: IPv4 as `inet_aton` reads it, or
/// an IPv6 literal (no brackets, no zone id; an extension of piranha-rs).
pub fn address(s: &OsStr) -> Option<IpAddr> {
    if s.to_str().is_some_and(|t| t.contains(':')) {
        return s
            .to_str()?
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(IpAddr::V6);
    }
    inet_aton(s).map(IpAddr::V4)
}

fn validate(a: Args) -> Result<Parsed, UsageError> {
    if a.help {
        return Ok(Parsed::Print(help_text()));
    }
    if a.usage {
        return Ok(Parsed::Print(usage_text()));
    }
    if a.version {
        return Ok(Parsed::Print(lvs_util::version::banner("nanny", "1.46")));
    }
    if !a.rest.is_empty() {
        return Err(UsageError("nanny: unexpected arguments".into()));
    }
    let Some(server) = a.server else {
        return Err(UsageError(
            "nanny: No address supplied. Use '--help' for help. ".into(),
        ));
    };
    let Some(host) = address(&server) else {
        return Err(UsageError(format!(
            "nanny: bad IP address -- {}",
            lossy(&server)
        )));
    };
    let mode = if a.fos {
        Mode::Fos
    } else if a.lvs {
        Mode::Lvs
    } else {
        return Err(UsageError("nanny: unknown service type".into()));
    };
    let interval = a.interval.unwrap_or(10);
    if interval <= 0 {
        // gaps.md E5: the original divides by zero.
        return Err(UsageError("nanny: timeout must be > 0".into()));
    }
    let port = a.port.unwrap_or(80);
    // nanny.md §2 step 2: the original starts with rport = -1 and only that
    // value means "not given"; `-r 0` stays 0.
    let rport = match a.rport {
        None | Some(-1) => port,
        Some(r) => r,
    };
    let reentry = match a.reentrytime.unwrap_or(0) {
        0 if mode == Mode::Lvs => 180,
        0 => interval,
        r => r,
    };
    let method = a.method.map(|m| lossy(&m)).unwrap_or_else(|| "m".into());
    let letter = method
        .strip_prefix('-')
        .unwrap_or(&method)
        .chars()
        .next()
        .unwrap_or('m');
    let forward = match letter {
        'i' => Forward::Tunnel,
        'g' => Forward::Route,
        't' if a.t_is_tunnel => Forward::Tunnel,
        _ => Forward::Masq,
    };
    let loadcmd = a.loadcmd.filter(|l| l != "none");
    use std::os::unix::ffi::OsStringExt as _;
    Ok(Parsed::Run(Box::new(Config {
        mode,
        host,
        port: port as u16,
        rport: rport as u16,
        vip: a.virtaddress.map(|v| lossy(&v)),
        fwmark: a.fwmark.unwrap_or(0) as u32,
        interval: interval as u32,
        reentry,
        weight: a.weight.unwrap_or(1),
        scale: a.scale.unwrap_or(10),
        forward,
        ipvsadm: a
            .ipvsadm
            .map(|i| lossy(&i))
            .unwrap_or_else(|| "/sbin/ipvsadm".into()),
        loadcmd,
        send: a.send_string.map(OsString::into_vec),
        expect: a.expect_string.map(OsString::into_vec),
        program: a.send_program,
        regex: a.regex,
        suppress: a.suppress,
        quiesce: a.quiesce,
        udp: a.udp,
        verbose: a.verbose,
        nodaemon: a.nodaemon,
        nofork: a.nofork,
        test_start: a.test_start,
        icmp: !a.no_icmp,
        external_failure_passes: a.external_failure_passes,
        chop_newline_only: a.chop_newline_only,
    })))
}

/// nanny's help layout: one list, descriptions at column 35.
const LAYOUT: popt::Layout = popt::Layout {
    column: 35,
    popt_sections: false,
    wrap: false,
};

/// `--help`: popt's layout, one row per option of [`Args`].
pub fn help_text() -> String {
    popt::help_text("nanny", &popt::rows(&Args::command()), LAYOUT)
}

/// `--usage`: popt's brief usage.
pub fn usage_text() -> String {
    popt::usage_text("nanny", &popt::rows(&Args::command()), LAYOUT)
}

/// Test helper: the configuration for `nanny -h 192.168.1.2 -p 80 -r 8080
/// --lvs EXTRA…`.
#[cfg(test)]
pub(crate) fn test_config(extra: &[&str]) -> Config {
    let mut v = vec![
        "nanny",
        "-h",
        "192.168.1.2",
        "-p",
        "80",
        "-r",
        "8080",
        "--lvs",
    ];
    v.extend_from_slice(extra);
    match parse(v) {
        Ok(Parsed::Run(c)) => *c,
        other => panic!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Config, String> {
        let mut v = vec!["nanny"];
        v.extend_from_slice(args);
        match parse(v) {
            Ok(Parsed::Run(c)) => Ok(*c),
            Ok(Parsed::Print(p)) => Err(format!("PRINT {p}")),
            Err(e) => Err(e.0),
        }
    }

    #[test]
    fn lvsd_argv_is_accepted() {
        let c = run(&[
            "-c",
            "-h",
            "192.168.50.11",
            "-p",
            "80",
            "-r",
            "8080",
            "-s",
            r"GET /health HTTP/1.0\r\n\r\n",
            "-x",
            "HTTP/1.1 200",
            "-q",
            "-a",
            "30",
            "-I",
            "/sbin/ipvsadm",
            "-t",
            "6",
            "-w",
            "10",
            "-V",
            "203.0.113.100",
            "-M",
            "m",
            "-U",
            "none",
            "--nodaemon",
            "--lvs",
        ])
        .unwrap();
        assert_eq!(c.mode, Mode::Lvs);
        assert_eq!(c.host, Ipv4Addr::new(192, 168, 50, 11));
        assert_eq!((c.port, c.rport), (80, 8080));
        assert_eq!(
            c.send.as_deref(),
            Some(&br"GET /health HTTP/1.0\r\n\r\n"[..])
        );
        assert_eq!(c.expect.as_deref(), Some(&b"HTTP/1.1 200"[..]));
        assert!(c.quiesce && c.nodaemon && c.nofork);
        assert_eq!((c.reentry, c.interval, c.weight), (30, 6, 10));
        assert_eq!(c.threshold(), 5);
        assert_eq!(c.vip.as_deref(), Some("203.0.113.100"));
        assert_eq!(c.forward, Forward::Masq);
        assert_eq!(c.loadcmd, None);
        let c = run(&[
            "-c",
            "-h",
            "10.0.0.2",
            "-p",
            "443",
            "-r",
            "443",
            "-f",
            "80",
            "-u",
            "-e",
            "/bin/check %h %p",
            "--regex",
            "-v",
            "-a",
            "60",
            "-I",
            "/sbin/ipvsadm",
            "-t",
            "10",
            "-w",
            "1",
            "-V",
            "10.0.0.1",
            "-M",
            "g",
            "-U",
            "rsh",
            "--lvs",
        ])
        .unwrap();
        assert!(c.udp && c.regex && c.verbose);
        assert_eq!(c.fwmark, 80);
        assert_eq!(c.forward, Forward::Route);
        assert_eq!(c.loadcmd.as_deref(), Some(OsStr::new("rsh")));
        assert_eq!(c.program.as_deref(), Some(OsStr::new("/bin/check %h %p")));
    }

    #[test]
    fn fos_argv_is_accepted() {
        let c = run(&[
            "-c",
            "-h",
            "192.0.2.100",
            "-V",
            "192.0.2.10",
            "-p",
            "80",
            "-v",
            "-s",
            "GET /",
            "-x",
            "HTTP",
            "-t",
            "5",
            "--nodaemon",
            "--fos",
        ])
        .unwrap();
        assert_eq!(c.mode, Mode::Fos);
        assert_eq!(c.reentry, 5);
        assert_eq!(c.threshold(), 1);
        // --fos wins over --lvs
        assert_eq!(
            run(&["-h", "1.2.3.4", "--lvs", "--fos"]).unwrap().mode,
            Mode::Fos
        );
    }

    #[test]
    fn defaults() {
        let c = run(&["-h", "1.2.3.4", "--lvs"]).unwrap();
        assert_eq!((c.port, c.rport, c.interval, c.reentry), (80, 80, 10, 180));
        // only -1 (the original's initial value) means "not given"
        let rport = |args: &[&str]| {
            let mut v = vec!["nanny", "-h", "192.168.1.2", "-p", "8080", "--lvs"];
            v.extend_from_slice(args);
            match parse(v) {
                Ok(Parsed::Run(c)) => c.rport,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(rport(&[]), 8080);
        assert_eq!(rport(&["-r", "-1"]), 8080);
        assert_eq!(rport(&["-r", "0"]), 0);
        assert_eq!(rport(&["-r", "0x50"]), 80);
        assert_eq!((c.weight, c.scale, c.fwmark), (1, 10, 0));
        assert_eq!(c.ipvsadm, "/sbin/ipvsadm");
        assert_eq!(c.vip_text(), "(null)");
        assert!(c.icmp && !c.test_start);
        assert_eq!(c.threshold(), 18);
    }

    #[test]
    fn spellings_and_aliases() {
        let c = run(&[
            "--server=1.2.3.4",
            "--port=0x50",
            "--interval",
            "3",
            "-w010",
            "--quiesce-server",
            "--UDP",
            "--send_str",
            "a",
            "--expect_str",
            "-b",
            "--norun",
            "--lvs",
            "-qv",
        ])
        .unwrap();
        assert_eq!((c.port, c.interval, c.weight), (80, 3, 8));
        assert!(c.quiesce && c.udp && c.test_start && c.verbose);
        assert_eq!(c.expect.as_deref(), Some(&b"-b"[..]));
        // last occurrence wins
        assert_eq!(
            run(&["-h", "1.2.3.4", "-p", "1", "-p", "2", "--lvs"])
                .unwrap()
                .port,
            2
        );
        // inet_aton forms
        assert_eq!(
            run(&["-h", "10.1", "--lvs"]).unwrap().host,
            Ipv4Addr::new(10, 0, 0, 1)
        );
        // IPv6 literals (an extension), -V taken verbatim
        let c = run(&["-h", "2001:db8::5", "-V", "2001:db8::10", "--lvs"]).unwrap();
        assert_eq!(c.host, "2001:db8::5".parse::<IpAddr>().unwrap());
        assert_eq!(c.host_endpoint(8080), "[2001:db8::5]:8080");
        assert_eq!(c.vip_endpoint(), "[2001:db8::10]:80");
        for bad in ["2001:db8::1::2", "fe80::1%eth0", "[2001:db8::5]"] {
            assert_eq!(
                run(&["-h", bad, "--lvs"]).unwrap_err(),
                format!("nanny: bad IP address -- {bad}")
            );
        }
    }

    #[test]
    fn method_letters() {
        let m = |x: &str, extra: &[&str]| {
            let mut a = vec!["-h", "1.2.3.4", "--lvs", "-M", x];
            a.extend_from_slice(extra);
            run(&a).unwrap().forward
        };
        assert_eq!(m("i", &[]), Forward::Tunnel);
        assert_eq!(m("-g", &[]), Forward::Route);
        assert_eq!(m("gate", &[]), Forward::Route);
        assert_eq!(m("t", &[]), Forward::Masq);
        assert_eq!(m("t", &["--t-is-tunnel"]), Forward::Tunnel);
        assert_eq!(m("x", &[]), Forward::Masq);
        assert_eq!(m("", &[]), Forward::Masq);
    }

    #[test]
    fn startup_errors() {
        assert_eq!(
            run(&[]).unwrap_err(),
            "nanny: No address supplied. Use '--help' for help. "
        );
        assert_eq!(
            run(&["-h", "1.2.3.4"]).unwrap_err(),
            "nanny: unknown service type"
        );
        assert_eq!(
            run(&["-h", "host.example", "--lvs"]).unwrap_err(),
            "nanny: bad IP address -- host.example"
        );
        assert_eq!(
            run(&["-h", "1.2.3.4", "--lvs", "extra"]).unwrap_err(),
            "nanny: unexpected arguments"
        );
        assert_eq!(
            run(&["-h", "1.2.3.4", "--lvs", "--", "-x"]).unwrap_err(),
            "nanny: unexpected arguments"
        );
        assert_eq!(
            run(&["-o", "x"]).unwrap_err(),
            "nanny: bad argument -o: unknown option"
        );
        assert_eq!(
            run(&["--startup", "x"]).unwrap_err(),
            "nanny: bad argument --startup: unknown option"
        );
        assert_eq!(
            run(&["-R"]).unwrap_err(),
            "nanny: bad argument -R: unknown option"
        );
        assert_eq!(
            run(&["-D"]).unwrap_err(),
            "nanny: bad argument -D: unknown option"
        );
        assert_eq!(
            run(&["-t", "abc"]).unwrap_err(),
            "nanny: bad argument -t: invalid numeric value"
        );
        assert_eq!(
            run(&["--interval=1x"]).unwrap_err(),
            "nanny: bad argument --interval: invalid numeric value"
        );
        assert_eq!(
            run(&["-w99999999999"]).unwrap_err(),
            "nanny: bad argument -w: number too large or too small"
        );
        // a word with a multi-byte second character before the bad value
        // (once a panic)
        for args in [
            &["-s", "-éx", "-p", "x"][..],
            &["-h", "-éx", "-p", "1x"],
            &["-s", "-\u{1F600}", "--send_program", "-éé", "-t", "y"],
        ] {
            let opt = if args.contains(&"-t") { "-t" } else { "-p" };
            assert_eq!(
                run(args).unwrap_err(),
                format!("nanny: bad argument {opt}: invalid numeric value"),
                "{args:?}"
            );
        }
        assert_eq!(
            run(&["-h"]).unwrap_err(),
            "nanny: bad argument -h: missing argument"
        );
        assert_eq!(
            run(&["--lvs", "--port"]).unwrap_err(),
            "nanny: bad argument --port: missing argument"
        );
        assert_eq!(
            run(&["--udp=1"]).unwrap_err(),
            "nanny: bad argument --udp: option does not take an argument"
        );
        assert_eq!(
            run(&["-h", "1.2.3.4", "--lvs", "-t", "0"]).unwrap_err(),
            "nanny: timeout must be > 0"
        );
        assert_eq!(
            run(&["-h", "1.2.3.4", "--lvs", "-t", "-3"]).unwrap_err(),
            "nanny: timeout must be > 0"
        );
    }

    #[test]
    fn help_version_usage() {
        let h = run(&["--help"]).unwrap_err();
        assert!(h.starts_with("PRINT Usage: nanny [OPTION...]\n"), "{h}");
        for flag in [
            "--server=STRING",
            "--send_program=STRING",
            "--no-icmp",
            "--external-failure-passes",
            "--chop-newline-only",
            "--t-is-tunnel",
            "--test-start",
            "--norun",
            "--quiesce-server",
            "--UDP",
            "--send_str",
            "--expect_str",
            "-?, --help",
            "--usage",
        ] {
            assert!(h.contains(flag), "help lacks {flag}: {h}");
        }
        // On/off flags show no value placeholder.
        for flag in [
            "--regex",
            "--lvs",
            "--fos",
            "--test-start",
            "--nodaemon",
            "--help",
        ] {
            let row = h
                .lines()
                .find(|l| l.contains(&format!("{flag} ")))
                .unwrap_or_else(|| panic!("no row for {flag}: {h}"));
            assert!(!row.contains(&format!("{flag}=")), "{row}");
        }
        assert!(
            run(&["-?"])
                .unwrap_err()
                .starts_with("PRINT Usage: nanny [OPTION...]")
        );
        assert!(
            run(&["--usage"])
                .unwrap_err()
                .starts_with("PRINT Usage: nanny [-h|--server STRING]")
        );
        let v = run(&["--version"]).unwrap_err();
        assert!(
            v.starts_with("PRINT Program Version:\tnanny 1.46\nBuilt:\t\t\t"),
            "{v}"
        );
        assert!(v.ends_with("A component of:\t\tpiranha-0.8.6-1\n"));
    }
}
