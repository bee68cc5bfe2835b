//! `incident drills`: the monthly drill schedule and the validation checklist.

use clap::{Args, Subcommand};
use incident_core::drills;
use incident_core::{Error, Result, render};

use crate::clock::time_or_now;
use crate::output::Ctx;

/// `incident drills`.
#[derive(Debug, Args)]
pub(crate) struct DrillsArgs {
    #[command(subcommand)]
    command: DrillsCommand,
}

#[derive(Debug, Subcommand)]
enum DrillsCommand {
    /// The next scheduled drills.
    Next {
        /// How many.
        #[arg(short = 'n', long, default_value_t = 4)]
        count: usize,
        /// From this time (RFC 3339; default: now).
        #[arg(long)]
        from: Option<String>,
    },
    /// The validation checklist.
    Checklist,
}

pub(crate) fn run(ctx: &Ctx, a: &DrillsArgs) -> Result<()> {
    match &a.command {
        DrillsCommand::Next { count, from } => {
            if *count == 0 || *count > 1000 {
                return Err(Error::invalid_input(format!("--count {count}: must be between 1 and 1000")));
            }
            let from = time_or_now(from.as_ref())?;
            let list = drills::next_drills(&ctx.policy.drills, from, *count)?;
            ctx.emit(&list, || render::drill_schedule(&list))
        }
        DrillsCommand::Checklist => {
            let list = drills::ValidationChecklist::from_policy(&ctx.policy);
            let report = list.report();
            ctx.emit(&report, || report.to_text())
        }
    }
}
