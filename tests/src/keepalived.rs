//! keepalived (Debian's, 2.2.7 on bookworm) on the cluster's directors, as
//! the baseline our failover is measured against: same VIP, same NAT
//! router address, same real servers and checks, VRRP timing comparable
//! to pulse's `keepalive`/`deadtime`.
//!
//! One `vrrp_instance` carries every address that moves (the VIP on eth0,
//! the NAT router address on eth1). Both directors start as BACKUP with
//! `nopreempt` (no fail-back, like pulse), d1 with the higher priority;
//! started first, d1 becomes master. `virtual_server` programs IPVS on
//! both directors, master and backup alike (a warm standby).
//!
//! A crash is [`crash`]: kill -9 of keepalived's parent alone is not one
//! (its children get SIGTERM and the VRRP child resigns with priority 0,
//! so the backup takes over at once); every keepalived process is stopped
//! first, then killed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cluster::{
    Cluster, Config, DIRECTORS, Director, Method, NAT_ROUTER, PORT, VIP, real_address,
};
use crate::netns::wait_for;

/// Where Debian installs it.
pub const KEEPALIVED: &str = "/usr/sbin/keepalived";

/// The VRRP instance's name in the generated configuration.
pub const INSTANCE: &str = "VI_1";

/// The VRRP settings of a run.
#[derive(Debug, Clone)]
pub struct Vrrp {
    /// `advert_int` in seconds (a fraction needs VRRPv3).
    pub advert_int: String,
    /// 2 or 3.
    pub version: u8,
}

impl Vrrp {
    /// VRRPv2 with `advert_int` 1 (keepalived's default).
    pub fn v2(advert_int: &str) -> Vrrp {
        Vrrp {
            advert_int: advert_int.into(),
            version: 2,
        }
    }

    /// VRRPv3 (centisecond `advert_int`).
    pub fn v3(advert_int: &str) -> Vrrp {
        Vrrp {
            advert_int: advert_int.into(),
            version: 3,
        }
    }

    /// The advert interval.
    pub fn advert(&self) -> Duration {
        Duration::from_secs_f64(self.advert_int.parse().expect("advert_int is a number"))
    }

    /// How long a backup waits without adverts before it takes over:
    /// 3 adverts plus the skew of priority 100 ((256 - 100) / 256 adverts).
    pub fn master_down(&self) -> Duration {
        self.advert().mul_f64(3.0 + 156.0 / 256.0)
    }
}

/// VRRP priority of director `i`: d1 above d2.
pub fn priority(i: usize) -> u8 {
    if i == 0 { 150 } else { 100 }
}

/// The keepalived.conf of director `i` (0 = d1) for the cluster `cf`
/// describes: the same VIP, port, real servers and forwarding method,
/// TCP_CHECK every `cf.timeout` seconds (nanny's check interval).
pub fn conf(cf: &Config, i: usize, vrrp: &Vrrp) -> String {
    let mut addresses = format!("        {VIP}/24 dev eth0\n");
    if cf.method == Method::Nat {
        addresses.push_str(&format!("        {NAT_ROUTER}/24 dev eth1\n"));
    }
    let lb_kind = match cf.method {
        Method::Nat => "NAT",
        Method::Direct => "DR",
    };
    let mut servers = String::new();
    for &s in &cf.servers {
        servers.push_str(&format!(
            "    real_server {a} {PORT} {{\n        weight 1\n        TCP_CHECK {{\n            connect_timeout 1\n        }}\n    }}\n",
            a = real_address(cf.method, s)
        ));
    }
    format!(
        "global_defs {{\n    \
             router_id d{n}\n    \
             vrrp_version {v}\n\
         }}\n\
         \n\
         vrrp_instance {INSTANCE} {{\n    \
             state BACKUP\n    \
             nopreempt\n    \
             interface eth0\n    \
             mcast_src_ip {src}\n    \
             virtual_router_id 51\n    \
             priority {prio}\n    \
             advert_int {adv}\n    \
             virtual_ipaddress {{\n\
         {addresses}    \
             }}\n\
         }}\n\
         \n\
         virtual_server {VIP} {PORT} {{\n    \
             delay_loop {delay}\n    \
             lb_algo rr\n    \
             lb_kind {lb_kind}\n    \
             protocol TCP\n\
         {servers}\
         }}\n",
        n = i + 1,
        v = vrrp.version,
        src = DIRECTORS[i],
        prio = priority(i),
        adv = vrrp.advert_int,
        delay = cf.timeout,
    )
}

/// keepalived's files for a director: configuration and the three pid
/// files (its own, the VRRP child's, the checker child's), in the
/// director's directory.
#[derive(Debug, Clone)]
pub struct Files {
    pub conf: PathBuf,
    pub pid: PathBuf,
    pub vrrp_pid: PathBuf,
    pub checkers_pid: PathBuf,
}

/// The files of `d`.
pub fn files(d: &Director) -> Files {
    let f = |what: &str| d.work_dir().join(format!("{}.keepalived{what}", d.name));
    Files {
        conf: f(".conf"),
        pid: f(".pid"),
        vrrp_pid: f("-vrrp.pid"),
        checkers_pid: f("-checkers.pid"),
    }
}

/// Writes `text` as `d`'s keepalived.conf and starts keepalived in the
/// foreground (`-n`) in its namespace, logging to the console (`-l -D`),
/// with its own pid files; the output is collected with the director's.
pub fn start(d: &mut Director, text: &str) {
    let f = files(d);
    std::fs::write(&f.conf, text).expect("write keepalived.conf");
    let arg = |p: &Path| p.display().to_string();
    let args = [
        "-n".to_string(),
        "-l".into(),
        "-D".into(),
        "-f".into(),
        arg(&f.conf),
        "-p".into(),
        arg(&f.pid),
        "-r".into(),
        arg(&f.vrrp_pid),
        "-c".into(),
        arg(&f.checkers_pid),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    d.start_program(Path::new(KEEPALIVED), &args);
}

/// The pids in `d`'s keepalived pid files.
pub fn pids(d: &Director) -> Vec<i32> {
    let f = files(d);
    [f.pid, f.vrrp_pid, f.checkers_pid]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok()?.trim().parse().ok())
        .collect()
}

/// When the first output line since `from` (a [`Director::mark`])
/// containing `needle` was read. keepalived prefixes its lines with the
/// date, so lines are matched by what they contain.
pub fn line_containing(d: &Director, from: usize, needle: &str) -> Option<Instant> {
    d.lines()
        .into_iter()
        .skip(from)
        .find(|l| l.text.contains(needle))
        .map(|l| l.at)
}

/// Waits up to `timeout` for [`line_containing`].
pub fn wait_line_containing(
    d: &Director,
    from: usize,
    needle: &str,
    timeout: Duration,
) -> Option<Instant> {
    let mut at = None;
    wait_for(timeout, || {
        at = line_containing(d, from, needle);
        at.is_some()
    });
    at
}

/// The line keepalived logs when `INSTANCE` becomes master.
pub fn master_line() -> String {
    format!("({INSTANCE}) Entering MASTER STATE")
}

/// The line keepalived logs when `INSTANCE` becomes backup.
pub fn backup_line() -> String {
    format!("({INSTANCE}) Entering BACKUP STATE")
}

/// keepalived on both directors, d1 first: waits for d1 to become master
/// with the VIP and every real server in its table, then starts d2 and
/// waits for it to settle as backup (it hears d1's adverts) with the same
/// table.
pub fn cold_start(c: &mut Cluster, cf: &Config, vrrp: &Vrrp) {
    start(&mut c.d[0], &conf(cf, 0, vrrp));
    let up = wait_line_containing(
        &c.d[0],
        0,
        &master_line(),
        vrrp.master_down() + Duration::from_secs(20),
    )
    .is_some()
        && wait_for(Duration::from_secs(5), || c.d[0].has_vip());
    assert!(up, "keepalived on d1 did not become master\n{}", c.dump());
    let want: Vec<String> = cf
        .servers
        .iter()
        .map(|&i| format!("{}:{PORT}", real_address(cf.method, i)))
        .collect();
    c.wait_destinations(0, &want, Duration::from_secs(20));
    start(&mut c.d[1], &conf(cf, 1, vrrp));
    let backup =
        wait_line_containing(&c.d[1], 0, &backup_line(), Duration::from_secs(20)).is_some();
    assert!(backup, "keepalived on d2 did not start\n{}", c.dump());
    c.wait_destinations(1, &want, Duration::from_secs(20));
    std::thread::sleep(vrrp.advert() * 2);
    assert!(
        !c.d[1].has_vip() && line_containing(&c.d[1], 0, &master_line()).is_none(),
        "keepalived on d2 became master too\n{}",
        c.dump()
    );
}

/// A crash of `d`'s keepalived: every keepalived process (the parent, the
/// VRRP and checker children: those of the pid files, and every other
/// process of the director) SIGSTOPped, then SIGKILLed. Returns when.
pub fn crash(d: &mut Director) -> Instant {
    let listed = pids(d);
    assert_eq!(
        listed.len(),
        3,
        "{}: keepalived pid files {listed:?}",
        d.name
    );
    let processes = d.processes();
    for p in &listed {
        assert!(
            processes.contains(p),
            "{}: keepalived pid {p} (pid files) is not among its processes {processes:?}",
            d.name
        );
    }
    let at = d.crash_all();
    let gone = wait_for(Duration::from_secs(10), || {
        listed
            .iter()
            .all(|p| !Path::new(&format!("/proc/{p}/status")).exists() || is_zombie(*p))
    });
    assert!(gone, "{}: keepalived processes {listed:?} survive", d.name);
    at
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s[s.rfind(')')? + 1..].to_string();
            rest.split_whitespace().next().map(|st| st == "Z")
        })
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nat_conf_moves_the_vip_and_the_nat_router_together() {
        let cf = Config::new(Method::Nat);
        let text = conf(&cf, 0, &Vrrp::v2("1"));
        for want in [
            "state BACKUP\n",
            "nopreempt\n",
            "priority 150\n",
            "advert_int 1\n",
            "vrrp_version 2\n",
            "mcast_src_ip 10.10.0.1\n",
            "10.10.0.100/24 dev eth0\n",
            "10.20.0.254/24 dev eth1\n",
            "virtual_server 10.10.0.100 80 {",
            "delay_loop 1\n",
            "lb_kind NAT\n",
            "real_server 10.20.0.11 80 {",
            "real_server 10.20.0.13 80 {",
            "TCP_CHECK {",
        ] {
            assert!(text.contains(want), "{want:?} missing from\n{text}");
        }
        // braces balance
        assert_eq!(text.matches('{').count(), text.matches('}').count());
        let d2 = conf(&cf, 1, &Vrrp::v3("0.1"));
        assert!(d2.contains("priority 100\n") && d2.contains("mcast_src_ip 10.10.0.2\n"));
        assert!(d2.contains("vrrp_version 3\n") && d2.contains("advert_int 0.1\n"));
    }

    #[test]
    fn direct_routing_conf_has_no_nat_router() {
        let cf = Config::new(Method::Direct);
        let text = conf(&cf, 0, &Vrrp::v2("1"));
        assert!(text.contains("lb_kind DR\n"));
        assert!(!text.contains(NAT_ROUTER));
        assert!(text.contains("real_server 10.10.0.12 80 {"));
    }

    #[test]
    fn takeover_waits_three_adverts_and_the_skew() {
        let ms = Vrrp::v2("1").master_down().as_millis();
        assert_eq!(ms, 3609);
        let ms = Vrrp::v3("0.1").master_down().as_millis();
        assert_eq!(ms, 360);
    }
}
