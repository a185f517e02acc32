//! `lvscf dump --json`: the effective configuration as JSON.
//!
//! Shape: `{"global": {KEY: VALUE, …}, "virtual": [{"name": NAME, KEY: VALUE,
//! …, "server": [{"name", "address", "active", "weight", "port"}, …]}, …],
//! "failover": [{"name": NAME, KEY: VALUE, …}, …]}`. Keys use their lvs.cf
//! spelling and appear in the order of lvs-cf.md §6–§8. Integers and 0/1
//! flags are numbers; everything else is a string, as the daemons use it:
//! hosts as dotted addresses, `send`/`expect` with quotes stripped and
//! escapes translated, commands with quotes stripped. `address` and
//! `nat_router` are `"ADDRESS DEVICE"` as in lvs.cf. Keys without a value
//! and without a default (`send`, `active_cmd`, `nat_router`, …) are left out.
//! IPv6 addresses are text too (`"2001:db8::1"`); masks are as written
//! (`"255.255.255.0"`, `"/64"`), for an IPv6 address without a mask its
//! default (`"/64"`, pmask `"/128"`). `nat_router6` and `nat_nmask6` are
//! there only when `nat_router6` is set; `scale_out`, `scale_out_members`
//! (`"ADDR ADDR …"`), `announce_device` and `announce_hold` only when one
//! of them is set, `scheduler_flags` only when set.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use crate::model::{Config, DEFAULT_PREFIX6, Host, Mask, Service};
use crate::strings::{QuoteMode, strip_quotes, translate_escapes};

/// Appends `s` as a JSON string literal.
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// An object being written: `{"k": v, …}` with one member per line.
struct Obj<'o> {
    out: &'o mut String,
    indent: usize,
    first: bool,
}

impl<'o> Obj<'o> {
    fn open(out: &'o mut String, indent: usize) -> Obj<'o> {
        out.push('{');
        Obj {
            out,
            indent,
            first: true,
        }
    }
    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('\n');
        for _ in 0..=self.indent {
            self.out.push_str("  ");
        }
        json_str(self.out, k);
        self.out.push_str(": ");
    }
    fn num(&mut self, k: &str, v: impl std::fmt::Display) {
        self.key(k);
        let _ = write!(self.out, "{v}");
    }
    fn flag(&mut self, k: &str, v: bool) {
        self.num(k, u8::from(v));
    }
    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        json_str(self.out, v);
    }
    fn opt_str(&mut self, k: &str, v: Option<&str>) {
        if let Some(v) = v {
            self.str(k, v);
        }
    }
    fn addr(&mut self, k: &str, v: IpAddr) {
        self.str(k, &v.to_string());
    }
    fn host(&mut self, k: &str, h: &Option<Host>) {
        self.addr(
            k,
            h.as_ref()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |h| h.addr),
        );
    }
    /// A mask; for an IPv6 address without one, `/DEFAULT`.
    fn mask(&mut self, k: &str, m: Mask, ipv6: bool, default: u8) {
        let m = if ipv6 && m.is_none() {
            Mask::Prefix(default)
        } else {
            m
        };
        self.str(k, &m.to_string());
    }
    fn close(self) {
        if !self.first {
            self.out.push('\n');
            for _ in 0..self.indent {
                self.out.push_str("  ");
            }
        }
        self.out.push('}');
    }
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push_str("  ");
    }
}

/// A send/expect value as nanny uses it: quotes stripped, escapes translated.
fn nanny_string(v: &str, mode: QuoteMode) -> String {
    let t = translate_escapes(strip_quotes(v, mode).as_bytes());
    String::from_utf8_lossy(&t.bytes).into_owned()
}

fn service(out: &mut String, s: &Service, level: usize, mode: QuoteMode, with_servers: bool) {
    let mut o = Obj::open(out, level);
    o.str("name", &s.name);
    o.flag("active", s.active);
    if let Some(a) = &s.address {
        o.str("address", &format!("{} {}", a.host.addr, a.device));
    }
    let v6 = s.is_ipv6();
    o.mask("vip_nmask", s.vip_nmask, v6, DEFAULT_PREFIX6);
    o.addr("sorry_server", s.sorry_server);
    o.num("fwmark", s.fwmark);
    o.num("port", s.port);
    o.str("protocol", s.protocol.as_str());
    o.str("scheduler", s.scheduler.as_str());
    if !s.scheduler_flags.is_empty() {
        o.str("scheduler_flags", &s.scheduler_flags.as_text());
    }
    o.num("persistent", s.persistent);
    o.mask("pmask", s.pmask, v6, 128);
    if let Some(v) = &s.send {
        o.str("send", &nanny_string(v, mode));
    }
    if let Some(v) = &s.expect {
        o.str("expect", &nanny_string(v, mode));
    }
    o.flag("use_regex", s.use_regex);
    o.opt_str("send_program", s.send_program_arg(mode));
    o.opt_str("load_monitor", s.load_monitor.as_deref());
    o.num("timeout", s.timeout);
    o.num("reentry", s.reentry);
    o.flag("quiesce_server", s.quiesce_server);
    o.str("client_monitor", &s.client_monitor);
    o.opt_str("start_cmd", s.start_cmd_arg(mode));
    o.opt_str("stop_cmd", s.stop_cmd_arg(mode));
    if s.master.is_some() {
        o.host("master", &s.master);
    }
    if let Some(items) = &s.dirs {
        o.key("dirs");
        o.out.push('[');
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                o.out.push_str(", ");
            }
            json_str(o.out, it);
        }
        o.out.push(']');
    }
    if with_servers {
        o.key("server");
        o.out.push('[');
        for (i, r) in s.servers.iter().enumerate() {
            o.out.push_str(if i > 0 { ",\n" } else { "\n" });
            indent(o.out, level + 2);
            let mut so = Obj::open(o.out, level + 2);
            so.str("name", &r.name);
            so.addr("address", r.address.addr);
            so.flag("active", r.active);
            so.num("weight", r.weight);
            so.num("port", r.port);
            so.close();
        }
        if !s.servers.is_empty() {
            o.out.push('\n');
            indent(o.out, level + 1);
        }
        o.out.push(']');
    }
    o.close();
}

/// The effective configuration as pretty-printed JSON (see the module
/// documentation for the shape). `mode` is the B3 quote handling applied to
/// `send`, `expect` and the commands.
pub fn to_json(config: &Config, mode: QuoteMode) -> String {
    let g = &config.global;
    let mut out = String::new();
    let mut top = Obj::open(&mut out, 0);
    top.key("global");
    let mut o = Obj::open(top.out, 1);
    o.num("serial_no", g.serial_no);
    o.str("service", g.service.as_str());
    o.host("primary", &g.primary);
    o.host("primary_private", &g.primary_private);
    o.opt_str("primary_shared", g.primary_shared.as_deref());
    o.host("backup", &g.backup);
    o.host("backup_private", &g.backup_private);
    o.opt_str("backup_shared", g.backup_shared.as_deref());
    o.flag("backup_active", g.backup_active);
    o.flag("heartbeat", g.heartbeat);
    o.num("heartbeat_port", g.heartbeat_port);
    o.num("keepalive", g.keepalive);
    o.num("deadtime", g.deadtime);
    o.str("network", g.network.as_str());
    if let Some(a) = &g.nat_router {
        o.str("nat_router", &format!("{} {}", a.host.addr, a.device));
    }
    let nat6 = g.nat_router.as_ref().is_some_and(|a| a.host.addr.is_ipv6());
    o.mask("nat_nmask", g.nat_nmask, nat6, DEFAULT_PREFIX6);
    if let Some(a) = &g.nat_router6 {
        o.str("nat_router6", &format!("{} {}", a.host.addr, a.device));
        o.mask("nat_nmask6", g.nat_nmask6, true, DEFAULT_PREFIX6);
    }
    o.opt_str(
        "reservation_conflict_action",
        g.reservation_conflict_action.map(|a| a.as_str()),
    );
    o.str("debug_level", &g.debug_level);
    o.num("monitor_links", g.monitor_links);
    o.flag("syncdaemon", g.syncdaemon);
    o.str("syncd_iface", &g.syncd_iface);
    o.num("syncd_id", g.syncd_id);
    o.num("tcp_timeout", g.tcp_timeout);
    o.num("tcpfin_timeout", g.tcpfin_timeout);
    o.num("udp_timeout", g.udp_timeout);
    o.flag("hard_shutdown", g.hard_shutdown);
    o.opt_str("active_cmd", g.active_cmd.as_deref());
    o.opt_str("inactive_cmd", g.inactive_cmd.as_deref());
    o.str("rsh_command", &g.rsh_command);
    o.str("ipvsadm", &g.ipvsadm);
    o.flag("sync", g.sync);
    if g.has_scale_out_keys() {
        o.flag("scale_out", g.scale_out);
        let members: Vec<String> = g.scale_out_members.iter().map(|a| a.to_string()).collect();
        o.str("scale_out_members", &members.join(" "));
        o.str("announce_device", g.announce_device());
        o.num("announce_hold", g.announce_hold().as_secs());
    }
    o.close();
    for (key, list, with_servers) in [
        ("virtual", &config.virtuals, true),
        ("failover", &config.failovers, false),
    ] {
        top.key(key);
        top.out.push('[');
        for (i, s) in list.iter().enumerate() {
            top.out.push_str(if i > 0 { ",\n" } else { "\n" });
            indent(top.out, 2);
            service(top.out, s, 2, mode, with_servers);
        }
        if !list.is_empty() {
            top.out.push('\n');
            indent(top.out, 1);
        }
        top.out.push(']');
    }
    top.close();
    out.push('\n');
    out
}
