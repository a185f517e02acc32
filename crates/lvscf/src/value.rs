//! Value syntax (lvs-cf.md §5): C `strtol` integers, `inet_aton` addresses,
//! host names and service names, and the resolver that looks names up.

use std::collections::HashMap;
use std::net::{Ipv4Addr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::OnceLock;

/// `inet_aton` lives in `lvs_util::inet` (shared with send_arp and nanny).
pub use lvs_util::inet::inet_aton;

/// C `strtol(tok, &end, 0)`, the whole token consumed: the exact value (not
/// clamped); `""` is 0. `lvs_util::inet::strtol`, shared with popt's
/// integer options.
pub use lvs_util::inet::strtol as parse_c_long;

/// True if `name` has the shape of a DNS host name (letters, digits, `-`,
/// `_` and dots; 1–253 bytes). Only such names are passed to the resolver.
pub fn looks_like_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && name.split('.').all(|l| !l.is_empty() && l.len() <= 63)
}

/// Looks up host and service names for the parser.
pub trait Resolver {
    /// First IPv4 address of a host name, as the system resolver gives it.
    fn resolve_host(&self, name: &str) -> Option<Ipv4Addr>;
    /// Port of a service name for protocol `tcp` (`getservbyname(name, "tcp")`).
    fn tcp_port(&self, name: &str) -> Option<u16>;
}

/// The system's resolver (`getaddrinfo`) and services database
/// (`/etc/services`, read once, on first use).
#[derive(Debug)]
pub struct SystemResolver {
    services_file: PathBuf,
    services: OnceLock<HashMap<String, u16>>,
}

impl Default for SystemResolver {
    fn default() -> SystemResolver {
        SystemResolver::with_services_file("/etc/services")
    }
}

impl SystemResolver {
    /// A resolver reading service names from `path` instead of
    /// `/etc/services`.
    pub fn with_services_file(path: impl Into<PathBuf>) -> SystemResolver {
        SystemResolver {
            services_file: path.into(),
            services: OnceLock::new(),
        }
    }
}

/// Parses services-database text into a name → tcp port map (first entry
/// for a name wins, aliases included).
pub fn parse_services(text: &str) -> HashMap<String, u16> {
    let mut map = HashMap::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_ascii_whitespace();
        let (Some(name), Some(port_proto)) = (words.next(), words.next()) else {
            continue;
        };
        let Some((port, proto)) = port_proto.split_once('/') else {
            continue;
        };
        if proto != "tcp" {
            continue;
        }
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        for n in std::iter::once(name).chain(words) {
            map.entry(n.to_string()).or_insert(port);
        }
    }
    map
}

impl Resolver for SystemResolver {
    fn resolve_host(&self, name: &str) -> Option<Ipv4Addr> {
        (name, 0u16)
            .to_socket_addrs()
            .ok()?
            .find_map(|a| match a.ip() {
                std::net::IpAddr::V4(v4) => Some(v4),
                std::net::IpAddr::V6(_) => None,
            })
    }

    fn tcp_port(&self, name: &str) -> Option<u16> {
        self.services
            .get_or_init(|| {
                std::fs::read(&self.services_file)
                    .map(|b| parse_services(&String::from_utf8_lossy(&b)))
                    .unwrap_or_default()
            })
            .get(name)
            .copied()
    }
}

/// A resolver with fixed tables and no I/O (tests, fuzzing, offline checks).
/// The default one knows no names at all.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    /// Host name → address.
    pub hosts: HashMap<String, Ipv4Addr>,
    /// Service name → tcp port.
    pub services: HashMap<String, u16>,
}

impl Resolver for StaticResolver {
    fn resolve_host(&self, name: &str) -> Option<Ipv4Addr> {
        self.hosts.get(name).copied()
    }
    fn tcp_port(&self, name: &str) -> Option<u16> {
        self.services.get(name).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_forms() {
        let v = |s: &str| parse_c_long(s.as_bytes());
        assert_eq!(v("6"), Some(6));
        assert_eq!(v("-6"), Some(-6));
        assert_eq!(v("+6"), Some(6));
        assert_eq!(v("0x1f"), Some(31));
        assert_eq!(v("0X1F"), Some(31));
        assert_eq!(v("010"), Some(8));
        assert_eq!(v("0"), Some(0));
        assert_eq!(v(""), Some(0));
        assert_eq!(v("\x0b7"), Some(7));
        assert_eq!(v("080"), None);
        assert_eq!(v("0x"), None);
        assert_eq!(v("0xg"), None);
        assert_eq!(v("-"), None);
        assert_eq!(v("6s"), None);
        assert_eq!(v("six"), None);
        assert_eq!(v("99999999999"), Some(99_999_999_999));
        assert!(v(&"9".repeat(100)).unwrap() > i64::MAX as i128);
    }

    #[test]
    fn hostname_shape() {
        assert!(looks_like_hostname("localhost"));
        assert!(looks_like_hostname("web-1.example.com"));
        assert!(!looks_like_hostname(""));
        assert!(!looks_like_hostname("a b"));
        assert!(!looks_like_hostname("a..b"));
        assert!(!looks_like_hostname("a/b"));
    }

    #[test]
    fn services_file_parsing() {
        let m = parse_services(
            "# c\nhttp\t80/tcp www # web\nhttp 80/udp\nsmtp 25/tcp mail\nbad x/tcp\nntp 123/udp\n",
        );
        assert_eq!(m.get("http"), Some(&80));
        assert_eq!(m.get("www"), Some(&80));
        assert_eq!(m.get("mail"), Some(&25));
        assert_eq!(m.get("ntp"), None);
        assert_eq!(m.get("bad"), None);
    }
}
