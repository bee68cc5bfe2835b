//! Threshold comparisons that give the same answer whatever the units.
//!
//! The runbook's rules read "> 5 %" and "> 50 %". Computed in floating point, a ratio can land a few
//! units in the last place either side of the line depending on the units the inputs were given in:
//! `2.1 / 1.4 - 1` is `0.5000000000000002` while `2100 / 1400 - 1` is exactly `0.5`. Read literally,
//! the first is "> 50 %" and declares a P1, the second does not.
//!
//! [`exceeds`] fixes that with a documented **relative tolerance** of [`RELATIVE_TOLERANCE`] (`1e-9`):
//! `observed` exceeds `limit` only when it is larger by more than `1e-9 ×` the larger magnitude of the
//! two. Rounding error of a few operations (about `1e-16` relative) is far inside it, and any real
//! difference a human can measure (a latency of 2.1000001 s against 1.4 s is already `5e-8` over) is far
//! outside it. So exactly +50 % is never "> 50 %", in seconds or in milliseconds.
//!
//! Every "> X" rule of the detector ([`crate::detector`]) and of the classifier ([`crate::classify`])
//! goes through [`exceeds`]; "at or below X" is its negation.

/// The relative tolerance of [`exceeds`]: differences up to `1e-9 ×` the larger magnitude are equal.
pub const RELATIVE_TOLERANCE: f64 = 1e-9;

/// Whether `observed` is strictly more than `limit`, beyond floating-point noise (see the module docs).
///
/// NaN never exceeds anything, and nothing exceeds NaN. Infinite values compare as usual.
#[must_use]
pub fn exceeds(observed: f64, limit: f64) -> bool {
    if observed.is_nan() || limit.is_nan() || observed <= limit {
        return false;
    }
    if observed.is_infinite() || limit.is_infinite() {
        return true;
    }
    let scale = observed.abs().max(limit.abs());
    observed - limit > RELATIVE_TOLERANCE * scale
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn fifty_percent_is_not_more_than_fifty_percent_in_any_unit() {
        let secs = 2.1_f64 / 1.4 - 1.0;
        let millis = 2100.0_f64 / 1400.0 - 1.0;
        assert!(secs > 0.5, "the float noise this module exists for: {secs}");
        assert!(!exceeds(secs, 0.5));
        assert!(!exceeds(millis, 0.5));
        assert!(!exceeds(secs * 100.0, 50.0));
        assert!(exceeds(2.2 / 1.4 - 1.0, 0.5));
        assert!(exceeds(2.1000001 / 1.4 - 1.0, 0.5));
    }

    #[test]
    fn edge_values() {
        assert!(!exceeds(f64::NAN, 0.0));
        assert!(!exceeds(1.0, f64::NAN));
        assert!(exceeds(f64::INFINITY, 1.0));
        assert!(!exceeds(1.0, f64::INFINITY));
        assert!(exceeds(1e-300, 0.0));
        assert!(!exceeds(0.0, 0.0));
        assert!(!exceeds(0.05, 0.05));
        assert!(exceeds(0.0500001, 0.05));
        assert!(!exceeds(-1.0, 0.0));
    }

    proptest! {
        /// Scaling both sides by a power of ten (a change of units) never changes the answer for
        /// ratios computed from them.
        #[test]
        fn ratio_answer_does_not_depend_on_units(num in 1u32..100_000, den in 1u32..100_000, exp in 0i32..7) {
            let scale = 10f64.powi(exp);
            let a = f64::from(num) / f64::from(den) - 1.0;
            let b = (f64::from(num) * scale) / (f64::from(den) * scale) - 1.0;
            for limit in [0.05, 0.5, 1.0] {
                prop_assert_eq!(exceeds(a, limit), exceeds(b, limit));
            }
        }
    }
}
