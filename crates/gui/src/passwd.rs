//! The password file (`/etc/sysconfig/ha/conf/piranha.passwd`): Apache
//! htpasswd format, `USER:HASH` a line.
//!
//! Reading accepts every hash Apache's `htpasswd` writes: bcrypt (`$2y$`,
//! `$2b$`, `$2a$`), Apache MD5 (`$apr1$`), SHA-crypt (`$5$`, `$6$`), MD5
//! crypt (`$1$`), legacy DES crypt (13 characters) and `{SHA}`. The hashes
//! are computed by the `bcrypt`, `crypt3_rs` and `sha1` crates. A
//! plain-text password (htpasswd -p) is never accepted. New passwords are
//! stored as bcrypt (`$2y$`, cost [`COST`]).

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha1::Digest as _;
use subtle::ConstantTimeEq as _;

/// The default password file.
pub const DEFAULT_FILE: &str = "/etc/sysconfig/ha/conf/piranha.passwd";
/// The one user.
pub const USER: &str = "piranha";
/// bcrypt cost of new hashes.
pub const COST: u32 = 10;

/// The kinds of hash a password file can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `$2y$`, `$2b$`, `$2a$`.
    Bcrypt,
    /// `$apr1$`.
    Apr1,
    /// `$1$`.
    Md5Crypt,
    /// `$5$`.
    Sha256Crypt,
    /// `$6$`.
    Sha512Crypt,
    /// 13 characters of `[./0-9A-Za-z]`.
    DesCrypt,
    /// `{SHA}` and base64 of SHA-1.
    Sha1,
}

/// The scheme of `hash`, `None` for anything else (plain text included).
pub fn scheme(hash: &str) -> Option<Scheme> {
    let s = if ["$2y$", "$2b$", "$2a$"].iter().any(|p| hash.starts_with(p)) {
        Scheme::Bcrypt
    } else if hash.starts_with("$apr1$") {
        Scheme::Apr1
    } else if hash.starts_with("$1$") {
        Scheme::Md5Crypt
    } else if hash.starts_with("$5$") {
        Scheme::Sha256Crypt
    } else if hash.starts_with("$6$") {
        Scheme::Sha512Crypt
    } else if hash.starts_with("{SHA}") {
        Scheme::Sha1
    } else if hash.len() == 13
        && hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
    {
        Scheme::DesCrypt
    } else {
        return None;
    };
    Some(s)
}

/// Whether `password` matches `hash` (slow for bcrypt: run it off the
/// async threads).
pub fn verify(password: &str, hash: &str) -> bool {
    use crypt3_rs::crypt;
    match scheme(hash) {
        None => false,
        Some(Scheme::Bcrypt) => bcrypt::verify(password, hash).unwrap_or(false),
        Some(Scheme::Apr1) => crypt::apr1::verify(password, hash),
        Some(Scheme::Md5Crypt) => crypt::md5::verify(password, hash),
        Some(Scheme::Sha256Crypt) => crypt::sha256::verify(password, hash),
        Some(Scheme::Sha512Crypt) => crypt::sha512::verify(password, hash),
        Some(Scheme::DesCrypt) => crypt::unix::verify(password, hash),
        Some(Scheme::Sha1) => {
            let digest = sha1::Sha1::digest(password.as_bytes());
            let mine = base64::engine::general_purpose::STANDARD.encode(digest);
            mine.as_bytes()
                .ct_eq(&hash.as_bytes()["{SHA}".len()..])
                .into()
        }
    }
}

/// A new bcrypt hash of `password` (`$2y$`, as `htpasswd -B` writes).
pub fn hash(password: &str) -> Result<String, String> {
    bcrypt::hash_with_result(password, COST)
        .map(|h| h.format_for_version(bcrypt::Version::TwoY))
        .map_err(|e| e.to_string())
}

/// The users of a password file's text, in order: `(user, hash)`. Blank
/// lines, comments (`#`) and lines without `:` are skipped.
pub fn parse(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(u, h)| (u.trim().to_string(), h.trim().to_string()))
        .collect()
}

/// The hash of `user` in the text, if any.
pub fn lookup(text: &str, user: &str) -> Option<String> {
    parse(text)
        .into_iter()
        .find(|(u, _)| u == user)
        .map(|(_, h)| h)
}

/// `text` with `user`'s line replaced by (or, without one, followed by)
/// `user:hash`; every other line kept.
pub fn replace_user(text: &str, user: &str, hash: &str) -> String {
    let mut out = String::new();
    let mut done = false;
    for line in text.lines() {
        let is_user = line.split_once(':').is_some_and(|(u, _)| u.trim() == user);
        if is_user {
            if !done {
                out.push_str(&format!("{user}:{hash}\n"));
                done = true;
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !done {
        out.push_str(&format!("{user}:{hash}\n"));
    }
    out
}

/// Sets `user`'s hash in the file at `path`: written to a temporary file in
/// the same directory (mode 0600, the old file's owner and group when it
/// exists), synced, and renamed over the old one.
pub fn store(path: &Path, user: &str, hash: &str) -> Result<(), String> {
    store_as(path, user, hash, |o| o)
}

/// [`store`], the file's owner and group chosen by `owner` from the old
/// file's (`None`: no old file); `None` from it: the creator's.
pub fn store_as(
    path: &Path,
    user: &str,
    hash: &str,
    owner: impl FnOnce(Option<(u32, u32)>) -> Option<(u32, u32)>,
) -> Result<(), String> {
    let show = |e: std::io::Error| format!("{}: {e}", path.display());
    let (old, owner) = match std::fs::read_to_string(path) {
        Ok(t) => {
            let m = std::fs::metadata(path).map_err(show)?;
            (t, owner(Some((m.uid(), m.gid()))))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), owner(None)),
        Err(e) => return Err(show(e)),
    };
    let text = replace_user(&old, user, hash);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&f, Some(uid), Some(gid))?;
        }
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        show(e)
    })
}

/// The owner and group `piranha-passwd` gives the password file: run as
/// root (`euid` 0), a new file or one of root's goes to user `piranha`
/// (`piranha`: its uid and gid, when it exists), so that piranha_gui,
/// which runs as piranha, can read it (and CHANGE PASSWORD rewrite it);
/// any other owner is kept.
pub fn owner_for(
    existing: Option<(u32, u32)>,
    euid: u32,
    piranha: Option<(u32, u32)>,
) -> Option<(u32, u32)> {
    match existing {
        Some((0, _)) | None if euid == 0 => piranha.or(existing),
        _ => existing,
    }
}

/// User `piranha`'s uid and gid, when it exists.
pub fn piranha_ids() -> Option<(u32, u32)> {
    let name = std::ffi::CString::new(USER).ok()?;
    // SAFETY: getpwnam with a valid C string; the result is read at once
    // (piranha-passwd is single-threaded)
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return None;
    }
    // SAFETY: non-null result of getpwnam
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    Some((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made with `openssl passwd -apr1/-1/-5/-6 -salt saltsalt 'pir4nha!'`,
    // Python's crypt.crypt (libxcrypt) for DES and $2b$, and
    // `openssl dgst -sha1 -binary | base64` for {SHA}.
    const PW: &str = "pir4nha!";
    const VECTORS: [(&str, Scheme); 9] = [
        ("$apr1$saltsalt$Golc7VZFCY/J9iYNrpYdW1", Scheme::Apr1),
        ("$1$saltsalt$f1Is3DWeJLk6IFR0qhPqo1", Scheme::Md5Crypt),
        (
            "$5$saltsalt$ev23UwwcQHgkLN3cjkaX2nnV1gGE5965wqSlnYR0XI.",
            Scheme::Sha256Crypt,
        ),
        (
            "$6$saltsalt$4dX2k.f3oNpLYUnnfexEvw4rbbfsHS/w6tfi47nQY8li8ti/kYcguMSBdcUAZXKQW1.bl54uvzaR3YJ6O1lzy0",
            Scheme::Sha512Crypt,
        ),
        ("abBfGacTf4IZg", Scheme::DesCrypt),
        (
            "$2b$05$abcdefghijklmnopqrstuuVHVsoLUdEKXB/LlnLMFqpEz46DG19ge",
            Scheme::Bcrypt,
        ),
        // the same hash as htpasswd -B and PHP spell it
        (
            "$2y$05$abcdefghijklmnopqrstuuVHVsoLUdEKXB/LlnLMFqpEz46DG19ge",
            Scheme::Bcrypt,
        ),
        (
            "$2a$05$abcdefghijklmnopqrstuuVHVsoLUdEKXB/LlnLMFqpEz46DG19ge",
            Scheme::Bcrypt,
        ),
        ("{SHA}d25IzV/evjfy+HmPLunCdVze84c=", Scheme::Sha1),
    ];

    #[test]
    fn every_htpasswd_format_verifies() {
        for (h, s) in VECTORS {
            assert_eq!(scheme(h), Some(s), "{h}");
            assert!(verify(PW, h), "{h} should accept the password");
            assert!(!verify("pir4nha?", h), "{h} accepted a wrong password");
            assert!(!verify("", h), "{h} accepted an empty password");
        }
    }

    #[test]
    fn plain_text_and_garbage_are_refused() {
        assert_eq!(scheme(PW), None);
        assert!(!verify(PW, PW));
        assert!(!verify("", ""));
        assert!(!verify("x", "$2y$05$short"));
        assert!(!verify("x", "$6$"));
        assert!(!verify("x", "{SHA}"));
    }

    #[test]
    fn new_hashes_are_bcrypt_2y() {
        let h = hash("s3cret").unwrap();
        assert!(h.starts_with("$2y$10$"), "{h}");
        assert!(verify("s3cret", &h));
        assert!(!verify("s3cret2", &h));
    }

    #[test]
    fn file_text() {
        let t = "# comment\nadmin:{SHA}x\r\npiranha:$apr1$a$b\n\nbroken\n";
        assert_eq!(lookup(t, "piranha").as_deref(), Some("$apr1$a$b"));
        assert_eq!(lookup(t, "nobody"), None);
        assert_eq!(
            replace_user(t, "piranha", "NEW"),
            "# comment\nadmin:{SHA}x\npiranha:NEW\n\nbroken\n"
        );
        assert_eq!(replace_user("", "piranha", "H"), "piranha:H\n");
        assert_eq!(replace_user("a:b", "piranha", "H"), "a:b\npiranha:H\n");
    }

    #[test]
    fn root_gives_a_new_or_roots_file_to_piranha() {
        let p = Some((990, 990));
        assert_eq!(owner_for(None, 0, p), p);
        assert_eq!(owner_for(Some((0, 0)), 0, p), p);
        assert_eq!(owner_for(Some((1000, 1000)), 0, p), Some((1000, 1000)));
        assert_eq!(owner_for(Some((0, 0)), 0, None), Some((0, 0)));
        assert_eq!(owner_for(None, 0, None), None);
        assert_eq!(owner_for(None, 990, p), None, "not root: the creator's");
        assert_eq!(owner_for(Some((990, 990)), 990, p), Some((990, 990)));
    }
}
