//! The watch cache through what a production control plane does to it, on the real test control plane
//! (`scripts/services`): the apiserver restarts under it; and its watches are partitioned away while the
//! cluster changes, etcd is compacted past the versions they would resume from and the apiserver
//! restarts, so the apiserver answers `410 Gone` and the cache must LIST again. After each, every object
//! of the test's namespace is in the cache as a LIST shows it: created, changed and deleted objects
//! alike, none lost.
//!
//! The cache reaches the apiserver through a TCP relay the test can cut (a real apiserver behind a real
//! socket; the relay only forwards bytes). Compaction is done as the apiserver's own compactor does it
//! (`compact_rev_key` written in a compare-and-swap, then etcd's `Compact`), through etcd's JSON gateway.
//! A running apiserver's watch cache keeps serving its own history after such a compaction (measured on
//! kube-apiserver 1.35: a watch from version 1 still replayed minutes after it, across the apiserver's
//! own compactor tick); a restarted one holds no history from before its start, and etcd none from
//! before the compaction, so the old versions are gone for good, as after a long partition in
//! production.
//!
//! One test in its own binary: it restarts the shared apiserver, which no other test may see (cargo runs
//! test binaries one at a time).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;
use common::{Env, cleanup, deploy, env, env_or_skip, service};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use futures::StreamExt as _;
use incident_core::backend::Cluster;
use incident_k8s::{CacheHealth, CachedCluster, WatchCache, WatchCacheOptions};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, WatchEvent, WatchParams};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// A TCP relay to `upstream` that can be cut: live connections are reset and new ones refused until it
/// is restored. Its tasks end when it is dropped.
struct Relay {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    live: Arc<Mutex<JoinSet<()>>>,
    _accept: JoinSet<()>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the relay");
        let addr = listener.local_addr().expect("relay address");
        let open = Arc::new(AtomicBool::new(true));
        let live: Arc<Mutex<JoinSet<()>>> = Arc::default();
        let (o, l) = (Arc::clone(&open), Arc::clone(&live));
        let mut accept = JoinSet::new();
        accept.spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !o.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees its connection closed
                }
                l.lock().expect("relay").spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { addr, open, live, _accept: accept }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.live.lock().expect("relay").abort_all();
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

/// A POST to etcd's JSON gateway (keys and values in base64, 64-bit integers as strings).
fn etcd(url: &str, path: &str, body: &serde_json::Value) -> serde_json::Value {
    let out = std::process::Command::new("curl")
        .args(["-fsS", "-m", "20", "-X", "POST", &format!("{url}{path}"), "-d", &body.to_string()])
        .output()
        .expect("curl runs");
    assert!(out.status.success(), "etcd {path}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("etcd answers JSON")
}

fn int(v: &serde_json::Value) -> i64 {
    v.as_str().map_or(0, |s| s.parse().expect("an integer"))
}

/// Compact etcd to its current revision the way kube-apiserver's compactor does (so the apiserver's
/// watch cache learns of it too): compare-and-swap `compact_rev_key`'s version, write the revision into
/// it, then `Compact`. Returns the compacted revision.
fn compact(url: &str) -> i64 {
    let key = B64.encode("compact_rev_key");
    let got = etcd(url, "/v3/kv/range", &serde_json::json!({"key": key}));
    let version = got["kvs"].get(0).map_or(0, |kv| int(&kv["version"]));
    let rev = int(&got["header"]["revision"]);
    let txn = etcd(
        url,
        "/v3/kv/txn",
        &serde_json::json!({
            "compare": [{"target": "VERSION", "key": key, "version": version.to_string(), "result": "EQUAL"}],
            "success": [{"requestPut": {"key": key, "value": B64.encode(rev.to_string())}}],
        }),
    );
    assert_eq!(txn["succeeded"], true, "another compactor raced the test: {txn}");
    etcd(url, "/v3/kv/compaction", &serde_json::json!({"revision": rev.to_string(), "physical": true}));
    rev
}

fn restart_apiserver() {
    let script = env_or_skip("INCIDENT_TEST_CONTROL_PLANE").expect("INCIDENT_TEST_CONTROL_PLANE");
    let out = std::process::Command::new("sh")
        .args(["-c", &format!("{script} restart-apiserver")])
        .output()
        .expect("the control-plane script runs");
    assert!(out.status.success(), "restart-apiserver: {}", String::from_utf8_lossy(&out.stderr));
}

fn counters(h: &CacheHealth) -> (u64, u64) {
    h.kinds.iter().fold((0, 0), |(l, r), k| (l + k.relists, r + k.restarts))
}

/// Wait until every list read of the namespace from the cache equals the LIST of it; then the names of
/// its deployments.
async fn caught_up(what: &str, cached: &CachedCluster, live: &dyn Cluster, ns: &str) -> Vec<String> {
    let all = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let same = async {
            Some(
                cached.pods(Some(ns), &all).await.ok()? == live.pods(Some(ns), &all).await.ok()?
                    && cached.deployments(ns).await.ok()? == live.deployments(ns).await.ok()?
                    && cached.services(ns).await.ok()? == live.services(ns).await.ok()?
                    && cached.endpoints(ns).await.ok()? == live.endpoints(ns).await.ok()?,
            )
        }
        .await;
        if same == Some(true) {
            let mut names: Vec<String> =
                cached.deployments(ns).await.expect("deployments").into_iter().map(|d| d.name).collect();
            names.sort();
            return names;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: the cache did not catch up with the cluster in 120 s: {:#?}",
            cached.cache().health()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn delete_deployment(e: &Env, name: &str) {
    let api: Api<Deployment> = Api::namespaced(e.admin.clone(), &e.ns);
    api.delete(name, &DeleteParams::default()).await.expect("delete deployment");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_loses_nothing_across_an_apiserver_restart_and_a_410_gone() {
    let Some(e) = env("wcache-disrupt").await else { return };
    let Some(etcd_url) = env_or_skip("INCIDENT_TEST_ETCD_URL") else { return };
    let sa_cfg = env_or_skip("INCIDENT_TEST_KUBECONFIG_SA").expect("sa kubeconfig");

    // The cache's client: the service account's, through the relay.
    let kubeconfig = kube::config::Kubeconfig::read_from(&sa_cfg).expect("read the kubeconfig");
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .expect("kube config");
    let upstream: SocketAddr =
        config.cluster_url.authority().expect("apiserver address").as_str().parse().expect("ip:port");
    let relay = Relay::start(upstream).await;
    config.cluster_url = format!("https://{}", relay.addr).parse().expect("relay url");
    let client = kube::Client::try_from(config).expect("client");
    let cache = WatchCache::start(&client, "relayed", &WatchCacheOptions::default());
    let cached = CachedCluster::new(Arc::clone(&cache), Arc::clone(&e.sa) as Arc<dyn Cluster>);
    let live: &dyn Cluster = &*e.sa;

    deploy(&e, "steady", "registry.example/steady:1", false).await;
    deploy(&e, "doomed", "registry.example/doomed:1", false).await;
    service(&e, "steady", "steady").await;
    cache.wait_synced(Duration::from_secs(60)).await.expect("the cache syncs");
    assert_eq!(caught_up("synced", &cached, live, &e.ns).await, ["doomed", "steady"]);

    // 1. The apiserver restarts: every watch breaks and fails while it is down, then resumes; what
    //    changed right after the restart arrives.
    let (relists0, restarts0) = counters(&cache.health());
    restart_apiserver();
    deploy(&e, "reborn", "registry.example/reborn:1", false).await;
    deploy(&e, "steady", "registry.example/steady:2", false).await;
    delete_deployment(&e, "doomed").await;
    assert_eq!(caught_up("after the restart", &cached, live, &e.ns).await, ["reborn", "steady"]);
    let (relists1, restarts1) = counters(&cache.health());
    assert!(restarts1 > restarts0, "the restart broke the watches: {:#?}", cache.health());
    let images: Vec<String> =
        cached.deployments(&e.ns).await.expect("deployments").into_iter().flat_map(|d| d.images).collect();
    assert!(images.contains(&"steady=registry.example/steady:2".to_owned()), "{images:?}");

    // 2. Partitioned while the cluster changes, etcd is compacted past the versions the watches would
    //    resume from and the apiserver restarts: it answers 410 Gone, each kind LISTs again, and the new
    //    table holds the creates, updates and deletes it missed.
    relay.cut();
    deploy(&e, "unseen", "registry.example/unseen:1", false).await;
    deploy(&e, "reborn", "registry.example/reborn:2", false).await;
    service(&e, "unseen", "unseen").await;
    delete_deployment(&e, "steady").await;
    let compacted = compact(&etcd_url);
    restart_apiserver();
    relay.restore();
    assert_eq!(caught_up("after the 410", &cached, live, &e.ns).await, ["reborn", "unseen"]);
    let health = cache.health();
    let (relists2, _) = counters(&health);
    assert!(relists2 > relists1, "a 410 Gone makes the kinds LIST again (compacted at {compacted}): {health:#?}");
    assert!(health.synced(), "{health:#?}");
    let services: Vec<String> = cached.services(&e.ns).await.expect("services").into_iter().map(|s| s.name).collect();
    assert_eq!(services, ["steady", "unseen"]);

    // The event the relist answered, as the apiserver sends it (`tests/watch_cache_relist.rs` plays the
    // same one to the cache): a watch from a compacted version ends in ERROR 410 Expired.
    let pods: Api<Pod> = Api::all(e.sa.client().clone());
    let mut stream = pods.watch(&WatchParams::default().timeout(5), "1").await.expect("the watch starts").boxed();
    match stream.next().await {
        Some(Ok(WatchEvent::Error(s))) => {
            assert_eq!((s.code, s.reason.as_str()), (410, "Expired"), "{s:?}");
            assert!(s.message.starts_with("too old resource version: 1 ("), "{s:?}");
        }
        other => panic!("expected a 410 Gone event, got {other:?}"),
    }
    eprintln!(
        "watch cache: relists {relists0} -> {relists1} (restart) -> {relists2} (compaction at revision {compacted})"
    );
    cleanup(&e).await;
}
