//! Nanny processes: starting one with its report pipe (lvsd.md §4 and the
//! protocol of `nanny_report`), reading the pipe line by line (gaps.md
//! D6), reaping children.
//!
//! One pipe per nanny carries both its report descriptor
//! (`NANNY_REPORT_FD`) and its stdout (where a `--nodaemon` nanny prints
//! `nanny: …` lines with the `[ active ]`/`[inactive]` markers). Report
//! lines are single writes well below `PIPE_BUF`, so the two never mix
//! within a line.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Command, Stdio};

use lvs_util::process;
use nanny_report::{self as report, Resume};

/// Longest line kept from a nanny; the rest of a longer line is dropped.
pub const MAX_LINE: usize = 4096;

/// A started nanny.
#[derive(Debug)]
pub struct Spawned {
    /// Its process id.
    pub pid: u32,
    /// The read end of its pipe.
    pub pipe: OwnedFd,
}

/// Starts `argv` (program path first, executed without a PATH search as
/// the original's `execv`) with stdin on /dev/null, stdout and the report
/// descriptor on a new pipe, stderr inherited, SIGTERM as its parent-death
/// signal, and `NANNY_REPORT_RESUME` set to `resume` if given. The child is
/// not waited for here: see [`reap`].
pub fn spawn(argv: &[String], resume: Option<Resume>) -> io::Result<Spawned> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command line"))?;
    let (r, w) = process::pipe()?;
    let wfd = w.as_raw_fd();
    let mut cmd = Command::new(process::exec_path(program));
    cmd.args(args)
        .env(report::ENV, wfd.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::from(w.try_clone()?));
    match resume {
        Some(r) => cmd.env(report::RESUME_ENV, r.to_string()),
        None => cmd.env_remove(report::RESUME_ENV),
    };
    process::die_with_parent(&mut cmd);
    process::inherit_fd(&mut cmd, wfd);
    let child = cmd.spawn()?;
    drop(cmd);
    drop(w);
    Ok(Spawned {
        pid: child.id(),
        pipe: r,
    })
}

/// Reaps every exited child; returns their pids.
pub fn reap() -> Vec<u32> {
    process::reap_all()
        .into_iter()
        .map(|(pid, _)| pid)
        .collect()
}

/// Splits a byte stream into lines (without `\n`), keeping at most
/// [`MAX_LINE`] bytes of each.
#[derive(Debug, Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
    overflow: bool,
}

impl LineSplitter {
    /// Feeds bytes; returns the complete lines.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for part in bytes.split_inclusive(|&b| b == b'\n') {
            let (body, done) = match part.strip_suffix(b"\n") {
                Some(b) => (b, true),
                None => (part, false),
            };
            let room = MAX_LINE.saturating_sub(self.buf.len());
            if body.len() > room {
                self.overflow = true;
            }
            self.buf.extend_from_slice(&body[..body.len().min(room)]);
            if done {
                out.push(String::from_utf8_lossy(&self.buf).into_owned());
                self.buf.clear();
                self.overflow = false;
            }
        }
        out
    }

    /// The unterminated rest at end of file, if any.
    pub fn finish(&mut self) -> Option<String> {
        (!self.buf.is_empty())
            .then(|| String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned())
    }
}

/// Reads `pipe` until end of file, calling `line` for every line.
pub async fn read_lines(pipe: OwnedFd, mut line: impl FnMut(String)) -> io::Result<()> {
    use tokio::io::AsyncReadExt as _;
    let mut rx = tokio::net::unix::pipe::Receiver::from_owned_fd(pipe)?;
    let mut split = LineSplitter::default();
    let mut chunk = vec![0u8; 8192];
    loop {
        let n = rx.read(&mut chunk).await?;
        if n == 0 {
            if let Some(rest) = split.finish() {
                line(rest);
            }
            return Ok(());
        }
        for l in split.push(&chunk[..n]) {
            line(l);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_across_chunks_and_overlong() {
        let mut s = LineSplitter::default();
        assert_eq!(s.push(b"nanny1 state "), Vec::<String>::new());
        assert_eq!(s.push(b"up\nnanny: [ act"), ["nanny1 state up"]);
        assert_eq!(s.push(b"ive ] x\n\n"), ["nanny: [ active ] x", ""]);
        let long = vec![b'a'; MAX_LINE + 10];
        assert_eq!(s.push(&long), Vec::<String>::new());
        let got = s.push(b"b\nc");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].len(), MAX_LINE);
        assert_eq!(s.finish().as_deref(), Some("c"));
        assert_eq!(s.finish(), None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn spawned_child_reports_over_its_pipe() {
        // The child writes to the inherited report descriptor and to stdout.
        let argv: Vec<String> = [
            "/bin/sh",
            "-c",
            "echo \"nanny1 state up\" >/dev/fd/$NANNY_REPORT_FD; echo \"nanny: $NANNY_REPORT_RESUME\"",
        ]
        .map(String::from)
        .to_vec();
        let s = spawn(&argv, Some(Resume::Up(3))).unwrap();
        let mut lines = Vec::new();
        read_lines(s.pipe, |l| lines.push(l)).await.unwrap();
        assert_eq!(lines, ["nanny1 state up", "nanny: up 3"]);
        let mut reaped = Vec::new();
        for _ in 0..100 {
            reaped.extend(reap());
            if reaped.contains(&s.pid) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(reaped.contains(&s.pid));
        assert!(spawn(&["/nonexistent/nanny".to_string()], None).is_err());
    }
}
