//! Backslash escapes in `-s`/`-x` strings (lvs-cf.md §3.3).
//!
//! Local copy until `crates/lvscf` exports the shared translation; replace it
//! then (one copy only).

/// Result of translating one string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    /// The translated bytes.
    pub bytes: Vec<u8>,
    /// True if an unknown sequence or a trailing lone backslash was left
    /// unchanged (gaps.md B4: warn once, never hang).
    pub unknown: bool,
}

/// Translates `\n \r \t \\ \' \"`; strings of length 0 or 1 are returned as
/// they are; any other backslash sequence is kept unchanged.
pub fn translate(input: &[u8]) -> Translated {
    if input.len() < 2 {
        return Translated {
            bytes: input.to_vec(),
            unknown: false,
        };
    }
    let mut bytes = Vec::with_capacity(input.len());
    let mut unknown = false;
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b != b'\\' {
            bytes.push(b);
            i += 1;
            continue;
        }
        let mapped = match input.get(i + 1) {
            Some(b'n') => Some(b'\n'),
            Some(b'r') => Some(b'\r'),
            Some(b't') => Some(b'\t'),
            Some(b'\\') => Some(b'\\'),
            Some(b'\'') => Some(b'\''),
            Some(b'"') => Some(b'"'),
            _ => None,
        };
        match mapped {
            Some(m) => {
                bytes.push(m);
                i += 2;
            }
            None => {
                unknown = true;
                bytes.push(b'\\');
                i += 1;
            }
        }
    }
    Translated { bytes, unknown }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_sequences() {
        let t = translate(br#"GET / HTTP/1.0\r\n\r\n\t\\\'\""#);
        assert_eq!(t.bytes, b"GET / HTTP/1.0\r\n\r\n\t\\'\"");
        assert!(!t.unknown);
    }

    #[test]
    fn unknown_kept_and_flagged() {
        let t = translate(br"HTTP/1\.1");
        assert_eq!(t.bytes, br"HTTP/1\.1");
        assert!(t.unknown);
        let t = translate(br"abc\");
        assert_eq!(t.bytes, br"abc\");
        assert!(t.unknown);
        // `\\.` is an escaped backslash followed by a dot.
        let t = translate(br"a\\.b");
        assert_eq!(t.bytes, br"a\.b");
        assert!(!t.unknown);
    }

    #[test]
    fn short_strings_untouched() {
        assert_eq!(translate(b"").bytes, b"");
        assert_eq!(translate(br"\").bytes, br"\");
        assert!(!translate(br"\").unknown);
    }
}
