//! Simulated Kubernetes clusters ([`Cluster`], [`Clusters`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::platform::{Inner, Scope, scale_in};
use super::state::{ConfigMapState, DeploymentState, ServiceState, World, key};
use crate::backend::{
    Applied, Cluster, ClusterEvent, Clusters, ConfigMap, Deployment, Endpoints, Manifest, Node, NodeCondition,
    NodeUsage, Pod, PodUsage, Revision, RolloutStatus, ServerHealth, Service, Usage,
};
use crate::{Error, Result};

/// All kube contexts of the simulated world.
pub(crate) struct SimClusters {
    pub(crate) inner: Arc<Inner>,
}

#[async_trait::async_trait]
impl Clusters for SimClusters {
    async fn cluster(&self, context: &str) -> Result<Arc<dyn Cluster>> {
        self.inner.lock().cluster(context)?;
        Ok(Arc::new(SimCluster { inner: self.inner.clone(), context: context.to_string() }))
    }

    fn default_context(&self) -> String {
        self.inner.lock().primary_region().map(|r| r.context.clone()).unwrap_or_default()
    }
}

/// One simulated cluster.
pub(crate) struct SimCluster {
    inner: Arc<Inner>,
    context: String,
}

fn dep_not_found(ns: &str, name: &str) -> Error {
    Error::not_found(format!("deployments.apps \"{name}\" not found in namespace {ns}"))
}

fn get_dep<'w>(w: &'w World, ctx: &str, ns: &str, name: &str) -> Result<&'w DeploymentState> {
    w.cluster(ctx)?.deployments.get(&key(ns, name)).ok_or_else(|| dep_not_found(ns, name))
}

fn deployment_json(d: &DeploymentState) -> Value {
    let containers: Vec<Value> = d.template().iter().map(|(c, i)| json!({"name": c, "image": i})).collect();
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": d.name, "namespace": d.namespace, "generation": d.generation, "annotations": d.annotations},
        "spec": {
            "replicas": d.replicas,
            "selector": {"matchLabels": {"app": d.name}},
            "template": {"metadata": {"labels": {"app": d.name}}, "spec": {"containers": containers}},
        },
    })
}

fn config_map_json(c: &ConfigMapState) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": c.name, "namespace": c.namespace}, "data": c.data})
}

fn service_json(s: &ServiceState) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": s.name, "namespace": s.namespace, "annotations": s.annotations},
        "spec": {"selector": s.selector},
    })
}

fn generic_key(api_version: &str, kind: &str, ns: Option<&str>, name: &str) -> String {
    format!("{api_version}|{kind}|{}|{name}", ns.unwrap_or(""))
}

fn str_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect())
        .unwrap_or_default()
}

fn object_of(
    w: &World,
    ctx: &str,
    api_version: &str,
    kind: &str,
    ns: Option<&str>,
    name: &str,
) -> Result<Option<Value>> {
    let c = w.cluster(ctx)?;
    let nsk = key(ns.unwrap_or("default"), name);
    Ok(match kind {
        "Deployment" => c.deployments.get(&nsk).map(deployment_json),
        "ConfigMap" => c.config_maps.get(&nsk).map(config_map_json),
        "Service" => c.services.get(&nsk).map(service_json),
        _ => c.objects.get(&generic_key(api_version, kind, ns, name)).cloned(),
    })
}

fn apply_one(w: &mut World, ctx: &str, m: &Manifest) -> Result<Applied> {
    let ns = m.namespace.clone().unwrap_or_else(|| "default".into());
    let object = match &m.namespace {
        Some(n) => format!("{}/{n}/{}", m.kind, m.name),
        None => format!("{}/{}", m.kind, m.name),
    };
    let before = object_of(w, ctx, &m.api_version, &m.kind, m.namespace.as_deref(), &m.name)?;
    let body = &m.body;
    match m.kind.as_str() {
        "Deployment" => {
            let containers = body
                .pointer("/spec/template/spec/containers")
                .and_then(Value::as_array)
                .ok_or_else(|| Error::invalid_input(format!("{object}: spec.template.spec.containers is required")))?;
            let mut template = BTreeMap::new();
            for c in containers {
                let (Some(n), Some(i)) =
                    (c.get("name").and_then(Value::as_str), c.get("image").and_then(Value::as_str))
                else {
                    return Err(Error::invalid_input(format!("{object}: every container needs a name and an image")));
                };
                template.insert(n.to_string(), i.to_string());
            }
            if template.is_empty() {
                return Err(Error::invalid_input(format!("{object}: no containers")));
            }
            let replicas = body
                .pointer("/spec/replicas")
                .and_then(Value::as_u64)
                .map(|r| {
                    u32::try_from(r).map_err(|_| Error::invalid_input(format!("{object}: spec.replicas out of range")))
                })
                .transpose()?;
            let cause = body
                .pointer("/metadata/annotations/kubernetes.io~1change-cause")
                .and_then(Value::as_str)
                .map(str::to_string);
            let k = key(&ns, &m.name);
            if !w.cluster(ctx)?.deployments.contains_key(&k) {
                let now = w.now;
                let dep = DeploymentState {
                    namespace: ns.clone(),
                    name: m.name.clone(),
                    replicas: 0,
                    memory_mi: 512,
                    generation: 0,
                    annotations: BTreeMap::new(),
                    replica_sets: Vec::new(),
                    current: String::new(),
                    pods: Vec::new(),
                    rollout_started: now,
                    pod_serial: 0,
                };
                let c = w.cluster_mut(ctx)?;
                c.deployments.insert(k.clone(), dep);
                c.services.entry(k.clone()).or_insert_with(|| ServiceState {
                    namespace: ns.clone(),
                    name: m.name.clone(),
                    selector: [("app".to_string(), m.name.clone())].into(),
                    annotations: BTreeMap::new(),
                });
            }
            if let Some(r) = replicas {
                scale_in(w, ctx, &ns, &m.name, r, "api")?;
                w.ops.pop(); // the apply is logged as one operation below
            }
            w.rollout(ctx, &ns, &m.name, template, cause)?;
        }
        "ConfigMap" => {
            let data = str_map(body.get("data"));
            let c = w.cluster_mut(ctx)?;
            c.config_maps
                .insert(key(&ns, &m.name), ConfigMapState { namespace: ns.clone(), name: m.name.clone(), data });
        }
        "Service" => {
            let selector = str_map(body.pointer("/spec/selector"));
            let annotations = str_map(body.pointer("/metadata/annotations"));
            let c = w.cluster_mut(ctx)?;
            c.services.insert(
                key(&ns, &m.name),
                ServiceState { namespace: ns.clone(), name: m.name.clone(), selector, annotations },
            );
        }
        _ => {
            let c = w.cluster_mut(ctx)?;
            c.objects.insert(generic_key(&m.api_version, &m.kind, m.namespace.as_deref(), &m.name), body.clone());
        }
    }
    let after = object_of(w, ctx, &m.api_version, &m.kind, m.namespace.as_deref(), &m.name)?;
    let outcome = match &before {
        None => "created",
        Some(b) if Some(b) == after.as_ref() => "unchanged",
        Some(_) => "configured",
    };
    Ok(Applied { object, before, outcome: outcome.into() })
}

#[async_trait::async_trait]
impl Cluster for SimCluster {
    fn context(&self) -> &str {
        &self.context
    }

    async fn whoami(&self) -> Result<String> {
        let ctx = self.context.clone();
        self.inner
            .read(Scope::Context(ctx.clone()), "create selfsubjectreview", |w| {
                w.cluster(&ctx)?;
                Ok("system:serviceaccount:incident-core:incident-core".to_owned())
            })
            .await
    }

    async fn server_health(&self) -> Result<ServerHealth> {
        let ctx = self.context.clone();
        self.inner
            .read(Scope::Context(ctx.clone()), "get /readyz", |w| {
                w.cluster(&ctx)?;
                Ok(ServerHealth {
                    live: true,
                    ready: true,
                    version: Some("v1.35.4-sim".into()),
                    failed_checks: Vec::new(),
                })
            })
            .await
    }

    async fn usage(&self) -> Result<Usage> {
        let pods = self.pods(None, &BTreeMap::new()).await?;
        let nodes = self.nodes().await?;
        Ok(Usage {
            nodes: nodes
                .iter()
                .filter_map(|n| {
                    Some(NodeUsage { name: n.name.clone(), cpu_millis: n.cpu_millis?, memory_bytes: n.memory_bytes? })
                })
                .collect(),
            pods: pods
                .iter()
                .filter_map(|p| {
                    Some(PodUsage {
                        namespace: p.namespace.clone(),
                        name: p.name.clone(),
                        cpu_millis: 0,
                        memory_bytes: p.memory_bytes?,
                    })
                })
                .collect(),
        })
    }

    async fn deployment(&self, namespace: &str, name: &str) -> Result<Option<Deployment>> {
        let ctx = self.context.clone();
        self.inner
            .read(Scope::Context(ctx.clone()), "get deployment", |w| {
                Ok(w.cluster(&ctx)?.deployments.get(&key(namespace, name)).map(|d| w.deployment_view(&ctx, d)))
            })
            .await
    }

    async fn deployments(&self, namespace: &str) -> Result<Vec<Deployment>> {
        let ctx = self.context.clone();
        self.inner
            .read(Scope::Context(ctx.clone()), "list deployments", |w| {
                Ok(w.cluster(&ctx)?
                    .deployments
                    .values()
                    .filter(|d| d.namespace == namespace)
                    .map(|d| w.deployment_view(&ctx, d))
                    .collect())
            })
            .await
    }

    async fn scale(&self, namespace: &str, name: &str, replicas: u32) -> Result<()> {
        let ctx = self.context.clone();
        self.inner
            .mutate(Scope::Context(ctx.clone()), "scale deployment", false, |w, _| {
                scale_in(w, &ctx, namespace, name, replicas, "api")
            })
            .await
    }

    async fn rollout_history(&self, namespace: &str, name: &str) -> Result<Vec<Revision>> {
        let ctx = self.context.clone();
        self.inner
            .read(Scope::Context(ctx.clone()), "rollout history", |w| Ok(get_dep(w, &ctx, namespace, name)?.history()))
            .await
    }

    async fn rollback(&self, namespace: &str, name: &str, to_revision: Option<u64>) -> Result<Revision> {
        let ctx = self.context.clone();
        self.inner
            .mutate(Scope::Context(ctx.clone()), "rollout undo", true, |w, scope| {
                let dep = get_dep(w, &ctx, namespace, name)?;
                let target = dep.rollback_target(to_revision)?;
                let from = dep.revision();
                if target.name == dep.current {
                    // kubectl: "skipped rollback (current template already matches revision N)"
                    return dep
                        .history()
                        .into_iter()
                        .find(|r| r.replica_set == target.name)
                        .ok_or_else(|| Error::internal("current revision missing from history"));
                }
                w.rollout(&ctx, namespace, name, target.template.clone(), None)?;
                let dep = get_dep(w, &ctx, namespace, name)?;
                let rev = dep
                    .history()
                    .into_iter()
                    .find(|r| r.replica_set == target.name)
                    .ok_or_else(|| Error::internal("rolled-back revision missing from history"))?;
                w.log_op(
                    scope,
                    format!(
                        "rollout undo {namespace}/{name} to-revision={} ({}) {from}->{}",
                        target.revision, target.name, rev.revision
                    ),
                    format!("Deployment/{namespace}/{name}"),
                    "api",
                );
                Ok(rev)
            })
            .await
    }

    async fn rollout_status(&self, namespace: &str, name: &str) -> Result<RolloutStatus> {
        let ctx = self.context.clone();
        self.inner
            .read(Scope::Context(ctx.clone()), "rollout status", |w| {
                Ok(w.rollout_status(&ctx, get_dep(w, &ctx, namespace, name)?))
            })
            .await
    }

    /// A watch in virtual time: one request (its latency and faults), then the deployment as the clock
    /// moves, seen at one-second resolution, until the rollout completes or fails or `timeout` passes.
    async fn follow_rollout(
        &self,
        namespace: &str,
        name: &str,
        timeout: std::time::Duration,
    ) -> Result<Option<RolloutStatus>> {
        const TICK: std::time::Duration = std::time::Duration::from_secs(1);
        let mut st = self.rollout_status(namespace, name).await?;
        let mut left = timeout;
        while !(st.complete || st.failed || left.is_zero()) {
            let step = left.min(TICK);
            self.inner.sleep(step).await;
            left -= step;
            st = {
                let w = self.inner.lock();
                w.rollout_status(&self.context, get_dep(&w, &self.context, namespace, name)?)
            };
        }
        Ok(Some(st))
    }

    async fn pods<'a>(&self, namespace: Option<&'a str>, selector: &BTreeMap<String, String>) -> Result<Vec<Pod>> {
        let ctx = self.context.clone();
        self.inner
            .read(Scope::Context(ctx.clone()), "list pods", |w| {
                w.cluster(&ctx)?;
                Ok(w.derive_pods(&ctx)
                    .into_iter()
                    .map(|p| p.pod)
                    .filter(|p| namespace.is_none_or(|n| p.namespace == n))
                    .filter(|p| selector.iter().all(|(k, v)| p.labels.get(k) == Some(v)))
                    .collect())
            })
            .await
    }

    async fn nodes(&self) -> Result<Vec<Node>> {
        let ctx = self.context.clone();
        self.inner
            .read(Scope::Context(ctx.clone()), "list nodes", |w| {
                let c = w.cluster(&ctx)?;
                let pods = w.derive_pods(&ctx);
                Ok(c.nodes
                    .iter()
                    .map(|n| {
                        let on: Vec<&Pod> =
                            pods.iter().map(|p| &p.pod).filter(|p| p.node.as_deref() == Some(&n.name)).collect();
                        let mem: u64 = on.iter().filter_map(|p| p.memory_bytes).sum::<u64>() + 1024 * 1024 * 1024;
                        let cond = |kind: &str, status: &str, reason: &str, message: &str| NodeCondition {
                            kind: kind.into(),
                            status: status.into(),
                            reason: Some(reason.into()),
                            message: Some(message.into()),
                        };
                        let ready = if n.ready {
                            cond("Ready", "True", "KubeletReady", "kubelet is posting ready status")
                        } else {
                            cond("Ready", "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
                        };
                        Node {
                            name: n.name.clone(),
                            ready: n.ready,
                            conditions: vec![
                                cond(
                                    "MemoryPressure",
                                    "False",
                                    "KubeletHasSufficientMemory",
                                    "kubelet has sufficient memory available",
                                ),
                                cond(
                                    "DiskPressure",
                                    "False",
                                    "KubeletHasNoDiskPressure",
                                    "kubelet has no disk pressure",
                                ),
                                cond(
                                    "PIDPressure",
                                    "False",
                                    "KubeletHasSufficientPID",
                                    "kubelet has sufficient PID available",
                                ),
                                ready,
                            ],
                            memory_bytes: n.ready.then_some(mem),
                            cpu_millis: n.ready.then_some(250 + 100 * on.len() as u64),
                        }
                    })
                    .collect())
            })
            .await
    }

    async fn service(&self, namespace: &str, name: &str) -> Result<Option<Service>> {
        let ctx = self.context.clone();
        self.inner
            .read(Scope::Context(ctx.clone()), "get service", |w| {
                Ok(w.cluster(&ctx)?.services.get(&key(namespace, name)).map(|s| Service {
                    namespace: s.namespace.clone(),
                    name: s.name.clone(),
                    selector: s.selector.clone(),
                    annotations: s.annotations.clone(),
                }))
            })
            .await
    }

    async fn services(&self, namespace: &str) -> Result<Vec<Service>> {
        let ctx = self.context.clone();
        self.inner
            .read(Scope::Context(ctx.clone()), "list services", |w| {
                Ok(w.cluster(&ctx)?
                    .services
                    .values()
                    .filter(|s| s.namespace == namespace)
                    .map(|s| Service {
                        namespace: s.namespace.clone(),
                        name: s.name.clone(),
                        selector: s.selector.clone(),
                        annotations: s.annotations.clone(),
                    })
                    .collect())
            })
            .await
    }

    async fn endpoints(&self, namespace: &str) -> Result<Vec<Endpoints>> {
        let ctx = self.context.clone();
        self.inner
            .read(Scope::Context(ctx.clone()), "list endpoints", |w| {
                let pods = w.derive_pods(&ctx);
                Ok(w.cluster(&ctx)?
                    .services
                    .values()
                    .filter(|s| s.namespace == namespace)
                    .map(|s| {
                        let matching = pods.iter().filter(|p| {
                            p.pod.namespace == s.namespace
                                && p.pod.node.is_some()
                                && !s.selector.is_empty()
                                && s.selector.iter().all(|(k, v)| p.pod.labels.get(k) == Some(v))
                        });
                        let (ready, not_ready): (Vec<_>, Vec<_>) = matching.partition(|p| p.pod.ready);
                        Endpoints {
                            namespace: s.namespace.clone(),
                            name: s.name.clone(),
                            ready: ready.iter().map(|p| p.ip.clone()).collect(),
                            not_ready: not_ready.iter().map(|p| p.ip.clone()).collect(),
                        }
                    })
                    .collect())
            })
            .await
    }

    async fn annotate_service<'a>(
        &self,
        namespace: &str,
        name: &str,
        key_: &str,
        value: Option<&'a str>,
    ) -> Result<()> {
        let ctx = self.context.clone();
        self.inner
            .mutate(Scope::Context(ctx.clone()), "annotate service", false, |w, scope| {
                let s = w.cluster_mut(&ctx)?.services.get_mut(&key(namespace, name)).ok_or_else(|| {
                    Error::not_found(format!("services \"{name}\" not found in namespace {namespace}"))
                })?;
                match value {
                    Some(v) => s.annotations.insert(key_.to_string(), v.to_string()),
                    None => s.annotations.remove(key_),
                };
                let what = value.map_or_else(|| format!("{key_}-"), |v| format!("{key_}={v}"));
                w.log_op(
                    scope,
                    format!("annotate service {namespace}/{name} {what}"),
                    format!("Service/{namespace}/{name}"),
                    "api",
                );
                Ok(())
            })
            .await
    }

    async fn label_pod<'a>(&self, namespace: &str, name: &str, key_: &str, value: Option<&'a str>) -> Result<()> {
        let ctx = self.context.clone();
        self.inner
            .mutate(Scope::Context(ctx.clone()), "label pod", false, |w, scope| {
                let slot = w
                    .cluster_mut(&ctx)?
                    .deployments
                    .values_mut()
                    .filter(|d| d.namespace == namespace)
                    .flat_map(|d| d.pods.iter_mut())
                    .find(|p| p.name == name)
                    .ok_or_else(|| Error::not_found(format!("pods \"{name}\" not found in namespace {namespace}")))?;
                match value {
                    Some(v) => slot.labels.insert(key_.to_string(), v.to_string()),
                    None => slot.labels.remove(key_),
                };
                let what = value.map_or_else(|| format!("{key_}-"), |v| format!("{key_}={v}"));
                w.log_op(
                    scope,
                    format!("label pod {namespace}/{name} {what}"),
                    format!("Pod/{namespace}/{name}"),
                    "api",
                );
                Ok(())
            })
            .await
    }

    async fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>> {
        let ctx = self.context.clone();
        self.inner
            .read(Scope::Context(ctx.clone()), "get configmap", |w| {
                Ok(w.cluster(&ctx)?.config_maps.get(&key(namespace, name)).map(|c| ConfigMap {
                    namespace: c.namespace.clone(),
                    name: c.name.clone(),
                    data: c.data.clone(),
                }))
            })
            .await
    }

    async fn patch_config_map(
        &self,
        namespace: &str,
        name: &str,
        data: &BTreeMap<String, Option<String>>,
    ) -> Result<()> {
        let ctx = self.context.clone();
        self.inner
            .mutate(Scope::Context(ctx.clone()), "patch configmap", false, |w, scope| {
                let c = w.cluster_mut(&ctx)?.config_maps.get_mut(&key(namespace, name)).ok_or_else(|| {
                    Error::not_found(format!("configmaps \"{name}\" not found in namespace {namespace}"))
                })?;
                let mut parts = Vec::new();
                for (k, v) in data {
                    match v {
                        Some(v) => {
                            c.data.insert(k.clone(), v.clone());
                            parts.push(format!("{k}={v}"));
                        }
                        None => {
                            c.data.remove(k);
                            parts.push(format!("{k}-"));
                        }
                    }
                }
                w.log_op(
                    scope,
                    format!("patch configmap {namespace}/{name} {}", parts.join(",")),
                    format!("ConfigMap/{namespace}/{name}"),
                    "api",
                );
                Ok(())
            })
            .await
    }

    async fn events<'a>(&self, namespace: Option<&'a str>) -> Result<Vec<ClusterEvent>> {
        let ctx = self.context.clone();
        self.inner
            .read(Scope::Context(ctx.clone()), "list events", |w| {
                w.cluster(&ctx)?;
                Ok(w.cluster_events(&ctx, namespace))
            })
            .await
    }

    async fn logs(&self, namespace: &str, pod: &str, tail: u32) -> Result<Vec<String>> {
        let ctx = self.context.clone();
        self.inner
            .read(Scope::Context(ctx.clone()), "pod logs", |w| {
                let p = w
                    .derive_pods(&ctx)
                    .into_iter()
                    .find(|p| p.pod.namespace == namespace && p.pod.name == pod)
                    .ok_or_else(|| Error::not_found(format!("pods \"{pod}\" not found in namespace {namespace}")))?;
                let Some(behavior) = p.behavior else {
                    return Err(Error::precondition(format!(
                        "container in pod \"{pod}\" is waiting to start: {}",
                        p.pod.reason.clone().unwrap_or_else(|| "ContainerCreating".into())
                    )));
                };
                Ok(super::probes::log_lines(w, &p.pod, behavior, p.started_at, tail))
            })
            .await
    }

    async fn apply(&self, manifests: &[Manifest], field_manager: &str) -> Result<Vec<Applied>> {
        let ctx = self.context.clone();
        self.inner
            .mutate(Scope::Context(ctx.clone()), "server-side apply", true, |w, scope| {
                let mut out = Vec::new();
                for m in manifests {
                    let a = apply_one(w, &ctx, m)?;
                    w.log_op(
                        scope,
                        format!("apply {} {} (field-manager {field_manager})", a.object, a.outcome),
                        a.object.clone(),
                        "api",
                    );
                    out.push(a);
                }
                Ok(out)
            })
            .await
    }

    async fn object<'a>(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&'a str>,
        name: &str,
    ) -> Result<Option<Value>> {
        let ctx = self.context.clone();
        self.inner
            .read(Scope::Context(ctx.clone()), "get object", |w| object_of(w, &ctx, api_version, kind, namespace, name))
            .await
    }

    async fn delete_object<'a>(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&'a str>,
        name: &str,
    ) -> Result<()> {
        let ctx = self.context.clone();
        self.inner
            .mutate(Scope::Context(ctx.clone()), "delete object", false, |w, scope| {
                let nsk = key(namespace.unwrap_or("default"), name);
                let c = w.cluster_mut(&ctx)?;
                let removed = match kind {
                    "Deployment" => c.deployments.remove(&nsk).is_some(),
                    "ConfigMap" => c.config_maps.remove(&nsk).is_some(),
                    "Service" => c.services.remove(&nsk).is_some(),
                    _ => c.objects.remove(&generic_key(api_version, kind, namespace, name)).is_some(),
                };
                if !removed {
                    return Err(Error::not_found(format!("{kind} \"{name}\" not found")));
                }
                let obj = namespace.map_or_else(|| format!("{kind}/{name}"), |n| format!("{kind}/{n}/{name}"));
                w.log_op(scope, format!("delete {obj}"), obj.clone(), "api");
                Ok(())
            })
            .await
    }
}
