//! Stage 3: run the guest in the sandbox and report how it ended, with its capped output.

mod audit;
mod builder;
mod engine;
mod guest;
mod host_state;
mod http;
mod limiter;
mod load;
mod pipes;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::limits::MAX_STDERR_BYTES;
use crate::module::{ModuleBytes, ModuleFormat};
use crate::policy::imports::{self, Capability};
use crate::units::{format_duration, format_size};
use builder::{WasiGrant, wasi_builder};
use guest::{Ending, RunSetup};
use host_state::HostStateMeter;
use limiter::{GuestLimiter, MemoryGauge};
use pipes::CappedPipe;

pub use host_state::measure_heap_with;
pub use http::{HttpGrant, Proxy, ProxyEnv};
pub use load::Origin;

/// What a guest is given for one run: everything beyond this is denied.
#[derive(Clone, Debug)]
pub struct Grant {
    /// `argv[0]` inside the guest (the provider name).
    pub program_name: String,
    /// Guest arguments after `argv[0]`.
    pub args: Vec<String>,
    /// Guest environment, resolved to values. Values may be secrets: never print them.
    pub env: Vec<(String, String)>,
    /// Budget for all linear memory together; the budget for host-side state follows from it
    /// (see [`host_state_budget`]).
    pub memory_bytes: u64,
    /// Wall-clock limit for the whole run (see [`Deadline`]).
    pub timeout: Duration,
    /// Cap on stdout.
    pub max_output_bytes: u64,
    /// Outgoing HTTP (`--allow-http` and friends); the default denies every request.
    pub http: HttpGrant,
}

/// When a run must be over: `at`, `timeout` after the request arrived. Compiling and running
/// both stop at it.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    /// The instant.
    pub at: Instant,
    /// The `--timeout` it came from, for messages.
    pub timeout: Duration,
}

/// What the host may hold on the guest's behalf outside its linear memory (`wasi:http` fields
/// and bodies, streams, handles), in bytes, under `grant`.
pub fn host_state_budget(grant: &Grant) -> u64 {
    host_state::budget_bytes(grant.memory_bytes, grant.http.max_response_bytes)
}

/// Why a guest run failed. Messages never contain guest output or environment values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuestError {
    /// The engine could not be set up.
    #[error("cannot start the WebAssembly engine: {0}")]
    Engine(String),
    /// The module did not compile (invalid or unsupported wasm).
    #[error("module does not compile: {0}")]
    Compile(String),
    /// The guest exited with a non-zero status.
    #[error("guest exited with status {0}")]
    Exit(i32),
    /// The guest trapped (panic, `unreachable`, out-of-bounds access, stack overflow), or could
    /// not be instantiated (an import this host does not provide).
    #[error("guest {0}")]
    Trap(String),
    /// The guest ran past its deadline.
    #[error("guest did not finish within the {} time limit", format_duration(*.0))]
    Timeout(Duration),
    /// The guest tried to grow its memory past the budget.
    #[error("guest exceeded the {} memory limit", format_size(*.0))]
    MemoryLimit(u64),
    /// The guest made the host hold more than its budget for host-side state.
    #[error("guest made the host hold more than {} for it (wasi:http fields, bodies, streams, handles; the budget follows --memory)", format_size(*.0))]
    HostStateLimit(u64),
    /// The guest held more resource handles at once than the host allows.
    #[error(
        "guest held more than {} resource handles at once (fields, requests, streams, pollables)",
        crate::limits::MAX_RESOURCE_TABLE_ENTRIES
    )]
    HandleLimit,
    /// Compiling the module did not finish within the run's time limit.
    #[error("module did not compile within the {} time limit; compile it once ahead of the kubelet (`wasm-credential-provider compile`, or --cache-dir)", format_duration(*.0))]
    CompileTimeout(Duration),
    /// The module imports interfaces or functions this host does not link; it is refused
    /// before it starts (the whole list, not just the first).
    #[error("module imports what this host does not provide, so it was not started: {}", list_imports(.0))]
    MissingImports(Vec<String>),
    /// The guest wrote more than the stdout cap.
    #[error("guest wrote more than {} to stdout", format_size(*.0))]
    StdoutLimit(u64),
    /// The module file could not be read again to compile it, or changed meanwhile.
    #[error("{0}")]
    Module(#[from] crate::module::ModuleError),
    /// The guest wrote more than the stderr cap.
    #[error("guest wrote more than {} to stderr", format_size(*.0 as u64))]
    StderrLimit(usize),
}

/// The missing imports on one line: at most 16 names, control characters replaced.
fn list_imports(names: &[String]) -> String {
    const SHOWN: usize = 16;
    let mut shown: Vec<String> = names
        .iter()
        .take(SHOWN)
        .map(|name| {
            name.chars()
                .take(120)
                .map(|c| if c.is_control() { '?' } else { c })
                .collect()
        })
        .collect();
    if names.len() > SHOWN {
        shown.push(format!("and {} more", names.len() - SHOWN));
    }
    shown.join(", ")
}

/// What came out of a run.
#[derive(Debug)]
pub struct GuestRun {
    /// The guest's stdout (at most the cap).
    pub stdout: Vec<u8>,
    /// The guest's stderr (at most [`MAX_STDERR_BYTES`]).
    pub stderr: Vec<u8>,
    /// `Ok` if the guest finished with status 0 within every limit.
    pub result: Result<(), GuestError>,
    /// Requests the egress policy refused, one audit message each (no query, header or body),
    /// at most [`crate::limits::MAX_AUDIT_LINES`] and a summary line.
    pub audit: Vec<String>,
    /// The most linear memory the guest held at once, in bytes.
    pub peak_memory_bytes: u64,
}

/// Compiled guest code, ready to instantiate.
pub enum Compiled {
    /// A `wasm32-wasip2` component.
    Component(Component),
    /// A `wasm32-wasip1` core module.
    CoreModule(wasmtime::Module),
}

/// The engine. One per process: compile (or load) once, run once.
pub struct Sandbox {
    engine: Engine,
}

/// Renders an engine error on one line, causes included. The wasm backtrace wasmtime attaches
/// as context is left out: it is noise in a kubelet log line, and the causes after it say what
/// happened.
pub(crate) fn one_line(err: &wasmtime::Error) -> String {
    let text = err
        .chain()
        .map(|cause| cause.to_string())
        .filter(|text| !text.starts_with("error while executing at wasm backtrace"))
        .collect::<Vec<_>>()
        .join(": ");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `err` is the resource table refusing another entry (the handle cap).
fn holds_too_many_handles(err: &wasmtime::Error) -> bool {
    err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<wasmtime::component::ResourceTableError>(),
            Some(wasmtime::component::ResourceTableError::Full)
        )
    })
}

/// Describes a failed run briefly: the trap code for traps (the wasm backtrace is noise in a
/// kubelet log line), else the error chain, shortened.
fn describe_failure(err: &wasmtime::Error) -> String {
    if let Some(trap) = err.downcast_ref::<wasmtime::Trap>() {
        let hint = match trap {
            wasmtime::Trap::UnreachableCodeReached => {
                " (a Rust guest panicked or aborted; its stderr above says why)"
            }
            wasmtime::Trap::StackOverflow => " (runaway recursion?)",
            _ => "",
        };
        let text = trap.to_string();
        let text = text.strip_prefix("wasm trap: ").unwrap_or(&text);
        return format!("trapped: {text}{hint}");
    }
    let text = one_line(err);
    if text.chars().count() > 400 {
        let short: String = text.chars().take(400).collect();
        format!("failed: {short}...")
    } else {
        format!("failed: {text}")
    }
}

/// Compiles a module or component from its bytes, after the complexity check.
fn compile_bytes(
    engine: &Engine,
    format: ModuleFormat,
    bytes: &[u8],
) -> Result<Compiled, GuestError> {
    crate::policy::complexity::check(bytes).map_err(|e| GuestError::Compile(e.to_string()))?;
    let compiled = match format {
        ModuleFormat::Component => Component::from_binary(engine, bytes).map(Compiled::Component),
        ModuleFormat::CoreModule => {
            wasmtime::Module::from_binary(engine, bytes).map(Compiled::CoreModule)
        }
        ModuleFormat::PrecompiledComponent | ModuleFormat::PrecompiledModule => {
            return Err(GuestError::Compile(
                "the module is precompiled; load it with Sandbox::load".into(),
            ));
        }
    };
    compiled.map_err(|e| GuestError::Compile(one_line(&e)))
}

impl Sandbox {
    /// Sets up the engine.
    pub fn new() -> Result<Self, GuestError> {
        let engine = engine::build_engine().map_err(|e| GuestError::Engine(one_line(&e)))?;
        Ok(Sandbox { engine })
    }

    /// The engine (for precompilation and inspection).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles a module or component from its bytes.
    pub fn compile(&self, module: &ModuleBytes) -> Result<Compiled, GuestError> {
        compile_bytes(&self.engine, module.format, &module.bytes)
    }

    /// Checks that the host links every import of `compiled` (see [`crate::policy::imports`]),
    /// naming all that are missing, and returns the capabilities it imports.
    pub fn check_imports(&self, compiled: &Compiled) -> Result<Vec<Capability>, GuestError> {
        let (names, classify): (Vec<String>, fn(&str) -> Capability) = match compiled {
            Compiled::Component(component) => (
                component
                    .component_type()
                    .imports(&self.engine)
                    .map(|(name, _)| name.to_owned())
                    .collect(),
                imports::component_import,
            ),
            Compiled::CoreModule(module) => (
                module
                    .imports()
                    .map(|import| format!("{}::{}", import.module(), import.name()))
                    .collect(),
                imports::core_import_path,
            ),
        };
        let missing = imports::missing(names.iter().map(String::as_str), classify);
        if !missing.is_empty() {
            return Err(GuestError::MissingImports(missing));
        }
        let mut capabilities: Vec<Capability> = names.iter().map(|name| classify(name)).collect();
        capabilities.sort();
        capabilities.dedup();
        Ok(capabilities)
    }

    /// Runs `compiled` with `grant`, feeding it `stdin`, until `deadline` at the latest. A
    /// module importing anything the host does not link is refused before it starts.
    pub fn run(
        &self,
        compiled: &Compiled,
        grant: &Grant,
        stdin: Vec<u8>,
        deadline: Instant,
    ) -> GuestRun {
        let imported = match self.check_imports(compiled) {
            Ok(imported) => imported,
            Err(refused) => {
                return GuestRun {
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                    result: Err(refused),
                    audit: Vec::new(),
                    peak_memory_bytes: 0,
                };
            }
        };
        // Started only now: while code is loaded, a second thread would make every change of
        // page protections cost a cross-CPU TLB flush.
        let _ticker = match engine::EpochTicker::start(&self.engine) {
            Ok(ticker) => ticker,
            Err(e) => {
                return GuestRun {
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                    result: Err(GuestError::Engine(format!(
                        "cannot start the epoch ticker: {e}"
                    ))),
                    audit: Vec::new(),
                    peak_memory_bytes: 0,
                };
            }
        };
        let stdout = CappedPipe::new(usize::try_from(grant.max_output_bytes).unwrap_or(usize::MAX));
        let stderr = CappedPipe::new(MAX_STDERR_BYTES);
        let memory = MemoryGauge::default();
        let timed_out = Arc::new(AtomicBool::new(false));
        let host_state =
            HostStateMeter::start(host_state_budget(grant), stdout.clone(), stderr.clone());
        let audit = Arc::new(audit::Audit::default());
        let setup = RunSetup {
            wasi: wasi_builder(WasiGrant {
                program_name: &grant.program_name,
                args: &grant.args,
                env: &grant.env,
                stdin,
                stdout: stdout.clone(),
                stderr: stderr.clone(),
            }),
            limiter: GuestLimiter::new(
                usize::try_from(grant.memory_bytes).unwrap_or(usize::MAX),
                memory.clone(),
            ),
            deadline,
            timed_out: timed_out.clone(),
            host_state: host_state.clone(),
            http: http::EgressHooks::new(grant.http.clone(), deadline, audit.clone()),
            link_http: imported.contains(&Capability::Http),
        };
        let ending = match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .enable_io()
            .build()
        {
            Err(e) => Ending::Failed(wasmtime::format_err!("cannot start the async runtime: {e}")),
            Ok(runtime) => {
                let ending = runtime.block_on(async {
                    let run = async {
                        match compiled {
                            Compiled::Component(c) => {
                                guest::run_component(&self.engine, c, setup).await
                            }
                            Compiled::CoreModule(m) => {
                                guest::run_core_module(&self.engine, m, setup).await
                            }
                        }
                    };
                    // Epochs stop a guest spinning in wasm; this stops one blocked in a host call.
                    tokio::time::timeout_at(deadline.into(), run)
                        .await
                        .unwrap_or(Ending::TimedOut)
                });
                // Not joined: a name lookup that never answers holds a blocking-pool thread, and
                // dropping the runtime would wait for it past the deadline. The process exits
                // soon after; the thread goes with it.
                runtime.shutdown_background();
                ending
            }
        };
        // The most specific cause wins: a limit the host enforced explains the trap it caused.
        let result = if stdout.overflowed() {
            Err(GuestError::StdoutLimit(grant.max_output_bytes))
        } else if stderr.overflowed() {
            Err(GuestError::StderrLimit(MAX_STDERR_BYTES))
        } else if memory.exceeded() {
            Err(GuestError::MemoryLimit(grant.memory_bytes))
        } else if host_state.exceeded() {
            Err(GuestError::HostStateLimit(host_state.budget()))
        } else if matches!(&ending, Ending::Failed(err) if holds_too_many_handles(err)) {
            Err(GuestError::HandleLimit)
        } else {
            match ending {
                Ending::Success => Ok(()),
                Ending::Exit(code) => Err(GuestError::Exit(code)),
                Ending::TimedOut => Err(GuestError::Timeout(grant.timeout)),
                Ending::Failed(err) => Err(GuestError::Trap(describe_failure(&err))),
            }
        };
        GuestRun {
            stdout: stdout.contents(),
            stderr: stderr.contents(),
            result,
            audit: audit.take(),
            peak_memory_bytes: memory.peak(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core_module(sandbox: &Sandbox, wat: &str) -> Compiled {
        let bytes = wat::parse_str(wat).unwrap();
        Compiled::CoreModule(wasmtime::Module::from_binary(sandbox.engine(), &bytes).unwrap())
    }

    /// The import check names what a guest uses (which decides, e.g., whether `wasi:http` is
    /// linked) or refuses it with every import the host lacks.
    #[test]
    fn check_imports_reports_capabilities_or_every_missing_import() {
        let sandbox = Sandbox::new().unwrap();
        let uses_stdio_and_random = core_module(
            &sandbox,
            r#"(module
                (import "wasi_snapshot_preview1" "random_get" (func (param i32 i32) (result i32)))
                (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
                (import "wasi_snapshot_preview1" "fd_read" (func (param i32 i32 i32 i32) (result i32))))"#,
        );
        assert_eq!(
            sandbox.check_imports(&uses_stdio_and_random).unwrap(),
            vec![Capability::Stdio, Capability::Random]
        );
        let wants_more = core_module(
            &sandbox,
            r#"(module
                (import "env" "host_secret" (func))
                (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
                (import "wasi_snapshot_preview1" "fd_bogus" (func)))"#,
        );
        match sandbox.check_imports(&wants_more) {
            Err(GuestError::MissingImports(missing)) => assert_eq!(
                missing,
                ["env::host_secret", "wasi_snapshot_preview1::fd_bogus"]
            ),
            other => panic!("expected refusal, got {:?}", other.map(|_| ())),
        }
        let empty = Compiled::Component(
            Component::from_binary(sandbox.engine(), &wat::parse_str("(component)").unwrap())
                .unwrap(),
        );
        assert_eq!(sandbox.check_imports(&empty).unwrap(), vec![]);
    }
}
