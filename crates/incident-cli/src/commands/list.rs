//! `incident list`: the incidents in the store, newest first.

use clap::Args;
use incident_core::lifecycle::ListFilter;
use incident_core::{HumanDuration, Result};

use crate::choices::SeverityArg;
use crate::incidents::{StoreArg, with_incidents};
use crate::output::Ctx;

/// `incident list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only incidents not resolved.
    #[arg(long)]
    open: bool,
    /// Only incidents of this severity.
    #[arg(long, value_enum, ignore_case = true)]
    severity: Option<SeverityArg>,
    /// Only incidents declared within this long (`24h`, `30m`, `7d`).
    #[arg(long, value_name = "DURATION")]
    since: Option<HumanDuration>,
    #[command(flatten)]
    store: StoreArg,
}

pub(crate) fn run(ctx: &Ctx, a: &ListArgs) -> Result<()> {
    let filter = ListFilter { open: a.open, severity: a.severity.map(|s| s.0), since: a.since };
    let incidents = with_incidents(ctx, &a.store, None, async |i| i.list(&filter).await)?;
    ctx.emit(&incidents, || incident_core::render::incident_list(&incidents))
}
