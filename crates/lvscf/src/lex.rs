//! Lines and tokens (lvs-cf.md §2–§3, with the gaps.md B1/B2/B11 fixes).
//!
//! Lines end at LF, CRLF or a lone CR (the original ends a line at any CR;
//! CRLF is one terminator here, B1). A line's trailing blanks are dropped
//! before tokenising (B2). Tokens are separated by runs of blanks (space or
//! tab only); there is no token limit (B11). Quoted tokens follow the
//! original's rule exactly (see [`tokenize`]).

/// One token of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    /// The text, quotes removed.
    pub text: &'a [u8],
    /// The quote character (`"` or `'`) if the token was quoted.
    pub quote: Option<u8>,
}

/// Why a line could not be tokenised (always `quotation mismatch`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum QuoteError {
    /// No closing quote after the opening one.
    Unterminated {
        /// The quote character.
        quote: u8,
        /// The text from the opening quote to the end of the line.
        rest: Vec<u8>,
    },
    /// A quoted word without blanks that does not end the line
    /// (`virtual "web" {`): the original only accepts it at the end.
    NotAtEnd {
        /// The quoted word as written, quotes included.
        word: Vec<u8>,
    },
}

/// True for the C `isblank` characters.
pub(crate) fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Iterates over the lines of a buffer as `(line number, content)`, the
/// content without its terminator.
pub(crate) struct Lines<'a> {
    buf: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Lines<'a> {
        Lines {
            buf,
            pos: 0,
            line: 0,
        }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<(usize, &'a [u8])> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let rest = &self.buf[self.pos..];
        self.line += 1;
        match memchr::memchr2(b'\n', b'\r', rest) {
            Some(i) => {
                let skip = if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                self.pos += i + skip;
                Some((self.line, &rest[..i]))
            }
            None => {
                self.pos = self.buf.len();
                Some((self.line, rest))
            }
        }
    }
}

/// Splits one line into `out` (cleared first). Blank and comment lines give
/// no tokens.
///
/// Quoted tokens (starting with `"` or `'`, the original's rule): find the
/// first blank after the opening quote (or the end of the line) and search
/// from there for the same quote character. If the quoted text has a blank,
/// the token ends at that quote and tokenising goes on after it. If it has
/// none, the line's last character must be the quote and the token is
/// everything in between (so `"say"hi"` is `say"hi`).
pub(crate) fn tokenize<'a>(line: &'a [u8], out: &mut Vec<Token<'a>>) -> Result<(), QuoteError> {
    out.clear();
    let mut end = line.len();
    while end > 0 && is_blank(line[end - 1]) {
        end -= 1;
    }
    let line = &line[..end];
    let mut p = 0;
    while p < line.len() && is_blank(line[p]) {
        p += 1;
    }
    if p == line.len() || line[p] == b'#' {
        return Ok(());
    }
    while p < line.len() {
        let word_end = memchr::memchr2(b' ', b'\t', &line[p..]).map_or(line.len(), |i| p + i);
        let (token, next) = match line[p] {
            q @ (b'"' | b'\'') => {
                let start = p + 1;
                if word_end == line.len() {
                    if line.len() > start && line[line.len() - 1] == q {
                        (
                            Token {
                                text: &line[start..line.len() - 1],
                                quote: Some(q),
                            },
                            line.len(),
                        )
                    } else {
                        return Err(QuoteError::Unterminated {
                            quote: q,
                            rest: line[p..].to_vec(),
                        });
                    }
                } else {
                    match memchr::memchr(q, &line[word_end..]) {
                        Some(i) => {
                            let close = word_end + i;
                            (
                                Token {
                                    text: &line[start..close],
                                    quote: Some(q),
                                },
                                close + 1,
                            )
                        }
                        None => {
                            let word = &line[p..word_end];
                            return Err(if word.len() >= 2 && word[word.len() - 1] == q {
                                QuoteError::NotAtEnd {
                                    word: word.to_vec(),
                                }
                            } else {
                                QuoteError::Unterminated {
                                    quote: q,
                                    rest: line[p..].to_vec(),
                                }
                            });
                        }
                    }
                }
            }
            _ => (
                Token {
                    text: &line[p..word_end],
                    quote: None,
                },
                word_end,
            ),
        };
        out.push(token);
        p = next;
        while p < line.len() && is_blank(line[p]) {
            p += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(line: &str) -> Result<Vec<(String, Option<char>)>, QuoteError> {
        let mut out = Vec::new();
        tokenize(line.as_bytes(), &mut out)?;
        Ok(out
            .iter()
            .map(|t| {
                (
                    String::from_utf8_lossy(t.text).into_owned(),
                    t.quote.map(char::from),
                )
            })
            .collect())
    }

    fn texts(line: &str) -> Vec<String> {
        toks(line).unwrap().into_iter().map(|t| t.0).collect()
    }

    #[test]
    fn lines_split_on_lf_crlf_and_cr() {
        let l: Vec<_> = Lines::new(b"a\nb\r\nc\rd").collect();
        assert_eq!(
            l,
            vec![
                (1, &b"a"[..]),
                (2, &b"b"[..]),
                (3, &b"c"[..]),
                (4, &b"d"[..])
            ]
        );
        let l: Vec<_> = Lines::new(b"a\n\n").collect();
        assert_eq!(l, vec![(1, &b"a"[..]), (2, &b""[..])]);
        assert_eq!(Lines::new(b"").count(), 0);
    }

    #[test]
    fn plain_tokens() {
        assert_eq!(texts("  keepalive =\t6  "), ["keepalive", "=", "6"]);
        assert_eq!(texts("keepalive=6"), ["keepalive=6"]);
        assert_eq!(texts("a = b # c"), ["a", "=", "b", "#", "c"]);
        assert!(texts("   # comment").is_empty());
        assert!(texts(" \t ").is_empty());
        assert_eq!(texts("a\x0bb = c"), ["a\x0bb", "=", "c"]);
    }

    #[test]
    fn quoted_with_blank_ends_at_first_quote_after_blank() {
        assert_eq!(
            toks(r#"send = "GET / HTTP/1.0\r\n\r\n""#).unwrap()[2],
            (r"GET / HTTP/1.0\r\n\r\n".to_string(), Some('"'))
        );
        assert_eq!(
            texts(r#"virtual "web farm" {"#),
            ["virtual", "web farm", "{"]
        );
        assert_eq!(texts(r#"x = "a"b c" d"#), ["x", "=", "a\"b c", "d"]);
        assert_eq!(texts(r#"x = "a b"c"#), ["x", "=", "a b", "c"]);
        assert_eq!(texts("x = ' '"), ["x", "=", " "]);
    }

    #[test]
    fn quoted_without_blank_must_end_the_line() {
        assert_eq!(texts(r#"send = "abc""#), ["send", "=", "abc"]);
        assert_eq!(texts(r#"expect = "say"hi""#), ["expect", "=", "say\"hi"]);
        assert_eq!(texts(r#"x = """#), ["x", "=", ""]);
        // Trailing blanks are dropped first (B2).
        assert_eq!(texts("send = \"abc\"  \t"), ["send", "=", "abc"]);
        assert!(matches!(
            toks(r#"virtual "web" {"#),
            Err(QuoteError::NotAtEnd { .. })
        ));
        assert!(matches!(
            toks(r#"name = "abc" x"#),
            Err(QuoteError::NotAtEnd { .. })
        ));
        // The original finds a later quote after the blank.
        assert_eq!(texts(r#"name = "abc" x""#), ["name", "=", "abc\" x"]);
    }

    #[test]
    fn unterminated_quotes() {
        for l in [r#"x = "abc"#, "x = 'a b", r#"x = ""#, r#"x = "a"b"#] {
            assert!(
                matches!(toks(l), Err(QuoteError::Unterminated { .. })),
                "{l}"
            );
        }
    }
}
