//! ipvsadm compatibility in one place: ipvsadm's command text both ways.
//!
//! * [`command`]: an ipvsadm command line (argv, or a `-R` restore line) →
//!   a checked [`command::Cmd`] with ipvsadm's rules and messages, and from
//!   it the table change ([`command::Cmd::op`], an [`ipvs::Op`]). The
//!   scanner is popt's, table-driven ([`lvs_util::popt::scan`]).
//! * [`text`]: an [`ipvs::Op`] → the ipvsadm arguments that make it (lvsd's
//!   and nanny's `--test-start`, messages).
//! * [`names`]: host, address and port names as ipvsadm looks them up.
//!
//! The `ipvsadm-rs` binary (this crate's `src/bin`) runs the commands on
//! the kernel table through the `ipvs` crate.
//!
//! ```
//! let op = ipvsadm::parse_op("-A -t 192.0.2.10:80 -s rr").unwrap().unwrap();
//! assert_eq!(ipvsadm::text::op_args(&op), "-A -t 192.0.2.10:80 -s rr");
//! ```

pub mod command;
pub mod names;
pub mod text;

pub use command::{Cmd, CmdKind, Fail};

/// Parses one ipvsadm command line given as text (split as `-R` splits its
/// lines) into the table change it makes; `Ok(None)` for a command that is
/// no table change (`-L`, `-C`, `--set`, ...).
pub fn parse_op(line: &str) -> Result<Option<ipvs::Op>, Fail> {
    Ok(command::parse(&command::restore_words(line))?.op())
}
