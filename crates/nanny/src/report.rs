//! The report protocol nanny speaks to lvsd on `NANNY_REPORT_FD`: the
//! messages, their wire form and the parser live in the dependency-free
//! [`nanny_report`] crate (shared with lvsd, which reads them); here is
//! only how nanny's IPVS changes become its weight messages.

pub use nanny_report::*;

use ipvs::{Dest, Family, Op, Protocol, ServiceKey};
use std::net::SocketAddr;

/// The service as the protocol names it.
fn service(k: &ServiceKey) -> Service {
    match *k {
        ServiceKey::Inet {
            protocol,
            addr,
            port,
        } => {
            let a = SocketAddr::new(addr, port);
            match protocol {
                Protocol::Tcp => Service::Tcp(a),
                Protocol::Udp => Service::Udp(a),
                Protocol::Sctp => Service::Sctp(a),
            }
        }
        ServiceKey::Fwmark {
            family: Family::V4,
            mark,
        } => Service::Fwmark(mark),
        ServiceKey::Fwmark {
            family: Family::V6,
            mark,
        } => Service::Fwmark6(mark),
    }
}

fn forward(f: ipvs::Forward) -> Forward {
    match f {
        ipvs::Forward::Masq => Forward::Masq,
        ipvs::Forward::Route => Forward::Route,
        ipvs::Forward::Tunnel => Forward::Tunnel,
        ipvs::Forward::Local => Forward::Local,
    }
}

/// The weight message of one of nanny's destination changes (`add`,
/// `edit` or `del`); `None` for any other operation (nanny makes none).
pub fn of_change(op: &Op) -> Option<Report> {
    let weight = |k: &ServiceKey, d: &Dest, added| Report::Weight {
        target: Target {
            service: service(k),
            dest: SocketAddr::new(d.addr, d.port),
        },
        forward: forward(d.forward),
        weight: d.weight,
        added,
    };
    Some(match op {
        Op::AddDest(k, d) => weight(k, d, true),
        Op::EditDest(k, d) => weight(k, d, false),
        Op::DelDest(k, dk) => Report::Removed {
            target: Target {
                service: service(k),
                dest: SocketAddr::new(dk.addr, dk.port),
            },
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipvs::DestKey;
    use std::net::Ipv4Addr;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn changes_become_weight_lines() {
        let d = |f, w| Dest::new(ip("192.168.50.11"), 8080, f).weight(w);
        let cases = [
            (
                Op::AddDest(
                    ServiceKey::tcp(ip("203.0.113.100"), 80),
                    d(ipvs::Forward::Masq, 3),
                ),
                "nanny1 add tcp 203.0.113.100:80 192.168.50.11:8080 masq 3",
            ),
            (
                Op::EditDest(ServiceKey::fwmark(80), d(ipvs::Forward::Route, 0)),
                "nanny1 edit fwmark 80 192.168.50.11:8080 droute 0",
            ),
            (
                Op::EditDest(
                    ServiceKey::udp(ip("10.0.0.1"), 53),
                    d(ipvs::Forward::Tunnel, 7),
                ),
                "nanny1 edit udp 10.0.0.1:53 192.168.50.11:8080 tunnel 7",
            ),
            (
                Op::DelDest(
                    ServiceKey::udp(ip("10.0.0.1"), 53),
                    DestKey {
                        addr: ip("192.168.50.11").into(),
                        port: 8080,
                    },
                ),
                "nanny1 del udp 10.0.0.1:53 192.168.50.11:8080",
            ),
            (
                Op::AddDest(ServiceKey::fwmark6(5), d(ipvs::Forward::Local, 1)),
                "nanny1 add fwmark6 5 192.168.50.11:8080 local 1",
            ),
        ];
        for (op, line) in cases {
            let r = of_change(&op).expect("a destination change");
            assert_eq!(r.to_string(), line);
            assert_eq!(parse(line), Ok(r));
        }
        assert_eq!(of_change(&Op::DelService(ServiceKey::fwmark(1))), None);
    }
}
