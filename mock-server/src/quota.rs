//! Quota bookkeeping: requests per minute, input tokens per minute and requests per day, kept
//! per API key (standing for a project) and per model, as Gemini does.
//!
//! Window semantics are chosen by [`QuotaWindow`]. A request is admitted only when every
//! dimension has room; only admitted requests use quota. The time a refused request must wait
//! ([`Refusal::retry_after`]) is exact: retrying after it succeeds unless someone else takes the
//! room first. A request larger than a dimension's whole limit can never be admitted; it is
//! told to wait one full window.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::catalog::{Dimension, Limits};
use crate::profile::QuotaWindow;

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

/// One dimension's window: a limit over a period.
#[derive(Debug)]
pub struct RateWindow {
    limit: u64,
    period: Duration,
    kind: QuotaWindow,
    origin: Instant,
    /// Sliding: admitted (time, cost) pairs still inside the window.
    log: VecDeque<(Instant, u64)>,
    /// Amount used in the current window.
    used: u64,
    /// Fixed: index of the current window since `origin`.
    window_index: u64,
}

impl RateWindow {
    /// A window; `limit == 0` means unlimited. Fixed windows are aligned to `origin`.
    pub fn new(limit: u64, period: Duration, kind: QuotaWindow, origin: Instant) -> RateWindow {
        RateWindow {
            limit,
            period,
            kind,
            origin,
            log: VecDeque::new(),
            used: 0,
            window_index: 0,
        }
    }

    fn roll(&mut self, now: Instant) {
        match self.kind {
            QuotaWindow::Sliding => {
                while let Some(&(t, c)) = self.log.front() {
                    if t + self.period <= now {
                        self.used -= c;
                        self.log.pop_front();
                    } else {
                        break;
                    }
                }
            }
            QuotaWindow::Fixed => {
                let index = (now.saturating_duration_since(self.origin).as_nanos() / self.period.as_nanos()) as u64;
                if index != self.window_index {
                    self.window_index = index;
                    self.used = 0;
                }
            }
        }
    }

    /// `None` when `cost` fits now, else how long until it would.
    pub fn wait(&mut self, now: Instant, cost: u64) -> Option<Duration> {
        if self.limit == 0 {
            return None;
        }
        self.roll(now);
        if self.used + cost <= self.limit {
            return None;
        }
        if cost > self.limit {
            return Some(self.period);
        }
        Some(match self.kind {
            QuotaWindow::Sliding => {
                let mut remaining = self.used;
                let mut at = now + self.period;
                for &(t, c) in &self.log {
                    remaining -= c;
                    if remaining + cost <= self.limit {
                        at = t + self.period;
                        break;
                    }
                }
                at.saturating_duration_since(now)
            }
            QuotaWindow::Fixed => {
                let next = self.origin + self.period * (self.window_index as u32 + 1);
                next.saturating_duration_since(now)
            }
        })
    }

    /// Records an admitted request of `cost`.
    pub fn commit(&mut self, now: Instant, cost: u64) {
        if self.limit == 0 {
            return;
        }
        self.roll(now);
        self.used += cost;
        if self.kind == QuotaWindow::Sliding {
            self.log.push_back((now, cost));
        }
    }

    /// Amount used in the window as of `now`.
    pub fn used(&mut self, now: Instant) -> u64 {
        self.roll(now);
        self.used
    }

    /// The limit (0 = unlimited).
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

/// A refused request: which dimension, its limit, and how long until it has room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The violated dimension.
    pub dimension: Dimension,
    /// Its limit.
    pub limit: u64,
    /// Time until the request would be admitted.
    pub retry_after: Duration,
}

/// The three windows of one (key, model).
#[derive(Debug)]
pub struct ModelQuota {
    rpd: RateWindow,
    rpm: RateWindow,
    tpm: RateWindow,
}

impl ModelQuota {
    /// Fresh windows for `limits`.
    pub fn new(limits: Limits, kind: QuotaWindow, origin: Instant) -> ModelQuota {
        ModelQuota {
            rpd: RateWindow::new(limits.rpd, DAY, kind, origin),
            rpm: RateWindow::new(limits.rpm, MINUTE, kind, origin),
            tpm: RateWindow::new(limits.tpm, MINUTE, kind, origin),
        }
    }

    /// Admits a request with `tokens` input tokens, or says which dimension refused it. The
    /// day quota is checked first because it is the one a client must not retry.
    pub fn admit(&mut self, now: Instant, tokens: u64) -> Result<(), Refusal> {
        let checks = [(Dimension::Rpd, 1), (Dimension::Rpm, 1), (Dimension::Tpm, tokens)];
        for (dim, cost) in checks {
            let w = self.window(dim);
            if let Some(retry_after) = w.wait(now, cost) {
                return Err(Refusal {
                    dimension: dim,
                    limit: w.limit(),
                    retry_after,
                });
            }
        }
        self.rpd.commit(now, 1);
        self.rpm.commit(now, 1);
        self.tpm.commit(now, tokens);
        Ok(())
    }

    fn window(&mut self, dim: Dimension) -> &mut RateWindow {
        match dim {
            Dimension::Rpd => &mut self.rpd,
            Dimension::Rpm => &mut self.rpm,
            Dimension::Tpm => &mut self.tpm,
        }
    }

    /// (used, limit) per dimension as of `now`.
    pub fn usage(&mut self, now: Instant) -> DimensionUsage {
        [Dimension::Rpm, Dimension::Tpm, Dimension::Rpd].map(|d| {
            let w = self.window(d);
            (d, w.used(now), w.limit())
        })
    }
}

/// (dimension, used, limit) for each of a model's three dimensions.
pub type DimensionUsage = [(Dimension, u64, u64); 3];

/// The most API keys whose quotas are kept apart: a profile that accepts any key must not grow
/// without bound under a flood of made-up keys. Past it, new keys share one quota.
pub const MAX_KEYS: usize = 1000;
/// The key every key past [`MAX_KEYS`] is counted under.
const OTHER_KEYS: &str = "\u{0}(other keys)";

/// `key`, or the shared key of every key past [`MAX_KEYS`] when `map` is full and does not know
/// it: what keeps a per-key book bounded.
pub fn capped_key<'a, V>(map: &FxHashMap<String, V>, key: &'a str) -> &'a str {
    if map.contains_key(key) || map.len() < MAX_KEYS {
        key
    } else {
        OTHER_KEYS
    }
}

/// Quotas of every (key, model) seen so far (at most [`MAX_KEYS`] keys).
#[derive(Debug)]
pub struct QuotaBook {
    kind: QuotaWindow,
    origin: Instant,
    by_key: FxHashMap<String, FxHashMap<String, ModelQuota>>,
}

impl QuotaBook {
    /// An empty book; fixed windows align to `origin`.
    pub fn new(kind: QuotaWindow, origin: Instant) -> QuotaBook {
        QuotaBook {
            kind,
            origin,
            by_key: FxHashMap::default(),
        }
    }

    /// Admits or refuses one request for (`key`, `model`) with these limits.
    pub fn admit(&mut self, now: Instant, key: &str, model: &str, limits: Limits, tokens: u64) -> Result<(), Refusal> {
        let (kind, origin) = (self.kind, self.origin);
        let key = capped_key(&self.by_key, key);
        if !self.by_key.contains_key(key) {
            self.by_key.insert(key.to_string(), FxHashMap::default());
        }
        let models = self.by_key.get_mut(key).expect("inserted above");
        if !models.contains_key(model) {
            models.insert(model.to_string(), ModelQuota::new(limits, kind, origin));
        }
        models.get_mut(model).expect("inserted above").admit(now, tokens)
    }

    /// Usage of every (key, model) as of `now`; keys are reported by index, never by value.
    pub fn usage(&mut self, now: Instant) -> Vec<(usize, String, DimensionUsage)> {
        let mut keys: Vec<&String> = self.by_key.keys().collect();
        keys.sort();
        let keys: Vec<String> = keys.into_iter().cloned().collect();
        let mut out = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let models = self.by_key.get_mut(key).expect("key listed");
            let mut names: Vec<String> = models.keys().cloned().collect();
            names.sort();
            for name in names {
                let q = models.get_mut(&name).expect("model listed");
                out.push((i, name, q.usage(now)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_flood_of_made_up_keys_keeps_the_book_bounded() {
        let now = Instant::now();
        let mut book = QuotaBook::new(QuotaWindow::Sliding, now);
        let limits = Limits { rpm: 5, tpm: 0, rpd: 0 };
        for i in 0..5000 {
            let _ = book.admit(now, &format!("key-{i}"), "m", limits, 1);
        }
        assert_eq!(book.by_key.len(), MAX_KEYS + 1);
        // Keys past the cap share one quota: 5 requests a minute among all of them.
        assert!(book.admit(now, "yet-another", "m", limits, 1).is_err());
        // A key seen before the cap keeps its own.
        assert!(book.admit(now, "key-1", "m", limits, 1).is_ok());
    }
    use crate::duration::secs as secs_f64;

    fn secs(s: f64) -> Duration {
        secs_f64(s)
    }

    #[tokio::test(start_paused = true)]
    async fn sliding_window_admits_limit_then_says_when() {
        let t0 = Instant::now();
        let mut w = RateWindow::new(3, MINUTE, QuotaWindow::Sliding, t0);
        for i in 0..3 {
            let now = t0 + secs(i as f64 * 10.0);
            assert_eq!(w.wait(now, 1), None);
            w.commit(now, 1);
        }
        // At t=25 s the oldest (t=0) leaves at t=60 s.
        assert_eq!(w.wait(t0 + secs(25.0), 1), Some(secs(35.0)));
        // Exactly at t=60 s it fits.
        assert_eq!(w.wait(t0 + secs(60.0), 1), None);
    }

    #[tokio::test(start_paused = true)]
    async fn sliding_token_window_waits_for_enough_room() {
        let t0 = Instant::now();
        let mut w = RateWindow::new(100, MINUTE, QuotaWindow::Sliding, t0);
        w.commit(t0, 40);
        w.commit(t0 + secs(10.0), 40);
        w.commit(t0 + secs(20.0), 20);
        // 70 tokens need the first two entries gone: at t=70 s.
        assert_eq!(w.wait(t0 + secs(30.0), 70), Some(secs(40.0)));
        // Bigger than the limit: one full window.
        assert_eq!(w.wait(t0 + secs(30.0), 101), Some(MINUTE));
    }

    #[tokio::test(start_paused = true)]
    async fn fixed_window_resets_on_the_minute() {
        let t0 = Instant::now();
        let mut w = RateWindow::new(2, MINUTE, QuotaWindow::Fixed, t0);
        w.commit(t0 + secs(50.0), 1);
        w.commit(t0 + secs(55.0), 1);
        assert_eq!(w.wait(t0 + secs(58.0), 1), Some(secs(2.0)));
        assert_eq!(w.wait(t0 + secs(60.0), 1), None);
    }

    #[tokio::test(start_paused = true)]
    async fn book_refuses_day_before_minute_and_keeps_keys_apart() {
        let t0 = Instant::now();
        let mut book = QuotaBook::new(QuotaWindow::Sliding, t0);
        let limits = Limits { rpm: 1, tpm: 0, rpd: 1 };
        assert!(book.admit(t0, "a", "m", limits, 10).is_ok());
        let r = book.admit(t0, "a", "m", limits, 10).unwrap_err();
        assert_eq!(r.dimension, Dimension::Rpd);
        assert!(book.admit(t0, "b", "m", limits, 10).is_ok());
        assert!(book.admit(t0, "a", "other", limits, 10).is_ok());
        let tpm = Limits {
            rpm: 0,
            tpm: 100,
            rpd: 0,
        };
        assert!(book.admit(t0, "c", "m", tpm, 60).is_ok());
        let r = book.admit(t0 + secs(1.0), "c", "m", tpm, 60).unwrap_err();
        assert_eq!((r.dimension, r.limit, r.retry_after), (Dimension::Tpm, 100, secs(59.0)));
    }
}
