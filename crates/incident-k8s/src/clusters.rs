//! [`KubeClusters`]: kubeconfig contexts as the core's `Clusters` port.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use incident_core::backend::{Cluster, Clusters};
use incident_core::{Error, Result};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::cluster::{KubeCluster, KubeOptions};

/// Which kubeconfig and context to use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeconfigSpec {
    /// Kubeconfig file; `None` = `$KUBECONFIG` (merged, like kubectl) or `~/.kube/config`.
    pub path: Option<PathBuf>,
    /// Default context; `None` = the kubeconfig's `current-context`.
    pub context: Option<String>,
}

/// Clusters by context name: those of a kubeconfig, built lazily and cached, plus clusters added with
/// [`KubeClusters::with_cluster`].
pub struct KubeClusters {
    kubeconfig: Kubeconfig,
    default: String,
    opts: KubeOptions,
    connect_timeout: Duration,
    cache: Mutex<HashMap<String, Arc<KubeCluster>>>,
    extra: BTreeMap<String, Arc<dyn Cluster>>,
}

impl std::fmt::Debug for KubeClusters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeClusters")
            .field("default", &self.default)
            .field("contexts", &self.contexts())
            .finish_non_exhaustive()
    }
}

fn kubeconfig_error(e: impl std::fmt::Display) -> Error {
    Error::invalid_input(format!("kubeconfig: {e}"))
}

impl KubeClusters {
    /// Read the kubeconfig (no connection is made until a context is used).
    ///
    /// # Errors
    /// `InvalidInput` for an unreadable or malformed kubeconfig; `NotFound` when the requested (or
    /// current) context is not in it.
    pub fn load(spec: &KubeconfigSpec) -> Result<Self> {
        let kubeconfig = match &spec.path {
            Some(p) => Kubeconfig::read_from(p).map_err(kubeconfig_error)?,
            None => Kubeconfig::read().map_err(kubeconfig_error)?,
        };
        let default = spec
            .context
            .clone()
            .or_else(|| kubeconfig.current_context.clone())
            .ok_or_else(|| Error::invalid_input("kubeconfig has no current-context; pass a context"))?;
        let this = Self {
            kubeconfig,
            default,
            opts: KubeOptions::default(),
            connect_timeout: Duration::from_secs(10),
            cache: Mutex::new(HashMap::new()),
            extra: BTreeMap::new(),
        };
        this.check(&this.default)?;
        Ok(this)
    }

    /// Tuning for every cluster built from now on.
    #[must_use]
    pub fn with_options(mut self, opts: KubeOptions) -> Self {
        self.opts = opts;
        self
    }

    /// Add (or replace) a cluster under `name`, e.g. the secondary region's EKS cluster.
    #[must_use]
    pub fn with_cluster(mut self, name: impl Into<String>, cluster: Arc<dyn Cluster>) -> Self {
        self.extra.insert(name.into(), cluster);
        self
    }

    /// Every context name known: the kubeconfig's and the added ones.
    #[must_use]
    pub fn contexts(&self) -> Vec<String> {
        let mut v: Vec<String> = self.kubeconfig.contexts.iter().map(|c| c.name.clone()).collect();
        v.extend(self.extra.keys().cloned());
        v.sort();
        v.dedup();
        v
    }

    fn check(&self, context: &str) -> Result<()> {
        if self.extra.contains_key(context) || self.kubeconfig.contexts.iter().any(|c| c.name == context) {
            Ok(())
        } else {
            Err(Error::not_found(format!(
                "context {context:?} is not in the kubeconfig (known: {})",
                self.contexts().join(", ")
            )))
        }
    }

    /// The client for a kubeconfig context, built on first use.
    ///
    /// # Errors
    /// `NotFound` for an unknown context; `InvalidInput` when its cluster or user entry is unusable.
    pub async fn connect(&self, context: &str) -> Result<Arc<KubeCluster>> {
        if let Some(c) = self.cache.lock().map_err(|_| Error::internal("cluster cache poisoned"))?.get(context) {
            return Ok(Arc::clone(c));
        }
        self.check(context)?;
        let options = KubeConfigOptions { context: Some(context.to_owned()), ..KubeConfigOptions::default() };
        let mut config = Config::from_custom_kubeconfig(self.kubeconfig.clone(), &options)
            .await
            .map_err(|e| Error::invalid_input(format!("kubeconfig context {context:?}: {e}")))?;
        config.connect_timeout = Some(self.connect_timeout);
        let client = Client::try_from(config)
            .map_err(|e| Error::invalid_input(format!("kubeconfig context {context:?}: cannot build a client: {e}")))?;
        let cluster = Arc::new(KubeCluster::new(client, context, self.opts.clone()));
        self.cache
            .lock()
            .map_err(|_| Error::internal("cluster cache poisoned"))?
            .insert(context.to_owned(), Arc::clone(&cluster));
        Ok(cluster)
    }
}

#[async_trait::async_trait]
impl Clusters for KubeClusters {
    async fn cluster(&self, context: &str) -> Result<Arc<dyn Cluster>> {
        if let Some(c) = self.extra.get(context) {
            return Ok(Arc::clone(c));
        }
        Ok(self.connect(context).await?)
    }

    fn default_context(&self) -> String {
        self.default.clone()
    }
}

impl KubeCluster {
    /// A cluster from an endpoint, a PEM CA bundle and a bearer token: the runbook's
    /// `aws eks update-kubeconfig` without the aws CLI (`DescribeCluster` gives the endpoint and
    /// `certificateAuthority.data`; the token is an STS-presigned `k8s-aws-v1.` token; see
    /// `incident_aws::AwsBackends::eks_credentials`). The token lives only in the client.
    ///
    /// # Errors
    /// `InvalidInput` for a malformed endpoint or CA bundle.
    pub async fn from_token(name: &str, endpoint: &str, ca_pem: &[u8], token: &str) -> Result<Self> {
        use base64::Engine as _;
        let ca_base64 = base64::engine::general_purpose::STANDARD.encode(ca_pem);
        let doc = serde_json::json!({
            "apiVersion": "v1", "kind": "Config", "current-context": name,
            "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": ca_base64}}],
            "users": [{"name": name, "user": {"token": token}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        });
        let text = serde_json::to_string(&doc).map_err(|e| Error::internal(e.to_string()))?;
        let kubeconfig =
            Kubeconfig::from_yaml(&text).map_err(|e| Error::invalid_input(format!("cluster {name}: {e}")))?;
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| Error::invalid_input(format!("cluster {name}: {e}")))?;
        let client = Client::try_from(config)
            .map_err(|e| Error::invalid_input(format!("cluster {name}: cannot build a client: {e}")))?;
        Ok(Self::new(client, name, KubeOptions::default()))
    }
}
