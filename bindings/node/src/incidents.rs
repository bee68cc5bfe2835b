//! `Incidents`: working a live incident in a store (`incident_core::lifecycle::Incidents`), as the CLI's
//! `incident list | show | ack | assign | severity | status | note | mitigated | resolve | update |
//! postmortem [--record] | declare | evidence collect` do, and the evidence items of an incident (list,
//! read, preserve).
//!
//! Conversion only: every rule and error is core's. The store (a SQLite file or a `postgres://` URL, the
//! CLI's `--store` rule, `StoreSpec::parse`) is opened on a small real-time runtime owned by the object
//! (the store does real I/O and the lifecycle reads the wall clock), and every call runs there from a
//! libuv worker thread. Messages (declaration, update, severity change, resolve) go through the
//! notifiers `notifyConfig` and the `INCIDENT_*` environment configure, assembled by
//! `incident_notify::Router::for_store` exactly as the CLI's `--notify-config`; without a provider a
//! message is recorded `skipped`.

use std::sync::Arc;

use incident_backends::StoreSpec;
use incident_core::clock::{Clock, SystemClock};
use incident_core::declare::{Basis, Decided, ReportSource};
use incident_core::lifecycle::{
    Change as CoreChange, EvidenceDraft, IncidentView as CoreIncidentView, Incidents as CoreIncidents, ListFilter,
    RecordedPostMortem as CoreRecordedPostMortem, ResolveRequest,
};
use incident_core::postmortem::PostMortemInput;
use incident_core::signing::SigningKey;
use incident_core::timeline::ResponseRole;
use incident_core::{Error as CoreError, Result as CoreResult, Severity, Status};
use incident_notify::{ConfigSource, Router};
use napi::Env;
use napi::bindgen_prelude::{AsyncTask, Buffer, ClassInstance, Either};
use napi_derive::napi;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{OrThrow, from_json, rename_keys, snake, to_json};
use crate::incident::Incident;
use crate::policy::{Policy, or_default};
use crate::postmortem::PostMortem;
use crate::task::{SimTask, spawn};
use crate::timeline::Timeline;

/// The open lifecycle, the runtime its store lives on, and the notifiers it sends through.
struct Open {
    incidents: CoreIncidents,
    rt: tokio::runtime::Runtime,
    providers: Vec<String>,
}

/// What `Incidents.open` takes.
// `policy` is read synchronously while `open` is called, on the JS thread: the `'static` of its
// `ClassInstance` never outlives that call.
#[napi(object, object_to_js = false)]
pub struct IncidentsOptions {
    /// The store: a SQLite file or a `postgres://` URL (the CLI's `--store` rule).
    pub store: String,
    /// The policy (the default policy when absent).
    pub policy: Option<ClassInstance<'static, Policy>>,
    /// Create a missing SQLite file (as `incident serve` does) instead of rejecting `not_found`.
    pub create: Option<bool>,
    /// The notifiers: the secrets file's path (TOML, or JSON when `.json`: `incident serve
    /// --notify-config`) or an object of the same shape (snake_case keys, as in the file). The
    /// `INCIDENT_*` environment variables override either, and alone configure the providers when absent.
    #[napi(ts_type = "string | Record<string, unknown>")]
    pub notify_config: Option<Value>,
}

/// `notifyConfig` as a config source (the conversion only; incident-notify reads and validates it).
fn notify_source(v: Option<Value>) -> ConfigSource {
    match v {
        None | Some(Value::Null) => ConfigSource::Env,
        Some(Value::String(path)) => ConfigSource::File(path.into()),
        Some(other) => ConfigSource::Value(other),
    }
}

impl Open {
    fn run<T>(&self, f: impl AsyncFnOnce(&CoreIncidents) -> CoreResult<T>) -> CoreResult<T> {
        self.rt.block_on(f(&self.incidents))
    }
}

fn runtime() -> CoreResult<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("incidents-store")
        .enable_all()
        .build()
        .map_err(|e| CoreError::internal("cannot start the store runtime").with_source(e))
}

/// A JSON string enum value (`'P0'`, `'commander'`, `'identified'`) as its core type.
fn parse<T: serde::de::DeserializeOwned>(what: &str, v: &str) -> CoreResult<T> {
    from_json(what, Value::String(v.to_owned()))
}

/// One evidence item `preserve` takes.
#[napi(object, object_to_js = false)]
pub struct EvidenceDraftInput {
    /// Unique per incident: a relative path of ASCII letters, digits, `.`, `_`, `-` (`manual/logs.txt`).
    pub name: String,
    /// Media type (`text/plain`, `application/json`).
    pub media_type: String,
    /// The content: text, a string or a Buffer of UTF-8 (it is redacted before it is hashed).
    pub content: Either<String, Buffer>,
}

/// What `Incidents.runs` takes.
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct RunsFilter {
    /// Only the runs of this incident.
    pub incident_id: Option<String>,
}

/// A wire JSON object a Promise resolves to (`serde_json::Value` is not a napi `TypeName`; its objects
/// are ordered by key already, as this map is).
type JsonObject = std::collections::BTreeMap<String, Value>;

fn object<T: serde::Serialize>(v: &T) -> CoreResult<JsonObject> {
    match to_json(v)? {
        Value::Object(m) => Ok(m.into_iter().collect()),
        _ => Err(CoreError::internal("wire JSON is not an object")),
    }
}

/// `--signing-key FILE`'s reading: an Ed25519 private key (PKCS#8 PEM or DER); never printed.
pub(crate) fn read_signing_key(path: Option<String>) -> CoreResult<Option<SigningKey>> {
    path.map(|p| {
        let bytes =
            std::fs::read(&p).map_err(|e| CoreError::invalid_input(format!("cannot read the signing key {p}: {e}")))?;
        SigningKey::parse(&bytes).map_err(|e| e.context(&p))
    })
    .transpose()
}

fn postmortem_input(input: Option<Value>) -> CoreResult<PostMortemInput> {
    match input {
        None | Some(Value::Null) => Ok(PostMortemInput::default()),
        Some(v) => from_json("post-mortem input", rename_keys(v, snake)),
    }
}

/// The report `declare` takes (camelCase keys in JS).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    title: String,
    severity: Severity,
    reporter: ReportSource,
    #[serde(default)]
    components: Vec<String>,
    impact: Option<String>,
    customer_facing: Option<bool>,
    #[serde(default)]
    customers_affected: bool,
    id: Option<String>,
    on_call: Option<String>,
}

/// Lifecycle operations on the incidents of a store: list, show, acknowledge, assign, re-grade, move,
/// annotate, mitigate, resolve, post updates, build the post-mortem, declare a person's report. Safe
/// while `incident serve` writes the same incidents (core decides each operation on what is stored).
/// Every method rejects with core's codes: `not_found` for an unknown incident, `invalid_input` for a
/// blank actor, person, reason, message, note or root cause, `conflict` for what can no longer be done
/// (resolving twice, changing a resolved incident).
#[napi]
pub struct Incidents {
    inner: Arc<Open>,
}

#[napi]
impl Incidents {
    /// Open a store at the wall clock: `Incidents.open({ store, policy?, create?, notifyConfig? })`
    /// (see `IncidentsOptions`), or `Incidents.open(store, policy?, create?)` (no `notifyConfig`: the
    /// `INCIDENT_*` environment only). A missing SQLite file is `not_found` unless `create`. Rejects
    /// `invalid_input` for a bad spec or a bad notify config (naming the field, never a secret),
    /// `unavailable` when the store is unreachable (never repeating a password).
    #[napi(
        ts_args_type = "options: string | IncidentsOptions, policy?: Policy | undefined | null, create?: boolean | undefined | null",
        ts_return_type = "Promise<Incidents>"
    )]
    pub fn open(
        options: Either<String, IncidentsOptions>,
        policy: Option<&Policy>,
        create: Option<bool>,
    ) -> AsyncTask<SimTask<Incidents>> {
        let (store, policy, create, notify) = match options {
            Either::A(store) => (store, or_default(policy), create, ConfigSource::Env),
            Either::B(o) => {
                let policy = o.policy.as_deref().map_or_else(|| or_default(policy), |p| p.inner.clone());
                (o.store, policy, o.create.or(create), notify_source(o.notify_config))
            }
        };
        spawn(move |_| {
            let spec = StoreSpec::parse(&store)?;
            if let StoreSpec::Sqlite(path) = &spec {
                if create != Some(true) && !path.exists() {
                    return Err(CoreError::not_found(format!("store {} does not exist", path.display())));
                }
            }
            let rt = runtime()?;
            let store = rt.block_on(spec.open_here())?.0;
            let clock: Arc<dyn Clock> = Arc::new(SystemClock);
            let router = Router::for_store(&notify, |k| std::env::var(k).ok(), Arc::clone(&clock), Arc::clone(&store))?;
            let providers = router.providers();
            let incidents = CoreIncidents::new(store, clock, policy).with_notifier(Arc::new(router));
            Ok(Incidents { inner: Arc::new(Open { incidents, rt, providers }) })
        })
    }

    /// The notification providers messages go through (`slack`, `pagerduty`, `statuspage`,
    /// `webhook:<name>`; the tracker is `webhook:tracker`); empty: every message is recorded `skipped`.
    #[napi(getter, catch_unwind)]
    pub fn notifiers(&self) -> Vec<String> {
        self.inner.providers.clone()
    }

    /// Incidents matching `filter` (`{ open?: boolean, severity?: 'P0'..'P3', since?: '24h' }`), newest
    /// declaration first, as wire JSON.
    #[napi(
        catch_unwind,
        ts_args_type = "filter?: { open?: boolean; severity?: Severity; since?: string }",
        ts_return_type = "Promise<Array<import('../lib/wire').IncidentJson>>"
    )]
    pub fn list(&self, filter: Option<Value>) -> AsyncTask<SimTask<Vec<Value>>> {
        let inner = Arc::clone(&self.inner);
        spawn(move |_| {
            let filter: ListFilter = match filter {
                None | Some(Value::Null) => ListFilter::default(),
                Some(v) => from_json("list filter", rename_keys(v, snake))?,
            };
            let all = inner.run(async |i| i.list(&filter).await)?;
            all.iter().map(to_json).collect()
        })
    }

    /// The incident and its verified timeline, as an `Incident`.
    #[napi(catch_unwind, ts_return_type = "Promise<Incident>")]
    pub fn load(&self, id: String) -> AsyncTask<SimTask<Incident>> {
        let inner = Arc::clone(&self.inner);
        spawn(move |_| {
            let (incident, timeline) = inner.run(async |i| i.load(&id).await)?;
            Ok(Incident::wrap(incident, timeline))
        })
    }

    /// The incident's timeline, verified (its hash chain and the head the store recorded): the
    /// timeline of `load`, without the incident. Rejects `not_found` for an unknown incident,
    /// `integrity` for a tampered timeline.
    #[napi(catch_unwind, ts_return_type = "Promise<Timeline>")]
    pub fn timeline(&self, id: String) -> AsyncTask<SimTask<Timeline>> {
        let inner = Arc::clone(&self.inner);
        spawn(move |_| Ok(Timeline { inner: inner.run(async |i| i.load(&id).await)?.1 }))
    }

    /// The procedure runs of the store as stored (wire JSON: `run_id`, `incident_id`, `procedure`, the
    /// `plan`, the `approval`, `status`, `created_at`, `updated_at`), newest first; with `{ incidentId }`
    /// only that incident's runs (those `show` lists).
    #[napi(catch_unwind, ts_return_type = "Promise<Array<import('../lib/wire').RunRecordJson>>")]
    pub fn runs(&self, filter: Option<RunsFilter>) -> AsyncTask<SimTask<Vec<JsonObject>>> {
        let inner = Arc::clone(&self.inner);
        let incident = filter.and_then(|f| f.incident_id);
        spawn(move |_| {
            let mut runs = inner.run(async |i| i.store().runs().await)?;
            if let Some(id) = incident {
                runs.retain(|r| r.incident_id.as_deref() == Some(id.as_str()));
            }
            runs.iter().map(object).collect()
        })
    }

    /// One run as stored (wire JSON, as `runs`). Rejects `not_found` for an unknown run.
    #[napi(catch_unwind, ts_return_type = "Promise<import('../lib/wire').RunRecordJson>")]
    pub fn run(&self, run_id: String) -> AsyncTask<SimTask<JsonObject>> {
        let inner = Arc::clone(&self.inner);
        spawn(move |_| {
            let run = inner.run(async |i| i.store().run(&run_id).await)?;
            object(&run.ok_or_else(|| incident_core::store::run_not_found(&run_id))?)
        })
    }

    /// The journal of run `runId`, verified by the store as it reads it (hash chain and recorded head):
    /// every step's intent and outcome, oldest first (wire JSON: `seq`, `run_id`, `step_id`, `phase`,
    /// `attempt`, `owner`, `at`, `detail`, `prev_hash`, `hash`). Rejects `not_found` for an unknown run,
    /// `integrity` for a tampered journal.
    #[napi(catch_unwind, ts_return_type = "Promise<Array<import('../lib/wire').JournalEntryJson>>")]
    pub fn journal(&self, run_id: String) -> AsyncTask<SimTask<Vec<JsonObject>>> {
        let inner = Arc::clone(&self.inner);
        spawn(move |_| {
            let entries = inner.run(async |i| {
                let store = i.store();
                store.run(&run_id).await?.ok_or_else(|| incident_core::store::run_not_found(&run_id))?;
                store.journal(&run_id).await
            })?;
            entries.iter().map(object).collect()
        })
    }

    /// Everything `incident show` prints: summary, roles, stakeholders, cadence due/overdue, escalation,
    /// metrics, runs and the timeline.
    #[napi(catch_unwind, ts_return_type = "Promise<IncidentView>")]
    pub fn show(&self, id: String) -> AsyncTask<SimTask<IncidentView>> {
        let inner = Arc::clone(&self.inner);
        spawn(move |_| Ok(IncidentView { inner: inner.run(async |i| i.show(&id).await)? }))
    }

    /// Acknowledge as `actor` (a second acknowledgement is `unchanged`, naming who and when).
    #[napi(catch_unwind, ts_return_type = "Promise<Change>")]
    pub fn ack(&self, id: String, actor: String) -> AsyncTask<SimTask<Change>> {
        self.change(async move |i| i.ack(&id, &actor).await)
    }

    /// Give `role` (`commander`, `communications`, `scribe`) to `person`.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string, role: 'commander' | 'communications' | 'scribe', person: string, actor: string",
        ts_return_type = "Promise<Change>"
    )]
    pub fn assign(&self, id: String, role: String, person: String, actor: String) -> AsyncTask<SimTask<Change>> {
        self.change(async move |i| {
            let role: ResponseRole = parse("role", &role)?;
            i.assign(&id, role, &person, &actor).await
        })
    }

    /// Raise or lower the severity, with a reason.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string, severity: Severity, reason: string, actor: string",
        ts_return_type = "Promise<Change>"
    )]
    pub fn change_severity(
        &self,
        id: String,
        severity: String,
        reason: String,
        actor: String,
    ) -> AsyncTask<SimTask<Change>> {
        self.change(async move |i| {
            let to: Severity = parse("severity", &severity)?;
            i.change_severity(&id, to, &reason, &actor).await
        })
    }

    /// Move to `identified` or `monitoring` with a message (resolve with `resolve`).
    #[napi(
        catch_unwind,
        ts_args_type = "id: string, status: 'identified' | 'monitoring', message: string, actor: string",
        ts_return_type = "Promise<Change>"
    )]
    pub fn set_status(&self, id: String, status: String, message: String, actor: String) -> AsyncTask<SimTask<Change>> {
        self.change(async move |i| {
            let to: Status = parse("status", &status)?;
            i.set_status(&id, to, &message, &actor).await
        })
    }

    /// Add a note to the timeline (also once resolved).
    #[napi(catch_unwind, ts_return_type = "Promise<Change>")]
    pub fn note(&self, id: String, text: String, actor: String) -> AsyncTask<SimTask<Change>> {
        self.change(async move |i| i.note(&id, &text, &actor).await)
    }

    /// Record that user impact stopped.
    #[napi(catch_unwind, ts_return_type = "Promise<Change>")]
    pub fn mitigated(&self, id: String, actor: String) -> AsyncTask<SimTask<Change>> {
        self.change(async move |i| i.mitigated(&id, &actor).await)
    }

    /// Resolve with a root cause (and a resolution; default: the last `monitoring` message), then send
    /// the final `Status: RESOLVED` message. Rejects `conflict` when already resolved.
    #[napi(catch_unwind, ts_return_type = "Promise<Change>")]
    pub fn resolve(
        &self,
        id: String,
        root_cause: String,
        actor: String,
        resolution: Option<String>,
    ) -> AsyncTask<SimTask<Change>> {
        self.change(async move |i| i.resolve(&id, &ResolveRequest { root_cause, resolution }, &actor).await)
    }

    /// Post the runbook's status update now (it counts for the cadence); the attempts as wire JSON.
    #[napi(catch_unwind, ts_return_type = "Promise<Array<import('../lib/wire').UpdateAttemptJson>>")]
    pub fn update(&self, id: String, actor: String, details: Option<String>) -> AsyncTask<SimTask<Vec<Value>>> {
        let inner = Arc::clone(&self.inner);
        spawn(move |_| {
            let sent = inner.run(async |i| i.update(&id, details.as_deref(), &actor).await)?;
            sent.iter().map(to_json).collect()
        })
    }

    /// The post-mortem from the store (failed or compensated runs become action items before those of
    /// `input`, which takes `buildPostMortem`'s shape).
    #[napi(
        catch_unwind,
        ts_args_type = "id: string, input?: { rootCause?: string; impact?: string; contributingFactors?: string[]; actionItems?: Array<{ description: string; owner?: string; due?: string }>; processImprovements?: string[] }",
        ts_return_type = "Promise<PostMortem>"
    )]
    pub fn postmortem(&self, id: String, input: Option<Value>) -> AsyncTask<SimTask<PostMortem>> {
        let inner = Arc::clone(&self.inner);
        spawn(move |_| {
            let input = postmortem_input(input)?;
            Ok(PostMortem { inner: inner.run(async |i| i.postmortem(&id, input).await)? })
        })
    }

    /// Build the post-mortem from the store (as `postmortem`) and record its markdown as the evidence item
    /// `postmortem.md` as `actor`, hashed into the timeline: the post-incident task "Write the
    /// post-mortem" is then done (`show`). A post-mortem recorded before is kept, not replaced
    /// (`alreadyRecorded`). As `incident postmortem ID --record`.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string, actor: string, input?: { rootCause?: string; impact?: string; contributingFactors?: string[]; actionItems?: Array<{ description: string; owner?: string; due?: string }>; processImprovements?: string[] }",
        ts_return_type = "Promise<RecordedPostMortem>"
    )]
    pub fn record_postmortem(
        &self,
        id: String,
        actor: String,
        input: Option<Value>,
    ) -> AsyncTask<SimTask<RecordedPostMortem>> {
        let inner = Arc::clone(&self.inner);
        spawn(move |_| {
            let input = postmortem_input(input)?;
            Ok(RecordedPostMortem { inner: inner.run(async |i| i.record_postmortem(&id, input, &actor).await)? })
        })
    }

    /// The evidence items of the incident, without content (wire JSON: `name`, `media_type`, `sha256`,
    /// `size`, `captured_at`), by name.
    #[napi(catch_unwind, ts_return_type = "Promise<Array<import('../lib/wire').EvidenceInfoJson>>")]
    pub fn evidence(&self, id: String) -> AsyncTask<SimTask<Vec<Value>>> {
        let inner = Arc::clone(&self.inner);
        spawn(move |_| inner.run(async |i| i.evidence(&id).await)?.iter().map(to_json).collect())
    }

    /// The content of one evidence item, as stored (redacted). Rejects `not_found` for an unknown
    /// incident or item, `integrity` when the stored content does not match its hash.
    #[napi(catch_unwind, ts_return_type = "Promise<Buffer>")]
    pub fn evidence_item(&self, id: String, name: String) -> AsyncTask<SimTask<Buffer>> {
        let inner = Arc::clone(&self.inner);
        spawn(move |_| Ok(Buffer::from(inner.run(async |i| i.evidence_item(&id, &name).await)?.bytes)))
    }

    /// Preserve evidence items as `actor`: each redacted, bounded by `evidence.max_item_bytes`, hashed
    /// and stored with its `evidence_added` event. Resolves to what was done (wire JSON: `added`,
    /// `already_stored`: names preserved before, not written again, `events`, `attempts`). Rejects
    /// `invalid_input` for a blank actor, a bad or repeated name, content that is not UTF-8 text or too
    /// large, `not_found` for an unknown incident.
    #[napi(catch_unwind, ts_return_type = "Promise<import('../lib/wire').PreservedJson>")]
    pub fn preserve(
        &self,
        id: String,
        items: Vec<EvidenceDraftInput>,
        actor: String,
    ) -> AsyncTask<SimTask<JsonObject>> {
        let drafts: Vec<EvidenceDraft> = items
            .into_iter()
            .map(|d| EvidenceDraft {
                name: d.name,
                media_type: d.media_type,
                bytes: match d.content {
                    Either::A(s) => s.into_bytes(),
                    Either::B(b) => b.to_vec(),
                },
            })
            .collect();
        let inner = Arc::clone(&self.inner);
        spawn(move |_| object(&inner.run(async |i| i.preserve(&id, drafts, &actor).await)?))
    }

    /// Write the evidence bundle of the incident to the directory `out` (`incident evidence collect ID
    /// --out DIR`: the drill bundle's format, every evidence item under `evidence/`; a previous bundle
    /// there is replaced, anything else refused), the manifest signed with the key file `signingKey` when
    /// given, and verify it. Resolves to what was proved (as `verifyEvidence`).
    #[napi(catch_unwind, ts_return_type = "Promise<import('../lib/wire').VerificationJson>")]
    pub fn collect_evidence(
        &self,
        id: String,
        out: String,
        signing_key: Option<String>,
    ) -> AsyncTask<SimTask<JsonObject>> {
        let inner = Arc::clone(&self.inner);
        spawn(move |_| {
            let key = read_signing_key(signing_key)?;
            let proof = inner.run(async |i| {
                incident_core::evidence::collect::<incident_store::SqliteStore>(i, &id, &out, key.as_ref()).await
            })?;
            object(&proof)
        })
    }

    /// Declare a person's report now (runbook "Manual Reporting"), as `incident declare --severity`:
    /// `reporter` is who reported it (`customer`, `internal`, `partner`), `customerFacing` defaults to
    /// true, the id to `INC-YYYYMMDD-HHMM`, the on-call commander to `actor`.
    #[napi(
        catch_unwind,
        ts_args_type = "report: { title: string; severity: Severity; reporter: 'customer' | 'internal' | 'partner'; components?: string[]; impact?: string; customerFacing?: boolean; customersAffected?: boolean; id?: string; onCall?: string }, actor: string",
        ts_return_type = "Promise<Change>"
    )]
    pub fn declare(&self, report: Value, actor: String) -> AsyncTask<SimTask<Change>> {
        self.change(async move |i| {
            let r: Report = from_json("report", rename_keys(report, snake))?;
            let mut basis = Basis::reported(&r.title, r.reporter.words())?;
            basis.components = r.components;
            basis.impact = r.impact;
            basis.facts.customer_facing = Some(r.customer_facing.unwrap_or(true));
            basis.facts.customers_affected = Some(r.customers_affected);
            let on_call = r.on_call.unwrap_or(actor);
            i.declare(Decided::reported(basis, r.severity), r.id.as_deref(), &on_call).await
        })
    }
}

impl Incidents {
    fn change<F>(&self, f: F) -> AsyncTask<SimTask<Change>>
    where
        F: AsyncFnOnce(&CoreIncidents) -> CoreResult<CoreChange> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        spawn(move |_| Ok(Change { inner: inner.run(f)? }))
    }
}

/// What an `Incidents` operation did: applied (with the events it appended) or unchanged (with why).
#[napi]
pub struct Change {
    inner: CoreChange,
}

#[napi]
impl Change {
    /// `applied` or `unchanged`.
    #[napi(getter, catch_unwind, ts_return_type = "'applied' | 'unchanged'")]
    pub fn outcome(&self) -> String {
        match &self.inner.outcome {
            incident_core::lifecycle::ChangeOutcome::Unchanged { .. } => "unchanged".to_owned(),
            _ => "applied".to_owned(),
        }
    }

    /// Why nothing was recorded (unchanged only).
    #[napi(getter, catch_unwind)]
    pub fn why(&self) -> Option<String> {
        match &self.inner.outcome {
            incident_core::lifecycle::ChangeOutcome::Unchanged { why } => Some(why.clone()),
            _ => None,
        }
    }

    /// The incident's id.
    #[napi(getter, catch_unwind)]
    pub fn incident_id(&self) -> String {
        self.inner.incident.id.clone()
    }

    /// The text `incident ack ID` (and the other commands) print.
    #[napi(strict, catch_unwind)]
    pub fn render(&self) -> String {
        incident_core::render::change(&self.inner)
    }

    /// The wire JSON (`incident ... -o json`: snake_case, RFC 3339 strings).
    #[napi(js_name = "toJSON", catch_unwind, ts_return_type = "import('../lib/wire').ChangeJson")]
    pub fn to_json(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner).or_throw(&env)
    }
}

/// What `recordPostmortem` did: the post-mortem and the preservation of its `postmortem.md`.
#[napi]
pub struct RecordedPostMortem {
    inner: CoreRecordedPostMortem,
}

#[napi]
impl RecordedPostMortem {
    /// The post-mortem built from the store.
    #[napi(getter, catch_unwind)]
    pub fn postmortem(&self) -> PostMortem {
        PostMortem { inner: self.inner.postmortem.clone() }
    }

    /// Whether a `postmortem.md` was recorded before (nothing was written now).
    #[napi(getter, catch_unwind)]
    pub fn already_recorded(&self) -> bool {
        self.inner.already_recorded()
    }

    /// The line `incident postmortem ID --record` reports.
    #[napi(getter, catch_unwind)]
    pub fn message(&self) -> String {
        self.inner.message()
    }

    /// The preservation (wire JSON: `added`, `already_stored`, `events`, `attempts`).
    #[napi(getter, catch_unwind, ts_return_type = "import('../lib/wire').PreservedJson")]
    pub fn preserved(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner.preserved).or_throw(&env)
    }

    /// The wire JSON (`{ postmortem, preserved }`).
    #[napi(js_name = "toJSON", catch_unwind, ts_return_type = "import('../lib/wire').RecordedPostMortemJson")]
    pub fn to_json(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner).or_throw(&env)
    }
}

/// Everything `incident show` prints about one incident.
#[napi]
pub struct IncidentView {
    inner: CoreIncidentView,
}

#[napi]
impl IncidentView {
    /// The incident's id.
    #[napi(getter, catch_unwind)]
    pub fn incident_id(&self) -> String {
        self.inner.incident.id.clone()
    }

    /// The text `incident show ID` prints.
    #[napi(strict, catch_unwind)]
    pub fn render(&self) -> String {
        incident_core::render::incident_view(&self.inner)
    }

    /// The wire JSON (`incident show ID -o json`).
    #[napi(js_name = "toJSON", catch_unwind, ts_return_type = "import('../lib/wire').IncidentViewJson")]
    pub fn to_json(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner).or_throw(&env)
    }
}
