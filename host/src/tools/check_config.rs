//! `check-config`: is this `CredentialProviderConfig` one the kubelet would start with, and (with
//! `--bin-dir`) would every provider run?

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use super::{
    EXIT_NO, EXIT_USAGE, EXIT_YES, OutputFormat, kubelet_error, parse_feature_gates, usage_error,
    verbatim_lines,
};
use crate::args::{ExecEnv, provider_run_config, rooted, strip_root};
use crate::kubelet::config::{ConfigProblem, CredentialProvider, LoadedConfig, load};
use crate::module::{ModuleBytes, ModuleFormat, Sha256Digest};
use crate::names::BINARY_NAME;
use crate::run::TokenCacheType;

/// The `--help` text of the subcommand (the variant in `cli.rs` refers to it).
pub const LONG_ABOUT: &str = "Check a kubelet CredentialProviderConfig with the kubelet's own rules.\n\n\
        PATH is what you pass the kubelet as --image-credential-provider-config: a YAML or JSON \
        file, or a directory whose *.json, *.yaml and *.yml files are read in lexicographic \
        order (Kubernetes 1.34+). The file is decoded strictly (unknown, mis-cased or duplicate \
        fields, wrong kind or version are errors; tokenAttributes exists only in \
        kubelet.config.k8s.io/v1) and validated with every rule of the kubelet, whose messages \
        and field paths are printed as the kubelet prints them.\n\n\
        With --bin-dir (the kubelet's --image-credential-provider-bin-dir) each provider's \
        executable must exist and be executable; for providers that run this host, their args \
        must parse and check in the provider's exec environment (this command's environment \
        standing for the kubelet's, with the provider's env over it), the module must exist \
        and match its --sha256 pin.\n\n\
        An invalid config is reported first with the exact error the kubelet would refuse to \
        start with, then with every problem, one per line. Warnings (valid, but likely not \
        what was meant) follow as warning: lines.\n\n\
        Exit status: 0 valid, 1 invalid, 2 bad usage.\n\n\
        Example:\n  wasm-credential-provider check-config /etc/kubernetes/credential-providers.yaml \\\n      --bin-dir /usr/libexec/kubernetes/credential-providers";

/// Arguments of `check-config`.
#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The config file, or a directory of config files.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// The kubelet's --image-credential-provider-bin-dir: also check the executables, and the
    /// args and modules of providers that run this host.
    #[arg(long = "bin-dir", value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,
    /// The node's root: PATH, --bin-dir and the absolute paths in host providers' args
    /// (--module, --cache-dir, --ca-file) are node paths beneath it (for a node's files copied
    /// or installed with `install --root`, checked off the node).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// The kubelet's feature gates that change validation, e.g.
    /// KubeletServiceAccountTokenForCredentialProviders=false (on by default since 1.34).
    #[arg(long = "feature-gates", value_name = "NAME=BOOL,...")]
    pub feature_gates: Option<String>,
    /// Print text lines, or one JSON document {"valid", "errors": [{"provider", "field",
    /// "message"}], "configHash", "files", "providers"}.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// What `--bin-dir` found out about one provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostProvider {
    /// The provider.
    pub provider: String,
    /// The module it would run.
    pub module: PathBuf,
    /// The module's digest, if it could be read.
    pub digest: Option<Sha256Digest>,
}

/// The full result of a check.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// The config as loaded, with the kubelet's problems.
    pub loaded: LoadedConfig,
    /// Problems found by `--bin-dir`.
    pub bin_dir_problems: Vec<ConfigProblem>,
    /// Providers found to run this host.
    pub host_providers: Vec<HostProvider>,
    /// Things that work but weaken the sandbox's promises (they do not make the config invalid).
    pub warnings: Vec<ConfigProblem>,
}

impl CheckReport {
    /// Every problem, config first.
    pub fn problems(&self) -> impl Iterator<Item = &ConfigProblem> {
        self.loaded.problems.iter().chain(&self.bin_dir_problems)
    }

    /// Whether nothing is wrong.
    pub fn is_valid(&self) -> bool {
        self.problems().next().is_none()
    }
}

/// Runs `check-config`.
pub fn main(args: &CheckConfigArgs) -> ExitCode {
    let gates = match parse_feature_gates(args.feature_gates.as_deref()) {
        Ok(gates) => gates,
        Err(message) => return usage_error("check-config", &message, EXIT_USAGE),
    };
    let report = check(
        &args.path,
        args.bin_dir.as_deref(),
        args.root.as_deref(),
        gates,
    );
    let out = render(&args.path, &report, args.output);
    let _ = std::io::stdout().write_all(out.as_bytes());
    ExitCode::from(if report.is_valid() { EXIT_YES } else { EXIT_NO })
}

/// Loads and validates `path`, and checks the providers against `bin_dir` if given; with
/// `root`, both are node paths beneath it.
pub fn check(
    path: &Path,
    bin_dir: Option<&Path>,
    root: Option<&Path>,
    gates: crate::kubelet::config::FeatureGates,
) -> CheckReport {
    let local = |p: &Path| root.map_or_else(|| p.to_owned(), |root| rooted(root, p));
    let mut report = CheckReport {
        loaded: load(&local(path), gates),
        ..Default::default()
    };
    for provider in &report.loaded.config.providers {
        for pattern in provider.match_images.iter().filter(|p| p.contains("://")) {
            report.warnings.push(ConfigProblem {
                provider: Some(provider.name.clone()),
                field: Some("providers.matchImages".into()),
                message: format!(
                    "{pattern:?} has a scheme: the kubelet matches it against image names, which have none, so it never matches (write {:?})",
                    pattern.split_once("://").map_or(pattern.as_str(), |(_, rest)| rest)
                ),
            });
        }
    }
    let Some(node_bin_dir) = bin_dir else {
        return report;
    };
    let bin_dir = &local(node_bin_dir);
    if let Some(problem) = super::bin_dir::check_bin_dir(bin_dir) {
        report.bin_dir_problems.push(problem);
        return report;
    }
    let providers = report.loaded.config.providers.clone();
    for provider in &providers {
        if let Some(problem) = super::bin_dir::check_executable(bin_dir, provider) {
            report.bin_dir_problems.push(problem);
            continue;
        }
        if runs_this_host(bin_dir, provider) {
            check_host_provider(node_bin_dir, root, provider, &mut report);
        }
    }
    report
}

/// Whether `<bin-dir>/<name>` is this host (see [`crate::args::runs_this_host`]).
pub fn runs_this_host(bin_dir: &Path, provider: &CredentialProvider) -> bool {
    crate::args::runs_this_host(&bin_dir.join(&provider.name), &provider.args)
}

/// Args parse as the run mode, the module exists, matches its pin and is runnable.
fn check_host_provider(
    bin_dir: &Path,
    root: Option<&Path>,
    provider: &CredentialProvider,
    report: &mut CheckReport,
) {
    let problem = |field: &str, message: String| ConfigProblem {
        provider: Some(provider.name.clone()),
        field: Some(field.to_owned()),
        message,
    };
    let env = ExecEnv::kubelet_exec(&provider.env);
    let config = match provider_run_config(&provider.name, bin_dir, &provider.args, &env, root) {
        Ok(config) => config,
        Err(err) => {
            for message in err.problems {
                report.bin_dir_problems.push(problem(
                    "providers.args",
                    format!("invalid arguments: {message}"),
                ));
            }
            return;
        }
    };
    let warning = |message: String| ConfigProblem {
        provider: Some(provider.name.clone()),
        field: Some("providers.args".to_owned()),
        message,
    };
    if !config.auth_key_scope.is_restricted() {
        report.warnings.push(warning(format!(
            "runs {BINARY_NAME} without --allow-auth-key: the module may answer with credentials \
             for any registry, which the kubelet joins with other providers' and pull secrets' \
             (scope it, e.g. --allow-auth-key={})",
            provider
                .match_images
                .first()
                .map_or("REGISTRY", String::as_str)
        )));
    }
    if config.sha256.is_none() {
        report.warnings.push(warning(format!(
            "runs {BINARY_NAME} without --sha256: whoever can replace the module file changes \
             what runs (pin it with --sha256=<digest from `{BINARY_NAME} inspect`>)"
        )));
    }
    for unusable in config.grant.http.proxy.problems() {
        report.warnings.push(warning(format!(
            "the proxy setting in the provider's environment cannot be used ({unusable}): the \
             module's requests that would go through it fail (set an http:// proxy, exempt \
             the hosts with NO_PROXY, or unset it)"
        )));
    }
    if let Some(cache_type) = provider
        .token_attributes
        .as_ref()
        .map(|t| t.cache_type.as_str())
        && cache_type != config.token_cache_type.as_str()
    {
        let consequence = match config.token_cache_type {
            TokenCacheType::ServiceAccount => {
                "the host refuses a response returning the service-account token, which the kubelet accepts"
            }
            TokenCacheType::Token => {
                "the host passes on a response returning the service-account token, which the kubelet then discards"
            }
        };
        report.warnings.push(warning(format!(
            "tokenAttributes.cacheType is {cache_type} but the args set --token-cache-type={}: {consequence} (add --token-cache-type={cache_type})",
            config.token_cache_type.as_str()
        )));
    }
    let mut host = HostProvider {
        provider: provider.name.clone(),
        module: root.map_or_else(|| config.module.clone(), |r| strip_root(r, &config.module)),
        digest: None,
    };
    match ModuleBytes::load(&config.module, config.sha256.as_ref()) {
        Ok(module) => {
            host.digest = Some(module.digest);
            let precompiled = matches!(
                module.format,
                ModuleFormat::PrecompiledComponent | ModuleFormat::PrecompiledModule
            );
            if precompiled && !config.allow_precompiled {
                report.bin_dir_problems.push(problem(
                    "providers.args",
                    format!(
                        "module {} is precompiled native code: run mode refuses it without --allow-precompiled",
                        config.module.display()
                    ),
                ));
            }
        }
        Err(err) => report
            .bin_dir_problems
            .push(problem("providers.args", err.to_string())),
    }
    report.host_providers.push(host);
}

/// The report as text or JSON.
pub fn render(path: &Path, report: &CheckReport, format: OutputFormat) -> String {
    let loaded = &report.loaded;
    match format {
        OutputFormat::Json => {
            let errors: Vec<_> = report
                .problems()
                .map(|p| json!({"provider": p.provider, "field": p.field, "message": p.message}))
                .collect();
            let value = json!({
                "valid": report.is_valid(),
                "kubeletError": kubelet_error(loaded),
                "errors": errors,
                "configHash": loaded.hash,
                "files": loaded.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
                "providers": loaded.config.providers.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
                "warnings": report.warnings.iter()
                    .map(|p| json!({"provider": p.provider, "field": p.field, "message": p.message}))
                    .collect::<Vec<_>>(),
            });
            format!("{}\n", super::to_json_line(&value))
        }
        OutputFormat::Text => {
            let mut out = String::new();
            if !report.is_valid() {
                match kubelet_error(loaded) {
                    Some(error) => {
                        out.push_str(&format!(
                            "{}: the kubelet refuses to start with this config:\n{}\n",
                            path.display(),
                            verbatim_lines(&error)
                        ));
                        // A decode error is the whole story; validation problems are listed
                        // one by one with their providers below.
                        if loaded.problems.iter().any(|p| p.field.is_some()) {
                            out.push_str("every problem:\n");
                            push_problems(&mut out, loaded.problems.iter());
                        }
                    }
                    None => out.push_str(&format!(
                        "{}: the kubelet starts with this config, but its providers would fail:\n",
                        path.display()
                    )),
                }
                push_problems(&mut out, report.bin_dir_problems.iter());
                push_warnings(&mut out, report);
                return out;
            }
            let files = loaded.files.len();
            out.push_str(&format!(
                "{}: valid ({files} file{}, config hash {})\n",
                path.display(),
                if files == 1 { "" } else { "s" },
                loaded.hash.as_deref().unwrap_or("-")
            ));
            out.push_str("providers, in the order the kubelet consults them:\n");
            for (i, p) in loaded.config.providers.iter().enumerate() {
                out.push_str(&format!(
                    "  {}. {} ({}) matchImages: {}; defaultCacheDuration: {}\n",
                    i + 1,
                    p.name,
                    p.api_version,
                    p.match_images.join(", "),
                    p.default_cache_duration
                        .map(|d| d.to_string())
                        .unwrap_or_default()
                ));
                if let Some(host) = report.host_providers.iter().find(|h| h.provider == p.name) {
                    out.push_str(&format!(
                        "     runs {BINARY_NAME}: module {} ({})\n",
                        host.module.display(),
                        host.digest.map(|d| d.to_string()).unwrap_or_default()
                    ));
                }
            }
            push_warnings(&mut out, report);
            out
        }
    }
}

/// Appends one line per problem.
fn push_problems<'a>(out: &mut String, problems: impl Iterator<Item = &'a ConfigProblem>) {
    for problem in problems {
        out.push_str(&crate::report::one_line(&problem.to_string()));
        out.push('\n');
    }
}

/// Appends one `warning: ...` line per warning.
fn push_warnings(out: &mut String, report: &CheckReport) {
    for warning in &report.warnings {
        let line = crate::report::one_line(&warning.to_string());
        out.push_str(&format!("warning: {line}\n"));
    }
}
