//! Kubernetes (kube-rs) as the cluster side of a backend set, bridged onto the real-time runtime, and the
//! ports a real-cluster run has when nothing else is configured: a real HTTP probe (`curl -f`), and
//! explicit "not configured" databases/DNS/cloud (an error naming the missing flag, never a simulated
//! RDS behind a real cluster) and notifier (every notification `Skipped` with the reason).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use incident_core::backend::{
    Applied, ChangeInfo, Cloud, Cluster, ClusterEvent, Clusters, ConfigMap, Databases, DbInstance, DbSnapshot,
    Delivery, Deployment, Dns, Endpoints, Freshness, HealthEvent, HttpProbe, HttpProbeResult, Manifest, Node,
    Notification, Notifier, Pod, RecordChange, RecordSet, Revision, RolloutStatus, ServerHealth, Service, Usage,
};
use incident_core::{Error, Result};
use incident_k8s::KubeClusters;

use crate::realtime::NetRuntime;

/// kubeconfig contexts whose clients live on the network runtime.
pub(crate) struct NetClusters {
    pub(crate) inner: Arc<KubeClusters>,
    pub(crate) net: Arc<NetRuntime>,
}

#[async_trait::async_trait]
impl Clusters for NetClusters {
    async fn cluster(&self, context: &str) -> Result<Arc<dyn Cluster>> {
        let (inner, ctx) = (Arc::clone(&self.inner), context.to_owned());
        let cluster = self.net.run(async move { inner.cluster(&ctx).await }).await?;
        Ok(Arc::new(NetCluster {
            context: context.to_owned(),
            inner: cluster,
            net: Arc::clone(&self.net),
            label: None,
        }))
    }

    fn default_context(&self) -> String {
        self.inner.default_context()
    }
}

/// Clusters where one context reads through a watch cache ([`crate::BackendSet::with_watch_cache`]).
pub(crate) struct CachedClusters {
    pub(crate) inner: Arc<dyn Clusters>,
    pub(crate) context: String,
    pub(crate) cached: Arc<dyn Cluster>,
}

#[async_trait::async_trait]
impl Clusters for CachedClusters {
    async fn cluster(&self, context: &str) -> Result<Arc<dyn Cluster>> {
        if context == self.context { Ok(Arc::clone(&self.cached)) } else { self.inner.cluster(context).await }
    }

    fn default_context(&self) -> String {
        self.inner.default_context()
    }
}

/// One cluster whose calls run on the network runtime.
pub(crate) struct NetCluster {
    context: String,
    inner: Arc<dyn Cluster>,
    net: Arc<NetRuntime>,
    /// Prefix of every error (an EKS context names its cluster, region and endpoint).
    label: Option<String>,
}

impl NetCluster {
    pub(crate) fn labelled(context: String, inner: Arc<dyn Cluster>, net: Arc<NetRuntime>, label: String) -> Self {
        Self { context, inner, net, label: Some(label) }
    }

    async fn call<R, F, Fut>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(Arc<dyn Cluster>) -> Fut,
        Fut: std::future::Future<Output = Result<R>> + Send + 'static,
    {
        let r = self.net.run(f(Arc::clone(&self.inner))).await;
        match &self.label {
            Some(label) => r.map_err(|e| e.context(label)),
            None => r,
        }
    }
}

fn own(s: &str) -> String {
    s.to_owned()
}

#[async_trait::async_trait]
impl Cluster for NetCluster {
    fn context(&self) -> &str {
        &self.context
    }
    fn freshness(&self) -> Freshness {
        self.inner.freshness()
    }
    async fn server_health(&self) -> Result<ServerHealth> {
        self.call(|c| async move { c.server_health().await }).await
    }
    async fn whoami(&self) -> Result<String> {
        self.call(|c| async move { c.whoami().await }).await
    }
    async fn usage(&self) -> Result<Usage> {
        self.call(|c| async move { c.usage().await }).await
    }
    async fn deployment(&self, namespace: &str, name: &str) -> Result<Option<Deployment>> {
        let (ns, n) = (own(namespace), own(name));
        self.call(|c| async move { c.deployment(&ns, &n).await }).await
    }
    async fn deployments(&self, namespace: &str) -> Result<Vec<Deployment>> {
        let ns = own(namespace);
        self.call(|c| async move { c.deployments(&ns).await }).await
    }
    async fn scale(&self, namespace: &str, name: &str, replicas: u32) -> Result<()> {
        let (ns, n) = (own(namespace), own(name));
        self.call(move |c| async move { c.scale(&ns, &n, replicas).await }).await
    }
    async fn rollout_history(&self, namespace: &str, name: &str) -> Result<Vec<Revision>> {
        let (ns, n) = (own(namespace), own(name));
        self.call(|c| async move { c.rollout_history(&ns, &n).await }).await
    }
    async fn rollback(&self, namespace: &str, name: &str, to_revision: Option<u64>) -> Result<Revision> {
        let (ns, n) = (own(namespace), own(name));
        self.call(move |c| async move { c.rollback(&ns, &n, to_revision).await }).await
    }
    async fn rollout_status(&self, namespace: &str, name: &str) -> Result<RolloutStatus> {
        let (ns, n) = (own(namespace), own(name));
        self.call(|c| async move { c.rollout_status(&ns, &n).await }).await
    }
    async fn follow_rollout(&self, namespace: &str, name: &str, timeout: Duration) -> Result<Option<RolloutStatus>> {
        let (ns, n) = (own(namespace), own(name));
        self.call(move |c| async move { c.follow_rollout(&ns, &n, timeout).await }).await
    }
    async fn pods<'a>(&self, namespace: Option<&'a str>, selector: &BTreeMap<String, String>) -> Result<Vec<Pod>> {
        let (ns, sel) = (namespace.map(own), selector.clone());
        self.call(|c| async move { c.pods(ns.as_deref(), &sel).await }).await
    }
    async fn nodes(&self) -> Result<Vec<Node>> {
        self.call(|c| async move { c.nodes().await }).await
    }
    async fn service(&self, namespace: &str, name: &str) -> Result<Option<Service>> {
        let (ns, n) = (own(namespace), own(name));
        self.call(|c| async move { c.service(&ns, &n).await }).await
    }
    async fn services(&self, namespace: &str) -> Result<Vec<Service>> {
        let ns = own(namespace);
        self.call(|c| async move { c.services(&ns).await }).await
    }
    async fn endpoints(&self, namespace: &str) -> Result<Vec<Endpoints>> {
        let ns = own(namespace);
        self.call(|c| async move { c.endpoints(&ns).await }).await
    }
    async fn annotate_service<'a>(&self, namespace: &str, name: &str, key: &str, value: Option<&'a str>) -> Result<()> {
        let (ns, n, k, v) = (own(namespace), own(name), own(key), value.map(own));
        self.call(|c| async move { c.annotate_service(&ns, &n, &k, v.as_deref()).await }).await
    }
    async fn label_pod<'a>(&self, namespace: &str, name: &str, key: &str, value: Option<&'a str>) -> Result<()> {
        let (ns, n, k, v) = (own(namespace), own(name), own(key), value.map(own));
        self.call(|c| async move { c.label_pod(&ns, &n, &k, v.as_deref()).await }).await
    }
    async fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>> {
        let (ns, n) = (own(namespace), own(name));
        self.call(|c| async move { c.config_map(&ns, &n).await }).await
    }
    async fn patch_config_map(
        &self,
        namespace: &str,
        name: &str,
        data: &BTreeMap<String, Option<String>>,
    ) -> Result<()> {
        let (ns, n, d) = (own(namespace), own(name), data.clone());
        self.call(|c| async move { c.patch_config_map(&ns, &n, &d).await }).await
    }
    async fn events<'a>(&self, namespace: Option<&'a str>) -> Result<Vec<ClusterEvent>> {
        let ns = namespace.map(own);
        self.call(|c| async move { c.events(ns.as_deref()).await }).await
    }
    async fn logs(&self, namespace: &str, pod: &str, tail: u32) -> Result<Vec<String>> {
        let (ns, p) = (own(namespace), own(pod));
        self.call(move |c| async move { c.logs(&ns, &p, tail).await }).await
    }
    async fn apply(&self, manifests: &[Manifest], field_manager: &str) -> Result<Vec<Applied>> {
        let (m, f) = (manifests.to_vec(), own(field_manager));
        self.call(|c| async move { c.apply(&m, &f).await }).await
    }
    async fn object<'a>(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&'a str>,
        name: &str,
    ) -> Result<Option<serde_json::Value>> {
        let (a, k, ns, n) = (own(api_version), own(kind), namespace.map(own), own(name));
        self.call(|c| async move { c.object(&a, &k, ns.as_deref(), &n).await }).await
    }
    async fn delete_object<'a>(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&'a str>,
        name: &str,
    ) -> Result<()> {
        let (a, k, ns, n) = (own(api_version), own(kind), namespace.map(own), own(name));
        self.call(|c| async move { c.delete_object(&a, &k, ns.as_deref(), &n).await }).await
    }
}

/// Ports a real-cluster run has when they are not configured: calls fail with an error that names what
/// to configure; notifications are skipped with the reason.
pub(crate) struct Unconfigured;

fn missing(what: &str) -> Error {
    Error::invalid_input(format!(
        "no {what} backend is configured for this run (a real cluster is never paired with simulated AWS): \
         give AWS (--aws) or a simulated platform (--sim)"
    ))
}

#[async_trait::async_trait]
impl Databases for Unconfigured {
    async fn instance(&self, _: &str, _: &str) -> Result<Option<DbInstance>> {
        Err(missing("databases (RDS)"))
    }
    async fn instances(&self, _: &str) -> Result<Vec<DbInstance>> {
        Err(missing("databases (RDS)"))
    }
    async fn snapshots<'a>(&self, _: &str, _: Option<&'a str>) -> Result<Vec<DbSnapshot>> {
        Err(missing("databases (RDS)"))
    }
    async fn restore_to_point_in_time(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<DbInstance> {
        Err(missing("databases (RDS)"))
    }
    async fn restore_from_snapshot(&self, _: &str, _: &str, _: &str) -> Result<DbInstance> {
        Err(missing("databases (RDS)"))
    }
    async fn promote_read_replica(&self, _: &str, _: &str) -> Result<DbInstance> {
        Err(missing("databases (RDS)"))
    }
    async fn delete_instance(&self, _: &str, _: &str) -> Result<()> {
        Err(missing("databases (RDS)"))
    }
}

#[async_trait::async_trait]
impl Dns for Unconfigured {
    async fn record_sets<'a>(&self, _: &str, _: Option<&'a str>) -> Result<Vec<RecordSet>> {
        Err(missing("DNS (Route53)"))
    }
    async fn change(&self, _: &str, _: &[RecordChange], _: &str) -> Result<ChangeInfo> {
        Err(missing("DNS (Route53)"))
    }
    async fn change_status(&self, _: &str) -> Result<ChangeInfo> {
        Err(missing("DNS (Route53)"))
    }
}

#[async_trait::async_trait]
impl Cloud for Unconfigured {
    async fn caller_identity(&self, _: &str) -> Result<String> {
        Err(missing("cloud (STS)"))
    }
    async fn health_events(&self, _: &str, _: &[String]) -> Result<Vec<HealthEvent>> {
        Err(missing("cloud (AWS Health)"))
    }
}

#[async_trait::async_trait]
impl Notifier for Unconfigured {
    async fn notify(&self, n: &Notification) -> Result<Delivery> {
        Ok(Delivery::Skipped {
            reason: format!("no notifier configured for {}", incident_core::delivery::destination_label(&n.to)),
        })
    }
}

/// `curl -f URL`: a real HTTP GET with a timeout, on the network runtime.
pub(crate) struct NetHttp {
    pub(crate) client: reqwest::Client,
    pub(crate) net: Arc<NetRuntime>,
}

#[async_trait::async_trait]
impl HttpProbe for NetHttp {
    async fn get(&self, url: &str, timeout: Duration) -> Result<HttpProbeResult> {
        let (client, url) = (self.client.clone(), url.to_owned());
        self.net
            .run(async move {
                let start = tokio::time::Instant::now();
                let r = client.get(&url).timeout(timeout).send().await.map_err(|e| {
                    if e.is_timeout() {
                        Error::timeout(format!("GET {url}: no answer within {}s", timeout.as_secs()))
                    } else {
                        Error::unavailable(format!("GET {url}: {e}"))
                    }
                })?;
                let status = r.status().as_u16();
                let _ = r.bytes().await;
                let elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
                Ok(HttpProbeResult { status, elapsed_ms })
            })
            .await
    }
}
