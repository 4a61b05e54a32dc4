//! Circuit breaker (resilience4j semantics and defaults).
//!
//! Closed: calls pass and their outcomes fill a sliding window — the last `size` calls
//! (count-based) or the calls of the last `size` seconds (time-based). Once the window holds at
//! least `min_calls`, the breaker opens when the failure rate reaches `failure_rate` or the
//! slow-call rate reaches `slow_call_rate` (a call is slow when it takes `slow_call` or more).
//! Open: calls are refused for `open_for`. Half-open: `half_open_calls` trial calls pass; when
//! they are all in, the breaker closes if their failure and slow rates are under the thresholds
//! and opens again otherwise. Defaults: count window of 100, 100 calls minimum, 50% failures,
//! 100% slow calls at 60 s, open 60 s, 10 trial calls.

use std::collections::VecDeque;
use std::time::Duration;

use super::policy::{Observation, Policy};
use crate::backend::ErrorKind;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Count-based or time-based window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WindowKind {
    /// The last `size` calls.
    #[default]
    Count,
    /// The calls of the last `size` seconds.
    Time,
}

fn d100() -> u32 {
    100
}
fn d_half() -> f64 {
    0.5
}
fn d_one() -> f64 {
    1.0
}
fn d60() -> Duration {
    Duration::from_secs(60)
}
fn d10() -> u32 {
    10
}

/// `[strategy.breaker]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    /// Window kind.
    #[serde(default)]
    pub window: WindowKind,
    /// Calls (count window) or seconds (time window).
    #[serde(default = "d100")]
    pub size: u32,
    /// Calls needed in the window before the breaker judges.
    #[serde(default = "d100")]
    pub min_calls: u32,
    /// Failure share that opens the breaker.
    #[serde(default = "d_half")]
    pub failure_rate: f64,
    /// Slow-call share that opens the breaker.
    #[serde(default = "d_one")]
    pub slow_call_rate: f64,
    /// A call taking this long or more is slow.
    #[serde(default = "d60", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub slow_call: Duration,
    /// How long the breaker stays open.
    #[serde(default = "d60", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub open_for: Duration,
    /// Trial calls in the half-open state.
    #[serde(default = "d10")]
    pub half_open_calls: u32,
}

impl Default for BreakerSpec {
    fn default() -> Self {
        BreakerSpec {
            window: WindowKind::Count,
            size: 100,
            min_calls: 100,
            failure_rate: 0.5,
            slow_call_rate: 1.0,
            slow_call: d60(),
            open_for: d60(),
            half_open_calls: 10,
        }
    }
}

/// Breaker state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls pass.
    Closed,
    /// Calls are refused.
    Open,
    /// Trial calls pass.
    HalfOpen,
}

#[derive(Debug, Clone, Copy)]
struct Call {
    at: Instant,
    failed: bool,
    slow: bool,
}

/// One circuit breaker.
#[derive(Debug, Clone)]
pub struct Breaker {
    spec: BreakerSpec,
    state: BreakerState,
    window: VecDeque<Call>,
    opened_at: Instant,
    trials_started: u32,
    trials: Vec<Call>,
    /// Times the breaker opened.
    pub opens: u64,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(spec: BreakerSpec, now: Instant) -> Breaker {
        Breaker {
            spec,
            state: BreakerState::Closed,
            window: VecDeque::new(),
            opened_at: now,
            trials_started: 0,
            trials: Vec::new(),
            opens: 0,
        }
    }

    /// The state as of `now` (an open breaker turns half-open after `open_for`).
    pub fn state(&mut self, now: Instant) -> BreakerState {
        if self.state == BreakerState::Open && now >= self.opened_at + self.spec.open_for {
            self.state = BreakerState::HalfOpen;
            self.trials_started = 0;
            self.trials.clear();
        }
        self.state
    }

    /// Whether a call may go now; a permitted half-open call counts as a trial.
    pub fn try_acquire(&mut self, now: Instant) -> bool {
        match self.state(now) {
            BreakerState::Closed => true,
            BreakerState::Open => false,
            BreakerState::HalfOpen => {
                if self.trials_started < self.spec.half_open_calls {
                    self.trials_started += 1;
                    true
                } else {
                    false
                }
            }
        }
    }

    /// When the open breaker will let a trial through.
    pub fn reopens_at(&self) -> Instant {
        self.opened_at + self.spec.open_for
    }

    fn rates(calls: impl Iterator<Item = Call> + Clone) -> (f64, f64, usize) {
        let n = calls.clone().count();
        if n == 0 {
            return (0.0, 0.0, 0);
        }
        let failed = calls.clone().filter(|c| c.failed).count();
        let slow = calls.filter(|c| c.slow).count();
        (failed as f64 / n as f64, slow as f64 / n as f64, n)
    }

    fn trips(&self, failure: f64, slow: f64) -> bool {
        failure >= self.spec.failure_rate || slow >= self.spec.slow_call_rate
    }

    fn open(&mut self, now: Instant) {
        self.state = BreakerState::Open;
        self.opened_at = now;
        self.window.clear();
        self.opens += 1;
    }

    /// Records a call that ended at `now` after `took`.
    pub fn record(&mut self, now: Instant, failed: bool, took: Duration) {
        let call = Call {
            at: now,
            failed,
            slow: took >= self.spec.slow_call,
        };
        match self.state(now) {
            BreakerState::Open => {}
            BreakerState::HalfOpen => {
                self.trials.push(call);
                if self.trials.len() as u32 >= self.spec.half_open_calls {
                    let (f, s, _) = Breaker::rates(self.trials.iter().copied());
                    if self.trips(f, s) {
                        self.open(now);
                    } else {
                        self.state = BreakerState::Closed;
                        self.window.clear();
                    }
                }
            }
            BreakerState::Closed => {
                self.window.push_back(call);
                match self.spec.window {
                    WindowKind::Count => {
                        while self.window.len() > self.spec.size as usize {
                            self.window.pop_front();
                        }
                    }
                    WindowKind::Time => {
                        let span = Duration::from_secs(u64::from(self.spec.size));
                        while self.window.front().is_some_and(|c| c.at + span <= now) {
                            self.window.pop_front();
                        }
                    }
                }
                let (f, s, n) = Breaker::rates(self.window.iter().copied());
                if n >= self.spec.min_calls as usize && self.trips(f, s) {
                    self.open(now);
                }
            }
        }
    }
}

/// One breaker per model of the run.
#[derive(Debug)]
pub struct Breakers(Vec<Breaker>);

impl Breakers {
    /// A closed breaker for each of `models` models.
    pub fn new(spec: &BreakerSpec, models: usize, now: Instant) -> Breakers {
        Breakers((0..models).map(|_| Breaker::new(spec.clone(), now)).collect())
    }
}

/// Whether a failure counts against the breaker: throttling, overload and server errors, and
/// every transport-level failure; not a client error such as 400.
fn counts_against(kind: ErrorKind) -> bool {
    match kind {
        ErrorKind::Status(s) => s == 429 || s >= 500,
        ErrorKind::Transport | ErrorKind::Timeout | ErrorKind::Decode | ErrorKind::Stream | ErrorKind::Batch => true,
    }
}

impl Policy for Breakers {
    fn allow(&mut self, now: Instant, model: u8) -> bool {
        self.0.get_mut(usize::from(model)).is_none_or(|b| b.try_acquire(now))
    }

    fn observe(&mut self, now: Instant, seen: &Observation) {
        if let Some(b) = self.0.get_mut(usize::from(seen.model)) {
            b.record(now, seen.error.is_some_and(counts_against), seen.took);
        }
    }

    fn open_breakers(&mut self, now: Instant) -> u32 {
        self.0
            .iter_mut()
            .map(|b| b.state(now))
            .filter(|s| *s != BreakerState::Closed)
            .count() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(src: &str) -> BreakerSpec {
        toml::from_str(src).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn resilience4j_defaults() {
        let s = BreakerSpec::default();
        assert_eq!(
            (s.size, s.min_calls, s.failure_rate, s.open_for, s.half_open_calls),
            (100, 100, 0.5, d60(), 10)
        );
        assert_eq!(spec(""), s);
    }

    #[tokio::test(start_paused = true)]
    async fn count_window_opens_at_the_failure_rate_then_half_opens_and_closes() {
        let t0 = Instant::now();
        let mut b = Breaker::new(
            spec("size = 10\nmin_calls = 10\nopen_for = \"30s\"\nhalf_open_calls = 3"),
            t0,
        );
        let ms = Duration::from_millis(100);
        // Four failures in ten calls (the last four): 40%, stays closed.
        for i in 0..10 {
            assert!(b.try_acquire(t0));
            b.record(t0, i >= 6, ms);
        }
        assert_eq!(b.state(t0), BreakerState::Closed);
        // One more failure: the window is the last ten calls, 5 of them failures: opens.
        b.record(t0, true, ms);
        assert_eq!(b.state(t0), BreakerState::Open);
        assert!(!b.try_acquire(t0 + Duration::from_secs(29)));
        // After 30 s: half-open, three trials only.
        let t1 = t0 + Duration::from_secs(30);
        assert_eq!(b.state(t1), BreakerState::HalfOpen);
        assert!(b.try_acquire(t1) && b.try_acquire(t1) && b.try_acquire(t1));
        assert!(!b.try_acquire(t1));
        b.record(t1, false, ms);
        b.record(t1, false, ms);
        assert_eq!(b.state(t1), BreakerState::HalfOpen);
        b.record(t1, true, ms);
        // One failure in three trials: 33% < 50%: closes.
        assert_eq!(b.state(t1), BreakerState::Closed);
        assert_eq!(b.opens, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_trials_open_again_and_slow_calls_count() {
        let t0 = Instant::now();
        let mut b = Breaker::new(
            spec("size = 4\nmin_calls = 4\nhalf_open_calls = 2\nslow_call = \"2s\"\nslow_call_rate = 0.75"),
            t0,
        );
        for _ in 0..4 {
            b.record(t0, false, Duration::from_secs(3));
        }
        assert_eq!(b.state(t0), BreakerState::Open, "all calls slow");
        let t1 = t0 + d60();
        assert!(b.try_acquire(t1) && b.try_acquire(t1));
        b.record(t1, true, Duration::ZERO);
        b.record(t1, true, Duration::ZERO);
        assert_eq!(b.state(t1), BreakerState::Open);
        assert_eq!(b.opens, 2);
        assert_eq!(b.reopens_at(), t1 + d60());
    }

    #[tokio::test(start_paused = true)]
    async fn time_window_forgets_old_calls() {
        let t0 = Instant::now();
        let mut b = Breaker::new(spec("window = \"time\"\nsize = 10\nmin_calls = 4"), t0);
        for _ in 0..3 {
            b.record(t0, true, Duration::ZERO);
        }
        // 11 s later the three failures are out of the window; four successes keep it closed.
        let t1 = t0 + Duration::from_secs(11);
        for _ in 0..4 {
            b.record(t1, false, Duration::ZERO);
        }
        assert_eq!(b.state(t1), BreakerState::Closed);
        b.record(t1, true, Duration::ZERO);
        b.record(t1, true, Duration::ZERO);
        b.record(t1, true, Duration::ZERO);
        b.record(t1, true, Duration::ZERO);
        assert_eq!(b.state(t1), BreakerState::Open);
    }
}
