//! `static-credentials`: answers every request with one fixed username and password.
//!
//! The credentials come from the environment the host grants (`--env REGISTRY_USERNAME --env
//! REGISTRY_PASSWORD`), never from args (args show up in process listings and kubelet configs).
//! They are returned for the requested image's registry (`host[:port]`), or for the key given with
//! `--registry`.
//!
//! Guest arguments (the host's `--arg`):
//! - `--registry KEY`: the `auth` key to answer for, instead of the image's registry;
//! - `--cache-key-type Image|Registry|Global` (default `Registry`);
//! - `--cache-duration DURATION`: a Go duration such as `10m`; unset leaves the kubelet's
//!   `defaultCacheDuration` in force, `0` disables caching.

use std::process::ExitCode;

use credential_provider_sdk::args::{Arg, Args};
use credential_provider_sdk::{
    CacheKeyType, GoDuration, Request, Response, ResponseExt, registry_of,
};

/// What the plugin answers with, read from its arguments and environment.
#[derive(Debug, PartialEq)]
struct Settings {
    registry: Option<String>,
    cache_key_type: CacheKeyType,
    cache_duration: Option<GoDuration>,
    username: String,
    password: String,
}

impl Settings {
    fn from_args_and_env(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let mut registry = None;
        let mut cache_key_type = CacheKeyType::Registry;
        let mut cache_duration = None;
        let mut args = Args::new(args);
        while let Some(arg) = args.next()? {
            match arg {
                Arg::Long("registry") => registry = Some(args.value()?),
                Arg::Long("cache-key-type") => {
                    cache_key_type = args.parse(|v| {
                        CacheKeyType::from_wire(v)
                            .ok_or_else(|| format!("must be Image, Registry or Global, not {v:?}"))
                    })?;
                }
                Arg::Long("cache-duration") => {
                    cache_duration =
                        Some(args.parse(|v| GoDuration::parse(v).map_err(|e| e.to_string()))?);
                }
                other => return Err(other.unexpected().into()),
            }
        }
        let username = env("REGISTRY_USERNAME")
            .ok_or("REGISTRY_USERNAME is not set (grant it with --env REGISTRY_USERNAME)")?;
        let password = env("REGISTRY_PASSWORD")
            .ok_or("REGISTRY_PASSWORD is not set (grant it with --env REGISTRY_PASSWORD)")?;
        Ok(Settings {
            registry,
            cache_key_type,
            cache_duration,
            username,
            password,
        })
    }

    fn answer(&self, request: &Request) -> Response {
        let key = self
            .registry
            .clone()
            .unwrap_or_else(|| registry_of(&request.image).to_owned());
        let mut builder = Response::builder(request)
            .cache_key_type(self.cache_key_type)
            .credential(key, self.username.clone(), self.password.clone());
        if let Some(duration) = self.cache_duration {
            builder = builder.cache_duration(duration);
        }
        builder.build()
    }
}

fn main() -> ExitCode {
    credential_provider_sdk::run(|request: &Request| {
        let settings =
            Settings::from_args_and_env(std::env::args().skip(1), |k| std::env::var(k).ok())?;
        Ok::<_, String>(settings.answer(request))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use credential_provider_sdk::{ApiVersion, handle};

    fn env(name: &str) -> Option<String> {
        match name {
            "REGISTRY_USERNAME" => Some("robot".into()),
            "REGISTRY_PASSWORD" => Some("s3cret".into()),
            _ => None,
        }
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn answers_for_the_image_registry_by_default() {
        let settings = Settings::from_args_and_env(args(&[]), env).unwrap();
        let request = Request::new(ApiVersion::V1, "registry.example:5000/team/app");
        let response = settings.answer(&request);
        assert_eq!(response.cache_key_type, CacheKeyType::Registry);
        assert_eq!(response.cache_duration, None);
        let creds = &response.auth["registry.example:5000"];
        assert_eq!(creds.username, "robot");
        assert_eq!(creds.password.expose(), "s3cret");
    }

    #[test]
    fn honours_flags() {
        let settings = Settings::from_args_and_env(
            args(&[
                "--registry",
                "*.example",
                "--cache-key-type",
                "Global",
                "--cache-duration",
                "90s",
            ]),
            env,
        )
        .unwrap();
        let response = settings.answer(&Request::new(ApiVersion::V1Alpha1, "a.example/x"));
        assert_eq!(response.api_version, ApiVersion::V1Alpha1);
        assert_eq!(response.cache_key_type, CacheKeyType::Global);
        assert_eq!(response.cache_duration, Some(GoDuration::from_secs(90)));
        assert!(response.auth.contains_key("*.example"));
    }

    #[test]
    fn refuses_bad_settings() {
        assert!(Settings::from_args_and_env(args(&["--cache-key-type", "registry"]), env).is_err());
        assert!(Settings::from_args_and_env(args(&["--cache-duration", "1d"]), env).is_err());
        assert!(Settings::from_args_and_env(args(&["--bogus"]), env).is_err());
        assert!(Settings::from_args_and_env(args(&["--registry"]), env).is_err());
        assert!(Settings::from_args_and_env(args(&["stray"]), env).is_err());
        assert_eq!(
            Settings::from_args_and_env(args(&["--cache-key-type=registry"]), env).unwrap_err(),
            "--cache-key-type: must be Image, Registry or Global, not \"registry\""
        );
        let s = Settings::from_args_and_env(args(&["--registry=*.example"]), env).unwrap();
        assert_eq!(s.registry.as_deref(), Some("*.example"));
        let err = Settings::from_args_and_env(args(&[]), |_| None).unwrap_err();
        assert!(err.contains("REGISTRY_USERNAME"));
    }

    #[test]
    fn end_to_end_through_the_sdk() {
        let settings = Settings::from_args_and_env(args(&[]), env).unwrap();
        let json = handle(
            b"{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":\"credentialprovider.kubelet.k8s.io/v1\",\"image\":\"r.io/a\"}\n",
            |r: &Request| Ok::<_, String>(settings.answer(r)),
        )
        .unwrap();
        assert_eq!(
            json,
            "{\"kind\":\"CredentialProviderResponse\",\"apiVersion\":\"credentialprovider.kubelet.k8s.io/v1\",\"cacheKeyType\":\"Registry\",\"auth\":{\"r.io\":{\"username\":\"robot\",\"password\":\"s3cret\"}}}"
        );
    }
}
