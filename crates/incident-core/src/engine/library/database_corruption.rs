//! Runbook "Disaster Recovery Scenarios → Database Corruption".

use chrono::{DateTime, Utc};

use super::{API, NS, Params, budget, s, wait};
use crate::engine::action::Action;
use crate::engine::check::Check;
use crate::engine::procedure::{Procedure, Step, StepKind};
use crate::policy::Policy;
use crate::{HumanDuration, Result};

/// Runbook "Database Corruption": stop writes (scale write services to 0, recording their replicas;
/// read-only flag), assess the scope (advisory datastore probe), restore to the last known good time,
/// restore writes (scale back to the recorded counts, read-only off).
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseCorruption {
    /// Kubeconfig context.
    pub context: String,
    /// Namespace.
    pub namespace: String,
    /// Deployments that write to the database.
    pub write_deployments: Vec<String>,
    /// Config map holding the `read_only` flag.
    pub config_map: String,
    /// Region of the database.
    pub region: String,
    /// Corrupted instance.
    pub source: String,
    /// Recovery instance.
    pub target: String,
    /// Last known good time (latest restorable when `None`).
    pub last_known_good: Option<DateTime<Utc>>,
    /// Datastore probe used to assess the scope.
    pub probe: String,
}

impl Default for DatabaseCorruption {
    fn default() -> Self {
        Self {
            context: s("ml-platform-primary"),
            namespace: s(NS),
            write_deployments: vec![s(API)],
            config_map: s("app-config"),
            region: s("us-west-2"),
            source: s("ml-platform-prod"),
            target: s("ml-platform-recovery"),
            last_known_good: None,
            probe: s("postgres"),
        }
    }
}

impl DatabaseCorruption {
    /// The runbook defaults overridden by string `params` (see [`procedure_from_spec`](super::procedure_from_spec)).
    pub(super) fn from_params(p: &Params<'_>) -> Result<Self> {
        let mut b = Self::default();
        p.str("context", &mut b.context);
        p.str("namespace", &mut b.namespace);
        if let Some(d) = p.opt("deployment") {
            b.write_deployments = d.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        }
        p.str("config_map", &mut b.config_map);
        p.str("region", &mut b.region);
        p.str("source_instance", &mut b.source);
        p.str("target_instance", &mut b.target);
        p.str("probe", &mut b.probe);
        if let Some(t) = p.time("restore_time")? {
            b.last_known_good = Some(t);
        }
        Ok(b)
    }

    /// The procedure.
    #[must_use]
    pub fn build(&self, policy: &Policy) -> Procedure {
        const NAME: &str = "database-corruption";
        let (ctx, ns) = (&self.context, &self.namespace);
        let read_only = |v: &str| Action::PatchConfigMap {
            context: ctx.clone(),
            namespace: ns.clone(),
            name: self.config_map.clone(),
            data: [(s("read_only"), Some(s(v)))].into(),
        };
        let mut p = Procedure::new(NAME, "Stop writes, assess, restore to the last known good time, restore writes");
        let mut stopped = Vec::new();
        for d in &self.write_deployments {
            let id = format!("scale-{d}-to-zero");
            p = p.step(
                Step::new(
                    id.clone(),
                    "stop-writes",
                    StepKind::Action(Action::ScaleDeployment {
                        context: ctx.clone(),
                        namespace: ns.clone(),
                        name: d.clone(),
                        replicas: 0,
                    }),
                )
                .deadline(budget(policy, NAME, "stop-writes")),
            );
            stopped.push(id);
        }
        p = p.step(Step::new("read-only", "stop-writes", StepKind::Action(read_only("true"))).deadline(budget(
            policy,
            NAME,
            "stop-writes",
        )));
        stopped.push(s("read-only"));
        let restore_budget = budget(policy, NAME, "restore");
        p = p
            .step(
                Step::new(
                    "assess-scope",
                    "assess-scope",
                    StepKind::Check { check: Check::DatastoreHealthy { probe: self.probe.clone() }, advisory: true },
                )
                .after(stopped.clone())
                .deadline(budget(policy, NAME, "assess-scope")),
            )
            .step(
                Step::new(
                    "restore-pitr",
                    "restore",
                    StepKind::Action(Action::RdsPointInTimeRestore {
                        region: self.region.clone(),
                        source: self.source.clone(),
                        target: self.target.clone(),
                        restore_time: self.last_known_good,
                    }),
                )
                .after(["assess-scope"])
                .deadline(restore_budget),
            )
            .step(
                Step::new(
                    "wait-recovery-available",
                    "restore",
                    wait(
                        Check::DbAvailable { region: self.region.clone(), id: self.target.clone() },
                        restore_budget.unwrap_or(HumanDuration::from_mins(60)),
                    ),
                )
                .after(["restore-pitr"])
                .deadline(restore_budget),
            );
        let writes = budget(policy, NAME, "restore-writes");
        for d in &self.write_deployments {
            p = p.step(
                Step::new(
                    format!("restore-{d}"),
                    "restore-writes",
                    StepKind::Action(Action::RestoreReplicas {
                        context: ctx.clone(),
                        namespace: ns.clone(),
                        name: d.clone(),
                        recorded_by: format!("scale-{d}-to-zero"),
                    }),
                )
                .after(["wait-recovery-available"])
                .deadline(writes),
            );
        }
        p.step(
            Step::new("read-write", "restore-writes", StepKind::Action(read_only("false")))
                .after(["wait-recovery-available"])
                .deadline(writes),
        )
    }
}
