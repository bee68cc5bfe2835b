//! Prometheus metrics, written by hand in the text exposition format (version 0.0.4).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `incident_receiver_requests_total` | counter | `route`, `status` |
//! | `incident_receiver_request_duration_seconds` | histogram | `route` |
//! | `incident_receiver_alerts_received_total` | counter | `source` |
//! | `incident_receiver_groups_total` | counter | `source`, `outcome` (`declared`, `updated`, `duplicate`, `ignored`) |
//! | `incident_receiver_incidents_declared_total` | counter | `source` |
//! | `incident_receiver_deduplicated_total` | counter | `source` (groups that went to an existing incident: updated or duplicate) |
//! | `incident_receiver_rejected_total` | counter | `route`, `reason` (`unauthorized`, `too_large`, `invalid_payload`, `body_timeout`, `signature`, `topic`, `replay`, `overloaded`, `unavailable`) |
//! | `incident_receiver_store_commits_total` | counter | |
//! | `incident_receiver_store_commit_duration_seconds` | histogram | |
//! | `incident_receiver_open_groups` | gauge | |
//! | `incident_receiver_open_connections` | gauge | |
//! | `incident_receiver_connections_shed_total` | counter | (longest-idle connections closed at the connection cap, and new ones refused when none was idle) |
//! | `incident_receiver_timeouts_total` | counter | `kind` (`header`, `body`, `idle`) |
//! | `incident_receiver_first_responses_total` | counter | `outcome` (`proposed`, `no_match`, `failed`) |
//! | `incident_receiver_first_response_duration_seconds` | histogram | (commit of the declaration → channel message recorded) |

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use incident_core::ingest::AlertSource;
use incident_core::ingest::group::Outcome;

/// Upper bounds of the latency histograms, seconds.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {}", self.counts[i]);
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(&'static str, u16), u64>,
    durations: BTreeMap<&'static str, Histogram>,
    alerts: BTreeMap<&'static str, u64>,
    groups: BTreeMap<(&'static str, &'static str), u64>,
    rejected: BTreeMap<(&'static str, &'static str), u64>,
    commits: Histogram,
    first_responses: BTreeMap<&'static str, u64>,
    first_response: Histogram,
}

/// The receiver's counters. Cheap to update from many tasks (one short mutex section per request).
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    open_groups: AtomicU64,
    open_connections: AtomicU64,
    shed: AtomicU64,
    timeouts: [AtomicU64; 3],
}

/// Why the receiver closed a connection on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeoutKind {
    /// The request head did not arrive within `header_timeout` (slowloris, or silent).
    Header,
    /// The body did not arrive within `body_timeout` (`408`).
    Body,
    /// Idle between requests beyond `idle_timeout`.
    Idle,
}

impl TimeoutKind {
    const ALL: [Self; 3] = [Self::Header, Self::Body, Self::Idle];

    const fn as_str(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Body => "body",
            Self::Idle => "idle",
        }
    }

    const fn index(self) -> usize {
        match self {
            Self::Header => 0,
            Self::Body => 1,
            Self::Idle => 2,
        }
    }
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut g = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut g)
    }

    pub(crate) fn request(&self, route: &'static str, status: u16, elapsed: Duration) {
        self.with(|m| {
            *m.requests.entry((route, status)).or_default() += 1;
            m.durations.entry(route).or_default().observe(elapsed.as_secs_f64());
        });
    }

    pub(crate) fn alerts(&self, source: AlertSource, n: usize) {
        self.with(|m| *m.alerts.entry(source.as_str()).or_default() += n as u64);
    }

    pub(crate) fn group(&self, source: AlertSource, outcome: Outcome) {
        self.with(|m| *m.groups.entry((source.as_str(), outcome.as_str())).or_default() += 1);
    }

    pub(crate) fn rejected(&self, route: &'static str, reason: &'static str) {
        self.with(|m| *m.rejected.entry((route, reason)).or_default() += 1);
    }

    pub(crate) fn commit(&self, elapsed: Duration) {
        self.with(|m| m.commits.observe(elapsed.as_secs_f64()));
    }

    /// A first response ended (`proposed`, `no_match`, `failed`) after `elapsed`.
    pub(crate) fn first_response(&self, outcome: &'static str, elapsed: Duration) {
        self.with(|m| {
            *m.first_responses.entry(outcome).or_default() += 1;
            m.first_response.observe(elapsed.as_secs_f64());
        });
    }

    pub(crate) fn set_open_groups(&self, n: usize) {
        self.open_groups.store(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn set_open_connections(&self, n: usize) {
        self.open_connections.store(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn shed(&self) {
        self.shed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn timeout(&self, kind: TimeoutKind) {
        self.timeouts[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Connections open now.
    #[must_use]
    pub fn open_connections(&self) -> u64 {
        self.open_connections.load(Ordering::Relaxed)
    }

    /// Connections shed at the connection cap so far.
    #[must_use]
    pub fn connections_shed(&self) -> u64 {
        self.shed.load(Ordering::Relaxed)
    }

    /// Count of `timeouts_total{kind}` (`header`, `body` or `idle`; anything else is 0).
    #[must_use]
    pub fn timeouts(&self, kind: &str) -> u64 {
        TimeoutKind::ALL
            .iter()
            .find(|k| k.as_str() == kind)
            .map_or(0, |k| self.timeouts[k.index()].load(Ordering::Relaxed))
    }

    /// Count of `groups_total{source, outcome}` (for tests and the CLI's shutdown summary).
    #[must_use]
    pub fn groups_count(&self, source: AlertSource, outcome: Outcome) -> u64 {
        self.with(|m| m.groups.get(&(source.as_str(), outcome.as_str())).copied().unwrap_or(0))
    }

    /// The exposition text.
    #[must_use]
    pub fn render(&self) -> String {
        let m = self.with(|m| {
            (
                m.requests.clone(),
                m.durations.clone(),
                m.alerts.clone(),
                m.groups.clone(),
                m.rejected.clone(),
                m.commits.clone(),
                (m.first_responses.clone(), m.first_response.clone()),
            )
        });
        let (requests, durations, alerts, groups, rejected, commits, (first_responses, first_response)) = m;
        let mut out = String::with_capacity(4096);
        let header = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
        };
        header(&mut out, "incident_receiver_requests_total", "counter", "HTTP requests by route and status.");
        for ((route, status), n) in &requests {
            let _ = writeln!(out, "incident_receiver_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
        }
        header(&mut out, "incident_receiver_request_duration_seconds", "histogram", "Request latency by route.");
        for (route, h) in &durations {
            h.write(&mut out, "incident_receiver_request_duration_seconds", &format!("route=\"{route}\""));
        }
        header(&mut out, "incident_receiver_alerts_received_total", "counter", "Alerts parsed, by source.");
        for (source, n) in &alerts {
            let _ = writeln!(out, "incident_receiver_alerts_received_total{{source=\"{source}\"}} {n}");
        }
        header(&mut out, "incident_receiver_groups_total", "counter", "Alert groups by source and outcome.");
        for ((source, outcome), n) in &groups {
            let _ = writeln!(out, "incident_receiver_groups_total{{source=\"{source}\",outcome=\"{outcome}\"}} {n}");
        }
        header(&mut out, "incident_receiver_incidents_declared_total", "counter", "Incidents declared, by source.");
        for ((source, outcome), n) in &groups {
            if *outcome == Outcome::Declared.as_str() {
                let _ = writeln!(out, "incident_receiver_incidents_declared_total{{source=\"{source}\"}} {n}");
            }
        }
        header(
            &mut out,
            "incident_receiver_deduplicated_total",
            "counter",
            "Alert groups that went to an existing incident instead of declaring one, by source.",
        );
        let mut dedup: BTreeMap<&str, u64> = BTreeMap::new();
        for ((source, outcome), n) in &groups {
            if *outcome == Outcome::Updated.as_str() || *outcome == Outcome::Duplicate.as_str() {
                *dedup.entry(source).or_default() += n;
            }
        }
        for (source, n) in dedup {
            let _ = writeln!(out, "incident_receiver_deduplicated_total{{source=\"{source}\"}} {n}");
        }
        header(&mut out, "incident_receiver_rejected_total", "counter", "Requests refused, by route and reason.");
        for ((route, reason), n) in &rejected {
            let _ = writeln!(out, "incident_receiver_rejected_total{{route=\"{route}\",reason=\"{reason}\"}} {n}");
        }
        header(&mut out, "incident_receiver_store_commits_total", "counter", "Store transactions (group commits).");
        let _ = writeln!(out, "incident_receiver_store_commits_total {}", commits.count);
        header(&mut out, "incident_receiver_store_commit_duration_seconds", "histogram", "Store commit latency.");
        commits.write(&mut out, "incident_receiver_store_commit_duration_seconds", "");
        header(&mut out, "incident_receiver_open_groups", "gauge", "Alert groups with an open incident.");
        let _ = writeln!(out, "incident_receiver_open_groups {}", self.open_groups.load(Ordering::Relaxed));
        header(&mut out, "incident_receiver_open_connections", "gauge", "TCP connections open now.");
        let _ = writeln!(out, "incident_receiver_open_connections {}", self.open_connections());
        header(
            &mut out,
            "incident_receiver_connections_shed_total",
            "counter",
            "Connections closed (longest idle first) or refused at the connection cap.",
        );
        let _ = writeln!(out, "incident_receiver_connections_shed_total {}", self.connections_shed());
        header(&mut out, "incident_receiver_timeouts_total", "counter", "Connections timed out, by kind.");
        for k in TimeoutKind::ALL {
            let _ = writeln!(
                out,
                "incident_receiver_timeouts_total{{kind=\"{}\"}} {}",
                k.as_str(),
                self.timeouts(k.as_str())
            );
        }
        header(
            &mut out,
            "incident_receiver_first_responses_total",
            "counter",
            "First responses to declarations (triage, match, dry-run plan, message), by outcome.",
        );
        for (outcome, n) in &first_responses {
            let _ = writeln!(out, "incident_receiver_first_responses_total{{outcome=\"{outcome}\"}} {n}");
        }
        header(
            &mut out,
            "incident_receiver_first_response_duration_seconds",
            "histogram",
            "From the declaration's commit to the first response's channel message recorded.",
        );
        first_response.write(&mut out, "incident_receiver_first_response_duration_seconds", "");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_is_well_formed() {
        let m = Metrics::default();
        m.request("/webhook/alertmanager", 200, Duration::from_millis(3));
        m.request("/webhook/alertmanager", 401, Duration::from_micros(100));
        m.alerts(AlertSource::Alertmanager, 2);
        m.group(AlertSource::Alertmanager, Outcome::Declared);
        m.group(AlertSource::Alertmanager, Outcome::Duplicate);
        m.rejected("/webhook/alertmanager", "unauthorized");
        m.commit(Duration::from_millis(4));
        m.first_response("proposed", Duration::from_millis(160));
        let text = m.render();
        assert!(text.contains("incident_receiver_first_responses_total{outcome=\"proposed\"} 1\n"));
        assert!(text.contains("incident_receiver_first_response_duration_seconds_bucket{le=\"0.25\"} 1\n"));
        assert!(text.contains("incident_receiver_requests_total{route=\"/webhook/alertmanager\",status=\"401\"} 1\n"));
        assert!(text.contains(
            "incident_receiver_request_duration_seconds_bucket{route=\"/webhook/alertmanager\",le=\"0.005\"} 2\n"
        ));
        assert!(text.contains(
            "incident_receiver_request_duration_seconds_bucket{route=\"/webhook/alertmanager\",le=\"0.001\"} 1\n"
        ));
        assert!(text.contains("incident_receiver_incidents_declared_total{source=\"alertmanager\"} 1\n"));
        assert!(text.contains("incident_receiver_deduplicated_total{source=\"alertmanager\"} 1\n"));
        assert!(text.contains("incident_receiver_store_commit_duration_seconds_count 1\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').expect("name value");
            value.parse::<f64>().expect("numeric value");
        }
    }
}
