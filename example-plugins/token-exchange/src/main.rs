//! `token-exchange`: registry credentials from an OAuth 2.0 token exchange (RFC 8693), the
//! pattern behind workload-identity image pulls. The same plugin is written in JavaScript
//! (`example-plugins/token-exchange-js`) and Python (`example-plugins/token-exchange-py`); the
//! three must answer byte for byte alike, so every message here has a twin there.
//!
//! Guest arguments (the host's `--arg`), each `--name=value`:
//! - `--endpoint=URL` (required): the token endpoint, `http://` or `https://`;
//! - `--registry=HOST` (required): the `auth` key the credentials answer for;
//! - `--audience=A`: sent as the form's `audience`;
//! - `--username=U`: the username beside the access token (default `oauth2accesstoken`).
//!
//! The subject token is the request's `serviceAccountToken` when present (the kubelet's
//! service-account token mode), else the granted environment variable `EXCHANGE_TOKEN`.

use std::process::ExitCode;

use credential_provider_sdk::http::{self, HttpError};
use credential_provider_sdk::{CacheKeyType, GoDuration, Request, Response, ResponseExt};

/// The environment variable holding the subject token when the request carries none.
const TOKEN_ENV: &str = "EXCHANGE_TOKEN";
/// The username registries expect beside an OAuth access token (GCR's and others' convention).
const DEFAULT_USERNAME: &str = "oauth2accesstoken";
/// RFC 8693 2.1: the grant type of a token exchange.
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// RFC 8693 3: the subject token is a JWT (a Kubernetes service-account token is one).
const SUBJECT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
/// The largest `expires_in` a Go duration holds (its nanoseconds fit an i64).
const MAX_EXPIRES_IN: f64 = 9_223_372_036.0;
/// The longest `error` code quoted in a message; RFC 6749's codes are far shorter.
const MAX_ERROR_CODE: usize = 64;

/// What the plugin is configured with, from its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Settings {
    endpoint: String,
    registry: String,
    audience: Option<String>,
    username: String,
}

impl Settings {
    fn from_args(args: impl IntoIterator<Item = String>) -> Result<Settings, String> {
        let (mut endpoint, mut registry, mut audience, mut username) = (None, None, None, None);
        for arg in args {
            let Some((name, value)) = arg.split_once('=') else {
                return Err(match arg.strip_prefix("--") {
                    Some(name) if is_flag(name) => {
                        format!("--{name} needs a value (--{name}=VALUE)")
                    }
                    _ => unknown_argument(&arg),
                });
            };
            let slot = match name {
                "--endpoint" => &mut endpoint,
                "--registry" => &mut registry,
                "--audience" => &mut audience,
                "--username" => &mut username,
                _ => return Err(unknown_argument(&arg)),
            };
            if value.is_empty() {
                return Err(format!("{name} needs a value ({name}=VALUE)"));
            }
            if slot.replace(value.to_owned()).is_some() {
                return Err(format!("{name} is given twice"));
            }
        }
        let endpoint = endpoint.ok_or("--endpoint=URL is required")?;
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err("--endpoint must be an http:// or https:// URL".into());
        }
        Ok(Settings {
            endpoint,
            registry: registry.ok_or("--registry=HOST is required")?,
            audience,
            username: username.unwrap_or_else(|| DEFAULT_USERNAME.to_owned()),
        })
    }

    /// The endpoint without its query (which may carry identifiers), for messages.
    fn endpoint_for_messages(&self) -> &str {
        self.endpoint
            .split(['?', '#'])
            .next()
            .unwrap_or(&self.endpoint)
    }
}

fn is_flag(name: &str) -> bool {
    matches!(name, "endpoint" | "registry" | "audience" | "username")
}

fn unknown_argument(arg: &str) -> String {
    let name = arg.split('=').next().unwrap_or(arg);
    format!(
        "unknown argument {name} (token-exchange takes --endpoint=, --registry=, --audience= and --username=)"
    )
}

/// Sends HTTP requests: the SDK's client in the plugin, a script in unit tests.
trait Transport {
    fn send(&self, request: http::Request) -> Result<http::Response, HttpError>;
}

/// The SDK's client (`wasi:http` under the host).
struct Sdk;

impl Transport for Sdk {
    fn send(&self, request: http::Request) -> Result<http::Response, HttpError> {
        request.send()
    }
}

/// Answers `request`: exchanges the subject token at the endpoint, answers with the access token.
fn provide(
    request: &Request,
    settings: &Settings,
    env_token: Option<String>,
    transport: &dyn Transport,
) -> Result<Response, String> {
    let subject = match &request.service_account_token {
        Some(token) => token.expose().to_owned(),
        None => env_token.filter(|t| !t.is_empty()).ok_or_else(|| {
            format!(
                "no subject token: the request has no serviceAccountToken and {TOKEN_ENV} is not set (grant it with --env {TOKEN_ENV})"
            )
        })?,
    };
    let mut fields = vec![
        ("grant_type", GRANT_TYPE),
        ("subject_token", subject.as_str()),
        ("subject_token_type", SUBJECT_TOKEN_TYPE),
    ];
    if let Some(audience) = &settings.audience {
        fields.push(("audience", audience));
    }
    let endpoint = settings.endpoint_for_messages();
    let reply = transport
        .send(
            http::Request::post(&settings.endpoint)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Accept", "application/json")
                .body(form(&fields)),
        )
        .map_err(|err| format!("token exchange at {endpoint} failed: {err}"))?;
    if reply.status != 200 {
        return Err(match error_code(&reply.body, &subject) {
            Some(code) => {
                format!(
                    "token endpoint {endpoint} answered status {} with error {code}",
                    reply.status
                )
            }
            None => format!(
                "token endpoint {endpoint} answered status {} without an RFC 6749 error code",
                reply.status
            ),
        });
    }
    let grant = Grant::parse(&reply.body)
        .map_err(|why| format!("token endpoint {endpoint} answered 200 but not a token: {why}"))?;
    let mut response = Response::builder(request)
        .cache_key_type(CacheKeyType::Registry)
        .credential(&settings.registry, &settings.username, grant.access_token);
    if let Some(seconds) = grant.expires_in {
        response = response.cache_duration(GoDuration::from_secs(seconds));
    }
    Ok(response.build())
}

/// The part of a successful token response (RFC 8693 2.2.1) the plugin uses.
struct Grant {
    access_token: String,
    expires_in: Option<i64>,
}

impl Grant {
    /// Reads `access_token` and `expires_in`; the reason never quotes the body.
    fn parse(body: &[u8]) -> Result<Grant, String> {
        // Whatever serde_json would say quotes the body: a JSON object is all that is asked.
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| "not a JSON object".to_owned())?;
        let object = value.as_object().ok_or("not a JSON object")?;
        let access_token = match object.get("access_token") {
            Some(serde_json::Value::String(token)) if !token.is_empty() => token.clone(),
            _ => return Err("access_token is missing or empty".into()),
        };
        let expires_in = match object.get("expires_in") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Number(n)) => match n.as_f64() {
                Some(s) if s.fract() == 0.0 && (0.0..=MAX_EXPIRES_IN).contains(&s) => {
                    // Integral and within the range checked just above: the cast is exact.
                    Some(s as i64)
                }
                _ => {
                    return Err(
                        "expires_in is not a whole number of seconds a Go duration holds".into(),
                    );
                }
            },
            Some(_) => {
                return Err(
                    "expires_in is not a whole number of seconds a Go duration holds".into(),
                );
            }
        };
        Ok(Grant {
            access_token,
            expires_in,
        })
    }
}

/// The RFC 6749 (5.2) `error` code of an error reply, if it is one: lowercase letters, digits
/// and `_`, at most [`MAX_ERROR_CODE`] long, and not the subject token. Anything else is not
/// quoted, so a hostile endpoint cannot make the plugin print a token.
fn error_code(body: &[u8], subject: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = value.as_object()?.get("error")?.as_str()?;
    let well_formed = code.len() <= MAX_ERROR_CODE
        && code.starts_with(|c: char| c.is_ascii_lowercase())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    (well_formed && code != subject).then(|| code.to_owned())
}

/// `application/x-www-form-urlencoded`: RFC 3986's unreserved characters as they are, every
/// other byte as `%XX`. Written out (not a crate) because the JavaScript and Python twins encode
/// exactly the same way, so the three send the same bytes.
fn form(fields: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        let mut out = String::with_capacity(text.len());
        for b in text.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    out.push(char::from(b))
                }
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    };
    fields
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn main() -> ExitCode {
    credential_provider_sdk::run(|request: &Request| {
        let settings = Settings::from_args(std::env::args().skip(1))?;
        provide(request, &settings, std::env::var(TOKEN_ENV).ok(), &Sdk)
    })
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use credential_provider_sdk::handle;

    use super::*;

    const V1: &str = r#"{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"registry.example.com/app"}"#;
    const V1_TOKEN: &str = r#"{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"registry.example.com/app","serviceAccountToken":"sa.jwt.token"}"#;
    const V1BETA1: &str = r#"{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","image":"registry.example.com/app"}"#;

    /// Answers every request with one reply and records the requests.
    struct Script {
        reply: Result<http::Response, HttpError>,
        sent: RefCell<Vec<http::Request>>,
    }

    impl Script {
        fn new(status: u16, body: &str) -> Script {
            Script {
                reply: Ok(http::Response {
                    status,
                    headers: Vec::new(),
                    body: body.as_bytes().to_vec(),
                }),
                sent: RefCell::new(Vec::new()),
            }
        }
    }

    impl Transport for Script {
        fn send(&self, request: http::Request) -> Result<http::Response, HttpError> {
            self.sent.borrow_mut().push(request);
            self.reply.clone()
        }
    }

    fn settings(extra: &[&str]) -> Settings {
        let mut args = vec![
            "--endpoint=http://127.0.0.1:9/token?tenant=t1".to_owned(),
            "--registry=registry.example.com".to_owned(),
        ];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        Settings::from_args(args).unwrap()
    }

    fn answer(
        input: &str,
        settings: &Settings,
        env: Option<&str>,
        t: &Script,
    ) -> Result<String, String> {
        handle(input.as_bytes(), |r: &Request| {
            provide(r, settings, env.map(str::to_owned), t)
        })
    }

    const GRANT: &str = r#"{"access_token":"at-123","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":3600}"#;

    #[test]
    fn exchanges_the_env_token_and_answers_in_the_request_version() {
        let t = Script::new(200, GRANT);
        let out = answer(V1BETA1, &settings(&[]), Some("env.jwt"), &t).unwrap();
        assert_eq!(
            out,
            r#"{"kind":"CredentialProviderResponse","apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","cacheKeyType":"Registry","cacheDuration":"1h0m0s","auth":{"registry.example.com":{"username":"oauth2accesstoken","password":"at-123"}}}"#
        );
        let sent = t.sent.borrow();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].method, "POST");
        assert_eq!(sent[0].url, "http://127.0.0.1:9/token?tenant=t1");
        assert!(sent[0].headers.contains(&(
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into()
        )));
        assert_eq!(
            String::from_utf8_lossy(&sent[0].body),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=env.jwt&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt"
        );
    }

    #[test]
    fn the_request_token_wins_over_the_env_and_audience_and_username_apply() {
        let t = Script::new(200, r#"{"access_token":"at-9","expires_in":90}"#);
        let s = settings(&["--audience=registry reader", "--username=robot"]);
        let out = answer(V1_TOKEN, &s, Some("env.jwt"), &t).unwrap();
        assert!(out.contains(r#""cacheDuration":"1m30s""#), "{out}");
        assert!(
            out.contains(r#""registry.example.com":{"username":"robot","password":"at-9"}"#),
            "{out}"
        );
        let body = String::from_utf8_lossy(&t.sent.borrow()[0].body).into_owned();
        assert!(body.contains("&subject_token=sa.jwt.token&"), "{body}");
        assert!(body.ends_with("&audience=registry%20reader"), "{body}");
    }

    #[test]
    fn no_expires_in_means_no_cache_duration() {
        let t = Script::new(200, r#"{"access_token":"at"}"#);
        let out = answer(V1, &settings(&[]), Some("e"), &t).unwrap();
        assert!(!out.contains("cacheDuration"), "{out}");
    }

    #[test]
    fn without_any_token_nothing_is_sent() {
        let t = Script::new(200, GRANT);
        let err = answer(V1, &settings(&[]), None, &t).unwrap_err();
        assert_eq!(
            err,
            "no subject token: the request has no serviceAccountToken and EXCHANGE_TOKEN is not set (grant it with --env EXCHANGE_TOKEN)"
        );
        assert!(t.sent.borrow().is_empty());
        assert!(answer(V1, &settings(&[]), Some(""), &t).is_err());
    }

    #[test]
    fn an_error_status_names_the_status_and_the_error_code_never_the_token() {
        let t = Script::new(
            400,
            r#"{"error":"invalid_grant","error_description":"token env.jwt expired"}"#,
        );
        let err = answer(V1, &settings(&[]), Some("env.jwt"), &t).unwrap_err();
        assert_eq!(
            err,
            "token endpoint http://127.0.0.1:9/token answered status 400 with error invalid_grant"
        );
        for body in [
            "not json",
            r#"{"error":"env.jwt"}"#,
            r#"{"error":"Bad Code"}"#,
            r#"{"error":7}"#,
        ] {
            let t = Script::new(401, body);
            let err = answer(V1, &settings(&[]), Some("env.jwt"), &t).unwrap_err();
            assert_eq!(
                err,
                "token endpoint http://127.0.0.1:9/token answered status 401 without an RFC 6749 error code",
                "{body}"
            );
        }
        // A token-shaped code is still never quoted when it is the subject token.
        let t = Script::new(403, r#"{"error":"abc"}"#);
        let err = answer(V1, &settings(&[]), Some("abc"), &t).unwrap_err();
        assert!(err.ends_with("without an RFC 6749 error code"), "{err}");
    }

    #[test]
    fn a_malformed_grant_is_refused_without_quoting_it() {
        for (body, why) in [
            ("[]", "not a JSON object"),
            ("<html>secret-at</html>", "not a JSON object"),
            (r#"{"access_token":""}"#, "access_token is missing or empty"),
            (
                r#"{"access_token":"secret-at","expires_in":"3600"}"#,
                "expires_in is not a whole number of seconds a Go duration holds",
            ),
            (
                r#"{"access_token":"secret-at","expires_in":1.5}"#,
                "expires_in is not a whole number of seconds a Go duration holds",
            ),
            (
                r#"{"access_token":"secret-at","expires_in":-1}"#,
                "expires_in is not a whole number of seconds a Go duration holds",
            ),
            (
                r#"{"access_token":"secret-at","expires_in":1e12}"#,
                "expires_in is not a whole number of seconds a Go duration holds",
            ),
        ] {
            let t = Script::new(200, body);
            let err = answer(V1, &settings(&[]), Some("e"), &t).unwrap_err();
            assert_eq!(
                err,
                format!(
                    "token endpoint http://127.0.0.1:9/token answered 200 but not a token: {why}"
                )
            );
            assert!(!err.contains("secret-at"));
        }
        let t = Script::new(200, r#"{"access_token":"at","expires_in":3600.0}"#);
        assert!(
            answer(V1, &settings(&[]), Some("e"), &t)
                .unwrap()
                .contains("1h0m0s")
        );
    }

    #[test]
    fn a_transport_failure_names_the_endpoint() {
        let t = Script {
            reply: Err(HttpError::Denied("destination not allowed".into())),
            sent: RefCell::new(Vec::new()),
        };
        let err = answer(V1, &settings(&[]), Some("e"), &t).unwrap_err();
        assert!(
            err.starts_with("token exchange at http://127.0.0.1:9/token failed: "),
            "{err}"
        );
    }

    #[test]
    fn arguments_are_checked() {
        let parse = |args: &[&str]| Settings::from_args(args.iter().map(|a| (*a).to_owned()));
        assert_eq!(
            parse(&["--registry=r"]).unwrap_err(),
            "--endpoint=URL is required"
        );
        assert_eq!(
            parse(&["--endpoint=http://e/"]).unwrap_err(),
            "--registry=HOST is required"
        );
        assert_eq!(
            parse(&["--endpoint=ftp://e/", "--registry=r"]).unwrap_err(),
            "--endpoint must be an http:// or https:// URL"
        );
        assert_eq!(
            parse(&["--endpoint"]).unwrap_err(),
            "--endpoint needs a value (--endpoint=VALUE)"
        );
        assert_eq!(
            parse(&["--audience="]).unwrap_err(),
            "--audience needs a value (--audience=VALUE)"
        );
        assert_eq!(
            parse(&["--registry=a", "--registry=b"]).unwrap_err(),
            "--registry is given twice"
        );
        assert_eq!(
            parse(&["--scope=x"]).unwrap_err(),
            "unknown argument --scope (token-exchange takes --endpoint=, --registry=, --audience= and --username=)"
        );
        assert!(
            parse(&["get-credentials"])
                .unwrap_err()
                .starts_with("unknown argument get-credentials")
        );
        let s = parse(&["--endpoint=https://sts.example/t", "--registry=r.io"]).unwrap();
        assert_eq!(s.username, "oauth2accesstoken");
        assert_eq!(s.audience, None);
    }

    #[test]
    fn form_encoding_keeps_only_unreserved_characters() {
        assert_eq!(form(&[("a b", "x+y/z~é")]), "a%20b=x%2By%2Fz~%C3%A9");
    }
}
