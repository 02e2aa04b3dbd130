//! `auth-provider-gcp`: GCP Artifact Registry and GCR credentials from the GCE metadata server or
//! workload-identity STS, a sandboxed port of Kubernetes' `auth-provider-gcp`
//! (kubernetes/cloud-provider-gcp `cmd/auth-provider-gcp`).
//!
//! Guest arguments (the host's `--arg`), as the real plugin takes them:
//! - `get-credentials` (required subcommand);
//! - `--authFlow`/`-a` `gcr|dockercfg|dockercfg-url` (default `gcr`);
//! - `--identity-provider URL` (needs `--project-id PROJECT`): in the `gcr` flow, requests whose
//!   service account has the annotation `iam.gke.io/enable-wi-image-pull: "true"` get the
//!   pod's own identity (the request's service-account token exchanged at STS) and never the
//!   node's: without a token, or when STS fails, the answer is an empty `auth`;
//! - `--v`/`-v N` (log verbosity; accepted and ignored).
//!
//! in cobra/pflag's grammar (`--name value`, `--name=value`, `-a value`, `-avalue`), read with
//! the SDK's [`credential_provider_sdk::args`].
//!
//! Environment (granted with the host's `--env NAME`):
//! - `KUBE_SIDECAR_CACHE_TYPE`: `image` (default), `registry` or `global`;
//! - `KUBE_SIDECAR_CACHE_DURATION`: a Go duration; unset means `0s` (no caching), as the real
//!   plugin answers;
//! - `GCE_METADATA_HOST`: `host[:port]` of the metadata server instead of `169.254.169.254`, as
//!   Google's metadata client libraries honour it.
//!
//! The metadata server is addressed by its IP literal `169.254.169.254` (as Google's Go metadata
//! library does), not by `metadata.google.internal.`: no name resolution is involved, and the
//! host's `--allow-http=http://169.254.169.254/computeMetadata/v1` permits exactly that
//! link-local address.
//!
//! Errors talking to the metadata server or STS give an empty `auth` and exit 0, the real
//! plugin's documented behaviour, with one line on stderr saying why. A request the host's policy
//! refuses, or bad arguments, fail the run instead: those are configuration mistakes.

use std::collections::BTreeMap;
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use credential_provider_sdk::args::{Arg, Args};
use credential_provider_sdk::http::{self, HttpError, Network, Transport};
use credential_provider_sdk::{
    CacheKeyType, GoDuration, Request, Response, ResponseExt, describe_json_error, registry_of,
};
use serde::Deserialize;

/// The metadata server's default `host[:port]`.
const DEFAULT_METADATA_HOST: &str = "169.254.169.254";
/// The workload-identity token exchange endpoint.
const STS_TOKEN_URL: &str = "https://sts.googleapis.com/v1/token";
/// The service-account annotation that opts a workload into workload-identity image pulls.
const WI_ANNOTATION: &str = "iam.gke.io/enable-wi-image-pull";
/// The `User-Agent` the real plugin sends to the metadata server and to STS.
const USER_AGENT: &str = "GKE auth-provider-gcp image pull";
/// The `User-Agent` the real plugin sends to the URL `google-dockercfg-url` names: it sends
/// that request with no headers of its own, so Go's `net/http` puts its default. Sent here so
/// the request looks the same on the wire.
const DOCKERCFG_URL_USER_AGENT: &str = "Go-http-client/1.1";
/// The `.dockercfg` `auth` field's base64: standard alphabet, padded or not (the real plugin
/// tries `StdEncoding` when the field ends in `=`, `RawStdEncoding` otherwise).
const DOCKERCFG_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
/// The username GCR and Artifact Registry expect with an OAuth access token.
const TOKEN_USERNAME: &str = "_token";
/// The registries the real plugin answers for, besides the image's own.
const GCR_KEYS: [&str; 4] = [
    "container.cloud.google.com",
    "gcr.io",
    "*.gcr.io",
    "*.pkg.dev",
];

/// Which credentials to look up (`--authFlow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AuthFlow {
    /// The node's service-account token from the metadata server.
    Gcr,
    /// The instance attribute `google-dockercfg` (a `.dockercfg` JSON).
    DockerCfg,
    /// The instance attribute `google-dockercfg-url`: a URL serving a `.dockercfg` JSON.
    DockerCfgUrl,
}

impl AuthFlow {
    /// The flow named by `--authFlow`.
    fn parse(value: &str) -> Result<AuthFlow, String> {
        match value {
            "gcr" => Ok(AuthFlow::Gcr),
            "dockercfg" => Ok(AuthFlow::DockerCfg),
            "dockercfg-url" => Ok(AuthFlow::DockerCfgUrl),
            other => Err(format!(
                "must be gcr, dockercfg or dockercfg-url, not {other:?}"
            )),
        }
    }

    /// The flag value naming this flow.
    fn name(self) -> &'static str {
        match self {
            AuthFlow::Gcr => "gcr",
            AuthFlow::DockerCfg => "dockercfg",
            AuthFlow::DockerCfgUrl => "dockercfg-url",
        }
    }
}

/// Everything the plugin is configured with, from its arguments and environment.
#[derive(Clone, Debug, PartialEq)]
struct Settings {
    flow: AuthFlow,
    identity_provider: Option<String>,
    project_id: Option<String>,
    cache_key_type: CacheKeyType,
    cache_duration: GoDuration,
    metadata_host: String,
}

impl Settings {
    fn from_args_and_env(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let mut subcommand = None;
        let mut flow = AuthFlow::Gcr;
        let mut identity_provider = None;
        let mut project_id = None;
        let mut args = Args::new(args);
        while let Some(arg) = args.next()? {
            match arg {
                Arg::Long("authFlow") | Arg::Short('a') => flow = args.parse(AuthFlow::parse)?,
                Arg::Long("identity-provider") => identity_provider = Some(args.value()?),
                Arg::Long("project-id") => project_id = Some(args.value()?),
                // klog's verbosity, which the real plugin takes as `--v` or `-v`.
                Arg::Long("v") | Arg::Short('v') => drop(args.value()?),
                Arg::Positional(word) if subcommand.is_none() => subcommand = Some(word),
                other => return Err(other.unexpected().into()),
            }
        }
        match subcommand.as_deref() {
            Some("get-credentials") => {}
            Some(other) => {
                return Err(format!(
                    "unknown subcommand {other:?} (expected get-credentials)"
                ));
            }
            None => {
                return Err(
                    "missing subcommand get-credentials (pass --arg get-credentials)".into(),
                );
            }
        }
        let identity_provider = identity_provider.filter(|p| !p.is_empty());
        let project_id = project_id.filter(|p| !p.is_empty());
        if identity_provider.is_some() && project_id.is_none() {
            // The real plugin's ErrProjectIDRequired.
            return Err("--project-id is required when --identity-provider is set".into());
        }
        let cache_key_type = match env("KUBE_SIDECAR_CACHE_TYPE")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("") | Some("image") => CacheKeyType::Image,
            Some("registry") => CacheKeyType::Registry,
            Some("global") => CacheKeyType::Global,
            Some(other) => {
                return Err(format!(
                    "KUBE_SIDECAR_CACHE_TYPE must be image, registry or global, not {other:?}"
                ));
            }
        };
        let cache_duration = match env("KUBE_SIDECAR_CACHE_DURATION").as_deref() {
            None | Some("") => GoDuration::ZERO,
            Some(text) => {
                let d = GoDuration::parse(text)
                    .map_err(|e| format!("KUBE_SIDECAR_CACHE_DURATION: {e}"))?;
                if d.is_negative() {
                    return Err("KUBE_SIDECAR_CACHE_DURATION must not be negative".into());
                }
                d
            }
        };
        let metadata_host = match env("GCE_METADATA_HOST") {
            Some(host) if !host.is_empty() => {
                if host.contains(['/', '?', '#', '@']) || host.chars().any(char::is_whitespace) {
                    return Err("GCE_METADATA_HOST must be host[:port]".into());
                }
                host
            }
            _ => DEFAULT_METADATA_HOST.to_owned(),
        };
        Ok(Settings {
            flow,
            identity_provider,
            project_id,
            cache_key_type,
            cache_duration,
            metadata_host,
        })
    }

    fn metadata_url(&self, path: &str) -> String {
        format!("http://{}/computeMetadata/v1/{path}", self.metadata_host)
    }

    /// The workload-identity audience, when `--identity-provider` (and so `--project-id`) is
    /// set.
    fn wi_audience(&self) -> Option<String> {
        let (provider, project) = (self.identity_provider.as_ref()?, self.project_id.as_ref()?);
        Some(format!(
            "identitynamespace:{project}.svc.id.goog:{provider}"
        ))
    }
}

/// Why no credentials could be found.
#[derive(Debug, PartialEq)]
enum Failure {
    /// The real plugin's fallback applies: answer with an empty `auth`, exit 0, log this.
    Soft(String),
    /// A configuration mistake (the host's policy refused the request): fail the run.
    Hard(String),
}

/// Maps a transport error: a policy refusal is the operator's mistake, the rest is the cloud's.
fn http_failure(what: &str, url: &str, err: HttpError) -> Failure {
    match err {
        HttpError::Denied(_) => Failure::Hard(format!(
            "{what}: the host refused the request to {} (add it to --allow-http)",
            origin_and_path(url)
        )),
        HttpError::Unsupported => Failure::Hard(format!("{what}: {err}")),
        other => Failure::Soft(format!("{what}: {other}")),
    }
}

/// `url` without its query string (which may carry identifiers), for messages.
fn origin_and_path(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// GET from the metadata server; non-200 is a failure, as in the real plugin.
fn metadata_get(t: &dyn Transport, settings: &Settings, path: &str) -> Result<Vec<u8>, Failure> {
    let url = settings.metadata_url(path);
    let what = format!("metadata server {}", origin_and_path(&url));
    let response = t
        .send(
            http::Request::get(&url)
                .header("Metadata-Flavor", "Google")
                .header("User-Agent", USER_AGENT),
        )
        .map_err(|e| http_failure(&what, &url, e))?;
    if response.status != 200 {
        return Err(Failure::Soft(format!("{what}: status {}", response.status)));
    }
    Ok(response.body)
}

/// The OAuth token reply of the metadata server and of STS.
#[derive(Deserialize)]
struct TokenReply {
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// Decodes a token reply; a missing or empty token, or one already expired, is a failure.
fn access_token(what: &str, body: &[u8]) -> Result<String, Failure> {
    let reply: TokenReply = serde_json::from_slice(body).map_err(|e| {
        Failure::Soft(format!(
            "{what}: malformed token reply: {}",
            describe_json_error(&e)
        ))
    })?;
    if reply.access_token.is_empty() {
        return Err(Failure::Soft(format!(
            "{what}: token reply has no access_token"
        )));
    }
    if reply.expires_in.is_some_and(|s| s <= 0) {
        return Err(Failure::Soft(format!("{what}: the token has expired")));
    }
    Ok(reply.access_token)
}

/// The gcr flow: node service account token (and email, as the real plugin reads it).
fn gcr_token(t: &dyn Transport, settings: &Settings) -> Result<String, Failure> {
    let body = metadata_get(t, settings, "instance/service-accounts/default/token")?;
    let token = access_token("metadata server token", &body)?;
    let email = metadata_get(t, settings, "instance/service-accounts/default/email")?;
    if email.is_empty() {
        return Err(Failure::Soft(
            "metadata server: the node's service account has no email".into(),
        ));
    }
    Ok(token)
}

/// The workload-identity flow: exchange the pod's service-account token at STS.
fn sts_token(t: &dyn Transport, audience: &str, subject_token: &str) -> Result<String, Failure> {
    let body = serde_json::json!({
        "audience": audience,
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "scope": "https://www.googleapis.com/auth/cloud-platform",
        "subject_token": subject_token,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
    });
    let what = "workload identity token exchange at sts.googleapis.com";
    let response = t
        .send(
            http::Request::post(STS_TOKEN_URL)
                .header("Content-Type", "application/json")
                .header("User-Agent", USER_AGENT)
                .body(body.to_string()),
        )
        .map_err(|e| http_failure(what, STS_TOKEN_URL, e))?;
    if response.status != 200 {
        return Err(Failure::Soft(format!("{what}: status {}", response.status)));
    }
    access_token(what, &response.body)
}

/// One entry of a `.dockercfg`.
#[derive(Deserialize)]
struct DockerCfgEntry {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    auth: String,
}

/// Decodes a `.dockercfg` (`{"registry": {"auth": base64(user:pass)} | {"username","password"}}`).
fn parse_dockercfg(body: &[u8]) -> Result<BTreeMap<String, (String, String)>, Failure> {
    let bad = |why: String| Failure::Soft(format!("malformed .dockercfg: {why}"));
    let entries: BTreeMap<String, DockerCfgEntry> =
        serde_json::from_slice(body).map_err(|e| bad(describe_json_error(&e)))?;
    let mut out = BTreeMap::new();
    for (registry, entry) in entries {
        let (username, password) = if entry.auth.is_empty() {
            (entry.username, entry.password)
        } else {
            let decoded = DOCKERCFG_BASE64
                .decode(&entry.auth)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| bad(format!("the auth of {registry:?} is not base64 text")))?;
            let (u, p) = decoded
                .split_once(':')
                .ok_or_else(|| bad(format!("the auth of {registry:?} is not user:password")))?;
            (u.to_owned(), p.to_owned())
        };
        out.insert(registry, (username, password));
    }
    Ok(out)
}

/// The dockercfg flows: the attribute itself, or the URL it names.
fn dockercfg(
    t: &dyn Transport,
    settings: &Settings,
) -> Result<BTreeMap<String, (String, String)>, Failure> {
    let body = match settings.flow {
        AuthFlow::DockerCfgUrl => {
            let url = metadata_get(t, settings, "instance/attributes/google-dockercfg-url")?;
            let url = String::from_utf8_lossy(&url).trim().to_owned();
            let what = format!("google-dockercfg-url {}", origin_and_path(&url));
            let response = t
                .send(http::Request::get(&url).header("User-Agent", DOCKERCFG_URL_USER_AGENT))
                .map_err(|e| http_failure(&what, &url, e))?;
            if response.status != 200 {
                return Err(Failure::Soft(format!("{what}: status {}", response.status)));
            }
            response.body
        }
        _ => metadata_get(t, settings, "instance/attributes/google-dockercfg")?,
    };
    parse_dockercfg(&body)
}

/// Answers one request (the whole plugin, given a transport). `Err` fails the run; the real
/// plugin's fallback (empty `auth`) is `Ok`, with the reason logged through `log`.
fn answer(
    t: &dyn Transport,
    settings: &Settings,
    request: &Request,
    log: &mut dyn FnMut(&str),
) -> Result<Response, String> {
    let builder = Response::builder(request)
        .cache_key_type(settings.cache_key_type)
        .cache_duration(settings.cache_duration);
    let result = match settings.flow {
        AuthFlow::Gcr => gcr_flow(t, settings, request),
        other => {
            if settings.identity_provider.is_some() {
                // The real plugin's warning: workload identity is a gcr-flow feature.
                log(&format!(
                    "--identity-provider has no effect with --authFlow={}; workload identity \
                     only applies to the gcr flow",
                    other.name()
                ));
            }
            dockercfg(t, settings)
        }
    };
    match result {
        Ok(entries) => Ok(entries
            .into_iter()
            .fold(builder, |b, (key, (user, pass))| {
                b.credential(key, user, pass)
            })
            .build()),
        Err(Failure::Soft(why)) => {
            log(&format!(
                "no credentials ({why}); answering with an empty auth, as auth-provider-gcp does"
            ));
            Ok(builder.build())
        }
        Err(Failure::Hard(why)) => Err(why),
    }
}

/// The gcr flow: the pod's identity when its service account opted into workload identity
/// (and never the node's then), else the node's service account.
fn gcr_flow(
    t: &dyn Transport,
    settings: &Settings,
    request: &Request,
) -> Result<BTreeMap<String, (String, String)>, Failure> {
    let opted_in = request
        .service_account_annotations
        .get(WI_ANNOTATION)
        .is_some_and(|v| v == "true");
    let audience = match settings.wi_audience() {
        Some(audience) if opted_in => audience,
        _ => return gcr_token(t, settings).map(|token| token_entries(request, &token)),
    };
    let token = request
        .service_account_token
        .as_ref()
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        // Fail fast, as the real plugin does: a pod that opted in must not get the node's
        // identity because its token is missing.
        return Err(Failure::Soft(
            "workload identity opted in but the request carries no service-account token; \
             not falling back to the node's service account"
                .into(),
        ));
    };
    sts_token(t, &audience, token.expose()).map(|token| token_entries(request, &token))
}

/// The real plugin's keys, plus the image's registry, all with the token.
fn token_entries(request: &Request, token: &str) -> BTreeMap<String, (String, String)> {
    GCR_KEYS
        .iter()
        .copied()
        .chain([registry_of(&request.image)])
        .filter(|k| !k.is_empty())
        .map(|k| (k.to_owned(), (TOKEN_USERNAME.to_owned(), token.to_owned())))
        .collect()
}

fn main() -> ExitCode {
    credential_provider_sdk::run(|request: &Request| {
        let settings =
            Settings::from_args_and_env(std::env::args().skip(1), |k| std::env::var(k).ok())?;
        answer(&Network, &settings, request, &mut |line| {
            eprintln!("{line}")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use credential_provider_sdk::{ApiVersion, Secret};
    use std::cell::RefCell;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    /// A scripted answer: URL, then status and body or a transport error.
    type Route = (&'static str, Result<(u16, &'static str), HttpError>);

    /// A scripted transport: answers by URL, records every request.
    struct Script {
        routes: Vec<Route>,
        seen: RefCell<Vec<http::Request>>,
    }

    impl Script {
        fn new(routes: Vec<Route>) -> Self {
            Script {
                routes,
                seen: RefCell::new(Vec::new()),
            }
        }
    }

    impl Transport for Script {
        fn send(&self, request: http::Request) -> Result<http::Response, HttpError> {
            let url = request.url.clone();
            self.seen.borrow_mut().push(request);
            let (_, result) = self
                .routes
                .iter()
                .find(|(u, _)| *u == url)
                .unwrap_or_else(|| panic!("unexpected request to {url}"));
            result.clone().map(|(status, body)| http::Response {
                status,
                headers: Vec::new(),
                body: body.as_bytes().to_vec(),
            })
        }
    }

    const TOKEN_URL: &str =
        "http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token";
    const EMAIL_URL: &str =
        "http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/email";

    fn run(
        script: &Script,
        settings: &Settings,
        request: &Request,
    ) -> (Result<Response, String>, Vec<String>) {
        let mut lines = Vec::new();
        let result = answer(script, settings, request, &mut |l| lines.push(l.to_owned()));
        (result, lines)
    }

    fn gcr_settings() -> Settings {
        Settings::from_args_and_env(args(&["get-credentials"]), no_env).unwrap()
    }

    #[test]
    fn parses_arguments_like_the_real_plugin() {
        let s = gcr_settings();
        assert_eq!(s.flow, AuthFlow::Gcr);
        assert_eq!(s.cache_key_type, CacheKeyType::Image);
        assert_eq!(s.cache_duration, GoDuration::ZERO);
        assert_eq!(s.metadata_host, "169.254.169.254");
        let s = Settings::from_args_and_env(
            args(&[
                "get-credentials",
                "--v=3",
                "--authFlow=dockercfg-url",
                "--identity-provider",
                "https://container.googleapis.com/v1/projects/p/locations/l/clusters/c",
                "--project-id=p",
            ]),
            |k| match k {
                "KUBE_SIDECAR_CACHE_TYPE" => Some("Registry".into()),
                "KUBE_SIDECAR_CACHE_DURATION" => Some("90s".into()),
                "GCE_METADATA_HOST" => Some("127.0.0.1:8080".into()),
                _ => None,
            },
        )
        .unwrap();
        assert_eq!(s.flow, AuthFlow::DockerCfgUrl);
        assert_eq!(s.cache_key_type, CacheKeyType::Registry);
        assert_eq!(s.cache_duration, GoDuration::from_secs(90));
        assert_eq!(
            s.metadata_url("x"),
            "http://127.0.0.1:8080/computeMetadata/v1/x"
        );
        assert_eq!(
            s.wi_audience().unwrap(),
            "identitynamespace:p.svc.id.goog:https://container.googleapis.com/v1/projects/p/locations/l/clusters/c"
        );
    }

    #[test]
    fn refuses_bad_arguments() {
        for bad in [
            &[][..],
            &["get-token"],
            &["get-credentials", "extra"],
            &["get-credentials", "--authFlow", "oidc"],
            &["get-credentials", "--authFlow"],
            &["get-credentials", "--bogus=1"],
        ] {
            assert!(
                Settings::from_args_and_env(args(bad), no_env).is_err(),
                "{bad:?}"
            );
        }
        for (name, value) in [
            ("KUBE_SIDECAR_CACHE_TYPE", "token"),
            ("KUBE_SIDECAR_CACHE_DURATION", "1d"),
            ("KUBE_SIDECAR_CACHE_DURATION", "-1s"),
            ("GCE_METADATA_HOST", "evil.example/x"),
        ] {
            let err = Settings::from_args_and_env(args(&["get-credentials"]), |k| {
                (k == name).then(|| value.to_owned())
            })
            .unwrap_err();
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn gcr_flow_answers_with_the_real_keys() {
        let script = Script::new(vec![
            (
                TOKEN_URL,
                Ok((
                    200,
                    r#"{"access_token":"ya29.mock","expires_in":3599,"token_type":"Bearer"}"#,
                )),
            ),
            (EMAIL_URL, Ok((200, "sa@proj.iam.gserviceaccount.com"))),
        ]);
        let request = Request::new(ApiVersion::V1, "us-docker.pkg.dev/proj/repo/app");
        let (result, lines) = run(&script, &gcr_settings(), &request);
        let response = result.unwrap();
        assert!(lines.is_empty());
        let keys: Vec<&str> = response.auth.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "*.gcr.io",
                "*.pkg.dev",
                "container.cloud.google.com",
                "gcr.io",
                "us-docker.pkg.dev"
            ]
        );
        for creds in response.auth.values() {
            assert_eq!(creds.username, "_token");
            assert_eq!(creds.password.expose(), "ya29.mock");
        }
        assert_eq!(response.cache_duration, Some(GoDuration::ZERO));
        assert_eq!(response.cache_key_type, CacheKeyType::Image);
        let seen = script.seen.borrow();
        assert_eq!(seen.len(), 2);
        assert!(
            seen[0]
                .headers
                .contains(&("Metadata-Flavor".into(), "Google".into()))
        );
    }

    #[test]
    fn metadata_failures_fall_back_to_an_empty_auth() {
        let cases: Vec<Vec<Route>> = vec![
            vec![(
                TOKEN_URL,
                Err(HttpError::Transport("connection refused".into())),
            )],
            vec![(TOKEN_URL, Ok((403, "forbidden")))],
            vec![(TOKEN_URL, Ok((200, "<html>")))],
            vec![(TOKEN_URL, Ok((200, r#"{"token_type":"Bearer"}"#)))],
            vec![(
                TOKEN_URL,
                Ok((200, r#"{"access_token":"ya29.old","expires_in":0}"#)),
            )],
            vec![
                (TOKEN_URL, Ok((200, r#"{"access_token":"ya29.mock"}"#))),
                (EMAIL_URL, Ok((404, "not found"))),
            ],
        ];
        for routes in cases {
            let script = Script::new(routes);
            let (result, lines) = run(
                &script,
                &gcr_settings(),
                &Request::new(ApiVersion::V1, "gcr.io/p/a"),
            );
            let response = result.unwrap();
            assert!(response.auth.is_empty());
            assert_eq!(lines.len(), 1);
            assert!(lines[0].contains("empty auth"), "{}", lines[0]);
            assert!(!lines[0].contains("ya29"), "{}", lines[0]);
        }
    }

    #[test]
    fn a_policy_refusal_fails_the_run() {
        let script = Script::new(vec![(TOKEN_URL, Err(HttpError::Denied("x".into())))]);
        let (result, _) = run(
            &script,
            &gcr_settings(),
            &Request::new(ApiVersion::V1, "gcr.io/p/a"),
        );
        let err = result.unwrap_err();
        assert!(err.contains("--allow-http"), "{err}");
    }

    fn wi_request(annotation: Option<&str>) -> Request {
        let mut request = Request::new(ApiVersion::V1, "europe-docker.pkg.dev/p/r/a");
        request.service_account_token = Some(Secret::new("sa-jwt"));
        if let Some(value) = annotation {
            request
                .service_account_annotations
                .insert(WI_ANNOTATION.into(), value.into());
        }
        request
    }

    #[test]
    fn workload_identity_exchanges_the_service_account_token() {
        let settings = Settings::from_args_and_env(
            args(&[
                "get-credentials",
                "--identity-provider=ip",
                "--project-id=p",
            ]),
            no_env,
        )
        .unwrap();
        let script = Script::new(vec![(
            STS_TOKEN_URL,
            Ok((
                200,
                r#"{"access_token":"ya29.wi","expires_in":3600,"token_type":"Bearer"}"#,
            )),
        )]);
        let (result, _) = run(&script, &settings, &wi_request(Some("true")));
        let response = result.unwrap();
        assert_eq!(response.auth.len(), 5);
        assert_eq!(response.auth["gcr.io"].password.expose(), "ya29.wi");
        let seen = script.seen.borrow();
        let body: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
        assert_eq!(body["audience"], "identitynamespace:p.svc.id.goog:ip");
        assert_eq!(body["subject_token"], "sa-jwt");

        // STS failing: empty auth, no fallback to the node's account, no token in the log.
        let script = Script::new(vec![(
            STS_TOKEN_URL,
            Ok((400, r#"{"error":"invalid_grant"}"#)),
        )]);
        let (result, lines) = run(&script, &settings, &wi_request(Some("true")));
        assert!(result.unwrap().auth.is_empty());
        assert!(!lines[0].contains("sa-jwt"));

        // Without the annotation (or the flags) the node's account is used.
        let script = Script::new(vec![
            (TOKEN_URL, Ok((200, r#"{"access_token":"ya29.node"}"#))),
            (EMAIL_URL, Ok((200, "sa@p.iam.gserviceaccount.com"))),
        ]);
        let (result, _) = run(&script, &settings, &wi_request(Some("false")));
        assert_eq!(
            result.unwrap().auth["gcr.io"].password.expose(),
            "ya29.node"
        );
        let (result, _) = run(&script, &gcr_settings(), &wi_request(Some("true")));
        assert_eq!(
            result.unwrap().auth["gcr.io"].password.expose(),
            "ya29.node"
        );
    }

    #[test]
    fn dockercfg_flows_return_the_attribute_entries() {
        let settings = Settings::from_args_and_env(
            args(&["get-credentials", "--authFlow", "dockercfg"]),
            no_env,
        )
        .unwrap();
        let script = Script::new(vec![(
            "http://169.254.169.254/computeMetadata/v1/instance/attributes/google-dockercfg",
            // "robot:pa:ss" in base64
            Ok((
                200,
                r#"{"registry.example":{"auth":"cm9ib3Q6cGE6c3M=","email":"x@y"},"other.example":{"username":"u","password":"p"}}"#,
            )),
        )]);
        let (result, _) = run(
            &script,
            &settings,
            &Request::new(ApiVersion::V1, "registry.example/a"),
        );
        let response = result.unwrap();
        assert_eq!(response.auth["registry.example"].username, "robot");
        assert_eq!(response.auth["registry.example"].password.expose(), "pa:ss");
        assert_eq!(response.auth["other.example"].username, "u");

        let settings = Settings::from_args_and_env(
            args(&["get-credentials", "--authFlow", "dockercfg-url"]),
            no_env,
        )
        .unwrap();
        let script = Script::new(vec![
            (
                "http://169.254.169.254/computeMetadata/v1/instance/attributes/google-dockercfg-url",
                Ok((200, "https://config.example/dockercfg\n")),
            ),
            (
                "https://config.example/dockercfg",
                Ok((200, r#"{"r.example":{"username":"a","password":"b"}}"#)),
            ),
        ]);
        let (result, _) = run(
            &script,
            &settings,
            &Request::new(ApiVersion::V1, "r.example/a"),
        );
        assert_eq!(result.unwrap().auth["r.example"].password.expose(), "b");
        let seen = script.seen.borrow();
        // No metadata header to the URL; Go's default User-Agent, as the real plugin sends.
        assert_eq!(
            seen[1].headers,
            [("User-Agent".to_owned(), "Go-http-client/1.1".to_owned())]
        );
    }

    #[test]
    fn dockercfg_auth_is_base64_padded_or_not() {
        // "robot:pw" padded ("cm9ib3Q6cHc=") and unpadded, as the real plugin reads both.
        for auth in ["cm9ib3Q6cHc=", "cm9ib3Q6cHc"] {
            let body = format!(r#"{{"r.example":{{"auth":"{auth}"}}}}"#);
            let entries = parse_dockercfg(body.as_bytes()).unwrap();
            assert_eq!(entries["r.example"], ("robot".into(), "pw".into()));
        }
        for bad in ["cm9i!3Q6cHc=", "cm9ib3Q6cHc==="] {
            let body = format!(r#"{{"r.example":{{"auth":"{bad}"}}}}"#);
            assert!(parse_dockercfg(body.as_bytes()).is_err(), "{bad}");
        }
    }

    fn wi_settings(extra: &[&str]) -> Settings {
        let mut list = vec![
            "get-credentials",
            "--identity-provider=ip",
            "--project-id=p",
        ];
        list.extend_from_slice(extra);
        Settings::from_args_and_env(args(&list), no_env).unwrap()
    }

    #[test]
    fn takes_the_cobra_grammar() {
        for list in [
            &["get-credentials", "-a", "dockercfg"][..],
            &["get-credentials", "-adockercfg"],
            &["get-credentials", "-a=dockercfg"],
            &["--authFlow", "dockercfg", "get-credentials"],
            &[
                "get-credentials",
                "-v",
                "3",
                "--authFlow=dockercfg",
                "--v=2",
            ],
        ] {
            let s = Settings::from_args_and_env(args(list), no_env).unwrap();
            assert_eq!(s.flow, AuthFlow::DockerCfg, "{list:?}");
        }
        // pflag reads `-authFlow=gcr` as `-a uthFlow=gcr`, an invalid flow.
        let err = Settings::from_args_and_env(args(&["get-credentials", "-authFlow=gcr"]), no_env)
            .unwrap_err();
        assert!(err.starts_with("-a: must be gcr"), "{err}");
        let err =
            Settings::from_args_and_env(args(&["get-credentials", "--v"]), no_env).unwrap_err();
        assert_eq!(err, "--v needs a value");
    }

    #[test]
    fn identity_provider_needs_a_project() {
        let err = Settings::from_args_and_env(
            args(&["get-credentials", "--identity-provider=ip"]),
            no_env,
        )
        .unwrap_err();
        assert_eq!(
            err,
            "--project-id is required when --identity-provider is set"
        );
        // An empty --identity-provider is no identity provider.
        let s =
            Settings::from_args_and_env(args(&["get-credentials", "--identity-provider="]), no_env)
                .unwrap();
        assert_eq!(s.wi_audience(), None);
    }

    #[test]
    fn opted_in_without_a_token_gets_nothing_not_the_node_account() {
        let mut request = wi_request(Some("true"));
        request.service_account_token = None;
        // The script has no routes: any request (to the metadata server or STS) panics.
        let script = Script::new(Vec::new());
        let (result, lines) = run(&script, &wi_settings(&[]), &request);
        assert!(result.unwrap().auth.is_empty());
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains("no service-account token") && lines[0].contains("empty auth"),
            "{}",
            lines[0]
        );
        assert!(script.seen.borrow().is_empty());
        request.service_account_token = Some(Secret::new(""));
        let (result, _) = run(&script, &wi_settings(&[]), &request);
        assert!(result.unwrap().auth.is_empty());
        assert!(script.seen.borrow().is_empty());
    }

    #[test]
    fn workload_identity_is_for_the_gcr_flow_only() {
        let script = Script::new(vec![(
            "http://169.254.169.254/computeMetadata/v1/instance/attributes/google-dockercfg",
            Ok((200, r#"{"r.example":{"username":"u","password":"p"}}"#)),
        )]);
        let (result, lines) = run(
            &script,
            &wi_settings(&["--authFlow=dockercfg"]),
            &wi_request(Some("true")),
        );
        assert_eq!(result.unwrap().auth["r.example"].password.expose(), "p");
        let seen = script.seen.borrow();
        assert_eq!(seen.len(), 1, "no STS exchange");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains("--identity-provider has no effect"),
            "{}",
            lines[0]
        );
    }

    #[test]
    fn every_request_carries_the_real_user_agent() {
        let ua = |r: &http::Request| {
            r.headers
                .iter()
                .find(|(n, _)| n == "User-Agent")
                .map(|(_, v)| v.clone())
        };
        let script = Script::new(vec![(
            STS_TOKEN_URL,
            Ok((200, r#"{"access_token":"ya29.wi","expires_in":3600}"#)),
        )]);
        run(&script, &wi_settings(&[]), &wi_request(Some("true")))
            .0
            .unwrap();
        let script_node = Script::new(vec![
            (TOKEN_URL, Ok((200, r#"{"access_token":"ya29.node"}"#))),
            (EMAIL_URL, Ok((200, "sa@p.iam.gserviceaccount.com"))),
        ]);
        run(
            &script_node,
            &gcr_settings(),
            &Request::new(ApiVersion::V1, "gcr.io/p/a"),
        )
        .0
        .unwrap();
        for r in script
            .seen
            .borrow()
            .iter()
            .chain(script_node.seen.borrow().iter())
        {
            assert_eq!(ua(r).as_deref(), Some(USER_AGENT), "{}", r.url);
        }
    }
}
