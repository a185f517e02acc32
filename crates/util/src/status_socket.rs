//! The status sockets of pulse and lvsd (`--status`): a UNIX stream socket
//! on which a client writes one request line (`text`, `json`, ...) and
//! reads the answer until end of file.
//!
//! Both daemons run as root; the socket is readable (connectable) by root
//! and the members of the [`GROUP`] group, so the exporter and the web
//! tool can run without root. Without that group it is root's alone.

use std::io::{ErrorKind, Read, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};

/// The group whose members may read the daemons' status.
pub const GROUP: &str = "piranha";

/// Longest request line a server reads.
pub const REQUEST_MAX: usize = 256;

/// Largest answer a client accepts (the status of 20,000 real servers
/// with their counters fits many times over).
pub const ANSWER_MAX: usize = 256 << 20;

/// How long a server waits for the request line.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds `path` for a daemon: a stale socket file is replaced, a socket a
/// live process answers on is refused (`AddrInUse`, naming `who`). The
/// socket gets mode 0660 and group [`GROUP`] when that group exists, else
/// mode 0600.
pub fn bind(path: &str, who: &str) -> std::io::Result<tokio::net::UnixListener> {
    let p = std::path::Path::new(path);
    if p.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("another {who} answers on it"),
            ));
        }
        std::fs::remove_file(path)?;
    }
    // Never readable by others, not even between bind and chmod.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let l = tokio::net::UnixListener::bind(path);
    nix::sys::stat::umask(old);
    let l = l?;
    let mode = match nix::unistd::Group::from_name(GROUP) {
        Ok(Some(g)) => match nix::unistd::chown(p, None, Some(g.gid)) {
            Ok(()) => 0o660,
            Err(_) => 0o600,
        },
        _ => 0o600,
    };
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))?;
    Ok(l)
}

/// Serves one client: reads its request line (at most [`REQUEST_MAX`]
/// bytes, within 5 s), asks `answer` for the reply (`None`: the daemon is
/// stopping, the client gets nothing) and writes it.
pub async fn serve<F, Fut>(stream: tokio::net::UnixStream, answer: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let (r, mut w) = stream.into_split();
    let mut line = Vec::new();
    let mut r = tokio::io::BufReader::new(tokio::io::AsyncReadExt::take(r, REQUEST_MAX as u64));
    let read = tokio::time::timeout(REQUEST_TIMEOUT, r.read_until(b'\n', &mut line)).await;
    if !matches!(read, Ok(Ok(_))) {
        return;
    }
    let request = String::from_utf8_lossy(&line).trim().to_string();
    if let Some(reply) = answer(request).await {
        let _ = w.write_all(reply.as_bytes()).await;
    }
    let _ = w.shutdown().await;
}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Could not connect (no daemon, no permission).
    #[error("{path}: {source}")]
    Connect {
        /// The socket.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The daemon did not answer completely in time.
    #[error("{path}: no complete answer within {ms} ms")]
    Timeout {
        /// The socket.
        path: String,
        /// The time limit.
        ms: u128,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The socket.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The answer was larger than [`ANSWER_MAX`] or not UTF-8.
    #[error("{path}: {what}")]
    Answer {
        /// The socket.
        path: String,
        /// What was wrong.
        what: String,
    },
}

/// A daemon's answer as a reader, for documents too large to hold twice
/// (lvsd's for 20,000 real servers is about 5 MB): parse it as it arrives
/// (wrap it in a `BufReader`). One time limit covers connect, write and
/// every read; more than [`ANSWER_MAX`] bytes is an error.
pub struct Answer {
    s: UnixStream,
    deadline: Instant,
    timeout: Duration,
    path: String,
    read: usize,
}

impl Answer {
    /// Connects to `path` and sends `request`; the whole answer must be
    /// read by `deadline` (`timeout` is what error messages call it).
    pub fn open(
        path: &str,
        request: &str,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<Answer, QueryError> {
        let late = || QueryError::Timeout {
            path: path.into(),
            ms: timeout.as_millis(),
        };
        let io = |source| QueryError::Io {
            path: path.into(),
            source,
        };
        if Instant::now() >= deadline {
            return Err(late());
        }
        let mut s = UnixStream::connect(path).map_err(|source| QueryError::Connect {
            path: path.into(),
            source,
        })?;
        let left = left(deadline).ok_or_else(late)?;
        s.set_write_timeout(Some(left)).map_err(io)?;
        let mut req = request.trim_end().to_string();
        req.push('\n');
        s.write_all(req.as_bytes()).map_err(|e| match e.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => late(),
            _ => io(e),
        })?;
        Ok(Answer {
            s,
            deadline,
            timeout,
            path: path.into(),
            read: 0,
        })
    }
}

fn left(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
}

impl Read for Answer {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = left(self.deadline).ok_or_else(|| {
            std::io::Error::new(
                ErrorKind::TimedOut,
                format!(
                    "{}: no complete answer within {} ms",
                    self.path,
                    self.timeout.as_millis()
                ),
            )
        })?;
        self.s.set_read_timeout(Some(left))?;
        let n = self.s.read(buf)?;
        self.read += n;
        if self.read > ANSWER_MAX {
            return Err(std::io::Error::other(format!(
                "answer larger than {ANSWER_MAX} bytes"
            )));
        }
        Ok(n)
    }
}

/// Sends `request` to the daemon on `path` and reads the whole answer,
/// giving up after `timeout` in all (connect, write and read together).
pub fn query(path: &str, request: &str, timeout: Duration) -> Result<String, QueryError> {
    let mut answer = Answer::open(path, request, Instant::now() + timeout, timeout)?;
    let mut out = Vec::new();
    answer.read_to_end(&mut out).map_err(|e| match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => QueryError::Timeout {
            path: path.to_string(),
            ms: timeout.as_millis(),
        },
        ErrorKind::Other => QueryError::Answer {
            path: path.to_string(),
            what: e.to_string(),
        },
        _ => QueryError::Io {
            path: path.to_string(),
            source: e,
        },
    })?;
    String::from_utf8(out).map_err(|_| QueryError::Answer {
        path: path.to_string(),
        what: "answer is not UTF-8".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_permissions_and_limits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let path = path.to_str().unwrap().to_string();
        let l = bind(&path, "test daemon").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert!(mode == 0o600 || mode == 0o660, "mode {mode:o}");
        // A live socket is not replaced.
        let e = bind(&path, "test daemon").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
        assert!(e.to_string().contains("another test daemon"));
        tokio::spawn(async move {
            loop {
                let (s, _) = l.accept().await.unwrap();
                tokio::spawn(serve(s, |req| async move {
                    match req.as_str() {
                        "slow" => {
                            tokio::time::sleep(Duration::from_secs(3)).await;
                            Some("late\n".into())
                        }
                        "none" => None,
                        r => Some(format!("you said {r}\n")),
                    }
                }));
            }
        });
        let p = path.clone();
        let r = tokio::task::spawn_blocking(move || {
            (
                query(&p, "json", Duration::from_secs(2)).unwrap(),
                query(&p, "none", Duration::from_secs(2)).unwrap(),
                query(&p, "slow", Duration::from_millis(200)).unwrap_err(),
            )
        })
        .await
        .unwrap();
        assert_eq!(r.0, "you said json\n");
        assert_eq!(r.1, "");
        assert!(matches!(r.2, QueryError::Timeout { .. }), "{:?}", r.2);
        let missing = dir.path().join("missing.sock");
        let e = query(missing.to_str().unwrap(), "json", Duration::from_secs(1)).unwrap_err();
        assert!(matches!(e, QueryError::Connect { .. }));
    }

    #[test]
    fn stale_socket_is_replaced() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let path = path.to_str().unwrap();
        // A socket file nobody listens on any more.
        drop(std::os::unix::net::UnixListener::bind(path).unwrap());
        rt.block_on(async { bind(path, "x").unwrap() });
    }
}
