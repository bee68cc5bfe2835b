//! `incident resolve ID --root-cause TEXT [--resolution TEXT]`: resolve, then send the runbook's final
//! `Status: RESOLVED` message to the incident channel (and the status page when customer-facing).

use clap::Args;
use incident_core::Result;
use incident_core::lifecycle::ResolveRequest;

use crate::incidents::{ActorArg, NotifyArg, StoreArg, with_incidents};
use crate::output::Ctx;

/// `incident resolve`.
#[derive(Debug, Args)]
pub(crate) struct ResolveArgs {
    /// The incident id.
    id: String,
    /// Brief description of the root cause.
    #[arg(long)]
    root_cause: String,
    /// What was done to fix it (default: the message of the last move to `monitoring`).
    #[arg(long)]
    resolution: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    notify: NotifyArg,
}

pub(crate) fn run(ctx: &Ctx, a: &ResolveArgs) -> Result<()> {
    let actor = a.actor.actor()?;
    let req = ResolveRequest { root_cause: a.root_cause.clone(), resolution: a.resolution.clone() };
    let change = with_incidents(ctx, &a.store, a.notify.notify_config.as_deref(), async |i| {
        i.resolve(&a.id, &req, &actor).await
    })?;
    ctx.emit(&change, || incident_core::render::change(&change))
}
