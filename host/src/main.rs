//! `wasm-credential-provider`: a thin shell over the library's entry point.

use std::process::ExitCode;

/// The allocator of the static musl build (see the dependency's comment in `Cargo.toml`).
#[cfg(all(target_env = "musl", target_pointer_width = "64"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    wasm_credential_provider::cli::main(std::env::args_os().collect())
}
