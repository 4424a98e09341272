//! Memory given back after big documents go. glibc's allocator keeps freed pages for later allocations, so a
//! 20 MB document (its JSON message, rope, tree and snapshots) opened and closed left ~90 MiB resident for the rest
//! of the session; `malloc_trim` hands what is free back to the system. Measured with a 20 MB, a binary and a
//! 2 MB single-line document opened and closed (README, "Memory").

use std::time::Duration;

use nib_pipeline::tasks::Tasks;

/// Text at least this long is big: freeing it is worth a trim (a trim of a large heap takes a few ms).
const BIG_BYTES: usize = 1 << 20;

/// A closed document's last copies (a parse, a completion's snapshot, a job) go shortly after it closes.
const SETTLE: Duration = Duration::from_millis(500);

/// After a document of `n_bytes` went (closed, or refused as too large): gives freed memory back to the system
/// once its last copies are gone, on a blocking thread. Nothing for a small one.
pub fn released(tasks: &Tasks, n_bytes: usize) {
    if n_bytes < BIG_BYTES {
        return;
    }
    let blocking = tasks.clone();
    tasks.spawn("trim memory", async move {
        tokio::time::sleep(SETTLE).await;
        blocking.spawn_blocking("trim memory", trim);
    });
}

/// Blocks of 128 KiB or more (a document's message, its text, a KV snapshot) are mapped apart and unmapped when
/// freed. glibc otherwise raises that threshold after the first such free, and later big blocks land in its heap,
/// where they stay: with it fixed, the big documents left 37 MiB resident after closing instead of 83.
pub fn return_big_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's threshold for later allocations.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only returns free pages of the allocator's arenas to the system; it takes the
    // allocator's own locks and touches no memory in use.
    let released = unsafe { libc::malloc_trim(0) };
    tracing::debug!(released, "trimmed the heap after a big document went");
}

/// Other allocators (macOS, Windows, musl) give large blocks back when they are freed.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
