//! [`SqliteStore`] as an archive: sealing a file so it alone holds everything, opening one read-only
//! without changing a byte, and auditing every chain in it (what `incident evidence verify` relies on):
//! the [`ArchiveStore`] port of `incident_core::store`.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use incident_core::incident::Incident;
use incident_core::store::{ArchiveStore, AuditedIncident, AuditedRun, StoreAudit};
use incident_core::{Error, ErrorKind, Result};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::{
    Ctx, RUN_COLUMNS, RunRow, SqlExt, SqliteStore, evidence_items, journal_rows, read_run_row, recorded_head,
    timeline_rows,
};
use crate::codec::{JOURNAL_CHAIN, verified_journal, verified_timeline};

/// `path` as an SQLite URI filename (`file:` with `%`, `?` and `#` escaped).
fn uri_path(path: &Path) -> Result<String> {
    let text = path
        .to_str()
        .ok_or_else(|| Error::invalid_input(format!("sqlite store {}: the path is not UTF-8", path.display())))?;
    let mut out = String::from("file:");
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Re-label an error of reading stored data as `Integrity`: in an audit, unreadable rows are tampering.
fn as_integrity(e: Error) -> Error {
    if matches!(e.kind(), ErrorKind::Internal | ErrorKind::InvalidInput) {
        Error::new(ErrorKind::Integrity, e.message().to_owned())
    } else {
        e
    }
}

impl SqliteStore {
    /// The oldest schema [`SqliteStore::open_read_only`] reads (the first with recorded heads).
    pub const MIN_READ_ONLY_VERSION: u32 = 2;

    /// Open the store file at `path` read-only and immutable (`mode=ro&immutable=1`): nothing is written,
    /// no lock is taken and no `-wal`/`-shm` file is created, so an archived file (an evidence bundle's
    /// `journal.sqlite`) can be examined without changing it. Write it with [`SqliteStore::seal`] first:
    /// the contents of a `-wal` file beside it are ignored. Writes through the handle fail
    /// (`Unavailable`, read-only). Blocking.
    ///
    /// # Errors
    /// `NotFound` when there is no such file, `Integrity` when it is not an incident-core database,
    /// `PreconditionFailed` when its schema is older than [`SqliteStore::MIN_READ_ONLY_VERSION`] or newer
    /// than this build.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let label: Arc<str> = path.display().to_string().into();
        let ctx = Ctx { label: Arc::clone(&label), op: "open read-only" };
        if !path.is_file() {
            return Err(Error::not_found(format!("sqlite store {label}: no such file")));
        }
        let uri = format!("{}?mode=ro&immutable=1", uri_path(path)?);
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(uri, flags).ctx(&ctx)?;
        let version: Option<i64> = conn
            .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| r.get(0))
            .map_err(|e| match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) | None => {
                    Error::integrity(format!("sqlite store {label}: not an incident-core database")).with_source(e)
                }
                _ => ctx.sql(e),
            })?;
        // Nothing is migrated read-only. The reads (and the audit) use only what migrations 1 and 2
        // created, plus migration 3's evidence table when it exists, so files from version 2 on stay
        // readable; a migration that changes those tables must revisit this range.
        let version = version.unwrap_or(0);
        if !(i64::from(Self::MIN_READ_ONLY_VERSION)..=i64::from(Self::SCHEMA_VERSION)).contains(&version) {
            return Err(Error::precondition(format!(
                "sqlite store {label}: schema version {version}, but this build reads versions {} to {} read-only",
                Self::MIN_READ_ONLY_VERSION,
                Self::SCHEMA_VERSION
            )));
        }
        Ok(Self { conn: Arc::new(Mutex::new(conn)), label })
    }

    /// Fold the write-ahead log into the database file and leave WAL mode (for rollback-journal mode), so
    /// that the file alone holds everything and closing it leaves no `-wal`/`-shm` file: for a file about
    /// to be hashed or archived (an evidence bundle). The store stays usable. Blocking.
    ///
    /// # Errors
    /// `Unavailable` when another connection still has the file open (WAL mode cannot be left then).
    pub fn seal(&self) -> Result<()> {
        let ctx = Ctx { label: Arc::clone(&self.label), op: "seal" };
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0)).ctx(&ctx)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0)).ctx(&ctx)?;
        if busy != 0 || !(mode.eq_ignore_ascii_case("delete") || mode.eq_ignore_ascii_case("memory")) {
            return Err(Error::unavailable(format!(
                "sqlite store {}: seal: cannot leave WAL mode while another connection has the file open",
                self.label
            )));
        }
        Ok(())
    }

    /// Read everything and verify it, in one read transaction: SQLite's own `quick_check`; every
    /// incident's timeline (hash chain, and its newest event against the head recorded with the append);
    /// every run's journal (likewise); and no events, entries or recorded heads belonging to no incident
    /// or run. The same checks [`Store::timeline`](incident_core::store::Store::timeline) and
    /// [`Store::journal`](incident_core::store::Store::journal) make, over the whole file. Blocking.
    ///
    /// # Errors
    /// `Integrity` naming the first problem (`timeline of INC-1: event #3 hash mismatch (edited?)`,
    /// `journal of run R: the newest entry is #7 but the recorded head is #9 (dropped from the end?)`,
    /// `sqlite store F: timeline events of INC-2, which is not a stored incident (deleted?)`).
    pub fn audit(&self) -> Result<StoreAudit> {
        let ctx = Ctx { label: Arc::clone(&self.label), op: "audit" };
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn.transaction().ctx(&ctx)?;
        quick_check(&tx, &ctx)?;
        orphans(&tx, &ctx)?;
        // Files of schema version 2 (before evidence items) have no evidence table.
        let has_evidence = tx
            .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'evidence'", [], |_| Ok(()))
            .optional()
            .ctx(&ctx)?
            .is_some();
        if has_evidence {
            let orphan: Option<String> = tx
                .query_row(
                    "SELECT DISTINCT incident_id FROM evidence WHERE incident_id NOT IN (SELECT id FROM incidents) \
                     ORDER BY incident_id LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()
                .ctx(&ctx)?;
            if let Some(id) = orphan {
                return Err(Error::integrity(format!(
                    "sqlite store {}: evidence of {id}, which is not a stored incident (deleted?)",
                    self.label
                )));
            }
        }
        let rows: Vec<(String, String)> = tx
            .prepare("SELECT id, json FROM incidents ORDER BY id")
            .ctx(&ctx)?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .ctx(&ctx)?
            .collect::<rusqlite::Result<_>>()
            .ctx(&ctx)?;
        let mut incidents = Vec::with_capacity(rows.len());
        for (id, json) in rows {
            let incident: Incident = serde_json::from_str(&json).map_err(|e| {
                Error::integrity(format!(
                    "sqlite store {}: incident {id} is not a valid incident (edited?)",
                    self.label
                ))
                .with_source(e)
            })?;
            if incident.id != id {
                return Err(Error::integrity(format!(
                    "sqlite store {}: the incident stored as {id} is {} (edited?)",
                    self.label, incident.id
                )));
            }
            let (events, head) = timeline_rows(&tx, &ctx, &id)?;
            let timeline = verified_timeline(id.clone(), events, head.as_ref())?;
            let evidence = if has_evidence { evidence_items(&tx, &ctx, &id)? } else { Vec::new() };
            incident_core::store::check_evidence_recorded(&timeline, &evidence)?;
            incidents.push(AuditedIncident { incident, timeline, evidence });
        }
        let rows: Vec<RunRow> = tx
            .prepare(&format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY run_id"))
            .ctx(&ctx)?
            .query_map([], read_run_row)
            .ctx(&ctx)?
            .collect::<rusqlite::Result<_>>()
            .ctx(&ctx)?;
        let mut runs = Vec::with_capacity(rows.len());
        for row in rows {
            let run = row.into_record(&ctx).map_err(as_integrity)?;
            let entries = journal_rows(&tx, &ctx, &run.run_id)?;
            let head = recorded_head(&tx, &ctx, JOURNAL_CHAIN, &run.run_id)?;
            let journal = verified_journal(&run.run_id, entries, head.as_ref())?;
            runs.push(AuditedRun { run, journal });
        }
        Ok(StoreAudit { incidents, runs })
    }
}

fn quick_check(conn: &Connection, ctx: &Ctx) -> Result<()> {
    let result: String = conn.query_row("PRAGMA quick_check(1)", [], |r| r.get(0)).ctx(ctx)?;
    if result == "ok" {
        Ok(())
    } else {
        Err(Error::integrity(format!("sqlite store {}: SQLite's quick_check failed: {result}", ctx.label)))
    }
}

/// Rows that belong to no incident or run (their parent deleted behind the store's back).
fn orphans(conn: &Connection, ctx: &Ctx) -> Result<()> {
    const CHECKS: [(&str, &str); 5] = [
        (
            "SELECT DISTINCT incident_id FROM events WHERE incident_id NOT IN (SELECT id FROM incidents) \
             ORDER BY incident_id LIMIT 1",
            "timeline events of {}, which is not a stored incident (deleted?)",
        ),
        (
            "SELECT id FROM heads WHERE chain = 'timeline' AND id NOT IN (SELECT id FROM incidents) ORDER BY id LIMIT 1",
            "a recorded timeline head of {}, which is not a stored incident (deleted?)",
        ),
        (
            "SELECT DISTINCT run_id FROM journal WHERE run_id NOT IN (SELECT run_id FROM runs) ORDER BY run_id LIMIT 1",
            "journal entries of run {}, which is not a stored run (deleted?)",
        ),
        (
            "SELECT id FROM heads WHERE chain = 'journal' AND id NOT IN (SELECT run_id FROM runs) ORDER BY id LIMIT 1",
            "a recorded journal head of run {}, which is not a stored run (deleted?)",
        ),
        (
            "SELECT chain FROM heads WHERE chain NOT IN ('timeline', 'journal') ORDER BY chain LIMIT 1",
            "a recorded head of an unknown chain {} (inserted?)",
        ),
    ];
    for (sql, what) in CHECKS {
        let found: Option<String> = conn.query_row(sql, [], |r| r.get(0)).map_or_else(
            |e| if matches!(e, rusqlite::Error::QueryReturnedNoRows) { Ok(None) } else { Err(ctx.sql(e)) },
            |v| Ok(Some(v)),
        )?;
        if let Some(id) = found {
            return Err(Error::integrity(format!("sqlite store {}: {}", ctx.label, what.replace("{}", &id))));
        }
    }
    Ok(())
}

/// The evidence bundle's `journal.sqlite`: [`SqliteStore::open`], [`SqliteStore::open_read_only`],
/// [`SqliteStore::seal`] and [`SqliteStore::audit`].
impl ArchiveStore for SqliteStore {
    fn create(path: &Path) -> Result<Self> {
        Self::open(path)
    }

    fn open_read_only(path: &Path) -> Result<Self> {
        Self::open_read_only(path)
    }

    fn seal(&self) -> Result<()> {
        Self::seal(self)
    }

    fn audit(&self) -> Result<StoreAudit> {
        Self::audit(self)
    }
}
