//! `incident ingest <source>`: payload → alerts → facts → severity, and what the receiver would do with
//! each alert group (the same core decision `incident serve` applies).

use std::path::PathBuf;

use clap::Args;
use incident_core::classify::{Classification, Classifier};
use incident_core::ingest::group::{self, Decision};
use incident_core::ingest::{AlertBatch, AlertSource};
use incident_core::{Result, render};
use serde::Serialize;

use crate::choices::AlertSourceArg;
use crate::input::read_input;
use crate::output::Ctx;

/// `incident ingest`.
#[derive(Debug, Args)]
pub(crate) struct IngestArgs {
    /// Payload format.
    #[arg(value_enum)]
    source: AlertSourceArg,
    /// Payload file; stdin when absent or `-`.
    file: Option<PathBuf>,
}

pub(crate) fn run(ctx: &Ctx, a: &IngestArgs) -> Result<()> {
    let (name, text) = read_input(a.file.as_deref(), ctx.policy.limits.max_payload_bytes)?;
    ingest(ctx, a.source.0, &name, text.as_bytes())
}

#[derive(Serialize)]
struct IngestOutput {
    /// Severity over all firing alerts (the worst wins).
    classification: Classification,
    batch: AlertBatch,
    alerts: Vec<Classification>,
    /// Per alert group: what the receiver would do when the group has no open incident.
    groups: Vec<GroupOutput>,
}

#[derive(Serialize)]
struct GroupOutput {
    key: String,
    #[serde(flatten)]
    decision: Decision,
}

fn ingest(ctx: &Ctx, source: AlertSource, name: &str, payload: &[u8]) -> Result<()> {
    let batch = source.parse(payload, &ctx.policy).map_err(|e| e.context(name))?;
    let classifier = Classifier::from_policy(&ctx.policy);
    let classification = classifier.try_classify(&batch.firing_facts())?;
    let alerts = batch.alerts.iter().map(|a| a.classify_with(&classifier)).collect();
    let groups = batch
        .groups()
        .into_iter()
        .map(|g| GroupOutput { decision: group::decide(&g, None, &ctx.policy), key: g.key })
        .collect();
    let out = IngestOutput { classification, batch, alerts, groups };
    ctx.emit(&out, || {
        let groups: Vec<(&str, &Decision)> = out.groups.iter().map(|g| (g.key.as_str(), &g.decision)).collect();
        render::alert_batch(name, &out.batch, &out.alerts, &out.classification, &groups)
    })
}
