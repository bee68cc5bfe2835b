//! Procedures as values: a DAG of typed steps that can be printed, serialized, diffed, planned and run.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::action::Action;
use super::check::Check;
use crate::{Error, HumanDuration, Result};

/// What a step does. Serialized with a `type` tag (`action`, `check`, `wait_until`, `approval`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StepKind {
    /// Change platform state.
    Action(Action),
    /// Verify once.
    Check {
        /// The check.
        check: Check,
        /// Record the result without failing the run when it does not pass (e.g. "assess corruption
        /// scope").
        #[serde(default)]
        advisory: bool,
    },
    /// Wait until a check passes: follow the object it reads where the backend can (a rollout is
    /// watched, as `kubectl rollout status` does), else poll with backoff from 250 ms; the step ends the
    /// moment the check passes.
    WaitUntil {
        /// The check.
        check: Check,
        /// Give up after this long.
        timeout: HumanDuration,
        /// Longest pause between two polls (the first pause is 250 ms, each next one doubles).
        interval: HumanDuration,
    },
    /// A human gate: the run pauses here until the gate is approved (up front in the plan's approval, or
    /// later with `Executor::approve_gate`).
    Approval {
        /// Why a human must look.
        reason: String,
    },
}

impl StepKind {
    /// Shorthand for a failing check.
    #[must_use]
    pub fn check(check: Check) -> Self {
        Self::Check { check, advisory: false }
    }

    /// Whether the step changes platform state.
    #[must_use]
    pub fn is_mutating(&self) -> bool {
        matches!(self, Self::Action(a) if a.is_mutating())
    }

    /// A one-line description without live state.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Action(a) => a.describe(),
            Self::Check { check, advisory: false } => format!("check: {}", check.describe()),
            Self::Check { check, advisory: true } => format!("check (advisory): {}", check.describe()),
            Self::WaitUntil { check, timeout, interval } => {
                format!("wait up to {timeout} (polls 250ms..{interval}) until: {}", check.describe())
            }
            Self::Approval { reason } => format!("approval gate: {reason}"),
        }
    }
}

/// One node of a procedure's DAG.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Step {
    /// Unique id within the procedure.
    pub id: String,
    /// Stage (scored against `policy.stage_budgets[procedure][stage]`).
    pub stage: String,
    /// What it does.
    pub kind: StepKind,
    /// Ids of steps that must succeed first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Deadline of the step including retries (default `policy.retry.step_deadline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<HumanDuration>,
}

impl Step {
    /// A step with no dependencies and the default deadline.
    pub fn new(id: impl Into<String>, stage: impl Into<String>, kind: StepKind) -> Self {
        Self { id: id.into(), stage: stage.into(), kind, depends_on: Vec::new(), deadline: None }
    }

    /// Add dependencies.
    #[must_use]
    pub fn after<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.depends_on.extend(ids.into_iter().map(Into::into));
        self
    }

    /// Set the deadline.
    #[must_use]
    pub fn deadline(mut self, d: Option<HumanDuration>) -> Self {
        self.deadline = d;
        self
    }
}

/// A named DAG of steps. Compose your own or use [`crate::engine::library`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Procedure {
    /// Name (also the key of `policy.stage_budgets` and `guard_rails.scale_to_zero_procedures`).
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// The steps.
    pub steps: Vec<Step>,
    /// Undo completed mutating steps (in reverse completion order) when a step fails.
    #[serde(default)]
    pub compensate_on_failure: bool,
}

impl Procedure {
    /// An empty procedure.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self { name: name.into(), description: description.into(), steps: Vec::new(), compensate_on_failure: true }
    }

    /// Append a step.
    #[must_use]
    pub fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// The step with `id`.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// Check the DAG: non-empty unique ids, known dependencies, no cycles, and steps changing the same
    /// resource ordered by a dependency path.
    ///
    /// # Errors
    /// `InvalidInput` naming the offending step.
    pub fn validate(&self) -> Result<()> {
        let mut seen = BTreeSet::new();
        for s in &self.steps {
            if s.id.trim().is_empty() {
                return Err(Error::invalid_input(format!("procedure {}: a step has an empty id", self.name)));
            }
            if s.id.contains('#') {
                return Err(Error::invalid_input(format!(
                    "procedure {}: step id {:?} contains `#` (reserved for the journal's #approval and #compensate)",
                    self.name, s.id
                )));
            }
            if !seen.insert(s.id.as_str()) {
                return Err(Error::invalid_input(format!("procedure {}: duplicate step id {:?}", self.name, s.id)));
            }
        }
        for s in &self.steps {
            for d in &s.depends_on {
                if !seen.contains(d.as_str()) {
                    return Err(Error::invalid_input(format!(
                        "procedure {}: step {:?} depends on unknown step {d:?}",
                        self.name, s.id
                    )));
                }
                if d == &s.id {
                    return Err(Error::invalid_input(format!(
                        "procedure {}: step {:?} depends on itself",
                        self.name, s.id
                    )));
                }
            }
            if let StepKind::WaitUntil { interval, .. } = &s.kind {
                if interval.as_secs() == 0 {
                    return Err(Error::invalid_input(format!(
                        "procedure {}: step {:?} polls with a zero interval",
                        self.name, s.id
                    )));
                }
            }
        }
        self.topo_order()?;
        let reach = self.reachability();
        let mut owners: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for s in &self.steps {
            if let StepKind::Action(a) = &s.kind {
                for r in a.resources() {
                    owners.entry(r).or_default().push(&s.id);
                }
                if let Action::RestoreReplicas { recorded_by, .. } = a {
                    if !reach.get(s.id.as_str()).is_some_and(|set| set.contains(recorded_by.as_str())) {
                        return Err(Error::invalid_input(format!(
                            "procedure {}: step {:?} restores replicas recorded by {recorded_by:?}, which is not one of its dependencies",
                            self.name, s.id
                        )));
                    }
                }
            }
        }
        for (resource, ids) in owners {
            for (i, a) in ids.iter().enumerate() {
                for b in &ids[i + 1..] {
                    let ordered =
                        reach.get(*a).is_some_and(|s| s.contains(*b)) || reach.get(*b).is_some_and(|s| s.contains(*a));
                    if !ordered {
                        return Err(Error::invalid_input(format!(
                            "procedure {}: steps {a:?} and {b:?} both change {resource} but neither depends on the other",
                            self.name
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Indices of the steps in a dependency-respecting order (Kahn, ties in declaration order).
    ///
    /// # Errors
    /// `InvalidInput` naming a step on a cycle.
    pub fn topo_order(&self) -> Result<Vec<usize>> {
        let index: BTreeMap<&str, usize> = self.steps.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
        let mut indegree: Vec<usize> = self.steps.iter().map(|s| s.depends_on.len()).collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); self.steps.len()];
        for (i, s) in self.steps.iter().enumerate() {
            for d in &s.depends_on {
                if let Some(&j) = index.get(d.as_str()) {
                    dependents[j].push(i);
                }
            }
        }
        let mut ready: BTreeSet<usize> = (0..self.steps.len()).filter(|&i| indegree[i] == 0).collect();
        let mut order = Vec::with_capacity(self.steps.len());
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for &j in &dependents[i] {
                indegree[j] -= 1;
                if indegree[j] == 0 {
                    ready.insert(j);
                }
            }
        }
        if order.len() != self.steps.len() {
            let stuck = (0..self.steps.len()).find(|i| !order.contains(i)).map_or("?", |i| self.steps[i].id.as_str());
            return Err(Error::invalid_input(format!(
                "procedure {}: dependency cycle through step {stuck:?}",
                self.name
            )));
        }
        Ok(order)
    }

    /// For each step id, the ids of all its transitive dependencies.
    fn reachability(&self) -> BTreeMap<&str, BTreeSet<&str>> {
        let mut out: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let order = self.topo_order().unwrap_or_default();
        for i in order {
            let s = &self.steps[i];
            let mut set = BTreeSet::new();
            for d in &s.depends_on {
                set.insert(d.as_str());
                if let Some(ds) = out.get(d.as_str()) {
                    set.extend(ds.iter().copied());
                }
            }
            out.insert(&s.id, set);
        }
        out
    }

    /// Stages in order of first appearance.
    #[must_use]
    pub fn stages(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in &self.steps {
            if !out.contains(&s.stage) {
                out.push(s.stage.clone());
            }
        }
        out
    }

    /// The longest path through the DAG given each step's duration (missing = zero): its total and the
    /// step ids along it.
    #[must_use]
    pub fn critical_path(&self, durations: &BTreeMap<String, Duration>) -> (Duration, Vec<String>) {
        let Ok(order) = self.topo_order() else {
            return (Duration::ZERO, Vec::new());
        };
        let mut finish: BTreeMap<&str, (Duration, Option<&str>)> = BTreeMap::new();
        for i in order {
            let s = &self.steps[i];
            let (start, via) = s
                .depends_on
                .iter()
                .filter_map(|d| finish.get(d.as_str()).map(|(t, _)| (*t, d.as_str())))
                .max_by_key(|(t, _)| *t)
                .map_or((Duration::ZERO, None), |(t, d)| (t, Some(d)));
            let own = durations.get(&s.id).copied().unwrap_or_default();
            finish.insert(&s.id, (start + own, via));
        }
        let Some((&last, &(total, _))) = finish.iter().max_by_key(|(_, (t, _))| *t) else {
            return (Duration::ZERO, Vec::new());
        };
        let mut path = vec![last.to_owned()];
        let mut cur = last;
        while let Some((_, Some(prev))) = finish.get(cur) {
            path.push((*prev).to_owned());
            cur = prev;
        }
        path.reverse();
        (total, path)
    }

    /// Differences from `other`, one readable line each (empty when equal).
    #[must_use]
    pub fn diff(&self, other: &Self) -> Vec<String> {
        let mut out = Vec::new();
        if self.name != other.name {
            out.push(format!("name: {:?} -> {:?}", self.name, other.name));
        }
        if self.description != other.description {
            out.push(format!("description: {:?} -> {:?}", self.description, other.description));
        }
        if self.compensate_on_failure != other.compensate_on_failure {
            out.push(format!(
                "compensate_on_failure: {} -> {}",
                self.compensate_on_failure, other.compensate_on_failure
            ));
        }
        for s in &self.steps {
            match other.get(&s.id) {
                None => out.push(format!("- step {}: {}", s.id, s.kind.describe())),
                Some(o) => {
                    if s.stage != o.stage {
                        out.push(format!("~ step {}: stage {} -> {}", s.id, s.stage, o.stage));
                    }
                    if s.kind != o.kind {
                        out.push(format!("~ step {}: {} -> {}", s.id, s.kind.describe(), o.kind.describe()));
                    }
                    if s.depends_on != o.depends_on {
                        out.push(format!(
                            "~ step {}: after [{}] -> [{}]",
                            s.id,
                            s.depends_on.join(", "),
                            o.depends_on.join(", ")
                        ));
                    }
                    if s.deadline != o.deadline {
                        out.push(format!(
                            "~ step {}: deadline {:?} -> {:?}",
                            s.id,
                            s.deadline.map(|d| d.to_string()),
                            o.deadline.map(|d| d.to_string())
                        ));
                    }
                }
            }
        }
        for o in &other.steps {
            if self.get(&o.id).is_none() {
                out.push(format!("+ step {}: {}", o.id, o.kind.describe()));
            }
        }
        out
    }

    /// JSON text.
    ///
    /// # Errors
    /// `Internal` if serialization fails.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::internal(format!("procedure to JSON: {e}")))
    }

    /// YAML text. When a string holds U+0085, U+2028 or U+2029 — which the YAML emitter writes raw and a
    /// YAML 1.1 reader folds as line breaks — the text is JSON instead (JSON is YAML, and [`Self::parse`]
    /// reads it exactly), so `parse(to_yaml(x)) == x` always holds.
    ///
    /// # Errors
    /// `Internal` if serialization fails.
    pub fn to_yaml(&self) -> Result<String> {
        let yaml = serde_yaml_ng::to_string(self).map_err(|e| Error::internal(format!("procedure to YAML: {e}")))?;
        if yaml.contains(['\u{85}', '\u{2028}', '\u{2029}']) { self.to_json() } else { Ok(yaml) }
    }

    /// Parse JSON or YAML and validate the DAG (JSON is read as JSON, exactly).
    ///
    /// # Errors
    /// `InvalidInput` naming the field path or the offending step.
    pub fn parse(text: &str) -> Result<Self> {
        // JSON is YAML, but a YAML 1.1 parser reads U+0085, U+2028 and U+2029 inside strings as line breaks
        // (folded to spaces): read JSON as JSON, so what `to_json` wrote comes back exactly. Text that is
        // not JSON syntax (YAML flow style, `\N` escapes) is read as YAML.
        if text.trim_start().starts_with('{') {
            let mut de = serde_json::Deserializer::from_str(text);
            match serde_path_to_error::deserialize::<_, Self>(&mut de) {
                Ok(p) if de.end().is_ok() => {
                    p.validate()?;
                    return Ok(p);
                }
                Err(e) if e.inner().classify() == serde_json::error::Category::Data => {
                    return Err(Error::invalid_input(format!("procedure: {} at {}", e.inner(), e.path())));
                }
                _ => {}
            }
        }
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let p: Self = serde_path_to_error::deserialize(de)
            .map_err(|e| Error::invalid_input(format!("procedure: {} at {}", e.inner(), e.path())))?;
        p.validate()?;
        Ok(p)
    }
}

impl fmt::Display for Procedure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "procedure {}", self.name)?;
        if !self.description.is_empty() {
            writeln!(f, "  {}", self.description)?;
        }
        writeln!(f, "  compensate on failure: {}", if self.compensate_on_failure { "yes" } else { "no" })?;
        let mut stage = None;
        let order = self.topo_order().unwrap_or_else(|_| (0..self.steps.len()).collect());
        for i in order {
            let s = &self.steps[i];
            if stage != Some(&s.stage) {
                writeln!(f, "  stage {}", s.stage)?;
                stage = Some(&s.stage);
            }
            write!(f, "    {}: {}", s.id, s.kind.describe())?;
            if !s.depends_on.is_empty() {
                write!(f, "  [after {}]", s.depends_on.join(", "))?;
            }
            if let Some(d) = s.deadline {
                write!(f, "  [deadline {d}]")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
