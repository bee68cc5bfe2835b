//! `incident status ID identified|monitoring --message TEXT`: move the incident on (resolve with
//! `incident resolve`).

use clap::Args;
use incident_core::Result;

use crate::choices::ManualStatusArg;
use crate::incidents::{ActorArg, StoreArg, with_incidents};
use crate::output::Ctx;

/// `incident status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The incident id.
    id: String,
    /// The new status.
    #[arg(value_enum, ignore_case = true)]
    status: ManualStatusArg,
    /// What is known (kept with the status change on the timeline).
    #[arg(long)]
    message: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    store: StoreArg,
}

pub(crate) fn run(ctx: &Ctx, a: &StatusArgs) -> Result<()> {
    let actor = a.actor.actor()?;
    let change =
        with_incidents(ctx, &a.store, None, async |i| i.set_status(&a.id, a.status.0, &a.message, &actor).await)?;
    ctx.emit(&change, || incident_core::render::change(&change))
}
