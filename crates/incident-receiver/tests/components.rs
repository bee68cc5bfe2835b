//! Components beside the receiver (a cluster's watch cache): their figures in `/metrics`, their state in
//! `/healthz`, and `/readyz` held back by a [`ReadyCheck`] until they are ready.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use incident_receiver::{Component, ReadyCheck, Receiver, ReceiverConfig};
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// A cache that syncs when told to.
#[derive(Default)]
struct Cache {
    synced: AtomicBool,
}

impl Component for Cache {
    fn name(&self) -> &str {
        "watch_cache"
    }
    fn metrics(&self) -> String {
        format!(
            "# HELP cache_synced Synced.\n# TYPE cache_synced gauge\ncache_synced {}\n",
            u8::from(self.synced.load(Ordering::SeqCst))
        )
    }
    fn health(&self) -> Value {
        json!({"synced": self.synced.load(Ordering::SeqCst)})
    }
}

#[async_trait::async_trait]
impl ReadyCheck for Cache {
    fn name(&self) -> &str {
        "watch_cache"
    }
    async fn check(&self) -> incident_core::Result<()> {
        if self.synced.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(incident_core::Error::unavailable("not synced: pods"))
        }
    }
}

async fn get(router: &axum::Router, path: &str) -> (StatusCode, String) {
    let req = Request::builder().uri(path).body(Body::empty()).expect("request");
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn a_component_shows_in_metrics_and_healthz_and_holds_readyz_until_ready() {
    let cache = Arc::new(Cache::default());
    let mut config = ReceiverConfig::new(Arc::new(incident_core::store::MemoryStore::new()));
    config.components.push(Arc::clone(&cache) as Arc<dyn Component>);
    config.ready_checks.push(Arc::clone(&cache) as Arc<dyn ReadyCheck>);
    let receiver = Receiver::start(config).await.expect("start");
    let router = receiver.router();

    let (status, body) = get(&router, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("watch_cache: not synced: pods"), "{body}");
    let (status, body) = get(&router, "/healthz").await;
    assert_eq!(status, StatusCode::OK, "liveness does not wait for the cache: {body}");
    let health: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(health, json!({"status": "ok", "components": {"watch_cache": {"synced": false}}}));
    let (_, metrics) = get(&router, "/metrics").await;
    assert!(metrics.contains("incident_receiver_open_groups") && metrics.ends_with("cache_synced 0\n"), "{metrics}");

    cache.synced.store(true, Ordering::SeqCst);
    let (status, body) = get(&router, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, metrics) = get(&router, "/metrics").await;
    assert!(metrics.ends_with("cache_synced 1\n"), "{metrics}");
    receiver.shutdown().await.expect("shutdown");
}
