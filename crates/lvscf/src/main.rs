//! `lvscf`: checks, dumps and formats lvs.cf.
//!
//! * `lvscf check [FILE]`: exit 0 if valid (warnings on stderr), else exit 1
//!   with `FILE:LINE: message` on stderr. Valid means it parses and passes
//!   the checks pulse, lvsd and fos run before they start.
//! * `lvscf dump [--json] [--keep-single-quotes] [FILE]`: the effective
//!   configuration as JSON on stdout.
//! * `lvscf fmt [--regenerate] [FILE]`: the file in canonical layout on
//!   stdout, comments and order kept (or rewritten from the model).
//!
//! FILE defaults to `/etc/sysconfig/ha/lvs.cf`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lvscf::{LoadError, Parsed, QuoteMode};

#[derive(Parser)]
#[command(
    name = "lvscf",
    about = "Check, dump and format Piranha's lvs.cf",
    disable_version_flag = true
)]
struct Cli {
    /// Print the version banner and exit.
    #[arg(long)]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Check FILE: exit 0 if it is valid (warnings go to stderr), 1 if not
    /// (a syntax error, or a check pulse, lvsd or fos would stop on).
    Check {
        /// The file to check.
        #[arg(default_value = lvscf::DEFAULT_CONFIG_FILE)]
        file: PathBuf,
    },
    /// Print the effective configuration, defaults filled in, as JSON.
    Dump {
        /// JSON output (the only format).
        #[arg(long)]
        json: bool,
        /// Keep single quotes around send/expect/commands as the original
        /// does (gaps.md B3 compatibility).
        #[arg(long)]
        keep_single_quotes: bool,
        /// The file to dump.
        #[arg(default_value = lvscf::DEFAULT_CONFIG_FILE)]
        file: PathBuf,
    },
    /// Print FILE in canonical layout, keeping its comments, order and
    /// values; with --regenerate, rewrite it from the parsed model instead.
    Fmt {
        /// Write the effective configuration in the standard key order,
        /// leaving out keys at their defaults (comments are not kept).
        #[arg(long)]
        regenerate: bool,
        /// The file to format.
        #[arg(default_value = lvscf::DEFAULT_CONFIG_FILE)]
        file: PathBuf,
    },
}

/// Parses `file`, printing warnings, or the error, on stderr.
fn load(file: &PathBuf) -> Result<Parsed, ExitCode> {
    match lvscf::parse_file(file) {
        Ok(p) => {
            for w in &p.warnings {
                eprintln!("{w}");
            }
            Ok(p)
        }
        Err(LoadError::Open { file, source }) => {
            eprintln!("{file}: failed to open: {source}");
            Err(ExitCode::FAILURE)
        }
        Err(LoadError::Parse(e)) => {
            eprintln!("{e}");
            Err(ExitCode::FAILURE)
        }
    }
}

/// The checks the daemons run on a parsed file (pulse's, then lvsd's or
/// fos's: [`lvscf::daemon_findings`]), printed on stderr; false if one would stop a daemon.
fn semantics(config: &lvscf::Config, file: &str) -> bool {
    let mut ok = true;
    for f in lvscf::daemon_findings(config, file) {
        ok &= f.severity != lvscf::Severity::Error;
        if f.message.starts_with(file) {
            eprintln!("{f}");
        } else {
            eprintln!("{file}: {f}");
        }
    }
    ok
}

fn run(command: Command) -> Result<(), ExitCode> {
    match command {
        Command::Check { file } => {
            let p = load(&file)?;
            if !semantics(&p.config, &file.display().to_string()) {
                return Err(ExitCode::FAILURE);
            }
        }
        Command::Dump {
            json: _,
            keep_single_quotes,
            file,
        } => {
            let p = load(&file)?;
            let mode = if keep_single_quotes {
                QuoteMode::KeepSingle
            } else {
                QuoteMode::StripSingle
            };
            print!("{}", lvscf::to_json(&p.config, mode));
        }
        Command::Fmt { regenerate, file } => {
            let p = load(&file)?;
            if !regenerate {
                let bytes = std::fs::read(&file).map_err(|e| {
                    eprintln!("{}: failed to open: {e}", file.display());
                    ExitCode::FAILURE
                })?;
                let _ = std::io::stdout().write_all(&lvscf::format(&bytes));
                return Ok(());
            }
            match lvscf::write(&p.config) {
                Ok(text) => print!("{text}"),
                Err(e) => {
                    eprintln!("{}: {e}", file.display());
                    return Err(ExitCode::FAILURE);
                }
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.version {
        print!(
            "{}",
            lvs_util::version::banner("lvscf", env!("CARGO_PKG_VERSION"))
        );
        return ExitCode::SUCCESS;
    }
    let Some(command) = cli.command else {
        eprintln!("lvscf: a command is required: check, dump or fmt (see lvscf --help)");
        return ExitCode::from(2);
    };
    match run(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
