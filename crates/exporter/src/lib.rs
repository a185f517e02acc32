//! `piranha-exporter`: one Prometheus scrape target per LVS router.
//!
//! It reads pulse's and lvsd's status sockets (`docs/status.md`) and
//! `/proc/net/ip_vs` and `/proc/net/ip_vs_stats`, needs no root and writes
//! nothing.
//!
//! The pure core: [`procfs`] (the kernel's files), [`docs`] and [`model`]
//! (the daemons' documents, reduced), [`families`] (the metric families),
//! [`webconfig`] and [`cli`]. The shells: [`scrape`] (socket queries,
//! files, streaming) and [`server`] (HTTP).

pub mod cli;
pub mod docs;
pub mod families;
pub mod model;
pub mod procfs;
pub mod scrape;
pub mod server;
pub mod webconfig;
