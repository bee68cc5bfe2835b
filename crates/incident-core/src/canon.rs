//! Canonical JSON (object keys sorted by their UTF-8 bytes, no insignificant whitespace, serde_json
//! escaping): the one form behind every hash and fingerprint of the crate (timeline events, journal
//! entries, plan digests, live-state fingerprints), plus projections of live objects onto the fields a step
//! manages.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Canonical JSON text: object keys sorted, no insignificant whitespace (independent of serde_json's
/// map ordering feature).
pub(crate) fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(*k) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Lower-case hex SHA-256 of the canonical form of `value`.
pub(crate) fn fingerprint(value: &Value) -> String {
    hex::encode(Sha256::digest(canonical(value).as_bytes()))
}

/// `live` restricted to the keys present in `shape` (recursively; arrays of equal length element-wise),
/// so server-side defaults and status fields do not count as drift. Keys missing in `live` are `null`.
pub(crate) fn project(live: &Value, shape: &Value) -> Value {
    match (live, shape) {
        (Value::Object(l), Value::Object(s)) => {
            let mut out = serde_json::Map::new();
            for (k, sv) in s {
                let lv = l.get(k).map_or(Value::Null, |lv| project(lv, sv));
                out.insert(k.clone(), lv);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(s)) if l.len() == s.len() => {
            Value::Array(l.iter().zip(s).map(|(lv, sv)| project(lv, sv)).collect())
        }
        _ => live.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn canonical_sorts_keys() {
        assert_eq!(
            canonical(&json!({"b": 1, "a": [true, null, {"d": "x", "c": 2}]})),
            r#"{"a":[true,null,{"c":2,"d":"x"}],"b":1}"#
        );
        assert_eq!(fingerprint(&json!({"a": 1, "b": 2})), fingerprint(&json!({"b": 2, "a": 1})));
    }

    #[test]
    fn project_drops_server_fields() {
        let live = json!({"spec": {"replicas": 3, "paused": false, "template": {"containers": [{"name": "a", "image": "x", "imagePullPolicy": "Always"}]}}, "status": {"ready": 1}});
        let shape = json!({"spec": {"replicas": 20, "template": {"containers": [{"name": "a", "image": "y"}]}}});
        assert_eq!(
            project(&live, &shape),
            json!({"spec": {"replicas": 3, "template": {"containers": [{"name": "a", "image": "x"}]}}})
        );
        assert_eq!(project(&json!({}), &json!({"a": 1})), json!({"a": null}));
    }
}
