//! Renewal processes with a chosen burstiness: independent gaps from a gamma or a Weibull
//! distribution with mean `1 / rate` and coefficient of variation `cv`.
//!
//! CV 1 is Poisson; real LLM traces are far burstier (the Azure 2023 code trace has a CV of
//! about 13). Gamma: shape `k = 1 / cv²`, scale `1 / (rate · k)`. Weibull: shape `k` solves
//! `cv² = Γ(1 + 2/k) / Γ(1 + 1/k)² − 1` (found by bisection), scale `1 / (rate · Γ(1 + 1/k))`.

use stampede_mock::duration::secs as secs_f64;
use std::time::Duration;

use rand_distr::{Distribution, Gamma, Weibull};
use stampede_mock::rng::StreamRng;

use super::arrival::ArrivalProcess;

/// Which family the gaps come from.
#[derive(Debug, Clone, Copy)]
enum Gaps {
    Gamma(Gamma<f64>),
    Weibull(Weibull<f64>),
}

/// A renewal process.
#[derive(Debug, Clone)]
pub struct Renewal {
    rate: f64,
    gaps: Gaps,
}

/// The coefficient of variation of a Weibull with shape `k`.
pub fn weibull_cv(k: f64) -> f64 {
    let g1 = libm::tgamma(1.0 + 1.0 / k);
    let g2 = libm::tgamma(1.0 + 2.0 / k);
    (g2 / (g1 * g1) - 1.0).max(0.0).sqrt()
}

/// The Weibull shape whose CV is `cv` (CV falls as the shape grows).
pub fn weibull_shape_for_cv(cv: f64) -> f64 {
    let (mut lo, mut hi) = (0.02f64, 200.0f64);
    for _ in 0..200 {
        let mid = (lo * hi).sqrt();
        if weibull_cv(mid) > cv {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo * hi).sqrt()
}

impl Renewal {
    /// Gamma gaps: mean `1 / rate`, coefficient of variation `cv` (both above zero).
    pub fn gamma(rate: f64, cv: f64) -> Renewal {
        let k = 1.0 / (cv * cv);
        Renewal {
            rate,
            gaps: Gaps::Gamma(Gamma::new(k, 1.0 / (rate * k)).expect("positive shape and scale")),
        }
    }

    /// Weibull gaps: mean `1 / rate`, coefficient of variation `cv` (both above zero; CV up to
    /// about 400).
    pub fn weibull(rate: f64, cv: f64) -> Renewal {
        let k = weibull_shape_for_cv(cv);
        let scale = 1.0 / (rate * libm::tgamma(1.0 + 1.0 / k));
        Renewal {
            rate,
            gaps: Gaps::Weibull(Weibull::new(scale, k).expect("positive shape and scale")),
        }
    }
}

impl ArrivalProcess for Renewal {
    fn next(&mut self, prev: Duration, _count: u64, rng: &mut StreamRng) -> Option<Duration> {
        let gap = match &self.gaps {
            Gaps::Gamma(g) => g.sample(rng),
            Gaps::Weibull(w) => w.sample(rng),
        };
        Some(prev + secs_f64(gap))
    }

    fn mean_rate(&self) -> f64 {
        self.rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::arrival::tests::{rate_and_cv, times};

    #[test]
    fn weibull_shape_table() {
        // Shape 1 is the exponential (CV 1); shape 2 has CV 0.5227.
        assert!((weibull_cv(1.0) - 1.0).abs() < 1e-9);
        assert!((weibull_cv(2.0) - 0.522_723).abs() < 1e-5);
        for cv in [0.3, 1.0, 3.0, 13.0] {
            assert!((weibull_cv(weibull_shape_for_cv(cv)) / cv - 1.0).abs() < 1e-6, "{cv}");
        }
    }

    #[test]
    fn gamma_and_weibull_hit_rate_and_cv() {
        // Higher CVs need longer runs to show their CV; the table says how many gaps.
        let table = [(0.5, 200_000), (1.0, 200_000), (3.0, 400_000), (5.0, 2_000_000)];
        for (cv, n) in table {
            for (name, mut p) in [
                ("gamma", Renewal::gamma(20.0, cv)),
                ("weibull", Renewal::weibull(20.0, cv)),
            ] {
                let t = times(&mut p, n, 13);
                let (rate, got) = rate_and_cv(&t);
                assert!((rate / 20.0 - 1.0).abs() < 0.03, "{name} cv {cv}: rate {rate}");
                assert!((got / cv - 1.0).abs() < 0.05, "{name}: cv {got} vs {cv}");
            }
        }
    }
}
