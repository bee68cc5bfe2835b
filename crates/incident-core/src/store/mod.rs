//! Durable storage of incidents, timelines, procedure runs and their write-ahead journals.
//!
//! One trait, [`Store`], several implementations: [`MemoryStore`] here (tests, bindings' ephemeral use),
//! and in the `incident-store` crate `SqliteStore` (feature `sqlite`: one file, the embedded default of the
//! CLI) and `PgStore` (feature `postgres`: the team store). All of them pass the same [`conformance`]
//! suite. [`ArchiveStore`] is the port the [evidence](crate::evidence) module reads a bundle's store
//! through (implemented by `SqliteStore`).
//!
//! # Semantics every store shares
//!
//! * **Parents first.** Timeline events need a saved incident and journal entries and step claims need a
//!   created run; otherwise [`ErrorKind::NotFound`](crate::ErrorKind::NotFound).
//! * **Timelines** are appended, never rewritten: the first appended event must carry the next `seq`
//!   (`Conflict`: `timeline of INC-1: expected seq 7, got 5`) and chain onto the stored head
//!   (`Conflict`); events must carry correct hashes ([`check_event_append`]). Reading re-verifies the whole
//!   chain with [`Timeline::from_events`], so tampering surfaces as an
//!   [`ErrorKind::Integrity`](crate::ErrorKind::Integrity) error naming the first broken event.
//! * **Journals** are write-ahead logs: the store assigns `seq` (from 0) and the SHA-256 chain
//!   ([`journal_hash`]) atomically, so concurrent appenders (threads or processes) never fork it. At most
//!   one entry per (run, step, phase, attempt) (`Conflict`). Reading re-verifies the chain
//!   ([`verify_journal`]): `journal of run R: entry #3 hash mismatch (edited?)`, `journal of run R:
//!   entry #4 missing (dropped or reordered)`.
//! * **Heads.** A chain cannot show that its newest links were cut off or that the newest one was edited
//!   and re-hashed: each append also records the chain's head (seq and hash) in the same transaction, and
//!   reading compares it ([`verify_recorded_head`]): `timeline of INC-1: the newest event is #7 but the
//!   recorded head is #8 (dropped from the end?)`.
//! * **Step claims** are leases: [`Store::claim_step`] atomically inserts a claim, takes over an expired
//!   one or extends the caller's own, and refuses (returns `false`) while another owner's lease runs.
//!
//! # Journal hash
//!
//! An entry's `hash` is the lower-case hex SHA-256 of the canonical JSON array
//!
//! ```text
//! ["incident-core/journal/v1", run_id, seq, step_id, phase, attempt, owner, at, detail, prev_hash]
//! ```
//!
//! with `phase` as `"intent"`/`"outcome"`, `at` in RFC 3339 UTC with exactly nine fractional digits
//! ([`canonical_timestamp`]), `detail` with object keys sorted and no insignificant whitespace, and
//! `prev_hash` the previous entry's hash (64 zeros, [`GENESIS_HASH`], for entry `#0`). The canonical form
//! is the same as the [timeline](crate::timeline)'s; the domain tag keeps the two hash spaces apart.
//!
//! # For implementers
//!
//! The helpers [`check_incident`], [`check_event_append`], [`check_run`], [`check_journal_draft`],
//! [`JournalEntry::new`], [`verify_journal`], [`duplicate_journal_entry`], [`check_claim`], [`may_claim`],
//! [`check_take_over`], [`incident_not_found`], [`run_not_found`] and [`run_exists`] hold the rules and
//! their messages, so every store (including ones in other crates) makes the same decisions with the same
//! messages; an implementation only has to make each operation atomic.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::incident::Incident;
pub use crate::timeline::GENESIS_HASH;
use crate::timeline::{Event, Timeline};
use crate::{Error, Result};

mod archive;
pub mod conformance;
mod evidence;
mod ha;
mod memory;

pub use archive::{ArchiveStore, AuditedIncident, AuditedRun, StoreAudit};
pub use evidence::{
    EvidenceInfo, EvidenceItem, MAX_NAME_BYTES, check_evidence_add, check_evidence_name, check_evidence_recorded,
    evidence_exists, evidence_unsupported, sha256_hex, verify_evidence_content,
};
pub use ha::{DRIVERS_LEASE, LeaseFence, notification_key, open_groups_by_replay};
pub use memory::MemoryStore;

/// Domain-separation tag and format version of the journal hash preimage.
const JOURNAL_HASH_DOMAIN: &str = "incident-core/journal/v1";

/// Lifecycle of a procedure run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Planned, not approved.
    Planned,
    /// Approved and executing (or interrupted while executing: resumable).
    Running,
    /// Every step succeeded.
    Succeeded,
    /// Stopped on a failure; see the report for what was left.
    Failed,
    /// Stopped on a failure and completed steps were compensated.
    Compensated,
}

impl RunStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [Self; 5] = [Self::Planned, Self::Running, Self::Succeeded, Self::Failed, Self::Compensated];

    /// The stable string form (`planned`, `running`, `succeeded`, `failed`, `compensated`), as serialized.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Compensated => "compensated",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = Error;

    /// Parse the string form; the error lists the allowed values.
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s).ok_or_else(|| {
            Error::invalid_input(format!(
                "unknown run status {s:?} (expected one of planned, running, succeeded, failed, compensated)"
            ))
        })
    }
}

/// A procedure run as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Run id.
    pub run_id: String,
    /// Incident the run belongs to, if any.
    pub incident_id: Option<String>,
    /// Procedure name.
    pub procedure: String,
    /// The plan (serialized `engine::Plan`).
    pub plan: serde_json::Value,
    /// The approval (serialized), once approved.
    pub approval: Option<serde_json::Value>,
    /// Status.
    pub status: RunStatus,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last update.
    pub updated_at: DateTime<Utc>,
}

/// Write-ahead phase of a journal entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JournalPhase {
    /// About to perform the step (written before any backend call).
    Intent,
    /// The step's result (written after).
    Outcome,
}

impl JournalPhase {
    /// The stable string form (`intent`, `outcome`), as serialized and hashed.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Intent => "intent",
            Self::Outcome => "outcome",
        }
    }
}

impl fmt::Display for JournalPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JournalPhase {
    type Err = Error;

    /// Parse the string form; the error lists the allowed values.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "intent" => Ok(Self::Intent),
            "outcome" => Ok(Self::Outcome),
            _ => Err(Error::invalid_input(format!("unknown journal phase {s:?} (expected intent or outcome)"))),
        }
    }
}

/// A journal entry to append; the store assigns `seq` and the hash chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalDraft {
    /// Run id.
    pub run_id: String,
    /// Step id.
    pub step_id: String,
    /// Phase.
    pub phase: JournalPhase,
    /// Attempt number (1-based).
    pub attempt: u32,
    /// Executor identity that wrote it.
    pub owner: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Free-form detail (outcome, error, reconciled, compensated, ...).
    pub detail: serde_json::Value,
}

/// A stored, hash-chained journal entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Position in the run's journal, from 0.
    pub seq: u64,
    /// The entry.
    #[serde(flatten)]
    pub draft: JournalDraft,
    /// Hash of the previous entry (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 over this entry and `prev_hash`.
    pub hash: String,
}

impl JournalEntry {
    /// Chain `draft` as entry `seq` after `prev_hash`, computing its [`journal_hash`].
    #[must_use]
    pub fn new(seq: u64, draft: JournalDraft, prev_hash: impl Into<String>) -> Self {
        let prev_hash = prev_hash.into();
        let hash = journal_hash(seq, &draft, &prev_hash);
        Self { seq, draft, prev_hash, hash }
    }

    /// The hash this entry should carry (see the [module docs](self)).
    #[must_use]
    pub fn compute_hash(&self) -> String {
        journal_hash(self.seq, &self.draft, &self.prev_hash)
    }
}

/// The current holder of a step claim, as a store reads it back (input to [`may_claim`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepClaim {
    /// Executor identity holding the claim.
    pub owner: String,
    /// The lease is valid strictly before this instant.
    pub lease_until: DateTime<Utc>,
}

/// One write of [`Store::write_batch`].
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // short-lived batch items; boxing would only add an allocation each
pub enum StoreWrite {
    /// [`Store::save_incident`].
    SaveIncident(Incident),
    /// [`Store::append_events`].
    AppendEvents {
        /// The incident.
        incident_id: String,
        /// Its next events.
        events: Vec<Event>,
    },
}

/// A decision [`Store::update_incident`] makes on copies of a stored incident and its verified timeline:
/// change them (appending events through the [`Incident`] methods) and return `true` to write them, or
/// `false` to write nothing. An error writes nothing and is returned as is.
pub type IncidentUpdate = dyn FnMut(&mut Incident, &mut Timeline) -> Result<bool> + Send + 'static;

/// What [`Store::update_incident`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentUpdated {
    /// The incident as saved.
    pub incident: Incident,
    /// The events appended.
    pub events: Vec<Event>,
    /// How many times the decision ran (1 for a store that runs it under its write lock; more for the
    /// optimistic default when other writers appended first).
    pub attempts: u32,
}

/// How many times the default [`Store::update_incident`] decides when other writers keep appending first.
pub const UPDATE_ATTEMPTS: u32 = 16;

/// Storage for incidents, timelines, runs and journals. Implementations must be safe under concurrent
/// writers from several processes; see the [module docs](self) for the shared semantics.
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// Insert or replace an incident (keyed by its id; its timeline events are kept).
    async fn save_incident(&self, incident: &Incident) -> Result<()>;
    /// Read an incident.
    async fn incident(&self, id: &str) -> Result<Option<Incident>>;
    /// All incidents, newest declaration first (ties by id).
    async fn incidents(&self) -> Result<Vec<Incident>>;
    /// Append timeline events (see [`check_event_append`]); `Conflict` if the first event's `seq` is not
    /// the next expected one or it does not chain onto the stored head, `NotFound` for an unsaved incident.
    async fn append_events(&self, incident_id: &str, events: &[Event]) -> Result<()>;
    /// The verified timeline (`Integrity` error when the stored chain was tampered with, `NotFound` for
    /// an unsaved incident).
    async fn timeline(&self, incident_id: &str) -> Result<Timeline>;
    /// Create a run; `Conflict` if the id exists.
    async fn create_run(&self, run: &RunRecord) -> Result<()>;
    /// Update a run's `status`, `approval` and `updated_at` (its other fields are fixed at creation and
    /// ignored here); `NotFound` for an unknown run.
    async fn update_run(&self, run: &RunRecord) -> Result<()>;
    /// Read a run.
    async fn run(&self, run_id: &str) -> Result<Option<RunRecord>>;
    /// All runs, newest first (by `created_at`, ties by id).
    async fn runs(&self) -> Result<Vec<RunRecord>>;
    /// Atomically claim `step_id` of `run_id` for `owner` until `lease_until`. Returns `false` when another
    /// owner holds an unexpired claim. Re-claiming by the same owner extends the lease. See [`may_claim`].
    async fn claim_step(
        &self,
        run_id: &str,
        step_id: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool>;
    /// Reassign every claim of `run_id` to `owner` (whatever their leases), returning how many were taken.
    /// Only for an operator who knows the previous executors are dead (`incident resume --take-over`).
    async fn take_over_claims(&self, run_id: &str, owner: &str) -> Result<u64>;
    /// Append a journal entry (assigning seq and hash); `Conflict` on a duplicate (run, step, phase, attempt).
    async fn append_journal(&self, draft: JournalDraft) -> Result<JournalEntry>;
    /// The verified journal of a run (`Integrity` error when tampered with, `NotFound` for an unknown run).
    async fn journal(&self, run_id: &str) -> Result<Vec<JournalEntry>>;

    /// Append `events` to the timeline of `incident_id` and store `items` as its evidence, in one
    /// transaction (all or nothing). Every item must be recorded by an `evidence_added` event of `events`
    /// with its name and SHA-256 (see [`check_evidence_add`]), so the timeline's hash chain covers its
    /// content. The default refuses ([`evidence_unsupported`]): the memory, SQLite and PostgreSQL stores
    /// implement it.
    ///
    /// # Errors
    /// `NotFound` for an unsaved incident; `Conflict` when the events do not continue the stored timeline
    /// (another writer appended first: nothing was written) or a name is already stored; `InvalidInput`
    /// for a bad name, a hash that does not match the content or an item no event records;
    /// `PreconditionFailed` from a store that keeps no evidence.
    async fn add_evidence(&self, incident_id: &str, events: &[Event], items: &[EvidenceItem]) -> Result<()> {
        let _ = (incident_id, events, items);
        Err(evidence_unsupported())
    }

    /// The evidence items of an incident (without content), by name. The default (a store that keeps
    /// none) returns none.
    ///
    /// # Errors
    /// `NotFound` for an unsaved incident (the real stores); the store's.
    async fn evidence(&self, incident_id: &str) -> Result<Vec<EvidenceInfo>> {
        let _ = incident_id;
        Ok(Vec::new())
    }

    /// One evidence item with its content, `None` when the incident has none of that name.
    ///
    /// # Errors
    /// `NotFound` for an unsaved incident (the real stores); `Integrity` when the stored content does not
    /// match its hash; the store's.
    async fn evidence_item(&self, incident_id: &str, name: &str) -> Result<Option<EvidenceItem>> {
        let _ = (incident_id, name);
        Ok(None)
    }

    /// Open incidents declared from alerts, as `(group key, incident id)`: what a receiver rebuilds its
    /// deduplication map from (at start and after losing a declaration race). The default replays every
    /// open incident's timeline ([`open_groups_by_replay`]); the PostgreSQL store reads the column its
    /// unique index (one open incident per group) is on.
    ///
    /// # Errors
    /// The store's.
    async fn open_groups(&self) -> Result<Vec<(String, String)>> {
        open_groups_by_replay(self).await
    }

    /// Take lease `name` for `holder` until `until` (at `now`, the caller's clock), or renew it: returns
    /// the fencing token while `holder` holds it, `None` while another holder's lease runs
    /// (`until > now`). The token grows by one at every change of holder. The default (one process, no
    /// other holder possible) always grants token 0.
    ///
    /// # Errors
    /// The store's.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<u64>> {
        let _ = (name, holder, now, until);
        Ok(Some(0))
    }

    /// Give up lease `name` if `holder` holds it (it expires at once; the token stays, so the next holder
    /// gets a greater one). The default does nothing.
    ///
    /// # Errors
    /// The store's.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        let _ = (name, holder);
        Ok(())
    }

    /// Record notification idempotency key `key` (see [`notification_key`]) **before** sending it: `true`
    /// when recorded now (send it), `false` when it was already recorded (someone sent it, or was
    /// sending it when interrupted: do not send again). With `fence`, the key is recorded only while the
    /// fence's holder still holds its lease with that token. The default (one process) records nothing
    /// and returns `true`.
    ///
    /// # Errors
    /// `PreconditionFailed` when `fence` no longer holds the lease; the store's.
    async fn record_notification_key(&self, key: &str, at: DateTime<Utc>, fence: Option<&LeaseFence>) -> Result<bool> {
        let _ = (key, at, fence);
        Ok(true)
    }

    /// Read incident `incident_id` and its verified timeline, run `update` on copies, and write the
    /// events it appended and the incident, with no other write to that incident in between. Returns
    /// `None` when `update` chose to write nothing.
    ///
    /// The SQLite and PostgreSQL stores run the decision inside their write transaction (the incident's
    /// row locked), so a writer that appends continuously (an alert storm on the group) cannot starve
    /// it. The default is optimistic: read, decide, [`Store::write_batch`]; on
    /// [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) (another writer appended first, nothing was
    /// written) read and decide again, at most [`UPDATE_ATTEMPTS`] times.
    ///
    /// # Errors
    /// `NotFound` for an unknown incident; `update`'s error; the store's; `Conflict` when the default
    /// lost to other writers [`UPDATE_ATTEMPTS`] times in a row.
    async fn update_incident(
        &self,
        incident_id: &str,
        mut update: Box<IncidentUpdate>,
    ) -> Result<Option<IncidentUpdated>> {
        for attempt in 1..=UPDATE_ATTEMPTS {
            // Timeline first: an incident read after its timeline is never older than it.
            let mut timeline = self.timeline(incident_id).await?;
            let stored = self.incident(incident_id).await?.ok_or_else(|| incident_not_found(incident_id))?;
            let before = timeline.len();
            let mut incident = stored.clone();
            if !update(&mut incident, &mut timeline)? {
                return Ok(None);
            }
            let events = timeline.events()[before..].to_vec();
            let writes = [
                StoreWrite::AppendEvents { incident_id: incident_id.to_owned(), events: events.clone() },
                StoreWrite::SaveIncident(incident.clone()),
            ];
            match self.write_batch(&writes).await {
                Ok(()) => return Ok(Some(IncidentUpdated { incident, events, attempts: attempt })),
                Err(e) if e.kind() == crate::ErrorKind::Conflict => tokio::task::yield_now().await,
                Err(e) => return Err(e),
            }
        }
        Err(Error::conflict(format!(
            "incident {incident_id}: other writers appended first {UPDATE_ATTEMPTS} times in a row; nothing was \
             recorded, try again"
        )))
    }

    /// Apply `writes` in order, each with the semantics of its method; stop at the first error.
    ///
    /// A store that can makes the whole batch one transaction: the memory, SQLite and PostgreSQL stores
    /// do (all or nothing; for SQLite one commit and so one `fsync` per batch, which is what lets the
    /// alert receiver group-commit thousands of alerts a second), and the [`conformance`] suite checks
    /// it. Optimistic writers (the receiver, [`crate::lifecycle`]) rely on it: their events and the
    /// incident decided from them land together or not at all. The default applies the writes one by
    /// one, so after an error the writes before it may have been applied: a caller re-reads what it
    /// needs.
    async fn write_batch(&self, writes: &[StoreWrite]) -> Result<()> {
        for w in writes {
            match w {
                StoreWrite::SaveIncident(incident) => self.save_incident(incident).await?,
                StoreWrite::AppendEvents { incident_id, events } => self.append_events(incident_id, events).await?,
            }
        }
        Ok(())
    }
}

/// RFC 3339 UTC with exactly nine fractional digits (`2026-11-26T14:05:00.000000000Z`): the timestamp form
/// inside hashes, and a text form whose lexicographic order is time order (years 0–9999).
#[must_use]
pub fn canonical_timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// The journal hash of `draft` stored as entry `seq` after `prev_hash` (see the [module docs](self)).
///
/// Every store computes hashes with this function, so journals move between stores unchanged.
#[must_use]
pub fn journal_hash(seq: u64, draft: &JournalDraft, prev_hash: &str) -> String {
    let preimage = serde_json::json!([
        JOURNAL_HASH_DOMAIN,
        draft.run_id,
        seq,
        draft.step_id,
        draft.phase.as_str(),
        draft.attempt,
        draft.owner,
        canonical_timestamp(draft.at),
        draft.detail,
        prev_hash,
    ]);
    let text = crate::canon::canonical(&preimage);
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Verify a run's journal as read back from storage (ordered by `seq`).
///
/// # Errors
/// [`ErrorKind::Integrity`](crate::ErrorKind::Integrity) naming the first problem:
/// `journal of run R: entry #4 missing (dropped or reordered)`, `... entry #3 hash mismatch (edited?)`,
/// `... prev_hash of entry #2 does not match entry #1`, `... prev_hash of entry #0 is not the genesis
/// hash`.
pub fn verify_journal(run_id: &str, entries: &[JournalEntry]) -> Result<()> {
    let fail = |what: String| Error::integrity(format!("journal of run {run_id}: {what}"));
    let mut prev: Option<&JournalEntry> = None;
    for (expected, entry) in (0u64..).zip(entries) {
        if entry.seq > expected {
            return Err(fail(format!("entry #{expected} missing (dropped or reordered)")));
        }
        if entry.seq < expected {
            return Err(fail(format!(
                "entry #{} out of place after #{} (dropped or reordered)",
                entry.seq,
                expected - 1
            )));
        }
        if entry.draft.run_id != run_id || entry.compute_hash() != entry.hash {
            return Err(fail(format!("entry #{} hash mismatch (edited?)", entry.seq)));
        }
        match prev {
            None if entry.prev_hash != GENESIS_HASH => {
                return Err(fail(format!("prev_hash of entry #{} is not the genesis hash", entry.seq)));
            }
            Some(p) if entry.prev_hash != p.hash => {
                return Err(fail(format!("prev_hash of entry #{} does not match entry #{}", entry.seq, p.seq)));
            }
            _ => {}
        }
        prev = Some(entry);
    }
    Ok(())
}

/// Compare the newest stored event or entry (`last`: its seq and hash) with the head the store recorded
/// in the same transaction as the append (`recorded`). A hash chain cannot show that its newest links
/// were cut off (what remains is a valid chain), or that the newest one was edited and re-hashed: the
/// recorded head does. `what` names the chain (`timeline of INC-1`, `journal of run R`), `unit` its
/// items (`event`, `entry`).
///
/// # Errors
/// [`ErrorKind::Integrity`](crate::ErrorKind::Integrity):
/// `timeline of INC-1: the newest event is #7 but the recorded head is #8 (dropped from the end?)`,
/// `... event #8 does not match the recorded head hash (edited?)`.
pub fn verify_recorded_head(
    what: &str,
    unit: &str,
    last: Option<(u64, &str)>,
    recorded: Option<(u64, &str)>,
) -> Result<()> {
    let fail = |why: String| Err(Error::integrity(format!("{what}: {why}")));
    match (last, recorded) {
        (None, None) => Ok(()),
        (Some((seq, _)), None) => fail(format!("{unit} #{seq} is stored but no head was recorded (inserted?)")),
        (None, Some((head, _))) => {
            fail(format!("no {unit} is stored but the recorded head is #{head} (dropped from the end?)"))
        }
        (Some((seq, _)), Some((head, _))) if seq != head => {
            fail(format!("the newest {unit} is #{seq} but the recorded head is #{head} (dropped from the end?)"))
        }
        (Some((seq, hash)), Some((_, head_hash))) if hash != head_hash => {
            fail(format!("{unit} #{seq} does not match the recorded head hash (edited?)"))
        }
        _ => Ok(()),
    }
}

/// [`verify_recorded_head`] for a loaded timeline and the head its store recorded.
///
/// # Errors
/// As [`verify_recorded_head`].
pub fn verify_timeline_head(timeline: &Timeline, recorded: Option<&(u64, String)>) -> Result<()> {
    verify_recorded_head(
        &format!("timeline of {}", timeline.incident_id()),
        "event",
        timeline.events().last().map(|e| (e.seq, e.hash.as_str())),
        recorded.map(|(s, h)| (*s, h.as_str())),
    )
}

/// [`verify_recorded_head`] for a loaded journal and the head its store recorded.
///
/// # Errors
/// As [`verify_recorded_head`].
pub fn verify_journal_head(run_id: &str, entries: &[JournalEntry], recorded: Option<&(u64, String)>) -> Result<()> {
    verify_recorded_head(
        &format!("journal of run {run_id}"),
        "entry",
        entries.last().map(|e| (e.seq, e.hash.as_str())),
        recorded.map(|(s, h)| (*s, h.as_str())),
    )
}

/// Check `events` before appending them to a stored timeline whose newest event is `head`.
///
/// # Errors
/// * [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) when the first event is not the next one
///   (`timeline of INC-1: expected seq 7, got 5`) or does not chain onto `head` (another writer appended
///   first);
/// * [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when the batch itself is not a valid
///   continuation (gaps, broken links, a hash that does not match the event, time going backwards).
pub fn check_event_append(incident_id: &str, head: Option<&Event>, events: &[Event]) -> Result<()> {
    let Some(first) = events.first() else { return Ok(()) };
    let expected_seq = head.map_or(1, |h| h.seq.saturating_add(1));
    if first.seq != expected_seq {
        return Err(Error::conflict(format!(
            "timeline of {incident_id}: expected seq {expected_seq}, got {}",
            first.seq
        )));
    }
    let head_hash = head.map_or(GENESIS_HASH, |h| h.hash.as_str());
    if first.prev_hash != head_hash {
        let onto = head.map_or_else(|| "the genesis hash".to_owned(), |h| format!("stored event #{}", h.seq));
        return Err(Error::conflict(format!(
            "timeline of {incident_id}: event #{} does not chain onto {onto} (prev_hash mismatch)",
            first.seq
        )));
    }
    let invalid = |what: String| Error::invalid_input(format!("timeline of {incident_id}: {what}"));
    let mut prev = head;
    for ev in events {
        if let Some(p) = prev {
            if ev.seq != p.seq.saturating_add(1) {
                return Err(invalid(format!("event #{} follows #{} (events must be contiguous)", ev.seq, p.seq)));
            }
            if ev.prev_hash != p.hash {
                return Err(invalid(format!("prev_hash of #{} does not match #{}", ev.seq, p.seq)));
            }
            if ev.at < p.at {
                return Err(invalid(format!("event #{} is earlier than #{}", ev.seq, p.seq)));
            }
        }
        if ev.compute_hash(incident_id) != ev.hash {
            return Err(invalid(format!("event #{} hash does not match its content", ev.seq)));
        }
        prev = Some(ev);
    }
    Ok(())
}

/// Check an incident before saving it: its id must not be blank.
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput).
pub fn check_incident(incident: &Incident) -> Result<()> {
    if incident.id.trim().is_empty() {
        return Err(Error::invalid_input("incident id must not be blank"));
    }
    Ok(())
}

/// Check the new owner of [`Store::take_over_claims`]: it must not be blank.
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput).
pub fn check_take_over(owner: &str) -> Result<()> {
    if owner.trim().is_empty() {
        return Err(Error::invalid_input("take-over needs a non-blank owner"));
    }
    Ok(())
}

/// The `NotFound` for an operation on an incident that is not stored.
#[must_use]
pub fn incident_not_found(incident_id: &str) -> Error {
    Error::not_found(format!("incident {incident_id} not found"))
}

/// The `NotFound` for an operation on a run that is not stored.
#[must_use]
pub fn run_not_found(run_id: &str) -> Error {
    Error::not_found(format!("run {run_id} not found"))
}

/// The `Conflict` for creating a run whose id is taken.
#[must_use]
pub fn run_exists(run_id: &str) -> Error {
    Error::conflict(format!("run {run_id} already exists"))
}

/// Check a run before creating it: `run_id` and `procedure` must not be blank.
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the blank field.
pub fn check_run(run: &RunRecord) -> Result<()> {
    if run.run_id.trim().is_empty() {
        return Err(Error::invalid_input("run_id must not be blank"));
    }
    if run.procedure.trim().is_empty() {
        return Err(Error::invalid_input(format!("run {}: procedure must not be blank", run.run_id)));
    }
    Ok(())
}

/// Check a journal draft before appending it: ids and owner must not be blank, `attempt` starts at 1.
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the field.
pub fn check_journal_draft(draft: &JournalDraft) -> Result<()> {
    if draft.run_id.trim().is_empty() {
        return Err(Error::invalid_input("journal entry: run_id must not be blank"));
    }
    let fail = |what: &str| Error::invalid_input(format!("journal of run {}: {what}", draft.run_id));
    if draft.step_id.trim().is_empty() {
        return Err(fail("step_id must not be blank"));
    }
    if draft.owner.trim().is_empty() {
        return Err(fail("owner must not be blank"));
    }
    if draft.attempt == 0 {
        return Err(fail("attempt numbers start at 1"));
    }
    Ok(())
}

/// Check the arguments of [`Store::claim_step`]: ids and owner must not be blank and the lease must end
/// after `now`.
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the argument.
pub fn check_claim(
    run_id: &str,
    step_id: &str,
    owner: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<()> {
    if run_id.trim().is_empty() || step_id.trim().is_empty() || owner.trim().is_empty() {
        return Err(Error::invalid_input(format!(
            "claim of step {step_id:?} of run {run_id:?} by {owner:?}: run, step and owner must not be blank"
        )));
    }
    if lease_until <= now {
        return Err(Error::invalid_input(format!(
            "claim of step {step_id} of run {run_id}: lease_until {} is not after now {}",
            canonical_timestamp(lease_until),
            canonical_timestamp(now)
        )));
    }
    Ok(())
}

/// The `Conflict` for a second journal entry with the same (run, step, phase, attempt) as the stored entry
/// `existing_seq`.
#[must_use]
pub fn duplicate_journal_entry(draft: &JournalDraft, existing_seq: u64) -> Error {
    Error::conflict(format!(
        "journal of run {}: step {} {} attempt {} already recorded as entry #{existing_seq}",
        draft.run_id, draft.step_id, draft.phase, draft.attempt
    ))
}

/// Whether `owner` may (re)claim a step whose current claim is `holder`, at `now`: when unclaimed, when
/// `owner` already holds it (extending the lease), or when the holder's lease has expired
/// (`lease_until <= now`).
#[must_use]
pub fn may_claim(holder: Option<&StepClaim>, owner: &str, now: DateTime<Utc>) -> bool {
    holder.is_none_or(|h| h.owner == owner || h.lease_until <= now)
}

#[cfg(test)]
mod tests;
