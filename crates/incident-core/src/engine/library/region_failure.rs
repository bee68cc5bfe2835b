//! Runbook "Disaster Recovery Scenarios → Complete Region Failure".

use std::collections::BTreeMap;

use super::{API, HEALTH_URL, NS, Params, app_selector, budget, s, verify_service, wait, wait_rollout};
use crate::backend::{ChangeAction, Manifest, RecordChange, RecordSet};
use crate::engine::action::Action;
use crate::engine::check::Check;
use crate::engine::procedure::{Procedure, Step, StepKind};
use crate::policy::Policy;
use crate::{HumanDuration, Result};

/// An optional "restore from latest backup" in a region failure.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRestore {
    /// Instance whose snapshot is restored.
    pub instance: String,
    /// Snapshot id (latest available when `None`).
    pub snapshot: Option<String>,
    /// New instance id.
    pub target: String,
}

/// Runbook "Complete Region Failure": assessment (5 min), activate secondary (15 min), data recovery
/// (30 min), then verification.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionFailure {
    /// Secondary region (`us-east-1`).
    pub secondary_region: String,
    /// Secondary cluster's context.
    pub secondary_context: String,
    /// Namespace.
    pub namespace: String,
    /// Deployment scaled up in the secondary.
    pub deployment: String,
    /// Replicas in the secondary (runbook: 20).
    pub replicas: u32,
    /// Manifests applied to the secondary (`kubectl apply -k .../prod-secondary/`); skipped when empty.
    pub manifests: Vec<Manifest>,
    /// Hosted zone.
    pub zone_id: String,
    /// The failover change batch (`secondary-region-changeset.json`).
    pub dns_changes: Vec<RecordChange>,
    /// The secondary's read replica to promote.
    pub replica: String,
    /// Optional restore from the latest backup.
    pub snapshot_restore: Option<SnapshotRestore>,
    /// Services whose AWS Health events are checked.
    pub health_services: Vec<String>,
    /// `curl -f` URL after the failover.
    pub health_url: String,
    /// Pod selector in the secondary.
    pub selector: BTreeMap<String, String>,
}

impl Default for RegionFailure {
    fn default() -> Self {
        let target = s("ml-platform-secondary.us-east-1.elb.amazonaws.com");
        Self {
            secondary_region: s("us-east-1"),
            secondary_context: s("ml-platform-secondary"),
            namespace: s(NS),
            deployment: s(API),
            replicas: 20,
            manifests: Vec::new(),
            zone_id: s("Z123456789"),
            dns_changes: vec![RecordChange {
                action: ChangeAction::Upsert,
                record: RecordSet {
                    name: s("api.ml-platform.com."),
                    rtype: s("CNAME"),
                    ttl: Some(60),
                    values: vec![target],
                    set_identifier: None,
                    weight: None,
                    failover: None,
                    health_check_id: None,
                },
            }],
            replica: s("ml-platform-secondary"),
            snapshot_restore: None,
            health_services: vec![s("EC2"), s("RDS"), s("EKS")],
            health_url: s(HEALTH_URL),
            selector: app_selector(API),
        }
    }
}

impl RegionFailure {
    /// The runbook defaults overridden by string `params` (see [`procedure_from_spec`](super::procedure_from_spec)).
    pub(super) fn from_params(p: &Params<'_>) -> Result<Self> {
        let mut b = Self::default();
        let _ = p.opt("primary_region");
        let _ = p.opt("primary_context");
        p.str("secondary_region", &mut b.secondary_region);
        p.str("secondary_context", &mut b.secondary_context);
        p.str("namespace", &mut b.namespace);
        let before = b.deployment.clone();
        p.str("deployment", &mut b.deployment);
        if b.deployment != before {
            b.selector = BTreeMap::from([("app".to_owned(), b.deployment.clone())]);
        }
        if let Some(r) = p.num("replicas")? {
            b.replicas = r;
        }
        p.str("replica_instance", &mut b.replica);
        p.str("zone_id", &mut b.zone_id);
        p.str("health_url", &mut b.health_url);
        let record_name = p.opt("record_name");
        let target = p.opt("target");
        for change in &mut b.dns_changes {
            if let Some(n) = &record_name {
                change.record.name.clone_from(n);
            }
            if let Some(t) = &target {
                change.record.values = vec![t.clone()];
            }
        }
        let snapshot = p.opt("snapshot");
        let restore_target = p.opt("restore_target");
        let snapshot_instance = p.opt("snapshot_instance");
        if snapshot.is_some() || restore_target.is_some() {
            b.snapshot_restore = Some(SnapshotRestore {
                instance: snapshot_instance.unwrap_or_else(|| "ml-platform-prod".into()),
                snapshot,
                target: restore_target.unwrap_or_else(|| "ml-platform-restored".into()),
            });
        }
        Ok(b)
    }

    /// The procedure.
    #[must_use]
    pub fn build(&self, policy: &Policy) -> Procedure {
        const NAME: &str = "region-failure";
        let (region, ctx, ns) = (&self.secondary_region, &self.secondary_context, &self.namespace);
        let assess = budget(policy, NAME, "assessment");
        let activate = budget(policy, NAME, "activate-secondary");
        let data = budget(policy, NAME, "data-recovery");
        let assessed = ["health-events", "caller-identity"];
        let mut p = Procedure::new(NAME, "Fail over to the secondary region: assess, activate, recover data, verify")
            .step(
                Step::new(
                    "health-events",
                    "assessment",
                    StepKind::check(Check::NoOpenHealthEvents {
                        region: region.clone(),
                        services: self.health_services.clone(),
                    }),
                )
                .deadline(assess),
            )
            .step(
                Step::new(
                    "caller-identity",
                    "assessment",
                    StepKind::check(Check::CallerIdentity { region: region.clone() }),
                )
                .deadline(assess),
            )
            .step(
                Step::new(
                    "switch-context",
                    "activate-secondary",
                    StepKind::Action(Action::SwitchContext { context: ctx.clone() }),
                )
                .after(assessed)
                .deadline(activate),
            );
        let mut scale_after = vec![s("switch-context")];
        if !self.manifests.is_empty() {
            p = p.step(
                Step::new(
                    "apply-manifests",
                    "activate-secondary",
                    StepKind::Action(Action::ApplyManifests {
                        context: ctx.clone(),
                        manifests: self.manifests.clone(),
                    }),
                )
                .after(["switch-context"])
                .deadline(activate),
            );
            scale_after = vec![s("apply-manifests")];
        }
        p = p
            .step(
                Step::new(
                    "scale-secondary",
                    "activate-secondary",
                    StepKind::Action(Action::ScaleDeployment {
                        context: ctx.clone(),
                        namespace: ns.clone(),
                        name: self.deployment.clone(),
                        replicas: self.replicas,
                    }),
                )
                .after(scale_after)
                .deadline(activate),
            )
            .step(
                Step::new(
                    "dns-failover",
                    "activate-secondary",
                    StepKind::Action(Action::Route53Change {
                        zone_id: self.zone_id.clone(),
                        changes: self.dns_changes.clone(),
                    }),
                )
                .after(assessed)
                .deadline(activate),
            )
            .step(
                Step::new(
                    "promote-replica",
                    "data-recovery",
                    StepKind::Action(Action::PromoteReadReplica { region: region.clone(), id: self.replica.clone() }),
                )
                .after(assessed)
                .deadline(data),
            )
            .step(
                Step::new(
                    "wait-replica-available",
                    "data-recovery",
                    wait(
                        Check::DbAvailable { region: region.clone(), id: self.replica.clone() },
                        data.unwrap_or(HumanDuration::from_mins(30)),
                    ),
                )
                .after(["promote-replica"])
                .deadline(data),
            );
        let mut verify_after = vec![s("wait-replica-available"), s("wait-secondary-rollout"), s("dns-failover")];
        if let Some(r) = &self.snapshot_restore {
            p = p
                .step(
                    Step::new(
                        "restore-snapshot",
                        "data-recovery",
                        StepKind::Action(Action::RdsRestoreFromSnapshot {
                            region: region.clone(),
                            snapshot: r.snapshot.clone(),
                            instance: r.instance.clone(),
                            target: r.target.clone(),
                        }),
                    )
                    .after(assessed)
                    .deadline(data),
                )
                .step(
                    Step::new(
                        "wait-restored-available",
                        "data-recovery",
                        wait(
                            Check::DbAvailable { region: region.clone(), id: r.target.clone() },
                            data.unwrap_or(HumanDuration::from_mins(30)),
                        ),
                    )
                    .after(["restore-snapshot"])
                    .deadline(data),
                );
            verify_after.push(s("wait-restored-available"));
        }
        let (pods_healthy, http_health) = verify_service(ctx, ns, &self.selector, self.replicas, &self.health_url);
        p.step(
            wait_rollout(
                "wait-secondary-rollout",
                "verification",
                ctx,
                ns,
                &self.deployment,
                HumanDuration::from_mins(10),
            )
            .after(["scale-secondary"]),
        )
        .step(pods_healthy.after(["wait-secondary-rollout"]))
        .step(http_health.after(verify_after))
    }
}
