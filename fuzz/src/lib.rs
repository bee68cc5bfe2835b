//! Shared checks of the fuzz targets: what "Ok or a typed `Err`, never a panic" means for each parser.

use incident_core::{Error, ErrorKind};

/// The runbook's policy (what the receiver and `incident ingest` use by default).
pub static POLICY: std::sync::LazyLock<incident_core::Policy> =
    std::sync::LazyLock::new(incident_core::Policy::default);

/// [`POLICY`] without the payload size and alert count limits: re-serialized text may be longer than the
/// input (escapes), so round trips re-parse with this.
pub static ROOMY: std::sync::LazyLock<incident_core::Policy> = std::sync::LazyLock::new(|| {
    let mut p = incident_core::Policy::default();
    p.limits.max_payload_bytes = u64::MAX;
    p.limits.max_alerts_per_payload = u32::MAX;
    p
});

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

/// As [`expect_one_line_error`], and the message is bounded whatever the input's size: messages echo
/// parts of attacker-controlled payloads (up to `limits.max_payload_bytes`), cut to ~240 characters per
/// echoed part (`ingest::tidy`), escapes aside.
///
/// # Panics
/// When the message spans lines, is longer than 4096 characters or the kind is unexpected.
pub fn expect_bounded_one_line_error(e: &Error, kinds: &[ErrorKind]) {
    expect_one_line_error(e, kinds);
    assert!(e.message().chars().count() <= 4096, "unbounded error: {} characters", e.message().chars().count());
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
    durations.push(p.guard_rails.max_clock_skew);
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

/// What every batch of a parser must satisfy: its alerts come from `source`, and classifying them never
/// panics.
///
/// # Panics
/// When an alert names another source.
pub fn check_batch(batch: &incident_core::ingest::AlertBatch, source: incident_core::ingest::AlertSource) {
    assert_eq!(batch.source, source);
    for alert in &batch.alerts {
        assert_eq!(alert.source, source);
        let _ = alert.classification();
    }
    let _ = batch.firing_facts();
}

/// The string SNS signs, read back: when no value holds a line break, it is exactly the documented
/// `name\nvalue\n` lines (AWS, "Verifying the signatures of Amazon SNS messages"), in order: `Message`,
/// `MessageId`, `Subject` (notifications, when present) or `SubscribeURL` (confirmations), `Timestamp`,
/// `Token` (confirmations), `TopicArn`, `Type`. Whatever the values, it ends with the `Type` line and
/// does not depend on the fields outside it (signature, certificate and unsubscribe URLs).
///
/// # Panics
/// When the string differs from that.
pub fn check_string_to_sign(m: &incident_core::ingest::sns::SnsMessage) {
    use incident_core::ingest::sns::{MessageType, SignatureVersion};
    let s = m.string_to_sign();
    assert!(s.starts_with("Message\n"), "{s:?}");
    assert!(s.ends_with(&format!("\nType\n{}\n", m.kind.as_str())), "{s:?}");
    let notification = m.kind == MessageType::Notification;
    let mut want: Vec<(&str, &str)> = vec![("Message", &m.message), ("MessageId", &m.message_id)];
    if notification {
        if let Some(subject) = &m.subject {
            want.push(("Subject", subject));
        }
    } else {
        want.push(("SubscribeURL", m.subscribe_url.as_deref().unwrap_or_default()));
    }
    want.push(("Timestamp", &m.timestamp));
    if !notification {
        want.push(("Token", m.token.as_deref().unwrap_or_default()));
    }
    want.push(("TopicArn", &m.topic_arn));
    want.push(("Type", m.kind.as_str()));
    if want.iter().all(|(_, v)| !v.contains('\n')) {
        let lines: Vec<&str> = s.split('\n').collect();
        assert_eq!(lines.last(), Some(&""), "every line ends in \\n: {s:?}");
        let got: Vec<(&str, &str)> =
            lines[..lines.len() - 1].chunks(2).map(|c| (c[0], c.get(1).copied().unwrap_or("?"))).collect();
        assert_eq!(got, want, "string to sign {s:?}");
    }
    let mut other = m.clone();
    other.signature = format!("{}x", other.signature);
    other.signing_cert_url.push_str("/other.pem");
    other.unsubscribe_url = Some("https://example.com/".into());
    other.signature_version = match m.signature_version {
        SignatureVersion::V1 => SignatureVersion::V2,
        SignatureVersion::V2 => SignatureVersion::V1,
    };
    if notification {
        other.token = Some("t".into());
        other.subscribe_url = None;
    }
    assert_eq!(other.string_to_sign(), s, "unsigned fields changed the string to sign");
}

/// The rule `incident-receiver` applies before fetching `SigningCertURL` or `SubscribeURL` from AWS
/// (`SnsVerifier::check_url`, without the configured test hosts): https, port 443, an SNS host.
#[must_use]
pub fn sns_aws_url(url: &str) -> bool {
    use incident_core::ingest::sns::{is_sns_host, split_url};
    split_url(url)
        .is_some_and(|(scheme, host, port, _)| scheme == "https" && port.is_none_or(|p| p == 443) && is_sns_host(&host))
}

/// `split_url` and `is_sns_host` on `url`: the parts are well formed and re-split to themselves, and a URL
/// the receiver would fetch from AWS is one the `url` crate (what reqwest connects to) reads as an SNS
/// host over https on port 443 without user info — or refuses.
///
/// # Panics
/// When the parts are malformed or the `url` crate would connect elsewhere.
pub fn check_sns_url(url: &str) {
    use incident_core::ingest::sns::{is_sns_host, split_url};
    check_sns_host(url);
    let Some((scheme, host, port, path)) = split_url(url) else { return };
    assert!(scheme == "https" || scheme == "http", "{url:?}: scheme {scheme:?}");
    assert!(!host.is_empty() && !host.contains(['@', '/', '?', '#']), "{url:?}: host {host:?}");
    assert_eq!(host, host.to_ascii_lowercase(), "{url:?}");
    assert!(path.starts_with(['/', '?', '#']), "{url:?}: path {path:?}");
    let port_text = port.map(|p| format!(":{p}")).unwrap_or_default();
    let again = format!("{scheme}://{host}{port_text}{path}");
    assert_eq!(split_url(&again), Some((scheme.clone(), host.clone(), port, path.clone())), "{url:?} → {again:?}");
    check_sns_host(&host);
    if sns_aws_url(url) {
        assert!(is_sns_host(&host));
        if let Ok(u) = ::url::Url::parse(url) {
            assert_eq!(u.scheme(), "https", "{url:?}");
            let connects_to = u.host_str().unwrap_or_default();
            assert!(
                is_sns_host(connects_to),
                "{url:?}: checked as {host:?}, the url crate connects to {connects_to:?}"
            );
            assert_eq!(u.port_or_known_default(), Some(443), "{url:?}");
            assert!(u.username().is_empty() && u.password().is_none(), "{url:?}: user info");
        }
    }
}

/// `is_sns_host(h)` means `h` is `sns.<region>.amazonaws.com[.cn]`, region `[a-z0-9-]+` (no leading or
/// trailing dash).
///
/// # Panics
/// When `is_sns_host` accepts anything else.
pub fn check_sns_host(h: &str) {
    if !incident_core::ingest::sns::is_sns_host(h) {
        return;
    }
    let rest = h.strip_prefix("sns.").expect("starts with sns.");
    let region = rest
        .strip_suffix(".amazonaws.com")
        .or_else(|| rest.strip_suffix(".amazonaws.com.cn"))
        .expect("ends with .amazonaws.com[.cn]");
    assert!(!region.is_empty(), "{h:?}");
    assert!(region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'), "{h:?}");
    assert!(!region.starts_with('-') && !region.ends_with('-'), "{h:?}");
}
