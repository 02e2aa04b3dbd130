//! A builder for the response to one request.

use credential_provider_protocol::{
    AuthConfig, CacheKeyType, GoDuration, Request, Response, Secret,
};

/// Builds a [`Response`] in the request's API version (the kubelet refuses any other).
///
/// Defaults: `cacheKeyType: Registry`, no `cacheDuration` (the provider's `defaultCacheDuration`
/// applies), no credentials.
#[derive(Clone, Debug)]
pub struct ResponseBuilder {
    response: Response,
}

impl ResponseBuilder {
    /// Starts a response answering `request`.
    pub fn new(request: &Request) -> Self {
        ResponseBuilder {
            response: Response::new(request.api_version, CacheKeyType::Registry),
        }
    }

    /// How the kubelet keys its cache of this answer.
    pub fn cache_key_type(mut self, cache_key_type: CacheKeyType) -> Self {
        self.response.cache_key_type = cache_key_type;
        self
    }

    /// How long the kubelet may reuse this answer; zero means "do not cache".
    pub fn cache_duration(mut self, duration: GoDuration) -> Self {
        self.response.cache_duration = Some(duration);
        self
    }

    /// Adds credentials for images matching `key` (a registry host, `host/path` prefix, or a
    /// glob such as `*.registry.io`).
    pub fn credential(
        mut self,
        key: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Self {
        self.response
            .auth
            .insert(key.into(), AuthConfig::new(username, password));
        self
    }

    /// The finished response.
    pub fn build(self) -> Response {
        self.response
    }
}

/// Starts a response to a request: `Response::builder(&request)`.
pub trait ResponseExt {
    /// A [`ResponseBuilder`] answering `request`.
    fn builder(request: &Request) -> ResponseBuilder;
}

impl ResponseExt for Response {
    fn builder(request: &Request) -> ResponseBuilder {
        ResponseBuilder::new(request)
    }
}
