//! [`Incidents::preserve`]: evidence items into the store, each hashed into the timeline (the rules are
//! in [`crate::preserve`]).

use super::{Incidents, non_blank};
use crate::preserve::{EvidenceDraft, Preserved, preserve};
use crate::store::{EvidenceInfo, EvidenceItem};
use crate::{Error, Result};

impl Incidents {
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
