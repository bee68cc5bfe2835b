//! [`ArchiveStore`]: a store kept in one file that can be sealed, reopened read-only and audited, which is
//! what an [evidence bundle](crate::evidence)'s `journal.sqlite` needs. The port lives here, with the
//! evidence rules that use it; `incident_store::SqliteStore` (feature `sqlite`) implements it.

use std::path::Path;

use super::{EvidenceItem, JournalEntry, RunRecord, Store};
use crate::Result;
use crate::incident::Incident;
use crate::timeline::Timeline;

/// Everything a store file holds, every chain verified (see [`ArchiveStore::audit`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StoreAudit {
    /// Every incident (by id) with its verified timeline.
    pub incidents: Vec<AuditedIncident>,
    /// Every run (by id) with its verified journal.
    pub runs: Vec<AuditedRun>,
}

/// An incident of a [`StoreAudit`].
#[derive(Debug, Clone, PartialEq)]
pub struct AuditedIncident {
    /// The incident record.
    pub incident: Incident,
    /// Its timeline: chain intact and ending at the head recorded with the last append.
    pub timeline: Timeline,
    /// Its evidence items, by name: each one's content matches its hash, which an `evidence_added` event
    /// of the timeline records ([`check_evidence_recorded`](super::check_evidence_recorded)).
    pub evidence: Vec<EvidenceItem>,
}

/// A run of a [`StoreAudit`].
#[derive(Debug, Clone, PartialEq)]
pub struct AuditedRun {
    /// The run record.
    pub run: RunRecord,
    /// Its journal: chain intact and ending at the head recorded with the last append.
    pub journal: Vec<JournalEntry>,
}

/// A [`Store`] in one file that can serve as an archive. Every method is blocking (file I/O).
pub trait ArchiveStore: Store + Clone + Sized + 'static {
    /// Open (creating if needed) the store file at `path` for writing.
    ///
    /// # Errors
    /// `Unavailable` when the file cannot be opened, `PreconditionFailed` or `Integrity` when it is not a
    /// store this build can write.
    fn create(path: &Path) -> Result<Self>;

    /// Open the file at `path` read-only without changing a byte (no lock, no side files).
    ///
    /// # Errors
    /// `NotFound` when there is no such file, `Integrity` when it is not a store file,
    /// `PreconditionFailed` when its schema cannot be read by this build.
    fn open_read_only(path: &Path) -> Result<Self>;

    /// Make the file alone hold everything (no side files once closed), for hashing or archiving. The
    /// store stays usable.
    ///
    /// # Errors
    /// `Unavailable` when another handle keeps the file open.
    fn seal(&self) -> Result<()>;

    /// Read everything and verify it: every timeline and journal chain, each against the head recorded
    /// with its last append, every evidence item against its content and its timeline, and no rows
    /// belonging to no incident or run.
    ///
    /// # Errors
    /// `Integrity` naming the first problem.
    fn audit(&self) -> Result<StoreAudit>;
}
