//! The shared upstream: a fixed number of requests served at once, a waiting room in front of
//! it, and 503 UNAVAILABLE for whoever finds the waiting room full.
//!
//! Waiting is FIFO (tokio's semaphore is fair), so latency grows as the upstream fills; past the
//! backlog the mock answers "The model is overloaded" at once. This is what makes adding client
//! workers stop helping, so the planner can find a knee.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The upstream's capacity.
#[derive(Debug)]
pub struct Upstream {
    max_concurrent: u32,
    backlog: u32,
    permits: Option<Arc<Semaphore>>,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    busy: AtomicU32,
    waiting: AtomicU32,
}

/// The upstream was full and so was its waiting room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overloaded;

/// A place in the upstream, released when dropped (when the answer is complete or the client
/// went away).
#[derive(Debug)]
pub struct Slot {
    _permit: Option<OwnedSemaphorePermit>,
    counters: Arc<Counters>,
    /// Share of the capacity in use when this request entered (0 when unlimited).
    pub utilisation: f64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.counters.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

struct WaitingGuard<'a>(&'a AtomicU32);

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Upstream {
    /// An upstream serving `max_concurrent` at once (0 = unlimited) with `backlog` waiting places.
    pub fn new(max_concurrent: u32, backlog: u32) -> Upstream {
        Upstream {
            max_concurrent,
            backlog,
            permits: (max_concurrent > 0).then(|| Arc::new(Semaphore::new(max_concurrent as usize))),
            counters: Arc::default(),
        }
    }

    /// Takes a place, waiting in the backlog if needed; `Err(Overloaded)` when the backlog is
    /// full, unless `priority` (Priority requests always wait; they are not shed).
    pub async fn enter(&self, priority: bool) -> Result<Slot, Overloaded> {
        let permit = match &self.permits {
            None => None,
            Some(sem) => match sem.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    let waiting = &self.counters.waiting;
                    if waiting.fetch_add(1, Ordering::Relaxed) >= self.backlog && !priority {
                        waiting.fetch_sub(1, Ordering::Relaxed);
                        return Err(Overloaded);
                    }
                    let _guard = WaitingGuard(waiting);
                    Some(sem.clone().acquire_owned().await.map_err(|_| Overloaded)?)
                }
            },
        };
        let busy = self.counters.busy.fetch_add(1, Ordering::Relaxed) + 1;
        let utilisation = if self.max_concurrent > 0 {
            f64::from(busy) / f64::from(self.max_concurrent)
        } else {
            0.0
        };
        Ok(Slot {
            _permit: permit,
            counters: self.counters.clone(),
            utilisation,
        })
    }

    /// Requests being served now.
    pub fn busy(&self) -> u32 {
        self.counters.busy.load(Ordering::Relaxed)
    }

    /// Requests waiting for a place now.
    pub fn waiting(&self) -> u32 {
        self.counters.waiting.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn full_backlog_is_overloaded_and_places_free_on_drop() {
        let up = Upstream::new(2, 1);
        let a = up.enter(false).await.unwrap();
        let _b = up.enter(false).await.unwrap();
        assert_eq!(a.utilisation, 0.5);
        assert_eq!(up.busy(), 2);
        // The third waits; the fourth finds the waiting room full.
        let up = Arc::new(up);
        let waiter = {
            let up = up.clone();
            tokio::spawn(async move { up.enter(false).await.map(|s| s.utilisation) })
        };
        tokio::task::yield_now().await;
        assert_eq!(up.waiting(), 1);
        assert_eq!(up.enter(false).await.unwrap_err(), Overloaded);
        drop(a);
        assert_eq!(waiter.await.unwrap(), Ok(1.0));
        assert_eq!(up.waiting(), 0);
    }

    #[tokio::test]
    async fn unlimited_never_refuses() {
        let up = Upstream::new(0, 0);
        let slots: Vec<_> = futures::future::join_all((0..100).map(|_| up.enter(false))).await;
        assert!(slots.iter().all(Result::is_ok));
        assert_eq!(up.busy(), 100);
    }
}
