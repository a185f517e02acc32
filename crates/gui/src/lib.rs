//! `piranha_gui`: the Piranha Configuration Tool, and `piranha-passwd`.
//!
//! The pure parts: [`passwd`] (the htpasswd-format password file),
//! [`access`] (`--allow` and `.htaccess`), [`auth`] (sessions, CSRF tokens,
//! failed-login limit), [`pages`] (what each screen shows). The shells:
//! [`server`] (HTTP) and [`monitor`] (pulse's and lvsd's sockets, procfs).

pub mod access;
pub mod auth;
pub mod charts;
pub mod cli;
pub mod monitor;
pub mod pages;
pub mod passwd;
pub mod save;
pub mod server;
