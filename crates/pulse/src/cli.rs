//! pulse's command line (pulse.md §1) with the original popt spellings;
//! both `--lvsd=PATH` and the man page's `--lvs=PATH` are accepted (C16).

use clap::Parser;
use lvs_util::popt::{self, Common};

/// Parsed options.
#[derive(Debug, Clone, Parser, PartialEq, Eq)]
#[command(
    name = "pulse",
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true
)]
pub struct Options {
    /// Configuration file.
    #[arg(
        short = 'c',
        long = "configfile", help = "Configuration file",
        value_name = "STRING",
        default_value = lvscf::DEFAULT_CONFIG_FILE
    )]
    pub configfile: String,
    /// Stay in the foreground and log to stdout.
    #[arg(short = 'n', long = "nodaemon", help = "Don't run as a daemon")]
    pub nodaemon: bool,
    /// Do not start lvsd or hooks (test mode).
    #[arg(short = 't', long = "test-start", help = "Don't start lvsd or fos")]
    pub test_start: bool,
    /// Same as --test-start.
    #[arg(long = "norun", help = "Same as --test-start")]
    pub norun: bool,
    /// Debug logging; passed on to lvsd.
    #[arg(short = 'v', long = "verbose", help = "Verbose output")]
    pub verbose: bool,
    /// Start in the active state.
    #[arg(long = "forceactive", help = "Force into the active state on startup")]
    pub forceactive: bool,
    /// Run lvsd on the standby too (table and checks ready before a
    /// takeover); `service = lvs` only.
    #[arg(
        long = "warm-standby",
        help = "Run lvsd on the standby too (ready to take over)"
    )]
    pub warm_standby: bool,
    /// lvsd binary.
    #[arg(
        long = "lvsd",
        help = "Path to lvsd (also --lvs)",
        alias = "lvs",
        value_name = "STRING",
        default_value = "/usr/sbin/lvsd"
    )]
    pub lvsd: String,
    /// fos binary.
    #[arg(
        long = "fos",
        help = "Path to fos",
        value_name = "STRING",
        default_value = "/usr/sbin/fos"
    )]
    pub fos: String,
    /// Print the state of the running pulse and exit.
    #[arg(long = "status", help = "Show the state of the running pulse")]
    pub status: bool,
    /// The status as JSON (implies --status).
    #[arg(long = "json", help = "Show the state as JSON")]
    pub json: bool,
    /// The status socket (served by the daemon, read by --status).
    #[arg(
        long = "status-socket", help = "Status socket (default /run/pulse.sock)",
        value_name = "STRING",
        default_value = crate::status_server::STATUS_SOCKET
    )]
    pub status_socket: String,
    /// Sign heartbeats and check the partner's with the key(s) in FILE.
    #[arg(
        long = "heartbeat-key",
        help = "Sign and check heartbeats with the key(s) in FILE",
        value_name = "FILE"
    )]
    pub heartbeat_key: Option<String>,
    /// `required` (default) or `permissive` (also accept unsigned).
    #[arg(
        long = "heartbeat-auth",
        help = "required (default) or permissive",
        value_name = "MODE"
    )]
    pub heartbeat_auth: Option<String>,
    /// Scale-out mode: remove every address from lvs.cf's
    /// `announce_device` and exit (systemd's `ExecStopPost`); does nothing
    /// without `scale_out = 1`.
    #[arg(
        long = "withdraw",
        help = "Scale-out mode: withdraw every VIP and exit"
    )]
    pub withdraw: bool,
    /// `--version`, `--help`, `--usage` and stray words.
    #[command(flatten)]
    pub popt: Common,
}

impl Options {
    /// `--test-start` or `--norun`.
    pub fn norun(&self) -> bool {
        self.test_start || self.norun
    }

    /// `--status` or `--json`: ask a running pulse instead of running.
    pub fn asks_status(&self) -> bool {
        self.status || self.json
    }
}

/// What the command line asks for.
pub type Parsed = popt::Parsed<Options>;

/// pulse's texts.
const PROGRAM: popt::Program = popt::Program {
    name: "pulse",
    version: "1.56",
    layout: popt::Layout {
        column: 30,
        popt_sections: true,
        wrap: true,
    },
    help_name: None,
    strays_before_version: false,
};

/// Parses `argv` (including the program name).
pub fn parse<I, T>(argv: I) -> Parsed
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    PROGRAM.parse(argv, |o: &Options| &o.popt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Options {
        let mut v = vec!["pulse"];
        v.extend_from_slice(args);
        match parse(v) {
            Parsed::Run(o) => o,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    /// What pulse writes to stderr for a command line it refuses.
    fn fail(args: &[&str]) -> String {
        let mut v = vec!["pulse"];
        v.extend_from_slice(args);
        match parse(v) {
            Parsed::Fail(s) => format!("{s}\n"),
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let o = run(&[]);
        assert_eq!(o.configfile, "/etc/sysconfig/ha/lvs.cf");
        assert_eq!(o.lvsd, "/usr/sbin/lvsd");
        assert_eq!(o.fos, "/usr/sbin/fos");
        assert!(!o.nodaemon && !o.norun() && !o.verbose && !o.forceactive);
        assert!(!o.warm_standby);
        assert!(!o.asks_status());
        assert_eq!(o.status_socket, "/run/pulse.sock");
        assert_eq!((o.heartbeat_key, o.heartbeat_auth), (None, None));
    }

    #[test]
    fn heartbeat_key_and_auth() {
        let o = run(&["--heartbeat-key=/k", "--heartbeat-auth", "permissive"]);
        assert_eq!(o.heartbeat_key.as_deref(), Some("/k"));
        assert_eq!(o.heartbeat_auth.as_deref(), Some("permissive"));
        let o = run(&["--heartbeat-key", "/k", "--heartbeat-auth=required"]);
        assert_eq!(o.heartbeat_key.as_deref(), Some("/k"));
        assert_eq!(o.heartbeat_auth.as_deref(), Some("required"));
        assert_eq!(
            fail(&["--heartbeat-key"]),
            "pulse: bad argument --heartbeat-key: missing argument\n"
        );
    }

    #[test]
    fn both_value_spellings_and_both_lvsd_names() {
        assert_eq!(run(&["--lvsd=/x"]).lvsd, "/x");
        assert_eq!(run(&["--lvsd", "/x"]).lvsd, "/x");
        assert_eq!(run(&["--lvs=/y"]).lvsd, "/y");
        assert_eq!(run(&["--lvs", "/y"]).lvsd, "/y");
        assert_eq!(run(&["-c", "/f"]).configfile, "/f");
        assert_eq!(run(&["--configfile=/f"]).configfile, "/f");
        assert_eq!(run(&["--fos=/z"]).fos, "/z");
    }

    #[test]
    fn status_forms() {
        for args in [&["--status"][..], &["--json"], &["--status", "--json"]] {
            assert!(run(args).asks_status(), "{args:?}");
        }
        assert_eq!(run(&["--status-socket=/tmp/s"]).status_socket, "/tmp/s");
        assert_eq!(run(&["--status-socket", "/tmp/s"]).status_socket, "/tmp/s");
    }

    #[test]
    fn flags() {
        let o = run(&["-n", "-v", "-t", "--forceactive"]);
        assert!(o.nodaemon && o.verbose && o.norun() && o.forceactive);
        assert!(run(&["--norun"]).norun());
        assert!(run(&["--warm-standby"]).warm_standby);
        assert!(run(&["--withdraw"]).withdraw && !run(&[]).withdraw);
        assert!(run(&["-nv"]).verbose);
        assert!(run(&["-v", "-v"]).verbose);
    }

    #[test]
    fn errors_use_popt_wording() {
        assert_eq!(
            fail(&["--bogus"]),
            "pulse: bad argument --bogus: unknown option\n"
        );
        assert_eq!(fail(&["-c"]), "pulse: bad argument -c: missing argument\n");
        assert_eq!(fail(&["stray"]), "pulse: unexpected arguments\n");
        // No abbreviations.
        assert_eq!(
            fail(&["--node"]),
            "pulse: bad argument --node: unknown option\n"
        );
    }

    #[test]
    fn version_and_help() {
        match parse(["pulse", "--version"]) {
            Parsed::Print(s) => assert!(s.starts_with("Program Version:\tpulse 1.56\n")),
            other => panic!("{other:?}"),
        }
        for a in ["-?", "--help"] {
            match parse(["pulse", a]) {
                Parsed::Print(s) => assert!(s.starts_with("Usage: pulse [OPTION...]")),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(parse(["pulse", "--usage"]), Parsed::Print(_)));
    }

    /// popt's `--help` of the original, byte for byte.
    const HELP: &str = "\
Usage: pulse [OPTION...]
  -c, --configfile=STRING     Configuration file
  -n, --nodaemon              Don't run as a daemon
  -t, --test-start            Don't start lvsd or fos
      --norun                 Same as --test-start
  -v, --verbose               Verbose output
      --forceactive           Force into the active state on startup
      --warm-standby          Run lvsd on the standby too (ready to take over)
      --lvsd=STRING           Path to lvsd (also --lvs)
      --fos=STRING            Path to fos
      --status                Show the state of the running pulse
      --json                  Show the state as JSON
      --status-socket=STRING  Status socket (default /run/pulse.sock)
      --heartbeat-key=FILE    Sign and check heartbeats with the key(s) in FILE
      --heartbeat-auth=MODE   required (default) or permissive
      --withdraw              Scale-out mode: withdraw every VIP and exit
      --version               Display program version

Help options:
  -?, --help                  Show this help message
      --usage                 Display brief usage message
";

    /// popt's `--usage` of the original, byte for byte.
    const USAGE: &str = "\
Usage: pulse [-?ntv] [-c|--configfile STRING] [-n|--nodaemon] [-t|--test-start]
        [--norun] [-v|--verbose] [--forceactive] [--warm-standby]
        [--lvsd STRING] [--fos STRING] [--status] [--json]
        [--status-socket STRING] [--heartbeat-key FILE]
        [--heartbeat-auth MODE] [--withdraw] [--version] [-?|--help] [--usage]
";

    #[test]
    fn help_and_usage_are_the_originals() {
        assert_eq!(PROGRAM.help::<Options>(), HELP);
        assert_eq!(PROGRAM.usage::<Options>(), USAGE);
    }
}
