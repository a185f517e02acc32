//! The writer: [`Config`] → canonical lvs.cf text that the original parser
//! accepts and that parses back to an equal model.
//!
//! Canonical form: LF line ends, no trailing blanks, ` = ` between key and
//! value, four-space indentation per block level, global keys first (in the
//! order of lvs-cf.md §6), then the `virtual` blocks, then the `failover`
//! blocks. Keys at their default value are left out, except `service`, each
//! block's `active` and `port` (written before the `server` blocks, so the
//! servers' default port is the final one) and each server's `address`,
//! `active` and `weight`. Values are quoted only when needed, in a form the
//! original tokenizer reads back unchanged (lvs-cf.md §3.1). Comments are not
//! part of the model and are not written. The one exception to "the original
//! accepts it": a sub-second `keepalive`/`deadtime` (our extension) is written
//! as a decimal, which only this parser reads.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use crate::lex::is_blank;
use crate::model::{
    AddrDev, BlockKind, Config, DEFAULT_CLIENT_MONITOR, DEFAULT_IPVSADM, Global, Host, Mask,
    Service,
};
use crate::value::{inet_aton, looks_like_hostname};

/// A model value that has no lvs.cf spelling the original parser reads back
/// as the same value (e.g. a string with a newline, or `primary = 0.0.0.0`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot write {what}: {reason}")]
pub struct WriteError {
    /// Which value, e.g. `virtual web: send`.
    pub what: String,
    /// Why it cannot be written.
    pub reason: String,
}

/// Most `dirs` items the original reads back: `dirs = [ … ]` must stay
/// within its 99 tokens a line (lvs-cf.md §2).
const MAX_DIRS: usize = 95;

/// Where a token sits on its line: a quoted token without blanks is only
/// read back correctly at the end of the line.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pos {
    Last,
    Middle,
}

fn is_quote(c: char) -> bool {
    c == '"' || c == '\''
}

fn raw_ok(v: &str) -> bool {
    !v.is_empty() && !v.bytes().any(is_blank) && !v.starts_with(is_quote)
}

/// `v` wrapped in quote `q`, if the original reads that back as `v`.
fn quoted_with(v: &str, q: char, pos: Pos) -> Option<String> {
    let ok = match v.bytes().position(is_blank) {
        Some(b) => !v[b..].contains(q),
        None => pos == Pos::Last,
    };
    ok.then(|| format!("{q}{v}{q}"))
}

fn bad_chars(v: &str) -> Option<&'static str> {
    if v.contains('\n') || v.contains('\r') {
        Some("it contains a line break")
    } else if v.contains('\0') {
        Some("it contains a NUL byte")
    } else {
        None
    }
}

/// The spelling of string `v` as one token.
pub(crate) fn token(v: &str, pos: Pos) -> Result<String, String> {
    if let Some(r) = bad_chars(v) {
        return Err(r.into());
    }
    if raw_ok(v) {
        return Ok(v.to_string());
    }
    quoted_with(v, '"', pos)
        .or_else(|| quoted_with(v, '\'', pos))
        .ok_or_else(|| {
            if v.bytes().any(is_blank) {
                "both quote characters occur after its first blank".to_string()
            } else {
                "a quoted value without blanks can only end a line".to_string()
            }
        })
}

/// The spelling of a value stored with its quotes put back (§3.2).
pub(crate) fn requoted_token(v: &str) -> Result<String, String> {
    if let Some(r) = bad_chars(v) {
        return Err(r.into());
    }
    if v.len() >= 2 {
        for q in ['"', '\''] {
            if v.starts_with(q) && v.ends_with(q) {
                return quoted_with(&v[1..v.len() - 1], q, Pos::Last).ok_or_else(|| {
                    format!("the quote {q} occurs after the first blank inside the quotes")
                });
            }
        }
    }
    if raw_ok(v) {
        Ok(v.to_string())
    } else {
        Err(
            "a stored value is either quoted at both ends with the same quote, or a plain \
             word without blanks that does not start with a quote"
                .into(),
        )
    }
}

struct Out {
    text: String,
    indent: usize,
    section: String,
}

impl Out {
    fn err(&self, key: &str, reason: impl Into<String>) -> WriteError {
        let what = if self.section.is_empty() {
            key.to_string()
        } else {
            format!("{}: {key}", self.section)
        };
        WriteError {
            what,
            reason: reason.into(),
        }
    }

    fn line(&mut self, s: &str) {
        for _ in 0..self.indent {
            self.text.push_str("    ");
        }
        self.text.push_str(s);
        self.text.push('\n');
    }

    fn kv(&mut self, key: &str, value: &str) {
        let indent = "    ".repeat(self.indent);
        let _ = writeln!(self.text, "{indent}{key} = {value}");
    }

    fn num(&mut self, key: &str, v: impl std::fmt::Display) {
        self.kv(key, &v.to_string());
    }

    fn flag(&mut self, key: &str, v: bool) {
        self.kv(key, if v { "1" } else { "0" });
    }

    fn string(&mut self, key: &str, v: &str) -> Result<(), WriteError> {
        let t = token(v, Pos::Last).map_err(|r| self.err(key, r))?;
        self.kv(key, &t);
        Ok(())
    }

    fn requoted(&mut self, key: &str, v: &Option<String>) -> Result<(), WriteError> {
        if let Some(v) = v {
            let t = requoted_token(v).map_err(|r| self.err(key, r))?;
            self.kv(key, &t);
        }
        Ok(())
    }

    fn opt_string(&mut self, key: &str, v: &Option<String>) -> Result<(), WriteError> {
        match v {
            Some(v) => self.string(key, v),
            None => Ok(()),
        }
    }

    fn host_text(&self, key: &str, h: &Host) -> Result<String, WriteError> {
        match &h.name {
            None => Ok(h.addr.to_string()),
            Some(n) => {
                if !looks_like_hostname(n) {
                    return Err(self.err(key, format!("{n:?} is not a host name")));
                }
                if inet_aton(n.as_bytes()).is_some() {
                    return Err(self.err(key, format!("{n:?} reads back as an address literal")));
                }
                Ok(n.clone())
            }
        }
    }

    fn host(&mut self, key: &str, h: &Host, nonzero: bool) -> Result<(), WriteError> {
        if nonzero && h.addr.is_unspecified() {
            return Err(self.err(key, "the parser rejects 0.0.0.0 here"));
        }
        let t = self.host_text(key, h)?;
        self.kv(key, &t);
        Ok(())
    }

    fn addr_dev(&mut self, key: &str, a: &AddrDev) -> Result<(), WriteError> {
        let h = self.host_text(key, &a.host)?;
        let d = token(&a.device, Pos::Last).map_err(|r| self.err(key, r))?;
        self.kv(key, &format!("{h} {d}"));
        Ok(())
    }

    fn mask(&mut self, key: &str, m: Mask) {
        if !m.is_none() {
            self.num(key, m);
        }
    }

    /// An address whose 0.0.0.0 means none (`sorry_server`); `::` is written.
    fn addr(&mut self, key: &str, a: IpAddr) {
        if a != IpAddr::V4(Ipv4Addr::UNSPECIFIED) {
            self.num(key, a);
        }
    }
}

/// Writes `config` as lvs.cf text (see the module documentation for the
/// canonical form).
pub fn write(config: &Config) -> Result<String, WriteError> {
    let mut o = Out {
        text: String::new(),
        indent: 0,
        section: String::new(),
    };
    global(&mut o, &config.global)?;
    for (list, kind) in [
        (&config.virtuals, BlockKind::Virtual),
        (&config.failovers, BlockKind::Failover),
    ] {
        for s in list {
            o.text.push('\n');
            service(&mut o, s, kind)?;
        }
    }
    Ok(o.text)
}

fn global(o: &mut Out, g: &Global) -> Result<(), WriteError> {
    let d = Global::default();
    if g.private_defaulted {
        if g.primary.is_none() {
            return Err(o.err("primary", "private_defaulted is set but primary is not"));
        }
        if g.primary_private != g.primary || g.backup_private != g.backup {
            return Err(o.err(
                "primary_private",
                "private_defaulted is set but the private addresses differ from primary/backup",
            ));
        }
    } else if g.primary.is_some() && g.primary_private.is_none() {
        return Err(o.err(
            "primary_private",
            "primary without primary_private reads back with private_defaulted set",
        ));
    }
    if g.serial_no != d.serial_no {
        o.num("serial_no", g.serial_no);
    }
    if let Some(h) = &g.primary {
        o.host("primary", h, true)?;
    }
    if !g.private_defaulted
        && let Some(h) = &g.primary_private
    {
        o.host("primary_private", h, true)?;
    }
    o.opt_string("primary_shared", &g.primary_shared)?;
    o.kv("service", g.service.as_str());
    if g.backup_active != d.backup_active {
        o.flag("backup_active", g.backup_active);
    }
    if let Some(h) = &g.backup {
        o.host("backup", h, false)?;
    }
    if !g.private_defaulted
        && let Some(h) = &g.backup_private
    {
        o.host("backup_private", h, true)?;
    }
    o.opt_string("backup_shared", &g.backup_shared)?;
    if g.heartbeat != d.heartbeat {
        o.flag("heartbeat", g.heartbeat);
    }
    if g.heartbeat_port != d.heartbeat_port {
        o.num("heartbeat_port", g.heartbeat_port);
    }
    if g.keepalive != d.keepalive {
        o.num("keepalive", g.keepalive);
    }
    if g.deadtime != d.deadtime {
        o.num("deadtime", g.deadtime);
    }
    if g.network != d.network {
        o.kv("network", g.network.as_str());
    }
    if let Some(a) = &g.nat_router {
        o.addr_dev("nat_router", a)?;
    }
    o.mask("nat_nmask", g.nat_nmask);
    if let Some(a) = &g.nat_router6 {
        o.addr_dev("nat_router6", a)?;
    }
    o.mask("nat_nmask6", g.nat_nmask6);
    if let Some(a) = g.reservation_conflict_action {
        o.kv("reservation_conflict_action", a.as_str());
    }
    if g.debug_level != d.debug_level {
        o.string("debug_level", &g.debug_level)?;
    }
    if g.monitor_links != d.monitor_links {
        o.num("monitor_links", g.monitor_links);
    }
    if g.syncdaemon != d.syncdaemon {
        o.flag("syncdaemon", g.syncdaemon);
    }
    if g.syncd_iface != d.syncd_iface {
        o.string("syncd_iface", &g.syncd_iface)?;
    }
    if g.syncd_id != d.syncd_id {
        o.num("syncd_id", g.syncd_id);
    }
    if g.tcp_timeout != d.tcp_timeout {
        o.num("tcp_timeout", g.tcp_timeout);
    }
    if g.tcpfin_timeout != d.tcpfin_timeout {
        o.num("tcpfin_timeout", g.tcpfin_timeout);
    }
    if g.udp_timeout != d.udp_timeout {
        o.num("udp_timeout", g.udp_timeout);
    }
    if g.hard_shutdown != d.hard_shutdown {
        o.flag("hard_shutdown", g.hard_shutdown);
    }
    o.opt_string("active_cmd", &g.active_cmd)?;
    o.opt_string("inactive_cmd", &g.inactive_cmd)?;
    if g.rsh_command != d.rsh_command {
        o.string("rsh_command", &g.rsh_command)?;
    }
    if g.ipvsadm != DEFAULT_IPVSADM {
        o.string("ipvsadm", &g.ipvsadm)?;
    }
    if g.sync != d.sync {
        o.flag("sync", g.sync);
    }
    // Scale-out mode (extension, docs/scale-out.md): only when set.
    if g.scale_out != d.scale_out {
        o.flag("scale_out", g.scale_out);
    }
    if !g.scale_out_members.is_empty() {
        let list: Vec<String> = g.scale_out_members.iter().map(|a| a.to_string()).collect();
        o.kv("scale_out_members", &list.join(" "));
    }
    if let Some(dev) = &g.announce_device {
        o.string("announce_device", dev)?;
    }
    if let Some(n) = g.announce_hold {
        o.num("announce_hold", n);
    }
    Ok(())
}

fn service(o: &mut Out, s: &Service, kind: BlockKind) -> Result<(), WriteError> {
    let kw = kind.as_str();
    o.section = format!("{kw} {}", s.name);
    if s.kind != kind {
        return Err(o.err(
            "kind",
            format!("a {} block in the {kw} list", s.kind.as_str()),
        ));
    }
    let d = Service::new("", kind);
    let name = token(&s.name, Pos::Middle).map_err(|r| o.err("name", r))?;
    o.line(&format!("{kw} {name} {{"));
    o.indent = 1;
    o.flag("active", s.active);
    if let Some(a) = &s.address {
        o.addr_dev("address", a)?;
    }
    o.mask("vip_nmask", s.vip_nmask);
    o.addr("sorry_server", s.sorry_server);
    if s.fwmark != d.fwmark {
        o.num("fwmark", s.fwmark);
    }
    o.num("port", s.port);
    if s.protocol != d.protocol {
        o.kv("protocol", s.protocol.as_str());
    }
    if s.scheduler != d.scheduler {
        o.kv("scheduler", s.scheduler.as_str());
    }
    if !s.scheduler_flags.is_empty() {
        o.kv("scheduler_flags", &s.scheduler_flags.as_text());
    }
    if s.persistent != d.persistent {
        o.num("persistent", s.persistent);
    }
    if s.pmask == Mask::Dotted(Ipv4Addr::BROADCAST) {
        // The literal 255.255.255.255 reads back as "none"; this does not.
        o.kv("pmask", "0xffffffff");
    } else {
        o.mask("pmask", s.pmask);
    }
    o.requoted("send", &s.send)?;
    o.requoted("expect", &s.expect)?;
    if s.use_regex != d.use_regex {
        o.flag("use_regex", s.use_regex);
    }
    o.requoted("send_program", &s.send_program)?;
    o.opt_string("load_monitor", &s.load_monitor)?;
    if s.timeout != d.timeout {
        o.num("timeout", s.timeout);
    }
    if s.reentry != d.reentry {
        o.num("reentry", s.reentry);
    }
    if s.quiesce_server != d.quiesce_server {
        o.flag("quiesce_server", s.quiesce_server);
    }
    if s.client_monitor != DEFAULT_CLIENT_MONITOR {
        o.string("client_monitor", &s.client_monitor)?;
    }
    o.requoted("start_cmd", &s.start_cmd)?;
    o.requoted("stop_cmd", &s.stop_cmd)?;
    if let Some(h) = &s.master {
        o.host("master", h, false)?;
    }
    if let Some(items) = &s.dirs {
        if items.len() > MAX_DIRS {
            return Err(o.err(
                "dirs",
                format!(
                    "{} items do not fit the original's 99 tokens a line (at most {MAX_DIRS}; \
                     gaps.md B11)",
                    items.len()
                ),
            ));
        }
        let mut v = String::from("[");
        for it in items {
            if it == "]" {
                return Err(o.err("dirs", "an item \"]\" ends the list"));
            }
            let t = token(it, Pos::Middle).map_err(|r| o.err("dirs", r))?;
            v.push(' ');
            v.push_str(&t);
        }
        v.push_str(" ]");
        o.kv("dirs", &v);
    }
    for r in &s.servers {
        let name = token(&r.name, Pos::Middle).map_err(|e| o.err("server", e))?;
        o.line(&format!("server {name} {{"));
        o.indent = 2;
        let section = std::mem::replace(
            &mut o.section,
            format!("{kw} {}: server {}", s.name, r.name),
        );
        o.host("address", &r.address, false)?;
        o.flag("active", r.active);
        o.num("weight", r.weight);
        if r.port != s.port {
            o.num("port", r.port);
        }
        o.section = section;
        o.indent = 1;
        o.line("}");
    }
    o.indent = 0;
    o.line("}");
    o.section.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_quote_only_when_needed() {
        assert_eq!(token("abc", Pos::Middle).unwrap(), "abc");
        assert_eq!(token("a b", Pos::Middle).unwrap(), "\"a b\"");
        assert_eq!(token("a \"b", Pos::Middle).unwrap(), "'a \"b'");
        assert!(token("a \"b'", Pos::Middle).is_err());
        assert_eq!(token("\"x\" y", Pos::Middle).unwrap(), "\"\"x\" y\"");
        assert_eq!(token("\"x\" \"y", Pos::Middle).unwrap(), "'\"x\" \"y'");
        assert_eq!(token("", Pos::Last).unwrap(), "\"\"");
        assert!(token("", Pos::Middle).is_err());
        assert_eq!(token("'x", Pos::Last).unwrap(), "\"'x\"");
        assert!(token("a\nb", Pos::Last).is_err());
    }

    #[test]
    fn requoted_values_keep_their_quote() {
        assert_eq!(requoted_token("\"GET / x\"").unwrap(), "\"GET / x\"");
        assert_eq!(requoted_token("'GET /'").unwrap(), "'GET /'");
        assert_eq!(requoted_token("\"say\"hi\"").unwrap(), "\"say\"hi\"");
        assert_eq!(requoted_token("abc\"").unwrap(), "abc\"");
        assert!(requoted_token("\"abc").is_err());
        assert!(requoted_token("\"a b\"c d\"").is_err());
        assert!(requoted_token("a b").is_err());
    }
}
