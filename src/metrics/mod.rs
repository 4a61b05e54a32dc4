//! Streaming aggregation of a run's records: HDR histograms, counters and a per-second series.
//!
//! [`Metrics`] is a [`RecordSink`]: it folds each record in as it arrives and keeps nothing per
//! request, so memory stays flat however long the run. Latency is end-to-end from the intended
//! start, for answered requests; queue wait is from arrival to the first attempt.

pub mod billing;
pub mod interval_log;
pub mod live;
mod merge;
pub mod series;

use std::collections::BTreeMap;
use std::time::Duration;

use stampede_mock::catalog::Price;

use crate::backend::{ErrorKind, Tokens};
use crate::engine::record::{AttemptRecord, Outcome, RecordSink, RequestRecord, SecondSample, Served};
use crate::histogram::LatencyHistogram;
pub use series::{SecondRow, Series};

/// Counters and histograms of one lane (or of the whole run).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LaneMetrics {
    /// Requests scheduled.
    pub scheduled: u64,
    /// Requests answered.
    pub succeeded: u64,
    /// Requests failed.
    pub failed: u64,
    /// Requests dropped.
    pub dropped: u64,
    /// Requests whose answer was streamed.
    pub streamed: u64,
    /// Sent requests that waited in the queue for a worker or the rate limiter: at least
    /// [`WAITED`] (a live run's hand-off from queue to worker takes tens of microseconds
    /// without any waiting).
    pub waited: u64,
    /// End-to-end latency of answered requests, from the intended start.
    pub latency: LatencyHistogram,
    /// Wait from arrival to the first attempt, of requests that were sent.
    pub queue_wait: LatencyHistogram,
    /// Time from the intended start to the first token, of answered requests.
    pub ttft: LatencyHistogram,
}

/// The least queue wait that counts as having waited: a millisecond, far above the live
/// engine's own hand-off (about 0.04 ms on this machine) and far below any service time.
pub const WAITED: std::time::Duration = std::time::Duration::from_millis(1);

impl LaneMetrics {
    fn add(&mut self, r: &RequestRecord) {
        self.scheduled += 1;
        self.streamed += u64::from(r.stream);
        match r.end.outcome() {
            Outcome::Succeeded => {
                self.succeeded += 1;
                self.latency.record(r.latency());
                if let Some(fb) = r.first_byte {
                    self.ttft.record(fb.saturating_sub(r.intended));
                }
            }
            Outcome::Failed => self.failed += 1,
            Outcome::Dropped => self.dropped += 1,
        }
        if let Some(d) = r.dispatched {
            let wait = d.saturating_sub(r.arrived);
            self.waited += u64::from(wait >= WAITED);
            self.queue_wait.record(wait);
        }
    }
}

/// Attempt counters.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AttemptCounts {
    /// Attempts sent.
    pub total: u64,
    /// Attempts after the first on the same model (hedges and the first attempt on the
    /// fallback model not counted).
    pub retries: u64,
    /// Hedges sent.
    pub hedges: u64,
    /// Attempts cancelled because another attempt of the request answered first.
    pub cancelled: u64,
    /// Attempts sent to the fallback model.
    pub fallback: u64,
    /// Results by label: `200`, `429`, `503`, `timeout`, `transport`...
    pub by_result: BTreeMap<String, u64>,
    /// Attempts that the server answered with each status (429, 5xx...).
    pub status_429: u64,
    /// 429s that said when to retry.
    pub status_429_with_delay: u64,
    /// 5xx answers.
    pub status_5xx: u64,
    /// Transport failures.
    pub transport: u64,
    /// Attempts cancelled by the attempt timeout (or the request's deadline) before an answer.
    pub timeouts: u64,
    /// 429s by what refused them (read from their bodies): how many, and when the first came
    /// back (offset from the start).
    pub refused_by: BTreeMap<stampede_mock::quota_kind::QuotaKind, (u64, Duration)>,
}

/// What the run spent without getting an answer for it, and what caching saved.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Waste {
    /// Attempts that reached the model and brought no answer (timeouts, cut connections,
    /// truncated streams, unreadable bodies, cancelled hedges): the model may have billed them.
    pub unanswered_attempts: u64,
    /// Their prompt tokens.
    pub unanswered_input_tokens: u64,
    /// Those prompt tokens at input prices: an estimate of what they may have cost (null when a
    /// model has no price).
    pub unanswered_input_cost_usd: Option<f64>,
    /// Requests answered by the model with a prompt it had already answered in this run.
    pub repeated_prompt_requests: u64,
    /// What those answers cost (the part a cache could save).
    pub repeated_prompt_cost_usd: Option<f64>,
    /// Requests answered from the cache or by joining an identical request in flight.
    pub saved_requests: u64,
    /// Their planned prompt tokens, not sent.
    pub saved_input_tokens: u64,
}

/// What streamed answers add up to.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StreamMetrics {
    /// Successful streamed attempts.
    pub answers: u64,
    /// Their chunks.
    pub chunks: u64,
    /// Every gap between two consecutive chunks of an answer.
    pub inter_chunk: LatencyHistogram,
    /// Time per output token after the first chunk, one value per answer (from the API's
    /// cumulative token counts).
    pub time_per_token: LatencyHistogram,
}

impl StreamMetrics {
    fn record(&mut self, s: &crate::backend::StreamStats) {
        self.answers += 1;
        self.chunks += u64::from(s.chunks);
        for g in &s.gaps {
            self.inter_chunk.record(*g);
        }
        if let Some(t) = s.time_per_output_token() {
            self.time_per_token.record(t);
        }
    }
}

/// Everything a run's records add up to. It serialises (a shard's summary carries it) and adds
/// up exactly ([`Metrics::merge`]), so shards of a run merge into the run's own figures.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    /// The whole run.
    pub overall: LaneMetrics,
    /// Per lane, by lane index.
    pub lanes: Vec<LaneMetrics>,
    /// Attempt counters.
    pub attempts: AttemptCounts,
    /// Failed requests by their last error.
    pub failed_by: BTreeMap<String, u64>,
    /// Dropped requests by reason.
    pub dropped_by: BTreeMap<String, u64>,
    /// Answered requests by how they were answered.
    pub served_by: BTreeMap<String, u64>,
    /// Failed requests by why retrying stopped.
    pub gave_up: BTreeMap<String, u64>,
    /// Waste and savings.
    pub waste: Waste,
    /// Send-to-answer time of successful attempts.
    pub service: LatencyHistogram,
    /// Streamed answers: chunks, inter-chunk gaps and decode speed.
    pub stream: StreamMetrics,
    /// Connection set-up timings of an HTTP target.
    pub connections: Option<crate::backend::connections::Recorded>,
    /// Intended start to arrival in the engine (scheduler lag; zero in the simulator).
    pub schedule_lag: LatencyHistogram,
    /// Tokens of answered requests, as the API counted them.
    pub tokens: Tokens,
    /// Planned (input, output) tokens of answered requests.
    pub planned: (u64, u64),
    /// Cost of successful attempts, when every model has a price.
    pub cost_usd: Option<f64>,
    /// That cost by what is billed and by service tier.
    pub billing: billing::Billing,
    /// Turnaround (submit to result) of answers through the Batch API.
    pub batch_turnaround: LatencyHistogram,
    /// Batch API jobs submitted.
    pub batch_jobs: u64,
    /// Conversations' answered turns, by turn number.
    pub turns: BTreeMap<u16, billing::TurnMetrics>,
    /// The per-second series.
    pub series: Series,
    /// End-to-end latency of the requests answered in each interval (for HdrHistogram
    /// interval logs).
    pub intervals: interval_log::IntervalLog,
    prices: Vec<Option<Price>>,
    /// Repeatable prompts (popular or from a trace) already answered, per model (not carried
    /// by a shard's state: a merge happens after the records).
    #[serde(skip)]
    answered_prompts: std::collections::HashSet<(u64, u8)>,
}

/// Prompt keys of requests that can repeat (popular prompts and trace prompts) have one of the
/// two top bits set; other keys are unique request ids.
const REPEATABLE: u64 = 0b11 << 62;

/// The interval of a run's latency log: one second up to ten minutes of traffic, then longer so
/// that a run has about 600 intervals.
pub fn log_interval(traffic: Duration) -> Duration {
    Duration::from_secs(traffic.as_secs().div_ceil(600).max(1))
}

impl Metrics {
    /// The same metrics with latency intervals of `interval` (one second by default).
    pub fn with_interval(mut self, interval: Duration) -> Metrics {
        self.intervals = interval_log::IntervalLog::new(interval);
        self
    }

    /// The same metrics with `log` as their latency interval log.
    pub fn with_intervals(mut self, log: interval_log::IntervalLog) -> Metrics {
        self.intervals = log;
        self
    }

    /// Empty metrics; `prices[i]` is the price of model `i`, if known.
    pub fn new(prices: Vec<Option<Price>>, lanes: usize) -> Metrics {
        Metrics {
            overall: LaneMetrics::default(),
            lanes: vec![LaneMetrics::default(); lanes.max(1)],
            attempts: AttemptCounts::default(),
            failed_by: BTreeMap::new(),
            dropped_by: BTreeMap::new(),
            served_by: BTreeMap::new(),
            gave_up: BTreeMap::new(),
            waste: Waste {
                unanswered_input_cost_usd: prices.iter().all(Option::is_some).then_some(0.0),
                repeated_prompt_cost_usd: prices.iter().all(Option::is_some).then_some(0.0),
                ..Waste::default()
            },
            service: LatencyHistogram::default(),
            stream: StreamMetrics::default(),
            connections: None,
            schedule_lag: LatencyHistogram::default(),
            tokens: Tokens::default(),
            planned: (0, 0),
            cost_usd: prices.iter().all(Option::is_some).then_some(0.0),
            billing: billing::Billing::new(prices.iter().all(Option::is_some)),
            batch_turnaround: LatencyHistogram::default(),
            batch_jobs: 0,
            turns: BTreeMap::new(),
            series: Series::default(),
            intervals: interval_log::IntervalLog::new(Duration::from_secs(1)),
            prices,
            answered_prompts: std::collections::HashSet::new(),
        }
    }
}

impl Metrics {
    /// Folds in what the engine reports at the end of a run: its Batch API jobs, and the
    /// explicit caches it made for pinned lanes, whose creation and storage are billed. Returns
    /// why any pinned cache is missing from the cost (a failure, or a storage price the catalog
    /// does not have); `models` names the run's models by index.
    pub fn end_of_run(&mut self, report: &crate::engine::EngineReport, models: &[String]) -> Vec<String> {
        self.batch_jobs = report.batch_jobs;
        let mut warnings = report.pinned.failures.clone();
        for &(model, tokens, ttl) in &report.pinned.made {
            let price = self.prices.get(usize::from(model)).copied().flatten();
            match (self.billing.stored(tokens, ttl, price), &mut self.cost_usd) {
                (Some(usd), Some(cost)) => *cost += usd,
                (None, _) => warnings.push(format!(
                    "the storage price of {} is not in the catalog: the cost leaves out {tokens} tokens cached for {}",
                    models.get(usize::from(model)).map_or("?", String::as_str),
                    humantime::format_duration(ttl)
                )),
                _ => {}
            }
        }
        warnings
    }
}

impl Metrics {
    /// Savings of cache and dedup, and answers a cache could have saved.
    fn account_prompt(&mut self, r: &RequestRecord) {
        let w = &mut self.waste;
        match r.served {
            Served::Cache | Served::Coalesced => {
                w.saved_requests += 1;
                w.saved_input_tokens += u64::from(r.planned_input);
            }
            // The guard's insert also records a prompt's first answer (which is not a repeat).
            Served::Upstream | Served::Fallback
                if r.prompt_key & REPEATABLE != 0 && !self.answered_prompts.insert((r.prompt_key, r.model)) =>
            {
                w.repeated_prompt_requests += 1;
                let price = self.prices.get(usize::from(r.model)).copied().flatten();
                if let (Some(cost), Some(p)) = (&mut w.repeated_prompt_cost_usd, price) {
                    *cost += p.cost(r.tokens.input, r.tokens.output + r.tokens.thinking);
                }
            }
            _ => {}
        }
    }
}

/// Counts one more under `label`, allocating its key only the first time (this runs per record).
fn bump(counts: &mut BTreeMap<String, u64>, label: &str) {
    match counts.get_mut(label) {
        Some(n) => *n += 1,
        None => {
            counts.insert(label.to_string(), 1);
        }
    }
}

impl RecordSink for Metrics {
    fn attempt(&mut self, a: &AttemptRecord) {
        let c = &mut self.attempts;
        c.total += 1;
        let row = self.series.at(a.sent);
        row.started += 1;
        c.hedges += u64::from(a.hedge);
        c.fallback += u64::from(a.fallback);
        if a.retry {
            c.retries += 1;
            row.retries += 1;
        }
        let price = self.prices.get(usize::from(a.model)).copied().flatten();
        self.billing.asked(a.requested_tier);
        if a.cancelled
            || matches!(
                a.result,
                Err(ErrorKind::Timeout | ErrorKind::Transport | ErrorKind::Stream | ErrorKind::Decode)
            )
        {
            let w = &mut self.waste;
            w.unanswered_attempts += 1;
            w.unanswered_input_tokens += u64::from(a.input_tokens);
            if let (Some(cost), Some(p)) = (&mut w.unanswered_input_cost_usd, price) {
                *cost += p.cost(u64::from(a.input_tokens), 0);
            }
        }
        if a.cancelled {
            c.cancelled += 1;
            *c.by_result.entry("cancelled".to_string()).or_default() += 1;
            return;
        }
        match a.result {
            Ok(_) => bump(&mut c.by_result, "200"),
            Err(kind) => bump(&mut c.by_result, &kind.label()),
        }
        match a.result {
            Ok(tokens) => {
                // A batched answer's wait is its job's turnaround, not a service time: it held no
                // worker, and sizing workers or timeouts from it would be wrong.
                match a.batch_turnaround {
                    Some(t) => self.batch_turnaround.record(t),
                    None => self.service.record(a.ended.saturating_sub(a.sent)),
                }
                if let Some(s) = &a.stream {
                    self.stream.record(s);
                }
                let this = self.billing.answered(a.requested_tier, &tokens, price);
                if let (Some(cost), Some(this)) = (&mut self.cost_usd, this) {
                    *cost += this;
                    self.series.at(a.ended).cost_micro_usd += (this * 1e6).round() as u64;
                }
            }
            Err(kind) => {
                let row = self.series.at(a.ended);
                match kind {
                    ErrorKind::Status(429) => {
                        c.status_429 += 1;
                        if let Some(kind) = a.refused_by {
                            c.refused_by.entry(kind).or_insert((0, a.ended)).0 += 1;
                        }
                        c.status_429_with_delay += u64::from(a.retry_delay.is_some());
                        row.status_429 += 1;
                    }
                    other => {
                        row.errors += 1;
                        match other {
                            ErrorKind::Status(s) if s >= 500 => c.status_5xx += 1,
                            ErrorKind::Transport => c.transport += 1,
                            ErrorKind::Timeout => c.timeouts += 1,
                            _ => {}
                        }
                    }
                }
            }
        }
    }

    fn request(&mut self, r: &RequestRecord) {
        self.overall.add(r);
        let lane = usize::from(r.lane);
        if self.lanes.len() <= lane {
            self.lanes.resize(lane + 1, LaneMetrics::default());
        }
        self.lanes[lane].add(r);
        self.schedule_lag.record(r.arrived.saturating_sub(r.intended));
        match r.end.outcome() {
            Outcome::Succeeded => {
                self.intervals.record(r.ended, r.latency());
                if r.served == Served::Upstream || r.served == Served::Fallback {
                    self.billing.request(r.tokens.service_tier, r.latency());
                }
                bump(&mut self.served_by, r.served.label());
                self.account_prompt(r);
            }
            Outcome::Failed => *self.failed_by.entry(r.end.label()).or_default() += 1,
            Outcome::Dropped => *self.dropped_by.entry(r.end.label()).or_default() += 1,
        }
        if let crate::engine::record::EndReason::Error { gave_up, .. } = r.end {
            let key = serde_json::to_value(gave_up)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            *self.gave_up.entry(key).or_default() += 1;
        }
        self.series.at(r.intended).offered += 1;
        let row = self.series.at(r.ended);
        row.completed += 1;
        match r.end.outcome() {
            Outcome::Succeeded => {
                row.succeeded += 1;
                row.tokens_in += r.tokens.input;
                row.tokens_out += r.tokens.output + r.tokens.thinking;
                self.tokens.add(r.tokens);
                if r.turn > 0 {
                    let t = self.turns.entry(r.turn).or_default();
                    t.answered += 1;
                    t.input += r.tokens.input;
                    t.planned_input += u64::from(r.planned_input);
                    t.cached += r.tokens.cached;
                }
                self.planned.0 += u64::from(r.planned_input);
                self.planned.1 += u64::from(r.planned_output);
            }
            Outcome::Failed => row.failed += 1,
            Outcome::Dropped => row.dropped += 1,
        }
    }

    fn second(&mut self, s: &SecondSample) {
        let row = self.series.row(s.second);
        row.concurrency_limit = s.limit_end;
        row.breakers_open = s.breakers_open;
        row.inflight = s.inflight_end;
        row.inflight_max = s.inflight_max;
        row.workers_busy = s.busy_end;
        row.queue_depth = s.queue_end;
        row.queue_max = s.queue_max;
        row.batch_jobs = s.batch_jobs_end;
    }
}
