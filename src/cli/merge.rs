//! `stampede merge`: the summaries of a run's shards added up, written as the run's reports,
//! with the run's verdict.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{load_summary, ready_out_dir, write_outputs, CliError, Io, Outcome};
use crate::report;

/// `stampede merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' output folders (each holding summary.json) or summary.json files.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Output folder for the merged reports.
    #[arg(long)]
    pub out: PathBuf,
    /// Print the merged summary.json to stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// The most shard summaries one merge reads (the most replicas a run has).
const MAX_SHARDS: usize = 256;

/// Reads every shard, merges them, writes the reports and judges the objectives.
pub(super) fn merge(args: MergeArgs, io: &mut Io<'_>) -> Outcome {
    if args.shards.len() > MAX_SHARDS {
        return Err(CliError::Input(format!(
            "{} summaries given; a run has at most {MAX_SHARDS} shards",
            args.shards.len()
        )));
    }
    let mut shards = Vec::with_capacity(args.shards.len());
    for path in &args.shards {
        let file = if path.is_dir() {
            path.join("summary.json")
        } else {
            path.clone()
        };
        shards.push((file.clone(), load_summary(&file)?));
    }
    let summary = crate::commands::merge::merge(shards).map_err(CliError::Input)?;
    let _lock = ready_out_dir(&args.out)?;
    let (dir, written) = write_outputs(args.out.clone(), |d: &Path| report::write_all(&summary, d), io)?;
    if args.json {
        writeln!(io.out, "{}", serde_json::to_string_pretty(&summary).unwrap_or_default())?;
    } else {
        write!(io.out, "{}", report::text::table(&summary))?;
        if let Some(m) = &summary.merged {
            let starts = match m.start_spread_ms {
                Some(ms) => format!(
                    "their starts were {ms} ms apart{}",
                    m.start_at
                        .as_deref()
                        .map_or(String::new(), |t| format!(" (--start-at {t})"))
                ),
                None => "simulated: their clocks start together".to_string(),
            };
            writeln!(io.out, "\nmerged {} shards; {starts}", m.shards)?;
        }
        writeln!(io.out, "wrote {}", report::listing(&dir, &written))?;
    }
    super::run::verdict(&summary, io)
}
