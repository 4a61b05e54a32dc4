//! # stampede
//!
//! Load testing and capacity planning for LLM APIs, Gemini first.
//!
//! # Layout
//!
//! - [`scenario`]: the scenario file (TOML): load, check, report errors with line and column.
//! - [`traffic`]: planned requests from arrival processes and request mixes; no clock, no I/O.
//! - [`strategy`]: the calling plan's policies (queue, rate limiter, retry, ...), one file each.
//! - [`backend`]: the `Backend` trait and its transports (in-process mock model, Gemini HTTP).
//! - [`engine`]: the open-loop engine and the records it emits.
//! - [`metrics`]: streaming aggregation of records into HDR histograms, counters, time series.
//! - [`summary`]: the versioned `summary.json` document.
//! - [`advice`]: recommended settings and warnings read from one run's summary.
//! - [`report`]: `summary.md`, `timeseries.csv`, `report.html`, `latency.hlog` from a summary.
//! - [`run`]: one run end to end: target, runtime (virtual or real time), engine, summary.
//! - [`run_spec`]: a run's resolved specification (scenario + overrides), read by run and spend.
//! - [`bench`]: `stampede bench`, the simulator's speed on this machine.
//! - [`compare`]: several strategies on identical traffic, with confidence intervals.
//! - [`plan`]: the fewest workers that meet the `[slo]`, per candidate calling plan, by simulation.
//! - [`hosting`]: what to buy to host a plan: client memory and CPU measured over real HTTP.
//! - [`diff`]: two saved runs compared metric by metric against thresholds (a CI gate).
//! - [`cli`]: the command line (the only module that knows about exit codes and terminals).
//! - [`queueing`]: Erlang B/C, M/M/c and Little's law (theory checks, planner first guesses).
//! - [`spend`]: the spend guard: a run's cost estimated before it starts, and a cap while it runs.
//! - [`spec_error`]: positions of errors in input files.
//! - [`format`]: number formatting shared by every output.
//! - [`stats`]: a figure over seeds, its mean and 95% interval.
//! - [`histogram`]: the HDR latency histogram and its percentiles.

#![warn(missing_docs)]

pub mod advice;
pub mod backend;
pub mod cli;
pub mod commands;
pub mod engine;
pub mod format;
pub mod histogram;
pub mod metrics;
pub mod queueing;
pub mod report;
pub mod run;
pub mod run_spec;
pub mod scenario;
pub mod spec_error;
pub mod spend;
pub mod stats;
pub mod strategy;
pub mod summary;
pub mod traffic;
