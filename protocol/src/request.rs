//! `CredentialProviderRequest`: what the kubelet writes on a plugin's stdin.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::api::{ApiVersion, REQUEST_KIND};
use crate::json::{self, JsonError};
use crate::secret::Secret;

/// A credential request for one image, in the provider's configured API version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The API version the kubelet is configured to speak to this provider.
    pub api_version: ApiVersion,
    /// The normalised repository name (`docker.io/library/nginx`): registry and path, no tag or digest.
    pub image: String,
    /// Service-account token (v1 only, KEP-4412 token mode).
    pub service_account_token: Option<Secret>,
    /// The configured service-account annotations present on the pod's service account (v1 only).
    pub service_account_annotations: BTreeMap<String, String>,
}

/// Longest `image` accepted in a request: docker names are at most 255 characters of path plus a
/// registry host, so anything far longer is not from a kubelet.
pub const MAX_IMAGE_LEN: usize = 4096;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// Malformed JSON, a duplicate or unknown field, or a field of the wrong type.
    #[error("{0}")]
    Json(#[from] JsonError),
    /// `apiVersion` absent or not one of the three versions.
    #[error("apiVersion {0} is not a credentialprovider.kubelet.k8s.io version this host speaks")]
    ApiVersion(String),
    /// `kind` is not `CredentialProviderRequest`.
    #[error("kind {0} is not CredentialProviderRequest")]
    Kind(String),
    /// `image` is absent or empty.
    #[error("image is required")]
    MissingImage,
    /// `image` is longer than [`MAX_IMAGE_LEN`] or holds whitespace or control characters.
    #[error("image is not a repository name (too long, or whitespace/control characters)")]
    BadImage,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireRequest<'a> {
    kind: &'static str,
    api_version: &'static str,
    image: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_account_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_account_annotations: Option<&'a BTreeMap<String, String>>,
}

impl Request {
    /// A request for `image` without a service-account token.
    pub fn new(api_version: ApiVersion, image: impl Into<String>) -> Self {
        Request {
            api_version,
            image: image.into(),
            service_account_token: None,
            service_account_annotations: BTreeMap::new(),
        }
    }

    /// The compact JSON the kubelet writes (fields in the kubelet's order, empty service-account
    /// fields omitted, and both dropped for v1alpha1/v1beta1 as the kubelet's conversion does),
    /// without the trailing newline.
    pub fn to_json(&self) -> String {
        let v1 = self.api_version.supports_service_account_token();
        let wire = WireRequest {
            kind: REQUEST_KIND,
            api_version: self.api_version.as_str(),
            image: &self.image,
            service_account_token: self
                .service_account_token
                .as_ref()
                .filter(|t| v1 && !t.is_empty())
                .map(Secret::expose),
            service_account_annotations: Some(&self.service_account_annotations)
                .filter(|a| v1 && !a.is_empty()),
        };
        // Serialising strings and string maps cannot fail.
        serde_json::to_string(&wire).unwrap_or_default()
    }

    /// Exactly the bytes the kubelet writes on stdin: the JSON and one `\n`.
    pub fn to_stdin_bytes(&self) -> Vec<u8> {
        let mut bytes = self.to_json().into_bytes();
        bytes.push(b'\n');
        bytes
    }

    /// Decodes a request strictly: one JSON object, known fields only (the service-account
    /// fields only in v1), no duplicates, `kind` and `apiVersion` exact, `image` non-empty.
    pub fn decode(bytes: &[u8]) -> Result<Self, RequestError> {
        let value = json::parse(bytes)?;
        let object = json::top_object(&value)?;
        let api_version = json::opt_string(object, "", "apiVersion")?
            .ok_or_else(|| RequestError::ApiVersion("(missing)".into()))?;
        let api_version: ApiVersion = api_version.parse().map_err(|_| {
            RequestError::ApiVersion(json::shown(json::Shown::ApiVersion, &api_version))
        })?;
        let allowed: &[&str] = if api_version.supports_service_account_token() {
            &[
                "kind",
                "apiVersion",
                "image",
                "serviceAccountToken",
                "serviceAccountAnnotations",
            ]
        } else {
            &["kind", "apiVersion", "image"]
        };
        json::deny_unknown(object, "", allowed)?;
        let kind = json::opt_string(object, "", "kind")?.unwrap_or_default();
        if kind != REQUEST_KIND {
            return Err(RequestError::Kind(json::shown(json::Shown::Kind, &kind)));
        }
        let image = json::opt_string(object, "", "image")?.unwrap_or_default();
        if image.is_empty() {
            return Err(RequestError::MissingImage);
        }
        if image.len() > MAX_IMAGE_LEN || image.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(RequestError::BadImage);
        }
        let service_account_token = json::opt_string(object, "", "serviceAccountToken")?
            .filter(|t| !t.is_empty())
            .map(Secret::from);
        let mut service_account_annotations = BTreeMap::new();
        if let Some(annotations) = json::opt_object(object, "", "serviceAccountAnnotations")? {
            let parent = json::key_path("", "serviceAccountAnnotations");
            for key in annotations.keys() {
                let value = json::opt_string(annotations, &parent, key)?.unwrap_or_default();
                service_account_annotations.insert(key.clone(), value);
            }
        }
        Ok(Request {
            api_version,
            image,
            service_account_token,
            service_account_annotations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_kubelet_v1() {
        let r = Request::new(ApiVersion::V1, "test.registry.io/foobar");
        assert_eq!(
            r.to_stdin_bytes(),
            b"{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":\"credentialprovider.kubelet.k8s.io/v1\",\"image\":\"test.registry.io/foobar\"}\n"
        );
    }

    #[test]
    fn encodes_token_fields_in_kubelet_order() {
        let mut r = Request::new(ApiVersion::V1, "test.registry.io/foobar");
        r.service_account_token = Some("service-account-token".into());
        r.service_account_annotations
            .insert("domain.io/annotation1".into(), "value1".into());
        assert_eq!(
            r.to_json(),
            "{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":\"credentialprovider.kubelet.k8s.io/v1\",\"image\":\"test.registry.io/foobar\",\"serviceAccountToken\":\"service-account-token\",\"serviceAccountAnnotations\":{\"domain.io/annotation1\":\"value1\"}}"
        );
    }

    #[test]
    fn older_versions_drop_token_fields() {
        let mut r = Request::new(ApiVersion::V1Beta1, "test.registry.io/foobar");
        r.service_account_token = Some("t".into());
        assert!(!r.to_json().contains("serviceAccount"));
    }

    #[test]
    fn decode_round_trips() {
        let mut r = Request::new(ApiVersion::V1, "r.io/a");
        r.service_account_token = Some("tok".into());
        r.service_account_annotations.insert("k".into(), "v".into());
        assert_eq!(Request::decode(&r.to_stdin_bytes()).unwrap(), r);
    }

    #[test]
    fn decode_rejects_token_in_v1beta1() {
        let err = Request::decode(br#"{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","image":"r.io/a","serviceAccountToken":"t"}"#).unwrap_err();
        assert!(matches!(
            err,
            RequestError::Json(JsonError::UnknownField(_))
        ));
    }

    #[test]
    fn decode_rejects_bad_fields() {
        let cases: &[&[u8]] = &[
            br#"{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v2","image":"r.io/a"}"#,
            br#"{"kind":"CredentialProviderRequest","image":"r.io/a"}"#,
            br#"{"kind":"CredentialProviderResponse","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"r.io/a"}"#,
            br#"{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":""}"#,
            br#"{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1"}"#,
            br#"{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"r.io/a","Image":"x"}"#,
            br#"{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"r.io/a","image":"b"}"#,
            br#"{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":7}"#,
            br#"{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"r.io/a b"}"#,
            br#"[]"#,
            b"not json",
        ];
        for case in cases {
            assert!(
                Request::decode(case).is_err(),
                "{} should be refused",
                String::from_utf8_lossy(case)
            );
        }
    }
}
