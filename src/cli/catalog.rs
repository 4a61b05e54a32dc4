//! `stampede catalog`: the models, prices and tier presets in force, with where each figure was
//! read and when, so a user sees at a glance how old they are.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use stampede_mock::catalog::data::{current, Catalog, ModelEntry, ModelStatus, STALE_AFTER_DAYS};
use stampede_mock::catalog::lifecycle;

use super::{CliError, Exit, Io, Outcome};

/// `stampede catalog`.
#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// A catalog file whose models and tiers extend (or, by name, replace) the embedded ones:
    /// shows the result.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Print the catalog as JSON.
    #[arg(long)]
    pub json: bool,
    /// `check`: compare the catalog with what the Models API lists.
    #[command(subcommand)]
    pub action: Option<CatalogAction>,
}

/// What `stampede catalog` does besides printing.
#[derive(Debug, Subcommand)]
pub enum CatalogAction {
    /// Ask the Models API (`GET /v1beta/models`, every page) which models this project can call
    /// and compare them with the catalog: models it lists that the catalog lacks, catalog models
    /// it no longer lists, token limits that disagree. Sends no generation traffic; exit 1 when
    /// they differ.
    #[command(
        after_help = "Exit codes: 0 the catalog agrees · 1 it differs · 2 bad input or no key · 3 the API could not be read."
    )]
    Check(CheckArgs),
}

/// `stampede catalog check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The API's base URL (the mock's, or another endpoint's).
    #[arg(long, default_value = crate::prepare::GEMINI_BASE_URL)]
    pub base_url: String,
    /// The environment variable holding the API key [default: GEMINI_API_KEY, else GOOGLE_API_KEY].
    #[arg(long)]
    pub api_key_env: Option<String>,
    /// A catalog file extending the embedded one for the comparison.
    #[arg(long, alias = "catalog", value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// Prints the catalog: models with prices, tier presets with their limits, sources and dates.
pub(super) fn catalog(args: CatalogArgs, io: &mut Io<'_>) -> Outcome {
    if let Some(CatalogAction::Check(check_args)) = args.action {
        return check(check_args, io);
    }
    let c = match &args.file {
        Some(path) => Catalog::extended(Catalog::from_file(path).map_err(CliError::Input)?),
        None => current().clone(),
    };
    if args.json {
        writeln!(io.out, "{}", serde_json::to_string_pretty(&c).unwrap_or_default())?;
        return Ok(Exit::Ok);
    }
    write!(io.out, "{}", text(&c))?;
    Ok(Exit::Ok)
}

/// `stampede catalog check`: the Models API's list against the catalog.
fn check(args: CheckArgs, io: &mut Io<'_>) -> Outcome {
    let c = match &args.file {
        Some(path) => Catalog::extended(Catalog::from_file(path).map_err(CliError::Input)?),
        None => current().clone(),
    };
    if !(args.base_url.starts_with("http://") || args.base_url.starts_with("https://")) {
        return Err(CliError::Input(format!(
            "--base-url must start with http:// or https://, got {:?}",
            args.base_url
        )));
    }
    let key = crate::prepare::gemini_key(args.api_key_env.as_deref()).map_err(|e| CliError::Input(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let base = args.base_url.trim_end_matches('/');
    let listed = runtime
        .block_on(crate::backend::models_api::list_models(base, &key))
        .map_err(CliError::Failed)?;
    let drift = crate::commands::catalog_check::drift(&listed, &c, &lifecycle::today());
    write!(
        io.out,
        "{}",
        crate::commands::catalog_check::describe(&drift, listed.len(), base)
    )?;
    Ok(if drift.is_empty() { Exit::Ok } else { Exit::Gate })
}

/// A price or a dash: cents, or as many decimals (up to four) as it has.
fn p(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| {
        let four = format!("{v:.4}");
        let trimmed = four.trim_end_matches('0');
        let decimals = trimmed.split('.').nth(1).map_or(0, str::len).max(2);
        format!("${v:.decimals$}")
    })
}

/// The catalog as text.
fn text(c: &Catalog) -> String {
    let mut out = match &c.updated {
        Some(d) => format!("catalog checked against its sources on {d}\n"),
        None => "catalog: no date of its last check\n".to_string(),
    };
    if let Some(line) = lifecycle::staleness(c, &lifecycle::date_days_ago(STALE_AFTER_DAYS)) {
        out.push_str(&format!("warning: {line}\n"));
    }
    out.push_str("\nmodels — paid-tier prices in USD per 1M tokens (output includes thinking tokens; — not found)\n\n");
    out.push_str(&models_table(c));
    out.push_str(&lifecycles(c));
    out.push_str(&tiers_text(c));
    out
}

/// One line per model: status, prices, cache minimum, thinking default.
fn models_table(c: &Catalog) -> String {
    let mut out = format!(
        "{:<30} {:<31} {:>7} {:>7} {:>17} {:>7} {:>13} {:>9} {:>8}  {}\n",
        "id", "status", "input", "output", "long prompts", "cached", "batch in/out", "cache min", "thinking", "read"
    );
    for (id, m) in &c.models {
        let long = if m.long_prompt_threshold > 0 {
            format!(
                ">{}K {}/{}",
                m.long_prompt_threshold / 1000,
                p(m.input_long),
                p(m.output_long)
            )
        } else {
            "—".into()
        };
        let batch = match (m.batch_input, m.batch_output) {
            (Some(i), Some(o)) => format!("{}/{}", p(Some(i)), p(Some(o))),
            _ => "—".into(),
        };
        let cache_min = match m.implicit_cache_min_tokens {
            0 => "—".to_string(),
            n => n.to_string(),
        };
        let thinking = m.default_thinking_level.map_or("—", |l| l.as_str());
        out.push_str(&format!(
            "{:<30} {:<31} {:>7} {:>7} {:>17} {:>7} {:>13} {:>9} {:>8}  {}\n",
            id,
            status(m),
            p(m.input),
            p(m.output),
            long,
            p(m.cached_input),
            batch,
            cache_min,
            thinking,
            m.read
        ));
    }
    out
}

/// A model's status in a few words: "GA 2026-09-02", "preview", "routed → gemini-3.6-flash".
fn status(m: &ModelEntry) -> String {
    let today = lifecycle::today();
    if let Some(to) = lifecycle::routed_to(m, &today) {
        let how = if m.billed_as_routed { "billed as" } else { "routed →" };
        return format!("{how} {to}");
    }
    match m.status {
        Some(ModelStatus::Ga) => format!("GA {}", m.released.as_deref().unwrap_or("")),
        Some(ModelStatus::Preview) => format!("preview {}", m.released.as_deref().unwrap_or("")),
        Some(ModelStatus::Deprecated) => format!("deprecated {}", m.deprecated.as_deref().unwrap_or("")),
        Some(ModelStatus::ShutDown) => format!("shut down {}", m.shutdown.as_deref().unwrap_or("")),
        None => "not stated".into(),
    }
    .trim_end()
    .to_string()
}

/// What each model's lifecycle means for a run today, and announced price changes.
fn lifecycles(c: &Catalog) -> String {
    let today = lifecycle::today();
    let mut out = String::new();
    for (id, m) in &c.models {
        match lifecycle::standing(c, id, &today) {
            lifecycle::Standing::Refused(why) => out.push_str(&format!("  refused: {why}\n")),
            lifecycle::Standing::Warn(why) => out.push_str(&format!("  warns:   {why}\n")),
            lifecycle::Standing::Current => {}
        }
        if let Some(ch) = m.price_change.as_ref().filter(|ch| ch.from > today) {
            out.push_str(&format!(
                "  note:    {id} prices change on {}: input {}, output {}, cached {}\n",
                ch.from,
                p(ch.input.or(m.input)),
                p(ch.output.or(m.output)),
                p(ch.cached_input.or(m.cached_input))
            ));
        }
    }
    if out.is_empty() {
        out
    } else {
        format!("\nstatus today ({today})\n{out}")
    }
}

/// The tier presets and the sources of every figure.
fn tiers_text(c: &Catalog) -> String {
    let mut out = String::new();
    if let Some(st) = &c.service_tiers {
        out.push_str(&format!(
            "\nservice tiers — every price × flex {} · × priority {} (read {})\n",
            st.flex, st.priority, st.read
        ));
    }
    out.push_str("\ntier presets — per-model quotas (0 = unlimited; * illustrative: Google no longer publishes them, see your project's in AI Studio)\n\n");
    for (name, t) in &c.tiers {
        let spend = match (t.spend_limit_usd, t.spend_window) {
            (Some(usd), Some(w)) => format!("{} per {}", p(Some(usd)), humantime::format_duration(w)),
            _ => "none".into(),
        };
        let priority = match t.priority_rpm {
            None => "no priority".to_string(),
            Some(0) => "priority unlimited".to_string(),
            Some(n) => format!("priority {n}/min *"),
        };
        out.push_str(&format!(
            "{name} (quota names of {}) · monthly cap {} · spend limit {spend} · {priority} · read {}\n",
            t.tier.name(),
            t.monthly_cap_usd.map_or("none".into(), |c| crate::format::usd(Some(c))),
            t.read
        ));
        for (model, l) in &t.limits {
            out.push_str(&format!(
                "  {:<24} rpm {:<8} tpm {:<10} rpd {}{}\n",
                model,
                l.rpm,
                l.tpm,
                l.rpd,
                if l.illustrative { "  *" } else { "" }
            ));
        }
    }
    out.push_str("\nsources\n");
    for (id, m) in &c.models {
        out.push_str(&format!("  {id}: {} (read {})\n", m.source, m.read));
        if let Some(status) = &m.status_source {
            out.push_str(&format!("  {id}, status: {status}\n"));
        }
        if let Some(cache) = &m.cache_source {
            out.push_str(&format!("  {id}, caching: {cache}\n"));
        }
    }
    if let Some(st) = &c.service_tiers {
        out.push_str(&format!("  service tiers: {} (read {})\n", st.source, st.read));
    }
    for (name, t) in &c.tiers {
        out.push_str(&format!("  {name}: {} (read {})\n", t.source, t.read));
    }
    out
}
