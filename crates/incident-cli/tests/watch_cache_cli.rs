//! `incident serve --kubeconfig` on the real test control plane, as the RBAC-bound service account: the
//! watch cache's sync holds `/readyz`, its health is in `/healthz` and `/metrics`; `--no-watch-cache`
//! reads by LIST and shows no cache.

use std::io::Read as _;
use std::process::Command;
use std::time::Duration;

mod common;
use common::{env_or_skip, get};

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(
    sa: &str,
    store: &std::path::Path,
    extra: &[&str],
) -> (Killed, String, String, std::thread::JoinHandle<String>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_incident"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--cadence", "off", "--no-escalation", "--no-post-incident"])
        .arg("--store")
        .arg(store)
        .args(["--kubeconfig", sa])
        .args(extra)
        .env_remove("INCIDENT_POLICY");
    let (child, mut err, line, addr) = common::serve_announced(cmd);
    let rest = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    (Killed(child), line, addr, rest)
}

#[test]
fn serve_keeps_a_watch_cache_whose_sync_readyz_waits_for() {
    let Some(sa) = env_or_skip("INCIDENT_TEST_KUBECONFIG_SA") else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let (server, _line, addr, _rest) = serve(&sa, &dir.path().join("serve.sqlite"), &[]);
    let mut polls = 0;
    let ready = loop {
        let (status, body) = get(&addr, "/readyz", None);
        if status == 200 {
            break body;
        }
        assert!(body.contains("watch_cache") || status == 200, "{status}: {body}");
        polls += 1;
        assert!(polls < 300, "/readyz still {status} after 60 s: {body}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(ready.contains("\"ready\""), "{ready}");
    let (status, health) = get(&addr, "/healthz", None);
    assert_eq!(status, 200, "{health}");
    let health: serde_json::Value = serde_json::from_str(&health).expect("json");
    let cache = &health["components"]["watch_cache"];
    assert_eq!(cache["synced"], true, "{health:#}");
    for kind in ["pods", "nodes", "events", "deployments", "replicasets", "services", "endpointslices"] {
        assert_eq!(cache["kinds"][kind]["synced"], true, "{kind}: {health:#}");
    }
    assert!(cache["kinds"]["nodes"]["objects"].as_u64().is_some_and(|n| n > 0), "{health:#}");
    let (_, metrics) = get(&addr, "/metrics", None);
    let context = cache["context"].as_str().expect("context");
    for line in [
        format!("incident_watch_cache_synced{{context=\"{context}\",kind=\"pods\"}} 1"),
        format!("incident_watch_cache_relists_total{{context=\"{context}\",kind=\"events\"}} 0"),
        "# TYPE incident_watch_cache_restarts_total counter".to_owned(),
    ] {
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
    assert!(metrics.contains("incident_receiver_open_groups"), "the receiver's own metrics stay");
    drop(server);

    let (server, _line, addr, _rest) = serve(&sa, &dir.path().join("list.sqlite"), &["--no-watch-cache"]);
    let (status, health) = get(&addr, "/healthz", None);
    assert_eq!((status, health.as_str()), (200, r#"{"status":"ok"}"#));
    let (_, metrics) = get(&addr, "/metrics", None);
    assert!(!metrics.contains("incident_watch_cache"), "{metrics}");
    drop(server);
}
