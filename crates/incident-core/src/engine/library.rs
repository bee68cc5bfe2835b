//! The runbook's procedures as builders. Each builder's `Default` carries the runbook's values (the ML
//! platform's names, `--replicas=10`, `--replicas=20`, zone `Z123456789`, ...); change fields and call
//! `build(&policy)` to get a [`Procedure`] value you can print, diff, edit, plan and run.
//!
//! Stage deadlines come from `policy.stage_budgets[procedure][stage]` where the runbook sets one.
//! Independent steps are independent in the DAG (e.g. in a regional failover the DNS change and the
//! replica promotion both follow the assessment and run concurrently), so the critical path is short.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::action::Action;
use super::check::{Check, ChecklistBinding};
use super::procedure::{Procedure, Step, StepKind};
use crate::backend::{ChangeAction, Manifest, RecordChange, RecordSet};
use crate::policy::{ChecklistId, Policy};
use crate::{Error, HumanDuration, Result};

/// Procedure names of the library.
pub const NAMES: [&str; 5] =
    ["traffic-management", "application-rollback", "database-recovery", "regional-failover", "database-corruption"];

const NS: &str = "ml-platform";
const API: &str = "ml-inference-api";
const HEALTH_URL: &str = "https://api.ml-platform.com/health";
const MODELS_URL: &str = "https://api.ml-platform.com/models";

fn s(v: &str) -> String {
    v.to_owned()
}

fn app_selector(app: &str) -> BTreeMap<String, String> {
    [(s("app"), s(app))].into()
}

fn budget(policy: &Policy, procedure: &str, stage: &str) -> Option<HumanDuration> {
    policy.stage_budget(procedure, stage)
}

fn wait(check: Check, timeout: HumanDuration) -> StepKind {
    StepKind::WaitUntil { check, timeout, interval: HumanDuration::from_secs(10) }
}

/// Runbook "Mitigation Strategies → Traffic Management": scale up, enable the circuit breaker, label a
/// degraded pod — three independent steps — then wait for the scaled rollout.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficManagement {
    /// Kubeconfig context.
    pub context: String,
    /// Namespace.
    pub namespace: String,
    /// Deployment to scale.
    pub deployment: String,
    /// Replicas to scale to (runbook: 10).
    pub replicas: u32,
    /// Service to annotate `circuit-breaker=enabled`.
    pub service: String,
    /// A degraded pod to label `health=degraded` (skipped when `None`).
    pub degraded_pod: Option<String>,
}

impl Default for TrafficManagement {
    fn default() -> Self {
        Self {
            context: s("ml-platform-primary"),
            namespace: s(NS),
            deployment: s(API),
            replicas: 10,
            service: s(API),
            degraded_pod: None,
        }
    }
}

impl TrafficManagement {
    /// The procedure.
    #[must_use]
    pub fn build(&self, _policy: &Policy) -> Procedure {
        let (ctx, ns) = (&self.context, &self.namespace);
        let mut p =
            Procedure::new("traffic-management", "Scale up, enable circuit breakers, route around degraded pods")
                .step(Step::new(
                    "scale-up",
                    "mitigation",
                    StepKind::Action(Action::ScaleDeployment {
                        context: ctx.clone(),
                        namespace: ns.clone(),
                        name: self.deployment.clone(),
                        replicas: self.replicas,
                    }),
                ))
                .step(Step::new(
                    "circuit-breaker",
                    "mitigation",
                    StepKind::Action(Action::AnnotateService {
                        context: ctx.clone(),
                        namespace: ns.clone(),
                        name: self.service.clone(),
                        key: s("circuit-breaker"),
                        value: Some(s("enabled")),
                    }),
                ));
        if let Some(pod) = &self.degraded_pod {
            p = p.step(Step::new(
                "label-degraded",
                "mitigation",
                StepKind::Action(Action::LabelPod {
                    context: ctx.clone(),
                    namespace: ns.clone(),
                    pod: pod.clone(),
                    key: s("health"),
                    value: Some(s("degraded")),
                }),
            ));
        }
        p.step(
            Step::new(
                "wait-scaled",
                "verification",
                wait(
                    Check::RolloutComplete {
                        context: ctx.clone(),
                        namespace: ns.clone(),
                        name: self.deployment.clone(),
                    },
                    HumanDuration::from_mins(10),
                ),
            )
            .after(["scale-up"]),
        )
    }
}

/// Runbook "Rollback Procedures": rollback → wait for the rollout → pods healthy, HTTP health and the
/// error-count check (the three read-only checks run concurrently).
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationRollback {
    /// Kubeconfig context.
    pub context: String,
    /// Namespace.
    pub namespace: String,
    /// Deployment.
    pub deployment: String,
    /// Revision to return to (previous when `None`).
    pub to_revision: Option<u64>,
    /// Pod selector for the health check.
    pub selector: BTreeMap<String, String>,
    /// Fewest healthy pods accepted.
    pub min_ready: u32,
    /// `curl -f` URL.
    pub health_url: String,
    /// Most log lines matching "error" tolerated after the rollback.
    pub max_errors: u64,
    /// How long to wait for the rollout.
    pub rollout_timeout: HumanDuration,
}

impl Default for ApplicationRollback {
    fn default() -> Self {
        Self {
            context: s("ml-platform-primary"),
            namespace: s(NS),
            deployment: s(API),
            to_revision: None,
            selector: app_selector(API),
            min_ready: 1,
            health_url: s(HEALTH_URL),
            max_errors: 0,
            rollout_timeout: HumanDuration::from_mins(10),
        }
    }
}

impl ApplicationRollback {
    /// The procedure.
    #[must_use]
    pub fn build(&self, _policy: &Policy) -> Procedure {
        let (ctx, ns, d) = (&self.context, &self.namespace, &self.deployment);
        Procedure::new("application-rollback", "kubectl rollout undo, then verify the rollout, pods, health and errors")
            .step(Step::new(
                "rollback",
                "rollback",
                StepKind::Action(Action::RollbackDeployment {
                    context: ctx.clone(),
                    namespace: ns.clone(),
                    name: d.clone(),
                    to_revision: self.to_revision,
                }),
            ))
            .step(
                Step::new(
                    "wait-rollout",
                    "rollback",
                    wait(
                        Check::RolloutComplete { context: ctx.clone(), namespace: ns.clone(), name: d.clone() },
                        self.rollout_timeout,
                    ),
                )
                .after(["rollback"]),
            )
            .step(
                Step::new(
                    "pods-healthy",
                    "verification",
                    StepKind::check(Check::PodsHealthy {
                        context: ctx.clone(),
                        namespace: ns.clone(),
                        selector: self.selector.clone(),
                        min_ready: self.min_ready,
                    }),
                )
                .after(["wait-rollout"]),
            )
            .step(
                Step::new(
                    "http-health",
                    "verification",
                    StepKind::check(Check::HttpHealth { url: self.health_url.clone() }),
                )
                .after(["wait-rollout"]),
            )
            .step(
                Step::new(
                    "error-count",
                    "verification",
                    StepKind::check(Check::LogErrorCount {
                        context: ctx.clone(),
                        namespace: ns.clone(),
                        selector: None,
                        deployment: Some(d.clone()),
                        pattern: s("error"),
                        tail: 100,
                        max: self.max_errors,
                    }),
                )
                .after(["wait-rollout"]),
            )
    }
}

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

/// An optional "restore from latest backup" in a regional failover.
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
pub struct RegionalFailover {
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

impl Default for RegionalFailover {
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

impl RegionalFailover {
    /// The procedure.
    #[must_use]
    pub fn build(&self, policy: &Policy) -> Procedure {
        const NAME: &str = "regional-failover";
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
        p.step(
            Step::new(
                "wait-secondary-rollout",
                "verification",
                wait(
                    Check::RolloutComplete {
                        context: ctx.clone(),
                        namespace: ns.clone(),
                        name: self.deployment.clone(),
                    },
                    HumanDuration::from_mins(10),
                ),
            )
            .after(["scale-secondary"]),
        )
        .step(
            Step::new(
                "pods-healthy",
                "verification",
                StepKind::check(Check::PodsHealthy {
                    context: ctx.clone(),
                    namespace: ns.clone(),
                    selector: self.selector.clone(),
                    min_ready: self.replicas,
                }),
            )
            .after(["wait-secondary-rollout"]),
        )
        .step(
            Step::new(
                "http-health",
                "verification",
                StepKind::check(Check::HttpHealth { url: self.health_url.clone() }),
            )
            .after(verify_after),
        )
    }
}

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

/// Where the validation checklist's concrete checks look.
#[derive(Debug, Clone, PartialEq)]
pub struct ChecklistTargets {
    /// Kubeconfig context.
    pub context: String,
    /// Namespace.
    pub namespace: String,
    /// Critical service (endpoints) and deployment (logs).
    pub service: String,
    /// `curl -f` health URL.
    pub health_url: String,
    /// Authentication endpoint (not automated when `None`).
    pub auth_url: Option<String>,
    /// Key user workflow URL and its latency budget.
    pub workflow_url: String,
    /// Slowest acceptable workflow response, ms.
    pub workflow_max_ms: u64,
    /// Monitoring endpoint (not automated when `None`).
    pub monitoring_url: Option<String>,
    /// Datastore probe for "database connections healthy".
    pub database_probe: String,
    /// Region and instance whose snapshots prove backups run.
    pub backup_region: String,
    /// Instance whose snapshots prove backups run.
    pub backup_instance: String,
    /// Oldest acceptable snapshot.
    pub backup_max_age: HumanDuration,
}

impl Default for ChecklistTargets {
    fn default() -> Self {
        Self {
            context: s("ml-platform-primary"),
            namespace: s(NS),
            service: s(API),
            health_url: s(HEALTH_URL),
            auth_url: None,
            workflow_url: s(MODELS_URL),
            workflow_max_ms: 2000,
            monitoring_url: None,
            database_probe: s("postgres"),
            backup_region: s("us-west-2"),
            backup_instance: s("ml-platform-prod"),
            backup_max_age: HumanDuration::from_hours(24),
        }
    }
}

/// The policy's validation checklist mapped onto concrete checks.
#[must_use]
pub fn validation_checklist(policy: &Policy, t: &ChecklistTargets) -> Check {
    let items = policy
        .validation_checklist
        .iter()
        .map(|item| {
            let checks = match item.id {
                ChecklistId::CriticalServicesResponding => vec![
                    Check::HttpHealth { url: t.health_url.clone() },
                    Check::EndpointsReady {
                        context: t.context.clone(),
                        namespace: t.namespace.clone(),
                        service: t.service.clone(),
                    },
                ],
                ChecklistId::DatabaseConnectionsHealthy => {
                    vec![Check::DatastoreHealthy { probe: t.database_probe.clone() }]
                }
                ChecklistId::AuthenticationWorking => {
                    t.auth_url.iter().map(|u| Check::HttpHealth { url: u.clone() }).collect()
                }
                ChecklistId::KeyUserWorkflowsFunctional => {
                    vec![Check::ResponseTime { url: t.workflow_url.clone(), max_ms: t.workflow_max_ms }]
                }
                ChecklistId::MonitoringAndAlertingOperational => {
                    t.monitoring_url.iter().map(|u| Check::HttpHealth { url: u.clone() }).collect()
                }
                ChecklistId::LogsBeingCollected => vec![Check::LogsCollected {
                    context: t.context.clone(),
                    namespace: t.namespace.clone(),
                    deployment: t.service.clone(),
                }],
                ChecklistId::BackupsRunningSuccessfully => vec![Check::RecentSnapshot {
                    region: t.backup_region.clone(),
                    instance: t.backup_instance.clone(),
                    max_age: t.backup_max_age,
                }],
            };
            ChecklistBinding { id: item.id, description: item.description.clone(), checks }
        })
        .collect();
    Check::ValidationChecklist { items }
}

/// A library procedure by name with its runbook defaults.
///
/// # Errors
/// `NotFound` listing the known names.
pub fn by_name(name: &str, policy: &Policy) -> Result<Procedure> {
    Ok(match name {
        "traffic-management" => TrafficManagement::default().build(policy),
        "application-rollback" => ApplicationRollback::default().build(policy),
        "database-recovery" => DatabaseRecovery::default().build(policy),
        "regional-failover" => RegionalFailover::default().build(policy),
        "database-corruption" => DatabaseCorruption::default().build(policy),
        other => {
            return Err(Error::not_found(format!("no library procedure {other:?}; known: {}", NAMES.join(", "))));
        }
    })
}
