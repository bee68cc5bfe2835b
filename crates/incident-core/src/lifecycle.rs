//! Working a live incident from the store (runbook steps 3–6: response, communication, resolution,
//! post-incident): [`Incidents`] lists, shows, acknowledges, assigns, re-grades, moves, annotates,
//! mitigates and resolves incidents that anyone declared (`incident serve`'s receiver, `incident
//! declare`, a drill), and builds their post-mortem, while other writers keep appending to the same
//! timelines.
//!
//! Every operation takes the actor (a person: `--as alice`), reads the time from the injected
//! [`Clock`], and appends to the incident's hash-chained timeline through the [`Incident`] methods.
//!
//! # Concurrency: decided on what is stored, never lost or duplicated
//!
//! An operation is a *decision* made on copies of the stored incident and its verified timeline, and
//! written, events and incident together, by [`Store::update_incident`]:
//!
//! * the SQLite and PostgreSQL stores make the decision inside their write transaction (SQLite's
//!   `BEGIN IMMEDIATE`, PostgreSQL's `SELECT ... FOR UPDATE` of the incident's row), so no other writer
//!   (the receiver recording alerts, the cadence driver, another responder, another process) writes
//!   that incident in between, and a writer that never pauses cannot starve an operation;
//! * any other store gets the optimistic default: read the timeline then the incident, decide, write
//!   `[AppendEvents, SaveIncident]` with [`Store::write_batch`] (all or nothing); when another writer
//!   appended first the store answers [`ErrorKind::Conflict`], nothing is written, and the operation
//!   is read and **decided again** on what is now stored ([`Change::attempts`] counts the decisions),
//!   at most [`UPDATE_ATTEMPTS`](crate::store::UPDATE_ATTEMPTS) times.
//!
//! The receiver is optimistic too (it keeps incidents in memory): its next commit after an operation
//! conflicts, and it reloads and decides its batch again. Either way every decision is made on the
//! current state:
//!
//! * an acknowledgement of an incident someone acknowledged meanwhile (or before) is an *answer*
//!   ([`ChangeOutcome::Unchanged`], naming who and when), not a second `acknowledged` event; likewise
//!   a commander or role given to the person who already holds it, a severity or status the incident
//!   already has, a second "mitigated";
//! * what can no longer be done is an error of the [`Incident`] rules: resolving a resolved incident,
//!   changing a resolved one, an illegal status move are [`ErrorKind::Conflict`];
//! * bad input is [`ErrorKind::InvalidInput`] (a blank actor, person, reason, message, note or root
//!   cause), an unknown incident [`ErrorKind::NotFound`].
//!
//! # Decisions
//!
//! * **Pages stop** when the incident is acknowledged or resolved: every role the incident paged
//!   ([`crate::escalation::paged_roles`]) gets an `acknowledged` (after [`Incidents::ack`]) or
//!   `resolved` (after [`Incidents::resolve`]) notification to its `Destination::Page`, recorded like
//!   any message; the PagerDuty notifier acknowledges or resolves every alert opened for that role, so
//!   PagerDuty's own escalation does not run on beside the incident's.
//! * **Severity** may be raised or lowered, always with a reason (the runbook re-grades as facts
//!   change). A lowered incident whose alerts still classify worse is raised again by the receiver on
//!   the group's next change, with the receiver's reason on the timeline: the alerts are fresh evidence.
//! * **Status** moves by hand are `identified` and `monitoring` (with a message kept in the
//!   `status_changed` event); `resolved` is [`Incidents::resolve`], which needs a root cause.
//! * **Roles**: commander is a handover ([`Incident::hand_over`]); communications lead and scribe are
//!   [`EventKind::RoleAssigned`] events, read back by [`roles`].
//! * **Notes** are accepted on a resolved incident too (post-incident findings belong on the timeline).
//! * **Resolve** records the root cause, the resolution (given, else the message of the last move to
//!   `monitoring`, else a pointer to the timeline), resolves, then sends the runbook's final
//!   `Status: RESOLVED` message ([`comms::resolved_message`]) to the incident channel, and to the status
//!   page when the incident is customer-facing, each delivered and recorded with
//!   [`delivery::deliver_and_record`]. Then the runbook's post-incident activities start
//!   ([`crate::postincident`]): the post-incident ticket goes to the issue tracker (kind
//!   `postincident_ticket` to `Destination::Webhook { name: "tracker" }`, with the post-mortem `.ics`
//!   invite in it) and the invite is posted to the incident channel (kind `postmortem_invite`), each
//!   recorded the same way and reported in [`Change::messages`]. A delivery that fails is recorded and
//!   reported, not an error: the incident is resolved.
//! * **Update** ([`Incidents::update`]) posts the status-update template now through
//!   [`CadenceDriver::send_update`], so it counts for the cadence exactly as the driver's own updates.
//! * **Post-mortem** ([`Incidents::postmortem`]) is built from the store as a drill builds its own:
//!   the incident, its verified timeline, and its procedure runs (a run that failed or was compensated
//!   becomes an action item).
//!
//! ```
//! use std::sync::{Arc, Mutex, PoisonError};
//! use chrono::TimeZone;
//! use incident_core::clock::ManualClock;
//! use incident_core::incident::{DeclareRequest, Incident};
//! use incident_core::lifecycle::{ChangeOutcome, Incidents, ResolveRequest};
//! use incident_core::store::{MemoryStore, Store};
//! use incident_core::{ErrorKind, Policy, Severity};
//!
//! # fn main() -> incident_core::Result<()> {
//! # tokio::runtime::Builder::new_current_thread().build().expect("runtime").block_on(async {
//! let at = chrono::Utc.with_ymd_and_hms(2026, 11, 26, 14, 5, 0).single().expect("time");
//! let req = DeclareRequest {
//!     id: "INC-1".into(), title: "API errors".into(), severity: Severity::P1, components: vec!["api".into()],
//!     impact: "P1 (Customer-facing errors)".into(), customer_facing: true, customers_affected: false,
//!     on_call: "alice".into(), commander: None, started_at: None, detected_at: None, detection_source: None,
//! };
//! let (incident, timeline) = Incident::declare(req, &Policy::default(), at)?;
//! let store = Arc::new(MemoryStore::new());
//! store.save_incident(&incident).await?;
//! store.append_events(&incident.id, timeline.events()).await?;
//!
//! let clock = Arc::new(ManualClock::new(at));
//! let incidents = Incidents::new(store, clock.clone(), Policy::default());
//! clock.advance(chrono::TimeDelta::minutes(3));
//! assert_eq!(incidents.ack("INC-1", "alice").await?.outcome, ChangeOutcome::Applied);
//! // A second acknowledgement is an answer, not a second event.
//! assert!(matches!(incidents.ack("INC-1", "bob").await?.outcome, ChangeOutcome::Unchanged { .. }));
//! incidents.change_severity("INC-1", Severity::P0, "all regions", "alice").await?;
//! let resolved = incidents
//!     .resolve("INC-1", &ResolveRequest::new("bad deploy v2.3"), "alice")
//!     .await?;
//! assert_eq!(resolved.incident.severity, Severity::P0);
//! let again = incidents.resolve("INC-1", &ResolveRequest::new("x"), "alice").await.expect_err("twice");
//! assert_eq!(again.kind(), ErrorKind::Conflict);
//! assert_eq!(incidents.ack("INC-404", "alice").await.expect_err("unknown").kind(), ErrorKind::NotFound);
//! # Ok(()) })
//! # }
//! ```

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[cfg(doc)]
use crate::ErrorKind;
use crate::backend::{Delivery, Destination, Notification, Notifier};
use crate::cadence::{CadenceDriver, CadenceOptions, History, UpdateAttempt};
use crate::clock::{Clock, format_utc};
use crate::comms::{self, CadenceStatus, ResolvedInput, UpdateKind};
use crate::delivery::{self, DeliveryRecord};
use crate::incident::{Incident, Stakeholder};
use crate::postmortem::{ActionItem, PostMortem, PostMortemInput};
use crate::store::{IncidentUpdate, RunRecord, RunStatus, Store};
use crate::timeline::{Event, EventKind, Metrics, Outcome, ResponseRole, Timeline};
use crate::{Error, HumanDuration, Policy, Result, Severity, Status};

/// The statuses a responder sets by hand ([`Incidents::set_status`]); `resolved` is
/// [`Incidents::resolve`].
pub const MANUAL_STATUSES: [Status; 2] = [Status::Identified, Status::Monitoring];

/// Which operation a [`Change`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Operation {
    /// [`Incidents::ack`].
    Ack,
    /// [`Incidents::assign`].
    Assign,
    /// [`Incidents::change_severity`].
    Severity,
    /// [`Incidents::set_status`].
    Status,
    /// [`Incidents::note`].
    Note,
    /// [`Incidents::mitigated`].
    Mitigated,
    /// [`Incidents::resolve`].
    Resolve,
    /// [`Incidents::declare`].
    Declare,
}

impl Operation {
    /// The operation's name (`ack`, `assign`, ...), as the CLI's subcommand.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ack => "ack",
            Self::Assign => "assign",
            Self::Severity => "severity",
            Self::Status => "status",
            Self::Note => "note",
            Self::Mitigated => "mitigated",
            Self::Resolve => "resolve",
            Self::Declare => "declare",
        }
    }
}

/// Whether an operation changed the incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ChangeOutcome {
    /// Recorded: the events are in [`Change::events`].
    Applied,
    /// Nothing to record: what was asked already holds (someone else did it, now or before).
    Unchanged {
        /// What already holds, for people (`INC-1 was already acknowledged by bob at ...`).
        why: String,
    },
}

/// A message an operation sent (the resolve's final message), as delivered and recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SentMessage {
    /// Message kind (`resolved`).
    pub kind: String,
    /// Where (`#incident-...`, `status-page`).
    pub channel: String,
    /// How it went.
    pub outcome: Outcome,
    /// Provider reference, skip reason or error, as recorded.
    pub detail: String,
    /// The `message_sent` event that records it.
    pub event_seq: u64,
}

impl SentMessage {
    fn from_record(r: &DeliveryRecord) -> Self {
        Self {
            kind: r.notification.kind.clone(),
            channel: r.channel.clone(),
            outcome: r.outcome,
            detail: r.detail.clone(),
            event_seq: r.event.seq,
        }
    }
}

/// What an operation did.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Change {
    /// The operation.
    pub operation: Operation,
    /// Who asked.
    pub actor: String,
    /// Recorded, or why nothing was.
    #[serde(flatten)]
    pub outcome: ChangeOutcome,
    /// The incident after the operation (as stored).
    pub incident: Incident,
    /// The events the operation appended (none when unchanged).
    pub events: Vec<Event>,
    /// Messages sent after the change (an acknowledgement or resolution to every role the incident paged,
    /// the resolve's final message, post-incident ticket and invite), each
    /// recorded on the timeline.
    pub messages: Vec<SentMessage>,
    /// How many times the operation was decided (1 + the conflicts with other writers it re-decided).
    pub attempts: u32,
}

/// What [`Incidents::resolve`] records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResolveRequest {
    /// Brief description of the root cause (required).
    pub root_cause: String,
    /// What was done to fix it; see the [module docs](self) for the default.
    #[serde(default)]
    pub resolution: Option<String>,
}

impl ResolveRequest {
    /// A request with this root cause and the default resolution.
    pub fn new(root_cause: impl Into<String>) -> Self {
        Self { root_cause: root_cause.into(), resolution: None }
    }

    /// With this resolution.
    #[must_use]
    pub fn resolution(mut self, resolution: impl Into<String>) -> Self {
        self.resolution = Some(resolution.into());
        self
    }
}

/// Which incidents [`Incidents::list`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ListFilter {
    /// Only incidents not resolved.
    pub open: bool,
    /// Only incidents of this severity.
    pub severity: Option<Severity>,
    /// Only incidents declared at most this long ago.
    pub since: Option<HumanDuration>,
}

/// Who holds the response roles of an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Roles {
    /// The incident commander.
    pub commander: String,
    /// The communications lead, once assigned.
    pub communications: Option<String>,
    /// The scribe, once assigned.
    pub scribe: Option<String>,
}

impl Roles {
    /// Who holds `role`.
    #[must_use]
    pub fn holder(&self, role: ResponseRole) -> Option<&str> {
        match role {
            ResponseRole::Commander => Some(self.commander.as_str()),
            ResponseRole::Communications => self.communications.as_deref(),
            ResponseRole::Scribe => self.scribe.as_deref(),
        }
    }
}

/// The response roles: the commander from the incident, the others from the timeline's
/// [`EventKind::RoleAssigned`] events (the newest of each role).
#[must_use]
pub fn roles(incident: &Incident, timeline: &Timeline) -> Roles {
    let mut r = Roles { commander: incident.commander.clone(), communications: None, scribe: None };
    for ev in timeline.events() {
        if let EventKind::RoleAssigned { role, person, .. } = &ev.kind {
            match role {
                ResponseRole::Communications => r.communications = Some(person.clone()),
                ResponseRole::Scribe => r.scribe = Some(person.clone()),
                _ => {}
            }
        }
    }
    r
}

/// A procedure run of an incident, as `incident show` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RunSummary {
    /// Run id.
    pub run_id: String,
    /// Procedure name.
    pub procedure: String,
    /// Where it stands.
    pub status: RunStatus,
    /// Whether its plan was approved.
    pub approved: bool,
    /// Created (planned).
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl RunSummary {
    fn of(r: &RunRecord) -> Self {
        Self {
            run_id: r.run_id.clone(),
            procedure: r.procedure.clone(),
            status: r.status,
            approved: r.approval.is_some(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Everything `incident show` prints about one incident.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct IncidentView {
    /// When it was read (the cadence is relative to it).
    pub at: DateTime<Utc>,
    /// The incident.
    pub incident: Incident,
    /// Who holds the response roles.
    pub roles: Roles,
    /// Who is notified at its current severity ([`Incident::stakeholders`]).
    pub stakeholders: Vec<Stakeholder>,
    /// Updates due and overdue (as the cadence driver sees them: no status page for an incident that is
    /// not customer-facing).
    pub cadence: CadenceStatus,
    /// Paging and escalation (who was paged, the acknowledgement deadline, the next level).
    pub escalation: crate::escalation::EscalationStatus,
    /// Once resolved: the post-incident tasks, their 24-hour deadline and which are done.
    pub post_incident: Option<crate::postincident::PostIncident>,
    /// MTTD, MTTA, MTTM, MTTR so far.
    pub metrics: Metrics,
    /// Its procedure runs (plans, running, finished), newest first.
    pub runs: Vec<RunSummary>,
    /// The verified timeline.
    pub timeline: Timeline,
}

/// The last decision of an operation and the incident it was made on, and how many times it was made.
type LastDecision = (Option<(Decided, Incident)>, u32);

/// What a decision says before anything is written.
enum Decided {
    /// The copies were changed and events appended: write them.
    Apply,
    /// Nothing to write.
    Unchanged(String),
}

/// Lifecycle operations on the incidents of a store (see the [module docs](self)).
pub struct Incidents {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    notifier: Arc<dyn Notifier>,
    policy: Policy,
}

impl std::fmt::Debug for Incidents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incidents").field("clock", &self.clock).finish_non_exhaustive()
    }
}

/// The notifier of an [`Incidents`] built without one: every message is recorded `skipped`.
struct NoNotifier;

#[async_trait::async_trait]
impl Notifier for NoNotifier {
    async fn notify(&self, _: &Notification) -> Result<Delivery> {
        Ok(Delivery::Skipped { reason: "no notifier configured".into() })
    }
}

fn non_blank(what: &str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() { Err(Error::invalid_input(format!("{what} must not be empty"))) } else { Ok(v.to_owned()) }
}

impl Incidents {
    /// Operations on `store`'s incidents at `clock`'s time under `policy`; messages are recorded
    /// `skipped` until [`Incidents::with_notifier`] gives a notifier.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, policy: Policy) -> Self {
        Self { store, clock, notifier: Arc::new(NoNotifier), policy }
    }

    /// Send messages (the resolve's final message) through `notifier`.
    #[must_use]
    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The policy.
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Declare an incident now, on the one declaration path ([`crate::declare`]): `decided` (a
    /// person's report, [`crate::declare::Basis::reported`], or a classified basis) becomes incident
    /// `id` (default `INC-YYYYMMDD-HHMM` of now, with `-2`, `-3`... when that id is taken) with `on_call`
    /// as incident commander, stored as one write, then the declaration notifications (channel intro,
    /// ticket, a page per stakeholder) are sent, each delivered and recorded as `on_call`'s.
    ///
    /// # Errors
    /// As [`crate::declare::Decided::declare`] (blank id, title or on-call: `InvalidInput`);
    /// [`ErrorKind::Conflict`] when the given `id` is taken. A notification that could not be delivered
    /// is reported in [`Change::messages`], not an error: the incident is declared.
    pub async fn declare(&self, decided: crate::declare::Decided, id: Option<&str>, on_call: &str) -> Result<Change> {
        let now = self.clock.now();
        let explicit = id.is_some();
        let base = id.map_or_else(|| crate::incident::incident_id(now, None), str::to_owned);
        let mut attempt = 1u32;
        let declared = loop {
            let next = if attempt == 1 { base.clone() } else { format!("{base}-{attempt}") };
            let declared = decided.clone().declare(&self.policy, next, on_call, now)?;
            match declared.record(&*self.store).await {
                Ok(()) => break declared,
                Err(e) if e.kind() == crate::ErrorKind::Conflict && !explicit && attempt < 100 => attempt += 1,
                Err(e) => return Err(e),
            }
        };
        let mut messages = Vec::new();
        for n in declared.incident.declaration_notifications(&self.policy) {
            let record = delivery::deliver_and_record(&*self.store, &*self.notifier, &*self.clock, on_call, n).await?;
            messages.push(SentMessage::from_record(&record));
        }
        Ok(Change {
            operation: Operation::Declare,
            actor: declared.incident.commander.clone(),
            outcome: ChangeOutcome::Applied,
            incident: declared.incident,
            events: declared.timeline.events().to_vec(),
            messages,
            attempts: attempt,
        })
    }

    /// Incidents matching `filter`, newest declaration first.
    ///
    /// # Errors
    /// The store's.
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<Incident>> {
        let now = self.clock.now();
        let since = filter.since.map(|d| now - d.as_delta());
        let mut all = self.store.incidents().await?;
        all.retain(|i| {
            (!filter.open || i.status != Status::Resolved)
                && filter.severity.is_none_or(|s| i.severity == s)
                && since.is_none_or(|t| i.declared_at >= t)
        });
        Ok(all)
    }

    /// Read an incident and its verified timeline (timeline first: see the [module docs](self)).
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown id; the store's (`Integrity` for a tampered timeline).
    pub async fn load(&self, id: &str) -> Result<(Incident, Timeline)> {
        let id = non_blank("incident id", id)?;
        let timeline = self.store.timeline(&id).await?.with_max_events(self.policy.limits.max_events_per_incident);
        let incident = self.store.incident(&id).await?.ok_or_else(|| crate::store::incident_not_found(&id))?;
        Ok((incident, timeline))
    }

    /// Everything about one incident: summary, roles, stakeholders, cadence due/overdue, metrics, runs and
    /// the timeline.
    ///
    /// # Errors
    /// As [`Incidents::load`].
    pub async fn show(&self, id: &str) -> Result<IncidentView> {
        let (incident, timeline) = self.load(id).await?;
        let at = self.clock.now().max(timeline.last().map_or(incident.declared_at, |e| e.at));
        let mut cadence = History::from_timeline(&timeline).status(&self.policy, &incident, at);
        if !incident.customer_facing {
            // As the cadence driver (its default `status_page_only_customer_facing`).
            cadence.next_status_page_due = None;
            cadence.overdue.retain(|o| o.kind != UpdateKind::StatusPage);
        }
        let runs = self.runs_of(&incident.id).await?.iter().map(RunSummary::of).collect();
        let escalation = crate::escalation::status(&self.policy, &incident, &timeline, at)?;
        let post_incident = crate::postincident::PostIncident::of(&incident, &timeline, &self.policy.post_incident);
        Ok(IncidentView {
            at,
            escalation,
            post_incident,
            roles: roles(&incident, &timeline),
            stakeholders: incident.stakeholders(&self.policy),
            metrics: incident.metrics(),
            cadence,
            runs,
            timeline,
            incident,
        })
    }

    async fn runs_of(&self, id: &str) -> Result<Vec<RunRecord>> {
        let mut runs = self.store.runs().await?;
        runs.retain(|r| r.incident_id.as_deref() == Some(id));
        Ok(runs)
    }

    /// Decide `op` on the stored incident and write it with [`Store::update_incident`] (see the
    /// [module docs](self)).
    async fn apply<F>(&self, operation: Operation, id: &str, actor: &str, mut decide: F) -> Result<Change>
    where
        F: FnMut(&mut Incident, &mut Timeline, DateTime<Utc>, &str) -> Result<Decided> + Send + 'static,
    {
        let actor = non_blank("actor", actor)?;
        let id = non_blank("incident id", id)?;
        let last: Arc<Mutex<LastDecision>> = Arc::default();
        let (clock, out, who) = (Arc::clone(&self.clock), Arc::clone(&last), actor.clone());
        let max_events = self.policy.limits.max_events_per_incident;
        let update: Box<IncidentUpdate> = Box::new(move |incident, timeline| {
            timeline.set_max_events(max_events);
            // Writers' clocks differ slightly; the timeline never goes backwards.
            let now = timeline.last().map_or_else(|| clock.now(), |e| clock.now().max(e.at));
            let stored = incident.clone();
            let decided = decide(incident, timeline, now, &who);
            let mut out = out.lock().unwrap_or_else(PoisonError::into_inner);
            out.1 += 1;
            let decided = decided?;
            let write = matches!(decided, Decided::Apply);
            out.0 = Some((decided, stored));
            Ok(write)
        });
        let written = self.store.update_incident(&id, update).await?;
        let (decided, attempts) = {
            let mut last = last.lock().unwrap_or_else(PoisonError::into_inner);
            (last.0.take(), last.1)
        };
        let change = |outcome, incident, events| Change {
            operation,
            actor: actor.clone(),
            outcome,
            incident,
            events,
            messages: Vec::new(),
            attempts,
        };
        match (written, decided) {
            (Some(w), _) => Ok(change(ChangeOutcome::Applied, w.incident, w.events)),
            (None, Some((Decided::Unchanged(why), stored))) => {
                Ok(change(ChangeOutcome::Unchanged { why }, stored, Vec::new()))
            }
            (None, _) => {
                Err(Error::internal(format!("incident {id}: {} decided to write but nothing was", operation.as_str())))
            }
        }
    }

    /// Acknowledge the incident (the first acknowledgement stops the response-time clock).
    ///
    /// # Errors
    /// [`ErrorKind::Conflict`] when it is resolved without ever being acknowledged; see the
    /// [module docs](self) for the rest.
    pub async fn ack(&self, id: &str, actor: &str) -> Result<Change> {
        let mut change = self
            .apply(Operation::Ack, id, actor, move |incident, timeline, now, actor| {
                if let Some(at) = incident.acknowledged_at {
                    let by = timeline.find(|k| matches!(k, EventKind::Acknowledged)).map(|e| e.actor.clone());
                    let by = by.map(|b| format!(" by {b}")).unwrap_or_default();
                    return Ok(Decided::Unchanged(format!(
                        "{} was already acknowledged{by} at {}",
                        incident.id,
                        format_utc(at)
                    )));
                }
                incident.acknowledge(now, actor, timeline)?;
                Ok(Decided::Apply)
            })
            .await?;
        if change.outcome == ChangeOutcome::Applied {
            let text =
                format!("[{}] {} acknowledged by {}", change.incident.severity, change.incident.id, change.actor);
            self.release_pages(&mut change, "acknowledged", &text).await?;
        }
        Ok(change)
    }

    /// Tell every role this incident paged that it was acknowledged or resolved (`kind`), so their
    /// pages stop: one notification per paged role, each recorded (the PagerDuty notifier acknowledges
    /// or resolves every alert the incident opened for that role).
    async fn release_pages(&self, change: &mut Change, kind: &str, text: &str) -> Result<()> {
        let timeline = self.store.timeline(&change.incident.id).await?;
        for role in crate::escalation::paged_roles(&timeline) {
            let n = Notification {
                incident_id: change.incident.id.clone(),
                to: Destination::Page { role },
                kind: kind.into(),
                text: text.to_owned(),
            };
            let record =
                delivery::deliver_and_record(&*self.store, &*self.notifier, &*self.clock, &change.actor, n).await?;
            change.messages.push(SentMessage::from_record(&record));
        }
        Ok(())
    }

    /// Give `role` to `person`: the commander role is a handover, the others are recorded.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] for a blank person; [`ErrorKind::Conflict`] once resolved.
    pub async fn assign(&self, id: &str, role: ResponseRole, person: &str, actor: &str) -> Result<Change> {
        let person = non_blank("person", person)?;
        self.apply(Operation::Assign, id, actor, move |incident, timeline, now, actor| {
            let current = roles(incident, timeline);
            if current.holder(role) == Some(person.as_str()) {
                return Ok(Decided::Unchanged(format!(
                    "{person} already is the {} of {}",
                    role.title().to_lowercase(),
                    incident.id
                )));
            }
            if incident.status == Status::Resolved {
                return Err(Error::conflict(format!("incident {} is resolved; cannot assign a {role}", incident.id)));
            }
            match role {
                ResponseRole::Commander => incident.hand_over(&person, now, actor, timeline)?,
                _ => {
                    let previous = current.holder(role).map(str::to_owned);
                    timeline.append(now, actor, EventKind::RoleAssigned { role, person: person.clone(), previous })?;
                }
            }
            Ok(Decided::Apply)
        })
        .await
    }

    /// Raise or lower the severity, with a reason (see the [module docs](self)); the next update and the
    /// cadence follow the new severity.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] for a blank reason; [`ErrorKind::Conflict`] once resolved.
    pub async fn change_severity(&self, id: &str, to: Severity, reason: &str, actor: &str) -> Result<Change> {
        let reason = non_blank("severity change reason", reason)?;
        self.apply(Operation::Severity, id, actor, move |incident, timeline, now, actor| {
            if incident.severity == to && incident.status != Status::Resolved {
                return Ok(Decided::Unchanged(format!("{} already is {to}", incident.id)));
            }
            incident.change_severity(to, &reason, now, actor, timeline)?;
            Ok(Decided::Apply)
        })
        .await
    }

    /// Move to `identified` or `monitoring`, with what the responder says about it.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] for another status (resolve with [`Incidents::resolve`]) or a blank
    /// message; [`ErrorKind::Conflict`] for a move the state machine forbids.
    pub async fn set_status(&self, id: &str, to: Status, message: &str, actor: &str) -> Result<Change> {
        if !MANUAL_STATUSES.contains(&to) {
            return Err(Error::invalid_input(format!(
                "status {to} cannot be set by hand (expected identified or monitoring; resolve with a root cause)"
            )));
        }
        let message = non_blank("status message", message)?;
        self.apply(Operation::Status, id, actor, move |incident, timeline, now, actor| {
            if incident.status == to {
                return Ok(Decided::Unchanged(format!(
                    "{} already is {to}; the message was not recorded (add it as a note)",
                    incident.id
                )));
            }
            incident.transition_with_message(to, Some(&message), now, actor, timeline)?;
            Ok(Decided::Apply)
        })
        .await
    }

    /// Add a note to the timeline (also once resolved).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] for a blank note.
    pub async fn note(&self, id: &str, text: &str, actor: &str) -> Result<Change> {
        let text = non_blank("note", text)?;
        self.apply(Operation::Note, id, actor, move |_, timeline, now, actor| {
            timeline.append(now, actor, EventKind::Note { text: text.clone() })?;
            Ok(Decided::Apply)
        })
        .await
    }

    /// Record that user impact stopped (a milestone; the status is unchanged).
    ///
    /// # Errors
    /// [`ErrorKind::Conflict`] when resolved without ever being marked mitigated.
    pub async fn mitigated(&self, id: &str, actor: &str) -> Result<Change> {
        self.apply(Operation::Mitigated, id, actor, move |incident, timeline, now, actor| {
            if let Some(at) = incident.mitigated_at {
                return Ok(Decided::Unchanged(format!("{} was already mitigated at {}", incident.id, format_utc(at))));
            }
            incident.mark_mitigated(now, actor, timeline)?;
            Ok(Decided::Apply)
        })
        .await
    }

    /// Resolve with a root cause, then send the runbook's final message (see the [module docs](self)).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] for a blank root cause or resolution; [`ErrorKind::Conflict`] when
    /// already resolved. A message that could not be delivered is reported in [`Change::messages`]; one
    /// that could not be recorded is the store's error (the incident is resolved by then).
    pub async fn resolve(&self, id: &str, req: &ResolveRequest, actor: &str) -> Result<Change> {
        let root_cause = non_blank("root cause", &req.root_cause)?;
        let resolution = req.resolution.as_deref().map(|r| non_blank("resolution", r)).transpose()?;
        let mut change = self
            .apply(Operation::Resolve, id, actor, move |incident, timeline, now, actor| {
                let resolution = resolution.clone().unwrap_or_else(|| default_resolution(incident, timeline));
                incident.set_root_cause(&root_cause)?;
                incident.set_resolution(&resolution)?;
                incident.resolve(now, actor, timeline)?;
                Ok(Decided::Apply)
            })
            .await?;
        let incident = &change.incident;
        let mut shown = incident.clone();
        if shown.impact.trim().is_empty() {
            shown.impact = "(not yet assessed)".into();
        }
        let text = comms::resolved_message(&ResolvedInput::from_incident(&shown)?)?;
        let mut to = vec![Destination::Channel { name: incident.channel.clone() }];
        if incident.customer_facing {
            to.push(Destination::StatusPage);
        }
        for to in to {
            let n = Notification { incident_id: incident.id.clone(), to, kind: "resolved".into(), text: text.clone() };
            let record =
                delivery::deliver_and_record(&*self.store, &*self.notifier, &*self.clock, &change.actor, n).await?;
            change.messages.push(SentMessage::from_record(&record));
        }
        let paged = format!(
            "[{}] {} resolved: {}",
            change.incident.severity,
            change.incident.id,
            crate::text::neutralise(&change.incident.title)
        );
        self.release_pages(&mut change, "resolved", &paged).await?;
        // The runbook's post-incident activities: the ticket, then the post-mortem invite.
        for n in crate::postincident::notifications(&change.incident, &self.policy) {
            let record =
                delivery::deliver_and_record(&*self.store, &*self.notifier, &*self.clock, &change.actor, n).await?;
            change.messages.push(SentMessage::from_record(&record));
        }
        Ok(change)
    }

    /// Post the runbook's status-update template now, whatever the cadence says, and count it for the
    /// cadence: the internal update to the incident channel, and the public status-page update too when
    /// the incident gets those (customer-facing, at a severity of `cadence.status_page_for`). Each is
    /// [`CadenceDriver::send_update`] with `actor` as the recorded sender; `details` are the internal
    /// update's details (default: the timeline since the last update). The text follows the current
    /// severity and status (after `incident severity ID P0`, the impact line says P0).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] for a blank actor; [`ErrorKind::NotFound`]; [`ErrorKind::Conflict`]
    /// once resolved. A delivery that fails is in the returned attempt (and on the timeline).
    pub async fn update(&self, id: &str, details: Option<&str>, actor: &str) -> Result<Vec<UpdateAttempt>> {
        let actor = non_blank("actor", actor)?;
        let (incident, _) = self.load(id).await?;
        let options = CadenceOptions { actor, ..CadenceOptions::default() };
        let driver = CadenceDriver::new(
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            Arc::clone(&self.notifier),
            self.policy.clone(),
        )
        .with_options(options);
        let mut kinds = vec![UpdateKind::Internal];
        if incident.customer_facing && self.policy.cadence.status_page_for.contains(&incident.severity) {
            kinds.push(UpdateKind::StatusPage);
        }
        let mut sent = Vec::new();
        for kind in kinds {
            sent.push(driver.send_update(&incident.id, kind, self.clock.now(), details).await?);
        }
        Ok(sent)
    }

    /// The post-mortem from the store: the incident, its timeline and its runs (a run that failed or was
    /// compensated becomes an action item, before those of `input`).
    ///
    /// # Errors
    /// As [`Incidents::load`].
    pub async fn postmortem(&self, id: &str, mut input: PostMortemInput) -> Result<PostMortem> {
        let (incident, timeline) = self.load(id).await?;
        let mut items: Vec<ActionItem> = self
            .runs_of(&incident.id)
            .await?
            .iter()
            .rev()
            .filter(|r| matches!(r.status, RunStatus::Failed | RunStatus::Compensated))
            .map(|r| ActionItem {
                description: format!("Review run {} ({}): it ended {}", r.run_id, r.procedure, r.status),
                owner: incident.commander.clone(),
                due: None,
            })
            .collect();
        items.append(&mut input.action_items);
        input.action_items = items;
        Ok(PostMortem::build(&incident, &timeline, input))
    }
}

/// The resolution when none is given: the message of the last move to `monitoring` (the fix being
/// watched), else a pointer to the timeline.
fn default_resolution(incident: &Incident, timeline: &Timeline) -> String {
    timeline
        .events()
        .iter()
        .rev()
        .find_map(|e| match &e.kind {
            EventKind::StatusChanged { to: Status::Monitoring, message: Some(m), .. } => Some(m.clone()),
            _ => None,
        })
        .unwrap_or_else(|| format!("see the timeline of {}", incident.id))
}

mod evidence;
pub use crate::preserve::{EvidenceDraft, Preserved};
pub use evidence::RecordedPostMortem;

#[cfg(test)]
mod tests;
