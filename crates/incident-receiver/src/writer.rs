//! The single writer: owns the deduplication state (group key → open incident) and commits every
//! decision to the store, many requests per transaction (group commit).
//!
//! Handlers parse and authenticate in parallel, then queue a [`Job`]; the writer takes every job that is
//! waiting (up to `max_batch`), decides each group with [`incident_core::ingest::group::decide`], applies
//! the decisions to its in-memory incidents and timelines, writes them with one
//! [`Store::write_batch`] and only then answers the jobs. A request is acknowledged only once what it
//! caused is durable; a failed commit answers every job of the batch `503` and forgets what the batch
//! changed in memory (reloaded from the store when next needed), so a retry starts from the durable state.
//! A commit that conflicts with another writer of a timeline (nothing was written) is decided again from
//! the store, up to [`COMMIT_ATTEMPTS`] times, before the batch is answered `503`. So is a declaration
//! that lost to another replica (the PostgreSQL store keeps one open incident per alert group, a unique
//! index): the writer re-reads [`Store::open_groups`] and appends the alerts to the winner. Once a declaration is
//! committed, its notifications and its first response go out in the background (see [`Writer::announce`]).

use std::collections::HashMap;
use std::sync::Arc;

use incident_core::backend::Notifier;
use incident_core::delivery::{append_event, destination_label, outcome_of};
use incident_core::incident::Incident;
use incident_core::ingest::group::{self, AlertGroup, Decision, GroupState, Outcome};
use incident_core::matching::MatchAlert;
use incident_core::store::{Store, StoreWrite};
use incident_core::timeline::{Event, EventKind, Timeline};
use incident_core::{Error, ErrorKind, Policy, Result, Status};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;

/// What happened to one group of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupResult {
    /// The group key.
    pub key: String,
    /// What the receiver did.
    pub outcome: Outcome,
    /// The incident declared or updated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    /// Why nothing was declared (ignored groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Alerts in the group.
    pub alerts: usize,
}

/// A request's groups, waiting for the writer.
pub(crate) struct Job {
    pub(crate) groups: Vec<AlertGroup>,
    pub(crate) reply: oneshot::Sender<Result<Vec<GroupResult>>>,
}

struct Slot {
    incident: Incident,
    timeline: Timeline,
    state: GroupState,
}

enum Entry {
    Loaded(Box<Slot>),
    /// Known to belong to this incident; reload from the store before use.
    Unloaded(String),
}

/// Writes of one batch, per incident in first-touch order.
#[derive(Default)]
struct Pending {
    order: Vec<String>,
    by_id: HashMap<String, (bool, Option<Incident>, Vec<Event>)>,
}

impl Pending {
    fn touch(&mut self, id: &str, new: bool) -> &mut (bool, Option<Incident>, Vec<Event>) {
        if !self.by_id.contains_key(id) {
            self.order.push(id.to_owned());
        }
        self.by_id.entry(id.to_owned()).or_insert_with(|| (new, None, Vec::new()))
    }

    fn into_writes(mut self) -> Vec<StoreWrite> {
        let mut out = Vec::new();
        for id in self.order {
            let Some((new, incident, events)) = self.by_id.remove(&id) else { continue };
            // A new incident must exist before its events; an existing one is saved after them, so a
            // conflicting append (someone else wrote the timeline) stops the batch before the save.
            let save = incident.map(StoreWrite::SaveIncident);
            let append = (!events.is_empty()).then_some(StoreWrite::AppendEvents { incident_id: id, events });
            if new {
                out.extend(save);
                out.extend(append);
            } else {
                out.extend(append);
                out.extend(save);
            }
        }
        out
    }
}

/// Attempts of a batch whose commit conflicts with another writer of a timeline.
const COMMIT_ATTEMPTS: u32 = 4;

/// How long notification records wait for a batch of alerts to ride with before they are written alone.
const RECORD_FLUSH: std::time::Duration = std::time::Duration::from_millis(100);

/// Actor of the notification events the receiver records.
const ACTOR: &str = "incident-serve";

pub(crate) struct Writer {
    store: Arc<dyn Store>,
    policy: Arc<Policy>,
    clock: Arc<dyn incident_core::clock::Clock>,
    on_call: Arc<str>,
    groups: HashMap<String, Entry>,
    metrics: Arc<Metrics>,
    notifier: Option<Arc<dyn Notifier>>,
    /// Declaration notifications in flight (awaited before the writer stops).
    tasks: tokio::task::JoinSet<()>,
    /// Their outcomes come back here and are written by this writer, in its next batch: the writer stays
    /// the only writer of the timelines it holds (no conflicts, no second user of the store connection).
    records_tx: mpsc::UnboundedSender<Recorded>,
    records_rx: mpsc::UnboundedReceiver<Recorded>,
    /// The first response to each declaration, when configured.
    first_response: Option<Arc<crate::FirstResponse>>,
    /// What it writes through and posts with.
    deps: Arc<crate::first_response::Deps>,
}

/// A `message_sent` event for the timeline of the incident of group `key`.
pub(crate) struct Recorded {
    key: String,
    incident_id: String,
    at: chrono::DateTime<chrono::Utc>,
    kind: EventKind,
}

impl Writer {
    /// Rebuild the deduplication map from the store: every open incident whose timeline holds alerts.
    pub(crate) async fn load(
        store: Arc<dyn Store>,
        policy: Policy,
        clock: Arc<dyn incident_core::clock::Clock>,
        on_call: String,
        metrics: Arc<Metrics>,
        notifier: Option<Arc<dyn Notifier>>,
        first_response: Option<crate::FirstResponse>,
    ) -> Result<Self> {
        let mut groups = HashMap::new();
        // Newest first: if a key somehow has two open incidents, the newest keeps it.
        for incident in store.incidents().await? {
            if incident.status == Status::Resolved {
                continue;
            }
            let timeline = store.timeline(&incident.id).await?;
            // Re-read after the timeline (see `ensure_loaded`): never an incident older than its timeline.
            let Some(incident) = store.incident(&incident.id).await?.filter(|i| i.status != Status::Resolved) else {
                continue;
            };
            let Some(state) = GroupState::replay(&timeline) else { continue };
            groups
                .entry(state.key.clone())
                .or_insert_with(|| Entry::Loaded(Box::new(Slot { incident, timeline, state })));
        }
        metrics.set_open_groups(groups.len());
        let (records_tx, records_rx) = mpsc::unbounded_channel();
        let policy = Arc::new(policy);
        let deps = Arc::new(crate::first_response::Deps {
            store: Arc::clone(&store),
            notifier: notifier.clone(),
            clock: Arc::clone(&clock),
            policy: Arc::clone(&policy),
            metrics: Some(Arc::clone(&metrics)),
        });
        Ok(Self {
            store,
            policy,
            clock,
            on_call: on_call.into(),
            groups,
            metrics,
            notifier,
            tasks: tokio::task::JoinSet::new(),
            records_tx,
            records_rx,
            first_response: first_response.map(Arc::new),
            deps,
        })
    }

    /// Groups with an open incident.
    pub(crate) fn open_groups(&self) -> usize {
        self.groups.len()
    }

    /// Serve jobs until `stop` fires (or every sender is gone); what is queued by then is still answered.
    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Job>, max_batch: usize, mut stop: oneshot::Receiver<()>) {
        let mut stopping = false;
        // Notification records ride with the next batch of alerts (no commit of their own under load);
        // with no alerts coming, they are written RECORD_FLUSH after the first one arrived.
        let mut held: Vec<Recorded> = Vec::new();
        let mut flush_at = tokio::time::Instant::now();
        loop {
            let first = tokio::select! {
                biased;
                j = rx.recv() => match j {
                    Some(j) => j,
                    None => break,
                },
                Some(r) = self.records_rx.recv() => {
                    if held.is_empty() {
                        flush_at = tokio::time::Instant::now() + RECORD_FLUSH;
                    }
                    held.push(r);
                    continue;
                }
                () = tokio::time::sleep_until(flush_at), if !held.is_empty() => {
                    self.process(Vec::new(), std::mem::take(&mut held)).await;
                    continue;
                }
                _ = &mut stop, if !stopping => {
                    stopping = true;
                    rx.close();
                    continue;
                }
            };
            let mut jobs = vec![first];
            while jobs.len() < max_batch {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            while let Ok(r) = self.records_rx.try_recv() {
                held.push(r);
            }
            self.process(jobs, std::mem::take(&mut held)).await;
        }
        // Notifications already under way finish (each within its provider's retry budget), and what they
        // did is written.
        while self.tasks.join_next().await.is_some() {}
        let mut records = held;
        while let Ok(r) = self.records_rx.try_recv() {
            records.push(r);
        }
        if !records.is_empty() {
            self.process(Vec::new(), records).await;
            // Records the store refused in that batch are appended through it in tasks: let them finish.
            while self.tasks.join_next().await.is_some() {}
        }
    }

    /// Re-read the group → open incident map from the store (after a conflicting commit): a group whose
    /// open incident this writer does not know, or knows as another incident, points to the stored one
    /// (loaded when next needed).
    async fn refresh_groups(&mut self) -> Result<()> {
        for (key, id) in self.store.open_groups().await? {
            let known = match self.groups.get(&key) {
                Some(Entry::Loaded(s)) => s.incident.id == id,
                Some(Entry::Unloaded(known)) => *known == id,
                None => false,
            };
            if !known {
                self.groups.insert(key, Entry::Unloaded(id));
            }
        }
        Ok(())
    }

    /// Make sure the entry of `key`, if any, is loaded.
    async fn ensure_loaded(&mut self, key: &str) -> Result<()> {
        if let Some(Entry::Unloaded(id)) = self.groups.get(key) {
            let id = id.clone();
            // Timeline first, then the incident: an incident read after its timeline is never older than
            // it (a lifecycle operation may write both in between), and a newer one makes this writer's
            // next append conflict and reload. The other order could pair a stale incident with a current
            // timeline, and a later save would overwrite what that operation recorded.
            let loaded = match self.store.timeline(&id).await {
                Ok(timeline) => self.store.incident(&id).await?.and_then(|incident| {
                    GroupState::replay(&timeline)
                        .filter(|s| s.key == key)
                        .map(|state| Entry::Loaded(Box::new(Slot { incident, timeline, state })))
                }),
                Err(e) if e.kind() == ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            };
            match loaded {
                Some(entry) => {
                    self.groups.insert(key.to_owned(), entry);
                }
                None => {
                    self.groups.remove(key);
                }
            }
        }
        Ok(())
    }

    async fn process(&mut self, jobs: Vec<Job>, records: Vec<Recorded>) {
        // Another writer (the cadence driver, a delivery, a person with the CLI) may have appended to a
        // timeline this writer holds: the commit then fails with `Conflict` before anything is written.
        // Forget what the batch touched and decide it again from the store, a few times, before `503`.
        let mut attempt = 1;
        loop {
            let now = self.clock.now();
            let mut pending = Pending::default();
            // Keys changed by this batch and the incident they had before it (to forget on failure).
            let mut touched: Vec<(String, Option<String>)> = Vec::new();
            let mut declared: Vec<(String, crate::first_response::Declared)> = Vec::new();
            // Records whose incident this writer does not hold (any more): appended through the store.
            let mut elsewhere: Vec<&Recorded> = Vec::new();
            for r in &records {
                if !self.record(r, &mut pending, &mut touched).await {
                    elsewhere.push(r);
                }
            }
            let mut results: Vec<Result<Vec<GroupResult>>> = Vec::with_capacity(jobs.len());
            for job in &jobs {
                let mut out = Vec::with_capacity(job.groups.len());
                let mut failed = None;
                for g in &job.groups {
                    match self.apply(g, now, &mut pending, &mut touched, &mut declared).await {
                        Ok(r) => out.push(r),
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                results.push(failed.map_or(Ok(out), Err));
            }
            let writes = pending.into_writes();
            let commit = if writes.is_empty() {
                Ok(())
            } else {
                let started = tokio::time::Instant::now();
                let r = self.store.write_batch(&writes).await;
                self.metrics.commit(started.elapsed());
                r
            };
            match commit {
                Ok(()) => {
                    self.metrics.set_open_groups(self.groups.len());
                    for (job, result) in jobs.into_iter().zip(results) {
                        let _ = job.reply.send(result);
                    }
                    self.append_elsewhere(elsewhere.into_iter());
                    self.announce(declared);
                    return;
                }
                Err(e) => {
                    for (key, before) in touched {
                        match before {
                            Some(id) => self.groups.insert(key, Entry::Unloaded(id)),
                            None => self.groups.remove(&key),
                        };
                    }
                    if e.kind() == ErrorKind::Conflict && attempt < COMMIT_ATTEMPTS {
                        tracing::info!(error = %e, attempt, "receiver: a timeline or alert group changed under the writer; deciding the batch again");
                        // Another replica may have declared one of these groups first: learn the winners.
                        if let Err(e) = self.refresh_groups().await {
                            tracing::warn!(error = %e, "receiver: cannot re-read the open alert groups");
                        }
                        attempt += 1;
                        continue;
                    }
                    tracing::warn!(error = %e, writes = writes.len(), "receiver: store commit failed; batch answered 503");
                    for job in jobs {
                        let _ = job.reply.send(Err(Error::unavailable(format!("store: {}", e.message()))));
                    }
                    // Notifications went out: their records must not be lost with the batch.
                    self.append_elsewhere(records.iter());
                    return;
                }
            }
        }
    }

    /// Send the declaration notifications of newly declared (and committed) incidents in the
    /// background; each outcome comes back as a [`Recorded`] event for this writer to write. With a
    /// first response configured, start it beside them (it writes through the store itself: see
    /// [`crate::first_response`]).
    fn announce(&mut self, declared: Vec<(String, crate::first_response::Declared)>) {
        while self.tasks.try_join_next().is_some() {}
        for (key, declared) in declared {
            // The first response runs beside the declaration's messages and posts after them.
            let (done, ready) = oneshot::channel();
            if let Some(notifier) = &self.notifier {
                self.spawn_notifications(key, &declared.incident, Arc::clone(notifier), done);
            }
            if let Some(first) = &self.first_response {
                let (first, deps) = (Arc::clone(first), Arc::clone(&self.deps));
                self.tasks.spawn(async move {
                    let _ = crate::first_response::respond(&first, &deps, declared, ready).await;
                });
            }
        }
    }

    /// Send `incident`'s declaration notifications in the background, each outcome back as a [`Recorded`];
    /// `done` fires after the last.
    fn spawn_notifications(
        &mut self,
        key: String,
        incident: &Incident,
        notifier: Arc<dyn Notifier>,
        done: oneshot::Sender<()>,
    ) {
        let (clock, tx) = (Arc::clone(&self.clock), self.records_tx.clone());
        let notes = incident.declaration_notifications(&self.policy);
        self.tasks.spawn(async move {
            for n in notes {
                let (outcome, detail, _) = outcome_of(&notifier.notify(&n).await);
                let channel = destination_label(&n.to);
                tracing::info!(incident = %n.incident_id, kind = %n.kind, channel = %channel, outcome = %outcome, "receiver: declaration notification");
                let kind = EventKind::MessageSent { channel, kind: n.kind, outcome, detail };
                let record = Recorded { key: key.clone(), incident_id: n.incident_id, at: clock.now(), kind };
                let _ = tx.send(record);
            }
            let _ = done.send(());
        });
    }

    /// Add `r` to the timeline of its group's incident in this batch; `false` when this writer does not
    /// hold that incident (any more) or its timeline is full.
    async fn record(
        &mut self,
        r: &Recorded,
        pending: &mut Pending,
        touched: &mut Vec<(String, Option<String>)>,
    ) -> bool {
        if self.ensure_loaded(&r.key).await.is_err() {
            return false;
        }
        let Some(Entry::Loaded(slot)) = self.groups.get_mut(&r.key) else { return false };
        if slot.incident.id != r.incident_id {
            return false;
        }
        let at = slot.timeline.last().map_or(r.at, |last| r.at.max(last.at));
        let Ok(event) = slot.timeline.append(at, ACTOR, r.kind.clone()).cloned() else { return false };
        touched.push((r.key.clone(), Some(r.incident_id.clone())));
        pending.touch(&r.incident_id, false).2.push(event);
        true
    }

    /// Append records through the store (with its own retries), in the background.
    fn append_elsewhere<'a>(&mut self, records: impl Iterator<Item = &'a Recorded>) {
        for r in records {
            let (store, id, at, kind) = (Arc::clone(&self.store), r.incident_id.clone(), r.at, r.kind.clone());
            self.tasks.spawn(async move {
                if let Err(e) = append_event(&*store, &id, at, ACTOR, kind).await {
                    tracing::warn!(incident = %id, error = %e, "receiver: notification outcome not recorded");
                }
            });
        }
    }

    async fn apply(
        &mut self,
        g: &AlertGroup,
        now: chrono::DateTime<chrono::Utc>,
        pending: &mut Pending,
        touched: &mut Vec<(String, Option<String>)>,
        declared: &mut Vec<(String, crate::first_response::Declared)>,
    ) -> Result<GroupResult> {
        let policy = Arc::clone(&self.policy);
        let before = match self.groups.get(&g.key) {
            Some(Entry::Loaded(s)) => Some(s.incident.id.clone()),
            Some(Entry::Unloaded(id)) => Some(id.clone()),
            None => None,
        };
        let max_events = usize::try_from(policy.limits.max_events_per_incident).unwrap_or(usize::MAX);
        self.ensure_loaded(&g.key).await?;
        let on_call = Arc::clone(&self.on_call);
        let open = match self.groups.get_mut(&g.key) {
            Some(Entry::Loaded(s)) if s.incident.status != Status::Resolved => Some(&mut **s),
            _ => None,
        };
        let decision = group::decide(g, open.as_ref().map(|s| (&s.state, s.incident.severity)), &policy);
        let mut result = GroupResult {
            key: g.key.clone(),
            outcome: decision.outcome(),
            incident: None,
            reason: None,
            alerts: g.alerts.len(),
        };
        match decision {
            Decision::Declare { assessment } => {
                let (incident, timeline) = group::declare(g, &assessment, &policy, &on_call, now)?;
                let state = GroupState::replay(&timeline).ok_or_else(|| Error::internal("declared without alerts"))?;
                let p = pending.touch(&incident.id, true);
                p.1 = Some(incident.clone());
                p.2.extend(timeline.events().iter().cloned());
                result.incident = Some(incident.id.clone());
                declared.push((
                    g.key.clone(),
                    crate::first_response::Declared {
                        incident: incident.clone(),
                        alerts: g.alerts.iter().map(MatchAlert::from).collect(),
                        facts: assessment.facts.clone(),
                    },
                ));
                touched.push((g.key.clone(), before));
                self.groups.insert(g.key.clone(), Entry::Loaded(Box::new(Slot { incident, timeline, state })));
            }
            Decision::Update(update) => {
                let Some(slot) = open else { return Err(Error::internal("update without an open incident")) };
                result.incident = Some(slot.incident.id.clone());
                if slot.timeline.len() >= max_events {
                    result.outcome = Outcome::Ignored;
                    result.reason = Some(format!(
                        "incident {} has limits.max_events_per_incident ({max_events}) events; alerts not recorded",
                        slot.incident.id
                    ));
                    tracing::warn!(incident = %slot.incident.id, "receiver: timeline full, alerts not recorded");
                } else {
                    let n = slot.timeline.len();
                    let before_incident = slot.incident.clone();
                    touched.push((g.key.clone(), before));
                    if let Err(e) =
                        group::apply_update(g, &update, &mut slot.incident, &mut slot.timeline, &mut slot.state, now)
                    {
                        // Partially applied in memory: forget the slot, the store still has the truth.
                        let id = slot.incident.id.clone();
                        self.groups.insert(g.key.clone(), Entry::Unloaded(id));
                        return Err(e);
                    }
                    let changed = slot.incident != before_incident;
                    let p = pending.touch(&slot.incident.id, false);
                    p.2.extend(slot.timeline.events()[n..].iter().cloned());
                    if changed {
                        p.1 = Some(slot.incident.clone());
                    }
                }
            }
            Decision::Duplicate => {
                result.incident = open.map(|s| s.incident.id.clone());
            }
            Decision::Ignore { reason } => result.reason = Some(reason),
        }
        self.metrics.group(g.source, result.outcome);
        Ok(result)
    }
}

/// Map a writer error to whether a client should retry.
pub(crate) fn retryable(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::Conflict) || e.is_retryable()
}
