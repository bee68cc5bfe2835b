//! What the commands that work a live incident share (`list`, `show`, `ack`, `assign`, `severity`,
//! `status`, `note`, `mitigated`, `resolve`, `postmortem ID`): the store (`--store` / `INCIDENT_STORE`,
//! the same selection as `incident serve`), the actor (`--as`, default `$USER`), the notifiers
//! (`--notify-config`, as `incident serve`) and the wall clock, wired into `incident_core::lifecycle`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use incident_backends::StoreSpec;
use incident_core::clock::{Clock, SystemClock};
use incident_core::lifecycle::Incidents;
use incident_core::store::Store;
use incident_core::{Error, Result};

use crate::output::Ctx;

/// `--store`.
#[derive(Debug, Args)]
pub(crate) struct StoreArg {
    /// Store: a SQLite file (it must exist), or `postgres://...` for the team store (also
    /// `INCIDENT_STORE`).
    #[arg(long, env = "INCIDENT_STORE", default_value = "incident.sqlite")]
    pub(crate) store: String,
}

/// `--as`.
#[derive(Debug, Args)]
pub(crate) struct ActorArg {
    /// Who acts, as recorded on the timeline (default `$USER`).
    #[arg(long = "as", value_name = "PERSON", env = "USER", hide_env_values = true)]
    actor: Option<String>,
}

impl ActorArg {
    /// The person acting.
    pub(crate) fn actor(&self) -> Result<String> {
        match self.actor.as_deref().map(str::trim) {
            Some(a) if !a.is_empty() => Ok(a.to_owned()),
            _ => Err(Error::invalid_input("who acts? give --as PERSON (or set USER)")),
        }
    }
}

/// `--notify-config`.
#[derive(Debug, Args)]
pub(crate) struct NotifyArg {
    /// Notification providers (Slack, PagerDuty, Statuspage, webhooks), as `incident serve
    /// --notify-config`; the INCIDENT_SLACK_TOKEN, ... variables override it. Without a provider, a
    /// message is recorded `skipped`.
    #[arg(long, value_name = "FILE")]
    pub(crate) notify_config: Option<PathBuf>,
}

/// Open the store `spec` names with the CLI's one selection rule ([`StoreSpec::parse`]), and a line
/// describing it. `create`: a missing SQLite file is created (`incident serve`) rather than refused.
pub(crate) async fn open_store(spec: &str, create: bool) -> Result<(Arc<dyn Store>, String)> {
    let spec = StoreSpec::parse(spec)?;
    if let StoreSpec::Sqlite(path) = &spec
        && !create
        && !path.exists()
    {
        return Err(Error::not_found(format!(
            "store {} does not exist (give --store or INCIDENT_STORE: the file `incident serve` writes, or \
             postgres://...)",
            path.display()
        )));
    }
    spec.open_here().await
}

/// A runtime for one command (real time: the store and the notifiers do real I/O).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::internal("cannot start a runtime").with_source(e))
}

/// The lifecycle over `--store` at the wall clock, sending through the `--notify-config` providers
/// when `notify` is given.
pub(crate) async fn open(ctx: &Ctx, store: &StoreArg, notify: Option<&Path>) -> Result<Incidents> {
    let (store, _) = open_store(&store.store, false).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let incidents = Incidents::new(Arc::clone(&store), Arc::clone(&clock), ctx.policy.clone());
    let source = incident_notify::ConfigSource::from(notify);
    let router = incident_notify::Router::for_store(&source, |k| std::env::var(k).ok(), clock, store)?;
    Ok(incidents.with_notifier(Arc::new(router)))
}

/// Run `f` on the lifecycle over `--store` (with the notifiers of `notify`).
pub(crate) fn with_incidents<T>(
    ctx: &Ctx,
    store: &StoreArg,
    notify: Option<&Path>,
    f: impl AsyncFnOnce(Incidents) -> Result<T>,
) -> Result<T> {
    runtime()?.block_on(async {
        let incidents = open(ctx, store, notify).await?;
        f(incidents).await
    })
}
