//! `stampede compare`: several strategies on identical traffic, side by side.

use std::path::PathBuf;
use std::sync::Mutex;

use clap::Args;

use super::{candidates_of, out_dir, ready_out_dir, write_outputs, CliError, Exit, Io, ManyRunArgs, Outcome};
use crate::format::secs;
use crate::prepare::{PrepareError, Prepared, Purpose, RunOptions};
use crate::report;
use crate::run::RunError;
use crate::scenario::Scenario;
use crate::summary::Summary;

/// `stampede compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// A strategy file (a [strategy] table, optionally with `name`) or `preset:NAME`; repeat
    /// for each strategy. Without any, the scenario's [[strategies]] are compared.
    #[arg(long = "strategy")]
    pub strategies: Vec<String>,
    /// Seeds per strategy (the scenario's seed and the ones after it).
    #[arg(long, default_value_t = 1)]
    pub seeds: u32,
    /// Target, traffic window and output folder.
    #[command(flatten)]
    pub runs: ManyRunArgs,
    /// Print compare.json instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Live Prometheus metrics, labelled by strategy.
    #[command(flatten)]
    pub live: super::metrics_addr::LiveArgs,
}

/// Runs every strategy on every seed, writes compare.json and compare.html, prints the table.
pub(super) fn compare(args: CompareArgs, io: &mut Io<'_>) -> Outcome {
    let loaded = Scenario::load(&args.scenario)?;
    let candidates = candidates_of(&args.strategies, &loaded)?;
    if candidates.len() < 2 {
        return Err(CliError::Input(format!(
            "compare needs at least two strategies: --strategy FILE or --strategy preset:NAME (presets: {}), or \
             [[strategies]] in the scenario",
            crate::strategy::presets::names().join(", ")
        )));
    }
    let runs = candidates.len() as u64 * u64::from(args.seeds.max(1));
    let options = RunOptions {
        target: args.runs.target,
        duration: args.runs.duration,
        max_cost_usd: args.runs.max_cost_usd,
        purpose: Purpose::Runs(runs),
        ..RunOptions::default()
    };
    let base = match Prepared::new(&loaded, &options) {
        Ok(base) => base,
        Err(PrepareError::Refused { estimate, why }) => {
            writeln!(io.err, "{estimate} per run, {runs} runs")?;
            return Err(CliError::Failed(format!("refusing to start: {why}")));
        }
        Err(PrepareError::Input(m)) => return Err(CliError::Input(m)),
    };
    if base.billed() {
        writeln!(io.err, "{} per run, {runs} runs", base.estimate_line())?;
    }
    let dir = out_dir(args.runs.out.clone(), &loaded);
    let _lock = ready_out_dir(&dir)?;
    // Live runs take real time: say as each one ends.
    let live = base.target().is_live();
    let quiet = args.json || !live;
    let notes = Mutex::new(&mut *io.err);
    let finished = |name: &str, seed: u64, r: &Result<Summary, RunError>| {
        if quiet {
            return;
        }
        let mut err = notes.lock().expect("stderr lock");
        let _ = match r {
            Ok(s) => writeln!(
                err,
                "  {name} (seed {seed}): {} scheduled, {} answered, {} of wall time",
                s.requests.scheduled,
                s.requests.succeeded,
                secs(s.run.wall_time_s)
            ),
            Err(e) => writeln!(err, "  {name} (seed {seed}): {e}"),
        };
    };
    let exporter = args.live.start(loaded.scenario.name(), "all")?;
    let live = exporter.as_ref().map(|e| e.metrics());
    let comparison = crate::commands::compare::compare(&base, &candidates, args.seeds, &finished, live)?;
    let (dir, written) = write_outputs(dir, |d| report::compare::write_all(&comparison, d), io)?;
    if args.json {
        writeln!(
            io.out,
            "{}",
            serde_json::to_string_pretty(&comparison).unwrap_or_default()
        )?;
    } else {
        writeln!(
            io.out,
            "stampede compare · {} · {} strategies · seeds {:?} · {} of traffic each · {} of wall time\n",
            comparison.scenario,
            comparison.strategies.len(),
            comparison.seeds,
            secs(comparison.duration_s),
            secs(comparison.wall_time_s)
        )?;
        write!(io.out, "{}", comparison.table())?;
        for line in report::compare::long_limits(&comparison) {
            writeln!(io.out, "\n! {line}")?;
        }
        writeln!(io.out, "\nwrote {}", report::listing(&dir, &written))?;
    }
    if let Some(exporter) = exporter {
        exporter.linger(args.live.metrics_linger);
    }
    Ok(Exit::Ok)
}
