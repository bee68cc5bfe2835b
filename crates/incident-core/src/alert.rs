//! Alerts as the timeline records them: the normalised [`AlertStatus`], an [`AlertRecord`] and its one-line
//! description. Ingest ([`crate::ingest`]) produces them and the timeline ([`crate::timeline`]) stores
//! them; both depend on this module, so the timeline does not depend on ingest.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Severity;

/// Normalised alert status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// Alertmanager `firing`, PagerDuty `trigger`.
    Firing,
    /// PagerDuty `acknowledge`.
    Acknowledged,
    /// Alertmanager `resolved`, PagerDuty `resolve`.
    Resolved,
}

impl AlertStatus {
    /// `firing`, `acknowledged`, `resolved` (as serialized; also the `Display` form).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }
}

impl std::fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An alert as recorded on a timeline ([`EventKind::AlertsReceived`](crate::timeline::EventKind::AlertsReceived)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AlertRecord {
    /// Identity within the group (fingerprint, dedup key, alarm ARN, ...).
    pub id: String,
    /// Alert name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Affected service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Status as received.
    pub status: AlertStatus,
    /// The severity the alert alone classifies as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// When it started (firing) or ended (resolved), per the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
}

/// One line for [`EventKind::describe`](crate::timeline::EventKind::describe): `Alerts from alertmanager: firing HighErrorRate on api;
/// resolved ServiceDown on db`.
#[must_use]
pub fn describe_alerts(source: &str, alerts: &[AlertRecord]) -> String {
    const SHOWN: usize = 5;
    let mut s = format!("Alerts from {source}:");
    for (i, a) in alerts.iter().take(SHOWN).enumerate() {
        let status = match a.status {
            AlertStatus::Firing => "firing",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Resolved => "resolved",
        };
        let _ = write!(s, "{} {status} {}", if i == 0 { "" } else { ";" }, a.name.as_deref().unwrap_or(&a.id));
        if let Some(svc) = &a.service {
            let _ = write!(s, " on {svc}");
        }
    }
    if alerts.len() > SHOWN {
        let _ = write!(s, "; and {} more", alerts.len() - SHOWN);
    }
    s
}
