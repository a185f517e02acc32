//! The ipvsadm command line equivalent to each IPVS change, for
//! `--test-start` (which prints what it would do) and for messages.

use std::net::IpAddr;

use ipvs::{Dest, Forward, Netmask, Op, Protocol, Service, ServiceFlags, ServiceKey};

/// `-t VIP:PORT`, `-u VIP:PORT`, `--sctp-service VIP:PORT` or `-f MARK`.
pub fn service_spec(k: &ServiceKey) -> String {
    match k {
        ServiceKey::Inet {
            protocol,
            addr,
            port,
        } => {
            let flag = match protocol {
                Protocol::Tcp => "-t",
                Protocol::Udp => "-u",
                Protocol::Sctp => "--sctp-service",
            };
            format!("{flag} {}", addr_port(*addr, *port))
        }
        ServiceKey::Fwmark { mark, .. } => format!("-f {mark}"),
    }
}

fn addr_port(a: IpAddr, port: u16) -> String {
    ipvs::AddrPort(a, port).to_string()
}

/// `-m`, `-g` or `-i`.
pub fn method_flag(f: Forward) -> &'static str {
    match f {
        Forward::Masq | Forward::Local => "-m",
        Forward::Route => "-g",
        Forward::Tunnel => "-i",
    }
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
    out
}

fn dest_args(k: &ServiceKey, d: &Dest) -> String {
    format!(
        "{} -r {} {} -w {}",
        service_spec(k),
        addr_port(d.addr, d.port),
        method_flag(d.forward),
        d.weight
    )
}

/// The arguments (after the program name) of the ipvsadm command doing `op`.
pub fn op_args(op: &Op) -> String {
    match op {
        Op::AddService(s) => format!("-A {}", service_args(s)),
        Op::EditService(s) => format!("-E {}", service_args(s)),
        Op::DelService(k) => format!("-D {}", service_spec(k)),
        Op::AddDest(k, d) => format!("-a {}", dest_args(k, d)),
        Op::EditDest(k, d) => format!("-e {}", dest_args(k, d)),
        Op::DelDest(k, d) => format!("-d {} -r {}", service_spec(k), addr_port(d.addr, d.port)),
    }
}

/// `--set TCP TCPFIN UDP`.
pub fn set_timeouts_args(t: &[i32; 3]) -> String {
    format!("--set {} {} {}", t[0], t[1], t[2])
}

/// Quotes one argument for display the way a shell would need it: as is
/// when it has no blank or special character, else in single quotes.
pub fn shell_word(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@%+".contains(&b));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// A command line for display (each argument through [`shell_word`]).
pub fn command_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_word(a))
        .collect::<Vec<_>>()
        .join(" ")
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
    fn display_quoting() {
        assert_eq!(
            command_line(&[
                "/usr/sbin/nanny".into(),
                "-s".into(),
                "GET / HTTP/1.0\\r\\n".into(),
                "-x".into(),
                "it's".into(),
                "".into()
            ]),
            r"/usr/sbin/nanny -s 'GET / HTTP/1.0\r\n' -x 'it'\''s' ''"
        );
    }
}
