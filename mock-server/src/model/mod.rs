//! The mock's behaviour model, shared by the HTTP server and stampede's simulator.
//!
//! [`MockModel::generate`] takes one call (key, model, input tokens, output limits) and decides,
//! in this order: network uplink delay, auth, model, prompt size, quota (429), injected status
//! faults (500/503/504), upstream capacity (wait in the backlog or 503), then the timing plan of
//! the answer. It sleeps through `tokio::time` only, so under a paused clock the same code runs
//! in virtual time. What it returns is either a [`Rejection`] (after its downlink delay) or a
//! [`Generation`]: the usage, the finish reason, an optional serving fault and the instants at
//! which each part of the answer is due. The transport plays the generation: the HTTP server
//! writes bytes at those instants, the simulator just waits for them.
//!
//! Randomness: each call draws from its own stream keyed by `rng_key` (or a counter), always in
//! the same order, so a given request gets the same latency whatever happened before it.

use crate::duration::secs as secs_f64;
use crate::thinking::Thinking;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rand::RngExt;
use rustc_hash::FxHashMap;
use tokio::time::Instant;

use crate::capacity::{Slot, Upstream};
use crate::catalog::{self, Billed, CostSplit, Dimension, Limits};
use crate::context_cache::{ExplicitCaches, ImplicitCache, PrefixBlock};
use crate::dist::{DurationSampler, NumberSampler};
use crate::errors::{ApiError, Rejection};
use crate::profile::MockProfile;
use crate::profile::{QuotaWindow, ServiceTier};
use crate::quota::QuotaBook;
use crate::rng::{keyed_rng, StreamRng};
use crate::spend::SpendBook;
use crate::store_budget::StoreLimits;
pub use crate::usage::{FinishReason, Usage};

/// One generate call as the model sees it, whatever the transport.
#[derive(Debug, Clone, Default)]
pub struct Call<'a> {
    /// The API key, if any was sent.
    pub api_key: Option<&'a str>,
    /// Model id, such as `gemini-2.5-flash`.
    pub model: &'a str,
    /// Prompt size by the shared counting rule (see [`crate::tokens`]).
    pub input_tokens: u64,
    /// `generationConfig.maxOutputTokens`.
    pub max_output_tokens: Option<u32>,
    /// The answer length the caller wants (stampede sends it; otherwise the profile decides).
    pub output_hint: Option<u32>,
    /// `thinkingConfig`: the budget (0 disables thinking) or the level.
    pub thinking: Thinking,
    /// Key of the random stream for this call; calls with equal keys behave alike.
    pub rng_key: Option<u64>,
    /// `serviceTier` (Standard when absent).
    pub service_tier: ServiceTier,
    /// The prompt as cumulative prefix blocks (system instruction, then each turn), for
    /// implicit caching; empty: nothing to share.
    pub prefixes: &'a [PrefixBlock],
    /// `cachedContent`: an explicit cache whose tokens come before the prompt.
    pub cached_content: Option<&'a str>,
}

/// A fault that happens while an answer is being served (status faults are plain errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServingFault {
    /// The connection is cut when the first token is due.
    Reset,
    /// Nothing is ever sent; the client must give up.
    Hang,
    /// A stream stops after half of its chunks, without `finishReason` (a non-streamed body is
    /// cut in half).
    Truncate,
    /// The body is not valid JSON.
    Malformed,
}

/// An admitted call: what to answer and when each part is due.
#[derive(Debug)]
pub struct Generation {
    /// Model that answers.
    pub model: Arc<str>,
    /// Usage of the full answer.
    pub usage: Usage,
    /// Finish reason of the full answer.
    pub finish: FinishReason,
    /// A fault to inject while serving, if any.
    pub fault: Option<ServingFault>,
    /// Key for the answer's text.
    pub text_key: u64,
    /// The service tier that served it (a Priority request over its limit is served at
    /// Standard).
    pub service_tier: ServiceTier,
    /// What the answer costs in USD, by what is billed (zero when the model is unpriced).
    pub cost: CostSplit,
    id_bits: u128,
    start: Instant,
    first_token: Duration,
    per_token: Duration,
    chunk_tokens: u32,
    _slot: Slot,
    _inflight: InflightGuard,
}

impl Generation {
    /// `responseId`: 22 URL-safe characters, the same for every chunk of a stream.
    pub fn response_id(&self) -> String {
        const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        (0..22)
            .map(|i| ALPHABET[((self.id_bits >> (6 * i)) & 63) as usize] as char)
            .collect()
    }

    /// Number of stream chunks (at least one).
    pub fn chunk_count(&self) -> u32 {
        (self.usage.candidates.div_ceil(u64::from(self.chunk_tokens)) as u32).max(1)
    }

    /// Cumulative output tokens after chunk `i`.
    pub fn tokens_after(&self, i: u32) -> u64 {
        (u64::from(i + 1) * u64::from(self.chunk_tokens)).min(self.usage.candidates)
    }

    /// When chunk `i` is due at the client (downlink included).
    pub fn chunk_at(&self, i: u32) -> Instant {
        let decode = self
            .per_token
            .saturating_mul(u32::try_from(self.tokens_after(i)).unwrap_or(u32::MAX));
        later(self.start, self.first_token.saturating_add(decode))
    }

    /// When the first chunk is due: the time to first token a streaming client sees.
    pub fn first_chunk_at(&self) -> Instant {
        self.chunk_at(0)
    }

    /// When the complete answer is due.
    pub fn done_at(&self) -> Instant {
        self.chunk_at(self.chunk_count() - 1)
    }

    /// When a [`ServingFault::Reset`] cuts the connection: when the first token was due.
    pub fn reset_at(&self) -> Instant {
        later(self.start, self.first_token)
    }

    /// Number of chunks sent before a [`ServingFault::Truncate`] cuts the stream.
    pub fn truncated_chunks(&self) -> u32 {
        self.chunk_count() / 2
    }
}

/// The model's answer to one call.
#[derive(Debug)]
pub enum Answer {
    /// A refusal, due now.
    Error(Rejection),
    /// An answer to play out.
    Serve(Generation),
}

#[derive(Debug)]
struct InflightGuard(Arc<AtomicI64>);

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Samplers {
    latency: DurationSampler,
    decode_tps: NumberSampler,
    output_tokens: NumberSampler,
    thinking_tokens: NumberSampler,
    flex_latency: DurationSampler,
    batch_turnaround: DurationSampler,
}

/// What the model knows about one model it serves, prepared once.
#[derive(Debug)]
struct Served {
    name: Arc<str>,
    limits: Limits,
    max_input: u64,
    /// The longest answer the model gives (`outputTokenLimit`): bounds `maxOutputTokens` and
    /// the answer-length hint.
    max_output: u64,
}

/// The behaviour model: one per mock server or simulation.
pub struct MockModel {
    profile: Arc<MockProfile>,
    served: FxHashMap<String, Served>,
    samplers: Samplers,
    seed: u64,
    origin: Instant,
    quotas: Mutex<QuotaBook>,
    priority: Mutex<QuotaBook>,
    spend: Mutex<SpendBook>,
    implicit: Mutex<ImplicitCache>,
    explicit: Mutex<ExplicitCaches>,
    batches: Mutex<crate::batch::BatchBook>,
    upstream: Upstream,
    next_key: AtomicU64,
    inflight: Arc<AtomicI64>,
    counts: Mutex<BTreeMap<String, BTreeMap<u16, u64>>>,
}

impl std::fmt::Debug for MockModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockModel")
            .field("preset", &self.profile.preset)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

/// What the model's stores may hold: explicit caches and batch jobs, each in bytes per API key
/// and in all, and entries per key (see [`crate::store_budget`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreBounds {
    /// Explicit caches (`cachedContents`).
    pub caches: StoreLimits,
    /// Batch jobs.
    pub batches: StoreLimits,
}

impl Default for StoreBounds {
    fn default() -> Self {
        StoreBounds {
            caches: crate::context_cache::EXPLICIT_LIMITS,
            batches: crate::batch::BATCH_LIMITS,
        }
    }
}

impl MockModel {
    /// A model for `profile`, seeded; its clock starts now (fixed quota windows align to it).
    pub fn new(profile: MockProfile, seed: u64) -> MockModel {
        MockModel::with_stores(profile, seed, StoreBounds::default())
    }

    /// A model whose stores hold at most `stores`.
    pub fn with_stores(profile: MockProfile, seed: u64, stores: StoreBounds) -> MockModel {
        let samplers = Samplers {
            latency: profile.latency.sampler(),
            decode_tps: profile.decode_tps.sampler(),
            output_tokens: profile.output_tokens.sampler(),
            thinking_tokens: profile.thinking_tokens.sampler(),
            flex_latency: profile.service_tiers.flex_latency.sampler(),
            batch_turnaround: profile.batch.turnaround.sampler(),
        };
        let served = profile
            .models
            .iter()
            .map(|(name, limits)| {
                let entry = Served {
                    name: Arc::from(name.as_str()),
                    limits: *limits,
                    max_input: catalog::model_info(name).input_token_limit,
                    max_output: catalog::model_info(name).output_token_limit,
                };
                (name.clone(), entry)
            })
            .collect();
        let origin = Instant::now();
        MockModel {
            quotas: Mutex::new(QuotaBook::new(profile.window, origin)),
            priority: Mutex::new(QuotaBook::new(QuotaWindow::Sliding, origin)),
            spend: Mutex::new(SpendBook::new(profile.spend_limit, profile.monthly_cap_usd, origin)),
            implicit: Mutex::new(ImplicitCache::new(profile.implicit_cache_ttl)),
            explicit: Mutex::new(ExplicitCaches::new(stores.caches)),
            batches: Mutex::new(crate::batch::BatchBook::new(stores.batches)),
            upstream: Upstream::new(profile.max_concurrent, profile.backlog),
            profile: Arc::new(profile),
            served,
            samplers,
            seed,
            origin,
            next_key: AtomicU64::new(0),
            inflight: Arc::default(),
            counts: Mutex::default(),
        }
    }

    /// The profile this model runs.
    pub fn profile(&self) -> &MockProfile {
        &self.profile
    }

    /// Time since the model started.
    pub fn uptime(&self) -> Duration {
        Instant::now().saturating_duration_since(self.origin)
    }

    /// Whether the mock serves `model`.
    pub fn serves(&self, model: &str) -> bool {
        self.served.contains_key(model)
    }

    /// Checks the key as the real service does: `Err` with 403 or 400 when it would refuse it.
    pub fn authenticate(&self, api_key: Option<&str>) -> Result<(), ApiError> {
        match api_key {
            None | Some("") if self.profile.require_key => Err(ApiError::missing_key()),
            Some(k) if k.len() > crate::bounds::MAX_API_KEY_BYTES => Err(ApiError::invalid_key()),
            Some(k) if !self.profile.api_keys.is_empty() && !self.profile.api_keys.iter().any(|a| a == k) => {
                Err(ApiError::invalid_key())
            }
            _ => Ok(()),
        }
    }

    /// Decides one generate call; see the module docs for the order of decisions.
    pub async fn generate(&self, call: Call<'_>) -> Answer {
        let key = call
            .rng_key
            .unwrap_or_else(|| self.next_key.fetch_add(1, Ordering::Relaxed));
        let mut rng = keyed_rng(self.seed, key);
        let mut draws = Draws::take(&mut rng, &self.samplers);
        if call.service_tier == ServiceTier::Flex {
            draws.flex_wait = self.samplers.flex_latency.sample(&mut rng);
        }
        let (uplink, downlink) = self.network_delays(&draws);
        sleep_for(uplink).await;

        match self.admit(&call, &draws).await {
            Err(rejection) => {
                self.count(call.model, rejection.status());
                sleep_for(downlink).await;
                Answer::Error(rejection)
            }
            Ok(admission) => {
                self.count(call.model, 200);
                let id_bits = rng.random();
                let g = self.plan(&call, &draws, admission, key, downlink, id_bits);
                self.spend
                    .lock()
                    .commit(Instant::now(), call.api_key.unwrap_or(""), g.cost.total());
                Answer::Serve(g)
            }
        }
    }

    fn plan(
        &self,
        call: &Call<'_>,
        draws: &Draws,
        admission: Admission,
        key: u64,
        downlink: Duration,
        id_bits: u128,
    ) -> Generation {
        let p = &self.profile;
        let Admission {
            slot,
            fault,
            model,
            prompt,
            cached,
            tier,
        } = admission;
        let slowdown = 1.0 + p.overload_slowdown * slot.utilisation;
        let natural = call.output_hint.unwrap_or(draws.output_tokens).max(1);
        let (candidates, finish) = match call.max_output_tokens {
            Some(max) if natural > max => (max, FinishReason::MaxTokens),
            _ => (natural, FinishReason::Stop),
        };
        let thoughts = call.thinking.tokens(draws.thinking_tokens, u64::from(candidates));
        let per_token = if draws.decode_tps > 0.0 {
            secs_f64(slowdown / draws.decode_tps)
        } else {
            Duration::ZERO
        };
        // Prefill: the input the cache did not serve, at the profile's time per 1,000 tokens.
        let prefill = p
            .latency_per_1k_input
            .mul_f64(prompt.saturating_sub(cached) as f64 / 1000.0);
        let base = draws.latency.saturating_add(prefill);
        let latency = if slowdown == 1.0 { base } else { base.mul_f64(slowdown) };
        let thinking = per_token.saturating_mul(u32::try_from(thoughts).unwrap_or(u32::MAX));
        let mut first_token = latency.saturating_add(thinking).saturating_add(downlink);
        let fault = match fault {
            Some(PickedFault::Serving(f)) => Some(f),
            Some(PickedFault::SlowHeaders) => {
                first_token = first_token.saturating_add(p.errors.slow_headers);
                None
            }
            _ => None,
        };
        let usage = Usage {
            prompt,
            candidates: u64::from(candidates),
            thoughts,
            cached,
        };
        let billed = Billed {
            prompt,
            cached,
            output: usage.candidates,
            thinking: thoughts,
        };
        let cost = p.prices.get(call.model).map_or_else(CostSplit::default, |price| {
            price.split(billed, tier.multiplier(&p.service_tiers))
        });
        self.inflight.fetch_add(1, Ordering::Relaxed);
        Generation {
            model,
            usage,
            finish,
            fault,
            text_key: key,
            service_tier: tier,
            cost,
            id_bits,
            start: Instant::now(),
            first_token,
            per_token,
            chunk_tokens: p.stream_chunk_tokens,
            _slot: slot,
            _inflight: InflightGuard(self.inflight.clone()),
        }
    }

    fn network_delays(&self, d: &Draws) -> (Duration, Duration) {
        let net = &self.profile.network;
        if net.rtt.is_zero() && net.loss == 0.0 {
            return (Duration::ZERO, Duration::ZERO);
        }
        let one_way = |u: f64| {
            let jitter = net.jitter.as_secs_f64() * (2.0 * u - 1.0);
            secs_f64(((net.rtt.as_secs_f64() + jitter) / 2.0).max(0.0))
        };
        let mut uplink = one_way(d.jitter_up);
        if d.loss < net.loss {
            uplink += net.rto;
        }
        (uplink, one_way(d.jitter_down))
    }

    fn count(&self, model: &str, status: u16) {
        // Names clients make up share one entry, so a flood of them cannot grow the counters.
        let model = if self.serves(model) { model } else { UNKNOWN_MODEL };
        let mut counts = self.counts.lock();
        if let Some(m) = counts.get_mut(model) {
            *m.entry(status).or_default() += 1;
        } else {
            counts.insert(model.to_string(), BTreeMap::from([(status, 1)]));
        }
    }

    /// Records an answer decided outside [`generate`](Self::generate) (auth or parse errors
    /// found by the transport, countTokens, the OpenAI endpoint).
    pub fn record(&self, model: &str, status: u16) {
        self.count(model, status);
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> StatsSnapshot {
        let now = Instant::now();
        let quota = self
            .quotas
            .lock()
            .usage(now)
            .into_iter()
            .flat_map(|(key_index, model, dims)| {
                dims.into_iter().map(move |(d, used, limit)| QuotaUsage {
                    key_index,
                    model: model.clone(),
                    dimension: Dimension::as_str(d).to_string(),
                    used,
                    limit,
                })
            })
            .collect();
        StatsSnapshot {
            uptime_s: self.uptime().as_secs_f64(),
            inflight: self.inflight.load(Ordering::Relaxed),
            upstream_busy: self.upstream.busy(),
            upstream_waiting: self.upstream.waiting(),
            requests: self.counts.lock().clone(),
            quota,
        }
    }
}

/// The random numbers of one call, always drawn in this order.
struct Draws {
    jitter_up: f64,
    jitter_down: f64,
    loss: f64,
    fault: f64,
    latency: Duration,
    decode_tps: f64,
    output_tokens: u32,
    thinking_tokens: u64,
    /// A Flex call's wait for spare capacity (zero for other tiers; drawn after the rest).
    flex_wait: Duration,
}

impl Draws {
    fn take(rng: &mut StreamRng, s: &Samplers) -> Draws {
        Draws {
            jitter_up: rng.random(),
            jitter_down: rng.random(),
            loss: rng.random(),
            fault: rng.random(),
            latency: s.latency.sample(rng),
            decode_tps: s.decode_tps.sample(rng),
            output_tokens: s.output_tokens.sample_count(rng, 1),
            thinking_tokens: u64::from(s.thinking_tokens.sample_count(rng, 0)),
            flex_wait: Duration::ZERO,
        }
    }
}

/// `t + d`, or (past what the clock can hold) 30 years after `t`: a planned instant never
/// panics, whatever a profile or a request made of it.
pub fn later(t: Instant, d: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(30 * 365 * 86_400);
    t.checked_add(d).or_else(|| t.checked_add(FAR)).unwrap_or(t)
}

/// Waits until `t`, without touching the timer when `t` has already passed (a due answer goes
/// out at once instead of waiting for the timer driver's next turn).
pub async fn wait_until(t: Instant) {
    if t > Instant::now() {
        tokio::time::sleep_until(t).await;
    }
}

async fn sleep_for(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

mod admit;
use admit::{Admission, PickedFault};
mod batches;
mod caches;
mod stats;

pub use batches::{finish_of, BatchItem};
pub use stats::{QuotaUsage, StatsSnapshot, UNKNOWN_MODEL};

#[cfg(test)]
mod tests;
