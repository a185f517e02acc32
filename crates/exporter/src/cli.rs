//! Command line and the choice of listen address (pure).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Default port (not among the exporters' default ports we know of).
pub const PORT: u16 = 9847;

/// Default web configuration file.
pub const WEB_CONFIG: &str = "/etc/sysconfig/ha/exporter-web.yml";

/// Prometheus exporter for an LVS router: pulse's and lvsd's status and
/// the kernel IPVS table, one scrape target per router.
#[derive(Debug, Clone, Parser)]
#[command(name = "piranha-exporter", version, about, long_about = None)]
pub struct Options {
    /// Address to serve /metrics on. Default 127.0.0.1:9847 without users in
    /// the web configuration, all addresses ([::]:9847) with them. `:PORT`
    /// means all addresses.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,

    /// Print one exposition to standard output and exit.
    #[arg(long)]
    pub once: bool,

    /// pulse's status socket.
    #[arg(long, value_name = "PATH", default_value = "/run/pulse.sock")]
    pub pulse_socket: String,

    /// lvsd's status socket.
    #[arg(long, value_name = "PATH", default_value = "/run/lvsd.sock")]
    pub lvsd_socket: String,

    /// Where procfs is mounted: DIR/net/ip_vs and DIR/net/ip_vs_stats are read.
    #[arg(long, value_name = "DIR", default_value = "/proc")]
    pub procfs: PathBuf,

    /// Web configuration (basic_auth_users, tls_server_config) [default:
    /// /etc/sysconfig/ha/exporter-web.yml, used when it exists].
    #[arg(long, value_name = "FILE")]
    pub web_config: Option<PathBuf>,

    /// Time limit for each daemon's answers (pulse and lvsd are asked at
    /// the same time): 500ms, 0.8s, 0.5 (seconds). At most 900ms.
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// The longest `--timeout`: the rest of the second is for the encoding.
pub const TIMEOUT_MAX: Duration = Duration::from_millis(900);

/// `500ms`, `0.5s`, `0.5` (seconds); more than 0 and at most [`TIMEOUT_MAX`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?}: expected a duration such as 500ms or 0.5s"))?;
    let d = Duration::try_from_secs_f64(v * scale)
        .map_err(|_| format!("{s:?}: expected a duration such as 500ms or 0.5s"))?;
    if d.is_zero() || d > TIMEOUT_MAX {
        return Err(format!(
            "{s:?}: must be more than 0 and at most {}ms (a scrape must not take more than 1 s)",
            TIMEOUT_MAX.as_millis()
        ));
    }
    Ok(d)
}

/// The addresses to listen on: the one `--listen` names, or the default.
/// With a default that is all addresses, IPv4's follows IPv6's in case the
/// host has no IPv6.
pub fn listen_addrs(listen: Option<&str>, has_users: bool) -> Result<Vec<SocketAddr>, String> {
    let all = || {
        vec![
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), PORT),
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT),
        ]
    };
    let Some(l) = listen else {
        return Ok(if has_users {
            all()
        } else {
            vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), PORT)]
        });
    };
    let bad = || format!("--listen {l:?}: expected ADDR:PORT, [ADDR6]:PORT or :PORT");
    if let Some(p) = l.strip_prefix(':') {
        let port: u16 = p.parse().map_err(|_| bad())?;
        return Ok(vec![
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
        ]);
    }
    if let Some(p) = l.strip_prefix("localhost:") {
        let port: u16 = p.parse().map_err(|_| bad())?;
        return Ok(vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)]);
    }
    l.parse::<SocketAddr>().map(|a| vec![a]).map_err(|_| bad())
}

/// Whether only this machine can reach `a`.
pub fn is_loopback(a: &SocketAddr) -> bool {
    a.ip().to_canonical().is_loopback()
}

/// Refuses to serve beyond this machine without users.
pub fn check_exposure(
    addrs: &[SocketAddr],
    has_users: bool,
    web_config: &str,
) -> Result<(), String> {
    if has_users {
        return Ok(());
    }
    match addrs.iter().find(|a| !is_loopback(a)) {
        None => Ok(()),
        Some(a) => Err(format!(
            "refusing to serve {a}, which is not a loopback address, without authentication: \
             {web_config} defines no basic_auth_users. Create it with\n  basic_auth_users:\n    \
             prometheus: BCRYPT-HASH\n(the hash from `htpasswd -nBC 10 prometheus`, package \
             apache2-utils), or listen on 127.0.0.1 or [::1]"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("0.25s"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0.9"), Ok(Duration::from_millis(900)));
        assert!(parse_duration("1s").unwrap_err().contains("at most 900ms"));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("NaN").is_err());
    }

    #[test]
    fn listen_defaults_follow_authentication() {
        assert_eq!(
            listen_addrs(None, false).unwrap(),
            vec!["127.0.0.1:9847".parse().unwrap()]
        );
        assert_eq!(
            listen_addrs(None, true).unwrap(),
            vec![
                "[::]:9847".parse().unwrap(),
                "0.0.0.0:9847".parse().unwrap()
            ]
        );
        assert_eq!(
            listen_addrs(Some(":9100"), false).unwrap()[1],
            "0.0.0.0:9100".parse().unwrap()
        );
        assert_eq!(
            listen_addrs(Some("localhost:1"), false).unwrap(),
            vec!["127.0.0.1:1".parse().unwrap()]
        );
        assert_eq!(
            listen_addrs(Some("[::1]:2"), false).unwrap(),
            vec!["[::1]:2".parse().unwrap()]
        );
        assert!(listen_addrs(Some("10.0.0.1"), false).is_err());
        assert!(listen_addrs(Some(":x"), false).is_err());
    }

    #[test]
    fn only_loopback_without_users() {
        let a = |s: &str| vec![s.parse::<SocketAddr>().unwrap()];
        assert!(check_exposure(&a("127.0.0.1:1"), false, "f").is_ok());
        assert!(check_exposure(&a("127.8.0.1:1"), false, "f").is_ok());
        assert!(check_exposure(&a("[::1]:1"), false, "f").is_ok());
        assert!(check_exposure(&a("[::ffff:127.0.0.1]:1"), false, "f").is_ok());
        let e = check_exposure(&a("0.0.0.0:1"), false, "/etc/w.yml").unwrap_err();
        assert!(e.contains("/etc/w.yml defines no basic_auth_users"), "{e}");
        assert!(check_exposure(&a("[::]:1"), false, "f").is_err());
        assert!(check_exposure(&a("10.0.0.1:1"), false, "f").is_err());
        assert!(check_exposure(&a("10.0.0.1:1"), true, "f").is_ok());
    }
}
