//! Parsers of `/proc/net/ip_vs` and `/proc/net/ip_vs_stats` (pure: they
//! read from any `BufRead`).
//!
//! The kernel's format (`net/netfilter/ipvs/ip_vs_ctl.c`,
//! `ip_vs_info_seq_show` and `ip_vs_stats_show`):
//!
//! ```text
//! IP Virtual Server version 1.2.1 (size=4096)
//! Prot LocalAddress:Port Scheduler Flags
//!   -> RemoteAddress:Port Forward Weight ActiveConn InActConn
//! TCP  0A000001:0050 wlc
//!   -> 0A010001:0050      Masq    1      0          0
//! FWM  00000007 rr persistent 300 FFFFFFFF
//!   -> 0A010001:0000      Route   1      0          0
//! TCP  [2001:0db8:0000:0000:0000:0000:0000:0001]:0050 rr
//!   -> [2001:0db8:0000:0000:0000:0000:0000:0002]:0050      Masq    1      0          0
//! ```
//!
//! Addresses and ports are hexadecimal (IPv4 in host order as one 32-bit
//! number, IPv6 in `%pI6` form), weights and connection counts decimal;
//! every number in `ip_vs_stats` is hexadecimal.

use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::model::{Proto, Svc};

/// One destination line of `/proc/net/ip_vs`, with its service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// Index of its service in [`IpvsTable::services`].
    pub svc: u32,
    /// Real server address.
    pub addr: IpAddr,
    /// Real server port.
    pub port: u16,
    /// Weight.
    pub weight: i64,
    /// Active connections.
    pub active: u64,
    /// Inactive connections.
    pub inactive: u64,
}

/// `/proc/net/ip_vs`, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpvsTable {
    /// Every service, in file order.
    pub services: Vec<Svc>,
    /// Every destination, in file order.
    pub backends: Vec<Backend>,
    /// Lines that could not be parsed (skipped).
    pub bad_lines: usize,
}

/// Parses `/proc/net/ip_vs` line by line. Lines that do not parse are
/// counted in [`IpvsTable::bad_lines`] and skipped (with the destinations
/// of a service line that did not parse).
pub fn parse_ip_vs(r: impl BufRead) -> std::io::Result<IpvsTable> {
    let mut t = IpvsTable::default();
    // Whether the destinations that follow belong to a parsed service.
    let mut current: Option<u32> = None;
    let mut r = r;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            break;
        }
        let l = line.trim_end();
        if l.is_empty()
            || l.starts_with("IP Virtual Server")
            || l.starts_with("Prot ")
            || l.starts_with("  -> RemoteAddress")
        {
            continue;
        }
        if let Some(rest) = l.trim_start().strip_prefix("->") {
            match (current, parse_dest(rest)) {
                (Some(svc), Some((addr, port, weight, active, inactive))) => {
                    t.backends.push(Backend {
                        svc,
                        addr,
                        port,
                        weight,
                        active,
                        inactive,
                    })
                }
                _ => t.bad_lines += 1,
            }
            continue;
        }
        match parse_service(l) {
            Some(s) => {
                current = Some(t.services.len() as u32);
                t.services.push(s);
            }
            None => {
                current = None;
                t.bad_lines += 1;
            }
        }
    }
    Ok(t)
}

fn parse_service(l: &str) -> Option<Svc> {
    let mut it = l.split_ascii_whitespace();
    let proto = Proto::from_name(it.next()?);
    let addr = it.next()?;
    // the scheduler must follow
    it.next()?;
    if proto == Proto::Fwm {
        if addr.len() != 8 {
            return None;
        }
        let mark = u32::from_str_radix(addr, 16).ok()?;
        return Some(Svc::fwmark(mark));
    }
    let (a, p) = parse_addr_port(addr)?;
    Some(Svc::inet(proto, a, p))
}

type Dest = (IpAddr, u16, i64, u64, u64);

fn parse_dest(rest: &str) -> Option<Dest> {
    let mut it = rest.split_ascii_whitespace();
    let (addr, port) = parse_addr_port(it.next()?)?;
    let _forward = it.next()?;
    let weight = it.next()?.parse().ok()?;
    let active = it.next()?.parse().ok()?;
    let inactive = it.next()?.parse().ok()?;
    Some((addr, port, weight, active, inactive))
}

/// `0A000001:0050` or `[2001:0db8:...:0001]:0050`.
fn parse_addr_port(s: &str) -> Option<(IpAddr, u16)> {
    let (a, p) = s.rsplit_once(':')?;
    if p.len() != 4 {
        return None;
    }
    let port = u16::from_str_radix(p, 16).ok()?;
    let addr = if let Some(v6) = a.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
        IpAddr::V6(v6.parse::<Ipv6Addr>().ok()?)
    } else {
        if a.len() != 8 {
            return None;
        }
        IpAddr::V4(Ipv4Addr::from(u32::from_str_radix(a, 16).ok()?))
    };
    Some((addr, port))
}

/// The totals of `/proc/net/ip_vs_stats` since the module was loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IpvsTotals {
    /// Connections scheduled.
    pub connections: u64,
    /// Incoming packets.
    pub incoming_packets: u64,
    /// Outgoing packets.
    pub outgoing_packets: u64,
    /// Incoming bytes.
    pub incoming_bytes: u64,
    /// Outgoing bytes.
    pub outgoing_bytes: u64,
}

/// Parses `/proc/net/ip_vs_stats`: two header lines, then the five totals
/// in hexadecimal (the rates that follow are ignored).
pub fn parse_ip_vs_stats(r: impl BufRead) -> Option<IpvsTotals> {
    let line = r.lines().nth(2)?.ok()?;
    let v: Vec<u64> = line
        .split_ascii_whitespace()
        .map(|f| u64::from_str_radix(f, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    match v[..] {
        [
            connections,
            incoming_packets,
            outgoing_packets,
            incoming_bytes,
            outgoing_bytes,
        ] => Some(IpvsTotals {
            connections,
            incoming_packets,
            outgoing_packets,
            incoming_bytes,
            outgoing_bytes,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As a 6.1 kernel prints it: a TCP NAT service, a UDP direct-routing
    /// one, a persistent firewall-mark service, an IPv6 service, a
    /// one-packet UDP service with no destinations.
    pub(crate) const IP_VS: &str = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  0A000001:0050 wlc 
  -> 0A010001:0050      Masq    1      3          17        
  -> 0A010002:0050      Masq    2      0          0         
UDP  0A000001:0035 rr 
  -> 0A010003:0035      Route   1      0          5         
FWM  00000007 wlc persistent 300 FFFFFFFF
  -> 0A010001:0000      Route   0      0          0         
  -> 0A010002:0000      Tunnel  100    12         1         
TCP  [2001:0db8:0000:0000:0000:0000:0000:0001]:01BB sh 
  -> [2001:0db8:0000:0000:0000:0000:0001:0002]:01BB      Masq    1      4          2         
UDP  0A000002:0202 rr ops 
";

    #[test]
    fn parses_every_kind_of_line() {
        let t = parse_ip_vs(IP_VS.as_bytes()).unwrap();
        assert_eq!(t.bad_lines, 0);
        assert_eq!(t.services.len(), 5);
        assert_eq!(
            t.services[0],
            Svc::inet(Proto::Tcp, "10.0.0.1".parse().unwrap(), 80)
        );
        assert_eq!(
            t.services[1],
            Svc::inet(Proto::Udp, "10.0.0.1".parse().unwrap(), 53)
        );
        assert_eq!(t.services[2], Svc::fwmark(7));
        assert_eq!(
            t.services[3],
            Svc::inet(Proto::Tcp, "2001:db8::1".parse().unwrap(), 443)
        );
        assert_eq!(
            t.services[4],
            Svc::inet(Proto::Udp, "10.0.0.2".parse().unwrap(), 514)
        );
        assert_eq!(t.backends.len(), 6);
        assert_eq!(
            t.backends[0],
            Backend {
                svc: 0,
                addr: "10.1.0.1".parse().unwrap(),
                port: 80,
                weight: 1,
                active: 3,
                inactive: 17
            }
        );
        assert_eq!(t.backends[2].svc, 1);
        assert_eq!(t.backends[2].inactive, 5);
        assert_eq!(t.backends[4].svc, 2);
        assert_eq!(t.backends[4].port, 0);
        assert_eq!(t.backends[4].weight, 100);
        assert_eq!(t.backends[4].active, 12);
        assert_eq!(t.backends[5].svc, 3);
        assert_eq!(
            t.backends[5].addr,
            "2001:db8::1:2".parse::<IpAddr>().unwrap()
        );
        assert_eq!(t.backends[5].port, 443);
    }

    #[test]
    fn an_empty_table_has_only_the_header() {
        let t = parse_ip_vs(&IP_VS.as_bytes()[..IP_VS.find("TCP ").unwrap()]).unwrap();
        assert_eq!(t, IpvsTable::default());
        assert_eq!(parse_ip_vs(&b""[..]).unwrap(), IpvsTable::default());
    }

    #[test]
    fn garbage_lines_are_skipped_with_their_destinations() {
        let text = "\
TCP  0A00001:0050 wlc
  -> 0A010001:0050      Masq    1      0          0
XYZ
TCP  0A000001:0050 wlc
  -> 0A010001:0050      Masq    x      0          0
  -> 0A010001:005       Masq    1      0          0
  -> 0A010002:0050      Masq    1      0          0
  -> [::1:0050      Masq    1      0          0
";
        let t = parse_ip_vs(text.as_bytes()).unwrap();
        assert_eq!(t.services.len(), 1);
        assert_eq!(t.backends.len(), 1);
        assert_eq!(t.backends[0].addr, "10.1.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(t.bad_lines, 6);
    }

    #[test]
    fn stats_totals_are_hexadecimal() {
        let text = "   Total Incoming Outgoing         Incoming         Outgoing
   Conns  Packets  Packets            Bytes            Bytes
      2A      12C        0         1000002E0                0

 Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s
       0        0        0                0                0
";
        assert_eq!(
            parse_ip_vs_stats(text.as_bytes()),
            Some(IpvsTotals {
                connections: 42,
                incoming_packets: 300,
                outgoing_packets: 0,
                incoming_bytes: 0x1_0000_02E0,
                outgoing_bytes: 0
            })
        );
        assert_eq!(parse_ip_vs_stats(&b"a\nb\n"[..]), None);
        assert_eq!(parse_ip_vs_stats(&b"a\nb\n1 2 3\n"[..]), None);
        assert_eq!(parse_ip_vs_stats(&b"a\nb\n1 2 3 4 G\n"[..]), None);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the files hold, parsing returns (never panics), and
        /// every destination refers to a parsed service.
        #[test]
        fn any_text_parses_or_is_skipped(lines in proptest::collection::vec(
            prop_oneof![
                "(TCP|UDP|FWM|SCTP|X)  [0-9A-F:\\[\\]]{0,12}:[0-9A-F]{0,5} [a-z]{0,3} ?",
                "  -> [0-9A-F:\\[\\]]{0,12}:[0-9A-F]{0,5}  +(Masq|Route) +-?[0-9]{0,3} +[0-9]{0,3} +[0-9x]{0,3}",
                ".{0,40}",
            ],
            0..30,
        )) {
            let text = lines.join("\n");
            let t = parse_ip_vs(text.as_bytes()).unwrap();
            for b in &t.backends {
                prop_assert!((b.svc as usize) < t.services.len());
            }
            let _ = parse_ip_vs_stats(text.as_bytes());
        }
    }
}
