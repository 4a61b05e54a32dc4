//! What the summary says of the run itself: scenario, target, model, seed, window, the
//! calling plan, the mock profile and the catalog that priced it.

use serde::{Deserialize, Serialize};

use crate::strategy::StrategySpec;

/// Facts about the run itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    /// Scenario name.
    pub scenario: String,
    /// Scenario description.
    pub description: Option<String>,
    /// `sim`, `mock`, `gemini` or `openai`.
    pub target: String,
    /// Model called.
    pub model: String,
    /// Seed of every random stream: the same seed gives the same run in sim.
    pub seed: u64,
    /// Traffic window in seconds.
    pub duration_s: f64,
    /// A window shorter than the scenario's day: the day's arrivals per second over the
    /// window's, in the scenario's own shape (its spikes, phases or daily cycle); what the day
    /// and month are carried over with (null: the window is the day, or the scenario says
    /// nothing past its window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_over_window: Option<f64>,
    /// Time from start to the last request's end (virtual in sim).
    pub elapsed_s: f64,
    /// Whether the run was simulated (virtual time).
    pub simulated: bool,
    /// Wall-clock start (RFC 3339).
    pub started_at: String,
    /// Wall-clock duration of the run.
    pub wall_time_s: f64,
    /// Why the run stopped early, if it did.
    pub stopped_early: Option<String>,
    /// The calling plan as configured.
    pub strategy: StrategySpec,
    /// The mock profile, for sim and mock targets (as the mock serialises it; read its quota
    /// with [`RunMeta::mock_quota`]).
    pub mock_profile: Option<serde_json::Value>,
    /// The catalog that priced the run and its date ("stampede's catalog of 2026-12-03").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
    /// What the figures rest on: latency and decode model, quotas, prices, token density,
    /// thinking — each with its origin and how to replace it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rests_on: Vec<Assumption>,
}

/// One thing a run's figures rest on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assumption {
    /// What: `latency`, `decode speed`, `quotas`, `prices`, `token density`, `thinking`.
    pub topic: String,
    /// The value used and where it came from.
    pub basis: String,
    /// How to replace it with your own.
    pub replace: String,
}

impl Assumption {
    /// An assumption on `topic`.
    pub fn new(topic: &str, basis: impl Into<String>, replace: &str) -> Assumption {
        Assumption {
            topic: topic.into(),
            basis: basis.into(),
            replace: replace.into(),
        }
    }

    /// "what this rests on" for the terminal: one line per assumption (empty without any).
    pub fn lines(list: &[Assumption]) -> String {
        if list.is_empty() {
            return String::new();
        }
        let mut out = String::from("\nwhat this rests on (how to replace each: the .md file)\n");
        for a in list {
            out.push_str(&crate::format::wrap(&format!("  {:<14} {}", a.topic, a.basis), 120, 17));
        }
        out
    }

    /// "What this rests on" for markdown: a table of what was used and how to replace it.
    pub fn markdown(list: &[Assumption]) -> String {
        if list.is_empty() {
            return String::new();
        }
        let mut out =
            String::from("### What this rests on\n\n| what | used here | to replace it |\n| --- | --- | --- |\n");
        for a in list {
            out.push_str(&format!("| {} | {} | {} |\n", a.topic, a.basis, a.replace));
        }
        out.push('\n');
        out
    }
}

impl RunMeta {
    /// The mock's quota of the run's model as (requests, input tokens) per minute, 0 for
    /// unlimited; `None` for a target without a mock profile.
    pub fn mock_quota(&self) -> Option<(u64, u64)> {
        let m = self.mock_profile.as_ref()?.get("models")?.get(&self.model)?;
        Some((m.get("rpm")?.as_u64()?, m.get("tpm")?.as_u64()?))
    }
}
