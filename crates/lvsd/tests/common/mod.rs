//! Shared by lvsd's integration tests: a running lvsd (or any program)
//! whose stdout is collected line by line, killed when dropped.

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A child process with its stdout lines collected as they come.
pub struct Collected {
    pub child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Collected {
    /// Starts `cmd` with stdout piped (stderr inherited).
    pub fn spawn(cmd: &mut Command) -> Collected {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the program");
        let out = child.stdout.take().expect("stdout piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let l2 = lines.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                l2.lock().unwrap().push(l);
            }
        });
        Collected { child, lines }
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits up to `patience` for a line after index `from` for which
    /// `is_it` holds (`what` names it in the failure); returns its index.
    pub fn wait_line(
        &self,
        from: usize,
        what: &str,
        is_it: impl Fn(&str) -> bool,
        patience: Duration,
    ) -> usize {
        let end = Instant::now() + patience;
        loop {
            let l = self.lines();
            if let Some(i) = l.iter().skip(from).position(|x| is_it(x)) {
                return from + i;
            }
            assert!(
                Instant::now() < end,
                "no line {what:?}; the program said:\n{}",
                l.join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `sig`.
    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Waits up to `patience` for the exit; returns the exit status.
    pub fn wait_exit(&mut self, patience: Duration) -> i32 {
        let end = Instant::now() + patience;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code().unwrap_or(-1);
            }
            assert!(Instant::now() < end, "the program did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Collected {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
