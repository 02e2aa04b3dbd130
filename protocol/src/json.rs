//! Strict JSON reading shared by request and response decoding.
//!
//! The kubelet decodes with Kubernetes' strict codec: duplicate keys are errors, field names are
//! case-sensitive, types must match, and `null` leaves a field at its zero value. serde_json's
//! `Value` silently keeps the last of duplicate keys, so this module parses into a `Value` while
//! rejecting duplicates, and offers typed accessors whose errors never echo a value (values may be
//! secrets; only field paths and JSON types are named).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// What went wrong reading strict JSON. Messages name field paths and JSON types, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// The input is not one JSON document surrounded by optional whitespace.
    #[error("not a single JSON document ({0})")]
    Syntax(String),
    /// The same key appears twice in one object.
    #[error("duplicate field {0}")]
    DuplicateField(String),
    /// A field the type does not have (the kubelet's strict decoding rejects these).
    #[error("unknown field {0}")]
    UnknownField(String),
    /// A field of the wrong JSON type.
    #[error("field {field} must be {expected}, not {found}")]
    WrongType {
        /// Field path, e.g. `"auth[\"r.io\"].username"`.
        field: String,
        /// The JSON type the kubelet expects.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
}

/// Parses `bytes` as exactly one JSON value (whitespace around it allowed), rejecting duplicate keys.
pub(crate) fn parse(bytes: &[u8]) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue {
        path: String::new(),
    }
    .deserialize(&mut de)
    .map_err(classify)?;
    de.end().map_err(classify)?;
    Ok(value)
}

fn classify(err: serde_json::Error) -> JsonError {
    // Data errors come only from our visitor (duplicates); their text is a path we built.
    if let Some(path) = err.to_string().strip_prefix(DUPLICATE_MARKER) {
        let path = path.split(" at line ").next().unwrap_or(path);
        return JsonError::DuplicateField(path.to_owned());
    }
    // serde_json's syntax messages name positions and expectations, not input text.
    JsonError::Syntax(err.to_string())
}

const DUPLICATE_MARKER: &str = "\u{0}duplicate:";

/// Field names that may be shown inside an `auth` entry: the real ones, and docker config
/// fields plugins add by mistake. Any other name there could be a credential that a confused
/// plugin wrote as a key, so it is not shown.
const SHOWN_NESTED_NAMES: &[&str] = &[
    "username",
    "password",
    "auth",
    "email",
    "identitytoken",
    "registrytoken",
    "serveraddress",
];

/// Renders an object key for a field path, quoted and escaped, shortened if long. Keys below
/// the second level (inside an `auth` entry) are shown only if they are known field names.
pub(crate) fn key_path(parent: &str, key: &str) -> String {
    if parent.contains('[') && !SHOWN_NESTED_NAMES.contains(&key) {
        return format!("{parent}[(name not shown)]");
    }
    let shown: String = if key.chars().count() > 80 {
        key.chars().take(80).chain("...".chars()).collect()
    } else {
        key.to_owned()
    };
    if parent.is_empty() {
        format!("{shown:?}")
    } else {
        format!("{parent}[{shown:?}]")
    }
}

struct StrictValue {
    path: String,
}

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        let mut index = 0usize;
        while let Some(item) = seq.next_element_seed(StrictValue {
            path: format!("{}[{index}]", self.path),
        })? {
            items.push(item);
            index += 1;
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = key_path(&self.path, &key);
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!("{DUPLICATE_MARKER}{path}")));
            }
            let value = map.next_value_seed(StrictValue { path })?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// The JSON type name of a value, for error messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads an optional string field the way Go does: absent or `null` is `None`.
pub(crate) fn opt_string(
    object: &Map<String, Value>,
    parent: &str,
    key: &str,
) -> Result<Option<String>, JsonError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(JsonError::WrongType {
            field: key_path(parent, key),
            expected: "a string",
            found: type_name(other),
        }),
    }
}

/// Reads an optional object field: absent or `null` is `None`.
pub(crate) fn opt_object<'v>(
    object: &'v Map<String, Value>,
    parent: &str,
    key: &str,
) -> Result<Option<&'v Map<String, Value>>, JsonError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(other) => Err(JsonError::WrongType {
            field: key_path(parent, key),
            expected: "an object",
            found: type_name(other),
        }),
    }
}

/// Rejects any key of `object` not in `allowed` (exact, case-sensitive).
pub(crate) fn deny_unknown(
    object: &Map<String, Value>,
    parent: &str,
    allowed: &[&str],
) -> Result<(), JsonError> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(JsonError::UnknownField(key_path(parent, unknown))),
        None => Ok(()),
    }
}

/// Requires the top-level value to be an object.
pub(crate) fn top_object(value: &Value) -> Result<&Map<String, Value>, JsonError> {
    match value {
        Value::Object(o) => Ok(o),
        other => Err(JsonError::WrongType {
            field: "(top level)".to_owned(),
            expected: "an object",
            found: type_name(other),
        }),
    }
}

/// The protocol fields whose values an error message may show, each only when the value has
/// that field's shape. Anything else could be a secret a confused plugin put in the wrong field.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Shown {
    /// `group/version`: lower-case letters, digits, `.`, `-`, one `/`.
    ApiVersion,
    /// A kind: ASCII letters only.
    Kind,
    /// A cache key type: ASCII letters only, short.
    CacheKeyType,
    /// A duration: digits, `.`, signs and unit letters, starting like a number.
    Duration,
}

/// `value` quoted if it has the shape of `field`, else `(value not shown)`.
pub(crate) fn shown(field: Shown, value: &str) -> String {
    let plain = match field {
        Shown::ApiVersion => {
            value.len() <= 80
                && value.matches('/').count() == 1
                && value
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "./-".contains(c))
        }
        Shown::Kind => {
            !value.is_empty() && value.len() <= 64 && value.chars().all(|c| c.is_ascii_alphabetic())
        }
        Shown::CacheKeyType => {
            !value.is_empty() && value.len() <= 16 && value.chars().all(|c| c.is_ascii_alphabetic())
        }
        Shown::Duration => {
            value.len() <= 24
                && value
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit() || "+-.".contains(c))
                && value.chars().all(|c| {
                    c.is_ascii_digit() || c.is_ascii_lowercase() || "+-.\u{b5}\u{3bc}".contains(c)
                })
        }
    };
    if plain {
        format!("{value:?}")
    } else {
        "(value not shown)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_top_level_key_is_rejected() {
        let err = parse(br#"{"a":1,"a":2}"#).unwrap_err();
        assert_eq!(err, JsonError::DuplicateField("\"a\"".into()));
    }

    #[test]
    fn duplicate_nested_key_names_its_path() {
        let err = parse(br#"{"auth":{"r.io":{"username":"u","username":"v"}}}"#).unwrap_err();
        assert_eq!(
            err,
            JsonError::DuplicateField("\"auth\"[\"r.io\"][\"username\"]".into())
        );
    }

    #[test]
    fn trailing_text_is_a_syntax_error() {
        assert!(matches!(parse(b"{} done"), Err(JsonError::Syntax(_))));
        assert!(matches!(parse(b"log\n{}"), Err(JsonError::Syntax(_))));
        assert!(matches!(parse(b""), Err(JsonError::Syntax(_))));
        assert!(matches!(parse(b"{}{}"), Err(JsonError::Syntax(_))));
    }

    #[test]
    fn whitespace_around_is_fine() {
        assert!(parse(b" \n\t{}\r\n ").is_ok());
    }

    #[test]
    fn syntax_errors_do_not_echo_input() {
        let err = parse(br#"{"password":"hunter2" "x"}"#).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = parse(br#"{"password":"hunter2\q"}"#).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn nested_unknown_names_are_not_shown() {
        assert_eq!(
            key_path("\"auth\"[\"r.io\"]", "hunter2"),
            "\"auth\"[\"r.io\"][(name not shown)]"
        );
        assert_eq!(
            key_path("\"auth\"[\"r.io\"]", "email"),
            "\"auth\"[\"r.io\"][\"email\"]"
        );
        assert_eq!(key_path("\"auth\"", "r.io"), "\"auth\"[\"r.io\"]");
        assert_eq!(key_path("", "expiresAt"), "\"expiresAt\"");
    }

    #[test]
    fn shown_hides_odd_values() {
        assert_eq!(shown(Shown::CacheKeyType, "Registry"), "\"Registry\"");
        assert_eq!(
            shown(Shown::CacheKeyType, "s3cret-5a2f"),
            "(value not shown)"
        );
        assert_eq!(shown(Shown::Kind, "pass word"), "(value not shown)");
        assert_eq!(shown(Shown::Kind, &"x".repeat(65)), "(value not shown)");
        assert_eq!(
            shown(
                Shown::ApiVersion,
                "credentialprovider.kubelet.k8s.io/v1beta1"
            ),
            "\"credentialprovider.kubelet.k8s.io/v1beta1\""
        );
        assert_eq!(
            shown(Shown::ApiVersion, "response-SECRET-5a2f"),
            "(value not shown)"
        );
        assert_eq!(shown(Shown::Duration, "1d"), "\"1d\"");
        assert_eq!(shown(Shown::Duration, "hunter2"), "(value not shown)");
    }
}
