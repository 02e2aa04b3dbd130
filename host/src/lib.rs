//! wasm-credential-provider: run kubelet image credential provider plugins as sandboxed
//! WebAssembly.
//!
//! The request path, in order: [`run`] reads and strictly decodes the kubelet's request, loads the
//! module ([`module`]: size cap, digest pin), runs it in the [`sandbox`] (stdio only, no files, no
//! sockets, no inherited environment, memory/time/output limits), validates its stdout with the
//! kubelet's own rules, and writes the canonical response.
#![deny(missing_docs)]

pub mod args;
pub mod cache;
pub mod cli;
pub mod docker_helper;
pub mod error;
pub mod kubelet;
pub mod limits;
pub mod module;
pub mod names;
pub mod policy;
pub mod precompile;
pub mod redact;
pub mod regular_file;
pub mod report;
pub mod run;
pub mod sandbox;
pub mod scope;
pub mod stats;
pub mod tools;
pub mod units;

pub use error::Error;
