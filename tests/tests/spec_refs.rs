//! Every reference to the specification in the tree resolves inside the
//! repository (docs/spec/README.md, "How code cites them"):
//!
//! * "gaps.md X<n>" (also lists: "gaps.md F2/F3", "gaps.md B3, B4",
//!   "gaps.md E5 and E12") names a row of `docs/spec/gaps.md`;
//! * "FILE.md §N[.M]", for a FILE.md of `docs/spec/`, names a numbered
//!   section heading of that file;
//! * a bare "§N" in a crate names a section of that crate's program's file
//!   (pulse.md in `crates/pulse`, ...), or of a file named just before it
//!   ("fos.md §5, §5.1");
//! * a `docs/spec/...` path names a file that exists;
//! * no path of a development machine's shared folder is left.
//!
//! Scanned: every text file of the workspace except `.git`, `target*` and
//! other hidden or build directories.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Text files under `dir` (skipping hidden, `target*` and `node_modules`
/// directories, binary and very large files).
fn text_files(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if name.starts_with('.') || name.starts_with("target") || name == "node_modules" {
                continue;
            }
            text_files(&path, out);
        } else if ft.is_file() {
            let small = e.metadata().is_ok_and(|m| m.len() < 4 << 20);
            if let Some(text) = small
                .then(|| std::fs::read(&path).ok())
                .flatten()
                .filter(|b| !b.contains(&0))
                .and_then(|b| String::from_utf8(b).ok())
            {
                out.push((path, text));
            }
        }
    }
}

/// The row IDs of gaps.md (`| C19 | ...`).
fn gaps_ids(gaps: &str) -> BTreeSet<String> {
    gaps.lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split_once(" |").map(|(id, _)| id.trim().to_string()))
        .filter(|id| parse_id(id).is_some_and(|n| n == id.len()))
        .collect()
}

/// Length of a gaps ID (`A1`, `E17`) at the start of `s`.
fn parse_id(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if !b.first().is_some_and(|c| (b'A'..=b'J').contains(c)) {
        return None;
    }
    let digits = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    // an ID ends at a non-alphanumeric character (not "B12x", not "C5a")
    let end = 1 + digits;
    (digits > 0 && !b.get(end).is_some_and(|c| c.is_ascii_alphanumeric())).then_some(end)
}

/// The IDs cited after each "gaps.md" in `text`.
fn cited_gaps(text: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for (at, _) in text.match_indices("gaps.md") {
        let mut rest = &text[at + "gaps.md".len()..];
        rest = rest.strip_prefix(' ').unwrap_or(rest);
        for filler in ["fixes ", "section ", "item ", "items "] {
            rest = rest.strip_prefix(filler).unwrap_or(rest);
        }
        while let Some(len) = parse_id(rest) {
            ids.push(rest[..len].to_string());
            rest = &rest[len..];
            let mut next = None;
            for sep in ["/", ", ", ",", " and ", "–", "-", " / "] {
                if let Some(r) = rest.strip_prefix(sep)
                    && parse_id(r).is_some()
                {
                    next = Some(r);
                    break;
                }
            }
            match next {
                Some(r) => rest = r,
                None => break,
            }
        }
    }
    ids
}

/// Numbered section headings of a markdown file: `## 7. Title`,
/// `### 7.1 Title`, `## §7 Title` → "7", "7.1".
fn sections(md: &str) -> BTreeSet<String> {
    md.lines()
        .filter(|l| l.starts_with('#'))
        .filter_map(|l| {
            let t = l.trim_start_matches('#').trim_start();
            let t = t.strip_prefix('§').unwrap_or(t);
            let num: String = t
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let num = num.trim_end_matches('.');
            (!num.is_empty() && num.starts_with(|c: char| c.is_ascii_digit()))
                .then(|| num.to_string())
        })
        .collect()
}

/// "FILE.md §N[.M]" references in `text` to the files in `specs`:
/// (file, section).
fn cited_sections(text: &str, specs: &BTreeSet<String>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices(".md") {
        let before = &text[..at];
        let start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .map_or(0, |i| {
                i + before[i..].chars().next().map_or(1, char::len_utf8)
            });
        let file = format!("{}.md", &before[start..]);
        // docs/pulse.md (operator notes) is not docs/spec/pulse.md
        let dir = &before[..start];
        if !specs.contains(&file) || (dir.ends_with('/') && !dir.ends_with("docs/spec/")) {
            continue;
        }
        let rest = &text[at + 3..];
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        let Some(rest) = rest.strip_prefix('§') else {
            continue;
        };
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        let num: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let num = num.trim_end_matches('.');
        if !num.is_empty() {
            out.push((file, num.to_string()));
        }
    }
    out
}

/// The spec file a bare "§N" means in a file at `rel` (docs/spec/README.md,
/// "How code cites them").
fn default_spec(rel: &Path) -> Option<&'static str> {
    [
        ("crates/pulse/", "pulse.md"),
        ("crates/nanny/", "nanny.md"),
        ("crates/lvsd/", "lvsd.md"),
        ("crates/lvscf/", "lvs-cf.md"),
        ("crates/fos/", "fos.md"),
        ("crates/send-arp/", "send-arp.md"),
        ("crates/ipvs/", "ipvs-genl.md"),
        ("tests/src/bin/lvs-test-peer.rs", "pulse.md"),
    ]
    .into_iter()
    .find(|(prefix, _)| rel.to_string_lossy().starts_with(prefix))
    .map(|(_, spec)| spec)
}

/// Every "§N" in `text`: (byte offset, section).
fn all_sections(text: &str) -> Vec<(usize, String)> {
    text.match_indices('§')
        .filter_map(|(at, _)| {
            let rest = &text[at + '§'.len_utf8()..];
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            let num: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let num = num.trim_end_matches('.');
            (!num.is_empty()).then(|| (at, num.to_string()))
        })
        .collect()
}

/// `docs/spec/...` paths in `text`.
fn cited_paths(text: &str) -> Vec<String> {
    text.match_indices("docs/spec/")
        .map(|(at, _)| {
            let rest = &text[at..];
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || "._/-".contains(c)))
                .unwrap_or(rest.len());
            rest[..len].trim_end_matches('.').to_string()
        })
        .collect()
}

#[test]
fn every_spec_reference_resolves() {
    let root = root();
    let spec_dir = root.join("docs/spec");
    let specs: BTreeSet<String> = std::fs::read_dir(&spec_dir)
        .expect("docs/spec")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .collect();
    for f in [
        "README.md",
        "gaps.md",
        "pulse.md",
        "lvsd.md",
        "nanny.md",
        "lvs-cf.md",
        "fos.md",
        "send-arp.md",
        "ipvs-genl.md",
        "REVIEW.md",
    ] {
        assert!(specs.contains(f), "docs/spec/{f} is missing");
    }
    let ids = gaps_ids(&std::fs::read_to_string(spec_dir.join("gaps.md")).unwrap());
    assert!(ids.contains("A1") && ids.contains("F7"), "{ids:?}");
    let heads: BTreeMap<String, BTreeSet<String>> = specs
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(spec_dir.join(f)).unwrap();
            (f.clone(), sections(&text))
        })
        .collect();

    let mut files = Vec::new();
    text_files(&root, &mut files);
    assert!(files.len() > 100, "scanned only {} files", files.len());
    // Built so that this file does not match itself.
    let banned = [
        concat!("/work/", "shared"),
        concat!("shared/", "spec"),
        concat!("../shared/", "reference"),
    ];
    let (mut n_ids, mut n_secs, mut n_bare, mut n_paths) = (0, 0, 0, 0);
    let mut bad = Vec::new();
    for (path, text) in &files {
        let rel = path.strip_prefix(&root).unwrap_or(path).display();
        for id in cited_gaps(text) {
            n_ids += 1;
            if !ids.contains(&id) {
                bad.push(format!(
                    "{rel}: gaps.md {id}: no such row in docs/spec/gaps.md"
                ));
            }
        }
        for (file, sec) in cited_sections(text, &specs) {
            n_secs += 1;
            if !heads[&file].contains(&sec) {
                bad.push(format!(
                    "{rel}: {file} §{sec}: no such section in docs/spec/{file}"
                ));
            }
        }
        if let Some(spec) = default_spec(path.strip_prefix(&root).unwrap_or(path)) {
            for (at, sec) in all_sections(text) {
                n_bare += 1;
                let mut from = at.saturating_sub(200);
                while !text.is_char_boundary(from) {
                    from -= 1;
                }
                let before = &text[from..at];
                let found = heads[spec].contains(&sec)
                    || heads
                        .iter()
                        .any(|(f, h)| before.contains(f.as_str()) && h.contains(&sec));
                if !found {
                    let line = text[..at].lines().count();
                    bad.push(format!(
                        "{rel}:{line}: §{sec}: no such section in docs/spec/{spec} \
                         (nor in a spec file named just before it)"
                    ));
                }
            }
        }
        for p in cited_paths(text) {
            n_paths += 1;
            if !root.join(&p).exists() {
                bad.push(format!("{rel}: {p}: no such file"));
            }
        }
        for b in banned {
            if text.contains(b) {
                bad.push(format!(
                    "{rel}: names {b:?}, a development machine's folder (cite docs/spec/)"
                ));
            }
        }
    }
    assert!(bad.is_empty(), "unresolved references:\n{}", bad.join("\n"));
    // The scan finds what it is meant to find (the tree cites the spec
    // hundreds of times).
    assert!(n_ids > 50, "only {n_ids} gaps.md IDs found");
    assert!(n_secs > 100, "only {n_secs} § references found");
    assert!(
        n_bare > 100,
        "only {n_bare} § references found in the crates"
    );
    assert!(n_paths > 3, "only {n_paths} docs/spec paths found");
}

#[test]
fn the_scanners_read_the_forms_the_tree_uses() {
    assert_eq!(
        cited_gaps("see gaps.md F2/F3/F6, and gaps.md B3, B4; gaps.md E5 and E12."),
        ["F2", "F3", "F6", "B3", "B4", "E5", "E12"]
    );
    assert_eq!(
        cited_gaps("gaps.md fixes B1/B2 (gaps.md B1–B14)"),
        ["B1", "B2", "B1", "B14"]
    );
    assert_eq!(
        cited_gaps("gaps.md section B, one test"),
        Vec::<String>::new()
    );
    assert_eq!(
        cited_gaps("(gaps.md) and gaps.md C19x"),
        Vec::<String>::new()
    );
    let specs: BTreeSet<String> = ["pulse.md".to_string(), "lvs-cf.md".into()].into();
    assert_eq!(
        cited_sections(
            "pulse.md §7.1, (lvs-cf.md §14.) docs/pulse.md §2 x.md §3 pulse.md",
            &specs
        ),
        [
            ("pulse.md".to_string(), "7.1".to_string()),
            ("lvs-cf.md".into(), "14".into())
        ]
    );
    assert_eq!(
        sections("# T\n## 1. One\n### 1.2 Sub\n## §3 Three\n## A. Letter\n"),
        ["1", "1.2", "3"].map(String::from).into()
    );
    assert_eq!(
        all_sections("§1, § 7.1. and §x"),
        [(0, "1".to_string()), (5, "7.1".to_string())]
    );
    assert_eq!(
        default_spec(Path::new("crates/pulse/src/run.rs")),
        Some("pulse.md")
    );
    assert_eq!(default_spec(Path::new("crates/util/src/log.rs")), None);
    assert_eq!(
        cited_paths("(`docs/spec/lvs-cf.md`). docs/spec/."),
        ["docs/spec/lvs-cf.md", "docs/spec/"]
    );
    assert_eq!(
        gaps_ids("| # | Issue |\n|---|---|\n| A1 | x |\n| C19 | y |\n| G | z |\n"),
        ["A1", "C19"].map(String::from).into()
    );
}
