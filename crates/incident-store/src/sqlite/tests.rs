//! Unit tests of the SQLite store internals (the behaviour is covered by the conformance suite).

use super::*;

#[test]
fn migrations_are_numbered_from_one_without_gaps() {
    for (i, m) in MIGRATIONS.iter().enumerate() {
        assert_eq!(usize::from(m.version), i + 1, "migration {}", m.name);
    }
    assert_eq!(MIGRATIONS.last().map(|m| u32::from(m.version)), Some(SqliteStore::SCHEMA_VERSION));
}

#[test]
fn open_configures_the_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    let store = SqliteStore::open(&path).expect("open");
    assert_eq!(store.path(), path.display().to_string());
    let conn = store.conn.lock().expect("lock");
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("journal_mode");
    assert_eq!(mode, "wal");
    let fk: i64 = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).expect("foreign_keys");
    assert_eq!(fk, 1);
    let sync: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).expect("synchronous");
    assert_eq!(sync, 2, "FULL");
    let versions: Vec<(i64, String)> = conn
        .prepare("SELECT version, name FROM schema_migrations ORDER BY version")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows");
    assert_eq!(versions.len(), MIGRATIONS.len());
    assert_eq!(versions[0].0, 1);
}

#[test]
fn reopening_does_not_rerun_migrations_and_newer_schemas_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    drop(SqliteStore::open(&path).expect("first open"));
    drop(SqliteStore::open(&path).expect("second open"));
    let conn = Connection::open(&path).expect("raw");
    conn.execute("INSERT INTO schema_migrations (version, name) VALUES (99, 'from the future')", []).expect("insert");
    drop(conn);
    let err = SqliteStore::open(&path).expect_err("newer schema");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    assert!(err.message().contains("schema version 99 is newer"), "{err}");
    assert!(err.message().contains(&path.display().to_string()), "{err}");
}

#[test]
fn error_mapping() {
    let ctx = Ctx { label: "/tmp/x.db".into(), op: "append_journal" };
    let busy = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY), None);
    let err = ctx.sql(busy);
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.is_retryable());
    assert_eq!(
        err.message(),
        "sqlite store /tmp/x.db: append_journal: database busy or locked by another writer (retry)"
    );
    assert!(std::error::Error::source(&err).is_some());
    let corrupt = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_NOTADB), None);
    assert_eq!(ctx.sql(corrupt).kind(), ErrorKind::Integrity);
    let other = rusqlite::Error::InvalidQuery;
    assert_eq!(ctx.sql(other).kind(), ErrorKind::Internal);
}

#[tokio::test]
async fn write_batch_is_one_transaction() {
    use chrono::TimeZone;
    use incident_core::incident::{DeclareRequest, Incident};
    use incident_core::timeline::EventKind;

    let store = SqliteStore::open_in_memory().expect("open");
    let at = Utc.with_ymd_and_hms(2026, 11, 26, 14, 0, 0).single().expect("time");
    let declare = |id: &str| {
        let req = DeclareRequest {
            id: id.into(),
            title: "t".into(),
            severity: incident_core::Severity::P1,
            components: vec![],
            impact: String::new(),
            customer_facing: true,
            customers_affected: false,
            on_call: "alice".into(),
            commander: None,
            started_at: None,
            detected_at: None,
            detection_source: None,
        };
        Incident::declare(req, &incident_core::Policy::default(), at).expect("declare")
    };
    let (a, ta) = declare("INC-A");
    let (b, mut tb) = declare("INC-B");
    let batch = vec![
        StoreWrite::SaveIncident(a.clone()),
        StoreWrite::AppendEvents { incident_id: a.id.clone(), events: ta.events().to_vec() },
        StoreWrite::SaveIncident(b.clone()),
        StoreWrite::AppendEvents { incident_id: b.id.clone(), events: tb.events().to_vec() },
    ];
    store.write_batch(&batch).await.expect("batch");
    assert_eq!(store.timeline("INC-B").await.expect("timeline").len(), tb.len());

    // A batch whose last write conflicts (stale seq) leaves nothing behind, not even its first writes.
    let n = tb.len();
    tb.append(at, "bob", EventKind::Note { text: "next".into() }).expect("append");
    let (c, tc) = declare("INC-C");
    let bad = vec![
        StoreWrite::SaveIncident(c.clone()),
        StoreWrite::AppendEvents { incident_id: c.id.clone(), events: tc.events().to_vec() },
        StoreWrite::AppendEvents { incident_id: b.id.clone(), events: tb.events()[n..].to_vec() },
        StoreWrite::AppendEvents { incident_id: b.id.clone(), events: tb.events()[n..].to_vec() },
    ];
    let err = store.write_batch(&bad).await.expect_err("duplicate append");
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(store.incident("INC-C").await.expect("read").is_none(), "rolled back");
    assert_eq!(store.timeline("INC-B").await.expect("timeline").len(), n, "rolled back");
    store.write_batch(&[]).await.expect("empty batch");
}

#[test]
fn a_version_1_file_gets_its_heads_backfilled_then_guards_its_tail() {
    use incident_core::store::{JournalDraft, JournalPhase, RunRecord, RunStatus, Store as _};
    let rt = incident_core::sim::runtime().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v1.db");
    let store = SqliteStore::open(&path).expect("open");
    let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("time");
    rt.block_on(store.create_run(&RunRecord {
        run_id: "r1".into(),
        incident_id: None,
        procedure: "traffic-management".into(),
        plan: serde_json::json!({}),
        approval: None,
        status: RunStatus::Running,
        created_at: at,
        updated_at: at,
    }))
    .expect("run");
    for (step, phase) in [("a", JournalPhase::Intent), ("a", JournalPhase::Outcome), ("b", JournalPhase::Intent)] {
        let draft = JournalDraft {
            run_id: "r1".into(),
            step_id: step.into(),
            phase,
            attempt: 1,
            owner: "test".into(),
            at,
            detail: serde_json::json!({}),
        };
        rt.block_on(store.append_journal(draft)).expect("append");
    }
    drop(store);
    // What a file written before migration 2 looks like: no heads (and no evidence table, migration 3).
    let conn = Connection::open(&path).expect("raw");
    conn.execute_batch("DROP TABLE heads; DROP TABLE evidence; DELETE FROM schema_migrations WHERE version >= 2;")
        .expect("downgrade");
    drop(conn);
    let store = SqliteStore::open(&path).expect("migrates to 2");
    assert_eq!(rt.block_on(store.journal("r1")).expect("backfilled head").len(), 3);
    drop(store);
    let conn = Connection::open(&path).expect("raw");
    conn.execute("DELETE FROM journal WHERE run_id = 'r1' AND seq = 2", []).expect("cut the tail");
    drop(conn);
    let store = SqliteStore::open(&path).expect("open");
    let err = rt.block_on(store.journal("r1")).expect_err("truncated");
    assert_eq!(err.kind(), ErrorKind::Integrity);
    assert_eq!(
        err.message(),
        "journal of run r1: the newest entry is #1 but the recorded head is #2 (dropped from the end?)"
    );
}

#[tokio::test]
async fn sqlite_in_memory_store_conformance() {
    use incident_core::store::conformance;
    let store = SqliteStore::open_in_memory().expect("open");
    conformance::run_all(&store).await.unwrap_or_else(|e| panic!("{e}"));
    conformance::run_tamper(&store, &store).await.unwrap_or_else(|e| panic!("{e}"));
}
