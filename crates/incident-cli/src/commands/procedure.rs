//! `incident procedure`: the runbook's procedures as values (list, show, validate).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use incident_core::drill_run as drill;
use incident_core::{Error, Result, render};

use crate::output::Ctx;
use crate::params::parse_params;

/// `incident procedure`.
#[derive(Debug, Args)]
pub(crate) struct ProcedureArgs {
    #[command(subcommand)]
    command: ProcedureCommand,
}

#[derive(Debug, Subcommand)]
enum ProcedureCommand {
    /// The runbook's library procedures.
    List,
    /// Print a library procedure (text, or `-o json|yaml` to start composing your own).
    Show {
        /// Library procedure name.
        name: String,
        /// Procedure parameter `key=value` (repeatable).
        #[arg(long = "param", short = 'p', value_name = "KEY=VALUE")]
        params: Vec<String>,
    },
    /// Validate a procedure file (JSON or YAML): DAG, step kinds, parameters.
    Validate {
        /// The file.
        file: PathBuf,
    },
}

pub(crate) fn run(ctx: &Ctx, a: &ProcedureArgs) -> Result<()> {
    match &a.command {
        ProcedureCommand::List => {
            let list: Vec<(String, String)> = incident_core::engine::library::NAMES
                .iter()
                .map(|n| {
                    incident_core::engine::library::by_name(n, &ctx.policy).map(|p| ((*n).to_owned(), p.description))
                })
                .collect::<Result<_>>()?;
            ctx.emit(&list, || render::procedure_list(&list))
        }
        ProcedureCommand::Show { name, params } => {
            let p = drill::procedure_from_spec(name, &parse_params(params)?, &ctx.policy)?;
            ctx.emit(&p, || p.to_string())
        }
        ProcedureCommand::Validate { file } => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Error::invalid_input(format!("cannot read {}: {e}", file.display())))?;
            let p = incident_core::engine::Procedure::parse(&text).map_err(|e| e.context(file.display()))?;
            p.validate().map_err(|e| e.context(file.display()))?;
            ctx.emit(&serde_json::json!({"valid": true, "procedure": p.name, "steps": p.steps.len()}), || {
                format!("{}: procedure {} with {} steps is valid", file.display(), p.name, p.steps.len())
            })
        }
    }
}
