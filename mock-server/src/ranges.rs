//! One table of ranges, one per kind of number: a price per million tokens, an amount in USD,
//! a share, a rate, a window, a token count, a count of users or workers. Every numeric key of
//! scenarios, profiles and catalogs is checked against the range of its kind with
//! [`Range::check`] (or [`Range::check_count`], [`Range::check_duration`]), so the same kind of
//! number has the same bounds and the same message everywhere:
//! `KEY: expected X to Y, got Z`. The bounds keep every figure computed from them finite: the
//! dearest price times the most tokens times the most requests is far below `f64::MAX`, so a
//! cost never overflows to infinity nor saturates to a nonsense amount.
//!
//! The book's limits table (docs/src/limits.md) is [`markdown_table`]'s output.

use std::time::Duration;

/// The bounds of one kind of number (both ends included unless `above_min`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// What numbers of this kind are, for the docs table.
    pub kind: &'static str,
    /// The smallest value.
    pub min: f64,
    /// Whether `min` itself is excluded (a window must be above zero).
    pub above_min: bool,
    /// The largest value.
    pub max: f64,
    /// The unit said after the range (`USD`), or "".
    pub unit: &'static str,
    /// Where this kind is written, for the docs table.
    pub keys: &'static str,
}

/// USD per million tokens: prices in a catalog. The dearest list price today is a few hundred
/// dollars; 100,000 leaves room without letting a cost run to infinity.
pub const PRICE_PER_M_TOKENS: Range = Range {
    kind: "price per 1M tokens",
    min: 0.0,
    above_min: false,
    max: 100_000.0,
    unit: "USD",
    keys: "catalog `input`, `output`, `*_long`, `cached_input*`, `cache_storage`, `batch_*`",
};

/// An amount of money: caps, limits, SLO costs.
pub const USD: Range = Range {
    kind: "amount of money",
    min: 0.0,
    above_min: false,
    max: 1e9,
    unit: "USD",
    keys: "`monthly_cap_usd`, `spend_limit.usd`, `spend_limit_usd`, `target.max_cost_usd`, `slo.max_cost_usd`, \
           `slo.max_cost_per_day_usd`, `--max-cost-usd`",
};

/// A share: a probability or a fraction of a whole.
pub const SHARE: Range = Range {
    kind: "share",
    min: 0.0,
    above_min: false,
    max: 1.0,
    unit: "",
    keys: "`slo.success_rate`, `slo.max_429_share`, `flex_shed_at`, fault rates, `network.loss`, `amplitude`, \
           `stream_share`, `retry.jitter_ratio`, `breaker.failure_rate`; a summary's shares",
};

/// A rate in requests per second: far above what one client machine sends, low enough that a
/// schedule always advances.
pub const RATE: Range = Range {
    kind: "rate",
    min: 0.0,
    above_min: false,
    max: 1_000_000.0,
    unit: "requests per second",
    keys: "`rate`, `from`, `to`, `base_rate`, `burst_rate`",
};

/// A price multiplier against Standard (Flex, Priority).
pub const MULTIPLIER: Range = Range {
    kind: "price multiplier",
    min: 0.0,
    above_min: true,
    max: 100.0,
    unit: "",
    keys: "catalog `service_tiers.flex`, `service_tiers.priority`",
};

/// A pace factor of a trace replay.
pub const TRACE_SCALE: Range = Range {
    kind: "trace pace",
    min: 0.001,
    above_min: false,
    max: 1000.0,
    unit: "",
    keys: "`trace.speedup`, `trace.rate_scale`",
};

/// A spike's height against the base rate.
pub const SPIKE_FACTOR: Range = Range {
    kind: "spike factor",
    min: 1.0,
    above_min: false,
    max: 1000.0,
    unit: "",
    keys: "`spikes[].factor`",
};

/// Service-time growth at full capacity.
pub const SLOWDOWN: Range = Range {
    kind: "slowdown",
    min: 0.0,
    above_min: false,
    max: 1000.0,
    unit: "",
    keys: "`overload_slowdown`",
};

/// A window of time: a run's traffic window, a spend window. A year and a day is enough for a
/// month's caps and a day's quota, in virtual time.
pub const WINDOW: Range = Range {
    kind: "window",
    min: 0.0,
    above_min: true,
    max: 366.0 * 86_400.0,
    unit: "s",
    keys: "`duration`, `--duration`, `spend_limit.window`, catalog `spend_window`",
};

/// A token count: a model's limits, a chunk, an enqueued-token quota.
pub const TOKENS: Range = Range {
    kind: "token count",
    min: 0.0,
    above_min: false,
    max: 1e9,
    unit: "tokens",
    keys: "catalog `input_token_limit`, `output_token_limit`, `long_prompt_threshold`, \
           `implicit_cache_min_tokens`; `batch_enqueued_tokens`",
};

/// A quota: requests or tokens per minute or day (0 = unlimited).
pub const QUOTA: Range = Range {
    kind: "quota",
    min: 0.0,
    above_min: false,
    max: 1e12,
    unit: "",
    keys: "`rpm`, `tpm`, `rpd`, `priority_rpm`",
};

/// Virtual users of a closed loop: each is a pending request, so their number sizes memory.
pub const USERS: Range = Range {
    kind: "closed-loop users",
    min: 1.0,
    above_min: false,
    max: 100_000.0,
    unit: "",
    keys: "`users`",
};

/// Workers of a calling plan: each may hold a request in flight.
pub const WORKERS: Range = Range {
    kind: "workers",
    min: 1.0,
    above_min: false,
    max: 100_000.0,
    unit: "",
    keys: "`strategy.workers`",
};

/// Client replicas of a calling plan sharing one upstream quota (each its own workers, queue
/// and policies); bounded so a run keeps one set of figures per replica.
pub const REPLICAS: Range = Range {
    kind: "replicas",
    min: 1.0,
    above_min: false,
    max: 256.0,
    unit: "",
    keys: "`strategy.replicas`, `--shard I/N`",
};

/// A tokenizer's density: characters per token. English runs about 4 (Gemini's rule of thumb);
/// code and other scripts run lower, down to about one character a token for CJK text.
pub const CHARS_PER_TOKEN: Range = Range {
    kind: "characters per token",
    min: 0.5,
    above_min: false,
    max: 32.0,
    unit: "",
    keys: "`chars_per_token`, `models.<name>.chars_per_token`",
};

/// Every range, in the order the docs table lists them.
pub const ALL: &[Range] = &[
    PRICE_PER_M_TOKENS,
    USD,
    SHARE,
    RATE,
    MULTIPLIER,
    TRACE_SCALE,
    SPIKE_FACTOR,
    SLOWDOWN,
    WINDOW,
    TOKENS,
    QUOTA,
    USERS,
    WORKERS,
    REPLICAS,
    CHARS_PER_TOKEN,
];

/// A number as messages write it: plain when it is whole and not huge, in exponent form when
/// it is huge or tiny, so `1e308` never prints as 309 digits.
pub fn number(v: f64) -> String {
    if v.is_finite() && v != 0.0 && !(1e-4..1e15).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

impl Range {
    /// Whether `v` is in range (never for NaN).
    pub fn contains(&self, v: f64) -> bool {
        let low = if self.above_min { v > self.min } else { v >= self.min };
        low && v <= self.max
    }

    /// The range as messages say it: `0 to 1`, `above 0 to 1000000 requests per second`.
    pub fn expected(&self) -> String {
        let (min, max) = if self.unit == "s" {
            (fmt_secs(self.min), fmt_secs(self.max))
        } else {
            (number(self.min), number(self.max))
        };
        let above = if self.above_min { "above " } else { "" };
        if self.max == f64::MAX {
            return format!("{above}{min} or more (finite)");
        }
        let unit = if self.unit.is_empty() || self.unit == "s" {
            String::new()
        } else {
            format!(" {}", self.unit)
        };
        format!("{above}{min} to {max}{unit}")
    }

    fn refusal(&self, key: &str, got: &str) -> String {
        let got: String = if got.chars().count() > 40 {
            format!(
                "{}… ({} characters)",
                got.chars().take(40).collect::<String>(),
                got.chars().count()
            )
        } else {
            got.to_string()
        };
        format!("{key}: expected {}, got {got}", self.expected())
    }

    /// `v` if it is in range, else `KEY: expected X to Y, got Z`.
    pub fn check(&self, key: &str, v: f64) -> Result<f64, String> {
        if self.contains(v) {
            Ok(v)
        } else {
            Err(self.refusal(key, &number(v)))
        }
    }

    /// [`Range::check`] for an optional value.
    pub fn check_some(&self, key: &str, v: Option<f64>) -> Result<(), String> {
        v.map_or(Ok(()), |v| self.check(key, v).map(drop))
    }

    /// A whole number in range, said exactly in the message.
    pub fn check_count(&self, key: &str, v: u64) -> Result<u64, String> {
        if self.contains(v as f64) {
            Ok(v)
        } else {
            Err(self.refusal(key, &v.to_string()))
        }
    }

    /// A duration in range (the range in seconds), said as a duration in the message.
    pub fn check_duration(&self, key: &str, d: Duration) -> Result<Duration, String> {
        if self.contains(d.as_secs_f64()) {
            Ok(d)
        } else {
            Err(self.refusal(key, &humantime::format_duration(d).to_string()))
        }
    }
}

/// Seconds as a duration people read (`366 days`, `0s`): whole days as days (humantime would
/// say `1year 18h` for 366 days).
fn fmt_secs(s: f64) -> String {
    if s >= 86_400.0 && s % 86_400.0 == 0.0 {
        format!("{} days", s / 86_400.0)
    } else {
        humantime::format_duration(crate::duration::secs(s)).to_string()
    }
}

/// The docs' bounds table: one row per kind of number, its range and where it is written.
pub fn markdown_table() -> String {
    let mut out = String::from("| kind of number | accepted | keys |\n| --- | --- | --- |\n");
    for r in ALL {
        out.push_str(&format!("| {} | {} | {} |\n", r.kind, r.expected(), r.keys));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_for_every_kind() {
        assert_eq!(
            USD.check("spend_limit.usd", -1.0).unwrap_err(),
            "spend_limit.usd: expected 0 to 1000000000 USD, got -1"
        );
        assert_eq!(
            PRICE_PER_M_TOKENS.check("models.x.input", 1e308).unwrap_err(),
            "models.x.input: expected 0 to 100000 USD, got 1e308"
        );
        assert!(SHARE.check("slo.success_rate", f64::NAN).is_err());
        assert_eq!(SHARE.check("s", 1.0), Ok(1.0));
        assert_eq!(
            WINDOW.check_duration("spend_limit.window", Duration::ZERO).unwrap_err(),
            "spend_limit.window: expected above 0s to 366 days, got 0s"
        );
        assert!(WINDOW
            .check_duration("w", Duration::from_secs(273 * 365 * 86_400))
            .unwrap_err()
            .starts_with("w: expected above 0s to 366 days, got 272years"));
        assert_eq!(
            USERS.check_count("users", 1_000_000_000).unwrap_err(),
            "users: expected 1 to 100000, got 1000000000"
        );
    }

    #[test]
    fn the_dearest_run_still_costs_a_finite_amount() {
        // The most tokens a request may carry, at the dearest price, a billion times over.
        let cost = PRICE_PER_M_TOKENS.max * (u32::MAX as f64 * 2.0) / 1e6 * 1e9;
        assert!(cost.is_finite() && cost < 1e30, "{cost}");
    }

    #[test]
    fn the_table_lists_every_kind() {
        let t = markdown_table();
        assert_eq!(t.lines().count(), ALL.len() + 2);
        assert!(t.contains("| closed-loop users | 1 to 100000 | `users` |"), "{t}");
    }
}
