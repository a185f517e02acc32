//! ipvsadm text both ways: every operation rendered by `ipvsadm::text`
//! parses back (`ipvsadm::command`, as ipvsadm-rs parses argv and `-R`
//! lines) to the same operation.

use std::net::{IpAddr, Ipv4Addr};

use ipvs::{
    Dest, DestKey, Family, Forward, Netmask, Op, Protocol, Service, ServiceFlags, ServiceKey,
};

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The services: TCP, UDP, SCTP, fwmark, over IPv4 and IPv6.
fn keys() -> Vec<ServiceKey> {
    let mut keys = Vec::new();
    for addr in [v4("192.0.2.10"), v4("2001:db8::10")] {
        for protocol in [Protocol::Tcp, Protocol::Udp, Protocol::Sctp] {
            keys.push(ServiceKey::Inet {
                protocol,
                addr,
                port: 80,
            });
        }
    }
    keys.push(ServiceKey::fwmark(7));
    keys.push(ServiceKey::fwmark6(4_000_000_000));
    keys
}

/// A destination of the service's family (ipvsadm refuses mixed families
/// but for tunnels). Direct routing and tunnelling take the service's port.
fn dest(k: &ServiceKey, forward: Forward, weight: u32) -> Dest {
    let addr = match k.family() {
        Family::V4 => v4("10.0.0.2"),
        Family::V6 => v4("2001:db8:1::2"),
    };
    let port = match (k, forward) {
        (ServiceKey::Inet { port, .. }, Forward::Route | Forward::Tunnel) => *port,
        _ => 8080,
    };
    Dest::new(addr, port, forward).weight(weight)
}

fn ops() -> Vec<Op> {
    let mut ops = Vec::new();
    for k in keys() {
        for sched in [
            "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh",
        ] {
            ops.push(Op::AddService(Service::new(k, sched)));
        }
        let host = Netmask::host(k.family());
        let group = match k.family() {
            Family::V4 => Netmask::V4(Ipv4Addr::new(255, 255, 255, 0)),
            Family::V6 => Netmask::V6(64),
        };
        ops.push(Op::AddService(Service::new(k, "wlc").persistent(300, host)));
        ops.push(Op::EditService(Service::new(k, "lc").persistent(1, group)));
        ops.push(Op::EditService(Service::new(k, "rr")));
        // scheduler flags (`-b`): mh's and sh's names, flag-N for others
        let (s1, s2, s3) = (
            ServiceFlags::SCHED1,
            ServiceFlags::SCHED2,
            ServiceFlags::SCHED3,
        );
        for (sched, flags) in [
            ("mh", s2),
            ("mh", s1),
            ("mh", s1 | s2),
            ("mh", s1 | s2 | s3),
            ("sh", s1 | s2),
            ("wlc", s3),
            ("rr", s1 | s2),
        ] {
            let mut s = Service::new(k, sched);
            s.flags = flags;
            ops.push(Op::AddService(s.clone()));
            ops.push(Op::EditService(s.persistent(300, group)));
        }
        ops.push(Op::DelService(k));
        // ipvsadm names masquerading, direct routing and tunnelling;
        // Forward::Local is the kernel's own (no ipvsadm spelling)
        for forward in [Forward::Masq, Forward::Route, Forward::Tunnel] {
            for weight in [0, 1, 65535] {
                ops.push(Op::AddDest(k, dest(&k, forward, weight)));
                ops.push(Op::EditDest(k, dest(&k, forward, weight)));
            }
            let d = dest(&k, forward, 1);
            ops.push(Op::DelDest(
                k,
                DestKey {
                    addr: d.addr,
                    port: d.port,
                },
            ));
        }
    }
    ops
}

#[test]
fn every_op_renders_and_parses_back() {
    let ops = ops();
    assert!(ops.len() > 200);
    for op in ops {
        let text = ipvsadm::text::op_args(&op);
        let back = ipvsadm::parse_op(&text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        assert_eq!(back.as_ref(), Some(&op), "{text}");
        // and as a `-R` line, with the program name and a comment
        let line = format!("ipvsadm {text} # restored");
        assert_eq!(ipvsadm::parse_op(&line).unwrap(), Some(op), "{line}");
    }
}

#[test]
fn commands_that_change_no_service_have_no_op() {
    for line in ["-C", "-Ln", "-S -n", "--set 900 120 300", "-Z"] {
        assert_eq!(ipvsadm::parse_op(line).unwrap(), None, "{line}");
    }
}

#[test]
fn scheduler_flags_parse_and_render_as_ipvsadm_saves_them() {
    for (given, rendered) in [
        (
            "-A -t 192.0.2.7:80 -s mh -b mh-port",
            "-A -t 192.0.2.7:80 -s mh -b mh-port",
        ),
        (
            "-A -t 192.0.2.7:80 -s mh --sched-flags mh-port,mh-fallback",
            "-A -t 192.0.2.7:80 -s mh -b mh-fallback,mh-port",
        ),
        (
            "-E -f 7 -s mh -b mh-fallback -p 60",
            "-E -f 7 -s mh -p 60 -b mh-fallback",
        ),
        (
            "-A -u 192.0.2.7:53 -s rr -b flag-2",
            "-A -u 192.0.2.7:53 -s rr -b flag-2",
        ),
    ] {
        let op = ipvsadm::parse_op(given)
            .unwrap_or_else(|e| panic!("{given}: {e:?}"))
            .unwrap_or_else(|| panic!("{given}: no op"));
        assert_eq!(ipvsadm::text::op_args(&op), rendered, "{given}");
    }
    // mh's names belong to mh
    assert!(ipvsadm::parse_op("-A -t 192.0.2.7:80 -s wlc -b mh-port").is_err());
}
