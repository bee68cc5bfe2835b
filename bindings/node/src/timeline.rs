//! `Timeline`: the hash-chained event log of an incident, and response metrics (MTTD/MTTA/MTTM/MTTR).

use chrono::{DateTime, Utc};
use incident_core::timeline::{self as core, Timeline as CoreTimeline};
use napi::Env;
use napi_derive::napi;
use serde_json::Value;

use crate::error::{OrThrow, camel, from_json, rename_keys, snake, to_json};

/// One timeline entry.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct TimelineEvent {
    /// Position, from 1.
    pub seq: u32,
    /// When (UTC).
    pub at: Date,
    /// Who (person, `system`, procedure name).
    pub actor: String,
    /// Event type (`detected`, `declared`, `status_changed`, `message_sent`, ...).
    #[napi(js_name = "type")]
    pub kind: String,
    /// One line describing it.
    pub description: String,
    /// The event's fields (camelCase), e.g. `{ from: 'investigating', to: 'identified' }`.
    #[napi(ts_type = "Record<string, unknown>")]
    pub data: Value,
    /// Hash of the previous event.
    pub prev_hash: String,
    /// SHA-256 of this event.
    pub hash: String,
}

/// Timestamps as JS `Date`.
type Date = DateTime<Utc>;

/// Response metrics in seconds (`undefined` while a milestone is missing).
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// Time to detect: detected − started.
    pub mttd_seconds: Option<f64>,
    /// Time to acknowledge: acknowledged − detected.
    pub mtta_seconds: Option<f64>,
    /// Time to mitigate: mitigated − detected.
    pub mttm_seconds: Option<f64>,
    /// Time to resolve: resolved − detected.
    pub mttr_seconds: Option<f64>,
}

impl Metrics {
    /// From the core type.
    pub(crate) fn from_core(m: &core::Metrics) -> Self {
        #[allow(clippy::cast_precision_loss)] // incident durations in seconds fit an f64 exactly
        let s = |d: Option<incident_core::HumanDuration>| d.map(|d| d.as_secs() as f64);
        Self { mttd_seconds: s(m.mttd), mtta_seconds: s(m.mtta), mttm_seconds: s(m.mttm), mttr_seconds: s(m.mttr) }
    }
}

/// One event as a JS object.
pub(crate) fn event(e: &core::Event) -> TimelineEvent {
    let data = match to_json(&e.kind) {
        Ok(Value::Object(mut m)) => {
            m.remove("type");
            rename_keys(Value::Object(m), camel)
        }
        _ => Value::Object(serde_json::Map::new()),
    };
    TimelineEvent {
        seq: u32::try_from(e.seq).unwrap_or(u32::MAX),
        at: e.at,
        actor: e.actor.clone(),
        kind: e.kind.type_name().to_owned(),
        description: e.kind.describe(),
        data,
        prev_hash: e.prev_hash.clone(),
        hash: e.hash.clone(),
    }
}

/// Parse an event kind given as `{ type: 'note', text: '...' }` (camelCase or snake_case keys).
pub(crate) fn event_kind(v: Value) -> incident_core::Result<core::EventKind> {
    from_json("timeline event", rename_keys(v, snake))
}

/// The append-only, hash-chained event log of one incident (a snapshot: mutate through `Incident`).
#[napi]
pub struct Timeline {
    pub(crate) inner: CoreTimeline,
}

#[napi]
impl Timeline {
    /// Rebuild a timeline from its JSON form (`{ incident_id, events }`, as `toJSON()` returns), verifying
    /// the hash chain: throws `integrity` when it is broken.
    #[napi(
        factory,
        js_name = "fromJSON",
        catch_unwind,
        ts_args_type = "json: string | import('../lib/wire').TimelineJson | Record<string, unknown>"
    )]
    pub fn from_json(env: Env, json: Value) -> napi::Result<Self> {
        let v = match json {
            Value::String(s) => serde_json::from_str(&s)
                .map_err(|e| incident_core::Error::invalid_input(format!("timeline: {e}")))
                .or_throw(&env)?,
            v => v,
        };
        let inner: CoreTimeline = serde_json::from_value(v)
            .map_err(|e| {
                let msg = e.to_string();
                if msg.contains("hash") || msg.contains("chain") || msg.contains("seq") {
                    incident_core::Error::integrity(msg)
                } else {
                    incident_core::Error::invalid_input(format!("timeline: {msg}"))
                }
            })
            .or_throw(&env)?;
        Ok(Self { inner })
    }

    /// The incident the events belong to.
    #[napi(getter, catch_unwind)]
    pub fn incident_id(&self) -> String {
        self.inner.incident_id().to_owned()
    }

    /// Number of events.
    #[napi(getter, catch_unwind)]
    pub fn length(&self) -> u32 {
        u32::try_from(self.inner.len()).unwrap_or(u32::MAX)
    }

    /// Hash of the last event (the genesis hash when empty).
    #[napi(getter, catch_unwind)]
    pub fn head_hash(&self) -> String {
        self.inner.head_hash().to_owned()
    }

    /// Every event, oldest first.
    #[napi(strict, catch_unwind)]
    pub fn events(&self) -> Vec<TimelineEvent> {
        self.inner.events().iter().map(event).collect()
    }

    /// Re-verify the hash chain; throws `integrity` when broken.
    #[napi(strict, catch_unwind)]
    pub fn verify(&self, env: Env) -> napi::Result<()> {
        self.inner.verify().or_throw(&env)
    }

    /// Metrics from the timeline's milestones (`startedAt`: when the problem began, if known).
    #[napi(strict, catch_unwind)]
    pub fn metrics(&self, started_at: Option<Date>) -> Metrics {
        Metrics::from_core(&self.inner.metrics(started_at))
    }

    /// The wire JSON (`{ incident_id, events }`, snake_case, RFC 3339 strings) used by the CLI and Python.
    #[napi(js_name = "toJSON", catch_unwind, ts_return_type = "import('../lib/wire').TimelineJson")]
    pub fn to_json(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner).or_throw(&env)
    }
}
