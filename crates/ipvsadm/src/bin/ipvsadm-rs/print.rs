//! ipvsadm's output formats (`-L`, `-S`, `--stats`, ...), byte for byte,
//! including its sort order (glibc's merge sort with ipvsadm's comparators,
//! whose int subtractions wrap).

use std::fmt::Write as _;
use std::net::IpAddr;

use ipvs::{
    DestEntry, Family, Forward, Info, Netmask, ServiceDump, ServiceEntry, ServiceFlags, ServiceKey,
    SyncDaemon, Timeouts, TunnelType,
};

use ipvsadm::names;

/// Output format flags (ipvsadm's FMT_*).
#[derive(Debug, Clone, Copy, Default)]
pub struct Format {
    pub numeric: bool,
    pub rule: bool,
    pub stats: bool,
    pub rate: bool,
    pub thresholds: bool,
    pub persistent_conn: bool,
    pub nosort: bool,
    pub exact: bool,
    pub tun_info: bool,
}

/// glibc's `qsort` for arrays that fit in memory: a top-down merge sort
/// (left half `n / 2`), taking from the left while `cmp <= 0`. ipvsadm's
/// comparators are not total orders, so the algorithm decides the output.
pub fn msort<T: Clone>(v: &mut [T], cmp: &impl Fn(&T, &T) -> i32) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    msort(&mut v[..n1], cmp);
    msort(&mut v[n1..], cmp);
    let mut out = Vec::with_capacity(n);
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp(&v[i], &v[j]) <= 0 {
            out.push(v[i].clone());
            i += 1;
        } else {
            out.push(v[j].clone());
            j += 1;
        }
    }
    out.extend_from_slice(&v[i..n1]);
    out.extend_from_slice(&v[j..n]);
    v.clone_from_slice(&out);
}

/// The 16 bytes of `union nf_inet_addr` (IPv4 zero-padded).
fn raw16(addr: Option<&IpAddr>) -> [u8; 16] {
    let mut b = [0u8; 16];
    match addr {
        Some(IpAddr::V4(a)) => b[..4].copy_from_slice(&a.octets()),
        Some(IpAddr::V6(a)) => b = a.octets(),
        None => {}
    }
    b
}

fn word(b: &[u8; 16], i: usize) -> u32 {
    u32::from_be_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
}

/// `r = ntohl(a) - ntohl(b)` stored in an int.
fn wrap_sub(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// Fields ipvsadm keeps per service entry (fwmark services have protocol,
/// address and port 0).
struct SvcRaw {
    fwmark: u32,
    af: u16,
    protocol: u16,
    addr: [u8; 16],
    port: u16,
}

fn svc_raw(k: &ServiceKey) -> SvcRaw {
    match k {
        ServiceKey::Fwmark { family, mark } => SvcRaw {
            fwmark: *mark,
            af: family.af(),
            protocol: 0,
            addr: [0; 16],
            port: 0,
        },
        ServiceKey::Inet {
            protocol,
            addr,
            port,
        } => SvcRaw {
            fwmark: 0,
            af: Family::of(addr).af(),
            protocol: protocol.number(),
            addr: raw16(Some(addr)),
            port: *port,
        },
    }
}

/// ipvsadm's `ipvs_cmp_services`.
pub fn cmp_services(a: &ServiceKey, b: &ServiceKey) -> i32 {
    let (s1, s2) = (svc_raw(a), svc_raw(b));
    let r = wrap_sub(s1.fwmark, s2.fwmark);
    if r != 0 {
        return r;
    }
    let r = i32::from(s1.af) - i32::from(s2.af);
    if r != 0 {
        return r;
    }
    let r = i32::from(s1.protocol) - i32::from(s2.protocol);
    if r != 0 {
        return r;
    }
    let r = addr_cmp(s1.af == ipvsadm::command::AF_INET6, &s1.addr, &s2.addr);
    if r != 0 {
        return r;
    }
    i32::from(s1.port) - i32::from(s2.port)
}

fn addr_cmp(v6: bool, a: &[u8; 16], b: &[u8; 16]) -> i32 {
    if v6 {
        let mut r = 0;
        for i in 0..4 {
            r = wrap_sub(word(a, i), word(b, i));
            if r != 0 {
                break;
            }
        }
        r
    } else {
        wrap_sub(word(a, 0), word(b, 0))
    }
}

/// ipvsadm's `ipvs_cmp_dests`.
pub fn cmp_dests(a: &DestEntry, b: &DestEntry) -> i32 {
    let v6 = a.dest.addr.is_ipv6();
    let r = addr_cmp(v6, &raw16(Some(&a.dest.addr)), &raw16(Some(&b.dest.addr)));
    if r != 0 {
        return r;
    }
    i32::from(a.dest.port) - i32::from(b.dest.port)
}

fn addrport(addr: &IpAddr, port: u16, proto: u16, fmt: &Format) -> String {
    let (open, close) = if addr.is_ipv4() { ("", "") } else { ("[", "]") };
    if fmt.numeric {
        format!("{open}{addr}{close}:{port}")
    } else {
        format!(
            "{open}{}{close}:{}",
            names::addr_to_anyname(addr),
            names::port_to_anyname(port, proto)
        )
    }
}

/// `%9llu` or a scaled `%8lluK/M/G/T`, or exact.
fn largenum(out: &mut String, i: u64, fmt: &Format) {
    if fmt.exact {
        let len = i.to_string().len();
        let w = if len <= 8 { 9 } else { len + 1 };
        let _ = write!(out, "{i:>w$}");
        return;
    }
    let _ = if i < 100_000_000 {
        write!(out, "{i:>9}")
    } else if i < 1_000_000_000 {
        write!(out, "{:>8}K", i / 1000)
    } else if i < 100_000_000_000 {
        write!(out, "{:>8}M", i / 1_000_000)
    } else if i < 100_000_000_000_000 {
        write!(out, "{:>8}G", i / 1_000_000_000)
    } else {
        write!(out, "{:>8}T", i / 1_000_000_000_000)
    };
}

fn sched_flags(sched: &str, flags: ServiceFlags) -> String {
    let mut v = Vec::new();
    let (f1, f2, f3) = match sched {
        "sh" => ("sh-fallback", "sh-port", ""),
        "mh" => ("mh-fallback", "mh-port", ""),
        _ => ("flag-1", "flag-2", "flag-3"),
    };
    if flags.contains(ServiceFlags::SCHED1) {
        v.push(f1);
    }
    if flags.contains(ServiceFlags::SCHED2) {
        v.push(f2);
    }
    if flags.contains(ServiceFlags::SCHED3) && !f3.is_empty() {
        v.push(f3);
    }
    v.join(",")
}

/// The column titles (nothing for `-S`).
pub fn title(out: &mut String, fmt: &Format) {
    let _ = if fmt.stats {
        writeln!(
            out,
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port",
            "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        )
    } else if fmt.rate {
        writeln!(
            out,
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port",
            "Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        )
    } else if fmt.thresholds {
        writeln!(
            out,
            "{:<33} {:<10} {:<10} {:<10} {:<10}\n  -> RemoteAddress:Port",
            "Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        )
    } else if fmt.persistent_conn {
        writeln!(
            out,
            "{:<33} {:<9} {:<11} {:<10} {:<10}\n  -> RemoteAddress:Port",
            "Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn"
        )
    } else if fmt.tun_info {
        writeln!(
            out,
            "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn"
        )
    } else if !fmt.rule {
        writeln!(
            out,
            "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn"
        )
    } else {
        Ok(())
    };
}

fn fwd_name(f: Forward) -> &'static str {
    match f {
        Forward::Masq => "Masq",
        Forward::Local => "Local",
        Forward::Tunnel => "Tunnel",
        Forward::Route => "Route",
    }
}

fn fwd_switch(f: Forward) -> &'static str {
    match f {
        Forward::Masq => "-m",
        Forward::Tunnel => "-i",
        Forward::Local | Forward::Route => "-g",
    }
}

const TUN_FLAGS: [&str; 3] = ["-c", "+c", "r+c"];
const TUN_FLAG_OPTS: [&str; 3] = ["--tun-nocsum", "--tun-csum", "--tun-remcsum"];

/// C `%.15s`-style truncation to `n` bytes (addresses are ASCII).
fn truncate(s: &mut String, n: usize) {
    if s.len() > n {
        s.truncate(n);
    }
}

/// One service and its destinations in format `fmt`.
pub fn service(out: &mut String, se: &ServiceEntry, dests: &[DestEntry], fmt: &Format) {
    let s = &se.service;
    let raw = svc_raw(&s.key);
    let v6 = s.key.family() == Family::V6;
    let svc_name = match &s.key {
        // ipvsadm prints the mark with %d
        ServiceKey::Fwmark { mark, family } => match (fmt.rule, family, *mark as i32) {
            (true, Family::V6, m) => format!("-f {m} -6"),
            (true, Family::V4, m) => format!("-f {m}"),
            (false, Family::V6, m) => format!("FWM  {m} IPv6"),
            (false, Family::V4, m) => format!("FWM  {m}"),
        },
        ServiceKey::Inet {
            protocol,
            addr,
            port,
        } => {
            let vname = addrport(addr, *port, protocol.number(), fmt);
            if fmt.rule {
                let stype = match protocol {
                    ipvs::Protocol::Tcp => "-t",
                    ipvs::Protocol::Udp => "-u",
                    ipvs::Protocol::Sctp => "--sctp-service",
                };
                format!("{stype} {vname}")
            } else {
                let mut n = format!("{:<4} {vname}", protocol.name());
                if !v6 {
                    truncate(&mut n, 33);
                }
                n
            }
        }
    };
    let persistent = s.flags.contains(ServiceFlags::PERSISTENT);
    let sflags =
        s.flags.0 & (ServiceFlags::SCHED1.0 | ServiceFlags::SCHED2.0 | ServiceFlags::SCHED3.0);
    let mask = |out: &mut String, word: &str| match s.netmask {
        Netmask::V4(m) if !v6 && m != std::net::Ipv4Addr::BROADCAST => {
            let _ = write!(out, " {word} {m}");
        }
        Netmask::V6(p) if v6 && p != 128 => {
            let _ = write!(out, " {word} {p}");
        }
        _ => {}
    };
    if fmt.rule {
        let _ = write!(out, "-A {svc_name} -s {}", s.scheduler);
        if persistent {
            let _ = write!(out, " -p {}", s.timeout);
            mask(out, "-M");
        }
        if let Some(pe) = &s.pe_name {
            let _ = write!(out, " --pe {pe}");
        }
        if s.flags.contains(ServiceFlags::ONEPACKET) {
            out.push_str(" -o");
        }
        if sflags != 0 {
            let _ = write!(out, " -b {}", sched_flags(&s.scheduler, s.flags));
        }
    } else if fmt.stats || fmt.rate {
        let _ = write!(out, "{svc_name:<33}");
        let st = &se.stats;
        let vals = if fmt.stats {
            [st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes]
        } else {
            [st.cps, st.inpps, st.outpps, st.inbps, st.outbps]
        };
        for v in vals {
            largenum(out, v, fmt);
        }
    } else {
        let _ = write!(out, "{svc_name} {}", s.scheduler);
        if sflags != 0 {
            let _ = write!(out, " ({})", sched_flags(&s.scheduler, s.flags));
        }
        if persistent {
            let _ = write!(out, " persistent {}", s.timeout);
            mask(out, "mask");
            if let Some(pe) = &s.pe_name {
                let _ = write!(out, " pe {pe}");
            }
        }
        if s.flags.contains(ServiceFlags::ONEPACKET) {
            out.push_str(" ops");
        }
    }
    out.push('\n');

    let mut dests = dests.to_vec();
    if !fmt.nosort {
        msort(&mut dests, &cmp_dests);
    }
    for e in &dests {
        let d = &e.dest;
        let mut dname = addrport(&d.addr, d.port, raw.protocol, fmt);
        if !fmt.rule && d.addr.is_ipv4() {
            truncate(&mut dname, 28);
        }
        let _ = if fmt.rule {
            if d.forward == Forward::Tunnel {
                let t = &d.tunnel;
                let csum = t.csum.value() as usize;
                match t.kind {
                    TunnelType::Gre => writeln!(
                        out,
                        "-a {svc_name} -r {dname} -i -w {} --tun-type gre {}",
                        d.weight, TUN_FLAG_OPTS[csum]
                    ),
                    TunnelType::Gue => writeln!(
                        out,
                        "-a {svc_name} -r {dname} -i -w {} --tun-type gue --tun-port {} {}",
                        d.weight, t.port, TUN_FLAG_OPTS[csum]
                    ),
                    TunnelType::Ipip => writeln!(
                        out,
                        "-a {svc_name} -r {dname} -i -w {} --tun-type ipip",
                        d.weight
                    ),
                }
            } else {
                writeln!(
                    out,
                    "-a {svc_name} -r {dname} {} -w {}",
                    fwd_switch(d.forward),
                    d.weight
                )
            }
        } else if fmt.stats || fmt.rate {
            let _ = write!(out, "  -> {dname:<28}");
            let st = &e.stats;
            if fmt.stats {
                for v in [st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes] {
                    largenum(out, v, fmt);
                }
            } else {
                let _ = write!(out, " {:>8} {:>8} {:>8}", st.cps, st.inpps, st.outpps);
                largenum(out, st.inbps, fmt);
                largenum(out, st.outbps, fmt);
            }
            writeln!(out)
        } else if fmt.thresholds {
            writeln!(
                out,
                "  -> {dname:<28} {:<10} {:<10} {:<10} {:<10}",
                d.u_threshold, d.l_threshold, e.active_conns, e.inact_conns
            )
        } else if fmt.persistent_conn {
            writeln!(
                out,
                "  -> {dname:<28} {:<9} {:<11} {:<10} {:<10}",
                d.weight, e.persist_conns, e.active_conns, e.inact_conns
            )
        } else if fmt.tun_info {
            let ti = if d.forward == Forward::Tunnel {
                let csum = TUN_FLAGS[d.tunnel.csum.value() as usize];
                match d.tunnel.kind {
                    TunnelType::Ipip => "ipip".to_string(),
                    TunnelType::Gue => format!("gue:{}:{csum}", d.tunnel.port),
                    TunnelType::Gre => format!("gre:{csum}"),
                }
            } else {
                "n/a".to_string()
            };
            writeln!(
                out,
                "  -> {dname:<28} {:<7} {ti:<13} {:<6} {:<10} {:<10}",
                fwd_name(d.forward),
                d.weight,
                e.active_conns,
                e.inact_conns
            )
        } else {
            writeln!(
                out,
                "  -> {dname:<28} {:<7} {:<6} {:<10} {:<10}",
                fwd_name(d.forward),
                d.weight,
                e.active_conns,
                e.inact_conns
            )
        };
    }
}

/// The whole table (`-L`, `-S`).
pub fn all(out: &mut String, info: &Info, dumps: &[ServiceDump], fmt: &Format) {
    if !fmt.rule {
        let (a, b, c) = info.version_triple();
        let _ = writeln!(
            out,
            "IP Virtual Server version {a}.{b}.{c} (size={})",
            info.conn_tab_size
        );
    }
    let mut order: Vec<usize> = (0..dumps.len()).collect();
    if !fmt.nosort {
        msort(&mut order, &|a: &usize, b: &usize| {
            cmp_services(&dumps[*a].entry.service.key, &dumps[*b].entry.service.key)
        });
    }
    title(out, fmt);
    for i in order {
        service(out, &dumps[i].entry, &dumps[i].dests, fmt);
    }
}

/// `--timeout`.
pub fn timeouts(out: &mut String, t: &Timeouts) {
    let _ = writeln!(
        out,
        "Timeout (tcp tcpfin udp): {} {} {}",
        t.tcp, t.tcp_fin, t.udp
    );
}

/// `--daemon`.
pub fn daemons(out: &mut String, list: &[SyncDaemon]) {
    for d in list.iter().take(2) {
        let _ = write!(
            out,
            "{} sync daemon (mcast={}, syncid={}",
            d.state.name(),
            d.mcast_ifn,
            d.sync_id
        );
        if d.sync_maxlen != 0 {
            let _ = write!(out, ", maxlen={}", d.sync_maxlen);
        }
        if let Some(g) = d.mcast_group {
            let _ = write!(out, ", group={g}");
        }
        if d.mcast_port != 0 {
            let _ = write!(out, ", port={}", d.mcast_port);
        }
        if d.mcast_ttl != 0 {
            let _ = write!(out, ", ttl={}", d.mcast_ttl);
        }
        out.push_str(")\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn service_order_wraps_like_ipvsadm() {
        // 10.0.0.1 - 192.168.0.1 overflows an int: ipvsadm lists 192.168.x first
        let a = ServiceKey::tcp(Ipv4Addr::new(10, 0, 0, 1), 80);
        let b = ServiceKey::tcp(Ipv4Addr::new(192, 168, 0, 1), 80);
        assert!(cmp_services(&a, &b) > 0);
        let c = ServiceKey::tcp(Ipv4Addr::new(10, 0, 0, 2), 80);
        assert!(cmp_services(&a, &c) < 0);
        assert!(cmp_services(&ServiceKey::fwmark(1), &a) > 0);
    }

    #[test]
    fn merge_sort_is_stable_and_left_biased() {
        let mut v = vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e')];
        msort(&mut v, &|x: &(i32, char), y: &(i32, char)| x.0 - y.0);
        assert_eq!(v, vec![(1, 'b'), (1, 'e'), (2, 'd'), (3, 'a'), (3, 'c')]);
    }

    #[test]
    fn largenum_scales() {
        let f = Format::default();
        let mut s = String::new();
        largenum(&mut s, 5, &f);
        largenum(&mut s, 123_456_789, &f);
        assert_eq!(s, "        5  123456K");
    }
}
