//! The `run` mode: one kubelet request in, one checked response out.
//!
//! decode (stdin → `Request`) → load (module file, digest pin) → sandbox (guest run under its
//! grant) → validate (guest stdout → `Response`, the kubelet's rules) → encode (canonical JSON).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use credential_provider_protocol::{Expectation, Request, Response, Secret};

use crate::cache::CompileCache;
use crate::error::Error;
use crate::limits::{MAX_FORWARDED_LOG_BYTES, MAX_REQUEST_BYTES};
use crate::module::{ModuleFile, Sha256Digest};
use crate::redact::{RedactingLog, Secrets};
use crate::report;
use crate::sandbox::{Deadline, Grant, Sandbox};
use crate::scope::AuthKeyScope;
use crate::units::format_size;

/// How the kubelet caches credentials obtained with a service-account token
/// (`tokenAttributes.cacheType`). Decides whether the guest may echo the token back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenCacheType {
    /// Credentials are cached per service account; the kubelet refuses a response that returns
    /// the token itself as a password.
    ServiceAccount,
    /// Credentials are cached per token; returning the token as a password is allowed.
    Token,
}

impl TokenCacheType {
    /// The name as the kubelet's config writes it (`ServiceAccount`, `Token`).
    pub fn as_str(self) -> &'static str {
        match self {
            TokenCacheType::ServiceAccount => "ServiceAccount",
            TokenCacheType::Token => "Token",
        }
    }

    /// The token a response must not echo back as a password (the kubelet's rule): the
    /// request's service-account token, unless credentials are cached per token.
    pub fn forbidden_token(self, request: Option<&Request>) -> Option<&Secret> {
        match self {
            TokenCacheType::ServiceAccount => {
                request.and_then(|r| r.service_account_token.as_ref())
            }
            TokenCacheType::Token => None,
        }
    }
}

/// A checked `run` configuration.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The provider's name, used in every message.
    pub provider: String,
    /// The module to run.
    pub module: PathBuf,
    /// The digest the module must have, if pinned.
    pub sha256: Option<Sha256Digest>,
    /// What the guest is given.
    pub grant: Grant,
    /// The provider's `tokenAttributes.cacheType`.
    pub token_cache_type: TokenCacheType,
    /// Where compiled code is cached, if anywhere.
    pub cache_dir: Option<PathBuf>,
    /// Whether a precompiled (`.cwasm`, native code) module may run.
    pub allow_precompiled: bool,
    /// Which `auth` keys the module may return.
    pub auth_key_scope: AuthKeyScope,
    /// Whether to end stderr with the stats line (`simulate` asks; see [`crate::stats`]).
    pub report_stats: bool,
}

/// Answers one request: reads it from `stdin`, runs the guest, writes the response to `stdout`.
/// Guest stderr goes to `log`, each line prefixed with the provider name. On error nothing has
/// been written to `stdout`. The request's service-account token and the granted environment's
/// values are redacted from everything written to `log` and from the error (see
/// [`crate::redact`]). `--timeout` runs from the call: reading the module, compiling it and
/// running the guest all fit in it.
pub fn run(
    config: &RunConfig,
    stdin: impl Read,
    stdout: impl Write,
    log: &mut dyn Write,
) -> Result<(), Error> {
    let deadline = Instant::now() + config.grant.timeout;
    // 1. Decode.
    let request = read_request(stdin)?;
    let secrets = Secrets::new(
        request
            .service_account_token
            .iter()
            .map(Secret::expose)
            .chain(config.grant.env.iter().map(|(_, value)| value.as_str())),
    );
    let mut log = RedactingLog::new(log, &secrets);
    answer(config, &request, deadline, stdout, &mut log).map_err(|err| {
        let message = err.to_string();
        match secrets.redact(&message) {
            std::borrow::Cow::Borrowed(_) => err,
            std::borrow::Cow::Owned(redacted) => Error::Redacted(redacted),
        }
    })
}

/// Stages 2 to 5 for a decoded request.
fn answer(
    config: &RunConfig,
    request: &Request,
    deadline: Instant,
    mut stdout: impl Write,
    log: &mut dyn Write,
) -> Result<(), Error> {
    // 2. Load, refusing a tampered module before the engine sees it.
    let module = ModuleFile::open_to_run(&config.module, config.sha256.as_ref())?;
    // 3. Sandbox.
    let sandbox = Sandbox::new()?;
    let cache = config.cache_dir.as_deref().and_then(|dir| {
        CompileCache::open(dir, sandbox.engine())
            .map_err(|e| warn(&config.provider, log, &e.to_string()))
            .ok()
    });
    let (compiled, origin) = sandbox.load(
        &module,
        config.allow_precompiled,
        cache.as_ref(),
        Some(Deadline {
            at: deadline,
            timeout: config.grant.timeout,
        }),
        &mut |message| warn(&config.provider, log, &message),
    )?;
    let guest = sandbox.run(&compiled, &config.grant, request.to_stdin_bytes(), deadline);
    forward_guest_log(&config.provider, &guest.stderr, log);
    for line in &guest.audit {
        // Audit lines name scheme, host, port and path only: never a query, header or body.
        let _ = writeln!(log, "wasm-credential-provider: {}: {line}", config.provider);
    }
    if config.report_stats {
        let _ = writeln!(
            log,
            "{}",
            crate::stats::line(
                &config.provider,
                &crate::stats::RunStats {
                    guest_peak_memory_bytes: guest.peak_memory_bytes,
                    host_peak_rss_bytes: crate::stats::host_peak_rss_bytes(),
                    code: Some(origin.name()),
                }
            )
        );
    }
    guest.result?;
    // 4. Validate with the kubelet's rules.
    let forbidden_token = config.token_cache_type.forbidden_token(Some(request));
    let response = Response::decode(
        &guest.stdout,
        Expectation {
            api_version: request.api_version,
            forbidden_token,
        },
    )?;
    config.auth_key_scope.check(&response)?;
    // 5. Encode.
    let mut out = response.to_json().into_bytes();
    out.push(b'\n');
    stdout
        .write_all(&out)
        .and_then(|()| stdout.flush())
        .map_err(Error::WriteResponse)
}

/// Writes a host warning line (the run goes on).
fn warn(provider: &str, log: &mut dyn Write, message: &str) {
    crate::report::write_warning(log, provider, message);
}

/// Reads at most [`MAX_REQUEST_BYTES`] and decodes them strictly.
fn read_request(stdin: impl Read) -> Result<Request, Error> {
    let mut input = Vec::new();
    stdin
        .take(MAX_REQUEST_BYTES + 1)
        .read_to_end(&mut input)
        .map_err(|e| Error::ReadRequest(e.to_string()))?;
    if input.len() as u64 > MAX_REQUEST_BYTES {
        return Err(Error::ReadRequest(format!(
            "request is larger than {}",
            format_size(MAX_REQUEST_BYTES)
        )));
    }
    Ok(Request::decode(&input)?)
}

/// Writes the guest's stderr to the host's, one `[provider] line` per line, with the characters
/// that could forge or disguise a log line replaced (see [`report::is_line_breaking`]). The host's
/// output is capped too, prefixes included ([`MAX_FORWARDED_LOG_BYTES`]): past it, one line
/// says how many guest lines were left out.
fn forward_guest_log(provider: &str, stderr: &[u8], log: &mut dyn Write) {
    if stderr.is_empty() {
        return;
    }
    let text = String::from_utf8_lossy(stderr);
    let mut written = 0usize;
    let mut lines = text.lines();
    for line in lines.by_ref() {
        let clean: String = line
            .chars()
            .map(|c| {
                if report::is_line_breaking(c) {
                    '\u{fffd}'
                } else {
                    c
                }
            })
            .collect();
        let out = format!("[{provider}] {clean}\n");
        if written + out.len() > MAX_FORWARDED_LOG_BYTES {
            let left_out = 1 + lines.count();
            warn(
                provider,
                log,
                &format!(
                    "{left_out} more lines of guest stderr not shown (at most {} of guest log per run)",
                    format_size(MAX_FORWARDED_LOG_BYTES as u64)
                ),
            );
            return;
        }
        written += out.len();
        // Logging is best effort: a closed stderr must not turn success into failure.
        let _ = log.write_all(out.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_log_lines_are_prefixed_and_sanitised() {
        let mut out = Vec::new();
        forward_guest_log("p", b"one\ntwo\x1b[31m\rthree\n", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[p] one\n[p] two\u{fffd}[31m\u{fffd}three\n"
        );
    }

    #[test]
    fn guest_log_cannot_forge_reorder_or_flood_the_host_log() {
        let mut out = Vec::new();
        forward_guest_log("p", "a\u{2028}b\u{202e}c\u{2066}d\n".as_bytes(), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[p] a\u{fffd}b\u{fffd}c\u{fffd}d\n"
        );
        // 64 KiB of newlines under a long provider name: the host writes at most the cap.
        let provider = "p".repeat(200);
        let mut out = Vec::new();
        forward_guest_log(&provider, &vec![b'\n'; 64 * 1024], &mut out);
        assert!(out.len() <= MAX_FORWARDED_LOG_BYTES + 300, "{}", out.len());
        let text = String::from_utf8(out).unwrap();
        let last = text.lines().last().unwrap();
        assert!(
            last.ends_with(
                "more lines of guest stderr not shown (at most 128 KiB of guest log per run)"
            ),
            "{last}"
        );
    }

    #[test]
    fn oversized_request_is_refused_without_reading_it_all() {
        struct Endless(u64);
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.0 += buf.len() as u64;
                buf.fill(b' ');
                Ok(buf.len())
            }
        }
        let mut source = Endless(0);
        let err = read_request(&mut source).unwrap_err();
        assert!(matches!(err, Error::ReadRequest(_)));
        assert!(source.0 <= MAX_REQUEST_BYTES + 64 * 1024);
    }
}
