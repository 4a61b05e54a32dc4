//! The statistics of a calibration: a straight line by least squares, distributions by maximum
//! likelihood, and the Kolmogorov–Smirnov distance that says how well each fits.

use serde::{Deserialize, Serialize};
use stampede_mock::dist::normal_quantile;

pub use crate::stats::{line, LineFit};

/// The 99th percentile of the standard normal.
const Z99: f64 = 2.326_347_874_040_841;

/// The slope `b` of `x = L + b·u` that makes the residuals `L` most likely under a lognormal
/// law (profile likelihood: for each `b`, the lognormal fitted to `x − b·u` by maximum
/// likelihood), searched between 0 and the largest `b` that leaves every residual positive.
/// Far less noisy than least squares when `L` is skewed, as service times are.
pub fn lognormal_slope(points: &[(f64, f64)]) -> Option<f64> {
    let b_max = points
        .iter()
        .filter(|(u, _)| *u > 0.0)
        .map(|(u, x)| x / u)
        .fold(f64::INFINITY, f64::min);
    if points.len() < 10 || !b_max.is_finite() || b_max <= 0.0 {
        return None;
    }
    let n = points.len() as f64;
    let loglik = |b: f64| {
        let logs: Vec<f64> = points.iter().map(|(u, x)| (x - b * u).max(1e-9).ln()).collect();
        let mu = logs.iter().sum::<f64>() / n;
        let var = logs.iter().map(|l| (l - mu).powi(2)).sum::<f64>() / n;
        -logs.iter().sum::<f64>() - n * 0.5 * var.max(1e-300).ln()
    };
    // A coarse grid, then golden sections around its best point.
    let hi = b_max * (1.0 - 1e-6);
    let steps = 200;
    let best = (0..=steps)
        .map(|i| hi * f64::from(i) / f64::from(steps))
        .max_by(|a, b| loglik(*a).total_cmp(&loglik(*b)))?;
    let step = hi / f64::from(steps);
    let (mut lo, mut up) = ((best - step).max(0.0), (best + step).min(hi));
    let g = 0.618_033_988_749_894_9;
    for _ in 0..60 {
        let (c, d) = (up - g * (up - lo), lo + g * (up - lo));
        if loglik(c) > loglik(d) {
            up = d;
        } else {
            lo = c;
        }
    }
    Some((lo + up) / 2.0)
}

/// A fitted distribution of positive values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "dist", rename_all = "lowercase")]
pub enum Fitted {
    /// Every value the same (the middle 98% within 5% of the median).
    Constant {
        /// The value.
        value: f64,
    },
    /// ln(x) normal: written as the mock writes it, by median and 99th percentile.
    Lognormal {
        /// exp(μ).
        median: f64,
        /// exp(μ + 2.326 σ).
        p99: f64,
    },
    /// Memoryless.
    Exponential {
        /// The mean.
        mean: f64,
    },
}

impl Fitted {
    /// The share of values at or below `x`.
    pub fn cdf(&self, x: f64) -> f64 {
        match *self {
            Fitted::Constant { value } => f64::from(u8::from(x >= value)),
            Fitted::Lognormal { median, p99 } => {
                if x <= 0.0 {
                    return 0.0;
                }
                let sigma = (p99 / median).ln() / Z99;
                if sigma <= 0.0 {
                    return f64::from(u8::from(x >= median));
                }
                0.5 * libm::erfc(-(x / median).ln() / (sigma * std::f64::consts::SQRT_2))
            }
            Fitted::Exponential { mean } => 1.0 - (-x / mean).exp(),
        }
    }

    /// The value below which a share `q` falls.
    pub fn quantile(&self, q: f64) -> f64 {
        match *self {
            Fitted::Constant { value } => value,
            Fitted::Lognormal { median, p99 } => {
                let sigma = (p99 / median).ln() / Z99;
                median * (sigma * normal_quantile(q)).exp()
            }
            Fitted::Exponential { mean } => -mean * (1.0 - q).ln(),
        }
    }

    /// The same law with its figures to four significant digits (what a profile writes).
    pub fn rounded(&self) -> Fitted {
        let r = |v: f64| format!("{v:.3e}").parse().unwrap_or(v);
        match *self {
            Fitted::Constant { value } => Fitted::Constant { value: r(value) },
            Fitted::Lognormal { median, p99 } => Fitted::Lognormal {
                median: r(median),
                p99: r(p99),
            },
            Fitted::Exponential { mean } => Fitted::Exponential { mean: r(mean) },
        }
    }

    /// How its goodness of fit is said: a KS distance, or a constant's spread.
    pub fn fit_figure(&self, ks: f64) -> String {
        match self {
            Fitted::Constant { .. } => format!("spread (p99 − p1) / median {ks:.3}"),
            _ => format!("KS distance {ks:.3}"),
        }
    }

    /// Its name.
    pub fn name(&self) -> &'static str {
        match self {
            Fitted::Constant { .. } => "constant",
            Fitted::Lognormal { .. } => "lognormal",
            Fitted::Exponential { .. } => "exponential",
        }
    }
}

/// A distribution fitted to a sample, with its goodness of fit and the others tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DistFit {
    /// The best fit.
    pub fitted: Fitted,
    /// Its Kolmogorov–Smirnov distance to the sample: the largest gap between the two CDFs (for
    /// a constant: the sample's spread, (p99 − p1) / median).
    pub ks: f64,
    /// The KS distance below which a sample this large from the fitted law falls 95 times in
    /// 100 (1.36 / √n; the parameters were fitted on the same sample, so the test is lenient).
    pub ks_critical: f64,
    /// Values fitted.
    pub n: u64,
    /// Every candidate tried: (name, KS distance).
    pub tried: Vec<(String, f64)>,
    /// The sample's 50th, 95th and 99th percentiles, beside the fit's.
    pub measured: [f64; 3],
}

/// The empirical quantile of sorted values.
pub fn sorted_quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// The Kolmogorov–Smirnov distance between sorted values and a fitted law.
pub fn ks_distance(sorted: &[f64], fitted: &Fitted) -> f64 {
    let n = sorted.len() as f64;
    sorted
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = fitted.cdf(x);
            (f - i as f64 / n).abs().max((f - (i + 1) as f64 / n).abs())
        })
        .fold(0.0, f64::max)
}

/// The best of constant, lognormal (maximum likelihood) and exponential for positive values;
/// `None` for fewer than 10 positive values.
pub fn distribution(values: &[f64]) -> Option<DistFit> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| *v > 0.0 && v.is_finite()).collect();
    if sorted.len() < 10 {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let logs: Vec<f64> = sorted.iter().map(|v| v.ln()).collect();
    let mu = logs.iter().sum::<f64>() / n;
    let sigma = (logs.iter().map(|l| (l - mu).powi(2)).sum::<f64>() / n).sqrt();
    let median = sorted_quantile(&sorted, 0.5);
    let measured = [median, sorted_quantile(&sorted, 0.95), sorted_quantile(&sorted, 0.99)];
    let mut candidates = vec![
        Fitted::Lognormal {
            median: mu.exp(),
            p99: (mu + Z99 * sigma).exp(),
        },
        Fitted::Exponential {
            mean: sorted.iter().sum::<f64>() / n,
        },
    ];
    // A law whose middle 98% lies within 5% of its median is a constant measured with some
    // jitter (a decode speed timed chunk by chunk): the KS distance of a narrow lognormal to such
    // a quantised sample says more about the clock than the law.
    let spread = (sorted_quantile(&sorted, 0.99) - sorted_quantile(&sorted, 0.01)) / median;
    if spread < 0.05 {
        candidates.insert(0, Fitted::Constant { value: median });
    }
    let tried: Vec<(Fitted, f64)> = candidates
        .into_iter()
        .map(|f| {
            // A constant's CDF is a step; judge it by its spread instead.
            let d = if let Fitted::Constant { .. } = f {
                spread
            } else {
                ks_distance(&sorted, &f)
            };
            (f, d)
        })
        .collect();
    let (fitted, ks) = *tried.iter().min_by(|a, b| a.1.total_cmp(&b.1))?;
    Some(DistFit {
        fitted,
        ks,
        ks_critical: 1.36 / n.sqrt(),
        n: sorted.len() as u64,
        tried: tried.iter().map(|(f, d)| (f.name().to_string(), *d)).collect(),
        measured,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, Exp, LogNormal};
    use stampede_mock::rng::stream_rng;

    #[test]
    fn a_lognormal_sample_is_told_from_an_exponential_one_and_its_parameters_recovered() {
        let mut rng = stream_rng(7, "fit");
        let sigma = (3.0f64).ln() / Z99;
        let law = LogNormal::new((0.5f64).ln(), sigma).unwrap();
        let sample: Vec<f64> = (0..5000).map(|_| law.sample(&mut rng)).collect();
        let fit = distribution(&sample).unwrap();
        let Fitted::Lognormal { median, p99 } = fit.fitted else {
            panic!("{fit:?}")
        };
        assert!((median / 0.5 - 1.0).abs() < 0.03, "{median}");
        assert!((p99 / 1.5 - 1.0).abs() < 0.05, "{p99}");
        assert!(fit.ks < fit.ks_critical, "{fit:?}");
        let exp = Exp::new(2.0).unwrap();
        let sample: Vec<f64> = (0..5000).map(|_| exp.sample(&mut rng)).collect();
        let fit = distribution(&sample).unwrap();
        assert_eq!(fit.fitted.name(), "exponential", "{fit:?}");
        let flat = vec![120.0; 50];
        assert_eq!(distribution(&flat).unwrap().fitted, Fitted::Constant { value: 120.0 });
    }

    #[test]
    fn a_line_is_recovered_with_its_error() {
        let points: Vec<(f64, f64)> = (0..100)
            .map(|i| (f64::from(i), 3.0 + 0.5 * f64::from(i) + f64::from(i % 3) - 1.0))
            .collect();
        let l = line(&points).unwrap();
        assert!((l.b - 0.5).abs() < 0.01 && (l.a - 3.0).abs() < 0.5, "{l:?}");
        assert!(l.b_se < 0.01 && l.r2 > 0.99);
        assert!(line(&[(1.0, 1.0), (1.0, 2.0), (1.0, 3.0)]).is_none());
    }
}
