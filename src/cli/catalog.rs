//! `stampede catalog`: the models, prices and tier presets in force, with where each figure was
//! read and when, so a user sees at a glance how old they are.

use std::path::PathBuf;

use clap::Args;
use stampede_mock::catalog::data::{current, Catalog};

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
}

/// Prints the catalog: models with prices, tier presets with their limits, sources and dates.
pub(super) fn catalog(args: CatalogArgs, io: &mut Io<'_>) -> Outcome {
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
    let mut out = String::from("models — paid-tier prices in USD per 1M tokens (output includes thinking tokens)\n\n");
    out.push_str(&format!(
        "{:<24} {:<24} {:>7} {:>7} {:>17} {:>7} {:>13} {:>9}  {}\n",
        "id", "name", "input", "output", "long prompts", "cached", "batch in/out", "cache min", "read"
    ));
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
        out.push_str(&format!(
            "{:<24} {:<24} {:>7} {:>7} {:>17} {:>7} {:>13} {:>9}  {}\n",
            id,
            m.display_name,
            p(Some(m.input)),
            p(Some(m.output)),
            long,
            p(m.cached_input),
            batch,
            if m.implicit_cache_min_tokens > 0 {
                m.implicit_cache_min_tokens.to_string()
            } else {
                "—".into()
            },
            m.read
        ));
    }
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
