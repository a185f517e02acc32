//! The kernel IPVS table over generic netlink.
//!
//! lvsd, nanny and pulse program IPVS only through this crate. It speaks the
//! IPVS generic-netlink family directly (see `docs/spec/ipvs-genl.md`) on
//! one persistent socket, and resolves the family once.
//!
//! * [`Client`]: the real table of the caller's network namespace. Create it
//!   inside a tokio runtime with [`Client::connect`].
//! * [`IpvsTable`]: the operations as a trait, implemented by [`Client`] and
//!   by the in-memory [`MemTable`] for unit tests.
//! * [`reconcile::plan`]: desired table + current table + owned services →
//!   the minimal ordered list of [`Op`]s.
//! * [`Error`]: typed errors naming the operation and the object, with
//!   ipvsadm's plain messages.
//!
//! ipvsadm's command text (both ways) lives in the `ipvsadm` crate.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ipvs::Error> {
//! use ipvs::{Client, Dest, Forward, Service, ServiceKey};
//! let ipvs = Client::connect().await?;
//! let key = ServiceKey::tcp([192, 0, 2, 10], 80);
//! ipvs.add_service(&Service::new(key, "wlc")).await?;
//! ipvs.add_dest(&key, &Dest::new([10, 0, 0, 1], 80, Forward::Masq).weight(3)).await?;
//! for s in ipvs.dump().await? {
//!     println!("{} {} dests", s.entry.service.key, s.dests.len());
//! }
//! # Ok(()) }
//! ```

pub mod codec;
pub mod consts;
pub mod error;
pub mod reconcile;

mod client;
mod memory;
mod model;
mod table;

pub use client::Client;
pub use error::{Error, Operation};
pub use memory::MemTable;
pub use model::*;
pub use table::IpvsTable;
