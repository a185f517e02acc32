//! lvsd's command line (lvsd.md §1) with the original popt spellings and
//! texts, plus the new options (D4 `--owned-only`, the B3 compat flag,
//! `--status`).

use std::ffi::OsString;

use clap::Parser;
use lvs_util::popt::{self, Common};

/// Default status socket.
pub const STATUS_SOCKET: &str = "/run/lvsd.sock";

/// Parsed options.
#[derive(Debug, Clone, Parser, PartialEq, Eq)]
#[command(
    name = "lvsd",
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
    /// Detach (pid file, setsid, stdio to /dev/null) without forking.
    #[arg(long = "nofork", help = "Don't fork, but detach from the terminal")]
    pub nofork: bool,
    /// Print the IPVS changes and nanny command lines instead of doing them.
    #[arg(
        short = 't',
        long = "test-start",
        help = "Don't really do anything, print what would be done"
    )]
    pub test_start: bool,
    /// Pass -v to every nanny.
    #[arg(short = 'v', long = "verbose", help = "Pass verbose to nanny")]
    pub verbose: bool,
    /// At start-up remove only the services lvs.cf defines instead of
    /// clearing the whole table (gaps.md D4).
    #[arg(
        long = "owned-only",
        help = "Remove only the services lvs.cf defines at start-up"
    )]
    pub owned_only: bool,
    /// Keep single quotes around send/expect/send_program values, as the
    /// original did (gaps.md B3).
    #[arg(
        long = "keep-single-quotes",
        help = "Keep single quotes around send/expect strings"
    )]
    pub keep_single_quotes: bool,
    /// Print the state of the running lvsd and exit.
    #[arg(long = "status", help = "Show the state of the running lvsd")]
    pub status: bool,
    /// The status as JSON (implies --status).
    #[arg(long = "json", help = "Show the state as JSON")]
    pub json: bool,
    /// The status socket.
    #[arg(long = "status-socket", help = "Status socket (default /run/lvsd.sock)", value_name = "STRING", default_value = STATUS_SOCKET)]
    pub status_socket: String,
    /// Start in the standby role (pulse's warm standby): the table and the
    /// nannies run, the partner holds the VIPs.
    #[arg(long = "standby", help = "Start as the warm standby (set by pulse)")]
    pub standby: bool,
    /// Read role changes (`active`, `standby`, one per line) from this
    /// descriptor, a pipe from pulse.
    #[arg(
        long = "pulse-fd",
        help = "Read role changes from pulse on this descriptor",
        value_name = "INT"
    )]
    pub pulse_fd: Option<i32>,
    /// `--version`, `--help`, `--usage` and stray words.
    #[command(flatten)]
    pub popt: Common,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    /// Run the daemon.
    Run(Options),
    /// Ask a running lvsd for its status.
    Status(Options),
    /// Print this to stdout and exit 0 (`--version`, `--help`, `--usage`).
    Print(String),
    /// Print this line to stderr and exit 1.
    Fail(String),
}

/// lvsd's texts (it calls itself `lvs`).
const PROGRAM: popt::Program = popt::Program {
    name: "lvs",
    version: "1.38",
    layout: popt::Layout {
        column: 30,
        popt_sections: true,
        wrap: false,
    },
    help_name: Some("lvsd"),
    strays_before_version: false,
};

/// Parses `argv` (program name first).
pub fn parse<I, T>(argv: I) -> Parsed
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match PROGRAM.parse(argv, |o: &Options| &o.popt) {
        popt::Parsed::Run(opts) if opts.status || opts.json => Parsed::Status(opts),
        popt::Parsed::Run(opts) => Parsed::Run(opts),
        popt::Parsed::Print(text) => Parsed::Print(text),
        popt::Parsed::Fail(line) => Parsed::Fail(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Options {
        let mut v = vec!["lvsd"];
        v.extend_from_slice(args);
        match parse(v) {
            Parsed::Run(o) => o,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn fail(args: &[&str]) -> String {
        let mut v = vec!["lvsd"];
        v.extend_from_slice(args);
        match parse(v) {
            Parsed::Fail(s) => s,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn defaults_and_flags() {
        let o = run(&[]);
        assert_eq!(o.configfile, "/etc/sysconfig/ha/lvs.cf");
        assert!(!o.nodaemon && !o.nofork && !o.test_start && !o.verbose && !o.owned_only);
        assert_eq!(o.status_socket, "/run/lvsd.sock");
        let o = run(&["--nofork", "-c", "/x.cf", "-v"]);
        assert!(o.nofork && o.verbose);
        assert_eq!(o.configfile, "/x.cf");
        assert_eq!(run(&["--configfile=/y"]).configfile, "/y");
        assert!(run(&["-ntv"]).test_start);
        assert!(run(&["--test-start", "--owned-only"]).owned_only);
        assert!(run(&["--keep-single-quotes"]).keep_single_quotes);
        assert!(!o.standby && o.pulse_fd.is_none());
        let o = run(&["--standby", "--pulse-fd=5"]);
        assert!(o.standby);
        assert_eq!(o.pulse_fd, Some(5));
        assert_eq!(run(&["--pulse-fd", "7"]).pulse_fd, Some(7));
    }

    #[test]
    fn status_forms() {
        for args in [&["--status"][..], &["--json"], &["--status", "--json"]] {
            let mut v = vec!["lvsd"];
            v.extend_from_slice(args);
            assert!(matches!(parse(v), Parsed::Status(_)), "{args:?}");
        }
        match parse(["lvsd", "--status", "--status-socket=/tmp/s"]) {
            Parsed::Status(o) => assert_eq!(o.status_socket, "/tmp/s"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_use_popt_wording() {
        assert_eq!(
            fail(&["--bogus"]),
            "lvs: bad argument --bogus: unknown option"
        );
        assert_eq!(fail(&["-c"]), "lvs: bad argument -c: missing argument");
        assert_eq!(fail(&["stray"]), "lvs: unexpected arguments");
        assert_eq!(
            fail(&["--nofork=1"]),
            "lvs: bad argument --nofork: option does not take an argument"
        );
    }

    #[test]
    fn version_and_help() {
        match parse(["lvsd", "--version"]) {
            Parsed::Print(s) => {
                assert!(
                    s.starts_with("Program Version:\tlvs 1.38\nBuilt:\t\t\t"),
                    "{s}"
                );
                assert!(s.ends_with("A component of:\t\tpiranha-0.8.6-1\n"));
            }
            other => panic!("{other:?}"),
        }
        for a in ["-?", "--help"] {
            match parse(["lvsd", a]) {
                Parsed::Print(s) => assert_eq!(s, HELP),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(parse(["lvsd", "--usage"]), Parsed::Print(s) if s == USAGE));
    }

    /// popt's `--help` of the original, byte for byte.
    const HELP: &str = "\
Usage: lvsd [OPTION...]
  -c, --configfile=STRING     Configuration file
  -n, --nodaemon              Don't run as a daemon
      --nofork                Don't fork, but detach from the terminal
  -t, --test-start            Don't really do anything, print what would be done
  -v, --verbose               Pass verbose to nanny
      --owned-only            Remove only the services lvs.cf defines at start-up
      --keep-single-quotes    Keep single quotes around send/expect strings
      --status                Show the state of the running lvsd
      --json                  Show the state as JSON
      --status-socket=STRING  Status socket (default /run/lvsd.sock)
      --standby               Start as the warm standby (set by pulse)
      --pulse-fd=INT          Read role changes from pulse on this descriptor
      --version               Display program version

Help options:
  -?, --help                  Show this help message
      --usage                 Display brief usage message
";

    /// popt's `--usage` of the original, byte for byte.
    const USAGE: &str = "\
Usage: lvsd [-?ntv] [-c|--configfile STRING] [-n|--nodaemon] [--nofork]
        [-t|--test-start] [-v|--verbose] [--owned-only] [--keep-single-quotes]
        [--status] [--json] [--status-socket STRING] [--standby]
        [--pulse-fd INT] [--version] [-?|--help] [--usage]
";

    #[test]
    fn help_and_usage_are_the_originals() {
        assert_eq!(PROGRAM.help::<Options>(), HELP);
        assert_eq!(PROGRAM.usage::<Options>(), USAGE);
    }
}
