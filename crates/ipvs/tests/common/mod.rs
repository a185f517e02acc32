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
        enter_new_netns();
        lvs_tests::runtime().block_on(async move {
            let c = ipvs::Client::connect().await.expect("connect to IPVS");
            body(c).await
        });
    });
    if let Err(p) = h.join() {
        std::panic::resume_unwind(p);
    }
}

/// Moves the calling thread into a new network namespace with `lo` up.
/// Child processes spawned from this thread inherit the namespace.
pub fn enter_new_netns() {
    // SAFETY: unshare has no memory-safety preconditions; it affects only
    // the calling thread.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(
        rc,
        0,
        "unshare(CLONE_NEWNET): {}",
        std::io::Error::last_os_error()
    );
    let st = std::process::Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .expect("run ip");
    assert!(st.success(), "ip link set lo up: {st}");
}
