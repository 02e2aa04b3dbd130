//! The `compile` mode: ahead-of-time compilation of a module for this host, to a `.cwasm` file
//! or into a compile cache directory (what `install` does, so the kubelet's first exec is a
//! cache hit).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::cache::CompileCache;
use crate::error::Error;
use crate::module::ModuleBytes;
use crate::sandbox::Sandbox;
use crate::units::format_size;

/// Arguments of `compile`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("destination").required(true).args(["output", "cache_dir"])))]
pub struct CompileArgs {
    /// The module to compile (a wasm32-wasip2 component or wasm32-wasip1 core module).
    #[arg(value_name = "MODULE")]
    pub module: PathBuf,
    /// Where to write the precompiled native code (conventionally `<name>.cwasm`).
    #[arg(short = 'o', long = "output", value_name = "OUT.cwasm")]
    pub output: Option<PathBuf>,
    /// Instead of a file, store it in this compile cache directory (a provider's `--cache-dir`),
    /// so the provider's next exec loads it instead of compiling.
    #[arg(long = "cache-dir", value_name = "DIR", conflicts_with = "output")]
    pub cache_dir: Option<PathBuf>,
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
    if let Some(dir) = &args.cache_dir {
        return compile_into_cache(&sandbox, &module, dir, out);
    }
    let Some(output) = &args.output else {
        return Err(Error::Usage("give -o OUT.cwasm or --cache-dir DIR".into()));
    };
    // Sealed like a cache entry, so a run checks and maps it the same way.
    let compiled = crate::cache::seal::sealed(
        &crate::cache::engine_hash(sandbox.engine()),
        &module.digest,
        &sandbox.precompile(&module)?,
    );
    write_atomically(output, &compiled)
        .map_err(|e| Error::Usage(format!("cannot write {}: {e}", output.display())))?;
    let digest = crate::module::Sha256Digest::of(&compiled);
    let _ = writeln!(
        out,
        "{} -> {} ({}, {digest})",
        args.module.display(),
        output.display(),
        format_size(compiled.len() as u64)
    );
    Ok(())
}

/// Stores `module`'s compiled code in the cache at `dir` (made if missing), unless an intact
/// entry is already there; the same checks, lock and file layout as a run's cache miss.
fn compile_into_cache(
    sandbox: &Sandbox,
    module: &ModuleBytes,
    dir: &Path,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let cache = CompileCache::open(dir, sandbox.engine())
        .map_err(|e| Error::Usage(format!("--cache-dir: {e}")))?;
    let entry = dir.join(cache.entry_name(&module.digest));
    let lock = cache
        .compile_lock(&module.digest)
        .map_err(|e| Error::Usage(format!("--cache-dir: {e}")))?;
    // Wait for a run compiling the same module at this moment, rather than compiling twice.
    let _ = lock.acquire_until(std::time::Instant::now() + crate::limits::DEFAULT_TIMEOUT);
    let state = match cache.get(&module.digest) {
        Ok(Some(_)) => "already cached".to_owned(),
        _ => {
            let compiled = sandbox.precompile(module)?;
            cache
                .put(&module.digest, &compiled)
                .map_err(|e| Error::Usage(format!("--cache-dir: {e}")))?;
            format!("compiled, {}", format_size(compiled.len() as u64))
        }
    };
    let _ = writeln!(
        out,
        "{} -> {} ({state})",
        module.path.display(),
        entry.display()
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
        // 0644 whatever the umask: a run refuses native code that others may write.
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
