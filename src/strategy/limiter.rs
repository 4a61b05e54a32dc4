//! Client-side rate limiting: token buckets for requests per minute and input tokens per
//! minute, so the client stays under the provider's quota instead of learning it from 429s.
//!
//! A bucket refills at `limit / 60` per second up to `burst` (by default one second's worth,
//! at least one request's cost). A request whose cost exceeds the burst waits for a full bucket
//! and then drives it negative, so oversized prompts are slowed, never starved.

use stampede_mock::duration::secs as secs_f64;

use super::policy::{Outgoing, Policy};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// What one set of buckets covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// One set for all requests.
    #[default]
    Global,
    /// One set per model (as Gemini's quotas are).
    Model,
    /// One set per lane.
    Lane,
}

/// `[strategy.rate_limit]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    /// What one set of buckets covers.
    #[serde(default)]
    pub scope: Scope,
    /// Requests per minute (0 = off).
    #[serde(default)]
    pub rpm: u64,
    /// Input tokens per minute (0 = off).
    #[serde(default)]
    pub tpm: u64,
    /// Bucket size in requests (default: one second's worth, at least 1).
    #[serde(default)]
    pub burst_requests: Option<f64>,
    /// Bucket size in tokens (default: one second's worth).
    #[serde(default)]
    pub burst_tokens: Option<f64>,
    /// With several client replicas: one set of buckets for all of them (a limiter in a shared
    /// store such as Redis) instead of one per replica at these rates.
    #[serde(default)]
    pub shared: bool,
}

/// One token bucket.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    per_sec: f64,
    capacity: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// A full bucket refilling at `per_minute / 60` per second, holding `capacity`.
    pub fn new(per_minute: u64, capacity: f64, now: Instant) -> TokenBucket {
        TokenBucket {
            per_sec: per_minute as f64 / 60.0,
            capacity,
            tokens: capacity,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * self.per_sec).min(self.capacity);
        self.at = self.at.max(now);
    }

    /// When `cost` can be taken (now if it can).
    pub fn ready_at(&mut self, now: Instant, cost: f64) -> Instant {
        self.refill(now);
        let need = cost.min(self.capacity) - self.tokens;
        if need <= 1e-9 {
            now
        } else {
            now + secs_f64(need / self.per_sec)
        }
    }

    /// Takes `cost` (may leave the bucket negative for oversized costs).
    pub fn take(&mut self, now: Instant, cost: f64) {
        self.refill(now);
        self.tokens -= cost;
    }
}

/// The RPM and TPM buckets together.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    requests: Option<TokenBucket>,
    tokens: Option<TokenBucket>,
}

impl RateLimiter {
    /// Buckets for `spec`, full at `now`.
    pub fn new(spec: &RateLimitSpec, now: Instant) -> RateLimiter {
        let requests = (spec.rpm > 0).then(|| {
            let burst = spec.burst_requests.unwrap_or((spec.rpm as f64 / 60.0).max(1.0));
            TokenBucket::new(spec.rpm, burst, now)
        });
        let tokens = (spec.tpm > 0).then(|| {
            let burst = spec.burst_tokens.unwrap_or(spec.tpm as f64 / 60.0);
            TokenBucket::new(spec.tpm, burst, now)
        });
        RateLimiter { requests, tokens }
    }

    /// Whether any limit is on.
    pub fn is_active(&self) -> bool {
        self.requests.is_some() || self.tokens.is_some()
    }

    /// When a request with `input_tokens` may go.
    pub fn ready_at(&mut self, now: Instant, input_tokens: u32) -> Instant {
        let mut at = now;
        if let Some(b) = &mut self.requests {
            at = at.max(b.ready_at(now, 1.0));
        }
        if let Some(b) = &mut self.tokens {
            at = at.max(b.ready_at(now, f64::from(input_tokens)));
        }
        at
    }

    /// Takes the cost of a request that goes now.
    pub fn take(&mut self, now: Instant, input_tokens: u32) {
        if let Some(b) = &mut self.requests {
            b.take(now, 1.0);
        }
        if let Some(b) = &mut self.tokens {
            b.take(now, f64::from(input_tokens));
        }
    }
}

/// Rate limiters for every model or lane, as the scope says.
#[derive(Debug, Clone)]
pub struct ScopedLimiter {
    scope: Scope,
    spec: RateLimitSpec,
    buckets: Vec<RateLimiter>,
    origin: Instant,
}

impl ScopedLimiter {
    /// Full buckets at `now`.
    pub fn new(spec: &RateLimitSpec, now: Instant) -> ScopedLimiter {
        ScopedLimiter {
            scope: spec.scope,
            spec: spec.clone(),
            buckets: vec![RateLimiter::new(spec, now)],
            origin: now,
        }
    }

    /// Whether any limit is on.
    pub fn is_active(&self) -> bool {
        self.buckets[0].is_active()
    }

    fn bucket(&mut self, model: u8, lane: u8) -> &mut RateLimiter {
        let i = match self.scope {
            Scope::Global => 0,
            Scope::Model => usize::from(model),
            Scope::Lane => usize::from(lane),
        };
        while self.buckets.len() <= i {
            self.buckets.push(RateLimiter::new(&self.spec, self.origin));
        }
        &mut self.buckets[i]
    }

    /// When a request for `model` in `lane` with `input_tokens` may go.
    pub fn ready_at(&mut self, now: Instant, model: u8, lane: u8, input_tokens: u32) -> Instant {
        self.bucket(model, lane).ready_at(now, input_tokens)
    }

    /// Takes its cost.
    pub fn take(&mut self, now: Instant, model: u8, lane: u8, input_tokens: u32) {
        self.bucket(model, lane).take(now, input_tokens);
    }
}

impl Policy for ScopedLimiter {
    fn ready_at(&mut self, now: Instant, attempt: &Outgoing) -> Instant {
        ScopedLimiter::ready_at(self, now, attempt.model, attempt.lane, attempt.input_tokens)
    }

    fn take(&mut self, now: Instant, attempt: &Outgoing) {
        ScopedLimiter::take(self, now, attempt.model, attempt.lane, attempt.input_tokens);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bucket_admits_burst_then_paces() {
        let t0 = Instant::now();
        let spec = RateLimitSpec {
            rpm: 120,
            burst_requests: Some(2.0),
            ..Default::default()
        };
        let mut l = RateLimiter::new(&spec, t0);
        assert_eq!(l.ready_at(t0, 10), t0);
        l.take(t0, 10);
        l.take(t0, 10);
        // 2 per second: the next one is due in 0.5 s.
        assert_eq!(l.ready_at(t0, 10), t0 + Duration::from_millis(500));
        let mut admitted = 0;
        let mut now = t0;
        while now < t0 + Duration::from_secs(60) {
            now = l.ready_at(now, 10);
            if now >= t0 + Duration::from_secs(60) {
                break;
            }
            l.take(now, 10);
            admitted += 1;
        }
        // 120 per minute after the 2 taken at t0, minus the one still refilling at the end.
        assert_eq!(admitted, 119);
    }

    #[tokio::test(start_paused = true)]
    async fn scopes_keep_separate_buckets() {
        let t0 = Instant::now();
        let spec: RateLimitSpec = toml::from_str("rpm = 60\nburst_requests = 1\nscope = \"model\"").unwrap();
        let mut l = ScopedLimiter::new(&spec, t0);
        l.take(t0, 0, 0, 1);
        assert_eq!(l.ready_at(t0, 0, 0, 1), t0 + Duration::from_secs(1));
        assert_eq!(l.ready_at(t0, 1, 0, 1), t0, "another model has its own bucket");
        let global: RateLimitSpec = toml::from_str("rpm = 60\nburst_requests = 1").unwrap();
        let mut g = ScopedLimiter::new(&global, t0);
        g.take(t0, 0, 0, 1);
        assert_eq!(g.ready_at(t0, 1, 3, 1), t0 + Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn oversized_token_cost_waits_for_a_full_bucket() {
        let t0 = Instant::now();
        let spec = RateLimitSpec {
            tpm: 6000,
            ..Default::default()
        };
        let mut l = RateLimiter::new(&spec, t0);
        l.take(t0, 50);
        // Bucket holds 100 tokens; a 500-token prompt waits until it is full again (0.5 s).
        assert_eq!(l.ready_at(t0, 500), t0 + Duration::from_millis(500));
        l.take(t0 + Duration::from_millis(500), 500);
        // Now 400 in debt: 100 more tokens are 5 s away.
        assert_eq!(
            l.ready_at(t0 + Duration::from_millis(500), 100),
            t0 + Duration::from_millis(5500)
        );
    }
}
