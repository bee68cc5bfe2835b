//! The PostgreSQL probe against a real PostgreSQL 15 (`scripts/services start`): healthy, a long lock, a
//! NOT VALID constraint, user-defined checks, read-only state, amcheck, and the approved VACUUM.
#![allow(clippy::disallowed_methods)] // tests spawn the blocked session

mod common;

use std::time::Duration;

use common::{TestDb, finding};
use incident_core::backend::DatastoreProbe;
use incident_datastores::{
    IntegrityCheck, MaintenanceApproval, PostgresProbe, PostgresProbeConfig, VacuumTarget, vacuum_verbose_analyze,
};

fn probe(db: &TestDb) -> PostgresProbeConfig {
    PostgresProbeConfig::new(db.url.clone())
}

#[tokio::test]
async fn healthy_database() {
    let Some(db) = TestDb::create("healthy").await else {
        return;
    };
    let p = PostgresProbe::new(probe(&db));
    assert_eq!(p.name(), "postgres");
    let r = p.probe().await.expect("probe");
    assert!(r.healthy, "{r:#?}");
    assert!(r.latency_ms.is_some_and(|l| l > 0.0 && l < 1000.0), "{r:#?}");
    let checks: Vec<&str> = r.findings.iter().map(|f| f.check.as_str()).collect();
    assert_eq!(
        checks,
        ["select_1", "connections", "long_queries", "locks", "replication", "read_only", "constraints", "amcheck"]
    );
    assert!(finding(&r, "connections").detail.contains("/40 connections in use"), "{r:#?}");
    assert!(finding(&r, "replication").detail.starts_with("primary; 0 standby(s)"), "{r:#?}");
    assert!(finding(&r, "read_only").detail.starts_with("read-write"), "{r:#?}");
    assert_eq!(finding(&r, "constraints").detail, "all constraints validated");
    let amcheck = finding(&r, "amcheck");
    assert!(amcheck.ok && amcheck.detail.starts_with("amcheck not installed"), "{amcheck:?}");
    db.drop_now().await;
}

#[tokio::test]
async fn a_long_lock_is_reported_with_the_blocked_query_and_its_blocker() {
    let Some(db) = TestDb::create("lock").await else {
        return;
    };
    let holder = db.client().await;
    holder.batch_execute("CREATE TABLE lock_target (id int); INSERT INTO lock_target VALUES (1)").await.expect("setup");
    holder.batch_execute("BEGIN; LOCK TABLE lock_target IN ACCESS EXCLUSIVE MODE").await.expect("lock");
    let waiter = db.client().await;
    let blocked = tokio::spawn(async move { waiter.query_one("SELECT count(*) FROM lock_target", &[]).await });
    tokio::time::sleep(Duration::from_millis(600)).await;

    let mut cfg = probe(&db);
    cfg.lock_wait_threshold = Duration::from_millis(200);
    cfg.long_query_threshold = Duration::from_millis(300);
    let r = PostgresProbe::new(cfg).probe().await.expect("probe");
    assert!(!r.healthy, "{r:#?}");
    let locks = finding(&r, "locks");
    assert!(!locks.ok, "{locks:?}");
    assert!(locks.detail.contains("1 blocked session(s)"), "{locks:?}");
    assert!(locks.detail.contains("SELECT count(*) FROM lock_target"), "{locks:?}");
    assert!(locks.detail.contains("blocked by "), "{locks:?}");
    assert!(locks.detail.contains("(idle in transaction: BEGIN; LOCK TABLE lock_target"), "blocker named: {locks:?}");
    let long = finding(&r, "long_queries");
    assert!(!long.ok && long.detail.contains("lock_target"), "{long:?}");

    holder.batch_execute("ROLLBACK").await.expect("release");
    let count = blocked.await.expect("join").expect("blocked query finishes");
    assert_eq!(count.get::<_, i64>(0), 1);
    let r = PostgresProbe::new(probe(&db)).probe().await.expect("probe");
    assert!(finding(&r, "locks").ok, "{r:#?}");
    db.drop_now().await;
}

#[tokio::test]
async fn a_not_valid_constraint_is_found() {
    let Some(db) = TestDb::create("notvalid").await else {
        return;
    };
    let c = db.client().await;
    c.batch_execute(
        "CREATE TABLE orders (id int PRIMARY KEY, amount int);
         INSERT INTO orders VALUES (1, 10), (2, -5);
         ALTER TABLE orders ADD CONSTRAINT amount_positive CHECK (amount > 0) NOT VALID;",
    )
    .await
    .expect("setup");
    let r = PostgresProbe::new(probe(&db)).probe().await.expect("probe");
    assert!(!r.healthy);
    let f = finding(&r, "constraints");
    assert_eq!((f.ok, f.detail.as_str()), (false, "1 constraint(s) not validated: amount_positive on orders"));
    // The probe is read-only: the constraint is still not validated and the rows are untouched.
    let row = c.query_one("SELECT convalidated FROM pg_constraint WHERE conname = 'amount_positive'", &[]).await;
    assert!(!row.expect("constraint").get::<_, bool>(0));
    db.drop_now().await;
}

#[tokio::test]
async fn user_defined_integrity_checks() {
    let Some(db) = TestDb::create("integrity").await else {
        return;
    };
    let c = db.client().await;
    c.batch_execute(
        "CREATE TABLE transactions (id serial, created_at timestamptz NOT NULL);
         INSERT INTO transactions (created_at) VALUES (now() - interval '3 hours');
         CREATE TABLE models (name text, status text);
         INSERT INTO models VALUES ('ranker', 'active'), ('old', 'retired');
         CREATE SEQUENCE s;",
    )
    .await
    .expect("setup");
    let mut cfg = probe(&db);
    cfg.integrity_checks = incident_core::Policy::default().integrity_checks;
    cfg.integrity_checks.push(IntegrityCheck::new("models_total", "SELECT count(*) FROM models;").min(1.0).max(1.0));
    cfg.integrity_checks.push(IntegrityCheck::new("missing_table", "SELECT count(*) FROM nope"));
    cfg.integrity_checks.push(IntegrityCheck::new("writes", "SELECT nextval('s')"));
    cfg.integrity_checks.push(IntegrityCheck::new("two_statements", "SELECT 1; DROP TABLE models"));
    let r = PostgresProbe::new(cfg).probe().await.expect("probe");
    assert!(!r.healthy);
    let f = finding(&r, "integrity:recent_transactions");
    assert_eq!((f.ok, f.detail.as_str()), (false, "0 OUT OF RANGE (expected >= 1)"));
    let f = finding(&r, "integrity:active_models");
    assert_eq!((f.ok, f.detail.as_str()), (true, "1 in range (expected >= 1)"));
    let f = finding(&r, "integrity:models_total");
    assert_eq!((f.ok, f.detail.as_str()), (false, "2 OUT OF RANGE (expected 1..=1)"));
    let f = finding(&r, "integrity:missing_table");
    assert!(!f.ok && f.detail.contains("relation \"nope\" does not exist"), "{f:?}");
    let f = finding(&r, "integrity:writes");
    assert!(!f.ok && f.detail.contains("read-only transaction"), "{f:?}");
    let f = finding(&r, "integrity:two_statements");
    assert!(!f.ok && f.detail.contains("syntax error"), "{f:?}");
    // Nothing was written or dropped.
    let models: i64 = c.query_one("SELECT count(*) FROM models", &[]).await.expect("models").get(0);
    assert_eq!(models, 2);
    let seq: bool = c.query_one("SELECT is_called FROM s", &[]).await.expect("seq").get(0);
    assert!(!seq, "nextval never ran");
    db.drop_now().await;
}

#[tokio::test]
async fn read_only_database_and_replica_expectations() {
    let Some(db) = TestDb::create("readonly").await else {
        return;
    };
    let admin = common::connect(&db.admin).await;
    admin
        .batch_execute(&format!("ALTER DATABASE {} SET default_transaction_read_only = on", db.name))
        .await
        .expect("alter");
    let r = PostgresProbe::new(probe(&db)).probe().await.expect("probe");
    let f = finding(&r, "read_only");
    assert_eq!((f.ok, f.detail.as_str()), (false, "read-only (default_transaction_read_only=on, in recovery: false)"));
    let mut cfg = probe(&db);
    cfg.expect_writable = false;
    let r = PostgresProbe::new(cfg).probe().await.expect("probe");
    assert!(finding(&r, "read_only").ok, "{r:#?}");
    assert!(r.healthy, "{r:#?}");
    db.drop_now().await;
}

#[tokio::test]
async fn amcheck_when_installed_and_required_when_not() {
    let Some(db) = TestDb::create("amcheck").await else {
        return;
    };
    let mut cfg = probe(&db);
    cfg.require_amcheck = true;
    let r = PostgresProbe::new(cfg.clone()).probe().await.expect("probe");
    assert!(!finding(&r, "amcheck").ok, "required but missing: {r:#?}");

    let c = db.client().await;
    c.batch_execute(
        "CREATE EXTENSION amcheck;
         CREATE TABLE items (id int PRIMARY KEY, name text UNIQUE);
         INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g;",
    )
    .await
    .expect("setup");
    let r = PostgresProbe::new(cfg).probe().await.expect("probe");
    let f = finding(&r, "amcheck");
    assert!(f.ok && f.detail.starts_with("bt_index_check passed on 2 index(es)"), "{f:?}");
    db.drop_now().await;
}

#[tokio::test]
async fn vacuum_needs_an_approval_and_returns_its_verbose_output() {
    let Some(db) = TestDb::create("vacuum").await else {
        return;
    };
    let c = db.client().await;
    c.batch_execute(
        "CREATE TABLE big (id int); INSERT INTO big SELECT generate_series(1, 1000); DELETE FROM big WHERE id % 2 = 0",
    )
    .await
    .expect("setup");
    let approval = MaintenanceApproval::new("carol", "assess corruption scope (runbook)").expect("approval");
    let report =
        vacuum_verbose_analyze(&db.url, &VacuumTarget::Table("big".into()), &approval, Duration::from_secs(30))
            .await
            .expect("vacuum");
    assert_eq!(report.statement, "VACUUM (VERBOSE, ANALYZE) big");
    assert_eq!(report.approval.approved_by(), "carol");
    assert!(report.output.iter().any(|l| l.contains("vacuuming") && l.contains("big")), "{:#?}", report.output);
    let err = vacuum_verbose_analyze(&db.url, &VacuumTarget::Table("nope".into()), &approval, Duration::from_secs(5))
        .await
        .expect_err("unknown table");
    assert_eq!(err.kind(), incident_core::ErrorKind::NotFound, "{err}");
    db.drop_now().await;
}
