//! The authenticated heartbeat (`--heartbeat-key`, gaps.md A1): the key
//! file, the trailer after the 4-byte magic and its checks, as plain
//! functions. The replay window (the partner's last accepted stamp per
//! address) lives in the machine; the sequence counter in the shell.
//!
//! Wire format of a signed heartbeat (57 bytes, docs/pulse.md):
//!
//! | Bytes | Field |
//! |---|---|
//! | 0..4 | the magic, little-endian, exactly as unsigned (pulse.md §4.2) |
//! | 4 | trailer version, 1 |
//! | 5..9 | identity: the IPv4 address the sender sends this copy from |
//! | 9..17 | boot epoch, big-endian: the sender's realtime clock at start-up, in µs |
//! | 17..25 | sequence number, big-endian, from 1, +1 per datagram sent |
//! | 25..57 | HMAC-SHA256 over bytes 0..25 with the first key of the key file |
//!
//! A receiver that reads only the first 4 bytes (Piranha's pulse, or ours
//! without a key) sees an ordinary heartbeat.
//!
//! A sender with an IPv6 address uses trailer version 2 (69 bytes): the
//! same fields with a 16-byte identity (bytes 5..21), then epoch 21..29,
//! sequence 29..37 and the MAC over bytes 0..37 in 37..69. Version 1 is
//! unchanged and stays the only one an IPv4 sender uses.

use std::fmt;
use std::io::Read as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::time::Duration;

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Trailer format version with an IPv4 identity.
pub const VERSION: u8 = 1;
/// Trailer format version with an IPv6 identity.
pub const VERSION_V6: u8 = 2;
/// Length of the MAC.
pub const MAC_LEN: usize = 32;
/// Bytes covered by the MAC: magic, version, identity, epoch, sequence.
pub const SIGNED_PART: usize = 4 + 1 + 4 + 8 + 8;
/// Length of a signed heartbeat.
pub const SIGNED_LEN: usize = SIGNED_PART + MAC_LEN;
/// [`SIGNED_PART`] with an IPv6 identity (version 2).
pub const SIGNED_PART_V6: usize = 4 + 1 + 16 + 8 + 8;
/// Length of a signed heartbeat with an IPv6 identity (version 2).
pub const SIGNED_LEN_V6: usize = SIGNED_PART_V6 + MAC_LEN;
/// Least key length, in bytes.
pub const MIN_KEY: usize = 16;
/// Most keys a key file may hold (sign with the first, accept either).
pub const MAX_KEYS: usize = 2;
/// A key file larger than this is refused (it is a few lines of hex).
const MAX_FILE: u64 = 64 * 1024;

/// What unsigned heartbeats get (`--heartbeat-auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Only signed heartbeats are accepted (the default with a key).
    Required,
    /// Heartbeats are signed, and unsigned ones are accepted too (and
    /// counted): for rolling a key out, or pairing with Piranha's pulse.
    Permissive,
}

impl AuthMode {
    /// Parses `required` or `permissive`.
    pub fn parse(s: &str) -> Option<AuthMode> {
        match s {
            "required" => Some(AuthMode::Required),
            "permissive" => Some(AuthMode::Permissive),
            _ => None,
        }
    }

    /// `required` or `permissive`.
    pub fn name(self) -> &'static str {
        match self {
            AuthMode::Required => "required",
            AuthMode::Permissive => "permissive",
        }
    }
}

/// One key. Its Debug form never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(Vec<u8>);

impl Key {
    /// A key from its bytes (at least [`MIN_KEY`]).
    pub fn new(bytes: Vec<u8>) -> Option<Key> {
        (bytes.len() >= MIN_KEY).then_some(Key(bytes))
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes a key of any length: this cannot fail.
        HmacSha256::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({} bytes)", self.0.len())
    }
}

/// The keys of a key file: the first signs, every one verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys(Vec<Key>);

impl Keys {
    /// One or two keys, the signing key first.
    pub fn new(keys: Vec<Key>) -> Option<Keys> {
        (!keys.is_empty() && keys.len() <= MAX_KEYS).then_some(Keys(keys))
    }

    /// The key heartbeats are signed with.
    pub fn signing(&self) -> &Key {
        &self.0[0]
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true (a key file has at least one key).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The authentication settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// The keys.
    pub keys: Keys,
    /// What unsigned heartbeats get.
    pub mode: AuthMode,
}

/// Where a heartbeat stands in its sender's life: the sender's boot epoch
/// and its sequence number in that epoch. Ordered as (epoch, seq).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp {
    /// The sender's start-up time (realtime clock, µs since 1970).
    pub epoch: u64,
    /// Counts datagrams sent, from 1.
    pub seq: u64,
}

/// Why a datagram failed authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// Just the 4-byte magic, and signatures are required.
    Unsigned,
    /// Longer than a magic but not a trailer we know (length, version).
    Malformed,
    /// The MAC matches none of our keys.
    BadMac,
    /// Signed for another sender than the address it came from (another
    /// router's heartbeat, or our own reflected back).
    WrongIdentity(IpAddr),
    /// Not newer than the last heartbeat accepted from that address.
    Replayed {
        /// The datagram's stamp.
        got: Stamp,
        /// The last accepted one.
        last: Stamp,
    },
}

impl Reject {
    /// The reason's name in the status document and the exporter.
    pub fn name(self) -> &'static str {
        match self {
            Reject::Unsigned => "unsigned",
            Reject::Malformed => "malformed",
            Reject::BadMac => "bad_mac",
            Reject::WrongIdentity(_) => "wrong_identity",
            Reject::Replayed { .. } => "replayed",
        }
    }

    /// What the log says.
    pub fn text(self) -> String {
        match self {
            Reject::Unsigned => "unsigned (--heartbeat-auth=required)".into(),
            Reject::Malformed => "malformed authentication trailer".into(),
            Reject::BadMac => "bad MAC (not signed with our key)".into(),
            Reject::WrongIdentity(id) => format!("signed by {id}, not by its source address"),
            Reject::Replayed { got, last } => format!(
                "replayed or old (epoch {} sequence {}, last accepted epoch {} sequence {})",
                got.epoch, got.seq, last.epoch, last.seq
            ),
        }
    }
}

/// A signed heartbeat: `magic` from `identity` at `stamp`, with `key`
/// (trailer version 1 for an IPv4 identity, 2 for an IPv6 one).
pub fn seal(magic: [u8; 4], identity: impl Into<IpAddr>, stamp: Stamp, key: &Key) -> Vec<u8> {
    let mut out = Vec::with_capacity(SIGNED_LEN_V6);
    out.extend_from_slice(&magic);
    match identity.into() {
        IpAddr::V4(v4) => {
            out.push(VERSION);
            out.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            out.push(VERSION_V6);
            out.extend_from_slice(&v6.octets());
        }
    }
    out.extend_from_slice(&stamp.epoch.to_be_bytes());
    out.extend_from_slice(&stamp.seq.to_be_bytes());
    let mut mac = key.mac();
    mac.update(&out);
    out.extend_from_slice(&mac.finalize().into_bytes());
    out
}

/// Checks a datagram's trailer: a MAC by one of `keys` (in constant
/// time), the identity `expected` (the address it came from) and a stamp
/// newer than `last` (the last one accepted from there). Gives the magic
/// and the stamp to remember.
pub fn open(
    datagram: &[u8],
    keys: &Keys,
    expected: IpAddr,
    last: Option<Stamp>,
) -> Result<([u8; 4], Stamp), Reject> {
    if datagram.len() <= 4 {
        return Err(Reject::Unsigned);
    }
    let (part, id_len) = match (datagram[4], datagram.len()) {
        (VERSION, SIGNED_LEN) => (SIGNED_PART, 4),
        (VERSION_V6, SIGNED_LEN_V6) => (SIGNED_PART_V6, 16),
        _ => return Err(Reject::Malformed),
    };
    let (signed, tag) = datagram.split_at(part);
    let verified = keys.0.iter().any(|k| {
        let mut mac = k.mac();
        mac.update(signed);
        mac.verify_slice(tag).is_ok()
    });
    if !verified {
        return Err(Reject::BadMac);
    }
    let field = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&signed[at..at + 8]);
        u64::from_be_bytes(b)
    };
    let id = &signed[5..5 + id_len];
    let identity = match <[u8; 16]>::try_from(id) {
        Ok(v6) => IpAddr::V6(Ipv6Addr::from(v6)),
        Err(_) => IpAddr::V4(Ipv4Addr::new(id[0], id[1], id[2], id[3])),
    };
    if identity != expected {
        return Err(Reject::WrongIdentity(identity));
    }
    let stamp = Stamp {
        epoch: field(5 + id_len),
        seq: field(13 + id_len),
    };
    if let Some(last) = last
        && stamp <= last
    {
        return Err(Reject::Replayed { got: stamp, last });
    }
    Ok(([signed[0], signed[1], signed[2], signed[3]], stamp))
}

/// The sending side: the signing key, this run's epoch and the counter.
#[derive(Debug, Clone)]
pub struct Signer {
    key: Key,
    epoch: u64,
    seq: u64,
}

impl Signer {
    /// Signs with `key` in `epoch` ([`boot_epoch`]).
    pub fn new(key: Key, epoch: u64) -> Signer {
        Signer { key, epoch, seq: 0 }
    }

    /// The next datagram for `magic` sent from `identity`.
    pub fn seal(&mut self, magic: [u8; 4], identity: impl Into<IpAddr>) -> Vec<u8> {
        self.seq += 1;
        let stamp = Stamp {
            epoch: self.epoch,
            seq: self.seq,
        };
        seal(magic, identity, stamp, &self.key)
    }
}

/// This run's epoch: the realtime clock now, in microseconds. A restarted
/// pulse has a larger one unless the clock went back across the restart.
pub fn boot_epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The last stamp accepted from each partner address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Window(Vec<(IpAddr, Stamp)>);

impl Window {
    /// The last stamp accepted from `ip`.
    pub fn last(&self, ip: impl Into<IpAddr>) -> Option<Stamp> {
        let ip = ip.into();
        self.0.iter().find(|(a, _)| *a == ip).map(|(_, s)| *s)
    }

    /// Remembers `stamp` as the last accepted from `ip`.
    pub fn accept(&mut self, ip: impl Into<IpAddr>, stamp: Stamp) {
        let ip = ip.into();
        match self.0.iter_mut().find(|(a, _)| *a == ip) {
            Some(e) => e.1 = stamp,
            None => self.0.push((ip, stamp)),
        }
    }
}

/// How often one kind of rejection is logged.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// Rate limit for the rejection log: one line per reason per
/// [`LOG_EVERY`], with the count of those not logged since.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogLimit(Vec<(&'static str, Duration, u64)>);

impl LogLimit {
    /// Whether to log an event of `kind` at `now`: `Some(n)` with `n`
    /// events of that kind left unlogged since the last line, or `None`
    /// to stay quiet (and count it).
    pub fn admit(&mut self, kind: &'static str, now: Duration) -> Option<u64> {
        match self.0.iter_mut().find(|(k, _, _)| *k == kind) {
            None => {
                self.0.push((kind, now, 0));
                Some(0)
            }
            Some((_, at, quiet)) => {
                if now.saturating_sub(*at) >= LOG_EVERY {
                    let n = *quiet;
                    *at = now;
                    *quiet = 0;
                    Some(n)
                } else {
                    *quiet += 1;
                    None
                }
            }
        }
    }
}

/// Why a key file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    /// It cannot be opened (missing, a symbolic link, no permission).
    #[error("{file}: cannot open: {reason}")]
    Open {
        /// The file.
        file: String,
        /// The system's reason.
        reason: String,
    },
    /// It is not a regular file.
    #[error("{file}: expected a regular file, found {found}")]
    NotAFile {
        /// The file.
        file: String,
        /// What it is.
        found: &'static str,
    },
    /// Not owned by root.
    #[error("{file}: expected owner root (uid 0), found uid {uid}")]
    Owner {
        /// The file.
        file: String,
        /// Its owner.
        uid: u32,
    },
    /// Readable or writable by group or others.
    #[error("{file}: expected mode 0600 or stricter, found {mode:04o}")]
    Mode {
        /// The file.
        file: String,
        /// Its permission bits.
        mode: u32,
    },
    /// Unreadable contents.
    #[error(
        "{file}:{line}: expected a key of at least 16 bytes as hexadecimal digits (32 or more), found {found}"
    )]
    Key {
        /// The file.
        file: String,
        /// The line.
        line: usize,
        /// What is there.
        found: String,
    },
    /// No key, or too many.
    #[error("{file}: expected one or two keys, found {found}")]
    Count {
        /// The file.
        file: String,
        /// How many.
        found: usize,
    },
    /// Reading failed.
    #[error("{file}: cannot read: {reason}")]
    Read {
        /// The file.
        file: String,
        /// The system's reason.
        reason: String,
    },
}

/// Checks the file's type, owner and mode (before reading it).
pub fn check_meta(file: &str, meta: &std::fs::Metadata) -> Result<(), KeyFileError> {
    let ft = meta.file_type();
    if !ft.is_file() {
        use std::os::unix::fs::FileTypeExt as _;
        let found = if ft.is_dir() {
            "a directory"
        } else if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_socket() {
            "a socket"
        } else if ft.is_char_device() || ft.is_block_device() {
            "a device"
        } else {
            "something else"
        };
        return Err(KeyFileError::NotAFile {
            file: file.into(),
            found,
        });
    }
    check_owner_mode(file, meta.uid(), meta.mode())
}

/// Owner root, no permission bits for group and others.
pub fn check_owner_mode(file: &str, uid: u32, mode: u32) -> Result<(), KeyFileError> {
    if uid != 0 {
        return Err(KeyFileError::Owner {
            file: file.into(),
            uid,
        });
    }
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Mode {
            file: file.into(),
            mode: mode & 0o7777,
        });
    }
    Ok(())
}

/// Parses a key file's text: one key per line as hexadecimal digits (at
/// least 32, i.e. 16 bytes), blank lines and `#` comments ignored; one
/// key, or two during a rotation (the first signs).
pub fn parse_keys(file: &str, text: &str) -> Result<Keys, KeyFileError> {
    let mut keys = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || KeyFileError::Key {
            file: file.into(),
            line: i + 1,
            found: describe(line),
        };
        let bytes = unhex(line).ok_or_else(bad)?;
        keys.push(Key::new(bytes).ok_or_else(bad)?);
    }
    let found = keys.len();
    Keys::new(keys).ok_or(KeyFileError::Count {
        file: file.into(),
        found,
    })
}

/// What a bad key line is, without showing it (it may be a real key).
fn describe(line: &str) -> String {
    if line.chars().all(|c| c.is_ascii_hexdigit()) {
        if !line.len().is_multiple_of(2) {
            format!("an odd number of digits ({})", line.len())
        } else {
            format!("{} digits ({} bytes)", line.len(), line.len() / 2)
        }
    } else {
        format!(
            "{} characters that are not all hexadecimal digits",
            line.chars().count()
        )
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|p| {
            let d = |c: u8| (c as char).to_digit(16);
            Some((d(p[0])? * 16 + d(p[1])?) as u8)
        })
        .collect()
}

/// Loads the key file: not through a symbolic link (`O_NOFOLLOW`), a
/// regular file owned by root with mode 0600 or stricter, one or two keys.
pub fn load_keys(file: &str) -> Result<Keys, KeyFileError> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        // Never block on a FIFO; never follow a symbolic link.
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(file)
        .map_err(|e| KeyFileError::Open {
            file: file.into(),
            reason: if e.raw_os_error() == Some(libc::ELOOP) {
                "it is a symbolic link".into()
            } else {
                lvs_util::errtext(&e)
            },
        })?;
    let meta = f.metadata().map_err(|e| KeyFileError::Read {
        file: file.into(),
        reason: lvs_util::errtext(&e),
    })?;
    check_meta(file, &meta)?;
    let mut text = String::new();
    f.take(MAX_FILE)
        .read_to_string(&mut text)
        .map_err(|e| KeyFileError::Read {
            file: file.into(),
            reason: lvs_util::errtext(&e),
        })?;
    parse_keys(file, &text)
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
