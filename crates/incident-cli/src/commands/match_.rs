//! `incident match`: which runbook procedure fits (policy `matching`), with its parameters and why; "no
//! rule matched" is an answer too.

use std::path::PathBuf;

use clap::Args;
use incident_core::Result;
use incident_core::alert::AlertStatus;
use incident_core::matching::{Findings, MatchInput, match_procedure};
use incident_core::triage::TriageReport;

use crate::input::{parse_doc, read_input};
use crate::output::Ctx;

/// `incident match`.
#[derive(Debug, Args)]
pub(crate) struct MatchArgs {
    /// The match input (JSON or YAML): `at`, `facts`, `alerts` (labels, annotations), `findings`,
    /// `context`; stdin when absent or `-`.
    file: Option<PathBuf>,
    /// A triage report (`incident triage -o json`) whose findings are added: recent rollouts, crash-looping
    /// pods, configuration changes, failed integrity checks.
    #[arg(long, value_name = "FILE")]
    triage: Option<PathBuf>,
    /// The instant `within` conditions measure from (RFC 3339), when the input has no `at` and no firing
    /// alert with a start; the wall clock otherwise.
    #[arg(long)]
    at: Option<String>,
}

pub(crate) fn run(ctx: &Ctx, a: &MatchArgs) -> Result<()> {
    let max = ctx.policy.limits.max_payload_bytes;
    let (name, text) = read_input(a.file.as_deref(), max)?;
    let mut input: MatchInput = parse_doc(&name, &text)?;
    if let Some(path) = &a.triage {
        let (name, text) = read_input(Some(path), max)?;
        let report: TriageReport = parse_doc(&name, &text)?;
        input.findings.extend(Findings::from_triage(&report));
    }
    let firing_start = input.alerts.iter().any(|x| x.starts_at.is_some() && x.status == AlertStatus::Firing);
    if input.at.is_none() && (a.at.is_some() || !firing_start) {
        input.at = Some(crate::clock::time_or_now(a.at.as_ref())?);
    }
    let m = match_procedure(&ctx.policy, &input).map_err(|e| e.context(&name))?;
    ctx.emit(&m, || m.render())
}
