//! `incident ack ID`: acknowledge an incident (an incident already acknowledged is an answer, not an
//! error), then acknowledge every page it sent (PagerDuty stops escalating on its side).

use clap::Args;
use incident_core::Result;

use crate::incidents::{ActorArg, NotifyArg, StoreArg, with_incidents};
use crate::output::Ctx;

/// `incident ack`.
#[derive(Debug, Args)]
pub(crate) struct AckArgs {
    /// The incident id.
    id: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    notify: NotifyArg,
}

pub(crate) fn run(ctx: &Ctx, a: &AckArgs) -> Result<()> {
    let actor = a.actor.actor()?;
    let change =
        with_incidents(ctx, &a.store, a.notify.notify_config.as_deref(), async |i| i.ack(&a.id, &actor).await)?;
    ctx.emit(&change, || incident_core::render::change(&change))
}
