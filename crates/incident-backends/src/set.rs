//! [`BackendSet`]: a [`BackendSpec`] opened.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use incident_aws::AwsBackends;
use incident_core::backend::{Backends, Clusters, DatastoreProbe};
use incident_core::engine::{Executor, Failpoints};
use incident_core::sim::{Scenario, SimPlatform};
use incident_core::store::{MemoryStore, Store};
use incident_core::triage::{TriageOptions, TriageReport};
use incident_core::{Policy, Result};
use incident_datastores::{PostgresProbe, PostgresProbeConfig, RedisProbe, RedisProbeConfig};
use incident_store::{PgStore, SqliteStore};

use crate::realtime::{NetRuntime, Realtime};
use crate::spec::{BackendSpec, SimSource, StoreSpec};

/// The backends of one [`BackendSpec`], connected: the core's [`Backends`], the simulated platform
/// behind them (if any), the journal store, and the runtime of the real clients.
///
/// Cheap to clone (every part is shared). Use it from any tokio runtime, including the simulator's
/// paused one ([`incident_core::sim::runtime`]), which is where procedures on a simulated cluster
/// belong; real clients run on their own real-time runtime (see the crate docs). Dropping the last clone
/// closes the real clients without blocking.
#[derive(Clone)]
pub struct BackendSet {
    backends: Backends,
    sim: Option<SimPlatform>,
    store: Arc<dyn Store>,
    parts: Arc<Parts>,
}

/// What was connected, for `Debug` and [`BackendSet::describe`]; keeps the network runtime alive.
#[derive(Debug)]
struct Parts {
    aws: Option<(String, Option<String>)>,
    store: String,
    real_probes: Vec<String>,
    /// The kubeconfig contexts, for [`BackendSet::with_watch_cache`].
    kube: Option<Arc<incident_k8s::KubeClusters>>,
    _net: Option<Arc<NetRuntime>>,
}

impl fmt::Debug for BackendSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendSet").field("describe", &self.describe()).finish_non_exhaustive()
    }
}

impl BackendSpec {
    /// Connect everything the spec names: open or create the simulated platform (and advance it), load
    /// the AWS configuration chain and resolve credentials, open the store (running the PostgreSQL
    /// store's migrations), and build the probes (which connect when they probe). Real clients share one
    /// real-time runtime owned by the returned set.
    ///
    /// The policy's data-integrity checks run in the real PostgreSQL probe.
    ///
    /// Must be awaited inside a tokio runtime.
    ///
    /// # Errors
    /// As [`BackendSpec::validate`]; `NotFound` for an unknown scenario; the simulator's errors for a
    /// state file; [`AwsBackends::connect`]'s for AWS (bad region, no credentials); the stores' for the
    /// store (`Unavailable`, `PermissionDenied`, ... naming the redacted URL).
    pub async fn open(self, policy: &Policy) -> Result<BackendSet> {
        self.validate()?;
        let mut net = LazyNet(None);
        // AWS first: EKS contexts get their endpoint, CA and token from it.
        let aws = match self.aws {
            Some(config) => {
                let rt = net.get()?;
                Some(Arc::new(rt.run(AwsBackends::connect(config)).await?))
            }
            None => None,
        };
        let mut kube_clusters = None;
        let (mut backends, platform) = match (self.sim, self.kube) {
            (Some(sim), _) => {
                let platform = open_sim(sim)?;
                (platform.backends(), Some(platform))
            }
            (None, kube) => {
                let rt = net.get()?;
                let mut clusters: Option<Arc<dyn Clusters>> = match kube {
                    Some(kube) => {
                        let k = Arc::new(rt.run(async move { incident_k8s::KubeClusters::load(&kube) }).await?);
                        kube_clusters = Some(Arc::clone(&k));
                        Some(Arc::new(crate::kube::NetClusters { inner: k, net: Arc::clone(&rt) }))
                    }
                    None => None,
                };
                if let Some(aws) = aws.as_ref().filter(|_| !self.eks.is_empty()) {
                    let source = Arc::new(crate::eks::AwsEks { aws: Arc::clone(aws), net: Arc::clone(&rt) });
                    clusters = Some(Arc::new(crate::eks::EksClusters {
                        kube: clusters,
                        eks: self.eks.into_iter().map(|e| (e.context.clone(), e)).collect(),
                        source,
                        net: Arc::clone(&rt),
                        clock: Arc::new(incident_core::clock::SystemClock),
                        cache: tokio::sync::Mutex::new(std::collections::HashMap::new()),
                    }));
                }
                let clusters = clusters.ok_or_else(crate::spec::no_cluster_backend)?;
                (real_cluster_backends(clusters, rt)?, None)
            }
        };

        let mut aws_desc = None;
        if let Some(aws) = aws {
            let rt = net.get()?;
            aws_desc = Some((aws.primary_region().to_owned(), aws.secondary_region().map(str::to_owned)));
            let aws = Arc::new(Realtime::shared(aws, rt));
            backends.databases = aws.clone();
            backends.dns = aws.clone();
            backends.cloud = aws;
        }

        let (store, store_desc): (Arc<dyn Store>, String) = match self.store {
            StoreSpec::Memory => (Arc::new(MemoryStore::new()), "memory".to_owned()),
            StoreSpec::Sqlite(path) => {
                let desc = format!("sqlite {}", path.display());
                (Arc::new(SqliteStore::open(path)?), desc)
            }
            StoreSpec::Postgres(url) => {
                let desc = format!("postgres {url}");
                let rt = net.get()?;
                let pg = rt.run(async move { PgStore::connect(&url).await }).await?;
                (Arc::new(Realtime::new(pg, rt)), desc)
            }
            StoreSpec::Open(s) => (s, "open store".to_owned()),
        };

        let mut real: Vec<Box<dyn DatastoreProbe>> = Vec::new();
        if let Some(url) = self.postgres {
            let mut config = PostgresProbeConfig::new(url);
            config.integrity_checks.clone_from(&policy.integrity_checks);
            real.push(Box::new(PostgresProbe::new(config)));
        }
        if let Some(url) = self.redis {
            real.push(Box::new(RedisProbe::new(RedisProbeConfig::new(url))));
        }
        let mut real_probes = Vec::new();
        for probe in real {
            let name = probe.name().to_owned();
            // A real datastore replaces the simulator's probe of the same name.
            backends.probes.insert(name.clone(), Arc::new(Realtime::new(probe, net.get()?)));
            real_probes.push(name);
        }

        Ok(BackendSet {
            backends,
            sim: platform,
            store,
            parts: Arc::new(Parts { aws: aws_desc, store: store_desc, real_probes, kube: kube_clusters, _net: net.0 }),
        })
    }
}

/// Open or create the simulated platform of `sim` and advance it.
fn open_sim(sim: crate::spec::SimSpec) -> Result<SimPlatform> {
    let platform = match sim.source {
        SimSource::File { path, scenario } => match SimPlatform::open(&path) {
            Err(e) if e.kind() == incident_core::ErrorKind::NotFound => {
                SimPlatform::create(&path, &Scenario::from_name_or_path(&scenario)?)?
            }
            other => other?,
        },
        SimSource::Scenario(name) => SimPlatform::from_scenario(&Scenario::from_name_or_path(&name)?)?,
        SimSource::Platform(p) => p,
    };
    if let Some(at) = sim.at {
        platform.advance_to_offset(at)?;
    }
    Ok(platform)
}

/// The ports of a real-cluster run without a simulator (see [`BackendSpec`]).
fn real_cluster_backends(clusters: Arc<dyn Clusters>, net: Arc<NetRuntime>) -> Result<Backends> {
    let unconfigured = Arc::new(crate::kube::Unconfigured);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| incident_core::Error::internal(format!("cannot build the HTTP client: {e}")))?;
    Ok(Backends {
        clusters,
        databases: unconfigured.clone(),
        dns: unconfigured.clone(),
        cloud: unconfigured.clone(),
        http: Arc::new(crate::kube::NetHttp { client, net }),
        probes: std::collections::BTreeMap::new(),
        notifier: unconfigured,
        clock: Arc::new(incident_core::clock::SystemClock),
    })
}

/// The network runtime, started by the first real client that needs it.
struct LazyNet(Option<Arc<NetRuntime>>);

impl LazyNet {
    fn get(&mut self) -> Result<Arc<NetRuntime>> {
        if let Some(rt) = &self.0 {
            return Ok(Arc::clone(rt));
        }
        let rt = NetRuntime::new()?;
        self.0 = Some(Arc::clone(&rt));
        Ok(rt)
    }
}

impl BackendSet {
    /// The core's ports, wired.
    #[must_use]
    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    /// The simulated platform behind the cluster side (and whatever AWS does not replace), if any.
    #[must_use]
    pub fn sim(&self) -> Option<&SimPlatform> {
        self.sim.as_ref()
    }

    /// The journal store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Now, on the backends' clock (the simulator's virtual clock when simulated).
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        self.backends.clock.now()
    }

    /// Whether AWS serves databases, DNS and cloud checks.
    #[must_use]
    pub fn uses_aws(&self) -> bool {
        self.parts.aws.is_some()
    }

    /// Names of the probes that reach real datastores.
    #[must_use]
    pub fn real_probes(&self) -> &[String] {
        &self.parts.real_probes
    }

    /// One line naming each part, e.g. `clusters: sim (bad-deploy); databases/dns/cloud: aws us-west-2 →
    /// us-east-1; store: postgres postgres://incident:***@127.0.0.1:5432/incident; probes: postgres (real),
    /// redis (sim)`. Never contains a password.
    #[must_use]
    pub fn describe(&self) -> String {
        let clusters = self.sim.as_ref().map_or_else(
            || format!("kubernetes (context {})", self.backends.clusters.default_context()),
            |p| format!("sim ({})", p.scenario_name()),
        );
        let cloud = match (&self.parts.aws, &self.sim) {
            (Some((p, Some(s))), _) => format!("aws {p} → {s}"),
            (Some((p, None)), _) => format!("aws {p}"),
            (None, Some(_)) => "sim".to_owned(),
            // A real cluster without AWS: those ports refuse, naming the missing flag.
            (None, None) => "not configured".to_owned(),
        };
        let probes: Vec<String> = self
            .backends
            .probes
            .keys()
            .map(|k| format!("{k} ({})", if self.parts.real_probes.contains(k) { "real" } else { "sim" }))
            .collect();
        format!(
            "clusters: {clusters}; databases/dns/cloud: {cloud}; store: {}; probes: {}",
            self.parts.store,
            probes.join(", ")
        )
    }

    /// An executor over these backends and this store, as `owner` (claims of a live executor exclude
    /// every other one), with the failpoints of `INCIDENT_FAILPOINTS` (crash tests).
    #[must_use]
    pub fn executor(&self, policy: Policy, owner: impl Into<String>) -> Executor {
        Executor::new(self.backends.clone(), Arc::clone(&self.store), policy)
            .with_owner(owner)
            .with_failpoints(Failpoints::from_env())
    }

    /// This set with the reads of kubeconfig context `context` (the default context when `None`) going
    /// through a watch cache ([`incident_k8s::WatchCache`], started on the network runtime, following the
    /// cluster until the last clone of the returned set and the cache are dropped): `backends().clusters`
    /// then hands out an [`incident_k8s::CachedCluster`] for that context, which LISTs until the cache is
    /// synced; every other context is unchanged. Returns the set and the cache (its health, for
    /// `/metrics` and `/readyz`).
    ///
    /// # Errors
    /// `InvalidInput` when the set has no kubeconfig clusters (a simulator, or EKS contexts only: their
    /// tokens expire, and a watch would not follow the refresh); `NotFound` for an unknown context.
    pub async fn with_watch_cache(
        &self,
        context: Option<&str>,
        opts: incident_k8s::WatchCacheOptions,
    ) -> Result<(BackendSet, Arc<incident_k8s::WatchCache>)> {
        let context = context.map_or_else(|| self.backends.clusters.default_context(), str::to_owned);
        let (Some(kube), Some(net)) = (&self.parts.kube, &self.parts._net) else {
            return Err(incident_core::Error::invalid_input(format!(
                "a watch cache follows kubeconfig contexts (--kube/--kubeconfig); context {context:?} is not one"
            )));
        };
        if !kube.contexts().contains(&context) {
            return Err(incident_core::Error::invalid_input(format!(
                "a watch cache follows kubeconfig contexts; {context:?} is not one (EKS contexts are read by LIST)"
            )));
        }
        let live = self.backends.clusters.cluster(&context).await?;
        let (kube, ctx) = (Arc::clone(kube), context.clone());
        let cache = net
            .run(async move {
                let cluster = kube.connect(&ctx).await?;
                Ok(incident_k8s::WatchCache::start(cluster.client(), ctx, &opts))
            })
            .await?;
        let cached: Arc<dyn incident_core::backend::Cluster> =
            Arc::new(incident_k8s::CachedCluster::new(Arc::clone(&cache), live));
        let mut set = self.clone();
        set.backends.clusters =
            Arc::new(crate::kube::CachedClusters { inner: Arc::clone(&self.backends.clusters), context, cached });
        Ok((set, cache))
    }

    /// The runbook's first-five-minutes triage of cluster `context` (the backends' default context when
    /// `None`) with every datastore probe (real ones where configured). A partly unavailable cluster is a
    /// report with missing sections, not an error.
    ///
    /// # Errors
    /// `InvalidInput` for options [`TriageOptions::validate`] refuses (a blank namespace); `NotFound` for an
    /// unknown context.
    pub async fn triage(&self, opts: &TriageOptions, context: Option<&str>) -> Result<TriageReport> {
        opts.validate()?;
        let context = context.map_or_else(|| self.backends.clusters.default_context(), str::to_owned);
        let cluster = self.backends.clusters.cluster(&context).await?;
        let probes: Vec<Arc<dyn DatastoreProbe>> = self.backends.probes.values().cloned().collect();
        Ok(incident_core::triage::triage(&*cluster, &probes, opts, self.now()).await)
    }
}
