//! The web configuration file (`--web-config`, default
//! `/etc/sysconfig/ha/exporter-web.yml`): the part of the Prometheus
//! exporter-toolkit format this exporter supports, and basic
//! authentication against its bcrypt hashes.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt      # relative to the file's directory
//!   key_file: server.key
//! basic_auth_users:
//!   prometheus: $2y$10$...      # htpasswd -nBC 10 prometheus
//! ```
//!
//! Any other key is refused (an exporter-toolkit setting silently ignored
//! could leave the endpoint less protected than its owner thinks).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::Mutex;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    tls_server_config: Option<TlsDoc>,
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsDoc {
    cert_file: PathBuf,
    key_file: PathBuf,
}

/// TLS certificate and key files (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    /// Certificate chain.
    pub cert_file: PathBuf,
    /// Private key.
    pub key_file: PathBuf,
}

/// The web configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebConfig {
    /// User name to bcrypt hash.
    pub users: BTreeMap<String, String>,
    /// Serve HTTPS with these.
    pub tls: Option<Tls>,
}

/// Parses the file's text; relative paths are taken from `dir`.
pub fn parse(text: &str, dir: &Path) -> Result<WebConfig, String> {
    let doc: FileDoc = if text.trim().is_empty() {
        FileDoc::default()
    } else {
        serde_yaml_ng::from_str::<Option<FileDoc>>(text)
            .map_err(|e| e.to_string())?
            .unwrap_or_default()
    };
    let users = doc.basic_auth_users.unwrap_or_default();
    for (name, hash) in &users {
        if name.is_empty() || name.contains(':') {
            return Err(format!(
                "basic_auth_users: user name {name:?} cannot be used (empty or with ':')"
            ));
        }
        bcrypt::HashParts::from_str(hash).map_err(|e| {
            format!("basic_auth_users: {name}: not a bcrypt hash ({e}); make one with htpasswd -nBC 10 {name}")
        })?;
    }
    let tls = doc.tls_server_config.map(|t| Tls {
        cert_file: dir.join(t.cert_file),
        key_file: dir.join(t.key_file),
    });
    Ok(WebConfig { users, tls })
}

/// Reads `path`. `Ok(None)` when it does not exist.
pub fn load(path: &Path) -> Result<Option<WebConfig>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    parse(&text, dir)
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

pub use piranha_web::basic_credentials;

/// Most successful verifications remembered.
const CACHE_MAX: usize = 256;

/// Checks credentials against the configured users. bcrypt is slow on
/// purpose (tens of ms at cost 10): a successful check is remembered as
/// the SHA-256 of (user, password, hash), so a scraper that sends the same
/// credentials every 15 s pays it once. Only successes are remembered; a
/// failed check always runs bcrypt, also for an unknown user (against a
/// hash of the same cost), so timing does not tell which users exist.
#[derive(Debug)]
pub struct Auth {
    users: BTreeMap<String, String>,
    dummy: String,
    cache: Mutex<HashSet<[u8; 32]>>,
}

impl Auth {
    /// For these users (name to bcrypt hash); `None` without users.
    pub fn new(users: &BTreeMap<String, String>) -> Option<Auth> {
        let cost = users
            .values()
            .filter_map(|h| bcrypt::HashParts::from_str(h).ok())
            .map(|p| p.get_cost())
            .max()?;
        let dummy = bcrypt::hash("not a password of anyone", cost).ok()?;
        Some(Auth {
            users: users.clone(),
            dummy,
            cache: Mutex::new(HashSet::new()),
        })
    }

    fn key(user: &str, pass: &str, hash: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        for part in [user, pass, hash] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().into()
    }

    /// `Some(true)` if these credentials were verified before (no bcrypt
    /// needed), `None` if [`Auth::verify`] has to run.
    pub fn cached(&self, user: &str, pass: &str) -> Option<bool> {
        let hash = self.users.get(user)?;
        let k = Self::key(user, pass, hash);
        self.cache.lock().ok()?.contains(&k).then_some(true)
    }

    /// Verifies with bcrypt (slow: run it off the async threads).
    pub fn verify(&self, user: &str, pass: &str) -> bool {
        let Some(hash) = self.users.get(user) else {
            let _ = bcrypt::verify(pass, &self.dummy);
            return false;
        };
        if !bcrypt::verify(pass, hash).unwrap_or(false) {
            return false;
        }
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= CACHE_MAX {
                c.clear();
            }
            c.insert(Self::key(user, pass, hash));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_users_and_tls() {
        let h = bcrypt::hash("secret", 4).unwrap();
        let text = format!(
            "tls_server_config:\n  cert_file: a.crt\n  key_file: /k/a.key\nbasic_auth_users:\n  prom: '{h}'\n"
        );
        let c = parse(&text, Path::new("/etc/x")).unwrap();
        assert_eq!(c.users["prom"], h);
        assert_eq!(
            c.tls,
            Some(Tls {
                cert_file: "/etc/x/a.crt".into(),
                key_file: "/k/a.key".into()
            })
        );
        assert_eq!(parse("", Path::new("/")).unwrap(), WebConfig::default());
        assert_eq!(
            parse("# nothing\n", Path::new("/")).unwrap(),
            WebConfig::default()
        );
    }

    #[test]
    fn refuses_what_it_does_not_support() {
        let e = parse("http_server_config:\n  http2: false\n", Path::new("/")).unwrap_err();
        assert!(e.contains("http_server_config"), "{e}");
        let e = parse(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n",
            Path::new("/"),
        )
        .unwrap_err();
        assert!(e.contains("client_auth_type"), "{e}");
        let e = parse("basic_auth_users:\n  prom: secret\n", Path::new("/")).unwrap_err();
        assert!(e.contains("not a bcrypt hash"), "{e}");
        assert!(e.contains("htpasswd"), "{e}");
        assert!(parse("basic_auth_users: [a]\n", Path::new("/")).is_err());
    }

    #[test]
    fn basic_header() {
        assert_eq!(
            basic_credentials(b"Basic cHJvbTpzM2NyZXQ6eA=="),
            Some(("prom".into(), "s3cret:x".into()))
        );
        assert_eq!(basic_credentials(b"Bearer abc"), None);
        assert_eq!(basic_credentials(b"Basic !!!"), None);
        assert_eq!(basic_credentials(b"Basic cHJvbQ=="), None);
    }

    #[test]
    fn verifies_and_caches_successes_only() {
        let mut users = BTreeMap::new();
        users.insert("prom".to_string(), bcrypt::hash("s3cret", 4).unwrap());
        let a = Auth::new(&users).unwrap();
        assert_eq!(a.cached("prom", "s3cret"), None);
        assert!(!a.verify("prom", "wrong"));
        assert!(!a.verify("nobody", "s3cret"));
        assert_eq!(a.cached("prom", "wrong"), None);
        assert!(a.verify("prom", "s3cret"));
        assert_eq!(a.cached("prom", "s3cret"), Some(true));
        assert_eq!(a.cached("prom", "s3cret2"), None);
        assert_eq!(a.cached("nobody", "s3cret"), None);
        assert!(Auth::new(&BTreeMap::new()).is_none());
    }
}
