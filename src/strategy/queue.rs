//! The client's request queue: one FIFO per lane, a scheduler choosing which lane goes next,
//! a capacity shared by all lanes, an overflow rule and a queue deadline.
//!
//! Schedulers: `fifo` (oldest request first, whatever its lane), `priority` (strict: the lane
//! with the lowest `priority` number first; a low lane can starve), `fair` (weighted fair
//! queueing: each lane advances a virtual clock by 1 / weight per request sent, and the lane
//! with the earliest clock goes next; a lane that was idle joins at the current clock).
//!
//! Overflow: `reject` drops the newcomer, `drop-oldest` drops the oldest queued request to make
//! room, `block` makes the traffic wait (the engine stops taking arrivals until there is room;
//! latency still counts from the intended start).
//!
//! Every request's deadline is the earlier of its total deadline and its arrival plus the
//! queue deadline; both grow with arrival order within a lane, so each lane's oldest entry
//! always expires first.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// What happens when a request arrives at a full queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Overflow {
    /// The new request is dropped.
    #[default]
    Reject,
    /// The oldest queued request is dropped to make room.
    DropOldest,
    /// The traffic waits for room.
    Block,
}

/// Which lane goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scheduler {
    /// Oldest first across lanes.
    #[default]
    Fifo,
    /// Strict priority by lane.
    Priority,
    /// Weighted fair queueing by lane weight.
    Fair,
}

fn default_capacity() -> usize {
    10_000
}

/// `[strategy.queue]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueSpec {
    /// Most requests waiting at once, all lanes together (0 = a request needs a free worker).
    #[serde(default = "default_capacity")]
    pub capacity: usize,
    /// Overflow rule.
    #[serde(default)]
    pub overflow: Overflow,
    /// Longest wait in the queue before a request is dropped.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub deadline: Option<Duration>,
    /// Scheduler across lanes.
    #[serde(default)]
    pub scheduler: Scheduler,
}

impl Default for QueueSpec {
    fn default() -> Self {
        QueueSpec {
            capacity: default_capacity(),
            overflow: Overflow::Reject,
            deadline: None,
            scheduler: Scheduler::Fifo,
        }
    }
}

/// A queued request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Engine key of the request.
    pub key: usize,
    /// When it must have left the queue.
    pub deadline: Instant,
    /// Arrival order.
    pub seq: u64,
}

/// What pushing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued: waits for a worker.
    Queued,
    /// The queue was full: the newcomer was refused.
    Rejected,
    /// Queued after dropping this older entry.
    Evicted(Entry),
}

/// Lane settings the queue needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LaneRule {
    /// Lower goes first under `priority`.
    pub priority: u8,
    /// Share under `fair`.
    pub weight: f64,
}

/// The queue.
#[derive(Debug)]
pub struct Queue {
    spec: QueueSpec,
    lanes: Vec<VecDeque<Entry>>,
    rules: Vec<LaneRule>,
    vtime: Vec<f64>,
    clock: f64,
    len: usize,
    seq: u64,
}

impl Queue {
    /// An empty queue for these lanes.
    pub fn new(spec: &QueueSpec, rules: Vec<LaneRule>) -> Queue {
        let n = rules.len().max(1);
        let rules = if rules.is_empty() {
            vec![LaneRule {
                priority: 0,
                weight: 1.0,
            }]
        } else {
            rules
        };
        Queue {
            spec: spec.clone(),
            lanes: vec![VecDeque::new(); n],
            rules,
            vtime: vec![0.0; n],
            clock: 0.0,
            len: 0,
            seq: 0,
        }
    }

    /// The spec.
    pub fn spec(&self) -> &QueueSpec {
        &self.spec
    }

    /// The deadline of a request that arrives at `arrived` with total deadline `total_deadline`.
    pub fn deadline(&self, arrived: Instant, total_deadline: Instant) -> Instant {
        self.spec
            .deadline
            .map_or(total_deadline, |d| total_deadline.min(arrived + d))
    }

    /// Whether the queue is at capacity.
    pub fn is_full(&self) -> bool {
        self.len >= self.spec.capacity
    }

    fn push_back(&mut self, lane: usize, key: usize, deadline: Instant) {
        if self.lanes[lane].is_empty() {
            // An idle lane joins at the current virtual clock: no credit for having been idle.
            self.vtime[lane] = self.vtime[lane].max(self.clock);
        }
        self.seq += 1;
        self.lanes[lane].push_back(Entry {
            key,
            deadline,
            seq: self.seq,
        });
        self.len += 1;
    }

    /// Queues a request, applying the overflow rule when full (`block` is the engine's job: it
    /// does not push while full). `force` queues past capacity (a request that goes straight to
    /// a free worker).
    pub fn push(&mut self, lane: usize, key: usize, deadline: Instant, force: bool) -> Pushed {
        let lane = lane.min(self.lanes.len() - 1);
        if force || !self.is_full() {
            self.push_back(lane, key, deadline);
            return Pushed::Queued;
        }
        match self.spec.overflow {
            Overflow::Reject | Overflow::Block => Pushed::Rejected,
            Overflow::DropOldest => match self.oldest_lane() {
                Some(old) => {
                    let e = self.pop(old).expect("oldest lane is not empty");
                    self.push_back(lane, key, deadline);
                    Pushed::Evicted(e)
                }
                None => Pushed::Rejected,
            },
        }
    }

    fn oldest_lane(&self) -> Option<usize> {
        (0..self.lanes.len())
            .filter_map(|l| self.lanes[l].front().map(|e| (e.seq, l)))
            .min()
            .map(|(_, l)| l)
    }

    /// The lane to serve next among those `eligible` (a lane may be blocked by its workers).
    pub fn pick(&self, eligible: impl Fn(usize) -> bool) -> Option<usize> {
        let candidates = (0..self.lanes.len()).filter(|&l| !self.lanes[l].is_empty() && eligible(l));
        match self.spec.scheduler {
            Scheduler::Fifo => candidates.min_by_key(|&l| self.lanes[l][0].seq),
            Scheduler::Priority => candidates.min_by_key(|&l| (self.rules[l].priority, self.lanes[l][0].seq)),
            Scheduler::Fair => candidates.min_by(|&a, &b| {
                self.vtime[a]
                    .total_cmp(&self.vtime[b])
                    .then(self.lanes[a][0].seq.cmp(&self.lanes[b][0].seq))
            }),
        }
    }

    /// The head of a lane.
    pub fn peek(&self, lane: usize) -> Option<&Entry> {
        self.lanes.get(lane).and_then(VecDeque::front)
    }

    /// Takes the head of a lane to send it.
    pub fn pop(&mut self, lane: usize) -> Option<Entry> {
        let e = self.lanes[lane].pop_front()?;
        self.len -= 1;
        self.clock = self.vtime[lane];
        self.vtime[lane] += 1.0 / self.rules[lane].weight.max(1e-9);
        Some(e)
    }

    /// Removes entries whose deadline has passed (each lane's are at its front).
    pub fn expire(&mut self, now: Instant, mut expired: impl FnMut(Entry)) {
        for l in 0..self.lanes.len() {
            while self.lanes[l].front().is_some_and(|e| e.deadline <= now) {
                expired(self.lanes[l].pop_front().expect("front exists"));
                self.len -= 1;
            }
        }
    }

    /// Takes everything (the run stops).
    pub fn drain(&mut self) -> Vec<Entry> {
        self.len = 0;
        self.lanes.iter_mut().flat_map(|q| q.drain(..)).collect()
    }

    /// The earliest deadline of a queued request.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.lanes.iter().filter_map(|q| q.front().map(|e| e.deadline)).min()
    }

    /// Requests waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Requests waiting in one lane.
    pub fn lane_len(&self, lane: usize) -> usize {
        self.lanes.get(lane).map_or(0, VecDeque::len)
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(src: &str, lanes: &[(u8, f64)]) -> Queue {
        let spec: QueueSpec = toml::from_str(src).unwrap();
        Queue::new(
            &spec,
            lanes
                .iter()
                .map(|&(priority, weight)| LaneRule { priority, weight })
                .collect(),
        )
    }

    fn later(s: u64) -> Instant {
        Instant::now() + Duration::from_secs(s)
    }

    #[tokio::test(start_paused = true)]
    async fn overflow_rules() {
        let mut q = queue("capacity = 2", &[(0, 1.0)]);
        assert_eq!(q.push(0, 1, later(9), false), Pushed::Queued);
        assert_eq!(q.push(0, 2, later(9), false), Pushed::Queued);
        assert_eq!(q.push(0, 3, later(9), false), Pushed::Rejected);
        assert_eq!(q.push(0, 4, later(9), true), Pushed::Queued, "forced past capacity");
        let mut q = queue("capacity = 2\noverflow = \"drop-oldest\"", &[(0, 1.0), (1, 1.0)]);
        q.push(1, 1, later(9), false);
        q.push(0, 2, later(9), false);
        let Pushed::Evicted(e) = q.push(0, 3, later(9), false) else {
            panic!()
        };
        assert_eq!(e.key, 1, "the oldest, whatever its lane");
        assert_eq!(q.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn strict_priority_serves_the_urgent_lane_first() {
        let mut q = queue("scheduler = \"priority\"", &[(1, 1.0), (0, 1.0)]);
        q.push(0, 10, later(9), false);
        q.push(0, 11, later(9), false);
        q.push(1, 20, later(9), false);
        let order: Vec<usize> = std::iter::from_fn(|| q.pick(|_| true).and_then(|l| q.pop(l)).map(|e| e.key)).collect();
        assert_eq!(order, [20, 10, 11]);
        let mut f = queue("scheduler = \"fifo\"", &[(1, 1.0), (0, 1.0)]);
        f.push(0, 10, later(9), false);
        f.push(1, 20, later(9), false);
        assert_eq!(f.pick(|_| true), Some(0));
        assert_eq!(f.pick(|l| l == 1), Some(1), "eligibility is respected");
    }

    #[tokio::test(start_paused = true)]
    async fn fair_queueing_shares_by_weight() {
        let mut q = queue("scheduler = \"fair\"", &[(0, 3.0), (0, 1.0)]);
        for i in 0..40 {
            q.push(0, 100 + i, later(99), false);
            q.push(1, 200 + i, later(99), false);
        }
        let first: Vec<usize> = (0..20)
            .map(|_| {
                let l = q.pick(|_| true).unwrap();
                q.pop(l);
                l
            })
            .collect();
        let zeros = first.iter().filter(|&&l| l == 0).count();
        assert_eq!(zeros, 15, "weight 3 against 1: three quarters");
    }

    #[tokio::test(start_paused = true)]
    async fn deadlines_expire_lane_heads_and_queue_deadline_applies() {
        let t0 = Instant::now();
        let mut q = queue("deadline = \"5s\"", &[(0, 1.0), (0, 1.0)]);
        assert_eq!(
            q.deadline(t0, t0 + Duration::from_secs(60)),
            t0 + Duration::from_secs(5)
        );
        assert_eq!(q.deadline(t0, t0 + Duration::from_secs(3)), t0 + Duration::from_secs(3));
        q.push(0, 1, t0 + Duration::from_secs(5), false);
        q.push(1, 2, t0 + Duration::from_secs(6), false);
        q.push(0, 3, t0 + Duration::from_secs(7), false);
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_secs(5)));
        let mut gone = Vec::new();
        q.expire(t0 + Duration::from_secs(6), |e| gone.push(e.key));
        assert_eq!(gone, [1, 2]);
        assert_eq!(q.len(), 1);
        assert_eq!(q.drain().len(), 1);
        assert!(q.is_empty());
    }
}
