//! Classify an Alertmanager payload and declare an incident from it.
//!
//! `cargo run -p incident-examples --example classify -- crates/incident-core/tests/fixtures/alertmanager/firing-mixed.json`

use incident_core::classify::{Classifier, ImpactFacts};
use incident_core::incident::{DeclareRequest, Incident};
use incident_core::{Policy, Result, ingest};

fn main() -> Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "crates/incident-core/tests/fixtures/alertmanager/firing-mixed.json".into());
    let payload = std::fs::read(&path).map_err(|e| incident_core::Error::invalid_input(format!("{path}: {e}")))?;
    let policy = Policy::default();
    let batch = ingest::parse_alertmanager(&payload, &policy)?;
    let mut facts = ImpactFacts::default();
    for alert in batch.firing() {
        if let Some(f) = &alert.facts {
            facts.merge(f);
        }
    }
    let classification = Classifier::from_policy(&policy).try_classify(&facts)?;
    println!("{classification}");
    let severity = classification.require_severity()?;
    let declared_at = chrono::DateTime::parse_from_rfc3339("2026-11-26T14:05:00Z")
        .map_err(|e| incident_core::Error::invalid_input(e.to_string()))?
        .with_timezone(&chrono::Utc);
    let (incident, _timeline) = Incident::declare(
        DeclareRequest {
            id: "INC-1".into(),
            title: "Alerts firing on the ML platform".into(),
            severity,
            components: batch.firing().filter_map(|a| a.service.clone()).collect(),
            impact: classification.to_string(),
            customer_facing: true,
            customers_affected: true,
            on_call: "alice".into(),
            commander: None,
            started_at: None,
            detected_at: None,
            detection_source: Some("alertmanager".into()),
        },
        &policy,
        declared_at,
    )?;
    println!("{}\n\n{}", incident.channel, incident.ticket());
    for s in incident.stakeholders(&policy) {
        println!("notify {} ({})", s.role.title(), s.reason);
    }
    Ok(())
}
