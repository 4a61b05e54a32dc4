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
}

impl RunMeta {
    /// The mock's quota of the run's model as (requests, input tokens) per minute, 0 for
    /// unlimited; `None` for a target without a mock profile.
    pub fn mock_quota(&self) -> Option<(u64, u64)> {
        let m = self.mock_profile.as_ref()?.get("models")?.get(&self.model)?;
        Some((m.get("rpm")?.as_u64()?, m.get("tpm")?.as_u64()?))
    }
}
