//! Durable storage of incidents, timelines, procedure runs and their write-ahead journals.
//!
//! One trait, [`Store`], several implementations: [`MemoryStore`] (tests, bindings' ephemeral use),
//! `SqliteStore` (feature `sqlite`, the embedded default: one file) and the PostgreSQL team store in an
//! adapter crate. All of them pass the same conformance suite.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::incident::Incident;
use crate::timeline::{Event, Timeline};

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

/// Storage for incidents, timelines, runs and journals. Implementations must be safe under concurrent
/// writers from several processes.
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// Insert or replace an incident.
    async fn save_incident(&self, incident: &Incident) -> Result<()>;
    /// Read an incident.
    async fn incident(&self, id: &str) -> Result<Option<Incident>>;
    /// All incidents, newest declaration first.
    async fn incidents(&self) -> Result<Vec<Incident>>;
    /// Append timeline events; `Conflict` if the first event's `seq` is not the next expected one.
    async fn append_events(&self, incident_id: &str, events: &[Event]) -> Result<()>;
    /// The verified timeline (`Integrity` error when the stored chain was tampered with).
    async fn timeline(&self, incident_id: &str) -> Result<Timeline>;
    /// Create a run; `Conflict` if the id exists.
    async fn create_run(&self, run: &RunRecord) -> Result<()>;
    /// Update a run's status and approval.
    async fn update_run(&self, run: &RunRecord) -> Result<()>;
    /// Read a run.
    async fn run(&self, run_id: &str) -> Result<Option<RunRecord>>;
    /// All runs, newest first.
    async fn runs(&self) -> Result<Vec<RunRecord>>;
    /// Atomically claim `step_id` of `run_id` for `owner` until `lease_until`. Returns `false` when another
    /// owner holds an unexpired claim. Re-claiming by the same owner extends the lease.
    async fn claim_step(
        &self,
        run_id: &str,
        step_id: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool>;
    /// Append a journal entry (assigning seq and hash); `Conflict` on a duplicate (run, step, phase, attempt).
    async fn append_journal(&self, draft: JournalDraft) -> Result<JournalEntry>;
    /// The verified journal of a run (`Integrity` error when tampered with).
    async fn journal(&self, run_id: &str) -> Result<Vec<JournalEntry>>;
}
