//! One model's fit from its recorded calls: decode speed, time to first token as a line in the
//! uncached input (prefill) plus a base latency law, answer and thinking lengths, error rates by
//! kind, the quotas its 429s named, and its tokenizer's density.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use stampede_mock::catalog::Dimension;
use stampede_mock::errors::dimension_of;
use stampede_mock::record::TraceLine;

use super::fit::{self, DistFit, Fitted, LineFit};

/// Points kept for a chart (quantiles of a measured sample, bins of a scatter).
const CHART_POINTS: usize = 60;

/// What one model's calls showed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModelFit {
    /// The model (`""`: calls that named none).
    pub model: String,
    /// Calls recorded (injected answers excluded).
    pub calls: u64,
    /// Calls answered 200 with no fault.
    pub answered: u64,
    /// Of them, streamed (their first chunk is timed).
    pub streamed: u64,
    /// Output tokens per second of decode (streamed answers: tokens after the first chunk over
    /// the time from first to last chunk); `None`: decode added no measurable time.
    pub decode_tps: Option<DistFit>,
    /// Time to first token (ms, the first chunk's own decode and thinking taken off) against
    /// uncached input tokens.
    pub prefill: Option<LineFit>,
    /// The prefill slope adopted, ms per 1,000 uncached input tokens (0 when the line's slope
    /// is not clearly above zero: under two standard errors).
    pub prefill_ms_per_1k: f64,
    /// The base latency left when prefill is taken off, in ms.
    pub latency_ms: Option<DistFit>,
    /// Answer length of answers that ended on their own (not at `maxOutputTokens`).
    pub output_tokens: Option<DistFit>,
    /// Share of answers cut at `maxOutputTokens`.
    pub cut_at_max: f64,
    /// Thinking tokens per answer, when answers thought.
    pub thinking_tokens: Option<DistFit>,
    /// Shares of calls by what went wrong.
    pub errors: ErrorShares,
    /// Quotas the 429s named (QuotaFailure `quotaValue` by dimension), the most named value.
    pub quotas: Quotas,
    /// The most the target admitted in any window: a lower bound of each quota it never named.
    pub peaks: Peaks,
    /// Characters per token the answers' counts show: (density, prompts it rests on).
    pub chars_per_token: Option<(f64, u64)>,
    /// Measured base latency quantiles for the chart: (ms, share at or below).
    pub latency_cdf: Vec<(f64, f64)>,
    /// Measured answer length quantiles for the chart: (tokens, share at or below).
    pub output_cdf: Vec<(f64, f64)>,
    /// Time to first token by input size for the chart: (mean uncached input tokens of a bin,
    /// mean measured ms, fitted ms).
    pub prefill_bins: Vec<(f64, f64, f64)>,
}

/// Shares of calls by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErrorShares {
    /// 429 RESOURCE_EXHAUSTED.
    pub rate_429: f64,
    /// 500 INTERNAL.
    pub rate_500: f64,
    /// 503 UNAVAILABLE.
    pub rate_503: f64,
    /// 504 DEADLINE_EXCEEDED.
    pub rate_504: f64,
    /// No answer: the connection failed or was cut.
    pub rate_transport: f64,
    /// Other statuses (400, 403, 404...).
    pub rate_other: f64,
}

/// Quotas named by 429 bodies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Quotas {
    /// Requests per minute.
    pub rpm: Option<u64>,
    /// Input tokens per minute.
    pub tpm: Option<u64>,
    /// Requests per day.
    pub rpd: Option<u64>,
    /// 429s that named a quota.
    pub named: u64,
}

/// The most calls and input tokens admitted (anything but a 429) in any window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Peaks {
    /// Calls in any 60 s.
    pub rpm: u64,
    /// Input tokens in any 60 s.
    pub tpm: u64,
    /// Calls in any 24 h.
    pub rpd: u64,
}

/// Sliding-window maxima of admitted calls and tokens (lines are in time order, as recorded).
fn peaks(lines: &[TraceLine]) -> Peaks {
    let admitted: Vec<(f64, u64)> = lines
        .iter()
        .filter(|l| l.status.is_some_and(|s| s != 429))
        .map(|l| (l.t, u64::from(l.input_tokens)))
        .collect();
    let most = |window: f64| {
        let (mut start, mut tokens, mut best) = (0usize, 0u64, (0u64, 0u64));
        for (end, &(t, n)) in admitted.iter().enumerate() {
            tokens += n;
            while admitted[start].0 <= t - window {
                tokens -= admitted[start].1;
                start += 1;
            }
            best = (best.0.max((end + 1 - start) as u64), best.1.max(tokens));
        }
        best
    };
    let (rpm, tpm) = most(60.0);
    Peaks {
        rpm,
        tpm,
        rpd: most(86_400.0).0,
    }
}

/// Fits one model's calls.
pub fn fit_model(model: &str, lines: &[TraceLine]) -> ModelFit {
    let answered: Vec<&TraceLine> = lines
        .iter()
        .filter(|l| l.status == Some(200) && l.fault.is_none() && l.latency_ms.is_some())
        .collect();
    let streamed: Vec<&TraceLine> = answered
        .iter()
        .copied()
        .filter(|l| l.stream == Some(true) && l.ttft_ms.is_some())
        .collect();
    let decode_tps = decode(&streamed);
    // Seconds of decode per token: each streamed answer its own; others the median's.
    let median_spt = decode_tps.as_ref().map_or(0.0, |d| 1.0 / d.fitted.quantile(0.5));
    let mut points = Vec::with_capacity(answered.len());
    for l in &answered {
        let thinking = l.thinking_tokens.unwrap_or(0) as f64;
        let uncached = f64::from(l.input_tokens) - l.cached_tokens.unwrap_or(0) as f64;
        let x = match (l.ttft_ms, l.stream) {
            (Some(ttft), Some(true)) => {
                let first = l.first_chunk_tokens.unwrap_or(0) as f64;
                ttft - (first + thinking) * own_spt(l).unwrap_or(median_spt) * 1e3
            }
            _ => l.latency_ms.unwrap_or(0.0) - (f64::from(l.output_tokens) + thinking) * median_spt * 1e3,
        };
        points.push((uncached.max(0.0), x));
    }
    let prefill = fit::line(&points);
    let seen = prefill.is_some_and(|p| p.b > 0.0 && p.b > 2.0 * p.b_se);
    let ols = if seen { prefill.map_or(0.0, |p| p.b) } else { 0.0 };
    let residuals = |b: f64| -> Vec<f64> { points.iter().map(|(u, x)| x - b * u).collect() };
    let mut slope = ols;
    let mut latency_ms = fit::distribution(&residuals(ols));
    // A skewed (lognormal) base latency: the slope by maximum likelihood is the better estimate.
    if seen && latency_ms.as_ref().is_some_and(|d| d.fitted.name() == "lognormal") {
        if let Some(b) = fit::lognormal_slope(&points) {
            slope = b;
            latency_ms = fit::distribution(&residuals(b));
        }
    }
    let residuals = residuals(slope);
    let natural: Vec<f64> = answered
        .iter()
        .filter(|l| !matches!(l.finish.as_deref(), Some("MAX_TOKENS" | "length")))
        .map(|l| f64::from(l.output_tokens))
        .collect();
    let cut = answered.len() - natural.len();
    let thinking: Vec<f64> = answered
        .iter()
        .filter_map(|l| l.thinking_tokens)
        .filter(|t| *t > 0)
        .map(|t| t as f64)
        .collect();
    let intercept = prefill.map_or(0.0, |p| p.a);
    ModelFit {
        model: model.to_string(),
        calls: lines.len() as u64,
        answered: answered.len() as u64,
        streamed: streamed.len() as u64,
        decode_tps,
        prefill,
        prefill_ms_per_1k: slope * 1000.0,
        latency_cdf: cdf_points(&residuals),
        output_cdf: cdf_points(&natural),
        prefill_bins: bins(&points, |u| if slope > 0.0 { intercept + slope * u } else { intercept }),
        latency_ms,
        output_tokens: fit::distribution(&natural),
        cut_at_max: if answered.is_empty() {
            0.0
        } else {
            cut as f64 / answered.len() as f64
        },
        thinking_tokens: (thinking.len() * 2 >= answered.len())
            .then(|| fit::distribution(&thinking))
            .flatten(),
        errors: error_shares(lines),
        quotas: quotas(lines),
        peaks: peaks(lines),
        chars_per_token: density(&answered),
    }
}

/// Seconds per output token an answer's own stream shows.
fn own_spt(l: &TraceLine) -> Option<f64> {
    let first = l.first_chunk_tokens.unwrap_or(0);
    let after = u64::from(l.output_tokens).checked_sub(first).filter(|n| *n > 0)?;
    let ms = l.latency_ms? - l.ttft_ms?;
    (ms > 0.5).then(|| ms / 1e3 / after as f64)
}

/// Decode speed from streamed answers that decoded after their first chunk; `None` when fewer
/// than half of those took measurable time (decode adds nothing).
fn decode(streamed: &[&TraceLine]) -> Option<DistFit> {
    let long: Vec<&&TraceLine> = streamed
        .iter()
        .filter(|l| u64::from(l.output_tokens) > l.first_chunk_tokens.unwrap_or(0))
        .collect();
    let tps: Vec<f64> = long.iter().filter_map(|l| own_spt(l)).map(|s| 1.0 / s).collect();
    if tps.len() * 2 < long.len().max(1) {
        return None;
    }
    fit::distribution(&tps)
}

fn cdf_points(values: &[f64]) -> Vec<(f64, f64)> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return Vec::new();
    }
    (1..=CHART_POINTS)
        .map(|i| {
            let q = i as f64 / (CHART_POINTS as f64 + 1.0);
            (fit::sorted_quantile(&sorted, q), q)
        })
        .collect()
}

/// Equal-count bins of (input, ms): each bin's mean input, mean measured and fitted ms.
fn bins(points: &[(f64, f64)], fitted: impl Fn(f64) -> f64) -> Vec<(f64, f64, f64)> {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let per = sorted.len().div_ceil(20).max(1);
    sorted
        .chunks(per)
        .map(|c| {
            let n = c.len() as f64;
            let u = c.iter().map(|p| p.0).sum::<f64>() / n;
            (u, c.iter().map(|p| p.1).sum::<f64>() / n, fitted(u))
        })
        .collect()
}

fn error_shares(lines: &[TraceLine]) -> ErrorShares {
    let n = lines.len().max(1) as f64;
    let share = |f: &dyn Fn(&TraceLine) -> bool| lines.iter().filter(|l| f(l)).count() as f64 / n;
    let cut = |l: &TraceLine| {
        l.fault
            .as_deref()
            .is_some_and(|f| f == "upstream-cut" || f == "truncate")
    };
    ErrorShares {
        rate_429: share(&|l| l.status == Some(429)),
        rate_500: share(&|l| l.status == Some(500)),
        rate_503: share(&|l| l.status == Some(503)),
        rate_504: share(&|l| l.status == Some(504)),
        rate_transport: share(&|l| l.status == Some(0) || (l.status == Some(200) && cut(l))),
        rate_other: share(&|l| matches!(l.status, Some(s) if s != 200 && s != 0 && ![429, 500, 503, 504].contains(&s))),
    }
}

fn quotas(lines: &[TraceLine]) -> Quotas {
    let mut counts: BTreeMap<(u8, u64), u64> = BTreeMap::new();
    let mut named = 0;
    for l in lines.iter().filter(|l| l.status == Some(429)) {
        let (Some(id), Some(value)) = (&l.quota_id, &l.quota_value) else {
            continue;
        };
        let (Some(dim), Ok(value)) = (dimension_of(id), value.parse::<u64>()) else {
            continue;
        };
        named += 1;
        let d = match dim {
            Dimension::Rpm => 0,
            Dimension::Tpm => 1,
            Dimension::Rpd => 2,
        };
        *counts.entry((d, value)).or_default() += 1;
    }
    let most = |d: u8| {
        counts
            .iter()
            .filter(|((k, _), _)| *k == d)
            .max_by_key(|(_, n)| **n)
            .map(|((_, v), _)| *v)
    };
    Quotas {
        rpm: most(0),
        tpm: most(1),
        rpd: most(2),
        named,
    }
}

/// Characters per token over answered prompts the upstream counted whole (none served from a
/// cache: an explicit cache's text is not in the request).
fn density(answered: &[&TraceLine]) -> Option<(f64, u64)> {
    let (mut chars, mut tokens, mut n) = (0u64, 0u64, 0u64);
    for l in answered {
        if let (Some(c), 0) = (l.chars, l.cached_tokens.unwrap_or(0)) {
            if c > 0 && l.input_tokens > 0 {
                chars += c;
                tokens += u64::from(l.input_tokens);
                n += 1;
            }
        }
    }
    (n >= 5).then(|| (chars as f64 / tokens as f64, n))
}

/// The fitted law as the mock's duration distribution (ms to a duration).
pub fn as_duration_dist(f: &Fitted) -> stampede_mock::dist::DurationDist {
    use stampede_mock::dist::DurationDist;
    // To a tenth of a millisecond: figures a person reads, far finer than the fit.
    let ms = |v: f64| std::time::Duration::from_micros(((v * 10.0).round().max(0.0) as u64) * 100);
    match *f {
        Fitted::Constant { value } => DurationDist::Constant(ms(value)),
        Fitted::Lognormal { median, p99 } => DurationDist::Lognormal {
            median: ms(median),
            p99: ms(p99.max(median)),
        },
        Fitted::Exponential { mean } => DurationDist::Exponential(ms(mean)),
    }
}

/// The fitted law as the mock's number distribution.
pub fn as_number_dist(f: &Fitted) -> stampede_mock::dist::NumberDist {
    use stampede_mock::dist::NumberDist;
    let f = &f.rounded();
    match *f {
        Fitted::Constant { value } => NumberDist::Constant(value),
        Fitted::Lognormal { median, p99 } => NumberDist::Lognormal {
            median,
            p99: p99.max(median),
        },
        Fitted::Exponential { mean } => NumberDist::Exponential { mean },
    }
}
