//! Probability distributions as they are written in scenario and profile files.
//!
//! Two families: [`DurationDist`] for times (latency, think time; values are humantime strings
//! such as `"900ms"`) and [`NumberDist`] for quantities (token counts, decode rates). Both are
//! validated while they are deserialized, so a bad table (a p99 below its median, a negative
//! mean) is reported by the TOML parser with the line and column of the offending table.
//!
//! A lognormal is written as its median and 99th percentile because that is how people know
//! their latencies; `sigma = ln(p99 / median) / z(0.99)`.

use crate::duration::secs as secs_f64;
use std::time::Duration;

use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp, LogNormal, Normal};
use serde::{Deserialize, Serialize};

/// The 99th-percentile point of the standard normal distribution.
pub const Z99: f64 = 2.326_347_874_040_841;

/// A distribution of durations: `{ dist = "lognormal", median = "900ms", p99 = "6s" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "RawDurationDist", into = "RawDurationDist")]
pub enum DurationDist {
    /// Always the same value.
    Constant(Duration),
    /// Exponential with the given mean (memoryless service times, as in M/M/c).
    Exponential(Duration),
    /// Lognormal given by its median and 99th percentile.
    Lognormal {
        /// 50th percentile.
        median: Duration,
        /// 99th percentile; at least the median.
        p99: Duration,
    },
    /// Uniform between two values.
    Uniform {
        /// Smallest value.
        min: Duration,
        /// Largest value.
        max: Duration,
    },
}

/// The written form of [`DurationDist`], checked by `TryFrom`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
enum RawDurationDist {
    Constant {
        #[serde(with = "humantime_serde")]
        #[schemars(with = "String")]
        value: Duration,
    },
    Exponential {
        #[serde(with = "humantime_serde")]
        #[schemars(with = "String")]
        mean: Duration,
    },
    Lognormal {
        #[serde(with = "humantime_serde")]
        #[schemars(with = "String")]
        median: Duration,
        #[serde(with = "humantime_serde")]
        #[schemars(with = "String")]
        p99: Duration,
    },
    Uniform {
        #[serde(with = "humantime_serde")]
        #[schemars(with = "String")]
        min: Duration,
        #[serde(with = "humantime_serde")]
        #[schemars(with = "String")]
        max: Duration,
    },
}

impl TryFrom<RawDurationDist> for DurationDist {
    type Error = String;

    fn try_from(raw: RawDurationDist) -> Result<Self, String> {
        Ok(match raw {
            RawDurationDist::Constant { value } => DurationDist::Constant(value),
            RawDurationDist::Exponential { mean } => DurationDist::Exponential(mean),
            RawDurationDist::Lognormal { median, p99 } => {
                if median.is_zero() {
                    return Err("lognormal median must be above zero".into());
                }
                if p99 < median {
                    return Err(format!(
                        "lognormal p99 ({}) must be at least its median ({})",
                        humantime::format_duration(p99),
                        humantime::format_duration(median)
                    ));
                }
                DurationDist::Lognormal { median, p99 }
            }
            RawDurationDist::Uniform { min, max } => {
                if max < min {
                    return Err("uniform max must be at least min".into());
                }
                DurationDist::Uniform { min, max }
            }
        })
    }
}

impl From<DurationDist> for RawDurationDist {
    fn from(d: DurationDist) -> Self {
        match d {
            DurationDist::Constant(value) => RawDurationDist::Constant { value },
            DurationDist::Exponential(mean) => RawDurationDist::Exponential { mean },
            DurationDist::Lognormal { median, p99 } => RawDurationDist::Lognormal { median, p99 },
            DurationDist::Uniform { min, max } => RawDurationDist::Uniform { min, max },
        }
    }
}

impl DurationDist {
    /// Builds a sampler; cheap to call, but callers that sample often should keep it.
    pub fn sampler(&self) -> DurationSampler {
        DurationSampler(match *self {
            DurationDist::Constant(v) => Sampler::Constant(v.as_secs_f64()),
            DurationDist::Exponential(mean) => Sampler::exponential(mean.as_secs_f64()),
            DurationDist::Lognormal { median, p99 } => Sampler::lognormal(median.as_secs_f64(), p99.as_secs_f64()),
            DurationDist::Uniform { min, max } => Sampler::Uniform(min.as_secs_f64(), max.as_secs_f64()),
        })
    }

    /// The mean of the distribution, used by analytic first guesses (Little's law, Erlang C).
    pub fn mean(&self) -> Duration {
        secs_f64(self.sampler().0.mean())
    }

    /// Every value times `factor` (the planner's "slower region" what-if).
    pub fn scaled(&self, factor: f64) -> DurationDist {
        let f = |d: Duration| d.mul_f64(factor.max(0.0));
        match *self {
            DurationDist::Constant(v) => DurationDist::Constant(f(v)),
            DurationDist::Exponential(mean) => DurationDist::Exponential(f(mean)),
            DurationDist::Lognormal { median, p99 } => DurationDist::Lognormal {
                median: f(median),
                p99: f(p99),
            },
            DurationDist::Uniform { min, max } => DurationDist::Uniform {
                min: f(min),
                max: f(max),
            },
        }
    }

    /// A quantile of the distribution (0 < q < 1), used by the planner for timeouts.
    pub fn quantile(&self, q: f64) -> Duration {
        secs_f64(self.sampler().0.quantile(q).max(0.0))
    }
}

/// A prepared [`DurationDist`].
#[derive(Debug, Clone)]
pub struct DurationSampler(Sampler);

impl DurationSampler {
    /// Draws one duration.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        secs_f64(self.0.sample(rng).max(0.0))
    }
}

/// A distribution of non-negative quantities: a bare number means a constant
/// (`output_tokens = 300`), or a table such as `{ dist = "lognormal", median = 800, p99 = 6000 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "RawNumberDist", into = "RawNumberDist")]
pub enum NumberDist {
    /// Always the same value.
    Constant(f64),
    /// Uniform between two values.
    Uniform {
        /// Smallest value.
        min: f64,
        /// Largest value.
        max: f64,
    },
    /// Normal, truncated at zero.
    Normal {
        /// Mean of the distribution.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// Lognormal given by its median and 99th percentile.
    Lognormal {
        /// 50th percentile.
        median: f64,
        /// 99th percentile; at least the median.
        p99: f64,
    },
    /// Exponential with the given mean.
    Exponential {
        /// Mean of the distribution.
        mean: f64,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
enum RawNumberDist {
    Number(f64),
    Table(NumberTable),
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
enum NumberTable {
    Constant { value: f64 },
    Uniform { min: f64, max: f64 },
    Normal { mean: f64, std: f64 },
    Lognormal { median: f64, p99: f64 },
    Exponential { mean: f64 },
}

impl TryFrom<RawNumberDist> for NumberDist {
    type Error = String;

    fn try_from(raw: RawNumberDist) -> Result<Self, String> {
        let table = match raw {
            RawNumberDist::Number(v) => NumberTable::Constant { value: v },
            RawNumberDist::Table(t) => t,
        };
        let non_negative = |name: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(format!("{name} must be a finite number ≥ 0, got {v}"))
            }
        };
        Ok(match table {
            NumberTable::Constant { value } => {
                non_negative("value", value)?;
                NumberDist::Constant(value)
            }
            NumberTable::Uniform { min, max } => {
                non_negative("min", min)?;
                non_negative("max", max)?;
                if max < min {
                    return Err("uniform max must be at least min".into());
                }
                NumberDist::Uniform { min, max }
            }
            NumberTable::Normal { mean, std } => {
                non_negative("mean", mean)?;
                non_negative("std", std)?;
                NumberDist::Normal { mean, std }
            }
            NumberTable::Lognormal { median, p99 } => {
                non_negative("median", median)?;
                if median <= 0.0 {
                    return Err("lognormal median must be above zero".into());
                }
                if p99.is_nan() || p99 < median {
                    return Err(format!("lognormal p99 ({p99}) must be at least its median ({median})"));
                }
                NumberDist::Lognormal { median, p99 }
            }
            NumberTable::Exponential { mean } => {
                non_negative("mean", mean)?;
                NumberDist::Exponential { mean }
            }
        })
    }
}

impl From<NumberDist> for RawNumberDist {
    fn from(d: NumberDist) -> Self {
        match d {
            NumberDist::Constant(v) => RawNumberDist::Number(v),
            NumberDist::Uniform { min, max } => RawNumberDist::Table(NumberTable::Uniform { min, max }),
            NumberDist::Normal { mean, std } => RawNumberDist::Table(NumberTable::Normal { mean, std }),
            NumberDist::Lognormal { median, p99 } => RawNumberDist::Table(NumberTable::Lognormal { median, p99 }),
            NumberDist::Exponential { mean } => RawNumberDist::Table(NumberTable::Exponential { mean }),
        }
    }
}

impl NumberDist {
    /// Builds a sampler.
    pub fn sampler(&self) -> NumberSampler {
        NumberSampler(match *self {
            NumberDist::Constant(v) => Sampler::Constant(v),
            NumberDist::Uniform { min, max } => Sampler::Uniform(min, max),
            NumberDist::Normal { mean, std } => match Normal::new(mean, std) {
                Ok(n) => Sampler::Normal(n),
                Err(_) => Sampler::Constant(mean),
            },
            NumberDist::Lognormal { median, p99 } => Sampler::lognormal(median, p99),
            NumberDist::Exponential { mean } => Sampler::exponential(mean),
        })
    }

    /// The mean of the distribution (of the untruncated form for `normal`).
    pub fn mean(&self) -> f64 {
        self.sampler().0.mean()
    }

    /// A quantile of the distribution (0 < q < 1).
    pub fn quantile(&self, q: f64) -> f64 {
        self.sampler().0.quantile(q).max(0.0)
    }
}

/// A prepared [`NumberDist`].
#[derive(Debug, Clone)]
pub struct NumberSampler(Sampler);

impl NumberSampler {
    /// Draws one value (never negative).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        self.0.sample(rng).max(0.0)
    }

    /// Draws one count: rounded to the nearest integer, at least `floor`.
    pub fn sample_count<R: Rng + ?Sized>(&self, rng: &mut R, floor: u32) -> u32 {
        let v = self.sample(rng).round();
        (v.min(u32::MAX as f64) as u32).max(floor)
    }
}

#[derive(Debug, Clone)]
enum Sampler {
    Constant(f64),
    Uniform(f64, f64),
    Exponential(Exp<f64>, f64),
    Normal(Normal<f64>),
    Lognormal(LogNormal<f64>, f64, f64),
}

impl Sampler {
    fn exponential(mean: f64) -> Sampler {
        if mean <= 0.0 {
            return Sampler::Constant(0.0);
        }
        Sampler::Exponential(Exp::new(1.0 / mean).expect("rate is positive"), mean)
    }

    fn lognormal(median: f64, p99: f64) -> Sampler {
        let mu = median.ln();
        let sigma = (p99 / median).ln() / Z99;
        match LogNormal::new(mu, sigma) {
            Ok(d) if sigma > 0.0 => Sampler::Lognormal(d, mu, sigma),
            _ => Sampler::Constant(median),
        }
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Sampler::Constant(v) => *v,
            Sampler::Uniform(a, b) => {
                if b > a {
                    rng.random_range(*a..*b)
                } else {
                    *a
                }
            }
            Sampler::Exponential(d, _) => d.sample(rng),
            Sampler::Normal(d) => d.sample(rng),
            Sampler::Lognormal(d, _, _) => d.sample(rng),
        }
    }

    fn mean(&self) -> f64 {
        match self {
            Sampler::Constant(v) => *v,
            Sampler::Uniform(a, b) => (a + b) / 2.0,
            Sampler::Exponential(_, mean) => *mean,
            Sampler::Normal(d) => d.mean(),
            Sampler::Lognormal(_, mu, sigma) => (mu + sigma * sigma / 2.0).exp(),
        }
    }

    fn quantile(&self, q: f64) -> f64 {
        match self {
            Sampler::Constant(v) => *v,
            Sampler::Uniform(a, b) => a + (b - a) * q,
            Sampler::Exponential(_, mean) => -mean * (1.0 - q).ln(),
            Sampler::Normal(d) => d.mean() + d.std_dev() * normal_quantile(q),
            Sampler::Lognormal(_, mu, sigma) => (mu + sigma * normal_quantile(q)).exp(),
        }
    }
}

/// The standard normal quantile function (Acklam's rational approximation, |error| < 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let plow = 0.02425;
    if p < plow {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - plow {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream_rng;

    #[derive(Deserialize, schemars::JsonSchema)]
    struct Holder {
        d: DurationDist,
        n: NumberDist,
    }

    fn parse(src: &str) -> Result<Holder, toml::de::Error> {
        toml::from_str(src)
    }

    #[test]
    fn parses_each_form() {
        let h = parse("d = { dist = \"lognormal\", median = \"900ms\", p99 = \"6s\" }\nn = 300\n").unwrap();
        assert_eq!(
            h.d,
            DurationDist::Lognormal {
                median: Duration::from_millis(900),
                p99: Duration::from_secs(6)
            }
        );
        assert_eq!(h.n, NumberDist::Constant(300.0));
        let h = parse("d = { dist = \"exponential\", mean = \"1s\" }\nn = { dist = \"uniform\", min = 1, max = 9 }\n")
            .unwrap();
        assert_eq!(h.d, DurationDist::Exponential(Duration::from_secs(1)));
        assert_eq!(h.n, NumberDist::Uniform { min: 1.0, max: 9.0 });
    }

    #[test]
    fn rejects_p99_below_median_with_position() {
        let err = parse("n = 1\nd = { dist = \"lognormal\", median = \"2s\", p99 = \"1s\" }\n")
            .err()
            .expect("must fail");
        let text = err.to_string();
        assert!(text.contains("line 2"), "{text}");
        assert!(text.contains("must be at least its median"), "{text}");
    }

    #[test]
    fn rejects_unknown_key_and_negative_values() {
        assert!(parse("d = { dist = \"constant\", valu = \"1s\" }\nn = 1\n").is_err());
        let err = parse("d = { dist = \"constant\", value = \"1s\" }\nn = -4\n")
            .err()
            .unwrap();
        assert!(err.to_string().contains("≥ 0"), "{err}");
    }

    #[test]
    fn lognormal_hits_its_median_and_p99() {
        let d = DurationDist::Lognormal {
            median: Duration::from_millis(900),
            p99: Duration::from_secs(6),
        };
        let s = d.sampler();
        let mut rng = stream_rng(7, "test");
        let mut v: Vec<f64> = (0..200_000).map(|_| s.sample(&mut rng).as_secs_f64()).collect();
        v.sort_by(f64::total_cmp);
        let median = v[v.len() / 2];
        let p99 = v[v.len() * 99 / 100];
        assert!((median - 0.9).abs() / 0.9 < 0.02, "median {median}");
        assert!((p99 - 6.0).abs() / 6.0 < 0.05, "p99 {p99}");
        assert!((d.quantile(0.99).as_secs_f64() - 6.0).abs() < 1e-6);
    }

    #[test]
    fn exponential_mean_and_quantile() {
        let d = NumberDist::Exponential { mean: 2.0 };
        let s = d.sampler();
        let mut rng = stream_rng(1, "exp");
        let n = 200_000;
        let mean: f64 = (0..n).map(|_| s.sample(&mut rng)).sum::<f64>() / n as f64;
        assert!((mean - 2.0).abs() < 0.03, "mean {mean}");
        assert!((d.quantile(0.5) - 2.0 * 2f64.ln()).abs() < 1e-9);
    }

    #[test]
    fn normal_quantile_matches_tables() {
        assert!((normal_quantile(0.99) - Z99).abs() < 1e-8);
        assert!((normal_quantile(0.5)).abs() < 1e-12);
        assert!((normal_quantile(0.025) + 1.959_963_985).abs() < 1e-8);
    }

    #[test]
    fn counts_respect_floor() {
        let s = NumberDist::Constant(0.0).sampler();
        let mut rng = stream_rng(1, "c");
        assert_eq!(s.sample_count(&mut rng, 1), 1);
    }
}
