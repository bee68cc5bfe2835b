//! [`Incidents::preserve`]: evidence items into the store, each hashed into the timeline.

use schemars::JsonSchema;
use serde::Serialize;

use super::{Incidents, non_blank};
use crate::clock::Clock;
use crate::postincident::POSTMORTEM_EVIDENCE;
use crate::postmortem::{PostMortem, PostMortemInput};
use crate::store::{EvidenceInfo, EvidenceItem, Store, UPDATE_ATTEMPTS, check_evidence_name};
use crate::timeline::Event;
use crate::{Error, ErrorKind, Policy, Result};

/// Evidence to preserve: a name unique per incident (a relative path, `declared-0003/triage.json`), a
/// media type and the content (text: it is redacted before it is hashed).
#[derive(Clone, PartialEq, Eq)]
pub struct EvidenceDraft {
    /// Unique per incident (see [`check_evidence_name`]).
    pub name: String,
    /// Media type (`application/json`, `text/plain; charset=utf-8`).
    pub media_type: String,
    /// The content, UTF-8 text.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for EvidenceDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvidenceDraft")
            .field("name", &self.name)
            .field("media_type", &self.media_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl EvidenceDraft {
    /// A text item.
    pub fn text(name: impl Into<String>, media_type: impl Into<String>, text: impl Into<String>) -> Self {
        Self { name: name.into(), media_type: media_type.into(), bytes: text.into().into_bytes() }
    }

    /// A JSON item (`application/json`, pretty-printed).
    ///
    /// # Errors
    /// `Internal` when `value` does not serialize.
    pub fn json<T: Serialize + ?Sized>(name: impl Into<String>, value: &T) -> Result<Self> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| Error::internal("cannot serialize an evidence item").with_source(e))?;
        Ok(Self::text(name, "application/json", text))
    }
}

/// What [`Incidents::preserve`] did.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Preserved {
    /// The incident.
    pub incident_id: String,
    /// Who preserved it.
    pub actor: String,
    /// The items stored now (redacted, hashed), in the order given.
    pub added: Vec<EvidenceInfo>,
    /// Names that were already stored (someone preserved them first): not written again.
    pub already_stored: Vec<String>,
    /// The `evidence_added` events appended.
    pub events: Vec<Event>,
    /// How many times the write was decided (1 + the conflicts with other writers it re-decided).
    pub attempts: u32,
}

/// What [`Incidents::record_postmortem`] did: the post-mortem built from the store and the
/// preservation of its `postmortem.md`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RecordedPostMortem {
    /// The post-mortem, as [`Incidents::postmortem`] builds it.
    pub postmortem: PostMortem,
    /// The preservation of its markdown as the evidence item [`POSTMORTEM_EVIDENCE`]: one item in
    /// [`Preserved::added`], or its name in [`Preserved::already_stored`] when one was recorded before
    /// (evidence names are kept once; the first one stays).
    pub preserved: Preserved,
}

impl RecordedPostMortem {
    /// Whether a `postmortem.md` was recorded before (nothing was written now).
    #[must_use]
    pub fn already_recorded(&self) -> bool {
        self.preserved.added.is_empty()
    }

    /// The one line `incident postmortem ID --record` reports (to stderr): what was recorded with its
    /// hash, or that one was recorded already.
    #[must_use]
    pub fn message(&self) -> String {
        let id = &self.preserved.incident_id;
        match self.preserved.added.first() {
            Some(item) => format!("recorded {POSTMORTEM_EVIDENCE} of {id} (sha256 {})", item.sha256),
            None => format!("{id} already has a recorded {POSTMORTEM_EVIDENCE} (evidence names are kept once)"),
        }
    }
}

impl Incidents {
    /// Build the post-mortem of incident `id` from the store ([`Incidents::postmortem`] with `input`)
    /// and preserve its markdown as the evidence item [`POSTMORTEM_EVIDENCE`] (`text/markdown`), hashed
    /// into the timeline as `actor`: that marks the post-incident task "Write the post-mortem" done
    /// ([`crate::postincident`]). A post-mortem recorded before is kept, not replaced
    /// ([`RecordedPostMortem::already_recorded`]). `incident postmortem ID --record` is this.
    ///
    /// # Errors
    /// As [`Incidents::postmortem`] and [`Incidents::preserve`] (`InvalidInput` for a blank actor or a
    /// document larger than `evidence.max_item_bytes`).
    pub async fn record_postmortem(&self, id: &str, input: PostMortemInput, actor: &str) -> Result<RecordedPostMortem> {
        let actor = non_blank("actor", actor)?;
        let postmortem = self.postmortem(id, input).await?;
        let doc = EvidenceDraft::text(POSTMORTEM_EVIDENCE, "text/markdown; charset=utf-8", postmortem.to_markdown());
        let preserved = self.preserve(&postmortem.incident_id, vec![doc], &actor).await?;
        Ok(RecordedPostMortem { postmortem, preserved })
    }

    /// Store `items` as evidence of incident `id`: each one's text is redacted
    /// ([`crate::redact::scrub`]), checked against `evidence.max_item_bytes`, hashed, and written with
    /// its `evidence_added` event in one transaction ([`Store::add_evidence`](crate::store::Store::add_evidence)).
    /// Names already stored are reported in [`Preserved::already_stored`], not written again. When
    /// another writer appends first the write is decided again on what is stored (optimistic, at most
    /// [`UPDATE_ATTEMPTS`] times). Allowed on a resolved incident too (post-incident evidence).
    ///
    /// # Errors
    /// `InvalidInput` for a blank actor, a bad or repeated name, content that is not UTF-8 text or is
    /// larger than `evidence.max_item_bytes` after redaction; `NotFound` for an unknown incident;
    /// `PreconditionFailed` from a store that keeps no evidence; `Conflict` when other writers won
    /// [`UPDATE_ATTEMPTS`] times in a row.
    pub async fn preserve(&self, id: &str, items: Vec<EvidenceDraft>, actor: &str) -> Result<Preserved> {
        preserve_in(&*self.store, &*self.clock, &self.policy, id, items, actor).await
    }

    /// The evidence items of incident `id` (without content), by name.
    ///
    /// # Errors
    /// `NotFound` for an unknown incident; the store's.
    pub async fn evidence(&self, id: &str) -> Result<Vec<EvidenceInfo>> {
        let id = non_blank("incident id", id)?;
        self.store.evidence(&id).await
    }

    /// One evidence item of incident `id` with its content.
    ///
    /// # Errors
    /// `NotFound` for an unknown incident or item; `Integrity` when its content does not match its hash.
    pub async fn evidence_item(&self, id: &str, name: &str) -> Result<EvidenceItem> {
        let id = non_blank("incident id", id)?;
        self.store
            .evidence_item(&id, name)
            .await?
            .ok_or_else(|| Error::not_found(format!("incident {id} has no evidence named {name}")))
    }
}

/// [`Incidents::preserve`] on any store and clock (the post-incident driver's are generic).
pub(crate) async fn preserve_in<S: Store + ?Sized, C: Clock + ?Sized>(
    store: &S,
    clock: &C,
    policy: &Policy,
    id: &str,
    items: Vec<EvidenceDraft>,
    actor: &str,
) -> Result<Preserved> {
    let actor = non_blank("actor", actor)?;
    let id = non_blank("incident id", id)?;
    let max = policy.evidence.max_item_bytes;
    let mut drafts = Vec::with_capacity(items.len());
    for (i, d) in items.into_iter().enumerate() {
        check_evidence_name(&d.name)?;
        if drafts.iter().any(|(n, _, _): &(String, String, Vec<u8>)| *n == d.name) {
            return Err(Error::invalid_input(format!("evidence name {} given twice (item {})", d.name, i + 1)));
        }
        let text = String::from_utf8(d.bytes).map_err(|_| {
            Error::invalid_input(format!(
                "evidence {}: not UTF-8 text (evidence is redacted before it is stored, so it must be text)",
                d.name
            ))
        })?;
        let redacted = crate::redact::scrub(&text).into_bytes();
        let size = u64::try_from(redacted.len()).unwrap_or(u64::MAX);
        if size > max {
            return Err(Error::invalid_input(format!(
                "evidence {}: {size} bytes, more than evidence.max_item_bytes ({max})",
                d.name
            )));
        }
        drafts.push((d.name, d.media_type, redacted));
    }
    for attempt in 1..=UPDATE_ATTEMPTS {
        let mut timeline = store.timeline(&id).await?.with_max_events(policy.limits.max_events_per_incident);
        let stored: Vec<String> = store.evidence(&id).await?.into_iter().map(|i| i.name).collect();
        let before = timeline.len();
        let now = timeline.last().map_or_else(|| clock.now(), |e| clock.now().max(e.at));
        let mut added = Vec::new();
        let mut already_stored = Vec::new();
        for (name, media_type, bytes) in &drafts {
            if stored.contains(name) {
                already_stored.push(name.clone());
                continue;
            }
            let item = EvidenceItem::new(name.clone(), media_type.clone(), bytes.clone(), now);
            timeline.append(now, actor.as_str(), item.event_kind())?;
            added.push(item);
        }
        let events = timeline.events()[before..].to_vec();
        if !added.is_empty() {
            match store.add_evidence(&id, &events, &added).await {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Conflict => {
                    tokio::task::yield_now().await;
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        return Ok(Preserved {
            incident_id: id,
            actor,
            added: added.iter().map(EvidenceItem::info).collect(),
            already_stored,
            events,
            attempts: attempt,
        });
    }
    Err(Error::conflict(format!(
        "incident {id}: other writers appended first {UPDATE_ATTEMPTS} times in a row; no evidence was \
         recorded, try again"
    )))
}
