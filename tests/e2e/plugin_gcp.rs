//! End-to-end tests of the `gcp` example plugin through the host, against loopback servers
//! speaking the real cloud wire formats (see `cloud_servers.rs`).
//!
//! The plugin keeps its real endpoints (`http://169.254.169.254/computeMetadata/v1/...`,
//! `https://sts.googleapis.com/v1/token`) and the host gets exactly the `--allow-http` and
//! `--env` list of `example-plugins/gcp/README.md`; `HTTP_PROXY` (plain HTTP, absolute form)
//! and `HTTPS_PROXY` (a CONNECT tunnel to a TLS server with a test CA) route the requests to
//! the fake cloud.

use std::path::Path;

use serde_json::json;

use crate::cloud_servers::{Exchange, FakeCloud, Reply};
use crate::http_servers::{ConnectProxy, TestCa};
use crate::support::*;

const PLUGIN: &str = "auth-provider-gcp";
const README: &str = include_str!("../../example-plugins/gcp/README.md");

/// The host's `args` the README's kubelet config gives (besides `--module`/`--sha256` and the
/// guest's own `--arg`s).
const ALLOW_AND_ENV: [&str; 5] = [
    "--allow-http=http://169.254.169.254/computeMetadata/v1",
    "--allow-http=sts.googleapis.com/v1/token",
    "--env=KUBE_SIDECAR_CACHE_TYPE",
    "--env=KUBE_SIDECAR_CACHE_DURATION",
    "--token-cache-type=Token",
];
/// The guest arguments of the README's config.
const GUEST_ARGS: [&str; 4] = [
    "--arg=get-credentials",
    "--arg=--v=3",
    "--arg=--identity-provider=https://container.googleapis.com/v1/projects/my-project/locations/europe-west1/clusters/my-cluster",
    "--arg=--project-id=my-project",
];

const TOKEN_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";
const EMAIL_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/email";
const METADATA_IP: &str = "169.254.169.254";

/// The GCE metadata server as `handler` plays it, the happy path by default.
fn metadata_server(token_reply: Reply) -> FakeCloud {
    FakeCloud::http(move |e: &Exchange| {
        if e.header("metadata-flavor") != Some("Google") {
            return Reply::text(403, "Missing Metadata-Flavor:Google header.");
        }
        match e.path.as_str() {
            TOKEN_PATH => token_reply.clone(),
            EMAIL_PATH => Reply::text(200, "sa@proj.iam.gserviceaccount.com"),
            _ => Reply::text(404, "not found"),
        }
    })
}

fn good_token() -> Reply {
    Reply::json(
        200,
        &json!({"access_token": "ya29.mock", "expires_in": 3599, "token_type": "Bearer"}),
    )
}

/// Runs the plugin with the README's args plus `extra`, `env` in the host's environment (no
/// proxy and no cache settings unless given).
fn run_with(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Outcome {
    run_on(Target::P2, args, stdin, env)
}

/// Variables of the tester's environment that must not reach a run unless a test sets them.
const CLEARED_ENV: [&str; 6] = [
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "KUBE_SIDECAR_CACHE_TYPE",
    "KUBE_SIDECAR_CACHE_DURATION",
    "GCE_METADATA_HOST",
];

/// [`run_with`] for the plugin built for `target`.
fn run_on(target: Target, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Outcome {
    exec_plugin(PLUGIN, target, args, stdin, &CLEARED_ENV, env)
}

/// Runs with exactly the README's args, and `extra` after them.
fn run(extra: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Outcome {
    let mut args: Vec<&str> = GUEST_ARGS.to_vec();
    args.extend(ALLOW_AND_ENV);
    args.extend_from_slice(extra);
    run_with(&args, stdin, env)
}

fn proxy_to(server: &FakeCloud) -> String {
    format!("http://127.0.0.1:{}", server.port)
}

/// A v1 request carrying a service-account token and annotations.
fn sa_request(image: &str, token: &str, annotations: serde_json::Value) -> Vec<u8> {
    let mut text = json!({
        "kind": "CredentialProviderRequest",
        "apiVersion": V1,
        "image": image,
        "serviceAccountToken": token,
        "serviceAccountAnnotations": annotations,
    })
    .to_string();
    text.push('\n');
    text.into_bytes()
}

const ALL_KEYS: [&str; 5] = [
    "*.gcr.io",
    "*.pkg.dev",
    "container.cloud.google.com",
    "gcr.io",
    "us-docker.pkg.dev",
];

fn assert_token_for_all_keys(response: &serde_json::Value, token: &str) {
    let auth = response["auth"].as_object().expect("auth");
    let keys: Vec<&str> = auth.keys().map(String::as_str).collect();
    assert_eq!(keys, ALL_KEYS, "{response}");
    for creds in auth.values() {
        assert_eq!(creds["username"], "_token");
        assert_eq!(creds["password"], token);
    }
}

/// The real plugin's fallback: exit 0, no credentials, one line from the plugin saying why.
fn assert_empty_auth(out: &Outcome, why: &str) {
    let response = out.json();
    // The host re-encodes canonically: an empty `auth` is omitted, which the kubelet reads the
    // same as `{}`.
    assert!(
        response["auth"].as_object().is_none_or(|a| a.is_empty()),
        "{response}"
    );
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("[auth-provider-gcp] no credentials"))
        .collect();
    assert_eq!(lines.len(), 1, "one explanation in:\n{}", out.stderr);
    assert!(lines[0].contains(why), "{why:?} in {:?}", lines[0]);
    assert!(!out.stderr.contains("ya29"), "no token in the log");
    out.assert_no_kubelet_secret();
}

#[test]
fn gcr_flow_answers_with_the_node_token_for_the_real_keys() {
    let metadata = metadata_server(good_token());
    let proxy = proxy_to(&metadata);
    let out = run(
        &[],
        &request(V1, "us-docker.pkg.dev/proj/repo/app"),
        &[("HTTP_PROXY", &proxy)],
    );
    let response = out.json();
    assert_token_for_all_keys(&response, "ya29.mock");
    assert_eq!(response["cacheKeyType"], "Image");
    assert_eq!(
        response["cacheDuration"], "0s",
        "unset duration is an explicit 0s"
    );
    assert_eq!(out.stderr, "");
    let received = metadata.received();
    let paths: Vec<(&str, &str)> = received
        .iter()
        .map(|e| (e.host.as_str(), e.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        [(METADATA_IP, TOKEN_PATH), (METADATA_IP, EMAIL_PATH)]
    );
    for e in &received {
        assert_eq!(e.method, "GET");
        assert_eq!(e.header("metadata-flavor"), Some("Google"));
        assert_eq!(
            e.header("user-agent"),
            Some("GKE auth-provider-gcp image pull")
        );
    }
}

#[test]
fn cache_settings_come_from_the_environment() {
    let metadata = metadata_server(good_token());
    let proxy = proxy_to(&metadata);
    let out = run(
        &[],
        &request(V1, "gcr.io/proj/app"),
        &[
            ("HTTP_PROXY", &proxy),
            ("KUBE_SIDECAR_CACHE_TYPE", "registry"),
            ("KUBE_SIDECAR_CACHE_DURATION", "300s"),
        ],
    );
    let response = out.json();
    assert_eq!(response["cacheKeyType"], "Registry");
    assert_eq!(response["cacheDuration"], "5m0s");
    assert_eq!(response["auth"]["gcr.io"]["password"], "ya29.mock");
}

#[test]
fn metadata_server_down_gives_an_empty_auth() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let out = run(
        &[],
        &request(V1, "gcr.io/proj/app"),
        &[("HTTP_PROXY", &proxy)],
    );
    assert_empty_auth(
        &out,
        "metadata server http://169.254.169.254/computeMetadata/v1/",
    );
    assert_eq!(out.json()["cacheDuration"], "0s");
}

#[test]
fn metadata_errors_give_an_empty_auth() {
    let cases = [
        (Reply::text(403, "Forbidden"), "status 403"),
        (
            Reply::text(200, "<html>not json</html>"),
            "malformed token reply",
        ),
        (
            Reply::json(200, &json!({"token_type": "Bearer", "expires_in": 3599})),
            "no access_token",
        ),
        (
            Reply::json(200, &json!({"access_token": "ya29.old", "expires_in": 0})),
            "expired",
        ),
    ];
    for (reply, why) in cases {
        let metadata = metadata_server(reply);
        let proxy = proxy_to(&metadata);
        let out = run(
            &[],
            &request(V1, "gcr.io/proj/app"),
            &[("HTTP_PROXY", &proxy)],
        );
        assert_empty_auth(&out, why);
    }
}

/// A TLS `sts.googleapis.com` behind a CONNECT proxy.
struct Sts {
    ca: TestCa,
    server: FakeCloud,
    proxy: ConnectProxy,
}

impl Sts {
    fn new(reply: Reply) -> Sts {
        let ca = TestCa::with_names(&["sts.googleapis.com"]);
        let server = FakeCloud::https(&ca, move |e: &Exchange| {
            if e.method == "POST" && e.path == "/v1/token" {
                reply.clone()
            } else {
                Reply::text(404, "not found")
            }
        });
        let proxy = ConnectProxy::to_port(server.port);
        Sts { ca, server, proxy }
    }

    fn proxy_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.proxy.port)
    }
}

const WI_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.sa-token.sig";

#[test]
fn workload_identity_exchanges_the_service_account_token_at_sts() {
    let metadata = metadata_server(good_token());
    let sts = Sts::new(Reply::json(
        200,
        &json!({"access_token": "ya29.wi", "expires_in": 3599, "token_type": "Bearer"}),
    ));
    let (http_proxy, https_proxy) = (proxy_to(&metadata), sts.proxy_url());
    let out = run(
        &["--ca-file", sts.ca.ca_path()],
        &sa_request(
            "us-docker.pkg.dev/proj/repo/app",
            WI_TOKEN,
            json!({"iam.gke.io/enable-wi-image-pull": "true"}),
        ),
        &[("HTTP_PROXY", &http_proxy), ("HTTPS_PROXY", &https_proxy)],
    );
    assert_token_for_all_keys(&out.json(), "ya29.wi");
    assert!(!out.stderr.contains(WI_TOKEN));
    assert!(metadata.received().is_empty(), "no node token in WI mode");
    let received = sts.server.received_at("sts.googleapis.com", "/v1/token");
    assert_eq!(received.len(), 1);
    assert!(
        received[0]
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
    // The head exactly as the native SDK build writes the same request (the SDK's
    // `bodies_go_out_with_content_length_and_pass_a_strict_server` pins the same layout):
    // `host`, the plugin's fields in order, names lowercased, then `content-length`.
    assert_eq!(
        received[0].head,
        format!(
            "POST /v1/token HTTP/1.1\r\nhost: sts.googleapis.com\r\ncontent-type: application/json\r\nuser-agent: GKE auth-provider-gcp image pull\r\ncontent-length: {}\r\n\r\n",
            received[0].body.len()
        )
    );
    received[0].assert_framed_by_length();
    let body: serde_json::Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(
        body,
        json!({
            "audience": "identitynamespace:my-project.svc.id.goog:https://container.googleapis.com/v1/projects/my-project/locations/europe-west1/clusters/my-cluster",
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "scope": "https://www.googleapis.com/auth/cloud-platform",
            "subject_token": WI_TOKEN,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        })
    );
    assert_eq!(
        sts.proxy.received(),
        ["CONNECT sts.googleapis.com:443 HTTP/1.1"]
    );

    // Without the opt-in annotation: the node's service account, STS untouched.
    let out = run(
        &["--ca-file", sts.ca.ca_path()],
        &sa_request("gcr.io/p/a", WI_TOKEN, json!({})),
        &[("HTTP_PROXY", &http_proxy), ("HTTPS_PROXY", &https_proxy)],
    );
    assert_eq!(out.json()["auth"]["gcr.io"]["password"], "ya29.mock");
    assert_eq!(sts.server.received().len(), 1);
}

#[test]
fn opted_in_without_a_token_gets_an_empty_auth_not_the_node_account() {
    let metadata = metadata_server(good_token());
    let sts = Sts::new(Reply::json(200, &json!({"access_token": "ya29.wi"})));
    let (http_proxy, https_proxy) = (proxy_to(&metadata), sts.proxy_url());
    let mut stdin = json!({
        "kind": "CredentialProviderRequest",
        "apiVersion": V1,
        "image": "gcr.io/p/a",
        "serviceAccountAnnotations": {"iam.gke.io/enable-wi-image-pull": "true"},
    })
    .to_string();
    stdin.push('\n');
    let out = run(
        &["--ca-file", sts.ca.ca_path()],
        stdin.as_bytes(),
        &[("HTTP_PROXY", &http_proxy), ("HTTPS_PROXY", &https_proxy)],
    );
    assert_empty_auth(&out, "no service-account token");
    assert!(
        metadata.received().is_empty(),
        "the node's token was not read"
    );
    assert!(sts.server.received().is_empty());
}

#[test]
fn workload_identity_applies_to_the_gcr_flow_only() {
    let metadata = FakeCloud::http(|e: &Exchange| match e.path.as_str() {
        "/computeMetadata/v1/instance/attributes/google-dockercfg" => Reply::json(
            200,
            &json!({"registry.example": {"username": "robot", "password": "s3cret"}}),
        ),
        _ => Reply::text(404, "not found"),
    });
    let sts = Sts::new(Reply::json(200, &json!({"access_token": "ya29.wi"})));
    let (http_proxy, https_proxy) = (proxy_to(&metadata), sts.proxy_url());
    // `-a`, the real plugin's shorthand for --authFlow.
    let out = run(
        &["--arg=-a", "--arg=dockercfg", "--ca-file", sts.ca.ca_path()],
        &sa_request(
            "registry.example/team/app",
            WI_TOKEN,
            json!({"iam.gke.io/enable-wi-image-pull": "true"}),
        ),
        &[("HTTP_PROXY", &http_proxy), ("HTTPS_PROXY", &https_proxy)],
    );
    let (key, _, password) = only_credential(&out.json());
    assert_eq!(
        (key.as_str(), password.as_str()),
        ("registry.example", "s3cret")
    );
    assert!(sts.server.received().is_empty(), "no STS exchange");
    assert!(
        out.stderr
            .contains("--identity-provider has no effect with --authFlow=dockercfg"),
        "{}",
        out.stderr
    );
}

#[test]
fn identity_provider_without_project_is_refused() {
    let out = run_with(
        &[
            GUEST_ARGS[0],
            GUEST_ARGS[2],
            ALLOW_AND_ENV[0],
            ALLOW_AND_ENV[1],
        ],
        &request(V1, "gcr.io/p/a"),
        &[],
    );
    assert!(!out.status.success());
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains(
            "[auth-provider-gcp] error: --project-id is required when --identity-provider is set"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn sts_errors_give_an_empty_auth_without_falling_back_to_the_node() {
    let cases = [
        (
            Reply::json(403, &json!({"error": "access_denied"})),
            "status 403",
        ),
        (
            Reply::text(200, "{\"access_token\":"),
            "malformed token reply",
        ),
        (
            Reply::json(200, &json!({"access_token": "ya29.old", "expires_in": -5})),
            "expired",
        ),
    ];
    for (reply, why) in cases {
        let metadata = metadata_server(good_token());
        let sts = Sts::new(reply);
        let (http_proxy, https_proxy) = (proxy_to(&metadata), sts.proxy_url());
        let out = run(
            &["--ca-file", sts.ca.ca_path()],
            &sa_request(
                "gcr.io/p/a",
                WI_TOKEN,
                json!({"iam.gke.io/enable-wi-image-pull": "true"}),
            ),
            &[("HTTP_PROXY", &http_proxy), ("HTTPS_PROXY", &https_proxy)],
        );
        assert_empty_auth(&out, why);
        assert!(!out.stderr.contains(WI_TOKEN));
        assert!(metadata.received().is_empty());
    }
}

#[test]
fn a_narrower_allow_list_is_refused() {
    let metadata = metadata_server(good_token());
    let proxy = proxy_to(&metadata);
    // Only the token path: the email request is refused.
    let out = run_with(
        &[
            "--arg=get-credentials",
            "--allow-http=http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token",
        ],
        &request(V1, "gcr.io/proj/app"),
        &[("HTTP_PROXY", &proxy)],
    );
    assert_refused_with_audit(
        &out,
        &format!(
            "egress denied: http://{METADATA_IP}:80{EMAIL_PATH} (not allowed by --allow-http)"
        ),
    );
    assert_eq!(
        metadata.received().len(),
        1,
        "only the allowed request left"
    );

    // Workload identity without sts.googleapis.com: the audit line names it, and the plugin
    // sees the refusal of its POST as a denial (a configuration mistake), not an STS error.
    let out = run_with(
        &[
            GUEST_ARGS[0],
            GUEST_ARGS[2],
            GUEST_ARGS[3],
            ALLOW_AND_ENV[0],
        ],
        &sa_request(
            "gcr.io/p/a",
            WI_TOKEN,
            json!({"iam.gke.io/enable-wi-image-pull": "true"}),
        ),
        &[("HTTP_PROXY", &proxy)],
    );
    let audits: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("egress denied: "))
        .collect();
    assert_eq!(
        audits,
        [format!(
            "wasm-credential-provider: {PLUGIN}: egress denied: https://sts.googleapis.com:443/v1/token (not allowed by --allow-http)"
        )],
        "{}",
        out.stderr
    );
    assert!(!out.status.success(), "a denied STS request fails the run");
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("--allow-http"), "{}", out.stderr);
    assert!(!out.stderr.contains(WI_TOKEN));
    assert_eq!(metadata.received().len(), 1, "no node-token fallback");
}

/// Non-zero exit, nothing on stdout, one audit line `audit`, and the plugin's own error
/// naming `--allow-http`.
fn assert_refused_with_audit(out: &Outcome, audit: &str) {
    assert!(!out.status.success(), "expected failure:\n{}", out.stderr);
    assert_eq!(out.stdout, "");
    let audits: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("egress denied: "))
        .collect();
    assert_eq!(
        audits,
        [format!("wasm-credential-provider: {PLUGIN}: {audit}")],
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with("[auth-provider-gcp] error: ") && l.contains("--allow-http")),
        "the plugin says what to allow:\n{}",
        out.stderr
    );
}

#[test]
fn gce_metadata_host_overrides_the_metadata_address() {
    let metadata = metadata_server(good_token());
    let host = format!("127.0.0.1:{}", metadata.port);
    let allow = format!("--allow-http=http://{host}/computeMetadata/v1");
    let out = run_with(
        &["--arg=get-credentials", &allow, "--env=GCE_METADATA_HOST"],
        &request(V1, "us-docker.pkg.dev/proj/repo/app"),
        &[("GCE_METADATA_HOST", &host)],
    );
    assert_token_for_all_keys(&out.json(), "ya29.mock");
    assert_eq!(metadata.received_at("127.0.0.1", TOKEN_PATH).len(), 1);
}

#[test]
fn bad_arguments_fail_clearly() {
    let out = run_with(&[], &request(V1, "gcr.io/p/a"), &[]);
    assert!(!out.status.success());
    assert!(
        out.stderr
            .contains("[auth-provider-gcp] error: missing subcommand get-credentials"),
        "{}",
        out.stderr
    );
    let out = run_with(
        &["--arg=get-credentials", "--arg=--authFlow=oidc"],
        &request(V1, "gcr.io/p/a"),
        &[],
    );
    assert!(!out.status.success());
    assert!(out.stderr.contains("--authFlow: must be"), "{}", out.stderr);
}

#[test]
fn dockercfg_flow_reads_the_instance_attribute() {
    let metadata = FakeCloud::http(|e: &Exchange| match e.path.as_str() {
        "/computeMetadata/v1/instance/attributes/google-dockercfg"
            if e.header("metadata-flavor") == Some("Google") =>
        {
            // "robot:s3cret"
            Reply::json(
                200,
                &json!({"registry.example": {"auth": "cm9ib3Q6czNjcmV0", "email": "x@example"}}),
            )
        }
        _ => Reply::text(404, "not found"),
    });
    let proxy = proxy_to(&metadata);
    let out = run(
        &["--arg=--authFlow=dockercfg"],
        &request(V1, "registry.example/team/app"),
        &[("HTTP_PROXY", &proxy)],
    );
    let (key, user, password) = only_credential(&out.json());
    assert_eq!(
        (key.as_str(), user.as_str(), password.as_str()),
        ("registry.example", "robot", "s3cret")
    );
}

#[test]
fn the_core_module_build_has_no_network_and_says_so() {
    let mut args: Vec<&str> = GUEST_ARGS.to_vec();
    args.extend(ALLOW_AND_ENV);
    let out = run_on(Target::P1, &args, &request(V1, "gcr.io/p/a"), &[]);
    assert!(!out.status.success(), "{}", out.stdout);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .contains("HTTP needs a wasm32-wasip2 component (this is a core module)"),
        "{}",
        out.stderr
    );
}

/// The `- --allow-http=...`, `- --env=...` and `- --token-cache-type=...` lines of the README's
/// kubelet config.
fn readme_allow_and_env() -> Vec<String> {
    README
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .filter(|a| {
            ["--allow-http=", "--env=", "--token-cache-type="]
                .iter()
                .any(|p| a.starts_with(p))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn readme_config_has_exactly_the_args_the_tests_use() {
    assert_eq!(readme_allow_and_env(), ALLOW_AND_ENV);
    let guest_args: Vec<&str> = README
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .filter(|a| a.starts_with("--arg="))
        .collect();
    assert_eq!(guest_args, GUEST_ARGS);
    assert_readme_config_is_valid(README);
}

/// The README's kubelet config passes the host's `check-config` (the kubelet's validation).
pub fn assert_readme_config_is_valid(readme: &str) {
    let dir = tempfile::tempdir().unwrap();
    for (i, block) in readme.split("```yaml\n").skip(1).enumerate() {
        let yaml = block.split("```").next().unwrap_or_default();
        let path = dir.path().join(format!("config-{i}.yaml"));
        std::fs::write(&path, yaml).unwrap();
        let out = exec(&["check-config", path.to_str().unwrap()], b"");
        assert!(out.status.success(), "{yaml}\n{}{}", out.stdout, out.stderr);
    }
}

/// Measures a plugin through a host (`WCP_BENCH_HOST`, else the debug host under test) with a
/// precompiled module: prints the `.wasm` size and the median, min and max wall time of `runs`
/// execs (spawn to exit). `args` and `env` are the run's, without `--module`.
pub fn measure_precompiled(
    plugin: &str,
    runs: usize,
    args: &[&str],
    stdin: &[u8],
    env: &[(&str, &str)],
) {
    let host = std::env::var("WCP_BENCH_HOST").unwrap_or_else(|_| HOST.to_owned());
    let wasm = test_artifacts::plugin(plugin, Target::P2);
    let size = std::fs::metadata(&wasm).unwrap().len();
    let dir = tempfile::tempdir().unwrap();
    let cwasm = dir.path().join(format!("{plugin}.cwasm"));
    let compiled = exec_program(
        Path::new(&host),
        &[
            "compile",
            wasm.to_str().unwrap(),
            "-o",
            cwasm.to_str().unwrap(),
        ],
        b"",
        &[],
    );
    assert!(compiled.status.success(), "{}", compiled.stderr);
    let mut all = vec!["--module", cwasm.to_str().unwrap(), "--allow-precompiled"];
    all.extend_from_slice(args);
    let mut times: Vec<std::time::Duration> = (0..runs)
        .map(|_| {
            let out = exec_program(Path::new(&host), &all, stdin, env);
            assert!(out.status.success(), "{}", out.stderr);
            out.elapsed
        })
        .collect();
    times.sort();
    println!(
        "{plugin}: host {host}; wasm {size} bytes ({:.1} KiB); cwasm {} bytes; {runs} runs: median {:?}, min {:?}, max {:?}",
        size as f64 / 1024.0,
        std::fs::metadata(&cwasm).unwrap().len(),
        times[runs / 2],
        times[0],
        times[runs - 1],
    );
}

/// `WCP_BENCH_HOST=target/release/wasm-credential-provider cargo test -p wasm-credential-provider
/// --test e2e measure_gcp -- --ignored --nocapture`: the figures in the plugin's README.
#[test]
#[ignore = "a measurement, not a test"]
fn measure_gcp_precompiled() {
    let metadata = metadata_server(good_token());
    let proxy = proxy_to(&metadata);
    let mut args: Vec<&str> = GUEST_ARGS.to_vec();
    args.extend(ALLOW_AND_ENV);
    measure_precompiled(
        PLUGIN,
        20,
        &args,
        &request(V1, "us-docker.pkg.dev/proj/repo/app"),
        &[
            ("HTTP_PROXY", &proxy),
            ("HTTPS_PROXY", ""),
            ("NO_PROXY", ""),
        ],
    );
}
