//! `incident policy`: show, validate or describe the policy.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use incident_core::{Error, Policy, Result};

use crate::output::Ctx;

/// `incident policy`.
#[derive(Debug, Args)]
pub(crate) struct PolicyArgs {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Print the effective policy (defaults + `--policy` overrides). Text output is TOML.
    Show,
    /// Print the policy file's JSON Schema.
    Schema,
    /// Validate a policy file and report the first problem with its field.
    Validate {
        /// The file (TOML, YAML or JSON).
        file: PathBuf,
    },
}

pub(crate) fn run(ctx: &Ctx, a: &PolicyArgs) -> Result<()> {
    match &a.command {
        PolicyCommand::Show => ctx.emit(&ctx.policy, || ctx.policy.to_toml_string().unwrap_or_else(|e| e.to_string())),
        PolicyCommand::Schema => {
            let schema = Policy::json_schema();
            crate::output::out(&serde_json::to_string_pretty(&schema).map_err(|e| Error::internal(e.to_string()))?);
            Ok(())
        }
        PolicyCommand::Validate { file } => {
            Policy::from_path(file)?;
            ctx.emit(&serde_json::json!({"valid": true, "file": file}), || format!("{}: valid", file.display()))
        }
    }
}
