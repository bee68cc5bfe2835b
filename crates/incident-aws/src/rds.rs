//! RDS through the core's [`Databases`] port.
//!
//! The restorable window: `latest_restorable_time` is RDS's `LatestRestorableTime`; the earliest is
//! derived as `latest - BackupRetentionPeriod days` (RDS does not report it; the true start can be a
//! little later right after backups were enabled). With a retention of 0 (backups off) there is no window.

use chrono::{DateTime, TimeDelta, Utc};
use incident_core::backend::{Databases, DbInstance, DbSnapshot};
use incident_core::{Error, ErrorKind, Result};

use crate::error::{Call, map_sdk};
use crate::{AwsBackends, to_aws, to_chrono};

fn instance_from(region: &str, i: &aws_sdk_rds::types::DbInstance) -> DbInstance {
    let latest = i.latest_restorable_time().and_then(to_chrono);
    let retention = i.backup_retention_period().unwrap_or(0);
    let (latest, earliest) =
        if retention > 0 { (latest, latest.map(|l| l - TimeDelta::days(i64::from(retention)))) } else { (None, None) };
    DbInstance {
        id: i.db_instance_identifier().unwrap_or_default().to_owned(),
        region: region.to_owned(),
        status: i.db_instance_status().unwrap_or("unknown").to_owned(),
        engine: i.engine().unwrap_or_default().to_owned(),
        endpoint: i.endpoint().and_then(|e| e.address()).map(ToOwned::to_owned),
        replica_source: i.read_replica_source_db_instance_identifier().map(ToOwned::to_owned),
        replicas: i.read_replica_db_instance_identifiers().to_vec(),
        latest_restorable_time: latest,
        earliest_restorable_time: earliest,
    }
}

fn snapshot_from(region: &str, s: &aws_sdk_rds::types::DbSnapshot) -> DbSnapshot {
    DbSnapshot {
        id: s.db_snapshot_identifier().unwrap_or_default().to_owned(),
        instance_id: s.db_instance_identifier().unwrap_or_default().to_owned(),
        region: region.to_owned(),
        status: s.status().unwrap_or("unknown").to_owned(),
        created_at: s.snapshot_create_time().and_then(to_chrono),
    }
}

/// RDS identifiers: 1–63 letters, digits and hyphens, starting with a letter, no `--`, no trailing `-`.
fn validate_id(what: &str, id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 63
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !id.contains("--")
        && !id.ends_with('-');
    if ok { Ok(()) } else { Err(Error::invalid_input(format!("{what} {id:?} is not a valid RDS identifier"))) }
}

/// Whether `t` lies in the instance's restorable window.
pub(crate) fn check_window(src: &DbInstance, t: DateTime<Utc>) -> Result<()> {
    match (src.earliest_restorable_time, src.latest_restorable_time) {
        (Some(e), Some(l)) if t >= e && t <= l => Ok(()),
        (Some(e), Some(l)) => Err(Error::invalid_input(format!(
            "restore time {} is outside the restorable window of {} [{} .. {}]",
            t.to_rfc3339(),
            src.id,
            e.to_rfc3339(),
            l.to_rfc3339()
        ))),
        _ => Err(Error::invalid_input(format!(
            "{} reports no restorable window (automated backups off?); cannot restore to {}",
            src.id,
            t.to_rfc3339()
        ))),
    }
}

impl AwsBackends {
    async fn describe(&self, region: &str, id: &str) -> Result<Option<DbInstance>> {
        validate_id("DB instance", id)?;
        let rds = self.rds_client(region)?;
        match rds.describe_db_instances().db_instance_identifier(id).send().await {
            Ok(out) => Ok(out.db_instances().first().map(|i| instance_from(region, i))),
            Err(e) => {
                let e = map_sdk(self.redactor(), "rds:DescribeDBInstances", Call::Read, e);
                if e.kind() == ErrorKind::NotFound { Ok(None) } else { Err(e) }
            }
        }
    }

    async fn require(&self, region: &str, id: &str) -> Result<DbInstance> {
        self.describe(region, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("DB instance {id} not found in {region}")))
    }

    async fn refuse_existing(&self, region: &str, target: &str) -> Result<()> {
        if let Some(t) = self.describe(region, target).await? {
            return Err(Error::conflict(format!(
                "target DB instance {target} already exists in {region} (status {})",
                t.status
            )));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Databases for AwsBackends {
    async fn instance(&self, region: &str, id: &str) -> Result<Option<DbInstance>> {
        self.describe(region, id).await
    }

    async fn instances(&self, region: &str) -> Result<Vec<DbInstance>> {
        let rds = self.rds_client(region)?;
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = rds
                .describe_db_instances()
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| map_sdk(self.redactor(), "rds:DescribeDBInstances", Call::Read, e))?;
            out.extend(page.db_instances().iter().map(|i| instance_from(region, i)));
            match page.marker() {
                Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn snapshots<'a>(&self, region: &str, instance_id: Option<&'a str>) -> Result<Vec<DbSnapshot>> {
        if let Some(id) = instance_id {
            validate_id("DB instance", id)?;
        }
        let rds = self.rds_client(region)?;
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let res = rds
                .describe_db_snapshots()
                .set_db_instance_identifier(instance_id.map(ToOwned::to_owned))
                .set_marker(marker.take())
                .send()
                .await;
            let page = match res {
                Ok(p) => p,
                Err(e) => {
                    let e = map_sdk(self.redactor(), "rds:DescribeDBSnapshots", Call::Read, e);
                    // Snapshots of an instance that no longer exists: none.
                    if e.kind() == ErrorKind::NotFound {
                        break;
                    }
                    return Err(e);
                }
            };
            out.extend(page.db_snapshots().iter().map(|s| snapshot_from(region, s)));
            match page.marker() {
                Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
                _ => break,
            }
        }
        // Newest first; snapshots still being created (no time yet) first of all.
        out.sort_by(|a, b| match (a.created_at, b.created_at) {
            (None, None) => a.id.cmp(&b.id),
            (None, Some(_)) => std::cmp::Ordering::Less,
            (Some(_), None) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => y.cmp(&x).then_with(|| a.id.cmp(&b.id)),
        });
        Ok(out)
    }

    async fn restore_to_point_in_time(
        &self,
        region: &str,
        source: &str,
        target: &str,
        restore_time: Option<DateTime<Utc>>,
    ) -> Result<DbInstance> {
        validate_id("target DB instance", target)?;
        let src = self.require(region, source).await?;
        match restore_time {
            Some(t) => check_window(&src, t)?,
            None if src.latest_restorable_time.is_none() => {
                return Err(Error::invalid_input(format!(
                    "{source} reports no latest restorable time (automated backups off?)"
                )));
            }
            None => {}
        }
        self.refuse_existing(region, target).await?;
        let rds = self.rds_client(region)?;
        let req = rds
            .restore_db_instance_to_point_in_time()
            .source_db_instance_identifier(source)
            .target_db_instance_identifier(target);
        let req = match restore_time {
            Some(t) => req.restore_time(to_aws(t)),
            None => req.use_latest_restorable_time(true),
        };
        let out = req
            .send()
            .await
            .map_err(|e| map_sdk(self.redactor(), "rds:RestoreDBInstanceToPointInTime", Call::Mutation, e))?;
        out.db_instance()
            .map(|i| instance_from(region, i))
            .ok_or_else(|| Error::internal("RestoreDBInstanceToPointInTime returned no DBInstance"))
    }

    async fn restore_from_snapshot(&self, region: &str, snapshot: &str, target: &str) -> Result<DbInstance> {
        validate_id("target DB instance", target)?;
        if snapshot.is_empty() {
            return Err(Error::invalid_input("snapshot identifier is empty"));
        }
        self.refuse_existing(region, target).await?;
        let rds = self.rds_client(region)?;
        let out = rds
            .restore_db_instance_from_db_snapshot()
            .db_instance_identifier(target)
            .db_snapshot_identifier(snapshot)
            .send()
            .await
            .map_err(|e| map_sdk(self.redactor(), "rds:RestoreDBInstanceFromDBSnapshot", Call::Mutation, e))?;
        out.db_instance()
            .map(|i| instance_from(region, i))
            .ok_or_else(|| Error::internal("RestoreDBInstanceFromDBSnapshot returned no DBInstance"))
    }

    async fn promote_read_replica(&self, region: &str, id: &str) -> Result<DbInstance> {
        let current = self.require(region, id).await?;
        if current.replica_source.is_none() {
            return Err(Error::precondition(format!("{id} in {region} is not a read replica")));
        }
        let rds = self.rds_client(region)?;
        let out = rds
            .promote_read_replica()
            .db_instance_identifier(id)
            .send()
            .await
            .map_err(|e| map_sdk(self.redactor(), "rds:PromoteReadReplica", Call::Mutation, e))?;
        out.db_instance()
            .map(|i| instance_from(region, i))
            .ok_or_else(|| Error::internal("PromoteReadReplica returned no DBInstance"))
    }

    async fn delete_instance(&self, region: &str, id: &str) -> Result<()> {
        validate_id("DB instance", id)?;
        // A final snapshot named `<id>-final-<n>`, n one past the existing ones (no wall clock here).
        let existing = self.snapshots(region, Some(id)).await?;
        let prefix = format!("{id}-final-");
        let n = existing.iter().filter(|s| s.id.starts_with(&prefix)).count() + 1;
        let final_snapshot = format!("{prefix}{n}");
        let rds = self.rds_client(region)?;
        rds.delete_db_instance()
            .db_instance_identifier(id)
            .skip_final_snapshot(false)
            .final_db_snapshot_identifier(final_snapshot)
            .send()
            .await
            .map_err(|e| map_sdk(self.redactor(), "rds:DeleteDBInstance", Call::Mutation, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(earliest: Option<DateTime<Utc>>, latest: Option<DateTime<Utc>>) -> DbInstance {
        DbInstance {
            id: "db".into(),
            region: "us-east-1".into(),
            status: "available".into(),
            engine: "postgres".into(),
            endpoint: None,
            replica_source: None,
            replicas: Vec::new(),
            latest_restorable_time: latest,
            earliest_restorable_time: earliest,
        }
    }

    #[test]
    fn window_bounds_are_inclusive() {
        let l = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let e = l - TimeDelta::days(7);
        let i = inst(Some(e), Some(l));
        assert!(check_window(&i, e).is_ok() && check_window(&i, l).is_ok());
        assert_eq!(check_window(&i, l + TimeDelta::seconds(1)).unwrap_err().kind(), ErrorKind::InvalidInput);
        assert_eq!(check_window(&i, e - TimeDelta::seconds(1)).unwrap_err().kind(), ErrorKind::InvalidInput);
        assert_eq!(check_window(&inst(None, None), l).unwrap_err().kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn identifiers_are_validated() {
        assert!(validate_id("x", "ml-platform-recovery").is_ok());
        for bad in ["", "1abc", "a--b", "a-", "a_b"] {
            assert!(validate_id("x", bad).is_err(), "{bad}");
        }
    }
}
