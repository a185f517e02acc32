//! Editing lvs.cf text while keeping its layout: what the web tool saves
//! through.
//!
//! An [`Op`] changes the file's text, not a model regenerated from it:
//! every line the operation does not touch stays byte-identical (comments,
//! order, blank lines, quoting, indentation, CRLF line ends). [`apply`]
//! reports which lines of the old text it replaced ([`Change`]).
//!
//! Layout rules:
//!
//! * **Set** replaces the key's line (`INDENT KEY = VALUE`, the line's
//!   indentation and line end kept). When a key occurs more than once in a
//!   section the last occurrence is the one the parser keeps, so that one is
//!   changed. A missing key is inserted after the section's last key line
//!   that comes before its first nested block (so a virtual server's `port`
//!   stays above its `server` blocks, whose default port it is), with that
//!   line's indentation; a section without keys gets it right after its
//!   opening line, one indentation step in. A missing global key goes after
//!   the last global key above the first block.
//! * **Remove** deletes every line of the key in the section (an earlier
//!   duplicate would otherwise become the value).
//! * **AddBlock** puts the block after its last sibling (the last `virtual`,
//!   `failover`, or `server` of that virtual server), or, without one, at
//!   the end of the file (a `server`: before its virtual server's `}`). A
//!   top-level block is separated by one blank line. Indentation is copied
//!   from the sibling, or else from the file.
//! * **DeleteBlock** deletes the block from its opening line to its `}`,
//!   together with the comment lines directly above it (no blank line in
//!   between): that is where an admin writes what a block is for, and a
//!   comment left behind would describe the next block. A comment separated
//!   by a blank line stays. One of two blank lines left next to each other
//!   goes too, so the blocks around it keep their spacing.
//! * **Rename** rewrites the opening line (`INDENT KEYWORD NAME {`).
//! * **SetActive** is Set of `active` to `1` or `0`.
//!
//! Values are written as lvs.cf needs them, quoted only when necessary,
//! with the writer's quoting rules ([`crate::write`]). For `send`,
//! `expect`, `send_program`, `start_cmd` and `stop_cmd` the value is the
//! text the daemon gets; one already quoted at both ends with the same
//! quote is written as it is (the model's spelling of those keys). The
//! multi-word keys take their words separated by blanks: `address` of a
//! virtual or failover block, `nat_router` and `nat_router6` (`ADDRESS DEVICE`), and
//! `dirs` (the list items, without brackets).
//!
//! Blocks are found by kind and name; when two blocks of a kind share a
//! name (the parser accepts that), the first in the file is the one
//! edited.
//!
//! New lines use the line end of the line above them (so a CRLF file gets
//! CRLF lines), at the top of the file that of its first line, LF for a
//! file of one line without one. A file without a final line end keeps
//! lacking one. (In a file that mixes lone CRs with LFs, a deletion that
//! would bring a lone CR next to an empty LF line, merging them into one
//! CRLF, turns that CR into CRLF instead.)

use std::fmt;

use crate::lex::{is_blank, tokenize};
use crate::write::{Pos, requoted_token, token};

/// Where a key lives: the top level or one block.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Section {
    /// Top-level (global) keys.
    Global,
    /// `virtual NAME { … }`.
    Virtual(String),
    /// `failover NAME { … }`.
    Failover(String),
    /// `server NAME { … }` inside `virtual VIRTUAL { … }`: (VIRTUAL, NAME).
    Server(String, String),
}

impl Section {
    /// `virtual NAME`.
    pub fn virtual_(name: impl Into<String>) -> Section {
        Section::Virtual(name.into())
    }
    /// `failover NAME`.
    pub fn failover(name: impl Into<String>) -> Section {
        Section::Failover(name.into())
    }
    /// `server NAME` of `virtual VIRTUAL`.
    pub fn server(virtual_name: impl Into<String>, name: impl Into<String>) -> Section {
        Section::Server(virtual_name.into(), name.into())
    }
    /// The block's own name (`None` for [`Section::Global`]).
    pub fn name(&self) -> Option<&str> {
        match self {
            Section::Global => None,
            Section::Virtual(n) | Section::Failover(n) | Section::Server(_, n) => Some(n),
        }
    }
}

impl fmt::Display for Section {
    /// `global`, `virtual "www"`, `server "web1" of virtual "www"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Section::Global => f.write_str("global"),
            Section::Virtual(n) => write!(f, "virtual {n:?}"),
            Section::Failover(n) => write!(f, "failover {n:?}"),
            Section::Server(v, n) => write!(f, "server {n:?} of virtual {v:?}"),
        }
    }
}

/// One change to lvs.cf text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Set `key = value` in a section (added when absent).
    Set {
        /// Where.
        section: Section,
        /// The key, e.g. `weight`.
        key: String,
        /// The value (see the module documentation for quoting).
        value: String,
    },
    /// Remove every `key` line of a section.
    Remove {
        /// Where.
        section: Section,
        /// The key.
        key: String,
    },
    /// Add a block (not [`Section::Global`]) with these keys in this order.
    AddBlock {
        /// The new block.
        block: Section,
        /// Its keys and values.
        keys: Vec<(String, String)>,
    },
    /// Delete a block (a virtual server with its real servers).
    DeleteBlock {
        /// The block.
        block: Section,
    },
    /// Give a block a new name.
    Rename {
        /// The block.
        block: Section,
        /// Its new name.
        name: String,
    },
    /// Set a block's `active` to 1 or 0.
    SetActive {
        /// The block.
        block: Section,
        /// Activate (true) or deactivate.
        active: bool,
    },
}

/// Why an edit could not be made. `Display` names the file:
/// `virtual "www" not in lvs.cf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditError {
    /// The file name given to [`apply`].
    pub file: String,
    /// What went wrong.
    pub kind: EditErrorKind,
}

/// What went wrong in an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditErrorKind {
    /// The block is not in the file.
    NoSuchBlock(Section),
    /// The key is not in the section (Remove).
    NoSuchKey(Section, String),
    /// A block of that kind and name is already there (AddBlock, Rename).
    Exists(Section),
    /// The operation needs a block, not [`Section::Global`].
    NotABlock,
    /// The block has no closing `}` (a server cannot be added to it).
    Unclosed(Section),
    /// The key is not a word lvs.cf can hold as a key.
    BadKey(String),
    /// The value (or name) has no lvs.cf spelling: (key, reason).
    Unwritable(String, String),
    /// `serial_no` is not a number, or is at its maximum.
    BadSerial(String),
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = &self.file;
        match &self.kind {
            EditErrorKind::NoSuchBlock(s) => write!(f, "{s} not in {file}"),
            EditErrorKind::NoSuchKey(s, k) => write!(f, "{k} not in {s} of {file}"),
            EditErrorKind::Exists(s) => write!(f, "{s} already in {file}"),
            EditErrorKind::NotABlock => write!(f, "{file}: expected a block, found global"),
            EditErrorKind::Unclosed(s) => write!(f, "{s} in {file} has no closing \"}}\""),
            EditErrorKind::BadKey(k) => {
                write!(f, "{file}: expected a key (one word), found {k:?}")
            }
            EditErrorKind::Unwritable(k, r) => write!(f, "{file}: {k}: cannot write it: {r}"),
            EditErrorKind::BadSerial(r) => write!(f, "{file}: serial_no: {r}"),
        }
    }
}

impl std::error::Error for EditError {}

/// Lines of the old text an edit replaced: `removed` lines from `line`
/// (1-based; one past the last line for an insertion at the end) were
/// replaced by `inserted` new lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// First old line (1-based).
    pub line: usize,
    /// Old lines removed.
    pub removed: usize,
    /// New lines in their place.
    pub inserted: usize,
}

/// The text after an edit and what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    /// The new text.
    pub text: String,
    /// The changed line ranges of the old text, in order, not overlapping.
    pub changes: Vec<Change>,
}

// ---- the index of a text ------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Ln {
    start: usize,
    end: usize,
    next: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kw {
    Virtual,
    Failover,
    Server,
}

impl Kw {
    fn as_str(self) -> &'static str {
        match self {
            Kw::Virtual => "virtual",
            Kw::Failover => "failover",
            Kw::Server => "server",
        }
    }
}

#[derive(Debug, Clone)]
struct Blk<'a> {
    kw: Kw,
    name: std::borrow::Cow<'a, str>,
    open: usize,
    close: Option<usize>,
    keys: Vec<(&'a str, usize)>,
    children: Vec<Blk<'a>>,
}

/// Where each statement, block and comment of a text is.
pub(crate) struct Index<'a> {
    text: &'a str,
    lines: Vec<Ln>,
    globals: Vec<(&'a str, usize)>,
    blocks: Vec<Blk<'a>>,
    /// Line kinds: blank, comment (or untokenizable), statement.
    kinds: Vec<LineKind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineKind {
    Blank,
    Comment,
    Statement,
}

fn split_lines(text: &str) -> Vec<Ln> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len() / 24 + 1);
    let mut pos = 0;
    while pos < b.len() {
        match memchr::memchr2(b'\n', b'\r', &b[pos..]) {
            Some(i) => {
                let end = pos + i;
                let next = if b[end] == b'\r' && b.get(end + 1) == Some(&b'\n') {
                    end + 2
                } else {
                    end + 1
                };
                out.push(Ln {
                    start: pos,
                    end,
                    next,
                });
                pos = next;
            }
            None => {
                out.push(Ln {
                    start: pos,
                    end: b.len(),
                    next: b.len(),
                });
                pos = b.len();
            }
        }
    }
    out
}

impl<'a> Index<'a> {
    pub(crate) fn new(text: &'a str) -> Index<'a> {
        let lines = split_lines(text);
        let mut kinds = Vec::with_capacity(lines.len());
        let mut globals = Vec::new();
        let mut blocks: Vec<Blk<'a>> = Vec::new();
        let mut stack: Vec<Blk<'a>> = Vec::new();
        let mut toks = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            let content = &text.as_bytes()[l.start..l.end];
            if content.iter().all(|&b| is_blank(b)) {
                kinds.push(LineKind::Blank);
                continue;
            }
            if tokenize(content, &mut toks).is_err() || toks.is_empty() {
                kinds.push(LineKind::Comment);
                continue;
            }
            kinds.push(LineKind::Statement);
            let word = |j: usize| -> Option<&[u8]> {
                toks.get(j).filter(|t| t.quote.is_none()).map(|t| t.text)
            };
            if word(0) == Some(b"}") {
                if let Some(mut b) = stack.pop() {
                    b.close = Some(i);
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(b),
                        None => blocks.push(b),
                    }
                }
                continue;
            }
            let kw = match (word(0), stack.is_empty()) {
                (Some(b"virtual"), true) => Some(Kw::Virtual),
                (Some(b"failover"), true) => Some(Kw::Failover),
                (Some(b"server"), false) => Some(Kw::Server),
                _ => None,
            };
            if let Some(kw) = kw
                && toks.len() == 3
                && word(2) == Some(b"{")
            {
                stack.push(Blk {
                    kw,
                    name: String::from_utf8_lossy(toks[1].text),
                    open: i,
                    close: None,
                    keys: Vec::new(),
                    children: Vec::new(),
                });
                continue;
            }
            // Tokens end at ASCII blanks or quotes: always UTF-8 of `text`.
            let key = std::str::from_utf8(toks[0].text).unwrap_or("\u{fffd}");
            match stack.last_mut() {
                Some(b) => b.keys.push((key, i)),
                None => globals.push((key, i)),
            }
        }
        while let Some(b) = stack.pop() {
            match stack.last_mut() {
                Some(parent) => parent.children.push(b),
                None => blocks.push(b),
            }
        }
        Index {
            text,
            lines,
            globals,
            blocks,
            kinds,
        }
    }

    fn content(&self, i: usize) -> &'a str {
        &self.text[self.lines[i].start..self.lines[i].end]
    }

    fn indent(&self, i: usize) -> &'a str {
        let c = self.content(i);
        let n = c.bytes().take_while(|&b| is_blank(b)).count();
        &c[..n]
    }

    fn eol(&self) -> &'a str {
        match self.lines.first() {
            Some(l) if l.next > l.end => &self.text[l.end..l.next],
            _ => "\n",
        }
    }

    /// One indentation step: the indentation of the first key line of a
    /// top-level block beyond its opener's, else four spaces.
    fn unit(&self) -> String {
        for b in &self.blocks {
            if let Some(&(_, l)) = b.keys.first() {
                let (outer, inner) = (self.indent(b.open), self.indent(l));
                if inner.len() > outer.len() && inner.starts_with(outer) {
                    return inner[outer.len()..].to_string();
                }
            }
        }
        "    ".to_string()
    }

    fn top(&self, kw: Kw, name: &str) -> Option<&Blk<'a>> {
        self.blocks.iter().find(|b| b.kw == kw && b.name == name)
    }

    fn find(&self, s: &Section) -> Option<&Blk<'a>> {
        match s {
            Section::Global => None,
            Section::Virtual(n) => self.top(Kw::Virtual, n),
            Section::Failover(n) => self.top(Kw::Failover, n),
            Section::Server(v, n) => self
                .top(Kw::Virtual, v)?
                .children
                .iter()
                .find(|b| b.kw == Kw::Server && &b.name == n),
        }
    }

    /// The section a line belongs to (the innermost block around it).
    pub(crate) fn section_of(&self, line: usize) -> Section {
        let inside = |b: &Blk<'_>| line >= b.open && b.close.is_none_or(|c| line <= c);
        let Some(top) = self.blocks.iter().find(|b| inside(b)) else {
            return Section::Global;
        };
        if let Some(s) = top.children.iter().find(|b| inside(b)) {
            return Section::Server(top.name.to_string(), s.name.to_string());
        }
        match top.kw {
            Kw::Failover => Section::Failover(top.name.to_string()),
            _ => Section::Virtual(top.name.to_string()),
        }
    }

    /// The 1-based line of the last `key` in a section, if any.
    pub(crate) fn key_line(&self, s: &Section, key: &str) -> Option<usize> {
        let keys = match s {
            Section::Global => &self.globals,
            _ => &self.find(s)?.keys,
        };
        keys.iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|&(_, l)| l + 1)
    }

    /// The 1-based opening line of a block.
    pub(crate) fn block_line(&self, s: &Section) -> Option<usize> {
        self.find(s).map(|b| b.open + 1)
    }

    fn serial_line(&self) -> Option<usize> {
        self.globals
            .iter()
            .rev()
            .find(|(k, _)| *k == "serial_no")
            .map(|&(_, l)| l)
    }

    /// `serial_no` as the parser reads it: 0 when absent, `None` when its
    /// line is not `serial_no = INTEGER`.
    pub(crate) fn serial_no(&self) -> Option<i32> {
        let Some(l) = self.serial_line() else {
            return Some(0);
        };
        let mut toks = Vec::new();
        tokenize(self.content(l).as_bytes(), &mut toks).ok()?;
        if toks.len() != 3 || toks[1].text != b"=" {
            return None;
        }
        crate::value::parse_c_long(toks[2].text).and_then(|n| i32::try_from(n).ok())
    }

    /// First line of the run of comment lines directly above line `i`.
    fn comments_above(&self, i: usize) -> usize {
        let mut s = i;
        while s > 0 && self.kinds[s - 1] == LineKind::Comment {
            s -= 1;
        }
        s
    }
}

// ---- splices ------------------------------------------------------------

/// Replace old lines `[from, to)` with `new` lines (contents only).
struct Splice {
    from: usize,
    to: usize,
    new: Vec<String>,
}

fn render(ix: &Index<'_>, mut splices: Vec<Splice>) -> Edited {
    splices.sort_by_key(|s| (s.from, s.to));
    let text = ix.text;
    let n = ix.lines.len();
    let eol = ix.eol();
    let byte = |i: usize| if i < n { ix.lines[i].start } else { text.len() };
    let mut out = String::with_capacity(text.len() + 256);
    let mut changes = Vec::with_capacity(splices.len());
    let mut pos = 0;
    for s in splices {
        let start = byte(s.from);
        out.push_str(&text[pos..start]);
        let mut pieces = s.new.iter();
        if s.to == s.from && s.from == n && n > 0 && ix.lines[n - 1].next == ix.lines[n - 1].end {
            // Appending after a last line without a line end: keep none.
            for l in pieces {
                out.push_str(eol);
                out.push_str(l);
            }
            pos = text.len();
        } else if s.to > s.from && s.new.len() == s.to - s.from {
            // Lines replaced one by one keep their own line ends.
            for (k, l) in pieces.by_ref().enumerate() {
                let old = ix.lines[s.from + k];
                out.push_str(l);
                out.push_str(&text[old.end..old.next]);
            }
            pos = byte(s.to);
        } else {
            // New lines end like the line before them (the file's line end
            // at the top), so that a lone CR never meets an LF and merges.
            let eol = match s.from.checked_sub(1).map(|i| ix.lines[i]) {
                Some(l) if l.next > l.end => &text[l.end..l.next],
                _ => eol,
            };
            for l in pieces {
                out.push_str(l);
                out.push_str(eol);
            }
            pos = byte(s.to);
        }
        if out.ends_with('\r') && text[pos..].starts_with('\n') {
            // Lines deleted between a line ending in a lone CR and an empty
            // LF line: that CR becomes CRLF, or the two lines would merge.
            out.push('\n');
        }
        changes.push(Change {
            line: s.from + 1,
            removed: s.to - s.from,
            inserted: s.new.len(),
        });
    }
    out.push_str(&text[pos..]);
    Edited { text: out, changes }
}

// ---- values ---------------------------------------------------------------

const REQUOTED: [&str; 5] = ["send", "expect", "send_program", "start_cmd", "stop_cmd"];

fn check_key(key: &str) -> Result<(), EditErrorKind> {
    let ok = !key.is_empty()
        && !key.bytes().any(|b| is_blank(b) || b < b' ' || b == 0x7f)
        && !key.starts_with(['"', '\'', '#'])
        && !matches!(key, "}" | "{" | "=" | "virtual" | "failover" | "server");
    if ok {
        Ok(())
    } else {
        Err(EditErrorKind::BadKey(key.to_string()))
    }
}

/// The text after `=` for `key` in `section`.
fn spell(section: &Section, key: &str, value: &str) -> Result<String, EditErrorKind> {
    let fail = |r: String| EditErrorKind::Unwritable(key.to_string(), r);
    let multi = key == "nat_router"
        || key == "nat_router6"
        || key == "dirs"
        || (key == "address" && matches!(section, Section::Virtual(_) | Section::Failover(_)));
    if multi {
        let words: Vec<&str> = value.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
        let mut spelled = Vec::with_capacity(words.len() + 2);
        for (i, w) in words.iter().enumerate() {
            let pos = if i + 1 == words.len() && key != "dirs" {
                Pos::Last
            } else {
                Pos::Middle
            };
            spelled.push(token(w, pos).map_err(fail)?);
        }
        if key == "dirs" {
            if words.contains(&"]") {
                return Err(fail("an item \"]\" ends the list".into()));
            }
            spelled.insert(0, "[".into());
            spelled.push("]".into());
        } else if spelled.is_empty() {
            return Err(fail("expected ADDRESS DEVICE, found nothing".into()));
        }
        return Ok(spelled.join(" "));
    }
    if REQUOTED.contains(&key) {
        let b = value.as_bytes();
        if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
            return requoted_token(value).map_err(fail);
        }
    }
    token(value, Pos::Last).map_err(fail)
}

fn key_line(indent: &str, key: &str, value: &str) -> String {
    format!("{indent}{key} = {value}")
}

fn opener(indent: &str, kw: Kw, name: &str) -> Result<String, EditErrorKind> {
    let n = token(name, Pos::Middle).map_err(|r| EditErrorKind::Unwritable("name".into(), r))?;
    Ok(format!("{indent}{} {n} {{", kw.as_str()))
}

// ---- operations -------------------------------------------------------------

/// Applies one operation to `text` (named `file` in errors).
pub fn apply(text: &str, file: &str, op: &Op) -> Result<Edited, EditError> {
    let ix = Index::new(text);
    let splices = plan(&ix, op).map_err(|kind| EditError {
        file: file.to_string(),
        kind,
    })?;
    Ok(render(&ix, splices))
}

/// Applies operations one after the other; the first failure stops it.
pub fn apply_all(text: &str, file: &str, ops: &[Op]) -> Result<String, EditError> {
    let mut t = text.to_string();
    for op in ops {
        t = apply(&t, file, op)?.text;
    }
    Ok(t)
}

/// Increments `serial_no`, or adds `serial_no = 1` before the file's first
/// global key (at the top) when there is none; the layout is kept.
pub fn bump_serial(text: &str, file: &str) -> Result<Edited, EditError> {
    let ix = Index::new(text);
    let fail = |r: String| EditError {
        file: file.to_string(),
        kind: EditErrorKind::BadSerial(r),
    };
    let next = match ix.serial_line() {
        None => 1,
        Some(l) => match ix.serial_no() {
            Some(n) if n < i32::MAX => n + 1,
            Some(_) => return Err(fail(format!("{} cannot be incremented", ix.content(l)))),
            None => {
                return Err(fail(format!(
                    "expected an integer, found {:?}",
                    ix.content(l)
                )));
            }
        },
    };
    if next == 1 && !ix.globals.iter().any(|(k, _)| *k == "serial_no") {
        let at = match ix.globals.first() {
            Some(&(_, l)) if ix.blocks.first().is_none_or(|b| l < b.open) => l,
            _ => global_insert_at(&ix),
        };
        let indent = ix.globals.first().map_or("", |&(_, l)| ix.indent(l));
        return Ok(render(
            &ix,
            vec![Splice {
                from: at,
                to: at,
                new: vec![key_line(indent, "serial_no", "1")],
            }],
        ));
    }
    apply(
        text,
        file,
        &Op::set(Section::Global, "serial_no", next.to_string()),
    )
}

/// `text` with a `serial_no` of at least `serial` (set to `serial` when
/// lower, absent or unreadable), and that serial: what a save writes.
pub(crate) fn with_serial_at_least(
    text: &str,
    file: &str,
    serial: i32,
) -> Result<(String, i32), EditError> {
    let ix = Index::new(text);
    match ix.serial_no() {
        Some(s) if s >= serial => Ok((text.to_string(), s)),
        _ => {
            let v = serial.to_string();
            let splices =
                set(&ix, &Section::Global, "serial_no", &v).map_err(|kind| EditError {
                    file: file.to_string(),
                    kind,
                })?;
            Ok((render(&ix, splices).text, serial))
        }
    }
}

impl Op {
    /// [`Op::Set`].
    pub fn set(section: Section, key: impl Into<String>, value: impl Into<String>) -> Op {
        Op::Set {
            section,
            key: key.into(),
            value: value.into(),
        }
    }
    /// [`Op::Remove`].
    pub fn remove(section: Section, key: impl Into<String>) -> Op {
        Op::Remove {
            section,
            key: key.into(),
        }
    }
}

/// Where a new global key goes when there is none above the first block:
/// before the comments directly above the first block, or at the end.
fn global_insert_at(ix: &Index<'_>) -> usize {
    match ix
        .globals
        .iter()
        .rev()
        .find(|(_, l)| ix.blocks.first().is_none_or(|b| *l < b.open))
    {
        Some(&(_, l)) => l + 1,
        None => match ix.blocks.first() {
            Some(b) => ix.comments_above(b.open),
            None => ix.lines.len(),
        },
    }
}

fn plan(ix: &Index<'_>, op: &Op) -> Result<Vec<Splice>, EditErrorKind> {
    match op {
        Op::Set {
            section,
            key,
            value,
        } => set(ix, section, key, value),
        Op::SetActive { block, active } => {
            if *block == Section::Global {
                return Err(EditErrorKind::NotABlock);
            }
            set(ix, block, "active", if *active { "1" } else { "0" })
        }
        Op::Remove { section, key } => {
            check_key(key)?;
            let keys = match section {
                Section::Global => &ix.globals,
                s => {
                    &ix.find(s)
                        .ok_or(EditErrorKind::NoSuchBlock(s.clone()))?
                        .keys
                }
            };
            let out: Vec<Splice> = keys
                .iter()
                .filter(|(k, _)| *k == key)
                .map(|&(_, l)| Splice {
                    from: l,
                    to: l + 1,
                    new: Vec::new(),
                })
                .collect();
            if out.is_empty() {
                return Err(EditErrorKind::NoSuchKey(section.clone(), key.clone()));
            }
            Ok(out)
        }
        Op::AddBlock { block, keys } => add_block(ix, block, keys),
        Op::DeleteBlock { block } => delete_block(ix, block),
        Op::Rename { block, name } => {
            let b = ix
                .find(block)
                .ok_or_else(|| EditErrorKind::NoSuchBlock(block.clone()))?;
            let renamed = match block {
                Section::Global => return Err(EditErrorKind::NotABlock),
                Section::Virtual(_) => Section::Virtual(name.clone()),
                Section::Failover(_) => Section::Failover(name.clone()),
                Section::Server(v, _) => Section::Server(v.clone(), name.clone()),
            };
            if block.name() != Some(name.as_str()) && ix.find(&renamed).is_some() {
                return Err(EditErrorKind::Exists(renamed));
            }
            Ok(vec![Splice {
                from: b.open,
                to: b.open + 1,
                new: vec![opener(ix.indent(b.open), b.kw, name)?],
            }])
        }
    }
}

fn set(
    ix: &Index<'_>,
    section: &Section,
    key: &str,
    value: &str,
) -> Result<Vec<Splice>, EditErrorKind> {
    check_key(key)?;
    let v = spell(section, key, value)?;
    let (keys, block) = match section {
        Section::Global => (&ix.globals, None),
        s => {
            let b = ix
                .find(s)
                .ok_or_else(|| EditErrorKind::NoSuchBlock(s.clone()))?;
            (&b.keys, Some(b))
        }
    };
    if let Some(&(_, l)) = keys.iter().rev().find(|(k, _)| *k == key) {
        return Ok(vec![Splice {
            from: l,
            to: l + 1,
            new: vec![key_line(ix.indent(l), key, &v)],
        }]);
    }
    let (at, indent) = match block {
        None => {
            let at = global_insert_at(ix);
            let indent = ix
                .globals
                .first()
                .map_or(String::new(), |&(_, l)| ix.indent(l).to_string());
            (at, indent)
        }
        Some(b) => {
            let first_child = b.children.first().map_or(usize::MAX, |c| c.open);
            match b.keys.iter().rev().find(|(_, l)| *l < first_child) {
                Some(&(_, l)) => (l + 1, ix.indent(l).to_string()),
                None => (b.open + 1, format!("{}{}", ix.indent(b.open), ix.unit())),
            }
        }
    };
    Ok(vec![Splice {
        from: at,
        to: at,
        new: vec![key_line(&indent, key, &v)],
    }])
}

fn add_block(
    ix: &Index<'_>,
    block: &Section,
    keys: &[(String, String)],
) -> Result<Vec<Splice>, EditErrorKind> {
    if ix.find(block).is_some() {
        return Err(EditErrorKind::Exists(block.clone()));
    }
    let unit = ix.unit();
    let (kw, name, siblings, at, blank, outer) = match block {
        Section::Global => return Err(EditErrorKind::NotABlock),
        Section::Virtual(n) | Section::Failover(n) => {
            let kw = if matches!(block, Section::Virtual(_)) {
                Kw::Virtual
            } else {
                Kw::Failover
            };
            let sib: Vec<&Blk<'_>> = ix.blocks.iter().filter(|b| b.kw == kw).collect();
            let at = match sib.last() {
                Some(b) => b.close.map_or(ix.lines.len(), |c| c + 1),
                None => ix.lines.len(),
            };
            let blank = at > 0 && ix.kinds[at - 1] != LineKind::Blank;
            (kw, n, sib, at, blank, String::new())
        }
        Section::Server(v, n) => {
            let vb = ix
                .top(Kw::Virtual, v)
                .ok_or_else(|| EditErrorKind::NoSuchBlock(Section::Virtual(v.clone())))?;
            let sib: Vec<&Blk<'_>> = vb.children.iter().filter(|b| b.kw == Kw::Server).collect();
            let at = match sib.last() {
                Some(b) => b.close.map(|c| c + 1),
                None => vb.close,
            }
            .ok_or_else(|| EditErrorKind::Unclosed(Section::Virtual(v.clone())))?;
            let outer = format!("{}{unit}", ix.indent(vb.open));
            (Kw::Server, n, sib, at, false, outer)
        }
    };
    let (open_indent, key_indent) = match siblings.last() {
        Some(b) => {
            let o = ix.indent(b.open).to_string();
            let k = b
                .keys
                .first()
                .map_or_else(|| format!("{o}{unit}"), |&(_, l)| ix.indent(l).to_string());
            (o, k)
        }
        None => (outer.clone(), format!("{outer}{unit}")),
    };
    let mut new = Vec::with_capacity(keys.len() + 3);
    if blank {
        new.push(String::new());
    }
    new.push(opener(&open_indent, kw, name)?);
    for (k, v) in keys {
        check_key(k)?;
        new.push(key_line(&key_indent, k, &spell(block, k, v)?));
    }
    new.push(format!("{open_indent}}}"));
    Ok(vec![Splice {
        from: at,
        to: at,
        new,
    }])
}

fn delete_block(ix: &Index<'_>, block: &Section) -> Result<Vec<Splice>, EditErrorKind> {
    if *block == Section::Global {
        return Err(EditErrorKind::NotABlock);
    }
    let b = ix
        .find(block)
        .ok_or_else(|| EditErrorKind::NoSuchBlock(block.clone()))?;
    let n = ix.lines.len();
    let mut from = ix.comments_above(b.open);
    let mut to = b.close.map_or(n, |c| c + 1);
    let blank = |i: usize| ix.kinds[i] == LineKind::Blank;
    let blank_before = from > 0 && blank(from - 1);
    if to < n && blank(to) && (from == 0 || blank_before) {
        to += 1;
    } else if to == n && blank_before {
        from -= 1;
    }
    Ok(vec![Splice {
        from,
        to,
        new: Vec::new(),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# head\nserial_no = 3\nservice = lvs\n\n# the web farm\nvirtual www {\n    active = 1\n    port = 80\n\n    server a {\n        address = 10.0.0.1\n        active = 1\n    }\n}\n\n# mail\nvirtual mail {\n    active = 0\n}\n";

    fn ed(text: &str, op: Op) -> String {
        apply(text, "lvs.cf", &op).unwrap().text
    }

    #[test]
    fn set_replaces_in_place() {
        let t = ed(FILE, Op::set(Section::server("www", "a"), "active", "0"));
        assert_eq!(
            t,
            FILE.replace("        active = 1\n    }", "        active = 0\n    }")
        );
        let t = ed(FILE, Op::set(Section::Global, "service", "fos"));
        assert_eq!(t, FILE.replace("service = lvs", "service = fos"));
    }

    #[test]
    fn set_adds_before_servers_with_sibling_indentation() {
        let t = ed(
            FILE,
            Op::set(Section::virtual_("www"), "send", "GET / HTTP/1.0\\r\\n"),
        );
        assert!(
            t.contains("    port = 80\n    send = \"GET / HTTP/1.0\\r\\n\"\n\n    server a {"),
            "{t}"
        );
        let t = ed(FILE, Op::set(Section::server("www", "a"), "weight", "5"));
        assert!(
            t.contains("        active = 1\n        weight = 5\n    }"),
            "{t}"
        );
        let t = ed(FILE, Op::set(Section::Global, "keepalive", "6"));
        assert!(
            t.starts_with("# head\nserial_no = 3\nservice = lvs\nkeepalive = 6\n\n# the web"),
            "{t}"
        );
    }

    #[test]
    fn add_and_delete_blocks() {
        let t = ed(
            FILE,
            Op::AddBlock {
                block: Section::server("www", "b"),
                keys: vec![
                    ("address".into(), "10.0.0.2".into()),
                    ("active".into(), "1".into()),
                ],
            },
        );
        assert!(
            t.contains(
                "    }\n    server b {\n        address = 10.0.0.2\n        active = 1\n    }\n}\n"
            ),
            "{t}"
        );
        let t = ed(
            FILE,
            Op::AddBlock {
                block: Section::virtual_("ftp"),
                keys: vec![("address".into(), "192.0.2.1 eth0:2".into())],
            },
        );
        assert!(
            t.ends_with("    active = 0\n}\n\nvirtual ftp {\n    address = 192.0.2.1 eth0:2\n}\n"),
            "{t}"
        );
        // The comment above goes with the block, the blank lines close up.
        let t = ed(
            FILE,
            Op::DeleteBlock {
                block: Section::virtual_("mail"),
            },
        );
        assert!(t.ends_with("    }\n}\n"), "{t:?}");
        let t = ed(
            FILE,
            Op::DeleteBlock {
                block: Section::virtual_("www"),
            },
        );
        assert_eq!(
            t,
            "# head\nserial_no = 3\nservice = lvs\n\n# mail\nvirtual mail {\n    active = 0\n}\n"
        );
    }

    #[test]
    fn errors_name_what_is_missing() {
        let e = apply(
            FILE,
            "lvs.cf",
            &Op::set(Section::virtual_("ftp"), "port", "21"),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "virtual \"ftp\" not in lvs.cf");
        let e = apply(
            FILE,
            "lvs.cf",
            &Op::remove(Section::virtual_("www"), "weight"),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "weight not in virtual \"www\" of lvs.cf");
        let e = apply(
            FILE,
            "lvs.cf",
            &Op::Rename {
                block: Section::virtual_("www"),
                name: "mail".into(),
            },
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "virtual \"mail\" already in lvs.cf");
        let e = apply(FILE, "lvs.cf", &Op::set(Section::Global, "x", "a\nb")).unwrap_err();
        assert!(matches!(e.kind, EditErrorKind::Unwritable(..)));
    }

    #[test]
    fn crlf_and_missing_final_newline_are_kept() {
        let crlf = FILE.replace('\n', "\r\n");
        let t = ed(&crlf, Op::set(Section::virtual_("mail"), "port", "25"));
        assert_eq!(
            t,
            crlf.replace("active = 0\r\n", "active = 0\r\n    port = 25\r\n")
        );
        let t = ed("service = lvs", Op::set(Section::Global, "serial_no", "2"));
        assert_eq!(t, "service = lvs\nserial_no = 2");
    }

    #[test]
    fn rename_and_activate() {
        let t = ed(
            FILE,
            Op::Rename {
                block: Section::virtual_("www"),
                name: "web farm".into(),
            },
        );
        assert!(t.contains("\nvirtual \"web farm\" {\n"));
        let t = ed(
            FILE,
            Op::SetActive {
                block: Section::virtual_("mail"),
                active: true,
            },
        );
        assert!(t.contains("virtual mail {\n    active = 1\n}"));
    }

    #[test]
    fn servers_failovers_and_duplicates() {
        let t = "service = fos\n\nfailover a {\n  active = 1\n}\n\nvirtual v {\n  port = 80\n  # first\n  server s {\n    weight = 1\n  }\n  server t {\n  }\n}\nkeepalive = 1\nkeepalive = 2\n";
        // The server's comment goes with it; nothing else moves.
        let d = ed(
            t,
            Op::DeleteBlock {
                block: Section::server("v", "s"),
            },
        );
        assert_eq!(
            d,
            t.replace("  # first\n  server s {\n    weight = 1\n  }\n", "")
        );
        // A failover block after the last failover block, with its indentation.
        let d = ed(
            t,
            Op::AddBlock {
                block: Section::failover("b"),
                keys: vec![("start_cmd".into(), "/bin/b start".into())],
            },
        );
        assert!(d.contains("failover a {\n  active = 1\n}\n\nfailover b {\n  start_cmd = \"/bin/b start\"\n}\n\nvirtual v"), "{d}");
        // Remove takes every duplicate; Set changes the last (the one in effect).
        let d = ed(t, Op::remove(Section::Global, "keepalive"));
        assert!(d.ends_with("}\n"), "{d}");
        let d = ed(t, Op::set(Section::Global, "keepalive", "3"));
        assert!(d.ends_with("keepalive = 1\nkeepalive = 3\n"), "{d}");
        // A server added to a virtual server without servers goes before its "}".
        let d = ed(
            t,
            Op::Rename {
                block: Section::server("v", "t"),
                name: "u".into(),
            },
        );
        assert!(d.contains("  server u {\n  }\n"));
        let e = apply(
            t,
            "f",
            &Op::AddBlock {
                block: Section::server("w", "x"),
                keys: vec![],
            },
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "virtual \"w\" not in f");
        let one = "virtual w {\n\tactive = 1\n}\n";
        let d = ed(
            one,
            Op::AddBlock {
                block: Section::server("w", "x"),
                keys: vec![("weight".into(), "2".into())],
            },
        );
        assert_eq!(
            d,
            "virtual w {\n\tactive = 1\n\tserver x {\n\t\tweight = 2\n\t}\n}\n"
        );
    }

    #[test]
    fn serial_numbers() {
        assert_eq!(
            bump_serial(FILE, "f").unwrap().text,
            FILE.replace("serial_no = 3", "serial_no = 4")
        );
        let t = bump_serial("# c\n\nservice = lvs\n", "f").unwrap().text;
        assert_eq!(t, "# c\n\nserial_no = 1\nservice = lvs\n");
        let t = bump_serial("# c\nvirtual a {\n}\n", "f").unwrap().text;
        assert_eq!(t, "serial_no = 1\n# c\nvirtual a {\n}\n");
        assert!(bump_serial("serial_no = x\n", "f").is_err());
        assert!(bump_serial("serial_no = 2147483647\n", "f").is_err());
    }
}
