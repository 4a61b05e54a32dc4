//! # stampede-mock
//!
//! A Gemini-compatible mock API that behaves like Gemini under load: per-model quotas (RPM,
//! TPM, RPD) answered with Gemini's exact 429 bodies, an upstream that overloads with 503s,
//! latency with time to first token and decode rate, injected faults, and a network profile.
//!
//! The behaviour model is transport-free: the axum server in [`server`] wraps it for live HTTP,
//! and stampede's simulator calls [`model::MockModel::generate`] in-process under a paused tokio
//! clock. Same code, so a simulated run and a live run against the mock agree.
//!
//! # Layout
//!
//! - [`dist`]: duration and number distributions as written in TOML (validated on parse).
//! - [`record`]: the recording format (one JSON line per request an application sent) and its writer.
//! - [`rng`]: seeded, independent random streams (common random numbers).
//! - [`catalog`]: models, tier limits, quota ids and metrics, prices.
//! - [`profile`]: presets and the `[target.mock]` settings that patch them.
//! - [`quota_kind`]: what refused a 429 (RPD, monthly cap, spend limit, RPM, TPM, unnamed).
//! - [`quota`]: sliding and fixed windows per key and model; exact retry delays.
//! - [`spend`]: the spend-based rate limit and the monthly cap per project.
//! - [`store_budget`]: bytes per API key and in all, and entries per key, of a store.
//! - [`context_cache`]: implicit prefix caching and explicit `cachedContents`.
//! - [`prefix`]: a prompt's prefixes as implicit caching looks them up (whole chunks, content ends).
//! - [`batch`]: the Batch API's jobs: turnaround, enqueued-token quota, states.
//! - [`capacity`]: the shared upstream with its backlog and 503s.
//! - [`tokens`]: the one token-counting rule and deterministic text.
//! - [`usage`]: what an answer used and why it ended (shared by the model, batches and the wire).
//! - [`input_file`]: every input file opened one way: regular files only, a size limit per kind,
//!   traces streamed with a line limit.
//! - [`ranges`]: one range per kind of number (price, USD, share, rate, window, count), checked
//!   with one message wherever the number is written.
//! - [`duration`]: seconds as a `Duration` without a panic, for every computed or user value.
//! - [`errors`]: Gemini's error bodies (2025, 2026 and bare 429 shapes) and how to read them.
//! - [`bounds`]: the bound of every number and string a request carries (400 past it).
//! - [`model`]: the behaviour model: decide an answer and plan its timing.
//! - [`wire`]: Gemini's JSON request and response types.
//! - [`server`]: the axum app (Gemini, OpenAI-compatible, stats, metrics).
//! - [`standalone`]: the `stampede mock` / `stampede-mock` command.

#![warn(missing_docs)]

pub mod batch;
pub mod bounds;
pub mod capacity;
pub mod catalog;
pub mod context_cache;
pub mod dist;
pub mod duration;
pub mod errors;
pub mod input_file;
pub mod model;
pub mod prefix;
pub mod profile;
pub mod quota;
pub mod quota_kind;
pub mod ranges;
pub mod record;
pub mod rng;
pub mod server;
pub mod spend;
pub mod standalone;
pub mod store_budget;
pub mod thinking;
pub mod tokens;
pub mod usage;
pub mod wire;

pub use model::{Answer, Call, Generation, MockModel};
pub use profile::{MockProfile, MockSettings};
