//! fos's command line (fos.md §1) with the original popt spellings and
//! texts, plus the gaps.md B3 compat flag `--keep-single-quotes`.

use std::ffi::OsString;

use clap::Parser;
use lvs_util::popt::{self, Common};

/// Parsed options.
#[derive(Debug, Clone, Parser, PartialEq, Eq)]
#[command(
    name = "fos",
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true
)]
pub struct Options {
    /// Configuration file.
    #[arg(
        short = 'c',
        long = "configfile", help = "Configuration file",
        value_name = "configfile",
        default_value = lvscf::DEFAULT_CONFIG_FILE
    )]
    pub configfile: String,
    /// Stay in the foreground and log to stdout.
    #[arg(short = 'n', long = "nodaemon", help = "Don't run as a daemon")]
    pub nodaemon: bool,
    /// Monitor mode (standby node).
    #[arg(
        short = 'f',
        long = "monitor",
        help = "Start client monitors and watch for failure"
    )]
    pub monitor: bool,
    /// Services mode (active node).
    #[arg(
        short = 'F',
        long = "active",
        help = "Start IP services and watch for failure"
    )]
    pub active: bool,
    /// Pass -v to every nanny.
    #[arg(short = 'v', long = "verbose", help = "Log debugging information")]
    pub verbose: bool,
    /// Commands are not executed and no monitors started.
    #[arg(
        short = 't',
        long = "test-start",
        help = "Display what commands would be run on startup, but don't actually run anything"
    )]
    pub test_start: bool,
    /// Detach (pid file, setsid, stdio to /dev/null) without forking.
    #[arg(long = "nofork", help = "Don't fork, but do disassociate")]
    pub nofork: bool,
    /// Keep single quotes around commands and strings, as the original
    /// did (gaps.md B3).
    #[arg(
        long = "keep-single-quotes",
        help = "Keep single quotes around commands and strings, as Piranha did"
    )]
    pub keep_single_quotes: bool,
    /// `--version`, `--help`, `--usage` and stray words.
    #[command(flatten)]
    pub popt: Common,
}

/// What the command line asks for.
pub type Parsed = popt::Parsed<Options>;

/// fos's texts; stray arguments are refused even with `--version`, as in
/// the original.
const PROGRAM: popt::Program = popt::Program {
    name: "fos",
    version: "1.13",
    layout: popt::Layout {
        column: 34,
        popt_sections: true,
        wrap: true,
    },
    help_name: None,
    strays_before_version: true,
};

/// Parses `argv` (program name first).
pub fn parse<I, T>(argv: I) -> Parsed
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match PROGRAM.parse(argv, |o: &Options| &o.popt) {
        Parsed::Run(opts) => match (opts.monitor, opts.active) {
            // sic: "specifiy"
            (true, true) => Parsed::Fail("fos: Cannot specifiy both -f and -F!".into()),
            (false, false) => {
                Parsed::Fail("fos: Either --monitor (-f) or --active (-F) required!".into())
            }
            _ => Parsed::Run(opts),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Parsed {
        let mut v = vec!["fos"];
        v.extend_from_slice(args);
        parse(v)
    }

    fn run(args: &[&str]) -> Options {
        match parsed(args) {
            Parsed::Run(o) => o,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn fail(args: &[&str]) -> String {
        match parsed(args) {
            Parsed::Fail(s) => s,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn modes_and_defaults() {
        let o = run(&["-f"]);
        assert!(o.monitor && !o.active);
        assert_eq!(o.configfile, "/etc/sysconfig/ha/lvs.cf");
        assert!(!o.nodaemon && !o.nofork && !o.test_start && !o.verbose);
        assert!(run(&["--active"]).active);
        assert!(run(&["-F"]).active);
        assert!(run(&["--monitor"]).monitor);
        let o = run(&["--active", "-c", "/x.cf", "--nofork", "-v"]);
        assert!(o.nofork && o.verbose);
        assert_eq!(o.configfile, "/x.cf");
        assert_eq!(run(&["-f", "--configfile=/y"]).configfile, "/y");
        let o = run(&["-Fntv", "--keep-single-quotes"]);
        assert!(o.active && o.nodaemon && o.test_start && o.verbose && o.keep_single_quotes);
    }

    #[test]
    fn errors_have_the_original_texts() {
        assert_eq!(fail(&["-f", "-F"]), "fos: Cannot specifiy both -f and -F!");
        assert_eq!(
            fail(&[]),
            "fos: Either --monitor (-f) or --active (-F) required!"
        );
        assert_eq!(
            fail(&["-n"]),
            "fos: Either --monitor (-f) or --active (-F) required!"
        );
        assert_eq!(fail(&["-f", "extra"]), "fos: unexpected arguments");
        assert_eq!(fail(&["--version", "extra"]), "fos: unexpected arguments");
        assert_eq!(
            fail(&["--bogus"]),
            "fos: bad argument --bogus: unknown option"
        );
        assert_eq!(
            fail(&["-f", "-c"]),
            "fos: bad argument -c: missing argument"
        );
        assert_eq!(
            fail(&["--active=1"]),
            "fos: bad argument --active: option does not take an argument"
        );
        // no abbreviations
        assert_eq!(fail(&["--act"]), "fos: bad argument --act: unknown option");
    }

    #[test]
    fn version_help_and_usage_need_no_mode() {
        match parsed(&["--version"]) {
            Parsed::Print(s) => assert!(s.starts_with("Program Version:\tfos 1.13\n"), "{s}"),
            other => panic!("{other:?}"),
        }
        for a in ["-?", "--help"] {
            match parsed(&[a]) {
                Parsed::Print(s) => assert!(s.starts_with("Usage: fos [OPTION...]")),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(parsed(&["--usage"]), Parsed::Print(_)));
    }

    /// popt's `--help` of the original, byte for byte.
    const HELP: &str = "\
Usage: fos [OPTION...]
  -c, --configfile=configfile     Configuration file
  -n, --nodaemon                  Don't run as a daemon
  -f, --monitor                   Start client monitors and watch for failure
  -F, --active                    Start IP services and watch for failure
  -v, --verbose                   Log debugging information
  -t, --test-start                Display what commands would be run on
                                  startup, but don't actually run anything
      --nofork                    Don't fork, but do disassociate
      --keep-single-quotes        Keep single quotes around commands and
                                  strings, as Piranha did
      --version                   Display program version

Help options:
  -?, --help                      Show this help message
      --usage                     Display brief usage message
";

    /// popt's `--usage` of the original, byte for byte.
    const USAGE: &str = "\
Usage: fos [-?nfFvt] [-c|--configfile configfile] [-n|--nodaemon] [-f|--monitor]
        [-F|--active] [-v|--verbose] [-t|--test-start] [--nofork]
        [--keep-single-quotes] [--version] [-?|--help] [--usage]
";

    #[test]
    fn help_and_usage_are_the_originals() {
        assert_eq!(PROGRAM.help::<Options>(), HELP);
        assert_eq!(PROGRAM.usage::<Options>(), USAGE);
    }
}
