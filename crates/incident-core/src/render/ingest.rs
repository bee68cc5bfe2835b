//! An ingested alert payload (`incident ingest`): each alert with its severity, the overall severity, and
//! what the receiver would do with each alert group.

use std::fmt::Write as _;

use crate::classify::Classification;
use crate::ingest::AlertBatch;
use crate::ingest::group::Decision;

/// What the receiver does with an alert group: `declare an incident: WHY`, `no incident: WHY`, or
/// `update the open incident`.
#[must_use]
pub fn group_decision(decision: &Decision) -> String {
    match decision {
        Decision::Declare { assessment } => format!("declare an incident: {}", assessment.reason),
        Decision::Ignore { reason } => format!("no incident: {reason}"),
        Decision::Update(_) | Decision::Duplicate => "update the open incident".to_owned(),
    }
}

/// `N alert(s) from NAME`, one line per alert (`alerts[i]` is `batch.alerts[i]`'s classification), the
/// `overall` classification, and one line per `(group key, decision)`.
#[must_use]
pub fn alert_batch(
    name: &str,
    batch: &AlertBatch,
    alerts: &[Classification],
    overall: &Classification,
    groups: &[(&str, &Decision)],
) -> String {
    let mut s = format!("{} alert(s) from {name}", batch.alerts.len());
    if batch.truncated_alerts > 0 {
        let _ = write!(s, " ({} truncated by Alertmanager)", batch.truncated_alerts);
    }
    for (a, c) in batch.alerts.iter().zip(alerts) {
        let _ = write!(
            s,
            "\n  {} {} on {}: {}",
            a.status,
            a.name.as_deref().unwrap_or("(unnamed)"),
            a.service.as_deref().unwrap_or("(unknown service)"),
            c
        );
    }
    let _ = write!(s, "\nOverall: {overall}");
    for (key, decision) in groups {
        let _ = write!(s, "\nGroup {key}: {}", group_decision(decision));
    }
    s
}
