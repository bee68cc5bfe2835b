//! `incident serve`: the alert receiver (crate `incident-receiver`) on a TCP address until SIGTERM or
//! Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use incident_backends::{BackendSpec, SimSpec};
use incident_core::{Error, Result};
use incident_receiver::{Auth, FirstResponse, Receiver, ReceiverConfig, Secret, SnsConfig};

use crate::output::Ctx;

/// `incident serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (`127.0.0.1:0` picks a free port; the address is printed on stderr).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Store: a SQLite file, or `postgres://...` for the team store (also `INCIDENT_STORE`).
    #[arg(long, env = "INCIDENT_STORE", default_value = "incident.sqlite")]
    store: String,
    /// File whose first line is a bearer token webhooks must send (`Authorization: Bearer ...`);
    /// repeat to accept several.
    #[arg(long, value_name = "FILE")]
    token_file: Vec<PathBuf>,
    /// File whose first line is an HMAC-SHA256 key: a request may instead sign its body in --hmac-header.
    #[arg(long, value_name = "FILE")]
    hmac_key_file: Option<PathBuf>,
    /// Header carrying the HMAC signature (`sha256=<hex>` or `<hex>`).
    #[arg(long, default_value = Auth::DEFAULT_HMAC_HEADER)]
    hmac_header: String,
    /// Incident commander of declared incidents until someone takes over.
    #[arg(long, default_value = "on-call")]
    on_call: String,
    /// Accept SNS deliveries (and confirm the subscription) from this topic ARN; repeatable, adds to the
    /// policy's `receiver.sns.topics`. With none, every SNS delivery is refused (closed by default).
    #[arg(long, value_name = "ARN")]
    sns_topic: Vec<String>,
    /// Refuse SNS messages older than this as replays (policy `receiver.sns.max_age`, default 1h).
    #[arg(long, value_name = "DURATION")]
    sns_max_age: Option<incident_core::HumanDuration>,
    /// Close a connection whose request head has not arrived within this (policy
    /// `receiver.header_timeout`, default 10s).
    #[arg(long, value_name = "DURATION")]
    header_timeout: Option<incident_core::HumanDuration>,
    /// Answer 408 and close when a request body has not arrived within this (policy
    /// `receiver.body_timeout`, default 30s).
    #[arg(long, value_name = "DURATION")]
    body_timeout: Option<incident_core::HumanDuration>,
    /// Close a keep-alive connection idle longer than this (policy `receiver.idle_timeout`, default 1m).
    #[arg(long, value_name = "DURATION")]
    idle_timeout: Option<incident_core::HumanDuration>,
    /// Most connections open at once; at the cap the longest-idle one is closed for a new one (policy
    /// `receiver.max_connections`, default 512; kept below the file-descriptor limit).
    #[arg(long, value_name = "N")]
    max_connections: Option<u32>,
    /// Do not confirm SNS subscriptions automatically (answer 202 and log; confirm by hand).
    #[arg(long)]
    sns_manual_confirm: bool,
    /// Tests only: also fetch SNS certificates and subscribe URLs from this `host:port` (plain HTTP).
    #[arg(long, hide = true, value_name = "HOST:PORT")]
    sns_test_host: Vec<String>,
    /// Serve a non-loopback address without authentication.
    #[arg(long)]
    allow_unauthenticated: bool,
    /// Notification providers (Slack, PagerDuty, Statuspage, webhooks; TOML or JSON secrets file, see
    /// incident-notify); the INCIDENT_SLACK_TOKEN, INCIDENT_PAGERDUTY_ROUTING_KEY, ... variables override
    /// it. A declared incident's channel message, ticket and pages go out through them, each recorded on
    /// the timeline; a provider that is not configured records a `skipped` notification.
    #[arg(long, value_name = "FILE")]
    notify_config: Option<PathBuf>,
    /// The cadence driver for open incidents: `send` due updates (and the first status-page update),
    /// `remind` the channel that they are due, `report` overdue ones in the log only, or `off`.
    #[arg(long, value_name = "MODE", value_enum, default_value_t = Cadence::Send)]
    cadence: Cadence,
    /// How often the cadence driver looks at open incidents.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    cadence_every: incident_core::HumanDuration,
    /// Do not run the escalation driver (by default it pages business-hours severities at the next
    /// business instant and escalates along the policy's chain when the response time passes
    /// unacknowledged; `incident escalation ID` shows where an incident stands).
    #[arg(long)]
    no_escalation: bool,
    /// How often the escalation driver looks at open incidents.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    escalation_every: incident_core::HumanDuration,
    /// Do not run the post-incident driver (by default it reminds the incident channel, once per task,
    /// of each post-incident task still open past the policy's `post_incident.within`, 24h, after
    /// resolution: ticket, post-mortem meeting, timeline and metrics, evidence, post-mortem).
    #[arg(long)]
    no_post_incident: bool,
    /// How often the post-incident driver looks at resolved incidents.
    #[arg(long, value_name = "DURATION", default_value = "1m")]
    post_incident_every: incident_core::HumanDuration,
    /// The cluster the evidence driver reads: with one, every declaration and status change (from here,
    /// the CLI, Python or Node) gets its evidence captured into the store (triage, warning events, log
    /// lines of the incident's components); without, evidence is off.
    #[command(flatten)]
    cluster: crate::backends::ClusterArgs,
    /// Simulated platform state file (created from --scenario when missing; see `incident drill`,
    /// `incident triage --sim`): the first response triages and plans against it instead of a cluster.
    /// Each response reads a fresh copy (it sees what an approved plan changed) and never writes it.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["kube", "kubeconfig", "kube_context", "eks"])]
    sim: Option<PathBuf>,
    /// Scenario the --sim state file is created from.
    #[arg(long, default_value = "bad-deploy", requires = "sim")]
    scenario: String,
    /// Do not run the first response (by default, with --sim or a cluster, each incident this receiver
    /// declares is triaged, matched to a runbook procedure, planned as a dry run, and the plan posted to
    /// its channel with the command that approves it).
    #[arg(long)]
    no_first_response: bool,
    /// Triage, match and plan of the first response must finish within this.
    #[arg(long, value_name = "DURATION", default_value = "20s")]
    first_response_deadline: incident_core::HumanDuration,
    /// Namespace of the critical services, for the first response's triage.
    #[arg(long, value_name = "NAMESPACE", default_value = "ml-platform")]
    triage_namespace: String,
    /// A local git repository whose commits name the suspected change (`git log --since`).
    #[arg(long, value_name = "DIR")]
    git_repo: Option<PathBuf>,
    /// Read the cluster by LIST at each use. By default serve follows it with a watch cache (pods, nodes,
    /// events, deployments, ReplicaSets, services, EndpointSlices), so triage reads memory; its health is in
    /// /metrics and /healthz, and /readyz waits for its sync (2 minutes at most: then triage LISTs until it
    /// syncs). EKS contexts are always read by LIST.
    #[arg(long)]
    no_watch_cache: bool,
    /// Namespace of components named without one, for the evidence capture.
    #[arg(long = "evidence-namespace", value_name = "NAMESPACE", default_value = "ml-platform")]
    evidence_namespace: String,
    /// How often the evidence driver looks for declarations and status changes without evidence.
    #[arg(long, value_name = "DURATION", default_value = "15s")]
    evidence_every: incident_core::HumanDuration,
    /// The drivers' lease on a shared (PostgreSQL) store: replicas run the cadence, escalation,
    /// post-incident and evidence drivers one at a time; a grant lasts this long, renewed every third
    /// of it, and the drivers stop a fifth of it before it expires.
    #[arg(long, value_name = "DURATION", default_value = "15s")]
    lease_ttl: incident_core::HumanDuration,
    /// This replica's name in the lease (default: $HOSTNAME, the process id and a nonce).
    #[arg(long, value_name = "NAME")]
    replica_id: Option<String>,
    /// On SIGTERM, requests in progress get this long to finish.
    #[arg(long, value_name = "DURATION", default_value = "20s")]
    drain_timeout: incident_core::HumanDuration,
}

/// `--cadence`: what the cadence driver does with due updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Cadence {
    /// Send due updates (and the first status-page update).
    Send,
    /// Remind the channel that updates are due.
    Remind,
    /// Report overdue updates in the log only.
    Report,
    /// No cadence driver.
    Off,
}

impl Cadence {
    /// The cadence driver's options (`None` for `off`).
    fn options(self) -> Option<incident_core::cadence::CadenceOptions> {
        use incident_core::cadence::{CadenceMode, CadenceOptions};
        let mode = match self {
            Self::Send => CadenceMode::Send,
            Self::Remind => CadenceMode::Remind,
            Self::Report => CadenceMode::ReportOnly,
            Self::Off => return None,
        };
        Some(CadenceOptions {
            actor: "incident-serve".into(),
            internal: mode,
            status_page: mode,
            ..CadenceOptions::default()
        })
    }

    /// The flag's value, as the startup line shows it.
    fn name(self) -> String {
        self.to_possible_value().map(|v| v.get_name().to_owned()).unwrap_or_default()
    }
}

fn auth(a: &ServeArgs) -> Result<Auth> {
    let mut auth = Auth::none();
    for f in &a.token_file {
        auth.bearer_tokens.push(Secret::from_file(f)?);
    }
    if let Some(f) = &a.hmac_key_file {
        auth.hmac_key = Some(Secret::from_file(f)?);
    }
    auth.hmac_header.clone_from(&a.hmac_header);
    Ok(auth)
}

/// The policy with the `receiver` section overridden by the flags.
fn receiver_policy(ctx: &Ctx, a: &ServeArgs) -> incident_core::Policy {
    let mut policy = ctx.policy.clone();
    let r = &mut policy.receiver;
    r.header_timeout = a.header_timeout.unwrap_or(r.header_timeout);
    r.body_timeout = a.body_timeout.unwrap_or(r.body_timeout);
    r.idle_timeout = a.idle_timeout.unwrap_or(r.idle_timeout);
    r.max_connections = a.max_connections.unwrap_or(r.max_connections);
    r.sns.max_age = a.sns_max_age.unwrap_or(r.sns.max_age);
    policy
}

pub(crate) fn run(ctx: &Ctx, a: &ServeArgs) -> Result<()> {
    let auth = auth(a)?;
    if !auth.is_enabled() && !a.listen.ip().is_loopback() && !a.allow_unauthenticated {
        return Err(Error::refused(format!(
            "refusing to serve {} without authentication: give --token-file or --hmac-key-file (or \
             --allow-unauthenticated)",
            a.listen
        )));
    }
    // The receiver, the notifiers and the cadence driver log through `tracing`: one line per event on
    // stderr (notification outcomes, overdue updates, store trouble). Never a secret: they scrub them.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .with_target(false)
        // Colour only for a person at a terminal: a log file or a collector gets plain `key=value`.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::internal("cannot start a runtime").with_source(e))?;
    rt.block_on(async {
        let (store, desc) = crate::incidents::open_store(&a.store, true).await?;
        let policy = receiver_policy(ctx, a);
        let mut topics = policy.receiver.sns.topics.clone();
        topics.extend(a.sns_topic.iter().filter(|t| !policy.receiver.sns.topics.contains(t)).cloned());
        let sns = if topics.is_empty() { "sns closed".to_owned() } else { format!("sns {} topic(s)", topics.len()) };
        let mut config = ReceiverConfig::new(store).policy(policy).auth(auth).sns(SnsConfig {
            topic_arns: a.sns_topic.clone(),
            confirm_subscriptions: !a.sns_manual_confirm,
            test_hosts: a.sns_test_host.clone(),
        });
        config.on_call.clone_from(&a.on_call);
        let mut lease = incident_receiver::LeaseConfig::new(a.lease_ttl.as_std(), &*config.clock);
        if let Some(id) = &a.replica_id {
            lease.holder.clone_from(id);
        }
        config = config.lease(lease);
        config.drain_timeout = a.drain_timeout.as_std();
        let router = incident_notify::Router::for_store(
            &incident_notify::ConfigSource::from(a.notify_config.as_deref()),
            |k| std::env::var(k).ok(),
            Arc::clone(&config.clock),
            Arc::clone(&config.store),
        )?;
        let providers = router.providers();
        config = config.notifier(Arc::new(router));
        if let Some(options) = a.cadence.options() {
            config = config.cadence(options, a.cadence_every.as_std());
        }
        if !a.no_escalation {
            let options = incident_core::escalation::EscalationOptions::default();
            config = config.escalation(options, a.escalation_every.as_std());
        }
        if !a.no_post_incident {
            let options = incident_core::postincident::PostIncidentOptions::default();
            config = config.post_incident(options, a.post_incident_every.as_std());
        }
        // Kept alive while serving: it owns the network runtime of the cluster client.
        let cluster = a.cluster.open(&config.policy).await?;
        let cluster = crate::watch_cache::attach(cluster, a.no_watch_cache, &mut config).await;
        let evidence = cluster.is_some();
        if let Some((_, cluster)) = &cluster {
            let mut options = incident_core::evidence::EvidenceOptions::from_policy(&config.policy);
            options.capture.namespace.clone_from(&a.evidence_namespace);
            config = config.evidence(Arc::clone(cluster), options, a.evidence_every.as_std());
        }
        // The simulator: each first response reads a fresh copy of the state file (so it sees what an
        // approved plan changed meanwhile) and never writes the file itself (reads move its clock).
        let sim = match &a.sim {
            Some(path) => Some(SimCopies::new(path, &a.scenario, &config.policy).await?),
            None => None,
        };
        let first_response = if a.no_first_response {
            "off"
        } else if let Some(copies) = &sim {
            let copies = Arc::clone(copies);
            let first = FirstResponse::from_source(Arc::new(move || copies.backends()));
            let first = first_response(a, first, &sim_flags(a), &config.policy);
            config = config.first_response(first);
            "on (sim)"
        } else if let Some((set, _)) = &cluster {
            let first = FirstResponse::new(set.backends().clone());
            let first = first_response(a, first, &a.cluster.flags(), &config.policy);
            config = config.first_response(first);
            "on"
        } else {
            "off"
        };
        let receiver = Receiver::start(config).await?;
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .map_err(|e| Error::unavailable(format!("cannot listen on {}: {e}", a.listen)))?;
        let local = listener.local_addr().map_err(|e| Error::unavailable(format!("listener: {e}")))?;
        eprintln!(
            "incident serve: listening on http://{local} ({desc}; {} open alert group(s); auth {}; notify {}; \
             cadence {}; escalation {}; post-incident {}; evidence {}; first response {first_response}; {sns})",
            receiver.open_groups_at_start(),
            if a.token_file.is_empty() && a.hmac_key_file.is_none() { "off" } else { "on" },
            if providers.is_empty() { "none configured".to_owned() } else { providers.join(", ") },
            a.cadence.name(),
            if a.no_escalation { "off" } else { "on" },
            if a.no_post_incident { "off" } else { "on" },
            if evidence { "on" } else { "off" }
        );
        receiver.serve(listener, incident_receiver::shutdown_signal()).await?;
        drop(cluster);
        if let Some(copies) = sim {
            copies.remove();
        }
        eprintln!("incident serve: stopped");
        Ok(())
    })
}

/// `--store X` as the approve command gives it: a SQLite path as is; a PostgreSQL URL never (it may hold
/// a password), the command reads `$INCIDENT_STORE` instead.
fn store_flag(store: &str) -> String {
    if store.starts_with("postgres://") || store.starts_with("postgresql://") {
        "--store \"$INCIDENT_STORE\"".to_owned()
    } else {
        format!("--store {}", crate::output::shell_word(store))
    }
}

/// `--sim FILE` as `incident run` takes it.
fn sim_flags(a: &ServeArgs) -> String {
    a.sim.as_ref().map(|p| format!("--sim {}", crate::output::shell_word(&p.display().to_string()))).unwrap_or_default()
}

/// `first` with the flags' triage options, deadline and approve-command flags.
fn first_response(
    a: &ServeArgs,
    mut first: FirstResponse,
    flags: &str,
    policy: &incident_core::Policy,
) -> FirstResponse {
    first = first.deadline(a.first_response_deadline.as_std()).cli_flags(format!(
        "{}{}{flags}",
        store_flag(&a.store),
        if flags.is_empty() { "" } else { " " }
    ));
    first.triage.namespace.clone_from(&a.triage_namespace);
    first.triage.git_repo.clone_from(&a.git_repo);
    first.triage.max_concurrency = policy.limits.max_concurrency as usize;
    first
}

/// Copies of the `--sim` state file, one per first response, in a directory of this process (the newest
/// few are kept; removed at exit).
struct SimCopies {
    state: PathBuf,
    dir: PathBuf,
    next: std::sync::atomic::AtomicU64,
}

/// Copies kept at once (a response still reading an older one recreates it when it persists).
const SIM_COPIES: u64 = 8;

impl SimCopies {
    /// Create the state file from `scenario` when missing (as `incident triage --sim` does), and the
    /// directory of the copies.
    async fn new(state: &std::path::Path, scenario: &str, policy: &incident_core::Policy) -> Result<Arc<Self>> {
        drop(BackendSpec::new().with_sim(SimSpec::file(state, scenario)).open(policy).await?);
        let dir = std::env::temp_dir().join(format!("incident-serve-sim-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::unavailable(format!("cannot create {}: {e}", dir.display())))?;
        Ok(Arc::new(Self { state: state.to_path_buf(), dir, next: std::sync::atomic::AtomicU64::new(0) }))
    }

    /// The backends of a fresh copy of the state, on a clock that jumps (a real-time runtime).
    fn backends(&self) -> Result<incident_core::backend::Backends> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(old) = n.checked_sub(SIM_COPIES) {
            let _ = std::fs::remove_file(self.dir.join(format!("{old}.json")));
        }
        let copy = self.dir.join(format!("{n}.json"));
        std::fs::copy(&self.state, &copy).map_err(|e| {
            Error::unavailable(format!("cannot copy the sim state {} to {}: {e}", self.state.display(), copy.display()))
        })?;
        let platform = incident_core::sim::SimPlatform::open(&copy)?;
        platform.set_time_mode(incident_core::sim::TimeMode::Jump);
        Ok(platform.backends())
    }

    fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
