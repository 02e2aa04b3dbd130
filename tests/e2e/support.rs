//! Running the built host binary exactly as the kubelet does: argv from the provider's args, the
//! whole environment, the request and a newline on stdin, stdout and stderr captured.

use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub use test_artifacts::Target;

/// The host binary under test.
pub const HOST: &str = env!("CARGO_BIN_EXE_wasm-credential-provider");

/// A secret in the host's (kubelet's) environment that is never granted to a guest.
pub const KUBELET_SECRET_NAME: &str = "KUBELET_ONLY_SECRET";
/// Its value: must never reach a guest, stdout or stderr.
pub const KUBELET_SECRET_VALUE: &str = "kubelet-secret-3f9a1c";

pub const V1: &str = "credentialprovider.kubelet.k8s.io/v1";
pub const V1BETA1: &str = "credentialprovider.kubelet.k8s.io/v1beta1";
pub const V1ALPHA1: &str = "credentialprovider.kubelet.k8s.io/v1alpha1";
pub const API_VERSIONS: [&str; 3] = [V1ALPHA1, V1BETA1, V1];

/// The request bytes the kubelet writes for `image` (compact JSON and one newline).
pub fn request(api_version: &str, image: &str) -> Vec<u8> {
    format!(
        "{{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":\"{api_version}\",\"image\":\"{image}\"}}\n"
    )
    .into_bytes()
}

/// A v1 request for `r.io/team/app`.
pub fn v1_request() -> Vec<u8> {
    request(V1, "r.io/team/app")
}

/// What one exec produced.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Runs `program` with `args` and `stdin`, inheriting this process's environment plus the
/// kubelet-only secret, like the kubelet's exec.
pub fn exec_program(
    program: &Path,
    args: &[&str],
    stdin: &[u8],
    extra_env: &[(&str, &str)],
) -> Outcome {
    let mut command = Command::new(program);
    command
        .args(args)
        .env(KUBELET_SECRET_NAME, KUBELET_SECRET_VALUE)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in extra_env {
        command.env(name, value);
    }
    let start = Instant::now();
    let mut child = command.spawn().expect("spawn the host");
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.to_vec();
    // The host may refuse before reading everything: a broken pipe is fine.
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let output = child.wait_with_output().expect("wait for the host");
    let elapsed = start.elapsed();
    let _ = writer.join();
    Outcome {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed,
    }
}

/// Runs the host with `args`.
pub fn exec(args: &[&str], stdin: &[u8]) -> Outcome {
    exec_program(Path::new(HOST), args, stdin, &[])
}

/// Runs test guest `guest` for `target` with extra host `args`.
pub fn exec_guest(guest: &str, target: Target, args: &[&str], stdin: &[u8]) -> Outcome {
    let module = test_artifacts::guest(guest, target);
    let module = module.to_str().expect("utf-8 path");
    let mut all = vec!["--module", module];
    all.extend_from_slice(args);
    exec(&all, stdin)
}

/// Runs the host with `args` and the stats line on (`WASM_CREDENTIAL_PROVIDER_STATS=1`).
pub fn exec_with_stats(args: &[&str], stdin: &[u8]) -> Outcome {
    exec_program(
        Path::new(HOST),
        args,
        stdin,
        &[("WASM_CREDENTIAL_PROVIDER_STATS", "1")],
    )
}

/// The value of `field` (`code`, `host-peak-rss-bytes`, ...) in the host's stats line.
pub fn stats_field<'a>(out: &'a Outcome, field: &str) -> &'a str {
    out.stderr
        .lines()
        .filter(|line| line.starts_with("wasm-credential-provider: ") && line.contains(": stats: "))
        .flat_map(str::split_whitespace)
        .find_map(|word| word.strip_prefix(field)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {field} in a stats line of:\n{}", out.stderr))
}

/// Test guest `guest` for `target` compiled ahead of time into `dir` (`compile`), so that a run
/// with `--allow-precompiled` spends its `--timeout` on the guest alone, however busy the
/// machine (compiling counts against the timeout).
pub fn precompiled_guest(guest: &str, target: Target, dir: &Path) -> std::path::PathBuf {
    let cwasm = dir.join(format!("{guest}.cwasm"));
    let module = test_artifacts::guest(guest, target);
    let out = exec(
        &[
            "compile",
            module.to_str().expect("utf-8 path"),
            "-o",
            cwasm.to_str().expect("utf-8 path"),
        ],
        b"",
    );
    assert!(out.status.success(), "compile {guest}: {}", out.stderr);
    cwasm
}

/// Runs example plugin `plugin`, built for `target`, through the host with `args`. Each variable
/// in `cleared` is set empty in the host's environment (so the tester's own proxy or cloud
/// settings never reach the run), then `env` is applied.
pub fn exec_plugin(
    plugin: &str,
    target: Target,
    args: &[&str],
    stdin: &[u8],
    cleared: &[&str],
    env: &[(&str, &str)],
) -> Outcome {
    let module = test_artifacts::plugin(plugin, target);
    let mut all = vec!["--module", module.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    let mut environment: Vec<(&str, &str)> = cleared.iter().map(|name| (*name, "")).collect();
    environment.extend_from_slice(env);
    exec_program(Path::new(HOST), &all, stdin, &environment)
}

impl Outcome {
    /// Asserts success and returns the response as JSON.
    pub fn json(&self) -> serde_json::Value {
        assert!(
            self.status.success(),
            "host failed: {:?}\nstderr:\n{}",
            self.status,
            self.stderr
        );
        assert!(self.stdout.ends_with('\n'), "response ends with a newline");
        serde_json::from_str(&self.stdout).expect("stdout is JSON")
    }

    /// Asserts the kubelet-visible failure contract: non-zero exit, nothing on stdout, and
    /// exactly one host error line `wasm-credential-provider: <provider>: ...` containing
    /// `needle`, as the last line of stderr. Also checks no secret leaked.
    pub fn assert_refused(&self, provider: &str, needle: &str) {
        assert!(
            !self.status.success(),
            "expected failure, got success; stdout: {}",
            self.stdout
        );
        assert_eq!(self.stdout, "", "nothing on stdout after a failure");
        let prefix = format!("wasm-credential-provider: {provider}: ");
        let host_lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("wasm-credential-provider: "))
            .collect();
        assert_eq!(
            host_lines.len(),
            1,
            "one host error line in:\n{}",
            self.stderr
        );
        let last = self.stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with(&prefix) && last.contains(needle),
            "expected last stderr line to start with {prefix:?} and contain {needle:?}, got:\n{}",
            self.stderr
        );
        self.assert_no_kubelet_secret();
    }

    /// The kubelet-only secret appears nowhere in the output.
    pub fn assert_no_kubelet_secret(&self) {
        assert!(
            !self.stdout.contains(KUBELET_SECRET_VALUE),
            "secret on stdout"
        );
        assert!(
            !self.stderr.contains(KUBELET_SECRET_VALUE),
            "secret on stderr"
        );
    }
}

/// The single credential in a response: (key, username, password).
pub fn only_credential(response: &serde_json::Value) -> (String, String, String) {
    let auth = response["auth"].as_object().expect("auth object");
    assert_eq!(auth.len(), 1, "one auth entry in {response}");
    let (key, creds) = auth.iter().next().expect("one entry");
    (
        key.clone(),
        creds["username"].as_str().expect("username").to_owned(),
        creds["password"].as_str().expect("password").to_owned(),
    )
}
