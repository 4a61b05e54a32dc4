//! Seconds as a [`Duration`] without a panic: `Duration::from_secs_f64` panics on NaN, on a
//! negative value and past `u64::MAX` seconds, and an `Instant` plus a huge duration overflows.
//! Every conversion of a computed or user-given number of seconds goes through [`secs`]
//! (clippy's `disallowed-methods` in `clippy.toml` refuses the panicking one).

use std::time::Duration;

/// The longest duration [`secs`] gives: about 31.7 years, far past any run, and small enough
/// that adding it to any `Instant` of a run cannot overflow.
pub const LONGEST: Duration = Duration::from_secs(1_000_000_000);

/// `s` seconds, saturating: NaN and negatives are zero, anything past [`LONGEST`] is
/// [`LONGEST`]. Exact (as `Duration::from_secs_f64`) for every value in between.
pub fn secs(s: f64) -> Duration {
    if s.is_nan() || s <= 0.0 {
        Duration::ZERO
    } else if s >= LONGEST.as_secs_f64() {
        LONGEST
    } else {
        Duration::try_from_secs_f64(s).unwrap_or(LONGEST)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_seconds_saturate_instead_of_panicking() {
        assert_eq!(secs(f64::NAN), Duration::ZERO);
        assert_eq!(secs(-3.0), Duration::ZERO);
        assert_eq!(secs(f64::INFINITY), LONGEST);
        assert_eq!(secs(1e300), LONGEST);
        assert_eq!(secs(1.5), Duration::from_millis(1500));
        assert_eq!(secs(1e-300), Duration::ZERO);
        // Never an overflow when added to a run's instants.
        let now = std::time::Instant::now();
        assert!(now.checked_add(secs(1e308)).is_some());
    }
}
