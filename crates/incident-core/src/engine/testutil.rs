//! Test helpers: mock-backed `Backends` and a small stateful fake cluster for executor tests.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};

use crate::Result;
use crate::backend::*;
use crate::clock::ManualClock;

pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 6, 15, 0, 0).single().expect("valid time")
}

/// Backends from optional mocks; unset ports are mocks without expectations (any call panics).
#[derive(Default)]
pub(crate) struct MockSet {
    pub(crate) cluster: Option<Arc<dyn Cluster>>,
    pub(crate) databases: Option<MockDatabases>,
    pub(crate) dns: Option<MockDns>,
    pub(crate) cloud: Option<MockCloud>,
    pub(crate) http: Option<MockHttpProbe>,
    pub(crate) probes: BTreeMap<String, Arc<dyn DatastoreProbe>>,
}

impl MockSet {
    pub(crate) fn backends(self) -> (Backends, ManualClock) {
        let clock = ManualClock::new(t0());
        let mut clusters = MockClusters::new();
        if let Some(c) = self.cluster {
            clusters.expect_cluster().returning(move |_| Ok(Arc::clone(&c)));
        } else {
            clusters.expect_cluster().returning(|ctx| Err(crate::Error::not_found(format!("no kube context `{ctx}`"))));
        }
        clusters.expect_default_context().returning(|| "test".into());
        let b = Backends {
            clusters: Arc::new(clusters),
            databases: Arc::new(self.databases.unwrap_or_default()),
            dns: Arc::new(self.dns.unwrap_or_default()),
            cloud: Arc::new(self.cloud.unwrap_or_default()),
            http: Arc::new(self.http.unwrap_or_default()),
            probes: self.probes,
            notifier: Arc::new(MockNotifier::new()),
            clock: Arc::new(clock.clone()),
        };
        (b, clock)
    }
}

pub(crate) fn deployment(ns: &str, name: &str, replicas: u32, revision: u64, images: &[&str]) -> Deployment {
    Deployment {
        namespace: ns.into(),
        name: name.into(),
        replicas,
        ready_replicas: replicas,
        updated_replicas: replicas,
        available_replicas: replicas,
        generation: 1,
        observed_generation: 1,
        revision,
        images: images.iter().map(|s| (*s).to_owned()).collect(),
        selector: [("app".to_owned(), name.to_owned())].into(),
        annotations: BTreeMap::new(),
    }
}

/// Failure script for the fake: after `skip` calls of a kind succeed, the next `n` fail with `err`.
#[derive(Debug, Default)]
pub(crate) struct FailFirst {
    pub(crate) skip: AtomicU32,
    pub(crate) remaining: AtomicU32,
    pub(crate) err: Mutex<Option<crate::Error>>,
}

impl FailFirst {
    pub(crate) fn set(&self, n: u32, err: crate::Error) {
        self.set_after(0, n, err);
    }

    pub(crate) fn set_after(&self, skip: u32, n: u32, err: crate::Error) {
        self.skip.store(skip, Ordering::SeqCst);
        self.remaining.store(n, Ordering::SeqCst);
        *self.err.lock().expect("lock") = Some(err);
    }

    fn take(&self) -> Option<crate::Error> {
        let skip = self.skip.load(Ordering::SeqCst);
        if skip > 0 {
            self.skip.store(skip - 1, Ordering::SeqCst);
            return None;
        }
        let left = self.remaining.load(Ordering::SeqCst);
        if left == 0 {
            return None;
        }
        self.remaining.store(left - 1, Ordering::SeqCst);
        self.err.lock().expect("lock").clone()
    }
}

/// A stateful in-memory cluster: deployments' replicas and config maps, with call counters.
#[derive(Debug, Default)]
pub(crate) struct FakeCluster {
    pub(crate) replicas: Mutex<BTreeMap<String, u32>>,
    pub(crate) config: Mutex<BTreeMap<String, String>>,
    pub(crate) scale_calls: Mutex<Vec<(String, u32)>>,
    pub(crate) patch_calls: AtomicU32,
    pub(crate) scale_fail: FailFirst,
    /// Scale applies the change but then reports this error (a timeout after sending).
    pub(crate) scale_fail_after_apply: FailFirst,
    pub(crate) patch_fail: FailFirst,
}

impl FakeCluster {
    pub(crate) fn with(deployments: &[(&str, u32)]) -> Arc<Self> {
        let f = Self::default();
        {
            let mut r = f.replicas.lock().expect("lock");
            for (n, c) in deployments {
                r.insert((*n).to_owned(), *c);
            }
            f.config.lock().expect("lock").insert("read_only".into(), "false".into());
        }
        Arc::new(f)
    }

    pub(crate) fn replicas_of(&self, name: &str) -> Option<u32> {
        self.replicas.lock().expect("lock").get(name).copied()
    }

    pub(crate) fn scales(&self) -> Vec<(String, u32)> {
        self.scale_calls.lock().expect("lock").clone()
    }
}

#[async_trait::async_trait]
impl Cluster for FakeCluster {
    fn context(&self) -> &str {
        "ctx"
    }
    async fn server_health(&self) -> Result<crate::backend::ServerHealth> {
        Ok(crate::backend::ServerHealth { live: true, ready: true, version: None, failed_checks: Vec::new() })
    }
    async fn usage(&self) -> Result<crate::backend::Usage> {
        Err(crate::Error::unavailable("no metrics API"))
    }
    async fn deployment(&self, namespace: &str, name: &str) -> Result<Option<Deployment>> {
        Ok(self.replicas_of(name).map(|r| deployment(namespace, name, r, 1, &["img:1"])))
    }
    async fn deployments(&self, _namespace: &str) -> Result<Vec<Deployment>> {
        Ok(Vec::new())
    }
    async fn scale(&self, _namespace: &str, name: &str, replicas: u32) -> Result<()> {
        if let Some(e) = self.scale_fail.take() {
            return Err(e);
        }
        self.scale_calls.lock().expect("lock").push((name.to_owned(), replicas));
        self.replicas.lock().expect("lock").insert(name.to_owned(), replicas);
        if let Some(e) = self.scale_fail_after_apply.take() {
            return Err(e.request_maybe_sent());
        }
        Ok(())
    }
    async fn rollout_history(&self, _namespace: &str, _name: &str) -> Result<Vec<Revision>> {
        Ok(Vec::new())
    }
    async fn rollback(&self, _namespace: &str, _name: &str, _to_revision: Option<u64>) -> Result<Revision> {
        Err(crate::Error::internal("not supported by the fake"))
    }
    async fn rollout_status(&self, _namespace: &str, _name: &str) -> Result<RolloutStatus> {
        Ok(RolloutStatus { complete: true, failed: false, message: "complete".into() })
    }
    async fn pods<'a>(&self, _namespace: Option<&'a str>, _selector: &BTreeMap<String, String>) -> Result<Vec<Pod>> {
        Ok(Vec::new())
    }
    async fn nodes(&self) -> Result<Vec<Node>> {
        Ok(Vec::new())
    }
    async fn service(&self, _namespace: &str, _name: &str) -> Result<Option<Service>> {
        Ok(None)
    }
    async fn services(&self, _namespace: &str) -> Result<Vec<Service>> {
        Ok(Vec::new())
    }
    async fn endpoints(&self, _namespace: &str) -> Result<Vec<Endpoints>> {
        Ok(Vec::new())
    }
    async fn annotate_service<'a>(&self, _ns: &str, _name: &str, _key: &str, _value: Option<&'a str>) -> Result<()> {
        Ok(())
    }
    async fn label_pod<'a>(&self, _ns: &str, _name: &str, _key: &str, _value: Option<&'a str>) -> Result<()> {
        Ok(())
    }
    async fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>> {
        Ok(Some(ConfigMap {
            namespace: namespace.into(),
            name: name.into(),
            data: self.config.lock().expect("lock").clone(),
        }))
    }
    async fn patch_config_map(&self, _ns: &str, _name: &str, data: &BTreeMap<String, Option<String>>) -> Result<()> {
        if let Some(e) = self.patch_fail.take() {
            return Err(e);
        }
        self.patch_calls.fetch_add(1, Ordering::SeqCst);
        let mut c = self.config.lock().expect("lock");
        for (k, v) in data {
            match v {
                Some(v) => c.insert(k.clone(), v.clone()),
                None => c.remove(k),
            };
        }
        Ok(())
    }
    async fn events<'a>(&self, _namespace: Option<&'a str>) -> Result<Vec<ClusterEvent>> {
        Ok(Vec::new())
    }
    async fn logs(&self, _namespace: &str, _pod: &str, _tail: u32) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    async fn apply(&self, _manifests: &[Manifest], _field_manager: &str) -> Result<Vec<Applied>> {
        Ok(Vec::new())
    }
    async fn object<'a>(
        &self,
        _a: &str,
        _k: &str,
        _ns: Option<&'a str>,
        _n: &str,
    ) -> Result<Option<serde_json::Value>> {
        Ok(None)
    }
    async fn delete_object<'a>(&self, _a: &str, _k: &str, _ns: Option<&'a str>, _n: &str) -> Result<()> {
        Ok(())
    }
}
