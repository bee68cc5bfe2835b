//! `incident update ID [--details TEXT]`: post the runbook's status-update template now (the internal
//! update, and the status-page update when the incident gets those); it counts for the cadence.

use clap::Args;
use incident_core::Result;

use crate::incidents::{ActorArg, NotifyArg, StoreArg, with_incidents};
use crate::output::Ctx;

/// `incident update`.
#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    /// The incident id.
    id: String,
    /// Technical details for the internal update (default: the timeline since the last update).
    #[arg(long)]
    details: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    notify: NotifyArg,
}

pub(crate) fn run(ctx: &Ctx, a: &UpdateArgs) -> Result<()> {
    let actor = a.actor.actor()?;
    let sent = with_incidents(ctx, &a.store, a.notify.notify_config.as_deref(), async |i| {
        i.update(&a.id, a.details.as_deref(), &actor).await
    })?;
    ctx.emit(&sent, || incident_core::render::update_attempts(&a.id, &sent))
}
