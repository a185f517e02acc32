//! The IPVS connection-sync daemon (§13) through `crates/ipvs`: stop the
//! backup daemon, stop the master daemon, start the wanted one. Failures
//! are not fatal, as the original ignored ipvsadm's exit status.

use ipvs::{DaemonState, IpvsTable, SyncDaemon};

use crate::machine::SyncRole;

/// Sync-daemon settings from lvs.cf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSettings {
    /// `syncd_iface`.
    pub iface: String,
    /// `syncd_id` (only the low 8 bits are used).
    pub id: u32,
}

/// Restarts the sync daemon in `role`.
pub async fn restart<T: IpvsTable>(table: &T, s: &SyncSettings, role: SyncRole) {
    for state in [DaemonState::Backup, DaemonState::Master] {
        tracing::debug!("DEBUG -- Executing 'ipvsadm --stop-daemon {}'", name(state));
        // "No daemon is running" is the normal case here.
        let _ = table.stop_daemon(state).await;
    }
    let state = match role {
        SyncRole::Master => DaemonState::Master,
        SyncRole::Backup => DaemonState::Backup,
    };
    let id = s.id & 0xff;
    tracing::debug!(
        "DEBUG -- Executing 'ipvsadm --start-daemon {} --mcast-interface {} --syncid {id}'",
        name(state),
        s.iface
    );
    if let Err(e) = table
        .start_daemon(&SyncDaemon::new(state, &s.iface, id))
        .await
    {
        tracing::info!("failed to start the {} sync daemon: {e}", name(state));
    }
}

fn name(state: DaemonState) -> &'static str {
    match state {
        DaemonState::Master => "master",
        DaemonState::Backup => "backup",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipvs::MemTable;

    #[tokio::test]
    async fn restart_leaves_exactly_the_wanted_daemon() {
        let t = MemTable::new();
        let s = SyncSettings {
            iface: "eth1".into(),
            id: 0x107,
        };
        restart(&t, &s, SyncRole::Backup).await;
        let d = t.daemons().await.unwrap();
        assert_eq!(d, vec![SyncDaemon::new(DaemonState::Backup, "eth1", 7)]);
        restart(&t, &s, SyncRole::Master).await;
        let d = t.daemons().await.unwrap();
        assert_eq!(d, vec![SyncDaemon::new(DaemonState::Master, "eth1", 7)]);
        restart(&t, &s, SyncRole::Master).await;
        assert_eq!(t.daemons().await.unwrap().len(), 1);
    }
}
