//! [`SimPlatform`]: the shared world behind every simulated backend, its virtual clock, the call protocol
//! (latency, faults, operation log) and persistence.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::faults::{Draw, Faults, TIMEOUT_COST};
use super::scenario::{Expectations, Scenario, TimedEvent};
use super::state::{Corruption, SimOp, World, delta, key};
use crate::backend::{Backends, DatastoreProbe, Notification};
use crate::{Error, ErrorKind, Result};

/// How [`Clock::sleep`](crate::clock::Clock::sleep) on the simulated clock passes time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeMode {
    /// `tokio::time::sleep`: concurrent sleeps overlap (discrete-event time). Requires a runtime with paused
    /// time ([`super::runtime`] or `#[tokio::test(start_paused = true)]`); on a normal runtime sleeps
    /// take real time.
    #[default]
    Paused,
    /// Jump the virtual clock at once and yield: works on any runtime, but concurrent sleeps add up.
    Jump,
}

pub(crate) struct Inner {
    world: Mutex<World>,
    path: Option<PathBuf>,
    mode: Mutex<TimeMode>,
}

/// Where a call goes: decides darkness and the operation log's scope.
#[derive(Debug, Clone)]
pub(crate) enum Scope {
    /// A kube context.
    Context(String),
    /// An AWS region.
    Region(String),
    /// A global service (`route53`, `notifier`, `health`).
    Global(&'static str),
}

impl Scope {
    fn label(&self) -> String {
        match self {
            Self::Context(c) | Self::Region(c) => c.clone(),
            Self::Global(g) => (*g).to_string(),
        }
    }
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn mode(&self) -> TimeMode {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Persist (when file-backed). Called with the lock held so writes are ordered.
    fn save(&self, world: &World) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        save_to(path, world)
    }

    /// Advance virtual time to `t` (never backwards), apply due scenario events, persist.
    pub(crate) fn advance_to(&self, t: DateTime<Utc>) -> Result<()> {
        let mut w = self.lock();
        advance_world(&mut w, t);
        self.save(&w)
    }

    /// Sleep on the virtual clock.
    pub(crate) async fn sleep(&self, d: Duration) {
        let start = self.lock().now;
        let target = start + delta(d);
        match self.mode() {
            TimeMode::Jump => {
                let _ = self.advance_to(target);
                tokio::task::yield_now().await;
            }
            TimeMode::Paused => {
                let mut guard = SleepGuard { inner: self, start, began: tokio::time::Instant::now(), done: false };
                tokio::time::sleep(d).await;
                guard.done = true;
                let _ = self.advance_to(target);
            }
        }
    }

    /// The region a scope lives in.
    fn region_of(&self, w: &World, scope: &Scope) -> Option<String> {
        match scope {
            Scope::Context(c) => w.region_of_context(c).map(|r| r.name.clone()),
            Scope::Region(r) => Some(r.clone()),
            Scope::Global(_) => None,
        }
    }

    /// Pre-call bookkeeping: events, call counter, fault draw, darkness.
    fn begin(&self, scope: &Scope, what: &str, base: impl Fn(&World) -> Duration) -> (Duration, Draw) {
        let mut w = self.lock();
        apply_due_events(&mut w);
        w.calls += 1;
        let (extra, draw) = w.faults.draw(w.calls, what);
        let latency = base(&w) + extra;
        if let Some(region) = self.region_of(&w, scope) {
            if w.faults.is_dark(&region) {
                return (
                    latency,
                    Draw::Fail(Error::unavailable(format!(
                        "{what}: could not connect to the endpoint in {region} (region unavailable)"
                    ))),
                );
            }
        }
        (latency, draw)
    }

    /// A read: sleep its latency, then look at the world.
    pub(crate) async fn read<T>(
        &self,
        scope: Scope,
        what: &str,
        f: impl FnOnce(&World) -> Result<T> + Send,
    ) -> Result<T> {
        let (latency, draw) = self.begin(&scope, what, |w| w.latency.read);
        match draw {
            Draw::Ok => {
                self.sleep(latency).await;
                let w = self.lock();
                f(&w)
            }
            Draw::Fail(e) => {
                self.sleep(latency).await;
                Err(e)
            }
            Draw::Timeout { .. } => {
                self.sleep(TIMEOUT_COST).await;
                Err(Error::timeout(format!("{what}: request timed out")))
            }
        }
    }

    /// A mutation: apply (logging its operations), persist, then sleep its latency. A timeout may happen
    /// before applying, or after (then the error says the request may have been sent).
    pub(crate) async fn mutate<T>(
        &self,
        scope: Scope,
        what: &str,
        heavy: bool,
        f: impl FnOnce(&mut World, &str) -> Result<T> + Send,
    ) -> Result<T> {
        let (latency, draw) = self.begin(&scope, what, |w| if heavy { w.latency.heavy_write } else { w.latency.write });
        let label = scope.label();
        match draw {
            Draw::Ok => {
                let out = self.apply(&label, f);
                self.sleep(latency).await;
                out
            }
            Draw::Fail(e) => {
                self.sleep(latency).await;
                Err(e)
            }
            Draw::Timeout { after_apply: false } => {
                self.sleep(TIMEOUT_COST).await;
                Err(Error::timeout(format!("{what}: request timed out")))
            }
            Draw::Timeout { after_apply: true } => {
                let _ = self.apply(&label, f);
                self.sleep(TIMEOUT_COST).await;
                Err(Error::timeout(format!("{what}: request timed out waiting for the response")).request_maybe_sent())
            }
        }
    }

    fn apply<T>(&self, scope: &str, f: impl FnOnce(&mut World, &str) -> Result<T>) -> Result<T> {
        let mut w = self.lock();
        // all-or-nothing: a failing mutation leaves the world untouched.
        let before = w.clone();
        match f(&mut w, scope) {
            Ok(v) => {
                self.save(&w)?;
                Ok(v)
            }
            Err(e) => {
                *w = before;
                Err(e)
            }
        }
    }
}

/// Accounts for the virtual time of a sleep that was cancelled (e.g. by `tokio::time::timeout`).
struct SleepGuard<'a> {
    inner: &'a Inner,
    start: DateTime<Utc>,
    began: tokio::time::Instant,
    done: bool,
}

impl Drop for SleepGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            let elapsed = tokio::time::Instant::now().saturating_duration_since(self.began);
            let _ = self.inner.advance_to(self.start + delta(elapsed));
        }
    }
}

fn save_to(path: &Path, world: &World) -> Result<()> {
    let json = serde_json::to_vec(world).map_err(|e| Error::internal(format!("serialize sim state: {e}")))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, &json)
        .map_err(|e| Error::unavailable(format!("write sim state {}", tmp.display())).with_source(e))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| Error::unavailable(format!("rename sim state to {}", path.display())).with_source(e))
}

/// Apply every scenario event that is due at the world's `now`.
pub(crate) fn apply_due_events(w: &mut World) {
    let now = w.now;
    advance_world(w, now);
}

/// Move the world to `t` (never backwards), applying each due scenario event at its own instant.
pub(crate) fn advance_world(w: &mut World, t: DateTime<Utc>) {
    while let Some(ev) = w.events.get(w.next_event).cloned() {
        let at = w.started_at + ev.at.as_delta();
        if at > t {
            break;
        }
        if at > w.now {
            w.now = at;
        }
        w.next_event += 1;
        apply_event(w, &ev);
    }
    if t > w.now {
        w.now = t;
    }
}

fn apply_event(w: &mut World, ev: &TimedEvent) {
    let primary_ctx = w.primary_region().map(|r| r.context.clone()).unwrap_or_default();
    if let Some(d) = &ev.deploy {
        let ctx = d.context.clone().unwrap_or(primary_ctx.clone());
        let container = w
            .clusters
            .get(&ctx)
            .and_then(|c| c.deployments.get(&key(&d.namespace, &d.deployment)))
            .and_then(|dep| dep.template().keys().next().cloned())
            .unwrap_or_else(|| d.deployment.clone());
        let template: BTreeMap<String, String> = [(container, d.image.clone())].into();
        if w.rollout(&ctx, &d.namespace, &d.deployment, template, d.change_cause.clone()).is_ok() {
            w.log_op(
                &ctx,
                format!("set image {}/{} {}", d.namespace, d.deployment, d.image),
                format!("Deployment/{}/{}", d.namespace, d.deployment),
                "scenario",
            );
        }
    }
    if let Some(s) = &ev.scale {
        let ctx = s.context.clone().unwrap_or(primary_ctx.clone());
        let _ = scale_in(w, &ctx, &s.namespace, &s.deployment, s.replicas, "scenario");
    }
    if let Some(region) = &ev.region_dark {
        go_dark(w, region, "scenario");
    }
    if let Some(c) = &ev.corrupt {
        let instance = w.primary_region().map(|r| r.database.clone()).unwrap_or_default();
        let now = w.now;
        if let Some(ds) = w.datastores.get_mut(&c.datastore) {
            ds.corruption = Some(Corruption {
                since: now,
                instance: instance.clone(),
                unvalidated_constraints: c.unvalidated_constraints.clone(),
                findings: c.findings.clone(),
            });
        }
        w.log_op(
            "scenario",
            format!("corrupt {} on {instance}", c.datastore),
            format!("Datastore/{}", c.datastore),
            "scenario",
        );
    }
    if let Some(name) = &ev.datastore_down {
        if let Some(ds) = w.datastores.get_mut(name) {
            ds.down = true;
        }
        w.log_op("scenario", format!("datastore {name} down"), format!("Datastore/{name}"), "scenario");
    }
    if let Some(id) = &ev.database_fails {
        let mut region = String::new();
        for d in w.databases.iter_mut().filter(|d| &d.id == id) {
            d.status = "failed".into();
            d.transition = None;
            region.clone_from(&d.region);
        }
        w.log_op(&region, format!("db instance {id} failed"), format!("DBInstance/{id}"), "scenario");
    }
    if let Some(f) = &ev.faults {
        let dark = w.faults.dark_regions.clone();
        w.faults = f.clone();
        for r in dark {
            if !w.faults.dark_regions.contains(&r) {
                w.faults.dark_regions.push(r);
            }
        }
        w.log_op("scenario", "set faults".into(), "Faults".into(), "scenario");
    }
}

pub(crate) fn go_dark(w: &mut World, region: &str, origin: &str) {
    let now = w.now;
    if !w.faults.dark_regions.iter().any(|r| r == region) {
        w.faults.dark_regions.push(region.to_string());
    }
    for r in w.regions.iter_mut().filter(|r| r.name == region) {
        if r.dark_since.is_none() {
            r.dark_since = Some(now);
        }
    }
    w.log_op(region, format!("region {region} dark"), format!("Region/{region}"), origin);
}

pub(crate) fn scale_in(w: &mut World, ctx: &str, ns: &str, name: &str, replicas: u32, origin: &str) -> Result<()> {
    let now = w.now;
    let ready_after = delta(w.latency.pod_ready);
    let mut serial = w.serial;
    let cluster = w.cluster_mut(ctx)?;
    let ip = cluster.ip_prefix;
    let dep = cluster
        .deployments
        .get_mut(&key(ns, name))
        .ok_or_else(|| Error::not_found(format!("deployments.apps \"{name}\" not found in namespace {ns}")))?;
    let old = dep.replicas;
    dep.scale(replicas, now, ready_after, &mut serial, ip);
    let rs = dep.current.clone();
    w.serial = serial;
    if old != replicas {
        let dir = if replicas > old { "up" } else { "down" };
        w.push_event(
            ctx,
            ns,
            "ScalingReplicaSet",
            format!("Deployment/{name}"),
            format!("Scaled {dir} replica set {rs} to {replicas}"),
        );
    }
    w.log_op(ctx, format!("scale {ns}/{name} {old}->{replicas}"), format!("Deployment/{ns}/{name}"), origin);
    Ok(())
}

/// The simulated ML platform: one world shared by every backend it hands out.
///
/// Cheap to clone (an `Arc`). Create it from a [`Scenario`] in memory ([`SimPlatform::from_scenario`]) or
/// backed by a state file ([`SimPlatform::create`] / [`SimPlatform::open`]) that is rewritten atomically
/// after every mutation and every clock advance, so another process can continue the same world.
#[derive(Clone)]
pub struct SimPlatform {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for SimPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let w = self.inner.lock();
        f.debug_struct("SimPlatform")
            .field("scenario", &w.scenario)
            .field("now", &w.now)
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// One checked expectation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ExpectationOutcome {
    /// What was checked.
    pub check: String,
    /// Held.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

impl SimPlatform {
    fn with(world: World, path: Option<PathBuf>) -> Self {
        Self { inner: Arc::new(Inner { world: Mutex::new(world), path, mode: Mutex::new(TimeMode::default()) }) }
    }

    /// An in-memory platform built from `scenario`.
    ///
    /// # Errors
    /// `InvalidInput` when the scenario's world is inconsistent.
    pub fn from_scenario(scenario: &Scenario) -> Result<Self> {
        Ok(Self::with(World::build(scenario)?, None))
    }

    /// A file-backed platform built from `scenario`, written to `path` (which must not exist).
    ///
    /// # Errors
    /// `Conflict` if `path` exists; `InvalidInput` for a bad scenario; `Unavailable` on I/O errors.
    pub fn create(path: impl AsRef<Path>, scenario: &Scenario) -> Result<Self> {
        let path = path.as_ref();
        if path.exists() {
            return Err(Error::conflict(format!("sim state {} already exists", path.display())));
        }
        let world = World::build(scenario)?;
        save_to(path, &world)?;
        Ok(Self::with(world, Some(path.to_path_buf())))
    }

    /// Open the platform saved at `path`.
    ///
    /// # Errors
    /// `NotFound` when the file is missing; `InvalidInput` when it is not a sim state of this version.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::not_found(format!("no sim state at {}", path.display())));
            }
            Err(e) => {
                return Err(Error::unavailable(format!("read sim state {}", path.display())).with_source(e));
            }
        };
        let world: World = serde_json::from_slice(&text)
            .map_err(|e| Error::invalid_input(format!("sim state {} is not valid: {e}", path.display())))?;
        if world.format != super::state::FORMAT {
            return Err(Error::invalid_input(format!(
                "sim state {} has format {}, expected {}",
                path.display(),
                world.format,
                super::state::FORMAT
            )));
        }
        Ok(Self::with(world, Some(path.to_path_buf())))
    }

    /// Open `path`, or create it from `scenario` when missing.
    ///
    /// # Errors
    /// As [`SimPlatform::open`] and [`SimPlatform::create`].
    pub fn open_or_create(path: impl AsRef<Path>, scenario: &Scenario) -> Result<Self> {
        match Self::open(path.as_ref()) {
            Err(e) if e.kind() == ErrorKind::NotFound => Self::create(path, scenario),
            other => other,
        }
    }

    /// Every backend port, wired to this world.
    #[must_use]
    pub fn backends(&self) -> Backends {
        let mut probes: BTreeMap<String, Arc<dyn DatastoreProbe>> = BTreeMap::new();
        for name in ["postgres", "redis"] {
            probes.insert(name.into(), Arc::new(super::probes::SimDatastoreProbe::new(self.inner.clone(), name)));
        }
        Backends {
            clusters: Arc::new(super::cluster::SimClusters { inner: self.inner.clone() }),
            databases: Arc::new(super::rds::SimDatabases { inner: self.inner.clone() }),
            dns: Arc::new(super::dns::SimDns { inner: self.inner.clone() }),
            cloud: Arc::new(super::probes::SimCloud { inner: self.inner.clone() }),
            http: Arc::new(super::probes::SimHttp { inner: self.inner.clone() }),
            probes,
            notifier: Arc::new(super::probes::SimNotifier { inner: self.inner.clone() }),
            clock: Arc::new(self.clock()),
        }
    }

    /// The virtual clock.
    #[must_use]
    pub fn clock(&self) -> super::clock::SimClock {
        super::clock::SimClock { inner: self.inner.clone() }
    }

    /// Choose how sleeps pass time (default [`TimeMode::Paused`]).
    pub fn set_time_mode(&self, mode: TimeMode) {
        *self.inner.mode.lock().unwrap_or_else(PoisonError::into_inner) = mode;
    }

    /// The state file, when file-backed.
    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// The scenario this world was built from.
    #[must_use]
    pub fn scenario_name(&self) -> String {
        self.inner.lock().scenario.clone()
    }

    /// Virtual now.
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.lock().now
    }

    /// Virtual start of the scenario.
    #[must_use]
    pub fn started_at(&self) -> DateTime<Utc> {
        self.inner.lock().started_at
    }

    /// Virtual time since the start.
    #[must_use]
    pub fn elapsed(&self) -> TimeDelta {
        let w = self.inner.lock();
        w.now - w.started_at
    }

    /// Move virtual time forward by `d` without sleeping (applies due scenario events, persists).
    ///
    /// # Errors
    /// `Unavailable` when the state file cannot be written.
    pub fn advance(&self, d: Duration) -> Result<()> {
        let t = self.now() + delta(d);
        self.inner.advance_to(t)
    }

    /// Move virtual time to `started_at + offset` (never backwards).
    ///
    /// # Errors
    /// `Unavailable` when the state file cannot be written.
    pub fn advance_to_offset(&self, offset: Duration) -> Result<()> {
        let t = self.started_at() + delta(offset);
        self.inner.advance_to(t)
    }

    /// A copy of the whole world (compare two with `==`, or serialize it).
    #[must_use]
    pub fn world(&self) -> World {
        self.inner.lock().clone()
    }

    /// The world as pretty JSON.
    ///
    /// # Errors
    /// `Internal` if serialization fails.
    pub fn world_json(&self) -> Result<String> {
        serde_json::to_string_pretty(&*self.inner.lock())
            .map_err(|e| Error::internal(format!("serialize sim state: {e}")))
    }

    /// Every mutation so far, in order (reads are not logged).
    #[must_use]
    pub fn operation_log(&self) -> Vec<SimOp> {
        self.inner.lock().ops.clone()
    }

    /// Mutations made through the backends only (`origin == "api"`).
    #[must_use]
    pub fn api_operations(&self) -> Vec<SimOp> {
        self.inner.lock().ops.iter().filter(|o| o.origin == "api").cloned().collect()
    }

    /// Every notification delivered so far.
    #[must_use]
    pub fn notifications(&self) -> Vec<Notification> {
        self.inner.lock().notifications.clone()
    }

    /// The active faults.
    #[must_use]
    pub fn faults(&self) -> Faults {
        self.inner.lock().faults.clone()
    }

    /// Replace the active faults (dark regions included).
    ///
    /// # Errors
    /// `InvalidInput` for rates outside `0..=1`; `Unavailable` when the state file cannot be written.
    pub fn set_faults(&self, faults: Faults) -> Result<()> {
        faults.validate()?;
        let mut w = self.inner.lock();
        for r in &faults.dark_regions {
            let now = w.now;
            for reg in w.regions.iter_mut().filter(|x| &x.name == r && x.dark_since.is_none()) {
                reg.dark_since = Some(now);
            }
        }
        for reg in w.regions.iter_mut() {
            if !faults.dark_regions.contains(&reg.name) {
                reg.dark_since = None;
            }
        }
        w.faults = faults;
        self.inner.save(&w)
    }

    /// The region goes dark: every call to it fails with `Unavailable`, its endpoints answer 503, AWS
    /// Health reports open EC2/RDS/EKS events.
    ///
    /// # Errors
    /// `NotFound` for an unknown region; `Unavailable` when the state file cannot be written.
    pub fn region_goes_dark(&self, region: &str) -> Result<()> {
        let mut w = self.inner.lock();
        if w.region(region).is_none() {
            return Err(Error::not_found(format!("no region `{region}` in the simulated world")));
        }
        go_dark(&mut w, region, "scenario");
        self.inner.save(&w)
    }

    /// The region recovers (undoes [`SimPlatform::region_goes_dark`]).
    ///
    /// # Errors
    /// `Unavailable` when the state file cannot be written.
    pub fn region_recovers(&self, region: &str) -> Result<()> {
        let mut w = self.inner.lock();
        w.faults.dark_regions.retain(|r| r != region);
        for r in w.regions.iter_mut().filter(|r| r.name == region) {
            r.dark_since = None;
        }
        w.log_op(region, format!("region {region} recovered"), format!("Region/{region}"), "scenario");
        self.inner.save(&w)
    }

    /// Roll out `image` to a deployment's single container, like a CI deploy would (logged with origin
    /// `scenario`). Returns the new revision number.
    ///
    /// # Errors
    /// `NotFound` for an unknown context or deployment.
    pub fn deploy_image(
        &self,
        context: &str,
        namespace: &str,
        deployment: &str,
        image: &str,
        change_cause: Option<&str>,
    ) -> Result<u64> {
        let mut w = self.inner.lock();
        let container = w
            .cluster(context)?
            .deployments
            .get(&key(namespace, deployment))
            .and_then(|d| d.template().keys().next().cloned())
            .ok_or_else(|| {
                Error::not_found(format!("deployments.apps \"{deployment}\" not found in namespace {namespace}"))
            })?;
        w.rollout(
            context,
            namespace,
            deployment,
            [(container, image.to_string())].into(),
            change_cause.map(str::to_string),
        )?;
        w.log_op(
            context,
            format!("set image {namespace}/{deployment} {image}"),
            format!("Deployment/{namespace}/{deployment}"),
            "scenario",
        );
        let rev = w
            .cluster(context)?
            .deployments
            .get(&key(namespace, deployment))
            .map_or(0, super::state::DeploymentState::revision);
        self.inner.save(&w)?;
        Ok(rev)
    }

    /// Which region `name` resolves to for clients now (only in-sync DNS changes count).
    #[must_use]
    pub fn resolve(&self, name: &str) -> Option<String> {
        self.inner.lock().resolve(name)
    }

    /// Check a scenario's end-state expectations against the world now (no latency, no faults).
    #[must_use]
    pub fn verify(&self, expect: &Expectations) -> Vec<ExpectationOutcome> {
        super::verify::verify(&self.inner.lock(), expect)
    }
}
