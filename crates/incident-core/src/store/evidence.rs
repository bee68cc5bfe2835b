//! Evidence items in the store: what was captured for an incident (a triage report, warning events, log
//! lines, the post-mortem), each written together with the `evidence_added` timeline event that carries
//! its SHA-256 ([`Store::add_evidence`](super::Store::add_evidence)), so the timeline's hash chain covers
//! every item's content.
//!
//! The rules every store shares are here ([`check_evidence_add`], [`check_evidence_recorded`] and their
//! messages), like the timeline and journal rules of the [module](super).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::timeline::{Event, EventKind, Timeline};
use crate::{Error, Result};

/// Longest evidence name, in bytes.
pub const MAX_NAME_BYTES: usize = 200;

/// One evidence item as stored: its name (unique per incident, a relative path such as
/// `declared-0003/triage.json`), media type, content, the content's SHA-256 and when it was captured.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceItem {
    /// Unique per incident; a relative path of `/`-separated segments (letters, digits, `.`, `_`, `-`).
    pub name: String,
    /// Media type (`application/json`, `text/plain; charset=utf-8`, `text/markdown; charset=utf-8`).
    pub media_type: String,
    /// Lower-case hex SHA-256 of `bytes`.
    pub sha256: String,
    /// When it was captured.
    pub captured_at: DateTime<Utc>,
    /// The content.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for EvidenceItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvidenceItem")
            .field("name", &self.name)
            .field("media_type", &self.media_type)
            .field("sha256", &self.sha256)
            .field("captured_at", &self.captured_at)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl EvidenceItem {
    /// An item of `bytes`, hashing them.
    pub fn new(
        name: impl Into<String>,
        media_type: impl Into<String>,
        bytes: Vec<u8>,
        captured_at: DateTime<Utc>,
    ) -> Self {
        Self { name: name.into(), media_type: media_type.into(), sha256: sha256_hex(&bytes), captured_at, bytes }
    }

    /// Everything but the content.
    #[must_use]
    pub fn info(&self) -> EvidenceInfo {
        EvidenceInfo {
            name: self.name.clone(),
            media_type: self.media_type.clone(),
            sha256: self.sha256.clone(),
            size: u64::try_from(self.bytes.len()).unwrap_or(u64::MAX),
            captured_at: self.captured_at,
        }
    }

    /// The `evidence_added` event kind that records this item.
    #[must_use]
    pub fn event_kind(&self) -> EventKind {
        EventKind::EvidenceAdded { name: self.name.clone(), sha256: self.sha256.clone() }
    }
}

/// An evidence item without its content (what listing an incident's evidence returns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EvidenceInfo {
    /// Unique per incident.
    pub name: String,
    /// Media type.
    pub media_type: String,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    /// Content length, bytes.
    pub size: u64,
    /// When it was captured.
    pub captured_at: DateTime<Utc>,
}

/// Lower-case hex SHA-256 of `bytes`.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Check an evidence name: not blank, at most [`MAX_NAME_BYTES`], `/`-separated segments of ASCII
/// letters, digits, `.`, `_` and `-`, no segment empty, `.` or `..` (so it is a safe relative path in a
/// bundle's `evidence/` directory).
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the problem.
pub fn check_evidence_name(name: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::invalid_input(format!("evidence name {name:?}: {why}")));
    if name.is_empty() {
        return bad("must not be empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return bad(&format!("longer than {MAX_NAME_BYTES} bytes"));
    }
    for seg in name.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return bad("must be a relative path without empty, `.` or `..` segments");
        }
        if !seg.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
            return bad("may hold only ASCII letters, digits, `.`, `_`, `-` and `/`");
        }
    }
    Ok(())
}

/// The `Conflict` for an evidence name the incident already has.
#[must_use]
pub fn evidence_exists(incident_id: &str, name: &str) -> Error {
    Error::conflict(format!("evidence of {incident_id}: {name} is already stored (names are unique per incident)"))
}

/// The `PreconditionFailed` of a store that does not keep evidence items (the default of
/// [`Store::add_evidence`](super::Store::add_evidence)).
#[must_use]
pub fn evidence_unsupported() -> Error {
    Error::precondition("this store does not keep evidence items (use the memory, SQLite or PostgreSQL store)")
}

/// Check an [`add_evidence`](super::Store::add_evidence) call before writing it: `events` must be a valid
/// append after `head` ([`super::check_event_append`]); every item must have a valid name
/// ([`check_evidence_name`]), a `sha256` matching its bytes, and an `evidence_added` event in `events`
/// with its name and hash; no name twice in the call or already stored (`stored(name)`).
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for a bad name, a hash that does not match
/// the content, an item no event records; [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) for a
/// duplicate name and for the timeline conflicts of [`super::check_event_append`].
pub fn check_evidence_add(
    incident_id: &str,
    head: Option<&Event>,
    events: &[Event],
    items: &[EvidenceItem],
    stored: &dyn Fn(&str) -> bool,
) -> Result<()> {
    super::check_event_append(incident_id, head, events)?;
    for (i, item) in items.iter().enumerate() {
        check_evidence_name(&item.name)?;
        let actual = sha256_hex(&item.bytes);
        if actual != item.sha256 {
            return Err(Error::invalid_input(format!(
                "evidence of {incident_id}: {}: sha256 {} does not match the content ({actual})",
                item.name, item.sha256
            )));
        }
        let recorded = events.iter().any(|e| {
            matches!(&e.kind, EventKind::EvidenceAdded { name, sha256 } if *name == item.name && *sha256 == item.sha256)
        });
        if !recorded {
            return Err(Error::invalid_input(format!(
                "evidence of {incident_id}: {}: no evidence_added event of this call records it with its sha256",
                item.name
            )));
        }
        if items[..i].iter().any(|o| o.name == item.name) || stored(&item.name) {
            return Err(evidence_exists(incident_id, &item.name));
        }
    }
    Ok(())
}

/// Check an evidence item read back from storage: its content must match its `sha256`.
///
/// # Errors
/// [`ErrorKind::Integrity`](crate::ErrorKind::Integrity) naming the item.
pub fn verify_evidence_content(incident_id: &str, item: &EvidenceItem) -> Result<()> {
    if sha256_hex(&item.bytes) == item.sha256 {
        Ok(())
    } else {
        Err(Error::integrity(format!(
            "evidence of {incident_id}: {}: the content does not match its sha256 (edited?)",
            item.name
        )))
    }
}

/// Check stored evidence items against their incident's verified timeline (what an audit and an
/// evidence bundle's verification prove): each item's content matches its `sha256`, and an
/// `evidence_added` event of the timeline records its name with that hash.
///
/// # Errors
/// [`ErrorKind::Integrity`](crate::ErrorKind::Integrity) naming the item.
pub fn check_evidence_recorded(timeline: &Timeline, items: &[EvidenceItem]) -> Result<()> {
    let id = timeline.incident_id();
    for item in items {
        verify_evidence_content(id, item)?;
        let recorded = timeline.events().iter().any(|e| {
            matches!(&e.kind, EventKind::EvidenceAdded { name, sha256 } if *name == item.name && *sha256 == item.sha256)
        });
        if !recorded {
            return Err(Error::integrity(format!(
                "evidence of {id}: {}: no evidence_added event of the timeline records it with sha256 {} \
                 (edited or inserted?)",
                item.name, item.sha256
            )));
        }
    }
    Ok(())
}
