//! `stampede calibrate`: a mock profile fitted to what a target really did — recordings of
//! real calls (`stampede proxy --record` in front of Gemini, or `stampede mock --record`) —
//! so that plans rest on measured latency, decode speed, answer lengths, errors, quotas and
//! token density instead of presets.
//!
//! The model fitted is the mock's own ([`stampede_mock::model`]): time to first token =
//! `latency` (a law fitted by maximum likelihood, the best of lognormal, exponential and
//! constant by Kolmogorov–Smirnov distance) + `latency_per_1k_input` × uncached input / 1,000
//! (least squares, adopted when the slope is over two standard errors above zero) + thinking
//! and the first chunk's tokens at the decode speed; the rest of the answer at `decode_tps`.
//! The mock has one latency law for all models: the profile takes it from the model with the
//! most answers and says so; quotas and densities are per model.

pub mod fit;
pub mod model;
mod profile;
mod read;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use model::ModelFit;
pub use read::{MAX_LINES, MAX_MODELS};

/// The schema tag of `calibration.json`.
pub const SCHEMA: &str = "stampede.calibration/v1";

/// A calibration: what was read, each model's fit, and the profile written from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Calibration {
    /// `stampede.calibration/v1`.
    pub schema: String,
    /// The recordings read.
    pub inputs: Vec<String>,
    /// Lines read.
    pub lines: u64,
    /// Lines without what the target did (not used).
    pub unobserved: u64,
    /// Answers the proxy injected (not used).
    pub injected: u64,
    /// The preset the profile patches (quotas not seen stay the preset's).
    pub preset: String,
    /// The model whose latency, decode and answer lengths the profile carries.
    pub main_model: String,
    /// Each model's fit, the most answered first.
    pub models: Vec<ModelFit>,
    /// What the fit could not see, or chose, said in sentences.
    pub notes: Vec<String>,
    /// The profile (TOML) written.
    pub profile: String,
}

/// Reads the recordings and fits a profile on top of `preset`.
pub fn calibrate(inputs: &[PathBuf], preset: &str) -> Result<Calibration, String> {
    stampede_mock::profile::MockProfile::preset(preset).map_err(|e| format!("--preset: {e}"))?;
    let mut recorded = read::Recorded::default();
    for path in inputs {
        read::read(path, &mut recorded)?;
    }
    let mut models: Vec<ModelFit> = recorded
        .by_model
        .iter()
        .map(|(name, lines)| model::fit_model(name, lines))
        .collect();
    models.sort_by(|a, b| b.answered.cmp(&a.answered).then_with(|| a.model.cmp(&b.model)));
    let Some(main) = models.first().filter(|m| m.answered > 0) else {
        return Err(format!(
            "no answered calls to fit in {} line(s) ({} without what the target did, {} injected); record real calls with `stampede proxy --record FILE` or `stampede mock --record FILE`",
            recorded.lines, recorded.unobserved, recorded.injected
        ));
    };
    let main_model = main.model.clone();
    let notes = profile::notes(&models, &recorded, preset);
    let text = profile::toml(&models, preset, inputs, &notes)?;
    Ok(Calibration {
        schema: SCHEMA.into(),
        inputs: inputs.iter().map(|p| p.display().to_string()).collect(),
        lines: recorded.lines,
        unobserved: recorded.unobserved,
        injected: recorded.injected,
        preset: preset.to_string(),
        main_model,
        models,
        notes,
        profile: text,
    })
}
