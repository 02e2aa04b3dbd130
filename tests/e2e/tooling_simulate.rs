//! `simulate` end to end: a config with native (shell script) and wasm (this host under a
//! provider's name) plugins, pulled through the kubelet in a box. Checks the exec contract
//! (argv, environment, stdin), provider order, merging, caching across images, the Docker Hub
//! fallback, token mode, and every "responses" conformance vector through a real exec.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::*;

/// A bin dir and config in a temporary directory.
struct Node {
    dir: tempfile::TempDir,
}

impl Node {
    fn new() -> Self {
        let node = Node {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::create_dir(node.bin()).expect("bin dir");
        node
    }

    fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A native plugin: a shell script, made executable.
    fn script(&self, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.bin().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    /// A plugin that logs its argv, stdin and one env var, counts its runs, and answers with
    /// `response` (a JSON document written to a file beside it).
    fn logging_script(&self, name: &str, response: &str) {
        let log = self.path(&format!("{name}.log"));
        let answer = self.path(&format!("{name}.response"));
        std::fs::write(&answer, response).expect("write response");
        self.script(
            name,
            &format!(
                "{{ echo \"argv: $0 $*\"; printf 'stdin: '; cat; echo \"PLUGIN_VAR=$PLUGIN_VAR\"; echo \"INHERITED=$INHERITED\"; }} >> '{}'\ncat '{}'",
                log.display(),
                answer.display()
            ),
        );
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(&format!("{name}.log"))).unwrap_or_default()
    }

    fn runs(&self, name: &str) -> usize {
        self.log(name).matches("argv: ").count()
    }

    /// This host under `name`, with the static-credentials component beside it.
    fn wasm_plugin(&self, name: &str) {
        std::os::unix::fs::symlink(HOST, self.bin().join(name)).expect("symlink");
        std::fs::copy(
            test_artifacts::plugin("static-credentials", Target::P2),
            self.bin().join(format!("{name}.wasm")),
        )
        .expect("copy module");
    }

    fn config(&self, yaml_providers: &str) -> PathBuf {
        let path = self.path("config.yaml");
        std::fs::write(
            &path,
            format!(
                "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n{yaml_providers}"
            ),
        )
        .expect("write config");
        path
    }

    fn simulate(&self, config: &Path, extra: &[&str]) -> Outcome {
        let bin = self.bin();
        let mut args = vec![
            "simulate",
            "--output",
            "json",
            "--config",
            config.to_str().unwrap(),
            "--bin-dir",
            bin.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        exec_program(
            Path::new(HOST),
            &args,
            b"",
            &[("INHERITED", "from-kubelet")],
        )
    }
}

fn response(cache_key_type: &str, duration: Option<&str>, auth: &[(&str, &str, &str)]) -> String {
    let auth: serde_json::Map<String, Value> = auth
        .iter()
        .map(|(k, u, p)| {
            (
                (*k).to_owned(),
                serde_json::json!({"username": u, "password": p}),
            )
        })
        .collect();
    let mut value = serde_json::json!({
        "kind": "CredentialProviderResponse",
        "apiVersion": V1,
        "cacheKeyType": cache_key_type,
        "auth": auth,
    });
    if let Some(d) = duration {
        value["cacheDuration"] = d.into();
    }
    value.to_string()
}

fn provider(name: &str, match_images: &str, default: &str, extra: &str) -> String {
    format!(
        "- name: {name}\n  matchImages: [{match_images}]\n  defaultCacheDuration: {default}\n  apiVersion: {V1}\n{extra}"
    )
}

fn json(out: &Outcome) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is JSON ({e}): {}\nstderr: {}",
            out.stdout, out.stderr
        )
    })
}

/// (key, username, password, provider) of one image's credentials.
fn credentials(image: &Value) -> Vec<(String, String, String, String)> {
    image["credentials"]
        .as_array()
        .expect("credentials")
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
            (s("key"), s("username"), s("password"), s("provider"))
        })
        .collect()
}

fn providers(image: &Value) -> Vec<(String, bool, bool, Option<String>)> {
    image["providers"]
        .as_array()
        .expect("providers")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_owned(),
                p["executed"].as_bool().unwrap_or_default(),
                p["cached"].as_bool().unwrap_or_default(),
                p["error"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[test]
fn execs_like_the_kubelet_argv_env_stdin() {
    let node = Node::new();
    node.logging_script("native", &response("Image", Some("0s"), &[]));
    let config = node.config(&provider(
        "native",
        "r.io",
        "1m",
        "  args: [--flag, two words]\n  env: [{name: PLUGIN_VAR, value: from-config}, {name: INHERITED, value: overridden}]\n",
    ));
    let out = node.simulate(&config, &["r.io/team/app:v1"]);
    assert!(out.status.success(), "{}", out.stderr);
    let log = node.log("native");
    let bin = node.bin();
    assert!(
        log.contains(&format!("argv: {}/native --flag two words", bin.display())),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "stdin: {{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":\"{V1}\",\"image\":\"r.io/team/app\"}}\nPLUGIN_VAR=from-config"
        )),
        "request and one newline on stdin: {log}"
    );
    // The whole environment, the provider's env overriding it.
    assert!(log.contains("INHERITED=overridden"), "{log}");
}

#[test]
fn native_and_wasm_providers_merge_in_kubelet_order_with_caching() {
    let node = Node::new();
    node.wasm_plugin("static-credentials");
    node.logging_script(
        "native",
        &response(
            "Registry",
            None,
            &[
                ("registry.example.com", "native-user", "native-pw"),
                ("registry.example.com/team", "team-user", "team-pw"),
                ("https://index.docker.io/v1/", "hub-user", "hub-pw"),
            ],
        ),
    );
    let wasm = provider(
        "static-credentials",
        "registry.example.com",
        "10m",
        "  args: [--env=REGISTRY_USERNAME, --env=REGISTRY_PASSWORD, --arg=--cache-key-type, --arg=Image]\n  env: [{name: REGISTRY_USERNAME, value: wasm-user}, {name: REGISTRY_PASSWORD, value: wasm-pw}]\n",
    );
    let native = provider("native", "registry.example.com, docker.io", "5m", "");
    let config = node.config(&format!("{wasm}{native}"));
    let out = node.simulate(
        &config,
        &[
            "registry.example.com/team/app:v1",
            "registry.example.com/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "registry.example.com/other",
            "nginx:1.25",
            "quay.io/x",
        ],
    );
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    let result = json(&out);
    let images = result["images"].as_array().expect("images");
    assert_eq!(images.len(), 5);

    // 1. Both run, in config order. Keys in reverse lexicographic order; within a key, the
    //    earlier provider's credential first. Passwords redacted.
    assert_eq!(images[0]["normalized"], "registry.example.com/team/app");
    assert_eq!(
        providers(&images[0]),
        [
            ("static-credentials".into(), true, false, None),
            ("native".into(), true, false, None)
        ]
    );
    let r = |s: &str| s.to_owned();
    assert_eq!(
        credentials(&images[0]),
        [
            (
                r("registry.example.com/team"),
                r("team-user"),
                r("<redacted>"),
                r("native")
            ),
            (
                r("registry.example.com"),
                r("wasm-user"),
                r("<redacted>"),
                r("static-credentials")
            ),
            (
                r("registry.example.com"),
                r("native-user"),
                r("<redacted>"),
                r("native")
            ),
        ]
    );
    // 2. Same repository by digest: the wasm provider's Image entry and the native provider's
    //    Registry entry are both served from cache.
    assert_eq!(
        providers(&images[1]),
        [
            ("static-credentials".into(), false, true, None),
            ("native".into(), false, true, None)
        ]
    );
    // 3. Another repository: the Image-keyed wasm answer does not apply, the Registry-keyed
    //    native one does.
    assert_eq!(
        providers(&images[2]),
        [
            ("static-credentials".into(), true, false, None),
            ("native".into(), false, true, None)
        ]
    );
    // Executed for the first image and for Docker Hub only.
    assert_eq!(node.runs("native"), 2);
    // 4. Docker Hub: only the native provider matches; its key index.docker.io serves
    //    docker.io/library/nginx through the Docker Hub fallback. A new registry: executed.
    assert_eq!(images[3]["normalized"], "docker.io/library/nginx");
    assert_eq!(
        providers(&images[3]),
        [("native".into(), true, false, None)]
    );
    assert_eq!(
        credentials(&images[3]),
        [(
            r("index.docker.io"),
            r("hub-user"),
            r("<redacted>"),
            r("native")
        )]
    );
    // 5. Nothing matches: anonymous pull.
    assert!(images[4]["providers"].as_array().unwrap().is_empty());
    assert!(images[4]["credentials"].as_array().unwrap().is_empty());
    for secret in ["wasm-pw", "native-pw", "team-pw", "hub-pw"] {
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "{secret} shown"
        );
    }
}

#[test]
fn show_secrets_and_text_output() {
    let node = Node::new();
    node.wasm_plugin("static-credentials");
    let config = node.config(&provider(
        "static-credentials",
        "r.io",
        "1m",
        "  args: [--env=REGISTRY_USERNAME, --env=REGISTRY_PASSWORD]\n  env: [{name: REGISTRY_USERNAME, value: u}, {name: REGISTRY_PASSWORD, value: shown-pw}]\n",
    ));
    let bin = node.bin();
    let base = [
        "simulate",
        "--config",
        config.to_str().unwrap(),
        "--bin-dir",
        bin.to_str().unwrap(),
        "r.io/a",
    ];
    let out = exec(&base, b"");
    assert!(out.status.success(), "{}", out.stderr);
    assert!(out.stdout.contains("r.io/a -> r.io/a"), "{}", out.stdout);
    assert!(
        out.stdout.contains("<redacted>") && !out.stdout.contains("shown-pw"),
        "{}",
        out.stdout
    );
    let mut shown = base.to_vec();
    shown.push("--show-secrets");
    let out = exec(&shown, b"");
    assert!(out.stdout.contains("\"u\" / shown-pw"), "{}", out.stdout);
}

#[test]
fn cache_durations_default_zero_and_explicit() {
    let node = Node::new();
    // Omitted cacheDuration with defaultCacheDuration 0: never cached.
    node.logging_script(
        "no-default",
        &response("Global", None, &[("r.io", "u", "p")]),
    );
    // Explicit "0s": never cached even with a default.
    node.logging_script(
        "zero",
        &response("Global", Some("0s"), &[("r.io", "u", "p")]),
    );
    // Omitted, default 1m: cached (Global: for every image this provider matches).
    node.logging_script("default", &response("Global", None, &[("r.io", "u", "p")]));
    let config = node.config(&format!(
        "{}{}{}",
        provider("no-default", "r.io", "0s", ""),
        provider("zero", "r.io", "1m", ""),
        provider("default", "r.io", "1m", ""),
    ));
    let out = node.simulate(&config, &["r.io/a", "r.io/b", "r.io/c"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(node.runs("no-default"), 3);
    assert_eq!(node.runs("zero"), 3);
    assert_eq!(node.runs("default"), 1);
}

#[test]
fn failing_providers_yield_nothing_and_exit_1() {
    let node = Node::new();
    node.script("broken", "cat >/dev/null; echo 'boom' >&2; exit 3");
    node.script(
        "chatty",
        &format!(
            "cat >/dev/null; echo 'log line'; echo '{}'",
            response("Image", None, &[("r.io", "u", "p")])
        ),
    );
    let config = node.config(&format!(
        "{}{}",
        provider("broken", "r.io", "1m", ""),
        provider("chatty", "r.io", "1m", ""),
    ));
    let out = node.simulate(&config, &["r.io/a"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    let result = json(&out);
    let image = &result["images"][0];
    let ps = providers(image);
    assert!(
        ps[0].3.as_deref().unwrap_or_default().contains("boom"),
        "{ps:?}"
    );
    assert!(
        ps[1]
            .3
            .as_deref()
            .unwrap_or_default()
            .contains("response discarded"),
        "{ps:?}"
    );
    assert!(credentials(image).is_empty());
}

#[test]
fn start_up_checks_refuse_a_broken_node() {
    let node = Node::new();
    let config = node.config(&provider("missing", "r.io", "1m", ""));
    let out = node.simulate(&config, &["r.io/a"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("plugin binary executable"),
        "{}",
        out.stderr
    );
    let config = node.config(&provider("a/b", "r.io", "1m", ""));
    let out = node.simulate(&config, &["r.io/a"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("provider name cannot contain '/'"),
        "{}",
        out.stderr
    );
    // Usage.
    let out = node.simulate(
        &config,
        &[
            "--service-account",
            "no-slash",
            "--service-account-token",
            "t",
            "r.io/a",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
}

#[test]
fn token_mode_skips_sends_and_refuses_echo() {
    let node = Node::new();
    node.logging_script("needs-sa", &response("Image", None, &[("r.io", "u", "p")]));
    node.logging_script(
        "echo",
        &response("Image", None, &[("r.io", "u", "the-sa-token")]),
    );
    node.logging_script(
        "echo-token-cache",
        &response("Image", None, &[("r.io", "u", "the-sa-token")]),
    );
    let attributes = |cache_type: &str, required: &str| {
        format!(
            "  tokenAttributes:\n    serviceAccountTokenAudience: registry\n    cacheType: {cache_type}\n    requireServiceAccount: true\n    requiredServiceAccountAnnotationKeys: [{required}]\n    optionalServiceAccountAnnotationKeys: [example.com/optional]\n"
        )
    };
    let config = node.config(&format!(
        "{}{}{}",
        provider(
            "needs-sa",
            "r.io",
            "1m",
            &attributes("ServiceAccount", "example.com/role")
        ),
        provider("echo", "r.io", "1m", &attributes("ServiceAccount", "")),
        provider("echo-token-cache", "r.io", "1m", &attributes("Token", "")),
    ));
    // No service account (a static pod): every provider requiring one is skipped.
    let out = node.simulate(&config, &["r.io/a"]);
    let result = json(&out);
    for p in result["images"][0]["providers"].as_array().unwrap() {
        assert!(
            p["skipped"]
                .as_str()
                .unwrap_or_default()
                .contains("no service account"),
            "{p}"
        );
        assert_eq!(p["executed"], false);
    }
    // A service account without the required annotation: needs-sa skipped; the others run.
    let sa = [
        "--service-account",
        "team/puller",
        "--service-account-token",
        "the-sa-token",
        "--annotation",
        "example.com/optional=yes",
        "--annotation",
        "example.com/unlisted=hidden",
    ];
    let mut args = sa.to_vec();
    args.push("r.io/a");
    let out = node.simulate(&config, &args);
    let result = json(&out);
    let image = &result["images"][0];
    assert!(
        image["providers"][0]["skipped"]
            .as_str()
            .unwrap_or_default()
            .contains("example.com/role")
    );
    // ServiceAccount cache type: the echoed token is refused; Token: accepted.
    assert!(
        image["providers"][1]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("service-account token"),
        "{image}"
    );
    assert_eq!(image["providers"][2]["error"], Value::Null, "{image}");
    // The request carried the token and only the configured annotations.
    let log = node.log("echo");
    assert!(
        log.contains("\"serviceAccountToken\":\"the-sa-token\""),
        "{log}"
    );
    assert!(
        log.contains("\"serviceAccountAnnotations\":{\"example.com/optional\":\"yes\"}"),
        "{log}"
    );
    assert!(!log.contains("unlisted"), "{log}");
    // The token never appears in the output.
    assert!(!out.stdout.contains("the-sa-token") && !out.stderr.contains("the-sa-token"));
    // With the required annotation, needs-sa runs.
    let mut args = sa.to_vec();
    args.extend(["--annotation", "example.com/role=reader", "r.io/a"]);
    let out = node.simulate(&config, &args);
    let result = json(&out);
    assert_eq!(
        result["images"][0]["providers"][0]["executed"], true,
        "{result}"
    );
}

/// Every "responses" vector through a real exec: a native plugin prints `raw` and exits with
/// the case's exit code; the provider's verdict must be the case's.
#[test]
fn shared_response_vectors_through_simulate() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/spec/conformance-vectors.json"
    ))
    .expect("read vectors");
    let vectors: Value = serde_json::from_str(&text).expect("vectors are JSON");
    let cases = vectors["responses"].as_array().expect("responses");
    assert!(!cases.is_empty());
    let known = [
        "id",
        "requestApiVersion",
        "raw",
        "expected",
        "reason",
        "effect",
        "mode",
        "source",
    ];
    let mut failures = Vec::new();
    for case in cases {
        let id = case["id"].as_str().unwrap_or("?");
        if let Some(unknown) = case
            .as_object()
            .and_then(|o| o.keys().find(|k| !known.contains(&k.as_str())))
        {
            failures.push(format!("{id}: unknown case field {unknown:?}"));
            continue;
        }
        let node = Node::new();
        std::fs::write(node.path("raw"), case["raw"].as_str().unwrap_or_default()).unwrap();
        let mut exit_code = 0;
        let mut token_args: Vec<String> = Vec::new();
        let mut attributes = String::new();
        for (key, value) in case["mode"].as_object().into_iter().flatten() {
            match key.as_str() {
                "exitCode" => exit_code = value.as_i64().unwrap_or(1),
                "serviceAccountToken" => {
                    token_args = vec![
                        "--service-account".into(),
                        "ns/sa".into(),
                        "--service-account-token".into(),
                        value.as_str().unwrap_or_default().into(),
                    ]
                }
                "cacheType" => {
                    attributes = format!(
                        "  tokenAttributes: {{serviceAccountTokenAudience: a, cacheType: {}, requireServiceAccount: true}}\n",
                        value.as_str().unwrap_or_default()
                    )
                }
                other => failures.push(format!("{id}: unknown mode field {other:?}")),
            }
        }
        node.script(
            "plugin",
            &format!(
                "cat >/dev/null; cat '{}'; exit {exit_code}",
                node.path("raw").display()
            ),
        );
        let version = case["requestApiVersion"].as_str().unwrap_or_default();
        let config = node.config(&format!(
            "- name: plugin\n  matchImages: [\"*.registry.io\"]\n  defaultCacheDuration: 1m\n  apiVersion: {version}\n{attributes}"
        ));
        let mut args: Vec<&str> = token_args.iter().map(String::as_str).collect();
        args.push("test.registry.io/foo/bar");
        let out = node.simulate(&config, &args);
        let result: Value = match serde_json::from_str(&out.stdout) {
            Ok(v) => v,
            Err(_) => {
                failures.push(format!("{id}: no JSON: {}", out.stderr));
                continue;
            }
        };
        let p = &result["images"][0]["providers"][0];
        let accepted = p["executed"] == true && p["error"].is_null();
        let expected = case["expected"] == "accept";
        if accepted != expected {
            failures.push(format!(
                "{id}: accepted={accepted}, expected {expected}: {p}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// One response spelling one key twice (`https://r.io` and `r.io`): the kubelet indexes both
/// under `r.io` but walks the response's map in Go's random order, so `simulate` marks their
/// order as unspecified instead of presenting one as the kubelet's.
#[test]
fn two_spellings_of_one_key_are_marked_as_unordered() {
    let node = Node::new();
    node.script(
        "spelled-twice",
        &format!(
            "cat >/dev/null; echo '{}'",
            response(
                "Registry",
                None,
                &[
                    ("https://r.io", "scheme-user", "p1"),
                    ("r.io", "plain-user", "p2"),
                    ("r.io/team", "team-user", "p3"),
                ]
            )
        ),
    );
    let config = node.config(&provider("spelled-twice", "r.io", "1m", ""));
    let out = node.simulate(&config, &["r.io/team/app"]);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let result = json(&out);
    let creds = result["images"][0]["credentials"].as_array().unwrap();
    let groups: Vec<(&str, &str, Value)> = creds
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap(),
                c["username"].as_str().unwrap(),
                c["unorderedGroup"].clone(),
            )
        })
        .collect();
    assert_eq!(groups.len(), 3, "{groups:?}");
    assert_eq!(groups[0], ("r.io/team", "team-user", Value::Null));
    assert_eq!(groups[1].2, 1, "{groups:?}");
    assert_eq!(groups[2].2, 1, "{groups:?}");
    let mut users = [groups[1].1, groups[2].1];
    users.sort();
    assert_eq!(users, ["plain-user", "scheme-user"]);

    let text = exec(
        &[
            "simulate",
            "--config",
            config.to_str().unwrap(),
            "--bin-dir",
            node.bin().to_str().unwrap(),
            "r.io/team/app",
        ],
        b"",
    );
    assert!(
        text.stdout.contains(
            "credentials, in the order the kubelet tries them, except within a marked group:"
        ),
        "{}",
        text.stdout
    );
    assert_eq!(
        text.stdout
            .matches("[order unspecified within group 1")
            .count(),
        2,
        "{}",
        text.stdout
    );
}

/// `--root` runs a node's files from a folder: the config and bin dir are node paths beneath
/// it, and so are the absolute paths in a host provider's args, so its `--cache-dir` is
/// created beneath the root and never on this machine.
#[test]
fn root_re_roots_node_paths_of_host_providers() {
    let node = Node::new();
    let root = node.path("node");
    let bin = root.join("usr/libexec/cp");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::os::unix::fs::symlink(HOST, bin.join("static-credentials")).unwrap();
    std::fs::copy(
        test_artifacts::plugin("static-credentials", Target::P2),
        bin.join("v1.wasm"),
    )
    .unwrap();
    let cache = format!("/var/cache/wcp-simulate-root-{}", std::process::id());
    std::fs::write(
        root.join("etc/credential-providers.yaml"),
        format!(
            "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n{}",
            provider(
                "static-credentials",
                "r.io",
                "1m",
                &format!(
                    "  args: [--module=/usr/libexec/cp/v1.wasm, --cache-dir={cache}, --env=REGISTRY_USERNAME, --env=REGISTRY_PASSWORD]\n  env: [{{name: REGISTRY_USERNAME, value: u}}, {{name: REGISTRY_PASSWORD, value: p}}]\n"
                )
            )
        ),
    )
    .unwrap();
    let out = exec(
        &[
            "simulate",
            "--root",
            root.to_str().unwrap(),
            "--config",
            "/etc/credential-providers.yaml",
            "--bin-dir",
            "/usr/libexec/cp",
            "--output",
            "json",
            "r.io/a",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}{}", out.stdout, out.stderr);
    let result = json(&out);
    assert_eq!(
        result["images"][0]["credentials"][0]["username"], "u",
        "{result}"
    );
    assert!(
        root.join(cache.trim_start_matches('/')).is_dir(),
        "the cache is created beneath the root"
    );
    assert!(
        !Path::new(&cache).exists(),
        "{cache} was created on this machine"
    );
}

/// A plugin author sizes `--timeout` and `--memory` from `simulate`: each exec shows its wall time
/// and, for this host, the guest's peak linear memory (a native plugin has none to show); the
/// host's stats line is taken out of the stderr simulate shows.
#[test]
fn each_exec_shows_its_wall_time_and_guest_peak_memory() {
    let node = Node::new();
    node.wasm_plugin("static-credentials");
    node.script(
        "native",
        &format!(
            "cat <<'EOF'\n{}\nEOF",
            response("Registry", None, &[("registry.example.com", "n", "p")])
        ),
    );
    let wasm = provider(
        "static-credentials",
        "registry.example.com",
        "0s",
        "  args: [--env=REGISTRY_USERNAME, --env=REGISTRY_PASSWORD, --memory=32Mi]\n  env: [{name: REGISTRY_USERNAME, value: u}, {name: REGISTRY_PASSWORD, value: p}]\n",
    );
    let native = provider("native", "registry.example.com", "0s", "");
    let config = node.config(&format!("{wasm}{native}"));
    let out = node.simulate(&config, &["registry.example.com/app"]);
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    let result = json(&out);
    let shown = &result["images"][0]["providers"];
    let wasm = &shown[0];
    let peak = wasm["guestPeakMemoryBytes"]
        .as_u64()
        .expect("the host reports its guest's peak");
    // A Rust component starts with a few pages and stays well inside its --memory.
    assert!((64 * 1024..=32 << 20).contains(&peak), "{peak}");
    assert!(wasm["wallMillis"].as_f64().expect("wall time") > 0.0);
    // The host's own peak RSS, and where the code came from (no --cache-dir: compiled now).
    let rss = wasm["hostPeakRssBytes"]
        .as_u64()
        .expect("the host's peak RSS");
    assert!(rss > peak, "{rss} {peak}");
    assert_eq!(wasm["code"], "compiled");
    // A native plugin has no guest: its wall time only.
    assert!(shown[1]["wallMillis"].as_f64().expect("wall time") > 0.0);
    assert!(shown[1]["guestPeakMemoryBytes"].is_null(), "{shown}");

    let text = exec_program(
        Path::new(HOST),
        &[
            "simulate",
            "--config",
            config.to_str().unwrap(),
            "--bin-dir",
            node.bin().to_str().unwrap(),
            "registry.example.com/app",
        ],
        b"",
        &[],
    );
    assert!(text.status.success(), "{}", text.stderr);
    let line = text
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("static-credentials:"))
        .expect("the provider's line");
    assert!(
        line.contains(" ms, guest peak memory ")
            && line.contains(", host peak RSS ")
            && line.contains(", code compiled now"),
        "{line}"
    );
}
