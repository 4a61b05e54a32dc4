//! `stampede diff`: two saved runs judged metric by metric; exit 1 on a regression.

use std::path::PathBuf;

use clap::Args;

use super::{load_summary, CliError, Exit, Io, Outcome};
use crate::commands::diff::{self, Threshold, METRICS};

/// `stampede diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The reference run's summary.json (for example committed to the repository).
    pub baseline: PathBuf,
    /// The run to judge.
    pub current: PathBuf,
    /// Override a metric's threshold: NAME=VALUE, e.g. p95=20%, success_rate=0.5pp, p99=250
    /// (ms). Metrics: success_rate, p50, p95, p99, goodput_rps, share_429, dropped_share,
    /// attempts_per_request, cost_usd.
    #[arg(long = "threshold", value_name = "NAME=VALUE")]
    pub thresholds: Vec<String>,
    /// Also write the Markdown table to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the comparison as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// One `--threshold NAME=VALUE`, read against the metrics `diff` knows.
fn threshold(arg: &str) -> Result<(String, Threshold), String> {
    let (name, value) = arg
        .split_once('=')
        .ok_or_else(|| format!("{arg:?}: expected NAME=VALUE"))?;
    let metric = diff::metric(name.trim()).ok_or_else(|| {
        let names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
        format!("unknown metric {name:?}; expected one of {}", names.join(", "))
    })?;
    Ok((metric.name.to_string(), Threshold::parse(value)?))
}

/// Compares the two runs, prints the table (or JSON), and judges.
pub(super) fn diff(args: DiffArgs, io: &mut Io<'_>) -> Outcome {
    let overrides = args
        .thresholds
        .iter()
        .map(|t| threshold(t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::Input(format!("--threshold {e}")))?;
    // Both files are read, so both problems show at once.
    let (baseline, current) = (load_summary(&args.baseline), load_summary(&args.current));
    if let (Err(first), Err(_)) = (&baseline, &current) {
        writeln!(io.err, "error: {first}")?;
    }
    let (baseline, current) = (baseline?, current?);
    let d = diff::diff(&baseline, &current, &overrides);
    for w in &d.warnings {
        writeln!(io.err, "warning: {w}")?;
    }
    let md = d.markdown();
    if args.json {
        writeln!(io.out, "{}", serde_json::to_string_pretty(&d).unwrap_or_default())?;
    } else {
        write!(io.out, "{md}")?;
    }
    if let Some(path) = &args.out {
        crate::out_file::write(path, md.as_bytes())
            .map_err(|e| CliError::Failed(format!("could not write {}: {e}", path.display())))?;
    }
    if d.regressed() {
        let names: Vec<&str> = d.rows.iter().filter(|r| r.regressed).map(|r| r.metric).collect();
        writeln!(io.err, "regression: {}", names.join(", "))?;
        Ok(Exit::Gate)
    } else {
        Ok(Exit::Ok)
    }
}
