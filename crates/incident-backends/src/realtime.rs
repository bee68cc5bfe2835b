//! Network clients on their own real-time runtime.
//!
//! Procedures and triage run on the simulator's paused-clock runtime (`incident_core::sim::runtime()`),
//! where an idle runtime jumps its clock to the next timer. A network client cannot live there: its
//! connection tasks, pools and deadlines need real time. So every real client of one [`BackendSet`]
//! (AWS, the PostgreSQL store, the probes) runs on one small multi-thread runtime ([`NetRuntime`]), and
//! each call is bridged back ([`NetRuntime::run`]): the future is spawned there and awaited from a
//! blocking-pool thread of the calling runtime. While a blocking task runs, tokio does not auto-advance a
//! paused clock, so virtual time stands still during a real request instead of jumping to the next
//! virtual deadline (which would time out every real call at once). The same bridge works from any
//! ordinary runtime.
//!
//! [`BackendSet`]: crate::BackendSet

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use incident_aws::AwsBackends;
use incident_core::backend::{
    ChangeInfo, Cloud, Databases, DatastoreProbe, DbInstance, DbSnapshot, Dns, HealthEvent, ProbeReport, RecordChange,
    RecordSet,
};
use incident_core::incident::Incident;
use incident_core::store::{
    EvidenceInfo, EvidenceItem, IncidentUpdate, IncidentUpdated, JournalDraft, JournalEntry, RunRecord, Store,
    StoreWrite,
};
use incident_core::timeline::{Event, Timeline};
use incident_core::{Error, Result};
use incident_store::PgStore;

/// The real-time runtime of one backend set. Dropping it never blocks and never panics, even inside an
/// async context (the runtime is shut down in the background).
pub(crate) struct NetRuntime {
    rt: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for NetRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NetRuntime")
    }
}

impl NetRuntime {
    pub(crate) fn new() -> Result<Arc<Self>> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("incident-net")
            .enable_all()
            .build()
            .map_err(|e| Error::internal("cannot start the network runtime").with_source(e))?;
        Ok(Arc::new(Self { rt: Some(rt) }))
    }

    fn handle(&self) -> Result<tokio::runtime::Handle> {
        self.rt.as_ref().map(|rt| rt.handle().clone()).ok_or_else(|| Error::internal("network runtime is shut down"))
    }

    /// Run `fut` on this runtime; await it from the caller's runtime without letting a paused clock jump.
    ///
    /// Must be awaited inside a tokio runtime (it uses `spawn_blocking`).
    pub(crate) async fn run<R, Fut>(&self, fut: Fut) -> Result<R>
    where
        R: Send + 'static,
        Fut: Future<Output = Result<R>> + Send + 'static,
    {
        let handle = self.handle()?;
        let task = handle.spawn(fut);
        let joined = tokio::task::spawn_blocking(move || handle.block_on(task))
            .await
            .map_err(|e| Error::internal(format!("network call: waiting thread failed: {e}")))?;
        joined.map_err(|e| {
            if e.is_panic() {
                let p = e.into_panic();
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                Error::internal(format!("network call panicked: {msg}"))
            } else {
                Error::internal(format!("network call cancelled: {e}"))
            }
        })?
    }
}

impl Drop for NetRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// A client whose calls run on a [`NetRuntime`].
pub(crate) struct Realtime<T> {
    inner: Arc<T>,
    net: Arc<NetRuntime>,
}

impl<T: Send + Sync + 'static> Realtime<T> {
    pub(crate) fn new(inner: T, net: Arc<NetRuntime>) -> Self {
        Self::shared(Arc::new(inner), net)
    }

    /// A client also used elsewhere (AWS serves the EKS contexts too).
    pub(crate) fn shared(inner: Arc<T>, net: Arc<NetRuntime>) -> Self {
        Self { inner, net }
    }

    async fn call<R, F, Fut>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(Arc<T>) -> Fut,
        Fut: Future<Output = Result<R>> + Send + 'static,
    {
        self.net.run(f(Arc::clone(&self.inner))).await
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
    async fn add_evidence(&self, incident_id: &str, events: &[Event], items: &[EvidenceItem]) -> Result<()> {
        let (id, events, items) = (incident_id.to_owned(), events.to_vec(), items.to_vec());
        self.call(|s| async move { s.add_evidence(&id, &events, &items).await }).await
    }
    async fn evidence(&self, incident_id: &str) -> Result<Vec<EvidenceInfo>> {
        let id = incident_id.to_owned();
        self.call(|s| async move { s.evidence(&id).await }).await
    }
    async fn evidence_item(&self, incident_id: &str, name: &str) -> Result<Option<EvidenceItem>> {
        let (id, name) = (incident_id.to_owned(), name.to_owned());
        self.call(|s| async move { s.evidence_item(&id, &name).await }).await
    }
    // The two below must reach PostgreSQL's own implementations (one transaction; the decision inside
    // the row lock), not the trait's optimistic, one-write-at-a-time defaults.
    async fn write_batch(&self, writes: &[StoreWrite]) -> Result<()> {
        let writes = writes.to_vec();
        self.call(|s| async move { s.write_batch(&writes).await }).await
    }
    async fn update_incident(&self, incident_id: &str, update: Box<IncidentUpdate>) -> Result<Option<IncidentUpdated>> {
        let id = incident_id.to_owned();
        self.call(|s| async move { s.update_incident(&id, update).await }).await
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_real_call_does_not_let_a_paused_clock_jump_to_its_deadline() {
        let rt = incident_core::sim::runtime().expect("paused runtime");
        let net = NetRuntime::new().expect("net");
        let r = rt.block_on(async {
            let real = net.run(async {
                tokio::time::sleep(Duration::from_millis(150)).await;
                Ok(42)
            });
            // On a paused clock an idle runtime jumps to the next timer: without the bridge this 1 s
            // virtual deadline would fire at once, long before the 150 ms of real time pass.
            tokio::time::timeout(Duration::from_secs(1), real).await
        });
        assert_eq!(r.expect("no virtual timeout").expect("ok"), 42);
    }

    #[test]
    fn panics_become_internal_errors_and_dropping_inside_async_code_is_fine() {
        let rt = incident_core::sim::runtime().expect("paused runtime");
        let net = NetRuntime::new().expect("net");
        let e = rt.block_on(net.run(async { if true { panic!("boom") } else { Ok(()) } })).unwrap_err();
        assert_eq!(e.kind(), incident_core::ErrorKind::Internal);
        assert_eq!(e.message(), "network call panicked: boom");
        rt.block_on(async move { drop(net) });
    }
}
