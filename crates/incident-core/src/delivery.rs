//! Deliver a [`Notification`] and record the outcome on the incident's timeline, in one step.
//!
//! Every side effect lands on the timeline as a `message_sent` event (the same event the drill records):
//!
//! | delivery | `outcome` | `detail` |
//! |---|---|---|
//! | `Ok(Delivered { reference })` | `succeeded` | the provider reference (empty when none) |
//! | `Ok(Skipped { reason })` | `skipped` | the reason |
//! | `Err(e)`, request not sent | `failed` | `kind: message` (e.g. `unavailable: slack chat.postMessage: HTTP 503 after 4 attempts`) |
//! | `Err(e)`, request may have been sent | `unknown` | as for `failed` |
//!
//! The event's `channel` is [`destination_label`] and its `kind` is the notification's kind. A failed or
//! skipped notification is never an `Err` of [`deliver_and_record`]: it is a [`DeliveryRecord`] whose
//! [`outcome`](DeliveryRecord::outcome) says so (call [`DeliveryRecord::into_result`] to turn a failure
//! into an error). `Err` means the notification could not be *recorded* (unknown incident, store down);
//! its message then says whether the notification itself went out, so nothing is lost silently.
//!
//! ```
//! use std::sync::Arc;
//! use chrono::TimeZone;
//! use incident_core::backend::{Delivery, Destination, Notification, Notifier};
//! use incident_core::clock::ManualClock;
//! use incident_core::delivery::deliver_and_record;
//! use incident_core::incident::{DeclareRequest, Incident};
//! use incident_core::store::{MemoryStore, Store};
//! use incident_core::timeline::Outcome;
//! use incident_core::{Policy, Severity};
//!
//! struct NoProvider;
//! #[async_trait::async_trait]
//! impl Notifier for NoProvider {
//!     async fn notify(&self, _: &Notification) -> incident_core::Result<Delivery> {
//!         Ok(Delivery::Skipped { reason: "no status page configured".into() })
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
//! let now = chrono::Utc.with_ymd_and_hms(2026, 11, 26, 14, 5, 0).unwrap();
//! let req = DeclareRequest {
//!     id: "INC-7".into(), title: "API errors".into(), severity: Severity::P1, components: vec![],
//!     impact: String::new(), customer_facing: true, customers_affected: true, on_call: "alice".into(),
//!     commander: None, started_at: None, detected_at: None, detection_source: None,
//! };
//! let (incident, timeline) = Incident::declare(req, &Policy::default(), now).unwrap();
//! let store = MemoryStore::new();
//! store.save_incident(&incident).await.unwrap();
//! store.append_events(&incident.id, timeline.events()).await.unwrap();
//!
//! let n = Notification { incident_id: "INC-7".into(), to: Destination::StatusPage,
//!                        kind: "status_page_update".into(), text: "We are investigating.".into() };
//! let record = deliver_and_record(&store, &NoProvider, &ManualClock::new(now), "bot", n).await.unwrap();
//! assert_eq!(record.outcome, Outcome::Skipped);
//! assert_eq!(record.detail, "no status page configured");
//! let last = store.timeline("INC-7").await.unwrap().last().unwrap().kind.describe();
//! assert_eq!(last, "Message status_page_update to status-page: skipped - no status page configured");
//! # });
//! ```

use chrono::{DateTime, Utc};

use crate::backend::{Clock, Delivery, Destination, Notification, Notifier};
use crate::store::{Store, notification_key};
use crate::timeline::{Event, EventKind, Outcome};
use crate::{Error, Result};

/// The `channel` of a `message_sent` event for `to`: the channel name (`#incident-...`), `status-page`,
/// `page:<role title>` or `webhook:<name>` (the labels the drill records).
#[must_use]
pub fn destination_label(to: &Destination) -> String {
    match to {
        Destination::Channel { name } => name.clone(),
        Destination::StatusPage => "status-page".into(),
        Destination::Page { role } => format!("page:{}", role.title()),
        Destination::Webhook { name } => format!("webhook:{name}"),
    }
}

/// What happened to one notification, as recorded on the timeline.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a failed or skipped notification is reported here; inspect `outcome`"]
pub struct DeliveryRecord {
    /// The notification.
    pub notification: Notification,
    /// The event's `channel` ([`destination_label`]).
    pub channel: String,
    /// Delivered, skipped, failed, or unknown (the request may have been sent before an error).
    pub outcome: Outcome,
    /// The provider's reference when delivered (message ts, incident id, ...).
    pub reference: Option<String>,
    /// What was recorded as the event's `detail`.
    pub detail: String,
    /// The notifier's error, when it failed.
    pub error: Option<Error>,
    /// The timeline event that records it.
    pub event: Event,
}

impl DeliveryRecord {
    /// Whether the notification was delivered.
    #[must_use]
    pub fn is_delivered(&self) -> bool {
        self.outcome == Outcome::Succeeded
    }

    /// `Ok(self)` unless delivery failed, then the notifier's error (the failure is already recorded).
    ///
    /// # Errors
    /// The notifier's error for a `failed` or `unknown` outcome.
    pub fn into_result(self) -> Result<Self> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }
}

/// The `(outcome, detail, reference)` a delivery result is recorded as (see the [module docs](self)).
#[must_use]
pub fn outcome_of(result: &Result<Delivery>) -> (Outcome, String, Option<String>) {
    match result {
        Ok(Delivery::Delivered { reference }) => {
            (Outcome::Succeeded, reference.clone().unwrap_or_default(), reference.clone())
        }
        Ok(Delivery::Skipped { reason }) => (Outcome::Skipped, reason.clone(), None),
        Err(e) => {
            let outcome = if e.request_may_have_been_sent() { Outcome::Unknown } else { Outcome::Failed };
            (outcome, format!("{}: {}", e.kind(), e.message()), None)
        }
    }
}

/// Send `notification` through `notifier` and append a `message_sent` event with the outcome to the
/// incident's timeline in `store`, at `clock`'s time after delivery, by `actor`.
///
/// # Errors
/// * [`ErrorKind::NotFound`] when the incident is not in the store (checked before sending, so nothing
///   goes out that could not be recorded);
/// * the store's error when recording fails after delivery; its message names the delivery outcome;
/// * the store's error from [`Store::record_notification_key`] (nothing was sent).
///
/// A failed delivery is **not** an error here: see [`DeliveryRecord`].
///
/// Before sending, the notification's idempotency key ([`notification_key`]: incident, kind, channel and
/// how many such messages the timeline already records) is recorded with
/// [`Store::record_notification_key`]. When the key was already recorded (another receiver replica, or a
/// run interrupted after sending and before recording), nothing is sent and the event records
/// `succeeded` with a detail saying so: at most once, never a second page. Stores of one process (memory,
/// SQLite) record no keys.
pub async fn deliver_and_record<S, N, C>(
    store: &S,
    notifier: &N,
    clock: &C,
    actor: &str,
    notification: Notification,
) -> Result<DeliveryRecord>
where
    S: Store + ?Sized,
    N: Notifier + ?Sized,
    C: Clock + ?Sized,
{
    if store.incident(&notification.incident_id).await?.is_none() {
        return Err(Error::not_found(format!(
            "incident {}: not in the store; notification {} not sent",
            notification.incident_id, notification.kind
        )));
    }
    let channel = destination_label(&notification.to);
    // The idempotency key, recorded before sending: a replica that takes over the drivers, or a run
    // interrupted between sending and recording, never sends the same notification twice.
    let timeline = store.timeline(&notification.incident_id).await?;
    let earlier = timeline
        .events()
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::MessageSent { channel: c, kind: k, .. } if *c == channel && *k == notification.kind))
        .count();
    let key = notification_key(&notification.incident_id, &notification.kind, &channel, earlier + 1);
    let (result, outcome, detail, reference) = if store.record_notification_key(&key, clock.now(), None).await? {
        let result = notifier.notify(&notification).await;
        let (outcome, detail, reference) = outcome_of(&result);
        (result, outcome, detail, reference)
    } else {
        let detail = format!(
            "not sent again: idempotency key {key} was recorded before an earlier send (another replica, or an \
             interrupted run) whose outcome was not recorded"
        );
        (Ok(Delivery::Delivered { reference: None }), Outcome::Succeeded, detail, None)
    };
    let kind = EventKind::MessageSent {
        channel: channel.clone(),
        kind: notification.kind.clone(),
        outcome,
        detail: detail.clone(),
    };
    let event = append_event(store, &notification.incident_id, clock.now(), actor, kind).await.map_err(|e| {
        e.context(format_args!(
            "notification {} to {channel} of incident {} ({outcome}{}) could not be recorded",
            notification.kind,
            notification.incident_id,
            if detail.is_empty() { String::new() } else { format!(": {detail}") }
        ))
    })?;
    Ok(DeliveryRecord { notification, channel, outcome, reference, detail, error: result.err(), event })
}

/// Append one event to a stored timeline with [`Store::update_incident`]: the SQLite and PostgreSQL
/// stores decide inside their write transaction (the incident's row locked), so an alert storm on the
/// same incident cannot starve the record of a message already sent; other stores retry optimistically.
///
/// The event is stamped `at`, or the newest stored event's time when that is later (writers' clocks
/// may differ slightly; the timeline never goes backwards).
///
/// # Errors
/// The store's errors (`NotFound` for an unsaved incident, `Integrity` for a tampered timeline);
/// [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) when an optimistic store lost to other writers too many times in a row.
pub async fn append_event<S: Store + ?Sized>(
    store: &S,
    incident_id: &str,
    at: DateTime<Utc>,
    actor: &str,
    kind: EventKind,
) -> Result<Event> {
    let actor = actor.to_owned();
    let update: Box<crate::store::IncidentUpdate> = Box::new(move |_incident, timeline| {
        let at = timeline.last().map_or(at, |last| at.max(last.at));
        timeline.append(at, actor.as_str(), kind.clone())?;
        Ok(true)
    });
    let written = store.update_incident(incident_id, update).await?;
    written
        .and_then(|w| w.events.into_iter().last())
        .ok_or_else(|| Error::internal(format!("timeline of {incident_id}: the appended event was not returned")))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use crate::ErrorKind;

    use super::*;
    use crate::clock::ManualClock;
    use crate::incident::tests::{at, declared};
    use crate::store::MemoryStore;
    use crate::{Severity, policy::Role};

    struct Scripted(Mutex<Vec<Result<Delivery>>>);

    #[async_trait::async_trait]
    impl Notifier for Scripted {
        async fn notify(&self, _: &Notification) -> Result<Delivery> {
            self.0.lock().expect("lock").remove(0)
        }
    }

    async fn store_with_incident() -> MemoryStore {
        let (inc, tl) = declared(Severity::P1);
        let store = MemoryStore::new();
        store.save_incident(&inc).await.expect("save");
        store.append_events(&inc.id, tl.events()).await.expect("events");
        store
    }

    fn note(to: Destination) -> Notification {
        Notification { incident_id: "INC-1".into(), to, kind: "status_update".into(), text: "hi".into() }
    }

    #[tokio::test]
    async fn every_outcome_is_recorded() {
        let store = store_with_incident().await;
        let clock = ManualClock::new(at(14, 10));
        let notifier = Scripted(Mutex::new(vec![
            Ok(Delivery::Delivered { reference: Some("slack:C1:1.2".into()) }),
            Ok(Delivery::Skipped { reason: "no provider".into() }),
            Err(Error::unavailable("slack chat.postMessage: HTTP 503 after 4 attempts")),
            Err(Error::timeout("statuspage create: timed out").request_maybe_sent()),
        ]));
        let dests = [
            Destination::Channel { name: "#incident-x".into() },
            Destination::Page { role: Role::Cto },
            Destination::Webhook { name: "ops".into() },
            Destination::StatusPage,
        ];
        let mut records = Vec::new();
        for to in dests {
            records.push(deliver_and_record(&store, &notifier, &clock, "bot", note(to)).await.expect("recorded"));
        }
        let got: Vec<_> = records.iter().map(|r| (r.channel.as_str(), r.outcome, r.detail.as_str())).collect();
        assert_eq!(
            got,
            [
                ("#incident-x", Outcome::Succeeded, "slack:C1:1.2"),
                ("page:CTO", Outcome::Skipped, "no provider"),
                ("webhook:ops", Outcome::Failed, "unavailable: slack chat.postMessage: HTTP 503 after 4 attempts"),
                ("status-page", Outcome::Unknown, "timeout: statuspage create: timed out"),
            ]
        );
        assert!(records[0].is_delivered());
        assert_eq!(records[0].reference.as_deref(), Some("slack:C1:1.2"));
        let failed = records[2].clone().into_result().expect_err("failure surfaces");
        assert_eq!(failed.kind(), ErrorKind::Unavailable);
        let tl = store.timeline("INC-1").await.expect("timeline");
        assert_eq!(tl.len(), 3 + 4);
        assert_eq!(tl.events()[3], records[0].event);
        assert!(matches!(&tl.events()[6].kind, EventKind::MessageSent { outcome: Outcome::Unknown, .. }));
    }

    #[tokio::test]
    async fn unknown_incident_is_refused_before_sending() {
        let store = MemoryStore::new();
        let notifier = Scripted(Mutex::new(Vec::new()));
        let err =
            deliver_and_record(&store, &notifier, &ManualClock::new(at(14, 10)), "bot", note(Destination::StatusPage))
                .await
                .expect_err("no incident");
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.message().contains("not sent"), "{err}");
    }

    #[tokio::test]
    async fn append_never_goes_backwards_in_time() {
        let store = store_with_incident().await;
        // The stored timeline ends at 14:05; a writer whose clock says 14:00 still appends.
        let ev = append_event(&store, "INC-1", at(14, 0), "bot", EventKind::Note { text: "x".into() })
            .await
            .expect("append");
        assert_eq!(ev.at, at(14, 5));
        assert_eq!(ev.seq, 4);
    }
}
