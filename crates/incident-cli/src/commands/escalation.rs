//! `incident escalation ID`: where the paging of an incident stands — who was paged, the acknowledgement
//! deadline, the next level and when (runbook severity table; [`incident_core::escalation`]).

use std::sync::Arc;

use clap::Args;
use incident_backends::StoreSpec;
use incident_core::store::Store;
use incident_core::{Error, Result};

use crate::clock::time_or_now;
use crate::output::Ctx;

/// `incident escalation`.
#[derive(Debug, Args)]
pub(crate) struct EscalationArgs {
    /// The incident id.
    id: String,
    /// Store: a SQLite file, or `postgres://...` for the team store (also `INCIDENT_STORE`).
    #[arg(long, env = "INCIDENT_STORE", default_value = "incident.sqlite")]
    store: String,
    /// Evaluate at this time (RFC 3339) instead of now.
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
}

/// Open the store `--store` names (a SQLite file must exist: this command only reads).
async fn open_store(spec: &str) -> Result<Arc<dyn Store>> {
    let spec = StoreSpec::parse(spec)?;
    if let StoreSpec::Sqlite(path) = &spec
        && !path.exists()
    {
        return Err(Error::not_found(format!("store {}: no such file", path.display())));
    }
    Ok(spec.open_here().await?.0)
}

pub(crate) fn run(ctx: &Ctx, a: &EscalationArgs) -> Result<()> {
    let now = time_or_now(a.at.as_ref())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::internal("cannot start a runtime").with_source(e))?;
    let status = rt.block_on(async {
        let store = open_store(&a.store).await?;
        let incident = store.incident(&a.id).await?.ok_or_else(|| incident_core::store::incident_not_found(&a.id))?;
        let timeline = store.timeline(&a.id).await?;
        incident_core::escalation::status(&ctx.policy, &incident, &timeline, now)
    })?;
    ctx.emit(&status, || status.to_text(&ctx.policy, now))
}
