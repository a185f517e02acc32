//! Authentication state: the password file (re-read when it changes),
//! browser sessions, CSRF tokens and the failed-login limit.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::passwd;

/// A session ends after this long without a request...
pub const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
/// ... and this long after the login in any case.
pub const SESSION_MAX: Duration = Duration::from_secs(8 * 3600);
/// Sessions at most (the oldest goes first).
pub const SESSIONS: usize = 64;
/// Failed logins from one address within [`FAILURE_WINDOW`] before that
/// address is refused until the window has passed.
pub const FAILURES: u32 = 5;
/// See [`FAILURES`].
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Addresses whose failures are remembered at most.
const FAILURE_ADDRS: usize = 4096;
/// Remembered successful verifications at most.
const CACHE_MAX: usize = 64;

/// 32 random bytes, hex.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the kernel's random numbers");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Whether two tokens are equal, in constant time.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

type Stamp = (u64, u64, i64, i64, u64);

#[derive(Debug, Default)]
struct PasswdCache {
    stamp: Option<Stamp>,
    hash: Option<String>,
    /// SHA-256 of (password, hash) of verified passwords.
    ok: HashSet<[u8; 32]>,
}

/// The password file.
#[derive(Debug)]
pub struct Passwords {
    path: PathBuf,
    cache: Mutex<PasswdCache>,
}

impl Passwords {
    /// The file at `path`.
    pub fn new(path: PathBuf) -> Passwords {
        Passwords {
            path,
            cache: Mutex::new(PasswdCache::default()),
        }
    }

    /// The file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// `piranha`'s hash as the file holds it now (`None`: no file, no such
    /// user). Re-read when the file changed; a change forgets verified
    /// passwords.
    pub fn current_hash(&self) -> Option<String> {
        let stamp = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino(), m.mtime(), m.mtime_nsec(), m.len()));
        let mut c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if stamp.is_none() || c.stamp != stamp {
            let hash = std::fs::read_to_string(&self.path)
                .ok()
                .and_then(|t| passwd::lookup(&t, passwd::USER));
            if hash != c.hash {
                c.ok.clear();
            }
            c.stamp = stamp;
            c.hash = hash;
        }
        c.hash.clone()
    }

    fn key(pass: &str, hash: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        for part in [pass, hash] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().into()
    }

    /// `Some(true)` when `user`/`pass` were verified against the current
    /// hash before; `None` when [`Passwords::verify`] has to run.
    pub fn cached(&self, user: &str, pass: &str) -> Option<bool> {
        if user != passwd::USER {
            return None;
        }
        let hash = self.current_hash()?;
        let c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        c.ok.contains(&Self::key(pass, &hash)).then_some(true)
    }

    /// Checks `user`/`pass` (slow: off the async threads). Only `piranha`
    /// exists. Without a password file nobody gets in.
    pub fn verify(&self, user: &str, pass: &str) -> bool {
        let Some(hash) = self.current_hash() else {
            return false;
        };
        if user != passwd::USER || !passwd::verify(pass, &hash) {
            return false;
        }
        let mut c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if c.ok.len() >= CACHE_MAX {
            c.ok.clear();
        }
        c.ok.insert(Self::key(pass, &hash));
        true
    }
}

#[derive(Debug, Clone)]
struct Session {
    csrf: String,
    /// The password hash at login: a new password ends the session.
    hash: String,
    created: Instant,
    seen: Instant,
}

/// Browser sessions.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// A new session for a login against `hash`: `(id, csrf token)`.
    pub fn create(&self, hash: &str) -> (String, String) {
        let now = Instant::now();
        let id = random_token();
        let csrf = random_token();
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        m.retain(|_, s| live(s, now));
        while m.len() >= SESSIONS {
            let Some(oldest) = m
                .iter()
                .min_by_key(|(_, s)| s.created)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            m.remove(&oldest);
        }
        m.insert(
            id.clone(),
            Session {
                csrf: csrf.clone(),
                hash: hash.to_string(),
                created: now,
                seen: now,
            },
        );
        (id, csrf)
    }

    /// The CSRF token of the live session `id`, whose login was against
    /// `hash` (the current one); refreshes its idle time.
    pub fn get(&self, id: &str, hash: &str) -> Option<String> {
        let now = Instant::now();
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let s = m.get_mut(id)?;
        if !live(s, now) || s.hash != hash {
            m.remove(id);
            return None;
        }
        s.seen = now;
        Some(s.csrf.clone())
    }

    /// Ends session `id`.
    pub fn remove(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}

fn live(s: &Session, now: Instant) -> bool {
    now.duration_since(s.seen) < SESSION_IDLE && now.duration_since(s.created) < SESSION_MAX
}

/// Failed logins per client address.
#[derive(Debug, Default)]
pub struct Failures {
    map: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Failures {
    /// Whether `ip` has used up its failures (then it is refused without
    /// a check until the window has passed).
    pub fn blocked(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        m.get(&ip)
            .is_some_and(|(t, n)| *n >= FAILURES && now.duration_since(*t) < FAILURE_WINDOW)
    }

    /// Counts a failure of `ip`; returns the count in the current window.
    pub fn fail(&self, ip: IpAddr) -> u32 {
        let now = Instant::now();
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= FAILURE_ADDRS {
            m.retain(|_, (t, _)| now.duration_since(*t) < FAILURE_WINDOW);
        }
        let e = m.entry(ip).or_insert((now, 0));
        if now.duration_since(e.0) >= FAILURE_WINDOW {
            *e = (now, 0);
        }
        e.1 += 1;
        e.1
    }

    /// Forgets `ip`'s failures (after a successful login).
    pub fn clear(&self, ip: IpAddr) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let a = random_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, random_token());
        assert!(same_token(&a, &a.clone()));
        assert!(!same_token(&a, &random_token()));
        assert!(!same_token(&a, ""));
    }

    #[test]
    fn sessions_end_with_a_new_password() {
        let s = Sessions::default();
        let (id, csrf) = s.create("h1");
        assert_eq!(s.get(&id, "h1"), Some(csrf));
        assert_eq!(s.get("nope", "h1"), None);
        assert_eq!(s.get(&id, "h2"), None);
        assert_eq!(s.get(&id, "h1"), None);
        let (id, _) = s.create("h1");
        s.remove(&id);
        assert_eq!(s.get(&id, "h1"), None);
    }

    #[test]
    fn failures_block_after_the_limit() {
        let f = Failures::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for n in 1..FAILURES {
            assert_eq!(f.fail(ip), n);
            assert!(!f.blocked(ip));
        }
        f.fail(ip);
        assert!(f.blocked(ip));
        assert!(!f.blocked("10.0.0.2".parse().unwrap()));
        f.clear(ip);
        assert!(!f.blocked(ip));
    }

    #[test]
    fn password_file_is_reread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("piranha.passwd");
        let p = Passwords::new(path.clone());
        assert!(!p.verify("piranha", "x"));
        passwd::store(&path, "piranha", "$apr1$saltsalt$Golc7VZFCY/J9iYNrpYdW1").unwrap();
        assert!(p.verify("piranha", "pir4nha!"));
        assert!(!p.verify("admin", "pir4nha!"));
        assert_eq!(p.cached("piranha", "pir4nha!"), Some(true));
        passwd::store(&path, "piranha", "{SHA}d25IzV/evjfy+HmPLunCdVze84c=").unwrap();
        assert_eq!(p.cached("piranha", "pir4nha!"), None);
        assert!(p.verify("piranha", "pir4nha!"));
    }
}
