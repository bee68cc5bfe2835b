//! `verifyEvidence`: what `incident evidence verify DIR` proves, from Node. Writing a bundle is
//! `runDrill(scenario, { evidence: DIR })` (as `incident drill --out DIR`). Both call
//! `incident_core::evidence`; nothing is decided here.

use incident_store::SqliteStore;
use napi::Env;
use napi_derive::napi;
use serde_json::Value;

use crate::error::{OrThrow, to_json};
use crate::policy::{Policy, or_default};

fn verify(dir: &str, policy: Option<&Policy>) -> incident_core::Result<incident_core::evidence::Verification> {
    let trust = or_default(policy).signing.trust(None);
    incident_core::evidence::verify::<SqliteStore>(dir, &trust)
}

/// Verify the evidence bundle in `dir` (a drill's `evidence` directory): its files against
/// `manifest.sha256`, the timeline and journal hash chains, the heads `report.json` recorded, and the
/// manifest's signature (required when the policy's `signing.trusted_keys` names a key). Returns what was
/// proved (the wire JSON of `incident -o json evidence verify DIR`); a tampered bundle throws
/// `code: 'integrity'`, the CLI's error kind too.
#[napi(catch_unwind, ts_return_type = "import('../lib/wire').VerificationJson")]
pub fn verify_evidence(env: Env, dir: String, policy: Option<&Policy>) -> napi::Result<Value> {
    verify(&dir, policy).and_then(|proof| to_json(&proof)).or_throw(&env)
}

/// The text `incident evidence verify DIR` prints for a bundle that verifies (core's renderer).
#[napi(catch_unwind)]
pub fn verify_evidence_text(env: Env, dir: String, policy: Option<&Policy>) -> napi::Result<String> {
    verify(&dir, policy).map(|proof| proof.render()).or_throw(&env)
}
