//! The client's request queue: FIFO, bounded, with an overflow rule.
//!
//! Entries wait here for a worker (and for the rate limiter). Because every entry gets the same
//! total deadline counted from its intended start, the oldest entry always expires first: the
//! engine only needs one timer, for the head.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// What happens when a request arrives at a full queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Overflow {
    /// The new request is dropped.
    #[default]
    Reject,
}

fn default_capacity() -> usize {
    10_000
}

/// `[strategy.queue]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSpec {
    /// Most requests waiting at once (0 = no waiting: a request needs a free worker).
    #[serde(default = "default_capacity")]
    pub capacity: usize,
    /// Overflow rule.
    #[serde(default)]
    pub overflow: Overflow,
}

impl Default for QueueSpec {
    fn default() -> Self {
        QueueSpec {
            capacity: default_capacity(),
            overflow: Overflow::Reject,
        }
    }
}

/// A queued request: the engine's key for it and its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Engine key of the request.
    pub key: usize,
    /// When the request must have left the queue.
    pub deadline: Instant,
}

/// A bounded FIFO.
#[derive(Debug)]
pub struct Queue {
    capacity: usize,
    entries: VecDeque<Entry>,
}

impl Queue {
    /// An empty queue.
    pub fn new(spec: &QueueSpec) -> Queue {
        Queue {
            capacity: spec.capacity,
            entries: VecDeque::new(),
        }
    }

    /// Adds an entry, or gives it back when the queue is full.
    pub fn push(&mut self, entry: Entry) -> Result<(), Entry> {
        if self.entries.len() >= self.capacity {
            return Err(entry);
        }
        self.entries.push_back(entry);
        Ok(())
    }

    /// Adds an entry even past capacity (a request that goes straight to a free worker).
    pub fn push_unbounded(&mut self, entry: Entry) {
        self.entries.push_back(entry);
    }

    /// The oldest entry.
    pub fn peek(&self) -> Option<&Entry> {
        self.entries.front()
    }

    /// Takes the oldest entry.
    pub fn pop(&mut self) -> Option<Entry> {
        self.entries.pop_front()
    }

    /// Removes entries whose deadline has passed (they are all at the front).
    pub fn expire(&mut self, now: Instant, mut expired: impl FnMut(Entry)) {
        while let Some(e) = self.entries.front() {
            if e.deadline > now {
                break;
            }
            expired(self.entries.pop_front().expect("front exists"));
        }
    }

    /// Entries waiting.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn fifo_with_capacity_and_expiry() {
        let t0 = Instant::now();
        let mut q = Queue::new(&QueueSpec {
            capacity: 2,
            overflow: Overflow::Reject,
        });
        let e = |key, s| Entry {
            key,
            deadline: t0 + Duration::from_secs(s),
        };
        assert!(q.push(e(1, 5)).is_ok());
        assert!(q.push(e(2, 6)).is_ok());
        assert_eq!(q.push(e(3, 7)), Err(e(3, 7)));
        let mut gone = Vec::new();
        q.expire(t0 + Duration::from_secs(5), |x| gone.push(x.key));
        assert_eq!(gone, [1]);
        assert_eq!(q.pop().map(|x| x.key), Some(2));
        assert!(q.is_empty());
    }
}
