//! `Severity` (P0–P3) and incident `Status` as native Python enums. Every argument that takes one also
//! accepts its string value (`"P1"`, `"identified"`); an unknown string raises `InvalidInputError`
//! listing the allowed values.

use incident_core::{Severity as CoreSeverity, Status as CoreStatus};
use pyo3::prelude::*;

use crate::convert::{StrEnum, Wrap};
use crate::error::guard;

/// Incident severity, P0 (critical) to P3 (low). `str(Severity.P1) == "P1"`.
#[pyclass(name = "Severity", module = "incident_core._native", frozen, eq, hash, str)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PySeverity {
    /// Critical.
    P0,
    /// High.
    P1,
    /// Medium.
    P2,
    /// Low.
    P3,
}

/// Incident status in lifecycle order. `str(Status.IDENTIFIED) == "identified"`.
#[pyclass(name = "Status", module = "incident_core._native", frozen, eq, hash, str)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PyStatus {
    /// The cause is not yet known.
    #[pyo3(name = "INVESTIGATING")]
    Investigating,
    /// The cause is known; mitigation under way.
    #[pyo3(name = "IDENTIFIED")]
    Identified,
    /// A fix is in place and being watched.
    #[pyo3(name = "MONITORING")]
    Monitoring,
    /// Over; terminal.
    #[pyo3(name = "RESOLVED")]
    Resolved,
}

impl From<CoreSeverity> for PySeverity {
    fn from(s: CoreSeverity) -> Self {
        match s {
            CoreSeverity::P0 => Self::P0,
            CoreSeverity::P1 => Self::P1,
            CoreSeverity::P2 => Self::P2,
            CoreSeverity::P3 => Self::P3,
        }
    }
}

impl PySeverity {
    /// To the core type.
    pub(crate) fn core(self) -> CoreSeverity {
        match self {
            Self::P0 => CoreSeverity::P0,
            Self::P1 => CoreSeverity::P1,
            Self::P2 => CoreSeverity::P2,
            Self::P3 => CoreSeverity::P3,
        }
    }

    /// Wire name.
    pub(crate) fn as_str(self) -> &'static str {
        self.core().as_str()
    }
}

impl std::fmt::Display for PySeverity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<CoreStatus> for PyStatus {
    fn from(s: CoreStatus) -> Self {
        match s {
            CoreStatus::Investigating => Self::Investigating,
            CoreStatus::Identified => Self::Identified,
            CoreStatus::Monitoring => Self::Monitoring,
            CoreStatus::Resolved => Self::Resolved,
        }
    }
}

impl PyStatus {
    /// To the core type.
    pub(crate) fn core(self) -> CoreStatus {
        match self {
            Self::Investigating => CoreStatus::Investigating,
            Self::Identified => CoreStatus::Identified,
            Self::Monitoring => CoreStatus::Monitoring,
            Self::Resolved => CoreStatus::Resolved,
        }
    }

    /// Wire name.
    pub(crate) fn as_str(self) -> &'static str {
        self.core().as_str()
    }
}

impl std::fmt::Display for PyStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl StrEnum for CoreSeverity {
    const WHAT: &'static str = "severity";
    const ALLOWED: &'static [&'static str] = &CoreSeverity::NAMES;
}

impl StrEnum for CoreStatus {
    const WHAT: &'static str = "status";
    const ALLOWED: &'static [&'static str] = &CoreStatus::NAMES;
}

#[pymethods]
impl PySeverity {
    /// The wire value (`"P0"`..`"P3"`).
    #[getter]
    fn value(&self) -> &'static str {
        self.as_str()
    }

    /// 0 for P0 … 3 for P3.
    #[getter]
    fn level(&self) -> u8 {
        self.core().level()
    }

    /// The runbook's name for the level: `"Critical"`, `"High"`, `"Medium"`, `"Low"`.
    #[getter]
    fn label(&self) -> &'static str {
        self.core().label()
    }

    /// Parse `"P0"`..`"P3"` (raises `InvalidInputError` listing the allowed values).
    #[staticmethod]
    fn parse(value: Wrap<CoreSeverity>) -> PyResult<Self> {
        guard(|| Ok(value.0.into()))
    }

    /// Every severity, most severe first.
    #[staticmethod]
    fn all() -> Vec<Self> {
        CoreSeverity::ALL.into_iter().map(Self::from).collect()
    }

    fn __repr__(&self) -> String {
        format!("Severity.{}", self.as_str())
    }
}

#[pymethods]
impl PyStatus {
    /// The wire value (`"investigating"`, ...).
    #[getter]
    fn value(&self) -> &'static str {
        self.as_str()
    }

    /// Parse a status name (raises `InvalidInputError` listing the allowed values).
    #[staticmethod]
    fn parse(value: Wrap<CoreStatus>) -> PyResult<Self> {
        guard(|| Ok(value.0.into()))
    }

    /// Every status in lifecycle order.
    #[staticmethod]
    fn all() -> Vec<Self> {
        CoreStatus::ALL.into_iter().map(Self::from).collect()
    }

    fn __repr__(&self) -> String {
        format!("Status.{}", self.as_str().to_uppercase())
    }
}
