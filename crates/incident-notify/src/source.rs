//! [`ConfigSource`] and [`Router::for_store`]: the one assembly of the notifiers for a store, shared by
//! the CLI (`incident serve`, `incident ack | update | resolve ...`) and the Python and Node `Incidents`,
//! so every front end reads the same config the same way.
//!
//! ```
//! use std::sync::Arc;
//! use chrono::TimeZone;
//! use incident_core::clock::ManualClock;
//! use incident_core::store::MemoryStore;
//! use incident_notify::{ConfigSource, Router};
//!
//! let clock = Arc::new(ManualClock::new(chrono::Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap()));
//! let store = Arc::new(MemoryStore::new());
//! // The config as a value (what a Python dict or a JS object becomes), then the environment.
//! let source = ConfigSource::Value(serde_json::json!({
//!     "webhooks": { "ops": { "url": "https://hooks.example.com/incident", "secret": "s3cr3t" } }
//! }));
//! let env = |k: &str| (k == "INCIDENT_SLACK_TOKEN").then(|| "xoxb-from-env".to_owned());
//! let router = Router::for_store(&source, env, clock.clone(), store.clone()).unwrap();
//! assert_eq!(router.providers(), ["slack", "webhook:ops"]);
//!
//! // A bad config names the field, never the secret.
//! let bad = ConfigSource::Value(serde_json::json!({ "slack": { "token": "xoxb-s3cr3t", "invite": "U1" } }));
//! let err = Router::for_store(&bad, |_| None, clock, store).unwrap_err();
//! assert_eq!(err.kind(), incident_core::ErrorKind::InvalidInput);
//! assert!(err.to_string().contains("slack.invite") && !err.to_string().contains("s3cr3t"));
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use incident_core::clock::Clock;
use incident_core::store::Store;
use incident_core::{Error, Result};

use crate::{IncidentContext, NotifyConfig, Router};

/// Where a notify config comes from; the `INCIDENT_*` environment variables override each (see
/// [`crate::config`]). `Debug` never prints a value's content (it holds credentials).
#[derive(Clone, Default)]
pub enum ConfigSource {
    /// The environment only (no file): a provider is enabled by its credential variable.
    #[default]
    Env,
    /// A secrets file: JSON when it ends in `.json`, TOML otherwise (`--notify-config FILE`).
    File(PathBuf),
    /// The config itself, in the secrets file's shape (snake_case keys): a Python dict, a JS object.
    Value(serde_json::Value),
}

impl std::fmt::Debug for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Env => f.write_str("Env"),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Value(_) => f.write_str("Value(***)"),
        }
    }
}

impl From<Option<PathBuf>> for ConfigSource {
    fn from(path: Option<PathBuf>) -> Self {
        path.map_or(Self::Env, Self::File)
    }
}

impl From<Option<&std::path::Path>> for ConfigSource {
    fn from(path: Option<&std::path::Path>) -> Self {
        path.map_or(Self::Env, |p| Self::File(p.to_path_buf()))
    }
}

impl NotifyConfig {
    /// The config from a JSON value in the secrets file's shape (`source` names it in errors).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](incident_core::ErrorKind::InvalidInput) naming the field; values are
    /// never echoed.
    pub fn from_json_value(value: serde_json::Value, source: &str) -> Result<Self> {
        if !value.is_object() {
            return Err(Error::invalid_input(format!(
                "notify config {source}: expected an object (the secrets file's shape), or a file path"
            )));
        }
        serde_path_to_error::deserialize(value)
            .map_err(|e| crate::config::field_error(source, &e.path().to_string(), &e.inner().to_string()))
    }

    /// The config `source` gives, then the environment (`env` looks a variable up; `|k|
    /// std::env::var(k).ok()` for the process environment), validated.
    ///
    /// # Errors
    /// As [`NotifyConfig::from_path`], [`NotifyConfig::from_json_value`] and [`NotifyConfig::validate`].
    pub fn from_source(source: &ConfigSource, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        match source {
            ConfigSource::Env => Self::load(None, env),
            ConfigSource::File(path) => Self::load(Some(path), env),
            ConfigSource::Value(v) => {
                let mut config = Self::from_json_value(v.clone(), "(value)")?;
                config.apply_env(env);
                config.validate()?;
                Ok(config)
            }
        }
    }
}

impl Router {
    /// Every provider the config of `source` (with the `env` overrides) configures, sending at `clock`
    /// and reading incidents and earlier deliveries from `store`: what `incident serve`, the lifecycle
    /// commands and the bindings' `Incidents` hand to the lifecycle as its notifier.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](incident_core::ErrorKind::InvalidInput) naming the field of a bad
    /// config (never a value).
    pub fn for_store(
        source: &ConfigSource,
        env: impl Fn(&str) -> Option<String>,
        clock: Arc<dyn Clock>,
        store: Arc<dyn Store>,
    ) -> Result<Self> {
        let config = NotifyConfig::from_source(source, env)?;
        Self::from_config(&config, clock, IncidentContext::new(store))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Secret;

    const TOKEN: &str = "xoxb-src-S3CRET";

    fn err(v: serde_json::Value) -> String {
        let e = NotifyConfig::from_source(&ConfigSource::Value(v), |_| None).expect_err("invalid");
        assert_eq!(e.kind(), incident_core::ErrorKind::InvalidInput);
        let text = e.to_string();
        assert!(!text.contains(TOKEN), "{text}");
        text
    }

    #[test]
    fn bad_values_name_the_field_and_never_the_secret() {
        assert!(err(json!({"slack": {"token": TOKEN, "private_channels": TOKEN}})).contains("slack.private_channels"));
        assert!(err(json!({"slack": {"token": TOKEN, "invite": "U1"}})).contains("slack.invite"));
        assert!(err(json!({"pagerduty": {"routing_key": 42}})).contains("pagerduty.routing_key"));
        assert!(err(json!({"slack": {"token": TOKEN, "base_url": "http://example.com"}})).contains("slack.base_url"));
        assert!(err(json!({"slack": {}})).contains("INCIDENT_SLACK_TOKEN"));
        assert!(err(json!([TOKEN])).contains("expected an object"));
    }

    #[test]
    fn the_environment_overrides_a_value_as_it_does_a_file() {
        let v = json!({"slack": {"base_url": "http://127.0.0.1:9/api"}});
        let env = |k: &str| (k == "INCIDENT_SLACK_TOKEN").then(|| TOKEN.to_owned());
        let c = NotifyConfig::from_source(&ConfigSource::Value(v), env).expect("token from the environment");
        assert_eq!(c.slack.as_ref().and_then(|s| s.token.as_ref()).map(Secret::expose), Some(TOKEN));
        let none = NotifyConfig::from_source(&ConfigSource::Env, |_| None).expect("empty");
        assert!(none.slack.is_none() && none.webhooks.is_empty());
        assert!(matches!(ConfigSource::from(None::<PathBuf>), ConfigSource::Env));
        let source = ConfigSource::Value(json!({"slack": {"token": TOKEN}}));
        assert_eq!(format!("{source:?}"), "Value(***)");
    }
}
