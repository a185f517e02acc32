//! What each screen shows (pure), and the templates that draw it.
//!
//! Templates are minijinja's, embedded in the binary, with HTML escaping
//! of every value (their names end in `.html`): a value from lvs.cf or the
//! kernel is always text, never markup.

use std::sync::OnceLock;

use lvscf::{Config, Host, Service};
use minijinja::Environment;
use serde::Serialize;

/// lvs.cf keys that name a program to run (as root, by pulse, lvsd or
/// nanny). The web tool shows them and never changes them: whoever knows
/// the web password would otherwise be root.
pub const COMMAND_KEYS: [&str; 9] = [
    "send_program",
    "active_cmd",
    "inactive_cmd",
    "start_cmd",
    "stop_cmd",
    "client_monitor",
    "ipvsadm",
    "rsh_command",
    "load_monitor",
];

/// The style sheet, inside every page.
pub const CSS: &str = include_str!("../templates/piranha.css");

/// The monitoring page's script.
pub const MONITOR_JS: &str = include_str!("../templates/monitor.js");

const TEMPLATES: [(&str, &str); 16] = [
    ("charts.html", include_str!("../templates/charts.html")),
    (
        "failovers.html",
        include_str!("../templates/failovers.html"),
    ),
    ("failover.html", include_str!("../templates/failover.html")),
    (
        "control_body.html",
        include_str!("../templates/control_body.html"),
    ),
    ("history.html", include_str!("../templates/history.html")),
    ("password.html", include_str!("../templates/password.html")),
    ("virtual.html", include_str!("../templates/virtual.html")),
    ("server.html", include_str!("../templates/server.html")),
    ("layout.html", include_str!("../templates/layout.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("control.html", include_str!("../templates/control.html")),
    ("settings.html", include_str!("../templates/settings.html")),
    ("virtuals.html", include_str!("../templates/virtuals.html")),
    ("message.html", include_str!("../templates/message.html")),
    ("pager.html", include_str!("../templates/pager.html")),
    ("fields.html", include_str!("../templates/fields.html")),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut e = Environment::new();
        for (name, text) in TEMPLATES {
            e.add_template(name, text).expect("embedded template");
        }
        e
    })
}

/// Renders template `name` with `ctx`.
pub fn render<S: Serialize>(name: &str, ctx: S) -> Result<String, String> {
    env()
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|e| format!("template {name}: {e:#}"))
}

/// How a field is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A text input.
    Text,
    /// A choice of `options`.
    Select,
    /// A check box (`value` "1" when set).
    Check,
    /// Shown, never editable (a program lvs.cf names, or `serial_no`).
    Fixed,
}

/// One field of a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// The lvs.cf key (and form field name).
    pub key: &'static str,
    /// What the screen calls it.
    pub label: &'static str,
    /// Its value as lvs.cf would write it ("" when unset).
    pub value: String,
    /// How it is shown.
    pub kind: Kind,
    /// The choices of a [`Kind::Select`].
    pub options: Vec<&'static str>,
}

fn field(key: &'static str, label: &'static str, value: impl ToString, kind: Kind) -> Field {
    let kind = if COMMAND_KEYS.contains(&key) {
        Kind::Fixed
    } else {
        kind
    };
    Field {
        key,
        label,
        value: value.to_string(),
        kind,
        options: Vec::new(),
    }
}

fn select(key: &'static str, label: &'static str, value: &str, options: &[&'static str]) -> Field {
    Field {
        options: options.to_vec(),
        ..field(key, label, value, Kind::Select)
    }
}

fn check(key: &'static str, label: &'static str, on: bool) -> Field {
    field(key, label, if on { "1" } else { "" }, Kind::Check)
}

/// A host as lvs.cf gave it (the name when it gave a name).
pub fn host(h: &Option<Host>) -> String {
    match h {
        None => String::new(),
        Some(Host { name: Some(n), .. }) => n.clone(),
        Some(Host { addr, .. }) => addr.to_string(),
    }
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

/// Keys whose values lvs.cf keeps with their quotes (§3.2) and a form
/// shows without them: the monitoring strings.
pub const QUOTED_KEYS: [&str; 2] = ["send", "expect"];

/// A stored value without the quotes around it (`"GET /"` is `GET /`).
pub fn unquote(v: &str) -> &str {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// How a string typed into a form is stored: as it is when it is one word
/// that does not start with a quote, else in double quotes (single ones
/// when it has a double quote); refused when it has both.
pub fn quote_value(v: &str) -> Result<String, String> {
    let plain =
        !v.is_empty() && !v.bytes().any(|b| b == b' ' || b == b'\t') && !v.starts_with(['"', '\'']);
    if v.is_empty() || plain {
        Ok(v.to_string())
    } else if !v.contains('"') {
        Ok(format!("\"{v}\""))
    } else if !v.contains('\'') {
        Ok(format!("'{v}'"))
    } else {
        Err("a string with blanks cannot hold both quote characters (\" and ')".to_string())
    }
}

/// A mask as the form shows it: empty for none, else as lvs.cf writes it
/// (`255.255.255.0`, `/64`).
fn mask(m: lvscf::Mask) -> String {
    if m.is_none() {
        String::new()
    } else {
        m.to_string()
    }
}

/// An address whose 0.0.0.0 means none (`sorry_server`).
fn addr_or_none(m: std::net::IpAddr) -> String {
    if m.is_unspecified() {
        String::new()
    } else {
        m.to_string()
    }
}

/// GLOBAL SETTINGS: every global key but the redundancy ones.
pub fn global_fields(cfg: &Config) -> Vec<Field> {
    let g = &cfg.global;
    let (nat_ip, nat_dev) = match &g.nat_router {
        Some(r) => (host(&Some(r.host.clone())), r.device.clone()),
        None => (String::new(), String::new()),
    };
    vec![
        field(
            "serial_no",
            "Configuration serial number",
            g.serial_no,
            Kind::Fixed,
        ),
        select("service", "Service", g.service.as_str(), &["lvs", "fos"]),
        field(
            "primary",
            "Primary server public IP",
            host(&g.primary),
            Kind::Text,
        ),
        field(
            "primary_private",
            "Primary server private IP",
            host(&g.primary_private),
            Kind::Text,
        ),
        field(
            "primary_shared",
            "Primary shared SCSI device",
            opt(&g.primary_shared),
            Kind::Text,
        ),
        select(
            "network",
            "Use network type",
            g.network.as_str(),
            &["nat", "direct", "tunnel"],
        ),
        field("nat_router_ip", "NAT router IP", nat_ip, Kind::Text),
        field(
            "nat_router_device",
            "NAT router device",
            nat_dev,
            Kind::Text,
        ),
        field(
            "nat_nmask",
            "NAT router netmask",
            mask(g.nat_nmask),
            Kind::Text,
        ),
        field("debug_level", "Debug level", &g.debug_level, Kind::Text),
        field("tcp_timeout", "TCP timeout (s)", g.tcp_timeout, Kind::Text),
        field(
            "tcpfin_timeout",
            "TCP FIN timeout (s)",
            g.tcpfin_timeout,
            Kind::Text,
        ),
        field("udp_timeout", "UDP timeout (s)", g.udp_timeout, Kind::Text),
        check("hard_shutdown", "Hard shutdown", g.hard_shutdown),
        select(
            "reservation_conflict_action",
            "Reservation conflict action",
            g.reservation_conflict_action.map_or("", |a| a.as_str()),
            &["", "nothing", "preempt"],
        ),
        field(
            "active_cmd",
            "Command when active",
            opt(&g.active_cmd),
            Kind::Text,
        ),
        field(
            "inactive_cmd",
            "Command when inactive",
            opt(&g.inactive_cmd),
            Kind::Text,
        ),
        field("ipvsadm", "ipvsadm", &g.ipvsadm, Kind::Text),
        field(
            "rsh_command",
            "Remote copy command",
            &g.rsh_command,
            Kind::Text,
        ),
    ]
}

/// REDUNDANCY: the backup router and the heartbeat.
pub fn redundancy_fields(cfg: &Config) -> Vec<Field> {
    let g = &cfg.global;
    vec![
        check("backup_active", "Backup router enabled", g.backup_active),
        field(
            "backup",
            "Redundant server public IP",
            host(&g.backup),
            Kind::Text,
        ),
        field(
            "backup_private",
            "Redundant server private IP",
            host(&g.backup_private),
            Kind::Text,
        ),
        field(
            "backup_shared",
            "Redundant shared SCSI device",
            opt(&g.backup_shared),
            Kind::Text,
        ),
        check("heartbeat", "Heartbeat", g.heartbeat),
        field(
            "heartbeat_port",
            "Heartbeat runs on port",
            g.heartbeat_port,
            Kind::Text,
        ),
        field(
            "keepalive",
            "Heartbeat interval (seconds)",
            g.keepalive,
            Kind::Text,
        ),
        field(
            "deadtime",
            "Assume dead after (seconds)",
            g.deadtime,
            Kind::Text,
        ),
        check(
            "monitor_links",
            "Monitor NIC links for failures",
            g.monitor_links != 0,
        ),
        check("syncdaemon", "Use sync daemon", g.syncdaemon),
        field(
            "syncd_iface",
            "Sync daemon interface",
            &g.syncd_iface,
            Kind::Text,
        ),
        field("syncd_id", "Sync daemon id", g.syncd_id, Kind::Text),
    ]
}

fn zero_empty(n: impl Into<i64>) -> String {
    let n = n.into();
    if n == 0 { String::new() } else { n.to_string() }
}

/// The choices of `scheduler_flags` (extension, with `scheduler = mh`):
/// none, or the lvs.cf spellings of `lvscf::SchedulerFlags`.
pub const SCHEDULER_FLAGS: [&str; 4] = ["", "mh-port", "mh-fallback", "mh-port,mh-fallback"];

/// VIRTUAL SERVER: every key of a virtual block but its real servers.
/// `name` is the block's name (a change renames it).
pub fn virtual_fields(s: &Service) -> Vec<Field> {
    let (vip, dev) = vip_and_device(s);
    // Piranha's schedulers and the extensions (`mh`, which scale-out mode
    // requires): a file using one must keep it when the form is saved
    let schedulers: Vec<&'static str> = lvscf::Scheduler::ALL
        .iter()
        .chain(&lvscf::Scheduler::EXTENSIONS)
        .map(|x| x.as_str())
        .collect();
    let mut fields = vec![
        field("name", "Name", &s.name, Kind::Text),
        field("vip", "Virtual IP address", vip, Kind::Text),
        field("device", "Virtual IP network device", dev, Kind::Text),
        field(
            "vip_nmask",
            "Virtual IP network mask",
            mask(s.vip_nmask),
            Kind::Text,
        ),
        field("port", "Application port", s.port, Kind::Text),
        select("protocol", "Protocol", s.protocol.as_str(), &["tcp", "udp"]),
        field("fwmark", "Firewall mark", zero_empty(s.fwmark), Kind::Text),
        Field {
            options: schedulers,
            ..field(
                "scheduler",
                "Scheduling",
                s.scheduler.as_str(),
                Kind::Select,
            )
        },
        select(
            "scheduler_flags",
            "Scheduler flags (mh)",
            &s.scheduler_flags.as_text(),
            &SCHEDULER_FLAGS,
        ),
        field(
            "persistent",
            "Persistence (seconds)",
            zero_empty(s.persistent),
            Kind::Text,
        ),
        field(
            "pmask",
            "Persistence network mask",
            mask(s.pmask),
            Kind::Text,
        ),
        field(
            "timeout",
            "Service timeout (seconds)",
            s.timeout,
            Kind::Text,
        ),
        field("reentry", "Re-entry time (seconds)", s.reentry, Kind::Text),
        check("quiesce_server", "Quiesce server", s.quiesce_server),
        field(
            "sorry_server",
            "Sorry server",
            addr_or_none(s.sorry_server),
            Kind::Text,
        ),
    ];
    fields.extend(monitoring_fields(s));
    fields.extend([
        field(
            "load_monitor",
            "Load monitoring tool",
            opt(&s.load_monitor),
            Kind::Text,
        ),
        field(
            "client_monitor",
            "Monitor program",
            &s.client_monitor,
            Kind::Text,
        ),
    ]);
    fields
}

/// VIP and device of a virtual or failover block's `address`.
fn vip_and_device(s: &Service) -> (String, String) {
    match &s.address {
        Some(a) => (host(&Some(a.host.clone())), a.device.clone()),
        None => (String::new(), String::new()),
    }
}

/// MONITORING SCRIPTS: the check a virtual or failover block's nanny runs.
fn monitoring_fields(s: &Service) -> [Field; 4] {
    [
        field(
            "send",
            "Send string",
            unquote(&opt(&s.send)).to_string(),
            Kind::Text,
        ),
        field(
            "expect",
            "Expect string",
            unquote(&opt(&s.expect)).to_string(),
            Kind::Text,
        ),
        check(
            "use_regex",
            "Treat expect string as a regular expression",
            s.use_regex,
        ),
        field(
            "send_program",
            "Sending program",
            opt(&s.send_program),
            Kind::Text,
        ),
    ]
}

/// FAILOVER: a failover block (`service = fos`).
pub fn failover_fields(s: &Service) -> Vec<Field> {
    let (vip, dev) = vip_and_device(s);
    let mut fields = vec![
        field("name", "Name", &s.name, Kind::Text),
        field("vip", "Virtual IP address", vip, Kind::Text),
        field("device", "Virtual IP network device", dev, Kind::Text),
        field(
            "vip_nmask",
            "Virtual IP network mask",
            mask(s.vip_nmask),
            Kind::Text,
        ),
        field("port", "Application port", s.port, Kind::Text),
        field(
            "timeout",
            "Service timeout (seconds)",
            s.timeout,
            Kind::Text,
        ),
    ];
    fields.extend(monitoring_fields(s));
    fields.extend([
        field("start_cmd", "Start command", opt(&s.start_cmd), Kind::Text),
        field("stop_cmd", "Stop command", opt(&s.stop_cmd), Kind::Text),
    ]);
    fields
}

/// REAL SERVER: a server block.
pub fn server_fields(r: &lvscf::RealServer) -> Vec<Field> {
    vec![
        field("name", "Name", &r.name, Kind::Text),
        field(
            "address",
            "Address",
            host(&Some(r.address.clone())),
            Kind::Text,
        ),
        field("port", "Port", r.port, Kind::Text),
        field("weight", "Weight", r.weight, Kind::Text),
        check("active", "Active", r.active),
    ]
}

/// A row of a virtual server's REAL SERVER table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerRow {
    /// `UP` or `DOWN` (the block's `active`).
    pub status: &'static str,
    /// Its name.
    pub name: String,
    /// Its address.
    pub address: String,
    /// Its port.
    pub port: u16,
    /// Its weight.
    pub weight: i32,
    /// Whether it is active.
    pub active: bool,
}

/// The real servers of `s`.
pub fn server_rows(s: &Service) -> Vec<ServerRow> {
    s.servers
        .iter()
        .map(|r| ServerRow {
            status: if r.active { "UP" } else { "DOWN" },
            name: r.name.clone(),
            address: host(&Some(r.address.clone())),
            port: r.port,
            weight: r.weight,
            active: r.active,
        })
        .collect()
}

/// A row of the VIRTUAL SERVERS table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualRow {
    /// `UP` or `DOWN` (the block's `active`).
    pub status: &'static str,
    /// The block's name.
    pub name: String,
    /// Virtual IP.
    pub vip: String,
    /// Its netmask.
    pub mask: String,
    /// Port (or firewall mark).
    pub port: String,
    /// `tcp` or `udp`.
    pub protocol: &'static str,
    /// Device.
    pub device: String,
    /// Scheduler.
    pub scheduler: &'static str,
    /// Real servers.
    pub servers: usize,
    /// Whether it is active.
    pub active: bool,
    /// The block's command keys (read-only): `(key, value)`.
    pub commands: Vec<(&'static str, String)>,
}

fn row(s: &Service) -> VirtualRow {
    let port = if s.fwmark != 0 {
        format!("{} (fwmark {})", s.port, s.fwmark)
    } else {
        s.port.to_string()
    };
    let commands = vec![
        ("send_program", opt(&s.send_program)),
        ("load_monitor", opt(&s.load_monitor)),
        (
            "client_monitor",
            if s.client_monitor == lvscf::DEFAULT_CLIENT_MONITOR {
                String::new()
            } else {
                s.client_monitor.clone()
            },
        ),
        ("start_cmd", opt(&s.start_cmd)),
        ("stop_cmd", opt(&s.stop_cmd)),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .collect();
    VirtualRow {
        status: if s.active { "UP" } else { "DOWN" },
        name: s.name.clone(),
        vip: s
            .address
            .as_ref()
            .map(|a| host(&Some(a.host.clone())))
            .unwrap_or_default(),
        mask: mask(s.vip_nmask),
        port,
        protocol: s.protocol.as_str(),
        device: s.device().unwrap_or_default().to_string(),
        scheduler: s.scheduler.as_str(),
        servers: s.servers.len(),
        active: s.active,
        commands,
    }
}

/// The VIRTUAL SERVERS table.
pub fn virtual_rows(cfg: &Config) -> Vec<VirtualRow> {
    cfg.virtuals.iter().map(row).collect()
}

/// One row of the VIRTUAL SERVERS table.
pub fn virtual_rows_of(s: &Service) -> VirtualRow {
    row(s)
}

/// The FAILOVER table.
pub fn failover_rows(cfg: &Config) -> Vec<VirtualRow> {
    cfg.failovers.iter().map(row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CF: &str = "serial_no = 7
primary = 10.0.0.1
service = lvs
backup_active = 1
backup = 10.0.0.2
heartbeat = 1
heartbeat_port = 539
keepalive = 2
deadtime = 0.5
network = nat
nat_router = 192.168.1.254 eth1:1
ipvsadm = /sbin/ipvsadm
virtual <script>alert(1)</script> {
     active = 1
     address = 10.0.0.100 eth0:1
     port = 80
     send_program = \"/bin/check --x=<b>\"
     server a {
         address = 192.168.1.10
         active = 1
     }
}
";

    fn cfg() -> Config {
        lvscf::parse_bytes_with(CF.as_bytes(), "lvs.cf", &lvscf::StaticResolver::default())
            .unwrap()
            .config
    }

    #[test]
    fn every_field_and_commands_fixed() {
        let c = cfg();
        let g = global_fields(&c);
        let get = |fs: &[Field], k: &str| fs.iter().find(|f| f.key == k).unwrap().clone();
        assert_eq!(get(&g, "primary").value, "10.0.0.1");
        assert_eq!(get(&g, "nat_router_device").value, "eth1:1");
        assert_eq!(get(&g, "serial_no").kind, Kind::Fixed);
        for k in ["active_cmd", "inactive_cmd", "ipvsadm", "rsh_command"] {
            assert_eq!(get(&g, k).kind, Kind::Fixed, "{k}");
        }
        let r = redundancy_fields(&c);
        assert_eq!(get(&r, "deadtime").value, "0.5");
        assert_eq!(get(&r, "backup_active").value, "1");
        let v = virtual_rows(&c);
        assert_eq!(v[0].name, "<script>alert(1)</script>");
        assert_eq!(v[0].vip, "10.0.0.100");
        assert_eq!(v[0].device, "eth0:1");
    }

    #[test]
    fn monitoring_strings_are_shown_without_their_quotes() {
        assert_eq!(unquote("\"GET / HTTP/1.0\\r\\n\""), "GET / HTTP/1.0\\r\\n");
        assert_eq!(unquote("'a b'"), "a b");
        assert_eq!(unquote("HTTP"), "HTTP");
        assert_eq!(unquote("\""), "\"");
        assert_eq!(unquote("\"a'"), "\"a'");
        assert_eq!(quote_value("HTTP").unwrap(), "HTTP");
        assert_eq!(quote_value("").unwrap(), "");
        assert_eq!(quote_value("GET / HTTP/1.0").unwrap(), "\"GET / HTTP/1.0\"");
        assert_eq!(quote_value("say \"hi\"").unwrap(), "'say \"hi\"'");
        assert_eq!(quote_value("\"x\"").unwrap(), "'\"x\"'");
        assert!(quote_value("it's \"x\"").is_err());
        for v in ["GET / HTTP/1.0\\r\\n", "x", "a 'b'", "\"q\""] {
            assert_eq!(unquote(&quote_value(v).unwrap()), v);
        }
    }

    #[test]
    fn values_are_escaped() {
        let c = cfg();
        let html = render(
            "virtuals.html",
            minijinja::context! { rows => virtual_rows(&c), csrf => "t", page => "virtual", css => CSS },
        )
        .unwrap();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{html}"
        );
        assert!(html.contains("--x=&lt;b&gt;"), "{html}");
    }
}
