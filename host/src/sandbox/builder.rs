//! The one place that decides what a guest's WASI context contains.
//!
//! Defaults (wasmtime-wasi's, restated and enforced here): stdin is the request, stdout and
//! stderr are capped in-memory pipes, no environment variables, no arguments besides the program
//! name, no preopened directories (so no filesystem), TCP, UDP and name lookup off with every
//! socket address denied. Nothing is inherited from the host: no `inherit_*` call exists here.
//! Each grant below is explicit and comes from the operator's provider args.

use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi_http::WasiHttpCtx;

use crate::limits::HTTP_MAX_FIELD_BYTES;

use super::pipes::CappedPipe;

/// What the operator grants a guest: its argv, its environment, and its stdio.
pub struct WasiGrant<'a> {
    /// `argv[0]` as the guest sees it (the provider name).
    pub program_name: &'a str,
    /// Arguments after `argv[0]` (`--arg`).
    pub args: &'a [String],
    /// Environment variables (`--env`), already resolved to values.
    pub env: &'a [(String, String)],
    /// Bytes on the guest's stdin (the canonical request and a newline).
    pub stdin: Vec<u8>,
    /// The guest's stdout.
    pub stdout: CappedPipe,
    /// The guest's stderr.
    pub stderr: CappedPipe,
}

/// A WASI context builder for `grant` that grants nothing else. The caller finishes it with
/// `build()` (components) or `build_p1()` (core modules).
pub fn wasi_builder(grant: WasiGrant<'_>) -> WasiCtxBuilder {
    let mut builder = WasiCtxBuilder::new();
    builder
        .stdin(MemoryInputPipe::new(grant.stdin))
        .stdout(grant.stdout)
        .stderr(grant.stderr)
        .arg(grant.program_name)
        .args(grant.args)
        .envs(grant.env)
        // Explicit even though they are the defaults: a future default must not open these.
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(async { false }))
        // Bound what `random_get` can make the host allocate in one call.
        .max_random_size(64 * 1024);
    builder
}

/// The guest's `wasi:http` context. Which requests leave the host is decided by the egress hook
/// (`http.rs`), never here; this only bounds the header fields a guest can make the host hold.
pub fn http_ctx() -> WasiHttpCtx {
    let mut ctx = WasiHttpCtx::new();
    ctx.set_field_size_limit(HTTP_MAX_FIELD_BYTES);
    ctx
}
