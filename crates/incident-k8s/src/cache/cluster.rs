//! [`CachedCluster`]: the `Cluster` port reading a [`WatchCache`] when it is synced.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use incident_core::Result;
use incident_core::backend::{
    Applied, Cluster, ClusterEvent, ConfigMap, DataSource, Deployment, Endpoints, Freshness, Manifest, Node, Pod,
    Revision, RolloutStatus, ServerHealth, Service, Usage,
};

use super::WatchCache;

/// A cluster whose list reads — pods, nodes, events, deployments, services, endpoints and rollout history
/// (ReplicaSets) — come from a [`WatchCache`] once every kind of it is synced, and from `live` (LISTs)
/// until then, all from one source: [`Cluster::freshness`] names it. (A cache never becomes unsynced
/// again, so only a triage running across the moment of the first sync can mix the two; it reports the
/// cache.) Single-object reads (a deployment, a service, rollout status, config maps, objects), metrics,
/// logs and every mutation always go to `live`: a mutation's guard rails re-read live state, not a cache.
#[derive(Clone)]
pub struct CachedCluster {
    cache: Arc<WatchCache>,
    live: Arc<dyn Cluster>,
}

impl std::fmt::Debug for CachedCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedCluster").field("context", &self.live.context()).field("cache", &self.cache).finish()
    }
}

impl CachedCluster {
    /// Reads through `cache` when it is synced, `live` otherwise (the same cluster, read on demand).
    #[must_use]
    pub fn new(cache: Arc<WatchCache>, live: Arc<dyn Cluster>) -> Self {
        Self { cache, live }
    }

    /// The cache.
    #[must_use]
    pub fn cache(&self) -> &Arc<WatchCache> {
        &self.cache
    }

    fn cached(&self) -> Option<&WatchCache> {
        self.cache.synced().then_some(&*self.cache)
    }
}

#[async_trait::async_trait]
impl Cluster for CachedCluster {
    fn context(&self) -> &str {
        self.live.context()
    }

    fn freshness(&self) -> Freshness {
        if self.cache.synced() {
            Freshness { source: DataSource::Cache, age: Some(self.cache.health().age().unwrap_or(Duration::ZERO)) }
        } else {
            self.live.freshness()
        }
    }

    async fn server_health(&self) -> Result<ServerHealth> {
        self.live.server_health().await
    }

    async fn whoami(&self) -> Result<String> {
        self.live.whoami().await
    }

    async fn usage(&self) -> Result<Usage> {
        self.live.usage().await
    }

    async fn deployment(&self, namespace: &str, name: &str) -> Result<Option<Deployment>> {
        self.live.deployment(namespace, name).await
    }

    async fn deployments(&self, namespace: &str) -> Result<Vec<Deployment>> {
        match self.cached() {
            Some(c) => Ok(c.deployments(namespace)),
            None => self.live.deployments(namespace).await,
        }
    }

    async fn scale(&self, namespace: &str, name: &str, replicas: u32) -> Result<()> {
        self.live.scale(namespace, name, replicas).await
    }

    async fn rollout_history(&self, namespace: &str, name: &str) -> Result<Vec<Revision>> {
        match self.cached() {
            Some(c) => c.rollout_history(namespace, name),
            None => self.live.rollout_history(namespace, name).await,
        }
    }

    async fn rollback(&self, namespace: &str, name: &str, to_revision: Option<u64>) -> Result<Revision> {
        self.live.rollback(namespace, name, to_revision).await
    }

    async fn rollout_status(&self, namespace: &str, name: &str) -> Result<RolloutStatus> {
        self.live.rollout_status(namespace, name).await
    }

    async fn follow_rollout(&self, namespace: &str, name: &str, timeout: Duration) -> Result<Option<RolloutStatus>> {
        self.live.follow_rollout(namespace, name, timeout).await
    }

    async fn pods<'a>(&self, namespace: Option<&'a str>, selector: &BTreeMap<String, String>) -> Result<Vec<Pod>> {
        match self.cached() {
            Some(c) => Ok(c.pods(namespace, selector)),
            None => self.live.pods(namespace, selector).await,
        }
    }

    async fn nodes(&self) -> Result<Vec<Node>> {
        match self.cached() {
            Some(c) => Ok(c.nodes()),
            None => self.live.nodes().await,
        }
    }

    async fn service(&self, namespace: &str, name: &str) -> Result<Option<Service>> {
        self.live.service(namespace, name).await
    }

    async fn services(&self, namespace: &str) -> Result<Vec<Service>> {
        match self.cached() {
            Some(c) => Ok(c.services(namespace)),
            None => self.live.services(namespace).await,
        }
    }

    async fn endpoints(&self, namespace: &str) -> Result<Vec<Endpoints>> {
        match self.cached() {
            Some(c) => Ok(c.endpoints(namespace)),
            None => self.live.endpoints(namespace).await,
        }
    }

    async fn annotate_service<'a>(&self, namespace: &str, name: &str, key: &str, value: Option<&'a str>) -> Result<()> {
        self.live.annotate_service(namespace, name, key, value).await
    }

    async fn label_pod<'a>(&self, namespace: &str, name: &str, key: &str, value: Option<&'a str>) -> Result<()> {
        self.live.label_pod(namespace, name, key, value).await
    }

    async fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>> {
        self.live.config_map(namespace, name).await
    }

    async fn patch_config_map(
        &self,
        namespace: &str,
        name: &str,
        data: &BTreeMap<String, Option<String>>,
    ) -> Result<()> {
        self.live.patch_config_map(namespace, name, data).await
    }

    async fn events<'a>(&self, namespace: Option<&'a str>) -> Result<Vec<ClusterEvent>> {
        match self.cached() {
            Some(c) => Ok(c.events(namespace)),
            None => self.live.events(namespace).await,
        }
    }

    async fn logs(&self, namespace: &str, pod: &str, tail: u32) -> Result<Vec<String>> {
        self.live.logs(namespace, pod, tail).await
    }

    async fn apply(&self, manifests: &[Manifest], field_manager: &str) -> Result<Vec<Applied>> {
        self.live.apply(manifests, field_manager).await
    }

    async fn object<'a>(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&'a str>,
        name: &str,
    ) -> Result<Option<serde_json::Value>> {
        self.live.object(api_version, kind, namespace, name).await
    }

    async fn delete_object<'a>(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&'a str>,
        name: &str,
    ) -> Result<()> {
        self.live.delete_object(api_version, kind, namespace, name).await
    }
}
