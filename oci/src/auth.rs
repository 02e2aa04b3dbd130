//! Registry credentials from the files container tools share: `--authfile`, else
//! `$REGISTRY_AUTH_FILE` (containers-auth.json), else `$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`. In the file: `credHelpers` (run `docker-credential-<name> get`),
//! `auths` (base64 `auth`, or `username`/`password`; keys by host, `host/repository` prefix, or
//! legacy URL), and `credsStore`. No match means anonymous access.
//!
//! Written here rather than with the `docker_credential` crate: that crate reads only Docker's
//! default file and neither `--authfile` nor `$REGISTRY_AUTH_FILE`, nor per-repository keys.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::limits;

/// A credential for one registry. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// No credential: anonymous access.
    Anonymous,
    /// A username and password (or token as password).
    Basic {
        /// The username.
        username: String,
        /// The password; never printed.
        password: String,
    },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Anonymous => write!(f, "Anonymous"),
            Credential::Basic { username, .. } => write!(f, "Basic({username:?}, <redacted>)"),
        }
    }
}

/// Where a credential came from (for the stderr line; never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The credential.
    pub credential: Credential,
    /// `auths["..."] in FILE`, `docker-credential-NAME`, or `anonymous`.
    pub source: String,
}

/// Why credentials could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The auth file named by `--authfile` or `$REGISTRY_AUTH_FILE` cannot be read.
    #[error("auth file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A credential helper failed.
    #[error("credential helper docker-credential-{helper}: {reason}")]
    Helper {
        /// The helper's name.
        helper: String,
        /// Why (never its output, which may hold a secret).
        reason: String,
    },
}

/// What selects the auth file: the command line and the environment, passed in.
#[derive(Debug, Clone, Default)]
pub struct AuthSources {
    /// `--authfile`.
    pub authfile: Option<PathBuf>,
    /// `$REGISTRY_AUTH_FILE`.
    pub registry_auth_file: Option<PathBuf>,
    /// `$DOCKER_CONFIG`.
    pub docker_config: Option<PathBuf>,
    /// `$HOME`.
    pub home: Option<PathBuf>,
}

impl AuthSources {
    /// The sources from this process's environment, with `authfile` from the command line.
    pub fn from_env(authfile: Option<PathBuf>) -> AuthSources {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        AuthSources {
            authfile,
            registry_auth_file: var("REGISTRY_AUTH_FILE"),
            docker_config: var("DOCKER_CONFIG"),
            home: var("HOME"),
        }
    }

    /// The file to read, and whether it must exist (it must when named explicitly).
    fn file(&self) -> Option<(PathBuf, bool)> {
        if let Some(path) = &self.authfile {
            return Some((path.clone(), true));
        }
        if let Some(path) = &self.registry_auth_file {
            return Some((path.clone(), true));
        }
        if let Some(dir) = &self.docker_config {
            return Some((dir.join("config.json"), false));
        }
        self.home
            .as_ref()
            .map(|home| (home.join(".docker").join("config.json"), false))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// The credential for `registry` (host[:port]) and `repository`.
pub fn find_credential(
    sources: &AuthSources,
    registry: &str,
    repository: &str,
) -> Result<Found, AuthError> {
    let anonymous = Found {
        credential: Credential::Anonymous,
        source: "anonymous".into(),
    };
    let Some((path, required)) = sources.file() else {
        return Ok(anonymous);
    };
    let file_error = |reason: String| AuthError::File {
        path: path.display().to_string(),
        reason,
    };
    let bytes = match read_capped(&path) {
        Ok(bytes) => bytes,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(anonymous),
        Err(e) => return Err(file_error(e.to_string())),
    };
    let file: AuthFile = serde_json::from_slice(&bytes)
        .map_err(|e| file_error(format!("not an auth file ({})", e.classify_name())))?;
    if let Some(helper) = file.cred_helpers.get(registry) {
        return run_helper(helper, registry);
    }
    if let Some((key, entry)) = best_entry(&file.auths, registry, repository) {
        let credential = decode_entry(entry)
            .map_err(|reason| file_error(format!("auths[{key:?}]: {reason}")))?;
        return Ok(Found {
            credential,
            source: format!("auths[{key:?}] in {}", path.display()),
        });
    }
    if let Some(helper) = &file.creds_store {
        return run_helper(helper, registry);
    }
    Ok(anonymous)
}

/// A name for a serde_json error without its text (which may quote file contents).
trait Classify {
    fn classify_name(&self) -> String;
}

impl Classify for serde_json::Error {
    fn classify_name(&self) -> String {
        format!(
            "{:?} error at line {} column {}",
            self.classify(),
            self.line(),
            self.column()
        )
    }
}

fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(limits::MAX_AUTH_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limits::MAX_AUTH_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} bytes",
            limits::MAX_AUTH_FILE_BYTES
        )));
    }
    Ok(bytes)
}

/// The `auths` key naming `registry/repository` most specifically: `host/a/b` beats `host/a`
/// beats `host`; legacy keys (`https://host/v1/`) count as the host alone.
fn best_entry<'a>(
    auths: &'a BTreeMap<String, AuthEntry>,
    registry: &str,
    repository: &str,
) -> Option<(&'a str, &'a AuthEntry)> {
    let full = format!("{registry}/{repository}");
    auths
        .iter()
        .filter_map(|(key, entry)| {
            let normalized = normalize_key(key);
            let specificity = if normalized == registry {
                Some(registry.len())
            } else if full == normalized
                || full
                    .strip_prefix(normalized.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
            {
                Some(normalized.len())
            } else {
                None
            }?;
            Some((specificity, key.as_str(), entry))
        })
        .max_by_key(|(specificity, _, _)| *specificity)
        .map(|(_, key, entry)| (key, entry))
}

fn normalize_key(key: &str) -> String {
    match key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
    {
        // A URL key names a host; its path (`/v1/`, `/v2/`) is not a repository.
        Some(rest) => rest.split('/').next().unwrap_or_default().to_owned(),
        None => key.trim_end_matches('/').to_owned(),
    }
}

fn decode_entry(entry: &AuthEntry) -> Result<Credential, String> {
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| "auth is not base64".to_owned())?;
        let text = String::from_utf8(decoded).map_err(|_| "auth is not UTF-8".to_owned())?;
        let (username, password) = text
            .split_once(':')
            .ok_or_else(|| "auth is not base64 of username:password".to_owned())?;
        return Ok(Credential::Basic {
            username: username.to_owned(),
            password: password.to_owned(),
        });
    }
    match (&entry.username, &entry.password) {
        (Some(username), Some(password)) => Ok(Credential::Basic {
            username: username.clone(),
            password: password.clone(),
        }),
        _ => Err("neither auth nor username and password".into()),
    }
}

#[derive(Deserialize)]
struct HelperReply {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// Runs `docker-credential-<helper> get` with `server` on stdin (the credential-helper
/// protocol), bounded in time and output.
fn run_helper(helper: &str, server: &str) -> Result<Found, AuthError> {
    let fail = |reason: String| AuthError::Helper {
        helper: helper.to_owned(),
        reason,
    };
    if helper.is_empty() || helper.contains(['/', '\\']) || helper.starts_with('.') {
        return Err(fail("the helper name must be a plain name".into()));
    }
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| fail(format!("cannot run {program} from PATH ({e})")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| fail("no stdout".into()))?;
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = (&mut stdout)
            .take(limits::MAX_HELPER_OUTPUT_BYTES + 1)
            .read_to_end(&mut out);
        out
    });
    let deadline = Instant::now() + limits::HELPER_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!(
                    "no answer within {}s",
                    limits::HELPER_TIMEOUT.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(fail(e.to_string())),
        }
    };
    let out = reader.join().unwrap_or_default();
    if out.len() as u64 > limits::MAX_HELPER_OUTPUT_BYTES {
        return Err(fail("its answer is too large".into()));
    }
    if !status.success() {
        // The protocol's "not found" answer means: no credential, pull anonymously.
        if String::from_utf8_lossy(&out).contains("credentials not found") {
            return Ok(Found {
                credential: Credential::Anonymous,
                source: format!("{program} (no credentials for {server})"),
            });
        }
        return Err(fail(format!("it failed ({status})")));
    }
    let reply: HelperReply = serde_json::from_slice(&out)
        .map_err(|_| fail("its answer is not the protocol's JSON".into()))?;
    if reply.username == "<token>" {
        return Err(fail("identity tokens are not supported".into()));
    }
    Ok(Found {
        credential: Credential::Basic {
            username: reply.username,
            password: reply.secret,
        },
        source: program,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources_with(file: &Path) -> AuthSources {
        AuthSources {
            authfile: Some(file.to_owned()),
            ..AuthSources::default()
        }
    }

    #[test]
    fn most_specific_key_wins_and_legacy_urls_name_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth.json");
        std::fs::write(
            &file,
            r#"{"auths": {
                "r.io": {"auth": "aG9zdDpob3N0LXB3"},
                "r.io/team": {"username": "team", "password": "team-pw"},
                "https://legacy.io/v1/": {"auth": "bGVnYWN5OmxlZ2FjeS1wdw=="}
            }}"#,
        )
        .unwrap();
        let found = |registry: &str, repo: &str| {
            find_credential(&sources_with(&file), registry, repo)
                .unwrap()
                .credential
        };
        assert_eq!(
            found("r.io", "team/mod"),
            Credential::Basic {
                username: "team".into(),
                password: "team-pw".into()
            }
        );
        assert_eq!(
            found("r.io", "teamx/mod"),
            Credential::Basic {
                username: "host".into(),
                password: "host-pw".into()
            }
        );
        assert_eq!(
            found("legacy.io", "a"),
            Credential::Basic {
                username: "legacy".into(),
                password: "legacy-pw".into()
            }
        );
        assert_eq!(found("other.io", "a"), Credential::Anonymous);
    }

    #[test]
    fn named_files_must_exist_implicit_ones_need_not() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        assert!(find_credential(&sources_with(&missing), "r.io", "a").is_err());
        let implicit = AuthSources {
            docker_config: Some(dir.path().to_owned()),
            ..AuthSources::default()
        };
        assert_eq!(
            find_credential(&implicit, "r.io", "a").unwrap().credential,
            Credential::Anonymous
        );
    }

    #[test]
    fn debug_never_shows_the_password() {
        let credential = Credential::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{credential:?}").contains("hunter2"));
    }

    #[test]
    fn a_malformed_file_error_does_not_quote_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth.json");
        std::fs::write(&file, r#"{"auths": {"r.io": {"auth": "c2VjcmV0LXZhbHVl" "#).unwrap();
        let err = find_credential(&sources_with(&file), "r.io", "a")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("c2VjcmV0"), "{err}");
    }
}
