//! Write a kubelet image credential provider plugin in a few lines of Rust.
//!
//! The same code builds for `wasm32-wasip2` (a component the `wasm-credential-provider` host runs
//! in its sandbox), `wasm32-wasip1` (a core module), and natively, so plugin logic can be unit
//! tested with `cargo test`.
//!
//! ```no_run
//! use credential_provider_sdk::{CacheKeyType, Request, Response, ResponseExt, registry_of};
//!
//! fn provide(request: &Request) -> Result<Response, String> {
//!     let password = std::env::var("REGISTRY_PASSWORD").map_err(|_| "REGISTRY_PASSWORD is not set")?;
//!     Ok(Response::builder(request)
//!         .cache_key_type(CacheKeyType::Registry)
//!         .credential(registry_of(&request.image), "robot", password)
//!         .build())
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     credential_provider_sdk::run(provide)
//! }
//! ```
#![deny(missing_docs)]

pub mod args;
mod builder;
mod entry;
pub mod http;
mod json;

pub use builder::{ResponseBuilder, ResponseExt};
pub use credential_provider_protocol::image::registry_of;
pub use credential_provider_protocol::{
    self as protocol, ApiVersion, AuthConfig, CacheKeyType, GoDuration, Request, Response, Secret,
};
pub use entry::{MAX_REQUEST_BYTES, handle, run};
pub use json::describe_json_error;
