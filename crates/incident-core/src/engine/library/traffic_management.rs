//! Runbook "Incident Response → Mitigation Strategies → Traffic Management".

use super::{API, NS, Params, s, wait_rollout};
use crate::HumanDuration;
use crate::Result;
use crate::engine::action::Action;
use crate::engine::procedure::{Procedure, Step, StepKind};
use crate::policy::Policy;

/// Runbook "Mitigation Strategies → Traffic Management": scale up, enable the circuit breaker, label a
/// degraded pod — three independent steps — then wait for the scaled rollout.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficManagement {
    /// Kubeconfig context.
    pub context: String,
    /// Namespace.
    pub namespace: String,
    /// Deployment to scale.
    pub deployment: String,
    /// Replicas to scale to (runbook: 10).
    pub replicas: u32,
    /// Service to annotate `circuit-breaker=enabled`.
    pub service: String,
    /// A degraded pod to label `health=degraded` (skipped when `None`).
    pub degraded_pod: Option<String>,
}

impl Default for TrafficManagement {
    fn default() -> Self {
        Self {
            context: s("ml-platform-primary"),
            namespace: s(NS),
            deployment: s(API),
            replicas: 10,
            service: s(API),
            degraded_pod: None,
        }
    }
}

impl TrafficManagement {
    /// The runbook defaults overridden by string `params` (see [`procedure_from_spec`](super::procedure_from_spec)).
    pub(super) fn from_params(p: &Params<'_>) -> Result<Self> {
        let mut b = Self::default();
        p.str("context", &mut b.context);
        p.str("namespace", &mut b.namespace);
        p.str("deployment", &mut b.deployment);
        p.str("service", &mut b.service);
        if let Some(r) = p.num("replicas")? {
            b.replicas = r;
        }
        if let Some(pod) = p.opt("degraded_pod") {
            b.degraded_pod = Some(pod);
        }
        Ok(b)
    }

    /// The procedure.
    #[must_use]
    pub fn build(&self, _policy: &Policy) -> Procedure {
        let (ctx, ns) = (&self.context, &self.namespace);
        let mut p =
            Procedure::new("traffic-management", "Scale up, enable circuit breakers, route around degraded pods")
                .step(Step::new(
                    "scale-up",
                    "mitigation",
                    StepKind::Action(Action::ScaleDeployment {
                        context: ctx.clone(),
                        namespace: ns.clone(),
                        name: self.deployment.clone(),
                        replicas: self.replicas,
                    }),
                ))
                .step(Step::new(
                    "circuit-breaker",
                    "mitigation",
                    StepKind::Action(Action::AnnotateService {
                        context: ctx.clone(),
                        namespace: ns.clone(),
                        name: self.service.clone(),
                        key: s("circuit-breaker"),
                        value: Some(s("enabled")),
                    }),
                ));
        if let Some(pod) = &self.degraded_pod {
            p = p.step(Step::new(
                "label-degraded",
                "mitigation",
                StepKind::Action(Action::LabelPod {
                    context: ctx.clone(),
                    namespace: ns.clone(),
                    pod: pod.clone(),
                    key: s("health"),
                    value: Some(s("degraded")),
                }),
            ));
        }
        p.step(
            wait_rollout("wait-scaled", "verification", ctx, ns, &self.deployment, HumanDuration::from_mins(10))
                .after(["scale-up"]),
        )
    }
}
