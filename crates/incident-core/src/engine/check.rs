//! Read-only checks: the runbook's verification commands as typed values.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::backend::Backends;
use crate::drills::ChecklistId;
use crate::policy::Policy;
use crate::{Error, HumanDuration, Result};

/// Timeout of one HTTP probe.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

fn default_pattern() -> String {
    "error".into()
}

const fn default_tail() -> u32 {
    500
}

/// One item of a [`Check::ValidationChecklist`]: a checklist entry and the concrete checks that prove it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChecklistBinding {
    /// The policy's checklist item.
    pub id: ChecklistId,
    /// Its wording.
    pub description: String,
    /// Checks that must all pass (an empty list is reported as "not automated" and fails the item).
    pub checks: Vec<Check>,
}

/// How an evidence line of a failed check begins (`FAILED: <detail> (<command>)`); a passed one begins
/// with `ok: `.
pub(crate) const FAILED: &str = "FAILED: ";

/// What evaluating one [`ChecklistBinding`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingOutcome {
    /// `Some(true)` when every check passed, `Some(false)` when one failed or could not read what it
    /// checks, `None` when the item has no checks (not automated).
    pub passed: Option<bool>,
    /// One line per check, in order: its command and what it found (or the error that stopped it).
    pub evidence: Vec<String>,
}

impl ChecklistBinding {
    /// Run every check of this item at once. A check that cannot read what it checks (a backend error)
    /// fails the item with the error as its evidence: a checklist reports every item, it does not stop
    /// at the first unreachable system.
    pub async fn evaluate(&self, b: &Backends, policy: &Policy) -> BindingOutcome {
        if self.checks.is_empty() {
            return BindingOutcome { passed: None, evidence: vec!["not automated: no targets".to_owned()] };
        }
        let outcomes = futures::future::join_all(self.checks.iter().map(|c| Box::pin(c.evaluate(b, policy)))).await;
        let mut passed = true;
        let evidence = self
            .checks
            .iter()
            .zip(outcomes)
            .map(|(c, o)| match o {
                Ok(o) => {
                    passed &= o.passed;
                    format!("{}{} ({})", if o.passed { "ok: " } else { FAILED }, o.detail, c.describe())
                }
                Err(e) => {
                    passed = false;
                    format!("{FAILED}{e} ({})", c.describe())
                }
            })
            .collect();
        BindingOutcome { passed: Some(passed), evidence }
    }
}

/// A typed read-only check. Serialized with a `check` tag in snake case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "check", rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    /// `curl -f URL`: passes on a status below 400.
    HttpHealth {
        /// URL.
        url: String,
    },
    /// `curl -w time_total URL`: passes when the response is a success within `max_ms`.
    ResponseTime {
        /// URL.
        url: String,
        /// Slowest acceptable full-response time, milliseconds.
        max_ms: u64,
    },
    /// `kubectl logs ... --tail=N | grep -ci PATTERN` over the pods of a selector or deployment: passes when
    /// at most `max` lines match (case-insensitive).
    LogErrorCount {
        /// Kubeconfig context.
        context: String,
        /// Namespace.
        namespace: String,
        /// Pod selector (`app=ml-platform`); exclusive with `deployment`.
        #[serde(default)]
        selector: Option<BTreeMap<String, String>>,
        /// Deployment whose pods are read; exclusive with `selector`.
        #[serde(default)]
        deployment: Option<String>,
        /// Substring searched case-insensitively (default `error`).
        #[serde(default = "default_pattern")]
        pattern: String,
        /// Lines per pod (default 500, capped by `policy.limits.max_log_lines`).
        #[serde(default = "default_tail")]
        tail: u32,
        /// Most matching lines tolerated.
        max: u64,
    },
    /// `kubectl get pods -l SELECTOR -n NS`: at least `min_ready` pods Running and ready.
    PodsHealthy {
        /// Kubeconfig context.
        context: String,
        /// Namespace.
        namespace: String,
        /// Label selector.
        selector: BTreeMap<String, String>,
        /// Fewest healthy pods accepted.
        min_ready: u32,
    },
    /// `kubectl get endpoints SERVICE -n NS`: the service has at least one ready address.
    EndpointsReady {
        /// Kubeconfig context.
        context: String,
        /// Namespace.
        namespace: String,
        /// Service name.
        service: String,
    },
    /// `kubectl rollout status deployment/NAME -n NS`: the rollout is complete.
    RolloutComplete {
        /// Kubeconfig context.
        context: String,
        /// Namespace.
        namespace: String,
        /// Deployment name.
        name: String,
    },
    /// `aws rds describe-db-instances --db-instance-identifier ID`: status `available`.
    DbAvailable {
        /// Region.
        region: String,
        /// Instance identifier.
        id: String,
    },
    /// `aws sts get-caller-identity --region R`: credentials and connectivity work.
    CallerIdentity {
        /// Region.
        region: String,
    },
    /// `aws health describe-events --filter services=...`: no open event in the region.
    NoOpenHealthEvents {
        /// Region.
        region: String,
        /// Services (EC2, RDS, EKS).
        services: Vec<String>,
    },
    /// A datastore probe (`psql -c "SELECT 1"`, `redis-cli ping`, integrity queries) reports healthy.
    DatastoreHealthy {
        /// Probe name in [`Backends::probes`].
        probe: String,
    },
    /// The newest available snapshot of an instance is younger than `max_age` ("backups running").
    RecentSnapshot {
        /// Region.
        region: String,
        /// Instance identifier.
        instance: String,
        /// Oldest acceptable snapshot age.
        max_age: HumanDuration,
    },
    /// The instance's latest restorable time is at most `max_lag` old: point-in-time recovery keeps up
    /// ("backups running").
    RestoreWindow {
        /// Region.
        region: String,
        /// Instance identifier.
        instance: String,
        /// Largest acceptable gap between now and the latest restorable time.
        max_lag: HumanDuration,
    },
    /// The cluster accepts our credentials and says who we are (`kubectl auth whoami`, a
    /// `SelfSubjectReview`).
    KubeAccess {
        /// Kubeconfig context.
        context: String,
    },
    /// Pods of a deployment return log lines ("logs being collected").
    LogsCollected {
        /// Kubeconfig context.
        context: String,
        /// Namespace.
        namespace: String,
        /// Deployment name.
        deployment: String,
    },
    /// The runbook's validation checklist mapped onto concrete checks; each item's result is reported.
    ValidationChecklist {
        /// The items.
        items: Vec<ChecklistBinding>,
    },
}

/// The result of one item of a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ItemResult {
    /// Item name.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Detail.
    pub detail: String,
}

/// What evaluating a check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CheckOutcome {
    /// Whether the check passed.
    pub passed: bool,
    /// One-line detail.
    pub detail: String,
    /// Per-item results (checklist items, probe findings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemResult>,
}

impl CheckOutcome {
    fn new(passed: bool, detail: impl Into<String>) -> Self {
        Self { passed, detail: detail.into(), items: Vec::new() }
    }
}

impl Check {
    /// A kubectl/aws-like one-liner.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::HttpHealth { url } => format!("curl -f {url}"),
            Self::ResponseTime { url, max_ms } => {
                format!("curl -w time_total -s -o /dev/null {url} (<= {max_ms} ms)")
            }
            Self::LogErrorCount { context, namespace, selector, deployment, pattern, tail, max } => {
                let src = match (selector, deployment) {
                    (Some(s), _) => format!("--selector={}", selector_text(s)),
                    (None, Some(d)) => format!("deployment/{d}"),
                    (None, None) => "<no source>".into(),
                };
                format!(
                    "kubectl --context {context} logs -n {namespace} {src} --tail={tail} | grep -ci {pattern} (<= {max})"
                )
            }
            Self::PodsHealthy { context, namespace, selector, min_ready } => format!(
                "kubectl --context {context} get pods -n {namespace} -l {} (>= {min_ready} ready)",
                selector_text(selector)
            ),
            Self::EndpointsReady { context, namespace, service } => {
                format!("kubectl --context {context} get endpoints {service} -n {namespace}")
            }
            Self::RolloutComplete { context, namespace, name } => {
                format!("kubectl --context {context} rollout status deployment/{name} -n {namespace}")
            }
            Self::DbAvailable { region, id } => {
                format!("aws rds describe-db-instances --region {region} --db-instance-identifier {id} (available)")
            }
            Self::CallerIdentity { region } => {
                format!("aws sts get-caller-identity --region {region}")
            }
            Self::NoOpenHealthEvents { region, services } => {
                format!(
                    "aws health describe-events --region {region} --filter services={} (none open)",
                    services.join(",")
                )
            }
            Self::DatastoreHealthy { probe } => format!("probe {probe}"),
            Self::RecentSnapshot { region, instance, max_age } => format!(
                "aws rds describe-db-snapshots --region {region} --db-instance-identifier {instance} (newest < {max_age})"
            ),
            Self::RestoreWindow { region, instance, max_lag } => format!(
                "aws rds describe-db-instances --region {region} --db-instance-identifier {instance} \
                 (LatestRestorableTime within {max_lag})"
            ),
            Self::KubeAccess { context } => format!("kubectl --context {context} auth whoami"),
            Self::LogsCollected { context, namespace, deployment } => {
                format!("kubectl --context {context} logs -n {namespace} deployment/{deployment} --tail=1")
            }
            Self::ValidationChecklist { items } => {
                format!("validation checklist ({} items)", items.len())
            }
        }
    }

    /// Follow the object the check reads until the check passes, the object reaches a final state, or
    /// `timeout` passes, and return the outcome it ended on: a rollout is watched as `kubectl rollout
    /// status` watches it. `Ok(None)` when the check or the backend cannot follow (the caller polls
    /// [`Check::evaluate`] with backoff instead).
    ///
    /// # Errors
    /// Backend errors.
    pub async fn follow(&self, b: &Backends, timeout: Duration) -> Result<Option<CheckOutcome>> {
        match self {
            Self::RolloutComplete { context, namespace, name } => {
                let cluster = b.clusters.cluster(context).await?;
                Ok(cluster
                    .follow_rollout(namespace, name, timeout)
                    .await?
                    .map(|s| CheckOutcome::new(s.complete && !s.failed, s.message)))
            }
            _ => Ok(None),
        }
    }

    /// Evaluate against live state. `Ok` with `passed: false` is a failed check; `Err` is a failure to read
    /// (retryable when the backend was unavailable).
    ///
    /// # Errors
    /// Backend errors; `InvalidInput` for a malformed check (e.g. both `selector` and `deployment`).
    pub async fn evaluate(&self, b: &Backends, policy: &Policy) -> Result<CheckOutcome> {
        match self {
            Self::HttpHealth { url } => {
                let r = b.http.get(url, HTTP_TIMEOUT).await?;
                Ok(CheckOutcome::new(r.status < 400, format!("{url}: HTTP {} in {} ms", r.status, r.elapsed_ms)))
            }
            Self::ResponseTime { url, max_ms } => {
                let r = b.http.get(url, HTTP_TIMEOUT).await?;
                Ok(CheckOutcome::new(
                    r.status < 400 && r.elapsed_ms <= *max_ms,
                    format!("{url}: HTTP {} in {} ms (max {max_ms} ms)", r.status, r.elapsed_ms),
                ))
            }
            Self::LogErrorCount { context, namespace, selector, deployment, pattern, tail, max } => {
                let cluster = b.clusters.cluster(context).await?;
                let sel = match (selector, deployment) {
                    (Some(s), None) => s.clone(),
                    (None, Some(d)) => {
                        cluster
                            .deployment(namespace, d)
                            .await?
                            .ok_or_else(|| Error::not_found(format!("deployment {namespace}/{d} not found")))?
                            .selector
                    }
                    _ => {
                        return Err(Error::invalid_input(
                            "log_error_count needs exactly one of selector or deployment",
                        ));
                    }
                };
                let pods = cluster.pods(Some(namespace), &sel).await?;
                let tail = (*tail).min(policy.limits.max_log_lines);
                let needle = pattern.to_lowercase();
                let mut count: u64 = 0;
                for p in &pods {
                    let lines = cluster.logs(namespace, &p.name, tail).await?;
                    count += lines.iter().filter(|l| l.to_lowercase().contains(&needle)).count() as u64;
                }
                Ok(CheckOutcome::new(
                    count <= *max,
                    format!(
                        "{count} line(s) matching {pattern:?} in the last {tail} lines of {} pod(s) (max {max})",
                        pods.len()
                    ),
                ))
            }
            Self::PodsHealthy { context, namespace, selector, min_ready } => {
                let pods = b.clusters.cluster(context).await?.pods(Some(namespace), selector).await?;
                let healthy = pods.iter().filter(|p| p.is_healthy()).count();
                let bad: Vec<String> = pods
                    .iter()
                    .filter(|p| !p.is_healthy())
                    .map(|p| format!("{} {}", p.name, p.display_status()))
                    .collect();
                let mut detail = format!("{healthy}/{} pods healthy (need {min_ready})", pods.len());
                if !bad.is_empty() {
                    detail.push_str(&format!("; not healthy: {}", bad.join(", ")));
                }
                Ok(CheckOutcome::new(healthy >= *min_ready as usize, detail))
            }
            Self::EndpointsReady { context, namespace, service } => {
                let eps = b.clusters.cluster(context).await?.endpoints(namespace).await?;
                let ep = eps.iter().find(|e| &e.name == service);
                Ok(match ep {
                    Some(e) => CheckOutcome::new(
                        !e.ready.is_empty(),
                        format!("{service}: {} ready, {} not ready", e.ready.len(), e.not_ready.len()),
                    ),
                    None => CheckOutcome::new(false, format!("{service}: no endpoints object")),
                })
            }
            Self::RolloutComplete { context, namespace, name } => {
                let s = b.clusters.cluster(context).await?.rollout_status(namespace, name).await?;
                Ok(CheckOutcome::new(s.complete && !s.failed, s.message))
            }
            Self::DbAvailable { region, id } => Ok(match b.databases.instance(region, id).await? {
                Some(i) => CheckOutcome::new(i.is_available(), format!("{id}: {}", i.status)),
                None => CheckOutcome::new(false, format!("{id}: not found in {region}")),
            }),
            Self::CallerIdentity { region } => match b.cloud.caller_identity(region).await {
                Ok(account) => Ok(CheckOutcome::new(true, format!("account {account} in {region}"))),
                Err(e) if e.kind() == crate::ErrorKind::PermissionDenied => {
                    Ok(CheckOutcome::new(false, format!("{region}: {e}")))
                }
                Err(e) => Err(e),
            },
            Self::NoOpenHealthEvents { region, services } => {
                let events = b.cloud.health_events(region, services).await?;
                let open: Vec<String> = events
                    .iter()
                    .filter(|e| e.status == "open" && e.region == *region)
                    .map(|e| format!("{} {}", e.service, e.code))
                    .collect();
                Ok(if open.is_empty() {
                    CheckOutcome::new(true, format!("no open health events in {region}"))
                } else {
                    CheckOutcome::new(false, format!("open in {region}: {}", open.join(", ")))
                })
            }
            Self::DatastoreHealthy { probe } => {
                let p =
                    b.probes.get(probe).ok_or_else(|| Error::not_found(format!("no datastore probe named {probe}")))?;
                let r = p.probe().await?;
                let failing: Vec<&str> = r.findings.iter().filter(|f| !f.ok).map(|f| f.check.as_str()).collect();
                let mut out = CheckOutcome::new(
                    r.healthy,
                    if failing.is_empty() {
                        format!("{probe}: healthy={}", r.healthy)
                    } else {
                        format!("{probe}: healthy={}; failing: {}", r.healthy, failing.join(", "))
                    },
                );
                out.items = r
                    .findings
                    .into_iter()
                    .map(|f| ItemResult { name: f.check, passed: f.ok, detail: f.detail })
                    .collect();
                Ok(out)
            }
            Self::RecentSnapshot { region, instance, max_age } => {
                let snaps = b.databases.snapshots(region, Some(instance)).await?;
                let newest = snaps.iter().filter(|s| s.status == "available").filter_map(|s| s.created_at).max();
                Ok(match newest {
                    Some(t) => {
                        let age = b.clock.now() - t;
                        CheckOutcome::new(
                            age <= max_age.as_delta(),
                            format!("newest snapshot of {instance} is {}s old (max {max_age})", age.num_seconds()),
                        )
                    }
                    None => CheckOutcome::new(false, format!("no available snapshot of {instance}")),
                })
            }
            Self::RestoreWindow { region, instance, max_lag } => {
                Ok(match b.databases.instance(region, instance).await? {
                    None => CheckOutcome::new(false, format!("{instance}: not found in {region}")),
                    Some(i) => match i.latest_restorable_time {
                        None => CheckOutcome::new(
                            false,
                            format!("{instance}: no latest restorable time (automated backups off?)"),
                        ),
                        Some(t) => {
                            let lag = b.clock.now() - t;
                            CheckOutcome::new(
                                lag <= max_lag.as_delta(),
                                format!(
                                    "{instance}: latest restorable time {} is {}s old (max {max_lag})",
                                    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                                    lag.num_seconds().max(0)
                                ),
                            )
                        }
                    },
                })
            }
            Self::KubeAccess { context } => {
                let cluster = b.clusters.cluster(context).await?;
                match cluster.whoami().await {
                    Ok(user) => Ok(CheckOutcome::new(true, format!("{context}: authenticated as {user}"))),
                    Err(e) if e.kind() == crate::ErrorKind::PermissionDenied => {
                        Ok(CheckOutcome::new(false, format!("{context}: {e}")))
                    }
                    Err(e) => Err(e),
                }
            }
            Self::LogsCollected { context, namespace, deployment } => {
                let cluster = b.clusters.cluster(context).await?;
                let d = cluster
                    .deployment(namespace, deployment)
                    .await?
                    .ok_or_else(|| Error::not_found(format!("deployment {namespace}/{deployment} not found")))?;
                let pods = cluster.pods(Some(namespace), &d.selector).await?;
                let mut lines = 0usize;
                for p in &pods {
                    lines += cluster.logs(namespace, &p.name, 1).await?.len();
                }
                Ok(CheckOutcome::new(lines > 0, format!("{lines} recent line(s) from {} pod(s)", pods.len())))
            }
            Self::ValidationChecklist { items } => {
                let outcomes = futures::future::join_all(items.iter().map(|i| i.evaluate(b, policy))).await;
                let results: Vec<ItemResult> = items
                    .iter()
                    .zip(outcomes)
                    .map(|(item, o)| ItemResult {
                        name: item.description.clone(),
                        passed: o.passed == Some(true),
                        detail: o.evidence.join("; "),
                    })
                    .collect();
                let ok = results.iter().filter(|r| r.passed).count();
                let failed: Vec<&str> = results.iter().filter(|r| !r.passed).map(|r| r.name.as_str()).collect();
                let mut detail = format!("{ok}/{} checklist items passed", results.len());
                if !failed.is_empty() {
                    detail.push_str(&format!("; failed: {}", failed.join(", ")));
                }
                Ok(CheckOutcome { passed: failed.is_empty(), detail, items: results })
            }
        }
    }
}

fn selector_text(s: &BTreeMap<String, String>) -> String {
    s.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}
