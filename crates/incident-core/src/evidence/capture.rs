//! [`capture`]: the evidence of a real incident at one of its timeline events (its declaration, each
//! status change), read from the cluster through the [`Cluster`] port, pure otherwise.
//!
//! The incident's components name what is captured, the way `incident triage --logs-deployment` targets
//! deployments: a component `name` is the deployment of that name in [`CaptureOptions::namespace`],
//! `namespace/name` one in another namespace; without components, every deployment of the namespace. The
//! items are named `<trigger>/<file>`, where `<trigger>` is [`trigger_prefix`] (`declared-0001`,
//! `status_changed-0007`):
//!
//! | file | content |
//! |---|---|
//! | `triage.json`, `triage.txt` | the triage report ([`crate::triage::triage`]) and its rendering |
//! | `events.json` | the warning events triage read |
//! | `logs.txt` | the newest `evidence.log_lines` log lines of each target deployment's pods (redacted when preserved) |
//! | `capture.json` | what was captured: the trigger, the targets, the items and every failure |
//!
//! A capture that partly fails keeps what it got: a call that failed (or ran past its deadline) is listed
//! in [`Capture::failed`] and in `capture.json`, and the other items are still produced.

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::backend::Cluster;
use crate::incident::Incident;
use crate::preserve::EvidenceDraft;
use crate::timeline::{Event, EventKind, Timeline};
use crate::triage::{TriageOptions, deadline, triage};
use crate::{ErrorKind, Policy};

/// What a capture reads and how much.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureOptions {
    /// Namespace of components named without one (runbook: `ml-platform`).
    pub namespace: String,
    /// Deadline of each cluster call, milliseconds.
    pub call_deadline_ms: u64,
    /// Log lines kept per deployment (the policy's `evidence.log_lines`).
    pub log_lines: u32,
    /// Largest item, bytes (the policy's `evidence.max_item_bytes`): `logs.txt` is cut to fit.
    pub max_item_bytes: u64,
    /// Backend calls at once (the policy's `limits.max_concurrency`).
    pub max_concurrency: u32,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        Self::from_policy(&Policy::default())
    }
}

impl CaptureOptions {
    /// The options `policy` sets, in namespace `ml-platform` with 10 s per call.
    #[must_use]
    pub fn from_policy(policy: &Policy) -> Self {
        Self {
            namespace: "ml-platform".into(),
            call_deadline_ms: 10_000,
            log_lines: policy.evidence.log_lines,
            max_item_bytes: policy.evidence.max_item_bytes,
            max_concurrency: policy.limits.max_concurrency,
        }
    }

    fn call_deadline(&self) -> Duration {
        Duration::from_millis(self.call_deadline_ms.max(1))
    }
}

/// Something a capture could not read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CaptureFailure {
    /// What (`triage: metrics`, `logs ml-platform/api`).
    pub what: String,
    /// Why (the backend's error, one line).
    pub reason: String,
    /// Error kind.
    pub kind: ErrorKind,
}

/// The evidence of one trigger event.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    /// The incident.
    pub incident_id: String,
    /// [`trigger_prefix`] of the trigger event: every item's name starts with it and `/`.
    pub prefix: String,
    /// The deployments targeted, `namespace/name`.
    pub targets: Vec<String>,
    /// The items, `capture.json` last.
    pub items: Vec<EvidenceDraft>,
    /// What could not be read.
    pub failed: Vec<CaptureFailure>,
}

/// `capture.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CaptureSummary {
    /// The incident.
    pub incident_id: String,
    /// The trigger event's seq.
    pub trigger_seq: u64,
    /// Its type (`declared`, `status_changed`).
    pub trigger: String,
    /// The cluster context read.
    pub context: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The deployments targeted, `namespace/name`.
    pub targets: Vec<String>,
    /// The other items' names.
    pub items: Vec<String>,
    /// What could not be read.
    pub failed: Vec<CaptureFailure>,
}

/// Whether `event` is one evidence is captured at: a declaration or a status change.
#[must_use]
pub fn is_trigger(event: &Event) -> bool {
    matches!(event.kind, EventKind::Declared { .. } | EventKind::StatusChanged { .. })
}

/// The name prefix of the evidence captured at `event`: its type and seq, `declared-0001`.
#[must_use]
pub fn trigger_prefix(event: &Event) -> String {
    format!("{}-{:04}", event.kind.type_name(), event.seq)
}

/// The trigger events of `timeline` whose evidence is not on it yet (no `evidence_added` under their
/// prefix), oldest first.
#[must_use]
pub fn pending(timeline: &Timeline) -> Vec<&Event> {
    let captured: Vec<&str> = timeline
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::EvidenceAdded { name, .. } => name.split_once('/').map(|(p, _)| p),
            _ => None,
        })
        .collect();
    timeline.events().iter().filter(|e| is_trigger(e) && !captured.contains(&trigger_prefix(e).as_str())).collect()
}

/// The deployments the incident's components name (see the [module docs](self)); `None` for every
/// deployment of the namespace.
fn targets(incident: &Incident, namespace: &str) -> Option<Vec<(String, String)>> {
    let named: Vec<(String, String)> = incident
        .components
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .map(|c| match c.split_once('/') {
            Some((ns, name)) => (ns.to_owned(), name.to_owned()),
            None => (namespace.to_owned(), c.to_owned()),
        })
        .collect();
    (!named.is_empty()).then_some(named)
}

fn fail(failed: &mut Vec<CaptureFailure>, what: impl Into<String>, e: &crate::Error) {
    failed.push(CaptureFailure { what: what.into(), reason: e.to_string(), kind: e.kind() });
}

/// The newest `lines` log lines of the pods of deployment `ns/name`, each pod's under a header line.
async fn deployment_logs(
    cluster: &dyn Cluster,
    ns: &str,
    name: &str,
    lines: u32,
    d: Duration,
    failed: &mut Vec<CaptureFailure>,
) -> String {
    let what = format!("logs {ns}/{name}");
    let dep = match deadline(d, &what, cluster.deployment(ns, name)).await {
        Ok(Some(dep)) => dep,
        Ok(None) => {
            fail(failed, what, &crate::Error::not_found(format!("no deployment {name} in namespace {ns}")));
            return String::new();
        }
        Err(e) => {
            fail(failed, what, &e);
            return String::new();
        }
    };
    let pods = match deadline(d, &what, cluster.pods(Some(ns), &dep.selector)).await {
        Ok(p) => p,
        Err(e) => {
            fail(failed, what, &e);
            return String::new();
        }
    };
    let mut out = String::new();
    let mut left = usize::try_from(lines).unwrap_or(usize::MAX);
    let mut pods = pods;
    pods.sort_by(|a, b| a.name.cmp(&b.name));
    for pod in pods {
        if left == 0 {
            break;
        }
        let tail = u32::try_from(left).unwrap_or(u32::MAX);
        match deadline(d, &what, cluster.logs(ns, &pod.name, tail)).await {
            Ok(log) => {
                let keep = &log[log.len().saturating_sub(left)..];
                left -= keep.len();
                let _ = writeln!(out, "==> {ns}/{name} pod {} ({} lines) <==", pod.name, keep.len());
                for l in keep {
                    out.push_str(l);
                    out.push('\n');
                }
            }
            Err(e) => fail(failed, format!("{what} pod {}", pod.name), &e),
        }
    }
    if out.is_empty() {
        let _ = writeln!(out, "==> {ns}/{name}: no log lines <==");
    }
    out
}

/// Keep the last `max` bytes of `text` (cut at a line start), saying what was cut.
fn fit(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let note = "[... older log lines cut to fit evidence.max_item_bytes ...]\n";
    let budget = max.saturating_sub(note.len());
    let mut start = text.len().saturating_sub(budget);
    while start < text.len() && !text.is_char_boundary(start) {
        start += 1;
    }
    let tail = &text[start..];
    let tail = tail.find('\n').map_or(tail, |i| &tail[i + 1..]);
    format!("{note}{tail}")
}

/// Capture the evidence of `incident` at its timeline event `trigger` (see the [module docs](self)).
/// Never fails: what could not be read is in [`Capture::failed`] and `capture.json`.
pub async fn capture(
    cluster: &dyn Cluster,
    incident: &Incident,
    trigger: &Event,
    opts: &CaptureOptions,
    now: DateTime<Utc>,
) -> Capture {
    let prefix = trigger_prefix(trigger);
    let d = opts.call_deadline();
    let mut failed = Vec::new();
    let named = targets(incident, &opts.namespace);
    let triage_opts = TriageOptions {
        namespace: opts.namespace.clone(),
        log_deployments: named.iter().flatten().map(|(ns, n)| format!("{ns}/{n}")).collect(),
        call_deadline: d,
        max_concurrency: usize::try_from(opts.max_concurrency.max(1)).unwrap_or(1),
        ..TriageOptions::default()
    };
    // Boxed as `Send` here, where every lifetime is concrete: spawning a task that awaits triage's
    // future directly trips rustc's higher-ranked `Send` inference (rust-lang/rust#102211).
    let triaged: std::pin::Pin<Box<dyn std::future::Future<Output = crate::triage::TriageReport> + Send + '_>> =
        Box::pin(triage(cluster, &[], &triage_opts, now));
    let report = triaged.await;
    for m in &report.missing {
        failed.push(CaptureFailure { what: format!("triage: {}", m.section), reason: m.reason.clone(), kind: m.kind });
    }
    let targets: Vec<(String, String)> = match named {
        Some(t) => t,
        None => match deadline(d, "deployments", cluster.deployments(&opts.namespace)).await {
            Ok(deps) => deps.into_iter().map(|dep| (dep.namespace, dep.name)).collect(),
            Err(e) => {
                fail(&mut failed, format!("deployments of {}", opts.namespace), &e);
                Vec::new()
            }
        },
    };
    let mut logs = String::new();
    for (ns, name) in &targets {
        logs.push_str(&deployment_logs(cluster, ns, name, opts.log_lines, d, &mut failed).await);
    }
    let max = usize::try_from(opts.max_item_bytes).unwrap_or(usize::MAX);
    // Redaction seldom lengthens text, but can by a byte or two per secret: leave room.
    let logs = fit(logs, max.saturating_sub(max / 10));

    let mut items = Vec::new();
    let name = |file: &str| format!("{prefix}/{file}");
    for (file, value) in [
        ("triage.json", EvidenceDraft::json(name("triage.json"), &report)),
        ("events.json", EvidenceDraft::json(name("events.json"), &report.warning_events)),
    ] {
        match value {
            Ok(d) => items.push(d),
            Err(e) => fail(&mut failed, file, &e),
        }
    }
    items.push(EvidenceDraft::text(name("triage.txt"), "text/plain; charset=utf-8", report.render()));
    items.push(EvidenceDraft::text(name("logs.txt"), "text/plain; charset=utf-8", logs));
    items.sort_by(|a, b| a.name.cmp(&b.name));
    let summary = CaptureSummary {
        incident_id: incident.id.clone(),
        trigger_seq: trigger.seq,
        trigger: trigger.kind.type_name().to_owned(),
        context: cluster.context().to_owned(),
        at: now,
        targets: targets.iter().map(|(ns, n)| format!("{ns}/{n}")).collect(),
        items: items.iter().map(|i| i.name.clone()).collect(),
        failed: failed.clone(),
    };
    match EvidenceDraft::json(name("capture.json"), &summary) {
        Ok(d) => items.push(d),
        Err(e) => fail(&mut failed, "capture.json", &e),
    }
    Capture { incident_id: incident.id.clone(), prefix, targets: summary.targets, items, failed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_the_newest_lines_and_says_so() {
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let cut = fit(text.clone(), 200);
        assert!(cut.len() <= 200, "{}", cut.len());
        assert!(cut.starts_with("[... older log lines cut"), "{cut}");
        assert!(cut.ends_with("line 99\n"), "{cut}");
        assert_eq!(fit(text.clone(), 10_000), text);
    }
}
