//! The per-second time series of a run.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What happened in one second of the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondRow {
    /// Second index from the start.
    pub second: u64,
    /// Requests whose intended start fell in this second.
    pub offered: u64,
    /// Attempts sent (first attempts and retries).
    pub started: u64,
    /// Retries sent (attempts after the first).
    pub retries: u64,
    /// Requests that ended (any outcome).
    pub completed: u64,
    /// Requests answered.
    pub succeeded: u64,
    /// Requests failed.
    pub failed: u64,
    /// Requests dropped.
    pub dropped: u64,
    /// 429 answers received.
    pub status_429: u64,
    /// Other failed attempts.
    pub errors: u64,
    /// Attempts in flight at the end of the second.
    pub inflight: u32,
    /// Most attempts in flight during the second.
    pub inflight_max: u32,
    /// Workers busy at the end of the second: attempts in flight plus requests waiting out a
    /// retry backoff (a worker holds its request through its retries).
    pub workers_busy: u32,
    /// The concurrency limit at the end of the second (the worker count unless adaptive).
    pub concurrency_limit: u32,
    /// Models whose circuit breaker was open or half-open at the end of the second.
    pub breakers_open: u32,
    /// Requests queued at the end of the second.
    pub queue_depth: u32,
    /// Most requests queued during the second.
    pub queue_max: u32,
    /// Input tokens of answered requests.
    pub tokens_in: u64,
    /// Output tokens of answered requests.
    pub tokens_out: u64,
    /// What the answered attempts that ended in this second cost, in millionths of a dollar.
    #[serde(default)]
    pub cost_micro_usd: u64,
    /// Batch API jobs in flight at the end of the second.
    #[serde(default)]
    pub batch_jobs: u32,
}

/// A growable series indexed by second.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// One row per second, from 0.
    pub rows: Vec<SecondRow>,
}

impl Series {
    /// The row of the second containing `t`.
    pub fn at(&mut self, t: Duration) -> &mut SecondRow {
        self.row(t.as_secs())
    }

    /// The row of second `s`.
    pub fn row(&mut self, s: u64) -> &mut SecondRow {
        let i = s as usize;
        while self.rows.len() <= i {
            let second = self.rows.len() as u64;
            self.rows.push(SecondRow {
                second,
                ..SecondRow::default()
            });
        }
        &mut self.rows[i]
    }

    /// Largest 1 s and 10 s offered counts (peak rates).
    pub fn peak_offered(&self) -> (u64, u64) {
        let one = self.rows.iter().map(|r| r.offered).max().unwrap_or(0);
        let ten = self
            .rows
            .windows(10.min(self.rows.len()).max(1))
            .map(|w| w.iter().map(|r| r.offered).sum::<u64>())
            .max()
            .unwrap_or(0);
        (one, ten)
    }
}
