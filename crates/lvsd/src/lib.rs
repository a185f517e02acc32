//! lvsd: turns the `virtual` blocks of lvs.cf into the kernel IPVS table,
//! runs one nanny per real server and applies what the nannies report; on
//! SIGHUP it reconciles the running table with the edited file as a diff.
//!
//! * [`cli`]: the command line (lvsd.md §1);
//! * [`config`]: reading lvs.cf once, parsed and fingerprinted;
//! * [`spec`]: lvs.cf → services and nanny command lines (§3, §4);
//! * [`engine`]: the pure core: start-up, the nannies' reports (typed
//!   `nanny_report` messages), the sorry server, nanny deaths, reload and
//!   shutdown (§5–§9);
//! * [`ipvsadm`]: the ipvsadm forms of IPVS changes (`--test-start`);
//! * [`kernel`]: where IPVS changes go (netlink, or printed), and where
//!   the `stats` request reads the table;
//! * [`procs`]: starting nannies with their report pipe, reaping;
//! * [`status_view`]: the engine's state as the `--status` document;
//! * [`status`]: the status socket's answers (`lvsd --status` text and
//!   JSON, the kernel table's `stats`);
//! * [`serving`]: the VIPs the table serves (scale-out mode tells pulse);
//! * [`run`]: the shell: start-up sequence, daemon mode, the event loop.

pub mod cli;
pub mod config;
pub mod engine;
pub mod ipvsadm;
pub mod kernel;
pub mod procs;
pub mod run;
pub mod serving;
pub mod spec;
pub mod status;
pub mod status_view;
