//! popt's conventions, in one place for every command line:
//!
//! * for the daemons, whose options are parsed with clap (pulse, lvsd,
//!   nanny, fos): the options popt adds to every program (`--version`,
//!   `-?`/`--help`, `--usage`), refusing stray words, popt's integers
//!   ([`popt_int`]) and popt's wording for errors (`PROG: bad argument OPT:
//!   REASON`, [`bad_argument`]);
//! * for ipvsadm-rs, whose command line is ipvsadm's own popt table: the
//!   table-driven scanner ([`OptSpec`], [`scan`]) with popt's messages.

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// The options popt gives every Piranha program, and the words that are no
/// option. Flatten it into a program's options (`#[command(flatten)]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct Common {
    /// Print the version banner.
    #[arg(long = "version", help = "Display program version")]
    pub version: bool,
    /// Show help.
    #[arg(short = '?', long = "help", help = "Show this help message")]
    pub help: bool,
    /// Show a brief usage message.
    #[arg(long = "usage", help = "Display brief usage message")]
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
    /// How `--help` and `--usage` are laid out (their rows are the clap
    /// options').
    pub layout: Layout,
    /// The name in `--help` and `--usage`, if not [`Program::name`].
    pub help_name: Option<&'static str>,
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
            return Parsed::Print(self.help::<T>());
        }
        if c.usage {
            return Parsed::Print(self.usage::<T>());
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

impl Program {
    /// `--help` for options `T`.
    pub fn help<T: clap::CommandFactory>(&self) -> String {
        help_text(self.name_in_help(), &rows(&T::command()), self.layout)
    }

    /// `--usage` for options `T`.
    pub fn usage<T: clap::CommandFactory>(&self) -> String {
        usage_text(self.name_in_help(), &rows(&T::command()), self.layout)
    }

    /// lvsd calls itself `lvs` in messages but `lvsd` in its help.
    fn name_in_help(&self) -> &'static str {
        self.help_name.unwrap_or(self.name)
    }
}

/// How popt lays out `--help` and `--usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The column the descriptions start at.
    pub column: usize,
    /// popt's own layout: `--help` and `--usage` under `Help options:`,
    /// and the flag letters clustered first in `--usage` (`[-?ntv]`).
    /// Without it (nanny's generated help) one list and no cluster.
    pub popt_sections: bool,
    /// Descriptions wrapped to 79 columns, as popt does (fos); lvsd's and
    /// nanny's texts have longer lines.
    pub wrap: bool,
}

/// One option as help shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpRow {
    /// The short letter, if any.
    pub short: Option<char>,
    /// The long name.
    pub long: String,
    /// The value placeholder of an option that takes one (`STRING`).
    pub value: Option<String>,
    /// The description, with any visible aliases (`(also --x)`).
    pub text: String,
}

impl HelpRow {
    fn is_help_option(&self) -> bool {
        matches!(self.long.as_str(), "help" | "usage")
    }
}

/// The help rows of a clap command, in declaration order: every visible
/// option with a long name.
pub fn rows(cmd: &clap::Command) -> Vec<HelpRow> {
    let mut out = Vec::new();
    for arg in cmd.get_arguments() {
        if arg.is_hide_set() {
            continue;
        }
        let Some(long) = arg.get_long() else { continue };
        let value = arg
            .get_action()
            .takes_values()
            .then(|| arg.get_value_names().and_then(|v| v.first()))
            .flatten()
            .map(|v| v.to_string());
        let mut text = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        if let Some(al) = arg.get_visible_aliases()
            && !al.is_empty()
        {
            let al: Vec<String> = al.iter().map(|a| format!("--{a}")).collect();
            text.push_str(&format!(" (also {})", al.join(", ")));
        }
        out.push(HelpRow {
            short: arg.get_short(),
            long: long.to_string(),
            value,
            text,
        });
    }
    out
}

/// A description split into lines of at most `width` bytes at spaces, as
/// popt wraps it (a word longer than the line stays whole).
fn wrap(text: &str, width: usize) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while rest.len() > width {
        let cut = rest
            .char_indices()
            .take_while(|(i, _)| *i < width)
            .filter(|(i, c)| *c == ' ' && *i > 0)
            .last()
            .map(|(i, _)| i);
        let Some(i) = cut else { break };
        lines.push(&rest[..i]);
        rest = rest[i..].trim_start_matches(' ');
    }
    lines.push(rest);
    lines
}

/// popt's `--help`: `Usage: NAME [OPTION...]` and one row per option.
pub fn help_text(name: &str, rows: &[HelpRow], layout: Layout) -> String {
    let row = |out: &mut String, r: &HelpRow| {
        let mut left = match r.short {
            Some(c) => format!("  -{c}, --{}", r.long),
            None => format!("      --{}", r.long),
        };
        if let Some(v) = &r.value {
            left.push_str(&format!("={v}"));
        }
        let width = layout.column.saturating_sub(1);
        let lines = if layout.wrap {
            wrap(&r.text, 80usize.saturating_sub(layout.column))
        } else {
            vec![r.text.as_str()]
        };
        out.push_str(&format!("{left:<width$} {}\n", lines[0]));
        for l in &lines[1..] {
            out.push_str(&format!("{:width$} {l}\n", ""));
        }
    };
    let mut out = format!("Usage: {name} [OPTION...]\n");
    if layout.popt_sections {
        for r in rows.iter().filter(|r| !r.is_help_option()) {
            row(&mut out, r);
        }
        out.push_str("\nHelp options:\n");
        for r in rows.iter().filter(|r| r.is_help_option()) {
            row(&mut out, r);
        }
    } else {
        for r in rows {
            row(&mut out, r);
        }
    }
    out
}

/// popt's `--usage`: `Usage: NAME` and every option in brackets, wrapped
/// at 79 columns (with popt's layout, as popt counts them).
pub fn usage_text(name: &str, rows: &[HelpRow], layout: Layout) -> String {
    let mut items = Vec::new();
    if layout.popt_sections {
        let letters: String = rows
            .iter()
            .filter(|r| r.value.is_none())
            .filter_map(|r| r.short)
            .filter(|c| *c != '?')
            .collect();
        items.push(format!(" [-?{letters}]"));
    }
    for r in rows {
        let value = r
            .value
            .as_ref()
            .map(|v| format!(" {v}"))
            .unwrap_or_default();
        items.push(match r.short {
            Some(c) => format!(" [-{c}|--{}{value}]", r.long),
            None => format!(" [--{}{value}]", r.long),
        });
    }
    let mut out = format!("Usage: {name}");
    // popt's count runs one column short on the first line and one over on
    // the others (the originals' texts: 80 columns, then 78); nanny's
    // generated usage counts exactly
    let (mut col, indent) = if layout.popt_sections {
        (out.len() - 1, 8)
    } else {
        (out.len(), 7)
    };
    for item in items {
        if col + item.len() > 79 {
            out.push_str("\n       ");
            col = indent;
        }
        col += item.len();
        out.push_str(&item);
    }
    out.push('\n');
    out
}

/// popt: an option nobody declared.
pub const BADOPT: &str = "unknown option";
/// popt: a value-taking option without its value.
pub const NOARG: &str = "missing argument";
/// popt: a value given to a flag (`--flag=x`).
pub const UNWANTEDARG: &str = "option does not take an argument";

/// popt: an integer option's value that is no number.
pub const BADNUMBER: &str = "invalid numeric value";
/// popt: an integer option's value outside `int`.
pub const OVERFLOW: &str = "number too large or too small";

/// Error of an integer option value: popt's reason ([`BADNUMBER`] or
/// [`OVERFLOW`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IntError(pub &'static str);

/// popt `POPT_ARG_INT`, as a clap value parser: C `strtol` base 0
/// (decimal, `0x` hex, leading-zero octal, optional sign, leading blanks),
/// the whole string consumed (`""` is 0, as with popt), `int` range.
pub fn popt_int(s: &str) -> Result<i32, IntError> {
    let v = crate::inet::strtol(s.as_bytes()).ok_or(IntError(BADNUMBER))?;
    i32::try_from(v).map_err(|_| IntError(OVERFLOW))
}

/// Turns a clap error for `argv` (program name included) into popt's
/// `PROGRAM: bad argument OPT: REASON` line (without a newline). OPT is the
/// option as the user spelled it, without any `=VALUE`; a value refused by
/// [`popt_int`] gets popt's number reason.
pub fn bad_argument(program: &str, e: &clap::Error, argv: &[OsString]) -> String {
    if e.kind() == ErrorKind::ValueValidation {
        let value = match e.get(ContextKind::InvalidValue) {
            Some(ContextValue::String(s)) => s.clone(),
            _ => String::new(),
        };
        let reason = std::error::Error::source(e)
            .and_then(|s| s.downcast_ref::<IntError>())
            .map(|ie| ie.0)
            .unwrap_or(BADNUMBER);
        let opt = spelling_of_value(argv, &value);
        return format!("{program}: bad argument {opt}: {reason}");
    }
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

/// Finds how the user spelled the option that carried `value` (`--opt=V`,
/// `-oV` or `-o V`).
fn spelling_of_value(argv: &[OsString], value: &str) -> String {
    let args: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    for (i, a) in args.iter().enumerate().skip(1) {
        if let Some((opt, v)) = a.split_once('=')
            && opt.starts_with("--")
            && v == value
        {
            return opt.to_string();
        }
        // `-Xvalue`; `get` because a word's second character may be
        // wider than one byte (`-é…`, the value of an earlier option)
        if a.starts_with('-')
            && !a.starts_with("--")
            && a.get(2..).is_some_and(|v| !v.is_empty() && v == value)
            && let Some(opt) = a.get(..2)
        {
            return opt.to_string();
        }
        if args.get(i + 1).map(String::as_str) == Some(value) && a.starts_with('-') {
            return a.clone();
        }
    }
    value.to_string()
}

/// Whether an option takes an argument (popt's `argInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A flag.
    None,
    /// `-x V`, `-xV`, `--long V`, `--long=V`.
    Required,
    /// Attached, or the next word unless it starts with `-`.
    Optional,
}

/// One row of a popt option table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptSpec<K> {
    /// The short letter, if any.
    pub short: Option<char>,
    /// The long name (without `--`).
    pub long: &'static str,
    /// Whether it takes an argument.
    pub arg: ArgKind,
    /// What it sets: the program's meaning of the option.
    pub sets: K,
}

/// An option found on a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found<'t, K> {
    /// Its row of the table.
    pub spec: &'t OptSpec<K>,
    /// Its argument.
    pub value: Option<String>,
    /// How it was spelled: `-x` or `--long`.
    pub text: String,
}

/// A scanned command line: the options in order, and the other words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned<'t, K> {
    /// The options, in command-line order.
    pub opts: Vec<Found<'t, K>>,
    /// The words that are no option (and everything after `--`).
    pub rest: Vec<String>,
}

/// A scanning error: popt's `OPT: REASON`, OPT as given (`--long=V` whole).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{opt}: {reason}")]
pub struct ScanError {
    /// The option as written.
    pub opt: String,
    /// [`BADOPT`], [`NOARG`] or [`UNWANTEDARG`].
    pub reason: &'static str,
}

/// The argument of an option that takes one, from the next word if needed.
fn next_value(kind: ArgKind, args: &[String], i: &mut usize) -> Result<Option<String>, ()> {
    match (kind, args.get(*i)) {
        (ArgKind::None, _) => Ok(None),
        (ArgKind::Required, Some(v)) => {
            *i += 1;
            Ok(Some(v.clone()))
        }
        (ArgKind::Required, None) => Err(()),
        (ArgKind::Optional, Some(v)) if !v.starts_with('-') => {
            *i += 1;
            Ok(Some(v.clone()))
        }
        (ArgKind::Optional, _) => Ok(None),
    }
}

/// Scans `args` (without the program name) over `table` as popt does:
/// clustered short options (`-Ln`), attached or separate arguments (`-w3`,
/// `-w 3`, `--weight=3`), `--` ending the options. The first row with a
/// name wins.
pub fn scan<'t, K>(table: &'t [OptSpec<K>], args: &[String]) -> Result<Scanned<'t, K>, ScanError> {
    let err = |opt: String, reason| ScanError { opt, reason };
    let mut opts = Vec::new();
    let mut rest = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            rest.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, attached) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let Some(spec) = table.iter().find(|o| o.long == name) else {
                return Err(err(a.clone(), BADOPT));
            };
            let value = match attached {
                Some(_) if spec.arg == ArgKind::None => {
                    return Err(err(a.clone(), UNWANTEDARG));
                }
                Some(v) => Some(v),
                None => next_value(spec.arg, args, &mut i).map_err(|()| err(a.clone(), NOARG))?,
            };
            opts.push(Found {
                spec,
                value,
                text: format!("--{name}"),
            });
        } else if a.len() > 1 && a.starts_with('-') {
            let chars: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                j += 1;
                let text = format!("-{c}");
                let Some(spec) = table.iter().find(|o| o.short == Some(c)) else {
                    return Err(err(text, BADOPT));
                };
                let value = if spec.arg != ArgKind::None && j < chars.len() {
                    let tail = chars[j..].iter().collect();
                    j = chars.len();
                    Some(tail)
                } else {
                    next_value(spec.arg, args, &mut i).map_err(|()| err(text.clone(), NOARG))?
                };
                opts.push(Found { spec, value, text });
            }
        } else {
            rest.push(a.clone());
        }
    }
    Ok(Scanned { opts, rest })
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
            layout: Layout {
                column: 30,
                popt_sections: true,
                wrap: true,
            },
            help_name: None,
            strays_before_version,
        }
    }

    /// `Print`/`Fail` text, or `run` with `-n`'s value.
    fn outcome(strays_before_version: bool, args: &[&str]) -> String {
        let argv = std::iter::once("demo").chain(args.iter().copied());
        match program(strays_before_version).parse(argv, |o: &WithCommon| &o.popt) {
            Parsed::Run(o) => format!("run {}", o.nodaemon),
            Parsed::Print(t) if t == program(false).help::<WithCommon>() => "print HELP".into(),
            Parsed::Print(t) if t == program(false).usage::<WithCommon>() => "print USAGE".into(),
            Parsed::Print(t) => format!("print {t}"),
            Parsed::Fail(l) => format!("fail {l}"),
        }
    }

    #[test]
    fn common_options_in_the_originals_order() {
        for strict in [false, true] {
            assert_eq!(outcome(strict, &[]), "run false");
            assert_eq!(outcome(strict, &["-n"]), "run true");
            assert_eq!(outcome(strict, &["-?"]), "print HELP");
            assert_eq!(outcome(strict, &["--help", "--usage"]), "print HELP");
            assert_eq!(outcome(strict, &["--usage", "x"]), "print USAGE");
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
        assert_eq!(outcome(true, &["--help", "--version"]), "print HELP");
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

    #[test]
    fn popt_integers() {
        assert_eq!(popt_int("10"), Ok(10));
        assert_eq!(popt_int("0x1F"), Ok(31));
        assert_eq!(popt_int("010"), Ok(8));
        assert_eq!(popt_int("-5"), Ok(-5));
        assert_eq!(popt_int(" 7"), Ok(7));
        assert_eq!(popt_int("0"), Ok(0));
        assert_eq!(popt_int(""), Ok(0));
        assert_eq!(popt_int(" "), Err(IntError(BADNUMBER)));
        assert_eq!(popt_int("0x"), Err(IntError(BADNUMBER)));
        assert_eq!(popt_int("08"), Err(IntError(BADNUMBER)));
        assert_eq!(popt_int("10s"), Err(IntError(BADNUMBER)));
        assert_eq!(popt_int("-"), Err(IntError(BADNUMBER)));
        assert_eq!(popt_int("99999999999"), Err(IntError(OVERFLOW)));
        assert_eq!(popt_int("2147483647"), Ok(i32::MAX));
        assert_eq!(popt_int("-2147483648"), Ok(i32::MIN));
    }

    #[derive(Parser, Debug)]
    #[command(name = "demo", disable_help_flag = true, disable_version_flag = true)]
    struct WithInt {
        #[arg(short = 't', long = "interval", allow_hyphen_values = true, value_parser = popt_int)]
        interval: Option<i32>,
    }

    #[test]
    fn integer_values_get_popts_reasons() {
        let fail = |args: &[&str]| {
            let mut argv: Vec<OsString> = vec!["demo".into()];
            argv.extend(args.iter().map(OsString::from));
            let e = WithInt::try_parse_from(&argv).expect_err("must fail");
            bad_argument("demo", &e, &argv)
        };
        assert_eq!(
            fail(&["-t", "abc"]),
            "demo: bad argument -t: invalid numeric value"
        );
        assert_eq!(
            fail(&["--interval=1x"]),
            "demo: bad argument --interval: invalid numeric value"
        );
        assert_eq!(
            fail(&["-t99999999999"]),
            "demo: bad argument -t: number too large or too small"
        );
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Demo2 {
        List,
        Numeric,
        Weight,
        Persistent,
    }

    const TABLE: &[OptSpec<Demo2>] = &[
        OptSpec {
            short: Some('L'),
            long: "list",
            arg: ArgKind::None,
            sets: Demo2::List,
        },
        OptSpec {
            short: Some('n'),
            long: "numeric",
            arg: ArgKind::None,
            sets: Demo2::Numeric,
        },
        OptSpec {
            short: Some('w'),
            long: "weight",
            arg: ArgKind::Required,
            sets: Demo2::Weight,
        },
        OptSpec {
            short: Some('p'),
            long: "persistent",
            arg: ArgKind::Optional,
            sets: Demo2::Persistent,
        },
    ];

    /// (what, value, spelling) of each option, and the other words.
    type Words = (Vec<(Demo2, Option<String>, String)>, Vec<String>);

    fn scanned(line: &str) -> Result<Words, String> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        let s = scan(TABLE, &args).map_err(|e| e.to_string())?;
        let opts = s
            .opts
            .into_iter()
            .map(|f| (f.spec.sets, f.value, f.text))
            .collect();
        Ok((opts, s.rest))
    }

    #[test]
    fn table_driven_scanning() {
        use Demo2::*;
        let some = |v: &str| Some(v.to_string());
        let (o, rest) = scanned("-Lnw3 x --weight=4 -p -w -5 --persistent 9 -- -n").unwrap();
        assert_eq!(
            o,
            vec![
                (List, None, "-L".into()),
                (Numeric, None, "-n".into()),
                (Weight, some("3"), "-w".into()),
                (Weight, some("4"), "--weight".into()),
                (Persistent, None, "-p".into()),
                (Weight, some("-5"), "-w".into()),
                (Persistent, some("9"), "--persistent".into()),
            ]
        );
        assert_eq!(rest, vec!["x", "-n"]);
        assert_eq!(scanned("-q").unwrap_err(), "-q: unknown option");
        assert_eq!(
            scanned("--bogus=1").unwrap_err(),
            "--bogus=1: unknown option"
        );
        assert_eq!(scanned("-L -w").unwrap_err(), "-w: missing argument");
        assert_eq!(
            scanned("--weight").unwrap_err(),
            "--weight: missing argument"
        );
        assert_eq!(
            scanned("--list=1").unwrap_err(),
            "--list=1: option does not take an argument"
        );
    }

    #[test]
    fn popt_layout() {
        let row = |short, long: &str, value: Option<&str>, text: &str| HelpRow {
            short,
            long: long.into(),
            value: value.map(String::from),
            text: text.into(),
        };
        let rows = [
            row(
                Some('c'),
                "configfile",
                Some("STRING"),
                "Configuration file",
            ),
            row(Some('n'), "nodaemon", None, "Don't run as a daemon"),
            row(
                None,
                "keep-single-quotes",
                None,
                "Keep single quotes around commands and strings, as Piranha did",
            ),
            row(None, "version", None, "Display program version"),
            row(Some('?'), "help", None, "Show this help message"),
            row(None, "usage", None, "Display brief usage message"),
        ];
        let popt = Layout {
            column: 34,
            popt_sections: true,
            wrap: true,
        };
        assert_eq!(
            help_text("demo", &rows, popt),
            "\
Usage: demo [OPTION...]
  -c, --configfile=STRING         Configuration file
  -n, --nodaemon                  Don't run as a daemon
      --keep-single-quotes        Keep single quotes around commands and
                                  strings, as Piranha did
      --version                   Display program version

Help options:
  -?, --help                      Show this help message
      --usage                     Display brief usage message
"
        );
        assert_eq!(
            usage_text("demo", &rows, popt),
            "\
Usage: demo [-?n] [-c|--configfile STRING] [-n|--nodaemon]
        [--keep-single-quotes] [--version] [-?|--help] [--usage]
"
        );
        let plain = Layout {
            column: 20,
            popt_sections: false,
            wrap: false,
        };
        let h = help_text("demo", &rows[..2], plain);
        assert_eq!(
            h,
            "Usage: demo [OPTION...]\n  -c, --configfile=STRING Configuration file\n  -n, --nodaemon    Don't run as a daemon\n"
        );
        assert_eq!(
            usage_text("demo", &rows[..2], plain),
            "Usage: demo [-c|--configfile STRING] [-n|--nodaemon]\n"
        );
    }
}
