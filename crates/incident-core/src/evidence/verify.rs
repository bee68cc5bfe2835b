//! [`verify`]: every check of the [module docs](super), in order, stopping at the first failure.

use std::io::ErrorKind as IoKind;
use std::path::Path;

use serde::de::DeserializeOwned;

use super::manifest::{Manifest, sha256_file};
use super::{
    EVIDENCE_DIR, FORMAT, INCIDENT_KIND, JOURNAL, JournalHead, MANIFEST, REPORT_COPIES, REPORT_KEY, REQUIRED_FILES,
    RecordedHeads, SIGNATURE, SignatureCheck, TimelineHead, Verification, self_trust, short,
};
use crate::incident::Incident;
use crate::signing::{Signature, Trust};
use crate::store::{ArchiveStore, StoreAudit};
use crate::timeline::Timeline;
use crate::{Error, ErrorKind, Result};

/// Verify the evidence bundle in `dir` (see the [module docs](super) for what is checked): with `trust`
/// not empty, the manifest must carry a signature by one of its keys. `S` reads `journal.sqlite`
/// (`incident_store::SqliteStore`: `verify::<SqliteStore>(dir, &trust)`). Blocking (reads the directory).
///
/// # Errors
/// * `Integrity` naming the first thing that is wrong: a missing, empty or malformed manifest; a required
///   file missing or not matching its hash; a file that is not part of the bundle; a missing, untrusted
///   or bad signature; a broken chain; a head or copy that disagrees with another;
/// * `NotFound` when `dir` does not exist, `InvalidInput` when it is not a directory, `Unavailable` when
///   a file cannot be read.
pub fn verify<S: ArchiveStore>(dir: impl AsRef<Path>, trust: &Trust) -> Result<Verification> {
    let dir = dir.as_ref();
    check::<S>(dir, trust).map_err(|e| e.context(dir.display()))
}

fn check<S: ArchiveStore>(dir: &Path, trust: &Trust) -> Result<Verification> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(Error::invalid_input("not a directory (an evidence bundle is a directory)")),
        Err(e) if e.kind() == IoKind::NotFound => return Err(Error::not_found("no such directory")),
        Err(e) => return Err(Error::unavailable(format!("cannot read the directory: {e}"))),
    }

    // 1. The manifest and its signature (checked over the raw bytes, before anything in them is used).
    let bytes = match std::fs::read(dir.join(MANIFEST)) {
        Ok(b) => b,
        Err(e) if e.kind() == IoKind::NotFound => {
            return Err(Error::integrity(format!(
                "{MANIFEST} is missing: an evidence bundle carries one listing its required files"
            )));
        }
        Err(e) => return Err(Error::unavailable(format!("cannot read {MANIFEST}: {e}"))),
    };
    let signature = read_signature(dir)?;
    trust.verify(MANIFEST, &bytes, signature.as_ref())?;
    let text = String::from_utf8(bytes).map_err(|_| Error::integrity(format!("{MANIFEST} is not UTF-8 text")))?;
    let manifest = Manifest::parse(&text)?;
    let signature = match (manifest.signed_by, signature) {
        (None, None) => SignatureCheck::Unsigned,
        (Some(key), None) => {
            return Err(Error::integrity(format!("{MANIFEST} says it is signed by {key}, but {SIGNATURE} is missing")));
        }
        (None, Some(_)) => {
            return Err(Error::integrity(format!(
                "{SIGNATURE} is present, but {MANIFEST} does not say it is signed (no `# signed-by:` line)"
            )));
        }
        (Some(key), Some(sig)) if sig.key != key => {
            return Err(Error::integrity(format!(
                "{SIGNATURE} is by {}, but {MANIFEST} says it is signed by {key}",
                sig.key
            )));
        }
        (Some(key), Some(sig)) if trust.is_empty() => {
            self_trust(&sig).verify(MANIFEST, text.as_bytes(), Some(&sig))?;
            SignatureCheck::Valid { key }
        }
        (Some(key), Some(_)) => SignatureCheck::Trusted { key },
    };

    // 2. Exactly the bundle's files, each matching the manifest.
    let mut allowed: Vec<&str> = REQUIRED_FILES.to_vec();
    allowed.push(MANIFEST);
    if manifest.signed_by.is_some() {
        allowed.push(SIGNATURE);
    }
    let listed_evidence: Vec<&str> = manifest.files.keys().map(String::as_str).filter(|n| is_evidence(n)).collect();
    if !listed_evidence.is_empty() {
        allowed.push(EVIDENCE_DIR);
    }
    check_listing(dir, &allowed)?;
    check_evidence_listing(dir, &listed_evidence)?;
    for (name, expected) in &manifest.files {
        let actual = match sha256_file(&dir.join(name)) {
            Ok(h) => h,
            Err(e) if e.kind() == IoKind::NotFound && is_evidence(name) => {
                return Err(Error::integrity(format!("the evidence file {name} listed in {MANIFEST} is missing")));
            }
            Err(e) if e.kind() == IoKind::NotFound => {
                return Err(Error::integrity(format!("the required file {name} is missing")));
            }
            Err(e) => return Err(Error::unavailable(format!("cannot read {name}: {e}"))),
        };
        if &actual != expected {
            return Err(Error::integrity(format!("{name}: SHA-256 mismatch (manifest {expected}, file {actual})")));
        }
    }

    // 3. Chains, heads and copies.
    let timeline: Timeline = read_json(dir, "timeline.json")?;
    let report: serde_json::Value = read_json(dir, "report.json")?;
    let recorded = recorded_heads(&report)?;
    let audit = S::open_read_only(&dir.join(JOURNAL))
        .and_then(|store| store.audit())
        .map_err(|e| as_integrity(e).context(JOURNAL))?;
    check_timeline(&timeline, &recorded, &audit)?;
    for (file, key) in REPORT_COPIES {
        let copy: serde_json::Value = read_json(dir, file)?;
        if report.get(key) != Some(&copy) {
            return Err(Error::integrity(format!("{file} differs from its copy in report.json (`{key}`)")));
        }
    }
    // Both sides through the current `Incident` type, so a field added since the bundle was made (with
    // its default) does not make an old bundle differ from itself.
    let incident: Incident = read_json(dir, "incident.json")?;
    if audit.incidents.iter().all(|i| i.incident != incident) {
        return Err(Error::integrity(format!("incident.json differs from the incident stored in {JOURNAL}")));
    }
    check_journals(&report, &recorded, &audit)?;
    let evidence = check_evidence(&manifest, &timeline, &audit)?;
    let kind = match report.get("kind") {
        None => "drill".to_owned(),
        Some(serde_json::Value::String(k)) if k == INCIDENT_KIND || k == "drill" => k.clone(),
        Some(other) => {
            return Err(Error::integrity(format!(
                "report.json: unknown bundle kind {other} (expected drill or incident)"
            )));
        }
    };

    let mut journals = recorded.journals;
    journals.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    Ok(Verification {
        dir: dir.display().to_string(),
        format: recorded.format,
        files: manifest.files.into_keys().collect(),
        timeline: recorded.timeline,
        journals,
        signature,
        kind,
        evidence,
    })
}

fn is_evidence(name: &str) -> bool {
    name.strip_prefix(EVIDENCE_DIR).is_some_and(|r| r.starts_with('/'))
}

/// Every file under `evidence/` is a regular file the manifest lists (directories only as its path).
fn check_evidence_listing(dir: &Path, listed: &[&str]) -> Result<()> {
    let root = dir.join(EVIDENCE_DIR);
    if !root.exists() {
        return Ok(());
    }
    let read = |e: std::io::Error| Error::unavailable(format!("cannot list {EVIDENCE_DIR}/: {e}"));
    let mut stack = vec![(root, EVIDENCE_DIR.to_owned())];
    while let Some((path, rel)) = stack.pop() {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&path).map_err(read)? {
            let entry = entry.map_err(read)?;
            entries.push((entry.file_name().to_string_lossy().into_owned(), entry.file_type().map_err(read)?));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, file_type) in entries {
            let child = format!("{rel}/{name}");
            if file_type.is_dir() {
                stack.push((path.join(&name), child));
            } else if !file_type.is_file() {
                return Err(Error::integrity(format!("{child} is not a regular file")));
            } else if !listed.contains(&child.as_str()) {
                return Err(Error::integrity(format!(
                    "{child} is not part of the evidence bundle ({MANIFEST} does not list it)"
                )));
            }
        }
    }
    Ok(())
}

/// The evidence files and the items stored in `journal.sqlite` are the same set, and each file's hash
/// (checked against the manifest already) is the one an `evidence_added` event of the timeline records
/// for its name.
fn check_evidence(manifest: &Manifest, timeline: &Timeline, audit: &StoreAudit) -> Result<Vec<String>> {
    let stored: Vec<&crate::store::EvidenceItem> = audit.incidents.iter().flat_map(|i| &i.evidence).collect();
    let mut names = Vec::new();
    for (file, hash) in manifest.files.iter().filter(|(n, _)| is_evidence(n)) {
        let name = &file[EVIDENCE_DIR.len() + 1..];
        let recorded = timeline.events().iter().any(|e| {
            matches!(&e.kind, crate::timeline::EventKind::EvidenceAdded { name: n, sha256 } if n == name && sha256 == hash)
        });
        if !recorded {
            return Err(Error::integrity(format!(
                "{file}: no evidence_added event of timeline.json records {name} with sha256 {hash} (edited or \
                 added?)"
            )));
        }
        match stored.iter().find(|i| i.name == name) {
            Some(item) if item.sha256 == *hash => {}
            Some(_) => {
                return Err(Error::integrity(format!("{file} differs from the item {name} stored in {JOURNAL}")));
            }
            None => {
                return Err(Error::integrity(format!("{file}: {JOURNAL} stores no evidence item {name}")));
            }
        }
        names.push(name.to_owned());
    }
    if let Some(missing) = stored.iter().find(|i| !names.contains(&i.name)) {
        return Err(Error::integrity(format!(
            "{JOURNAL} stores the evidence item {}, but {EVIDENCE_DIR}/{} is not in the bundle (deleted?)",
            missing.name, missing.name
        )));
    }
    names.sort();
    Ok(names)
}

/// `manifest.sig`, if present.
fn read_signature(dir: &Path) -> Result<Option<Signature>> {
    match std::fs::read(dir.join(SIGNATURE)) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|_| {
            Error::integrity(format!("{SIGNATURE} is not a signature (JSON with the signer's `key` and `value`)"))
        }),
        Err(e) if e.kind() == IoKind::NotFound => Ok(None),
        Err(e) => Err(Error::unavailable(format!("cannot read {SIGNATURE}: {e}"))),
    }
}

/// Every entry of `dir` is an allowed name and a regular file (not a directory or a symbolic link).
fn check_listing(dir: &Path, allowed: &[&str]) -> Result<()> {
    let read = |e: std::io::Error| Error::unavailable(format!("cannot list the directory: {e}"));
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let entry = entry.map_err(read)?;
        let file_type = entry.file_type().map_err(read)?;
        entries.push((entry.file_name().to_string_lossy().into_owned(), file_type));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, file_type) in entries {
        if !allowed.contains(&name.as_str()) {
            return Err(Error::integrity(format!(
                "{name} is not part of the evidence bundle ({MANIFEST} does not list it; a bundle holds its \
                 required files only)"
            )));
        }
        if name == EVIDENCE_DIR && allowed.contains(&EVIDENCE_DIR) {
            if !file_type.is_dir() {
                return Err(Error::integrity(format!("{name} is not a directory")));
            }
        } else if !file_type.is_file() {
            return Err(Error::integrity(format!("{name} is not a regular file")));
        }
    }
    Ok(())
}

fn read_json<T: DeserializeOwned>(dir: &Path, name: &str) -> Result<T> {
    let bytes = std::fs::read(dir.join(name)).map_err(|e| Error::unavailable(format!("cannot read {name}: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::integrity(format!("{name}: {e}")))
}

/// The `evidence` section of `report.json`.
fn recorded_heads(report: &serde_json::Value) -> Result<RecordedHeads> {
    let section = report
        .get(REPORT_KEY)
        .ok_or_else(|| Error::integrity(format!("report.json records no chain heads (no `{REPORT_KEY}` section)")))?;
    let heads: RecordedHeads = serde_json::from_value(section.clone())
        .map_err(|e| Error::integrity(format!("report.json: the `{REPORT_KEY}` section is unreadable: {e}")))?;
    if heads.format != FORMAT {
        return Err(Error::integrity(format!(
            "report.json: bundle format {:?}, but this build reads {FORMAT:?}",
            heads.format
        )));
    }
    Ok(heads)
}

/// Chain errors inside `journal.sqlite` are evidence failures whatever the store called them.
fn as_integrity(e: Error) -> Error {
    match e.kind() {
        ErrorKind::Integrity | ErrorKind::Unavailable => e,
        _ => Error::integrity(e.message().to_owned()),
    }
}

fn timeline_at(h: &TimelineHead) -> String {
    if h.events == 0 { "no event".into() } else { format!("event #{} ({})", h.events, short(&h.head)) }
}

fn journal_at(h: &JournalHead) -> String {
    if h.entries == 0 {
        "no entry".into()
    } else {
        format!("entry #{} ({})", h.entries.saturating_sub(1), short(&h.head))
    }
}

/// `timeline.json` ends at the recorded head, and is the timeline `journal.sqlite` holds, event for event;
/// the store holds no other incident.
fn check_timeline(timeline: &Timeline, recorded: &RecordedHeads, audit: &StoreAudit) -> Result<()> {
    let want = &recorded.timeline;
    let head = TimelineHead::of(timeline);
    if head.incident_id != want.incident_id {
        return Err(Error::integrity(format!(
            "timeline.json is the timeline of {}, but report.json records {}",
            head.incident_id, want.incident_id
        )));
    }
    if &head != want {
        return Err(Error::integrity(format!(
            "timeline.json ends at {}, but report.json recorded the head {}",
            timeline_at(&head),
            timeline_at(want)
        )));
    }
    if let Some(other) = audit.incidents.iter().find(|i| i.incident.id != want.incident_id) {
        return Err(Error::integrity(format!(
            "{JOURNAL} holds incident {}, which report.json does not record",
            other.incident.id
        )));
    }
    let stored = audit.incidents.iter().find(|i| i.incident.id == want.incident_id).ok_or_else(|| {
        Error::integrity(format!("{JOURNAL} holds no incident {}, which report.json records", want.incident_id))
    })?;
    let stored_head = TimelineHead::of(&stored.timeline);
    if &stored_head != want {
        return Err(Error::integrity(format!(
            "{JOURNAL}: the timeline of {} ends at {}, but report.json recorded the head {}",
            want.incident_id,
            timeline_at(&stored_head),
            timeline_at(want)
        )));
    }
    if let Some((ours, theirs)) = timeline.events().iter().zip(stored.timeline.events()).find(|(a, b)| a != b) {
        return Err(Error::integrity(format!(
            "timeline.json and the timeline in {JOURNAL} differ at event #{} (#{} in {JOURNAL})",
            ours.seq, theirs.seq
        )));
    }
    Ok(())
}

/// Every journal in `journal.sqlite` ends at the head `report.json` recorded, and the two name the same
/// runs; `run.json`'s run is one of them.
fn check_journals(report: &serde_json::Value, recorded: &RecordedHeads, audit: &StoreAudit) -> Result<()> {
    for run in &audit.runs {
        let want = recorded.journals.iter().find(|j| j.run_id == run.run.run_id).ok_or_else(|| {
            Error::integrity(format!("{JOURNAL} holds run {}, which report.json does not record", run.run.run_id))
        })?;
        let head = JournalHead::of(&run.run.run_id, &run.journal);
        if &head != want {
            return Err(Error::integrity(format!(
                "{JOURNAL}: the journal of run {} ends at {}, but report.json recorded the head {}",
                want.run_id,
                journal_at(&head),
                journal_at(want)
            )));
        }
    }
    if let Some(missing) = recorded.journals.iter().find(|j| !audit.runs.iter().any(|r| r.run.run_id == j.run_id)) {
        return Err(Error::integrity(format!(
            "report.json records run {}, which {JOURNAL} does not hold",
            missing.run_id
        )));
    }
    if let Some(run_id) = report.get("run").and_then(|r| r.get("run_id")).and_then(serde_json::Value::as_str) {
        if !recorded.journals.iter().any(|j| j.run_id == run_id) {
            return Err(Error::integrity(format!(
                "run.json is run {run_id}, whose journal report.json does not record"
            )));
        }
    }
    Ok(())
}
