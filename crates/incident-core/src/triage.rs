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

use crate::backend::{Cluster, ClusterEvent, DatastoreProbe, Deployment, Node, Pod, ProbeReport, Revision};
use crate::{Error, Result};

/// What to triage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TriageOptions {
    /// Namespace of the critical services (runbook: `ml-platform`).
    pub namespace: String,
    /// Deployments whose logs are scanned for errors (all deployments of `namespace` when empty).
    pub log_deployments: Vec<String>,
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
            log_tail: 100,
            error_patterns: vec!["error".into()],
            recent_events: 20,
            top: 10,
            call_deadline: Duration::from_secs(10),
            max_concurrency: 16,
        }
    }
}

/// A deployment that is not fully available.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentHealth {
    /// The deployment.
    pub deployment: Deployment,
    /// `replicas - available_replicas`.
    pub unavailable: u32,
    /// Rollout history, oldest first.
    pub history: Vec<Revision>,
}

/// Error lines found in a deployment's pods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogScan {
    /// Deployment.
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

/// A part of the report that could not be produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Missing {
    /// Section name.
    pub section: String,
    /// Why (the backend's error, one line, secrets never included).
    pub reason: String,
    /// Error kind.
    pub kind: crate::ErrorKind,
}

/// The triage report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriageReport {
    /// Context triaged.
    pub context: String,
    /// When.
    pub at: DateTime<Utc>,
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
    /// Deployments of the namespace with unavailable replicas, with rollout history.
    pub degraded_deployments: Vec<DeploymentHealth>,
    /// Services of the namespace without ready endpoints.
    pub services_without_endpoints: Vec<String>,
    /// Most recent events (sorted by last timestamp, newest last).
    pub recent_events: Vec<ClusterEvent>,
    /// Warning events.
    pub warning_events: Vec<ClusterEvent>,
    /// Log scans.
    pub logs: Vec<LogScan>,
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
            let _ = writeln!(s, "\nTop pods by memory:");
            for p in &self.top_pods {
                let _ = writeln!(s, "  {}/{}  {} MiB", p.namespace, p.name, p.memory_bytes.unwrap_or(0) >> 20);
            }
        } else {
            let _ = writeln!(s, "\nTop: metrics unavailable (metrics.k8s.io not served)");
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

async fn deadline<T>(d: Duration, section: &str, fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
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

/// Run triage on `cluster` (and `probes`) at `now`.
///
/// Never fails as a whole: unavailable parts are listed in [`TriageReport::missing`].
pub async fn triage(
    cluster: &dyn Cluster,
    probes: &[Arc<dyn DatastoreProbe>],
    opts: &TriageOptions,
    now: DateTime<Utc>,
) -> TriageReport {
    let d = opts.call_deadline;
    let ns = opts.namespace.as_str();
    let all = BTreeMap::new();
    let (pods, nodes, deployments, services, endpoints, events, datastores) = tokio::join!(
        deadline(d, "pods", cluster.pods(None, &all)),
        deadline(d, "nodes", cluster.nodes()),
        deadline(d, "deployments", cluster.deployments(ns)),
        deadline(d, "services", cluster.services(ns)),
        deadline(d, "endpoints", cluster.endpoints(ns)),
        deadline(d, "events", cluster.events(None)),
        futures::future::join_all(probes.iter().map(|p| {
            let p = Arc::clone(p);
            async move { (p.name().to_owned(), deadline(d, "datastore", p.probe()).await) }
        })),
    );
    let mut missing = Vec::new();
    let pods: Vec<Pod> = note(&mut missing, "pods", pods);
    let nodes: Vec<Node> = note(&mut missing, "nodes", nodes);
    let deployments: Vec<Deployment> = note(&mut missing, "deployments", deployments);
    let services = note(&mut missing, "services", services);
    let endpoints = note(&mut missing, "endpoints", endpoints);
    let mut events: Vec<ClusterEvent> = note(&mut missing, "events", events);

    let unhealthy_pods: Vec<Pod> = pods.iter().filter(|p| !p.is_healthy() && p.phase != "Succeeded").cloned().collect();
    let not_ready_nodes = nodes.iter().filter(|n| !n.ready).cloned().collect();
    let metrics_available =
        pods.iter().any(|p| p.memory_bytes.is_some()) || nodes.iter().any(|n| n.memory_bytes.is_some());
    let mut top_pods: Vec<Pod> = pods.iter().filter(|p| p.memory_bytes.is_some()).cloned().collect();
    top_pods.sort_by_key(|p| std::cmp::Reverse(p.memory_bytes));
    top_pods.truncate(opts.top);
    let mut top_nodes: Vec<Node> = nodes.iter().filter(|n| n.memory_bytes.is_some()).cloned().collect();
    top_nodes.sort_by_key(|n| std::cmp::Reverse(n.memory_bytes));
    top_nodes.truncate(opts.top);

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

    // Rollout history of degraded deployments, and log scans, concurrently.
    let degraded: Vec<&Deployment> = deployments.iter().filter(|d| d.available_replicas < d.replicas).collect();
    let histories = futures::future::join_all(degraded.iter().map(|dep| {
        let name = dep.name.clone();
        async move { (name.clone(), deadline(d, "rollout history", cluster.rollout_history(ns, &name)).await) }
    }))
    .await;
    let mut degraded_deployments = Vec::new();
    for (dep, (name, hist)) in degraded.iter().zip(histories) {
        let history = note(&mut missing, &format!("rollout history of {name}"), hist);
        degraded_deployments.push(DeploymentHealth {
            deployment: (*dep).clone(),
            unavailable: dep.replicas.saturating_sub(dep.available_replicas),
            history,
        });
    }

    let scan_targets: Vec<&Deployment> = if opts.log_deployments.is_empty() {
        deployments.iter().collect()
    } else {
        deployments.iter().filter(|d| opts.log_deployments.contains(&d.name)).collect()
    };
    let patterns: Vec<String> = opts.error_patterns.iter().map(|p| p.to_ascii_lowercase()).collect();
    let mut logs = Vec::new();
    for dep in scan_targets {
        let dep_pods: Vec<&Pod> = pods
            .iter()
            .filter(|p| p.namespace == dep.namespace && dep.selector.iter().all(|(k, v)| p.labels.get(k) == Some(v)))
            .collect();
        let mut scan =
            LogScan { deployment: dep.name.clone(), pods: dep_pods.len(), lines: 0, error_lines: 0, samples: vec![] };
        for chunk in dep_pods.chunks(opts.max_concurrency.max(1)) {
            let results = futures::future::join_all(chunk.iter().map(|p| async move {
                (p.name.clone(), deadline(d, "logs", cluster.logs(&p.namespace, &p.name, opts.log_tail)).await)
            }))
            .await;
            for (pod, r) in results {
                let lines = note(&mut missing, &format!("logs of {}/{pod}", dep.namespace), r);
                scan.lines += lines.len();
                for line in lines {
                    let lower = line.to_ascii_lowercase();
                    if patterns.iter().any(|p| lower.contains(p)) {
                        scan.error_lines += 1;
                        if scan.samples.len() < 5 {
                            scan.samples.push(format!("{pod}: {line}"));
                        }
                    }
                }
            }
        }
        logs.push(scan);
    }

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

    TriageReport {
        context: cluster.context().to_owned(),
        at: now,
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
        datastores: ds,
        missing,
    }
}
