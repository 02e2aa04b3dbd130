//! Secrets never leak into the host's messages: every failure path runs with known secret values
//! in the request (service-account token), in granted and ungranted environment variables, and in
//! the guest's response, and none of them may appear on stderr (the kubelet logs it) or stdout.

use crate::support::*;

const TOKEN: &str = "sa-token-SECRET-1b7c";
const GRANTED: &str = "granted-SECRET-93de";
const PASSWORD: &str = "response-SECRET-5a2f";

fn secret_request() -> Vec<u8> {
    format!(
        "{{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":\"{V1}\",\"image\":\"r.io/a\",\"serviceAccountToken\":\"{TOKEN}\",\"serviceAccountAnnotations\":{{\"example.com/role\":\"reader\"}}}}\n"
    )
    .into_bytes()
}

fn assert_no_secrets(what: &str, out: &Outcome) {
    assert!(!out.status.success(), "{what}: expected a failure");
    for secret in [TOKEN, GRANTED, PASSWORD, KUBELET_SECRET_VALUE] {
        assert!(
            !out.stderr.contains(secret),
            "{what}: {secret} on stderr:\n{}",
            out.stderr
        );
        assert!(!out.stdout.contains(secret), "{what}: {secret} on stdout");
    }
}

#[test]
fn no_failure_path_prints_a_secret() {
    let v1 = V1;
    let wrap = |rest: &str| {
        format!(r#"{{"kind":"CredentialProviderResponse","apiVersion":"{v1}"{rest}}}"#)
    };
    let bad_responses = [
        wrap(&format!(
            r#","cacheKeyType":"Image","auth":{{"r.io":"{PASSWORD}"}}"#
        )),
        wrap(&format!(
            r#","cacheKeyType":"Image","auth":{{"r.io":{{"password":"{PASSWORD}","password":"{PASSWORD}"}}}}"#
        )),
        wrap(&format!(
            r#","cacheKeyType":"Image","auth":{{"r.io":{{"password":"{PASSWORD}","{PASSWORD}":""}}}}"#
        )),
        wrap(&format!(
            r#","cacheKeyType":"{PASSWORD}","auth":{{"r.io":{{"password":"{PASSWORD}"}}}}"#
        )),
        wrap(&format!(
            r#","cacheKeyType":"Image","cacheDuration":"{PASSWORD}""#
        )),
        format!(
            "{} trailing {PASSWORD}",
            wrap(&format!(
                r#","cacheKeyType":"Image","auth":{{"r.io":{{"password":"{PASSWORD}"}}}}"#
            ))
        ),
        format!(r#"{{"kind":"{PASSWORD}","apiVersion":"{v1}","cacheKeyType":"Image"}}"#),
        format!(
            r#"{{"kind":"CredentialProviderResponse","apiVersion":"{PASSWORD}","cacheKeyType":"Image"}}"#
        ),
        wrap(&format!(
            r#","cacheKeyType":"Image","auth":{{"r.io":{{"password":"{TOKEN}"}}}}"#
        )),
        wrap(&format!(
            r#","cacheKeyType":"Image","auth":{{"evil.io":{{"password":"{PASSWORD}"}}}}"#
        )),
        // The request's token and a granted value, quoted back as names the host's messages
        // would show: an auth key (out of scope), a field name.
        wrap(&format!(
            r#","cacheKeyType":"Image","auth":{{"{TOKEN}":{{"password":"p"}}}}"#
        )),
        wrap(&format!(
            r#","cacheKeyType":"Image","auth":{{"{GRANTED}.io":{{"password":"p"}}}}"#
        )),
        wrap(&format!(r#","cacheKeyType":"Image","{TOKEN}":1"#)),
        wrap(&format!(r#","cacheKeyType":"{GRANTED}""#)),
        wrap(&format!(
            r#","cacheKeyType":"Image","{}":1"#,
            TOKEN.repeat(10)
        )),
    ];
    let granted = format!("GRANTED_SECRET={GRANTED}");
    for target in Target::ALL {
        for raw in &bad_responses {
            let out = exec_guest(
                "print_raw",
                target,
                &["--arg", raw, "--env", &granted, "--allow-auth-key", "r.io"],
                &secret_request(),
            );
            assert_no_secrets(raw, &out);
        }
        let failing_guests: &[(&str, &[&str])] = &[
            ("exit_code", &["--arg", "4"]),
            ("trap", &[]),
            ("flood_stdout", &["--max-output", "4Ki"]),
            ("flood_stderr", &[]),
            ("grow_memory", &["--memory", "8Mi"]),
            ("sleep_forever", &["--timeout", "500ms"]),
            ("echo_token", &[]),
            ("report_env", &["--max-output", "64"]),
        ];
        for (guest, args) in failing_guests {
            let mut all: Vec<&str> = vec!["--env", &granted];
            all.extend_from_slice(args);
            let out = exec_guest(guest, target, &all, &secret_request());
            assert_no_secrets(guest, &out);
        }
    }
    // Bad requests carrying the token, and bad arguments carrying a granted value.
    let bad_request = format!(
        "{{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":\"{V1BETA1}\",\"image\":\"r.io/a\",\"serviceAccountToken\":\"{TOKEN}\"}}\n"
    );
    let out = exec_guest("echo_request", Target::P1, &[], bad_request.as_bytes());
    assert_no_secrets("v1beta1 request with a token", &out);
    let out = exec_guest(
        "echo_request",
        Target::P1,
        &["--env", &granted, "--memory", "lots"],
        &secret_request(),
    );
    assert!(!out.stderr.contains(GRANTED));
}
