//! One HTTP call with the retry policy: backoff, `Retry-After`, a retry budget, error mapping onto
//! [`ErrorKind`], secrets redacted from every message and log line.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use incident_core::backend::Clock;
use incident_core::{Error, ErrorKind, Result};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};

use crate::config::RetryConfig;
use crate::secret::{Secret, redactor};

/// Largest response body read (bytes); the rest is dropped.
const MAX_BODY: usize = 1 << 20;
/// Longest provider message quoted in an error.
const MAX_QUOTE: usize = 300;

/// Whether and how to retry a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Not retryable.
    No,
    /// Retry after the policy's backoff.
    Backoff,
    /// Retry after this long (`Retry-After`), or the backoff when absent.
    After(Option<Duration>),
}

/// A failed attempt, turned into an [`Error`] once the retries are over.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
    pub(crate) source: Option<reqwest::Error>,
    pub(crate) maybe_sent: bool,
    pub(crate) retry: Retry,
}

impl Failure {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>, retry: Retry) -> Self {
        Self { kind, message: message.into(), source: None, maybe_sent: false, retry }
    }
}

/// A response that passed its check.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (`Null` when it is not JSON).
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// One request, described once and sent as often as the policy allows.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    /// `slack`, `pagerduty`, `statuspage`, `webhook`.
    pub(crate) provider: &'static str,
    /// Operation name for messages and logs (`chat.postMessage`, `create incident`).
    pub(crate) op: String,
    pub(crate) method: Method,
    pub(crate) url: Url,
    /// Headers (authorization values are marked sensitive).
    pub(crate) headers: HeaderMap,
    /// JSON body.
    pub(crate) body: Option<Vec<u8>>,
    /// Safe to repeat even if an earlier attempt may have reached the server.
    pub(crate) idempotent: bool,
    /// Values scrubbed from every message.
    pub(crate) secrets: Vec<&'a Secret>,
}

impl<'a> Request<'a> {
    pub(crate) fn new(provider: &'static str, op: impl Into<String>, method: Method, url: Url) -> Self {
        Self {
            provider,
            op: op.into(),
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
            idempotent: false,
            secrets: Vec::new(),
        }
    }

    /// Add a header whose value is a credential: marked sensitive, and scrubbed from messages.
    pub(crate) fn auth(mut self, name: HeaderName, scheme: &str, secret: &'a Secret) -> Result<Self> {
        let mut value = HeaderValue::from_str(&format!("{scheme}{}", secret.expose())).map_err(|_| {
            Error::invalid_input(format!("{} credential contains characters not allowed in a header", self.provider))
        })?;
        value.set_sensitive(true);
        self.headers.insert(name, value);
        self.secrets.push(secret);
        Ok(self)
    }

    pub(crate) fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    pub(crate) fn json(mut self, body: &serde_json::Value) -> Self {
        self.body = Some(body.to_string().into_bytes());
        self.headers.insert(reqwest::header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
        self
    }

    pub(crate) fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }

    pub(crate) fn secret(mut self, secret: &'a Secret) -> Self {
        self.secrets.push(secret);
        self
    }

    fn redact(&self, text: &str) -> String {
        redactor(self.secrets.iter().copied()).scrub(text)
    }
}

/// The HTTP client every provider shares: timeouts, no redirects, the retry policy, the clock.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    pub(crate) clock: Arc<dyn Clock>,
    retry: RetryConfig,
}

impl Http {
    pub(crate) fn new(retry: RetryConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("incident-notify/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(retry.request_timeout.as_std())
            .connect_timeout(retry.connect_timeout.as_std())
            .build()
            .map_err(|e| Error::internal("cannot build the HTTP client").with_source(e.without_url()))?;
        Ok(Self { client, clock, retry })
    }

    /// Send `req` until `check` accepts the response or the policy gives up.
    pub(crate) async fn send(&self, req: &Request<'_>, check: impl Fn(&Reply) -> Result<(), Failure>) -> Result<Reply> {
        let started = self.clock.now();
        let max = self.retry.max_attempts.max(1);
        let budget = self.retry.max_elapsed.as_std();
        let (provider, op) = (req.provider, req.op.as_str());
        for attempt in 1..=max {
            tracing::debug!(provider, op, attempt, "sending");
            let failure = match self.once(req).await {
                Ok(reply) => match check(&reply) {
                    Ok(()) => {
                        tracing::debug!(provider, op, attempt, status = reply.status.as_u16(), "accepted");
                        return Ok(reply);
                    }
                    Err(f) => f,
                },
                Err(f) => f,
            };
            let elapsed = elapsed(started, self.clock.now());
            let wait = match failure.retry {
                Retry::No => None,
                Retry::Backoff | Retry::After(None) => Some(self.backoff(attempt)),
                Retry::After(Some(d)) => Some(d),
            };
            let give_up = match wait {
                None => Some(String::new()),
                Some(_) if attempt >= max => Some(format!(" (gave up after {attempt} attempts)")),
                Some(w) if elapsed + w > budget => Some(format!(
                    " (gave up after {attempt} attempt(s): waiting {}s more would exceed the {} retry budget)",
                    w.as_secs_f64().ceil(),
                    self.retry.max_elapsed
                )),
                Some(_) => None,
            };
            let message = req.redact(&failure.message);
            if let Some(note) = give_up {
                tracing::warn!(provider, op, attempts = attempt, error = %message, "failed");
                let mut e = Error::new(failure.kind, format!("{provider} {op}: {message}{note}"));
                if failure.maybe_sent {
                    e = e.request_maybe_sent();
                }
                if let Some(src) = failure.source {
                    e = e.with_source(src.without_url());
                }
                return Err(e);
            }
            let wait = wait.unwrap_or_default();
            tracing::warn!(provider, op, attempt, wait_ms = wait.as_millis() as u64, error = %message, "retrying");
            self.clock.sleep(wait).await;
        }
        Err(Error::internal(format!("{provider} {op}: retry loop ended without a result")))
    }

    /// Exponential backoff for the wait after `attempt` (1-based), capped, with clock-derived jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.retry.initial_backoff.as_std();
        let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let capped = exp.min(self.retry.max_backoff.as_std());
        // Jitter from the clock's sub-second digits: random enough on a real clock, none on a manual one.
        let frac = f64::from(self.clock.now().timestamp_subsec_nanos() % 1000) / 1000.0;
        capped.mul_f64(1.0 - self.retry.jitter.clamp(0.0, 1.0) * frac)
    }

    async fn once(&self, req: &Request<'_>) -> Result<Reply, Failure> {
        let mut builder = self.client.request(req.method.clone(), req.url.clone()).headers(req.headers.clone());
        if let Some(body) = &req.body {
            builder = builder.body(body.clone());
        }
        let mut resp = builder.send().await.map_err(|e| transport(req, e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    let room = MAX_BODY.saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Ok(None) => break,
                Err(e) => return Err(transport(req, e)),
            }
        }
        let reply = Reply { status, headers, body };
        if status.is_success() { Ok(reply) } else { Err(status_failure(&reply, self.clock.now())) }
    }
}

fn elapsed(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    (to - from).to_std().unwrap_or_default()
}

/// A transport error: connect failures are retryable; after the request may have been sent, only
/// idempotent requests are retried.
fn transport(req: &Request<'_>, e: reqwest::Error) -> Failure {
    let host = req.url.host_str().unwrap_or("?").to_owned();
    let (kind, message, maybe_sent) = if e.is_connect() {
        (ErrorKind::Unavailable, format!("cannot connect to {host}"), false)
    } else if e.is_timeout() {
        (ErrorKind::Timeout, format!("no response from {host} in time"), true)
    } else if e.is_builder() {
        return Failure { source: Some(e), ..Failure::new(ErrorKind::Internal, "cannot build the request", Retry::No) };
    } else {
        (ErrorKind::Unavailable, format!("connection to {host} failed"), true)
    };
    let retry = if !maybe_sent || req.idempotent { Retry::Backoff } else { Retry::No };
    Failure { kind, message, source: Some(e), maybe_sent, retry }
}

/// The failure for a non-success HTTP status (see [`crate`] docs for the mapping).
pub(crate) fn status_failure(reply: &Reply, now: DateTime<Utc>) -> Failure {
    let status = reply.status;
    let (kind, retry) = match status.as_u16() {
        429 | 420 => (ErrorKind::Unavailable, Retry::After(retry_after(&reply.headers, now))),
        408 => (ErrorKind::Timeout, Retry::Backoff),
        s if s >= 500 => (ErrorKind::Unavailable, Retry::Backoff),
        401 | 403 => (ErrorKind::PermissionDenied, Retry::No),
        404 => (ErrorKind::NotFound, Retry::No),
        409 => (ErrorKind::Conflict, Retry::No),
        s if s >= 300 => (ErrorKind::InvalidInput, Retry::No),
        _ => (ErrorKind::Internal, Retry::No),
    };
    let detail = provider_message(&reply.json());
    let reason = status.canonical_reason().unwrap_or("");
    let mut message = format!("HTTP {} {reason}", status.as_u16()).trim_end().to_owned();
    if (300..400).contains(&status.as_u16()) {
        message.push_str(" (redirects are not followed; check the base URL)");
    }
    if let Some(d) = detail {
        message = format!("{message}: {d}");
    }
    Failure::new(kind, message, retry)
}

/// The human part of a provider's error body: Slack `error`, PagerDuty `message` + `errors`,
/// Statuspage `error`/`message`; at most [`MAX_QUOTE`] characters.
pub(crate) fn provider_message(body: &serde_json::Value) -> Option<String> {
    let text = |k: &str| body.get(k).and_then(serde_json::Value::as_str).map(str::to_owned);
    let mut parts: Vec<String> = [text("error"), text("message")].into_iter().flatten().collect();
    match body.get("errors") {
        Some(serde_json::Value::Array(list)) => {
            parts.extend(list.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)));
        }
        Some(serde_json::Value::String(s)) => parts.push(s.clone()),
        _ => {}
    }
    let joined = parts.join("; ");
    if joined.is_empty() {
        return None;
    }
    Some(if joined.chars().count() > MAX_QUOTE {
        format!("{}...", joined.chars().take(MAX_QUOTE).collect::<String>())
    } else {
        joined
    })
}

/// `Retry-After` as seconds or an HTTP date (relative to `now`).
pub(crate) fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use incident_core::clock::ManualClock;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2015, 10, 21, 7, 28, 0).single().expect("time")
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h, now()), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("30"));
        assert_eq!(retry_after(&h, now()), Some(Duration::from_secs(30)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("1.5"));
        assert_eq!(retry_after(&h, now()), Some(Duration::from_millis(1500)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:45 GMT"));
        assert_eq!(retry_after(&h, now()), Some(Duration::from_secs(45)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now()), None);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let http = Http::new(RetryConfig::default(), Arc::new(ManualClock::new(now()))).expect("client");
        let waits: Vec<_> = (1..=7).map(|a| http.backoff(a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
    }

    #[test]
    fn provider_messages() {
        let j = serde_json::json!({"status": "invalid event", "message": "Event object is invalid", "errors": ["Length of 'routing_key' is incorrect"]});
        assert_eq!(
            provider_message(&j).as_deref(),
            Some("Event object is invalid; Length of 'routing_key' is incorrect")
        );
        assert_eq!(
            provider_message(&serde_json::json!({"ok": false, "error": "invalid_auth"})).as_deref(),
            Some("invalid_auth")
        );
        assert_eq!(provider_message(&serde_json::Value::Null), None);
        let long = serde_json::json!({"error": "x".repeat(1000)});
        assert_eq!(provider_message(&long).map(|s| s.len()), Some(MAX_QUOTE + 3));
    }

    #[test]
    fn status_mapping() {
        let reply = |s: u16| Reply {
            status: StatusCode::from_u16(s).expect("status"),
            headers: HeaderMap::new(),
            body: Vec::new(),
        };
        let kinds: Vec<_> = [400, 401, 403, 404, 409, 422, 408, 429, 420, 500, 503, 302]
            .into_iter()
            .map(|s| {
                let f = status_failure(&reply(s), now());
                (s, f.kind, f.retry != Retry::No)
            })
            .collect();
        use ErrorKind::*;
        assert_eq!(
            kinds,
            [
                (400, InvalidInput, false),
                (401, PermissionDenied, false),
                (403, PermissionDenied, false),
                (404, NotFound, false),
                (409, Conflict, false),
                (422, InvalidInput, false),
                (408, Timeout, true),
                (429, Unavailable, true),
                (420, Unavailable, true),
                (500, Unavailable, true),
                (503, Unavailable, true),
                (302, InvalidInput, false),
            ]
        );
    }
}
