//! Error conversion: every `incident_core::Error` becomes a JS `Error` whose `code` is the stable
//! [`ErrorKind`](incident_core::ErrorKind) string (`invalid_input`, `not_found`, ...) and whose `message`
//! is the Rust message. The message and the `detail` (the cause) go through `incident_core::redact::scrub`
//! here, at the boundary, as Python's do: a DSN password or a token never reaches a caller. Also the serde
//! helpers every module uses to move values across the boundary.

use incident_core::redact::scrub;
use incident_core::{Error as CoreError, Result as CoreResult};
use napi::bindgen_prelude::{JsObjectValue, JsValue, Object};
use napi::{Env, Status};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Build the JS error object for `e` (falls back to a plain napi error if the engine refuses).
pub(crate) fn js_error(env: &Env, e: &CoreError) -> napi::Error {
    build(env, e).unwrap_or_else(|fallback| fallback)
}

fn build(env: &Env, e: &CoreError) -> napi::Result<napi::Error> {
    let message = scrub(e.message());
    let mut obj: Object<'_> = env.create_error(napi::Error::new(Status::GenericFailure, message))?;
    obj.set_named_property("code", e.kind().as_str())?;
    obj.set_named_property("retryable", e.is_retryable())?;
    if let Some(src) = std::error::Error::source(e) {
        obj.set_named_property("detail", scrub(&src.to_string()))?;
    }
    Ok(napi::Error::from(obj.to_unknown()))
}

/// `core::Result<T>` → `napi::Result<T>` with a coded JS error.
pub(crate) trait OrThrow<T> {
    /// Convert, building the JS error in `env`.
    fn or_throw(self, env: &Env) -> napi::Result<T>;
}

impl<T> OrThrow<T> for CoreResult<T> {
    fn or_throw(self, env: &Env) -> napi::Result<T> {
        self.map_err(|e| js_error(env, &e))
    }
}

/// Deserialize a JS value (already a `serde_json::Value`) into `T`, naming the field path on error.
pub(crate) fn from_json<T: DeserializeOwned>(what: &str, v: Value) -> CoreResult<T> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            CoreError::invalid_input(format!("{what}: {}", e.inner()))
        } else {
            CoreError::invalid_input(format!("{what}: field `{path}`: {}", e.inner()))
        }
    })
}

/// Serialize a core value to its canonical wire JSON (snake_case keys, RFC 3339 timestamps).
pub(crate) fn to_json<T: Serialize>(v: &T) -> CoreResult<Value> {
    serde_json::to_value(v).map_err(|e| CoreError::internal(format!("cannot serialize: {e}")))
}

/// Serialize to JSON text.
pub(crate) fn to_json_string<T: Serialize>(v: &T) -> CoreResult<String> {
    serde_json::to_string(v).map_err(|e| CoreError::internal(format!("cannot serialize: {e}")))
}

/// A JS number as a `u32` option or argument: napi would wrap `-1` to 4294967295 and truncate `2.5`, so
/// the number is checked here (`invalid_input` naming `what`).
pub(crate) fn to_u32(what: &str, v: f64) -> CoreResult<u32> {
    if v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        return Ok(v as u32);
    }
    Err(CoreError::invalid_input(format!("{what} must be an integer from 0 to 4294967295, got {v}")))
}

/// Rename object keys recursively (`snake_case` ↔ `camelCase`).
pub(crate) fn rename_keys(v: Value, f: fn(&str) -> String) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (f(&k), rename_keys(v, f))).collect()),
        Value::Array(a) => Value::Array(a.into_iter().map(|v| rename_keys(v, f)).collect()),
        other => other,
    }
}

/// `whole_service` → `wholeService`.
pub(crate) fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `wholeService` → `whole_service`.
pub(crate) fn snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Parse a string-literal union value (`'P0' | 'P1' ...`) through serde, listing the allowed values.
pub(crate) fn parse_enum<T: DeserializeOwned>(what: &str, value: &str, allowed: &[&str]) -> CoreResult<T> {
    serde_json::from_value(Value::String(value.to_owned()))
        .map_err(|_| CoreError::invalid_input(format!("{what}: {value:?} is not one of {}", allowed.join(", "))))
}

/// The wire string of a unit enum variant (`Status::Identified` → `"identified"`).
pub(crate) fn enum_str<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(e) => format!("<{e}>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_case_round_trip() {
        assert_eq!(camel("whole_service"), "wholeService");
        assert_eq!(snake("wholeService"), "whole_service");
        let v = serde_json::json!({"a_b": [{"c_d": 1}]});
        assert_eq!(rename_keys(rename_keys(v.clone(), camel), snake), v);
    }

    #[test]
    fn u32_options_are_checked() {
        assert_eq!(to_u32("n", 0.0).unwrap(), 0);
        assert_eq!(to_u32("n", 4_294_967_295.0).unwrap(), u32::MAX);
        for bad in [-1.0, 2.5, 4_294_967_296.0, f64::NAN, f64::INFINITY] {
            let e = to_u32("logTail", bad).unwrap_err();
            assert!(e.message().starts_with("logTail must be an integer from 0 to 4294967295, got "), "{e}");
        }
    }

    #[test]
    fn enum_parse_lists_allowed_values() {
        let e = parse_enum::<incident_core::Status>("status", "done", &["investigating", "resolved"]).unwrap_err();
        assert_eq!(e.kind(), incident_core::ErrorKind::InvalidInput);
        assert_eq!(e.message(), "status: \"done\" is not one of investigating, resolved");
    }

    #[test]
    fn from_json_names_the_field() {
        let e = from_json::<incident_core::postmortem::PostMortemInput>(
            "input",
            serde_json::json!({"action_items": [{"owner": "x"}]}),
        )
        .unwrap_err();
        assert!(e.message().starts_with("input: field `action_items[0]`"), "{}", e.message());
    }
}
