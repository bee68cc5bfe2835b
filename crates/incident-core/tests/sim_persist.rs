//! Persistence across processes: a file-backed world reopened elsewhere is the same world.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use incident_core::ErrorKind;
use incident_core::backend::{Destination, Notification};
use incident_core::sim::{Scenario, SimPlatform, runtime};

#[test]
fn reopened_world_equals_the_mutated_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("world.json");
    let scenario = Scenario::builtin("region-failure").unwrap();
    let p = SimPlatform::create(&path, &scenario).unwrap();
    assert_eq!(SimPlatform::create(&path, &scenario).unwrap_err().kind(), ErrorKind::Conflict);
    let b = p.backends();
    runtime().unwrap().block_on(async {
        let c = b.clusters.cluster("ml-platform-secondary").await.unwrap();
        c.scale("ml-platform", "ml-inference-api", 20).await.unwrap();
        b.databases.promote_read_replica("us-east-1", "ml-platform-secondary").await.unwrap();
        b.notifier
            .notify(&Notification {
                incident_id: "INC-1".into(),
                to: Destination::StatusPage,
                kind: "declared".into(),
                text: "We are investigating".into(),
            })
            .await
            .unwrap();
        b.clock.sleep(Duration::from_secs(90)).await;
    });
    let q = SimPlatform::open(&path).unwrap();
    assert_eq!(q.world(), p.world());
    assert_eq!(q.now(), p.now());
    assert_eq!(q.operation_log(), p.operation_log());
    assert_eq!(q.notifications().len(), 1);
    // the region went dark at 1m while we slept: recorded in both.
    assert!(q.operation_log().iter().any(|o| o.op == "region us-west-2 dark" && o.origin == "scenario"));
    let ops: Vec<String> = q.api_operations().into_iter().map(|o| o.op).collect();
    assert_eq!(ops[0], "scale ml-platform/ml-inference-api 2->20");
    assert!(ops[1].starts_with("promote-read-replica ml-platform-secondary"));
    assert!(ops[2].starts_with("notify INC-1 declared -> status-page"));

    // the reopened world continues: convergence computed from stored timestamps.
    let b = q.backends();
    runtime().unwrap().block_on(async {
        b.clock.sleep(Duration::from_secs(300)).await;
        let db = b.databases.instance("us-east-1", "ml-platform-secondary").await.unwrap().unwrap();
        assert!(db.is_available());
    });
    let r = SimPlatform::open(&path).unwrap();
    assert_eq!(r.world(), q.world());
    assert!(!dir.path().join("world.json.tmp").exists());
}

#[test]
fn open_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    assert_eq!(SimPlatform::open(&missing).unwrap_err().kind(), ErrorKind::NotFound);
    let p = SimPlatform::open_or_create(&missing, &Scenario::builtin("bad-deploy").unwrap()).unwrap();
    assert_eq!(p.scenario_name(), "bad-deploy");
    assert_eq!(p.path(), Some(missing.as_path()));
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{not json").unwrap();
    assert_eq!(SimPlatform::open(&junk).unwrap_err().kind(), ErrorKind::InvalidInput);
}

#[test]
fn world_serialises_round_trip() {
    let p = SimPlatform::from_scenario(&Scenario::builtin("full-disaster-recovery").unwrap()).unwrap();
    let json = p.world_json().unwrap();
    let back: incident_core::sim::World = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p.world());
}
