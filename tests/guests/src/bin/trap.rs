//! Helper: executes a wasm `unreachable` instruction (natively: `abort`). The test
//! expects the host to report a trap, not a response.

fn main() {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    std::process::abort();
}
