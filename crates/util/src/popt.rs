//! popt's command-line scaffolding for daemons whose options are parsed
//! with clap: the options popt adds to every program (`--version`,
//! `-?`/`--help`, `--usage`), refusing stray words, and popt's wording for
//! errors (`PROG: bad argument OPT: REASON`).

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// The options popt gives every Piranha program, and the words that are no
/// option. Flatten it into a program's options (`#[command(flatten)]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct Common {
    /// Print the version banner.
    #[arg(long = "version")]
    pub version: bool,
    /// Show help.
    #[arg(short = '?', long = "help")]
    pub help: bool,
    /// Show a brief usage message.
    #[arg(long = "usage")]
    pub usage: bool,
    /// Anything that is not an option (refused).
    #[arg(hide = true)]
    pub rest: Vec<String>,
}

/// What a command line asks for.
#[derive(Debug)]
pub enum Parsed<T> {
    /// Run with these options.
    Run(T),
    /// Print this to stdout and exit 0 (`--version`, `--help`, `--usage`).
    Print(String),
    /// Print this line to stderr and exit 1.
    Fail(String),
}

impl<T> Parsed<T> {
    /// The options to run with; otherwise prints the text (stdout, or the
    /// line on stderr) and gives the exit status, 0 or 1.
    pub fn or_exit(self) -> Result<T, u8> {
        match self {
            Parsed::Run(o) => Ok(o),
            Parsed::Print(text) => {
                print!("{text}");
                Err(0)
            }
            Parsed::Fail(line) => {
                eprintln!("{line}");
                Err(1)
            }
        }
    }
}

/// A program's command-line texts.
#[derive(Debug, Clone, Copy)]
pub struct Program {
    /// The name in messages and in the version banner (lvsd calls itself
    /// `lvs`).
    pub name: &'static str,
    /// The version in the banner.
    pub version: &'static str,
    /// popt's `--help` text.
    pub help: &'static str,
    /// popt's `--usage` text.
    pub usage: &'static str,
    /// Stray words are refused even with `--version` (fos); otherwise
    /// `--version` is answered first (lvsd, pulse).
    pub strays_before_version: bool,
}

impl Program {
    /// Parses `argv` (program name first) into `T`, whose [`Common`]
    /// options `common` picks out, and answers them in the original's
    /// order: `--version` (unless [`Program::strays_before_version`]),
    /// `--help`, `--usage`, stray words (`PROG: unexpected arguments`),
    /// `--version`. A clap error is popt's `bad argument` line.
    pub fn parse<T, I, A>(&self, argv: I, common: fn(&T) -> &Common) -> Parsed<T>
    where
        T: clap::Parser,
        I: IntoIterator<Item = A>,
        A: Into<OsString> + Clone,
    {
        let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
        let opts = match T::try_parse_from(&argv) {
            Ok(o) => o,
            Err(e) => return Parsed::Fail(bad_argument(self.name, &e, &argv)),
        };
        let c = common(&opts);
        let version = || Parsed::Print(crate::version::banner(self.name, self.version));
        if c.version && !self.strays_before_version {
            return version();
        }
        if c.help {
            return Parsed::Print(self.help.into());
        }
        if c.usage {
            return Parsed::Print(self.usage.into());
        }
        if !c.rest.is_empty() {
            return Parsed::Fail(format!("{}: unexpected arguments", self.name));
        }
        if c.version {
            return version();
        }
        Parsed::Run(opts)
    }
}

/// popt: an option nobody declared.
pub const BADOPT: &str = "unknown option";
/// popt: a value-taking option without its value.
pub const NOARG: &str = "missing argument";
/// popt: a value given to a flag (`--flag=x`).
pub const UNWANTEDARG: &str = "option does not take an argument";

/// Turns a clap error for `argv` (program name included) into popt's
/// `PROGRAM: bad argument OPT: REASON` line (without a newline). OPT is the
/// option as the user spelled it, without any `=VALUE`.
pub fn bad_argument(program: &str, e: &clap::Error, argv: &[OsString]) -> String {
    let last = argv
        .last()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = |s: &str| s.split('=').next().unwrap_or(s).to_string();
    let (opt, reason) = match e.kind() {
        ErrorKind::InvalidValue | ErrorKind::NoEquals if last.starts_with('-') => {
            (name(&last), NOARG)
        }
        ErrorKind::TooManyValues => {
            // `--flag=value`: find the word that carried the value.
            let value = match e.get(ContextKind::InvalidValue) {
                Some(ContextValue::String(v)) => v.clone(),
                _ => String::new(),
            };
            let word = argv
                .iter()
                .map(|a| a.to_string_lossy())
                .find(|a| a.starts_with("--") && a.ends_with(&format!("={value}")))
                .map(|a| name(&a))
                .unwrap_or_else(|| name(&last));
            (word, UNWANTEDARG)
        }
        kind => {
            let arg = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::String(s)) => name(s.split(' ').next().unwrap_or(s)),
                _ => name(&last),
            };
            let reason = if kind == ErrorKind::UnknownArgument {
                BADOPT
            } else {
                "invalid option"
            };
            (arg, reason)
        }
    };
    format!("{program}: bad argument {opt}: {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    #[command(name = "demo", disable_help_flag = true, disable_version_flag = true)]
    struct Demo {
        #[arg(short = 'c', long = "configfile")]
        config: Option<String>,
        #[arg(short = 'n', long = "nodaemon")]
        nodaemon: bool,
    }

    #[derive(Parser, Debug)]
    #[command(name = "demo", disable_help_flag = true, disable_version_flag = true)]
    struct WithCommon {
        #[arg(short = 'n', long = "nodaemon")]
        nodaemon: bool,
        #[command(flatten)]
        popt: Common,
    }

    fn program(strays_before_version: bool) -> Program {
        Program {
            name: "demo",
            version: "1.0",
            help: "HELP\n",
            usage: "USAGE\n",
            strays_before_version,
        }
    }

    /// `Print`/`Fail` text, or `run` with `-n`'s value.
    fn outcome(strays_before_version: bool, args: &[&str]) -> String {
        let argv = std::iter::once("demo").chain(args.iter().copied());
        match program(strays_before_version).parse(argv, |o: &WithCommon| &o.popt) {
            Parsed::Run(o) => format!("run {}", o.nodaemon),
            Parsed::Print(t) => format!("print {t}"),
            Parsed::Fail(l) => format!("fail {l}"),
        }
    }

    #[test]
    fn common_options_in_the_originals_order() {
        for strict in [false, true] {
            assert_eq!(outcome(strict, &[]), "run false");
            assert_eq!(outcome(strict, &["-n"]), "run true");
            assert_eq!(outcome(strict, &["-?"]), "print HELP\n");
            assert_eq!(outcome(strict, &["--help", "--usage"]), "print HELP\n");
            assert_eq!(outcome(strict, &["--usage", "x"]), "print USAGE\n");
            assert_eq!(outcome(strict, &["x"]), "fail demo: unexpected arguments");
            assert!(
                outcome(strict, &["--version"]).starts_with("print Program Version:\tdemo 1.0\n")
            );
            assert_eq!(
                outcome(strict, &["--bogus"]),
                "fail demo: bad argument --bogus: unknown option"
            );
            assert_eq!(
                outcome(strict, &["--usage=1"]),
                "fail demo: bad argument --usage: option does not take an argument"
            );
        }
        // --version before --help (lvsd, pulse), or after stray words (fos)
        assert!(outcome(false, &["--help", "--version"]).starts_with("print Program"));
        assert_eq!(outcome(true, &["--help", "--version"]), "print HELP\n");
        assert!(outcome(false, &["--version", "x"]).starts_with("print Program"));
        assert_eq!(
            outcome(true, &["--version", "x"]),
            "fail demo: unexpected arguments"
        );
    }

    fn fail(args: &[&str]) -> String {
        let mut argv: Vec<OsString> = vec!["demo".into()];
        argv.extend(args.iter().map(OsString::from));
        let e = Demo::try_parse_from(&argv).expect_err("must fail");
        bad_argument("demo", &e, &argv)
    }

    #[test]
    fn popt_wording() {
        assert_eq!(
            fail(&["--bogus"]),
            "demo: bad argument --bogus: unknown option"
        );
        assert_eq!(fail(&["-x"]), "demo: bad argument -x: unknown option");
        assert_eq!(fail(&["-c"]), "demo: bad argument -c: missing argument");
        assert_eq!(
            fail(&["--configfile"]),
            "demo: bad argument --configfile: missing argument"
        );
        assert_eq!(
            fail(&["--nodaemon=yes"]),
            "demo: bad argument --nodaemon: option does not take an argument"
        );
    }
}
