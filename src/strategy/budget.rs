//! Retry budgets: limits on how much extra load a client's retries add.
//!
//! - **gRPC retry throttling**: `tokens` start at `max_tokens`; each failure −1, each success
//!   +`token_ratio`, clamped to [0, max]; a retry may go only while tokens > max / 2.
//! - **Finagle / tower percentage budget**: retries in the last `window` may be at most
//!   `percent` of requests in it, plus a floor of `min_per_sec` retries per second.
//! - **AWS SDK retry quota** (standard mode): a bucket of `capacity` tokens; a retry after a
//!   throttling error costs `throttle_cost`, after another error `retry_cost`; a retry is refused
//!   when the bucket cannot pay; a success on the first attempt refunds 1, a success after
//!   retries refunds what its retries took.
//!
//! Google SRE adaptive throttling, which drops new requests as well as retries, is in
//! [`super::throttle`].

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::policy::{Observation, Policy, RetryReview, Ticket};
use super::retry::{Decision, GiveUp};
use crate::backend::ErrorKind;

fn d10_tokens() -> f64 {
    10.0
}
fn d_tenth() -> f64 {
    0.1
}
fn d20() -> f64 {
    20.0
}
fn d10s() -> Duration {
    Duration::from_secs(10)
}
fn d10() -> f64 {
    10.0
}
fn d500() -> f64 {
    500.0
}
fn d5() -> f64 {
    5.0
}
fn d14() -> f64 {
    14.0
}

/// `retry.budget`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum BudgetSpec {
    /// gRPC retry throttling.
    Grpc {
        /// Bucket size.
        #[serde(default = "d10_tokens")]
        max_tokens: f64,
        /// Tokens a success adds.
        #[serde(default = "d_tenth")]
        token_ratio: f64,
    },
    /// Finagle / tower percentage budget.
    Percent {
        /// Retries allowed as a percentage of requests.
        #[serde(default = "d20")]
        percent: f64,
        /// Window the percentage is taken over.
        #[serde(default = "d10s", with = "humantime_serde")]
        #[schemars(with = "String")]
        window: Duration,
        /// Retries per second always allowed.
        #[serde(default = "d10")]
        min_per_sec: f64,
    },
    /// AWS SDK standard-mode retry quota.
    Aws {
        /// Bucket size.
        #[serde(default = "d500")]
        capacity: f64,
        /// Cost of a retry after a throttling error (429).
        #[serde(default = "d5")]
        throttle_cost: f64,
        /// Cost of a retry after another error.
        #[serde(default = "d14")]
        retry_cost: f64,
    },
}

/// A retry budget's state.
#[derive(Debug, Clone)]
pub enum Budget {
    /// gRPC tokens.
    Grpc {
        /// Current tokens.
        tokens: f64,
        /// Bucket size.
        max: f64,
        /// Refill per success.
        ratio: f64,
    },
    /// Finagle window.
    Percent {
        /// Share of requests allowed as retries.
        share: f64,
        /// Window the requests and retries are counted over.
        window: Duration,
        /// Floor per second.
        floor: f64,
        /// Times of first attempts in the window.
        requests: VecDeque<Instant>,
        /// Times of retries in the window.
        retries: VecDeque<Instant>,
    },
    /// AWS quota.
    Aws {
        /// Tokens available.
        tokens: f64,
        /// Bucket size.
        capacity: f64,
        /// Cost after a 429.
        throttle_cost: f64,
        /// Cost after another error.
        retry_cost: f64,
    },
}

fn trim(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while q.front().is_some_and(|t| *t + window <= now) {
        q.pop_front();
    }
}

impl Budget {
    /// A full budget.
    pub fn new(spec: &BudgetSpec) -> Budget {
        match *spec {
            BudgetSpec::Grpc {
                max_tokens,
                token_ratio,
            } => Budget::Grpc {
                tokens: max_tokens,
                max: max_tokens,
                ratio: token_ratio,
            },
            BudgetSpec::Percent {
                percent,
                window,
                min_per_sec,
            } => Budget::Percent {
                share: percent / 100.0,
                window,
                floor: min_per_sec,
                requests: VecDeque::new(),
                retries: VecDeque::new(),
            },
            BudgetSpec::Aws {
                capacity,
                throttle_cost,
                retry_cost,
            } => Budget::Aws {
                tokens: capacity,
                capacity,
                throttle_cost,
                retry_cost,
            },
        }
    }

    /// A first attempt was sent.
    pub fn on_request(&mut self, now: Instant) {
        if let Budget::Percent { requests, window, .. } = self {
            trim(requests, now, *window);
            requests.push_back(now);
        }
    }

    /// An attempt ended: `ok`, and how many retries the request had made so far.
    pub fn on_result(&mut self, ok: bool, retries_so_far: u32, paid: f64) {
        match self {
            Budget::Grpc { tokens, max, ratio } => {
                *tokens = if ok {
                    (*tokens + *ratio).min(*max)
                } else {
                    (*tokens - 1.0).max(0.0)
                };
            }
            Budget::Aws { tokens, capacity, .. } if ok => {
                let refund = if retries_so_far == 0 { 1.0 } else { paid };
                *tokens = (*tokens + refund).min(*capacity);
            }
            _ => {}
        }
    }

    /// Asks for a retry after an error (`throttled`: a 429); returns what it cost (AWS) or
    /// `None` when the budget refuses.
    pub fn try_retry(&mut self, now: Instant, throttled: bool) -> Option<f64> {
        match self {
            Budget::Grpc { tokens, max, .. } => (*tokens > *max / 2.0).then_some(0.0),
            Budget::Percent {
                share,
                window,
                floor,
                requests,
                retries,
            } => {
                trim(requests, now, *window);
                trim(retries, now, *window);
                let allowed = *share * requests.len() as f64 + *floor * window.as_secs_f64();
                if (retries.len() as f64) < allowed {
                    retries.push_back(now);
                    Some(0.0)
                } else {
                    None
                }
            }
            Budget::Aws {
                tokens,
                throttle_cost,
                retry_cost,
                ..
            } => {
                let cost = if throttled { *throttle_cost } else { *retry_cost };
                if *tokens >= cost {
                    *tokens -= cost;
                    Some(cost)
                } else {
                    None
                }
            }
        }
    }
}

impl Policy for Budget {
    fn on_first_attempt(&mut self, now: Instant) {
        self.on_request(now);
    }

    fn observe(&mut self, _now: Instant, seen: &Observation) {
        self.on_result(seen.error.is_none(), seen.retries, seen.budget_paid);
    }

    fn review(&mut self, now: Instant, retry: &RetryReview<'_>, decision: Decision, ticket: &mut Ticket) -> Decision {
        match self.try_retry(now, retry.error.kind == ErrorKind::Status(429)) {
            Some(cost) => {
                ticket.budget_paid += cost;
                decision
            }
            None => Decision::GiveUp(GiveUp::Budget),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(src: &str) -> BudgetSpec {
        toml::from_str(src).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn grpc_tokens_drain_and_refill() {
        let now = Instant::now();
        let mut b = Budget::new(&spec("kind = \"grpc\""));
        // 10 tokens: retries allowed while tokens > 5.
        for _ in 0..4 {
            b.on_result(false, 0, 0.0);
        }
        assert!(b.try_retry(now, true).is_some(), "6 tokens left");
        b.on_result(false, 0, 0.0);
        assert!(b.try_retry(now, true).is_none(), "5 tokens: not above half");
        // Each success adds 0.1: one more success lets retries through again.
        b.on_result(true, 0, 0.0);
        assert!(b.try_retry(now, true).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn percent_budget_allows_a_share_plus_a_floor() {
        let t0 = Instant::now();
        let mut b = Budget::new(&spec(
            "kind = \"percent\"\npercent = 20\nwindow = \"10s\"\nmin_per_sec = 0.5",
        ));
        for _ in 0..100 {
            b.on_request(t0);
        }
        // 20% of 100 + 0.5/s × 10 s = 25 retries.
        let granted = (0..40).filter(|_| b.try_retry(t0, false).is_some()).count();
        assert_eq!(granted, 25);
        // After the window, the requests are forgotten: only the floor remains.
        let t1 = t0 + Duration::from_secs(10);
        let granted = (0..40).filter(|_| b.try_retry(t1, false).is_some()).count();
        assert_eq!(granted, 5);
    }

    #[tokio::test(start_paused = true)]
    async fn aws_quota_costs_and_refunds() {
        let now = Instant::now();
        let mut b = Budget::new(&spec("kind = \"aws\"\ncapacity = 20"));
        assert_eq!(b.try_retry(now, false), Some(14.0));
        assert_eq!(b.try_retry(now, true), Some(5.0));
        assert_eq!(b.try_retry(now, true), None, "1 token left");
        // A success after retries refunds what they cost; a first-try success refunds 1.
        b.on_result(true, 1, 5.0);
        assert_eq!(b.try_retry(now, true), Some(5.0));
        b.on_result(true, 0, 0.0);
        b.on_result(true, 0, 0.0);
        let Budget::Aws { tokens, .. } = b else { panic!() };
        assert_eq!(tokens, 3.0);
    }
}
