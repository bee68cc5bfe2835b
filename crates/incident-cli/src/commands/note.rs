//! `incident note ID TEXT`: add a note to the timeline.

use clap::Args;
use incident_core::Result;

use crate::incidents::{ActorArg, StoreArg, with_incidents};
use crate::output::Ctx;

/// `incident note`.
#[derive(Debug, Args)]
pub(crate) struct NoteArgs {
    /// The incident id.
    id: String,
    /// The note.
    text: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    store: StoreArg,
}

pub(crate) fn run(ctx: &Ctx, a: &NoteArgs) -> Result<()> {
    let actor = a.actor.actor()?;
    let change = with_incidents(ctx, &a.store, None, async |i| i.note(&a.id, &a.text, &actor).await)?;
    ctx.emit(&change, || incident_core::render::change(&change))
}
