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
    /// Run shard I of N (from 0) of the seeded schedule: the requests the load balancer gives
    /// to replica I of N (`stampede merge` adds the shards up).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::shard::Shard>,
    /// Wait until this instant (RFC 3339 UTC, e.g. 2026-12-03T14:00:00Z) before sending, so
    /// shards on several machines start together (live targets; the simulator has no wall clock
    /// to meet).
    #[arg(long, value_name = "TIME", value_parser = parse_start_at)]
    pub start_at: Option<StartAt>,
    /// Live Prometheus metrics.
    #[command(flatten)]
    pub live: super::metrics_addr::LiveArgs,
    /// The catalog in force.
    #[command(flatten)]
    pub catalog: stampede_mock::standalone::CatalogArg,
}

/// `--start-at`: the instant, and the text as given.
#[derive(Debug, Clone)]
pub struct StartAt {
    at: std::time::SystemTime,
    text: String,
}

/// The furthest ahead `--start-at` may be: a day.
const START_AT_MAX_AHEAD: Duration = Duration::from_secs(86_400);

fn parse_start_at(s: &str) -> Result<StartAt, String> {
    let at = humantime::parse_rfc3339(s)
        .map_err(|e| format!("{e} (expected an RFC 3339 UTC instant such as 2026-12-03T14:00:00Z)"))?;
    if at.duration_since(std::time::SystemTime::now()).unwrap_or_default() > START_AT_MAX_AHEAD {
        return Err("more than 24 h ahead: expected an instant within the next day".into());
    }
    Ok(StartAt {
        at,
        text: s.to_string(),
    })
}

/// Waits for `--start-at` on a live target; says so when the instant had already passed.
fn wait_for_start(start: &StartAt, live: bool, io: &mut Io<'_>) -> Result<(), CliError> {
    if !live {
        return Ok(());
    }
    match start.at.duration_since(std::time::SystemTime::now()) {
        Ok(wait) => std::thread::sleep(wait),
        Err(late) => writeln!(
            io.err,
            "--start-at {} had passed {} ago: starting now (the merge says how far apart shards started)",
            start.text,
            crate::format::secs(late.duration().as_secs_f64())
        )?,
    }
    Ok(())
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
        shard: args.shard,
        start_at: args.start_at.as_ref().map(|s| s.text.clone()),
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
    let shard = args.shard.map_or("all".to_string(), |s| s.index.to_string());
    let exporter = args.live.start(loaded.scenario.name(), &shard)?;
    if let Some(start) = &args.start_at {
        wait_for_start(start, spec.target().is_live(), io)?;
    }
    let display = (!args.quiet && !args.json).then(|| progress::Display::start(progress.clone(), &spec));
    let interrupts = progress::watch_interrupts(progress.clone());
    let live = exporter.as_ref().map(|e| e.metrics());
    let result = crate::run::execute_watched(&spec, progress.clone(), None, live);
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
    if let Some(exporter) = exporter {
        exporter.linger(args.live.metrics_linger);
    }
    match (args.shard, &summary.slo) {
        // A shard's share is not the run: the objectives are the merge's to judge.
        (Some(shard), Some(v)) if !v.pass && summary.run.stopped_early.is_none() => {
            writeln!(
                io.err,
                "shard {shard}: this shard's own figures miss an objective; the run's verdict is `stampede merge`'s"
            )?;
            Ok(Exit::Ok)
        }
        _ => verdict(&summary, io),
    }
}

/// The exit of a run (or a merge of shards): stopped early, an objective missed, or ok.
pub(super) fn verdict(summary: &crate::summary::Summary, io: &mut Io<'_>) -> Outcome {
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
