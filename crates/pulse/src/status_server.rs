//! The shell around [`crate::status`]: the status socket (`pulse --status`)
//! and the facts only the system knows at query time (which VIPs this
//! router holds, the devices of the monitored links, the configuration
//! file on disk). Requests are answered from a shared copy of the tracker,
//! so the main loop never waits for a client and a client never waits for
//! the main loop.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use piranha_status::pulse as doc;

use crate::config::Target;
use crate::status::{self, Facts, Tracker};

/// Default status socket.
pub const STATUS_SOCKET: &str = "/run/pulse.sock";

/// What the loop publishes after every step.
#[derive(Debug)]
pub struct Shared {
    /// The record.
    pub tracker: Tracker,
    /// The running lvsd's (fos's) pid.
    pub daemon_pid: Option<u32>,
}

/// What the server knows from start-up.
pub struct Context {
    /// The loop's time origin (the tracker's times are offsets from it).
    pub origin: Instant,
    /// The published state.
    pub shared: Arc<Mutex<Shared>>,
    /// The monitored links: (name, our address).
    pub links: Vec<(&'static str, IpAddr)>,
    /// The addresses pulse brings up when active.
    pub vips: Vec<Target>,
    /// lvs.cf's path.
    pub config_file: String,
    /// lvs.cf as pulse read it at start-up.
    pub loaded: lvscf::Fingerprint,
    /// The last fingerprint of the file on disk (parsed only when it changes).
    pub current: Mutex<Option<lvscf::Fingerprint>>,
}

/// How a client asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// For people.
    Text,
    /// The JSON document.
    Json,
}

impl Format {
    /// From a request line.
    pub fn from_request(line: &str) -> Option<Format> {
        match line.trim() {
            "text" | "" => Some(Format::Text),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    /// The request line.
    pub fn request(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
        }
    }
}

/// Binds `path` and serves it until the process ends; `None` (logged) if
/// the socket cannot be bound: pulse runs on without it.
pub fn start(path: &str, ctx: Arc<Context>) -> Option<()> {
    let listener = match lvs_util::status_socket::bind(path, "pulse") {
        Ok(l) => l,
        Err(e) => {
            tracing::info!(
                "status socket {path}: {}; pulse --status will not work",
                lvs_util::errtext(&e)
            );
            return None;
        }
    };
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                // Out of descriptors and the like: try again shortly.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let ctx = ctx.clone();
            tokio::spawn(lvs_util::status_socket::serve(s, move |req| async move {
                Some(match Format::from_request(&req) {
                    Some(f) => answer(&ctx, f).await,
                    None => "unknown request: expected text or json\n".to_string(),
                })
            }));
        }
    });
    Some(())
}

/// The answer in `format`.
async fn answer(ctx: &Arc<Context>, format: Format) -> String {
    let c = ctx.clone();
    let facts = tokio::task::spawn_blocking(move || gather(&c))
        .await
        .unwrap_or_default();
    let now = ctx.origin.elapsed();
    let wall = lvs_util::timefmt::wall_now();
    let snapshot = {
        let shared = match ctx.shared.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let facts = Facts {
            daemon_pid: shared.daemon_pid,
            ..facts
        };
        shared.tracker.snapshot(facts, now, wall)
    };
    match format {
        Format::Json => {
            let mut j = serde_json::to_string_pretty(&snapshot)
                .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
            j.push('\n');
            j
        }
        Format::Text => status::text(&snapshot),
    }
}

/// The facts of the system now (blocking: reads the interface list and
/// lvs.cf).
fn gather(ctx: &Context) -> Facts {
    let addrs = lvs_util::netif::addresses().unwrap_or_default();
    let links = ctx
        .links
        .iter()
        .map(|(name, ip)| doc::Link {
            name: (*name).into(),
            address: ip.to_string(),
            device: addrs
                .iter()
                .find(|(_, a, _)| a == ip)
                .map(|(label, _, _)| crate::config::base_dev(label).to_string()),
            up: crate::netif::link_up_for(*ip),
        })
        .collect();
    let vips = ctx
        .vips
        .iter()
        .map(|t| doc::Vip {
            address: t.ip.to_string(),
            device: t.dev.clone(),
            netmask: t.mask.map(|m| m.to_string()),
            held: addrs.iter().any(|(_, a, _)| *a == t.ip),
        })
        .collect();
    Facts {
        pid: std::process::id(),
        daemon_pid: None,
        links,
        vips,
        config: config_on_disk(&ctx.config_file, &ctx.loaded, &ctx.current),
    }
}

/// lvs.cf as it is on disk now and as it was loaded (what the comparison
/// of the routers' files reads). The file is parsed only when its bytes
/// differ from both `loaded` and the last fingerprint kept in `current`.
pub fn config_on_disk(
    file: &str,
    loaded: &lvscf::Fingerprint,
    current: &Mutex<Option<lvscf::Fingerprint>>,
) -> doc::Config {
    let (sha256, serial_no) = match std::fs::read(file) {
        Ok(bytes) => {
            let sha = lvscf::sha256_hex(&bytes);
            let mut cache = match current.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            let fp = match cache.as_ref() {
                Some(f) if f.sha256 == sha => f.clone(),
                _ if sha == loaded.sha256 => loaded.clone(),
                _ => lvscf::Fingerprint::of_bytes(&bytes, file),
            };
            *cache = Some(fp.clone());
            (Some(fp.sha256), fp.serial_no.map(i64::from))
        }
        Err(_) => (None, None),
    };
    doc::Config {
        file: file.to_string(),
        serial_no,
        sha256,
        loaded_serial_no: loaded.serial_no.map(i64::from),
        loaded_sha256: loaded.sha256.clone(),
    }
}

/// `pulse --status [--json]`: asks the pulse on `socket` and prints the
/// answer; the exit status.
pub fn query_main(socket: &str, format: Format) -> u8 {
    match lvs_util::status_socket::query(socket, format.request(), Duration::from_secs(10)) {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(e) => {
            eprintln!("pulse: cannot get the status of pulse: {e}");
            1
        }
    }
}
