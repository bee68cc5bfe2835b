//! [`collect`]: the evidence bundle of a real incident, from the store (`incident evidence collect ID
//! --out DIR`), in the drill bundle's format.

use std::collections::BTreeMap;
use std::path::Path;

use super::manifest::{Manifest, sha256_file};
use super::{
    EVIDENCE_DIR, FORMAT, INCIDENT_KIND, JOURNAL, JournalHead, MANIFEST, REPORT_KEY, REQUIRED_FILES, RecordedHeads,
    SIGNATURE, TimelineHead, Verification, verify,
};
use crate::lifecycle::Incidents;
use crate::postmortem::PostMortemInput;
use crate::signing::{SigningKey, Trust};
use crate::store::{ArchiveStore, EvidenceItem, RunRecord};
use crate::timeline::{Event, EventKind};
use crate::{Error, Result};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::unavailable(format!("cannot create {}: {e}", parent.display())))?;
    }
    std::fs::write(&path, bytes).map_err(|e| Error::unavailable(format!("cannot write {}: {e}", path.display())))
}

fn pretty<T: serde::Serialize + ?Sized>(value: &T, what: &str) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(value).map_err(|e| Error::internal(format!("cannot serialize {what}")).with_source(e))
}

/// The newest captured triage: the item named `<trigger>/triage.json` (and its `.txt`) recorded last on
/// the timeline.
fn latest_triage(events: &[Event], items: &[EvidenceItem]) -> (serde_json::Value, String) {
    let newest = events.iter().rev().find_map(|e| match &e.kind {
        EventKind::EvidenceAdded { name, .. } if name.ends_with("/triage.json") => Some(name.clone()),
        _ => None,
    });
    let Some(json_name) = newest else { return (serde_json::Value::Null, String::new()) };
    let json = items
        .iter()
        .find(|i| i.name == json_name)
        .and_then(|i| serde_json::from_slice(&i.bytes).ok())
        .unwrap_or(serde_json::Value::Null);
    let txt_name = format!("{}.txt", json_name.trim_end_matches(".json"));
    let txt = items
        .iter()
        .find(|i| i.name == txt_name)
        .map(|i| String::from_utf8_lossy(&i.bytes).into_owned())
        .unwrap_or_default();
    (json, txt)
}

/// Copy incident `id` from `incidents`' store into the archive `target`: the incident, its timeline (the
/// evidence items written with their `evidence_added` events), its runs and their journals.
async fn copy_into<S: ArchiveStore>(
    target: &S,
    incident: &crate::incident::Incident,
    events: &[Event],
    items: &[EvidenceItem],
    runs: &[(RunRecord, Vec<crate::store::JournalEntry>)],
) -> Result<()> {
    target.save_incident(incident).await?;
    let mut pending: Vec<Event> = Vec::new();
    for ev in events {
        let item = match &ev.kind {
            EventKind::EvidenceAdded { name, sha256 } => items.iter().find(|i| i.name == *name && i.sha256 == *sha256),
            _ => None,
        };
        match item {
            // The first event recording a stored item carries it (a later one with the same name and hash,
            // if any, is an ordinary event).
            Some(item) => {
                target.append_events(&incident.id, &pending).await?;
                pending.clear();
                let stored = target.evidence(&incident.id).await?;
                if stored.iter().any(|s| s.name == item.name) {
                    pending.push(ev.clone());
                } else {
                    target.add_evidence(&incident.id, std::slice::from_ref(ev), std::slice::from_ref(item)).await?;
                }
            }
            _ => pending.push(ev.clone()),
        }
    }
    target.append_events(&incident.id, &pending).await?;
    for (run, journal) in runs {
        target.create_run(run).await?;
        for entry in journal {
            let copied = target.append_journal(entry.draft.clone()).await?;
            if copied.hash != entry.hash {
                return Err(Error::internal(format!(
                    "run {}: journal entry #{} copied with a different hash",
                    run.run_id, entry.seq
                )));
            }
        }
    }
    Ok(())
}

/// How many times [`collect`] reads the incident before giving up on a consistent snapshot.
const COLLECT_ATTEMPTS: u32 = 8;

/// Write the evidence bundle of incident `id` to `dir` (see the [module docs](super) for the format):
/// `report.json` is an incident report (`"kind": "incident"`, the chain heads, the evidence items), the
/// incident and its verified timeline, the newest captured triage (`null` / empty when none), the newest
/// run of the incident and its plan (`null` when none), the post-mortem built from the store, a sealed
/// `journal.sqlite` (`S`: `incident_store::SqliteStore`) holding the incident, its timeline, runs,
/// journals and evidence items, and each evidence item as `evidence/<name>`; then the manifest (listing
/// the evidence files too), its signature with `key`, and [`verify`] of the result (trusting `key`).
/// Blocking file I/O inside.
///
/// # Errors
/// `NotFound` for an unknown incident; `InvalidInput` when `dir` holds files that are not a bundle's;
/// `Unavailable` when a file cannot be written or the incident kept changing while it was read; the
/// store's (`Integrity` for a tampered timeline);
/// `Internal` when the bundle written does not verify.
pub async fn collect<S: ArchiveStore>(
    incidents: &Incidents,
    id: &str,
    dir: impl AsRef<Path>,
    key: Option<&SigningKey>,
) -> Result<Verification> {
    let dir = dir.as_ref();
    let store = incidents.store();
    // The incident is live (`incident serve` may be adding evidence, e.g. the post-incident driver's
    // `timeline-metrics.json`): the timeline and the items must be one snapshot, or an item added between
    // the two reads has no `evidence_added` event in the bundle's timeline. Read the timeline, the items,
    // then the timeline again; a timeline that grew in between is read again.
    let mut attempt = 0;
    let (incident, timeline, items) = loop {
        attempt += 1;
        let (incident, timeline) = incidents.load(id).await?;
        let mut items = Vec::new();
        let mut vanished = None;
        for info in store.evidence(&incident.id).await? {
            match store.evidence_item(&incident.id, &info.name).await? {
                Some(item) => items.push(item),
                None => vanished = Some(info.name),
            }
        }
        let (_, after) = incidents.load(id).await?;
        if vanished.is_none() && after.events().len() == timeline.events().len() {
            break (incident, timeline, items);
        }
        if attempt >= COLLECT_ATTEMPTS {
            return Err(Error::unavailable(format!(
                "incident {id} kept changing while its evidence was collected ({attempt} attempts): try again"
            )));
        }
    };
    let mut runs = Vec::new();
    for run in store.runs().await?.into_iter().filter(|r| r.incident_id.as_deref() == Some(incident.id.as_str())) {
        let journal = store.journal(&run.run_id).await?;
        runs.push((run, journal));
    }
    let postmortem = incidents.postmortem(&incident.id, PostMortemInput::default()).await?;

    super::prepare_dir(dir)?;
    let archive = S::create(&dir.join(JOURNAL))?;
    copy_into(&archive, &incident, timeline.events(), &items, &runs).await?;
    archive.seal()?;
    drop(archive);
    let audit = S::open_read_only(&dir.join(JOURNAL))?.audit()?;
    let stored = audit
        .incidents
        .iter()
        .find(|i| i.incident.id == incident.id)
        .ok_or_else(|| Error::internal(format!("incident {} is not in {JOURNAL}", incident.id)))?;
    let heads = RecordedHeads {
        format: FORMAT.to_owned(),
        timeline: TimelineHead::of(&stored.timeline),
        journals: audit.runs.iter().map(|r| JournalHead::of(&r.run.run_id, &r.journal)).collect(),
    };
    // Newest run first (`Store::runs` order).
    let latest = runs.first().map(|(r, _)| r);
    let (triage, triage_txt) = latest_triage(timeline.events(), &items);
    let report = serde_json::json!({
        "kind": INCIDENT_KIND,
        "incident": incident,
        "timeline": timeline,
        "triage": triage,
        "plan": latest.map(|r| r.plan.clone()),
        "run": latest,
        "postmortem": postmortem,
        "evidence_items": items.iter().map(EvidenceItem::info).collect::<Vec<_>>(),
        REPORT_KEY: heads,
    });
    write(dir, "report.json", &pretty(&report, "the incident report")?)?;
    write(dir, "incident.json", &pretty(&report["incident"], "the incident")?)?;
    write(dir, "timeline.json", &pretty(&report["timeline"], "the timeline")?)?;
    write(dir, "triage.json", &pretty(&report["triage"], "the triage report")?)?;
    write(dir, "triage.txt", triage_txt.as_bytes())?;
    write(dir, "plan.json", &pretty(&report["plan"], "the plan")?)?;
    write(dir, "run.json", &pretty(&report["run"], "the run")?)?;
    write(dir, "postmortem.md", postmortem.to_markdown().as_bytes())?;
    write(dir, "postmortem.json", &pretty(&report["postmortem"], "the post-mortem")?)?;
    for item in &items {
        write(dir, &format!("{EVIDENCE_DIR}/{}", item.name), &item.bytes)?;
    }

    let mut files = BTreeMap::new();
    let names = REQUIRED_FILES
        .iter()
        .map(|n| (*n).to_owned())
        .chain(items.iter().map(|i| format!("{EVIDENCE_DIR}/{}", i.name)));
    for name in names {
        let hash = sha256_file(&dir.join(&name))
            .map_err(|e| Error::unavailable(format!("cannot read {}: {e}", dir.join(&name).display())))?;
        files.insert(name, hash);
    }
    let manifest = Manifest { signed_by: key.map(SigningKey::public_key), files }.render();
    write(dir, MANIFEST, manifest.as_bytes())?;
    let trust = match key {
        Some(k) => {
            write(dir, SIGNATURE, &pretty(&k.sign(manifest.as_bytes()), "the signature")?)?;
            Trust::new([k.public_key()])
        }
        None => Trust::default(),
    };
    verify::<S>(dir, &trust)
        .map_err(|e| Error::internal(format!("the evidence bundle just written does not verify: {}", e.message())))
}
