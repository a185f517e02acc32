//! The JSON documents pulse and lvsd serve on their status sockets, version
//! 1 (`docs/status.md`): one definition for the daemons that write them and
//! the exporter and web tool that read them.
//!
//! Every struct reads with `#[serde(default)]`: a field a newer daemon adds
//! is ignored, a field an older one lacks takes its default.

pub mod lvsd;
pub mod pulse;

/// The document version these types describe.
pub const VERSION: u32 = 1;
