//! Simulated RDS ([`Databases`]).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::platform::{Inner, Scope};
use super::state::{DbState, SnapState, Transition, World, delta};
use crate::backend::{Databases, DbInstance, DbSnapshot};
use crate::{Error, Result};

/// RDS in every simulated region.
pub(crate) struct SimDatabases {
    pub(crate) inner: Arc<Inner>,
}

fn require_region(w: &World, region: &str) -> Result<()> {
    if w.region(region).is_none() {
        return Err(Error::invalid_input(format!("region `{region}` is not part of the simulated world")));
    }
    Ok(())
}

fn check_target_free(w: &World, region: &str, target: &str) -> Result<()> {
    if w.db(region, target).is_some() {
        return Err(Error::conflict(format!("DBInstanceAlreadyExists: DB instance already exists: {target}")));
    }
    if target.is_empty() || !target.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(Error::invalid_input(format!("InvalidParameterValue: invalid DB instance identifier `{target}`")));
    }
    Ok(())
}

fn new_instance(w: &World, region: &str, id: &str, engine: &str, until: DateTime<Utc>) -> DbState {
    DbState {
        id: id.to_string(),
        region: region.to_string(),
        engine: engine.to_string(),
        status: "available".into(),
        transition: Some(Transition { status: "creating".into(), until }),
        replica_source: None,
        created_at: w.now,
        retention_days: 7,
        restored_from: None,
        restore_time: None,
        promoted_from: None,
    }
}

#[async_trait::async_trait]
impl Databases for SimDatabases {
    async fn instance(&self, region: &str, id: &str) -> Result<Option<DbInstance>> {
        self.inner
            .read(Scope::Region(region.into()), "DescribeDBInstances", |w| {
                require_region(w, region)?;
                Ok(w.db(region, id).map(|d| w.db_view(d)))
            })
            .await
    }

    async fn instances(&self, region: &str) -> Result<Vec<DbInstance>> {
        self.inner
            .read(Scope::Region(region.into()), "DescribeDBInstances", |w| {
                require_region(w, region)?;
                Ok(w.databases.iter().filter(|d| d.region == region).map(|d| w.db_view(d)).collect())
            })
            .await
    }

    async fn snapshots<'a>(&self, region: &str, instance_id: Option<&'a str>) -> Result<Vec<DbSnapshot>> {
        self.inner
            .read(Scope::Region(region.into()), "DescribeDBSnapshots", |w| {
                require_region(w, region)?;
                let mut v: Vec<&SnapState> = w
                    .snapshots
                    .iter()
                    .filter(|s| s.region == region && instance_id.is_none_or(|i| s.instance_id == i))
                    .collect();
                v.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.id.cmp(&b.id)));
                Ok(v.into_iter()
                    .map(|s| DbSnapshot {
                        id: s.id.clone(),
                        instance_id: s.instance_id.clone(),
                        region: s.region.clone(),
                        status: "available".into(),
                        created_at: Some(s.created_at),
                    })
                    .collect())
            })
            .await
    }

    async fn restore_to_point_in_time(
        &self,
        region: &str,
        source: &str,
        target: &str,
        restore_time: Option<DateTime<Utc>>,
    ) -> Result<DbInstance> {
        self.inner
            .mutate(Scope::Region(region.into()), "RestoreDBInstanceToPointInTime", true, |w, scope| {
                require_region(w, region)?;
                let src = w
                    .db(region, source)
                    .ok_or_else(|| Error::not_found(format!("DBInstanceNotFound: DBInstance {source} not found.")))?;
                let view = w.db_view(src);
                let (Some(earliest), Some(latest)) = (view.earliest_restorable_time, view.latest_restorable_time)
                else {
                    return Err(Error::precondition(format!(
                        "InvalidDBInstanceState: instance {source} (status {}) has no restorable window",
                        view.status
                    )));
                };
                let at = restore_time.unwrap_or(latest);
                if at < earliest || at > latest {
                    return Err(Error::invalid_input(format!(
                        "InvalidRestoreFault: restore time {at} is outside the restorable window {earliest} .. {latest}"
                    )));
                }
                check_target_free(w, region, target)?;
                let until = w.now + delta(w.latency.pitr);
                let mut db = new_instance(w, region, target, &src.engine.clone(), until);
                db.restored_from = Some(source.to_string());
                db.restore_time = Some(at);
                db.retention_days = src.retention_days;
                let view = w.db_view(&db);
                w.databases.push(db);
                w.log_op(
                    scope,
                    format!("restore-db-instance-to-point-in-time {source} -> {target} at {}", at.to_rfc3339()),
                    format!("DBInstance/{target}"),
                    "api",
                );
                Ok(view)
            })
            .await
    }

    async fn restore_from_snapshot(&self, region: &str, snapshot: &str, target: &str) -> Result<DbInstance> {
        self.inner
            .mutate(Scope::Region(region.into()), "RestoreDBInstanceFromDBSnapshot", true, |w, scope| {
                require_region(w, region)?;
                let snap =
                    w.snapshots.iter().find(|s| s.region == region && s.id == snapshot).cloned().ok_or_else(|| {
                        Error::not_found(format!("DBSnapshotNotFound: DBSnapshot {snapshot} not found."))
                    })?;
                check_target_free(w, region, target)?;
                let until = w.now + delta(w.latency.snapshot_restore);
                let mut db = new_instance(w, region, target, "postgres", until);
                db.restored_from = Some(snap.instance_id.clone());
                db.restore_time = Some(snap.created_at);
                let view = w.db_view(&db);
                w.databases.push(db);
                w.log_op(
                    scope,
                    format!("restore-db-instance-from-db-snapshot {snapshot} -> {target}"),
                    format!("DBInstance/{target}"),
                    "api",
                );
                Ok(view)
            })
            .await
    }

    async fn promote_read_replica(&self, region: &str, id: &str) -> Result<DbInstance> {
        self.inner
            .mutate(Scope::Region(region.into()), "PromoteReadReplica", true, |w, scope| {
                require_region(w, region)?;
                let now = w.now;
                let until = now + delta(w.latency.promote);
                let status = {
                    let db = w
                        .db(region, id)
                        .ok_or_else(|| Error::not_found(format!("DBInstanceNotFound: DBInstance {id} not found.")))?;
                    if db.replica_source.is_none() {
                        return Err(Error::precondition(format!(
                            "InvalidDBInstanceState: DB Instance {id} is not a read replica."
                        )));
                    }
                    w.db_status(db)
                };
                if status != "available" {
                    return Err(Error::conflict(format!(
                        "InvalidDBInstanceState: DB instance {id} is not in available state (status {status})"
                    )));
                }
                let mut source = String::new();
                for db in w.databases.iter_mut().filter(|d| d.region == region && d.id == id) {
                    source = db.replica_source.take().unwrap_or_default();
                    db.promoted_from = Some(source.clone());
                    db.transition = Some(Transition { status: "modifying".into(), until });
                    db.status = "available".into();
                }
                let view = w
                    .db(region, id)
                    .map(|d| w.db_view(d))
                    .ok_or_else(|| Error::internal("promoted instance vanished"))?;
                w.log_op(
                    scope,
                    format!("promote-read-replica {id} (was replica of {source})"),
                    format!("DBInstance/{id}"),
                    "api",
                );
                Ok(view)
            })
            .await
    }

    async fn delete_instance(&self, region: &str, id: &str) -> Result<()> {
        self.inner
            .mutate(Scope::Region(region.into()), "DeleteDBInstance", true, |w, scope| {
                require_region(w, region)?;
                let db = w
                    .db(region, id)
                    .cloned()
                    .ok_or_else(|| Error::not_found(format!("DBInstanceNotFound: DBInstance {id} not found.")))?;
                let snap = format!("{id}-final-{}", w.now.format("%Y%m%d%H%M%S"));
                w.snapshots.push(SnapState {
                    id: snap.clone(),
                    instance_id: id.into(),
                    region: region.into(),
                    created_at: w.now,
                });
                w.databases.retain(|d| !(d.region == region && d.id == id));
                for d in &mut w.databases {
                    if d.replica_source.as_deref() == Some(&db.id) {
                        d.replica_source = None;
                    }
                }
                w.log_op(
                    scope,
                    format!("delete-db-instance {id} (final snapshot {snap})"),
                    format!("DBInstance/{id}"),
                    "api",
                );
                Ok(())
            })
            .await
    }
}
