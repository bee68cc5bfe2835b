//! The kinds the watch cache follows, each decoded straight into what triage reads.
//!
//! kube-rs's watcher needs a [`Resource`] with an `ObjectMeta` (it resumes a watch from the last
//! `resourceVersion` it saw). [`Lean`] is that resource: the object's name, namespace and
//! `resourceVersion` in an otherwise empty `ObjectMeta`, and the value the cache keeps (the core's
//! `Pod`, `Node`, `ClusterEvent`, ...). Pods, nodes and events decode through the lean [`wire`] types (serde
//! skips every other field, `managedFields` included, without allocating), the small kinds through
//! `k8s-openapi` and are converted at once; no full API object outlives the decoding of its watch event
//! or LIST page.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use incident_core::backend::{ClusterEvent, Deployment, Node, Pod, Revision, Service};
use k8s_openapi::api::apps::v1::{Deployment as KDeployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event as KEvent, Node as KNode, Pod as KPod, Service as KService};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::{Deserialize, Deserializer};

use crate::convert::{self, Slice};
use crate::wire;

/// `(namespace, name)`; the namespace is empty for cluster-scoped kinds. Ordered like a LIST (etcd keys).
pub(crate) type Key = (String, String);

/// What an object decodes to: its key, its `resourceVersion` and the value kept.
pub(crate) type Decoded<V> = (Key, String, V);

/// Limits a kind's table is kept within (only events grow without bound on their own).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_events: usize,
    pub max_event_age: chrono::TimeDelta,
}

/// A kind the cache follows.
pub(crate) trait Kind: Send + Sync + 'static {
    /// The API type naming the resource (group, version, plural).
    type Api: Resource<DynamicType = ()>;
    /// What the cache keeps of one object.
    type Value: Clone + std::fmt::Debug + Send + Sync + 'static;
    /// The resource's plural, as metrics and health name it.
    const NAME: &'static str;
    /// Decode one object.
    fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Decoded<Self::Value>, D::Error>;
    /// Drop what is past the limits; returns how many objects were dropped.
    fn trim(items: &mut BTreeMap<Key, Self::Value>, limits: &Limits, now: DateTime<Utc>) -> u64 {
        let _ = (items, limits, now);
        0
    }
}

/// One watched object: its identity for the watcher and the value the cache keeps.
pub(crate) struct Lean<K: Kind> {
    meta: ObjectMeta,
    pub value: K::Value,
    kind: PhantomData<K>,
}

impl<K: Kind> Lean<K> {
    pub(crate) fn key(&self) -> Key {
        (self.meta.namespace.clone().unwrap_or_default(), self.meta.name.clone().unwrap_or_default())
    }
}

impl<K: Kind> Clone for Lean<K> {
    fn clone(&self) -> Self {
        Self { meta: self.meta.clone(), value: self.value.clone(), kind: PhantomData }
    }
}

impl<K: Kind> std::fmt::Debug for Lean<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lean").field("kind", &K::NAME).field("key", &self.key()).finish_non_exhaustive()
    }
}

impl<'de, K: Kind> Deserialize<'de> for Lean<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let ((namespace, name), resource_version, value) = K::decode(d)?;
        let meta = ObjectMeta {
            name: Some(name),
            namespace: (!namespace.is_empty()).then_some(namespace),
            resource_version: (!resource_version.is_empty()).then_some(resource_version),
            ..ObjectMeta::default()
        };
        Ok(Self { meta, value, kind: PhantomData })
    }
}

impl<K: Kind> Resource for Lean<K> {
    type DynamicType = ();
    type Scope = <K::Api as Resource>::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        K::Api::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        K::Api::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        K::Api::version(dt)
    }
    fn api_version(dt: &()) -> Cow<'_, str> {
        K::Api::api_version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        K::Api::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.meta
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.meta
    }
}

fn wire_key(m: &wire::ObjectMeta) -> (Key, String) {
    ((m.namespace.clone(), m.name.clone()), m.resource_version.clone().unwrap_or_default())
}

fn api_key(m: &ObjectMeta) -> (Key, String) {
    (
        (m.namespace.clone().unwrap_or_default(), m.name.clone().unwrap_or_default()),
        m.resource_version.clone().unwrap_or_default(),
    )
}

pub(crate) struct Pods;
impl Kind for Pods {
    type Api = KPod;
    type Value = Pod;
    const NAME: &'static str = "pods";
    fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Decoded<Pod>, D::Error> {
        let p = wire::Pod::deserialize(d)?;
        let (key, rv) = wire_key(&p.metadata);
        Ok((key, rv, convert::pod(p)))
    }
}

pub(crate) struct Nodes;
impl Kind for Nodes {
    type Api = KNode;
    type Value = Node;
    const NAME: &'static str = "nodes";
    fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Decoded<Node>, D::Error> {
        let n = wire::Node::deserialize(d)?;
        let (key, rv) = wire_key(&n.metadata);
        Ok((key, rv, convert::node(n)))
    }
}

pub(crate) struct Events;
impl Kind for Events {
    type Api = KEvent;
    type Value = ClusterEvent;
    const NAME: &'static str = "events";
    fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Decoded<ClusterEvent>, D::Error> {
        let e = wire::Event::deserialize(d)?;
        let (key, rv) = wire_key(&e.metadata);
        Ok((key, rv, convert::event(e)))
    }
    /// Events older than `max_event_age` go (the apiserver's own `--event-ttl` is 1 h); past `max_events`
    /// the oldest go, down to 90 % of it, so trimming is rare.
    fn trim(items: &mut BTreeMap<Key, ClusterEvent>, limits: &Limits, now: DateTime<Utc>) -> u64 {
        let before = items.len();
        let oldest = now - limits.max_event_age;
        items.retain(|_, e| e.last_timestamp >= oldest);
        if items.len() > limits.max_events {
            let mut by_age: Vec<(DateTime<Utc>, Key)> =
                items.iter().map(|(k, e)| (e.last_timestamp, k.clone())).collect();
            by_age.sort_unstable();
            let drop = items.len() - limits.max_events * 9 / 10;
            for (_, k) in by_age.into_iter().take(drop) {
                items.remove(&k);
            }
        }
        (before - items.len()) as u64
    }
}

/// A deployment and its UID (the controller owner reference of its ReplicaSets).
#[derive(Debug, Clone)]
pub(crate) struct CachedDeployment {
    pub uid: String,
    pub deployment: Deployment,
}

pub(crate) struct Deployments;
impl Kind for Deployments {
    type Api = KDeployment;
    type Value = CachedDeployment;
    const NAME: &'static str = "deployments";
    fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Decoded<CachedDeployment>, D::Error> {
        let d = KDeployment::deserialize(d)?;
        let (key, rv) = api_key(&d.metadata);
        let uid = d.metadata.uid.clone().unwrap_or_default();
        Ok((key, rv, CachedDeployment { uid, deployment: convert::deployment(&d) }))
    }
}

/// A ReplicaSet as rollout history reads it: its controller's UID and its revision.
#[derive(Debug, Clone)]
pub(crate) struct CachedReplicaSet {
    pub controller: Option<String>,
    pub revision: Revision,
}

pub(crate) struct ReplicaSets;
impl Kind for ReplicaSets {
    type Api = ReplicaSet;
    type Value = CachedReplicaSet;
    const NAME: &'static str = "replicasets";
    fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Decoded<CachedReplicaSet>, D::Error> {
        let rs = ReplicaSet::deserialize(d)?;
        let (key, rv) = api_key(&rs.metadata);
        let controller = rs
            .metadata
            .owner_references
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|o| o.controller == Some(true))
            .map(|o| o.uid.clone());
        Ok((key, rv, CachedReplicaSet { controller, revision: convert::revision(&rs) }))
    }
}

pub(crate) struct Services;
impl Kind for Services {
    type Api = KService;
    type Value = Service;
    const NAME: &'static str = "services";
    fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Decoded<Service>, D::Error> {
        let s = KService::deserialize(d)?;
        let (key, rv) = api_key(&s.metadata);
        Ok((key, rv, convert::service(&s)))
    }
}

pub(crate) struct EndpointSlices;
impl Kind for EndpointSlices {
    type Api = EndpointSlice;
    type Value = Slice;
    const NAME: &'static str = "endpointslices";
    fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Decoded<Slice>, D::Error> {
        let s = EndpointSlice::deserialize(d)?;
        let (key, rv) = api_key(&s.metadata);
        Ok((key, rv, convert::slice(&s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, at: DateTime<Utc>) -> (Key, ClusterEvent) {
        let e = ClusterEvent {
            namespace: "ml".into(),
            kind: "Warning".into(),
            reason: "BackOff".into(),
            object: format!("Pod/{name}"),
            message: String::new(),
            last_timestamp: at,
            count: 1,
        };
        (("ml".into(), name.into()), e)
    }

    #[test]
    fn events_are_bounded_by_age_then_by_count_oldest_first() {
        let now = DateTime::from_timestamp(1_764_165_600, 0).unwrap_or_default();
        let limits = Limits { max_events: 10, max_event_age: chrono::TimeDelta::hours(1) };
        let mut items: BTreeMap<Key, ClusterEvent> = (0..12)
            .map(|i| event(&format!("e{i:02}"), now - chrono::TimeDelta::minutes(i)))
            .chain([event("stale", now - chrono::TimeDelta::minutes(61))])
            .collect();
        // 13 events: the one older than an hour goes, then the 12 left are over the cap of 10, so the
        // oldest go down to 9 (90 % of the cap: trimming is not redone at every new event).
        assert_eq!(Events::trim(&mut items, &limits, now), 4);
        let left: Vec<&str> = items.keys().map(|(_, n)| n.as_str()).collect();
        assert_eq!(left, ["e00", "e01", "e02", "e03", "e04", "e05", "e06", "e07", "e08"]);
        assert_eq!(Events::trim(&mut items, &limits, now), 0, "within the limits: nothing to do");
    }

    #[test]
    fn a_pod_decodes_lean_with_its_key_and_resource_version() {
        let o: Lean<Pods> = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "api-1", "namespace": "ml", "resourceVersion": "42", "uid": "u",
                "managedFields": [{"manager": "kubelet", "fieldsV1": {"f:status": {}}}]},
            "spec": {"nodeName": "n1", "containers": [{"name": "api", "image": "api:2"}]},
            "status": {"phase": "Running"}
        }))
        .expect("pod");
        assert_eq!(o.key(), ("ml".to_owned(), "api-1".to_owned()));
        assert_eq!(o.meta().resource_version.as_deref(), Some("42"));
        assert_eq!(
            (o.value.node.as_deref(), o.value.images.as_slice()),
            (Some("n1"), ["api=api:2".to_owned()].as_slice())
        );
        let n: Lean<Nodes> =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "n1", "resourceVersion": "7"}}))
                .expect("node");
        assert_eq!(n.key(), (String::new(), "n1".to_owned()));
        assert_eq!(n.meta().namespace, None, "cluster-scoped");
    }
}
