//! The crate's error: one variant per reason a push or pull stops, each one line naming what
//! to do, none containing a credential.

use crate::artifact::ArtifactError;
use crate::auth::AuthError;
use crate::reference::ReferenceError;
use crate::sigstore::trusted_root::TrustedRootError;

/// Why a push or pull failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OciError {
    /// A command-line value is unusable (bad file, bad key).
    #[error("{0}")]
    Usage(String),
    /// The reference does not parse.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// Credentials could not be read.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The trusted root is unusable.
    #[error("--trusted-root: {0}")]
    TrustedRoot(#[from] TrustedRootError),
    /// The registry could not be reached or refused a request.
    #[error("{0}")]
    Registry(String),
    /// The reference names nothing.
    #[error("{0} not found in the registry")]
    NotFound(String),
    /// Not a Wasm artifact.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// Bytes served are not the ones their digest names.
    #[error("{what} does not match its digest (the registry served {found})")]
    DigestMismatch {
        /// What was fetched.
        what: String,
        /// What was served.
        found: String,
    },
    /// Something is larger than its cap.
    #[error("{what} is larger than {limit} bytes")]
    TooLarge {
        /// What.
        what: String,
        /// The cap.
        limit: u64,
    },
    /// No signature the policy accepts.
    #[error("refusing {reference}: {reason}")]
    Unverified {
        /// The manifest, by digest.
        reference: String,
        /// What was found and why none verified.
        reason: String,
    },
    /// The file to publish is not a module.
    #[error("{0} is not a WebAssembly module or component")]
    NotAModule(String),
    /// The whole operation ran out of time.
    #[error("the registry did not finish within {0}s")]
    Timeout(u64),
}
