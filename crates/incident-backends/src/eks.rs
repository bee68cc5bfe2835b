//! EKS clusters as kube contexts: the runbook's `aws eks update-kubeconfig --region R --name N` done in
//! the process (`DescribeCluster` for the endpoint and CA, an STS-presigned bearer token; see
//! [`incident_aws::AwsBackends::eks_credentials`]), with no aws CLI and no kubeconfig file written.
//!
//! A context's client is built on first use and rebuilt with a fresh token shortly before the token
//! expires (EKS accepts a token for 15 minutes), so a long procedure never fails on an expired token:
//! the engine looks a context up for every step.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use incident_aws::{AwsBackends, EksCredentials};
use incident_core::backend::{Cluster, Clusters};
use incident_core::clock::Clock;
use incident_core::{Error, Result};

use crate::kube::NetCluster;
use crate::realtime::NetRuntime;

/// A kube context served by an EKS cluster: `aws eks update-kubeconfig --region REGION --name CLUSTER
/// --alias CONTEXT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EksContext {
    /// The context name procedures use (e.g. `ml-platform-secondary`).
    pub context: String,
    /// The cluster's region.
    pub region: String,
    /// The EKS cluster name.
    pub cluster: String,
}

impl EksContext {
    /// Context `context` served by EKS cluster `cluster` in `region`.
    #[must_use]
    pub fn new(context: impl Into<String>, region: impl Into<String>, cluster: impl Into<String>) -> Self {
        Self { context: context.into(), region: region.into(), cluster: cluster.into() }
    }

    /// The CLI's `--eks` syntax: `CONTEXT=REGION/CLUSTER`, or `REGION/CLUSTER` (the context is then the
    /// cluster name, as `aws eks update-kubeconfig --alias` would make it).
    ///
    /// # Errors
    /// `InvalidInput` naming the expected form.
    pub fn parse(spec: &str) -> Result<Self> {
        let bad = || {
            Error::invalid_input(format!(
                "EKS context {spec:?}: expected CONTEXT=REGION/CLUSTER or REGION/CLUSTER (e.g. \
                 ml-platform-secondary=us-east-1/ml-platform-secondary)"
            ))
        };
        let (context, rest) = match spec.split_once('=') {
            Some((c, r)) => (Some(c.trim()), r),
            None => (None, spec),
        };
        let (region, cluster) = rest.split_once('/').ok_or_else(bad)?;
        let (region, cluster) = (region.trim(), cluster.trim());
        let context = context.unwrap_or(cluster);
        let ok = |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c == '/' || c == '=');
        if !(ok(context) && ok(region) && ok(cluster)) {
            return Err(bad());
        }
        Ok(Self::new(context, region, cluster))
    }
}

/// Where EKS credentials come from: AWS in production, a test double in the unit tests below.
#[async_trait::async_trait]
pub(crate) trait EksSource: Send + Sync {
    async fn credentials(&self, region: &str, cluster: &str, now: DateTime<Utc>) -> Result<EksCredentials>;
}

/// AWS through the network runtime.
pub(crate) struct AwsEks {
    pub(crate) aws: Arc<AwsBackends>,
    pub(crate) net: Arc<NetRuntime>,
}

#[async_trait::async_trait]
impl EksSource for AwsEks {
    async fn credentials(&self, region: &str, cluster: &str, now: DateTime<Utc>) -> Result<EksCredentials> {
        let (aws, region, cluster) = (Arc::clone(&self.aws), region.to_owned(), cluster.to_owned());
        self.net.run(async move { aws.eks_credentials(&region, &cluster, now).await }).await
    }
}

/// Context → (client, token expiry).
type Cache = HashMap<String, (Arc<dyn Cluster>, DateTime<Utc>)>;

/// Rebuild a client this long before its token expires.
const REFRESH_MARGIN: TimeDelta = TimeDelta::minutes(2);

/// Kubeconfig contexts (when given) plus EKS contexts.
pub(crate) struct EksClusters {
    pub(crate) kube: Option<Arc<dyn Clusters>>,
    pub(crate) eks: BTreeMap<String, EksContext>,
    pub(crate) source: Arc<dyn EksSource>,
    pub(crate) net: Arc<NetRuntime>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) cache: tokio::sync::Mutex<Cache>,
}

impl EksClusters {
    async fn connect(&self, eks: &EksContext) -> Result<(Arc<dyn Cluster>, DateTime<Utc>)> {
        let context = &eks.context;
        let label = format!("EKS context {context} (cluster {} in {})", eks.cluster, eks.region);
        let creds = self
            .source
            .credentials(&eks.region, &eks.cluster, self.clock.now())
            .await
            .map_err(|e| e.context(&label))?;
        let expires_at = creds.expires_at;
        let label = format!("{label} at {}", creds.endpoint);
        let name = context.clone();
        let built = self
            .net
            .run(async move {
                incident_k8s::KubeCluster::from_token(
                    &name,
                    &creds.endpoint,
                    &creds.certificate_authority_pem,
                    &creds.token,
                )
                .await
            })
            .await
            .map_err(|e| e.context(&label))?;
        let cluster: Arc<dyn Cluster> =
            Arc::new(NetCluster::labelled(context.clone(), Arc::new(built), Arc::clone(&self.net), label));
        Ok((cluster, expires_at))
    }
}

#[async_trait::async_trait]
impl Clusters for EksClusters {
    async fn cluster(&self, context: &str) -> Result<Arc<dyn Cluster>> {
        let Some(eks) = self.eks.get(context) else {
            return match &self.kube {
                Some(k) => k.cluster(context).await,
                None => Err(Error::not_found(format!(
                    "context {context:?} is not an EKS context (known: {})",
                    self.eks.keys().cloned().collect::<Vec<_>>().join(", ")
                ))),
            };
        };
        // One refresh at a time per set: concurrent steps share the new client.
        let mut cache = self.cache.lock().await;
        if let Some((c, expires_at)) = cache.get(context)
            && self.clock.now() + REFRESH_MARGIN < *expires_at
        {
            return Ok(Arc::clone(c));
        }
        let (c, expires_at) = self.connect(eks).await?;
        cache.insert(context.to_owned(), (Arc::clone(&c), expires_at));
        Ok(c)
    }

    fn default_context(&self) -> String {
        match &self.kube {
            Some(k) => k.default_context(),
            None => self.eks.keys().next().cloned().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use incident_core::clock::ManualClock;

    use super::*;

    #[test]
    fn parses_the_cli_form() {
        assert_eq!(
            EksContext::parse("ml-platform-secondary=us-east-1/ml-secondary").expect("full"),
            EksContext::new("ml-platform-secondary", "us-east-1", "ml-secondary")
        );
        assert_eq!(
            EksContext::parse("us-east-1/ml-platform-secondary").expect("short"),
            EksContext::new("ml-platform-secondary", "us-east-1", "ml-platform-secondary")
        );
        for bad in ["", "us-east-1", "=us-east-1/x", "ctx=/x", "ctx=us-east-1/", "a b=r/c", "c=r/x/y"] {
            let e = EksContext::parse(bad).unwrap_err();
            assert_eq!(e.kind(), incident_core::ErrorKind::InvalidInput, "{bad}");
            assert!(e.message().contains("CONTEXT=REGION/CLUSTER"), "{bad}: {e}");
        }
    }

    /// Credentials for the real test control plane (endpoint, CA, service-account token), as EKS would
    /// give them, counting the calls.
    struct ControlPlane {
        endpoint: String,
        ca: Vec<u8>,
        token: String,
        lifetime: TimeDelta,
        calls: AtomicU32,
    }

    #[async_trait::async_trait]
    impl EksSource for ControlPlane {
        async fn credentials(&self, region: &str, cluster: &str, now: DateTime<Utc>) -> Result<EksCredentials> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if cluster == "missing" {
                return Err(Error::not_found(format!("EKS cluster {cluster} not found in {region}")));
            }
            Ok(EksCredentials {
                cluster: cluster.to_owned(),
                region: region.to_owned(),
                endpoint: self.endpoint.clone(),
                certificate_authority_pem: self.ca.clone(),
                token: self.token.clone(),
                expires_at: now + self.lifetime,
            })
        }
    }

    /// The service-account kubeconfig of `scripts/control-plane` as (endpoint, CA PEM, token).
    fn control_plane() -> Option<(String, Vec<u8>, String)> {
        use base64::Engine as _;
        let path = std::env::var("INCIDENT_TEST_KUBECONFIG_SA").ok()?;
        let doc: serde_json::Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(path).expect("kubeconfig")).expect("yaml");
        let cluster = &doc["clusters"][0]["cluster"];
        let ca = base64::engine::general_purpose::STANDARD
            .decode(cluster["certificate-authority-data"].as_str().expect("ca data"))
            .expect("ca base64");
        let token = doc["users"][0]["user"]["token"].as_str().expect("token").to_owned();
        Some((cluster["server"].as_str().expect("server").to_owned(), ca, token))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn eks_contexts_reach_the_cluster_and_refresh_their_token_before_expiry() {
        let Some((endpoint, ca, token)) = control_plane() else {
            eprintln!("skipped: INCIDENT_TEST_KUBECONFIG_SA unset (scripts/services start)");
            return;
        };
        let source =
            Arc::new(ControlPlane { endpoint, ca, token, lifetime: TimeDelta::minutes(14), calls: AtomicU32::new(0) });
        let clock = ManualClock::new(incident_core::clock::SystemClock.now());
        let eks = [
            EksContext::new("ml-platform-secondary", "us-east-1", "ml-secondary"),
            EksContext::new("gone", "us-east-1", "missing"),
        ];
        let clusters = EksClusters {
            kube: None,
            eks: eks.into_iter().map(|e| (e.context.clone(), e)).collect(),
            source: source.clone(),
            net: NetRuntime::new().expect("net"),
            clock: Arc::new(clock.clone()),
            cache: tokio::sync::Mutex::new(HashMap::new()),
        };
        assert_eq!(clusters.default_context(), "gone");
        let c = clusters.cluster("ml-platform-secondary").await.expect("cluster");
        assert_eq!(c.context(), "ml-platform-secondary");
        // A real call with the bearer token: the service account may list nodes (deploy/kubernetes/rbac.yaml).
        let health = c.server_health().await.expect("health");
        assert!(health.live, "{health:?}");
        c.nodes().await.expect("nodes with the EKS-style token");
        // Cached while the token is fresh; rebuilt with a new token inside the refresh margin.
        clusters.cluster("ml-platform-secondary").await.expect("cached");
        assert_eq!(source.calls.load(Ordering::SeqCst), 1);
        clock.advance(TimeDelta::minutes(11));
        clusters.cluster("ml-platform-secondary").await.expect("still fresh");
        assert_eq!(source.calls.load(Ordering::SeqCst), 1);
        clock.advance(TimeDelta::seconds(90));
        let again = clusters.cluster("ml-platform-secondary").await.expect("refreshed");
        assert_eq!(source.calls.load(Ordering::SeqCst), 2);
        again.nodes().await.expect("nodes after the refresh");

        let e = clusters.cluster("gone").await.err().expect("missing cluster");
        assert_eq!(e.kind(), incident_core::ErrorKind::NotFound);
        assert!(e.message().contains("EKS context gone (cluster missing in us-east-1)"), "{e}");
        let e = clusters.cluster("nope").await.err().expect("unknown context");
        assert_eq!(e.kind(), incident_core::ErrorKind::NotFound);
        assert!(e.message().contains("known: gone, ml-platform-secondary"), "{e}");
    }
}
