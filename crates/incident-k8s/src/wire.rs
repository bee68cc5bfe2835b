//! Lean wire types for the three big lists triage reads (pods, nodes, events).
//!
//! `k8s-openapi`'s types decode every field of an object (a pod has hundreds, `managedFields` alone is
//! larger than the rest); on a 50,000-pod cluster that decoding, not the network, was most of triage's
//! time. These structs name only what [`crate::convert`] reads, and serde skips the rest without
//! allocating. Field names and nesting are the Kubernetes API's (core/v1); `null` is read as absent
//! everywhere, as Go's encoder writes it for unset non-`omitempty` fields (an event's `lastTimestamp`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

/// `null` → the default, for fields the API may write as `null`. (A missing or `null` `Option` field is
/// `None` without help.)
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A LIST response: `metadata.continue` and the items (lean types here, or `k8s-openapi`'s for the small
/// lists).
#[derive(Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub(crate) struct List<T> {
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: ListMeta,
    #[serde(default = "Vec::new", deserialize_with = "nullable")]
    pub items: Vec<T>,
}

#[derive(Deserialize, Default)]
pub(crate) struct ListMeta {
    #[serde(default, rename = "continue")]
    pub continue_: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ObjectMeta {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub namespace: String,
    #[serde(default, deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    pub deletion_timestamp: Option<DateTime<Utc>>,
    pub creation_timestamp: Option<DateTime<Utc>>,
    /// Read by the watch cache (a watch resumes from the last one seen); LISTs ignore it.
    pub resource_version: Option<String>,
}

/// Any object, by name (namespaces).
#[derive(Deserialize)]
pub(crate) struct Named {
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
}

// ---- Pod ----

#[derive(Deserialize)]
pub(crate) struct Pod {
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: PodSpec,
    pub status: Option<PodStatus>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PodSpec {
    pub node_name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub containers: Vec<Container>,
}

#[derive(Deserialize)]
pub(crate) struct Container {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    pub image: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PodStatus {
    pub phase: Option<String>,
    pub reason: Option<String>,
    pub message: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub conditions: Vec<Condition>,
    #[serde(default, deserialize_with = "nullable")]
    pub container_statuses: Vec<ContainerStatus>,
    #[serde(default, deserialize_with = "nullable")]
    pub init_container_statuses: Vec<ContainerStatus>,
}

/// A pod or node condition.
#[derive(Deserialize)]
pub(crate) struct Condition {
    #[serde(rename = "type", default, deserialize_with = "nullable")]
    pub type_: String,
    #[serde(default, deserialize_with = "nullable")]
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContainerStatus {
    #[serde(default, deserialize_with = "nullable")]
    pub ready: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub restart_count: i32,
    pub state: Option<ContainerState>,
    pub last_state: Option<ContainerState>,
}

#[derive(Deserialize, Default)]
pub(crate) struct ContainerState {
    pub waiting: Option<Waiting>,
    pub terminated: Option<Terminated>,
}

#[derive(Deserialize)]
pub(crate) struct Waiting {
    pub reason: Option<String>,
    pub message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Terminated {
    #[serde(default, deserialize_with = "nullable")]
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub reason: Option<String>,
    pub message: Option<String>,
}

// ---- Node ----

#[derive(Deserialize)]
pub(crate) struct Node {
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: NodeSpec,
    #[serde(default, deserialize_with = "nullable")]
    pub status: NodeStatus,
}

#[derive(Deserialize, Default)]
pub(crate) struct NodeSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub unschedulable: bool,
}

#[derive(Deserialize, Default)]
pub(crate) struct NodeStatus {
    #[serde(default, deserialize_with = "nullable")]
    pub conditions: Vec<Condition>,
}

// ---- Event (core/v1) ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Event {
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(rename = "type")]
    pub type_: Option<String>,
    pub reason: Option<String>,
    pub message: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub involved_object: ObjectReference,
    pub last_timestamp: Option<DateTime<Utc>>,
    pub event_time: Option<DateTime<Utc>>,
    pub first_timestamp: Option<DateTime<Utc>>,
    pub count: Option<i32>,
    pub series: Option<EventSeries>,
}

#[derive(Deserialize, Default)]
pub(crate) struct ObjectReference {
    pub kind: Option<String>,
    pub name: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct EventSeries {
    pub count: Option<i32>,
}

/// The `continue` token of a LIST response, read from the text before its items, so the next page can be
/// requested while this one is decoded. `None` when it is not found there (the caller then takes it from
/// the decoded page) or holds an escape (never in a real token; not worth unescaping here).
pub(crate) fn continue_token_ahead(text: &str) -> Option<&str> {
    // The apiserver writes `{"kind":…,"apiVersion":…,"metadata":{…,"continue":"…",…},"items":[…]}`:
    // list metadata holds no user data, so the first `"continue":"` before `"items"` is the token.
    let end = text.find("\"items\"").filter(|&i| i <= 4096)?;
    let head = &text[..end];
    let start = head.find("\"metadata\"")?;
    let rest = &head[start..];
    let at = rest.find("\"continue\":\"")? + "\"continue\":\"".len();
    let token = &rest[at..at + rest[at..].find('"')?];
    (!token.is_empty() && !token.contains('\\')).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_continue_token_is_read_ahead_only_from_list_metadata() {
        let page = r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"9","continue":"eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ","remainingItemCount":49500},"items":[{"metadata":{"name":"é"}}]}"#;
        assert_eq!(continue_token_ahead(page), Some("eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ"));
        for (text, why) in [
            (r#"{"metadata":{"resourceVersion":"9"},"items":[]}"#, "last page"),
            (r#"{"metadata":{"continue":""},"items":[]}"#, "empty token"),
            (r#"{"metadata":{"continue":"a\"b"},"items":[]}"#, "escaped token"),
            (r#"{"items":[{"metadata":{"annotations":{"x":"\"continue\":\"evil\""}}}],"metadata":{}}"#, "items first"),
            (r#"{"metadata":{"continue":"t"}}"#, "no items key"),
        ] {
            assert_eq!(continue_token_ahead(text), None, "{why}");
        }
        let far = format!(r#"{{"metadata":{{"continue":"t","x":"{}"}},"items":[]}}"#, "é".repeat(3000));
        assert_eq!(continue_token_ahead(&far), None, "items more than 4 KiB in: not looked for");
    }

    #[test]
    fn null_fields_read_as_absent_and_unknown_fields_are_skipped() {
        let e: Event = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "e1", "namespace": "ml", "creationTimestamp": "2026-11-27T05:00:00Z",
                "managedFields": [{"manager": "kube-scheduler", "fieldsV1": {"f:a": {}}}]},
            "type": "Warning", "reason": "BackOff", "message": null, "involvedObject": {"kind": "Pod", "name": "p"},
            "lastTimestamp": null, "firstTimestamp": null, "eventTime": "2026-11-27T05:01:02.123456Z",
            "count": null, "series": {"count": 4, "lastObservedTime": "2026-11-27T05:01:02.123456Z"},
            "reportingComponent": "kubelet"
        }))
        .expect("event");
        let e = crate::convert::event(e);
        assert_eq!(e.last_timestamp.to_rfc3339(), "2026-11-27T05:01:02.123456+00:00");
        assert_eq!(e.count, 4);
        assert_eq!((e.kind.as_str(), e.message.as_str(), e.object.as_str()), ("Warning", "", "Pod/p"));

        let l: List<Node> =
            serde_json::from_str(r#"{"metadata":null,"items":[{"metadata":{"name":"n","labels":null},"spec":null,"status":{"conditions":null}}]}"#)
                .expect("list");
        assert!(l.metadata.continue_.is_none());
        let n = crate::convert::node(l.items.into_iter().next().expect("one node"));
        assert_eq!((n.name.as_str(), n.ready, n.conditions.len()), ("n", false, 0));
        let empty: List<Pod> = serde_json::from_str(r#"{"metadata":{},"items":null}"#).expect("null items");
        assert!(empty.items.is_empty());
    }
}
