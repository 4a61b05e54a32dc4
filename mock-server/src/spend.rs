//! Spend-based limits per project (API key): the spend-based rate limit (dollars of answered
//! tokens over a rolling window, such as $10 per 10 minutes on Tier 1) and the billing
//! account's monthly cap (kept as a 30-day rolling window). Past either, generate calls are
//! refused with 429 until enough spend has aged out of the window.
//!
//! Spend is counted in micro-dollars on [`RateWindow`]s, so the windows behave exactly like the
//! quota windows: a call is admitted while the window's spend is below the limit (an answer's
//! cost is known only once it is planned, so the last admitted answer may overshoot the limit,
//! as a real bill does), and the refusal says when the window falls below the limit again.

use std::time::Duration;

use rustc_hash::FxHashMap;
use tokio::time::Instant;

use crate::profile::{QuotaWindow, SpendLimit};
use crate::quota::{capped_key, RateWindow};

/// Thirty days: the monthly cap's window.
pub const MONTH: Duration = Duration::from_secs(30 * 86_400);

/// Which spend limit refused a call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpendRefusal {
    /// The limit in USD.
    pub limit_usd: f64,
    /// Its window.
    pub window: Duration,
    /// Whether it is the monthly cap (else the spend-based rate limit).
    pub monthly: bool,
    /// Time until the window's spend is below the limit again.
    pub retry_after: Duration,
}

struct ProjectSpend {
    rate: Option<RateWindow>,
    month: Option<RateWindow>,
}

/// The spend windows of every project seen so far (bounded like the quota book).
pub struct SpendBook {
    limit: Option<SpendLimit>,
    monthly_cap_usd: f64,
    origin: Instant,
    by_key: FxHashMap<String, ProjectSpend>,
}

fn micro(usd: f64) -> u64 {
    (usd * 1e6).round().max(0.0) as u64
}

impl SpendBook {
    /// A book for these limits (`monthly_cap_usd` 0 = none).
    pub fn new(limit: Option<SpendLimit>, monthly_cap_usd: f64, origin: Instant) -> SpendBook {
        SpendBook {
            limit: limit.filter(SpendLimit::is_active),
            monthly_cap_usd,
            origin,
            by_key: FxHashMap::default(),
        }
    }

    /// Whether any limit is set (otherwise nothing is kept).
    pub fn is_active(&self) -> bool {
        self.limit.is_some() || self.monthly_cap_usd > 0.0
    }

    fn project(&mut self, key: &str) -> &mut ProjectSpend {
        let key = capped_key(&self.by_key, key).to_string();
        let (limit, cap, origin) = (self.limit, self.monthly_cap_usd, self.origin);
        self.by_key.entry(key).or_insert_with(|| ProjectSpend {
            rate: limit.map(|l| RateWindow::new(micro(l.usd), l.window, QuotaWindow::Sliding, origin)),
            month: (cap > 0.0).then(|| RateWindow::new(micro(cap), MONTH, QuotaWindow::Sliding, origin)),
        })
    }

    /// `Ok` when the project may spend now; else which limit it is over and until when. The
    /// monthly cap is checked first: a client must not retry it within minutes.
    pub fn check(&mut self, now: Instant, key: &str) -> Result<(), SpendRefusal> {
        if !self.is_active() {
            return Ok(());
        }
        let (limit, cap) = (self.limit, self.monthly_cap_usd);
        let p = self.project(key);
        if let Some(retry_after) = p.month.as_mut().and_then(|w| w.wait(now, 1)) {
            return Err(SpendRefusal {
                limit_usd: cap,
                window: MONTH,
                monthly: true,
                retry_after,
            });
        }
        if let (Some(l), Some(retry_after)) = (limit, p.rate.as_mut().and_then(|w| w.wait(now, 1))) {
            return Err(SpendRefusal {
                limit_usd: l.usd,
                window: l.window,
                monthly: false,
                retry_after,
            });
        }
        Ok(())
    }

    /// Records an answer's cost.
    pub fn commit(&mut self, now: Instant, key: &str, usd: f64) {
        if !self.is_active() || usd <= 0.0 {
            return;
        }
        let p = self.project(key);
        for w in [p.rate.as_mut(), p.month.as_mut()].into_iter().flatten() {
            w.commit(now, micro(usd));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_window_refuses_once_spent_and_reopens_as_spend_ages_out() {
        let t0 = Instant::now();
        let limit = SpendLimit {
            usd: 1.0,
            window: Duration::from_secs(600),
        };
        let mut book = SpendBook::new(Some(limit), 0.0, t0);
        assert!(book.check(t0, "a").is_ok());
        book.commit(t0, "a", 0.6);
        let t1 = t0 + Duration::from_secs(60);
        assert!(book.check(t1, "a").is_ok());
        book.commit(t1, "a", 0.6);
        let r = book.check(t1, "a").unwrap_err();
        assert!(!r.monthly && r.limit_usd == 1.0);
        // The first $0.60 leaves at 600 s; then $0.60 < $1 remains.
        assert_eq!(r.retry_after, Duration::from_secs(540));
        assert!(book.check(t0 + Duration::from_secs(600), "a").is_ok());
        // Projects are apart.
        assert!(book.check(t1, "b").is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn the_monthly_cap_refuses_before_the_rate_limit() {
        let t0 = Instant::now();
        let limit = SpendLimit {
            usd: 1.0,
            window: Duration::from_secs(600),
        };
        let mut book = SpendBook::new(Some(limit), 0.5, t0);
        book.commit(t0, "a", 2.0);
        let r = book.check(t0, "a").unwrap_err();
        assert!(r.monthly && r.window == MONTH && r.retry_after == MONTH);
        assert!(!SpendBook::new(None, 0.0, t0).is_active());
    }
}
