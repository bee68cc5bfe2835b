//! [`MemoryStore`]: the in-process store for tests, drills and the bindings' ephemeral use.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};

use super::conformance::RawAccess;
use super::{
    EvidenceInfo, EvidenceItem, IncidentUpdate, IncidentUpdated, JournalDraft, JournalEntry, RunRecord, StepClaim,
    Store, StoreWrite, check_claim, check_event_append, check_journal_draft, check_run, duplicate_journal_entry,
    may_claim, verify_journal, verify_journal_head, verify_timeline_head,
};
use crate::Result;
use crate::incident::Incident;
use crate::timeline::{Event, GENESIS_HASH, Timeline};

/// A [`Store`] in memory, with the same semantics as the persistent stores (it passes the same
/// [conformance suite](super::conformance)). Nothing survives the process.
///
/// Cloning is cheap and every clone shares the same data (`Arc<Mutex<..>>` inside); each operation is
/// atomic with respect to the others.
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    incidents: HashMap<String, Incident>,
    /// Event rows per incident, keyed by row position (the event's `seq` unless tampered with).
    events: HashMap<String, BTreeMap<u64, Event>>,
    runs: HashMap<String, RunRecord>,
    /// Journal rows per run, keyed by `seq`.
    journal: HashMap<String, BTreeMap<u64, JournalEntry>>,
    /// Claims by (run, step).
    claims: HashMap<(String, String), StepClaim>,
    /// Newest event per incident and newest journal entry per run, recorded with each append:
    /// (seq, hash).
    timeline_heads: HashMap<String, (u64, String)>,
    journal_heads: HashMap<String, (u64, String)>,
    /// Evidence items per incident, by name.
    evidence: HashMap<String, BTreeMap<String, EvidenceItem>>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied operation: every operation checks
        // first and mutates last.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.lock();
        f.debug_struct("MemoryStore")
            .field("incidents", &inner.incidents.len())
            .field("runs", &inner.runs.len())
            .finish_non_exhaustive()
    }
}

impl Inner {
    fn require_incident(&self, incident_id: &str) -> Result<()> {
        if self.incidents.contains_key(incident_id) { Ok(()) } else { Err(super::incident_not_found(incident_id)) }
    }

    fn require_run(&self, run_id: &str) -> Result<()> {
        if self.runs.contains_key(run_id) { Ok(()) } else { Err(super::run_not_found(run_id)) }
    }
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn save_incident(&self, incident: &Incident) -> Result<()> {
        super::check_incident(incident)?;
        self.lock().incidents.insert(incident.id.clone(), incident.clone());
        Ok(())
    }

    async fn incident(&self, id: &str) -> Result<Option<Incident>> {
        Ok(self.lock().incidents.get(id).cloned())
    }

    async fn incidents(&self) -> Result<Vec<Incident>> {
        let mut all: Vec<Incident> = self.lock().incidents.values().cloned().collect();
        all.sort_by(|a, b| b.declared_at.cmp(&a.declared_at).then_with(|| a.id.cmp(&b.id)));
        Ok(all)
    }

    async fn append_events(&self, incident_id: &str, events: &[Event]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut inner = self.lock();
        inner.require_incident(incident_id)?;
        let rows = inner.events.entry(incident_id.to_owned()).or_default();
        check_event_append(incident_id, rows.values().next_back(), events)?;
        for ev in events {
            rows.insert(ev.seq, ev.clone());
        }
        if let Some(last) = events.last() {
            inner.timeline_heads.insert(incident_id.to_owned(), (last.seq, last.hash.clone()));
        }
        Ok(())
    }

    /// The decision runs under the store's lock: no other writer in between.
    async fn update_incident(
        &self,
        incident_id: &str,
        mut update: Box<IncidentUpdate>,
    ) -> Result<Option<IncidentUpdated>> {
        let mut inner = self.lock();
        let stored = inner.incidents.get(incident_id).cloned().ok_or_else(|| super::incident_not_found(incident_id))?;
        let events: Vec<Event> =
            inner.events.get(incident_id).map(|rows| rows.values().cloned().collect()).unwrap_or_default();
        let mut timeline = Timeline::from_events(incident_id, events)?;
        verify_timeline_head(&timeline, inner.timeline_heads.get(incident_id))?;
        let before = timeline.len();
        let mut incident = stored;
        if !update(&mut incident, &mut timeline)? {
            return Ok(None);
        }
        super::check_incident(&incident)?;
        let new = timeline.events()[before..].to_vec();
        let rows = inner.events.entry(incident_id.to_owned()).or_default();
        check_event_append(incident_id, rows.values().next_back(), &new)?;
        for ev in &new {
            rows.insert(ev.seq, ev.clone());
        }
        if let Some(last) = new.last() {
            inner.timeline_heads.insert(incident_id.to_owned(), (last.seq, last.hash.clone()));
        }
        inner.incidents.insert(incident_id.to_owned(), incident.clone());
        Ok(Some(IncidentUpdated { incident, events: new, attempts: 1 }))
    }

    /// All or nothing under one lock: every write is checked against the store plus the batch's earlier
    /// writes before any is applied.
    async fn write_batch(&self, writes: &[StoreWrite]) -> Result<()> {
        let mut inner = self.lock();
        let mut saved: Vec<&Incident> = Vec::new();
        let mut appended: Vec<(&str, &[Event])> = Vec::new();
        for w in writes {
            match w {
                StoreWrite::SaveIncident(incident) => {
                    super::check_incident(incident)?;
                    saved.push(incident);
                }
                StoreWrite::AppendEvents { events, .. } if events.is_empty() => {}
                StoreWrite::AppendEvents { incident_id, events } => {
                    if !saved.iter().any(|i| i.id == *incident_id) {
                        inner.require_incident(incident_id)?;
                    }
                    let staged = appended.iter().rev().find(|(id, _)| id == incident_id).and_then(|(_, e)| e.last());
                    let head =
                        staged.or_else(|| inner.events.get(incident_id.as_str()).and_then(|r| r.values().next_back()));
                    check_event_append(incident_id, head, events)?;
                    appended.push((incident_id, events));
                }
            }
        }
        for w in writes {
            match w {
                StoreWrite::SaveIncident(incident) => {
                    inner.incidents.insert(incident.id.clone(), incident.clone());
                }
                StoreWrite::AppendEvents { incident_id, events } => {
                    let rows = inner.events.entry(incident_id.clone()).or_default();
                    for ev in events {
                        rows.insert(ev.seq, ev.clone());
                    }
                    if let Some(last) = events.last() {
                        inner.timeline_heads.insert(incident_id.clone(), (last.seq, last.hash.clone()));
                    }
                }
            }
        }
        Ok(())
    }

    async fn add_evidence(&self, incident_id: &str, events: &[Event], items: &[EvidenceItem]) -> Result<()> {
        let mut inner = self.lock();
        inner.require_incident(incident_id)?;
        let head = inner.events.get(incident_id).and_then(|r| r.values().next_back());
        let stored = inner.evidence.get(incident_id);
        super::check_evidence_add(incident_id, head, events, items, &|name| {
            stored.is_some_and(|s| s.contains_key(name))
        })?;
        let rows = inner.events.entry(incident_id.to_owned()).or_default();
        for ev in events {
            rows.insert(ev.seq, ev.clone());
        }
        if let Some(last) = events.last() {
            inner.timeline_heads.insert(incident_id.to_owned(), (last.seq, last.hash.clone()));
        }
        let stored = inner.evidence.entry(incident_id.to_owned()).or_default();
        for item in items {
            stored.insert(item.name.clone(), item.clone());
        }
        Ok(())
    }

    async fn evidence(&self, incident_id: &str) -> Result<Vec<EvidenceInfo>> {
        let inner = self.lock();
        inner.require_incident(incident_id)?;
        Ok(inner.evidence.get(incident_id).map(|s| s.values().map(EvidenceItem::info).collect()).unwrap_or_default())
    }

    async fn evidence_item(&self, incident_id: &str, name: &str) -> Result<Option<EvidenceItem>> {
        let item = {
            let inner = self.lock();
            inner.require_incident(incident_id)?;
            inner.evidence.get(incident_id).and_then(|s| s.get(name)).cloned()
        };
        if let Some(item) = &item {
            super::verify_evidence_content(incident_id, item)?;
        }
        Ok(item)
    }

    async fn timeline(&self, incident_id: &str) -> Result<Timeline> {
        let (events, head): (Vec<Event>, Option<(u64, String)>) = {
            let inner = self.lock();
            inner.require_incident(incident_id)?;
            let events = inner.events.get(incident_id).map(|rows| rows.values().cloned().collect()).unwrap_or_default();
            (events, inner.timeline_heads.get(incident_id).cloned())
        };
        let timeline = Timeline::from_events(incident_id, events)?;
        verify_timeline_head(&timeline, head.as_ref())?;
        Ok(timeline)
    }

    async fn create_run(&self, run: &RunRecord) -> Result<()> {
        check_run(run)?;
        let mut inner = self.lock();
        if inner.runs.contains_key(&run.run_id) {
            return Err(super::run_exists(&run.run_id));
        }
        inner.runs.insert(run.run_id.clone(), run.clone());
        Ok(())
    }

    async fn update_run(&self, run: &RunRecord) -> Result<()> {
        let mut inner = self.lock();
        let stored = inner.runs.get_mut(&run.run_id).ok_or_else(|| super::run_not_found(&run.run_id))?;
        stored.status = run.status;
        stored.approval.clone_from(&run.approval);
        stored.updated_at = run.updated_at;
        Ok(())
    }

    async fn run(&self, run_id: &str) -> Result<Option<RunRecord>> {
        Ok(self.lock().runs.get(run_id).cloned())
    }

    async fn runs(&self) -> Result<Vec<RunRecord>> {
        let mut all: Vec<RunRecord> = self.lock().runs.values().cloned().collect();
        all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.run_id.cmp(&b.run_id)));
        Ok(all)
    }

    async fn claim_step(
        &self,
        run_id: &str,
        step_id: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        check_claim(run_id, step_id, owner, now, lease_until)?;
        let mut inner = self.lock();
        inner.require_run(run_id)?;
        let key = (run_id.to_owned(), step_id.to_owned());
        if !may_claim(inner.claims.get(&key), owner, now) {
            return Ok(false);
        }
        inner.claims.insert(key, StepClaim { owner: owner.to_owned(), lease_until });
        Ok(true)
    }

    async fn take_over_claims(&self, run_id: &str, owner: &str) -> Result<u64> {
        super::check_take_over(owner)?;
        let mut inner = self.lock();
        inner.require_run(run_id)?;
        let mut n = 0;
        for ((r, _), claim) in &mut inner.claims {
            if r == run_id {
                owner.clone_into(&mut claim.owner);
                n += 1;
            }
        }
        Ok(n)
    }

    async fn append_journal(&self, draft: JournalDraft) -> Result<JournalEntry> {
        check_journal_draft(&draft)?;
        let mut inner = self.lock();
        inner.require_run(&draft.run_id)?;
        let rows = inner.journal.entry(draft.run_id.clone()).or_default();
        if let Some(dup) = rows.values().find(|e| {
            e.draft.step_id == draft.step_id && e.draft.phase == draft.phase && e.draft.attempt == draft.attempt
        }) {
            return Err(duplicate_journal_entry(&draft, dup.seq));
        }
        let (seq, prev_hash) = match rows.values().next_back() {
            Some(head) => (head.seq.saturating_add(1), head.hash.clone()),
            None => (0, GENESIS_HASH.to_owned()),
        };
        let entry = JournalEntry::new(seq, draft, prev_hash);
        rows.insert(seq, entry.clone());
        inner.journal_heads.insert(entry.draft.run_id.clone(), (seq, entry.hash.clone()));
        Ok(entry)
    }

    async fn journal(&self, run_id: &str) -> Result<Vec<JournalEntry>> {
        let (entries, head): (Vec<JournalEntry>, Option<(u64, String)>) = {
            let inner = self.lock();
            inner.require_run(run_id)?;
            let entries = inner.journal.get(run_id).map(|rows| rows.values().cloned().collect()).unwrap_or_default();
            (entries, inner.journal_heads.get(run_id).cloned())
        };
        verify_journal(run_id, &entries)?;
        verify_journal_head(run_id, &entries, head.as_ref())?;
        Ok(entries)
    }
}

#[async_trait::async_trait]
impl RawAccess for MemoryStore {
    async fn raw_events(&self, incident_id: &str) -> Result<Vec<(u64, Event)>> {
        let inner = self.lock();
        Ok(inner
            .events
            .get(incident_id)
            .map(|rows| rows.iter().map(|(k, e)| (*k, e.clone())).collect())
            .unwrap_or_default())
    }

    async fn put_raw_events(&self, incident_id: &str, rows: Vec<(u64, Event)>) -> Result<()> {
        self.lock().events.insert(incident_id.to_owned(), rows.into_iter().collect());
        Ok(())
    }

    async fn raw_journal(&self, run_id: &str) -> Result<Vec<JournalEntry>> {
        let inner = self.lock();
        Ok(inner.journal.get(run_id).map(|rows| rows.values().cloned().collect()).unwrap_or_default())
    }

    async fn put_raw_journal(&self, run_id: &str, entries: Vec<JournalEntry>) -> Result<()> {
        let rows = entries.into_iter().map(|e| (e.seq, e)).collect();
        self.lock().journal.insert(run_id.to_owned(), rows);
        Ok(())
    }
}
