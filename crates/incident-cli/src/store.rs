//! Store and probe selection for the CLI: `--store FILE` (SQLite, the default) or
//! `--store postgres://...` (the team store), and the datastore probes of `incident triage`.
//!
//! Network clients keep real-time deadlines, so they run on their own multi-thread runtime even when the
//! command's runtime is the simulator's paused one ([`Realtime`]).

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use incident_core::backend::{DatastoreProbe, ProbeReport};
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
