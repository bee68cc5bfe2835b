//! `incident plan`: a procedure planned against live state (a dry run: nothing changes).

use std::path::{Path, PathBuf};

use clap::Args;
use incident_core::drill_run as drill;
use incident_core::engine::Plan;
use incident_core::{Error, Result};

use crate::backends::BackendArgs;
use crate::keys::signing_key;
use crate::output::Ctx;
use crate::params::parse_params;

/// `incident plan`.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// Library procedure (traffic-management, application-rollback, database-recovery, region-failure,
    /// database-corruption) or a procedure file (JSON/YAML).
    procedure: String,
    /// Procedure parameter `key=value` (repeatable).
    #[arg(long = "param", short = 'p', value_name = "KEY=VALUE")]
    params: Vec<String>,
    #[command(flatten)]
    backend: BackendArgs,
    /// Write the plan (JSON) here, for `incident run`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Sign the plan with this Ed25519 private key (PKCS#8 PEM or DER, from `incident keygen`), so a
    /// machine trusting its public key (policy `signing.trusted_keys`) runs it.
    #[arg(long, env = "INCIDENT_SIGNING_KEY", value_name = "FILE")]
    signing_key: Option<PathBuf>,
}

pub(crate) fn run(ctx: &Ctx, a: &PlanArgs) -> Result<()> {
    let params = parse_params(&a.params)?;
    let procedure = if Path::new(&a.procedure).exists() {
        if !params.is_empty() {
            return Err(Error::invalid_input("--param applies to library procedures, not procedure files"));
        }
        let text = std::fs::read_to_string(&a.procedure)
            .map_err(|e| Error::invalid_input(format!("cannot read {}: {e}", a.procedure)))?;
        incident_core::engine::Procedure::parse(&text).map_err(|e| e.context(&a.procedure))?
    } else {
        drill::procedure_from_spec(&a.procedure, &params, &ctx.policy)?
    };
    let key = signing_key(a.signing_key.as_deref())?;
    let rt = a.backend.runtime()?;
    let set = a.backend.open(ctx, None, &rt)?;
    let mut plan = rt.block_on(procedure.plan(set.backends(), &ctx.policy))?;
    if let Some(key) = &key {
        plan.sign(key);
    }
    if let Some(out) = &a.out {
        std::fs::write(out, plan_json(&plan)?)
            .map_err(|e| Error::unavailable(format!("cannot write {}: {e}", out.display())))?;
    }
    ctx.emit(&plan, || plan.to_string())
}

/// The plan file `incident run` reads.
fn plan_json(plan: &Plan) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(plan).map_err(|e| Error::internal(format!("cannot serialize: {e}")))
}
