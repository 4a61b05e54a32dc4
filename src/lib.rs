//! # stampede
//!
//! Load testing and capacity planning for LLM APIs, Gemini first.
//!
//! # Layout
//!
//! Bottom to top; a module imports only modules above it in this list (the architecture test,
//! `tests/it/architecture.rs`, enforces it).
//!
//! - [`format`](mod@format), [`stats`], [`histogram`], [`spec_error`], [`queueing`], [`meter`],
//!   [`out_file`]: shared vocabulary — number formatting, a figure over seeds (mean ± 95% CI), the HDR latency
//!   histogram, positions in input files, Erlang C and M/M/c, the process's CPU time and memory
//!   (and its allocator), output files written whole (temporary name, then rename) under a lock
//!   per output folder.
//! - [`traffic`]: planned requests from arrival processes, traces and request mixes; no clock.
//! - [`backend`]: attempts and their outcomes; the transports (in-process mock model, Gemini
//!   HTTP, OpenAI-compatible HTTP) and the error bodies they read.
//! - [`strategy`]: the calling plan's policies, one file each, assembled into one pipeline.
//! - [`scenario`]: the scenario file (TOML) and its named strategies; errors with line and
//!   column; the scenario JSON Schema.
//! - [`engine`]: the open-loop engine; it calls the pipeline by phase and emits records.
//! - [`metrics`]: records folded into HDR histograms, counters, time series.
//! - [`summary`]: the versioned `summary.json`, the advice types it carries, and the one
//!   registry of figures read from it.
//! - [`advice`]: recommended settings and warnings read from one run's summary.
//! - [`prepare`]: a run prepared once: the scenario with its overrides, checked and resolved.
//! - [`spend`]: the spend guard: a run's cost estimated before it starts, and a cap while it runs.
//! - [`run`]: one run end to end: target, runtime (virtual or real time), engine, summary.
//! - [`commands`]: compare, capacity plan, hosting probe, diff, bench — work of many runs.
//! - [`rests_on`]: what a run's figures rest on (latency, decode, quotas, prices, token density),
//!   each with its origin and how to replace it.
//! - [`report`]: `summary.md`, `timeseries.csv`, `report.html`, `latency.hlog`, and the compare
//!   and plan pages.
//! - [`cli`]: the command line (the only module that knows about exit codes and terminals).

#![warn(missing_docs)]

pub mod advice;
pub mod backend;
pub mod cli;
pub mod commands;
pub mod engine;
pub mod format;
pub mod histogram;
pub mod meter;
pub mod metrics;
pub mod out_file;
pub mod prepare;
pub mod queueing;
pub mod report;
pub mod rests_on;
pub mod run;
pub mod scenario;
pub mod shard;
pub mod spec_error;
pub mod spend;
pub mod stats;
pub mod strategy;
pub mod summary;
pub mod traffic;
