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
//! * `lvscf sync [--result RESULT] [FILE]`: copies FILE to the backup
//!   router with the program FILE's `rsh_command` names (scp for ssh, rcp
//!   for rsh; run without a shell, as the calling user with its keys), reads
//!   the copy back and writes what happened to RESULT (`key=value` lines:
//!   `status`, `backup`, `program`, `serial_no`, `same`, `message`). The
//!   privileged half of the web tool's Synchronize
//!   (`piranha-gui-sync.service`). Exit 0 copied, 1 not.
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
    /// Copy FILE to the backup router (lvs.cf's `backup`) with the copy
    /// program of its `rsh_command` (scp for ssh, rcp for rsh), read the
    /// copy back and report its serial_no. Exit 0 copied, 1 not.
    Sync {
        /// Also write the result here (`key=value` lines; replaced
        /// atomically, never through a symbolic link).
        #[arg(long, value_name = "RESULT")]
        result: Option<PathBuf>,
        /// The file to copy.
        #[arg(default_value = lvscf::DEFAULT_CONFIG_FILE)]
        file: PathBuf,
    },
}

/// How long each of sync's programs may take.
const SYNC_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The copy and remote-shell programs for `rsh_command`.
fn sync_programs(rsh_command: &str) -> Option<(&'static str, &'static str)> {
    match rsh_command.rsplit('/').next().unwrap_or("") {
        "ssh" => Some(("scp", "ssh")),
        "rsh" => Some(("rcp", "rsh")),
        _ => None,
    }
}

/// The copy command and the read-back command for `file` on `backup`.
fn sync_argv(copy: &str, shell: &str, file: &str, backup: &str) -> (Vec<String>, Vec<String>) {
    let mut cp = vec![copy.to_string()];
    if copy == "scp" {
        cp.extend(["-B".into(), "-q".into()]);
    }
    // scp and rcp take an IPv6 host in brackets.
    let host = if backup.contains(':') {
        format!("[{backup}]")
    } else {
        backup.to_string()
    };
    cp.extend([file.to_string(), format!("{host}:{file}")]);
    let mut sh = vec![shell.to_string()];
    if shell == "ssh" {
        sh.extend(["-o".into(), "BatchMode=yes".into()]);
    }
    sh.extend([backup.to_string(), "cat".into(), file.to_string()]);
    (cp, sh)
}

/// Runs `argv` (no shell) for at most [`SYNC_LIMIT`]; its standard output
/// (at most 16 MiB).
fn run_limited(argv: &[String]) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let mut child = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", argv[0]))?;
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut o = Vec::new();
        if let Some(s) = out.as_mut() {
            let _ = s.take(MAX_PENDING + 1).read_to_end(&mut o);
        }
        o
    });
    let err_reader = std::thread::spawn(move || {
        let mut e = Vec::new();
        if let Some(s) = err.as_mut() {
            let _ = s.take(64 << 10).read_to_end(&mut e);
        }
        e
    });
    let end = std::time::Instant::now() + SYNC_LIMIT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if std::time::Instant::now() < end => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{}: no answer within {} s",
                    argv[0],
                    SYNC_LIMIT.as_secs()
                ));
            }
            Err(e) => return Err(format!("{}: {e}", argv[0])),
        }
    };
    let out = reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    if status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{} failed ({status}): {}",
            argv[0],
            String::from_utf8_lossy(&err).trim()
        ))
    }
}

/// Writes `text` as `path`: a new file beside it (O_EXCL, O_NOFOLLOW, mode
/// 0644), renamed over it (a symbolic link there is replaced, not followed).
fn write_result(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let name = path
        .file_name()
        .map_or("result".into(), |n| n.to_string_lossy());
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    let r = f
        .write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// `lvscf sync`: see [`Command::Sync`]; the `key=value` lines.
fn sync(file: &std::path::Path) -> (bool, Vec<(&'static str, String)>) {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    let fail = |mut out: Vec<(&'static str, String)>, msg: String| {
        out.insert(0, ("status", "failed".into()));
        out.push(("message", msg));
        (false, out)
    };
    let path = match std::path::absolute(file) {
        Ok(p) => p.display().to_string(),
        Err(e) => return fail(out, format!("{}: {e}", file.display())),
    };
    let text = match std::fs::read(file) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => return fail(out, format!("{path}: failed to open: {e}")),
    };
    let cfg = match lvscf::parse_str(&text, &path) {
        Ok(p) => p.config,
        Err(e) => return fail(out, e.to_string()),
    };
    let g = &cfg.global;
    if !g.backup_active || g.backup_addr().is_unspecified() {
        return fail(
            out,
            format!("{path} has no backup router (backup_active, backup)"),
        );
    }
    let backup = g.backup_addr().to_string();
    out.push(("backup", backup.clone()));
    let Some((copy, shell)) = sync_programs(&g.rsh_command) else {
        return fail(
            out,
            format!("rsh_command {:?} is neither ssh nor rsh", g.rsh_command),
        );
    };
    out.push(("program", copy.into()));
    let (cp, sh) = sync_argv(copy, shell, &path, &backup);
    if let Err(e) = run_limited(&cp) {
        return fail(out, format!("not copied: {e}"));
    }
    let theirs = match run_limited(&sh) {
        Ok(t) => String::from_utf8_lossy(&t).into_owned(),
        Err(e) => return fail(out, format!("copied, but cannot read it back: {e}")),
    };
    let serial = lvscf::store::serial_of(&theirs).unwrap_or(0);
    let same = theirs == text;
    out.insert(0, ("status", "ok".into()));
    out.push(("serial_no", serial.to_string()));
    out.push(("same", if same { "yes" } else { "no" }.into()));
    out.push((
        "message",
        format!(
            "copied {path} to the backup router {backup} with {copy}: its lvs.cf has serial_no {serial}{}",
            if same { ", the same file as here" } else { ", NOT the same file as here" }
        ),
    ));
    (true, out)
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
        Command::Sync { result, file } => {
            let (ok, lines) = sync(&file);
            let text: String = lines
                .iter()
                .map(|(k, v)| format!("{k}={}\n", v.replace(['\n', '\r'], " ")))
                .collect();
            let msg = lines
                .iter()
                .find(|(k, _)| *k == "message")
                .map_or("", |(_, v)| v.as_str());
            if ok {
                println!("{msg}");
            } else {
                eprintln!("lvscf sync: {msg}");
            }
            if let Some(r) = result
                && let Err(e) = write_result(&r, &text)
            {
                eprintln!("lvscf sync: {}: {e}", r.display());
                return Err(ExitCode::FAILURE);
            }
            if !ok {
                return Err(ExitCode::FAILURE);
            }
        }
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
        eprintln!(
            "lvscf: a command is required: check, dump, fmt, save or sync (see lvscf --help)"
        );
        return ExitCode::from(2);
    };
    match run(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

#[cfg(test)]
mod sync_tests {
    use super::*;

    #[test]
    fn sync_follows_rsh_command_without_a_shell() {
        assert_eq!(sync_programs("ssh"), Some(("scp", "ssh")));
        assert_eq!(sync_programs("/usr/bin/ssh"), Some(("scp", "ssh")));
        assert_eq!(sync_programs("rsh"), Some(("rcp", "rsh")));
        assert_eq!(sync_programs("sh -c"), None);
        assert_eq!(sync_programs(""), None);
        let (cp, sh) = sync_argv("scp", "ssh", "/etc/lvs.cf", "10.0.0.2");
        assert_eq!(
            cp,
            ["scp", "-B", "-q", "/etc/lvs.cf", "10.0.0.2:/etc/lvs.cf"]
        );
        assert_eq!(
            sh,
            [
                "ssh",
                "-o",
                "BatchMode=yes",
                "10.0.0.2",
                "cat",
                "/etc/lvs.cf"
            ]
        );
        let (cp, sh) = sync_argv("rcp", "rsh", "/etc/lvs.cf", "10.0.0.2");
        assert_eq!(cp, ["rcp", "/etc/lvs.cf", "10.0.0.2:/etc/lvs.cf"]);
        assert_eq!(sh, ["rsh", "10.0.0.2", "cat", "/etc/lvs.cf"]);
        // an IPv6 backup: in brackets for the copy, bare for the shell
        let (cp, sh) = sync_argv("scp", "ssh", "/etc/lvs.cf", "2001:db8::2");
        assert_eq!(cp[4], "[2001:db8::2]:/etc/lvs.cf");
        assert_eq!(sh[3], "2001:db8::2");
    }

    #[test]
    fn the_result_is_never_written_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        let r = dir.path().join("sync.result");
        std::os::unix::fs::symlink(&target, &r).unwrap();
        write_result(&r, "status=ok\n").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        assert_eq!(std::fs::read_to_string(&r).unwrap(), "status=ok\n");
        assert!(
            !std::fs::symlink_metadata(&r)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
}
