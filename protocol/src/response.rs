//! `CredentialProviderResponse`: what a plugin writes on stdout, and the kubelet's acceptance rules.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::api::{ApiVersion, CacheKeyType, RESPONSE_KIND};
use crate::duration::GoDuration;
use crate::json::{self, JsonError};
use crate::secret::Secret;

/// Credentials for the registries matching one `auth` key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// Registry username (may be empty).
    pub username: String,
    /// Registry password or token (may be empty).
    pub password: Secret,
}

impl AuthConfig {
    /// Credentials from a username and a password.
    pub fn new(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        AuthConfig {
            username: username.into(),
            password: password.into(),
        }
    }
}

/// A plugin's answer, as the kubelet accepts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Must equal the request's API version.
    pub api_version: ApiVersion,
    /// How the kubelet caches this answer.
    pub cache_key_type: CacheKeyType,
    /// How long the kubelet caches it; `None` means the provider's `defaultCacheDuration`, zero
    /// means not at all.
    pub cache_duration: Option<GoDuration>,
    /// Credentials by image-match key (`registry.io`, `*.registry.io/path`, ...). Sorted, as Go
    /// encodes maps.
    pub auth: BTreeMap<String, AuthConfig>,
}

/// Why the kubelet would discard a plugin's stdout. Messages never include credential values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// Nothing but whitespace on stdout.
    #[error("empty output: expected a CredentialProviderResponse on stdout")]
    Empty,
    /// Malformed JSON, text around the object, duplicate or unknown fields, wrong types.
    #[error("{0}")]
    Json(#[from] JsonError),
    /// No `apiVersion`.
    #[error("apiVersion is missing")]
    MissingApiVersion,
    /// `apiVersion` differs from the request's (there is no negotiation).
    #[error("apiVersion {found} does not match the request's {expected:?}")]
    ApiVersionMismatch {
        /// What the plugin sent (shown only if it looks like an apiVersion).
        found: String,
        /// The request's version.
        expected: &'static str,
    },
    /// `kind` is not `CredentialProviderResponse`.
    #[error("kind {0} is not CredentialProviderResponse")]
    Kind(String),
    /// `cacheKeyType` missing or not `Image`, `Registry` or `Global`.
    #[error("cacheKeyType {0} is not one of Image, Registry, Global")]
    CacheKeyType(String),
    /// `cacheDuration` is not a Go duration string.
    #[error("cacheDuration {0} is not a Go duration (e.g. \"90s\", \"1h30m\")")]
    CacheDuration(String),
    /// An `auth` entry's password is the service-account token the request carried, which the
    /// kubelet refuses unless `tokenAttributes.cacheType` is `Token`.
    #[error(
        "auth entry {0} returns the request's service-account token as its password; the kubelet refuses this unless tokenAttributes.cacheType is Token"
    )]
    EchoedServiceAccountToken(String),
}

/// What the response is checked against, beyond its own shape.
#[derive(Clone, Copy, Debug)]
pub struct Expectation<'a> {
    /// The configured (request's) API version.
    pub api_version: ApiVersion,
    /// The service-account token the request carried, when the kubelet would refuse to see it
    /// echoed back (a token was sent and `tokenAttributes.cacheType` is not `Token`).
    pub forbidden_token: Option<&'a Secret>,
}

impl<'a> Expectation<'a> {
    /// Expect a response of `api_version`, with no token rule.
    pub fn new(api_version: ApiVersion) -> Self {
        Expectation {
            api_version,
            forbidden_token: None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireResponse<'a> {
    kind: &'static str,
    api_version: &'static str,
    cache_key_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_duration: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    auth: BTreeMap<&'a str, WireAuth<'a>>,
}

#[derive(Serialize)]
struct WireAuth<'a> {
    username: &'a str,
    password: &'a str,
}

const RESPONSE_FIELDS: &[&str] = &[
    "kind",
    "apiVersion",
    "cacheKeyType",
    "cacheDuration",
    "auth",
];
const AUTH_FIELDS: &[&str] = &["username", "password"];

impl Response {
    /// An answer with no credentials, `cacheDuration` left to the provider's default.
    pub fn new(api_version: ApiVersion, cache_key_type: CacheKeyType) -> Self {
        Response {
            api_version,
            cache_key_type,
            cache_duration: None,
            auth: BTreeMap::new(),
        }
    }

    /// The compact JSON a Go plugin would print (fields in the API type's order, map keys sorted,
    /// `cacheDuration` in Go's canonical form, empty `auth` omitted), without a newline.
    pub fn to_json(&self) -> String {
        let wire = WireResponse {
            kind: RESPONSE_KIND,
            api_version: self.api_version.as_str(),
            cache_key_type: self.cache_key_type.as_str(),
            cache_duration: self.cache_duration.map(|d| d.to_string()),
            auth: self
                .auth
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str(),
                        WireAuth {
                            username: &v.username,
                            password: v.password.expose(),
                        },
                    )
                })
                .collect(),
        };
        // Serialising strings and string maps cannot fail.
        serde_json::to_string(&wire).unwrap_or_default()
    }

    /// Decodes a plugin's stdout as the kubelet's `execPlugin` does, in its order: one JSON object
    /// (whitespace around it allowed, nothing else), `apiVersion` string-equal to the configured
    /// one, strict decoding (no unknown, duplicate or mis-cased fields, no type mismatches), kind,
    /// the service-account token echo rule, then `cacheKeyType`.
    pub fn decode(stdout: &[u8], expect: Expectation<'_>) -> Result<Self, ResponseError> {
        if stdout.iter().all(u8::is_ascii_whitespace) {
            return Err(ResponseError::Empty);
        }
        let value = json::parse(stdout)?;
        let object = json::top_object(&value)?;
        // 1. apiVersion, read before strict decoding (the kubelet reads the GVK first).
        let api_version =
            json::opt_string(object, "", "apiVersion")?.ok_or(ResponseError::MissingApiVersion)?;
        if api_version != expect.api_version.as_str() {
            return Err(ResponseError::ApiVersionMismatch {
                found: json::shown(json::Shown::ApiVersion, &api_version),
                expected: expect.api_version.as_str(),
            });
        }
        // 2. Strict decode.
        json::deny_unknown(object, "", RESPONSE_FIELDS)?;
        let kind = json::opt_string(object, "", "kind")?.unwrap_or_default();
        let cache_key_type = json::opt_string(object, "", "cacheKeyType")?.unwrap_or_default();
        let cache_duration = json::opt_string(object, "", "cacheDuration")?
            .map(|d| {
                GoDuration::parse(&d).map_err(|_| {
                    ResponseError::CacheDuration(json::shown(json::Shown::Duration, &d))
                })
            })
            .transpose()?;
        let mut auth = BTreeMap::new();
        if let Some(entries) = json::opt_object(object, "", "auth")? {
            let parent = json::key_path("", "auth");
            for (key, entry) in entries {
                let path = json::key_path(&parent, key);
                let creds = match entry {
                    serde_json::Value::Null => AuthConfig::default(),
                    serde_json::Value::Object(fields) => {
                        json::deny_unknown(fields, &path, AUTH_FIELDS)?;
                        AuthConfig {
                            username: json::opt_string(fields, &path, "username")?
                                .unwrap_or_default(),
                            password: json::opt_string(fields, &path, "password")?
                                .unwrap_or_default()
                                .into(),
                        }
                    }
                    other => {
                        return Err(JsonError::WrongType {
                            field: path,
                            expected: "an object",
                            found: json::type_name(other),
                        }
                        .into());
                    }
                };
                auth.insert(key.clone(), creds);
            }
        }
        // 3. Kind.
        if kind != RESPONSE_KIND {
            return Err(ResponseError::Kind(json::shown(json::Shown::Kind, &kind)));
        }
        // 4. Service-account token echo.
        let echoed = expect
            .forbidden_token
            .filter(|t| !t.is_empty())
            .and_then(|token| auth.iter().find(|(_, c)| c.password == *token));
        if let Some((key, _)) = echoed {
            return Err(ResponseError::EchoedServiceAccountToken(json::key_path(
                "", key,
            )));
        }
        // 5. cacheKeyType.
        let cache_key_type = CacheKeyType::from_wire(&cache_key_type).ok_or_else(|| {
            ResponseError::CacheKeyType(json::shown(json::Shown::CacheKeyType, &cache_key_type))
        })?;
        Ok(Response {
            api_version: expect.api_version,
            cache_key_type,
            cache_duration,
            auth,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "credentialprovider.kubelet.k8s.io/v1";

    fn decode_v1(raw: &str) -> Result<Response, ResponseError> {
        Response::decode(raw.as_bytes(), Expectation::new(ApiVersion::V1))
    }

    fn ok(rest: &str) -> String {
        format!(r#"{{"kind":"CredentialProviderResponse","apiVersion":"{V1}"{rest}}}"#)
    }

    #[test]
    fn accepts_well_formed_response() {
        let r = decode_v1(&ok(
            r#","cacheKeyType":"Registry","cacheDuration":"1m","auth":{"*.registry.io":{"username":"user","password":"password"}}"#,
        ))
        .unwrap();
        assert_eq!(r.cache_key_type, CacheKeyType::Registry);
        assert_eq!(r.cache_duration, Some(GoDuration::from_secs(60)));
        assert_eq!(r.auth["*.registry.io"].password.expose(), "password");
    }

    #[test]
    fn canonical_encoding_is_go_like() {
        let r = decode_v1(&format!(
            " \n{}\n",
            ok(r#","auth":{"b.io":{"password":"p"},"a.io":null},"cacheDuration":"90s","cacheKeyType":"Image""#)
        ))
        .unwrap();
        assert_eq!(
            r.to_json(),
            format!(
                r#"{{"kind":"CredentialProviderResponse","apiVersion":"{V1}","cacheKeyType":"Image","cacheDuration":"1m30s","auth":{{"a.io":{{"username":"","password":""}},"b.io":{{"username":"","password":"p"}}}}}}"#
            )
        );
    }

    #[test]
    fn null_fields_are_zero_values() {
        let r = decode_v1(&ok(
            r#","cacheKeyType":"Global","cacheDuration":null,"auth":null"#,
        ))
        .unwrap();
        assert_eq!(r.cache_duration, None);
        assert!(r.auth.is_empty());
    }

    #[test]
    fn rejects_each_rule() {
        type Check = fn(&ResponseError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("", |e| matches!(e, ResponseError::Empty)),
            (" \n", |e| matches!(e, ResponseError::Empty)),
            ("starting\n{}", |e| {
                matches!(e, ResponseError::Json(JsonError::Syntax(_)))
            }),
            (r#"{"apiVersion":"x"} done"#, |e| {
                matches!(e, ResponseError::Json(JsonError::Syntax(_)))
            }),
            ("[1]", |e| {
                matches!(e, ResponseError::Json(JsonError::WrongType { .. }))
            }),
            (
                r#"{"kind":"CredentialProviderResponse","cacheKeyType":"Image"}"#,
                |e| matches!(e, ResponseError::MissingApiVersion),
            ),
            (
                r#"{"kind":"CredentialProviderResponse","apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","cacheKeyType":"Image"}"#,
                |e| matches!(e, ResponseError::ApiVersionMismatch { .. }),
            ),
            (&ok(r#","cacheKeyType":"Image","expiresAt":"x""#), |e| {
                matches!(e, ResponseError::Json(JsonError::UnknownField(_)))
            }),
            (&ok(r#","CacheKeyType":"Image""#), |e| {
                matches!(e, ResponseError::Json(JsonError::UnknownField(_)))
            }),
            (
                &ok(
                    r#","cacheKeyType":"Image","auth":{"r.io":{"username":"u","password":"p","email":"e"}}"#,
                ),
                |e| matches!(e, ResponseError::Json(JsonError::UnknownField(_))),
            ),
            (
                &ok(r#","cacheKeyType":"Image","cacheKeyType":"Image""#),
                |e| matches!(e, ResponseError::Json(JsonError::DuplicateField(_))),
            ),
            (
                &ok(r#","cacheKeyType":"Image","auth":{"r.io":{},"r.io":{}}"#),
                |e| matches!(e, ResponseError::Json(JsonError::DuplicateField(_))),
            ),
            (
                &ok(r#","cacheKeyType":"Image","auth":{"r.io":{"username":1}}"#),
                |e| matches!(e, ResponseError::Json(JsonError::WrongType { .. })),
            ),
            (
                &ok(r#","cacheKeyType":"Image","auth":{"r.io":"secret"}"#),
                |e| matches!(e, ResponseError::Json(JsonError::WrongType { .. })),
            ),
            (
                &ok(r#","cacheKeyType":"Image","cacheDuration":3600"#),
                |e| matches!(e, ResponseError::Json(JsonError::WrongType { .. })),
            ),
            (
                &ok(r#","cacheKeyType":"Image","cacheDuration":"1d""#),
                |e| matches!(e, ResponseError::CacheDuration(_)),
            ),
            (&ok(r#","cacheKeyType":"registry""#), |e| {
                matches!(e, ResponseError::CacheKeyType(_))
            }),
            (&ok(""), |e| matches!(e, ResponseError::CacheKeyType(_))),
            (
                &format!(
                    r#"{{"kind":"CredentialProviderRequest","apiVersion":"{V1}","cacheKeyType":"Image"}}"#
                ),
                |e| matches!(e, ResponseError::Kind(_)),
            ),
        ];
        for (raw, check) in cases {
            let err = decode_v1(raw).expect_err(raw);
            assert!(check(&err), "{raw}: unexpected {err:?}");
        }
    }

    #[test]
    fn token_echo_is_refused_only_when_forbidden() {
        let raw =
            ok(r#","cacheKeyType":"Image","auth":{"r.io":{"username":"u","password":"tok"}}"#);
        let token = Secret::new("tok");
        let forbidding = Expectation {
            api_version: ApiVersion::V1,
            forbidden_token: Some(&token),
        };
        assert!(matches!(
            Response::decode(raw.as_bytes(), forbidding),
            Err(ResponseError::EchoedServiceAccountToken(_))
        ));
        assert!(Response::decode(raw.as_bytes(), Expectation::new(ApiVersion::V1)).is_ok());
    }

    #[test]
    fn errors_never_show_passwords() {
        let raws = [
            ok(r#","cacheKeyType":"Image","auth":{"r.io":"hunter2"}"#),
            ok(r#","cacheKeyType":"hunter2 x","auth":{"r.io":{"password":"hunter2"}}"#),
            ok(
                r#","cacheKeyType":"Image","auth":{"r.io":{"password":"hunter2","password":"hunter2"}}"#,
            ),
            ok(r#","cacheKeyType":"Image","cacheDuration":"hunter2 ""#),
        ];
        for raw in raws {
            let err = decode_v1(&raw).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{err}");
        }
    }
}
