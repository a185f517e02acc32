//! nanny: the per-real-server health checker of Piranha, as a library and
//! the `nanny` binary.
//!
//! * [`cli`]: the command line (nanny.md §1);
//! * [`core`]: the pure monitor state machine (§3, §5–§9);
//! * [`load`]: load probe parsing and the weight formulas (§6, §7);
//! * [`escape`]: backslash escapes of send/expect strings.

pub mod cli;
pub mod core;
pub mod escape;
pub mod load;
