//! The watch cache: kube-rs watchers on pods, nodes, events, deployments, ReplicaSets, services and
//! EndpointSlices, each kept as the lean values triage reads ([`kinds`]), so a triage of a synced cache
//! reads memory instead of LISTing the apiserver.
//!
//! * **Sync**: each kind LISTs (500 a page) and then watches from the LIST's `resourceVersion`, with
//!   bookmarks on. A kind is *synced* once its first LIST is complete; a relist (after `410 Gone`, when
//!   the apiserver no longer has the version the watch would resume from) swaps its table when the new
//!   LIST is complete, so a kind never shows half a LIST.
//! * **Freshness**: every byte the apiserver sends for a kind (a LIST page, a watch event, a bookmark)
//!   stamps it; the cache's age is the time since the stalest kind's last stamp. The apiserver sends a
//!   bookmark to an idle watch about once a minute.
//! * **Bounded**: events are kept for [`WatchCacheOptions::max_event_age`] and at most
//!   [`WatchCacheOptions::max_events`] (the oldest go first); every other kind is as large as the
//!   cluster, in the lean form.
//! * **Errors** (watch disconnects, RBAC denials) are counted and retried with kube-rs's default backoff
//!   (up to 30 s); the last one is kept for [`KindHealth::last_error`].

mod cluster;
mod kinds;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::StreamExt as _;
use incident_core::backend::{ClusterEvent, Endpoints, Node, Pod, Revision, Service};
use incident_core::clock::{Clock, SystemClock};
use incident_core::{Error, Result};
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use cluster::CachedCluster;
use kinds::{
    CachedDeployment, CachedReplicaSet, Deployments, EndpointSlices, Events, Key, Kind, Lean, Limits, Nodes, Pods,
    ReplicaSets, Services,
};

/// Tuning of a [`WatchCache`].
#[derive(Debug, Clone)]
pub struct WatchCacheOptions {
    /// Page size of the LISTs that (re)fill a kind.
    pub page_size: u32,
    /// Events kept at most (the oldest are dropped first).
    pub max_events: usize,
    /// Events last seen longer ago than this are dropped (the apiserver's default `--event-ttl` is 1 h).
    pub max_event_age: Duration,
    /// The wall clock event ages are measured on.
    pub clock: Arc<dyn Clock>,
}

impl Default for WatchCacheOptions {
    fn default() -> Self {
        Self {
            page_size: 500,
            max_events: 50_000,
            max_event_age: Duration::from_secs(3600),
            clock: Arc::new(SystemClock),
        }
    }
}

/// Milliseconds since the cache started, plus one (0: never).
#[derive(Debug, Default)]
struct Stamp(AtomicU64);

impl Stamp {
    fn touch(&self, epoch: Instant) {
        let ms = u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1;
        self.0.fetch_max(ms, Ordering::Relaxed);
    }

    /// Time since the last touch, `None` if never.
    fn age(&self, epoch: Instant) -> Option<Duration> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(epoch.elapsed().saturating_sub(Duration::from_millis(ms - 1))),
        }
    }
}

/// Counters and stamps of one kind.
#[derive(Debug, Default)]
struct Stats {
    synced: AtomicBool,
    objects: AtomicU64,
    lists: AtomicU64,
    errors: AtomicU64,
    evicted: AtomicU64,
    last_event: Stamp,
    /// Shared with the kind's client, which stamps every response and every body chunk.
    heard: Arc<Stamp>,
    last_error: Mutex<Option<String>>,
}

/// One kind's table: the objects, and the next table while a (re)LIST fills it.
struct Table<V> {
    items: BTreeMap<Key, V>,
    next: Option<BTreeMap<Key, V>>,
}

struct Shelf<K: Kind> {
    table: RwLock<Table<K::Value>>,
    stats: Stats,
}

impl<K: Kind> Shelf<K> {
    fn new() -> Self {
        Self { table: RwLock::new(Table { items: BTreeMap::new(), next: None }), stats: Stats::default() }
    }

    fn read<T>(&self, f: impl FnOnce(&BTreeMap<Key, K::Value>) -> T) -> T {
        let t = self.table.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&t.items)
    }

    fn apply(&self, event: Event<Lean<K>>, limits: &Limits, clock: &dyn Clock, epoch: Instant) {
        let mut t = self.table.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut trimmed = 0;
        match event {
            Event::Init => {
                // kube-rs says Init before each LIST *attempt*; one that fails is a restart, not a list.
                t.next = Some(BTreeMap::new());
            }
            Event::InitApply(o) => {
                let next = t.next.get_or_insert_with(BTreeMap::new);
                next.insert(o.key(), o.value);
                if next.len() > limits.max_events {
                    trimmed = K::trim(next, limits, clock.now());
                }
            }
            Event::InitDone => {
                let mut next = t.next.take().unwrap_or_default();
                trimmed = K::trim(&mut next, limits, clock.now());
                t.items = next;
                self.stats.lists.fetch_add(1, Ordering::Relaxed);
                self.stats.synced.store(true, Ordering::Relaxed);
                self.stats.last_event.touch(epoch);
            }
            Event::Apply(o) => {
                t.items.insert(o.key(), o.value);
                if t.items.len() > limits.max_events {
                    trimmed = K::trim(&mut t.items, limits, clock.now());
                }
                self.stats.last_event.touch(epoch);
            }
            Event::Delete(o) => {
                t.items.remove(&o.key());
                self.stats.last_event.touch(epoch);
            }
        }
        self.stats.evicted.fetch_add(trimmed, Ordering::Relaxed);
        self.stats.objects.store(t.items.len() as u64, Ordering::Relaxed);
    }
}

/// Follow one kind until the cache is dropped (the task is aborted then).
async fn follow<K: Kind>(
    client: Client,
    shelf: Arc<Shelf<K>>,
    page_size: u32,
    limits: Limits,
    clock: Arc<dyn Clock>,
    epoch: Instant,
) {
    let api: Api<Lean<K>> = Api::all(client);
    let config = watcher::Config::default().page_size(page_size);
    let mut stream = watcher::watcher(api, config).default_backoff().boxed();
    let mut last_trim = Instant::now();
    while let Some(event) = stream.next().await {
        match event {
            Ok(event) => shelf.apply(event, &limits, &*clock, epoch),
            Err(e) => {
                shelf.stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(kind = K::NAME, error = %e, "watch cache: watch error, retrying");
                *shelf.stats.last_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e.to_string());
            }
        }
        // Ages pass without events: trim by age once a minute whatever arrives.
        if last_trim.elapsed() >= Duration::from_secs(60) {
            last_trim = Instant::now();
            let mut t = shelf.table.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            let n = K::trim(&mut t.items, &limits, clock.now());
            shelf.stats.evicted.fetch_add(n, Ordering::Relaxed);
            shelf.stats.objects.store(t.items.len() as u64, Ordering::Relaxed);
        }
    }
}

/// A response body that stamps its kind each time a chunk arrives (watch events and bookmarks are
/// chunks of one long response).
struct Heard<B> {
    body: B,
    stamp: Option<Arc<Stamp>>,
    epoch: Instant,
}

impl<B> http_body::Body for Heard<B>
where
    B: http_body::Body<Data = bytes::Bytes> + Unpin,
{
    type Data = bytes::Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let (Poll::Ready(Some(Ok(_))), Some(stamp)) = (&polled, &self.stamp) {
            stamp.touch(self.epoch);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// `base` with every successful response (and each chunk of its body) stamping `stamp`.
fn heard_client(base: &Client, stamp: Arc<Stamp>, epoch: Instant) -> Client {
    let inner = base.clone();
    let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let (client, stamp) = (inner.clone(), Arc::clone(&stamp));
        async move {
            let resp = client.send(req).await?;
            // An error's body (a 403, a 500) says nothing about the data: only successes stamp.
            let stamp = resp.status().is_success().then(|| {
                stamp.touch(epoch);
                stamp
            });
            Ok::<_, kube::Error>(resp.map(|body| Heard { body, stamp, epoch }))
        }
    });
    Client::new(service, base.default_namespace().to_owned())
}

/// One kind's health, as `/metrics` and `/readyz` report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindHealth {
    /// The resource (`pods`, `nodes`, `events`, `deployments`, `replicasets`, `services`, `endpointslices`).
    pub kind: &'static str,
    /// Its first LIST is complete (a relist keeps the previous table until the new one is).
    pub synced: bool,
    /// Objects held.
    pub objects: u64,
    /// Time since the last object added, changed or deleted (or the last LIST completed).
    pub last_event_age: Option<Duration>,
    /// Time since the apiserver last sent anything for this kind (an object, a bookmark, a LIST page).
    pub last_heard_age: Option<Duration>,
    /// Completed LISTs after the first (a relist after `410 Gone`, or after a watch that could not be
    /// resumed); an attempt that fails counts in `restarts` only.
    pub relists: u64,
    /// Watch errors (disconnects, expired versions, denials); the watch restarts after each.
    pub restarts: u64,
    /// Events dropped by age or count (0 for the other kinds).
    pub evicted: u64,
    /// The last error, if any.
    pub last_error: Option<String>,
}

/// The health of a [`WatchCache`]: per kind, synced or not, counts, ages and counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheHealth {
    /// The kubeconfig context the cache follows.
    pub context: String,
    /// One entry per kind, in a fixed order.
    pub kinds: Vec<KindHealth>,
}

impl CacheHealth {
    /// Every kind is synced.
    #[must_use]
    pub fn synced(&self) -> bool {
        self.kinds.iter().all(|k| k.synced)
    }

    /// How long ago the apiserver last confirmed the cache current: the stalest kind's
    /// [`KindHealth::last_heard_age`]; `None` until every kind has heard from it.
    #[must_use]
    pub fn age(&self) -> Option<Duration> {
        self.kinds.iter().map(|k| k.last_heard_age).try_fold(Duration::ZERO, |a, b| b.map(|b| a.max(b)))
    }

    /// Why the cache is not ready yet (`not synced: pods, events (last error: ...)`), `None` when it is.
    #[must_use]
    pub fn not_ready(&self) -> Option<String> {
        let waiting: Vec<String> = self
            .kinds
            .iter()
            .filter(|k| !k.synced)
            .map(|k| match &k.last_error {
                Some(e) => format!("{} (last error: {e})", k.kind),
                None => k.kind.to_owned(),
            })
            .collect();
        (!waiting.is_empty()).then(|| format!("watch cache of {} not synced: {}", self.context, waiting.join(", ")))
    }

    /// The Prometheus text exposition (version 0.0.4) of these figures, labelled `context` and `kind`:
    /// `incident_watch_cache_synced`, `_objects`, `_last_event_age_seconds`,
    /// `_last_heard_age_seconds` (gauges; the ages absent until the first event), `_relists_total`,
    /// `_restarts_total` and `_evicted_total` (counters).
    #[must_use]
    pub fn to_prometheus(&self) -> String {
        type Get = fn(&KindHealth) -> Option<f64>;
        let metrics: [(&str, &str, &str, Get); 7] = [
            ("synced", "gauge", "1 once the kind's first LIST is complete", |k| Some(f64::from(u8::from(k.synced)))),
            ("objects", "gauge", "objects held", |k| Some(k.objects as f64)),
            ("last_event_age_seconds", "gauge", "seconds since the last object change or completed LIST", |k| {
                k.last_event_age.map(|d| d.as_secs_f64())
            }),
            (
                "last_heard_age_seconds",
                "gauge",
                "seconds since the apiserver last sent anything (bookmarks too)",
                |k| k.last_heard_age.map(|d| d.as_secs_f64()),
            ),
            ("relists_total", "counter", "LISTs after the first (410 Gone, unresumable watches)", |k| {
                Some(k.relists as f64)
            }),
            ("restarts_total", "counter", "watch errors, each followed by a restart of the watch", |k| {
                Some(k.restarts as f64)
            }),
            ("evicted_total", "counter", "events dropped by age or count", |k| Some(k.evicted as f64)),
        ];
        let mut out = String::new();
        let context = self.context.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        for (name, kind, help, get) in metrics {
            let _ = writeln!(out, "# HELP incident_watch_cache_{name} Watch cache: {help}.");
            let _ = writeln!(out, "# TYPE incident_watch_cache_{name} {kind}");
            for k in &self.kinds {
                if let Some(v) = get(k) {
                    let _ =
                        writeln!(out, "incident_watch_cache_{name}{{context=\"{context}\",kind=\"{}\"}} {v}", k.kind);
                }
            }
        }
        out
    }
}

/// A watch cache of one cluster (see the [module docs](self)). Its watchers run on the tokio runtime
/// that started it until the cache is dropped.
pub struct WatchCache {
    context: String,
    epoch: Instant,
    pods: Arc<Shelf<Pods>>,
    nodes: Arc<Shelf<Nodes>>,
    events: Arc<Shelf<Events>>,
    deployments: Arc<Shelf<Deployments>>,
    replica_sets: Arc<Shelf<ReplicaSets>>,
    services: Arc<Shelf<Services>>,
    slices: Arc<Shelf<EndpointSlices>>,
    limits: Limits,
    clock: Arc<dyn Clock>,
    _tasks: JoinSet<()>,
}

impl std::fmt::Debug for WatchCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchCache").field("context", &self.context).finish_non_exhaustive()
    }
}

impl WatchCache {
    /// Start following the cluster of `client` (named `context` in health and metrics). Must be called
    /// inside a tokio runtime, which runs the watchers. Returns at once; see [`WatchCache::wait_synced`].
    #[must_use]
    pub fn start(client: &Client, context: impl Into<String>, opts: &WatchCacheOptions) -> Arc<Self> {
        let epoch = Instant::now();
        let limits = Limits {
            max_events: opts.max_events.max(1),
            max_event_age: chrono::TimeDelta::from_std(opts.max_event_age).unwrap_or(chrono::TimeDelta::MAX),
        };
        let mut tasks = JoinSet::new();
        let cache = Self {
            context: context.into(),
            epoch,
            pods: Arc::new(Shelf::new()),
            nodes: Arc::new(Shelf::new()),
            events: Arc::new(Shelf::new()),
            deployments: Arc::new(Shelf::new()),
            replica_sets: Arc::new(Shelf::new()),
            services: Arc::new(Shelf::new()),
            slices: Arc::new(Shelf::new()),
            limits,
            clock: Arc::clone(&opts.clock),
            _tasks: JoinSet::new(),
        };
        let page = opts.page_size.max(1);
        macro_rules! follow {
            ($shelf:expr) => {{
                let shelf = Arc::clone(&$shelf);
                let client = heard_client(client, Arc::clone(&shelf.stats.heard), epoch);
                tasks.spawn(follow(client, shelf, page, limits, Arc::clone(&opts.clock), epoch));
            }};
        }
        follow!(cache.pods);
        follow!(cache.nodes);
        follow!(cache.events);
        follow!(cache.deployments);
        follow!(cache.replica_sets);
        follow!(cache.services);
        follow!(cache.slices);
        Arc::new(Self { _tasks: tasks, ..cache })
    }

    /// The context this cache follows.
    #[must_use]
    pub fn context(&self) -> &str {
        &self.context
    }

    fn stats(&self) -> [(&'static str, &Stats); 7] {
        [
            (Pods::NAME, &self.pods.stats),
            (Nodes::NAME, &self.nodes.stats),
            (Events::NAME, &self.events.stats),
            (Deployments::NAME, &self.deployments.stats),
            (ReplicaSets::NAME, &self.replica_sets.stats),
            (Services::NAME, &self.services.stats),
            (EndpointSlices::NAME, &self.slices.stats),
        ]
    }

    /// Every kind's first LIST is complete.
    #[must_use]
    pub fn synced(&self) -> bool {
        self.stats().iter().all(|(_, s)| s.synced.load(Ordering::Relaxed))
    }

    /// Per-kind health now.
    #[must_use]
    pub fn health(&self) -> CacheHealth {
        let kinds = self
            .stats()
            .into_iter()
            .map(|(kind, s)| KindHealth {
                kind,
                synced: s.synced.load(Ordering::Relaxed),
                objects: s.objects.load(Ordering::Relaxed),
                last_event_age: s.last_event.age(self.epoch),
                last_heard_age: s.heard.age(self.epoch),
                relists: s.lists.load(Ordering::Relaxed).saturating_sub(1),
                restarts: s.errors.load(Ordering::Relaxed),
                evicted: s.evicted.load(Ordering::Relaxed),
                last_error: s.last_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone(),
            })
            .collect();
        CacheHealth { context: self.context.clone(), kinds }
    }

    /// Wait until every kind is synced, at most `timeout`.
    ///
    /// # Errors
    /// `Timeout` naming the kinds not synced (and their last errors).
    pub async fn wait_synced(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while !self.synced() {
            if Instant::now() >= deadline {
                let why = self.health().not_ready().unwrap_or_default();
                return Err(Error::timeout(format!("{why} after {}s", timeout.as_secs())));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    // ---- reads (callers check `synced` first) ----

    pub(crate) fn pods(&self, namespace: Option<&str>, selector: &BTreeMap<String, String>) -> Vec<Pod> {
        self.pods.read(|items| {
            in_namespace(items, namespace)
                .filter(|p| selector.iter().all(|(k, v)| p.labels.get(k) == Some(v)))
                .cloned()
                .collect()
        })
    }

    pub(crate) fn nodes(&self) -> Vec<Node> {
        self.nodes.read(|items| items.values().cloned().collect())
    }

    pub(crate) fn events(&self, namespace: Option<&str>) -> Vec<ClusterEvent> {
        let oldest = self.clock.now() - self.limits.max_event_age;
        self.events
            .read(|items| in_namespace(items, namespace).filter(|e| e.last_timestamp >= oldest).cloned().collect())
    }

    pub(crate) fn deployments(&self, namespace: &str) -> Vec<incident_core::backend::Deployment> {
        self.deployments.read(|items| in_namespace(items, Some(namespace)).map(|d| d.deployment.clone()).collect())
    }

    /// `kubectl rollout history`: the revisions of the ReplicaSets the deployment controls, oldest first
    /// (as [`crate::rollout::history`] reads them from a LIST).
    pub(crate) fn rollout_history(&self, namespace: &str, name: &str) -> Result<Vec<Revision>> {
        let uid = self
            .deployments
            .read(|items| items.get(&(namespace.to_owned(), name.to_owned())).map(|d: &CachedDeployment| d.uid.clone()))
            .ok_or_else(|| Error::not_found(format!("deployments.apps {name:?} not found in namespace {namespace}")))?;
        let mut h: Vec<Revision> = self.replica_sets.read(|items| {
            in_namespace(items, Some(namespace))
                .filter(|rs: &&CachedReplicaSet| !uid.is_empty() && rs.controller.as_deref() == Some(uid.as_str()))
                .map(|rs| rs.revision.clone())
                .filter(|r| r.revision > 0)
                .collect()
        });
        h.sort_by_key(|r| r.revision);
        Ok(h)
    }

    pub(crate) fn services(&self, namespace: &str) -> Vec<Service> {
        self.services.read(|items| in_namespace(items, Some(namespace)).cloned().collect())
    }

    pub(crate) fn endpoints(&self, namespace: &str) -> Vec<Endpoints> {
        self.slices.read(|items| crate::convert::group(in_namespace(items, Some(namespace))))
    }
}

/// The values of `namespace` (all when `None`), in key order.
fn in_namespace<'a, V>(items: &'a BTreeMap<Key, V>, namespace: Option<&str>) -> Box<dyn Iterator<Item = &'a V> + 'a> {
    match namespace {
        None => Box::new(items.values()),
        Some(ns) => {
            let ns = ns.to_owned();
            Box::new(items.range((ns.clone(), String::new())..).take_while(move |((n, _), _)| *n == ns).map(|(_, v)| v))
        }
    }
}
