//! [`SqliteStore`]: the embedded store, one SQLite file (feature `sqlite`).
//!
//! See [`SqliteStore`] for concurrency, errors and the schema.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use incident_core::incident::Incident;
use incident_core::store::conformance::RawAccess;
use incident_core::store::{
    EvidenceInfo, EvidenceItem, IncidentUpdate, IncidentUpdated, JournalDraft, JournalEntry, RunRecord, StepClaim,
    Store, StoreWrite, canonical_timestamp, check_claim, check_event_append, check_journal_draft, check_run,
    check_take_over, duplicate_journal_entry, incident_not_found, may_claim, run_exists, run_not_found,
};
use incident_core::timeline::{Event, Timeline};
use incident_core::{Error, ErrorKind, Result};

use crate::codec::{
    EvidenceRow, IncidentRow, JOURNAL_CHAIN, JournalRow, Label, Migration, RecordedHead, RunRow, TIMELINE_CHAIN,
    event_row, next_journal_link, parse_event, parse_incident, parse_time, to_i64, to_json, verified_journal,
    verified_timeline,
};

/// All migrations, in order, numbered from 1 without gaps. Never edit a released one: add the next.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "incidents, events, runs, journal, step_claims",
        sql: r"
CREATE TABLE incidents (
    id          TEXT PRIMARY KEY NOT NULL,
    json        TEXT NOT NULL,
    declared_at TEXT NOT NULL
) STRICT;
CREATE INDEX incidents_by_declared_at ON incidents (declared_at DESC, id);

CREATE TABLE events (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    seq         INTEGER NOT NULL,
    json        TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (incident_id, seq)
) STRICT;

CREATE TABLE runs (
    run_id      TEXT PRIMARY KEY NOT NULL,
    incident_id TEXT,
    procedure   TEXT NOT NULL,
    plan        TEXT NOT NULL,
    approval    TEXT,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
CREATE INDEX runs_by_created_at ON runs (created_at DESC, run_id);

CREATE TABLE journal (
    run_id    TEXT NOT NULL REFERENCES runs (run_id),
    seq       INTEGER NOT NULL,
    step_id   TEXT NOT NULL,
    phase     TEXT NOT NULL,
    attempt   INTEGER NOT NULL,
    owner     TEXT NOT NULL,
    at        TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL,
    PRIMARY KEY (run_id, seq),
    UNIQUE (run_id, step_id, phase, attempt)
) STRICT;

CREATE TABLE step_claims (
    run_id      TEXT NOT NULL REFERENCES runs (run_id),
    step_id     TEXT NOT NULL,
    owner       TEXT NOT NULL,
    lease_until TEXT NOT NULL,
    PRIMARY KEY (run_id, step_id)
) STRICT;
",
    },
    Migration {
        version: 2,
        name: "heads: newest event and journal entry recorded with each append",
        sql: r"
CREATE TABLE heads (
    chain TEXT NOT NULL,
    id    TEXT NOT NULL,
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL,
    PRIMARY KEY (chain, id)
) STRICT;
INSERT INTO heads (chain, id, seq, hash)
    SELECT 'timeline', incident_id, seq, hash FROM events e
    WHERE seq = (SELECT MAX(seq) FROM events WHERE incident_id = e.incident_id);
INSERT INTO heads (chain, id, seq, hash)
    SELECT 'journal', run_id, seq, hash FROM journal j
    WHERE seq = (SELECT MAX(seq) FROM journal WHERE run_id = j.run_id);
",
    },
    Migration {
        version: 3,
        name: "evidence: items captured for an incident, each recorded by an evidence_added event",
        sql: r"
CREATE TABLE evidence (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    name        TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    captured_at TEXT NOT NULL,
    content     BLOB NOT NULL,
    PRIMARY KEY (incident_id, name)
) STRICT;
",
    },
];

/// A [`Store`] in one SQLite file. Cloning is cheap and clones share the connection.
///
/// # Concurrency
///
/// The file is opened in WAL mode with a busy timeout ([`SqliteStore::DEFAULT_BUSY_TIMEOUT`]) and
/// `synchronous = FULL`, so a journal entry is on disk before the step it announces runs. Every
/// read-modify-write (appending events or journal entries, claiming a step) runs in one `BEGIN IMMEDIATE`
/// transaction: it takes the database's write lock *before* reading the head, so writers in other
/// processes queue behind it (up to the busy timeout) instead of forking the chain or double-claiming.
///
/// Each store handle owns **one connection** behind a mutex, and every call runs on tokio's blocking pool
/// (`spawn_blocking`), never on the async workers. One connection rather than one per call because
/// SQLite serializes writers anyway (a pool would only add concurrent readers, which small journals do
/// not need), an in-memory database exists only inside its connection, and the prepared-statement cache
/// stays warm. Cross-process safety comes from the locking above, not from the mutex.
///
/// # Errors
///
/// SQLite errors map to [`ErrorKind::Unavailable`](incident_core::ErrorKind::Unavailable) (busy or locked past
/// the timeout: retryable; cannot open, I/O, disk full, read-only), `Integrity` (a corrupt file),
/// `Conflict` (a constraint the checks did not anticipate) or `Internal`. Messages name the file and the
/// operation; the SQLite error is the [`source`](std::error::Error::source), never part of the message.
///
/// # Schema
///
/// Versioned by `schema_migrations (version, name)`; numbered migrations run in order, all in one
/// transaction, when the file is opened. A file from a newer build is refused
/// ([`ErrorKind::PreconditionFailed`](incident_core::ErrorKind::PreconditionFailed)). Timestamps are stored as
/// [`canonical_timestamp`] text (nanosecond precision, sortable); JSON as text.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// The file path (or `:memory:`), for messages.
    label: Arc<str>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.label).finish_non_exhaustive()
    }
}

/// Names the file and the operation in error messages.
struct Ctx {
    label: Arc<str>,
    op: &'static str,
}

impl Ctx {
    fn sql(&self, e: rusqlite::Error) -> Error {
        use rusqlite::ErrorCode as C;
        let (kind, what) = match e.sqlite_error_code() {
            Some(C::DatabaseBusy | C::DatabaseLocked) => {
                (ErrorKind::Unavailable, "database busy or locked by another writer (retry)")
            }
            Some(C::CannotOpen) => (ErrorKind::Unavailable, "cannot open the database file"),
            Some(
                C::SystemIoFailure | C::DiskFull | C::ReadOnly | C::PermissionDenied | C::FileLockingProtocolFailed,
            ) => (ErrorKind::Unavailable, "cannot write the database file (I/O error, disk full or read-only)"),
            Some(C::DatabaseCorrupt | C::NotADatabase) => {
                (ErrorKind::Integrity, "the file is corrupt or not an incident-core database")
            }
            Some(C::ConstraintViolation) => (ErrorKind::Conflict, "constraint violation"),
            _ => (ErrorKind::Internal, "unexpected SQLite error"),
        };
        Error::new(kind, format!("sqlite store {}: {}: {what}", self.label, self.op)).with_source(e)
    }
}

impl Label for Ctx {
    fn internal(&self, what: impl fmt::Display) -> Error {
        Error::internal(format!("sqlite store {}: {}: {what}", self.label, self.op))
    }
}

/// `.ctx(&ctx)` on rusqlite results.
trait SqlExt<T> {
    fn ctx(self, ctx: &Ctx) -> Result<T>;
}

impl<T> SqlExt<T> for rusqlite::Result<T> {
    fn ctx(self, ctx: &Ctx) -> Result<T> {
        self.map_err(|e| ctx.sql(e))
    }
}

impl SqliteStore {
    /// How long a call waits for another writer's lock before failing with `Unavailable`.
    pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

    /// The schema version this build writes (the highest migration).
    pub const SCHEMA_VERSION: u32 = 3;

    /// Open (creating if needed) the store at `path`: WAL mode, busy timeout, foreign keys, and pending
    /// migrations. Blocking (file I/O, possibly waiting for another process's lock): call it at start-up
    /// or inside `spawn_blocking`.
    ///
    /// # Errors
    /// `Unavailable` when the file cannot be opened or stays locked, `PreconditionFailed` when it was
    /// written by a newer schema, `Integrity` when it is not a database.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let label: Arc<str> = path.display().to_string().into();
        let ctx = Ctx { label: Arc::clone(&label), op: "open" };
        let conn = Connection::open(path).ctx(&ctx)?;
        Self::init(conn, label, true)
    }

    /// A private, empty in-memory database (gone when the last clone is dropped).
    ///
    /// # Errors
    /// As [`SqliteStore::open`] (practically only out of memory).
    pub fn open_in_memory() -> Result<Self> {
        let label: Arc<str> = ":memory:".into();
        let ctx = Ctx { label: Arc::clone(&label), op: "open" };
        let conn = Connection::open_in_memory().ctx(&ctx)?;
        Self::init(conn, label, false)
    }

    fn init(mut conn: Connection, label: Arc<str>, file: bool) -> Result<Self> {
        let ctx = Ctx { label: Arc::clone(&label), op: "open" };
        conn.busy_timeout(Self::DEFAULT_BUSY_TIMEOUT).ctx(&ctx)?;
        if file {
            let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).ctx(&ctx)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Error::unavailable(format!(
                    "sqlite store {label}: open: cannot switch to WAL journal mode (still {mode})"
                )));
            }
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;").ctx(&ctx)?;
        migrate(&mut conn, &Ctx { label: Arc::clone(&label), op: "migrate" })?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)), label })
    }

    /// The file path (`:memory:` for an in-memory store).
    #[must_use]
    pub fn path(&self) -> &str {
        &self.label
    }

    /// Change how long calls wait for another writer's lock (default
    /// [`DEFAULT_BUSY_TIMEOUT`](Self::DEFAULT_BUSY_TIMEOUT)). Waits for a call in progress on this handle.
    ///
    /// # Errors
    /// `Internal` if SQLite refuses the setting.
    pub fn set_busy_timeout(&self, timeout: Duration) -> Result<()> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        conn.busy_timeout(timeout).ctx(&Ctx { label: Arc::clone(&self.label), op: "set_busy_timeout" })
    }

    /// Run `f` with the connection on the blocking pool.
    async fn call<T, F>(&self, op: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &Ctx) -> Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let ctx = Ctx { label: Arc::clone(&self.label), op };
        let task = tokio::task::spawn_blocking(move || {
            // A panic inside `f` dropped its transaction (rolled back) before poisoning the mutex, so the
            // connection is still consistent.
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut conn, &ctx)
        });
        task.await.map_err(|e| {
            Error::internal(format!("sqlite store {}: {op}: blocking task failed", self.label)).with_source(e)
        })?
    }
}

fn migrate(conn: &mut Connection, ctx: &Ctx) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(ctx)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL) STRICT;",
    )
    .ctx(ctx)?;
    let current: i64 =
        tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0)).ctx(ctx)?;
    if current > i64::from(SqliteStore::SCHEMA_VERSION) {
        return Err(Error::precondition(format!(
            "sqlite store {}: schema version {current} is newer than this build supports ({}); upgrade incident-core",
            ctx.label,
            SqliteStore::SCHEMA_VERSION
        )));
    }
    for m in MIGRATIONS.iter().filter(|m| i64::from(m.version) > current) {
        tx.execute_batch(m.sql)
            .ctx(ctx)
            .map_err(|e| e.context(format_args!("migration {} ({})", m.version, m.name)))?;
        tx.execute("INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)", params![m.version, m.name])
            .ctx(ctx)?;
    }
    tx.commit().ctx(ctx)
}

fn require_incident(conn: &Connection, ctx: &Ctx, incident_id: &str) -> Result<()> {
    let found =
        conn.query_row("SELECT 1 FROM incidents WHERE id = ?1", [incident_id], |_| Ok(())).optional().ctx(ctx)?;
    found.ok_or_else(|| incident_not_found(incident_id))
}

fn require_run(conn: &Connection, ctx: &Ctx, run_id: &str) -> Result<()> {
    let found = conn.query_row("SELECT 1 FROM runs WHERE run_id = ?1", [run_id], |_| Ok(())).optional().ctx(ctx)?;
    found.ok_or_else(|| run_not_found(run_id))
}

/// Event rows of an incident as `(row key, event)`, by key.
fn event_rows(conn: &Connection, ctx: &Ctx, incident_id: &str) -> Result<Vec<(u64, Event)>> {
    let mut stmt = conn.prepare_cached("SELECT seq, json FROM events WHERE incident_id = ?1 ORDER BY seq").ctx(ctx)?;
    let rows = stmt
        .query_map([incident_id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .ctx(ctx)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx(ctx)?;
    rows.into_iter().map(|(row, json)| event_row(incident_id, row, &json)).collect()
}

fn insert_event(conn: &Connection, ctx: &Ctx, incident_id: &str, row: u64, ev: &Event) -> Result<()> {
    let json = to_json(ev, "event")?;
    let mut stmt = conn
        .prepare_cached("INSERT INTO events (incident_id, seq, json, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5)")
        .ctx(ctx)?;
    stmt.execute(params![incident_id, to_i64(row, "event seq")?, json, ev.prev_hash, ev.hash]).ctx(ctx)?;
    Ok(())
}

/// Insert or replace an `incidents` row (serialized before the blocking call).
fn upsert_incident(conn: &Connection, ctx: &Ctx, row: &IncidentRow) -> Result<()> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO incidents (id, json, declared_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (id) DO UPDATE SET json = excluded.json, declared_at = excluded.declared_at",
        )
        .ctx(ctx)?;
    stmt.execute(params![row.id, row.json, row.declared_at]).ctx(ctx)?;
    Ok(())
}

/// Append `events` inside the caller's write transaction (see [`check_event_append`]).
fn append_events_in(conn: &Connection, ctx: &Ctx, incident_id: &str, events: &[Event]) -> Result<()> {
    require_incident(conn, ctx, incident_id)?;
    let head: Option<(i64, String)> = conn
        .prepare_cached("SELECT seq, json FROM events WHERE incident_id = ?1 ORDER BY seq DESC LIMIT 1")
        .ctx(ctx)?
        .query_row([incident_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .ctx(ctx)?;
    let head = head.map(|(row, json)| parse_event(incident_id, row, &json)).transpose()?;
    check_event_append(incident_id, head.as_ref(), events)?;
    for ev in events {
        insert_event(conn, ctx, incident_id, ev.seq, ev)?;
    }
    if let Some(last) = events.last() {
        record_head(conn, ctx, TIMELINE_CHAIN, incident_id, last.seq, &last.hash)?;
    }
    Ok(())
}

/// The newest stored event of an incident.
fn head_event(conn: &Connection, ctx: &Ctx, incident_id: &str) -> Result<Option<Event>> {
    let head: Option<(i64, String)> = conn
        .prepare_cached("SELECT seq, json FROM events WHERE incident_id = ?1 ORDER BY seq DESC LIMIT 1")
        .ctx(ctx)?
        .query_row([incident_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .ctx(ctx)?;
    head.map(|(row, json)| parse_event(incident_id, row, &json)).transpose()
}

/// The stored evidence names of an incident.
fn evidence_names(conn: &Connection, ctx: &Ctx, incident_id: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT name FROM evidence WHERE incident_id = ?1").ctx(ctx)?;
    stmt.query_map([incident_id], |r| r.get(0)).ctx(ctx)?.collect::<rusqlite::Result<Vec<_>>>().ctx(ctx)
}

fn insert_evidence(conn: &Connection, ctx: &Ctx, incident_id: &str, row: &EvidenceRow) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO evidence (incident_id, name, media_type, sha256, captured_at, content) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .ctx(ctx)?
    .execute(params![incident_id, row.name, row.media_type, row.sha256, row.captured_at, row.content])
    .ctx(ctx)?;
    Ok(())
}

/// An `evidence` row (`name, media_type, sha256, captured_at, content`).
fn read_evidence_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EvidenceRow> {
    Ok(EvidenceRow {
        name: r.get(0)?,
        media_type: r.get(1)?,
        sha256: r.get(2)?,
        captured_at: r.get(3)?,
        content: r.get(4)?,
    })
}

/// The evidence of an incident without content, by name.
fn evidence_list(conn: &Connection, ctx: &Ctx, incident_id: &str) -> Result<Vec<EvidenceInfo>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT name, media_type, sha256, captured_at, length(content) FROM evidence WHERE incident_id = ?1 \
             ORDER BY name",
        )
        .ctx(ctx)?;
    let rows = stmt
        .query_map([incident_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .ctx(ctx)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx(ctx)?;
    rows.into_iter()
        .map(|(name, media, sha, at, size)| crate::codec::evidence_info(incident_id, name, media, sha, &at, size))
        .collect()
}

/// Every evidence item of an incident with content, by name (for the audit).
fn evidence_items(conn: &Connection, ctx: &Ctx, incident_id: &str) -> Result<Vec<EvidenceItem>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT name, media_type, sha256, captured_at, content FROM evidence WHERE incident_id = ?1 ORDER BY name",
        )
        .ctx(ctx)?;
    let rows =
        stmt.query_map([incident_id], read_evidence_row).ctx(ctx)?.collect::<rusqlite::Result<Vec<_>>>().ctx(ctx)?;
    rows.into_iter().map(|r| r.into_item(incident_id)).collect()
}

/// Record the newest link of a chain (in the append's transaction).
fn record_head(conn: &Connection, ctx: &Ctx, chain: &str, id: &str, seq: u64, hash: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO heads (chain, id, seq, hash) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (chain, id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    )
    .ctx(ctx)?
    .execute(params![chain, id, to_i64(seq, "head seq")?, hash])
    .ctx(ctx)?;
    Ok(())
}

/// The recorded head of a chain, if any.
fn recorded_head(conn: &Connection, ctx: &Ctx, chain: &str, id: &str) -> Result<RecordedHead> {
    let row: Option<(i64, String)> = conn
        .prepare_cached("SELECT seq, hash FROM heads WHERE chain = ?1 AND id = ?2")
        .ctx(ctx)?
        .query_row(params![chain, id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .ctx(ctx)?;
    row.map(|(seq, hash)| crate::codec::recorded_head(chain, id, seq, hash)).transpose()
}

const RUN_COLUMNS: &str = "run_id, incident_id, procedure, plan, approval, status, created_at, updated_at";

/// A `runs` row ([`RUN_COLUMNS`]) as text, converted after the query.
fn read_run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        run_id: r.get(0)?,
        incident_id: r.get(1)?,
        procedure: r.get(2)?,
        plan: r.get(3)?,
        approval: r.get(4)?,
        status: r.get(5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

/// A `journal` row as text, converted after the query.
fn read_journal_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JournalRow> {
    Ok(JournalRow {
        seq: r.get(0)?,
        step_id: r.get(1)?,
        phase: r.get(2)?,
        attempt: r.get(3)?,
        owner: r.get(4)?,
        at: r.get(5)?,
        detail: r.get(6)?,
        prev_hash: r.get(7)?,
        hash: r.get(8)?,
    })
}

fn journal_rows(conn: &Connection, ctx: &Ctx, run_id: &str) -> Result<Vec<JournalEntry>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, step_id, phase, attempt, owner, at, detail, prev_hash, hash FROM journal \
             WHERE run_id = ?1 ORDER BY seq",
        )
        .ctx(ctx)?;
    let rows = stmt.query_map([run_id], read_journal_row).ctx(ctx)?.collect::<rusqlite::Result<Vec<_>>>().ctx(ctx)?;
    rows.into_iter().map(|r| r.into_entry(run_id)).collect()
}

/// The stored events of an incident and the head recorded with them (read inside the caller's transaction).
fn timeline_rows(conn: &Connection, ctx: &Ctx, incident_id: &str) -> Result<(Vec<Event>, RecordedHead)> {
    require_incident(conn, ctx, incident_id)?;
    let events = event_rows(conn, ctx, incident_id)?.into_iter().map(|(_, ev)| ev).collect();
    let head = recorded_head(conn, ctx, TIMELINE_CHAIN, incident_id)?;
    Ok((events, head))
}

fn insert_journal(conn: &Connection, ctx: &Ctx, run_id: &str, entry: &JournalEntry) -> Result<()> {
    let row = JournalRow::new(entry)?;
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO journal (run_id, seq, step_id, phase, attempt, owner, at, detail, prev_hash, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .ctx(ctx)?;
    stmt.execute(params![
        run_id,
        row.seq,
        row.step_id,
        row.phase,
        row.attempt,
        row.owner,
        row.at,
        row.detail,
        row.prev_hash,
        row.hash,
    ])
    .ctx(ctx)?;
    Ok(())
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn save_incident(&self, incident: &Incident) -> Result<()> {
        let row = IncidentRow::new(incident)?;
        self.call("save_incident", move |conn, ctx| upsert_incident(conn, ctx, &row)).await
    }

    async fn incident(&self, id: &str) -> Result<Option<Incident>> {
        let id = id.to_owned();
        self.call("incident", move |conn, ctx| {
            let json: Option<String> =
                conn.query_row("SELECT json FROM incidents WHERE id = ?1", [&id], |r| r.get(0)).optional().ctx(ctx)?;
            json.map(|j| parse_incident(ctx, &j)).transpose()
        })
        .await
    }

    async fn incidents(&self) -> Result<Vec<Incident>> {
        self.call("incidents", |conn, ctx| {
            let mut stmt = conn.prepare_cached("SELECT json FROM incidents ORDER BY declared_at DESC, id").ctx(ctx)?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .ctx(ctx)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx(ctx)?;
            rows.iter().map(|j| parse_incident(ctx, j)).collect()
        })
        .await
    }

    async fn append_events(&self, incident_id: &str, events: &[Event]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let incident_id = incident_id.to_owned();
        let events = events.to_vec();
        self.call("append_events", move |conn, ctx| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(ctx)?;
            append_events_in(&tx, ctx, &incident_id, &events)?;
            tx.commit().ctx(ctx)
        })
        .await
    }

    /// One `BEGIN IMMEDIATE` transaction for the whole batch: all or nothing, one commit.
    async fn write_batch(&self, writes: &[StoreWrite]) -> Result<()> {
        enum Op {
            Save(IncidentRow),
            Append(String, Vec<Event>),
        }
        let ops = writes
            .iter()
            .filter_map(|w| match w {
                StoreWrite::SaveIncident(i) => Some(IncidentRow::new(i).map(Op::Save)),
                StoreWrite::AppendEvents { events, .. } if events.is_empty() => None,
                StoreWrite::AppendEvents { incident_id, events } => {
                    Some(Ok(Op::Append(incident_id.clone(), events.clone())))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        if ops.is_empty() {
            return Ok(());
        }
        self.call("write_batch", move |conn, ctx| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(ctx)?;
            for op in &ops {
                match op {
                    Op::Save(row) => upsert_incident(&tx, ctx, row)?,
                    Op::Append(id, events) => append_events_in(&tx, ctx, id, events)?,
                }
            }
            tx.commit().ctx(ctx)
        })
        .await
    }

    /// The decision runs inside one `BEGIN IMMEDIATE` transaction (the database's write lock, across
    /// processes): no other writer in between, so a continuous writer cannot starve it.
    async fn update_incident(
        &self,
        incident_id: &str,
        mut update: Box<IncidentUpdate>,
    ) -> Result<Option<IncidentUpdated>> {
        let incident_id = incident_id.to_owned();
        self.call("update_incident", move |conn, ctx| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(ctx)?;
            let json: Option<String> = tx
                .query_row("SELECT json FROM incidents WHERE id = ?1", [&incident_id], |r| r.get(0))
                .optional()
                .ctx(ctx)?;
            let Some(json) = json else { return Err(incident_not_found(&incident_id)) };
            let mut incident = parse_incident(ctx, &json)?;
            let (events, head) = timeline_rows(&tx, ctx, &incident_id)?;
            let mut timeline = verified_timeline(incident_id.clone(), events, head.as_ref())?;
            let before = timeline.len();
            // Dropping the transaction (no decision, an error) rolls it back.
            if !update(&mut incident, &mut timeline)? {
                return Ok(None);
            }
            let events = timeline.events()[before..].to_vec();
            append_events_in(&tx, ctx, &incident_id, &events)?;
            upsert_incident(&tx, ctx, &IncidentRow::new(&incident)?)?;
            tx.commit().ctx(ctx)?;
            Ok(Some(IncidentUpdated { incident, events, attempts: 1 }))
        })
        .await
    }

    /// One `BEGIN IMMEDIATE` transaction: the events, their recorded head and the items.
    async fn add_evidence(&self, incident_id: &str, events: &[Event], items: &[EvidenceItem]) -> Result<()> {
        let incident_id = incident_id.to_owned();
        let events = events.to_vec();
        let items = items.to_vec();
        self.call("add_evidence", move |conn, ctx| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(ctx)?;
            require_incident(&tx, ctx, &incident_id)?;
            let head = head_event(&tx, ctx, &incident_id)?;
            let names = evidence_names(&tx, ctx, &incident_id)?;
            incident_core::store::check_evidence_add(&incident_id, head.as_ref(), &events, &items, &|n| {
                names.iter().any(|s| s == n)
            })?;
            append_events_in(&tx, ctx, &incident_id, &events)?;
            for item in &items {
                insert_evidence(&tx, ctx, &incident_id, &EvidenceRow::new(item))?;
            }
            tx.commit().ctx(ctx)
        })
        .await
    }

    async fn evidence(&self, incident_id: &str) -> Result<Vec<EvidenceInfo>> {
        let incident_id = incident_id.to_owned();
        self.call("evidence", move |conn, ctx| {
            require_incident(conn, ctx, &incident_id)?;
            evidence_list(conn, ctx, &incident_id)
        })
        .await
    }

    async fn evidence_item(&self, incident_id: &str, name: &str) -> Result<Option<EvidenceItem>> {
        let (incident_id, name) = (incident_id.to_owned(), name.to_owned());
        self.call("evidence_item", move |conn, ctx| {
            require_incident(conn, ctx, &incident_id)?;
            let row = conn
                .query_row(
                    "SELECT name, media_type, sha256, captured_at, content FROM evidence \
                     WHERE incident_id = ?1 AND name = ?2",
                    [&incident_id, &name],
                    read_evidence_row,
                )
                .optional()
                .ctx(ctx)?;
            row.map(|r| r.into_item(&incident_id)).transpose()
        })
        .await
    }

    async fn timeline(&self, incident_id: &str) -> Result<Timeline> {
        let incident_id = incident_id.to_owned();
        self.call("timeline", move |conn, ctx| {
            let tx = conn.transaction().ctx(ctx)?;
            let (events, head) = timeline_rows(&tx, ctx, &incident_id)?;
            drop(tx);
            verified_timeline(incident_id, events, head.as_ref())
        })
        .await
    }

    async fn create_run(&self, run: &RunRecord) -> Result<()> {
        check_run(run)?;
        let run = RunRow::new(run)?;
        self.call("create_run", move |conn, ctx| {
            let inserted = conn
                .execute(
                    &format!(
                        "INSERT INTO runs ({RUN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                         ON CONFLICT (run_id) DO NOTHING"
                    ),
                    params![
                        run.run_id,
                        run.incident_id,
                        run.procedure,
                        run.plan,
                        run.approval,
                        run.status,
                        run.created_at,
                        run.updated_at,
                    ],
                )
                .ctx(ctx)?;
            if inserted == 0 {
                return Err(run_exists(&run.run_id));
            }
            Ok(())
        })
        .await
    }

    async fn update_run(&self, run: &RunRecord) -> Result<()> {
        let run_id = run.run_id.clone();
        let status = run.status.as_str();
        let approval = crate::codec::approval_json(run)?;
        let updated_at = canonical_timestamp(run.updated_at);
        self.call("update_run", move |conn, ctx| {
            let changed = conn
                .execute(
                    "UPDATE runs SET status = ?2, approval = ?3, updated_at = ?4 WHERE run_id = ?1",
                    params![run_id, status, approval, updated_at],
                )
                .ctx(ctx)?;
            if changed == 0 {
                return Err(run_not_found(&run_id));
            }
            Ok(())
        })
        .await
    }

    async fn run(&self, run_id: &str) -> Result<Option<RunRecord>> {
        let run_id = run_id.to_owned();
        self.call("run", move |conn, ctx| {
            let row = conn
                .query_row(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?1"), [&run_id], read_run_row)
                .optional()
                .ctx(ctx)?;
            row.map(|r| r.into_record(ctx)).transpose()
        })
        .await
    }

    async fn runs(&self) -> Result<Vec<RunRecord>> {
        self.call("runs", |conn, ctx| {
            let mut stmt = conn
                .prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY created_at DESC, run_id"))
                .ctx(ctx)?;
            let rows = stmt.query_map([], read_run_row).ctx(ctx)?.collect::<rusqlite::Result<Vec<_>>>().ctx(ctx)?;
            rows.into_iter().map(|r| r.into_record(ctx)).collect()
        })
        .await
    }

    async fn take_over_claims(&self, run_id: &str, owner: &str) -> Result<u64> {
        check_take_over(owner)?;
        let (run_id, owner) = (run_id.to_owned(), owner.to_owned());
        self.call("take_over_claims", move |conn, ctx| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(ctx)?;
            require_run(&tx, ctx, &run_id)?;
            let n = tx.execute("UPDATE step_claims SET owner = ?1 WHERE run_id = ?2", [&owner, &run_id]).ctx(ctx)?;
            tx.commit().ctx(ctx)?;
            Ok(u64::try_from(n).unwrap_or(u64::MAX))
        })
        .await
    }

    async fn claim_step(
        &self,
        run_id: &str,
        step_id: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        check_claim(run_id, step_id, owner, now, lease_until)?;
        let (run_id, step_id, owner) = (run_id.to_owned(), step_id.to_owned(), owner.to_owned());
        self.call("claim_step", move |conn, ctx| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(ctx)?;
            require_run(&tx, ctx, &run_id)?;
            let holder: Option<(String, String)> = tx
                .query_row(
                    "SELECT owner, lease_until FROM step_claims WHERE run_id = ?1 AND step_id = ?2",
                    [&run_id, &step_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .ctx(ctx)?;
            let holder = match holder {
                Some((owner, until)) => {
                    let lease_until = parse_time(&until).ok_or_else(|| {
                        ctx.internal(format_args!("claim of step {step_id} of run {run_id}: stored lease is unreadable"))
                    })?;
                    Some(StepClaim { owner, lease_until })
                }
                None => None,
            };
            if !may_claim(holder.as_ref(), &owner, now) {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO step_claims (run_id, step_id, owner, lease_until) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (run_id, step_id) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until",
                params![run_id, step_id, owner, canonical_timestamp(lease_until)],
            )
            .ctx(ctx)?;
            tx.commit().ctx(ctx)?;
            Ok(true)
        })
        .await
    }

    async fn append_journal(&self, draft: JournalDraft) -> Result<JournalEntry> {
        check_journal_draft(&draft)?;
        self.call("append_journal", move |conn, ctx| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(ctx)?;
            require_run(&tx, ctx, &draft.run_id)?;
            let dup: Option<i64> = tx
                .query_row(
                    "SELECT seq FROM journal WHERE run_id = ?1 AND step_id = ?2 AND phase = ?3 AND attempt = ?4",
                    params![draft.run_id, draft.step_id, draft.phase.as_str(), draft.attempt],
                    |r| r.get(0),
                )
                .optional()
                .ctx(ctx)?;
            if let Some(seq) = dup {
                return Err(duplicate_journal_entry(&draft, u64::try_from(seq).unwrap_or_default()));
            }
            let head: Option<(i64, String)> = tx
                .query_row(
                    "SELECT seq, hash FROM journal WHERE run_id = ?1 ORDER BY seq DESC LIMIT 1",
                    [&draft.run_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .ctx(ctx)?;
            let (seq, prev_hash) = next_journal_link(&draft.run_id, head)?;
            let entry = JournalEntry::new(seq, draft, prev_hash);
            insert_journal(&tx, ctx, &entry.draft.run_id, &entry)?;
            record_head(&tx, ctx, JOURNAL_CHAIN, &entry.draft.run_id, entry.seq, &entry.hash)?;
            tx.commit().ctx(ctx)?;
            Ok(entry)
        })
        .await
    }

    async fn journal(&self, run_id: &str) -> Result<Vec<JournalEntry>> {
        let run_id = run_id.to_owned();
        self.call("journal", move |conn, ctx| {
            let tx = conn.transaction().ctx(ctx)?;
            require_run(&tx, ctx, &run_id)?;
            let entries = journal_rows(&tx, ctx, &run_id)?;
            let head = recorded_head(&tx, ctx, JOURNAL_CHAIN, &run_id)?;
            drop(tx);
            verified_journal(&run_id, entries, head.as_ref())
        })
        .await
    }
}

#[async_trait::async_trait]
impl RawAccess for SqliteStore {
    async fn raw_events(&self, incident_id: &str) -> Result<Vec<(u64, Event)>> {
        let incident_id = incident_id.to_owned();
        self.call("raw_events", move |conn, ctx| event_rows(conn, ctx, &incident_id)).await
    }

    async fn put_raw_events(&self, incident_id: &str, rows: Vec<(u64, Event)>) -> Result<()> {
        let incident_id = incident_id.to_owned();
        self.call("put_raw_events", move |conn, ctx| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(ctx)?;
            tx.execute("DELETE FROM events WHERE incident_id = ?1", [&incident_id]).ctx(ctx)?;
            for (row, ev) in &rows {
                insert_event(&tx, ctx, &incident_id, *row, ev)?;
            }
            tx.commit().ctx(ctx)
        })
        .await
    }

    async fn raw_journal(&self, run_id: &str) -> Result<Vec<JournalEntry>> {
        let run_id = run_id.to_owned();
        self.call("raw_journal", move |conn, ctx| journal_rows(conn, ctx, &run_id)).await
    }

    async fn put_raw_journal(&self, run_id: &str, entries: Vec<JournalEntry>) -> Result<()> {
        let run_id = run_id.to_owned();
        self.call("put_raw_journal", move |conn, ctx| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(ctx)?;
            tx.execute("DELETE FROM journal WHERE run_id = ?1", [&run_id]).ctx(ctx)?;
            for entry in &entries {
                insert_journal(&tx, ctx, &entry.draft.run_id, entry)?;
            }
            tx.commit().ctx(ctx)
        })
        .await
    }
}

mod audit;

#[cfg(test)]
mod tests;
