//! What this process uses: heap bytes in use (through [`CountingAlloc`], when the binary
//! installs it), resident memory, and CPU time.
//!
//! The heap count is exact and unaffected by the allocator keeping freed pages (which makes
//! resident memory a poor measure of what a short stretch of work needed).

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};

/// Counters of bytes in use, one per group of threads, each on its own cache line: a single
/// shared counter, written on every allocation by every thread, cost the live load generator a
/// measurable share of its CPU. Their sum is exact.
const SHARDS: usize = 16;

#[repr(align(128))]
struct Shard(AtomicI64);

static LIVE_BYTES: [Shard; SHARDS] = [const { Shard(AtomicI64::new(0)) }; SHARDS];
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// This thread's shard (`usize::MAX` until its first allocation).
    static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Adds `bytes` to this thread's counter.
fn count(bytes: i64) {
    let shard = SHARD
        .try_with(|s| {
            if s.get() == usize::MAX {
                s.set(NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS);
            }
            s.get()
        })
        .unwrap_or(0);
    LIVE_BYTES[shard].0.fetch_add(bytes, Ordering::Relaxed);
}

/// jemalloc (as oha and most fast Rust servers use; it spends markedly less CPU than glibc's
/// allocator on the live generator's many small, cross-thread allocations), counting the bytes
/// in use. Install it with `#[global_allocator] static A: CountingAlloc = CountingAlloc;` (the
/// `stampede` binary does).
pub struct CountingAlloc;

// SAFETY: every call is forwarded to jemalloc unchanged; only a counter is added.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = tikv_jemallocator::Jemalloc.alloc(layout);
        if !p.is_null() {
            count(layout.size() as i64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = tikv_jemallocator::Jemalloc.alloc_zeroed(layout);
        if !p.is_null() {
            count(layout.size() as i64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        tikv_jemallocator::Jemalloc.dealloc(ptr, layout);
        count(-(layout.size() as i64));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = tikv_jemallocator::Jemalloc.realloc(ptr, layout, new_size);
        if !p.is_null() {
            count(new_size as i64 - layout.size() as i64);
            if !INSTALLED.load(Ordering::Relaxed) {
                INSTALLED.store(true, Ordering::Relaxed);
            }
        }
        p
    }
}

/// Heap bytes in use, when [`CountingAlloc`] is the global allocator (`None` otherwise).
pub fn heap_bytes() -> Option<u64> {
    // A Vec that grows goes through realloc, which marks the counter as live.
    let mut probe: Vec<u8> = Vec::with_capacity(1);
    probe.extend_from_slice(&[0, 0]);
    std::hint::black_box(&probe);
    drop(probe);
    INSTALLED.load(Ordering::Relaxed).then(|| {
        LIVE_BYTES
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .sum::<i64>()
            .max(0) as u64
    })
}

/// Resident memory of this process in bytes (Linux; `None` elsewhere).
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    (page > 0).then(|| pages * page as u64)
}

/// CPU time (user + system) this process has used, in seconds.
pub fn cpu_seconds() -> Option<f64> {
    rusage_seconds(libc::RUSAGE_SELF)
}

/// CPU time (user + system) the calling thread has used, in seconds.
pub fn thread_cpu_seconds() -> Option<f64> {
    rusage_seconds(libc::RUSAGE_THREAD)
}

/// CPU time this process has used, as (user, system) seconds.
pub fn cpu_split() -> Option<(f64, f64)> {
    rusage_split(libc::RUSAGE_SELF)
}

fn rusage_seconds(who: libc::c_int) -> Option<f64> {
    rusage_split(who).map(|(user, sys)| user + sys)
}

fn rusage_split(who: libc::c_int) -> Option<(f64, f64)> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointer it is given.
    let rc = unsafe { libc::getrusage(who, usage.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: getrusage returned 0, so it filled the struct.
    let u = unsafe { usage.assume_init() };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Some((secs(u.ru_utime), secs(u.ru_stime)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work_and_rss_is_read() {
        // Work until 30 ms of CPU are counted; on a loaded machine that takes longer in wall
        // time, so the limit is generous and only a meter that never grows fails.
        let before = cpu_seconds().unwrap();
        let mut x = 0u64;
        let start = std::time::Instant::now();
        let mut used = 0.0;
        while used < 0.03 && start.elapsed() < std::time::Duration::from_secs(20) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            used = cpu_seconds().unwrap() - before;
        }
        assert!(
            used >= 0.03,
            "worked {:?} of wall time, counted {used} s of CPU",
            start.elapsed()
        );
        assert!(rss_bytes().unwrap() > 1 << 20);
        // The unit-test binary keeps the system allocator, so there is no heap count.
        assert_eq!(heap_bytes(), None);
    }
}
