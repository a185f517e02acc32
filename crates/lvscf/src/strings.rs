//! What the daemons do to string values after parsing: quote stripping
//! (lvsd/fos `strip_quotes`, lvs-cf.md §3.2) and nanny's backslash-escape
//! translation for send/expect strings (§3.3, gaps.md B3/B4).

use std::fmt;

/// How [`strip_quotes`] treats single quotes (gaps.md B3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum QuoteMode {
    /// The fix (default): a value wrapped in a matching pair of single
    /// quotes loses them too, so `send = 'GET /'` sends `GET /`.
    #[default]
    StripSingle,
    /// The original: only double quotes are stripped; single quotes stay
    /// and are sent/executed literally.
    KeepSingle,
}

impl QuoteMode {
    /// [`QuoteMode::KeepSingle`] with the `--keep-single-quotes` flag,
    /// otherwise [`QuoteMode::StripSingle`].
    pub fn from_flag(keep_single_quotes: bool) -> QuoteMode {
        if keep_single_quotes {
            QuoteMode::KeepSingle
        } else {
            QuoteMode::StripSingle
        }
    }
}

/// How a supervisor's own flags shape the nanny command lines it builds
/// (lvsd and fos alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NannyFlags {
    /// The supervisor runs with `--nodaemon`: nannies get `--nodaemon` too.
    pub nodaemon: bool,
    /// The supervisor runs with `-v`: nannies get `-v`.
    pub verbose: bool,
    /// How quotes are stripped from `send`, `expect`, `send_program` and
    /// the commands (gaps.md B3).
    pub quotes: QuoteMode,
}

/// Strips quotes the way lvsd/fos do before passing a value on: a leading
/// `"` is dropped if present and, independently, a trailing `"` is dropped if
/// present (REVIEW.md item 16; so `"abc` and `abc"` both become `abc`).
/// With [`QuoteMode::StripSingle`] a value that starts and ends with `'`
/// (two characters or more) loses both single quotes instead.
pub fn strip_quotes(value: &str, mode: QuoteMode) -> &str {
    if mode == QuoteMode::StripSingle
        && value.len() >= 2
        && value.starts_with('\'')
        && value.ends_with('\'')
    {
        return &value[1..value.len() - 1];
    }
    let v = value.strip_prefix('"').unwrap_or(value);
    v.strip_suffix('"').unwrap_or(v)
}

/// A backslash sequence nanny does not know, left unchanged (gaps.md B4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EscapeWarning {
    /// Byte offset of the backslash in the input.
    pub offset: usize,
    /// The sequence as written: `\` plus the next byte, or `\` alone at the
    /// end of the string.
    pub sequence: Vec<u8>,
}

impl fmt::Display for EscapeWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sequence.len() == 1 {
            write!(
                f,
                "trailing backslash at offset {} left unchanged",
                self.offset
            )
        } else {
            write!(
                f,
                "unknown escape sequence \\{} at offset {} left unchanged",
                char::from(self.sequence[1]).escape_debug(),
                self.offset
            )
        }
    }
}

/// The result of [`translate_escapes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    /// The translated bytes.
    pub bytes: Vec<u8>,
    /// Unknown sequences (and a trailing lone backslash) that were kept.
    /// The original nanny hangs on these; the caller logs a warning once.
    pub warnings: Vec<EscapeWarning>,
}

impl Translated {
    /// True if some sequence was unknown.
    pub fn has_unknown(&self) -> bool {
        !self.warnings.is_empty()
    }
}

/// Translates nanny's escapes: `\n` `\r` `\t` `\\` `\'` `\"`. Strings of
/// length 0 or 1 are returned unchanged (as the original). Any other
/// backslash sequence, and a trailing lone backslash, is left unchanged and
/// reported (gaps.md B4: never hang).
pub fn translate_escapes(input: &[u8]) -> Translated {
    let mut warnings = Vec::new();
    if input.len() < 2 {
        return Translated {
            bytes: input.to_vec(),
            warnings,
        };
    }
    let mut bytes = Vec::with_capacity(input.len());
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
                let end = (i + 2).min(input.len());
                warnings.push(EscapeWarning {
                    offset: i,
                    sequence: input[i..end].to_vec(),
                });
                bytes.push(b'\\');
                i += 1;
            }
        }
    }
    Translated { bytes, warnings }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_quotes_is_independent_at_each_end() {
        let k = QuoteMode::KeepSingle;
        assert_eq!(strip_quotes("\"abc\"", k), "abc");
        assert_eq!(strip_quotes("\"abc", k), "abc");
        assert_eq!(strip_quotes("abc\"", k), "abc");
        assert_eq!(strip_quotes("\"", k), "");
        assert_eq!(strip_quotes("\"\"", k), "");
        assert_eq!(strip_quotes("abc", k), "abc");
        assert_eq!(strip_quotes("'GET /'", k), "'GET /'");
    }

    #[test]
    fn strip_single_quotes_only_as_a_pair() {
        let s = QuoteMode::StripSingle;
        assert_eq!(strip_quotes("'GET /'", s), "GET /");
        assert_eq!(strip_quotes("''", s), "");
        assert_eq!(strip_quotes("'", s), "'");
        assert_eq!(strip_quotes("'abc", s), "'abc");
        assert_eq!(strip_quotes("\"abc\"", s), "abc");
        assert_eq!(strip_quotes("\"it's\"", s), "it's");
        assert_eq!(QuoteMode::default(), QuoteMode::StripSingle);
        assert_eq!(QuoteMode::from_flag(false), QuoteMode::StripSingle);
        assert_eq!(QuoteMode::from_flag(true), QuoteMode::KeepSingle);
    }

    #[test]
    fn known_escapes() {
        let t = translate_escapes(br#"GET / HTTP/1.0\r\n\r\n"#);
        assert_eq!(t.bytes, b"GET / HTTP/1.0\r\n\r\n");
        assert!(!t.has_unknown());
        let t = translate_escapes(br#"a\tb\\c\'d\"e"#);
        assert_eq!(t.bytes, b"a\tb\\c'd\"e");
        assert!(t.warnings.is_empty());
    }

    #[test]
    fn short_strings_are_untouched() {
        assert_eq!(translate_escapes(b"").bytes, b"");
        assert_eq!(translate_escapes(b"\\").bytes, b"\\");
        assert!(translate_escapes(b"\\").warnings.is_empty());
    }

    #[test]
    fn unknown_sequences_are_kept_and_reported() {
        let t = translate_escapes(br"HTTP/1\.1");
        assert_eq!(t.bytes, br"HTTP/1\.1");
        assert_eq!(
            t.warnings,
            vec![EscapeWarning {
                offset: 6,
                sequence: br"\.".to_vec()
            }]
        );
        assert_eq!(
            t.warnings[0].to_string(),
            r"unknown escape sequence \. at offset 6 left unchanged"
        );
        let t = translate_escapes(br"ab\");
        assert_eq!(t.bytes, br"ab\");
        assert_eq!(t.warnings[0].sequence, b"\\");
        assert_eq!(
            t.warnings[0].to_string(),
            "trailing backslash at offset 2 left unchanged"
        );
        // `\\` pairs first: `\\x` is a backslash then `x`, no warning.
        let t = translate_escapes(br"\\x");
        assert_eq!(t.bytes, br"\x");
        assert!(t.warnings.is_empty());
    }
}
