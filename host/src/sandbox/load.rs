//! Getting compiled code for a module: from the compile cache, from a precompiled `.cwasm`, or
//! by compiling it.

use wasmtime::component::Component;
use wasmtime::{Engine, Precompiled};

use std::sync::mpsc;
use std::time::Instant;

use super::{Compiled, Deadline, GuestError, Sandbox, compile_bytes, one_line};
use crate::cache::seal::SealError;
use crate::cache::{CachedCode, CompileCache};
use crate::module::{ModuleBytes, ModuleFile, ModuleFormat};
use crate::regular_file::{TrustedWriter, untrusted_writer};

/// Where the compiled code came from (for diagnostics and tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Compiled now (no cache, or a miss).
    Compiled,
    /// Loaded from the compile cache.
    Cache,
    /// Loaded from a precompiled `.cwasm` file.
    Precompiled,
}

impl Origin {
    /// Its name in the stats line: `compiled`, `cache`, `precompiled`.
    pub fn name(self) -> &'static str {
        match self {
            Origin::Compiled => "compiled",
            Origin::Cache => "cache",
            Origin::Precompiled => "precompiled",
        }
    }
}

/// Turns trusted compiled bytes into code, as a component or a core module.
///
/// Deserialization is wasmtime's only `unsafe` entry point we use: the bytes are native code.
/// They come either from the compile cache, whose directory and entries are owned by this user
/// and not writable by others and whose trailer has been checked (see `cache`), or from a
/// `.cwasm` the operator explicitly allowed with `--allow-precompiled` (and should pin with
/// `--sha256`). wasmtime itself checks the artifact's header and that it was made by an engine
/// with this configuration.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, kind: Precompiled, bytes: &[u8]) -> wasmtime::Result<Compiled> {
    // SAFETY: per the function doc, `bytes` are wasmtime output from a trusted source.
    unsafe {
        match kind {
            Precompiled::Component => {
                Component::deserialize(engine, bytes).map(Compiled::Component)
            }
            Precompiled::Module => {
                wasmtime::Module::deserialize(engine, bytes).map(Compiled::CoreModule)
            }
        }
    }
}

/// Like [`deserialize`], for a checked cache entry, which wasmtime maps in place: no copy of
/// the code into fresh memory, and pages are read from the page cache only as they are used
/// (on a warm exec, this is a sixth of the page faults). `None` when the entry cannot be
/// mapped that way (no `/proc` for a component; a `noexec` mount shows up as an error).
#[allow(unsafe_code)]
fn deserialize_in_place(
    engine: &Engine,
    kind: Precompiled,
    entry: &CachedCode,
) -> Option<wasmtime::Result<Compiled>> {
    // SAFETY: the entry's contents are trusted wasmtime output (see `deserialize`) and cannot
    // change while mapped (see `CachedCode::file`).
    unsafe {
        match kind {
            Precompiled::Component => {
                let path = entry.reopen_path()?;
                Some(Component::deserialize_file(engine, path).map(Compiled::Component))
            }
            Precompiled::Module => {
                let file = entry.file().try_clone().ok()?;
                Some(
                    wasmtime::Module::deserialize_open_file(engine, file).map(Compiled::CoreModule),
                )
            }
        }
    }
}

/// Loads a checked cache entry: in place when possible, else from a copy in memory.
fn load_entry(
    engine: &Engine,
    kind: Precompiled,
    entry: &CachedCode,
) -> wasmtime::Result<Compiled> {
    if let Some(Ok(compiled)) = deserialize_in_place(engine, kind, entry) {
        return Ok(compiled);
    }
    let code = entry.read_code()?;
    deserialize(engine, kind, &code)
}

impl Sandbox {
    /// Compiled code for `module`. A precompiled file is loaded only if `allow_precompiled`;
    /// with a cache, a trusted entry is loaded and a miss is compiled and stored. Cache problems
    /// are reported through `warn` and fall back to compiling. Compiling gives up at `deadline`.
    pub fn load(
        &self,
        module: &ModuleFile,
        allow_precompiled: bool,
        cache: Option<&CompileCache>,
        deadline: Option<Deadline>,
        warn: &mut dyn FnMut(String),
    ) -> Result<(Compiled, Origin), GuestError> {
        let precompiled = match module.format {
            ModuleFormat::PrecompiledComponent => Some(Precompiled::Component),
            ModuleFormat::PrecompiledModule => Some(Precompiled::Module),
            ModuleFormat::Component | ModuleFormat::CoreModule => None,
        };
        if let Some(kind) = precompiled {
            if !allow_precompiled {
                return Err(GuestError::Compile(
                    "the module is precompiled native code (.cwasm); pass --allow-precompiled to run it, and pin it with --sha256".into(),
                ));
            }
            let compiled = self.load_precompiled(module, kind)?;
            return Ok((compiled, Origin::Precompiled));
        }
        let Some(cache) = cache else {
            let (engine, format, bytes) = (
                self.engine.clone(),
                module.format,
                module.bytes()?.into_owned(),
            );
            let compiled =
                within_deadline(deadline, move || compile_bytes(&engine, format, &bytes))?;
            return Ok((compiled, Origin::Compiled));
        };
        let kind = match module.format {
            ModuleFormat::Component => Precompiled::Component,
            _ => Precompiled::Module,
        };
        match cache.get(&module.digest) {
            Ok(Some(entry)) => match load_entry(&self.engine, kind, &entry) {
                Ok(compiled) => return Ok((compiled, Origin::Cache)),
                Err(e) => warn(format!(
                    "cache entry for {} does not load ({}); recompiling",
                    module.digest,
                    one_line(&e)
                )),
            },
            Ok(None) => {}
            Err(e) => warn(e.to_string()),
        }
        // Single flight: if another exec is compiling this module, wait for its entry. Once the
        // lock is ours, look again: whoever held it (even just before our miss) may have
        // written the entry.
        let lock = cache
            .compile_lock(&module.digest)
            .map_err(|e| warn(e.to_string()))
            .ok();
        if let Some(lock) = &lock {
            if !lock.try_acquire() {
                let _ = lock.acquire_until(wait_bound(deadline));
            }
            if let Ok(Some(entry)) = cache.get(&module.digest)
                && let Ok(compiled) = load_entry(&self.engine, kind, &entry)
            {
                return Ok((compiled, Origin::Cache));
            }
        }
        let (engine, format, bytes) = (
            self.engine.clone(),
            module.format,
            module.bytes()?.into_owned(),
        );
        let bytes = within_deadline(deadline, move || precompile_bytes(&engine, format, &bytes))?;
        if let Err(e) = cache.put(&module.digest, &bytes) {
            warn(format!(
                "cannot store the compiled module in {}: {e}",
                cache.path().display()
            ));
        }
        let compiled = deserialize(&self.engine, kind, &bytes)
            .map_err(|e| GuestError::Compile(one_line(&e)))?;
        Ok((compiled, Origin::Compiled))
    }

    /// Loads a `.cwasm` the way a cache entry is loaded: native code is trusted only from a file
    /// that root or this user owns and no one else may write, carrying this engine's seal (its
    /// checksum is checked unless a `--sha256` pin already covered every byte); it is mapped in
    /// place, and refused if the file was written in place since it was hashed.
    fn load_precompiled(
        &self,
        module: &ModuleFile,
        kind: Precompiled,
    ) -> Result<Compiled, GuestError> {
        use std::os::unix::fs::MetadataExt;
        let refused = |reason: String| {
            GuestError::Compile(format!(
                "precompiled module {} {reason}",
                module.path.display()
            ))
        };
        let meta = module
            .file()
            .metadata()
            .map_err(|e| refused(format!("cannot be read: {e}")))?;
        if let Some(problem) =
            untrusted_writer(meta.uid(), meta.mode(), TrustedWriter::RootOrThisUser)
        {
            return Err(refused(format!(
                "is {problem}: native code must be written by root or this user alone"
            )));
        }
        let file = module
            .file()
            .try_clone()
            .map_err(|e| refused(format!("cannot be read: {e}")))?;
        let code = CachedCode::from_sealed_file(file, module.len(), &self.engine, !module.pinned)
            .map_err(|e| match e {
                SealError::Missing | SealError::OtherEngine => GuestError::Compile(format!(
                    "precompiled module was not made by this host's engine configuration (rebuild it with `wasm-credential-provider compile`): {e}"
                )),
                other => refused(other.to_string()),
            })?;
        let compiled = load_entry(&self.engine, kind, &code).map_err(|e| {
            GuestError::Compile(format!(
                "precompiled module was not made by this host's engine configuration (rebuild it with `wasm-credential-provider compile`): {}",
                one_line(&e)
            ))
        })?;
        if !module.unchanged() {
            return Err(GuestError::Module(crate::module::ModuleError::Changed {
                path: module.path.clone(),
            }));
        }
        Ok(compiled)
    }

    /// Compiles a module or component to wasmtime's precompiled (`.cwasm`) form for this engine.
    pub fn precompile(&self, module: &ModuleBytes) -> Result<Vec<u8>, GuestError> {
        precompile_bytes(&self.engine, module.format, &module.bytes)
    }
}

/// wasmtime's precompiled form of a module or component, after the complexity check.
fn precompile_bytes(
    engine: &Engine,
    format: ModuleFormat,
    bytes: &[u8],
) -> Result<Vec<u8>, GuestError> {
    crate::policy::complexity::check(bytes).map_err(|e| GuestError::Compile(e.to_string()))?;
    let bytes = match format {
        ModuleFormat::Component => engine.precompile_component(bytes),
        ModuleFormat::CoreModule => engine.precompile_module(bytes),
        ModuleFormat::PrecompiledComponent | ModuleFormat::PrecompiledModule => {
            return Err(GuestError::Compile(
                "the module is already precompiled".into(),
            ));
        }
    };
    bytes.map_err(|e| GuestError::Compile(one_line(&e)))
}

/// How long an exec waits for another one compiling the same module: half of what is left
/// before its deadline, so that it can still compile itself if the other never finishes.
fn wait_bound(deadline: Option<Deadline>) -> Instant {
    let now = Instant::now();
    let left = deadline.map_or(crate::limits::DEFAULT_TIMEOUT, |d| {
        d.at.saturating_duration_since(now)
    });
    now + left / 2
}

/// Stack of the compiling thread: the main thread's size, as compiling on it had.
const COMPILE_THREAD_STACK_BYTES: usize = 8 * 1024 * 1024;

/// Runs `compile` on its own thread and waits for it until `deadline`; past it, the thread is
/// abandoned (the process exits soon after, with the thread) and the run fails with its
/// reason, instead of outliving `--timeout`. Without a deadline, runs it here.
fn within_deadline<T: Send + 'static>(
    deadline: Option<Deadline>,
    compile: impl FnOnce() -> Result<T, GuestError> + Send + 'static,
) -> Result<T, GuestError> {
    let Some(deadline) = deadline else {
        return compile();
    };
    let (done, result) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("compile".into())
        .stack_size(COMPILE_THREAD_STACK_BYTES)
        .spawn(move || {
            let _ = done.send(compile());
        })
        .map_err(|e| GuestError::Engine(format!("cannot start the compiler thread: {e}")))?;
    match result.recv_timeout(deadline.at.saturating_duration_since(Instant::now())) {
        Ok(compiled) => compiled,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(GuestError::CompileTimeout(deadline.timeout)),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(GuestError::Compile(
            "the compiler stopped without a result".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cache entry loads in place (wasmtime maps the entry file) and, as the fallback for
    /// filesystems where that fails, from a copy; both give runnable code, for both kinds.
    #[test]
    fn cache_entries_load_in_place_and_from_a_copy() {
        let sandbox = Sandbox::new().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let cache = CompileCache::open(&tmp.path().join("cache"), sandbox.engine()).unwrap();
        let cases = [
            (
                Precompiled::Module,
                sandbox
                    .engine()
                    .precompile_module(
                        &wat::parse_str("(module (func (export \"_start\")))").unwrap(),
                    )
                    .unwrap(),
            ),
            (
                Precompiled::Component,
                sandbox
                    .engine()
                    .precompile_component(&wat::parse_str("(component)").unwrap())
                    .unwrap(),
            ),
        ];
        for (kind, code) in cases {
            let digest = crate::module::Sha256Digest::of(&code);
            cache.put(&digest, &code).unwrap();
            let entry = cache.get(&digest).unwrap().unwrap();
            assert!(
                entry.reopen_path().is_some(),
                "/proc/self/fd leads to the entry"
            );
            let in_place = deserialize_in_place(sandbox.engine(), kind, &entry);
            assert!(matches!(in_place, Some(Ok(_))), "{kind:?}");
            assert_eq!(entry.read_code().unwrap(), code);
            assert!(deserialize(sandbox.engine(), kind, &entry.read_code().unwrap()).is_ok());
            assert!(load_entry(sandbox.engine(), kind, &entry).is_ok());
            // The wrong kind is refused by wasmtime either way.
            let other = match kind {
                Precompiled::Module => Precompiled::Component,
                Precompiled::Component => Precompiled::Module,
            };
            assert!(load_entry(sandbox.engine(), other, &entry).is_err());
        }
    }
}
