//! Applying changes to the kernel's IPVS table through `crates/ipvs` (nanny
//! run by hand, without `NANNY_REPORT_FD` and without `--test-start`).
//!
//! The netlink client is async; nanny drives it with a current-thread tokio
//! runtime created at the first change, so nannies that never change the
//! table (or report to lvsd) carry no runtime at all.

use ipvs::{Client, IpvsTable};

use crate::apply::{Apply, Target};
use crate::core::IpvsOp;

/// The kernel table (or any [`IpvsTable`], e.g. `ipvs::MemTable` in tests).
pub struct Kernel<T: IpvsTable = Client> {
    target: Target,
    table: Option<T>,
    rt: Option<tokio::runtime::Runtime>,
}

impl Kernel<Client> {
    /// Connects lazily, at the first change.
    pub fn new(target: Target) -> Kernel<Client> {
        Kernel {
            target,
            table: None,
            rt: None,
        }
    }
}

impl<T: IpvsTable> Kernel<T> {
    /// Uses `table` (already connected).
    pub fn with_table(target: Target, table: T) -> Kernel<T> {
        Kernel {
            target,
            table: Some(table),
            rt: None,
        }
    }
}

/// The runtime in `slot`, created there at the first call.
fn runtime(slot: &mut Option<tokio::runtime::Runtime>) -> Result<&tokio::runtime::Runtime, String> {
    match slot {
        Some(rt) => Ok(rt),
        empty => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .enable_time()
                .build()
                .map_err(|e| format!("tokio runtime: {e}"))?;
            Ok(empty.insert(rt))
        }
    }
}

/// How a table is obtained when none was given.
pub trait Connect: IpvsTable + Sized {
    /// Connects inside the current runtime.
    fn connect() -> impl std::future::Future<Output = Result<Self, String>>;
}

impl Connect for Client {
    async fn connect() -> Result<Client, String> {
        Client::connect().await.map_err(|e| e.to_string())
    }
}

impl Connect for ipvs::MemTable {
    async fn connect() -> Result<ipvs::MemTable, String> {
        Ok(ipvs::MemTable::new())
    }
}

impl<T: Connect> Apply for Kernel<T> {
    fn apply(&mut self, op: IpvsOp) -> Result<(), String> {
        let change = self.target.change(op)?;
        let rt = runtime(&mut self.rt)?;
        let table = match &mut self.table {
            Some(t) => t,
            empty => empty.insert(rt.block_on(T::connect())?),
        };
        rt.block_on(table.apply(std::slice::from_ref(&change)))
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::test_config;
    use ipvs::{Dest, Forward, MemTable, Op, Service, ServiceKey};

    fn target(extra: &[&str]) -> Target {
        Target::new(&test_config(extra))
    }

    fn table_with_service(key: ServiceKey) -> MemTable {
        let t = MemTable::new();
        t.apply_one(&Op::AddService(Service::new(key, "wlc")))
            .unwrap();
        t
    }

    #[test]
    fn add_edit_delete_in_memory() {
        let key = ServiceKey::tcp([10, 0, 0, 1], 80);
        let mut k = Kernel::with_table(target(&["-V", "10.0.0.1"]), table_with_service(key));
        k.apply(IpvsOp::Add(3)).unwrap();
        k.apply(IpvsOp::Edit(0)).unwrap();
        let t = k.table.as_ref().unwrap().table();
        assert_eq!(
            t[0].dests,
            [Dest::new([192, 168, 1, 2], 8080, Forward::Masq).weight(0)]
        );
        k.apply(IpvsOp::Delete).unwrap();
        assert!(k.table.as_ref().unwrap().table()[0].dests.is_empty());
        // deleting again fails like the kernel (exit 255 in nanny)
        assert!(k.apply(IpvsOp::Delete).is_err());
        // adding to a missing service fails
        let mut k = Kernel::with_table(target(&["-V", "10.0.0.9"]), table_with_service(key));
        assert!(k.apply(IpvsOp::Add(1)).is_err());
    }

    #[test]
    fn e7_direct_routing_delete_finds_the_destination() {
        let key = ServiceKey::tcp([10, 0, 0, 1], 80);
        let mut k = Kernel::with_table(
            target(&["-V", "10.0.0.1", "-M", "g"]),
            table_with_service(key),
        );
        k.apply(IpvsOp::Add(1)).unwrap();
        assert_eq!(
            k.table.as_ref().unwrap().table()[0].dests,
            [Dest::new([192, 168, 1, 2], 80, Forward::Route)]
        );
        k.apply(IpvsOp::Edit(5)).unwrap();
        k.apply(IpvsOp::Delete).unwrap();
    }

    #[test]
    fn lazy_connect_for_connectable_tables() {
        // MemTable "connects" to an empty table: the service is missing.
        let mut k: Kernel<MemTable> = Kernel {
            target: target(&["-V", "10.0.0.1"]),
            table: None,
            rt: None,
        };
        let e = k.apply(IpvsOp::Add(1)).unwrap_err();
        assert!(!e.is_empty());
        assert!(k.rt.is_some());
    }
}
