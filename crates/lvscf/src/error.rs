//! Parse errors (with the original's codes and texts, lvs-cf.md §11) and
//! warnings (what the original silently accepts, gaps.md B5/B7/B10/B13).

use std::fmt;

/// The original parser's error codes (`lvsconfig.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `LVS_ERROR_STAT`: zero-length file.
    Stat,
    /// `LVS_ERROR_READ`: the file could not be read.
    Read,
    /// `LVS_ERROR_BADQUOTING`.
    BadQuoting,
    /// `LVS_ERROR_EOF` (never produced).
    Eof,
    /// `LVS_ERROR_EXTRAARGS`.
    ExtraArgs,
    /// `LVS_ERROR_EQUALEXPECTED`.
    EqualExpected,
    /// `LVS_ERROR_MISSINGARGS`.
    MissingArgs,
    /// `LVS_ERROR_BADHOSTNAME`.
    BadHostname,
    /// `LVS_ERROR_BADARGUMENT`.
    BadArgument,
    /// `LVS_ERROR_INTEXPECTED`.
    IntExpected,
    /// `LVS_ERROR_BOOLEXPECTED`.
    BoolExpected,
    /// `LVS_ERROR_BADCOMMAND`.
    BadCommand,
    /// `LVS_ERROR_LISTEXPECTED`.
    ListExpected,
    /// `LVS_ERROR_TOOMANYARGS` (never produced).
    TooManyArgs,
    /// `LVS_ERROR_ONLYONESERVICE` (never produced).
    OnlyOneService,
    /// `LVS_ERROR_BADNETMASK`.
    BadNetmask,
}

impl ErrorCode {
    /// Every code, in numeric order.
    pub const ALL: [ErrorCode; 16] = [
        ErrorCode::Stat,
        ErrorCode::Read,
        ErrorCode::BadQuoting,
        ErrorCode::Eof,
        ErrorCode::ExtraArgs,
        ErrorCode::EqualExpected,
        ErrorCode::MissingArgs,
        ErrorCode::BadHostname,
        ErrorCode::BadArgument,
        ErrorCode::IntExpected,
        ErrorCode::BoolExpected,
        ErrorCode::BadCommand,
        ErrorCode::ListExpected,
        ErrorCode::TooManyArgs,
        ErrorCode::OnlyOneService,
        ErrorCode::BadNetmask,
    ];

    /// The numeric value (`0x40000000` marks the errno-style codes).
    pub fn value(self) -> u32 {
        const ERRNO: u32 = 0x4000_0000;
        match self {
            ErrorCode::Stat => 1 | ERRNO,
            ErrorCode::Read => 2 | ERRNO,
            ErrorCode::BadQuoting => 3 | ERRNO,
            ErrorCode::Eof => 4,
            ErrorCode::ExtraArgs => 5,
            ErrorCode::EqualExpected => 6,
            ErrorCode::MissingArgs => 7,
            ErrorCode::BadHostname => 8,
            ErrorCode::BadArgument => 9,
            ErrorCode::IntExpected => 10,
            ErrorCode::BoolExpected => 11,
            ErrorCode::BadCommand => 12,
            ErrorCode::ListExpected => 13,
            ErrorCode::TooManyArgs => 14,
            ErrorCode::OnlyOneService => 15,
            ErrorCode::BadNetmask => 16,
        }
    }

    /// The code's symbol in `lvsconfig.h`, e.g. `LVS_ERROR_BADQUOTING`.
    pub fn symbol(self) -> &'static str {
        match self {
            ErrorCode::Stat => "LVS_ERROR_STAT",
            ErrorCode::Read => "LVS_ERROR_READ",
            ErrorCode::BadQuoting => "LVS_ERROR_BADQUOTING",
            ErrorCode::Eof => "LVS_ERROR_EOF",
            ErrorCode::ExtraArgs => "LVS_ERROR_EXTRAARGS",
            ErrorCode::EqualExpected => "LVS_ERROR_EQUALEXPECTED",
            ErrorCode::MissingArgs => "LVS_ERROR_MISSINGARGS",
            ErrorCode::BadHostname => "LVS_ERROR_BADHOSTNAME",
            ErrorCode::BadArgument => "LVS_ERROR_BADARGUMENT",
            ErrorCode::IntExpected => "LVS_ERROR_INTEXPECTED",
            ErrorCode::BoolExpected => "LVS_ERROR_BOOLEXPECTED",
            ErrorCode::BadCommand => "LVS_ERROR_BADCOMMAND",
            ErrorCode::ListExpected => "LVS_ERROR_LISTEXPECTED",
            ErrorCode::TooManyArgs => "LVS_ERROR_TOOMANYARGS",
            ErrorCode::OnlyOneService => "LVS_ERROR_ONLYONESERVICE",
            ErrorCode::BadNetmask => "LVS_ERROR_BADNETMASK",
        }
    }

    /// The original's text for the code (`lvsStrerror`).
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::Stat => "Empty configuration",
            ErrorCode::Read => "I/O error while reading configuration",
            ErrorCode::BadQuoting => "quotation mismatch",
            ErrorCode::Eof => "unexpected end of file",
            ErrorCode::ExtraArgs => "unexpected arguments",
            ErrorCode::EqualExpected => "equal (=) expected after command",
            ErrorCode::MissingArgs => "missing arguments",
            ErrorCode::BadHostname => "invalid host name or ip address",
            ErrorCode::BadArgument => "invalid argument",
            ErrorCode::IntExpected => "integer expected",
            ErrorCode::BoolExpected => "boolean expected",
            ErrorCode::BadCommand => "unknown command",
            ErrorCode::ListExpected => "list expected",
            ErrorCode::TooManyArgs => "unknown error",
            ErrorCode::OnlyOneService => "Cannot use both virtual AND failover services",
            ErrorCode::BadNetmask => "Bad subnet mask specified",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// A parse failure: the first error in the file (the whole file is rejected).
///
/// `Display` gives `FILE:LINE: KEY: expected …, found … (ORIGINAL MESSAGE)`;
/// the daemons reproduce the original output from [`ConfigError::line`] and
/// [`ConfigError::message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// File name as given by the caller.
    pub file: String,
    /// 1-based line number; 0 for an empty or unreadable file.
    pub line: usize,
    /// The original error code.
    pub code: ErrorCode,
    /// The key (or keyword) of the bad line, when known.
    pub key: Option<String>,
    /// What was expected and what was found.
    pub detail: String,
}

impl ConfigError {
    /// The original error code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }
    /// The original numeric code (`error CODE on line N` in the test tool).
    pub fn code_value(&self) -> u32 {
        self.code.value()
    }
    /// The original message text, e.g. `quotation mismatch`.
    pub fn message(&self) -> &'static str {
        self.code.message()
    }
    /// The line number the original reports.
    pub fn line(&self) -> usize {
        self.line
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(k) = &self.key {
            write!(f, "{k}: ")?;
        }
        write!(f, "{} ({})", self.detail, self.code.message())
    }
}

impl std::error::Error for ConfigError {}

/// Failure to load a file: it could not be opened, or it did not parse.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// `open` failed (the daemons print `PROG: failed to open FILE`).
    #[error("{file}: cannot open: {source}")]
    Open {
        /// File name as given.
        file: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file was opened but is empty, unreadable or invalid.
    #[error(transparent)]
    Parse(#[from] ConfigError),
}

/// What a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WarningKind {
    /// A block was still open at end of file (B5); it is closed there.
    MissingCloseBrace,
    /// A `virtual`/`failover`/`server` opener on the last line: an empty
    /// block closed at end of file (B13).
    EmptyBlockAtEof,
    /// Tokens after a closing `}` (or after `]` in `dirs`) were ignored (B5).
    IgnoredTrailingText,
    /// An unparsable `pmask` value was ignored (B5).
    IgnoredPmask,
    /// A zero or negative number where it breaks or surprises a daemon
    /// (B5: `timeout = 0`, `keepalive = 0`, negative weight, …).
    SuspiciousNumber,
    /// A host name (not an address literal) was resolved at parse time (B10).
    HostName,
    /// `backup_private` was given but is overwritten by `backup` because
    /// `primary_private` is absent (§9, B7).
    OverwrittenBackupPrivate,
    /// A block or server name is not UTF-8; invalid bytes were replaced.
    NonUtf8Name,
    /// An unknown backslash sequence (or a trailing backslash) in `send` or
    /// `expect`, passed on unchanged (B4).
    UnknownEscape,
    /// The first IPv6 address, `/N` mask or IPv6-only key of the file (our
    /// extension), or the first scale-out key (`scale_out`,
    /// `scale_out_members`, `announce_device`, `announce_hold`,
    /// `scheduler_flags`, `scheduler = mh`): Piranha's daemons cannot read
    /// the file. Once a file.
    Ipv6,
    /// A key of the director pair (`backup`, `heartbeat`, `keepalive`, …)
    /// or a VIP's device, ignored with `scale_out = 1`.
    ScaleOutIgnored,
}

/// A warning: the input is accepted (as the original accepts it) but is
/// probably not what the author meant. Returned to the caller, never printed
/// by the library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// File name as given by the caller.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// What it is about.
    pub kind: WarningKind,
    /// The key (or keyword), when there is one.
    pub key: Option<String>,
    /// A sentence saying what was found and what happens.
    pub text: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(k) = &self.key {
            write!(f, "{k}: ")?;
        }
        write!(f, "warning: {}", self.text)
    }
}
