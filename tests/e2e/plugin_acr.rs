//! End-to-end tests of the `acr` example plugin through the host, against loopback servers
//! speaking the real cloud wire formats (see `cloud_servers.rs`).
//!
//! The plugin keeps its real endpoints (Azure IMDS at `http://169.254.169.254/metadata/...`, the
//! registry's `https://<name>.azurecr.io/v2/` and `/oauth2/exchange`, Entra ID at
//! `https://login.microsoftonline.com`) and the host gets exactly the `--arg`, `--allow-http` and
//! `--env` lists of `example-plugins/acr/README.md`; `HTTP_PROXY` (absolute form) and
//! `HTTPS_PROXY` (a CONNECT tunnel to a TLS server with a test CA for those names) route the
//! requests to the fake cloud.

use serde_json::json;

use crate::cloud_servers::{Exchange, FakeCloud, Reply};
use crate::http_servers::{ConnectProxy, TestCa};
use crate::support::*;

const PLUGIN: &str = "acr-credential-provider";
const README: &str = include_str!("../../example-plugins/acr/README.md");

/// The README's managed-identity provider: guest args, allow-list and env grants.
const MI_ARGS: [&str; 6] = [
    "--arg=--use-managed-identity",
    "--allow-http=http://169.254.169.254/metadata/identity/oauth2/token",
    "--allow-http=*.azurecr.io/v2",
    "--allow-http=*.azurecr.io/oauth2/exchange",
    "--env=AZURE_TENANT_ID",
    "--env=AZURE_USER_ASSIGNED_IDENTITY_ID",
];
/// The README's service-account-token provider.
const SA_ARGS: [&str; 6] = [
    "--arg=--use-managed-identity",
    "--allow-http=login.microsoftonline.com",
    "--allow-http=*.azurecr.io/v2",
    "--allow-http=*.azurecr.io/oauth2/exchange",
    "--env=AZURE_TENANT_ID",
    "--token-cache-type=Token",
];
/// The README's service-principal provider.
const SP_ARGS: [&str; 2] = ["--env=AZURE_CLIENT_ID", "--env=AZURE_CLIENT_SECRET"];

const ZERO_USER: &str = "00000000-0000-0000-0000-000000000000";
const IMDS_PATH: &str = "/metadata/identity/oauth2/token";
const ENTRA_TOKEN: &str = "eyJ0eXAiOiJKV1QifQ.entra-access.sig";
const REFRESH_TOKEN: &str = "acr-refresh-token-7c1f";
const SP_SECRET: &str = "sp-secret-value-91ab";
const SA_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.k8s-sa-token.sig";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// Azure IMDS answering a managed-identity token request with `reply`.
fn imds(reply: Reply) -> FakeCloud {
    FakeCloud::http(move |e: &Exchange| {
        if e.header("metadata") != Some("true") {
            return Reply::json(400, &json!({"error": "bad_request"}));
        }
        if e.path == IMDS_PATH {
            reply.clone()
        } else {
            Reply::text(404, "not found")
        }
    })
}

fn imds_token(expires_on: u64) -> Reply {
    Reply::json(
        200,
        &json!({
            "access_token": ENTRA_TOKEN,
            "expires_in": "86399",
            "expires_on": expires_on.to_string(),
            "resource": "https://containerregistry.azure.net",
            "token_type": "Bearer",
        }),
    )
}

fn in_a_day() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 86_399
}

/// What the fake registry (and Entra ID) answer.
#[derive(Clone)]
struct Script {
    challenge: Reply,
    exchange: Reply,
    entra: Reply,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            challenge: Reply::json(401, &json!({"errors": [{"code": "UNAUTHORIZED"}]})).with_header(
                "Www-Authenticate",
                r#"Bearer realm="https://myregistry.azurecr.io/oauth2/token",service="myregistry.azurecr.io""#,
            ),
            exchange: Reply::json(200, &json!({"refresh_token": REFRESH_TOKEN})),
            entra: Reply::json(
                200,
                &json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": ENTRA_TOKEN}),
            ),
        }
    }
}

/// A TLS server for `myregistry.azurecr.io` and `login.microsoftonline.com` behind a CONNECT
/// proxy.
struct Cloud {
    ca: TestCa,
    server: FakeCloud,
    proxy: ConnectProxy,
}

impl Cloud {
    fn new(script: Script) -> Cloud {
        let ca = TestCa::with_names(&["myregistry.azurecr.io", "login.microsoftonline.com"]);
        let server = FakeCloud::https(&ca, move |e: &Exchange| {
            match (e.host.as_str(), e.method.as_str(), e.path.as_str()) {
                ("myregistry.azurecr.io", "GET", "/v2/") => script.challenge.clone(),
                ("myregistry.azurecr.io", "POST", "/oauth2/exchange") => script.exchange.clone(),
                ("login.microsoftonline.com", "POST", p)
                    if p == format!("/{TENANT}/oauth2/v2.0/token") =>
                {
                    script.entra.clone()
                }
                _ => Reply::text(404, "not found"),
            }
        });
        let proxy = ConnectProxy::to_port(server.port);
        Cloud { ca, server, proxy }
    }
}

/// Runs the plugin with host `args`, `env` in the host's environment (no proxy and no Azure
/// settings unless given).
fn run_with(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Outcome {
    run_on(Target::P2, args, stdin, env)
}

/// Variables of the tester's environment that must not reach a run unless a test sets them.
const CLEARED_ENV: [&str; 7] = [
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_USER_ASSIGNED_IDENTITY_ID",
];

/// [`run_with`] for the plugin built for `target`.
fn run_on(target: Target, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Outcome {
    exec_plugin(PLUGIN, target, args, stdin, &CLEARED_ENV, env)
}

/// Runs the managed-identity configuration against `imds` and `cloud`.
fn run_mi(imds: &FakeCloud, cloud: &Cloud, image: &str, env: &[(&str, &str)]) -> Outcome {
    let http_proxy = format!("http://127.0.0.1:{}", imds.port);
    let https_proxy = format!("http://127.0.0.1:{}", cloud.proxy.port);
    let mut args: Vec<&str> = MI_ARGS.to_vec();
    args.extend(["--ca-file", cloud.ca.ca_path()]);
    let mut environment = vec![
        ("HTTP_PROXY", http_proxy.as_str()),
        ("HTTPS_PROXY", https_proxy.as_str()),
        ("AZURE_TENANT_ID", TENANT),
    ];
    environment.extend_from_slice(env);
    run_with(&args, &request(V1, image), &environment)
}

/// The ACR answer: the refresh token under `keys`, the anonymous `*.azurecr.*` entry, 1 h.
fn assert_acr_answer(out: &Outcome, keys: &[&str]) {
    let response = out.json();
    assert_eq!(response["cacheKeyType"], "Registry");
    assert_eq!(response["cacheDuration"], "1h0m0s");
    let auth = response["auth"].as_object().expect("auth");
    let mut expected: Vec<&str> = keys.to_vec();
    expected.push("*.azurecr.*");
    expected.sort();
    let got: Vec<&str> = auth.keys().map(String::as_str).collect();
    assert_eq!(got, expected, "{response}");
    for key in keys {
        assert_eq!(auth[*key]["username"], ZERO_USER);
        assert_eq!(auth[*key]["password"], REFRESH_TOKEN);
    }
    assert_eq!(auth["*.azurecr.*"], json!({"username": "", "password": ""}));
    assert_no_token_in_logs(out);
}

fn assert_no_token_in_logs(out: &Outcome) {
    for secret in [ENTRA_TOKEN, REFRESH_TOKEN, SP_SECRET, SA_TOKEN] {
        assert!(
            !out.stderr.contains(secret),
            "secret in stderr:\n{}",
            out.stderr
        );
    }
    out.assert_no_kubelet_secret();
}

#[test]
fn managed_identity_token_is_exchanged_at_the_registry() {
    let imds = imds(imds_token(in_a_day()));
    let cloud = Cloud::new(Script::default());
    let out = run_mi(&imds, &cloud, "myregistry.azurecr.io/team/app:v1", &[]);
    assert_acr_answer(&out, &["myregistry.azurecr.io"]);
    assert_eq!(out.stderr, "");

    let imds_requests = imds.received();
    assert_eq!(imds_requests.len(), 1);
    let r = &imds_requests[0];
    assert_eq!(
        (r.method.as_str(), r.host.as_str(), r.path.as_str()),
        ("GET", "169.254.169.254", IMDS_PATH)
    );
    assert_eq!(r.header("metadata"), Some("true"));
    assert_eq!(r.form_value("api-version").as_deref(), Some("2018-02-01"));
    assert_eq!(
        r.form_value("resource").as_deref(),
        Some("https://containerregistry.azure.net")
    );
    assert_eq!(r.form_value("client_id"), None);
    assert_eq!(r.form_value("msi_res_id"), None);

    let registry = cloud.server.received();
    let steps: Vec<(&str, &str, &str)> = registry
        .iter()
        .map(|e| (e.method.as_str(), e.host.as_str(), e.path.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("GET", "myregistry.azurecr.io", "/v2/"),
            ("POST", "myregistry.azurecr.io", "/oauth2/exchange"),
        ]
    );
    assert_eq!(
        registry[0].header("content-length"),
        None,
        "a GET has no body"
    );
    let exchange = &registry[1];
    assert_eq!(
        exchange.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        exchange.header("user-agent"),
        Some("kubernetes-credentialprovider-acr")
    );
    for (key, value) in [
        ("grant_type", "access_token_refresh_token"),
        ("service", "myregistry.azurecr.io"),
        ("tenant", TENANT),
        ("access_token", ENTRA_TOKEN),
        ("refresh_token", ENTRA_TOKEN),
    ] {
        assert_eq!(exchange.form_value(key).as_deref(), Some(value), "{key}");
    }
    exchange.assert_framed_by_length();
    assert_eq!(
        cloud.proxy.received(),
        [
            "CONNECT myregistry.azurecr.io:443 HTTP/1.1",
            "CONNECT myregistry.azurecr.io:443 HTTP/1.1"
        ]
    );
}

#[test]
fn user_assigned_identities_by_client_id_and_resource_id() {
    let resource_id = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/kubelet";
    for (id, key) in [
        ("9a2b7c3d-client-id", "client_id"),
        (resource_id, "msi_res_id"),
    ] {
        let imds = imds(imds_token(in_a_day()));
        let cloud = Cloud::new(Script::default());
        let out = run_mi(
            &imds,
            &cloud,
            "myregistry.azurecr.io/app",
            &[("AZURE_USER_ASSIGNED_IDENTITY_ID", id)],
        );
        assert_acr_answer(&out, &["myregistry.azurecr.io"]);
        assert_eq!(imds.received()[0].form_value(key).as_deref(), Some(id));
    }
}

#[test]
fn a_mirrored_registry_gets_the_same_credentials() {
    let imds = imds(imds_token(in_a_day()));
    let cloud = Cloud::new(Script::default());
    let http_proxy = format!("http://127.0.0.1:{}", imds.port);
    let https_proxy = format!("http://127.0.0.1:{}", cloud.proxy.port);
    let mut args: Vec<&str> = MI_ARGS.to_vec();
    args.extend([
        "--arg=--registry-mirror=mcr.microsoft.com:myregistry.azurecr.io",
        "--ca-file",
        cloud.ca.ca_path(),
    ]);
    let out = run_with(
        &args,
        &request(V1, "mcr.microsoft.com/oss/nginx:1.25"),
        &[("HTTP_PROXY", &http_proxy), ("HTTPS_PROXY", &https_proxy)],
    );
    assert_acr_answer(&out, &["mcr.microsoft.com", "myregistry.azurecr.io"]);
}

#[test]
fn images_not_on_acr_get_no_credentials_and_no_network() {
    for image in [
        "quay.io/team/app",
        "myregistry.azurecr.io:5000/app",
        "my-registry.azurecr.io/app",
    ] {
        let out = run_with(&MI_ARGS, &request(V1, image), &[]);
        let response = out.json();
        assert_eq!(response["cacheKeyType"], "Registry");
        assert_eq!(response["cacheDuration"], "0s");
        assert!(
            response["auth"].as_object().is_none_or(|a| a.is_empty()),
            "{response}"
        );
        assert!(!out.stderr.contains("egress denied"));
    }
}

#[test]
fn service_principal_mode_answers_without_network() {
    let out = run_with(
        &SP_ARGS,
        &request(V1, "myregistry.azurecr.io/app"),
        &[
            ("AZURE_CLIENT_ID", "app-client-id"),
            ("AZURE_CLIENT_SECRET", SP_SECRET),
        ],
    );
    let response = out.json();
    assert_eq!(response["cacheDuration"], "1h0m0s");
    let auth = response["auth"].as_object().expect("auth");
    let keys: Vec<&str> = auth.keys().map(String::as_str).collect();
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
    for suffix in ["io", "cn", "de", "us"] {
        let creds = &auth[&format!("*.azurecr.{suffix}")];
        assert_eq!(creds["username"], "app-client-id");
        assert_eq!(creds["password"], SP_SECRET);
    }
    assert_eq!(out.stderr, "");

    // Without the secret: a clear error naming what is missing, never a value.
    let out = run_with(
        &SP_ARGS,
        &request(V1, "myregistry.azurecr.io/app"),
        &[("AZURE_CLIENT_ID", "app-client-id")],
    );
    assert!(!out.status.success());
    assert!(
        out.stderr.contains("AZURE_CLIENT_SECRET must be set"),
        "{}",
        out.stderr
    );
}

#[test]
fn service_account_token_mode_uses_a_client_assertion() {
    let cloud = Cloud::new(Script::default());
    let https_proxy = format!("http://127.0.0.1:{}", cloud.proxy.port);
    let mut args: Vec<&str> = SA_ARGS.to_vec();
    args.extend(["--ca-file", cloud.ca.ca_path()]);
    let mut stdin = json!({
        "kind": "CredentialProviderRequest",
        "apiVersion": V1,
        "image": "myregistry.azurecr.io/team/app",
        "serviceAccountToken": SA_TOKEN,
        "serviceAccountAnnotations": {
            "kubernetes.azure.com/acr-client-id": "wi-client-id",
            "kubernetes.azure.com/acr-tenant-id": TENANT,
        },
    })
    .to_string();
    stdin.push('\n');
    let out = run_with(
        &args,
        stdin.as_bytes(),
        &[("HTTPS_PROXY", &https_proxy), ("AZURE_TENANT_ID", TENANT)],
    );
    assert_acr_answer(&out, &["myregistry.azurecr.io"]);
    let entra = cloud.server.received_at(
        "login.microsoftonline.com",
        &format!("/{TENANT}/oauth2/v2.0/token"),
    );
    assert_eq!(entra.len(), 1);
    for (key, value) in [
        ("client_id", "wi-client-id"),
        ("client_assertion", SA_TOKEN),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("grant_type", "client_credentials"),
        ("scope", "https://containerregistry.azure.net/.default"),
    ] {
        assert_eq!(entra[0].form_value(key).as_deref(), Some(value), "{key}");
    }
    entra[0].assert_framed_by_length();
    let exchange = cloud
        .server
        .received_at("myregistry.azurecr.io", "/oauth2/exchange");
    assert_eq!(
        exchange[0].form_value("access_token").as_deref(),
        Some(ENTRA_TOKEN)
    );
}

#[test]
fn service_principal_mode_works_as_a_core_module_too() {
    // No network needed, so the wasm32-wasip1 build serves this mode.
    let out = run_on(
        Target::P1,
        &SP_ARGS,
        &request(V1, "myregistry.azurecr.io/app"),
        &[
            ("AZURE_CLIENT_ID", "app-client-id"),
            ("AZURE_CLIENT_SECRET", SP_SECRET),
        ],
    );
    let response = out.json();
    assert_eq!(response["auth"]["*.azurecr.io"]["password"], SP_SECRET);
    assert_eq!(response["auth"].as_object().map(|a| a.len()), Some(5));
}

/// A failed run: non-zero exit, nothing on stdout, the plugin's one error line containing `why`
/// and the host's failure line last (audit lines may come between).
fn assert_fails(out: &Outcome, why: &str) {
    assert!(!out.status.success(), "expected failure:\n{}", out.stderr);
    assert_eq!(out.stdout, "", "nothing on stdout after a failure");
    let last = out.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!("wasm-credential-provider: {PLUGIN}: guest exited")),
        "the host's failure line last:\n{}",
        out.stderr
    );
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("[acr-credential-provider] error: "))
        .collect();
    assert_eq!(errors.len(), 1, "one plugin error line in:\n{}", out.stderr);
    assert!(errors[0].contains(why), "{why:?} in {:?}", errors[0]);
    assert_no_token_in_logs(out);
}

#[test]
fn imds_down_fails_clearly() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let cloud = Cloud::new(Script::default());
    let http_proxy = format!("http://127.0.0.1:{port}");
    let out = run_with(
        &MI_ARGS,
        &request(V1, "myregistry.azurecr.io/app"),
        &[("HTTP_PROXY", &http_proxy)],
    );
    assert_fails(
        &out,
        "managed identity token from IMDS (http://169.254.169.254/metadata/identity/oauth2/token): request failed",
    );
    assert!(cloud.server.received().is_empty());
}

#[test]
fn cloud_errors_fail_clearly() {
    let expired = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 60;
    let default = Script::default;
    let cases: Vec<(Reply, Script, &str)> = vec![
        (
            Reply::json(403, &json!({"error": "forbidden"})),
            default(),
            "managed identity token from IMDS: status 403",
        ),
        (
            Reply::text(200, "<html>maintenance</html>"),
            default(),
            "managed identity token from IMDS: malformed token reply",
        ),
        (
            imds_token(expired),
            default(),
            "managed identity token from IMDS: the token has already expired",
        ),
        (
            imds_token(in_a_day()),
            Script {
                exchange: Reply::json(403, &json!({"errors": [{"code": "DENIED"}]})),
                ..default()
            },
            "ACR token exchange at myregistry.azurecr.io: status 403",
        ),
        (
            imds_token(in_a_day()),
            Script {
                exchange: Reply::text(200, "{\"refresh_token\":"),
                ..default()
            },
            "ACR token exchange at myregistry.azurecr.io: malformed reply",
        ),
        (
            imds_token(in_a_day()),
            Script {
                challenge: Reply::text(200, "{}"),
                ..default()
            },
            "expected status 401 with a Bearer challenge, got 200",
        ),
    ];
    for (imds_reply, script, why) in cases {
        let imds = imds(imds_reply);
        let cloud = Cloud::new(script);
        let out = run_mi(&imds, &cloud, "myregistry.azurecr.io/app", &[]);
        assert_fails(&out, why);
    }
}

#[test]
fn a_narrower_allow_list_is_refused() {
    let imds = imds(imds_token(in_a_day()));
    let cloud = Cloud::new(Script::default());
    let http_proxy = format!("http://127.0.0.1:{}", imds.port);
    let https_proxy = format!("http://127.0.0.1:{}", cloud.proxy.port);
    // Only IMDS: the registry's challenge is refused.
    let out = run_with(
        &[
            MI_ARGS[0],
            MI_ARGS[1],
            MI_ARGS[4],
            "--ca-file",
            cloud.ca.ca_path(),
        ],
        &request(V1, "myregistry.azurecr.io/app"),
        &[("HTTP_PROXY", &http_proxy), ("HTTPS_PROXY", &https_proxy)],
    );
    assert_fails(
        &out,
        "the host refused the request to https://myregistry.azurecr.io/v2/ (add it to --allow-http)",
    );
    let audits: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("egress denied"))
        .collect();
    assert_eq!(
        audits,
        [format!(
            "wasm-credential-provider: {PLUGIN}: egress denied: https://myregistry.azurecr.io:443/v2/ (not allowed by --allow-http)"
        )]
    );
    assert!(cloud.server.received().is_empty());
    assert!(cloud.proxy.received().is_empty());

    // IMDS on another path prefix (Azure's whole /metadata is not needed, a wrong one fails).
    let out = run_with(
        &[
            MI_ARGS[0],
            "--allow-http=http://169.254.169.254/metadata/instance",
            MI_ARGS[2],
            MI_ARGS[3],
        ],
        &request(V1, "myregistry.azurecr.io/app"),
        &[("HTTP_PROXY", &http_proxy)],
    );
    assert_fails(&out, "add it to --allow-http");
    assert!(
        out.stderr.contains(&format!(
            "egress denied: http://169.254.169.254:80{IMDS_PATH} (not allowed by --allow-http)"
        )),
        "{}",
        out.stderr
    );
}

/// `(provider name, [--arg=/--allow-http=/--env=/--token-cache-type= lines])` for each provider
/// in the README's kubelet configs.
fn readme_providers() -> Vec<(String, Vec<String>)> {
    let mut providers: Vec<(String, Vec<String>)> = Vec::new();
    for line in README.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("- name: ") {
            providers.push((name.to_owned(), Vec::new()));
        } else if let Some(arg) = line.strip_prefix("- ") {
            let relevant = ["--arg=", "--allow-http=", "--env=", "--token-cache-type="]
                .iter()
                .any(|p| arg.starts_with(p));
            if let (true, Some((_, args))) = (relevant, providers.last_mut()) {
                args.push(arg.to_owned());
            }
        }
    }
    providers
}

#[test]
fn readme_configs_have_exactly_the_args_the_tests_use() {
    let providers = readme_providers();
    let expected: Vec<(String, Vec<String>)> = [
        ("acr-credential-provider", &MI_ARGS[..]),
        ("acr-credential-provider-sa", &SA_ARGS[..]),
        ("acr-credential-provider-sp", &SP_ARGS[..]),
    ]
    .iter()
    .map(|(name, args)| {
        (
            name.to_string(),
            args.iter().map(|a| a.to_string()).collect(),
        )
    })
    .collect();
    assert_eq!(providers, expected);
    crate::plugin_gcp::assert_readme_config_is_valid(README);
}

/// `WCP_BENCH_HOST=target/release/wasm-credential-provider cargo test -p wasm-credential-provider
/// --test e2e measure_acr -- --ignored --nocapture`: the figures in the plugin's README.
#[test]
#[ignore = "a measurement, not a test"]
fn measure_acr_precompiled() {
    let imds = imds(imds_token(in_a_day()));
    let cloud = Cloud::new(Script::default());
    let http_proxy = format!("http://127.0.0.1:{}", imds.port);
    let https_proxy = format!("http://127.0.0.1:{}", cloud.proxy.port);
    let mut args: Vec<&str> = MI_ARGS.to_vec();
    args.extend(["--ca-file", cloud.ca.ca_path()]);
    crate::plugin_gcp::measure_precompiled(
        PLUGIN,
        20,
        &args,
        &request(V1, "myregistry.azurecr.io/team/app"),
        &[
            ("HTTP_PROXY", &http_proxy),
            ("HTTPS_PROXY", &https_proxy),
            ("NO_PROXY", ""),
            ("AZURE_TENANT_ID", TENANT),
        ],
    );
    // Service-principal mode: no network at all.
    crate::plugin_gcp::measure_precompiled(
        PLUGIN,
        20,
        &SP_ARGS,
        &request(V1, "myregistry.azurecr.io/app"),
        &[
            ("AZURE_CLIENT_ID", "app-client-id"),
            ("AZURE_CLIENT_SECRET", SP_SECRET),
        ],
    );
}
