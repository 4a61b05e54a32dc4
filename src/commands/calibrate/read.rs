//! Reading recordings for a calibration: stampede trace lines (what `stampede proxy --record`
//! and `stampede mock --record` write), streamed, each line checked, grouped by model.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

use stampede_mock::input_file;
use stampede_mock::record::TraceLine;

/// The most lines one calibration reads (all inputs together): enough for days of an
/// application's traffic, and a bound on memory (a few hundred bytes a line).
pub const MAX_LINES: u64 = 2_000_000;

/// The most models a calibration keeps apart.
pub const MAX_MODELS: usize = 200;

/// The recorded lines of every input, by model (`""`: lines that name none).
#[derive(Debug, Default)]
pub struct Recorded {
    /// Lines by model.
    pub by_model: BTreeMap<String, Vec<TraceLine>>,
    /// Lines read.
    pub lines: u64,
    /// Lines without what the target did (hand-written trace lines): not used.
    pub unobserved: u64,
    /// Answers the proxy injected: not the upstream's, not used.
    pub injected: u64,
}

/// Reads `path` into `into`; a line that is not a trace line is an error naming file, line and
/// column.
pub fn read(path: &Path, into: &mut Recorded) -> Result<(), String> {
    let file = input_file::open_lines(path, false).map_err(|e| e.to_string())?;
    for (i, text) in BufReader::new(file).lines().enumerate() {
        let number = i + 1;
        let text = text.map_err(|e| format!("{}:{number}: {e}", path.display()))?;
        if text.trim().is_empty() {
            continue;
        }
        let line: TraceLine = serde_json::from_str(&text).map_err(|e| {
            // serde's message ends "at line 1 column N": the place is said once, up front.
            let message = e.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message).to_string();
            format!(
                "{}:{number}:{}: expected a stampede trace line ({{\"t\", \"input_tokens\", \"output_tokens\", \"status\", ...}}): {message}",
                path.display(),
                e.column()
            )
        })?;
        if !line.t.is_finite()
            || line.latency_ms.is_some_and(|v| !v.is_finite() || v < 0.0)
            || line.ttft_ms.is_some_and(|v| !v.is_finite() || v < 0.0)
        {
            return Err(format!(
                "{}:{number}: expected finite, non-negative times (t, ttft_ms, latency_ms)",
                path.display()
            ));
        }
        into.lines += 1;
        if into.lines > MAX_LINES {
            return Err(format!(
                "{}:{number}: more than {MAX_LINES} lines in all; calibrate from a sample (a recording of a few thousand calls is plenty)",
                path.display()
            ));
        }
        if !line.observed() {
            into.unobserved += 1;
            continue;
        }
        if line.fault.as_deref().is_some_and(|f| f.starts_with("injected")) {
            into.injected += 1;
            continue;
        }
        let model = line.model.clone().unwrap_or_default();
        if into.by_model.len() >= MAX_MODELS && !into.by_model.contains_key(&model) {
            return Err(format!(
                "{}:{number}: more than {MAX_MODELS} models; calibrate one application's models at a time",
                path.display()
            ));
        }
        into.by_model.entry(model).or_default().push(line);
    }
    Ok(())
}
