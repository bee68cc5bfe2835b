//! Store and probe selection for the CLI: `--store FILE` (SQLite, the default) or
//! `--store postgres://...` (the team store), and the datastore probes of `incident triage`.
//!
//! Network clients keep real-time deadlines, so they run on their own multi-thread runtime even when the
//! command's runtime is the simulator's paused one ([`Realtime`]).

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use incident_aws::{AwsBackends, AwsConfig};
use incident_core::backend::{
    ChangeInfo, Cloud, Databases, DatastoreProbe, DbInstance, DbSnapshot, Dns, HealthEvent, ProbeReport, RecordChange,
    RecordSet,
};
use incident_core::incident::Incident;
use incident_core::store::{JournalDraft, JournalEntry, RunRecord, SqliteStore, Store};
use incident_core::timeline::{Event, Timeline};
use incident_core::{Error, Result};
use incident_datastores::{
    ConnectionString, PgStore, PostgresProbe, PostgresProbeConfig, RedisProbe, RedisProbeConfig, RedisUrl,
};

/// Runs futures of a network client on a dedicated real-time runtime.
#[derive(Clone)]
pub(crate) struct Realtime<T> {
    inner: Arc<T>,
    rt: Arc<tokio::runtime::Runtime>,
}

impl<T: Send + Sync + 'static> Realtime<T> {
    fn new(inner: T, rt: Arc<tokio::runtime::Runtime>) -> Self {
        Self { inner: Arc::new(inner), rt }
    }

    async fn call<R, F, Fut>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(Arc<T>) -> Fut,
        Fut: Future<Output = Result<R>> + Send + 'static,
    {
        let fut = f(Arc::clone(&self.inner));
        self.rt.spawn(fut).await.map_err(|e| Error::internal(format!("store task failed: {e}")))?
    }
}

fn network_runtime() -> Result<Arc<tokio::runtime::Runtime>> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map(Arc::new)
        .map_err(|e| Error::internal(format!("cannot start a runtime: {e}")))
}

/// Open `spec`: a `postgres://` / `postgresql://` URL or a SQLite file path.
pub(crate) fn open_store(spec: &str) -> Result<Arc<dyn Store>> {
    if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        let url = ConnectionString::parse(spec)?;
        let rt = network_runtime()?;
        let store = rt.block_on(PgStore::connect(&url))?;
        Ok(Arc::new(Realtime::new(store, rt)))
    } else {
        Ok(Arc::new(SqliteStore::open(spec)?))
    }
}

#[async_trait::async_trait]
impl Store for Realtime<PgStore> {
    async fn save_incident(&self, incident: &Incident) -> Result<()> {
        let incident = incident.clone();
        self.call(|s| async move { s.save_incident(&incident).await }).await
    }
    async fn incident(&self, id: &str) -> Result<Option<Incident>> {
        let id = id.to_owned();
        self.call(|s| async move { s.incident(&id).await }).await
    }
    async fn incidents(&self) -> Result<Vec<Incident>> {
        self.call(|s| async move { s.incidents().await }).await
    }
    async fn append_events(&self, incident_id: &str, events: &[Event]) -> Result<()> {
        let (id, events) = (incident_id.to_owned(), events.to_vec());
        self.call(|s| async move { s.append_events(&id, &events).await }).await
    }
    async fn timeline(&self, incident_id: &str) -> Result<Timeline> {
        let id = incident_id.to_owned();
        self.call(|s| async move { s.timeline(&id).await }).await
    }
    async fn create_run(&self, run: &RunRecord) -> Result<()> {
        let run = run.clone();
        self.call(|s| async move { s.create_run(&run).await }).await
    }
    async fn update_run(&self, run: &RunRecord) -> Result<()> {
        let run = run.clone();
        self.call(|s| async move { s.update_run(&run).await }).await
    }
    async fn run(&self, run_id: &str) -> Result<Option<RunRecord>> {
        let id = run_id.to_owned();
        self.call(|s| async move { s.run(&id).await }).await
    }
    async fn runs(&self) -> Result<Vec<RunRecord>> {
        self.call(|s| async move { s.runs().await }).await
    }
    async fn claim_step(
        &self,
        run_id: &str,
        step_id: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let (r, st, o) = (run_id.to_owned(), step_id.to_owned(), owner.to_owned());
        self.call(|s| async move { s.claim_step(&r, &st, &o, now, lease_until).await }).await
    }
    async fn take_over_claims(&self, run_id: &str, owner: &str) -> Result<u64> {
        let (r, o) = (run_id.to_owned(), owner.to_owned());
        self.call(|s| async move { s.take_over_claims(&r, &o).await }).await
    }
    async fn append_journal(&self, draft: JournalDraft) -> Result<JournalEntry> {
        self.call(|s| async move { s.append_journal(draft).await }).await
    }
    async fn journal(&self, run_id: &str) -> Result<Vec<JournalEntry>> {
        let id = run_id.to_owned();
        self.call(|s| async move { s.journal(&id).await }).await
    }
}

#[async_trait::async_trait]
impl DatastoreProbe for Realtime<Box<dyn DatastoreProbe>> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn probe(&self) -> Result<ProbeReport> {
        self.call(|p| async move { p.probe().await }).await
    }
}

#[async_trait::async_trait]
impl Databases for Realtime<AwsBackends> {
    async fn instance(&self, region: &str, id: &str) -> Result<Option<DbInstance>> {
        let (r, i) = (region.to_owned(), id.to_owned());
        self.call(|a| async move { a.instance(&r, &i).await }).await
    }
    async fn instances(&self, region: &str) -> Result<Vec<DbInstance>> {
        let r = region.to_owned();
        self.call(|a| async move { a.instances(&r).await }).await
    }
    async fn snapshots<'a>(&self, region: &str, instance_id: Option<&'a str>) -> Result<Vec<DbSnapshot>> {
        let (r, i) = (region.to_owned(), instance_id.map(str::to_owned));
        self.call(|a| async move { a.snapshots(&r, i.as_deref()).await }).await
    }
    async fn restore_to_point_in_time(
        &self,
        region: &str,
        source: &str,
        target: &str,
        restore_time: Option<DateTime<Utc>>,
    ) -> Result<DbInstance> {
        let (r, s, t) = (region.to_owned(), source.to_owned(), target.to_owned());
        self.call(|a| async move { a.restore_to_point_in_time(&r, &s, &t, restore_time).await }).await
    }
    async fn restore_from_snapshot(&self, region: &str, snapshot: &str, target: &str) -> Result<DbInstance> {
        let (r, s, t) = (region.to_owned(), snapshot.to_owned(), target.to_owned());
        self.call(|a| async move { a.restore_from_snapshot(&r, &s, &t).await }).await
    }
    async fn promote_read_replica(&self, region: &str, id: &str) -> Result<DbInstance> {
        let (r, i) = (region.to_owned(), id.to_owned());
        self.call(|a| async move { a.promote_read_replica(&r, &i).await }).await
    }
    async fn delete_instance(&self, region: &str, id: &str) -> Result<()> {
        let (r, i) = (region.to_owned(), id.to_owned());
        self.call(|a| async move { a.delete_instance(&r, &i).await }).await
    }
}

#[async_trait::async_trait]
impl Dns for Realtime<AwsBackends> {
    async fn record_sets<'a>(&self, zone_id: &str, name: Option<&'a str>) -> Result<Vec<RecordSet>> {
        let (z, n) = (zone_id.to_owned(), name.map(str::to_owned));
        self.call(|a| async move { a.record_sets(&z, n.as_deref()).await }).await
    }
    async fn change(&self, zone_id: &str, changes: &[RecordChange], comment: &str) -> Result<ChangeInfo> {
        let (z, c, m) = (zone_id.to_owned(), changes.to_vec(), comment.to_owned());
        self.call(|a| async move { a.change(&z, &c, &m).await }).await
    }
    async fn change_status(&self, change_id: &str) -> Result<ChangeInfo> {
        let c = change_id.to_owned();
        self.call(|a| async move { a.change_status(&c).await }).await
    }
}

#[async_trait::async_trait]
impl Cloud for Realtime<AwsBackends> {
    async fn caller_identity(&self, region: &str) -> Result<String> {
        let r = region.to_owned();
        self.call(|a| async move { a.caller_identity(&r).await }).await
    }
    async fn health_events(&self, region: &str, services: &[String]) -> Result<Vec<HealthEvent>> {
        let (r, s) = (region.to_owned(), services.to_vec());
        self.call(|a| async move { a.health_events(&r, &s).await }).await
    }
}

/// AWS (RDS, Route53, STS, Health) from the standard configuration chain, on a real-time runtime.
pub(crate) fn aws(config: AwsConfig) -> Result<Arc<Realtime<AwsBackends>>> {
    let rt = network_runtime()?;
    let backends = rt.block_on(AwsBackends::connect(config))?;
    Ok(Arc::new(Realtime::new(backends, rt)))
}

/// The real datastore probes configured on the command line.
pub(crate) fn probes(
    policy: &incident_core::Policy,
    postgres: Option<&str>,
    redis: Option<&str>,
) -> Result<Vec<Arc<dyn DatastoreProbe>>> {
    let mut out: Vec<Arc<dyn DatastoreProbe>> = Vec::new();
    if postgres.is_none() && redis.is_none() {
        return Ok(out);
    }
    let rt = network_runtime()?;
    if let Some(url) = postgres {
        let mut config = PostgresProbeConfig::new(ConnectionString::parse(url)?);
        // The policy's data-integrity checks (the runbook's by default).
        config.integrity_checks.clone_from(&policy.integrity_checks);
        let probe: Box<dyn DatastoreProbe> = Box::new(PostgresProbe::new(config));
        out.push(Arc::new(Realtime::new(probe, Arc::clone(&rt))));
    }
    if let Some(url) = redis {
        let probe: Box<dyn DatastoreProbe> = Box::new(RedisProbe::new(RedisProbeConfig::new(RedisUrl::parse(url)?)));
        out.push(Arc::new(Realtime::new(probe, rt)));
    }
    Ok(out)
}
