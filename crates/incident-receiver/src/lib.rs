#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! * [`ReceiverConfig`], [`Auth`], [`SnsConfig`], [`Secret`]: what the receiver needs.
//! * [`Receiver`]: the running receiver (router + writer); [`serve`] runs it on a TCP listener.
//! * [`Metrics`]: the Prometheus exposition of `GET /metrics`.

mod api;
mod config;
mod first_response;
mod http;
mod lease;
mod metrics;
mod server;
mod sns;
mod writer;

use std::future::Future;
use std::sync::Arc;

use incident_core::{Error, Result};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

pub use config::{Auth, ReceiverConfig, Secret, SnsConfig};
pub use first_response::{BackendsSource, FirstResponse};
pub use lease::LeaseConfig;
pub use metrics::Metrics;
pub use writer::GroupResult;

/// A started receiver: the deduplication state rebuilt from the store, the writer running. Serve
/// [`Receiver::router`] (or use [`serve`]), then call [`Receiver::shutdown`].
pub struct Receiver {
    state: Arc<http::AppState>,
    /// The writer and, when configured, the cadence, escalation, post-incident and evidence drivers.
    writer: JoinSet<()>,
    stop: Option<oneshot::Sender<()>>,
    /// Stops each running driver.
    drivers: Vec<oneshot::Sender<()>>,
    /// The drivers' lease keeper (when a driver runs): stopped after the drivers, then it releases.
    keeper: Option<(oneshot::Sender<()>, JoinSet<()>)>,
    open_groups: usize,
    drain: std::time::Duration,
}

/// A condition `GET /readyz` checks on top of the store's reachability (a cache that must be synced
/// before serving, ...).
#[async_trait::async_trait]
pub trait ReadyCheck: Send + Sync {
    /// What is checked (`cache`).
    fn name(&self) -> &str;
    /// `Err` with the reason while not ready.
    ///
    /// # Errors
    /// Why the receiver should not get traffic yet.
    async fn check(&self) -> Result<()>;
}

/// A part of the process whose health the receiver reports beside its own (a cluster's watch cache):
/// its figures are appended to `GET /metrics` and its state is shown under `components` in `GET /healthz`
/// (information only: `/healthz` is the receiver's liveness; a component that must be ready before
/// traffic is also a [`ReadyCheck`]).
pub trait Component: Send + Sync {
    /// Its key under `components` in `/healthz` (`watch_cache`).
    fn name(&self) -> &str;
    /// Lines appended to `/metrics`: the Prometheus text exposition (0.0.4), `# HELP` and `# TYPE` included.
    fn metrics(&self) -> String;
    /// Its state, as JSON.
    fn health(&self) -> serde_json::Value;
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").field("open_groups", &self.open_groups).finish_non_exhaustive()
    }
}

impl Receiver {
    /// Validate `config`, rebuild the group → incident map from the store's open incidents, and start the
    /// writer on the current tokio runtime.
    ///
    /// # Errors
    /// As [`ReceiverConfig::validate`]; the store's errors while reading it.
    pub async fn start(config: ReceiverConfig) -> Result<Self> {
        config.validate()?;
        let metrics = Arc::new(Metrics::default());
        let writer = writer::Writer::load(
            Arc::clone(&config.store),
            config.policy.clone(),
            Arc::clone(&config.clock),
            config.on_call.clone(),
            Arc::clone(&metrics),
            config.notifier.clone(),
            config.first_response.clone(),
        )
        .await?;
        let open_groups = writer.open_groups();
        let (jobs, rx) = mpsc::channel(config.queue_capacity);
        let (stop, stop_rx) = oneshot::channel();
        let mut set = JoinSet::new();
        set.spawn(writer.run(rx, config.max_batch, stop_rx));
        let mut drivers = Vec::new();
        let any_driver = config.evidence.is_some()
            || (config.notifier.is_some()
                && (config.cadence.is_some() || config.escalation.is_some() || config.post_incident.is_some()));
        let lease_config = config
            .lease
            .clone()
            .unwrap_or_else(|| LeaseConfig::new(std::time::Duration::from_secs(15), &*config.clock));
        let (lease, keeper) = if any_driver {
            let (lease, stop, handle) =
                lease::Keeper::spawn(Arc::clone(&config.store), Arc::clone(&config.clock), &lease_config);
            (Some(lease), Some((stop, handle)))
        } else {
            (None, None)
        };
        // The drivers write through the fenced store: no notification key (no send) without the lease.
        let fenced: Arc<dyn incident_core::store::Store> = match &lease {
            Some(l) => Arc::new(lease::FencedStore {
                inner: Arc::clone(&config.store),
                lease: Arc::clone(l),
                clock: Arc::clone(&config.clock),
            }),
            None => Arc::clone(&config.store),
        };
        let gate = lease.clone();
        if let Some(notifier) = &config.notifier {
            let (store, clock, policy) = (&fenced, &config.clock, &config.policy);
            if let Some(options) = &config.cadence {
                let driver = incident_core::cadence::CadenceDriver::new(
                    Arc::clone(store),
                    Arc::clone(clock),
                    Arc::clone(notifier),
                    policy.clone(),
                )
                .with_options(options.clone());
                let driver = Arc::new(driver);
                drivers.push(spawn_driver(
                    &mut set,
                    gate.clone(),
                    Arc::clone(clock),
                    config.cadence_poll,
                    move |now| {
                        let driver = Arc::clone(&driver);
                        async move { log_cadence(driver.tick(now).await) }
                    },
                ));
            }
            if let Some(options) = &config.escalation {
                let driver = incident_core::escalation::EscalationDriver::new(
                    Arc::clone(store),
                    Arc::clone(clock),
                    Arc::clone(notifier),
                    policy.clone(),
                )
                .with_options(options.clone());
                let driver = Arc::new(driver);
                drivers.push(spawn_driver(
                    &mut set,
                    gate.clone(),
                    Arc::clone(clock),
                    config.escalation_poll,
                    move |now| {
                        let driver = Arc::clone(&driver);
                        async move { log_escalation(driver.tick(now).await) }
                    },
                ));
            }
            if let Some(options) = &config.post_incident {
                let driver = incident_core::postincident::PostIncidentDriver::new(
                    Arc::clone(store),
                    Arc::clone(clock),
                    Arc::clone(notifier),
                    policy.clone(),
                )
                .with_options(options.clone());
                let driver = Arc::new(driver);
                drivers.push(spawn_driver(
                    &mut set,
                    gate.clone(),
                    Arc::clone(clock),
                    config.post_incident_poll,
                    move |now| {
                        let driver = Arc::clone(&driver);
                        async move { log_post_incident(driver.tick(now).await) }
                    },
                ));
            }
        }
        if let Some((cluster, options)) = &config.evidence {
            let driver = incident_core::evidence::EvidenceDriver::new(
                Arc::clone(&fenced),
                Arc::clone(cluster),
                Arc::clone(&config.clock),
                config.policy.clone(),
            )
            .with_options(options.clone());
            let driver = Arc::new(driver);
            drivers.push(spawn_driver(
                &mut set,
                gate.clone(),
                Arc::clone(&config.clock),
                config.evidence_poll,
                move |now| {
                    let driver = Arc::clone(&driver);
                    async move { log_evidence(driver.tick(now).await) }
                },
            ));
        }
        let max_body = usize::try_from(config.policy.limits.max_payload_bytes).unwrap_or(usize::MAX);
        let body_timeout = config.policy.receiver.body_timeout.as_std();
        let state = Arc::new(http::AppState {
            sns: sns::SnsVerifier::new(config.sns.clone(), &config.policy.receiver.sns, Arc::clone(&config.clock))?,
            policy: config.policy,
            auth: config.auth,
            max_body,
            body_timeout,
            jobs,
            metrics,
            store: Arc::clone(&config.store),
            clock: Arc::clone(&config.clock),
            ready_checks: config.ready_checks,
            components: config.components,
            lease,
            draining: std::sync::atomic::AtomicBool::new(false),
        });
        Ok(Self { state, writer: set, stop: Some(stop), drivers, keeper, open_groups, drain: config.drain_timeout })
    }

    /// The routes: `POST /webhook/{alertmanager,pagerduty,grafana,cloudwatch,datadog}`, `GET /healthz`,
    /// `GET /metrics`.
    pub fn router(&self) -> axum::Router {
        http::router(Arc::clone(&self.state))
    }

    /// The metrics the routes record.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.state.metrics
    }

    /// The metrics, shared: still readable after [`Receiver::serve`] took the receiver.
    #[must_use]
    pub fn metrics_handle(&self) -> Arc<Metrics> {
        Arc::clone(&self.state.metrics)
    }

    /// Alert groups that had an open incident in the store at start.
    #[must_use]
    pub fn open_groups_at_start(&self) -> usize {
        self.open_groups
    }

    /// Serve on `listener` until `shutdown` completes, finish in-flight requests, then
    /// [`Receiver::shutdown`]. Connections are bounded by the policy's `receiver` section (header,
    /// body and idle timeouts, the connection cap; see the crate README, "On a hostile network"); the
    /// soft file-descriptor limit is raised to the hard one and the cap kept below it.
    ///
    /// # Errors
    /// As [`Receiver::shutdown`]. Accept errors are logged and retried, never fatal.
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let r = &self.state.policy.receiver;
        let nofile = server::raise_nofile_limit();
        let limits = server::Limits {
            header_timeout: r.header_timeout.as_std(),
            idle_timeout: r.idle_timeout.as_std(),
            max_connections: server::connection_cap(usize::try_from(r.max_connections).unwrap_or(usize::MAX), nofile),
            drain: self.drain,
        };
        tracing::info!(
            max_connections = limits.max_connections,
            nofile = nofile.unwrap_or(0),
            header_timeout = %r.header_timeout,
            body_timeout = %r.body_timeout,
            idle_timeout = %r.idle_timeout,
            sns_topics = self.state.sns.topics().len(),
            "receiver: connection limits and SNS allow-list"
        );
        let state = Arc::clone(&self.state);
        let shutdown = async move {
            shutdown.await;
            // Not ready from now on: a load balancer still probing stops sending here.
            state.draining.store(true, std::sync::atomic::Ordering::SeqCst);
            tracing::info!("receiver: shutting down: no new connections, draining requests in progress");
        };
        server::serve(listener, self.router(), limits, Arc::clone(&self.state.metrics), shutdown).await;
        self.shutdown().await
    }

    /// Stop the writer after it has answered every queued request (later requests get `503`).
    ///
    /// # Errors
    /// `Internal` when the writer task panicked.
    pub async fn shutdown(mut self) -> Result<()> {
        self.state.draining.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        for stop in self.drivers.drain(..) {
            let _ = stop.send(());
        }
        let mut failed = None;
        while let Some(r) = self.writer.join_next().await {
            if let Err(e) = r {
                failed.get_or_insert(e);
            }
        }
        // The drivers are stopped: release the lease so another replica takes it at its next renewal.
        if let Some((stop, mut keeper)) = self.keeper.take() {
            let _ = stop.send(());
            while keeper.join_next().await.is_some() {}
        }
        failed.map_or(Ok(()), |e| Err(Error::internal("receiver writer task failed").with_source(e)))
    }

    /// Whether this replica holds the drivers' lease now (always `false` when no driver runs).
    #[must_use]
    pub fn holds_lease(&self) -> bool {
        self.state.lease.as_ref().is_some_and(|l| l.fence(self.state.clock_now()).is_some())
    }
}

/// Start a driver's loop in `set`: one `tick` at the clock's now (never interrupted, so what it sends is
/// recorded) while this replica holds the drivers' lease, then wait `poll` or until stopped. Returns
/// what stops it.
fn spawn_driver<F, Fut>(
    set: &mut JoinSet<()>,
    lease: Option<Arc<lease::LeaseState>>,
    clock: Arc<dyn incident_core::clock::Clock>,
    poll: std::time::Duration,
    tick: F,
) -> oneshot::Sender<()>
where
    F: Fn(chrono::DateTime<chrono::Utc>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, mut stop) = oneshot::channel();
    set.spawn(async move {
        loop {
            let now = clock.now();
            // Only on the lease holder, and only while its grant runs (it ends before the row expires).
            if lease.as_ref().is_none_or(|l| l.fence(now).is_some()) {
                tick(now).await;
            }
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                _ = &mut stop => return,
            }
        }
    });
    tx
}

fn log_cadence(r: Result<incident_core::cadence::CadenceReport>) {
    match r {
        Ok(report) => {
            for a in report.sent.iter().chain(&report.skipped).chain(&report.failed) {
                tracing::info!(incident = %a.incident_id, kind = ?a.kind, reminder = a.reminder, channel = %a.channel, outcome = %a.outcome, "receiver: cadence update");
            }
            for o in &report.overdue {
                tracing::warn!(incident = %o.incident_id, kind = ?o.kind, due_at = %o.due_at, late_by = %o.late_by, "receiver: update overdue");
            }
            for f in &report.errors {
                tracing::warn!(incident = %f.incident_id, kind = %f.kind, error = %f.message, "receiver: cadence failed for an incident");
            }
        }
        Err(e) => tracing::warn!(error = %e, "receiver: cadence tick failed"),
    }
}

fn log_escalation(r: Result<incident_core::escalation::EscalationReport>) {
    match r {
        Ok(report) => {
            for a in &report.sent {
                tracing::info!(incident = %a.incident_id, level = a.level, target = ?a.target, channel = %a.channel, "receiver: escalation page sent");
            }
            for a in report.skipped.iter().chain(&report.failed) {
                tracing::warn!(incident = %a.incident_id, level = a.level, target = ?a.target, channel = %a.channel, outcome = %a.outcome, detail = %a.detail, "receiver: escalation page not delivered");
            }
            for x in &report.exhausted {
                tracing::warn!(incident = %x.incident_id, severity = %x.severity, deadline = %x.deadline, "receiver: escalation exhausted, still unacknowledged");
            }
            for f in &report.errors {
                tracing::warn!(incident = %f.incident_id, kind = %f.kind, error = %f.message, "receiver: escalation failed for an incident");
            }
        }
        Err(e) => tracing::warn!(error = %e, "receiver: escalation tick failed"),
    }
}

fn log_post_incident(r: Result<incident_core::postincident::PostIncidentReport>) {
    match r {
        Ok(report) => {
            for a in &report.reminded {
                if a.outcome == incident_core::timeline::Outcome::Succeeded {
                    tracing::info!(incident = %a.incident_id, task = a.task.as_str(), due = %a.due, "receiver: post-incident task overdue, reminded");
                } else {
                    tracing::warn!(incident = %a.incident_id, task = a.task.as_str(), due = %a.due, outcome = %a.outcome, detail = %a.detail, "receiver: post-incident reminder not delivered");
                }
            }
            for f in &report.errors {
                tracing::warn!(incident = %f.incident_id, kind = %f.kind, error = %f.message, "receiver: post-incident driver failed for an incident");
            }
        }
        Err(e) => tracing::warn!(error = %e, "receiver: post-incident tick failed"),
    }
}

fn log_evidence(r: Result<incident_core::evidence::EvidenceReport>) {
    match r {
        Ok(report) => {
            for c in &report.captured {
                tracing::info!(incident = %c.incident_id, trigger = %c.prefix, items = c.items.len(), failed = c.failed.len(), "receiver: evidence captured");
                for f in &c.failed {
                    tracing::warn!(incident = %c.incident_id, trigger = %c.prefix, what = %f.what, kind = %f.kind, reason = %f.reason, "receiver: evidence partly missing");
                }
            }
            for f in &report.errors {
                tracing::warn!(incident = %f.incident_id, kind = %f.kind, error = %f.message, "receiver: evidence failed for an incident");
            }
        }
        Err(e) => tracing::warn!(error = %e, "receiver: evidence tick failed"),
    }
}

/// Run the receiver on `listener` until `shutdown` completes, then finish in-flight requests (graceful
/// shutdown) and stop the writer.
///
/// # Errors
/// As [`Receiver::start`]; `Unavailable` when the listener fails.
pub async fn serve(
    listener: TcpListener,
    config: ReceiverConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    Receiver::start(config).await?.serve(listener, shutdown).await
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM: the `shutdown` future for [`serve`] in a service.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
