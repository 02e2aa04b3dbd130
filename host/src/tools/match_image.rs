//! `match`: which `matchImages` patterns, configured providers and response `auth` keys apply to
//! an image, under the kubelet's rules (image normalisation, `URLsMatchStr`, auth-key clean-up,
//! reverse-lexicographic key order, the Docker Hub fallback).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use credential_provider_protocol::image::normalize_image;
use credential_provider_protocol::matching::{Keyring, urls_match, validate_match_image};

use super::{EXIT_NO, EXIT_USAGE, EXIT_YES, config_refused, kubelet_error, usage_error};
use crate::kubelet::config::{FeatureGates, load};

/// The `--help` text of the subcommand (the variant in `cli.rs` refers to it).
pub const LONG_ABOUT: &str = "Show which matchImages patterns, configured providers or response auth keys \
        apply to an image, with the kubelet's rules.\n\n\
        IMAGE may be a full reference (nginx:1.25, registry.io:5000/a/b@sha256:...). It is \
        normalised as the kubelet does before asking providers (docker.io/library/nginx) and \
        the normalised name is printed first; --raw matches IMAGE exactly as given.\n\n\
        Matching: ports must be equal (a pattern without a port never matches an image with one), \
        hosts must have as many dot-separated labels, each label is a glob (* never spans a dot), \
        and the image path must start with the pattern's path (a plain string prefix, no globs).\n\n\
        Auth keys (the keys of a response's \"auth\" map) are cleaned up first (scheme dropped, \
        a leading /v1/ or /v2/ removed) and printed in the order the kubelet tries them \
        (reverse lexicographic); index.docker.io also serves Docker Hub images no key matched.\n\n\
        Exit status: 0 something matched, 1 nothing did, 2 bad input.\n\n\
        Examples:\n  wasm-credential-provider match nginx:1.25 --pattern docker.io --pattern '*.io'\n  \
        wasm-credential-provider match 123456789012.dkr.ecr.us-west-2.amazonaws.com/app:v1 \\\n      \
        --config /etc/kubernetes/credential-providers.yaml\n  \
        wasm-credential-provider match nginx --auth-key https://index.docker.io/v1/";

/// Arguments of `match`.
#[derive(Debug, Args)]
pub struct MatchArgs {
    /// The image, as written in a pod spec.
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// A matchImages pattern to test (repeatable).
    #[arg(long = "pattern", value_name = "PATTERN")]
    pub patterns: Vec<String>,
    /// A CredentialProviderConfig file or directory: print the providers the kubelet would
    /// execute for IMAGE, in its order.
    #[arg(long = "config", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// A response auth key to test (repeatable).
    #[arg(long = "auth-key", value_name = "KEY")]
    pub auth_keys: Vec<String>,
    /// Match IMAGE as given, without the kubelet's normalisation.
    #[arg(long)]
    pub raw: bool,
}

/// Runs `match`.
pub fn main(args: &MatchArgs) -> ExitCode {
    match run(args) {
        Ok((lines, matched)) => {
            let mut stdout = std::io::stdout().lock();
            for line in lines {
                let _ = writeln!(stdout, "{line}");
            }
            ExitCode::from(if matched { EXIT_YES } else { EXIT_NO })
        }
        Err(MatchError::Usage(message)) => usage_error("match", &message, EXIT_USAGE),
        Err(MatchError::ConfigRefused(error)) => config_refused(
            "match",
            args.config.as_deref().unwrap_or(std::path::Path::new("")),
            &error,
            EXIT_USAGE,
        ),
    }
}

/// Why `match` has no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchError {
    /// Bad arguments.
    Usage(String),
    /// `--config` is a config the kubelet refuses to start with: its exact error.
    ConfigRefused(String),
}

impl From<String> for MatchError {
    fn from(message: String) -> Self {
        MatchError::Usage(message)
    }
}

/// The output lines and whether anything matched; `Err` for bad input. Warnings about auth keys
/// the kubelet would ignore go to stderr.
pub fn run(args: &MatchArgs) -> Result<(Vec<String>, bool), MatchError> {
    if args.patterns.is_empty() && args.config.is_none() && args.auth_keys.is_empty() {
        return Err(MatchError::Usage(
            "give at least one of --pattern, --config, --auth-key".into(),
        ));
    }
    let image = if args.raw {
        args.image.clone()
    } else {
        normalize_image(&args.image).map_err(|e| format!("image {:?}: {e}", args.image))?
    };
    let mut lines = vec![format!("image: {image}")];
    let mut matched = false;
    for pattern in &args.patterns {
        validate_match_image(pattern).map_err(|e| format!("--pattern {pattern:?}: {e}"))?;
        if urls_match(pattern, &image) {
            lines.push(format!("pattern: {pattern}"));
            matched = true;
        }
    }
    if let Some(path) = &args.config {
        let loaded = load(path, FeatureGates::default());
        if let Some(error) = kubelet_error(&loaded) {
            return Err(MatchError::ConfigRefused(error));
        }
        for provider in &loaded.config.providers {
            let hits: Vec<&str> = provider
                .match_images
                .iter()
                .filter(|p| urls_match(p, &image))
                .map(String::as_str)
                .collect();
            if !hits.is_empty() {
                lines.push(format!(
                    "provider: {} (matchImages: {})",
                    provider.name,
                    hits.join(", ")
                ));
                matched = true;
            }
        }
    }
    let mut keyring = Keyring::new();
    for key in &args.auth_keys {
        if !keyring.add(key, key.clone()) {
            crate::report::print_error(
                "match",
                &format!("auth key {key:?} does not parse as a URL; the kubelet ignores it"),
            );
        }
    }
    for (normalized, key) in keyring.lookup_with_keys(&image) {
        let fallback = !urls_match(normalized, &image);
        let mut line = format!("auth-key: {key}");
        if normalized != key {
            line.push_str(&format!(" (as {normalized})"));
        }
        if fallback {
            line.push_str(" (Docker Hub fallback: no key matched)");
        }
        lines.push(line);
        matched = true;
    }
    Ok((lines, matched))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(image: &str) -> MatchArgs {
        MatchArgs {
            image: image.into(),
            patterns: vec![],
            config: None,
            auth_keys: vec![],
            raw: false,
        }
    }

    #[test]
    fn patterns_against_a_normalised_image() {
        let mut a = args("nginx:1.25");
        a.patterns = vec![
            "docker.io".into(),
            "*.io".into(),
            "quay.io".into(),
            "docker.io:443".into(),
        ];
        let (lines, matched) = run(&a).unwrap();
        assert!(matched);
        assert_eq!(
            lines,
            [
                "image: docker.io/library/nginx",
                "pattern: docker.io",
                "pattern: *.io"
            ]
        );
    }

    #[test]
    fn raw_skips_normalisation() {
        let mut a = args("nginx");
        a.raw = true;
        a.patterns = vec!["docker.io".into()];
        let (lines, matched) = run(&a).unwrap();
        assert!(!matched);
        assert_eq!(lines, ["image: nginx"]);
    }

    #[test]
    fn auth_keys_in_kubelet_order_with_fallback() {
        let mut a = args("");
        a.image = format!("registry.io:5000/team/app@sha256:{}", "a".repeat(64));
        a.auth_keys = vec![
            "registry.io:5000".into(),
            "https://registry.io:5000/v2/team".into(),
            "registry.io".into(),
        ];
        let (lines, _) = run(&a).unwrap();
        assert_eq!(
            lines,
            [
                "image: registry.io:5000/team/app",
                "auth-key: https://registry.io:5000/v2/team (as registry.io:5000/team)",
                "auth-key: registry.io:5000",
            ]
        );
        let mut a = args("nginx");
        a.auth_keys = vec!["https://index.docker.io/v1/".into()];
        let (lines, matched) = run(&a).unwrap();
        assert!(matched);
        assert_eq!(
            lines[1],
            "auth-key: https://index.docker.io/v1/ (as index.docker.io) (Docker Hub fallback: no key matched)"
        );
    }

    #[test]
    fn bad_input() {
        assert!(run(&args("nginx")).is_err());
        let mut a = args("team/App");
        a.patterns = vec!["x".into()];
        assert!(run(&a).is_err());
        let mut a = args("nginx");
        a.patterns = vec!["%zz".into()];
        assert!(
            matches!(run(&a), Err(MatchError::Usage(m)) if m.contains("match image is invalid"))
        );
    }
}
