//! [`IpvsTable`]: what lvsd, nanny and pulse need from IPVS, implemented by
//! the netlink [`Client`] and by the in-memory [`MemTable`](crate::MemTable).

use std::future::Future;

use crate::client::Client;
use crate::error::Error;
use crate::model::*;

/// The IPVS table of one network namespace.
///
/// Code that programs IPVS should be generic over this trait, so its unit
/// tests can run against [`MemTable`](crate::MemTable) and the real thing
/// against [`Client`].
pub trait IpvsTable: Send + Sync {
    /// Applies `ops` in order. Every op is attempted (the kernel goes on after
    /// a failure); the first failure is returned.
    fn apply(&self, ops: &[Op]) -> impl Future<Output = Result<(), Error>> + Send;

    /// Every service.
    fn services(&self) -> impl Future<Output = Result<Vec<ServiceEntry>, Error>> + Send;

    /// The destinations of a service (empty if it does not exist).
    fn dests(&self, key: &ServiceKey)
    -> impl Future<Output = Result<Vec<DestEntry>, Error>> + Send;

    /// Deletes every service.
    fn flush(&self) -> impl Future<Output = Result<(), Error>> + Send;

    /// Zeroes the counters of one service or all.
    fn zero(&self, key: Option<&ServiceKey>) -> impl Future<Output = Result<(), Error>> + Send;

    /// The connection timeouts.
    fn timeouts(&self) -> impl Future<Output = Result<Timeouts, Error>> + Send;

    /// Sets the connection timeouts (0 = unchanged).
    fn set_timeouts(&self, t: &Timeouts) -> impl Future<Output = Result<(), Error>> + Send;

    /// Starts a sync daemon.
    fn start_daemon(&self, d: &SyncDaemon) -> impl Future<Output = Result<(), Error>> + Send;

    /// Stops a sync daemon.
    fn stop_daemon(&self, state: DaemonState) -> impl Future<Output = Result<(), Error>> + Send;

    /// The running sync daemons.
    fn daemons(&self) -> impl Future<Output = Result<Vec<SyncDaemon>, Error>> + Send;

    /// IPVS version and connection-table size.
    fn info(&self) -> impl Future<Output = Result<Info, Error>> + Send;

    /// Every service with its destinations.
    fn dump(&self) -> impl Future<Output = Result<Vec<ServiceDump>, Error>> + Send {
        async move {
            let mut out = Vec::new();
            for entry in self.services().await? {
                let dests = self.dests(&entry.service.key).await?;
                out.push(ServiceDump { entry, dests });
            }
            Ok(out)
        }
    }

    /// The table without counters, as [`crate::reconcile::plan`] takes it.
    fn snapshot(&self) -> impl Future<Output = Result<Vec<VirtualService>, Error>> + Send {
        async move {
            Ok(self
                .dump()
                .await?
                .iter()
                .map(VirtualService::from)
                .collect())
        }
    }
}

impl IpvsTable for Client {
    async fn apply(&self, ops: &[Op]) -> Result<(), Error> {
        Client::apply(self, ops).await
    }

    async fn services(&self) -> Result<Vec<ServiceEntry>, Error> {
        Client::services(self).await
    }

    async fn dests(&self, key: &ServiceKey) -> Result<Vec<DestEntry>, Error> {
        Client::dests(self, key).await
    }

    async fn flush(&self) -> Result<(), Error> {
        Client::flush(self).await
    }

    async fn zero(&self, key: Option<&ServiceKey>) -> Result<(), Error> {
        Client::zero(self, key).await
    }

    async fn timeouts(&self) -> Result<Timeouts, Error> {
        Client::timeouts(self).await
    }

    async fn set_timeouts(&self, t: &Timeouts) -> Result<(), Error> {
        Client::set_timeouts(self, t).await
    }

    async fn start_daemon(&self, d: &SyncDaemon) -> Result<(), Error> {
        Client::start_daemon(self, d).await
    }

    async fn stop_daemon(&self, state: DaemonState) -> Result<(), Error> {
        Client::stop_daemon(self, state).await
    }

    async fn daemons(&self) -> Result<Vec<SyncDaemon>, Error> {
        Client::daemons(self).await
    }

    async fn info(&self) -> Result<Info, Error> {
        Client::info(self).await
    }
}
