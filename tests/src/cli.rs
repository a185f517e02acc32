//! Running a program of the suite from a test, and the lvs.cf it reads.

use std::process::Command;

/// Runs `cmd` to completion: (exit code, stdout, stderr). Panics if it
/// cannot be started.
pub fn output(cmd: &mut Command) -> (Option<i32>, String, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("run {:?}: {e}", cmd.get_program()));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes `text` to `lvs.cf` in a new temporary directory: the directory
/// (removed when dropped) and the file's path.
pub fn lvs_cf(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lvs.cf");
    std::fs::write(&path, text).expect("write lvs.cf");
    let p = path.display().to_string();
    (dir, p)
}
