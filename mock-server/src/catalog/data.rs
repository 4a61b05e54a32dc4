//! The catalog as data: `catalog.toml` (embedded) parsed once, every entry with its source and
//! the date it was read; a user's file of the same shape extends it (`stampede catalog --file`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Limits, Tier};
use crate::thinking::ThinkingLevel;

/// Days after its `updated` date past which a catalog is called out as possibly out of date.
pub const STALE_AFTER_DAYS: u64 = 90;

/// The catalog shipped in the binary.
const EMBEDDED: &str = include_str!("../../catalog.toml");

/// Models and tier presets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// When the content was last checked against its sources (`YYYY-MM-DD`): a catalog more
    /// than [`STALE_AFTER_DAYS`] older than today is called out wherever a cost is stated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    /// Models by id.
    #[serde(default)]
    pub models: BTreeMap<String, ModelEntry>,
    /// Tier presets by name.
    #[serde(default)]
    pub tiers: BTreeMap<String, TierEntry>,
    /// Price multipliers of the Flex and Priority service tiers.
    #[serde(default)]
    pub service_tiers: Option<ServiceTierPrices>,
}

/// Price multipliers of the service tiers against Standard, applied to every token price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceTierPrices {
    /// Flex: best effort, sheddable.
    pub flex: f64,
    /// Priority: served first, over its own limit served at Standard.
    pub priority: f64,
    /// Where the figures were read.
    pub source: String,
    /// When they were read.
    pub read: String,
}

/// One model: its status, limits and paid-tier prices (USD per 1M tokens). A model whose
/// price was not found has none (`input`/`output` absent): its cost is unknown, never guessed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// Human name.
    pub display_name: String,
    /// Preview, GA, deprecated or shut down (absent: not stated, as in a user's own entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ModelStatus>,
    /// Release date (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released: Option<String>,
    /// When it was deprecated (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecated: Option<String>,
    /// When it shuts down or shut down (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown: Option<String>,
    /// The model Google names in its place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
    /// The model that answers this id's calls (and whose prices bill them) from `routed_from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routed_to: Option<String>,
    /// When the routing began (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routed_from: Option<String>,
    /// Whether Google states that routed calls are billed at the target's prices (otherwise
    /// the model's own prices stand, and the warning says the billing is not stated).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub billed_as_routed: bool,
    /// Where the status and dates were read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_source: Option<String>,
    /// Largest prompt accepted.
    pub input_token_limit: u64,
    /// Largest answer.
    pub output_token_limit: u64,
    /// Input price, prompts up to `long_prompt_threshold` (absent: not found).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<f64>,
    /// Output price, thinking included (absent: not found).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<f64>,
    /// Prompt size above which the long-prompt prices apply (0 = never).
    #[serde(default)]
    pub long_prompt_threshold: u64,
    /// Input price for long prompts (default: `input`).
    pub input_long: Option<f64>,
    /// Output price for long prompts (default: `output`).
    pub output_long: Option<f64>,
    /// Price of input served from a context cache (implicit or explicit).
    pub cached_input: Option<f64>,
    /// Cached input price for long prompts (default: `cached_input`).
    pub cached_input_long: Option<f64>,
    /// Explicit cache storage: USD per 1M tokens per hour.
    pub cache_storage: Option<f64>,
    /// The smallest shared prefix implicit caching serves (0: the model has no implicit cache).
    #[serde(default)]
    pub implicit_cache_min_tokens: u64,
    /// Where the cache figures were read, when not in `source`.
    pub cache_source: Option<String>,
    /// Batch API input price.
    pub batch_input: Option<f64>,
    /// Batch API output price.
    pub batch_output: Option<f64>,
    /// The `thinkingLevel`s the model accepts (empty: it takes a `thinkingBudget`, or none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thinking_levels: Vec<ThinkingLevel>,
    /// The level the model thinks at when a request names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_thinking_level: Option<ThinkingLevel>,
    /// Announced prices from a later date (an introductory price ending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_change: Option<PriceChange>,
    /// Where the figures were read.
    pub source: String,
    /// When they were read.
    pub read: String,
}

/// A model's lifecycle stage, as Google's models and deprecations pages state it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelStatus {
    /// Preview: may change, and is shut down with short notice.
    Preview,
    /// Generally available.
    Ga,
    /// Deprecated: still answers (perhaps routed to another model) until its shutdown.
    Deprecated,
    /// Shut down: calls fail.
    ShutDown,
}

/// Prices announced from a later date; absent prices keep the current ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceChange {
    /// First day of the new prices (`YYYY-MM-DD`).
    pub from: String,
    /// Input price from then.
    pub input: Option<f64>,
    /// Output price from then.
    pub output: Option<f64>,
    /// Cached input price from then.
    pub cached_input: Option<f64>,
    /// Batch input price from then.
    pub batch_input: Option<f64>,
    /// Batch output price from then.
    pub batch_output: Option<f64>,
}

/// One model's quota in a tier preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitEntry {
    /// Requests per minute (0 = unlimited).
    pub rpm: u64,
    /// Input tokens per minute (0 = unlimited).
    pub tpm: u64,
    /// Requests per day (0 = unlimited).
    pub rpd: u64,
    /// Not published by Google: an example to replace with your project's own.
    #[serde(default)]
    pub illustrative: bool,
}

/// A tier preset: per-model quotas, the monthly cap and the spend-based limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierEntry {
    /// The tier whose quota names 429 bodies carry.
    pub tier: Tier,
    /// The billing account's monthly spend cap (USD).
    pub monthly_cap_usd: Option<f64>,
    /// The spend-based rate limit: USD over `spend_window`.
    pub spend_limit_usd: Option<f64>,
    /// The spend limit's rolling window.
    #[serde(default, with = "humantime_serde")]
    pub spend_window: Option<Duration>,
    /// Requests per minute per model served at Priority before the rest are served at Standard
    /// (0 = no limit; absent: the tier does not offer Priority).
    pub priority_rpm: Option<u64>,
    /// Per-model quotas.
    pub limits: BTreeMap<String, LimitEntry>,
    /// Where the figures were read.
    pub source: String,
    /// When they were read.
    pub read: String,
}

impl LimitEntry {
    /// As the quota the mock enforces.
    pub fn limits(self) -> Limits {
        Limits {
            rpm: self.rpm,
            tpm: self.tpm,
            rpd: self.rpd,
        }
    }
}

static EMBEDDED_CATALOG: LazyLock<Catalog> =
    LazyLock::new(|| toml::from_str(EMBEDDED).expect("the embedded catalog.toml is valid (a test checks it)"));

static INSTALLED: OnceLock<(PathBuf, Catalog)> = OnceLock::new();

/// The catalog in force: the embedded one, extended by the file [`install`]ed, if any.
pub fn current() -> &'static Catalog {
    INSTALLED.get().map_or(&EMBEDDED_CATALOG, |(_, c)| c)
}

/// The file extending the catalog in force, if one was installed.
pub fn installed_file() -> Option<&'static Path> {
    INSTALLED.get().map(|(p, _)| p.as_path())
}

/// Makes the embedded catalog extended by `path` the one in force for this process (`--catalog
/// FILE`, or a scenario's `catalog = "FILE"`). A process has one catalog: installing the same
/// file again is a no-op, another file is refused.
pub fn install(path: &Path) -> Result<(), String> {
    let canonical = path.canonicalize().map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some((p, _)) = INSTALLED.get() {
        return if *p == canonical {
            Ok(())
        } else {
            Err(format!(
                "{}: a catalog is already in force ({}); one run uses one catalog",
                path.display(),
                p.display()
            ))
        };
    }
    let c = Catalog::extended(Catalog::from_file(path)?);
    let _ = INSTALLED.set((canonical, c));
    Ok(())
}

/// Which catalog prices a run, in a few words: "stampede's catalog of 2026-12-03", extended
/// by the file in force if there is one; every output that states a cost says it.
pub fn in_force() -> String {
    let c = current();
    let date = c.updated.as_deref().unwrap_or("no date");
    let named = match installed_file() {
        Some(f) => format!(
            "stampede's catalog of {} extended by {} (dated {date})",
            EMBEDDED_CATALOG.updated.as_deref().unwrap_or("no date"),
            f.file_name()
                .map_or_else(|| f.display().to_string(), |n| n.to_string_lossy().into_owned())
        ),
        None => format!("stampede's catalog of {date}"),
    };
    let stale_before = super::lifecycle::date_days_ago(STALE_AFTER_DAYS);
    match c.updated.as_deref() {
        Some(d) if d < stale_before.as_str() => {
            format!("{named}, more than {STALE_AFTER_DAYS} days old: check current prices and give them with --catalog FILE")
        }
        _ => named,
    }
}

impl Catalog {
    /// The embedded catalog with `other`'s entries added, a model or tier of the same name
    /// replaced whole.
    pub fn extended(other: Catalog) -> Catalog {
        let mut c = EMBEDDED_CATALOG.clone();
        c.models.extend(other.models);
        c.tiers.extend(other.tiers);
        if other.updated.is_some() {
            c.updated = other.updated;
        }
        if other.service_tiers.is_some() {
            c.service_tiers = other.service_tiers;
        }
        c
    }

    /// Reads a catalog file (the same shape as the embedded one; every section optional).
    pub fn from_file(path: &Path) -> Result<Catalog, String> {
        let text = crate::input_file::read_to_string(path, crate::input_file::InputKind::Catalog)
            .map_err(|e| e.to_string())?;
        Catalog::parse(&text, &path.display().to_string())
    }

    /// Parses and checks a catalog's text; messages start with `shown` (the file).
    pub fn parse(text: &str, shown: &str) -> Result<Catalog, String> {
        let c: Catalog = toml::from_str(text).map_err(|e| format!("{shown}: {e}"))?;
        c.check().map_err(|e| format!("{shown}: {e}"))?;
        Ok(c)
    }

    /// Every number in its range ([`crate::ranges`]): prices, token limits, multipliers, caps,
    /// spend windows and quotas; the message names the key (`models."x".input`).
    pub fn check(&self) -> Result<(), String> {
        use crate::ranges::{MULTIPLIER, PRICE_PER_M_TOKENS, QUOTA, TOKENS, USD, WINDOW};
        for (id, m) in &self.models {
            let key = |k: &str| format!("models.{id:?}.{k}");
            let later = m.price_change.as_ref();
            let prices = [
                ("input", m.input),
                ("output", m.output),
                ("price_change.input", later.and_then(|c| c.input)),
                ("price_change.output", later.and_then(|c| c.output)),
                ("price_change.cached_input", later.and_then(|c| c.cached_input)),
                ("price_change.batch_input", later.and_then(|c| c.batch_input)),
                ("price_change.batch_output", later.and_then(|c| c.batch_output)),
                ("input_long", m.input_long),
                ("output_long", m.output_long),
                ("cached_input", m.cached_input),
                ("cached_input_long", m.cached_input_long),
                ("cache_storage", m.cache_storage),
                ("batch_input", m.batch_input),
                ("batch_output", m.batch_output),
            ];
            for (k, p) in prices {
                PRICE_PER_M_TOKENS.check_some(&key(k), p)?;
            }
            for (k, n) in [
                ("input_token_limit", m.input_token_limit),
                ("output_token_limit", m.output_token_limit),
                ("long_prompt_threshold", m.long_prompt_threshold),
                ("implicit_cache_min_tokens", m.implicit_cache_min_tokens),
            ] {
                TOKENS.check_count(&key(k), n)?;
            }
        }
        self.check_dates()?;
        if let Some(st) = &self.service_tiers {
            MULTIPLIER.check("service_tiers.flex", st.flex)?;
            MULTIPLIER.check("service_tiers.priority", st.priority)?;
        }
        for (name, t) in &self.tiers {
            let key = |k: &str| format!("tiers.{name:?}.{k}");
            USD.check_some(&key("monthly_cap_usd"), t.monthly_cap_usd)?;
            USD.check_some(&key("spend_limit_usd"), t.spend_limit_usd)?;
            if let Some(w) = t.spend_window {
                WINDOW.check_duration(&key("spend_window"), w)?;
            }
            if let Some(rpm) = t.priority_rpm {
                QUOTA.check_count(&key("priority_rpm"), rpm)?;
            }
            for (model, l) in &t.limits {
                for (k, n) in [("rpm", l.rpm), ("tpm", l.tpm), ("rpd", l.rpd)] {
                    QUOTA.check_count(&format!("tiers.{name:?}.limits.{model:?}.{k}"), n)?;
                }
            }
        }
        Ok(())
    }
}

impl Catalog {
    /// Every date is `YYYY-MM-DD`, a routing names its start, a default thinking level is one
    /// the model accepts.
    fn check_dates(&self) -> Result<(), String> {
        let bad = |what: &str, d: &str| format!("{what}: expected a date YYYY-MM-DD, got {d:?}");
        if let Some(d) = self.updated.as_deref().filter(|d| !super::lifecycle::is_date(d)) {
            return Err(bad("updated", d));
        }
        for (id, m) in &self.models {
            let dates = [
                ("released", &m.released),
                ("deprecated", &m.deprecated),
                ("shutdown", &m.shutdown),
                ("routed_from", &m.routed_from),
            ];
            for (key, d) in dates {
                if let Some(d) = d.as_deref().filter(|d| !super::lifecycle::is_date(d)) {
                    return Err(bad(&format!("model {id:?}: {key}"), d));
                }
            }
            if let Some(c) = m.price_change.as_ref().filter(|c| !super::lifecycle::is_date(&c.from)) {
                return Err(bad(&format!("model {id:?}: price_change.from"), &c.from));
            }
            if m.routed_to.is_some() != m.routed_from.is_some() {
                return Err(format!("model {id:?}: routed_to and routed_from go together"));
            }
            if let Some(level) = m.default_thinking_level {
                if !m.thinking_levels.is_empty() && !m.thinking_levels.contains(&level) {
                    return Err(format!(
                        "model {id:?}: default_thinking_level {} is not among its thinking_levels",
                        level.as_str()
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_catalog_parses_and_every_entry_has_a_source_and_a_date() {
        let c: Catalog = toml::from_str(EMBEDDED).unwrap();
        c.check().unwrap();
        assert!(c.models.contains_key("gemini-3-flash-preview") && c.models.contains_key("gemini-2.5-flash"));
        for (id, m) in &c.models {
            assert!(!m.source.is_empty() && !m.read.is_empty(), "{id}");
            assert!(
                m.status.is_some() && m.status_source.is_some() && m.released.is_some(),
                "{id}"
            );
            for other in [&m.replacement, &m.routed_to].into_iter().flatten() {
                assert!(c.models.contains_key(other), "{id} names unknown model {other}");
            }
        }
        assert!(c.updated.is_some());
        for (name, t) in &c.tiers {
            assert!(!t.source.is_empty() && !t.read.is_empty(), "{name}");
            for model in t.limits.keys() {
                assert!(c.models.contains_key(model), "tier {name} names unknown model {model}");
            }
        }
    }

    #[test]
    fn a_user_file_extends_the_catalog() {
        let path = std::env::temp_dir().join(format!("stampede-catalog-test-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            "[models.\"my-model\"]\ndisplay_name = \"Mine\"\ninput_token_limit = 1000\noutput_token_limit = 100\ninput = 1.0\noutput = 2.0\nsource = \"me\"\nread = \"today\"\n",
        )
        .unwrap();
        let c = Catalog::extended(Catalog::from_file(&path).unwrap());
        assert!(c.models.contains_key("my-model") && c.models.contains_key("gemini-2.5-flash"));
        std::fs::write(&path, "[models.x]\ninput = -1\n").unwrap();
        assert!(Catalog::from_file(&path).is_err());
        std::fs::write(
            &path,
            "[models.x]\ndisplay_name = \"X\"\ninput_token_limit = 1000\noutput_token_limit = 100\ninput = 1e308\noutput = 2.0\nsource = \"me\"\nread = \"today\"\n",
        )
        .unwrap();
        let e = Catalog::from_file(&path).unwrap_err();
        assert!(
            e.ends_with("models.\"x\".input: expected 0 to 100000 USD, got 1e308"),
            "{e}"
        );
        let _ = std::fs::remove_file(&path);
    }
}
