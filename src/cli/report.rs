//! `stampede report`: the pages and files of a saved run, rendered again.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{load_summary, CliError, Exit, Io, Outcome};
use crate::out_file::OutLock;
use crate::report;
use crate::summary::Summary;

/// `stampede report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A summary.json written by `stampede run`.
    pub summary: PathBuf,
    /// Output folder [default: the summary's folder].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write each chart as a PNG into OUT/png/ (for slides and READMEs).
    #[arg(long)]
    pub png: bool,
}

/// Renders summary.md, timeseries.csv, report.html and latency.hlog from a saved summary.
pub(super) fn report(args: ReportArgs, io: &mut Io<'_>) -> Outcome {
    let summary = load_summary(&args.summary)?;
    let dir = args
        .out
        .unwrap_or_else(|| args.summary.parent().map(Path::to_path_buf).unwrap_or_default());
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::Failed(format!("could not write to {}: {e}", dir.display())))?;
    let _lock = OutLock::acquire(&dir).map_err(|e| CliError::Input(e.to_string()))?;
    let written = report::write_files(&dir, report::rendered(&summary))
        .map_err(|e| CliError::Failed(format!("could not write to {}: {e}", dir.display())))?;
    writeln!(io.out, "wrote {}", report::listing(&dir, &written))?;
    if args.png {
        write_pngs(&summary, &dir, false, io)?;
    }
    Ok(Exit::Ok)
}

/// `--png`: every chart of the report into `dir/png/`. `quiet` leaves stdout to `--json`.
pub(super) fn write_pngs(summary: &Summary, dir: &Path, quiet: bool, io: &mut Io<'_>) -> Result<(), CliError> {
    let png_dir = dir.join("png");
    let written = report::png::write_all(&report::charts(summary), &png_dir)
        .map_err(|e| CliError::Failed(format!("PNG export: {e}")))?;
    if !quiet {
        writeln!(io.out, "wrote {} charts to {}/", written.len(), png_dir.display())?;
    }
    Ok(())
}
