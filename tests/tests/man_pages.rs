//! The manual pages in `man/`: each renders with groff without a warning,
//! has the sections an admin looks for, and names every long option its
//! program's `--help` lists, and every subcommand (so pages and programs
//! stay in sync).

use std::path::{Path, PathBuf};
use std::process::Command;

/// (page, program whose options it documents).
const PAGES: [(&str, Option<&str>); 11] = [
    ("pulse.8", Some("pulse")),
    ("fos.8", Some("fos")),
    ("lvsd.8", Some("lvsd")),
    ("nanny.8", Some("nanny")),
    ("send_arp.8", Some("send_arp")),
    ("lvs.cf.5", None),
    ("lvscf.1", Some("lvscf")),
    ("ipvsadm-rs.8", Some("ipvsadm-rs")),
    ("piranha-exporter.8", Some("piranha-exporter")),
    ("piranha_gui.8", Some("piranha_gui")),
    ("piranha-passwd.8", Some("piranha-passwd")),
];

/// Programs with subcommands (as `--help` lists them under `Commands:`),
/// whose options are in each subcommand's `--help`.
const SUBCOMMANDS: [(&str, &[&str]); 1] = [("lvscf", &["check", "dump", "fmt", "save", "sync"])];

/// Pages whose differences section is not from Piranha.
const DIFFERENCES: [(&str, &str); 1] = [("ipvsadm-rs.8", "DIFFERENCES FROM IPVSADM")];

fn subcommands(program: &str) -> &'static [&'static str] {
    SUBCOMMANDS
        .iter()
        .find(|(p, _)| *p == program)
        .map_or(&[], |(_, s)| *s)
}

fn page(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../man")
        .join(name)
}

fn groff_present(test: &str) -> bool {
    lvs_tests::have(test, "groff", "groff-base")
}

/// Renders `path` as a terminal page; returns (text, warnings).
fn render(path: &Path) -> (String, String) {
    let out = Command::new("groff")
        .args(["-b", "-ww", "-man", "-Tutf8", "-P", "-cbou"])
        .arg(path)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("run groff");
    assert!(
        out.status.success(),
        "groff {}: {:?}",
        path.display(),
        out.status
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn pages_render_without_warnings() {
    if !groff_present("pages_render_without_warnings") {
        return;
    }
    for (name, _) in PAGES {
        let (text, warnings) = render(&page(name));
        assert!(warnings.is_empty(), "{name}: groff says:\n{warnings}");
        let differences = DIFFERENCES
            .iter()
            .find(|(p, _)| *p == name)
            .map_or("DIFFERENCES FROM PIRANHA", |(_, d)| *d);
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", differences, "SEE ALSO"] {
            assert!(
                text.lines().any(|l| l == section),
                "{name}: no {section} section"
            );
        }
        let title = name.split('.').next().unwrap().to_uppercase();
        assert!(
            text.starts_with(&title),
            "{name}: header {:?}",
            text.lines().next()
        );
    }
}

/// The roff source with font escapes removed and `\-` turned into `-`.
fn plain_source(path: &Path) -> String {
    let src = std::fs::read_to_string(path).expect("read page");
    let mut out = String::with_capacity(src.len());
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('-') => out.push('-'),
            Some('e') => out.push('\\'),
            Some('f') => {
                chars.next(); // the font letter
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => {}
        }
    }
    out
}

/// Every `--name` in `text`.
fn long_options(text: &str) -> Vec<String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("--") {
        let after = &rest[i + 2..];
        let len = after.find(|c: char| !ok(c)).unwrap_or(after.len());
        let name = &after[..len];
        if name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            found.push(format!("--{name}"));
        }
        rest = &after[len..];
    }
    found.sort();
    found.dedup();
    found
}

/// The subcommands a clap `--help` lists under `Commands:` (without `help`).
fn listed_commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(String::from)
        .collect()
}

fn mentions(source: &str, option: &str) -> bool {
    source.match_indices(option).any(|(i, _)| {
        let next = source[i + option.len()..].chars().next();
        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    })
}

#[test]
fn every_long_option_of_a_program_is_in_its_page() {
    for (name, program) in PAGES {
        let Some(program) = program else { continue };
        let help_of = |args: &[&str]| {
            let out = Command::new(lvs_tests::bin(program))
                .args(args)
                .arg("--help")
                .output()
                .expect("run --help");
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        };
        let help = help_of(&[]);
        let source = plain_source(&page(name));
        let subs = subcommands(program);
        assert_eq!(
            listed_commands(&help),
            subs,
            "`{program} --help` lists other subcommands than SUBCOMMANDS"
        );
        let mut options = long_options(&help);
        for sub in subs {
            assert!(
                source.contains(&format!("{program} {sub}")),
                "{name} does not show `{program} {sub}`"
            );
            options.extend(long_options(&help_of(&[sub])));
        }
        options.sort();
        options.dedup();
        // send_arp's usage text lists no long option, but it has --version.
        options.push("--version".into());
        let missing: Vec<&String> = options.iter().filter(|o| !mentions(&source, o)).collect();
        assert!(
            missing.is_empty(),
            "{name} does not mention {missing:?} from `{program} --help`"
        );
        // piranha-passwd has one option besides --help and --version.
        if !["send_arp", "piranha-passwd"].contains(&program) {
            assert!(options.len() > 5, "{program} --help: {help}");
        }
    }
}

#[test]
fn option_scanner_finds_spellings() {
    let got =
        long_options("  -c, --configfile=STRING  x (also --lvs)\n --no-icmp, --send_str -- x ---");
    assert_eq!(got, ["--configfile", "--lvs", "--no-icmp", "--send_str"]);
    let src = plain_source(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../man/pulse.8")
            .as_path(),
    );
    assert!(mentions(&src, "--lvsd") && mentions(&src, "--lvs"));
    assert!(!mentions("--lvsd=PATH", "--lvs"));
    let clap = "About\n\nUsage: x [COMMAND]\n\nCommands:\n  check  Check FILE\n  \
                help   Print this message\n\nOptions:\n  -h, --help  Print help\n";
    assert_eq!(listed_commands(clap), ["check"]);
    assert!(listed_commands("Usage: x [OPTIONS]\n  --json  JSON\n").is_empty());
}
