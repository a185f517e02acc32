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
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("no exit within {patience:?} after SIGTERM"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
