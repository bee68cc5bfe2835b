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
