//! The one registry of figures read from a summary: how each is read, what it is called, its
//! kind of unit and which way is better. `compare` (its table and `best`), `diff` (its gates)
//! and `plan` (its points) pick the figures they show from here, so a figure means the same in
//! all three.

use serde::{Deserialize, Serialize};

use super::{LaneSummary, Summary};

/// Whether a figure is better high or low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Higher is better.
    Higher,
    /// Lower is better.
    Lower,
    /// Neither: shown for information, never marked best.
    Neither,
}

/// What a figure's number is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A share, 0 to 1 (shown as a percentage).
    Share,
    /// Already a percentage, 0 to 100.
    Percent,
    /// Milliseconds (latencies).
    Ms,
    /// Requests per second.
    Rate,
    /// A count, or a plain ratio such as attempts per request.
    Count,
    /// US dollars.
    Usd,
}

impl Kind {
    /// The unit written after a figure's name in tables (`%`, `ms`, `req/s`, `USD`, none).
    pub fn unit(self) -> &'static str {
        match self {
            Kind::Share | Kind::Percent => "%",
            Kind::Ms => "ms",
            Kind::Rate => "req/s",
            Kind::Count => "",
            Kind::Usd => "USD",
        }
    }

    /// A value of this kind in the unit [`Kind::unit`] names (a share becomes a percentage).
    pub fn shown(self, v: f64) -> f64 {
        match self {
            Kind::Share => v * 100.0,
            _ => v,
        }
    }
}

/// A figure of a whole run.
#[derive(Debug, Clone, Copy)]
pub struct Figure {
    /// Its key in compare.json and in plan's points.
    pub key: &'static str,
    /// What tables call it.
    pub label: &'static str,
    /// What its number is.
    pub kind: Kind,
    /// Which way is better.
    pub better: Better,
    /// Shown only when some run has a value other than zero (features a run may not use).
    pub optional: bool,
    /// Reads it from a summary (`None`: nothing to measure, such as a latency with no answer).
    pub read: fn(&Summary) -> Option<f64>,
}

/// A figure of one lane of a run.
#[derive(Debug, Clone, Copy)]
pub struct LaneFigure {
    /// Its key after `lane.<name>.`.
    pub key: &'static str,
    /// What tables call it, after `<lane>: `.
    pub label: &'static str,
    /// What its number is.
    pub kind: Kind,
    /// Which way is better.
    pub better: Better,
    /// Reads it from the lane's summary.
    pub read: fn(&LaneSummary) -> Option<f64>,
}

const fn run(
    key: &'static str,
    label: &'static str,
    kind: Kind,
    better: Better,
    read: fn(&Summary) -> Option<f64>,
) -> Figure {
    Figure {
        key,
        label,
        kind,
        better,
        optional: false,
        read,
    }
}

/// A figure shown only when some run uses the feature behind it.
const fn optional(key: &'static str, label: &'static str, read: fn(&Summary) -> Option<f64>) -> Figure {
    Figure {
        key,
        label,
        kind: Kind::Count,
        better: Better::Neither,
        optional: true,
        read,
    }
}

fn served(s: &Summary, how: &str) -> Option<f64> {
    Some(s.requests.served_by.get(how).copied().unwrap_or(0) as f64)
}

/// Requests answered, of those scheduled.
pub const SUCCESS_RATE: Figure = run("success_rate", "success", Kind::Share, Better::Higher, |s| {
    s.requests.success_rate
});
/// Answers per second over the traffic window.
pub const GOODPUT: Figure = run("goodput_rps", "goodput", Kind::Rate, Better::Higher, |s| {
    Some(s.throughput.goodput_rps)
});
/// Median latency from the intended start.
pub const P50: Figure = run("p50_ms", "p50 latency", Kind::Ms, Better::Lower, |s| s.latency_ms.p50);
/// 95th percentile latency from the intended start.
pub const P95: Figure = run("p95_ms", "p95 latency", Kind::Ms, Better::Lower, |s| s.latency_ms.p95);
/// 99th percentile latency from the intended start.
pub const P99: Figure = run("p99_ms", "p99 latency", Kind::Ms, Better::Lower, |s| s.latency_ms.p99);
/// Attempts sent per request.
pub const ATTEMPTS_PER_REQUEST: Figure = run(
    "attempts_per_request",
    "attempts per request",
    Kind::Count,
    Better::Lower,
    |s| s.attempts.per_request,
);
/// 429 answers received.
pub const STATUS_429: Figure = run("status_429", "429s received", Kind::Count, Better::Lower, |s| {
    Some(s.attempts.status_429 as f64)
});
/// 429 answers, of all attempts.
pub const SHARE_429: Figure = run("share_429", "429 share", Kind::Share, Better::Lower, |s| s.share_429());
/// 5xx answers received.
pub const STATUS_5XX: Figure = run("status_5xx", "5xx received", Kind::Count, Better::Lower, |s| {
    Some(s.attempts.status_5xx as f64)
});
/// Retries sent.
pub const RETRIES: Figure = run("retries", "retries sent", Kind::Count, Better::Lower, |s| {
    Some(s.attempts.retries as f64)
});
/// Requests the client dropped (queue, throttle, breaker, stop).
pub const DROPPED: Figure = run("dropped", "dropped by the client", Kind::Count, Better::Lower, |s| {
    Some(s.requests.dropped as f64)
});
/// Requests the client dropped, of those scheduled.
pub const DROPPED_SHARE: Figure = run("dropped_share", "dropped share", Kind::Share, Better::Lower, |s| {
    (s.requests.scheduled > 0).then(|| s.requests.dropped as f64 / s.requests.scheduled as f64)
});
/// Input tokens of attempts that got no answer.
pub const UNANSWERED_INPUT_TOKENS: Figure = run(
    "unanswered_input_tokens",
    "tokens sent without an answer",
    Kind::Count,
    Better::Lower,
    |s| Some(s.waste.unanswered_input_tokens as f64),
);
/// What the answers cost.
pub const COST: Figure = run("cost_usd", "cost of answers", Kind::Usd, Better::Lower, |s| s.cost_usd);
/// What the run would cost if unanswered prompts were billed too.
pub const COST_WITH_UNANSWERED: Figure = run(
    "cost_with_unanswered_usd",
    "cost if unanswered prompts are billed",
    Kind::Usd,
    Better::Lower,
    |s| Some(s.cost_usd? + s.waste.unanswered_input_cost_usd?),
);
/// What the answers cost per hour of this traffic.
pub const COST_PER_HOUR: Figure = run("cost_per_hour_usd", "cost per hour", Kind::Usd, Better::Lower, |s| {
    s.cost_usd.map(|c| c / s.run.duration_s.max(1e-9) * 3600.0)
});
/// Hedged copies sent.
pub const HEDGES: Figure = optional("hedges", "hedges sent", |s| Some(s.attempts.hedges as f64));
/// Requests answered from the client's cache.
pub const SERVED_CACHE: Figure = optional("served_cache", "answered from the cache", |s| served(s, "cache"));
/// Requests answered by joining an identical one in flight.
pub const SERVED_DEDUP: Figure = optional("served_dedup", "answered by joining a twin", |s| served(s, "coalesced"));
/// Requests answered by the fallback model.
pub const SERVED_FALLBACK: Figure = optional("served_fallback", "answered by the fallback model", |s| {
    served(s, "fallback")
});
/// Requests given a degraded answer.
pub const SERVED_DEGRADED: Figure = optional("served_degraded", "degraded answers (counted as success)", |s| {
    served(s, "degraded")
});

/// Prompt tokens served from a context cache.
pub const CACHED_INPUT_TOKENS: Figure = optional("cached_input_tokens", "input tokens served from a cache", |s| {
    Some(s.tokens.cached as f64)
});
/// What context caching saved.
pub const CACHE_SAVING: Figure = Figure {
    kind: Kind::Usd,
    better: Better::Higher,
    ..optional("cache_saving_usd", "saved by context caching", |s| {
        s.cost_split.as_ref().map(|c| c.cache_saving_usd)
    })
};
/// What the answers served at Flex cost.
pub const COST_FLEX: Figure = Figure {
    kind: Kind::Usd,
    ..optional("cost_flex_usd", "cost of answers at flex", |s| tier_cost(s, "flex"))
};
/// What the answers served at Priority cost.
pub const COST_PRIORITY: Figure = Figure {
    kind: Kind::Usd,
    ..optional("cost_priority_usd", "cost of answers at priority", |s| {
        tier_cost(s, "priority")
    })
};
/// Priority attempts served at Standard (over Priority's own limit).
pub const PRIORITY_DOWNGRADED: Figure = Figure {
    better: Better::Lower,
    ..optional("priority_downgraded", "priority attempts served at standard", |s| {
        Some(s.service_tiers.get("priority").map_or(0, |t| t.downgraded) as f64)
    })
};

/// Requests answered through the Batch API.
pub const BATCH_ANSWERED: Figure = optional("batch_answered", "answered through the Batch API", |s| {
    Some(s.batch.as_ref().map_or(0, |b| b.answered) as f64)
});
/// Median batch turnaround, submit to result.
pub const BATCH_TURNAROUND: Figure = Figure {
    kind: Kind::Ms,
    better: Better::Lower,
    ..optional("batch_turnaround_p50_ms", "batch turnaround p50", |s| {
        s.batch.as_ref().and_then(|b| b.turnaround_ms.p50)
    })
};
/// What the Batch API saved against sending online.
pub const BATCH_SAVING: Figure = Figure {
    kind: Kind::Usd,
    better: Better::Higher,
    ..optional("batch_saving_usd", "saved by the Batch API", |s| {
        Some(s.batch.as_ref().and_then(|b| b.saving_usd).unwrap_or(0.0))
    })
};

fn tier_cost(s: &Summary, tier: &str) -> Option<f64> {
    Some(s.service_tiers.get(tier).and_then(|t| t.cost_usd).unwrap_or(0.0))
}

/// A lane's requests answered, of those it scheduled, in percent.
pub const LANE_SUCCESS: LaneFigure = LaneFigure {
    key: "success_rate",
    label: "success",
    kind: Kind::Percent,
    better: Better::Higher,
    read: |l| (l.scheduled > 0).then(|| l.succeeded as f64 * 100.0 / l.scheduled as f64),
};
/// A lane's median latency.
pub const LANE_P50: LaneFigure = LaneFigure {
    key: "p50_ms",
    label: "p50 latency",
    kind: Kind::Ms,
    better: Better::Lower,
    read: |l| l.latency_ms.p50,
};
/// A lane's 99th percentile latency.
pub const LANE_P99: LaneFigure = LaneFigure {
    key: "p99_ms",
    label: "p99 latency",
    kind: Kind::Ms,
    better: Better::Lower,
    read: |l| l.latency_ms.p99,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_read_as_fractions_and_show_as_percentages() {
        let mut s = crate::summary::empty_for_tests();
        s.requests.scheduled = 200;
        s.requests.dropped = 50;
        assert_eq!((DROPPED_SHARE.read)(&s), Some(0.25));
        assert_eq!(DROPPED_SHARE.kind.shown(0.25), 25.0);
        assert_eq!(DROPPED_SHARE.kind.unit(), "%");
        assert_eq!(P95.kind.shown(812.0), 812.0);
        s.cost_usd = Some(2.0);
        s.run.duration_s = 1800.0;
        assert_eq!((COST_PER_HOUR.read)(&s), Some(4.0));
    }
}
