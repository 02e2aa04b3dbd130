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

use super::{
    EXIT_NO, EXIT_USAGE, EXIT_YES, OutputFormat, config_refused, kubelet_error,
    parse_feature_gates, usage_error,
};
use crate::args::{reroot_args, rooted, runs_this_host};
use crate::kubelet::config::load;
use crate::kubelet::exec::ExecStats;
use crate::kubelet::simulate::{Kubelet, PullOutcome, ServiceAccount};
use crate::units::format_size;

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
        --root DIR runs a node's files from a folder (for example one `install --root DIR` \
        wrote): --config and --bin-dir are then node paths beneath DIR, and the absolute \
        paths in the args of providers running this host (--module, --cache-dir, --ca-file) \
        are re-rooted there too, so nothing outside DIR is read or written for them.\n\n\
        Where the kubelet's order is unspecified (one response giving two spellings of one \
        key, such as https://r.io and r.io, which the kubelet tries in Go's random map order), \
        the credentials are marked so.\n\n\
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
    /// The node's root: --config, --bin-dir and host providers' absolute paths are node paths
    /// beneath it.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
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
    let (config_path, bin_dir) = match &args.root {
        Some(root) => (rooted(root, &args.config), rooted(root, &args.bin_dir)),
        None => (args.config.clone(), args.bin_dir.clone()),
    };
    // Start-up: what the kubelet checks before it registers any provider.
    let loaded = load(&config_path, gates);
    if let Some(error) = kubelet_error(&loaded) {
        return config_refused("simulate", &args.config, &error, EXIT_NO);
    }
    let bin_dir_problems: Vec<String> = match super::bin_dir::check_bin_dir(&bin_dir) {
        Some(problem) => vec![problem.to_string()],
        None => loaded
            .config
            .providers
            .iter()
            .filter_map(|p| super::bin_dir::check_executable(&bin_dir, p))
            .map(|p| p.to_string())
            .collect(),
    };
    if !bin_dir_problems.is_empty() {
        return config_refused(
            "simulate",
            &args.bin_dir,
            &bin_dir_problems.join("\n"),
            EXIT_NO,
        );
    }
    let mut providers = loaded.config.providers;
    if let Some(root) = &args.root {
        for provider in &mut providers {
            if runs_this_host(&bin_dir.join(&provider.name), &provider.args) {
                provider.args = reroot_args(&provider.args, root);
            }
        }
    }
    let mut kubelet = Kubelet::new(providers, bin_dir, service_account);
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
            let cost = p.stats.map(describe_cost).unwrap_or_default();
            let what = if let Some(reason) = &p.skipped {
                format!("skipped: {reason}")
            } else if p.cached {
                "served from cache".to_owned()
            } else if let Some(err) = &p.error {
                format!("executed{cost}, failed: {err}")
            } else {
                match p.cached_for {
                    Some(d) => format!(
                        "executed{cost} (cached for {})",
                        credential_provider_protocol::GoDuration::from_nanos(
                            i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
                        )
                    ),
                    None => format!("executed{cost} (not cached)"),
                }
            };
            out.push_str(&format!(
                "  {}: {}\n",
                p.name,
                crate::report::one_line(&what)
            ));
        }
        if outcome.credentials.is_empty() {
            out.push_str("  no credentials: the kubelet pulls anonymously\n");
        } else {
            let order = if outcome
                .credentials
                .iter()
                .any(|c| c.unordered_group.is_some())
            {
                "in the order the kubelet tries them, except within a marked group"
            } else {
                "in the order the kubelet tries them"
            };
            out.push_str(&format!("  credentials, {order}:\n"));
            for (i, c) in outcome.credentials.iter().enumerate() {
                let unordered = match c.unordered_group {
                    Some(group) => format!(
                        " [order unspecified within group {group}: the response spells this key more than once]"
                    ),
                    None => String::new(),
                };
                out.push_str(&format!(
                    "    {}. {}: {:?} / {} (from {}){unordered}\n",
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

/// ` in 12.3 ms, guest peak memory 1.1 MiB, host peak RSS 13.1 MiB, code from the cache`: what
/// a plugin author sizes `--timeout` and `--memory` from, and whether the exec compiled.
fn describe_cost(stats: ExecStats) -> String {
    let mut out = format!(" in {:.1} ms", stats.wall.as_secs_f64() * 1000.0);
    if let Some(peak) = stats.guest_peak_memory {
        out.push_str(&format!(", guest peak memory {}", format_size(peak)));
    }
    if let Some(rss) = stats.host_peak_rss {
        out.push_str(&format!(", host peak RSS {}", format_size(rss)));
    }
    match stats.code {
        Some("compiled") => out.push_str(", code compiled now"),
        Some("cache") => out.push_str(", code from the cache"),
        Some("precompiled") => out.push_str(", code precompiled (.cwasm)"),
        _ => {}
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
                    "wallMillis": p.stats.map(|s| s.wall.as_secs_f64() * 1000.0),
                    "guestPeakMemoryBytes": p.stats.and_then(|s| s.guest_peak_memory),
                    "hostPeakRssBytes": p.stats.and_then(|s| s.host_peak_rss),
                    "code": p.stats.and_then(|s| s.code),
                })).collect::<Vec<_>>(),
                "credentials": o.credentials.iter().map(|c| json!({
                    "key": c.key,
                    "username": c.username,
                    "password": shown_password(&c.password, show_secrets),
                    "provider": c.provider,
                    "unorderedGroup": c.unordered_group,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "images": images })
}
