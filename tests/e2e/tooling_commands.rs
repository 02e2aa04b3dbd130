//! `check-config`, `match`, `validate-response` and `inspect` through the built binary: exit
//! statuses, output shapes, and the `--bin-dir` checks of providers that run this host.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::*;

const HEAD: &str =
    "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n";

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write");
    path
}

fn provider(name: &str, args: &str) -> String {
    format!(
        "- name: {name}\n  matchImages: [r.io]\n  defaultCacheDuration: 1m\n  apiVersion: {V1}\n  args: [{args}]\n"
    )
}

fn sha256_hex(path: &Path) -> String {
    use std::fmt::Write as _;
    // The host's own `inspect` prints the digest; use it rather than a second implementation.
    let out = exec(&["inspect", path.to_str().unwrap()], b"");
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("sha256:"))
        .unwrap_or_else(|| panic!("no sha256 line: {}", out.stdout));
    let mut hex = String::new();
    let _ = write!(
        hex,
        "{}",
        line.trim_start_matches("sha256:")
            .trim()
            .trim_start_matches("sha256:")
    );
    hex
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    for command in [
        "check-config",
        "match",
        "validate-response",
        "simulate",
        "inspect",
    ] {
        let out = exec(&[command, "--help"], b"");
        assert!(out.status.success(), "{command}: {}", out.stderr);
        assert!(
            out.stdout.contains("Example"),
            "{command} help:\n{}",
            out.stdout
        );
        assert!(
            out.stdout.contains("Exit status"),
            "{command} help:\n{}",
            out.stdout
        );
    }
    let out = exec(&["--help"], b"");
    for command in [
        "check-config",
        "match",
        "validate-response",
        "simulate",
        "inspect",
    ] {
        assert!(out.stdout.contains(command), "{}", out.stdout);
    }
}

#[test]
fn check_config_exit_statuses_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "good.yaml",
        &format!("{HEAD}{}", provider("p", "")),
    );
    let out = exec(&["check-config", good.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("valid (1 file, config hash sha256:"),
        "{}",
        out.stdout
    );

    let bad = write(
        dir.path(),
        "bad.yaml",
        &format!(
            "{HEAD}- name: a/b\n  matchImages: []\n  defaultCacheDuration: 1m\n  apiVersion: {V1}\n"
        ),
    );
    let out = exec(&["check-config", bad.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<&str> = out.stdout.lines().collect();
    let shown = bad.display();
    assert_eq!(
        lines,
        [
            format!("{shown}: the kubelet refuses to start with this config:").as_str(),
            "failed to validate credential provider config: [providers.name: Invalid value: \"a/b\": provider name cannot contain '/', providers.matchImages: Required value: at least 1 item in matchImages is required]",
            "every problem:",
            "provider \"a/b\": providers.name: Invalid value: \"a/b\": provider name cannot contain '/'",
            "provider \"a/b\": providers.matchImages: Required value: at least 1 item in matchImages is required",
        ]
    );
    let out = exec(
        &["check-config", bad.to_str().unwrap(), "--output", "json"],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(report["valid"], false);
    assert_eq!(report["errors"][1]["provider"], "a/b");
    assert_eq!(report["errors"][1]["field"], "providers.matchImages");
    assert_eq!(
        report["errors"][1]["message"],
        "providers.matchImages: Required value: at least 1 item in matchImages is required"
    );
    // Bad usage.
    let out = exec(&["check-config"], b"");
    assert_eq!(out.status.code(), Some(2));
    let out = exec(
        &[
            "check-config",
            good.to_str().unwrap(),
            "--feature-gates",
            "Nope=true",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_config_bin_dir_checks_host_providers() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let module = test_artifacts::plugin("static-credentials", Target::P1);
    let digest = sha256_hex(&module);
    // ok: this host under the provider's name, the module beside it, pinned.
    std::os::unix::fs::symlink(HOST, bin.join("ok")).unwrap();
    std::fs::copy(&module, bin.join("ok.wasm")).unwrap();
    // pinned to another digest.
    std::os::unix::fs::symlink(HOST, bin.join("tampered")).unwrap();
    std::fs::copy(&module, bin.join("tampered.wasm")).unwrap();
    // module missing.
    std::os::unix::fs::symlink(HOST, bin.join("no-module")).unwrap();
    // args that do not parse.
    std::os::unix::fs::symlink(HOST, bin.join("bad-args")).unwrap();
    std::fs::copy(&module, bin.join("bad-args.wasm")).unwrap();
    // a native plugin whose args are its own business; one not executable; one missing.
    write(&bin, "native", "#!/bin/sh\n");
    std::fs::set_permissions(bin.join("native"), std::fs::Permissions::from_mode(0o755)).unwrap();
    write(&bin, "not-executable", "#!/bin/sh\n");
    let config = write(
        dir.path(),
        "config.yaml",
        &format!(
            "{HEAD}{}{}{}{}{}{}{}",
            provider("ok", &format!("--sha256={digest}, --memory=32Mi")),
            provider("tampered", &format!("--sha256={}", "0".repeat(64))),
            provider("no-module", ""),
            provider("bad-args", "--memory=lots, --allow-http=*"),
            provider("native", "--v=5, get-credentials"),
            provider("not-executable", ""),
            provider("missing", ""),
        ),
    );
    let out = exec(
        &[
            "check-config",
            config.to_str().unwrap(),
            "--bin-dir",
            bin.to_str().unwrap(),
            "--output",
            "json",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).expect("JSON");
    let errors = report["errors"].as_array().unwrap();
    let by = |name: &str| -> Vec<String> {
        errors
            .iter()
            .filter(|e| e["provider"] == name)
            .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert!(by("ok").is_empty(), "{errors:?}");
    assert!(by("native").is_empty(), "{errors:?}");
    assert!(by("tampered")[0].contains("--sha256 pins"), "{errors:?}");
    assert!(by("no-module")[0].contains("does not exist"), "{errors:?}");
    // Every bad value of a provider's args at once, each its own problem.
    assert_eq!(by("bad-args").len(), 2, "{errors:?}");
    assert!(by("bad-args")[0].contains("--memory"), "{errors:?}");
    assert!(by("bad-args")[1].contains("--allow-http"), "{errors:?}");
    assert!(
        by("not-executable")[0].contains("permission denied"),
        "{errors:?}"
    );
    assert!(by("missing")[0].contains("did not exist"), "{errors:?}");
    assert_eq!(errors.len(), 6, "{errors:?}");
}

#[test]
fn check_config_warns_about_unscoped_or_unpinned_host_providers() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let module = test_artifacts::plugin("static-credentials", Target::P1);
    let digest = sha256_hex(&module);
    for name in ["scoped", "unscoped", "unpinned"] {
        std::os::unix::fs::symlink(HOST, bin.join(name)).unwrap();
        std::fs::copy(&module, bin.join(format!("{name}.wasm"))).unwrap();
    }
    let config = write(
        dir.path(),
        "config.yaml",
        &format!(
            "{HEAD}{}{}{}",
            provider(
                "scoped",
                &format!("--sha256={digest}, --allow-auth-key=r.io")
            ),
            provider("unscoped", &format!("--sha256={digest}")),
            provider("unpinned", "--allow-auth-key=r.io"),
        ),
    );
    let args = ["check-config", config.to_str().unwrap(), "--bin-dir"];
    let out = exec(&[&args[..], &[bin.to_str().unwrap()]].concat(), b"");
    // Warnings do not make the config invalid.
    assert_eq!(out.status.code(), Some(0), "{}{}", out.stdout, out.stderr);
    let warnings: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 2, "{}", out.stdout);
    assert!(
        warnings[0].starts_with(
            "warning: provider \"unscoped\": runs wasm-credential-provider without --allow-auth-key"
        ) && warnings[0].contains("--allow-auth-key=r.io"),
        "{}",
        out.stdout
    );
    assert!(
        warnings[1].starts_with(
            "warning: provider \"unpinned\": runs wasm-credential-provider without --sha256"
        ),
        "{}",
        out.stdout
    );
    let json = exec(
        &[&args[..], &[bin.to_str().unwrap(), "--output", "json"]].concat(),
        b"",
    );
    let report: Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(report["valid"], true);
    let names: Vec<&str> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["provider"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["unscoped", "unpinned"]);
}

/// Host providers' args are judged in the environment the kubelet execs them with (this
/// process's, with the provider's `env` over it), and configs that work but cannot mean what
/// they say get warnings.
#[test]
fn check_config_judges_host_args_in_the_provider_environment() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let module = test_artifacts::plugin("static-credentials", Target::P1);
    let digest = sha256_hex(&module);
    for name in ["proxied", "token", "schemed"] {
        std::os::unix::fs::symlink(HOST, bin.join(name)).unwrap();
        std::fs::copy(&module, bin.join(format!("{name}.wasm"))).unwrap();
    }
    let scoped = format!("--sha256={digest}, --allow-auth-key=r.io");
    let config = write(
        dir.path(),
        "config.yaml",
        &format!(
            "{HEAD}{}  env:\n  - {{name: HTTPS_PROXY, value: \"socks5://proxy.internal:1080\"}}\n{}  tokenAttributes:\n    serviceAccountTokenAudience: registry\n    cacheType: Token\n    requireServiceAccount: true\n{}",
            provider("proxied", &format!("{scoped}, --allow-http=r.io")),
            provider("token", &scoped),
            provider("schemed", &scoped).replace("[r.io]", "[\"https://r.io\"]"),
        ),
    );
    let out = exec(
        &[
            "check-config",
            config.to_str().unwrap(),
            "--bin-dir",
            bin.to_str().unwrap(),
        ],
        b"",
    );
    // An unusable proxy fails only the requests that would use it: a warning, not an error.
    assert_eq!(out.status.code(), Some(0), "{}{}", out.stdout, out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    // The provider's proxy value is not a secret, but the test env's must not leak either.
    assert!(
        !out.stdout.contains("KUBELET_ONLY_SECRET"),
        "{}",
        out.stdout
    );
    let warnings: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 3, "{}", out.stdout);
    assert!(
        warnings[0].starts_with("warning: provider \"schemed\": \"https://r.io\" has a scheme")
            && warnings[0].ends_with("(write \"r.io\")"),
        "{}",
        out.stdout
    );
    assert!(
        warnings[1].starts_with(
            "warning: provider \"proxied\": the proxy setting in the provider's environment cannot be used (HTTPS_PROXY: only http:// proxies are supported)"
        ),
        "{}",
        out.stdout
    );
    assert!(
        warnings[2].starts_with(
            "warning: provider \"token\": tokenAttributes.cacheType is Token but the args set --token-cache-type=ServiceAccount"
        ) && warnings[2].ends_with("(add --token-cache-type=Token)"),
        "{}",
        out.stdout
    );
    // The same provider with the proxy gone and the cache type matched is clean.
    let fixed = std::fs::read_to_string(&config)
        .unwrap()
        .replace("socks5://proxy.internal:1080", "http://proxy.internal:3128")
        .replace(
            &format!("{scoped}]\n  tokenAttributes"),
            &format!("{scoped}, --token-cache-type=Token]\n  tokenAttributes"),
        )
        .replace("[\"https://r.io\"]", "[r.io]");
    let fixed_path = write(dir.path(), "fixed.yaml", &fixed);
    let out = exec(
        &[
            "check-config",
            fixed_path.to_str().unwrap(),
            "--bin-dir",
            bin.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("warning:"), "{}", out.stdout);
}

/// A provider's args written for a native plugin, or as one list item, get an error that says
/// what to write; clap's whole message is kept on the one line.
#[test]
fn argument_errors_say_what_to_write() {
    let module = test_artifacts::plugin("static-credentials", Target::P2);
    let module = module.to_str().unwrap();
    let one_line = |out: &Outcome| {
        assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        out.stderr.trim_end().to_owned()
    };
    let line = one_line(&exec(
        &["--module", module, "get-credentials"],
        &v1_request(),
    ));
    assert!(
        line.starts_with("wasm-credential-provider: static-credentials: invalid arguments: unexpected argument 'get-credentials' found")
            && line.ends_with("write `--arg=get-credentials` to pass it to the module"),
        "{line}"
    );
    let line = one_line(&exec(
        &["--module", module, "--env REGISTRY_USERNAME"],
        &v1_request(),
    ));
    assert!(
        line.ends_with("each item of args is one argument: write `--env=REGISTRY_USERNAME`"),
        "{line}"
    );
    let line = one_line(&exec(&["--module", module, "--memry=32Mi"], &v1_request()));
    assert!(
        line.contains("tip: a similar argument exists: '--memory'"),
        "{line}"
    );
    let line = one_line(&exec(
        &["--module", module, "--token-cache-type=token"],
        &v1_request(),
    ));
    assert!(
        line.contains("[possible values: ServiceAccount, Token]"),
        "{line}"
    );
    // Without --module there is no provider name to give: the binary's own, once.
    let line = one_line(&exec(&["--memory=32Mi"], &v1_request()));
    assert_eq!(
        line,
        "wasm-credential-provider: invalid arguments: --module PATH is required when invoked as wasm-credential-provider"
    );
}

#[test]
fn match_exit_statuses() {
    let out = exec(
        &[
            "match",
            "nginx:1.25",
            "--pattern",
            "docker.io",
            "--pattern",
            "quay.io",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        out.stdout,
        "image: docker.io/library/nginx\npattern: docker.io\n"
    );
    let out = exec(
        &["match", "registry.io:5000/a/b", "--pattern", "registry.io"],
        b"",
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a pattern without a port never matches a port"
    );
    let out = exec(&["match", "Bad Image", "--pattern", "x"], b"");
    assert_eq!(out.status.code(), Some(2));
    let out = exec(&["match", "nginx"], b"");
    assert_eq!(out.status.code(), Some(2));

    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "c.yaml",
        &format!(
            "{HEAD}- name: second\n  matchImages: [\"*.example.com\"]\n  defaultCacheDuration: 1m\n  apiVersion: {V1}\n- name: first\n  matchImages: [hub.example.com, other.io]\n  defaultCacheDuration: 1m\n  apiVersion: {V1}\n"
        ),
    );
    let out = exec(
        &[
            "match",
            "hub.example.com/team/app:1.2",
            "--config",
            config.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        out.stdout,
        "image: hub.example.com/team/app\nprovider: second (matchImages: *.example.com)\nprovider: first (matchImages: hub.example.com)\n"
    );
    let out = exec(
        &[
            "match",
            "nginx",
            "--auth-key",
            "https://index.docker.io/v1/",
            "--auth-key",
            "quay.io",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.contains("Docker Hub fallback"), "{}", out.stdout);
}

#[test]
fn validate_response_exit_statuses() {
    let ok = format!(
        "{{\"kind\":\"CredentialProviderResponse\",\"apiVersion\":\"{V1}\",\"cacheKeyType\":\"Registry\",\"auth\":{{\"r.io\":{{\"username\":\"u\",\"password\":\"s3cret\"}}}}}}\n"
    );
    let out = exec(&["validate-response", "--api-version", V1], ok.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.starts_with("accepted:"), "{}", out.stdout);
    assert!(!out.stdout.contains("s3cret"));
    let out = exec(
        &["validate-response", "--api-version", "v1beta1"],
        ok.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.starts_with("rejected: apiVersion"),
        "{}",
        out.stdout
    );
    let out = exec(
        &["validate-response", "--api-version", V1],
        format!("log line\n{ok}").as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    let out = exec(&["validate-response"], ok.as_bytes());
    assert_eq!(out.status.code(), Some(2));

    // The echo rule needs the request's token.
    let dir = tempfile::tempdir().unwrap();
    let request = write(
        dir.path(),
        "request.json",
        &format!(
            "{{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":\"{V1}\",\"image\":\"r.io/a\",\"serviceAccountToken\":\"s3cret\"}}"
        ),
    );
    let out = exec(
        &["validate-response", "--request", request.to_str().unwrap()],
        ok.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.contains("service-account token"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("s3cret"));
    let out = exec(
        &[
            "validate-response",
            "--request",
            request.to_str().unwrap(),
            "--token-cache-type",
            "Token",
        ],
        ok.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", out.stdout);
}

#[test]
fn inspect_reports_format_digest_and_capabilities() {
    for target in Target::ALL {
        let module = test_artifacts::plugin("static-credentials", target);
        let out = exec(&["inspect", module.to_str().unwrap()], b"");
        assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
        let expected = match target {
            Target::P1 => "format:  core module (wasm32-wasip1)",
            Target::P2 => "format:  component (wasm32-wasip2)",
        };
        assert!(out.stdout.contains(expected), "{}", out.stdout);
        assert!(out.stdout.contains("capabilities:\n"), "{}", out.stdout);
    }
    let out = exec(&["inspect", "/nonexistent.wasm"], b"");
    assert_eq!(out.status.code(), Some(2));
}
