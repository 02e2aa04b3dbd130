//! `validate-response`: would the kubelet accept this plugin output? The kubelet's acceptance
//! pipeline (`Response::decode`) applied to stdin, for any plugin, native or wasm.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use credential_provider_protocol::{ApiVersion, Expectation, Request, Response, ResponseError};

use super::{EXIT_NO, EXIT_USAGE, EXIT_YES, usage_error};
use crate::args::TokenCacheArg;
use crate::run::TokenCacheType;

/// Largest plugin output read (the kubelet has no limit; this only bounds the tool's memory).
const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// The `--help` text of the subcommand (the variant in `cli.rs` refers to it).
pub const LONG_ABOUT: &str = "Check a plugin's stdout, read on stdin, against the kubelet's response \
        acceptance rules, in the kubelet's order: one JSON object with only whitespace around \
        it; apiVersion string-equal to the provider's configured one; strict decoding (no \
        unknown, duplicate or mis-cased fields, no type mismatches, inside auth entries too); \
        kind CredentialProviderResponse; the service-account token echo rule; cacheKeyType \
        Image, Registry or Global; cacheDuration a Go duration string.\n\n\
        --request gives the request the plugin answered (its apiVersion, and its \
        serviceAccountToken for the echo rule, which --token-cache-type Token lifts).\n\n\
        Exit status: 0 the kubelet would accept it, 1 it would discard it (the reason is \
        printed), 2 bad usage.\n\n\
        Example:\n  ./my-plugin < request.json | wasm-credential-provider validate-response \\\n      \
        --api-version credentialprovider.kubelet.k8s.io/v1";

/// Arguments of `validate-response`.
#[derive(Debug, Args)]
pub struct ValidateResponseArgs {
    /// The provider's configured apiVersion (credentialprovider.kubelet.k8s.io/v1, /v1beta1,
    /// /v1alpha1; the short forms v1, v1beta1, v1alpha1 are accepted). Defaults to the
    /// request's with --request.
    #[arg(long = "api-version", value_name = "VERSION")]
    pub api_version: Option<String>,
    /// The CredentialProviderRequest the plugin answered (JSON file).
    #[arg(long, value_name = "FILE")]
    pub request: Option<PathBuf>,
    /// `--token-cache-type`.
    #[command(flatten)]
    pub token_cache: TokenCacheArg,
}

/// Runs `validate-response` on the process's stdin.
pub fn main(args: &ValidateResponseArgs) -> ExitCode {
    let mut stdout = Vec::new();
    if let Err(err) = std::io::stdin()
        .lock()
        .take(MAX_RESPONSE_BYTES)
        .read_to_end(&mut stdout)
    {
        return usage_error(
            "validate-response",
            &format!("reading stdin: {err}"),
            EXIT_USAGE,
        );
    }
    let request = match &args.request {
        None => None,
        Some(path) => match std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| Request::decode(&bytes).map_err(|e| e.to_string()))
        {
            Ok(request) => Some(request),
            Err(err) => {
                return usage_error(
                    "validate-response",
                    &format!("--request {}: {err}", path.display()),
                    EXIT_USAGE,
                );
            }
        },
    };
    let api_version = match expected_version(args.api_version.as_deref(), request.as_ref()) {
        Ok(version) => version,
        Err(message) => return usage_error("validate-response", &message, EXIT_USAGE),
    };
    let verdict = validate(
        &stdout,
        api_version,
        request.as_ref(),
        args.token_cache.token_cache_type,
    );
    let mut out = std::io::stdout().lock();
    match verdict {
        Ok(response) => {
            let _ = write!(out, "{}", describe(&response));
            ExitCode::from(EXIT_YES)
        }
        Err(err) => {
            let _ = writeln!(out, "rejected: {err}");
            ExitCode::from(EXIT_NO)
        }
    }
}

/// The apiVersion to expect: `--api-version` (full or short form), else the request's; both
/// given must agree.
pub fn expected_version(
    given: Option<&str>,
    request: Option<&Request>,
) -> Result<ApiVersion, String> {
    let parsed = given
        .map(|v| {
            let full = if v.contains('/') {
                v.to_owned()
            } else {
                format!("{}/{v}", credential_provider_protocol::api::GROUP)
            };
            full.parse::<ApiVersion>()
                .map_err(|e| format!("--api-version: {e}"))
        })
        .transpose()?;
    match (parsed, request) {
        (Some(v), Some(r)) if v != r.api_version => Err(format!(
            "--api-version {v} differs from the request's {}",
            r.api_version
        )),
        (Some(v), _) => Ok(v),
        (None, Some(r)) => Ok(r.api_version),
        (None, None) => Err("--api-version is required (or give --request)".into()),
    }
}

/// The kubelet's verdict on `stdout`.
pub fn validate(
    stdout: &[u8],
    api_version: ApiVersion,
    request: Option<&Request>,
    token_cache_type: TokenCacheType,
) -> Result<Response, ResponseError> {
    let forbidden_token = token_cache_type.forbidden_token(request);
    Response::decode(
        stdout,
        Expectation {
            api_version,
            forbidden_token,
        },
    )
}

/// What the kubelet does with an accepted response, passwords never shown.
pub fn describe(response: &Response) -> String {
    let mut out = format!(
        "accepted: {} response, cacheKeyType {}, ",
        response.api_version, response.cache_key_type
    );
    match response.cache_duration {
        None => {
            out.push_str("cacheDuration omitted (the provider's defaultCacheDuration applies)\n")
        }
        Some(d) if d.as_nanos() == 0 => out.push_str("cacheDuration 0s (not cached)\n"),
        Some(d) if d.is_negative() => {
            out.push_str(&format!("cacheDuration {d} (negative: not cached)\n"))
        }
        Some(d) => out.push_str(&format!("cacheDuration {d}\n")),
    }
    if response.auth.is_empty() {
        out.push_str("no credentials\n");
    }
    for (key, creds) in &response.auth {
        let shown_key = credential_provider_protocol::matching::normalize_auth_key(key)
            .map(|k| {
                if &k == key {
                    String::new()
                } else {
                    format!(" (indexed as {k})")
                }
            })
            .unwrap_or_else(|| " (does not parse: the kubelet ignores it)".into());
        out.push_str(&format!(
            "auth {key}{shown_key}: username {:?}, password {}\n",
            creds.username,
            if creds.password.is_empty() {
                "empty"
            } else {
                "<redacted>"
            }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const VECTORS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/spec/conformance-vectors.json"
    );

    const KNOWN_FIELDS: &[&str] = &[
        "id",
        "requestApiVersion",
        "raw",
        "expected",
        "reason",
        "effect",
        "mode",
        "source",
    ];

    /// `Some(accepted)` for a case validate-response can judge; `None` when the plugin's exit
    /// status already decides (stdout is never read: the simulate tests cover those).
    fn verdict(case: &Value) -> Result<Option<bool>, String> {
        let object = case.as_object().ok_or("case is not an object")?;
        if let Some(unknown) = object.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
            return Err(format!(
                "unknown case field {unknown:?}: teach this test about it"
            ));
        }
        let version: ApiVersion = case["requestApiVersion"]
            .as_str()
            .ok_or("requestApiVersion")?
            .parse()
            .map_err(|e| format!("{e}"))?;
        let raw = case["raw"].as_str().ok_or("raw")?;
        let mut request = Request::new(version, "test.registry.io/foo/bar");
        let mut cache_type = TokenCacheType::ServiceAccount;
        if let Some(mode) = case.get("mode") {
            for (key, value) in mode.as_object().ok_or("mode")? {
                match key.as_str() {
                    "exitCode" if value.as_i64() != Some(0) => return Ok(None),
                    "exitCode" => {}
                    "serviceAccountToken" => {
                        request.service_account_token = value.as_str().map(Into::into);
                    }
                    "cacheType" => {
                        cache_type = match value.as_str() {
                            Some("Token") => TokenCacheType::Token,
                            Some("ServiceAccount") => TokenCacheType::ServiceAccount,
                            other => return Err(format!("unknown cacheType {other:?}")),
                        };
                    }
                    other => return Err(format!("unknown mode field {other:?}")),
                }
            }
        }
        Ok(Some(
            validate(raw.as_bytes(), version, Some(&request), cache_type).is_ok(),
        ))
    }

    #[test]
    fn shared_response_vectors() {
        let text = std::fs::read_to_string(VECTORS).expect("read vectors");
        let vectors: Value = serde_json::from_str(&text).expect("JSON");
        let cases = vectors["responses"].as_array().expect("a responses list");
        assert!(!cases.is_empty());
        let mut failures = Vec::new();
        for case in cases {
            let id = case["id"].as_str().unwrap_or("?");
            let expected = match case["expected"].as_str() {
                Some("accept") => true,
                Some("reject") => false,
                other => {
                    failures.push(format!("{id}: unknown expected {other:?}"));
                    continue;
                }
            };
            match verdict(case) {
                Ok(Some(accepted)) if accepted != expected => {
                    failures.push(format!("{id}: accepted={accepted}, expected {expected}"));
                }
                Ok(Some(_)) => {}
                // Decided by the exit status: the kubelet rejects whatever stdout says.
                Ok(None) if expected => {
                    failures.push(format!("{id}: non-zero exit expected to accept"))
                }
                Ok(None) => {}
                Err(why) => failures.push(format!("{id}: {why}")),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn unknown_case_fields_fail() {
        let case = serde_json::json!({"id": "X", "requestApiVersion": "credentialprovider.kubelet.k8s.io/v1", "raw": "", "expected": "reject", "newThing": 1});
        assert!(verdict(&case).unwrap_err().contains("unknown case field"));
        let case = serde_json::json!({"id": "X", "requestApiVersion": "credentialprovider.kubelet.k8s.io/v1", "raw": "", "expected": "reject", "mode": {"stdinClosed": true}});
        assert!(verdict(&case).unwrap_err().contains("unknown mode field"));
    }

    #[test]
    fn versions() {
        assert_eq!(
            expected_version(Some("v1beta1"), None).unwrap(),
            ApiVersion::V1Beta1
        );
        assert_eq!(
            expected_version(Some("credentialprovider.kubelet.k8s.io/v1"), None).unwrap(),
            ApiVersion::V1
        );
        assert!(expected_version(Some("v2"), None).is_err());
        assert!(expected_version(None, None).is_err());
        let request = Request::new(ApiVersion::V1, "r.io/a");
        assert_eq!(
            expected_version(None, Some(&request)).unwrap(),
            ApiVersion::V1
        );
        assert!(expected_version(Some("v1alpha1"), Some(&request)).is_err());
    }

    #[test]
    fn token_echo_depends_on_cache_type() {
        let mut request = Request::new(ApiVersion::V1, "r.io/a");
        request.service_account_token = Some("tok".into());
        let raw = br#"{"kind":"CredentialProviderResponse","apiVersion":"credentialprovider.kubelet.k8s.io/v1","cacheKeyType":"Image","auth":{"r.io":{"username":"u","password":"tok"}}}"#;
        assert!(matches!(
            validate(
                raw,
                ApiVersion::V1,
                Some(&request),
                TokenCacheType::ServiceAccount
            ),
            Err(ResponseError::EchoedServiceAccountToken(_))
        ));
        assert!(validate(raw, ApiVersion::V1, Some(&request), TokenCacheType::Token).is_ok());
        assert!(validate(raw, ApiVersion::V1, None, TokenCacheType::ServiceAccount).is_ok());
    }

    #[test]
    fn description_never_shows_passwords() {
        let raw = br#"{"kind":"CredentialProviderResponse","apiVersion":"credentialprovider.kubelet.k8s.io/v1","cacheKeyType":"Registry","cacheDuration":"90s","auth":{"https://r.io/v2/":{"username":"u","password":"hunter2"}}}"#;
        let response = validate(raw, ApiVersion::V1, None, TokenCacheType::ServiceAccount).unwrap();
        let text = describe(&response);
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("cacheDuration 1m30s"), "{text}");
        assert!(text.contains("(indexed as r.io)"), "{text}");
    }
}
