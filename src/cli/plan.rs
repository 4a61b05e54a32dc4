//! `stampede plan`: the fewest workers that meet the `[slo]`, per candidate calling plan.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{
    candidates_of, out_dir, parse_duration, ready_out_dir, write_outputs, CliError, Exit, Io, ManyRunArgs, Outcome,
};
use crate::commands::hosting::ProbeOptions;
use crate::commands::plan::emit::{self, Language};
use crate::commands::plan::{PlanOptions, PlanProgress, SearchOptions, SeedBudget};
use crate::prepare::{Prepared, Purpose, RunOptions};
use crate::report;
use crate::scenario::{Candidate, Scenario, TargetKind};

/// `stampede plan`. Its searches never run against a billed API, so the spend cap shared with
/// `compare` is hidden here and refused if given.
#[derive(Debug, Args)]
#[command(mut_arg("max_cost_usd", |a| a.hide(true)))]
pub struct PlanArgs {
    /// Scenario file (TOML) with an [slo] section.
    pub scenario: PathBuf,
    /// A candidate: a strategy file or `preset:NAME`; repeat for each. Without any, the
    /// scenario's [[strategies]], or else its [strategy].
    #[arg(long = "strategy")]
    pub strategies: Vec<String>,
    /// Seeds every worker count starts with (5 to 1000). A count passes when every objective's
    /// 95% interval over the seeds is on its passing side; while one straddles its target,
    /// more seeds are run, up to --max-seeds.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(5..=1000))]
    pub seeds: u32,
    /// The most seeds a worker count may use before it is reported undecided (at least --seeds,
    /// at most 1000).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(5..=1000))]
    pub max_seeds: u32,
    /// Largest worker count tried.
    #[arg(long, default_value_t = 4096, conflicts_with = "workers")]
    pub max_workers: u32,
    /// The worker counts to search, as `A..B` (1 ≤ A ≤ B ≤ 100000): the plan answers within
    /// them, or says none in the range met the objectives.
    #[arg(long, value_parser = parse_workers)]
    pub workers: Option<(u32, u32)>,
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
    /// Size every candidate as this many client replicas each (a list: 1,4 plans each candidate
    /// once as one replica and once as four), workers searched per replica.
    #[arg(long, value_delimiter = ',', value_parser = parse_replicas)]
    pub replicas: Vec<u16>,
    /// Skip the hosting probe.
    #[arg(long)]
    pub no_probe: bool,
    /// The executable that serves the probe's mock (default: this one).
    #[arg(long, hide = true)]
    pub mock_exe: Option<PathBuf>,
    /// Target, traffic window and output folder.
    #[command(flatten)]
    pub runs: ManyRunArgs,
    /// How far to search: `workers` sizes each candidate's workers; `full` searches the whole
    /// calling plan (retry and attempts, retry budget, rate limit, queue, attempt timeout,
    /// fallback model, service tier, replicas) over the scenario's `[plan]` lists or the
    /// defaults. Default: the scenario's `[plan] search`, else `workers`.
    #[arg(long, value_enum)]
    pub search: Option<SearchArg>,
    /// Print plan.json instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the recommended plan as client code on the official SDK of LANG
    /// (plan_client.py, .ts or .go in the output folder) and print the code instead of the table.
    #[arg(long, value_enum, value_name = "LANG", conflicts_with = "json")]
    pub emit: Option<Language>,
    /// No progress on stderr (by default a line per worker count measured).
    #[arg(long, short)]
    pub quiet: bool,
}

/// `--search`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SearchArg {
    /// Workers only, for each candidate.
    Workers,
    /// The whole calling plan.
    Full,
}

impl From<SearchArg> for crate::scenario::plan::SearchKind {
    fn from(a: SearchArg) -> Self {
        match a {
            SearchArg::Workers => crate::scenario::plan::SearchKind::Workers,
            SearchArg::Full => crate::scenario::plan::SearchKind::Full,
        }
    }
}

/// Parses a worker range `A..B` (also `A..=B`): 1 ≤ A ≤ B ≤ 100000.
fn parse_workers(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("{s:?}: expected a worker range such as 8..64 (1 ≤ A ≤ B ≤ 100000)");
    let (a, b) = s.trim().split_once("..").ok_or_else(bad)?;
    let b = b.strip_prefix('=').unwrap_or(b);
    let (a, b): (u32, u32) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    (1 <= a && a <= b && b <= 100_000).then_some((a, b)).ok_or_else(bad)
}

/// Parses a replica count: 1 to 256.
fn parse_replicas(s: &str) -> Result<u16, String> {
    let n: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?}: expected a replica count such as 4"))?;
    stampede_mock::ranges::REPLICAS
        .check_count("--replicas", n)
        .map(|n| n as u16)
}

/// Each candidate once per replica count, named `name ×R` (as they are when no count is given).
fn with_replicas(candidates: Vec<Candidate>, replicas: &[u16]) -> Vec<Candidate> {
    if replicas.is_empty() {
        return candidates;
    }
    let mut out = Vec::new();
    for c in candidates {
        for &r in replicas {
            let mut strategy = c.strategy.clone();
            strategy.replicas = u32::from(r);
            out.push(Candidate {
                name: format!("{} ×{r}", c.name),
                strategy,
            });
        }
    }
    out
}

/// Parses a growth factor: above 0, at most 100.
fn parse_growth(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|g| g.is_finite() && *g > 0.0 && *g <= 100.0)
        .ok_or_else(|| format!("{s:?}: expected a growth factor such as 1.5 (above 0, at most 100)"))
}

/// Searches, writes plan.json, plan.md and plan.html, prints the plan; exit 1 when no
/// candidate meets the objectives.
pub(super) fn plan(args: PlanArgs, io: &mut Io<'_>) -> Outcome {
    if args.max_seeds < args.seeds {
        return Err(CliError::Input(format!(
            "--max-seeds {} is below --seeds {}: a count cannot use fewer seeds than it starts with",
            args.max_seeds, args.seeds
        )));
    }
    if args.runs.max_cost_usd.is_some() {
        return Err(CliError::Input(
            "--max-cost-usd does not apply to plan: its searches run in simulation or against the mock, never \
             against a billed API (check a plan's cost with one `stampede run` of the recommendation)"
                .into(),
        ));
    }
    let loaded = Scenario::load(&args.scenario)?;
    let mut candidates = candidates_of(&args.strategies, &loaded)?;
    if candidates.is_empty() {
        candidates.push(Candidate {
            name: "as configured".into(),
            strategy: loaded.scenario.strategy.get_ref().clone(),
        });
    }
    let candidates = with_replicas(candidates, &args.replicas);
    // Sim unless asked: a search takes dozens of runs.
    let run = RunOptions {
        target: Some(args.runs.target.unwrap_or(TargetKind::Sim)),
        duration: args.runs.duration,
        purpose: Purpose::Search,
        ..RunOptions::default()
    };
    // Every check before the output folder is made (a billed target is refused here).
    Prepared::new(&loaded, &run).map_err(crate::run::RunError::from)?;
    let dir = out_dir(args.runs.out.clone(), &loaded);
    let _lock = ready_out_dir(&dir)?;
    let mock_exe = args.mock_exe.clone().or_else(|| std::env::current_exe().ok());
    let options = PlanOptions {
        run,
        seeds: SeedBudget {
            start: args.seeds as usize,
            max: args.max_seeds as usize,
        },
        min_workers: args.workers.map_or(1, |w| w.0),
        max_workers: args.workers.map_or(args.max_workers, |w| w.1),
        candidates,
        growth: if args.no_growth { Vec::new() } else { args.growth },
        probe: mock_exe.filter(|_| !args.no_probe).map(|mock_exe| ProbeOptions {
            mock_exe,
            duration: args.probe,
            seed: loaded.scenario.seed,
        }),
        progress: if args.quiet {
            PlanProgress::default()
        } else {
            PlanProgress::to(|line| eprintln!("{line}"))
        },
        search: SearchOptions {
            kind: args.search.map(Into::into),
            sdk_retry: args.emit.map(|l| l.retry_preset().to_string()),
        },
    };
    let plan = crate::commands::plan::plan(&loaded, &options)?;
    let code = emitted(args.emit, &plan, &loaded);
    let (dir, written) = write_outputs(dir, |d| write_with_code(&plan, code.as_ref(), d), io)?;
    if let Some((_, code)) = &code {
        write!(io.out, "{code}")?;
        writeln!(io.err, "wrote {}", report::listing(&dir, &written))?;
    } else if args.json {
        writeln!(io.out, "{}", serde_json::to_string_pretty(&plan).unwrap_or_default())?;
    } else {
        write!(io.out, "{}", report::plan::markdown(&plan))?;
        writeln!(io.out, "\nwrote {}", report::listing(&dir, &written))?;
    }
    if plan.best.is_some() {
        Ok(Exit::Ok)
    } else {
        let why = match &plan.closest {
            Some(c) => format!(
                "the closest is {} at {} workers: {}",
                c.candidate,
                c.workers,
                c.misses.join(" ")
            ),
            None => "no count was measured".into(),
        };
        writeln!(io.err, "no plan passes; {why}")?;
        if args.emit.is_some() {
            writeln!(
                io.err,
                "nothing to emit: no plan passed, so there is no recommendation to write"
            )?;
        }
        Ok(Exit::Gate)
    }
}

/// The recommendation as code in `language`, when asked for and a plan passed.
fn emitted(
    language: Option<Language>,
    plan: &crate::commands::plan::CapacityPlan,
    loaded: &crate::scenario::LoadedScenario,
) -> Option<(Language, String)> {
    let (language, rec) = (language?, plan.recommendation.as_ref()?);
    let model = &loaded.scenario.target.get_ref().model;
    Some((language, emit::emit(language, rec, model, loaded.scenario.name())))
}

/// plan.json, plan.md, plan.html and, when emitted, the client code, into `dir`.
fn write_with_code(
    plan: &crate::commands::plan::CapacityPlan,
    code: Option<&(Language, String)>,
    dir: &std::path::Path,
) -> std::io::Result<Vec<PathBuf>> {
    let mut written = report::plan::write_all(plan, dir)?;
    if let Some((language, code)) = code {
        let path = dir.join(language.file_name());
        crate::out_file::write(&path, code.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}
