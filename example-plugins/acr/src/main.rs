//! `acr-credential-provider`: Azure Container Registry credentials, a sandboxed port of
//! kubernetes-sigs/cloud-provider-azure's `acr-credential-provider`.
//!
//! The sandbox has no files, so the settings the real plugin reads from `azure.json` come from
//! guest arguments (the host's `--arg`) or the environment the host grants (`--env NAME`); an
//! argument wins over the environment:
//!
//! | `azure.json` field | argument | environment |
//! | --- | --- | --- |
//! | `useManagedIdentityExtension` | `--use-managed-identity[=true\|false]` | `AZURE_USE_MANAGED_IDENTITY` |
//! | `userAssignedIdentityID` | `--user-assigned-identity-id ID` | `AZURE_USER_ASSIGNED_IDENTITY_ID` |
//! | `tenantId` | `--tenant-id ID` | `AZURE_TENANT_ID` |
//! | `aadClientId` | `--client-id ID` | `AZURE_CLIENT_ID` |
//! | `aadClientSecret` | (never an argument) | `AZURE_CLIENT_SECRET` |
//!
//! and `--registry-mirror`/`-r SRC:DST[,SRC:DST...]` and `--v N` as in the real plugin, in its
//! cobra/pflag grammar (read with the SDK's [`credential_provider_sdk::args`]).
//!
//! Modes, as the real plugin chooses them:
//! - managed identity off: the service principal's client ID and secret, with no network, under
//!   `*.azurecr.io`, `*.azurecr.cn`, `*.azurecr.de`, `*.azurecr.us`;
//! - managed identity on: an Entra ID token for ACR, from the request's service-account token
//!   (client assertion at `login.microsoftonline.com`, client and tenant from the service
//!   account's annotations `kubernetes.azure.com/acr-client-id` and
//!   `kubernetes.azure.com/acr-tenant-id`) when the request carries one, else from IMDS
//!   (system-assigned, or the user-assigned identity), exchanged at the registry
//!   (`/v2/` challenge, then `/oauth2/exchange`) for an ACR refresh token.
//!
//! Every response also carries an empty `*.azurecr.*` entry (anonymous pulls as a last resort)
//! and `cacheDuration: 1h0m0s`; images that are not on ACR get `cacheDuration: 0s` and no
//! credentials.

use std::collections::BTreeMap;
use std::process::ExitCode;

use credential_provider_sdk::args::{Arg, Args};
use credential_provider_sdk::http::{self, HttpError, Network, Transport};
use credential_provider_sdk::{
    CacheKeyType, GoDuration, Request, Response, ResponseExt, describe_json_error,
};
use serde::Deserialize;

/// Azure IMDS's managed-identity token endpoint.
const IMDS_TOKEN_URL: &str = "http://169.254.169.254/metadata/identity/oauth2/token";
/// The resource (audience) of tokens for ACR.
const ACR_RESOURCE: &str = "https://containerregistry.azure.net";
/// Entra ID's authority host (public cloud).
const AUTHORITY: &str = "https://login.microsoftonline.com";
/// The username ACR expects with a refresh token.
const REFRESH_TOKEN_USERNAME: &str = "00000000-0000-0000-0000-000000000000";
/// The `User-Agent` of the real plugin.
const USER_AGENT: &str = "kubernetes-credentialprovider-acr";
/// The anonymous entry every ACR response carries.
const ANONYMOUS_KEY: &str = "*.azurecr.*";
/// The public clouds' registry suffixes.
const ACR_SUFFIXES: [&str; 4] = ["io", "cn", "de", "us"];
/// Service-account annotations naming the identity in service-account-token mode.
const CLIENT_ID_ANNOTATION: &str = "kubernetes.azure.com/acr-client-id";
/// See [`CLIENT_ID_ANNOTATION`].
const TENANT_ID_ANNOTATION: &str = "kubernetes.azure.com/acr-tenant-id";
/// How long the kubelet may reuse an answer for an ACR image (refresh tokens live ~3 h).
const CACHE_TTL: GoDuration = GoDuration::from_secs(3600);

/// Everything the plugin is configured with.
#[derive(Clone, Debug, Default, PartialEq)]
struct Settings {
    use_managed_identity: bool,
    user_assigned_identity_id: Option<String>,
    tenant_id: String,
    client_id: Option<String>,
    client_secret: Option<String>,
    /// `(source prefix, target registry)`, in the order given.
    mirrors: Vec<(String, String)>,
}

fn parse_bool(name: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" | "" => Ok(false),
        _ => Err(format!("{name} must be true or false, not {value:?}")),
    }
}

/// `--registry-mirror SRC:DST[,SRC:DST...]`.
fn parse_mirrors(value: &str) -> Result<Vec<(String, String)>, String> {
    value
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            pair.split_once(':')
                .filter(|(a, b)| !a.is_empty() && !b.is_empty() && !b.contains(':'))
                .map(|(src, dst)| (src.to_owned(), dst.to_owned()))
                .ok_or_else(|| format!("{pair:?} is not SOURCE:TARGET"))
        })
        .collect()
}

impl Settings {
    fn from_args_and_env(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let env = |name: &str| env(name).filter(|v| !v.is_empty());
        let mut s = Settings {
            use_managed_identity: match env("AZURE_USE_MANAGED_IDENTITY") {
                Some(v) => parse_bool("AZURE_USE_MANAGED_IDENTITY", &v)?,
                None => false,
            },
            user_assigned_identity_id: env("AZURE_USER_ASSIGNED_IDENTITY_ID"),
            tenant_id: env("AZURE_TENANT_ID").unwrap_or_default(),
            client_id: env("AZURE_CLIENT_ID"),
            client_secret: env("AZURE_CLIENT_SECRET"),
            mirrors: Vec::new(),
        };
        let mut args = Args::new(args);
        while let Some(arg) = args.next()? {
            match arg {
                Arg::Long("use-managed-identity") => {
                    s.use_managed_identity = match args.attached_value()? {
                        Some(v) => parse_bool("--use-managed-identity", &v)?,
                        None => true,
                    }
                }
                Arg::Long("user-assigned-identity-id") => {
                    s.user_assigned_identity_id = Some(args.value()?)
                }
                Arg::Long("tenant-id") => s.tenant_id = args.value()?,
                Arg::Long("client-id") => s.client_id = Some(args.value()?),
                Arg::Long("registry-mirror") | Arg::Short('r') => {
                    s.mirrors.extend(args.parse(parse_mirrors)?);
                }
                // component-base's log verbosity, which the real plugin takes.
                Arg::Long("v") | Arg::Short('v') => drop(args.value()?),
                Arg::Long("client-secret" | "aad-client-secret") => {
                    return Err(
                        "the client secret is never an argument: grant AZURE_CLIENT_SECRET with --env"
                            .into(),
                    );
                }
                Arg::Positional(word) => {
                    return Err(format!(
                        "unexpected argument {word:?}: the sandbox has no files, so there is no \
                         azure.json; configure with arguments and environment (see the README)"
                    ));
                }
                other => return Err(other.unexpected().into()),
            }
        }
        if !s.use_managed_identity && (s.client_id.is_none() || s.client_secret.is_none()) {
            return Err(
                "without --use-managed-identity the service principal's AZURE_CLIENT_ID \
                        and AZURE_CLIENT_SECRET must be set"
                    .into(),
            );
        }
        Ok(s)
    }

    /// The image after mirroring, and the mirrored source prefix if one applied.
    fn mirror<'a>(&'a self, image: &'a str) -> (String, Option<&'a str>) {
        for (src, dst) in &self.mirrors {
            if let Some(rest) = image.strip_prefix(src.as_str()) {
                return (format!("{dst}{rest}"), Some(src));
            }
        }
        (image.to_owned(), None)
    }
}

/// The login server an image is on: a leading `<alnum>.azurecr.(io|cn|de|us)` followed by the
/// end or `/`.
fn login_server(image: &str) -> Option<&str> {
    let end = image.find('/').unwrap_or(image.len());
    let host = &image[..end];
    let (name, suffix) = host.split_once(".azurecr.")?;
    (!name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric())
        && ACR_SUFFIXES.contains(&suffix))
    .then_some(host)
}

/// `url` without its query string, for messages.
fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// Sends `request`, naming `what` and the URL (never the query, headers or body) on failure.
fn send(t: &dyn Transport, what: &str, request: http::Request) -> Result<http::Response, String> {
    let url = without_query(&request.url).to_owned();
    t.send(request.header("User-Agent", USER_AGENT))
        .map_err(|err| match err {
            HttpError::Denied(_) => {
                format!("{what}: the host refused the request to {url} (add it to --allow-http)")
            }
            other => format!("{what} ({url}): {other}"),
        })
}

/// `application/x-www-form-urlencoded` text of `fields`, sorted by key as Go's
/// `url.Values.Encode` writes it (the real plugin's forms and queries). `form_urlencoded` and
/// Go's `QueryEscape` differ only on `*` and `~`, which no value here (GUIDs, JWTs, URLs,
/// tenant names) contains.
fn form(fields: &[(&str, &str)]) -> String {
    let mut sorted = fields.to_vec();
    sorted.sort_by_key(|(key, _)| *key);
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(sorted)
        .finish()
}

/// A number that Azure sends as a JSON string or a JSON number.
#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Int(i64),
    Text(String),
}

impl Number {
    fn value(&self) -> Option<i64> {
        match self {
            Number::Int(n) => Some(*n),
            Number::Text(s) => s.trim().parse().ok(),
        }
    }
}

/// An Entra ID token reply (IMDS or the v2.0 token endpoint).
#[derive(Deserialize)]
struct TokenReply {
    #[serde(default)]
    access_token: String,
    expires_in: Option<Number>,
    expires_on: Option<Number>,
}

/// Decodes a token reply: a missing token or one already expired (at `now`, Unix seconds) is
/// an error.
fn entra_token(what: &str, response: http::Response, now: i64) -> Result<String, String> {
    if response.status != 200 {
        return Err(format!("{what}: status {}", response.status));
    }
    let reply: TokenReply = serde_json::from_slice(&response.body)
        .map_err(|e| format!("{what}: malformed token reply: {}", describe_json_error(&e)))?;
    if reply.access_token.is_empty() {
        return Err(format!("{what}: token reply has no access_token"));
    }
    let expired_in = reply
        .expires_in
        .and_then(|n| n.value())
        .is_some_and(|s| s <= 0);
    let expired_on = reply
        .expires_on
        .and_then(|n| n.value())
        .is_some_and(|at| at <= now);
    if expired_in || expired_on {
        return Err(format!("{what}: the token has already expired"));
    }
    Ok(reply.access_token)
}

/// A managed identity's token for ACR from IMDS.
fn imds_token(t: &dyn Transport, settings: &Settings, now: i64) -> Result<String, String> {
    let mut query = vec![("api-version", "2018-02-01"), ("resource", ACR_RESOURCE)];
    if let Some(id) = &settings.user_assigned_identity_id {
        let key = if id.to_ascii_lowercase().contains("/subscriptions/") {
            "msi_res_id"
        } else {
            "client_id"
        };
        query.push((key, id));
    }
    let url = format!("{IMDS_TOKEN_URL}?{}", form(&query));
    let what = "managed identity token from IMDS";
    let response = send(t, what, http::Request::get(&url).header("Metadata", "true"))?;
    entra_token(what, response, now)
}

/// A token for ACR from the pod's service-account token (client assertion).
fn assertion_token(
    t: &dyn Transport,
    request: &Request,
    assertion: &str,
    now: i64,
) -> Result<String, String> {
    let annotation = |key: &str| {
        request
            .service_account_annotations
            .get(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                format!("the request has a service-account token but no annotation {key}")
            })
    };
    let client_id = annotation(CLIENT_ID_ANNOTATION)?;
    let tenant = annotation(TENANT_ID_ANNOTATION)?;
    if !tenant
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(format!(
            "annotation {TENANT_ID_ANNOTATION} is not a tenant ID or domain"
        ));
    }
    let url = format!("{AUTHORITY}/{tenant}/oauth2/v2.0/token");
    let body = form(&[
        ("client_id", client_id),
        ("client_assertion", assertion),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("grant_type", "client_credentials"),
        ("scope", "https://containerregistry.azure.net/.default"),
    ]);
    let what = "service-account token exchange at Entra ID";
    let response = send(
        t,
        what,
        http::Request::post(&url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body),
    )?;
    entra_token(what, response, now)
}

/// The `key="value"` parameters of a `Bearer` challenge.
fn parse_challenge(header: &str) -> Option<BTreeMap<String, String>> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = BTreeMap::new();
    let mut rest = rest.trim_start();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        params.insert(key.trim().to_ascii_lowercase(), value.to_owned());
        rest = after.trim_start().trim_start_matches(',').trim_start();
    }
    Some(params)
}

/// Exchanges an Entra token for an ACR refresh token at `login_server`.
fn acr_refresh_token(
    t: &dyn Transport,
    settings: &Settings,
    login_server: &str,
    entra_token: &str,
) -> Result<String, String> {
    let what = format!("ACR challenge at {login_server}");
    let challenge = send(
        t,
        &what,
        http::Request::get(&format!("https://{login_server}/v2/")),
    )?;
    if challenge.status != 401 {
        return Err(format!(
            "{what}: expected status 401 with a Bearer challenge, got {}",
            challenge.status
        ));
    }
    let params = challenge
        .header("www-authenticate")
        .and_then(parse_challenge)
        .ok_or_else(|| format!("{what}: no Bearer challenge in Www-Authenticate"))?;
    let (Some(realm), Some(service)) = (params.get("realm"), params.get("service")) else {
        return Err(format!("{what}: the challenge lacks realm or service"));
    };
    let (scheme, rest) = realm
        .split_once("://")
        .filter(|(s, _)| s.eq_ignore_ascii_case("https") || s.eq_ignore_ascii_case("http"))
        .ok_or_else(|| format!("{what}: the realm is not an http(s) URL"))?;
    let realm_host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if realm_host.is_empty() || realm_host.contains('@') {
        return Err(format!("{what}: the realm has no host"));
    }
    let url = format!("{scheme}://{realm_host}/oauth2/exchange");
    let body = form(&[
        ("grant_type", "access_token_refresh_token"),
        ("service", service),
        ("tenant", &settings.tenant_id),
        ("access_token", entra_token),
        ("refresh_token", entra_token),
    ]);
    let what = format!("ACR token exchange at {realm_host}");
    let response = send(
        t,
        &what,
        http::Request::post(&url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body),
    )?;
    if response.status != 200 {
        return Err(format!("{what}: status {}", response.status));
    }
    #[derive(Deserialize)]
    struct Exchange {
        #[serde(default)]
        refresh_token: String,
    }
    let reply: Exchange = serde_json::from_slice(&response.body)
        .map_err(|e| format!("{what}: malformed reply: {}", describe_json_error(&e)))?;
    if reply.refresh_token.is_empty() {
        return Err(format!("{what}: the reply has no refresh_token"));
    }
    Ok(reply.refresh_token)
}

/// Answers one request (the whole plugin, given a transport and the time in Unix seconds).
fn answer(
    t: &dyn Transport,
    settings: &Settings,
    request: &Request,
    now: i64,
) -> Result<Response, String> {
    let (image, source) = settings.mirror(&request.image);
    let Some(server) = login_server(&image) else {
        return Ok(Response::builder(request)
            .cache_key_type(CacheKeyType::Registry)
            .cache_duration(GoDuration::ZERO)
            .build());
    };
    let mut builder = Response::builder(request)
        .cache_key_type(CacheKeyType::Registry)
        .cache_duration(CACHE_TTL)
        .credential(ANONYMOUS_KEY, "", "");
    if settings.use_managed_identity {
        let token = match request
            .service_account_token
            .as_ref()
            .filter(|t| !t.is_empty())
        {
            Some(sa_token) => assertion_token(t, request, sa_token.expose(), now)?,
            None => imds_token(t, settings, now)?,
        };
        let refresh = acr_refresh_token(t, settings, server, &token)?;
        builder = builder.credential(server, REFRESH_TOKEN_USERNAME, refresh.clone());
        if let Some(source) = source {
            builder = builder.credential(source, REFRESH_TOKEN_USERNAME, refresh);
        }
    } else {
        let (Some(id), Some(secret)) = (&settings.client_id, &settings.client_secret) else {
            return Err("AZURE_CLIENT_ID and AZURE_CLIENT_SECRET must be set".into());
        };
        for suffix in ACR_SUFFIXES {
            builder = builder.credential(format!("*.azurecr.{suffix}"), id, secret.clone());
        }
    }
    Ok(builder.build())
}

fn main() -> ExitCode {
    credential_provider_sdk::run(|request: &Request| {
        let settings =
            Settings::from_args_and_env(std::env::args().skip(1), |k| std::env::var(k).ok())?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        answer(&Network, &settings, request, now)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use credential_provider_sdk::{ApiVersion, Secret};
    use std::cell::RefCell;

    const NOW: i64 = 1_800_000_000;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn mi_env(name: &str) -> Option<String> {
        match name {
            "AZURE_USE_MANAGED_IDENTITY" => Some("true".into()),
            "AZURE_TENANT_ID" => Some("tenant-1".into()),
            _ => None,
        }
    }

    type Route = (&'static str, Result<http::Response, HttpError>);

    fn reply(status: u16, body: &str) -> Result<http::Response, HttpError> {
        Ok(http::Response {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        })
    }

    fn challenge(header: &str) -> Result<http::Response, HttpError> {
        Ok(http::Response {
            status: 401,
            headers: vec![("www-authenticate".into(), header.into())],
            body: Vec::new(),
        })
    }

    /// Answers by URL prefix, records every request.
    struct Script {
        routes: Vec<Route>,
        seen: RefCell<Vec<http::Request>>,
    }

    impl Transport for Script {
        fn send(&self, request: http::Request) -> Result<http::Response, HttpError> {
            let url = request.url.clone();
            self.seen.borrow_mut().push(request);
            self.routes
                .iter()
                .find(|(u, _)| url.starts_with(u))
                .map(|(_, r)| r.clone())
                .unwrap_or_else(|| panic!("unexpected request to {url}"))
        }
    }

    fn script(routes: Vec<Route>) -> Script {
        Script {
            routes,
            seen: RefCell::new(Vec::new()),
        }
    }

    fn happy_routes() -> Vec<Route> {
        vec![
            (
                IMDS_TOKEN_URL,
                reply(
                    200,
                    r#"{"access_token":"entra-tok","expires_in":"86399","expires_on":"1800086399","resource":"https://containerregistry.azure.net","token_type":"Bearer"}"#,
                ),
            ),
            (
                "https://myreg.azurecr.io/v2/",
                challenge(
                    r#"Bearer realm="https://myreg.azurecr.io/oauth2/token",service="myreg.azurecr.io""#,
                ),
            ),
            (
                "https://myreg.azurecr.io/oauth2/exchange",
                reply(200, r#"{"refresh_token":"acr-refresh"}"#),
            ),
        ]
    }

    #[test]
    fn parses_login_servers_exactly() {
        assert_eq!(
            login_server("myreg.azurecr.io/a/b"),
            Some("myreg.azurecr.io")
        );
        assert_eq!(login_server("myreg.azurecr.us"), Some("myreg.azurecr.us"));
        assert_eq!(login_server("Reg1.azurecr.cn/x"), Some("Reg1.azurecr.cn"));
        for no in [
            "myreg.azurecr.io:443/a",
            "my-reg.azurecr.io/a",
            "a.b.azurecr.io/a",
            "myreg.azurecr.com/a",
            ".azurecr.io/a",
            "myreg.azurecr.iox/a",
            "docker.io/library/nginx",
            "evil.example/myreg.azurecr.io",
        ] {
            assert_eq!(login_server(no), None, "{no}");
        }
    }

    #[test]
    fn settings_from_args_and_env() {
        let s = Settings::from_args_and_env(
            args(&[
                "--use-managed-identity",
                "--user-assigned-identity-id=abc",
                "--tenant-id",
                "t2",
                "--registry-mirror=mcr.microsoft.com:myreg.azurecr.io,docker.io/x:other.azurecr.io/x",
            ]),
            mi_env,
        )
        .unwrap();
        assert!(s.use_managed_identity);
        assert_eq!(s.tenant_id, "t2");
        assert_eq!(s.user_assigned_identity_id.as_deref(), Some("abc"));
        assert_eq!(s.mirrors.len(), 2);
        let (image, source) = s.mirror("mcr.microsoft.com/oss/app:v1");
        assert_eq!(image, "myreg.azurecr.io/oss/app:v1");
        assert_eq!(source, Some("mcr.microsoft.com"));

        for bad in [
            &["/etc/kubernetes/azure.json"][..],
            &["--client-secret=x"],
            &["--registry-mirror=nocolon"],
            &["--use-managed-identity=maybe"],
            &["--bogus"],
        ] {
            assert!(
                Settings::from_args_and_env(args(bad), mi_env).is_err(),
                "{bad:?}"
            );
        }
        let err = Settings::from_args_and_env(args(&[]), |_| None).unwrap_err();
        assert!(err.contains("AZURE_CLIENT_SECRET"), "{err}");
    }

    #[test]
    fn takes_the_cobra_grammar() {
        for list in [
            &["-r", "mcr.microsoft.com:myreg.azurecr.io", "--v=4"][..],
            &["-rmcr.microsoft.com:myreg.azurecr.io", "-v", "2"],
            &["--registry-mirror", "mcr.microsoft.com:myreg.azurecr.io"],
        ] {
            let s = Settings::from_args_and_env(args(list), mi_env).unwrap();
            assert_eq!(
                s.mirrors,
                [(
                    "mcr.microsoft.com".to_owned(),
                    "myreg.azurecr.io".to_owned()
                )],
                "{list:?}"
            );
        }
        let err = Settings::from_args_and_env(args(&["--tenant-id"]), mi_env).unwrap_err();
        assert_eq!(err, "--tenant-id needs a value");
        let err = Settings::from_args_and_env(args(&["-r", "a:b,nocolon"]), mi_env).unwrap_err();
        assert_eq!(err, "-r: \"nocolon\" is not SOURCE:TARGET");
    }

    #[test]
    fn forms_are_encoded_and_sorted_like_go() {
        assert_eq!(
            form(&[("b", "x y/z"), ("a", "1:2"), ("c", "é")]),
            "a=1%3A2&b=x+y%2Fz&c=%C3%A9"
        );
    }

    #[test]
    fn managed_identity_exchange() {
        let settings = Settings::from_args_and_env(args(&[]), mi_env).unwrap();
        let t = script(happy_routes());
        let request = Request::new(ApiVersion::V1, "myreg.azurecr.io/team/app");
        let response = answer(&t, &settings, &request, NOW).unwrap();
        assert_eq!(response.cache_duration, Some(GoDuration::from_secs(3600)));
        assert_eq!(response.cache_key_type, CacheKeyType::Registry);
        assert_eq!(response.auth.len(), 2);
        assert_eq!(
            response.auth["myreg.azurecr.io"].username,
            REFRESH_TOKEN_USERNAME
        );
        assert_eq!(
            response.auth["myreg.azurecr.io"].password.expose(),
            "acr-refresh"
        );
        assert_eq!(response.auth[ANONYMOUS_KEY].username, "");
        let seen = t.seen.borrow();
        assert_eq!(
            seen[0].url,
            "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fcontainerregistry.azure.net"
        );
        assert!(
            seen[0]
                .headers
                .contains(&("Metadata".into(), "true".into()))
        );
        let body = String::from_utf8_lossy(&seen[2].body);
        assert_eq!(
            body,
            // Sorted by key, as the real plugin's `url.Values.Encode` writes it.
            "access_token=entra-tok&grant_type=access_token_refresh_token&refresh_token=entra-tok&service=myreg.azurecr.io&tenant=tenant-1"
        );
    }

    #[test]
    fn user_assigned_identities() {
        for (id, key) in [
            ("11111111-2222", "client_id=11111111-2222"),
            (
                "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/i",
                "msi_res_id=%2Fsubscriptions%2Fs%2F",
            ),
        ] {
            let settings =
                Settings::from_args_and_env(args(&["--user-assigned-identity-id", id]), mi_env)
                    .unwrap();
            let t = script(happy_routes());
            answer(
                &t,
                &settings,
                &Request::new(ApiVersion::V1, "myreg.azurecr.io/a"),
                NOW,
            )
            .unwrap();
            assert!(t.seen.borrow()[0].url.contains(key));
        }
    }

    #[test]
    fn mirrored_images_answer_for_both_keys() {
        let settings = Settings::from_args_and_env(
            args(&["--registry-mirror=mcr.microsoft.com:myreg.azurecr.io"]),
            mi_env,
        )
        .unwrap();
        let t = script(happy_routes());
        let response = answer(
            &t,
            &settings,
            &Request::new(ApiVersion::V1, "mcr.microsoft.com/oss/app"),
            NOW,
        )
        .unwrap();
        assert_eq!(response.auth.len(), 3);
        assert_eq!(
            response.auth["mcr.microsoft.com"].password.expose(),
            "acr-refresh"
        );
    }

    #[test]
    fn non_acr_images_get_nothing_and_no_network() {
        let settings = Settings::from_args_and_env(args(&[]), mi_env).unwrap();
        let t = script(Vec::new());
        let response = answer(
            &t,
            &settings,
            &Request::new(ApiVersion::V1, "quay.io/a/b"),
            NOW,
        )
        .unwrap();
        assert!(response.auth.is_empty());
        assert_eq!(response.cache_duration, Some(GoDuration::ZERO));
        assert!(t.seen.borrow().is_empty());
    }

    #[test]
    fn service_principal_mode_needs_no_network() {
        let settings = Settings::from_args_and_env(args(&[]), |k| match k {
            "AZURE_CLIENT_ID" => Some("app-id".into()),
            "AZURE_CLIENT_SECRET" => Some("sp-secret".into()),
            _ => None,
        })
        .unwrap();
        let t = script(Vec::new());
        let response = answer(
            &t,
            &settings,
            &Request::new(ApiVersion::V1, "myreg.azurecr.io/a"),
            NOW,
        )
        .unwrap();
        let keys: Vec<&str> = response.auth.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "*.azurecr.*",
                "*.azurecr.cn",
                "*.azurecr.de",
                "*.azurecr.io",
                "*.azurecr.us"
            ]
        );
        assert_eq!(response.auth["*.azurecr.io"].password.expose(), "sp-secret");
        assert!(t.seen.borrow().is_empty());
    }

    #[test]
    fn service_account_token_mode() {
        let settings = Settings::from_args_and_env(args(&[]), mi_env).unwrap();
        let mut routes = happy_routes();
        routes[0] = (
            "https://login.microsoftonline.com/tenant-2/oauth2/v2.0/token",
            reply(
                200,
                r#"{"token_type":"Bearer","expires_in":3599,"access_token":"entra-wi"}"#,
            ),
        );
        let t = script(routes);
        let mut request = Request::new(ApiVersion::V1, "myreg.azurecr.io/a");
        request.service_account_token = Some(Secret::new("sa-jwt"));
        request
            .service_account_annotations
            .insert(CLIENT_ID_ANNOTATION.into(), "client-2".into());
        request
            .service_account_annotations
            .insert(TENANT_ID_ANNOTATION.into(), "tenant-2".into());
        let response = answer(&t, &settings, &request, NOW).unwrap();
        assert_eq!(
            response.auth["myreg.azurecr.io"].password.expose(),
            "acr-refresh"
        );
        let seen = t.seen.borrow();
        let body = String::from_utf8_lossy(&seen[0].body);
        assert!(body.contains("client_assertion=sa-jwt"), "{body}");
        assert!(body.contains("client_id=client-2"), "{body}");
        assert!(String::from_utf8_lossy(&seen[2].body).contains("access_token=entra-wi"));

        request
            .service_account_annotations
            .insert(TENANT_ID_ANNOTATION.into(), "../evil".into());
        let err = answer(&t, &settings, &request, NOW).unwrap_err();
        assert!(err.contains(TENANT_ID_ANNOTATION), "{err}");
        request.service_account_annotations.clear();
        let err = answer(&t, &settings, &request, NOW).unwrap_err();
        assert!(err.contains(CLIENT_ID_ANNOTATION), "{err}");
    }

    #[test]
    fn failures_are_clear_and_keep_secrets_out() {
        let settings = Settings::from_args_and_env(args(&[]), mi_env).unwrap();
        let request = Request::new(ApiVersion::V1, "myreg.azurecr.io/a");
        let cases: Vec<(usize, Result<http::Response, HttpError>, &str)> = vec![
            (
                0,
                Err(HttpError::Transport("connection refused".into())),
                "IMDS",
            ),
            (0, Err(HttpError::Denied("x".into())), "--allow-http"),
            (0, reply(400, "{}"), "status 400"),
            (0, reply(200, "not json"), "malformed"),
            (
                0,
                reply(
                    200,
                    r#"{"access_token":"entra-tok","expires_on":"1700000000"}"#,
                ),
                "expired",
            ),
            (1, reply(200, "{}"), "expected status 401"),
            (1, challenge("Basic realm=\"x\""), "no Bearer challenge"),
            (1, challenge("Bearer service=\"x\""), "realm or service"),
            (2, reply(403, "{}"), "status 403"),
            (
                2,
                reply(200, "{\"access_token\":\"x\"}"),
                "no refresh_token",
            ),
        ];
        for (index, result, needle) in cases {
            let mut routes = happy_routes();
            routes[index].1 = result;
            let err = answer(&script(routes), &settings, &request, NOW).unwrap_err();
            assert!(err.contains(needle), "{needle}: {err}");
            assert!(
                !err.contains("entra-tok") && !err.contains("acr-refresh"),
                "{err}"
            );
        }
    }

    #[test]
    fn challenges_parse() {
        let p = parse_challenge(r#"Bearer realm="https://r.azurecr.io/oauth2/token",service="r.azurecr.io",scope="a,b""#).unwrap();
        assert_eq!(p["realm"], "https://r.azurecr.io/oauth2/token");
        assert_eq!(p["service"], "r.azurecr.io");
        assert_eq!(p["scope"], "a,b");
        let p = parse_challenge("Bearer realm=https://r/oauth2/token, service=r").unwrap();
        assert_eq!(p["service"], "r");
        assert!(parse_challenge("Bearer realm=\"unterminated").is_none());
    }
}
