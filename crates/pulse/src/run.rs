//! The main loop (§5): waits on the heartbeat sockets, signals and the
//! machine's next deadline, feeds events to [`Machine::step`] and performs
//! the actions it returns.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use send_arp::PacketSocket;
use tokio::net::UdpSocket;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::task::JoinHandle;

use crate::alarm::Alarm;
use crate::config::PulseConfig;
use crate::daemon::Notifier;
use crate::heartbeat::{self, Beat, Mode};
use crate::machine::{Action, ChildEnd, Event, FosRole, Hook, Machine, SyncRole};
use crate::procs::{self, FosCommand, LvsdCommand};
use crate::status::{Before, Tracker};
use crate::status_server::{self, Context, Shared};
use crate::sync::{self, SyncSettings};
use crate::vip::Netlink;
use crate::{arp, gateway, netif};

/// Everything the loop needs besides the machine.
pub struct Shell {
    /// The configuration.
    pub cfg: PulseConfig,
    /// Socket bound to our public address.
    pub public: std::net::UdpSocket,
    /// Socket bound to our private address, if a private channel exists.
    pub private: Option<std::net::UdpSocket>,
    /// Partner's public heartbeat address (IPv4 or IPv6).
    pub to_public: SocketAddr,
    /// Partner's private heartbeat address.
    pub to_private: Option<SocketAddr>,
    /// How to run lvsd.
    pub lvsd: LvsdCommand,
    /// How to run fos.
    pub fos: FosCommand,
    /// Our (public, private) addresses to watch, when monitor_links applies.
    pub monitor: Option<(IpAddr, IpAddr)>,
    /// systemd notification socket.
    pub notifier: Option<Notifier>,
    /// The status socket (`pulse --status`).
    pub status_socket: String,
    /// lvs.cf's path.
    pub config_file: String,
    /// lvs.cf as read at start-up.
    pub loaded: lvscf::Fingerprint,
    /// `--heartbeat-key`: signs every heartbeat sent.
    pub signer: Option<crate::auth::Signer>,
}

/// Least time between two fos starts.
const FOS_RESPAWN: Duration = Duration::from_secs(1);
/// Least time fos gets to exit after SIGTERM.
const FOS_STOP_MIN: Duration = Duration::from_secs(30);

struct Loop {
    shell: Shell,
    public: UdpSocket,
    private: Option<UdpSocket>,
    origin: Instant,
    /// The tracked daemon child: lvsd, or fos in fos mode.
    daemon_pid: Option<u32>,
    /// The socket to the running lvsd: its role goes out (warm standby),
    /// `ready` comes back.
    lvsd_socket: Option<std::os::unix::net::UnixStream>,
    /// Bumped at every lvsd start and reap: a `ready` read for an older
    /// lvsd is dropped.
    lvsd_generation: Arc<std::sync::atomic::AtomicU64>,
    /// When fos was last started (restarts are spaced, see `start_fos`).
    fos_started: Option<Instant>,
    /// Events produced by background work (the gateway check).
    events: tokio::sync::mpsc::UnboundedSender<Event>,
    inbox: tokio::sync::mpsc::UnboundedReceiver<Event>,
    netlink: Option<Netlink>,
    packet: arp::Packets,
    arps: Vec<JoinHandle<()>>,
    ipvs: Option<ipvs::Client>,
    pending: Vec<Event>,
    /// What the status socket reports; `None` until the machine is known.
    shared: Option<Arc<Mutex<Shared>>>,
    /// The status socket was bound (and is removed at exit).
    status_bound: bool,
}

/// What wakes the loop besides sockets: the signals pulse handles and its
/// timer.
struct Wakers {
    sigterm: Signal,
    sigint: Signal,
    sighup: Signal,
    sigchld: Signal,
    sigusr1: Signal,
    sigusr2: Signal,
    alarm: Alarm,
}

impl Wakers {
    fn new() -> std::io::Result<Wakers> {
        Ok(Wakers {
            sigterm: signal(SignalKind::terminate())?,
            sigint: signal(SignalKind::interrupt())?,
            sighup: signal(SignalKind::hangup())?,
            sigchld: signal(SignalKind::child())?,
            sigusr1: signal(SignalKind::user_defined1())?,
            sigusr2: signal(SignalKind::user_defined2())?,
            alarm: Alarm::new()?,
        })
    }
}

/// Runs the loop until termination; returns the exit status.
pub async fn run(shell: Shell, machine: Machine, forced: bool) -> u8 {
    match Loop::new(shell).await {
        Ok(mut l) => {
            l.serve_status(&machine);
            let code = l.main(machine, forced).await;
            if l.status_bound {
                let _ = std::fs::remove_file(&l.shell.status_socket);
            }
            code
        }
        Err(e) => {
            tracing::info!("cannot set up the main loop: {}", lvs_util::errtext(&e));
            255
        }
    }
}

impl Loop {
    async fn new(shell: Shell) -> std::io::Result<Loop> {
        let public = UdpSocket::from_std(shell.public.try_clone()?)?;
        let private = match &shell.private {
            Some(s) => Some(UdpSocket::from_std(s.try_clone()?)?),
            None => None,
        };
        let netlink = match Netlink::connect() {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::info!("cannot open rtnetlink: {}", lvs_util::errtext(&e));
                None
            }
        };
        let packet = open_packet_socket();
        if let Err(e) = &packet {
            tracing::info!(
                "cannot open a packet socket: socket: {e}: \
                 VIPs will come up without gratuitous ARPs"
            );
        }
        // The sync daemon is an lvs-mode feature.
        let ipvs = if shell.cfg.syncdaemon && shell.cfg.service == Mode::Lvs {
            match ipvs::Client::connect().await {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::info!("IPVS unavailable, sync daemon not controlled: {e}");
                    None
                }
            }
        } else {
            None
        };
        let (events, inbox) = tokio::sync::mpsc::unbounded_channel();
        Ok(Loop {
            shell,
            public,
            private,
            origin: Instant::now(),
            daemon_pid: None,
            lvsd_socket: None,
            lvsd_generation: Arc::default(),
            fos_started: None,
            events,
            inbox,
            netlink,
            packet,
            arps: Vec::new(),
            ipvs,
            pending: Vec::new(),
            shared: None,
            status_bound: false,
        })
    }

    /// Starts the status socket for `m` (see [`status_server`]).
    fn serve_status(&mut self, m: &Machine) {
        let shared = Arc::new(Mutex::new(Shared {
            tracker: Tracker::new(m.settings().clone(), self.now()),
            daemon_pid: None,
        }));
        let links = match self.shell.monitor {
            Some((public, private)) if self.shell.private.is_some() => {
                vec![("primary", public), ("private", private)]
            }
            Some((public, _)) => vec![("primary", public)],
            None => Vec::new(),
        };
        let ctx = Arc::new(Context {
            origin: self.origin,
            shared: shared.clone(),
            links,
            vips: self.shell.cfg.up_targets(),
            config_file: self.shell.config_file.clone(),
            loaded: self.shell.loaded.clone(),
            current: Mutex::new(None),
        });
        self.status_bound = status_server::start(&self.shell.status_socket, ctx).is_some();
        self.shared = Some(shared);
    }

    /// Hands the step to the status record.
    fn publish(&self, ev: &Event, before: Before, m: &Machine, actions: &[Action], now: Duration) {
        if let Some(shared) = &self.shared {
            let mut s = match shared.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            s.tracker.observe(ev, before, m, actions, now);
        }
    }

    /// Tells the status record which daemon child runs.
    fn publish_daemon(&self) {
        if let Some(shared) = &self.shared {
            let mut s = match shared.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            s.daemon_pid = self.daemon_pid;
        }
    }

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    async fn main(&mut self, mut m: Machine, forced: bool) -> u8 {
        let Wakers {
            mut sigterm,
            mut sigint,
            mut sighup,
            mut sigchld,
            mut sigusr1,
            mut sigusr2,
            alarm,
        } = match Wakers::new() {
            Ok(w) => w,
            Err(e) => {
                tracing::info!("cannot install signal handlers: {}", lvs_util::errtext(&e));
                return 255;
            }
        };
        // Machine times are offsets from our origin.
        let shift = self.now();
        m.next_send += shift;
        m.next_need += shift;
        if let Some(code) = self.feed(&mut m, Event::Start { forced }).await {
            return code;
        }
        if let Some(n) = &self.shell.notifier {
            n.ready();
        }
        let mut pbuf = [0u8; RECV_BUF];
        let mut qbuf = [0u8; RECV_BUF];
        loop {
            while let Some(ev) = self.pending.pop() {
                if let Some(code) = self.feed(&mut m, ev).await {
                    return code;
                }
            }
            if m.deadline() <= self.now() {
                if let Some(code) = self.feed(&mut m, Event::Timer).await {
                    return code;
                }
                continue;
            }
            if let Some((public, private)) = self.shell.monitor {
                let ev = Event::Links {
                    primary_up: netif::link_up_for(public),
                    private_up: netif::link_up_for(private),
                };
                if let Some(code) = self.feed(&mut m, ev).await {
                    return code;
                }
            }
            let wait = m.deadline().saturating_sub(self.now());
            let ev = tokio::select! {
                biased;
                _ = sigterm.recv() => Some(Event::Terminate(libc::SIGTERM)),
                _ = sigint.recv() => Some(Event::Terminate(libc::SIGINT)),
                _ = sigchld.recv() => { self.reap(); None }
                _ = sighup.recv() => Some(Event::Hangup),
                _ = sigusr1.recv() => Some(Event::UserSignal(libc::SIGUSR1)),
                _ = sigusr2.recv() => Some(Event::UserSignal(libc::SIGUSR2)),
                r = recv(self.private.as_ref(), &mut qbuf) => datagram(r, &qbuf),
                r = recv(Some(&self.public), &mut pbuf) => datagram(r, &pbuf),
                ev = self.inbox.recv() => ev,
                _ = alarm.sleep(wait) => None,
            };
            if let Some(ev) = ev
                && let Some(code) = self.feed(&mut m, ev).await
            {
                return code;
            }
        }
    }

    fn reap(&mut self) {
        for (pid, end) in procs::reap_all() {
            let daemon = self.daemon_pid == Some(pid);
            if daemon {
                self.daemon_pid = None;
                self.lvsd_socket = None;
                self.lvsd_generation
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            self.pending
                .insert(0, Event::ChildExited { pid, end, daemon });
        }
    }

    async fn feed(&mut self, m: &mut Machine, ev: Event) -> Option<u8> {
        let now = self.now();
        let before = Before::of(m);
        let actions = if self.shared.is_some() {
            let actions = m.step(ev.clone(), now);
            self.publish(&ev, before, m, &actions, now);
            actions
        } else {
            m.step(ev, now)
        };
        for a in actions {
            if let Some(code) = self.perform(a).await {
                self.publish_daemon();
                return Some(code);
            }
        }
        self.publish_daemon();
        None
    }

    async fn perform(&mut self, a: Action) -> Option<u8> {
        match a {
            Action::Log(s) => tracing::info!("{s}"),
            Action::Debug(s) => tracing::debug!("{s}"),
            Action::Send(beat) => self.send(beat).await,
            Action::RunHook(h) => {
                let cmd = match h {
                    Hook::Active => &self.shell.cfg.active_cmd,
                    Hook::Inactive => &self.shell.cfg.inactive_cmd,
                };
                if let Some(cmd) = cmd {
                    procs::run_hook(cmd);
                }
            }
            Action::StartLvsd => self.start_lvsd(false),
            Action::StartStandbyLvsd => self.start_lvsd(true),
            Action::TellLvsd(role) => {
                if let Some(sock) = &mut self.lvsd_socket {
                    procs::tell(sock, role);
                }
            }
            Action::StopLvsd => {
                self.lvsd_socket = None;
                if let Some(pid) = self.daemon_pid.take() {
                    procs::stop("lvsd", pid, self.lvsd_timeout()).await;
                }
            }
            Action::StartFos(role) => self.start_fos(role).await,
            Action::StopFos => {
                if let Some(pid) = self.daemon_pid.take() {
                    procs::stop("fos", pid, self.fos_timeout()).await;
                }
            }
            Action::CheckGateway => {
                let events = self.events.clone();
                let netlink = self.netlink.clone();
                tokio::spawn(async move {
                    let reachable = match &netlink {
                        Some(n) => gateway::reachable(n).await,
                        None => false,
                    };
                    let _ = events.send(Event::Gateway { reachable });
                });
            }
            Action::Sync(role) => self.sync(role).await,
            Action::VipsUp => {
                // The addresses come up whenever rtnetlink works; a
                // missing packet socket only costs the announcements (the
                // original's ifconfig ran even when its send_arp failed).
                if let Some(n) = &self.netlink {
                    if self.packet.is_err() {
                        // Try again: the capability may have been granted since.
                        self.packet = open_packet_socket();
                    }
                    let p = self.packet.clone();
                    self.arps.retain(|h| !h.is_finished());
                    let targets = self.shell.cfg.up_targets();
                    let job = match self.shell.cfg.service {
                        Mode::Lvs => tokio::spawn(arp::bring_up_and_announce(
                            n.clone(),
                            p,
                            targets,
                            self.shell.cfg.announce_targets(),
                        )),
                        Mode::Fos => {
                            // gaps.md F4: the addresses are up before fos
                            // starts the services; the ARPs follow.
                            arp::bring_up(n, &targets).await;
                            tokio::spawn(arp::announce_all(p, targets))
                        }
                    };
                    self.arps.push(job);
                }
            }
            Action::VipsDown => {
                for h in self.arps.drain(..) {
                    h.abort();
                }
                if let Some(n) = &self.netlink {
                    arp::take_down(n, &self.shell.cfg.down_targets()).await;
                }
            }
            Action::ForgetPartnerNeighbours { primary, private } => {
                self.forget_partner_neighbours(primary, private).await;
            }
            Action::ForwardHup => {
                if let Some(n) = &self.shell.notifier {
                    n.reloading();
                }
                if let Some(pid) = self.daemon_pid {
                    procs::hangup(pid);
                }
                if let Some(n) = &self.shell.notifier {
                    n.ready();
                }
            }
            Action::Exit(code) => {
                if let Some(n) = &self.shell.notifier {
                    n.stopping();
                }
                return Some(code);
            }
        }
        None
    }

    /// gaps.md C19: how long to wait for lvsd after SIGTERM.
    fn lvsd_timeout(&self) -> Duration {
        (self.shell.cfg.deadtime * 2).max(Duration::from_secs(1))
    }

    /// How long to wait for fos after SIGTERM: it runs every `stop_cmd`
    /// (or stops its monitors) first, so at least 30 s.
    fn fos_timeout(&self) -> Duration {
        (self.shell.cfg.deadtime * 2).max(FOS_STOP_MIN)
    }

    /// Starts lvsd (in the standby role with `standby`).
    fn start_lvsd(&mut self, standby: bool) {
        let generation = self
            .lvsd_generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        match self.shell.lvsd.start(standby) {
            Some(l) => {
                if let Some(read) = l.socket.as_ref().and_then(|s| s.try_clone().ok()) {
                    tokio::spawn(read_lvsd(
                        read,
                        self.events.clone(),
                        self.lvsd_generation.clone(),
                        generation,
                    ));
                }
                self.lvsd_socket = l.socket;
                self.started(Some(l.pid));
            }
            None => self.started(None),
        }
    }

    /// Remembers a started daemon child, or reports an exec failure as the
    /// child's exit with status 255 (what the original's forked child did).
    fn started(&mut self, pid: Option<u32>) {
        match pid {
            Some(pid) => self.daemon_pid = Some(pid),
            None => self.pending.insert(
                0,
                Event::ChildExited {
                    pid: 0,
                    end: ChildEnd::Exited(255),
                    daemon: true,
                },
            ),
        }
    }

    /// Starts fos; a start less than [`FOS_RESPAWN`] after the previous one
    /// first waits for the rest of that time (the loop waits with it), so a
    /// fos that cannot run is not restarted in a tight loop.
    async fn start_fos(&mut self, role: FosRole) {
        if let Some(last) = self.fos_started {
            let since = last.elapsed();
            if since < FOS_RESPAWN {
                tokio::time::sleep(FOS_RESPAWN - since).await;
            }
        }
        self.fos_started = Some(Instant::now());
        let pid = self.shell.fos.start(role);
        self.started(pid);
    }

    /// The datagram for `magic` sent from `sock`: the magic, or with a
    /// key the signed heartbeat (its identity is the socket's address).
    fn seal(&mut self, magic: [u8; 4], private: bool) -> Vec<u8> {
        let Some(signer) = &mut self.shell.signer else {
            return magic.to_vec();
        };
        let sock = match (private, &self.shell.private) {
            (true, Some(p)) => p,
            _ => &self.shell.public,
        };
        let own = match sock.local_addr() {
            Ok(a) => a.ip(),
            Err(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        };
        signer.seal(magic, own)
    }

    async fn send(&mut self, beat: Beat) {
        let magic = heartbeat::encode(self.shell.cfg.service, beat);
        let bytes = self.seal(magic, false);
        if let Err(e) = self.public.send_to(&bytes, self.shell.to_public).await {
            tracing::debug!(
                "Warning -- failed to send heartbeat (public if): {}",
                lvs_util::errtext(&e)
            );
        }
        let bytes = match self.private {
            Some(_) if self.shell.signer.is_some() => self.seal(magic, true),
            _ => bytes,
        };
        if let (Some(sock), Some(to)) = (&self.private, self.shell.to_private)
            && let Err(e) = sock.send_to(&bytes, to).await
        {
            tracing::debug!(
                "Warning -- failed to send heartbeat (private if): {}",
                lvs_util::errtext(&e)
            );
        }
    }

    /// Deletes the neighbour entries of the partner's heartbeat addresses
    /// on the devices carrying our monitored addresses whose link went down
    /// (see [`Action::ForgetPartnerNeighbours`]). Failures, ENOENT (no
    /// entry) the usual one, are only logged with `-v`.
    async fn forget_partner_neighbours(&self, primary: bool, private: bool) {
        let (Some(n), Some((ours, our_private))) = (&self.netlink, self.shell.monitor) else {
            return;
        };
        let mut devices: Vec<String> = Vec::new();
        for (down, addr) in [(primary, ours), (private, our_private)] {
            if let Some(dev) = down.then(|| netif::device_for(addr)).flatten()
                && !devices.contains(&dev)
            {
                devices.push(dev);
            }
        }
        let mut partner = vec![self.shell.to_public.ip()];
        if let Some(p) = self.shell.to_private
            && !partner.contains(&p.ip())
        {
            partner.push(p.ip());
        }
        for dev in &devices {
            let index = match send_arp::ifindex(dev) {
                Ok(i) => i,
                Err(e) => {
                    tracing::debug!(
                        "cannot forget the partner's neighbour entries on {dev}: {}",
                        lvs_util::errtext(&e)
                    );
                    continue;
                }
            };
            for ip in &partner {
                match n.forget_neighbour(index, *ip).await {
                    Ok(()) => tracing::debug!("forgot the neighbour entry of {ip} on {dev}"),
                    Err(e) => {
                        tracing::debug!("cannot forget the neighbour entry of {ip} on {dev}: {e}")
                    }
                }
            }
        }
    }

    async fn sync(&self, role: SyncRole) {
        if !self.shell.cfg.syncdaemon {
            return;
        }
        let Some(client) = &self.ipvs else {
            return;
        };
        let s = SyncSettings {
            iface: self.shell.cfg.syncd_iface.clone(),
            id: self.shell.cfg.syncd_id,
        };
        sync::restart(client, &s, role).await;
    }
}

/// Reads what lvsd `generation` says on its socket until it closes:
/// `ready` becomes [`Event::LvsdReady`] while that lvsd is still the
/// current one.
async fn read_lvsd(
    sock: std::os::unix::net::UnixStream,
    events: tokio::sync::mpsc::UnboundedSender<Event>,
    current: Arc<std::sync::atomic::AtomicU64>,
    generation: u64,
) {
    use tokio::io::AsyncBufReadExt as _;
    let Ok(sock) = tokio::net::UnixStream::from_std(sock) else {
        return;
    };
    let mut lines = tokio::io::BufReader::new(sock).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim() == "ready" && current.load(std::sync::atomic::Ordering::SeqCst) == generation
        {
            let _ = events.send(Event::LvsdReady);
        }
    }
}

/// Opens the packet socket for the announcements, or gives the error text.
fn open_packet_socket() -> arp::Packets {
    PacketSocket::open()
        .map(Arc::new)
        .map_err(|e| lvs_util::errtext(&e))
}

/// Receive buffer: a signed heartbeat and some (longer datagrams are cut
/// here; without a key only the first 4 bytes count, as in the original).
const RECV_BUF: usize = 2 * crate::auth::SIGNED_LEN_V6;

async fn recv(
    sock: Option<&UdpSocket>,
    buf: &mut [u8; RECV_BUF],
) -> std::io::Result<(usize, SocketAddr)> {
    match sock {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

fn datagram(r: std::io::Result<(usize, SocketAddr)>, buf: &[u8; RECV_BUF]) -> Option<Event> {
    match r {
        Ok((len, from)) => Some(Event::Datagram {
            from,
            data: buf[..len.min(RECV_BUF)].to_vec(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => None,
        Err(e) => {
            tracing::info!("recvfrom() failed: {}", lvs_util::errtext(&e));
            None
        }
    }
}
