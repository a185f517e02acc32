//! nanny: the per-real-server health checker of Piranha, as a library and
//! the `nanny` binary.
//!
//! * [`config`]: the validated configuration; [`cli`]: the command line
//!   that gives it (nanny.md §1);
//! * [`core`]: the pure monitor state machine (§3, §5–§9);
//! * [`load`]: load probe parsing and the weight formulas (§6, §7);
//! * [`check`], [`program`], [`exec`]: the TCP/UDP check, the external
//!   program and the load probe;
//! * [`report`]: the protocol nanny speaks to lvsd on `NANNY_REPORT_FD`
//!   (the `nanny-report` crate, re-exported) and how nanny's IPVS changes
//!   become its messages;
//! * [`apply`], [`kernel`]: carrying out IPVS changes;
//! * [`run`]: the shell that ties them together.
//!
//! # Using nanny from lvsd
//!
//! lvsd stays the only writer of the IPVS table (ARCHITECTURE.md): it starts
//! each nanny with exactly the argv of lvsd.md §4 and, in its environment,
//! `NANNY_REPORT_FD=N` naming the inherited write end of a pipe (and, when
//! restarting a nanny on reload, `NANNY_REPORT_RESUME`). It reads the pipe
//! line by line and hands each line to [`report::parse`] (a
//! [`report::Report`]):
//!
//! * `Report::Weight`/`Report::Removed` (`add`/`edit`/`del`): the weight
//!   nanny wants for its real server in the table (configured, slow start,
//!   load probe; 0 = quiesced), or out of it; lvsd composes the IPVS
//!   operation from its own configuration (a failed one is lvsd's to
//!   handle; the original nanny exited 255, gaps.md E6);
//! * `Report::State`: the health verdict, sent after the first check and
//!   on every change, for the sorry-server logic (lvsd.md §6);
//! * `Report::Result`: the raw result of a check, sent after the first
//!   check and whenever it changes (pass while a failed server re-enters,
//!   say), for `lvsd --status`;
//! * `Report::Failed`: a check failed (sent after every failed check), for
//!   the failed-check count of `lvsd --status`;
//! * `Err(ParseError::Verb(_))`: a verb added later; ignore it.
//!
//! Lines are versioned (`nanny1 …`); see [`report`] for the grammar. With
//! `--nodaemon` nanny still prints the original `nanny: …` lines on stdout.

pub mod apply;
pub mod check;
pub mod cli;
pub mod config;
pub mod core;
pub mod exec;
pub mod kernel;
pub mod load;
pub mod program;
pub mod regex;
pub mod report;
pub mod run;
pub mod sys;
