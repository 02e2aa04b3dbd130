//! What the guest writes on stdout is held to the kubelet's acceptance rules before anything
//! reaches the kubelet; the canonical re-encoding is what the kubelet gets.

use crate::support::*;

fn respond(raw: &str, target: Target, stdin: &[u8]) -> Outcome {
    exec_guest("print_raw", target, &["--arg", raw], stdin)
}

fn valid(api_version: &str) -> String {
    format!(
        r#"{{"kind":"CredentialProviderResponse","apiVersion":"{api_version}","cacheKeyType":"Registry","cacheDuration":"1h","auth":{{"r.io":{{"username":"u","password":"p"}}}}}}"#
    )
}

#[test]
fn valid_response_is_re_encoded_canonically() {
    for target in Target::ALL {
        for api_version in API_VERSIONS {
            let raw = format!("\n  {}  \n\n", valid(api_version));
            let out = respond(&raw, target, &request(api_version, "r.io/a"));
            out.json();
            assert_eq!(
                out.stdout,
                format!(
                    "{{\"kind\":\"CredentialProviderResponse\",\"apiVersion\":\"{api_version}\",\"cacheKeyType\":\"Registry\",\"cacheDuration\":\"1h0m0s\",\"auth\":{{\"r.io\":{{\"username\":\"u\",\"password\":\"p\"}}}}}}\n"
                )
            );
        }
    }
}

#[test]
fn each_kubelet_rule_refuses_a_bad_response() {
    let ok = |rest: &str| {
        format!(r#"{{"kind":"CredentialProviderResponse","apiVersion":"{V1}"{rest}}}"#)
    };
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "empty output"),
        (
            format!("starting up\n{}", valid(V1)),
            "not a single JSON document",
        ),
        (format!("{}\ndone", valid(V1)), "not a single JSON document"),
        (valid(V1BETA1), "does not match the request's"),
        (
            ok(r#","cacheKeyType":"Registry","expiresAt":"2030-01-01T00:00:00Z""#),
            "unknown field \"expiresAt\"",
        ),
        (
            ok(
                r#","cacheKeyType":"Registry","auth":{"r.io":{"username":"u","password":"p","email":"e"}}"#,
            ),
            "unknown field",
        ),
        (
            ok(r#","CacheKeyType":"Registry""#),
            "unknown field \"CacheKeyType\"",
        ),
        (
            ok(r#","cacheKeyType":"Registry","cacheKeyType":"Image""#),
            "duplicate field",
        ),
        (ok(r#","cacheKeyType":"registry""#), "cacheKeyType"),
        (ok(""), "cacheKeyType"),
        (
            ok(r#","cacheKeyType":"Registry","cacheDuration":3600"#),
            "must be a string",
        ),
        (
            ok(r#","cacheKeyType":"Registry","cacheDuration":"1d""#),
            "not a Go duration",
        ),
        (
            format!(
                r#"{{"kind":"CredentialProviderRequest","apiVersion":"{V1}","cacheKeyType":"Registry"}}"#
            ),
            "kind",
        ),
        ("[]".to_owned(), "must be an object"),
    ];
    for target in Target::ALL {
        for (raw, needle) in &cases {
            let out = respond(raw, target, &v1_request());
            out.assert_refused("print_raw", needle);
            assert!(
                out.stderr.contains("invalid response from the guest"),
                "{raw}"
            );
        }
    }
}

#[test]
fn valid_json_with_a_failing_exit_status_is_discarded() {
    let out = exec_guest(
        "print_raw",
        Target::P1,
        &["--arg", &valid(V1), "--arg", "1"],
        &v1_request(),
    );
    out.assert_refused("print_raw", "guest exited with status 1");
}

#[test]
fn exit_status_is_reported() {
    let out = exec_guest("exit_code", Target::P1, &["--arg", "7"], &v1_request());
    out.assert_refused("exit_code", "guest exited with status 7");
    assert!(out.stderr.contains("[exit_code] exiting with 7"));
    // A component can only say success or failure (wasi:cli/exit).
    let out = exec_guest("exit_code", Target::P2, &["--arg", "7"], &v1_request());
    out.assert_refused("exit_code", "guest exited with status 1");
}

fn token_request(token: &str) -> Vec<u8> {
    format!(
        "{{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":\"{V1}\",\"image\":\"r.io/a\",\"serviceAccountToken\":\"{token}\",\"serviceAccountAnnotations\":{{\"example.com/role\":\"reader\"}}}}\n"
    )
    .into_bytes()
}

#[test]
fn echoed_service_account_token_is_refused_unless_cache_type_is_token() {
    let token = "sa-token-7e1d";
    for target in Target::ALL {
        let out = exec_guest("echo_token", target, &[], &token_request(token));
        out.assert_refused("echo_token", "service-account token");
        assert!(!out.stderr.contains(token), "the token is not logged");

        let out = exec_guest(
            "echo_token",
            target,
            &["--token-cache-type", "Token"],
            &token_request(token),
        );
        let (_, _, password) = only_credential(&out.json());
        assert_eq!(password, token);
    }
}

#[test]
fn bad_requests_are_refused_before_the_guest_runs() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "invalid request"),
        (b"not json\n", "invalid request: not a single JSON document"),
        (b"{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":\"credentialprovider.kubelet.k8s.io/v2\",\"image\":\"r.io/a\"}\n", "apiVersion"),
        (b"{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":\"credentialprovider.kubelet.k8s.io/v1\"}\n", "image is required"),
        (b"{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":\"credentialprovider.kubelet.k8s.io/v1beta1\",\"image\":\"r.io/a\",\"serviceAccountToken\":\"t\"}\n", "unknown field"),
        (b"{\"kind\":\"Other\",\"apiVersion\":\"credentialprovider.kubelet.k8s.io/v1\",\"image\":\"r.io/a\"}\n", "kind"),
    ];
    for (stdin, needle) in cases {
        // exit_code would fail with its own message if it ran; the host must stop first.
        let out = exec_guest("exit_code", Target::P1, &["--arg", "0"], stdin);
        out.assert_refused("exit_code", needle);
        assert!(!out.stderr.contains("[exit_code]"), "the guest did not run");
    }
}

#[test]
fn auth_keys_outside_the_allowed_scope_refuse_the_whole_response() {
    let raw = format!(
        r#"{{"kind":"CredentialProviderResponse","apiVersion":"{V1}","cacheKeyType":"Registry","auth":{{"eu.gcr.io":{{"username":"_token","password":"p"}},"index.docker.io":{{"username":"u","password":"stolen-slot"}}}}}}"#
    );
    let scoped = ["--allow-auth-key", "gcr.io", "--allow-auth-key", "*.gcr.io"];
    let mut args = vec!["--arg", raw.as_str()];
    args.extend_from_slice(&scoped);
    let out = exec_guest("print_raw", Target::P2, &args, &v1_request());
    out.assert_refused(
        "print_raw",
        "response auth key \"index.docker.io\" is outside --allow-auth-key",
    );
    assert!(!out.stderr.contains("stolen-slot"));

    let in_scope = raw.replace("index.docker.io", "gcr.io");
    let out = exec_guest(
        "print_raw",
        Target::P2,
        &[
            "--arg",
            &in_scope,
            "--allow-auth-key",
            "gcr.io",
            "--allow-auth-key",
            "*.gcr.io",
        ],
        &v1_request(),
    );
    assert_eq!(out.json()["auth"].as_object().unwrap().len(), 2);

    let out = exec_guest(
        "print_raw",
        Target::P2,
        &["--arg", &raw, "--allow-auth-key", "%bad%"],
        &v1_request(),
    );
    out.assert_refused("print_raw", "--allow-auth-key");
}
