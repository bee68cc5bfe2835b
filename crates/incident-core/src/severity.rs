//! [`Severity`] P0–P3 and incident [`Status`].

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// Incident severity, from the runbook's "Incident Severity Classification".
///
/// Ordering follows urgency: `P0 > P1 > P2 > P3`, so `max()` of several severities is the most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub enum Severity {
    /// Critical: complete outage, data loss or corruption, security breach, revenue impact.
    P0,
    /// High: partial outage, performance degradation > 50 %, key feature unavailable, customer-facing errors.
    P1,
    /// Medium: minor feature issues, degradation < 50 %, non-customer-facing errors.
    P2,
    /// Low: cosmetic issues, documentation problems, non-urgent improvements.
    P3,
}

impl Severity {
    /// All severities, most severe first.
    pub const ALL: [Self; 4] = [Self::P0, Self::P1, Self::P2, Self::P3];

    /// Every severity's wire name, in [`Self::ALL`] order: the allowed values the bindings list.
    pub const NAMES: [&'static str; 4] = {
        let mut names = [""; 4];
        let mut i = 0;
        while i < Self::ALL.len() {
            names[i] = Self::ALL[i].as_str();
            i += 1;
        }
        names
    };

    /// 0 for P0 … 3 for P3.
    #[must_use]
    pub const fn level(self) -> u8 {
        match self {
            Self::P0 => 0,
            Self::P1 => 1,
            Self::P2 => 2,
            Self::P3 => 3,
        }
    }

    /// The runbook's name for the level ("Critical", "High", "Medium", "Low").
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::P0 => "Critical",
            Self::P1 => "High",
            Self::P2 => "Medium",
            Self::P3 => "Low",
        }
    }

    /// `"P0"` … `"P3"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::P0 => "P0",
            Self::P1 => "P1",
            Self::P2 => "P2",
            Self::P3 => "P3",
        }
    }
}

impl Ord for Severity {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.level().cmp(&self.level())
    }
}

impl PartialOrd for Severity {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "P0" | "CRITICAL" => Ok(Self::P0),
            "P1" | "HIGH" => Ok(Self::P1),
            "P2" | "MEDIUM" => Ok(Self::P2),
            "P3" | "LOW" => Ok(Self::P3),
            _ => Err(Error::invalid_input(format!("unknown severity {s:?} (expected one of P0, P1, P2, P3)"))),
        }
    }
}

/// Incident status, in the order the runbook's communication template lists them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The cause is not yet known.
    Investigating,
    /// The cause is known; mitigation under way.
    Identified,
    /// A fix is in place and being watched.
    Monitoring,
    /// Over; terminal.
    Resolved,
}

impl Status {
    /// All statuses in lifecycle order.
    pub const ALL: [Self; 4] = [Self::Investigating, Self::Identified, Self::Monitoring, Self::Resolved];

    /// Every status's wire name, in [`Self::ALL`] order: the allowed values the bindings list.
    pub const NAMES: [&'static str; 4] = {
        let mut names = [""; 4];
        let mut i = 0;
        while i < Self::ALL.len() {
            names[i] = Self::ALL[i].as_str();
            i += 1;
        }
        names
    };

    /// Lower-case name as in the runbook template (`investigating`, ...).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Investigating => "investigating",
            Self::Identified => "identified",
            Self::Monitoring => "monitoring",
            Self::Resolved => "resolved",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "investigating" => Ok(Self::Investigating),
            "identified" => Ok(Self::Identified),
            "monitoring" => Ok(Self::Monitoring),
            "resolved" => Ok(Self::Resolved),
            _ => Err(Error::invalid_input(format!(
                "unknown status {s:?} (expected one of investigating, identified, monitoring, resolved)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p0_is_the_maximum() {
        assert_eq!(Severity::ALL.iter().copied().max(), Some(Severity::P0));
        assert!(Severity::P1 > Severity::P2);
    }

    #[test]
    fn parse_errors_list_allowed_values() {
        let e = "P7".parse::<Severity>().expect_err("bad");
        assert!(e.to_string().contains("P0, P1, P2, P3"));
        assert_eq!("monitoring".parse::<Status>().ok(), Some(Status::Monitoring));
    }
}
