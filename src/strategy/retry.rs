//! Retry policy: which failures to retry, how long to wait, when to give up.
//!
//! Backoff follows the AWS "Exponential Backoff and Jitter" formulas (overload-control.md):
//! `expo(n) = min(cap, base · 2^n)` with `n = 1` at the first retry; jitter `none` (v), `full`
//! (U(0, v)), `equal` (v/2 + U(0, v/2)); `decorrelated` is `min(cap, U(base, 3 · previous))`
//! starting from `base`; `fixed` always waits `base`. With `honor_retry_delay` the wait is the
//! server's RetryInfo / Retry-After delay when that is longer.

use stampede_mock::duration::secs as secs_f64;
use std::time::Duration;

use rand::RngExt;
use serde::{Deserialize, Serialize};
use stampede_mock::rng::StreamRng;

use crate::backend::{AttemptError, ErrorKind};

/// How waits grow between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackoffPolicy {
    /// Never retry.
    None,
    /// Always `base`.
    Fixed,
    /// `min(cap, base · 2^n)`.
    #[default]
    Exponential,
    /// `min(cap, U(base, 3 · previous))`.
    Decorrelated,
}

/// Randomisation of the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Jitter {
    /// The computed wait.
    None,
    /// Uniform in [0, wait].
    #[default]
    Full,
    /// wait/2 plus uniform in [0, wait/2].
    Equal,
    /// wait plus uniform in [0, `jitter_max`], then capped (tenacity's `wait_exponential_jitter`,
    /// used by google-genai).
    Additive,
    /// wait × (1 + uniform in [−`jitter_ratio`, +`jitter_ratio`]) (gemini-cli's ±30%).
    Proportional,
}

/// A failure class that may be retried (`retry_on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RetryOn {
    /// 408 Request Timeout.
    #[serde(rename = "408")]
    S408,
    /// 429 RESOURCE_EXHAUSTED.
    #[serde(rename = "429")]
    S429,
    /// 500 INTERNAL.
    #[serde(rename = "500")]
    S500,
    /// 502 Bad Gateway.
    #[serde(rename = "502")]
    S502,
    /// 503 UNAVAILABLE.
    #[serde(rename = "503")]
    S503,
    /// 504 DEADLINE_EXCEEDED.
    #[serde(rename = "504")]
    S504,
    /// Connection failures, resets, bodies cut short.
    Transport,
    /// Only connections that could not be made (refused, unreachable): nothing reached the
    /// server. What google-genai retries among transport failures (httpx `ConnectError`).
    Connect,
    /// The per-attempt timeout fired.
    Timeout,
    /// A stream ended early or sent an error event.
    Stream,
    /// A 200 whose body could not be read as JSON.
    Decode,
}

impl RetryOn {
    fn matches(self, error: &AttemptError) -> bool {
        if self == RetryOn::Connect {
            return error.kind == ErrorKind::Transport && error.connect;
        }
        matches!(
            (self, error.kind),
            (RetryOn::S408, ErrorKind::Status(408))
                | (RetryOn::S429, ErrorKind::Status(429))
                | (RetryOn::S500, ErrorKind::Status(500))
                | (RetryOn::S502, ErrorKind::Status(502))
                | (RetryOn::S503, ErrorKind::Status(503))
                | (RetryOn::S504, ErrorKind::Status(504))
                | (RetryOn::Transport, ErrorKind::Transport)
                | (RetryOn::Timeout, ErrorKind::Timeout)
                | (RetryOn::Stream, ErrorKind::Stream)
                | (RetryOn::Decode, ErrorKind::Decode)
        )
    }
}

fn default_retry_on() -> Vec<RetryOn> {
    use RetryOn::*;
    vec![S429, S500, S502, S503, S504, Transport, Timeout, Stream]
}

fn default_base() -> Duration {
    Duration::from_secs(1)
}

fn default_cap() -> Duration {
    Duration::from_secs(32)
}

fn default_true() -> bool {
    true
}

fn one() -> u32 {
    1
}

/// `[strategy.retry]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Backoff policy.
    #[serde(default)]
    pub policy: BackoffPolicy,
    /// Jitter on each backoff, so retries of many clients do not arrive together.
    #[serde(default)]
    pub jitter: Jitter,
    /// Base wait.
    #[serde(default = "default_base", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub base: Duration,
    /// Longest wait.
    #[serde(default = "default_cap", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub cap: Duration,
    /// Attempts in all, first included (1 = no retries).
    #[serde(default = "one")]
    pub max_attempts: u32,
    /// Wait at least the server's RetryInfo / Retry-After delay.
    #[serde(default = "default_true")]
    pub honor_retry_delay: bool,
    /// Failures that are retried.
    #[serde(default = "default_retry_on")]
    pub retry_on: Vec<RetryOn>,
    /// Give up at once on a 429 for a per-day quota, as gemini-cli does.
    #[serde(default = "default_true")]
    pub give_up_on_daily_quota: bool,
    /// Additive jitter: the most added.
    #[serde(default = "default_base", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub jitter_max: Duration,
    /// Proportional jitter: the relative swing.
    #[serde(default = "default_ratio")]
    pub jitter_ratio: f64,
    /// Give up when the server asks to wait longer than this (gemini-cli: 300 s).
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub max_retry_delay: Option<Duration>,
    /// A retry budget (gRPC throttling, percentage, AWS quota).
    #[serde(default)]
    pub budget: Option<super::budget::BudgetSpec>,
}

fn default_ratio() -> f64 {
    0.3
}

impl Default for RetrySpec {
    fn default() -> Self {
        RetrySpec {
            policy: BackoffPolicy::Exponential,
            jitter: Jitter::Full,
            base: default_base(),
            cap: default_cap(),
            max_attempts: 1,
            honor_retry_delay: true,
            retry_on: default_retry_on(),
            give_up_on_daily_quota: true,
            jitter_max: default_base(),
            jitter_ratio: default_ratio(),
            max_retry_delay: None,
            budget: None,
        }
    }
}

/// Why a request stopped being retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GiveUp {
    /// The failure is not in `retry_on`.
    NotRetryable,
    /// `max_attempts` reached.
    MaxAttempts,
    /// A per-day quota was exhausted.
    DailyQuota,
    /// The billing account's monthly spend cap was spent.
    MonthlyCap,
    /// The wait would end after the request's total deadline.
    Deadline,
    /// The server asked to wait longer than `max_retry_delay`.
    RetryDelayTooLong,
    /// The retry budget refused it.
    Budget,
    /// The model's circuit breaker was open.
    BreakerOpen,
    /// Client-side adaptive throttling dropped the retry.
    Throttled,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Try again after this wait.
    Retry(Duration),
    /// Stop: give up on the request, for this reason.
    GiveUp(GiveUp),
}

impl RetrySpec {
    /// The backoff before retry `n` (1 at the first retry); `previous` is the last wait
    /// (decorrelated jitter uses it).
    pub fn backoff(&self, n: u32, previous: Duration, rng: &mut StreamRng) -> Duration {
        let base = self.base.as_secs_f64();
        let cap = self.cap.as_secs_f64();
        let secs = match self.policy {
            BackoffPolicy::None => 0.0,
            BackoffPolicy::Fixed => self.jitter(base, rng),
            BackoffPolicy::Exponential => {
                let v = (base * 2f64.powi(n.min(1000) as i32)).min(cap);
                self.jitter(v, rng)
            }
            BackoffPolicy::Decorrelated => {
                let prev = if previous.is_zero() {
                    base
                } else {
                    previous.as_secs_f64()
                };
                let hi = (3.0 * prev).max(base);
                let v = if hi > base { rng.random_range(base..hi) } else { base };
                v.min(cap)
            }
        };
        secs_f64(secs)
    }

    fn jitter(&self, v: f64, rng: &mut StreamRng) -> f64 {
        let u: f64 = rng.random();
        match self.jitter {
            Jitter::None => v,
            Jitter::Full => v * u,
            Jitter::Equal => v / 2.0 + v / 2.0 * u,
            Jitter::Additive => (v + self.jitter_max.as_secs_f64() * u).min(self.cap.as_secs_f64()),
            Jitter::Proportional => v * (1.0 + self.jitter_ratio * (2.0 * u - 1.0)),
        }
    }

    /// Whether `error` may be retried at all.
    pub fn retryable(&self, error: &AttemptError) -> bool {
        self.retry_on.iter().any(|r| r.matches(error))
    }

    /// Decides after attempt number `attempts` (1-based) failed with `error`. `time_left` is
    /// what remains of the total deadline.
    pub fn decide(
        &self,
        attempts: u32,
        error: &AttemptError,
        previous: Duration,
        time_left: Duration,
        rng: &mut StreamRng,
    ) -> Decision {
        if self.policy == BackoffPolicy::None || !self.retryable(error) {
            return Decision::GiveUp(GiveUp::NotRetryable);
        }
        if self.give_up_on_daily_quota && error.per_day {
            return Decision::GiveUp(match error.refused_by {
                Some(crate::backend::QuotaKind::MonthlyCap) => GiveUp::MonthlyCap,
                _ => GiveUp::DailyQuota,
            });
        }
        if attempts >= self.max_attempts {
            return Decision::GiveUp(GiveUp::MaxAttempts);
        }
        if let (Some(max), Some(hint)) = (self.max_retry_delay, error.retry_delay) {
            if hint > max {
                return Decision::GiveUp(GiveUp::RetryDelayTooLong);
            }
        }
        let mut wait = self.backoff(attempts, previous, rng);
        if self.honor_retry_delay {
            if let Some(hint) = error.retry_delay {
                wait = wait.max(hint);
            }
        }
        if wait >= time_left {
            return Decision::GiveUp(GiveUp::Deadline);
        }
        Decision::Retry(wait)
    }

    /// Checks values that serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_attempts == 0 {
            return Err("retry.max_attempts must be at least 1 (1 = no retries)".into());
        }
        if self.cap < self.base {
            return Err("retry.cap must be at least retry.base".into());
        }
        stampede_mock::ranges::SHARE.check("retry.jitter_ratio", self.jitter_ratio)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_mock::rng::stream_rng;

    fn spec(src: &str) -> RetrySpec {
        toml::from_str(src).unwrap()
    }

    fn err(kind: ErrorKind) -> AttemptError {
        AttemptError::new(kind)
    }

    #[test]
    fn google_genai_retry_retries_what_the_sdk_retries() {
        // From google/genai/_api_client.py: APIError codes 408/429/5xx (a per-day 429 too) and
        // httpx ConnectError/TimeoutException; a connection lost after the request is final.
        let table: toml::Table = toml::from_str("preset = \"google-genai-retry\"").unwrap();
        let s = crate::strategy::presets::resolve(&table).unwrap().retry;
        let mut rng = stream_rng(3, "r");
        let mut decide = |e: &AttemptError| s.decide(1, e, Duration::ZERO, Duration::from_secs(600), &mut rng);
        let per_day = AttemptError {
            per_day: true,
            refused_by: Some(crate::backend::QuotaKind::Rpd),
            ..err(ErrorKind::Status(429))
        };
        assert!(matches!(decide(&per_day), Decision::Retry(_)));
        assert!(matches!(decide(&AttemptError::connect_failed()), Decision::Retry(_)));
        assert!(matches!(decide(&err(ErrorKind::Timeout)), Decision::Retry(_)));
        assert_eq!(
            decide(&err(ErrorKind::Transport)),
            Decision::GiveUp(GiveUp::NotRetryable)
        );
        assert_eq!(decide(&err(ErrorKind::Stream)), Decision::GiveUp(GiveUp::NotRetryable));
        // "transport" still takes both; "connect" only the connection that was never made.
        let any = spec("retry_on = [\"transport\"]");
        assert!(any.retryable(&err(ErrorKind::Transport)) && any.retryable(&AttemptError::connect_failed()));
        let connect = spec("retry_on = [\"connect\"]");
        assert!(!connect.retryable(&err(ErrorKind::Transport)) && connect.retryable(&AttemptError::connect_failed()));
    }

    #[test]
    fn exponential_without_jitter_follows_the_formula() {
        let s = spec("policy = \"exponential\"\njitter = \"none\"\nbase = \"100ms\"\ncap = \"1s\"");
        let mut rng = stream_rng(1, "r");
        let waits: Vec<u64> = (1..=6)
            .map(|n| s.backoff(n, Duration::ZERO, &mut rng).as_millis() as u64)
            .collect();
        assert_eq!(waits, [200, 400, 800, 1000, 1000, 1000]);
    }

    #[test]
    fn jitters_stay_in_their_ranges_with_the_right_means() {
        let mut rng = stream_rng(2, "r");
        let full = spec("jitter = \"full\"\nbase = \"1s\"\ncap = \"100s\"");
        let equal = spec("jitter = \"equal\"\nbase = \"1s\"\ncap = \"100s\"");
        let n = 20_000;
        let (mut sf, mut se) = (0.0, 0.0);
        for _ in 0..n {
            let f = full.backoff(2, Duration::ZERO, &mut rng).as_secs_f64();
            let e = equal.backoff(2, Duration::ZERO, &mut rng).as_secs_f64();
            assert!((0.0..=4.0).contains(&f));
            assert!((2.0..=4.0).contains(&e));
            sf += f;
            se += e;
        }
        assert!((sf / n as f64 - 2.0).abs() < 0.05);
        assert!((se / n as f64 - 3.0).abs() < 0.03);
    }

    #[test]
    fn additive_and_proportional_jitter() {
        let mut rng = stream_rng(5, "r");
        let add = spec("jitter = \"additive\"\nbase = \"500ms\"\ncap = \"60s\"\njitter_max = \"1s\"");
        let prop = spec("jitter = \"proportional\"\nbase = \"2500ms\"\ncap = \"30s\"\njitter_ratio = 0.3");
        for _ in 0..1000 {
            // google-genai: 1 s, then 2 s..., each plus up to 1 s.
            let w = add.backoff(1, Duration::ZERO, &mut rng).as_secs_f64();
            assert!((1.0..=2.0).contains(&w), "{w}");
            // gemini-cli: 5 s ± 30%.
            let w = prop.backoff(1, Duration::ZERO, &mut rng).as_secs_f64();
            assert!((3.5..=6.5).contains(&w), "{w}");
        }
        assert!(
            add.backoff(10, Duration::ZERO, &mut rng) <= Duration::from_secs(60),
            "capped after jitter"
        );
    }

    #[test]
    fn decorrelated_and_fixed() {
        let mut rng = stream_rng(3, "r");
        let d = spec("policy = \"decorrelated\"\nbase = \"1s\"\ncap = \"10s\"");
        let mut prev = Duration::ZERO;
        for _ in 0..1000 {
            let w = d.backoff(1, prev, &mut rng);
            let hi = if prev.is_zero() { 3.0 } else { 3.0 * prev.as_secs_f64() };
            assert!(w.as_secs_f64() >= 1.0 && w.as_secs_f64() <= hi.min(10.0) + 1e-9);
            prev = w;
        }
        let f = spec("policy = \"fixed\"\njitter = \"none\"\nbase = \"250ms\"");
        assert_eq!(f.backoff(7, Duration::ZERO, &mut rng), Duration::from_millis(250));
    }

    #[test]
    fn decisions() {
        let mut rng = stream_rng(4, "r");
        let s = spec("max_attempts = 3\njitter = \"none\"\nbase = \"1s\"");
        let left = Duration::from_secs(100);
        assert_eq!(
            s.decide(1, &err(ErrorKind::Status(429)), Duration::ZERO, left, &mut rng),
            Decision::Retry(Duration::from_secs(2))
        );
        assert_eq!(
            s.decide(3, &err(ErrorKind::Status(429)), Duration::ZERO, left, &mut rng),
            Decision::GiveUp(GiveUp::MaxAttempts)
        );
        assert_eq!(
            s.decide(1, &err(ErrorKind::Status(400)), Duration::ZERO, left, &mut rng),
            Decision::GiveUp(GiveUp::NotRetryable)
        );
        let mut hinted = err(ErrorKind::Status(429));
        hinted.retry_delay = Some(Duration::from_secs(30));
        assert_eq!(
            s.decide(1, &hinted, Duration::ZERO, left, &mut rng),
            Decision::Retry(Duration::from_secs(30))
        );
        assert_eq!(
            s.decide(1, &hinted, Duration::ZERO, Duration::from_secs(10), &mut rng),
            Decision::GiveUp(GiveUp::Deadline)
        );
        let mut daily = err(ErrorKind::Status(429));
        daily.per_day = true;
        assert_eq!(
            s.decide(1, &daily, Duration::ZERO, left, &mut rng),
            Decision::GiveUp(GiveUp::DailyQuota)
        );
        let no_honor = spec("max_attempts = 3\njitter = \"none\"\nbase = \"1s\"\nhonor_retry_delay = false");
        assert_eq!(
            no_honor.decide(1, &hinted, Duration::ZERO, left, &mut rng),
            Decision::Retry(Duration::from_secs(2))
        );
        let patient = spec("max_attempts = 3\nmax_retry_delay = \"20s\"");
        assert_eq!(
            patient.decide(1, &hinted, Duration::ZERO, left, &mut rng),
            Decision::GiveUp(GiveUp::RetryDelayTooLong)
        );
        let none = spec("policy = \"none\"\nmax_attempts = 3");
        assert_eq!(
            none.decide(1, &err(ErrorKind::Timeout), Duration::ZERO, left, &mut rng),
            Decision::GiveUp(GiveUp::NotRetryable)
        );
    }
}
