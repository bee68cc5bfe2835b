//! Deterministic fault injection.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::Error;

/// Faults injected into every simulated backend call, deterministic from `seed`.
///
/// Rates are probabilities in `0.0..=1.0` drawn once per call, in this order: `error_rate`
/// (`Unavailable`, "InternalError"), `throttle_rate` (`Unavailable`, "Throttling: Rate exceeded"),
/// `timeout_rate` (`Timeout`; for a mutation half of the timeouts happen *after* the change was applied and
/// carry [`Error::request_may_have_been_sent`]). Independently, `latency_spike_rate` adds `latency_spike`
/// to a call's latency. A region in `dark_regions` fails every call addressed to it with `Unavailable`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Probability of a 5xx-like `Unavailable` error.
    pub error_rate: f64,
    /// Probability of a throttling `Unavailable` error.
    pub throttle_rate: f64,
    /// Probability of a `Timeout`.
    pub timeout_rate: f64,
    /// Probability of a latency spike.
    pub latency_spike_rate: f64,
    /// Extra latency of a spike (YAML: `2s`, `500ms`, or a number of milliseconds).
    #[serde(with = "duration_text")]
    pub latency_spike: Duration,
    /// Seed of the deterministic draws.
    pub seed: u64,
    /// Regions where every call fails with `Unavailable`.
    pub dark_regions: Vec<String>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            error_rate: 0.0,
            throttle_rate: 0.0,
            timeout_rate: 0.0,
            latency_spike_rate: 0.0,
            latency_spike: Duration::from_secs(2),
            seed: 0,
            dark_regions: Vec::new(),
        }
    }
}

/// Virtual time a timed-out call costs its caller.
pub(crate) const TIMEOUT_COST: Duration = Duration::from_secs(10);

/// What the fault draw decided for one call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Draw {
    /// Proceed normally.
    Ok,
    /// Fail before doing anything.
    Fail(Error),
    /// Time out; for mutations `after_apply` says whether the change is applied first.
    Timeout {
        /// The mutation is applied before the timeout is reported.
        after_apply: bool,
    },
}

impl Faults {
    /// Check rates and the seed-independent parts.
    pub(crate) fn validate(&self) -> crate::Result<()> {
        for (name, v) in [
            ("error_rate", self.error_rate),
            ("throttle_rate", self.throttle_rate),
            ("timeout_rate", self.timeout_rate),
            ("latency_spike_rate", self.latency_spike_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::invalid_input(format!("faults.{name} must be within 0..=1, got {v}")));
            }
        }
        Ok(())
    }

    /// The deterministic draw for call number `call` (extra latency, outcome).
    pub(crate) fn draw(&self, call: u64, what: &str) -> (Duration, Draw) {
        let mut rng = SmallRng::seed_from_u64(self.seed ^ call.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let r: f64 = rng.random();
        let spike: f64 = rng.random();
        let side: bool = rng.random();
        let extra = if spike < self.latency_spike_rate { self.latency_spike } else { Duration::ZERO };
        let mut edge = self.error_rate;
        if r < edge {
            return (extra, Draw::Fail(Error::unavailable(format!("{what}: InternalError (500): injected fault"))));
        }
        edge += self.throttle_rate;
        if r < edge {
            return (extra, Draw::Fail(Error::unavailable(format!("{what}: Throttling: Rate exceeded"))));
        }
        edge += self.timeout_rate;
        if r < edge {
            return (extra, Draw::Timeout { after_apply: side });
        }
        (extra, Draw::Ok)
    }

    /// Whether `region` is dark.
    pub(crate) fn is_dark(&self, region: &str) -> bool {
        self.dark_regions.iter().any(|r| r == region)
    }
}

/// `Duration` as text (`250ms`, `2s`, `5m`) or a number of milliseconds.
pub(crate) mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        let ms = d.as_millis();
        if ms % 1000 == 0 { s.serialize_str(&format!("{}s", ms / 1000)) } else { s.serialize_str(&format!("{ms}ms")) }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Ms(u64),
            Text(String),
        }
        match Repr::deserialize(d)? {
            Repr::Ms(ms) => Ok(Duration::from_millis(ms)),
            Repr::Text(t) => parse(&t).map_err(serde::de::Error::custom),
        }
    }

    /// Parse `250ms`, `2s`, `5m`, `1h`, or a combination handled by `HumanDuration` (`1h30m`).
    pub(crate) fn parse(text: &str) -> Result<Duration, String> {
        let t = text.trim();
        if let Some(ms) = t.strip_suffix("ms") {
            return ms
                .trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("invalid duration `{text}`"));
        }
        t.parse::<crate::HumanDuration>()
            .map(crate::HumanDuration::as_std)
            .map_err(|e| format!("invalid duration `{text}`: {e}"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_draws() {
        let f = Faults { error_rate: 0.2, throttle_rate: 0.1, timeout_rate: 0.2, seed: 7, ..Faults::default() };
        let a: Vec<_> = (0..200).map(|i| f.draw(i, "x")).collect();
        let b: Vec<_> = (0..200).map(|i| f.draw(i, "x")).collect();
        assert_eq!(a, b);
        assert!(a.iter().any(|(_, d)| matches!(d, Draw::Fail(_))));
        assert!(a.iter().any(|(_, d)| matches!(d, Draw::Timeout { .. })));
        assert!(a.iter().any(|(_, d)| matches!(d, Draw::Ok)));
        let g = Faults { seed: 8, ..f };
        let c: Vec<_> = (0..200).map(|i| g.draw(i, "x")).collect();
        assert_ne!(a, c);
    }

    #[test]
    fn zero_rates_never_fail() {
        let f = Faults::default();
        assert!((0..1000).all(|i| f.draw(i, "x") == (Duration::ZERO, Draw::Ok)));
    }

    #[test]
    fn rejects_bad_rates() {
        assert!(Faults { error_rate: 1.5, ..Faults::default() }.validate().is_err());
    }
}
