//! `inspect`: what a module is and what it asks for. Reads the module's top-level imports (the
//! interfaces of a component, the `wasi_snapshot_preview1` functions of a core module), sorts
//! them into capabilities, and says which of them this host grants.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::{EXIT_NO, EXIT_USAGE, EXIT_YES, usage_error};
use crate::module::{ModuleBytes, ModuleFormat};
use crate::policy::complexity::{self, CodeShape};
use crate::policy::imports::{self, Capability, Grant};
use crate::units::format_size;

/// The `--help` text of the subcommand (the variant in `cli.rs` refers to it).
pub const LONG_ABOUT: &str = "Show what a module is (component or core module, size, sha256 to pin with \
        --sha256, WASI version) and the capabilities it imports (stdio, environment, clocks, \
        random, filesystem, sockets, http), each with what this host grants: a module that \
        imports the filesystem gets no preopened directory, sockets are always refused, and \
        HTTP reaches only the origins a provider allows with --allow-http.\n\n\
        Exit status: 0 the module can run here (possibly with capabilities refused at run \
        time), 1 it imports something this host does not provide at all (it would fail to \
        start), 2 the file is missing or not WebAssembly.\n\n\
        Example:\n  wasm-credential-provider inspect /usr/libexec/kubernetes/credential-providers/static-credentials.wasm";

/// Arguments of `inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The module (.wasm) or precompiled module (.cwasm).
    #[arg(value_name = "MODULE")]
    pub module: PathBuf,
}

/// One import and its capability.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ImportInfo {
    /// `wasi:cli/stdout@0.2.6`, or `wasi_snapshot_preview1::fd_write`.
    pub name: String,
    /// What it gives access to.
    pub capability: Capability,
}

/// What `inspect` found.
#[derive(Clone, Debug)]
pub struct Inspection {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: ModuleFormat,
    /// Its size in bytes.
    pub size: u64,
    /// Its digest.
    pub sha256: String,
    /// The WASI version(s) its imports name; empty when it imports none.
    pub wasi_versions: BTreeSet<String>,
    /// The top-level imports; `None` for precompiled code (not parsed).
    pub imports: Option<Vec<ImportInfo>>,
    /// Why the module cannot run here beyond an unknown import, one sentence each (a core
    /// module importing `wasi:http`, a module too costly to compile).
    pub refusals: Vec<String>,
    /// The shape of the code it gives the compiler; `None` for precompiled code.
    pub code: Option<CodeShape>,
}

/// What a core module (wasm32-wasip1) gets on the network: nothing. The host links
/// `wasi:http` for components only.
const CORE_MODULE_NETWORK: &str = "none: core modules (wasm32-wasip1) get no wasi:http, so HTTP \
    requests (the SDK client's) fail at run time; build for wasm32-wasip2 to send any";

/// Runs `inspect`.
pub fn main(args: &InspectArgs) -> ExitCode {
    match inspect(&args.module) {
        Ok(inspection) => {
            let _ = std::io::stdout().write_all(render(&inspection).as_bytes());
            ExitCode::from(if inspection.runnable() {
                EXIT_YES
            } else {
                EXIT_NO
            })
        }
        Err(message) => usage_error("inspect", &message, EXIT_USAGE),
    }
}

impl Inspection {
    /// Whether the host would start the module: it imports nothing the host does not link and
    /// nothing the host refuses for its format.
    pub fn runnable(&self) -> bool {
        let missing = self
            .imports
            .iter()
            .flatten()
            .any(|i| i.capability.grant().0 == Grant::Missing);
        !missing && self.refusals.is_empty()
    }
}

/// The `wasi:http` interfaces a core module imports, each as a sentence saying why it cannot
/// run: a wasip1 build of code that speaks wasi:http (bindings for the component model linked
/// into a core module) would only fail at start-up, with a less helpful message.
fn core_module_refusals(imports: &[ImportInfo]) -> Vec<String> {
    let mut interfaces: Vec<&str> = imports
        .iter()
        .filter_map(|i| i.name.split("::").next())
        .filter(|module| module.starts_with("wasi:http/"))
        .collect();
    interfaces.dedup();
    interfaces
        .into_iter()
        .map(|interface| {
            format!(
                "a core module (wasm32-wasip1) importing {interface}: core modules get no \
                 network (wasi:http is linked for components only); build the plugin for \
                 wasm32-wasip2"
            )
        })
        .collect()
}

/// Reads and inspects the module at `path`.
pub fn inspect(path: &Path) -> Result<Inspection, String> {
    let module = ModuleBytes::load(path, None).map_err(|e| e.to_string())?;
    let (imports, wasi_versions) = match module.format {
        ModuleFormat::Component | ModuleFormat::CoreModule => {
            let imports = top_level_imports(&module.bytes)
                .map_err(|e| format!("{}: not a valid module: {e}", path.display()))?;
            let versions = imports
                .iter()
                .filter_map(|i| wasi_version(&i.name))
                .collect();
            (Some(imports), versions)
        }
        ModuleFormat::PrecompiledComponent | ModuleFormat::PrecompiledModule => {
            (None, BTreeSet::new())
        }
    };
    let mut refusals = match (&module.format, &imports) {
        (ModuleFormat::CoreModule, Some(imports)) => core_module_refusals(imports),
        _ => Vec::new(),
    };
    // Measured once: the shape is shown, and a shape past a bound is also a refusal.
    let code = match imports {
        Some(_) => match complexity::measure(&module.bytes) {
            Ok(shape) => {
                if let Err(too_costly) = shape.within_bounds() {
                    refusals.push(too_costly.to_string());
                }
                Some(shape)
            }
            Err(invalid) => {
                refusals.push(invalid.to_string());
                None
            }
        },
        None => None,
    };
    Ok(Inspection {
        path: path.to_owned(),
        format: module.format,
        size: module.bytes.len() as u64,
        sha256: module.digest.to_string(),
        wasi_versions,
        imports,
        refusals,
        code,
    })
}

/// The imports of the outermost module or component (nested modules' imports are satisfied
/// inside the component and are not the host's business).
pub fn top_level_imports(bytes: &[u8]) -> Result<Vec<ImportInfo>, wasmparser::BinaryReaderError> {
    use wasmparser::{Parser, Payload};
    let mut imports = Vec::new();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ImportSection(reader) if depth == 1 => {
                for import in reader.into_imports() {
                    let import = import?;
                    imports.push(ImportInfo {
                        name: format!("{}::{}", import.module, import.name),
                        capability: imports::core_import(import.module, import.name),
                    });
                }
            }
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    let name = import?.name.name;
                    imports.push(ImportInfo {
                        name: name.to_owned(),
                        capability: imports::component_import(name),
                    });
                }
            }
            _ => {}
        }
    }
    Ok(imports)
}

/// The WASI version an import names: `0.2.6` for `wasi:...@0.2.6`, `preview1` for
/// `wasi_snapshot_preview1`, `preview0 (wasi_unstable)` for the oldest.
fn wasi_version(import: &str) -> Option<String> {
    if let Some(rest) = import.strip_prefix("wasi:") {
        // A core module's import is `interface@version::function`.
        let rest = rest.split("::").next().unwrap_or(rest);
        return rest
            .split_once('@')
            .map(|(_, v)| format!("0.2 (preview 2) @{v}"));
    }
    match import.split("::").next() {
        Some("wasi_snapshot_preview1") => Some("preview 1 (wasi_snapshot_preview1)".into()),
        Some("wasi_unstable") => Some("preview 0 (wasi_unstable): not supported".into()),
        _ => None,
    }
}

/// The inspection as text.
pub fn render(inspection: &Inspection) -> String {
    let mut out = String::new();
    out.push_str(&format!("module:  {}\n", inspection.path.display()));
    out.push_str(&format!("format:  {}\n", inspection.format.describe()));
    out.push_str(&format!(
        "size:    {} ({} bytes)\n",
        format_size(inspection.size),
        inspection.size
    ));
    out.push_str(&format!("sha256:  {}\n", inspection.sha256));
    let Some(imports) = &inspection.imports else {
        out.push_str("wasi:    unknown (precompiled native code is not parsed)\n");
        out.push_str("runs only with --allow-precompiled, from the same host version\n");
        return out;
    };
    let versions: Vec<&str> = inspection
        .wasi_versions
        .iter()
        .map(String::as_str)
        .collect();
    out.push_str(&format!(
        "wasi:    {}\n",
        if versions.is_empty() {
            "none (imports no WASI)".to_owned()
        } else {
            versions.join(", ")
        }
    ));
    if let Some(code) = &inspection.code {
        out.push_str(&format!(
            "code:    {} functions, {} locals (at most {} in one), largest body {}, nesting {}\n",
            code.functions,
            code.total_locals,
            code.max_locals,
            format_size(code.max_body_bytes),
            code.max_nesting
        ));
    }
    let capabilities: BTreeSet<Capability> = imports.iter().map(|i| i.capability).collect();
    out.push_str("capabilities:\n");
    for capability in &capabilities {
        out.push_str(&format!(
            "  {:<12} {}\n",
            capability.name(),
            capability.grant().1
        ));
    }
    if inspection.format == ModuleFormat::CoreModule {
        out.push_str(&format!("network: {CORE_MODULE_NETWORK}\n"));
    }
    for refusal in &inspection.refusals {
        out.push_str(&format!("NOT RUNNABLE: {refusal}\n"));
    }
    out.push_str("imports:\n");
    for import in imports {
        out.push_str(&format!(
            "  {} ({})\n",
            import.name,
            import.capability.name()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_wasi_version() {
        assert_eq!(
            wasi_version("wasi:io/streams@0.2.6").as_deref(),
            Some("0.2 (preview 2) @0.2.6")
        );
    }

    #[test]
    fn reads_the_example_plugin_for_both_targets() {
        for target in test_artifacts::Target::ALL {
            let path = test_artifacts::plugin("static-credentials", target);
            let inspection = inspect(&path).unwrap();
            let imports = inspection.imports.as_ref().unwrap();
            assert!(
                imports.iter().any(|i| i.capability == Capability::Stdio),
                "{target}: {imports:?}"
            );
            assert!(!inspection.wasi_versions.is_empty());
            let text = render(&inspection);
            assert!(text.contains(&inspection.sha256), "{text}");
        }
    }

    #[test]
    fn flags_filesystem_and_sockets() {
        let path = test_artifacts::guest("tcp_connect", test_artifacts::Target::P2);
        let inspection = inspect(&path).unwrap();
        let text = render(&inspection);
        assert!(text.contains("sockets      NOT GRANTED"), "{text}");
        let path = test_artifacts::guest("read_files", test_artifacts::Target::P1);
        let text = render(&inspect(&path).unwrap());
        assert!(text.contains("filesystem   NOT GRANTED"), "{text}");
    }

    #[test]
    fn a_core_module_importing_http_is_not_runnable_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("http-p1.wasm");
        let module = wat::parse_str(
            r#"(module
                (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
                (import "wasi:http/outgoing-handler@0.2.6" "handle" (func (param i32)))
                (import "wasi:http/types@0.2.6" "[constructor]fields" (func (result i32)))
                (import "wasi:http/types@0.2.6" "[method]fields.append" (func (param i32)))
                (memory (export "memory") 1)
                (func (export "_start")))"#,
        )
        .unwrap();
        std::fs::write(&path, module).unwrap();
        let inspection = inspect(&path).unwrap();
        assert!(!inspection.runnable());
        assert_eq!(inspection.refusals.len(), 2, "{:?}", inspection.refusals);
        let text = render(&inspection);
        assert!(
            text.contains(
                "NOT RUNNABLE: a core module (wasm32-wasip1) importing wasi:http/outgoing-handler@0.2.6: \
                 core modules get no network (wasi:http is linked for components only); build the \
                 plugin for wasm32-wasip2\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("wasi:    0.2 (preview 2) @0.2.6, preview 1"),
            "{text}"
        );
    }

    #[test]
    fn core_modules_are_told_they_have_no_network() {
        let text = render(
            &inspect(&test_artifacts::plugin(
                "auth-provider-gcp",
                test_artifacts::Target::P1,
            ))
            .unwrap(),
        );
        assert!(
            text.contains(&format!("network: {CORE_MODULE_NETWORK}\n")),
            "{text}"
        );
        let component = inspect(&test_artifacts::plugin(
            "auth-provider-gcp",
            test_artifacts::Target::P2,
        ))
        .unwrap();
        assert!(component.runnable());
        assert!(!render(&component).contains("network:"));
    }

    #[test]
    fn refuses_non_wasm() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wasm");
        std::fs::write(&path, b"#!/bin/sh\n").unwrap();
        assert!(inspect(&path).unwrap_err().contains("not a WebAssembly"));
        assert!(
            inspect(&dir.path().join("missing.wasm"))
                .unwrap_err()
                .contains("does not exist")
        );
    }
}
