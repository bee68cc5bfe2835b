//! Evidence bundles: the directory a drill writes (`incident drill --out DIR`) or [`collect`] writes for a
//! real incident from the store (`incident evidence collect ID --out DIR`), and the check that it is
//! intact and self-consistent ([`verify`], `incident evidence verify DIR`). Also the evidence of real
//! incidents: [`capture`] (what is read from the cluster at a declaration or status change) and
//! [`EvidenceDriver`] (`incident serve` with a cluster), whose items
//! [`crate::preserve`] stores, each hashed into the timeline. The rules live here; the bundle's
//! `journal.sqlite` is read through the [`ArchiveStore`](crate::store::ArchiveStore) port, which
//! `incident_store::SqliteStore` implements (feature `sqlite` of `incident-store`).
//!
//! # What a bundle holds
//!
//! Exactly the [`REQUIRED_FILES`], plus [`MANIFEST`] and, when signed, [`SIGNATURE`]; no other file:
//!
//! | file | content |
//! |---|---|
//! | `report.json` | the drill report, with an `evidence` section recording the chain heads ([`RecordedHeads`]) |
//! | `incident.json`, `timeline.json` | the incident and its hash-chained timeline |
//! | `triage.json`, `triage.txt` | the triage report |
//! | `plan.json`, `run.json` | the approved plan and the run (`null` when the plan was declined) |
//! | `postmortem.md`, `postmortem.json` | the post-mortem |
//! | `journal.sqlite` | the store the drill wrote: incident, timeline, run and its write-ahead journal, with the heads recorded on every append ([sealed](crate::store::ArchiveStore::seal): no `-wal`/`-shm` files) |
//! | `manifest.sha256` | the manifest (below) |
//! | `manifest.sig` | with a signing key: the manifest's Ed25519 signature ([`Signature`] as JSON) |
//!
//! A bundle of a real incident ([`collect`]) has the same files, in their incident form, plus one file per
//! evidence item:
//!
//! | file | content (incident form) |
//! |---|---|
//! | `report.json` | `"kind": "incident"` ([`INCIDENT_KIND`]), the incident, timeline, triage, plan, run, post-mortem, `evidence_items` (name, media type, sha256, size, captured at) and the `evidence` section ([`RecordedHeads`]); a drill's report has no `kind` |
//! | `triage.json`, `triage.txt` | the newest captured triage (the last `*/triage.json` item on the timeline), `null` / empty when none |
//! | `plan.json`, `run.json` | the newest run of the incident and its plan, `null` when none |
//! | `postmortem.md`, `postmortem.json` | the post-mortem built from the store |
//! | `journal.sqlite` | a sealed export of the incident, its timeline, its runs and journals, and its evidence items |
//! | `evidence/<name>` | each evidence item (`evidence/declared-0001/logs.txt`), listed in the manifest |
//!
//! # The manifest
//!
//! `manifest.sha256` is what `sha256sum -c manifest.sha256` reads (it skips `#` lines): a header line
//! [`MANIFEST_HEADER`] naming the format, a `# signed-by: ed25519:…` line when the bundle is signed, then
//! one `<sha256>  <file>` line per required file, sorted by name. The signature in `manifest.sig` is over
//! the manifest's exact bytes, so it covers every file's hash and the signed-by line; the header keeps
//! it apart from any other signed text.
//!
//! # What [`verify`] proves
//!
//! 1. **Files**: the manifest exists, is not empty and lists exactly the required set (plus the
//!    evidence files of an incident bundle); every listed file is present and matches its hash; no other
//!    file is in the directory.
//! 2. **Signature**: with a trusted key configured ([`Trust`]), `manifest.sig` must be present, made by a
//!    trusted key and match the manifest; a bundle whose manifest says it is signed must carry its
//!    signature (and one that carries a signature must say so) whether or not a key is trusted.
//! 3. **Chains**: the timeline's hash chain in `timeline.json`, and inside `journal.sqlite` (opened
//!    read-only, [`ArchiveStore::audit`](crate::store::ArchiveStore::audit)) every timeline and journal chain and the head recorded with its
//!    last append.
//! 4. **Heads and copies**: `timeline.json` is the timeline stored in `journal.sqlite`, event for event;
//!    its head and every journal's head are the heads `report.json` recorded when the bundle was made;
//!    the store holds exactly the recorded incident and runs; `incident.json`, `timeline.json`,
//!    `triage.json`, `plan.json`, `run.json` and `postmortem.json` equal their copies in `report.json`,
//!    and `incident.json` equals the incident stored in `journal.sqlite`.
//!
//! 5. **Evidence**: every `evidence/*` file is listed in the manifest, matches the SHA-256 an
//!    `evidence_added` event of `timeline.json` records for its name, and is an item `journal.sqlite`
//!    stores (its audit checks each stored item against its content and its timeline); every stored item
//!    is in the bundle.
//!
//! Without a signature, verification shows the files agree with each other and were not cut or edited
//! piecemeal: someone who rewrites *every* file consistently (new chains, new heads, a new manifest)
//! produces a bundle that verifies. Only a signature by a key the verifier trusts rules that out.

use std::fmt::{self, Write as _};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::signing::{PublicKey, Signature, Trust};
use crate::store::JournalEntry;
use crate::timeline::Timeline;

pub mod capture;
mod collect;
mod driver;
mod manifest;
mod verify;
#[cfg(feature = "sim")]
mod write;

pub use collect::collect;
pub use driver::{Captured, EvidenceDriver, EvidenceOptions, EvidenceReport};
pub use verify::verify;
#[cfg(feature = "sim")]
pub use write::DrillBundle;

/// The bundle format this build writes and reads.
pub const FORMAT: &str = "incident-core evidence v1";

/// First line of `manifest.sha256`.
pub const MANIFEST_HEADER: &str = "# incident-core evidence v1";

/// The manifest's file name.
pub const MANIFEST: &str = "manifest.sha256";

/// The signature's file name (present exactly when the manifest has a `# signed-by:` line).
pub const SIGNATURE: &str = "manifest.sig";

/// The store file's name.
pub const JOURNAL: &str = "journal.sqlite";

/// Every file the manifest must list and the directory must hold, sorted.
pub const REQUIRED_FILES: [&str; 10] = [
    "incident.json",
    JOURNAL,
    "plan.json",
    "postmortem.json",
    "postmortem.md",
    "report.json",
    "run.json",
    "timeline.json",
    "triage.json",
    "triage.txt",
];

/// JSON files that are copies of a section of `report.json`: (file, key).
const REPORT_COPIES: [(&str, &str); 6] = [
    ("incident.json", "incident"),
    ("timeline.json", "timeline"),
    ("triage.json", "triage"),
    ("plan.json", "plan"),
    ("run.json", "run"),
    ("postmortem.json", "postmortem"),
];

/// The key of `report.json`'s evidence section.
const REPORT_KEY: &str = "evidence";

/// The directory of an incident bundle's evidence items: item `declared-0001/logs.txt` is the file
/// `evidence/declared-0001/logs.txt`, listed in the manifest under that path.
pub const EVIDENCE_DIR: &str = "evidence";

/// `report.json`'s `kind` of a bundle collected from the store for a real incident
/// (`incident evidence collect`); a drill's report has no `kind`.
pub const INCIDENT_KIND: &str = "incident";

/// Files a previous drill may have left in the directory (replaced by the next one).
const SIDE_FILES: [&str; 3] = ["journal.sqlite-wal", "journal.sqlite-shm", "journal.sqlite-journal"];

/// The newest event of a timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimelineHead {
    /// The incident.
    pub incident_id: String,
    /// Number of events (the newest one's `seq`: events are numbered from 1).
    pub events: u64,
    /// The newest event's hash (the genesis hash when there is none).
    pub head: String,
}

impl TimelineHead {
    /// The head of `timeline`.
    #[must_use]
    pub fn of(timeline: &Timeline) -> Self {
        Self {
            incident_id: timeline.incident_id().to_owned(),
            events: timeline.last().map_or(0, |e| e.seq),
            head: timeline.head_hash().to_owned(),
        }
    }
}

/// The newest entry of a run's journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JournalHead {
    /// The run.
    pub run_id: String,
    /// Number of entries (the newest one's `seq` plus 1: entries are numbered from 0).
    pub entries: u64,
    /// The newest entry's hash (the genesis hash when there is none).
    pub head: String,
}

impl JournalHead {
    /// The head of `journal`, the entries of run `run_id`.
    #[must_use]
    pub fn of(run_id: &str, journal: &[JournalEntry]) -> Self {
        Self {
            run_id: run_id.to_owned(),
            entries: journal.last().map_or(0, |e| e.seq.saturating_add(1)),
            head: journal.last().map_or(crate::timeline::GENESIS_HASH, |e| e.hash.as_str()).to_owned(),
        }
    }
}

/// The `evidence` section of `report.json`: the chain heads as they stood when the bundle was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordedHeads {
    /// [`FORMAT`].
    pub format: String,
    /// The incident's timeline.
    pub timeline: TimelineHead,
    /// Every run's journal, by run id.
    pub journals: Vec<JournalHead>,
}

/// What [`verify`] found about the manifest's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SignatureCheck {
    /// No signature, and none required (no key is trusted).
    Unsigned,
    /// Signed by `key`, which is trusted, and the signature matches.
    Trusted {
        /// The signer.
        key: PublicKey,
    },
    /// Signed by `key` and the signature matches, but no key is trusted here: this shows who signed, not
    /// that their signature is wanted.
    Valid {
        /// The signer.
        key: PublicKey,
    },
}

/// What [`verify`] proved about a bundle (every check passed; a failed one is an error instead).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Verification {
    /// The directory.
    pub dir: String,
    /// [`FORMAT`].
    pub format: String,
    /// The files whose SHA-256 matched the manifest (every required file), sorted.
    pub files: Vec<String>,
    /// The timeline: intact in `timeline.json` and `journal.sqlite`, the same in both, ending at the
    /// head `report.json` recorded.
    pub timeline: TimelineHead,
    /// Every journal: intact in `journal.sqlite`, ending at the head recorded there and in `report.json`.
    pub journals: Vec<JournalHead>,
    /// The manifest's signature.
    pub signature: SignatureCheck,
    /// What the bundle is of: `drill` (`incident drill --out`) or `incident` (`incident evidence
    /// collect`).
    #[serde(default = "drill_kind")]
    pub kind: String,
    /// The evidence items (`evidence/<name>`), each matching the hash an `evidence_added` event of the
    /// timeline records and an item stored in `journal.sqlite`, sorted.
    #[serde(default)]
    pub evidence: Vec<String>,
}

fn drill_kind() -> String {
    "drill".to_owned()
}

/// The first 12 hex digits of a hash, for text.
fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

impl Verification {
    /// The findings in plain words, one line each (the CLI's text output).
    #[must_use]
    pub fn render(&self) -> String {
        let mut s = format!("{}: evidence bundle verified ({})\n", self.dir, self.format);
        let _ = writeln!(
            s,
            "  files      all {} required files are present and match {MANIFEST}; no other file is there",
            self.files.len()
        );
        let t = &self.timeline;
        let _ = writeln!(
            s,
            "  timeline   {}: {} events, hash chain intact in timeline.json and {JOURNAL}, identical in both; \
             head #{} {} is the one report.json and {JOURNAL} recorded",
            t.incident_id,
            t.events,
            t.events,
            short(&t.head)
        );
        for j in &self.journals {
            let _ = writeln!(
                s,
                "  journal    run {}: {} entries, hash chain intact; head #{} {} is the one report.json and \
                 {JOURNAL} recorded",
                j.run_id,
                j.entries,
                j.entries.saturating_sub(1),
                short(&j.head)
            );
        }
        if self.journals.is_empty() {
            if self.kind == INCIDENT_KIND {
                s.push_str("  journal    no procedure run\n");
            } else {
                s.push_str("  journal    no run (the plan was not approved)\n");
            }
        }
        if !self.evidence.is_empty() {
            let _ = writeln!(
                s,
                "  evidence   {} item(s) under {EVIDENCE_DIR}/, each matching its evidence_added hash on the timeline \
                 and its copy in {JOURNAL}",
                self.evidence.len()
            );
        }
        let _ = write!(s, "  signature  {}", self.signature);
        s
    }
}

impl fmt::Display for SignatureCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsigned => f.write_str(
                "none: the files agree with each other, but someone who rewrote every file consistently would \
                 pass too; sign bundles (--signing-key) and trust the key (policy signing.trusted_keys) to rule \
                 that out",
            ),
            Self::Trusted { key } => write!(f, "{MANIFEST} is signed by {key}, a trusted key"),
            Self::Valid { key } => write!(
                f,
                "{MANIFEST} is signed by {key} and the signature matches, but no key is trusted here \
                 (policy signing.trusted_keys or --signing-key), so this shows who signed, not that it is a \
                 signer you trust"
            ),
        }
    }
}

/// Make `dir` ready for a new bundle: create it if needed, refuse one holding anything that is not a
/// bundle's, and remove a previous bundle's files (its `evidence/` directory included). Blocking.
fn prepare_dir(dir: &std::path::Path) -> crate::Result<()> {
    use crate::Error;
    std::fs::create_dir_all(dir).map_err(|e| Error::invalid_input(format!("cannot create {}: {e}", dir.display())))?;
    let list = |e: std::io::Error| Error::unavailable(format!("cannot list {}: {e}", dir.display()));
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(list)? {
        names.push(entry.map_err(list)?.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    let ours = |n: &str| {
        REQUIRED_FILES.contains(&n) || [MANIFEST, SIGNATURE, EVIDENCE_DIR].contains(&n) || SIDE_FILES.contains(&n)
    };
    if let Some(foreign) = names.iter().find(|n| !ours(n)) {
        return Err(Error::invalid_input(format!(
            "{} holds {foreign}, which is not part of an evidence bundle: write the bundle to an empty or new \
             directory",
            dir.display()
        )));
    }
    for name in &names {
        let path = dir.join(name);
        let removed = if name == EVIDENCE_DIR && path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(|e| Error::unavailable(format!("cannot replace {}: {e}", path.display())))?;
    }
    Ok(())
}

/// The trust to verify with when nothing is configured but a signature is present: its own key, which
/// shows the signature matches.
fn self_trust(sig: &Signature) -> Trust {
    Trust::new([sig.key])
}

#[cfg(test)]
mod tests;
