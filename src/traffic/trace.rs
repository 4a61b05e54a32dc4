//! Trace replay: real request timelines from files, read as a stream.
//!
//! Formats: the Azure 2023 CSV (`TIMESTAMP,ContextTokens,GeneratedTokens`), Mooncake JSONL
//! (`timestamp` in ms, `input_length`, `output_length`, `hash_ids`), BurstGPT CSV (`Timestamp`
//! in s, `Model`, `Request tokens`, `Response tokens`, ...; rows with 0 response tokens were
//! failed requests and are skipped unless `include_failed`), and stampede's own JSONL
//! (`{"t": seconds, "input_tokens", "output_tokens", "lane"?, "model"?, "prompt_key"?,
//! "stream"?, "session"?, "prefix"?, ...}`, [`stampede_mock::record::TraceLine`]: what
//! `stampede mock --record` and `stampede proxy --record` write). Rows are read one at a time, so a multi-gigabyte trace never sits in memory.
//!
//! Before a run the whole file is scanned once ([`TraceStats::scan`]): a bad row is an error
//! naming the file and line, or is skipped and counted when `skip_bad_rows` is set.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::RngExt;
use serde::{Deserialize, Serialize};
use stampede_mock::duration::secs as secs_f64;
use stampede_mock::ranges::TRACE_SCALE;
use stampede_mock::rng::{combine, StreamRng};

use super::timeline::{Arrival, Timeline};

/// Window bounds are compared with this tolerance in seconds: a start taken from a row's time
/// and carried through a `Duration` may differ from it by a nanosecond.
const EPS: f64 = 1e-9;

/// The file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TraceFormat {
    /// Azure Public Dataset 2023 CSV.
    Azure,
    /// Mooncake JSONL.
    Mooncake,
    /// BurstGPT CSV.
    Burstgpt,
    /// stampede's JSONL.
    Jsonl,
}

fn one() -> f64 {
    1.0
}

/// `[traffic.trace]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceSpec {
    /// The file, relative to the scenario.
    pub file: String,
    /// Its format.
    pub format: TraceFormat,
    /// Time runs this many times faster than in the trace (0.5 = half speed).
    #[serde(default = "one")]
    pub speedup: f64,
    /// Requests per trace row, keeping the shape: 0.5 keeps each row with chance 1/2; 2.5 sends
    /// each row twice and a third time with chance 1/2 (copies at the same instant).
    #[serde(default = "one")]
    pub rate_scale: f64,
    /// Where to start in the trace (trace time from its first row).
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "String")]
    pub start: Duration,
    /// How much of the trace to play (trace time); all of it when absent.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub length: Option<Duration>,
    /// Play the window again from its start when it ends, until the scenario's duration.
    #[serde(default, rename = "loop")]
    pub looped: bool,
    /// Skip rows that do not parse (and count them) instead of refusing the file.
    #[serde(default)]
    pub skip_bad_rows: bool,
    /// BurstGPT: also replay rows of failed requests (0 response tokens).
    #[serde(default)]
    pub include_failed: bool,
    /// Model names in the trace mapped to the models to call.
    #[serde(default)]
    pub models: BTreeMap<String, String>,
}

impl TraceSpec {
    /// Checks values serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [("speedup", self.speedup), ("rate_scale", self.rate_scale)] {
            TRACE_SCALE.check(&format!("trace.{name}"), v)?;
        }
        if self.length.is_some_and(|l| l.is_zero()) {
            return Err("trace.length must be above zero".into());
        }
        Ok(())
    }
}

/// The smallest trace `speedup` and `rate_scale`: a thousandth of the trace's pace.
pub const MIN_SCALE: f64 = TRACE_SCALE.min;
/// The largest trace `speedup` and `rate_scale`: a thousand times the trace's pace.
pub const MAX_SCALE: f64 = TRACE_SCALE.max;

/// One row of a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceRow {
    /// Time in seconds (any origin; replay uses differences).
    pub t: f64,
    /// Prompt tokens.
    pub input: u32,
    /// Answer tokens (none: a recorded request that failed before its length was known; replay
    /// draws the scenario's answer length).
    pub output: Option<u32>,
    /// Lane name.
    pub lane: Option<String>,
    /// Model name.
    pub model: Option<String>,
    /// Prompt identity.
    pub prompt_key: Option<u64>,
    /// Whether the request streams its answer (absent: the scenario's `stream_share` decides).
    pub stream: Option<bool>,
    /// Shared prompt prefixes: (block key, tokens up to its end) in growing order (Mooncake's
    /// 512-token `hash_ids` blocks).
    pub prefix: Option<Prefix>,
    /// The conversation the row belongs to (a JSONL `session`): its earlier prompts are prefixes.
    pub session: Option<u64>,
}

/// What reading one line gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    /// A usable row.
    Ok(TraceRow),
    /// A row of a failed request (BurstGPT), not replayed.
    Failed,
    /// A row that does not parse: what was wrong.
    Bad(String),
    /// The file cannot be read on (a line past [`MAX_LINE_BYTES`], a read error): what was
    /// wrong. The rows end here; it is an error even with `skip_bad_rows`.
    Unreadable(String),
}

/// The most model names a trace may hold (a run calls at most 200 models).
pub const MAX_TRACE_MODELS: usize = 200;
/// The most lane names a trace may hold (a run has at most 64 lanes).
pub const MAX_TRACE_LANES: usize = 64;

/// What one pass over a trace found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceStats {
    /// Usable rows.
    pub rows: u64,
    /// Rows skipped because they did not parse (with `skip_bad_rows`).
    pub bad_rows: u64,
    /// Rows of failed requests skipped (BurstGPT).
    pub failed_rows: u64,
    /// Time of the first usable row.
    pub first_t: f64,
    /// Time of the last usable row.
    pub last_t: f64,
    /// Usable rows inside the replay window.
    pub window_rows: u64,
    /// Model names found in the trace.
    pub models: Vec<String>,
    /// Lane names found in the trace.
    pub lanes: Vec<String>,
}

impl TraceStats {
    /// Reads the whole trace once. A row that does not parse, or whose time goes back, is an
    /// error naming file and line unless `skip_bad_rows` is set.
    pub fn scan(spec: &TraceSpec, path: &Path) -> Result<TraceStats, String> {
        let mut rows = TraceRows::open(path, spec.format, spec.include_failed)?;
        let mut s = TraceStats::default();
        let mut prev: Option<f64> = None;
        let (mut models, mut lanes) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
        while let Some((line, row)) = rows.next_row() {
            let problem = match row {
                Row::Failed => {
                    s.failed_rows += 1;
                    continue;
                }
                Row::Unreadable(message) => return Err(rows.locate(line, &message)),
                Row::Bad(message) => Some(message),
                Row::Ok(r) if prev.is_some_and(|p| r.t < p) => Some(format!(
                    "time {} goes back before the previous row's {}",
                    r.t,
                    prev.unwrap_or(0.0)
                )),
                Row::Ok(r) => {
                    if prev.is_none() {
                        s.first_t = r.t;
                    }
                    prev = Some(r.t);
                    s.last_t = r.t;
                    s.rows += 1;
                    let rel = r.t - s.first_t;
                    let start = spec.start.as_secs_f64();
                    if rel >= start - EPS && spec.length.is_none_or(|l| rel < start + l.as_secs_f64() - EPS) {
                        s.window_rows += 1;
                    }
                    models.extend(r.model);
                    lanes.extend(r.lane);
                    // A run takes at most 200 models and 64 lanes: refused here, at the row
                    // that passes the bound, so a trace of distinct names never fills memory.
                    (models.len() > MAX_TRACE_MODELS || lanes.len() > MAX_TRACE_LANES)
                        .then(|| format!("more than {MAX_TRACE_MODELS} models or {MAX_TRACE_LANES} lanes in the trace"))
                }
            };
            if let Some(message) = problem {
                if spec.skip_bad_rows && models.len() <= MAX_TRACE_MODELS && lanes.len() <= MAX_TRACE_LANES {
                    s.bad_rows += 1;
                } else {
                    return Err(rows.locate(line, &message));
                }
            }
        }
        if s.rows == 0 {
            return Err(format!("{}: the trace has no usable rows", path.display()));
        }
        if s.window_rows == 0 {
            return Err(format!(
                "{}: no rows in the replay window (start {})",
                path.display(),
                humantime::format_duration(spec.start)
            ));
        }
        if spec.looped && s.window_span(spec) <= 0.0 {
            return Err(format!(
                "{}: every row of the replay window falls at one instant, so a looped replay would send them all \
                 at once forever; set `length` to the period to repeat them over, or turn `loop` off",
                path.display()
            ));
        }
        s.models = models.into_iter().collect();
        s.lanes = lanes.into_iter().collect();
        Ok(s)
    }

    /// Trace time covered by the replay window, plus one mean gap, in seconds: the shift from
    /// one loop to the next.
    pub fn window_span(&self, spec: &TraceSpec) -> f64 {
        let start = spec.start.as_secs_f64();
        let end = spec
            .length
            .map_or(self.last_t - self.first_t, |l| start + l.as_secs_f64());
        let span = (end - start).max(0.0);
        let gap = if self.window_rows > 1 {
            span / (self.window_rows - 1) as f64
        } else {
            1.0
        };
        if spec.length.is_some() {
            span
        } else {
            span + gap
        }
    }

    /// Mean request rate of the replay (requests per second of replay time).
    pub fn mean_rate(&self, spec: &TraceSpec) -> f64 {
        let span = self.window_span(spec) / spec.speedup;
        if span <= 0.0 {
            0.0
        } else {
            self.window_rows as f64 * spec.rate_scale / span
        }
    }
}

/// A trace replayed as a timeline.
pub struct TraceTimeline {
    spec: TraceSpec,
    path: PathBuf,
    stats: TraceStats,
    rows: Option<TraceRows>,
    rng: StreamRng,
    loop_offset: f64,
    pending: Vec<Arrival>,
    serial: u64,
    /// Conversations' earlier prompts, prefixes of their next ones.
    sessions: prefix::SessionPrefixes,
}

impl TraceTimeline {
    /// A replay of a scanned trace.
    pub fn new(spec: TraceSpec, path: PathBuf, stats: TraceStats, rng: StreamRng) -> TraceTimeline {
        TraceTimeline {
            spec,
            path,
            stats,
            rows: None,
            rng,
            loop_offset: 0.0,
            pending: Vec::new(),
            serial: 0,
            sessions: prefix::SessionPrefixes::default(),
        }
    }

    fn copies(&mut self) -> u32 {
        let k = self.spec.rate_scale;
        let whole = k.floor() as u32;
        whole + u32::from(self.rng.random::<f64>() < k - k.floor())
    }
}

impl Timeline for TraceTimeline {
    fn next(&mut self) -> Option<Arrival> {
        loop {
            if let Some(a) = self.pending.pop() {
                return Some(a);
            }
            if self.rows.is_none() {
                self.rows = Some(TraceRows::open(&self.path, self.spec.format, self.spec.include_failed).ok()?);
            }
            let start = self.spec.start.as_secs_f64();
            let next = self.rows.as_mut().and_then(TraceRows::next_row);
            let row = match next {
                Some((_, Row::Ok(r))) => r,
                // The file changed since it was scanned: the replay ends here.
                Some((_, Row::Unreadable(_))) => return None,
                Some(_) => continue,
                None => {
                    if !self.spec.looped {
                        return None;
                    }
                    self.rows = None;
                    self.loop_offset += self.stats.window_span(&self.spec) / self.spec.speedup;
                    continue;
                }
            };
            let rel = row.t - self.stats.first_t;
            if rel < start - EPS {
                continue;
            }
            if self.spec.length.is_some_and(|l| rel >= start + l.as_secs_f64() - EPS) {
                // Past the window: end this pass.
                if !self.spec.looped {
                    return None;
                }
                self.rows = None;
                self.loop_offset += self.stats.window_span(&self.spec) / self.spec.speedup;
                continue;
            }
            let at = secs_f64((self.loop_offset + (rel - start) / self.spec.speedup).max(0.0));
            let model = row
                .model
                .as_ref()
                .map(|m| self.spec.models.get(m).cloned().unwrap_or_else(|| m.clone()));
            let prefix = self.sessions.prefix_of(&row);
            for copy in 0..self.copies() {
                self.serial += 1;
                self.pending.push(Arrival {
                    at,
                    phase: 0,
                    input: Some(row.input),
                    output: row.output,
                    lane: row.lane.clone(),
                    model: model.clone(),
                    prompt_key: row
                        .prompt_key
                        .map(|k| if copy == 0 { k } else { combine(k, u64::from(copy)) }),
                    stream: row.stream,
                    // Copies of a row (speed-up above 1) are other users: they share no prefix.
                    prefix: if copy == 0 { prefix.clone() } else { None },
                });
            }
        }
    }

    fn mean_rate(&self) -> f64 {
        self.stats.mean_rate(&self.spec)
    }
}

mod prefix;
mod rows;

pub use prefix::{Prefix, MOONCAKE_BLOCK};
pub use rows::TraceRows;

#[cfg(test)]
mod tests;
