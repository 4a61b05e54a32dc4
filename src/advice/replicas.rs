//! Advice for a calling plan deployed as several client replicas: the workers and the client
//! rate limit the run's figures call for are the whole deployment's, split here per replica.

use crate::summary::advice::Advice;
use crate::summary::replicas::imbalance;
use crate::summary::Summary;

/// Rewrites the whole-deployment `workers` and `rate_limit` recommendations per replica when
/// the run had more than one.
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
            "rate_limit" if r.value.starts_with('{') => {
                let split = split_limit(&r.value, n);
                r.why.push_str(&format!(
                    " Split over {n} replicas: each replica's own bucket at 1/{n} of it ({split}); or one bucket \
                     every replica shares (a limiter in a shared store: rate_limit.shared = true) at the whole \
                     rate, which lends one replica's idle share to another's burst."
                ));
                r.value = split;
            }
            _ => {}
        }
    }
}

/// `{ rpm = R, tpm = T }` with each number divided by `n` (rounded down, at least 1).
fn split_limit(value: &str, n: u64) -> String {
    let parts: Vec<String> = value
        .trim_matches(|c| c == '{' || c == '}' || c == ' ')
        .split(", ")
        .map(
            |part| match part.split_once(" = ").map(|(k, v)| (k, v.parse::<u64>())) {
                Some((k, Ok(v))) => format!("{k} = {}", (v / n).max(1)),
                _ => part.to_string(),
            },
        )
        .collect();
    format!("{{ {} }}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_limit_is_split_per_replica() {
        assert_eq!(
            super::split_limit("{ rpm = 950, tpm = 95000 }", 4),
            "{ rpm = 237, tpm = 23750 }"
        );
        assert_eq!(super::split_limit("{ rpm = 3 }", 4), "{ rpm = 1 }");
    }
}
