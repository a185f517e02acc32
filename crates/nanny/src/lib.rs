//! nanny: the per-real-server health checker of Piranha, as a library and
//! the `nanny` binary.
//!
//! * [`cli`]: the command line (nanny.md §1);
//! * [`core`]: the pure monitor state machine (§3, §5–§9);
//! * [`load`]: load probe parsing and the weight formulas (§6, §7);
//! * [`check`], [`program`], [`exec`]: the TCP/UDP check, the external
//!   program and the load probe;
//! * [`report`]: the protocol nanny speaks to lvsd on `NANNY_REPORT_FD`,
//!   with its parser (for lvsd);
//! * [`apply`], [`kernel`]: carrying out IPVS changes;
//! * [`run`]: the shell that ties them together.

pub mod apply;
pub mod check;
pub mod cli;
pub mod core;
pub mod exec;
pub mod kernel;
pub mod load;
pub mod program;
pub mod regex;
pub mod report;
pub mod run;
pub mod sys;
