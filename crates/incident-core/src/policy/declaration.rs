//! The runbook's "When to Declare an Incident" lines as a value ([`DeclarationRule`]); the detector
//! ([`crate::detector`]) evaluates them, the policy ([`DeclarationPolicy`](super::DeclarationPolicy))
//! sets their numbers and alert rules name them.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A line of the runbook's "When to Declare an Incident".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeclarationRule {
    /// "Service unavailable for >5 minutes".
    ServiceUnavailable,
    /// "Error rate >5% for >5 minutes".
    ErrorRate,
    /// "Performance degradation >50% for >10 minutes".
    PerformanceDegradation,
    /// "Data integrity concerns".
    DataIntegrity,
    /// "Security incidents".
    Security,
}

impl DeclarationRule {
    /// All rules in runbook order.
    pub const ALL: [Self; 5] =
        [Self::ServiceUnavailable, Self::ErrorRate, Self::PerformanceDegradation, Self::DataIntegrity, Self::Security];

    /// Every rule's wire name, in [`Self::ALL`] order: the allowed values the bindings list.
    pub const NAMES: [&'static str; 5] = {
        let mut names = [""; 5];
        let mut i = 0;
        while i < Self::ALL.len() {
            names[i] = Self::ALL[i].as_str();
            i += 1;
        }
        names
    };

    /// The runbook's line (with the runbook's default numbers).
    #[must_use]
    pub const fn runbook_text(self) -> &'static str {
        match self {
            Self::ServiceUnavailable => "Service unavailable for >5 minutes",
            Self::ErrorRate => "Error rate >5% for >5 minutes",
            Self::PerformanceDegradation => "Performance degradation >50% for >10 minutes",
            Self::DataIntegrity => "Data integrity concerns",
            Self::Security => "Security incidents",
        }
    }

    /// Stable snake_case name (as serialized).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ServiceUnavailable => "service_unavailable",
            Self::ErrorRate => "error_rate",
            Self::PerformanceDegradation => "performance_degradation",
            Self::DataIntegrity => "data_integrity",
            Self::Security => "security",
        }
    }

    /// Words for people: `service unavailable`, `error rate`, `performance degradation`,
    /// `data integrity`, `security`.
    #[must_use]
    pub const fn words(self) -> &'static str {
        match self {
            Self::ServiceUnavailable => "service unavailable",
            Self::ErrorRate => "error rate",
            Self::PerformanceDegradation => "performance degradation",
            Self::DataIntegrity => "data integrity",
            Self::Security => "security",
        }
    }

    /// Whether the rule needs a sustained window (the first three) rather than firing at once.
    #[must_use]
    pub const fn is_windowed(self) -> bool {
        matches!(self, Self::ServiceUnavailable | Self::ErrorRate | Self::PerformanceDegradation)
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DeclarationRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
