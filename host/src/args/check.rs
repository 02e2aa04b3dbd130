//! Parsed run arguments turned into a checked [`RunConfig`], in the environment the provider
//! is executed with.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use super::parse::{describe_clap_error, names_a_mode, parse_run_args};
use super::root::{reroot_args, rooted};
use super::{ArgsError, RunArgs};
use crate::kubelet::config::EnvVar;
use crate::limits;
use crate::module::Sha256Digest;
use crate::names::{BINARY_NAME, Invocation};
use crate::policy::egress::EgressPolicy;
use crate::run::RunConfig;
use crate::sandbox::{Grant, HttpGrant, ProxyEnv};
use crate::scope::AuthKeyScope;
use crate::units::{format_duration, format_size, parse_duration, parse_size};

/// The environment a provider's host process runs with: where `--env NAME` takes its value
/// and the proxy variables come from. The values may be secrets: `Debug` shows names only.
#[derive(Clone)]
pub enum ExecEnv {
    /// This process's own environment (run mode: the kubelet executed this process).
    Process,
    /// A given environment (the tools: theirs, standing for the kubelet's, overlaid with the
    /// provider's `env`, as the kubelet executes a provider).
    Given(BTreeMap<String, String>),
}

impl ExecEnv {
    /// The environment the kubelet would execute a provider with, with this process standing
    /// for the kubelet: its whole (UTF-8) environment, then the provider's `env` entries over
    /// it in order.
    pub fn kubelet_exec(provider_env: &[EnvVar]) -> ExecEnv {
        let mut vars: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        for var in provider_env {
            vars.insert(var.name.clone(), var.value.expose().to_owned());
        }
        ExecEnv::Given(vars)
    }

    /// The value of `name`, if set (and UTF-8).
    pub fn get(&self, name: &str) -> Option<String> {
        match self {
            ExecEnv::Process => std::env::var(name).ok(),
            ExecEnv::Given(vars) => vars.get(name).cloned(),
        }
    }
}

impl fmt::Debug for ExecEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecEnv::Process => f.write_str("ExecEnv::Process"),
            ExecEnv::Given(vars) => f.debug_set().entries(vars.keys()).finish(),
        }
    }
}

/// The run configuration that the kubelet's exec of `<bin_dir>/<name> args...` would produce,
/// with the same parsing and checks as run mode, without running anything (`check-config`,
/// `install`, the docker helper). `bin_dir` is as the kubelet sees it; with `root`, it and the
/// args' absolute paths are read beneath `root`.
pub fn provider_run_config(
    name: &str,
    bin_dir: &Path,
    args: &[String],
    env: &ExecEnv,
    root: Option<&Path>,
) -> Result<RunConfig, ArgsError> {
    let (bin_dir, args) = match root {
        Some(root) => (rooted(root, bin_dir), reroot_args(args, root)),
        None => (bin_dir.to_owned(), args.to_vec()),
    };
    let invocation = Invocation::of(Path::new(name));
    let mut args = args.as_slice();
    match &invocation {
        Invocation::DockerHelper { .. } => {
            return Err(ArgsError::one(format!(
                "the executable name {name:?} selects the docker credential-helper front, not a provider: rename the provider"
            )));
        }
        Invocation::Direct => match args.first() {
            Some(first) if first == "run" => args = &args[1..],
            Some(first) if names_a_mode(first.as_ref()) => {
                return Err(ArgsError::one(format!(
                    "the args select the {first:?} mode, not run: a provider's args are run-mode options"
                )));
            }
            _ => {}
        },
        Invocation::Provider { .. } => {}
    }
    let run_args = parse_run_args(args.iter().map(OsString::from))
        .map_err(|err| ArgsError::one(describe_clap_error(&err)))?;
    let (provider, module) = locate_module(&run_args, &invocation, &bin_dir)?;
    run_config(run_args, provider, module, env)
}

/// Whether executing `executable` with `args` runs this host: the executable is, or links to,
/// a file named `wasm-credential-provider`; or its args name a `--module`; or it is a copy of
/// the running binary.
pub fn runs_this_host(executable: &Path, args: &[String]) -> bool {
    let named_ours = std::fs::canonicalize(executable)
        .ok()
        .and_then(|real| real.file_stem().map(|s| s == BINARY_NAME))
        .unwrap_or(false);
    let module_arg = args
        .iter()
        .any(|a| a == "--module" || a.starts_with("--module="));
    named_ours || module_arg || is_copy_of_current_exe(executable)
}

fn is_copy_of_current_exe(path: &Path) -> bool {
    let Ok(current) = std::env::current_exe() else {
        return false;
    };
    let same_size = match (std::fs::metadata(path), std::fs::metadata(&current)) {
        (Ok(a), Ok(b)) => a.len() == b.len(),
        _ => false,
    };
    same_size
        && matches!(
            (std::fs::read(path), std::fs::read(&current)),
            (Ok(a), Ok(b)) if a == b
        )
}

/// The provider's name and module path: from the invocation name (`<dir>/<name>.wasm`), or
/// from `--module`.
pub fn locate_module(
    args: &RunArgs,
    invocation: &Invocation,
    dir: &Path,
) -> Result<(String, PathBuf), ArgsError> {
    let module = match (&args.module, invocation) {
        // The run mode never touches a registry: an OCI reference is for `install`.
        (Some(path), _) if path.to_string_lossy().starts_with("oci://") => {
            return Err(ArgsError::one(format!(
                "--module {}: a registry reference is install-time only; `install --module NAME={}` pulls, verifies and pins it, and the provider then runs the installed file",
                path.display(),
                path.display()
            )));
        }
        (Some(path), _) => path.clone(),
        (None, Invocation::Provider { name }) => dir.join(format!("{name}.wasm")),
        (None, _) => {
            return Err(ArgsError::one(format!(
                "--module PATH is required when invoked as {BINARY_NAME}"
            )));
        }
    };
    let provider = match invocation {
        Invocation::Provider { name } => name.clone(),
        _ => module_stem(&module),
    };
    Ok((provider, module))
}

/// A provider name for messages from a module path: its file stem.
pub fn module_stem(module: &Path) -> String {
    module
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| BINARY_NAME.into())
}

/// Turns parsed run arguments into a checked configuration, reporting every bad value.
pub fn run_config(
    args: RunArgs,
    provider: String,
    module: PathBuf,
    env: &ExecEnv,
) -> Result<RunConfig, ArgsError> {
    let mut problems = Vec::new();
    let mut check = |result: Result<(), String>| {
        if let Err(problem) = result {
            problems.push(problem);
        }
    };
    let mut sha256 = None;
    check(
        args.sha256
            .as_deref()
            .map(Sha256Digest::parse)
            .transpose()
            .map(|digest| sha256 = digest)
            .map_err(|e| format!("--sha256: {e}")),
    );
    let mut memory_bytes = limits::DEFAULT_MEMORY_BYTES;
    check(
        parse_size(&args.memory.0)
            .map_err(|e| format!("--memory: {e}"))
            .and_then(|bytes| {
                memory_bytes = bytes;
                if (limits::MIN_MEMORY_BYTES..=limits::MAX_MEMORY_BYTES).contains(&bytes) {
                    Ok(())
                } else {
                    Err(format!(
                        "--memory must be between {} and {}",
                        format_size(limits::MIN_MEMORY_BYTES),
                        format_size(limits::MAX_MEMORY_BYTES)
                    ))
                }
            }),
    );
    let mut timeout = limits::DEFAULT_TIMEOUT;
    check(
        parse_duration(&args.timeout.0)
            .map_err(|e| format!("--timeout: {e}"))
            .and_then(|duration| {
                timeout = duration;
                if duration < limits::KUBELET_TIMEOUT {
                    Ok(())
                } else {
                    Err(format!(
                        "--timeout {} must be below the kubelet's {} plugin timeout",
                        format_duration(duration),
                        format_duration(limits::KUBELET_TIMEOUT)
                    ))
                }
            }),
    );
    let mut max_output_bytes = limits::DEFAULT_MAX_OUTPUT_BYTES;
    check(positive_size(&args.max_output.0, "--max-output").map(|b| max_output_bytes = b));
    let mut guest_env = Vec::new();
    check(resolve_env(&args.env, |name| env.get(name)).map(|e| guest_env = e));
    let mut auth_key_scope = AuthKeyScope::default();
    check(AuthKeyScope::parse(&args.allow_auth_key).map(|s| auth_key_scope = s));
    let http = http_grant(&args, env, &mut problems);
    if !problems.is_empty() {
        return Err(ArgsError { problems });
    }
    Ok(RunConfig {
        grant: Grant {
            program_name: provider.clone(),
            args: args.args,
            env: guest_env,
            memory_bytes,
            timeout,
            max_output_bytes,
            http: http.unwrap_or_default(),
        },
        provider,
        module,
        sha256,
        token_cache_type: args.token_cache.token_cache_type,
        cache_dir: args.cache_dir,
        allow_precompiled: args.allow_precompiled,
        auth_key_scope,
        report_stats: crate::stats::requested(|name| env.get(name)),
    })
}

fn positive_size(text: &str, option: &str) -> Result<u64, String> {
    match parse_size(text) {
        Ok(0) => Err(format!("{option} must be positive")),
        Ok(bytes) => Ok(bytes),
        Err(e) => Err(format!("{option}: {e}")),
    }
}

/// The guest's network grant from `--allow-http`, `--resolve`, `--ca-file`, the HTTP limits and
/// the provider's proxy environment; every malformed value is added to `problems`.
fn http_grant(args: &RunArgs, env: &ExecEnv, problems: &mut Vec<String>) -> Option<HttpGrant> {
    let before = problems.len();
    let policy = EgressPolicy::parse(&args.allow_http, &args.resolve)
        .map_err(|e| problems.push(e.to_string()))
        .ok();
    let extra_roots = match &args.ca_file {
        None => Vec::new(),
        Some(path) => read_ca_file(path)
            .map_err(|e| problems.push(format!("--ca-file {}: {e}", path.display())))
            .unwrap_or_default(),
    };
    let max_response_bytes = positive_size(&args.max_http_response.0, "--max-http-response")
        .map_err(|e| problems.push(e))
        .ok();
    if args.max_http_requests == 0 {
        problems.push("--max-http-requests must be positive".into());
    }
    let proxy = ProxyEnv::from_vars(|name| env.get(name));
    if problems.len() > before {
        return None;
    }
    Some(HttpGrant {
        policy: policy?,
        extra_roots,
        proxy,
        max_response_bytes: max_response_bytes?,
        max_requests: args.max_http_requests,
    })
}

/// The certificates of a PEM file; an unreadable file or one without certificates is an error.
fn read_ca_file(path: &Path) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    use std::io::Read;
    let (file, _) = crate::regular_file::open_regular(path, crate::regular_file::Symlinks::Follow)
        .map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(crate::limits::MAX_CA_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > crate::limits::MAX_CA_FILE_BYTES {
        return Err(format!(
            "larger than {}, which no CA bundle is",
            crate::units::format_size(crate::limits::MAX_CA_FILE_BYTES)
        ));
    }
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM certificate file ({e})"))?;
    if certs.is_empty() {
        return Err("no certificate in the file".into());
    }
    Ok(certs)
}

/// Resolves `--env` specs: `NAME=VALUE` sets, `NAME` copies the host's value if it has one.
/// Later specs for the same name win, as in the kubelet's own env handling.
fn resolve_env(
    specs: &[String],
    host: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, String> {
    let mut env: Vec<(String, String)> = Vec::new();
    for spec in specs {
        let (name, value) = match spec.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (spec.as_str(), host(spec)),
        };
        if name.is_empty() || name.contains('\0') {
            return Err(format!("--env {name:?}: expected NAME or NAME=VALUE"));
        }
        env.retain(|(existing, _)| existing != name);
        if let Some(value) = value {
            env.push((name.to_owned(), value));
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn given(pairs: &[(&str, &str)]) -> ExecEnv {
        ExecEnv::Given(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn env_specs_resolve_without_leaking_the_rest() {
        let host = |name: &str| match name {
            "SET" => Some("host-value".to_owned()),
            _ => None,
        };
        let env = resolve_env(
            &strings(&["SET", "UNSET", "FIXED=a=b", "SET=override"]),
            host,
        )
        .unwrap();
        assert_eq!(
            env,
            vec![
                ("FIXED".to_owned(), "a=b".to_owned()),
                ("SET".to_owned(), "override".to_owned())
            ]
        );
        assert!(resolve_env(&strings(&["=x"]), host).is_err());
    }

    #[test]
    fn every_bad_value_is_reported_at_once() {
        let err = provider_run_config(
            "p",
            Path::new("/bin-dir"),
            &strings(&[
                "--memory=lots",
                "--timeout=90s",
                "--max-output=0",
                "--sha256=xyz",
                "--allow-http=*",
            ]),
            &given(&[]),
            None,
        )
        .unwrap_err();
        let text = err.problems.join("\n");
        assert_eq!(err.problems.len(), 5, "{text}");
        for needle in [
            "--memory",
            "--timeout 1m30s",
            "--max-output",
            "--sha256",
            "--allow-http",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
    }

    #[test]
    fn values_come_from_the_provider_s_environment() {
        let env = given(&[("TOKEN", "from-provider-env")]);
        let config =
            provider_run_config("p", Path::new("/b"), &strings(&["--env=TOKEN"]), &env, None)
                .unwrap();
        assert_eq!(
            config.grant.env,
            vec![("TOKEN".to_owned(), "from-provider-env".to_owned())]
        );
        assert_eq!(config.module, PathBuf::from("/b/p.wasm"));
        // An unusable proxy fails only the requests that would use it, so it is not an error
        // here; check-config warns about it.
        let env = given(&[("HTTPS_PROXY", "socks5://proxy:1080")]);
        let config = provider_run_config("p", Path::new("/b"), &[], &env, None).unwrap();
        assert_eq!(
            config.grant.http.proxy.problems(),
            ["HTTPS_PROXY: only http:// proxies are supported"]
        );
    }

    #[test]
    fn names_and_modes_that_are_not_providers_are_refused() {
        let env = given(&[]);
        let err = provider_run_config("docker-credential-x", Path::new("/b"), &[], &env, None)
            .unwrap_err();
        assert!(
            err.to_string().contains("docker credential-helper"),
            "{err}"
        );
        let err = provider_run_config(
            BINARY_NAME,
            Path::new("/b"),
            &strings(&["check-config", "x"]),
            &env,
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("\"check-config\" mode"), "{err}");
        let config = provider_run_config(
            BINARY_NAME,
            Path::new("/b"),
            &strings(&["run", "--module=/m/x.wasm"]),
            &env,
            None,
        )
        .unwrap();
        assert_eq!(config.provider, "x");
    }

    #[test]
    fn a_root_re_roots_the_bin_dir_and_path_options() {
        let config = provider_run_config(
            "p",
            Path::new("/usr/libexec/cp"),
            &strings(&["--cache-dir=/var/cache/wcp"]),
            &given(&[]),
            Some(Path::new("/node")),
        )
        .unwrap();
        assert_eq!(config.module, PathBuf::from("/node/usr/libexec/cp/p.wasm"));
        assert_eq!(config.cache_dir, Some(PathBuf::from("/node/var/cache/wcp")));
    }
}
