//! One integration-test binary (as ripgrep does): the CLI driven in-process, the live mock on
//! port 0, the summary schema.

mod advice;
mod architecture;
mod batch_lane;
mod binding;
mod calibrate;
mod catalog_today;
mod cli;
mod compare;
mod deploy;
mod diff;
mod docs;
mod document_cache;
mod gemini_today;
mod horizon;
mod hostile;
mod hostile_files;
mod live_generator;
mod live_mock;
mod pages;
mod plan;
mod plan_search;
mod properties;
mod report;
mod schema;
mod sessions;
mod shard;
mod steady;
mod support;
mod targets;
mod theory;
