//! Outbound HTTP(S) for guests: the `http_fetch` guest uses the SDK's client over `wasi:http`
//! against loopback servers; every refusal fails inside the guest, leaves one audit line, and
//! never reaches a server.

use std::path::Path;
use std::time::Duration;

use crate::http_servers::{ConnectProxy, Origin, TestCa};
use crate::support::*;

const GUEST: &str = "http_fetch";

/// Runs the `http_fetch` component fetching `url` (with guest options), with host `args` and no
/// proxy in the environment unless `env` sets one.
fn fetch(url: &str, options: &[&str], args: &[&str], env: &[(&str, &str)]) -> Outcome {
    fetch_on(Target::P2, url, options, args, env)
}

fn fetch_on(
    target: Target,
    url: &str,
    options: &[&str],
    args: &[&str],
    env: &[(&str, &str)],
) -> Outcome {
    let module = test_artifacts::guest(GUEST, target);
    let mut all = vec!["--module", module.to_str().unwrap(), "--arg", url];
    for option in options {
        all.extend(["--arg", option]);
    }
    all.extend_from_slice(args);
    let mut environment = vec![("HTTPS_PROXY", ""), ("HTTP_PROXY", ""), ("NO_PROXY", "")];
    environment.extend_from_slice(env);
    exec_program(Path::new(HOST), &all, &v1_request(), &environment)
}

fn password(out: &Outcome) -> String {
    only_credential(&out.json()).2
}

/// Asserts the guest was refused by policy: it saw a denial, and the host wrote exactly one
/// audit line naming `destination` and `reason`.
fn assert_denied(out: &Outcome, destination: &str, reason: &str) {
    assert!(!out.status.success(), "expected failure:\n{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("[http_fetch] http error: denied"),
        "guest saw a policy denial:\n{}",
        out.stderr
    );
    let audit: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("wasm-credential-provider: http_fetch: egress denied: "))
        .collect();
    assert_eq!(audit.len(), 1, "one audit line in:\n{}", out.stderr);
    assert!(
        audit[0].contains(&format!("egress denied: {destination} ")) && audit[0].contains(reason),
        "audit line names {destination} ({reason}):\n{}",
        out.stderr
    );
    out.assert_no_kubelet_secret();
}

#[test]
fn http_is_denied_by_default() {
    let origin = Origin::http();
    let url = format!("http://127.0.0.1:{}/ok", origin.port);
    let out = fetch(&url, &[], &[], &[]);
    assert_denied(
        &out,
        &format!("http://127.0.0.1:{}/ok", origin.port),
        "not allowed by --allow-http",
    );
    assert!(origin.received().is_empty());
}

#[test]
fn allowed_http_origin_through_resolve() {
    let origin = Origin::http();
    let port = origin.port;
    let out = fetch(
        &format!("http://allowed.test:{port}/ok/token?audience=x"),
        &[],
        &[
            &format!("--allow-http=http://allowed.test:{port}/ok"),
            &format!("--resolve=allowed.test:{port}:127.0.0.1"),
        ],
        &[],
    );
    assert_eq!(password(&out), "STATUS 200 BODY hello from /ok/token");
    assert_eq!(origin.received(), vec!["GET /ok/token?audience=x"]);
}

#[test]
fn ip_literal_pattern_permits_a_loopback_address() {
    let origin = Origin::http();
    let out = fetch(
        &format!("http://127.0.0.1:{}/latest/meta-data", origin.port),
        &[],
        &[&format!("--allow-http=http://127.0.0.1:{}", origin.port)],
        &[],
    );
    assert_eq!(
        password(&out),
        "STATUS 200 BODY hello from /latest/meta-data"
    );
}

#[test]
fn allowed_https_origin_with_ca_file() {
    let ca = TestCa::new();
    let origin = Origin::https(&ca);
    let port = origin.port;
    let url = format!("https://allowed.test:{port}/v2/token");
    let allow = format!("--allow-http=allowed.test:{port}");
    let resolve = format!("--resolve=allowed.test:{port}:127.0.0.1");
    let out = fetch(
        &url,
        &[],
        &[&allow, &resolve, "--ca-file", ca.ca_path()],
        &[],
    );
    assert_eq!(password(&out), "STATUS 200 BODY hello from /v2/token");

    // Without the private CA the certificate is not trusted: the request fails, not downgraded.
    let out = fetch(&url, &[], &[&allow, &resolve], &[]);
    assert!(!out.status.success());
    assert!(
        out.stderr.contains("[http_fetch] http error: other"),
        "{}",
        out.stderr
    );
}

#[test]
fn requests_outside_the_allow_list_are_refused_and_audited() {
    let origin = Origin::http();
    let port = origin.port;
    let other_port = if port == 65535 { port - 1 } else { port + 1 };
    let allow = format!("--allow-http=http://allowed.test:{port}/ok");
    let resolve = [
        format!("--resolve=allowed.test:{port}:127.0.0.1"),
        format!("--resolve=denied.test:{port}:127.0.0.1"),
        format!("--resolve=allowed.test:{other_port}:127.0.0.1"),
    ];
    let cases = [
        (
            format!("http://denied.test:{port}/ok"),
            format!("http://denied.test:{port}/ok"),
        ),
        (
            format!("http://allowed.test:{other_port}/ok"),
            format!("http://allowed.test:{other_port}/ok"),
        ),
        (
            format!("https://allowed.test:{port}/ok"),
            format!("https://allowed.test:{port}/ok"),
        ),
        (
            format!("http://allowed.test:{port}/admin"),
            format!("http://allowed.test:{port}/admin"),
        ),
        (
            format!("http://allowed.test:{port}/okay"),
            format!("http://allowed.test:{port}/okay"),
        ),
        // The query (it may carry a token) never appears in the audit line.
        (
            format!("http://denied.test:{port}/x?token=sekret-q"),
            format!("http://denied.test:{port}/x"),
        ),
    ];
    for (url, audited) in &cases {
        let out = fetch(
            url,
            &[],
            &[&allow, &resolve[0], &resolve[1], &resolve[2]],
            &[],
        );
        assert_denied(&out, audited, "not allowed by --allow-http");
        assert!(!out.stderr.contains("sekret-q"), "{}", out.stderr);
    }
    assert!(origin.received().is_empty(), "{:?}", origin.received());
}

#[test]
fn allowed_name_resolving_to_loopback_is_refused() {
    let origin = Origin::http();
    let port = origin.port;
    let out = fetch(
        &format!("http://localhost:{port}/ok"),
        &[],
        &[&format!("--allow-http=http://localhost:{port}")],
        &[],
    );
    assert_denied(
        &out,
        &format!("http://localhost:{port}/ok"),
        "loopback address",
    );
    assert!(origin.received().is_empty());
}

#[test]
fn redirect_to_a_host_not_allowed_is_refused() {
    let origin = Origin::http();
    let port = origin.port;
    let out = fetch(
        &format!("http://allowed.test:{port}/redirect?to=http://denied.test:{port}/steal"),
        &["follow"],
        &[
            &format!("--allow-http=http://allowed.test:{port}"),
            &format!("--resolve=allowed.test:{port}:127.0.0.1"),
            &format!("--resolve=denied.test:{port}:127.0.0.1"),
        ],
        &[],
    );
    assert_denied(
        &out,
        &format!("http://denied.test:{port}/steal"),
        "not allowed by --allow-http",
    );
    assert_eq!(
        origin.received(),
        vec![format!("GET /redirect?to=http://denied.test:{port}/steal")]
    );
}

#[test]
fn response_body_cap() {
    let origin = Origin::http();
    let out = fetch(
        &format!("http://127.0.0.1:{}/big", origin.port),
        &[],
        &[&format!("--allow-http=http://127.0.0.1:{}", origin.port)],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        out.stderr
            .contains("[http_fetch] http error: body-too-large"),
        "{}",
        out.stderr
    );
}

#[test]
fn server_that_never_answers_is_cut_off_by_the_deadline() {
    let origin = Origin::http();
    let out = fetch(
        &format!("http://127.0.0.1:{}/hang", origin.port),
        &[],
        &[
            &format!("--allow-http=http://127.0.0.1:{}", origin.port),
            "--timeout=2s",
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(out.elapsed < Duration::from_secs(10), "{:?}", out.elapsed);
    assert!(
        out.stderr.contains("http error: timeout") || out.stderr.contains("time limit"),
        "{}",
        out.stderr
    );
}

#[test]
fn request_count_cap() {
    let origin = Origin::http();
    let port = origin.port;
    let out = fetch(
        &format!("http://127.0.0.1:{port}/ok"),
        &["repeat=3"],
        &[
            &format!("--allow-http=http://127.0.0.1:{port}"),
            "--max-http-requests=2",
        ],
        &[],
    );
    assert_denied(
        &out,
        &format!("http://127.0.0.1:{port}/ok"),
        "more than 2 requests",
    );
    assert_eq!(origin.received().len(), 2);
}

#[test]
fn connect_proxy_carries_allowed_requests_and_never_sees_denied_ones() {
    let ca = TestCa::new();
    let origin = Origin::https(&ca);
    let proxy = ConnectProxy::start();
    let port = origin.port;
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
    let env = [("HTTPS_PROXY", proxy_url.as_str())];
    let allow = format!("--allow-http=allowed.test:{port}");
    let out = fetch(
        &format!("https://allowed.test:{port}/via-proxy"),
        &[],
        &[&allow, "--ca-file", ca.ca_path()],
        &env,
    );
    assert_eq!(password(&out), "STATUS 200 BODY hello from /via-proxy");
    assert_eq!(
        proxy.received(),
        vec![format!("CONNECT allowed.test:{port} HTTP/1.1")]
    );

    let out = fetch(
        &format!("https://denied.test:{port}/via-proxy"),
        &[],
        &[&allow, "--ca-file", ca.ca_path()],
        &env,
    );
    assert_denied(
        &out,
        &format!("https://denied.test:{port}/via-proxy"),
        "not allowed by --allow-http",
    );
    assert_eq!(proxy.received().len(), 1, "{:?}", proxy.received());
}

#[test]
fn core_modules_have_no_http() {
    let out = fetch_on(Target::P1, "https://example.com/", &[], &[], &[]);
    assert!(!out.status.success());
    assert!(
        out.stderr
            .contains("[http_fetch] http error: unsupported: HTTP needs a wasm32-wasip2 component"),
        "{}",
        out.stderr
    );
}

#[test]
fn malformed_patterns_are_rejected_at_start_up() {
    for (arg, needle) in [
        ("--allow-http=ftp://x.example", "unsupported scheme"),
        ("--allow-http=x.example:0", "invalid port"),
        ("--allow-http=*.*", "invalid host"),
        ("--allow-http=x.example/v1?token=1", "invalid path prefix"),
        ("--resolve=x.example:443", "--resolve"),
    ] {
        let out = fetch("https://x.example/", &[], &[arg], &[]);
        out.assert_refused("http_fetch", needle);
        assert_eq!(out.status.code(), Some(2), "{arg}");
    }
}
