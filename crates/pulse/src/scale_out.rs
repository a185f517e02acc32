//! Scale-out mode's shell (`scale_out = 1`, docs/scale-out.md): no
//! partner, no heartbeat. pulse sets IPVS's sloppy sysctls, makes sure
//! `announce_device` exists, runs lvsd as the active lvsd and feeds
//! [`crate::announce::Machine`]: lvsd's `serving VIP` / `idle VIP` lines,
//! lvsd's end, the hold timer, SIGTERM. The VIPs go on `announce_device`
//! as /32 or /128 (no ARP, no DAD: they are routed to this director by the
//! BGP daemon, which exports that device's addresses), and come off it.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::TryStreamExt as _;
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use piranha_status::pulse as doc;
use rtnetlink::Handle;
use tokio::signal::unix::{SignalKind, signal};

use crate::announce::{Action, Event, Machine};
use crate::daemon::Notifier;
use crate::machine::LvsdRole;
use crate::procs::{self, LvsdCommand};

/// How long lvsd gets to exit after SIGTERM.
const LVSD_STOP: Duration = Duration::from_secs(10);

/// The IPVS sysctls scale-out mode sets: a flow ECMP moves to this
/// director mid-stream gets a connection entry (TCP and SCTP).
pub const SYSCTLS: [(&str, &str); 2] = [
    ("/proc/sys/net/ipv4/vs/sloppy_tcp", "1"),
    ("/proc/sys/net/ipv4/vs/sloppy_sctp", "1"),
];

/// What scale-out mode takes from lvs.cf and the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `announce_device`.
    pub device: String,
    /// `announce_hold`.
    pub hold: Duration,
    /// `scale_out_members`.
    pub members: Vec<IpAddr>,
    /// The VIPs of the active virtual servers.
    pub vips: Vec<IpAddr>,
    /// How to run lvsd.
    pub lvsd: LvsdCommand,
    /// The status socket.
    pub status_socket: String,
    /// lvs.cf's path.
    pub config_file: String,
    /// lvs.cf as read at start-up.
    pub loaded: lvscf::Fingerprint,
    /// The last fingerprint of the file on disk (parsed only when it changes).
    pub current: std::sync::Arc<std::sync::Mutex<Option<lvscf::Fingerprint>>>,
    /// `--test-start`: no lvsd, no sysctls, no addresses.
    pub norun: bool,
}

/// The VIPs of `config`'s active virtual servers, each once, in file
/// order.
pub fn vips_of(config: &lvscf::Config) -> Vec<IpAddr> {
    let mut vips: Vec<IpAddr> = Vec::new();
    for v in config.virtuals.iter().filter(|v| v.active) {
        if !vips.contains(&v.vip()) {
            vips.push(v.vip());
        }
    }
    vips
}

impl Settings {
    /// The settings of `config` (which has `scale_out = 1`).
    pub fn of(
        config: &lvscf::Config,
        lvsd: LvsdCommand,
        status_socket: String,
        loaded: lvscf::Fingerprint,
        norun: bool,
    ) -> Settings {
        let g = &config.global;
        let vips = vips_of(config);
        Settings {
            device: g.announce_device().to_string(),
            hold: g.announce_hold(),
            members: g.scale_out_members.clone(),
            vips,
            config_file: lvsd.config.clone(),
            lvsd,
            status_socket,
            loaded,
            current: Default::default(),
            norun,
        }
    }
}

/// Every address configured on this host (for the member test).
pub fn own_addresses() -> Vec<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    addrs
        .filter_map(|a| {
            let s = a.address?;
            if let Some(v4) = s.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect()
}

/// The announce device over rtnetlink.
#[derive(Clone)]
pub struct Device {
    handle: Handle,
    name: String,
    index: u32,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Whether a netlink error is the kernel's `errno`.
fn is_errno(e: &rtnetlink::Error, errno: i32) -> bool {
    matches!(e, rtnetlink::Error::NetlinkError(m)
        if m.code.is_some_and(|c| c.get() == -errno))
}

impl Device {
    /// The device `name`, if it exists (any type: a dummy, or a veth where
    /// there is no dummy module), brought up.
    pub async fn find(handle: &Handle, name: &str) -> Result<Option<Device>, String> {
        let mut links = handle.link().get().match_name(name.to_string()).execute();
        match links.try_next().await {
            Ok(Some(msg)) => {
                let index = msg.header.index;
                let up = rtnetlink::LinkUnspec::new_with_index(index).up().build();
                handle.link().set(up).execute().await.map_err(err)?;
                Ok(Some(Device {
                    handle: handle.clone(),
                    name: name.to_string(),
                    index,
                }))
            }
            Ok(None) => Ok(None),
            Err(e) if is_errno(&e, libc::ENODEV) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    /// The device `name`, created as a dummy (up, no ARP) when it does not
    /// exist; the error says what to do when it cannot be.
    pub async fn ensure(handle: &Handle, name: &str) -> Result<(Device, bool), String> {
        if let Some(d) = Device::find(handle, name).await? {
            return Ok((d, false));
        }
        let msg = rtnetlink::LinkDummy::new(name).arp(false).up().build();
        if let Err(e) = handle.link().add(msg).execute().await {
            return Err(format!(
                "cannot create announce_device {name} (a dummy interface): {} \
                 (load the dummy module, or create {name} before pulse starts)",
                err(e)
            ));
        }
        match Device::find(handle, name).await? {
            Some(d) => Ok((d, true)),
            None => Err(format!(
                "announce_device {name} vanished after its creation"
            )),
        }
    }

    /// Its addresses (both families).
    async fn addresses(&self) -> Result<Vec<AddressMessage>, String> {
        self.handle
            .address()
            .get()
            .set_link_index_filter(self.index)
            .execute()
            .try_collect()
            .await
            .map_err(err)
    }

    /// Adds `ip` as /32 or /128, without DAD; already there: nothing.
    pub async fn add(&self, ip: IpAddr) -> Result<(), String> {
        let prefix = if ip.is_ipv4() { 32 } else { 128 };
        let mut req = self.handle.address().add(self.index, ip, prefix);
        let m = req.message_mut();
        m.attributes
            .retain(|a| !matches!(a, AddressAttribute::Broadcast(_)));
        if ip.is_ipv6() {
            m.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        match req.execute().await {
            Ok(()) => Ok(()),
            Err(e) if is_errno(&e, libc::EEXIST) => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

    /// Removes `ip`; not there: nothing.
    pub async fn remove(&self, ip: IpAddr) -> Result<(), String> {
        for msg in self.addresses().await? {
            if address_of(&msg) == Some(ip) {
                match self.handle.address().del(msg).execute().await {
                    Ok(()) => {}
                    Err(e) if is_errno(&e, libc::EADDRNOTAVAIL) => {}
                    Err(e) => return Err(err(e)),
                }
            }
        }
        Ok(())
    }

    /// Removes every address but IPv6 link-local ones (the kernel's own);
    /// returns the ones removed.
    pub async fn flush(&self) -> Result<Vec<IpAddr>, String> {
        let mut gone = Vec::new();
        for msg in self.addresses().await? {
            let Some(ip) = address_of(&msg) else { continue };
            if let IpAddr::V6(v6) = ip
                && v6.is_unicast_link_local()
            {
                continue;
            }
            match self.handle.address().del(msg).execute().await {
                Ok(()) => gone.push(ip),
                Err(e) if is_errno(&e, libc::EADDRNOTAVAIL) => {}
                Err(e) => return Err(err(e)),
            }
        }
        Ok(gone)
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

fn address_of(msg: &AddressMessage) -> Option<IpAddr> {
    let mut out = None;
    for a in &msg.attributes {
        match a {
            AddressAttribute::Local(ip) => out = Some(*ip),
            AddressAttribute::Address(ip) if out.is_none() => out = Some(*ip),
            _ => {}
        }
    }
    out
}

/// `pulse --withdraw`: with `scale_out = 1`, every address of
/// `announce_device` goes; otherwise nothing happens. Exit status 0 unless
/// the addresses could not be removed.
pub fn withdraw_main(config: &lvscf::Config) -> u8 {
    let g = &config.global;
    if !g.scale_out {
        return 0;
    }
    let name = g.announce_device().to_string();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pulse: cannot start the runtime: {}", lvs_util::errtext(&e));
            return 1;
        }
    };
    rt.block_on(async move {
        let (conn, handle, _) = match rtnetlink::new_connection() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("pulse: cannot open rtnetlink: {}", lvs_util::errtext(&e));
                return 1;
            }
        };
        tokio::spawn(conn);
        let dev = match Device::find(&handle, &name).await {
            Ok(Some(d)) => d,
            Ok(None) => return 0,
            Err(e) => {
                eprintln!("pulse: scale-out: {name}: {e}");
                return 1;
            }
        };
        match dev.flush().await {
            Ok(gone) => {
                for ip in gone {
                    lvs_util::log::syslog_info(&format!("scale-out: withdrew {ip} from {name}"));
                    println!("pulse: scale-out: withdrew {ip} from {name}");
                }
                0
            }
            Err(e) => {
                eprintln!("pulse: scale-out: cannot withdraw the VIPs from {name}: {e}");
                1
            }
        }
    })
}

/// What the status socket reports.
#[derive(Debug, Default)]
struct Shared {
    vips: Vec<IpAddr>,
    announced: Vec<IpAddr>,
    held_back: Vec<IpAddr>,
    lvsd_pid: Option<u32>,
}

fn lock(s: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    match s.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Sets the sloppy sysctls; a missing one (no IPVS module) is logged.
fn set_sysctls() {
    for (path, value) in SYSCTLS {
        let name = path.trim_start_matches("/proc/sys/").replace('/', ".");
        match std::fs::write(path, value) {
            Ok(()) => tracing::debug!("scale-out: {name} = {value}"),
            Err(e) => tracing::info!(
                "scale-out: cannot set {name} = {value}: {} (flows that another director \
                 started will not be picked up here)",
                lvs_util::errtext(&e)
            ),
        }
    }
}

/// A line from lvsd as an event: `serving VIP`, `idle VIP`; others
/// (`ready`, unknown words) are `None`.
pub fn lvsd_line(line: &str) -> Option<Event> {
    let (verb, rest) = line.trim().split_once(' ')?;
    let ip: IpAddr = rest.trim().parse().ok()?;
    match verb {
        "serving" => Some(Event::Serving(ip)),
        "idle" => Some(Event::Idle(ip)),
        _ => None,
    }
}

/// Runs scale-out mode until SIGTERM/SIGINT; returns the exit status.
pub async fn run(s: Settings, notifier: Option<Notifier>) -> u8 {
    let (conn, handle, _) = match rtnetlink::new_connection() {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(
                "scale-out: cannot open rtnetlink: {}",
                lvs_util::errtext(&e)
            );
            return 1;
        }
    };
    tokio::spawn(conn);
    let device = if s.norun {
        None
    } else {
        set_sysctls();
        match Device::ensure(&handle, &s.device).await {
            Ok((d, created)) => {
                if created {
                    tracing::info!("scale-out: created {} (dummy)", s.device);
                }
                // Leftovers of a pulse that was killed: withdrawn until
                // lvsd says otherwise.
                match d.flush().await {
                    Ok(gone) => {
                        for ip in gone {
                            tracing::info!("scale-out: withdrawing {ip} (left from before)");
                        }
                    }
                    Err(e) => tracing::info!("scale-out: cannot flush {}: {e}", s.device),
                }
                Some(d)
            }
            Err(e) => {
                tracing::info!("scale-out: {e}");
                eprintln!("pulse: scale-out: {e}");
                return 1;
            }
        }
    };
    let members: Vec<String> = s.members.iter().map(|a| a.to_string()).collect();
    tracing::info!(
        "scale-out: announcing on {} with members {} (announce_hold {} s)",
        s.device,
        members.join(" "),
        crate::config::secs(s.hold)
    );
    let shared = Arc::new(Mutex::new(Shared::default()));
    let bound = serve_status(&s, shared.clone());
    let mut sh = Shell {
        s,
        device,
        shared,
        origin: Instant::now(),
        lvsd_pid: None,
        lvsd_socket: None,
        generation: 0,
        pending: Vec::new(),
    };
    let code = sh.main(notifier).await;
    if bound {
        let _ = std::fs::remove_file(&sh.s.status_socket);
    }
    code
}

struct Shell {
    s: Settings,
    device: Option<Device>,
    shared: Arc<Mutex<Shared>>,
    origin: Instant,
    lvsd_pid: Option<u32>,
    lvsd_socket: Option<std::os::unix::net::UnixStream>,
    /// Bumped at every lvsd start: lines of an older lvsd are dropped.
    generation: u64,
    pending: Vec<Event>,
}

impl Shell {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    async fn main(&mut self, notifier: Option<Notifier>) -> u8 {
        let (Ok(mut term), Ok(mut int), Ok(mut hup), Ok(mut chld)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
            signal(SignalKind::child()),
        ) else {
            tracing::info!("cannot install signal handlers");
            return 255;
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u64, String)>();
        let mut m = Machine::new(self.s.hold, self.s.vips.iter().copied());
        let mut ev = Some(Event::Start);
        let mut notified = false;
        loop {
            if let Some(e) = ev.take() {
                let actions = m.step(e, self.now());
                for a in actions {
                    if let Some(code) = self.perform(a, &tx).await {
                        if let Some(n) = &notifier {
                            n.stopping();
                        }
                        return code;
                    }
                }
                self.publish(&m);
                if !notified {
                    notified = true;
                    if let Some(n) = &notifier {
                        n.ready();
                    }
                }
            }
            if let Some(e) = self.pending.pop() {
                ev = Some(e);
                continue;
            }
            let wait = m
                .deadline()
                .map(|d| d.saturating_sub(self.now()))
                .unwrap_or(Duration::from_secs(3600));
            ev = tokio::select! {
                biased;
                _ = term.recv() => Some(Event::Stop),
                _ = int.recv() => Some(Event::Stop),
                _ = chld.recv() => self.reap(),
                _ = hup.recv() => {
                    let ev = self.reread();
                    if let Some(pid) = self.lvsd_pid {
                        procs::hangup(pid);
                    }
                    ev
                }
                Some((generation, line)) = rx.recv() => {
                    if generation == self.generation {
                        lvsd_line(&line)
                    } else {
                        None
                    }
                }
                _ = tokio::time::sleep(wait) => Some(Event::Timer),
            };
        }
    }

    /// SIGHUP: the VIPs of lvs.cf as it is now (lvsd re-reads the rest).
    /// A file that does not load, or no longer says `scale_out = 1`,
    /// changes nothing here.
    fn reread(&mut self) -> Option<Event> {
        let file = &self.s.config_file;
        match lvscf::load_file(file) {
            Ok(l) if l.parsed.config.global.scale_out => {
                let vips = vips_of(&l.parsed.config);
                self.s.vips = vips.clone();
                Some(Event::Configured(vips))
            }
            Ok(_) => {
                tracing::info!(
                    "scale-out: {file} no longer sets scale_out = 1: the VIPs stay as they are \
                     until pulse is restarted"
                );
                None
            }
            Err(e) => {
                tracing::info!("scale-out: cannot re-read {file}: {e}; the VIPs stay as they are");
                None
            }
        }
    }

    /// Reaps children; lvsd's end is an event.
    fn reap(&mut self) -> Option<Event> {
        let mut out = None;
        for (pid, end) in procs::reap_all() {
            if self.lvsd_pid == Some(pid) {
                tracing::info!("scale-out: lvsd (pid {pid}) ended: {end:?}");
                self.lvsd_pid = None;
                self.lvsd_socket = None;
                self.generation += 1;
                out = Some(Event::LvsdExited);
            }
        }
        out
    }

    fn publish(&self, m: &Machine) {
        let mut sh = lock(&self.shared);
        sh.vips = self.s.vips.clone();
        sh.announced = m.announced();
        sh.held_back = m
            .vips()
            .filter(|(_, v)| v.serving && !v.announced)
            .map(|(ip, _)| ip)
            .collect();
        sh.lvsd_pid = self.lvsd_pid;
    }

    async fn perform(
        &mut self,
        a: Action,
        tx: &tokio::sync::mpsc::UnboundedSender<(u64, String)>,
    ) -> Option<u8> {
        match a {
            Action::Log(l) => tracing::info!("{l}"),
            Action::StartLvsd => {
                if self.s.norun {
                    return None;
                }
                self.generation += 1;
                match self.s.lvsd.start(false) {
                    Some(l) => {
                        self.lvsd_pid = Some(l.pid);
                        if let Some(mut sock) = l.socket {
                            procs::tell(&mut sock, LvsdRole::Active);
                            if let Ok(read) = sock.try_clone() {
                                tokio::spawn(read_lvsd(read, tx.clone(), self.generation));
                            }
                            self.lvsd_socket = Some(sock);
                        }
                    }
                    None => self.pending.insert(0, Event::LvsdExited),
                }
            }
            Action::StopLvsd => {
                self.lvsd_socket = None;
                if let Some(pid) = self.lvsd_pid.take() {
                    procs::stop("lvsd", pid, LVSD_STOP).await;
                }
            }
            Action::Announce(ip) => {
                if let Some(d) = &self.device
                    && let Err(e) = d.add(ip).await
                {
                    tracing::info!("scale-out: cannot add {ip} to {}: {e}", d.name());
                }
            }
            Action::Withdraw(ip) => {
                if let Some(d) = &self.device
                    && let Err(e) = d.remove(ip).await
                {
                    tracing::info!("scale-out: cannot remove {ip} from {}: {e}", d.name());
                }
            }
            Action::Exit(code) => return Some(code),
        }
        None
    }
}

/// Reads lvsd's lines until its socket closes, tagged with its generation.
async fn read_lvsd(
    sock: std::os::unix::net::UnixStream,
    tx: tokio::sync::mpsc::UnboundedSender<(u64, String)>,
    generation: u64,
) {
    use tokio::io::AsyncBufReadExt as _;
    let Ok(sock) = tokio::net::UnixStream::from_std(sock) else {
        return;
    };
    let mut lines = tokio::io::BufReader::new(sock).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if tx.send((generation, line)).is_err() {
            return;
        }
    }
}

/// Serves `pulse --status` in scale-out mode; whether the socket was bound.
fn serve_status(s: &Settings, shared: Arc<Mutex<Shared>>) -> bool {
    let listener = match lvs_util::status_socket::bind(&s.status_socket, "pulse") {
        Ok(l) => l,
        Err(e) => {
            tracing::info!(
                "status socket {}: {}; pulse --status will not work",
                s.status_socket,
                lvs_util::errtext(&e)
            );
            return false;
        }
    };
    let fixed = Arc::new(s.clone());
    let started = lvs_util::timefmt::wall_now();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let shared = shared.clone();
            let fixed = fixed.clone();
            tokio::spawn(lvs_util::status_socket::serve(
                stream,
                move |req| async move {
                    // lvs.cf read (and, when it changed, parsed) off the
                    // loop and outside the lock, as the pair's status does
                    let f = fixed.clone();
                    let config = tokio::task::spawn_blocking(move || {
                        crate::status_server::config_on_disk(&f.config_file, &f.loaded, &f.current)
                    })
                    .await
                    .unwrap_or_default();
                    let doc = document(&fixed, &lock(&shared), started, config);
                    Some(match req.trim() {
                        "json" => {
                            let mut j = serde_json::to_string_pretty(&doc)
                                .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
                            j.push('\n');
                            j
                        }
                        "text" | "" => text(&doc),
                        _ => "unknown request: expected text or json\n".to_string(),
                    })
                },
            ));
        }
    });
    true
}

/// The status document of scale-out mode; `config` is lvs.cf as
/// [`crate::status_server::config_on_disk`] read it.
fn document(s: &Settings, sh: &Shared, started: f64, config: doc::Config) -> doc::Status {
    let strs = |v: &[IpAddr]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    doc::Status {
        version: piranha_status::VERSION,
        time: lvs_util::timefmt::wall_now(),
        pid: std::process::id(),
        node: "member".into(),
        service: "lvs".into(),
        role: "scale-out".into(),
        role_since: started,
        vips: sh
            .vips
            .iter()
            .map(|ip| doc::Vip {
                address: ip.to_string(),
                device: s.device.clone(),
                netmask: Some(if ip.is_ipv4() { "/32" } else { "/128" }.into()),
                held: sh.announced.contains(ip),
            })
            .collect(),
        daemon: doc::Daemon {
            name: "lvsd".into(),
            pid: sh.lvsd_pid,
            warm_standby: false,
        },
        heartbeat_auth: "off".into(),
        config,
        scale_out: Some(doc::ScaleOut {
            members: strs(&s.members),
            announce_device: s.device.clone(),
            announce_hold_seconds: s.hold.as_secs_f64(),
            announced: strs(&sh.announced),
            held_back: strs(&sh.held_back),
        }),
        ..Default::default()
    }
}

/// `pulse --status` in scale-out mode.
pub fn text(d: &doc::Status) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<12}{v}\n"));
    line(
        "pulse",
        format!("pid {}, scale-out mode, service {}", d.pid, d.service),
    );
    let Some(so) = &d.scale_out else {
        return out;
    };
    line("members", so.members.join(" "));
    line(
        "announce",
        format!(
            "on {}, hold {} s",
            so.announce_device,
            crate::config::secs(Duration::from_secs_f64(so.announce_hold_seconds))
        ),
    );
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(" ")
        }
    };
    line("announced", list(&so.announced));
    if !so.held_back.is_empty() {
        line(
            "held back",
            format!("{} (announce_hold)", list(&so.held_back)),
        );
    }
    line(
        "lvsd",
        match d.daemon.pid {
            Some(p) => format!("pid {p}"),
            None => "not running".into(),
        },
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lvsd_lines() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            lvsd_line("serving 192.0.2.10"),
            Some(Event::Serving(ip("192.0.2.10")))
        );
        assert_eq!(
            lvsd_line("idle 2001:db8::1\n"),
            Some(Event::Idle(ip("2001:db8::1")))
        );
        for l in ["ready", "serving", "serving x", "busy 192.0.2.1", ""] {
            assert_eq!(lvsd_line(l), None, "{l}");
        }
    }

    #[test]
    fn status_text() {
        let d = doc::Status {
            pid: 7,
            service: "lvs".into(),
            daemon: doc::Daemon {
                name: "lvsd".into(),
                pid: Some(9),
                warm_standby: false,
            },
            scale_out: Some(doc::ScaleOut {
                members: vec!["192.0.2.1".into(), "192.0.2.2".into()],
                announce_device: "lvs0".into(),
                announce_hold_seconds: 5.0,
                announced: vec!["198.51.100.10".into()],
                held_back: vec!["198.51.100.11".into()],
            }),
            ..Default::default()
        };
        assert_eq!(
            text(&d),
            "pulse       pid 7, scale-out mode, service lvs\n\
             members     192.0.2.1 192.0.2.2\n\
             announce    on lvs0, hold 5 s\n\
             announced   198.51.100.10\n\
             held back   198.51.100.11 (announce_hold)\n\
             lvsd        pid 9\n"
        );
    }
}
