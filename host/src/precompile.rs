//! The `compile` mode: ahead-of-time compilation of a module to a `.cwasm` for this host.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::error::Error;
use crate::module::ModuleBytes;
use crate::sandbox::Sandbox;
use crate::units::format_size;

/// Arguments of `compile`.
#[derive(Debug, Args)]
pub struct CompileArgs {
    /// The module to compile (a wasm32-wasip2 component or wasm32-wasip1 core module).
    #[arg(value_name = "MODULE")]
    pub module: PathBuf,
    /// Where to write the precompiled native code (conventionally `<name>.cwasm`).
    #[arg(short = 'o', long = "output", value_name = "OUT.cwasm")]
    pub output: PathBuf,
    /// Refuse to compile unless the module's SHA-256 is this.
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<String>,
}

/// Compiles `args.module` with this host's exact engine configuration and writes the result
/// atomically (temporary file, then rename). Run mode loads it only with `--allow-precompiled`,
/// and only if it came from the same engine configuration.
pub fn compile(args: &CompileArgs, out: &mut dyn Write) -> Result<(), Error> {
    let pin = args
        .sha256
        .as_deref()
        .map(crate::module::Sha256Digest::parse)
        .transpose()
        .map_err(|e| Error::Usage(format!("--sha256: {e}")))?;
    let module = ModuleBytes::load(&args.module, pin.as_ref())?;
    let sandbox = Sandbox::new()?;
    let compiled = sandbox.precompile(&module)?;
    write_atomically(&args.output, &compiled)
        .map_err(|e| Error::Usage(format!("cannot write {}: {e}", args.output.display())))?;
    let digest = crate::module::Sha256Digest::of(&compiled);
    let _ = writeln!(
        out,
        "{} -> {} ({}, {digest})",
        args.module.display(),
        args.output.display(),
        format_size(compiled.len() as u64)
    );
    Ok(())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let file_name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("output path has no file name"))?;
    let temp = path.with_file_name(format!(
        ".{}.tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
