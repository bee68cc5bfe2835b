//! Runbook "Incident Response → Mitigation Strategies → Database Recovery".

use chrono::{DateTime, Utc};

use super::{Params, s, wait};
use crate::engine::action::Action;
use crate::engine::check::Check;
use crate::engine::procedure::{Procedure, Step, StepKind};
use crate::policy::Policy;
use crate::{Error, HumanDuration, Result};

/// How a [`DatabaseRecovery`] recovers.
#[derive(Debug, Clone, PartialEq)]
pub enum RecoveryMode {
    /// `aws rds restore-db-instance-to-point-in-time`.
    PointInTime {
        /// Source instance.
        source: String,
        /// New instance.
        target: String,
        /// Restore time (latest restorable when `None`).
        restore_time: Option<DateTime<Utc>>,
    },
    /// `aws rds promote-read-replica`.
    PromoteReplica {
        /// Replica id.
        id: String,
    },
}

/// Runbook "Database Recovery": PITR or replica promotion, wait until available, integrity checks.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseRecovery {
    /// Region.
    pub region: String,
    /// How.
    pub mode: RecoveryMode,
    /// Datastore probes that must report healthy afterwards (runbook "Data Integrity Checks").
    pub integrity_probes: Vec<String>,
    /// How long to wait for the instance.
    pub available_timeout: HumanDuration,
}

impl Default for DatabaseRecovery {
    fn default() -> Self {
        Self {
            region: s("us-west-2"),
            mode: RecoveryMode::PointInTime {
                source: s("ml-platform-prod"),
                target: s("ml-platform-recovery"),
                restore_time: None,
            },
            integrity_probes: vec![s("postgres")],
            available_timeout: HumanDuration::from_mins(60),
        }
    }
}

impl DatabaseRecovery {
    /// The runbook defaults overridden by string `params` (see [`procedure_from_spec`](super::procedure_from_spec)).
    pub(super) fn from_params(p: &Params<'_>) -> Result<Self> {
        let mut b = Self::default();
        p.str("region", &mut b.region);
        let mode = p.opt("mode").unwrap_or_else(|| "point-in-time".into());
        let source = p.opt("source_instance");
        let target = p.opt("target_instance");
        let restore_time = p.time("restore_time")?;
        let replica = p.opt("replica_instance");
        b.mode = match mode.as_str() {
            "point-in-time" | "pitr" => {
                let (mut s, mut t) = match &b.mode {
                    RecoveryMode::PointInTime { source, target, .. } => (source.clone(), target.clone()),
                    RecoveryMode::PromoteReplica { .. } => ("ml-platform-prod".into(), "ml-platform-recovery".into()),
                };
                if let Some(v) = source {
                    s = v;
                }
                if let Some(v) = target {
                    t = v;
                }
                RecoveryMode::PointInTime { source: s, target: t, restore_time }
            }
            "promote-read-replica" | "promote" => {
                RecoveryMode::PromoteReplica { id: replica.unwrap_or_else(|| "ml-platform-read-replica".into()) }
            }
            other => {
                return Err(Error::invalid_input(format!(
                    "procedure database-recovery param `mode`: {other:?} (expected point-in-time or promote-read-replica)"
                )));
            }
        };
        p.duration("available_timeout", &mut b.available_timeout)?;
        Ok(b)
    }

    /// The procedure.
    #[must_use]
    pub fn build(&self, _policy: &Policy) -> Procedure {
        let region = &self.region;
        let (action, id) = match &self.mode {
            RecoveryMode::PointInTime { source, target, restore_time } => (
                Action::RdsPointInTimeRestore {
                    region: region.clone(),
                    source: source.clone(),
                    target: target.clone(),
                    restore_time: *restore_time,
                },
                target.clone(),
            ),
            RecoveryMode::PromoteReplica { id } => {
                (Action::PromoteReadReplica { region: region.clone(), id: id.clone() }, id.clone())
            }
        };
        let mut p =
            Procedure::new("database-recovery", "Point-in-time restore or replica promotion, then integrity checks")
                .step(Step::new("recover", "restore", StepKind::Action(action)))
                .step(
                    Step::new(
                        "wait-available",
                        "restore",
                        wait(Check::DbAvailable { region: region.clone(), id }, self.available_timeout),
                    )
                    .after(["recover"])
                    .deadline(Some(self.available_timeout)),
                );
        for probe in &self.integrity_probes {
            p = p.step(
                Step::new(
                    format!("integrity-{probe}"),
                    "verification",
                    StepKind::check(Check::DatastoreHealthy { probe: probe.clone() }),
                )
                .after(["wait-available"]),
            );
        }
        p
    }
}
