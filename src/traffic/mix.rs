//! The request mix: what each arrival asks for.
//!
//! Sizes come from the arrival itself (a trace row), else from the lane's or the phase's
//! distributions, else from pairs sampled from a trace (`sizes_from`). Lanes, models and
//! streaming are drawn by share. A `duplicates` share of requests reuses popular prompts, chosen
//! by Zipf popularity over `keys` prompts: a popular prompt always has the same size, so caches
//! and in-flight dedup have something real to find.

use std::path::Path;
use std::time::Duration;

use rand::RngExt;
use rand_distr::{Distribution, Zipf};
use serde::{Deserialize, Serialize};
use stampede_mock::dist::{NumberDist, NumberSampler};
use stampede_mock::rng::{keyed_rng, StreamRng};

use super::timeline::Arrival;
use super::trace::{Row, TraceFormat, TraceRows};
use super::PlannedRequest;

fn one() -> f64 {
    1.0
}

fn one_document() -> u32 {
    1
}

/// The most tokens a lane's system prompt or document may hold: the largest context window.
pub const MAX_SHARED_TOKENS: u32 = 2 << 20;

/// The most distinct documents a lane may draw from.
pub const MAX_DOCUMENTS: u32 = 1_000_000;

/// `[[traffic.lanes]]`: a class of traffic the calling plan can treat differently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LaneSpec {
    /// Name, such as `interactive` or `batch`.
    pub name: String,
    /// Share of the traffic (shares are normalised).
    #[serde(default = "one")]
    pub share: f64,
    /// Priority: 0 is served first.
    #[serde(default)]
    pub priority: u8,
    /// Weight under weighted fair scheduling.
    #[serde(default = "one")]
    pub weight: f64,
    /// Workers kept for this lane alone.
    #[serde(default)]
    pub reserved_workers: u32,
    /// Total deadline of this lane's requests, from their intended start (replaces
    /// `strategy.timeout.total`).
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub deadline: Option<Duration>,
    /// This lane's prompt sizes.
    #[serde(default)]
    pub input_tokens: Option<NumberDist>,
    /// This lane's answer sizes.
    #[serde(default)]
    pub output_tokens: Option<NumberDist>,
    /// This lane's share of streamed requests.
    #[serde(default)]
    pub stream_share: Option<f64>,
    /// Tokens of a system prompt every request of the lane shares, sent before its prompt
    /// (`systemInstruction`): the prefix implicit caching can serve.
    #[serde(default)]
    pub system_prompt_tokens: u32,
    /// Tokens of a long document each request of the lane starts its message with, in the same
    /// text part as its question (retrieval, summarising, classifying against a long policy):
    /// implicit caching serves the whole chunks of it that requests share. 0: none.
    #[serde(default)]
    pub document_tokens: u32,
    /// How many distinct documents the lane's requests draw from, by prompt (1: one document
    /// shared by all).
    #[serde(default = "one_document")]
    pub documents: u32,
    /// The service tier the lane asks for: `standard` (default), `flex` or `priority`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub service_tier: stampede_mock::profile::ServiceTier,
    /// Send the lane through the Batch API: requests grouped into jobs, polled to their end.
    #[serde(default)]
    pub batch: Option<BatchLaneSpec>,
}

/// `batch = { ... }` on a lane: how its requests are grouped into Batch API jobs and polled.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchLaneSpec {
    /// A job is submitted once it holds this many requests (1 to 100,000).
    #[serde(default = "default_batch_requests")]
    pub max_requests: u32,
    /// ...or this many input tokens (0 = no token bound).
    #[serde(default)]
    pub max_tokens: u64,
    /// ...or this long after its first request arrived.
    #[serde(default = "default_batch_window", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub window: Duration,
    /// First poll this long after submitting; each next one 1.5× later, up to `max_poll`.
    #[serde(default = "default_batch_poll", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub poll: Duration,
    /// The longest wait between polls.
    #[serde(default = "default_batch_max_poll", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub max_poll: Duration,
}

fn default_batch_requests() -> u32 {
    1000
}
fn default_batch_window() -> Duration {
    Duration::from_secs(60)
}
fn default_batch_poll() -> Duration {
    Duration::from_secs(10)
}
fn default_batch_max_poll() -> Duration {
    Duration::from_secs(300)
}

impl BatchLaneSpec {
    /// Checks the ranges; the message names the key.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=100_000).contains(&self.max_requests) {
            return Err(format!(
                "batch.max_requests must be 1 to 100000, got {}",
                self.max_requests
            ));
        }
        for (key, d) in [
            ("window", self.window),
            ("poll", self.poll),
            ("max_poll", self.max_poll),
        ] {
            if d.is_zero() {
                return Err(format!("batch.{key} must be above zero"));
            }
        }
        if self.max_poll < self.poll {
            return Err("batch.max_poll must be at least batch.poll".into());
        }
        Ok(())
    }
}

impl LaneSpec {
    /// Tokens every prompt of the lane carries besides its own: its system prompt and document.
    pub fn shared_tokens(&self) -> u32 {
        self.system_prompt_tokens + self.document_tokens
    }

    /// A lane with default settings.
    pub fn named(name: &str) -> LaneSpec {
        LaneSpec {
            name: name.into(),
            share: 1.0,
            priority: 0,
            weight: 1.0,
            reserved_workers: 0,
            deadline: None,
            input_tokens: None,
            output_tokens: None,
            stream_share: None,
            system_prompt_tokens: 0,
            document_tokens: 0,
            documents: 1,
            service_tier: Default::default(),
            batch: None,
        }
    }
}

/// `[[traffic.models]]`: a model and its share of the traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelShare {
    /// Model id.
    pub name: String,
    /// Share (normalised).
    #[serde(default = "one")]
    pub share: f64,
}

fn default_zipf() -> f64 {
    1.0
}

/// `duplicates`: a share of requests repeat popular prompts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DuplicateSpec {
    /// Share of requests that reuse a popular prompt.
    pub share: f64,
    /// How many distinct popular prompts there are.
    pub keys: u64,
    /// Zipf exponent of their popularity (0 = all equally popular).
    #[serde(default = "default_zipf")]
    pub zipf: f64,
}

/// `sizes_from`: (input, output) pairs sampled from a trace, keeping their correlation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SizesFrom {
    /// The trace file, relative to the scenario.
    pub file: String,
    /// Its format.
    pub format: TraceFormat,
}

/// Most pairs kept from a `sizes_from` trace (a uniform reservoir sample).
pub const SIZE_RESERVOIR: usize = 100_000;

/// Reads up to [`SIZE_RESERVOIR`] (input, output) pairs, uniformly sampled, from a trace.
pub fn sample_pairs(path: &Path, format: TraceFormat, seed: u64) -> Result<Vec<(u32, u32)>, String> {
    let mut rows = TraceRows::open(path, format, false)?;
    let mut rng = keyed_rng(seed, 0x5a3e);
    let mut pairs = Vec::new();
    let mut seen = 0u64;
    while let Some((line, row)) = rows.next_row() {
        match row {
            // A recorded request that failed before its answer length was known: no pair.
            Row::Ok(super::trace::TraceRow { output: None, .. }) => {}
            Row::Ok(r) => {
                let r = (r.input, r.output.unwrap_or(1));
                seen += 1;
                if pairs.len() < SIZE_RESERVOIR {
                    pairs.push(r);
                } else {
                    let j = rng.random_range(0..seen);
                    if (j as usize) < SIZE_RESERVOIR {
                        pairs[j as usize] = r;
                    }
                }
            }
            Row::Failed => {}
            Row::Bad(m) | Row::Unreadable(m) => return Err(rows.locate(line, &m)),
        }
    }
    if pairs.is_empty() {
        return Err(format!("{}: no rows to take sizes from", path.display()));
    }
    Ok(pairs)
}

/// A lane, prepared.
#[derive(Debug, Clone)]
pub struct Lane {
    /// Its settings.
    pub spec: LaneSpec,
    input: Option<NumberSampler>,
    output: Option<NumberSampler>,
}

/// The prepared mix.
#[derive(Debug, Clone)]
pub struct Mix {
    /// Input and output sizes per phase (index 0 outside phases).
    pub(crate) phase_sizes: Vec<(NumberSampler, NumberSampler)>,
    pairs: Option<Vec<(u32, u32)>>,
    lanes: Vec<Lane>,
    lane_cum: Vec<f64>,
    models: Vec<String>,
    model_cum: Vec<f64>,
    stream_share: f64,
    duplicates: Option<(f64, Zipf<f64>)>,
    seed: u64,
}

/// Salt of the size streams of popular prompts.
const POPULAR_SIZES: u64 = 0x706f_7075_6c61_7200;
/// Prompt keys of popular prompts have the top bit set; keys from traces the next one.
const POPULAR_KEY: u64 = 1 << 63;
const TRACE_KEY: u64 = 1 << 62;

fn cumulative(shares: impl Iterator<Item = f64>) -> Vec<f64> {
    let v: Vec<f64> = shares.collect();
    let total: f64 = v.iter().sum();
    let mut acc = 0.0;
    v.iter()
        .map(|s| {
            acc += s / total;
            acc
        })
        .collect()
}

fn pick(cum: &[f64], u: f64) -> usize {
    cum.iter().position(|&c| u < c).unwrap_or(cum.len().saturating_sub(1))
}

impl Mix {
    /// A mix. `models` lists every model the traffic may call, the first being the default;
    /// `model_shares` (possibly empty) the shares of the leading ones.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        phase_sizes: Vec<(NumberSampler, NumberSampler)>,
        pairs: Option<Vec<(u32, u32)>>,
        lanes: Vec<LaneSpec>,
        models: Vec<String>,
        model_shares: &[ModelShare],
        stream_share: f64,
        duplicates: Option<&DuplicateSpec>,
        seed: u64,
    ) -> Mix {
        let lanes: Vec<Lane> = lanes
            .into_iter()
            .map(|spec| Lane {
                input: spec.input_tokens.as_ref().map(NumberDist::sampler),
                output: spec.output_tokens.as_ref().map(NumberDist::sampler),
                spec,
            })
            .collect();
        let lane_cum = cumulative(lanes.iter().map(|l| l.spec.share));
        let model_cum = if model_shares.is_empty() {
            vec![1.0]
        } else {
            cumulative(model_shares.iter().map(|m| m.share))
        };
        Mix {
            phase_sizes,
            pairs,
            lane_cum,
            lanes,
            models,
            model_cum,
            stream_share,
            duplicates: duplicates.map(|d| (d.share, Zipf::new(d.keys as f64, d.zipf).expect("valid zipf"))),
            seed,
        }
    }

    /// The same mix, drawing popular prompts' sizes from `seed`'s streams.
    pub fn with_seed(&self, seed: u64) -> Mix {
        Mix { seed, ..self.clone() }
    }

    /// The lanes (at least one).
    pub fn lanes(&self) -> &[Lane] {
        &self.lanes
    }

    /// The models, by index.
    pub fn models(&self) -> &[String] {
        &self.models
    }

    fn lane_index(&self, name: &str) -> usize {
        self.lanes.iter().position(|l| l.spec.name == name).unwrap_or(0)
    }

    fn model_index(&self, name: &str) -> usize {
        self.models.iter().position(|m| m == name).unwrap_or(0)
    }

    /// Completes an arrival into a planned request. Draws from `mix` (lane, model, streaming,
    /// duplicate) and `sizes` in a fixed order whatever the arrival already knows.
    pub fn plan(&self, a: Arrival, id: u64, mix: &mut StreamRng, sizes: &mut StreamRng) -> PlannedRequest {
        let (u_lane, u_model, u_stream, u_dup): (f64, f64, f64, f64) =
            (mix.random(), mix.random(), mix.random(), mix.random());
        let lane = match &a.lane {
            Some(name) => self.lane_index(name),
            None => pick(&self.lane_cum, u_lane),
        };
        let model = match &a.model {
            Some(name) => self.model_index(name),
            None => pick(&self.model_cum, u_model),
        };
        let l = &self.lanes[lane];
        let stream = a
            .stream
            .unwrap_or(u_stream < l.spec.stream_share.unwrap_or(self.stream_share));
        let popular = match &self.duplicates {
            Some((share, zipf)) if a.prompt_key.is_none() && u_dup < *share => Some(zipf.sample(mix) as u64),
            _ => None,
        };
        let prompt_key = match (a.prompt_key, popular) {
            (Some(k), _) => TRACE_KEY | (k >> 2),
            (None, Some(k)) => POPULAR_KEY | k,
            (None, None) => id,
        };
        let (input, output) = match (a.input, a.output) {
            (Some(i), Some(o)) => (i, o),
            // What the source knows stays (a recorded call that failed before its answer's
            // length was known keeps its prompt); the rest is drawn.
            _ => {
                let drawn = match popular {
                    // A popular prompt always has the same size.
                    Some(k) => self.sizes(&a, l, &mut keyed_rng(self.seed ^ POPULAR_SIZES, k)),
                    None => self.sizes(&a, l, sizes),
                };
                (a.input.unwrap_or(drawn.0), a.output.unwrap_or(drawn.1))
            }
        };
        PlannedRequest {
            id,
            at: a.at,
            input_tokens: input.max(1),
            output_tokens: output.max(1),
            lane: lane as u8,
            model: model as u8,
            prompt_key,
            stream,
            user: 0,
            history: None,
            prefix: a.prefix.clone(),
        }
    }

    fn sizes(&self, a: &Arrival, lane: &Lane, rng: &mut StreamRng) -> (u32, u32) {
        if let (Some(pairs), None, None) = (&self.pairs, &lane.input, &lane.output) {
            return pairs[rng.random_range(0..pairs.len())];
        }
        let (pi, po) = &self.phase_sizes[usize::from(a.phase).min(self.phase_sizes.len() - 1)];
        let input = lane.input.as_ref().unwrap_or(pi).sample_count(rng, 1);
        let output = lane.output.as_ref().unwrap_or(po).sample_count(rng, 1);
        (input, output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_mock::rng::stream_rng;

    fn mix(lanes: Vec<LaneSpec>, dup: Option<DuplicateSpec>) -> Mix {
        let sizes = (
            NumberDist::Constant(800.0).sampler(),
            NumberDist::Constant(100.0).sampler(),
        );
        let models = vec!["gemini-2.5-flash".to_string(), "gemini-2.5-pro".to_string()];
        let shares = [
            ModelShare {
                name: "gemini-2.5-flash".into(),
                share: 3.0,
            },
            ModelShare {
                name: "gemini-2.5-pro".into(),
                share: 1.0,
            },
        ];
        Mix::new(vec![sizes], None, lanes, models, &shares, 0.25, dup.as_ref(), 9)
    }

    fn plan_many(m: &Mix, n: u64) -> Vec<PlannedRequest> {
        let (mut a, mut b) = (stream_rng(1, "mix"), stream_rng(1, "sizes"));
        (0..n).map(|i| m.plan(Arrival::default(), i, &mut a, &mut b)).collect()
    }

    #[test]
    fn shares_of_lanes_models_and_streaming() {
        let mut batch = LaneSpec::named("batch");
        batch.share = 1.0;
        batch.input_tokens = Some(NumberDist::Constant(9000.0));
        let mut interactive = LaneSpec::named("interactive");
        interactive.share = 3.0;
        let m = mix(vec![interactive, batch], None);
        let reqs = plan_many(&m, 40_000);
        let share =
            |f: &dyn Fn(&PlannedRequest) -> bool| reqs.iter().filter(|r| f(r)).count() as f64 / reqs.len() as f64;
        assert!((share(&|r| r.lane == 1) - 0.25).abs() < 0.01);
        assert!((share(&|r| r.model == 1) - 0.25).abs() < 0.01);
        assert!((share(&|r| r.stream) - 0.25).abs() < 0.01);
        assert!(reqs
            .iter()
            .all(|r| r.input_tokens == if r.lane == 1 { 9000 } else { 800 }));
        assert!(reqs.iter().all(|r| r.prompt_key == r.id));
    }

    #[test]
    fn duplicates_follow_zipf_and_keep_their_size() {
        let mut lane = LaneSpec::named("default");
        lane.input_tokens = Some(NumberDist::Lognormal {
            median: 800.0,
            p99: 6000.0,
        });
        let m = mix(
            vec![lane],
            Some(DuplicateSpec {
                share: 0.3,
                keys: 100,
                zipf: 1.1,
            }),
        );
        let reqs = plan_many(&m, 50_000);
        let popular: Vec<&PlannedRequest> = reqs.iter().filter(|r| r.prompt_key & POPULAR_KEY != 0).collect();
        let share = popular.len() as f64 / reqs.len() as f64;
        assert!((share - 0.3).abs() < 0.01, "{share}");
        let top = popular.iter().filter(|r| r.prompt_key == POPULAR_KEY | 1).count();
        let tenth = popular.iter().filter(|r| r.prompt_key == POPULAR_KEY | 10).count();
        // Zipf with s = 1.1: the first key is 10^1.1 ≈ 12.6 times as popular as the tenth.
        let ratio = top as f64 / tenth as f64;
        assert!((8.0..18.0).contains(&ratio), "{ratio}");
        for r in &popular {
            let same = popular.iter().find(|o| o.prompt_key == r.prompt_key).unwrap();
            assert_eq!(same.input_tokens, r.input_tokens);
        }
    }

    #[test]
    fn arrivals_that_know_their_request_keep_it() {
        let m = mix(vec![LaneSpec::named("a"), LaneSpec::named("b")], None);
        let a = Arrival {
            input: Some(7),
            output: Some(3),
            lane: Some("b".into()),
            model: Some("gemini-2.5-pro".into()),
            stream: Some(true),
            prompt_key: Some(42),
            ..Arrival::default()
        };
        let (mut x, mut y) = (stream_rng(1, "mix"), stream_rng(1, "sizes"));
        let r = m.plan(a, 5, &mut x, &mut y);
        assert_eq!(
            (r.input_tokens, r.output_tokens, r.lane, r.model, r.stream),
            (7, 3, 1, 1, true)
        );
        assert_eq!(r.prompt_key, TRACE_KEY | (42 >> 2));
        // A recorded call refused before its answer's length was known keeps its prompt size;
        // only the answer is drawn (800 / 100 here).
        let refused = Arrival {
            input: Some(7),
            output: None,
            ..Arrival::default()
        };
        let r = m.plan(refused, 6, &mut x, &mut y);
        assert_eq!((r.input_tokens, r.output_tokens), (7, 100));
    }
}
