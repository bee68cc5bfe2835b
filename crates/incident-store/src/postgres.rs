//! [`PgStore`]: the team store. Incidents, timelines, procedure runs and their write-ahead journals in
//! PostgreSQL, shared by every process of a team (a Rust bot, a Python script, a Node tool), with the
//! semantics of `incident_core::store` (same rules, same messages, same hash chains: it passes the same
//! conformance suite as the SQLite and memory stores).
//!
//! # Concurrency
//!
//! * **Journal appends** run in one transaction that first locks the run's row
//!   (`SELECT ... FROM runs ... FOR NO KEY UPDATE`): appenders of the same run queue behind each other
//!   across processes, so the head they read is the head they extend and the chain never forks. Appenders
//!   of different runs do not wait for each other. `UNIQUE (run_id, step_id, phase, attempt)` and
//!   `PRIMARY KEY (run_id, seq)` back this up.
//! * **Timeline appends** lock the incident's row the same way.
//! * **Read-decide-write** ([`Store::update_incident`]: a lifecycle operation) runs in one transaction
//!   that locks the incident's row `FOR UPDATE` before reading it.
//! * **Batches** ([`Store::write_batch`]: the receiver's group commit, a lifecycle operation's events and
//!   incident) run in one transaction: all or nothing.
//! * **Step claims** are one statement, `INSERT ... ON CONFLICT (run_id, step_id) DO UPDATE ... WHERE
//!   owner = excluded.owner OR lease_until <= now`, which PostgreSQL executes atomically against concurrent
//!   claimers: exactly the rule of `incident_core::store::may_claim`.
//! * **Reads** of a timeline or journal run in one `REPEATABLE READ READ ONLY` transaction (one snapshot).
//!
//! Connections come from a `deadpool-postgres` pool ([`PgStoreOptions::pool_size`]); every session runs
//! with `statement_timeout` and `idle_in_transaction_session_timeout`, so a hung or crashed writer cannot
//! hold a run's lock for long (a dropped connection releases it at once).
//!
//! # Schema
//!
//! In the schema named by [`PgStoreOptions::schema`] (the role's `search_path` by default), versioned by
//! `schema_migrations`; migrations run under a transaction-scoped advisory lock, so several processes can
//! open the store at once. A schema from a newer build is refused (`PreconditionFailed`). Timestamps are
//! `incident_core::store::canonical_timestamp` text (nanoseconds, sortable, `COLLATE "C"`), JSON is stored
//! in `json` columns (kept byte for byte, so hashes over it stay valid; queryable with `->>`).
//!
//! # Errors
//!
//! Messages read `postgres store postgres://user:***@host:port/db: <operation>: <reason>`; the driver
//! error is the `source`. Kinds: `Unavailable` (unreachable, too many connections, serialization failure:
//! retryable), `Timeout`, `PermissionDenied`, `Conflict`, `NotFound`, `Integrity`, `PreconditionFailed`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use incident_core::incident::Incident;
use incident_core::store::conformance::RawAccess;
use incident_core::store::{
    EvidenceInfo, EvidenceItem, IncidentUpdate, IncidentUpdated, JournalDraft, JournalEntry, RunRecord, Store,
    StoreWrite, canonical_timestamp, check_claim, check_event_append, check_journal_draft, check_run, check_take_over,
    duplicate_journal_entry, incident_not_found, run_exists, run_not_found,
};
use incident_core::timeline::{Event, Timeline};
use incident_core::{Error, Result};
use incident_datastores::ConnectionString;
use incident_datastores::pg::{classify, millis};
use tokio_postgres::{GenericClient, IsolationLevel, NoTls, Row};

use crate::codec::{
    EvidenceRow, IncidentRow, JOURNAL_CHAIN, JournalRow, Label, Migration, RecordedHead, RunRow, TIMELINE_CHAIN,
    approval_json, event_row, next_journal_link, parse_event, parse_incident, verified_journal, verified_timeline,
};

/// All migrations, in order, numbered from 1 without gaps. Never edit a released one: add the next.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "incidents, events, runs, journal, step_claims",
        sql: r#"
CREATE TABLE incidents (
    id          TEXT COLLATE "C" PRIMARY KEY,
    json        JSON NOT NULL,
    declared_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX incidents_by_declared_at ON incidents (declared_at DESC, id);

CREATE TABLE events (
    incident_id TEXT COLLATE "C" NOT NULL REFERENCES incidents (id),
    seq         BIGINT NOT NULL,
    json        JSON NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (incident_id, seq)
);

CREATE TABLE runs (
    run_id      TEXT COLLATE "C" PRIMARY KEY,
    incident_id TEXT COLLATE "C",
    procedure   TEXT NOT NULL,
    plan        JSON NOT NULL,
    approval    JSON,
    status      TEXT NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL,
    updated_at  TEXT COLLATE "C" NOT NULL
);
CREATE INDEX runs_by_created_at ON runs (created_at DESC, run_id);

CREATE TABLE journal (
    run_id    TEXT COLLATE "C" NOT NULL REFERENCES runs (run_id),
    seq       BIGINT NOT NULL,
    step_id   TEXT COLLATE "C" NOT NULL,
    phase     TEXT NOT NULL,
    attempt   BIGINT NOT NULL,
    owner     TEXT NOT NULL,
    at        TEXT COLLATE "C" NOT NULL,
    detail    JSON NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL,
    PRIMARY KEY (run_id, seq),
    UNIQUE (run_id, step_id, phase, attempt)
);

CREATE TABLE step_claims (
    run_id      TEXT COLLATE "C" NOT NULL REFERENCES runs (run_id),
    step_id     TEXT COLLATE "C" NOT NULL,
    owner       TEXT NOT NULL,
    lease_until TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (run_id, step_id)
);
"#,
    },
    Migration {
        version: 2,
        name: "heads: newest event and journal entry recorded with each append",
        sql: r#"
CREATE TABLE heads (
    chain TEXT COLLATE "C" NOT NULL,
    id    TEXT COLLATE "C" NOT NULL,
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL,
    PRIMARY KEY (chain, id)
);
INSERT INTO heads (chain, id, seq, hash)
    SELECT DISTINCT ON (incident_id) 'timeline', incident_id, seq, hash FROM events ORDER BY incident_id, seq DESC;
INSERT INTO heads (chain, id, seq, hash)
    SELECT DISTINCT ON (run_id) 'journal', run_id, seq, hash FROM journal ORDER BY run_id, seq DESC;
"#,
    },
    Migration {
        version: 3,
        name: "evidence: items captured for an incident, each recorded by an evidence_added event",
        sql: r#"
CREATE TABLE evidence (
    incident_id TEXT COLLATE "C" NOT NULL REFERENCES incidents (id),
    name        TEXT COLLATE "C" NOT NULL,
    media_type  TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    captured_at TEXT COLLATE "C" NOT NULL,
    content     BYTEA NOT NULL,
    PRIMARY KEY (incident_id, name)
);
"#,
    },
    Migration {
        version: 4,
        name: "replicas: one open incident per alert group, the drivers' lease, notification keys",
        sql: ha::MIGRATION_4,
    },
];

mod ha;

/// Advisory lock key serializing migrations ("incident" in ASCII).
const MIGRATION_LOCK: i64 = 0x696e_6369_6465_6e74;

/// Options of [`PgStore::connect_with`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PgStoreOptions {
    /// Schema holding the tables (created if missing); `None` uses the role's `search_path`. Lower-case
    /// letters, digits and `_`, starting with a letter or `_`.
    pub schema: Option<String>,
    /// Most connections held at once (8).
    pub pool_size: usize,
    /// Deadline to connect or to get a pooled connection (5 s).
    pub connect_timeout: Duration,
    /// `statement_timeout` of every session (30 s); also bounds waiting for another writer's row lock.
    pub statement_timeout: Duration,
}

impl Default for PgStoreOptions {
    fn default() -> Self {
        Self {
            schema: None,
            pool_size: 8,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
        }
    }
}

impl PgStoreOptions {
    /// Default options with the tables in `schema`.
    #[must_use]
    pub fn with_schema(schema: impl Into<String>) -> Self {
        Self { schema: Some(schema.into()), ..Self::default() }
    }
}

fn valid_schema(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= 63
        && chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A [`Store`] in PostgreSQL (see the crate docs). Cloning is cheap; clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    url: Arc<ConnectionString>,
    schema: Option<Arc<str>>,
    label: Arc<str>,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.url.redacted())
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// Names the store and the operation in error messages.
struct Ctx<'a> {
    store: &'a PgStore,
    op: &'static str,
}

impl Ctx<'_> {
    fn db(&self, e: tokio_postgres::Error) -> Error {
        let (kind, what) = classify(&e);
        let detail = e.as_db_error().map(|d| self.store.url.scrub(d.message()));
        let msg = match detail {
            Some(d) => format!("postgres store {}: {}: {what}: {d}", self.store.label, self.op),
            None => format!("postgres store {}: {}: {what}", self.store.label, self.op),
        };
        Error::new(kind, msg).with_source(e)
    }

    fn pool(&self, e: PoolError) -> Error {
        match e {
            PoolError::Backend(e) => self.db(e),
            PoolError::Timeout(t) => Error::timeout(format!(
                "postgres store {}: {}: no pooled connection in time ({t:?})",
                self.store.label, self.op
            )),
            other => Error::unavailable(format!(
                "postgres store {}: {}: connection pool unavailable",
                self.store.label, self.op
            ))
            .with_source(other),
        }
    }
}

impl Label for Ctx<'_> {
    fn internal(&self, what: impl fmt::Display) -> Error {
        Error::internal(format!("postgres store {}: {}: {what}", self.store.label, self.op))
    }
}

fn col<'a, T: tokio_postgres::types::FromSql<'a>>(ctx: &Ctx<'_>, row: &'a Row, i: usize) -> Result<T> {
    row.try_get(i).map_err(|e| ctx.internal(format_args!("unexpected column {i}")).with_source(e))
}

impl PgStore {
    /// The schema version this build writes (the highest migration).
    pub const SCHEMA_VERSION: u32 = 4;

    /// Connect with default [`PgStoreOptions`] and run pending migrations.
    ///
    /// # Errors
    /// As [`PgStore::connect_with`].
    pub async fn connect(url: &ConnectionString) -> Result<Self> {
        Self::connect_with(url, PgStoreOptions::default()).await
    }

    /// Connect (checking that the server is reachable), create the schema if needed and run pending
    /// migrations.
    ///
    /// # Errors
    /// `InvalidInput` for a bad schema name, `Unavailable`/`Timeout`/`PermissionDenied` when the server
    /// cannot be used, `PreconditionFailed` when the schema was written by a newer build.
    pub async fn connect_with(url: &ConnectionString, options: PgStoreOptions) -> Result<Self> {
        if let Some(s) = &options.schema
            && !valid_schema(s)
        {
            return Err(Error::invalid_input(format!(
                "postgres store schema {s:?}: use lower-case letters, digits and _ (at most 63)"
            )));
        }
        let mut config = url.config().clone();
        config.application_name("incident-core store");
        config.connect_timeout(options.connect_timeout);
        let mut session = config.get_options().map(str::to_owned).unwrap_or_default();
        let timeout_ms = millis(options.statement_timeout);
        session.push_str(&format!(
            " -c statement_timeout={timeout_ms} -c idle_in_transaction_session_timeout={}",
            timeout_ms.saturating_mul(2)
        ));
        if let Some(s) = &options.schema {
            session.push_str(&format!(" -c search_path={s}"));
        }
        config.options(session.trim());
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let label: Arc<str> = match &options.schema {
            Some(s) => format!("{url} (schema {s})").into(),
            None => url.redacted().into(),
        };
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.connect_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|e| Error::internal(format!("postgres store {label}: cannot build the pool")).with_source(e))?;
        let store = Self { pool, url: Arc::new(url.clone()), schema: options.schema.map(Into::into), label };
        store.migrate().await?;
        Ok(store)
    }

    /// The schema holding the tables, when one was chosen.
    #[must_use]
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// Where the store lives, redacted (`postgres://user:***@host:port/db`).
    #[must_use]
    pub fn url(&self) -> &ConnectionString {
        &self.url
    }

    fn ctx(&self, op: &'static str) -> Ctx<'_> {
        Ctx { store: self, op }
    }

    async fn client(&self, ctx: &Ctx<'_>) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| ctx.pool(e))
    }

    async fn migrate(&self) -> Result<()> {
        let ctx = self.ctx("migrate");
        let mut client = self.client(&ctx).await?;
        let tx = client.transaction().await.map_err(|e| ctx.db(e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(|e| ctx.db(e))?;
        if let Some(s) = &self.schema {
            // Validated: lower-case identifier characters only.
            tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {s}")).await.map_err(|e| ctx.db(e))?;
        }
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, \
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await
        .map_err(|e| ctx.db(e))?;
        let row = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[])
            .await
            .map_err(|e| ctx.db(e))?;
        let current: i32 = col(&ctx, &row, 0)?;
        let current = i64::from(current);
        if current > i64::from(Self::SCHEMA_VERSION) {
            return Err(Error::precondition(format!(
                "postgres store {}: schema version {current} is newer than this build supports ({}); upgrade incident-core",
                self.label,
                Self::SCHEMA_VERSION
            )));
        }
        for m in MIGRATIONS.iter().filter(|m| i64::from(m.version) > current) {
            tx.batch_execute(m.sql)
                .await
                .map_err(|e| ctx.db(e).context(format_args!("migration {} ({})", m.version, m.name)))?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                &[&i32::from(m.version), &m.name],
            )
            .await
            .map_err(|e| ctx.db(e))?;
        }
        tx.commit().await.map_err(|e| ctx.db(e))
    }
}

/// Lock a parent row for the rest of the transaction, or `NotFound`.
async fn lock_parent(
    tx: &deadpool_postgres::Transaction<'_>,
    ctx: &Ctx<'_>,
    sql: &str,
    id: &str,
    not_found: fn(&str) -> Error,
) -> Result<()> {
    let found = tx.query_opt(sql, &[&id]).await.map_err(|e| ctx.db(e))?;
    found.map(|_| ()).ok_or_else(|| not_found(id))
}

/// `NotFound` unless the incident is stored (without locking it).
async fn lock_free_parent(tx: &deadpool_postgres::Transaction<'_>, ctx: &Ctx<'_>, incident_id: &str) -> Result<()> {
    lock_parent(tx, ctx, HAS_INCIDENT, incident_id, incident_not_found).await
}

const LOCK_INCIDENT: &str = "SELECT 1 FROM incidents WHERE id = $1 FOR NO KEY UPDATE";
const LOCK_RUN: &str = "SELECT 1 FROM runs WHERE run_id = $1 FOR NO KEY UPDATE";
const HAS_INCIDENT: &str = "SELECT 1 FROM incidents WHERE id = $1";
const HAS_RUN: &str = "SELECT 1 FROM runs WHERE run_id = $1";

const RUN_COLUMNS: &str = "run_id, incident_id, procedure, plan::text, approval::text, status, created_at, updated_at";
const JOURNAL_COLUMNS: &str = "seq, step_id, phase, attempt, owner, at, detail::text, prev_hash, hash";

/// A `runs` row ([`RUN_COLUMNS`]).
fn run_from_row(ctx: &Ctx<'_>, r: &Row) -> Result<RunRecord> {
    RunRow {
        run_id: col(ctx, r, 0)?,
        incident_id: col(ctx, r, 1)?,
        procedure: col(ctx, r, 2)?,
        plan: col(ctx, r, 3)?,
        approval: col(ctx, r, 4)?,
        status: col(ctx, r, 5)?,
        created_at: col(ctx, r, 6)?,
        updated_at: col(ctx, r, 7)?,
    }
    .into_record(ctx)
}

/// A `journal` row ([`JOURNAL_COLUMNS`]) of `run_id`.
fn journal_from_row(ctx: &Ctx<'_>, run_id: &str, r: &Row) -> Result<JournalEntry> {
    JournalRow {
        seq: col(ctx, r, 0)?,
        step_id: col(ctx, r, 1)?,
        phase: col(ctx, r, 2)?,
        attempt: col(ctx, r, 3)?,
        owner: col(ctx, r, 4)?,
        at: col(ctx, r, 5)?,
        detail: col(ctx, r, 6)?,
        prev_hash: col(ctx, r, 7)?,
        hash: col(ctx, r, 8)?,
    }
    .into_entry(run_id)
}

async fn event_rows<C: GenericClient>(client: &C, ctx: &Ctx<'_>, incident_id: &str) -> Result<Vec<(u64, Event)>> {
    let rows = client
        .query("SELECT seq, json::text FROM events WHERE incident_id = $1 ORDER BY seq", &[&incident_id])
        .await
        .map_err(|e| ctx.db(e))?;
    rows.iter().map(|r| event_row(incident_id, col(ctx, r, 0)?, &col::<String>(ctx, r, 1)?)).collect()
}

async fn journal_rows<C: GenericClient>(client: &C, ctx: &Ctx<'_>, run_id: &str) -> Result<Vec<JournalEntry>> {
    let rows = client
        .query(&format!("SELECT {JOURNAL_COLUMNS} FROM journal WHERE run_id = $1 ORDER BY seq"), &[&run_id])
        .await
        .map_err(|e| ctx.db(e))?;
    rows.iter().map(|r| journal_from_row(ctx, run_id, r)).collect()
}

async fn insert_event<C: GenericClient>(
    client: &C,
    ctx: &Ctx<'_>,
    incident_id: &str,
    row: u64,
    ev: &Event,
) -> Result<()> {
    let json = crate::codec::to_json(ev, "event")?;
    client
        .execute(
            "INSERT INTO events (incident_id, seq, json, prev_hash, hash) VALUES ($1, $2, $3::text::json, $4, $5)",
            &[&incident_id, &crate::codec::to_i64(row, "event seq")?, &json, &ev.prev_hash, &ev.hash],
        )
        .await
        .map_err(|e| ctx.db(e))?;
    Ok(())
}

async fn insert_journal<C: GenericClient>(client: &C, ctx: &Ctx<'_>, entry: &JournalEntry) -> Result<()> {
    let row = JournalRow::new(entry)?;
    client
        .execute(
            "INSERT INTO journal (run_id, seq, step_id, phase, attempt, owner, at, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::json, $9, $10)",
            &[
                &entry.draft.run_id,
                &row.seq,
                &row.step_id,
                &row.phase,
                &row.attempt,
                &row.owner,
                &row.at,
                &row.detail,
                &row.prev_hash,
                &row.hash,
            ],
        )
        .await
        .map_err(|e| ctx.db(e))?;
    Ok(())
}

/// Record the newest link of a chain (in the append's transaction).
async fn record_head<C: GenericClient>(
    client: &C,
    ctx: &Ctx<'_>,
    chain: &str,
    id: &str,
    seq: u64,
    hash: &str,
) -> Result<()> {
    let seq = crate::codec::to_i64(seq, "head seq")?;
    client
        .execute(
            "INSERT INTO heads (chain, id, seq, hash) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (chain, id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            &[&chain, &id, &seq, &hash],
        )
        .await
        .map_err(|e| ctx.db(e))?;
    Ok(())
}

/// The recorded head of a chain, if any.
async fn recorded_head<C: GenericClient>(client: &C, ctx: &Ctx<'_>, chain: &str, id: &str) -> Result<RecordedHead> {
    let row = client
        .query_opt("SELECT seq, hash FROM heads WHERE chain = $1 AND id = $2", &[&chain, &id])
        .await
        .map_err(|e| ctx.db(e))?;
    row.map(|r| crate::codec::recorded_head(chain, id, col(ctx, &r, 0)?, col(ctx, &r, 1)?)).transpose()
}

/// Insert or replace an incident's row (in the caller's transaction, if any).
async fn upsert_incident<C: GenericClient>(client: &C, ctx: &Ctx<'_>, row: &IncidentRow) -> Result<()> {
    client
        .execute(
            "INSERT INTO incidents (id, json, declared_at, open) \
             VALUES ($1, $2::text::json, $3, ($2::text::json->>'status') IS DISTINCT FROM 'resolved') \
             ON CONFLICT (id) DO UPDATE SET json = excluded.json, declared_at = excluded.declared_at, \
             open = excluded.open",
            &[&row.id, &row.json, &row.declared_at],
        )
        .await
        .map_err(|e| ctx.db(e))?;
    Ok(())
}

const EVIDENCE_COLUMNS: &str = "name, media_type, sha256, captured_at, content";

/// An `evidence` row ([`EVIDENCE_COLUMNS`]) of `incident_id`, its content checked against its hash.
fn evidence_from_row(ctx: &Ctx<'_>, incident_id: &str, r: &Row) -> Result<EvidenceItem> {
    EvidenceRow {
        name: col(ctx, r, 0)?,
        media_type: col(ctx, r, 1)?,
        sha256: col(ctx, r, 2)?,
        captured_at: col(ctx, r, 3)?,
        content: col(ctx, r, 4)?,
    }
    .into_item(incident_id)
}

/// The incident a batched write touches (the order [`PgStore::write_batch`] locks them in).
fn write_incident(w: &StoreWrite) -> &str {
    match w {
        StoreWrite::SaveIncident(incident) => &incident.id,
        StoreWrite::AppendEvents { incident_id, .. } => incident_id,
    }
}

/// Append `events` inside the caller's transaction (see [`check_event_append`]): the incident's row is
/// locked first, so appenders of one incident queue behind each other and the head read is the head
/// extended.
async fn append_events_in(
    tx: &deadpool_postgres::Transaction<'_>,
    ctx: &Ctx<'_>,
    incident_id: &str,
    events: &[Event],
) -> Result<()> {
    lock_parent(tx, ctx, LOCK_INCIDENT, incident_id, incident_not_found).await?;
    let head = tx
        .query_opt(
            "SELECT seq, json::text FROM events WHERE incident_id = $1 ORDER BY seq DESC LIMIT 1",
            &[&incident_id],
        )
        .await
        .map_err(|e| ctx.db(e))?;
    let head = match head {
        Some(r) => Some(parse_event(incident_id, col(ctx, &r, 0)?, &col::<String>(ctx, &r, 1)?)?),
        None => None,
    };
    check_event_append(incident_id, head.as_ref(), events)?;
    for ev in events {
        insert_event(&**tx, ctx, incident_id, ev.seq, ev).await?;
    }
    if let Some(last) = events.last() {
        record_head(&**tx, ctx, TIMELINE_CHAIN, incident_id, last.seq, &last.hash).await?;
    }
    ha::claim_group(tx, ctx, incident_id, events).await
}

impl PgStore {
    /// A consistent read-only snapshot transaction.
    async fn snapshot<'c>(
        client: &'c mut deadpool_postgres::Object,
        ctx: &Ctx<'_>,
    ) -> Result<deadpool_postgres::Transaction<'c>> {
        client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(|e| ctx.db(e))
    }
}

#[async_trait::async_trait]
impl Store for PgStore {
    async fn save_incident(&self, incident: &Incident) -> Result<()> {
        let row = IncidentRow::new(incident)?;
        let ctx = self.ctx("save_incident");
        let client = self.client(&ctx).await?;
        upsert_incident(&**client, &ctx, &row).await
    }

    async fn incident(&self, id: &str) -> Result<Option<Incident>> {
        let ctx = self.ctx("incident");
        let client = self.client(&ctx).await?;
        let row =
            client.query_opt("SELECT json::text FROM incidents WHERE id = $1", &[&id]).await.map_err(|e| ctx.db(e))?;
        row.map(|r| parse_incident(&ctx, &col::<String>(&ctx, &r, 0)?)).transpose()
    }

    async fn incidents(&self) -> Result<Vec<Incident>> {
        let ctx = self.ctx("incidents");
        let client = self.client(&ctx).await?;
        let rows = client
            .query("SELECT json::text FROM incidents ORDER BY declared_at DESC, id", &[])
            .await
            .map_err(|e| ctx.db(e))?;
        rows.iter().map(|r| parse_incident(&ctx, &col::<String>(&ctx, r, 0)?)).collect()
    }

    async fn append_events(&self, incident_id: &str, events: &[Event]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let ctx = self.ctx("append_events");
        let mut client = self.client(&ctx).await?;
        let tx = client.transaction().await.map_err(|e| ctx.db(e))?;
        append_events_in(&tx, &ctx, incident_id, events).await?;
        tx.commit().await.map_err(|e| ctx.db(e))
    }

    /// One transaction for the whole batch, as the SQLite store: all or nothing, one commit. Each append
    /// locks its incident's row first, so a batch that appends and then saves an incident (a lifecycle
    /// operation, the receiver) can never leave the saved incident behind the timeline it was decided
    /// from, and a conflicting append rolls back every write before it.
    ///
    /// The writes run grouped by incident id (a stable sort: one incident's writes keep their order), so
    /// every batch takes its row locks in the same order: two replicas' batches touching the same
    /// incidents queue instead of deadlocking (which PostgreSQL breaks only after `deadlock_timeout`, as
    /// a failure nobody can re-decide); the loser then finds its head moved (`Conflict`).
    async fn write_batch(&self, writes: &[StoreWrite]) -> Result<()> {
        let mut writes: Vec<&StoreWrite> = writes
            .iter()
            .filter(|w| !matches!(w, StoreWrite::AppendEvents { events, .. } if events.is_empty()))
            .collect();
        writes.sort_by(|a, b| write_incident(a).cmp(write_incident(b)));
        if writes.is_empty() {
            return Ok(());
        }
        let ctx = self.ctx("write_batch");
        let mut client = self.client(&ctx).await?;
        let tx = client.transaction().await.map_err(|e| ctx.db(e))?;
        for w in writes {
            match w {
                StoreWrite::SaveIncident(incident) => upsert_incident(&*tx, &ctx, &IncidentRow::new(incident)?).await?,
                StoreWrite::AppendEvents { incident_id, events } => {
                    append_events_in(&tx, &ctx, incident_id, events).await?;
                }
            }
        }
        // Dropping the transaction on an error above rolls it back.
        tx.commit().await.map_err(|e| ctx.db(e))
    }

    /// One transaction that first locks the incident's row: the events, their recorded head and the items.
    async fn add_evidence(&self, incident_id: &str, events: &[Event], items: &[EvidenceItem]) -> Result<()> {
        let ctx = self.ctx("add_evidence");
        let mut client = self.client(&ctx).await?;
        let tx = client.transaction().await.map_err(|e| ctx.db(e))?;
        lock_parent(&tx, &ctx, LOCK_INCIDENT, incident_id, incident_not_found).await?;
        let head = tx
            .query_opt(
                "SELECT seq, json::text FROM events WHERE incident_id = $1 ORDER BY seq DESC LIMIT 1",
                &[&incident_id],
            )
            .await
            .map_err(|e| ctx.db(e))?;
        let head = match head {
            Some(r) => Some(parse_event(incident_id, col(&ctx, &r, 0)?, &col::<String>(&ctx, &r, 1)?)?),
            None => None,
        };
        let names: Vec<String> = tx
            .query("SELECT name FROM evidence WHERE incident_id = $1", &[&incident_id])
            .await
            .map_err(|e| ctx.db(e))?
            .iter()
            .map(|r| col(&ctx, r, 0))
            .collect::<Result<_>>()?;
        incident_core::store::check_evidence_add(incident_id, head.as_ref(), events, items, &|n| {
            names.iter().any(|s| s == n)
        })?;
        append_events_in(&tx, &ctx, incident_id, events).await?;
        for item in items {
            let row = EvidenceRow::new(item);
            tx.execute(
                &format!("INSERT INTO evidence (incident_id, {EVIDENCE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
                &[&incident_id, &row.name, &row.media_type, &row.sha256, &row.captured_at, &row.content],
            )
            .await
            .map_err(|e| ctx.db(e))?;
        }
        tx.commit().await.map_err(|e| ctx.db(e))
    }

    async fn evidence(&self, incident_id: &str) -> Result<Vec<EvidenceInfo>> {
        let ctx = self.ctx("evidence");
        let mut client = self.client(&ctx).await?;
        let tx = Self::snapshot(&mut client, &ctx).await?;
        lock_free_parent(&tx, &ctx, incident_id).await?;
        let rows = tx
            .query(
                "SELECT name, media_type, sha256, captured_at, octet_length(content)::bigint FROM evidence \
                 WHERE incident_id = $1 ORDER BY name",
                &[&incident_id],
            )
            .await
            .map_err(|e| ctx.db(e))?;
        rows.iter()
            .map(|r| {
                crate::codec::evidence_info(
                    incident_id,
                    col(&ctx, r, 0)?,
                    col(&ctx, r, 1)?,
                    col(&ctx, r, 2)?,
                    &col::<String>(&ctx, r, 3)?,
                    col(&ctx, r, 4)?,
                )
            })
            .collect()
    }

    async fn evidence_item(&self, incident_id: &str, name: &str) -> Result<Option<EvidenceItem>> {
        let ctx = self.ctx("evidence_item");
        let mut client = self.client(&ctx).await?;
        let tx = Self::snapshot(&mut client, &ctx).await?;
        lock_free_parent(&tx, &ctx, incident_id).await?;
        let row = tx
            .query_opt(
                &format!("SELECT {EVIDENCE_COLUMNS} FROM evidence WHERE incident_id = $1 AND name = $2"),
                &[&incident_id, &name],
            )
            .await
            .map_err(|e| ctx.db(e))?;
        row.map(|r| evidence_from_row(&ctx, incident_id, &r)).transpose()
    }

    /// The decision runs inside one transaction that first locks the incident's row (`FOR UPDATE`):
    /// appenders of the incident queue behind it, so a continuous writer cannot starve it.
    async fn update_incident(
        &self,
        incident_id: &str,
        mut update: Box<IncidentUpdate>,
    ) -> Result<Option<IncidentUpdated>> {
        let ctx = self.ctx("update_incident");
        let mut client = self.client(&ctx).await?;
        let tx = client.transaction().await.map_err(|e| ctx.db(e))?;
        let row = tx
            .query_opt("SELECT json::text FROM incidents WHERE id = $1 FOR UPDATE", &[&incident_id])
            .await
            .map_err(|e| ctx.db(e))?;
        let Some(row) = row else { return Err(incident_not_found(incident_id)) };
        let mut incident = parse_incident(&ctx, &col::<String>(&ctx, &row, 0)?)?;
        let events = event_rows(&*tx, &ctx, incident_id).await?.into_iter().map(|(_, ev)| ev).collect();
        let head = recorded_head(&*tx, &ctx, TIMELINE_CHAIN, incident_id).await?;
        let mut timeline = verified_timeline(incident_id, events, head.as_ref())?;
        let before = timeline.len();
        // Dropping the transaction (no decision, an error) rolls it back.
        if !update(&mut incident, &mut timeline)? {
            return Ok(None);
        }
        let events = timeline.events()[before..].to_vec();
        append_events_in(&tx, &ctx, incident_id, &events).await?;
        upsert_incident(&*tx, &ctx, &IncidentRow::new(&incident)?).await?;
        tx.commit().await.map_err(|e| ctx.db(e))?;
        Ok(Some(IncidentUpdated { incident, events, attempts: 1 }))
    }

    async fn open_groups(&self) -> Result<Vec<(String, String)>> {
        self.ha_open_groups().await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<u64>> {
        self.ha_acquire_lease(name, holder, now, until).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        self.ha_release_lease(name, holder).await
    }

    async fn record_notification_key(
        &self,
        key: &str,
        at: DateTime<Utc>,
        fence: Option<&incident_core::store::LeaseFence>,
    ) -> Result<bool> {
        self.ha_record_notification_key(key, at, fence).await
    }

    async fn timeline(&self, incident_id: &str) -> Result<Timeline> {
        let ctx = self.ctx("timeline");
        let mut client = self.client(&ctx).await?;
        let tx = Self::snapshot(&mut client, &ctx).await?;
        lock_parent(&tx, &ctx, HAS_INCIDENT, incident_id, incident_not_found).await?;
        let events = event_rows(&*tx, &ctx, incident_id).await?.into_iter().map(|(_, ev)| ev).collect();
        let head = recorded_head(&*tx, &ctx, TIMELINE_CHAIN, incident_id).await?;
        tx.rollback().await.map_err(|e| ctx.db(e))?;
        verified_timeline(incident_id, events, head.as_ref())
    }

    async fn create_run(&self, run: &RunRecord) -> Result<()> {
        check_run(run)?;
        let ctx = self.ctx("create_run");
        let row = RunRow::new(run)?;
        let client = self.client(&ctx).await?;
        let inserted = client
            .execute(
                &format!(
                    "INSERT INTO runs ({}) VALUES ($1, $2, $3, $4::text::json, $5::text::json, $6, $7, $8) \
                     ON CONFLICT (run_id) DO NOTHING",
                    RUN_COLUMNS.replace("::text", "")
                ),
                &[
                    &row.run_id,
                    &row.incident_id,
                    &row.procedure,
                    &row.plan,
                    &row.approval,
                    &row.status,
                    &row.created_at,
                    &row.updated_at,
                ],
            )
            .await
            .map_err(|e| ctx.db(e))?;
        if inserted == 0 {
            return Err(run_exists(&run.run_id));
        }
        Ok(())
    }

    async fn update_run(&self, run: &RunRecord) -> Result<()> {
        let ctx = self.ctx("update_run");
        let approval = approval_json(run)?;
        let client = self.client(&ctx).await?;
        let changed = client
            .execute(
                "UPDATE runs SET status = $2, approval = $3::text::json, updated_at = $4 WHERE run_id = $1",
                &[&run.run_id, &run.status.as_str(), &approval, &canonical_timestamp(run.updated_at)],
            )
            .await
            .map_err(|e| ctx.db(e))?;
        if changed == 0 {
            return Err(run_not_found(&run.run_id));
        }
        Ok(())
    }

    async fn run(&self, run_id: &str) -> Result<Option<RunRecord>> {
        let ctx = self.ctx("run");
        let client = self.client(&ctx).await?;
        let row = client
            .query_opt(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_id = $1"), &[&run_id])
            .await
            .map_err(|e| ctx.db(e))?;
        row.map(|r| run_from_row(&ctx, &r)).transpose()
    }

    async fn runs(&self) -> Result<Vec<RunRecord>> {
        let ctx = self.ctx("runs");
        let client = self.client(&ctx).await?;
        let rows = client
            .query(&format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY created_at DESC, run_id"), &[])
            .await
            .map_err(|e| ctx.db(e))?;
        rows.iter().map(|r| run_from_row(&ctx, r)).collect()
    }

    async fn take_over_claims(&self, run_id: &str, owner: &str) -> Result<u64> {
        check_take_over(owner)?;
        let ctx = self.ctx("take_over_claims");
        let client = self.client(&ctx).await?;
        if client.query_opt(HAS_RUN, &[&run_id]).await.map_err(|e| ctx.db(e))?.is_none() {
            return Err(run_not_found(run_id));
        }
        client
            .execute("UPDATE step_claims SET owner = $1 WHERE run_id = $2", &[&owner, &run_id])
            .await
            .map_err(|e| ctx.db(e))
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
        let ctx = self.ctx("claim_step");
        let client = self.client(&ctx).await?;
        if client.query_opt(HAS_RUN, &[&run_id]).await.map_err(|e| ctx.db(e))?.is_none() {
            return Err(run_not_found(run_id));
        }
        // One atomic statement: insert, or take over / extend when `may_claim` allows it.
        let claimed = client
            .execute(
                "INSERT INTO step_claims (run_id, step_id, owner, lease_until) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (run_id, step_id) DO UPDATE \
                 SET owner = excluded.owner, lease_until = excluded.lease_until \
                 WHERE step_claims.owner = excluded.owner OR step_claims.lease_until <= $5",
                &[&run_id, &step_id, &owner, &canonical_timestamp(lease_until), &canonical_timestamp(now)],
            )
            .await
            .map_err(|e| ctx.db(e))?;
        Ok(claimed == 1)
    }

    async fn append_journal(&self, draft: JournalDraft) -> Result<JournalEntry> {
        check_journal_draft(&draft)?;
        let ctx = self.ctx("append_journal");
        let mut client = self.client(&ctx).await?;
        let tx = client.transaction().await.map_err(|e| ctx.db(e))?;
        lock_parent(&tx, &ctx, LOCK_RUN, &draft.run_id, run_not_found).await?;
        let dup = tx
            .query_opt(
                "SELECT seq FROM journal WHERE run_id = $1 AND step_id = $2 AND phase = $3 AND attempt = $4",
                &[&draft.run_id, &draft.step_id, &draft.phase.as_str(), &i64::from(draft.attempt)],
            )
            .await
            .map_err(|e| ctx.db(e))?;
        if let Some(r) = dup {
            let seq: i64 = col(&ctx, &r, 0)?;
            return Err(duplicate_journal_entry(&draft, u64::try_from(seq).unwrap_or_default()));
        }
        let head = tx
            .query_opt("SELECT seq, hash FROM journal WHERE run_id = $1 ORDER BY seq DESC LIMIT 1", &[&draft.run_id])
            .await
            .map_err(|e| ctx.db(e))?;
        let head = match head {
            Some(r) => Some((col::<i64>(&ctx, &r, 0)?, col::<String>(&ctx, &r, 1)?)),
            None => None,
        };
        let (seq, prev_hash) = next_journal_link(&draft.run_id, head)?;
        let entry = JournalEntry::new(seq, draft, prev_hash);
        insert_journal(&*tx, &ctx, &entry).await?;
        record_head(&*tx, &ctx, JOURNAL_CHAIN, &entry.draft.run_id, entry.seq, &entry.hash).await?;
        tx.commit().await.map_err(|e| ctx.db(e))?;
        Ok(entry)
    }

    async fn journal(&self, run_id: &str) -> Result<Vec<JournalEntry>> {
        let ctx = self.ctx("journal");
        let mut client = self.client(&ctx).await?;
        let tx = Self::snapshot(&mut client, &ctx).await?;
        lock_parent(&tx, &ctx, HAS_RUN, run_id, run_not_found).await?;
        let entries = journal_rows(&*tx, &ctx, run_id).await?;
        let head = recorded_head(&*tx, &ctx, JOURNAL_CHAIN, run_id).await?;
        tx.rollback().await.map_err(|e| ctx.db(e))?;
        verified_journal(run_id, entries, head.as_ref())
    }
}

/// Raw row access for the conformance suite's tamper checks. **Bypasses every rule of [`Store`]**; use
/// it only in tests.
#[async_trait::async_trait]
impl RawAccess for PgStore {
    async fn raw_events(&self, incident_id: &str) -> Result<Vec<(u64, Event)>> {
        let ctx = self.ctx("raw_events");
        let client = self.client(&ctx).await?;
        event_rows(&**client, &ctx, incident_id).await
    }

    async fn put_raw_events(&self, incident_id: &str, rows: Vec<(u64, Event)>) -> Result<()> {
        let ctx = self.ctx("put_raw_events");
        let mut client = self.client(&ctx).await?;
        let tx = client.transaction().await.map_err(|e| ctx.db(e))?;
        tx.execute("DELETE FROM events WHERE incident_id = $1", &[&incident_id]).await.map_err(|e| ctx.db(e))?;
        for (row, ev) in &rows {
            insert_event(&*tx, &ctx, incident_id, *row, ev).await?;
        }
        tx.commit().await.map_err(|e| ctx.db(e))
    }

    async fn raw_journal(&self, run_id: &str) -> Result<Vec<JournalEntry>> {
        let ctx = self.ctx("raw_journal");
        let client = self.client(&ctx).await?;
        journal_rows(&**client, &ctx, run_id).await
    }

    async fn put_raw_journal(&self, run_id: &str, entries: Vec<JournalEntry>) -> Result<()> {
        let ctx = self.ctx("put_raw_journal");
        let mut client = self.client(&ctx).await?;
        let tx = client.transaction().await.map_err(|e| ctx.db(e))?;
        tx.execute("DELETE FROM journal WHERE run_id = $1", &[&run_id]).await.map_err(|e| ctx.db(e))?;
        for entry in &entries {
            insert_journal(&*tx, &ctx, entry).await?;
        }
        tx.commit().await.map_err(|e| ctx.db(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_from_one_without_gaps() {
        for (i, m) in (1..).zip(MIGRATIONS) {
            assert_eq!(m.version, i, "migration {}", m.name);
        }
        assert_eq!(MIGRATIONS.last().map(|m| u32::from(m.version)), Some(PgStore::SCHEMA_VERSION));
    }

    #[test]
    fn schema_names() {
        assert!(valid_schema("team_a"));
        assert!(valid_schema("_x1"));
        assert!(!valid_schema("Team"));
        assert!(!valid_schema("1x"));
        assert!(!valid_schema("a;drop"));
        assert!(!valid_schema(""));
    }
}
