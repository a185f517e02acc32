//! The report protocol: how a nanny started by lvsd tells lvsd about a real
//! server's health and weight, so that lvsd stays the only writer of the
//! IPVS table. Typed messages ([`Report`]), their wire form ([`Report`]'s
//! `Display`) and the parser ([`parse`]); no dependencies, so that both
//! ends (nanny writes, lvsd reads) share exactly this and nothing more.
//!
//! # Protocol (version 1)
//!
//! * **Descriptor.** lvsd opens a pipe, leaves its write end open across
//!   `exec` and sets `NANNY_REPORT_FD=N` (decimal) in the nanny's
//!   environment. The argv stays exactly what lvsd.md §4 says. nanny marks
//!   the descriptor close-on-exec and removes the variable from the
//!   environment of the programs it runs. Without the variable, nanny
//!   changes IPVS itself (or only logs, with `--test-start`).
//! * **Lines.** ASCII, fields separated by one space, ending in `\n`, each
//!   written with a single `write(2)` (well below `PIPE_BUF`, so lines from
//!   many nannies on one pipe never interleave). Every line starts with the
//!   version word `nanny1`:
//!
//!   ```text
//!   nanny1 state up|down
//!   nanny1 result pass|fail
//!   nanny1 failed
//!   nanny1 add  SERVICE DEST FWD WEIGHT
//!   nanny1 edit SERVICE DEST FWD WEIGHT
//!   nanny1 del  SERVICE DEST
//!   ```
//!
//!   `SERVICE` is `tcp VIP:PORT`, `udp VIP:PORT` or `fwmark MARK`; `DEST` is
//!   `RIP:PORT` (for direct routing and tunnelling without a firewall mark,
//!   PORT is the virtual port: gaps.md E7); `FWD` is `masq`, `droute` or
//!   `tunnel`; `WEIGHT` a decimal integer (0 = quiesced). IPv6 addresses
//!   (not produced by nanny today) are written `[ADDR]:PORT`; `sctp` and
//!   `fwmark6` services are understood by the parser for completeness.
//! * **Meaning.** `state` is the health verdict ([`Report::State`]): sent
//!   after the first check and whenever it changes (including changes
//!   forced by SIGUSR1/SIGUSR2).
//!   `result` is the raw result of a check ([`Report::Result`]), sent after
//!   the first check and whenever it changes between `pass` and `fail`; it
//!   comes before the lines that check causes. It differs from the verdict
//!   while a failed server re-enters (checks pass, the verdict stays `down`
//!   until the re-entry count is reached) and in the forced states (no
//!   checks run).
//!   `failed` ([`Report::Failed`]) is sent after every check that failed
//!   (right after the `result fail` of the first one of a run), before the
//!   lines that check causes, so lvsd can count failed checks; a passing
//!   check sends nothing of the kind.
//!   `add`/`edit` ([`Report::Weight`]) give the weight nanny wants for its
//!   real server in the table (nanny.md §5–§8: the configured weight, the
//!   slow-start ramp, the weight from the load probe; 0 = quiesced), and
//!   `del` ([`Report::Removed`]) says it wants it out of the table. lvsd
//!   takes only the weight (or the absence) from them: it checks that the
//!   service and destination are the nanny's own and composes the IPVS
//!   operations from its own configuration (service key, destination,
//!   forwarding method, quiesce); it never applies a nanny's line as an
//!   operation. The service, destination and method stay on the wire for
//!   the mixed versions below and for the check.
//! * **Errors.** If the write fails (lvsd gone), nanny logs
//!   `IPVSADM command failed!` and exits 255, as after a failed ipvsadm.
//! * **Resuming.** When lvsd restarts a nanny only because its arguments
//!   changed (a reload), it also sets `NANNY_REPORT_RESUME` to the state
//!   it knows for the real server, so the new nanny carries on where the old
//!   one stopped instead of starting over: `up WEIGHT` (in the table with
//!   that weight and healthy: no re-add, slow start goes on from WEIGHT),
//!   `quiesced` (in the table with weight 0 after a failure) or `down`
//!   (failed and not in the table: the full re-entry time applies). See
//!   [`Resume`]. nanny ignores it without `NANNY_REPORT_FD`.
//!
//! Readers ignore lines whose first word is not a version they know, and
//! `nanny1` lines whose verb they do not know: verbs may be added within
//! version 1 (`result` was added after `state`, `failed` after `result`;
//! an lvsd older than either logs `ignoring report … unknown verb
//! "result"` or drops the line silently, and carries on). [`parse`]
//! returns [`ParseError::Verb`] for those and [`ParseError::Version`] for a
//! line that is not a report at all (nanny's ordinary output).
//!
//! # Mixed versions (piranha-rs decision)
//!
//! lvsd and nanny ship in one package and lvsd restarts its nannies on
//! reload, so the two differ only while a package upgrade (or downgrade)
//! is under way: the running lvsd is the old binary and starts nannies
//! from the new one on a reload or a dead-nanny restart, or the reverse.
//! That case exists, so the wire form stays version 1 as above: an lvsd
//! that applied `add`/`edit`/`del` as given still gets them from a newer
//! nanny, and this lvsd reads a nanny of any version-1 release, taking the
//! weight from `add`/`edit` and the removal from `del`.

use std::fmt;
use std::net::SocketAddr;

/// Environment variable naming the report descriptor.
pub const ENV: &str = "NANNY_REPORT_FD";

/// First word of every line of this protocol version.
pub const VERSION: &str = "nanny1";

/// Environment variable with the state a restarted nanny resumes from.
pub const RESUME_ENV: &str = "NANNY_REPORT_RESUME";

/// The state lvsd hands to a restarted nanny in `NANNY_REPORT_RESUME`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Healthy and in the table with this weight.
    Up(u32),
    /// Failed, still in the table with weight 0 (quiesce).
    Quiesced,
    /// Failed and not in the table.
    Down,
}

impl fmt::Display for Resume {
    /// The variable's value: `up WEIGHT`, `quiesced` or `down`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resume::Up(w) => write!(f, "up {w}"),
            Resume::Quiesced => f.write_str("quiesced"),
            Resume::Down => f.write_str("down"),
        }
    }
}

/// Parses a `NANNY_REPORT_RESUME` value.
pub fn parse_resume(value: &str) -> Result<Resume, ParseError> {
    let mut it = value.split(' ');
    let r = match it.next().unwrap_or_default() {
        "up" => Resume::Up(number(field(&mut it, "weight")?, "weight (0 or more)")?),
        "quiesced" => Resume::Quiesced,
        "down" => Resume::Down,
        other => {
            return Err(ParseError::Field(
                other.into(),
                "up WEIGHT, quiesced or down",
            ));
        }
    };
    end(it, r)
}

/// The virtual service a line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// `tcp VIP:PORT`.
    Tcp(SocketAddr),
    /// `udp VIP:PORT`.
    Udp(SocketAddr),
    /// `sctp VIP:PORT`.
    Sctp(SocketAddr),
    /// `fwmark MARK` (IPv4).
    Fwmark(u32),
    /// `fwmark6 MARK` (IPv6).
    Fwmark6(u32),
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Service::Tcp(a) => write!(f, "tcp {a}"),
            Service::Udp(a) => write!(f, "udp {a}"),
            Service::Sctp(a) => write!(f, "sctp {a}"),
            Service::Fwmark(m) => write!(f, "fwmark {m}"),
            Service::Fwmark6(m) => write!(f, "fwmark6 {m}"),
        }
    }
}

/// The forwarding method of an `add`/`edit` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Forward {
    /// `masq`: NAT.
    Masq,
    /// `droute`: direct routing.
    Route,
    /// `tunnel`: IP-in-IP.
    Tunnel,
    /// `local`.
    Local,
}

impl Forward {
    const ALL: [(Forward, &'static str); 4] = [
        (Forward::Masq, "masq"),
        (Forward::Route, "droute"),
        (Forward::Tunnel, "tunnel"),
        (Forward::Local, "local"),
    ];

    /// The wire word.
    pub fn word(self) -> &'static str {
        Forward::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("", |(_, w)| w)
    }
}

/// The real server a weight line is about: its service and destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target {
    /// The virtual service.
    pub service: Service,
    /// `RIP:PORT` as it is in the table.
    pub dest: SocketAddr,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.service, self.dest)
    }
}

/// One protocol message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// Health verdict (`state up|down`).
    State {
        /// true = up.
        up: bool,
    },
    /// Raw check result, on change (`result pass|fail`).
    Result {
        /// true = pass.
        pass: bool,
    },
    /// A check failed (`failed`, sent after every failed check).
    Failed,
    /// The real server belongs in the table with this weight (`add` when
    /// it was out, else `edit`; 0 = quiesced): the configured weight, the
    /// slow-start ramp or the weight from the load probe.
    Weight {
        /// Whose weight.
        target: Target,
        /// The method nanny was started with (lvsd uses its own).
        forward: Forward,
        /// The weight.
        weight: u32,
        /// `add` (true) or `edit`.
        added: bool,
    },
    /// The real server belongs out of the table (`del`).
    Removed {
        /// Which one.
        target: Target,
    },
}

impl Report {
    /// For a weight line (`add`/`edit`/`del`): its real server and the
    /// weight it asks for (`None` = out of the table).
    pub fn weight(&self) -> Option<(Target, Option<u32>)> {
        match *self {
            Report::Weight { target, weight, .. } => Some((target, Some(weight))),
            Report::Removed { target } => Some((target, None)),
            _ => None,
        }
    }
}

impl fmt::Display for Report {
    /// The line without its newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes_no = |b: bool, yes, no| if b { yes } else { no };
        match self {
            Report::State { up } => write!(f, "{VERSION} state {}", yes_no(*up, "up", "down")),
            Report::Result { pass } => {
                write!(f, "{VERSION} result {}", yes_no(*pass, "pass", "fail"))
            }
            Report::Failed => write!(f, "{VERSION} failed"),
            Report::Weight {
                target,
                forward,
                weight,
                added,
            } => write!(
                f,
                "{VERSION} {} {target} {} {weight}",
                yes_no(*added, "add", "edit"),
                forward.word()
            ),
            Report::Removed { target } => write!(f, "{VERSION} del {target}"),
        }
    }
}

/// Why a line could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Not a line of this protocol version (nanny's ordinary output).
    Version,
    /// A verb this version does not know (to be ignored: verbs may be
    /// added within a version).
    Verb(String),
    /// A field that is missing or wrong: what was there, what was expected.
    Field(String, &'static str),
    /// More fields than the verb takes.
    Arity,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Version => write!(f, "not a {VERSION} line"),
            ParseError::Verb(v) => write!(f, "unknown verb {v:?}"),
            ParseError::Field(got, want) => write!(f, "{got:?}: expected {want}"),
            ParseError::Arity => f.write_str("too many fields"),
        }
    }
}

impl std::error::Error for ParseError {}

type Words<'a> = std::str::Split<'a, char>;

fn field<'a>(it: &mut Words<'a>, what: &'static str) -> Result<&'a str, ParseError> {
    it.next().ok_or(ParseError::Field(String::new(), what))
}

fn number<T: std::str::FromStr>(s: &str, what: &'static str) -> Result<T, ParseError> {
    s.parse().map_err(|_| ParseError::Field(s.into(), what))
}

fn end<T>(mut it: Words<'_>, r: T) -> Result<T, ParseError> {
    match it.next() {
        Some(_) => Err(ParseError::Arity),
        None => Ok(r),
    }
}

const SERVICES: &str = "tcp, udp, sctp, fwmark or fwmark6";

fn target(it: &mut Words<'_>) -> Result<Target, ParseError> {
    let kind = field(it, SERVICES)?;
    let val = field(it, "service")?;
    let service = match kind {
        "tcp" => Service::Tcp(number(val, "VIP:PORT")?),
        "udp" => Service::Udp(number(val, "VIP:PORT")?),
        "sctp" => Service::Sctp(number(val, "VIP:PORT")?),
        "fwmark" => Service::Fwmark(number(val, "firewall mark")?),
        "fwmark6" => Service::Fwmark6(number(val, "firewall mark")?),
        other => return Err(ParseError::Field(other.into(), SERVICES)),
    };
    let dest = number(field(it, "RIP:PORT")?, "RIP:PORT")?;
    Ok(Target { service, dest })
}

const FORWARDS: &str = "masq, droute, tunnel or local";

fn forward(it: &mut Words<'_>) -> Result<Forward, ParseError> {
    let w = field(it, FORWARDS)?;
    Forward::ALL
        .iter()
        .find(|(_, word)| *word == w)
        .map(|(f, _)| *f)
        .ok_or_else(|| ParseError::Field(w.into(), FORWARDS))
}

/// Parses one line (with or without its trailing newline).
/// [`ParseError::Version`]: not a report line; [`ParseError::Verb`]: a
/// verb added later, to be ignored; anything else: a broken report line.
pub fn parse(line: &str) -> Result<Report, ParseError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let mut it = line.split(' ');
    if it.next() != Some(VERSION) {
        return Err(ParseError::Version);
    }
    let verb = it.next().unwrap_or_default();
    let mut choice = |yes: &str, no: &str, what| match it.next() {
        Some(w) if w == yes => Ok(true),
        Some(w) if w == no => Ok(false),
        other => Err(ParseError::Field(other.unwrap_or_default().into(), what)),
    };
    let r = match verb {
        "state" => Report::State {
            up: choice("up", "down", "up or down")?,
        },
        "result" => Report::Result {
            pass: choice("pass", "fail", "pass or fail")?,
        },
        "failed" => Report::Failed,
        "add" | "edit" => {
            let target = target(&mut it)?;
            let forward = forward(&mut it)?;
            let weight = number(field(&mut it, "weight")?, "weight (0 or more)")?;
            Report::Weight {
                target,
                forward,
                weight,
                added: verb == "add",
            }
        }
        "del" => Report::Removed {
            target: target(&mut it)?,
        },
        other => return Err(ParseError::Verb(other.into())),
    };
    end(it, r)
}

#[cfg(test)]
mod tests;
