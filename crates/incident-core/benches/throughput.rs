//! Throughput of the hot paths: classification, Alertmanager ingest + classification, detector samples.
//!
//! `cargo bench -p incident-core --bench throughput -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use chrono::{TimeDelta, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use incident_core::Policy;
use incident_core::classify::{ImpactFacts, OutageScope, classify};
use incident_core::detector::{Detector, Observation, Signal};
use incident_core::ingest::parse_alertmanager;
use incident_core::policy::DeclarationPolicy;

/// A spread of fact combinations, from insufficient to P0.
fn facts() -> Vec<ImpactFacts> {
    (0u32..64)
        .map(|i| ImpactFacts {
            outage: match i % 3 {
                0 => OutageScope::None,
                1 => OutageScope::Partial,
                _ => OutageScope::Complete,
            },
            data_loss_or_corruption: i % 17 == 0,
            security_breach: i % 23 == 0,
            performance_degradation_pct: (i % 4 == 0).then(|| f64::from(i) * 1.7),
            customer_facing_errors: i % 5 == 0,
            non_customer_facing_errors: i % 7 == 0,
            minor_feature_issue: i % 11 == 0,
            cosmetic: i % 13 == 0,
            service: Some(format!("svc-{i}")),
            ..ImpactFacts::default()
        })
        .collect()
}

fn bench_classify(c: &mut Criterion) {
    let facts = facts();
    let mut g = c.benchmark_group("classify");
    g.throughput(Throughput::Elements(facts.len() as u64));
    g.bench_function("pre_parsed_facts", |b| {
        b.iter(|| {
            for f in &facts {
                black_box(classify(black_box(f)));
            }
        });
    });
    g.finish();
}

/// An Alertmanager payload of `n` alerts cycling through the default rules.
fn alertmanager_payload(n: usize) -> Vec<u8> {
    let kinds = [
        ("ServiceDown", ""),
        ("HighErrorRate", r#","value":"0.0712""#),
        ("HighLatency", r#","value":"1.85s","baseline":"850ms""#),
        ("DataIntegrityCheckFailed", ""),
        ("SecurityIncident", ""),
        ("DiskSpaceLow", ""),
    ];
    let alerts: Vec<String> = (0..n)
        .map(|i| {
            let (name, extra) = kinds[i % kinds.len()];
            format!(
                r#"{{"status":"firing","labels":{{"alertname":"{name}","service":"svc-{s}","severity":"warning","namespace":"ml-platform","cluster":"ml-platform-prod"}},"annotations":{{"summary":"alert {i}"{extra}}},"startsAt":"2024-05-03T14:02:11.315Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"https://prometheus.ml-platform.com/graph?g0.expr=up","fingerprint":"{i:016x}"}}"#,
                s = i % 50
            )
        })
        .collect();
    format!(
        r#"{{"version":"4","groupKey":"{{}}:{{}}","truncatedAlerts":0,"status":"firing","receiver":"incident-core","groupLabels":{{}},"commonLabels":{{}},"commonAnnotations":{{}},"externalURL":"https://alertmanager.ml-platform.com","alerts":[{}]}}"#,
        alerts.join(",")
    )
    .into_bytes()
}

fn bench_ingest(c: &mut Criterion) {
    let policy = Policy::default();
    let n = 100;
    let body = alertmanager_payload(n);
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("alertmanager_parse_and_classify_100", |b| {
        b.iter(|| {
            let batch = parse_alertmanager(black_box(&body), &policy).ok();
            for a in batch.iter().flat_map(|b| &b.alerts) {
                black_box(a.classification());
            }
        });
    });
    g.finish();
}

fn bench_detector(c: &mut Criterion) {
    let t0 = Utc.with_ymd_and_hms(2024, 5, 3, 14, 0, 0).single().unwrap_or_default();
    let services = 200;
    let samples: Vec<Observation> = (0..10_000i64)
        .map(|i| {
            let service = format!("svc-{}", i % services);
            let at = t0 + TimeDelta::seconds(15 * (i / services));
            let signal = match i % 4 {
                0 => Signal::Availability { up: i % 9 != 0, whole_service: false },
                1 => Signal::ErrorRate(if i % 5 == 0 { 0.09 } else { 0.01 }),
                2 => Signal::Latency { observed_ms: if i % 3 == 0 { 400.0 } else { 120.0 }, baseline_ms: 100.0 },
                _ => Signal::ErrorRate(0.2),
            };
            Observation::new(service, at, signal)
        })
        .collect();
    let mut g = c.benchmark_group("detector");
    g.throughput(Throughput::Elements(samples.len() as u64));
    g.bench_function("observe_10k_samples_200_services", |b| {
        b.iter(|| {
            let mut d = Detector::new(DeclarationPolicy::default());
            for s in &samples {
                black_box(d.observe(black_box(s)));
            }
            d.stats()
        });
    });
    g.finish();
}

criterion_group!(benches, bench_classify, bench_ingest, bench_detector);
criterion_main!(benches);
