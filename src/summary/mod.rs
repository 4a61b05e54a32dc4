//! `summary.json`: the versioned record of one run, and everything reports are made from.
//!
//! Schema `stampede.summary/v1` (committed as `schemas/summary.v1.schema.json` and checked in
//! tests). Rates are over the traffic window `duration_s`; latency is end-to-end from the
//! intended start, for answered requests; figures with nothing to measure are `null`, never 0.
//! The histograms ride along in HdrHistogram's compressed encoding so `stampede report` can
//! re-render a run without loss.

pub mod advice;
pub mod attempts;
pub mod billing;
pub mod check;
pub mod figures;
pub mod horizon;
pub mod replicas;
mod run_meta;
pub mod shard_part;
pub mod steady;
pub mod verdict;

pub use run_meta::{Assumption, RunMeta};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use attempts::{Attempts, Refused};

use crate::histogram::{LatencyHistogram, LatencyStats};
use crate::metrics::{LaneMetrics, Metrics, SecondRow};
use crate::scenario::slo::SloSpec;
pub use verdict::{evaluate, SloCheck, SloVerdict};

/// The schema id of this version.
pub const SCHEMA: &str = "stampede.summary/v1";

/// Request outcomes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Requests {
    /// Requests the traffic scheduled (= succeeded + failed + dropped).
    pub scheduled: u64,
    /// Requests answered (counted as success, degraded answers included).
    pub succeeded: u64,
    /// Sent at least once, never answered.
    pub failed: u64,
    /// Never sent (shed by the client).
    pub dropped: u64,
    /// Requests whose answer was streamed (time to first token differs from end to end only
    /// for those).
    pub streamed: u64,
    /// Sent requests that waited in the queue for a worker or the rate limiter (1 ms or more).
    pub waited: u64,
    /// succeeded / scheduled (null when nothing was scheduled).
    pub success_rate: Option<f64>,
    /// Failed requests by their last error (`429`, `503`, `timeout`...).
    pub failed_by: BTreeMap<String, u64>,
    /// Dropped requests by reason (`queue_full`, `queue_deadline`, `stopped`...).
    pub dropped_by: BTreeMap<String, u64>,
    /// Failed requests by why retrying stopped (`max_attempts`, `deadline`...).
    pub gave_up: BTreeMap<String, u64>,
    /// Answered requests by how (`upstream`, `cache`, `coalesced`, `fallback`, `degraded`).
    pub served_by: BTreeMap<String, u64>,
}

/// Rates over the traffic window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Scheduled requests per second.
    pub offered_rps: f64,
    /// Answered requests per second.
    pub goodput_rps: f64,
    /// Attempts per second.
    pub attempt_rps: f64,
    /// Largest number of requests offered in one second.
    pub peak_offered_1s: u64,
    /// Largest number of requests offered in ten seconds.
    pub peak_offered_10s: u64,
}

/// Streaming figures of answered attempts (present when any answer was streamed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamSummary {
    /// Successful streamed attempts.
    pub answers: u64,
    /// Mean chunks per answer.
    pub chunks_per_answer: f64,
    /// Gaps between consecutive chunks (ms).
    pub inter_chunk_ms: LatencyStats,
    /// Time per output token after the first chunk, per answer (ms).
    pub time_per_output_token_ms: LatencyStats,
    /// Output tokens per second after the first chunk, per answer: the median, and the
    /// slowest 10% and 1% (from the time-per-token percentiles p90 and p99).
    pub output_tokens_per_s: TokensPerSecond,
}

/// Connection set-up of an HTTP target (pooled connections are set up once).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionSummary {
    /// Connections set up.
    pub opened: u64,
    /// Set-ups that failed.
    pub failed: u64,
    /// DNS lookups (ms).
    pub dns_ms: LatencyStats,
    /// Whole set-ups: DNS, TCP and TLS (ms).
    pub connect_ms: LatencyStats,
}

/// Decode speed percentiles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokensPerSecond {
    /// Median answer.
    pub p50: Option<f64>,
    /// 90% of answers were at least this fast.
    pub slowest_10pct: Option<f64>,
    /// 99% of answers were at least this fast.
    pub slowest_1pct: Option<f64>,
}

impl StreamSummary {
    fn of(m: &crate::metrics::StreamMetrics) -> Option<StreamSummary> {
        if m.answers == 0 {
            return None;
        }
        let tpot = m.time_per_token.stats();
        let per_s = |ms: Option<f64>| ms.filter(|v| *v > 0.0).map(|v| 1000.0 / v);
        Some(StreamSummary {
            answers: m.answers,
            chunks_per_answer: m.chunks as f64 / m.answers as f64,
            inter_chunk_ms: m.inter_chunk.stats(),
            output_tokens_per_s: TokensPerSecond {
                p50: per_s(tpot.p50),
                slowest_10pct: per_s(tpot.p90),
                slowest_1pct: per_s(tpot.p99),
            },
            time_per_output_token_ms: tpot,
        })
    }
}

/// Tokens of answered requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenCounts {
    /// Prompt tokens the API counted.
    pub input: u64,
    /// Answer tokens the API counted.
    pub output: u64,
    /// Thinking tokens the API counted.
    pub thinking: u64,
    /// Of the prompt tokens, those served from a context cache (`cachedContentTokenCount`).
    #[serde(default)]
    pub cached: u64,
    /// Prompt tokens the scenario planned.
    pub planned_input: u64,
    /// Answer tokens the scenario planned.
    pub planned_output: u64,
}

/// One lane's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LaneSummary {
    /// Requests the lane scheduled.
    pub scheduled: u64,
    /// Requests of the lane answered.
    pub succeeded: u64,
    /// Requests of the lane that failed after their attempts.
    pub failed: u64,
    /// Requests of the lane the client dropped without an answer.
    pub dropped: u64,
    /// End-to-end latency of answered requests.
    pub latency_ms: LatencyStats,
    /// Queue wait of sent requests.
    pub queue_wait_ms: LatencyStats,
    /// Time to first token of answered requests.
    pub ttft_ms: LatencyStats,
}

impl LaneSummary {
    fn of(m: &LaneMetrics) -> LaneSummary {
        LaneSummary {
            scheduled: m.scheduled,
            succeeded: m.succeeded,
            failed: m.failed,
            dropped: m.dropped,
            latency_ms: m.latency.stats(),
            queue_wait_ms: m.queue_wait.stats(),
            ttft_ms: m.ttft.stats(),
        }
    }
}

/// Whether a streamed run's decode time was not modelled: a mock (or the simulator) whose
/// `decode_tps` is 0 sends a whole answer at once after the first token, so inter-chunk gaps,
/// decode speed and the time after the first token say nothing about a real model.
pub fn decode_unmodelled(s: &Summary) -> bool {
    s.stream.is_some()
        && s.run
            .mock_profile
            .as_ref()
            .and_then(|p| p.get("decode_tps"))
            .is_some_and(|d| d.as_f64() == Some(0.0) || d.get("value").and_then(|v| v.as_f64()) == Some(0.0))
}

/// Encoded histograms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histograms {
    /// End-to-end latency (µs).
    pub latency: String,
    /// Queue wait (µs).
    pub queue_wait: String,
    /// Time to first token (µs).
    pub ttft: String,
    /// Service time of successful attempts (µs).
    pub service: String,
    /// End-to-end latency per lane (µs), by lane name.
    #[serde(default)]
    pub lanes: BTreeMap<String, String>,
    /// End-to-end latency of the requests answered in each interval, in order (µs).
    #[serde(default)]
    pub intervals: Intervals,
}

/// Latency histograms of consecutive intervals of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Intervals {
    /// Length of each interval in seconds.
    pub seconds: f64,
    /// One encoded histogram per interval, from the start of the run.
    pub latency: Vec<String>,
}

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Version of stampede that wrote it.
    pub stampede_version: String,
    /// Facts about the run (written at the top level of the JSON).
    #[serde(flatten)]
    pub run: RunMeta,
    /// Request outcomes.
    pub requests: Requests,
    /// Attempt counters.
    pub attempts: Attempts,
    /// End-to-end latency of answered requests, from the intended start.
    pub latency_ms: LatencyStats,
    /// Wait in the client queue, of sent requests.
    pub queue_wait_ms: LatencyStats,
    /// Intended start to first token, of answered requests.
    pub ttft_ms: LatencyStats,
    /// Send to answer of successful attempts.
    pub service_ms: LatencyStats,
    /// Intended start to the engine taking the request in.
    pub schedule_lag_ms: LatencyStats,
    /// Streaming figures (null when nothing was streamed).
    #[serde(default)]
    pub stream: Option<StreamSummary>,
    /// Connection set-up timings (null in the simulator).
    #[serde(default)]
    pub connections: Option<ConnectionSummary>,
    /// Offered, answered and attempted rates over the traffic window.
    pub throughput: Throughput,
    /// Tokens as the API counted them, and as the scenario planned them.
    pub tokens: TokenCounts,
    /// Cost of successful attempts at paid-tier prices (null when a model has no price).
    pub cost_usd: Option<f64>,
    /// That cost by what is billed, and what context caching saved (null when unpriced, and
    /// in summaries written before it existed).
    #[serde(default)]
    pub cost_split: Option<billing::CostSplitSummary>,
    /// Cost, downgrades and latency per service tier (empty when every attempt was Standard).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub service_tiers: BTreeMap<String, billing::TierSummary>,
    /// The Batch API lane: jobs, answers, turnaround, cost and what it saved (absent when no
    /// lane was batched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<billing::BatchSummary>,
    /// Conversations (sessions traffic): per turn number, answers, mean input tokens counted
    /// and planned, and the cached share (absent otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub turns: Vec<billing::TurnSummary>,
    /// What was spent without an answer, and what caching saved.
    pub waste: crate::metrics::Waste,
    /// Per-lane figures.
    pub lanes: BTreeMap<String, LaneSummary>,
    /// The window carried over to a day and a month, against the daily quota and the monthly
    /// spend cap (null in summaries written before it existed).
    #[serde(default)]
    pub horizon: Option<horizon::Horizon>,
    /// Verdict against `[slo]` (null when the scenario sets none).
    pub slo: Option<SloVerdict>,
    /// Recommended settings and warnings read from this run.
    #[serde(default)]
    pub advice: advice::Advice,
    /// Encoded histograms.
    pub histograms: Histograms,
    /// Per-second series.
    pub timeseries: Vec<SecondRow>,
    /// Per client replica (absent with one replica): each one's requests, 429s and latency.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<replicas::ReplicaSummary>,
    /// A shard's raw figures for `stampede merge` (absent unless run with `--shard`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<shard_part::ShardPart>,
    /// A merge of shards: how many, and how far apart they started (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<shard_part::MergeInfo>,
    /// The steady-state window beside the whole run, or why there is none (absent in
    /// summaries written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steady_state: Option<steady::SteadyState>,
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

impl Requests {
    /// The run's requests by outcome.
    fn of(m: &Metrics) -> Requests {
        let o = &m.overall;
        Requests {
            scheduled: o.scheduled,
            succeeded: o.succeeded,
            failed: o.failed,
            dropped: o.dropped,
            streamed: o.streamed,
            waited: o.waited,
            success_rate: ratio(o.succeeded, o.scheduled),
            failed_by: m.failed_by.clone(),
            dropped_by: m.dropped_by.clone(),
            gave_up: m.gave_up.clone(),
            served_by: m.served_by.clone(),
        }
    }
}

impl Throughput {
    /// Rates over the traffic window of `duration_s` seconds.
    fn of(m: &Metrics, duration_s: f64) -> Throughput {
        let (o, a) = (&m.overall, &m.attempts);
        let window = duration_s.max(1e-9);
        let (peak1, peak10) = m.series.peak_offered();
        Throughput {
            offered_rps: o.scheduled as f64 / window,
            goodput_rps: o.succeeded as f64 / window,
            attempt_rps: a.total as f64 / window,
            peak_offered_1s: peak1,
            peak_offered_10s: peak10,
        }
    }
}

impl Histograms {
    /// Every histogram of the run, encoded, lanes by name.
    fn of(m: &Metrics, lane_names: &[String]) -> Histograms {
        let o = &m.overall;
        Histograms {
            latency: o.latency.encode(),
            queue_wait: o.queue_wait.encode(),
            ttft: o.ttft.encode(),
            service: m.service.encode(),
            lanes: m
                .lanes
                .iter()
                .enumerate()
                .filter(|(_, l)| l.scheduled > 0)
                .map(|(i, l)| {
                    let name = lane_names.get(i).cloned().unwrap_or_else(|| format!("lane{i}"));
                    (name, l.latency.encode())
                })
                .collect(),
            intervals: Intervals {
                seconds: m.intervals.interval.as_secs_f64(),
                latency: m.intervals.encoded(),
            },
        }
    }
}

impl Summary {
    /// Builds the summary of a run.
    pub fn build(meta: RunMeta, m: &Metrics, lane_names: &[String], slo: &SloSpec) -> Summary {
        let o = &m.overall;
        let requests = Requests::of(m);
        let attempts = Attempts::of(m);
        let throughput = Throughput::of(m, meta.duration_s);
        let cost_usd = m.cost_usd.map(billing::usd6);
        // Requests answered through the Batch API do not use the daily quota of online calls.
        let online = requests.scheduled.saturating_sub(m.billing.batch_answers);
        let demand = horizon::Demand {
            offered: requests.scheduled,
            online,
            answered: requests.succeeded,
            cost_usd,
        };
        let horizon = Some(horizon::Horizon::of(&meta, demand));
        let lanes = m
            .lanes
            .iter()
            .enumerate()
            .filter(|(_, l)| l.scheduled > 0 || lane_names.len() <= 1)
            .map(|(i, l)| {
                (
                    lane_names.get(i).cloned().unwrap_or_else(|| format!("lane{i}")),
                    LaneSummary::of(l),
                )
            })
            .collect();
        let mut summary = Summary {
            schema: SCHEMA.into(),
            stampede_version: env!("CARGO_PKG_VERSION").into(),
            run: meta,
            requests,
            attempts,
            latency_ms: o.latency.stats(),
            queue_wait_ms: o.queue_wait.stats(),
            ttft_ms: o.ttft.stats(),
            service_ms: m.service.stats(),
            schedule_lag_ms: m.schedule_lag.stats(),
            stream: StreamSummary::of(&m.stream),
            connections: m.connections.as_ref().map(|c| ConnectionSummary {
                opened: c.connect.count(),
                failed: c.connect_failed,
                dns_ms: c.dns.stats(),
                connect_ms: c.connect.stats(),
            }),
            throughput,
            tokens: TokenCounts {
                input: m.tokens.input,
                output: m.tokens.output,
                thinking: m.tokens.thinking,
                cached: m.tokens.cached,
                planned_input: m.planned.0,
                planned_output: m.planned.1,
            },
            cost_usd,
            cost_split: billing::CostSplitSummary::of(&m.billing),
            service_tiers: billing::tiers_of(&m.billing),
            batch: billing::BatchSummary::of(m),
            turns: billing::turns_of(m),
            waste: crate::metrics::Waste {
                unanswered_input_cost_usd: m.waste.unanswered_input_cost_usd.map(billing::usd6),
                repeated_prompt_cost_usd: m.waste.repeated_prompt_cost_usd.map(billing::usd6),
                ..m.waste.clone()
            },
            lanes,
            horizon,
            slo: None,
            advice: advice::Advice::default(),
            histograms: Histograms::of(m, lane_names),
            timeseries: m.series.rows.clone(),
            replicas: Vec::new(),
            shard: None,
            merged: None,
            steady_state: None,
        };
        summary.steady_state = Some(steady::SteadyState::of(
            &summary.timeseries,
            &summary.histograms.intervals.latency,
            summary.histograms.intervals.seconds,
            summary.run.duration_s,
        ));
        summary.slo = evaluate(slo, &summary);
        summary
    }

    /// Decodes a histogram carried in the summary.
    pub fn histogram(&self, which: &str) -> Option<LatencyHistogram> {
        let text = match which {
            "latency" => &self.histograms.latency,
            "queue_wait" => &self.histograms.queue_wait,
            "ttft" => &self.histograms.ttft,
            "service" => &self.histograms.service,
            _ => return None,
        };
        LatencyHistogram::decode(text).ok()
    }

    /// Checks that every histogram the summary carries decodes (an empty one is absent): a
    /// saved file is untrusted input, and a part that cannot be read is an error naming its
    /// field, never a plot silently left out.
    pub fn check_histograms(&self) -> Result<(), String> {
        let h = &self.histograms;
        let named = [
            ("histograms.latency".to_string(), &h.latency),
            ("histograms.queue_wait".to_string(), &h.queue_wait),
            ("histograms.ttft".to_string(), &h.ttft),
            ("histograms.service".to_string(), &h.service),
        ];
        let lanes = h
            .lanes
            .iter()
            .map(|(name, text)| (format!("histograms.lanes.{}", crate::spec_error::shown(name)), text));
        let intervals = h
            .intervals
            .latency
            .iter()
            .enumerate()
            .map(|(i, text)| (format!("histograms.intervals.latency[{i}]"), text));
        for (field, text) in named.into_iter().chain(lanes).chain(intervals) {
            if !text.is_empty() {
                LatencyHistogram::decode(text).map_err(|e| format!("{field}: {e}"))?;
            }
        }
        Ok(())
    }

    /// Seconds from the start to the end of the last second with an arrival: shorter than the
    /// traffic window when the traffic stops early (a trace shorter than `duration`).
    pub fn arrival_span_s(&self) -> f64 {
        self.timeseries
            .iter()
            .filter(|r| r.offered > 0)
            .map(|r| (r.second + 1) as f64)
            .fold(0.0, f64::max)
            .min(self.run.duration_s)
    }

    /// Share of attempts answered 429.
    pub fn share_429(&self) -> Option<f64> {
        ratio(self.attempts.status_429, self.attempts.total)
    }
}

/// An empty summary of a short simulated run, for tests of the outputs.
#[cfg(test)]
pub(crate) fn empty_for_tests() -> Summary {
    let meta = RunMeta {
        scenario: "test".into(),
        description: None,
        target: "sim".into(),
        model: "gemini-2.5-flash".into(),
        seed: 1,
        duration_s: 10.0,
        day_over_window: None,
        elapsed_s: 10.0,
        simulated: true,
        started_at: "2026-01-01T00:00:00Z".into(),
        wall_time_s: 0.0,
        stopped_early: None,
        strategy: crate::strategy::StrategySpec::default(),
        mock_profile: None,
        catalog: None,
        rests_on: Vec::new(),
    };
    Summary::build(
        meta,
        &Metrics::new(vec![None], 1),
        &["default".into()],
        &SloSpec::default(),
    )
}
