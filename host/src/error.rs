//! The host's error type: one variant per stage of the request path.

use credential_provider_protocol::{RequestError, ResponseError};

use crate::module::ModuleError;
use crate::sandbox::GuestError;

/// Why a run produced no credentials. Each renders as the one line the kubelet logs after
/// `wasm-credential-provider: <provider>: `; none contains a secret or guest output.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The provider's args are wrong (a configuration error, not a guest fault).
    #[error("invalid arguments: {0}")]
    Usage(String),
    /// The request on stdin could not be read.
    #[error("reading the request from stdin: {0}")]
    ReadRequest(String),
    /// The request is not a valid `CredentialProviderRequest`.
    #[error("invalid request: {0}")]
    Request(#[from] RequestError),
    /// The module file is missing, unreadable, not wasm, or does not match its pin.
    #[error("{0}")]
    Module(#[from] ModuleError),
    /// The guest failed to compile or run, or broke a limit.
    #[error("{0}")]
    Guest(#[from] GuestError),
    /// The guest's stdout is not a response the kubelet would accept.
    #[error("invalid response from the guest: {0}")]
    Response(#[from] ResponseError),
    /// The response names a registry outside `--allow-auth-key`.
    #[error("invalid response from the guest: {0}")]
    OutOfScope(#[from] crate::scope::OutOfScope),
    /// Another error whose message quoted a secret of the run (the service-account token, a
    /// granted env value), with the secret redacted.
    #[error("{0}")]
    Redacted(String),
    /// The response could not be written to stdout.
    #[error("writing the response to stdout: {0}")]
    WriteResponse(std::io::Error),
}

impl Error {
    /// The process exit status for this error: 2 for configuration errors, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }
}
