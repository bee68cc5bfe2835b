//! Failpoints for crash tests: stop the executor at a precise point of a step's write-ahead protocol.
//!
//! `INCIDENT_FAILPOINT=<step_id>:<point>` with `<point>` one of `before-intent`, `after-intent` (intent
//! written, backend not called), `after-submit` (a Route53 change submitted and journaled, not yet
//! `INSYNC`; only steps that change DNS reach it), `after-execute` (backend mutated, outcome not yet
//! written) and `after-outcome`. In [`FailpointMode::Block`] (what [`Failpoints::from_env`] gives) the
//! executor writes `FAILPOINT <step_id>:<point>` and a newline to stderr, flushes, and waits forever so
//! a parent process can SIGKILL it. In [`FailpointMode::Error`] (in-process tests) the run stops at once with an
//! `Internal` error and writes nothing more, as if the process had died.

use std::io::Write as _;

use crate::{Error, Result};

/// Environment variable read by [`Failpoints::from_env`].
pub const FAILPOINT_ENV: &str = "INCIDENT_FAILPOINT";

/// A point in a step's write-ahead protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailpointPoint {
    /// Step claimed, no intent written.
    BeforeIntent,
    /// Intent written, backend not called.
    AfterIntent,
    /// A Route53 change submitted and its id journaled, not yet `INSYNC` (DNS steps only).
    AfterSubmit,
    /// Backend call returned, outcome not written.
    AfterExecute,
    /// Outcome written.
    AfterOutcome,
}

impl FailpointPoint {
    /// The kebab-case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BeforeIntent => "before-intent",
            Self::AfterIntent => "after-intent",
            Self::AfterSubmit => "after-submit",
            Self::AfterExecute => "after-execute",
            Self::AfterOutcome => "after-outcome",
        }
    }

    /// Parse a kebab-case name.
    ///
    /// # Errors
    /// `InvalidInput` listing the allowed names.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "before-intent" => Ok(Self::BeforeIntent),
            "after-intent" => Ok(Self::AfterIntent),
            "after-submit" => Ok(Self::AfterSubmit),
            "after-execute" => Ok(Self::AfterExecute),
            "after-outcome" => Ok(Self::AfterOutcome),
            other => Err(Error::invalid_input(format!(
                "unknown failpoint {other:?} (use before-intent, after-intent, after-submit, after-execute or after-outcome)"
            ))),
        }
    }
}

/// What happens when a failpoint is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailpointMode {
    /// Print `FAILPOINT step:point` to stderr and wait forever (for SIGKILL crash tests).
    Block,
    /// Stop the run with an `Internal` error, writing nothing more (in-process crash simulation).
    Error,
}

/// The executor's failpoint hook: at most one armed point.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failpoints {
    armed: Option<(String, FailpointPoint, FailpointMode)>,
}

impl Failpoints {
    /// No failpoints.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// From `INCIDENT_FAILPOINT` (unset or empty: none), in blocking mode. A malformed value is ignored
    /// with a warning on stderr.
    #[must_use]
    pub fn from_env() -> Self {
        match std::env::var(FAILPOINT_ENV) {
            Ok(v) if !v.trim().is_empty() => Self::parse(&v, FailpointMode::Block).unwrap_or_else(|e| {
                let _ = writeln!(std::io::stderr(), "warning: ignoring {FAILPOINT_ENV}: {e}");
                Self::none()
            }),
            _ => Self::none(),
        }
    }

    /// Parse `<step_id>:<point>`.
    ///
    /// # Errors
    /// `InvalidInput` for a malformed value.
    pub fn parse(spec: &str, mode: FailpointMode) -> Result<Self> {
        let (step, point) = spec
            .trim()
            .rsplit_once(':')
            .ok_or_else(|| Error::invalid_input(format!("failpoint {spec:?} is not <step_id>:<point>")))?;
        if step.is_empty() {
            return Err(Error::invalid_input(format!("failpoint {spec:?} names no step")));
        }
        Ok(Self { armed: Some((step.to_owned(), FailpointPoint::parse(point)?, mode)) })
    }

    /// Arm `step:point` in `mode`.
    #[must_use]
    pub fn at(step: impl Into<String>, point: FailpointPoint, mode: FailpointMode) -> Self {
        Self { armed: Some((step.into(), point, mode)) }
    }

    /// Called by the executor at each point; returns `Err` (error mode) or never returns (block mode) when
    /// armed for this step and point.
    pub(crate) async fn hit(&self, step: &str, point: FailpointPoint) -> Result<()> {
        match &self.armed {
            Some((s, p, mode)) if s == step && *p == point => match mode {
                FailpointMode::Block => {
                    {
                        let mut err = std::io::stderr().lock();
                        let _ = writeln!(err, "FAILPOINT {step}:{}", point.as_str());
                        let _ = err.flush();
                    }
                    std::future::pending::<()>().await;
                    Ok(())
                }
                FailpointMode::Error => Err(Error::internal(format!("failpoint {step}:{} hit", point.as_str()))),
            },
            _ => Ok(()),
        }
    }

    /// Whether `err` was produced by a failpoint in error mode.
    #[must_use]
    pub fn is_failpoint_error(err: &Error) -> bool {
        err.kind() == crate::ErrorKind::Internal && err.message().starts_with("failpoint ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        let f = Failpoints::parse("scale-up:after-intent", FailpointMode::Error).expect("valid");
        assert_eq!(f, Failpoints::at("scale-up", FailpointPoint::AfterIntent, FailpointMode::Error));
        assert!(Failpoints::parse("scale-up", FailpointMode::Error).is_err());
        assert!(Failpoints::parse("x:sideways", FailpointMode::Error).is_err());
        assert!(Failpoints::parse(":after-intent", FailpointMode::Error).is_err());
    }

    #[tokio::test]
    async fn error_mode_only_fires_at_its_point() {
        let f = Failpoints::at("a", FailpointPoint::AfterExecute, FailpointMode::Error);
        assert!(f.hit("a", FailpointPoint::AfterIntent).await.is_ok());
        assert!(f.hit("b", FailpointPoint::AfterExecute).await.is_ok());
        let e = f.hit("a", FailpointPoint::AfterExecute).await.expect_err("armed");
        assert!(Failpoints::is_failpoint_error(&e));
    }
}
