//! `validateCredentialProviderConfig`: every rule, message and (unindexed) field path of the
//! kubelet's config validation, collected rather than stopping at the first.

use std::collections::{BTreeSet, HashSet};

use credential_provider_protocol::ApiVersion;
use credential_provider_protocol::matching::validate_match_image;

use super::json::go_marshal_string;
use super::{ConfigProblem, CredentialProvider, CredentialProviderConfig, TokenAttributes};
use crate::kubelet::field::FieldError;

/// The kubelet feature gates that change validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureGates {
    /// `KubeletServiceAccountTokenForCredentialProviders`: `tokenAttributes` is allowed (on by
    /// default since 1.34).
    pub service_account_token_for_credential_providers: bool,
}

impl Default for FeatureGates {
    fn default() -> Self {
        FeatureGates {
            service_account_token_for_credential_providers: true,
        }
    }
}

/// The `tokenAttributes.cacheType` values, sorted as the kubelet lists them.
const CACHE_TYPES: [&str; 2] = ["ServiceAccount", "Token"];

/// Every validation problem of `config`, in the kubelet's order.
pub fn validate(config: &CredentialProviderConfig, gates: FeatureGates) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    if config.providers.is_empty() {
        problems.push(problem(
            None,
            FieldError::required("providers", "at least 1 item in plugins is required"),
        ));
    }
    let mut seen = HashSet::new();
    for provider in &config.providers {
        let errors = validate_provider(provider, !seen.insert(provider.name.as_str()), gates);
        problems.extend(errors.into_iter().map(|e| problem(Some(&provider.name), e)));
    }
    problems
}

fn problem(provider: Option<&str>, error: FieldError) -> ConfigProblem {
    ConfigProblem {
        provider: provider.map(str::to_owned),
        field: Some(error.field.clone()),
        message: error.to_string(),
    }
}

fn validate_provider(
    provider: &CredentialProvider,
    duplicate: bool,
    gates: FeatureGates,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = provider.name.as_str();
    if name.contains('/') {
        errors.push(FieldError::invalid(
            "providers.name",
            name,
            "provider name cannot contain '/'",
        ));
    }
    if name.contains(' ') {
        errors.push(FieldError::invalid(
            "providers.name",
            name,
            "provider name cannot contain spaces",
        ));
    }
    if name == "." {
        errors.push(FieldError::invalid(
            "providers.name",
            name,
            "provider name cannot be '.'",
        ));
    }
    if name == ".." {
        errors.push(FieldError::invalid(
            "providers.name",
            name,
            "provider name cannot be '..'",
        ));
    }
    if duplicate {
        errors.push(FieldError::duplicate("providers.name", name));
    }
    if provider.api_version.is_empty() {
        errors.push(FieldError::required("providers.apiVersion", ""));
    } else if provider.api_version.parse::<ApiVersion>().is_err() {
        let mut supported: Vec<&str> = ApiVersion::ALL.iter().map(|v| v.as_str()).collect();
        supported.sort_unstable();
        errors.push(FieldError::unsupported(
            "providers.apiVersion",
            &provider.api_version,
            &supported,
        ));
    }
    if provider.match_images.is_empty() {
        errors.push(FieldError::required(
            "providers.matchImages",
            "at least 1 item in matchImages is required",
        ));
    }
    for pattern in &provider.match_images {
        if let Err(err) = validate_match_image(pattern) {
            errors.push(FieldError::invalid(
                "providers.matchImages",
                pattern,
                err.to_string(),
            ));
        }
    }
    match provider.default_cache_duration {
        None => errors.push(FieldError::required("providers.defaultCacheDuration", "")),
        // The bad value is the `*metav1.Duration`, which apimachinery renders through
        // `json.Marshal`: `"-1m0s"`, quoted.
        Some(d) if d.is_negative() => errors.push(FieldError::invalid_rendered(
            "providers.defaultCacheDuration",
            go_marshal_string(&d.to_string()),
            "must be greater than or equal to 0",
        )),
        Some(_) => {}
    }
    if let Some(attributes) = &provider.token_attributes {
        validate_token_attributes(provider, attributes, gates, &mut errors);
    }
    errors
}

fn validate_token_attributes(
    provider: &CredentialProvider,
    attributes: &TokenAttributes,
    gates: FeatureGates,
    errors: &mut Vec<FieldError>,
) {
    let path = "providers.tokenAttributes";
    if !gates.service_account_token_for_credential_providers {
        errors.push(FieldError::forbidden(
            path,
            "tokenAttributes is not supported when KubeletServiceAccountTokenForCredentialProviders feature gate is disabled",
        ));
    }
    if attributes.service_account_token_audience.is_empty() {
        errors.push(FieldError::required(
            "providers.tokenAttributes.serviceAccountTokenAudience",
            "",
        ));
    }
    if attributes.require_service_account.is_none() {
        errors.push(FieldError::required(
            "providers.tokenAttributes.requireServiceAccount",
            "",
        ));
    }
    if provider.api_version != ApiVersion::V1.as_str() {
        errors.push(FieldError::forbidden(
            path,
            format!(
                "tokenAttributes is only supported for {} API version",
                ApiVersion::V1.as_str()
            ),
        ));
    }
    let required = &attributes.required_service_account_annotation_keys;
    let optional = &attributes.optional_service_account_annotation_keys;
    if attributes.require_service_account == Some(false) && !required.is_empty() {
        errors.push(FieldError::forbidden(
            "providers.tokenAttributes.requiredServiceAccountAnnotationKeys",
            "requireServiceAccount cannot be false when requiredServiceAccountAnnotationKeys is set",
        ));
    }
    validate_annotation_keys(
        "providers.tokenAttributes.requiredServiceAccountAnnotationKeys",
        required,
        errors,
    );
    validate_annotation_keys(
        "providers.tokenAttributes.optionalServiceAccountAnnotationKeys",
        optional,
        errors,
    );
    let required_set: BTreeSet<&String> = required.iter().collect();
    let both: Vec<String> = optional
        .iter()
        .collect::<BTreeSet<_>>()
        .intersection(&required_set)
        .map(|k| (*k).clone())
        .collect();
    if !both.is_empty() {
        errors.push(FieldError::invalid_rendered(
            path,
            // A `[]string` bad value is rendered through `json.Marshal`: `["a/b"]`.
            format!(
                "[{}]",
                both.iter()
                    .map(|k| go_marshal_string(k))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            "annotation keys cannot be both required and optional",
        ));
    }
    if attributes.cache_type.is_empty() {
        errors.push(FieldError::required(
            "providers.tokenAttributes.cacheType",
            format!(
                "cacheType is required to be set when tokenAttributes is specified. Supported values are: {}",
                CACHE_TYPES.join(", ")
            ),
        ));
    } else if !CACHE_TYPES.contains(&attributes.cache_type.as_str()) {
        errors.push(FieldError::unsupported(
            "providers.tokenAttributes.cacheType",
            &attributes.cache_type,
            &CACHE_TYPES,
        ));
    }
}

/// `validateServiceAccountAnnotationKeys`: each key a qualified name (checked lower-cased), no
/// duplicates.
fn validate_annotation_keys(path: &str, keys: &[String], errors: &mut Vec<FieldError>) {
    let mut seen = HashSet::new();
    for key in keys {
        for message in is_qualified_name(&key.to_lowercase()) {
            errors.push(FieldError::invalid(path, key, message));
        }
        if !seen.insert(key.as_str()) {
            errors.push(FieldError::duplicate(path, key));
        }
    }
}

const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_ERR: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

/// apimachinery's `RegexError(msg, fmt, examples...)`, double spaces included.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut out = format!("{msg} (e.g. ");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{example}', "));
    }
    out.push_str(&format!("regex used for validation is '{fmt}')"));
    out
}

/// apimachinery's `IsQualifiedName`: an optional DNS-1123 subdomain prefix and `/`, then a name
/// of at most 63 characters, alphanumeric at both ends with `-`, `_`, `.` inside. Returns the
/// messages of every rule broken (empty when valid).
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_owned());
            } else {
                errors.extend(
                    is_dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            errors.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errors;
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_owned());
    } else if name.len() > 63 {
        errors.push("name part must be no more than 63 characters".to_owned());
    }
    if !matches_qualified_name(name) {
        errors.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_ERR,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errors
}

/// `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`
fn matches_qualified_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// apimachinery's `IsDNS1123Subdomain`.
fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > 253 {
        errors.push("must be no more than 253 characters".to_owned());
    }
    let label_ok = |label: &str| {
        let bytes = label.as_bytes();
        match (bytes.first(), bytes.last()) {
            (Some(first), Some(last)) => {
                let edge = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
                edge(first)
                    && edge(last)
                    && bytes
                        .iter()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            }
            _ => false,
        }
    };
    if !value.split('.').all(label_ok) {
        errors.push(regex_error(
            DNS1123_SUBDOMAIN_ERR,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use credential_provider_protocol::GoDuration;

    fn provider() -> CredentialProvider {
        CredentialProvider {
            name: "p".into(),
            match_images: vec!["r.io".into()],
            default_cache_duration: Some(GoDuration::from_secs(60)),
            api_version: ApiVersion::V1.as_str().into(),
            ..Default::default()
        }
    }

    fn messages(providers: Vec<CredentialProvider>) -> Vec<String> {
        validate(
            &CredentialProviderConfig { providers },
            FeatureGates::default(),
        )
        .into_iter()
        .map(|p| p.message)
        .collect()
    }

    fn with_tokens(f: impl FnOnce(&mut TokenAttributes)) -> Vec<String> {
        let mut p = provider();
        let mut t = TokenAttributes {
            service_account_token_audience: "aud".into(),
            cache_type: "ServiceAccount".into(),
            require_service_account: Some(true),
            ..Default::default()
        };
        f(&mut t);
        p.token_attributes = Some(t);
        messages(vec![p])
    }

    #[test]
    fn valid_provider_passes() {
        assert!(messages(vec![provider()]).is_empty());
        assert!(with_tokens(|_| {}).is_empty());
    }

    #[test]
    fn empty_providers() {
        assert_eq!(
            messages(vec![]),
            ["providers: Required value: at least 1 item in plugins is required"]
        );
    }

    #[test]
    fn name_rules_all_apply() {
        let mut p = provider();
        p.name = "a b/c".into();
        assert_eq!(
            messages(vec![p]),
            [
                "providers.name: Invalid value: \"a b/c\": provider name cannot contain '/'",
                "providers.name: Invalid value: \"a b/c\": provider name cannot contain spaces",
            ]
        );
        let mut p = provider();
        p.name = ".".into();
        assert_eq!(
            messages(vec![p]),
            ["providers.name: Invalid value: \".\": provider name cannot be '.'"]
        );
        // Not rejected by validation: empty names, backslashes, tabs.
        for name in ["", "a\\b", "a\tb"] {
            let mut p = provider();
            p.name = name.into();
            assert!(messages(vec![p]).is_empty(), "{name:?}");
        }
    }

    #[test]
    fn api_version_required() {
        let mut p = provider();
        p.api_version.clear();
        assert_eq!(messages(vec![p]), ["providers.apiVersion: Required value"]);
    }

    #[test]
    fn default_cache_duration_rules() {
        let mut p = provider();
        p.default_cache_duration = None;
        assert_eq!(
            messages(vec![p]),
            ["providers.defaultCacheDuration: Required value"]
        );
        let mut p = provider();
        p.default_cache_duration = Some(GoDuration::from_secs(-60));
        assert_eq!(
            messages(vec![p]),
            [
                "providers.defaultCacheDuration: Invalid value: \"-1m0s\": must be greater than or equal to 0"
            ]
        );
    }

    #[test]
    fn token_attribute_rules() {
        assert_eq!(
            with_tokens(|t| t.service_account_token_audience.clear()),
            ["providers.tokenAttributes.serviceAccountTokenAudience: Required value"]
        );
        assert_eq!(
            with_tokens(|t| t.cache_type = "Pod".into()),
            [
                "providers.tokenAttributes.cacheType: Unsupported value: \"Pod\": supported values: \"ServiceAccount\", \"Token\""
            ]
        );
        assert_eq!(
            with_tokens(|t| {
                t.required_service_account_annotation_keys = vec!["a.io/x".into(), "b.io/y".into()];
                t.optional_service_account_annotation_keys = vec!["b.io/y".into(), "a.io/x".into()];
            }),
            [
                "providers.tokenAttributes: Invalid value: [\"a.io/x\",\"b.io/y\"]: annotation keys cannot be both required and optional"
            ]
        );
        assert_eq!(
            with_tokens(
                |t| t.required_service_account_annotation_keys = vec!["x".into(), "x".into()]
            ),
            [
                "providers.tokenAttributes.requiredServiceAccountAnnotationKeys: Duplicate value: \"x\""
            ]
        );
        // Case does not matter for the key rule.
        assert!(
            with_tokens(
                |t| t.optional_service_account_annotation_keys = vec!["Example.COM/Key".into()]
            )
            .is_empty()
        );
    }

    #[test]
    fn gate_off_forbids_token_attributes() {
        let mut p = provider();
        p.token_attributes = Some(TokenAttributes {
            service_account_token_audience: "aud".into(),
            cache_type: "Token".into(),
            require_service_account: Some(false),
            ..Default::default()
        });
        let gates = FeatureGates {
            service_account_token_for_credential_providers: false,
        };
        let problems = validate(&CredentialProviderConfig { providers: vec![p] }, gates);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("feature gate is disabled"));
    }

    #[test]
    fn qualified_names() {
        assert!(is_qualified_name("example.com/my-key").is_empty());
        assert!(is_qualified_name("key_1.x").is_empty());
        assert_eq!(is_qualified_name("/x"), ["prefix part must be non-empty"]);
        assert_eq!(is_qualified_name("a/b/c").len(), 1);
        assert_eq!(
            is_qualified_name("Upper.com/x")[0].split(' ').next(),
            Some("prefix")
        );
        assert_eq!(
            is_qualified_name(&"a".repeat(64)),
            ["name part must be no more than 63 characters"]
        );
        assert_eq!(
            is_qualified_name("x/"),
            [
                "name part must be non-empty".to_owned(),
                format!(
                    "name part {}",
                    regex_error(
                        QUALIFIED_NAME_ERR,
                        QUALIFIED_NAME_FMT,
                        &["MyName", "my.name", "123-abc"]
                    )
                )
            ]
        );
    }
}
