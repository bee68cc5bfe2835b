//! RDS against moto: describe, snapshots newest first, the restorable window, point-in-time restore
//! (inside and outside the window), snapshot restore (named and latest), replica promotion, delete with a
//! final snapshot, and error kinds.

mod common;

use chrono::TimeDelta;
use common::{PRIMARY, SECONDARY, backends, create_db, create_replica, create_snapshot, is_standalone_in_moto, moto};
use incident_core::ErrorKind;
use incident_core::engine::{Action, library};
use incident_core::{Policy, Result};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describes_instances_replicas_snapshots_and_the_window() -> Result<()> {
    let Some(m) = moto().await else { return Ok(()) };
    create_db(&m.aws, PRIMARY, "ml-platform-prod").await;
    create_replica(&m.aws, SECONDARY, "ml-platform-secondary", PRIMARY, "ml-platform-prod").await;
    create_snapshot(&m.aws, PRIMARY, "ml-platform-prod", "ml-platform-snap-1").await;
    create_snapshot(&m.aws, PRIMARY, "ml-platform-prod", "ml-platform-snap-2").await;
    let db = m.aws.databases();

    let prod = db.instance(PRIMARY, "ml-platform-prod").await?.expect("prod");
    assert!(prod.is_available());
    assert_eq!((prod.region.as_str(), prod.engine.as_str()), (PRIMARY, "postgres"));
    assert!(prod.endpoint.as_deref().is_some_and(|e| e.contains("ml-platform-prod")));
    let (e, l) = (prod.earliest_restorable_time.expect("earliest"), prod.latest_restorable_time.expect("latest"));
    assert_eq!(l - e, TimeDelta::days(7), "earliest = latest - BackupRetentionPeriod days");
    assert_eq!(prod.replicas.len(), 1);

    let replica = db.instance(SECONDARY, "ml-platform-secondary").await?.expect("replica");
    assert!(replica.replica_source.as_deref().is_some_and(|s| s.ends_with("ml-platform-prod")));
    assert_eq!(db.instance(PRIMARY, "ml-platform-nope").await?, None);
    assert_eq!(db.instances(SECONDARY).await?.len(), 1);

    let snaps = db.snapshots(PRIMARY, Some("ml-platform-prod")).await?;
    let ids: Vec<&str> = snaps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), 3, "{ids:?} (moto adds an automated snapshot)");
    assert_eq!(&ids[..2], ["ml-platform-snap-2", "ml-platform-snap-1"], "newest first");
    assert!(snaps.windows(2).all(|w| w[0].created_at >= w[1].created_at));
    assert!(db.snapshots(PRIMARY, Some("ml-platform-gone")).await?.is_empty());

    let e = db.instance(PRIMARY, "not_valid!").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = db.instance("Not A Region", "x").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn point_in_time_restore_inside_the_window_and_refused_outside_it() -> Result<()> {
    let Some(m) = moto().await else { return Ok(()) };
    create_db(&m.aws, PRIMARY, "ml-platform-prod").await;
    let db = m.aws.databases();
    let latest =
        db.instance(PRIMARY, "ml-platform-prod").await?.and_then(|i| i.latest_restorable_time).expect("latest");

    // Outside the window: refused by the adapter before any restore call, target never created.
    let e = db
        .restore_to_point_in_time(
            PRIMARY,
            "ml-platform-prod",
            "ml-platform-recovery",
            Some(latest + TimeDelta::days(1)),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("outside the restorable window"), "{e}");
    let e = db
        .restore_to_point_in_time(
            PRIMARY,
            "ml-platform-prod",
            "ml-platform-recovery",
            Some(latest - TimeDelta::days(8)),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(db.instance(PRIMARY, "ml-platform-recovery").await?, None);

    // The engine refuses the same at plan time.
    let policy = Policy::default();
    let (_p, b) = backends(&m.aws, "database-corruption");
    let proc = library::DatabaseRecovery {
        region: PRIMARY.into(),
        mode: library::RecoveryMode::PointInTime {
            source: "ml-platform-prod".into(),
            target: "ml-platform-recovery".into(),
            restore_time: Some(latest + TimeDelta::hours(2)),
        },
        integrity_probes: Vec::new(),
        ..Default::default()
    }
    .build(&policy);
    let e = proc.plan(&b, &policy).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");

    // Inside the window, and with the latest restorable time.
    let i = db
        .restore_to_point_in_time(
            PRIMARY,
            "ml-platform-prod",
            "ml-platform-recovery",
            Some(latest - TimeDelta::hours(1)),
        )
        .await?;
    assert_eq!(i.id, "ml-platform-recovery");
    let j = db.restore_to_point_in_time(PRIMARY, "ml-platform-prod", "ml-platform-recovery-2", None).await?;
    assert_eq!(j.id, "ml-platform-recovery-2");
    assert!(db.instance(PRIMARY, "ml-platform-recovery").await?.is_some_and(|i| i.is_available()));

    // Into an existing target: a conflict; from a missing source: not found.
    let e = db.restore_to_point_in_time(PRIMARY, "ml-platform-prod", "ml-platform-recovery", None).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    let e = db.restore_to_point_in_time(PRIMARY, "ml-platform-gone", "ml-platform-x", None).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_from_the_latest_or_a_named_snapshot() -> Result<()> {
    let Some(m) = moto().await else { return Ok(()) };
    create_db(&m.aws, SECONDARY, "ml-platform-prod").await;
    create_snapshot(&m.aws, SECONDARY, "ml-platform-prod", "ml-platform-old").await;
    create_snapshot(&m.aws, SECONDARY, "ml-platform-prod", "ml-platform-latest-snapshot").await;
    let (_p, b) = backends(&m.aws, "region-failure");

    // Latest: the engine resolves the snapshot at plan time.
    let latest = Action::RdsRestoreFromSnapshot {
        region: SECONDARY.into(),
        snapshot: None,
        instance: "ml-platform-prod".into(),
        target: "ml-platform-restored".into(),
    };
    let plan = latest.plan(&b).await?;
    let Action::RdsRestoreFromSnapshot { snapshot, .. } = &plan.action else { panic!("{:?}", plan.action) };
    assert_eq!(snapshot.as_deref(), Some("ml-platform-latest-snapshot"));
    assert!(matches!(plan.inverse, Some(Action::DeleteDbInstance { .. })));
    let detail = plan.action.execute(&b).await?;
    assert!(detail.contains("ml-platform-latest-snapshot"), "{detail}");
    assert!(plan.action.verify(&b, &plan.after).await?);

    // Named.
    let i = b.databases.restore_from_snapshot(SECONDARY, "ml-platform-old", "ml-platform-restored-old").await?;
    assert_eq!(i.id, "ml-platform-restored-old");
    let e = b.databases.restore_from_snapshot(SECONDARY, "ml-platform-nope", "ml-platform-x").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");

    // Compensation: delete keeps a final snapshot.
    b.databases.delete_instance(SECONDARY, "ml-platform-restored").await?;
    assert_eq!(b.databases.instance(SECONDARY, "ml-platform-restored").await?, None);
    let finals = b.databases.snapshots(SECONDARY, Some("ml-platform-restored")).await?;
    assert!(finals.iter().any(|s| s.id == "ml-platform-restored-final-1"), "{finals:?}");
    let e = b.databases.delete_instance(SECONDARY, "ml-platform-restored").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotes_a_read_replica() -> Result<()> {
    let Some(m) = moto().await else { return Ok(()) };
    create_db(&m.aws, PRIMARY, "ml-platform-prod").await;
    create_replica(&m.aws, SECONDARY, "ml-platform-secondary", PRIMARY, "ml-platform-prod").await;
    let db = m.aws.databases();
    assert!(!is_standalone_in_moto(&m.aws, SECONDARY, "ml-platform-secondary").await);
    let i = db.promote_read_replica(SECONDARY, "ml-platform-secondary").await?;
    assert_eq!(i.id, "ml-platform-secondary");
    assert!(is_standalone_in_moto(&m.aws, SECONDARY, "ml-platform-secondary").await);

    let e = db.promote_read_replica(PRIMARY, "ml-platform-prod").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PreconditionFailed, "{e}");
    let e = db.promote_read_replica(SECONDARY, "ml-platform-none").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    Ok(())
}
