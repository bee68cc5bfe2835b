#![doc = include_str!("../README.md")]

mod cloud;
mod eks;
mod error;
mod rds;
mod route53;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_http_client::tls;
use aws_smithy_types::timeout::TimeoutConfig;
use incident_core::backend::{Cloud, Databases, Dns};
use incident_core::{Error, ErrorKind, Result};

pub use eks::EksCredentials;

use incident_core::redact::{MARK, Redactor};

/// Static credentials (tests against moto, or a caller that already holds keys). `Debug` hides the
/// secret.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token, for temporary credentials.
    pub session_token: Option<String>,
}

impl fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &MARK)
            .field("secret_access_key", &MARK)
            .field("session_token", &self.session_token.as_ref().map(|_| MARK))
            .finish()
    }
}

/// How to reach AWS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsConfig {
    /// The primary region; from the chain (`AWS_REGION`, the profile's `region`) when `None`.
    pub primary_region: Option<String>,
    /// The secondary (failover) region, if any.
    pub secondary_region: Option<String>,
    /// Endpoint override for every service (moto, LocalStack); `None` for AWS.
    pub endpoint_url: Option<String>,
    /// Shared-config profile (`AWS_PROFILE` when `None`).
    pub profile: Option<String>,
    /// Credentials to use instead of the chain's.
    pub credentials: Option<StaticCredentials>,
    /// Per-attempt timeout of each API call (SDK default when `None`).
    pub attempt_timeout: Option<Duration>,
}

/// RDS, Route53, STS, AWS Health and EKS clients for the primary and secondary regions.
///
/// Cheap to clone; implements [`Databases`], [`Dns`] and [`Cloud`].
#[derive(Clone)]
pub struct AwsBackends {
    inner: Arc<Inner>,
}

struct Inner {
    sdk: SdkConfig,
    primary: String,
    secondary: Option<String>,
    endpoint_url: Option<String>,
    health: Option<aws_sdk_health::Client>,
    route53: Option<aws_sdk_route53::Client>,
    redactor: Redactor,
}

impl fmt::Debug for AwsBackends {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsBackends")
            .field("primary", &self.inner.primary)
            .field("secondary", &self.inner.secondary)
            .field("endpoint_url", &self.inner.endpoint_url)
            .finish_non_exhaustive()
    }
}

impl AwsBackends {
    /// Load the configuration chain, resolve the region and credentials once (so a missing region or
    /// missing credentials fail here, with a clear error, instead of on the first call).
    ///
    /// # Errors
    /// `InvalidInput` when no region is configured anywhere or a region is empty; `PermissionDenied`
    /// when no credentials can be loaded.
    pub async fn connect(config: AwsConfig) -> Result<Self> {
        for r in [&config.primary_region, &config.secondary_region].into_iter().flatten() {
            validate_region(r)?;
        }
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
        if let Some(p) = &config.profile {
            loader = loader.profile_name(p);
        }
        if let Some(r) = &config.primary_region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(u) = &config.endpoint_url {
            loader = loader.endpoint_url(u);
        }
        if let Some(t) = config.attempt_timeout {
            loader = loader.timeout_config(TimeoutConfig::builder().operation_attempt_timeout(t).build());
        }
        let mut secrets = Vec::new();
        if let Some(c) = &config.credentials {
            secrets.push(c.secret_access_key.clone());
            secrets.extend(c.session_token.clone());
            loader = loader.credentials_provider(Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.clone(),
                c.session_token.clone(),
                None,
                "incident-aws-static",
            ));
        }
        let sdk = loader.load().await;
        let primary = sdk.region().map(ToString::to_string).filter(|r| !r.is_empty()).ok_or_else(|| {
            Error::invalid_input(
                "no AWS region configured: set AwsConfig::primary_region, AWS_REGION or `region` in the profile",
            )
        })?;
        let provider = sdk
            .credentials_provider()
            .ok_or_else(|| Error::new(ErrorKind::PermissionDenied, "no AWS credentials provider is configured"))?;
        let creds = provider.provide_credentials().await.map_err(|e| {
            let redactor = error::redactor(&secrets);
            let why = redactor.scrub(&aws_smithy_types::error::display::DisplayErrorContext(&e).to_string());
            Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "no AWS credentials found (environment, profile {}, container or instance metadata): {why}",
                    config.profile.as_deref().unwrap_or("default")
                ),
            )
        })?;
        secrets.push(creds.secret_access_key().to_owned());
        secrets.extend(creds.session_token().map(ToOwned::to_owned));
        Ok(Self {
            inner: Arc::new(Inner {
                sdk,
                primary,
                secondary: config.secondary_region,
                endpoint_url: config.endpoint_url,
                health: None,
                route53: None,
                redactor: error::redactor(&secrets),
            }),
        })
    }

    /// Use `client` for AWS Health instead of one built from the configuration (tests with
    /// `aws-smithy-mocks`; moto has no Health API).
    #[must_use]
    pub fn with_health_client(self, client: aws_sdk_health::Client) -> Self {
        let inner = &self.inner;
        Self {
            inner: Arc::new(Inner {
                sdk: inner.sdk.clone(),
                primary: inner.primary.clone(),
                secondary: inner.secondary.clone(),
                endpoint_url: inner.endpoint_url.clone(),
                health: Some(client),
                route53: inner.route53.clone(),
                redactor: inner.redactor.clone(),
            }),
        }
    }

    /// Use `client` for Route53 instead of one built from the configuration (tests with
    /// `aws-smithy-mocks`: moto answers `INSYNC` to every `GetChange`, so a change that stays `PENDING`
    /// can only be shown with a mock).
    #[must_use]
    pub fn with_route53_client(self, client: aws_sdk_route53::Client) -> Self {
        let inner = &self.inner;
        Self {
            inner: Arc::new(Inner {
                sdk: inner.sdk.clone(),
                primary: inner.primary.clone(),
                secondary: inner.secondary.clone(),
                endpoint_url: inner.endpoint_url.clone(),
                health: inner.health.clone(),
                route53: Some(client),
                redactor: inner.redactor.clone(),
            }),
        }
    }

    /// The primary region.
    #[must_use]
    pub fn primary_region(&self) -> &str {
        &self.inner.primary
    }

    /// The secondary region, if configured.
    #[must_use]
    pub fn secondary_region(&self) -> Option<&str> {
        self.inner.secondary.as_deref()
    }

    /// This value as the core's [`Databases`] port.
    #[must_use]
    pub fn databases(&self) -> Arc<dyn Databases> {
        Arc::new(self.clone())
    }

    /// This value as the core's [`Dns`] port.
    #[must_use]
    pub fn dns(&self) -> Arc<dyn Dns> {
        Arc::new(self.clone())
    }

    /// This value as the core's [`Cloud`] port.
    #[must_use]
    pub fn cloud(&self) -> Arc<dyn Cloud> {
        Arc::new(self.clone())
    }

    /// The RDS client of `region`.
    ///
    /// # Errors
    /// `InvalidInput` for an empty or malformed region.
    pub fn rds_client(&self, region: &str) -> Result<aws_sdk_rds::Client> {
        validate_region(region)?;
        let conf = aws_sdk_rds::config::Builder::from(&self.inner.sdk).region(Region::new(region.to_owned())).build();
        Ok(aws_sdk_rds::Client::from_conf(conf))
    }

    /// The Route53 client: the injected one, or one from the configuration (a global service, signed for
    /// the primary region).
    #[must_use]
    pub fn route53_client(&self) -> aws_sdk_route53::Client {
        if let Some(c) = &self.inner.route53 {
            return c.clone();
        }
        aws_sdk_route53::Client::new(&self.inner.sdk)
    }

    /// The STS client of `region`.
    ///
    /// # Errors
    /// `InvalidInput` for an empty or malformed region.
    pub fn sts_client(&self, region: &str) -> Result<aws_sdk_sts::Client> {
        validate_region(region)?;
        let conf = aws_sdk_sts::config::Builder::from(&self.inner.sdk).region(Region::new(region.to_owned())).build();
        Ok(aws_sdk_sts::Client::from_conf(conf))
    }

    /// The EKS client of `region`.
    ///
    /// # Errors
    /// `InvalidInput` for an empty or malformed region.
    pub fn eks_client(&self, region: &str) -> Result<aws_sdk_eks::Client> {
        validate_region(region)?;
        let conf = aws_sdk_eks::config::Builder::from(&self.inner.sdk).region(Region::new(region.to_owned())).build();
        Ok(aws_sdk_eks::Client::from_conf(conf))
    }

    /// The AWS Health client: the injected one, or one for `us-east-1` (Health's global endpoint).
    #[must_use]
    pub fn health_client(&self) -> aws_sdk_health::Client {
        if let Some(c) = &self.inner.health {
            return c.clone();
        }
        let conf =
            aws_sdk_health::config::Builder::from(&self.inner.sdk).region(Region::new("us-east-1".to_owned())).build();
        aws_sdk_health::Client::from_conf(conf)
    }

    pub(crate) fn redactor(&self) -> &Redactor {
        &self.inner.redactor
    }

    pub(crate) fn sdk(&self) -> &SdkConfig {
        &self.inner.sdk
    }

    pub(crate) fn endpoint_url(&self) -> Option<&str> {
        self.inner.endpoint_url.as_deref()
    }
}

/// A region name must look like `us-east-1` (lower-case letters, digits and dashes).
fn validate_region(region: &str) -> Result<()> {
    if region.is_empty() {
        return Err(Error::invalid_input("AWS region is empty"));
    }
    if !region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') || !region.contains('-') {
        return Err(Error::invalid_input(format!("{region:?} is not an AWS region name (e.g. us-east-1)")));
    }
    Ok(())
}

/// AWS timestamps to chrono.
pub(crate) fn to_chrono(t: &aws_smithy_types::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

/// chrono to AWS timestamps.
pub(crate) fn to_aws(t: chrono::DateTime<chrono::Utc>) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs_and_nanos(t.timestamp(), t.timestamp_subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_validated() {
        assert!(validate_region("us-east-1").is_ok());
        assert_eq!(validate_region("").unwrap_err().kind(), ErrorKind::InvalidInput);
        assert_eq!(validate_region("US East").unwrap_err().kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn static_credentials_debug_hides_values() {
        let c = StaticCredentials {
            access_key_id: "AKIAEXAMPLE".into(),
            secret_access_key: "very-secret".into(),
            session_token: Some("tok".into()),
        };
        let d = format!("{c:?}");
        assert!(!d.contains("very-secret") && !d.contains("AKIAEXAMPLE") && !d.contains("tok\""));
    }
}
