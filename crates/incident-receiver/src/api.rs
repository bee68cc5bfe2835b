//! `GET /api/incidents` and `GET /api/incidents/{id}`: the incidents of the store as JSON, for tools and
//! the console. Same authentication as the webhooks (a bearer token, or the HMAC of the empty body).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use incident_core::engine::Plan;
use incident_core::incident::Incident;
use incident_core::timeline::EventKind;
use incident_core::{Error, Result};
use serde_json::{Value, json};

use crate::first_response::{MATCH_ITEM, PREFIX, TRIAGE_ITEM};
use crate::http::{ApiError, Shared, authenticate};

/// A store read that takes longer answers `503`.
const READ_DEADLINE: Duration = Duration::from_secs(10);

async fn bounded<T>(what: &str, f: impl Future<Output = Result<T>>) -> Result<T, ApiError> {
    match tokio::time::timeout(READ_DEADLINE, f).await {
        Ok(r) => r.map_err(|e| ApiError::from_core(&e)),
        Err(_) => Err(ApiError::from_core(&Error::unavailable(format!(
            "store: {what} did not answer within {}s",
            READ_DEADLINE.as_secs()
        )))),
    }
}

/// One line of the list.
fn summary(i: &Incident) -> Value {
    json!({
        "id": i.id,
        "title": i.title,
        "severity": i.severity,
        "status": i.status,
        "commander": i.commander,
        "channel": i.channel,
        "components": i.components,
        "customer_facing": i.customer_facing,
        "declared_at": i.declared_at,
        "acknowledged_at": i.acknowledged_at,
        "mitigated_at": i.mitigated_at,
        "resolved_at": i.resolved_at,
    })
}

/// `GET /api/incidents`: every incident, newest declaration first.
pub(crate) async fn list(State(st): State<Shared>, headers: HeaderMap) -> Response {
    let result: Result<Response, ApiError> = async {
        authenticate(&st.auth, &headers, b"")?;
        let mut incidents = bounded("listing incidents", st.store.incidents()).await?;
        incidents.sort_by(|a, b| b.declared_at.cmp(&a.declared_at).then_with(|| b.id.cmp(&a.id)));
        let list: Vec<Value> = incidents.iter().map(summary).collect();
        Ok(axum::Json(json!({ "incidents": list })).into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /api/incidents/{id}`: the incident, its timeline (each event with its one-line description), its
/// evidence, and the first response's triage, match and proposed plans (with digests).
pub(crate) async fn show(State(st): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let result: Result<Response, ApiError> = async {
        authenticate(&st.auth, &headers, b"")?;
        let Some(incident) = bounded("reading the incident", st.store.incident(&id)).await? else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "not_found",
                format!("no incident {id} in the store"),
            ));
        };
        let timeline = bounded("reading the timeline", st.store.timeline(&id)).await?;
        let evidence = bounded("listing the evidence", st.store.evidence(&id)).await?;
        let item = async |name: &str| -> Result<Option<Vec<u8>>, ApiError> {
            if !evidence.iter().any(|e| e.name == name) {
                return Ok(None);
            }
            Ok(bounded("reading evidence", st.store.evidence_item(&id, name)).await?.map(|i| i.bytes))
        };
        let parse = |bytes: Option<Vec<u8>>| bytes.and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        let triage = parse(item(TRIAGE_ITEM).await?);
        let matched = parse(item(MATCH_ITEM).await?);
        let mut plans = Vec::new();
        for info in evidence.iter().filter(|e| e.name.starts_with(PREFIX) && e.name.ends_with("plan.json")) {
            let Some(bytes) = item(&info.name).await? else { continue };
            let Ok(plan) = serde_json::from_slice::<Plan>(&bytes) else { continue };
            plans.push(proposed(&plan, &info.name, &timeline));
        }
        let events: Vec<Value> = timeline
            .events()
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
                if let Value::Object(m) = &mut v {
                    m.insert("text".into(), Value::String(e.kind.describe()));
                }
                v
            })
            .collect();
        Ok(axum::Json(json!({
            "incident": incident,
            "timeline": events,
            "evidence": evidence,
            "triage": triage,
            "match": matched,
            "proposed_plans": plans,
        }))
        .into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// A proposed plan: its identity and digest, each step's before → after and inverse, whether it was
/// approved since (an `approval_granted` event of its run), and the plan as `incident run` reads it.
fn proposed(plan: &Plan, evidence: &str, timeline: &incident_core::timeline::Timeline) -> Value {
    let approved = timeline
        .events()
        .iter()
        .any(|e| matches!(&e.kind, EventKind::ApprovalGranted { run_id, .. } if *run_id == plan.run_id));
    let steps: Vec<Value> = plan
        .steps
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "stage": s.stage,
                "summary": s.summary,
                "mutating": s.mutating,
                "before": s.before,
                "after": s.after,
                "inverse": s.inverse.as_ref().map(incident_core::engine::Action::describe),
            })
        })
        .collect();
    json!({
        "run_id": plan.run_id,
        "procedure": plan.procedure.name,
        "digest": plan.digest,
        "created_at": plan.created_at,
        "needs_production_confirmation": plan.needs_production_confirmation,
        "status": if approved { "approved" } else { "proposed" },
        "evidence": evidence,
        "steps": steps,
        "plan": plan,
    })
}
