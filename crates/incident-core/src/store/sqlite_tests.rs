//! Unit tests of the SQLite store internals (the behaviour is covered by the conformance suite).

use super::*;

#[test]
fn migrations_are_numbered_from_one_without_gaps() {
    for (i, m) in MIGRATIONS.iter().enumerate() {
        assert_eq!(usize::try_from(m.version).expect("small"), i + 1, "migration {}", m.name);
    }
    assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(SqliteStore::SCHEMA_VERSION));
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
