//! The command line. The only module that knows about terminals, exit codes and where files go.
//!
//! Exit codes: 0 ok · 1 an SLO or gate failed · 2 bad input (command line, scenario, summary) ·
//! 3 the run could not be carried out (target unreachable, interrupted).

mod progress;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::engine::Progress;
use crate::report;
use crate::run::{self, RunError};
use crate::run_spec::{RunOptions, RunSpec};
use crate::scenario::{Scenario, TargetKind};
use crate::summary::{Summary, SCHEMA};

/// Exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success.
    Ok = 0,
    /// An SLO or gate failed.
    Gate = 1,
    /// Bad input.
    Input = 2,
    /// The run could not be carried out.
    Failed = 3,
}

/// Load testing and capacity planning for LLM APIs (Gemini first).
#[derive(Debug, Parser)]
#[command(name = "stampede", version, about, long_about = None)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario once: prints a summary and writes summary.json, summary.md,
    /// timeseries.csv and report.html.
    Run(RunArgs),
    /// Serve the Gemini-compatible mock on 127.0.0.1.
    Mock(stampede_mock::standalone::MockArgs),
    /// Re-render summary.md, timeseries.csv and report.html from a saved summary.json.
    Report(ReportArgs),
    /// Check a scenario file without running it.
    Validate(ValidateArgs),
    /// Show the arrival profile and request mix a scenario would send, without sending anything.
    Traffic(TrafficArgs),
    /// Run several strategies on identical traffic and compare them side by side.
    Compare(CompareArgs),
    /// Find the fewest workers that meet the scenario's [slo], per candidate calling plan.
    RunSpec(PlanArgs),
    /// Compare two saved runs (summary.json) metric by metric; exit 1 on a regression.
    Diff(DiffArgs),
    /// Measure stampede itself on this machine.
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// `stampede bench`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Simulator speed: Poisson arrivals, 16 workers, an RPM quota, exponential retries.
    Sim {
        /// Requests per second of simulated traffic.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// Simulated traffic window.
        #[arg(long, default_value = "1h", value_parser = parse_duration)]
        duration: Duration,
    },
    /// Mock HTTP throughput (zero latency) against a bare axum hello-world, same load generator.
    Mock {
        /// Concurrent connections of the load generator.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Length of each measurement.
        #[arg(long, default_value = "2s", value_parser = parse_duration)]
        duration: Duration,
        /// Measurements of each server, alternating.
        #[arg(long, default_value_t = 10)]
        rounds: usize,
    },
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (expected a duration such as 30s or 2m)"))
}

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
}

fn parse_usd(s: &str) -> Result<f64, String> {
    match s.trim_start_matches('$').parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("expected an amount in USD such as 2.50, got {s:?}")),
    }
}

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

/// `stampede plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Scenario file (TOML) with an [slo] section.
    pub scenario: PathBuf,
    /// A candidate: a strategy file or `preset:NAME`; repeat for each. Without any, the
    /// scenario's [[strategies]], or else its [strategy].
    #[arg(long = "strategy")]
    pub strategies: Vec<String>,
    /// Seeds per worker count: a count passes only when every seed's run meets the SLO.
    #[arg(long, default_value_t = 3)]
    pub seeds: u32,
    /// Largest worker count tried.
    #[arg(long, default_value_t = 4096)]
    pub max_workers: u32,
    /// Traffic growth factors to check the best plan against, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1.5,2,5", value_parser = parse_growth)]
    pub growth: Vec<f64>,
    /// Skip the growth what-ifs.
    #[arg(long)]
    pub no_growth: bool,
    /// How long to run the best plan over real HTTP (against the mock in another process) to
    /// measure the client's memory and CPU for "what to buy".
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub probe: Duration,
    /// Skip the hosting probe.
    #[arg(long)]
    pub no_probe: bool,
    /// The executable that serves the probe's mock (default: this one).
    #[arg(long, hide = true)]
    pub mock_exe: Option<PathBuf>,
    /// Target, traffic window and output folder.
    #[command(flatten)]
    pub runs: ManyRunArgs,
    /// Print plan.json instead of the table.
    #[arg(long)]
    pub json: bool,
}

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

/// What `compare` and `plan` share: where their many runs go and for how long.
#[derive(Debug, Args)]
pub struct ManyRunArgs {
    /// Target instead of the scenario's (`plan` uses sim unless told otherwise).
    #[arg(long, value_parser = target_kind())]
    pub target: Option<TargetKind>,
    /// Traffic window instead of the scenario's.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Output folder [default: reports/<scenario name>/].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Spend cap in USD for all the runs together against a billed API [default: the
    /// scenario's, else $1].
    #[arg(long, value_parser = parse_usd)]
    pub max_cost_usd: Option<f64>,
}

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

/// `stampede traffic`.
#[derive(Debug, Args)]
pub struct TrafficArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Seed instead of the scenario's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Traffic window instead of the scenario's.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
}

/// `stampede validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
}

/// Parses `args` and runs the command, writing to `out` and `err`; returns the exit code.
pub fn main_with(args: impl IntoIterator<Item = OsString>, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { Exit::Input } else { Exit::Ok };
            let text = e.render().to_string();
            let _ = if e.use_stderr() {
                write!(err, "{text}")
            } else {
                write!(out, "{text}")
            };
            return code as i32;
        }
    };
    let code = match cli.command {
        Command::Run(a) => run_command(a, out, err),
        Command::Mock(a) => mock_command(a, err),
        Command::Report(a) => report_command(a, out, err),
        Command::Validate(a) => validate_command(a, out, err),
        Command::Traffic(a) => traffic_command(a, out, err),
        Command::Compare(a) => compare_command(a, out, err),
        Command::RunSpec(a) => plan_command(a, out, err),
        Command::Diff(a) => diff_command(a, out, err),
        Command::Bench(b) => bench_command(b, out),
    };
    code as i32
}

/// Prints why a run could not be made and picks its exit code.
fn run_failed(e: RunError, err: &mut dyn Write) -> Exit {
    let (RunError::Input(m) | RunError::Failed(m)) = &e;
    let _ = writeln!(err, "error: {m}");
    match e {
        RunError::Input(_) => Exit::Input,
        RunError::Failed(_) => Exit::Failed,
    }
}

fn run_command(args: RunArgs, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let loaded = match Scenario::load(&args.scenario) {
        Ok(l) => l,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return Exit::Input;
        }
    };
    let options = RunOptions {
        target: args.target,
        base_url: args.base_url.clone(),
        seed: args.seed,
        duration: args.duration,
        max_requests: args.max_requests,
    };
    let mut plan = RunSpec::new(&loaded, &options);
    plan.spend_cap = crate::spend::cap(&plan, args.max_cost_usd);
    if let Err(exit) = spend_guard(&plan, args.dry_run, out, err) {
        return exit;
    }
    let progress = Arc::new(Progress::default());
    let display = (!args.quiet && !args.json).then(|| progress::Display::start(progress.clone(), &plan));
    let interrupts = progress::watch_interrupts(progress.clone());
    let result = run::execute(&plan, progress.clone(), None);
    drop(interrupts);
    if let Some(d) = display {
        d.finish();
    }
    let summary = match result {
        Ok(s) => s,
        Err(e) => return run_failed(e, err),
    };
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(loaded.scenario.name()));
    let written = match report::write_all(&summary, &dir) {
        Ok(written) => written,
        Err(e) => {
            let _ = writeln!(err, "error: could not write the report to {}: {e}", dir.display());
            return Exit::Failed;
        }
    };
    if args.json {
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&summary).unwrap_or_default());
    } else {
        let _ = write!(out, "{}", report::text::table(&summary));
        let _ = writeln!(out, "\nwrote {}", report::listing(&dir, &written));
    }
    if args.png && !write_pngs(&summary, &dir, args.json, out, err) {
        return Exit::Failed;
    }
    if let Some(why) = &summary.run.stopped_early {
        let _ = writeln!(
            err,
            "the run stopped early ({why}); the report covers what was scheduled until then"
        );
        return Exit::Failed;
    }
    match &summary.slo {
        Some(v) if !v.pass => {
            let missed: Vec<&str> = v.checks.iter().filter(|c| !c.pass).map(|c| c.name.as_str()).collect();
            let _ = writeln!(err, "SLO missed: {}", missed.join(", "));
            Exit::Gate
        }
        _ => Exit::Ok,
    }
}

/// Refuses a command of `runs` runs against a billed API whose estimate, all runs together, is
/// above the cap (`cli`, else the scenario's, else the default); prints the estimate first.
fn many_runs_guard(
    loaded: &crate::scenario::LoadedScenario,
    options: &RunOptions,
    runs: u64,
    cli: Option<f64>,
    err: &mut dyn Write,
) -> Result<(), Exit> {
    let plan = RunSpec::new(loaded, options);
    if !crate::spend::billed(&plan) {
        return Ok(());
    }
    let cap = crate::spend::cap(&plan, cli).unwrap_or(crate::spend::DEFAULT_CAP_USD);
    let estimate = crate::spend::estimate(&plan);
    let _ = writeln!(
        err,
        "estimate (billed target {}, {runs} runs, cap ${cap:.2} for all of them): per run {}",
        plan.target.as_str(),
        estimate.line()
    );
    match crate::spend::refusal(&plan, &estimate, Some(cap), runs) {
        Some(why) => {
            let _ = writeln!(err, "error: refusing to start: {why}");
            Err(Exit::Failed)
        }
        None => Ok(()),
    }
}

/// Prints the estimate for a billed or capped run (and for `--dry-run`); refuses one whose
/// estimate is above its cap. `Err` carries the exit code when the run must not start.
fn spend_guard(plan: &RunSpec<'_>, dry_run: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), Exit> {
    let billed = crate::spend::billed(plan);
    if !(billed || plan.spend_cap.is_some() || dry_run) {
        return Ok(());
    }
    let estimate = crate::spend::estimate(plan);
    let cap = plan.spend_cap.map_or("no cap".to_string(), |c| format!("cap ${c:.2}"));
    let what = if billed {
        "billed target"
    } else {
        "local target, not billed"
    };
    let line = format!("estimate ({what} {}, {cap}): {}", plan.target.as_str(), estimate.line());
    if dry_run {
        let _ = writeln!(
            out,
            "{line}
--dry-run: nothing was sent"
        );
        return Err(Exit::Ok);
    }
    let _ = writeln!(err, "{line}");
    match crate::spend::refusal(plan, &estimate, plan.spend_cap, 1) {
        Some(why) => {
            let _ = writeln!(err, "error: refusing to start: {why}");
            Err(Exit::Failed)
        }
        None => Ok(()),
    }
}

fn mock_command(args: stampede_mock::standalone::MockArgs, err: &mut dyn Write) -> Exit {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return Exit::Failed;
        }
    };
    match runtime.block_on(stampede_mock::standalone::run(args)) {
        Ok(()) => Exit::Ok,
        Err(e) => {
            let _ = writeln!(err, "error: {e:#}");
            if e.downcast_ref::<stampede_mock::profile::ProfileError>().is_some() {
                Exit::Input
            } else {
                Exit::Failed
            }
        }
    }
}

/// Reads a summary.json written by `stampede run`; the error (with file, line and column) is
/// printed and `Exit::Input` returned when it cannot be read.
fn load_summary(path: &Path, err: &mut dyn Write) -> Result<Summary, Exit> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        let _ = writeln!(err, "error: {shown}: {e}");
        Exit::Input
    })?;
    let summary: Summary = serde_json::from_str(&text).map_err(|e| {
        let _ = writeln!(
            err,
            "error: {shown}:{}:{}: not a stampede summary: {e}",
            e.line(),
            e.column()
        );
        Exit::Input
    })?;
    if summary.schema != SCHEMA {
        let _ = writeln!(err, "error: {shown}: schema {:?}, expected {SCHEMA:?}", summary.schema);
        return Err(Exit::Input);
    }
    Ok(summary)
}

fn diff_command(args: DiffArgs, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let mut overrides = Vec::new();
    for t in &args.thresholds {
        let parsed = t
            .split_once('=')
            .ok_or_else(|| format!("{t:?}: expected NAME=VALUE"))
            .and_then(|(name, value)| {
                crate::commands::diff::metric(name.trim())
                    .ok_or_else(|| {
                        let names: Vec<&str> = crate::commands::diff::METRICS.iter().map(|m| m.name).collect();
                        format!("unknown metric {name:?}; expected one of {}", names.join(", "))
                    })
                    .and_then(|m| crate::commands::diff::Threshold::parse(value).map(|v| (m.name.to_string(), v)))
            });
        match parsed {
            Ok(o) => overrides.push(o),
            Err(e) => {
                let _ = writeln!(err, "error: --threshold {e}");
                return Exit::Input;
            }
        }
    }
    let (baseline, current) = match (load_summary(&args.baseline, err), load_summary(&args.current, err)) {
        (Ok(b), Ok(c)) => (b, c),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let d = crate::commands::diff::diff(&baseline, &current, &overrides);
    let md = d.markdown();
    if args.json {
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&d).unwrap_or_default());
    } else {
        let _ = write!(out, "{md}");
    }
    if let Some(path) = &args.out {
        if let Err(e) = std::fs::write(path, &md) {
            let _ = writeln!(err, "error: could not write {}: {e}", path.display());
            return Exit::Failed;
        }
    }
    if d.regressed() {
        let names: Vec<&str> = d.rows.iter().filter(|r| r.regressed).map(|r| r.metric).collect();
        let _ = writeln!(err, "regression: {}", names.join(", "));
        Exit::Gate
    } else {
        Exit::Ok
    }
}

fn report_command(args: ReportArgs, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let summary = match load_summary(&args.summary, err) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let dir = args
        .out
        .unwrap_or_else(|| args.summary.parent().map(Path::to_path_buf).unwrap_or_default());
    let written = std::fs::create_dir_all(&dir).and_then(|_| report::write_files(&dir, report::rendered(&summary)));
    match written {
        Ok(written) => {
            let _ = writeln!(out, "wrote {}", report::listing(&dir, &written));
        }
        Err(e) => {
            let _ = writeln!(err, "error: could not write to {}: {e}", dir.display());
            return Exit::Failed;
        }
    }
    if args.png && !write_pngs(&summary, &dir, false, out, err) {
        return Exit::Failed;
    }
    Exit::Ok
}

/// `--png`: every chart of the report into `dir/png/`; false (with the error printed) when it
/// could not be done. `quiet` leaves stdout to `--json`.
fn write_pngs(
    summary: &crate::summary::Summary,
    dir: &Path,
    quiet: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> bool {
    let png_dir = dir.join("png");
    match report::png::write_all(&report::charts(summary), &png_dir) {
        Ok(written) => {
            if !quiet {
                let _ = writeln!(out, "wrote {} charts to {}/", written.len(), png_dir.display());
            }
            true
        }
        Err(e) => {
            let _ = writeln!(err, "error: PNG export: {e}");
            false
        }
    }
}

fn parse_growth(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|g| g.is_finite() && *g > 0.0 && *g <= 100.0)
        .ok_or_else(|| format!("{s:?}: expected a growth factor such as 1.5 (above 0, at most 100)"))
}

/// Writes a command's outputs into `--out` (default `reports/<scenario name>/`); returns the
/// folder and the files written, or prints the error.
fn write_outputs(
    out: Option<PathBuf>,
    loaded: &crate::scenario::LoadedScenario,
    write: impl FnOnce(&Path) -> std::io::Result<Vec<PathBuf>>,
    err: &mut dyn Write,
) -> Result<(PathBuf, Vec<PathBuf>), Exit> {
    let dir = out.unwrap_or_else(|| Path::new("reports").join(loaded.scenario.name()));
    match write(&dir) {
        Ok(written) => Ok((dir, written)),
        Err(e) => {
            let _ = writeln!(err, "error: could not write to {}: {e}", dir.display());
            Err(Exit::Failed)
        }
    }
}

/// The strategies named by `--strategy` arguments, or else the scenario's [[strategies]];
/// errors are printed and `Exit::Input` returned.
fn candidates_of(
    args: &[String],
    loaded: &crate::scenario::LoadedScenario,
    err: &mut dyn Write,
) -> Result<Vec<crate::scenario::Candidate>, Exit> {
    loaded.candidates_for(args).map_err(|e| {
        let _ = writeln!(err, "error: {e}");
        Exit::Input
    })
}

fn plan_command(args: PlanArgs, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let loaded = match Scenario::load(&args.scenario) {
        Ok(l) => l,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return Exit::Input;
        }
    };
    let mut candidates = match candidates_of(&args.strategies, &loaded, err) {
        Ok(c) => c,
        Err(e) => return e,
    };
    if candidates.is_empty() {
        candidates.push(crate::scenario::Candidate {
            name: "as configured".into(),
            strategy: loaded.scenario.strategy.get_ref().clone(),
        });
    }
    let target = args.runs.target.unwrap_or(TargetKind::Sim);
    if matches!(target, TargetKind::Gemini | TargetKind::Openai) {
        // A search is dozens of runs whose number is not known in advance.
        let probe = RunSpec::new(
            &loaded,
            &RunOptions {
                target: Some(target),
                ..RunOptions::default()
            },
        );
        if crate::spend::billed(&probe) {
            let _ = writeln!(
                err,
                "error: plan searches with dozens of runs and will not do that against a billed API; plan in sim (the \
                 default) or against the mock, then check the recommendation with one `stampede run`"
            );
            return Exit::Input;
        }
    }
    let options = crate::commands::plan::PlanOptions {
        run: RunOptions {
            // Sim unless asked: a search takes dozens of runs.
            target: Some(target),
            duration: args.runs.duration,
            ..RunOptions::default()
        },
        seeds: args.seeds,
        max_workers: args.max_workers,
        candidates,
        growth: if args.no_growth { Vec::new() } else { args.growth },
        probe: match (
            args.no_probe,
            args.mock_exe.clone().or_else(|| std::env::current_exe().ok()),
        ) {
            (false, Some(mock_exe)) => Some(crate::commands::hosting::ProbeOptions {
                mock_exe,
                duration: args.probe,
                seed: loaded.scenario.seed,
            }),
            _ => None,
        },
    };
    let plan = match crate::commands::plan::plan(&loaded, &options) {
        Ok(p) => p,
        Err(e) => return run_failed(e, err),
    };
    let (dir, written) = match write_outputs(
        args.runs.out.clone(),
        &loaded,
        |d| report::plan::write_all(&plan, d),
        err,
    ) {
        Ok(w) => w,
        Err(e) => return e,
    };
    if args.json {
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&plan).unwrap_or_default());
    } else {
        let _ = write!(out, "{}", report::plan::markdown(&plan));
        let _ = writeln!(out, "\nwrote {}", report::listing(&dir, &written));
    }
    if plan.best.is_some() {
        Exit::Ok
    } else {
        let _ = writeln!(
            err,
            "no candidate met the objectives up to {} workers",
            args.max_workers
        );
        Exit::Gate
    }
}

fn compare_command(args: CompareArgs, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let loaded = match Scenario::load(&args.scenario) {
        Ok(l) => l,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return Exit::Input;
        }
    };
    let candidates = match candidates_of(&args.strategies, &loaded, err) {
        Ok(c) => c,
        Err(e) => return e,
    };
    if candidates.len() < 2 {
        let _ = writeln!(
            err,
            "error: compare needs at least two strategies: --strategy FILE or --strategy preset:NAME (presets: {}), or [[strategies]] in the scenario",
            crate::strategy::presets::names().join(", ")
        );
        return Exit::Input;
    }
    let options = RunOptions {
        target: args.runs.target,
        duration: args.runs.duration,
        ..RunOptions::default()
    };
    let runs = candidates.len() as u64 * u64::from(args.seeds.max(1));
    if let Err(exit) = many_runs_guard(&loaded, &options, runs, args.runs.max_cost_usd, err) {
        return exit;
    }
    // Live runs take real time: say as each one ends.
    let live = options.target.unwrap_or(loaded.scenario.target.get_ref().kind) != TargetKind::Sim;
    let quiet = args.json || !live;
    let finished = move |name: &str, seed: u64, r: &Result<crate::summary::Summary, RunError>| {
        if !quiet {
            match r {
                Ok(s) => eprintln!(
                    "  {name} (seed {seed}): {} scheduled, {} answered, {} of wall time",
                    s.requests.scheduled,
                    s.requests.succeeded,
                    crate::format::secs(s.run.wall_time_s)
                ),
                Err(e) => eprintln!("  {name} (seed {seed}): {e}"),
            }
        }
    };
    let comparison = match crate::commands::compare::compare(&loaded, &candidates, &options, args.seeds, &finished) {
        Ok(c) => c,
        Err(e) => return run_failed(e, err),
    };
    let (dir, written) = match write_outputs(
        args.runs.out.clone(),
        &loaded,
        |d| report::compare::write_all(&comparison, d),
        err,
    ) {
        Ok(w) => w,
        Err(e) => return e,
    };
    if args.json {
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&comparison).unwrap_or_default());
    } else {
        let _ = writeln!(
            out,
            "stampede compare · {} · {} strategies · seeds {:?} · {} of traffic each · {} of wall time\n",
            comparison.scenario,
            comparison.strategies.len(),
            comparison.seeds,
            crate::format::secs(comparison.duration_s),
            crate::format::secs(comparison.wall_time_s)
        );
        let _ = write!(out, "{}", comparison.table());
        let _ = writeln!(out, "\nwrote {}", report::listing(&dir, &written));
    }
    Exit::Ok
}

fn traffic_command(args: TrafficArgs, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let loaded = match Scenario::load(&args.scenario) {
        Ok(l) => l,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return Exit::Input;
        }
    };
    let s = &loaded.scenario;
    let seed = args.seed.unwrap_or(s.seed);
    let window = args.duration.unwrap_or(s.duration);
    let _ = writeln!(
        out,
        "{}: {} traffic over {} (seed {seed}), nothing sent",
        args.scenario.display(),
        s.traffic.get_ref().arrival.get_ref().name(),
        humantime::format_duration(window)
    );
    if let Some((spec, path, stats)) = &loaded.traffic.trace {
        let _ = writeln!(
            out,
            "trace {}: {} rows ({} in the window, {} bad rows skipped, {} failed requests skipped), speed-up {}, rate scale {}",
            path.display(),
            stats.rows,
            stats.window_rows,
            stats.bad_rows,
            stats.failed_rows,
            spec.speedup,
            spec.rate_scale
        );
    }
    match crate::traffic::preview::preview(&loaded.traffic, seed, window) {
        Some(p) => {
            let _ = write!(out, "{}", p.text());
        }
        None => {
            let t = s.traffic.get_ref();
            let _ = writeln!(
                out,
                "closed loop: {} users; each sends its next request after its answer and a think time, so the rate depends on latency — run it with --target sim to see it",
                t.users.as_ref().map_or(0, |u| *u.get_ref())
            );
        }
    }
    Exit::Ok
}

fn validate_command(args: ValidateArgs, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    match Scenario::load(&args.scenario) {
        Ok(l) => {
            let s = &l.scenario;
            let t = s.target.get_ref();
            let st = s.strategy.get_ref();
            let _ = writeln!(
                out,
                "{}: valid — {} of traffic, target {} ({}), {} workers, up to {} attempts per request",
                args.scenario.display(),
                humantime::format_duration(s.duration),
                t.kind.as_str(),
                t.model,
                st.workers,
                st.retry.max_attempts
            );
            Exit::Ok
        }
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            Exit::Input
        }
    }
}

fn bench_command(command: BenchCommand, out: &mut dyn Write) -> Exit {
    match command {
        BenchCommand::Sim { rate, duration } => {
            let b = crate::commands::bench::sim(rate, duration);
            let s = &b.summary;
            let _ = writeln!(
                out,
                "bench sim: {} requests ({} attempts, {} retries, {} 429s) over {} simulated\n\
                 wall time        {:.3} s\n\
                 simulated req/s  {:.0} per wall-clock second\n\
                 speed-up         {:.0} simulated seconds per wall-clock second\n\
                 peak RSS         {}",
                s.requests.scheduled,
                s.attempts.total,
                s.attempts.retries,
                s.attempts.status_429,
                crate::format::secs(s.run.elapsed_s),
                b.wall.as_secs_f64(),
                b.requests_per_sec(),
                b.speedup(),
                b.peak_rss_mib.map_or("unknown".to_string(), |m| format!("{m:.1} MiB")),
            );
            Exit::Ok
        }
        BenchCommand::Mock {
            connections,
            duration,
            rounds,
        } => bench_mock(connections, duration, rounds, out),
    }
}

fn bench_mock(connections: usize, duration: Duration, rounds: usize, out: &mut dyn Write) -> Exit {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(_) => return Exit::Failed,
    };
    runtime.block_on(async {
        let (Ok(hello), Ok(mock)) = (
            crate::commands::bench::hello_world().await,
            crate::commands::bench::zero_latency_mock().await,
        ) else {
            let _ = writeln!(out, "could not bind 127.0.0.1");
            return Exit::Failed;
        };
        let hello_url = format!("http://{hello}/v1beta/models/gemini-2.5-flash:generateContent");
        let mock_url = format!("http://{mock}/v1beta/models/gemini-2.5-flash:generateContent");
        let body = crate::commands::bench::BENCH_BODY;
        // Warm both up, then alternate so drift on the machine hits both alike.
        crate::commands::bench::http_rate(&hello_url, body, connections, Duration::from_millis(500)).await;
        crate::commands::bench::http_rate(&mock_url, body, connections, Duration::from_millis(500)).await;
        let (mut h, mut m, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 1..=rounds {
            // Alternate which server goes first, so neither always follows the other.
            let (a, b) = if round % 2 == 1 {
                let a = crate::commands::bench::http_rate(&hello_url, body, connections, duration).await;
                (
                    a,
                    crate::commands::bench::http_rate(&mock_url, body, connections, duration).await,
                )
            } else {
                let b = crate::commands::bench::http_rate(&mock_url, body, connections, duration).await;
                (
                    crate::commands::bench::http_rate(&hello_url, body, connections, duration).await,
                    b,
                )
            };
            let _ = writeln!(
                out,
                "round {round:>2}: hello-world {:>6.0} req/s, mock {:>6.0} req/s, ratio {:.2} ({} non-200)",
                a.per_sec,
                b.per_sec,
                b.per_sec / a.per_sec,
                b.failures
            );
            h.push(a.per_sec);
            m.push(b.per_sec);
            ratios.push(b.per_sec / a.per_sec);
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            let n = v.len();
            if n == 0 {
                f64::NAN
            } else if n % 2 == 1 {
                v[n / 2]
            } else {
                (v[n / 2 - 1] + v[n / 2]) / 2.0
            }
        };
        let _ = writeln!(
            out,
            "bench mock ({connections} connections, {rounds} paired rounds of {}): median hello-world {:.0} req/s, \
             median mock {:.0} req/s, median of paired ratios {:.2}",
            humantime::format_duration(duration),
            median(&mut h),
            median(&mut m),
            median(&mut ratios)
        );
        Exit::Ok
    })
}

/// Parses `--target`, listing the kinds in `--help`.
fn target_kind() -> impl clap::builder::TypedValueParser<Value = TargetKind> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(TargetKind::ALL.map(TargetKind::as_str))
        .map(|s| s.parse::<TargetKind>().expect("a listed kind"))
}

/// Used by `main`: runs with the process's arguments and streams.
pub fn main() -> i32 {
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    main_with(std::env::args_os(), &mut out, &mut err)
}
