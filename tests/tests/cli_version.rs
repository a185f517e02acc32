//! Every binary prints Piranha's three-line `--version` banner and exits 0.

use std::process::Command;

fn version_of(bin: &str) -> String {
    let out = Command::new(lvs_tests::bin(bin))
        .arg("--version")
        .output()
        .expect("run binary");
    assert!(
        out.status.success(),
        "{bin} --version exited {:?}",
        out.status
    );
    String::from_utf8(out.stdout).expect("utf-8 banner")
}

#[test]
fn daemons_print_piranha_version_banner() {
    for (bin, program, version) in [
        ("pulse", "pulse", "1.56"),
        ("lvsd", "lvs", "1.38"),
        ("nanny", "nanny", "1.46"),
        ("fos", "fos", "1.13"),
    ] {
        let text = version_of(bin);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{bin}: {text:?}");
        assert_eq!(lines[0], format!("Program Version:\t{program} {version}"));
        assert!(lines[1].starts_with("Built:\t\t\t"), "{bin}: {text:?}");
        assert_eq!(lines[2], "A component of:\t\tpiranha-0.8.6-1");
    }
}

#[test]
fn tools_print_version() {
    for bin in ["send_arp", "lvscf"] {
        let text = version_of(bin);
        assert!(text.starts_with("Program Version:\t"), "{bin}: {text:?}");
    }
}
