//! Simulated HTTP probe, datastore probes, cloud checks and notifier; pod log generation.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::platform::{Inner, Scope};
use super::scenario::PodBehavior;
use super::state::{ACCOUNT_ID, World};
use crate::backend::{
    Cloud, DatastoreProbe, Delivery, Destination, Finding, HealthEvent, HttpProbe, HttpProbeResult, Notification,
    Notifier, Pod, ProbeReport,
};
use crate::{Error, Result};

/// `curl` against the simulated public endpoints.
pub(crate) struct SimHttp {
    pub(crate) inner: Arc<Inner>,
}

#[async_trait::async_trait]
impl HttpProbe for SimHttp {
    async fn get(&self, url: &str, timeout: Duration) -> Result<HttpProbeResult> {
        let (status, latency_ms) = self
            .inner
            .read(Scope::Global("http"), "GET", |w| {
                let draw: f64 =
                    SmallRng::seed_from_u64(w.faults.seed ^ w.calls.wrapping_mul(0xA24B_AED4_963E_E407)).random();
                w.http(url, draw)
            })
            .await?;
        let latency = Duration::from_millis(latency_ms);
        let read = self.inner.lock().latency.read;
        if latency > timeout {
            self.inner.sleep(timeout.saturating_sub(read)).await;
            return Err(Error::timeout(format!(
                "curl: (28) Operation timed out after {} milliseconds with 0 bytes received",
                timeout.as_millis()
            )));
        }
        self.inner.sleep(latency.saturating_sub(read)).await;
        Ok(HttpProbeResult { status, elapsed_ms: latency_ms })
    }
}

/// A datastore probe (`postgres` or `redis`) of the region serving traffic.
pub(crate) struct SimDatastoreProbe {
    inner: Arc<Inner>,
    name: String,
}

impl SimDatastoreProbe {
    pub(crate) fn new(inner: Arc<Inner>, name: &str) -> Self {
        Self { inner, name: name.to_string() }
    }
}

fn finding(check: &str, ok: bool, detail: impl Into<String>) -> Finding {
    Finding { check: check.into(), ok, detail: detail.into() }
}

/// The region serving `api.ml-platform.com` (the primary when it resolves nowhere).
fn serving_region(w: &World) -> Option<String> {
    w.resolve("api.ml-platform.com").or_else(|| w.primary_region().map(|r| r.name.clone()))
}

pub(crate) fn probe_report(w: &World, name: &str) -> ProbeReport {
    let region = serving_region(w).unwrap_or_default();
    let dark = w.region(&region).is_some_and(|r| r.dark_since.is_some()) || w.faults.is_dark(&region);
    let ds = w.datastores.get(name);
    let down = ds.is_some_and(|d| d.down);
    let mut findings = Vec::new();
    let mut latency_ms = None;
    match name {
        "postgres" => {
            let writer = w.writer_db(&region);
            let available = writer.is_some();
            let instance = writer
                .map(|d| d.id.clone())
                .or_else(|| w.region(&region).map(|r| r.database.clone()))
                .unwrap_or_default();
            let connected = !dark && !down && available;
            if connected {
                latency_ms = Some(2.4);
                findings.push(finding("select_1", true, format!("SELECT 1 ok ({instance} in {region})")));
                findings.push(finding("connections", true, "connections: 12/100"));
            } else {
                let why = if dark {
                    format!("region {region} unreachable")
                } else if down {
                    "connection refused".to_string()
                } else {
                    format!("instance {instance} is not available")
                };
                findings.push(finding("select_1", false, format!("could not connect to {instance}: {why}")));
            }
            match ds.and_then(|d| d.corruption.as_ref()) {
                Some(c) => {
                    let restored = w.databases.iter().find(|d| {
                        d.restored_from.as_deref() == Some(&c.instance)
                            && d.restore_time.is_some_and(|t| t <= c.since)
                            && w.db_status(d) == "available"
                    });
                    if let Some(r) = restored {
                        findings.push(finding(
                            "constraints",
                            true,
                            format!(
                                "all constraints validated on {} (restored from {} at {})",
                                r.id,
                                c.instance,
                                r.restore_time.map(|t| t.to_rfc3339()).unwrap_or_default()
                            ),
                        ));
                    } else {
                        let list = if c.unvalidated_constraints.is_empty() {
                            "integrity check failed".to_string()
                        } else {
                            format!(
                                "{} constraint(s) not validated: {}",
                                c.unvalidated_constraints.len(),
                                c.unvalidated_constraints.join(", ")
                            )
                        };
                        findings.push(finding("constraints", false, list));
                        for f in &c.findings {
                            findings.push(finding("integrity", false, f.clone()));
                        }
                    }
                }
                None => findings.push(finding("constraints", true, "all constraints validated")),
            }
        }
        _ => {
            if !dark && !down {
                latency_ms = Some(0.4);
                findings.push(finding("ping", true, "PONG"));
                findings.push(finding("memory", true, "used_memory: 180MiB / maxmemory 4GiB"));
            } else {
                let why = if dark { format!("region {region} unreachable") } else { "connection refused".into() };
                findings.push(finding("ping", false, format!("could not connect to redis: {why}")));
            }
        }
    }
    let healthy = findings.iter().all(|f| f.ok);
    ProbeReport { name: name.to_string(), healthy, latency_ms, findings }
}

#[async_trait::async_trait]
impl DatastoreProbe for SimDatastoreProbe {
    fn name(&self) -> &str {
        &self.name
    }

    async fn probe(&self) -> Result<ProbeReport> {
        let name = self.name.clone();
        self.inner.read(Scope::Global("datastore"), "datastore probe", |w| Ok(probe_report(w, &name))).await
    }
}

/// STS and AWS Health.
pub(crate) struct SimCloud {
    pub(crate) inner: Arc<Inner>,
}

#[async_trait::async_trait]
impl Cloud for SimCloud {
    async fn caller_identity(&self, region: &str) -> Result<String> {
        self.inner.read(Scope::Region(region.into()), "sts:GetCallerIdentity", |_| Ok(ACCOUNT_ID.to_string())).await
    }

    async fn health_events(&self, region: &str, services: &[String]) -> Result<Vec<HealthEvent>> {
        // AWS Health is a global API (served from us-east-1); it answers about a dark region.
        self.inner
            .read(Scope::Global("health"), "health:DescribeEvents", |w| {
                let Some(since) = w.region(region).and_then(|r| r.dark_since) else {
                    return Ok(Vec::new());
                };
                let all = ["EC2", "RDS", "EKS"];
                Ok(all
                    .iter()
                    .filter(|s| services.is_empty() || services.iter().any(|x| x.eq_ignore_ascii_case(s)))
                    .map(|s| HealthEvent {
                        service: (*s).to_string(),
                        region: region.to_string(),
                        code: format!("AWS_{s}_OPERATIONAL_ISSUE"),
                        status: "open".into(),
                        start_time: Some(since),
                    })
                    .collect())
            })
            .await
    }
}

/// Records every notification.
pub(crate) struct SimNotifier {
    pub(crate) inner: Arc<Inner>,
}

fn destination_label(d: &Destination) -> String {
    match d {
        Destination::Channel { name } => format!("channel {name}"),
        Destination::StatusPage => "status-page".into(),
        Destination::Page { role } => {
            format!(
                "page {}",
                serde_json::to_value(role).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
            )
        }
        Destination::Webhook { name } => format!("webhook {name}"),
    }
}

#[async_trait::async_trait]
impl Notifier for SimNotifier {
    async fn notify(&self, notification: &Notification) -> Result<Delivery> {
        self.inner
            .mutate(Scope::Global("notifier"), "notify", false, |w, scope| {
                w.notifications.push(notification.clone());
                let n = w.notifications.len();
                w.log_op(
                    scope,
                    format!(
                        "notify {} {} -> {}",
                        notification.incident_id,
                        notification.kind,
                        destination_label(&notification.to)
                    ),
                    format!("Notification/{}/{n}", notification.incident_id),
                    "api",
                );
                Ok(Delivery::Delivered { reference: Some(format!("sim-{n}")) })
            })
            .await
    }
}

/// Log lines of a started pod.
pub(crate) fn log_lines(
    w: &World,
    pod: &Pod,
    behavior: PodBehavior,
    started_at: DateTime<Utc>,
    tail: u32,
) -> Vec<String> {
    let tail = usize::try_from(tail.min(1000)).unwrap_or(1000);
    let image = pod.images.first().and_then(|i| i.split_once('=')).map_or("app", |(_, i)| i);
    let custom = w.behavior(image).log;
    let app = pod.labels.get("app").cloned().unwrap_or_else(|| "app".into());
    let mut lines = Vec::new();
    match behavior {
        PodBehavior::Running => {
            let mut t = w.now;
            let mut i = 0u64;
            while lines.len() < tail && t > started_at {
                let line = if custom.is_empty() {
                    match i % 3 {
                        0 => format!("INFO {app}: GET /health 200 3ms"),
                        1 => format!("INFO {app}: POST /v1/predict 200 41ms"),
                        _ => format!("INFO {app}: GET /models 200 12ms"),
                    }
                } else {
                    custom[usize::try_from(i).unwrap_or(0) % custom.len()].clone()
                };
                lines.push(format!("{} {line}", t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
                t -= TimeDelta::seconds(1);
                i += 1;
            }
            lines.push(format!(
                "{} INFO {app}: started, listening on :8080",
                started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ));
            lines.truncate(tail);
            lines.reverse();
        }
        _ => {
            let body = if custom.is_empty() {
                match behavior {
                    PodBehavior::OomKilled => {
                        vec![format!("ERROR {app}: out of memory allocating model tensors; killed (exit code 137)")]
                    }
                    _ => vec![format!("ERROR {app}: fatal error during startup, exiting with code 1")],
                }
            } else {
                custom
            };
            let ts = w.now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            lines.push(format!("{ts} INFO {app}: starting {image}"));
            for l in body {
                lines.push(format!("{ts} {l}"));
            }
            let skip = lines.len().saturating_sub(tail);
            lines.drain(..skip);
        }
    }
    lines
}
