//! [`Incidents::preserve`]: evidence items into the store, each hashed into the timeline (the rules are
//! in [`crate::preserve`]).

use schemars::JsonSchema;
use serde::Serialize;

use super::{Incidents, non_blank};
use crate::postincident::POSTMORTEM_EVIDENCE;
use crate::postmortem::{PostMortem, PostMortemInput};
use crate::preserve::{EvidenceDraft, Preserved, preserve};
use crate::store::{EvidenceInfo, EvidenceItem};
use crate::{Error, Result};

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
    /// [`UPDATE_ATTEMPTS`](crate::store::UPDATE_ATTEMPTS) times). Allowed on a resolved incident too (post-incident evidence).
    ///
    /// # Errors
    /// `InvalidInput` for a blank actor, a bad or repeated name, content that is not UTF-8 text or is
    /// larger than `evidence.max_item_bytes` after redaction; `NotFound` for an unknown incident;
    /// `PreconditionFailed` from a store that keeps no evidence; `Conflict` when other writers won
    /// [`UPDATE_ATTEMPTS`](crate::store::UPDATE_ATTEMPTS) times in a row.
    pub async fn preserve(&self, id: &str, items: Vec<EvidenceDraft>, actor: &str) -> Result<Preserved> {
        preserve(&*self.store, &*self.clock, &self.policy, id, items, actor).await
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
