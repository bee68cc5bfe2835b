//! `incident ingest alertmanager|pagerduty`: payload → alerts → facts → severity.

use std::fmt::Write as _;

use incident_core::Result;
use incident_core::classify::{Classification, Classifier, ImpactFacts};
use incident_core::ingest::{self, AlertBatch};
use serde::Serialize;

use crate::domain::Source;
use crate::io::Ctx;

#[derive(Serialize)]
struct IngestOutput {
    /// Severity over all firing alerts (the worst wins).
    classification: Classification,
    batch: AlertBatch,
    alerts: Vec<Classification>,
}

pub(crate) fn run(ctx: &Ctx, source: Source, name: &str, payload: &[u8]) -> Result<()> {
    let batch = match source {
        Source::Alertmanager => ingest::parse_alertmanager(payload, &ctx.policy),
        Source::Pagerduty => ingest::parse_pagerduty(payload, &ctx.policy),
    }
    .map_err(|e| e.context(name))?;
    let classifier = Classifier::from_policy(&ctx.policy);
    let mut facts = ImpactFacts::default();
    for a in batch.firing() {
        if let Some(f) = &a.facts {
            facts.merge(f);
        }
    }
    let classification = classifier.try_classify(&facts)?;
    let alerts = batch.alerts.iter().map(|a| a.classify_with(&classifier)).collect();
    let out = IngestOutput { classification, batch, alerts };
    ctx.emit(&out, || {
        let mut s = format!("{} alert(s) from {name}", out.batch.alerts.len());
        if out.batch.truncated_alerts > 0 {
            let _ = write!(s, " ({} truncated by Alertmanager)", out.batch.truncated_alerts);
        }
        for (a, c) in out.batch.alerts.iter().zip(&out.alerts) {
            let _ = write!(
                s,
                "\n  {:?} {} on {}: {}",
                a.status,
                a.name.as_deref().unwrap_or("(unnamed)"),
                a.service.as_deref().unwrap_or("(unknown service)"),
                c
            );
        }
        let _ = write!(s, "\nOverall: {}", out.classification);
        s
    })
}
