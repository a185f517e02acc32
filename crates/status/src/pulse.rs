//! `pulse --status --json`.

use serde::{Deserialize, Serialize};

/// pulse's answer to `json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Status {
    /// Document version ([`crate::VERSION`]).
    pub version: u32,
    /// When the snapshot was taken (seconds since the epoch).
    pub time: f64,
    /// pulse's pid.
    pub pid: u32,
    /// `primary` or `backup` (this router's place in lvs.cf).
    pub node: String,
    /// `lvs` or `fos`.
    pub service: String,
    /// `starting`, `standby` or `active`.
    pub role: String,
    /// Since when (seconds since the epoch).
    pub role_since: f64,
    /// The partner router.
    pub partner: Partner,
    /// The monitored links (empty without `monitor_links`).
    pub links: Vec<Link>,
    /// The addresses pulse brings up when active.
    pub vips: Vec<Vip>,
    /// lvsd, or fos in fos mode.
    pub daemon: Daemon,
    /// Heartbeat authentication: `off` (no `--heartbeat-key`),
    /// `permissive` or `required`.
    pub heartbeat_auth: String,
    /// lvs.cf.
    pub config: Config,
    /// Counters since pulse started.
    pub counters: Counters,
    /// The last role changes, oldest first (at most [`HISTORY`]).
    pub history: Vec<RoleChange>,
    /// Scale-out mode (`scale_out = 1`, docs/scale-out.md); absent in the
    /// pair's modes. `role` is then `scale-out`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_out: Option<ScaleOut>,
}

/// Scale-out mode's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScaleOut {
    /// `scale_out_members`, as in lvs.cf.
    pub members: Vec<String>,
    /// `announce_device`.
    pub announce_device: String,
    /// `announce_hold`, seconds.
    pub announce_hold_seconds: f64,
    /// The VIPs on `announce_device` now (announced through the BGP
    /// daemon).
    pub announced: Vec<String>,
    /// The VIPs lvsd serves but that wait for `announce_hold` to pass.
    pub held_back: Vec<String>,
}

/// How many role changes [`Status::history`] keeps.
pub const HISTORY: usize = 20;

/// The partner router as heard.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Partner {
    /// Its public address.
    pub public: String,
    /// Its private address, if a private channel exists.
    pub private: Option<String>,
    /// A valid heartbeat arrived within the last `deadtime`.
    pub alive: bool,
    /// When the last valid heartbeat arrived (seconds since the epoch).
    pub last_heartbeat: Option<f64>,
    /// How long ago (monotonic clock).
    pub last_heartbeat_age_seconds: Option<f64>,
    /// The magic number of the last heartbeat, `0x` and 8 hex digits.
    pub last_magic: Option<String>,
    /// What it said: `running`, `stopped`, `stop-me` or `hold`.
    pub last_state: Option<String>,
    /// Why the last rejected datagram from a partner address was rejected
    /// (a `heartbeats_rejected` reason), if any was.
    pub last_rejected: Option<String>,
}

/// A monitored link.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Link {
    /// `primary` or `private`.
    pub name: String,
    /// Our address on it.
    pub address: String,
    /// The device carrying that address, if found.
    pub device: Option<String>,
    /// The link is up.
    pub up: bool,
}

/// An address pulse brings up when active.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Vip {
    /// The address.
    pub address: String,
    /// The device (with its label, `eth0:1`).
    pub device: String,
    /// Its netmask, if lvs.cf gives one.
    pub netmask: Option<String>,
    /// Present on this router now.
    pub held: bool,
}

/// The daemon pulse runs when active.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Daemon {
    /// `lvsd` or `fos`.
    pub name: String,
    /// Its pid, while it runs.
    pub pid: Option<u32>,
    /// `pulse --warm-standby`: lvsd runs on the standby too.
    pub warm_standby: bool,
}

/// The configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Its path.
    pub file: String,
    /// `serial_no` of the file on disk now.
    pub serial_no: Option<i64>,
    /// SHA-256 of the file on disk now (hex); `None` if unreadable.
    pub sha256: Option<String>,
    /// `serial_no` of the file pulse read at start-up.
    pub loaded_serial_no: Option<i64>,
    /// SHA-256 of the file pulse read at start-up (hex).
    pub loaded_sha256: String,
}

/// Counters since pulse started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    /// Heartbeats sent (one per interval, whatever the number of channels).
    pub heartbeats_sent: u64,
    /// Valid heartbeats received.
    pub heartbeats_received: u64,
    /// Datagrams rejected, by reason.
    pub heartbeats_rejected: Rejected,
    /// Of the valid heartbeats received, those accepted without a
    /// signature (`--heartbeat-auth=permissive`).
    pub heartbeats_unsigned: u64,
    /// Times this router became active.
    pub failovers: u64,
}

/// Rejected heartbeat datagrams by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rejected {
    /// From an address that is not the partner's (or not its port).
    pub unexpected_source: u64,
    /// Shorter than a magic number.
    pub short: u64,
    /// A magic number of another service type or unknown.
    pub incompatible: u64,
    /// With `--heartbeat-auth=required`: no signature (just the magic).
    pub unsigned: u64,
    /// With a key: longer than a magic but not a signed heartbeat
    /// (length or trailer version).
    pub malformed: u64,
    /// With a key: the MAC matches none of our keys (another key, or forged).
    pub bad_mac: u64,
    /// With a key: signed for another sender than the address it came
    /// from (e.g. our own heartbeat reflected back).
    pub wrong_identity: u64,
    /// With a key: not newer than the last heartbeat accepted from that
    /// address (a replay, or a partner restarted with its clock set back).
    pub replayed: u64,
}

impl Rejected {
    /// Every reason with its count, in document order.
    pub fn by_reason(&self) -> [(&'static str, u64); 8] {
        [
            ("unexpected_source", self.unexpected_source),
            ("short", self.short),
            ("incompatible", self.incompatible),
            ("unsigned", self.unsigned),
            ("malformed", self.malformed),
            ("bad_mac", self.bad_mac),
            ("wrong_identity", self.wrong_identity),
            ("replayed", self.replayed),
        ]
    }

    /// All of them.
    pub fn total(&self) -> u64 {
        self.by_reason().iter().map(|(_, n)| n).sum()
    }
}

/// A role change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoleChange {
    /// When (seconds since the epoch).
    pub time: f64,
    /// The role before.
    pub from: String,
    /// The role after.
    pub to: String,
    /// Why (`partner dead`, `forced active`, ...).
    pub reason: String,
}
