//! [`DrillBundle`]: the bundle a drill writes (feature `sim`).

use std::path::{Path, PathBuf};

use super::manifest::{Manifest, sha256_file};
use super::{
    FORMAT, JOURNAL, JournalHead, MANIFEST, REPORT_KEY, REQUIRED_FILES, RecordedHeads, SIGNATURE, TimelineHead,
    Verification, verify,
};
use crate::drill_run::DrillReport;
use crate::signing::{SigningKey, Trust};
use crate::store::ArchiveStore;
use crate::{Error, Result};

/// An evidence bundle being made: [`DrillBundle::create`] prepares the directory and opens its
/// `journal.sqlite` (an [`ArchiveStore`] `S`: `incident_store::SqliteStore`), the drill runs on
/// [`DrillBundle::store`], and [`DrillBundle::finish`] writes the files, the manifest and (with a key) its
/// signature, then verifies the result.
///
/// ```no_run
/// # async fn demo<SqliteStore: incident_core::store::ArchiveStore>(platform: &incident_core::sim::SimPlatform, scenario: &incident_core::sim::Scenario) -> incident_core::Result<()> {
/// use std::sync::Arc;
/// use incident_core::drill_run::{self as drill, AutoApprove, DrillOptions, Silent};
/// use incident_core::evidence::DrillBundle;
///
/// // use incident_store::SqliteStore;
/// let bundle = DrillBundle::<SqliteStore>::create("out/drill")?;
/// let policy = incident_core::Policy::default();
/// let approver = AutoApprove { by: "alice".into() };
/// let store = Arc::new(bundle.store().clone());
/// let report = drill::run_drill(platform, store, &policy, scenario, &DrillOptions::default(), &approver, &Silent).await?;
/// let proof = bundle.finish(&report, None)?;
/// println!("{}", proof.render());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DrillBundle<S> {
    dir: PathBuf,
    store: S,
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).map_err(|e| Error::unavailable(format!("cannot write {}: {e}", path.display())))
}

fn pretty<T: serde::Serialize + ?Sized>(value: &T, what: &str) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(value).map_err(|e| Error::internal(format!("cannot serialize {what}")).with_source(e))
}

impl<S: ArchiveStore> DrillBundle<S> {
    /// Create `dir` if needed, remove the files a previous bundle left there, and open a new
    /// `journal.sqlite` in it. Blocking.
    ///
    /// # Errors
    /// `InvalidInput` when `dir` cannot be created or holds a file that is not part of an evidence bundle
    /// (a bundle holds nothing else, so it is not written over other files); `Unavailable` when a
    /// previous bundle's file cannot be removed or the store cannot be opened.
    pub fn create(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        super::prepare_dir(&dir)?;
        let store = S::create(&dir.join(JOURNAL))?;
        Ok(Self { dir, store })
    }

    /// The directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The store the drill must write to (the bundle's `journal.sqlite`).
    #[must_use]
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Seal `journal.sqlite`, record the chain heads it holds in `report.json`, write the other files and
    /// the manifest, sign it with `key` if given (`manifest.sig`), and [`verify`] the bundle (trusting
    /// `key`). Blocking. Drop every other handle of [`DrillBundle::store`] first.
    ///
    /// # Errors
    /// `Unavailable` when a file cannot be written or another handle keeps the store open; `Integrity`
    /// when the store's chains do not verify; `Internal` when the bundle written does not verify.
    pub fn finish(self, report: &DrillReport, key: Option<&SigningKey>) -> Result<Verification> {
        let Self { dir, store } = self;
        store.seal()?;
        drop(store);
        let audit = S::open_read_only(&dir.join(JOURNAL))?.audit()?;
        let stored = audit.incidents.iter().find(|i| i.incident.id == report.incident.id).ok_or_else(|| {
            Error::internal(format!("the drill's incident {} is not in {JOURNAL}", report.incident.id))
        })?;
        let heads = RecordedHeads {
            format: FORMAT.to_owned(),
            timeline: TimelineHead::of(&stored.timeline),
            journals: audit.runs.iter().map(|r| JournalHead::of(&r.run.run_id, &r.journal)).collect(),
        };
        let mut value = serde_json::to_value(report)
            .map_err(|e| Error::internal("cannot serialize the drill report").with_source(e))?;
        let heads_value = serde_json::to_value(&heads)
            .map_err(|e| Error::internal("cannot serialize the chain heads").with_source(e))?;
        value
            .as_object_mut()
            .ok_or_else(|| Error::internal("the drill report is not a JSON object"))?
            .insert(REPORT_KEY.to_owned(), heads_value);

        write(&dir, "report.json", &pretty(&value, "the drill report")?)?;
        write(&dir, "incident.json", &pretty(&report.incident, "the incident")?)?;
        write(&dir, "timeline.json", &pretty(&report.timeline, "the timeline")?)?;
        write(&dir, "triage.json", &pretty(&report.triage, "the triage report")?)?;
        write(&dir, "triage.txt", report.triage.render().as_bytes())?;
        write(&dir, "plan.json", &pretty(&report.plan, "the plan")?)?;
        write(&dir, "run.json", &pretty(&report.run, "the run")?)?;
        write(&dir, "postmortem.md", report.postmortem.to_markdown().as_bytes())?;
        write(&dir, "postmortem.json", &pretty(&report.postmortem, "the post-mortem")?)?;

        let mut files = std::collections::BTreeMap::new();
        for name in REQUIRED_FILES {
            let hash = sha256_file(&dir.join(name))
                .map_err(|e| Error::unavailable(format!("cannot read {}: {e}", dir.join(name).display())))?;
            files.insert(name.to_owned(), hash);
        }
        let manifest = Manifest { signed_by: key.map(SigningKey::public_key), files }.render();
        write(&dir, MANIFEST, manifest.as_bytes())?;
        let trust = match key {
            Some(k) => {
                write(&dir, SIGNATURE, &pretty(&k.sign(manifest.as_bytes()), "the signature")?)?;
                Trust::new([k.public_key()])
            }
            None => Trust::default(),
        };
        verify::<S>(&dir, &trust)
            .map_err(|e| Error::internal(format!("the evidence bundle just written does not verify: {}", e.message())))
    }
}
