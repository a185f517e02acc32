//! glibc allocator settings for the long-running HTTP servers
//! (`piranha-exporter`, `piranha_gui`).
//!
//! glibc's allocator keeps memory a thread freed in that thread's arena,
//! and after a large block is freed it raises its mmap threshold so the
//! next large blocks come from the heap and stay resident. Large,
//! short-lived buffers built in one thread and freed in another (a scrape,
//! a rendered page of 2,000 virtual servers) then keep the resident size
//! high: one arena and a fixed 128 KiB mmap threshold give it back.

/// Sets one malloc arena and a fixed 128 KiB mmap threshold. Call it
/// before any other thread exists.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
    }
}
