//! One kubelet, in memory: for each image pull, the providers consulted in config order, each
//! skipped, served from its cache or executed, and the credentials the kubelet would try, in its
//! order (`providersDockerKeyring.Lookup` then `BasicDockerKeyring.Lookup`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use credential_provider_protocol::image::normalize_image;
use credential_provider_protocol::matching::{Keyring, normalize_auth_key, urls_match};
use credential_provider_protocol::{ApiVersion, AuthConfig, GoDuration, Request, Secret};

use super::config::CredentialProvider;
use super::exec::{ExecStats, PluginCommand, exec_plugin_measured};
use super::provider_cache::{ProviderCache, ServiceAccountKey};

/// The pod's service account, for providers in token mode.
#[derive(Clone, Debug)]
pub struct ServiceAccount {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The token the kubelet would have minted for the provider's audience.
    pub token: Secret,
    /// The service account's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// What happened to one provider whose `matchImages` matched an image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderOutcome {
    /// The provider's name.
    pub name: String,
    /// Whether the plugin was executed.
    pub executed: bool,
    /// Whether the answer came from the provider's cache.
    pub cached: bool,
    /// Why the provider was skipped without executing (token-mode rules), if it was.
    pub skipped: Option<String>,
    /// Why an execution yielded nothing, if it failed.
    pub error: Option<String>,
    /// How long the answer was cached for, if it was stored.
    pub cached_for: Option<Duration>,
    /// What the execution cost, if the plugin was executed.
    pub stats: Option<ExecStats>,
}

/// One credential the kubelet would try.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    /// The normalised `auth` key it was found under (`index.docker.io` for the Docker Hub
    /// fallback).
    pub key: String,
    /// Username.
    pub username: String,
    /// Password (redacted in `Debug`).
    pub password: Secret,
    /// The provider that returned it.
    pub provider: String,
    /// Set when the kubelet's order is unspecified between this credential and the others with
    /// the same value: one response gave several spellings of one key (`https://r.io` and
    /// `r.io`), which the kubelet indexes as one key while walking the response's map in Go's
    /// random order.
    pub unordered_group: Option<u32>,
}

/// The outcome of one pull.
#[derive(Clone, Debug)]
pub struct PullOutcome {
    /// The image as given.
    pub image: String,
    /// The normalised repository name, or why the reference is invalid.
    pub normalized: Result<String, String>,
    /// The providers that matched, in the order consulted.
    pub providers: Vec<ProviderOutcome>,
    /// The credentials to try, in order; empty means an anonymous pull.
    pub credentials: Vec<Credential>,
}

/// A kubelet's credential-provider state across pulls: the registered providers and their caches.
pub struct Kubelet {
    providers: Vec<CredentialProvider>,
    caches: Vec<ProviderCache>,
    bin_dir: PathBuf,
    service_account: Option<ServiceAccount>,
    timeout: Duration,
}

impl Kubelet {
    /// Providers as loaded from a valid config (config order), executables under `bin_dir`.
    pub fn new(
        providers: Vec<CredentialProvider>,
        bin_dir: PathBuf,
        service_account: Option<ServiceAccount>,
    ) -> Self {
        let caches = providers.iter().map(|_| ProviderCache::new()).collect();
        Kubelet {
            providers,
            caches,
            bin_dir,
            service_account,
            timeout: crate::limits::KUBELET_TIMEOUT,
        }
    }

    /// Overrides the 60 s execution limit (tests).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The credentials for pulling `image` (a reference as written in a pod spec).
    pub fn pull(&mut self, image: &str) -> PullOutcome {
        let mut outcome = PullOutcome {
            image: image.to_owned(),
            normalized: normalize_image(image).map_err(|e| e.to_string()),
            providers: Vec::new(),
            credentials: Vec::new(),
        };
        let Ok(normalized) = outcome.normalized.clone() else {
            return outcome;
        };
        let mut keyring = Keyring::new();
        let mut next_group = 1;
        for index in 0..self.providers.len() {
            let provider = &self.providers[index];
            if !provider
                .match_images
                .iter()
                .any(|p| urls_match(p, &normalized))
            {
                continue;
            }
            let (result, auth) = self.provide(index, &normalized);
            let mut spellings: BTreeMap<String, usize> = BTreeMap::new();
            for key in auth.keys().filter_map(|k| normalize_auth_key(k)) {
                *spellings.entry(key).or_default() += 1;
            }
            let mut groups: BTreeMap<String, u32> = BTreeMap::new();
            for (key, creds) in auth {
                let unordered_group = normalize_auth_key(&key)
                    .filter(|k| spellings.get(k).is_some_and(|&n| n > 1))
                    .map(|k| {
                        let next = next_group;
                        *groups.entry(k).or_insert_with(|| {
                            next_group += 1;
                            next
                        })
                    });
                keyring.add(
                    &key,
                    Credential {
                        key: String::new(),
                        username: creds.username,
                        password: creds.password,
                        provider: result.name.clone(),
                        unordered_group,
                    },
                );
            }
            outcome.providers.push(result);
        }
        outcome.credentials = keyring
            .lookup_with_keys(&normalized)
            .into_iter()
            .map(|(key, credential)| Credential {
                key: key.to_owned(),
                ..credential.clone()
            })
            .collect();
        outcome
    }

    /// One provider's `Provide(image)`: token-mode rules, cache, exec, cache store.
    fn provide(
        &mut self,
        index: usize,
        image: &str,
    ) -> (ProviderOutcome, BTreeMap<String, AuthConfig>) {
        let provider = &self.providers[index];
        let mut result = ProviderOutcome {
            name: provider.name.clone(),
            ..Default::default()
        };
        let api_version: ApiVersion = match provider.api_version.parse() {
            Ok(v) => v,
            Err(err) => {
                result.error = Some(err.to_string());
                return (result, BTreeMap::new());
            }
        };
        let mut request = Request::new(api_version, image);
        let mut sa_key = ServiceAccountKey::none();
        let mut token_echo_allowed = true;
        if let Some(attributes) = &provider.token_attributes {
            match &self.service_account {
                None if attributes.require_service_account != Some(false) => {
                    result.skipped = Some(
                        "the pod has no service account and tokenAttributes.requireServiceAccount is true"
                            .into(),
                    );
                    return (result, BTreeMap::new());
                }
                None => {}
                Some(sa) => {
                    let missing: Vec<&str> = attributes
                        .required_service_account_annotation_keys
                        .iter()
                        .filter(|k| !sa.annotations.contains_key(*k))
                        .map(String::as_str)
                        .collect();
                    if !missing.is_empty() {
                        result.skipped = Some(format!(
                            "the service account lacks required annotation(s) {}",
                            missing.join(", ")
                        ));
                        return (result, BTreeMap::new());
                    }
                    let annotations: BTreeMap<String, String> = attributes
                        .required_service_account_annotation_keys
                        .iter()
                        .chain(&attributes.optional_service_account_annotation_keys)
                        .filter_map(|k| sa.annotations.get(k).map(|v| (k.clone(), v.clone())))
                        .collect();
                    let token_cache = attributes.cache_type == "Token";
                    token_echo_allowed = token_cache;
                    sa_key = ServiceAccountKey::new(
                        &sa.namespace,
                        &sa.name,
                        "",
                        &annotations,
                        token_cache.then(|| sa.token.expose()),
                    );
                    request.service_account_token = Some(sa.token.clone());
                    request.service_account_annotations = annotations;
                }
            }
        }
        let now = Instant::now();
        if let Some(hit) = self.caches[index].lookup(image, &sa_key, now) {
            result.cached = true;
            return (result, hit.auth.clone());
        }
        let path = self.bin_dir.join(&provider.name);
        let command = PluginCommand {
            path: &path,
            args: &provider.args,
            env: &provider.env,
            timeout: self.timeout,
        };
        result.executed = true;
        let (outcome, stats) = exec_plugin_measured(command, &request, token_echo_allowed, true);
        result.stats = Some(stats);
        match outcome {
            Ok(response) => {
                let default = provider.default_cache_duration.unwrap_or(GoDuration::ZERO);
                result.cached_for =
                    self.caches[index].store(image, &sa_key, &response, default, Instant::now());
                (result, response.auth)
            }
            Err(err) => {
                result.error = Some(err.to_string());
                (result, BTreeMap::new())
            }
        }
    }
}
