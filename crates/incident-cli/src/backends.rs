//! Which platform the engine commands (plan, run, resume, triage) act on: the simulator, a real
//! Kubernetes cluster (kubeconfig or EKS), AWS; the journal store; and this process's executor identity.

use std::path::PathBuf;

use clap::Args;
use incident_backends::{BackendSet, BackendSpec, SimSpec, StoreSpec};
use incident_core::{Error, Result};

use crate::output::Ctx;

/// Which platform to act on.
#[derive(Debug, Args)]
pub(crate) struct BackendArgs {
    /// Simulated platform state file (created from --scenario when missing): the Kubernetes side, and the
    /// databases, DNS and region checks unless --aws is given. Give this, --kube or --eks.
    // Required unless a cluster flag is given: checked by `spec` (clap's `required_unless_present_any`
    // would also require it of `incident drills checklist`, which takes these flags only with --run).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["kube", "kubeconfig", "eks"])]
    sim: Option<PathBuf>,
    /// Scenario used to create the --sim state file.
    #[arg(long, default_value = "bad-deploy")]
    scenario: String,
    /// Advance the simulated platform to this offset from its start first (e.g. `5m`).
    #[arg(long, requires = "sim")]
    at: Option<incident_core::HumanDuration>,
    /// Act on a real Kubernetes cluster (kube-rs) from the kubeconfig ($KUBECONFIG or ~/.kube/config).
    #[arg(long)]
    kube: bool,
    /// Kubeconfig file for a real cluster (implies --kube).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Default kubeconfig context (default: its current-context; implies --kube); procedures name their
    /// own contexts.
    #[arg(long, value_name = "CONTEXT", conflicts_with = "sim")]
    kube_context: Option<String>,
    /// Serve kube context CONTEXT from EKS cluster CLUSTER in REGION (the runbook's `aws eks
    /// update-kubeconfig`, without the aws CLI; tokens are refreshed before they expire). Repeatable;
    /// needs --aws. `REGION/CLUSTER` alone names the context after the cluster.
    #[arg(long, value_name = "CONTEXT=REGION/CLUSTER", requires = "aws")]
    eks: Vec<String>,
    /// Use AWS (RDS, Route53, STS, Health) for databases, DNS and region checks, from the standard
    /// configuration chain (environment, profile, region).
    #[arg(long)]
    aws: bool,
    /// AWS primary region (default: the chain's region).
    #[arg(long, requires = "aws")]
    aws_region: Option<String>,
    /// AWS secondary (failover) region.
    #[arg(long, requires = "aws")]
    aws_secondary_region: Option<String>,
    /// AWS shared-config profile.
    #[arg(long, requires = "aws")]
    aws_profile: Option<String>,
    /// Endpoint override for every AWS service (moto, LocalStack).
    #[arg(long, requires = "aws")]
    aws_endpoint_url: Option<String>,
}

impl BackendArgs {
    /// The backends these flags select (the rule itself lives in `incident-backends`).
    pub(crate) fn spec(&self, store: Option<&str>) -> Result<BackendSpec> {
        if !self.given() {
            return Err(Error::invalid_input(
                "which platform? give --sim FILE, --kube, --kubeconfig FILE, --kube-context CONTEXT or --eks",
            ));
        }
        let sim = self.sim.as_ref().map(|path| SimSpec::file(path, &self.scenario));
        let mut spec = BackendSpec::new().with_sim_at(sim, self.at.map(|a| a.as_std()), "--at")?.with_kube_flags(
            self.kube,
            self.kubeconfig.clone(),
            self.kube_context.clone(),
        );
        spec = spec.with_eks_specs(&self.eks)?;
        if self.aws {
            spec = spec.with_aws(incident_backends::AwsConfig {
                primary_region: self.aws_region.clone(),
                secondary_region: self.aws_secondary_region.clone(),
                endpoint_url: self.aws_endpoint_url.clone(),
                profile: self.aws_profile.clone(),
                ..incident_backends::AwsConfig::default()
            });
        }
        if let Some(store) = store {
            spec = spec.with_store(StoreSpec::parse(store)?);
        }
        Ok(spec)
    }

    /// Whether a platform was named (--sim, or a cluster flag).
    pub(crate) fn given(&self) -> bool {
        self.sim.is_some()
            || self.kube
            || self.kubeconfig.is_some()
            || self.kube_context.is_some()
            || !self.eks.is_empty()
    }

    /// The runtime commands run on: the simulator's paused-clock runtime for a simulated platform, an
    /// ordinary one (real time, for real waits) for a real cluster.
    pub(crate) fn runtime(&self) -> Result<tokio::runtime::Runtime> {
        if self.sim.is_some() {
            incident_core::sim::runtime()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| Error::internal(format!("cannot start a runtime: {e}")))
        }
    }

    /// Connect the backends on `rt` (from [`BackendArgs::runtime`]).
    pub(crate) fn open(&self, ctx: &Ctx, store: Option<&str>, rt: &tokio::runtime::Runtime) -> Result<BackendSet> {
        rt.block_on(self.spec(store)?.open(&ctx.policy))
    }
}

/// The datastore probes of `incident triage` and `incident drills checklist --run`.
#[derive(Debug, Args)]
pub(crate) struct ProbeArgs {
    /// Probe this PostgreSQL too (`postgres://user:password@host:port/db`; the password is never printed).
    #[arg(long, env = "INCIDENT_POSTGRES_URL", hide_env_values = true)]
    postgres: Option<String>,
    /// Probe this Redis too (`redis://:password@host:port`).
    #[arg(long, env = "INCIDENT_REDIS_URL", hide_env_values = true)]
    redis: Option<String>,
}

impl ProbeArgs {
    /// `spec` with these probes (named `postgres` and `redis`).
    pub(crate) fn add_to(&self, mut spec: BackendSpec) -> Result<BackendSpec> {
        if let Some(url) = &self.postgres {
            spec = spec.with_postgres(incident_backends::ConnectionString::parse(url)?);
        }
        if let Some(url) = &self.redis {
            spec = spec.with_redis(incident_backends::RedisUrl::parse(url)?);
        }
        Ok(spec)
    }
}

/// This process's executor identity (`host:pid`): claims of a live executor exclude every other one.
pub(crate) fn executor_owner() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// The cluster flags of commands where a cluster is optional (`incident serve`: the evidence driver runs
/// only with one) or the only backend (`incident evidence capture`): `--kube/--kubeconfig/--kube-context`
/// and `--eks` (with `--aws`), as `incident triage` takes them.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct ClusterArgs {
    /// Read a real Kubernetes cluster (kube-rs) from the kubeconfig ($KUBECONFIG or ~/.kube/config).
    #[arg(long)]
    kube: bool,
    /// Kubeconfig file (implies --kube).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: its current-context; implies --kube).
    #[arg(long, value_name = "CONTEXT")]
    kube_context: Option<String>,
    /// Serve kube context CONTEXT from EKS cluster CLUSTER in REGION (needs --aws); repeatable.
    #[arg(long, value_name = "CONTEXT=REGION/CLUSTER", requires = "aws")]
    eks: Vec<String>,
    /// Use AWS's standard configuration chain (for --eks).
    #[arg(long)]
    aws: bool,
    /// AWS region (default: the chain's region).
    #[arg(long, requires = "aws")]
    aws_region: Option<String>,
    /// AWS shared-config profile.
    #[arg(long, requires = "aws")]
    aws_profile: Option<String>,
    /// Endpoint override for every AWS service (moto, LocalStack).
    #[arg(long, requires = "aws")]
    aws_endpoint_url: Option<String>,
}

impl ClusterArgs {
    /// These flags as `incident run` takes them (for the approve command `incident serve` posts).
    pub(crate) fn flags(&self) -> String {
        let mut out = Vec::new();
        if self.kube {
            out.push("--kube".to_owned());
        }
        if let Some(k) = &self.kubeconfig {
            out.push(format!("--kubeconfig {}", crate::output::shell_word(&k.display().to_string())));
        }
        if let Some(c) = &self.kube_context {
            out.push(format!("--kube-context {c}"));
        }
        if self.aws {
            out.push("--aws".to_owned());
        }
        if let Some(r) = &self.aws_region {
            out.push(format!("--aws-region {r}"));
        }
        if let Some(p) = &self.aws_profile {
            out.push(format!("--aws-profile {p}"));
        }
        if let Some(u) = &self.aws_endpoint_url {
            out.push(format!("--aws-endpoint-url {u}"));
        }
        for e in &self.eks {
            out.push(format!("--eks {e}"));
        }
        out.join(" ")
    }

    /// Whether a cluster was given.
    pub(crate) fn given(&self) -> bool {
        self.kube || self.kubeconfig.is_some() || self.kube_context.is_some() || !self.eks.is_empty()
    }

    /// The default cluster of these flags, `None` when none was given; the backend set is returned too
    /// (it keeps the network runtime alive).
    pub(crate) async fn open(
        &self,
        policy: &incident_core::Policy,
    ) -> Result<Option<(BackendSet, std::sync::Arc<dyn incident_core::backend::Cluster>)>> {
        if !self.given() {
            return Ok(None);
        }
        let mut spec =
            BackendSpec::new().with_kube_flags(self.kube, self.kubeconfig.clone(), self.kube_context.clone());
        spec = spec.with_eks_specs(&self.eks)?;
        if self.aws {
            spec = spec.with_aws(incident_backends::AwsConfig {
                primary_region: self.aws_region.clone(),
                endpoint_url: self.aws_endpoint_url.clone(),
                profile: self.aws_profile.clone(),
                ..incident_backends::AwsConfig::default()
            });
        }
        let set = spec.open(policy).await?;
        let clusters = &set.backends().clusters;
        let cluster = clusters.cluster(&clusters.default_context()).await?;
        Ok(Some((set, cluster)))
    }
}
