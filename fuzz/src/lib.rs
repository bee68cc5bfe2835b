//! Shared checks of the fuzz targets: what "Ok or a typed `Err`, never a panic" means for each parser.

use incident_core::{Error, ErrorKind};

/// The input as UTF-8 text (files are read as text; other bytes are the OS layer's business).
#[must_use]
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// An error from a parser of outside input: one of the input kinds, never `Internal` (a bug).
///
/// # Panics
/// When the error is `Internal` or of an unexpected kind.
pub fn expect_input_error(e: &Error, kinds: &[ErrorKind]) {
    assert!(kinds.contains(&e.kind()), "unexpected {} error: {e}", e.kind());
}

/// As [`expect_input_error`], and the message is one line (documented for ingest and policy errors).
///
/// # Panics
/// When the message spans lines or the kind is unexpected.
pub fn expect_one_line_error(e: &Error, kinds: &[ErrorKind]) {
    expect_input_error(e, kinds);
    assert!(!e.message().contains('\n'), "multi-line error: {:?}", e.message());
}

/// Parse JSON (first non-blank byte `{` or `[`) or else YAML, like the CLI's `parse_doc`.
///
/// # Errors
/// The deserializer's message.
pub fn parse_doc<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    let t = text.trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        serde_json::from_str(text).map_err(|e| e.to_string())
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| e.to_string())
    }
}

/// 2026-11-26T14:00:00Z: "now" for the checks that do time arithmetic.
#[must_use]
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_795_701_600, 0).unwrap_or_default()
}

/// Use a loaded policy the way the library and the CLI do: a policy that validated must not make any of
/// them panic (durations in time arithmetic, classifier, detector, drill schedule, backoff).
///
/// # Panics
/// When a validated policy is unusable.
pub fn use_policy(p: &incident_core::Policy) {
    use incident_core::HumanDuration;
    let now = now();
    let mut durations: Vec<HumanDuration> = Vec::new();
    for (_, s) in p.severities.iter() {
        durations.push(s.response_time);
    }
    let d = &p.declaration;
    durations.extend([d.unavailable_for, d.error_rate_for, d.latency_degradation_for, d.max_sample_gap]);
    durations.extend(p.cadence.internal_update.iter().filter_map(|(_, v)| *v));
    durations.push(p.cadence.status_page_within);
    durations.push(p.guard_rails.max_plan_age);
    durations.extend(p.stage_budgets.values().flat_map(|m| m.values().copied()));
    durations.extend([p.retry.initial_backoff, p.retry.max_backoff, p.retry.step_deadline]);
    for d in durations {
        // What the executor, comms and cadence do with policy durations.
        let _ = now + d.as_delta() + chrono::TimeDelta::minutes(1);
        let _ = now - d.as_delta();
    }
    let classifier = incident_core::classify::Classifier::from_policy(p);
    let _ = classifier.classify(&incident_core::classify::ImpactFacts::default());
    incident_core::detector::Detector::try_new(p.declaration.clone()).expect("a validated policy builds a detector");
    incident_core::drills::next_drills(&p.drills, now, 4).expect("a validated policy schedules drills");
    for attempt in 1..=p.retry.max_attempts.min(64) {
        let _ = incident_core::engine::backoff_cap(&p.retry, attempt);
    }
}
