//! Where lvsd's IPVS changes go: the kernel over netlink (`crates/ipvs`),
//! nowhere when IPVS is missing (every change fails, as ipvsadm would), or
//! the log for `--test-start` (`test-start: IPVSADM ARGS`).

use ipvs::{Client, Op, ServiceKey, Timeouts};

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
    },
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
            Backend::Print { ipvsadm, log } => {
                for op in ops {
                    print(*log, ipvsadm, &ipvsadm::op_args(op));
                }
                vec![Ok(()); ops.len()]
            }
        }
    }

    /// `ipvsadm --set TCP TCPFIN UDP` (0 = unchanged). A negative value
    /// fails, as ipvsadm refuses it.
    pub async fn set_timeouts(&self, t: [i32; 3]) -> Result<(), OpError> {
        if let Backend::Print { ipvsadm, log } = self {
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
            Backend::Print { ipvsadm, log } => {
                print(*log, ipvsadm, "-C");
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
