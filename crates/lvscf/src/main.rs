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
//! * `lvscf save [--keep-commands] --from PENDING FILE`: saves PENDING as
//!   FILE through [`lvscf::store::save`] (checked, `serial_no` bumped,
//!   history kept), expecting FILE's `serial_no` to be PENDING's own. The
//!   privileged half of the web tool's save (`piranha-gui-save.service`).
//!   Exit 0 saved (the new serial on stdout), 2 refused by the checks, 3
//!   conflict (FILE's `serial_no` differs), 4 command keys differ
//!   (`--keep-commands`), 1 anything else.
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
    /// Save the text of PENDING as FILE: checked as `lvscf check` does,
    /// serial_no incremented, the replaced version kept in FILE.history/.
    /// FILE's serial_no must still be PENDING's own (the one the edit
    /// started from). Exit 0 saved (prints the new serial_no), 2 refused by
    /// the checks, 3 FILE's serial_no differs, 4 command keys differ
    /// (--keep-commands), 1 anything else.
    Save {
        /// Refuse unless every command key (active_cmd, inactive_cmd,
        /// ipvsadm, rsh_command; per block send_program, load_monitor,
        /// client_monitor, start_cmd, stop_cmd) is in PENDING as in FILE.
        #[arg(long)]
        keep_commands: bool,
        /// The new text: a regular file (not a symbolic link), at most 16 MiB.
        #[arg(long, value_name = "PENDING")]
        from: PathBuf,
        /// The file to replace.
        #[arg(default_value = lvscf::DEFAULT_CONFIG_FILE)]
        file: PathBuf,
    },
}

/// The largest PENDING `lvscf save` reads.
const MAX_PENDING: u64 = 16 << 20;

/// Reads `path` without following a symbolic link in its last component,
/// refusing anything but a regular file of at most [`MAX_PENDING`] bytes.
fn read_pending(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let shown = path.display();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("{shown}: failed to open: {e}"))?;
    let m = f
        .metadata()
        .map_err(|e| format!("{shown}: failed to stat: {e}"))?;
    if !m.file_type().is_file() {
        return Err(format!("{shown}: not a regular file"));
    }
    if m.len() > MAX_PENDING {
        return Err(format!(
            "{shown}: {} bytes, more than {MAX_PENDING}",
            m.len()
        ));
    }
    let mut bytes = Vec::new();
    f.take(MAX_PENDING + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{shown}: failed to read: {e}"))?;
    if bytes.len() as u64 > MAX_PENDING {
        return Err(format!("{shown}: more than {MAX_PENDING} bytes"));
    }
    String::from_utf8(bytes).map_err(|_| format!("{shown}: not UTF-8 text"))
}

/// `lvscf save`: see [`Command::Save`].
fn save(keep_commands: bool, from: &std::path::Path, file: &std::path::Path) -> u8 {
    let shown = file.display().to_string();
    let pending = match read_pending(from) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let Some(expected) = lvscf::store::serial_of(&pending) else {
        eprintln!("{}: serial_no is not an integer", from.display());
        return 2;
    };
    if keep_commands {
        let new = match lvscf::parse_str(&pending, &shown) {
            Ok(p) => p.config,
            Err(e) => {
                eprintln!("{e}");
                return 2;
            }
        };
        let old = match lvscf::parse_file(file) {
            Ok(p) => p.config,
            Err(LoadError::Open { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                lvscf::Config::default()
            }
            Err(e) => {
                eprintln!("{shown}: {e}");
                return 1;
            }
        };
        let changes = lvscf::command_changes(&old, &new);
        if !changes.is_empty() {
            for c in changes {
                eprintln!("{shown}: {c}: a command key differs from the file's (--keep-commands)");
            }
            return 4;
        }
    }
    match lvscf::store::save(file, &pending, expected) {
        Ok(saved) => {
            println!("{}", saved.serial);
            0
        }
        Err(e @ lvscf::store::SaveError::Conflict { .. }) => {
            eprintln!("{e}");
            3
        }
        Err(lvscf::store::SaveError::Invalid(problems)) => {
            for p in problems
                .iter()
                .filter(|p| p.severity == lvscf::Severity::Error)
            {
                eprintln!("{p}");
            }
            2
        }
        Err(e @ lvscf::store::SaveError::Edit(_)) => {
            eprintln!("{e}");
            2
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
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
        Command::Save {
            keep_commands,
            from,
            file,
        } => {
            let code = save(keep_commands, &from, &file);
            if code != 0 {
                return Err(ExitCode::from(code));
            }
        }
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
        eprintln!("lvscf: a command is required: check, dump, fmt or save (see lvscf --help)");
        return ExitCode::from(2);
    };
    match run(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
