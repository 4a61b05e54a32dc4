//! The transport's bounds and what they have done: how many connections, how long a request
//! head may take, how long a quiet connection is kept, how large and how slow a body may be,
//! and how many body bytes all connections may hold at once.
//!
//! One [`Transport`] is shared by the accept loop (connections), the handlers (bodies) and
//! `/metrics` (the counters), so what `/metrics` shows is what the limits did.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

/// The bounds of the HTTP transport; `stampede mock` sets each from a flag.
#[derive(Debug, Clone, PartialEq)]
pub struct TransportLimits {
    /// Most connections open at once; past it the connection quiet for longest is closed to
    /// make room, and when every connection is busy with a request the new one is closed.
    pub max_connections: usize,
    /// Longest time from a request's first byte to the end of its head.
    pub header_timeout: Duration,
    /// Longest time a connection with no request in flight may stay quiet.
    pub idle_timeout: Duration,
    /// Largest request body (Gemini's inline-request limit is 20 MB).
    pub max_body: usize,
    /// Body bytes all connections together may hold while they are read.
    pub body_budget: usize,
    /// Slowest body accepted, in bytes per second over each [`body_rate_window`](Self::body_rate_window).
    pub body_rate_floor: u64,
    /// The window over which a body's rate is judged.
    pub body_rate_window: Duration,
}

/// Largest request body by default: 20 MiB, Gemini's inline-request limit.
pub const DEFAULT_MAX_BODY: usize = 20 << 20;

impl Default for TransportLimits {
    fn default() -> Self {
        TransportLimits {
            max_connections: 4096,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_body: DEFAULT_MAX_BODY,
            body_budget: 64 << 20,
            body_rate_floor: 16 << 10,
            body_rate_window: Duration::from_secs(10),
        }
    }
}

impl TransportLimits {
    /// Bytes a body must bring in each rate window (at least one).
    pub fn bytes_per_window(&self) -> u64 {
        let bytes = self.body_rate_floor as f64 * self.body_rate_window.as_secs_f64();
        (bytes as u64).max(1)
    }
}

/// What the transport's bounds have done so far (shown on `/metrics`).
#[derive(Debug, Default)]
pub struct TransportStats {
    /// Connections open now.
    pub open: AtomicI64,
    /// Connections closed at once because every open one was busy.
    pub refused: AtomicU64,
    /// Quiet connections closed to make room for a new one.
    pub evicted: AtomicU64,
    /// Connections closed because a request head took longer than the header timeout.
    pub header_timeouts: AtomicU64,
    /// Connections closed after the idle timeout.
    pub idle_timeouts: AtomicU64,
    /// Bodies answered 408 for arriving below the rate floor.
    pub slow_bodies: AtomicU64,
    /// Bodies answered 503 because the body budget was spent.
    pub budget_refusals: AtomicU64,
}

impl TransportStats {
    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The transport's limits, counters and body budget, shared by everything that serves.
#[derive(Debug)]
pub struct Transport {
    /// The bounds.
    pub limits: TransportLimits,
    /// What they did.
    pub stats: TransportStats,
    /// One permit per body byte being held, [`TransportLimits::body_budget`] in all.
    pub(super) body_budget: Arc<Semaphore>,
}

impl Transport {
    /// A transport with these limits and zeroed counters.
    pub fn new(limits: TransportLimits) -> Arc<Transport> {
        let permits = limits.body_budget.min(Semaphore::MAX_PERMITS);
        Arc::new(Transport {
            body_budget: Arc::new(Semaphore::new(permits)),
            limits,
            stats: TransportStats::default(),
        })
    }
}
