//! The row codec both stores share: how incidents, events, runs, journal entries and recorded heads become
//! column values and come back, with the messages a store reports when a stored row does not decode. The
//! SQL around it (statements, transactions, locking, driver errors) stays in each store; the rules
//! (chains, heads, claims) stay in `incident_core::store`.
//!
//! Both stores keep timestamps as [`canonical_timestamp`] text and JSON as text (PostgreSQL casts it to
//! and from `json`), so one codec serves both.

use std::fmt;

use chrono::{DateTime, Utc};
use incident_core::incident::Incident;
use incident_core::store::{
    EvidenceInfo, EvidenceItem, GENESIS_HASH, JournalDraft, JournalEntry, RunRecord, canonical_timestamp,
    check_incident, verify_journal, verify_journal_head, verify_timeline_head,
};
use incident_core::timeline::{Event, Timeline};
use incident_core::{Error, Result};

/// A store's operation context: it names the store and the operation in `Internal` errors.
pub(crate) trait Label {
    /// `Internal` error `<store> <where>: <operation>: <what>`.
    fn internal(&self, what: impl fmt::Display) -> Error;
}

/// One schema migration.
pub(crate) struct Migration {
    /// Its number: migrations are numbered from 1 without gaps.
    pub(crate) version: u16,
    /// What it does (stored in `schema_migrations`).
    pub(crate) name: &'static str,
    /// The statements.
    pub(crate) sql: &'static str,
}

/// The `heads` chain name of timelines (keyed by incident id).
pub(crate) const TIMELINE_CHAIN: &str = "timeline";
/// The `heads` chain name of journals (keyed by run id).
pub(crate) const JOURNAL_CHAIN: &str = "journal";

/// A chain's recorded head: the newest link's seq and hash.
pub(crate) type RecordedHead = Option<(u64, String)>;

/// `n` as a signed 64-bit column value.
pub(crate) fn to_i64(n: u64, what: &str) -> Result<i64> {
    i64::try_from(n).map_err(|_| Error::invalid_input(format!("{what} {n} is out of range")))
}

/// A stored [`canonical_timestamp`].
pub(crate) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// `value` as JSON text.
pub(crate) fn to_json<T: serde::Serialize>(value: &T, what: &str) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::internal(format!("cannot serialize {what}")).with_source(e))
}

/// A stored incident.
pub(crate) fn parse_incident(ctx: &impl Label, json: &str) -> Result<Incident> {
    serde_json::from_str(json).map_err(|e| ctx.internal("stored incident JSON is not a valid incident").with_source(e))
}

/// A stored event (row key `row`) of `incident_id`'s timeline.
pub(crate) fn parse_event(incident_id: &str, row: i64, json: &str) -> Result<Event> {
    serde_json::from_str(json).map_err(|e| {
        Error::integrity(format!("timeline of {incident_id}: event row #{row} is not a valid event (edited?)"))
            .with_source(e)
    })
}

/// A stored event row as `(row key, event)`.
pub(crate) fn event_row(incident_id: &str, row: i64, json: &str) -> Result<(u64, Event)> {
    let key = u64::try_from(row)
        .map_err(|_| Error::integrity(format!("timeline of {incident_id}: negative row key {row} (edited?)")))?;
    Ok((key, parse_event(incident_id, row, json)?))
}

/// An `incidents` row.
pub(crate) struct IncidentRow {
    pub(crate) id: String,
    pub(crate) json: String,
    pub(crate) declared_at: String,
}

impl IncidentRow {
    /// The row of `incident`; `InvalidInput` for a blank id.
    pub(crate) fn new(incident: &Incident) -> Result<Self> {
        check_incident(incident)?;
        Ok(Self {
            id: incident.id.clone(),
            json: to_json(incident, "incident")?,
            declared_at: canonical_timestamp(incident.declared_at),
        })
    }
}

/// A `runs` row as text (`run_id, incident_id, procedure, plan, approval, status, created_at, updated_at`).
pub(crate) struct RunRow {
    pub(crate) run_id: String,
    pub(crate) incident_id: Option<String>,
    pub(crate) procedure: String,
    pub(crate) plan: String,
    pub(crate) approval: Option<String>,
    pub(crate) status: String,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
}

impl RunRow {
    /// The row of `run`.
    pub(crate) fn new(run: &RunRecord) -> Result<Self> {
        Ok(Self {
            run_id: run.run_id.clone(),
            incident_id: run.incident_id.clone(),
            procedure: run.procedure.clone(),
            plan: to_json(&run.plan, "plan")?,
            approval: approval_json(run)?,
            status: run.status.as_str().to_owned(),
            created_at: canonical_timestamp(run.created_at),
            updated_at: canonical_timestamp(run.updated_at),
        })
    }

    /// The run this row holds; `Internal` naming the unreadable field.
    pub(crate) fn into_record(self, ctx: &impl Label) -> Result<RunRecord> {
        let bad = |field: &str| ctx.internal(format_args!("run {}: stored {field} is unreadable", self.run_id));
        let plan = serde_json::from_str(&self.plan).map_err(|e| bad("plan").with_source(e))?;
        let approval = match &self.approval {
            Some(a) => Some(serde_json::from_str(a).map_err(|e| bad("approval").with_source(e))?),
            None => None,
        };
        let status = self.status.parse().map_err(|e| bad("status").with_source(e))?;
        let created_at = parse_time(&self.created_at).ok_or_else(|| bad("created_at"))?;
        let updated_at = parse_time(&self.updated_at).ok_or_else(|| bad("updated_at"))?;
        Ok(RunRecord {
            run_id: self.run_id,
            incident_id: self.incident_id,
            procedure: self.procedure,
            plan,
            approval,
            status,
            created_at,
            updated_at,
        })
    }
}

/// The `approval` column of `run` (what `update_run` writes with `status` and `updated_at`).
pub(crate) fn approval_json(run: &RunRecord) -> Result<Option<String>> {
    run.approval.as_ref().map(|a| to_json(a, "approval")).transpose()
}

/// A `journal` row (`seq, step_id, phase, attempt, owner, at, detail, prev_hash, hash`; `run_id` is the key).
pub(crate) struct JournalRow {
    pub(crate) seq: i64,
    pub(crate) step_id: String,
    pub(crate) phase: String,
    pub(crate) attempt: i64,
    pub(crate) owner: String,
    pub(crate) at: String,
    pub(crate) detail: String,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
}

impl JournalRow {
    /// The row of `entry`.
    pub(crate) fn new(entry: &JournalEntry) -> Result<Self> {
        let d = &entry.draft;
        Ok(Self {
            seq: to_i64(entry.seq, "journal seq")?,
            step_id: d.step_id.clone(),
            phase: d.phase.as_str().to_owned(),
            attempt: i64::from(d.attempt),
            owner: d.owner.clone(),
            at: canonical_timestamp(d.at),
            detail: to_json(&d.detail, "journal detail")?,
            prev_hash: entry.prev_hash.clone(),
            hash: entry.hash.clone(),
        })
    }

    /// The entry of `run_id`'s journal this row holds; `Integrity` when a field does not decode.
    pub(crate) fn into_entry(self, run_id: &str) -> Result<JournalEntry> {
        let unreadable =
            || Error::integrity(format!("journal of run {run_id}: entry #{} is unreadable (edited?)", self.seq));
        let seq = u64::try_from(self.seq).map_err(|_| unreadable())?;
        let phase = self.phase.parse().map_err(|_| unreadable())?;
        let attempt = u32::try_from(self.attempt).map_err(|_| unreadable())?;
        let at = parse_time(&self.at).ok_or_else(unreadable)?;
        let detail = serde_json::from_str(&self.detail).map_err(|e| unreadable().with_source(e))?;
        let draft = JournalDraft {
            run_id: run_id.to_owned(),
            step_id: self.step_id,
            phase,
            attempt,
            owner: self.owner,
            at,
            detail,
        };
        Ok(JournalEntry { seq, draft, prev_hash: self.prev_hash, hash: self.hash })
    }
}

/// The seq and `prev_hash` of the entry appended after the stored head `(seq, hash)` of `run_id`'s journal.
pub(crate) fn next_journal_link(run_id: &str, head: Option<(i64, String)>) -> Result<(u64, String)> {
    match head {
        Some((seq, hash)) => {
            let next = u64::try_from(seq)
                .ok()
                .and_then(|s| s.checked_add(1))
                .ok_or_else(|| Error::integrity(format!("journal of run {run_id}: head entry #{seq} is unreadable")))?;
            Ok((next, hash))
        }
        None => Ok((0, GENESIS_HASH.to_owned())),
    }
}

/// A `heads` row of `chain` for `id`.
pub(crate) fn recorded_head(chain: &str, id: &str, seq: i64, hash: String) -> Result<(u64, String)> {
    u64::try_from(seq)
        .map(|s| (s, hash))
        .map_err(|_| Error::integrity(format!("{chain} of {id}: recorded head #{seq} is unreadable (edited?)")))
}

/// The timeline of `events`, its chain and recorded head verified.
pub(crate) fn verified_timeline(
    incident_id: impl Into<String>,
    events: Vec<Event>,
    head: Option<&(u64, String)>,
) -> Result<Timeline> {
    let timeline = Timeline::from_events(incident_id, events)?;
    verify_timeline_head(&timeline, head)?;
    Ok(timeline)
}

/// `entries` of a run's journal, their chain and recorded head verified.
pub(crate) fn verified_journal(
    run_id: &str,
    entries: Vec<JournalEntry>,
    head: Option<&(u64, String)>,
) -> Result<Vec<JournalEntry>> {
    verify_journal(run_id, &entries)?;
    verify_journal_head(run_id, &entries, head)?;
    Ok(entries)
}

/// An `evidence` row (`name, media_type, sha256, captured_at, content`; `incident_id` is the key).
pub(crate) struct EvidenceRow {
    pub(crate) name: String,
    pub(crate) media_type: String,
    pub(crate) sha256: String,
    pub(crate) captured_at: String,
    pub(crate) content: Vec<u8>,
}

impl EvidenceRow {
    /// The row of `item`.
    pub(crate) fn new(item: &EvidenceItem) -> Self {
        Self {
            name: item.name.clone(),
            media_type: item.media_type.clone(),
            sha256: item.sha256.clone(),
            captured_at: canonical_timestamp(item.captured_at),
            content: item.bytes.clone(),
        }
    }

    /// The item of `incident_id` this row holds, its content checked against its hash; `Integrity` when a
    /// field does not decode or the content does not match.
    pub(crate) fn into_item(self, incident_id: &str) -> Result<EvidenceItem> {
        let captured_at = parse_time(&self.captured_at).ok_or_else(|| {
            Error::integrity(format!("evidence of {incident_id}: {}: captured_at is unreadable (edited?)", self.name))
        })?;
        let item = EvidenceItem {
            name: self.name,
            media_type: self.media_type,
            sha256: self.sha256,
            captured_at,
            bytes: self.content,
        };
        incident_core::store::verify_evidence_content(incident_id, &item)?;
        Ok(item)
    }
}

/// A listed `evidence` row without content (`name, media_type, sha256, captured_at, length`).
pub(crate) fn evidence_info(
    incident_id: &str,
    name: String,
    media_type: String,
    sha256: String,
    captured_at: &str,
    size: i64,
) -> Result<EvidenceInfo> {
    let unreadable = || Error::integrity(format!("evidence of {incident_id}: {name}: the row is unreadable (edited?)"));
    let captured_at = parse_time(captured_at).ok_or_else(unreadable)?;
    let size = u64::try_from(size).map_err(|_| unreadable())?;
    Ok(EvidenceInfo { name, media_type, sha256, size, captured_at })
}
