//! The JSON Schemas (schemars, draft 2020-12) of every wire value a `toJSON()` or report method returns.
//! `node/scripts/wire-types.mjs` turns them into the TypeScript interfaces of `lib/wire.d.ts`, so the
//! declared shapes are the Rust types' own; `test/wire.test.mjs` fails when that file is stale. A test
//! hook, not public API.

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
        add::<incident_core::store::RunRecord>(&mut m, "RunRecord")?;
        add::<incident_core::store::JournalEntry>(&mut m, "JournalEntry")?;
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
