//! The docker credential-helper front: the same modules, for docker, podman, skopeo and crane.
//!
//! Invoked as `docker-credential-<name>` (a symlink to this binary on the client's `PATH`), the
//! host speaks the [docker credential-helper protocol]: the action is the only argument, and
//!
//! - `get` reads a server URL on stdin (`registry.example.com`, `127.0.0.1:5000`,
//!   `https://index.docker.io/v1/`), builds a v1 `CredentialProviderRequest` for it, runs the
//!   module `<name>.wasm` exactly as run mode does (same sandbox, same response checks), picks
//!   the credential whose `auth` key matches the server URL with the kubelet's matching (most
//!   specific key first) and prints `{"ServerURL", "Username", "Secret"}`. No matching
//!   credential: `credentials not found in native keychain` on stdout and exit status 1, which
//!   clients read as "pull anonymously";
//! - `list` prints `{}`: a read-only helper stores nothing;
//! - `store` and `erase` fail (exit status 1): credentials come from the module, not from
//!   `docker login`;
//! - `version` prints the version.
//!
//! The helper's directory is the one `argv[0]` names, or, when the client found the helper
//! through `PATH` (as docker does), the first absolute `PATH` directory holding
//! `docker-credential-<name>`. The module is `<name>.wasm` there. Clients pass no options, so the
//! run-mode options (`--sha256`, `--env`, `--allow-http`, ...) come from the args file
//! `<name>.args` in the same directory: one option per line, written `--option=value` or
//! `--flag`; blank lines and lines starting with `#` are skipped. It is read strictly: a regular
//! file (not a symlink), owned by root or by the user the helper runs as, not writable by group
//! or others, at most 64 KiB of UTF-8, every other line starting with `--`. No file means the
//! defaults.
//!
//! Errors are one line, `wasm-credential-provider: <name>: ...`, on stdout (where the protocol
//! carries them to the client) and on stderr; they never contain a secret.
//!
//! [docker credential-helper protocol]: https://github.com/docker/docker-credential-helpers

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::Ipv6Addr;
use std::path::Path;
use std::process::ExitCode;

use credential_provider_protocol::image::registry_of;
use credential_provider_protocol::matching::{Keyring, urls_match};
use credential_provider_protocol::response::AuthConfig;
use credential_provider_protocol::{ApiVersion, Expectation, Request, Response};

use crate::args::{ExecEnv, provider_run_config};
use crate::error::Error;
use crate::names::{BINARY_NAME, HELPER_PREFIX};
use crate::regular_file::{Symlinks, TrustedWriter, open_regular, untrusted_writer};
use crate::report;
use crate::run::{RunConfig, run};

/// What a helper prints on stdout (with exit status 1) when it has no credentials for a server
/// URL; clients recognise this exact text.
pub const NOT_FOUND: &str = "credentials not found in native keychain";

/// Longest server URL read from stdin.
pub const MAX_SERVER_URL_BYTES: usize = 4096;

/// Largest args file read.
pub const MAX_ARGS_FILE_BYTES: u64 = 64 * 1024;

/// Why a helper action failed. Renders as the text after `wasm-credential-provider: <name>: `;
/// never contains a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HelperError {
    /// Running the module failed (any stage of the run-mode pipeline).
    #[error("{0}")]
    Host(#[from] Error),
    /// The server URL on stdin is missing or not a registry address.
    #[error("invalid server URL on stdin: {0}")]
    ServerUrl(String),
    /// `store` or `erase`: this helper cannot change credentials.
    #[error(
        "{0} is not supported: this credential helper is read-only (its credentials come from the module)"
    )]
    ReadOnly(&'static str),
    /// The action argument is missing, unknown, or followed by more arguments.
    #[error("{0}")]
    Usage(String),
    /// The args file is unreadable or malformed.
    #[error("args file {path}: {reason}")]
    ArgsFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl HelperError {
    /// The exit status: 2 for configuration and usage errors, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            HelperError::Host(err) => err.exit_code(),
            HelperError::Usage(_) | HelperError::ArgsFile { .. } => 2,
            HelperError::ServerUrl(_) | HelperError::ReadOnly(_) => 1,
        }
    }
}

/// What `get` found.
#[derive(Debug)]
pub enum Lookup {
    /// The credential for the server URL.
    Found {
        /// The server URL as the client sent it (trimmed).
        server_url: String,
        /// The matching credential.
        auth: AuthConfig,
    },
    /// The module's response has no credential for the server URL.
    NotFound,
}

/// Entry point of the front: `name` is the helper's, `dir` the directory it was invoked from
/// ([`crate::names::invoked_dir`]), `args` what followed `argv[0]`.
pub fn main(name: &str, dir: &Path, args: &[OsString]) -> ExitCode {
    let action = match args {
        [action] => action.to_str().unwrap_or(""),
        [] => {
            return fail(
                name,
                &HelperError::Usage(format!(
                    "expected one action: get, list, store, erase or version (usage: {HELPER_PREFIX}{name} get < server-url)"
                )),
            );
        }
        _ => {
            return fail(
                name,
                &HelperError::Usage("expected exactly one argument, the action".into()),
            );
        }
    };
    let mut stdout = std::io::stdout().lock();
    match action {
        "version" | "--version" | "-v" => {
            let _ = writeln!(
                stdout,
                "{HELPER_PREFIX}{name} ({BINARY_NAME} {})",
                env!("CARGO_PKG_VERSION")
            );
            ExitCode::SUCCESS
        }
        "--help" | "-h" | "help" => {
            let _ = writeln!(
                stdout,
                "{HELPER_PREFIX}{name}: a read-only docker credential helper running {name}.wasm\n\
                 usage: {HELPER_PREFIX}{name} get|list|store|erase|version\n  \
                 get      read a server URL on stdin, print its credentials as JSON\n  \
                 list     print {{}} (nothing is stored)\n  \
                 store    refused (read-only)\n  \
                 erase    refused (read-only)\n\
                 Options for the module come from {name}.args beside it, one per line."
            );
            ExitCode::SUCCESS
        }
        "list" => {
            let _ = writeln!(stdout, "{{}}");
            ExitCode::SUCCESS
        }
        "store" => fail(name, &HelperError::ReadOnly("store")),
        "erase" => fail(name, &HelperError::ReadOnly("erase")),
        "get" => {
            let config = match helper_run_config(name, dir) {
                Ok(config) => config,
                Err(err) => return fail(name, &err),
            };
            let stderr = std::io::stderr();
            match get(&config, std::io::stdin().lock(), &mut stderr.lock()) {
                Ok(Lookup::Found { server_url, auth }) => {
                    let body = serde_json::json!({
                        "ServerURL": server_url,
                        "Username": auth.username,
                        "Secret": auth.password.expose(),
                    });
                    match writeln!(stdout, "{body}").and_then(|()| stdout.flush()) {
                        Ok(()) => ExitCode::SUCCESS,
                        Err(err) => fail(name, &HelperError::Host(Error::WriteResponse(err))),
                    }
                }
                Ok(Lookup::NotFound) => {
                    let _ = writeln!(
                        stderr.lock(),
                        "{BINARY_NAME}: {name}: the module's response has no credential matching the server URL"
                    );
                    let _ = writeln!(stdout, "{NOT_FOUND}");
                    ExitCode::from(1)
                }
                Err(err) => fail(name, &err),
            }
        }
        _ => fail(
            name,
            &HelperError::Usage(format!(
                "unknown action {:?}: expected get, list, store, erase or version",
                action.chars().take(64).collect::<String>()
            )),
        ),
    }
}

/// Prints `wasm-credential-provider: <name>: <error>` as one line on stdout (the protocol's
/// error channel, shown by clients) and stderr, and returns its exit status.
fn fail(name: &str, err: &HelperError) -> ExitCode {
    let line = report::error_line(name, &err.to_string());
    let _ = writeln!(std::io::stdout(), "{line}");
    let _ = writeln!(std::io::stderr(), "{line}");
    ExitCode::from(err.exit_code())
}

/// The run configuration of helper `name` invoked from `dir`: `<name>.wasm` there, run with
/// the options of `<name>.args` beside it, in this process's environment.
pub fn helper_run_config(name: &str, dir: &Path) -> Result<RunConfig, HelperError> {
    let args = read_args_file(&dir.join(format!("{name}.args")))?;
    Ok(provider_run_config(name, dir, &args, &ExecEnv::Process, None).map_err(Error::from)?)
}

/// Reads the args file at `path` strictly (see the module docs). A missing file means no args.
pub fn read_args_file(path: &Path) -> Result<Vec<String>, HelperError> {
    use std::os::unix::fs::MetadataExt;
    let bad = |reason: String| HelperError::ArgsFile {
        path: path.display().to_string(),
        reason,
    };
    // The file grants the module its capabilities (`--allow-http`, `--env`, `--sha256`), so it
    // must be this very file (no symlink is followed, as in the compile cache), and only root or
    // the user the helper runs as may have written it.
    let (mut file, meta) = match open_regular(path, Symlinks::Refuse) {
        Ok(opened) => opened,
        Err(err) if err.is_not_found() => return Ok(Vec::new()),
        Err(err) => return Err(bad(err.to_string())),
    };
    if let Some(problem) = untrusted_writer(meta.uid(), meta.mode(), TrustedWriter::RootOrThisUser)
    {
        return Err(bad(format!("{problem}; it sets the sandbox's options")));
    }
    let mut bytes = Vec::new();
    (&mut file)
        .take(MAX_ARGS_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(e.to_string()))?;
    if bytes.len() as u64 > MAX_ARGS_FILE_BYTES {
        return Err(bad(format!("larger than {MAX_ARGS_FILE_BYTES} bytes")));
    }
    let text = String::from_utf8(bytes).map_err(|_| bad("not UTF-8".into()))?;
    parse_args_text(&text).map_err(bad)
}

/// The options of an args file's text: one per line, surrounding whitespace trimmed, blank and
/// `#` lines skipped, every option starting with `--`.
pub fn parse_args_text(text: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !line.starts_with("--") || line.chars().any(char::is_control) {
            return Err(format!(
                "line {}: expected one option per line, written --option=value or --flag",
                number + 1
            ));
        }
        args.push(line.to_owned());
    }
    Ok(args)
}

/// The request `image` for a server URL: the registry `host[:port]` (host lower-cased,
/// `index.docker.io`/`registry-1.docker.io` as `docker.io`), followed by the URL's path if it
/// has one (minus a leading `/v1` or `/v2`). Scheme, query and fragment are dropped; user
/// information is refused.
pub fn request_image(server_url: &str) -> Result<String, HelperError> {
    let bad = |reason: &str| HelperError::ServerUrl(reason.to_owned());
    if server_url.is_empty() {
        return Err(bad("no credentials server URL"));
    }
    if server_url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad("whitespace or control characters"));
    }
    let lower_prefix = |prefix: &str| {
        server_url
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
            .then(|| &server_url[prefix.len()..])
    };
    let rest = match lower_prefix("https://").or_else(|| lower_prefix("http://")) {
        Some(rest) => rest,
        None if server_url.contains("://") => {
            return Err(bad("only https:// and http:// URLs name a registry"));
        }
        None => server_url,
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.contains('@') {
        return Err(bad("user information is not allowed"));
    }
    let host = registry_host(authority).ok_or_else(|| bad("not a registry host[:port]"))?;
    let path = path
        .strip_prefix("/v1")
        .or_else(|| path.strip_prefix("/v2"))
        .filter(|p| p.is_empty() || p.starts_with('/'))
        .unwrap_or(path);
    let path = path.strip_prefix('/').unwrap_or(path).trim_end_matches('/');
    if path.is_empty() {
        return Ok(host);
    }
    let valid_path = path.split('/').all(|component| {
        !component.is_empty()
            && component.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            })
    });
    if !valid_path {
        return Err(bad("the path is not a repository name"));
    }
    Ok(format!("{host}/{path}"))
}

/// A checked, lower-cased `host[:port]` (DNS name, IPv4 or bracketed IPv6 literal).
fn registry_host(authority: &str) -> Option<String> {
    let authority = authority.to_ascii_lowercase();
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (inside, after) = bracketed.split_once(']')?;
        inside.parse::<Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (format!("[{inside}]"), port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority.as_str(), None),
        };
        let labels_ok = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            });
        if !labels_ok {
            return None;
        }
        (host.to_owned(), port)
    };
    if let Some(port) = port
        && (port.is_empty()
            || port.len() > 5
            || !port.bytes().all(|b| b.is_ascii_digit())
            || port.parse::<u32>().ok()? > 65535)
    {
        return None;
    }
    let host = match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_owned(),
        _ => host,
    };
    Some(match port {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// The credential of `response` for `image` (a [`request_image`]), under the kubelet's keyring
/// rules: the most specific matching `auth` key. The kubelet's Docker Hub fallback (an
/// `index.docker.io` key serving images that look like Docker Hub's) applies only when the
/// registry is `docker.io`: the kubelet's images always have a path, and a bare `host:port`
/// would otherwise look like a Docker Hub name.
pub fn pick_credential<'r>(response: &'r Response, image: &str) -> Option<&'r AuthConfig> {
    let mut keyring = Keyring::new();
    for (key, auth) in &response.auth {
        keyring.add(key, auth);
    }
    let hub = registry_of(image) == "docker.io";
    keyring
        .lookup_with_keys(image)
        .into_iter()
        .find(|(key, _)| hub || *key != "index.docker.io" || urls_match(key, image))
        .map(|(_, auth)| *auth)
}

/// `get`: reads the server URL from `stdin`, runs the module for it under `config`, and finds
/// the matching credential. Guest stderr and host warnings go to `log`.
pub fn get(
    config: &RunConfig,
    stdin: impl Read,
    log: &mut dyn Write,
) -> Result<Lookup, HelperError> {
    let mut input = Vec::new();
    stdin
        .take(MAX_SERVER_URL_BYTES as u64 + 1)
        .read_to_end(&mut input)
        .map_err(|e| HelperError::ServerUrl(format!("reading stdin: {e}")))?;
    if input.len() > MAX_SERVER_URL_BYTES {
        return Err(HelperError::ServerUrl(format!(
            "longer than {MAX_SERVER_URL_BYTES} bytes"
        )));
    }
    let server_url = std::str::from_utf8(&input)
        .map_err(|_| HelperError::ServerUrl("not UTF-8".into()))?
        .trim();
    let image = request_image(server_url)?;
    let request = Request::new(ApiVersion::V1, image.clone());
    let mut canonical = Vec::new();
    run(config, &request.to_stdin_bytes()[..], &mut canonical, log)?;
    // `run` wrote the validated response re-encoded canonically: decoding it again cannot
    // disagree with the checks it passed.
    let response = Response::decode(&canonical, Expectation::new(ApiVersion::V1))
        .map_err(|e| HelperError::Host(Error::Response(e)))?;
    Ok(match pick_credential(&response, &image) {
        Some(auth) => Lookup::Found {
            server_url: server_url.to_owned(),
            auth: auth.clone(),
        },
        None => Lookup::NotFound,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use credential_provider_protocol::CacheKeyType;

    #[test]
    fn server_urls_become_request_images() {
        let ok = |url: &str| request_image(url).unwrap();
        assert_eq!(ok("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(ok("https://127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(ok("HTTPS://Registry.Example.com/"), "registry.example.com");
        assert_eq!(ok("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(ok("registry-1.docker.io"), "docker.io");
        assert_eq!(ok("http://r.io/v2/team/app?x=1#f"), "r.io/team/app");
        assert_eq!(ok("r.io/v10/team"), "r.io/v10/team");
        assert_eq!(ok("[::1]:5000"), "[::1]:5000");
        for bad in [
            "",
            "ftp://r.io",
            "https://user:pw@r.io",
            "r.io:",
            "r.io:99999",
            "r.io:5000:1",
            "r_o.io",
            "r..io",
            "r.io/Team",
            "r.io//x",
            "r .io",
            "[::1",
            "[1.2.3.4]",
        ] {
            assert!(request_image(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn server_url_errors_do_not_echo_user_information() {
        let err = request_image("https://robot:hunter2@r.io").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn args_text_is_strict() {
        assert_eq!(
            parse_args_text("# comment\n--env=A\n\n  --memory=32Mi  \r\n--allow-precompiled\n")
                .unwrap(),
            vec!["--env=A", "--memory=32Mi", "--allow-precompiled"]
        );
        assert!(parse_args_text("--env\nA\n").is_err());
        assert!(parse_args_text("run\n").is_err());
        assert!(parse_args_text("-v\n").is_err());
    }

    #[test]
    fn args_file_permissions_and_absence() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.args");
        assert_eq!(read_args_file(&path).unwrap(), Vec::<String>::new());
        std::fs::write(&path, "--memory=32Mi\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read_args_file(&path).unwrap(), vec!["--memory=32Mi"]);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(matches!(
            read_args_file(&path),
            Err(HelperError::ArgsFile { .. })
        ));
        assert!(matches!(
            read_args_file(dir.path()),
            Err(HelperError::ArgsFile { .. })
        ));
        // A symlink is not followed, even to a file that would be accepted.
        let good = dir.path().join("good.args");
        std::fs::write(&good, "--memory=32Mi\n").unwrap();
        std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("link.args");
        std::os::unix::fs::symlink(&good, &link).unwrap();
        let err = read_args_file(&link).unwrap_err().to_string();
        assert!(err.contains("symlink"), "{err}");
    }

    /// A file owned by a user other than root and this one is refused. Making such a file needs
    /// root; elsewhere the test says it did not run.
    #[test]
    fn args_file_owned_by_another_user_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        if rustix::process::geteuid().as_raw() != 0 {
            eprintln!("not root: cannot make a file owned by another user; skipped");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.args");
        std::fs::write(&path, "--memory=32Mi\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read_args_file(&path).unwrap(), vec!["--memory=32Mi"]);
        std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
        let err = read_args_file(&path).unwrap_err().to_string();
        assert!(err.contains("owned by uid 65534"), "{err}");
    }

    #[test]
    fn the_most_specific_key_wins() {
        let mut response = Response::new(ApiVersion::V1, CacheKeyType::Registry);
        for (key, user) in [
            ("*.example.com", "glob"),
            ("r.example.com", "host"),
            ("r.example.com/team", "team"),
            ("other.io", "other"),
            ("https://index.docker.io/v1/", "hub"),
        ] {
            response
                .auth
                .insert(key.into(), AuthConfig::new(user, "secret"));
        }
        let user = |image: &str| pick_credential(&response, image).map(|a| a.username.clone());
        assert_eq!(user("r.example.com").as_deref(), Some("host"));
        assert_eq!(user("r.example.com/team/app").as_deref(), Some("team"));
        assert_eq!(user("x.example.com").as_deref(), Some("glob"));
        assert_eq!(user("docker.io").as_deref(), Some("hub"));
        assert_eq!(user("r.example.com:5000"), None);
        assert_eq!(user("nowhere.io"), None);
    }
}
