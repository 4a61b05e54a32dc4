//! `stampede run`: one run, its table or JSON, its files, and its verdict.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{
    out_dir, parse_duration, parse_usd, progress, ready_out_dir, target_kind, write_outputs, CliError, Exit, Io,
    Outcome,
};
use crate::engine::Progress;
use crate::prepare::{PrepareError, Prepared, Purpose, RunOptions};
use crate::report;
use crate::scenario::{Scenario, TargetKind};

/// `stampede run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Target instead of the scenario's.
    #[arg(long, value_parser = target_kind())]
    pub target: Option<TargetKind>,
    /// Endpoint for gemini/openai targets.
    #[arg(long)]
    pub base_url: Option<String>,
    /// Output folder [default: reports/<scenario name>/].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed instead of the scenario's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Traffic window instead of the scenario's (for example 10s).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Print summary.json to stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
    /// Also write each chart as a PNG into OUT/png/ (for slides and READMEs).
    #[arg(long)]
    pub png: bool,
    /// Spend cap in USD: refuse to start when the estimate is above it, stop sending when
    /// answered attempts reach it [default: the scenario's, else $1 for a billed target].
    #[arg(long, value_parser = parse_usd)]
    pub max_cost_usd: Option<f64>,
    /// Schedule at most this many requests.
    #[arg(long)]
    pub max_requests: Option<u64>,
    /// Print the request, token and cost estimate, and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The catalog in force.
    #[command(flatten)]
    pub catalog: stampede_mock::standalone::CatalogArg,
}

/// Runs the scenario once, writes its files, prints its table (or JSON) and its verdict.
pub(super) fn run(args: RunArgs, io: &mut Io<'_>) -> Outcome {
    let loaded = Scenario::load(&args.scenario)?;
    let options = RunOptions {
        target: args.target,
        base_url: args.base_url.clone(),
        seed: args.seed,
        duration: args.duration,
        max_requests: args.max_requests,
        max_cost_usd: args.max_cost_usd,
        purpose: if args.dry_run { Purpose::DryRun } else { Purpose::Run },
        ..RunOptions::default()
    };
    let spec = match Prepared::new(&loaded, &options) {
        Ok(spec) => spec,
        Err(PrepareError::Refused { estimate, why }) if args.dry_run => {
            writeln!(
                io.out,
                "{estimate}\na run would be refused: {why}\n--dry-run: nothing was sent"
            )?;
            return Ok(Exit::Ok);
        }
        Err(PrepareError::Refused { estimate, why }) => {
            writeln!(io.err, "{estimate}")?;
            return Err(CliError::Failed(format!("refusing to start: {why}")));
        }
        Err(PrepareError::Input(m)) => return Err(CliError::Input(m)),
    };
    if args.dry_run {
        writeln!(io.out, "{}", spec.estimate_line())?;
        for w in spec.catalog_warnings() {
            writeln!(io.out, "warning: {w}")?;
        }
        writeln!(io.out, "--dry-run: nothing was sent")?;
        return Ok(Exit::Ok);
    }
    if spec.billed() || spec.spend_cap().is_some() {
        writeln!(io.err, "{}", spec.estimate_line())?;
    }
    let dir = out_dir(args.out.clone(), &loaded);
    let _lock = ready_out_dir(&dir)?;
    let progress = Arc::new(Progress::default());
    let display = (!args.quiet && !args.json).then(|| progress::Display::start(progress.clone(), &spec));
    let interrupts = progress::watch_interrupts(progress.clone());
    let result = crate::run::execute(&spec, progress.clone(), None);
    drop(interrupts);
    if let Some(d) = display {
        d.finish();
    }
    let summary = result?;
    let written = write_outputs(dir, |d| report::write_all(&summary, d), io);
    if let Err(e) = &written {
        // Nothing could be written anywhere: the figures still reach the terminal, as JSON
        // when JSON was asked for.
        if args.json {
            writeln!(io.out, "{}", serde_json::to_string_pretty(&summary).unwrap_or_default())?;
        } else {
            write!(io.out, "{}", report::text::table(&summary))?;
        }
        return Err(CliError::Failed(e.to_string()));
    }
    let (dir, written) = written?;
    if args.json {
        writeln!(io.out, "{}", serde_json::to_string_pretty(&summary).unwrap_or_default())?;
    } else {
        write!(io.out, "{}", report::text::table(&summary))?;
        writeln!(io.out, "\nwrote {}", report::listing(&dir, &written))?;
    }
    if args.png {
        super::report::write_pngs(&summary, &dir, args.json, io)?;
    }
    if let Some(why) = &summary.run.stopped_early {
        writeln!(
            io.err,
            "the run stopped early ({why}); the report covers what was scheduled until then"
        )?;
        return Ok(Exit::Failed);
    }
    match &summary.slo {
        Some(v) if !v.pass => {
            let missed: Vec<&str> = v.checks.iter().filter(|c| !c.pass).map(|c| c.name.key()).collect();
            writeln!(io.err, "SLO missed: {}", missed.join(", "))?;
            Ok(Exit::Gate)
        }
        _ => Ok(Exit::Ok),
    }
}
