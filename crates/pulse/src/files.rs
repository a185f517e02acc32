//! gaps.md A2: lvs.cf and the programs it names run as root, so a file a
//! non-root user can change is a way to root. pulse warns about them at
//! start-up (and keeps running, as the original did).

use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

/// Why `path` can be changed by someone other than root, if it can.
pub fn writable_by_non_root(path: &Path) -> Option<String> {
    let m = std::fs::metadata(path).ok()?;
    let mode = m.mode() & 0o7777;
    if m.uid() != 0 {
        Some(format!("owned by uid {}", m.uid()))
    } else if mode & 0o002 != 0 {
        Some(format!("mode {mode:04o}, writable by everyone"))
    } else if mode & 0o020 != 0 && m.gid() != 0 {
        Some(format!("mode {mode:04o}, writable by group {}", m.gid()))
    } else {
        None
    }
}

/// One warning per file in `paths` that a non-root user can change.
pub fn warnings<'a>(paths: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    paths
        .into_iter()
        .filter_map(|p| {
            writable_by_non_root(Path::new(p)).map(|why| {
                format!("Warning: {p} can be changed by a non-root user ({why}); pulse runs it or its commands as root")
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn world_or_group_writable_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("lvs.cf");
        std::fs::write(&f, "x").unwrap();
        let p = f.to_str().unwrap();
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(warnings([p]).is_empty(), root, "{:?}", warnings([p]));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o666)).unwrap();
        let w = warnings([p]);
        assert_eq!(w.len(), 1);
        assert!(w[0].starts_with(&format!("Warning: {p} can be changed by a non-root user")));
        assert!(warnings(["/nonexistent/x"]).is_empty());
    }
}
