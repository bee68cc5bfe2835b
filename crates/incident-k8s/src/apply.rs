//! Server-side apply of pre-rendered manifests (`kubectl apply --server-side -f DIR` / `-k DIR`).

use std::collections::HashMap;
use std::path::Path;

use incident_core::backend::{Applied, Manifest};
use incident_core::{Error, Result};
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{ApiCapabilities, Scope};
use serde_json::Value;

use crate::error::map;

pub(crate) type Cache = HashMap<(String, String), (ApiResource, ApiCapabilities)>;

/// The dynamic API for `apiVersion`/`kind`, resolved through discovery once per call.
pub(crate) async fn dynamic_api(
    client: &Client,
    cache: &mut Cache,
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
) -> Result<Api<DynamicObject>> {
    let key = (api_version.to_owned(), kind.to_owned());
    if !cache.contains_key(&key) {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let found = kube::discovery::pinned_kind(client, &gvk)
            .await
            .map_err(|e| map(&format!("resolve {api_version} {kind} (is the API installed?)"), e))?;
        cache.insert(key.clone(), found);
    }
    let (ar, caps) = cache.get(&key).ok_or_else(|| Error::internal("discovery cache"))?;
    Ok(match caps.scope {
        Scope::Namespaced => Api::namespaced_with(client.clone(), namespace.unwrap_or("default"), ar),
        Scope::Cluster => Api::all_with(client.clone(), ar),
    })
}

/// Fields the server owns: never sent in an apply (the apiserver refuses `managedFields`; the rest would
/// pin the object to a stale version).
fn sanitize(body: &Value) -> Value {
    let mut b = body.clone();
    if let Some(m) = b.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink"] {
            m.remove(k);
        }
        if let Some(a) = m.get_mut("annotations").and_then(Value::as_object_mut) {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    if let Some(o) = b.as_object_mut() {
        o.remove("status");
    }
    b
}

/// Apply one manifest with `field_manager`, forcing conflicts like `kubectl apply --server-side
/// --force-conflicts` (the runbook applies the incident configuration over whatever is there).
pub(crate) async fn apply_one(
    client: &Client,
    cache: &mut Cache,
    m: &Manifest,
    field_manager: &str,
) -> Result<Applied> {
    let api = dynamic_api(client, cache, &m.api_version, &m.kind, m.namespace.as_deref()).await?;
    let object = format!("{}/{}/{}", m.kind, m.namespace.as_deref().unwrap_or(""), m.name);
    let before = api.get_opt(&m.name).await.map_err(|e| map(&format!("get {object}"), e))?;
    let before_rv = before.as_ref().and_then(|o| o.metadata.resource_version.clone());
    let before = before.map(|o| serde_json::to_value(o).map_err(|e| Error::internal(e.to_string()))).transpose()?;
    let after = api
        .patch(&m.name, &PatchParams::apply(field_manager).force(), &Patch::Apply(sanitize(&m.body)))
        .await
        .map_err(|e| map(&format!("apply {object}"), e))?;
    let outcome = match (&before, before_rv, after.metadata.resource_version) {
        (None, _, _) => "created",
        (Some(_), a, b) if a == b => "unchanged",
        _ => "configured",
    };
    Ok(Applied { object, before, outcome: outcome.into() })
}

/// Read the manifests of a directory, like `kubectl apply -f DIR` (`*.yaml`, `*.yml`, `*.json`, in name
/// order, multi-document YAML and `kind: List` expanded), or `kubectl apply -k DIR` when the directory has a
/// `kustomization.yaml` (rendered with `kubectl kustomize`, which must then be installed).
///
/// # Errors
/// `InvalidInput` naming the file and document for anything that is not a Kubernetes object;
/// `NotFound` for a missing directory.
pub fn manifests_from_dir(dir: &Path) -> Result<Vec<Manifest>> {
    if !dir.is_dir() {
        return Err(Error::not_found(format!("manifest directory {} does not exist", dir.display())));
    }
    if ["kustomization.yaml", "kustomization.yml", "Kustomization"].iter().any(|k| dir.join(k).is_file()) {
        let out = std::process::Command::new("kubectl").arg("kustomize").arg(dir).output().map_err(|e| {
            Error::invalid_input(format!(
                "{} is a kustomization but `kubectl kustomize` cannot run ({e}); render it first",
                dir.display()
            ))
        })?;
        if !out.status.success() {
            return Err(Error::invalid_input(format!(
                "kubectl kustomize {}: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        return parse_manifests(&String::from_utf8_lossy(&out.stdout), &format!("kustomize {}", dir.display()));
    }
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::invalid_input(format!("read {}: {e}", dir.display())))?
        .filter_map(std::result::Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml" || x == "json"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(&f).map_err(|e| Error::invalid_input(format!("read {}: {e}", f.display())))?;
        out.extend(parse_manifests(&text, &f.display().to_string())?);
    }
    Ok(out)
}

/// Parse multi-document YAML (or JSON) into manifests; `source` names the input in errors.
///
/// # Errors
/// `InvalidInput` naming `source` and the document index.
pub fn parse_manifests(text: &str, source: &str) -> Result<Vec<Manifest>> {
    use serde::Deserialize as _;
    let mut out = Vec::new();
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let v =
            Value::deserialize(doc).map_err(|e| Error::invalid_input(format!("{source}: document {}: {e}", i + 1)))?;
        if v.is_null() {
            continue;
        }
        let items = if v.get("kind").and_then(Value::as_str).is_some_and(|k| k.ends_with("List")) {
            v.get("items").and_then(Value::as_array).cloned().unwrap_or_default()
        } else {
            vec![v]
        };
        for item in items {
            out.push(manifest(item).map_err(|e| Error::invalid_input(format!("{source}: document {}: {e}", i + 1)))?);
        }
    }
    Ok(out)
}

fn manifest(body: Value) -> std::result::Result<Manifest, String> {
    let field = |p: &str| body.pointer(p).and_then(Value::as_str).map(str::to_owned);
    let api_version = field("/apiVersion").ok_or("missing apiVersion")?;
    let kind = field("/kind").ok_or("missing kind")?;
    let name = field("/metadata/name").ok_or_else(|| format!("{kind} without metadata.name"))?;
    Ok(Manifest { namespace: field("/metadata/namespace"), api_version, kind, name, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_yaml_and_lists() {
        let m = parse_manifests(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: ml}\ndata: {k: v}\n---\n---\n\
             apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: s}}\n",
            "x.yaml",
        )
        .expect("parse");
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].namespace.as_deref(), Some("ml"));
        assert_eq!(m[1].kind, "Service");
        let e = parse_manifests("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "bad.yaml").unwrap_err();
        assert!(e.to_string().contains("bad.yaml: document 1: ConfigMap without metadata.name"), "{e}");
    }

    #[test]
    fn directory_in_name_order_and_sanitized_bodies() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("b.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n").expect("w");
        std::fs::write(dir.path().join("a.json"), r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}"#)
            .expect("w");
        std::fs::write(dir.path().join("notes.txt"), "ignored").expect("w");
        let m = manifests_from_dir(dir.path()).expect("dir");
        assert_eq!(m.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
        let s = sanitize(&serde_json::json!({"metadata": {"name": "a", "resourceVersion": "7",
            "managedFields": [], "uid": "u"}, "status": {}, "data": {"k": "v"}}));
        assert_eq!(s, serde_json::json!({"metadata": {"name": "a"}, "data": {"k": "v"}}));
        assert_eq!(
            manifests_from_dir(&dir.path().join("nope")).unwrap_err().kind(),
            incident_core::ErrorKind::NotFound
        );
    }
}
