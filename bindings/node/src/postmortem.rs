//! `buildPostMortem`: the post-mortem document from an incident and its timeline.

use incident_core::postmortem::{PostMortem as CorePostMortem, PostMortemInput};
use napi::Env;
use napi_derive::napi;
use serde_json::Value;

use crate::error::{OrThrow, from_json, rename_keys, snake, to_json};
use crate::incident::Incident;
use crate::timeline::Metrics;

/// A post-mortem document.
#[napi]
pub struct PostMortem {
    pub(crate) inner: CorePostMortem,
}

#[napi]
impl PostMortem {
    /// Incident id.
    #[napi(getter, catch_unwind)]
    pub fn incident_id(&self) -> String {
        self.inner.incident_id.clone()
    }

    /// Incident title.
    #[napi(getter, catch_unwind)]
    pub fn title(&self) -> String {
        self.inner.title.clone()
    }

    /// Final severity.
    #[napi(getter, catch_unwind, ts_return_type = "Severity")]
    pub fn severity(&self) -> String {
        self.inner.severity.as_str().to_owned()
    }

    /// Response metrics.
    #[napi(getter, catch_unwind)]
    pub fn metrics(&self) -> Metrics {
        Metrics::from_core(&self.inner.metrics)
    }

    /// The document as Markdown (the runbook's template; missing human input renders `_TBD_`).
    #[napi(strict, catch_unwind)]
    pub fn to_markdown(&self) -> String {
        self.inner.to_markdown()
    }

    /// The wire JSON (snake_case, RFC 3339 strings).
    #[napi(js_name = "toJSON", catch_unwind, ts_return_type = "import('../lib/wire').PostMortemJson")]
    pub fn to_json(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner).or_throw(&env)
    }
}

/// Build the post-mortem of `incident` from its timeline and the meeting's `input`
/// (`{ rootCause?, impact?, contributingFactors?, actionItems?: [{ description, owner?, due?: 'YYYY-MM-DD' }],
/// processImprovements? }`). Throws `invalid_input` naming the field for malformed input.
#[napi(
    catch_unwind,
    ts_args_type = "incident: Incident, input?: { rootCause?: string; impact?: string; contributingFactors?: string[]; actionItems?: Array<{ description: string; owner?: string; due?: string }>; processImprovements?: string[] }"
)]
pub fn build_post_mortem(env: Env, incident: &Incident, input: Option<Value>) -> napi::Result<PostMortem> {
    let input: PostMortemInput = match input {
        None | Some(Value::Null) => PostMortemInput::default(),
        Some(v) => from_json("post-mortem input", rename_keys(v, snake)).or_throw(&env)?,
    };
    Ok(PostMortem { inner: incident.with(|i, t| CorePostMortem::build(i, t, input)) })
}
