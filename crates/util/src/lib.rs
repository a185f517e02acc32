//! Pieces every Piranha daemon shares: the `--version` banner, logging
//! (syslog with the program's ident, or `prog: MESSAGE` on stdout), popt's
//! wording for command-line errors, daemonizing with a pid file, the
//! master/backup role test and child-process helpers.

pub mod daemon;
pub mod log;
pub mod netif;
pub mod popt;
pub mod process;
pub mod version;
