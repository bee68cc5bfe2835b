//! The incident [`Timeline`]: an append-only, hash-chained log of [`Event`]s, and the response
//! [`Metrics`] derived from it.
//!
//! # Chain
//!
//! Events are numbered from `#1`. Each event stores the hash of its predecessor (`prev_hash`; the first
//! event stores [`GENESIS_HASH`], 64 zeros) and its own `hash`: the lower-case hex SHA-256 of the
//! canonical JSON array
//!
//! ```text
//! ["incident-core/timeline/v1", incident_id, seq, at, actor, kind, prev_hash]
//! ```
//!
//! where `at` is RFC 3339 UTC with exactly nine fractional digits (`2026-11-26T14:05:00.000000000Z`) and
//! `kind` is the event's JSON (`{"type": "...", ...}`) with object keys sorted, no insignificant
//! whitespace. The incident id is part of every hash, so events cannot be moved between incidents.
//!
//! [`Timeline::from_events`] re-verifies the whole chain and names the first problem precisely:
//! `timeline of INC-1: event #4 hash mismatch (edited?)`, `... event #5 follows #3 (dropped or
//! reordered)`, `... prev_hash of #2 does not match #1`. A chain cannot detect that its *tail* was cut
//! off: the stores record the head with every append and compare it on load; a timeline outside a store
//! (a file) is checked against a [`Timeline::head_hash`] anchored elsewhere with [`Timeline::verify_head`].
//!
//! # Size
//!
//! A timeline accepts at most [`Timeline::max_events`] events ([`DEFAULT_MAX_EVENTS`] unless set from the
//! policy's `limits.max_events_per_incident`, as [`Incident::declare`](crate::incident::Incident::declare)
//! and the executor do): the next append is refused with [`ErrorKind::Refused`](crate::ErrorKind::Refused)
//! `timeline of INC-1: event #100001 refused: limits.max_events_per_incident is 100000`. A stored timeline
//! that already holds more still loads.
//!
//! # Time
//!
//! Events must be appended in time order: an event at the same instant as its predecessor is accepted,
//! an earlier one is refused with [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput).
//!
//! # Metrics
//!
//! All measured from **detection** (except MTTD, which ends there):
//!
//! * **MTTD** (time to detect) = detected − started (the issue began; known only when supplied);
//! * **MTTA** (time to acknowledge) = acknowledged − detected;
//! * **MTTM** (time to mitigate) = mitigated − detected;
//! * **MTTR** (time to resolve) = resolved − detected.
//!
//! Each is `None` when either end is unknown or the end precedes the start; values are whole seconds
//! (rounded down).

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, HumanDuration, Result, Severity, Status};

/// `prev_hash` of the first event: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain-separation tag and format version of the hash preimage.
const HASH_DOMAIN: &str = "incident-core/timeline/v1";

pub use crate::policy::DEFAULT_MAX_EVENTS;

/// The outcome of a message or an executed action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// Done (message delivered, action applied).
    Succeeded,
    /// Not done; the detail says why.
    Failed,
    /// Deliberately not done (dry run, already in the desired state, not applicable).
    Skipped,
    /// The request may or may not have taken effect (e.g. a timeout after sending).
    Unknown,
}

impl Outcome {
    /// `succeeded`, `failed`, `skipped` or `unknown`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened. Serialized with a `type` tag in snake case (`{"type": "status_changed", ...}`).
///
/// New variants may be added; match with a wildcard arm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// The problem was noticed (alert, customer report, ...).
    Detected {
        /// Where the signal came from (`prometheus`, `customer report`, ...).
        source: String,
        /// What was seen.
        summary: String,
    },
    /// An incident was declared.
    Declared {
        /// Declared severity.
        severity: Severity,
        /// Incident title.
        title: String,
        /// Incident channel (`#incident-YYYY-MM-DD-HHMM`).
        channel: String,
        /// Ticket text.
        ticket: String,
    },
    /// A responder acknowledged the incident (the event's actor).
    Acknowledged,
    /// A new incident commander took over.
    CommanderAssigned {
        /// The new commander.
        commander: String,
        /// The previous commander, if any.
        previous: Option<String>,
    },
    /// The status changed.
    StatusChanged {
        /// Old status.
        from: Status,
        /// New status.
        to: Status,
        /// What the responder said with it (`incident status ID identified --message ...`); absent in
        /// events recorded without one (and so in every event recorded before it was kept: their hashes
        /// are unchanged).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// The severity was raised or lowered.
    SeverityChanged {
        /// Old severity.
        from: Severity,
        /// New severity.
        to: Severity,
        /// Why (mandatory).
        reason: String,
    },
    /// A message was sent (or attempted) to a channel.
    MessageSent {
        /// Where (`slack:#incident-...`, `status-page`, ...).
        channel: String,
        /// Which message (`initial_status_page`, `status_update`, `resolved`, ...).
        kind: String,
        /// Whether it was delivered.
        outcome: Outcome,
        /// Free text (error, message id, ...).
        #[serde(default)]
        detail: String,
    },
    /// A procedure step was planned.
    ActionPlanned {
        /// Procedure run id.
        run_id: String,
        /// Step id within the run.
        step_id: String,
        /// What the step will do.
        summary: String,
    },
    /// A plan was approved.
    ApprovalGranted {
        /// Procedure run id.
        run_id: String,
        /// Who approved.
        by: String,
        /// Whether production changes were explicitly confirmed.
        confirm_production: bool,
        /// When the approval was given (absent in events recorded before it was kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<DateTime<Utc>>,
        /// The digest of the plan approved (absent in events recorded before it was kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plan_digest: Option<String>,
    },
    /// A procedure step ran.
    ActionExecuted {
        /// Procedure run id.
        run_id: String,
        /// Step id within the run.
        step_id: String,
        /// What the step did.
        summary: String,
        /// How it went.
        outcome: Outcome,
        /// Free text (error, resulting state, ...).
        #[serde(default)]
        detail: String,
    },
    /// A verification check ran.
    CheckResult {
        /// Check name.
        name: String,
        /// Whether it passed.
        passed: bool,
        /// Free text.
        #[serde(default)]
        detail: String,
    },
    /// User impact has stopped (the fix or workaround is in place).
    Mitigated,
    /// The incident is over.
    Resolved,
    /// Evidence (logs, dumps) was preserved.
    EvidenceAdded {
        /// Evidence name (file name, URL).
        name: String,
        /// Lower-case hex SHA-256 of the content.
        sha256: String,
    },
    /// A free-text note.
    Note {
        /// The note.
        text: String,
    },
    /// Someone took a response role other than incident commander (that one is
    /// [`EventKind::CommanderAssigned`]): the communications lead or the scribe.
    RoleAssigned {
        /// Which role.
        role: ResponseRole,
        /// Who holds it now.
        person: String,
        /// Who held it before, if anyone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<String>,
    },
    /// Alerts of the incident's alert group arrived: new alerts and changed statuses only (a repeated
    /// notification adds nothing). See [`crate::ingest::group`].
    AlertsReceived {
        /// Where they came from (`alertmanager`, `pagerduty`, `grafana`, `cloudwatch`, `datadog`).
        source: String,
        /// The group key the receiver deduplicates on (`alertmanager:{}:{alertname="X"}`, ...).
        group_key: String,
        /// The alerts, as received.
        alerts: Vec<crate::alert::AlertRecord>,
    },
}

impl EventKind {
    /// The `type` tag (`detected`, `status_changed`, ...).
    #[must_use]
    pub const fn type_name(&self) -> &'static str {
        match self {
            Self::Detected { .. } => "detected",
            Self::Declared { .. } => "declared",
            Self::Acknowledged => "acknowledged",
            Self::CommanderAssigned { .. } => "commander_assigned",
            Self::StatusChanged { .. } => "status_changed",
            Self::SeverityChanged { .. } => "severity_changed",
            Self::MessageSent { .. } => "message_sent",
            Self::ActionPlanned { .. } => "action_planned",
            Self::ApprovalGranted { .. } => "approval_granted",
            Self::ActionExecuted { .. } => "action_executed",
            Self::CheckResult { .. } => "check_result",
            Self::Mitigated => "mitigated",
            Self::Resolved => "resolved",
            Self::EvidenceAdded { .. } => "evidence_added",
            Self::Note { .. } => "note",
            Self::AlertsReceived { .. } => "alerts_received",
            Self::RoleAssigned { .. } => "role_assigned",
        }
    }

    /// A one-line human description, used by post-mortem timelines.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Detected { source, summary } => format!("Detected via {source}: {summary}"),
            Self::Declared { severity, title, channel, .. } => {
                format!("Declared [{severity}] {title} ({channel})")
            }
            Self::Acknowledged => "Acknowledged".into(),
            Self::CommanderAssigned { commander, previous: Some(prev) } => {
                format!("Incident commander handed over from {prev} to {commander}")
            }
            Self::CommanderAssigned { commander, previous: None } => {
                format!("Incident commander: {commander}")
            }
            Self::StatusChanged { from, to, message: None } => format!("Status {from} -> {to}"),
            Self::StatusChanged { from, to, message: Some(m) } => format!("Status {from} -> {to}: {m}"),
            Self::SeverityChanged { from, to, reason } => {
                format!("Severity {from} -> {to}: {reason}")
            }
            Self::MessageSent { channel, kind, outcome, detail } => {
                with_detail(format!("Message {kind} to {channel}: {outcome}"), detail)
            }
            Self::ActionPlanned { run_id, step_id, summary } => {
                format!("Planned {run_id}/{step_id}: {summary}")
            }
            Self::ApprovalGranted { run_id, by, confirm_production, at, plan_digest } => {
                let prod = if *confirm_production { " (production confirmed)" } else { "" };
                let at =
                    at.map(|t| format!(" at {}", t.to_rfc3339_opts(SecondsFormat::Secs, true))).unwrap_or_default();
                let digest = plan_digest.as_ref().map(|d| format!(", plan digest {d}")).unwrap_or_default();
                format!("Run {run_id} approved by {by}{at}{prod}{digest}")
            }
            Self::ActionExecuted { run_id, step_id, summary, outcome, detail } => {
                with_detail(format!("Executed {run_id}/{step_id}: {summary} ({outcome})"), detail)
            }
            Self::CheckResult { name, passed, detail } => {
                let verdict = if *passed { "passed" } else { "FAILED" };
                with_detail(format!("Check {name} {verdict}"), detail)
            }
            Self::Mitigated => "Mitigated".into(),
            Self::Resolved => "Resolved".into(),
            Self::EvidenceAdded { name, sha256 } => {
                format!("Evidence preserved: {name} (sha256 {sha256})")
            }
            Self::Note { text } => format!("Note: {text}"),
            Self::AlertsReceived { source, alerts, .. } => crate::alert::describe_alerts(source, alerts),
            Self::RoleAssigned { role, person, previous: Some(prev) } => {
                format!("{} handed over from {prev} to {person}", role.title())
            }
            Self::RoleAssigned { role, person, previous: None } => format!("{}: {person}", role.title()),
        }
    }
}

/// A role in the response (runbook "Response": the incident commander leads, a communications lead
/// keeps stakeholders and the status page informed, a scribe keeps the timeline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ResponseRole {
    /// The incident commander (recorded as [`EventKind::CommanderAssigned`]).
    Commander,
    /// The communications lead.
    Communications,
    /// The scribe.
    Scribe,
}

impl ResponseRole {
    /// Every role.
    pub const ALL: [Self; 3] = [Self::Commander, Self::Communications, Self::Scribe];

    /// Their wire names: the allowed values the CLI and the bindings list.
    pub const NAMES: [&'static str; 3] = ["commander", "communications", "scribe"];

    /// The wire name (`commander`, `communications`, `scribe`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Commander => "commander",
            Self::Communications => "communications",
            Self::Scribe => "scribe",
        }
    }

    /// Words for people: `Incident commander`, `Communications lead`, `Scribe`.
    #[must_use]
    pub const fn title(self) -> &'static str {
        match self {
            Self::Commander => "Incident commander",
            Self::Communications => "Communications lead",
            Self::Scribe => "Scribe",
        }
    }
}

impl std::fmt::Display for ResponseRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ResponseRole {
    type Err = Error;

    /// Parse the wire name; the error lists the allowed values.
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s.trim().to_ascii_lowercase()).ok_or_else(|| {
            Error::invalid_input(format!("unknown role {s:?} (expected one of {})", Self::NAMES.join(", ")))
        })
    }
}

fn with_detail(head: String, detail: &str) -> String {
    if detail.is_empty() { head } else { format!("{head} - {detail}") }
}

/// One entry of a [`Timeline`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    /// Position in the timeline, from 1.
    pub seq: u64,
    /// When it happened (UTC).
    pub at: DateTime<Utc>,
    /// Who did it (person, `system`, procedure name).
    pub actor: String,
    /// What happened.
    pub kind: EventKind,
    /// `hash` of the previous event ([`GENESIS_HASH`] for `#1`).
    pub prev_hash: String,
    /// SHA-256 (lower-case hex) over this event's canonical form (see the [module docs](self)).
    pub hash: String,
}

impl Event {
    /// The hash this event should carry as an event of `incident_id`.
    #[must_use]
    pub fn compute_hash(&self, incident_id: &str) -> String {
        compute_hash(incident_id, self.seq, self.at, &self.actor, &self.kind, &self.prev_hash)
    }
}

/// The append-only, hash-chained event log of one incident.
///
/// Serializes as `{"incident_id": ..., "events": [...]}`; deserializing re-verifies the chain. Equality
/// compares the incident and the events (not [`Timeline::max_events`]).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "TimelineRepr")]
pub struct Timeline {
    incident_id: String,
    events: Vec<Event>,
    /// Appends beyond this many events are refused (not serialized: a resource bound, not data).
    #[serde(skip)]
    max_events: u32,
}

impl PartialEq for Timeline {
    fn eq(&self, other: &Self) -> bool {
        self.incident_id == other.incident_id && self.events == other.events
    }
}

/// The append-only, hash-chained event log of one incident (wire form; verified on load).
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "Timeline")]
struct TimelineRepr {
    /// The incident the events belong to (part of every hash).
    incident_id: String,
    /// Events, oldest first, numbered from 1.
    events: Vec<Event>,
}

impl TryFrom<TimelineRepr> for Timeline {
    type Error = Error;
    fn try_from(r: TimelineRepr) -> Result<Self> {
        Self::from_events(r.incident_id, r.events)
    }
}

impl Timeline {
    /// An empty timeline for `incident_id`.
    pub fn new(incident_id: impl Into<String>) -> Self {
        Self { incident_id: incident_id.into(), events: Vec::new(), max_events: DEFAULT_MAX_EVENTS }
    }

    /// The most events [`Timeline::append`] accepts ([`DEFAULT_MAX_EVENTS`] unless set).
    #[must_use]
    pub fn max_events(&self) -> u32 {
        self.max_events
    }

    /// Accept at most `max` events (the policy's `limits.max_events_per_incident`).
    #[must_use]
    pub fn with_max_events(mut self, max: u32) -> Self {
        self.max_events = max;
        self
    }

    /// As [`Timeline::with_max_events`], in place.
    pub fn set_max_events(&mut self, max: u32) {
        self.max_events = max;
    }

    /// Rebuild a timeline from stored events, verifying the whole chain.
    ///
    /// # Errors
    /// [`ErrorKind::Integrity`](crate::ErrorKind::Integrity) naming the first broken link (see the
    /// [module docs](self)).
    pub fn from_events(incident_id: impl Into<String>, events: Vec<Event>) -> Result<Self> {
        let timeline = Self { incident_id: incident_id.into(), events, max_events: DEFAULT_MAX_EVENTS };
        timeline.verify()?;
        Ok(timeline)
    }

    /// The incident this timeline belongs to.
    #[must_use]
    pub fn incident_id(&self) -> &str {
        &self.incident_id
    }

    /// All events, oldest first.
    #[must_use]
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The events, oldest first, consuming the timeline (e.g. to store them).
    #[must_use]
    pub fn into_events(self) -> Vec<Event> {
        self.events
    }

    /// Number of events.
    #[must_use]
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether there are no events yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The newest event.
    #[must_use]
    pub fn last(&self) -> Option<&Event> {
        self.events.last()
    }

    /// Hash of the newest event, or [`GENESIS_HASH`] when empty.
    #[must_use]
    pub fn head_hash(&self) -> &str {
        self.events.last().map_or(GENESIS_HASH, |e| e.hash.as_str())
    }

    /// Append an event and return it.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when `actor` is blank or `at` is
    /// earlier than the previous event (equal is fine); [`ErrorKind::Refused`](crate::ErrorKind::Refused)
    /// when the timeline already holds [`Timeline::max_events`] events.
    pub fn append(&mut self, at: DateTime<Utc>, actor: impl Into<String>, kind: EventKind) -> Result<&Event> {
        if u64::try_from(self.events.len()).unwrap_or(u64::MAX) >= u64::from(self.max_events) {
            return Err(Error::refused(format!(
                "timeline of {}: event #{} refused: limits.max_events_per_incident is {}",
                self.incident_id,
                self.events.last().map_or(1, |e| e.seq.saturating_add(1)),
                self.max_events
            )));
        }
        let actor = actor.into();
        if actor.trim().is_empty() {
            return Err(Error::invalid_input(format!(
                "timeline of {}: event actor must not be empty",
                self.incident_id
            )));
        }
        let (seq, prev_hash) = match self.events.last() {
            Some(last) => {
                if at < last.at {
                    return Err(Error::invalid_input(format!(
                        "timeline of {}: event at {} is earlier than event #{} at {}",
                        self.incident_id,
                        fmt_at(at),
                        last.seq,
                        fmt_at(last.at)
                    )));
                }
                (last.seq + 1, last.hash.clone())
            }
            None => (1, GENESIS_HASH.to_owned()),
        };
        let hash = compute_hash(&self.incident_id, seq, at, &actor, &kind, &prev_hash);
        self.events.push(Event { seq, at, actor, kind, prev_hash, hash });
        let idx = self.events.len() - 1;
        Ok(&self.events[idx])
    }

    /// Re-verify the whole chain (numbering, hashes, links, time order).
    ///
    /// # Errors
    /// [`ErrorKind::Integrity`](crate::ErrorKind::Integrity) naming the first broken link.
    pub fn verify(&self) -> Result<()> {
        let fail = |what: String| Error::integrity(format!("timeline of {}: {what}", self.incident_id));
        let mut prev: Option<&Event> = None;
        for ev in &self.events {
            match prev {
                None if ev.seq != 1 => {
                    return Err(fail(format!("first event is #{}, expected #1 (dropped or reordered)", ev.seq)));
                }
                Some(p) if p.seq.checked_add(1) != Some(ev.seq) => {
                    return Err(fail(format!("event #{} follows #{} (dropped or reordered)", ev.seq, p.seq)));
                }
                _ => {}
            }
            if ev.compute_hash(&self.incident_id) != ev.hash {
                return Err(fail(format!("event #{} hash mismatch (edited?)", ev.seq)));
            }
            match prev {
                None if ev.prev_hash != GENESIS_HASH => {
                    return Err(fail(format!("prev_hash of #{} is not the genesis hash", ev.seq)));
                }
                Some(p) if ev.prev_hash != p.hash => {
                    return Err(fail(format!("prev_hash of #{} does not match #{}", ev.seq, p.seq)));
                }
                Some(p) if ev.at < p.at => {
                    return Err(fail(format!("event #{} is earlier than #{}", ev.seq, p.seq)));
                }
                _ => {}
            }
            prev = Some(ev);
        }
        Ok(())
    }

    /// Check that the newest event's hash is `expected` (detects a truncated tail when the head hash was
    /// recorded elsewhere).
    ///
    /// # Errors
    /// [`ErrorKind::Integrity`](crate::ErrorKind::Integrity) when the head differs.
    pub fn verify_head(&self, expected: &str) -> Result<()> {
        if self.head_hash() == expected {
            Ok(())
        } else {
            Err(Error::integrity(format!(
                "timeline of {}: head hash {} (#{}) does not match the recorded {expected} (truncated?)",
                self.incident_id,
                self.head_hash(),
                self.events.last().map_or(0, |e| e.seq)
            )))
        }
    }

    /// The first event matching `pred`.
    pub fn find(&self, pred: impl Fn(&EventKind) -> bool) -> Option<&Event> {
        self.events.iter().find(|e| pred(&e.kind))
    }

    /// Response metrics from this timeline's `detected`, `declared`, `acknowledged`, `mitigated` and
    /// `resolved` events (the first of each). Detection falls back to the declaration when there is no
    /// `detected` event. `started` is when the issue began, if known.
    #[must_use]
    pub fn metrics(&self, started: Option<DateTime<Utc>>) -> Metrics {
        let first = |f: fn(&EventKind) -> bool| self.find(f).map(|e| e.at);
        let detected = first(|k| matches!(k, EventKind::Detected { .. }))
            .or_else(|| first(|k| matches!(k, EventKind::Declared { .. })));
        Metrics::compute(
            started,
            detected,
            first(|k| matches!(k, EventKind::Acknowledged)),
            first(|k| matches!(k, EventKind::Mitigated)),
            first(|k| matches!(k, EventKind::Resolved)),
        )
    }
}

/// Response metrics of one incident (definitions in the [module docs](self)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Metrics {
    /// Time to detect: detected − started.
    pub mttd: Option<HumanDuration>,
    /// Time to acknowledge: acknowledged − detected.
    pub mtta: Option<HumanDuration>,
    /// Time to mitigate: mitigated − detected.
    pub mttm: Option<HumanDuration>,
    /// Time to resolve: resolved − detected.
    pub mttr: Option<HumanDuration>,
}

impl Metrics {
    /// Metrics from the milestone instants.
    #[must_use]
    pub fn compute(
        started: Option<DateTime<Utc>>,
        detected: Option<DateTime<Utc>>,
        acknowledged: Option<DateTime<Utc>>,
        mitigated: Option<DateTime<Utc>>,
        resolved: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            mttd: between(started, detected),
            mtta: between(detected, acknowledged),
            mttm: between(detected, mitigated),
            mttr: between(detected, resolved),
        }
    }
}

fn between(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Option<HumanDuration> {
    let secs = (to? - from?).num_seconds();
    u64::try_from(secs).ok().map(HumanDuration::from_secs)
}

/// RFC 3339 UTC with nine fractional digits: the timestamp form inside the hash.
fn fmt_at(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn compute_hash(
    incident_id: &str,
    seq: u64,
    at: DateTime<Utc>,
    actor: &str,
    kind: &EventKind,
    prev_hash: &str,
) -> String {
    // Serializing a plain enum of strings/bools/numbers cannot fail; fall back to a marker that never
    // matches a genuine hash input rather than panicking.
    let kind = serde_json::to_value(kind).unwrap_or(serde_json::Value::Null);
    let preimage = serde_json::json!([HASH_DOMAIN, incident_id, seq, fmt_at(at), actor, kind, prev_hash]);
    let text = crate::canon::canonical(&preimage);
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;
    use crate::ErrorKind;

    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, h, m, s).single().expect("valid time")
    }

    fn sample() -> Timeline {
        let mut tl = Timeline::new("INC-1");
        let kinds = [
            EventKind::Detected { source: "prometheus".into(), summary: "5xx > 5%".into() },
            EventKind::Declared {
                severity: Severity::P1,
                title: "API errors".into(),
                channel: "#incident-2026-11-26-1400".into(),
                ticket: "Title: [P1] API errors".into(),
            },
            EventKind::Acknowledged,
            EventKind::StatusChanged { from: Status::Investigating, to: Status::Identified, message: None },
            EventKind::Mitigated,
            EventKind::Resolved,
        ];
        for (i, kind) in kinds.into_iter().enumerate() {
            let minute = u32::try_from(i).expect("small") * 5;
            tl.append(t(14, minute, 0), "alice", kind).expect("append");
        }
        tl
    }

    #[test]
    fn append_numbers_and_links() {
        let tl = sample();
        assert_eq!(tl.len(), 6);
        assert_eq!(tl.events()[0].seq, 1);
        assert_eq!(tl.events()[0].prev_hash, GENESIS_HASH);
        for w in tl.events().windows(2) {
            assert_eq!(w[1].prev_hash, w[0].hash);
            assert_eq!(w[1].seq, w[0].seq + 1);
        }
        assert_eq!(tl.head_hash(), tl.events()[5].hash);
        assert_eq!(tl.head_hash().len(), 64);
        tl.verify().expect("valid");
        assert_eq!(Timeline::new("X").head_hash(), GENESIS_HASH);
    }

    #[test]
    fn hash_is_stable() {
        // Pin the canonical form: changing it would invalidate every stored timeline.
        let mut tl = Timeline::new("INC-1");
        let ev = tl.append(t(14, 0, 0), "alice", EventKind::Note { text: "hi".into() }).expect("append");
        let pre = r#"["incident-core/timeline/v1","INC-1",1,"2026-11-26T14:00:00.000000000Z","alice",{"text":"hi","type":"note"},"0000000000000000000000000000000000000000000000000000000000000000"]"#;
        assert_eq!(ev.hash, hex::encode(Sha256::digest(pre.as_bytes())));
    }

    #[test]
    fn optional_fields_keep_old_hashes() {
        // An event recorded before `message` existed hashes (and reads back) exactly as before.
        let mut tl = Timeline::new("INC-1");
        let kind = EventKind::StatusChanged { from: Status::Investigating, to: Status::Identified, message: None };
        let ev = tl.append(t(14, 0, 0), "alice", kind).expect("append");
        let pre = r#"["incident-core/timeline/v1","INC-1",1,"2026-11-26T14:00:00.000000000Z","alice",{"from":"investigating","to":"identified","type":"status_changed"},"0000000000000000000000000000000000000000000000000000000000000000"]"#;
        assert_eq!(ev.hash, hex::encode(Sha256::digest(pre.as_bytes())));
        let old: EventKind =
            serde_json::from_str(r#"{"type":"status_changed","from":"investigating","to":"identified"}"#).expect("old");
        assert_eq!(old, ev.kind);
        let with = EventKind::StatusChanged {
            from: Status::Identified,
            to: Status::Monitoring,
            message: Some("rolled back v2.3".into()),
        };
        assert_eq!(with.describe(), "Status identified -> monitoring: rolled back v2.3");
        let role = EventKind::RoleAssigned { role: ResponseRole::Scribe, person: "carol".into(), previous: None };
        assert_eq!(
            serde_json::to_string(&role).expect("json"),
            r#"{"type":"role_assigned","role":"scribe","person":"carol"}"#
        );
        assert_eq!(role.describe(), "Scribe: carol");
        assert_eq!("Communications".parse::<ResponseRole>().expect("parse"), ResponseRole::Communications);
        let err = "ic".parse::<ResponseRole>().expect_err("unknown");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.message().contains("commander, communications, scribe"), "{err}");
    }

    #[test]
    fn equal_time_ok_earlier_refused() {
        let mut tl = Timeline::new("INC-1");
        tl.append(t(14, 0, 0), "a", EventKind::Acknowledged).expect("first");
        tl.append(t(14, 0, 0), "a", EventKind::Mitigated).expect("same instant");
        let err = tl.append(t(13, 59, 59), "a", EventKind::Resolved).expect_err("earlier");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.message().contains("earlier than event #2"), "{err}");
        assert_eq!(tl.len(), 2);
        let err = tl.append(t(15, 0, 0), "  ", EventKind::Resolved).expect_err("blank actor");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    fn reload(events: Vec<Event>) -> Error {
        Timeline::from_events("INC-1", events).expect_err("tampered")
    }

    #[test]
    fn detects_edit() {
        let mut events = sample().events().to_vec();
        events[3].actor = "mallory".into();
        let err = reload(events);
        assert_eq!(err.kind(), ErrorKind::Integrity);
        assert_eq!(err.message(), "timeline of INC-1: event #4 hash mismatch (edited?)");
    }

    #[test]
    fn detects_edit_with_rehash() {
        let mut events = sample().events().to_vec();
        events[1].kind = EventKind::Note { text: "nothing to see".into() };
        events[1].hash = events[1].compute_hash("INC-1");
        assert_eq!(reload(events).message(), "timeline of INC-1: prev_hash of #3 does not match #2");
    }

    #[test]
    fn detects_drop() {
        let mut events = sample().events().to_vec();
        events.remove(3);
        assert_eq!(reload(events).message(), "timeline of INC-1: event #5 follows #3 (dropped or reordered)");
        let mut events = sample().events().to_vec();
        events.remove(0);
        assert_eq!(
            reload(events).message(),
            "timeline of INC-1: first event is #2, expected #1 (dropped or reordered)"
        );
    }

    #[test]
    fn detects_reorder() {
        let mut events = sample().events().to_vec();
        events.swap(2, 3);
        assert_eq!(reload(events).message(), "timeline of INC-1: event #4 follows #2 (dropped or reordered)");
    }

    #[test]
    fn detects_renumbered_drop() {
        // Drop #2 and renumber the rest with fresh hashes: the link from #2 (old #3) breaks.
        let mut events = sample().events().to_vec();
        events.remove(1);
        for (i, e) in events.iter_mut().enumerate().skip(1) {
            e.seq = u64::try_from(i).expect("small") + 1;
            e.hash = e.compute_hash("INC-1");
        }
        assert_eq!(reload(events).message(), "timeline of INC-1: prev_hash of #2 does not match #1");
    }

    #[test]
    fn detects_move_to_other_incident() {
        let events = sample().events().to_vec();
        let err = Timeline::from_events("INC-2", events).expect_err("other incident");
        assert_eq!(err.message(), "timeline of INC-2: event #1 hash mismatch (edited?)");
    }

    #[test]
    fn verify_head_detects_truncation() {
        let tl = sample();
        let head = tl.head_hash().to_owned();
        let mut events = tl.events().to_vec();
        events.pop();
        let cut = Timeline::from_events("INC-1", events).expect("a prefix is a valid chain");
        let err = cut.verify_head(&head).expect_err("truncated");
        assert_eq!(err.kind(), ErrorKind::Integrity);
        assert!(err.message().contains("(truncated?)"), "{err}");
        tl.verify_head(&head).expect("intact");
    }

    #[test]
    fn serde_round_trip_verifies() {
        let tl = sample();
        let json = serde_json::to_string(&tl).expect("serialize");
        assert!(json.contains(r#""type":"status_changed","from":"investigating","to":"identified""#), "{json}");
        let back: Timeline = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, tl);
        let tampered = json.replace("5xx > 5%", "all fine");
        let err = serde_json::from_str::<Timeline>(&tampered).expect_err("tampered");
        assert!(err.to_string().contains("event #1 hash mismatch"), "{err}");
    }

    #[test]
    fn json_schema_describes_the_wire_form() {
        let schema = serde_json::to_value(schemars::schema_for!(Timeline)).expect("schema");
        let text = schema.to_string();
        for needle in ["incident_id", "events", "prev_hash", "status_changed", "evidence_added"] {
            assert!(text.contains(needle), "schema lacks {needle}: {text}");
        }
    }

    #[test]
    fn metrics_from_timeline() {
        let tl = sample();
        let m = tl.metrics(Some(t(13, 50, 0)));
        assert_eq!(m.mttd, Some(HumanDuration::from_mins(10)));
        assert_eq!(m.mtta, Some(HumanDuration::from_mins(10)));
        assert_eq!(m.mttm, Some(HumanDuration::from_mins(20)));
        assert_eq!(m.mttr, Some(HumanDuration::from_mins(25)));
        let none = Timeline::new("X").metrics(None);
        assert_eq!(none, Metrics::default());
        // End before start is not a duration.
        assert_eq!(Metrics::compute(Some(t(15, 0, 0)), Some(t(14, 0, 0)), None, None, None).mttd, None);
    }

    fn arb_kind() -> impl Strategy<Value = EventKind> {
        prop_oneof![
            (".{0,12}", ".{0,12}").prop_map(|(source, summary)| EventKind::Detected { source, summary }),
            Just(EventKind::Acknowledged),
            Just(EventKind::Mitigated),
            ".{0,20}".prop_map(|text| EventKind::Note { text }),
            (any::<bool>(), ".{0,8}").prop_map(|(passed, name)| EventKind::CheckResult {
                name,
                passed,
                detail: String::new()
            }),
            (".{0,8}", any::<bool>()).prop_map(|(by, confirm_production)| {
                EventKind::ApprovalGranted { run_id: "r1".into(), by, confirm_production, at: None, plan_digest: None }
            }),
        ]
    }

    fn build(steps: &[(u32, String, EventKind)]) -> Timeline {
        let mut tl = Timeline::new("INC-P");
        let mut at = t(0, 0, 0);
        for (gap, actor, kind) in steps {
            at += chrono::TimeDelta::milliseconds(i64::from(*gap));
            tl.append(at, format!("a{actor}"), kind.clone()).expect("append");
        }
        tl
    }

    proptest! {
        #[test]
        fn any_append_sequence_verifies(steps in prop::collection::vec((0u32..100_000, ".{0,6}", arb_kind()), 0..20)) {
            let tl = build(&steps);
            prop_assert!(Timeline::from_events("INC-P", tl.events().to_vec()).is_ok());
        }

        #[test]
        fn any_single_field_mutation_is_detected(
            steps in prop::collection::vec((0u32..100_000, ".{0,6}", arb_kind()), 1..12),
            which in any::<prop::sample::Index>(),
            field in 0usize..6,
            nanos in 1i64..1_000_000,
        ) {
            let tl = build(&steps);
            let mut events = tl.events().to_vec();
            let i = which.index(events.len());
            let e = &mut events[i];
            match field {
                0 => e.seq += 1,
                1 => e.at += chrono::TimeDelta::nanoseconds(nanos),
                2 => e.actor.push('!'),
                3 => e.kind = EventKind::Note { text: format!("{:?}!", e.kind) },
                4 => e.prev_hash = GENESIS_HASH.replace('0', "1"),
                _ => e.hash = GENESIS_HASH.into(),
            }
            let err = Timeline::from_events("INC-P", events).expect_err("mutation must be detected");
            prop_assert_eq!(err.kind(), ErrorKind::Integrity);
            let seq = u64::try_from(i).expect("small") + 1;
            let named = err.message().contains(&format!("#{seq}")) || err.message().contains(&format!("#{}", seq + 1));
            prop_assert!(named, "{}", err);
        }
    }
}
