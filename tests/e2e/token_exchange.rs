//! End-to-end tests of the `token-exchange` plugin in its three languages (Rust with the SDK,
//! JavaScript with componentize-js, Python with componentize-py) through the host, against a
//! loopback RFC 8693 token endpoint that checks the form and refuses chunked bodies (411). The
//! three must give the host byte-identical responses, in both token modes, and the same one
//! stderr line on the error path.
//!
//! The Rust plugin comes from the test artifacts; the JS and Python components from
//! `scripts/build-plugins.sh` (`target/wasm-plugins/`). Without them these tests skip with a
//! message, unless `CI_REQUIRE_PLUGINS=1` (set by `.ci/run`, which builds them), where their
//! absence fails the tests.
//!
//! The components are megabytes (12 and 18 MiB) and take the debug host tens of seconds to
//! compile, so each is compiled once into one `--cache-dir` shared by every test (the way a node
//! runs them) and every run after that is warm.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::cloud_servers::{Exchange, FakeCloud, Reply, form_value};
use crate::support::*;

/// RFC 8693's grant type and the subject token type the plugins send.
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
/// Subject tokens the endpoint knows, and the access tokens it issues for them.
const ENV_SUBJECT: &str = "env-subject.jwt.3c1f";
const SA_SUBJECT: &str = "sa-subject.jwt.9d2e";
const REVOKED_SUBJECT: &str = "revoked-subject.jwt.77aa";
const ENV_ACCESS: &str = "access-for-env-5b21";
const SA_ACCESS: &str = "access-for-sa-e410";
/// The audience the token-mode runs ask for.
const AUDIENCE: &str = "https://registry.example.com";
/// The `auth` key the plugins answer for.
const REGISTRY: &str = "registry.example.com";
/// The sandbox's limits for these runs: the JS and Python components need 10 and 14 MiB of
/// linear memory (measured), so 32 MiB is the documented setting; a warm run of the debug host
/// takes 1.5-3.5 s on a loaded 2-core machine, so 20 s leaves room (the release host's 10 s is
/// documented in docs/plugin-authors.md).
const MEMORY: &str = "--memory=32Mi";
const TIMEOUT: &str = "--timeout=20s";

/// One of the three builds of the plugin.
struct Build {
    /// The provider name the host derives from the module's file name.
    provider: &'static str,
    module: PathBuf,
}

/// The three builds, warmed in one cache directory; `None` when the JS/Python artifacts are
/// missing (and CI does not require them).
struct Builds {
    builds: Vec<Build>,
    cache: tempfile::TempDir,
}

static BUILDS: OnceLock<Option<Builds>> = OnceLock::new();

/// Where `scripts/build-plugins.sh` puts the plugins.
fn wasm_plugins_dir() -> PathBuf {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ is one level below the workspace root")
        .to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| workspace.join(dir))
        .unwrap_or_else(|| workspace.join("target"));
    target.join("wasm-plugins")
}

/// The three builds, or `None` (after saying why) when this test must skip.
fn builds(test: &str) -> Option<&'static Builds> {
    let prepared = BUILDS.get_or_init(prepare).as_ref();
    if prepared.is_none() {
        eprintln!(
            "SKIPPED {test}: the JS/Python plugins are not built (run scripts/build-plugins.sh)"
        );
    }
    prepared
}

fn prepare() -> Option<Builds> {
    let dir = wasm_plugins_dir();
    let js = dir.join("token-exchange-js.wasm");
    let py = dir.join("token-exchange-py.wasm");
    let missing: Vec<String> = [&js, &py]
        .iter()
        .filter(|path| !path.is_file())
        .map(|path| path.display().to_string())
        .collect();
    if !missing.is_empty() {
        if std::env::var("CI_REQUIRE_PLUGINS").as_deref() == Ok("1") {
            panic!(
                "{} missing (run scripts/build-plugins.sh), and CI_REQUIRE_PLUGINS=1 requires them",
                missing.join(" and ")
            );
        }
        return None;
    }
    let builds = vec![
        Build {
            provider: "token-exchange",
            module: test_artifacts::plugin("token-exchange", Target::P2),
        },
        Build {
            provider: "token-exchange-js",
            module: js,
        },
        Build {
            provider: "token-exchange-py",
            module: py,
        },
    ];
    let cache = tempfile::tempdir().expect("a cache directory");
    // Compile each once (in parallel) into the cache, as `install` does: `--timeout` covers
    // compiling, and the JavaScript and Python components take seconds to compile. Then a
    // first real run, from the cache.
    let server = token_endpoint();
    std::thread::scope(|scope| {
        for build in &builds {
            let (server, cache) = (&server, cache.path());
            scope.spawn(move || {
                let compiled = exec(
                    &[
                        "compile",
                        build.module.to_str().unwrap(),
                        "--cache-dir",
                        cache.to_str().unwrap(),
                    ],
                    b"",
                );
                assert!(
                    compiled.status.success(),
                    "{}: compile failed:\n{}",
                    build.provider,
                    compiled.stderr
                );
                let out =
                    run_with_cache(build, cache, server, &[], &v1_image_request(), ENV_SUBJECT);
                assert!(
                    out.status.success(),
                    "{}: the first run failed:\n{}",
                    build.provider,
                    out.stderr
                );
            });
        }
    });
    Some(Builds { builds, cache })
}

/// A v1 request for an image of the registry the plugins answer for.
fn v1_image_request() -> Vec<u8> {
    request(V1, "registry.example.com/team/app:1.0")
}

/// The token endpoint: `POST /token`, a `Content-Length` form (a chunked body gets 411, as
/// many real endpoints answer), RFC 8693's fields, an access token per known subject token, and
/// RFC 6749 errors otherwise.
fn token_endpoint() -> FakeCloud {
    FakeCloud::http(|e: &Exchange| {
        let invalid = |status: u16, code: &str| {
            Reply::json(
                status,
                &serde_json::json!({"error": code, "error_description": "see RFC 8693"}),
            )
        };
        if e.method != "POST" || e.path != "/token" {
            return invalid(405, "invalid_request");
        }
        if e.header("transfer-encoding").is_some() || e.header("content-length").is_none() {
            return invalid(411, "invalid_request");
        }
        if e.header("content-type") != Some("application/x-www-form-urlencoded")
            || e.form_value("grant_type").as_deref() != Some(GRANT_TYPE)
            || e.form_value("subject_token_type").as_deref() != Some(JWT_TYPE)
        {
            return invalid(400, "invalid_request");
        }
        let audience = e.form_value("audience");
        let access = match (
            e.form_value("subject_token").as_deref(),
            audience.as_deref(),
        ) {
            (Some(ENV_SUBJECT), None) => ENV_ACCESS,
            (Some(SA_SUBJECT), Some(AUDIENCE)) => SA_ACCESS,
            (Some(_), Some(other)) if other != AUDIENCE => return invalid(400, "invalid_target"),
            _ => return invalid(400, "invalid_grant"),
        };
        Reply::json(
            200,
            &serde_json::json!({
                "access_token": access,
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "token_type": "Bearer",
                "expires_in": 3600,
            }),
        )
    })
}

/// Runs `build` as the invocation does, with `extra` host args, the subject token
/// `env_token` granted as `EXCHANGE_TOKEN` (empty: not set), warm from `cache`.
fn run_with_cache(
    build: &Build,
    cache: &std::path::Path,
    server: &FakeCloud,
    extra: &[&str],
    stdin: &[u8],
    env_token: &str,
) -> Outcome {
    let endpoint = format!("http://127.0.0.1:{}/token", server.port);
    let module = build.module.to_str().expect("utf-8 path");
    let endpoint_arg = format!("--arg=--endpoint={endpoint}");
    let allow = format!("--allow-http={endpoint}");
    let cache_dir = format!("--cache-dir={}", cache.display());
    let mut args = vec![
        "--module",
        module,
        "--env",
        "EXCHANGE_TOKEN",
        endpoint_arg.as_str(),
        "--arg=--registry=registry.example.com",
        allow.as_str(),
        cache_dir.as_str(),
        MEMORY,
        TIMEOUT,
    ];
    args.extend_from_slice(extra);
    // An empty EXCHANGE_TOKEN is "not set" to the plugins, whatever the tester's environment has.
    let environment = [
        ("HTTP_PROXY", ""),
        ("http_proxy", ""),
        ("NO_PROXY", ""),
        ("EXCHANGE_TOKEN", env_token),
    ];
    exec_program(std::path::Path::new(HOST), &args, stdin, &environment)
}

impl Builds {
    /// Runs all three with the same inputs, each against its own fresh endpoint; returns
    /// (build, outcome, what its endpoint received).
    fn run_all(
        &self,
        extra: &[&str],
        stdin: &[u8],
        env_token: &str,
    ) -> Vec<(&Build, Outcome, Vec<Exchange>)> {
        self.builds
            .iter()
            .map(|build| {
                let server = token_endpoint();
                let out =
                    run_with_cache(build, self.cache.path(), &server, extra, stdin, env_token);
                (build, out, server.received())
            })
            .collect()
    }
}

/// The one response all three must print, byte for byte.
fn expected_response(api_version: &str, access: &str) -> String {
    format!(
        "{{\"kind\":\"CredentialProviderResponse\",\"apiVersion\":\"{api_version}\",\"cacheKeyType\":\"Registry\",\"cacheDuration\":\"1h0m0s\",\"auth\":{{\"{REGISTRY}\":{{\"username\":\"oauth2accesstoken\",\"password\":\"{access}\"}}}}}}\n"
    )
}

/// Asserts each run succeeded with `expected` on stdout (so all three are byte-identical), sent
/// one form POST with Content-Length carrying `subject`, and printed no token on stderr.
fn assert_identical_answers(
    runs: &[(&Build, Outcome, Vec<Exchange>)],
    expected: &str,
    subject: &str,
) {
    for (build, out, received) in runs {
        assert!(
            out.status.success(),
            "{}: host failed: {:?}\n{}",
            build.provider,
            out.status,
            out.stderr
        );
        assert_eq!(out.stdout, expected, "{}: stdout", build.provider);
        assert_eq!(received.len(), 1, "{}: one request", build.provider);
        let form = &received[0];
        let length: usize = form
            .header("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or_else(|| panic!("{}: no Content-Length", build.provider));
        assert_eq!(length, form.body.len(), "{}", build.provider);
        assert_eq!(form.header("transfer-encoding"), None, "{}", build.provider);
        assert_eq!(form.form_value("subject_token").as_deref(), Some(subject));
        for secret in [ENV_SUBJECT, SA_SUBJECT, ENV_ACCESS, SA_ACCESS] {
            assert!(
                !out.stderr.contains(secret),
                "{}: {secret} on stderr",
                build.provider
            );
        }
        out.assert_no_kubelet_secret();
    }
    let first = &runs[0].1.stdout;
    for (build, out, _) in runs {
        assert_eq!(
            &out.stdout, first,
            "{} differs from the Rust plugin",
            build.provider
        );
    }
}

/// The guest's own stderr lines (`[provider] ...`) with the provider's name taken out, and the
/// host's line likewise.
fn failure_lines(build: &Build, out: &Outcome) -> Vec<String> {
    let guest = format!("[{}] ", build.provider);
    let host = format!("wasm-credential-provider: {}: ", build.provider);
    out.stderr
        .lines()
        .map(|line| {
            line.strip_prefix(&guest)
                .map(|l| format!("[guest] {l}"))
                .or_else(|| line.strip_prefix(&host).map(|l| format!("[host] {l}")))
                .unwrap_or_else(|| line.to_owned())
        })
        .collect()
}

/// Asserts each run failed the same way: exit status 1, nothing on stdout, exactly the guest
/// line `expected` then the host's line, and no token anywhere.
fn assert_identical_failures(runs: &[(&Build, Outcome, Vec<Exchange>)], expected: &str) {
    for (build, out, _) in runs {
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: {}",
            build.provider,
            out.stderr
        );
        assert_eq!(out.stdout, "", "{}: nothing on stdout", build.provider);
        assert_eq!(
            failure_lines(build, out),
            [
                format!("[guest] error: {expected}"),
                "[host] guest exited with status 1".to_owned()
            ],
            "{}: stderr",
            build.provider
        );
        for secret in [
            ENV_SUBJECT,
            SA_SUBJECT,
            REVOKED_SUBJECT,
            ENV_ACCESS,
            SA_ACCESS,
        ] {
            assert!(
                !out.stderr.contains(secret),
                "{}: {secret} on stderr",
                build.provider
            );
        }
        out.assert_no_kubelet_secret();
    }
}

#[test]
fn env_token_mode_answers_identically_in_the_request_version() {
    let Some(builds) = builds("env_token_mode_answers_identically_in_the_request_version") else {
        return;
    };
    for api_version in [V1, V1BETA1, V1ALPHA1] {
        let runs = builds.run_all(
            &[],
            &request(api_version, "registry.example.com/team/app"),
            ENV_SUBJECT,
        );
        assert_identical_answers(
            &runs,
            &expected_response(api_version, ENV_ACCESS),
            ENV_SUBJECT,
        );
        for (build, _, received) in &runs {
            assert_eq!(
                received[0].form_value("audience"),
                None,
                "{}",
                build.provider
            );
        }
    }
}

#[test]
fn service_account_token_mode_wins_over_the_env_and_answers_identically() {
    let Some(builds) =
        builds("service_account_token_mode_wins_over_the_env_and_answers_identically")
    else {
        return;
    };
    let stdin = format!(
        "{{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":\"{V1}\",\"image\":\"registry.example.com/team/app\",\"serviceAccountToken\":\"{SA_SUBJECT}\",\"serviceAccountAnnotations\":{{\"example.com/exchange\":\"true\"}}}}\n"
    );
    let audience = format!("--arg=--audience={AUDIENCE}");
    let runs = builds.run_all(
        &[audience.as_str(), "--token-cache-type=Token"],
        stdin.as_bytes(),
        ENV_SUBJECT,
    );
    assert_identical_answers(&runs, &expected_response(V1, SA_ACCESS), SA_SUBJECT);
    for (build, _, received) in &runs {
        assert_eq!(
            received[0].form_value("audience").as_deref(),
            Some(AUDIENCE),
            "{}",
            build.provider
        );
    }
    // The three sent the very same form.
    let bodies: Vec<&[u8]> = runs.iter().map(|(_, _, r)| r[0].body.as_slice()).collect();
    assert!(
        bodies.iter().all(|b| *b == bodies[0]),
        "forms differ: {bodies:?}"
    );
}

#[test]
fn an_error_status_gives_one_identical_line_naming_status_and_error_code() {
    let Some(builds) =
        builds("an_error_status_gives_one_identical_line_naming_status_and_error_code")
    else {
        return;
    };
    let runs = builds.run_all(&[], &v1_image_request(), REVOKED_SUBJECT);
    let port = |runs: &[(&Build, Outcome, Vec<Exchange>)], i: usize| {
        // Each run had its own endpoint: compare the line with its port taken out.
        let (_, out, _) = &runs[i];
        out.stderr
            .split("http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default()
            .to_owned()
    };
    let normalized: Vec<(&Build, Outcome, Vec<Exchange>)> = runs
        .iter()
        .enumerate()
        .map(|(i, (build, out, received))| {
            let p = port(&runs, i);
            let stderr = out
                .stderr
                .replace(&format!("127.0.0.1:{p}/"), "127.0.0.1:PORT/");
            (
                *build,
                Outcome {
                    status: out.status,
                    stdout: out.stdout.clone(),
                    stderr,
                    elapsed: out.elapsed,
                },
                received.clone(),
            )
        })
        .collect();
    assert_identical_failures(
        &normalized,
        "token endpoint http://127.0.0.1:PORT/token answered status 400 with error invalid_grant",
    );
    for (build, _, received) in &runs {
        assert_eq!(received.len(), 1, "{}", build.provider);
    }
}

#[test]
fn without_any_subject_token_nothing_is_sent_and_the_line_is_identical() {
    let Some(builds) =
        builds("without_any_subject_token_nothing_is_sent_and_the_line_is_identical")
    else {
        return;
    };
    let runs = builds.run_all(&[], &v1_image_request(), "");
    assert_identical_failures(
        &runs,
        "no subject token: the request has no serviceAccountToken and EXCHANGE_TOKEN is not set (grant it with --env EXCHANGE_TOKEN)",
    );
    for (build, _, received) in &runs {
        assert!(received.is_empty(), "{} sent a request", build.provider);
    }
}

#[test]
fn an_endpoint_outside_the_allow_list_is_refused_inside_each_guest() {
    let Some(builds) = builds("an_endpoint_outside_the_allow_list_is_refused_inside_each_guest")
    else {
        return;
    };
    for build in &builds.builds {
        let server = token_endpoint();
        // The allow-list names another path of the same origin.
        let endpoint = format!("http://127.0.0.1:{}/token", server.port);
        let module = build.module.to_str().expect("utf-8 path");
        let cache_dir = format!("--cache-dir={}", builds.cache.path().display());
        let endpoint_arg = format!("--arg=--endpoint={endpoint}");
        let allow = format!("--allow-http=http://127.0.0.1:{}/other", server.port);
        let out = exec_program(
            std::path::Path::new(HOST),
            &[
                "--module",
                module,
                "--env=EXCHANGE_TOKEN",
                endpoint_arg.as_str(),
                "--arg=--registry=registry.example.com",
                allow.as_str(),
                cache_dir.as_str(),
                MEMORY,
                TIMEOUT,
            ],
            &v1_image_request(),
            &[
                ("EXCHANGE_TOKEN", ENV_SUBJECT),
                ("HTTP_PROXY", ""),
                ("http_proxy", ""),
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: {}",
            build.provider,
            out.stderr
        );
        assert_eq!(out.stdout, "", "{}", build.provider);
        assert_eq!(
            out.stderr.lines().last(),
            Some(
                format!(
                    "wasm-credential-provider: {}: guest exited with status 1",
                    build.provider
                )
                .as_str()
            ),
            "{}",
            out.stderr
        );
        out.assert_no_kubelet_secret();
        // componentize-js 0.23's fetch (StarlingMonkey) does not reject its promise when
        // wasi:http refuses the request: the engine aborts the run itself, with exit status 1
        // all the same. The Rust and Python SDKs report the refusal as the plugin's error.
        let guest_line = if build.provider == "token-exchange-js" {
            "[token-exchange-js] Error while (call) event loop error, but no exception is pending. Aborting, since that doesn't seem recoverable at all.".to_owned()
        } else {
            format!(
                "[{}] error: token exchange at {endpoint} failed: request denied by the host's policy (destination not allowed)",
                build.provider
            )
        };
        assert!(
            out.stderr.lines().any(|line| line == guest_line),
            "{}: expected {guest_line:?} in:\n{}",
            build.provider,
            out.stderr
        );
        assert!(
            out.stderr
                .contains(&format!("egress denied: http://127.0.0.1:{}", server.port)),
            "{}: an audit line: {}",
            build.provider,
            out.stderr
        );
        assert!(
            server.received().is_empty(),
            "{}: a request left the host",
            build.provider
        );
        assert!(!out.stderr.contains(ENV_SUBJECT), "{}", build.provider);
    }
}

#[test]
fn inspect_shows_what_the_js_and_python_toolchains_import_and_grants_no_more() {
    let Some(builds) =
        builds("inspect_shows_what_the_js_and_python_toolchains_import_and_grants_no_more")
    else {
        return;
    };
    for build in &builds.builds {
        let module = build.module.to_str().expect("utf-8 path");
        let out = exec(&["inspect", module], b"");
        assert!(out.status.success(), "{}: {}", build.provider, out.stderr);
        assert!(
            out.stdout.contains("format:  component (wasm32-wasip2)"),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains(
                "http         LIMITED: only origins allowed with --allow-http; without it every request is refused"
            ),
            "{}: {}",
            build.provider,
            out.stdout
        );
        assert!(
            !out.stdout.contains("(unknown)"),
            "{}: {}",
            build.provider,
            out.stdout
        );
        if build.provider != "token-exchange" {
            // Both toolchains link wasi-libc's filesystem; neither gets a directory.
            assert!(
                out.stdout.contains(
                    "filesystem   NOT GRANTED: no directory is preopened, every path operation fails"
                ),
                "{}: {}",
                build.provider,
                out.stdout
            );
        }
        if build.provider == "token-exchange-py" {
            // CPython imports wasi:sockets; every operation is refused.
            assert!(
                out.stdout.contains(
                    "sockets      NOT GRANTED: every TCP, UDP and name-lookup operation is refused"
                ),
                "{}",
                out.stdout
            );
        }
    }
}

#[test]
fn the_token_endpoint_refuses_chunked_bodies() {
    // The server's own check, so the Content-Length assertions above are not vacuous.
    let server = token_endpoint();
    let form = format!(
        "grant_type={}&subject_token={ENV_SUBJECT}&subject_token_type={}",
        GRANT_TYPE.replace(':', "%3A"),
        JWT_TYPE.replace(':', "%3A")
    );
    let send = |framing: &str, body: &str| {
        let mut conn = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        let head = format!(
            "POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n{framing}\r\n"
        );
        conn.write_all(head.as_bytes()).unwrap();
        conn.write_all(body.as_bytes()).unwrap();
        let mut answer = String::new();
        conn.read_to_string(&mut answer).unwrap();
        answer
    };
    let chunked = send(
        "Transfer-Encoding: chunked\r\n",
        &format!("{:x}\r\n{form}\r\n0\r\n\r\n", form.len()),
    );
    assert!(chunked.starts_with("HTTP/1.1 411 "), "{chunked}");
    let framed = send(&format!("Content-Length: {}\r\n", form.len()), &form);
    assert!(framed.starts_with("HTTP/1.1 200 "), "{framed}");
    assert!(framed.contains(ENV_ACCESS), "{framed}");
    assert_eq!(form_value(&form, "grant_type").as_deref(), Some(GRANT_TYPE));
}
