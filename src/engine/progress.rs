//! Live counters of a running engine, readable from another thread (the progress display),
//! and the switch that stops a run early.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Notify;

/// Counters updated by the engine as it goes.
#[derive(Debug, Default)]
pub struct Progress {
    /// Requests taken in.
    pub arrived: AtomicU64,
    /// Requests ended (any outcome).
    pub ended: AtomicU64,
    /// Requests answered.
    pub succeeded: AtomicU64,
    /// Attempts sent.
    pub attempts: AtomicU64,
    /// 429 answers.
    pub status_429: AtomicU64,
    /// Other failed attempts.
    pub errors: AtomicU64,
    /// Attempts in flight now.
    pub inflight: AtomicU64,
    /// Requests queued now.
    pub queued: AtomicU64,
    /// Run time covered so far, in milliseconds (virtual in the simulator).
    pub elapsed_ms: AtomicU64,
    /// Batch API jobs submitted and not yet ended.
    pub batch_jobs: AtomicU64,
    /// Batch API jobs submitted.
    pub batch_jobs_submitted: AtomicU64,
    stop: AtomicBool,
    stop_notify: Notify,
    abort: AtomicBool,
    abort_notify: Notify,
}

impl Progress {
    /// Asks the engine to stop taking new requests; in-flight ones finish.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.stop_notify.notify_waiters();
        self.stop_notify.notify_one();
    }

    /// Whether a stop was requested.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Asks the engine to end now: queued and in-flight requests end as stopped (their
    /// attempts cancelled and recorded), so the partial report can be written at once.
    pub fn request_abort(&self) {
        self.request_stop();
        self.abort.store(true, Ordering::SeqCst);
        self.abort_notify.notify_waiters();
        self.abort_notify.notify_one();
    }

    /// Whether an abort was requested.
    pub fn abort_requested(&self) -> bool {
        self.abort.load(Ordering::SeqCst)
    }

    /// Resolves when an abort is requested.
    pub async fn aborted(&self) {
        loop {
            if self.abort_requested() {
                return;
            }
            self.abort_notify.notified().await;
        }
    }

    /// Resolves when a stop is requested.
    pub async fn stopped(&self) {
        loop {
            if self.stop_requested() {
                return;
            }
            self.stop_notify.notified().await;
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn set(counter: &AtomicU64, v: u64) {
        counter.store(v, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
