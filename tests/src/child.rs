//! Stopping the programs a test started.

use std::process::Child;
use std::time::{Duration, Instant};

/// Sends SIGTERM to `child` and waits up to `patience` for it to exit;
/// returns its exit code (`None` if a signal ended it). A child still
/// running after that is killed and reaped, and the result is an error.
pub fn terminate(child: &mut Child, patience: Duration) -> Result<Option<i32>, String> {
    // SAFETY: kill has no memory-safety preconditions; the pid is our
    // own child's, not yet reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let end = Instant::now() + patience;
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return Ok(st.code());
        }
        if Instant::now() > end {
            kill(child, patience)?;
            return Err(format!("no exit within {patience:?} after SIGTERM"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGKILL to `child`, then reaps it, waiting at most `patience`: a child
/// stuck in the kernel (uninterruptible sleep) is an error, not a hang.
pub fn kill(child: &mut Child, patience: Duration) -> Result<(), String> {
    let _ = child.kill();
    let end = Instant::now() + patience;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return Ok(()),
            Ok(None) if Instant::now() > end => {
                return Err(format!(
                    "pid {} not reaped within {patience:?} after SIGKILL",
                    child.id()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}
