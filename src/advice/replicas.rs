//! Advice for a calling plan deployed as several client replicas: the workers and the client
//! rate limit the run's figures call for are the whole deployment's: the workers are split here
//! per replica (the rate limit is split where it is advised), with the sentences that say so.

use crate::summary::advice::Advice;
use crate::summary::replicas::imbalance;
use crate::summary::Summary;

/// Rewrites the whole-deployment `workers` recommendation per replica, and says how the
/// per-replica client rate limit splits the quota, when the run had more than one replica.
pub(super) fn per_replica(s: &Summary, a: &mut Advice) {
    let st = &s.run.strategy;
    let n = u64::from(st.replicas);
    if n < 2 {
        return;
    }
    // As the sentence prints it: a round-robin's half a request of difference is not a load.
    let spread = (imbalance(&s.replicas).unwrap_or(1.0) * 100.0).round() / 100.0;
    for r in &mut a.recommendations {
        match r.setting.as_str() {
            "workers" => {
                let Ok(total) = r.value.parse::<u64>() else { continue };
                // The busiest replica gets more than the mean: size each for it.
                let each = ((total as f64 / n as f64) * spread).ceil().max(1.0) as u64;
                r.why.push_str(&format!(
                    " That is the whole deployment's: over {n} replicas behind the {} balancer, whose busiest \
                     replica was given {spread:.2}x the mean load here, {each} workers each ({} in all).",
                    st.balance.as_str(),
                    each * n
                ));
                r.value = each.to_string();
                r.current = format!("{} per replica", st.workers);
            }
            // The bucket itself is already one replica's (`client_bucket`).
            "rate_limit" if r.value.starts_with('{') => r.why.push_str(&format!(
                " Split over {n} replicas: each replica's own bucket at 1/{n} of it ({}); or one bucket every \
                 replica shares (a limiter in a shared store: rate_limit.shared = true) at the whole rate, which \
                 lends one replica's idle share to another's burst.",
                r.value
            )),
            _ => {}
        }
    }
}
