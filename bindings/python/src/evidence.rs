//! `verify_evidence`: what `incident evidence verify DIR` proves, from Python. Writing a bundle is
//! `run_drill(..., evidence=DIR)` (as `incident drill --out DIR`). Both call `incident_core::evidence`;
//! nothing is decided here.

use std::path::PathBuf;

use incident_store::SqliteStore;
use pyo3::prelude::*;

use crate::error::{guard, to_py, to_py_obj};
use crate::policy::{PyPolicy, or_default};

/// Verify the evidence bundle in `dir` (a drill's `evidence=` directory): its files against
/// `manifest.sha256`, the timeline and journal hash chains, the heads `report.json` recorded, and the
/// manifest's signature (required when `policy.signing.trusted_keys` names a key). Returns what was proved
/// (a dict: `dir`, `format`, `files`, `timeline`, `journals`, `signature`), the same as
/// `incident -o json evidence verify DIR`. A tampered bundle raises `IntegrityError` (the CLI's error kind
/// too); a missing directory or file `NotFoundError` or `IntegrityError` as in the CLI.
#[pyfunction]
#[pyo3(signature = (dir, *, policy = None))]
pub(crate) fn verify_evidence<'py>(
    py: Python<'py>,
    dir: PathBuf,
    policy: Option<&PyPolicy>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(|| {
        let trust = or_default(policy).signing.trust(None);
        let proof =
            py.detach(|| incident_core::evidence::verify::<SqliteStore>(&dir, &trust)).map_err(|e| to_py(&e))?;
        to_py_obj(py, &proof)
    })
}

/// The text `incident evidence verify DIR` prints for a bundle that verifies (core's renderer).
#[pyfunction]
#[pyo3(signature = (dir, *, policy = None))]
pub(crate) fn verify_evidence_text(py: Python<'_>, dir: PathBuf, policy: Option<&PyPolicy>) -> PyResult<String> {
    guard(|| {
        let trust = or_default(policy).signing.trust(None);
        let proof =
            py.detach(|| incident_core::evidence::verify::<SqliteStore>(&dir, &trust)).map_err(|e| to_py(&e))?;
        Ok(proof.render())
    })
}
