//! The one namespace lab of the test suites: a switch namespace with a
//! public bridge (`br0`) and, if asked, a real-server bridge (`br1`);
//! routers on the public network (optionally on the real-server network
//! too, or joined by a private link of their own); a client; real servers.
//! The pulse and fos namespace tests and [`crate::cluster`] (the VM
//! end-to-end tests and the demo) build their labs with it and add their
//! own daemons on top.
//!
//! ```text
//!   switch PREFIXsw: br0 (public)  port NODEp <-> NODE eth0
//!                    br1 (real)    port NODEq <-> router eth1 / server eth0
//!   private link:    router[0] eth1 <-> router[1] eth1 (a veth, no switch)
//! ```
//!
//! Namespace names are `PREFIX` + node name (e.g. `lp07r1`): `PREFIX`
//! carries the test's tag, so every test has its own namespaces; it and the
//! node names must keep the whole within 15 characters (switch ports are
//! `NODEp`/`NODEq`, well within IFNAMSIZ). Every namespace is deleted when
//! its [`Host`] or the [`Switch`] drops: an owner declares its hosts (and
//! the daemons running on them) before the switch.
//!
//! Also here: [`resolve`] (fill a neighbour table), link cutting at the
//! switch ([`Switch::link`], [`Switch::connect`]), ARP captures
//! ([`Host::arp_watch`], [`Host::arp_capture`]), the pieces of a dump
//! ([`Host::addrs`], [`Host::udp_sockets`], [`Host::processes`]) and a
//! node's log file ([`Log`], [`Host::command_logged`]).

use std::fs::File;
use std::net::UdpSocket;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::arpwatch::ArpWatch;
use crate::netns::{Netns, PacketCapture, veth, wait_for};

/// A node of the lab: its namespace, its name and its address (on its
/// first network). Dereferences to its [`Netns`].
#[derive(Debug)]
pub struct Host {
    pub ns: Netns,
    /// `r1`, `c`, `d2`, …: the node part of the namespace name.
    pub name: String,
    /// Its address on `eth0`.
    pub address: String,
}

impl Deref for Host {
    type Target = Netns;
    fn deref(&self) -> &Netns {
        &self.ns
    }
}

impl Host {
    /// Makes this host resolve `ip` (UDP probes to port 9 until its
    /// neighbour table has a MAC for it), waiting at most `timeout`.
    pub fn resolve_within(&self, ip: &str, timeout: Duration) -> bool {
        resolve(&self.ns, ip, timeout)
    }

    /// This host's neighbour entry for `ip` on eth0 (`ip neigh show`).
    pub fn neigh(&self, ip: &str) -> String {
        self.ns.ip(&["neigh", "show", ip, "dev", "eth0"])
    }

    /// The MAC this host has for `ip` on eth0, if it has one.
    pub fn neigh_mac(&self, ip: &str) -> Option<String> {
        let out = self.neigh(ip);
        let after = out.split("lladdr ").nth(1)?;
        after.split_whitespace().next().map(String::from)
    }

    /// `ip -o -4 addr show dev DEV` (every device: `None`).
    pub fn addrs(&self, dev: Option<&str>) -> String {
        match dev {
            Some(d) => self.ns.ip(&["-o", "-4", "addr", "show", "dev", d]),
            None => self.ns.ip(&["-o", "-4", "addr", "show"]),
        }
    }

    /// Writes `value` to the sysctl `KEY` (dots) of this host.
    pub fn sysctl(&self, key: &str, value: &str) {
        sysctl(&self.ns, key, value);
    }

    /// Records the ARP frames sent by `ip` as this host receives them.
    pub fn arp_watch(&self, ip: &str) -> ArpWatch {
        ArpWatch::start(&self.ns, ip)
    }

    /// A packet socket receiving every ARP frame this host sees.
    pub fn arp_capture(&self) -> PacketCapture {
        PacketCapture::arp(&self.ns)
    }

    /// A command running `prog` in the namespace with no input and its
    /// output (stdout and stderr) appended to `log`.
    pub fn command_logged(&self, prog: impl AsRef<std::ffi::OsStr>, log: &Log) -> Command {
        let file = File::options()
            .create(true)
            .append(true)
            .open(&log.path)
            .unwrap_or_else(|e| panic!("{}: {e}", log.path.display()));
        let mut cmd = self.ns.command(prog);
        cmd.stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file);
        cmd
    }

    /// `ss -uanp` in the namespace: who holds which UDP port.
    pub fn udp_sockets(&self) -> String {
        self.ns
            .command("ss")
            .args(["-uanp"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// The processes in the namespace, one `PID CMDLINE` a line.
    pub fn processes(&self) -> String {
        let pids: Vec<String> = self
            .ns
            .pids()
            .iter()
            .map(|p| {
                let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
                format!("{p} {}", String::from_utf8_lossy(&cmd).replace('\0', " "))
            })
            .collect();
        pids.join("\n")
    }
}

/// The switch: a namespace with the bridges and one port per plugged
/// interface. Dereferences to its [`Netns`].
#[derive(Debug)]
pub struct Switch {
    pub ns: Netns,
    /// `(host, port, bridge)` of every plugged interface.
    ports: Vec<(String, String, String)>,
}

impl Deref for Switch {
    type Target = Netns;
    fn deref(&self) -> &Netns {
        &self.ns
    }
}

impl Switch {
    /// A switch namespace `name` with the bridges `bridges`, up.
    pub fn new(name: &str, bridges: &[&str]) -> Switch {
        let ns = Netns::new(name);
        for br in bridges {
            ns.ip(&["link", "add", br, "type", "bridge"]);
            ns.ip(&["link", "set", br, "up"]);
        }
        Switch {
            ns,
            ports: Vec::new(),
        }
    }

    /// Plugs `host`'s interface `dev` into `bridge` through switch port
    /// `port` (a veth pair, both ends up).
    pub fn plug(&mut self, host: &Host, dev: &str, port: &str, bridge: &str) {
        veth(&self.ns, port, &host.ns, dev);
        self.ns.ip(&["link", "set", port, "master", bridge]);
        self.ports
            .push((host.name.clone(), port.into(), bridge.into()));
    }

    /// The switch port of `host`'s first plugged interface.
    pub fn port(&self, host: &str) -> &str {
        self.entry(host).1.as_str()
    }

    fn entry(&self, host: &str) -> &(String, String, String) {
        self.ports
            .iter()
            .find(|(h, _, _)| h == host)
            .unwrap_or_else(|| panic!("{host} is not plugged into the switch"))
    }

    /// Sets `host`'s (first) switch port down or up: the cable is pulled,
    /// `host` sees its link lose the carrier.
    pub fn link(&self, host: &str, up: bool) {
        let port = self.port(host).to_string();
        self.ns
            .ip(&["link", "set", &port, if up { "up" } else { "down" }]);
    }

    /// Takes `host`'s (first) port off its bridge (`false`) or puts it back
    /// (`true`): `host` keeps its carrier but reaches nobody.
    pub fn connect(&self, host: &str, connected: bool) {
        let (_, port, bridge) = self.entry(host).clone();
        if connected {
            self.ns.ip(&["link", "set", &port, "master", &bridge]);
        } else {
            self.ns.ip(&["link", "set", &port, "nomaster"]);
        }
    }
}

/// What to build; see [`Lab::builder`].
#[derive(Debug, Clone)]
pub struct Builder {
    prefix: String,
    prefix_len: u8,
    routers: Vec<(String, String)>,
    router_gateway: Option<String>,
    private: Option<[String; 2]>,
    real_net: Option<Vec<String>>,
    client: Option<(String, String)>,
    servers: Vec<(String, String)>,
    server_gateway: Option<String>,
    ready_timeout: Duration,
}

/// The built lab, for its owner to take apart: typically the hosts move
/// into the suite's own types (a router with its daemon), declared before
/// the switch so they drop first.
#[derive(Debug)]
pub struct Lab {
    pub routers: Vec<Host>,
    pub client: Host,
    pub servers: Vec<Host>,
    pub switch: Switch,
}

impl Lab {
    /// A lab whose namespaces are named `PREFIX` + node; every network is
    /// a /24 unless [`Builder::prefix_len`] says otherwise.
    pub fn builder(prefix: &str) -> Builder {
        Builder {
            prefix: prefix.into(),
            prefix_len: 24,
            routers: Vec::new(),
            router_gateway: None,
            private: None,
            real_net: None,
            client: None,
            servers: Vec::new(),
            server_gateway: None,
            ready_timeout: Duration::from_secs(10),
        }
    }
}

impl Builder {
    /// The prefix length of every address.
    pub fn prefix_len(mut self, len: u8) -> Builder {
        self.prefix_len = len;
        self
    }

    /// A router `name` with `address` on the public network (eth0).
    pub fn router(mut self, name: &str, address: &str) -> Builder {
        self.routers.push((name.into(), address.into()));
        self
    }

    /// The routers' default route.
    pub fn router_gateway(mut self, gw: &str) -> Builder {
        self.router_gateway = Some(gw.into());
        self
    }

    /// A private link (a veth, `eth1`) straight between the first two
    /// routers, with these addresses.
    pub fn private_link(mut self, a: &str, b: &str) -> Builder {
        self.private = Some([a.into(), b.into()]);
        self
    }

    /// A real-server network (bridge `br1`) with the routers on it
    /// (`eth1`, one address each, in order).
    pub fn real_network(mut self, router_addresses: &[&str]) -> Builder {
        self.real_net = Some(router_addresses.iter().map(|a| a.to_string()).collect());
        self
    }

    /// The client `name` with `address` on the public network.
    pub fn client(mut self, name: &str, address: &str) -> Builder {
        self.client = Some((name.into(), address.into()));
        self
    }

    /// A real server `name` with `address` (eth0) on the real-server
    /// network if there is one, else on the public network.
    pub fn server(mut self, name: &str, address: &str) -> Builder {
        self.servers.push((name.into(), address.into()));
        self
    }

    /// The real servers' default route.
    pub fn server_gateway(mut self, gw: &str) -> Builder {
        self.server_gateway = Some(gw.into());
        self
    }

    /// How long each reachability check of [`Builder::build`] may take.
    pub fn ready_timeout(mut self, t: Duration) -> Builder {
        self.ready_timeout = t;
        self
    }

    /// Builds the namespaces and links, then waits until the bridge ports
    /// forward: the client resolves every router, the first router every
    /// real server of the real-server network.
    pub fn build(self) -> Lab {
        let len = self.prefix_len;
        let n = |node: &str| format!("{}{node}", self.prefix);
        let host = |name: &str, address: &str| Host {
            ns: Netns::new(&n(name)),
            name: name.into(),
            address: address.into(),
        };
        let cidr = |a: &str| format!("{a}/{len}");
        let bridges: &[&str] = if self.real_net.is_some() {
            &["br0", "br1"]
        } else {
            &["br0"]
        };
        let mut switch = Switch::new(&n("sw"), bridges);
        let mut routers = Vec::new();
        for (i, (name, address)) in self.routers.iter().enumerate() {
            let h = host(name, address);
            switch.plug(&h, "eth0", &format!("{name}p"), "br0");
            h.ip(&["addr", "add", &cidr(address), "dev", "eth0"]);
            if let Some(real) = &self.real_net {
                switch.plug(&h, "eth1", &format!("{name}q"), "br1");
                h.ip(&["addr", "add", &cidr(&real[i]), "dev", "eth1"]);
            }
            if let Some(gw) = &self.router_gateway {
                h.ip(&["route", "add", "default", "via", gw]);
            }
            routers.push(h);
        }
        if let Some([a, b]) = &self.private {
            let (r1, r2) = (&routers[0], &routers[1]);
            veth(r1, "eth1", r2, "eth1");
            r1.ip(&["addr", "add", &cidr(a), "dev", "eth1"]);
            r2.ip(&["addr", "add", &cidr(b), "dev", "eth1"]);
        }
        let (cname, caddr) = self.client.clone().expect("a lab has a client");
        let client = host(&cname, &caddr);
        switch.plug(&client, "eth0", &format!("{cname}p"), "br0");
        client.ip(&["addr", "add", &cidr(&caddr), "dev", "eth0"]);
        let (bridge, suffix) = if self.real_net.is_some() {
            ("br1", "q")
        } else {
            ("br0", "p")
        };
        let mut servers = Vec::new();
        for (name, address) in &self.servers {
            let h = host(name, address);
            switch.plug(&h, "eth0", &format!("{name}{suffix}"), bridge);
            h.ip(&["addr", "add", &cidr(address), "dev", "eth0"]);
            if let Some(gw) = &self.server_gateway {
                h.ip(&["route", "add", "default", "via", gw]);
            }
            servers.push(h);
        }
        let lab = Lab {
            routers,
            client,
            servers,
            switch,
        };
        // Bridge ports forwarding, addresses settled, neighbours reachable.
        for r in &lab.routers {
            assert!(
                lab.client.resolve_within(&r.address, self.ready_timeout),
                "lab network does not come up: the client cannot reach {}",
                r.name
            );
        }
        if self.real_net.is_some()
            && let Some(r) = lab.routers.first()
        {
            for s in &lab.servers {
                assert!(
                    r.resolve_within(&s.address, self.ready_timeout),
                    "lab network does not come up: {} cannot reach {}",
                    r.name,
                    s.name
                );
            }
        }
        lab
    }
}

/// A log file the programs of a node append to, read back by the tests.
#[derive(Debug, Clone)]
pub struct Log {
    pub path: PathBuf,
}

impl Log {
    pub fn new(path: impl Into<PathBuf>) -> Log {
        Log { path: path.into() }
    }

    /// Everything so far (empty if nothing was written).
    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.path).unwrap_or_default()
    }

    /// Whether a line is exactly `line`.
    pub fn has(&self, line: &str) -> bool {
        self.text().lines().any(|l| l == line)
    }

    /// How many lines are exactly `line`.
    pub fn count(&self, line: &str) -> usize {
        self.text().lines().filter(|l| *l == line).count()
    }

    /// Waits at most `timeout` for a line that is exactly `line`.
    pub fn wait(&self, line: &str, timeout: Duration) -> bool {
        wait_for(timeout, || self.has(line))
    }
}

/// The lines of the file at `path` (none if it does not exist): a test
/// helper's records.
pub fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// Sends UDP datagrams (port 9) from `ns` to `ip` until `ns` has a
/// neighbour entry with a MAC for it, at most `timeout`.
/// IPv6 addresses work too.
pub fn resolve(ns: &Netns, ip: &str, timeout: Duration) -> bool {
    let addr: std::net::IpAddr = ip.parse().expect("an IP address");
    let any = if addr.is_ipv6() {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    };
    let sock = ns.enter(|| UdpSocket::bind(any).expect("udp socket"));
    let to = std::net::SocketAddr::new(addr, 9);
    wait_for(timeout, || {
        let _ = sock.send_to(b"probe", to);
        std::thread::sleep(Duration::from_millis(50));
        ns.ip(&["neigh", "show", ip]).contains("lladdr")
    })
}

/// Writes `value` to the sysctl `/proc/sys/KEY` (dots as slashes) of `ns`.
pub fn sysctl(ns: &Netns, key: &str, value: &str) {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    ns.enter(|| std::fs::write(&path, value))
        .unwrap_or_else(|e| panic!("{}: {path}: {e}", ns.name()));
}
