//! The report protocol: how a nanny started by lvsd tells lvsd about health
//! and IPVS changes, so that lvsd stays the only writer of the IPVS table.
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
//! * **Meaning.** `state` is the health verdict: sent after the first check
//!   and whenever it changes (including changes forced by SIGUSR1/SIGUSR2).
//!   `result` is the raw result of a check, sent after the first check and
//!   whenever it changes between `pass` and `fail`; it comes before the
//!   lines that check causes. It differs from the verdict while a failed
//!   server re-enters (checks pass, the verdict stays `down` until the
//!   re-entry count is reached) and in the forced states (no checks run).
//!   `failed` is sent after every check that failed (right after the
//!   `result fail` of the first one of a run), before the lines that check
//!   causes, so lvsd can count failed checks; a passing check sends
//!   nothing of the kind.
//!   `add`/`edit`/`del` are the IPVS operations of nanny.md §5–§8, in order,
//!   to be applied exactly as given. A failed operation is lvsd's to
//!   handle (the original nanny would exit 255 here, gaps.md E6).
//! * **Errors.** If the write fails (lvsd gone), nanny logs
//!   `IPVSADM command failed!` and exits 255, as after a failed ipvsadm.
//!
//! * **Resuming.** When lvsd restarts a nanny only because its arguments
//!   changed (a reload), it also sets `NANNY_REPORT_RESUME` to the state
//!   it knows for the real server, so the new nanny carries on where the old
//!   one stopped instead of starting over: `up WEIGHT` (in the table with
//!   that weight and healthy: no re-add, slow start goes on from WEIGHT),
//!   `quiesced` (in the table with weight 0 after a failure) or `down`
//!   (failed and not in the table: the full re-entry time applies). See
//!   [`Resume`]. nanny ignores it without `NANNY_REPORT_FD`.
//!
//! Readers should ignore lines whose first word is not a version they know,
//! and `nanny1` lines whose verb they do not know: verbs may be added
//! within version 1 (`result` was added after `state`, `failed` after
//! `result`; an lvsd older than either logs `ignoring report … unknown verb
//! "result"` or drops the line silently, and carries on).
//! [`parse_line`] returns [`ParseError::Verb`] for those.
//! [`parse_line`] parses one line into a [`Report`], whose changes are
//! `ipvs::Op::{AddDest, EditDest, DelDest}` ready for `IpvsTable::apply`
//! (thresholds 0, default tunnel settings, as ipvsadm sets them).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use ipvs::{Dest, DestKey, Family, Forward, Op, Protocol, ServiceKey};

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
        "up" => {
            let w = field(&mut it, "weight")?;
            Resume::Up(
                w.parse()
                    .map_err(|_| ParseError::Field(w.into(), "weight (0 or more)"))?,
            )
        }
        "quiesced" => Resume::Quiesced,
        "down" => Resume::Down,
        other => {
            return Err(ParseError::Field(
                other.into(),
                "up WEIGHT, quiesced or down",
            ));
        }
    };
    if it.next().is_some() {
        return Err(ParseError::Arity);
    }
    Ok(r)
}

/// One protocol line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// Health verdict: true = up.
    State(bool),
    /// Raw check result, on change: true = pass.
    Result(bool),
    /// A check failed (sent after every failed check).
    Failed,
    /// An IPVS destination change: always `Op::AddDest`, `Op::EditDest` or
    /// `Op::DelDest`.
    Change(Op),
}

struct Svc<'a>(&'a ServiceKey);

impl fmt::Display for Svc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self.0 {
            ServiceKey::Inet {
                protocol,
                addr,
                port,
            } => {
                let p = match protocol {
                    Protocol::Tcp => "tcp",
                    Protocol::Udp => "udp",
                    Protocol::Sctp => "sctp",
                };
                write!(f, "{p} {}", SocketAddr::new(addr, port))
            }
            ServiceKey::Fwmark {
                family: Family::V4,
                mark,
            } => write!(f, "fwmark {mark}"),
            ServiceKey::Fwmark {
                family: Family::V6,
                mark,
            } => write!(f, "fwmark6 {mark}"),
        }
    }
}

fn fwd_word(f: Forward) -> &'static str {
    match f {
        Forward::Masq => "masq",
        Forward::Route => "droute",
        Forward::Tunnel => "tunnel",
        Forward::Local => "local",
    }
}

fn dest_text(addr: IpAddr, port: u16) -> SocketAddr {
    SocketAddr::new(addr, port)
}

impl fmt::Display for Report {
    /// The line without its newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::State(up) => {
                write!(f, "{VERSION} state {}", if *up { "up" } else { "down" })
            }
            Report::Result(pass) => {
                write!(
                    f,
                    "{VERSION} result {}",
                    if *pass { "pass" } else { "fail" }
                )
            }
            Report::Failed => write!(f, "{VERSION} failed"),
            Report::Change(Op::AddDest(k, d)) | Report::Change(Op::EditDest(k, d)) => {
                let verb = if matches!(self, Report::Change(Op::AddDest(..))) {
                    "add"
                } else {
                    "edit"
                };
                write!(
                    f,
                    "{VERSION} {verb} {} {} {} {}",
                    Svc(k),
                    dest_text(d.addr, d.port),
                    fwd_word(d.forward),
                    d.weight
                )
            }
            Report::Change(Op::DelDest(k, d)) => {
                write!(f, "{VERSION} del {} {}", Svc(k), dest_text(d.addr, d.port))
            }
            Report::Change(other) => {
                write!(f, "{VERSION} unsupported {}", other.operation().name())
            }
        }
    }
}

/// Why a line could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not a {VERSION} line")]
    Version,
    /// A verb this version does not know (to be ignored: verbs may be
    /// added within a version).
    #[error("unknown verb {0:?}")]
    Verb(String),
    #[error("{0:?}: expected {1}")]
    Field(String, &'static str),
    #[error("too many fields")]
    Arity,
}

type Words<'a> = std::str::Split<'a, char>;

fn field<'a>(it: &mut Words<'a>, what: &'static str) -> Result<&'a str, ParseError> {
    it.next().ok_or(ParseError::Field(String::new(), what))
}

fn sockaddr(s: &str, what: &'static str) -> Result<SocketAddr, ParseError> {
    s.parse().map_err(|_| ParseError::Field(s.into(), what))
}

fn service(it: &mut Words<'_>) -> Result<ServiceKey, ParseError> {
    let kind = field(it, "tcp, udp, sctp, fwmark or fwmark6")?;
    let val = field(it, "service")?;
    let mark = || {
        val.parse::<u32>()
            .map_err(|_| ParseError::Field(val.into(), "firewall mark"))
    };
    let inet = |protocol| {
        sockaddr(val, "VIP:PORT").map(|a| ServiceKey::Inet {
            protocol,
            addr: a.ip(),
            port: a.port(),
        })
    };
    match kind {
        "tcp" => inet(Protocol::Tcp),
        "udp" => inet(Protocol::Udp),
        "sctp" => inet(Protocol::Sctp),
        "fwmark" => mark().map(ServiceKey::fwmark),
        "fwmark6" => mark().map(ServiceKey::fwmark6),
        other => Err(ParseError::Field(
            other.into(),
            "tcp, udp, sctp, fwmark or fwmark6",
        )),
    }
}

fn forward(it: &mut Words<'_>) -> Result<Forward, ParseError> {
    match field(it, "masq, droute, tunnel or local")? {
        "masq" => Ok(Forward::Masq),
        "droute" => Ok(Forward::Route),
        "tunnel" => Ok(Forward::Tunnel),
        "local" => Ok(Forward::Local),
        other => Err(ParseError::Field(
            other.into(),
            "masq, droute, tunnel or local",
        )),
    }
}

/// Parses one line (with or without its trailing newline).
pub fn parse_line(line: &str) -> Result<Report, ParseError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let mut it = line.split(' ');
    if it.next() != Some(VERSION) {
        return Err(ParseError::Version);
    }
    let verb = it.next().unwrap_or_default();
    let r = match verb {
        "state" => match it.next() {
            Some("up") => Report::State(true),
            Some("down") => Report::State(false),
            other => {
                return Err(ParseError::Field(
                    other.unwrap_or_default().into(),
                    "up or down",
                ));
            }
        },
        "result" => match it.next() {
            Some("pass") => Report::Result(true),
            Some("fail") => Report::Result(false),
            other => {
                return Err(ParseError::Field(
                    other.unwrap_or_default().into(),
                    "pass or fail",
                ));
            }
        },
        "failed" => Report::Failed,
        "add" | "edit" => {
            let key = service(&mut it)?;
            let a = sockaddr(field(&mut it, "RIP:PORT")?, "RIP:PORT")?;
            let fwd = forward(&mut it)?;
            let w = field(&mut it, "weight")?;
            let w: u32 = w
                .parse()
                .map_err(|_| ParseError::Field(w.into(), "weight (0 or more)"))?;
            let d = Dest::new(a.ip(), a.port(), fwd).weight(w);
            Report::Change(if verb == "add" {
                Op::AddDest(key, d)
            } else {
                Op::EditDest(key, d)
            })
        }
        "del" => {
            let key = service(&mut it)?;
            let a = sockaddr(field(&mut it, "RIP:PORT")?, "RIP:PORT")?;
            Report::Change(Op::DelDest(
                key,
                DestKey {
                    addr: a.ip(),
                    port: a.port(),
                },
            ))
        }
        other => return Err(ParseError::Verb(other.into())),
    };
    if it.next().is_some() {
        return Err(ParseError::Arity);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn round_trip() {
        let d = |f, w| Dest::new(ip("192.168.50.11"), 8080, f).weight(w);
        let cases = [
            (Report::State(true), "nanny1 state up"),
            (Report::State(false), "nanny1 state down"),
            (Report::Result(true), "nanny1 result pass"),
            (Report::Result(false), "nanny1 result fail"),
            (Report::Failed, "nanny1 failed"),
            (
                Report::Change(Op::AddDest(
                    ServiceKey::tcp(ip("203.0.113.100"), 80),
                    d(Forward::Masq, 3),
                )),
                "nanny1 add tcp 203.0.113.100:80 192.168.50.11:8080 masq 3",
            ),
            (
                Report::Change(Op::EditDest(ServiceKey::fwmark(80), d(Forward::Route, 0))),
                "nanny1 edit fwmark 80 192.168.50.11:8080 droute 0",
            ),
            (
                Report::Change(Op::EditDest(
                    ServiceKey::udp(ip("10.0.0.1"), 53),
                    d(Forward::Tunnel, 7),
                )),
                "nanny1 edit udp 10.0.0.1:53 192.168.50.11:8080 tunnel 7",
            ),
            (
                Report::Change(Op::DelDest(
                    ServiceKey::udp(ip("10.0.0.1"), 53),
                    d(Forward::Masq, 1).key(),
                )),
                "nanny1 del udp 10.0.0.1:53 192.168.50.11:8080",
            ),
        ];
        for (r, line) in cases {
            assert_eq!(r.to_string(), line);
            assert_eq!(parse_line(line), Ok(r.clone()));
            assert_eq!(parse_line(&format!("{line}\n")), Ok(r));
        }
    }

    #[test]
    fn resume_values() {
        for (r, text) in [
            (Resume::Up(7), "up 7"),
            (Resume::Quiesced, "quiesced"),
            (Resume::Down, "down"),
        ] {
            assert_eq!(r.to_string(), text);
            assert_eq!(parse_resume(text), Ok(r));
        }
        for bad in ["", "up", "up -1", "up 1 2", "sideways", "down now"] {
            assert!(parse_resume(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_lines() {
        assert_eq!(parse_line("nanny2 state up"), Err(ParseError::Version));
        assert_eq!(parse_line("nanny: [ active ] x"), Err(ParseError::Version));
        assert_eq!(
            parse_line("nanny1 frob"),
            Err(ParseError::Verb("frob".into()))
        );
        assert_eq!(parse_line("nanny1 state up now"), Err(ParseError::Arity));
        assert_eq!(parse_line("nanny1 result pass 1"), Err(ParseError::Arity));
        assert_eq!(parse_line("nanny1 failed 1"), Err(ParseError::Arity));
        for bad in [
            "nanny1 state sideways",
            "nanny1 result up",
            "nanny1 result",
            "nanny1 add tcp 1.2.3.4:80 5.6.7.8:80 masq",
            "nanny1 add tcp 1.2.3.4 5.6.7.8:80 masq 1",
            "nanny1 add quic 1.2.3.4:80 5.6.7.8:80 masq 1",
            "nanny1 add tcp 1.2.3.4:80 5.6.7.8:80 nat 1",
            "nanny1 add tcp 1.2.3.4:80 5.6.7.8:80 masq -1",
            "nanny1 del fwmark x 5.6.7.8:80",
            "nanny1 add tcp 1.2.3.4:80 5.6.7.8:99999 masq 1",
            "nanny1  state up",
        ] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
    }
}
