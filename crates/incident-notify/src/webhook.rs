//! A generic webhook, signed like Slack's and GitHub's: anything else can receive incident
//! notifications and check they came from us.
//!
//! `POST <url>` with `Content-Type: application/json; charset=utf-8` and the body
//!
//! ```json
//! {"delivery_id": "…", "incident_id": "INC-1", "destination": {"type": "webhook", "name": "ops"},
//!  "kind": "status_update", "text": "…", "sent_at": "2026-11-26T14:05:00Z"}
//! ```
//!
//! Headers:
//! * `X-Incident-Timestamp`: Unix seconds when it was signed;
//! * `X-Incident-Signature`: `sha256=` + lower-case hex HMAC-SHA256, keyed with the shared secret, of
//!   `<timestamp>.<raw body>` (the timestamp, a dot, the exact body bytes);
//! * `X-Incident-Delivery`: the `delivery_id`, stable across retries of the same notification, so a
//!   receiver can drop duplicates (which makes retrying after a timeout safe).
//!
//! Receivers verify with [`verify_signature`] (constant-time, with a freshness window against replays).
//! Any 2xx is success; the delivery reference is `webhook:<name> HTTP <status>`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use incident_core::backend::{Clock, Delivery, Notification, Notifier};
use incident_core::{Error, Result};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::Secret;
use crate::config::{RetryConfig, WebhookConfig, check_url};
use crate::http::{Http, Request};

/// Header carrying the Unix timestamp of the signature.
pub const TIMESTAMP_HEADER: &str = "x-incident-timestamp";
/// Header carrying `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "x-incident-signature";
/// Header carrying the delivery id.
pub const DELIVERY_HEADER: &str = "x-incident-delivery";

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &Secret, timestamp: i64, body: &[u8]) -> Result<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes())
        .map_err(|_| Error::internal("webhook: HMAC key rejected"))?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(mac)
}

/// The `X-Incident-Signature` value for `body` signed at `timestamp` (Unix seconds).
///
/// # Errors
/// Never in practice (HMAC accepts any key length).
pub fn sign(secret: &Secret, timestamp: i64, body: &[u8]) -> Result<String> {
    Ok(format!("sha256={}", hex::encode(mac(secret, timestamp, body)?.finalize().into_bytes())))
}

/// Check a received webhook: `signature` must be [`sign`]`(secret, timestamp, body)` and `timestamp`
/// within `tolerance` of `now` (either side).
///
/// # Errors
/// [`ErrorKind::PermissionDenied`](incident_core::ErrorKind::PermissionDenied) for a missing, malformed
/// or wrong signature, or a stale or future timestamp; the message never includes the expected value.
pub fn verify_signature(
    secret: &Secret,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<()> {
    let deny = |why: &str| Error::new(incident_core::ErrorKind::PermissionDenied, format!("webhook signature: {why}"));
    let ts: i64 = timestamp.trim().parse().map_err(|_| deny("timestamp is not Unix seconds"))?;
    let skew = now.timestamp().abs_diff(ts);
    if skew > tolerance.as_secs() {
        return Err(deny(&format!("timestamp is {skew}s away from now (tolerance {}s)", tolerance.as_secs())));
    }
    let hex_sig = signature.trim().strip_prefix("sha256=").ok_or_else(|| deny("expected `sha256=<hex>`"))?;
    let raw = hex::decode(hex_sig).map_err(|_| deny("signature is not hex"))?;
    mac(secret, ts, body)?.verify_slice(&raw).map_err(|_| deny("mismatch"))
}

/// A signed-webhook notifier (see the [module docs](self)).
pub struct WebhookNotifier {
    http: Http,
    name: String,
    url: Url,
    secret: Secret,
}

impl std::fmt::Debug for WebhookNotifier {
    /// Name and host only: webhook URLs often embed a credential in their path.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookNotifier")
            .field("name", &self.name)
            .field("host", &self.url.host_str().unwrap_or(""))
            .finish_non_exhaustive()
    }
}

impl WebhookNotifier {
    /// A notifier named `name` (its reference and log name) from its config.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](incident_core::ErrorKind::InvalidInput) for a bad URL or a missing
    /// secret.
    pub fn new(name: &str, config: &WebhookConfig, retry: &RetryConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        let url = check_url(&format!("webhooks.{name}.url"), &config.url)?;
        let secret = config
            .secret
            .clone()
            .filter(|s| !s.is_blank())
            .ok_or_else(|| Error::invalid_input(format!("notify config: `webhooks.{name}.secret` is missing")))?;
        Ok(Self { http: Http::new(retry.clone(), clock)?, name: name.into(), url, secret })
    }

    /// Its name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The stable id of a notification's delivery (hex SHA-256 of its content, 32 characters).
#[must_use]
pub fn delivery_id(n: &Notification) -> String {
    let canonical = json!([n.incident_id, n.to, n.kind, n.text]).to_string();
    hex::encode(&Sha256::digest(canonical.as_bytes())[..16])
}

#[async_trait::async_trait]
impl Notifier for WebhookNotifier {
    async fn notify(&self, n: &Notification) -> Result<Delivery> {
        let now = self.http.clock.now();
        let id = delivery_id(n);
        let body = json!({
            "delivery_id": id,
            "incident_id": n.incident_id,
            "destination": n.to,
            "kind": n.kind,
            "text": n.text,
            "sent_at": now.to_rfc3339_opts(SecondsFormat::Secs, true),
        });
        let mut req = Request::new("webhook", format!("{} POST", self.name), Method::POST, self.url.clone())
            .json(&body)
            .secret(&self.secret)
            .idempotent(true);
        let bytes = req.body.clone().unwrap_or_default();
        let signature = sign(&self.secret, now.timestamp(), &bytes)?;
        let value = |s: &str| HeaderValue::from_str(s).map_err(|_| Error::internal("webhook: bad header value"));
        req = req
            .header(HeaderName::from_static(TIMESTAMP_HEADER), value(&now.timestamp().to_string())?)
            .header(HeaderName::from_static(SIGNATURE_HEADER), value(&signature)?)
            .header(HeaderName::from_static(DELIVERY_HEADER), value(&id)?);
        let reply = self.http.send(&req, |_| Ok(())).await?;
        tracing::info!(incident = %n.incident_id, webhook = %self.name, status = reply.status.as_u16(), "webhook delivered");
        Ok(Delivery::Delivered { reference: Some(format!("webhook:{} HTTP {}", self.name, reply.status.as_u16())) })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn sign_and_verify() {
        let secret = Secret::new("whsec-test");
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 14, 5, 0).single().expect("time");
        let body = br#"{"a":1}"#;
        let sig = sign(&secret, now.timestamp(), body).expect("sign");
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        let ok = |ts: &str, sig: &str, body: &[u8]| {
            verify_signature(&secret, ts, sig, body, now, Duration::from_secs(300)).map_err(|e| e.to_string())
        };
        let ts = now.timestamp().to_string();
        assert_eq!(ok(&ts, &sig, body), Ok(()));
        assert_eq!(ok(&ts, &sig, b"{\"a\":2}"), Err("webhook signature: mismatch".into()));
        assert_eq!(ok(&(now.timestamp() - 301).to_string(), &sig, body).map_err(|e| e.contains("301s")), Err(true));
        assert_eq!(ok(&ts, sig.trim_start_matches("sha256="), body).map_err(|e| e.contains("sha256=")), Err(true));
        assert!(verify_signature(&Secret::new("other"), &ts, &sig, body, now, Duration::from_secs(300)).is_err());
        // Known answer, computed independently (Python: hmac.new(b"key", b"0.The quick ...", sha256)).
        assert_eq!(
            sign(&Secret::new("key"), 0, b"The quick brown fox jumps over the lazy dog").expect("sign"),
            "sha256=8511f28f7a1949f0c42772b447d68b2daf760f5f0439a20a17e3b4e7cd395763"
        );
    }
}
