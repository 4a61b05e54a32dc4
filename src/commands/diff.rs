//! `stampede diff BASELINE.json CURRENT.json`: two runs' figures side by side, each judged
//! against a threshold in its worse direction, for a CI gate.
//!
//! A threshold is relative (`10%`: the current value may be up to 10% worse than the
//! baseline) or absolute (`1pp` for shares, in percentage points; a plain number in the
//! metric's unit, e.g. `50` ms). A latency must also have moved by more than [`LATENCY_FLOOR_MS`]
//! to count, so a 0.4 ms p50 becoming 0.5 ms is not a "25% regression".

use serde::Serialize;

use crate::summary::figures::{self, Better, Figure, Kind};
use crate::summary::Summary;

/// Latency changes smaller than this never count as regressions.
pub const LATENCY_FLOOR_MS: f64 = 5.0;

/// Which way is worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Worse {
    /// Higher is worse (latency, 429 share, cost).
    Up,
    /// Lower is worse (success rate, goodput).
    Down,
}

/// How far a metric may move in its worse direction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Threshold {
    /// A share of the baseline (0.10 = 10%).
    Relative(f64),
    /// In the metric's own unit; shares in percentage points are stored as fractions.
    Absolute(f64),
}

impl Threshold {
    /// Parses `10%`, `+10%`, `1pp` or `50`: how much worse than the baseline the current run
    /// may be, in the metric's worse direction. A negative threshold is refused: it would read
    /// as "must improve", which is not what a gate on regressions checks.
    pub fn parse(text: &str) -> Result<Threshold, String> {
        if text.trim().starts_with('-') {
            return Err(format!(
                "{text:?}: a threshold is how much worse the current run may be, in the metric's worse direction; \
                 write it without a minus sign (such as 5%)"
            ));
        }
        let t = text.trim().trim_start_matches('+');
        let number = |s: &str| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("{text:?}: expected a threshold such as 10%, 1pp or 50"))
        };
        if let Some(p) = t.strip_suffix('%') {
            Ok(Threshold::Relative(number(p)? / 100.0))
        } else if let Some(p) = t.strip_suffix("pp") {
            Ok(Threshold::Absolute(number(p)? / 100.0))
        } else {
            Ok(Threshold::Absolute(number(t)?))
        }
    }

    fn label(&self, share: bool) -> String {
        match self {
            Threshold::Relative(r) => format!("{}%", trim(r * 100.0)),
            Threshold::Absolute(a) if share => format!("{} pp", trim(a * 100.0)),
            Threshold::Absolute(a) => trim(*a),
        }
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A metric `diff` compares: a figure of the registry, its name on the command line, and its
/// default threshold.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// Name used on the command line and in the table.
    pub name: &'static str,
    /// The figure it reads.
    pub figure: Figure,
    /// Default threshold.
    pub default: Threshold,
}

impl Metric {
    /// Which way is worse: down for figures that are better high.
    pub fn worse(&self) -> Worse {
        match self.figure.better {
            Better::Higher => Worse::Down,
            Better::Lower | Better::Neither => Worse::Up,
        }
    }

    /// A share (0..1), shown in percent and judged in percentage points.
    pub fn share(&self) -> bool {
        self.figure.kind == Kind::Share
    }

    /// A latency in ms (subject to [`LATENCY_FLOOR_MS`]).
    pub fn latency(&self) -> bool {
        self.figure.kind == Kind::Ms
    }

    /// Unit shown next to the name (empty for shares and plain counts).
    pub fn unit(&self) -> &'static str {
        match self.figure.kind {
            Kind::Ms => "ms",
            Kind::Rate => "req/s",
            Kind::Usd => "$",
            Kind::Share | Kind::Percent | Kind::Count => "",
        }
    }
}

const fn gate(name: &'static str, figure: Figure, default: Threshold) -> Metric {
    Metric { name, figure, default }
}

/// The metrics compared, in table order, with their default thresholds.
pub const METRICS: [Metric; 9] = [
    gate("success_rate", figures::SUCCESS_RATE, Threshold::Absolute(0.01)),
    gate("p50", figures::P50, Threshold::Relative(0.10)),
    gate("p95", figures::P95, Threshold::Relative(0.10)),
    gate("p99", figures::P99, Threshold::Relative(0.15)),
    gate("goodput_rps", figures::GOODPUT, Threshold::Relative(0.10)),
    gate("share_429", figures::SHARE_429, Threshold::Absolute(0.02)),
    gate("dropped_share", figures::DROPPED_SHARE, Threshold::Absolute(0.01)),
    gate(
        "attempts_per_request",
        figures::ATTEMPTS_PER_REQUEST,
        Threshold::Relative(0.10),
    ),
    gate("cost_usd", figures::COST, Threshold::Relative(0.10)),
];

/// One row of the comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Metric name.
    pub metric: &'static str,
    /// Baseline value.
    pub baseline: Option<f64>,
    /// Current value.
    pub current: Option<f64>,
    /// Which way is worse.
    pub worse: Worse,
    /// The threshold applied.
    pub threshold: Threshold,
    /// True when the current value is worse than the baseline by more than the threshold.
    pub regressed: bool,
    #[serde(skip)]
    share: bool,
    #[serde(skip)]
    unit: &'static str,
}

/// The comparison of two runs.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    /// Baseline scenario name.
    pub baseline: String,
    /// Current scenario name.
    pub current: String,
    /// One row per metric.
    pub rows: Vec<Row>,
    /// Why the two runs may not be like for like (different scenarios, targets, models or
    /// traffic windows); empty when they are.
    pub warnings: Vec<String>,
}

impl Diff {
    /// True when any metric regressed.
    pub fn regressed(&self) -> bool {
        self.rows.iter().any(|r| r.regressed)
    }

    /// The Markdown table of deltas.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "### stampede diff · {} → {} · {}\n\n| metric | baseline | current | change | allowed | result |\n| --- | ---: | ---: | ---: | ---: | --- |\n",
            self.baseline,
            self.current,
            if self.regressed() { "REGRESSION" } else { "ok" }
        );
        if !self.warnings.is_empty() {
            let table = out.split_off(out.find("| metric").unwrap_or(out.len()));
            for w in &self.warnings {
                out.push_str(&format!("> **Not like for like**: {w}\n"));
            }
            out.push('\n');
            out.push_str(&table);
        }
        for r in &self.rows {
            let show = |v: Option<f64>| match v {
                None => "—".to_string(),
                Some(v) if r.share => format!("{:.1}%", v * 100.0),
                Some(v) => trim(v),
            };
            let change = match (r.baseline, r.current) {
                (Some(b), Some(c)) if r.share => format!("{:+.1} pp", (c - b) * 100.0),
                (Some(b), Some(c)) if b != 0.0 => format!("{:+.1}%", (c - b) / b * 100.0),
                (Some(b), Some(c)) => format!("{:+}", trim(c - b)),
                _ => "—".into(),
            };
            let direction = match r.worse {
                Worse::Up => "+",
                Worse::Down => "−",
            };
            let name = if r.unit.is_empty() {
                r.metric.to_string()
            } else {
                format!("{} ({})", r.metric, r.unit)
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {}{} | {} |\n",
                name,
                show(r.baseline),
                show(r.current),
                change,
                direction,
                r.threshold.label(r.share),
                if r.regressed { "REGRESSED" } else { "ok" }
            ));
        }
        out
    }
}

/// Looks up a metric by name.
pub fn metric(name: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.name == name)
}

/// Compares `current` with `baseline`; `overrides` replace default thresholds by metric name.
pub fn diff(baseline: &Summary, current: &Summary, overrides: &[(String, Threshold)]) -> Diff {
    let rows = METRICS
        .iter()
        .map(|m| {
            let threshold = overrides
                .iter()
                .rev()
                .find(|(name, _)| name == m.name)
                .map_or(m.default, |(_, t)| *t);
            let (b, c) = ((m.figure.read)(baseline), (m.figure.read)(current));
            // Goodput follows the rate offered: judged as a share of it, so a run offered half
            // the traffic and answering all of it has not regressed.
            let judged = if m.name == "goodput_rps" {
                let scale = offered_scale(baseline, current);
                (b.map(|b| b * scale), c)
            } else {
                (b, c)
            };
            Row {
                metric: m.name,
                baseline: b,
                current: c,
                worse: m.worse(),
                threshold,
                regressed: regressed(m, threshold, judged.0, judged.1),
                share: m.share(),
                unit: m.unit(),
            }
        })
        .collect();
    Diff {
        baseline: baseline.run.scenario.clone(),
        current: current.run.scenario.clone(),
        rows,
        warnings: unlike(baseline, current),
    }
}

/// The current run's offered rate over the baseline's (1 when either offered nothing).
fn offered_scale(baseline: &Summary, current: &Summary) -> f64 {
    let (b, c) = (baseline.throughput.offered_rps, current.throughput.offered_rps);
    if b > 0.0 && c > 0.0 {
        c / b
    } else {
        1.0
    }
}

/// What differs between two runs besides the calling plan: a diff across them measures that
/// difference too.
fn unlike(baseline: &Summary, current: &Summary) -> Vec<String> {
    let (b, c) = (&baseline.run, &current.run);
    let mut out = Vec::new();
    let mut differs = |what: &str, x: String, y: String| {
        if x != y {
            out.push(format!(
                "the {what} differs ({x} → {y}): the change measures that too, not only the calling plan."
            ));
        }
    };
    differs("scenario", b.scenario.clone(), c.scenario.clone());
    differs("target", b.target.clone(), c.target.clone());
    differs("model", b.model.clone(), c.model.clone());
    differs(
        "traffic window",
        crate::format::secs(b.duration_s),
        crate::format::secs(c.duration_s),
    );
    let scale = offered_scale(baseline, current);
    if (scale - 1.0).abs() > 0.01 {
        out.push(format!(
            "the rate offered differs ({:.2}/s → {:.2}/s): goodput is judged against it (the baseline's scaled by \
             {scale:.3}), not against the baseline's figure.",
            baseline.throughput.offered_rps, current.throughput.offered_rps
        ));
    }
    out
}

fn regressed(m: &Metric, threshold: Threshold, baseline: Option<f64>, current: Option<f64>) -> bool {
    let (b, c) = match (baseline, current) {
        (Some(b), Some(c)) => (b, c),
        // A figure that disappeared (no answered request left) is a regression; one that
        // appeared is not.
        (Some(_), None) => return true,
        _ => return false,
    };
    let worse_by = match m.worse() {
        Worse::Up => c - b,
        Worse::Down => b - c,
    };
    if m.latency() && worse_by <= LATENCY_FLOOR_MS {
        return false;
    }
    let allowed = match threshold {
        Threshold::Relative(r) => r * b.abs(),
        Threshold::Absolute(a) => a,
    };
    worse_by > allowed + 1e-12
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(p95: f64, success: f64, share_429: (u64, u64)) -> Summary {
        let mut s = crate::summary::empty_for_tests();
        s.latency_ms.p95 = Some(p95);
        s.requests.success_rate = Some(success);
        s.attempts.status_429 = share_429.0;
        s.attempts.total = share_429.1;
        s
    }

    fn row<'a>(d: &'a Diff, name: &str) -> &'a Row {
        d.rows.iter().find(|r| r.metric == name).unwrap()
    }

    #[test]
    fn thresholds_parse_relative_points_and_plain() {
        assert_eq!(Threshold::parse("+10%"), Ok(Threshold::Relative(0.10)));
        // A minus sign would read as "must improve"; it is refused rather than ignored.
        assert!(Threshold::parse("-1pp").unwrap_err().contains("without a minus sign"));
        assert_eq!(Threshold::parse("50"), Ok(Threshold::Absolute(50.0)));
        assert!(Threshold::parse("ten").is_err());
        assert!(Threshold::parse("nan%").is_err());
    }

    #[test]
    fn each_metric_is_judged_in_its_worse_direction() {
        let base = with(1000.0, 0.99, (10, 1000));
        // p95 +9% and success −0.9 pp: within the defaults (10%, 1 pp).
        let d = diff(&base, &with(1090.0, 0.981, (10, 1000)), &[]);
        assert!(!d.regressed(), "{}", d.markdown());
        // p95 +11%: regressed. Better figures never are.
        let d = diff(&base, &with(1110.0, 1.0, (0, 1000)), &[]);
        assert!(row(&d, "p95").regressed && !row(&d, "success_rate").regressed && !row(&d, "share_429").regressed);
        // success −1.1 pp and 429 share +2.5 pp: both regressed.
        let d = diff(&base, &with(900.0, 0.979, (35, 1000)), &[]);
        assert!(row(&d, "success_rate").regressed && row(&d, "share_429").regressed && !row(&d, "p95").regressed);
        // An override loosens one metric.
        let d = diff(
            &base,
            &with(1110.0, 0.99, (10, 1000)),
            &[("p95".into(), Threshold::Relative(0.2))],
        );
        assert!(!d.regressed());
    }

    #[test]
    fn goodput_is_judged_against_the_rate_offered() {
        let run = |offered: f64, goodput: f64| {
            let mut s = with(1000.0, 1.0, (0, 100));
            s.throughput.offered_rps = offered;
            s.throughput.goodput_rps = goodput;
            s
        };
        // Half the traffic offered, all of it answered: goodput fell 46.8% and did not regress.
        let d = diff(&run(10.0, 10.0), &run(5.32, 5.32), &[]);
        assert!(!row(&d, "goodput_rps").regressed, "{}", d.markdown());
        assert!(
            d.warnings.iter().any(|w| w.contains("10.00/s → 5.32/s")),
            "{:?}",
            d.warnings
        );
        // The same traffic, half of it answered: a regression.
        let d = diff(&run(10.0, 10.0), &run(10.0, 5.32), &[]);
        assert!(row(&d, "goodput_rps").regressed);
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    }

    #[test]
    fn tiny_latencies_need_a_real_move() {
        let d = diff(&with(2.0, 1.0, (0, 1)), &with(4.0, 1.0, (0, 1)), &[]);
        assert!(!row(&d, "p95").regressed, "+100% of 2 ms is 2 ms: below the 5 ms floor");
    }

    #[test]
    fn the_table_shows_deltas_and_verdicts() {
        let d = diff(&with(1000.0, 0.99, (10, 1000)), &with(1200.0, 0.99, (10, 1000)), &[]);
        let md = d.markdown();
        assert!(
            md.contains("| p95 (ms) | 1000 | 1200 | +20.0% | +10% | REGRESSED |"),
            "{md}"
        );
        assert!(
            md.contains("| success_rate | 99.0% | 99.0% | +0.0 pp | −1 pp | ok |"),
            "{md}"
        );
        assert!(md.starts_with("### stampede diff") && md.contains("REGRESSION"));
    }
}
