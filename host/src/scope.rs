//! Response scoping (`--allow-auth-key`): which registries a module may hand the kubelet
//! credentials for.
//!
//! The kubelet merges every provider's `auth` entries with pull secrets and tries all that match
//! an image, so a module answering for registries it was not configured for would slip its own
//! credentials in front of (or beside) the legitimate ones. A scoped provider's response is
//! refused whole if any key falls outside its patterns.

use credential_provider_protocol::Response;
use credential_provider_protocol::matching::{
    normalize_auth_key, urls_match, validate_match_image,
};

/// The `auth` keys a module may return: patterns with the kubelet's matchImages syntax
/// (`registry.example.com`, `*.gcr.io`, `*.azurecr.*`, `registry.example.com:5000/team`).
#[derive(Clone, Debug, Default)]
pub struct AuthKeyScope {
    patterns: Vec<String>,
}

/// A response key outside the scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "response auth key {key:?} is outside --allow-auth-key ({allowed}); refusing the whole response"
)]
pub struct OutOfScope {
    /// The offending key as the module wrote it (registry names, not secrets).
    pub key: String,
    /// The allowed patterns, comma-separated.
    pub allowed: String,
}

impl AuthKeyScope {
    /// Parses the patterns, each as the kubelet validates a `matchImages` entry. An empty list
    /// means "unrestricted".
    pub fn parse(patterns: &[String]) -> Result<Self, String> {
        for pattern in patterns {
            validate_match_image(pattern)
                .map_err(|e| format!("--allow-auth-key {pattern:?}: {e}"))?;
        }
        Ok(AuthKeyScope {
            patterns: patterns.to_vec(),
        })
    }

    /// Whether any restriction is in force.
    pub fn is_restricted(&self) -> bool {
        !self.patterns.is_empty()
    }

    /// Whether one `auth` key is covered: after the kubelet's key clean-up (scheme, `/v1/`,
    /// `/v2/`), some pattern must match it with the kubelet's own rules. A glob key is covered
    /// only by a pattern at least as broad (`*.gcr.io` by `*.gcr.io`, not by `eu.gcr.io`).
    pub fn allows(&self, key: &str) -> bool {
        if !self.is_restricted() {
            return true;
        }
        match normalize_auth_key(key) {
            Some(normalized) => self
                .patterns
                .iter()
                .any(|pattern| urls_match(pattern, &normalized)),
            None => false,
        }
    }

    /// Checks every key of `response`.
    pub fn check(&self, response: &Response) -> Result<(), OutOfScope> {
        match response.auth.keys().find(|key| !self.allows(key)) {
            Some(key) => Err(OutOfScope {
                key: key.chars().take(200).collect(),
                allowed: self.patterns.join(", "),
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(patterns: &[&str]) -> AuthKeyScope {
        AuthKeyScope::parse(&patterns.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn unrestricted_allows_everything() {
        assert!(scope(&[]).allows("anything.example"));
    }

    #[test]
    fn exact_and_glob_patterns() {
        let gcp = scope(&[
            "container.cloud.google.com",
            "gcr.io",
            "*.gcr.io",
            "*.pkg.dev",
        ]);
        for key in [
            "gcr.io",
            "*.gcr.io",
            "eu.gcr.io",
            "https://gcr.io",
            "us-docker.pkg.dev",
            "*.pkg.dev",
            "gcr.io/v2/",
        ] {
            assert!(gcp.allows(key), "{key}");
        }
        for key in [
            "docker.io",
            "*.io",
            "*",
            "a.b.gcr.io",
            "gcr.io:443",
            "index.docker.io",
            "evil.example/gcr.io",
        ] {
            assert!(!gcp.allows(key), "{key}");
        }
    }

    #[test]
    fn azure_wildcard_tld() {
        let acr = scope(&["*.azurecr.*"]);
        assert!(acr.allows("myreg.azurecr.io"));
        assert!(acr.allows("*.azurecr.*"));
        assert!(!acr.allows("myreg.azurecr.io.evil.example"));
    }

    #[test]
    fn path_and_port_scoping() {
        let s = scope(&["registry.example.com:5000/team"]);
        assert!(s.allows("registry.example.com:5000/team/app"));
        assert!(!s.allows("registry.example.com:5000/other"));
        assert!(!s.allows("registry.example.com/team"));
    }

    #[test]
    fn bad_pattern_is_rejected() {
        assert!(AuthKeyScope::parse(&["%invalid%".to_string()]).is_err());
    }
}
