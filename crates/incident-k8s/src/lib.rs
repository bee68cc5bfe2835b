//! Kubernetes adapter for incident-core, on [kube-rs](https://kube.rs).
//!
//! * [`KubeClusters`] implements the core's `Clusters` port: kubeconfig contexts (the runbook's
//!   `kubectl config use-context`), plus clusters added by hand (an EKS cluster built from
//!   `DescribeCluster` and an STS token, the runbook's `aws eks update-kubeconfig`).
//! * [`KubeCluster`] implements the `Cluster` port: triage reads — paginated LISTs decoded into lean
//!   structs page by page, the next page requested while one decodes, cluster-wide pod and event lists
//!   run per namespace in parallel ([`KubeOptions`]); pod status derived like `kubectl get pods`;
//!   `/livez` `/readyz` `/version`; `metrics.k8s.io` — and the
//!   mitigations — scale through the scale subresource, `kubectl rollout undo` exactly (ReplicaSet
//!   revision annotations, JSON patch of the template), rollout status with kubectl's messages (and
//!   [`KubeCluster::wait_rollout`], a watch with a deadline), service annotations, pod labels, config map
//!   merge patches, and server-side apply of manifest directories ([`manifests_from_dir`]).
//!
//! * [`WatchCache`] follows pods, nodes, events, deployments, ReplicaSets, services and EndpointSlices
//!   with kube-rs watchers (bookmarks on, a relist after `410 Gone`), kept as the lean values triage
//!   reads, events bounded by age and count; [`CachedCluster`] reads it once it is synced and LISTs
//!   until then, and says which ([`incident_core::backend::Cluster::freshness`]); [`CacheHealth`] is
//!   its per-kind health, with a Prometheus rendering.
//!
//! Errors map the apiserver's HTTP status onto `incident_core::ErrorKind` (403 → `PermissionDenied`,
//! 404 → `NotFound`, 409 → `Conflict`, 429/5xx → `Unavailable`, ...) and keep its message, which names
//! the verb, resource and user of an RBAC denial. The verbs and resources used are exactly those of
//! `deploy/kubernetes/rbac.yaml`.

mod apply;
mod cache;
mod cluster;
mod clusters;
mod convert;
mod error;
mod rollout;
mod wire;

pub use apply::{manifests_from_dir, parse_manifests};
pub use cache::{CacheHealth, CachedCluster, KindHealth, WatchCache, WatchCacheOptions};
pub use cluster::{KubeCluster, KubeOptions};
pub use clusters::{KubeClusters, KubeconfigSpec};
pub use convert::{CHANGE_CAUSE_ANNOTATION, REVISION_ANNOTATION};
