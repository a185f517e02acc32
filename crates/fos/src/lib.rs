//! fos: the failover-services daemon pulse runs in `service = fos` mode
//! (fos.md). On the active node (`--active`) it stops and then starts the
//! local service of every active `failover` block; on the standby node
//! (`--monitor`) it stops them and starts one nanny per service that
//! watches the partner's service through its VIP. Any monitor's exit, or
//! SIGTERM/SIGINT/SIGHUP, ends fos, which tells pulse to act.
//!
//! [`core`] is the behaviour as data, [`plan`] the per-block commands from
//! lvs.cf; [`exec`] and [`run`] are the thin shell. The start-up checks on
//! lvs.cf are lvscf's ([`lvscf::startup::fos`]).

pub mod cli;
pub mod core;
pub mod exec;
pub mod plan;
pub mod run;
