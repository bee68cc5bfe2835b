//! Virtual time: overlapping sleeps, convergence delays for RDS, Route53 and pods.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use chrono::TimeDelta;
use incident_core::ErrorKind;
use incident_core::backend::{ChangeAction, ChangeStatus, Clock, RecordChange};
use incident_core::sim::{Scenario, SimPlatform, TimeMode, runtime};

const THREE_REGIONS: &str = r"
name: three-regions
description: two read replicas
world:
  regions:
    - {name: us-west-2, context: ml-platform-primary, role: primary, database: ml-platform-prod}
    - {name: us-east-1, context: ml-platform-secondary, role: secondary, database: ml-platform-secondary, replica_of: ml-platform-prod}
    - {name: eu-west-1, context: ml-platform-eu, role: secondary, database: ml-platform-eu, replica_of: ml-platform-prod}
incident: {title: t, impact: none}
procedure: {name: database-recovery}
";

async fn promote_and_wait(b: &incident_core::backend::Backends, region: &str, id: &str) {
    let db = b.databases.promote_read_replica(region, id).await.unwrap();
    assert_eq!(db.status, "modifying");
    assert!(db.replica_source.is_none());
    loop {
        if b.databases.instance(region, id).await.unwrap().unwrap().is_available() {
            return;
        }
        b.clock.sleep(Duration::from_secs(15)).await;
    }
}

#[test]
fn concurrent_promotes_overlap_in_virtual_time() {
    let p = SimPlatform::from_scenario(&Scenario::from_yaml_str(THREE_REGIONS).unwrap()).unwrap();
    let b = p.backends();
    let t0 = p.now();
    runtime().unwrap().block_on(async {
        tokio::join!(
            promote_and_wait(&b, "us-east-1", "ml-platform-secondary"),
            promote_and_wait(&b, "eu-west-1", "ml-platform-eu")
        );
    });
    let took = p.now() - t0;
    assert!(took >= TimeDelta::minutes(5), "{took}");
    assert!(took < TimeDelta::minutes(6), "two 5-minute promotes in parallel took {took}");
    let primary = runtime().unwrap().block_on(b.databases.instance("us-west-2", "ml-platform-prod")).unwrap().unwrap();
    assert!(primary.replicas.is_empty());
}

#[test]
fn sequential_promotes_add_up() {
    let p = SimPlatform::from_scenario(&Scenario::from_yaml_str(THREE_REGIONS).unwrap()).unwrap();
    let b = p.backends();
    let t0 = p.now();
    runtime().unwrap().block_on(async {
        promote_and_wait(&b, "us-east-1", "ml-platform-secondary").await;
        promote_and_wait(&b, "eu-west-1", "ml-platform-eu").await;
    });
    assert!(p.now() - t0 >= TimeDelta::minutes(10));
}

#[test]
fn jump_mode_works_without_paused_runtime() {
    let p = SimPlatform::from_scenario(&Scenario::builtin("bad-deploy").unwrap()).unwrap();
    p.set_time_mode(TimeMode::Jump);
    let clock = p.clock();
    let t0 = clock.now();
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    rt.block_on(clock.sleep(Duration::from_secs(3600)));
    assert_eq!(clock.now() - t0, TimeDelta::hours(1));
}

#[test]
fn cancelled_sleep_accounts_for_elapsed_virtual_time() {
    let p = SimPlatform::from_scenario(&Scenario::builtin("bad-deploy").unwrap()).unwrap();
    let clock = p.clock();
    let t0 = p.now();
    runtime().unwrap().block_on(async {
        let r = tokio::time::timeout(Duration::from_secs(60), clock.sleep(Duration::from_secs(600))).await;
        assert!(r.is_err());
    });
    assert_eq!(p.now() - t0, TimeDelta::seconds(60));
}

#[test]
fn restores_are_creating_until_the_latency_model_says_available() {
    let p = SimPlatform::from_scenario(&Scenario::builtin("database-corruption").unwrap()).unwrap();
    let b = p.backends();
    runtime().unwrap().block_on(async {
        let prod = b.databases.instance("us-west-2", "ml-platform-prod").await.unwrap().unwrap();
        let latest = prod.latest_restorable_time.unwrap();
        assert_eq!(latest, p.now() - TimeDelta::minutes(5));
        assert_eq!(prod.earliest_restorable_time.unwrap(), p.now() - TimeDelta::days(7));
        assert_eq!(prod.replicas, vec!["ml-platform-secondary".to_string()]);

        let e = b
            .databases
            .restore_to_point_in_time("us-west-2", "ml-platform-prod", "x", Some(p.now()))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        let e = b
            .databases
            .restore_to_point_in_time("us-west-2", "ml-platform-prod", "ml-platform-prod", None)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
        let e = b.databases.restore_to_point_in_time("us-west-2", "missing", "x", None).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");

        let t0 = p.now();
        let db = b
            .databases
            .restore_to_point_in_time("us-west-2", "ml-platform-prod", "ml-platform-recovery", None)
            .await
            .unwrap();
        assert_eq!(db.status, "creating");
        b.clock.sleep(Duration::from_secs(19 * 60)).await;
        assert_eq!(
            b.databases.instance("us-west-2", "ml-platform-recovery").await.unwrap().unwrap().status,
            "creating"
        );
        b.clock.sleep(Duration::from_secs(60)).await;
        assert!(b.databases.instance("us-west-2", "ml-platform-recovery").await.unwrap().unwrap().is_available());
        assert!(p.now() - t0 < TimeDelta::minutes(21));

        let snaps = b.databases.snapshots("us-east-1", None).await.unwrap();
        assert_eq!(snaps[0].id, "ml-platform-latest-snapshot");
        let db = b
            .databases
            .restore_from_snapshot("us-east-1", "ml-platform-latest-snapshot", "ml-platform-restored")
            .await
            .unwrap();
        assert_eq!(db.status, "creating");
        assert_eq!(
            b.databases.restore_from_snapshot("us-east-1", "nope", "y").await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        b.clock.sleep(Duration::from_secs(25 * 60)).await;
        assert!(b.databases.instance("us-east-1", "ml-platform-restored").await.unwrap().unwrap().is_available());

        b.databases.delete_instance("us-west-2", "ml-platform-recovery").await.unwrap();
        assert!(b.databases.instance("us-west-2", "ml-platform-recovery").await.unwrap().is_none());
        assert!(
            b.databases.snapshots("us-west-2", Some("ml-platform-recovery")).await.unwrap()[0]
                .id
                .starts_with("ml-platform-recovery-final-")
        );

        let e = b.databases.promote_read_replica("us-west-2", "ml-platform-prod").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PreconditionFailed);
    });
}

#[test]
fn dns_changes_are_pending_then_insync_and_only_then_served() {
    let p = SimPlatform::from_scenario(&Scenario::builtin("region-failure").unwrap()).unwrap();
    let b = p.backends();
    runtime().unwrap().block_on(async {
        let recs = b.dns.record_sets("Z123456789", Some("api.ml-platform.com")).await.unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(p.resolve("api.ml-platform.com").as_deref(), Some("us-west-2"));
        let failover = b.dns.record_sets("Z123456789", Some("api-failover.ml-platform.com.")).await.unwrap();
        assert_eq!(failover.len(), 2);
        let weighted = b.dns.record_sets("Z123456789", Some("models.ml-platform.com.")).await.unwrap();
        assert!(weighted.iter().all(|r| r.weight.is_some()));

        let mut rec = recs[0].clone();
        rec.values = vec!["ml-platform-secondary.us-east-1.elb.amazonaws.com".into()];
        let info = b
            .dns
            .change("Z123456789", &[RecordChange { action: ChangeAction::Upsert, record: rec.clone() }], "failover")
            .await
            .unwrap();
        assert_eq!(info.status, ChangeStatus::Pending);
        // authoritative immediately, served after propagation
        assert_eq!(b.dns.record_sets("Z123456789", Some("api.ml-platform.com")).await.unwrap()[0], rec);
        assert_eq!(p.resolve("api.ml-platform.com").as_deref(), Some("us-west-2"));
        b.clock.sleep(Duration::from_secs(60)).await;
        assert_eq!(b.dns.change_status(&info.id).await.unwrap().status, ChangeStatus::Insync);
        assert_eq!(p.resolve("api.ml-platform.com").as_deref(), Some("us-east-1"));
        assert_eq!(b.dns.change_status("/change/NOPE").await.unwrap_err().kind(), ErrorKind::NotFound);

        let e = b
            .dns
            .change("Z123456789", &[RecordChange { action: ChangeAction::Create, record: rec.clone() }], "")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let e =
            b.dns.change("Z999", &[RecordChange { action: ChangeAction::Upsert, record: rec }], "").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    });
    assert_eq!(p.api_operations().len(), 1);
}
