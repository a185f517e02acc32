//! The parser: lines → [`Config`] (lvs-cf.md §4–§9), first error aborts.

use std::net::Ipv4Addr;

use crate::error::{ConfigError, ErrorCode, Warning, WarningKind};
use crate::lex::{Lines, QuoteError, Token, tokenize};
use crate::model::{
    AddrDev, BlockKind, Config, ConflictAction, Global, Host, Line, Network, Protocol, RealServer,
    Scheduler, Seconds, Service, ServiceType,
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

    /// A host: `inet_aton` literal, else a name resolved now (B10).
    fn host(&mut self, i: usize) -> Result<Host> {
        let t = self.tok(i);
        if let Some(a) = inet_aton(t) {
            return Ok(Host::addr(a));
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
                    addr,
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
            return Err(self.err(
                ErrorCode::BadHostname,
                format!(
                    "expected an address other than 0.0.0.0, found {}",
                    show(self.tok(i))
                ),
            ));
        }
        Ok(h)
    }

    fn mask(&self, i: usize) -> Result<Ipv4Addr> {
        let t = self.tok(i);
        inet_aton(t).ok_or_else(|| {
            self.err(
                ErrorCode::BadNetmask,
                format!("expected a netmask like 255.255.255.0, found {}", show(t)),
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
        while self.next_line()? {
            let g = &mut cfg.global;
            match self.tok(0) {
                b"virtual" | b"failover" => {
                    let kind = if self.tok(0) == b"virtual" {
                        BlockKind::Virtual
                    } else {
                        BlockKind::Failover
                    };
                    let name = self.opener()?;
                    let svc = self.block(kind, name)?;
                    match kind {
                        BlockKind::Virtual => cfg.virtuals.push(svc),
                        BlockKind::Failover => cfg.failovers.push(svc),
                    }
                }
                b"primary" => {
                    self.args(1, "an address")?;
                    g.primary = Some(self.nonzero_host(2)?);
                    saw_primary = true;
                }
                b"primary_private" => {
                    self.args(1, "an address")?;
                    g.primary_private = Some(self.nonzero_host(2)?);
                    saw_primary_private = true;
                }
                b"backup_private" => {
                    self.args(1, "an address")?;
                    g.backup_private = Some(self.nonzero_host(2)?);
                    backup_private_line = Some(self.line);
                }
                b"backup" => {
                    self.args(1, "an address")?;
                    g.backup = Some(self.host(2)?);
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
        Ok(cfg)
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
            b"nat_nmask" => {
                self.args(1, "a netmask")?;
                g.nat_nmask = self.mask(2)?;
            }
            b"nat_router" => {
                g.nat_router = Some(self.addr_dev()?);
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

    fn block(&mut self, kind: BlockKind, name: String) -> Result<Service> {
        let mut s = Service::new(name, kind);
        let opened = self.line;
        s.line = Line(opened);
        let mut empty = true;
        loop {
            if !self.next_line()? {
                let what = format!("{} {}", kind.as_str(), s.name);
                self.unclosed(what, opened, empty);
                return Ok(s);
            }
            empty = false;
            match self.tok(0) {
                b"}" => {
                    self.closing();
                    return Ok(s);
                }
                b"server" => {
                    let name = self.opener()?;
                    let rs = self.server(name, s.port)?;
                    s.servers.push(rs);
                }
                _ => self.service_key(&mut s)?,
            }
        }
    }

    fn service_key(&mut self, s: &mut Service) -> Result<()> {
        match self.tok(0) {
            b"active" => {
                self.args(1, "0 or 1")?;
                s.active = self.boolean(2)?;
            }
            b"address" => {
                s.address = Some(self.addr_dev()?);
            }
            b"sorry_server" => {
                self.args(1, "an IPv4 address")?;
                let t = self.tok(2);
                s.sorry_server = inet_aton(t).ok_or_else(|| {
                    self.err(
                        ErrorCode::BadHostname,
                        format!(
                            "expected an IPv4 address (no host names), found {}",
                            show(t)
                        ),
                    )
                })?;
            }
            b"vip_nmask" => {
                self.args(1, "a netmask")?;
                s.vip_nmask = self.mask(2)?;
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
                let opts: Vec<(&str, Scheduler)> =
                    Scheduler::ALL.iter().map(|&x| (x.as_str(), x)).collect();
                s.scheduler = self.choice(2, &opts)?;
            }
            b"persistent" => {
                self.args(1, "seconds")?;
                s.persistent = self.int(2)?;
            }
            b"pmask" => {
                self.args(1, "a netmask")?;
                let t = self.tok(2);
                match inet_aton(t) {
                    Some(m) => s.pmask = m,
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
                    s.pmask = Ipv4Addr::UNSPECIFIED;
                }
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

    fn server(&mut self, name: String, port: u16) -> Result<RealServer> {
        let mut r = RealServer::new(name, port);
        let opened = self.line;
        r.line = Line(opened);
        let mut empty = true;
        loop {
            if !self.next_line()? {
                let what = format!("server {}", r.name);
                self.unclosed(what, opened, empty);
                return Ok(r);
            }
            empty = false;
            match self.tok(0) {
                b"}" => {
                    self.closing();
                    return Ok(r);
                }
                b"address" => {
                    self.args(1, "an address")?;
                    r.address = self.host(2)?;
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
