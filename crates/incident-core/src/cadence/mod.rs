//! The cadence driver: keeps every open incident's updates on schedule (runbook "Communication During
//! Incident": internal updates every 15 min for P0, 30 min for P1, hourly for P2; the status page within
//! 15 minutes of declaration).
//!
//! [`CadenceDriver::tick`] looks at each open incident in the [`Store`], asks
//! [`comms::cadence_status`] what is due, and for each due update either **sends** it (rendered with
//! the [`comms`] templates), **reminds** the incident channel that it is due, or does nothing but report
//! it, per [`CadenceMode`]. Every attempt is recorded on the timeline with
//! [`delivery::deliver_and_record`], which is also how the next tick knows what went out: the driver
//! keeps no state of its own, so a restarted driver neither resends nor forgets.
//!
//! # Rules
//!
//! * An update is sent [`CadenceOptions::lead`] before it falls due (default 1 min), so delivery latency
//!   never makes it late.
//! * What counts as sent: a `message_sent` event with outcome `succeeded` whose kind is
//!   `internal_update` / `status_page_update` (what this driver records), `status_page_initial`, or
//!   `status_update` (what drills record; to `status-page` it is a status-page update, elsewhere an
//!   internal one).
//! * A failed attempt is retried after [`CadenceOptions::retry_failed_after`], even before the update
//!   falls due (an update sent early with [`CadenceDriver::send_update`] that failed), a skipped one (no provider
//!   configured) after [`CadenceOptions::retry_skipped_after`], a reminder repeated after
//!   [`CadenceOptions::remind_every`], so a broken provider is visible on the timeline without flooding it.
//! * Public status-page updates go out for customer-facing incidents only (see
//!   [`CadenceOptions::status_page_only_customer_facing`]).
//! * The report lists what was sent, skipped and failed, and every update still overdue after the tick.
//!
//! Run one driver per store: two drivers ticking at the same moment may both send an update.
//!
//! ```
//! use std::sync::Arc;
//! use chrono::{TimeDelta, TimeZone};
//! use incident_core::backend::{Delivery, Notification, Notifier};
//! use incident_core::cadence::CadenceDriver;
//! use incident_core::clock::{Clock, ManualClock};
//! use incident_core::incident::{DeclareRequest, Incident};
//! use incident_core::store::{MemoryStore, Store};
//! use incident_core::{Policy, Severity};
//!
//! struct Stdout;
//! #[async_trait::async_trait]
//! impl Notifier for Stdout {
//!     async fn notify(&self, n: &Notification) -> incident_core::Result<Delivery> {
//!         println!("{:?} {}\n{}", n.to, n.kind, n.text);
//!         Ok(Delivery::Delivered { reference: None })
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
//! let declared = chrono::Utc.with_ymd_and_hms(2026, 11, 26, 14, 0, 0).unwrap();
//! let req = DeclareRequest {
//!     id: "INC-1".into(), title: "API errors".into(), severity: Severity::P0,
//!     components: vec!["ml-inference-api".into()], impact: "All predictions fail".into(),
//!     customer_facing: true, customers_affected: true, on_call: "alice".into(), commander: None,
//!     started_at: None, detected_at: None, detection_source: None,
//! };
//! let (incident, timeline) = Incident::declare(req, &Policy::default(), declared).unwrap();
//! let store = Arc::new(MemoryStore::new());
//! store.save_incident(&incident).await.unwrap();
//! store.append_events(&incident.id, timeline.events()).await.unwrap();
//!
//! let clock = Arc::new(ManualClock::new(declared));
//! let driver = CadenceDriver::new(store, clock.clone(), Arc::new(Stdout), Policy::default());
//! assert!(driver.tick(clock.now()).await.unwrap().sent.is_empty()); // nothing due yet
//! clock.advance(TimeDelta::minutes(14)); // 1 minute before both P0 updates fall due
//! let report = driver.tick(clock.now()).await.unwrap();
//! assert_eq!(report.sent.len(), 2); // internal update + first status-page update
//! assert!(report.overdue.is_empty());
//! assert!(driver.tick(clock.now()).await.unwrap().sent.is_empty()); // recorded: not sent twice
//! # });
//! ```

mod history;
#[cfg(test)]
mod tests;

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::backend::{Clock, Destination, Notification, Notifier};
use crate::comms::{self, UpdateInput, UpdateKind, format_utc};
use crate::delivery::{self, DeliveryRecord};
use crate::incident::Incident;
use crate::store::Store;
use crate::timeline::{Outcome, Timeline};
use crate::{ErrorKind, HumanDuration, Policy, Result, Severity, Status};

pub use history::{Attempt, History, KindHistory, classify_message};

/// The `kind` of a reminder that an update is due (`internal_update_reminder`,
/// `status_page_update_reminder`).
#[must_use]
pub fn reminder_kind(kind: UpdateKind) -> &'static str {
    match kind {
        UpdateKind::Internal => "internal_update_reminder",
        UpdateKind::StatusPage => "status_page_update_reminder",
    }
}

/// What the driver does with a due update.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CadenceMode {
    /// Render the update from the templates and send it.
    #[default]
    Send,
    /// Post a reminder (with a draft) to the incident channel; a person sends the update.
    Remind,
    /// Only report it (due and overdue updates appear in the [`CadenceReport`]).
    ReportOnly,
}

/// Settings of a [`CadenceDriver`]; the defaults are safe for production.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CadenceOptions {
    /// Actor of the recorded events.
    pub actor: String,
    /// Send this long before an update falls due (default 1 min).
    pub lead: HumanDuration,
    /// Internal updates (incident channel).
    pub internal: CadenceMode,
    /// Status-page updates.
    pub status_page: CadenceMode,
    /// Wait this long after a failed attempt before trying again (default 2 min).
    pub retry_failed_after: HumanDuration,
    /// Wait this long after a skipped attempt (no provider configured) before trying again (default 15 min).
    pub retry_skipped_after: HumanDuration,
    /// Repeat a reminder this often while the update is still not sent (default 10 min).
    pub remind_every: HumanDuration,
    /// At most this many timeline lines in an internal update's details (default 8).
    pub max_detail_lines: usize,
    /// Public status-page updates only for customer-facing incidents (default true): an internal
    /// incident gets neither status-page updates nor overdue reports for them.
    pub status_page_only_customer_facing: bool,
}

impl Default for CadenceOptions {
    fn default() -> Self {
        Self {
            actor: "incident-cadence".into(),
            lead: HumanDuration::from_mins(1),
            internal: CadenceMode::Send,
            status_page: CadenceMode::Send,
            retry_failed_after: HumanDuration::from_mins(2),
            retry_skipped_after: HumanDuration::from_mins(15),
            remind_every: HumanDuration::from_mins(10),
            max_detail_lines: 8,
            status_page_only_customer_facing: true,
        }
    }
}

/// One update (or reminder) the driver tried to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UpdateAttempt {
    /// Incident id.
    pub incident_id: String,
    /// Which update.
    pub kind: UpdateKind,
    /// A reminder rather than the update itself.
    pub reminder: bool,
    /// When the update is (was) due.
    pub due_at: DateTime<Utc>,
    /// Where it went (`#incident-...`, `status-page`).
    pub channel: String,
    /// How it went.
    pub outcome: Outcome,
    /// Provider reference, skip reason or error, as recorded.
    pub detail: String,
    /// The error's kind, when it failed (`unavailable`, `permission_denied`, ...).
    #[schemars(with = "Option<String>")]
    pub error_kind: Option<ErrorKind>,
    /// Sequence number of the timeline event that records it.
    pub event_seq: u64,
}

/// An update that is late after the tick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OverdueUpdate {
    /// Incident id.
    pub incident_id: String,
    /// Its severity.
    pub severity: Severity,
    /// Which update.
    pub kind: UpdateKind,
    /// When it was due.
    pub due_at: DateTime<Utc>,
    /// How late it is.
    pub late_by: HumanDuration,
    /// The newest unsuccessful attempt since the last update went out, if any: when and how.
    pub last_attempt: Option<(DateTime<Utc>, Outcome)>,
}

/// An incident the tick could not handle (its other incidents were still handled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentFailure {
    /// Incident id.
    pub incident_id: String,
    /// Error kind (`unavailable`, `integrity`, ...).
    #[schemars(with = "String")]
    pub kind: ErrorKind,
    /// Error message.
    pub message: String,
}

/// What one [`CadenceDriver::tick`] did and found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CadenceReport {
    /// The tick's time.
    pub at: DateTime<Utc>,
    /// Open incidents looked at.
    pub open_incidents: usize,
    /// Delivered updates and reminders.
    pub sent: Vec<UpdateAttempt>,
    /// Attempts the notifier skipped (no provider for the destination).
    pub skipped: Vec<UpdateAttempt>,
    /// Attempts that failed (or may not have gone out).
    pub failed: Vec<UpdateAttempt>,
    /// Updates still overdue after this tick.
    pub overdue: Vec<OverdueUpdate>,
    /// Incidents that could not be handled (store errors, bad templates input).
    pub errors: Vec<IncidentFailure>,
    /// The earliest time something next falls due (less the lead), across open incidents.
    pub next_due: Option<DateTime<Utc>>,
}

impl CadenceReport {
    fn new(at: DateTime<Utc>) -> Self {
        Self {
            at,
            open_incidents: 0,
            sent: Vec::new(),
            skipped: Vec::new(),
            failed: Vec::new(),
            overdue: Vec::new(),
            errors: Vec::new(),
            next_due: None,
        }
    }

    /// Nothing failed, nothing is overdue and every incident was handled.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty() && self.overdue.is_empty() && self.errors.is_empty()
    }

    fn push(&mut self, attempt: UpdateAttempt) {
        match attempt.outcome {
            Outcome::Succeeded => self.sent.push(attempt),
            Outcome::Skipped => self.skipped.push(attempt),
            _ => self.failed.push(attempt),
        }
    }
}

/// Sends, reminds about and reports due incident updates (see the [module docs](self)).
pub struct CadenceDriver<S: ?Sized, C: ?Sized, N: ?Sized> {
    store: Arc<S>,
    clock: Arc<C>,
    notifier: Arc<N>,
    policy: Policy,
    options: CadenceOptions,
}

impl<S: ?Sized, C: ?Sized + std::fmt::Debug, N: ?Sized> std::fmt::Debug for CadenceDriver<S, C, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CadenceDriver")
            .field("clock", &self.clock)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<S, C, N> CadenceDriver<S, C, N>
where
    S: Store + ?Sized,
    C: Clock + ?Sized,
    N: Notifier + ?Sized,
{
    /// A driver over `store`, sending through `notifier`, with the [default options](CadenceOptions).
    pub fn new(store: Arc<S>, clock: Arc<C>, notifier: Arc<N>, policy: Policy) -> Self {
        Self { store, clock, notifier, policy, options: CadenceOptions::default() }
    }

    /// Replace the options.
    #[must_use]
    pub fn with_options(mut self, options: CadenceOptions) -> Self {
        self.options = options;
        self
    }

    /// The options in force.
    #[must_use]
    pub fn options(&self) -> &CadenceOptions {
        &self.options
    }

    /// Handle every open incident at `now` (see the [module docs](self)).
    ///
    /// # Errors
    /// Only when the incidents cannot be listed; a problem with one incident is reported in
    /// [`CadenceReport::errors`] and the others are still handled.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<CadenceReport> {
        let mut report = CadenceReport::new(now);
        let incidents = self.store.incidents().await?;
        for incident in incidents.into_iter().filter(|i| i.status != Status::Resolved) {
            report.open_incidents += 1;
            if let Err(e) = self.tick_incident(&incident, now, &mut report).await {
                report.errors.push(IncidentFailure {
                    incident_id: incident.id.clone(),
                    kind: e.kind(),
                    message: e.to_string(),
                });
            }
        }
        Ok(report)
    }

    /// Tick at the clock's time, then sleep until the next update falls due (at most `poll`, at least
    /// one second), until `on_tick` breaks or `max_ticks` ticks ran. Returns the number of ticks.
    ///
    /// `on_tick` sees every tick's result, including errors (a store outage does not stop the loop
    /// unless `on_tick` says so).
    pub async fn run<F>(&self, poll: Duration, max_ticks: Option<u64>, on_tick: F) -> u64
    where
        F: FnMut(Result<CadenceReport>) -> ControlFlow<()> + Send,
    {
        crate::clock::drive(&*self.clock, poll, max_ticks, |now| self.tick(now), |r| r.next_due, on_tick).await
    }

    /// Handle one open incident at `now`, as [`CadenceDriver::tick`] does for each (a drill ticks its own
    /// incident only, never the store's other incidents).
    ///
    /// # Errors
    /// `NotFound` for an unknown incident; store and rendering errors (reported, not swallowed).
    pub async fn tick_one(&self, incident_id: &str, now: DateTime<Utc>) -> Result<CadenceReport> {
        let mut report = CadenceReport::new(now);
        let incident = self.load(incident_id).await?;
        if incident.status != Status::Resolved {
            report.open_incidents = 1;
            self.tick_incident(&incident, now, &mut report).await?;
        }
        Ok(report)
    }

    /// Send an update of `kind` for one incident now, whatever the cadence says (a status change is news;
    /// `incident update`): rendered as a due update is, with `details` as the internal update's details
    /// when given (else the timeline since the last update), delivered, recorded, and counted for the
    /// cadence like any other.
    ///
    /// # Errors
    /// `NotFound` for an unknown incident; `Conflict` for a resolved one; `Refused` for a status-page
    /// update of an incident that gets none ([`CadenceOptions::status_page_only_customer_facing`]);
    /// store errors. A failed delivery is not an error: it is in the returned attempt (and on the
    /// timeline).
    pub async fn send_update(
        &self,
        incident_id: &str,
        kind: UpdateKind,
        now: DateTime<Utc>,
        details: Option<&str>,
    ) -> Result<UpdateAttempt> {
        let incident = self.load(incident_id).await?;
        if incident.status == Status::Resolved {
            return Err(crate::Error::conflict(format!(
                "incident {incident_id} is resolved: its last message was the RESOLVED one"
            )));
        }
        if kind == UpdateKind::StatusPage && self.options.status_page_only_customer_facing && !incident.customer_facing
        {
            return Err(crate::Error::refused(format!(
                "incident {incident_id} is not customer-facing: it gets no public status-page update"
            )));
        }
        let timeline = self.store.timeline(&incident.id).await?;
        let history = History::from_timeline(&timeline);
        let status = self.status(&history, &incident, now);
        let due_at = match kind {
            UpdateKind::Internal => status.next_internal_due,
            UpdateKind::StatusPage => status.next_status_page_due,
        }
        .unwrap_or(now);
        let details = details.map(str::trim).filter(|d| !d.is_empty());
        let notification =
            self.render(&incident, &timeline, &history, kind, CadenceMode::Send, due_at, now, details)?;
        let record = delivery::deliver_and_record(
            &*self.store,
            &*self.notifier,
            &*self.clock,
            &self.options.actor,
            notification,
        )
        .await?;
        Ok(attempt(&incident, kind, false, due_at, &record))
    }

    async fn load(&self, incident_id: &str) -> Result<Incident> {
        self.store.incident(incident_id).await?.ok_or_else(|| crate::store::incident_not_found(incident_id))
    }

    async fn tick_incident(&self, incident: &Incident, now: DateTime<Utc>, report: &mut CadenceReport) -> Result<()> {
        let timeline = self.store.timeline(&incident.id).await?;
        let mut history = History::from_timeline(&timeline);
        let lead = self.options.lead.as_delta();
        for kind in [UpdateKind::Internal, UpdateKind::StatusPage] {
            let status = self.status(&history, incident, now);
            let due_at = match kind {
                UpdateKind::Internal => status.next_internal_due,
                UpdateKind::StatusPage => status.next_status_page_due,
            };
            let Some(due_at) = due_at else { continue };
            let mode = match kind {
                UpdateKind::Internal => self.options.internal,
                UpdateKind::StatusPage => self.options.status_page,
            };
            // An update someone sent early that failed (`send_update`) is retried like a due one.
            let failed_early = mode == CadenceMode::Send
                && history.get(kind).last_attempt.is_some_and(|a| a.outcome != Outcome::Skipped);
            if (now < due_at - lead && !failed_early) || mode == CadenceMode::ReportOnly {
                continue;
            }
            if let Some(retry_at) = self.retry_at(history.get(kind), mode) {
                if now < retry_at {
                    continue;
                }
            }
            let notification = self.render(incident, &timeline, &history, kind, mode, due_at, now, None)?;
            let record = delivery::deliver_and_record(
                &*self.store,
                &*self.notifier,
                &*self.clock,
                &self.options.actor,
                notification,
            )
            .await?;
            history.observe(&record.event);
            report.push(attempt(incident, kind, mode == CadenceMode::Remind, due_at, &record));
        }
        let status = self.status(&history, incident, now);
        for o in &status.overdue {
            let last_attempt = history.get(o.kind).last_attempt.map(|a| (a.at, a.outcome));
            report.overdue.push(OverdueUpdate {
                incident_id: incident.id.clone(),
                severity: incident.severity,
                kind: o.kind,
                due_at: o.due_at,
                late_by: o.late_by,
                last_attempt,
            });
        }
        let next = [status.next_internal_due, status.next_status_page_due]
            .into_iter()
            .flatten()
            .map(|t| (t - lead).max(now))
            .filter(|t| *t > now)
            .chain([UpdateKind::Internal, UpdateKind::StatusPage].into_iter().filter_map(|k| {
                let mode = if k == UpdateKind::Internal { self.options.internal } else { self.options.status_page };
                self.retry_at(history.get(k), mode).filter(|t| *t > now)
            }))
            .min();
        report.next_due = [report.next_due, next].into_iter().flatten().min();
        Ok(())
    }

    /// [`History::status`], without the status page when the incident does not get one.
    fn status(&self, history: &History, incident: &Incident, now: DateTime<Utc>) -> comms::CadenceStatus {
        let mut status = history.status(&self.policy, incident, now);
        if self.options.status_page_only_customer_facing && !incident.customer_facing {
            status.next_status_page_due = None;
            status.overdue.retain(|o| o.kind != UpdateKind::StatusPage);
        }
        status
    }

    /// When the next attempt for a kind may be made, given its unsuccessful attempts since the last
    /// update (`None`: no constraint).
    fn retry_at(&self, h: &KindHistory, mode: CadenceMode) -> Option<DateTime<Utc>> {
        let spacing = |d: HumanDuration| d.as_delta();
        let after_attempt = h.last_attempt.map(|a| {
            a.at + match a.outcome {
                Outcome::Skipped => spacing(self.options.retry_skipped_after),
                _ => spacing(self.options.retry_failed_after),
            }
        });
        let after_reminder = match (mode, h.last_reminder) {
            (CadenceMode::Remind, Some(r)) => Some(
                r.at + match r.outcome {
                    Outcome::Succeeded => spacing(self.options.remind_every),
                    Outcome::Skipped => spacing(self.options.retry_skipped_after),
                    _ => spacing(self.options.retry_failed_after),
                },
            ),
            _ => None,
        };
        [after_attempt, after_reminder].into_iter().flatten().max()
    }

    #[allow(clippy::too_many_arguments)]
    fn render(
        &self,
        incident: &Incident,
        timeline: &Timeline,
        history: &History,
        kind: UpdateKind,
        mode: CadenceMode,
        due_at: DateTime<Utc>,
        now: DateTime<Utc>,
        details: Option<&str>,
    ) -> Result<Notification> {
        let mut shown = incident.clone();
        if shown.impact.trim().is_empty() {
            shown.impact = "(not yet assessed)".into();
        }
        let service = incident.components.first().cloned().unwrap_or_else(|| incident.title.clone());
        let text = match kind {
            UpdateKind::Internal => {
                let since =
                    history.get(UpdateKind::Internal).last_sent.unwrap_or(incident.declared_at - TimeDelta::seconds(1));
                let details = details.map_or_else(
                    || history::details_since(timeline, since, self.options.max_detail_lines),
                    str::to_owned,
                );
                comms::status_update(&UpdateInput::for_incident(&shown, &self.policy, now, &details))?
            }
            UpdateKind::StatusPage if history.get(UpdateKind::StatusPage).last_sent.is_none() => {
                comms::initial_status_page(&service)?
            }
            UpdateKind::StatusPage => comms::status_update(&UpdateInput::for_incident(&shown, &self.policy, now, ""))?,
        };
        let channel = Destination::Channel { name: incident.channel.clone() };
        Ok(match mode {
            CadenceMode::Remind => {
                let what = match kind {
                    UpdateKind::Internal => "internal update",
                    UpdateKind::StatusPage => "status page update",
                };
                let when = if now > due_at { "was due" } else { "is due" };
                Notification {
                    incident_id: incident.id.clone(),
                    to: channel,
                    kind: reminder_kind(kind).into(),
                    text: format!(
                        "Reminder: the {what} for {} [{}] {when} at {}. Suggested text:\n\n{text}",
                        incident.id,
                        incident.severity,
                        format_utc(due_at)
                    ),
                }
            }
            _ => Notification {
                incident_id: incident.id.clone(),
                to: if kind == UpdateKind::Internal { channel } else { Destination::StatusPage },
                kind: kind.as_str().into(),
                text,
            },
        })
    }
}

fn attempt(
    incident: &Incident,
    kind: UpdateKind,
    reminder: bool,
    due_at: DateTime<Utc>,
    r: &DeliveryRecord,
) -> UpdateAttempt {
    UpdateAttempt {
        incident_id: incident.id.clone(),
        kind,
        reminder,
        due_at,
        channel: r.channel.clone(),
        outcome: r.outcome,
        detail: r.detail.clone(),
        error_kind: r.error.as_ref().map(crate::Error::kind),
        event_seq: r.event.seq,
    }
}
