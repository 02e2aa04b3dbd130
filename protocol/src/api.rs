//! API versions and kinds of the `credentialprovider.kubelet.k8s.io` group.

use std::fmt;
use std::str::FromStr;

/// The API group every request and response belongs to.
pub const GROUP: &str = "credentialprovider.kubelet.k8s.io";
/// `kind` of the object the kubelet writes on the plugin's stdin.
pub const REQUEST_KIND: &str = "CredentialProviderRequest";
/// `kind` of the object a plugin writes on its stdout.
pub const RESPONSE_KIND: &str = "CredentialProviderResponse";

/// One of the three versions of the exec-plugin API the kubelet speaks.
///
/// The kubelet sends requests in the provider's configured version and accepts only a response
/// whose `apiVersion` is byte-identical to it: there is no negotiation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApiVersion {
    /// `credentialprovider.kubelet.k8s.io/v1alpha1` (Kubernetes 1.20+).
    V1Alpha1,
    /// `credentialprovider.kubelet.k8s.io/v1beta1` (Kubernetes 1.24+).
    V1Beta1,
    /// `credentialprovider.kubelet.k8s.io/v1` (Kubernetes 1.26+); the only one with service-account tokens.
    V1,
}

impl ApiVersion {
    /// Every version, oldest first.
    pub const ALL: [ApiVersion; 3] = [ApiVersion::V1Alpha1, ApiVersion::V1Beta1, ApiVersion::V1];

    /// The full `apiVersion` string, group included.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1Alpha1 => "credentialprovider.kubelet.k8s.io/v1alpha1",
            ApiVersion::V1Beta1 => "credentialprovider.kubelet.k8s.io/v1beta1",
            ApiVersion::V1 => "credentialprovider.kubelet.k8s.io/v1",
        }
    }

    /// Whether requests of this version may carry `serviceAccountToken`/`serviceAccountAnnotations`.
    pub fn supports_service_account_token(self) -> bool {
        self == ApiVersion::V1
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string is not one of the three supported `apiVersion` values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unsupported apiVersion {0:?}: supported values are \"credentialprovider.kubelet.k8s.io/v1\", \"credentialprovider.kubelet.k8s.io/v1alpha1\", \"credentialprovider.kubelet.k8s.io/v1beta1\""
)]
pub struct UnsupportedApiVersion(pub String);

impl FromStr for ApiVersion {
    type Err = UnsupportedApiVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApiVersion::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnsupportedApiVersion(s.to_owned()))
    }
}

/// How the kubelet keys its cache of a response (`cacheKeyType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CacheKeyType {
    /// Cached for the requested image (repository) only.
    Image,
    /// Cached for every image on the requested image's registry (host[:port]).
    Registry,
    /// Cached for every image the provider matches.
    Global,
}

impl CacheKeyType {
    /// The wire value (case-sensitive).
    pub fn as_str(self) -> &'static str {
        match self {
            CacheKeyType::Image => "Image",
            CacheKeyType::Registry => "Registry",
            CacheKeyType::Global => "Global",
        }
    }

    /// Parses the exact, case-sensitive wire value.
    pub fn from_wire(s: &str) -> Option<Self> {
        match s {
            "Image" => Some(CacheKeyType::Image),
            "Registry" => Some(CacheKeyType::Registry),
            "Global" => Some(CacheKeyType::Global),
            _ => None,
        }
    }
}

impl fmt::Display for CacheKeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_round_trip() {
        for v in ApiVersion::ALL {
            assert_eq!(v.as_str().parse::<ApiVersion>().unwrap(), v);
        }
    }

    #[test]
    fn api_version_is_exact() {
        assert!(
            "credentialprovider.kubelet.k8s.io/V1"
                .parse::<ApiVersion>()
                .is_err()
        );
        assert!(
            "credentialprovider.kubelet.k8s.io/v1 "
                .parse::<ApiVersion>()
                .is_err()
        );
        assert!(
            "foobar.kubelet.k8s.io/v1beta1"
                .parse::<ApiVersion>()
                .is_err()
        );
    }

    #[test]
    fn cache_key_type_is_case_sensitive() {
        assert_eq!(
            CacheKeyType::from_wire("Registry"),
            Some(CacheKeyType::Registry)
        );
        assert_eq!(CacheKeyType::from_wire("registry"), None);
        assert_eq!(CacheKeyType::from_wire(""), None);
    }
}
