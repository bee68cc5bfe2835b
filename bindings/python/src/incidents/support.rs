//! Conversions and the opening of the store behind `Incidents` (module `incidents`): wire JSON out,
//! evidence drafts / signing keys / post-mortem input / notify config in. No rule lives here.

use std::sync::Arc;

use incident_backends::StoreSpec;
use incident_core::clock::{Clock, SystemClock};
use incident_core::lifecycle::{EvidenceDraft, Incidents as CoreIncidents};
use incident_core::postmortem::PostMortemInput;
use incident_core::signing::SigningKey;
use incident_core::store::EvidenceItem;
use incident_core::{Error as CoreError, Result as CoreResult};
use incident_notify::{ConfigSource, Router};
use pyo3::prelude::*;
use serde_json::{Map, Value};
use tokio::runtime::Runtime;

use super::PyIncidents;
use crate::error::{invalid, json_to_py, py_to_json, to_py, to_py_obj};
use crate::policy::{PyPolicy, or_default};

/// The open lifecycle, the runtime its store lives on, and the notifiers it sends through.
pub(super) struct Open {
    pub(super) incidents: CoreIncidents,
    pub(super) rt: Runtime,
    pub(super) providers: Vec<String>,
}

impl Open {
    pub(super) fn run<T>(&self, f: impl AsyncFnOnce(&CoreIncidents) -> CoreResult<T>) -> CoreResult<T> {
        self.rt.block_on(f(&self.incidents))
    }
}

/// Wire JSON, converted to Python builtins when returned.
pub(super) struct Json(Value);

impl<'py> IntoPyObject<'py> for Json {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(py, &self.0)
    }
}

/// An evidence item read back: its info (wire dict) with `content` (`bytes`).
pub(super) struct Item(pub(super) EvidenceItem);

impl<'py> IntoPyObject<'py> for Item {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let d = to_py_obj(py, &self.0.info())?;
        d.set_item("content", pyo3::types::PyBytes::new(py, &self.0.bytes))?;
        Ok(d)
    }
}

/// `items` of `preserve`: an iterable of mappings `{"name", "media_type", "content": str | bytes}`.
pub(super) fn drafts(items: &Bound<'_, PyAny>) -> PyResult<Vec<EvidenceDraft>> {
    let mut out = Vec::new();
    for (i, item) in items.try_iter()?.enumerate() {
        let item = item?;
        let field = |k: &str| {
            item.get_item(k)
                .map_err(|_| invalid(format!("evidence item {}: no {k:?} (name, media_type, content)", i + 1)))
        };
        let text = |k: &str| {
            field(k)?.extract::<String>().map_err(|_| invalid(format!("evidence item {}: {k} must be a str", i + 1)))
        };
        let (name, media_type) = (text("name")?, text("media_type")?);
        let content = field("content")?;
        let bytes = if let Ok(s) = content.extract::<String>() {
            s.into_bytes()
        } else if let Ok(b) = content.cast::<pyo3::types::PyBytes>() {
            b.as_bytes().to_vec()
        } else {
            return Err(invalid(format!("evidence item {}: content must be str or bytes", i + 1)));
        };
        out.push(EvidenceDraft { name, media_type, bytes });
    }
    Ok(out)
}

/// `signing_key`: the path of an Ed25519 private key (PKCS#8 PEM or DER), as the CLI's `--signing-key`.
pub(super) fn read_signing_key(path: Option<std::path::PathBuf>) -> PyResult<Option<SigningKey>> {
    path.map(|p| {
        let bytes =
            std::fs::read(&p).map_err(|e| invalid(format!("cannot read the signing key {}: {e}", p.display())))?;
        SigningKey::parse(&bytes).map_err(|e| to_py(&e.context(p.display())))
    })
    .transpose()
}

pub(super) fn action_items_input(action_items: Option<&Bound<'_, PyAny>>) -> PyResult<PostMortemInput> {
    let mut v = Map::new();
    if let Some(items) = action_items {
        v.insert("action_items".into(), py_to_json("action_items", items)?);
    }
    crate::error::from_value("post-mortem input", Value::Object(v))
}

pub(super) fn to_json<T: serde::Serialize>(v: &T) -> CoreResult<Json> {
    serde_json::to_value(v).map(Json).map_err(|e| CoreError::internal(format!("cannot serialize: {e}")))
}

/// A wire string (`"scribe"`, `"customer"`) as its core enum (`InvalidInputError` naming `what`).
pub(super) fn parse<T: serde::de::DeserializeOwned>(what: &str, v: &str) -> CoreResult<T> {
    serde_json::from_value(Value::String(v.to_owned()))
        .map_err(|e| CoreError::invalid_input(format!("{what}: {v:?}: {e}")))
}

pub(super) type Work<T> = Box<dyn FnOnce(&Runtime) -> CoreResult<T> + Send>;

/// `notify_config`: a path (`str` or `os.PathLike`: the secrets file), a dict in the secrets file's shape,
/// or `None` (the environment only).
pub(super) fn notify_source(notify_config: Option<&Bound<'_, PyAny>>) -> PyResult<ConfigSource> {
    match notify_config {
        None => Ok(ConfigSource::Env),
        Some(o) if o.is_none() => Ok(ConfigSource::Env),
        Some(o) => match o.extract::<std::path::PathBuf>() {
            Ok(path) => Ok(ConfigSource::File(path)),
            Err(_) => Ok(ConfigSource::Value(py_to_json("notify_config", o)?)),
        },
    }
}

pub(super) fn open_work(
    store: String,
    policy: Option<&PyPolicy>,
    create: bool,
    notify_config: Option<&Bound<'_, PyAny>>,
) -> PyResult<Work<PyIncidents>> {
    let policy = or_default(policy);
    let notify = notify_source(notify_config)?;
    Ok(Box::new(move |_| {
        let spec = StoreSpec::parse(&store)?;
        if let StoreSpec::Sqlite(path) = &spec {
            if !create && !path.exists() {
                return Err(CoreError::not_found(format!("store {} does not exist", path.display())));
            }
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("incidents-store")
            .enable_all()
            .build()
            .map_err(|e| CoreError::internal("cannot start the store runtime").with_source(e))?;
        let store = rt.block_on(spec.open_here())?.0;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let router = Router::for_store(&notify, |k| std::env::var(k).ok(), Arc::clone(&clock), Arc::clone(&store))?;
        let providers = router.providers();
        let incidents = CoreIncidents::new(store, clock, policy).with_notifier(Arc::new(router));
        Ok(PyIncidents { inner: Arc::new(Open { incidents, rt, providers }) })
    }))
}
