//! `stampede compare`: several strategies on identical traffic, side by side.

use std::path::PathBuf;
use std::sync::Mutex;

use clap::Args;

use super::{candidates_of, out_dir, ready_out_dir, write_outputs, CliError, Exit, Io, ManyRunArgs, Outcome};
use crate::format::secs;
use crate::report;
use crate::run::RunError;
use crate::run_spec::{RunOptions, RunSpec};
use crate::scenario::{LoadedScenario, Scenario};
use crate::spend;
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
    let options = RunOptions {
        target: args.runs.target,
        duration: args.runs.duration,
        ..RunOptions::default()
    };
    let runs = candidates.len() as u64 * u64::from(args.seeds.max(1));
    many_runs_guard(&loaded, &options, runs, args.runs.max_cost_usd, io)?;
    let dir = out_dir(args.runs.out.clone(), &loaded);
    ready_out_dir(&dir)?;
    // Live runs take real time: say as each one ends.
    let live = options
        .target
        .unwrap_or(loaded.scenario.target.get_ref().kind)
        .is_live();
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
    let comparison = crate::commands::compare::compare(&loaded, &candidates, &options, args.seeds, &finished)?;
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
    Ok(Exit::Ok)
}

/// Refuses a command of `runs` runs against a billed API whose estimate, all runs together, is
/// above the cap (`cli`, else the scenario's, else the default); prints the estimate first.
fn many_runs_guard(
    loaded: &LoadedScenario,
    options: &RunOptions,
    runs: u64,
    cli: Option<f64>,
    io: &mut Io<'_>,
) -> Result<(), CliError> {
    let spec = RunSpec::new(loaded, options);
    if !spend::billed(&spec) {
        return Ok(());
    }
    let cap = spend::cap(&spec, cli).unwrap_or(spend::DEFAULT_CAP_USD);
    let estimate = spend::estimate(&spec);
    writeln!(
        io.err,
        "estimate (billed target {}, {runs} runs, cap ${cap:.2} for all of them): per run {}",
        spec.target.as_str(),
        estimate.line()
    )?;
    match spend::refusal(&spec, &estimate, Some(cap), runs) {
        Some(why) => Err(CliError::Failed(format!("refusing to start: {why}"))),
        None => Ok(()),
    }
}
