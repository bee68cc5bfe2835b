//! Flags whose values are one of incident-core's enumerations, as clap [`ValueEnum`]s: the allowed values
//! come from core (`Severity::ALL`, `Status::ALL`, `AlertSource::ALL`), so a bad value's error lists exactly
//! those, and `--help` shows them.

use std::sync::LazyLock;

use clap::ValueEnum;
use clap::builder::PossibleValue;
use incident_core::ingest::AlertSource;
use incident_core::timeline::ResponseRole;
use incident_core::{Severity, Status};

/// `--severity P0|P1|P2|P3` (any case; the runbook's labels `critical`, `high`, `medium`, `low` too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SeverityArg(pub(crate) Severity);

impl ValueEnum for SeverityArg {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: LazyLock<Vec<SeverityArg>> = LazyLock::new(|| Severity::ALL.into_iter().map(SeverityArg).collect());
        &ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.as_str()).alias(self.0.label()).help(self.0.label()))
    }
}

/// `--status investigating|identified|monitoring|resolved` (any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatusArg(pub(crate) Status);

impl ValueEnum for StatusArg {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: LazyLock<Vec<StatusArg>> = LazyLock::new(|| Status::ALL.into_iter().map(StatusArg).collect());
        &ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.as_str()))
    }
}

/// `incident status ID identified|monitoring`: the statuses core lets a responder set by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ManualStatusArg(pub(crate) Status);

impl ValueEnum for ManualStatusArg {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: LazyLock<Vec<ManualStatusArg>> =
            LazyLock::new(|| incident_core::lifecycle::MANUAL_STATUSES.into_iter().map(ManualStatusArg).collect());
        &ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.as_str()))
    }
}

/// `incident assign ID --role commander|communications|scribe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResponseRoleArg(pub(crate) ResponseRole);

impl ValueEnum for ResponseRoleArg {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: LazyLock<Vec<ResponseRoleArg>> =
            LazyLock::new(|| ResponseRole::ALL.into_iter().map(ResponseRoleArg).collect());
        &ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.as_str()).help(self.0.title()))
    }
}

/// An alert payload's source (`incident ingest SOURCE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AlertSourceArg(pub(crate) AlertSource);

impl AlertSourceArg {
    /// What `--help` says about the source.
    const fn help(self) -> &'static str {
        match self.0 {
            AlertSource::Alertmanager => "Prometheus Alertmanager webhook (version 4)",
            AlertSource::Pagerduty => "PagerDuty Events API v2",
            AlertSource::Grafana => "Grafana alerting webhook (version 1)",
            AlertSource::Cloudwatch => {
                "CloudWatch alarm in an Amazon SNS notification (the signature is not checked here)"
            }
            AlertSource::Datadog => "Datadog webhook (the template documented in incident_core::ingest::datadog)",
        }
    }
}

impl ValueEnum for AlertSourceArg {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: LazyLock<Vec<AlertSourceArg>> =
            LazyLock::new(|| AlertSource::ALL.into_iter().map(AlertSourceArg).collect());
        &ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.as_str()).help(self.help()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every spelling core's `FromStr` accepts parses to the same value here (no value lost to the move).
    #[test]
    fn the_flags_accept_what_core_parses() {
        for sev in Severity::ALL {
            for s in [
                sev.as_str().to_owned(),
                sev.as_str().to_lowercase(),
                sev.label().to_owned(),
                sev.label().to_lowercase(),
            ] {
                assert_eq!(s.parse::<Severity>().ok(), Some(sev), "{s}");
                assert_eq!(SeverityArg::from_str(&s, true).ok(), Some(SeverityArg(sev)), "{s}");
            }
        }
        for role in ResponseRole::ALL {
            assert_eq!(role.as_str().parse::<ResponseRole>().ok(), Some(role));
            assert_eq!(ResponseRoleArg::from_str(role.as_str(), true).ok(), Some(ResponseRoleArg(role)));
        }
        for source in AlertSource::ALL {
            assert_eq!(AlertSourceArg::from_str(source.as_str(), false).ok(), Some(AlertSourceArg(source)));
        }
        for status in Status::ALL {
            for s in [status.as_str().to_owned(), status.as_str().to_uppercase()] {
                assert_eq!(s.parse::<Status>().ok(), Some(status), "{s}");
                assert_eq!(StatusArg::from_str(&s, true).ok(), Some(StatusArg(status)), "{s}");
            }
        }
    }
}

/// `incident declare --reporter customer|internal|partner` (runbook "Manual Reporting").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReporterArg(pub(crate) incident_core::declare::ReportSource);

impl ValueEnum for ReporterArg {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: LazyLock<Vec<ReporterArg>> =
            LazyLock::new(|| incident_core::declare::ReportSource::ALL.into_iter().map(ReporterArg).collect());
        &ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.as_str()).help(self.0.words()))
    }
}
