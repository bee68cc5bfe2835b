//! `aws eks update-kubeconfig` without the CLI: the cluster's endpoint and CA from `DescribeCluster`,
//! and a bearer token the way `aws eks get-token` makes it — `k8s-aws-v1.` + base64url (no padding) of a
//! SigV4-presigned `sts:GetCallerIdentity` URL whose signature covers the `x-k8s-aws-id: <cluster>`
//! header. Building a kube client from these belongs to the Kubernetes adapter.

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeDelta, Utc};
use incident_core::{Error, ErrorKind, Result};

use crate::AwsBackends;
use crate::error::{Call, map_sdk};

/// How long the presigned URL is valid (what `aws eks get-token` uses).
const PRESIGN_SECS: u64 = 60;
/// When callers should fetch a new token (`aws eks get-token` reports 14 minutes; EKS accepts 15).
const TOKEN_LIFETIME_MINS: i64 = 14;

/// What a kube client needs to talk to an EKS cluster. `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct EksCredentials {
    /// Cluster name.
    pub cluster: String,
    /// Region.
    pub region: String,
    /// API server URL (`https://...eks.amazonaws.com`).
    pub endpoint: String,
    /// The cluster CA bundle: `certificateAuthority.data` base64-decoded (PEM on EKS).
    pub certificate_authority_pem: Vec<u8>,
    /// Bearer token (`k8s-aws-v1.…`): a secret.
    pub token: String,
    /// When to fetch a new token.
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for EksCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EksCredentials")
            .field("cluster", &self.cluster)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("certificate_authority_pem", &format_args!("<{} bytes>", self.certificate_authority_pem.len()))
            .field("token", &incident_core::redact::MARK)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// RFC 3986 percent-encoding of a query component (everything but unreserved characters).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl AwsBackends {
    /// A bearer token for EKS cluster `cluster` in `region`, signed at `now` (pass the engine's clock).
    ///
    /// # Errors
    /// `PermissionDenied` when no credentials can be loaded; `InvalidInput` for an empty cluster name.
    pub async fn eks_token(&self, region: &str, cluster: &str, now: DateTime<Utc>) -> Result<(String, DateTime<Utc>)> {
        if cluster.is_empty() {
            return Err(Error::invalid_input("EKS cluster name is empty"));
        }
        let provider = self
            .sdk()
            .credentials_provider()
            .ok_or_else(|| Error::new(ErrorKind::PermissionDenied, "no AWS credentials provider is configured"))?;
        let creds = provider.provide_credentials().await.map_err(|e| {
            let why = self.redactor().scrub(&aws_smithy_types::error::display::DisplayErrorContext(&e).to_string());
            Error::new(ErrorKind::PermissionDenied, format!("no AWS credentials for the EKS token: {why}"))
        })?;
        let identity = creds.into();
        let base = match self.endpoint_url() {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("https://sts.{region}.amazonaws.com"),
        };
        let url = format!("{base}/?Action=GetCallerIdentity&Version=2011-06-15");
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(PRESIGN_SECS));
        let secs = u64::try_from(now.timestamp()).map_err(|_| Error::invalid_input("signing time before 1970"))?;
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("sts")
            .time(time)
            .settings(settings)
            .build()
            .map_err(|e| Error::internal(format!("EKS token signing parameters: {e}")))?
            .into();
        let headers = [("x-k8s-aws-id", cluster)];
        let request = SignableRequest::new("GET", url.clone(), headers.into_iter(), SignableBody::Bytes(&[]))
            .map_err(|e| Error::invalid_input(format!("EKS token request: {e}")))?;
        let (instructions, _signature) =
            sign(request, &params).map_err(|e| Error::internal(format!("EKS token signing failed: {e}")))?.into_parts();
        let mut signed = url;
        for (k, v) in instructions.params() {
            signed.push('&');
            signed.push_str(&encode(k));
            signed.push('=');
            signed.push_str(&encode(v));
        }
        let token = format!("k8s-aws-v1.{}", URL_SAFE_NO_PAD.encode(signed.as_bytes()));
        Ok((token, now + TimeDelta::minutes(TOKEN_LIFETIME_MINS)))
    }

    /// The runbook's `aws eks update-kubeconfig --region R --name N` as data: endpoint and CA from
    /// `DescribeCluster`, plus a token from [`AwsBackends::eks_token`].
    ///
    /// # Errors
    /// `NotFound` for an unknown cluster; `PreconditionFailed` when the cluster reports no endpoint or CA
    /// (still creating); the mapped SDK errors.
    pub async fn eks_credentials(&self, region: &str, cluster: &str, now: DateTime<Utc>) -> Result<EksCredentials> {
        let eks = self.eks_client(region)?;
        let out = eks
            .describe_cluster()
            .name(cluster)
            .send()
            .await
            .map_err(|e| map_sdk(self.redactor(), "eks:DescribeCluster", Call::Read, e))?;
        let c =
            out.cluster().ok_or_else(|| Error::not_found(format!("EKS cluster {cluster} not found in {region}")))?;
        let endpoint = c
            .endpoint()
            .filter(|e| !e.is_empty())
            .ok_or_else(|| Error::precondition(format!("EKS cluster {cluster} has no endpoint yet")))?
            .to_owned();
        let ca_b64 =
            c.certificate_authority().and_then(|a| a.data()).filter(|d| !d.is_empty()).ok_or_else(|| {
                Error::precondition(format!("EKS cluster {cluster} reports no certificate authority"))
            })?;
        let certificate_authority_pem = STANDARD
            .decode(ca_b64.trim())
            .map_err(|e| Error::invalid_input(format!("EKS cluster {cluster}: CA data is not base64: {e}")))?;
        let (token, expires_at) = self.eks_token(region, cluster, now).await?;
        Ok(EksCredentials {
            cluster: cluster.to_owned(),
            region: region.to_owned(),
            endpoint,
            certificate_authority_pem,
            token,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn encodes_query_components() {
        assert_eq!(
            encode("AKID/20260101/us-east-1/sts/aws4_request"),
            "AKID%2F20260101%2Fus-east-1%2Fsts%2Faws4_request"
        );
        assert_eq!(encode("host;x-k8s-aws-id"), "host%3Bx-k8s-aws-id");
    }
}
