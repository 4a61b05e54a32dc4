//! Queueing formulas (overload-control.md): Erlang B and C, M/M/c waits, Little's law.
//!
//! Used by the tests that hold the simulator to theory, and by the planner for its first guess
//! before it confirms by simulation.

/// Erlang B blocking probability for offered load `a` (erlangs) on `c` servers, by the stable
/// recursion `B_0 = 1, B_k = a·B_{k-1} / (k + a·B_{k-1})`.
pub fn erlang_b(c: u32, a: f64) -> f64 {
    (1..=c).fold(1.0, |b, k| a * b / (f64::from(k) + a * b))
}

/// Erlang C: the probability an arrival has to wait, `C = c·B / (c − a·(1 − B))`; 1 when the
/// load reaches the capacity.
pub fn erlang_c(c: u32, a: f64) -> f64 {
    if a >= f64::from(c) {
        return 1.0;
    }
    let b = erlang_b(c, a);
    f64::from(c) * b / (f64::from(c) - a * (1.0 - b))
}

/// An M/M/c queue: Poisson arrivals at `lambda` per second, exponential service with mean
/// `service_s` seconds, `c` servers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MMc {
    /// Arrival rate (per second).
    pub lambda: f64,
    /// Mean service time (seconds).
    pub service_s: f64,
    /// Servers (workers).
    pub c: u32,
}

impl MMc {
    /// Offered load in erlangs, `a = λ·S`.
    pub fn load(&self) -> f64 {
        self.lambda * self.service_s
    }

    /// Utilisation `ρ = a / c`.
    pub fn utilisation(&self) -> f64 {
        self.load() / f64::from(self.c)
    }

    /// Probability of waiting (Erlang C).
    pub fn p_wait(&self) -> f64 {
        erlang_c(self.c, self.load())
    }

    /// Mean queue wait `Wq = C / (c·μ − λ)` in seconds (infinite when unstable).
    pub fn mean_wait_s(&self) -> f64 {
        let mu = 1.0 / self.service_s;
        let spare = f64::from(self.c) * mu - self.lambda;
        if spare <= 0.0 {
            f64::INFINITY
        } else {
            self.p_wait() / spare
        }
    }

    /// `P(Wq > t) = C·e^{−(c·μ − λ)·t}`.
    pub fn p_wait_longer(&self, t_s: f64) -> f64 {
        let mu = 1.0 / self.service_s;
        let spare = f64::from(self.c) * mu - self.lambda;
        if spare <= 0.0 {
            1.0
        } else {
            self.p_wait() * (-spare * t_s).exp()
        }
    }

    /// The `q` quantile of the queue wait (0 when `q` is below the chance of not waiting).
    pub fn wait_quantile_s(&self, q: f64) -> f64 {
        let c = self.p_wait();
        let mu = 1.0 / self.service_s;
        let spare = f64::from(self.c) * mu - self.lambda;
        if spare <= 0.0 {
            return f64::INFINITY;
        }
        if 1.0 - q >= c {
            0.0
        } else {
            (c / (1.0 - q)).ln() / spare
        }
    }
}

impl MMc {
    /// `P(T > t)` for the response time `T` = queue wait + service (FIFO): with
    /// `γ = c·μ − λ`, `(1 − C)·e^{−μt} + C·(γ·e^{−μt} − μ·e^{−γt}) / (γ − μ)`.
    pub fn p_response_longer(&self, t_s: f64) -> f64 {
        let mu = 1.0 / self.service_s;
        let gamma = f64::from(self.c) * mu - self.lambda;
        if gamma <= 0.0 {
            return 1.0;
        }
        let c = self.p_wait();
        let service = (-mu * t_s).exp();
        let waited = if (gamma - mu).abs() < 1e-9 * mu {
            (1.0 + mu * t_s) * service
        } else {
            (gamma * service - mu * (-gamma * t_s).exp()) / (gamma - mu)
        };
        (1.0 - c) * service + c * waited
    }

    /// The fewest servers whose response-time `q` quantile is at most `target_s` for arrivals
    /// at `lambda` and mean service `service_s`; `None` past `max_c`.
    pub fn servers_for_response(lambda: f64, service_s: f64, q: f64, target_s: f64, max_c: u32) -> Option<u32> {
        (1..=max_c).find(|&c| MMc { lambda, service_s, c }.p_response_longer(target_s) <= 1.0 - q)
    }
}

/// Little's law: requests in flight `L = λ·W`.
pub fn littles_law(lambda: f64, w_s: f64) -> f64 {
    lambda * w_s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_time_tail_has_the_right_limits() {
        // One server, no queue to speak of: T is the service time, P(T > t) = e^{−t/S}.
        let q = MMc {
            lambda: 1e-9,
            service_s: 2.0,
            c: 1,
        };
        assert!((q.p_response_longer(2.0) - (-1.0f64).exp()).abs() < 1e-6);
        // M/M/1: T is exponential with rate μ − λ.
        let q = MMc {
            lambda: 0.5,
            service_s: 1.0,
            c: 1,
        };
        assert!((q.p_response_longer(3.0) - (-1.5f64).exp()).abs() < 1e-9);
        // γ = μ (c·μ − λ = μ) takes the limit branch and agrees with a nearby λ.
        let near = MMc {
            lambda: 1.0 + 1e-6,
            service_s: 1.0,
            c: 2,
        }
        .p_response_longer(2.0);
        let at = MMc {
            lambda: 1.0,
            service_s: 1.0,
            c: 2,
        }
        .p_response_longer(2.0);
        assert!((near - at).abs() < 1e-5, "{near} {at}");
        // 20/s at 1 s each: 20 servers are unstable, p95 ≤ 3.5 s needs a few more.
        let c = MMc::servers_for_response(20.0, 1.0, 0.95, 3.5, 100).unwrap();
        assert!((21..=30).contains(&c), "{c}");
        assert!(
            MMc {
                lambda: 20.0,
                service_s: 1.0,
                c
            }
            .p_response_longer(3.5)
                <= 0.05
        );
        assert!(
            MMc {
                lambda: 20.0,
                service_s: 1.0,
                c: c - 1
            }
            .p_response_longer(3.5)
                > 0.05
        );
    }

    #[test]
    fn erlang_values_match_published_tables() {
        // Classic table values: B(10, 5) = 0.01838, C(10, 8) ≈ 0.4092, C(2, 1) = 1/3.
        assert!((erlang_b(10, 5.0) - 0.018_384).abs() < 1e-5);
        assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
        assert!((erlang_c(10, 8.0) - 0.409_2).abs() < 1e-3);
        assert_eq!(erlang_c(4, 4.0), 1.0);
        // M/M/1: C = ρ, Wq = ρ / (μ − λ).
        let q = MMc {
            lambda: 0.5,
            service_s: 1.0,
            c: 1,
        };
        assert!((q.p_wait() - 0.5).abs() < 1e-12);
        assert!((q.mean_wait_s() - 1.0).abs() < 1e-12);
        assert!((q.wait_quantile_s(0.5) - 0.0).abs() < 1e-12);
        assert!((q.p_wait_longer(q.wait_quantile_s(0.9)) - 0.1).abs() < 1e-12);
    }
}
