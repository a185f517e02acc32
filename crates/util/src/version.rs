//! The three-line `--version` banner Piranha's popt-based programs print.

/// Piranha release our binaries stand in for.
pub const PIRANHA_RELEASE: &str = "piranha-0.8.6-1";

/// Build date, `DD/Mon/YYYY`.
pub const BUILD_DATE: &str = env!("LVS_BUILD_DATE");

/// The banner, e.g. `banner("pulse", "1.56")`:
/// `Program Version:\tpulse 1.56\nBuilt:\t\t\tDATE\nA component of:\t\tpiranha-0.8.6-1\n`.
pub fn banner(program: &str, version: &str) -> String {
    format!(
        "Program Version:\t{program} {version}\nBuilt:\t\t\t{BUILD_DATE}\nA component of:\t\t{PIRANHA_RELEASE}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_layout() {
        let b = banner("pulse", "1.56");
        let lines: Vec<&str> = b.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], "Program Version:\tpulse 1.56");
        assert!(lines[1].starts_with("Built:\t\t\t"));
        let date = &lines[1]["Built:\t\t\t".len()..];
        let parts: Vec<&str> = date.split('/').collect();
        assert_eq!(parts.len(), 3, "date {date:?}");
        assert_eq!(parts[0].len(), 2);
        assert_eq!(parts[1].len(), 3);
        assert_eq!(parts[2].len(), 4);
        assert_eq!(lines[2], "A component of:\t\tpiranha-0.8.6-1");
    }
}
