//! nanny's configuration: what the command line asks for once validated
//! (the [`Config`]), and the values derived from it. Parsing argv into it
//! is [`crate::cli`]'s.

use std::ffi::OsString;
use std::net::IpAddr;

pub use ipvs::Forward;

/// Which job nanny does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Checks a real server and maintains it in IPVS (started by lvsd).
    Lvs,
    /// Checks a partner's service and exits when it fails (started by fos).
    Fos,
}

/// Validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub mode: Mode,
    /// `-h`: an IPv4 address (any `inet_aton` form) or an IPv6 literal.
    pub host: IpAddr,
    pub port: u16,
    pub rport: u16,
    /// `-V` verbatim (`None` prints `(null)`).
    pub vip: Option<String>,
    pub fwmark: u32,
    pub interval: u32,
    pub reentry: i32,
    pub weight: i32,
    pub scale: i32,
    pub forward: Forward,
    pub ipvsadm: String,
    /// Load probe command, `None` for `none`.
    pub loadcmd: Option<OsString>,
    pub send: Option<Vec<u8>>,
    pub expect: Option<Vec<u8>>,
    pub program: Option<OsString>,
    pub regex: bool,
    pub suppress: bool,
    pub quiesce: bool,
    pub udp: bool,
    pub verbose: bool,
    pub nodaemon: bool,
    pub nofork: bool,
    pub test_start: bool,
    pub icmp: bool,
    pub external_failure_passes: bool,
    pub chop_newline_only: bool,
}

impl Config {
    /// Consecutive successes needed for re-entry: `reentry / interval`.
    pub fn threshold(&self) -> u32 {
        let t = self.reentry / self.interval as i32;
        t.max(0) as u32
    }

    /// The VIP as printed in logs.
    pub fn vip_text(&self) -> &str {
        self.vip.as_deref().unwrap_or("(null)")
    }

    /// `VIP:PORT` as printed in logs (an IPv6 VIP in brackets).
    pub fn vip_endpoint(&self) -> String {
        endpoint(self.vip_text(), self.port)
    }

    /// The real server's `HOST:PORT` for `port` (an IPv6 host in
    /// brackets).
    pub fn host_endpoint(&self, port: u16) -> String {
        endpoint(&self.host.to_string(), port)
    }
}

/// `ADDR:PORT`, `[ADDR]:PORT` when `addr` is an IPv6 literal.
pub fn endpoint(addr: &str, port: u16) -> String {
    if addr.contains(':') {
        format!("[{addr}]:{port}")
    } else {
        format!("{addr}:{port}")
    }
}
