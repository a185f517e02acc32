//! Tests of the pure core, driven like the shell drives it, with an
//! in-memory IPVS table (`ipvs::MemTable`, the kernel's rules and errnos).

use std::collections::VecDeque;

use ipvs::{Forward, MemTable, Netmask, Service};

use super::*;
use crate::spec::{self, Flags};

const SEC: Duration = Duration::from_secs(1);

/// The engine plus a fake shell: an in-memory table, fake pids, and
/// everything the engine asked for, recorded.
pub(super) struct Sim {
    pub e: Engine,
    pub table: MemTable,
    pub now: Duration,
    next_pid: u32,
    pub log: Vec<String>,
    pub notices: Vec<String>,
    pub echoed: Vec<String>,
    pub timeouts: Vec<[i32; 3]>,
    pub ops: Vec<Op>,
    /// (id, pid, argv, resume)
    pub spawned: Vec<(NannyId, u32, Vec<String>, Option<Resume>)>,
    pub shown: Vec<Vec<String>>,
    pub signals: Vec<(u32, i32)>,
    pub awaited: Vec<u32>,
    pub exit: Option<i32>,
    /// Spawns fail with this message.
    pub spawn_error: Option<String>,
}

pub(super) fn spec_of(text: &str) -> Spec {
    let cfg = lvscf::parse_str(text, "lvs.cf")
        .expect("test config parses")
        .config;
    spec::build(&cfg, Flags::default())
}

impl Sim {
    pub fn new(text: &str) -> Sim {
        Sim::with(spec_of(text), Options::default(), MemTable::new())
    }

    /// [`Sim::new`], started: the start-up's actions are carried out.
    pub fn started(text: &str) -> Sim {
        let mut s = Sim::new(text);
        s.start();
        s
    }

    pub fn with(spec: Spec, opts: Options, table: MemTable) -> Sim {
        Sim {
            e: Engine::new(spec, opts),
            table,
            now: Duration::from_secs(100),
            next_pid: 1000,
            log: Vec::new(),
            notices: Vec::new(),
            echoed: Vec::new(),
            timeouts: Vec::new(),
            ops: Vec::new(),
            spawned: Vec::new(),
            shown: Vec::new(),
            signals: Vec::new(),
            awaited: Vec::new(),
            exit: None,
            spawn_error: None,
        }
    }

    /// Clears what was recorded.
    pub fn clear(&mut self) {
        self.log.clear();
        self.notices.clear();
        self.echoed.clear();
        self.ops.clear();
        self.spawned.clear();
        self.shown.clear();
        self.signals.clear();
        self.awaited.clear();
    }

    pub fn run(&mut self, actions: Vec<Action>) {
        let mut q: VecDeque<Action> = actions.into();
        while let Some(a) = q.pop_front() {
            let more = match a {
                Action::Log(m) => {
                    self.log.push(m);
                    continue;
                }
                Action::Notice(m) => {
                    self.notices.push(m);
                    continue;
                }
                Action::Echo(m) => {
                    self.echoed.push(m);
                    continue;
                }
                Action::SetTimeouts(t) => {
                    self.timeouts.push(t);
                    continue;
                }
                Action::Ipvs(ops) => {
                    let res: Vec<Result<(), OpError>> = ops
                        .iter()
                        .map(|op| {
                            self.table.apply_one(op).map_err(|e| OpError {
                                errno: e.errno(),
                                message: e.to_string(),
                            })
                        })
                        .collect();
                    self.ops.extend(ops.iter().cloned());
                    self.e.ipvs_done(&ops, &res, self.now)
                }
                Action::Spawn { id, argv, resume } => {
                    if let Some(err) = self.spawn_error.clone() {
                        self.e.nanny_spawned(id, Err(err), self.now)
                    } else {
                        let pid = self.next_pid;
                        self.next_pid += 1;
                        self.spawned.push((id, pid, argv, resume));
                        self.e.nanny_spawned(id, Ok(pid), self.now)
                    }
                }
                Action::ShowNanny(argv) => {
                    self.shown.push(argv);
                    continue;
                }
                Action::Signal { pid, signal } => {
                    self.signals.push((pid, signal));
                    continue;
                }
                Action::AwaitExit(p) => {
                    self.awaited.extend(p);
                    continue;
                }
                Action::Exit(c) => {
                    self.exit = Some(c);
                    return;
                }
            };
            for (i, a) in more.into_iter().enumerate() {
                q.insert(i, a);
            }
        }
    }

    pub fn start(&mut self) {
        let a = self.e.start(self.now);
        self.run(a);
    }

    pub fn reload(&mut self, text: &str) {
        let a = self.e.reload(spec_of(text), self.now);
        self.run(a);
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        let a = self.e.tick(self.now);
        self.run(a);
    }

    /// (vs index, rs index) of a real server by names.
    pub fn find(&self, vs: &str, rs: &str) -> (usize, usize) {
        let named = |up: bool| {
            (0..self.e.vss.len()).find(|&i| {
                self.e.spec.virtuals[i].name == vs && (!up || self.e.vss[i].phase == Phase::Up)
            })
        };
        let vi = named(true)
            .or_else(|| named(false))
            .unwrap_or_else(|| panic!("no virtual {vs}"));
        let ri = self.e.spec.virtuals[vi]
            .reals
            .iter()
            .position(|r| r.name == rs)
            .unwrap_or_else(|| panic!("no server {rs}"));
        (vi, ri)
    }

    pub fn nanny(&self, vs: &str, rs: &str) -> NannyId {
        let (vi, ri) = self.find(vs, rs);
        self.e.vss[vi].reals[ri].nanny.expect("has a nanny")
    }

    pub fn pid(&self, vs: &str, rs: &str) -> u32 {
        let id = self.nanny(vs, rs);
        self.e.nannies[&id].pid.expect("has a pid")
    }

    /// A line from the nanny's pipe, parsed as the shell does.
    pub fn line(&mut self, vs: &str, rs: &str, line: &str) {
        let id = self.nanny(vs, rs);
        let a = crate::run::nanny_line(&mut self.e, id, line, self.now);
        self.run(a);
    }

    /// A typed report from the nanny.
    pub fn report(&mut self, vs: &str, rs: &str, report: Report) {
        let id = self.nanny(vs, rs);
        let a = self.e.nanny_report(id, report, self.now);
        self.run(a);
    }

    /// How the nanny of real server `rs` names it in its reports.
    fn target_of(&self, vs: &str, rs: &str) -> Target {
        let (vi, ri) = self.find(vs, rs);
        let v = &self.e.spec.virtuals[vi];
        let r = &v.reals[ri];
        let service = match v.key {
            ServiceKey::Fwmark { mark, .. } => nanny_report::Service::Fwmark(mark),
            ServiceKey::Inet {
                protocol,
                addr,
                port,
            } => {
                let a = std::net::SocketAddr::new(addr, port);
                match protocol {
                    ipvs::Protocol::Udp => nanny_report::Service::Udp(a),
                    _ => nanny_report::Service::Tcp(a),
                }
            }
        };
        Target {
            service,
            dest: std::net::SocketAddr::new(r.dest.addr, r.dest.port),
        }
    }

    /// What nanny sends when the server becomes available with weight `w`.
    pub fn up(&mut self, vs: &str, rs: &str, w: u32) {
        let target = self.target_of(vs, rs);
        self.report(
            vs,
            rs,
            Report::Weight {
                target,
                // lvsd goes by its own forwarding method
                forward: nanny_report::Forward::Masq,
                weight: w,
                added: true,
            },
        );
        self.report(vs, rs, Report::State { up: true });
    }

    /// What nanny sends when the check fails (quiesce: weight 0).
    pub fn down(&mut self, vs: &str, rs: &str, quiesce: bool) {
        let target = self.target_of(vs, rs);
        let change = if quiesce {
            Report::Weight {
                target,
                forward: nanny_report::Forward::Masq,
                weight: 0,
                added: false,
            }
        } else {
            Report::Removed { target }
        };
        self.report(vs, rs, change);
        self.report(vs, rs, Report::State { up: false });
    }

    /// A first check that fails (nothing was added).
    pub fn first_down(&mut self, vs: &str, rs: &str) {
        self.line(vs, rs, "nanny1 state down");
    }

    pub fn exited(&mut self, pid: u32) {
        let a = self.e.child_exited(pid, self.now);
        self.run(a);
    }

    /// The kernel table as (key, sorted dests).
    pub fn kernel(&self) -> Vec<(ServiceKey, Vec<(DestKey, u32)>)> {
        canon(&self.table.table())
    }

    /// The destinations of service `k` in the kernel table, sorted.
    pub fn dests(&self, k: ServiceKey) -> Vec<(DestKey, u32)> {
        self.kernel()
            .into_iter()
            .find(|(x, _)| *x == k)
            .map(|(_, d)| d)
            .unwrap_or_default()
    }

    /// Checks that the engine's model is the kernel table (for its own
    /// services) and that it is what the engine wants.
    pub fn consistent(&self) {
        let own: HashSet<ServiceKey> = self.e.installed.keys().copied().collect();
        let kernel: Vec<VirtualService> = self
            .table
            .table()
            .into_iter()
            .filter(|v| own.contains(&v.service.key))
            .collect();
        assert_eq!(
            canon(&kernel),
            canon(&self.e.installed()),
            "model == kernel"
        );
        assert_eq!(
            canon(&self.e.installed()),
            canon(&self.e.wanted()),
            "installed == wanted"
        );
        for v in &self.e.installed() {
            let k = self.table.table();
            let kv = k.iter().find(|x| x.service.key == v.service.key).unwrap();
            assert_eq!(kv.service, v.service);
        }
    }
}

pub(super) fn canon(t: &[VirtualService]) -> Vec<(ServiceKey, Vec<(DestKey, u32)>)> {
    let mut out: Vec<(ServiceKey, Vec<(DestKey, u32)>)> = t
        .iter()
        .map(|v| {
            let mut d: Vec<(DestKey, u32)> = v.dests.iter().map(|d| (d.key(), d.weight)).collect();
            d.sort();
            (v.service.key, d)
        })
        .collect();
    out.sort();
    out
}

fn dk(a: [u8; 4], port: u16) -> DestKey {
    DestKey {
        addr: std::net::Ipv4Addr::from(a).into(),
        port,
    }
}

const TWO: &str = r#"
network = nat
virtual www {
  active = 1
  address = 10.0.0.1 eth0:1
  port = 80
  scheduler = wlc
  timeout = 6
  reentry = 30
  server web1 {
    address = 10.1.0.1
    active = 1
    weight = 10
  }
  server web2 {
    address = 10.1.0.2
    active = 1
    weight = 20
  }
  server web3 {
    address = 10.1.0.3
    active = 0
  }
}
virtual dns {
  active = 1
  address = 10.0.0.2 eth0:2
  protocol = udp
  port = 53
  scheduler = rr
  server ns1 {
    address = 10.1.0.9
    active = 1
  }
}
virtual off {
  active = 0
  address = 10.0.0.3 eth0:3
  server x {
    address = 10.1.0.8
    active = 1
  }
}
"#;

fn www() -> ServiceKey {
    ServiceKey::tcp([10, 0, 0, 1], 80)
}

fn dns() -> ServiceKey {
    ServiceKey::udp([10, 0, 0, 2], 53)
}

#[test]
fn start_up_order_and_nanny_command_lines() {
    let s = Sim::started(TWO);
    assert_eq!(
        s.ops,
        [
            Op::AddService(Service::new(www(), "wlc")),
            Op::AddService(Service::new(dns(), "rr")),
        ]
    );
    assert_eq!(
        s.log,
        [
            "starting virtual service www active: 80",
            "create_monitor for www/web1 running as pid 1000",
            "create_monitor for www/web2 running as pid 1001",
            "starting virtual service dns active: 53",
            "create_monitor for dns/ns1 running as pid 1002",
        ]
    );
    assert_eq!(s.spawned.len(), 3);
    assert_eq!(
        s.spawned[0].2.join(" "),
        "/usr/sbin/nanny -c -h 10.1.0.1 -p 80 -r 80 -a 30 -I /sbin/ipvsadm -t 6 -w 10 \
         -V 10.0.0.1 -M m --lvs"
    );
    assert_eq!(s.spawned[0].3, None);
    assert!(s.spawned[2].2.contains(&"-u".to_string()));
    // no real server is added before a nanny reports
    assert_eq!(s.kernel(), [(www(), vec![]), (dns(), vec![])]);
    assert!(s.notices.is_empty());
    s.consistent();
}

/// A weight report gives only a weight: lvsd composes the change from its
/// own configuration (method included), whatever method the line names;
/// the same address under another service is another destination.
#[test]
fn weight_reports_are_composed_from_the_spec() {
    let mut s = Sim::started(TWO);
    s.clear();
    s.line(
        "www",
        "web1",
        "nanny1 add tcp 10.0.0.1:80 10.1.0.1:80 tunnel 3",
    );
    assert_eq!(
        s.ops,
        [Op::AddDest(
            www(),
            Dest::new([10, 1, 0, 1], 80, Forward::Masq).weight(3)
        )]
    );
    s.clear();
    s.line(
        "www",
        "web1",
        "nanny1 edit udp 10.0.0.1:80 10.1.0.1:80 masq 7",
    );
    s.line("www", "web1", "nanny1 del fwmark 1 10.1.0.1:80");
    assert!(s.ops.is_empty());
    assert_eq!(
        s.log,
        [
            "ignoring report from www/web1 for another destination: \
             nanny1 edit udp 10.0.0.1:80 10.1.0.1:80 masq 7",
            "ignoring report from www/web1 for another destination: \
             nanny1 del fwmark 1 10.1.0.1:80",
        ]
    );
    assert_eq!(s.dests(www()), [(dk([10, 1, 0, 1], 80), 3)]);
    s.consistent();
}

#[test]
fn reports_drive_the_table() {
    let mut s = Sim::started(TWO);
    s.clear();
    s.up("www", "web1", 1);
    assert_eq!(
        s.ops,
        [Op::AddDest(
            www(),
            Dest::new([10, 1, 0, 1], 80, Forward::Masq)
        )]
    );
    // slow start: edits
    s.line(
        "www",
        "web1",
        "nanny1 edit tcp 10.0.0.1:80 10.1.0.1:80 masq 2",
    );
    s.line(
        "www",
        "web1",
        "nanny1 edit tcp 10.0.0.1:80 10.1.0.1:80 masq 4",
    );
    assert_eq!(s.dests(www()), [(dk([10, 1, 0, 1], 80), 4)]);
    // an add while present (a re-sent add) is an edit; nothing re-added
    s.clear();
    s.line(
        "www",
        "web1",
        "nanny1 add tcp 10.0.0.1:80 10.1.0.1:80 masq 4",
    );
    assert!(s.ops.is_empty());
    s.down("www", "web1", false);
    assert_eq!(s.ops, [Op::DelDest(www(), dk([10, 1, 0, 1], 80))]);
    assert_eq!(s.dests(www()), []);
    // a delete of something absent changes nothing
    s.clear();
    s.line("www", "web1", "nanny1 del tcp 10.0.0.1:80 10.1.0.1:80");
    assert!(s.ops.is_empty());
    s.consistent();
    assert!(s.log.is_empty(), "{:?}", s.log);
}

#[test]
fn state_down_never_leaves_traffic_on_a_failed_server() {
    let text = TWO.replace("reentry = 30", "reentry = 30\n  quiesce_server = 1");
    let mut s = Sim::started(&text);
    s.up("www", "web1", 10);
    s.up("www", "web2", 20);
    // quiesce: weight 0, stays
    s.down("www", "web1", true);
    assert_eq!(
        s.dests(www()),
        [(dk([10, 1, 0, 1], 80), 0), (dk([10, 1, 0, 2], 80), 20)]
    );
    // a program that only says "down" (no change line): lvsd quiesces it
    s.first_down("www", "web2");
    assert_eq!(
        s.dests(www()),
        [(dk([10, 1, 0, 1], 80), 0), (dk([10, 1, 0, 2], 80), 0)]
    );
    s.consistent();
}

#[test]
fn foreign_and_bad_lines_are_ignored_and_echo_follows_nodaemon() {
    let mut s = Sim::with(
        spec_of(TWO),
        Options {
            nodaemon: true,
            test_start: false,
        },
        MemTable::new(),
    );
    s.start();
    s.clear();
    s.line(
        "www",
        "web1",
        "nanny1 add tcp 10.0.0.1:80 10.1.0.2:80 masq 1",
    );
    // a verb added later is ignored silently; a bad known one is logged
    s.line("www", "web1", "nanny1 frob");
    s.line("www", "web1", "nanny1 result maybe");
    s.line(
        "www",
        "web1",
        "nanny: starting LVS client monitor for 10.0.0.1:80 -> 10.1.0.1:80",
    );
    assert!(s.ops.is_empty());
    assert_eq!(
        s.log,
        [
            "ignoring report from www/web1 for another destination: \
             nanny1 add tcp 10.0.0.1:80 10.1.0.2:80 masq 1",
            "ignoring report from www/web1: \"maybe\": expected pass or fail: \
             nanny1 result maybe",
        ]
    );
    assert_eq!(
        s.echoed,
        ["nanny: starting LVS client monitor for 10.0.0.1:80 -> 10.1.0.1:80"]
    );
}

#[test]
fn hard_shutdown_1_stops_everything_on_a_nanny_death() {
    let mut s = Sim::started(TWO);
    s.up("www", "web1", 10);
    s.clear();
    let pid = s.pid("www", "web2");
    s.exited(pid);
    assert_eq!(
        s.log,
        [
            "nanny for child www/web2 died! shutting down lvs",
            "shutting down virtual service www",
            "shutting down virtual service dns",
        ]
    );
    let mut sig = s.signals.clone();
    sig.sort();
    assert_eq!(sig, [(1000, libc::SIGTERM), (1002, libc::SIGTERM)]);
    assert_eq!(s.awaited, [1000, 1002]);
    assert_eq!(s.ops, [Op::DelService(www()), Op::DelService(dns())]);
    assert_eq!(s.exit, Some(0));
    assert!(s.kernel().is_empty());
    // later events change nothing
    s.clear();
    s.exited(1000);
    let a = crate::run::nanny_line(&mut s.e, 1, "nanny1 state up", s.now);
    assert!(a.is_empty() && s.log.is_empty());
}

#[test]
fn hard_shutdown_0_keeps_running_and_the_server_unmonitored() {
    let text = format!("hard_shutdown = 0\n{TWO}");
    let mut s = Sim::started(&text);
    s.up("www", "web1", 10);
    s.clear();
    let pid = s.pid("www", "web1");
    s.exited(pid);
    assert_eq!(
        s.log,
        ["nanny for child www/web1 died! manual action needed!"]
    );
    assert!(s.ops.is_empty() && s.signals.is_empty() && s.exit.is_none());
    assert_eq!(s.dests(www()), [(dk([10, 1, 0, 1], 80), 10)]);
    let (vi, ri) = s.find("www", "web1");
    assert_eq!(s.e.vss[vi].reals[ri].monitor, Monitor::Dead);
    // an unknown child is reaped silently
    s.exited(4242);
    assert_eq!(s.log.len(), 1);
    // a reload restarts the dead nanny (the manual action), resuming it
    s.clear();
    s.reload(&text);
    assert_eq!(s.spawned.len(), 1);
    assert_eq!(s.spawned[0].3, Some(Resume::Up(10)));
    assert!(s.ops.is_empty());
    s.consistent();
}

#[test]
fn a_nanny_that_cannot_start_counts_as_dead() {
    let mut s = Sim::new(&format!("hard_shutdown = 0\n{TWO}"));
    s.spawn_error = Some("/usr/sbin/nanny: No such file or directory".into());
    s.start();
    assert_eq!(
        &s.log[..3],
        [
            "starting virtual service www active: 80",
            "create_monitor for www/web1 failed: /usr/sbin/nanny: No such file or directory",
            "nanny for child www/web1 died! manual action needed!",
        ]
    );
    let mut s = Sim::new(TWO);
    s.spawn_error = Some("x".into());
    s.start();
    assert_eq!(s.log[2], "nanny for child www/web1 died! shutting down lvs");
    assert_eq!(s.exit, Some(0));
}

#[test]
fn a_failed_dest_change_is_a_nanny_failure() {
    let text = format!("hard_shutdown = 0\n{TWO}");
    let mut s = Sim::started(&text);
    s.up("www", "web1", 10);
    // someone deletes the destination behind lvsd's back
    s.table
        .apply_one(&Op::DelDest(www(), dk([10, 1, 0, 1], 80)))
        .unwrap();
    s.clear();
    let pid = s.pid("www", "web1");
    s.line(
        "www",
        "web1",
        "nanny1 edit tcp 10.0.0.1:80 10.1.0.1:80 masq 20",
    );
    assert_eq!(s.log[0], "/sbin/ipvsadm command failed!");
    assert!(s.log[1].starts_with("/sbin/ipvsadm -e -t 10.0.0.1:80 -r 10.1.0.1:80 -m -w 20: "));
    assert_eq!(
        s.log[2],
        "nanny for child www/web1 died! manual action needed!"
    );
    assert_eq!(s.signals, [(pid, libc::SIGTERM)]);
    // its exit is expected now, and nothing is retried
    s.clear();
    s.exited(pid);
    assert!(s.log.is_empty() && s.ops.is_empty());
}

#[test]
fn a_failed_service_gets_no_nannies_and_foreign_services_stay() {
    let table = MemTable::new();
    let foreign = Service::new(www(), "sh");
    table.apply_one(&Op::AddService(foreign.clone())).unwrap();
    let mut s = Sim::with(spec_of(TWO), Options::default(), table);
    s.start();
    assert_eq!(s.log[0], "starting virtual service www active: 80");
    assert_eq!(s.log[1], "ipvsadm failed for virtual server www!");
    assert!(
        s.log[2].starts_with("/sbin/ipvsadm -A -t 10.0.0.1:80 -s wlc: "),
        "{}",
        s.log[2]
    );
    assert_eq!(s.spawned.len(), 1, "only dns/ns1");
    s.clear();
    let a = s.e.terminate(libc::SIGTERM);
    s.run(a);
    assert_eq!(s.ops, [Op::DelService(dns())]);
    assert_eq!(s.table.table()[0].service, foreign);
}

#[test]
fn duplicate_virtual_servers_and_real_servers() {
    let text = r#"
virtual a {
  active = 1
  address = 10.0.0.1 eth0:1
  server r1 {
    address = 10.1.0.1
    active = 1
  }
  server r1again {
    address = 10.1.0.1
    active = 1
  }
}
virtual b {
  active = 1
  address = 10.0.0.1 eth0:1
  server r2 {
    address = 10.1.0.2
    active = 1
  }
}
"#;
    let s = Sim::started(text);
    assert_eq!(s.spawned.len(), 1);
    assert_eq!(
        s.log,
        [
            "starting virtual service a active: 80",
            "create_monitor for a/r1 running as pid 1000",
            "starting virtual service b active: 80",
            "ipvsadm failed for virtual server b!",
            "virtual server b: TCP 10.0.0.1:80 is already defined by an earlier virtual block",
        ]
    );
    let st = crate::status_view::status(&s.e, s.now, 0.0);
    assert_eq!(st.virtuals[1].state, Phase::Duplicate);
    assert_eq!(st.virtuals[0].reals[1].monitor, "duplicate");
}

#[test]
fn terminate_deletes_services_in_file_order_and_exits_0() {
    let mut s = Sim::started(TWO);
    s.up("www", "web1", 3);
    s.clear();
    let a = s.e.terminate(libc::SIGINT);
    s.run(a);
    assert_eq!(
        s.log,
        [
            "shutting down due to signal 2",
            "shutting down virtual service www",
            "shutting down virtual service dns",
        ]
    );
    assert_eq!(s.signals.len(), 3);
    assert_eq!(s.awaited, [1000, 1001, 1002]);
    assert_eq!(s.ops, [Op::DelService(www()), Op::DelService(dns())]);
    assert_eq!(s.exit, Some(0));
    assert!(s.e.terminate(libc::SIGTERM).is_empty());
}

#[test]
fn test_start_shows_nannies_and_starts_none() {
    let mut s = Sim::with(
        spec_of(TWO),
        Options {
            test_start: true,
            nodaemon: false,
        },
        MemTable::new(),
    );
    s.start();
    assert!(s.spawned.is_empty());
    assert_eq!(s.shown.len(), 3);
    assert_eq!(s.shown[0][0], "/usr/sbin/nanny");
    assert_eq!(
        s.log,
        [
            "starting virtual service www active: 80",
            "starting virtual service dns active: 53"
        ]
    );
    // no sorry-server decision without nannies, whatever the time
    s.advance(Duration::from_secs(3600));
    assert!(s.notices.is_empty());
}

const SORRY: &str = r#"
virtual www {
  active = 1
  address = 10.0.0.1 eth0:1
  timeout = 3
  sorry_server = 10.9.9.9
  server web1 {
    address = 10.1.0.1
    active = 1
  }
  server web2 {
    address = 10.1.0.2
    active = 1
  }
}
"#;

fn sorry_dest() -> (DestKey, u32) {
    (dk([10, 9, 9, 9], 80), 1)
}

#[test]
fn sorry_server_never_flashes_at_start_up() {
    let mut s = Sim::started(SORRY);
    // --nodaemon because of the sorry server
    assert!(s.spawned[0].2.contains(&"--nodaemon".to_string()));
    s.advance(SEC);
    assert!(s.notices.is_empty());
    // one nanny's first check fails; the other has not reported yet
    s.first_down("www", "web1");
    assert!(s.notices.is_empty());
    assert_eq!(s.kernel()[0].1, []);
    // the other comes up: never any sorry server
    s.line(
        "www",
        "web2",
        "nanny: [ active ] making 10.1.0.2:80 available",
    );
    s.up("www", "web2", 1);
    assert!(s.notices.is_empty());
    assert_eq!(s.kernel()[0].1, [(dk([10, 1, 0, 2], 80), 1)]);
    s.consistent();
}

#[test]
fn sorry_server_comes_in_and_goes_out() {
    let mut s = Sim::started(SORRY);
    s.up("www", "web1", 1);
    s.up("www", "web2", 1);
    s.clear();
    s.down("www", "web1", false);
    assert!(s.notices.is_empty());
    s.down("www", "web2", false);
    assert_eq!(
        s.notices,
        ["Virtual Server www: No real servers; activate sorry_server 10.9.9.9"]
    );
    assert_eq!(s.kernel()[0].1, [sorry_dest()]);
    // the sorry server uses the virtual port and weight 1
    assert_eq!(
        s.ops.last(),
        Some(&Op::AddDest(
            www(),
            Dest::new([10, 9, 9, 9], 80, Forward::Masq)
        ))
    );
    s.clear();
    // the real server is back in before the sorry server goes
    s.line(
        "www",
        "web2",
        "nanny: [ active ] making 10.1.0.2:80 available",
    );
    assert!(s.notices.is_empty());
    s.up("www", "web2", 1);
    assert_eq!(
        s.notices,
        ["Virtual Server www: 1 real servers; deactivate sorry_server 10.9.9.9"]
    );
    assert_eq!(
        s.ops,
        [
            Op::AddDest(www(), Dest::new([10, 1, 0, 2], 80, Forward::Masq)),
            Op::DelDest(www(), sorry_dest().0),
        ]
    );
    s.consistent();
}

#[test]
fn sorry_server_after_the_first_verdict_window() {
    let mut s = Sim::started(SORRY);
    s.first_down("www", "web1");
    // web2 never says anything: after 2 x timeout + 2 s it counts as down
    assert_eq!(s.e.next_wakeup(), Some(s.now + Duration::from_secs(8)));
    s.advance(Duration::from_secs(7));
    assert!(s.notices.is_empty());
    s.advance(SEC);
    assert_eq!(
        s.notices,
        ["Virtual Server www: No real servers; activate sorry_server 10.9.9.9"]
    );
    assert_eq!(s.kernel()[0].1, [sorry_dest()]);
    assert_eq!(s.e.next_wakeup(), None);
}

#[test]
fn markers_alone_drive_the_sorry_server_for_other_monitors() {
    // A client_monitor that prints markers but does not speak the report
    // protocol: markers count once its first-verdict window has passed.
    let mut s = Sim::started(SORRY);
    s.line(
        "www",
        "web1",
        "nanny: [inactive] shutting down 10.1.0.1:80 due to connection failure",
    );
    s.line(
        "www",
        "web2",
        "nanny: [inactive] shutting down 10.1.0.2:80 due to connection failure",
    );
    assert!(s.notices.is_empty());
    s.advance(Duration::from_secs(8));
    assert_eq!(s.notices.len(), 1);
    s.line(
        "www",
        "web2",
        "nanny: [ active ] making 10.1.0.2:80 available",
    );
    assert_eq!(
        s.notices[1],
        "Virtual Server www: 1 real servers; deactivate sorry_server 10.9.9.9"
    );
    // a marker split over two reads arrives as one line (see procs), and a
    // line with no marker changes nothing
    s.line("www", "web2", "nanny: starting LVS client monitor");
    assert_eq!(s.notices.len(), 2);
}

#[test]
fn a_virtual_server_with_only_inactive_servers_never_gets_its_sorry_server() {
    let text = SORRY.replace("active = 1\n  }", "active = 0\n  }");
    let mut s = Sim::started(&text);
    assert!(s.spawned.is_empty());
    s.advance(Duration::from_secs(60));
    assert!(s.notices.is_empty());
    assert_eq!(s.kernel()[0].1, []);
}

#[test]
fn status_snapshot() {
    let mut s = Sim::started(SORRY);
    s.line("www", "web1", "nanny1 result pass");
    s.up("www", "web1", 1);
    s.now += Duration::from_secs(5);
    let st = crate::status_view::status(&s.e, s.now, 1000.0);
    let v = &st.virtuals[0];
    assert_eq!(v.service, "TCP 10.0.0.1:80");
    assert_eq!(v.state, Phase::Up);
    assert_eq!(v.sorry_server.as_deref(), Some("10.9.9.9"));
    assert!(!v.sorry_active);
    let r = &v.reals[0];
    assert_eq!(
        (r.monitor.as_str(), r.pid, r.health.as_str(), r.weight),
        ("running", Some(1000), "up", Some(1))
    );
    assert_eq!(r.last_result.as_deref(), Some("pass"));
    assert_eq!(r.last_result_since, Some(995.0));
    assert_eq!(r.last_change_at, Some(995.0));
    let r = &v.reals[1];
    assert_eq!((r.health.as_str(), r.weight), ("pending", None));
    assert_eq!(
        (r.last_result.as_deref(), r.last_result_since),
        (None, None)
    );
    let json = serde_json::to_value(&st).unwrap();
    assert_eq!(json["virtuals"][0]["reals"][0]["health"], "up");
    assert_eq!(json["virtuals"][0]["state"], "up");
}

#[test]
fn status_shows_raw_results_next_to_health() {
    let mut s = Sim::started(SORRY);
    s.line("www", "web1", "nanny1 result pass");
    s.up("www", "web1", 1);
    s.now += Duration::from_secs(10);
    s.line("www", "web1", "nanny1 result fail");
    s.down("www", "web1", false);
    let failed_at = s.now;
    s.now += Duration::from_secs(10);
    s.clear();
    // re-entry: the checks pass again, the verdict is still down
    s.line("www", "web1", "nanny1 result pass");
    let passing_at = s.now;
    // results change nothing else: no IPVS change, no sorry-server decision
    assert!(s.ops.is_empty() && s.log.is_empty() && s.notices.is_empty());
    // a repeated result (never sent by nanny) keeps the time of the change
    s.now += Duration::from_secs(3);
    s.line("www", "web1", "nanny1 result pass");
    s.now += Duration::from_secs(4);
    let wall = 10_000.0;
    let at = |t: Duration| wall - (s.now - t).as_secs_f64();
    let st = crate::status_view::status(&s.e, s.now, wall);
    let r = &st.virtuals[0].reals[0];
    assert_eq!(
        (r.health.as_str(), r.weight, r.last_result.as_deref()),
        ("down", None, Some("pass"))
    );
    assert_eq!(r.last_result_since, Some(at(passing_at)));
    assert_eq!(r.last_change_at, Some(at(failed_at)));
    let json = serde_json::to_value(&st).unwrap();
    assert_eq!(json["virtuals"][0]["reals"][0]["last_result"], "pass");
    assert_eq!(json["virtuals"][0]["reals"][0]["health"], "down");
    // a nanny that never sent results (an older one, or markers only)
    let r = &st.virtuals[0].reals[1];
    assert_eq!(r.last_result, None);
}

#[test]
fn failed_checks_are_counted_per_real_server() {
    let mut s = Sim::started(TWO);
    let failures = |s: &Sim| -> Vec<u64> {
        crate::status_view::status(&s.e, s.now, 0.0)
            .virtuals
            .iter()
            .flat_map(|v| v.reals.iter().map(|r| r.check_failures))
            .collect()
    };
    assert_eq!(failures(&s), [0, 0, 0, 0, 0]);
    s.up("www", "web1", 10);
    s.clear();
    // a failure of a healthy server: result, failed, then the change
    s.line("www", "web1", "nanny1 result fail");
    s.line("www", "web1", "nanny1 failed");
    // counting decides nothing: no IPVS change, no log line
    assert!(s.ops.is_empty() && s.log.is_empty() && s.notices.is_empty());
    s.down("www", "web1", false);
    // every further failed check counts, whatever the verdict
    for _ in 0..4 {
        s.line("www", "web1", "nanny1 failed");
    }
    s.line("dns", "ns1", "nanny1 failed");
    assert_eq!(failures(&s), [5, 0, 0, 1, 0]);
    let json = serde_json::to_value(crate::status_view::status(&s.e, s.now, 0.0)).unwrap();
    assert_eq!(json["virtuals"][0]["reals"][0]["check_failures"], 5);
    assert_eq!(json["virtuals"][0]["reals"][1]["check_failures"], 0);
    // a bad `failed` line is logged and not counted
    s.line("www", "web1", "nanny1 failed twice");
    assert_eq!(
        s.log.last().map(String::as_str),
        Some("ignoring report from www/web1: too many fields: nanny1 failed twice")
    );
    // a nanny lvsd let go of counts no more
    let old = s.nanny("www", "web1");
    s.reload(&TWO.replace("weight = 10", "weight = 11"));
    let a = s.e.nanny_report(old, Report::Failed, s.now);
    s.run(a);
    // the count stays with the real server across its new nanny...
    assert_ne!(s.nanny("www", "web1"), old);
    assert_eq!(failures(&s), [5, 0, 0, 1, 0]);
    s.line("www", "web1", "nanny1 failed");
    assert_eq!(failures(&s), [6, 0, 0, 1, 0]);
    // ...and across a reload of the same file
    s.reload(&TWO.replace("weight = 10", "weight = 11"));
    assert_eq!(failures(&s), [6, 0, 0, 1, 0]);
    // a server that leaves the configuration starts again from 0 when it
    // comes back
    let without = TWO.replace(
        "  server web1 {\n    address = 10.1.0.1\n    active = 1\n    weight = 10\n  }\n",
        "",
    );
    s.reload(&without);
    assert_eq!(failures(&s), [0, 0, 1, 0]);
    s.reload(TWO);
    assert_eq!(failures(&s), [0, 0, 0, 1, 0]);
    // so does one whose virtual server is replaced (new key)
    s.reload(&TWO.replace("port = 53", "port = 54"));
    assert_eq!(failures(&s), [0, 0, 0, 0, 0]);
}

#[test]
fn status_documents_version_config_and_reloads() {
    let mut s = Sim::started(TWO);
    let st = crate::status_view::status(&s.e, s.now, 5.0);
    assert_eq!((st.version, st.pid, st.time), (1, 0, 5.0));
    assert_eq!(st.config, Config::default());
    let bounds: Vec<f64> = st
        .reloads
        .duration_seconds
        .buckets
        .iter()
        .map(|b| b.0)
        .collect();
    assert_eq!(bounds, RELOAD_BUCKETS);
    assert_eq!(
        (
            st.reloads.total,
            st.reloads.refused,
            st.reloads.last_duration_seconds
        ),
        (0, 0, None)
    );
    let cfg = |n: i64, h: &str| Config {
        file: "/etc/sysconfig/ha/lvs.cf".into(),
        serial_no: Some(n),
        sha256: h.into(),
    };
    s.e.set_config(cfg(1, "aa"));
    s.e.reload_refused();
    s.e.reload_refused();
    let st = crate::status_view::status(&s.e, s.now, 5.0);
    assert_eq!(st.config, cfg(1, "aa"));
    assert_eq!((st.reloads.total, st.reloads.refused), (0, 2));
    assert_eq!(st.reloads.duration_seconds.count, 0);
    s.reload(TWO);
    s.e.reload_applied(cfg(2, "bb"), Duration::from_millis(30));
    s.reload(TWO);
    s.e.reload_applied(cfg(3, "cc"), Duration::from_secs(3));
    let st = crate::status_view::status(&s.e, s.now, 5.0);
    assert_eq!(st.config, cfg(3, "cc"));
    assert_eq!((st.reloads.total, st.reloads.refused), (2, 2));
    assert_eq!(st.reloads.last_duration_seconds, Some(3.0));
    let h = &st.reloads.duration_seconds;
    assert_eq!(h.count, 2);
    assert!((h.sum - 3.03).abs() < 1e-9, "{h:?}");
    let counts: Vec<u64> = h.buckets.iter().map(|b| b.1).collect();
    assert_eq!(counts, [0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2]);
    let json = serde_json::to_value(&st).unwrap();
    assert_eq!(
        json["reloads"]["duration_seconds"]["buckets"][1],
        serde_json::json!([0.05, 1])
    );
    assert_eq!(json["config"]["serial_no"], 3);
    assert_eq!(json["version"], 1);
}

#[test]
fn service_names_prefer_the_owner() {
    let text = format!(
        "{TWO}virtual www2 {{\n  active = 1\n  address = 10.0.0.1 eth0:1\n  port = 80\n}}\n"
    )
    .replace(
        "virtual www {",
        "virtual early {\n  active = 0\n  address = 10.0.0.1 eth0:1\n  port = 80\n}\nvirtual www {",
    );
    let s = Sim::started(&text);
    let names = s.e.service_names();
    // the owner, not the inactive block before it nor the duplicate after
    assert_eq!(names[&www()], "www");
    assert_eq!(names[&dns()], "dns");
    // an inactive block's service is still named
    assert_eq!(names[&ServiceKey::tcp([10, 0, 0, 3], 80)], "off");
    assert_eq!(names.len(), 3);
}

// ---- reload ----

#[test]
fn reload_of_the_same_file_changes_nothing() {
    let mut s = Sim::started(TWO);
    s.up("www", "web1", 10);
    s.first_down("www", "web2");
    s.clear();
    s.reload(TWO);
    assert!(s.ops.is_empty() && s.spawned.is_empty() && s.signals.is_empty());
    assert!(s.log.is_empty() && s.timeouts.is_empty());
    // reordered blocks and servers: still nothing
    let reordered = r#"
network = nat
virtual off {
  active = 0
  address = 10.0.0.3 eth0:3
  server x {
    address = 10.1.0.8
    active = 1
  }
}
virtual dns {
  active = 1
  address = 10.0.0.2 eth0:2
  protocol = udp
  port = 53
  scheduler = rr
  server ns1 {
    address = 10.1.0.9
    active = 1
  }
}
virtual www {
  active = 1
  address = 10.0.0.1 eth0:1
  port = 80
  scheduler = wlc
  timeout = 6
  reentry = 30
  server web3 {
    address = 10.1.0.3
    active = 0
  }
  server web2 {
    address = 10.1.0.2
    active = 1
    weight = 20
  }
  server web1 {
    address = 10.1.0.1
    active = 1
    weight = 10
  }
}
"#;
    s.reload(reordered);
    assert!(s.ops.is_empty() && s.spawned.is_empty() && s.signals.is_empty());
    assert!(s.log.is_empty());
    // the nannies are still attached: their reports still count
    s.up("www", "web2", 20);
    assert_eq!(
        s.dests(www()),
        [(dk([10, 1, 0, 1], 80), 10), (dk([10, 1, 0, 2], 80), 20)]
    );
    s.consistent();
}

#[test]
fn reload_service_settings_are_edited_in_place() {
    let mut s = Sim::started(TWO);
    s.up("www", "web1", 10);
    s.clear();
    let text = TWO.replace(
        "scheduler = wlc",
        "scheduler = rr\n  persistent = 60\n  pmask = 255.255.255.0",
    );
    s.reload(&text);
    assert_eq!(
        s.ops,
        [Op::EditService(
            Service::new(www(), "rr").persistent(60, Netmask::V4([255, 255, 255, 0].into()))
        )]
    );
    assert!(s.spawned.is_empty() && s.signals.is_empty());
    assert_eq!(s.dests(www()), [(dk([10, 1, 0, 1], 80), 10)]);
    s.consistent();
}

#[test]
fn reload_weight_change_is_one_set_dest_and_one_resumed_nanny() {
    let mut s = Sim::started(TWO);
    s.up("www", "web1", 10);
    let old = s.pid("www", "web1");
    s.clear();
    s.reload(&TWO.replace("weight = 10", "weight = 15"));
    assert_eq!(
        s.ops,
        [Op::EditDest(
            www(),
            Dest::new([10, 1, 0, 1], 80, Forward::Masq).weight(15)
        )]
    );
    assert_eq!(s.signals, [(old, libc::SIGTERM)]);
    assert_eq!(s.spawned.len(), 1);
    assert!(s.spawned[0].2.join(" ").contains("-w 15"));
    assert_eq!(s.spawned[0].3, Some(Resume::Up(15)));
    assert_eq!(s.log, ["create_monitor for www/web1 running as pid 1003"]);
    // the old nanny's last words and exit are ignored
    s.clear();
    s.exited(old);
    assert!(s.log.is_empty() && s.exit.is_none());
    s.consistent();
}

#[test]
fn reload_real_servers_come_and_go_one_by_one() {
    let mut s = Sim::started(TWO);
    s.up("www", "web1", 10);
    s.up("www", "web2", 20);
    let web2 = s.pid("www", "web2");
    s.clear();
    // web2 removed, web3 activated, web4 added
    let text = TWO
        .replace(
            "  server web2 {\n    address = 10.1.0.2\n    active = 1\n    weight = 20\n  }\n",
            "",
        )
        .replace(
            "address = 10.1.0.3\n    active = 0",
            "address = 10.1.0.3\n    active = 1",
        )
        .replace(
            "  server web3 {",
            "  server web4 {\n    address = 10.1.0.4\n    active = 1\n  }\n  server web3 {",
        );
    s.reload(&text);
    assert_eq!(s.ops, [Op::DelDest(www(), dk([10, 1, 0, 2], 80))]);
    assert_eq!(s.signals, [(web2, libc::SIGTERM)]);
    let started: Vec<&str> = s.spawned.iter().map(|x| x.2[3].as_str()).collect();
    assert_eq!(started, ["10.1.0.4", "10.1.0.3"]);
    assert!(s.spawned.iter().all(|x| x.3.is_none()));
    // web1 untouched
    assert_eq!(s.dests(www()), [(dk([10, 1, 0, 1], 80), 10)]);
    s.up("www", "web4", 1);
    s.consistent();
}

#[test]
fn reload_virtual_servers_come_and_go() {
    let mut s = Sim::started(TWO);
    s.up("dns", "ns1", 1);
    s.up("www", "web1", 10);
    let ns1 = s.pid("dns", "ns1");
    s.clear();
    // dns removed, off activated
    let text = TWO
        .replace("virtual dns {\n  active = 1", "virtual dns {\n  active = 0")
        .replace("virtual off {\n  active = 0", "virtual off {\n  active = 1");
    s.reload(&text);
    assert_eq!(
        s.log,
        [
            "shutting down virtual service dns",
            "starting virtual service off active: 80",
            "create_monitor for off/x running as pid 1003",
        ]
    );
    assert_eq!(
        s.ops,
        [
            Op::DelService(dns()),
            Op::AddService(Service::new(ServiceKey::tcp([10, 0, 0, 3], 80), "wlc"))
        ]
    );
    assert_eq!(s.signals, [(ns1, libc::SIGTERM)]);
    assert_eq!(s.kernel()[0].0, www());
    s.consistent();
}

#[test]
fn reload_key_change_replaces_the_virtual_server() {
    let mut s = Sim::started(TWO);
    s.up("www", "web1", 10);
    s.clear();
    s.reload(&TWO.replace("port = 80", "port = 8080"));
    let new = ServiceKey::tcp([10, 0, 0, 1], 8080);
    assert_eq!(
        s.ops,
        [
            Op::DelService(www()),
            Op::AddService(Service::new(new, "wlc"))
        ]
    );
    assert_eq!(s.signals.len(), 2);
    assert_eq!(s.spawned.len(), 2);
    assert_eq!(
        s.log[..2],
        [
            "shutting down virtual service www",
            "starting virtual service www active: 8080"
        ]
    );
    s.consistent();
}

#[test]
fn reload_keeps_failed_servers_failed() {
    let text = TWO.replace("reentry = 30", "reentry = 30\n  quiesce_server = 1");
    let mut s = Sim::started(&text);
    s.up("www", "web1", 10);
    s.down("www", "web1", true);
    s.first_down("www", "web2");
    s.clear();
    // timeout change: both nannies restart, resuming their failure
    s.reload(&text.replace("timeout = 6", "timeout = 5"));
    assert!(s.ops.is_empty());
    let resumes: Vec<Option<Resume>> = s.spawned.iter().map(|x| x.3).collect();
    assert_eq!(resumes, [Some(Resume::Quiesced), Some(Resume::Down)]);
    // quiesce turned off: the quiesced server leaves the table
    s.clear();
    s.reload(
        &text
            .replace("timeout = 6", "timeout = 5")
            .replace("\n  quiesce_server = 1", ""),
    );
    assert_eq!(s.ops, [Op::DelDest(www(), dk([10, 1, 0, 1], 80))]);
    let resumes: Vec<Option<Resume>> = s.spawned.iter().map(|x| x.3).collect();
    assert_eq!(resumes, [Some(Resume::Down), Some(Resume::Down)]);
    s.consistent();
}

#[test]
fn reload_network_change_edits_destinations() {
    let mut s = Sim::started(TWO);
    s.up("www", "web1", 10);
    s.clear();
    s.reload(&TWO.replace("network = nat", "network = tunnel"));
    assert_eq!(
        s.ops,
        [Op::EditDest(
            www(),
            Dest::new([10, 1, 0, 1], 80, Forward::Tunnel).weight(10)
        )]
    );
    assert_eq!(s.spawned.len(), 3, "-M changed for every nanny");
    s.consistent();
}

#[test]
fn reload_timeouts_and_sorry_server_changes() {
    let mut s = Sim::started(SORRY);
    s.down("www", "web1", false);
    s.first_down("www", "web2");
    assert_eq!(s.kernel()[0].1, [sorry_dest()]);
    s.clear();
    let moved = format!(
        "tcp_timeout = 900\n{}",
        SORRY.replace("10.9.9.9", "10.9.9.8")
    );
    s.reload(&moved);
    assert_eq!(s.timeouts, [[900, 0, 0]]);
    assert_eq!(
        s.notices,
        ["Virtual Server www: No real servers; activate sorry_server 10.9.9.8"]
    );
    assert_eq!(s.kernel()[0].1, [(dk([10, 9, 9, 8], 80), 1)]);
    assert!(s.spawned.is_empty(), "nanny arguments did not change");
    // sorry server removed: it leaves, the nannies lose --nodaemon
    s.clear();
    s.reload(&moved.replace("  sorry_server = 10.9.9.8\n", ""));
    assert_eq!(s.ops, [Op::DelDest(www(), dk([10, 9, 9, 8], 80))]);
    assert!(s.notices.is_empty());
    assert_eq!(s.spawned.len(), 2);
    assert!(!s.spawned[0].2.contains(&"--nodaemon".to_string()));
    s.consistent();
}

#[test]
fn reload_retries_a_failed_virtual_server() {
    let table = MemTable::new();
    table
        .apply_one(&Op::AddService(Service::new(www(), "sh")))
        .unwrap();
    let mut s = Sim::with(spec_of(TWO), Options::default(), table);
    s.start();
    // the foreign service goes away; a reload creates ours
    s.table.apply_one(&Op::DelService(www())).unwrap();
    s.clear();
    s.reload(TWO);
    assert_eq!(s.ops, [Op::AddService(Service::new(www(), "wlc"))]);
    assert_eq!(s.spawned.len(), 2);
    s.consistent();
}

/// What pulse waits for before it brings up the VIPs: every started
/// virtual server can serve (a destination with a weight) or has all its
/// first verdicts; one unreachable server does not hold the others back.
#[test]
fn the_table_is_ready_once_each_service_serves_or_every_first_verdict_is_in() {
    let mut s = Sim::new(TWO);
    assert!(!s.e.ready(s.now) || s.e.installed().is_empty());
    s.start();
    assert!(!s.e.ready(s.now), "nothing checked yet");
    // www can serve with web1; dns still waits for ns1
    s.up("www", "web1", 10);
    assert!(!s.e.ready(s.now));
    // ns1 down: its first verdict is in, dns has nothing to wait for
    s.down("dns", "ns1", false);
    assert!(s.e.ready(s.now), "web2 pending does not hold www back");
    // and without any report, the first-verdict window ends the wait
    let mut t = Sim::started(TWO);
    assert!(!t.e.ready(t.now));
    // (www: timeout 6, 2 x 6 + 2 = 14 s; dns: the default 10, 22 s)
    t.advance(Duration::from_secs(15));
    assert!(!t.e.ready(t.now));
    t.advance(Duration::from_secs(8));
    assert!(t.e.ready(t.now));
}

/// Scale-out mode: the VIPs the table serves (`crate::serving::vips`)
/// when nothing was said before.
fn serving(s: &Sim) -> Vec<String> {
    said_after(s, &mut crate::serving::Said::default())
}

/// The same after `said`, which it updates: the lines lvsd would write.
fn said_after(s: &Sim, said: &mut crate::serving::Said) -> Vec<String> {
    let now = crate::serving::vips(&s.e, s.now, said);
    let out = now.iter().map(|ip| ip.to_string()).collect();
    said.update(now);
    out
}

#[test]
fn a_vip_is_served_while_a_real_server_has_a_weight() {
    let mut s = Sim::started(TWO);
    // services up, no real server in the table yet
    assert!(serving(&s).is_empty());
    // web1 up, web2's first verdict still to come: not yet (a joining
    // director's mh table would lack web2)
    s.up("www", "web1", 10);
    assert!(serving(&s).is_empty());
    s.up("www", "web2", 20);
    assert_eq!(serving(&s), ["10.0.0.1"]);
    s.up("dns", "ns1", 1);
    assert_eq!(serving(&s), ["10.0.0.1", "10.0.0.2"]);
    // one of two down: still served
    s.down("www", "web1", false);
    assert_eq!(serving(&s), ["10.0.0.1", "10.0.0.2"]);
    // quiesced (weight 0) counts as not serving
    s.down("www", "web2", true);
    assert_eq!(serving(&s), ["10.0.0.2"]);
    s.down("dns", "ns1", false);
    assert!(serving(&s).is_empty());
}

#[test]
fn a_real_server_that_never_answers_holds_the_vip_back_only_for_twice_its_first_verdict_window() {
    let mut s = Sim::started(TWO);
    s.up("www", "web1", 10);
    assert!(serving(&s).is_empty());
    // web2 never reports: twice its first-verdict window (2 x 6 + 2 s)
    s.advance(Duration::from_secs(27));
    assert!(serving(&s).is_empty());
    s.advance(Duration::from_secs(2));
    assert_eq!(serving(&s), ["10.0.0.1"]);
}

/// What a real nanny sends for one failed check of a server that was not
/// up: the raw result, the count, then (the first time) the verdict.
fn failed_check(s: &mut Sim, vs: &str, rs: &str, first: bool) {
    if first {
        s.line(vs, rs, "nanny1 result fail");
    }
    s.line(vs, rs, "nanny1 failed");
    if first {
        s.line(vs, rs, "nanny1 state down");
    }
}

#[test]
fn one_failed_first_check_holds_the_vip_back_until_a_second_confirms_it() {
    let mut s = Sim::started(TWO);
    s.up("www", "web1", 10);
    // web2's first check failed: a joining director's slow check, maybe
    failed_check(&mut s, "www", "web2", true);
    assert!(serving(&s).is_empty());
    // the second failed too: down it is, on every director alike
    s.advance(Duration::from_secs(6));
    failed_check(&mut s, "www", "web2", false);
    assert_eq!(serving(&s), ["10.0.0.1"]);
}

#[test]
fn a_real_server_whose_checks_pass_again_holds_the_vip_back_until_it_is_up() {
    let mut s = Sim::started(TWO);
    s.up("www", "web1", 10);
    failed_check(&mut s, "www", "web2", true);
    // the next check passes: re-entering (the verdict stays down for now)
    s.line("www", "web2", "nanny1 result pass");
    s.advance(Duration::from_secs(20));
    assert!(serving(&s).is_empty(), "re-entering");
    s.up("www", "web2", 20);
    assert_eq!(serving(&s), ["10.0.0.1"]);
    // a server forced down (no check behind the verdict) is settled
    let mut t = Sim::started(TWO);
    t.up("www", "web1", 10);
    t.first_down("www", "web2");
    assert_eq!(serving(&t), ["10.0.0.1"]);
}

#[test]
fn a_served_vip_stays_served_through_a_failure_while_it_has_a_weight() {
    let mut s = Sim::started(TWO);
    let mut said = crate::serving::Said::default();
    s.up("www", "web1", 10);
    s.up("www", "web2", 20);
    assert_eq!(said_after(&s, &mut said), ["10.0.0.1"]);
    // web1 fails once: a fresh director would wait, a serving one goes on
    s.line("www", "web1", "nanny1 result fail");
    s.line("www", "web1", "nanny1 failed");
    s.down("www", "web1", false);
    assert_eq!(said_after(&s, &mut said), ["10.0.0.1"]);
    assert!(
        serving(&s).is_empty(),
        "what a director that has just started says"
    );
    // nothing weighted: idle, and strict again after that
    s.down("www", "web2", false);
    assert!(said_after(&s, &mut said).is_empty());
    s.up("www", "web2", 20);
    assert!(said_after(&s, &mut said).is_empty(), "web1 still settling");
}

#[test]
fn scale_out_wakes_up_when_a_real_server_stops_settling() {
    let s = Sim::started(SCALE_OUT);
    // the default timeout 10: first-verdict window 22 s, settling 44 s
    assert_eq!(s.e.next_wakeup(), Some(s.now + Duration::from_secs(44)));
    // the pair's engine has nothing to wake up for without a sorry server
    let t = Sim::started(TWO);
    assert_eq!(t.e.next_wakeup(), None);
}

#[test]
fn the_sorry_server_does_not_make_a_vip_served() {
    let mut s = Sim::started(SORRY);
    s.first_down("www", "web1");
    s.first_down("www", "web2");
    s.advance(Duration::from_secs(60));
    // the sorry server is in the table, alone
    assert_eq!(s.kernel()[0].1, [sorry_dest()]);
    assert!(serving(&s).is_empty());
    s.up("www", "web2", 1);
    assert_eq!(serving(&s), ["10.0.0.1"]);
}

#[test]
fn a_fwmark_service_serves_its_address() {
    let mut s = Sim::started(
        r#"
network = direct
virtual web {
  active = 1
  address = 192.0.2.10 eth0:1
  fwmark = 5
  scheduler = rr
  server a {
    address = 10.1.0.1
    active = 1
  }
}
"#,
    );
    s.up("web", "a", 1);
    assert_eq!(serving(&s), ["192.0.2.10"]);
}

#[test]
fn stopping_serves_nothing_once_the_services_are_gone() {
    let mut s = Sim::started(TWO);
    s.up("www", "web1", 10);
    let a = s.e.terminate(libc::SIGTERM);
    s.run(a);
    assert!(serving(&s).is_empty());
}

const SCALE_OUT: &str = r#"
network = direct
scale_out = 1
scale_out_members = 192.0.2.1
virtual web {
  active = 1
  address = 10.0.0.1 lvs0
  port = 80
  scheduler = mh
  server c {
    address = 10.1.0.3
    active = 1
  }
  server a {
    address = 10.1.0.1
    active = 1
  }
  server b {
    address = 10.1.0.2
    active = 1
  }
}
"#;

/// Scale-out: the destinations of the one service, in the kernel's list
/// order (what `mh` builds its table from), with their weights.
fn list_order(s: &Sim) -> Vec<(String, u32)> {
    let t = s.table.table();
    t[0].dests
        .iter()
        .map(|d| (d.addr.to_string(), d.weight))
        .collect()
}

#[test]
fn scale_out_lists_every_real_server_in_file_order_whatever_comes_up_first() {
    let mut s = Sim::started(SCALE_OUT);
    let at_zero = [("10.1.0.3", 0), ("10.1.0.1", 0), ("10.1.0.2", 0)];
    let want = |w: [u32; 3]| -> Vec<(String, u32)> {
        at_zero
            .iter()
            .zip(w)
            .map(|((a, _), w)| (a.to_string(), w))
            .collect()
    };
    assert_eq!(list_order(&s), want([0, 0, 0]));
    // b, then a, then c come up: the order stays lvs.cf's
    s.up("web", "b", 1);
    s.up("web", "a", 1);
    assert_eq!(list_order(&s), want([0, 1, 1]));
    s.up("web", "c", 1);
    assert_eq!(list_order(&s), want([1, 1, 1]));
    // a failure quiesces (nanny runs with -q), the place is kept
    s.down("web", "a", true);
    assert_eq!(list_order(&s), want([1, 0, 1]));
    s.up("web", "a", 1);
    assert_eq!(list_order(&s), want([1, 1, 1]));
    let argv = &s.e.spec().virtuals[0].reals[0].argv;
    assert!(argv.iter().any(|a| a == "-q"), "{argv:?}");
}
