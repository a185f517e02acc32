//! Pieces every Piranha daemon shares: the `--version` banner, logging
//! (syslog with the program's ident, or `prog: MESSAGE` on stdout), popt's
//! wording for command-line errors and daemonizing with a pid file.

pub mod daemon;
pub mod log;
pub mod popt;
pub mod version;
