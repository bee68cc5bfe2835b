//! Amazon SNS deliveries: signature verification against the signing certificate and the subscription
//! handshake.
//!
//! * `SigningCertURL` and `SubscribeURL` are fetched only from `https://sns.<region>.amazonaws.com`
//!   ([`incident_core::ingest::sns::is_sns_host`]) or a configured test origin; the certificate URL must
//!   name a `.pem` file. TLS (rustls with the webpki roots) authenticates the host, which is how the
//!   certificate is tied to AWS — the PEM holds only the leaf, so there is no chain to build; this is
//!   the check the AWS SDKs' message validators make.
//! * The signature (base64) is verified over
//!   [`SnsMessage::string_to_sign`](incident_core::ingest::sns::SnsMessage::string_to_sign) with the
//!   certificate's RSA key: PKCS #1 v1.5 with SHA1 for `SignatureVersion` 1, SHA256 for 2 (ring, through
//!   webpki's certificate parser). Certificates are cached by URL (at most 32).
//! * Redirects are not followed and every fetch has a 10 s deadline.
//! * **Closed by default**: only topics on the allow-list (`receiver.sns.topics` in the policy, plus
//!   [`SnsConfig::topic_arns`]) are accepted — their subscriptions confirmed, their messages read; any
//!   other topic is refused (`403`) before anything is fetched. An empty allow-list refuses every SNS
//!   delivery.
//! * **Replay window**: a message whose `Timestamp` is older than `receiver.sns.max_age` or further
//!   than `receiver.sns.max_future_skew` in the future is refused (`403`); the timestamp is part of the
//!   signed string, so it cannot be moved.
//! * **Outbound fetches are bounded**: a failed certificate fetch is remembered for
//!   [`NEGATIVE_TTL`] (at most [`MAX_NEGATIVE`] URLs; `503` meanwhile, no new fetch), and fetches of
//!   certificates not in the cache spend a token from a bucket of [`FETCH_BURST`] refilled one per
//!   [`FETCH_REFILL`] (`503` when empty).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use base64::Engine as _;
use incident_core::clock::Clock;
use incident_core::ingest::sns::{SignatureVersion, SnsMessage, is_sns_host, split_url};
use incident_core::policy::ReceiverSnsPolicy;
use incident_core::{Error, ErrorKind, Result};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{AlgorithmIdentifier, CertificateDer, InvalidSignature, SignatureVerificationAlgorithm, alg_id};

use crate::config::SnsConfig;

const MAX_CERTS: usize = 32;
const MAX_CERT_BYTES: usize = 64 * 1024;
/// How long a failed certificate fetch is remembered.
pub(crate) const NEGATIVE_TTL: Duration = Duration::from_secs(5 * 60);
/// Most failed certificate URLs remembered.
pub(crate) const MAX_NEGATIVE: usize = 256;
/// Certificate fetches allowed at once…
pub(crate) const FETCH_BURST: u32 = 10;
/// …then one per this.
pub(crate) const FETCH_REFILL: Duration = Duration::from_secs(6);

/// Why an SNS delivery was refused: the error, and the `rejected_total` reason.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) error: Error,
    pub(crate) reason: &'static str,
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Self {
        Self { error, reason: "signature" }
    }
}

/// A token bucket for outbound certificate fetches.
#[derive(Debug)]
struct Budget {
    tokens: f64,
    at: Instant,
}

impl Budget {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() / FETCH_REFILL.as_secs_f64();
        self.tokens = (self.tokens + refill).min(f64::from(FETCH_BURST));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// RSA PKCS #1 v1.5 verification through ring, for webpki's certificate parser.
#[derive(Debug)]
struct RsaPkcs1(&'static ring::signature::RsaParameters);

impl SignatureVerificationAlgorithm for RsaPkcs1 {
    fn verify_signature(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), InvalidSignature> {
        ring::signature::UnparsedPublicKey::new(self.0, public_key)
            .verify(message, signature)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::RSA_ENCRYPTION
    }

    /// Not consulted when verifying data with an end-entity key (only for certificate chains).
    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::RSA_PKCS1_SHA256
    }
}

static RSA_SHA1: RsaPkcs1 = RsaPkcs1(&ring::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY);
static RSA_SHA256: RsaPkcs1 = RsaPkcs1(&ring::signature::RSA_PKCS1_2048_8192_SHA256);

/// Verifies SNS messages and confirms subscriptions.
pub(crate) struct SnsVerifier {
    config: SnsConfig,
    /// The allow-list: the policy's topics and the configuration's.
    topics: Vec<String>,
    max_age: chrono::TimeDelta,
    max_future_skew: chrono::TimeDelta,
    clock: Arc<dyn Clock>,
    client: reqwest::Client,
    certs: Mutex<HashMap<String, Arc<Vec<u8>>>>,
    /// Certificate URLs whose fetch failed: when, and why.
    failed: Mutex<HashMap<String, (Instant, String)>>,
    budget: Mutex<Budget>,
}

impl std::fmt::Debug for SnsVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnsVerifier")
            .field("config", &self.config)
            .field("topics", &self.topics)
            .field("max_age", &self.max_age)
            .field("max_future_skew", &self.max_future_skew)
            .finish_non_exhaustive()
    }
}

impl SnsVerifier {
    pub(crate) fn new(config: SnsConfig, policy: &ReceiverSnsPolicy, clock: Arc<dyn Clock>) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::internal("cannot build the HTTPS client for SNS").with_source(e))?;
        let mut topics = policy.topics.clone();
        for t in &config.topic_arns {
            if !topics.contains(t) {
                topics.push(t.clone());
            }
        }
        Ok(Self {
            config,
            topics,
            max_age: policy.max_age.as_delta(),
            max_future_skew: policy.max_future_skew.as_delta(),
            clock,
            client,
            certs: Mutex::new(HashMap::new()),
            failed: Mutex::new(HashMap::new()),
            budget: Mutex::new(Budget { tokens: f64::from(FETCH_BURST), at: Instant::now() }),
        })
    }

    /// The topic allow-list in force.
    pub(crate) fn topics(&self) -> &[String] {
        &self.topics
    }

    pub(crate) fn config(&self) -> &SnsConfig {
        &self.config
    }

    /// Whether `url` may be fetched (`what` names the field in the error).
    fn check_url(&self, url: &str, what: &str, pem: bool) -> Result<()> {
        let refuse =
            |why: &str| Error::new(incident_core::ErrorKind::PermissionDenied, format!("sns message: {what}: {why}"));
        let Some((scheme, host, port, path)) = split_url(url) else {
            return Err(refuse("not an absolute http(s) URL"));
        };
        let origin = match port {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let test_host = self.config.test_hosts.iter().any(|h| h.eq_ignore_ascii_case(&origin));
        let aws = scheme == "https" && port.is_none_or(|p| p == 443) && is_sns_host(&host);
        if !aws && !test_host {
            return Err(refuse("host is not sns.<region>.amazonaws.com over https"));
        }
        if pem && !path.split(['?', '#']).next().unwrap_or_default().ends_with(".pem") {
            return Err(refuse("does not name a .pem certificate"));
        }
        Ok(())
    }

    async fn fetch(&self, url: &str, limit: usize) -> Result<Vec<u8>> {
        let unavailable = |why: String| Error::unavailable(format!("sns: cannot fetch {url}: {why}"));
        let resp = self.client.get(url).send().await.map_err(|e| unavailable(e.without_url().to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(unavailable(format!("HTTP {status}")));
        }
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(unavailable("too large".into()));
        }
        let body = resp.bytes().await.map_err(|e| unavailable(e.without_url().to_string()))?;
        if body.len() > limit {
            return Err(unavailable("too large".into()));
        }
        Ok(body.to_vec())
    }

    async fn cert(&self, url: &str) -> Result<Arc<Vec<u8>>> {
        if let Some(c) = self.certs.lock().unwrap_or_else(PoisonError::into_inner).get(url) {
            return Ok(Arc::clone(c));
        }
        {
            let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((at, why)) = failed.get(url) {
                let age = at.elapsed();
                if age < NEGATIVE_TTL {
                    return Err(Error::unavailable(format!(
                        "sns: {why} (failed {}s ago; not fetched again for {}s)",
                        age.as_secs(),
                        (NEGATIVE_TTL - age).as_secs()
                    )));
                }
                failed.remove(url);
            }
        }
        if !self.budget.lock().unwrap_or_else(PoisonError::into_inner).take() {
            tracing::warn!(url, "receiver: SNS certificate fetch budget exhausted");
            return Err(Error::unavailable(format!(
                "sns: certificate fetch budget exhausted ({FETCH_BURST} at once, then one per {}s); retry later",
                FETCH_REFILL.as_secs()
            )));
        }
        let der = match self.fetch_cert(url).await {
            Ok(der) => der,
            Err(e) => {
                self.remember_failure(url, e.message());
                return Err(e);
            }
        };
        let mut certs = self.certs.lock().unwrap_or_else(PoisonError::into_inner);
        if certs.len() >= MAX_CERTS {
            certs.clear();
        }
        certs.insert(url.to_owned(), Arc::clone(&der));
        Ok(der)
    }

    /// Remember that fetching `url` failed: at most [`MAX_NEGATIVE`] URLs, the expired ones dropped
    /// first, then the oldest.
    fn remember_failure(&self, url: &str, why: &str) {
        let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
        if failed.len() >= MAX_NEGATIVE {
            failed.retain(|_, (at, _)| at.elapsed() < NEGATIVE_TTL);
        }
        if failed.len() >= MAX_NEGATIVE {
            if let Some(oldest) = failed.iter().min_by_key(|(_, (at, _))| *at).map(|(u, _)| u.clone()) {
                failed.remove(&oldest);
            }
        }
        failed.insert(url.to_owned(), (Instant::now(), why.to_owned()));
    }

    /// Fetch and parse the certificate at `url` (DER).
    async fn fetch_cert(&self, url: &str) -> Result<Arc<Vec<u8>>> {
        let pem = self.fetch(url, MAX_CERT_BYTES).await?;
        let der = CertificateDer::from_pem_slice(&pem)
            .map_err(|e| Error::unavailable(format!("sns: {url} is not a PEM certificate: {e}")))?;
        // Parse once so a bad certificate is not cached.
        webpki::EndEntityCert::try_from(&der)
            .map_err(|e| Error::unavailable(format!("sns: {url} is not a usable certificate: {e}")))?;
        Ok(Arc::new(der.as_ref().to_vec()))
    }

    /// The replay window: `Timestamp` within `max_age` in the past and `max_future_skew` ahead.
    fn check_time(&self, msg: &SnsMessage) -> Result<()> {
        let denied = |why: String| Error::new(ErrorKind::PermissionDenied, format!("sns message: Timestamp: {why}"));
        let at = chrono::DateTime::parse_from_rfc3339(msg.timestamp.trim())
            .map_err(|_| denied(format!("{:?} is not an RFC 3339 time", msg.timestamp)))?
            .with_timezone(&chrono::Utc);
        let now = self.clock.now();
        if now - at > self.max_age {
            return Err(denied(format!(
                "{} is older than receiver.sns.max_age ({}s): refused as a replay",
                msg.timestamp,
                self.max_age.num_seconds()
            )));
        }
        if at - now > self.max_future_skew {
            return Err(denied(format!(
                "{} is more than receiver.sns.max_future_skew ({}s) in the future",
                msg.timestamp,
                self.max_future_skew.num_seconds()
            )));
        }
        Ok(())
    }

    /// Verify `msg`'s topic (allow-list), time (replay window), origin and signature — in that order,
    /// so nothing is fetched for a refused topic or a stale message.
    ///
    /// # Errors
    /// `PermissionDenied` for a topic not on the allow-list (reason `topic`), a message outside the
    /// replay window (`replay`), a refused URL or a bad signature (`signature`); `Unavailable` when the
    /// certificate cannot be fetched, failed recently, or the fetch budget is spent (the sender retries).
    pub(crate) async fn verify(&self, msg: &SnsMessage) -> std::result::Result<(), Refusal> {
        let denied = |why: String| Error::new(ErrorKind::PermissionDenied, why);
        if !self.topics.contains(&msg.topic_arn) {
            let why = if self.topics.is_empty() {
                "no SNS topic is allowed (closed by default)".to_owned()
            } else {
                "not on the allow-list".to_owned()
            };
            return Err(Refusal {
                error: denied(format!(
                    "sns message: TopicArn: {} is not an accepted topic: {why}; allow it with `incident serve \
                     --sns-topic {}` or receiver.sns.topics in the policy",
                    msg.topic_arn, msg.topic_arn
                )),
                reason: "topic",
            });
        }
        self.check_time(msg).map_err(|error| Refusal { error, reason: "replay" })?;
        self.check_url(&msg.signing_cert_url, "SigningCertURL", true)?;
        let signature = base64::engine::general_purpose::STANDARD
            .decode(msg.signature.trim())
            .map_err(|_| denied("sns message: Signature: not base64".into()))?;
        let der = self.cert(&msg.signing_cert_url).await?;
        let der = CertificateDer::from(der.as_slice());
        let cert = webpki::EndEntityCert::try_from(&der)
            .map_err(|e| Error::unavailable(format!("sns: signing certificate unusable: {e}")))?;
        let alg: &RsaPkcs1 = match msg.signature_version {
            SignatureVersion::V1 => &RSA_SHA1,
            SignatureVersion::V2 => &RSA_SHA256,
        };
        cert.verify_signature(alg, msg.string_to_sign().as_bytes(), &signature)
            .map_err(|_| denied("sns message: Signature: does not verify with the signing certificate".into()))?;
        Ok(())
    }

    /// Confirm a verified `SubscriptionConfirmation` by fetching its `SubscribeURL`.
    ///
    /// # Errors
    /// `PermissionDenied` for a refused URL; `Unavailable` when SNS does not answer 2xx.
    pub(crate) async fn confirm(&self, msg: &SnsMessage) -> Result<()> {
        let url = msg.subscribe_url.as_deref().unwrap_or_default();
        self.check_url(url, "SubscribeURL", false)?;
        self.fetch(url, 64 * 1024).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier() -> SnsVerifier {
        SnsVerifier::new(
            SnsConfig::default(),
            &ReceiverSnsPolicy::default(),
            Arc::new(incident_core::clock::SystemClock),
        )
        .expect("verifier")
    }

    #[tokio::test(start_paused = true)]
    async fn the_fetch_budget_is_a_burst_of_ten_then_one_per_six_seconds() {
        let v = verifier();
        let take = || v.budget.lock().expect("lock").take();
        assert!((0..FETCH_BURST).all(|_| take()));
        assert!(!take(), "burst spent");
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(!take());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(take(), "one more after 6 s");
        assert!(!take());
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!((0..FETCH_BURST).all(|_| take()), "refills up to the burst only");
        assert!(!take());
    }

    #[tokio::test(start_paused = true)]
    async fn the_negative_cache_is_bounded_and_expires() {
        let v = verifier();
        for i in 0..MAX_NEGATIVE + 50 {
            v.remember_failure(&format!("https://sns.us-east-1.amazonaws.com/c{i}.pem"), "HTTP 404");
            tokio::time::advance(Duration::from_millis(1)).await;
        }
        {
            let failed = v.failed.lock().expect("lock");
            assert_eq!(failed.len(), MAX_NEGATIVE);
            assert!(!failed.contains_key("https://sns.us-east-1.amazonaws.com/c0.pem"), "the oldest went first");
            assert!(failed.contains_key(&format!("https://sns.us-east-1.amazonaws.com/c{}.pem", MAX_NEGATIVE + 49)));
        }
        // After the TTL the URL is fetched again (here: refused by the budget, not by the cache).
        tokio::time::advance(NEGATIVE_TTL).await;
        let url = format!("https://sns.us-east-1.amazonaws.com/c{}.pem", MAX_NEGATIVE + 49);
        *v.budget.lock().expect("lock") = Budget { tokens: 0.0, at: Instant::now() };
        let e = v.cert(&url).await.expect_err("budget");
        assert!(e.message().contains("budget exhausted"), "{e}");
    }
}
