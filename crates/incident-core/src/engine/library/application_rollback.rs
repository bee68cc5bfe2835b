//! Runbook "Incident Response → Mitigation Strategies → Rollback Procedures".

use std::collections::BTreeMap;

use super::{API, HEALTH_URL, NS, Params, app_selector, s, verify_service, wait_rollout};
use crate::engine::action::Action;
use crate::engine::check::Check;
use crate::engine::procedure::{Procedure, Step, StepKind};
use crate::policy::Policy;
use crate::{HumanDuration, Result};

/// Runbook "Rollback Procedures": rollback → wait for the rollout → pods healthy, HTTP health and the
/// error-count check (the three read-only checks run concurrently).
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationRollback {
    /// Kubeconfig context.
    pub context: String,
    /// Namespace.
    pub namespace: String,
    /// Deployment.
    pub deployment: String,
    /// Revision to return to (previous when `None`).
    pub to_revision: Option<u64>,
    /// Pod selector for the health check.
    pub selector: BTreeMap<String, String>,
    /// Fewest healthy pods accepted.
    pub min_ready: u32,
    /// `curl -f` URL.
    pub health_url: String,
    /// Most log lines matching "error" tolerated after the rollback.
    pub max_errors: u64,
    /// How long to wait for the rollout.
    pub rollout_timeout: HumanDuration,
}

impl Default for ApplicationRollback {
    fn default() -> Self {
        Self {
            context: s("ml-platform-primary"),
            namespace: s(NS),
            deployment: s(API),
            to_revision: None,
            selector: app_selector(API),
            min_ready: 1,
            health_url: s(HEALTH_URL),
            max_errors: 0,
            rollout_timeout: HumanDuration::from_mins(10),
        }
    }
}

impl ApplicationRollback {
    /// The runbook defaults overridden by string `params` (see [`procedure_from_spec`](super::procedure_from_spec)).
    pub(super) fn from_params(p: &Params<'_>) -> Result<Self> {
        let mut b = Self::default();
        p.str("context", &mut b.context);
        p.str("namespace", &mut b.namespace);
        let before = b.deployment.clone();
        p.str("deployment", &mut b.deployment);
        if b.deployment != before {
            b.selector = BTreeMap::from([("app".to_owned(), b.deployment.clone())]);
        }
        p.str("health_url", &mut b.health_url);
        b.to_revision = p.num("to_revision")?;
        if let Some(m) = p.num("min_ready")? {
            b.min_ready = m;
        }
        if let Some(m) = p.num("max_errors")? {
            b.max_errors = m;
        }
        p.duration("rollout_timeout", &mut b.rollout_timeout)?;
        Ok(b)
    }

    /// The procedure.
    #[must_use]
    pub fn build(&self, _policy: &Policy) -> Procedure {
        let (ctx, ns, d) = (&self.context, &self.namespace, &self.deployment);
        let (pods_healthy, http_health) = verify_service(ctx, ns, &self.selector, self.min_ready, &self.health_url);
        Procedure::new("application-rollback", "kubectl rollout undo, then verify the rollout, pods, health and errors")
            .step(Step::new(
                "rollback",
                "rollback",
                StepKind::Action(Action::RollbackDeployment {
                    context: ctx.clone(),
                    namespace: ns.clone(),
                    name: d.clone(),
                    to_revision: self.to_revision,
                }),
            ))
            .step(wait_rollout("wait-rollout", "rollback", ctx, ns, d, self.rollout_timeout).after(["rollback"]))
            .step(pods_healthy.after(["wait-rollout"]))
            .step(http_health.after(["wait-rollout"]))
            .step(
                Step::new(
                    "error-count",
                    "verification",
                    StepKind::check(Check::LogErrorCount {
                        context: ctx.clone(),
                        namespace: ns.clone(),
                        selector: None,
                        deployment: Some(d.clone()),
                        pattern: s("error"),
                        tail: 100,
                        max: self.max_errors,
                    }),
                )
                .after(["wait-rollout"]),
            )
    }
}
