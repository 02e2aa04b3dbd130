//! The docker credential-helper front: the host invoked as `docker-credential-<name>` (a symlink),
//! running `<name>.wasm` with the options of `<name>.args`. The protocol's actions on their own,
//! then `skopeo` pulling from a real registry through an `auth.json` whose `credHelpers` names
//! the helper.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::registry::{PASSWORD, PullAuth, Registry, USER, pull};
use crate::support::*;

/// The helper's name: `docker-credential-static-credentials` runs `static-credentials.wasm`.
pub const NAME: &str = "static-credentials";
const HELPER: &str = "docker-credential-static-credentials";
const NOT_FOUND: &str = "credentials not found in native keychain";

/// A directory holding the helper symlink, the module and (optionally) the args file.
pub struct HelperDir {
    dir: tempfile::TempDir,
}

impl HelperDir {
    /// The helper with the `static-credentials` component (wasm32-wasip2) and `args` as its
    /// args file (none if empty).
    pub fn new(args: &[&str]) -> HelperDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink(HOST, dir.path().join(HELPER)).expect("symlink");
        std::fs::copy(
            test_artifacts::plugin(NAME, Target::P2),
            dir.path().join(format!("{NAME}.wasm")),
        )
        .expect("copy module");
        let helper = HelperDir { dir };
        if !args.is_empty() {
            helper.write_args(&format!("# options for {HELPER}\n{}\n", args.join("\n")));
        }
        helper
    }

    fn write_args(&self, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.args_file();
        std::fs::write(&path, text).expect("write args file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }

    fn args_file(&self) -> PathBuf {
        self.dir.path().join(format!("{NAME}.args"))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the helper by its full path.
    fn run(&self, action: &[&str], stdin: &str, env: &[(&str, &str)]) -> Outcome {
        exec_program(&self.dir.path().join(HELPER), action, stdin.as_bytes(), env)
    }

    /// Runs the helper as docker does: by bare name, found through `PATH`.
    fn run_via_path(&self, action: &str, stdin: &str, env: &[(&str, &str)]) -> Outcome {
        let mut command = Command::new(HELPER);
        command
            .arg(action)
            .env("PATH", path_with(self.path()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let start = std::time::Instant::now();
        let mut child = command.spawn().expect("spawn the helper through PATH");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        let output = child.wait_with_output().expect("wait");
        Outcome {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            elapsed: start.elapsed(),
        }
    }
}

/// `dir` followed by this process's `PATH`.
pub fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut dirs = vec![dir.to_owned()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).expect("join PATH")
}

const CREDS_ENV: [(&str, &str); 2] = [
    ("REGISTRY_USERNAME", "robot"),
    ("REGISTRY_PASSWORD", "helper-password-93b1"),
];
pub const GRANT: [&str; 2] = ["--env=REGISTRY_USERNAME", "--env=REGISTRY_PASSWORD"];

/// Asserts the helper's failure shape: non-zero `status`, one error line naming the helper on
/// stdout (the protocol's error channel) containing `needle`, and the same line on stderr.
fn assert_helper_error(out: &Outcome, status: i32, needle: &str) {
    assert_eq!(
        out.status.code(),
        Some(status),
        "stdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    let prefix = format!("wasm-credential-provider: {NAME}: ");
    let line = out.stdout.trim_end();
    assert!(
        !line.contains('\n') && line.starts_with(&prefix) && line.contains(needle),
        "one error line with {needle:?} on stdout, got: {:?}",
        out.stdout
    );
    assert!(
        out.stderr.contains(line),
        "the error line on stderr too: {}",
        out.stderr
    );
}

#[test]
fn docker_helper_get_prints_the_matching_credential() {
    let helper = HelperDir::new(&GRANT);
    for server_url in [
        "r.example.com",
        "https://r.example.com/v2/",
        "r.example.com\n",
    ] {
        let out = helper.run(&["get"], server_url, &CREDS_ENV);
        assert!(out.status.success(), "{server_url:?}: {}", out.stderr);
        assert!(out.stdout.ends_with('\n'));
        let body: Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
        assert_eq!(
            body,
            json!({
                "ServerURL": server_url.trim(),
                "Username": "robot",
                "Secret": "helper-password-93b1",
            })
        );
        assert!(
            !out.stderr.contains("helper-password-93b1"),
            "no secret on stderr: {}",
            out.stderr
        );
    }
}

#[test]
fn docker_helper_found_through_path_uses_the_module_beside_the_symlink() {
    let helper = HelperDir::new(&GRANT);
    let out = helper.run_via_path("get", "127.0.0.1:5000", &CREDS_ENV);
    assert!(out.status.success(), "{}", out.stderr);
    let body: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(body["ServerURL"], "127.0.0.1:5000");
    assert_eq!(body["Username"], "robot");
    let version = helper.run_via_path("version", "", &[]);
    assert!(version.status.success());
    assert!(version.stdout.starts_with(HELPER), "{}", version.stdout);
}

#[test]
fn docker_helper_without_a_matching_key_reports_not_found() {
    // The module answers for another registry only.
    let mut args = GRANT.to_vec();
    args.extend(["--arg=--registry", "--arg=other.example.com"]);
    let helper = HelperDir::new(&args);
    let out = helper.run(&["get"], "r.example.com", &CREDS_ENV);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert_eq!(out.stdout, format!("{NOT_FOUND}\n"));
    // A more specific key does not serve the whole registry; a port must match.
    for key in ["r.example.com/team", "r.example.com:5000"] {
        let mut args = GRANT.to_vec();
        let registry_arg = format!("--arg={key}");
        args.extend(["--arg=--registry", registry_arg.as_str()]);
        let helper = HelperDir::new(&args);
        let out = helper.run(&["get"], "r.example.com", &CREDS_ENV);
        assert_eq!(out.stdout, format!("{NOT_FOUND}\n"), "key {key}");
        let out = helper.run(&["get"], &format!("https://{key}"), &CREDS_ENV);
        assert!(out.status.success(), "key {key}: {}", out.stderr);
    }
}

#[test]
fn docker_helper_list_store_erase_are_read_only() {
    let helper = HelperDir::new(&GRANT);
    let list = helper.run(&["list"], "", &CREDS_ENV);
    assert!(list.status.success(), "{}", list.stderr);
    assert_eq!(list.stdout, "{}\n");
    let stored = r#"{"ServerURL":"r.example.com","Username":"u","Secret":"stored-secret-51"}"#;
    for action in ["store", "erase"] {
        let out = helper.run(&[action], stored, &CREDS_ENV);
        assert_helper_error(&out, 1, &format!("{action} is not supported"));
        assert!(out.stdout.contains("read-only"), "{}", out.stdout);
        assert!(!out.stdout.contains("stored-secret-51"));
        assert!(!out.stderr.contains("stored-secret-51"));
    }
}

#[test]
fn docker_helper_usage_errors() {
    let helper = HelperDir::new(&GRANT);
    assert_helper_error(&helper.run(&[], "", &CREDS_ENV), 2, "expected one action");
    assert_helper_error(
        &helper.run(&["get", "extra"], "r.example.com", &CREDS_ENV),
        2,
        "exactly one argument",
    );
    assert_helper_error(
        &helper.run(&["fetch"], "", &CREDS_ENV),
        2,
        "unknown action \"fetch\"",
    );
    // Bad server URLs: refused before the module runs, user information never echoed.
    for (input, needle) in [
        ("", "no credentials server URL"),
        ("https://robot:pw-77@r.example.com", "user information"),
        ("ftp://r.example.com", "only https:// and http://"),
        ("r.example.com:99999", "not a registry host"),
    ] {
        let out = helper.run(&["get"], input, &CREDS_ENV);
        assert_helper_error(&out, 1, needle);
        assert!(!out.stdout.contains("pw-77"));
    }
}

#[test]
fn docker_helper_args_file_is_read_strictly() {
    use std::os::unix::fs::PermissionsExt;
    let helper = HelperDir::new(&GRANT);
    // Without the grant the module has no credentials to give: the run fails, naming the cause.
    std::fs::remove_file(helper.args_file()).expect("remove args file");
    let out = helper.run(&["get"], "r.example.com", &CREDS_ENV);
    assert_helper_error(&out, 1, "");
    assert!(
        out.stderr.contains("REGISTRY_USERNAME is not set"),
        "{}",
        out.stderr
    );
    // Run-mode options are checked as in the kubelet's args.
    helper.write_args("--memory=1Ki\n");
    assert_helper_error(
        &helper.run(&["get"], "r.example.com", &CREDS_ENV),
        2,
        "--memory must be between",
    );
    // One option per line.
    helper.write_args("--env\nREGISTRY_USERNAME\n");
    assert_helper_error(
        &helper.run(&["get"], "r.example.com", &CREDS_ENV),
        2,
        "line 2: expected one option per line",
    );
    // A file others may write is refused.
    helper.write_args(&GRANT.join("\n"));
    std::fs::set_permissions(helper.args_file(), std::fs::Permissions::from_mode(0o666))
        .expect("chmod");
    assert_helper_error(
        &helper.run(&["get"], "r.example.com", &CREDS_ENV),
        2,
        "writable by group or others",
    );
    // The module pin applies.
    helper.write_args(&format!(
        "{}\n--sha256={}\n",
        GRANT.join("\n"),
        "0".repeat(64)
    ));
    let out = helper.run(&["get"], "r.example.com", &CREDS_ENV);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with(&format!("wasm-credential-provider: {NAME}: ")),
        "{}",
        out.stdout
    );
}

/// An `auth.json` whose `credHelpers` sends the registry to the helper.
fn auth_file(registry: &Registry) -> PathBuf {
    let path = registry.dir.path().join("auth.json");
    std::fs::write(
        &path,
        json!({"credHelpers": {registry.host(): NAME}}).to_string(),
    )
    .expect("write auth.json");
    path
}

/// `skopeo inspect` and `skopeo copy` of the test image through the helper.
fn pull_through_helper(registry: &Registry, helper: &HelperDir, password: &str) -> (bool, String) {
    let auth = auth_file(registry);
    let path = path_with(helper.path());
    let env = [
        ("PATH", path.to_str().expect("utf-8 PATH")),
        ("REGISTRY_USERNAME", USER),
        ("REGISTRY_PASSWORD", password),
    ];
    pull(registry, PullAuth::AuthFile(&auth), &env)
}

#[test]
fn docker_helper_serves_skopeo_against_a_real_registry() {
    let Some(registry) = Registry::start("docker_helper_serves_skopeo_against_a_real_registry")
    else {
        return;
    };
    let helper = HelperDir::new(&GRANT);
    let (pulled, stderr) = pull_through_helper(&registry, &helper, PASSWORD);
    assert!(
        pulled,
        "pull through the helper failed:\n{stderr}\nregistry log:\n{}",
        registry.log()
    );
    // The registry saw the helper's user.
    assert!(registry.log().contains(USER), "{}", registry.log());
}

#[test]
fn docker_helper_wrong_password_fails_against_a_real_registry() {
    let Some(registry) =
        Registry::start("docker_helper_wrong_password_fails_against_a_real_registry")
    else {
        return;
    };
    let helper = HelperDir::new(&GRANT);
    let (pulled, stderr) = pull_through_helper(&registry, &helper, "wrong-password");
    assert!(!pulled, "a wrong password must not pull");
    assert!(
        stderr.contains("unauthorized") || stderr.contains("authentication required"),
        "refused for authentication: {stderr}"
    );
}
