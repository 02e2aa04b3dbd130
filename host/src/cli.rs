//! Command-line parsing and dispatch: which mode runs, with which checked configuration.
//!
//! The kubelet execs `<bin-dir>/<provider-name>` with only the provider's `args`, so the run mode
//! is also the default: `wasm-credential-provider --module m.wasm` means `... run --module
//! m.wasm`, and a binary invoked under another name (a symlink named after the provider) runs
//! `<that name>.wasm` from its own directory.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::error::Error;
use crate::limits;
use crate::module::Sha256Digest;
use crate::policy::egress::EgressPolicy;
use crate::run::{RunConfig, TokenCacheArg, run};
use crate::sandbox::{Grant, HttpGrant, ProxyEnv};
use crate::scope::AuthKeyScope;
use crate::units::{format_duration, format_size, parse_duration, parse_size};

/// The binary's own name; invoked under any other name it acts as that provider.
pub const BINARY_NAME: &str = "wasm-credential-provider";

/// Command line of `wasm-credential-provider`.
#[derive(Debug, Parser)]
#[command(
    name = BINARY_NAME,
    version,
    about = "Runs kubelet image credential provider plugins as sandboxed WebAssembly modules.",
    long_about = "Runs kubelet image credential provider plugins as sandboxed WebAssembly modules.\n\n\
        Install it in the kubelet's --image-credential-provider-bin-dir under the provider's name \
        (a symlink or copy), or pass --module in the provider's args. The module gets the request \
        on stdin and nothing else: no files, no sockets, no host environment beyond --env."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The modes of the binary.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Answer one kubelet credential request with a sandboxed module (the default mode).
    #[command(about = RUN_ABOUT)]
    Run(Box<RunArgs>),
    /// Compile a module ahead of time to native code (.cwasm) for this host's engine, for
    /// `run --allow-precompiled`. Prints the output's sha256 to pin it with.
    Compile(crate::precompile::CompileArgs),
    /// Check a kubelet CredentialProviderConfig file or directory with the kubelet's own rules,
    /// and (with --bin-dir) the providers' executables, args and modules.
    #[command(long_about = crate::tools::check_config::LONG_ABOUT)]
    CheckConfig(crate::tools::check_config::CheckConfigArgs),
    /// Show which matchImages patterns, configured providers or response auth keys apply to an
    /// image, under the kubelet's matching rules.
    #[command(long_about = crate::tools::match_image::LONG_ABOUT)]
    Match(crate::tools::match_image::MatchArgs),
    /// Check a plugin's stdout (on stdin) against the kubelet's response acceptance rules.
    #[command(long_about = crate::tools::validate_response::LONG_ABOUT)]
    ValidateResponse(crate::tools::validate_response::ValidateResponseArgs),
    /// Pull images through a kubelet in a box: run the configured providers as the kubelet
    /// does, with its caching, and show the credentials it would try.
    #[command(long_about = crate::tools::simulate::LONG_ABOUT)]
    Simulate(crate::tools::simulate::SimulateArgs),
    /// Show what a module is (format, size, sha256, WASI version) and which capabilities it
    /// imports, flagging those this host will not grant.
    #[command(long_about = crate::tools::inspect::LONG_ABOUT)]
    Inspect(crate::tools::inspect::InspectArgs),
    /// Install this host, provider links, modules (each checked against its --sha256 pin) and
    /// a CredentialProviderConfig on a node.
    #[command(long_about = crate::tools::install::LONG_ABOUT)]
    Install(crate::tools::install::InstallArgs),
    /// Publish a module to an OCI registry as a Wasm artifact; prints the manifest digest.
    #[cfg(feature = "oci")]
    #[command(long_about = crate::tools::push::LONG_ABOUT)]
    Push(crate::tools::push::PushArgs),
    /// Pull a module from an OCI registry, verify its signature, and write it; prints its
    /// sha256 for --sha256.
    #[cfg(feature = "oci")]
    #[command(long_about = crate::tools::pull::LONG_ABOUT)]
    Pull(crate::tools::pull::PullArgs),
    /// Verify a Sigstore bundle over a file or digest, offline (the Sigstore conformance
    /// suite's CLI protocol).
    #[cfg(feature = "oci")]
    #[command(long_about = crate::tools::verify_bundle::LONG_ABOUT)]
    VerifyBundle(crate::tools::verify_bundle::VerifyBundleArgs),
}

/// Arguments of the run mode, as written in a provider's `args`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The provider module: a WASI component (wasm32-wasip2) or core module (wasm32-wasip1).
    /// Defaults to <name>.wasm beside the executable when invoked as <name>.
    #[arg(long, value_name = "PATH")]
    pub module: Option<PathBuf>,
    /// Refuse to run unless the module's SHA-256 is this (64 hex digits, optional "sha256:").
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<String>,
    /// Give the guest an environment variable: NAME passes the host's value (if set),
    /// NAME=VALUE sets it. Nothing else of the host environment reaches the guest.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,
    /// An argument for the guest (after its program name). Repeat for more.
    #[arg(long = "arg", value_name = "VALUE", allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// Limit on the guest's linear memory, all memories together (e.g. 64Mi, 128Mi).
    #[arg(long, value_name = "SIZE", default_value = "64Mi")]
    pub memory: String,
    /// Wall-clock limit for the guest, below the kubelet's 60s (e.g. 30s, 10s, 500ms).
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub timeout: String,
    /// Limit on the guest's stdout (its response).
    #[arg(long = "max-output", value_name = "SIZE", default_value = "1Mi")]
    pub max_output: String,
    /// `--token-cache-type`.
    #[command(flatten)]
    pub token_cache: TokenCacheArg,
    /// Cache compiled code here, keyed by the module's sha256 and the engine configuration, so
    /// later execs skip compilation. Created 0700; refused (with a warning) if owned by another
    /// user or writable by others. Recommended on nodes: /var/cache/wasm-credential-provider.
    #[arg(long = "cache-dir", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Allow --module to be a precompiled .cwasm (from `compile`). It is native code: only
    /// allow it for files as trusted as the host binary, and pin it with --sha256.
    #[arg(long = "allow-precompiled")]
    pub allow_precompiled: bool,
    /// Restrict the response's auth keys to registries matching PATTERN (matchImages syntax,
    /// e.g. registry.example.com, *.gcr.io, *.azurecr.*); a response with any other key is
    /// refused whole. Repeatable. Without it, any key is passed on.
    #[arg(long = "allow-auth-key", value_name = "PATTERN")]
    pub allow_auth_key: Vec<String>,
    /// Let the guest (a wasm32-wasip2 component) send HTTP requests to origins matching
    /// PATTERN: [scheme://]host[:port][/path-prefix], scheme https (default) or http, host a
    /// name, an IP literal or a per-label glob (api.ecr.*.amazonaws.com). Repeatable. Without
    /// it every request is refused.
    #[arg(long = "allow-http", value_name = "PATTERN")]
    pub allow_http: Vec<String>,
    /// Connect to ADDR for HOST:PORT instead of resolving HOST (curl's --resolve). Also permits
    /// ADDR if it is a loopback, private or link-local address. Repeatable.
    #[arg(long = "resolve", value_name = "HOST:PORT:ADDR")]
    pub resolve: Vec<String>,
    /// Also trust the CA certificates in this PEM file for the guest's HTTPS requests (on top
    /// of the node's trust store).
    #[arg(long = "ca-file", value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Limit on each HTTP response body the guest receives.
    #[arg(long = "max-http-response", value_name = "SIZE", default_value = "4Mi")]
    pub max_http_response: String,
    /// Limit on the number of HTTP requests the guest may send in one run.
    #[arg(long = "max-http-requests", value_name = "N", default_value_t = limits::DEFAULT_HTTP_MAX_REQUESTS)]
    pub max_http_requests: u32,
}

/// How the binary was invoked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Invocation {
    /// As `wasm-credential-provider`.
    Direct,
    /// Under a provider's name, from `dir`.
    AsProvider { name: String, dir: PathBuf },
}

fn invocation(argv0: &Path) -> Invocation {
    let name = argv0
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(BINARY_NAME);
    let stem = name.strip_suffix(".exe").unwrap_or(name);
    if stem == BINARY_NAME || stem.is_empty() {
        return Invocation::Direct;
    }
    let dir = match argv0.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        // Found through PATH: the directory of the executable itself.
        _ => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_owned))
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    Invocation::AsProvider {
        name: stem.to_owned(),
        dir,
    }
}

/// The names of the modes (the subcommands of [`Command`], and clap's `help`). A test holds this
/// list to the definition; it exists so that telling a mode from a run option does not build the
/// whole command line (about a third of a millisecond on every exec).
const MODE_NAMES: &[&str] = &[
    "run",
    "compile",
    "check-config",
    "match",
    "validate-response",
    "simulate",
    "inspect",
    "install",
    #[cfg(feature = "oci")]
    "push",
    #[cfg(feature = "oci")]
    "pull",
    #[cfg(feature = "oci")]
    "verify-bundle",
    "help",
];

/// Whether `arg` selects a mode or asks for help/version, rather than being a run option.
fn names_a_mode(arg: &OsString) -> bool {
    let Some(arg) = arg.to_str() else {
        return false;
    };
    matches!(arg, "-h" | "--help" | "-V" | "--version") || MODE_NAMES.contains(&arg)
}

impl Cli {
    /// Parses `args` (`argv[0]`, then a mode). The run mode, which the kubelet execs on every
    /// pull, is parsed with a command line holding only that mode: the same arguments, help
    /// and errors, without building every other mode's arguments first.
    fn parse_from(args: &[OsString]) -> Result<Cli, clap::Error> {
        use clap::{CommandFactory, FromArgMatches};
        if args.get(1).is_some_and(|mode| mode == "run") {
            let matches = Cli::run_only_command().try_get_matches_from(args)?;
            Cli::from_arg_matches(&matches)
        } else {
            let matches = Cli::command().try_get_matches_from(args)?;
            Cli::from_arg_matches(&matches)
        }
    }

    /// The command line with the run mode only, as [`Cli`] defines it.
    fn run_only_command() -> clap::Command {
        clap::Command::new(BINARY_NAME)
            .version(env!("CARGO_PKG_VERSION"))
            .subcommand_required(true)
            .subcommand(
                RunArgs::augment_args(clap::Command::new("run"))
                    .about(RUN_ABOUT)
                    .long_about(None),
            )
    }
}

/// What the run mode does (its help text).
const RUN_ABOUT: &str =
    "Answer one kubelet credential request with a sandboxed module (the default mode).";

/// Entry point: parses `argv`, runs the selected mode, prints one error line on failure, and
/// returns the exit status.
pub fn main(argv: Vec<OsString>) -> ExitCode {
    let argv0 = argv.first().map(PathBuf::from).unwrap_or_default();
    if let Some(name) = crate::docker_helper::helper_name(&argv0) {
        return crate::docker_helper::main(&name, &argv0, argv.get(1..).unwrap_or_default());
    }
    let invocation = invocation(&argv0);
    let mut args: Vec<OsString> = vec![BINARY_NAME.into()];
    let rest = argv.into_iter().skip(1);
    match &invocation {
        Invocation::AsProvider { .. } => {
            args.push("run".into());
            args.extend(rest);
        }
        Invocation::Direct => {
            let rest: Vec<OsString> = rest.collect();
            if rest.first().is_none_or(|first| !names_a_mode(first)) {
                args.push("run".into());
            }
            args.extend(rest);
        }
    }
    let provider_hint = match &invocation {
        Invocation::AsProvider { name, .. } => name.clone(),
        Invocation::Direct => module_stem_in(&args).unwrap_or_else(|| "-".to_owned()),
    };
    let cli = match Cli::parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => return report_clap_error(&provider_hint, err),
    };
    match cli.command {
        Command::CheckConfig(args) => crate::tools::check_config::main(&args),
        Command::Match(args) => crate::tools::match_image::main(&args),
        Command::ValidateResponse(args) => crate::tools::validate_response::main(&args),
        Command::Simulate(args) => crate::tools::simulate::main(&args),
        Command::Inspect(args) => crate::tools::inspect::main(&args),
        Command::Install(args) => crate::tools::install::main(&args),
        #[cfg(feature = "oci")]
        Command::Push(args) => crate::tools::push::main(&args),
        #[cfg(feature = "oci")]
        Command::Pull(args) => crate::tools::pull::main(&args),
        #[cfg(feature = "oci")]
        Command::VerifyBundle(args) => crate::tools::verify_bundle::main(&args),
        Command::Compile(args) => {
            let provider = args
                .module
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "-".into());
            match crate::precompile::compile(&args, &mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => fail(&provider, &err),
            }
        }
        Command::Run(run_args) => {
            let (provider, module) = match locate_module(&run_args, &invocation) {
                Ok(found) => found,
                Err(err) => return fail(&provider_hint, &err),
            };
            let config = match run_config(*run_args, provider.clone(), module) {
                Ok(config) => config,
                Err(err) => return fail(&provider, &err),
            };
            let stdout = std::io::stdout();
            let stderr = std::io::stderr();
            match run(
                &config,
                std::io::stdin().lock(),
                stdout.lock(),
                &mut stderr.lock(),
            ) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => fail(&config.provider, &err),
            }
        }
    }
}

/// The file stem of a `--module` value in raw args, to name the provider in argument errors
/// that happen before parsing succeeds.
fn module_stem_in(args: &[OsString]) -> Option<String> {
    let value = args.iter().enumerate().find_map(|(i, arg)| {
        let arg = arg.to_str()?;
        match arg.strip_prefix("--module") {
            Some("") => args.get(i + 1)?.to_str(),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        }
    })?;
    Path::new(value)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
}

/// Prints `wasm-credential-provider: <provider>: <error>` as one line and returns its status.
pub(crate) fn fail(provider: &str, err: &Error) -> ExitCode {
    let message = err.to_string().replace(['\n', '\r'], " ");
    let _ = writeln!(std::io::stderr(), "{BINARY_NAME}: {provider}: {message}");
    ExitCode::from(err.exit_code())
}

fn report_clap_error(provider: &str, err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = err.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            ExitCode::from(2)
        }
        _ => {
            let text = err.render().to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ")
                .to_owned();
            fail(provider, &Error::Usage(first))
        }
    }
}

/// The run configuration that the kubelet's exec of `<bin_dir>/<name> args...` would produce,
/// with the same parsing and checks as [`main`], without running anything (for `check-config`).
pub fn provider_run_config(
    name: &str,
    bin_dir: &Path,
    args: &[String],
) -> Result<RunConfig, Error> {
    let invocation = invocation(&bin_dir.join(name));
    let mut argv: Vec<OsString> = vec![BINARY_NAME.into()];
    let first_names_mode = args.first().is_some_and(|a| names_a_mode(&a.into()));
    if invocation != Invocation::Direct || !first_names_mode {
        argv.push("run".into());
    }
    argv.extend(args.iter().map(OsString::from));
    let cli = Cli::parse_from(&argv).map_err(|err| {
        let text = err.render().to_string();
        Error::Usage(
            text.lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ")
                .to_owned(),
        )
    })?;
    let Command::Run(run_args) = cli.command else {
        return Err(Error::Usage("the args select a mode other than run".into()));
    };
    let (provider, module) = locate_module(&run_args, &invocation)?;
    run_config(*run_args, provider, module)
}

/// The provider's name and module path: from the invocation name, or from `--module`.
fn locate_module(args: &RunArgs, invocation: &Invocation) -> Result<(String, PathBuf), Error> {
    let module = match (&args.module, invocation) {
        (Some(path), _) => path.clone(),
        (None, Invocation::AsProvider { name, dir }) => dir.join(format!("{name}.wasm")),
        (None, Invocation::Direct) => {
            return Err(Error::Usage(
                "--module PATH is required when invoked as wasm-credential-provider".into(),
            ));
        }
    };
    let provider = match invocation {
        Invocation::AsProvider { name, .. } => name.clone(),
        Invocation::Direct => module
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "-".into()),
    };
    Ok((provider, module))
}

/// Turns parsed run arguments into a checked configuration.
fn run_config(args: RunArgs, provider: String, module: PathBuf) -> Result<RunConfig, Error> {
    let usage = Error::Usage;
    let sha256 = args
        .sha256
        .as_deref()
        .map(Sha256Digest::parse)
        .transpose()
        .map_err(|e| usage(format!("--sha256: {e}")))?;
    let memory_bytes = parse_size(&args.memory).map_err(|e| usage(format!("--memory: {e}")))?;
    if !(limits::MIN_MEMORY_BYTES..=limits::MAX_MEMORY_BYTES).contains(&memory_bytes) {
        return Err(usage(format!(
            "--memory must be between {} and {}",
            format_size(limits::MIN_MEMORY_BYTES),
            format_size(limits::MAX_MEMORY_BYTES)
        )));
    }
    let timeout = parse_duration(&args.timeout).map_err(|e| usage(format!("--timeout: {e}")))?;
    if timeout >= limits::KUBELET_TIMEOUT {
        return Err(usage(format!(
            "--timeout {} must be below the kubelet's {} plugin timeout",
            format_duration(timeout),
            format_duration(limits::KUBELET_TIMEOUT)
        )));
    }
    let max_output_bytes =
        parse_size(&args.max_output).map_err(|e| usage(format!("--max-output: {e}")))?;
    if max_output_bytes == 0 {
        return Err(usage("--max-output must be positive".into()));
    }
    let env = resolve_env(&args.env, |name| std::env::var(name).ok())?;
    let auth_key_scope = AuthKeyScope::parse(&args.allow_auth_key).map_err(usage)?;
    let http = http_grant(&args)?;
    Ok(RunConfig {
        grant: Grant {
            program_name: provider.clone(),
            args: args.args,
            env,
            memory_bytes,
            timeout,
            max_output_bytes,
            http,
        },
        provider,
        module,
        sha256,
        token_cache_type: args.token_cache.token_cache_type,
        cache_dir: args.cache_dir,
        allow_precompiled: args.allow_precompiled,
        auth_key_scope,
    })
}

/// The guest's network grant from `--allow-http`, `--resolve`, `--ca-file`, the HTTP limits and
/// the host's proxy environment. Any malformed value is a start-up error.
fn http_grant(args: &RunArgs) -> Result<HttpGrant, Error> {
    let usage = Error::Usage;
    let policy =
        EgressPolicy::parse(&args.allow_http, &args.resolve).map_err(|e| usage(e.to_string()))?;
    let extra_roots = match &args.ca_file {
        None => Vec::new(),
        Some(path) => {
            read_ca_file(path).map_err(|e| usage(format!("--ca-file {}: {e}", path.display())))?
        }
    };
    let max_response_bytes = parse_size(&args.max_http_response)
        .map_err(|e| usage(format!("--max-http-response: {e}")))?;
    if max_response_bytes == 0 || args.max_http_requests == 0 {
        return Err(usage(
            "--max-http-response and --max-http-requests must be positive".into(),
        ));
    }
    let proxy = ProxyEnv::from_vars(|name| std::env::var(name).ok()).map_err(usage)?;
    Ok(HttpGrant {
        policy,
        extra_roots,
        proxy,
        max_response_bytes,
        max_requests: args.max_http_requests,
    })
}

/// The certificates of a PEM file; an unreadable file or one without certificates is an error.
fn read_ca_file(path: &Path) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
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
) -> Result<Vec<(String, String)>, Error> {
    let mut env: Vec<(String, String)> = Vec::new();
    for spec in specs {
        let (name, value) = match spec.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (spec.as_str(), host(spec)),
        };
        if name.is_empty() || name.contains('\0') {
            return Err(Error::Usage(format!(
                "--env {:?}: expected NAME or NAME=VALUE",
                name
            )));
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

    #[test]
    fn mode_names_are_the_subcommands() {
        use clap::CommandFactory;
        let mut defined: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .collect();
        defined.push("help".into());
        defined.sort();
        let mut listed: Vec<String> = MODE_NAMES.iter().map(|&n| n.to_owned()).collect();
        listed.sort();
        assert_eq!(listed, defined);
    }

    #[test]
    fn run_only_command_is_the_run_mode() {
        use clap::CommandFactory;
        let mut full = Cli::command();
        full.build();
        let mut only = Cli::run_only_command();
        only.build();
        let full_run = full.find_subcommand_mut("run").unwrap();
        let only_run = only.find_subcommand_mut("run").unwrap();
        assert_eq!(
            only_run.render_long_help().to_string(),
            full_run.render_long_help().to_string()
        );
        assert_eq!(
            only_run.render_usage().to_string(),
            full_run.render_usage().to_string()
        );
        // Errors read the same either way.
        for args in [
            &["--bogus"][..],
            &["--module"][..],
            &["--module", "m.wasm", "--memory", "lots"][..],
            &["--module", "m.wasm", "--token-cache-type", "x"][..],
        ] {
            let argv: Vec<OsString> = [BINARY_NAME, "run"]
                .iter()
                .chain(args)
                .map(OsString::from)
                .collect();
            let render = |r: Result<Cli, clap::Error>| match r {
                Ok(cli) => format!("{cli:?}"),
                Err(e) => e.render().to_string(),
            };
            let fast = render(Cli::parse_from(&argv));
            let full = render(
                Cli::command()
                    .try_get_matches_from(&argv)
                    .and_then(|m| clap::FromArgMatches::from_arg_matches(&m)),
            );
            assert_eq!(fast, full, "{args:?}");
        }
    }

    #[test]
    fn invocation_by_name() {
        assert_eq!(
            invocation(Path::new("/usr/bin/wasm-credential-provider")),
            Invocation::Direct
        );
        assert_eq!(
            invocation(Path::new("/opt/credprov/static-credentials")),
            Invocation::AsProvider {
                name: "static-credentials".into(),
                dir: "/opt/credprov".into()
            }
        );
    }

    #[test]
    fn env_specs_resolve_without_leaking_the_rest() {
        let host = |name: &str| match name {
            "SET" => Some("host-value".to_owned()),
            _ => None,
        };
        let env = resolve_env(
            &[
                "SET".into(),
                "UNSET".into(),
                "FIXED=a=b".into(),
                "SET=override".into(),
            ],
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
        assert!(resolve_env(&["=x".into()], host).is_err());
    }

    #[test]
    fn run_is_the_default_mode() {
        assert!(!names_a_mode(&"--module".into()));
        assert!(names_a_mode(&"run".into()));
        assert!(names_a_mode(&"--help".into()));
    }
}
