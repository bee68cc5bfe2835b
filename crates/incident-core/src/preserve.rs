//! Evidence into the store: [`preserve`] redacts each item's text ([`crate::redact::scrub`]), bounds it
//! (`evidence.max_item_bytes`), hashes it and writes it with its `evidence_added` timeline event in one
//! transaction ([`Store::add_evidence`]). Used by [`Incidents::preserve`](crate::lifecycle::Incidents::preserve),
//! the evidence driver and the post-incident driver.

use schemars::JsonSchema;
use serde::Serialize;

use crate::clock::Clock;
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

/// Store `items` as evidence of incident `id` on `store` at `clock`'s time, as `actor`: see
/// [`Incidents::preserve`](crate::lifecycle::Incidents::preserve), which is this on its store (the
/// post-incident driver, generic over its store, calls it directly).
///
/// # Errors
/// As [`Incidents::preserve`](crate::lifecycle::Incidents::preserve).
pub async fn preserve<S: Store + ?Sized, C: Clock + ?Sized>(
    store: &S,
    clock: &C,
    policy: &Policy,
    id: &str,
    items: Vec<EvidenceDraft>,
    actor: &str,
) -> Result<Preserved> {
    let actor = crate::text::non_blank("actor", actor)?.trim().to_owned();
    let id = crate::text::non_blank("incident id", id)?.trim().to_owned();
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
