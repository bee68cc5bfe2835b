//! Checking a scenario's `expect` section against the world.

use super::platform::ExpectationOutcome;
use super::probes::probe_report;
use super::scenario::Expectations;
use super::state::{World, key};

fn outcome(check: String, ok: bool, detail: String) -> ExpectationOutcome {
    ExpectationOutcome { check, ok, detail }
}

pub(crate) fn verify(w: &World, expect: &Expectations) -> Vec<ExpectationOutcome> {
    let mut out = Vec::new();
    let primary = w.primary_region().map(|r| r.context.clone()).unwrap_or_default();
    for e in &expect.deployments {
        let ctx = e.context.clone().unwrap_or_else(|| primary.clone());
        let what = format!("deployment {ctx}/{}/{}", e.namespace, e.name);
        let Some(dep) = w.clusters.get(&ctx).and_then(|c| c.deployments.get(&key(&e.namespace, &e.name))) else {
            out.push(outcome(what, false, "not found".into()));
            continue;
        };
        let view = w.deployment_view(&ctx, dep);
        let images: Vec<String> =
            view.images.iter().map(|i| i.split_once('=').map_or(i.as_str(), |(_, v)| v).to_string()).collect();
        if let Some(img) = &e.image {
            out.push(outcome(
                format!("{what} image is {img}"),
                images.contains(img),
                format!("images {}", images.join(",")),
            ));
        }
        if let Some(r) = e.revision {
            out.push(outcome(
                format!("{what} revision is {r}"),
                view.revision == r,
                format!("revision {}", view.revision),
            ));
        }
        if let Some(r) = e.replicas {
            out.push(outcome(
                format!("{what} has {r} replicas"),
                view.replicas == r,
                format!("replicas {}", view.replicas),
            ));
        }
        if let Some(r) = e.min_replicas {
            out.push(outcome(
                format!("{what} has at least {r} replicas"),
                view.replicas >= r,
                format!("replicas {}", view.replicas),
            ));
        }
        if e.all_pods_running {
            let k = key(&e.namespace, &e.name);
            let pods: Vec<_> = w.derive_pods(&ctx).into_iter().filter(|p| p.deployment == k).collect();
            let bad: Vec<String> = pods
                .iter()
                .filter(|p| !p.pod.is_healthy())
                .map(|p| format!("{} {}", p.pod.name, p.pod.display_status()))
                .collect();
            let ok = bad.is_empty() && pods.len() == usize::try_from(view.replicas).unwrap_or(usize::MAX);
            out.push(outcome(
                format!("{what} all pods Running"),
                ok,
                if bad.is_empty() { format!("{} pods Running", pods.len()) } else { bad.join("; ") },
            ));
        }
    }
    for e in &expect.dns {
        let got = w.resolve(&e.name);
        out.push(outcome(
            format!("{} resolves to {}", e.name, e.region),
            got.as_deref() == Some(e.region.as_str()),
            format!("resolves to {}", got.unwrap_or_else(|| "nothing".into())),
        ));
    }
    for e in &expect.databases {
        let what = format!("db instance {}/{}", e.region, e.id);
        let Some(db) = w.db(&e.region, &e.id) else {
            out.push(outcome(what, false, "not found".into()));
            continue;
        };
        let status = w.db_status(db);
        out.push(outcome(format!("{what} is {}", e.status), status == e.status, format!("status {status}")));
        if let Some(s) = e.standalone {
            let is = db.replica_source.is_none();
            out.push(outcome(
                format!("{what} standalone={s}"),
                is == s,
                format!("replica_source {}", db.replica_source.as_deref().unwrap_or("none (standalone)")),
            ));
        }
    }
    for e in &expect.http {
        let got = w.http(&e.url, 1.0);
        let detail = match &got {
            Ok((s, ms)) => format!("{s} in {ms} ms"),
            Err(err) => err.to_string(),
        };
        out.push(outcome(
            format!("GET {} answers {}", e.url, e.status),
            matches!(got, Ok((s, _)) if s == e.status),
            detail,
        ));
    }
    for e in &expect.probes {
        let r = probe_report(w, &e.name);
        let detail: Vec<String> = r.findings.iter().map(|f| format!("{}: {}", f.check, f.detail)).collect();
        out.push(outcome(format!("probe {} healthy={}", e.name, e.healthy), r.healthy == e.healthy, detail.join("; ")));
    }
    out
}
