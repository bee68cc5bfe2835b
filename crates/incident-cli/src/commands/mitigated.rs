//! `incident mitigated ID`: record that user impact stopped (the status is unchanged).

use clap::Args;
use incident_core::Result;

use crate::incidents::{ActorArg, StoreArg, with_incidents};
use crate::output::Ctx;

/// `incident mitigated`.
#[derive(Debug, Args)]
pub(crate) struct MitigatedArgs {
    /// The incident id.
    id: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    store: StoreArg,
}

pub(crate) fn run(ctx: &Ctx, a: &MitigatedArgs) -> Result<()> {
    let actor = a.actor.actor()?;
    let change = with_incidents(ctx, &a.store, None, async |i| i.mitigated(&a.id, &actor).await)?;
    ctx.emit(&change, || incident_core::render::change(&change))
}
