//! Triage: the runbook's "Initial Assessment", "Initial Triage", "Examine Recent Changes", "Analyze Logs"
//! and "Database Health Check" as one concurrent call returning a typed [`TriageReport`].
//!
//! Works on any [`Cluster`] (the simulator, the kube-rs adapter) and any [`DatastoreProbe`]. When a call
//! fails (API degraded, RBAC denied, deadline passed) the report is **partial**: the section is empty and
//! [`TriageReport::missing`] says what is missing and why — triage must still help while the cluster is on
//! fire.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::backend::{
    Cluster, ClusterEvent, DataSource, DatastoreProbe, Deployment, Node, Pod, ProbeReport, Revision, ServerHealth,
    Usage,
};
use crate::{Error, Result};

/// What to triage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TriageOptions {
    /// Namespace of the critical services (runbook: `ml-platform`).
    pub namespace: String,
    /// Deployments whose logs are scanned for errors (all deployments of `namespace` when empty). An entry
    /// is `name` (in `namespace`) or `namespace/name`, like `kubectl logs deployment/coredns -n kube-system`.
    pub log_deployments: Vec<String>,
    /// Pods whose logs are scanned, by label selector: `key=value[,key=value]` (in `namespace`) or
    /// `namespace/key=value[,...]`, like `kubectl logs -l app=api`.
    pub log_selectors: Vec<String>,
    /// Report recent changes since this instant (runbook "Examine Recent Changes"): rollouts and warning
    /// events since then, and commits of `git_repo` (`git log --since`).
    pub since: Option<DateTime<Utc>>,
    /// A local git repository whose commits since `since` are listed.
    pub git_repo: Option<std::path::PathBuf>,
    /// Log lines read per pod (`--tail`).
    pub log_tail: u32,
    /// Case-insensitive substrings counted as errors (runbook: `grep -i error`).
    pub error_patterns: Vec<String>,
    /// How many recent events to keep (runbook: `tail -20`).
    pub recent_events: usize,
    /// How many top pods/nodes by memory to keep.
    pub top: usize,
    /// Deadline of each backend call.
    pub call_deadline: Duration,
    /// Pods whose logs are read concurrently at most.
    pub max_concurrency: usize,
}

impl Default for TriageOptions {
    fn default() -> Self {
        Self {
            namespace: "ml-platform".into(),
            log_deployments: Vec::new(),
            log_selectors: Vec::new(),
            since: None,
            git_repo: None,
            log_tail: 100,
            error_patterns: vec!["error".into()],
            recent_events: 20,
            top: 10,
            call_deadline: Duration::from_secs(10),
            max_concurrency: 16,
        }
    }
}

impl TriageOptions {
    /// Check the options a caller gave (every front end's triage goes through it before reading anything).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when `namespace` is blank.
    pub fn validate(&self) -> Result<()> {
        crate::text::non_blank("namespace", &self.namespace).map(drop)
    }
}

/// A deployment that is not fully available.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeploymentHealth {
    /// The deployment.
    pub deployment: Deployment,
    /// `replicas - available_replicas`.
    pub unavailable: u32,
    /// Rollout history, oldest first.
    pub history: Vec<Revision>,
}

/// Error lines found in a deployment's (or a selector's) pods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LogScan {
    /// What was scanned: `namespace/deployment` or `namespace/selector`.
    pub deployment: String,
    /// Pods read.
    pub pods: usize,
    /// Lines read.
    pub lines: usize,
    /// Lines matching an error pattern.
    pub error_lines: usize,
    /// Up to five sample lines.
    pub samples: Vec<String>,
}

/// A deployment revision created since [`TriageOptions::since`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Rollout {
    /// `namespace/name` of the deployment.
    pub deployment: String,
    /// The revision.
    pub revision: Revision,
}

/// A commit of the configured repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Commit {
    /// Abbreviated hash.
    pub id: String,
    /// Author name.
    pub author: String,
    /// Author date.
    pub at: DateTime<Utc>,
    /// Subject line.
    pub subject: String,
}

/// The runbook's "Examine Recent Changes".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RecentChanges {
    /// Since when.
    pub since: DateTime<Utc>,
    /// Deployment revisions created since then, oldest first.
    pub rollouts: Vec<Rollout>,
    /// Warning events last seen since then.
    pub warning_events: usize,
    /// Commits since then, newest first (`git log --since`).
    pub commits: Vec<Commit>,
}

/// A part of the report that could not be produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Missing {
    /// Section name.
    pub section: String,
    /// Why (the backend's error, one line, secrets never included).
    pub reason: String,
    /// Error kind.
    pub kind: crate::ErrorKind,
}

/// How much of the cluster triage read: an empty "pods not running" means something only next to
/// "50,000 pods checked".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Scanned {
    /// Pods read, all namespaces (0 when the pod list is missing).
    pub pods: usize,
    /// Nodes read.
    pub nodes: usize,
    /// Events read, all namespaces.
    pub events: usize,
}

/// The triage report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TriageReport {
    /// Context triaged.
    pub context: String,
    /// When.
    pub at: DateTime<Utc>,
    /// API server health; `None` when it did not answer (see `missing`).
    pub api_server: Option<ServerHealth>,
    /// How many pods, nodes and events were read.
    #[serde(default)]
    pub scanned: Scanned,
    /// Where the cluster was read: `list` (the apiserver, at triage time) or `cache` (the watch cache).
    #[serde(default)]
    pub data_source: DataSource,
    /// For `cache`: milliseconds since the apiserver last confirmed the cache current (its stalest kind).
    #[serde(default)]
    pub data_age_ms: Option<u64>,
    /// Pods not Running/ready, all namespaces (`kubectl get pods -A | grep -v Running`).
    pub unhealthy_pods: Vec<Pod>,
    /// Nodes not Ready (`kubectl get nodes | grep -v Ready`).
    pub not_ready_nodes: Vec<Node>,
    /// Top nodes by memory (`kubectl top nodes`); empty when metrics are unavailable.
    pub top_nodes: Vec<Node>,
    /// Top pods by memory (`kubectl top pods -A --sort-by=memory`).
    pub top_pods: Vec<Pod>,
    /// Whether metrics were available.
    pub metrics_available: bool,
    /// Deployments of the namespace with unavailable replicas or a stalled rollout, with rollout history.
    pub degraded_deployments: Vec<DeploymentHealth>,
    /// Services of the namespace without ready endpoints.
    pub services_without_endpoints: Vec<String>,
    /// Most recent events (sorted by last timestamp, newest last).
    pub recent_events: Vec<ClusterEvent>,
    /// Warning events.
    pub warning_events: Vec<ClusterEvent>,
    /// Log scans.
    pub logs: Vec<LogScan>,
    /// Recent changes, when [`TriageOptions::since`] was given.
    pub changes: Option<RecentChanges>,
    /// Datastore health.
    pub datastores: Vec<ProbeReport>,
    /// Sections that could not be produced.
    pub missing: Vec<Missing>,
}

impl TriageReport {
    /// Whether anything is missing.
    #[must_use]
    pub fn is_partial(&self) -> bool {
        !self.missing.is_empty()
    }

    /// Whether triage found nothing wrong.
    #[must_use]
    pub fn is_healthy(&self) -> bool {
        self.unhealthy_pods.is_empty()
            && self.not_ready_nodes.is_empty()
            && self.degraded_deployments.is_empty()
            && self.services_without_endpoints.is_empty()
            && self.logs.iter().all(|l| l.error_lines == 0)
            && self.datastores.iter().all(|d| d.healthy)
    }

    /// A readable rendering, in the order an SRE reads it.
    #[must_use]
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "Triage of {} at {}", self.context, crate::comms::format_utc(self.at));
        if self.is_partial() {
            let _ = writeln!(s, "PARTIAL REPORT: {} section(s) missing", self.missing.len());
            for m in &self.missing {
                let _ = writeln!(s, "  ! {}: {} ({})", m.section, m.reason, m.kind);
            }
        }
        if let Some(h) = &self.api_server {
            let _ = writeln!(
                s,
                "\nAPI server {}: livez {}, readyz {}{}",
                h.version.as_deref().unwrap_or("(version unknown)"),
                if h.live { "ok" } else { "FAILED" },
                if h.ready { "ok" } else { "FAILED" },
                if h.failed_checks.is_empty() {
                    String::new()
                } else {
                    format!(" (failed: {})", h.failed_checks.join(", "))
                }
            );
        }
        let source = match (self.data_source, self.data_age_ms) {
            (DataSource::List, _) => "listed".to_owned(),
            (DataSource::Cache, Some(ms)) => format!("from the watch cache, {} old", age(ms)),
            (DataSource::Cache, None) => "from the watch cache".to_owned(),
        };
        let _ = writeln!(
            s,
            "\nRead {} pods, {} nodes, {} events ({source})",
            self.scanned.pods, self.scanned.nodes, self.scanned.events
        );
        let _ = writeln!(s, "\nPods not running ({}):", self.unhealthy_pods.len());
        for p in &self.unhealthy_pods {
            let _ = writeln!(
                s,
                "  {}/{}  {}  restarts={}{}",
                p.namespace,
                p.name,
                p.display_status(),
                p.restarts,
                p.message.as_deref().map(|m| format!("  ({m})")).unwrap_or_default()
            );
        }
        let _ = writeln!(s, "\nNodes not ready ({}):", self.not_ready_nodes.len());
        for n in &self.not_ready_nodes {
            let bad: Vec<String> = n
                .conditions
                .iter()
                .filter(|c| (c.kind == "Ready") != (c.status == "True"))
                .map(|c| format!("{}={}", c.kind, c.status))
                .collect();
            let _ = writeln!(s, "  {}  {}", n.name, bad.join(","));
        }
        if self.metrics_available {
            let _ = writeln!(s, "\nTop nodes by memory:");
            for n in &self.top_nodes {
                let _ = writeln!(
                    s,
                    "  {}  {} MiB  {}m CPU",
                    n.name,
                    n.memory_bytes.unwrap_or(0) >> 20,
                    n.cpu_millis.unwrap_or(0)
                );
            }
            let _ = writeln!(s, "\nTop pods by memory:");
            for p in &self.top_pods {
                let _ = writeln!(s, "  {}/{}  {} MiB", p.namespace, p.name, p.memory_bytes.unwrap_or(0) >> 20);
            }
        } else {
            let why = self.missing.iter().find(|m| m.section == "metrics").map_or("not served", |m| m.reason.as_str());
            let _ = writeln!(s, "\nTop: metrics unavailable ({why})");
        }
        let _ = writeln!(s, "\nDegraded deployments ({}):", self.degraded_deployments.len());
        for d in &self.degraded_deployments {
            let dep = &d.deployment;
            let _ = writeln!(
                s,
                "  {}/{}  {}/{} available, revision {}",
                dep.namespace, dep.name, dep.available_replicas, dep.replicas, dep.revision
            );
            for r in &d.history {
                let _ = writeln!(
                    s,
                    "    rev {}  {}  {}",
                    r.revision,
                    r.images.join(","),
                    r.change_cause.as_deref().unwrap_or("<none>")
                );
            }
        }
        if !self.services_without_endpoints.is_empty() {
            let _ = writeln!(s, "\nServices without ready endpoints: {}", self.services_without_endpoints.join(", "));
        }
        let _ = writeln!(s, "\nWarning events ({}):", self.warning_events.len());
        for e in self.warning_events.iter().rev().take(10) {
            let _ = writeln!(
                s,
                "  {}  {}  {}  {}",
                crate::comms::format_utc(e.last_timestamp),
                e.reason,
                e.object,
                e.message
            );
        }
        if let Some(c) = &self.changes {
            let _ = writeln!(
                s,
                "\nChanges since {}: {} rollout(s), {} warning event(s), {} commit(s)",
                crate::comms::format_utc(c.since),
                c.rollouts.len(),
                c.warning_events,
                c.commits.len()
            );
            for r in &c.rollouts {
                let _ = writeln!(
                    s,
                    "  rollout {} rev {}  {}  {}",
                    r.deployment,
                    r.revision.revision,
                    r.revision.images.join(","),
                    r.revision.change_cause.as_deref().unwrap_or("<none>")
                );
            }
            for c in &c.commits {
                let _ = writeln!(s, "  commit {} {} {}: {}", c.id, crate::comms::format_utc(c.at), c.author, c.subject);
            }
        }
        for l in &self.logs {
            let _ = writeln!(
                s,
                "\nLogs {}: {} error line(s) in {} line(s) from {} pod(s)",
                l.deployment, l.error_lines, l.lines, l.pods
            );
            for line in &l.samples {
                let _ = writeln!(s, "    {line}");
            }
        }
        for d in &self.datastores {
            let _ = writeln!(
                s,
                "\nDatastore {}: {}{}",
                d.name,
                if d.healthy { "healthy" } else { "UNHEALTHY" },
                d.latency_ms.map(|l| format!(" ({l:.1} ms)")).unwrap_or_default()
            );
            for f in d.findings.iter().filter(|f| !f.ok) {
                let _ = writeln!(s, "    ! {}: {}", f.check, f.detail);
            }
        }
        s
    }
}

/// A data age for people: `850ms`, `12s`, `3m05s`.
fn age(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{}s", ms / 1000),
        _ => format!("{}m{:02}s", ms / 60_000, ms / 1000 % 60),
    }
}

pub(crate) async fn deadline<T>(
    d: Duration,
    section: &str,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(d, fut).await {
        Ok(r) => r,
        Err(_) => Err(Error::timeout(format!("{section}: no answer within {}s", d.as_secs()))),
    }
}

fn note<T: Default>(missing: &mut Vec<Missing>, section: &str, r: Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => {
            missing.push(Missing { section: section.into(), reason: e.to_string(), kind: e.kind() });
            T::default()
        }
    }
}

/// Parse a log selector: `key=value[,key=value]` in `default_ns`, or `namespace/key=value[,...]`.
///
/// # Errors
/// `InvalidInput` naming the selector when a term is not `key=value`.
pub fn parse_selector(spec: &str, default_ns: &str) -> Result<(String, BTreeMap<String, String>)> {
    let (ns, terms) = match spec.split_once('/') {
        Some((ns, rest)) if !ns.contains('=') => (ns.to_owned(), rest),
        _ => (default_ns.to_owned(), spec),
    };
    let mut sel = BTreeMap::new();
    for term in terms.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (k, v) = term
            .split_once('=')
            .ok_or_else(|| Error::invalid_input(format!("log selector {spec:?}: {term:?} is not key=value")))?;
        sel.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    if sel.is_empty() {
        return Err(Error::invalid_input(format!("log selector {spec:?} selects nothing")));
    }
    Ok((ns, sel))
}

/// `git log --since` in `repo`, newest first, at most `limit` commits.
///
/// # Errors
/// `NotFound` when `repo` is not a git repository, `Unavailable` when git cannot run.
pub async fn git_commits_since(repo: &std::path::Path, since: DateTime<Utc>, limit: usize) -> Result<Vec<Commit>> {
    let repo = repo.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("git")
            .arg("-C")
            .arg(&repo)
            .arg("log")
            .arg(format!("--since={}", since.to_rfc3339()))
            .arg(format!("--max-count={limit}"))
            .arg("--format=%h%x1f%an%x1f%aI%x1f%s")
            .output()
            .map(|o| (repo, o))
    })
    .await
    .map_err(|e| Error::internal(format!("git task failed: {e}")))?
    .map_err(|e| Error::unavailable(format!("cannot run git: {e}")))?;
    let (repo, out) = out;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(Error::not_found(format!("git log in {}: {}", repo.display(), err.trim())));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\u{1f}');
            let id = f.next()?.to_owned();
            let author = f.next()?.to_owned();
            let at = DateTime::parse_from_rfc3339(f.next()?).ok()?.with_timezone(&Utc);
            let subject = f.next().unwrap_or_default().to_owned();
            Some(Commit { id, author, at, subject })
        })
        .collect())
}

/// Run triage on `cluster` (and `probes`) at `now`.
///
/// Every call runs concurrently under [`TriageOptions::call_deadline`]; log reads are bounded by
/// [`TriageOptions::max_concurrency`]. Never fails as a whole: unavailable parts are listed in
/// [`TriageReport::missing`].
pub async fn triage(
    cluster: &dyn Cluster,
    probes: &[Arc<dyn DatastoreProbe>],
    opts: &TriageOptions,
    now: DateTime<Utc>,
) -> TriageReport {
    let d = opts.call_deadline;
    let ns = opts.namespace.as_str();
    let all = BTreeMap::new();
    let mut missing = Vec::new();
    // Named log targets in other namespaces (`kube-system/coredns`) and selectors are resolved up front.
    let mut extra_deps: Vec<(String, String)> = Vec::new();
    for entry in &opts.log_deployments {
        if let Some((n, name)) = entry.split_once('/')
            && n != ns
        {
            extra_deps.push((n.to_owned(), name.to_owned()));
        }
    }
    let mut selectors = Vec::new();
    for spec in &opts.log_selectors {
        match parse_selector(spec, ns) {
            Ok(sel) => selectors.push((spec.clone(), sel)),
            Err(e) => missing.push(Missing { section: format!("logs {spec}"), reason: e.to_string(), kind: e.kind() }),
        }
    }
    let git = async {
        match (&opts.git_repo, opts.since) {
            (Some(repo), Some(since)) => Some(deadline(d, "git log", git_commits_since(repo, since, 50)).await),
            _ => None,
        }
    };
    let (pods, nodes, deployments, services, endpoints, events, health, usage, extra, datastores, commits) = tokio::join!(
        deadline(d, "pods", cluster.pods(None, &all)),
        deadline(d, "nodes", cluster.nodes()),
        deadline(d, "deployments", cluster.deployments(ns)),
        deadline(d, "services", cluster.services(ns)),
        deadline(d, "endpoints", cluster.endpoints(ns)),
        deadline(d, "events", cluster.events(None)),
        deadline(d, "api server health", cluster.server_health()),
        deadline(d, "metrics", cluster.usage()),
        bounded(
            opts.max_concurrency,
            extra_deps.iter().map(|(n, name)| async move {
                (format!("{n}/{name}"), deadline(d, "deployment", cluster.deployment(n, name)).await)
            })
        ),
        futures::future::join_all(probes.iter().map(|p| {
            let p = Arc::clone(p);
            async move { (p.name().to_owned(), deadline(d, "datastore", p.probe()).await) }
        })),
        git,
    );
    let pods: Vec<Pod> = note(&mut missing, "pods", pods);
    let mut nodes: Vec<Node> = note(&mut missing, "nodes", nodes);
    let deployments: Vec<Deployment> = note(&mut missing, "deployments", deployments);
    let services = note(&mut missing, "services", services);
    let endpoints = note(&mut missing, "endpoints", endpoints);
    let mut events: Vec<ClusterEvent> = note(&mut missing, "events", events);
    let scanned = Scanned { pods: pods.len(), nodes: nodes.len(), events: events.len() };
    let api_server: Option<ServerHealth> = note(&mut missing, "api server health", health.map(Some));
    let usage: Option<Usage> = note(&mut missing, "metrics", usage.map(Some));

    let unhealthy_pods: Vec<Pod> = pods.iter().filter(|p| !p.is_healthy() && p.phase != "Succeeded").cloned().collect();
    let (top_nodes, top_pods) = match &usage {
        Some(u) => top(u, &mut nodes, &pods, opts.top),
        None => (Vec::new(), Vec::new()),
    };
    let metrics_available = usage.is_some();
    let not_ready_nodes = nodes.iter().filter(|n| !n.ready).cloned().collect();

    events.sort_by_key(|e| e.last_timestamp);
    let warning_events: Vec<ClusterEvent> = events.iter().filter(|e| e.kind == "Warning").cloned().collect();
    let recent_events = events.iter().rev().take(opts.recent_events).rev().cloned().collect();

    let ready: std::collections::BTreeSet<&str> = endpoints
        .iter()
        .filter(|e: &&crate::backend::Endpoints| !e.ready.is_empty())
        .map(|e| e.name.as_str())
        .collect();
    let services_without_endpoints = services
        .iter()
        .filter(|s: &&crate::backend::Service| !s.selector.is_empty() && !ready.contains(s.name.as_str()))
        .map(|s| s.name.clone())
        .collect();

    // Rollout history: of degraded deployments, and of all of them when recent changes are asked for.
    let wanted: Vec<&Deployment> = deployments.iter().filter(|dep| opts.since.is_some() || is_degraded(dep)).collect();
    let histories = bounded(
        opts.max_concurrency,
        wanted.iter().map(|dep| {
            let name = dep.name.clone();
            async move { deadline(d, "rollout history", cluster.rollout_history(ns, &name)).await }
        }),
    )
    .await;
    let mut degraded_deployments = Vec::new();
    let mut rollouts = Vec::new();
    for (dep, hist) in wanted.iter().zip(histories) {
        let history = note(&mut missing, &format!("rollout history of {}", dep.name), hist);
        if let Some(since) = opts.since {
            for r in history.iter().filter(|r| r.created_at.is_some_and(|t| t >= since)) {
                rollouts.push(Rollout { deployment: format!("{}/{}", dep.namespace, dep.name), revision: r.clone() });
            }
        }
        if is_degraded(dep) {
            degraded_deployments.push(DeploymentHealth {
                deployment: (*dep).clone(),
                unavailable: dep.replicas.saturating_sub(dep.available_replicas),
                history,
            });
        }
    }
    rollouts.sort_by_key(|r| r.revision.created_at);

    // Log scans: named deployments (here or `ns/name`), all deployments of the namespace by default, and
    // selectors.
    let mut targets: Vec<(String, String, BTreeMap<String, String>)> = Vec::new();
    let named_here: Vec<&str> = opts
        .log_deployments
        .iter()
        .filter_map(|e| e.strip_prefix(&format!("{ns}/")).or((!e.contains('/')).then_some(e.as_str())))
        .collect();
    for dep in &deployments {
        if (opts.log_deployments.is_empty() && opts.log_selectors.is_empty()) || named_here.contains(&dep.name.as_str())
        {
            targets.push((format!("{}/{}", dep.namespace, dep.name), dep.namespace.clone(), dep.selector.clone()));
        }
    }
    for (label, r) in extra {
        match r {
            Ok(Some(dep)) => targets.push((label, dep.namespace.clone(), dep.selector.clone())),
            Ok(None) => missing.push(Missing {
                section: format!("logs of {label}"),
                reason: format!("deployment {label} not found"),
                kind: crate::ErrorKind::NotFound,
            }),
            Err(e) => {
                missing.push(Missing { section: format!("logs of {label}"), reason: e.to_string(), kind: e.kind() })
            }
        }
    }
    for (spec, (n, sel)) in selectors {
        targets.push((format!("{n}/{}", spec.rsplit('/').next().unwrap_or(&spec)), n, sel));
    }
    let patterns: Vec<String> = opts.error_patterns.iter().map(|p| p.to_ascii_lowercase()).collect();
    let mut logs = Vec::new();
    for (label, n, sel) in targets {
        let target_pods: Vec<&Pod> = pods
            .iter()
            .filter(|p| p.namespace == n && !sel.is_empty() && sel.iter().all(|(k, v)| p.labels.get(k) == Some(v)))
            .collect();
        let mut scan =
            LogScan { deployment: label, pods: target_pods.len(), lines: 0, error_lines: 0, samples: vec![] };
        let results = bounded(
            opts.max_concurrency,
            target_pods.iter().map(|p| async move {
                (p.name.clone(), deadline(d, "logs", cluster.logs(&p.namespace, &p.name, opts.log_tail)).await)
            }),
        )
        .await;
        for (pod, r) in results {
            let lines = note(&mut missing, &format!("logs of {n}/{pod}"), r);
            // At most `log_tail` lines per pod (the newest), whatever the backend returned.
            let extra = lines.len().saturating_sub(usize::try_from(opts.log_tail).unwrap_or(usize::MAX));
            scan.lines += lines.len() - extra;
            for line in lines.into_iter().skip(extra) {
                let lower = line.to_ascii_lowercase();
                if patterns.iter().any(|p| lower.contains(p)) {
                    scan.error_lines += 1;
                    if scan.samples.len() < 5 {
                        scan.samples.push(format!("{pod}: {line}"));
                    }
                }
            }
        }
        logs.push(scan);
    }

    let changes = opts.since.map(|since| RecentChanges {
        since,
        rollouts,
        warning_events: warning_events.iter().filter(|e| e.last_timestamp >= since).count(),
        commits: match commits {
            Some(r) => note(&mut missing, "git log", r),
            None => Vec::new(),
        },
    });

    let mut ds = Vec::new();
    for (name, r) in datastores {
        match r {
            Ok(rep) => ds.push(rep),
            Err(e) => {
                ds.push(ProbeReport { name: name.clone(), healthy: false, latency_ms: None, findings: vec![] });
                missing.push(Missing { section: format!("datastore {name}"), reason: e.to_string(), kind: e.kind() });
            }
        }
    }

    // Asked after the reads: a cache that was synced for them says so, with its age now.
    let freshness = cluster.freshness();
    TriageReport {
        context: cluster.context().to_owned(),
        at: now,
        api_server,
        scanned,
        data_source: freshness.source,
        data_age_ms: freshness.age.map(|a| u64::try_from(a.as_millis()).unwrap_or(u64::MAX)),
        unhealthy_pods,
        not_ready_nodes,
        top_nodes,
        top_pods,
        metrics_available,
        degraded_deployments,
        services_without_endpoints,
        recent_events,
        warning_events,
        logs,
        changes,
        datastores: ds,
        missing,
    }
}

/// Unavailable replicas, or a rollout that has not updated every replica (stalled on a crash-looping
/// new revision while the old pods keep serving).
fn is_degraded(dep: &Deployment) -> bool {
    dep.available_replicas < dep.replicas || dep.updated_replicas < dep.replicas
}

/// Top nodes and pods by memory; usage is also written into `nodes` for the report.
fn top(u: &Usage, nodes: &mut [Node], pods: &[Pod], n: usize) -> (Vec<Node>, Vec<Pod>) {
    let by_node: BTreeMap<&str, &crate::backend::NodeUsage> = u.nodes.iter().map(|x| (x.name.as_str(), x)).collect();
    for node in nodes.iter_mut() {
        if let Some(x) = by_node.get(node.name.as_str()) {
            node.memory_bytes = Some(x.memory_bytes);
            node.cpu_millis = Some(x.cpu_millis);
        }
    }
    let mut top_nodes: Vec<Node> = nodes.iter().filter(|x| x.memory_bytes.is_some()).cloned().collect();
    top_nodes.sort_by_key(|x| std::cmp::Reverse(x.memory_bytes));
    top_nodes.truncate(n);
    let mut usage: Vec<&crate::backend::PodUsage> = u.pods.iter().collect();
    usage.sort_by_key(|x| std::cmp::Reverse(x.memory_bytes));
    let by_pod: BTreeMap<(&str, &str), &Pod> =
        pods.iter().map(|p| ((p.namespace.as_str(), p.name.as_str()), p)).collect();
    let top_pods = usage
        .into_iter()
        .take(n)
        .map(|x| {
            let mut p = by_pod.get(&(x.namespace.as_str(), x.name.as_str())).map_or_else(
                || Pod {
                    namespace: x.namespace.clone(),
                    name: x.name.clone(),
                    phase: "Unknown".into(),
                    ready: false,
                    reason: None,
                    message: None,
                    restarts: 0,
                    node: None,
                    labels: BTreeMap::new(),
                    template_hash: None,
                    images: Vec::new(),
                    memory_bytes: None,
                },
                |p| (*p).clone(),
            );
            p.memory_bytes = Some(x.memory_bytes);
            p
        })
        .collect();
    (top_nodes, top_pods)
}

/// Run futures with at most `limit` in flight, results in input order.
async fn bounded<T, F: std::future::Future<Output = T>>(limit: usize, futs: impl IntoIterator<Item = F>) -> Vec<T> {
    use futures::StreamExt as _;
    // Collected first: a stream over a lazy `map` would hold its closure across awaits, and rustc cannot
    // then prove the whole triage future `Send` for a spawned task (the evidence driver's; see
    // rust-lang/rust#102211).
    let futs: Vec<F> = futs.into_iter().collect();
    futures::stream::iter(futs).buffered(limit.max(1)).collect().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> TriageReport {
        TriageReport {
            context: "prod".into(),
            at: DateTime::from_timestamp(1_764_165_600, 0).unwrap_or_default(),
            api_server: None,
            scanned: Scanned { pods: 3, nodes: 2, events: 1 },
            data_source: DataSource::List,
            data_age_ms: None,
            unhealthy_pods: vec![],
            not_ready_nodes: vec![],
            top_nodes: vec![],
            top_pods: vec![],
            metrics_available: false,
            degraded_deployments: vec![],
            services_without_endpoints: vec![],
            recent_events: vec![],
            warning_events: vec![],
            logs: vec![],
            changes: None,
            datastores: vec![],
            missing: vec![],
        }
    }

    #[test]
    fn reports_written_before_the_data_source_read_as_listed() {
        let mut old = serde_json::to_value(report()).expect("json");
        let fields = old.as_object_mut().expect("object");
        assert_eq!(fields.remove("data_source"), Some(serde_json::json!("list")));
        assert_eq!(fields.remove("data_age_ms"), Some(serde_json::Value::Null));
        let back: TriageReport = serde_json::from_value(old).expect("an old report parses");
        assert_eq!(back, report());
    }

    #[test]
    fn the_text_says_where_the_cluster_was_read_and_how_old_the_cache_was() {
        let mut r = report();
        assert!(r.render().contains("Read 3 pods, 2 nodes, 1 events (listed)"), "{}", r.render());
        r.data_source = DataSource::Cache;
        for (ms, text) in [(Some(850), "850ms old"), (Some(12_400), "12s old"), (Some(185_000), "3m05s old")] {
            r.data_age_ms = ms;
            assert!(r.render().contains(&format!("(from the watch cache, {text})")), "{}", r.render());
        }
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!((json["data_source"].as_str(), json["data_age_ms"].as_u64()), (Some("cache"), Some(185_000)));
    }
}
