//! POSIX extended regular expressions (`regcomp`/`regexec` from the C
//! library), as the original's `--regex`: compiled once, not anchored,
//! matched against the reply up to its first NUL byte.

use std::ffi::CString;

/// A compiled `REG_EXTENDED` expression.
pub struct PosixRegex {
    re: Box<libc::regex_t>,
}

impl std::fmt::Debug for PosixRegex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PosixRegex")
    }
}

impl PosixRegex {
    /// Compiles `pattern`; the error is `regerror`'s text (the pattern is cut
    /// at a NUL byte, as C would).
    pub fn new(pattern: &[u8]) -> Result<PosixRegex, String> {
        let cut = pattern.split(|&b| b == 0).next().unwrap_or_default();
        let c = CString::new(cut).map_err(|e| e.to_string())?;
        // SAFETY: regex_t is plain data that regcomp initialises.
        let mut re: Box<libc::regex_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: valid regex_t and C string.
        let rc = unsafe { libc::regcomp(&mut *re, c.as_ptr(), libc::REG_EXTENDED) };
        if rc != 0 {
            let mut buf = [0u8; 256];
            // SAFETY: buffer and its length; regerror NUL-terminates.
            unsafe { libc::regerror(rc, &*re, buf.as_mut_ptr().cast(), buf.len()) };
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            // regfree is not needed after a failed regcomp.
            std::mem::forget(re);
            return Err(String::from_utf8_lossy(&buf[..end]).into_owned());
        }
        Ok(PosixRegex { re })
    }

    /// True if the expression matches somewhere in `text` before its first NUL.
    pub fn is_match(&self, text: &[u8]) -> bool {
        let cut = text.split(|&b| b == 0).next().unwrap_or_default();
        let Ok(c) = CString::new(cut) else {
            return false;
        };
        // SAFETY: compiled regex and C string; no match array requested.
        unsafe { libc::regexec(&*self.re, c.as_ptr(), 0, std::ptr::null_mut(), 0) == 0 }
    }
}

impl Drop for PosixRegex {
    fn drop(&mut self) {
        // SAFETY: compiled by regcomp and not yet freed.
        unsafe { libc::regfree(&mut *self.re) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_syntax_unanchored() {
        let r = PosixRegex::new(br"HTTP/1\.[01] (200|302)").unwrap();
        assert!(r.is_match(b"HTTP/1.1 200 OK\r\n"));
        assert!(r.is_match(b"xx HTTP/1.0 302 Found"));
        assert!(!r.is_match(b"HTTP/1x1 200"));
        let r = PosixRegex::new(b"^[[:digit:]]+$").unwrap();
        assert!(r.is_match(b"12345"));
        assert!(!r.is_match(b"12a"));
    }

    #[test]
    fn text_after_nul_is_ignored() {
        let r = PosixRegex::new(b"OK").unwrap();
        assert!(!r.is_match(b"\0OK"));
        assert!(r.is_match(b"OK\0junk"));
    }

    #[test]
    fn compile_errors_have_regerror_text() {
        let e = PosixRegex::new(b"a(b").unwrap_err();
        assert_eq!(e, "Unmatched ( or \\(");
        let e = PosixRegex::new(b"[z-a]").unwrap_err();
        assert_eq!(e, "Invalid range end");
    }
}
