//! Wasm credential-provider modules as OCI artifacts: publishing them to a registry, and
//! pulling them back only once a signature the operator trusts says they are the module that
//! was published.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod sigstore;
