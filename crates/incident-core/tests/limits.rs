//! Resource bounds, each tested exactly at its limit (the limit passes, one more is refused with a precise
//! message): payload size and alerts per payload (ingest), events per incident (timeline, executor),
//! concurrency of triage log scans and reads, the retry budget of a step, and the longest duration.
#![cfg(feature = "sim")] // the simulator: `cargo test -p incident-core --features sim`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use incident_core::backend::{
    Applied, Cluster, ClusterEvent, Clusters, ConfigMap, Deployment, Endpoints, Manifest, Node, Pod, Revision,
    RolloutStatus, ServerHealth, Service, Usage,
};
use incident_core::engine::{Approval, Executor, StepStatus, library};
use incident_core::incident::{DeclareRequest, Incident};
use incident_core::ingest::{parse_alertmanager, parse_pagerduty};
use incident_core::sim::{Scenario, SimPlatform};
use incident_core::store::{MemoryStore, RunStatus, Store};
use incident_core::timeline::{DEFAULT_MAX_EVENTS, EventKind, Timeline};
use incident_core::triage::{TriageOptions, triage};
use incident_core::{Error, ErrorKind, HumanDuration, Policy, Result, Severity};

fn fixture(path: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

// ---------------------------------------------------------------------------------------------------------
// Ingest
// ---------------------------------------------------------------------------------------------------------

#[test]
fn payload_size_limit_is_exact_for_both_sources() {
    type Parse = fn(&[u8], &Policy) -> Result<incident_core::ingest::AlertBatch>;
    let sources: [(&str, &str, Parse); 2] = [
        ("alertmanager/firing-mixed.json", "alertmanager payload", parse_alertmanager),
        ("pagerduty/batch-lifecycle.json", "pagerduty event", parse_pagerduty),
    ];
    for (file, what, parse) in sources {
        let body = fixture(file);
        let n = u64::try_from(body.len()).expect("small");
        let mut policy = Policy::default();
        policy.limits.max_payload_bytes = n;
        parse(&body, &policy).unwrap_or_else(|e| panic!("{file} at exactly the limit: {e}"));
        policy.limits.max_payload_bytes = n - 1;
        let e = parse(&body, &policy).expect_err("one byte over the limit");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(e.message(), format!("{what}: {n} bytes exceeds limits.max_payload_bytes ({})", n - 1));
    }
    assert_eq!(Policy::default().limits.max_payload_bytes, 1024 * 1024, "safe default: 1 MiB");
}

#[test]
fn alerts_per_payload_limit_is_exact_for_both_sources() {
    type Parse = fn(&[u8], &Policy) -> Result<incident_core::ingest::AlertBatch>;
    let sources: [(&str, &str, Parse); 2] = [
        ("alertmanager/firing-mixed.json", "alertmanager payload", parse_alertmanager),
        ("pagerduty/batch-lifecycle.json", "pagerduty events", parse_pagerduty),
    ];
    for (file, what, parse) in sources {
        let body = fixture(file);
        let count = parse(&body, &Policy::default()).expect("fixture parses").alerts.len();
        assert!(count > 1, "{file}");
        let mut policy = Policy::default();
        policy.limits.max_alerts_per_payload = u32::try_from(count).expect("small");
        assert_eq!(parse(&body, &policy).expect("exactly at the limit").alerts.len(), count);
        policy.limits.max_alerts_per_payload -= 1;
        let e = parse(&body, &policy).expect_err("one alert over the limit");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(
            e.message(),
            format!("{what}: {count} alerts exceeds limits.max_alerts_per_payload ({})", count - 1)
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// Events per incident
// ---------------------------------------------------------------------------------------------------------

fn request(id: &str) -> DeclareRequest {
    DeclareRequest {
        id: id.into(),
        title: "API errors".into(),
        severity: Severity::P1,
        components: vec!["ml-inference-api".into()],
        impact: "5xx".into(),
        customer_facing: true,
        customers_affected: true,
        on_call: "alice".into(),
        commander: None,
        started_at: None,
        detected_at: None,
        detection_source: None,
    }
}

fn t0() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_795_701_600, 0).expect("time")
}

#[test]
fn events_per_incident_limit_is_exact() {
    let mut policy = Policy::default();
    policy.limits.max_events_per_incident = 5;
    // Declaring writes three events (detected, declared, commander).
    let (_, mut tl) = Incident::declare(request("INC-1"), &policy, t0()).expect("declare");
    assert_eq!((tl.len(), tl.max_events()), (3, 5));
    for i in 0..2 {
        tl.append(t0(), "bob", EventKind::Note { text: format!("note {i}") }).expect("up to the limit");
    }
    assert_eq!(tl.len(), 5);
    let e = tl.append(t0(), "bob", EventKind::Note { text: "one too many".into() }).expect_err("over the limit");
    assert_eq!(e.kind(), ErrorKind::Refused);
    assert_eq!(e.message(), "timeline of INC-1: event #6 refused: limits.max_events_per_incident is 5");
    assert_eq!(tl.len(), 5, "a refused event is not appended");

    // A stored timeline longer than the limit still loads (and verifies); only appends are refused.
    let loaded = Timeline::from_events("INC-1", tl.events().to_vec()).expect("load");
    let mut small = loaded.clone().with_max_events(4);
    assert_eq!(small, loaded, "the limit is not part of equality or of the stored form");
    let e = small.append(t0(), "bob", EventKind::Resolved).expect_err("already over");
    assert_eq!(e.message(), "timeline of INC-1: event #6 refused: limits.max_events_per_incident is 4");

    // Too small for a declaration: refused, precisely.
    policy.limits.max_events_per_incident = 2;
    let e = Incident::declare(request("INC-2"), &policy, t0()).expect_err("declare needs 3 events");
    assert_eq!(e.message(), "timeline of INC-2: event #3 refused: limits.max_events_per_incident is 2");
    assert_eq!(Policy::default().limits.max_events_per_incident, DEFAULT_MAX_EVENTS);
    assert_eq!(Timeline::new("X").max_events(), 100_000, "safe default without a policy");
    let e = Policy::from_toml_str("[limits]\nmax_events_per_incident = 0\n").expect_err("zero");
    assert_eq!(e.message(), "policy field `limits.max_events_per_incident`: must be >= 1");
}

#[tokio::test(start_paused = true)]
async fn the_executor_respects_the_event_limit_of_the_policy() {
    let p = SimPlatform::from_scenario(&Scenario::builtin("bad-deploy").expect("scenario")).expect("platform");
    let b = p.backends();
    let store = Arc::new(MemoryStore::new());
    let mut policy = Policy::default();
    let (incident, tl) = Incident::declare(request("INC-9"), &policy, b.clock.now()).expect("declare");
    store.save_incident(&incident).await.expect("save");
    store.append_events("INC-9", tl.events()).await.expect("events");
    // traffic-management writes 3 planned + 1 approval + 4 step events: allow exactly 3 + 4 of them.
    policy.limits.max_events_per_incident = 7;
    let plan = library::by_name("traffic-management", &policy).expect("proc").plan(&b, &policy).await.expect("plan");
    let approved = plan.approve(Approval::new("lead", b.clock.now()).confirm_production()).expect("approve");
    let ex = Executor::new(b.clone(), Arc::clone(&store) as Arc<dyn Store>, policy.clone());
    let report = ex.run(approved, Some("INC-9".into())).await.expect("run");
    assert_eq!(report.status, RunStatus::Succeeded, "timeline writes are best effort");
    assert_eq!(store.timeline("INC-9").await.expect("timeline").len(), 7, "exactly the limit");
    let refusal = "timeline of INC-9: event #8 refused: limits.max_events_per_incident is 7";
    assert!(report.warnings.iter().any(|w| w == refusal), "{:#?}", report.warnings);
}

// ---------------------------------------------------------------------------------------------------------
// A cluster wrapper that measures concurrency and injects failures
// ---------------------------------------------------------------------------------------------------------

#[derive(Default)]
struct Meter {
    logs_now: AtomicUsize,
    logs_max: AtomicUsize,
    history_now: AtomicUsize,
    history_max: AtomicUsize,
    deployment_now: AtomicUsize,
    deployment_max: AtomicUsize,
    /// `scale` calls fail with `Unavailable` while this is > 0 (then it counts down).
    scale_failures: AtomicUsize,
    scale_calls: AtomicUsize,
}

fn enter(now: &AtomicUsize, max: &AtomicUsize) {
    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
    max.fetch_max(n, Ordering::SeqCst);
}

struct Metered {
    inner: Arc<dyn Cluster>,
    meter: Arc<Meter>,
}

impl Metered {
    async fn counted<T>(
        &self,
        now: &AtomicUsize,
        max: &AtomicUsize,
        f: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        enter(now, max);
        // Hold the slot across a virtual-time sleep, so concurrent calls overlap.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = f.await;
        now.fetch_sub(1, Ordering::SeqCst);
        r
    }
}

#[async_trait::async_trait]
impl Cluster for Metered {
    fn context(&self) -> &str {
        self.inner.context()
    }
    async fn server_health(&self) -> Result<ServerHealth> {
        self.inner.server_health().await
    }
    async fn usage(&self) -> Result<Usage> {
        self.inner.usage().await
    }
    async fn deployment(&self, namespace: &str, name: &str) -> Result<Option<Deployment>> {
        let m = &self.meter;
        self.counted(&m.deployment_now, &m.deployment_max, self.inner.deployment(namespace, name)).await
    }
    async fn deployments(&self, namespace: &str) -> Result<Vec<Deployment>> {
        self.inner.deployments(namespace).await
    }
    async fn scale(&self, namespace: &str, name: &str, replicas: u32) -> Result<()> {
        self.meter.scale_calls.fetch_add(1, Ordering::SeqCst);
        let failing =
            self.meter.scale_failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if failing {
            return Err(Error::unavailable(format!("scale {namespace}/{name}: Throttling: Rate exceeded")));
        }
        self.inner.scale(namespace, name, replicas).await
    }
    async fn rollout_history(&self, namespace: &str, name: &str) -> Result<Vec<Revision>> {
        let m = &self.meter;
        self.counted(&m.history_now, &m.history_max, self.inner.rollout_history(namespace, name)).await
    }
    async fn rollback(&self, namespace: &str, name: &str, to_revision: Option<u64>) -> Result<Revision> {
        self.inner.rollback(namespace, name, to_revision).await
    }
    async fn rollout_status(&self, namespace: &str, name: &str) -> Result<RolloutStatus> {
        self.inner.rollout_status(namespace, name).await
    }
    async fn pods<'a>(&self, namespace: Option<&'a str>, selector: &BTreeMap<String, String>) -> Result<Vec<Pod>> {
        self.inner.pods(namespace, selector).await
    }
    async fn nodes(&self) -> Result<Vec<Node>> {
        self.inner.nodes().await
    }
    async fn service(&self, namespace: &str, name: &str) -> Result<Option<Service>> {
        self.inner.service(namespace, name).await
    }
    async fn services(&self, namespace: &str) -> Result<Vec<Service>> {
        self.inner.services(namespace).await
    }
    async fn endpoints(&self, namespace: &str) -> Result<Vec<Endpoints>> {
        self.inner.endpoints(namespace).await
    }
    async fn annotate_service<'a>(&self, namespace: &str, name: &str, key: &str, value: Option<&'a str>) -> Result<()> {
        self.inner.annotate_service(namespace, name, key, value).await
    }
    async fn label_pod<'a>(&self, namespace: &str, name: &str, key: &str, value: Option<&'a str>) -> Result<()> {
        self.inner.label_pod(namespace, name, key, value).await
    }
    async fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>> {
        self.inner.config_map(namespace, name).await
    }
    async fn patch_config_map(
        &self,
        namespace: &str,
        name: &str,
        data: &BTreeMap<String, Option<String>>,
    ) -> Result<()> {
        self.inner.patch_config_map(namespace, name, data).await
    }
    async fn events<'a>(&self, namespace: Option<&'a str>) -> Result<Vec<ClusterEvent>> {
        self.inner.events(namespace).await
    }
    async fn logs(&self, namespace: &str, pod: &str, tail: u32) -> Result<Vec<String>> {
        let m = &self.meter;
        self.counted(&m.logs_now, &m.logs_max, self.inner.logs(namespace, pod, tail)).await
    }
    async fn apply(&self, manifests: &[Manifest], field_manager: &str) -> Result<Vec<Applied>> {
        self.inner.apply(manifests, field_manager).await
    }
    async fn object<'a>(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&'a str>,
        name: &str,
    ) -> Result<Option<serde_json::Value>> {
        self.inner.object(api_version, kind, namespace, name).await
    }
    async fn delete_object<'a>(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&'a str>,
        name: &str,
    ) -> Result<()> {
        self.inner.delete_object(api_version, kind, namespace, name).await
    }
}

struct MeteredClusters {
    inner: Arc<dyn Clusters>,
    meter: Arc<Meter>,
}

#[async_trait::async_trait]
impl Clusters for MeteredClusters {
    async fn cluster(&self, context: &str) -> Result<Arc<dyn Cluster>> {
        Ok(Arc::new(Metered { inner: self.inner.cluster(context).await?, meter: Arc::clone(&self.meter) }))
    }
    fn default_context(&self) -> String {
        self.inner.default_context()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Concurrency of triage
// ---------------------------------------------------------------------------------------------------------

/// A platform whose `ml-inference-api` runs `pods` ready pods, and a metered client for its primary cluster.
async fn big_cluster(pods: u32) -> (SimPlatform, Arc<Meter>, Arc<dyn Cluster>) {
    let p = SimPlatform::from_scenario(&Scenario::builtin("bad-deploy").expect("scenario")).expect("platform");
    let clusters = p.backends().clusters;
    let primary = clusters.cluster("ml-platform-primary").await.expect("primary");
    primary.scale("ml-platform", "ml-inference-api", pods).await.expect("scale");
    p.advance(Duration::from_secs(120)).expect("pods become ready");
    let meter = Arc::new(Meter::default());
    let metered: Arc<dyn Cluster> = Arc::new(Metered { inner: primary, meter: Arc::clone(&meter) });
    (p, meter, metered)
}

#[tokio::test(start_paused = true)]
async fn triage_log_scans_and_reads_stay_within_max_concurrency() {
    for limit in [1usize, 4, 7] {
        let (p, meter, cluster) = big_cluster(20).await;
        let opts = TriageOptions {
            max_concurrency: limit,
            // Named deployments in another namespace are read with the same bound.
            log_deployments: (0..12)
                .map(|i| format!("kube-system/coredns-{i}"))
                .chain(["ml-inference-api".into()])
                .collect(),
            since: Some(p.started_at()),
            ..TriageOptions::default()
        };
        let report = triage(cluster.as_ref(), &[], &opts, p.now()).await;
        let (pods, nodes) = (
            cluster.pods(None, &std::collections::BTreeMap::new()).await.expect("pods"),
            cluster.nodes().await.expect("nodes"),
        );
        assert_eq!((report.scanned.pods, report.scanned.nodes), (pods.len(), nodes.len()));
        assert!(report.render().contains(&format!("Read {} pods, {} nodes, ", pods.len(), nodes.len())));
        let scanned: usize = report.logs.iter().map(|l| l.pods).sum();
        assert!(scanned >= 20, "limit {limit}: {scanned} pods scanned: {:?}", report.logs);
        assert_eq!(meter.logs_max.load(Ordering::SeqCst), limit, "limit {limit}: log reads in flight at most");
        assert_eq!(meter.deployment_max.load(Ordering::SeqCst), limit, "limit {limit}: deployment reads");
        assert!(meter.history_max.load(Ordering::SeqCst) <= limit, "limit {limit}: history reads");
        for l in &report.logs {
            assert!(l.lines <= l.pods * usize::try_from(opts.log_tail).expect("small"), "{l:?}");
        }
    }
    assert_eq!(Policy::default().limits.max_concurrency, 16, "safe default");
    let e = Policy::from_toml_str("[limits]\nmax_concurrency = 0\n").expect_err("zero");
    assert_eq!(e.message(), "policy field `limits.max_concurrency`: must be >= 1");
}

// ---------------------------------------------------------------------------------------------------------
// Retry budget
// ---------------------------------------------------------------------------------------------------------

/// Run traffic-management with `scale` failing (retryably) `failures` times and `retry.max_attempts`.
async fn scale_with_failures(failures: usize, max_attempts: u32) -> (incident_core::engine::RunReport, usize) {
    let p = SimPlatform::from_scenario(&Scenario::builtin("bad-deploy").expect("scenario")).expect("platform");
    let meter = Arc::new(Meter::default());
    let mut b = p.backends();
    b.clusters = Arc::new(MeteredClusters { inner: b.clusters, meter: Arc::clone(&meter) });
    let mut policy = Policy::default();
    policy.retry.max_attempts = max_attempts;
    let plan = library::by_name("traffic-management", &policy).expect("proc").plan(&b, &policy).await.expect("plan");
    let approved = plan.approve(Approval::new("lead", b.clock.now()).confirm_production()).expect("approve");
    meter.scale_failures.store(failures, Ordering::SeqCst);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let report = Executor::new(b, store, policy).run(approved, None).await.expect("run");
    (report, meter.scale_calls.load(Ordering::SeqCst))
}

#[tokio::test(start_paused = true)]
async fn retry_budget_is_exact() {
    for max in [1u32, 3, 5] {
        let n = usize::try_from(max).expect("small");
        // max - 1 failures: the last allowed attempt succeeds.
        let (report, calls) = scale_with_failures(n - 1, max).await;
        let step = report.step("scale-up").expect("scale-up");
        assert_eq!((step.status, step.attempts, calls), (StepStatus::Succeeded, max, n), "max {max}: {step:?}");
        assert_eq!(report.status, RunStatus::Succeeded);
        // max failures: refused after exactly max attempts, naming the budget.
        let (report, calls) = scale_with_failures(n, max).await;
        let step = report.step("scale-up").expect("scale-up");
        assert_eq!((step.status, step.attempts, calls), (StepStatus::Failed, max, n), "max {max}: {step:?}");
        assert_eq!(
            step.error.as_deref(),
            Some(
                format!(
                    "scale ml-platform/ml-inference-api: Throttling: Rate exceeded (gave up after {max} attempt(s): \
                     retry.max_attempts is {max})"
                )
                .as_str()
            )
        );
        assert_ne!(report.status, RunStatus::Succeeded);
    }
    // The time budget bounds retries too: with attempts to spare, the step deadline ends them.
    let (report, calls) = scale_with_failures(usize::MAX, 1000).await;
    let step = report.step("scale-up").expect("scale-up");
    assert_eq!(step.status, StepStatus::Failed);
    assert!(calls > 5 && calls < 1000, "{calls} calls");
    let deadline = Policy::default().retry.step_deadline;
    assert!(
        step.error
            .as_deref()
            .is_some_and(|e| e.ends_with(&format!("(gave up: the step deadline of {deadline} passed)"))),
        "{step:?}"
    );
    assert_eq!(Policy::default().retry.max_attempts, 5, "safe default");
    let e = Policy::from_toml_str("[retry]\nmax_attempts = 0\n").expect_err("zero");
    assert_eq!(e.message(), "policy field `retry.max_attempts`: must be >= 1 (it counts the first attempt)");
}

// ---------------------------------------------------------------------------------------------------------
// Durations
// ---------------------------------------------------------------------------------------------------------

#[test]
fn durations_are_bounded_so_time_arithmetic_cannot_overflow() {
    let max: HumanDuration = "36500d".parse().expect("100 years is the limit");
    assert_eq!(max, HumanDuration::MAX);
    let e = "36500d1s".parse::<HumanDuration>().expect_err("one second over");
    assert_eq!(e.to_string(), "invalid duration \"36500d1s\": longer than 36500d (100 years)");
    let e = Policy::from_toml_str("[retry]\nstep_deadline = \"99999999999d\"\n").expect_err("huge");
    assert_eq!(
        e.message(),
        "policy field `retry.step_deadline`: invalid duration \"99999999999d\": longer than 36500d (100 years)"
    );
    // Values no text parses to saturate instead of panicking.
    assert_eq!(HumanDuration::from_secs(u64::MAX).as_delta(), chrono::TimeDelta::MAX);
    let _ = t0() + HumanDuration::MAX.as_delta();
}
