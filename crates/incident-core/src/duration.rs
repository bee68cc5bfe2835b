//! [`HumanDuration`]: a non-negative duration written as `15m`, `2h`, `1h30m`, `90s` or `0s` in policy
//! files, schemas and JSON.

use std::fmt;
use std::str::FromStr;

use chrono::TimeDelta;

/// A non-negative whole-second duration with a human text form (`"15m"`, `"2h"`, `"1h30m"`, `"45s"`,
/// `"1d"`).
///
/// Parsing rejects negative values, fractions, unknown units and anything longer than
/// [`HumanDuration::MAX`] (100 years: every duration stays usable in time arithmetic) with a message naming
/// the problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(u64);

impl HumanDuration {
    /// Zero.
    pub const ZERO: Self = Self(0);

    /// The longest duration text parses to: `36500d` (100 years).
    pub const MAX: Self = Self(36_500 * 86_400);

    /// From whole seconds.
    #[must_use]
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs)
    }

    /// From whole minutes.
    #[must_use]
    pub const fn from_mins(mins: u64) -> Self {
        Self(mins * 60)
    }

    /// From whole hours.
    #[must_use]
    pub const fn from_hours(hours: u64) -> Self {
        Self(hours * 3600)
    }

    /// Whole seconds.
    #[must_use]
    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// As a `chrono` delta (saturating at `TimeDelta::MAX` for values no text parses to).
    #[must_use]
    pub fn as_delta(self) -> TimeDelta {
        i64::try_from(self.0).ok().and_then(TimeDelta::try_seconds).unwrap_or(TimeDelta::MAX)
    }

    /// As a std duration.
    #[must_use]
    pub const fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.0)
    }
}

impl From<HumanDuration> for TimeDelta {
    fn from(d: HumanDuration) -> Self {
        d.as_delta()
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.0;
        if s == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
            if s >= size {
                write!(f, "{}{unit}", s / size)?;
                s %= size;
            }
        }
        Ok(())
    }
}

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseDurationError(String);

impl FromStr for HumanDuration {
    type Err = ParseDurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim();
        if t.is_empty() {
            return Err(ParseDurationError("empty duration (expected e.g. \"15m\", \"2h\")".into()));
        }
        if t.starts_with('-') {
            return Err(ParseDurationError(format!("negative duration {t:?} (durations must be >= 0)")));
        }
        let mut total: u64 = 0;
        let mut digits = String::new();
        for c in t.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            if digits.is_empty() {
                return Err(ParseDurationError(format!(
                    "invalid duration {t:?}: expected a number before {c:?} (e.g. \"15m\", \"1h30m\")"
                )));
            }
            let size = match c {
                'd' => 86_400,
                'h' => 3600,
                'm' => 60,
                's' => 1,
                _ => {
                    return Err(ParseDurationError(format!(
                        "invalid duration {t:?}: unknown unit {c:?} (use d, h, m or s)"
                    )));
                }
            };
            let n: u64 =
                digits.parse().map_err(|_| ParseDurationError(format!("invalid duration {t:?}: number too large")))?;
            total = n
                .checked_mul(size)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| ParseDurationError(format!("invalid duration {t:?}: too large")))?;
            digits.clear();
        }
        if !digits.is_empty() {
            return Err(ParseDurationError(format!(
                "invalid duration {t:?}: missing unit after {digits} (use d, h, m or s)"
            )));
        }
        if total > Self::MAX.0 {
            return Err(ParseDurationError(format!("invalid duration {t:?}: longer than {} (100 years)", Self::MAX)));
        }
        Ok(Self(total))
    }
}

impl serde::Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"15m\", \"2h\" or \"1h30m\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<HumanDuration, E> {
                Err(E::custom(format!("bare number {v} is ambiguous: write a duration with a unit, e.g. \"{v}m\"")))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<HumanDuration, E> {
                Err(E::custom(format!("bare number {v} is ambiguous: write a duration with a unit, e.g. \"{v}m\"")))
            }
        }
        d.deserialize_any(V)
    }
}

impl schemars::JsonSchema for HumanDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HumanDuration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^([0-9]+[dhms])+$",
            "description": "A non-negative duration such as \"15m\", \"2h\", \"1h30m\" or \"45s\".",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        for (s, secs) in [("15m", 900), ("2h", 7200), ("1h30m", 5400), ("45s", 45), ("1d", 86_400), ("0s", 0)] {
            let d: HumanDuration = s.parse().expect("valid");
            assert_eq!(d.as_secs(), secs, "{s}");
            assert_eq!(d.to_string(), s);
        }
    }

    #[test]
    fn rejects_bad_forms() {
        let neg = "-5m".parse::<HumanDuration>().expect_err("negative");
        assert!(neg.to_string().contains("negative duration"), "{neg}");
        assert!("5".parse::<HumanDuration>().expect_err("unitless").to_string().contains("missing unit"));
        assert!("5w".parse::<HumanDuration>().expect_err("unit").to_string().contains("unknown unit"));
        assert!("".parse::<HumanDuration>().is_err());
        assert!("m".parse::<HumanDuration>().is_err());
    }
}
