//! Shared by the VM tests: run a test body in a fresh network namespace
//! (IPVS tables are per namespace) with a connected [`ipvs::Client`].

#![allow(dead_code)]

use std::future::Future;

use lvs_tests::Need;

/// Runs `body` on a new thread that first moves into a new network
/// namespace, brings `lo` up and connects a client there. Returns without
/// running it when the kernel has no IPVS (see `lvs_tests::require`).
pub fn in_netns<F, Fut>(test: &str, body: F)
where
    F: FnOnce(ipvs::Client) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    if !lvs_tests::require(Need::Ipvs, test) {
        return;
    }
    let h = std::thread::spawn(move || {
        lvs_tests::netns::enter_new();
        lvs_tests::runtime().block_on(async move {
            let c = ipvs::Client::connect().await.expect("connect to IPVS");
            body(c).await
        });
    });
    if let Err(p) = h.join() {
        std::panic::resume_unwind(p);
    }
}
