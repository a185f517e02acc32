//! Who may connect: `--allow CIDR` (repeatable) and the original's
//! `/etc/sysconfig/ha/web/secure/.htaccess` (Apache 2.2 `Order`,
//! `Allow from`, `Deny from`), re-read when it changes.
//!
//! Both must let a client in. Without `--allow` every address passes the
//! first test; without the file, the second.
//!
//! The file's lines as Apache's mod_access reads them: `Order deny,allow`
//! (the default) lets a client in unless a `Deny` matches and no `Allow`
//! does; `Order allow,deny` only when an `Allow` matches and no `Deny`
//! does. `from` takes `all`, full addresses, partial addresses (`10.1`),
//! `NET/BITS` and `NET/MASK`. Host and domain names are not resolved: they
//! match nothing (an `Allow` that relied on one then refuses that client,
//! which errs on the safe side). Other lines (`AuthType`, `<Limit GET>`,
//! `require`...) are ignored: authentication is always required.

use std::net::IpAddr;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The original's access file.
pub const DEFAULT_HTACCESS: &str = "/etc/sysconfig/ha/web/secure/.htaccess";

/// An address block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    bits: u8,
}

fn to_v6(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(v.to_ipv6_mapped()),
        IpAddr::V6(v) => v
            .to_ipv4_mapped()
            .map_or_else(|| u128::from(v), |v4| u128::from(v4.to_ipv6_mapped())),
    }
}

impl Cidr {
    /// `ADDR`, `ADDR/BITS` or (IPv4) `ADDR/MASK`.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let bad = || format!("{text:?}: expected ADDRESS[/BITS]");
        let (a, b) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match b {
            None => max,
            Some(b) => match (b.parse::<u8>(), b.parse::<std::net::Ipv4Addr>()) {
                (Ok(n), _) if n <= max => n,
                (_, Ok(m)) if addr.is_ipv4() => {
                    let m = u32::from(m);
                    if m.leading_ones() + m.trailing_zeros() != 32 {
                        return Err(bad());
                    }
                    m.leading_ones() as u8
                }
                _ => return Err(bad()),
            },
        };
        Ok(Cidr { addr, bits })
    }

    /// Whether `ip` is inside (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let shift = if self.addr.is_ipv4() { 96 } else { 0 };
        let bits = u32::from(self.bits) + shift;
        if self.addr.is_ipv4() && !ipv4_like(ip) {
            return false;
        }
        let mask = if bits == 0 {
            0
        } else {
            u128::MAX << (128 - bits)
        };
        to_v6(self.addr) & mask == to_v6(ip) & mask
    }
}

fn ipv4_like(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(_) => true,
        IpAddr::V6(v) => v.to_ipv4_mapped().is_some(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    All,
    Net(Cidr),
    /// A name: never matches.
    Name,
}

impl Pattern {
    fn parse(word: &str) -> Pattern {
        if word.eq_ignore_ascii_case("all") {
            return Pattern::All;
        }
        if let Ok(c) = Cidr::parse(word) {
            return Pattern::Net(c);
        }
        // partial IPv4 address: 10.1 or 10.1.
        let w = word.trim_end_matches('.');
        let parts: Vec<&str> = w.split('.').collect();
        if (1..4).contains(&parts.len()) && parts.iter().all(|p| p.parse::<u8>().is_ok()) {
            let mut full = parts.join(".");
            for _ in parts.len()..4 {
                full.push_str(".0");
            }
            if let Ok(c) = Cidr::parse(&format!("{full}/{}", parts.len() * 8)) {
                return Pattern::Net(c);
            }
        }
        Pattern::Name
    }

    fn matches(&self, ip: IpAddr) -> bool {
        match self {
            Pattern::All => true,
            Pattern::Net(c) => c.contains(ip),
            Pattern::Name => false,
        }
    }
}

/// The Allow/Deny lines of an `.htaccess` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Htaccess {
    allow_first: bool,
    allow: Vec<Pattern>,
    deny: Vec<Pattern>,
}

impl Htaccess {
    /// Parses the file's text.
    pub fn parse(text: &str) -> Htaccess {
        let mut h = Htaccess::default();
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let Some(first) = words.first() else { continue };
            if first.eq_ignore_ascii_case("order") {
                let arg: String = words[1..].concat().to_ascii_lowercase();
                h.allow_first = arg == "allow,deny";
            } else if first.eq_ignore_ascii_case("allow") || first.eq_ignore_ascii_case("deny") {
                if !words.get(1).is_some_and(|w| w.eq_ignore_ascii_case("from")) {
                    continue;
                }
                let list = if first.eq_ignore_ascii_case("allow") {
                    &mut h.allow
                } else {
                    &mut h.deny
                };
                list.extend(words[2..].iter().map(|w| Pattern::parse(w)));
            }
        }
        h
    }

    /// Whether `ip` may connect.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let allowed = self.allow.iter().any(|p| p.matches(ip));
        let denied = self.deny.iter().any(|p| p.matches(ip));
        if self.allow_first {
            allowed && !denied
        } else {
            allowed || !denied
        }
    }
}

type Stamp = (u64, u64, i64, i64, u64);

/// `--allow` and the `.htaccess` file, re-read when it changes.
#[derive(Debug)]
pub struct Access {
    allow: Vec<Cidr>,
    path: Option<PathBuf>,
    cached: Mutex<(Option<Stamp>, Option<Htaccess>)>,
}

impl Access {
    /// `allow` (empty: any address) and the file at `path` (`None`: none).
    pub fn new(allow: Vec<Cidr>, path: Option<PathBuf>) -> Access {
        Access {
            allow,
            path,
            cached: Mutex::new((None, None)),
        }
    }

    fn htaccess(&self, path: &Path) -> Option<Htaccess> {
        let stamp = std::fs::metadata(path)
            .ok()
            .map(|m| (m.dev(), m.ino(), m.mtime(), m.mtime_nsec(), m.len()));
        let mut c = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if c.0 != stamp || stamp.is_none() {
            let h = match std::fs::read_to_string(path) {
                Ok(t) => Some(Htaccess::parse(&t)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                // there but unreadable: refuse everyone rather than ignore it
                Err(_) => Some(Htaccess::parse("Order allow,deny")),
            };
            *c = (stamp, h);
        }
        c.1.clone()
    }

    /// Whether `ip` may connect.
    pub fn allows(&self, ip: IpAddr) -> bool {
        if !self.allow.is_empty() && !self.allow.iter().any(|c| c.contains(ip)) {
            return false;
        }
        match &self.path {
            Some(p) => self.htaccess(p).is_none_or(|h| h.allows(ip)),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidrs() {
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(c.contains(ip("10.1.2.3")));
        assert!(c.contains(ip("::ffff:10.1.2.3")));
        assert!(!c.contains(ip("10.2.0.1")));
        assert!(!c.contains(ip("::1")));
        assert_eq!(Cidr::parse("10.1.0.0/255.255.0.0").unwrap(), c);
        assert!(Cidr::parse("10.1.0.0/255.0.255.0").is_err());
        assert!(Cidr::parse("10.1.0.0/33").is_err());
        assert!(Cidr::parse("x").is_err());
        let one = Cidr::parse("127.0.0.1").unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("10.0.0.1")));
    }

    #[test]
    fn the_originals_file() {
        let h = Htaccess::parse("Order deny,allow\nDeny from all\nAllow from 127.0.0.1\n");
        assert!(h.allows(ip("127.0.0.1")));
        assert!(!h.allows(ip("10.0.0.1")));
        let open = Htaccess::parse("order deny,allow\nallow from all\n");
        assert!(open.allows(ip("10.0.0.1")));
        assert!(Htaccess::parse("").allows(ip("10.0.0.1")));
    }

    #[test]
    fn allow_deny_order_and_partial_addresses() {
        let h = Htaccess::parse(
            "Order Allow,Deny\nAllow from 10.1 192.168.0.0/24\nDeny from 10.1.9.9\n",
        );
        assert!(h.allows(ip("10.1.2.3")));
        assert!(h.allows(ip("192.168.0.7")));
        assert!(!h.allows(ip("10.1.9.9")));
        assert!(!h.allows(ip("10.2.0.1")));
        let names = Htaccess::parse("Order allow,deny\nAllow from .example.com\n");
        assert!(!names.allows(ip("10.0.0.1")));
    }

    #[test]
    fn both_limits_apply_and_the_file_is_reread() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join(".htaccess");
        let a = Access::new(vec![Cidr::parse("127.0.0.0/8").unwrap()], Some(f.clone()));
        assert!(a.allows(ip("127.0.0.2")));
        assert!(!a.allows(ip("10.0.0.1")));
        std::fs::write(
            &f,
            "Order deny,allow\nDeny from all\nAllow from 127.0.0.1\n",
        )
        .unwrap();
        assert!(a.allows(ip("127.0.0.1")));
        assert!(!a.allows(ip("127.0.0.2")));
        std::fs::write(
            &f,
            "Order deny,allow\nDeny from all\nAllow from 127.0.0.2\n",
        )
        .unwrap();
        assert!(!a.allows(ip("127.0.0.1")));
        assert!(a.allows(ip("127.0.0.2")));
        std::fs::remove_file(&f).unwrap();
        assert!(a.allows(ip("127.0.0.1")));
    }
}
