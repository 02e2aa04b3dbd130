//! A provider's in-memory response cache, as the kubelet keeps it (`pkg/credentialprovider/
//! plugin/plugin.go`): looked up by image, then registry, then the global key; stored under the
//! key the response's `cacheKeyType` names, for its `cacheDuration` or the provider's default.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use credential_provider_protocol::image::registry_of;
use credential_provider_protocol::{AuthConfig, CacheKeyType, GoDuration, Response};
use sha2::{Digest, Sha256};

/// The kubelet's base key for `cacheKeyType: Global`.
pub const GLOBAL_CACHE_KEY: &str = "<global>";

/// The service-account part of a cache key (token mode), built once per pull.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceAccountKey(Vec<u8>);

impl ServiceAccountKey {
    /// No service account: the key of plain (non-token) mode.
    pub fn none() -> Self {
        ServiceAccountKey(Vec::new())
    }

    /// `LP(namespace) ‖ LP(name) ‖ LP(uid) ‖ u32(count) ‖ (LP(k) ‖ LP(v))*` sorted by key, and
    /// with `cacheType: Token` also `LP("token") ‖ LP("sha256:<hex of sha256(token)>")`.
    pub fn new(
        namespace: &str,
        name: &str,
        uid: &str,
        annotations: &BTreeMap<String, String>,
        token_for_token_cache: Option<&str>,
    ) -> Self {
        let mut key = Vec::new();
        push_lp(&mut key, namespace);
        push_lp(&mut key, name);
        push_lp(&mut key, uid);
        key.extend_from_slice(&(annotations.len() as u32).to_be_bytes());
        for (k, v) in annotations {
            push_lp(&mut key, k);
            push_lp(&mut key, v);
        }
        if let Some(token) = token_for_token_cache {
            push_lp(&mut key, "token");
            push_lp(
                &mut key,
                &format!("sha256:{}", hex::encode(Sha256::digest(token.as_bytes()))),
            );
        }
        ServiceAccountKey(key)
    }
}

/// A length-prefixed string: 2-byte big-endian length, then the bytes (longer strings are cut
/// at 65535 bytes; no image, name or annotation gets near that).
fn push_lp(key: &mut Vec<u8>, s: &str) {
    let bytes = &s.as_bytes()[..s.len().min(usize::from(u16::MAX))];
    key.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    key.extend_from_slice(bytes);
}

/// The kubelet's cache key: `LP(base) ‖ LP(service-account key)`.
pub fn cache_key(base: &str, service_account: &ServiceAccountKey) -> Vec<u8> {
    let mut key = Vec::new();
    push_lp(&mut key, base);
    let sa = &service_account.0[..service_account.0.len().min(usize::from(u16::MAX))];
    key.extend_from_slice(&(sa.len() as u16).to_be_bytes());
    key.extend_from_slice(sa);
    key
}

#[derive(Clone, Debug)]
struct Entry {
    expires_at: Instant,
    key_type: CacheKeyType,
    auth: BTreeMap<String, AuthConfig>,
}

/// One provider's cache.
#[derive(Clone, Debug, Default)]
pub struct ProviderCache {
    entries: HashMap<Vec<u8>, Entry>,
}

/// A cache hit: which key type it was stored under, and the credentials.
#[derive(Clone, Debug)]
pub struct CacheHit<'a> {
    /// The stored response's `cacheKeyType`.
    pub key_type: CacheKeyType,
    /// The stored credentials.
    pub auth: &'a BTreeMap<String, AuthConfig>,
}

impl ProviderCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The unexpired entry for `image`, looking up the image key, then its registry, then the
    /// global key; the first hit wins.
    pub fn lookup(
        &self,
        image: &str,
        service_account: &ServiceAccountKey,
        now: Instant,
    ) -> Option<CacheHit<'_>> {
        [image, registry_of(image), GLOBAL_CACHE_KEY]
            .into_iter()
            .filter_map(|base| self.entries.get(&cache_key(base, service_account)))
            .find(|entry| entry.expires_at > now)
            .map(|entry| CacheHit {
                key_type: entry.key_type,
                auth: &entry.auth,
            })
    }

    /// Stores `response` for `image` if the kubelet would: an explicit zero `cacheDuration`
    /// is not stored; an omitted one uses `default` (not stored if that is zero); a negative one
    /// is stored already expired. Returns the time it is kept, `None` when not stored.
    pub fn store(
        &mut self,
        image: &str,
        service_account: &ServiceAccountKey,
        response: &Response,
        default: GoDuration,
        now: Instant,
    ) -> Option<Duration> {
        let duration = match response.cache_duration {
            Some(d) if d == GoDuration::ZERO => return None,
            Some(d) => d,
            None if default == GoDuration::ZERO => return None,
            None => default,
        };
        let base = match response.cache_key_type {
            CacheKeyType::Image => image,
            CacheKeyType::Registry => registry_of(image),
            CacheKeyType::Global => GLOBAL_CACHE_KEY,
        };
        let kept = duration.to_std()?;
        let expires_at = now.checked_add(kept)?;
        self.entries.insert(
            cache_key(base, service_account),
            Entry {
                expires_at,
                key_type: response.cache_key_type,
                auth: response.auth.clone(),
            },
        );
        Some(kept).filter(|d| !d.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use credential_provider_protocol::ApiVersion;

    fn response(key_type: CacheKeyType, duration: Option<GoDuration>) -> Response {
        let mut r = Response::new(ApiVersion::V1, key_type);
        r.cache_duration = duration;
        r.auth.insert("r.io".into(), AuthConfig::new("u", "p"));
        r
    }

    #[test]
    fn key_is_length_prefixed() {
        assert_eq!(
            cache_key("registry.io/image", &ServiceAccountKey::none()),
            b"\x00\x11registry.io/image\x00\x00"
        );
    }

    #[test]
    fn lookup_order_and_key_types() {
        let now = Instant::now();
        let sa = ServiceAccountKey::none();
        let minute = Some(GoDuration::from_secs(60));
        let mut cache = ProviderCache::new();
        cache.store(
            "r.io/a",
            &sa,
            &response(CacheKeyType::Image, minute),
            GoDuration::ZERO,
            now,
        );
        assert!(cache.lookup("r.io/a", &sa, now).is_some());
        assert!(cache.lookup("r.io/b", &sa, now).is_none());
        cache.store(
            "r.io/a",
            &sa,
            &response(CacheKeyType::Registry, minute),
            GoDuration::ZERO,
            now,
        );
        assert_eq!(
            cache.lookup("r.io/b", &sa, now).unwrap().key_type,
            CacheKeyType::Registry
        );
        assert!(cache.lookup("q.io/b", &sa, now).is_none());
        cache.store(
            "r.io/a",
            &sa,
            &response(CacheKeyType::Global, minute),
            GoDuration::ZERO,
            now,
        );
        assert!(cache.lookup("q.io/b", &sa, now).is_some());
        // Image key first: r.io/a still finds its Image entry.
        assert_eq!(
            cache.lookup("r.io/a", &sa, now).unwrap().key_type,
            CacheKeyType::Image
        );
        // Expired.
        assert!(
            cache
                .lookup("r.io/a", &sa, now + Duration::from_secs(61))
                .is_none()
        );
        // Another service account does not see these entries.
        let other = ServiceAccountKey::new("ns", "sa", "", &BTreeMap::new(), None);
        assert!(cache.lookup("r.io/a", &other, now).is_none());
    }

    #[test]
    fn duration_rules() {
        let now = Instant::now();
        let sa = ServiceAccountKey::none();
        let mut cache = ProviderCache::new();
        let ten = GoDuration::from_secs(600);
        // Explicit zero: not stored even with a default.
        assert_eq!(
            cache.store(
                "r.io/a",
                &sa,
                &response(CacheKeyType::Image, Some(GoDuration::ZERO)),
                ten,
                now
            ),
            None
        );
        assert!(cache.lookup("r.io/a", &sa, now).is_none());
        // Omitted with a zero default: not stored.
        assert_eq!(
            cache.store(
                "r.io/a",
                &sa,
                &response(CacheKeyType::Image, None),
                GoDuration::ZERO,
                now
            ),
            None
        );
        // Negative: effectively not cached.
        cache.store(
            "r.io/a",
            &sa,
            &response(CacheKeyType::Image, Some(GoDuration::from_secs(-60))),
            ten,
            now,
        );
        assert!(cache.lookup("r.io/a", &sa, now).is_none());
        // Omitted: the default.
        assert_eq!(
            cache.store(
                "r.io/a",
                &sa,
                &response(CacheKeyType::Image, None),
                ten,
                now
            ),
            Some(Duration::from_secs(600))
        );
        assert!(
            cache
                .lookup("r.io/a", &sa, now + Duration::from_secs(599))
                .is_some()
        );
    }
}
