//! The drivers' lease: on a shared PostgreSQL store, the cadence, escalation, post-incident and evidence
//! drivers run on one replica at a time.
//!
//! A lease **row** with a fencing token ([`Store::acquire_lease`]), not an advisory lock: an advisory
//! lock belongs to a database session, so it would pin one pooled connection for the process's life, it
//! carries no token a write can be checked against, and a replica whose connection stays up while the
//! process is stuck (a long pause) would keep it. The row's expiry is on the replicas' injected clock
//! (they must agree within [`LeaseConfig::margin`]).
//!
//! * The [`Keeper`] takes or renews the lease every `ttl / 3`; each grant is valid locally until
//!   `requested_at + ttl - margin`, so a replica that cannot renew (store unreachable, process paused)
//!   stops its drivers **before** the row can expire and another replica take it.
//! * Each driver tick runs only while the lease is valid locally; each notification key a driver records
//!   before sending carries the fence (holder and token) and the store refuses it once another replica
//!   took over ([`FencedStore`]): a stale holder cannot send, and the keys make a takeover send nothing
//!   twice.
//! * On shutdown the keeper releases the lease, so another replica takes it at its next renewal.
//! * The SQLite and memory stores (one process) grant the lease at once and forever: today's behaviour.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use incident_core::clock::Clock;
use incident_core::incident::Incident;
use incident_core::store::{
    DRIVERS_LEASE, EvidenceInfo, EvidenceItem, IncidentUpdate, IncidentUpdated, JournalDraft, JournalEntry, LeaseFence,
    RunRecord, Store, StoreWrite,
};
use incident_core::timeline::{Event, Timeline};
use incident_core::{Error, Result};
use tokio::sync::oneshot;

/// The drivers' lease of one receiver.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// This replica's identity in the lease row (default: `$HOSTNAME`, the process id and a nonce).
    pub holder: String,
    /// How long a grant lasts (default 15 s); renewed every `ttl / 3`.
    pub ttl: Duration,
    /// The drivers stop this long before the grant expires (default `ttl / 5`): covers a renewal's
    /// round trip and the clock difference between replicas.
    pub margin: Duration,
}

impl LeaseConfig {
    /// A lease of `ttl`, margin `ttl / 5`, held by this process.
    #[must_use]
    pub fn new(ttl: Duration, clock: &dyn Clock) -> Self {
        let host =
            std::env::var("HOSTNAME").ok().filter(|h| !h.trim().is_empty()).unwrap_or_else(|| "incident-serve".into());
        let nonce = clock.now().timestamp_subsec_nanos();
        Self { holder: format!("{host}/{}/{nonce:08x}", std::process::id()), ttl, margin: ttl / 5 }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.holder.trim().is_empty() {
            return Err(Error::invalid_input("receiver: lease holder must not be blank"));
        }
        if self.ttl < Duration::from_secs(1) || self.margin.is_zero() || self.margin >= self.ttl * 2 / 3 {
            return Err(Error::invalid_input(format!(
                "receiver: lease ttl {:?} must be at least 1s and its margin {:?} above 0 and below two thirds of it",
                self.ttl, self.margin
            )));
        }
        Ok(())
    }
}

/// This replica's view of the lease: the token and until when it may act on it.
#[derive(Debug, Default)]
pub(crate) struct LeaseState {
    held: Mutex<Option<(u64, DateTime<Utc>)>>,
    holder: String,
}

impl LeaseState {
    /// The fence while the lease is held at `now` (before its local end), else `None`.
    pub(crate) fn fence(&self, now: DateTime<Utc>) -> Option<LeaseFence> {
        let held = *self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        held.filter(|(_, until)| now < *until).map(|(token, _)| LeaseFence {
            name: DRIVERS_LEASE.to_owned(),
            holder: self.holder.clone(),
            token,
        })
    }

    fn set(&self, v: Option<(u64, DateTime<Utc>)>) {
        *self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = v;
    }
}

/// Takes and renews the lease until stopped, then releases it.
pub(crate) struct Keeper;

impl Keeper {
    pub(crate) fn spawn(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: &LeaseConfig,
    ) -> (Arc<LeaseState>, oneshot::Sender<()>, tokio::task::JoinSet<()>) {
        let state = Arc::new(LeaseState { held: Mutex::new(None), holder: config.holder.clone() });
        let (tx, mut stop) = oneshot::channel();
        let (st, holder) = (Arc::clone(&state), config.holder.clone());
        let ttl = TimeDelta::from_std(config.ttl).unwrap_or(TimeDelta::MAX);
        let margin = TimeDelta::from_std(config.margin).unwrap_or(TimeDelta::zero());
        let every = config.ttl / 3;
        let mut set = tokio::task::JoinSet::new();
        set.spawn(async move {
            let mut had: Option<u64> = None;
            loop {
                let now = clock.now();
                match store.acquire_lease(DRIVERS_LEASE, &holder, now, now + ttl).await {
                    Ok(Some(token)) => {
                        st.set(Some((token, now + ttl - margin)));
                        if had != Some(token) {
                            tracing::info!(holder = %holder, token, "receiver: drivers' lease acquired; drivers run here");
                        }
                        had = Some(token);
                    }
                    Ok(None) => {
                        st.set(None);
                        if had.take().is_some() {
                            tracing::warn!(holder = %holder, "receiver: drivers' lease lost to another replica; drivers stopped");
                        }
                    }
                    // The grant runs out by itself (its local end is before the row's expiry).
                    Err(e) => tracing::warn!(holder = %holder, error = %e, "receiver: cannot renew the drivers' lease"),
                }
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    _ = &mut stop => break,
                }
            }
            st.set(None);
            if had.is_some() {
                match store.release_lease(DRIVERS_LEASE, &holder).await {
                    Ok(()) => tracing::info!(holder = %holder, "receiver: drivers' lease released"),
                    Err(e) => {
                        tracing::warn!(holder = %holder, error = %e, "receiver: cannot release the drivers' lease; it expires")
                    }
                }
            }
        });
        (state, tx, set)
    }
}

/// The store the drivers write through: every notification key it records carries this replica's
/// fence, and none is recorded (nothing sent) while the lease is not held locally.
pub(crate) struct FencedStore {
    pub(crate) inner: Arc<dyn Store>,
    pub(crate) lease: Arc<LeaseState>,
    pub(crate) clock: Arc<dyn Clock>,
}

#[async_trait::async_trait]
impl Store for FencedStore {
    async fn save_incident(&self, incident: &Incident) -> Result<()> {
        self.inner.save_incident(incident).await
    }
    async fn incident(&self, id: &str) -> Result<Option<Incident>> {
        self.inner.incident(id).await
    }
    async fn incidents(&self) -> Result<Vec<Incident>> {
        self.inner.incidents().await
    }
    async fn append_events(&self, incident_id: &str, events: &[Event]) -> Result<()> {
        self.inner.append_events(incident_id, events).await
    }
    async fn timeline(&self, incident_id: &str) -> Result<Timeline> {
        self.inner.timeline(incident_id).await
    }
    async fn create_run(&self, run: &RunRecord) -> Result<()> {
        self.inner.create_run(run).await
    }
    async fn update_run(&self, run: &RunRecord) -> Result<()> {
        self.inner.update_run(run).await
    }
    async fn run(&self, run_id: &str) -> Result<Option<RunRecord>> {
        self.inner.run(run_id).await
    }
    async fn runs(&self) -> Result<Vec<RunRecord>> {
        self.inner.runs().await
    }
    async fn claim_step(
        &self,
        run_id: &str,
        step_id: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        self.inner.claim_step(run_id, step_id, owner, now, lease_until).await
    }
    async fn take_over_claims(&self, run_id: &str, owner: &str) -> Result<u64> {
        self.inner.take_over_claims(run_id, owner).await
    }
    async fn append_journal(&self, draft: JournalDraft) -> Result<JournalEntry> {
        self.inner.append_journal(draft).await
    }
    async fn journal(&self, run_id: &str) -> Result<Vec<JournalEntry>> {
        self.inner.journal(run_id).await
    }
    async fn add_evidence(&self, incident_id: &str, events: &[Event], items: &[EvidenceItem]) -> Result<()> {
        self.inner.add_evidence(incident_id, events, items).await
    }
    async fn evidence(&self, incident_id: &str) -> Result<Vec<EvidenceInfo>> {
        self.inner.evidence(incident_id).await
    }
    async fn evidence_item(&self, incident_id: &str, name: &str) -> Result<Option<EvidenceItem>> {
        self.inner.evidence_item(incident_id, name).await
    }
    async fn open_groups(&self) -> Result<Vec<(String, String)>> {
        self.inner.open_groups().await
    }
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<u64>> {
        self.inner.acquire_lease(name, holder, now, until).await
    }
    async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        self.inner.release_lease(name, holder).await
    }
    async fn record_notification_key(&self, key: &str, at: DateTime<Utc>, _fence: Option<&LeaseFence>) -> Result<bool> {
        let Some(fence) = self.lease.fence(self.clock.now()) else {
            return Err(Error::precondition(format!(
                "notification {key}: this replica ({}) does not hold the drivers' lease: not sent",
                self.lease.holder
            )));
        };
        self.inner.record_notification_key(key, at, Some(&fence)).await
    }
    async fn update_incident(&self, incident_id: &str, update: Box<IncidentUpdate>) -> Result<Option<IncidentUpdated>> {
        self.inner.update_incident(incident_id, update).await
    }
    async fn write_batch(&self, writes: &[StoreWrite]) -> Result<()> {
        self.inner.write_batch(writes).await
    }
}
