//! Connections exhausted on a real PostgreSQL 15 (`scripts/services start` sets `max_connections = 40`).
//! Its own test binary with one test: it fills the whole cluster, so nothing else may run against it
//! meanwhile (cargo runs test binaries one after another).

mod common;

use common::{TestDb, finding};
use incident_core::backend::DatastoreProbe;
use incident_datastores::{PostgresProbe, PostgresProbeConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_warn_fail_and_exhaust() {
    let Some(db) = TestDb::create("conns").await else {
        return;
    };
    let admin = common::connect(&db.admin).await;
    let max: i64 =
        admin.query_one("SELECT current_setting('max_connections')::int8", &[]).await.expect("settings").get(0);
    let in_use = || async {
        let row = admin
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'", &[])
            .await
            .expect("count");
        row.get::<_, i64>(0)
    };
    assert!(max <= 100, "the test cluster should have a low max_connections, got {max}");
    let probe = PostgresProbe::new(PostgresProbeConfig::new(db.url.clone()));

    // Up to 85 % including the probe's own connection: a warning, still healthy.
    let mut held = Vec::new();
    let target_warn = (max * 85 + 99) / 100 - 1;
    while in_use().await < target_warn {
        held.push(db.client().await);
    }
    let r = probe.probe().await.expect("probe");
    let f = finding(&r, "connections");
    assert!(f.ok && f.detail.starts_with("warning: "), "{f:?}");
    assert!(r.healthy, "{r:#?}");

    // All but one slot: the probe takes the last one and reports the pool exhausted.
    while in_use().await < max - 1 {
        held.push(db.client().await);
    }
    let r = probe.probe().await.expect("probe");
    let f = finding(&r, "connections");
    assert!(!f.ok, "{f:?}");
    assert!(f.detail.starts_with(&format!("exhausted: {max}/{max} connections in use (100%")), "{f:?}");
    assert!(!r.healthy);

    // Every slot taken: the probe cannot log in, and says why.
    while in_use().await < max {
        held.push(db.client().await);
    }
    let r = probe.probe().await.expect("probe");
    assert!(!r.healthy);
    assert_eq!(r.findings.len(), 1, "{r:#?}");
    let f = finding(&r, "connect");
    assert!(f.detail.contains("too many connections"), "{f:?}");
    assert!(f.detail.contains("too many clients already"), "{f:?}");
    assert_eq!(r.latency_ms, None);

    // Closed connections leave pg_stat_activity when their backends exit, which takes a moment on a
    // loaded machine: wait for that (not a fixed sleep), then release the admin connection too.
    drop(held);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while in_use().await > max / 2 {
        assert!(tokio::time::Instant::now() < deadline, "closed connections still counted after 30 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    drop(admin);
    let r = probe.probe().await.expect("probe");
    assert!(finding(&r, "connections").ok, "{r:#?}");
    db.drop_now().await;
}
