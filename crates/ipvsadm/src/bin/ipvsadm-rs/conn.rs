//! `-L -c` (`--connection`): the connection table as ipvsadm prints it.
//!
//! ipvsadm does not ask the kernel over netlink for connections: it reads
//! `/proc/net/ip_vs_conn` (of the reader's network namespace) and reprints
//! each line. The kernel writes one connection a line:
//!
//! ```text
//! Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
//! TCP 0A000001 9C41 C0000201 0050 0A000002 0050 ESTABLISHED     899
//! ```
//!
//! (IPv4 addresses as 8 hex digits, IPv6 ones in full colon form, ports in
//! hex, the expiry in seconds, then the persistence engine name and data if
//! the connection has them). ipvsadm scans each line with
//! `sscanf("%s %s %hX %s %hX %s %hX %s %d %s %s")` and prints it with the
//! addresses as names (or numbers with `-n`) and the expiry as `mm:ss`;
//! `--persistent-conn` adds the engine columns to the header, and to the
//! lines that have them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipvsadm::command::{IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP};
use ipvsadm::names;

/// Where the kernel lists the connections.
pub const CONN_PROC_FILE: &str = "/proc/net/ip_vs_conn";

/// How to print: ipvsadm's `FMT_NUMERIC` and `FMT_PERSISTENTCONN`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnFormat {
    pub numeric: bool,
    pub persistent_conn: bool,
}

/// Why the listing stopped (ipvsadm exits 1 after the message).
#[derive(Debug, PartialEq, Eq)]
pub enum ConnError {
    /// `cannot open file /proc/net/ip_vs_conn`
    Open,
    /// `unexpected input from /proc/net/ip_vs_conn` (no header line)
    NoHeader,
}

impl ConnError {
    pub fn message(&self) -> String {
        match self {
            ConnError::Open => format!("cannot open file {CONN_PROC_FILE}"),
            ConnError::NoHeader => format!("unexpected input from {CONN_PROC_FILE}"),
        }
    }
}

/// Reads the kernel's table and prints it into `out`.
pub fn list_proc(out: &mut String, fmt: ConnFormat) -> Result<(), ConnError> {
    let text = std::fs::read(CONN_PROC_FILE).map_err(|_| ConnError::Open)?;
    list(out, &String::from_utf8_lossy(&text), fmt)
}

/// ipvsadm's `list_conn` on the text of `/proc/net/ip_vs_conn`: the title,
/// the column header, then one line per connection (the file's own header
/// line is skipped).
pub fn list(out: &mut String, text: &str, fmt: ConnFormat) -> Result<(), ConnError> {
    let mut lines = text.split_inclusive('\n');
    if lines.next().is_none() {
        return Err(ConnError::NoHeader);
    }
    out.push_str("IPVS connection entries\n");
    if fmt.persistent_conn {
        out.push_str(&format!(
            "pro expire {:<11} {:<18} {:<18} {:<18} {:<16} {}\n",
            "state", "source", "virtual", "destination", "pe name", "pe_data"
        ));
    } else {
        out.push_str(&format!(
            "pro expire {:<11} {:<18} {:<18} {}\n",
            "state", "source", "virtual", "destination"
        ));
    }
    for line in lines {
        if let Some(entry) = Entry::scan(line) {
            entry.print(out, fmt, &|a, p, proto| {
                addrport_to_anyname(a, p, proto, fmt.numeric)
            });
        }
    }
    Ok(())
}

/// One scanned line of `/proc/net/ip_vs_conn` (what `sscanf` filled in;
/// fields it did not reach stay empty or zero).
#[derive(Debug, Default, PartialEq, Eq)]
struct Entry {
    protocol: String,
    client: String,
    cport: u16,
    virt: String,
    vport: u16,
    dest: String,
    dport: u16,
    state: String,
    expires: u32,
    pe_name: String,
    pe_data: String,
    /// Every field scanned (`sscanf` returned 11): only such a line gets
    /// the persistence engine columns.
    complete: bool,
}

impl Entry {
    /// `sscanf` with ipvsadm's format; `None` for a line with no field.
    fn scan(line: &str) -> Option<Entry> {
        let mut w = line.split_ascii_whitespace();
        let mut e = Entry {
            protocol: w.next()?.to_string(),
            ..Entry::default()
        };
        // a conversion that fails ends the scan, as in sscanf
        let _ = (|| {
            e.client = w.next()?.to_string();
            e.cport = hex_u16(w.next()?)?;
            e.virt = w.next()?.to_string();
            e.vport = hex_u16(w.next()?)?;
            e.dest = w.next()?.to_string();
            e.dport = hex_u16(w.next()?)?;
            e.state = w.next()?.to_string();
            e.expires = decimal_u32(w.next()?)?;
            e.pe_name = w.next()?.to_string();
            e.pe_data = w.next()?.to_string();
            e.complete = true;
            Some(())
        })();
        Some(e)
    }

    /// The three addresses, as ipvsadm decodes them: IPv6 if the client
    /// address is one, else dotted IPv4, else the kernel's hex IPv4.
    fn addrs(&self) -> [IpAddr; 3] {
        let fields = [&self.client, &self.virt, &self.dest];
        if self.client.parse::<Ipv6Addr>().is_ok() {
            fields.map(|f| IpAddr::V6(f.parse().unwrap_or(Ipv6Addr::UNSPECIFIED)))
        } else if self.client.parse::<Ipv4Addr>().is_ok() {
            fields.map(|f| IpAddr::V4(f.parse().unwrap_or(Ipv4Addr::UNSPECIFIED)))
        } else {
            fields.map(|f| IpAddr::V4(Ipv4Addr::from(strtoul_hex(f))))
        }
    }

    fn proto_number(&self) -> u16 {
        match self.protocol.as_str() {
            "TCP" => IPPROTO_TCP,
            "UDP" => IPPROTO_UDP,
            "SCTP" => IPPROTO_SCTP,
            _ => 0,
        }
    }

    fn print(&self, out: &mut String, fmt: ConnFormat, name: &dyn Fn(&IpAddr, u16, u16) -> String) {
        let proto = self.proto_number();
        let [c, v, d] = self.addrs();
        let cname = name(&c, self.cport, proto);
        let vname = name(&v, self.vport, proto);
        let dname = name(&d, self.dport, proto);
        let expire = format!("{:02}:{:02}", self.expires / 60, self.expires % 60);
        if fmt.persistent_conn && self.complete {
            out.push_str(&format!(
                "{:<3} {:<6} {:<11} {:<18} {:<18} {:<16} {:<18} {}\n",
                self.protocol, expire, self.state, cname, vname, dname, self.pe_name, self.pe_data
            ));
        } else {
            out.push_str(&format!(
                "{:<3} {:<6} {:<11} {:<18} {:<18} {}\n",
                self.protocol, expire, self.state, cname, vname, dname
            ));
        }
    }
}

/// ipvsadm's `addrport_to_anyname`: `addr:port` in numbers with `-n`
/// (IPv6 without brackets), else names, `[name]:port` for IPv6.
fn addrport_to_anyname(addr: &IpAddr, port: u16, proto: u16, numeric: bool) -> String {
    if numeric {
        format!("{addr}:{port}")
    } else {
        let host = names::addr_to_anyname(addr);
        let service = names::port_to_anyname(port, proto);
        match addr {
            IpAddr::V6(_) => format!("[{host}]:{service}"),
            IpAddr::V4(_) => format!("{host}:{service}"),
        }
    }
}

/// `%hX`: hex digits (an optional `0x`), truncated to 16 bits.
fn hex_u16(s: &str) -> Option<u16> {
    let t = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    let digits: &str = &t[..t.bytes().take_while(u8::is_ascii_hexdigit).count()];
    if digits.is_empty() {
        return None;
    }
    Some(digits.bytes().fold(0u16, |n, b| {
        n.wrapping_mul(16)
            .wrapping_add((b as char).to_digit(16).unwrap_or(0) as u16)
    }))
}

/// `%d` into an unsigned int: an optional sign and decimal digits.
fn decimal_u32(s: &str) -> Option<u32> {
    let (neg, t) = match s.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let digits: &str = &t[..t.bytes().take_while(u8::is_ascii_digit).count()];
    if digits.is_empty() {
        return None;
    }
    let n = digits.bytes().fold(0u32, |n, b| {
        n.wrapping_mul(10).wrapping_add(u32::from(b - b'0'))
    });
    Some(if neg { n.wrapping_neg() } else { n })
}

/// `(__u32) strtoul(s, NULL, 16)`: leading hex digits, saturating at
/// `ULONG_MAX` before the cast; 0 if none.
fn strtoul_hex(s: &str) -> u32 {
    let t = s.trim_start();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let mut n: u64 = 0;
    for b in t.bytes().take_while(u8::is_ascii_hexdigit) {
        let d = u64::from((b as char).to_digit(16).unwrap_or(0));
        n = match n.checked_mul(16).and_then(|n| n.checked_add(d)) {
            Some(n) => n,
            None => return u64::MAX as u32,
        };
    }
    n as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What kernels write (ip_vs_conn_seq_show), IPv4, IPv6, a connection
    /// with a persistence engine, and a template (port 0, state NONE).
    const FIXTURE: &str = "\
Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP 0A000064 9C41 C0000201 0050 0A000002 0050 ESTABLISHED     899
TCP 0A000065 D431 C0000201 0050 0A000003 1F90 SYN_RECV         59
UDP 0A000064 A411 C0000201 0035 0A000002 0035 UDP             299
UDP C0A80001 13C4 C0000209 13C4 0A000002 13C4 UDP            3599 sip 1234@example.invalid
TCP 0A000064 0000 C0000201 0050 0A000002 0050 NONE            360
TCP 2001:0db8:0000:0000:0000:0000:0000:0064 9C41 2001:0db8:0000:0000:0000:0000:0000:0001 01BB 2001:0db8:0000:0000:0000:0000:0000:0010 01BB FIN_WAIT        119
";

    fn numeric(persistent_conn: bool) -> String {
        let mut out = String::new();
        let fmt = ConnFormat {
            numeric: true,
            persistent_conn,
        };
        list(&mut out, FIXTURE, fmt).unwrap();
        out
    }

    #[test]
    fn numeric_listing_matches_ipvsadm() {
        assert_eq!(
            numeric(false),
            "\
IPVS connection entries
pro expire state       source             virtual            destination
TCP 14:59  ESTABLISHED 10.0.0.100:40001   192.0.2.1:80       10.0.0.2:80
TCP 00:59  SYN_RECV    10.0.0.101:54321   192.0.2.1:80       10.0.0.3:8080
UDP 04:59  UDP         10.0.0.100:42001   192.0.2.1:53       10.0.0.2:53
UDP 59:59  UDP         192.168.0.1:5060   192.0.2.9:5060     10.0.0.2:5060
TCP 06:00  NONE        10.0.0.100:0       192.0.2.1:80       10.0.0.2:80
TCP 01:59  FIN_WAIT    2001:db8::64:40001 2001:db8::1:443    2001:db8::10:443
"
        );
    }

    #[test]
    fn persistent_conn_adds_the_engine_columns() {
        let out = numeric(true);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[1],
            "pro expire state       source             virtual            destination        pe name          pe_data"
        );
        assert_eq!(
            lines[2],
            // no engine: the short form (ipvsadm prints the long one only
            // for a line of 11 fields)
            "TCP 14:59  ESTABLISHED 10.0.0.100:40001   192.0.2.1:80       10.0.0.2:80"
        );
        assert_eq!(
            lines[5],
            "UDP 59:59  UDP         192.168.0.1:5060   192.0.2.9:5060     10.0.0.2:5060    sip                1234@example.invalid"
        );
    }

    #[test]
    fn names_use_brackets_for_ipv6_and_service_names() {
        // the name callback sees the decoded address, port and protocol
        let e = Entry::scan(FIXTURE.lines().nth(6).unwrap()).unwrap();
        let mut out = String::new();
        e.print(&mut out, ConnFormat::default(), &|a, p, proto| {
            format!("<{a}|{p}|{proto}>")
        });
        assert_eq!(
            out,
            "TCP 01:59  FIN_WAIT    <2001:db8::64|40001|6> <2001:db8::1|443|6> <2001:db8::10|443|6>\n"
        );
        let v6 = IpAddr::V6("2001:db8::1".parse().unwrap());
        assert_eq!(addrport_to_anyname(&v6, 443, 6, true), "2001:db8::1:443");
    }

    #[test]
    fn an_empty_table_prints_the_header_and_no_file_fails() {
        let mut out = String::new();
        list(&mut out, "Pro FromIP ...\n", ConnFormat::default()).unwrap();
        assert_eq!(
            out,
            "IPVS connection entries\npro expire state       source             virtual            destination\n"
        );
        assert_eq!(
            list(&mut String::new(), "", ConnFormat::default()),
            Err(ConnError::NoHeader)
        );
        assert_eq!(
            ConnError::Open.message(),
            "cannot open file /proc/net/ip_vs_conn"
        );
    }

    #[test]
    fn scanning_is_sscanf_like() {
        assert_eq!(hex_u16("01BB"), Some(443));
        assert_eq!(hex_u16("1FFFF"), Some(0xFFFF));
        assert_eq!(hex_u16("zz"), None);
        assert_eq!(decimal_u32("7"), Some(7));
        assert_eq!(strtoul_hex("C0000201"), 0xC000_0201);
        assert_eq!(strtoul_hex("2001:0db8"), 0x2001);
        assert_eq!(strtoul_hex("x"), 0);
        // a short line keeps what was scanned
        let e = Entry::scan("TCP 0A000001 0050\n").unwrap();
        assert_eq!((e.cport, e.virt.as_str(), e.expires), (80, "", 0));
        assert_eq!(Entry::scan("\n"), None);
    }
}
