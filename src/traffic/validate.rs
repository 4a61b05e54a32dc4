//! Checks of a `[traffic]` section beyond what serde can: each arrival process has the keys it
//! needs and none of another's, phases are phases, and every value is in range. Errors point at
//! the key (or table) they concern.

use std::time::Duration;

use toml::Spanned;

use super::spec::{ArrivalKind, TrafficSpec};
use crate::spec_error::SpecError;
use stampede_mock::ranges::{SHARE, SPIKE_FACTOR, USERS, WINDOW};

/// Parses a humantime duration written as a string key.
fn duration_of(v: &Spanned<String>, key: &str) -> Result<Duration, SpecError> {
    humantime::parse_duration(v.get_ref())
        .map_err(|e| SpecError::at(v.span(), format!("{key} must be a duration such as \"30s\": {e}")))
}

fn positive(v: &Spanned<String>, key: &str) -> Result<Duration, SpecError> {
    let d = duration_of(v, key)?;
    if d.is_zero() {
        return Err(SpecError::at(v.span(), format!("{key} must be above zero")));
    }
    Ok(d)
}

/// `v >= min`, false for NaN.
fn at_least(v: f64, min: f64) -> bool {
    v >= min
}

/// `v > min`, false for NaN.
fn above(v: f64, min: f64) -> bool {
    v > min
}

fn share(v: &Spanned<f64>, key: &str) -> Result<f64, SpecError> {
    SHARE.check(key, *v.get_ref()).map_err(|m| SpecError::at(v.span(), m))
}

impl TrafficSpec {
    fn need<'a, T>(&self, v: &'a Option<Spanned<T>>, key: &str, what: &str) -> Result<&'a Spanned<T>, SpecError> {
        v.as_ref().ok_or_else(|| {
            SpecError::at(
                self.arrival.span(),
                format!("arrival = \"{}\" needs `{key}` ({what})", self.kind().name()),
            )
        })
    }

    /// Every process-specific key given: (name, span, the processes it belongs to).
    fn process_keys(&self) -> Vec<(&'static str, std::ops::Range<usize>, &'static [ArrivalKind])> {
        use ArrivalKind::*;
        let mut keys = Vec::new();
        let mut add = |name: &'static str, span: Option<std::ops::Range<usize>>, kinds: &'static [ArrivalKind]| {
            if let Some(s) = span {
                keys.push((name, s, kinds));
            }
        };
        add(
            "rate",
            self.rate.as_ref().map(Spanned::span),
            &[Constant, Poisson, Diurnal, Gamma, Weibull, Sessions],
        );
        add("from", self.from.as_ref().map(Spanned::span), &[Ramp]);
        add("to", self.to.as_ref().map(Spanned::span), &[Ramp]);
        add("over", self.over.as_ref().map(Spanned::span), &[Ramp]);
        add("base_rate", self.base_rate.as_ref().map(Spanned::span), &[Bursty]);
        add("burst_rate", self.burst_rate.as_ref().map(Spanned::span), &[Bursty]);
        add("burst_length", self.burst_length.as_ref().map(Spanned::span), &[Bursty]);
        add("burst_gap", self.burst_gap.as_ref().map(Spanned::span), &[Bursty]);
        add("period", self.period.as_ref().map(Spanned::span), &[Diurnal]);
        add("amplitude", self.amplitude.as_ref().map(Spanned::span), &[Diurnal]);
        add("peak_at", self.peak_at.as_ref().map(Spanned::span), &[Diurnal]);
        add("cv", self.cv.as_ref().map(Spanned::span), &[Gamma, Weibull]);
        add("phases", self.phases.as_ref().map(Spanned::span), &[Phases, Sessions]);
        add("trace", self.trace.as_ref().map(Spanned::span), &[Trace]);
        add("users", self.users.as_ref().map(Spanned::span), &[Closed]);
        add("think", self.think.as_ref().map(Spanned::span), &[Closed, Sessions]);
        add("turns", self.turns.as_ref().map(Spanned::span), &[Sessions]);
        add("ramp_up", self.ramp_up.as_ref().map(Spanned::span), &[Closed]);
        keys
    }

    /// Keys only the top level of `[traffic]` takes: (name, span).
    fn top_level_keys(&self) -> Vec<(&'static str, std::ops::Range<usize>)> {
        [
            ("spikes", self.spikes.as_ref().map(Spanned::span)),
            ("sizes_from", self.sizes_from.as_ref().map(Spanned::span)),
            ("lanes", self.lanes.as_ref().map(Spanned::span)),
            ("models", self.models.as_ref().map(Spanned::span)),
            ("stream_share", self.stream_share.as_ref().map(Spanned::span)),
            ("duplicates", self.duplicates.as_ref().map(Spanned::span)),
        ]
        .into_iter()
        .filter_map(|(n, s)| s.map(|s| (n, s)))
        .collect()
    }

    /// Checks the section (and its phases): each process has the keys it needs and no keys
    /// of another, values are in range.
    pub fn validate(&self) -> Result<(), SpecError> {
        self.validate_at(true)
    }

    fn validate_at(&self, top: bool) -> Result<(), SpecError> {
        let kind = self.kind();
        self.check_keys_belong(kind)?;
        if top {
            self.check_top_level()?;
        } else {
            self.check_phase(kind)?;
        }
        self.check_process(kind)?;
        self.check_extras(kind)?;
        self.check_lanes()?;
        self.check_models()
    }

    /// Every process-specific key belongs to the process chosen.
    fn check_keys_belong(&self, kind: ArrivalKind) -> Result<(), SpecError> {
        for (name, span, kinds) in self.process_keys() {
            if !kinds.contains(&kind) {
                let owners: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
                return Err(SpecError::at(
                    span,
                    format!(
                        "`{name}` does not apply to arrival = \"{}\" (it belongs to {})",
                        kind.name(),
                        owners.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The top level takes no phase `duration`.
    fn check_top_level(&self) -> Result<(), SpecError> {
        if self.duration.is_some() {
            return Err(SpecError::at(
                self.arrival.span(),
                "`duration` belongs to phases; the traffic window is the scenario's `duration`",
            ));
        }
        Ok(())
    }

    /// A phase has a duration above zero, an open-loop process, and none of the section-wide keys.
    fn check_phase(&self, kind: ArrivalKind) -> Result<(), SpecError> {
        if let Some((name, span)) = self.top_level_keys().into_iter().next() {
            return Err(SpecError::at(
                span,
                format!("`{name}` applies to the whole [traffic] section, not to one phase"),
            ));
        }
        if matches!(kind, ArrivalKind::Trace | ArrivalKind::Closed | ArrivalKind::Sessions) {
            return Err(SpecError::at(
                self.arrival.span(),
                format!("arrival = \"{}\" cannot be a phase", kind.name()),
            ));
        }
        match self.duration {
            None => Err(SpecError::at(self.arrival.span(), "each phase needs a `duration`")),
            Some(d) if d.is_zero() => Err(SpecError::at(
                self.arrival.span(),
                "a phase's duration must be above zero",
            )),
            _ => Ok(()),
        }
    }

    /// The process has the keys it needs, each in range.
    fn check_process(&self, kind: ArrivalKind) -> Result<(), SpecError> {
        match kind {
            ArrivalKind::Constant | ArrivalKind::Poisson => {
                self.need(&self.rate, "rate", "requests per second")?;
            }
            ArrivalKind::Ramp => {
                self.need(&self.from, "from", "the starting rate")?;
                self.need(&self.to, "to", "the final rate")?;
                if let Some(o) = &self.over {
                    positive(o, "over")?;
                }
            }
            ArrivalKind::Bursty => {
                self.need(&self.base_rate, "base_rate", "the rate between bursts")?;
                self.need(&self.burst_rate, "burst_rate", "the rate during bursts")?;
                positive(
                    self.need(&self.burst_length, "burst_length", "the mean burst length")?,
                    "burst_length",
                )?;
                positive(
                    self.need(&self.burst_gap, "burst_gap", "the mean time between bursts")?,
                    "burst_gap",
                )?;
            }
            ArrivalKind::Diurnal => {
                self.need(&self.rate, "rate", "the mean rate")?;
                positive(
                    self.need(&self.period, "period", "the length of a cycle, such as \"24h\"")?,
                    "period",
                )?;
                if let Some(a) = &self.amplitude {
                    share(a, "amplitude")?;
                }
                if let Some(p) = &self.peak_at {
                    duration_of(p, "peak_at")?;
                }
            }
            ArrivalKind::Gamma | ArrivalKind::Weibull => {
                self.need(&self.rate, "rate", "requests per second")?;
                let cv = self.need(&self.cv, "cv", "the coefficient of variation of the gaps")?;
                let max = if kind == ArrivalKind::Weibull { 400.0 } else { 1e6 };
                if !(*cv.get_ref() > 0.0 && *cv.get_ref() <= max) {
                    return Err(SpecError::at(
                        cv.span(),
                        format!("cv must be above 0 and at most {max}, got {}", cv.get_ref()),
                    ));
                }
            }
            ArrivalKind::Phases => {
                let phases = self.need(&self.phases, "phases", "a list of processes with durations")?;
                if phases.get_ref().is_empty() {
                    return Err(SpecError::at(phases.span(), "phases must list at least one phase"));
                }
                for p in phases.get_ref() {
                    p.validate_at(false)?;
                }
            }
            ArrivalKind::Trace => {
                let t = self.need(&self.trace, "trace", "[traffic.trace] with file and format")?;
                t.get_ref().validate().map_err(|m| SpecError::at(t.span(), m))?;
            }
            ArrivalKind::Sessions => {
                match (&self.rate, &self.phases) {
                    (Some(_), Some(phases)) => {
                        return Err(SpecError::at(
                            phases.span(),
                            "sessions take `rate` (new conversations per second) or `phases` (when they start, \
                             phase by phase), not both",
                        ));
                    }
                    (None, Some(phases)) => {
                        if phases.get_ref().is_empty() {
                            return Err(SpecError::at(phases.span(), "phases must list at least one phase"));
                        }
                        for p in phases.get_ref() {
                            p.validate_at(false)?;
                        }
                    }
                    _ => {
                        self.need(&self.rate, "rate", "new conversations per second, or `phases`")?;
                    }
                }
                self.need(
                    &self.turns,
                    "turns",
                    "turns per conversation, such as { dist = \"uniform\", min = 1, max = 20 }",
                )?;
            }
            ArrivalKind::Closed => {
                let users = self.need(&self.users, "users", "the number of virtual users")?;
                USERS
                    .check_count("users", u64::from(*users.get_ref()))
                    .map_err(|m| SpecError::at(users.span(), m))?;
                if let Some(r) = &self.ramp_up {
                    duration_of(r, "ramp_up")?;
                }
            }
        }
        Ok(())
    }

    /// Spikes, request sizes, the streamed share and duplicates.
    fn check_extras(&self, kind: ArrivalKind) -> Result<(), SpecError> {
        if let Some(spikes) = &self.spikes {
            for s in spikes.get_ref() {
                SPIKE_FACTOR
                    .check("spikes.factor", s.factor)
                    .map_err(|m| SpecError::at(spikes.span(), m))?;
                WINDOW
                    .check_duration("spikes.length", s.length)
                    .map_err(|m| SpecError::at(spikes.span(), m))?;
            }
            if kind == ArrivalKind::Closed {
                return Err(SpecError::at(
                    spikes.span(),
                    "spikes do not apply to a closed loop (its users send after each answer); sessions take them \
                     as extra new conversations",
                ));
            }
        }
        if let (Some(s), true) = (
            &self.sizes_from,
            self.input_tokens.is_some() || self.output_tokens.is_some(),
        ) {
            return Err(SpecError::at(
                s.span(),
                "sizes_from replaces input_tokens and output_tokens; give one or the other",
            ));
        }
        if let Some(s) = &self.stream_share {
            share(s, "stream_share")?;
        }
        if let Some(d) = &self.duplicates {
            let v = d.get_ref();
            if !(0.0..=1.0).contains(&v.share) || v.keys == 0 || !at_least(v.zipf, 0.0) {
                return Err(SpecError::at(
                    d.span(),
                    "duplicates needs share in 0..=1, keys ≥ 1 and zipf ≥ 0",
                ));
            }
        }
        Ok(())
    }

    /// Lanes: unique names, shares and weights in range.
    fn check_lanes(&self) -> Result<(), SpecError> {
        if let Some(lanes) = &self.lanes {
            let l = lanes.get_ref();
            let mut names: Vec<&str> = l.iter().map(|x| x.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            let bad = l.is_empty()
                || names.len() != l.len()
                || l.iter()
                    .any(|x| x.name.is_empty() || !at_least(x.share, 0.0) || !above(x.weight, 0.0))
                || l.iter().map(|x| x.share).sum::<f64>() <= 0.0
                || l.iter()
                    .any(|x| x.stream_share.is_some_and(|s| !(0.0..=1.0).contains(&s)))
                || l.len() > 64;
            if bad {
                return Err(SpecError::at(
                lanes.span(),
                "lanes need unique non-empty names, shares ≥ 0 adding up to more than 0, weights above 0, stream_share in 0..=1 (at most 64 lanes)",
            ));
            }
            for lane in l {
                let (max, docs) = (super::mix::MAX_SHARED_TOKENS, super::mix::MAX_DOCUMENTS);
                if lane.system_prompt_tokens > max || lane.document_tokens > max {
                    return Err(SpecError::at(
                        lanes.span(),
                        format!(
                            "lane {:?}: system_prompt_tokens and document_tokens must be 0 to {max} (the largest context window), got {} and {}",
                            lane.name, lane.system_prompt_tokens, lane.document_tokens
                        ),
                    ));
                }
                if !(1..=docs).contains(&lane.documents) {
                    return Err(SpecError::at(
                        lanes.span(),
                        format!(
                            "lane {:?}: documents must be 1 to {docs}, got {}",
                            lane.name, lane.documents
                        ),
                    ));
                }
                if let Some(b) = &lane.batch {
                    b.check()
                        .map_err(|m| SpecError::at(lanes.span(), format!("lane {:?}: {m}", lane.name)))?;
                }
            }
        }
        Ok(())
    }

    /// Models: names, and shares in range.
    fn check_models(&self) -> Result<(), SpecError> {
        if let Some(models) = &self.models {
            let m = models.get_ref();
            if m.is_empty()
                || m.iter().any(|x| x.name.is_empty() || !at_least(x.share, 0.0))
                || m.iter().map(|x| x.share).sum::<f64>() <= 0.0
                || m.len() > 200
            {
                return Err(SpecError::at(
                    models.span(),
                    "models need names and shares ≥ 0 adding up to more than 0",
                ));
            }
        }
        Ok(())
    }
}
