//! `incident show ID`: one incident from the store: summary, roles, stakeholders, updates due and
//! overdue, metrics, runs and the timeline.

use clap::Args;
use incident_core::Result;

use crate::incidents::{StoreArg, with_incidents};
use crate::output::Ctx;

/// `incident show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The incident id.
    id: String,
    #[command(flatten)]
    store: StoreArg,
}

pub(crate) fn run(ctx: &Ctx, a: &ShowArgs) -> Result<()> {
    let view = with_incidents(ctx, &a.store, None, async |i| i.show(&a.id).await)?;
    ctx.emit(&view, || incident_core::render::incident_view(&view))
}
