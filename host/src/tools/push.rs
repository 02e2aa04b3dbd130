//! `push`: publish a module as a Wasm OCI artifact (config `application/vnd.wasm.config.v0+json`,
//! one `application/wasm` layer) and print the manifest digest to sign.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use credential_provider_oci::Reference;

use super::pull::{RegistryArgs, exit_status};
use super::{EXIT_NO, EXIT_USAGE, usage_error};
use crate::limits;

/// The `--help` text of the subcommand (the variant in `cli.rs` refers to it).
pub const LONG_ABOUT: &str = "Publish a module to an OCI registry in the CNCF Wasm OCI artifact layout \
        (config media type application/vnd.wasm.config.v0+json, one application/wasm layer), the \
        layout wkg and oras use, so modules published either way are interchangeable.\n\n\
        Prints the manifest digest (sha256:<hex>): sign that (cosign sign --key cosign.key \
        REF@DIGEST). Registry access and credentials as for pull. Exit status: 0 published, 1 the \
        registry failed, 2 bad arguments.\n\n\
        Example:\n  wasm-credential-provider push static-credentials.wasm \
        registry.example.com/plugins/static-credentials:v1";

/// Arguments of `push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The module (.wasm).
    #[arg(value_name = "MODULE")]
    pub module: PathBuf,
    /// Where to publish it: host[:port]/repository[:tag].
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Registry access.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Entry point of `push`.
pub fn main(args: &PushArgs) -> ExitCode {
    let reference = match Reference::parse(&args.reference) {
        Ok(reference) => reference,
        Err(e) => return usage_error("push", &e.to_string(), EXIT_USAGE),
    };
    let module = match read_module(&args.module) {
        Ok(bytes) => bytes,
        Err(message) => return usage_error("push", &message, EXIT_USAGE),
    };
    let title = args
        .module
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "module.wasm".into());
    match credential_provider_oci::push_module(
        &module,
        &title,
        &reference,
        &args.registry.options(),
    ) {
        Ok(pushed) => {
            crate::report::print_line(
                "push",
                &format!("{} (module {})", pushed.reference, pushed.module_digest),
            );
            let _ = writeln!(std::io::stdout(), "{}", pushed.manifest_digest);
            ExitCode::SUCCESS
        }
        Err(e) => {
            let status = exit_status(&e);
            usage_error(
                "push",
                &e.to_string(),
                if status == EXIT_USAGE {
                    EXIT_USAGE
                } else {
                    EXIT_NO
                },
            )
        }
    }
}

fn read_module(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limits::MAX_MODULE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() as u64 > limits::MAX_MODULE_BYTES {
        return Err(format!(
            "{}: larger than {} bytes",
            path.display(),
            limits::MAX_MODULE_BYTES
        ));
    }
    if !bytes.starts_with(b"\0asm") {
        return Err(format!(
            "{}: not a WebAssembly module or component",
            path.display()
        ));
    }
    Ok(bytes)
}
