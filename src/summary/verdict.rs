//! A run judged against its `[slo]`: each objective with its target, what the run measured,
//! and whether it was met.

use serde::{Deserialize, Serialize};

use super::Summary;
use crate::scenario::slo::{Objective, SloSpec};

/// One objective and how the run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloCheck {
    /// Which objective: `p95`, `success_rate`...
    pub name: Objective,
    /// The objective (ms for latencies, a share for rates, USD for cost).
    pub target: f64,
    /// What the run measured (null when there was nothing to measure).
    pub actual: Option<f64>,
    /// Whether the objective was met.
    pub pass: bool,
}

/// The verdict against `[slo]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloVerdict {
    /// Every objective met.
    pub pass: bool,
    /// Each objective.
    pub checks: Vec<SloCheck>,
}

/// Judges a summary against `[slo]`; `None` when no objective is set.
pub fn evaluate(slo: &SloSpec, s: &Summary) -> Option<SloVerdict> {
    if slo.is_empty() {
        return None;
    }
    let per_day = s.cost_usd.map(|c| c / s.run.duration_s.max(1e-9) * 86_400.0);
    let checks: Vec<SloCheck> = slo
        .objectives()
        .into_iter()
        .map(|(name, target)| {
            let actual = match name {
                Objective::P50 => s.latency_ms.p50,
                Objective::P90 => s.latency_ms.p90,
                Objective::P95 => s.latency_ms.p95,
                Objective::P99 => s.latency_ms.p99,
                Objective::SuccessRate => s.requests.success_rate,
                Objective::Max429Share => s.share_429().or(Some(0.0)),
                Objective::MaxCostUsd => s.cost_usd,
                Objective::MaxCostPerDayUsd => per_day,
            };
            let pass = actual.is_some_and(|a| if name.is_floor() { a >= target } else { a <= target });
            SloCheck {
                name,
                target,
                actual,
                pass,
            }
        })
        .collect();
    Some(SloVerdict {
        pass: checks.iter().all(|c| c.pass),
        checks,
    })
}
