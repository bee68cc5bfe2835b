//! Errors and shared conversions.
//!
//! Every `incident_core::Error` becomes an instance of one exception class per
//! [`ErrorKind`](incident_core::ErrorKind), all rooted at `IncidentError` and re-exported from
//! `incident_core/exceptions.py`. `InvalidInputError` also subclasses `ValueError` and
//! `IncidentTimeoutError` also subclasses the builtin `TimeoutError`, so generic handlers keep working.
//! Every entry point runs inside [`guard`], which turns a Rust panic into `InternalError("panic: ...")`
//! instead of PyO3's `PanicException` (a `BaseException`). Every message goes through
//! `incident_core::redact::scrub` here, at the boundary (connection-string credentials, tokens, keys), the
//! same rules as Node's errors.

use std::panic::AssertUnwindSafe;

use incident_core::{Error as CoreError, ErrorKind, Result as CoreResult};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTimeoutError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyTuple, PyType};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

create_exception!(incident_core._native, IncidentError, PyException, "Root of every error raised by incident_core.");
create_exception!(
    incident_core._native,
    PolicyError,
    IncidentError,
    "A policy file or value is invalid (names the field)."
);
create_exception!(incident_core._native, NotFoundError, IncidentError, "The named object does not exist.");
create_exception!(
    incident_core._native,
    ConflictError,
    IncidentError,
    "The object's state conflicts with the request."
);
create_exception!(
    incident_core._native,
    PermissionDeniedError,
    IncidentError,
    "A backend refused for lack of permission."
);
create_exception!(incident_core._native, UnavailableError, IncidentError, "A backend is unreachable or throttling.");
create_exception!(
    incident_core._native,
    PreconditionFailedError,
    IncidentError,
    "Live state no longer matches the plan."
);
create_exception!(incident_core._native, RefusedError, IncidentError, "A guard rail refused the request.");
create_exception!(
    incident_core._native,
    IntegrityError,
    IncidentError,
    "A timeline or journal failed its integrity check."
);
create_exception!(
    incident_core._native,
    InternalError,
    IncidentError,
    "A bug in incident_core (including a Rust panic)."
);

static INVALID_INPUT: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static TIMEOUT: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Build `name(IncidentError, extra)` with `type(...)`: `create_exception!` takes a single base.
fn dual_base(py: Python<'_>, name: &str, extra: &Bound<'_, PyType>, doc: &str) -> PyResult<Py<PyType>> {
    let ns = PyDict::new(py);
    ns.set_item("__module__", "incident_core._native")?;
    ns.set_item("__doc__", doc)?;
    let bases = PyTuple::new(py, [py.get_type::<IncidentError>(), extra.clone()])?;
    let ty = py.get_type::<PyType>().call1((name, bases, ns))?;
    Ok(ty.cast_into::<PyType>()?.unbind())
}

/// `InvalidInputError(IncidentError, ValueError)`.
pub(crate) fn invalid_input_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    INVALID_INPUT
        .get_or_try_init(py, || {
            dual_base(
                py,
                "InvalidInputError",
                &py.get_type::<PyValueError>(),
                "Caller input (payload, argument, file) is malformed or out of range.",
            )
        })
        .map(|t| t.bind(py))
}

/// `IncidentTimeoutError(IncidentError, TimeoutError)`.
pub(crate) fn timeout_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    TIMEOUT
        .get_or_try_init(py, || {
            dual_base(py, "IncidentTimeoutError", &py.get_type::<PyTimeoutError>(), "A deadline passed.")
        })
        .map(|t| t.bind(py))
}

/// The exception class for `kind`.
pub(crate) fn class_of(py: Python<'_>, kind: ErrorKind) -> PyResult<Bound<'_, PyType>> {
    Ok(match kind {
        ErrorKind::Policy => py.get_type::<PolicyError>(),
        ErrorKind::InvalidInput => invalid_input_type(py)?.clone(),
        ErrorKind::NotFound => py.get_type::<NotFoundError>(),
        ErrorKind::Conflict => py.get_type::<ConflictError>(),
        ErrorKind::PermissionDenied => py.get_type::<PermissionDeniedError>(),
        ErrorKind::Timeout => timeout_type(py)?.clone(),
        ErrorKind::Unavailable => py.get_type::<UnavailableError>(),
        ErrorKind::PreconditionFailed => py.get_type::<PreconditionFailedError>(),
        ErrorKind::Refused => py.get_type::<RefusedError>(),
        ErrorKind::Integrity => py.get_type::<IntegrityError>(),
        _ => py.get_type::<InternalError>(),
    })
}

/// Convert a core error to its Python exception (with `kind` and `retryable` attributes).
pub(crate) fn to_py(e: &CoreError) -> PyErr {
    Python::attach(|py| {
        let mut msg = e.to_string();
        if let Some(src) = std::error::Error::source(e) {
            let s = src.to_string();
            if !msg.contains(&s) {
                msg = format!("{msg}: {s}");
            }
        }
        let msg = incident_core::redact::scrub(&msg);
        let ty = match class_of(py, e.kind()) {
            Ok(t) => t,
            Err(err) => return err,
        };
        let err = PyErr::from_type(ty, msg);
        let v = err.value(py);
        // Best effort: the class and message are what matter.
        let _ = v.setattr("kind", e.kind().as_str());
        let _ = v.setattr("retryable", e.is_retryable());
        err
    })
}

/// `InvalidInputError(msg)`.
pub(crate) fn invalid(msg: impl Into<String>) -> PyErr {
    to_py(&CoreError::invalid_input(msg))
}

/// `core::Result<T>` → `PyResult<T>`.
pub(crate) trait OrRaise<T> {
    /// Convert the error to its Python exception.
    fn or_raise(self) -> PyResult<T>;
}

impl<T> OrRaise<T> for CoreResult<T> {
    fn or_raise(self) -> PyResult<T> {
        self.map_err(|e| to_py(&e))
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// Run an entry point, turning a panic into `InternalError("panic: <message>")`.
pub(crate) fn guard<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    std::panic::catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|p| Err(to_py(&CoreError::internal(format!("panic: {}", panic_message(p.as_ref()))))))
}

/// Deserialize wire JSON into `T`, naming the field path on error (`InvalidInputError`).
pub(crate) fn from_value<T: DeserializeOwned>(what: &str, v: Value) -> PyResult<T> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            invalid(format!("{what}: {}", e.inner()))
        } else {
            invalid(format!("{what}: field `{path}`: {}", e.inner()))
        }
    })
}

/// Parse JSON text into `T` (`InvalidInputError` naming the field).
pub(crate) fn from_json_str<T: DeserializeOwned>(what: &str, text: &str) -> PyResult<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            invalid(format!("{what}: {}", e.inner()))
        } else {
            invalid(format!("{what}: field `{path}`: {}", e.inner()))
        }
    })
}

/// Serialize to JSON text.
pub(crate) fn to_json_string<T: Serialize>(v: &T) -> PyResult<String> {
    serde_json::to_string(v).map_err(|e| to_py(&CoreError::internal(format!("cannot serialize: {e}"))))
}

/// Serialize to a `serde_json::Value`.
pub(crate) fn to_value<T: Serialize>(v: &T) -> PyResult<Value> {
    serde_json::to_value(v).map_err(|e| to_py(&CoreError::internal(format!("cannot serialize: {e}"))))
}

/// Serialize to Python builtins (dict/list/str/int/float/bool/None).
pub(crate) fn to_py_obj<'py, T: Serialize>(py: Python<'py>, v: &T) -> PyResult<Bound<'py, PyAny>> {
    json_to_py(py, &to_value(v)?)
}

/// A JSON value as Python builtins.
pub(crate) fn json_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => s.into_pyobject(py)?.into_any(),
        Value::Array(a) => {
            let l = PyList::empty(py);
            for x in a {
                l.append(json_to_py(py, x)?)?;
            }
            l.into_any()
        }
        Value::Object(m) => {
            let d = PyDict::new(py);
            for (k, x) in m {
                d.set_item(k, json_to_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}

/// Python builtins (mappings, sequences, str, numbers, bool, None, aware `datetime`, enums) as JSON.
/// Anything else is a `TypeError` naming `what`.
pub(crate) fn py_to_json(what: &str, o: &Bound<'_, PyAny>) -> PyResult<Value> {
    use pyo3::types::{PyBool, PyDateTime, PyFloat, PyInt, PyMapping, PySequence, PyString};
    if o.is_none() {
        return Ok(Value::Null);
    }
    if o.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(o.extract()?));
    }
    if o.is_instance_of::<PyInt>() {
        return Ok(match o.extract::<i64>() {
            Ok(i) => Value::from(i),
            Err(_) => Value::from(o.extract::<f64>()?),
        });
    }
    if o.is_instance_of::<PyFloat>() {
        let f: f64 = o.extract()?;
        return serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| invalid(format!("{what}: {f} is not a finite number")));
    }
    if o.is_instance_of::<PyString>() {
        return Ok(Value::String(o.extract()?));
    }
    if o.is_instance_of::<PyDateTime>() {
        let at = crate::convert::utc(o)?;
        return Ok(Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)));
    }
    if let Ok(s) = o.cast::<crate::severity::PySeverity>() {
        return Ok(Value::String(s.get().as_str().to_owned()));
    }
    if let Ok(s) = o.cast::<crate::severity::PyStatus>() {
        return Ok(Value::String(s.get().as_str().to_owned()));
    }
    if let Ok(m) = o.cast::<PyMapping>() {
        let mut out = serde_json::Map::new();
        for item in m.items()?.iter() {
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
            let key: String = k.extract().map_err(|_| PyTypeError::new_err(format!("{what}: keys must be str")))?;
            let v = py_to_json(&format!("{what}.{key}"), &v)?;
            out.insert(key, v);
        }
        return Ok(Value::Object(out));
    }
    if let Ok(s) = o.cast::<PySequence>() {
        let mut out = Vec::new();
        for (i, x) in s.try_iter()?.enumerate() {
            out.push(py_to_json(&format!("{what}[{i}]"), &x?)?);
        }
        return Ok(Value::Array(out));
    }
    // enum.Enum members: their value.
    if let Ok(v) = o.getattr("value")
        && o.get_type().getattr("__members__").is_ok()
    {
        return py_to_json(what, &v);
    }
    Err(PyTypeError::new_err(format!("{what}: cannot convert a {} to JSON", o.get_type().name()?)))
}
