//! The parser: lines → [`Config`] (lvs-cf.md §4–§9), first error aborts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{ConfigError, ErrorCode, Warning, WarningKind};
use crate::lex::{Lines, QuoteError, Token, tokenize};
use crate::model::{
    AddrDev, BlockKind, Config, ConflictAction, Global, Host, Line, Mask, Network, Protocol,
    RealServer, Scheduler, SchedulerFlags, Seconds, Service, ServiceType,
};
use crate::value::{Resolver, inet_aton, looks_like_hostname, parse_c_long};

/// A successfully parsed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The configuration, defaults and §9 derived addresses applied.
    pub config: Config,
    /// What the original accepts silently but is probably a mistake.
    pub warnings: Vec<Warning>,
}

type Result<T> = std::result::Result<T, ConfigError>;

const I32: (i128, i128) = (i32::MIN as i128, i32::MAX as i128);
const U16: (i128, i128) = (0, u16::MAX as i128);
/// `announce_hold`: up to a day.
const HOLD: (i128, i128) = (0, 86_400);

/// The keys of a director pair that scale-out mode ignores (with a
/// warning): there is no partner and no heartbeat.
const SCALE_OUT_IGNORED: [&str; 10] = [
    "primary",
    "primary_private",
    "backup",
    "backup_private",
    "backup_active",
    "heartbeat",
    "heartbeat_port",
    "keepalive",
    "deadtime",
    "monitor_links",
];
const U32: (i128, i128) = (0, u32::MAX as i128);

fn show(bytes: &[u8]) -> String {
    format!("\"{}\"", String::from_utf8_lossy(bytes).escape_debug())
}

struct Parser<'a, 'r> {
    file: &'a str,
    resolver: &'r dyn Resolver,
    lines: Lines<'a>,
    toks: Vec<Token<'a>>,
    line: usize,
    warnings: Vec<Warning>,
    /// Whether the warning for content the original cannot read (IPv6,
    /// `/N` masks) was given: once a file.
    warned_ipv6: bool,
    /// Each virtual block's `scheduler` line (its opener line without
    /// one), for the scale-out rules.
    scheduler_lines: Vec<usize>,
}

/// Lines of the keys a block's family checks point at (0: not given).
#[derive(Default)]
struct BlockLines {
    address: usize,
    vip_nmask: usize,
    pmask: usize,
    sorry_server: usize,
    scheduler: usize,
    scheduler_flags: usize,
    /// Each server's `address` line (its opener line without one).
    servers: Vec<usize>,
}

/// Lines of the global keys the family checks point at (0: not given).
#[derive(Default)]
struct GlobalLines {
    primary: usize,
    backup: usize,
    primary_private: usize,
    backup_private: usize,
    nat_router: usize,
    nat_nmask: usize,
    nat_router6: usize,
    nat_nmask6: usize,
    network: usize,
    scale_out: usize,
    scale_out_members: usize,
    /// Keys scale-out mode ignores, with their lines.
    ignored: Vec<(&'static str, usize)>,
}

fn family(a: IpAddr) -> &'static str {
    if a.is_ipv6() { "IPv6" } else { "IPv4" }
}

/// Parses `bytes` (the whole file) named `file` in messages.
pub fn parse_bytes_with(bytes: &[u8], file: &str, resolver: &dyn Resolver) -> Result<Parsed> {
    if bytes.is_empty() {
        return Err(ConfigError {
            file: file.to_string(),
            line: 0,
            code: ErrorCode::Stat,
            key: None,
            detail: "expected lvs.cf text, found an empty file".into(),
        });
    }
    let mut p = Parser {
        file,
        resolver,
        lines: Lines::new(bytes),
        toks: Vec::with_capacity(8),
        line: 0,
        warnings: Vec::new(),
        warned_ipv6: false,
        scheduler_lines: Vec::new(),
    };
    let config = p.config()?;
    Ok(Parsed {
        config,
        warnings: p.warnings,
    })
}

impl<'a> Parser<'a, '_> {
    // ---- errors and warnings -------------------------------------------

    fn err(&self, code: ErrorCode, detail: impl Into<String>) -> ConfigError {
        let key = self
            .toks
            .first()
            .map(|t| String::from_utf8_lossy(t.text).into_owned());
        self.err_key(code, key, detail)
    }

    fn err_key(
        &self,
        code: ErrorCode,
        key: Option<String>,
        detail: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: self.file.to_string(),
            line: self.line,
            code,
            key,
            detail: detail.into(),
        }
    }

    fn err_at(&self, line: usize, code: ErrorCode, key: &str, detail: String) -> ConfigError {
        ConfigError {
            file: self.file.to_string(),
            line,
            code,
            key: Some(key.to_string()),
            detail,
        }
    }

    /// The one warning for a file the original cannot read: `what` is the
    /// first IPv6 address, `/N` mask or new key.
    fn not_piranha(&mut self, what: &'static str) {
        if !self.warned_ipv6 {
            self.warned_ipv6 = true;
            self.warn(
                WarningKind::Ipv6,
                format!("{what}: Piranha's pulse and lvsd cannot read this file"),
            );
        }
    }

    fn warn_at(&mut self, line: usize, kind: WarningKind, key: Option<String>, text: String) {
        self.warnings.push(Warning {
            file: self.file.to_string(),
            line,
            kind,
            key,
            text,
        });
    }

    fn warn(&mut self, kind: WarningKind, text: String) {
        let key = self.key_string();
        self.warn_at(self.line, kind, Some(key), text);
    }

    /// gaps.md B4: warns once per send/expect value with backslash
    /// sequences nanny does not know (they are passed on unchanged; the
    /// original nanny hangs on them).
    fn escapes(&mut self, value: &str) {
        // As nanny gets it by default: quotes stripped.
        let arg = crate::strip_quotes(value, crate::QuoteMode::default());
        let found = crate::translate_escapes(arg.as_bytes()).warnings;
        let Some(first) = found.first() else { return };
        let more = match found.len() - 1 {
            0 => String::new(),
            n => format!(" (and {n} more)"),
        };
        self.warn(
            WarningKind::UnknownEscape,
            format!("{first}{more}; the original nanny hangs on it"),
        );
    }

    fn key_string(&self) -> String {
        self.toks
            .first()
            .map(|t| String::from_utf8_lossy(t.text).into_owned())
            .unwrap_or_default()
    }

    // ---- lines -----------------------------------------------------------

    /// Loads the next non-blank, non-comment line into `self.toks`.
    /// Returns false at end of file.
    fn next_line(&mut self) -> Result<bool> {
        for (n, text) in self.lines.by_ref() {
            self.line = n;
            if memchr::memchr(0, text).is_some() {
                self.toks.clear();
                return Err(self.err_key(
                    ErrorCode::BadArgument,
                    None,
                    "expected text, found a NUL byte",
                ));
            }
            if let Err(e) = tokenize(text, &mut self.toks) {
                let key = text
                    .iter()
                    .position(|&b| !crate::lex::is_blank(b))
                    .map(|s| {
                        let w = &text[s..];
                        let e = w
                            .iter()
                            .position(|&b| crate::lex::is_blank(b))
                            .unwrap_or(w.len());
                        String::from_utf8_lossy(&w[..e]).into_owned()
                    })
                    .filter(|k| !k.starts_with(['"', '\'']));
                let detail = match e {
                    QuoteError::Unterminated { quote, rest } => format!(
                        "expected a closing {} quote, found end of line after {}",
                        char::from(quote),
                        show(&rest)
                    ),
                    QuoteError::NotAtEnd { word } => format!(
                        "expected the quoted word {} to end the line (a quoted value without \
                         blanks must be the last thing on its line), found more text after it",
                        show(&word)
                    ),
                };
                return Err(self.err_key(ErrorCode::BadQuoting, key, detail));
            }
            if !self.toks.is_empty() {
                return Ok(true);
            }
        }
        self.toks.clear();
        Ok(false)
    }

    fn tok(&self, i: usize) -> &'a [u8] {
        self.toks[i].text
    }

    /// The original's `CHECK_ARGS(n)`: `=` second, exactly `n` values.
    fn args(&self, n: usize, what: &str) -> Result<()> {
        self.equal()?;
        let have = self.toks.len() - 2;
        if have < n {
            let found = if have == 0 {
                "nothing".to_string()
            } else {
                format!("{have} value(s)")
            };
            return Err(self.err(
                ErrorCode::MissingArgs,
                format!("expected {what} after \"=\", found {found}"),
            ));
        }
        if have > n {
            return Err(self.err(
                ErrorCode::ExtraArgs,
                format!(
                    "expected {what} after \"=\", found {have} values (extra {})",
                    show(self.tok(n + 2))
                ),
            ));
        }
        Ok(())
    }

    /// The original's `CHECK_EQUAL`.
    fn equal(&self) -> Result<()> {
        match self.toks.get(1) {
            Some(t) if t.text == b"=" => Ok(()),
            Some(t) => Err(self.err(
                ErrorCode::EqualExpected,
                format!("expected \"=\" after the key, found {}", show(t.text)),
            )),
            None => Err(self.err(
                ErrorCode::EqualExpected,
                "expected \"=\" after the key, found end of line",
            )),
        }
    }

    /// Checks a block opener `KEYWORD NAME {` and returns the name.
    fn opener(&mut self) -> Result<String> {
        let kw = self.key_string();
        let form = format!("\"{kw} NAME {{\" on one line");
        if self.toks.len() < 3 {
            return Err(self.err(
                ErrorCode::MissingArgs,
                format!("expected {form}, found {} token(s)", self.toks.len()),
            ));
        }
        if self.toks.len() > 3 {
            return Err(self.err(
                ErrorCode::ExtraArgs,
                format!("expected {form}, found extra {}", show(self.tok(3))),
            ));
        }
        if self.tok(2) != b"{" {
            return Err(self.err(
                ErrorCode::MissingArgs,
                format!(
                    "expected {form}, found {} instead of \"{{\"",
                    show(self.tok(2))
                ),
            ));
        }
        let raw = self.tok(1);
        Ok(match std::str::from_utf8(raw) {
            Ok(s) => s.to_string(),
            Err(_) => {
                let name = String::from_utf8_lossy(raw).into_owned();
                self.warn(
                    WarningKind::NonUtf8Name,
                    format!("name {} is not UTF-8; invalid bytes replaced", show(raw)),
                );
                name
            }
        })
    }

    // ---- values ------------------------------------------------------------

    fn int_in(&self, i: usize, (min, max): (i128, i128)) -> Result<i128> {
        let t = self.tok(i);
        match parse_c_long(t) {
            Some(v) if v >= min && v <= max => Ok(v),
            Some(_) => Err(self.err(
                ErrorCode::IntExpected,
                format!("expected an integer from {min} to {max}, found {}", show(t)),
            )),
            None => Err(self.err(
                ErrorCode::IntExpected,
                format!("expected an integer, found {}", show(t)),
            )),
        }
    }

    fn int(&self, i: usize) -> Result<i32> {
        Ok(self.int_in(i, I32)? as i32)
    }

    /// `keepalive`/`deadtime`: an integer as before, or a decimal such as
    /// `0.1` (extension for sub-second failover).
    fn seconds(&self, i: usize) -> Result<Seconds> {
        let t = self.tok(i);
        if let Some(s) = std::str::from_utf8(t).ok().and_then(Seconds::parse_decimal) {
            return Ok(s);
        }
        Ok(Seconds::from_secs(self.int(i)?))
    }

    fn boolean(&self, i: usize) -> Result<bool> {
        let t = self.tok(i);
        match parse_c_long(t) {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            Some(_) => Err(self.err(
                ErrorCode::BoolExpected,
                format!("expected 0 or 1, found {}", show(t)),
            )),
            None => Err(self.err(
                ErrorCode::IntExpected,
                format!("expected 0 or 1, found {}", show(t)),
            )),
        }
    }

    /// A port: an integer 0–65535, else a tcp service name.
    fn port(&self, i: usize) -> Result<u16> {
        let t = self.tok(i);
        if parse_c_long(t).is_some() {
            return Ok(self.int_in(i, U16)? as u16);
        }
        std::str::from_utf8(t)
            .ok()
            .and_then(|s| self.resolver.tcp_port(s))
            .ok_or_else(|| {
                self.err(
                    ErrorCode::BadArgument,
                    format!(
                        "expected a port number or a tcp service name, found {}",
                        show(t)
                    ),
                )
            })
    }

    /// An IPv6 literal (a token with a `:`): std's syntax, no zone id, no
    /// brackets, no IPv4-mapped form.
    fn ipv6(&mut self, i: usize) -> Result<Ipv6Addr> {
        let t = self.tok(i);
        let text = String::from_utf8_lossy(t);
        let bad = |p: &Self, why: &str| {
            Err(p.err(
                ErrorCode::BadHostname,
                format!(
                    "expected an IPv6 address such as 2001:db8::1{why}, found {}",
                    show(t)
                ),
            ))
        };
        if text.contains('%') {
            return bad(self, " (zone ids are not allowed)");
        }
        if text.starts_with('[') || text.ends_with(']') {
            return bad(self, " (without brackets)");
        }
        let Ok(a) = text.parse::<Ipv6Addr>() else {
            return bad(self, "");
        };
        if let Some(v4) = a.to_ipv4_mapped() {
            return bad(
                self,
                &format!(" (IPv4-mapped addresses are not allowed: write {v4})"),
            );
        }
        self.not_piranha("IPv6 address");
        Ok(a)
    }

    /// A host: `inet_aton` literal, an IPv6 literal (any token with a `:`),
    /// else a name resolved now, to IPv4 (B10).
    fn host(&mut self, i: usize) -> Result<Host> {
        let t = self.tok(i);
        if let Some(a) = inet_aton(t) {
            return Ok(Host::addr(a));
        }
        if t.contains(&b':') {
            return Ok(Host::addr(self.ipv6(i)?));
        }
        let resolved = std::str::from_utf8(t)
            .ok()
            .filter(|s| looks_like_hostname(s))
            .and_then(|s| self.resolver.resolve_host(s).map(|a| (s, a)));
        match resolved {
            Some((name, addr)) => {
                let text = format!(
                    "host name {} resolved to {addr} now, at parse time (not again at failover)",
                    show(t)
                );
                self.warn(WarningKind::HostName, text);
                Ok(Host {
                    addr: addr.into(),
                    name: Some(name.to_string()),
                })
            }
            None => Err(self.err(
                ErrorCode::BadArgument,
                format!(
                    "expected an IPv4 address or a resolvable host name, found {}",
                    show(t)
                ),
            )),
        }
    }

    /// A host that must not be 0.0.0.0.
    fn nonzero_host(&mut self, i: usize) -> Result<Host> {
        let h = self.host(i)?;
        if h.addr.is_unspecified() {
            let none = if h.addr.is_ipv6() { "::" } else { "0.0.0.0" };
            return Err(self.err(
                ErrorCode::BadHostname,
                format!(
                    "expected an address other than {none}, found {}",
                    show(self.tok(i))
                ),
            ));
        }
        Ok(h)
    }

    /// `/N` with N from 0 to 128 (which family allows which is checked
    /// once the address is known), `None` if the token is no `/N`.
    fn prefix(&mut self, i: usize) -> Result<Option<u8>> {
        let t = self.tok(i);
        let Some(digits) = t.strip_prefix(b"/") else {
            return Ok(None);
        };
        let n = std::str::from_utf8(digits)
            .ok()
            .filter(|d| !d.is_empty() && d.len() <= 3 && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<u8>().ok())
            .filter(|&n| n <= 128);
        match n {
            Some(n) => {
                self.not_piranha("prefix length");
                Ok(Some(n))
            }
            None => Err(self.err(
                ErrorCode::BadNetmask,
                format!(
                    "expected a prefix length from /0 to /32 (IPv4) or /128 (IPv6), found {}",
                    show(t)
                ),
            )),
        }
    }

    /// A netmask: dotted (`inet_aton` forms) or `/N`.
    fn mask(&mut self, i: usize) -> Result<Mask> {
        if let Some(n) = self.prefix(i)? {
            return Ok(Mask::Prefix(n));
        }
        let t = self.tok(i);
        inet_aton(t).map(Mask::Dotted).ok_or_else(|| {
            self.err(
                ErrorCode::BadNetmask,
                format!(
                    "expected a netmask like 255.255.255.0 or a prefix length like /24, found {}",
                    show(t)
                ),
            )
        })
    }

    fn string(&self, i: usize) -> Result<String> {
        let t = self.tok(i);
        match std::str::from_utf8(t) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => Err(self.err(
                ErrorCode::BadArgument,
                format!("expected UTF-8 text, found {}", show(t)),
            )),
        }
    }

    /// A string stored the original's way for send/expect/send_program/
    /// start_cmd/stop_cmd: quote characters put back (§3.2).
    fn requoted(&self, i: usize) -> Result<String> {
        let s = self.string(i)?;
        Ok(match self.toks[i].quote {
            Some(q) => {
                let q = char::from(q);
                let mut out = String::with_capacity(s.len() + 2);
                out.push(q);
                out.push_str(&s);
                out.push(q);
                out
            }
            None => s,
        })
    }

    fn choice<T: Copy>(&self, i: usize, options: &[(&str, T)]) -> Result<T> {
        let t = self.tok(i);
        options
            .iter()
            .find(|(name, _)| name.as_bytes() == t)
            .map(|&(_, v)| v)
            .ok_or_else(|| {
                let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                self.err(
                    ErrorCode::BadArgument,
                    format!("expected one of {}, found {}", names.join(", "), show(t)),
                )
            })
    }

    fn addr_dev(&mut self) -> Result<AddrDev> {
        self.args(2, "an address and a device (ADDRESS DEVICE)")?;
        let host = self.host(2)?;
        let device = self.string(3)?;
        Ok(AddrDev { host, device })
    }

    fn suspicious(&mut self, cond: bool, text: &str) {
        if cond {
            let v = String::from_utf8_lossy(self.tok(2)).into_owned();
            self.warn(WarningKind::SuspiciousNumber, format!("value {v}: {text}"));
        }
    }

    // ---- structure -----------------------------------------------------------

    fn config(&mut self) -> Result<Config> {
        let mut cfg = Config::default();
        let mut saw_primary = false;
        let mut saw_primary_private = false;
        let mut backup_private_line = None;
        let mut gl = GlobalLines::default();
        let mut vip_lines = Vec::new();
        while self.next_line()? {
            let g = &mut cfg.global;
            let line = self.line;
            if let Some(k) = SCALE_OUT_IGNORED
                .iter()
                .find(|k| k.as_bytes() == self.tok(0))
            {
                gl.ignored.push((k, line));
            }
            if self.tok(0) == b"network" {
                gl.network = line;
            }
            match self.tok(0) {
                b"virtual" | b"failover" => {
                    let kind = if self.tok(0) == b"virtual" {
                        BlockKind::Virtual
                    } else {
                        BlockKind::Failover
                    };
                    let name = self.opener()?;
                    let (svc, address_line) = self.block(kind, name)?;
                    match kind {
                        BlockKind::Virtual => {
                            cfg.virtuals.push(svc);
                            vip_lines.push(address_line);
                        }
                        BlockKind::Failover => cfg.failovers.push(svc),
                    }
                }
                b"nat_router" => {
                    g.nat_router = Some(self.addr_dev()?);
                    gl.nat_router = line;
                }
                b"nat_nmask" => {
                    self.args(1, "a netmask")?;
                    g.nat_nmask = self.mask(2)?;
                    gl.nat_nmask = line;
                }
                b"nat_router6" => {
                    let a = self.addr_dev()?;
                    if !a.host.addr.is_ipv6() {
                        return Err(self.err(
                            ErrorCode::BadHostname,
                            format!(
                                "expected an IPv6 address (nat_router6 is the IPv6 NAT router, \
                                 nat_router the IPv4 one), found {}",
                                show(self.tok(2))
                            ),
                        ));
                    }
                    g.nat_router6 = Some(a);
                    gl.nat_router6 = line;
                }
                b"nat_nmask6" => {
                    self.args(1, "a prefix length")?;
                    let Some(n) = self.prefix(2)? else {
                        return Err(self.err(
                            ErrorCode::BadNetmask,
                            format!(
                                "expected a prefix length like /64, found {}",
                                show(self.tok(2))
                            ),
                        ));
                    };
                    self.not_piranha("IPv6 key");
                    g.nat_nmask6 = Mask::Prefix(n);
                    gl.nat_nmask6 = line;
                }
                b"primary" => {
                    self.args(1, "an address")?;
                    g.primary = Some(self.nonzero_host(2)?);
                    saw_primary = true;
                    gl.primary = line;
                }
                b"primary_private" => {
                    self.args(1, "an address")?;
                    g.primary_private = Some(self.nonzero_host(2)?);
                    saw_primary_private = true;
                    gl.primary_private = line;
                }
                b"backup_private" => {
                    self.args(1, "an address")?;
                    g.backup_private = Some(self.nonzero_host(2)?);
                    backup_private_line = Some(self.line);
                    gl.backup_private = line;
                }
                b"backup" => {
                    self.args(1, "an address")?;
                    g.backup = Some(self.host(2)?);
                    gl.backup = line;
                }
                b"scale_out" => {
                    self.args(1, "0 or 1")?;
                    g.scale_out = self.boolean(2)?;
                    self.not_piranha("key scale_out");
                    gl.scale_out = line;
                }
                b"scale_out_members" => {
                    g.scale_out_members = self.members()?;
                    self.not_piranha("key scale_out_members");
                    gl.scale_out_members = line;
                }
                b"announce_device" => {
                    self.args(1, "an interface name")?;
                    g.announce_device = Some(self.ifname(2)?);
                    self.not_piranha("key announce_device");
                }
                b"announce_hold" => {
                    self.args(1, "seconds")?;
                    g.announce_hold = Some(self.int_in(2, HOLD)? as u32);
                    self.not_piranha("key announce_hold");
                }
                _ => self.global_key(g)?,
            }
        }
        // §9: derived private addresses (B7: keep, including the overwrite).
        let g = &mut cfg.global;
        if saw_primary && !saw_primary_private {
            if let Some(line) = backup_private_line
                && g.backup_private != g.backup
            {
                self.warn_at(
                    line,
                    WarningKind::OverwrittenBackupPrivate,
                    Some("backup_private".into()),
                    "ignored: without primary_private, backup_private is set to backup".into(),
                );
            }
            g.primary_private = g.primary.clone();
            g.backup_private = g.backup.clone();
            g.private_defaulted = true;
        }
        self.global_families(&cfg, &gl, &vip_lines)?;
        self.scale_out_rules(&cfg, &gl)?;
        Ok(cfg)
    }

    /// `scale_out_members = ADDR …`: one or more IPv4 or IPv6 literals (no
    /// host names: every director must read the same list), no repeats.
    fn members(&mut self) -> Result<Vec<IpAddr>> {
        self.equal()?;
        if self.toks.len() < 3 {
            return Err(self.err(
                ErrorCode::MissingArgs,
                "expected one or more director addresses after \"=\", found nothing",
            ));
        }
        let mut out: Vec<IpAddr> = Vec::new();
        for i in 2..self.toks.len() {
            let t = self.tok(i);
            let a: IpAddr = match inet_aton(t) {
                Some(a) => a.into(),
                None if t.contains(&b':') => self.ipv6(i)?.into(),
                None => {
                    return Err(self.err(
                        ErrorCode::BadHostname,
                        format!(
                            "expected an IPv4 or IPv6 address (no host names), found {}",
                            show(t)
                        ),
                    ));
                }
            };
            if a.is_unspecified() || out.contains(&a) {
                let why = if a.is_unspecified() {
                    "an unspecified address"
                } else {
                    "a repeated address"
                };
                return Err(self.err(
                    ErrorCode::BadHostname,
                    format!("expected each director's own address, found {why}: {a}"),
                ));
            }
            out.push(a);
        }
        Ok(out)
    }

    /// `scheduler_flags`: `mh-port` and/or `mh-fallback`, comma-separated.
    fn scheduler_flags(&self, i: usize) -> Result<SchedulerFlags> {
        let t = self.tok(i);
        let mut f = SchedulerFlags::default();
        for word in t.split(|&b| b == b',') {
            match word {
                b"mh-port" if !f.port => f.port = true,
                b"mh-fallback" if !f.fallback => f.fallback = true,
                _ => {
                    return Err(self.err(
                        ErrorCode::BadArgument,
                        format!(
                            "expected mh-port, mh-fallback or mh-port,mh-fallback, found {}",
                            show(t)
                        ),
                    ));
                }
            }
        }
        Ok(f)
    }

    /// An interface name the kernel accepts (`dev_valid_name`): 1 to 15
    /// bytes, not `.` or `..`, no `/`, `:` or blank.
    fn ifname(&self, i: usize) -> Result<String> {
        let name = self.string(i)?;
        let bad = name.is_empty()
            || name.len() > 15
            || name == "."
            || name == ".."
            || name.contains(['/', ':'])
            || name.chars().any(char::is_whitespace);
        if bad {
            return Err(self.err(
                ErrorCode::BadArgument,
                format!(
                    "expected an interface name of 1 to 15 characters without '/', ':' or \
                     blanks, found {}",
                    show(self.tok(i))
                ),
            ));
        }
        Ok(name)
    }

    /// The scale-out rules (docs/scale-out.md): `service = lvs`, direct
    /// routing or tunnelling, `mh` on every virtual server, members given;
    /// the keys of the pair that scale-out mode ignores get a warning.
    fn scale_out_rules(&mut self, cfg: &Config, gl: &GlobalLines) -> Result<()> {
        let g = &cfg.global;
        if !g.scale_out {
            return Ok(());
        }
        if g.service != ServiceType::Lvs {
            return Err(self.err_at(
                gl.scale_out,
                ErrorCode::BadArgument,
                "scale_out",
                "expected service = lvs with scale_out = 1, found service = fos \
                 (scale-out mode runs lvsd)"
                    .to_string(),
            ));
        }
        if g.network == Network::Nat {
            let (line, key, found) = if gl.network != 0 {
                (gl.network, "network", "nat")
            } else {
                (gl.scale_out, "scale_out", "nat (the default network)")
            };
            return Err(self.err_at(
                line,
                ErrorCode::BadArgument,
                key,
                format!(
                    "expected network = direct or tunnel with scale_out = 1, found {found} \
                     (NAT real servers send their replies through their default gateway, one \
                     director, which has no connection entry for the flows ECMP gave another)"
                ),
            ));
        }
        if g.scale_out_members.is_empty() {
            return Err(self.err_at(
                gl.scale_out,
                ErrorCode::MissingArgs,
                "scale_out_members",
                "expected scale_out_members = ADDR … (every director's own address) with \
                 scale_out = 1, found none"
                    .to_string(),
            ));
        }
        for (v, &line) in cfg.virtuals.iter().zip(&self.scheduler_lines) {
            if v.scheduler != Scheduler::Mh {
                return Err(self.err_at(
                    line,
                    ErrorCode::BadArgument,
                    "scheduler",
                    format!(
                        "expected scheduler = mh with scale_out = 1, found {} in virtual {} \
                         (a flow that ECMP moves to another director must meet the same \
                         consistent-hash table there)",
                        v.scheduler.as_str(),
                        v.name
                    ),
                ));
            }
        }
        for &(key, line) in &gl.ignored {
            self.warn_at(
                line,
                WarningKind::ScaleOutIgnored,
                Some(key.to_string()),
                "ignored with scale_out = 1 (no partner, no heartbeat)".into(),
            );
        }
        // a device other than announce_device (its alias suffix aside) is
        // ignored: say so once
        let elsewhere =
            |a: &AddrDev| a.device.split(':').next().unwrap_or(&a.device) != g.announce_device();
        if let Some(v) = cfg
            .virtuals
            .iter()
            .find(|v| v.address.as_ref().is_some_and(elsewhere))
        {
            self.warn_at(
                v.line.0,
                WarningKind::ScaleOutIgnored,
                Some("address".into()),
                format!(
                    "the device of each virtual server's address is ignored with scale_out = 1 \
                     (the VIPs go on announce_device {})",
                    g.announce_device()
                ),
            );
        }
        Ok(())
    }

    /// The IPv6 rules on global keys (lvs.cf(5), IPV6): one family per
    /// director pair, masks that fit their NAT router, and a NAT router of
    /// its own family for every NAT virtual server.
    fn global_families(&self, cfg: &Config, gl: &GlobalLines, vip_lines: &[usize]) -> Result<()> {
        let g = &cfg.global;
        let pair = |a: &Option<Host>, b: &Option<Host>, (ka, kb): (&str, &str), line: usize| {
            let (Some(a), Some(b)) = (a, b) else {
                return Ok(());
            };
            if b.addr.is_unspecified() || a.addr.is_ipv6() == b.addr.is_ipv6() {
                return Ok(());
            }
            Err(self.err_at(
                line,
                ErrorCode::BadHostname,
                kb,
                format!(
                    "expected an {} address like {ka}'s, found {kb} {} ({ka} {} is {}; \
                     the two directors talk in one family)",
                    family(a.addr),
                    b.addr,
                    a.addr,
                    family(a.addr)
                ),
            ))
        };
        pair(&g.primary, &g.backup, ("primary", "backup"), gl.backup)?;
        if !g.private_defaulted {
            pair(
                &g.primary_private,
                &g.backup_private,
                ("primary_private", "backup_private"),
                gl.backup_private.max(gl.primary_private),
            )?;
        }
        if let (Some(n4), Some(_)) = (&g.nat_router, &g.nat_router6)
            && n4.host.addr.is_ipv6()
        {
            return Err(self.err_at(
                gl.nat_router,
                ErrorCode::BadHostname,
                "nat_router",
                format!(
                    "expected an IPv4 address when nat_router6 is set (nat_router is then the \
                     IPv4 NAT router), found {}",
                    n4.host.addr
                ),
            ));
        }
        let nat_addr = g.nat_router.as_ref().map(|a| a.host.addr);
        self.mask_fits(g.nat_nmask, nat_addr, "nat_nmask", gl.nat_nmask)?;
        if g.service != ServiceType::Lvs || g.network != Network::Nat {
            return Ok(());
        }
        let any_router = g.nat_router.is_some() || g.nat_router6.is_some();
        for (v, &line) in cfg.virtuals.iter().zip(vip_lines) {
            let Some(a) = &v.address else { continue };
            let missing = if a.host.addr.is_ipv6() {
                g.ipv6_nat_router().is_none()
            } else {
                any_router && g.ipv4_nat_router().is_none()
            };
            if missing {
                let f = family(a.host.addr);
                let how = if a.host.addr.is_ipv6() {
                    "nat_router6, or nat_router with an IPv6 address"
                } else {
                    "nat_router with an IPv4 address"
                };
                return Err(self.err_at(
                    line,
                    ErrorCode::BadHostname,
                    "address",
                    format!(
                        "expected an {f} NAT router ({how}) for the {f} virtual server {} \
                         with network = nat, found none",
                        v.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A mask given for `addr` (0.0.0.0 when there is none): `/0`–`/32`
    /// or dotted for IPv4, only `/N` for IPv6.
    fn mask_fits(&self, m: Mask, addr: Option<IpAddr>, key: &str, line: usize) -> Result<()> {
        let addr = addr.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let bad = match (addr, m) {
            (IpAddr::V4(_), Mask::Prefix(n)) if n > 32 => Some("a prefix length from /0 to /32"),
            (IpAddr::V6(_), Mask::Dotted(_)) if !m.is_none() => {
                Some("a prefix length from /0 to /128 (no dotted mask)")
            }
            _ => None,
        };
        match bad {
            Some(what) => Err(self.err_at(
                line,
                ErrorCode::BadNetmask,
                key,
                format!(
                    "expected {what} for the {} address {addr}, found {m}",
                    family(addr)
                ),
            )),
            None => Ok(()),
        }
    }

    /// The IPv6 rules within a block: masks that fit the VIP, and real
    /// servers and sorry server of the VIP's family.
    fn block_families(&self, s: &Service, bl: &BlockLines) -> Result<()> {
        let vip = s.vip();
        self.mask_fits(s.vip_nmask, Some(vip), "vip_nmask", bl.vip_nmask)?;
        self.mask_fits(s.pmask, Some(vip), "pmask", bl.pmask)?;
        let what = match s.kind {
            BlockKind::Virtual => "virtual server",
            BlockKind::Failover => "failover service",
        };
        let theirs = match &s.address {
            Some(_) => format!("{what} {}'s address is {}", s.name, family(vip)),
            None => format!("{what} {} has no address (an IPv4 service)", s.name),
        };
        let mismatch = |a: IpAddr, who: String, key: &str, line: usize| {
            if a.is_ipv6() == vip.is_ipv6() {
                return Ok(());
            }
            Err(self.err_at(
                line,
                ErrorCode::BadHostname,
                key,
                format!("{who} but {theirs}"),
            ))
        };
        if let Some(sorry) = s.sorry() {
            let who = format!("sorry server {sorry} is {}", family(sorry));
            mismatch(sorry, who, "sorry_server", bl.sorry_server)?;
        }
        for (r, &line) in s.servers.iter().zip(&bl.servers) {
            let a = r.address.addr;
            let who = if a.is_unspecified() && a.is_ipv4() {
                format!("real server {} has no address", r.name)
            } else {
                format!("real server {a} is {}", family(a))
            };
            mismatch(a, who, "address", line)?;
        }
        Ok(())
    }

    fn global_key(&mut self, g: &mut Global) -> Result<()> {
        match self.tok(0) {
            b"serial_no" => {
                self.args(1, "an integer")?;
                g.serial_no = self.int(2)?;
            }
            b"service" => {
                self.args(1, "lvs or fos")?;
                g.service =
                    self.choice(2, &[("lvs", ServiceType::Lvs), ("fos", ServiceType::Fos)])?;
            }
            b"primary_shared" => {
                self.args(1, "a device path")?;
                g.primary_shared = Some(self.string(2)?);
            }
            b"backup_shared" => {
                self.args(1, "a device path")?;
                g.backup_shared = Some(self.string(2)?);
            }
            b"backup_active" => {
                self.args(1, "0 or 1")?;
                g.backup_active = self.boolean(2)?;
            }
            b"reservation_conflict_action" => {
                self.args(1, "nothing or preempt")?;
                g.reservation_conflict_action = Some(self.choice(
                    2,
                    &[
                        ("nothing", ConflictAction::Nothing),
                        ("preempt", ConflictAction::Preempt),
                    ],
                )?);
            }
            b"active_cmd" => {
                self.args(1, "a command")?;
                g.active_cmd = Some(self.string(2)?);
            }
            b"inactive_cmd" => {
                self.args(1, "a command")?;
                g.inactive_cmd = Some(self.string(2)?);
            }
            b"monitor_links" => {
                self.args(1, "an integer")?;
                g.monitor_links = self.int(2)?;
            }
            b"debug_level" => {
                self.args(1, "a value")?;
                g.debug_level = self.string(2)?;
            }
            b"hard_shutdown" => {
                self.args(1, "0 or 1")?;
                g.hard_shutdown = self.boolean(2)?;
            }
            b"ipvsadm" => {
                self.args(1, "a path")?;
                g.ipvsadm = self.string(2)?;
            }
            b"keepalive" => {
                self.args(1, "seconds")?;
                g.keepalive = self.seconds(2)?;
                self.suspicious(
                    g.keepalive.millis <= 0,
                    "pulse sends heartbeats without pause",
                );
            }
            b"deadtime" => {
                self.args(1, "seconds")?;
                g.deadtime = self.seconds(2)?;
                self.suspicious(
                    g.deadtime.millis <= 0,
                    "pulse declares the partner dead at once",
                );
            }
            b"rsh_command" => {
                self.args(1, "a command")?;
                g.rsh_command = self.string(2)?;
            }
            b"syncdaemon" => {
                self.args(1, "0 or 1")?;
                g.syncdaemon = self.boolean(2)?;
            }
            b"syncd_iface" => {
                self.args(1, "an interface")?;
                g.syncd_iface = self.string(2)?;
            }
            b"syncd_id" => {
                self.args(1, "an integer")?;
                g.syncd_id = self.int(2)?;
            }
            b"tcp_timeout" => {
                self.args(1, "seconds")?;
                g.tcp_timeout = self.int(2)?;
            }
            b"tcpfin_timeout" => {
                self.args(1, "seconds")?;
                g.tcpfin_timeout = self.int(2)?;
            }
            b"udp_timeout" => {
                self.args(1, "seconds")?;
                g.udp_timeout = self.int(2)?;
            }
            b"heartbeat" => {
                self.args(1, "0 or 1")?;
                g.heartbeat = self.boolean(2)?;
            }
            b"heartbeat_port" => {
                self.args(1, "a port")?;
                g.heartbeat_port = self.port(2)?;
                self.suspicious(
                    g.heartbeat_port == 0,
                    "port 0 is not a usable heartbeat port",
                );
            }
            b"sync" => {
                self.args(1, "0 or 1")?;
                g.sync = self.boolean(2)?;
            }
            b"network" => {
                self.args(1, "nat, direct or tunnel")?;
                g.network = self.choice(
                    2,
                    &[
                        ("direct", Network::Direct),
                        ("nat", Network::Nat),
                        ("tunnel", Network::Tunnel),
                    ],
                )?;
            }
            b"}" => {
                return Err(self.err(
                    ErrorCode::BadCommand,
                    "expected a global key, found \"}\" with no open block",
                ));
            }
            other => {
                return Err(self.err(
                    ErrorCode::BadCommand,
                    format!(
                        "expected a global key, \"virtual NAME {{\" or \"failover NAME {{\", \
                         found unknown key {}",
                        show(other)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Reports a block still open at end of file (B5/B13).
    fn unclosed(&mut self, what: String, line: usize, empty: bool) {
        let (kind, text) = if empty {
            (
                WarningKind::EmptyBlockAtEof,
                format!("{what} opened on the last line: treated as an empty block"),
            )
        } else {
            (
                WarningKind::MissingCloseBrace,
                format!("{what} has no closing \"}}\": closed at end of file"),
            )
        };
        self.warn_at(line, kind, None, text);
    }

    fn closing(&mut self) {
        if self.toks.len() > 1 {
            let extra = show(self.tok(1));
            self.warn_at(
                self.line,
                WarningKind::IgnoredTrailingText,
                None,
                format!("text after the closing brace ignored, starting at {extra}"),
            );
        }
    }

    /// A block and the line of its `address` (0 without one).
    fn block(&mut self, kind: BlockKind, name: String) -> Result<(Service, usize)> {
        let mut s = Service::new(name, kind);
        let opened = self.line;
        s.line = Line(opened);
        let mut empty = true;
        let mut bl = BlockLines::default();
        loop {
            if !self.next_line()? {
                let what = format!("{} {}", kind.as_str(), s.name);
                self.unclosed(what, opened, empty);
                break;
            }
            empty = false;
            let line = self.line;
            match self.tok(0) {
                b"}" => {
                    self.closing();
                    break;
                }
                b"server" => {
                    let name = self.opener()?;
                    let (rs, address_line) = self.server(name, s.port)?;
                    s.servers.push(rs);
                    bl.servers.push(address_line);
                }
                b"address" => {
                    s.address = Some(self.addr_dev()?);
                    bl.address = line;
                }
                b"vip_nmask" => {
                    self.args(1, "a netmask")?;
                    s.vip_nmask = self.mask(2)?;
                    bl.vip_nmask = line;
                }
                b"pmask" => {
                    self.pmask(&mut s)?;
                    bl.pmask = line;
                }
                b"sorry_server" => {
                    self.args(1, "an IPv4 or IPv6 address")?;
                    let t = self.tok(2);
                    s.sorry_server = match inet_aton(t) {
                        Some(a) => a.into(),
                        None if t.contains(&b':') => self.ipv6(2)?.into(),
                        None => {
                            return Err(self.err(
                                ErrorCode::BadHostname,
                                format!(
                                    "expected an IPv4 address (no host names), found {}",
                                    show(t)
                                ),
                            ));
                        }
                    };
                    bl.sorry_server = line;
                }
                b"scheduler_flags" => {
                    self.args(1, "mh-port, mh-fallback or mh-port,mh-fallback")?;
                    s.scheduler_flags = self.scheduler_flags(2)?;
                    self.not_piranha("key scheduler_flags");
                    bl.scheduler_flags = line;
                }
                key => {
                    if key == b"scheduler" {
                        bl.scheduler = line;
                    }
                    self.service_key(&mut s)?
                }
            }
        }
        self.block_families(&s, &bl)?;
        if !s.scheduler_flags.is_empty() && s.scheduler != Scheduler::Mh {
            return Err(self.err_at(
                bl.scheduler_flags,
                ErrorCode::BadArgument,
                "scheduler_flags",
                format!(
                    "expected scheduler = mh with scheduler_flags {}, found scheduler = {} \
                     (the flags are mh's)",
                    s.scheduler_flags.as_text(),
                    s.scheduler.as_str()
                ),
            ));
        }
        if kind == BlockKind::Virtual {
            self.scheduler_lines.push(if bl.scheduler != 0 {
                bl.scheduler
            } else {
                opened
            });
        }
        Ok((s, bl.address))
    }

    /// `pmask`: dotted or `/N`; an unparsable value is ignored with a
    /// warning (B5), the literal 255.255.255.255 is none.
    fn pmask(&mut self, s: &mut Service) -> Result<()> {
        self.args(1, "a netmask")?;
        if let Some(n) = self.prefix(2)? {
            s.pmask = Mask::Prefix(n);
            return Ok(());
        }
        let t = self.tok(2);
        match inet_aton(t) {
            Some(m) => s.pmask = Mask::Dotted(m),
            None => {
                let text = format!(
                    "unparsable netmask {} ignored (pmask stays {})",
                    show(t),
                    s.pmask
                );
                self.warn(WarningKind::IgnoredPmask, text);
            }
        }
        if t == b"255.255.255.255" {
            s.pmask = Mask::NONE;
        }
        Ok(())
    }

    fn service_key(&mut self, s: &mut Service) -> Result<()> {
        match self.tok(0) {
            b"active" => {
                self.args(1, "0 or 1")?;
                s.active = self.boolean(2)?;
            }
            b"fwmark" => {
                self.args(1, "a firewall mark")?;
                s.fwmark = self.int_in(2, U32)? as u32;
            }
            b"protocol" => {
                self.args(1, "tcp or udp")?;
                s.protocol = self.choice(2, &[("tcp", Protocol::Tcp), ("udp", Protocol::Udp)])?;
            }
            b"port" => {
                self.args(1, "a port")?;
                s.port = self.port(2)?;
                self.suspicious(s.port == 0, "port 0 is not a usable service port");
            }
            b"scheduler" => {
                self.args(1, "a scheduler")?;
                let opts: Vec<(&str, Scheduler)> = Scheduler::ALL
                    .iter()
                    .chain(&Scheduler::EXTENSIONS)
                    .map(|&x| (x.as_str(), x))
                    .collect();
                s.scheduler = self.choice(2, &opts)?;
                if Scheduler::EXTENSIONS.contains(&s.scheduler) {
                    self.not_piranha("scheduler mh");
                }
            }
            b"persistent" => {
                self.args(1, "seconds")?;
                s.persistent = self.int(2)?;
            }
            b"client_monitor" => {
                self.args(1, "a program path")?;
                s.client_monitor = self.string(2)?;
            }
            b"send_program" => {
                self.args(1, "a command")?;
                s.send_program = Some(self.requoted(2)?);
            }
            b"send" => {
                self.args(1, "a string")?;
                let v = self.requoted(2)?;
                self.escapes(&v);
                s.send = Some(v);
            }
            b"expect" => {
                self.args(1, "a string")?;
                let v = self.requoted(2)?;
                self.escapes(&v);
                s.expect = Some(v);
            }
            b"use_regex" => {
                self.args(1, "0 or 1")?;
                s.use_regex = self.boolean(2)?;
            }
            b"timeout" => {
                self.args(1, "seconds")?;
                s.timeout = self.int(2)?;
                self.suspicious(
                    s.timeout <= 0,
                    "timeout must be > 0 (the original nanny crashes)",
                );
            }
            b"reentry" => {
                self.args(1, "seconds")?;
                s.reentry = self.int(2)?;
                self.suspicious(s.reentry < 0, "a negative re-entry time");
            }
            b"load_monitor" => {
                self.args(1, "a load monitor")?;
                s.load_monitor = Some(self.string(2)?);
            }
            b"quiesce_server" => {
                self.args(1, "0 or 1")?;
                s.quiesce_server = self.boolean(2)?;
            }
            b"start_cmd" => {
                self.args(1, "a command")?;
                s.start_cmd = Some(self.requoted(2)?);
            }
            b"stop_cmd" => {
                self.args(1, "a command")?;
                s.stop_cmd = Some(self.requoted(2)?);
            }
            b"master" => {
                self.args(1, "an address")?;
                s.master = Some(self.host(2)?);
            }
            b"dirs" => {
                self.equal()?;
                if self.toks.get(2).map(|t| t.text) != Some(b"[") {
                    let found = self
                        .toks
                        .get(2)
                        .map_or("end of line".into(), |t| show(t.text));
                    return Err(self.err(
                        ErrorCode::ListExpected,
                        format!("expected \"[\" to start the list, found {found}"),
                    ));
                }
                let Some(close) = self.toks[3..].iter().position(|t| t.text == b"]") else {
                    return Err(self.err(
                        ErrorCode::ListExpected,
                        "expected \"]\" to end the list on the same line, found end of line",
                    ));
                };
                let mut items = Vec::with_capacity(close);
                for i in 3..3 + close {
                    items.push(self.string(i)?);
                }
                if self.toks.len() > 4 + close {
                    let extra = show(self.tok(4 + close));
                    self.warn(
                        WarningKind::IgnoredTrailingText,
                        format!("text after \"]\" ignored, starting at {extra}"),
                    );
                }
                s.dirs = Some(items);
            }
            other => {
                let kw = s.kind.as_str();
                return Err(self.err(
                    ErrorCode::BadCommand,
                    format!(
                        "expected a {kw}-block key, \"server NAME {{\" or \"}}\", \
                         found unknown key {}",
                        show(other)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A server block and the line of its `address` (its opener line
    /// without one).
    fn server(&mut self, name: String, port: u16) -> Result<(RealServer, usize)> {
        let mut r = RealServer::new(name, port);
        let opened = self.line;
        r.line = Line(opened);
        let mut empty = true;
        let mut address_line = opened;
        loop {
            if !self.next_line()? {
                let what = format!("server {}", r.name);
                self.unclosed(what, opened, empty);
                return Ok((r, address_line));
            }
            empty = false;
            match self.tok(0) {
                b"}" => {
                    self.closing();
                    return Ok((r, address_line));
                }
                b"address" => {
                    self.args(1, "an address")?;
                    r.address = self.host(2)?;
                    address_line = self.line;
                }
                b"active" => {
                    self.args(1, "0 or 1")?;
                    r.active = self.boolean(2)?;
                }
                b"weight" => {
                    self.args(1, "an integer")?;
                    r.weight = self.int(2)?;
                    self.suspicious(r.weight < 0, "a negative weight");
                    self.suspicious(r.weight == 0, "nanny raises weight 0 to 1");
                }
                b"port" => {
                    self.args(1, "a port number")?;
                    r.port = self.int_in(2, U16)? as u16;
                }
                other => {
                    return Err(self.err(
                        ErrorCode::BadCommand,
                        format!(
                            "expected address, active, weight, port or \"}}\" in a server block, \
                             found unknown key {}",
                            show(other)
                        ),
                    ));
                }
            }
        }
    }
}
