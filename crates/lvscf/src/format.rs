//! Layout-preserving formatting for `lvscf fmt`: the admin's order, values
//! and comments stay; only the layout becomes canonical.
//!
//! Canonical layout: LF line ends; statements as their tokens joined by one
//! space (quoted tokens keep their quote character and inner text, so the
//! original tokenizer reads each line back to the same tokens); four spaces
//! of indentation per open block, comments included; no blank lines at the
//! start or end, after a block opener or before a `}`, and no runs of them;
//! blocks left open at the end of the file are closed. Words after a `}`,
//! which the parser ignores with a warning, are dropped.
//!
//! Format only text that parses: the output of a valid file parses to the
//! same model, and formatting is idempotent.

use crate::lex::{Lines, Token, is_blank, tokenize};

const INDENT: &[u8] = b"    ";

/// True if `t` is the unquoted word `w`.
fn is_word(t: &Token<'_>, w: &[u8]) -> bool {
    t.quote.is_none() && t.text == w
}

/// True if the tokens open a block (`virtual|failover|server NAME {`).
fn opens_block(toks: &[Token<'_>]) -> bool {
    toks.len() == 3
        && is_word(&toks[2], b"{")
        && [&b"virtual"[..], b"failover", b"server"]
            .iter()
            .any(|k| is_word(&toks[0], k))
}

fn push_token(out: &mut Vec<u8>, t: &Token<'_>) {
    match t.quote {
        Some(q) => {
            out.push(q);
            out.extend_from_slice(t.text);
            out.push(q);
        }
        None => out.extend_from_slice(t.text),
    }
}

fn trim_blanks(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|&b| !is_blank(b))
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|&b| !is_blank(b))
        .map_or(start, |i| i + 1);
    &line[start..end]
}

/// The text of a valid lvs.cf file in canonical layout (see the module
/// docs). Lines that do not tokenize, which a file that parsed has none of,
/// are kept as they are, trimmed.
pub fn format(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut depth = 0usize;
    let mut blank = false;
    let mut after_opener = false;
    let mut toks = Vec::new();
    let indent = |out: &mut Vec<u8>, depth: usize| {
        for _ in 0..depth {
            out.extend_from_slice(INDENT);
        }
    };
    for (_, line) in Lines::new(bytes) {
        let text = trim_blanks(line);
        if text.is_empty() {
            blank = !out.is_empty() && !after_opener;
            continue;
        }
        let parsed = text[0] != b'#' && tokenize(text, &mut toks).is_ok();
        let closes = parsed && toks.first().is_some_and(|t| is_word(t, b"}"));
        if closes {
            depth = depth.saturating_sub(1);
        } else if blank {
            out.push(b'\n');
        }
        blank = false;
        indent(&mut out, depth);
        if closes {
            out.push(b'}');
        } else if parsed {
            for (i, t) in toks.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                push_token(&mut out, t);
            }
        } else {
            out.extend_from_slice(text);
        }
        out.push(b'\n');
        after_opener = parsed && opens_block(&toks);
        if after_opener {
            depth += 1;
        }
    }
    while depth > 0 {
        depth -= 1;
        indent(&mut out, depth);
        out.extend_from_slice(b"}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(s: &str) -> String {
        String::from_utf8(format(s.as_bytes())).unwrap()
    }

    #[test]
    fn keeps_comments_order_and_values() {
        let messy = "\n\n# head\r\n  keepalive   =\t0x6  # no\r\n\r\n\r\nvirtual \"web farm\" {\r\n\r\n  # inner\r\n server a {\r\n }\r\n port = http \r\n send = 'GET /'\r\n\r\n}  junk\r\n\n";
        assert_eq!(
            fmt(messy),
            "# head\nkeepalive = 0x6 # no\n\nvirtual \"web farm\" {\n    # inner\n    server a {\n    }\n    port = http\n    send = 'GET /'\n}\n"
        );
    }

    #[test]
    fn quoted_tokens_keep_their_quotes_and_inner_text() {
        assert_eq!(
            fmt("send  =  \"GET  /\\r\\n\"\nexpect = 'a b' \n"),
            "send = \"GET  /\\r\\n\"\nexpect = 'a b'\n"
        );
        assert_eq!(fmt("expect = \"say\"hi\"\n"), "expect = \"say\"hi\"\n");
    }

    #[test]
    fn closes_open_blocks_and_is_idempotent() {
        let once = fmt("virtual v {\nserver s {\naddress = 1.2.3.4");
        assert_eq!(
            once,
            "virtual v {\n    server s {\n        address = 1.2.3.4\n    }\n}\n"
        );
        assert_eq!(fmt(&once), once);
    }

    #[test]
    fn empty_and_comment_only_files() {
        assert_eq!(fmt(""), "");
        assert_eq!(fmt("\n \t\n"), "");
        assert_eq!(fmt("#a\n\n\n#b"), "#a\n\n#b\n");
    }
}
