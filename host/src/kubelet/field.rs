//! Kubernetes field errors (`k8s.io/apimachinery/pkg/util/validation/field`), rendered with the
//! kubelet's exact text: `providers.name: Invalid value: "..": provider name cannot be '..'`.

use std::fmt;

/// The kind of a field error; its `Display` is apimachinery's `ErrorType.String()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldErrorType {
    /// `Required value`: the field is missing or empty.
    Required,
    /// `Invalid value`: the value is malformed.
    Invalid,
    /// `Duplicate value`: the value appears twice in a set.
    Duplicate,
    /// `Unsupported value`: the value is not one of an enumeration.
    Unsupported,
    /// `Forbidden`: the field may not be set here.
    Forbidden,
}

impl fmt::Display for FieldErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldErrorType::Required => "Required value",
            FieldErrorType::Invalid => "Invalid value",
            FieldErrorType::Duplicate => "Duplicate value",
            FieldErrorType::Unsupported => "Unsupported value",
            FieldErrorType::Forbidden => "Forbidden",
        })
    }
}

/// One validation problem: a field path (not indexed, as the kubelet builds it), its type, the
/// offending value as Go's `field.Error` prints it, and a detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted field path, e.g. `providers.tokenAttributes.cacheType`.
    pub field: String,
    /// What kind of problem.
    pub kind: FieldErrorType,
    /// The bad value, already rendered (`"text"` for strings, `-1m0s` for durations); `None` for
    /// types that never print one (Required, Forbidden).
    pub value: Option<String>,
    /// The explanation after the value; may be empty.
    pub detail: String,
}

impl FieldError {
    /// `field.Required(path, detail)`.
    pub fn required(field: &str, detail: impl Into<String>) -> Self {
        Self::new(field, FieldErrorType::Required, None, detail)
    }

    /// `field.Invalid(path, stringValue, detail)`.
    pub fn invalid(field: &str, value: &str, detail: impl Into<String>) -> Self {
        Self::new(
            field,
            FieldErrorType::Invalid,
            Some(go_quote(value)),
            detail,
        )
    }

    /// `field.Invalid` with a value already rendered by apimachinery's rules (`json.Marshal`
    /// for anything but a string or number).
    pub fn invalid_rendered(field: &str, rendered: String, detail: impl Into<String>) -> Self {
        Self::new(field, FieldErrorType::Invalid, Some(rendered), detail)
    }

    /// `field.Duplicate(path, stringValue)`.
    pub fn duplicate(field: &str, value: &str) -> Self {
        Self::new(field, FieldErrorType::Duplicate, Some(go_quote(value)), "")
    }

    /// `field.NotSupported(path, value, supported)`: the detail lists the supported values,
    /// each Go-quoted, in the given order.
    pub fn unsupported(field: &str, value: &str, supported: &[&str]) -> Self {
        let quoted: Vec<String> = supported.iter().map(go_quote).collect();
        let detail = if quoted.is_empty() {
            String::new()
        } else {
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(
            field,
            FieldErrorType::Unsupported,
            Some(go_quote(value)),
            detail,
        )
    }

    /// `field.Forbidden(path, detail)`.
    pub fn forbidden(field: &str, detail: impl Into<String>) -> Self {
        Self::new(field, FieldErrorType::Forbidden, None, detail)
    }

    fn new(
        field: &str,
        kind: FieldErrorType,
        value: Option<String>,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            field: field.to_owned(),
            kind,
            value,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for FieldError {
    /// `field.Error.Error()`: `<field>: <type>[: <value>][: <detail>]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.kind)?;
        if let Some(value) = &self.value {
            write!(f, ": {value}")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

pub use credential_provider_protocol::matching::go_quote;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_apimachinery() {
        assert_eq!(
            FieldError::required("providers", "at least 1 item in plugins is required").to_string(),
            "providers: Required value: at least 1 item in plugins is required"
        );
        assert_eq!(
            FieldError::required("providers.apiVersion", "").to_string(),
            "providers.apiVersion: Required value"
        );
        assert_eq!(
            FieldError::invalid("providers.name", "..", "provider name cannot be '..'").to_string(),
            "providers.name: Invalid value: \"..\": provider name cannot be '..'"
        );
        assert_eq!(
            FieldError::duplicate("providers.name", "foobar").to_string(),
            "providers.name: Duplicate value: \"foobar\""
        );
        assert_eq!(
            FieldError::unsupported("a.b", "x", &["P", "Q"]).to_string(),
            "a.b: Unsupported value: \"x\": supported values: \"P\", \"Q\""
        );
        assert_eq!(
            FieldError::forbidden("t", "no").to_string(),
            "t: Forbidden: no"
        );
    }

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}"), r#""a\"b\\c\n\x01""#);
        assert_eq!(go_quote("é"), "\"é\"");
    }
}
