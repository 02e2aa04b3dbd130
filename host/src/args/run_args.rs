//! The run mode's arguments as written in a provider's `args`, before any value is checked.
//!
//! Sizes and durations stay text here (their defaults come from [`crate::limits`]), so that
//! [`super::check`] can report every bad value at once instead of stopping at the first.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::Args;

use crate::limits;
use crate::run::TokenCacheType;
use crate::units::{format_duration, format_size_arg};

/// Arguments of the run mode, as written in a provider's `args`.
#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// The provider module: a WASI component (wasm32-wasip2) or core module (wasm32-wasip1).
    /// Defaults to <name>.wasm beside the executable when invoked as <name>.
    #[arg(long, value_name = "PATH")]
    pub module: Option<PathBuf>,
    /// Refuse to run unless the module's SHA-256 is this (64 hex digits, optional "sha256:").
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<String>,
    /// Give the guest an environment variable: NAME passes the host's value (if set),
    /// NAME=VALUE sets it. Nothing else of the host environment reaches the guest.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,
    /// An argument for the guest (after its program name). Repeat for more.
    #[arg(long = "arg", value_name = "VALUE", allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// Limit on the guest's linear memory, all memories together (e.g. 64Mi, 128Mi).
    #[arg(long, value_name = "SIZE", default_value_t = SizeArg::bytes(limits::DEFAULT_MEMORY_BYTES))]
    pub memory: SizeArg,
    /// Wall-clock limit for the guest, below the kubelet's 60s (e.g. 30s, 10s, 500ms).
    #[arg(long, value_name = "DURATION", default_value_t = DurationArg::of(limits::DEFAULT_TIMEOUT))]
    pub timeout: DurationArg,
    /// Limit on the guest's stdout (its response).
    #[arg(
        long = "max-output",
        value_name = "SIZE",
        default_value_t = SizeArg::bytes(limits::DEFAULT_MAX_OUTPUT_BYTES)
    )]
    pub max_output: SizeArg,
    /// `--token-cache-type`.
    #[command(flatten)]
    pub token_cache: TokenCacheArg,
    /// Cache compiled code here, keyed by the module's sha256 and the engine configuration, so
    /// later execs skip compilation. Created 0700; refused (with a warning) if owned by another
    /// user or writable by others. Recommended on nodes: /var/cache/wasm-credential-provider.
    #[arg(long = "cache-dir", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Allow --module to be a precompiled .cwasm (from `compile`). It is native code: only
    /// allow it for files as trusted as the host binary, and pin it with --sha256.
    #[arg(long = "allow-precompiled")]
    pub allow_precompiled: bool,
    /// Restrict the response's auth keys to registries matching PATTERN (matchImages syntax,
    /// e.g. registry.example.com, *.gcr.io, *.azurecr.*); a response with any other key is
    /// refused whole. Repeatable. Without it, any key is passed on.
    #[arg(long = "allow-auth-key", value_name = "PATTERN")]
    pub allow_auth_key: Vec<String>,
    /// Let the guest (a wasm32-wasip2 component) send HTTP requests to origins matching
    /// PATTERN: [scheme://]host[:port][/path-prefix], scheme https (default) or http, host a
    /// name, an IP literal or a per-label glob (api.ecr.*.amazonaws.com). Repeatable. Without
    /// it every request is refused.
    #[arg(long = "allow-http", value_name = "PATTERN")]
    pub allow_http: Vec<String>,
    /// Connect to ADDR for HOST:PORT instead of resolving HOST (curl's --resolve). Also permits
    /// ADDR if it is a loopback, private or link-local address. Repeatable.
    #[arg(long = "resolve", value_name = "HOST:PORT:ADDR")]
    pub resolve: Vec<String>,
    /// Also trust the CA certificates in this PEM file for the guest's HTTPS requests (on top
    /// of the node's trust store).
    #[arg(long = "ca-file", value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Limit on each HTTP response body the guest receives.
    #[arg(
        long = "max-http-response",
        value_name = "SIZE",
        default_value_t = SizeArg::bytes(limits::DEFAULT_HTTP_MAX_RESPONSE_BYTES)
    )]
    pub max_http_response: SizeArg,
    /// Limit on the number of HTTP requests the guest may send in one run.
    #[arg(long = "max-http-requests", value_name = "N", default_value_t = limits::DEFAULT_HTTP_MAX_REQUESTS)]
    pub max_http_requests: u32,
}

/// The run mode's options whose values are paths on the node: what `--root` re-roots.
pub const PATH_OPTIONS: &[&str] = &["--module", "--cache-dir", "--ca-file"];

/// `--token-cache-type`, shared by the run mode and `validate-response`.
#[derive(Clone, Copy, Debug, Args)]
pub struct TokenCacheArg {
    /// The provider's tokenAttributes.cacheType. With ServiceAccount (the safe default) a
    /// response returning the request's service-account token as a password is refused, as the
    /// kubelet does.
    #[arg(
        long = "token-cache-type",
        value_name = "TYPE",
        value_enum,
        default_value = "ServiceAccount"
    )]
    pub token_cache_type: TokenCacheType,
}

impl clap::ValueEnum for TokenCacheType {
    fn value_variants<'a>() -> &'a [Self] {
        &[TokenCacheType::ServiceAccount, TokenCacheType::Token]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

/// A size as written (`64Mi`), checked by [`super::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SizeArg(pub String);

impl SizeArg {
    /// `bytes` written the way args write sizes.
    pub fn bytes(bytes: u64) -> Self {
        SizeArg(format_size_arg(bytes))
    }
}

impl FromStr for SizeArg {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(SizeArg(text.to_owned()))
    }
}

impl fmt::Display for SizeArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A duration as written (`30s`), checked by [`super::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurationArg(pub String);

impl DurationArg {
    /// `duration` written the Go way.
    pub fn of(duration: Duration) -> Self {
        DurationArg(format_duration(duration))
    }
}

impl FromStr for DurationArg {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(DurationArg(text.to_owned()))
    }
}

impl fmt::Display for DurationArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
