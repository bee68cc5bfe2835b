//! What several receiver replicas on one store coordinate through: the alert group → open incident map,
//! a lease with a fencing token (who runs the drivers) and notification idempotency keys (recorded before
//! sending, so a takeover never sends twice). See [`Store::open_groups`], [`Store::acquire_lease`] and
//! [`Store::record_notification_key`]; the PostgreSQL store backs them with constraints, the others hold
//! them trivially (one process).

use serde::{Deserialize, Serialize};

use super::Store;
use crate::Result;
use crate::Status;
use crate::timeline::{EventKind, Timeline};

/// The lease a receiver's drivers run under, as a writer of a notification key proves it still holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseFence {
    /// Lease name (`drivers`).
    pub name: String,
    /// Holder identity (one per process).
    pub holder: String,
    /// Fencing token the holder got from [`Store::acquire_lease`]: it grows with every change of holder.
    pub token: u64,
}

/// The lease of the receiver's drivers (cadence, escalation, post-incident, evidence).
pub const DRIVERS_LEASE: &str = "drivers";

/// Open incidents declared from alerts, as `(group key, incident id)`: the default of
/// [`Store::open_groups`], replaying each open incident's timeline (newest declaration wins a key).
///
/// # Errors
/// The store's.
pub async fn open_groups_by_replay<S: Store + ?Sized>(store: &S) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for incident in store.incidents().await? {
        if incident.status == Status::Resolved {
            continue;
        }
        let timeline = store.timeline(&incident.id).await?;
        if let Some(key) = group_key(&timeline)
            && !out.iter().any(|(k, _)| k == key)
        {
            out.push((key.to_owned(), incident.id));
        }
    }
    Ok(out)
}

/// The alert group a receiver-declared incident owns: the group of its first
/// [`EventKind::AlertsReceived`] event (the key `GroupState::replay` in `ingest::group` rebuilds), `None`
/// when the incident was not declared from alerts. Read here rather than through `ingest`, which depends
/// on the store's declaration path (`tests/layering.rs` keeps the modules acyclic).
fn group_key(timeline: &Timeline) -> Option<&str> {
    timeline.events().iter().find_map(|ev| match &ev.kind {
        EventKind::AlertsReceived { group_key, .. } => Some(group_key.as_str()),
        _ => None,
    })
}

/// The idempotency key of the `n`th (from 1) notification of `kind` to `channel` for `incident_id`:
/// `INC-1/escalation_page:2/page:Engineering manager/1`. Every replica derives the same key for the same
/// due notification from the same timeline (`n` counts its `message_sent` events of that kind and
/// channel, plus one).
#[must_use]
pub fn notification_key(incident_id: &str, kind: &str, channel: &str, n: usize) -> String {
    format!("{incident_id}/{kind}/{channel}/{n}")
}
