//! `CredentialProviderConfig`: the kubelet's `--image-credential-provider-config`, read, decoded
//! and validated with the kubelet's rules (`pkg/credentialprovider/plugin/config.go`).
//!
//! [`load`] mirrors `readCredentialProviderConfig` (a file, or a directory of `*.json`, `*.yaml`,
//! `*.yml` files in lexicographic order, the config hash, duplicate provider names), the codec
//! each file goes through ([`decode_config`]: JSON or YAML 1.1, strict, with the kubelet's
//! error texts) and `validateCredentialProviderConfig`. Where the kubelet stops at the first
//! problem it goes on and collects every one ([`LoadedConfig::problems`]), and it also keeps
//! the one line the kubelet would stop with ([`LoadedConfig::kubelet_error`]).

mod codec;
mod decode;
mod json;
mod read;
mod validate;
mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

use credential_provider_protocol::{GoDuration, Secret};

use crate::kubelet::field::go_quote;

pub use codec::decode_config;
pub use read::{config_files, config_hash};
pub use validate::{FeatureGates, is_qualified_name, validate};

/// API group of the config file.
pub const CONFIG_GROUP: &str = "kubelet.config.k8s.io";
/// `kind` of the config file.
pub const CONFIG_KIND: &str = "CredentialProviderConfig";

/// A version of `kubelet.config.k8s.io` that has `CredentialProviderConfig`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigVersion {
    /// `kubelet.config.k8s.io/v1alpha1` (1.20+).
    V1Alpha1,
    /// `kubelet.config.k8s.io/v1beta1` (1.24+).
    V1Beta1,
    /// `kubelet.config.k8s.io/v1` (1.26+); the only one with `tokenAttributes`.
    V1,
}

impl ConfigVersion {
    /// The version from the part of `apiVersion` after the group.
    pub fn from_version(version: &str) -> Option<Self> {
        match version {
            "v1alpha1" => Some(ConfigVersion::V1Alpha1),
            "v1beta1" => Some(ConfigVersion::V1Beta1),
            "v1" => Some(ConfigVersion::V1),
            _ => None,
        }
    }

    /// Whether providers may carry `tokenAttributes` in this version.
    pub fn has_token_attributes(self) -> bool {
        self == ConfigVersion::V1
    }
}

/// The whole configuration, providers in the kubelet's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CredentialProviderConfig {
    /// The providers, in file order.
    pub providers: Vec<CredentialProvider>,
}

/// One `providers` entry, as decoded (not yet validated).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CredentialProvider {
    /// The executable's name in the bin dir.
    pub name: String,
    /// Patterns of images this provider is executed for.
    pub match_images: Vec<String>,
    /// How long responses without `cacheDuration` are cached; `None` when absent.
    pub default_cache_duration: Option<GoDuration>,
    /// The `credentialprovider.kubelet.k8s.io` version spoken to the plugin (unchecked string).
    pub api_version: String,
    /// Arguments after the executable's path.
    pub args: Vec<String>,
    /// Environment variables added to the kubelet's own.
    pub env: Vec<EnvVar>,
    /// Service-account token mode (v1 only).
    pub token_attributes: Option<TokenAttributes>,
}

/// One `env` entry. The value may be a credential: its `Debug` is redacted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvVar {
    /// Variable name (not validated by the kubelet).
    pub name: String,
    /// Variable value.
    pub value: Secret,
}

/// `tokenAttributes` (`ServiceAccountTokenAttributes`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenAttributes {
    /// Audience of the service-account token.
    pub service_account_token_audience: String,
    /// `ServiceAccount` or `Token` (unchecked string).
    pub cache_type: String,
    /// Whether a pod without a service account skips this provider; `None` when absent.
    pub require_service_account: Option<bool>,
    /// Annotations the service account must have, or the provider is skipped.
    pub required_service_account_annotation_keys: Vec<String>,
    /// Annotations passed to the plugin when present.
    pub optional_service_account_annotation_keys: Vec<String>,
}

/// One problem with a configuration: the kubelet's message, and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The provider it concerns, if one.
    pub provider: Option<String>,
    /// The field path (`providers.matchImages`), if the problem is a field's.
    pub field: Option<String>,
    /// The kubelet's error text.
    pub message: String,
}

impl ConfigProblem {
    /// A problem with no provider or field (reading or decoding a file).
    pub fn general(message: impl Into<String>) -> Self {
        ConfigProblem {
            provider: None,
            field: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.provider {
            Some(provider) => write!(f, "provider {provider:?}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The outcome of loading a config path: what decoded, and every problem found.
#[derive(Clone, Debug, Default)]
pub struct LoadedConfig {
    /// The files read, in load order.
    pub files: Vec<PathBuf>,
    /// The kubelet's `sha256:<hex>` config hash, when every file could be read.
    pub hash: Option<String>,
    /// The merged config (providers of files that decoded, duplicates dropped).
    pub config: CredentialProviderConfig,
    /// Every problem, in the order the kubelet would meet them: each file that cannot be read
    /// or decoded, duplicate provider names, then (only when every file decoded) each
    /// validation problem.
    pub problems: Vec<ConfigProblem>,
    /// The one error the kubelet itself would stop with, in its words.
    kubelet_error: Option<String>,
}

impl LoadedConfig {
    /// Whether the kubelet would start with this configuration.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }

    /// The error the kubelet (v1.36) refuses this configuration with, exactly as it writes it:
    /// the first file it cannot read or decode (`error decoding config "<path>": ...`, the
    /// path as given), a provider name found twice (`duplicate provider name "x" found in
    /// configuration file(s)`), or every validation problem in one line (`failed to validate
    /// credential provider config: ...`, several as `[a, b]`). `None` when it would accept it.
    pub fn kubelet_error(&self) -> Option<&str> {
        self.kubelet_error.as_deref()
    }
}

/// Reads, decodes, merges and validates the config at `path` (a file or a directory) as the
/// kubelet's `readCredentialProviderConfig` and `validateCredentialProviderConfig` do,
/// collecting every problem instead of stopping at the first (see [`LoadedConfig`]).
pub fn load(path: &Path, gates: FeatureGates) -> LoadedConfig {
    let files = match config_files(path) {
        Ok(files) => files,
        Err(problem) => {
            return LoadedConfig {
                kubelet_error: Some(problem.message.clone()),
                problems: vec![problem],
                ..Default::default()
            };
        }
    };
    let sources = files
        .into_iter()
        .map(|file| {
            let data = read::read_file(&file);
            ConfigSource { path: file, data }
        })
        .collect();
    load_sources(sources, gates)
}

/// One config file as the kubelet would read it: its path as the kubelet names it, and its
/// bytes (or why they cannot be read, in Go's words).
#[derive(Clone, Debug)]
pub struct ConfigSource {
    /// The path, as given to (or joined by) the kubelet.
    pub path: PathBuf,
    /// The file's bytes, or the read error.
    pub data: Result<Vec<u8>, String>,
}

/// [`load`] over files already read, in the kubelet's order: for a config that is not on disk
/// yet (`install` checks the config directory as it will be after writing).
pub fn load_sources(sources: Vec<ConfigSource>, gates: FeatureGates) -> LoadedConfig {
    let mut loaded = LoadedConfig::default();
    let mut files = Vec::with_capacity(sources.len());
    let mut contents = Vec::new();
    let mut all_read = true;
    let mut all_decoded = true;
    let mut seen = std::collections::HashSet::new();
    let mut first_error: Option<String> = None;
    let mut note = |problem: ConfigProblem, problems: &mut Vec<ConfigProblem>| {
        if first_error.is_none() {
            first_error = Some(problem.message.clone());
        }
        problems.push(problem);
    };
    for source in sources {
        let file = &source.path;
        files.push(file.clone());
        let shown = go_quote(file.display().to_string());
        let data = match source.data {
            Ok(data) => data,
            Err(reason) => {
                all_read = false;
                all_decoded = false;
                note(
                    ConfigProblem::general(format!("unable to read file {shown}: {reason}")),
                    &mut loaded.problems,
                );
                continue;
            }
        };
        match decode_config(&data) {
            Ok(config) => {
                for provider in config.providers {
                    if !seen.insert(provider.name.clone()) {
                        note(
                            ConfigProblem {
                                provider: Some(provider.name.clone()),
                                field: Some("providers.name".into()),
                                message: format!(
                                    "duplicate provider name {} found in configuration file(s)",
                                    go_quote(&provider.name)
                                ),
                            },
                            &mut loaded.problems,
                        );
                        continue;
                    }
                    loaded.config.providers.push(provider);
                }
            }
            Err(err) => {
                all_decoded = false;
                note(
                    ConfigProblem::general(format!("error decoding config {shown}: {err}")),
                    &mut loaded.problems,
                );
            }
        }
        contents.push(data);
    }
    if all_read {
        loaded.hash = Some(config_hash(&contents));
    }
    loaded.files = files;
    // Validating what is left after a file failed to decode would report problems of the
    // wrong config (`at least 1 item in plugins is required` for a file that did not decode).
    if all_decoded {
        let validation = validate(&loaded.config, gates);
        if first_error.is_none() && !validation.is_empty() {
            first_error = Some(format!(
                "failed to validate credential provider config: {}",
                aggregate(validation.iter().map(|p| p.message.as_str()))
            ));
        }
        loaded.problems.extend(validation);
    }
    loaded.kubelet_error = first_error;
    loaded
}

/// apimachinery's `ErrorList.ToAggregate().Error()`: identical messages once, a single one as
/// it is, several as `[a, b]`.
fn aggregate<'a>(messages: impl Iterator<Item = &'a str>) -> String {
    let mut unique: Vec<&str> = Vec::new();
    for message in messages {
        if !unique.contains(&message) {
            unique.push(message);
        }
    }
    match unique.as_slice() {
        [one] => (*one).to_owned(),
        many => format!("[{}]", many.join(", ")),
    }
}

#[cfg(test)]
mod conformance_tests;
#[cfg(test)]
mod decoding_vector_tests;
#[cfg(test)]
mod rule_tests;
