//! Store queries behind `Incidents.timeline / runs / run / journal`: what the store holds, read through
//! `incident_core::lifecycle::Incidents` (a verified timeline) and `incident_core::store::Store` (runs and
//! their hash-chained journals, verified by the store on read). Conversion only.

use std::sync::Arc;

use super::support::{Json, Open, Work, to_json};
use crate::timeline::PyTimeline;

/// The verified timeline of incident `id` (`NotFoundError` for an unknown incident).
pub(super) fn timeline(inner: &Arc<Open>, id: String) -> Work<PyTimeline> {
    let inner = Arc::clone(inner);
    Box::new(move |_| Ok(PyTimeline { inner: inner.run(async |i| i.load(&id).await)?.1 }))
}

/// The runs the store holds (`Store::runs`), as wire dicts; with `incident_id`, only that incident's (those
/// `show` lists).
pub(super) fn runs(inner: &Arc<Open>, incident_id: Option<String>) -> Work<Vec<Json>> {
    let inner = Arc::clone(inner);
    Box::new(move |_| {
        let mut runs = inner.run(async |i| i.store().runs().await)?;
        if let Some(id) = incident_id {
            runs.retain(|r| r.incident_id.as_deref() == Some(id.as_str()));
        }
        runs.iter().map(to_json).collect()
    })
}

/// Run `run_id` (`Store::run`), as a wire dict; core's `run_not_found` for an unknown id.
pub(super) fn run(inner: &Arc<Open>, run_id: String) -> Work<Json> {
    let inner = Arc::clone(inner);
    Box::new(move |_| {
        let record = inner.run(async |i| i.store().run(&run_id).await)?;
        to_json(&record.ok_or_else(|| incident_core::store::run_not_found(&run_id))?)
    })
}

/// The journal of run `run_id` (`Store::journal`, hash chain verified on read), as wire dicts; core's
/// `run_not_found` for an unknown run.
pub(super) fn journal(inner: &Arc<Open>, run_id: String) -> Work<Vec<Json>> {
    let inner = Arc::clone(inner);
    Box::new(move |_| {
        let entries = inner.run(async |i| {
            if i.store().run(&run_id).await?.is_none() {
                return Err(incident_core::store::run_not_found(&run_id));
            }
            i.store().journal(&run_id).await
        })?;
        entries.iter().map(to_json).collect()
    })
}
