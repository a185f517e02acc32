//! One scrape (the shell around the pure core): ask pulse and lvsd on their
//! status sockets in threads of their own while `/proc` is read and its
//! families are encoded, then encode the daemons' families. The output
//! goes to a [`std::fmt::Write`] as it is produced ([`ChunkSink`] cuts it
//! into pieces for an HTTP body).

use std::fs::File;
use std::io::{BufReader, ErrorKind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use lvs_util::status_socket::{Answer, QueryError, query};
use piranha_status::pulse;

use crate::families::{self, Daemons, Kernel};
use crate::model::{LvsdStatus, TableStats, dedup_ipvs};
use crate::{docs, procfs};

/// Where a scrape reads from.
#[derive(Debug)]
pub struct Sources {
    /// pulse's status socket.
    pub pulse_socket: String,
    /// lvsd's status socket.
    pub lvsd_socket: String,
    /// The procfs mount (`/proc`).
    pub procfs: PathBuf,
    /// Time limit for all of a daemon's answers together.
    pub timeout: Duration,
    /// Last outcome per daemon, to log changes only.
    last: [AtomicU8; 2],
}

const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

impl Sources {
    /// Reads from these places.
    pub fn new(pulse_socket: &str, lvsd_socket: &str, procfs: PathBuf, timeout: Duration) -> Self {
        Sources {
            pulse_socket: pulse_socket.into(),
            lvsd_socket: lvsd_socket.into(),
            procfs,
            timeout,
            last: [AtomicU8::new(UNKNOWN), AtomicU8::new(UNKNOWN)],
        }
    }

    /// Logs (stderr) when a daemon starts or stops answering.
    fn note<T>(&self, which: usize, name: &str, r: &Result<T, String>) {
        let now = if r.is_ok() { UP } else { DOWN };
        let before = self.last[which].swap(now, Ordering::Relaxed);
        match r {
            Err(e) if before != DOWN => {
                eprintln!("piranha-exporter: {name}: {e}; piranha_up{{component=\"{name}\"}} is 0")
            }
            Ok(_) if before == DOWN => eprintln!("piranha-exporter: {name} answers again"),
            _ => {}
        }
    }
}

/// Reads `/proc/net/ip_vs` and `/proc/net/ip_vs_stats` under `procfs`.
pub fn read_kernel(procfs: &std::path::Path) -> Kernel {
    let net = procfs.join("net");
    let ipvs = File::open(net.join("ip_vs"))
        .and_then(|f| procfs::parse_ip_vs(BufReader::with_capacity(64 << 10, f)))
        .ok()
        .map(|mut t| {
            dedup_ipvs(&mut t);
            t
        });
    let totals = File::open(net.join("ip_vs_stats"))
        .ok()
        .and_then(|f| procfs::parse_ip_vs_stats(BufReader::new(f)));
    Kernel { ipvs, totals }
}

/// Asks pulse for its `json` document.
pub fn ask_pulse(path: &str, timeout: Duration) -> Result<pulse::Status, String> {
    let text = query(path, "json", timeout).map_err(|e| e.to_string())?;
    docs::pulse_status(&text)
}

/// Asks lvsd for `json`, then `stats`, within `timeout` in all. Each
/// answer is parsed as it is read (see [`lvs_util::status_socket::Answer`]). One after the other:
/// at the same time was no faster on 2 cores (the parse is CPU-bound) and
/// raised the peak memory by about 1 MiB.
pub fn ask_lvsd(path: &str, timeout: Duration) -> Result<(LvsdStatus, TableStats), String> {
    let deadline = Instant::now() + timeout;
    let status = lvsd_status(path, deadline, timeout)?;
    let stats = lvsd_stats(path, deadline, timeout)?;
    Ok((status, stats))
}

fn lvsd_status(path: &str, deadline: Instant, timeout: Duration) -> Result<LvsdStatus, String> {
    let r = Answer::open(path, "json", deadline, timeout).map_err(|e| e.to_string())?;
    docs::lvsd_status_from(BufReader::with_capacity(64 << 10, r))
        .map_err(|e| reason(path, "json", timeout, &e))
}

fn lvsd_stats(path: &str, deadline: Instant, timeout: Duration) -> Result<TableStats, String> {
    let r = Answer::open(path, "stats", deadline, timeout).map_err(|e| e.to_string())?;
    docs::lvsd_stats_from(BufReader::with_capacity(64 << 10, r))
        .map_err(|e| reason(path, "stats", timeout, &e))
}

fn reason(path: &str, request: &str, timeout: Duration, e: &docs::ReadError) -> String {
    match e {
        docs::ReadError::Json(j) => match j.io_error_kind() {
            Some(ErrorKind::TimedOut | ErrorKind::WouldBlock) => QueryError::Timeout {
                path: path.into(),
                ms: timeout.as_millis(),
            }
            .to_string(),
            Some(_) => format!("{path}: {request}: {j}"),
            None => format!("{path}: {request}: {}", docs::describe(e)),
        },
        docs::ReadError::Version(_) => format!("{path}: {request}: {}", docs::describe(e)),
    }
}

/// One scrape to `w`. Never fails but for `w`'s errors (a client gone).
pub fn scrape(src: &Sources, w: &mut impl std::fmt::Write) -> std::fmt::Result {
    std::thread::scope(|s| {
        let pulse = std::thread::Builder::new()
            .name("pulse query".into())
            .spawn_scoped(s, || ask_pulse(&src.pulse_socket, src.timeout));
        let lvsd = std::thread::Builder::new()
            .name("lvsd query".into())
            .spawn_scoped(s, || ask_lvsd(&src.lvsd_socket, src.timeout));
        let kernel = families::encode(w, read_kernel(&src.procfs));
        let pulse = match pulse {
            Ok(h) => h.join().unwrap_or_else(|_| Err("query failed".into())),
            Err(e) => Err(format!("cannot start a thread: {e}")),
        };
        let lvsd = match lvsd {
            Ok(h) => h.join().unwrap_or_else(|_| Err("query failed".into())),
            Err(e) => Err(format!("cannot start a thread: {e}")),
        };
        src.note(0, "pulse", &pulse);
        src.note(1, "lvsd", &lvsd);
        kernel?;
        families::encode(
            w,
            Daemons {
                pulse: pulse.ok(),
                lvsd: lvsd.ok(),
            },
        )
    })
}

/// A [`std::fmt::Write`] that hands its output on in pieces of about
/// `size` bytes; `send` returning false (the reader is gone) makes the
/// next write fail.
pub struct ChunkSink<F: FnMut(bytes::Bytes) -> bool> {
    buf: Vec<u8>,
    size: usize,
    send: F,
}

impl<F: FnMut(bytes::Bytes) -> bool> ChunkSink<F> {
    /// Pieces of `size` bytes to `send`.
    pub fn new(size: usize, send: F) -> Self {
        ChunkSink {
            buf: Vec::with_capacity(size),
            size,
            send,
        }
    }

    fn flush(&mut self) -> std::fmt::Result {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.buf, Vec::with_capacity(self.size));
        if (self.send)(piece.into()) {
            Ok(())
        } else {
            Err(std::fmt::Error)
        }
    }

    /// Sends what is left.
    pub fn finish(mut self) -> std::fmt::Result {
        self.flush()
    }
}

impl<F: FnMut(bytes::Bytes) -> bool> std::fmt::Write for ChunkSink<F> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.buf.extend_from_slice(s.as_bytes());
        if self.buf.len() >= self.size {
            self.flush()?;
        }
        Ok(())
    }
}
