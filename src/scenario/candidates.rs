//! Candidates: named calling plans that `compare` and `plan` put side by side.
//!
//! A candidate comes from a `[[strategies]]` entry of the scenario or from a `--strategy`
//! argument (`preset:NAME` or a file holding a strategy table). Either way it is laid over the
//! scenario's own `[strategy]` here, in one place, so both commands resolve it the same way.

use std::path::Path;

use toml::Spanned;

use super::LoadedScenario;
use crate::spec_error::{self, SpecError};
use crate::strategy::{presets, StrategySpec};

/// A calling plan under test, with the name its results go by in tables, plots and `best`.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Its name in tables and plots.
    pub name: String,
    /// The strategy, resolved over the scenario's `[strategy]`.
    pub strategy: StrategySpec,
}

/// The index of the first candidate whose name an earlier one already has, with the message
/// to show: results go by name, so two with one name cannot be told apart.
pub fn duplicate_name(candidates: &[Candidate]) -> Option<(usize, String)> {
    candidates.iter().enumerate().find_map(|(i, c)| {
        candidates[..i].iter().any(|o| o.name == c.name).then(|| {
            (
                i,
                format!("two strategies are named {:?}; give each its own `name`", c.name),
            )
        })
    })
}

/// Resolves the scenario's `[[strategies]]` entries over its `[strategy]` table; errors point
/// at the entry they concern.
pub(super) fn resolve_entries(
    base: &toml::Table,
    raw_entries: &[toml::Table],
    spans: &[Spanned<StrategySpec>],
) -> Result<Vec<Candidate>, SpecError> {
    let all = raw_entries
        .iter()
        .zip(spans)
        .enumerate()
        .map(|(i, (entry, spanned))| {
            let strategy = presets::resolve_layers(base, entry).map_err(|m| SpecError::at(spanned.span(), m))?;
            let name = strategy.name.clone().or(strategy.preset.clone());
            Ok(Candidate {
                name: name.unwrap_or_else(|| format!("strategy-{}", i + 1)),
                strategy,
            })
        })
        .collect::<Result<Vec<_>, SpecError>>()?;
    if let Some((at, message)) = duplicate_name(&all) {
        return Err(SpecError::at(spans[at].span(), message));
    }
    Ok(all)
}

impl LoadedScenario {
    /// The scenario's `[[strategies]]`, each resolved over its `[strategy]`.
    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// The candidates named by `--strategy` arguments, or the scenario's own when there are
    /// none; the message names the argument at fault.
    pub fn candidates_for(&self, args: &[String]) -> Result<Vec<Candidate>, String> {
        if args.is_empty() {
            return Ok(self.candidates.clone());
        }
        let all = args
            .iter()
            .map(|a| self.candidate_from_arg(a))
            .collect::<Result<Vec<_>, _>>()?;
        match duplicate_name(&all) {
            Some((_, message)) => Err(message),
            None => Ok(all),
        }
    }

    /// A `--strategy` argument: `preset:NAME` or a file holding a strategy table (bare, or
    /// under `[strategy]`), laid over the scenario's `[strategy]`.
    pub fn candidate_from_arg(&self, arg: &str) -> Result<Candidate, String> {
        let (variant, default_name) = match arg.strip_prefix("preset:") {
            Some(name) => {
                let mut t = toml::Table::new();
                t.insert("preset".into(), toml::Value::String(name.to_string()));
                (t, name.to_string())
            }
            None => (strategy_file(arg)?, file_stem(arg)),
        };
        let strategy = presets::resolve_layers(&self.strategy_table, &variant).map_err(|e| format!("{arg}: {e}"))?;
        self.mock_profile_for(&self.models_for(&strategy))
            .map_err(|e| format!("{arg}: {e}"))?;
        self.check_reserve(&strategy).map_err(|e| format!("{arg}: {e}"))?;
        Ok(Candidate {
            name: strategy.name.clone().unwrap_or(default_name),
            strategy,
        })
    }
}

/// The strategy table of a file given to `--strategy`; a misspelt key is reported at its line
/// and column.
fn strategy_file(arg: &str) -> Result<toml::Table, String> {
    let text =
        stampede_mock::input_file::read_to_string(Path::new(arg), stampede_mock::input_file::InputKind::Strategy)
            .map_err(|e| e.to_string())?;
    let located = |e: toml::de::Error| spec_error::render(arg, &text, &spec_error::from_toml(&e));
    let table: toml::Table = toml::from_str(&text).map_err(located)?;
    /// A file whose strategy sits under `[strategy]`.
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wrapped {
        #[allow(dead_code)]
        strategy: StrategySpec,
    }
    if table.contains_key("strategy") {
        toml::from_str::<Wrapped>(&text).map_err(located)?;
    } else {
        toml::from_str::<StrategySpec>(&text).map_err(located)?;
    }
    Ok(table
        .get("strategy")
        .and_then(toml::Value::as_table)
        .cloned()
        .unwrap_or(table))
}

fn file_stem(arg: &str) -> String {
    Path::new(arg)
        .file_stem()
        .map_or(arg.to_string(), |s| s.to_string_lossy().into_owned())
}
