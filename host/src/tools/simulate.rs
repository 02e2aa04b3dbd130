//! `simulate`: the kubelet in a box. Loads a config as the kubelet does at start-up, then pulls
//! each image in turn through the providers (config order), with the kubelet's per-provider
//! caches shared across the images of one call, and prints what ran and which credentials the
//! kubelet would try.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use super::{EXIT_NO, EXIT_USAGE, EXIT_YES, OutputFormat, parse_feature_gates, usage_error};
use crate::kubelet::config::{ConfigProblem, load};
use crate::kubelet::simulate::{Kubelet, PullOutcome, ServiceAccount};

/// The `--help` text of the subcommand (the variant in `cli.rs` refers to it).
pub const LONG_ABOUT: &str = "Pull images through a kubelet in a box: start-up checks on the config and the \
        bin dir, then for each IMAGE in order: normalise it, consult the providers whose \
        matchImages match (config order), each served from its cache or executed exactly as the \
        kubelet executes it (<bin-dir>/<name> and its args, the whole environment plus the \
        provider's env, the request and a newline on stdin, a 60 s limit, strict response \
        decoding), cache the answer (cacheKeyType Image/Registry/Global, cacheDuration or the \
        provider's defaultCacheDuration, zero means not cached), and print the credentials \
        the kubelet would try, in its order (reverse lexicographic keys, the Docker Hub \
        fallback). Caches live for this one call, across its images.\n\n\
        Passwords are shown as <redacted> unless --show-secrets.\n\n\
        Service-account token mode (providers with tokenAttributes): --service-account and \
        --service-account-token stand for the pod's service account and the token the kubelet \
        would mint for it; --annotation gives the service account's annotations. Without \
        --service-account the pod has none (a static pod).\n\n\
        Exit status: 0 every image was processed and no provider failed, 1 a provider failed, \
        an image is invalid or the kubelet would not start with this config, 2 bad usage.\n\n\
        Example:\n  wasm-credential-provider simulate --config credential-providers.yaml \\\n      \
        --bin-dir /usr/libexec/kubernetes/credential-providers registry.example.com/team/app:v1 nginx";

/// Arguments of `simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The CredentialProviderConfig file or directory (--image-credential-provider-config).
    #[arg(long, value_name = "PATH")]
    pub config: PathBuf,
    /// The plugin directory (--image-credential-provider-bin-dir).
    #[arg(long = "bin-dir", value_name = "DIR")]
    pub bin_dir: PathBuf,
    /// Images to pull, in order, as written in pod specs.
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
    /// The pod's service account.
    #[arg(
        long = "service-account",
        value_name = "NAMESPACE/NAME",
        requires = "service_account_token"
    )]
    pub service_account: Option<String>,
    /// The service-account token the kubelet would send (a test token: it is visible in the
    /// process list).
    #[arg(
        long = "service-account-token",
        value_name = "TOKEN",
        requires = "service_account"
    )]
    pub service_account_token: Option<String>,
    /// An annotation of the service account (repeatable).
    #[arg(
        long = "annotation",
        value_name = "KEY=VALUE",
        requires = "service_account"
    )]
    pub annotations: Vec<String>,
    /// Print passwords instead of <redacted>.
    #[arg(long = "show-secrets")]
    pub show_secrets: bool,
    /// The kubelet's feature gates that change validation.
    #[arg(long = "feature-gates", value_name = "NAME=BOOL,...")]
    pub feature_gates: Option<String>,
    /// Print text lines, or one JSON document {"images": [...]}.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// Runs `simulate`.
pub fn main(args: &SimulateArgs) -> ExitCode {
    let gates = match parse_feature_gates(args.feature_gates.as_deref()) {
        Ok(gates) => gates,
        Err(message) => return usage_error("simulate", &message, EXIT_USAGE),
    };
    let service_account = match service_account(args) {
        Ok(sa) => sa,
        Err(message) => return usage_error("simulate", &message, EXIT_USAGE),
    };
    // Start-up: what the kubelet checks before it registers any provider.
    let loaded = load(&args.config, gates);
    let mut problems: Vec<ConfigProblem> = loaded.problems.clone();
    if problems.is_empty() {
        if let Some(problem) = super::bin_dir::check_bin_dir(&args.bin_dir) {
            problems.push(problem);
        } else {
            problems.extend(
                loaded
                    .config
                    .providers
                    .iter()
                    .filter_map(|p| super::bin_dir::check_executable(&args.bin_dir, p)),
            );
        }
    }
    if !problems.is_empty() {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(
            stderr,
            "{}: simulate: the kubelet would not start with this configuration:",
            crate::cli::BINARY_NAME
        );
        for problem in &problems {
            let _ = writeln!(stderr, "{problem}");
        }
        return ExitCode::from(EXIT_NO);
    }
    let mut kubelet = Kubelet::new(
        loaded.config.providers,
        args.bin_dir.clone(),
        service_account,
    );
    let outcomes: Vec<PullOutcome> = args.images.iter().map(|i| kubelet.pull(i)).collect();
    let failed = outcomes
        .iter()
        .any(|o| o.normalized.is_err() || o.providers.iter().any(|p| p.error.is_some()));
    let text = match args.output {
        OutputFormat::Text => render_text(&outcomes, args.show_secrets),
        OutputFormat::Json => format!(
            "{}\n",
            super::to_json_line(&render_json(&outcomes, args.show_secrets))
        ),
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    ExitCode::from(if failed { EXIT_NO } else { EXIT_YES })
}

fn service_account(args: &SimulateArgs) -> Result<Option<ServiceAccount>, String> {
    let Some(spec) = &args.service_account else {
        return Ok(None);
    };
    let (namespace, name) = spec
        .split_once('/')
        .filter(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains('/'))
        .ok_or_else(|| format!("--service-account {spec:?} is not NAMESPACE/NAME"))?;
    let mut annotations = BTreeMap::new();
    for item in &args.annotations {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| format!("--annotation {item:?} is not KEY=VALUE"))?;
        annotations.insert(key.to_owned(), value.to_owned());
    }
    Ok(Some(ServiceAccount {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        token: args
            .service_account_token
            .clone()
            .unwrap_or_default()
            .into(),
        annotations,
    }))
}

fn shown_password(password: &credential_provider_protocol::Secret, show: bool) -> String {
    if show {
        password.expose().to_owned()
    } else {
        "<redacted>".to_owned()
    }
}

/// The outcomes as text lines.
pub fn render_text(outcomes: &[PullOutcome], show_secrets: bool) -> String {
    let mut out = String::new();
    for outcome in outcomes {
        let normalized = match &outcome.normalized {
            Ok(n) => n,
            Err(err) => {
                out.push_str(&format!("{}: invalid image: {err}\n", outcome.image));
                continue;
            }
        };
        out.push_str(&format!("{} -> {normalized}\n", outcome.image));
        if outcome.providers.is_empty() {
            out.push_str("  no provider matches\n");
        }
        for p in &outcome.providers {
            let what = if let Some(reason) = &p.skipped {
                format!("skipped: {reason}")
            } else if p.cached {
                "served from cache".to_owned()
            } else if let Some(err) = &p.error {
                format!("executed, failed: {err}")
            } else {
                match p.cached_for {
                    Some(d) => format!(
                        "executed (cached for {})",
                        credential_provider_protocol::GoDuration::from_nanos(
                            i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
                        )
                    ),
                    None => "executed (not cached)".to_owned(),
                }
            };
            out.push_str(&format!(
                "  {}: {}\n",
                p.name,
                what.replace(['\n', '\r'], " ")
            ));
        }
        if outcome.credentials.is_empty() {
            out.push_str("  no credentials: the kubelet pulls anonymously\n");
        } else {
            out.push_str("  credentials, in the order the kubelet tries them:\n");
            for (i, c) in outcome.credentials.iter().enumerate() {
                out.push_str(&format!(
                    "    {}. {}: {:?} / {} (from {})\n",
                    i + 1,
                    c.key,
                    c.username,
                    shown_password(&c.password, show_secrets),
                    c.provider
                ));
            }
        }
    }
    out
}

/// The outcomes as `{"images": [...]}`.
pub fn render_json(outcomes: &[PullOutcome], show_secrets: bool) -> serde_json::Value {
    let images: Vec<_> = outcomes
        .iter()
        .map(|o| {
            json!({
                "image": o.image,
                "normalized": o.normalized.as_ref().ok(),
                "error": o.normalized.as_ref().err(),
                "providers": o.providers.iter().map(|p| json!({
                    "name": p.name,
                    "executed": p.executed,
                    "cached": p.cached,
                    "skipped": p.skipped,
                    "error": p.error,
                })).collect::<Vec<_>>(),
                "credentials": o.credentials.iter().map(|c| json!({
                    "key": c.key,
                    "username": c.username,
                    "password": shown_password(&c.password, show_secrets),
                    "provider": c.provider,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "images": images })
}
