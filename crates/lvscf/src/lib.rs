//! Piranha's `lvs.cf`: lexer, parser, typed model, writer and the checks the
//! daemons run on it. Shared by pulse, lvsd, nanny and fos.
//!
//! The syntax and error behaviour are the original `lvsconfig.c`'s
//! (`docs/spec/lvs-cf.md`), with the keep/fix decisions of docs/spec/gaps.md
//! section B:
//!
//! * CRLF (and CR-only) line ends are accepted (B1).
//! * Trailing blanks are dropped before tokenising; quoting errors are
//!   `quotation mismatch` (code 3) everywhere, also inside blocks (B2, B14).
//! * Quotes put back on `send`/`expect`/`send_program`/`start_cmd`/`stop_cmd`
//!   are stripped by [`strip_quotes`]; [`QuoteMode`] chooses whether matching
//!   single quotes go too (B3, the default) or stay (the original).
//! * [`translate_escapes`] leaves unknown escapes unchanged and reports them
//!   (B4).
//! * Silently accepted oddities become [`Warning`]s (B5, B7, B10, B13).
//! * The server port follows the block's `port` as of the `server` line (B6);
//!   §9 private-address defaulting is kept (B7).
//! * There is no token limit (B11); integers outside a key's range are
//!   `integer expected` (B12).
//!
//! Entry points: [`parse_file`], [`parse_str`], [`parse_bytes`] (and the
//! `_with` forms taking a [`Resolver`]); [`write()`] for the reverse;
//! [`validate_for_pulse`], [`validate_for_fos`] and [`validate_for_lvsd`]
//! for the post-parse checks of lvs-cf.md §10; [`startup`] for each
//! daemon's start-up [`Verdict`] (what pulse, lvsd and fos refuse and log:
//! this crate is the one owner of those checks and messages).
//!
//! For tools that change the file (the web tool): [`apply`] edits the text
//! keeping its layout ([`Op`], [`Section`]), [`bump_serial`] increments
//! `serial_no`, [`check`] runs the parser and the daemons' start-up checks
//! ([`daemon_findings`], which `lvscf check` prints) and returns
//! [`Problem`]s with line, block and key, [`store::save`] writes the file
//! safely and keeps its history, [`unified_diff`] shows a change.
//!
//! ```
//! use lvscf::QuoteMode;
//!
//! let text = "service = lvs\nvirtual web {\n  active = 1\n  port = 8080\n  \
//!             send = \"GET / HTTP/1.0\\r\\n\\r\\n\"\n  server a {\n    active = 1\n  }\n}\n";
//! let parsed = lvscf::parse_str(text, "lvs.cf").unwrap();
//! let web = &parsed.config.virtuals[0];
//! assert_eq!(web.servers[0].port, 8080); // the block's port as of the server line
//! // As lvsd passes it to nanny -s, then as nanny sends it.
//! let send = web.send_arg(QuoteMode::default()).unwrap();
//! assert_eq!(send, r"GET / HTTP/1.0\r\n\r\n");
//! assert_eq!(lvscf::translate_escapes(send.as_bytes()).bytes, b"GET / HTTP/1.0\r\n\r\n");
//! // Errors carry the original code, message and line.
//! let e = lvscf::parse_str("keepalive = six\n", "lvs.cf").unwrap_err();
//! assert_eq!((e.code_value(), e.message(), e.line()), (10, "integer expected", 1));
//! ```

mod check;
mod diff;
mod edit;
mod error;
mod fingerprint;
mod format;
mod json;
mod lex;
mod model;
mod parse;
pub mod startup;
pub mod store;
mod strings;
mod validate;
mod value;
mod write;

use std::path::Path;

pub use check::{
    Checked, Problem, check, check_with, command_changes, commands_unchanged, daemon_findings,
};
pub use diff::unified_diff;
pub use edit::{
    Change, EditError, EditErrorKind, Edited, Op, Section, apply, apply_all, bump_serial,
};
pub use error::{ConfigError, ErrorCode, LoadError, Warning, WarningKind};
pub use fingerprint::{Fingerprint, Loaded, sha256_hex};
pub use format::format;
pub use json::to_json;
pub use model::{
    AddrDev, BlockKind, Config, ConflictAction, DEFAULT_ANNOUNCE_DEVICE, DEFAULT_ANNOUNCE_HOLD,
    DEFAULT_CLIENT_MONITOR, DEFAULT_CONFIG_FILE, DEFAULT_IPVSADM, DEFAULT_PREFIX6, Global, Host,
    Line, Mask, Network, Protocol, RealServer, Scheduler, SchedulerFlags, Seconds, Service,
    ServiceType,
};
pub use parse::{Parsed, parse_bytes_with};
pub use startup::Verdict;
pub use strings::{
    EscapeWarning, NannyFlags, QuoteMode, Translated, strip_quotes, translate_escapes,
};
pub use validate::{
    Finding, FindingKind, Severity, fos_ipv6_refusal, shared_scsi_refusal, validate_for_fos,
    validate_for_lvsd, validate_for_pulse,
};
pub use value::{
    Resolver, StaticResolver, SystemResolver, inet_aton, looks_like_hostname, parse_c_long,
    parse_services,
};
pub use write::{WriteError, write};

/// Parses file contents with the system resolver (host names through
/// `getaddrinfo`, service names from `/etc/services`).
pub fn parse_bytes(bytes: &[u8], file: &str) -> Result<Parsed, ConfigError> {
    parse_bytes_with(bytes, file, &SystemResolver::default())
}

/// Parses text with the system resolver; `file` names it in messages.
pub fn parse_str(text: &str, file: &str) -> Result<Parsed, ConfigError> {
    parse_bytes(text.as_bytes(), file)
}

/// Reads and parses a file with the system resolver.
pub fn parse_file(path: impl AsRef<Path>) -> Result<Parsed, LoadError> {
    parse_file_with(path, &SystemResolver::default())
}

/// Reads a file once and parses it with the system resolver, with the
/// [`Fingerprint`] of the very bytes parsed (what a daemon reports as the
/// configuration it runs, even if the file changes while being read). The
/// errors of [`parse_file`].
pub fn load_file(path: impl AsRef<Path>) -> Result<Loaded, LoadError> {
    let (name, bytes) = read_file(path.as_ref())?;
    let parsed = parse_bytes(&bytes, &name)?;
    let fingerprint = Fingerprint::of_parsed(&bytes, &parsed.config);
    Ok(Loaded {
        parsed,
        fingerprint,
    })
}

/// Reads and parses a file. Like the original: a zero-length file is
/// `Empty configuration` (code `LVS_ERROR_STAT`, line 0) and a read failure
/// `I/O error while reading configuration` (`LVS_ERROR_READ`, line 0).
pub fn parse_file_with(
    path: impl AsRef<Path>,
    resolver: &dyn Resolver,
) -> Result<Parsed, LoadError> {
    let (name, bytes) = read_file(path.as_ref())?;
    Ok(parse_bytes_with(&bytes, &name, resolver)?)
}

/// The whole file (its name for messages, its bytes), or why not: a file
/// that does not open is [`LoadError::Open`], one that cannot be read (or
/// is shorter than its size said) `I/O error while reading configuration`
/// on line 0.
fn read_file(path: &Path) -> Result<(String, Vec<u8>), LoadError> {
    use std::io::Read as _;
    let name = path.display().to_string();
    let mut f = std::fs::File::open(path).map_err(|source| LoadError::Open {
        file: name.clone(),
        source,
    })?;
    let read_error = |e: std::io::Error| ConfigError {
        file: name.clone(),
        line: 0,
        code: ErrorCode::Read,
        key: None,
        detail: format!("expected a readable file, found a read error: {e}"),
    };
    let size = f.metadata().map_err(read_error)?.len();
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    if size > 0 {
        f.read_to_end(&mut bytes).map_err(read_error)?;
        if (bytes.len() as u64) < size {
            return Err(read_error(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("read {} of {size} bytes", bytes.len()),
            ))
            .into());
        }
    }
    Ok((name, bytes))
}
