//! A one-shot monotonic timer with nanosecond resolution (timerfd), for
//! the main loop's deadlines: tokio's own timer rounds up to whole
//! milliseconds, which would add up to ~2 ms to every takeover.

use std::os::fd::{AsFd as _, AsRawFd, RawFd};
use std::time::Duration;

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::unix::AsyncFd;

/// The timer.
pub struct Alarm {
    fd: AsyncFd<Tfd>,
}

/// `TimerFd` with the `AsRawFd` tokio wants.
struct Tfd(TimerFd);

impl AsRawFd for Tfd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl Alarm {
    /// Creates the timer (CLOCK_MONOTONIC, like `std::time::Instant`).
    pub fn new() -> std::io::Result<Alarm> {
        let t = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        // SAFETY: Tfd owns the timerfd and always returns that descriptor;
        // it stays open for the AsyncFd's lifetime.
        let fd = unsafe { AsyncFd::register_with_interest(Tfd(t), tokio::io::Interest::READABLE) }?;
        Ok(Alarm { fd })
    }

    /// Sleeps for `d` (returns at once for zero). Cancel-safe: the next call
    /// re-arms the timer.
    pub async fn sleep(&self, d: Duration) {
        if d.is_zero() {
            return;
        }
        let when = Expiration::OneShot(TimeSpec::from_duration(d));
        if self
            .fd
            .get_ref()
            .0
            .set(when, TimerSetTimeFlags::empty())
            .is_err()
        {
            tokio::time::sleep(d).await;
            return;
        }
        loop {
            let Ok(mut guard) = self.fd.readable().await else {
                tokio::time::sleep(d).await;
                return;
            };
            let mut buf = [0u8; 8];
            let raw = guard.get_inner().as_raw_fd();
            match guard.try_io(|_| {
                // SAFETY: reading 8 bytes into an 8-byte buffer from our timerfd.
                let n = unsafe { libc::read(raw, buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(())
                }
            }) {
                Ok(_) => return,
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sleeps_about_as_long_as_asked_and_can_be_rearmed() {
        let a = Alarm::new().unwrap();
        let t = std::time::Instant::now();
        a.sleep(Duration::from_millis(20)).await;
        assert!(t.elapsed() >= Duration::from_millis(20));
        // A cancelled sleep leaves nothing behind for the next one.
        let _ =
            tokio::time::timeout(Duration::from_millis(1), a.sleep(Duration::from_millis(5))).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        let t = std::time::Instant::now();
        a.sleep(Duration::from_millis(15)).await;
        assert!(t.elapsed() >= Duration::from_millis(15));
        a.sleep(Duration::ZERO).await;
    }
}
