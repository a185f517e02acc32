//! Text as the C library reads it: IPv4 addresses with `inet_aton` (lvs.cf
//! addresses, nanny's and ipvsadm's arguments) and `inet_addr` (send_arp's
//! SRC_IP), integers with `strtol` base 0 (lvs.cf values, popt's integer
//! options). One implementation for every crate.

use std::net::Ipv4Addr;

/// C `isspace`.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn digit_value(b: u8, base: u32) -> Option<u32> {
    let d = (b as char).to_digit(16)?;
    (d < base).then_some(d)
}

/// Parses an IPv4 address as glibc `inet_aton` does: one to four parts
/// separated by dots, each decimal, `0x` hex or `0` octal (`10.1`,
/// `0x0a000001`, `012.0.0.1`); trailing white space ends the address.
pub fn inet_aton(tok: &[u8]) -> Option<Ipv4Addr> {
    const MAX: [u64; 4] = [0xffff_ffff, 0x00ff_ffff, 0xffff, 0xff];
    let mut parts: [u8; 3] = [0; 3];
    let mut n = 0;
    let mut p = 0;
    loop {
        if !tok.get(p).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let (base, skip) = if tok[p] == b'0' {
            if matches!(tok.get(p + 1), Some(b'x' | b'X'))
                && tok
                    .get(p + 2)
                    .is_some_and(|&b| digit_value(b, 16).is_some())
            {
                (16, 2)
            } else {
                (8, 0)
            }
        } else {
            (10, 0)
        };
        p += skip;
        let mut val: u64 = 0;
        while let Some(d) = tok.get(p).and_then(|&b| digit_value(b, base)) {
            val = val.saturating_mul(base as u64).saturating_add(d as u64);
            p += 1;
        }
        if val > 0xffff_ffff {
            return None;
        }
        if tok.get(p) == Some(&b'.') {
            if n > 2 || val > 0xff {
                return None;
            }
            parts[n] = val as u8;
            n += 1;
            p += 1;
        } else {
            if let Some(&c) = tok.get(p)
                && !(c.is_ascii() && is_c_space(c))
            {
                return None;
            }
            if val > MAX[n] {
                return None;
            }
            let mut word = val as u32;
            for (i, &b) in parts[..n].iter().enumerate() {
                word |= (b as u32) << (24 - 8 * i);
            }
            return Some(Ipv4Addr::from(word));
        }
    }
}

/// glibc `inet_addr`: [`inet_aton`], except that 255.255.255.255 (its
/// `INADDR_NONE`) is a failure.
pub fn inet_addr(s: &str) -> Option<Ipv4Addr> {
    inet_aton(s.as_bytes()).filter(|ip| *ip != Ipv4Addr::BROADCAST)
}

/// C `strtol(tok, &end, 0)` with the whole token consumed: the exact value
/// (not clamped), `None` if anything is left over; `""` is 0 (lvs.cf
/// values and popt's integer options).
pub fn strtol(tok: &[u8]) -> Option<i128> {
    let mut p = tok.iter().take_while(|b| is_c_space(**b)).count();
    let neg = matches!(tok.get(p), Some(b'-'));
    if matches!(tok.get(p), Some(b'+' | b'-')) {
        p += 1;
    }
    let mut base = 10;
    if tok.get(p) == Some(&b'0') {
        base = 8;
        if matches!(tok.get(p + 1), Some(b'x' | b'X'))
            && tok
                .get(p + 2)
                .is_some_and(|&b| digit_value(b, 16).is_some())
        {
            base = 16;
            p += 2;
        }
    }
    let start = p;
    let mut value: i128 = 0;
    while let Some(d) = tok.get(p).and_then(|&b| digit_value(b, base)) {
        value = value.saturating_mul(base as i128).saturating_add(d as i128);
        p += 1;
    }
    if p == start {
        // no digits: strtol leaves `end` at the start of the token
        return tok.is_empty().then_some(0);
    }
    (p == tok.len()).then_some(if neg { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_aton_forms() {
        let a = |s: &str| inet_aton(s.as_bytes());
        assert_eq!(a("10.0.0.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(a("10.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(a("10.1.2"), Some(Ipv4Addr::new(10, 1, 0, 2)));
        assert_eq!(a("167772161"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(a("0x0a000001"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(a("012.0.0.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(a("0xff.0.0.1"), Some(Ipv4Addr::new(255, 0, 0, 1)));
        assert_eq!(a("255.255.255.255"), Some(Ipv4Addr::BROADCAST));
        assert_eq!(a("0"), Some(Ipv4Addr::UNSPECIFIED));
        assert_eq!(a("1.2.3.4\x0bjunk"), Some(Ipv4Addr::new(1, 2, 3, 4)));
        for bad in [
            "",
            "256.0.0.1",
            "1.2.3.4.5",
            "1..2",
            "1.2.3.",
            ".1",
            "08",
            "1.2.3.256",
            "a.b.c.d",
            "4294967296",
            "-1",
            "1.2.3.4x",
            "0x",
        ] {
            assert_eq!(a(bad), None, "{bad}");
        }
        assert_eq!(a("1.16777215"), Some(Ipv4Addr::new(1, 255, 255, 255)));
        assert_eq!(a("1.16777216"), None);
    }

    /// send_arp's cases (they were its own parser's tests).
    #[test]
    fn inet_addr_forms() {
        let p = inet_addr;
        assert_eq!(p("10.0.0.5"), Some(Ipv4Addr::new(10, 0, 0, 5)));
        assert_eq!(p("10.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(p("10.1.2"), Some(Ipv4Addr::new(10, 1, 0, 2)));
        assert_eq!(p("0x0a000001"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(p("012.0.0.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(p("167772161"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(p("0"), Some(Ipv4Addr::new(0, 0, 0, 0)));
        assert_eq!(p("255.255.255.255"), None);
        assert_eq!(p("256.0.0.1"), None);
        assert_eq!(p("1.2.3.4.5"), None);
        assert_eq!(p("1..2"), None);
        assert_eq!(p("08.0.0.1"), None);
        // glibc: `0x` with no hex digit is no number (send_arp's own parser
        // took it for 0)
        assert_eq!(p("0x.1"), None);
        assert_eq!(p("host.example"), None);
        assert_eq!(p(""), None);
        // glibc stops at white space
        assert_eq!(p("1.2.3.4 junk"), Some(Ipv4Addr::new(1, 2, 3, 4)));
    }
}
