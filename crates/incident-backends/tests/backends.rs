//! `BackendSpec` → `BackendSet` against the real services of `scripts/services start`: AWS on moto, the
//! PostgreSQL team store, and real PostgreSQL / Redis probes, with procedures run on the simulator's
//! paused-clock runtime as the CLI and the bindings do.

use std::io::{Read, Write};
use std::sync::Mutex;
use std::time::Duration;

use incident_backends::{
    AwsConfig, BackendSet, BackendSpec, ConnectionString, RedisUrl, SimSpec, StaticCredentials, StoreSpec,
};
use incident_core::engine::{Approval, Procedure};
use incident_core::triage::TriageOptions;
use incident_core::{ErrorKind, Policy};

const KEY_ID: &str = "AKIABACKENDSTEST0001";
const SECRET: &str = "backendsFAKEsecret/never-printed+7";

/// moto is shared by every test of this binary: one at a time.
static MOTO: Mutex<()> = Mutex::new(());

fn env_or_skip(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Some(v.trim().to_owned()),
        _ if std::env::var("INCIDENT_SKIP_SERVICES").as_deref() == Ok("1") => None,
        _ => panic!(
            "{name} is not set: run `scripts/services start` and `. ~/.cache/incident-core/services/env` \
             (scripts/test does both), or set INCIDENT_SKIP_SERVICES=1 to skip"
        ),
    }
}

fn reset_moto(url: &str) {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(host).expect("moto");
    write!(s, "POST /moto-api/reset HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(out.starts_with("HTTP/1.1 200") || out.starts_with("HTTP/1.0 200"), "{out}");
}

fn moto_config(url: &str) -> AwsConfig {
    AwsConfig {
        primary_region: Some("us-west-2".into()),
        secondary_region: Some("us-east-1".into()),
        endpoint_url: Some(url.into()),
        credentials: Some(StaticCredentials {
            access_key_id: KEY_ID.into(),
            secret_access_key: SECRET.into(),
            session_token: None,
        }),
        ..AwsConfig::default()
    }
}

fn password_of(url: &str) -> String {
    let userinfo = url.split("://").nth(1).and_then(|r| r.split('@').next()).expect("userinfo");
    userinfo.split(':').nth(1).expect("password").to_owned()
}

/// A library procedure whose description (so digest and run id) is unique to this test run: run ids
/// are deterministic on a simulator and the team store outlives test runs.
fn unique(p: Procedure) -> Procedure {
    let mut v: serde_json::Value = serde_json::from_str(&p.to_json().expect("json")).expect("value");
    let nanos = std::time::SystemTime::UNIX_EPOCH.elapsed().map(|d| d.as_nanos()).unwrap_or_default();
    v["description"] = format!("{} (test {nanos}-{})", p.description, std::process::id()).into();
    Procedure::parse(&v.to_string()).expect("parse")
}

fn open(rt: &tokio::runtime::Runtime, spec: BackendSpec) -> incident_core::Result<BackendSet> {
    rt.block_on(spec.open(&Policy::default()))
}

#[test]
fn specs_are_validated_before_anything_connects() {
    let rt = incident_core::sim::runtime().expect("rt");
    let e = open(&rt, BackendSpec::new()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(
        e.message().starts_with("no cluster backend: give ") && e.message().contains("simulated platform (sim)"),
        "{e}"
    );

    let sim = || SimSpec::scenario("bad-deploy");
    let aws = |endpoint: &str| AwsConfig { endpoint_url: Some(endpoint.into()), ..moto_config("http://x") };
    let e = open(&rt, BackendSpec::new().with_sim(sim()).with_aws(aws("localhost:5000"))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        e.message(),
        "AWS endpoint URL \"localhost:5000\": no scheme (expected http:// or https:// and a host, e.g. \
         http://127.0.0.1:5000)"
    );
    let e = open(&rt, BackendSpec::new().with_sim(sim()).with_aws(aws("ftp://user:pw@moto"))).unwrap_err();
    assert!(e.message().contains("unsupported scheme `ftp`") && !e.message().contains("pw@"), "{e}");

    let bad_region = AwsConfig { primary_region: Some("Mars-1".into()), ..moto_config("http://127.0.0.1:1") };
    let e = open(&rt, BackendSpec::new().with_sim(sim()).with_aws(bad_region)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(e.message(), "\"Mars-1\" is not an AWS region name (e.g. us-east-1)");

    let e = open(&rt, BackendSpec::new().with_sim(SimSpec::scenario("no-such-scenario"))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);

    let e = StoreSpec::parse("redis://:pw@127.0.0.1:6379").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(!e.message().contains("pw@"), "{e}");
    assert!(ConnectionString::parse("postgres://u:p@h:notaport/db").is_err());
    assert!(RedisUrl::parse("http://h").is_err());
}

#[test]
fn simulated_set_plans_runs_and_triages_on_the_paused_runtime() {
    let rt = incident_core::sim::runtime().expect("rt");
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("sim.json");
    let spec = BackendSpec::new()
        .with_sim(SimSpec::file(&state, "bad-deploy").at(Duration::from_secs(300)))
        .with_store(StoreSpec::parse(dir.path().join("j.sqlite").to_str().expect("utf8")).expect("store"));
    let set = open(&rt, spec).expect("open");
    assert!(state.exists(), "the state file is created from the scenario");
    assert!(!set.uses_aws() && set.real_probes().is_empty());
    assert_eq!(
        set.describe(),
        format!(
            "clusters: sim (bad-deploy); databases/dns/cloud: sim; store: sqlite {}; probes: postgres (sim), redis (sim)",
            dir.path().join("j.sqlite").display()
        )
    );
    let report = rt.block_on(set.triage(&TriageOptions::default(), None)).expect("triage");
    assert!(report.degraded_deployments.iter().any(|d| d.deployment.name == "ml-inference-api"), "{report:?}");
    let e = rt.block_on(set.triage(&TriageOptions::default(), Some("nowhere"))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);

    let policy = Policy::default();
    let proc = incident_core::engine::library::by_name("application-rollback", &policy).expect("procedure");
    let plan = rt.block_on(proc.plan(set.backends(), &policy)).expect("plan");
    let approved = plan.approve(Approval::new("ci", set.now()).confirm_production()).expect("approve");
    let run = rt.block_on(set.executor(policy.clone(), "test:1").run(approved, None)).expect("run");
    assert_eq!(run.status.as_str(), "succeeded", "{run:?}");

    // Reopening the state file continues the same world; resuming repeats nothing.
    let again = open(
        &rt,
        BackendSpec::new()
            .with_sim(SimSpec::file(&state, "ignored-when-the-file-exists"))
            .with_store(StoreSpec::Open(set.store().clone())),
    )
    .expect("reopen");
    let ops = again.sim().expect("sim").operation_log().len();
    let resumed = rt.block_on(again.executor(policy, "test:1").resume(&run.run_id)).expect("resume");
    assert_eq!(resumed.status.as_str(), "succeeded");
    assert_eq!(again.sim().expect("sim").operation_log().len(), ops);
}

#[test]
fn aws_on_moto_promotes_a_replica_while_the_cluster_stays_simulated() {
    let Some(url) = env_or_skip("INCIDENT_TEST_MOTO_URL") else { return };
    let url = url.trim_end_matches('/').to_owned();
    let _guard = MOTO.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    reset_moto(&url);
    // Seed RDS through the adapter's own client (a plain runtime: nothing simulated here).
    let seed = tokio::runtime::Runtime::new().expect("rt");
    seed.block_on(async {
        let aws = incident_aws::AwsBackends::connect(moto_config(&url)).await.expect("connect");
        let rds = aws.rds_client("us-east-1").expect("client");
        rds.create_db_instance()
            .db_instance_identifier("ml-platform-prod")
            .engine("postgres")
            .db_instance_class("db.t3.micro")
            .master_username("incident")
            .master_user_password("moto-accepts-anything")
            .allocated_storage(20)
            .backup_retention_period(7)
            .send()
            .await
            .expect("create primary");
        rds.create_db_instance_read_replica()
            .db_instance_identifier("ml-platform-secondary")
            .source_db_instance_identifier("ml-platform-prod")
            .send()
            .await
            .expect("create replica");
    });

    let rt = incident_core::sim::runtime().expect("rt");
    let set =
        open(&rt, BackendSpec::new().with_sim(SimSpec::scenario("database-failover")).with_aws(moto_config(&url)))
            .expect("open");
    assert!(set.uses_aws());
    assert!(set.describe().contains("databases/dns/cloud: aws us-west-2 → us-east-1"), "{}", set.describe());
    assert!(!format!("{set:?}").contains(SECRET));

    let policy = Policy::default();
    let params =
        [("mode", "promote-read-replica"), ("region", "us-east-1"), ("replica_instance", "ml-platform-secondary")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
    let proc =
        incident_core::engine::library::procedure_from_spec("database-recovery", &params, &policy).expect("procedure");
    let plan = rt.block_on(proc.plan(set.backends(), &policy)).expect("plan");
    let promote = plan.steps.iter().find(|s| s.mutating).expect("a mutating step");
    assert!(promote.before.to_string().contains("ml-platform-prod"), "the plan read live RDS: {promote:?}");
    let approved = plan.approve(Approval::new("ci", set.now()).confirm_production()).expect("approve");
    let run = rt.block_on(set.executor(policy, "test:aws").run(approved, None)).expect("run");
    assert_eq!(run.status.as_str(), "succeeded", "{run:?}");
    assert!(!format!("{run:?}").contains(SECRET));
    // The simulator's RDS was not touched: the promotion happened in moto.
    assert!(set.sim().expect("sim").operation_log().iter().all(|op| !format!("{op:?}").contains("promote")));
    let promoted = run.steps.iter().find(|s| s.changed).expect("a step changed live state");
    assert_eq!(promoted.status, incident_core::engine::StepStatus::Succeeded, "{promoted:?}");
    let replica = rt
        .block_on(set.backends().databases.instance("us-east-1", "ml-platform-secondary"))
        .expect("describe in moto")
        .expect("exists");
    assert!(replica.is_available(), "{replica:?}");
}

#[test]
fn postgres_team_store_survives_the_set_and_resume_repeats_nothing() {
    let Some(pg) = env_or_skip("INCIDENT_TEST_PG_URL") else { return };
    let rt = incident_core::sim::runtime().expect("rt");
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("sim.json");
    let spec = || {
        BackendSpec::new()
            .with_sim(SimSpec::file(&state, "bad-deploy").at(Duration::from_secs(300)))
            .with_store(StoreSpec::parse(&pg).expect("store spec"))
    };
    let set = open(&rt, spec()).expect("open");
    assert!(set.describe().contains("store: postgres postgres://incident_test:***@"), "{}", set.describe());
    assert!(!set.describe().contains(&password_of(&pg)));
    let policy = Policy::default();
    let proc = unique(incident_core::engine::library::by_name("application-rollback", &policy).expect("procedure"));
    let plan = rt.block_on(proc.plan(set.backends(), &policy)).expect("plan");
    let approved = plan.approve(Approval::new("ci", set.now()).confirm_production()).expect("approve");
    let run = rt.block_on(set.executor(policy.clone(), "test:pg").run(approved, None)).expect("run");
    assert_eq!(run.status.as_str(), "succeeded", "{run:?}");
    let ops = set.sim().expect("sim").operation_log().len();
    drop(set);

    // A new set (new pool, new runtime) finds the run in PostgreSQL and resumes it without repeating.
    let set = open(&rt, spec()).expect("reopen");
    let record = rt.block_on(set.store().run(&run.run_id)).expect("read").expect("run is stored");
    assert_eq!(record.run_id, run.run_id);
    let resumed = rt.block_on(set.executor(policy, "test:pg").resume(&run.run_id)).expect("resume");
    assert_eq!(resumed.status.as_str(), "succeeded");
    assert_eq!(set.sim().expect("sim").operation_log().len(), ops);

    // A wrong password is a clear error that never repeats the password.
    let bad = pg.replace(&password_of(&pg), "Wr0ng-Backends-Secret");
    let e = open(
        &rt,
        BackendSpec::new().with_sim(SimSpec::scenario("bad-deploy")).with_store(StoreSpec::parse(&bad).expect("spec")),
    )
    .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::Unavailable), "{e}");
    assert!(!e.to_string().contains("Wr0ng-Backends-Secret"), "{e}");
}

#[test]
fn real_probes_replace_the_simulated_ones_in_triage() {
    let (Some(pg), Some(redis)) = (env_or_skip("INCIDENT_TEST_PG_URL"), env_or_skip("INCIDENT_TEST_REDIS_URL")) else {
        return;
    };
    let rt = incident_core::sim::runtime().expect("rt");
    let set = open(
        &rt,
        BackendSpec::new()
            .with_sim(SimSpec::scenario("bad-deploy"))
            .with_postgres(ConnectionString::parse(&pg).expect("pg url"))
            .with_redis(RedisUrl::parse(&redis).expect("redis url")),
    )
    .expect("open");
    assert_eq!(set.real_probes(), ["postgres", "redis"]);
    let before = set.now();
    let report = rt.block_on(set.triage(&TriageOptions::default(), None)).expect("triage");
    for name in ["postgres", "redis"] {
        let d = report.datastores.iter().find(|d| d.name == name).unwrap_or_else(|| panic!("{name}: {report:?}"));
        // Real probes report real checks (the simulator's have one finding per datastore).
        assert!(d.findings.iter().any(|f| f.check == "ping" || f.check == "connections"), "{d:?}");
        assert!(d.latency_ms.is_some(), "{d:?}");
    }
    // Real requests did not make the paused virtual clock leap to the triage deadline.
    assert!(set.now() - before < chrono::TimeDelta::seconds(TriageOptions::default().call_deadline.as_secs() as i64));
    let text = format!("{report:?}{}", report.render());
    assert!(!text.contains(&password_of(&pg)) && !text.contains(&password_of(&redis)));

    // An unreachable datastore is a report, not an error.
    let set = open(
        &rt,
        BackendSpec::new()
            .with_sim(SimSpec::scenario("bad-deploy"))
            .with_redis(RedisUrl::parse("redis://:Wr0ng-Redis@127.0.0.1:1").expect("url")),
    )
    .expect("open");
    let report = rt.block_on(set.triage(&TriageOptions::default(), None)).expect("triage");
    let d = report.datastores.iter().find(|d| d.name == "redis").expect("redis");
    assert!(!d.healthy, "{d:?}");
    assert!(!format!("{report:?}").contains("Wr0ng-Redis"));
}

/// `POST /clusters` on moto's EKS API in us-east-1 (moto routes by the credential scope of the
/// Authorization header and does not check the signature).
fn moto_create_eks_cluster(url: &str, name: &str) {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let body =
        format!(r#"{{"name":"{name}","roleArn":"arn:aws:iam::123456789012:role/eks","resourcesVpcConfig":{{}}}}"#);
    let mut s = std::net::TcpStream::connect(host).expect("moto");
    write!(
        s,
        "POST /clusters HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential={KEY_ID}/20260101/us-east-1/eks/aws4_request, \
         SignedHeaders=host, Signature=0\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(out.starts_with("HTTP/1.1 200") || out.starts_with("HTTP/1.0 200"), "{out}");
}

#[test]
fn eks_contexts_need_aws_and_are_served_beside_the_kubeconfig() {
    use incident_backends::{EksContext, KubeconfigSpec};
    let rt = incident_core::sim::runtime().expect("rt");
    let eks = || EksContext::new("ml-platform-secondary", "us-east-1", "ml-secondary");
    for (spec, why) in [
        (BackendSpec::new().with_eks(eks()), "EKS contexts need AWS (aws)"),
        (
            BackendSpec::new().with_sim(SimSpec::scenario("bad-deploy")).with_eks(eks()),
            "they do not mix with a simulated platform",
        ),
        (
            BackendSpec::new().with_aws(moto_config("http://127.0.0.1:1")).with_eks(eks()).with_eks(eks()),
            "EKS context \"ml-platform-secondary\" is given twice",
        ),
    ] {
        let e = open(&rt, spec).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.message().contains(why), "{e}");
    }

    let (Some(moto), Some(kubeconfig)) =
        (env_or_skip("INCIDENT_TEST_MOTO_URL"), env_or_skip("INCIDENT_TEST_KUBECONFIG"))
    else {
        return;
    };
    let _guard = MOTO.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    reset_moto(&moto);
    moto_create_eks_cluster(&moto, "ml-secondary");
    // Real-cluster sets run on an ordinary runtime (real time), as the CLI's --kube does.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    let spec = BackendSpec::new()
        .with_kube(KubeconfigSpec { path: Some(kubeconfig.clone().into()), context: None })
        .with_aws(moto_config(&moto))
        .with_eks(eks())
        .with_eks(EksContext::parse("gone=us-east-1/no-such-cluster").expect("parse"));
    let set = rt.block_on(spec.open(&Policy::default())).expect("open");
    assert!(set.describe().contains("databases/dns/cloud: aws us-west-2 → us-east-1"), "{}", set.describe());
    let kube_only =
        BackendSpec::new().with_kube(KubeconfigSpec { path: Some(kubeconfig.clone().into()), context: None });
    let bare = rt.block_on(kube_only.open(&Policy::default())).expect("open kube only");
    assert!(bare.describe().contains("databases/dns/cloud: not configured;"), "{}", bare.describe());
    let clusters = &set.backends().clusters;
    // The kubeconfig's contexts are still served, and its current context stays the default.
    let default = clusters.default_context();
    assert_eq!(default, "incident-test-admin");
    let health = rt.block_on(async { clusters.cluster(&default).await?.server_health().await }).expect("health");
    assert!(health.live && health.version.is_some(), "{health:?}");
    // The EKS context is built from DescribeCluster: moto's endpoint (a made-up *.eks.amazonaws.com host)
    // cannot be reached from here, so a call fails as unavailable, naming that endpoint ...
    let c = rt.block_on(clusters.cluster("ml-platform-secondary")).expect("EKS client");
    assert_eq!(c.context(), "ml-platform-secondary");
    let e = rt.block_on(c.nodes()).expect_err("moto's endpoint is not a cluster");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(
        e.message().starts_with("EKS context ml-platform-secondary (cluster ml-secondary in us-east-1) at https://")
            && e.message().contains(".us-east-1.eks.amazonaws.com/: list nodes: ")
            && e.message().contains("dns error"),
        "{e}"
    );
    // ... and an unknown cluster is NotFound, named.
    let e = rt.block_on(clusters.cluster("gone")).err().expect("no such cluster");
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.message().starts_with("EKS context gone (cluster no-such-cluster in us-east-1): "), "{e}");
    for text in [format!("{set:?}"), e.to_string()] {
        assert!(!text.contains(SECRET), "{text}");
    }
}

/// A kubeconfig context read through a watch cache: the set's clusters hand out the cached cluster for
/// it (triage says `cache` once synced); a simulated set has no cluster to watch.
#[test]
fn a_watch_cache_serves_the_reads_of_a_kubeconfig_context() {
    use incident_backends::KubeconfigSpec;
    use incident_core::backend::DataSource;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    let sim = open(&rt, BackendSpec::new().with_sim(SimSpec::scenario("bad-deploy"))).expect("sim");
    let e = rt.block_on(sim.with_watch_cache(None, incident_k8s::WatchCacheOptions::default())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.message().contains("a watch cache follows kubeconfig contexts"), "{e}");

    let Some(kubeconfig) = env_or_skip("INCIDENT_TEST_KUBECONFIG_SA") else { return };
    let spec = BackendSpec::new().with_kube(KubeconfigSpec { path: Some(kubeconfig.into()), context: None });
    let set = rt.block_on(spec.open(&Policy::default())).expect("open");
    let e = rt.block_on(set.with_watch_cache(Some("no-such-context"), Default::default())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let (cached, cache) = rt.block_on(set.with_watch_cache(None, Default::default())).expect("watch cache");
    rt.block_on(cache.wait_synced(Duration::from_secs(60))).expect("synced");
    let opts = TriageOptions { namespace: "kube-system".into(), ..TriageOptions::default() };
    let report = rt.block_on(cached.triage(&opts, None)).expect("triage");
    assert_eq!(report.data_source, DataSource::Cache, "{}", report.render());
    // The set it came from still LISTs, and reads the same cluster (a fresh control plane may have no
    // node yet: the counts, not their size, are what must agree).
    let listed = rt.block_on(set.triage(&opts, None)).expect("triage");
    assert_eq!((listed.data_source, listed.data_age_ms), (DataSource::List, None));
    assert_eq!(
        (report.scanned.nodes, report.scanned.pods),
        (listed.scanned.nodes, listed.scanned.pods),
        "cache:\n{}\nlist:\n{}",
        report.render(),
        listed.render()
    );
    drop((cached, cache, set));
    rt.shutdown_timeout(Duration::from_secs(5));
}
