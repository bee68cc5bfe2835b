//! `Policy`: the runbook as data (load, validate, show, JSON Schema).

use incident_core::Policy as CorePolicy;
use napi::Env;
use napi_derive::napi;
use serde_json::Value;

use crate::error::OrThrow;

/// The format of a policy document.
#[napi(string_enum)]
pub enum PolicyFormat {
    /// TOML.
    #[napi(value = "toml")]
    Toml,
    /// YAML.
    #[napi(value = "yaml")]
    Yaml,
    /// JSON.
    #[napi(value = "json")]
    Json,
}

/// The incident-response policy: severities, declaration thresholds, comms cadence, routing, drills, guard
/// rails. `new Policy()` is the runbook's defaults; files and objects override any field and are validated,
/// naming the exact field on error (`code: 'policy'`).
#[napi]
pub struct Policy {
    pub(crate) inner: CorePolicy,
}

/// The runbook defaults when `policy` is absent.
pub(crate) fn or_default(policy: Option<&Policy>) -> CorePolicy {
    policy.map_or_else(CorePolicy::default, |p| p.inner.clone())
}

#[napi]
impl Policy {
    /// The runbook's defaults, with `overrides` (a partial policy object in the file format, snake_case
    /// keys as in the TOML/YAML files) applied and validated.
    #[napi(constructor, catch_unwind, ts_args_type = "overrides?: Record<string, unknown>")]
    pub fn new(env: Env, overrides: Option<Value>) -> napi::Result<Self> {
        let inner = match overrides {
            None | Some(Value::Null) => CorePolicy::default(),
            Some(v @ Value::Object(_)) => CorePolicy::from_value(v).or_throw(&env)?,
            Some(_) => {
                return Err(crate::error::js_error(
                    &env,
                    &incident_core::Error::invalid_input("policy overrides: expected an object"),
                ));
            }
        };
        Ok(Self { inner })
    }

    /// Load a policy file (`.toml`, `.yaml`/`.yml` or `.json`) over the defaults.
    #[napi(factory, strict, catch_unwind)]
    pub fn from_file(env: Env, path: String) -> napi::Result<Self> {
        Ok(Self { inner: CorePolicy::from_path(std::path::Path::new(&path)).or_throw(&env)? })
    }

    /// Parse a policy document in `format` over the defaults.
    #[napi(factory, strict, catch_unwind, ts_args_type = "text: string, format: PolicyFormat")]
    pub fn parse(env: Env, text: String, format: String) -> napi::Result<Self> {
        Ok(Self { inner: CorePolicy::parse_as(&text, &format).or_throw(&env)? })
    }

    /// Re-validate (policies built by this package are always valid; kept for symmetry with the CLI).
    #[napi(strict, catch_unwind)]
    pub fn validate(&self, env: Env) -> napi::Result<()> {
        self.inner.validate().or_throw(&env)
    }

    /// The policy as a TOML document.
    #[napi(strict, catch_unwind)]
    pub fn to_toml(&self, env: Env) -> napi::Result<String> {
        self.inner.to_toml_string().or_throw(&env)
    }

    /// The policy as a YAML document.
    #[napi(strict, catch_unwind)]
    pub fn to_yaml(&self, env: Env) -> napi::Result<String> {
        self.inner.to_yaml_string().or_throw(&env)
    }

    /// The policy as a JSON document (string).
    #[napi(strict, catch_unwind)]
    pub fn to_json_string(&self, env: Env) -> napi::Result<String> {
        self.inner.to_json_string().or_throw(&env)
    }

    /// The policy as a plain object in the file format (what `JSON.stringify` uses).
    #[napi(js_name = "toJSON", catch_unwind, ts_return_type = "import('../lib/wire').PolicyJson")]
    pub fn to_json(&self, env: Env) -> napi::Result<Value> {
        crate::error::to_json(&self.inner).or_throw(&env)
    }

    /// The JSON Schema (draft 2020-12) of policy files.
    #[napi(strict, catch_unwind, ts_return_type = "Record<string, unknown>")]
    pub fn json_schema() -> Value {
        CorePolicy::json_schema()
    }

    /// The response-time target of `severity`, in seconds.
    #[napi(strict, catch_unwind, ts_args_type = "severity: Severity")]
    pub fn response_time_seconds(&self, env: Env, severity: String) -> napi::Result<u32> {
        let sev = crate::classify::severity(&severity).or_throw(&env)?;
        Ok(u32::try_from(self.inner.response_time(sev).as_secs()).unwrap_or(u32::MAX))
    }

    /// SHA-256 (lower-case hex) of the policy's canonical JSON: what every plan records as the policy it
    /// was planned under.
    #[napi(strict, catch_unwind)]
    pub fn digest(&self) -> String {
        self.inner.digest()
    }

    /// The escalation levels of `severity`: level 1 is its `escalation` roles (paged at once), then one
    /// level per `escalation_chain` entry (role names such as `incident_commander`).
    #[napi(strict, catch_unwind, ts_args_type = "severity: Severity")]
    pub fn escalation_levels(&self, env: Env, severity: String) -> napi::Result<Vec<Vec<String>>> {
        let sev = crate::classify::severity(&severity).or_throw(&env)?;
        Ok(self.inner.escalation_levels(sev).iter().map(|l| l.iter().map(crate::error::enum_str).collect()).collect())
    }

    /// Whether declaring a `severity` incident at `declaredAt` pages its level-1 roles at once (always for
    /// `immediate` / `any_time` windows; inside business hours for `business_hours`, else the escalation
    /// driver pages at the next business instant).
    #[napi(strict, catch_unwind, ts_args_type = "severity: Severity, declaredAt: Date")]
    pub fn pages_at_declaration(
        &self,
        env: Env,
        severity: String,
        declared_at: chrono::DateTime<chrono::Utc>,
    ) -> napi::Result<bool> {
        let sev = crate::classify::severity(&severity).or_throw(&env)?;
        Ok(self.inner.pages_at_declaration(sev, declared_at))
    }

    /// The contact directory's entry for `role` (`incident_commander`, `aws_support`, ...; the wire JSON of
    /// `policy.contacts[]`), or `null`. Throws `invalid_input` for an unknown role.
    #[napi(catch_unwind, ts_args_type = "role: string", ts_return_type = "import('../lib/wire').ContactJson | null")]
    pub fn contact(&self, env: Env, role: String) -> napi::Result<Value> {
        let contact = crate::error::from_json::<incident_core::policy::Role>("role", Value::String(role))
            .and_then(|role| self.inner.contact(role).map_or(Ok(Value::Null), crate::error::to_json));
        contact.or_throw(&env)
    }

    /// The stage budget of `procedure`'s `stage` in seconds, if the policy sets one; throws `invalid_input`
    /// for a blank procedure or stage.
    #[napi(strict, catch_unwind)]
    pub fn stage_budget_seconds(&self, env: Env, procedure: String, stage: String) -> napi::Result<Option<u32>> {
        let budget = self.inner.try_stage_budget(&procedure, &stage).or_throw(&env)?;
        Ok(budget.map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX)))
    }
}
