//! [`IncidentContext`]: what providers read from the store: the incident (severity, title, status) and
//! the references of earlier deliveries (so a Statuspage incident or a pinned ticket is found again
//! after a restart).

use std::sync::Arc;

use incident_core::incident::Incident;
use incident_core::store::Store;
use incident_core::timeline::{EventKind, Outcome};
use incident_core::{ErrorKind, Result};

/// Read access to the incident store for the notifiers; empty by default (providers then fall back to
/// what the notification itself says, and remember references only in memory).
///
/// References come from `message_sent` events recorded by
/// [`deliver_and_record`](incident_core::delivery::deliver_and_record) (or the drill): a delivered
/// event's `detail` is the provider reference the notifier returned.
#[derive(Clone, Default)]
pub struct IncidentContext {
    store: Option<Arc<dyn Store>>,
}

impl std::fmt::Debug for IncidentContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncidentContext").field("store", &self.store.is_some()).finish()
    }
}

impl IncidentContext {
    /// Read from `store`.
    #[must_use]
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store: Some(store) }
    }

    /// No store.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// The incident, when there is a store and it has it. Store errors are logged and read as "unknown":
    /// the incident only refines what is sent.
    pub(crate) async fn incident(&self, id: &str) -> Option<Incident> {
        let store = self.store.as_ref()?;
        match store.incident(id).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(incident = id, kind = %e.kind(), error = %e, "incident lookup failed");
                None
            }
        }
    }

    /// Every distinct delivered reference starting with `prefix` of messages to `channel` (a
    /// [`destination_label`](incident_core::delivery::destination_label)) whose kind passes `kind`,
    /// oldest first.
    ///
    /// # Errors
    /// The store's errors, except `NotFound` (no timeline: no reference).
    pub(crate) async fn references(
        &self,
        id: &str,
        channel: &str,
        prefix: &str,
        kind: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>> {
        let Some(store) = &self.store else { return Ok(Vec::new()) };
        let timeline = match store.timeline(id).await {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.context(format_args!("incident {id}: reading earlier deliveries"))),
        };
        let mut out: Vec<String> = Vec::new();
        for ev in timeline.events() {
            if let EventKind::MessageSent { outcome: Outcome::Succeeded, detail, kind: k, channel: c } = &ev.kind {
                if c == channel && detail.starts_with(prefix) && kind(k) && !out.contains(detail) {
                    out.push(detail.clone());
                }
            }
        }
        Ok(out)
    }

    /// The newest delivered reference starting with `prefix` on the incident's timeline, of messages of
    /// `kind` when given.
    ///
    /// # Errors
    /// The store's errors, except `NotFound` (no timeline: no reference).
    pub(crate) async fn last_reference(&self, id: &str, kind: Option<&str>, prefix: &str) -> Result<Option<String>> {
        let Some(store) = &self.store else { return Ok(None) };
        let timeline = match store.timeline(id).await {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.context(format_args!("incident {id}: reading earlier deliveries"))),
        };
        Ok(timeline.events().iter().rev().find_map(|ev| match &ev.kind {
            EventKind::MessageSent { outcome: Outcome::Succeeded, detail, kind: k, .. }
                if detail.starts_with(prefix) && kind.is_none_or(|kind| kind == k) =>
            {
                Some(detail.clone())
            }
            _ => None,
        }))
    }
}
