//! `incident run`: execute an approved plan, journaled write-ahead.

use std::path::{Path, PathBuf};

use clap::Args;
use incident_core::engine::{Approval, Plan};
use incident_core::{Error, Result};

use crate::backends::{BackendArgs, executor_owner};
use crate::input::parse_doc;
use crate::keys::signing_key;
use crate::output::{Ctx, emit_run_report};

/// `incident run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The plan file written by `incident plan --out`.
    plan: PathBuf,
    /// Approve as this person (required: execution needs an explicit approval).
    #[arg(long)]
    approve_by: Option<String>,
    /// Confirm production targets.
    #[arg(long)]
    confirm_production: bool,
    /// Journal store: a SQLite file, or `postgres://...` for the team store (also `INCIDENT_STORE`).
    #[arg(long, env = "INCIDENT_STORE", default_value = "incident.sqlite")]
    store: String,
    /// Incident the run belongs to (its timeline records every step).
    #[arg(long)]
    incident: Option<String>,
    /// Require the plan to be signed by this Ed25519 key (PKCS#8 PEM or DER) or by a key of policy
    /// `signing.trusted_keys`; without either, signatures are not required (the digest always is).
    #[arg(long, env = "INCIDENT_SIGNING_KEY", value_name = "FILE")]
    signing_key: Option<PathBuf>,
    /// Refuse unless the plan's digest is this one (the digest `incident plan` showed the approver).
    #[arg(long, value_name = "SHA256")]
    expect_digest: Option<String>,
    #[command(flatten)]
    backend: BackendArgs,
}

/// Read a plan file written by `incident plan --out`: a file that is not JSON/YAML is bad input (exit 2);
/// one that is not a plan exactly as planning writes it (an unknown or missing field) is refused (exit 4).
fn read_plan(path: &Path) -> Result<Plan> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::invalid_input(format!("cannot read {name}: {e}")))?;
    let doc: serde_json::Value = parse_doc(&name, &text)?;
    serde_path_to_error::deserialize(doc).map_err(|e| {
        Error::precondition(format!(
            "{name} is not a plan as `incident plan` wrote it ({}: {}): refused; re-plan",
            e.path(),
            e.inner()
        ))
    })
}

pub(crate) fn run(ctx: &Ctx, a: &RunArgs) -> Result<()> {
    let plan = read_plan(&a.plan)?;
    // Before anything else (and before any backend is opened): the plan is the one planned, signed when
    // signatures are required, and the one the approver saw.
    let key = signing_key(a.signing_key.as_deref())?;
    let trust = ctx.policy.signing.trust(key.as_ref());
    plan.verify(&trust)?;
    if let Some(expected) = &a.expect_digest
        && !expected.trim().eq_ignore_ascii_case(&plan.digest)
    {
        return Err(Error::precondition(format!(
            "plan {} has digest {}, not the approved {expected}: refused",
            plan.run_id, plan.digest
        )));
    }
    let by = a.approve_by.clone().ok_or_else(|| {
        Error::refused(format!("plan {} is not approved: pass --approve-by NAME to execute it", plan.run_id))
    })?;
    incident_core::text::single_line("--approve-by", &by)?;
    let rt = a.backend.runtime()?;
    let set = a.backend.open(ctx, Some(&a.store), &rt)?;
    let exec = set.executor(ctx.policy.clone(), executor_owner()).trusting(trust);
    let mut approval = Approval::new(by, set.now());
    if a.confirm_production {
        approval = approval.confirm_production();
    }
    let approved = plan.approve(approval)?;
    let report = rt.block_on(exec.run(approved, a.incident.clone()))?;
    emit_run_report(ctx, &report)
}
