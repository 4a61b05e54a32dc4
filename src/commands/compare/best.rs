//! Which strategy is best at each figure: the objectives first, cost second, and nothing
//! within the noise.
//!
//! A strategy that answers fewer requests spends less and sends fewer attempts; calling it
//! "best" at cost would reward failing. So only strategies that answer as well as any compete
//! for a mark: those that met the `[slo]` with every seed when any did, otherwise those whose
//! success rate is within the noise of the highest (its 95% interval, at least half a point).
//! Of those, a strategy that drew more than twice the fewest 429s among them does not compete
//! either: refusals are free on the bill, so a plan that hammers the quota would otherwise look
//! cheapest.
//! A figure's best must also beat the runner-up by more than the noise — their intervals added,
//! and at least 1% of the value — or no one gets the mark.

use std::collections::BTreeMap;

use super::{Metric, StrategyResult};
use crate::summary::figures::{self, Better};

/// Success rates closer than this are the same answer.
const SUCCESS_NOISE: f64 = 0.005;
/// Values closer than this share of the best are a tie, whatever the intervals.
const TIE_SHARE: f64 = 0.01;

/// Whether each strategy competes for the marks: it answers as well as any (see the module's
/// doc), and of those it is polite to the upstream — it drew at most twice the fewest 429s
/// among them, plus the noise. Refusals cost nothing on the bill, so without this a plan that
/// answers by hammering the quota would look cheapest; the upstream sees every refused attempt.
pub fn eligible(strategies: &[StrategyResult]) -> Vec<bool> {
    let answering = answering(strategies);
    let refused = |s: &StrategyResult| {
        s.metrics
            .get(figures::STATUS_429.key)
            .and_then(|m| Some((m.mean?, m.ci95.unwrap_or(0.0))))
    };
    let fewest = strategies
        .iter()
        .zip(&answering)
        .filter(|(_, ok)| **ok)
        .filter_map(|(s, _)| refused(s))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    strategies
        .iter()
        .zip(answering)
        .map(|(s, ok)| {
            ok && match (refused(s), fewest) {
                (Some((v, ci)), Some((low, low_ci))) => v <= 2.0 * low + ci + low_ci + POLITE_SLACK,
                _ => true,
            }
        })
        .collect()
}

/// 429s that never make a strategy impolite, however few its peers drew (two against none is
/// not hammering).
const POLITE_SLACK: f64 = 10.0;

/// Whether each strategy answers as well as any: it met the `[slo]` with every seed when any
/// did, otherwise its success rate is within the noise of the highest.
fn answering(strategies: &[StrategyResult]) -> Vec<bool> {
    if strategies.iter().any(|s| s.met_slo == Some(true)) {
        return strategies.iter().map(|s| s.met_slo == Some(true)).collect();
    }
    let success = |s: &StrategyResult| s.metrics.get(figures::SUCCESS_RATE.key).and_then(|m| m.mean);
    let top = strategies.iter().filter_map(success).fold(f64::MIN, f64::max);
    let top_ci = strategies
        .iter()
        .find(|s| success(s) == Some(top))
        .and_then(|s| s.metrics.get(figures::SUCCESS_RATE.key)?.ci95)
        .unwrap_or(0.0);
    // Shares are stored as shown (percent).
    let noise = top_ci.max(SUCCESS_NOISE * 100.0);
    strategies
        .iter()
        .map(|s| success(s).is_none_or(|v| v >= top - noise))
        .collect()
}

/// The rule the ★ marks follow, with the strategies that compete for them: said under every
/// table, so a mark on a figure that looks worse is never a puzzle.
pub fn rule(strategies: &[StrategyResult]) -> String {
    format!("★ marks {}", rule_body(strategies))
}

/// [`rule`] without its "★ marks": "a row's best value when …", for a page that highlights
/// instead.
pub fn rule_body(strategies: &[StrategyResult]) -> String {
    let eligible = eligible(strategies);
    let names: Vec<&str> = strategies
        .iter()
        .zip(&eligible)
        .filter(|(_, ok)| **ok)
        .map(|(s, _)| s.name.as_str())
        .collect();
    let who = if strategies.iter().any(|s| s.met_slo == Some(true)) {
        "the strategies that met the objectives with every seed"
    } else {
        "the strategies whose success rate is within the noise of the highest (answering fewer requests is not \
         cheaper, it is failing)"
    };
    let answering = answering(strategies).iter().filter(|ok| **ok).count();
    let polite = if answering > names.len() {
        " and that drew at most twice the fewest 429s among them (refusals cost nothing on the bill, but the \
         upstream sees every one)"
    } else {
        ""
    };
    let alone = if names.len() == 1 {
        " — one contender has no one to stand out from, so only success can be marked"
    } else {
        ""
    };
    format!(
        "a row's best value when it stands out beyond the noise, among {who}{polite}: {}{alone} (success rate is \
         ranked among all).",
        names.join(", ")
    )
}

/// Per figure key, the strategy that stands out as best.
pub fn marks(figures: &[Metric], strategies: &[StrategyResult]) -> BTreeMap<String, String> {
    let eligible = eligible(strategies);
    figures
        .iter()
        .filter_map(|m| {
            fn stat<'a>(r: &'a StrategyResult, key: &str) -> Option<&'a crate::stats::Stat> {
                r.metrics.get(key).filter(|s| s.mean.is_some())
            }
            let mut ranked: Vec<(&StrategyResult, f64, f64)> = strategies
                .iter()
                .zip(&eligible)
                .filter(|(r, ok)| **ok || m.key == figures::SUCCESS_RATE.key && stat(r, &m.key).is_some())
                .filter_map(|(r, _)| stat(r, &m.key).map(|s| (r, s.mean.unwrap_or(0.0), s.ci95.unwrap_or(0.0))))
                .collect();
            match m.better {
                Better::Higher => ranked.sort_by(|a, b| b.1.total_cmp(&a.1)),
                Better::Lower => ranked.sort_by(|a, b| a.1.total_cmp(&b.1)),
                Better::Neither => return None,
            }
            // One contender has no one to stand out from: a mark would only repeat its figures.
            if ranked.len() < 2 {
                return None;
            }
            let (best, value, ci) = *ranked.first()?;
            let stands_out = ranked
                .get(1)
                .is_none_or(|&(_, next, next_ci)| (value - next).abs() > (ci + next_ci).max(TIE_SHARE * value.abs()));
            (stands_out && strategies.len() > 1).then(|| (m.key.clone(), best.name.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Stat;

    fn strategy(name: &str, success: f64, cost: f64, cost_ci: f64) -> StrategyResult {
        let stat = |mean: f64, ci: f64| Stat {
            mean: Some(mean),
            ci95: Some(ci),
            values: vec![Some(mean)],
        };
        StrategyResult {
            name: name.into(),
            metrics: [
                (figures::SUCCESS_RATE.key.to_string(), stat(success, 0.2)),
                (figures::COST.key.to_string(), stat(cost, cost_ci)),
            ]
            .into(),
            met_slo: None,
            summary: crate::summary::empty_for_tests(),
        }
    }

    fn figures_of() -> Vec<Metric> {
        super::super::metrics(&[])
            .into_iter()
            .filter(|m| m.key == figures::SUCCESS_RATE.key || m.key == figures::COST.key)
            .collect()
    }

    #[test]
    fn answering_fewer_is_not_cheapest() {
        // "no-retry" spends least because it answers 73%: the cost mark goes to the cheaper of
        // the two that answer 99%, and the success mark to the best answer.
        let s = [
            strategy("no-retry", 72.9, 3.0, 0.01),
            strategy("retry", 99.0, 4.4, 0.01),
            strategy("jitter", 99.1, 4.0, 0.01),
        ];
        let marks = marks(&figures_of(), &s);
        assert_eq!(marks.get(figures::COST.key).map(String::as_str), Some("jitter"));
        assert_eq!(
            marks.get(figures::SUCCESS_RATE.key),
            None,
            "99.1 vs 99.0 is within the noise"
        );
    }

    #[test]
    fn hammering_the_quota_is_not_cheapest() {
        // Both answer 99%; "hammer" is cheaper only because its 132k refusals are free.
        let with_429s = |name: &str, cost: f64, refused: f64| {
            let mut s = strategy(name, 99.0, cost, 0.01);
            let stat = Stat {
                mean: Some(refused),
                ci95: Some(refused * 0.01),
                values: vec![Some(refused)],
            };
            s.metrics.insert(figures::STATUS_429.key.to_string(), stat);
            s
        };
        let s = [
            with_429s("hammer", 3.9, 132_000.0),
            with_429s("polite", 4.1, 2_000.0),
            with_429s("careful", 4.3, 1_500.0),
        ];
        assert_eq!(eligible(&s), [false, true, true]);
        assert_eq!(
            marks(&figures_of(), &s).get(figures::COST.key).map(String::as_str),
            Some("polite")
        );
        assert!(rule(&s).contains("at most twice the fewest 429s"), "{}", rule(&s));
        // Alone, the polite one has no one to stand out from: no cost mark.
        assert!(!marks(&figures_of(), &s[..2]).contains_key(figures::COST.key));
        // A few refusals against none is not hammering.
        let s = [with_429s("a", 3.9, 4.0), with_429s("b", 4.1, 0.0)];
        assert_eq!(eligible(&s), [true, true]);
        assert!(!rule(&s).contains("429s"));
    }

    #[test]
    fn a_difference_within_the_noise_marks_no_one() {
        let s = [strategy("a", 99.0, 4.00, 0.30), strategy("b", 99.0, 4.20, 0.30)];
        assert!(!marks(&figures_of(), &s).contains_key(figures::COST.key));
        let s = [strategy("a", 99.0, 4.00, 0.01), strategy("b", 99.0, 4.20, 0.01)];
        assert_eq!(
            marks(&figures_of(), &s).get(figures::COST.key).map(String::as_str),
            Some("a")
        );
    }
}
