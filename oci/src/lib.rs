//! Wasm credential-provider modules as OCI artifacts: publishing them to a registry
//! ([`push_module`]), and pulling them back only once a signature the operator trusts says they
//! are the module that was published ([`pull_verified`]: one call gives the verified bytes,
//! their digest and the signer, for `pull` and for `install`).
//!
//! Signatures: cosign's keyed simple-signing signatures (the `sha256-<digest>.sig` tag), and
//! Sigstore bundles attached as OCI 1.1 referrers, keyless or keyed, verified offline
//! ([`sigstore`]). Nothing here runs on the kubelet's exec path: OCI references are an
//! install-time matter.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod artifact;
pub mod auth;
pub mod cosign;
pub mod error;
pub mod limits;
pub mod pull;
pub mod push;
pub mod reference;
pub mod registry;
pub mod sigstore;

pub use error::OciError;
pub use pull::{Signer, TrustPolicy, VerifiedModule, pull_verified};
pub use push::{Pushed, push_module};
pub use reference::Reference;
pub use registry::RegistryOptions;

/// Runs a registry operation on a current-thread runtime, within [`limits::OPERATION_TIMEOUT`].
fn block_on<T>(
    future: impl std::future::Future<Output = Result<T, OciError>>,
) -> Result<T, OciError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| OciError::Registry(format!("starting the I/O runtime: {e}")))?;
    runtime.block_on(async {
        tokio::time::timeout(limits::OPERATION_TIMEOUT, future)
            .await
            .unwrap_or(Err(OciError::Timeout(limits::OPERATION_TIMEOUT.as_secs())))
    })
}
