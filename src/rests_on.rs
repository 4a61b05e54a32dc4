//! What a run's figures rest on: the latency and decode model, the quotas, the catalog, the
//! token density and the thinking assumed — each with where it came from (a preset, the user's
//! own setting, a measurement) and how to replace it. Printed under every run, comparison and
//! plan, because a p95 from the mock's default latency or a month from illustrative quotas is
//! an assumption, not a finding.

use std::time::Duration;

use stampede_mock::dist::{DurationDist, NumberDist};
use stampede_mock::profile::MockProfile;

use crate::scenario::target::TargetSpec;
use crate::scenario::TargetKind;
use crate::summary::Assumption;

/// The assumptions of a run on `target` (as the scenario wrote it) whose mock, if any, serves
/// `profile`, priced by `catalog` (the catalog in force, as the run's summary names it).
pub fn assumptions(
    target: &TargetSpec,
    kind: TargetKind,
    profile: Option<&MockProfile>,
    catalog: &str,
    density: stampede_mock::tokens::TokenRule,
) -> Vec<Assumption> {
    let mut out = Vec::new();
    let user = target.mock.as_ref();
    let origin = |set_by_user: bool| -> String {
        if set_by_user {
            "your [target.mock] setting".into()
        } else {
            match &target.profile {
                Some(p) if p.ends_with(".toml") => format!("the profile file {p}"),
                Some(p) => format!("preset {p}'s default"),
                None => "the default preset's value".into(),
            }
        }
    };
    match profile {
        None => out.push(Assumption::new(
            "latency and quotas",
            format!("measured against the {} target itself", kind.as_str()),
            "nothing to replace: these figures are the target's",
        )),
        Some(p) => {
            out.push(Assumption::new(
                "latency",
                format!(
                    "the mock's time to first token, {}{} ({})",
                    duration_dist(&p.latency),
                    if p.latency_per_1k_input.is_zero() {
                        String::new()
                    } else {
                        format!(
                            " + {} per 1,000 uncached input tokens",
                            crate::format::ms(Some(p.latency_per_1k_input.as_secs_f64() * 1e3))
                        )
                    },
                    origin(user.is_some_and(|m| m.latency.is_some()))
                ),
                "record real calls through `stampede proxy` and fit a profile with `stampede calibrate` (docs/src/calibrate.md), or run against the real target",
            ));
            let decode = match &p.decode_tps {
                NumberDist::Constant(v) if *v <= 0.0 => {
                    "not modelled (decode_tps = 0): an answer's length adds no time".to_string()
                }
                d => format!("{} output tokens a second", number_dist(d)),
            };
            out.push(Assumption::new(
                "decode speed",
                format!("{decode} ({})", origin(user.is_some_and(|m| m.decode_tps.is_some()))),
                "set [target.mock] decode_tps to the speed you measured (stream stats of a real run)",
            ));
            out.push(quotas(target, p));
        }
    }
    out.push(Assumption::new(
        "prices",
        catalog,
        "--catalog FILE with your prices; `stampede catalog check` compares the catalog with the Models API",
    ));
    let d = density.chars_per_token;
    out.push(if d == stampede_mock::tokens::DEFAULT_CHARS_PER_TOKEN {
        Assumption::new(
            "token density",
            "prompts synthesised at 4 characters a token (Gemini's rule of thumb for English); a real tokenizer differs",
            "`stampede calibrate` measures your model's characters per token from a recording (docs/src/calibrate.md)",
        )
    } else {
        Assumption::new(
            "token density",
            format!(
                "prompts synthesised at {d:.3} characters a token ({})",
                match &target.profile {
                    Some(p) if p.ends_with(".toml") => format!("chars_per_token of the profile file {p}"),
                    _ => "your chars_per_token setting".into(),
                }
            ),
            "re-run `stampede calibrate` on a fresh recording when the model changes",
        )
    });
    if let Some(level) = target.thinking_level {
        out.push(Assumption::new(
            "thinking",
            format!(
                "thinking_level = \"{}\": the mock thinks {} tokens per answer token (an assumption, docs/src/mock.md)",
                level.as_str(),
                level.tokens_per_answer_token()
            ),
            "set [target.mock] thinking_tokens to what your answers' usage shows",
        ));
    }
    out
}

/// The quotas of the run's model: the user's own, or the preset's (illustrative).
fn quotas(target: &TargetSpec, p: &MockProfile) -> Assumption {
    let m = target.mock.as_ref();
    let own = m.is_some_and(|m| {
        m.rpm.is_some()
            || m.tpm.is_some()
            || m.rpd.is_some()
            || m.models.as_ref().is_some_and(|x| x.contains_key(&target.model))
    });
    let limits = p.models.get(&target.model).map_or("none".to_string(), |l| {
        let n = |v: u64| {
            if v == 0 {
                "no".to_string()
            } else {
                crate::format::count(v)
            }
        };
        format!("{} RPM, {} TPM, {} RPD", n(l.rpm), n(l.tpm), n(l.rpd))
    });
    let file = target.profile.as_deref().filter(|p| p.ends_with(".toml"));
    let basis = if own {
        format!("{limits} for {}: your [target.mock] setting", target.model)
    } else if let Some(file) = file {
        format!(
            "{limits} for {}: the profile file {file} over preset {}'s (a calibrated profile sets the quotas its recording's 429s named; the others are the preset's, illustrative)",
            target.model, p.preset
        )
    } else {
        format!(
            "{limits} for {}: preset {}'s, illustrative (Google no longer publishes per-model limits)",
            target.model, p.preset
        )
    };
    Assumption::new(
        "quotas",
        basis,
        "set your project's limits (AI Studio, Usage and limits) as [target.mock] rpm, tpm and rpd",
    )
}

/// A duration distribution in words: "lognormal, median 900 ms, p99 6.00 s".
fn duration_dist(d: &DurationDist) -> String {
    let ms = |d: &Duration| crate::format::ms(Some(d.as_secs_f64() * 1e3));
    match d {
        DurationDist::Constant(v) => format!("constant {}", ms(v)),
        DurationDist::Exponential(m) => format!("exponential, mean {}", ms(m)),
        DurationDist::Lognormal { median, p99 } => format!("lognormal, median {}, p99 {}", ms(median), ms(p99)),
        DurationDist::Uniform { min, max } => format!("uniform {} to {}", ms(min), ms(max)),
    }
}

/// A number distribution in words.
fn number_dist(d: &NumberDist) -> String {
    match d {
        NumberDist::Constant(v) => format!("{v}"),
        NumberDist::Uniform { min, max } => format!("uniform {min} to {max}"),
        NumberDist::Normal { mean, std } => format!("normal, mean {mean}, sd {std}"),
        NumberDist::Lognormal { median, p99 } => format!("lognormal, median {median}, p99 {p99}"),
        NumberDist::Exponential { mean } => format!("exponential, mean {mean}"),
    }
}
