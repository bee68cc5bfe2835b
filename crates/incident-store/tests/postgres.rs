//! The PostgreSQL team store against a real PostgreSQL 15 (`scripts/services start`): the shared
//! conformance suite (behaviour and tamper detection), migrations, two OS processes racing over one
//! journal, and no password in any error.
#![cfg(feature = "postgres")]

mod common;
#[path = "common/race.rs"]
mod race;

use std::fmt::Write as _;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use incident_core::ErrorKind;
use incident_core::store::{Store, conformance};
use incident_datastores::ConnectionString;
use incident_store::{PgStore, PgStoreOptions};

fn unique_schema(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{prefix}_{}_{n}", std::process::id())
}

async fn store_in(url: &ConnectionString, schema: &str) -> PgStore {
    PgStore::connect_with(url, PgStoreOptions::with_schema(schema)).await.unwrap_or_else(|e| panic!("{e}"))
}

async fn drop_schema(url: &ConnectionString, schema: &str) {
    let c = common::connect(url).await;
    let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_passes_conformance() {
    let Some(url) = common::pg_admin_url() else {
        return;
    };
    let schema = unique_schema("conformance");
    let store = store_in(&url, &schema).await;
    assert_eq!(store.schema(), Some(schema.as_str()));
    conformance::run_all(&store).await.unwrap_or_else(|e| panic!("{e}"));
    conformance::run_tamper(&store, &store).await.unwrap_or_else(|e| panic!("{e}"));

    // A second handle (another process would do the same) sees the same data and does not re-migrate.
    let again = store_in(&url, &schema).await;
    assert_eq!(again.runs().await.expect("runs"), store.runs().await.expect("runs"));
    assert_eq!(
        again.journal("conformance-run-journal").await.expect("journal"),
        store.journal("conformance-run-journal").await.expect("journal")
    );
    assert!(format!("{again:?}").starts_with("PgStore"));
    drop_schema(&url, &schema).await;
}

#[tokio::test]
async fn newer_schemas_are_refused_and_bad_schema_names_rejected() {
    let Some(url) = common::pg_admin_url() else {
        return;
    };
    let schema = unique_schema("future");
    drop(store_in(&url, &schema).await);
    let c = common::connect(&url).await;
    c.batch_execute(&format!("INSERT INTO {schema}.schema_migrations (version, name) VALUES (99, 'future')"))
        .await
        .expect("insert");
    let err = PgStore::connect_with(&url, PgStoreOptions::with_schema(&schema)).await.expect_err("newer");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    assert!(err.message().contains("schema version 99 is newer"), "{err}");
    let err = PgStore::connect_with(&url, PgStoreOptions::with_schema("Bad; DROP")).await.expect_err("bad name");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    drop_schema(&url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_openers_migrate_once() {
    let Some(url) = common::pg_admin_url() else {
        return;
    };
    let schema = unique_schema("openers");
    let (a, b, c) = tokio::join!(store_in(&url, &schema), store_in(&url, &schema), store_in(&url, &schema));
    drop((a, b, c));
    let client = common::connect(&url).await;
    let n: i64 =
        client.query_one(&format!("SELECT count(*) FROM {schema}.schema_migrations"), &[]).await.expect("count").get(0);
    assert_eq!(n, i64::from(PgStore::SCHEMA_VERSION));
    drop_schema(&url, &schema).await;
}

// ---- two OS processes racing over one journal -------------------------------------------------------

const RACE_SCHEMA: &str = "INCIDENT_DATASTORES_RACE_SCHEMA";
const RACE_DIR: &str = "INCIDENT_DATASTORES_RACE_DIR";
const RACE_OWNER: &str = "INCIDENT_DATASTORES_RACE_OWNER";

/// The worker: only does something when re-executed by the race test with the env variables set.
#[tokio::test]
async fn race_worker() {
    let (Ok(schema), Ok(dir), Ok(owner)) =
        (std::env::var(RACE_SCHEMA), std::env::var(RACE_DIR), std::env::var(RACE_OWNER))
    else {
        return;
    };
    let Some(url) = common::pg_admin_url() else {
        return;
    };
    race::work(&store_in(&url, &schema).await, &PathBuf::from(dir), &owner).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_execute_each_step_exactly_once() {
    let Some(url) = common::pg_admin_url() else {
        return;
    };
    let schema = unique_schema("race");
    let store = store_in(&url, &schema).await;
    store.create_run(&race::run_record()).await.expect("run");
    let dir = std::env::temp_dir().join(format!("incident-pg-race-{schema}"));
    std::fs::create_dir_all(&dir).expect("dir");
    race::race(&dir, |owner| {
        Command::new(std::env::current_exe().expect("current exe"))
            .args(["race_worker", "--exact", "--nocapture", "--test-threads", "1"])
            .env(RACE_SCHEMA, &schema)
            .env(RACE_DIR, &dir)
            .env(RACE_OWNER, owner)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn worker")
    })
    .await;
    let client = common::connect(&url).await;
    let claims = client
        .query(&format!("SELECT step_id, owner FROM {schema}.step_claims WHERE run_id = $1"), &[&race::RACE_RUN])
        .await
        .expect("claim rows")
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    race::check(&store, &dir, &claims).await;
    let _ = std::fs::remove_dir_all(&dir);
    drop_schema(&url, &schema).await;
}

const SEEDED: &str = "Zq8-seeded-Passw0rd";

/// Everything an error shows: Display, Debug, and each source's Display and Debug.
fn everything(e: &incident_core::Error) -> String {
    let mut out = format!("{e}\n{e:?}\n");
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let _ = writeln!(out, "{s}\n{s:?}");
        src = s.source();
    }
    out
}

/// A dead loopback port.
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// (Moved from incident-datastores' `tests/redaction.rs` with the store.)
#[tokio::test]
async fn postgres_store_passwords_appear_nowhere() {
    let Some(admin) = common::pg_admin_url() else {
        return;
    };
    let real =
        String::from_utf8_lossy(admin.config().get_password().expect("the test role has a password")).into_owned();
    let secrets = [SEEDED, real.as_str()];
    let port = admin.config().get_ports().first().copied().expect("port");
    let user = admin.config().get_user().expect("user").to_owned();
    let wrong = ConnectionString::parse(&format!("postgres://{user}:{SEEDED}@127.0.0.1:{port}/postgres")).expect("url");
    let unreachable =
        ConnectionString::parse(&format!("postgres://{user}:{SEEDED}@127.0.0.1:{}/postgres", dead_port()))
            .expect("url");

    let mut seen = String::new();
    for url in [&wrong, &unreachable] {
        let err = PgStore::connect_with(url, PgStoreOptions::default()).await.expect_err("cannot connect");
        seen.push_str(&everything(&err));
    }
    let store = PgStore::connect_with(&admin, PgStoreOptions::with_schema("redaction_check")).await.expect("store");
    let _ = writeln!(seen, "{store:?}");
    let err = store.journal("no-such-run").await.expect_err("not found");
    seen.push_str(&everything(&err));
    for s in secrets {
        assert!(!seen.contains(s), "postgres store outputs leak a password:\n{seen}");
    }
    drop_schema(&admin, "redaction_check").await;
}
