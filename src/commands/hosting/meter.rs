//! What this process uses: heap bytes in use (through [`CountingAlloc`], when the binary
//! installs it), resident memory, and CPU time.
//!
//! The heap count is exact and unaffected by the allocator keeping freed pages (which makes
//! resident memory a poor measure of what a short stretch of work needed).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The system allocator, counting the bytes in use. Install it with
/// `#[global_allocator] static A: CountingAlloc = CountingAlloc;` (the `stampede` binary does).
pub struct CountingAlloc;

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE_BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            LIVE_BYTES.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
            INSTALLED.store(true, Ordering::Relaxed);
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
    INSTALLED
        .load(Ordering::Relaxed)
        .then(|| LIVE_BYTES.load(Ordering::Relaxed).max(0) as u64)
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

fn rusage_seconds(who: libc::c_int) -> Option<f64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointer it is given.
    let rc = unsafe { libc::getrusage(who, usage.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: getrusage returned 0, so it filled the struct.
    let u = unsafe { usage.assume_init() };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Some(secs(u.ru_utime) + secs(u.ru_stime))
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
