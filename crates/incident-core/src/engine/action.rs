//! Typed mutating actions: every mitigation and disaster-recovery command of the runbook.
//!
//! Each action is planned against live state ([`Action::plan`] → [`StepPlan`] with before → after and the
//! inverse), executed ([`Action::execute`]), verified ([`Action::verify`]: live state shows the intended
//! after — also how the executor reconciles after a crash and makes re-execution a no-op) and compensated
//! (run the inverse captured at planning time, see [`StepPlan::compensate`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::backend::{Backends, ChangeAction, Manifest, RecordChange, RecordSet};
use crate::canon;
use crate::{Error, Result};

/// Field manager used for server-side apply.
pub const FIELD_MANAGER: &str = "incident-core";

/// A reference to one Kubernetes object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ObjectRef {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace, if namespaced.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

impl ObjectRef {
    /// The reference of a manifest's object.
    #[must_use]
    pub fn of(m: &Manifest) -> Self {
        Self {
            api_version: m.api_version.clone(),
            kind: m.kind.clone(),
            namespace: m.namespace.clone(),
            name: m.name.clone(),
        }
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// A typed, mutating step. Serialized with an `action` tag in snake case
/// (`{"action": "scale_deployment", "context": ..., ...}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// `kubectl scale deployment NAME --replicas=N -n NS`. Scaling to 0 records the previous count (the
    /// inverse restores it).
    ScaleDeployment {
        /// Kubeconfig context.
        context: String,
        /// Namespace.
        namespace: String,
        /// Deployment name.
        name: String,
        /// Desired `spec.replicas`.
        replicas: u32,
    },
    /// Scale a deployment back to the replica count an earlier step of the same procedure recorded as its
    /// `before` (e.g. "restore writes" after "scale write services to 0"). Resolved to a
    /// [`Action::ScaleDeployment`] at planning time.
    RestoreReplicas {
        /// Kubeconfig context.
        context: String,
        /// Namespace.
        namespace: String,
        /// Deployment name.
        name: String,
        /// Id of the earlier step (a transitive dependency) whose `before` holds the count.
        recorded_by: String,
    },
    /// `kubectl rollout undo deployment/NAME [--to-revision=N] -n NS`.
    RollbackDeployment {
        /// Kubeconfig context.
        context: String,
        /// Namespace.
        namespace: String,
        /// Deployment name.
        name: String,
        /// Revision to return to; the previous revision when `None`.
        #[serde(default)]
        to_revision: Option<u64>,
    },
    /// `kubectl annotate service NAME KEY=VALUE -n NS` (`KEY-` to remove when `value` is `None`).
    AnnotateService {
        /// Kubeconfig context.
        context: String,
        /// Namespace.
        namespace: String,
        /// Service name.
        name: String,
        /// Annotation key (e.g. `circuit-breaker`).
        key: String,
        /// Value (`enabled`); `None` removes the annotation.
        #[serde(default)]
        value: Option<String>,
    },
    /// `kubectl label pod POD KEY=VALUE -n NS` (`KEY-` to remove when `value` is `None`).
    LabelPod {
        /// Kubeconfig context.
        context: String,
        /// Namespace.
        namespace: String,
        /// Pod name.
        pod: String,
        /// Label key (e.g. `health`).
        key: String,
        /// Value (`degraded`); `None` removes the label.
        #[serde(default)]
        value: Option<String>,
    },
    /// `kubectl patch configmap NAME -p '{"data":{...}}' -n NS`: `Some` sets a key, `None` removes it.
    PatchConfigMap {
        /// Kubeconfig context.
        context: String,
        /// Namespace.
        namespace: String,
        /// ConfigMap name.
        name: String,
        /// Keys to set or remove.
        data: BTreeMap<String, Option<String>>,
    },
    /// `kubectl apply --server-side` of pre-rendered manifests (e.g. `-k .../prod-secondary/`).
    ApplyManifests {
        /// Kubeconfig context.
        context: String,
        /// The objects.
        manifests: Vec<Manifest>,
    },
    /// The inverse of an apply: re-apply the previous values of the managed fields and delete objects the
    /// apply created. Produced by planning [`Action::ApplyManifests`]; rarely written by hand.
    RevertManifests {
        /// Kubeconfig context.
        context: String,
        /// Previous field values to re-apply.
        #[serde(default)]
        restore: Vec<Manifest>,
        /// Objects to delete.
        #[serde(default)]
        delete: Vec<ObjectRef>,
    },
    /// `aws eks update-kubeconfig --name ...` + context switch: resolve and reach the context. Changes no
    /// platform state (later steps name their context explicitly), so it has no inverse.
    SwitchContext {
        /// Kubeconfig context.
        context: String,
    },
    /// `aws rds restore-db-instance-to-point-in-time`. The restore time is validated against the source's
    /// restorable window while planning, before any call.
    RdsPointInTimeRestore {
        /// Region.
        region: String,
        /// `--source-db-instance-identifier`.
        source: String,
        /// `--target-db-instance-identifier`.
        target: String,
        /// `--restore-time`; the latest restorable time when `None`.
        #[serde(default)]
        restore_time: Option<DateTime<Utc>>,
    },
    /// `aws rds restore-db-instance-from-db-snapshot`.
    RdsRestoreFromSnapshot {
        /// Region.
        region: String,
        /// `--db-snapshot-identifier`; the latest available snapshot of `instance` when `None` (resolved
        /// while planning).
        #[serde(default)]
        snapshot: Option<String>,
        /// Instance whose snapshots are meant.
        instance: String,
        /// `--db-instance-identifier` of the new instance.
        target: String,
    },
    /// `aws rds promote-read-replica --db-instance-identifier ID`. Irreversible: no inverse.
    PromoteReadReplica {
        /// Region.
        region: String,
        /// Replica identifier.
        id: String,
    },
    /// `aws rds delete-db-instance` (with a final snapshot): the inverse of a restore.
    DeleteDbInstance {
        /// Region.
        region: String,
        /// Instance identifier.
        id: String,
    },
    /// `aws route53 change-resource-record-sets --hosted-zone-id Z --change-batch ...`. A batch that would
    /// leave a name that had a target with none is refused while planning.
    Route53Change {
        /// Hosted zone id.
        zone_id: String,
        /// The change batch (atomic).
        changes: Vec<RecordChange>,
    },
}

/// What planning an action against live state yields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StepPlan {
    /// kubectl/aws-like one-liner with the resolved values.
    pub summary: String,
    /// The live state the step manages, as read while planning (or as left by an earlier step).
    pub before: Value,
    /// The state the step will leave.
    pub after: Value,
    /// The action that undoes the step, captured from `before` (`None`: irreversible or nothing to undo).
    pub inverse: Option<Action>,
    /// The action to execute with every "latest"/"previous"/"recorded" value resolved.
    pub action: Action,
}

impl StepPlan {
    /// Whether executing would change nothing (`before == after`).
    #[must_use]
    pub fn is_noop(&self) -> bool {
        self.before == self.after
    }

    /// Run the inverse: plan it against live state and execute it unless live state already shows it.
    /// A Route53 inverse is followed until the change is `INSYNC` (for at most
    /// [`StepPlan::COMPENSATION_SYNC_BUDGET`]), as the forward change was. Returns a one-line description
    /// of what was done.
    ///
    /// # Errors
    /// The inverse's planning or execution error. A DNS change still not `INSYNC` when the wait ends is
    /// not an error: the records are restored, and the description says propagation is unconfirmed.
    pub async fn compensate(&self, backends: &Backends) -> Result<String> {
        let budget = chrono::TimeDelta::from_std(Self::COMPENSATION_SYNC_BUDGET).unwrap_or(chrono::TimeDelta::MAX);
        self.compensate_by(backends, backends.clock.now() + budget).await
    }

    /// How long [`StepPlan::compensate`] follows a Route53 change (Route53 propagates within 60 s).
    pub const COMPENSATION_SYNC_BUDGET: std::time::Duration = std::time::Duration::from_secs(300);

    /// [`StepPlan::compensate`] with the wait for a DNS change ending at `deadline_at`.
    pub(crate) async fn compensate_by(&self, backends: &Backends, deadline_at: DateTime<Utc>) -> Result<String> {
        let Some(inverse) = &self.inverse else {
            return Ok("nothing to undo".into());
        };
        let plan = inverse.plan(backends).await?;
        if plan.is_noop() {
            return Ok(format!("already undone: {}", plan.summary));
        }
        let (_, pending_dns) = plan.action.submit(backends).await?;
        let Some(id) = pending_dns else { return Ok(plan.summary) };
        match super::wait::dns_insync(backends, &id, deadline_at).await {
            Ok(synced) => Ok(format!("{}; {synced}", plan.summary)),
            // Route53 accepted the change and the records are restored; only propagation is unconfirmed.
            // Said so, rather than retried (a retry would find the records restored and report "already
            // undone", hiding that nobody saw the change reach every name server).
            Err(e) if e.kind() == crate::ErrorKind::Timeout => {
                Ok(format!("{}; records restored, propagation unconfirmed: {e}", plan.summary))
            }
            Err(e) => Err(e),
        }
    }
}

/// What an earlier step of the same procedure recorded, for [`Action::RestoreReplicas`].
pub(crate) type Recorded<'a> = dyn Fn(&str) -> Option<Value> + Send + Sync + 'a;

fn ns_name(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

fn opt_str(v: Option<&String>) -> Value {
    v.map_or(Value::Null, |s| Value::String(s.clone()))
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn record_key(r: &RecordSet) -> (String, String, Option<String>) {
    (r.name.clone(), r.rtype.clone(), r.set_identifier.clone())
}

fn sort_records(records: &mut [RecordSet]) {
    records.sort_by(|a, b| record_key(a).cmp(&record_key(b)).then_with(|| a.values.cmp(&b.values)));
}

fn is_gone(status: &str) -> bool {
    matches!(status, "deleting" | "deleted")
}

impl Action {
    /// Whether the action changes platform state (everything but [`Action::SwitchContext`]).
    #[must_use]
    pub fn is_mutating(&self) -> bool {
        !matches!(self, Self::SwitchContext { .. })
    }

    /// The snake-case name of the variant (`scale_deployment`, ...).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::ScaleDeployment { .. } => "scale_deployment",
            Self::RestoreReplicas { .. } => "restore_replicas",
            Self::RollbackDeployment { .. } => "rollback_deployment",
            Self::AnnotateService { .. } => "annotate_service",
            Self::LabelPod { .. } => "label_pod",
            Self::PatchConfigMap { .. } => "patch_config_map",
            Self::ApplyManifests { .. } => "apply_manifests",
            Self::RevertManifests { .. } => "revert_manifests",
            Self::SwitchContext { .. } => "switch_context",
            Self::RdsPointInTimeRestore { .. } => "rds_point_in_time_restore",
            Self::RdsRestoreFromSnapshot { .. } => "rds_restore_from_snapshot",
            Self::PromoteReadReplica { .. } => "promote_read_replica",
            Self::DeleteDbInstance { .. } => "delete_db_instance",
            Self::Route53Change { .. } => "route53_change",
        }
    }

    /// Keys of the resources the action changes (`deployment:ctx/ns/name`, `rds:region/id`, ...). Two
    /// steps changing the same resource must be ordered in a procedure.
    #[must_use]
    pub fn resources(&self) -> Vec<String> {
        match self {
            Self::ScaleDeployment { context, namespace, name, .. }
            | Self::RestoreReplicas { context, namespace, name, .. } => {
                vec![format!("deployment-replicas:{context}/{namespace}/{name}")]
            }
            Self::RollbackDeployment { context, namespace, name, .. } => {
                vec![format!("deployment-template:{context}/{namespace}/{name}")]
            }
            Self::AnnotateService { context, namespace, name, key, .. } => {
                vec![format!("service-annotation:{context}/{namespace}/{name}/{key}")]
            }
            Self::LabelPod { context, namespace, pod, key, .. } => {
                vec![format!("pod-label:{context}/{namespace}/{pod}/{key}")]
            }
            Self::PatchConfigMap { context, namespace, name, data } => {
                data.keys().map(|k| format!("configmap-key:{context}/{namespace}/{name}/{k}")).collect()
            }
            Self::ApplyManifests { context, manifests } => {
                manifests.iter().map(|m| format!("object:{context}/{}", ObjectRef::of(m))).collect()
            }
            Self::RevertManifests { context, restore, delete } => restore
                .iter()
                .map(ObjectRef::of)
                .chain(delete.iter().cloned())
                .map(|r| format!("object:{context}/{r}"))
                .collect(),
            Self::SwitchContext { .. } => Vec::new(),
            Self::RdsPointInTimeRestore { region, target, .. }
            | Self::RdsRestoreFromSnapshot { region, target, .. } => {
                vec![format!("rds:{region}/{target}")]
            }
            Self::PromoteReadReplica { region, id } | Self::DeleteDbInstance { region, id } => {
                vec![format!("rds:{region}/{id}")]
            }
            Self::Route53Change { zone_id, changes } => {
                let names: BTreeSet<&str> = changes.iter().map(|c| c.record.name.as_str()).collect();
                names.into_iter().map(|n| format!("dns:{zone_id}/{n}")).collect()
            }
        }
    }

    /// A kubectl/aws-like one-liner from the action's own fields (no live state).
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::ScaleDeployment { context, namespace, name, replicas } => {
                format!("kubectl --context {context} scale deployment {name} --replicas={replicas} -n {namespace}")
            }
            Self::RestoreReplicas { context, namespace, name, recorded_by } => format!(
                "kubectl --context {context} scale deployment {name} --replicas=<recorded by {recorded_by}> -n {namespace}"
            ),
            Self::RollbackDeployment { context, namespace, name, to_revision } => {
                let to = to_revision.map(|r| format!(" --to-revision={r}")).unwrap_or_default();
                format!("kubectl --context {context} rollout undo deployment/{name}{to} -n {namespace}")
            }
            Self::AnnotateService { context, namespace, name, key, value } => {
                let kv = value.as_ref().map_or_else(|| format!("{key}-"), |v| format!("{key}={v}"));
                format!("kubectl --context {context} annotate service {name} {kv} --overwrite -n {namespace}")
            }
            Self::LabelPod { context, namespace, pod, key, value } => {
                let kv = value.as_ref().map_or_else(|| format!("{key}-"), |v| format!("{key}={v}"));
                format!("kubectl --context {context} label pod {pod} {kv} --overwrite -n {namespace}")
            }
            Self::PatchConfigMap { context, namespace, name, data } => {
                let patch = json!({ "data": data });
                format!(
                    "kubectl --context {context} patch configmap {name} -p '{}' -n {namespace}",
                    canon::canonical(&patch)
                )
            }
            Self::ApplyManifests { context, manifests } => {
                let objs: Vec<String> = manifests.iter().map(|m| ObjectRef::of(m).to_string()).collect();
                format!("kubectl --context {context} apply --server-side ({})", objs.join(", "))
            }
            Self::RevertManifests { context, restore, delete } => {
                let r: Vec<String> = restore.iter().map(|m| ObjectRef::of(m).to_string()).collect();
                let d: Vec<String> = delete.iter().map(ToString::to_string).collect();
                format!(
                    "kubectl --context {context} apply --server-side ({}) && kubectl delete ({})",
                    r.join(", "),
                    d.join(", ")
                )
            }
            Self::SwitchContext { context } => format!("kubectl config use-context {context}"),
            Self::RdsPointInTimeRestore { region, source, target, restore_time } => {
                let t = restore_time
                    .map_or_else(|| "--use-latest-restorable-time".to_owned(), |t| format!("--restore-time {}", ts(t)));
                format!(
                    "aws rds restore-db-instance-to-point-in-time --region {region} --source-db-instance-identifier {source} --target-db-instance-identifier {target} {t}"
                )
            }
            Self::RdsRestoreFromSnapshot { region, snapshot, instance, target } => {
                let s = snapshot.clone().unwrap_or_else(|| format!("<latest of {instance}>"));
                format!(
                    "aws rds restore-db-instance-from-db-snapshot --region {region} --db-instance-identifier {target} --db-snapshot-identifier {s}"
                )
            }
            Self::PromoteReadReplica { region, id } => {
                format!("aws rds promote-read-replica --region {region} --db-instance-identifier {id}")
            }
            Self::DeleteDbInstance { region, id } => {
                format!(
                    "aws rds delete-db-instance --region {region} --db-instance-identifier {id} --final-db-snapshot-identifier {id}-final"
                )
            }
            Self::Route53Change { zone_id, changes } => {
                let mut s = format!("aws route53 change-resource-record-sets --hosted-zone-id {zone_id}");
                for c in changes {
                    let _ = write!(
                        s,
                        " [{} {} {}{} -> {}]",
                        c.action,
                        c.record.name,
                        c.record.rtype,
                        c.record.set_identifier.as_ref().map(|i| format!(" ({i})")).unwrap_or_default(),
                        c.record.values.join(",")
                    );
                }
                s.replace("Upsert", "UPSERT").replace("Delete", "DELETE").replace("Create", "CREATE")
            }
        }
    }

    /// Read the live state this action manages (the projection compared with a plan's `before`/`after`).
    ///
    /// # Errors
    /// `NotFound` when the target object does not exist (for actions that modify an existing object);
    /// backend errors.
    pub async fn observe(&self, b: &Backends) -> Result<Value> {
        match self {
            Self::ScaleDeployment { context, namespace, name, .. }
            | Self::RestoreReplicas { context, namespace, name, .. } => {
                let d = b.clusters.cluster(context).await?.deployment(namespace, name).await?.ok_or_else(|| {
                    Error::not_found(format!("deployment {} not found in context {context}", ns_name(namespace, name)))
                })?;
                Ok(json!({ "replicas": d.replicas }))
            }
            Self::RollbackDeployment { context, namespace, name, .. } => {
                let d = b.clusters.cluster(context).await?.deployment(namespace, name).await?.ok_or_else(|| {
                    Error::not_found(format!("deployment {} not found in context {context}", ns_name(namespace, name)))
                })?;
                let mut images = d.images;
                images.sort();
                Ok(json!({ "images": images }))
            }
            Self::AnnotateService { context, namespace, name, key, .. } => {
                let s = b.clusters.cluster(context).await?.service(namespace, name).await?.ok_or_else(|| {
                    Error::not_found(format!("service {} not found in context {context}", ns_name(namespace, name)))
                })?;
                Ok(json!({ "value": opt_str(s.annotations.get(key)) }))
            }
            Self::LabelPod { context, namespace, pod, key, .. } => {
                let pods = b.clusters.cluster(context).await?.pods(Some(namespace), &BTreeMap::new()).await?;
                let p = pods.into_iter().find(|p| &p.name == pod).ok_or_else(|| {
                    Error::not_found(format!("pod {} not found in context {context}", ns_name(namespace, pod)))
                })?;
                Ok(json!({ "value": opt_str(p.labels.get(key)) }))
            }
            Self::PatchConfigMap { context, namespace, name, data } => {
                let cm = b.clusters.cluster(context).await?.config_map(namespace, name).await?.ok_or_else(|| {
                    Error::not_found(format!("configmap {} not found in context {context}", ns_name(namespace, name)))
                })?;
                let view: BTreeMap<&String, Value> = data.keys().map(|k| (k, opt_str(cm.data.get(k)))).collect();
                Ok(json!({ "data": view }))
            }
            Self::ApplyManifests { context, manifests } => {
                let cluster = b.clusters.cluster(context).await?;
                let mut objects = Vec::with_capacity(manifests.len());
                for m in manifests {
                    let live = cluster.object(&m.api_version, &m.kind, m.namespace.as_deref(), &m.name).await?;
                    objects.push(live.map_or(Value::Null, |l| canon::project(&l, &m.body)));
                }
                Ok(json!({ "objects": objects }))
            }
            Self::RevertManifests { context, restore, delete } => {
                let cluster = b.clusters.cluster(context).await?;
                let mut objects = Vec::with_capacity(restore.len());
                for m in restore {
                    let live = cluster.object(&m.api_version, &m.kind, m.namespace.as_deref(), &m.name).await?;
                    objects.push(live.map_or(Value::Null, |l| canon::project(&l, &m.body)));
                }
                let mut present = Vec::with_capacity(delete.len());
                for r in delete {
                    let live = cluster.object(&r.api_version, &r.kind, r.namespace.as_deref(), &r.name).await?;
                    present.push(live.is_some());
                }
                Ok(json!({ "objects": objects, "present": present }))
            }
            Self::SwitchContext { context } => {
                b.clusters.cluster(context).await?;
                Ok(json!({ "context": context }))
            }
            Self::RdsPointInTimeRestore { region, target, .. }
            | Self::RdsRestoreFromSnapshot { region, target, .. } => {
                let t = b.databases.instance(region, target).await?;
                Ok(json!({ "target_exists": t.is_some_and(|i| !is_gone(&i.status)) }))
            }
            Self::PromoteReadReplica { region, id } => {
                let i = b
                    .databases
                    .instance(region, id)
                    .await?
                    .ok_or_else(|| Error::not_found(format!("DB instance {id} not found in {region}")))?;
                Ok(json!({ "replica_source": i.replica_source }))
            }
            Self::DeleteDbInstance { region, id } => {
                let i = b.databases.instance(region, id).await?;
                Ok(json!({ "exists": i.is_some_and(|i| !is_gone(&i.status)) }))
            }
            Self::Route53Change { zone_id, changes } => {
                let records = touched_records(b, zone_id, changes).await?;
                Ok(json!({ "records": records }))
            }
        }
    }

    /// Plan against live state: read it, validate, and compute after and inverse. Never mutates.
    ///
    /// # Errors
    /// `InvalidInput` when the action cannot apply to the live state (restore time outside the window, a
    /// DNS change leaving a name without target, no previous revision, ...); `NotFound`; backend errors.
    pub async fn plan(&self, b: &Backends) -> Result<StepPlan> {
        let before = self.observe(b).await?;
        self.plan_from(b, before, &|_| None).await
    }

    /// Plan from a known `before` (live, or the `after` of an earlier step changing the same resource).
    pub(crate) async fn plan_from(&self, b: &Backends, before: Value, recorded: &Recorded<'_>) -> Result<StepPlan> {
        let summary = self.describe();
        let plan = |after: Value, inverse: Option<Self>| StepPlan {
            summary: summary.clone(),
            before: before.clone(),
            after,
            inverse,
            action: self.clone(),
        };
        match self {
            Self::ScaleDeployment { context, namespace, name, replicas } => {
                let prev = before.get("replicas").and_then(Value::as_u64).and_then(|v| u32::try_from(v).ok());
                let inverse = prev.map(|p| Self::ScaleDeployment {
                    context: context.clone(),
                    namespace: namespace.clone(),
                    name: name.clone(),
                    replicas: p,
                });
                let mut p = plan(json!({ "replicas": replicas }), inverse);
                if let Some(prev) = prev {
                    p.summary = format!("{} (was {prev})", p.summary);
                }
                Ok(p)
            }
            Self::RestoreReplicas { context, namespace, name, recorded_by } => {
                let rec = recorded(recorded_by).ok_or_else(|| {
                    Error::invalid_input(format!(
                        "restore of {} needs step {recorded_by:?} planned earlier (make it a dependency)",
                        ns_name(namespace, name)
                    ))
                })?;
                let replicas =
                    rec.get("replicas").and_then(Value::as_u64).and_then(|v| u32::try_from(v).ok()).ok_or_else(
                        || Error::invalid_input(format!("step {recorded_by:?} recorded no replica count")),
                    )?;
                let resolved = Self::ScaleDeployment {
                    context: context.clone(),
                    namespace: namespace.clone(),
                    name: name.clone(),
                    replicas,
                };
                let mut p = Box::pin(resolved.plan_from(b, before, recorded)).await?;
                p.summary = format!("{} (recorded by {recorded_by})", p.summary);
                Ok(p)
            }
            Self::RollbackDeployment { context, namespace, name, to_revision } => {
                let cluster = b.clusters.cluster(context).await?;
                let d = cluster.deployment(namespace, name).await?.ok_or_else(|| {
                    Error::not_found(format!("deployment {} not found in context {context}", ns_name(namespace, name)))
                })?;
                let history = cluster.rollout_history(namespace, name).await?;
                let target = match to_revision {
                    Some(r) => history.iter().find(|h| h.revision == *r).ok_or_else(|| {
                        Error::not_found(format!(
                            "revision {r} of deployment {} not in rollout history",
                            ns_name(namespace, name)
                        ))
                    })?,
                    None => history.iter().filter(|h| h.revision < d.revision).max_by_key(|h| h.revision).ok_or_else(
                        || {
                            Error::invalid_input(format!(
                                "deployment {} has no revision before {} to roll back to",
                                ns_name(namespace, name),
                                d.revision
                            ))
                        },
                    )?,
                };
                let mut images = target.images.clone();
                images.sort();
                let resolved = Self::RollbackDeployment {
                    context: context.clone(),
                    namespace: namespace.clone(),
                    name: name.clone(),
                    to_revision: Some(target.revision),
                };
                let inverse = Self::RollbackDeployment {
                    context: context.clone(),
                    namespace: namespace.clone(),
                    name: name.clone(),
                    to_revision: Some(d.revision),
                };
                let mut p = plan(json!({ "images": images }), Some(inverse));
                p.summary = format!("{} (revision {} -> {})", resolved.describe(), d.revision, target.revision);
                p.action = resolved;
                Ok(p)
            }
            Self::AnnotateService { context, namespace, name, key, value } => {
                let prev = before.get("value").and_then(Value::as_str).map(str::to_owned);
                let inverse = Self::AnnotateService {
                    context: context.clone(),
                    namespace: namespace.clone(),
                    name: name.clone(),
                    key: key.clone(),
                    value: prev,
                };
                Ok(plan(json!({ "value": value }), Some(inverse)))
            }
            Self::LabelPod { context, namespace, pod, key, value } => {
                let prev = before.get("value").and_then(Value::as_str).map(str::to_owned);
                let inverse = Self::LabelPod {
                    context: context.clone(),
                    namespace: namespace.clone(),
                    pod: pod.clone(),
                    key: key.clone(),
                    value: prev,
                };
                Ok(plan(json!({ "value": value }), Some(inverse)))
            }
            Self::PatchConfigMap { context, namespace, name, data } => {
                let prev: BTreeMap<String, Option<String>> = data
                    .keys()
                    .map(|k| {
                        (k.clone(), before.pointer(&format!("/data/{k}")).and_then(Value::as_str).map(str::to_owned))
                    })
                    .collect();
                let inverse = Self::PatchConfigMap {
                    context: context.clone(),
                    namespace: namespace.clone(),
                    name: name.clone(),
                    data: prev,
                };
                Ok(plan(json!({ "data": data }), Some(inverse)))
            }
            Self::ApplyManifests { context, manifests } => {
                let objects = before.get("objects").and_then(Value::as_array).cloned().unwrap_or_default();
                let mut restore = Vec::new();
                let mut delete = Vec::new();
                for (m, live) in manifests.iter().zip(objects.iter().chain(std::iter::repeat(&Value::Null))) {
                    if live.is_null() {
                        delete.push(ObjectRef::of(m));
                    } else {
                        restore.push(Manifest { body: live.clone(), ..m.clone() });
                    }
                }
                let after: Vec<Value> = manifests.iter().map(|m| canon::project(&m.body, &m.body)).collect();
                let inverse = Self::RevertManifests { context: context.clone(), restore, delete };
                Ok(plan(json!({ "objects": after }), Some(inverse)))
            }
            Self::RevertManifests { restore, delete, .. } => {
                let after: Vec<Value> = restore.iter().map(|m| canon::project(&m.body, &m.body)).collect();
                Ok(plan(json!({ "objects": after, "present": vec![false; delete.len()] }), None))
            }
            Self::SwitchContext { .. } => Ok(plan(before.clone(), None)),
            Self::RdsPointInTimeRestore { region, source, target, restore_time } => {
                let src =
                    b.databases.instance(region, source).await?.ok_or_else(|| {
                        Error::not_found(format!("source DB instance {source} not found in {region}"))
                    })?;
                if let Some(t) = restore_time {
                    match (src.earliest_restorable_time, src.latest_restorable_time) {
                        (Some(e), Some(l)) if *t >= e && *t <= l => {}
                        (Some(e), Some(l)) => {
                            return Err(Error::invalid_input(format!(
                                "restore time {} is outside the restorable window of {source} [{} .. {}]",
                                ts(*t),
                                ts(e),
                                ts(l)
                            )));
                        }
                        _ => {
                            return Err(Error::invalid_input(format!(
                                "{source} reports no restorable window; cannot restore to {}",
                                ts(*t)
                            )));
                        }
                    }
                } else if src.latest_restorable_time.is_none() {
                    return Err(Error::invalid_input(format!("{source} reports no latest restorable time")));
                }
                let inverse = Self::DeleteDbInstance { region: region.clone(), id: target.clone() };
                Ok(plan(json!({ "target_exists": true }), Some(inverse)))
            }
            Self::RdsRestoreFromSnapshot { region, snapshot, instance, target } => {
                let snaps = b.databases.snapshots(region, Some(instance)).await?;
                let chosen = match snapshot {
                    Some(s) => snaps
                        .iter()
                        .find(|x| &x.id == s)
                        .ok_or_else(|| Error::not_found(format!("snapshot {s} of {instance} not found in {region}")))?,
                    None => {
                        snaps.iter().filter(|x| x.status == "available").max_by_key(|x| x.created_at).ok_or_else(
                            || Error::not_found(format!("no available snapshot of {instance} in {region}")),
                        )?
                    }
                };
                let resolved = Self::RdsRestoreFromSnapshot {
                    region: region.clone(),
                    snapshot: Some(chosen.id.clone()),
                    instance: instance.clone(),
                    target: target.clone(),
                };
                let inverse = Self::DeleteDbInstance { region: region.clone(), id: target.clone() };
                let mut p = plan(json!({ "target_exists": true }), Some(inverse));
                p.summary = resolved.describe();
                p.action = resolved;
                Ok(p)
            }
            Self::PromoteReadReplica { .. } => Ok(plan(json!({ "replica_source": null }), None)),
            Self::DeleteDbInstance { .. } => Ok(plan(json!({ "exists": false }), None)),
            Self::Route53Change { zone_id, changes } => {
                let current: Vec<RecordSet> =
                    serde_json::from_value(before.get("records").cloned().unwrap_or(Value::Null))
                        .map_err(|e| Error::internal(format!("unreadable DNS state: {e}")))?;
                let after = apply_changes(&current, changes)?;
                let inverse = inverse_changes(&current, &after);
                let inverse =
                    (!inverse.is_empty()).then(|| Self::Route53Change { zone_id: zone_id.clone(), changes: inverse });
                Ok(plan(json!({ "records": after }), inverse))
            }
        }
    }

    /// Perform the backend call. Returns a one-line detail of what the backend reported.
    ///
    /// # Errors
    /// Backend errors; `Internal` for an unresolved [`Action::RestoreReplicas`] (plan first).
    pub async fn execute(&self, b: &Backends) -> Result<String> {
        match self {
            Self::ScaleDeployment { context, namespace, name, replicas } => {
                b.clusters.cluster(context).await?.scale(namespace, name, *replicas).await?;
                Ok(format!("deployment {} scaled to {replicas}", ns_name(namespace, name)))
            }
            Self::RestoreReplicas { recorded_by, .. } => Err(Error::internal(format!(
                "restore_replicas (recorded by {recorded_by}) must be planned before it is executed"
            ))),
            Self::RollbackDeployment { context, namespace, name, to_revision } => {
                let r = b.clusters.cluster(context).await?.rollback(namespace, name, *to_revision).await?;
                Ok(format!(
                    "deployment {} rolled back to the template of revision {}",
                    ns_name(namespace, name),
                    r.revision
                ))
            }
            Self::AnnotateService { context, namespace, name, key, value } => {
                b.clusters.cluster(context).await?.annotate_service(namespace, name, key, value.as_deref()).await?;
                Ok(format!(
                    "service {} annotated {key}={}",
                    ns_name(namespace, name),
                    value.as_deref().unwrap_or("<removed>")
                ))
            }
            Self::LabelPod { context, namespace, pod, key, value } => {
                b.clusters.cluster(context).await?.label_pod(namespace, pod, key, value.as_deref()).await?;
                Ok(format!(
                    "pod {} labelled {key}={}",
                    ns_name(namespace, pod),
                    value.as_deref().unwrap_or("<removed>")
                ))
            }
            Self::PatchConfigMap { context, namespace, name, data } => {
                b.clusters.cluster(context).await?.patch_config_map(namespace, name, data).await?;
                Ok(format!("configmap {} patched", ns_name(namespace, name)))
            }
            Self::ApplyManifests { context, manifests } => {
                let applied = b.clusters.cluster(context).await?.apply(manifests, FIELD_MANAGER).await?;
                let parts: Vec<String> = applied.iter().map(|a| format!("{} {}", a.object, a.outcome)).collect();
                Ok(parts.join(", "))
            }
            Self::RevertManifests { context, restore, delete } => {
                let cluster = b.clusters.cluster(context).await?;
                if !restore.is_empty() {
                    cluster.apply(restore, FIELD_MANAGER).await?;
                }
                for r in delete {
                    match cluster.delete_object(&r.api_version, &r.kind, r.namespace.as_deref(), &r.name).await {
                        Ok(()) => {}
                        Err(e) if e.kind() == crate::ErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(format!("restored {} object(s), deleted {}", restore.len(), delete.len()))
            }
            Self::SwitchContext { context } => {
                let nodes = b.clusters.cluster(context).await?.nodes().await?;
                let ready = nodes.iter().filter(|n| n.ready).count();
                Ok(format!("context {context} reachable: {ready}/{} nodes ready", nodes.len()))
            }
            Self::RdsPointInTimeRestore { region, source, target, restore_time } => {
                let i = b.databases.restore_to_point_in_time(region, source, target, *restore_time).await?;
                Ok(format!("{target} restoring from {source} (status {})", i.status))
            }
            Self::RdsRestoreFromSnapshot { region, snapshot, instance, target } => {
                let snap = match snapshot {
                    Some(s) => s.clone(),
                    None => b
                        .databases
                        .snapshots(region, Some(instance))
                        .await?
                        .into_iter()
                        .filter(|x| x.status == "available")
                        .max_by_key(|x| x.created_at)
                        .map(|x| x.id)
                        .ok_or_else(|| Error::not_found(format!("no available snapshot of {instance} in {region}")))?,
                };
                let i = b.databases.restore_from_snapshot(region, &snap, target).await?;
                Ok(format!("{target} restoring from snapshot {snap} (status {})", i.status))
            }
            Self::PromoteReadReplica { region, id } => {
                let i = b.databases.promote_read_replica(region, id).await?;
                Ok(format!("{id} promoted (status {})", i.status))
            }
            Self::DeleteDbInstance { region, id } => {
                b.databases.delete_instance(region, id).await?;
                Ok(format!("{id} deleting"))
            }
            Self::Route53Change { zone_id, changes } => {
                let info = b.dns.change(zone_id, changes, "incident-core").await?;
                Ok(format!("change {} {}", info.id, info.status))
            }
        }
    }

    /// [`Action::execute`] for the executor: also returns the id of a Route53 change still `PENDING`, which
    /// the step then follows until it is `INSYNC`.
    pub(crate) async fn submit(&self, b: &Backends) -> Result<(String, Option<String>)> {
        if let Self::Route53Change { zone_id, changes } = self {
            let info = b.dns.change(zone_id, changes, "incident-core").await?;
            let pending = (info.status != crate::backend::ChangeStatus::Insync).then(|| info.id.clone());
            return Ok((format!("change {} {}", info.id, info.status), pending));
        }
        Ok((self.execute(b).await?, None))
    }

    /// Whether live state already shows `after` (the intended result of a plan of this action).
    ///
    /// # Errors
    /// Backend errors while reading.
    pub async fn verify(&self, b: &Backends, after: &Value) -> Result<bool> {
        Ok(&self.observe(b).await? == after)
    }

    /// Context, namespace, regions and identifiers the action touches, for guard rails.
    pub(crate) fn scope(&self) -> Scope {
        let mut s = Scope::default();
        match self {
            Self::ScaleDeployment { context, namespace, name, replicas } => {
                s.context = Some(context.clone());
                s.namespaces.push(namespace.clone());
                s.names.push(name.clone());
                s.replicas.push(*replicas);
            }
            Self::RestoreReplicas { context, namespace, name, .. }
            | Self::RollbackDeployment { context, namespace, name, .. }
            | Self::AnnotateService { context, namespace, name, .. }
            | Self::PatchConfigMap { context, namespace, name, .. } => {
                s.context = Some(context.clone());
                s.namespaces.push(namespace.clone());
                s.names.push(name.clone());
            }
            Self::LabelPod { context, namespace, pod, .. } => {
                s.context = Some(context.clone());
                s.namespaces.push(namespace.clone());
                s.names.push(pod.clone());
            }
            Self::ApplyManifests { context, manifests } | Self::RevertManifests { context, restore: manifests, .. } => {
                s.context = Some(context.clone());
                for m in manifests {
                    if let Some(ns) = &m.namespace {
                        s.namespaces.push(ns.clone());
                    }
                    s.names.push(m.name.clone());
                    if let Some(r) = m.body.pointer("/spec/replicas").and_then(Value::as_u64) {
                        s.replicas.push(u32::try_from(r).unwrap_or(u32::MAX));
                    }
                }
                if let Self::RevertManifests { delete, .. } = self {
                    for r in delete {
                        if let Some(ns) = &r.namespace {
                            s.namespaces.push(ns.clone());
                        }
                        s.names.push(r.name.clone());
                    }
                }
            }
            Self::SwitchContext { context } => s.context = Some(context.clone()),
            Self::RdsPointInTimeRestore { region, source, target, .. } => {
                s.region = Some(region.clone());
                s.names.extend([source.clone(), target.clone()]);
            }
            Self::RdsRestoreFromSnapshot { region, instance, target, .. } => {
                s.region = Some(region.clone());
                s.names.extend([instance.clone(), target.clone()]);
            }
            Self::PromoteReadReplica { region, id } | Self::DeleteDbInstance { region, id } => {
                s.region = Some(region.clone());
                s.names.push(id.clone());
            }
            Self::Route53Change { .. } => {}
        }
        s
    }
}

/// What an action touches (for guard rails).
#[derive(Debug, Default, Clone)]
pub(crate) struct Scope {
    pub(crate) context: Option<String>,
    pub(crate) namespaces: Vec<String>,
    pub(crate) region: Option<String>,
    pub(crate) names: Vec<String>,
    pub(crate) replicas: Vec<u32>,
}

async fn touched_records(b: &Backends, zone_id: &str, changes: &[RecordChange]) -> Result<Vec<RecordSet>> {
    let names: BTreeSet<&str> = changes.iter().map(|c| c.record.name.as_str()).collect();
    let types: BTreeSet<(&str, &str)> =
        changes.iter().map(|c| (c.record.name.as_str(), c.record.rtype.as_str())).collect();
    let mut out = Vec::new();
    for name in names {
        for r in b.dns.record_sets(zone_id, Some(name)).await? {
            if types.contains(&(r.name.as_str(), r.rtype.as_str())) {
                out.push(r);
            }
        }
    }
    sort_records(&mut out);
    Ok(out)
}

fn has_target(records: &[RecordSet], name: &str) -> bool {
    records.iter().any(|r| r.name == name && !r.values.is_empty())
}

fn apply_changes(current: &[RecordSet], changes: &[RecordChange]) -> Result<Vec<RecordSet>> {
    let mut records = current.to_vec();
    for c in changes {
        let key = record_key(&c.record);
        let pos = records.iter().position(|r| record_key(r) == key);
        match (c.action, pos) {
            (ChangeAction::Upsert, Some(i)) => records[i] = c.record.clone(),
            (ChangeAction::Upsert | ChangeAction::Create, None) => records.push(c.record.clone()),
            (ChangeAction::Create, Some(_)) => {
                return Err(Error::invalid_input(format!(
                    "CREATE of {} {}: the record already exists",
                    c.record.name, c.record.rtype
                )));
            }
            (ChangeAction::Delete, Some(i)) if records[i] == c.record => {
                records.remove(i);
            }
            (ChangeAction::Delete, _) => {
                return Err(Error::invalid_input(format!(
                    "DELETE of {} {} does not match a live record exactly",
                    c.record.name, c.record.rtype
                )));
            }
        }
    }
    let names: BTreeSet<&str> = changes.iter().map(|c| c.record.name.as_str()).collect();
    for name in names {
        if has_target(current, name) && !has_target(&records, name) {
            return Err(Error::invalid_input(format!("change batch would leave {name} with no target")));
        }
    }
    sort_records(&mut records);
    Ok(records)
}

fn inverse_changes(before: &[RecordSet], after: &[RecordSet]) -> Vec<RecordChange> {
    let mut out = Vec::new();
    for a in after {
        if !before.iter().any(|b| record_key(b) == record_key(a)) {
            out.push(RecordChange { action: ChangeAction::Delete, record: a.clone() });
        }
    }
    for b in before {
        if !after.iter().any(|a| a == b) {
            out.push(RecordChange { action: ChangeAction::Upsert, record: b.clone() });
        }
    }
    out
}

mod inverse;
pub use inverse::ExpectedInverse;
pub(crate) use inverse::check_inverse;

#[cfg(test)]
mod tests;
