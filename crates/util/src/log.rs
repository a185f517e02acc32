//! Piranha-style logging through `tracing`.
//!
//! Daemon mode sends each event's message to syslog (ident = program name,
//! `LOG_PID`, facility daemon, priority info). Foreground mode (`--nodaemon`)
//! writes `PROGRAM: MESSAGE\n` to stdout. Messages are always passed to
//! syslog as data (`"%s"`), never as a format (gaps.md A4).

use std::ffi::CString;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::OnceLock;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// syslog(3), facility daemon, with PID.
    Syslog,
    /// `PROGRAM: MESSAGE` lines on stdout.
    Stdout,
}

/// A `tracing` layer that writes Piranha-format lines.
pub struct PiranhaLayer {
    program: &'static str,
    sink: Sink,
    stdout_max: Option<usize>,
}

static IDENT: OnceLock<CString> = OnceLock::new();

impl PiranhaLayer {
    /// Creates the layer; for [`Sink::Syslog`] this calls `openlog`.
    pub fn new(program: &'static str, sink: Sink) -> Self {
        if sink == Sink::Syslog {
            let ident = IDENT.get_or_init(|| CString::new(program).unwrap_or_default());
            // SAFETY: ident lives for the whole process (static OnceLock).
            unsafe { libc::openlog(ident.as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
        }
        PiranhaLayer {
            program,
            sink,
            stdout_max: None,
        }
    }

    /// Cuts each message written to stdout to at most `max` bytes (see
    /// [`cut`]); syslog still gets whole messages.
    pub fn stdout_max(mut self, max: usize) -> Self {
        self.stdout_max = Some(max);
        self
    }

    /// Writes one message to the sink.
    pub fn emit(&self, message: &str) {
        match self.sink {
            Sink::Syslog => syslog_info(message),
            Sink::Stdout => {
                let line = stdout_line(self.program, message, self.stdout_max);
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(line.as_bytes());
                let _ = out.flush();
            }
        }
    }
}

/// Longest message Piranha's programs write to stdout (their 256-byte
/// message buffers); syslog gets whole messages.
pub const STDOUT_MESSAGE_MAX: usize = 255;

/// The first `max` bytes of `message`, or fewer so as not to split a
/// character (Piranha's fixed-size message buffers kept 255 bytes).
pub fn cut(message: &str, max: usize) -> &str {
    let mut end = message.len().min(max);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

/// The stdout line for `message`: `PROGRAM: MESSAGE\n`, the message cut to
/// `max` bytes when a limit is set.
pub fn stdout_line(program: &str, message: &str, max: Option<usize>) -> String {
    let message = match max {
        Some(max) => cut(message, max),
        None => message,
    };
    format!("{program}: {message}\n")
}

/// Sends one message to syslog at priority info, as data.
pub fn syslog_info(message: &str) {
    let bytes: Vec<u8> = message.bytes().filter(|&b| b != 0).collect();
    if let Ok(c) = CString::new(bytes) {
        // SAFETY: the format is a fixed "%s" and the argument a valid C string.
        unsafe { libc::syslog(libc::LOG_INFO, c"%s".as_ptr(), c.as_ptr()) };
    }
}

#[derive(Default)]
struct MessageVisitor {
    message: String,
}

impl Visit for MessageVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        }
    }
}

impl<S: Subscriber> Layer<S> for PiranhaLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut v = MessageVisitor::default();
        event.record(&mut v);
        self.emit(&v.message);
    }
}

/// Installs the Piranha layer as the global subscriber. Events at DEBUG and
/// TRACE are dropped unless `verbose` is set.
pub fn init(program: &'static str, sink: Sink, verbose: bool) {
    install(PiranhaLayer::new(program, sink), verbose);
}

/// Like [`init`], but messages written to stdout are cut to `max` bytes
/// (pulse's `-n` output, pulse.md §11.1); syslog gets whole messages.
pub fn init_stdout_max(program: &'static str, sink: Sink, verbose: bool, max: usize) {
    install(PiranhaLayer::new(program, sink).stdout_max(max), verbose);
}

fn install(layer: PiranhaLayer, verbose: bool) {
    let level = if verbose {
        tracing::level_filters::LevelFilter::DEBUG
    } else {
        tracing::level_filters::LevelFilter::INFO
    };
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(level))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdout_lines_are_program_colon_message() {
        assert_eq!(stdout_line("lvs", "hello", None), "lvs: hello\n");
        let long = "x".repeat(300);
        assert_eq!(stdout_line("fos", &long, None), format!("fos: {long}\n"));
    }

    #[test]
    fn a_stdout_limit_cuts_the_message_not_the_prefix() {
        let long: String = (0..300)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let line = stdout_line("pulse", &long, Some(255));
        assert_eq!(line, format!("pulse: {}\n", &long[..255]));
        assert_eq!(line.len(), "pulse: ".len() + 255 + 1);
        // Exactly 255 bytes and shorter messages are whole.
        assert_eq!(
            stdout_line("pulse", &long[..255], Some(255)),
            format!("pulse: {}\n", &long[..255])
        );
        assert_eq!(stdout_line("pulse", "short", Some(255)), "pulse: short\n");
    }

    #[test]
    fn cut_never_splits_a_character() {
        // 254 ASCII bytes, then a two-byte character across the limit.
        let msg = format!("{}é", "a".repeat(254));
        assert_eq!(cut(&msg, 255), "a".repeat(254));
        assert_eq!(cut(&msg, 256), msg);
        assert_eq!(cut("", 255), "");
    }
}
