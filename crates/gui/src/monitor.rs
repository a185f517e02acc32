//! What CONTROL/MONITORING shows, read from pulse's and lvsd's status
//! sockets and `/proc/net/ip_vs` (blocking: call it off the async threads).

use std::path::PathBuf;
use std::time::Duration;

use lvs_util::status_socket::query;
use piranha_status::pulse::Status;

/// How long a daemon may take to answer.
pub const TIMEOUT: Duration = Duration::from_millis(900);

/// Where to look.
#[derive(Debug, Clone)]
pub struct Sources {
    /// pulse's status socket.
    pub pulse_socket: String,
    /// lvsd's status socket.
    pub lvsd_socket: String,
    /// Where procfs is mounted.
    pub procfs: PathBuf,
}

/// One look at the router.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// pulse's answer, or why there is none.
    pub pulse: Result<Status, String>,
    /// lvsd's text answer, or why there is none.
    pub lvsd: Result<String, String>,
    /// `/proc/net/ip_vs`, or why it cannot be read.
    pub ipvs: Result<String, String>,
}

impl Sources {
    /// Reads all three.
    pub fn snapshot(&self) -> Snapshot {
        let pulse = query(&self.pulse_socket, "json", TIMEOUT)
            .map_err(|e| e.to_string())
            .and_then(|t| {
                serde_json::from_str::<Status>(&t)
                    .map_err(|e| format!("{}: {e}", self.pulse_socket))
            });
        let lvsd = query(&self.lvsd_socket, "text", TIMEOUT).map_err(|e| e.to_string());
        let path = self.procfs.join("net/ip_vs");
        let ipvs = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()));
        Snapshot { pulse, lvsd, ipvs }
    }
}
