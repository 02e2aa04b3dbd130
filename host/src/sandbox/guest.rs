//! Instantiating and running a guest, as a component or a core module.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use wasmtime::component::{Component, Linker as ComponentLinker, ResourceTable};
use wasmtime::{Engine, Linker, Module, Store, UpdateDeadline};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::bindings::Command;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::builder::http_ctx;
use super::host_state::HostStateMeter;
use super::http::EgressHooks;
use super::limiter::GuestLimiter;
use crate::limits::MAX_RESOURCE_TABLE_ENTRIES;

/// How a guest's run ended, before any output is looked at.
pub enum Ending {
    /// `main` returned, or the guest exited with status 0.
    Success,
    /// The guest exited with a non-zero status.
    Exit(i32),
    /// The run failed: a trap, a link error, or a host error while running it.
    Failed(wasmtime::Error),
    /// The deadline passed (spinning in wasm, or blocked in a host call).
    TimedOut,
}

/// Per-store state of a component guest.
pub struct ComponentState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: GuestLimiter,
    http: WasiHttpCtx,
    hooks: EgressHooks,
}

impl WasiHttpView for ComponentState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl WasiView for ComponentState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Per-store state of a core-module guest.
pub struct CoreState {
    wasi: WasiP1Ctx,
    limiter: GuestLimiter,
}

/// Everything a run needs besides the compiled code.
pub struct RunSetup {
    /// The guest's WASI context, configured by `builder::wasi_builder` (its only view of the world).
    pub wasi: WasiCtxBuilder,
    /// Memory budget enforcement.
    pub limiter: GuestLimiter,
    /// When the run must be over.
    pub deadline: Instant,
    /// Set when the deadline stopped a spinning guest.
    pub timed_out: Arc<AtomicBool>,
    /// What the host holds for the guest, checked at every epoch tick.
    pub host_state: HostStateMeter,
    /// The egress hook for `wasi:http` (components only; core modules have no network).
    pub http: EgressHooks,
    /// Whether to link `wasi:http`: only for components that import it, since defining its
    /// many functions is a measurable part of a warm start.
    pub link_http: bool,
}

/// At every epoch tick while guest code runs: stop it at the deadline, or when it has made the
/// host hold more than its budget.
fn arm_deadline<T>(
    store: &mut Store<T>,
    deadline: Instant,
    timed_out: Arc<AtomicBool>,
    host_state: HostStateMeter,
) {
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            timed_out.store(true, Ordering::SeqCst);
            wasmtime::bail!("guest exceeded its time limit");
        }
        host_state.check()?;
        // Yield to the executor at every tick, so the wall-clock timeout around the whole run
        // is polled even while the guest spins.
        Ok(UpdateDeadline::Yield(1))
    });
}

fn classify(result: wasmtime::Result<()>, timed_out: &AtomicBool) -> Ending {
    match result {
        Ok(()) => Ending::Success,
        Err(_) if timed_out.load(Ordering::SeqCst) => Ending::TimedOut,
        Err(err) => match err.downcast_ref::<I32Exit>() {
            Some(I32Exit(0)) => Ending::Success,
            Some(I32Exit(code)) => Ending::Exit(*code),
            None => Ending::Failed(err),
        },
    }
}

/// The component linker: WASI 0.2 (filesystem and sockets linked but refused by the context)
/// and, when `with_http`, `wasi:http`'s outgoing handler. With it, exactly
/// `policy::imports::COMPONENT_INTERFACES`.
fn component_linker(
    engine: &Engine,
    with_http: bool,
) -> wasmtime::Result<ComponentLinker<ComponentState>> {
    let mut linker = ComponentLinker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    if with_http {
        // Linked even when nothing is allowed, so components importing it instantiate; the
        // hook refuses every request outside the operator's allow-list.
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    }
    Ok(linker)
}

/// The core-module linker: `wasi_snapshot_preview1`. Exactly `policy::imports::CORE_FUNCTIONS`.
fn core_linker(engine: &Engine) -> wasmtime::Result<Linker<CoreState>> {
    let mut linker: Linker<CoreState> = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_async(&mut linker, |state: &mut CoreState| &mut state.wasi)?;
    Ok(linker)
}

/// Runs a component's `wasi:cli/run` export.
pub async fn run_component(engine: &Engine, component: &Component, setup: RunSetup) -> Ending {
    let RunSetup {
        mut wasi,
        limiter,
        deadline,
        timed_out,
        host_state,
        http,
        link_http,
    } = setup;
    let mut table = ResourceTable::new();
    table.set_max_capacity(MAX_RESOURCE_TABLE_ENTRIES);
    let mut store = Store::new(
        engine,
        ComponentState {
            wasi: wasi.build(),
            table,
            limiter,
            http: http_ctx(),
            hooks: http,
        },
    );
    store.limiter(|state| &mut state.limiter);
    arm_deadline(&mut store, deadline, timed_out.clone(), host_state);
    let run = async {
        let linker = component_linker(engine, link_http)?;
        let command = Command::instantiate_async(&mut store, component, &linker).await?;
        match command.wasi_cli_run().call_run(&mut store).await? {
            Ok(()) => Ok(()),
            Err(()) => Err(wasmtime::Error::new(I32Exit(1))),
        }
    };
    classify(run.await, &timed_out)
}

/// Runs a core module's `_start` export.
pub async fn run_core_module(engine: &Engine, module: &Module, setup: RunSetup) -> Ending {
    let RunSetup {
        mut wasi,
        limiter,
        deadline,
        timed_out,
        host_state,
        http: _,
        link_http: _,
    } = setup;
    let mut store = Store::new(
        engine,
        CoreState {
            wasi: wasi.build_p1(),
            limiter,
        },
    );
    store.limiter(|state| &mut state.limiter);
    arm_deadline(&mut store, deadline, timed_out.clone(), host_state);
    let run = async {
        let linker = core_linker(engine)?;
        let instance = linker.instantiate_async(&mut store, module).await?;
        let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
        start.call_async(&mut store, ()).await
    };
    classify(run.await, &timed_out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::imports::{COMPONENT_INTERFACES, CORE_FUNCTIONS, CORE_MODULE, Capability};

    fn engine() -> Engine {
        super::super::engine::build_engine().unwrap()
    }

    /// Whether `linker` defines `name` exactly: defining anything under that name again fails.
    fn defines(linker: &ComponentLinker<ComponentState>, name: &str) -> bool {
        let mut probe = linker.clone();
        probe.root().func_new(name, |_, _, _, _| Ok(())).is_err()
    }

    /// Every interface the import policy names is one the component linker defines, so the
    /// pre-start check never lets through what the linker lacks.
    #[test]
    fn component_policy_names_only_linked_interfaces() {
        let engine = engine();
        let linker = component_linker(&engine, true).unwrap();
        for (interface, _) in COMPONENT_INTERFACES {
            // The version of the WIT that wasmtime-wasi and wasmtime-wasi-http 48 bundle; older
            // and newer 0.2.x imports resolve to it (semver-compatible lookup).
            let name = format!("wasi:{interface}@0.2.12");
            assert!(
                defines(&linker, &name),
                "{name} is in the policy but not linked"
            );
        }
        // The probe can tell: an interface nobody links is not defined.
        assert!(!defines(&linker, "wasi:keyvalue/store@0.2.12"));
        // Without `wasi:http` imports, the linker leaves it out (and only it).
        let without_http = component_linker(&engine, false).unwrap();
        for (interface, capability) in COMPONENT_INTERFACES {
            let name = format!("wasi:{interface}@0.2.12");
            assert_eq!(
                defines(&without_http, &name),
                *capability != Capability::Http,
                "{name}"
            );
        }
    }

    /// Every preview 1 function the policy names is defined by the core linker, and every
    /// function the core linker defines is in the policy.
    #[test]
    fn core_policy_is_exactly_the_linked_functions() {
        let engine = engine();
        let linker = core_linker(&engine).unwrap();
        let mut store = Store::new(
            &engine,
            CoreState {
                wasi: WasiCtxBuilder::new().build_p1(),
                limiter: GuestLimiter::new(1 << 20, Default::default()),
            },
        );
        let linked: Vec<String> = linker
            .iter(&mut store)
            .map(|(module, name, _)| format!("{module}::{name}"))
            .collect();
        let policy: Vec<String> = CORE_FUNCTIONS
            .iter()
            .map(|(name, _)| format!("{CORE_MODULE}::{name}"))
            .collect();
        for name in &policy {
            assert!(
                linked.contains(name),
                "{name} is in the policy but not linked"
            );
        }
        for name in &linked {
            assert!(
                policy.contains(name),
                "{name} is linked but not in the policy"
            );
        }
    }
}
