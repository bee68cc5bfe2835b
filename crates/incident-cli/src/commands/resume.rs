//! `incident resume`: finish an interrupted run without repeating or skipping a mutation (or retry a
//! stopped compensation).

use std::path::PathBuf;

use clap::Args;
use incident_core::Result;

use crate::backends::{BackendArgs, executor_owner};
use crate::keys::signing_key;
use crate::output::{Ctx, emit_run_report};

/// `incident resume`.
#[derive(Debug, Args)]
pub(crate) struct ResumeArgs {
    /// The run id.
    run_id: String,
    /// The executor that left steps in flight is dead: adopt its identity and take over its claims.
    /// Without it, a step claimed by another live executor is refused.
    #[arg(long)]
    take_over: bool,
    /// Journal store: a SQLite file, or `postgres://...` for the team store (also `INCIDENT_STORE`).
    #[arg(long, env = "INCIDENT_STORE", default_value = "incident.sqlite")]
    store: String,
    /// Require the stored plan to be signed by this Ed25519 key or by a key of policy
    /// `signing.trusted_keys`.
    #[arg(long, env = "INCIDENT_SIGNING_KEY", value_name = "FILE")]
    signing_key: Option<PathBuf>,
    #[command(flatten)]
    backend: BackendArgs,
}

pub(crate) fn run(ctx: &Ctx, a: &ResumeArgs) -> Result<()> {
    let key = signing_key(a.signing_key.as_deref())?;
    let rt = a.backend.runtime()?;
    let set = a.backend.open(ctx, Some(&a.store), &rt)?;
    let mut exec = set.executor(ctx.policy.clone(), executor_owner()).trusting(ctx.policy.signing.trust(key.as_ref()));
    if a.take_over {
        exec = exec.taking_over();
    }
    let report = rt.block_on(exec.resume(&a.run_id))?;
    emit_run_report(ctx, &report)
}
