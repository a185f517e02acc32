//! popt's wording for command-line errors, for daemons whose options are
//! parsed with clap: `PROG: bad argument OPT: REASON`.

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};

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
