//! The JSON Schemas (schemars, draft 2020-12) of every wire value a `toJSON()` or report method returns.
//! `node/scripts/wire-types.mjs` turns them into the TypeScript interfaces of `lib/wire.d.ts`, so the
//! declared shapes are the Rust types' own; `test/wire.test.mjs` fails when that file is stale. A test
//! hook, not public API.

use chrono::{DateTime, Utc};
use incident_core::store::{JournalPhase, RunStatus};
use napi::Env;
use napi_derive::napi;
use schemars::JsonSchema;
use serde_json::{Map, Value};

use crate::error::OrThrow;

fn add<T: JsonSchema>(m: &mut Map<String, Value>, name: &str) -> incident_core::Result<()> {
    let schema = serde_json::to_value(schemars::schema_for!(T))
        .map_err(|e| incident_core::Error::internal(format!("schema of {name}: {e}")))?;
    m.insert(name.to_owned(), schema);
    Ok(())
}

/// `{ TypeName: JSON Schema }` of every wire type the package returns (see `lib/wire.d.ts`).
#[napi(js_name = "_wireSchemas", catch_unwind, ts_return_type = "Record<string, Record<string, unknown>>")]
pub fn wire_schemas(env: Env) -> napi::Result<Value> {
    use incident_core::{backend, drill, drills, engine, incident, lifecycle, postmortem, sim, timeline, triage};
    let mut m = Map::new();
    let all = (|| {
        add::<engine::Plan>(&mut m, "Plan")?;
        add::<engine::ApprovedPlan>(&mut m, "ApprovedPlan")?;
        add::<engine::Procedure>(&mut m, "Procedure")?;
        add::<engine::RunReport>(&mut m, "RunReport")?;
        add::<incident::Incident>(&mut m, "Incident")?;
        add::<timeline::Timeline>(&mut m, "Timeline")?;
        add::<lifecycle::Change>(&mut m, "Change")?;
        add::<lifecycle::IncidentView>(&mut m, "IncidentView")?;
        add::<incident_core::cadence::UpdateAttempt>(&mut m, "UpdateAttempt")?;
        add::<postmortem::PostMortem>(&mut m, "PostMortem")?;
        add::<incident_core::store::EvidenceInfo>(&mut m, "EvidenceInfo")?;
        add::<lifecycle::Preserved>(&mut m, "Preserved")?;
        add::<lifecycle::RecordedPostMortem>(&mut m, "RecordedPostMortem")?;
        add::<RunRecord>(&mut m, "RunRecord")?;
        add::<JournalEntry>(&mut m, "JournalEntry")?;
        add::<triage::TriageReport>(&mut m, "TriageReport")?;
        add::<drill::DrillReport>(&mut m, "DrillReport")?;
        add::<drill::StageResult>(&mut m, "StageResult")?;
        add::<drill::DrillEvent>(&mut m, "DrillEvent")?;
        add::<sim::ExpectationOutcome>(&mut m, "ExpectationOutcome")?;
        add::<sim::SimOp>(&mut m, "SimOp")?;
        add::<backend::Notification>(&mut m, "Notification")?;
        add::<drills::ValidationReport>(&mut m, "ValidationReport")?;
        add::<incident_core::Policy>(&mut m, "Policy")?;
        add::<incident_core::evidence::Verification>(&mut m, "Verification")?;
        add::<incident_core::policy::PolicyFormat>(&mut m, "PolicyFormat")?;
        // `ErrorCode` in lib/index.d.ts is this type: the codes are core's `ErrorKind::ALL`.
        add::<incident_core::ErrorKind>(&mut m, "ErrorKind")?;
        Ok::<_, incident_core::Error>(())
    })();
    all.or_throw(&env)?;
    Ok(Value::Object(m))
}

// `incident_core::store::RunRecord` and `JournalEntry` serialize (serde) but have no JSON Schema: these
// mirror their wire shape for the declarations only (`Incidents.runs` / `run` / `journal` return the core
// values' own JSON). The test below fails when a field is added, removed or renamed in core.

/// A procedure run as stored.
#[derive(JsonSchema)]
#[allow(dead_code)] // a schema only
struct RunRecord {
    /// Run id.
    run_id: String,
    /// Incident the run belongs to, if any.
    incident_id: Option<String>,
    /// Procedure name.
    procedure: String,
    /// The plan.
    plan: incident_core::engine::Plan,
    /// The approval, once approved.
    approval: Option<incident_core::engine::Approval>,
    /// Status.
    status: RunStatus,
    /// Created.
    created_at: DateTime<Utc>,
    /// Last update.
    updated_at: DateTime<Utc>,
}

/// A stored, hash-chained journal entry of a run.
#[derive(JsonSchema)]
#[allow(dead_code)] // a schema only
struct JournalEntry {
    /// Position in the run's journal, from 0.
    seq: u64,
    /// Run id.
    run_id: String,
    /// Step id.
    step_id: String,
    /// `intent` (written before any backend call) or `outcome` (after).
    phase: JournalPhase,
    /// Attempt number (1-based).
    attempt: u32,
    /// Executor identity that wrote it.
    owner: String,
    /// When.
    at: DateTime<Utc>,
    /// Free-form detail (outcome, error, reconciled, compensated, ...).
    detail: Value,
    /// Hash of the previous entry (64 zeros for the first).
    prev_hash: String,
    /// SHA-256 over this entry and `prev_hash`.
    hash: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use incident_core::store::{JournalDraft, JournalEntry as CoreEntry, RunRecord as CoreRun};

    /// The property names of `T`'s schema.
    fn properties<T: JsonSchema>() -> Vec<String> {
        let schema = serde_json::to_value(schemars::schema_for!(T)).expect("schema");
        let mut keys: Vec<String> = schema["properties"].as_object().expect("properties").keys().cloned().collect();
        keys.sort();
        keys
    }

    fn keys(v: &Value) -> Vec<String> {
        let mut keys: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        keys.sort();
        keys
    }

    #[test]
    fn mirrors_match_the_core_wire_shapes() {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let run = CoreRun {
            run_id: "r".into(),
            incident_id: Some("INC-1".into()),
            procedure: "p".into(),
            plan: Value::Null,
            approval: Some(Value::Null),
            status: RunStatus::Planned,
            created_at: at,
            updated_at: at,
        };
        assert_eq!(keys(&serde_json::to_value(&run).expect("json")), properties::<RunRecord>());
        let draft = JournalDraft {
            run_id: "r".into(),
            step_id: "s".into(),
            phase: JournalPhase::Intent,
            attempt: 1,
            owner: "o".into(),
            at,
            detail: Value::Null,
        };
        let entry = CoreEntry::new(0, draft, "0".repeat(64));
        assert_eq!(keys(&serde_json::to_value(&entry).expect("json")), properties::<JournalEntry>());
    }
}
