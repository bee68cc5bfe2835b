//! [`KubeCluster`]: the core's [`Cluster`] port on a real apiserver through kube-rs.

use std::collections::{BTreeMap, HashMap};

use futures::{StreamExt as _, TryStreamExt as _};
use incident_core::backend::{
    Applied, Cluster, ClusterEvent, ConfigMap, Deployment, Endpoints, Manifest, Node, NodeUsage, Pod, PodUsage,
    Revision, RolloutStatus, ServerHealth, Service, Usage,
};
use incident_core::{Error, ErrorKind, Result};
use k8s_openapi::api::apps::v1::{Deployment as KDeployment, ReplicaSet};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::core::v1::{
    ConfigMap as KConfigMap, Event as KEvent, Namespace as KNamespace, Node as KNode, Pod as KPod, Service as KService,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams, LogParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::error::{is_not_found, map};
use crate::{convert, wire};

/// Tuning of a [`KubeCluster`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeOptions {
    /// Page size of LIST calls (`limit`); large clusters are read page by page.
    pub page_size: u32,
    /// Field manager for patches and server-side apply.
    pub field_manager: String,
    /// How many namespaces' pod and event lists run at once. The apiserver serves one LIST request on
    /// one core, a page after the other, so a cluster-wide list of 50,000 pods waits on a single core;
    /// listed namespace by namespace, the lists share its cores. `1` reads with one cluster-wide list.
    pub list_concurrency: usize,
}

impl Default for KubeOptions {
    fn default() -> Self {
        Self { page_size: 500, field_manager: incident_core::engine::FIELD_MANAGER.to_owned(), list_concurrency: 4 }
    }
}

/// How long a compensating delete waits for the object to be gone.
const DELETE_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// One kubeconfig context on a real cluster.
#[derive(Clone)]
pub struct KubeCluster {
    client: Client,
    context: String,
    opts: KubeOptions,
}

impl std::fmt::Debug for KubeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeCluster").field("context", &self.context).finish_non_exhaustive()
    }
}

fn ns_name(ns: &str, name: &str) -> String {
    format!("{ns}/{name}")
}

impl KubeCluster {
    /// A cluster over an existing client (tests use a `tower-test` mock service here).
    #[must_use]
    pub fn new(client: Client, context: impl Into<String>, opts: KubeOptions) -> Self {
        Self { client, context: context.into(), opts }
    }

    /// The kube-rs client.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Patches carry the field manager (`incident-core`), so `managedFields` names who changed what; the
    /// apiserver records `unknown` for a patch without one.
    fn patch_params(&self) -> PatchParams {
        PatchParams { field_manager: Some(self.opts.field_manager.clone()), ..PatchParams::default() }
    }

    fn api<K>(&self, namespace: Option<&str>) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        match namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }

    /// Every LIST: paginated (`limit` + `continue`), each page decoded into `W` (a lean [`wire`] type for
    /// the big kinds, pods, nodes and events) and converted as it arrives, so a huge list is never held
    /// as full API objects. The next page is requested as soon as this page's `continue` token is read,
    /// so the apiserver serves it while this one is decoded (on the blocking pool, off the async workers).
    async fn list_wire<W, T>(&self, path: &str, what: &str, lp: ListParams, convert: fn(W) -> T) -> Result<Vec<T>>
    where
        W: DeserializeOwned + Send + 'static,
        T: Send + 'static,
    {
        let what = format!("list {what}");
        // At most one page in flight; dropping the set (a deadline dropped the LIST) cancels it.
        let fetch = |inflight: &mut JoinSet<std::result::Result<String, kube::Error>>, lp: &ListParams| -> Result<()> {
            let req = kube::core::Request::new(path).list(lp).map_err(|e| Error::internal(format!("{what}: {e}")))?;
            let client = self.client.clone();
            inflight.spawn(async move { client.request_text(req).await });
            Ok(())
        };
        let lp = lp.limit(self.opts.page_size);
        let mut inflight = JoinSet::new();
        fetch(&mut inflight, &lp)?;
        let mut out = Vec::new();
        while let Some(page) = inflight.join_next().await {
            let text = page
                .map_err(|e| Error::internal(format!("{what}: request task failed: {e}")))?
                .map_err(|e| map(&what, e))?;
            let ahead = wire::continue_token_ahead(&text).map(str::to_owned);
            if let Some(token) = &ahead {
                fetch(&mut inflight, &lp.clone().continue_token(token))?;
            }
            let decoded = tokio::task::spawn_blocking(move || {
                serde_json::from_str::<wire::List<W>>(&text).map(|list| {
                    let token = list.metadata.continue_.filter(|c| !c.is_empty());
                    (list.items.into_iter().map(convert).collect::<Vec<T>>(), token)
                })
            })
            .await
            .map_err(|e| Error::internal(format!("{what}: decoding task failed: {e}")))?;
            let (items, token) = decoded.map_err(|e| map(&what, kube::Error::SerdeError(e)))?;
            out.extend(items);
            if token != ahead {
                // Not read ahead (or read wrong): the decoded page decides.
                inflight = JoinSet::new();
                if let Some(t) = token {
                    fetch(&mut inflight, &lp.clone().continue_token(&t))?;
                }
            }
        }
        Ok(out)
    }

    /// A LIST of a namespaced kind in `namespace`, or cluster-wide (`None`) as one list per namespace,
    /// [`KubeOptions::list_concurrency`] at a time, in namespace order (the order of a cluster-wide list).
    /// Falls back to one cluster-wide list when namespaces cannot be listed (RBAC without `list
    /// namespaces`, say). Each namespace is read at its own resourceVersion; a namespace created after
    /// the namespace list is not read.
    async fn list_in<W, T>(
        &self,
        namespace: Option<&str>,
        path: fn(Option<&str>) -> String,
        what: &str,
        lp: ListParams,
        convert: fn(W) -> T,
    ) -> Result<Vec<T>>
    where
        W: DeserializeOwned + Send + 'static,
        T: Send + 'static,
    {
        if let Some(ns) = namespace {
            return self.list_wire(&path(Some(ns)), what, lp, convert).await;
        }
        let namespaces = if self.opts.list_concurrency > 1 {
            self.list_wire(&KNamespace::url_path(&(), None), "namespaces", ListParams::default(), |n: wire::Named| {
                n.metadata.name
            })
            .await
            .ok()
        } else {
            None
        };
        let Some(namespaces) = namespaces else {
            return self.list_wire(&path(None), what, lp, convert).await;
        };
        let per_namespace: Vec<Vec<T>> = futures::stream::iter(namespaces)
            .map(|ns| {
                let lp = lp.clone();
                async move { self.list_wire(&path(Some(&ns)), what, lp, convert).await }
            })
            .buffered(self.opts.list_concurrency)
            .try_collect()
            .await?;
        Ok(per_namespace.into_iter().flatten().collect())
    }

    async fn get_deployment(&self, namespace: &str, name: &str) -> Result<KDeployment> {
        self.api::<KDeployment>(Some(namespace))
            .get_opt(name)
            .await
            .map_err(|e| map(&format!("get deployment {}", ns_name(namespace, name)), e))?
            .ok_or_else(|| Error::not_found(format!("deployments.apps {name:?} not found in namespace {namespace}")))
    }

    async fn replica_sets(&self, dep: &KDeployment) -> Result<Vec<ReplicaSet>> {
        let ns = dep.metadata.namespace.clone().unwrap_or_default();
        let selector = dep
            .spec
            .as_ref()
            .and_then(|s| s.selector.match_labels.as_ref())
            .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","))
            .unwrap_or_default();
        let path = ReplicaSet::url_path(&(), Some(&ns));
        self.list_wire(&path, "replicasets", ListParams::default().labels(&selector), |rs: ReplicaSet| rs).await
    }

    async fn merge_patch<K>(&self, api: &Api<K>, what: &str, name: &str, patch: Value) -> Result<()>
    where
        K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
    {
        api.patch(name, &self.patch_params(), &Patch::Merge(&patch)).await.map_err(|e| map(what, e))?;
        Ok(())
    }

    async fn raw_text(&self, path: &str) -> std::result::Result<String, kube::Error> {
        let req = http::Request::get(path).body(Vec::new()).map_err(kube::Error::HttpError)?;
        self.client.request_text(req).await
    }

    async fn metrics<T: DeserializeOwned>(&self, what: &str, path: &str) -> Result<T> {
        let req = http::Request::get(path).body(Vec::new()).map_err(|e| Error::internal(e.to_string()))?;
        self.client.request::<T>(req).await.map_err(|e| {
            if matches!(&e, kube::Error::Api(s) if s.code == 404 || s.code == 503) {
                Error::unavailable(format!(
                    "metrics API metrics.k8s.io is not served by this cluster (is metrics-server installed?): {what}"
                ))
            } else {
                map(&format!("read {what}"), e)
            }
        })
    }
}

/// Parse a Kubernetes quantity into a base-unit integer, scaled by `scale` (1000 for CPU millicores).
pub(crate) fn quantity(q: &str, scale: f64) -> Option<u64> {
    let q = q.trim();
    let split = q.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+')).unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    let v = n * mult * scale;
    (v.is_finite() && v >= 0.0).then(|| v.round() as u64)
}

#[derive(serde::Deserialize)]
struct MetricsList<T> {
    items: Vec<T>,
}

#[derive(serde::Deserialize)]
struct MetricsMeta {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

#[derive(serde::Deserialize, Default)]
struct ResourceUsage {
    #[serde(default)]
    cpu: Option<String>,
    #[serde(default)]
    memory: Option<String>,
}

#[derive(serde::Deserialize)]
struct NodeMetrics {
    metadata: MetricsMeta,
    #[serde(default)]
    usage: ResourceUsage,
}

#[derive(serde::Deserialize)]
struct ContainerMetrics {
    #[serde(default)]
    usage: ResourceUsage,
}

#[derive(serde::Deserialize)]
struct PodMetrics {
    metadata: MetricsMeta,
    #[serde(default)]
    containers: Vec<ContainerMetrics>,
}

fn cpu_mem(u: &ResourceUsage) -> (u64, u64) {
    (
        u.cpu.as_deref().and_then(|c| quantity(c, 1000.0)).unwrap_or(0),
        u.memory.as_deref().and_then(|m| quantity(m, 1.0)).unwrap_or(0),
    )
}

fn failed_checks(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("[-]"))
        .map(|l| l.split_whitespace().next().unwrap_or(l).to_owned())
        .collect()
}

#[async_trait::async_trait]
impl Cluster for KubeCluster {
    fn context(&self) -> &str {
        &self.context
    }

    async fn server_health(&self) -> Result<ServerHealth> {
        let probe = |path: &'static str| async move {
            match self.raw_text(path).await {
                Ok(_) => Ok((true, Vec::new())),
                Err(kube::Error::Api(s)) if s.code == 500 => Ok((false, failed_checks(&s.message))),
                Err(e) => Err(map(&format!("GET {path}"), e)),
            }
        };
        let (live, ready, version) =
            tokio::join!(probe("/livez?verbose"), probe("/readyz?verbose"), self.client.apiserver_version());
        let (live, mut failed) = live?;
        let (ready, f2) = ready?;
        failed.extend(f2);
        failed.sort();
        failed.dedup();
        Ok(ServerHealth { live, ready, version: version.ok().map(|v| v.git_version), failed_checks: failed })
    }

    async fn whoami(&self) -> Result<String> {
        let api: Api<SelfSubjectReview> = Api::all(self.client.clone());
        let review = api
            .create(&PostParams::default(), &SelfSubjectReview::default())
            .await
            .map_err(|e| map("create selfsubjectreview (kubectl auth whoami)", e))?;
        review
            .status
            .and_then(|s| s.user_info)
            .and_then(|u| u.username)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| Error::unavailable(format!("context {}: the SelfSubjectReview named no user", self.context)))
    }

    async fn usage(&self) -> Result<Usage> {
        let (nodes, pods) = tokio::join!(
            self.metrics::<MetricsList<NodeMetrics>>("node metrics", "/apis/metrics.k8s.io/v1beta1/nodes"),
            self.metrics::<MetricsList<PodMetrics>>("pod metrics", "/apis/metrics.k8s.io/v1beta1/pods"),
        );
        Ok(Usage {
            nodes: nodes?
                .items
                .into_iter()
                .map(|n| {
                    let (cpu_millis, memory_bytes) = cpu_mem(&n.usage);
                    NodeUsage { name: n.metadata.name, cpu_millis, memory_bytes }
                })
                .collect(),
            pods: pods?
                .items
                .into_iter()
                .map(|p| {
                    let (cpu_millis, memory_bytes) =
                        p.containers.iter().map(|c| cpu_mem(&c.usage)).fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
                    PodUsage {
                        namespace: p.metadata.namespace.unwrap_or_default(),
                        name: p.metadata.name,
                        cpu_millis,
                        memory_bytes,
                    }
                })
                .collect(),
        })
    }

    async fn deployment(&self, namespace: &str, name: &str) -> Result<Option<Deployment>> {
        let d = self
            .api::<KDeployment>(Some(namespace))
            .get_opt(name)
            .await
            .map_err(|e| map(&format!("get deployment {}", ns_name(namespace, name)), e))?;
        Ok(d.as_ref().map(convert::deployment))
    }

    async fn deployments(&self, namespace: &str) -> Result<Vec<Deployment>> {
        let path = KDeployment::url_path(&(), Some(namespace));
        self.list_wire(&path, "deployments", ListParams::default(), |d: KDeployment| convert::deployment(&d)).await
    }

    async fn scale(&self, namespace: &str, name: &str, replicas: u32) -> Result<()> {
        let api = self.api::<KDeployment>(Some(namespace));
        api.patch_scale(name, &self.patch_params(), &Patch::Merge(json!({"spec": {"replicas": replicas}})))
            .await
            .map_err(|e| map(&format!("scale deployment {}", ns_name(namespace, name)), e))?;
        Ok(())
    }

    async fn rollout_history(&self, namespace: &str, name: &str) -> Result<Vec<Revision>> {
        let dep = self.get_deployment(namespace, name).await?;
        let sets = self.replica_sets(&dep).await?;
        Ok(crate::rollout::history(&dep, &sets))
    }

    async fn rollback(&self, namespace: &str, name: &str, to_revision: Option<u64>) -> Result<Revision> {
        let dep = self.get_deployment(namespace, name).await?;
        let sets = self.replica_sets(&dep).await?;
        let undo = crate::rollout::undo(&dep, &sets, to_revision)?;
        if let Some(patch) = undo.patch {
            let patch: json_patch::Patch = serde_json::from_value(patch)
                .map_err(|e| Error::internal(format!("rollback patch of {}: {e}", ns_name(namespace, name))))?;
            self.api::<KDeployment>(Some(namespace))
                .patch(name, &self.patch_params(), &Patch::<()>::Json(patch))
                .await
                .map_err(|e| {
                    map(
                        &format!(
                            "rollout undo deployment {} to revision {}",
                            ns_name(namespace, name),
                            undo.target.revision
                        ),
                        e,
                    )
                })?;
        }
        Ok(undo.target)
    }

    async fn rollout_status(&self, namespace: &str, name: &str) -> Result<RolloutStatus> {
        Ok(crate::rollout::status(&self.get_deployment(namespace, name).await?))
    }

    async fn follow_rollout(
        &self,
        namespace: &str,
        name: &str,
        timeout: std::time::Duration,
    ) -> Result<Option<RolloutStatus>> {
        match self.wait_rollout(namespace, name, timeout).await {
            Ok(st) => Ok(Some(st)),
            Err(e) if e.kind() == ErrorKind::Timeout => {
                Ok(Some(RolloutStatus { complete: false, failed: false, message: e.to_string() }))
            }
            Err(e) => Err(e),
        }
    }

    async fn pods<'a>(&self, namespace: Option<&'a str>, selector: &BTreeMap<String, String>) -> Result<Vec<Pod>> {
        let sel = selector.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        let lp = ListParams::default().labels(&sel);
        self.list_in(namespace, |ns| KPod::url_path(&(), ns), "pods", lp, convert::pod).await
    }

    async fn nodes(&self) -> Result<Vec<Node>> {
        self.list_wire(&KNode::url_path(&(), None), "nodes", ListParams::default(), convert::node).await
    }

    async fn service(&self, namespace: &str, name: &str) -> Result<Option<Service>> {
        let s = self
            .api::<KService>(Some(namespace))
            .get_opt(name)
            .await
            .map_err(|e| map(&format!("get service {}", ns_name(namespace, name)), e))?;
        Ok(s.as_ref().map(convert::service))
    }

    async fn services(&self, namespace: &str) -> Result<Vec<Service>> {
        let path = KService::url_path(&(), Some(namespace));
        self.list_wire(&path, "services", ListParams::default(), |s: KService| convert::service(&s)).await
    }

    async fn endpoints(&self, namespace: &str) -> Result<Vec<Endpoints>> {
        let path = EndpointSlice::url_path(&(), Some(namespace));
        let slices = self.list_wire(&path, "endpointslices", ListParams::default(), |s: EndpointSlice| s).await?;
        Ok(convert::endpoints(&slices))
    }

    async fn annotate_service<'a>(&self, namespace: &str, name: &str, key: &str, value: Option<&'a str>) -> Result<()> {
        let api = self.api::<KService>(Some(namespace));
        let what = format!("annotate service {}", ns_name(namespace, name));
        self.merge_patch(&api, &what, name, json!({"metadata": {"annotations": {key: value}}})).await
    }

    async fn label_pod<'a>(&self, namespace: &str, name: &str, key: &str, value: Option<&'a str>) -> Result<()> {
        let api = self.api::<KPod>(Some(namespace));
        let what = format!("label pod {}", ns_name(namespace, name));
        self.merge_patch(&api, &what, name, json!({"metadata": {"labels": {key: value}}})).await
    }

    async fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>> {
        let c = self
            .api::<KConfigMap>(Some(namespace))
            .get_opt(name)
            .await
            .map_err(|e| map(&format!("get configmap {}", ns_name(namespace, name)), e))?;
        Ok(c.as_ref().map(convert::config_map))
    }

    async fn patch_config_map(
        &self,
        namespace: &str,
        name: &str,
        data: &BTreeMap<String, Option<String>>,
    ) -> Result<()> {
        let api = self.api::<KConfigMap>(Some(namespace));
        let what = format!("patch configmap {}", ns_name(namespace, name));
        self.merge_patch(&api, &what, name, json!({ "data": data })).await
    }

    async fn events<'a>(&self, namespace: Option<&'a str>) -> Result<Vec<ClusterEvent>> {
        let lp = ListParams::default();
        self.list_in(namespace, |ns| KEvent::url_path(&(), ns), "events", lp, convert::event).await
    }

    async fn logs(&self, namespace: &str, pod: &str, tail: u32) -> Result<Vec<String>> {
        let api = self.api::<KPod>(Some(namespace));
        let what = format!("logs of pod {}", ns_name(namespace, pod));
        let p = api
            .get_opt(pod)
            .await
            .map_err(|e| map(&what, e))?
            .ok_or_else(|| Error::not_found(format!("pods {pod:?} not found in namespace {namespace}")))?;
        let containers: Vec<String> =
            p.spec.map(|s| s.containers.into_iter().map(|c| c.name).collect()).unwrap_or_default();
        let many = containers.len() > 1;
        let mut out = Vec::new();
        for c in containers {
            let lp =
                LogParams { container: Some(c.clone()), tail_lines: Some(i64::from(tail)), ..LogParams::default() };
            let text = api.logs(pod, &lp).await.map_err(|e| map(&format!("{what} container {c}"), e))?;
            out.extend(text.lines().map(|l| if many { format!("[{c}] {l}") } else { l.to_owned() }));
        }
        Ok(out)
    }

    async fn apply(&self, manifests: &[Manifest], field_manager: &str) -> Result<Vec<Applied>> {
        let mut cache = HashMap::new();
        let mut out = Vec::with_capacity(manifests.len());
        for m in manifests {
            out.push(crate::apply::apply_one(&self.client, &mut cache, m, field_manager).await?);
        }
        Ok(out)
    }

    async fn object<'a>(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&'a str>,
        name: &str,
    ) -> Result<Option<Value>> {
        let api = crate::apply::dynamic_api(&self.client, &mut HashMap::new(), api_version, kind, namespace).await?;
        match api.get_opt(name).await {
            Ok(o) => o.map(|o| serde_json::to_value(o).map_err(|e| Error::internal(e.to_string()))).transpose(),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(map(&format!("get {kind} {name}"), e)),
        }
    }

    async fn delete_object<'a>(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&'a str>,
        name: &str,
    ) -> Result<()> {
        let api = crate::apply::dynamic_api(&self.client, &mut HashMap::new(), api_version, kind, namespace).await?;
        let what = format!("delete {kind} {name}");
        match api.delete(name, &kube::api::DeleteParams::foreground()).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(map(&what, e)),
        }
        // Like `kubectl delete` (`--wait`): done when the object is gone, not when it is marked for
        // deletion. Foreground deletion leaves it in place until the garbage collector has removed its
        // dependents and its finalizer.
        let deadline = tokio::time::Instant::now() + DELETE_WAIT;
        loop {
            let left = match api.get_opt(name).await {
                Ok(None) => return Ok(()),
                Ok(Some(o)) => o.metadata.finalizers.unwrap_or_default(),
                Err(e) if is_not_found(&e) => return Ok(()),
                Err(e) => return Err(map(&what, e)),
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "{what}: still terminating after {}s (finalizers: {})",
                        DELETE_WAIT.as_secs(),
                        if left.is_empty() { "none".to_owned() } else { left.join(", ") }
                    ),
                ));
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}

impl KubeCluster {
    /// `kubectl rollout status --timeout`: watch the deployment until the rollout completes, fails
    /// (progress deadline exceeded) or `timeout` passes. Returns the last status; `ErrorKind::Timeout`
    /// when the deadline passed first.
    ///
    /// # Errors
    /// `NotFound`, `Timeout`, or the apiserver's error.
    pub async fn wait_rollout(
        &self,
        namespace: &str,
        name: &str,
        timeout: std::time::Duration,
    ) -> Result<RolloutStatus> {
        let api = self.api::<KDeployment>(Some(namespace));
        let what = format!("rollout status deployment {}", ns_name(namespace, name));
        let watch = async {
            let dep = self.get_deployment(namespace, name).await?;
            let mut last = crate::rollout::status(&dep);
            let mut rv = dep.metadata.resource_version.clone().unwrap_or_default();
            // A watch ends when the server closes it (timeout, disconnect); re-watch from the last seen
            // resourceVersion, and re-read when that version is gone (410).
            loop {
                if last.complete || last.failed {
                    return Ok(last);
                }
                let wp = WatchParams::default().fields(&format!("metadata.name={name}")).timeout(60);
                let mut stream = match api.watch(&wp, &rv).await {
                    Ok(s) => s.boxed(),
                    Err(e) if matches!(&e, kube::Error::Api(s) if s.code == 410) => {
                        let dep = self.get_deployment(namespace, name).await?;
                        rv = dep.metadata.resource_version.clone().unwrap_or_default();
                        last = crate::rollout::status(&dep);
                        continue;
                    }
                    Err(e) => return Err(map(&what, e)),
                };
                loop {
                    let ev = match stream.try_next().await {
                        Ok(Some(ev)) => ev,
                        Ok(None) => break,
                        // A broken stream is a disconnect: watch again from `rv`.
                        Err(kube::Error::Api(s)) => return Err(map(&what, kube::Error::Api(s))),
                        Err(_) => break,
                    };
                    match ev {
                        WatchEvent::Added(d) | WatchEvent::Modified(d) => {
                            rv = d.metadata.resource_version.clone().unwrap_or_default();
                            last = crate::rollout::status(&d);
                            if last.complete || last.failed {
                                return Ok(last);
                            }
                        }
                        WatchEvent::Deleted(_) => {
                            return Err(Error::not_found(format!("{what}: the deployment was deleted")));
                        }
                        WatchEvent::Bookmark(b) => rv = b.metadata.resource_version,
                        WatchEvent::Error(s) if s.code == 410 => {
                            let dep = self.get_deployment(namespace, name).await?;
                            rv = dep.metadata.resource_version.clone().unwrap_or_default();
                            last = crate::rollout::status(&dep);
                            break;
                        }
                        WatchEvent::Error(s) => return Err(map(&what, kube::Error::Api(s))),
                    }
                }
            }
        };
        match tokio::time::timeout(timeout, watch).await {
            Ok(r) => r,
            Err(_) => {
                Err(Error::new(ErrorKind::Timeout, format!("{what}: not complete within {}s", timeout.as_secs())))
            }
        }
    }
}
