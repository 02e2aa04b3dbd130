//! Getting compiled code for a module: from the compile cache, from a precompiled `.cwasm`, or
//! by compiling it.

use wasmtime::component::Component;
use wasmtime::{Engine, Precompiled};

use super::{Compiled, GuestError, Sandbox, one_line};
use crate::cache::CompileCache;
use crate::module::{ModuleBytes, ModuleFormat};

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

/// Turns trusted compiled bytes into code, as a component or a core module.
///
/// Deserialization is wasmtime's only `unsafe` entry point we use: the bytes are native code.
/// They come either from the compile cache, whose directory and entries are owned by this user
/// and not writable by others and whose envelope digest has been checked (see `cache`), or
/// from a `.cwasm` the operator explicitly allowed with `--allow-precompiled` (and should pin
/// with `--sha256`). wasmtime itself checks the artifact's header and that it was made by an
/// engine with this configuration.
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

impl Sandbox {
    /// Compiled code for `module`. A precompiled file is loaded only if `allow_precompiled`;
    /// with a cache, a trusted entry is loaded and a miss is compiled and stored. Cache problems
    /// are reported through `warn` and fall back to compiling.
    pub fn load(
        &self,
        module: &ModuleBytes,
        allow_precompiled: bool,
        cache: Option<&CompileCache>,
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
            let compiled = deserialize(&self.engine, kind, &module.bytes).map_err(|e| {
                GuestError::Compile(format!(
                    "precompiled module was not made by this host's engine configuration (rebuild it with `wasm-credential-provider compile`): {}",
                    one_line(&e)
                ))
            })?;
            return Ok((compiled, Origin::Precompiled));
        }
        let Some(cache) = cache else {
            return Ok((self.compile(module)?, Origin::Compiled));
        };
        let kind = match module.format {
            ModuleFormat::Component => Precompiled::Component,
            _ => Precompiled::Module,
        };
        match cache.get(&module.digest) {
            Ok(Some(entry)) => match deserialize(&self.engine, kind, entry.code()) {
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
        let bytes = self.precompile(module)?;
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

    /// Compiles a module or component to wasmtime's precompiled (`.cwasm`) form for this engine.
    pub fn precompile(&self, module: &ModuleBytes) -> Result<Vec<u8>, GuestError> {
        let bytes = match module.format {
            ModuleFormat::Component => self.engine.precompile_component(&module.bytes),
            ModuleFormat::CoreModule => self.engine.precompile_module(&module.bytes),
            ModuleFormat::PrecompiledComponent | ModuleFormat::PrecompiledModule => {
                return Err(GuestError::Compile(
                    "the module is already precompiled".into(),
                ));
            }
        };
        bytes.map_err(|e| GuestError::Compile(one_line(&e)))
    }
}
