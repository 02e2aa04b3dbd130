//! The kubelet image credential provider protocol, defined once for the host and the guest SDK.
//!
//! Wire types for `credentialprovider.kubelet.k8s.io/{v1alpha1,v1beta1,v1}`, the kubelet's strict
//! response decoding, Go durations, and the kubelet's image-reference and image-matching rules.
//! Nothing here depends on a target: it builds natively and for `wasm32-wasip1`/`wasm32-wasip2`.
#![deny(missing_docs)]

pub mod image;
pub mod matching;

pub mod api;
pub mod duration;
mod json;
pub mod request;
pub mod response;
pub mod secret;

pub use api::{ApiVersion, CacheKeyType, UnsupportedApiVersion};
pub use duration::{DurationError, GoDuration};
pub use json::JsonError;
pub use request::{Request, RequestError};
pub use response::{AuthConfig, Expectation, Response, ResponseError};
pub use secret::Secret;
