//! pulse: heartbeat and failover between two LVS routers (pulse.md).
//!
//! The pure core is [`machine`] (the state machine, both `service = lvs`
//! and `service = fos`) and [`heartbeat`] (the wire format); everything
//! else is a thin adapter around sockets, netlink and processes.

pub mod alarm;
pub mod announce;
pub mod arp;
pub mod auth;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod files;
pub mod gateway;
pub mod heartbeat;
pub mod machine;
pub mod netif;
pub mod procs;
pub mod run;
pub mod scale_out;
pub mod status;
pub mod status_server;
pub mod sync;
pub mod vip;
