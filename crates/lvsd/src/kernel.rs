//! Where lvsd's IPVS changes go: the kernel over netlink (`crates/ipvs`),
//! nowhere when IPVS is missing (every change fails, as ipvsadm would), or
//! the log for `--test-start` (`test-start: IPVSADM ARGS`) and an
//! in-memory table. [`TableSource`] reads the table back for the `stats`
//! request, away from lvsd's loop.

use std::sync::Arc;

use ipvs::{Client, IpvsTable as _, MemTable, Op, ServiceDump, ServiceKey, Timeouts};

use crate::engine::OpError;
use crate::ipvsadm;

/// The IPVS table lvsd writes to.
#[derive(Debug)]
pub enum Backend {
    /// The kernel table of lvsd's network namespace.
    Kernel(Client),
    /// IPVS could not be reached: every change fails with this message.
    Missing(String),
    /// `--test-start`: log the ipvsadm equivalent of every change and
    /// succeed.
    Print {
        /// The `ipvsadm` path shown.
        ipvsadm: String,
        /// Where the lines go.
        log: fn(&str),
        /// The changes are also made here (what they would fail with is
        /// ignored), so that `stats` shows the table lvsd would have made.
        table: Arc<MemTable>,
    },
}

/// Where a `stats` answer reads the table from: taken from lvsd's
/// [`Backend`] in its loop, read in a task of its own.
#[derive(Debug, Clone)]
pub enum TableSource {
    /// The kernel's table, read on a netlink socket of its own: a long
    /// dump neither waits behind lvsd's changes nor delays them, and two
    /// dumps at once do not collide (a netlink socket runs one dump at a
    /// time).
    Kernel,
    /// The in-memory table of `--test-start`.
    Memory(Arc<MemTable>),
    /// IPVS could not be reached; the message says why.
    Missing(String),
}

impl TableSource {
    /// Every service with its destinations and counters, or why the table
    /// could not be read.
    pub async fn dump(&self) -> Result<Vec<ServiceDump>, String> {
        match self {
            TableSource::Kernel => {
                let c = Client::connect().await.map_err(|e| e.to_string())?;
                c.dump().await.map_err(|e| e.to_string())
            }
            TableSource::Memory(t) => t.dump().await.map_err(|e| e.to_string()),
            TableSource::Missing(m) => Err(m.clone()),
        }
    }
}

fn op_error(e: &ipvs::Error) -> OpError {
    OpError {
        errno: e.errno(),
        message: e.to_string(),
    }
}

fn print(log: fn(&str), ipvsadm: &str, args: &str) {
    log(&format!("test-start: {ipvsadm} {args}"));
}

impl Backend {
    /// The `--test-start` backend: lines go to `log`, changes to an empty
    /// in-memory table.
    pub fn print(ipvsadm: &str, log: fn(&str)) -> Backend {
        Backend::Print {
            ipvsadm: ipvsadm.to_string(),
            log,
            table: Arc::new(MemTable::new()),
        }
    }

    /// Where `stats` reads this backend's table.
    pub fn table_source(&self) -> TableSource {
        match self {
            Backend::Kernel(_) => TableSource::Kernel,
            Backend::Missing(m) => TableSource::Missing(m.clone()),
            Backend::Print { table, .. } => TableSource::Memory(table.clone()),
        }
    }

    /// Connects to the kernel (inside a tokio runtime), or records why not.
    pub async fn connect() -> Backend {
        match Client::connect().await {
            Ok(c) => Backend::Kernel(c),
            Err(e) => Backend::Missing(e.to_string()),
        }
    }

    fn missing(message: &str) -> OpError {
        OpError {
            errno: None,
            message: message.to_string(),
        }
    }

    /// Applies `ops` in order (pipelined); one result per op.
    pub async fn apply(&self, ops: &[Op]) -> Vec<Result<(), OpError>> {
        match self {
            Backend::Kernel(c) => match c.apply_each(ops).await {
                Ok(results) => results
                    .into_iter()
                    .map(|r| r.map_err(|e| op_error(&e)))
                    .collect(),
                Err(e) => vec![Err(op_error(&e)); ops.len()],
            },
            Backend::Missing(m) => vec![Err(Self::missing(m)); ops.len()],
            Backend::Print {
                ipvsadm,
                log,
                table,
            } => {
                for op in ops {
                    print(*log, ipvsadm, &ipvsadm::op_args(op));
                    let _ = table.apply_one(op);
                }
                vec![Ok(()); ops.len()]
            }
        }
    }

    /// `ipvsadm --set TCP TCPFIN UDP` (0 = unchanged). A negative value
    /// fails, as ipvsadm refuses it.
    pub async fn set_timeouts(&self, t: [i32; 3]) -> Result<(), OpError> {
        if let Backend::Print { ipvsadm, log, .. } = self {
            print(*log, ipvsadm, &ipvsadm::set_timeouts_args(&t));
            return Ok(());
        }
        let [Ok(tcp), Ok(tcp_fin), Ok(udp)] = t.map(u32::try_from) else {
            return Err(OpError {
                errno: Some(libc::EINVAL),
                message: format!("invalid timeout value in {:?}", t),
            });
        };
        match self {
            Backend::Kernel(c) => c
                .set_timeouts(&Timeouts { tcp, tcp_fin, udp })
                .await
                .map_err(|e| op_error(&e)),
            Backend::Missing(m) => Err(Self::missing(m)),
            Backend::Print { .. } => Ok(()),
        }
    }

    /// `ipvsadm -C`: deletes every service.
    pub async fn flush(&self) -> Result<(), OpError> {
        match self {
            Backend::Kernel(c) => c.flush().await.map_err(|e| op_error(&e)),
            Backend::Missing(m) => Err(Self::missing(m)),
            Backend::Print {
                ipvsadm,
                log,
                table,
            } => {
                print(*log, ipvsadm, "-C");
                let _ = table.flush().await;
                Ok(())
            }
        }
    }

    /// `--owned-only` start-up: deletes the services among `keys` that
    /// exist. In test mode every one is shown.
    pub async fn delete_services(&self, keys: &[ServiceKey]) -> Result<(), OpError> {
        let present: Vec<ServiceKey> = match self {
            Backend::Kernel(c) => {
                let listed = c.services().await.map_err(|e| op_error(&e))?;
                let all: std::collections::HashSet<ServiceKey> =
                    listed.iter().map(|s| s.service.key).collect();
                keys.iter().copied().filter(|k| all.contains(k)).collect()
            }
            Backend::Missing(m) => return Err(Self::missing(m)),
            Backend::Print { .. } => keys.to_vec(),
        };
        let ops: Vec<Op> = present.into_iter().map(Op::DelService).collect();
        for r in self.apply(&ops).await {
            r?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet(_: &str) {}

    #[tokio::test]
    async fn stats_read_the_backends_table() {
        let b = Backend::print("/sbin/ipvsadm", quiet);
        let key = ServiceKey::fwmark(7);
        let add = Op::AddService(ipvs::Service::new(key, "rr"));
        // what the in-memory table refuses still "succeeds", as printed
        let bad = Op::AddService(ipvs::Service::new(ServiceKey::fwmark(8), "nosuch"));
        assert!(b.apply(&[add, bad]).await.iter().all(Result::is_ok));
        let src = b.table_source();
        let dump = src.dump().await.unwrap();
        assert_eq!(dump.len(), 1);
        assert_eq!(dump[0].entry.service.key, key);
        b.flush().await.unwrap();
        assert!(src.dump().await.unwrap().is_empty());

        let m = Backend::Missing("IPVS is not available".into());
        assert_eq!(
            m.table_source().dump().await.unwrap_err(),
            "IPVS is not available"
        );
    }
}
