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
        PiranhaLayer { program, sink }
    }

    /// Writes one message to the sink.
    pub fn emit(&self, message: &str) {
        match self.sink {
            Sink::Syslog => syslog_info(message),
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}: {}", self.program, message);
                let _ = out.flush();
            }
        }
    }
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
    let level = if verbose {
        tracing::level_filters::LevelFilter::DEBUG
    } else {
        tracing::level_filters::LevelFilter::INFO
    };
    let _ = tracing_subscriber::registry()
        .with(PiranhaLayer::new(program, sink).with_filter(level))
        .try_init();
}
