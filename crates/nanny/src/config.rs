//! nanny's configuration: what the command line asks for once validated
//! (the [`Config`]), and the values derived from it. Parsing argv into it
//! is [`crate::cli`]'s.

use std::ffi::OsString;
use std::net::Ipv4Addr;

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
    pub host: Ipv4Addr,
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
}
