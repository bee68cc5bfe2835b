//! `incident drills`: the monthly drill schedule and the validation checklist.

use clap::{Args, Subcommand};
use incident_core::drills;
use incident_core::{Error, Result, render};

use crate::backends::{BackendArgs, ProbeArgs};
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
    /// The validation checklist; with --run, every item checked on a platform (`policy.checklist_targets`
    /// says where to look) and the exit status non-zero unless every item passed.
    Checklist(Box<ChecklistArgs>),
}

/// `incident drills checklist`.
#[derive(Debug, Args)]
struct ChecklistArgs {
    /// Check every item on the platform the backend flags select (--sim FILE, --kube/--kubeconfig/--eks,
    /// --aws, --postgres, --redis): services, datastores, authentication, workflows, monitoring, logs,
    /// backups. Exits 4 unless every item passed (a failed or not automated item).
    #[arg(long)]
    run: bool,
    #[command(flatten)]
    probes: ProbeArgs,
    #[command(flatten)]
    backend: BackendArgs,
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
        DrillsCommand::Checklist(c) if !c.run => {
            if c.backend.given() {
                return Err(Error::invalid_input("backend flags check the checklist only with --run"));
            }
            let list = drills::ValidationChecklist::from_policy(&ctx.policy);
            let report = list.report();
            ctx.emit(&report, || report.to_text())
        }
        DrillsCommand::Checklist(c) => {
            let spec = c.probes.add_to(c.backend.spec(None)?)?;
            let rt = c.backend.runtime()?;
            let report = rt.block_on(async {
                let set = spec.open(&ctx.policy).await?;
                Ok::<_, Error>(
                    incident_core::engine::library::run_validation_checklist(set.backends(), &ctx.policy)
                        .await
                        .report(),
                )
            })?;
            ctx.emit(&report, || report.to_text())?;
            if report.all_passed {
                Ok(())
            } else {
                let names = |ids: &[drills::ChecklistId]| ids.iter().map(|i| i.as_str()).collect::<Vec<_>>().join(", ");
                let mut why = Vec::new();
                if !report.failed.is_empty() {
                    why.push(format!("failed: {}", names(&report.failed)));
                }
                if !report.unchecked.is_empty() {
                    why.push(format!("not automated: {}", names(&report.unchecked)));
                }
                Err(Error::precondition(format!("validation checklist did not pass ({})", why.join("; "))))
            }
        }
    }
}
