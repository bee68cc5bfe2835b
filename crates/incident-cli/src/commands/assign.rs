//! `incident assign ID --role commander|communications|scribe PERSON`: hand over command, or name the
//! communications lead or the scribe.

use clap::Args;
use incident_core::Result;

use crate::choices::ResponseRoleArg;
use crate::incidents::{ActorArg, StoreArg, with_incidents};
use crate::output::Ctx;

/// `incident assign`.
#[derive(Debug, Args)]
pub(crate) struct AssignArgs {
    /// The incident id.
    id: String,
    /// The role.
    #[arg(long, value_enum, ignore_case = true)]
    role: ResponseRoleArg,
    /// Who takes it.
    person: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    store: StoreArg,
}

pub(crate) fn run(ctx: &Ctx, a: &AssignArgs) -> Result<()> {
    let actor = a.actor.actor()?;
    let change = with_incidents(ctx, &a.store, None, async |i| i.assign(&a.id, a.role.0, &a.person, &actor).await)?;
    ctx.emit(&change, || incident_core::render::change(&change))
}
