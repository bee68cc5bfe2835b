//! What to connect: [`BackendSpec`] and its parts. Pure values; nothing here does I/O.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use incident_aws::AwsConfig;
use incident_core::redact::scrub_url_userinfo;
use incident_core::sim::SimPlatform;
use incident_core::store::Store;
use incident_core::{Error, Result};
use incident_datastores::{ConnectionString, RedisUrl};

/// Which backends a procedure run, a plan or a triage uses. Build it with [`BackendSpec::new`] and the
/// `with_*` methods, then [`open`](BackendSpec::open) it.
///
/// * **clusters** (Kubernetes): a real cluster through kube-rs ([`kube`](Self::kube): kubeconfig and
///   context), or the simulator ([`sim`](Self::sim)); exactly one. With a real cluster and no simulator,
///   databases/DNS/cloud are AWS or explicitly unconfigured (never simulated), HTTP checks are real GETs,
///   notifications are skipped with a reason, and time is the system clock.
/// * **databases, DNS, cloud checks** (RDS, Route53, STS, Health): AWS when [`aws`](Self::aws) is set,
///   the simulator's otherwise.
/// * **datastore probes**: the simulator's `postgres` and `redis`, each replaced by a real probe when
///   [`postgres`](Self::postgres) / [`redis`](Self::redis) is set.
/// * **journal store**: [`store`](Self::store) (in memory by default).
///
/// `Debug` never shows a password (connection strings are [`ConnectionString`] / [`RedisUrl`]).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct BackendSpec {
    /// The simulated platform: the Kubernetes side, plus databases, DNS and cloud checks unless `aws`.
    pub sim: Option<SimSpec>,
    /// A real Kubernetes cluster (kubeconfig and default context) for the cluster side.
    pub kube: Option<incident_k8s::KubeconfigSpec>,
    /// EKS clusters served as kube contexts (with or without a kubeconfig; needs `aws`).
    pub eks: Vec<crate::EksContext>,
    /// AWS for databases, DNS and cloud checks (the standard configuration chain plus these overrides).
    pub aws: Option<AwsConfig>,
    /// The journal store of runs and incidents.
    pub store: StoreSpec,
    /// A real PostgreSQL to probe (replaces the simulator's `postgres` probe; the policy's integrity
    /// checks run against it).
    pub postgres: Option<ConnectionString>,
    /// A real Redis to probe (replaces the simulator's `redis` probe).
    pub redis: Option<RedisUrl>,
}

impl BackendSpec {
    /// An empty spec (no cluster backend yet: [`open`](Self::open) refuses it until one is given).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Use the simulated platform `sim`.
    #[must_use]
    pub fn with_sim(mut self, sim: SimSpec) -> Self {
        self.sim = Some(sim);
        self
    }

    /// Use a real cluster: `kubeconfig` (`$KUBECONFIG` or `~/.kube/config` when `None`) and its `context`
    /// (the current context when `None`).
    #[must_use]
    pub fn with_kube(mut self, kube: incident_k8s::KubeconfigSpec) -> Self {
        self.kube = Some(kube);
        self
    }

    /// Serve kube context `eks.context` from an EKS cluster (the runbook's `aws eks update-kubeconfig`),
    /// e.g. the secondary region's cluster of a regional failover. Repeatable; needs [`Self::with_aws`].
    #[must_use]
    pub fn with_eks(mut self, eks: crate::EksContext) -> Self {
        self.eks.push(eks);
        self
    }

    /// EKS contexts from their `[CONTEXT=]REGION/CLUSTER` strings (the CLI's `--eks`, the bindings' `eks`),
    /// each parsed by [`crate::EksContext::parse`].
    ///
    /// # Errors
    /// `InvalidInput` naming the first string that does not parse.
    pub fn with_eks_specs<S: AsRef<str>>(mut self, specs: impl IntoIterator<Item = S>) -> Result<Self> {
        for s in specs {
            self.eks.push(crate::EksContext::parse(s.as_ref())?);
        }
        Ok(self)
    }

    /// Use AWS for databases, DNS and cloud checks.
    #[must_use]
    pub fn with_aws(mut self, aws: AwsConfig) -> Self {
        self.aws = Some(aws);
        self
    }

    /// Journal runs in `store`.
    #[must_use]
    pub fn with_store(mut self, store: StoreSpec) -> Self {
        self.store = store;
        self
    }

    /// Probe this PostgreSQL.
    #[must_use]
    pub fn with_postgres(mut self, url: ConnectionString) -> Self {
        self.postgres = Some(url);
        self
    }

    /// Probe this Redis.
    #[must_use]
    pub fn with_redis(mut self, url: RedisUrl) -> Self {
        self.redis = Some(url);
        self
    }

    /// The cluster flags every front end shares (the CLI's `--kube/--kubeconfig/--kube-context`, the
    /// bindings' `kube`/`kubeconfig`/`kube_context`): any of them selects a real cluster (`kube` alone: the
    /// default kubeconfig and its current context).
    #[must_use]
    pub fn with_kube_flags(self, kube: bool, kubeconfig: Option<PathBuf>, context: Option<String>) -> Self {
        if kube || kubeconfig.is_some() || context.is_some() {
            self.with_kube(incident_k8s::KubeconfigSpec { path: kubeconfig, context })
        } else {
            self
        }
    }

    /// The simulated platform `sim` advanced to offset `at` (the front ends' `--at` / `at` / `atSeconds`,
    /// named by `arg` in the error).
    ///
    /// # Errors
    /// `InvalidInput` for an offset without a simulated platform (a real cluster runs on the system clock;
    /// dropping the offset silently would act on a different moment than asked).
    pub fn with_sim_at(self, sim: Option<SimSpec>, at: Option<Duration>, arg: &str) -> Result<Self> {
        match (sim, at) {
            (Some(sim), Some(at)) => Ok(self.with_sim(sim.at(at))),
            (Some(sim), None) => Ok(self.with_sim(sim)),
            (None, Some(_)) => Err(Error::invalid_input(format!(
                "{arg}: advances a simulated platform only (give sim or scenario); a real cluster runs on the \
                 system clock"
            ))),
            (None, None) => Ok(self),
        }
    }

    /// Check the spec without connecting to anything.
    ///
    /// # Errors
    /// `InvalidInput` when no cluster backend is given, or the AWS endpoint URL is not an `http(s)://`
    /// URL with a host. (Region names are checked by [`incident_aws::AwsBackends::connect`].)
    pub fn validate(&self) -> Result<()> {
        match (&self.sim, &self.kube, self.eks.is_empty()) {
            (None, None, true) => return Err(no_cluster_backend()),
            (Some(_), Some(_), _) => {
                return Err(Error::invalid_input(
                    "two cluster backends: give either a simulated platform (sim) or a kubeconfig (kube), not both",
                ));
            }
            (Some(_), None, false) => {
                return Err(Error::invalid_input(
                    "two cluster backends: EKS contexts act on real clusters; they do not mix with a simulated platform (sim)",
                ));
            }
            _ => {}
        }
        if !self.eks.is_empty() && self.aws.is_none() {
            return Err(Error::invalid_input(
                "EKS contexts need AWS (aws): their endpoint, CA and token come from eks:DescribeCluster and STS",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some(dup) = self.eks.iter().find(|e| !seen.insert(e.context.as_str())) {
            return Err(Error::invalid_input(format!("EKS context {:?} is given twice", dup.context)));
        }
        if let Some(url) = self.aws.as_ref().and_then(|a| a.endpoint_url.as_deref()) {
            validate_endpoint_url(url)?;
        }
        Ok(())
    }
}

/// The error of a spec without a cluster backend.
pub(crate) fn no_cluster_backend() -> Error {
    Error::invalid_input(
        "no cluster backend: give a kubeconfig (kube: a real cluster), EKS contexts (eks) or a simulated platform (sim)",
    )
}

/// Where the simulated platform comes from, and where its clock stands.
#[derive(Debug, Clone)]
pub struct SimSpec {
    /// The platform.
    pub source: SimSource,
    /// Advance the platform to this offset from its start first (never backwards).
    pub at: Option<Duration>,
}

/// The simulated platform of a [`SimSpec`].
#[derive(Debug, Clone)]
pub enum SimSource {
    /// A state file, created from `scenario` when missing (the CLI's `--sim FILE --scenario NAME`).
    File {
        /// The state file.
        path: PathBuf,
        /// Built-in scenario name or scenario YAML path, used only when the file is missing.
        scenario: String,
    },
    /// A fresh in-memory platform from a built-in scenario name or a scenario YAML path.
    Scenario(String),
    /// An open platform, shared with its other holders (the bindings' `SimPlatform` objects).
    Platform(SimPlatform),
}

impl SimSpec {
    /// A state file, created from `scenario` when missing.
    #[must_use]
    pub fn file(path: impl Into<PathBuf>, scenario: impl Into<String>) -> Self {
        Self { source: SimSource::File { path: path.into(), scenario: scenario.into() }, at: None }
    }

    /// A fresh in-memory platform from `scenario`.
    #[must_use]
    pub fn scenario(scenario: impl Into<String>) -> Self {
        Self { source: SimSource::Scenario(scenario.into()), at: None }
    }

    /// An open platform.
    #[must_use]
    pub fn platform(platform: SimPlatform) -> Self {
        Self { source: SimSource::Platform(platform), at: None }
    }

    /// Advance to `offset` from the platform's start when opening.
    #[must_use]
    pub fn at(mut self, offset: Duration) -> Self {
        self.at = Some(offset);
        self
    }
}

/// The journal store.
#[derive(Clone, Default)]
pub enum StoreSpec {
    /// A fresh in-memory store (nothing survives the process; enough for planning and triage).
    #[default]
    Memory,
    /// A SQLite file (created when missing).
    Sqlite(PathBuf),
    /// The PostgreSQL team store (safe under concurrent writers from several processes).
    Postgres(Box<ConnectionString>),
    /// An already-open store.
    Open(Arc<dyn Store>),
}

impl fmt::Debug for StoreSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("Memory"),
            Self::Sqlite(p) => f.debug_tuple("Sqlite").field(p).finish(),
            Self::Postgres(url) => f.debug_tuple("Postgres").field(url).finish(),
            Self::Open(_) => f.write_str("Open(..)"),
        }
    }
}

impl StoreSpec {
    /// The CLI's `--store` rule: a `postgres://` or `postgresql://` URL selects the team store, any other
    /// text is a SQLite file path.
    ///
    /// # Errors
    /// `InvalidInput` for an empty spec, a malformed PostgreSQL URL, or another URL scheme (`mysql://`,
    /// `redis://`, ...) that would otherwise become a strangely named SQLite file. Messages never repeat a
    /// password.
    pub fn parse(spec: &str) -> Result<Self> {
        if spec.trim().is_empty() {
            return Err(Error::invalid_input("store: empty (give a SQLite file path or a postgres:// URL)"));
        }
        match url_scheme(spec) {
            Some(s) if s.eq_ignore_ascii_case("postgres") || s.eq_ignore_ascii_case("postgresql") => {
                // tokio-postgres only knows the lower-case schemes.
                let normalized = format!("{}{}", s.to_ascii_lowercase(), &spec[s.len()..]);
                Ok(Self::Postgres(Box::new(ConnectionString::parse(&normalized).map_err(|e| e.context("store"))?)))
            }
            Some(s) => Err(Error::invalid_input(format!(
                "store {}: unsupported scheme `{s}://` (give a SQLite file path or a postgres:// URL)",
                scrub_url_userinfo(spec)
            ))),
            None => Ok(Self::Sqlite(PathBuf::from(spec))),
        }
    }
}

impl StoreSpec {
    /// Open the store on the current Tokio runtime (SQLite on a blocking thread, PostgreSQL connected on
    /// this runtime; a memory store; an open store as it is), with a line describing it
    /// (`sqlite PATH`, `postgres URL` without the password). The CLI's lifecycle commands and the Python
    /// and Node `Incidents` open their store with this.
    ///
    /// # Errors
    /// The store's (`Unavailable`, `Integrity`, `PreconditionFailed` for a newer schema, ...).
    pub async fn open_here(self) -> Result<(Arc<dyn Store>, String)> {
        match self {
            Self::Memory => Ok((Arc::new(incident_core::store::MemoryStore::new()), "memory".to_owned())),
            Self::Sqlite(path) => {
                let desc = format!("sqlite {}", path.display());
                let store = tokio::task::spawn_blocking(move || incident_store::SqliteStore::open(path))
                    .await
                    .map_err(|e| Error::internal("store open task failed").with_source(e))??;
                Ok((Arc::new(store), desc))
            }
            Self::Postgres(url) => {
                let desc = format!("postgres {url}");
                Ok((Arc::new(incident_store::PgStore::connect(&url).await?), desc))
            }
            Self::Open(store) => Ok((store, "open store".to_owned())),
        }
    }
}

/// `scheme` of `scheme://...`, when `text` starts like a URL.
fn url_scheme(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    (first_ok && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))).then_some(scheme)
}

/// An endpoint override must be `http(s)://host[:port][/path]`: anything else would only fail later, on
/// the first call, with a less helpful message.
fn validate_endpoint_url(url: &str) -> Result<()> {
    let bad = |why: String| {
        Error::invalid_input(format!(
            "AWS endpoint URL {:?}: {why} (expected http:// or https:// and a host, e.g. http://127.0.0.1:5000)",
            scrub_url_userinfo(url)
        ))
    };
    if url.chars().any(char::is_whitespace) {
        return Err(bad("contains whitespace".into()));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(bad("no scheme".into()));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(bad(format!("unsupported scheme `{scheme}`")));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| bad("unterminated IPv6 address".into()))?;
        (h, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host".into()));
    }
    if let Some(p) = port
        && p.parse::<u16>().is_err()
    {
        return Err(bad(format!("bad port `{p}`")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eks_specs_parse_in_order_and_a_bad_one_is_named() {
        let spec =
            BackendSpec::new().with_eks_specs(["primary=us-west-2/ml", "us-east-1/ml-secondary"]).expect("both parse");
        let names: Vec<&str> = spec.eks.iter().map(|e| e.context.as_str()).collect();
        assert_eq!(names, ["primary", "ml-secondary"]);
        let e = BackendSpec::new().with_eks_specs(["us-east-1/ok", "nonsense"]).expect_err("second is bad");
        assert_eq!(e.kind(), incident_core::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("nonsense"), "{e}");
    }

    #[test]
    fn store_specs() {
        assert!(
            matches!(StoreSpec::parse("journal.sqlite"), Ok(StoreSpec::Sqlite(p)) if p.as_os_str() == "journal.sqlite")
        );
        assert!(matches!(StoreSpec::parse("/tmp/x/j.db"), Ok(StoreSpec::Sqlite(_))));
        assert!(matches!(StoreSpec::parse("postgres://u:pw@h:5432/db"), Ok(StoreSpec::Postgres(_))));
        assert!(matches!(StoreSpec::parse("PostgreSQL://u@h/db"), Ok(StoreSpec::Postgres(_))));
        let e = StoreSpec::parse("mysql://root:hunter2@db/x").unwrap_err();
        assert_eq!(e.kind(), incident_core::ErrorKind::InvalidInput);
        assert_eq!(
            e.message(),
            "store mysql://***@db/x: unsupported scheme `mysql://` (give a SQLite file path or a postgres:// URL)"
        );
        let e = StoreSpec::parse("postgres://u:hunter2@h:notaport/db").unwrap_err();
        assert!(e.message().starts_with("store: invalid PostgreSQL connection string"), "{e}");
        assert!(!e.message().contains("hunter2"));
        assert_eq!(StoreSpec::parse("  ").unwrap_err().kind(), incident_core::ErrorKind::InvalidInput);
        assert!(format!("{:?}", StoreSpec::parse("postgres://u:hunter2@h/db").unwrap()).contains("u:***@h"));
    }

    #[test]
    fn endpoint_urls() {
        for ok in ["http://127.0.0.1:5000", "https://rds.us-east-1.amazonaws.com", "http://[::1]:9/x", "http://moto"] {
            validate_endpoint_url(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for (bad, why) in [
            ("127.0.0.1:5000", "no scheme"),
            ("ftp://host", "unsupported scheme `ftp`"),
            ("http://", "no host"),
            ("http://:80", "no host"),
            ("http://h:99999", "bad port `99999`"),
            ("http://h st", "contains whitespace"),
            ("http://[::1", "unterminated IPv6 address"),
        ] {
            let e = validate_endpoint_url(bad).unwrap_err();
            assert!(e.message().contains(why), "{bad}: {e}");
            assert_eq!(e.kind(), incident_core::ErrorKind::InvalidInput);
        }
        let e = validate_endpoint_url("gopher://key:s3cret@h").unwrap_err();
        assert!(!e.message().contains("s3cret"), "{e}");
    }
}
