//! Every store passes the same conformance suite; the SQLite store is also checked against raw SQL
//! tampering, lock contention, bad files, and two OS processes racing over one journal.

use incident_core::store::{MemoryStore, conformance};

#[tokio::test]
async fn memory_store_passes_conformance() {
    let store = MemoryStore::new();
    conformance::run_all(&store).await.unwrap_or_else(|e| panic!("{e}"));
    conformance::run_tamper(&store, &store).await.unwrap_or_else(|e| panic!("{e}"));
}

#[cfg(feature = "sqlite")]
#[path = "common/race.rs"]
mod race;

/// The SQLite store (feature `sqlite`).
#[cfg(feature = "sqlite")]
mod sqlite {
    use super::race;
    use std::path::PathBuf;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    use chrono::{DateTime, TimeDelta, Utc};
    use incident_core::incident::{DeclareRequest, Incident};
    use incident_core::store::{JournalDraft, JournalPhase, RunRecord, RunStatus, Store, conformance};
    use incident_core::timeline::{EventKind, Timeline};
    use incident_core::{ErrorKind, Policy, Severity};
    use incident_store::SqliteStore;
    use rusqlite::Connection;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(1_795_701_600_000_000_000)
    }

    fn at(secs: i64) -> DateTime<Utc> {
        t0() + TimeDelta::seconds(secs)
    }

    fn run_record(run_id: &str) -> RunRecord {
        RunRecord {
            run_id: run_id.to_owned(),
            incident_id: None,
            procedure: "restore-database".to_owned(),
            plan: serde_json::json!({"steps": ["stop-writes", "restore"]}),
            approval: None,
            status: RunStatus::Running,
            created_at: t0(),
            updated_at: t0(),
        }
    }

    fn draft(run_id: &str, step: &str, phase: JournalPhase, owner: &str, secs: i64) -> JournalDraft {
        JournalDraft {
            run_id: run_id.to_owned(),
            step_id: step.to_owned(),
            phase,
            attempt: 1,
            owner: owner.to_owned(),
            at: at(secs),
            detail: serde_json::json!({"phase": phase.as_str()}),
        }
    }

    async fn declared(store: &dyn Store, id: &str, notes: usize) -> Timeline {
        let req = DeclareRequest {
            id: id.to_owned(),
            title: "Primary database unreachable".to_owned(),
            severity: Severity::P0,
            components: vec!["db".to_owned()],
            impact: "all writes failing".to_owned(),
            customer_facing: true,
            customers_affected: true,
            on_call: "alice".to_owned(),
            commander: None,
            started_at: None,
            detected_at: None,
            detection_source: None,
        };
        let (incident, mut timeline) = Incident::declare(req, &Policy::default(), t0()).expect("declare");
        for i in 0..notes {
            let when = timeline.last().map_or_else(t0, |e| e.at) + TimeDelta::seconds(1);
            timeline.append(when, "bob", EventKind::Note { text: format!("note {i}") }).expect("note");
        }
        store.save_incident(&incident).await.expect("save");
        store.append_events(id, timeline.events()).await.expect("append");
        timeline
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_file_store_passes_conformance_and_persists() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("incidents.db");
        let store = SqliteStore::open(&path).expect("open");
        conformance::run_all(&store).await.unwrap_or_else(|e| panic!("{e}"));
        conformance::run_tamper(&store, &store).await.unwrap_or_else(|e| panic!("{e}"));

        let runs = store.runs().await.expect("runs");
        let journal = store.journal("conformance-run-journal").await.expect("journal");
        let incidents = store.incidents().await.expect("incidents");
        drop(store);
        let reopened = SqliteStore::open(&path).expect("reopen");
        assert_eq!(reopened.runs().await.expect("runs"), runs);
        assert_eq!(reopened.journal("conformance-run-journal").await.expect("journal"), journal);
        assert_eq!(reopened.incidents().await.expect("incidents"), incidents);
    }

    #[tokio::test]
    async fn sqlite_in_memory_store_passes_conformance() {
        let store = SqliteStore::open_in_memory().expect("open");
        assert_eq!(store.path(), ":memory:");
        conformance::run_all(&store).await.unwrap_or_else(|e| panic!("{e}"));
        conformance::run_tamper(&store, &store).await.unwrap_or_else(|e| panic!("{e}"));
    }

    /// Edit the file behind the store's back with plain SQL, as someone with shell access would.
    #[tokio::test]
    async fn sqlite_raw_sql_tampering_is_detected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("incidents.db");
        let store = SqliteStore::open(&path).expect("open");
        let timeline = declared(&store, "INC-7", 3).await;
        store.create_run(&run_record("R-7")).await.expect("run");
        for (i, step) in (0i64..).zip(["stop-writes", "snapshot", "restore"]) {
            store.append_journal(draft("R-7", step, JournalPhase::Intent, "exec-a", i)).await.expect("intent");
            store.append_journal(draft("R-7", step, JournalPhase::Outcome, "exec-a", i)).await.expect("outcome");
        }
        let raw = Connection::open(&path).expect("raw connection");
        let sql = |q: &str| raw.execute_batch(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        let timeline_err = async || store.timeline("INC-7").await.expect_err("tampered timeline");
        let journal_err = async || store.journal("R-7").await.expect_err("tampered journal");

        // Timeline: edit one event's JSON.
        sql("UPDATE events SET json = json_set(json, '$.actor', 'mallory') WHERE incident_id = 'INC-7' AND seq = 4");
        let err = timeline_err().await;
        assert_eq!(err.kind(), ErrorKind::Integrity);
        assert_eq!(err.message(), "timeline of INC-7: event #4 hash mismatch (edited?)");
        sql("UPDATE events SET json = json_set(json, '$.actor', 'bob') WHERE incident_id = 'INC-7' AND seq = 4");
        assert_eq!(store.timeline("INC-7").await.expect("restored"), timeline);

        // Unparseable JSON.
        sql("UPDATE events SET json = '{' WHERE incident_id = 'INC-7' AND seq = 2");
        let err = timeline_err().await;
        assert_eq!(err.kind(), ErrorKind::Integrity);
        assert_eq!(err.message(), "timeline of INC-7: event row #2 is not a valid event (edited?)");

        // Drop one and swap two (rows keep their keys, contents move).
        let original: Vec<String> = (1..=6)
            .map(|seq| {
                raw.query_row("SELECT json FROM events WHERE incident_id = 'INC-7' AND seq = ?1", [seq], |r| r.get(0))
                    .unwrap_or_default()
            })
            .collect();
        let restore = |raw: &Connection| {
            let json = serde_json::to_string(&timeline.events()[1]).expect("json");
            raw.execute("UPDATE events SET json = ?1 WHERE incident_id = 'INC-7' AND seq = 2", [json])
                .expect("restore");
        };
        restore(&raw);
        sql("DELETE FROM events WHERE incident_id = 'INC-7' AND seq = 5");
        assert_eq!(timeline_err().await.message(), "timeline of INC-7: event #6 follows #4 (dropped or reordered)");
        raw.execute(
            "INSERT INTO events (incident_id, seq, json, prev_hash, hash) VALUES ('INC-7', 5, ?1, ?2, ?3)",
            [&original[4], &timeline.events()[4].prev_hash, &timeline.events()[4].hash],
        )
        .expect("reinsert");
        raw.execute("UPDATE events SET json = ?1 WHERE incident_id = 'INC-7' AND seq = 3", [&original[3]])
            .expect("swap");
        raw.execute("UPDATE events SET json = ?1 WHERE incident_id = 'INC-7' AND seq = 4", [&original[2]])
            .expect("swap");
        assert_eq!(timeline_err().await.message(), "timeline of INC-7: event #4 follows #2 (dropped or reordered)");

        // Journal: edit an owner, a detail, drop an entry.
        sql("UPDATE journal SET owner = 'exec-mallory' WHERE run_id = 'R-7' AND seq = 3");
        let err = journal_err().await;
        assert_eq!(err.kind(), ErrorKind::Integrity);
        assert_eq!(err.message(), "journal of run R-7: entry #3 hash mismatch (edited?)");
        sql("UPDATE journal SET owner = 'exec-a' WHERE run_id = 'R-7' AND seq = 3");
        store.journal("R-7").await.expect("restored journal");
        sql(r#"UPDATE journal SET detail = '{"phase":"outcome","ok":true}' WHERE run_id = 'R-7' AND seq = 5"#);
        assert_eq!(journal_err().await.message(), "journal of run R-7: entry #5 hash mismatch (edited?)");
        sql("DELETE FROM journal WHERE run_id = 'R-7' AND seq = 2");
        assert_eq!(journal_err().await.message(), "journal of run R-7: entry #2 missing (dropped or reordered)");
        sql("UPDATE journal SET phase = 'maybe' WHERE run_id = 'R-7' AND seq = 0");
        assert_eq!(journal_err().await.message(), "journal of run R-7: entry #0 is unreadable (edited?)");
    }

    #[tokio::test]
    async fn sqlite_lock_contention_is_unavailable_and_retryable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("incidents.db");
        let store = SqliteStore::open(&path).expect("open");
        store.create_run(&run_record("R-1")).await.expect("run");
        store.set_busy_timeout(Duration::from_millis(50)).expect("busy timeout");

        let raw = Connection::open(&path).expect("raw connection");
        raw.execute_batch("BEGIN EXCLUSIVE").expect("lock");
        let err = store.append_journal(draft("R-1", "s1", JournalPhase::Intent, "a", 0)).await.expect_err("locked");
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.is_retryable());
        assert_eq!(
            err.message(),
            format!(
                "sqlite store {}: append_journal: database busy or locked by another writer (retry)",
                path.display()
            )
        );
        assert!(std::error::Error::source(&err).is_some(), "the SQLite error is the source");
        let err = store.claim_step("R-1", "s1", "a", at(0), at(30)).await.expect_err("locked");
        assert_eq!(err.kind(), ErrorKind::Unavailable);

        raw.execute_batch("COMMIT").expect("unlock");
        let entry = store.append_journal(draft("R-1", "s1", JournalPhase::Intent, "a", 0)).await.expect("retry");
        assert_eq!(entry.seq, 0, "the failed attempt left nothing behind");
    }

    #[test]
    fn sqlite_open_errors_name_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("no-such-dir").join("incidents.db");
        let err = SqliteStore::open(&missing).expect_err("missing directory");
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.message().contains(&missing.display().to_string()), "{err}");

        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![0x42; 8192]).expect("write");
        let err = SqliteStore::open(&garbage).expect_err("not a database");
        assert_eq!(err.kind(), ErrorKind::Integrity);
        assert!(err.message().contains(&garbage.display().to_string()), "{err}");
    }

    // ---------------------------------------------------------------------------------------------------
    // Two OS processes racing over one journal.
    // ---------------------------------------------------------------------------------------------------

    /// Database path for a worker; unset in normal runs (the worker test then does nothing).
    const RACE_DB: &str = "INCIDENT_CORE_STORE_RACE_DB";
    /// Owner identity of a worker.
    const RACE_OWNER: &str = "INCIDENT_CORE_STORE_RACE_OWNER";

    /// Worker mode: re-executed by `two_processes_execute_each_step_exactly_once` with the env vars set.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn race_worker() {
        let (Ok(db), Ok(owner)) = (std::env::var(RACE_DB), std::env::var(RACE_OWNER)) else {
            return;
        };
        let db = PathBuf::from(db);
        let store = SqliteStore::open(&db).expect("worker open");
        race::work(&store, db.parent().expect("db dir"), &owner).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_processes_execute_each_step_exactly_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("race.db");
        let store = SqliteStore::open(&db).expect("open");
        store.create_run(&race::run_record()).await.expect("run");
        race::race(dir.path(), |owner| {
            Command::new(std::env::current_exe().expect("current exe"))
                .args(["sqlite::race_worker", "--exact", "--nocapture", "--test-threads", "1"])
                .env(RACE_DB, &db)
                .env(RACE_OWNER, owner)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn worker")
        })
        .await;
        let raw = Connection::open(&db).expect("raw connection");
        let mut stmt = raw.prepare("SELECT step_id, owner FROM step_claims WHERE run_id = ?1").expect("query");
        let claims = stmt
            .query_map([race::RACE_RUN], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("claim rows")
            .collect::<Result<_, _>>()
            .expect("claim rows");
        race::check(&store, dir.path(), &claims).await;
    }
}
