//! `check-config`: is this `CredentialProviderConfig` one the kubelet would start with, and (with
//! `--bin-dir`) would every provider run?

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use super::{EXIT_NO, EXIT_USAGE, EXIT_YES, OutputFormat, parse_feature_gates, usage_error};
use crate::cli::{BINARY_NAME, provider_run_config};
use crate::kubelet::config::{ConfigProblem, CredentialProvider, LoadedConfig, load};
use crate::module::{ModuleBytes, ModuleFormat, Sha256Digest};

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
        must parse, the module must exist and match its --sha256 pin.\n\n\
        Exit status: 0 valid, 1 invalid (every problem printed, one per line), 2 bad usage.\n\n\
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
    let report = check(&args.path, args.bin_dir.as_deref(), gates);
    let out = render(&args.path, &report, args.output);
    let _ = std::io::stdout().write_all(out.as_bytes());
    ExitCode::from(if report.is_valid() { EXIT_YES } else { EXIT_NO })
}

/// Loads and validates `path`, and checks the providers against `bin_dir` if given.
pub fn check(
    path: &Path,
    bin_dir: Option<&Path>,
    gates: crate::kubelet::config::FeatureGates,
) -> CheckReport {
    let mut report = CheckReport {
        loaded: load(path, gates),
        ..Default::default()
    };
    let Some(bin_dir) = bin_dir else {
        return report;
    };
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
            check_host_provider(bin_dir, provider, &mut report);
        }
    }
    report
}

/// Whether `<bin-dir>/<name>` is this host: the executable is, or links to, a file named
/// `wasm-credential-provider`; or it is a copy of the running binary; or its args name a
/// `--module`.
pub fn runs_this_host(bin_dir: &Path, provider: &CredentialProvider) -> bool {
    let path = bin_dir.join(&provider.name);
    let named_ours = std::fs::canonicalize(&path)
        .ok()
        .and_then(|real| real.file_stem().map(|s| s == BINARY_NAME))
        .unwrap_or(false);
    let module_arg = provider
        .args
        .iter()
        .any(|a| a == "--module" || a.starts_with("--module="));
    named_ours || module_arg || is_copy_of_current_exe(&path)
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

/// Args parse as the run mode, the module exists, matches its pin and is runnable.
fn check_host_provider(bin_dir: &Path, provider: &CredentialProvider, report: &mut CheckReport) {
    let problem = |field: &str, message: String| ConfigProblem {
        provider: Some(provider.name.clone()),
        field: Some(field.to_owned()),
        message,
    };
    let config = match provider_run_config(&provider.name, bin_dir, &provider.args) {
        Ok(config) => config,
        Err(err) => {
            report
                .bin_dir_problems
                .push(problem("providers.args", err.to_string()));
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
    let mut host = HostProvider {
        provider: provider.name.clone(),
        module: config.module.clone(),
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
                for problem in report.problems() {
                    out.push_str(&problem.to_string().replace(['\n', '\r'], " "));
                    out.push('\n');
                }
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

/// Appends one `warning: ...` line per warning.
fn push_warnings(out: &mut String, report: &CheckReport) {
    for warning in &report.warnings {
        let line = warning.to_string().replace(['\n', '\r'], " ");
        out.push_str(&format!("warning: {line}\n"));
    }
}
