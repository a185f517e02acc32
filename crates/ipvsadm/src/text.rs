//! IPVS operations as ipvsadm command text: the arguments (after the program
//! name) of the `ipvsadm` command that would make each change. One renderer
//! for every `--test-start` (lvsd's and nanny's) and for messages; the
//! reverse is [`crate::command`] (`tests/round_trip.rs` checks both ways).

use std::fmt::Display;
use std::net::IpAddr;

use ipvs::{
    AddrPort, Dest, Family, Forward, Netmask, Op, Protocol, Service, ServiceFlags, ServiceKey,
};

/// `-t`, `-u` or `--sctp-service`.
pub fn service_flag(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "-t",
        Protocol::Udp => "-u",
        Protocol::Sctp => "--sctp-service",
    }
}

/// `-f MARK`.
pub fn fwmark_spec(mark: u32) -> String {
    format!("-f {mark}")
}

/// `-t VIP:PORT`, `-u VIP:PORT`, `--sctp-service VIP:PORT`, `-f MARK` or
/// (IPv6) `-f MARK -6`.
pub fn service_spec(k: &ServiceKey) -> String {
    match k {
        ServiceKey::Inet {
            protocol,
            addr,
            port,
        } => format!("{} {}", service_flag(*protocol), AddrPort(*addr, *port)),
        ServiceKey::Fwmark {
            mark,
            family: Family::V4,
        } => fwmark_spec(*mark),
        ServiceKey::Fwmark {
            mark,
            family: Family::V6,
        } => format!("{} -6", fwmark_spec(*mark)),
    }
}

/// `-m`, `-g` or `-i`.
pub fn method_flag(f: Forward) -> &'static str {
    match f {
        Forward::Masq | Forward::Local => "-m",
        Forward::Route => "-g",
        Forward::Tunnel => "-i",
    }
}

/// The `-b` argument for the scheduler flags of `flags` (empty when none
/// is set): ipvsadm's names, `sh-fallback`/`mh-fallback` for SCHED1 and
/// `sh-port`/`mh-port` for SCHED2 with `sh`/`mh`, `flag-1`/`flag-2`
/// otherwise, `flag-3` for SCHED3; in bit order, comma-separated.
pub fn sched_flags_arg(scheduler: &str, flags: ServiceFlags) -> String {
    let (f1, f2) = match scheduler {
        "sh" => ("sh-fallback", "sh-port"),
        "mh" => ("mh-fallback", "mh-port"),
        _ => ("flag-1", "flag-2"),
    };
    [
        (ServiceFlags::SCHED1, f1),
        (ServiceFlags::SCHED2, f2),
        (ServiceFlags::SCHED3, "flag-3"),
    ]
    .into_iter()
    .filter(|(bit, _)| flags.contains(*bit))
    .map(|(_, name)| name)
    .collect::<Vec<_>>()
    .join(",")
}

fn service_args(s: &Service) -> String {
    let mut out = format!("{} -s {}", service_spec(&s.key), s.scheduler);
    if s.flags.contains(ServiceFlags::PERSISTENT) {
        out.push_str(&format!(" -p {}", s.timeout));
        match s.netmask {
            Netmask::V4(m) if !m.is_broadcast() => out.push_str(&format!(" -M {m}")),
            Netmask::V6(p) if p != 128 => out.push_str(&format!(" -M {p}")),
            _ => {}
        }
    }
    // last, where `ipvsadm -S` puts it
    let b = sched_flags_arg(&s.scheduler, s.flags);
    if !b.is_empty() {
        out.push_str(" -b ");
        out.push_str(&b);
    }
    out
}

/// `-a VSPEC -r DEST -m -w W`, with the service and the destination spelled
/// by the caller (nanny spells the service as it was given).
pub fn add_dest_args(vspec: &str, dest: &str, forward: Forward, weight: impl Display) -> String {
    format!("-a {vspec} -r {dest} {} -w {weight}", method_flag(forward))
}

/// `-e VSPEC -r DEST -m -w W`.
pub fn edit_dest_args(vspec: &str, dest: &str, forward: Forward, weight: impl Display) -> String {
    format!("-e {vspec} -r {dest} {} -w {weight}", method_flag(forward))
}

/// `-d VSPEC -r DEST`.
pub fn del_dest_args(vspec: &str, dest: &str) -> String {
    format!("-d {vspec} -r {dest}")
}

fn addr_port(a: IpAddr, port: u16) -> String {
    AddrPort(a, port).to_string()
}

fn dest_text(d: &Dest) -> String {
    addr_port(d.addr, d.port)
}

/// The arguments (after the program name) of the ipvsadm command doing `op`.
pub fn op_args(op: &Op) -> String {
    match op {
        Op::AddService(s) => format!("-A {}", service_args(s)),
        Op::EditService(s) => format!("-E {}", service_args(s)),
        Op::DelService(k) => format!("-D {}", service_spec(k)),
        Op::AddDest(k, d) => add_dest_args(&service_spec(k), &dest_text(d), d.forward, d.weight),
        Op::EditDest(k, d) => edit_dest_args(&service_spec(k), &dest_text(d), d.forward, d.weight),
        Op::DelDest(k, d) => del_dest_args(&service_spec(k), &addr_port(d.addr, d.port)),
    }
}

/// `--set TCP TCPFIN UDP`.
pub fn set_timeouts_args(t: &[i32; 3]) -> String {
    format!("--set {} {} {}", t[0], t[1], t[2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipvs::DestKey;
    use std::net::Ipv4Addr;

    #[test]
    fn forms() {
        let k = ServiceKey::tcp([203, 0, 113, 100], 80);
        let s =
            Service::new(k, "wlc").persistent(300, Netmask::V4(Ipv4Addr::new(255, 255, 255, 0)));
        assert_eq!(
            op_args(&Op::AddService(s)),
            "-A -t 203.0.113.100:80 -s wlc -p 300 -M 255.255.255.0"
        );
        let s = Service::new(ServiceKey::fwmark(80), "wlc")
            .persistent(600, Netmask::host(ipvs::Family::V4));
        assert_eq!(op_args(&Op::EditService(s)), "-E -f 80 -s wlc -p 600");
        let u = ServiceKey::udp([10, 0, 0, 1], 53);
        assert_eq!(op_args(&Op::DelService(u)), "-D -u 10.0.0.1:53");
        let d = Dest::new([192, 168, 50, 200], 80, Forward::Route);
        assert_eq!(
            op_args(&Op::AddDest(k, d)),
            "-a -t 203.0.113.100:80 -r 192.168.50.200:80 -g -w 1"
        );
        assert_eq!(
            op_args(&Op::EditDest(
                u,
                Dest::new([10, 1, 0, 1], 53, Forward::Tunnel).weight(0)
            )),
            "-e -u 10.0.0.1:53 -r 10.1.0.1:53 -i -w 0"
        );
        assert_eq!(
            op_args(&Op::DelDest(
                k,
                DestKey {
                    addr: Ipv4Addr::new(10, 1, 0, 1).into(),
                    port: 8080
                }
            )),
            "-d -t 203.0.113.100:80 -r 10.1.0.1:8080"
        );
        assert_eq!(set_timeouts_args(&[900, 120, 300]), "--set 900 120 300");
    }

    #[test]
    fn scheduler_flags() {
        let k = ServiceKey::tcp([192, 0, 2, 7], 80);
        let mut s = Service::new(k, "mh");
        s.flags = ServiceFlags::SCHED2;
        assert_eq!(
            op_args(&Op::AddService(s.clone())),
            "-A -t 192.0.2.7:80 -s mh -b mh-port"
        );
        s.flags = ServiceFlags::SCHED1 | ServiceFlags::SCHED2 | ServiceFlags::PERSISTENT;
        s.timeout = 60;
        assert_eq!(
            op_args(&Op::EditService(s)),
            "-E -t 192.0.2.7:80 -s mh -p 60 -b mh-fallback,mh-port"
        );
        let all = ServiceFlags::SCHED1 | ServiceFlags::SCHED2 | ServiceFlags::SCHED3;
        assert_eq!(sched_flags_arg("sh", all), "sh-fallback,sh-port,flag-3");
        assert_eq!(sched_flags_arg("wlc", all), "flag-1,flag-2,flag-3");
        assert_eq!(sched_flags_arg("mh", ServiceFlags::PERSISTENT), "");
    }

    #[test]
    fn other_spellings() {
        let k = ServiceKey::Inet {
            protocol: Protocol::Sctp,
            addr: "2001:db8::1".parse().unwrap(),
            port: 9,
        };
        assert_eq!(service_spec(&k), "--sctp-service [2001:db8::1]:9");
        assert_eq!(service_spec(&ServiceKey::fwmark6(7)), "-f 7 -6");
        assert_eq!(method_flag(Forward::Local), "-m");
        // a service spelled by the caller, a negative weight printed as is
        assert_eq!(
            add_dest_args("-t (null):80", "10.0.0.2:80", Forward::Masq, -1),
            "-a -t (null):80 -r 10.0.0.2:80 -m -w -1"
        );
    }
}
