//! The command line: one file per command, each parsing its arguments, calling the library
//! and printing the result. The only module that knows about terminals, exit codes and where
//! files go; anything a library user would want lives below it.
//!
//! Exit codes ([`Exit`]): 0 ok · 1 an SLO or gate failed · 2 bad input (command line, scenario,
//! summary) · 3 the run could not be carried out (target unreachable, interrupted, spend cap).

mod bench;
mod calibrate;
mod catalog;
mod compare;
mod diff;
mod docs;
mod error;
mod merge;
mod metrics_addr;
mod mock;
mod plan;
mod progress;
mod proxy;
mod report;
mod run;
mod traffic;
mod validate;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

pub use bench::BenchCommand;
pub use catalog::CatalogArgs;
pub use compare::CompareArgs;
pub use diff::DiffArgs;
pub use docs::{completion_script, man_page, write_man_pages};
pub use error::{CliError, Exit, Outcome};
pub use plan::PlanArgs;
pub use report::ReportArgs;
pub use run::RunArgs;
pub use traffic::TrafficArgs;
pub use validate::ValidateArgs;

use crate::out_file::OutLock;
use crate::scenario::{Candidate, LoadedScenario, TargetKind};
use crate::summary::{Summary, SCHEMA};

/// Load testing and capacity planning for LLM APIs (Gemini first).
#[derive(Debug, Parser)]
#[command(name = "stampede", version, about, long_about = None)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands; each line below is its `--help` summary.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario once: prints a summary and writes summary.json, summary.md,
    /// timeseries.csv, report.html and latency.hlog.
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),
    /// Serve the Gemini-compatible mock on 127.0.0.1.
    #[command(after_help = MOCK_HELP)]
    Mock(stampede_mock::standalone::MockArgs),
    /// Re-render summary.md, timeseries.csv, report.html and latency.hlog from a saved
    /// summary.json.
    #[command(after_help = REPORT_HELP)]
    Report(ReportArgs),
    /// Check a scenario file without running it.
    #[command(after_help = VALIDATE_HELP)]
    Validate(ValidateArgs),
    /// Show the arrival profile and request mix a scenario would send, without sending anything.
    #[command(after_help = VALIDATE_HELP)]
    Traffic(TrafficArgs),
    /// Run several strategies on identical traffic and compare them side by side.
    #[command(after_help = COMPARE_HELP)]
    Compare(CompareArgs),
    /// Find the fewest workers that meet the scenario's [slo], per candidate calling plan.
    #[command(after_help = PLAN_HELP)]
    Plan(PlanArgs),
    /// Forward an application's calls to Gemini (or the mock), record them as a replayable
    /// trace, and optionally inject 429s, 503s and latency.
    #[command(after_help = PROXY_HELP)]
    Proxy(proxy::ProxyArgs),
    /// Fit a mock profile (latency vs input, decode speed, answer lengths, errors, quotas, token
    /// density) to recordings of real calls, with goodness of fit.
    #[command(after_help = CALIBRATE_HELP)]
    Calibrate(calibrate::CalibrateArgs),
    /// Merge the summaries of a run's shards (`run --shard I/N`) into the run's reports.
    #[command(after_help = MERGE_HELP)]
    Merge(merge::MergeArgs),
    /// Compare two saved runs (summary.json) metric by metric; exit 1 on a regression.
    #[command(after_help = DIFF_HELP)]
    Diff(DiffArgs),
    /// Measure stampede itself on this machine.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Print the model catalog in force: models, prices, tier presets' limits and caps, and where
    /// and when each figure was read.
    #[command(
        after_help = "Writes nothing.\n\nExit codes: 0 printed · 2 --file cannot be read or is invalid. `catalog check`: 0 agrees · 1 differs · 2 bad input · 3 the API could not be read."
    )]
    Catalog(CatalogArgs),
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `stampede man > /usr/local/share/man/man1/stampede.1`.
    Man,
}

const PROXY_HELP: &str = "Writes only the --record file: one JSON line per generate call (stampede's trace \
format: replay it with arrival = \"trace\", format = \"jsonl\"; fit a profile with `stampede calibrate`). Keys, \
headers and prompt text are never written (prompts only with --record-prompts).\n\n\
Exit codes: 0 stopped with Ctrl-C · 2 bad input (upstream URL, shares) · 3 the port cannot be bound.";

const CALIBRATE_HELP: &str = "Writes --out (the profile, TOML, with comments saying what each figure rests on), \
and beside it FILE.calibration.json (every fit with its goodness of fit) and FILE.calibration.html (measured and \
fitted distributions overlaid). Use the profile with `stampede mock --profile FILE` or `profile = \"FILE\"` in a \
scenario's [target]; docs/src/calibrate.md walks the loop.\n\n\
Exit codes: 0 written · 2 bad input (a line that is not a trace line, no answered calls, unknown preset) · 3 a file \
cannot be written.";

const RUN_HELP: &str = concat!(
    "Writes into --out (default reports/<scenario>/): summary.json (every figure, histograms, series, advice), \
summary.md, timeseries.csv (one row per second), report.html (one self-contained page) and latency.hlog \
(HdrHistogram interval log); --png adds one PNG per chart.\n\n",
    "Exit codes: 0 every [slo] objective met (or none set) · 1 an objective missed · 2 bad input (command line, \
scenario) · 3 the run could not be carried out (target unreachable, spend cap, interrupted; the partial report \
is still written).\n\n",
    "Terms: intended start = when the schedule meant a request to start (latency counts from it, so a client that \
falls behind cannot hide it); schedule lag = intended start to the engine taking the request in; goodput = \
answered requests per second. More: docs/src/glossary.md."
);
const REPORT_HELP: &str = "Writes summary.md, timeseries.csv, report.html and latency.hlog beside the summary (or \
into --out); --png adds one PNG per chart.\n\nExit codes: 0 written · 2 the summary cannot be read (file, line, \
column) · 3 the files could not be written.";
const MOCK_HELP: &str = "Serves until Ctrl-C; writes nothing unless --request-log FILE.\n\nExit codes: 0 stopped \
with Ctrl-C · 2 bad profile · 3 the port cannot be bound.";
const VALIDATE_HELP: &str = "Writes nothing and sends nothing.\n\nExit codes: 0 valid · 2 invalid (file, line, \
column, what was expected).";
const COMPARE_HELP: &str = "Writes into --out: compare.json, compare.md and compare.html.\n\nExit codes: 0 compared \
· 2 bad input · 3 a run could not be carried out (target unreachable, spend cap).";
const PLAN_HELP: &str = concat!(
    "Writes into --out: plan.json (with `recommendation`, or `closest` when nothing passes), plan.md and \
plan.html. Runs in simulation unless --target says otherwise.\n\n",
    "Exit codes: 0 a plan passes · 1 no plan passes (an objective, the daily quota or the monthly spend cap) · 2 bad \
input · 3 a run could not be carried out.\n\n",
    "Terms: erlangs = offered load, arrival rate x time each request holds a worker; knee = the worker count past \
which more workers stop raising goodput or cutting p95. More: docs/src/glossary.md."
);
const MERGE_HELP: &str = "Writes into --out what `run` writes (summary.json, summary.md, timeseries.csv, \
report.html, latency.hlog), for the shards added up: counters add, HDR histograms add exactly, per-second series add \
on the shards' common start.\n\nExit codes: 0 every [slo] objective met · 1 an objective missed or a shard stopped \
early · 2 bad input (not a shard's summary, shards of different runs, a shard missing or given twice) · 3 the files \
could not be written.";
const DIFF_HELP: &str = "Prints a Markdown table (--out FILE also writes it; --json prints JSON).\n\nExit codes: 0 no \
regression · 1 a metric regressed beyond its threshold · 2 a summary cannot be read or a --threshold is bad.";

/// Where a command writes: standard output for results, standard error for everything else.
/// `Send`, so runs on other threads can report as they end.
pub struct Io<'a> {
    /// Results: tables, JSON, the files written.
    pub out: &'a mut (dyn Write + Send),
    /// Estimates, progress notes, verdicts, errors.
    pub err: &'a mut (dyn Write + Send),
}

/// Parses `args` and runs the command, writing to `out` and `err`; returns the exit code.
pub fn main_with(
    args: impl IntoIterator<Item = OsString>,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with exit 0; usage errors to stderr with exit 2.
            return if e.use_stderr() {
                let _ = write!(err, "{}", e.render());
                Exit::Input as i32
            } else {
                let _ = write!(out, "{}", e.render());
                Exit::Ok as i32
            };
        }
    };
    let mut io = Io { out, err };
    let catalog = match &cli.command {
        Command::Run(a) => Some(&a.catalog),
        Command::Validate(a) => Some(&a.catalog),
        Command::Compare(a) => Some(&a.runs.catalog),
        Command::Plan(a) => Some(&a.runs.catalog),
        Command::Mock(a) => Some(&a.catalog),
        _ => None,
    };
    if let Err(e) = catalog.map_or(Ok(()), |c| c.install()) {
        let _ = writeln!(io.err, "error: --catalog: {e}");
        return Exit::Input as i32;
    }
    let outcome = match cli.command {
        Command::Run(a) => run::run(a, &mut io),
        Command::Catalog(a) => catalog::catalog(a, &mut io),
        Command::Mock(a) => mock::mock(a),
        Command::Report(a) => report::report(a, &mut io),
        Command::Validate(a) => validate::validate(a, &mut io),
        Command::Traffic(a) => traffic::traffic(a, &mut io),
        Command::Compare(a) => compare::compare(a, &mut io),
        Command::Plan(a) => plan::plan(a, &mut io),
        Command::Diff(a) => diff::diff(a, &mut io),
        Command::Merge(a) => merge::merge(a, &mut io),
        Command::Proxy(a) => proxy::proxy(a, &mut io),
        Command::Calibrate(a) => calibrate::calibrate(a, &mut io),
        Command::Bench(b) => bench::bench(b, &mut io),
        Command::Completions { shell } => docs::completions(shell, &mut io),
        Command::Man => docs::man(&mut io),
    };
    match outcome {
        Ok(exit) => exit as i32,
        Err(e) => {
            let _ = writeln!(io.err, "error: {e}");
            e.exit() as i32
        }
    }
}

/// Used by `main`: runs with the process's arguments and streams.
pub fn main() -> i32 {
    main_with(std::env::args_os(), &mut std::io::stdout(), &mut std::io::stderr())
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
    /// The catalog in force.
    #[command(flatten)]
    pub catalog: stampede_mock::standalone::CatalogArg,
}

/// Parses a duration argument such as `30s` or `2m`: above zero and at most the longest
/// traffic window, as in a scenario file.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (expected a duration such as 30s or 2m)"))?;
    crate::scenario::check_duration(d)?;
    Ok(d)
}

/// Makes sure results can be written to `dir` before any request is sent: creates it and locks
/// it for this process (the lock file is the write check), so a second command writing into
/// the same folder at once is refused (exit 2, naming the holder's pid) instead of mixing its
/// files with ours. A run's results are never lost to a bad `--out`.
fn ready_out_dir(dir: &Path) -> Result<OutLock, CliError> {
    let cannot = |e: &dyn std::fmt::Display| {
        CliError::Input(format!(
            "cannot write results to {}: {e}; nothing was sent (choose another --out)",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(|e| cannot(&e))?;
    OutLock::acquire(dir).map_err(|e| match e {
        crate::out_file::LockError::Io { source, .. } => cannot(&source),
        busy => CliError::Input(format!("{busy}; nothing was sent")),
    })
}

/// The output folder: `--out`, else `reports/<scenario name>/`.
fn out_dir(out: Option<PathBuf>, loaded: &LoadedScenario) -> PathBuf {
    out.unwrap_or_else(|| Path::new("reports").join(loaded.scenario.name()))
}

/// Parses an amount in USD (`2.50` or `$2.50`), never negative.
fn parse_usd(s: &str) -> Result<f64, String> {
    let v = s.trim_start_matches('$').parse::<f64>().map_err(|_| {
        format!(
            "expected an amount in USD such as 2.50, got {:?}",
            crate::spec_error::shown(s)
        )
    })?;
    stampede_mock::ranges::USD.check("--max-cost-usd", v)
}

/// Parses `--target`, listing the kinds in `--help`.
fn target_kind() -> impl clap::builder::TypedValueParser<Value = TargetKind> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(TargetKind::ALL.map(TargetKind::as_str))
        .map(|s| s.parse::<TargetKind>().expect("a listed kind"))
}

/// Reads a summary.json written by `stampede run`; the error names the file, line and column.
fn load_summary(path: &Path) -> Result<Summary, CliError> {
    let shown = path.display().to_string();
    let text = stampede_mock::input_file::read_to_string(path, stampede_mock::input_file::InputKind::Summary)
        .map_err(|e| CliError::Input(e.to_string()))?;
    let summary: Summary = serde_json::from_str(&text).map_err(|e| {
        CliError::Input(format!(
            "{shown}:{}:{}: not a stampede summary: {e}",
            e.line(),
            e.column()
        ))
    })?;
    if summary.schema != SCHEMA {
        return Err(CliError::Input(format!(
            "{shown}: schema {:?}, expected {SCHEMA:?}",
            crate::spec_error::shown(&summary.schema)
        )));
    }
    summary
        .check_histograms()
        .and_then(|()| summary.check_figures())
        .map_err(|e| CliError::Input(format!("{shown}: {e}")))?;
    Ok(summary)
}

/// Writes a command's outputs into `dir`; returns the folder and the files written. When `dir`
/// fails after all (it was checked before the run), the outputs go to a fresh temporary folder,
/// and the message says where, so the work is not lost.
fn write_outputs(
    dir: PathBuf,
    write: impl Fn(&Path) -> std::io::Result<Vec<PathBuf>>,
    io: &mut Io<'_>,
) -> Result<(PathBuf, Vec<PathBuf>), CliError> {
    match write(&dir) {
        Ok(written) => Ok((dir, written)),
        Err(e) => {
            let fallback = fallback_dir()?;
            let written = write(&fallback).map_err(|e2| {
                CliError::Failed(format!(
                    "could not write to {} ({e}) nor to {} ({e2})",
                    dir.display(),
                    fallback.display()
                ))
            })?;
            writeln!(
                io.err,
                "could not write to {} ({e}); the results are in {} instead",
                dir.display(),
                fallback.display()
            )?;
            Ok((fallback, written))
        }
    }
}

/// A fresh folder under the system's temporary folder, for results that could not go where
/// they were asked to.
fn fallback_dir() -> Result<PathBuf, CliError> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("stampede-results-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| CliError::Failed(format!("{}: {e}", dir.display())))?;
    Ok(dir)
}

/// The strategies named by `--strategy` arguments, or else the scenario's [[strategies]].
fn candidates_of(args: &[String], loaded: &LoadedScenario) -> Result<Vec<Candidate>, CliError> {
    loaded.candidates_for(args).map_err(CliError::Input)
}
