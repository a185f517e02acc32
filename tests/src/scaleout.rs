//! A scale-out cluster in network namespaces (docs/scale-out.md), for the
//! VM end-to-end tests and `cargo xtask demo --scale-out`: a client behind
//! an upstream router running FRR (BGP multipath, BFD, ECMP with layer-4
//! hashing), up to four directors on one network, each running BIRD and
//! (when started) the suite, and four direct-routing real servers running
//! `lvs-test-httpd`.
//!
//! ```text
//!   client c 10.40.0.10 ── eth0/eth1 ── gw 10.40.0.254 | 10.30.0.254 (FRR)
//!   director network 10.30.0.0/24 (bridge br0): d1..d4 10.30.0.1-4 (BIRD,
//!     VIP 10.50.0.100 on lvs0 while serving), rs1..rs4 10.30.0.11-14 (the
//!     VIP on lo, default route via gw: replies go straight to the client)
//! ```
//!
//! Namespace names are `ls<tag><node>`; everything goes on drop.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::bgp::{self, Speaker, Upstream};
use crate::cluster::{Director, Family, RealServer, Session};
use crate::lab::{Host, Lab, Switch};
use crate::netns::{Netns, veth, wait_for};

/// The virtual IP every director announces.
pub const VIP: &str = "10.50.0.100";
/// The virtual service's port.
pub const PORT: u16 = 80;
/// The upstream router on the director network.
pub const GW: &str = "10.30.0.254";
/// The client network.
pub const CLIENT: &str = "10.40.0.10";
const GW_CLIENT_SIDE: &str = "10.40.0.254";
/// How many director namespaces exist (the tests start three, a fourth
/// joins later).
pub const DIRECTORS: usize = 4;
/// How many real servers.
pub const SERVERS: usize = 4;

/// Director `i`'s (0-based) address.
pub fn director_address(i: usize) -> String {
    format!("10.30.0.{}", 1 + i)
}

/// Real server `i`'s (0-based) address.
pub fn server_address(i: usize) -> String {
    format!("10.30.0.{}", 11 + i)
}

/// The VIP and port.
pub fn vip_addr() -> SocketAddr {
    SocketAddr::new(VIP.parse().expect("VIP"), PORT)
}

/// The scale-out lvs.cf every director runs with (the same file
/// everywhere: the config hash must match): `mh` with `mh-port` over the
/// four real servers, direct routing, nanny checks every second.
pub fn lvs_cf(members: usize) -> String {
    let members: Vec<String> = (0..members).map(director_address).collect();
    let mut servers = String::new();
    for i in 0..SERVERS {
        servers.push_str(&format!(
            "    server rs{n} {{\n        address = {a}\n        active = 1\n        weight = 1\n    }}\n",
            n = i + 1,
            a = server_address(i)
        ));
    }
    format!(
        "serial_no = 1\n\
         primary = {p}\n\
         service = lvs\n\
         scale_out = 1\n\
         scale_out_members = {m}\n\
         announce_device = lvs0\n\
         network = direct\n\
         \n\
         virtual web {{\n    \
             active = 1\n    \
             address = {VIP} lvs0\n    \
             port = {PORT}\n    \
             protocol = tcp\n    \
             scheduler = mh\n    \
             scheduler_flags = mh-port\n    \
             send = \"GET / HTTP/1.0\\r\\n\\r\\n\"\n    \
             expect = \"HTTP\"\n    \
             load_monitor = none\n    \
             timeout = 1\n    \
             reentry = 2\n    \
             client_monitor = {nanny}\n\
         {servers}}}\n",
        p = members[0],
        m = members.join(" "),
        nanny = crate::cluster::program("nanny").display(),
    )
}

/// One director: the cluster's [`Director`] (its suite) and its BIRD.
pub struct Member {
    pub d: Director,
    speaker: Option<Speaker>,
}

impl Member {
    /// Whether the VIP is on its `lvs0`.
    pub fn announces(&self) -> bool {
        self.d
            .ns
            .ip(&["-o", "-4", "addr", "show", "dev", "lvs0"])
            .contains(&format!("inet {VIP}/32"))
    }

    /// The real servers of the VIP's service in its kernel table.
    pub fn destinations(&self) -> Vec<String> {
        self.d.destinations_of(&format!("{VIP}:{PORT}"))
    }

    /// The weight of each real server (`ADDR:PORT`) of the VIP's service
    /// in its kernel table, sorted: a failed one stays at weight 0.
    pub fn weights(&self) -> Vec<(String, u32)> {
        self.d.weights_of(&format!("{VIP}:{PORT}"))
    }

    /// BIRD's log, for failure messages.
    pub fn bird_log(&self) -> String {
        self.speaker.as_ref().map(|s| s.log()).unwrap_or_default()
    }
}

/// The scale-out cluster. Fields drop in declaration order: daemons first,
/// the switch last.
pub struct ScaleOut {
    pub members: Vec<Member>,
    pub rs: Vec<RealServer>,
    upstream: Option<Upstream>,
    pub client: Netns,
    pub gw: Host,
    pub sw: Switch,
    pub dir: tempfile::TempDir,
    /// The directors [`ScaleOut::crash_with_link`] took down.
    crashed: Vec<usize>,
}

/// `lvs0` on a director, up: see [`create_lvs0`].
pub fn add_lvs0(h: &Host) {
    create_lvs0(h);
    h.ip(&["link", "set", "lvs0", "up"]);
}

/// `lvs0` on a director, down: a dummy interface (a veth end where the
/// kernel has no `dummy`, as on the development machines' host kernel).
pub fn create_lvs0(h: &Host) {
    if !h
        .ip_output(&["link", "add", "lvs0", "type", "dummy"])
        .status
        .success()
    {
        h.ip(&[
            "link", "add", "lvs0", "type", "veth", "peer", "name", "lvs0p",
        ]);
        h.ip(&["link", "set", "lvs0p", "up"]);
    }
}

/// `n` long-lived connections from `client` to the VIP, one request each:
/// the connections and who answered each; `Err` names the first that
/// failed.
pub fn open_sessions(client: &Netns, n: usize) -> Result<(Vec<Session>, Vec<String>), String> {
    let mut sessions = Vec::new();
    let mut first = Vec::new();
    for i in 0..n {
        let mut s = Session::open(client, vip_addr()).map_err(|e| format!("session {i}: {e}"))?;
        first.push(s.get().map_err(|e| format!("session {i}: {e}"))?);
        sessions.push(s);
    }
    Ok((sessions, first))
}

/// One more request on each session: how many the same real server
/// answered as `first`, and what happened to the others.
pub fn survivors(sessions: &mut [Session], first: &[String]) -> (usize, Vec<String>) {
    let mut same = 0;
    let mut failed = Vec::new();
    for (i, s) in sessions.iter_mut().enumerate() {
        match s.get() {
            Ok(b) if b == first[i] => same += 1,
            Ok(b) => failed.push(format!("#{i}: answered by {b}, first by {}", first[i])),
            Err(e) => failed.push(format!("#{i}: {e}")),
        }
    }
    (same, failed)
}

impl ScaleOut {
    /// Builds the namespaces, starts FRR on the upstream router, BIRD on
    /// every director and the real servers' HTTP servers. No suite runs
    /// yet. `tag`: at most 5 characters.
    pub fn new(tag: &str) -> ScaleOut {
        assert!(tag.len() <= 5, "tag {tag:?} too long");
        let prefix = format!("ls{tag}");
        let mut b = Lab::builder(&prefix).client("gw", GW);
        for i in 0..DIRECTORS {
            b = b.router(&format!("d{}", i + 1), &director_address(i));
        }
        for i in 0..SERVERS {
            b = b.server(&format!("r{}", i + 1), &server_address(i));
        }
        let lab = b.build();
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");

        let gw = lab.client;
        let client = Netns::new(&format!("{prefix}c"));
        veth(&gw, "eth1", &client, "eth0");
        gw.ip(&[
            "addr",
            "add",
            &format!("{GW_CLIENT_SIDE}/24"),
            "dev",
            "eth1",
        ]);
        client.ip(&["addr", "add", &format!("{CLIENT}/24"), "dev", "eth0"]);
        client.ip(&["route", "add", "default", "via", GW_CLIENT_SIDE]);
        gw.sysctl("net.ipv4.ip_forward", "1");
        gw.sysctl("net.ipv4.fib_multipath_hash_policy", "1");
        let upstream = Upstream::start(&gw, dir.path(), GW, "10.30.0.0/24");

        let mut members = Vec::new();
        for (i, ns) in lab.routers.into_iter().enumerate() {
            add_lvs0(&ns);
            ns.ip(&["route", "add", "default", "via", GW]);
            let speaker = Speaker::start(&ns, dir.path(), &director_address(i), GW);
            members.push(Member {
                d: Director::new(ns, &format!("d{}", i + 1), Family::V4, dir.path()),
                speaker: Some(speaker),
            });
        }
        let mut rs = Vec::new();
        for (i, ns) in lab.servers.into_iter().enumerate() {
            // accept packets for the VIP, never answer ARP for it
            ns.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "lo"]);
            ns.sysctl("net.ipv4.conf.all.arp_ignore", "1");
            ns.sysctl("net.ipv4.conf.all.arp_announce", "2");
            ns.ip(&["route", "add", "default", "via", GW]);
            let mut r = RealServer::new(ns, &format!("rs{}", i + 1), Family::V4);
            r.start();
            rs.push(r);
        }
        ScaleOut {
            members,
            rs,
            upstream: Some(upstream),
            client,
            gw,
            sw: lab.switch,
            dir,
            crashed: Vec::new(),
        }
    }

    /// Starts the suite (pulse in scale-out mode, which starts lvsd and the
    /// nannies) on director `i` with [`lvs_cf`]`(members)`.
    pub fn start(&mut self, i: usize, members: usize) {
        self.members[i].d.start(&lvs_cf(members), &[]);
    }

    /// The next hops the upstream router has for the VIP (sorted).
    pub fn next_hops(&self) -> Vec<String> {
        bgp::next_hops(&self.gw, VIP)
    }

    /// Waits until the upstream router's route to the VIP goes through
    /// exactly directors `which` (0-based).
    pub fn wait_next_hops(&self, which: &[usize], timeout: Duration) -> bool {
        let want: Vec<String> = which.iter().map(|&i| director_address(i)).collect();
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        bgp::wait_next_hops(&self.gw, VIP, &want, timeout)
    }

    /// Waits until every BFD session of the directors in `which` is up.
    pub fn wait_bfd(&self, which: usize, timeout: Duration) -> bool {
        let up = self.upstream.as_ref().expect("FRR runs");
        wait_for(timeout, || up.bfd_up(&self.gw) >= which)
    }

    /// Director `i` dies: its link goes down at the switch first (so no
    /// BGP notification or TCP reset gets out: the upstream router must
    /// find out through BFD), then every process of it is killed (see
    /// [`Director::crash_all`]; BIRD with them). Returns when it began.
    pub fn crash_with_link(&mut self, i: usize) -> std::time::Instant {
        let m = &mut self.members[i];
        let at = std::time::Instant::now();
        self.sw.link(&m.d.name, false);
        m.d.crash_all();
        if let Some(mut s) = m.speaker.take() {
            s.kill();
        }
        self.crashed.push(i);
        at
    }

    /// Which live director (0-based) holds the client's established TCP
    /// connection from each of `ports` in its IPVS table: when several do
    /// (a flow ECMP moved leaves its entry on the director it left), the
    /// one whose entry the latest packet refreshed (the most time left).
    pub fn holders(&self, ports: &[u16]) -> Vec<Option<usize>> {
        let tables: Vec<Option<String>> = self
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| (!self.crashed.contains(&i)).then(|| m.d.connections()))
            .collect();
        ports
            .iter()
            .map(|&p| {
                tables
                    .iter()
                    .enumerate()
                    .filter_map(|(i, t)| Some((established_expiry(t.as_ref()?, p)?, i)))
                    .max()
                    .map(|(_, i)| i)
            })
            .collect()
    }

    /// FRR's and every BIRD's logs, the routes and each director's dump.
    pub fn dump(&self) -> String {
        let mut out = format!(
            "--- upstream routes ---\n{}",
            self.gw.ip(&["route", "show"])
        );
        if let Some(u) = &self.upstream {
            out.push_str(&u.vtysh(&self.gw, "show bgp summary"));
            out.push_str(&u.vtysh(&self.gw, "show bfd peers brief"));
        }
        for m in &self.members {
            if m.d.started() || !m.d.lines().is_empty() {
                out.push_str(&m.d.dump());
                out.push('\n');
            }
        }
        out
    }

    /// The directory of the cluster's files.
    pub fn work_dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The time left (seconds) of the ESTABLISHED TCP entry from client port
/// `port` in `/proc/net/ip_vs_conn` text (`Pro FromIP FPrt ToIP TPrt
/// DestIP DPrt State Expires ...`, ports in hex).
fn established_expiry(table: &str, port: u16) -> Option<u64> {
    let port = format!("{port:04X}");
    table.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() >= 9 && f[0] == "TCP" && f[2] == port && f[7] == "ESTABLISHED")
            .then(|| f[8].parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expiry_of_an_established_entry_by_client_port() {
        let t = "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP 0A0A000A C350 0A0A0064 0050 0A14000B 0050 ESTABLISHED    899
TCP 0A0A000A C351 0A0A0064 0050 0A14000C 0050 FIN_WAIT        60
TCP 0A0A000A 0050 0A0A0064 C352 0A14000C 0050 ESTABLISHED    10
";
        assert_eq!(established_expiry(t, 0xc350), Some(899));
        assert_eq!(established_expiry(t, 0xc351), None, "not established");
        assert_eq!(
            established_expiry(t, 0xc352),
            None,
            "the port is the client's"
        );
        assert_eq!(established_expiry(t, 0x0050), Some(10));
    }
}
