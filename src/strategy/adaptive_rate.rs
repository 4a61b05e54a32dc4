//! The AWS SDK's adaptive retry mode: a client-side token bucket that switches on at the first
//! throttling error and whose rate follows CUBIC (C = 0.4, β = 0.7), as botocore implements it.
//!
//! The client measures its own send rate (0.5 s buckets, smoothed 0.8). On a throttle:
//! `W_max` = the rate in use (the measured rate the first time), `K = (W_max·(1 − β)/C)^(1/3)`,
//! rate `W_max·β`. On a success: `rate = C·(t − t_throttle − K)³ + W_max`. The bucket then fills
//! at `max(0.5, min(rate, 2 × measured rate))` requests per second, holding at most one second's
//! worth.

use stampede_mock::duration::secs as secs_f64;

use super::policy::{Observation, Outgoing, Policy};
use crate::backend::ErrorKind;
use tokio::time::Instant;

const C: f64 = 0.4;
const BETA: f64 = 0.7;
const SMOOTH: f64 = 0.8;
const BUCKET: f64 = 0.5;
const MIN_RATE: f64 = 0.5;

/// The adaptive rate limiter.
#[derive(Debug, Clone)]
pub struct AdaptiveRate {
    enabled: bool,
    fill_rate: f64,
    tokens: f64,
    last_fill: Instant,
    w_max: f64,
    k: f64,
    last_throttle: Instant,
    measured: f64,
    bucket_start: Instant,
    bucket_count: u32,
    /// Times the rate was cut by a throttle.
    pub throttles: u64,
}

impl AdaptiveRate {
    /// Off until the first throttle.
    pub fn new(now: Instant) -> AdaptiveRate {
        AdaptiveRate {
            enabled: false,
            fill_rate: f64::INFINITY,
            tokens: 0.0,
            last_fill: now,
            w_max: 0.0,
            k: 0.0,
            last_throttle: now,
            measured: 0.0,
            bucket_start: now,
            bucket_count: 0,
            throttles: 0,
        }
    }

    /// The rate the bucket fills at (infinite before the first throttle).
    pub fn fill_rate(&self) -> f64 {
        self.fill_rate
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last_fill).as_secs_f64();
        self.tokens = (self.tokens + dt * self.fill_rate).min(self.fill_rate.max(1.0));
        self.last_fill = self.last_fill.max(now);
    }

    /// When one request may go (now when the limiter is off).
    pub fn ready_at(&mut self, now: Instant) -> Instant {
        if !self.enabled {
            return now;
        }
        self.refill(now);
        if self.tokens >= 1.0 {
            now
        } else {
            now + secs_f64((1.0 - self.tokens) / self.fill_rate)
        }
    }

    /// A request goes now.
    pub fn take(&mut self, now: Instant) {
        // Measured send rate, in 0.5 s buckets, exponentially smoothed.
        let elapsed = now.saturating_duration_since(self.bucket_start).as_secs_f64();
        if elapsed >= BUCKET {
            let rate = f64::from(self.bucket_count) / elapsed;
            self.measured = rate * SMOOTH + self.measured * (1.0 - SMOOTH);
            self.bucket_start = now;
            self.bucket_count = 0;
        }
        self.bucket_count += 1;
        if self.enabled {
            self.refill(now);
            self.tokens -= 1.0;
        }
    }

    /// An answer came back; `throttled` for a 429.
    pub fn on_response(&mut self, now: Instant, throttled: bool) {
        let new_rate = if throttled {
            let in_use = if self.enabled {
                self.measured.min(self.fill_rate)
            } else {
                self.measured
            };
            self.w_max = in_use;
            self.k = (self.w_max * (1.0 - BETA) / C).cbrt();
            self.last_throttle = now;
            self.enabled = true;
            self.throttles += 1;
            in_use * BETA
        } else if self.enabled {
            let t = now.saturating_duration_since(self.last_throttle).as_secs_f64();
            C * (t - self.k).powi(3) + self.w_max
        } else {
            return;
        };
        self.refill(now);
        self.fill_rate = new_rate.min(2.0 * self.measured).max(MIN_RATE);
    }
}

impl Policy for AdaptiveRate {
    fn ready_at(&mut self, now: Instant, _: &Outgoing) -> Instant {
        AdaptiveRate::ready_at(self, now)
    }

    fn take(&mut self, now: Instant, _: &Outgoing) {
        AdaptiveRate::take(self, now);
    }

    fn observe(&mut self, now: Instant, seen: &Observation) {
        self.on_response(now, seen.error == Some(ErrorKind::Status(429)));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn off_until_a_throttle_then_cut_by_beta_and_regrowing_as_cubic() {
        let t0 = Instant::now();
        let mut a = AdaptiveRate::new(t0);
        // Send 10 per second for 3 s: the measured rate converges to 10.
        let mut now = t0;
        for _ in 0..30 {
            assert_eq!(a.ready_at(now), now);
            a.take(now);
            a.on_response(now, false);
            now += Duration::from_millis(100);
        }
        assert!((a.measured - 10.0).abs() < 0.5, "measured {}", a.measured);
        assert!(a.fill_rate().is_infinite());
        a.on_response(now, true);
        let w = a.w_max;
        assert!((a.fill_rate() - w * BETA).abs() < 1e-9, "cut to β·W_max");
        // At t = K after the throttle the cubic is back at W_max.
        let k = (w * (1.0 - BETA) / C).cbrt();
        a.on_response(now + secs_f64(k), false);
        assert!((a.fill_rate() - w).abs() < 1e-6, "{} vs {w}", a.fill_rate());
        // The bucket holds one second's worth; once drained it paces at the fill rate.
        let t = now + Duration::from_secs(5);
        while a.ready_at(t) == t {
            a.take(t);
        }
        let first = a.ready_at(t);
        a.take(first);
        let second = a.ready_at(first);
        assert!(second > first);
        assert!(((second - first).as_secs_f64() - 1.0 / a.fill_rate()).abs() < 1e-6);
    }

    #[tokio::test(start_paused = true)]
    async fn never_below_half_a_request_per_second() {
        let t0 = Instant::now();
        let mut a = AdaptiveRate::new(t0);
        a.take(t0);
        for i in 0..20 {
            a.on_response(t0 + Duration::from_millis(i), true);
        }
        assert_eq!(a.fill_rate(), MIN_RATE);
    }
}
