//! The happy path: each API version, the request the guest sees, the environment and args it
//! gets, and invocation under a provider's name.

use std::path::Path;

use crate::support::*;

fn static_plugin_args(module: &Path) -> Vec<String> {
    vec![
        "--module".into(),
        module.to_str().unwrap().into(),
        "--env".into(),
        "REGISTRY_USERNAME".into(),
        "--env".into(),
        "REGISTRY_PASSWORD".into(),
        "--arg".into(),
        "--cache-duration".into(),
        "--arg".into(),
        "90s".into(),
    ]
}

#[test]
fn static_credentials_answers_every_api_version_on_both_targets() {
    for target in Target::ALL {
        let module = test_artifacts::plugin("static-credentials", target);
        let args = static_plugin_args(&module);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        for api_version in API_VERSIONS {
            let out = exec_program(
                Path::new(HOST),
                &args,
                &request(api_version, "registry.example:5000/team/app"),
                &[
                    ("REGISTRY_USERNAME", "robot"),
                    ("REGISTRY_PASSWORD", "s3cret-pw"),
                ],
            );
            let response = out.json();
            assert_eq!(response["apiVersion"], api_version, "{target}");
            assert_eq!(response["kind"], "CredentialProviderResponse");
            assert_eq!(response["cacheKeyType"], "Registry");
            // Canonical Go form of the duration the guest sent as "90s".
            assert_eq!(response["cacheDuration"], "1m30s");
            assert_eq!(
                only_credential(&response),
                (
                    "registry.example:5000".to_owned(),
                    "robot".to_owned(),
                    "s3cret-pw".to_owned()
                )
            );
            out.assert_no_kubelet_secret();
            assert!(!out.stderr.contains("s3cret-pw"), "password on stderr");
        }
    }
}

#[test]
fn static_credentials_without_its_env_fails_cleanly() {
    for target in Target::ALL {
        let module = test_artifacts::plugin("static-credentials", target);
        // The host has the variables, but they are not granted.
        let out = exec_program(
            Path::new(HOST),
            &["--module", module.to_str().unwrap()],
            &v1_request(),
            &[
                ("REGISTRY_USERNAME", "robot"),
                ("REGISTRY_PASSWORD", "s3cret-pw"),
            ],
        );
        out.assert_refused("static-credentials", "guest exited with status");
        assert!(
            out.stderr
                .contains("[static-credentials] error: REGISTRY_USERNAME is not set")
        );
    }
}

#[test]
fn guest_sees_the_kubelet_request_bytes_exactly() {
    for target in Target::ALL {
        for api_version in API_VERSIONS {
            let stdin = request(api_version, "docker.io/library/nginx");
            let response = exec_guest("echo_request", target, &[], &stdin).json();
            let (key, _, seen) = only_credential(&response);
            assert_eq!(key, "docker.io/library/nginx");
            assert_eq!(seen.as_bytes(), stdin.as_slice(), "{target} {api_version}");
        }
    }
}

#[test]
fn request_is_canonicalised_before_the_guest_sees_it() {
    // Whitespace and key order differ from the kubelet's encoding; the guest still gets the
    // canonical bytes.
    let stdin = b"  {\"image\": \"r.io/a\",\n \"apiVersion\": \"credentialprovider.kubelet.k8s.io/v1\", \"kind\": \"CredentialProviderRequest\"}\n\n";
    let response = exec_guest("echo_request", Target::P2, &[], stdin).json();
    let (_, _, seen) = only_credential(&response);
    assert_eq!(seen.as_bytes(), request(V1, "r.io/a").as_slice());
}

#[test]
fn guest_gets_only_granted_env_and_args() {
    for target in Target::ALL {
        let out = exec_program(
            Path::new(HOST),
            &[
                "--module",
                test_artifacts::guest("report_env", target)
                    .to_str()
                    .unwrap(),
                "--env",
                "GRANTED_FROM_HOST",
                "--env",
                "SET_BY_ARG=fixed",
                "--env",
                "NOT_SET_ANYWHERE",
                "--arg",
                "--flag",
                "--arg",
                "value with spaces",
            ],
            &v1_request(),
            &[("GRANTED_FROM_HOST", "granted-value"), ("PATH", "/usr/bin")],
        );
        let response = out.json();
        let (_, _, report) = only_credential(&response);
        let report: serde_json::Value = serde_json::from_str(&report).unwrap();
        assert_eq!(
            report["env"],
            serde_json::json!([
                ["GRANTED_FROM_HOST", "granted-value"],
                ["SET_BY_ARG", "fixed"]
            ]),
            "{target}: the guest sees exactly the granted variables"
        );
        assert_eq!(
            report["args"],
            serde_json::json!(["report_env", "--flag", "value with spaces"]),
            "{target}"
        );
        assert!(!out.stdout.contains(KUBELET_SECRET_VALUE));
    }
}

#[test]
fn invoked_under_a_provider_name_runs_the_module_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("static-credentials");
    std::os::unix::fs::symlink(HOST, &link).unwrap();
    std::fs::copy(
        test_artifacts::plugin("static-credentials", Target::P2),
        dir.path().join("static-credentials.wasm"),
    )
    .unwrap();
    let out = exec_program(
        &link,
        &[
            "--env",
            "REGISTRY_USERNAME",
            "--env",
            "REGISTRY_PASSWORD=from-args",
        ],
        &request(V1, "r.io/a"),
        &[("REGISTRY_USERNAME", "u")],
    );
    let response = out.json();
    assert_eq!(
        only_credential(&response),
        ("r.io".to_owned(), "u".to_owned(), "from-args".to_owned())
    );

    // Without its module beside it, it says which file it looked for.
    std::fs::remove_file(dir.path().join("static-credentials.wasm")).unwrap();
    let out = exec_program(&link, &[], &request(V1, "r.io/a"), &[]);
    out.assert_refused(
        "static-credentials",
        "static-credentials.wasm does not exist",
    );
}

#[test]
fn run_word_is_optional() {
    let module = test_artifacts::guest("echo_request", Target::P1);
    let with = exec(
        &["run", "--module", module.to_str().unwrap()],
        &v1_request(),
    );
    let without = exec(&["--module", module.to_str().unwrap()], &v1_request());
    assert_eq!(with.json(), without.json());
}
