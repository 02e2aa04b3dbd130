//! `wasm-credential-provider`: a thin shell over the library's entry point.

use std::process::ExitCode;

/// The allocator of the static musl build (see the dependency's comment in `Cargo.toml`),
/// counted: the sandbox bounds the heap the host holds for a guest by this count.
#[cfg(all(target_env = "musl", target_pointer_width = "64"))]
#[global_allocator]
static ALLOCATOR: cap::Cap<tikv_jemallocator::Jemalloc> =
    cap::Cap::new(tikv_jemallocator::Jemalloc, usize::MAX);

/// The system allocator, counted (see above).
#[cfg(not(all(target_env = "musl", target_pointer_width = "64")))]
#[global_allocator]
static ALLOCATOR: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

fn main() -> ExitCode {
    wasm_credential_provider::sandbox::measure_heap_with(|| ALLOCATOR.allocated());
    wasm_credential_provider::cli::main(std::env::args_os().collect())
}
