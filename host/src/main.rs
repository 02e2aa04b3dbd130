//! `wasm-credential-provider`: a thin shell over the library's entry point.

use std::process::ExitCode;

fn main() -> ExitCode {
    wasm_credential_provider::cli::main(std::env::args_os().collect())
}
