//! `Wrap<T>`: argument conversions shared by every module (polars' `conversion::Wrap` pattern).
//!
//! * `Wrap<T: StrEnum>`: a string enum from a `str` (or one of the native enums, or an `enum.Enum`
//!   member); an unknown value raises `InvalidInputError` listing the allowed values, another type raises
//!   `TypeError`.
//! * `Wrap<DateTime<Utc>>`: a timezone-aware `datetime` (any zone, converted to UTC); a naive one raises
//!   `InvalidInputError`.
//! * `Wrap<Duration>`: a `timedelta` or a number of seconds, finite and >= 0.

use std::time::Duration;

use chrono::{DateTime, Utc};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDateTime, PyDelta, PyFloat, PyInt, PyString};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::invalid;
use crate::severity::{PySeverity, PyStatus};

/// An argument converted from Python.
#[derive(Debug, Clone)]
pub(crate) struct Wrap<T>(pub(crate) T);

/// A core enum with a string wire form.
pub(crate) trait StrEnum: DeserializeOwned {
    /// What the value is (used in messages).
    const WHAT: &'static str;
    /// The allowed wire values.
    const ALLOWED: &'static [&'static str];
}

/// Parse `s` as a `T`, listing the allowed values on error.
pub(crate) fn parse_enum<T: StrEnum>(s: &str) -> PyResult<T> {
    serde_json::from_value(Value::String(s.to_owned()))
        .map_err(|_| invalid(format!("{}: {s:?} is not one of {}", T::WHAT, T::ALLOWED.join(", "))))
}

impl<'py, T: StrEnum> FromPyObject<'_, 'py> for Wrap<T> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        let s: String = if let Ok(s) = obj.cast::<PyString>() {
            s.to_str()?.to_owned()
        } else if let Ok(s) = obj.cast::<PySeverity>() {
            s.get().as_str().to_owned()
        } else if let Ok(s) = obj.cast::<PyStatus>() {
            s.get().as_str().to_owned()
        } else if let Ok(v) = obj.getattr("value")
            && let Ok(s) = v.cast_into::<PyString>()
        {
            s.to_str()?.to_owned()
        } else {
            return Err(PyTypeError::new_err(format!(
                "{} must be a str (one of {}), not {}",
                T::WHAT,
                T::ALLOWED.join(", "),
                obj.get_type().name()?
            )));
        };
        parse_enum(&s).map(Wrap)
    }
}

/// A timezone-aware `datetime` as UTC.
pub(crate) fn utc(o: &Bound<'_, PyAny>) -> PyResult<DateTime<Utc>> {
    let Ok(dt) = o.cast::<PyDateTime>() else {
        return Err(PyTypeError::new_err(format!("expected a timezone-aware datetime, not {}", o.get_type().name()?)));
    };
    if dt.getattr("tzinfo")?.is_none() || dt.call_method0("utcoffset")?.is_none() {
        return Err(invalid(format!(
            "datetime {} is naive: pass a timezone-aware datetime (e.g. tzinfo=timezone.utc)",
            dt.str()?
        )));
    }
    let utc_tz = pyo3::types::PyTzInfo::utc(o.py())?;
    dt.call_method1("astimezone", (utc_tz,))?.extract::<DateTime<Utc>>()
}

impl<'py> FromPyObject<'_, 'py> for Wrap<DateTime<Utc>> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        utc(&obj.to_owned()).map(Wrap)
    }
}

/// Seconds as a `Duration`; negative, NaN and infinite values are `InvalidInputError`.
pub(crate) fn secs(s: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(s).map_err(|_| invalid(format!("duration must be finite and >= 0, got {s} seconds")))
}

impl<'py> FromPyObject<'_, 'py> for Wrap<Duration> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(d) = obj.cast::<PyDelta>() {
            let s: f64 = d.call_method0("total_seconds")?.extract()?;
            return secs(s).map(Wrap);
        }
        if obj.is_instance_of::<PyInt>() || obj.is_instance_of::<PyFloat>() {
            return secs(obj.extract::<f64>()?).map(Wrap);
        }
        Err(PyTypeError::new_err(format!("expected a timedelta or seconds, not {}", obj.get_type().name()?)))
    }
}

/// A span given as a `timedelta`, a number of seconds, or a human duration string parsed by core
/// (`incident_core::HumanDuration`: `"90s"`, `"15m"`, `"1h30m"`, the CLI's flag syntax).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span(pub(crate) Duration);

impl<'py> FromPyObject<'_, 'py> for Span {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(s) = obj.cast::<PyString>() {
            let text = s.to_str()?;
            return text
                .parse::<incident_core::HumanDuration>()
                .map(|d| Self(d.as_std()))
                .map_err(|e| invalid(format!("duration {text:?}: {e}")));
        }
        if obj.cast::<PyDelta>().is_ok() || obj.is_instance_of::<PyInt>() || obj.is_instance_of::<PyFloat>() {
            return obj.extract::<Wrap<Duration>>().map(|w| Self(w.0));
        }
        Err(PyTypeError::new_err(format!(
            "expected a timedelta, seconds or a duration string such as \"15m\", not {}",
            obj.get_type().name()?
        )))
    }
}

/// `since=`: an instant (a timezone-aware `datetime`) or how long ago (a [`Span`]) relative to the
/// backend's clock, as the CLI's `--since 2h`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Since {
    /// Absolute.
    At(DateTime<Utc>),
    /// This long before the backend's now.
    Ago(Duration),
}

impl Since {
    /// The instant, given the backend's `now`.
    pub(crate) fn at(self, now: DateTime<Utc>) -> incident_core::Result<DateTime<Utc>> {
        match self {
            Self::At(t) => Ok(t),
            Self::Ago(d) => {
                chrono::TimeDelta::from_std(d).ok().and_then(|d| now.checked_sub_signed(d)).ok_or_else(|| {
                    incident_core::Error::invalid_input(format!("since: {} seconds ago is out of range", d.as_secs()))
                })
            }
        }
    }
}

impl<'py> FromPyObject<'_, 'py> for Since {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        if obj.cast::<PyDateTime>().is_ok() {
            return utc(&obj.to_owned()).map(Self::At);
        }
        obj.extract::<Span>().map(|s| Self::Ago(s.0))
    }
}

/// Procedure parameters (`procedure(name, params)`, a mapping such as `ApplicationRollbackParams`) as the
/// strings core's `procedure_from_spec` parses and checks (naming the procedure and the field): `str` as
/// is, `int` in decimal, a timezone-aware `datetime` in RFC 3339, a `timedelta` in seconds (`"600s"`), a
/// list of `str` comma-separated. Anything else raises `TypeError` naming the key.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProcedureParams(pub(crate) std::collections::BTreeMap<String, String>);

/// One parameter value as its string form.
fn param_text(key: &str, v: &Bound<'_, PyAny>) -> PyResult<String> {
    use pyo3::types::{PyBool, PyList, PyTuple};
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(s.to_str()?.to_owned());
    }
    if v.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "procedure param `{key}`: expected str, int, datetime or timedelta, not bool"
        )));
    }
    if v.is_instance_of::<PyInt>() {
        return Ok(v.extract::<i128>()?.to_string());
    }
    if v.cast::<PyDateTime>().is_ok() {
        return Ok(utc(v)?.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
    }
    if let Ok(d) = v.cast::<PyDelta>() {
        let s: f64 = d.call_method0("total_seconds")?.extract()?;
        // Whole seconds as `"600s"`; anything else is passed on for core's duration parser to reject.
        return Ok(if s.fract() == 0.0 && s.abs() < 1e15 { format!("{}s", s as i64) } else { format!("{s}s") });
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        let items: Vec<String> = v
            .extract()
            .map_err(|_| PyTypeError::new_err(format!("procedure param `{key}`: a list must hold str values")))?;
        return Ok(items.join(","));
    }
    Err(PyTypeError::new_err(format!(
        "procedure param `{key}`: expected str, int, datetime, timedelta or a list of str, not {}",
        v.get_type().name()?
    )))
}

impl<'py> FromPyObject<'_, 'py> for ProcedureParams {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        let Ok(m) = obj.cast::<pyo3::types::PyMapping>() else {
            return Err(PyTypeError::new_err(format!(
                "params must be a mapping of parameter name to value, not {}",
                obj.get_type().name()?
            )));
        };
        let mut out = std::collections::BTreeMap::new();
        for item in m.items()?.iter() {
            let (k, v): (Bound<'py, PyAny>, Bound<'py, PyAny>) = item.extract()?;
            let key: String = k.extract().map_err(|_| {
                PyTypeError::new_err(format!(
                    "params keys must be str, not {}",
                    k.get_type().name().map(|n| n.to_string()).unwrap_or_default()
                ))
            })?;
            let text = param_text(&key, &v)?;
            out.insert(key, text);
        }
        Ok(Self(out))
    }
}
