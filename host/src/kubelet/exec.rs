//! Executing a provider exactly as the kubelet's `execPlugin` does: `<bin-dir>/<name>` with the
//! provider's args, the whole environment plus the provider's `env`, the encoded request and a
//! newline on stdin, a hard 60 s limit, then the kubelet's response acceptance rules.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use credential_provider_protocol::{Expectation, Request, Response, ResponseError, Secret};

use super::config::EnvVar;

/// Longest stderr excerpt kept for an error message.
const MAX_STDERR_SHOWN: usize = 2048;

/// Why an execution yielded no credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// The executable could not be started.
    #[error("cannot execute {path}: {source}")]
    Spawn {
        /// The executable.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The plugin ran past the kubelet's limit and was killed.
    #[error("plugin did not finish within {0:?} and was killed")]
    Timeout(Duration),
    /// The plugin exited non-zero or was killed by a signal; its stdout is ignored.
    #[error("plugin failed: {status}{}", stderr_suffix(.stderr))]
    Failed {
        /// How it ended.
        status: ExitStatus,
        /// Its stderr (control characters replaced, shortened, the service-account token
        /// removed).
        stderr: String,
    },
    /// Reading the plugin's output failed.
    #[error("reading the plugin's output: {0}")]
    Io(std::io::Error),
    /// The plugin exited 0 but the kubelet would discard its stdout.
    #[error("response discarded: {0}")]
    Response(#[from] ResponseError),
}

fn stderr_suffix(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}

/// One provider execution's inputs.
#[derive(Clone, Copy, Debug)]
pub struct PluginCommand<'a> {
    /// `<bin-dir>/<name>`.
    pub path: &'a Path,
    /// The provider's `args`.
    pub args: &'a [String],
    /// The provider's `env`, added to (and overriding) the inherited environment.
    pub env: &'a [EnvVar],
    /// The kubelet's limit (60 s).
    pub timeout: Duration,
}

/// What one execution cost, for a plugin author choosing `--timeout` and `--memory`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecStats {
    /// From spawning the plugin to its exit (and its pipes closing).
    pub wall: Duration,
    /// The guest's peak linear memory, when the plugin is this host and reported it (see
    /// [`crate::stats`]).
    pub guest_peak_memory: Option<u64>,
    /// The host process's peak resident memory, when reported likewise.
    pub host_peak_rss: Option<u64>,
    /// Where the guest's compiled code came from (`compiled`, `cache`, `precompiled`), when
    /// reported likewise.
    pub code: Option<&'static str>,
}

/// Runs the plugin for `request` and decodes its stdout with the kubelet's rules. With
/// `token_echo_allowed` false (the provider's `tokenAttributes.cacheType` is not `Token`), a
/// response returning the request's service-account token as a password is discarded.
pub fn exec_plugin(
    command: PluginCommand<'_>,
    request: &Request,
    token_echo_allowed: bool,
) -> Result<Response, ExecError> {
    exec_plugin_measured(command, request, token_echo_allowed, false).0
}

/// [`exec_plugin`], also asking a host plugin for its run statistics (an extra environment
/// variable the kubelet never sets, when `ask_stats`) and measuring the execution.
pub fn exec_plugin_measured(
    command: PluginCommand<'_>,
    request: &Request,
    token_echo_allowed: bool,
    ask_stats: bool,
) -> (Result<Response, ExecError>, ExecStats) {
    let start = Instant::now();
    let output = run(command, &request.to_stdin_bytes(), ask_stats);
    let mut stats = ExecStats {
        wall: start.elapsed(),
        guest_peak_memory: None,
        host_peak_rss: None,
        code: None,
    };
    let outcome = output.and_then(|mut output| {
        if ask_stats {
            let (reported, rest) = crate::stats::take(&output.stderr);
            stats.guest_peak_memory = reported.map(|r| r.guest_peak_memory_bytes);
            stats.host_peak_rss = reported.and_then(|r| r.host_peak_rss_bytes);
            stats.code = reported.and_then(|r| r.code);
            output.stderr = rest;
        }
        judge(output, request, token_echo_allowed)
    });
    (outcome, stats)
}

/// The kubelet's verdict on one finished execution.
fn judge(
    output: Output,
    request: &Request,
    token_echo_allowed: bool,
) -> Result<Response, ExecError> {
    if !output.status.success() {
        let token = request.service_account_token.as_ref();
        return Err(ExecError::Failed {
            status: output.status,
            stderr: clean_stderr(&output.stderr, token),
        });
    }
    let forbidden_token = request
        .service_account_token
        .as_ref()
        .filter(|_| !token_echo_allowed);
    Ok(Response::decode(
        &output.stdout,
        Expectation {
            api_version: request.api_version,
            forbidden_token,
        },
    )?)
}

struct Output {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

fn run(command: PluginCommand<'_>, stdin: &[u8], ask_stats: bool) -> Result<Output, ExecError> {
    let deadline = Instant::now() + command.timeout;
    let mut child = Command::new(command.path);
    child
        .args(command.args)
        .envs(command.env.iter().map(|v| (&v.name, v.value.expose())));
    if ask_stats {
        child.env(crate::stats::STATS_ENV, "1");
    }
    let mut child = child
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ExecError::Spawn {
            path: command.path.display().to_string(),
            source,
        })?;
    if let Some(mut pipe) = child.stdin.take() {
        let input = stdin.to_vec();
        // A plugin that exits without reading its stdin is not an error.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let stdout = read_in_background(child.stdout.take());
    let stderr = read_in_background(child.stderr.take());
    let status = loop {
        match child.try_wait().map_err(ExecError::Io)? {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ExecError::Timeout(command.timeout));
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    };
    // A child the plugin left behind may hold the pipes open: wait no longer than the limit.
    let remaining = deadline.saturating_duration_since(Instant::now());
    let stdout = stdout
        .recv_timeout(remaining)
        .map_err(|_| ExecError::Timeout(command.timeout))?
        .map_err(ExecError::Io)?;
    let remaining = deadline.saturating_duration_since(Instant::now());
    let stderr = stderr
        .recv_timeout(remaining)
        .map_err(|_| ExecError::Timeout(command.timeout))?
        .map_err(ExecError::Io)?;
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

fn read_in_background(
    pipe: Option<impl Read + Send + 'static>,
) -> mpsc::Receiver<std::io::Result<Vec<u8>>> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buffer = Vec::new();
        let result = match pipe {
            Some(mut pipe) => pipe.read_to_end(&mut buffer).map(|_| buffer),
            None => Ok(buffer),
        };
        let _ = sender.send(result);
    });
    receiver
}

/// A plugin's stderr made safe to print on one line: the token removed, control characters
/// replaced, shortened.
fn clean_stderr(stderr: &[u8], token: Option<&Secret>) -> String {
    let mut text = String::from_utf8_lossy(stderr).trim().to_owned();
    if let Some(token) = token.filter(|t| !t.is_empty()) {
        text = text.replace(token.expose(), "<redacted>");
    }
    let mut clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.len() > MAX_STDERR_SHOWN {
        let mut cut = MAX_STDERR_SHOWN;
        while !clean.is_char_boundary(cut) {
            cut -= 1;
        }
        clean.truncate(cut);
        clean.push_str("...");
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_is_cleaned() {
        let token = Secret::new("tok123");
        assert_eq!(
            clean_stderr(b"bad tok123\n\x1b[31mred\n", Some(&token)),
            "bad <redacted>  [31mred"
        );
        assert!(clean_stderr(&[b'x'; 5000], None).len() < 2100);
    }
}

#[cfg(all(test, unix))]
mod exec_tests {
    use super::*;
    use credential_provider_protocol::ApiVersion;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, body: &str) -> std::path::PathBuf {
        let path = dir.join("plugin");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn a_plugin_past_the_limit_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let path = script(dir.path(), "exec sleep 30");
        let start = Instant::now();
        let err = exec_plugin(
            PluginCommand {
                path: &path,
                args: &[],
                env: &[],
                timeout: Duration::from_millis(300),
            },
            &Request::new(ApiVersion::V1, "r.io/a"),
            true,
        )
        .unwrap_err();
        assert!(matches!(err, ExecError::Timeout(_)), "{err}");
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_missing_executable_cannot_spawn() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing");
        let err = exec_plugin(
            PluginCommand {
                path: &path,
                args: &[],
                env: &[],
                timeout: Duration::from_secs(5),
            },
            &Request::new(ApiVersion::V1, "r.io/a"),
            true,
        )
        .unwrap_err();
        assert!(matches!(err, ExecError::Spawn { .. }), "{err}");
    }
}
