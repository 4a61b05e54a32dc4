//! Google SRE client-side adaptive throttling: each request the client would send — a new one
//! or a retry — is dropped locally with probability
//! `max(0, (requests − k·accepts) / (requests + 1))` over a sliding `window`, where `requests`
//! counts every attempt the client wanted to send (dropped ones included) and `accepts` those the
//! backend accepted (anything but a 429 or 503).

use std::collections::VecDeque;
use std::time::Duration;

use rand::RngExt;
use serde::{Deserialize, Serialize};
use stampede_mock::rng::{combine, keyed_rng};
use tokio::time::Instant;

use super::policy::{Admission, Arrival, Observation, Policy, RetryReview, Ticket};
use super::retry::{Decision, GiveUp};
use crate::backend::ErrorKind;

/// Salt of the throttling draws.
const THROTTLE_STREAM: u64 = 0x7468_726f_7474_6c65;

fn d2() -> f64 {
    2.0
}
fn d2m() -> Duration {
    Duration::from_secs(120)
}

/// `[strategy.throttle]`: Google SRE client-side adaptive throttling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThrottleSpec {
    /// Accepts multiplier K (2 is the SRE book's value; lower is more aggressive).
    #[serde(default = "d2")]
    pub k: f64,
    /// Window the counts are taken over.
    #[serde(default = "d2m", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub window: Duration,
}

/// SRE adaptive throttling state.
#[derive(Debug, Clone)]
pub struct SreThrottle {
    /// Keys the drop draws, with each request's id (and attempt, for a retry).
    seed: u64,
    k: f64,
    window: Duration,
    requests: VecDeque<Instant>,
    accepts: VecDeque<Instant>,
}

impl SreThrottle {
    /// Empty counts; drop draws keyed by `seed`.
    pub fn new(spec: &ThrottleSpec, seed: u64) -> SreThrottle {
        SreThrottle {
            seed,
            k: spec.k,
            window: spec.window,
            requests: VecDeque::new(),
            accepts: VecDeque::new(),
        }
    }

    /// The chance a new request is dropped now.
    pub fn drop_probability(&mut self, now: Instant) -> f64 {
        trim(&mut self.requests, now, self.window);
        trim(&mut self.accepts, now, self.window);
        let (r, a) = (self.requests.len() as f64, self.accepts.len() as f64);
        ((r - self.k * a) / (r + 1.0)).max(0.0)
    }

    /// A request was sent (or dropped locally: it still counts as a request).
    pub fn on_request(&mut self, now: Instant) {
        self.requests.push_back(now);
    }

    /// The backend accepted a request (anything but a throttling or overload answer).
    pub fn on_accept(&mut self, now: Instant) {
        self.accepts.push_back(now);
    }

    /// Counts a request the client wants to send now and draws whether it is dropped; `draw`
    /// keys the draw (a new request's id, or its id combined with its attempt count).
    pub fn drops(&mut self, now: Instant, draw: u64) -> bool {
        let p = self.drop_probability(now);
        self.on_request(now);
        let u: f64 = keyed_rng(self.seed ^ THROTTLE_STREAM, draw).random();
        u < p
    }
}

impl Policy for SreThrottle {
    fn admit(&mut self, now: Instant, arrival: &Arrival) -> Admission {
        if self.drops(now, arrival.id) {
            Admission::Refuse
        } else {
            Admission::Pass
        }
    }

    fn observe(&mut self, now: Instant, seen: &Observation) {
        if !matches!(seen.error, Some(ErrorKind::Status(429 | 503))) {
            self.on_accept(now);
        }
    }

    // SRE throttling weighs every request the client would send, retries included.
    fn review(&mut self, now: Instant, retry: &RetryReview<'_>, decision: Decision, _: &mut Ticket) -> Decision {
        if self.drops(now, combine(retry.id, u64::from(retry.attempts))) {
            Decision::GiveUp(GiveUp::Throttled)
        } else {
            decision
        }
    }
}

fn trim(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while q.front().is_some_and(|t| *t + window <= now) {
        q.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sre_throttle_probability() {
        let t0 = Instant::now();
        let mut t = SreThrottle::new(&toml::from_str::<ThrottleSpec>("").unwrap(), 0);
        for _ in 0..100 {
            t.on_request(t0);
        }
        for _ in 0..20 {
            t.on_accept(t0);
        }
        // (100 − 2·20) / 101.
        assert!((t.drop_probability(t0) - 60.0 / 101.0).abs() < 1e-12);
        for _ in 0..30 {
            t.on_accept(t0);
        }
        assert_eq!(t.drop_probability(t0), 0.0);
        assert_eq!(t.drop_probability(t0 + Duration::from_secs(120)), 0.0);
    }
}
