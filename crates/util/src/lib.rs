//! Pieces every Piranha daemon shares: the `--version` banner and logging
//! (syslog with the program's ident, or `prog: MESSAGE` on stdout).

pub mod log;
pub mod version;
