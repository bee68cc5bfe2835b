//! The watch cache of `incident serve --kube/--kubeconfig`: the served cluster's reads go through an
//! [`incident_k8s::WatchCache`] (triage of the evidence driver and of the first response reads memory
//! instead of LISTing), whose health the receiver shows in `/metrics` and `/healthz` and whose sync
//! `/readyz` waits for. `--no-watch-cache` turns it off.

use std::sync::Arc;

use incident_backends::BackendSet;
use incident_core::backend::Cluster;
use incident_k8s::{CacheHealth, WatchCache, WatchCacheOptions};
use incident_receiver::{Component, ReadyCheck, ReceiverConfig};
use serde_json::{Value, json};

/// How long `/readyz` waits for the cache's sync. Past it the receiver takes traffic anyway and triage
/// LISTs: alerts must not wait on a cache that cannot sync (a role without `watch` on a kind, say); the
/// cache keeps trying, and `/healthz` and `/metrics` show which kind is not synced and why.
const SYNC_GRACE: std::time::Duration = std::time::Duration::from_secs(120);

/// The cache as the receiver sees it, and when it started.
struct Health(Arc<WatchCache>, tokio::time::Instant);

fn ms(d: Option<std::time::Duration>) -> Value {
    d.map_or(Value::Null, |d| json!(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)))
}

fn to_json(h: &CacheHealth) -> Value {
    let kinds: serde_json::Map<String, Value> = h
        .kinds
        .iter()
        .map(|k| {
            let v = json!({
                "synced": k.synced, "objects": k.objects, "last_event_age_ms": ms(k.last_event_age),
                "last_heard_age_ms": ms(k.last_heard_age), "relists": k.relists, "restarts": k.restarts,
                "evicted": k.evicted, "last_error": k.last_error,
            });
            (k.kind.to_owned(), v)
        })
        .collect();
    json!({"context": h.context, "synced": h.synced(), "age_ms": ms(h.age()), "kinds": kinds})
}

impl Component for Health {
    fn name(&self) -> &str {
        "watch_cache"
    }

    fn metrics(&self) -> String {
        self.0.health().to_prometheus()
    }

    fn health(&self) -> Value {
        to_json(&self.0.health())
    }
}

#[async_trait::async_trait]
impl ReadyCheck for Health {
    fn name(&self) -> &str {
        "watch_cache"
    }

    async fn check(&self) -> incident_core::Result<()> {
        match self.0.health().not_ready() {
            None => Ok(()),
            Some(_) if self.1.elapsed() >= SYNC_GRACE => Ok(()),
            Some(why) => Err(incident_core::Error::unavailable(format!(
                "{why} (ready without it, reading by LIST, {}s after the start)",
                SYNC_GRACE.as_secs()
            ))),
        }
    }
}

/// `cluster` with its reads behind a watch cache registered with the receiver, unless `off` or the
/// context cannot be watched (an EKS context: said on stderr, and it is read by LIST).
pub(crate) async fn attach(
    cluster: Option<(BackendSet, Arc<dyn Cluster>)>,
    off: bool,
    config: &mut ReceiverConfig,
) -> Option<(BackendSet, Arc<dyn Cluster>)> {
    let (set, live) = cluster?;
    if off {
        return Some((set, live));
    }
    match set.with_watch_cache(Some(live.context()), WatchCacheOptions::default()).await {
        Ok((cached, cache)) => {
            let health = Arc::new(Health(Arc::clone(&cache), tokio::time::Instant::now()));
            config.components.push(Arc::clone(&health) as Arc<dyn Component>);
            config.ready_checks.push(health);
            eprintln!(
                "incident serve: watch cache of context {}: pods, nodes, events, deployments, ReplicaSets, \
                 services, EndpointSlices (GET /readyz waits for its sync, {}s at most; --no-watch-cache to \
                 read by LIST)",
                cache.context(),
                SYNC_GRACE.as_secs()
            );
            match cached.backends().clusters.cluster(live.context()).await {
                Ok(c) => Some((cached, c)),
                Err(_) => Some((set, live)),
            }
        }
        Err(e) => {
            eprintln!("incident serve: no watch cache, the cluster is read by LIST: {}", e.message());
            Some((set, live))
        }
    }
}
