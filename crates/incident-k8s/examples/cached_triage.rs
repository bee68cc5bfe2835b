//! The cached mode of `scripts/bench-triage`: start a watch cache of the cluster, wait for its sync, then
//! triage from it RUNS times and once by LIST in the same process. Prints one line per figure:
//!
//! ```text
//! rss_before_cache_kib 12000
//! sync_seconds 6.12
//! objects pods=50000 nodes=5000 events=20000 deployments=1 replicasets=1 services=2 endpointslices=2
//! rss_after_sync_kib 180000
//! triage_from_cache_seconds 0.041 (median of 5; data age 0.8s)
//! triage_by_list_seconds 4.51
//! peak_rss_kib 260000
//! ```
//!
//! `cargo run --release -p incident-k8s --example cached_triage -- KUBECONFIG [NAMESPACE] [RUNS]`

#![allow(clippy::disallowed_methods)] // a benchmark reads the wall clock

use std::sync::Arc;
use std::time::{Duration, Instant};

use incident_core::backend::{Cluster, Clusters as _, DataSource};
use incident_core::triage::{TriageOptions, triage};
use incident_k8s::{CachedCluster, KubeClusters, KubeconfigSpec, WatchCache, WatchCacheOptions};

/// `VmRSS` or `VmHWM` of this process, KiB.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: cached_triage KUBECONFIG [NAMESPACE] [RUNS]")?;
    let namespace = args.next().unwrap_or_else(|| "ml-platform".to_owned());
    let runs: usize = args.next().map_or(Ok(5), |r| r.parse())?;
    let clusters = KubeClusters::load(&KubeconfigSpec { path: Some(path.into()), context: None })?;
    let context = clusters.default_context();
    let live = clusters.connect(&context).await?;

    println!("rss_before_cache_kib {}", status_kib("VmRSS:"));
    let t = Instant::now();
    let cache = WatchCache::start(live.client(), &context, &WatchCacheOptions::default());
    cache.wait_synced(Duration::from_secs(600)).await?;
    println!("sync_seconds {:.2}", t.elapsed().as_secs_f64());
    let health = cache.health();
    let objects: Vec<String> = health.kinds.iter().map(|k| format!("{}={}", k.kind, k.objects)).collect();
    println!("objects {}", objects.join(" "));
    println!("rss_after_sync_kib {}", status_kib("VmRSS:"));

    let cached = CachedCluster::new(Arc::clone(&cache), Arc::clone(&live) as Arc<dyn Cluster>);
    let opts = TriageOptions { namespace, ..TriageOptions::default() };
    let mut times = Vec::new();
    let mut age = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let report = triage(&cached, &[], &opts, chrono::Utc::now()).await;
        times.push(t.elapsed().as_secs_f64());
        if report.data_source != DataSource::Cache {
            return Err("triage did not read the cache".into());
        }
        age = report.data_age_ms;
    }
    times.sort_by(f64::total_cmp);
    println!(
        "triage_from_cache_seconds {:.3} (median of {}; data age {:.1}s)",
        times[times.len() / 2],
        times.len(),
        age.unwrap_or(0) as f64 / 1000.0
    );
    let t = Instant::now();
    let report = triage(&*live, &[], &opts, chrono::Utc::now()).await;
    println!(
        "triage_by_list_seconds {:.2} ({} pods, {} nodes, {} events)",
        t.elapsed().as_secs_f64(),
        report.scanned.pods,
        report.scanned.nodes,
        report.scanned.events
    );
    println!("peak_rss_kib {}", status_kib("VmHWM:"));
    Ok(())
}
