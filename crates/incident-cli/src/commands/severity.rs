//! `incident severity ID P0 --reason TEXT`: raise or lower the severity (the next update and the cadence
//! follow it).

use clap::Args;
use incident_core::Result;

use crate::choices::SeverityArg;
use crate::incidents::{ActorArg, StoreArg, with_incidents};
use crate::output::Ctx;

/// `incident severity`.
#[derive(Debug, Args)]
pub(crate) struct SeverityArgs {
    /// The incident id.
    id: String,
    /// The new severity.
    #[arg(value_enum, ignore_case = true)]
    severity: SeverityArg,
    /// Why (recorded on the timeline).
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    store: StoreArg,
}

pub(crate) fn run(ctx: &Ctx, a: &SeverityArgs) -> Result<()> {
    let actor = a.actor.actor()?;
    let change =
        with_incidents(ctx, &a.store, None, async |i| i.change_severity(&a.id, a.severity.0, &a.reason, &actor).await)?;
    ctx.emit(&change, || incident_core::render::change(&change))
}
