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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use incident_core::ingest::sns::{SignatureVersion, SnsMessage, is_sns_host, split_url};
use incident_core::{Error, Result};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{AlgorithmIdentifier, CertificateDer, InvalidSignature, SignatureVerificationAlgorithm, alg_id};

use crate::config::SnsConfig;

const MAX_CERTS: usize = 32;
const MAX_CERT_BYTES: usize = 64 * 1024;

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
#[derive(Debug)]
pub(crate) struct SnsVerifier {
    config: SnsConfig,
    client: reqwest::Client,
    certs: Mutex<HashMap<String, Arc<Vec<u8>>>>,
}

impl SnsVerifier {
    pub(crate) fn new(config: SnsConfig) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::internal("cannot build the HTTPS client for SNS").with_source(e))?;
        Ok(Self { config, client, certs: Mutex::new(HashMap::new()) })
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
        if let Some(c) = self.certs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(url) {
            return Ok(Arc::clone(c));
        }
        let pem = self.fetch(url, MAX_CERT_BYTES).await?;
        let der = CertificateDer::from_pem_slice(&pem)
            .map_err(|e| Error::unavailable(format!("sns: {url} is not a PEM certificate: {e}")))?;
        // Parse once so a bad certificate is not cached.
        webpki::EndEntityCert::try_from(&der)
            .map_err(|e| Error::unavailable(format!("sns: {url} is not a usable certificate: {e}")))?;
        let der = Arc::new(der.as_ref().to_vec());
        let mut certs = self.certs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if certs.len() >= MAX_CERTS {
            certs.clear();
        }
        certs.insert(url.to_owned(), Arc::clone(&der));
        Ok(der)
    }

    /// Verify `msg`'s origin, topic and signature.
    ///
    /// # Errors
    /// `PermissionDenied` for a refused URL or topic or a bad signature; `Unavailable` when the
    /// certificate cannot be fetched (the sender should retry).
    pub(crate) async fn verify(&self, msg: &SnsMessage) -> Result<()> {
        let denied = |why: String| Error::new(incident_core::ErrorKind::PermissionDenied, why);
        if !self.config.topic_arns.is_empty() && !self.config.topic_arns.contains(&msg.topic_arn) {
            return Err(denied(format!("sns message: TopicArn: {} is not an accepted topic", msg.topic_arn)));
        }
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
            .map_err(|_| denied("sns message: Signature: does not verify with the signing certificate".into()))
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
