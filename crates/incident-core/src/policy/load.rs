//! Loading, validating and describing policies.
//!
//! A policy file (TOML, YAML or JSON) is an *override* of the runbook: the file is deep-merged onto
//! [`Policy::default()`] (maps merge key by key, every other value — including arrays such as
//! `stakeholders` or `ingest.rules` — replaces the default wholesale; an explicit `null` resets an
//! optional value such as `cadence.internal_update.P2`), then deserialized strictly (unknown keys are
//! errors) and [validated](Policy::validate). So `severities.P1.response_time = "20m"` alone changes only
//! that one value. Maps such as `stage_budgets` can add or change entries but not remove default ones.
//!
//! Every error is one line of kind [`ErrorKind::Policy`](crate::ErrorKind::Policy) naming the field path:
//!
//! ```text
//! policy field `cadence.internal_update.P1`: negative duration "-5m" (durations must be >= 0)
//! policy field `declaration.foo`: unknown field `foo`, expected one of `unavailable_for`, ...
//! policy field `severities.P1.response_time`: P1 (10m) faster than P0 (15m): a lower severity must not respond faster
//! ```

use std::collections::HashSet;
use std::path::Path;

use serde_json::{Map, Value};

use super::{DEPRECATED_PROCEDURE_NAMES, DeclarationPolicy, Policy, canonical_procedure_name};
use crate::{Error, HumanDuration, Result, Severity};

/// The format of a policy document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PolicyFormat {
    /// TOML.
    Toml,
    /// YAML.
    Yaml,
    /// JSON.
    Json,
}

impl PolicyFormat {
    /// Every format.
    pub const ALL: [Self; 3] = [Self::Toml, Self::Yaml, Self::Json];
    /// The wire names of [`PolicyFormat::ALL`], in order (the bindings' allowed values).
    pub const NAMES: [&'static str; 3] = ["toml", "yaml", "json"];

    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Toml => "toml",
            Self::Yaml => "yaml",
            Self::Json => "json",
        }
    }
}

impl std::str::FromStr for PolicyFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| {
            Error::invalid_input(format!("policy format: {s:?} is not one of {}", Self::NAMES.join(", ")))
        })
    }
}

pub(super) fn field_err(path: &str, why: impl std::fmt::Display) -> Error {
    // Keys come from the file: escape line breaks so the message stays one line.
    let path: String = path
        .chars()
        .map(|c| match c {
            '\n' => "\\n".to_owned(),
            '\r' => "\\r".to_owned(),
            c if c.is_control() => " ".to_owned(),
            c => c.to_string(),
        })
        .collect();
    Error::policy(format!("policy field `{path}`: {}", one_line(&why.to_string())))
}

/// Merge `overlay` onto `base`: objects key by key (recursively), anything else replaces.
fn deep_merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => deep_merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Deprecated procedure names ([`DEPRECATED_PROCEDURE_NAMES`]) in an override document become the
/// current ones: `stage_budgets` keys (merged into the current key's entry, which wins) and
/// `guard_rails.scale_to_zero_procedures` entries.
fn rename_deprecated_procedures(doc: &mut Value) {
    if let Some(Value::Object(budgets)) = doc.get_mut("stage_budgets") {
        for (old, new) in DEPRECATED_PROCEDURE_NAMES {
            if let Some(stages) = budgets.remove(old) {
                let mut merged = stages;
                if let Some(current) = budgets.remove(new) {
                    deep_merge(&mut merged, current);
                }
                budgets.insert(new.to_owned(), merged);
            }
        }
    }
    if let Some(Value::Array(names)) = doc.get_mut("guard_rails").and_then(|g| g.get_mut("scale_to_zero_procedures")) {
        for v in names {
            if let Value::String(name) = v {
                let current = canonical_procedure_name(name);
                if current != name {
                    *name = current.to_owned();
                }
            }
        }
    }
}

/// Strip serde_json's " at line L column C" suffix (meaningless for an in-memory value).
fn strip_position(msg: &str) -> &str {
    match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(" column ") => &msg[..i],
        _ => msg,
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Policy {
    /// Merge an already-parsed override document onto the defaults, deserialize and validate.
    ///
    /// # Errors
    /// [`ErrorKind::Policy`](crate::ErrorKind::Policy) naming the offending field.
    pub fn from_value(overrides: Value) -> Result<Self> {
        if !overrides.is_object() && !overrides.is_null() {
            return Err(Error::policy("policy document must be a table/mapping at the top level"));
        }
        let mut merged = serde_json::to_value(Self::default())
            .map_err(|e| Error::internal(format!("serializing the default policy: {e}")))?;
        if !overrides.is_null() {
            let mut overrides = overrides;
            rename_deprecated_procedures(&mut overrides);
            deep_merge(&mut merged, overrides);
        }
        let policy: Self = serde_path_to_error::deserialize(merged).map_err(|e| {
            let path = e.path().to_string();
            let msg = e.inner().to_string();
            field_err(&path, one_line(strip_position(&msg)))
        })?;
        policy.validate()?;
        Ok(policy)
    }

    /// Load an override file in TOML.
    ///
    /// # Errors
    /// [`ErrorKind::Policy`](crate::ErrorKind::Policy) for syntax errors (with line and column), unknown
    /// keys, bad values and failed validation.
    pub fn from_toml_str(text: &str) -> Result<Self> {
        let value: Value = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| line_col(text, s.start)).map(|(l, c)| format!(" at line {l} column {c}"));
            Error::policy(format!("policy file (toml){}: {}", at.unwrap_or_default(), one_line(e.message())))
        })?;
        Self::from_value(value)
    }

    /// Load an override file in YAML (an empty document is the default policy).
    ///
    /// # Errors
    /// As [`Policy::from_toml_str`].
    pub fn from_yaml_str(text: &str) -> Result<Self> {
        let value: Value = serde_yaml_ng::from_str(text)
            .map_err(|e| Error::policy(format!("policy file (yaml): {}", one_line(&e.to_string()))))?;
        Self::from_value(value)
    }

    /// Load an override file in JSON.
    ///
    /// # Errors
    /// As [`Policy::from_toml_str`].
    pub fn from_json_str(text: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::policy(format!("policy file (json): {}", one_line(&e.to_string()))))?;
        Self::from_value(value)
    }

    /// Parse a policy document in `format` (`toml`, `yaml` or `json`, see [`PolicyFormat`]) over the
    /// defaults.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) listing the formats for an unknown
    /// `format`; otherwise as [`Policy::from_toml_str`].
    pub fn parse_as(text: &str, format: &str) -> Result<Self> {
        match format.parse::<PolicyFormat>()? {
            PolicyFormat::Toml => Self::from_toml_str(text),
            PolicyFormat::Yaml => Self::from_yaml_str(text),
            PolicyFormat::Json => Self::from_json_str(text),
        }
    }

    /// Load an override file; the format comes from the extension (`.toml`, `.yaml`, `.yml`, `.json`).
    /// Messages are prefixed with the path.
    ///
    /// # Errors
    /// As [`Policy::from_toml_str`], plus unreadable files and unknown extensions.
    pub fn from_path(path: &Path) -> Result<Self> {
        let shown = path.display();
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let parse: fn(&str) -> Result<Self> = match ext.as_deref() {
            Some("toml") => Self::from_toml_str,
            Some("yaml" | "yml") => Self::from_yaml_str,
            Some("json") => Self::from_json_str,
            _ => {
                return Err(Error::policy(format!(
                    "{shown}: unknown policy file extension (expected .toml, .yaml, .yml or .json)"
                )));
            }
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::policy(format!("{shown}: cannot read policy file: {e}")))?;
        parse(&text).map_err(|e| e.context(shown))
    }

    /// The policy as TOML (loadable with [`Policy::from_toml_str`]).
    ///
    /// # Errors
    /// [`ErrorKind::Internal`](crate::ErrorKind::Internal) if serialization fails.
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::internal(format!("serializing policy as toml: {e}")))
    }

    /// The policy as YAML.
    ///
    /// # Errors
    /// [`ErrorKind::Internal`](crate::ErrorKind::Internal) if serialization fails.
    pub fn to_yaml_string(&self) -> Result<String> {
        serde_yaml_ng::to_string(self).map_err(|e| Error::internal(format!("serializing policy as yaml: {e}")))
    }

    /// The policy as pretty JSON.
    ///
    /// # Errors
    /// [`ErrorKind::Internal`](crate::ErrorKind::Internal) if serialization fails.
    pub fn to_json_string(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::internal(format!("serializing policy as json: {e}")))
    }

    /// JSON Schema (draft 2020-12) of a policy *file*: since files override the defaults, no property
    /// of the merged sections is required (items of arrays, which replace wholesale, keep theirs).
    #[must_use]
    pub fn json_schema() -> Value {
        let mut schema = schemars::schema_for!(Policy).to_value();
        let mut defs = schema.get("$defs").cloned().unwrap_or(Value::Null);
        let mut seen = HashSet::new();
        if let Some(root) = schema.as_object_mut() {
            relax(root, &mut defs, &mut seen);
        }
        if let (Some(obj), Value::Object(d)) = (schema.as_object_mut(), defs) {
            obj.insert("$defs".into(), Value::Object(d));
            obj.insert(
                "description".into(),
                Value::String(
                    "incident-core policy file: overrides of the runbook defaults (every field optional).".into(),
                ),
            );
        }
        schema
    }

    /// Check cross-field rules; errors name the field and why.
    ///
    /// # Errors
    /// [`ErrorKind::Policy`](crate::ErrorKind::Policy) for the first violation found.
    pub fn validate(&self) -> Result<()> {
        self.validate_severities()?;
        self.validate_business_hours()?;
        self.validate_cadence()?;
        self.declaration.validate()?;
        self.validate_people()?;
        self.validate_drills()?;
        self.validate_misc()?;
        self.ingest.validate()?;
        self.validate_integrity_checks()?;
        self.validate_receiver()?;
        self.matching.validate()?;
        Ok(())
    }

    fn validate_receiver(&self) -> Result<()> {
        let r = &self.receiver;
        for (name, v) in [
            ("header_timeout", r.header_timeout),
            ("body_timeout", r.body_timeout),
            ("idle_timeout", r.idle_timeout),
            ("sns.max_age", r.sns.max_age),
        ] {
            if v == HumanDuration::ZERO {
                return Err(field_err(&format!("receiver.{name}"), "must be > 0"));
            }
        }
        if r.max_connections < 2 {
            return Err(field_err("receiver.max_connections", "must be >= 2"));
        }
        for (i, t) in r.sns.topics.iter().enumerate() {
            if !t.starts_with("arn:") || t.chars().any(char::is_whitespace) {
                return Err(field_err(
                    &format!("receiver.sns.topics[{i}]"),
                    format!("{t:?} is not a topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"),
                ));
            }
        }
        Ok(())
    }

    fn validate_integrity_checks(&self) -> Result<()> {
        for (i, c) in self.integrity_checks.iter().enumerate() {
            let at = format!("integrity_checks[{i}]");
            if c.name.trim().is_empty() {
                return Err(field_err(&format!("{at}.name"), "blank: name the check"));
            }
            if self.integrity_checks[..i].iter().any(|o| o.name == c.name) {
                return Err(field_err(&format!("{at}.name"), format!("{:?} listed twice", c.name)));
            }
            if c.sql.trim().is_empty() {
                return Err(field_err(&format!("{at}.sql"), "blank: a SELECT returning one number"));
            }
            for (f, v) in [("min", c.min), ("max", c.max)] {
                if v.is_some_and(|v| !v.is_finite()) {
                    return Err(field_err(&format!("{at}.{f}"), "must be a finite number"));
                }
            }
            if let (Some(lo), Some(hi)) = (c.min, c.max) {
                if lo > hi {
                    return Err(field_err(&format!("{at}.min"), format!("{lo} is above max {hi}")));
                }
            }
        }
        Ok(())
    }

    fn validate_severities(&self) -> Result<()> {
        let sev = &self.severities;
        for pair in Severity::ALL.windows(2) {
            let (hi, lo) = (pair[0], pair[1]);
            let (h, l) = (sev.get(hi).response_time, sev.get(lo).response_time);
            if l < h {
                return Err(field_err(
                    &format!("severities.{lo}.response_time"),
                    format!(
                        "{lo} ({l}) faster than {hi} ({h}): a lower severity must not respond faster than a higher one"
                    ),
                ));
            }
        }
        for (s, p) in sev.iter() {
            if p.escalation.is_empty() {
                return Err(field_err(&format!("severities.{s}.escalation"), "empty: escalate to at least one role"));
            }
            if let Some(dup) = first_duplicate(p.escalation.iter()) {
                return Err(field_err(&format!("severities.{s}.escalation"), format!("{} listed twice", dup.as_str())));
            }
            for (i, role) in p.escalation_chain.iter().enumerate() {
                if p.escalation.contains(role) || p.escalation_chain[..i].contains(role) {
                    return Err(field_err(
                        &format!("severities.{s}.escalation_chain[{i}]"),
                        format!("{} is already paged at an earlier level", role.as_str()),
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_business_hours(&self) -> Result<()> {
        let b = &self.business_hours;
        b.tz()?;
        if b.weekdays.is_empty() {
            return Err(field_err("business_hours.weekdays", "empty: name at least one working day"));
        }
        if let Some(dup) = first_duplicate(b.weekdays.iter()) {
            return Err(field_err("business_hours.weekdays", format!("{dup:?} listed twice").to_lowercase()));
        }
        if b.start >= b.end {
            return Err(field_err(
                "business_hours.start",
                format!("{} is not before end {} (a working day never spans midnight)", b.start, b.end),
            ));
        }
        Ok(())
    }

    fn validate_cadence(&self) -> Result<()> {
        let c = &self.cadence;
        let mut higher: Option<(Severity, Option<HumanDuration>)> = None;
        for (s, every) in c.internal_update.iter() {
            let path = format!("cadence.internal_update.{s}");
            if *every == Some(HumanDuration::ZERO) {
                return Err(field_err(&path, "must be > 0 (use null for no fixed cadence)"));
            }
            if let Some((hs, h)) = higher {
                match (h, every) {
                    (Some(h), Some(l)) if *l < h => {
                        return Err(field_err(
                            &path,
                            format!("{s} ({l}) faster than {hs} ({h}): a lower severity must not update more often"),
                        ));
                    }
                    (None, Some(_)) => {
                        return Err(field_err(
                            &path,
                            format!("{s} has a cadence but the higher severity {hs} has none"),
                        ));
                    }
                    _ => {}
                }
            }
            higher = Some((s, *every));
        }
        if let Some(dup) = first_duplicate(c.status_page_for.iter()) {
            return Err(field_err("cadence.status_page_for", format!("{dup} listed twice")));
        }
        Ok(())
    }

    fn validate_people(&self) -> Result<()> {
        for (i, r) in self.stakeholders.iter().enumerate() {
            if let Some(j) = self.stakeholders[..i].iter().position(|p| p.role == r.role && p.when == r.when) {
                return Err(field_err(
                    &format!("stakeholders[{i}]"),
                    format!("duplicates stakeholders[{j}] (same role {} and condition)", r.role.as_str()),
                ));
            }
        }
        for (i, c) in self.contacts.iter().enumerate() {
            let path = format!("contacts[{i}]");
            if let Some(j) = self.contacts[..i].iter().position(|p| p.role == c.role) {
                return Err(field_err(
                    &path,
                    format!("second entry for role {} (first is contacts[{j}])", c.role.as_str()),
                ));
            }
            for (name, v) in [("phone", &c.phone), ("via", &c.via), ("email", &c.email), ("slack", &c.slack)] {
                if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
                    return Err(field_err(&format!("{path}.{name}"), "empty string (omit the field instead)"));
                }
            }
            if c.phone.is_none() && c.email.is_none() && c.slack.is_none() {
                return Err(field_err(
                    &path,
                    format!("no way to reach role {}: set phone, email or slack", c.role.as_str()),
                ));
            }
            if let Some(e) = &c.email {
                if !e.contains('@') {
                    return Err(field_err(&format!("{path}.email"), format!("{e:?} is not an e-mail address")));
                }
            }
            if let Some(dup) = first_duplicate(c.only_for.iter()) {
                return Err(field_err(&format!("{path}.only_for"), format!("{dup} listed twice")));
            }
        }
        if self.bridge.as_deref().is_some_and(|b| b.trim().is_empty()) {
            return Err(field_err("bridge", "empty string (omit the field or use null)"));
        }
        Ok(())
    }

    fn validate_drills(&self) -> Result<()> {
        match self.drills.invalid_field() {
            Some((path, why)) => Err(field_err(&path, why)),
            None => Ok(()),
        }
    }

    fn validate_misc(&self) -> Result<()> {
        let r = &self.retry;
        if r.max_attempts == 0 {
            return Err(field_err("retry.max_attempts", "must be >= 1 (it counts the first attempt)"));
        }
        if r.initial_backoff > r.max_backoff {
            return Err(field_err(
                "retry.initial_backoff",
                format!("{} is greater than retry.max_backoff ({})", r.initial_backoff, r.max_backoff),
            ));
        }
        if r.step_deadline == HumanDuration::ZERO {
            return Err(field_err("retry.step_deadline", "must be > 0"));
        }
        let g = &self.guard_rails;
        if g.max_replicas == 0 {
            return Err(field_err("guard_rails.max_replicas", "must be >= 1"));
        }
        if g.max_plan_age == HumanDuration::ZERO {
            return Err(field_err("guard_rails.max_plan_age", "must be > 0"));
        }
        let l = &self.limits;
        for (name, v) in [
            ("max_payload_bytes", l.max_payload_bytes),
            ("max_alerts_per_payload", u64::from(l.max_alerts_per_payload)),
            ("max_events_per_incident", u64::from(l.max_events_per_incident)),
            ("max_concurrency", u64::from(l.max_concurrency)),
            ("max_log_lines", u64::from(l.max_log_lines)),
        ] {
            if v == 0 {
                return Err(field_err(&format!("limits.{name}"), "must be >= 1"));
            }
        }
        for (proc_name, stages) in &self.stage_budgets {
            if proc_name.trim().is_empty() {
                return Err(field_err("stage_budgets", "empty procedure name"));
            }
            for (stage, budget) in stages {
                if *budget == HumanDuration::ZERO {
                    return Err(field_err(&format!("stage_budgets.{proc_name}.{stage}"), "must be > 0"));
                }
            }
        }
        for (i, res) in self.resources.iter().enumerate() {
            if res.name.trim().is_empty() {
                return Err(field_err(&format!("resources[{i}].name"), "must not be empty"));
            }
            if !(res.url.starts_with("https://") || res.url.starts_with("http://")) {
                return Err(field_err(&format!("resources[{i}].url"), format!("{:?} is not an http(s) URL", res.url)));
            }
        }
        if let Some((path, why)) = crate::drills::checklist::invalid_item(&self.validation_checklist) {
            return Err(field_err(&path, why));
        }
        if let Some((path, why)) = self.checklist_targets.invalid() {
            return Err(field_err(&format!("checklist_targets.{path}"), why));
        }
        Ok(())
    }
}

impl DeclarationPolicy {
    /// Check thresholds and windows; errors name the field (`declaration.error_rate_threshold: ...`).
    ///
    /// # Errors
    /// [`ErrorKind::Policy`](crate::ErrorKind::Policy) for a threshold outside `(0, 1]`, a zero window or
    /// a zero `max_sample_gap`.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("error_rate_threshold", self.error_rate_threshold),
            ("latency_degradation_threshold", self.latency_degradation_threshold),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                return Err(field_err(
                    &format!("declaration.{name}"),
                    format!("{v} is outside (0, 1] (a fraction: 0.05 = 5 %)"),
                ));
            }
        }
        for (name, d) in [
            ("unavailable_for", self.unavailable_for),
            ("error_rate_for", self.error_rate_for),
            ("latency_degradation_for", self.latency_degradation_for),
            ("max_sample_gap", self.max_sample_gap),
        ] {
            if d == HumanDuration::ZERO {
                return Err(field_err(&format!("declaration.{name}"), "must be > 0"));
            }
        }
        Ok(())
    }
}

fn first_duplicate<T: PartialEq + Copy>(items: impl Iterator<Item = T> + Clone) -> Option<T> {
    let all: Vec<T> = items.collect();
    all.iter().enumerate().find(|(i, x)| all[..*i].contains(x)).map(|(_, x)| *x)
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Remove `required` from the schema objects a file merges into (the root and every object reached
/// through `properties` and `$ref`, not through `items`/`additionalProperties`).
fn relax(node: &mut Map<String, Value>, defs: &mut Value, seen: &mut HashSet<String>) {
    node.remove("required");
    if let Some(Value::String(r)) = node.get("$ref") {
        if let Some(name) = r.strip_prefix("#/$defs/") {
            let name = name.to_owned();
            if seen.insert(name.clone()) {
                let mut def = defs.get(&name).cloned();
                if let Some(Value::Object(d)) = &mut def {
                    relax(d, defs, seen);
                    if let (Some(target), Some(d)) = (defs.get_mut(&name), def) {
                        *target = d;
                    }
                }
            }
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(alts)) = node.get_mut(key) {
            for alt in alts {
                if let Value::Object(o) = alt {
                    relax(o, defs, seen);
                }
            }
        }
    }
    if let Some(Value::Object(props)) = node.get_mut("properties") {
        for (_, p) in props.iter_mut() {
            if let Value::Object(o) = p {
                relax(o, defs, seen);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn policy_err(r: Result<Policy>) -> String {
        let e = r.expect_err("should fail");
        assert_eq!(e.kind(), ErrorKind::Policy, "{e}");
        let s = e.to_string();
        assert!(!s.contains('\n'), "one line: {s}");
        s
    }

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/policy").join(name)
    }

    #[test]
    fn defaults_are_valid() {
        Policy::default().validate().expect("default policy is valid");
        assert_eq!(Policy::from_toml_str("").expect("empty"), Policy::default());
        assert_eq!(Policy::from_yaml_str("").expect("empty"), Policy::default());
        assert_eq!(Policy::from_json_str("{}").expect("empty"), Policy::default());
    }

    #[test]
    fn defaults_round_trip_through_every_format() {
        let p = Policy::default();
        let toml = p.to_toml_string().expect("toml");
        assert_eq!(Policy::from_toml_str(&toml).expect("toml back"), p);
        let yaml = p.to_yaml_string().expect("yaml");
        assert_eq!(Policy::from_yaml_str(&yaml).expect("yaml back"), p);
        let json = p.to_json_string().expect("json");
        assert_eq!(Policy::from_json_str(&json).expect("json back"), p);
    }

    #[test]
    fn nested_partial_override_keeps_every_other_default() {
        let p = Policy::from_toml_str("[severities.P1]\nresponse_time = \"20m\"\n").expect("valid");
        let mut expected = Policy::default();
        expected.severities.p1.response_time = HumanDuration::from_mins(20);
        assert_eq!(p, expected);
        let p = Policy::from_yaml_str("cadence:\n  internal_update:\n    P2: null\n").expect("valid");
        assert_eq!(p.cadence.internal_update.p2, None);
        assert_eq!(p.cadence.internal_update.p1, Some(HumanDuration::from_mins(30)));
    }

    #[test]
    fn override_fixtures_in_all_formats_agree() {
        let toml = Policy::from_path(&fixture("override.toml")).expect("toml");
        let yaml = Policy::from_path(&fixture("override.yaml")).expect("yaml");
        let json = Policy::from_path(&fixture("override.json")).expect("json");
        assert_eq!(toml, yaml);
        assert_eq!(toml, json);
        assert_eq!(toml.severities.p1.response_time, HumanDuration::from_mins(20));
        assert_eq!(toml.severities.p0.response_time, HumanDuration::from_mins(15), "default kept");
        assert!((toml.declaration.error_rate_threshold - 0.02).abs() < f64::EPSILON);
        assert_eq!(toml.declaration.unavailable_for, HumanDuration::from_mins(5), "default kept");
        assert_eq!(toml.limits.max_alerts_per_payload, 500);
        assert_eq!(toml.ingest.service_label, "app");
        assert_eq!(toml.stage_budget("region-failure", "assessment"), Some(HumanDuration::from_mins(10)));
        assert_eq!(toml.stage_budget("region-failure", "data-recovery"), Some(HumanDuration::from_mins(30)));
        assert_eq!(toml.drills, Policy::default().drills);
    }

    #[test]
    fn deprecated_procedure_names_are_aliases_in_policy_files() {
        let old = Policy::from_toml_str(
            "[stage_budgets.regional-failover]\nassessment = \"10m\"\n[guard_rails]\nscale_to_zero_procedures = [\"database-corruption\", \"regional-failover\"]\n",
        )
        .expect("alias accepted");
        assert_eq!(old.stage_budget("region-failure", "assessment"), Some(HumanDuration::from_mins(10)));
        assert_eq!(
            old.stage_budget("region-failure", "data-recovery"),
            Some(HumanDuration::from_mins(30)),
            "default kept"
        );
        assert_eq!(old.stage_budget("regional-failover", "assessment"), Some(HumanDuration::from_mins(10)));
        assert!(!old.stage_budgets.contains_key("regional-failover"), "stored under the current name");
        assert_eq!(old.guard_rails.scale_to_zero_procedures, ["database-corruption", "region-failure"]);
        let new = Policy::from_toml_str("[stage_budgets.region-failure]\nassessment = \"10m\"\n").expect("current");
        assert_eq!(old.stage_budgets, new.stage_budgets);
        // Both spellings in one file: the current name wins where they disagree.
        let both = Policy::from_toml_str(
            "[stage_budgets.regional-failover]\nassessment = \"7m\"\nactivate-secondary = \"9m\"\n[stage_budgets.region-failure]\nassessment = \"10m\"\n",
        )
        .expect("both");
        assert_eq!(both.stage_budget("region-failure", "assessment"), Some(HumanDuration::from_mins(10)));
        assert_eq!(both.stage_budget("region-failure", "activate-secondary"), Some(HumanDuration::from_mins(9)));
        // A policy built in code under the old key still answers for the current name.
        let mut coded = Policy::default();
        let budgets = coded.stage_budgets.remove("region-failure").expect("default");
        coded.stage_budgets.insert("regional-failover".into(), budgets);
        assert_eq!(coded.stage_budget("region-failure", "assessment"), Some(HumanDuration::from_mins(5)));
    }

    /// Golden files change when the defaults do: regenerate them with
    /// `INCIDENT_BLESS_FIXTURES=1 cargo test -p incident-core --lib -- policy::load` and review the diff.
    fn bless() -> bool {
        std::env::var_os("INCIDENT_BLESS_FIXTURES").is_some()
    }

    #[test]
    fn default_fixture_is_the_default_policy() {
        let p = Policy::default();
        if bless() {
            std::fs::write(fixture("default.toml"), p.to_toml_string().expect("toml")).expect("write");
            std::fs::write(fixture("default.yaml"), p.to_yaml_string().expect("yaml")).expect("write");
            std::fs::write(fixture("default.json"), p.to_json_string().expect("json") + "\n").expect("write");
        }
        for name in ["default.toml", "default.yaml", "default.json"] {
            assert_eq!(
                Policy::from_path(&fixture(name)).expect(name),
                p,
                "crates/incident-core/tests/fixtures/policy/{name} is stale: rerun with INCIDENT_BLESS_FIXTURES=1 and review the diff"
            );
        }
    }

    #[test]
    fn invalid_fixtures_fail_with_the_expected_message() {
        let expected: std::collections::BTreeMap<String, String> = serde_json::from_str(
            &std::fs::read_to_string(fixture("invalid.expected.json")).expect("read expectations"),
        )
        .expect("parse expectations");
        assert!(!expected.is_empty());
        for (file, needle) in expected {
            let msg = policy_err(Policy::from_path(&fixture(&file)));
            assert!(msg.contains(&needle), "{file}: {msg:?} should contain {needle:?}");
        }
    }

    #[test]
    fn unknown_key_names_its_path() {
        let msg = policy_err(Policy::from_toml_str("[declaration]\nfoo = 1\n"));
        assert!(msg.starts_with("policy field `declaration.foo`: unknown field `foo`"), "{msg}");
        let msg = policy_err(Policy::from_json_str(r#"{"severities": {"P1": {"respons_time": "1m"}}}"#));
        assert!(msg.starts_with("policy field `severities.P1.respons_time`: unknown field"), "{msg}");
        let msg = policy_err(Policy::from_toml_str("colour = \"red\"\n"));
        assert!(msg.starts_with("policy field `colour`: unknown field"), "{msg}");
    }

    #[test]
    fn negative_duration_names_its_path() {
        let msg = policy_err(Policy::from_toml_str("[cadence.internal_update]\nP1 = \"-5m\"\n"));
        assert_eq!(
            msg,
            "policy field `cadence.internal_update.P1`: negative duration \"-5m\" (durations must be >= 0)"
        );
        let msg = policy_err(Policy::from_yaml_str("retry:\n  max_backoff: 30\n"));
        assert!(msg.starts_with("policy field `retry.max_backoff`: bare number 30 is ambiguous"), "{msg}");
    }

    #[test]
    fn ordering_rules() {
        let msg = policy_err(Policy::from_toml_str("[severities.P1]\nresponse_time = \"10m\"\n"));
        assert!(msg.starts_with("policy field `severities.P1.response_time`: P1 (10m) faster than P0 (15m)"), "{msg}");
        let msg = policy_err(Policy::from_toml_str("[cadence.internal_update]\nP2 = \"20m\"\n"));
        assert!(msg.starts_with("policy field `cadence.internal_update.P2`: P2 (20m) faster than P1 (30m)"), "{msg}");
        let msg = policy_err(Policy::from_json_str(r#"{"cadence": {"internal_update": {"P1": null}}}"#));
        assert!(
            msg.contains("`cadence.internal_update.P2`: P2 has a cadence but the higher severity P1 has none"),
            "{msg}"
        );
        let msg = policy_err(Policy::from_toml_str("[cadence.internal_update]\nP0 = \"0s\"\n"));
        assert!(msg.starts_with("policy field `cadence.internal_update.P0`: must be > 0"), "{msg}");
    }

    #[test]
    fn declaration_rules() {
        for (doc, path) in [
            ("[declaration]\nerror_rate_threshold = 0.0\n", "declaration.error_rate_threshold"),
            ("[declaration]\nerror_rate_threshold = 1.5\n", "declaration.error_rate_threshold"),
            ("[declaration]\nlatency_degradation_threshold = -0.5\n", "declaration.latency_degradation_threshold"),
            ("[declaration]\nerror_rate_for = \"0s\"\n", "declaration.error_rate_for"),
            ("[declaration]\nmax_sample_gap = \"0m\"\n", "declaration.max_sample_gap"),
        ] {
            let msg = policy_err(Policy::from_toml_str(doc));
            assert!(msg.starts_with(&format!("policy field `{path}`: ")), "{msg}");
        }
        let ok = Policy::from_toml_str("[declaration]\nerror_rate_threshold = 1\n").expect("integer 1 is 1.0");
        assert!((ok.declaration.error_rate_threshold - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn drill_rules() {
        let doc = |slots: &str, time: &str| format!("[drills]\nstart_time_utc = \"{time}\"\nschedule = [{slots}]\n");
        let slot = |n: u8, d: &str| format!("{{ nth_friday = {n}, drill = \"{d}\" }}");
        let msg = policy_err(Policy::from_toml_str(&doc(&slot(5, "database-failover"), "15:00")));
        assert!(msg.starts_with("policy field `drills.schedule[0].nth_friday`: 5 is outside 1..=4"), "{msg}");
        let two = format!("{}, {}", slot(2, "database-failover"), slot(2, "regional-failover"));
        let msg = policy_err(Policy::from_toml_str(&doc(&two, "15:00")));
        assert!(msg.starts_with("policy field `drills.schedule[1].nth_friday`: Friday 2 is scheduled twice"), "{msg}");
        for bad in ["24:00", "9:00", "12:60", "noon", "12:00:00"] {
            let msg = policy_err(Policy::from_toml_str(&doc(&slot(1, "database-failover"), bad)));
            assert!(msg.starts_with("policy field `drills.start_time_utc`: "), "{bad}: {msg}");
        }
        let msg = policy_err(Policy::from_toml_str(&doc(&slot(1, "fire-drill"), "15:00")));
        assert!(msg.starts_with("policy field `drills.schedule[0].drill`: unknown variant `fire-drill`"), "{msg}");
        Policy::from_toml_str(&doc(&slot(1, "database-failover"), "00:00")).expect("one drill at midnight");
    }

    #[test]
    fn business_hours_and_escalation_chain_rules() {
        for (doc, path, why) in [
            ("[business_hours]\ntimezone = \"Mars/Olympus\"\n", "business_hours.timezone", "is not an IANA time zone"),
            ("[business_hours]\nweekdays = []\n", "business_hours.weekdays", "empty"),
            (
                "[business_hours]\nweekdays = [\"monday\", \"monday\"]\n",
                "business_hours.weekdays",
                "monday listed twice",
            ),
            (
                "[business_hours]\nstart = \"18:00\"\nend = \"09:00\"\n",
                "business_hours.start",
                "18:00 is not before end 09:00",
            ),
            ("[business_hours]\nstart = \"09:00\"\nend = \"09:00\"\n", "business_hours.start", "is not before end"),
            ("[business_hours]\nstart = \"9am\"\n", "business_hours.start", "is not a time of day HH:MM"),
            ("[business_hours]\nweekdays = [\"someday\"]\n", "business_hours.weekdays[0]", "unknown variant"),
            ("[business_hours]\nholidays = [\"2026-02-30\"]\n", "business_hours.holidays[0]", ""),
            (
                "[severities.P1]\nescalation_chain = [\"on_call_engineer\"]\n",
                "severities.P1.escalation_chain[0]",
                "already paged",
            ),
            (
                "[severities.P1]\nescalation_chain = [\"cto\", \"cto\"]\n",
                "severities.P1.escalation_chain[1]",
                "already paged",
            ),
        ] {
            let msg = policy_err(Policy::from_toml_str(doc));
            assert!(msg.starts_with(&format!("policy field `{path}`: ")), "{doc}: {msg}");
            assert!(msg.contains(why), "{doc}: {msg}");
        }
        let p = Policy::from_toml_str(
            "[business_hours]\ntimezone = \"Europe/Berlin\"\nweekdays = [\"sunday\"]\nstart = \"08:30\"\nend = \"12:00\"\nholidays = [\"2026-12-27\"]\n",
        )
        .expect("valid calendar");
        assert_eq!(p.business_hours.tz().expect("tz"), chrono_tz::Europe::Berlin);
        assert_eq!(p.business_hours.start.to_string(), "08:30");
        // A policy file written before the chains existed still loads, with the default chain.
        let p = Policy::from_toml_str("[severities.P1]\nescalation = [\"on_call_engineer\"]\n").expect("old file");
        assert_eq!(
            p.severities.p1.escalation_chain,
            [crate::policy::Role::EngineeringManager, crate::policy::Role::Cto]
        );
    }

    #[test]
    fn retry_guard_and_limit_rules() {
        for (doc, path) in [
            ("[retry]\nmax_attempts = 0\n", "retry.max_attempts"),
            ("[retry]\ninitial_backoff = \"1m\"\nmax_backoff = \"30s\"\n", "retry.initial_backoff"),
            ("[guard_rails]\nmax_replicas = 0\n", "guard_rails.max_replicas"),
            ("[limits]\nmax_alerts_per_payload = 0\n", "limits.max_alerts_per_payload"),
            ("[limits]\nmax_payload_bytes = 0\n", "limits.max_payload_bytes"),
            ("[stage_budgets.region-failure]\nassessment = \"0s\"\n", "stage_budgets.region-failure.assessment"),
        ] {
            let msg = policy_err(Policy::from_toml_str(doc));
            assert!(msg.starts_with(&format!("policy field `{path}`: ")), "{doc}: {msg}");
        }
        let msg = policy_err(Policy::from_toml_str("[limits]\nmax_alerts_per_payload = -1\n"));
        assert!(msg.starts_with("policy field `limits.max_alerts_per_payload`: invalid value"), "{msg}");
    }

    #[test]
    fn people_rules() {
        let msg = policy_err(Policy::from_json_str(r#"{"contacts": [{"role": "cto"}]}"#));
        assert!(msg.starts_with("policy field `contacts[0]`: no way to reach role cto"), "{msg}");
        let msg = policy_err(Policy::from_json_str(
            r#"{"contacts": [{"role": "cto", "phone": "1"}, {"role": "cto", "email": "a@b"}]}"#,
        ));
        assert!(msg.starts_with("policy field `contacts[1]`: second entry for role cto"), "{msg}");
        let msg = policy_err(Policy::from_json_str(r#"{"contacts": [{"role": "cto", "email": "nobody"}]}"#));
        assert!(msg.starts_with("policy field `contacts[0].email`"), "{msg}");
        let msg = policy_err(Policy::from_json_str(r#"{"contacts": [{"role": "janitor", "phone": "1"}]}"#));
        assert!(msg.starts_with("policy field `contacts[0].role`: unknown variant `janitor`"), "{msg}");
        let msg = policy_err(Policy::from_json_str(
            r#"{"stakeholders": [{"role": "cto", "when": {"min_severity": "P0"}}, {"role": "cto", "when": {"min_severity": "P0"}}]}"#,
        ));
        assert!(msg.starts_with("policy field `stakeholders[1]`: duplicates stakeholders[0]"), "{msg}");
        let msg =
            policy_err(Policy::from_json_str(r#"{"stakeholders": [{"role": "cto", "when": {"min_severity": "P9"}}]}"#));
        assert!(msg.starts_with("policy field `stakeholders[0].when.min_severity`: unknown variant `P9`"), "{msg}");
        let msg = policy_err(Policy::from_json_str(r#"{"severities": {"P2": {"escalation": []}}}"#));
        assert!(msg.starts_with("policy field `severities.P2.escalation`: empty"), "{msg}");
    }

    #[test]
    fn ingest_rules_are_validated() {
        let msg = policy_err(Policy::from_toml_str("[[ingest.rules]]\nmatch = {}\nsignal = \"security\"\n"));
        assert!(msg.starts_with("policy field `ingest.rules[0].match`: empty"), "{msg}");
        let msg = policy_err(Policy::from_toml_str("[[ingest.rules]]\nmatch = { alertname = \"X\" }\n"));
        assert!(msg.starts_with("policy field `ingest.rules[0]`: has neither"), "{msg}");
        let msg = policy_err(Policy::from_toml_str(
            "[[ingest.rules]]\nmatch = { alertname = \"X\" }\nfacts = { performance_degradation_pct = -1.0 }\n",
        ));
        assert!(msg.starts_with("policy field `ingest.rules[0].facts`: performance_degradation_pct"), "{msg}");
        let msg =
            policy_err(Policy::from_toml_str("[[ingest.rules]]\nmatch = { alertname = \"X\" }\nsignal = \"fire\"\n"));
        assert!(msg.starts_with("policy field `ingest.rules[0].signal`: unknown variant `fire`"), "{msg}");
    }

    #[test]
    fn syntax_errors_are_one_line_with_position() {
        let msg = policy_err(Policy::from_toml_str("[declaration\n"));
        assert!(msg.starts_with("policy file (toml) at line 1 column "), "{msg}");
        let msg = policy_err(Policy::from_yaml_str("a: [1,\n"));
        assert!(msg.starts_with("policy file (yaml): "), "{msg}");
        let msg = policy_err(Policy::from_json_str("{"));
        assert!(msg.starts_with("policy file (json): "), "{msg}");
        let msg = policy_err(Policy::from_json_str("[1]"));
        assert!(msg.contains("top level"), "{msg}");
    }

    #[test]
    fn from_path_checks_extension_and_prefixes_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let txt = dir.path().join("policy.txt");
        std::fs::write(&txt, "").expect("write");
        assert!(policy_err(Policy::from_path(&txt)).contains("unknown policy file extension"));
        assert!(policy_err(Policy::from_path(&dir.path().join("missing.toml"))).contains("cannot read policy file"));
        let bad = dir.path().join("bad.yml");
        std::fs::write(&bad, "limits:\n  max_concurrency: 0\n").expect("write");
        let msg = policy_err(Policy::from_path(&bad));
        assert!(msg.ends_with("bad.yml: policy field `limits.max_concurrency`: must be >= 1"), "{msg}");
    }

    #[test]
    fn json_schema_describes_overrides() {
        let schema = Policy::json_schema();
        let props = schema.get("properties").and_then(Value::as_object).expect("properties");
        for key in ["severities", "declaration", "cadence", "drills", "ingest", "limits", "retry", "guard_rails"] {
            assert!(props.contains_key(key), "{key}");
        }
        assert!(schema.get("required").is_none());
        let defs = schema.get("$defs").and_then(Value::as_object).expect("$defs");
        let sev = defs.get("SeverityPolicy").expect("SeverityPolicy");
        assert!(sev.get("required").is_none(), "merged sections have no required fields");
        let slot = defs.get("DrillSlot").expect("DrillSlot");
        assert!(slot.get("required").is_some(), "array items keep required fields");
        assert!(defs.contains_key("ImpactFacts"));
        if bless() {
            let text = serde_json::to_string_pretty(&schema).expect("schema") + "\n";
            std::fs::write(fixture("policy.schema.json"), text).expect("write");
        }
        let golden: Value = serde_json::from_str(
            &std::fs::read_to_string(fixture("policy.schema.json")).expect("read policy.schema.json"),
        )
        .expect("parse policy.schema.json");
        assert_eq!(
            schema, golden,
            "crates/incident-core/tests/fixtures/policy/policy.schema.json is stale: rerun with INCIDENT_BLESS_FIXTURES=1 and review the diff"
        );
    }
}
